// `npm run bench:mask`: one run that reads a 1,000,000-row result with three
// sensitive columns (ssn, card, iban, bound by column rules) with
// node-postgres, directly from Postgres, through Gatehouse with masking off
// (a principal who may unmask every class: the zero-copy fast path) and
// through Gatehouse with masking on; prints rows per second, the ratios and
// Gatehouse's peak RSS per phase.
//
// Targets (issue 4): masking on ≤ 2.5× the direct wall time; memory flat
// (the peak does not grow with the row count: compare the 100k and 1M runs).
//
// Wall time on a small machine includes CPU contention between Postgres, the
// client and Gatehouse, so the run also prints Gatehouse's own CPU time per
// row (utime + stime from /proc), which does not depend on machine load, and
// a second Gatehouse whose strategies use no `token` (the HMAC is the single
// largest cost).
//
// Environment: BENCH_ROWS (default 1000000), BENCH_REPEAT (default 1: best of N).

import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres } from '../test/harness/postgres.ts';
import { removeDir, startGatehouse } from '../test/harness/gateway.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 1);
const QUERY = (n: number): string => `SELECT id, name, ssn, card, iban FROM people WHERE id <= ${n}`;

const POLICY = `
@id("connect-read")
permit (principal, action in [Gatehouse::Action::"connect", Gatehouse::Action::"sql:read"], resource in Gatehouse::Connection::"bench");
@id("auditors-unmask-all")
permit (principal in Gatehouse::Group::"auditors", action == Gatehouse::Action::"unmask", resource);
`;
const MASKING = (card: string): string => `
masking:
  columnRules:
    - { column: "bench/public.people.ssn", class: us_ssn }
    - { column: "bench/public.people.card", class: payment_card }
    - { column: "bench/public.people.iban", class: iban }
  strategies:
    us_ssn: partial
    payment_card: ${card}
    iban: redact
  defaultStrategy: redact
`;

const cluster = await startPostgres();
const policyDir = await mkdtemp(join(tmpdir(), 'gatehouse-bench-policy-'));
await writeFile(join(policyDir, 'bench.cedar'), POLICY);
console.log(`seeding ${ROWS.toLocaleString('en')} rows…`);
await cluster.psql(
  `CREATE TABLE people (id int PRIMARY KEY, name text, ssn text, card text, iban text);
   INSERT INTO people
   SELECT g, 'Person ' || g,
          format('%s-%s-%s', 100 + g % 500, lpad((10 + g % 89)::text, 2, '0'), 1000 + g % 9000),
          '4' || lpad(g::text, 15, '0'),
          'DE' || lpad((g % 100)::text, 2, '0') || lpad(g::text, 18, '0')
   FROM generate_series(1, ${ROWS}) g;
   VACUUM ANALYZE people;`,
  { user: 'app', timeoutMs: 600_000 },
);
const target = { host: cluster.host, port: cluster.port, database: cluster.database, user: cluster.appUser, password: cluster.appPassword };
const gw = await startGatehouse(target, { connectionName: 'bench', extraYaml: `policy: { dir: "${policyDir}" }\n${MASKING('{ kind: token, scope: identity }')}` });
const gwNoToken = await startGatehouse(target, { connectionName: 'bench', extraYaml: `policy: { dir: "${policyDir}" }\n${MASKING('partial')}` });

interface Result {
  seconds: number;
  rows: number;
  peakRss: number;
  /** Gatehouse CPU seconds (user + system) during the read. */
  cpu: number;
  sample: unknown[];
}

