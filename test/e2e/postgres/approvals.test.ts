// Approvals and just-in-time grants end to end: node-postgres and psql
// through Gatehouse, approvers using the real `gatehouse approvals` /
// `gatehouse access` CLI against the admin API, a webhook receiver on loopback.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type PgCluster } from '../../harness/postgres.ts';
import { startGatehouse, removeDir, CLI, type TestGateway } from '../../harness/gateway.ts';
import { run } from '../../harness/run.ts';

const POLICY = `
@id("connect")
permit (principal, action == Gatehouse::Action::"connect", resource);

@id("read")
permit (principal, action == Gatehouse::Action::"sql:read", resource);

@id("customers-writes-need-a-dba")
@approvers("dba")
@approvals("1")
@approval_ttl("15m")
permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"sql:write", resource == Gatehouse::Table::"public.customers")
when { context has approval };

@id("accounts-writes-need-two")
@approvers("dba, security")
@approvals("2")
permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"sql:write", resource == Gatehouse::Table::"public.accounts")
when { context has approval };

@id("writes-under-grant")
permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"sql:write", resource in Gatehouse::Connection::"customers")
when { context has grant && context.grant.actions.contains("sql:write") };
`;

let cluster: PgCluster;
let gw: TestGateway;
let policyDir: string;
let hook: Server;
const hooks: { body: string; headers: Record<string, unknown> }[] = [];

before(async () => {
  policyDir = await mkdtemp(join(tmpdir(), 'gatehouse-approvals-'));
  await writeFile(join(policyDir, 'policy.cedar'), POLICY);
  await cluster?.stop();
  cluster = await startPostgres();
  await cluster.psql('CREATE TABLE notes (id int primary key, body text); ALTER TABLE notes OWNER TO app;');
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      hooks.push({ body, headers: req.headers });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  const target = { host: cluster.host, port: cluster.port, database: cluster.database, user: cluster.appUser, password: cluster.appPassword };
  gw = await startGatehouse(target, {
    extraYaml: `    grants: { approvers: [dba], approvals: 1, maxDuration: 1h }
  - name: held
    protocol: postgres
    upstream: { host: ${target.host}, port: ${target.port}, database: bank, user: app, password: "vault:customers-db", tls: prefer }
    approvals: { mode: hold, holdTimeout: 4s }
policy: { dir: "${policyDir}" }
notifications:
  webhooks:
    - { url: "${hookUrl}", format: slack }
`,
  });
});

after(async () => {
  await gw?.stop('SIGKILL');
  await cluster?.stop();
  hook?.close();
  if (gw) await removeDir(gw.dir);
  if (policyDir) await removeDir(policyDir);
});

async function connect(sub: string, groups: string[], database = 'customers', claims: Record<string, unknown> = {}): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, database, user: sub, password: await gw.token({ sub, groups, claims }) });
  c.on('error', () => {});
  await c.connect();
  return c;
}

async function cli(sub: string, groups: string[], args: string[], claims: Record<string, unknown> = {}) {
  const token = await gw.token({ sub, groups, claims });
  return run(process.execPath, [CLI, ...args, '--api', `http://127.0.0.1:${gw.adminPort}`], { env: { GATEHOUSE_TOKEN: token }, timeoutMs: 60_000 });
}

function requestId(message: string): string {
  const id = /\b(apr_[A-Za-z0-9_-]+)/.exec(message)?.[1];
  assert.ok(id, `no request id in: ${message}`);
  return id;
}

async function refused(c: pg.Client, sql: string): Promise<string> {
  let msg = '';
  await assert.rejects(c.query(sql), (e: Error & { code?: string }) => {
    assert.equal(e.code, '42501', e.message);
    msg = e.message;
    return true;
  });
  return msg;
}

test('reject mode: refused with the request id, approved by a DBA through the CLI, the same statement then runs once', async () => {
  const agent = await connect('ci-bot', ['agents']);
  const sql = "UPDATE customers SET email = 'approved@example.com' WHERE id = 1";
  const msg = await refused(agent, sql);
  assert.match(msg, /approval/i);
  assert.match(msg, /gatehouse approvals approve/);
  const id = requestId(msg);
  const list = await cli('dana', ['dba'], ['approvals', 'list', '--status', 'pending']);
  assert.equal(list.code, 0, list.stderr);
  assert.ok(list.stdout.includes(id));
  assert.ok(list.stdout.includes('UPDATE customers'));
  const ok = await cli('dana', ['dba'], ['approvals', 'approve', id, '--reason', 'CHG-1 fix email']);
  assert.equal(ok.code, 0, ok.stderr);
  // Approving A never lets B run.
  await refused(agent, "UPDATE customers SET email = 'other@example.com' WHERE id = 1");
  // Nor A for another identity.
  const other = await connect('other-bot', ['agents']);
  await refused(other, sql);
  await other.end();
  // The approved statement runs once…
  const r = await agent.query(sql);
  assert.equal(r.rowCount, 1);
  assert.equal((await cluster.psql('SELECT email FROM customers WHERE id = 1')).trim(), 'approved@example.com');
  // …and only once.
  await refused(agent, sql);
  await agent.end();
  await new Promise((r) => setTimeout(r, 300));
  const events = await gw.events();
  const started = events.find((e) => e.type === 'statement.started' && e.body.statement === sql);
  assert.equal(started?.body.approvalId, id, 'the statement event names its approval');
  for (const t of ['approval.requested', 'approval.granted', 'approval.used']) assert.ok(events.some((e) => e.type === t), t);
});

