// `npm run bench:audit`: the audit log's cost, in one run.
//
// 1. Events appended per second with durability on (group commit; the
//    append microbenchmark in bench/audit-append.ts, one repeat per setting).
// 2. pgbench -S through Gatehouse with the audit log on, and with the event
//    path replaced by a no-op sink (log off), both in this process, alternated;
//    prints TPS, the added latency per statement, and the ratio.
//
// Environment: BENCH_SECONDS (default 15), BENCH_CLIENTS (default 4), BENCH_EVENTS (default 100000).

import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseConfig } from '../src/config/load.ts';
import { startGateway, type Gateway } from '../src/server/gateway.ts';
import type { EventSink } from '../src/core/ports.ts';
import { silentLogger } from '../src/core/logger.ts';
import { DevIssuer } from '../src/infra/idp/dev-issuer.ts';
import { startPostgres } from '../test/harness/postgres.ts';
import { initPgbench, parsePgbench } from '../test/harness/pgbench.ts';
import { freePort } from '../test/harness/ports.ts';
import { run, childEnv } from '../test/harness/run.ts';
import { removeDir } from '../test/harness/gateway.ts';
import { randomBytes } from 'node:crypto';

const seconds = Number(process.env.BENCH_SECONDS ?? 15);
const clients = Number(process.env.BENCH_CLIENTS ?? 4);
const events = Number(process.env.BENCH_EVENTS ?? 100_000);

console.log(`1. audit append throughput (durability full), ${events} events:`);
const micro = await run(process.execPath, ['--import', 'tsx', resolve(import.meta.dirname, 'audit-append.ts'), String(events), '1'], { timeoutMs: 600_000, env: childEnv({}) });
process.stdout.write(micro.stdout);
if (micro.code !== 0) throw new Error(micro.stderr);

const cluster = await startPostgres();
await initPgbench(cluster, { scale: 10 });
process.env.GATEHOUSE_MASTER_KEY = randomBytes(32).toString('base64');

async function gateway(label: string, sink?: EventSink, durability = 'full'): Promise<{ gw: Gateway; token: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), `gh-bench-audit-${label}-`));
  const config = parseConfig(
    `listen: { postgres: 127.0.0.1:${await freePort()}, admin: 127.0.0.1:${await freePort()} }
state: ${dir}
identity: { dev: true }
audit: { durability: ${durability} }
connections:
  - name: customers
    protocol: postgres
    upstream: { host: 127.0.0.1, port: ${cluster.port}, database: bank, user: app, password: "vault:db", tls: disable }
    allow: { groups: [agents] }
`,
    process.env,
  );
  const { Vault } = await import('../src/infra/vault/vault.ts');
  Vault.open({ stateDir: dir, allowDevKey: true }).set('db', cluster.appPassword);
  const gw = await startGateway({ config, log: silentLogger, ...(sink ? { events: sink } : {}) });
  const token = await (await DevIssuer.load(dir)).sign({ sub: 'bench', groups: ['agents'], ttlSeconds: 3600 });
  return { gw, token, dir };
}

interface PgbenchRun {
  tps: number;
  latency: number;
  /** Per-transaction latencies (ms) from pgbench's transaction log (-l). */
  samples: number[];
}

async function pgbench(port: number, token: string): Promise<PgbenchRun> {
  const logDir = await mkdtemp(join(tmpdir(), 'gh-bench-audit-log-'));
  try {
    const r = await run(
      'pgbench',
      ['-n', '-S', '-M', 'simple', '-c', String(clients), '-j', '2', '-T', String(seconds), '-l', `--log-prefix=${join(logDir, 'tx')}`, `host=127.0.0.1 port=${port} dbname=customers user=bench sslmode=disable`],
      { env: { PGPASSWORD: token }, timeoutMs: (seconds + 60) * 1000 },
    );
    if (r.code !== 0) throw new Error(r.stderr);
    const p = parsePgbench(r.stdout);
    // Each line: client_id transaction_no time_us script_no epoch epoch_us (pgbench docs, "Per-Transaction Logging").
    const samples: number[] = [];
    for (const f of await readdir(logDir)) {
      for (const line of (await readFile(join(logDir, f), 'utf8')).split('\n')) {
        const us = Number(line.split(' ')[2]);
        if (line && Number.isFinite(us)) samples.push(us / 1000);
      }
    }
    return { tps: p.tps, latency: p.latencyMs ?? NaN, samples };
  } finally {
    await removeDir(logDir);
  }
}

function percentile(xs: number[], q: number): number {
  const sorted = [...xs].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? NaN;
}

let seq = 0;
const nullSink: EventSink = { append: async (e) => ({ ...e, seq: ++seq }) };
const on = await gateway('on');
const onNormal = await gateway('normal', undefined, 'normal');
const off = await gateway('off', nullSink);
try {
  const runs = { on: [] as PgbenchRun[], normal: [] as PgbenchRun[], off: [] as PgbenchRun[] };
  for (let i = 0; i < 2; i++) {
    runs.off.push(await pgbench(off.gw.postgres.port, off.token));
    runs.on.push(await pgbench(on.gw.postgres.port, on.token));
    runs.normal.push(await pgbench(onNormal.gw.postgres.port, onNormal.token));
  }
  const avg = (xs: PgbenchRun[], k: 'tps' | 'latency') => xs.reduce((acc, x) => acc + x[k], 0) / xs.length;
  const pct = (xs: PgbenchRun[], q: number) => percentile(xs.flatMap((x) => x.samples), q);
  const line = (label: string, xs: PgbenchRun[]) =>
    console.log(`${label.padEnd(32)} ${avg(xs, 'tps').toFixed(0).padStart(8)} tps   latency avg ${avg(xs, 'latency').toFixed(3)} ms, p50 ${pct(xs, 0.5).toFixed(3)} ms, p99 ${pct(xs, 0.99).toFixed(3)} ms`);
  console.log('');
  console.log(`2. pgbench -S -M simple, ${clients} clients, 2 × ${seconds} s each, alternating (2 events per statement when on; latencies from pgbench -l)`);
  line('audit log off (no-op sink)', runs.off);
  line('audit log on, durability full', runs.on);
  line('audit log on, durability normal', runs.normal);
  for (const [label, xs] of [['full', runs.on], ['normal', runs.normal]] as const) {
    console.log(
      `added latency per statement, durability ${label}: p50 ${(pct(xs, 0.5) - pct(runs.off, 0.5)).toFixed(3)} ms, p99 ${(pct(xs, 0.99) - pct(runs.off, 0.99)).toFixed(3)} ms, avg ${(avg(xs, 'latency') - avg(runs.off, 'latency')).toFixed(3)} ms`,
    );
  }
  console.log(`log on (full) / off   = ${(avg(runs.on, 'tps') / avg(runs.off, 'tps')).toFixed(2)}x   (target >= 0.85x)`);
  console.log(`log on (normal) / off = ${(avg(runs.normal, 'tps') / avg(runs.off, 'tps')).toFixed(2)}x`);
} finally {
  await on.gw.stop();
  await onNormal.gw.stop();
  await off.gw.stop();
  await removeDir(onNormal.dir);
  await removeDir(on.dir);
  await removeDir(off.dir);
  await cluster.stop();
}
