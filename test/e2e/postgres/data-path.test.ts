// The Postgres data path end to end: real psql / node-postgres → Gatehouse
// (the real CLI, as a child process) → a disposable Postgres 15 with a SCRAM role.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type PgCluster } from '../../harness/postgres.ts';
import { startGatehouse, removeDir, type TestGateway } from '../../harness/gateway.ts';
import { run } from '../../harness/run.ts';

let cluster: PgCluster;
let gw: TestGateway;

before(async () => {
  cluster = await startPostgres({ ssl: true });
  gw = await startGatehouse({ host: cluster.host, port: cluster.port, database: cluster.database, user: cluster.appUser, password: cluster.appPassword, tls: 'require' });
});

after(async () => {
  await gw?.stop('SIGKILL');
  await cluster?.stop();
  if (gw) await removeDir(gw.dir);
});

function client(password: string, extra: Partial<pg.ClientConfig> = {}): pg.Client {
  return new pg.Client({ host: '127.0.0.1', port: gw.port, database: 'customers', user: 'ci-bot', password, ...extra });
}

async function psql(token: string, args: string[], conninfo = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return run('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', `host=127.0.0.1 port=${gw.port} dbname=customers user=ci-bot ${conninfo}`, ...args], {
    env: { PGPASSWORD: token },
    timeoutMs: 30_000,
  });
}

describe('connecting', () => {
  test('psql with a dev token reads through Gatehouse, without and with TLS', async () => {
    const token = await gw.token();
    const plain = await psql(token, ['-c', 'SELECT count(*) FROM customers', '-c', "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"], 'sslmode=disable');
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual(plain.stdout.trim().split('\n'), ['100', 't'], 'upstream leg uses TLS (tls: require)');
    const tls = await psql(token, ['-c', 'SELECT 1'], 'sslmode=require');
    assert.equal(tls.code, 0, tls.stderr);
    assert.equal(tls.stdout.trim(), '1');
  });

  test('the client never sees the upstream credential: session user is the vaulted role', async () => {
    const c = client(await gw.token());
    await c.connect();
    const r = await c.query('SELECT current_user AS u');
    assert.equal(r.rows[0].u, 'app');
    await c.end();
  });

  test('an unknown connection name gets 3D000 naming it', async () => {
    const c = new pg.Client({ host: '127.0.0.1', port: gw.port, database: 'nope', user: 'ci-bot', password: await gw.token() });
    await assert.rejects(c.connect(), (e: Error & { code?: string }) => {
      assert.equal(e.code, '3D000');
      assert.match(e.message, /connection 'nope' is not configured/);
      return true;
    });
  });

  test('a principal outside the allowed groups is refused with 42501', async () => {
    const c = client(await gw.token({ groups: ['marketing'] }));
    await assert.rejects(c.connect(), (e: Error & { code?: string }) => {
      assert.equal(e.code, '42501');
      assert.match(e.message, /denied connect on 'customers'.*not in a group allowed/);
      return true;
    });
  });

  test('bad tokens are refused with 28P01 and a clear reason', async () => {
    const expired = await gw.token({ ttlSeconds: -120 });
    for (const [token, pattern] of [
      ['not-a-token', /not a JWT/],
      [expired, /expired/],
      [expired.slice(0, -4) + 'AAAA', /signature|expired/],
    ] as const) {
      const c = client(token);
      await assert.rejects(c.connect(), (e: Error & { code?: string }) => {
        assert.equal(e.code, '28P01', e.message);
        assert.match(e.message, pattern);
        assert.ok(!e.message.includes(token), 'the token is not echoed');
        return true;
      });
    }
  });

  test('an empty password is refused before anything else', async () => {
    const r = await psql('', ['-c', 'select 1'], 'sslmode=disable');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no token|password/);
  });
});

