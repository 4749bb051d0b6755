// Backpressure, upstream failure, graceful shutdown and the demo, end to end.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import pg from 'pg';
import { startPostgres, type PgCluster } from '../../harness/postgres.ts';
import { startGatehouse, removeDir, type TestGateway } from '../../harness/gateway.ts';
import { freePort } from '../../harness/ports.ts';
import { encodePassword, encodeQuery, encodeStartup } from '../../../src/wire/postgres/frontend.ts';
import { MessageRelay } from '../../../src/wire/postgres/relay.ts';

let cluster: PgCluster;
let gw: TestGateway;

before(async () => {
  cluster = await startPostgres();
  gw = await startGatehouse({ host: cluster.host, port: cluster.port, database: cluster.database, user: cluster.appUser, password: cluster.appPassword });
});

after(async () => {
  await gw?.stop('SIGKILL');
  await cluster?.stop();
  if (gw) await removeDir(gw.dir);
});

test('a 1,000,000-row result to a slow reader: Gatehouse RSS grows by less than 100 MB', async () => {
  const token = await gw.token();
  // Warm up the relay and masking path at full speed first: V8 compiles the hot
  // functions on background threads, whose malloc arenas (tens of MB, once)
  // would otherwise count as growth. What this test guards is buffering of the
  // result, which would show as ~215 MB on top.
  const warm = new pg.Client({ host: '127.0.0.1', port: gw.port, database: 'customers', user: 'ci-bot', password: token });
  await warm.connect();
  assert.equal((await warm.query("SELECT count(*)::int AS n FROM (SELECT g, repeat('x', 200) FROM generate_series(1, 200000) g) s")).rows[0].n, 200000);
  await warm.query({ text: "SELECT g, repeat('x', 200) FROM generate_series(1, 200000) g", rowMode: 'array' });
  await warm.end();
  const rssBefore = await gw.rss();
  const sock = net.connect(gw.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const relay = new MessageRelay({ maxHeldBytes: 1 << 20 });
  let rows = 0;
  let tag = '';
  let peak = rssBefore;
  let phase: 'auth' | 'query' | 'done' = 'auth';
  const done = new Promise<void>((resolve, reject) => {
    sock.on('error', reject);
    sock.on('data', (chunk: Buffer) => {
      relay.feed(chunk, {
        disposition: (t) => {
          if (t === 0x44) rows++;
          return t === 0x52 || t === 0x5a || t === 0x43 || t === 0x45 ? 'hold' : 'pass';
        },
        message: (t, frame) => {
          if (t === 0x45) reject(new Error(frame.toString('latin1')));
          if (t === 0x52 && frame.readInt32BE(5) === 3) sock.write(encodePassword(token));
          if (t === 0x43) tag = frame.subarray(5, frame.length - 1).toString();
          if (t === 0x5a && phase === 'auth') {
            phase = 'query';
            // ~215 MB of rows: more than the limit, so buffering them would show.
            sock.write(encodeQuery("SELECT g, repeat('x', 200) FROM generate_series(1, 1000000) g"));
            // The slow reader: stop reading for 4 s right after asking.
            sock.pause();
            setTimeout(async () => {
              peak = Math.max(peak, await gw.rss());
              sock.resume();
            }, 4000);
          } else if (t === 0x5a && phase === 'query') {
            phase = 'done';
            resolve();
          }
          return null;
        },
      });
    });
  });
  sock.write(encodeStartup({ user: 'ci-bot', database: 'customers' }));
  const sampler = setInterval(async () => {
    peak = Math.max(peak, await gw.rss().catch(() => 0));
  }, 100);
  await done;
  clearInterval(sampler);
  sock.end();
  assert.equal(rows, 1_000_000);
  assert.equal(tag, 'SELECT 1000000');
  const growth = peak - rssBefore;
  assert.ok(growth < 100 * 1024 * 1024, `RSS grew by ${(growth / 1048576).toFixed(1)} MB`);
});

test('an upstream that is down gets 08001 naming the connection; the attempt is recorded', async () => {
  const deadPort = await freePort();
  const dead = await startGatehouse({ host: '127.0.0.1', port: deadPort, database: 'bank', user: 'app', password: 'irrelevant-secret' }, { connectionName: 'ledger' });
  try {
    const c = new pg.Client({ host: '127.0.0.1', port: dead.port, database: 'ledger', user: 'ci-bot', password: await dead.token() });
    await assert.rejects(c.connect(), (e: Error & { code?: string }) => {
      assert.equal(e.code, '08001');
      assert.match(e.message, /upstream for connection 'ledger' is unavailable/);
      return true;
    });
    await new Promise((r) => setTimeout(r, 200));
    const events = await dead.events();
    const closed = events.find((e) => e.type === 'session.closed');
    assert.equal(closed?.body.reason, 'upstream_failed');
  } finally {
    await dead.stop('SIGKILL');
    await removeDir(dead.dir);
  }
});

test('SIGTERM lets a running statement finish (readiness says stopping meanwhile), then ends sessions and records their end', async () => {
  const g2 = await startGatehouse({ host: cluster.host, port: cluster.port, database: cluster.database, user: cluster.appUser, password: cluster.appPassword });
  try {
    const c = new pg.Client({ host: '127.0.0.1', port: g2.port, database: 'customers', user: 'ci-bot', password: await g2.token() });
    await c.connect();
    c.on('error', () => {});
    const readyz = async (): Promise<{ status: number; body: unknown }> => {
      const res = await fetch(`http://127.0.0.1:${g2.adminPort}/readyz`);
      return { status: res.status, body: await res.json() };
    };
    assert.deepEqual(await readyz(), { status: 200, body: { status: 'ready', checks: { sessions: 'ok', audit: 'ok' } } });
    const running = c.query('SELECT pg_sleep(1.5) AS slept, 42 AS answer');
    await new Promise((r) => setTimeout(r, 300));
    const code = g2.stop('SIGTERM');
    // While the running statement drains, the readiness probe sends new sessions elsewhere.
    let draining: { status: number; body: unknown } | undefined;
    for (let i = 0; i < 50 && draining?.status !== 503; i++) {
      draining = await readyz();
      if (draining.status !== 503) await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(draining, { status: 503, body: { status: 'unavailable', checks: { sessions: 'stopping', audit: 'ok' } } });
    const r = await running;
    assert.equal(r.rows[0].answer, 42, 'the running statement completed');
    assert.equal(await code, 0);
    // New connections are refused after shutdown.
    const late = new pg.Client({ host: '127.0.0.1', port: g2.port, database: 'customers', user: 'ci-bot', password: 'x' });
    await assert.rejects(late.connect());
    const events = await g2.events();
    const fin = events.filter((e) => e.type === 'statement.finished');
    assert.ok(fin.some((e) => e.body.outcome === 'ok'));
    assert.ok(events.some((e) => e.type === 'session.closed' && e.body.reason === 'killed'), 'session end recorded');
  } finally {
    await g2.stop('SIGKILL');
    await removeDir(g2.dir);
  }
});
