import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../core/logger.ts';
import type { ApprovalService } from '../core/approvals/service.ts';
import { agent, FakeVerifier, harness, human, requestInput, workload } from '../core/approvals/test-support.ts';
import { createAdminApi } from './admin-api.ts';

const pat = human('pat', ['dev']);
const tokens = {
  'tok-agent': agent,
  'tok-dana': human('dana', ['dba']),
  'tok-erin': human('erin', ['dba']),
  'tok-sam': human('sam', ['dba', 'security']),
  'tok-pat': pat,
  'tok-patdba': human('pat-dba', ['dba']),
  'tok-ola': human('ola', ['developers']),
  'tok-ci-dba': workload('ci-deployer', ['dba']),
};

function setup(opts: Parameters<typeof harness>[0] = {}) {
  const h = harness(opts);
  const app = createAdminApi({ approvals: h.service, verifier: new FakeVerifier(tokens), log: silentLogger });
  async function call(method: string, path: string, token: string | null, body?: unknown): Promise<{ status: number; json: any; headers: Headers; text: string }> {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const res = await app.request(path, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null, headers: res.headers, text };
  }
  return { ...h, app, call };
}

function assertError(r: { status: number; json: any }, status: number, code: string): void {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.equal(r.json.error.code, code);
  assert.equal(typeof r.json.error.message, 'string');
}

