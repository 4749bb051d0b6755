// `npm run bench:verify`: how long the auditor's commands take and how much
// memory they need as the log grows. Writes a log of N entries (every entry
// with a payload, like a statement's started/finished pair), then runs
// `export`, `prove` (an entry in the middle), `verify` on the store and
// `verify-bundle` on the export, each in a fresh process so that its peak
// RSS is its own.
//
// Environment: BENCH_ENTRIES (comma-separated sizes, default "100000,400000").

import { generateKeyPairSync, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../src/infra/audit/sqlite-log.ts';
import { verifyBundle } from '../src/infra/audit/bundle.ts';
import type { GatewayEvent } from '../src/core/audit/events.ts';
import { run, childEnv } from '../test/harness/run.ts';
import { removeDir } from '../test/harness/gateway.ts';

const ORIGIN = 'gatehouse.bench/audit';

async function child(mode: string, dir: string): Promise<void> {
  const t0 = performance.now();
  let ok: boolean;
  let entries: number;
  if (mode === 'export' || mode === 'prove') {
    const log = AuditLog.open({ stateDir: dir, instance: 'bench', signingKey: createPrivateKey(readFileSync(join(dir, 'key.pem'))), keyName: ORIGIN, mode: 'inspect' });
    const size = log.latestCheckpoint()!.size;
    if (mode === 'export') {
      const s = log.exportBundle({ outDir: join(dir, 'bundle') });
      ok = s.entries === size;
      entries = s.entries;
    } else {
      const p = log.prove(Math.ceil(size / 2));
      ok = p.treeSize === size && p.path.length > 0;
      entries = size;
    }
    log.close();
  } else if (mode === 'verify') {
    const log = AuditLog.open({ stateDir: dir, instance: 'bench', publicKey: createPublicKey(readFileSync(join(dir, 'pub.pem'))), keyName: ORIGIN, mode: 'inspect' });
    const r = log.verify();
    log.close();
    ok = r.ok;
    entries = r.checked.entries;
  } else {
    const r = verifyBundle(join(dir, 'bundle'), readFileSync(join(dir, 'pub.pem'), 'utf8'));
    ok = r.ok;
    entries = r.checked.entries;
  }
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ ok, entries, ms, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
}

function event(k: number): GatewayEvent {
  const identity = { issuer: 'https://idp.example', subject: 'ci-agent', groups: ['agents'], kind: 'workload' as const };
  return (
    k % 2 === 0
      ? {
          type: 'statement.started',
          time: 1_790_000_000_000 + k,
          sessionId: `ses_${k % 64}`,
          operationId: `op_${k >> 1}`,
          identity,
          connection: 'customers',
          action: 'sql:read',
          tables: ['public.accounts'],
          decision: { effect: 'allow', policyIds: ['read-accounts'], reasons: ['permitted_by_policy'] },
          statement: `SELECT balance FROM accounts WHERE id = ${k}`,
        }
      : {
          type: 'statement.finished',
          time: 1_790_000_000_000 + k,
          sessionId: `ses_${k % 64}`,
          operationId: `op_${k >> 1}`,
          outcome: 'ok',
          durationMs: 1,
          rows: 1,
          result: { columns: ['balance'], rows: [['100.00']], truncated: false },
        }
  ) as GatewayEvent;
}

async function build(n: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-verify-'));
  const key = generateKeyPairSync('ed25519');
  writeFileSync(join(dir, 'pub.pem'), key.publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(dir, 'key.pem'), key.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const log = AuditLog.open({ stateDir: dir, instance: 'bench', signingKey: key.privateKey, keyName: ORIGIN, durability: 'normal' });
  let next = 0;
  await Promise.all(
    Array.from({ length: 256 }, async () => {
      while (next < n) await log.append(event(next++));
    }),
  );
  log.close();
  return dir;
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]!, process.argv[4]!);
} else {
  const sizes = (process.env.BENCH_ENTRIES ?? '100000,400000').split(',').map(Number);
  console.log('entries    command         seconds   µs/entry   peak RSS MB');
  for (const n of sizes) {
    const dir = await build(n);
    try {
      for (const mode of ['export', 'prove', 'verify', 'verify-bundle']) {
        const r = await run(process.execPath, ['--import', 'tsx', import.meta.filename, '--child', mode, dir], { timeoutMs: 3_600_000, env: childEnv({}) });
        if (r.code !== 0) throw new Error(r.stderr);
        const m = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ok: boolean; entries: number; ms: number; maxRssMb: number };
        if (!m.ok || m.entries !== n) throw new Error(`${mode}: expected ${n} good entries, got ${JSON.stringify(m)}`);
        console.log(
          `${String(n).padStart(7)}    ${mode.padEnd(13)}  ${(m.ms / 1000).toFixed(2).padStart(7)}   ${((m.ms * 1000) / n).toFixed(1).padStart(8)}   ${m.maxRssMb.toFixed(0).padStart(11)}`,
        );
      }
    } finally {
      await removeDir(dir);
    }
  }
}
