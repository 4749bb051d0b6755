// `npm run bench:pg`: pgbench -S (select-only) directly against Postgres,
// through pgbouncer (session mode) and through Gatehouse (event writing on:
// audit durability 'full', the default, and 'normal'), in one run on this
// machine; prints TPS for each and the ratios, per client count.
//
// Environment: BENCH_SECONDS (default 15), BENCH_CLIENTS (comma-separated,
// default "4,16").

import { startPostgres } from '../test/harness/postgres.ts';
import { startPgbouncer } from '../test/harness/pgbouncer.ts';
import { initPgbench, parsePgbench } from '../test/harness/pgbench.ts';
import { startGatehouse, removeDir } from '../test/harness/gateway.ts';
import { run } from '../test/harness/run.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 15);
const clientCounts = (process.env.BENCH_CLIENTS ?? '4,16').split(',').map(Number);

async function pgbench(clients: number, label: string, port: number, user: string, db: string, password: string): Promise<number> {
  const r = await run('pgbench', ['-n', '-S', '-M', 'simple', '-c', String(clients), '-j', '2', '-T', String(seconds), `host=127.0.0.1 port=${port} dbname=${db} user=${user}`], {
    env: { PGPASSWORD: password },
    timeoutMs: (seconds + 60) * 1000,
  });
  if (r.code !== 0) throw new Error(`${label}: pgbench failed:\n${r.stderr}`);
  const rep = parsePgbench(r.stdout);
  if (rep.failed) throw new Error(`${label}: ${rep.failed} failed transactions`);
  console.log(`${label.padEnd(22)} ${rep.tps.toFixed(0).padStart(8)} tps   latency ${rep.latencyMs?.toFixed(3)} ms`);
  return rep.tps;
}

const cluster = await startPostgres();
const bouncer = await startPgbouncer({ host: cluster.host, port: cluster.port, user: cluster.appUser, password: cluster.appPassword, database: cluster.database });
const upstream = { host: cluster.host, port: cluster.port, database: cluster.database, user: cluster.appUser, password: cluster.appPassword };
const gw = await startGatehouse(upstream, { extraYaml: '' });
const gwNormal = await startGatehouse(upstream, { extraYaml: 'audit:\n  durability: normal\n' });
try {
  await initPgbench(cluster, { scale: 10 });
  const tokenFull = await gw.token({ sub: 'bench', groups: ['agents'], ttlSeconds: 3600 });
  const tokenNormal = await gwNormal.token({ sub: 'bench', groups: ['agents'], ttlSeconds: 3600 });
  const summary: string[] = [];
  for (const clients of clientCounts) {
    console.log(`pgbench -S -M simple, ${clients} clients, ${seconds} s each, scale 10 (machine: ${(await import('node:os')).cpus().length} cores)`);
    const direct = await pgbench(clients, 'direct', cluster.port, cluster.appUser, cluster.database, cluster.appPassword);
    const bounced = await pgbench(clients, 'pgbouncer (session)', bouncer.port, cluster.appUser, cluster.database, cluster.appPassword);
    const gated = await pgbench(clients, 'gatehouse (full)', gw.port, 'bench', 'customers', tokenFull);
    const gatedNormal = await pgbench(clients, 'gatehouse (normal)', gwNormal.port, 'bench', 'customers', tokenNormal);
    console.log('');
    summary.push(
      `${String(clients).padStart(3)} clients: gatehouse/pgbouncer = ${(gated / bounced).toFixed(2)}x with durability full, ${(gatedNormal / bounced).toFixed(2)}x with normal` +
        `   (target >= 0.70x); gatehouse(full)/direct = ${(gated / direct).toFixed(2)}x, pgbouncer/direct = ${(bounced / direct).toFixed(2)}x`,
    );
  }
  for (const line of summary) console.log(line);
} finally {
  await gw.stop('SIGTERM');
  await gwNormal.stop('SIGTERM');
  await removeDir(gw.dir);
  await removeDir(gwNormal.dir);
  await bouncer.stop();
  await cluster.stop();
}