describe('admin API: authentication', () => {
  test('no token, a malformed header or a bad token is a 401 with a JSON error', async () => {
    const { call, app } = setup();
    const none = await call('GET', '/api/v1/approvals', null);
    assertError(none, 401, 'GW_AUTH_TOKEN_MISSING');
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    const basic = await app.request('/api/v1/approvals', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    assert.equal(basic.status, 401);
    const bad = await call('GET', '/api/v1/approvals', 'not-a-token');
    assertError(bad, 401, 'GW_AUTH_TOKEN_INVALID');
    assert.ok(!bad.text.includes('not-a-token'), 'the token is never echoed');
    const long = await call('GET', '/api/v1/approvals', 'x'.repeat(20_000));
    assertError(long, 401, 'GW_AUTH_TOKEN_INVALID');
  });

  test('a verifier that throws something unexpected still gives 401 (fail closed)', async () => {
    const h = harness();
    const app = createAdminApi({ approvals: h.service, verifier: { verify: () => Promise.reject(new Error('jwks parse: secret detail')) }, log: silentLogger });
    const res = await app.request('/api/v1/approvals', { headers: { authorization: 'Bearer abc' } });
    assert.equal(res.status, 401);
    assert.ok(!(await res.text()).includes('secret detail'));
  });

  test('unknown routes are JSON 404s; responses are no-store', async () => {
    const { call } = setup();
    const r = await call('GET', '/api/v1/nothing', 'tok-dana');
    assertError(r, 404, 'GW_API_NOT_FOUND');
    assert.equal(r.headers.get('cache-control'), 'no-store');
  });

  test('internal errors are a generic 500 without detail', async () => {
    const broken = { list: () => { throw new Error('sqlite: secret detail'); } } as unknown as ApprovalService;
    const app = createAdminApi({ approvals: broken, verifier: new FakeVerifier(tokens), log: silentLogger });
    const res = await app.request('/api/v1/approvals', { headers: { authorization: 'Bearer tok-dana' } });
    assert.equal(res.status, 500);
    const text = await res.text();
    assert.equal(JSON.parse(text).error.code, 'GW_INTERNAL');
    assert.ok(!text.includes('secret detail'));
  });
});

describe('admin API: approvals', () => {
  test('list: approvers see their groups’ requests, requesters their own, others nothing; ?status filters', async () => {
    const { service, call } = setup();
    const r = await service.request(requestInput());
    const other = await service.request(requestInput({ statement: 'DELETE FROM x', approverGroups: ['security'] }));
    const dana = await call('GET', '/api/v1/approvals', 'tok-dana');
    assert.equal(dana.status, 200);
    assert.deepEqual(dana.json.approvals.map((a: any) => a.id), [r.id]);
    const mine = await call('GET', '/api/v1/approvals', 'tok-agent');
    assert.deepEqual(mine.json.approvals.map((a: any) => a.id).sort(), [r.id, other.id].sort());
    const ola = await call('GET', '/api/v1/approvals', 'tok-ola');
    assert.deepEqual(ola.json.approvals, []);
    const pending = await call('GET', '/api/v1/approvals?status=pending', 'tok-dana');
    assert.equal(pending.json.approvals.length, 1);
    const approved = await call('GET', '/api/v1/approvals?status=approved', 'tok-dana');
    assert.deepEqual(approved.json.approvals, []);
    assertError(await call('GET', '/api/v1/approvals?status=bogus', 'tok-dana'), 400, 'GW_API_BAD_REQUEST');
    assertError(await call('GET', '/api/v1/approvals?limit=0', 'tok-dana'), 400, 'GW_API_BAD_REQUEST');
    assertError(await call('GET', '/api/v1/approvals?sort=x', 'tok-dana'), 400, 'GW_API_BAD_REQUEST');
  });

  test('show: the request with its statement and hashes; not found for outsiders and unknown ids', async () => {
    const { service, call } = setup();
    const r = await service.request(requestInput());
    const shown = await call('GET', `/api/v1/approvals/${r.id}`, 'tok-dana');
    assert.equal(shown.status, 200);
    const a = shown.json.approval;
    assert.equal(a.id, r.id);
    assert.equal(a.status, 'pending');
    assert.equal(a.statement, r.statement);
    assert.equal(a.statementHash, r.statementHash);
    assert.equal(a.bindingHash, r.bindingHash);
    assert.equal(a.policyVersion, 3);
    assert.equal(a.requester.subject, agent.subject);
    assert.deepEqual(a.requester.ci, { repository: 'acme/app', run_id: '42' });
    assert.equal(a.expiresAt, new Date(r.expiresAt).toISOString());
    assertError(await call('GET', `/api/v1/approvals/${r.id}`, 'tok-ola'), 404, 'GW_APPROVAL_NOT_FOUND');
    assertError(await call('GET', '/api/v1/approvals/apr_nope', 'tok-dana'), 404, 'GW_APPROVAL_NOT_FOUND');
  });

  test('approve: 200; self-approval, workload token and non-approver are 403; a decided request is 409', async () => {
    const { service, call } = setup();
    const own = await service.request(requestInput({ requester: human('pat-dba', ['dba']) }));
    assertError(await call('POST', `/api/v1/approvals/${own.id}/approve`, 'tok-patdba', { reason: 'mine' }), 403, 'GW_APPROVAL_SELF');
    const r = await service.request(requestInput());
    assertError(await call('POST', `/api/v1/approvals/${r.id}/approve`, 'tok-ci-dba', { reason: 'bot' }), 403, 'GW_APPROVAL_NOT_HUMAN');
    assertError(await call('POST', `/api/v1/approvals/${r.id}/approve`, 'tok-ola', { reason: 'ok' }), 403, 'GW_APPROVAL_NOT_APPROVER');
    assertError(await call('POST', `/api/v1/approvals/${r.id}/approve`, 'tok-agent', { reason: 'ok' }), 403, 'GW_APPROVAL_NOT_HUMAN');
    const ok = await call('POST', `/api/v1/approvals/${r.id}/approve`, 'tok-dana', { reason: 'checked the WHERE clause' });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.approval.status, 'approved');
    assert.deepEqual(ok.json.approval.approvals.map((v: any) => [v.approver.subject, v.reason]), [['dana', 'checked the WHERE clause']]);
    assert.ok(ok.json.approval.validUntil);
    assertError(await call('POST', `/api/v1/approvals/${r.id}/approve`, 'tok-erin', { reason: 'late' }), 409, 'GW_APPROVAL_NOT_PENDING');
    assertError(await call('POST', `/api/v1/approvals/${r.id}/deny`, 'tok-erin', { reason: 'late' }), 409, 'GW_APPROVAL_NOT_PENDING');
    assertError(await call('POST', '/api/v1/approvals/apr_nope/approve', 'tok-dana', { reason: 'x' }), 404, 'GW_APPROVAL_NOT_FOUND');
  });

  test('2-of-N through the API: one person in two groups counts once (409), a second person completes it', async () => {
    const { service, call } = setup();
    const r = await service.request(requestInput({ approverGroups: ['dba', 'security'], approvalsNeeded: 2 }));
    const one = await call('POST', `/api/v1/approvals/${r.id}/approve`, 'tok-sam', { reason: 'one' });
    assert.equal(one.json.approval.status, 'pending');
    assertError(await call('POST', `/api/v1/approvals/${r.id}/approve`, 'tok-sam', { reason: 'again' }), 409, 'GW_APPROVAL_ALREADY_VOTED');
    const two = await call('POST', `/api/v1/approvals/${r.id}/approve`, 'tok-dana', { reason: 'two' });
    assert.equal(two.json.approval.status, 'approved');
  });

  test('deny with a reason; a reason is required; bodies are validated', async () => {
    const { service, call } = setup();
    const r = await service.request(requestInput());
    assertError(await call('POST', `/api/v1/approvals/${r.id}/deny`, 'tok-dana', {}), 400, 'GW_API_BAD_REQUEST');
    assertError(await call('POST', `/api/v1/approvals/${r.id}/deny`, 'tok-dana', { reason: '  ' }), 400, 'GW_API_BAD_REQUEST');
    assertError(await call('POST', `/api/v1/approvals/${r.id}/deny`, 'tok-dana', '{not json'), 400, 'GW_API_BAD_REQUEST');
    assertError(await call('POST', `/api/v1/approvals/${r.id}/deny`, 'tok-dana', { reason: 'x', extra: 1 }), 400, 'GW_API_BAD_REQUEST');
    assertError(await call('POST', `/api/v1/approvals/${r.id}/deny`, 'tok-dana', { reason: 7 }), 400, 'GW_API_BAD_REQUEST');
    const big = await call('POST', `/api/v1/approvals/${r.id}/deny`, 'tok-dana', { reason: 'x'.repeat(70_000) });
    assert.equal(big.status, 413);
    const d = await call('POST', `/api/v1/approvals/${r.id}/deny`, 'tok-dana', { reason: 'not during the freeze' });
    assert.equal(d.status, 200);
    assert.equal(d.json.approval.status, 'denied');
    assert.deepEqual([d.json.approval.denial.approver.subject, d.json.approval.denial.reason], ['dana', 'not during the freeze']);
  });

  test('an expired request is 409', async () => {
    const { service, call, time } = setup();
    const r = await service.request(requestInput({ ttlSeconds: 10 }));
    await time.advance(10_000);
    const shown = await call('GET', `/api/v1/approvals/${r.id}`, 'tok-dana');
    assert.equal(shown.json.approval.status, 'expired');
    assertError(await call('POST', `/api/v1/approvals/${r.id}/approve`, 'tok-dana', { reason: 'late' }), 409, 'GW_APPROVAL_NOT_PENDING');
  });

  test('audit log down: the decision is refused with 503', async () => {
    const { service, call, sink } = setup();
    const r = await service.request(requestInput());
    sink.failing = true;
    assertError(await call('POST', `/api/v1/approvals/${r.id}/approve`, 'tok-dana', { reason: 'ok' }), 503, 'GW_EVENT_STORE_UNAVAILABLE');
    assert.equal(service.get(r.id)?.status, 'pending');
  });
});

