// The audit log end to end: statements through psql, `gatehouse audit
// verify` on the live log, export and offline verification with only the
// public key, tampering with the SQLite file using the real `sqlite3` tool,
// inclusion proofs, replay, and a kill -9 under load.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { readServerLog, seedCustomer, startPostgres, type PgCluster } from '../../harness/postgres.ts';
import { startGatehouse, removeDir, CLI, type TestGateway } from '../../harness/gateway.ts';
import { run, childEnv } from '../../harness/run.ts';

let cluster: PgCluster;
let gw: TestGateway;
let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'gatehouse-audit-'));
  cluster = await startPostgres({ logStatements: true });
  gw = await startGatehouse(
    { host: cluster.host, port: cluster.port, database: cluster.database, user: cluster.appUser, password: cluster.appPassword },
    { extraYaml: 'audit: { checkpointEvery: { entries: 5, interval: 1s }, resultRows: 3 }\n' },
  );
});

after(async () => {
  await gw?.stop('SIGKILL');
  await cluster?.stop();
  if (gw) await removeDir(gw.dir);
  if (work) await removeDir(work);
});

function gatehouse(args: string[], opts: { cwd?: string } = {}) {
  return run(process.execPath, [CLI, ...args], { env: childEnv({ GATEHOUSE_MASTER_KEY: gw.masterKey }), timeoutMs: 60_000, ...opts });
}

async function psql(sub: string, sql: string[]): Promise<string> {
  const r = await run('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', `host=127.0.0.1 port=${gw.port} dbname=customers user=${sub} sslmode=disable`, ...sql.flatMap((s) => ['-c', s])], {
    env: { PGPASSWORD: await gw.token({ sub }) },
  });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('statements through psql; the live log verifies; an exported bundle verifies offline with only the public key', async () => {
  await psql('auditor-check', ['SELECT id, name FROM customers ORDER BY id LIMIT 5', "UPDATE accounts SET balance = balance WHERE id = 1"]);
  await new Promise((r) => setTimeout(r, 1500)); // a checkpoint (interval 1 s)
  const verify = await gatehouse(['audit', 'verify', '--config', gw.configFile]);
  assert.equal(verify.code, 0, verify.stderr);
  assert.match(verify.stdout, /audit log: OK — \d+ entries .* checkpoints verified/);

  const pub = join(work, 'audit.pub');
  const key = await gatehouse(['audit', 'pubkey', '--config', gw.configFile]);
  assert.equal(key.code, 0, key.stderr);
  assert.match(key.stdout, /BEGIN PUBLIC KEY/);
  await writeFile(pub, key.stdout);

  const bundle = join(work, 'bundle');
  const exp = await gatehouse(['audit', 'export', '--out', bundle, '--config', gw.configFile]);
  assert.equal(exp.code, 0, exp.stderr);
  const files = await readdir(bundle);
  for (const f of ['manifest.json']) assert.ok(files.includes(f), `bundle has ${f}: ${files.join(', ')}`);

  // Offline: another folder, no config, no state, only the bundle and the key.
  const offline = await run(process.execPath, [CLI, 'audit', 'verify-bundle', bundle, '--pubkey', pub], { cwd: work });
  assert.equal(offline.code, 0, offline.stderr);
  assert.match(offline.stdout, /OK/);

  // A byte altered in the bundle is caught.
  const envFile = files.find((f) => f.startsWith('envelopes'))!;
  const text = await readFile(join(bundle, envFile), 'utf8');
  await writeFile(join(bundle, envFile), text.replace('"session.opened"', '"session.opene"'));
  const bad = await run(process.execPath, [CLI, 'audit', 'verify-bundle', bundle, '--pubkey', pub], { cwd: work });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /FAILED/);
});