describe('statements', () => {
  test('extended protocol with parameters, and a pipelined batch', async () => {
    const c = client(await gw.token());
    await c.connect();
    const r = await c.query('SELECT id, name FROM customers WHERE id = $1 OR id = $2 ORDER BY id', [3, 7]);
    assert.deepEqual(r.rows.map((x) => x.id), [3, 7]);
    // node-postgres pipelines prepared statements: send many without awaiting.
    const many = await Promise.all(Array.from({ length: 50 }, (_, i) => c.query({ name: 'by-id', text: 'SELECT id FROM customers WHERE id = $1', values: [i + 1] })));
    assert.deepEqual(many.map((x) => x.rows[0].id), Array.from({ length: 50 }, (_, i) => i + 1));
    await c.end();
  });

  test('an error keeps the session usable and aborts the transaction as Postgres does', async () => {
    const c = client(await gw.token());
    await c.connect();
    await assert.rejects(c.query('SELECT * FROM no_such_table'), /does not exist/);
    assert.equal((await c.query('SELECT 2 AS x')).rows[0].x, 2);
    await c.query('BEGIN');
    await assert.rejects(c.query('SELECT 1/0'), /division by zero/);
    await assert.rejects(c.query('SELECT 1'), (e: Error & { code?: string }) => e.code === '25P02');
    await c.query('ROLLBACK');
    assert.equal((await c.query('SELECT 3 AS x')).rows[0].x, 3);
    await c.end();
  });

  test('COPY in and out through psql', async () => {
    const token = await gw.token();
    const setup = await psql(token, ['-c', 'CREATE TABLE IF NOT EXISTS copy_t (id int, note text)'], 'sslmode=disable');
    assert.equal(setup.code, 0, setup.stderr);
    const lines = Array.from({ length: 2000 }, (_, i) => `${i}\tnote ${i}`).join('\n') + '\n';
    const copyIn = await run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', `host=127.0.0.1 port=${gw.port} dbname=customers user=ci-bot`, '-c', 'COPY copy_t FROM STDIN'], {
      env: { PGPASSWORD: token },
      input: lines,
    });
    assert.equal(copyIn.code, 0, copyIn.stderr);
    assert.match(copyIn.stdout, /COPY 2000/);
    const copyOut = await psql(token, ['-c', 'COPY (SELECT * FROM copy_t ORDER BY id) TO STDOUT']);
    assert.equal(copyOut.code, 0, copyOut.stderr);
    assert.equal(copyOut.stdout, lines);
  });

  test('LISTEN/NOTIFY and ParameterStatus are relayed', async () => {
    const a = client(await gw.token());
    const b = client(await gw.token());
    await a.connect();
    await b.connect();
    await a.query('LISTEN gh_chan');
    const got = new Promise<string>((res) => a.on('notification', (n) => res(n.payload ?? '')));
    await b.query("NOTIFY gh_chan, 'hello'");
    assert.equal(await got, 'hello');
    const changed = new Promise<string>((res) => (b as unknown as { connection: NodeJS.EventEmitter }).connection.on('parameterStatus', (m: { parameterName: string; parameterValue: string }) => m.parameterName === 'application_name' && res(m.parameterValue)));
    await b.query("SET application_name = 'gh-test'");
    assert.equal(await changed, 'gh-test');
    await a.end();
    await b.end();
  });

  test('cancel reaches the client own backend only', async () => {
    const c = client(await gw.token());
    await c.connect();
    const started = Date.now();
    const slow = c.query('SELECT pg_sleep(20)');
    await new Promise((r) => setTimeout(r, 500));
    // node-postgres sends CancelRequest with the key Gatehouse handed out.
    const canceller = client(await gw.token());
    await (canceller as unknown as { cancel(c: pg.Client, q: unknown): void }).cancel?.(c, (c as unknown as { activeQuery: unknown }).activeQuery);
    await assert.rejects(slow, (e: Error & { code?: string }) => e.code === '57014');
    assert.ok(Date.now() - started < 10_000);
    assert.equal((await c.query('SELECT 1 AS x')).rows[0].x, 1);
    await c.end();
  });

  test('pgbench (simple protocol) runs through Gatehouse', async () => {
    const token = await gw.token();
    const script = join(gw.dir, 'bench.sql');
    await writeFile(script, 'SELECT count(*) FROM customers WHERE id = 1 + (random() * 99)::int;\n');
    const r = await run('pgbench', ['-n', '-c', '2', '-t', '50', '-f', script, `host=127.0.0.1 port=${gw.port} dbname=customers user=ci-bot`], {
      env: { PGPASSWORD: token },
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /number of transactions actually processed: 100\/100/);
  });
});

