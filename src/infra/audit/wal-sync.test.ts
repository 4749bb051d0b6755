import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WalSyncer } from './wal-sync.ts';
import { tempDir } from './test-support.ts';

test('coalesces fsyncs and reports every waiter', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'x.db-wal'), 'wal');
  const s = new WalSyncer(join(dir, 'x.db-wal'), join(dir, 'x.db'));
  const results = await Promise.all(Array.from({ length: 5 }, () => new Promise<Error | null>((r) => s.afterCommit(r))));
  assert.deepEqual(results, [null, null, null, null, null]);
});

test('falls back to the database file when the WAL is gone, and reports errors', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'x.db'), 'db');
  const ok = new WalSyncer(join(dir, 'x.db-wal'), join(dir, 'x.db'));
  assert.equal(await new Promise((r) => ok.afterCommit(r)), null);
  ok.syncNow();
  const missing = new WalSyncer(join(dir, 'none-wal'), join(dir, 'none'));
  const err = await new Promise<Error | null>((r) => missing.afterCommit(r));
  assert.equal((err as NodeJS.ErrnoException | null)?.code, 'ENOENT');
});
