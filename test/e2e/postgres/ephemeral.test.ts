// Temporary credentials end to end (issue 6, item 5): node-postgres through
// Gatehouse to a disposable Postgres, with `credentials.mode: ephemeral`.
//
// To prove the password never leaves Gatehouse, one connection ("sniffed")
// reaches Postgres through a TCP tap from 127.0.0.2, for which pg_hba asks
// members of the template role for a *cleartext* password: the tap reads
// the exact password Gatehouse used, and the test then looks for it in the
// state directory, the gateway's output, the Postgres log and the bytes the
// client received. The other connection ("customers") logs in with SCRAM
// against the verifier Gatehouse stored.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { readServerLog, startPostgres, type PgCluster } from '../../harness/postgres.ts';
import { startGatehouse, removeDir, type GatewayTarget, type TestGateway } from '../../harness/gateway.ts';

const ADMIN = 'gatehouse_admin';
const ROLE_NAME = /^gh_[a-z0-9]{1,10}_[0-9a-f]{10}$/;

let cluster: PgCluster;
let gw: TestGateway;
let target: GatewayTarget;
let upstreamTap: Tap;
const adminPassword = randomBytes(18).toString('hex');

/** A TCP relay that keeps every byte in both directions, per accepted connection. */
interface Tap {
  readonly port: number;
  readonly conns: { toServer: Buffer[]; toClient: Buffer[] }[];
  close(): Promise<void>;
}

async function startTap(to: { host: string; port: number }, localAddress?: string): Promise<Tap> {
  const conns: Tap['conns'] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const rec = { toServer: [] as Buffer[], toClient: [] as Buffer[] };
    conns.push(rec);
    const upstream = net.connect({ host: to.host, port: to.port, ...(localAddress ? { localAddress } : {}) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (d: Buffer) => rec.toServer.push(Buffer.from(d)));
    upstream.on('data', (d: Buffer) => rec.toClient.push(Buffer.from(d)));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    conns,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * Cleartext PasswordMessages sent by Gatehouse as an ephemeral role, from the
 * frontend bytes of every tapped connection (§55.7: StartupMessage, then
 * typed messages; `tls: disable`, so no SSLRequest).
 */
function sniffedPasswords(tap: Tap): { user: string; password: string }[] {
  const out: { user: string; password: string }[] = [];
  for (const c of tap.conns) {
    const buf = Buffer.concat(c.toServer);
    if (buf.length < 8) continue;
    const startLen = buf.readInt32BE(0);
    const params = buf.subarray(8, startLen).toString('utf8').split('\0');
    const user = params[params.indexOf('user') + 1] ?? '';
    for (let off = startLen; off + 5 <= buf.length; ) {
      const type = String.fromCharCode(buf[off]!);
      const len = buf.readInt32BE(off + 1);
      const payload = buf.subarray(off + 5, off + 1 + len);
      if (type === 'p' && user.startsWith('gh_') && payload.at(-1) === 0) out.push({ user, password: payload.subarray(0, -1).toString('utf8') });
      off += 1 + len;
    }
  }
  return out;
}

async function connect(database = 'customers', port = gw.port): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port, database, user: 'ci-bot', password: await gw.token({ sub: 'ci-bot', groups: ['agents'] }) });
  c.on('error', () => {});
  await c.connect();
  return c;
}

async function currentUser(c: pg.Client): Promise<string> {
  const r = await c.query<{ current_user: string; session_user: string }>('SELECT current_user, session_user');
  assert.equal(r.rows[0]!.current_user, r.rows[0]!.session_user);
  return r.rows[0]!.current_user;
}

async function roleExists(role: string): Promise<boolean> {
  return (await cluster.psql(`SELECT count(*) FROM pg_roles WHERE rolname = '${role}'`)).trim() === '1';
}

