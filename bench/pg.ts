// `npm run bench:pg`: pgbench -S (select-only) directly against Postgres,
// through pgbouncer (session mode) and through Gatehouse (event writing on),
// in one run on this machine; prints TPS for each and the ratios.
//
// Environment: BENCH_SECONDS (default 15), BENCH_CLIENTS (default 4).

import { startPostgres } from '../test/harness/postgres.ts';
import { startPgbouncer } from '../test/harness/pgbouncer.ts';
import { initPgbench, parsePgbench } from '../test/harness/pgbench.ts';
import { startGatehouse, removeDir } from '../test/harness/gateway.ts';
import { run } from '../test/harness/run.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 15);
const clients = Number(process.env.BENCH_CLIENTS ?? 4);

async function pgbench(label: string, port: number, user: string, db: string, password: string): Promise<number> {
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
const gw = await startGatehouse({ host: cluster.host, port: cluster.port, database: cluster.database, user: cluster.appUser, password: cluster.appPassword }, { extraYaml: '' });
try {
  await initPgbench(cluster, { scale: 10 });
  console.log(`pgbench -S -M simple, ${clients} clients, ${seconds} s each, scale 10 (machine: ${(await import('node:os')).cpus().length} cores)`);
  const direct = await pgbench('direct', cluster.port, cluster.appUser, cluster.database, cluster.appPassword);
  const bounced = await pgbench('pgbouncer (session)', bouncer.port, cluster.appUser, cluster.database, cluster.appPassword);
  const gated = await pgbench('gatehouse (events on)', gw.port, 'bench', 'customers', await gw.token({ sub: 'bench', groups: ['agents'], ttlSeconds: 3600 }));
  console.log('');
  console.log(`gatehouse / pgbouncer = ${(gated / bounced).toFixed(2)}x   (target >= 0.70x)`);
  console.log(`gatehouse / direct    = ${(gated / direct).toFixed(2)}x`);
  console.log(`pgbouncer / direct    = ${(bounced / direct).toFixed(2)}x`);
} finally {
  await gw.stop('SIGTERM');
  await removeDir(gw.dir);
  await bouncer.stop();
  await cluster.stop();
}
