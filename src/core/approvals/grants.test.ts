import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isGatewayError, type ErrorCode } from '../../shared/errors.ts';
import type { Principal } from '../identity/principal.ts';
import { grantContext, selectGrant, type Grant } from './model.ts';
import type { GrantEndReason, GrantRequestInput } from './service.ts';
import { endSessionsOnGrantEnd } from './session-binding.ts';
import { agent, harness, human, workload } from './test-support.ts';

const dana = human('dana', ['dba']);
const sec = human('sec', ['security']);

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => isGatewayError(e) && e.code === code);
}

function grantInput(over: Partial<GrantRequestInput> = {}): GrantRequestInput {
  return { requester: agent, connection: 'customers', action: 'sql:write', table: 'public.orders', durationSeconds: 1800, reason: 'CHG-1234', ...over };
}

function endings(service: ReturnType<typeof harness>['service']): [string, GrantEndReason][] {
  const out: [string, GrantEndReason][] = [];
  service.onGrantEnded((g, why) => out.push([g.id, why]));
  return out;
}

describe('just-in-time grants', () => {
  test('an agent asks ahead; once approved the grant is active for its window, and not after', async () => {
    const { service, sink, time } = harness();
    const ended = endings(service);
    const g = await service.requestGrant(grantInput());
    assert.equal(g.status, 'pending');
    assert.match(g.id, /^grt_/);
    assert.deepEqual(g.approverGroups, ['dba', 'security']);
    assert.deepEqual(service.activeGrants(agent, 'customers'), []);
    const a = await service.approveGrant(g.id, dana, 'change approved in CAB');
    assert.ok(a.status === 'active');
    assert.equal(a.expiresAt, time.now() + 1_800_000);
    const active = service.activeGrants(agent, 'customers');
    assert.equal(active.length, 1);
    const chosen = selectGrant(active, 'sql:write', ['public.orders']);
    assert.ok(chosen);
    assert.deepEqual(grantContext(chosen), { id: g.id, actions: ['sql:write'], tables: ['public.orders'], expiresAt: a.expiresAt, reason: 'CHG-1234' });
    assert.deepEqual(service.activeGrants(agent, 'other'), [], 'other connection');
    assert.deepEqual(service.activeGrants(human('pat', ['agents']), 'customers'), [], 'other person');
    await time.advance(1_799_999);
    assert.equal(service.activeGrants(agent, 'customers').length, 1);
    assert.deepEqual(ended, []);
    await time.advance(1);
    assert.deepEqual(service.activeGrants(agent, 'customers'), []);
    assert.equal(service.getGrant(g.id)?.status, 'expired');
    assert.deepEqual(ended, [[g.id, 'expired']]);
    assert.deepEqual(sink.types(), ['grant.requested', 'grant.approved', 'grant.expired']);
  });

  test('activeGrants compares with the clock even before the sweep ran', async () => {
    const { service, time } = harness();
    const g = await service.requestGrant(grantInput({ durationSeconds: 60 }));
    const a = await service.approveGrant(g.id, dana, 'ok');
    assert.ok(a.status === 'active');
    assert.deepEqual(service.activeGrants(agent, 'customers', a.expiresAt), []);
    assert.equal(service.activeGrants(agent, 'customers', a.expiresAt - 1).length, 1);
    assert.ok(time.now() < a.expiresAt);
  });

  test('the grant approval rules match the request rules', async () => {
    const { service } = harness();
    const pat = human('pat', ['dba']);
    const g = await service.requestGrant(grantInput({ requester: pat }));
    await rejectsWith(service.approveGrant(g.id, pat, 'me'), 'GW_APPROVAL_SELF');
    await rejectsWith(service.approveGrant(g.id, workload('ci', ['dba']), 'bot'), 'GW_APPROVAL_NOT_HUMAN');
    await rejectsWith(service.approveGrant(g.id, human('ola', ['dev']), 'ok'), 'GW_APPROVAL_NOT_APPROVER');
    await rejectsWith(service.approveGrant(g.id, dana, ''), 'GW_APPROVAL_REASON_REQUIRED');
    await rejectsWith(service.approveGrant('grt_nope', dana, 'ok'), 'GW_GRANT_NOT_FOUND');
    await service.approveGrant(g.id, dana, 'ok');
    await rejectsWith(service.approveGrant(g.id, sec, 'ok'), 'GW_GRANT_NOT_PENDING');
  });

  test('2 approvals needed: one person in both groups counts once', async () => {
    const { service } = harness({ grantTerms: () => ({ approverGroups: ['dba', 'security'], approvalsNeeded: 2, maxDurationSeconds: 3600 }) });
    const both = human('sam', ['dba', 'security']);
    const g = await service.requestGrant(grantInput());
    assert.equal((await service.approveGrant(g.id, both, 'one')).status, 'pending');
    await rejectsWith(service.approveGrant(g.id, both, 'again'), 'GW_APPROVAL_ALREADY_VOTED');
    assert.equal((await service.approveGrant(g.id, sec, 'two')).status, 'active');
  });

  test('requests are validated: offered connection, duration bound, reason', async () => {
    const { service } = harness();
    await rejectsWith(service.requestGrant(grantInput({ connection: 'payments' })), 'GW_GRANT_UNAVAILABLE');
    await rejectsWith(service.requestGrant(grantInput({ durationSeconds: 9 * 3600 })), 'GW_APPROVAL_INVALID');
    await rejectsWith(service.requestGrant(grantInput({ durationSeconds: 0 })), 'GW_APPROVAL_INVALID');
    await rejectsWith(service.requestGrant(grantInput({ durationSeconds: 1.5 })), 'GW_APPROVAL_INVALID');
    await rejectsWith(service.requestGrant(grantInput({ reason: ' ' })), 'GW_APPROVAL_REASON_REQUIRED');
    await rejectsWith(harness({ grantTerms: undefined }).service.requestGrant(grantInput()), 'GW_GRANT_UNAVAILABLE');
  });

  test('revoke ends the grant at once and fires onGrantEnded', async () => {
    const { service, sink } = harness();
    const ended = endings(service);
    const g = await service.requestGrant(grantInput());
    await service.approveGrant(g.id, dana, 'ok');
    await rejectsWith(service.revokeGrant(g.id, human('ola', ['dev']), 'no'), 'GW_GRANT_FORBIDDEN');
    await rejectsWith(service.revokeGrant(g.id, workload('ci', ['dba']), 'no'), 'GW_GRANT_FORBIDDEN');
    const r = await service.revokeGrant(g.id, sec, 'incident INC-9');
    assert.ok(r.status === 'revoked' && r.previousStatus === 'active');
    assert.equal(r.revokedBy.subject, 'sec');
    assert.deepEqual(ended, [[g.id, 'revoked']]);
    assert.deepEqual(service.activeGrants(agent, 'customers'), []);
    await rejectsWith(service.revokeGrant(g.id, sec, 'again'), 'GW_GRANT_ENDED');
    const e = sink.events.at(-1);
    assert.ok(e && e.type === 'grant.revoked');
    assert.equal(e.justification, 'incident INC-9');
    assert.equal(e.previousStatus, 'active');
  });

  test('the requester may withdraw a pending grant; no session ending for a grant never active', async () => {
    const { service } = harness();
    const ended = endings(service);
    const g = await service.requestGrant(grantInput());
    const r = await service.revokeGrant(g.id, agent);
    assert.equal(r.status, 'revoked');
    assert.deepEqual(ended, []);
  });

  test('a pending grant expires after the request ttl without ending anything', async () => {
    const { service, time, sink } = harness({ grantRequestTtlSeconds: 600 });
    const ended = endings(service);
    const g = await service.requestGrant(grantInput());
    await time.advance(600_000);
    const x = service.getGrant(g.id);
    assert.ok(x && x.status === 'expired' && x.previousStatus === 'pending');
    assert.deepEqual(ended, []);
    assert.deepEqual(sink.types(), ['grant.requested', 'grant.expired']);
    await rejectsWith(service.approveGrant(g.id, dana, 'late'), 'GW_GRANT_NOT_PENDING');
  });

  test('audit down: grant changes are refused, but expiry still ends sessions at the deadline (once)', async () => {
    const { service, sink, time, store } = harness({ retryMs: 1000 });
    const ended = endings(service);
    sink.failing = true;
    await rejectsWith(service.requestGrant(grantInput()), 'GW_EVENT_STORE_UNAVAILABLE');
    assert.deepEqual(store.listGrants({}), []);
    sink.failing = false;
    const g = await service.requestGrant(grantInput({ durationSeconds: 60 }));
    sink.failing = true;
    await rejectsWith(service.approveGrant(g.id, dana, 'ok'), 'GW_EVENT_STORE_UNAVAILABLE');
    assert.equal(store.getGrant(g.id)?.status, 'pending');
    sink.failing = false;
    await service.approveGrant(g.id, dana, 'ok');
    sink.failing = true;
    await rejectsWith(service.revokeGrant(g.id, dana, 'x'), 'GW_EVENT_STORE_UNAVAILABLE');
    assert.equal(store.getGrant(g.id)?.status, 'active');
    await time.advance(60_000);
    assert.deepEqual(ended, [[g.id, 'expired']], 'sessions end at the deadline');
    assert.deepEqual(service.activeGrants(agent, 'customers'), []);
    await time.advance(3_000);
    assert.deepEqual(ended, [[g.id, 'expired']], 'retries do not announce again');
    sink.failing = false;
    await time.advance(1_000);
    assert.equal(store.getGrant(g.id)?.status, 'expired');
    assert.deepEqual(ended, [[g.id, 'expired']]);
  });

  test('listGrants: own grants, plus pending/active ones for approver groups', async () => {
    const { service } = harness();
    const g1 = await service.requestGrant(grantInput());
    const g2 = await service.requestGrant(grantInput({ requester: human('pat', ['dev']), table: null }));
    await service.revokeGrant(g2.id, human('pat', ['dev']));
    assert.deepEqual(service.listGrants(agent).map((g) => g.id), [g1.id]);
    assert.deepEqual(service.listGrants(dana).map((g) => g.id), [g1.id], 'revoked grant of someone else is not listed for approvers');
    assert.deepEqual(service.listGrants(human('pat', ['dev'])).map((g) => g.id), [g2.id]);
    assert.deepEqual(service.listGrants(human('ola', ['dev'])), []);
    assert.deepEqual(service.listGrants(agent, { status: 'active' }), []);
  });
});