async function waitUntilGone(role: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (await roleExists(role)) {
    if (Date.now() > deadline) assert.fail(`role ${role} still exists ${ms} ms after its session ended`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

function credentialsYaml(template: string, ttl = '1h'): string {
  return `credentials: { mode: ephemeral, templateRole: ${template}, admin: { user: ${ADMIN}, password: "vault:pg-admin" }, ttl: ${ttl} }`;
}

before(async () => {
  cluster = await startPostgres({ logStatements: true });
  await cluster.psql(`
    CREATE ROLE app_rw NOLOGIN;
    GRANT SELECT, INSERT, UPDATE, DELETE ON customers, accounts TO app_rw;
    CREATE TABLE not_granted (x int);
    CREATE ROLE ${ADMIN} LOGIN CREATEROLE PASSWORD '${adminPassword}';
    GRANT pg_signal_backend TO ${ADMIN};
  `);
  // Through the tap (source 127.0.0.2), members of app_rw log in with a cleartext password; everyone else with SCRAM.
  const hba = join(cluster.dataDir, 'pg_hba.conf');
  await writeFile(hba, `host all +app_rw 127.0.0.2/32 password\nhost all all 127.0.0.2/32 scram-sha-256\n${await readFile(hba, 'utf8')}`);
  await cluster.psql('SELECT pg_reload_conf()');
  await new Promise((r) => setTimeout(r, 300));
  upstreamTap = await startTap({ host: cluster.host, port: cluster.port }, '127.0.0.2');

  target = { host: cluster.host, port: cluster.port, database: cluster.database, user: cluster.appUser, password: cluster.appPassword };
  gw = await startGatehouse(target, {
    vaultSecrets: { 'pg-admin': adminPassword },
    extraYaml: `    ${credentialsYaml('app_rw')}
  - name: sniffed
    protocol: postgres
    upstream: { host: 127.0.0.1, port: ${upstreamTap.port}, database: bank, user: app, tls: disable }
    allow: { groups: [agents] }
    ${credentialsYaml('app_rw', '20m')}
  - name: broken
    protocol: postgres
    upstream: { host: ${cluster.host}, port: ${cluster.port}, database: bank, user: app, tls: prefer }
    allow: { groups: [agents] }
    ${credentialsYaml('no_such_role')}
`,
  });
});

after(async () => {
  await gw?.stop('SIGKILL');
  await upstreamTap?.close();
  await cluster?.stop();
  if (gw) await removeDir(gw.dir);
});

test("a session runs as its own temporary role: member of the template, VALID UNTIL set, marked, dropped when the session ends", async () => {
  const c = await connect();
  const role = await currentUser(c);
  assert.match(role, ROLE_NAME);
  const [canLogin, validMinutes, comment, member, limit] = (
    await cluster.psql(
      `SELECT rolcanlogin, round(extract(epoch FROM rolvaliduntil - now()) / 60), shobj_description(oid, 'pg_authid'),
              pg_has_role(oid, 'app_rw', 'MEMBER'), rolconnlimit
         FROM pg_roles WHERE rolname = '${role}'`,
    )
  )
    .trim()
    .split('|');
  assert.equal(canLogin, 't');
  assert.equal(validMinutes, '60', 'VALID UNTIL is the configured ttl (1h) from now');
  assert.equal(comment, 'gatehouse-ephemeral');
  assert.equal(member, 't');
  assert.equal(limit, '1');
  // The template's privileges, and no others.
  assert.equal((await c.query('SELECT count(*)::int AS n FROM customers')).rows[0].n > 0, true);
  await assert.rejects(c.query('SELECT * FROM not_granted'), (e: Error & { code?: string }) => e.code === '42501');
  // Another session gets another role.
  const c2 = await connect();
  const role2 = await currentUser(c2);
  assert.match(role2, ROLE_NAME);
  assert.notEqual(role2, role);
  await c2.end();
  await c.end();
  await waitUntilGone(role);
  await waitUntilGone(role2);

  const events = await gw.events();
  const issued = events.find((e) => e.type === 'credential.issued' && e.body.role === role);
  assert.ok(issued, 'credential.issued names the role');
  assert.equal(issued.body.connection, 'customers');
  assert.equal(issued.body.templateRole, 'app_rw');
  assert.equal(issued.body.durationSeconds, 3600);
  assert.ok(Math.abs((issued.body.validUntil as number) - (issued.body.time as number) - 3_600_000) < 5_000);
  assert.equal(typeof issued.body.sessionId, 'string');
  const revoked = events.find((e) => e.type === 'credential.revoked' && e.body.role === role);
  assert.ok(revoked, 'credential.revoked names the role');
  assert.equal(revoked.body.reason, 'session_ended');
  assert.equal(revoked.body.dropped, true);
  assert.equal(revoked.body.sessionId, issued.body.sessionId);
  assert.ok(revoked.seq < events.find((e) => e.type === 'session.closed' && e.body.sessionId === issued.body.sessionId)!.seq, 'the role is dropped before the session is recorded closed');
  for (const e of events.filter((x) => x.type.startsWith('credential.'))) assert.ok(!/password|secret/i.test(Object.keys(e.body).join(',')), JSON.stringify(e.body));
});

test('the password never leaves Gatehouse: not to the client, the state dir, the gateway output, the events or the Postgres log', async () => {
  const clientTap = await startTap({ host: '127.0.0.1', port: gw.port });
  try {
    const c = await connect('sniffed', clientTap.port);
    const role = await currentUser(c);
    assert.match(role, ROLE_NAME);
    const sniffed = sniffedPasswords(upstreamTap).filter((s) => s.user === role);
    assert.equal(sniffed.length, 1, 'Gatehouse logged in as the role once, with a cleartext password the tap saw');
    const { password } = sniffed[0]!;
    assert.match(password, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
    assert.equal(Buffer.from(password, 'base64url').length, 32);

    // It is the real password, and the role cannot be used twice at once (CONNECTION LIMIT 1).
    const direct = new pg.Client({ connectionString: cluster.url(role, password) });
    direct.on('error', () => {});
    await assert.rejects(direct.connect(), (e: Error & { code?: string }) => e.code === '53300');
    const validUntil = (await cluster.psql(`SELECT rolvaliduntil - now() < interval '20 minutes 5 seconds' FROM pg_roles WHERE rolname = '${role}'`)).trim();
    assert.equal(validUntil, 't', 'ttl: 20m on this connection');

    await c.query('SELECT 1');
    await c.end();
    await waitUntilGone(role);
    // After the session, the password opens nothing.
    const later = new pg.Client({ connectionString: cluster.url(role, password) });
    later.on('error', () => {});
    await assert.rejects(later.connect(), (e: Error & { code?: string }) => e.code === '28P01' || e.code === '28000');

    const needle = Buffer.from(password, 'utf8');
    const toClient = Buffer.concat(clientTap.conns.flatMap((x) => x.toClient));
    assert.ok(toClient.length > 0);
    assert.ok(!toClient.includes(needle), 'the client never receives the password');
    for (const f of await filesUnder(gw.stateDir)) assert.ok(!(await readFile(f)).includes(needle), `password found in ${f}`);
    assert.ok(!gw.output().includes(password), 'password in gateway output');
    assert.ok(gw.output().includes(role), 'the output does name the role');
    const events = await gw.events();
    assert.ok(!JSON.stringify(events).includes(password));
    assert.ok(events.some((e) => e.type === 'credential.issued' && e.body.role === role && e.body.connection === 'sniffed'));
    // Postgres logged every statement, CREATE ROLE included: it got a SCRAM verifier, not the password.
    const serverLog = await readServerLog(cluster);
    assert.match(serverLog, new RegExp(`CREATE ROLE "${role}" LOGIN .*PASSWORD 'SCRAM-SHA-256\\$4096:`));
    assert.ok(!serverLog.includes(password), 'password in the Postgres log');
  } finally {
    await clientTap.close();
  }
});

test('fail closed: a role that cannot be created refuses the session with 08001 naming the connection', async () => {
  const before = (await cluster.psql(`SELECT count(*) FROM pg_roles WHERE rolname LIKE 'gh!_%' ESCAPE '!'`)).trim();
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, database: 'broken', user: 'ci-bot', password: await gw.token({ sub: 'ci-bot', groups: ['agents'] }) });
  c.on('error', () => {});
  let message = '';
  await assert.rejects(c.connect(), (e: Error & { code?: string }) => {
    assert.equal(e.code, '08001', e.message);
    message = e.message;
    return true;
  });
  assert.match(message, /temporary credential/);
  assert.match(message, /connection 'broken'/);
  assert.ok(!/SCRAM|PASSWORD|VALID UNTIL/i.test(message), message);
  assert.equal((await cluster.psql(`SELECT count(*) FROM pg_roles WHERE rolname LIKE 'gh!_%' ESCAPE '!'`)).trim(), before, 'no role left behind');
  await new Promise((r) => setTimeout(r, 200));
  const events = await gw.events();
  const opened = events.filter((e) => e.type === 'session.opened' && e.body.connection === 'broken').at(-1);
  assert.ok(opened);
  assert.ok(!events.some((e) => e.type === 'credential.issued' && e.body.connection === 'broken'));
  assert.ok(events.some((e) => e.type === 'session.closed' && e.body.sessionId === opened.body.sessionId && e.body.reason === 'upstream_failed'));
});

test('a session ended by shutdown (kill) drops its role before Gatehouse exits', async () => {
  const c = await connect();
  const role = await currentUser(c);
  assert.ok(await roleExists(role));
  await gw.stop('SIGTERM');
  assert.equal(await roleExists(role), false, 'the role is gone once Gatehouse has stopped');
  await c.end().catch(() => undefined);
  gw = await startGatehouse(target, { restartOf: gw });
});

test('leftovers of a crash (kill -9 mid-session) and hand-made marked roles are dropped at restart; unmarked gh_ roles are not', async () => {
  await cluster.psql(`
    CREATE ROLE gh_manual_leftover LOGIN IN ROLE app_rw;
    COMMENT ON ROLE gh_manual_leftover IS 'gatehouse-ephemeral';
    CREATE ROLE gh_not_ours LOGIN;
    CREATE ROLE marked_without_prefix NOLOGIN;
    COMMENT ON ROLE marked_without_prefix IS 'gatehouse-ephemeral';
  `);
  const c = await connect();
  const role = await currentUser(c);
  const beforeKill = (await gw.events()).length;
  await gw.stop('SIGKILL');
  await c.end().catch(() => undefined);
  assert.ok(await roleExists(role), 'after kill -9 nobody dropped the role');
  assert.ok(await roleExists('gh_manual_leftover'));

  gw = await startGatehouse(target, { restartOf: gw });
  // The sweep runs before the listener accepts, so it is done by now.
  assert.equal(await roleExists(role), false);
  assert.equal(await roleExists('gh_manual_leftover'), false);
  assert.ok(await roleExists('gh_not_ours'), 'a gh_ role without the marker is not ours');
  assert.ok(await roleExists('marked_without_prefix'), 'a marked role without the prefix is not ours');

  const swept = (await gw.events()).slice(beforeKill).filter((e) => e.type === 'credential.revoked');
  for (const r of [role, 'gh_manual_leftover']) {
    const e = swept.find((x) => x.body.role === r);
    assert.ok(e, `credential.revoked for ${r}`);
    assert.equal(e.body.reason, 'leftover');
    assert.equal(e.body.dropped, true);
  }
  assert.ok(!swept.some((e) => e.body.role === 'gh_not_ours'));
  // And the restarted gateway issues roles as before.
  const c2 = await connect();
  assert.match(await currentUser(c2), ROLE_NAME);
  await c2.end();
});
