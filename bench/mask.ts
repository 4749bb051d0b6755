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
// Environment: BENCH_ROWS (default 1000000), BENCH_REPEAT (default 1: best of N).

import { mkdtemp, writeFile } from 'node:fs/promises';
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
const MASKING = `
masking:
  columnRules:
    - { column: "bench/public.people.ssn", class: us_ssn }
    - { column: "bench/public.people.card", class: payment_card }
    - { column: "bench/public.people.iban", class: iban }
  strategies:
    us_ssn: partial
    payment_card: { kind: token, scope: identity }
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
const gw = await startGatehouse(
  { host: cluster.host, port: cluster.port, database: cluster.database, user: cluster.appUser, password: cluster.appPassword },
  { connectionName: 'bench', extraYaml: `policy: { dir: "${policyDir}" }\n${MASKING}`, postgresYaml: '' },
);

interface Result {
  seconds: number;
  rows: number;
  peakRss: number;
  sample: unknown[];
}

async function read(label: string, config: pg.ClientConfig, n: number, watchRss: boolean): Promise<Result> {
  let best: Result | null = null;
  for (let i = 0; i < REPEAT; i++) {
    const c = new pg.Client(config);
    await c.connect();
    await c.query('SELECT 1'); // warm the session (catalog read, plan caches)
    let peakRss = watchRss ? await gw.rss() : 0;
    const sampler = watchRss
      ? setInterval(() => {
          void gw.rss().then((r) => (peakRss = Math.max(peakRss, r)), () => undefined);
        }, 50)
      : undefined;
    let rows = 0;
    let sample: unknown[] = [];
    const started = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const q = c.query(new pg.Query({ text: QUERY(n), rowMode: 'array' }));
      q.on('row', (r: unknown[]) => {
        if (rows++ === 0) sample = r;
      });
      q.on('end', () => resolve());
      q.on('error', reject);
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (sampler) clearInterval(sampler);
    if (watchRss) peakRss = Math.max(peakRss, await gw.rss());
    await c.end();
    if (rows !== n) throw new Error(`${label}: read ${rows} rows, expected ${n}`);
    if (!best || seconds < best.seconds) best = { seconds, rows, peakRss, sample };
  }
  const r = best!;
  console.log(
    `${label.padEnd(34)} ${(r.rows / r.seconds).toFixed(0).padStart(9)} rows/s   ${r.seconds.toFixed(2).padStart(6)} s` +
      (watchRss ? `   gatehouse peak RSS ${(r.peakRss / 1048576).toFixed(0)} MB` : '') +
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
  console.log(`node-postgres, text format, rows streamed ('row' events); ${cpus().length} cores; best of ${REPEAT}`);
  const rss0 = await gw.rss();
  console.log(`gatehouse RSS at rest: ${(rss0 / 1048576).toFixed(0)} MB`);
  const small = Math.max(1, Math.floor(ROWS / 10));
  await read(`gatehouse, masking on (${small.toLocaleString('en')} rows)`, on, small, true);
  const d = await read('direct', direct, ROWS, false);
  const f = await read('gatehouse, masking off (unmask all)', off, ROWS, true);
  const m = await read('gatehouse, masking on', on, ROWS, true);
  console.log('');
  console.log(`masking on  / direct     = ${(m.seconds / d.seconds).toFixed(2)}x wall time   (target <= 2.50x)`);
  console.log(`masking off / direct     = ${(f.seconds / d.seconds).toFixed(2)}x wall time`);
  console.log(`masking on  / masking off = ${(m.seconds / f.seconds).toFixed(2)}x wall time`);
  console.log(`gatehouse peak RSS: masking off ${(f.peakRss / 1048576).toFixed(0)} MB, masking on ${(m.peakRss / 1048576).toFixed(0)} MB (at rest ${(rss0 / 1048576).toFixed(0)} MB)`);
} finally {
  await gw.stop('SIGTERM');
  await removeDir(gw.dir);
  await removeDir(policyDir);
  await cluster.stop();
}
