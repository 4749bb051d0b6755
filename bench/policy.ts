// `npm run bench:policy`: policy decision cost and its effect on throughput.
//
// 1. In-process: decisions per second and added latency per statement (p50,
//    p99) — classification with the real Postgres parser plus the Cedar
//    decision — for a realistic statement mix, with the caches cold (every
//    statement new to the classifier and the decision cache) and warm.
// 2. pgbench -S through Gatehouse with the Cedar policy on, and with the
//    interim group rule instead (policy off), in one run; prints the ratio.
//
// Environment: BENCH_SECONDS (default 15), BENCH_CLIENTS (default 4).

import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initClassifier } from '../src/core/classify/sql/postgres.ts';
import { ClassificationCache } from '../src/core/classify/sql/cache.ts';
import { DEFAULT_SEARCH_PATH } from '../src/core/classify/sql/types.ts';
import { loadPolicyDir } from '../src/infra/policy/load.ts';
import type { Principal } from '../src/core/identity/principal.ts';
import { startPostgres } from '../test/harness/postgres.ts';
import { initPgbench, parsePgbench } from '../test/harness/pgbench.ts';
import { startGatehouse, removeDir } from '../test/harness/gateway.ts';
import { run } from '../test/harness/run.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 15);
const clients = Number(process.env.BENCH_CLIENTS ?? 4);

const MIX = [
  (i: number) => `SELECT abalance FROM pgbench_accounts WHERE aid = ${i}`,
  (i: number) => `SELECT c.name, count(*) FROM customers c JOIN transactions t ON t.customer_id = c.id WHERE c.id = ${i} GROUP BY c.name`,
  (i: number) => `UPDATE pgbench_accounts SET abalance = abalance + ${i} WHERE aid = ${i}`,
  (i: number) => `INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (${i}, 1, ${i}, 5, now())`,
  (i: number) => `WITH recent AS (SELECT * FROM transactions WHERE amount > ${i}) SELECT count(*) FROM recent`,
  (i: number) => `SELECT * FROM customers WHERE email = 'user${i}@example.com'`,
  () => 'BEGIN',
  () => 'COMMIT',
];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function inProcess(): Promise<void> {
  await initClassifier();
  const dir = await mkdtemp(join(tmpdir(), 'gh-bench-policy-'));
  const principal: Principal = { issuer: 'https://idp', subject: 'ci-bot', kind: 'workload', groups: ['agents'], claims: { repository: 'acme/app' }, expiresAt: undefined };
  const measure = (label: string, n: number, fresh: boolean) => {
    const authz = loadPolicyDir(join(import.meta.dirname, '../policy/demo'));
    const cache = new ClassificationCache();
    const lat: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      // Cold: a distinct text (string literal) per statement defeats both caches.
      const sql = MIX[i % MIX.length]!(i) + (fresh ? ` /* ${i} */` : '');
      const s = performance.now();
      const c = cache.classify(sql, { searchPath: DEFAULT_SEARCH_PATH });
      authz.decideStatement(principal, 'demo', c, { clientAddress: '10.0.0.1', time: Date.now() });
      lat.push((performance.now() - s) * 1000);
    }
    const total = performance.now() - t0;
    lat.sort((a, b) => a - b);
    console.log(
      `${label.padEnd(12)} ${(n / (total / 1000)).toFixed(0).padStart(8)} decisions/s   p50 ${percentile(lat, 50).toFixed(1).padStart(6)} µs   p99 ${percentile(lat, 99).toFixed(1).padStart(7)} µs`,
    );
  };
  console.log('policy decision (classify + decide) for a mix of 8 statement shapes:');
  measure('cold cache', 5000, true);
  measure('warm cache', 50000, false);
  await removeDir(dir);
}

async function pgbench(port: number, token: string): Promise<number> {
  const r = await run('pgbench', ['-n', '-S', '-M', 'simple', '-c', String(clients), '-j', '2', '-T', String(seconds), `host=127.0.0.1 port=${port} dbname=customers user=bench sslmode=disable`], {
    env: { PGPASSWORD: token },
    timeoutMs: (seconds + 60) * 1000,
  });
  if (r.code !== 0) throw new Error(r.stderr);
  return parsePgbench(r.stdout).tps;
}

async function throughput(): Promise<void> {
  const cluster = await startPostgres();
  const policyDir = await mkdtemp(join(tmpdir(), 'gh-bench-policy-'));
  await writeFile(
    join(policyDir, 'bench.cedar'),
    `@id("agents-connect") permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"connect", resource);
@id("agents-read") permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"sql:read", resource);
@id("no-ddl") forbid (principal, action == Gatehouse::Action::"sql:ddl", resource);`,
  );
  const target = { host: cluster.host, port: cluster.port, database: cluster.database, user: cluster.appUser, password: cluster.appPassword };
  const on = await startGatehouse(target, { extraYaml: `policy: { dir: "${policyDir}" }\n` });
  const off = await startGatehouse(target);
  try {
    await initPgbench(cluster, { scale: 10 });
    const tokenOn = await on.token({ sub: 'bench', groups: ['agents'], ttlSeconds: 3600 });
    const tokenOff = await off.token({ sub: 'bench', groups: ['agents'], ttlSeconds: 3600 });
    // Alternate to even out machine noise.
    const tOff1 = await pgbench(off.port, tokenOff);
    const tOn1 = await pgbench(on.port, tokenOn);
    const tOff2 = await pgbench(off.port, tokenOff);
    const tOn2 = await pgbench(on.port, tokenOn);
    const tpsOff = (tOff1 + tOff2) / 2;
    const tpsOn = (tOn1 + tOn2) / 2;
    console.log('');
    console.log(`pgbench -S -M simple, ${clients} clients, 2 × ${seconds} s each, alternating`);
    console.log(`gatehouse, policy off (group rule)  ${tpsOff.toFixed(0).padStart(8)} tps   (${tOff1.toFixed(0)}, ${tOff2.toFixed(0)})`);
    console.log(`gatehouse, Cedar policy on          ${tpsOn.toFixed(0).padStart(8)} tps   (${tOn1.toFixed(0)}, ${tOn2.toFixed(0)})`);
    console.log(`policy on / off = ${(tpsOn / tpsOff).toFixed(2)}x   (target >= 0.90x)`);
  } finally {
    await on.stop();
    await off.stop();
    await removeDir(on.dir);
    await removeDir(off.dir);
    await removeDir(policyDir);
    await cluster.stop();
  }
}

await inProcess();
await throughput();