describe('bad input', () => {
  async function rawExchange(bytes: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const s = net.connect(gw.port, '127.0.0.1');
      const chunks: Buffer[] = [];
      s.on('data', (d) => chunks.push(d));
      s.on('close', () => resolve(Buffer.concat(chunks)));
      s.on('error', reject);
      s.setTimeout(10_000, () => {
        s.destroy();
        reject(new Error('no answer: Gatehouse hung'));
      });
      s.write(bytes);
    });
  }

  test('an oversized startup length gets an ErrorResponse and a closed connection', async () => {
    const b = Buffer.alloc(8);
    b.writeInt32BE(0x7fffffff, 0);
    b.writeInt32BE(196608, 4);
    const reply = await rawExchange(b);
    assert.equal(reply[0], 0x45, 'ErrorResponse');
    assert.match(reply.toString('latin1'), /exceeds limit/);
  });

  test('a malformed startup packet gets an ErrorResponse', async () => {
    const b = Buffer.alloc(8);
    b.writeInt32BE(2, 0);
    const reply = await rawExchange(b);
    assert.equal(reply[0], 0x45);
  });

  test('an unknown protocol code gets an ErrorResponse', async () => {
    const b = Buffer.alloc(8);
    b.writeInt32BE(8, 0);
    b.writeInt32BE(12345678, 4);
    const reply = await rawExchange(b);
    assert.equal(reply[0], 0x45);
  });

  test('an oversized query after login closes the session with 54000, Gatehouse survives', async () => {
    const c = client(await gw.token());
    await c.connect();
    c.on('error', () => {});
    await assert.rejects(c.query(`SELECT '${'x'.repeat(2 * 1024 * 1024)}'`), /exceeds limit|Connection terminated/);
    const d = client(await gw.token());
    await d.connect();
    assert.equal((await d.query('SELECT 1 AS x')).rows[0].x, 1);
    await d.end();
  });
});

describe('records', () => {
  test('every statement has an event written before it ran, with outcome and rows', async () => {
    await assert.rejects(client('garbage-token').connect());
    const c = client(await gw.token({ sub: 'event-checker' }));
    await c.connect();
    await c.query('SELECT id FROM customers WHERE id <= 5');
    await assert.rejects(c.query('SELECT broken syntax here'));
    await c.end();
    await new Promise((r) => setTimeout(r, 300));
    const events = await gw.events();
    const opened = events.find((e) => e.type === 'session.opened' && (e.body.identity as { subject: string }).subject === 'event-checker');
    assert.ok(opened, 'session.opened recorded');
    const sid = opened.body.sessionId;
    const mine = events.filter((e) => e.body.sessionId === sid);
    const started = mine.filter((e) => e.type === 'statement.started');
    assert.deepEqual(started.map((e) => e.body.statement), ['SELECT id FROM customers WHERE id <= 5', 'SELECT broken syntax here']);
    const finished = mine.filter((e) => e.type === 'statement.finished');
    assert.equal(finished.length, 2);
    assert.equal(finished[0]!.body.outcome, 'ok');
    assert.equal(finished[0]!.body.rows, 5);
    assert.equal(finished[1]!.body.outcome, 'error');
    for (const f of finished) {
      const s = started.find((x) => x.body.operationId === f.body.operationId)!;
      assert.ok(s.seq < f.seq, 'started is written before finished');
    }
    assert.ok(mine.some((e) => e.type === 'session.closed'), 'session.closed recorded');
    assert.ok(events.some((e) => e.type === 'auth.failed'), 'refused attempts are recorded');
  });

  test('the upstream password is in no file under the state folder and in no output', async () => {
    const secret = cluster.appPassword;
    const files: string[] = [];
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else files.push(p);
      }
    };
    await walk(gw.dir);
    assert.ok(files.length >= 3);
    for (const f of files) {
      const content = await readFile(f);
      assert.equal(content.indexOf(secret), -1, `${f} contains the upstream password`);
    }
    assert.ok(!gw.output().includes(secret), 'gatehouse output contains the upstream password');
    const vault = await stat(join(gw.stateDir, 'vault.json'));
    assert.equal(vault.mode & 0o077, 0, 'vault file is private');
  });
});
