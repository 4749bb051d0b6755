import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isGatewayError, type ErrorCode } from '../../shared/errors.ts';
import { bindingHash, sha256Hex, type ApprovalRequest } from './model.ts';
import { agent, harness, human, requestInput, settle, workload } from './test-support.ts';

const dana = human('dana', ['dba']);
const erin = human('erin', ['dba']);
const sam = human('sam', ['dba', 'security']);

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isGatewayError(e), `expected a GatewayError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.clientSafe, true);
    return true;
  });
}

describe('approval requests', () => {
  test('a request records the exact operation, its hashes and an approval.requested event', async () => {
    const { service, sink, time } = harness();
    const input = requestInput({ mode: 'hold' });
    const r = await service.request(input);
    assert.equal(r.status, 'pending');
    assert.match(r.id, /^apr_/);
    assert.equal(r.statement, input.statement);
    assert.equal(r.statementHash, sha256Hex(input.statement));
    assert.equal(r.bindingHash, bindingHash({ requester: agent, connection: 'customers', statement: input.statement, policyVersion: 3 }));
    assert.equal(r.expiresAt, time.now() + 900_000);
    assert.deepEqual(r.requester.ci, { repository: 'acme/app', run_id: '42' });
    assert.deepEqual(sink.types(), ['approval.requested']);
    const e = sink.events[0];
    assert.ok(e && e.type === 'approval.requested');
    assert.equal(e.approvalId, r.id);
    assert.equal(e.statement, input.statement);
    assert.equal(e.policyVersion, 3);
    assert.deepEqual(service.get(r.id), r);
  });

  test('the same statement re-sent while pending returns the pending request (no flood of requests)', async () => {
    const { service, sink } = harness();
    const a = await service.request(requestInput());
    const b = await service.request(requestInput());
    assert.equal(b.id, a.id);
    const c = await service.request(requestInput({ statement: 'DELETE FROM customers' }));
    assert.notEqual(c.id, a.id);
    assert.deepEqual(sink.types(), ['approval.requested', 'approval.requested']);
  });

  test('malformed terms are refused (fail closed): no approver group, bad counts', async () => {
    const { service } = harness();
    await rejectsWith(service.request(requestInput({ approverGroups: [] })), 'GW_APPROVAL_INVALID');
    await rejectsWith(service.request(requestInput({ approvalsNeeded: 0 })), 'GW_APPROVAL_INVALID');
    await rejectsWith(service.request(requestInput({ ttlSeconds: 0 })), 'GW_APPROVAL_INVALID');
    await rejectsWith(service.request(requestInput({ statement: '' })), 'GW_APPROVAL_INVALID');
  });

  test('pending requests per person are bounded', async () => {
    const { service } = harness({ maxPendingPerRequester: 2 });
    await service.request(requestInput({ statement: 'DELETE FROM a' }));
    await service.request(requestInput({ statement: 'DELETE FROM b' }));
    await rejectsWith(service.request(requestInput({ statement: 'DELETE FROM c' })), 'GW_APPROVAL_LIMIT');
  });
});

describe('who may approve', () => {
  test('the requester can never approve (or deny) their own request', async () => {
    const { service } = harness();
    const pat = human('pat', ['dba', 'dev']);
    const r = await service.request(requestInput({ requester: pat }));
    await rejectsWith(service.approve(r.id, pat, 'looks fine'), 'GW_APPROVAL_SELF');
    await rejectsWith(service.deny(r.id, pat, 'never mind'), 'GW_APPROVAL_SELF');
    // Same subject at the same issuer with different groups is still the same person.
    await rejectsWith(service.approve(r.id, human('pat', ['dba']), 'ok'), 'GW_APPROVAL_SELF');
    assert.equal(service.get(r.id)?.status, 'pending');
  });

  test('a workload token cannot approve, even in an approver group', async () => {
    const { service } = harness();
    const r = await service.request(requestInput());
    await rejectsWith(service.approve(r.id, workload('ci-deployer', ['dba']), 'automated'), 'GW_APPROVAL_NOT_HUMAN');
    await rejectsWith(service.deny(r.id, workload('ci-deployer', ['dba']), 'automated'), 'GW_APPROVAL_NOT_HUMAN');
  });

  test('an approver outside the approver groups is refused', async () => {
    const { service, sink } = harness();
    const r = await service.request(requestInput());
    await rejectsWith(service.approve(r.id, human('ola', ['developers']), 'ok'), 'GW_APPROVAL_NOT_APPROVER');
    assert.deepEqual(sink.types(), ['approval.requested']);
  });

  test('another issuer with the same subject is another person', async () => {
    const { service } = harness();
    const pat = human('pat', ['dev']);
    const r = await service.request(requestInput({ requester: pat }));
    const other = await service.approve(r.id, human('pat', ['dba'], 'https://other-idp.example.com'), 'different person');
    assert.equal(other.status, 'approved');
  });

  test('2-of-N: one person in two approver groups counts once; a second person completes it', async () => {
    const { service, sink } = harness();
    const r = await service.request(requestInput({ approverGroups: ['dba', 'security'], approvalsNeeded: 2 }));
    const one = await service.approve(r.id, sam, 'reviewed the WHERE clause');
    assert.equal(one.status, 'pending');
    assert.equal(one.approvals.length, 1);
    await rejectsWith(service.approve(r.id, sam, 'again, as security'), 'GW_APPROVAL_ALREADY_VOTED');
    await rejectsWith(service.approve(r.id, human('sam', ['security']), 'as the other group'), 'GW_APPROVAL_ALREADY_VOTED');
    assert.equal(service.get(r.id)?.status, 'pending');
    const two = await service.approve(r.id, dana, 'second pair of eyes');
    assert.equal(two.status, 'approved');
    assert.deepEqual(two.approvals.map((v) => v.approver.subject), ['sam', 'dana']);
    const granted = sink.events.filter((e) => e.type === 'approval.granted');
    assert.equal(granted.length, 2);
    assert.deepEqual(
      granted.map((e) => (e.type === 'approval.granted' ? [e.identity.subject, e.approvalsGiven, e.complete, e.justification] : [])),
      [
        ['sam', 1, false, 'reviewed the WHERE clause'],
        ['dana', 2, true, 'second pair of eyes'],
      ],
    );
  });

  test('a reason is required to approve or deny', async () => {
    const { service } = harness();
    const r = await service.request(requestInput());
    await rejectsWith(service.approve(r.id, dana, ''), 'GW_APPROVAL_REASON_REQUIRED');
    await rejectsWith(service.approve(r.id, dana, '   '), 'GW_APPROVAL_REASON_REQUIRED');
    await rejectsWith(service.deny(r.id, dana, ''), 'GW_APPROVAL_REASON_REQUIRED');
  });

  test('deny with a reason ends the request; later decisions are refused', async () => {
    const { service, sink } = harness();
    const r = await service.request(requestInput());
    const d = await service.deny(r.id, dana, 'no changes during the freeze');
    assert.ok(d.status === 'denied');
    assert.equal(d.denial.reason, 'no changes during the freeze');
    assert.equal(d.denial.approver.subject, 'dana');
    await rejectsWith(service.approve(r.id, erin, 'ok'), 'GW_APPROVAL_NOT_PENDING');
    await rejectsWith(service.deny(r.id, erin, 'also no'), 'GW_APPROVAL_NOT_PENDING');
    const e = sink.events.at(-1);
    assert.ok(e && e.type === 'approval.denied');
    assert.equal(e.justification, 'no changes during the freeze');
    assert.equal(await service.consumeFor(requestInput()), null);
  });

  test('unknown ids are not found', async () => {
    const { service } = harness();
    await rejectsWith(service.approve('apr_nope', dana, 'x'), 'GW_APPROVAL_NOT_FOUND');
    await rejectsWith(service.waitFor('apr_nope', 10), 'GW_APPROVAL_NOT_FOUND');
  });
});

describe('expiry', () => {
  test('a pending request expires at its ttl (event-driven timer), with an event', async () => {
    const { service, sink, time } = harness();
    const r = await service.request(requestInput({ ttlSeconds: 60 }));
    await time.advance(59_999);
    assert.equal(service.get(r.id)?.status, 'pending');
    await time.advance(1);
    const x = service.get(r.id);
    assert.ok(x && x.status === 'expired' && x.previousStatus === 'pending');
    assert.deepEqual(sink.types(), ['approval.requested', 'approval.expired']);
    await rejectsWith(service.approve(r.id, dana, 'too late'), 'GW_APPROVAL_NOT_PENDING');
  });

  test('an approved request not used within its ttl expires', async () => {
    const { service, sink, time } = harness();
    const r = await service.request(requestInput({ ttlSeconds: 60 }));
    await time.advance(30_000);
    await service.approve(r.id, dana, 'ok');
    await time.advance(59_000);
    assert.equal(service.get(r.id)?.status, 'approved', 'valid for ttl after approval');
    await time.advance(1_000);
    assert.equal(service.get(r.id)?.status, 'expired');
    assert.equal(await service.consumeFor(requestInput()), null);
    assert.deepEqual(sink.types(), ['approval.requested', 'approval.granted', 'approval.expired']);
  });

  test('a decision arriving after the deadline (before the sweep ran) stores the expiry and is refused', async () => {
    const { service, sink, time, store } = harness();
    const r = await service.request(requestInput({ ttlSeconds: 60 }));
    // Simulate a late timer: move the clock without firing timers.
    (time as unknown as { now(): number }).now = () => r.expiresAt + 5;
    await rejectsWith(service.approve(r.id, dana, 'ok'), 'GW_APPROVAL_NOT_PENDING');
    assert.equal(store.getApproval(r.id)?.status, 'expired');
    assert.deepEqual(sink.types(), ['approval.requested', 'approval.expired']);
  });

  test('start() after a restart expires what became due while down', async () => {
    const first = harness();
    const r = await first.service.request(requestInput({ ttlSeconds: 60 }));
    first.service.close();
    const second = harness({ store: first.store });
    await second.time.advance(120_000);
    await second.service.start();
    assert.equal(second.store.getApproval(r.id)?.status, 'expired');
    assert.deepEqual(second.sink.types(), ['approval.expired']);
  });
});

describe('hold mode: waitFor', () => {
  test('resolves on approval', async () => {
    const { service } = harness();
    const r = await service.request(requestInput({ mode: 'hold' }));
    const waiting = service.waitFor(r.id, 60_000);
    await settle();
    await service.approve(r.id, dana, 'ok');
    assert.equal(await waiting, 'approved');
    const used = await service.consumeFor({ ...requestInput(), approvalId: r.id, sessionId: 'ses_1' });
    assert.equal(used?.id, r.id);
  });

  test('resolves on denial', async () => {
    const { service } = harness();
    const r = await service.request(requestInput({ mode: 'hold' }));
    const waiting = service.waitFor(r.id, 60_000);
    await service.deny(r.id, dana, 'no');
    assert.equal(await waiting, 'denied');
  });

  test('resolves on expiry', async () => {
    const { service, time } = harness();
    const r = await service.request(requestInput({ mode: 'hold', ttlSeconds: 30 }));
    const waiting = service.waitFor(r.id, 120_000);
    await time.advance(30_000);
    assert.equal(await waiting, 'expired');
  });

  test('resolves on timeout, and the request stays pending', async () => {
    const { service, time } = harness();
    const r = await service.request(requestInput({ mode: 'hold', ttlSeconds: 900 }));
    const waiting = service.waitFor(r.id, 10_000);
    await time.advance(10_000);
    assert.equal(await waiting, 'timeout');
    assert.equal(service.get(r.id)?.status, 'pending');
  });

  test('resolves timeout on abort and on close; at once when already decided', async () => {
    const { service } = harness();
    const r = await service.request(requestInput({ mode: 'hold' }));
    const ac = new AbortController();
    const waiting = service.waitFor(r.id, 60_000, { signal: ac.signal });
    ac.abort();
    assert.equal(await waiting, 'timeout');
    const waiting2 = service.waitFor(r.id, 60_000);
    service.close();
    assert.equal(await waiting2, 'timeout');
    const h = harness();
    const r2 = await h.service.request(requestInput());
    await h.service.approve(r2.id, dana, 'ok');
    assert.equal(await h.service.waitFor(r2.id, 1), 'approved');
  });

  test('several waiters on one request all resolve', async () => {
    const { service } = harness();
    const r = await service.request(requestInput({ mode: 'hold' }));
    const w = [service.waitFor(r.id, 60_000), service.waitFor(r.id, 60_000)];
    await service.approve(r.id, dana, 'ok');
    assert.deepEqual(await Promise.all(w), ['approved', 'approved']);
  });
});

describe('reject mode: consumeFor', () => {
  async function approvedRequest(): Promise<{ h: ReturnType<typeof harness>; r: ApprovalRequest }> {
    const h = harness();
    const r = await h.service.request(requestInput());
    await h.service.approve(r.id, dana, 'ok');
    return { h, r };
  }

  test('the same identity, connection, statement and policy version runs it exactly once', async () => {
    const { h, r } = await approvedRequest();
    const used = await h.service.consumeFor({ ...requestInput(), sessionId: 'ses_9' });
    assert.ok(used && used.status === 'used');
    assert.equal(used.id, r.id);
    assert.equal(used.usedBySession, 'ses_9');
    assert.equal(await h.service.consumeFor(requestInput()), null, 'second run finds nothing');
    const e = h.sink.events.at(-1);
    assert.ok(e && e.type === 'approval.used');
    assert.equal(e.sessionId, 'ses_9');
    assert.equal(e.approvalId, r.id);
  });

  const mismatches: [string, Parameters<typeof requestInput>[0]][] = [
    ['another statement', { statement: "UPDATE customers SET tier = 'gold' WHERE id = 8" }],
    ['the statement with extra whitespace', { statement: "UPDATE customers SET tier = 'gold' WHERE id = 7 " }],
    ['another identity', { requester: workload('repo:acme/other:ref:refs/heads/main', ['agents']) }],
    ['the same subject from another issuer', { requester: workload(agent.subject, ['agents'], 'https://evil.example.com') }],
    ['another connection', { connection: 'customers-replica' }],
    ['another policy version', { policyVersion: 4 }],
  ];
  for (const [what, over] of mismatches) {
    test(`finds nothing for ${what}, and the approval stays usable`, async () => {
      const { h, r } = await approvedRequest();
      assert.equal(await h.service.consumeFor(requestInput(over)), null);
      assert.equal(h.service.get(r.id)?.status, 'approved');
      assert.equal((await h.service.consumeFor(requestInput()))?.id, r.id);
    });
  }

  test('hold mode consume by id only takes that request', async () => {
    const { h, r } = await approvedRequest();
    assert.equal(await h.service.consumeFor({ ...requestInput(), approvalId: 'apr_other' }), null);
    assert.equal((await h.service.consumeFor({ ...requestInput(), approvalId: r.id }))?.id, r.id);
  });

  test('two racing re-sends: exactly one runs', async () => {
    const { h } = await approvedRequest();
    const results = await Promise.all([h.service.consumeFor(requestInput()), h.service.consumeFor(requestInput()), h.service.consumeFor(requestInput())]);
    assert.equal(results.filter((x) => x !== null).length, 1);
  });

  test('a pending request cannot be consumed', async () => {
    const h = harness();
    await h.service.request(requestInput());
    assert.equal(await h.service.consumeFor(requestInput()), null);
  });
});

describe('audit: write-ahead, fail closed', () => {
  test('every state change produced its event, in order', async () => {
    const { service, sink, time } = harness();
    const a = await service.request(requestInput({ approvalsNeeded: 2, approverGroups: ['dba'] }));
    await service.approve(a.id, dana, 'one');
    await service.approve(a.id, erin, 'two');
    await service.consumeFor(requestInput());
    const b = await service.request(requestInput({ statement: 'DELETE FROM customers' }));
    await service.deny(b.id, dana, 'no');
    await service.request(requestInput({ statement: 'TRUNCATE customers', ttlSeconds: 5 }));
    await time.advance(5_000);
    assert.deepEqual(sink.types(), [
      'approval.requested',
      'approval.granted',
      'approval.granted',
      'approval.used',
      'approval.requested',
      'approval.denied',
      'approval.requested',
      'approval.expired',
    ]);
    for (const e of sink.events) assert.equal(typeof e.time, 'number');
  });

  test('a failing event sink refuses each change and nothing is stored', async () => {
    const { service, sink, store } = harness();
    sink.failing = true;
    await rejectsWith(service.request(requestInput()), 'GW_EVENT_STORE_UNAVAILABLE');
    assert.deepEqual(store.listApprovals({}), []);
    sink.failing = false;
    const r = await service.request(requestInput({ approvalsNeeded: 1 }));
    sink.failing = true;
    await rejectsWith(service.approve(r.id, dana, 'ok'), 'GW_EVENT_STORE_UNAVAILABLE');
    await rejectsWith(service.deny(r.id, dana, 'no'), 'GW_EVENT_STORE_UNAVAILABLE');
    assert.equal(store.getApproval(r.id)?.status, 'pending');
    sink.failing = false;
    await service.approve(r.id, dana, 'ok');
    sink.failing = true;
    await rejectsWith(service.consumeFor(requestInput()), 'GW_EVENT_STORE_UNAVAILABLE');
    assert.equal(store.getApproval(r.id)?.status, 'approved', 'the claim was released: the statement did not run');
    sink.failing = false;
    assert.equal((await service.consumeFor(requestInput()))?.id, r.id);
  });

  test('expiry with the audit log down: not stored, yet never usable; stored once the log is back', async () => {
    const { service, sink, store, time } = harness({ retryMs: 1000 });
    const r = await service.request(requestInput({ ttlSeconds: 10 }));
    await service.approve(r.id, dana, 'ok');
    const waiting = service.request(requestInput({ statement: 'DELETE FROM x', ttlSeconds: 10, mode: 'hold' })).then((h) => service.waitFor(h.id, 60_000));
    await settle();
    sink.failing = true;
    await time.advance(10_000);
    assert.equal(await waiting, 'expired', 'the waiter fails closed at the deadline');
    assert.equal(store.getApproval(r.id)?.status, 'approved', 'not stored while the log is down');
    assert.equal(service.get(r.id)?.status, 'expired', 'but shown as expired');
    assert.equal(await service.consumeFor(requestInput()), null, 'and never usable');
    sink.failing = false;
    await time.advance(1_000);
    assert.equal(store.getApproval(r.id)?.status, 'expired');
    assert.equal(sink.types().filter((t) => t === 'approval.expired').length, 2);
  });
});

describe('change listeners', () => {
  test('listeners hear every stored change; a throwing listener does not break the flow', async () => {
    const { service } = harness();
    const heard: string[] = [];
    service.onChange(() => {
      throw new Error('boom');
    });
    const off = service.onChange((c) => heard.push(c.type));
    const r = await service.request(requestInput());
    await service.approve(r.id, dana, 'ok');
    off();
    await service.consumeFor(requestInput());
    assert.deepEqual(heard, ['approval.requested', 'approval.granted']);
  });
});
