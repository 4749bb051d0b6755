/**
 * One writer per audit log.
 *
 * The log keeps its Merkle frontier and its last checkpoint in memory. A
 * second Gatehouse opening the same state folder for writing (an overlapping
 * deploy, a second service unit) would work from a stale copy of both: its
 * appends collide with the first one's sequence numbers and are refused,
 * and its periodic checkpoint signs its stale, smaller tree after the
 * first's larger one — which `verify` then rightly reports as a rollback.
 *
 * So a write-mode open holds an exclusive SQLite lock on
 * `gatehouse.db.writer` for as long as the log is open. SQLite takes it
 * with POSIX advisory locks, which the kernel drops when the process ends,
 * however it ends (kill -9 included): there is no stale lock to detect, no
 * pid to trust (a restarted container often has the same pid, a
 * rescheduled pod another host name). Beside it, `gatehouse.db.owner`
 * names the holder (pid, host, start time) for the refusal message and is
 * removed at a clean close; finding it at open means the previous writer
 * did not close the log (a crash), which the gateway logs.
 *
 * Readers (verify, export, sessions, replay) never take the lock.
 */
import Database from 'better-sqlite3';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { GatewayError } from '../../shared/errors.ts';

export const WRITER_LOCK_FILE = 'gatehouse.db.writer';
export const WRITER_OWNER_FILE = 'gatehouse.db.owner';

export interface Owner {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

export interface WriterLock {
  /** The writer before this one, when it did not close the log (a crash or kill -9): for a log line. */
  readonly previousOwner: Owner | null;
  release(): void;
}

function readOwner(path: string): Owner | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<Owner>;
    if (Number.isSafeInteger(v.pid) && typeof v.host === 'string' && typeof v.since === 'string') return v as Owner;
  } catch {
    // Missing or unreadable: it only ever serves a message.
  }
  return null;
}

export function acquireWriterLock(stateDir: string): WriterLock {
  const ownerPath = join(stateDir, WRITER_OWNER_FILE);
  const db = new Database(join(stateDir, WRITER_LOCK_FILE));
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('locking_mode = EXCLUSIVE');
    // An exclusive transaction never committed: the file stays locked until release() or the process ends.
    db.exec('BEGIN EXCLUSIVE');
  } catch (e) {
    db.close();
    if ((e as { code?: string }).code !== 'SQLITE_BUSY') throw e;
    const owner = readOwner(ownerPath);
    const who = owner ? `pid ${owner.pid} on ${owner.host}, since ${owner.since}` : 'owner unknown';
    throw new GatewayError(
      'GW_EVENT_STORE_UNAVAILABLE',
      `the audit log in ${stateDir} is open for writing by another Gatehouse (${who}); one state folder takes one gateway: stop the other one first`,
    );
  }
  const previousOwner = readOwner(ownerPath);
  const me: Owner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  writeFileSync(ownerPath, `${JSON.stringify(me)}\n`, { mode: 0o600 });
  let released = false;
  return {
    previousOwner,
    release(): void {
      if (released) return;
      released = true;
      rmSync(ownerPath, { force: true });
      try {
        db.exec('ROLLBACK');
      } finally {
        db.close();
      }
    },
  };
}