describe('ending live sessions', () => {
  interface FakeSession {
    principal: Principal;
    connection: { name: string; protocol: string; spec: unknown };
    killed: string[];
    kill(reason: string): void;
  }
  function session(principal: Principal, connection: string): FakeSession {
    const s: FakeSession = { principal, connection: { name: connection, protocol: 'postgres', spec: {} }, killed: [], kill: (r) => s.killed.push(r) };
    return s;
  }

  test('revoke kills the requester’s sessions on that connection, and only those', async () => {
    const { service, time } = harness();
    const mine = session(agent, 'customers');
    const otherConn = session(agent, 'payments');
    const otherPerson = session(human('pat', ['agents']), 'customers');
    const live = { liveSessions: [mine, otherConn, otherPerson] };
    const off = endSessionsOnGrantEnd(service, live);
    const g = await service.requestGrant(grantInput());
    await service.approveGrant(g.id, dana, 'ok');
    await service.revokeGrant(g.id, dana, 'done');
    assert.deepEqual([mine.killed, otherConn.killed, otherPerson.killed], [['grant_revoked'], [], []]);
    const g2: Grant = await service.requestGrant(grantInput({ durationSeconds: 5 }));
    await service.approveGrant(g2.id, dana, 'ok');
    await time.advance(5_000);
    assert.deepEqual(mine.killed, ['grant_revoked', 'grant_expired']);
    off();
  });
});