async function cpuSeconds(pid: number): Promise<number> {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

async function read(label: string, config: pg.ClientConfig, n: number, watchRss: boolean, g = gw): Promise<Result> {
  let best: Result | null = null;
  for (let i = 0; i < REPEAT; i++) {
    const c = new pg.Client(config);
    await c.connect();
    await c.query('SELECT 1'); // warm the session (catalog read, plan caches)
    let peakRss = watchRss ? await g.rss() : 0;
    const cpu0 = watchRss ? await cpuSeconds(g.child.pid!) : 0;
    const sampler = watchRss
      ? setInterval(() => {
          void g.rss().then((r) => (peakRss = Math.max(peakRss, r)), () => undefined);
        }, 50)
      : undefined;
    let rows = 0;
    let sample: unknown[] = [];
    const started = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      // Rows as objects, the way applications use node-postgres; streamed, so the client holds none of them.
      const q = c.query(new pg.Query(QUERY(n)));
      q.on('row', (r: Record<string, unknown>) => {
        if (rows++ === 0) sample = Object.values(r);
      });
      q.on('end', () => resolve());
      q.on('error', reject);
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (sampler) clearInterval(sampler);
    if (watchRss) peakRss = Math.max(peakRss, await g.rss());
    const cpu = watchRss ? (await cpuSeconds(g.child.pid!)) - cpu0 : 0;
    await c.end();
    if (rows !== n) throw new Error(`${label}: read ${rows} rows, expected ${n}`);
    if (!best || seconds < best.seconds) best = { seconds, rows, peakRss, cpu, sample };
  }
  const r = best!;
  console.log(
    `${label.padEnd(44)} ${(r.rows / r.seconds).toFixed(0).padStart(9)} rows/s   ${r.seconds.toFixed(2).padStart(6)} s` +
      (watchRss ? `   gatehouse CPU ${((r.cpu / r.rows) * 1e6).toFixed(2)} µs/row, peak RSS ${(r.peakRss / 1048576).toFixed(0)} MB` : '') +
      `   e.g. ${JSON.stringify(r.sample.slice(2))}`,
  );
  return r;
}

try {
  const direct: pg.ClientConfig = { host: cluster.host, port: cluster.port, database: cluster.database, user: cluster.appUser, password: cluster.appPassword };
  const via = async (sub: string, groups: string[]): Promise<pg.ClientConfig> => ({
    host: '127.0.0.1',
    port: gw.port,
    database: 'bench',
    user: sub,
    password: await gw.token({ sub, groups, ttlSeconds: 3600 }),
  });
  const off = await via('auditor', ['auditors']);
  const on = await via('agent', ['agents']);
  const onNoToken = { ...on, port: gwNoToken.port, password: await gwNoToken.token({ sub: 'agent', groups: ['agents'], ttlSeconds: 3600 }) };
  console.log(`node-postgres (rows as objects, streamed with 'row' events), text format; ${cpus().length} cores; best of ${REPEAT}`);
  const rss0 = await gw.rss();
  console.log(`gatehouse RSS at rest: ${(rss0 / 1048576).toFixed(0)} MB`);
  const small = Math.max(1, Math.floor(ROWS / 10));
  await read(`gatehouse, masking on (${small.toLocaleString('en')} rows)`, on, small, true);
  const d = await read('direct', direct, ROWS, false);
  const f = await read('gatehouse, masking off (unmask all)', off, ROWS, true);
  const m = await read('gatehouse, masking on', on, ROWS, true);
  const t = await read('gatehouse, masking on, no token strategy', onNoToken, ROWS, true, gwNoToken);
  console.log('');
  console.log(`masking on  / direct      = ${(m.seconds / d.seconds).toFixed(2)}x wall time   (target <= 2.50x)`);
  console.log(`masking off / direct      = ${(f.seconds / d.seconds).toFixed(2)}x wall time`);
  console.log(`masking on  / masking off = ${(m.seconds / f.seconds).toFixed(2)}x wall time`);
  console.log(`no token    / direct      = ${(t.seconds / d.seconds).toFixed(2)}x wall time   (ssn partial, card partial, iban redact)`);
  console.log(`gatehouse CPU per row: masking off ${((f.cpu / f.rows) * 1e6).toFixed(2)} µs, on ${((m.cpu / m.rows) * 1e6).toFixed(2)} µs, on without token ${((t.cpu / t.rows) * 1e6).toFixed(2)} µs`);
  console.log(`gatehouse peak RSS: masking off ${(f.peakRss / 1048576).toFixed(0)} MB, masking on ${(m.peakRss / 1048576).toFixed(0)} MB (at rest ${(rss0 / 1048576).toFixed(0)} MB)`);
} finally {
  await gw.stop('SIGTERM');
  await gwNoToken.stop('SIGTERM');
  await removeDir(gwNoToken.dir);
  await removeDir(gw.dir);
  await removeDir(policyDir);
  await cluster.stop();
}
