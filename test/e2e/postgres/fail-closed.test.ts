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
  const env = { ...process.env, GATEHOUSE_MASTER_KEY: randomBytes(32).toString('base64') };
  Vault.open({ stateDir: dir, allowDevKey: false, env }).set('db', cluster.appPassword);
  const config = parseConfig(
    `listen: { postgres: 127.0.0.1:${await freePort()}, admin: 127.0.0.1:${await freePort()} }
state: ${dir}
identity: { dev: true }
connections:
  - name: customers
    protocol: postgres
    upstream: { host: 127.0.0.1, port: ${cluster.port}, database: bank, user: app, password: "vault:db", tls: disable }
    allow: { groups: [agents] }
`,
    env,
  );
  gw = await startGateway({ config, log: silentLogger, events: sink, env });
});

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