test('an inclusion proof for one event verifies alone', async () => {
  const pub = join(work, 'audit.pub');
  const proofFile = join(work, 'proof-2.json');
  const prove = await gatehouse(['audit', 'prove', '--seq', '2', '--out', proofFile, '--config', gw.configFile]);
  assert.equal(prove.code, 0, prove.stderr);
  const ok = await run(process.execPath, [CLI, 'audit', 'verify-bundle', proofFile, '--pubkey', pub], { cwd: work });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /seq 2 is in the signed tree/);
  const proof = JSON.parse(await readFile(proofFile, 'utf8')) as Record<string, unknown>;
  proof.seq = 3;
  await writeFile(proofFile, JSON.stringify(proof));
  const bad = await run(process.execPath, [CLI, 'audit', 'verify-bundle', proofFile, '--pubkey', pub], { cwd: work });
  assert.notEqual(bad.code, 0);
});

test('replay of a long session reads it a page at a time and prints every statement, timed from the session start', async () => {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, database: 'customers', user: 'long-session', password: await gw.token({ sub: 'long-session' }) });
  await c.connect();
  // 1,200 statements: 2,400 events plus open/close, several replay pages of 1,000.
  for (let i = 0; i < 1200; i++) await c.query(`SELECT ${i} AS n`);
  await c.end();
  await new Promise((r) => setTimeout(r, 300));
  const list = await gatehouse(['sessions', 'list', '--identity', 'long-session', '--config', gw.configFile]);
  assert.match(list.stdout, /long-session .* 1200 statements$/m);
  const sid = /^(ses_\S+)/m.exec(list.stdout)![1]!;
  const replay = await gatehouse(['replay', sid, '--config', gw.configFile]);
  assert.equal(replay.code, 0, replay.stderr);
  const shown = [...replay.stdout.matchAll(/> SELECT (\d+) AS n/g)].map((m) => Number(m[1]));
  assert.deepEqual(shown, Array.from({ length: 1200 }, (_, i) => i));
  const offsets = [...replay.stdout.matchAll(/^\s*\+(\d+\.\d{3})s/gm)].map((m) => Number(m[1]));
  assert.equal(offsets[0], 0);
  assert.deepEqual(offsets, [...offsets].sort((x, y) => x - y), 'offsets count from the session start across pages');
  const json = await gatehouse(['replay', sid, '--json', '--config', gw.configFile]);
  const types = json.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { type: string }).type);
  assert.equal(types[0], 'session.opened');
  assert.equal(types.at(-1), 'session.closed');
  assert.equal(types.filter((t) => t === 'statement.started').length, 1200);
});

test('sessions list and replay show the recorded statements, parameters and result rows', async () => {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, database: 'customers', user: 'param-user', password: await gw.token({ sub: 'param-user' }) });
  await c.connect();
  await c.query('SELECT id FROM accounts WHERE id = $1', [42]);
  const clear = await c.query('SELECT ssn, card FROM customers WHERE id = 1');
  await c.end();
  await new Promise((r) => setTimeout(r, 300));
  const plist = await gatehouse(['sessions', 'list', '--identity', 'param-user', '--config', gw.configFile]);
  const psid = /^(ses_\S+)/m.exec(plist.stdout)?.[1];
  assert.ok(psid, plist.stdout);
  assert.match(plist.stdout, /param-user .* 2 statements$/m);
  const preplay = await gatehouse(['replay', psid, '--config', gw.configFile]);
  assert.match(preplay.stdout, /SELECT id FROM accounts WHERE id = \$1\s+-- params: \["42"\]/);
  assert.match(preplay.stdout, /^\s+42$/m);
  // The recording holds the rows as the client received them: masked (nobody here may unmask).
  const c1 = seedCustomer(1);
  assert.notEqual(clear.rows[0].ssn, c1.ssn, 'the client got the SSN masked');
  assert.match(preplay.stdout, /ssn \| card/);
  assert.ok(!preplay.stdout.includes(c1.ssn) && !preplay.stdout.includes(c1.card), 'no clear value in the recording');
  assert.ok(preplay.stdout.includes(String(clear.rows[0].ssn)), 'the recording shows the masked value the client saw');

  const list = await gatehouse(['sessions', 'list', '--identity', 'auditor-check', '--config', gw.configFile]);
  assert.equal(list.code, 0, list.stderr);
  const sid = /^(ses_\S+)/m.exec(list.stdout)?.[1];
  assert.ok(sid, list.stdout);
  const replay = await gatehouse(['replay', sid, '--config', gw.configFile]);
  assert.equal(replay.code, 0, replay.stderr);
  assert.match(replay.stdout, /> SELECT id, name FROM customers ORDER BY id LIMIT 5/);
  assert.match(replay.stdout, /< ok, 5 rows/);
  // The first rows of the result as the client received them (resultRows: 3).
  assert.match(replay.stdout, /id \| name/);
  assert.match(replay.stdout, /^\s+1 \| \S/m);
  assert.match(replay.stdout, /first 3 rows kept/);
  assert.match(replay.stdout, /> UPDATE accounts/);
  assert.match(replay.stdout, /session closed/);
  const json = await gatehouse(['replay', sid, '--json', '--config', gw.configFile]);
  const lines = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string });
  assert.equal(lines[0]!.type, 'session.opened');
});

