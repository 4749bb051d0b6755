// /metrics end to end: node-postgres and psql through Gatehouse (Cedar policy
// folder, real Postgres); the Prometheus text on the admin listener counts
// sessions, refusals, statements by action and outcome, durations and the
// audit log, and names no person, token or statement.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type PgCluster } from '../../harness/postgres.ts';
import { startGatehouse, removeDir, type TestGateway } from '../../harness/gateway.ts';
import { run } from '../../harness/run.ts';
import { resolve } from 'node:path';

const CLI = resolve(import.meta.dirname, '../../../bin/gatehouse.js');

const POLICY = `
@id("agents-connect")
permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"connect", resource == Gatehouse::Connection::"customers");
@id("agents-read")
permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"sql:read", resource in Gatehouse::Connection::"customers");
@id("no-ddl")
forbid (principal, action == Gatehouse::Action::"sql:ddl", resource);
`;

let cluster: PgCluster;
let gw: TestGateway;
let policyDir: string;

before(async () => {
  policyDir = await mkdtemp(join(tmpdir(), 'gatehouse-metrics-'));
  await writeFile(join(policyDir, 'policy.cedar'), POLICY);
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

async function scrape(): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return r.text();
}

/** The value of one sample (`name{a="x",…} value`), or undefined; labels must match exactly. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}="${v}"`).join(',');
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = (m[2] ?? '').split(/,(?=[a-zA-Z_]+=")/).filter(Boolean).sort().join(',');
    if (got === want) return Number(m[3]);
  }
  return undefined;
}

/** Scrape until `check` holds (lazy audit appends are counted once recorded, within milliseconds). */
async function scrapeUntil(check: (text: string) => boolean): Promise<string> {
  let text = '';
  for (let i = 0; i < 100; i++) {
    text = await scrape();
    if (check(text)) return text;
    await new Promise((r) => setTimeout(r, 50));
  }
  return text;
}

test('/metrics counts sessions, refusals, statements by action and outcome, durations and the audit log; no names, tokens or statements', async () => {
  const before = await scrape();
  assert.equal(sample(before, 'gatehouse_sessions_active', { connection: 'customers' }) ?? 0, 0);
  assert.equal(sample(before, 'gatehouse_audit_write_ok'), 1);
  assert.ok((sample(before, 'gatehouse_process_cpu_user_seconds_total') ?? -1) >= 0, 'process metrics');

  const token = await gw.token({ sub: 'ci-bot-7f3e', groups: ['agents'] });
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, database: 'customers', user: 'ci-bot-7f3e', password: token });
  await c.connect();
  for (let i = 0; i < 3; i++) await c.query('SELECT count(*) FROM customers');
  await assert.rejects(c.query('SELECT 1/0 AS secret_division'), /division by zero/);
  await assert.rejects(c.query('CREATE TABLE secret_table_9c1 (id int)'), /forbidden by policy 'no-ddl'/);
  await assert.rejects(c.query("UPDATE customers SET email = 'x'"), /no policy permits it/);
  // A bad token and a person whose groups may not connect, through psql.
  const bad = await run('psql', ['-X', '-w', '-c', 'SELECT 1', `host=127.0.0.1 port=${gw.port} dbname=customers user=ci-bot-7f3e sslmode=disable`], {
    env: { ...process.env, PGPASSWORD: 'not-a-token-5d2a' },
  });
  assert.notEqual(bad.code, 0);
  const outsider = await run('psql', ['-X', '-w', '-c', 'SELECT 1', `host=127.0.0.1 port=${gw.port} dbname=customers user=visitor sslmode=disable`], {
    env: { ...process.env, PGPASSWORD: await gw.token({ sub: 'visitor', groups: ['visitors'] }) },
  });
  assert.notEqual(outsider.code, 0);

  const during = await scrapeUntil((t) => sample(t, 'gatehouse_statement_outcomes_total', { outcome: 'error' }) === 1 && sample(t, 'gatehouse_statement_outcomes_total', { outcome: 'ok' }) === 3);
  assert.equal(sample(during, 'gatehouse_sessions_active', { connection: 'customers' }), 1);
  assert.equal(sample(during, 'gatehouse_sessions_opened_total', { connection: 'customers', protocol: 'postgres' }), 1);
  assert.equal(sample(during, 'gatehouse_statements_total', { connection: 'customers', action: 'sql:read' }), 4);
  assert.equal(sample(during, 'gatehouse_statements_denied_total', { connection: 'customers', action: 'sql:ddl' }), 1);
  assert.equal(sample(during, 'gatehouse_statements_denied_total', { connection: 'customers', action: 'sql:write' }), 1);
  assert.equal(sample(during, 'gatehouse_statement_outcomes_total', { outcome: 'ok' }), 3);
  assert.equal(sample(during, 'gatehouse_statement_outcomes_total', { outcome: 'error' }), 1);
  assert.equal(sample(during, 'gatehouse_statement_duration_seconds_count'), 4);
  assert.equal(sample(during, 'gatehouse_statement_duration_seconds_bucket', { le: '+Inf' }), 4);
  assert.equal(sample(during, 'gatehouse_auth_failures_total', { protocol: 'postgres', code: 'GW_AUTH_TOKEN_INVALID' }), 1);
  assert.equal(sample(during, 'gatehouse_connects_denied_total', { connection: 'customers' }), 1);
  const entries = sample(during, 'gatehouse_audit_entries') ?? 0;
  assert.ok(entries >= 10, `audit entries: ${entries}`);
  assert.ok((sample(during, 'gatehouse_audit_appended_total') ?? 0) >= 10);
  assert.equal(sample(during, 'gatehouse_audit_refused_total'), 0);

  await c.end();
  const afterClose = await scrapeUntil((t) => sample(t, 'gatehouse_sessions_active', { connection: 'customers' }) === 0);
  assert.equal(sample(afterClose, 'gatehouse_sessions_active', { connection: 'customers' }), 0);
  assert.equal(sample(afterClose, 'gatehouse_sessions_closed_total', { reason: 'client_terminated' }), 1);
  // Counts only: no subject, token, client statement or table name from a statement.
  for (const secret of ['ci-bot-7f3e', 'visitor', token.slice(0, 40), 'not-a-token-5d2a', 'secret_division', 'secret_table_9c1', 'customers SET']) {
    assert.ok(!afterClose.includes(secret), `'${secret}' appears in /metrics`);
  }
});