describe('admin API: grants', () => {
  test('request (agent), list, approve, show, revoke', async () => {
    const { call, service } = setup();
    const created = await call('POST', '/api/v1/grants', 'tok-agent', { connection: 'customers', action: 'sql:write', table: 'public.orders', duration: '30m', reason: 'CHG-1234' });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const g = created.json.grant;
    assert.equal(g.status, 'pending');
    assert.equal(g.durationSeconds, 1800);
    assert.equal(g.table, 'public.orders');
    assert.equal(g.expiresAt, null);

    assert.deepEqual((await call('GET', '/api/v1/grants', 'tok-agent')).json.grants.map((x: any) => x.id), [g.id]);
    assert.deepEqual((await call('GET', '/api/v1/grants', 'tok-dana')).json.grants.map((x: any) => x.id), [g.id], 'approvers see pending ones');
    assert.deepEqual((await call('GET', '/api/v1/grants', 'tok-ola')).json.grants, []);
    assertError(await call('GET', `/api/v1/grants/${g.id}`, 'tok-ola'), 404, 'GW_GRANT_NOT_FOUND');

    assertError(await call('POST', `/api/v1/grants/${g.id}/approve`, 'tok-agent', { reason: 'me' }), 403, 'GW_APPROVAL_NOT_HUMAN');
    assertError(await call('POST', `/api/v1/grants/${g.id}/approve`, 'tok-ola', { reason: 'ok' }), 403, 'GW_APPROVAL_NOT_APPROVER');
    const approved = await call('POST', `/api/v1/grants/${g.id}/approve`, 'tok-dana', { reason: 'CAB approved' });
    assert.equal(approved.status, 200);
    assert.equal(approved.json.grant.status, 'active');
    assert.ok(approved.json.grant.expiresAt);
    assert.equal(service.activeGrants(agent, 'customers').length, 1);
    assert.equal((await call('GET', `/api/v1/grants/${g.id}`, 'tok-agent')).json.grant.status, 'active');
    assert.deepEqual((await call('GET', '/api/v1/grants?status=active', 'tok-agent')).json.grants.length, 1);

    assertError(await call('POST', `/api/v1/grants/${g.id}/revoke`, 'tok-ola', {}), 403, 'GW_GRANT_FORBIDDEN');
    const revoked = await call('POST', `/api/v1/grants/${g.id}/revoke`, 'tok-dana', { reason: 'done early' });
    assert.equal(revoked.status, 200);
    assert.equal(revoked.json.grant.status, 'revoked');
    assert.equal(revoked.json.grant.revokedBy.subject, 'dana');
    assert.deepEqual(service.activeGrants(agent, 'customers'), []);
    assertError(await call('POST', `/api/v1/grants/${g.id}/revoke`, 'tok-dana', {}), 409, 'GW_GRANT_ENDED');
  });

  test('the requester can revoke their own grant without a body', async () => {
    const { call } = setup();
    const g = (await call('POST', '/api/v1/grants', 'tok-pat', { connection: 'customers', action: 'sql:write', durationSeconds: 600, reason: 'x' })).json.grant;
    const r = await call('POST', `/api/v1/grants/${g.id}/revoke`, 'tok-pat');
    assert.equal(r.status, 200);
    assert.equal(r.json.grant.status, 'revoked');
  });

  test('grant requests are validated', async () => {
    const { call } = setup();
    const base = { connection: 'customers', action: 'sql:write', duration: '30m', reason: 'CHG-1' };
    assertError(await call('POST', '/api/v1/grants', 'tok-agent', { ...base, duration: '30' }), 400, 'GW_API_BAD_REQUEST');
    assertError(await call('POST', '/api/v1/grants', 'tok-agent', { ...base, duration: undefined }), 400, 'GW_API_BAD_REQUEST');
    assertError(await call('POST', '/api/v1/grants', 'tok-agent', { ...base, durationSeconds: 60 }), 400, 'GW_API_BAD_REQUEST');
    assertError(await call('POST', '/api/v1/grants', 'tok-agent', { ...base, action: 'DROP TABLE' }), 400, 'GW_API_BAD_REQUEST');
    assertError(await call('POST', '/api/v1/grants', 'tok-agent', { ...base, connection: '../x' }), 400, 'GW_API_BAD_REQUEST');
    assertError(await call('POST', '/api/v1/grants', 'tok-agent', { ...base, reason: '' }), 400, 'GW_API_BAD_REQUEST');
    assertError(await call('POST', '/api/v1/grants', 'tok-agent', { ...base, duration: '9h' }), 400, 'GW_APPROVAL_INVALID');
    assertError(await call('POST', '/api/v1/grants', 'tok-agent', { ...base, connection: 'payments' }), 403, 'GW_GRANT_UNAVAILABLE');
    assertError(await call('GET', '/api/v1/grants?status=nope', 'tok-agent'), 400, 'GW_API_BAD_REQUEST');
  });

  test('responses never contain tokens or claims beyond the CI set', async () => {
    const { call, service } = setup();
    await service.request(requestInput({ requester: pat }));
    const all = [
      await call('GET', '/api/v1/approvals', 'tok-pat'),
      await call('POST', '/api/v1/grants', 'tok-pat', { connection: 'customers', action: 'sql:read', duration: '1h', reason: 'x' }),
      await call('GET', '/api/v1/grants', 'tok-pat'),
    ];
    for (const r of all) {
      assert.ok(!r.text.includes('tok-'), 'no token');
      assert.ok(!r.text.includes('@example.com'), 'no email claim');
    }
  });
});

