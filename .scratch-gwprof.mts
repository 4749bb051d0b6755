import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres } from './test/harness/postgres.ts';
import { freePort } from './test/harness/ports.ts';
import { runOk, childEnv } from './test/harness/run.ts';
import { DevIssuer } from './src/infra/idp/dev-issuer.ts';
const N = Number(process.env.N ?? 400000);
const cluster = await startPostgres();
await cluster.psql(`CREATE TABLE people (id int PRIMARY KEY, name text, ssn text, card text, iban text);
 INSERT INTO people SELECT g, 'Person ' || g, format('%s-%s-%s', 100 + g % 500, lpad((10 + g % 89)::text, 2, '0'), 1000 + g % 9000), '4' || lpad(g::text, 15, '0'), 'DE' || lpad((g % 100)::text, 2, '0') || lpad(g::text, 18, '0') FROM generate_series(1, ${N}) g;`, { user: 'app', timeoutMs: 600000 });
const dir = await mkdtemp(join(tmpdir(), 'gwp-'));
await writeFile(join(dir, 'p.cedar'), 'permit (principal, action in [Gatehouse::Action::"connect", Gatehouse::Action::"sql:read"], resource);');
const port = await freePort(); const admin = await freePort();
const cfg = join(dir, 'g.yaml');
await writeFile(cfg, `listen: { postgres: 127.0.0.1:${port}, admin: 127.0.0.1:${admin} }
state: ./state
log: { level: info }
identity: { dev: true }
policy: { dir: "${dir}" }
connections:
  - name: bench
    protocol: postgres
    upstream: { host: 127.0.0.1, port: ${cluster.port}, database: bank, user: app, password: "vault:b", tls: disable }
masking:
  columnRules:
    - { column: "bench/public.people.ssn", class: us_ssn }
    - { column: "bench/public.people.card", class: payment_card }
    - { column: "bench/public.people.iban", class: iban }
  strategies: { us_ssn: partial, payment_card: { kind: token, scope: identity }, iban: redact }
`);
const env = childEnv({ GATEHOUSE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') });
await runOk(process.execPath, ['bin/gatehouse.js', 'vault', 'set', 'b', '--config', cfg], { env, input: cluster.appPassword + '\n', timeoutMs: 60000 });
const child = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir=/tmp/gwprof', 'bin/gatehouse.js', 'up', '--config', cfg], { env, stdio: ['ignore', 'pipe', 'pipe'] });
let out = ''; child.stdout!.on('data', (d) => (out += d)); child.stderr!.on('data', (d) => (out += d));
while (!out.includes('Gatehouse is running')) await new Promise((r) => setTimeout(r, 100));
const issuer = await DevIssuer.load(join(dir, 'state'));
const c = new pg.Client({ host: '127.0.0.1', port, database: 'bench', user: 'a', password: await issuer.sign({ sub: 'a', groups: ['agents'], claims: {}, ttlSeconds: 900 }) });
await c.connect();
for (let k = 0; k < 2; k++) {
const t = Date.now(); let rows = 0;
await new Promise<void>((res, rej) => { const q = c.query(new pg.Query({ text: 'SELECT id, name, ssn, card, iban FROM people', rowMode: 'array' })); q.on('row', () => rows++); q.on('end', () => res()); q.on('error', rej); });
console.log('rows', rows, 'ms', Date.now() - t);
}
await c.end();
child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r));
await cluster.stop();
