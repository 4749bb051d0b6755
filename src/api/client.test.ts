import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { silentLogger } from '../core/logger.ts';
import { agent, FakeVerifier, harness, human, requestInput, workload } from '../core/approvals/test-support.ts';
import { createAdminApi } from './admin-api.ts';
import { ApiError, approvalsClient } from './client.ts';

const tokens = {
  'tok-agent': agent,
  'tok-dana': human('dana', ['dba']),
  'tok-ci': workload('ci-deployer', ['dba']),
};

async function rejectsApi(p: Promise<unknown>, status: number, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.status, status);
    assert.equal(e.code, code);
    assert.ok(!e.message.includes('tok-'), 'token never in an error');
    return true;
  });
}

describe('approvals client over a real loopback listener', () => {
  const h = harness();
  const app = createAdminApi({ approvals: h.service, verifier: new FakeVerifier(tokens), log: silentLogger });
  let server: ServerType;
  let base = '';

  before(async () => {
    await new Promise<void>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
        base = `http://127.0.0.1:${info.port}/`;
        resolve();
      });
    });
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('list, show, approve, deny', async () => {
    const dana = approvalsClient(base, 'tok-dana');
    const a = await h.service.request(requestInput());
    const b = await h.service.request(requestInput({ statement: 'DELETE FROM customers' }));
    const listed = await dana.list({ status: 'pending' });
    assert.deepEqual(listed.map((x) => x.id).sort(), [a.id, b.id].sort());
    assert.equal((await dana.show(a.id)).statement, a.statement);
    assert.equal((await dana.approve(a.id, 'ok')).status, 'approved');
    assert.equal((await dana.deny(b.id, 'no')).status, 'denied');
    assert.deepEqual((await dana.list({ status: 'pending' })).map((x) => x.id), []);
    await rejectsApi(dana.approve(a.id, 'again'), 409, 'GW_APPROVAL_NOT_PENDING');
    await rejectsApi(dana.show('apr_nope'), 404, 'GW_APPROVAL_NOT_FOUND');
    await rejectsApi(approvalsClient(base, 'tok-ci').approve(b.id, 'x'), 403, 'GW_APPROVAL_NOT_HUMAN');
    await rejectsApi(approvalsClient(base, 'tok-bogus').list(), 401, 'GW_AUTH_TOKEN_INVALID');
  });

  test('grants: request, list, approve, revoke', async () => {
    const me = approvalsClient(base, 'tok-agent');
    const dana = approvalsClient(base, 'tok-dana');
    const g = await me.requestGrant({ connection: 'customers', action: 'sql:write', table: 'public.orders', duration: '30m', reason: 'CHG-1234' });
    assert.equal(g.status, 'pending');
    assert.deepEqual((await me.listGrants()).map((x) => x.id), [g.id]);
    assert.equal((await dana.approveGrant(g.id, 'ok')).status, 'active');
    assert.equal((await me.showGrant(g.id)).status, 'active');
    assert.equal((await me.revokeGrant(g.id)).status, 'revoked');
    await rejectsApi(me.revokeGrant(g.id, 'again'), 409, 'GW_GRANT_ENDED');
  });

  test('unreachable server and timeouts are ApiErrors without the token', async () => {
    const dead = approvalsClient('http://127.0.0.1:1', 'tok-dana', { timeoutMs: 2000 });
    await rejectsApi(dead.list(), 0, 'GW_API_UNREACHABLE');
    const slow = approvalsClient(base, 'tok-dana', { timeoutMs: 10, fetch: (_u, init) => new Promise((_, reject) => init.signal?.addEventListener('abort', () => reject(Object.assign(new Error('t'), { name: 'TimeoutError' })))) });
    await rejectsApi(slow.list(), 0, 'GW_API_UNREACHABLE');
  });
});

describe('approvals client with an injected fetch (app.request)', () => {
  test('works without a listener, for CLI tests', async () => {
    const h = harness();
    const app = createAdminApi({ approvals: h.service, verifier: new FakeVerifier(tokens), log: silentLogger });
    const c = approvalsClient('http://gatehouse.test', 'tok-dana', { fetch: (url, init) => Promise.resolve(app.request(url, init)) });
    const r = await h.service.request(requestInput());
    assert.equal((await c.approve(r.id, 'ok')).status, 'approved');
  });
});
