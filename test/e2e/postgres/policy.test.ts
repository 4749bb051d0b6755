// Cedar policy in the data path, end to end: psql and node-postgres through
// Gatehouse against a disposable Postgres, with a policy folder on disk.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type PgCluster } from '../../harness/postgres.ts';
import { startGatehouse, removeDir, type TestGateway } from '../../harness/gateway.ts';
import { run } from '../../harness/run.ts';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';

const POLICIES = {
  'connect.cedar': `
@id("staff-connect")
permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"connect", resource == Gatehouse::Connection::"customers");
@id("analysts-connect")
permit (principal in Gatehouse::Group::"fraud-analysts", action in [Gatehouse::Action::"connect", Gatehouse::Action::"sql:read"], resource in Gatehouse::Connection::"customers");
`,
  'read.cedar': `
@id("agents-read-only")
permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"sql:read", resource in Gatehouse::Connection::"customers");
`,
  'ddl.cedar': `
@id("no-ddl")
forbid (principal, action == Gatehouse::Action::"sql:ddl", resource);
`,
  'unmask.cedar': `
@id("analysts-unmask-cards")
permit (principal in Gatehouse::Group::"fraud-analysts", action == Gatehouse::Action::"unmask", resource == Gatehouse::DataClass::"payment_card");
`,
};

let cluster: PgCluster;
let gw: TestGateway;
let policyDir: string;

before(async () => {
  policyDir = await mkdtemp(join(tmpdir(), 'gatehouse-policy-'));
  for (const [f, text] of Object.entries(POLICIES)) await writeFile(join(policyDir, f), text);
  cluster = await startPostgres();
  gw = await startGatehouse(
    { host: cluster.host, port: cluster.port, database: cluster.database, user: cluster.appUser, password: cluster.appPassword },
    { extraYaml: `policy: { dir: "${policyDir}" }\n` },
  );
});

after(async () => {
  await gw?.stop('SIGKILL');
  await cluster?.stop();
  if (gw) await removeDir(gw.dir);
  await removeDir(policyDir);
});

async function connect(groups = ['agents'], sub = 'ci-bot'): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, database: 'customers', user: sub, password: await gw.token({ sub, groups }) });
  await c.connect();
  return c;
}

function denied(pattern: RegExp) {
  return (e: Error & { code?: string }) => {
    assert.equal(e.code, '42501', e.message);
    assert.match(e.message, pattern);
    return true;
  };
}

test('allowed read; denied write names action, table, policy and what is allowed; session stays usable', async () => {
  const c = await connect();
  assert.equal((await c.query('SELECT count(*)::int AS n FROM customers')).rows[0].n, 100);
  await assert.rejects(
    c.query("UPDATE customers SET email = 'x@example.com' WHERE id = 1"),
    denied(/Gatehouse denied sql:write on public\.customers: no policy permits it for ci-bot \(groups: agents\)\. Policy 'agents-read-only' allows sql:read/),
  );
  assert.equal((await c.query('SELECT 1 AS x')).rows[0].x, 1, 'session usable after a denial');
  // Nothing was written.
  assert.notEqual((await cluster.psql('SELECT email FROM customers WHERE id = 1')).trim(), 'x@example.com');
  await c.end();
});

test('a denial inside a transaction aborts it until ROLLBACK, as Postgres does', async () => {
  const c = await connect();
  await c.query('BEGIN');
  await c.query('SELECT 1');
  await assert.rejects(c.query('DELETE FROM accounts'), denied(/sql:write on public\.accounts/));
  await assert.rejects(c.query('SELECT 1'), (e: Error & { code?: string }) => e.code === '25P02');
  await c.query('ROLLBACK');
  assert.equal((await c.query('SELECT 2 AS x')).rows[0].x, 2);
  await c.end();
});

