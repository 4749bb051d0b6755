/**
 * One writer per audit log: a second write-mode open is refused with the
 * owner named (same process, or another live process); readers are not
 * affected; close() releases; a writer that died (kill -9) leaves no lock
 * behind, only the note that it did not close, which the next open reports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isGatewayError } from '../../shared/errors.ts';
import { sampleEvents } from '../../core/audit/test-support.ts';
import { openLog, tempDir } from './test-support.ts';
import { WRITER_LOCK_FILE, WRITER_OWNER_FILE, acquireWriterLock } from './writer-lock.ts';

const refused = (pattern: RegExp) => (e: unknown) => isGatewayError(e) && e.code === 'GW_EVENT_STORE_UNAVAILABLE' && pattern.test(e.message);

test('a second writer is refused while the first has the log open; readers are not; close() releases', async () => {
  const dir = tempDir();
  const first = openLog(dir);
  await first.append(sampleEvents()[0]!);
  const owner = JSON.parse(readFileSync(join(dir, WRITER_OWNER_FILE), 'utf8')) as { pid: number; host: string };
  assert.deepEqual([owner.pid, owner.host], [process.pid, hostname()]);
  assert.equal(first.previousWriter, null);
  assert.throws(() => openLog(dir), refused(new RegExp(`open for writing by another Gatehouse \\(pid ${process.pid} on `)));
  // The refused open changed nothing: the first writer goes on, and readers still read.
  await first.append(sampleEvents()[1]!);
  const reader = openLog(dir, { mode: 'inspect' });
  assert.equal(reader.verify().ok, true);
  reader.close();
  first.close();
  assert.equal(existsSync(join(dir, WRITER_OWNER_FILE)), false, 'a clean close leaves no owner note');
  const second = openLog(dir);
  assert.equal(second.previousWriter, null);
  assert.equal(second.size, 2);
  assert.equal(second.verify().ok, true);
  second.close();
});

test('a writer in another process holds the log until it dies; kill -9 leaves no lock, only a note the next open reports', async () => {
  const dir = tempDir();
  // Another process takes the lock as the gateway would (plain CommonJS: better-sqlite3 only).
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  const script = `
    const Database = require(${JSON.stringify(sqlite)});
    const db = new Database(${JSON.stringify(join(dir, WRITER_LOCK_FILE))});
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    require('fs').writeFileSync(${JSON.stringify(join(dir, WRITER_OWNER_FILE))}, JSON.stringify({ pid: process.pid, host: 'writer-host', since: '2026-01-01T00:00:00.000Z' }));
    process.stdout.write('held\\n');
    setTimeout(() => {}, 60000);`;
  const other = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => other.stdout!.once('data', () => resolve()));
  assert.throws(() => openLog(dir), refused(new RegExp(`pid ${other.pid} on writer-host, since 2026-01-01T00:00:00.000Z`)));
  other.kill('SIGKILL');
  await new Promise((r) => other.once('exit', r));
  // No stale lock to clean up: the kernel dropped it with the process.
  const log = openLog(dir);
  assert.deepEqual(log.previousWriter, { pid: other.pid, host: 'writer-host', since: '2026-01-01T00:00:00.000Z' });
  assert.equal(JSON.parse(readFileSync(join(dir, WRITER_OWNER_FILE), 'utf8')).pid, process.pid);
  log.close();
});

test('an owner note left by a dead writer on another host or with our own pid (a restarted container) does not block', () => {
  for (const stale of [
    { pid: process.pid, host: hostname(), since: '2026-01-01T00:00:00.000Z' },
    { pid: 1, host: 'pod-7f9c-previous', since: '2026-01-01T00:00:00.000Z' },
  ]) {
    const dir = tempDir();
    writeFileSync(join(dir, WRITER_OWNER_FILE), JSON.stringify(stale));
    const lock = acquireWriterLock(dir);
    assert.deepEqual(lock.previousOwner, stale);
    lock.release();
    assert.equal(existsSync(join(dir, WRITER_OWNER_FILE)), false);
  }
});
