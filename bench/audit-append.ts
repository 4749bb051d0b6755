/**
 * Audit log append throughput (issue 5 target: ≥ 20,000 events/s with
 * durability on). Closed loop: C concurrent "sessions", each awaiting its
 * append before issuing the next — what a statement path does before
 * forwarding. Runs, in one go, the baseline without group commit (C = 1:
 * one fsync per event) and group commit at several concurrencies, with
 * durability 'full' (fsync per transaction) and 'normal'.
 *
 * Each configuration runs `repeats` times and the median (by events/s) is
 * printed: on a shared machine single runs swing by ±40%.
 *
 *   node --import tsx bench/audit-append.ts [events=100000] [repeats=3]
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../src/infra/audit/sqlite-log.ts';
import type { GatewayEvent } from '../src/core/audit/events.ts';

const total = Number(process.argv[2] ?? 100_000);
const repeats = Number(process.argv[3] ?? 3);
const key = generateKeyPairSync('ed25519').privateKey;
const identity = { issuer: 'https://idp.example', subject: 'alice', groups: ['dev', 'oncall'], kind: 'human' as const };

function event(i: number): GatewayEvent {
  return {
    type: 'statement.started',
    time: Date.now(),
    sessionId: `s${i % 64}`,
    operationId: `op${i}`,
    identity,
    connection: 'orders-db',
    action: 'sql:read',
    statement: `SELECT id, email, total FROM orders WHERE customer_id = ${i} AND created_at > now() - interval '1 day'`,
    decision: { effect: 'allow', policyIds: ['read-orders'], reasons: ['permitted_by_policy'] },
    tables: ['public.orders'],
  };
}

interface Result {
  durability: 'full' | 'normal';
  concurrency: number;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** Events per second of this process's CPU time: the capacity of one uncontended core, fsync waits excluded. */
  eventsPerCpuSecond: number;
  p50Ms: number;
  p99Ms: number;
  batches: number;
  checkpoints: number;
  verifyMs: number;
}

async function run(durability: 'full' | 'normal', concurrency: number, n: number): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-audit-'));
  const log = AuditLog.open({ stateDir: dir, instance: 'bench', signingKey: key, keyName: 'gatehouse.bench/audit', durability, checkpointEvery: { entries: 1000, seconds: 10 } });
  const latencies = new Float64Array(n);
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const session = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) {
      const s = process.hrtime.bigint();
      await log.append(event(i));
      latencies[i] = Number(process.hrtime.bigint() - s) / 1e6;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, session));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const st = log.stats();
  const v0 = process.hrtime.bigint();
  const ok = log.verify().ok;
  const verifyMs = Number(process.hrtime.bigint() - v0) / 1e6;
  if (!ok) throw new Error('verify failed after the benchmark');
  log.close();
  rmSync(dir, { recursive: true, force: true });
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  return {
    durability,
    concurrency,
    events: n,
    seconds: +seconds.toFixed(3),
    eventsPerSecond: Math.round(n / seconds),
    eventsPerCpuSecond: Math.round(n / cpuSeconds),
    p50Ms: +sorted[Math.floor(n * 0.5)]!.toFixed(3),
    p99Ms: +sorted[Math.floor(n * 0.99)]!.toFixed(3),
    batches: st.batches,
    checkpoints: st.checkpoints,
    verifyMs: Math.round(verifyMs),
  };
}

async function median(durability: 'full' | 'normal', concurrency: number, n: number): Promise<Result> {
  const runs: Result[] = [];
  for (let i = 0; i < repeats; i++) runs.push(await run(durability, concurrency, n));
  runs.sort((a, b) => a.eventsPerSecond - b.eventsPerSecond);
  return runs[Math.floor(runs.length / 2)]!;
}

const results: Result[] = [];
// Baseline: no batching possible (one outstanding append → one transaction, one fsync each).
results.push(await median('full', 1, Math.min(total, 2_000)));
for (const c of [16, 256, 1024]) results.push(await median('full', c, total));
results.push(await median('normal', 256, total));

const load = (await import('node:os')).loadavg()[0]!.toFixed(1);
console.log(`load average ${load} on ${(await import('node:os')).cpus().length} CPUs (other processes share them: compare events/s with events/CPU-s)`);
console.log('durability  concurrency  events    events/s  events/CPU-s   p50 ms   p99 ms   batches  checkpoints  verify ms');
for (const r of results) {
  console.log(
    `${r.durability.padEnd(10)}  ${String(r.concurrency).padStart(11)}  ${String(r.events).padStart(7)}  ${String(r.eventsPerSecond).padStart(9)}  ${String(r.eventsPerCpuSecond).padStart(12)}  ${r.p50Ms.toFixed(3).padStart(7)}  ${r.p99Ms.toFixed(3).padStart(7)}  ${String(r.batches).padStart(7)}  ${String(r.checkpoints).padStart(11)}  ${String(r.verifyMs).padStart(9)}`,
  );
}
const baseline = results[0]!;
const best = results.filter((r) => r.durability === 'full').reduce((a, b) => (b.eventsPerSecond > a.eventsPerSecond ? b : a));
console.log(`group commit vs one-fsync-per-event (durability full): ${(best.eventsPerSecond / baseline.eventsPerSecond).toFixed(1)}x`);
console.log(`target ≥ 20000 events/s with durability full: ${best.eventsPerSecond >= 20_000 ? 'met' : 'NOT met'} (${best.eventsPerSecond}/s at concurrency ${best.concurrency})`);
console.log(JSON.stringify({ bench: 'audit-append', results }));
