// Smoke test for the e2e harness itself: real initdb/postgres/psql/pgbench/
// pgbouncer, started and stopped by the harness, nothing left behind.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { describe, it, after } from 'node:test';
import { initPgbench, parsePgbench } from './pgbench.ts';
import { startPgbouncer, type Pgbouncer } from './pgbouncer.ts';
import { readServerLog, SEED_COUNTS, seedAccount, seedCustomer, startPostgres, type PgCluster } from './postgres.ts';
import { pgBin, run, RunTimeoutError } from './run.ts';

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** The real psql over TCP with a password, as a client (and Gatehouse's users) would connect. */
function tcpPsql(pg: PgCluster, sql: string, env: Record<string, string> = {}) {
  return run(pgBin('psql'), ['-X', '-A', '-t', '-w', '-h', pg.host, '-p', String(pg.port), '-U', pg.appUser, '-d', pg.database, '-c', sql], {
    env: { PGPASSWORD: pg.appPassword, PGSSLMODE: 'disable', ...env },
  });
}

describe('postgres harness (scram, pgbouncer, pgbench)', () => {
  let pg: PgCluster | undefined;
  let bouncer: Pgbouncer | undefined;
  after(async () => {
    await bouncer?.stop();
    await pg?.stop();
  });

  it('starts a seeded cluster quickly', async (t) => {
    const t0 = performance.now();
    pg = await startPostgres();
    t.diagnostic(`cluster started in ${Math.round(performance.now() - t0)} ms on port ${pg.port}`);
    assert.notEqual(pg.port, 5432);
    assert.ok(existsSync(pg.dataDir));
    assert.match(pg.appPassword, /^[0-9a-f]{36}$/);
    assert.equal((await pg.psql('SELECT current_user')).trim(), 'postgres');
  });

  it('lets app log in over TCP with its password via SCRAM', async () => {
    assert.ok(pg);
    const stored = await pg.psql(`SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = 'app'`);
    assert.equal(stored.trim(), 'SCRAM-SHA-256$');
    const hba = await pg.psql(`SELECT DISTINCT auth_method FROM pg_hba_file_rules WHERE type = 'host'`);
    assert.equal(hba.trim(), 'scram-sha-256');

    const r = await tcpPsql(pg, `SELECT current_user, (SELECT count(*) FROM customers), (SELECT count(*) FROM accounts)`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `app|${SEED_COUNTS.customers}|${SEED_COUNTS.accounts}`);

    const bad = await tcpPsql(pg, 'SELECT 1', { PGPASSWORD: 'wrong' });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /password authentication failed for user "app"/);
  });

  it('seeds deterministic PII-shaped rows owned by app', async () => {
    assert.ok(pg);
    const c = seedCustomer(42);
    assert.equal((await pg.psql('SELECT name, email, ssn, card, balance FROM customers WHERE id = 42')).trim(),
      [c.name, c.email, c.ssn, c.card, c.balance].join('|'));
    const a = seedAccount(150);
    assert.equal((await pg.psql('SELECT customer_id, iban, balance FROM accounts WHERE id = 150')).trim(),
      [a.customer_id, a.iban, a.balance].join('|'));
    assert.equal((await pg.psql(`SELECT tableowner FROM pg_tables WHERE tablename IN ('customers','accounts') GROUP BY 1`)).trim(), 'app');
    assert.equal((await pg.psql('SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()')).trim(), 'app');
  });

  it('runs pgbench -S through pgbouncer', async (t) => {
    assert.ok(pg);
    await initPgbench(pg, { scale: 1 });
    bouncer = await startPgbouncer({ host: pg.host, port: pg.port, user: pg.appUser, password: pg.appPassword, database: pg.database });
    assert.ok(await listening(bouncer.port));

    const args = ['-h', '127.0.0.1', '-p', String(bouncer.port), '-U', pg.appUser];
    const env = { PGPASSWORD: pg.appPassword, PGSSLMODE: 'disable' };
    const r = await run(pgBin('pgbench'), ['-S', '-n', '-T', '2', '-c', '2', ...args, pg.database], { env, timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^tps = [\d.]+ \(without initial connection time\)$/m);
    const report = parsePgbench(r.stdout);
    t.diagnostic(`pgbench -S -c 2 via pgbouncer: ${Math.round(report.tps)} tps`);
    assert.ok(report.tps > 0);

    // Session pooling must have room for 16 concurrent clients.
    const r16 = await run(pgBin('pgbench'), ['-S', '-n', '-t', '20', '-c', '16', '-j', '2', ...args, pg.database], { env, timeoutMs: 30_000 });
    assert.equal(r16.code, 0, r16.stderr);
    assert.equal(parsePgbench(r16.stdout).transactions, 320);
  });

  it('stops everything and removes the data dir (idempotently)', async () => {
    assert.ok(pg && bouncer);
    const { dataDir, socketDir, port } = pg;
    const bouncerPort = bouncer.port;
    await bouncer.stop();
    await bouncer.stop();
    await pg.stop();
    await pg.stop();
    assert.equal(existsSync(dataDir), false);
    assert.equal(existsSync(socketDir), false);
    assert.equal(await listening(port), false);
    assert.equal(await listening(bouncerPort), false);
  });
});

describe('postgres harness options', () => {
  it('serves TLS with SCRAM channel binding and logs statements when asked', async (t) => {
    const pg = await startPostgres({ ssl: true, logStatements: true });
    t.after(() => pg.stop());
    assert.ok(pg.sslCertFile);
    const r = await tcpPsql(pg, `SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid(); SELECT 'harness-marker-1'`, {
      PGSSLMODE: 'verify-full',
      PGSSLROOTCERT: pg.sslCertFile,
      PGHOST: 'localhost',
      // Only SCRAM-SHA-256-PLUS over TLS can satisfy this.
      PGCHANNELBINDING: 'require',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['t', 'harness-marker-1']);

    const log = await readServerLog(pg);
    assert.match(log, /app@bank LOG:  statement: SELECT ssl FROM pg_stat_ssl/);
    assert.ok(!log.includes(pg.appPassword), 'setup statements (with passwords) must not be logged');
    assert.ok(!log.includes('CREATE TABLE customers'), 'seeding happens before statement logging');
  });

  it('uses md5 when asked', async () => {
    const pg = await startPostgres({ passwordEncryption: 'md5', extraConf: { log_connections: 'on' } });
    try {
      assert.equal((await pg.psql(`SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = 'app'`)).trim(), 'md5');
      assert.equal((await pg.psql('SHOW log_connections')).trim(), 'on');
      assert.equal((await pg.psql(`SELECT setting FROM pg_settings WHERE name = 'password_encryption'`)).trim(), 'md5');
      const r = await tcpPsql(pg, 'SELECT count(*) FROM customers');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), String(SEED_COUNTS.customers));
    } finally {
      await pg.stop();
    }
  });
});

describe('run()', () => {
  it('kills a hanging child and rejects with a clear error', async () => {
    const t0 = performance.now();
    await assert.rejects(run('sleep', ['30'], { timeoutMs: 300 }), (e: unknown) => {
      assert.ok(e instanceof RunTimeoutError);
      assert.match(e.message, /`sleep 30` timed out after 300 ms/);
      return true;
    });
    assert.ok(performance.now() - t0 < 5_000);
  });

  it('passes stdin and reports exit codes', async () => {
    const r = await run('sh', ['-c', 'cat; exit 3'], { input: 'hello' });
    assert.deepEqual([r.code, r.stdout], [3, 'hello']);
    await assert.rejects(run('/nonexistent/binary', []), /cannot start/);
  });
});
