import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeContract, pendingRequest, approved } from '../../core/approvals/store-contract.ts';
import { SqliteApprovalStore, APPROVALS_DB_FILE } from './sqlite-store.ts';
import { harness, requestInput, human } from '../../core/approvals/test-support.ts';

storeContract('sqlite (memory)', () => SqliteApprovalStore.open({ memory: true }));

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
storeContract('sqlite (file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-approvals-'));
  dirs.push(dir);
  return SqliteApprovalStore.open({ stateDir: dir });
});

test('approvals.db lives in stateDir, in WAL mode, and survives reopening', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'gh-approvals-')), 'state');
  try {
    const s = SqliteApprovalStore.open({ stateDir: dir });
    const r = pendingRequest('a1');
    s.insertApproval(r);
    s.close();
    assert.ok(statSync(join(dir, APPROVALS_DB_FILE)).isFile());
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const again = SqliteApprovalStore.open({ stateDir: dir });
    assert.deepEqual(again.getApproval('a1'), r);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('use-once holds across two connections to the same file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-approvals-'));
  try {
    const a = SqliteApprovalStore.open({ stateDir: dir });
    const b = SqliteApprovalStore.open({ stateDir: dir });
    const r = pendingRequest('a1');
    a.insertApproval(r);
    a.updateApproval(approved(r), 1);
    const now = r.createdAt + 2000;
    const first = b.claimApproved(r.bindingHash, now, { sessionId: 's1' });
    const second = a.claimApproved(r.bindingHash, now, { sessionId: 's2' });
    assert.equal(first?.status, 'used');
    assert.equal(second, undefined);
    // A write computed from a stale read in the other process is refused.
    assert.equal(a.updateApproval(approved(r), 1), false);
    a.close();
    b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the service runs end to end over the SQLite store', async () => {
  const store = SqliteApprovalStore.open({ memory: true });
  const { service } = harness({ store });
  const r = await service.request(requestInput());
  await service.approve(r.id, human('dana', ['dba']), 'ok');
  assert.equal((await service.consumeFor(requestInput()))?.id, r.id);
  assert.equal(await service.consumeFor(requestInput()), null);
  assert.equal(store.getApproval(r.id)?.status, 'used');
  store.close();
});