describe('admin API: probes', () => {
  test('/healthz and /readyz need no token; /readyz is 503 naming the failing check, and never says more', async () => {
    const h = harness();
    let checks: Record<string, 'ok' | 'failing' | 'stopping'> = { sessions: 'ok', audit: 'ok' };
    const app = createAdminApi({ approvals: h.service, verifier: new FakeVerifier(tokens), log: silentLogger, readiness: () => ({ checks }) });
    const live = await app.request('/healthz');
    assert.equal(live.status, 200);
    assert.deepEqual(await live.json(), { status: 'ok' });
    assert.equal(live.headers.get('cache-control'), 'no-store');
    const ready = await app.request('/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', checks: { sessions: 'ok', audit: 'ok' } });
    checks = { sessions: 'ok', audit: 'failing' };
    const failing = await app.request('/readyz');
    assert.equal(failing.status, 503);
    assert.deepEqual(await failing.json(), { status: 'unavailable', checks: { sessions: 'ok', audit: 'failing' } });
    checks = { sessions: 'stopping', audit: 'ok' };
    assert.equal((await app.request('/readyz')).status, 503);
    // Probes are GETs; the API under /api/v1 still needs a token.
    assert.equal((await app.request('/readyz', { method: 'POST' })).status, 404);
    assert.equal((await app.request('/api/v1/approvals')).status, 401);
    // Without a readiness source (tests, embedding) the API is ready.
    const bare = createAdminApi({ approvals: h.service, verifier: new FakeVerifier(tokens), log: silentLogger });
    assert.deepEqual(await (await bare.request('/readyz')).json(), { status: 'ready', checks: {} });
    // /metrics only when a source is given, with its content type, and no token.
    assert.equal((await bare.request('/metrics')).status, 404);
    const withMetrics = createAdminApi({
      approvals: h.service,
      verifier: new FakeVerifier(tokens),
      log: silentLogger,
      metrics: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'gatehouse_up 1\n' }),
    });
    const m = await withMetrics.request('/metrics');
    assert.equal(m.status, 200);
    assert.equal(m.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(await m.text(), 'gatehouse_up 1\n');
  });
});