test('self-approval, workload tokens and non-approvers are refused; a denial carries its reason', async () => {
  const both = await connect('pat', ['agents', 'dba']);
  const id = requestId(await refused(both, "UPDATE customers SET email = 'self@example.com' WHERE id = 2"));
  const self = await cli('pat', ['agents', 'dba'], ['approvals', 'approve', id, '--reason', 'me']);
  assert.notEqual(self.code, 0);
  assert.match(self.stderr, /own|self/i);
  const robot = await cli('deploy-bot', ['dba'], ['approvals', 'approve', id, '--reason', 'auto'], { gatehouse_kind: 'workload' });
  assert.notEqual(robot.code, 0);
  assert.match(robot.stderr, /human|workload/i);
  const outsider = await cli('sam', ['marketing'], ['approvals', 'approve', id, '--reason', 'why not']);
  assert.notEqual(outsider.code, 0);
  const deny = await cli('dana', ['dba'], ['approvals', 'deny', id, '--reason', 'not during the freeze']);
  assert.equal(deny.code, 0, deny.stderr);
  const show = await cli('dana', ['dba'], ['approvals', 'show', id]);
  assert.match(show.stdout, /denied/);
  assert.match(show.stdout, /not during the freeze/);
  await both.end();
});

test('2 of N: one person in two approver groups counts once', async () => {
  const agent = await connect('ci-bot', ['agents']);
  const sql = 'UPDATE accounts SET balance = balance + 1 WHERE id = 1';
  const id = requestId(await refused(agent, sql));
  assert.equal((await cli('dual', ['dba', 'security'], ['approvals', 'approve', id, '--reason', 'ok'])).code, 0);
  const again = await cli('dual', ['dba', 'security'], ['approvals', 'approve', id, '--reason', 'ok again']);
  assert.notEqual(again.code, 0, 'the same person cannot give the second approval');
  await refused(agent, sql);
  assert.equal((await cli('sec', ['security'], ['approvals', 'approve', id, '--reason', 'second pair of eyes'])).code, 0);
  assert.equal((await agent.query(sql)).rowCount, 1);
  await agent.end();
});

test('hold mode: the statement waits with a notice and completes once approved; times out otherwise', async () => {
  const agent = await connect('holder', ['agents'], 'held');
  const notices: string[] = [];
  agent.on('notice', (n) => notices.push(n.message ?? ''));
  const sql = "UPDATE customers SET email = 'held@example.com' WHERE id = 3";
  const running = agent.query(sql);
  let id = '';
  for (let i = 0; i < 50 && !id; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const m = notices.find((n) => /apr_/.test(n));
    if (m) id = requestId(m);
  }
  assert.ok(id, 'a NoticeResponse with the request id arrived while holding');
  assert.equal((await cli('dana', ['dba'], ['approvals', 'approve', id, '--reason', 'ok'])).code, 0);
  const r = await running;
  assert.equal(r.rowCount, 1);
  // Not approved in time: a clear error, and the session stays usable.
  await assert.rejects(agent.query("UPDATE customers SET email = 'late@example.com' WHERE id = 3"), /stopped waiting for approval.*did not run/);
  assert.equal((await agent.query('SELECT 1 AS x')).rows[0].x, 1);
  await agent.end();
});

test('a just-in-time grant lets writes through for its window; revoking it ends the live session', async () => {
  const agent = await connect('jit-bot', ['agents']);
  await refused(agent, "INSERT INTO notes VALUES (1, 'before grant')");
  const req = await cli('jit-bot', ['agents'], ['access', 'request', '--connection', 'customers', '--action', 'sql:write', '--duration', '30m', '--reason', 'CHG-1234', '--json']);
  assert.equal(req.code, 0, req.stderr);
  const grantId = (JSON.parse(req.stdout) as { id: string }).id;
  assert.equal((await cli('dana', ['dba'], ['access', 'approve', grantId, '--reason', 'CHG-1234 approved'])).code, 0);
  const list = await cli('jit-bot', ['agents'], ['access', 'list']);
  assert.match(list.stdout, new RegExp(`${grantId}\\s+active`));
  await agent.query("INSERT INTO notes VALUES (1, 'under grant')");
  const ended = new Promise<number>((r) => agent.once('end', () => r(Date.now())));
  const t0 = Date.now();
  assert.equal((await cli('dana', ['dba'], ['access', 'revoke', grantId, '--reason', 'done'])).code, 0);
  const t1 = await Promise.race([ended, new Promise<number>((r) => setTimeout(() => r(-1), 8000))]);
  assert.ok(t1 > 0 && t1 - t0 < 5000, 'the live session ended within 5 s of the revoke');
  const after = await connect('jit-bot', ['agents']);
  await refused(after, "INSERT INTO notes VALUES (2, 'after grant')");
  await after.end();
});

test('webhook notifications arrive with the statement escaped', async () => {
  const agent = await connect('ci-bot', ['agents']);
  const evil = "UPDATE customers SET name = '<https://evil.example|click here> @channel *bold*' WHERE id = 5";
  await refused(agent, evil);
  await agent.end();
  let got: { body: string } | undefined;
  for (let i = 0; i < 50 && !got; i++) {
    got = hooks.find((h) => h.body.includes('evil.example'));
    if (!got) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(got, 'a notification arrived');
  const text = JSON.stringify(JSON.parse(got.body));
  assert.ok(!text.includes('<https://evil.example|click here>'), 'the link is not live');
  assert.ok(!/(^|[^`])@channel/.test(text.replace(/```[\s\S]*?```/g, '')), 'no live @channel outside a code block');
  assert.ok(!text.includes(gw.masterKey));
});
