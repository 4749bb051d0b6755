import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sampleEvents } from '../../core/audit/test-support.ts';
import { AUDIT_DB_FILE } from './sqlite-log.ts';
import { WalCheckpointer } from './wal-checkpointer.ts';
import { dbOf, openLog, tempDir } from './test-support.ts';

const events = sampleEvents();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the WAL is checkpointed by the worker, not inside commits, and the log still verifies', async () => {
  const dir = tempDir();
  const log = openLog(dir, { checkpointEvery: { entries: 100_000, seconds: 3600 } });
  assert.equal(dbOf(log).pragma('wal_autocheckpoint', { simple: true }), 0, 'commits never checkpoint');
  for (let round = 0; round < 6; round++) {
    await Promise.all(Array.from({ length: 300 }, (_, i) => log.append(events[i % events.length]!)));
    await sleep(300); // the worker ticks every 250 ms
  }
  const st = log.stats();
  assert.equal(st.checkpointerErrors, 0, st.lastCheckpointerError);
  assert.ok(st.walCheckpoints >= 2, `worker checkpoints: ${st.walCheckpoints}`);
  // Copied by the worker: the database file holds the entries (not only the WAL).
  assert.ok(statSync(join(dir, AUDIT_DB_FILE)).size > 100_000);
  assert.equal(log.verify().ok, true);
  log.close();
  const again = openLog(dir, { mode: 'inspect' });
  assert.equal(again.query().length, 1800);
  assert.equal(again.verify().ok, true);
  again.close();
});

test('when close() returns the worker\'s connection is closed and the WAL is checkpointed and gone: a copy of the folder is complete and stable', async () => {
  // Before, the worker closed its connection a moment later on its own thread, removing the WAL
  // under a copy in progress (seen in CI as ENOENT from cpSync); most closes left the WAL behind.
  for (let k = 0; k < 10; k++) {
    const dir = tempDir();
    const log = openLog(dir, { checkpointEvery: { entries: 1000, seconds: 3600 } });
    for (let i = 0; i < 40; i++) await log.append(events[i % events.length]!);
    log.close();
    assert.equal(existsSync(join(dir, `${AUDIT_DB_FILE}-wal`)), false, `round ${k}: WAL left behind after close`);
    assert.equal(existsSync(join(dir, `${AUDIT_DB_FILE}-shm`)), false, `round ${k}: shared-memory file left behind after close`);
  }
});

test('a worker that cannot open the database fails over to checkpoints on the log\'s own connection', async () => {
  const errors: string[] = [];
  const c = new WalCheckpointer({ dbPath: join(tempDir(), 'missing.db'), intervalMs: 10, onError: (m) => errors.push(m) });
  c.noteCommit();
  for (let i = 0; i < 200 && !c.failed; i++) await sleep(10);
  assert.equal(c.failed, true);
  assert.match(errors[0] ?? '', /checkpoint worker/);
  // Without the worker the log checkpoints as often as SQLite itself would.
  for (let i = 1; i < 999; i++) c.noteCommit();
  assert.equal(c.due(), false);
  c.noteCommit();
  assert.equal(c.due(), true);
  c.checkpointed();
  assert.equal(c.due(), false);
  c.close();
});

test('past maxFrames the log is told to checkpoint itself (steady load keeps the WAL from restarting)', async () => {
  const dir = tempDir();
  const log = openLog(dir, { checkpointEvery: { entries: 100_000, seconds: 3600 } });
  await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(events[i % events.length]!)));
  // A second checkpointer on the same store, with a tiny bound.
  const c = new WalCheckpointer({ dbPath: join(dir, AUDIT_DB_FILE), intervalMs: 10, maxFrames: 1 });
  assert.equal(c.due(), false);
  c.noteCommit();
  for (let i = 0; i < 200 && c.reports === 0; i++) await sleep(10);
  assert.ok(c.reports >= 1);
  assert.equal(c.failed, false);
  assert.equal(c.due(), true, 'the WAL holds more frames than the bound');
  c.checkpointed();
  assert.equal(c.due(), false);
  c.close();
  log.close();
});
