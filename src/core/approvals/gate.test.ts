import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApprovalTerms } from '../policy/decision.ts';
import { approvalGate, type ApprovalGateInput } from './gate.ts';
import type { ApprovalRequest } from './model.ts';
import { agent, harness, human, settle } from './test-support.ts';

const terms: ApprovalTerms = { approvers: ['dba'], approvals: 1, ttlSeconds: 900, policyId: 'writes-need-dba' };
const dana = human('dana', ['dba']);

function input(over: Partial<ApprovalGateInput> = {}): ApprovalGateInput {
  return {
    requester: agent,
    connection: 'customers',
    statement: 'DELETE FROM orders WHERE id = 7',
    fingerprint: null,
    action: 'sql:write',
    tables: ['public.orders'],
    terms,
    policyVersion: 3,
    mode: 'reject',
    holdTimeoutMs: 60_000,
    sessionId: 'ses_1',
    ...over,
  };
}

describe('approval gate', () => {
  test('reject mode: refused with the request id and command; after approval the re-send runs once', async () => {
    const { service } = harness();
    const first = await approvalGate(service, input());
    assert.ok(first.outcome === 'refused' && first.why === 'pending');
    assert.match(first.message, new RegExp(`Request ${first.request.id} is pending`));
    assert.ok(first.message.includes(`gatehouse approvals approve ${first.request.id}`));
    assert.ok(first.message.includes('1 approval from dba'));
    const again = await approvalGate(service, input());
    assert.ok(again.outcome === 'refused' && again.request.id === first.request.id, 'no second request while pending');
    await service.approve(first.request.id, dana, 'ok');
    const other = await approvalGate(service, input({ statement: 'DELETE FROM orders' }));
    assert.equal(other.outcome, 'refused', 'another statement does not run');
    const ran = await approvalGate(service, input());
    assert.ok(ran.outcome === 'run');
    assert.equal(ran.approval.id, first.request.id);
    assert.deepEqual(ran.context.approvers, ['dana']);
    assert.ok(ran.approval.status === 'used' && ran.approval.usedBySession === 'ses_1');
    const third = await approvalGate(service, input());
    assert.ok(third.outcome === 'refused' && third.request.id !== first.request.id, 'used once; a new request after');
  });

  test('hold mode: tells the client, waits, runs on approval', async () => {
    const { service } = harness();
    const notices: [ApprovalRequest, string][] = [];
    const pending = approvalGate(service, input({ mode: 'hold', onHold: (r, m) => notices.push([r, m]) }));
    await settle();
    assert.equal(notices.length, 1);
    const [r, message] = notices[0]!;
    assert.ok(message.includes(`Request ${r.id}`) && message.includes('holding'));
    await service.approve(r.id, dana, 'ok');
    const res = await pending;
    assert.ok(res.outcome === 'run' && res.approval.id === r.id);
  });

  test('hold mode: denial, expiry and timeout refuse with a clear message', async () => {
    const h1 = harness();
    let id = '';
    const denied = approvalGate(h1.service, input({ mode: 'hold', onHold: (r) => (id = r.id) }));
    await settle();
    await h1.service.deny(id, dana, 'freeze until Monday');
    const d = await denied;
    assert.ok(d.outcome === 'refused' && d.why === 'denied');
    assert.ok(d.message.includes('denied by dana: freeze until Monday'));

    const h2 = harness();
    const expired = approvalGate(h2.service, input({ mode: 'hold', terms: { ...terms, ttlSeconds: 30 } }));
    await settle();
    await h2.time.advance(30_000);
    const e = await expired;
    assert.ok(e.outcome === 'refused' && e.why === 'expired');

    const h3 = harness();
    const timedOut = approvalGate(h3.service, input({ mode: 'hold', holdTimeoutMs: 5_000 }));
    await settle();
    await h3.time.advance(5_000);
    const t = await timedOut;
    assert.ok(t.outcome === 'refused' && t.why === 'timeout');
    assert.ok(t.message.includes('stays pending'));
    // Approved later, the same statement re-sent runs once (as in reject mode).
    await h3.service.approve(t.request.id, dana, 'ok');
    assert.equal((await approvalGate(h3.service, input({ mode: 'hold' }))).outcome, 'run');
  });
});
