// pgbench helpers shared by e2e tests and bench/: initialise the standard
// pgbench tables in a test cluster and read the numbers out of its report.

import type { PgCluster } from './postgres.ts';
import { pgBin, runOk } from './run.ts';

/**
 * `pgbench -i -s <scale>` as the superuser over the unix socket into `db`
 * (default bank), then grants the tables to `grantTo` (default app) so that a
 * password-authenticated TCP client can run the default and -S scripts.
 */
export async function initPgbench(
  pg: PgCluster,
  opts: { scale?: number; db?: string; grantTo?: string } = {},
): Promise<void> {
  const db = opts.db ?? pg.database;
  await runOk(pgBin('pgbench'), ['-i', '-q', '-s', String(opts.scale ?? 1), '-h', pg.socketDir, '-p', String(pg.port), '-U', pg.superuser, db], {
    timeoutMs: 120_000,
  });
  const grantee = opts.grantTo ?? pg.appUser;
  await pg.psql(
    `GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history TO "${grantee.replace(/"/g, '""')}";`,
    { db },
  );
}

export interface PgbenchReport {
  /** Transactions per second, excluding initial connection time. */
  tps: number;
  transactions: number | undefined;
  latencyMs: number | undefined;
  failed: number | undefined;
}

/** Parses pgbench's summary; throws when there is no tps line (i.e. the run did not complete). */
export function parsePgbench(stdout: string): PgbenchReport {
  const tps = /^tps = ([\d.]+)/m.exec(stdout);
  if (!tps) throw new Error(`pgbench output has no tps line:\n${stdout}`);
  const num = (re: RegExp): number | undefined => {
    const m = re.exec(stdout);
    return m ? Number(m[1]) : undefined;
  };
  return {
    tps: Number(tps[1]),
    transactions: num(/^number of transactions actually processed: (\d+)/m),
    latencyMs: num(/^latency average = ([\d.]+) ms/m),
    failed: num(/^number of failed transactions: (\d+)/m),
  };
}
