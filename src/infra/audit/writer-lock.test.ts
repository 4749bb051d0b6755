/**
 * One writer per audit log: a second write-mode open is refused with the
 * owner named (same process, or another live process), readers are not
 * affected, close() releases, and the lock of a process that is gone
 * (kill -9) is taken over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isGatewayError } from '../../shared/errors.ts';
import { sampleEvents } from '../../core/audit/test-support.ts';
import { openLog, tempDir } from './test-support.ts';
import { WRITER_LOCK_FILE, acquireWriterLock } from './writer-lock.ts';

const refused = (pattern: RegExp) => (e: unknown) => isGatewayError(e) && e.code === 'GW_EVENT_STORE_UNAVAILABLE' && pattern.test(e.message);

test('a second writer is refused while the first has the log open; readers are not; close() releases', async () => {
  const dir = tempDir();
  const first = openLog(dir);
  await first.append(sampleEvents()[0]!);
  const owner = JSON.parse(readFileSync(join(dir, WRITER_LOCK_FILE), 'utf8')) as { pid: number; host: string };
  assert.deepEqual([owner.pid, owner.host], [process.pid, hostname()]);
  assert.throws(() => openLog(dir), refused(new RegExp(`open for writing by another Gatehouse \\(pid ${process.pid} on `)));
  // The refused open changed nothing: the first writer goes on, and readers still read.
  await first.append(sampleEvents()[1]!);
  const reader = openLog(dir, { mode: 'inspect' });
  assert.equal(reader.verify().ok, true);
  reader.close();
  first.close();
  assert.equal(existsSync(join(dir, WRITER_LOCK_FILE)), false);
  const second = openLog(dir);
  assert.equal(second.size, 2);
  assert.equal(second.verify().ok, true);
  second.close();
});

test("another live process's lock is respected; once that process is gone (kill -9), the lock is taken over", async () => {
  const dir = tempDir();
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  await new Promise((r) => other.once('spawn', r));
  writeFileSync(join(dir, WRITER_LOCK_FILE), JSON.stringify({ pid: other.pid, host: hostname(), since: '2026-01-01T00:00:00.000Z' }));
  assert.throws(() => openLog(dir), refused(new RegExp(`pid ${other.pid} on .*since 2026-01-01T00:00:00.000Z\\).*remove .*${WRITER_LOCK_FILE}`)));
  other.kill('SIGKILL');
  await new Promise((r) => other.once('exit', r));
  // Another gateway taking over at this very moment: only one of the two may.
  writeFileSync(join(dir, `${WRITER_LOCK_FILE}.takeover`), '');
  assert.throws(() => openLog(dir), refused(/another Gatehouse is taking over the audit log .* right now/));
  rmSync(join(dir, `${WRITER_LOCK_FILE}.takeover`));
  const lock = acquireWriterLock(dir);
  assert.equal(lock.tookOverFrom?.pid, other.pid);
  assert.equal(existsSync(join(dir, `${WRITER_LOCK_FILE}.takeover`)), false);
  lock.release();
  const log = openLog(dir);
  assert.equal(JSON.parse(readFileSync(join(dir, WRITER_LOCK_FILE), 'utf8')).pid, process.pid);
  log.close();
});

test('a lock from another host, or one that cannot be read, is never taken over on a guess', () => {
  const dir = tempDir();
  const path = join(dir, WRITER_LOCK_FILE);
  writeFileSync(path, JSON.stringify({ pid: 1, host: 'other-host.example', since: '2026-01-01T00:00:00.000Z' }));
  assert.throws(() => acquireWriterLock(dir), refused(/pid 1 on other-host\.example/));
  writeFileSync(path, '{"pid": 1');
  assert.throws(() => acquireWriterLock(dir), refused(/an owner that cannot be read/));
  assert.equal(existsSync(path), true);
});

test('release() removes only its own lock', () => {
  const dir = tempDir();
  const lock = acquireWriterLock(dir);
  // Someone removed it and another writer took the log meanwhile.
  const path = join(dir, WRITER_LOCK_FILE);
  writeFileSync(path, JSON.stringify({ pid: process.pid, host: hostname(), since: 'later' }));
  lock.release();
  assert.equal(existsSync(path), true);
});