test('gatehouse audit report: the same run as an examiner reads it, from the verified log', async () => {
  // Runs after the test above, on the same gateway and log (node:test runs a file's tests in order).
  const cli = (args: string[]) => run(process.execPath, [CLI, 'audit', 'report', '--config', gw.configFile, ...args], { env: { ...process.env, GATEHOUSE_MASTER_KEY: gw.masterKey } });
  const json = await cli(['--json']);
  assert.equal(json.code, 0, json.stderr);
  const r = JSON.parse(json.stdout) as {
    verification: { ok: boolean };
    access: { subject: string; connection: string; sessions: number; statements: Record<string, number>; tables: Record<string, number>; denied: number }[];
    denials: { what: string; subject: string; action: string; policyIds: string[] }[];
    authFailures: { code: string; count: number }[];
    lifecycle: { type: string; detail: string }[];
  };
  assert.equal(r.verification.ok, true);
  const bot = r.access.find((a) => a.subject === 'ci-bot-7f3e')!;
  assert.deepEqual({ connection: bot.connection, sessions: bot.sessions, statements: bot.statements, denied: bot.denied }, { connection: 'customers', sessions: 1, statements: { 'sql:read': 4 }, denied: 2 });
  // Which tables each identity read: the three counts of customers (SELECT 1/0 touches none).
  assert.deepEqual(bot.tables, { 'public.customers': 3 });
  assert.deepEqual(r.access.find((a) => a.subject === 'visitor')?.denied, 1);
  assert.deepEqual(r.denials.map((d) => [d.what, d.subject, d.action]), [['statement', 'ci-bot-7f3e', 'sql:ddl'], ['statement', 'ci-bot-7f3e', 'sql:write'], ['connect', 'visitor', 'connect']]);
  assert.deepEqual(r.denials[0]!.policyIds, ['no-ddl']);
  assert.deepEqual(r.authFailures.map((a) => [a.code, a.count]), [['GW_AUTH_TOKEN_INVALID', 1]]);
  assert.equal(r.lifecycle[0]!.type, 'gateway.started');
  assert.match(r.lifecycle[0]!.detail, /policy version 1 \(3 policies, sha256 [0-9a-f]{64}\)/);
  // The Markdown for people: the same figures, and none of the statements.
  const md = await cli([]);
  assert.equal(md.code, 0, md.stderr);
  assert.match(md.stdout, /Log integrity: \*\*verified\*\*/);
  assert.match(md.stdout, /\| ci-bot-7f3e — https:\/\/gatehouse\.dev\.invalid \| human \| agents \| customers \| 1 \| sql:read 4 \| public\.customers 3 \| 2 \|/);
  for (const s of ['secret_division', 'secret_table_9c1', 'customers SET']) assert.ok(!md.stdout.includes(s), `'${s}' in the report`);
  // A period after everything: nothing in it, still verified.
  const later = await cli(['--from', new Date(Date.now() + 3600_000).toISOString()]);
  assert.match(later.stdout, /Entries in the period: 0\./);
});
