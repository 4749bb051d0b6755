/**
 * The behaviour every ApprovalStore must have, as a reusable test suite:
 * memory-store.test.ts and infra/approvals/sqlite-store.test.ts both run it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { identityRef } from '../sessions/session-service.ts';
import { bindingHash, sha256Hex, type ApprovalRequest, type Grant } from './model.ts';
import type { ApprovalStore } from './store.ts';
import { agent, human } from './test-support.ts';

const T0 = 1_764_000_000_000;

export function pendingRequest(id: string, over: Partial<Extract<ApprovalRequest, { status: 'pending' }>> = {}): Extract<ApprovalRequest, { status: 'pending' }> {
  const statement = over.statement ?? 'DELETE FROM orders WHERE id = 1';
  const requester = over.requester ?? identityRef(agent);
  return {
    id,
    version: 1,
    status: 'pending',
    mode: 'reject',
    requester,
    connection: 'customers',
    statement,
    statementHash: sha256Hex(statement),
    fingerprint: null,
    action: 'sql:write',
    tables: ['public.orders'],
    policyId: 'p',
    policyVersion: 1,
    bindingHash: bindingHash({ requester, connection: 'customers', statement, policyVersion: 1 }),
    approverGroups: ['dba'],
    approvalsNeeded: 1,
    ttlSeconds: 60,
    createdAt: T0,
    expiresAt: T0 + 60_000,
    approvals: [],
    ...over,
  };
}

export function approved(r: ApprovalRequest, at = T0 + 1000): Extract<ApprovalRequest, { status: 'approved' }> {
  const vote = { approver: identityRef(human('dana', ['dba'])), reason: 'ok', at };
  return { ...r, status: 'approved', version: r.version + 1, approvals: [vote], approvedAt: at, validUntil: at + r.ttlSeconds * 1000 } as Extract<
    ApprovalRequest,
    { status: 'approved' }
  >;
}

export function pendingGrant(id: string, over: Partial<Extract<Grant, { status: 'pending' }>> = {}): Extract<Grant, { status: 'pending' }> {
  return {
    id,
    version: 1,
    status: 'pending',
    requester: identityRef(agent),
    connection: 'customers',
    action: 'sql:write',
    table: null,
    durationSeconds: 1800,
    reason: 'CHG-1234',
    approverGroups: ['dba'],
    approvalsNeeded: 1,
    createdAt: T0,
    requestExpiresAt: T0 + 3_600_000,
    approvals: [],
    ...over,
  };
}

export function activeGrant(g: Grant, at = T0 + 1000): Extract<Grant, { status: 'active' }> {
  return { ...g, status: 'active', version: g.version + 1, activatedAt: at, expiresAt: at + g.durationSeconds * 1000 } as Extract<Grant, { status: 'active' }>;
}

export function storeContract(name: string, open: () => ApprovalStore): void {
  describe(`ApprovalStore contract: ${name}`, () => {
    test('insert, get and list round-trip every field', () => {
      const s = open();
      const r = pendingRequest('a1', { fingerprint: 'fp', tables: ['public.a', 'public.b'], statement: "SELECT 'ünïcode' -- \u0000?" });
      s.insertApproval(r);
      assert.deepEqual(s.getApproval('a1'), r);
      assert.equal(s.getApproval('nope'), undefined);
      assert.throws(() => s.insertApproval(r));
      s.insertApproval(pendingRequest('a2', { createdAt: T0 + 5 }));
      assert.deepEqual(s.listApprovals({}).map((x) => x.id), ['a2', 'a1']);
      assert.deepEqual(s.listApprovals({ limit: 1 }).map((x) => x.id), ['a2']);
      assert.deepEqual(s.listApprovals({ statuses: ['approved'] }), []);
      s.close();
    });

    test('updates are compare-and-set on version', () => {
      const s = open();
      const r = pendingRequest('a1');
      s.insertApproval(r);
      const next = approved(r);
      assert.equal(s.updateApproval(next, 7), false, 'stale version refused');
      assert.deepEqual(s.getApproval('a1'), r);
      assert.equal(s.updateApproval(next, 1), true);
      assert.equal(s.updateApproval(next, 1), false, 'the same stale write twice is refused');
      assert.deepEqual(s.getApproval('a1'), next);
      assert.deepEqual(s.listApprovals({ statuses: ['approved'] }).map((x) => x.id), ['a1']);
      s.close();
    });

    test('findPending and countPending', () => {
      const s = open();
      const r = pendingRequest('a1');
      s.insertApproval(r);
      s.insertApproval(pendingRequest('a2', { statement: 'DELETE FROM x' }));
      assert.equal(s.findPending(r.bindingHash)?.id, 'a1');
      assert.equal(s.findPending('0'.repeat(64)), undefined);
      assert.equal(s.countPending(agent), 2);
      assert.equal(s.countPending(human('dana', [])), 0);
      s.updateApproval(approved(r), 1);
      assert.equal(s.findPending(r.bindingHash), undefined);
      assert.equal(s.countPending(agent), 1);
      s.close();
    });

    test('claimApproved is use-once and honours hash, deadline and id', () => {
      const s = open();
      const r = pendingRequest('a1');
      s.insertApproval(r);
      assert.equal(s.claimApproved(r.bindingHash, T0 + 2000, { sessionId: null }), undefined, 'pending cannot be claimed');
      const a = approved(r);
      s.updateApproval(a, 1);
      assert.equal(s.claimApproved('f'.repeat(64), T0 + 2000, { sessionId: null }), undefined, 'other hash');
      assert.equal(s.claimApproved(r.bindingHash, a.validUntil, { sessionId: null }), undefined, 'at the deadline it is gone');
      assert.equal(s.claimApproved(r.bindingHash, T0 + 2000, { id: 'a9', sessionId: null }), undefined, 'other id');
      const used = s.claimApproved(r.bindingHash, T0 + 2000, { id: 'a1', sessionId: 'ses_1' });
      assert.ok(used && used.status === 'used');
      assert.equal(used.usedAt, T0 + 2000);
      assert.equal(used.usedBySession, 'ses_1');
      assert.equal(used.version, a.version + 1);
      assert.deepEqual(s.getApproval('a1'), used);
      assert.equal(s.claimApproved(r.bindingHash, T0 + 2000, { sessionId: null }), undefined, 'second claim finds nothing');
      s.close();
    });

    test('grants: list by requester and status, CAS, active window', () => {
      const s = open();
      const g = pendingGrant('g1');
      s.insertGrant(g);
      s.insertGrant(pendingGrant('g2', { requester: identityRef(human('pat', ['dev'])), createdAt: T0 + 1 }));
      assert.deepEqual(s.getGrant('g1'), g);
      assert.deepEqual(s.listGrants({}).map((x) => x.id), ['g2', 'g1']);
      assert.deepEqual(s.listGrants({ requester: agent }).map((x) => x.id), ['g1']);
      assert.deepEqual(s.listGrants({ statuses: ['active'] }), []);
      assert.deepEqual(s.activeGrants(agent, 'customers', T0 + 2000), []);
      const a = activeGrant(g);
      assert.equal(s.updateGrant(a, 5), false);
      assert.equal(s.updateGrant(a, 1), true);
      assert.deepEqual(s.activeGrants(agent, 'customers', T0 + 2000), [a]);
      assert.deepEqual(s.activeGrants(agent, 'customers', a.expiresAt), [], 'not at the end of the window');
      assert.deepEqual(s.activeGrants(agent, 'other', T0 + 2000), []);
      assert.deepEqual(s.activeGrants(human('pat', []), 'customers', T0 + 2000), []);
      s.close();
    });

    test('nextDeadline and due cover non-final records only', () => {
      const s = open();
      assert.equal(s.nextDeadline(), null);
      const r = pendingRequest('a1', { expiresAt: T0 + 500 });
      s.insertApproval(r);
      s.insertGrant(pendingGrant('g1', { requestExpiresAt: T0 + 300 }));
      assert.equal(s.nextDeadline(), T0 + 300);
      assert.deepEqual(s.due(T0 + 299), { approvals: [], grants: [] });
      const d = s.due(T0 + 500);
      assert.deepEqual([d.approvals.map((x) => x.id), d.grants.map((x) => x.id)], [['a1'], ['g1']]);
      const denied: ApprovalRequest = { ...r, status: 'denied', version: 2, denial: { approver: identityRef(human('dana', ['dba'])), reason: 'no', at: T0 + 10 } };
      s.updateApproval(denied, 1);
      assert.equal(s.nextDeadline(), T0 + 300);
      assert.deepEqual(s.due(T0 + 10_000).approvals, []);
      s.close();
    });
  });
}