test('tampering with the SQLite file (sqlite3 tool) makes verify fail naming the record', async () => {
  // Work on a copy of the state so the live gateway is untouched.
  const copy = join(work, 'tampered');
  await run('cp', ['-r', gw.stateDir, copy]);
  await copyFile(gw.configFile, join(work, 'tampered.yaml'));
  await writeFile(join(work, 'tampered.yaml'), (await readFile(gw.configFile, 'utf8')).replace('state: ./state', `state: ${copy}`));
  const cfg = join(work, 'tampered.yaml');
  const before = await gatehouse(['audit', 'verify', '--config', cfg]);
  assert.equal(before.code, 0, before.stderr);
  const tables = await run('sqlite3', [join(copy, 'gatehouse.db'), '.tables']);
  assert.match(tables.stdout, /envelopes/);
  const edit = await run('sqlite3', [join(copy, 'gatehouse.db'), "UPDATE envelopes SET body = replace(body, 'auditor-check', 'someone-else') WHERE seq = (SELECT min(seq) FROM envelopes WHERE body LIKE '%auditor-check%')"]);
  assert.equal(edit.code, 0, edit.stderr);
  const after = await gatehouse(['audit', 'verify', '--config', cfg]);
  assert.notEqual(after.code, 0);
  assert.match(after.stderr, /first bad record: seq \d+/);
  // Deleting a record is caught too.
  await run('cp', ['-r', gw.stateDir + '/.', copy]);
  await run('sqlite3', [join(copy, 'gatehouse.db'), 'DELETE FROM envelopes WHERE seq = 3']);
  const deleted = await gatehouse(['audit', 'verify', '--config', cfg]);
  assert.notEqual(deleted.code, 0);
  assert.match(deleted.stderr, /seq 3|sequence/);
});

test('kill -9 under load: after restart verify passes and every statement the upstream logged has its event', async () => {
  const clients = await Promise.all(
    [0, 1, 2, 3].map(async (i) => {
      const c = new pg.Client({ host: '127.0.0.1', port: gw.port, database: 'customers', user: `loader-${i}`, password: await gw.token({ sub: `loader-${i}` }) });
      c.on('error', () => {});
      await c.connect();
      return c;
    }),
  );
  let n = 0;
  let stop = false;
  const loops = clients.map(async (c, i) => {
    while (!stop) {
      try {
        await c.query(`SELECT 'crash-mark-${i}-${n++}' AS m`);
      } catch {
        return;
      }
    }
  });
  await new Promise((r) => setTimeout(r, 1500));
  await gw.stop('SIGKILL');
  stop = true;
  await Promise.all(loops);
  gw = await startGatehouse({ host: '', port: 0, database: '', user: '' }, { restartOf: gw });
  const verify = await gatehouse(['audit', 'verify', '--config', gw.configFile]);
  assert.equal(verify.code, 0, verify.stderr);
  const upstream = await readServerLog(cluster);
  const logged = new Set([...upstream.matchAll(/crash-mark-\d+-\d+/g)].map((m) => m[0]));
  assert.ok(logged.size > 10, `upstream ran ${logged.size} marked statements`);
  const events = await gw.events();
  const recorded = new Set(events.filter((e) => e.type === 'statement.started').map((e) => /crash-mark-\d+-\d+/.exec(String(e.body.statement))?.[0]));
  const missing = [...logged].filter((m) => !recorded.has(m));
  assert.deepEqual(missing, [], 'statements that reached the upstream without an event');
});