test('extended protocol: a denied Execute is refused and the batch is skipped until Sync', async () => {
  const c = await connect();
  await assert.rejects(c.query({ text: 'UPDATE customers SET balance = $1 WHERE id = $2', values: [0, 1] }), denied(/sql:write on public\.customers/));
  const r = await c.query({ text: 'SELECT name FROM customers WHERE id = $1', values: [2] });
  assert.equal(r.rows.length, 1);
  await c.end();
});

test('hidden writes are caught: data-modifying CTE, multi-statement, side-effect function, DDL forbid', async () => {
  const c = await connect();
  await assert.rejects(c.query('WITH gone AS (DELETE FROM accounts RETURNING id) SELECT count(*) FROM gone'), denied(/sql:write on public\.accounts/));
  await assert.rejects(c.query('SELECT 1; DELETE FROM accounts'), denied(/sql:write/));
  await assert.rejects(c.query('SELECT pg_terminate_backend(1)'), denied(/sql:admin/));
  await assert.rejects(c.query('CREATE TABLE evil (id int)'), denied(/forbidden by policy 'no-ddl'/));
  assert.equal((await cluster.psql('SELECT count(*) FROM accounts')).trim(), '150', 'no row was deleted');
  await c.end();
});

test('a statement the parser rejects is sql:unknown and denied', async () => {
  const c = await connect();
  await assert.rejects(c.query('SELEC broken FROM'), denied(/sql:unknown/));
  await c.end();
});

test('search_path is tracked: an unqualified name resolves to the schema Postgres would use', async () => {
  await cluster.psql('CREATE SCHEMA IF NOT EXISTS vault; CREATE TABLE IF NOT EXISTS vault.customers (id int); GRANT USAGE ON SCHEMA vault TO app; GRANT SELECT, UPDATE ON vault.customers TO app;');
  const c = await connect();
  await c.query('SET search_path = vault, public');
  await assert.rejects(c.query('UPDATE customers SET id = 1'), denied(/vault\.customers/));
  await c.end();
});

test('unmask is decided per group and recorded on the statement event', async () => {
  const analyst = await connect(['fraud-analysts'], 'fiona');
  await analyst.query('SELECT card FROM customers LIMIT 1');
  await analyst.end();
  const agent = await connect(['agents'], 'ci-bot-2');
  await agent.query('SELECT card FROM customers LIMIT 1');
  await agent.end();
  await new Promise((r) => setTimeout(r, 300));
  const events = await gw.events();
  const started = (sub: string) =>
    events.find((e) => e.type === 'statement.started' && (e.body.identity as { subject: string }).subject === sub && String(e.body.statement).includes('card'));
  assert.deepEqual(started('fiona')?.body.unmaskable, ['payment_card']);
  assert.deepEqual(started('ci-bot-2')?.body.unmaskable, []);
  const denial = events.find((e) => e.type === 'statement.denied');
  assert.ok(denial, 'denials are recorded');
  assert.ok((denial.body.decision as { policyIds: string[] }).policyIds !== undefined);
});

test('policies hot-reload; a broken file keeps the old set in force', async () => {
  const c = await connect();
  await assert.rejects(c.query('DELETE FROM accounts WHERE id = -1'), denied(/sql:write/));
  await writeFile(join(policyDir, 'write.cedar'), `
@id("agents-may-write-accounts")
permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"sql:write", resource == Gatehouse::Table::"public.accounts");
`);
  await waitFor(async () => (await c.query('DELETE FROM accounts WHERE id = -1').then(() => true, () => false)));
  // A broken file: the previous set (with the write permit) stays in force, and the log says why.
  await writeFile(join(policyDir, 'broken.cedar'), 'permit (principal, action, resource) when { this is not cedar };');
  await waitFor(async () => /policy reload failed/.test(gw.output()));
  await c.query('DELETE FROM accounts WHERE id = -1');
  await c.end();
  const check = await run(process.execPath, [join(import.meta.dirname, '../../../bin/gatehouse.js'), 'policy', 'check', policyDir]);
  assert.equal(check.code, 1);
  assert.match(check.stderr, /broken\.cedar:1/);
});

async function waitFor(cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail('condition not met in time');
}
