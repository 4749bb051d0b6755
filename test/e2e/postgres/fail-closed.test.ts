// Fail closed: when the event store cannot take a statement's event, the
// statement is refused with a clear error and never reaches the upstream,
// and the session stays usable. Gatehouse runs in-process here so the test
// can make its event sink fail on demand.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { parseConfig } from '../../../src/config/load.ts';
import { startGateway, type Gateway } from '../../../src/server/gateway.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import type { EventSink } from '../../../src/core/ports.ts';
import type { GatewayEvent } from '../../../src/core/audit/events.ts';
import { GatewayError } from '../../../src/shared/errors.ts';
import { DevIssuer } from '../../../src/infra/idp/dev-issuer.ts';
import { Vault } from '../../../src/infra/vault/vault.ts';
import { startPostgres, readServerLog, type PgCluster } from '../../harness/postgres.ts';
import { freePort } from '../../harness/ports.ts';
import { removeDir } from '../../harness/gateway.ts';

let cluster: PgCluster;
let gw: Gateway;
let dir: string;
let failing = false;
const recorded: GatewayEvent[] = [];

const sink: EventSink = {
  async append(e) {
    if (failing) throw new GatewayError('GW_EVENT_STORE_UNAVAILABLE', 'audit log unavailable: statement refused', { clientSafe: true });
    recorded.push(e);
    return { ...e, seq: recorded.length };
  },
};

before(async () => {
  cluster = await startPostgres({ logStatements: true });
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-failclosed-'));
  const { config, env } = await gatewayConfig(dir);
  gw = await startGateway({ config, log: silentLogger, events: sink, env });
});

/** A gateway configuration with state in `state` and the cluster's credential in its vault. */
async function gatewayConfig(state: string) {
  const env = { ...process.env, GATEHOUSE_MASTER_KEY: randomBytes(32).toString('base64') };
  Vault.open({ stateDir: state, allowDevKey: false, env }).set('db', cluster.appPassword);
  const config = parseConfig(
    `listen: { postgres: 127.0.0.1:${await freePort()}, admin: 127.0.0.1:${await freePort()} }
state: ${state}
identity: { dev: true }
connections:
  - name: customers
    protocol: postgres
    upstream: { host: 127.0.0.1, port: ${cluster.port}, database: bank, user: app, password: "vault:db", tls: disable }
    allow: { groups: [agents] }
`,
    env,
  );
  return { config, env };
}

after(async () => {
  await gw?.stop();
  await cluster?.stop();
  if (dir) await removeDir(dir);
});

test('a statement whose event cannot be written is refused, never forwarded, and the session goes on', async () => {
  const token = await (await DevIssuer.load(dir)).sign({ sub: 'ci-bot', groups: ['agents'] });
  const c = new pg.Client({ host: '127.0.0.1', port: gw.postgres.port, database: 'customers', user: 'ci-bot', password: token });
  await c.connect();
  assert.equal((await c.query('SELECT 1 AS x')).rows[0].x, 1);
  failing = true;
  await assert.rejects(c.query("SELECT 'must-not-run-simple'"), (e: Error & { code?: string }) => {
    assert.equal(e.code, '58000');
    assert.match(e.message, /audit log unavailable: statement refused/);
    return true;
  });
  await assert.rejects(c.query({ text: "SELECT 'must-not-run-extended', $1::int", values: [1] }), /audit log unavailable/);
  failing = false;
  assert.equal((await c.query('SELECT 2 AS x')).rows[0].x, 2, 'the session is still usable');
  await c.end();
  const upstreamLog = await readServerLog(cluster);
  assert.ok(!upstreamLog.includes('must-not-run'), 'a refused statement never reached the upstream');
});

test('the real audit log, full: statements are refused and never forwarded; when space returns the same session goes on and the log verifies', async (t) => {
  // A gateway with its real SQLite audit log. SQLite's max_page_count makes the database "full" exactly as
  // a full disk does (SQLITE_FULL: "database or disk is full"), without needing a small filesystem.
  const state = await mkdtemp(join(tmpdir(), 'gatehouse-full-'));
  const { config, env } = await gatewayConfig(state);
  const real = await startGateway({ config, log: silentLogger, env });
  t.after(async () => {
    await real.stop();
    await removeDir(state);
  });
  const token = await (await DevIssuer.load(state)).sign({ sub: 'ci-bot', groups: ['agents'] });
  const c = new pg.Client({ host: '127.0.0.1', port: real.postgres.port, database: 'customers', user: 'ci-bot', password: token });
  await c.connect();
  assert.equal((await c.query('SELECT 1 AS x')).rows[0].x, 1);
  await new Promise((r) => setTimeout(r, 50)); // statement.finished rides with a batch within 20 ms
  const db = (real.store as unknown as { db: { pragma(s: string): unknown } }).db;
  const pages = (db.pragma('page_count') as { page_count: number }[])[0]!.page_count;
  db.pragma(`max_page_count = ${pages}`);
  // Statements until the store has no room left: each is either recorded and run, or refused and not run.
  let refusedAt = -1;
  for (let i = 0; i < 500 && refusedAt < 0; i++) {
    try {
      // Long statement texts: each statement.started payload needs room of its own.
      await c.query(`SELECT 'fill-${i}-${'x'.repeat(3000)}' AS filler`);
    } catch (e) {
      assert.equal((e as { code?: string }).code, '58000');
      assert.match((e as Error).message, /audit log unavailable: statement refused/);
      refusedAt = i;
    }
  }
  assert.ok(refusedAt >= 0, 'the store filled up');
  await assert.rejects(c.query(`SELECT 'must-not-run-when-full-${'y'.repeat(3000)}'`), /audit log unavailable/);
  // The readiness probe tells the load balancer to send sessions elsewhere, without a token and without details.
  const readyz = async (): Promise<{ status: number; body: unknown }> => {
    const r = await fetch(`http://127.0.0.1:${real.admin.port}/readyz`);
    return { status: r.status, body: await r.json() };
  };
  assert.deepEqual(await readyz(), { status: 503, body: { status: 'unavailable', checks: { sessions: 'ok', audit: 'failing' } } });
  assert.equal((await fetch(`http://127.0.0.1:${real.admin.port}/healthz`)).status, 200, 'alive all the same');
  // Space returns: the same session goes on, and the gateway is ready again.
  db.pragma('max_page_count = 1073741823');
  assert.equal((await c.query('SELECT 3 AS x')).rows[0].x, 3);
  assert.deepEqual(await readyz(), { status: 200, body: { status: 'ready', checks: { sessions: 'ok', audit: 'ok' } } });
  await c.end();
  const upstreamLog = await readServerLog(cluster);
  assert.ok(!upstreamLog.includes('must-not-run-when-full'), 'a refused statement never reached the upstream');
  assert.ok(!upstreamLog.includes(`fill-${refusedAt}-`), 'the statement refused when the store filled never reached the upstream');
  // Every statement the upstream ran has its event, and the log verifies.
  const started = real.store!.query({ types: ['statement.started'] }).map((e) => (e as { statement: string }).statement);
  for (let i = 0; i < refusedAt; i++) assert.ok(started.some((s) => s.includes(`'fill-${i}-x`)), `statement ${i} has its event`);
  assert.ok(!started.some((s) => s.includes(`'fill-${refusedAt}-x`)), 'the refused statement has no statement.started');
  const v = real.store!.verify();
  assert.equal(v.ok, true, JSON.stringify(v.firstError));
});
