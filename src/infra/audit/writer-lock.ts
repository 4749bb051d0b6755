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
 * So a write-mode open takes `gatehouse.db.writer`, created exclusively
 * (O_EXCL) and holding the owner's pid, host and start time, and close()
 * removes it. A lock left by a process that is gone (kill -9, a crash) is
 * taken over, by one starting gateway only (the one that creates
 * `gatehouse.db.writer.takeover`); on another host, or held by a live
 * process, the open is refused with the owner named. Readers (verify,
 * export, sessions, replay) never take it.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { GatewayError } from '../../shared/errors.ts';

export const WRITER_LOCK_FILE = 'gatehouse.db.writer';

interface Owner {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

export interface WriterLock {
  /** Set when a lock of a process that is gone was taken over (for a log line). */
  readonly tookOverFrom: Owner | null;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): Owner | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<Owner>;
    if (Number.isSafeInteger(v.pid) && typeof v.host === 'string' && typeof v.since === 'string') return v as Owner;
  } catch {
    // Unreadable or half-written: treated as held, so nothing is taken over on a guess.
  }
  return null;
}

export function acquireWriterLock(stateDir: string): WriterLock {
  const path = join(stateDir, WRITER_LOCK_FILE);
  const me: Owner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  let tookOverFrom: Owner | null = null;
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = readOwner(path);
      const gone = owner !== null && owner.host === me.host && owner.pid !== process.pid && !alive(owner.pid);
      if (!gone || attempt > 0) {
        const who = owner ? `pid ${owner.pid} on ${owner.host}, since ${owner.since}` : 'an owner that cannot be read';
        throw new GatewayError(
          'GW_EVENT_STORE_UNAVAILABLE',
          `the audit log in ${stateDir} is open for writing by another Gatehouse (${who}); one state folder takes one gateway. Stop the other one, or, if it is gone, remove ${path}`,
        );
      }
      // Two starting gateways may both find the owner gone: only the one that creates the takeover file
      // replaces the lock; the other is refused as if the lock were held (it is, a moment later).
      const takeover = `${path}.takeover`;
      let guard: number;
      try {
        guard = openSync(takeover, 'wx', 0o600);
      } catch {
        throw new GatewayError('GW_EVENT_STORE_UNAVAILABLE', `another Gatehouse is taking over the audit log in ${stateDir} right now (${takeover} exists); one state folder takes one gateway`);
      }
      closeSync(guard);
      try {
        const again = readOwner(path);
        if (!again || again.pid !== owner!.pid || again.since !== owner!.since) continue; // changed meanwhile: look again
        rmSync(path, { force: true });
        tookOverFrom = owner;
        fd = openSync(path, 'wx', 0o600);
      } finally {
        rmSync(takeover, { force: true });
      }
      try {
        writeSync(fd, `${JSON.stringify(me)}\n`);
      } finally {
        closeSync(fd);
      }
      return lockOf(path, me, tookOverFrom);
    }
    try {
      writeSync(fd, `${JSON.stringify(me)}\n`);
    } finally {
      closeSync(fd);
    }
    return lockOf(path, me, tookOverFrom);
  }
  throw new GatewayError('GW_EVENT_STORE_UNAVAILABLE', `the writer lock of the audit log in ${stateDir} keeps changing; is another Gatehouse starting on the same state folder?`);
}

function lockOf(path: string, me: Owner, tookOverFrom: Owner | null): WriterLock {
  let released = false;
  return {
    tookOverFrom,
    release(): void {
      if (released) return;
      released = true;
      // Only our own lock: never remove one that a successor took over meanwhile.
      const owner = readOwner(path);
      if (owner && owner.pid === me.pid && owner.host === me.host && owner.since === me.since) rmSync(path, { force: true });
    },
  };
}
