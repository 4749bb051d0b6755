// A real pgbouncer in front of a test cluster: the baseline Gatehouse is
// compared against in benchmarks, and a second hop for e2e tests.
//
// It runs in the foreground as our child (as the postgres OS user when we are
// root: pgbouncer refuses root), so its pid is ours to signal and it dies with
// the test run. Config, auth_file and log live in a private temp dir.
//
// auth_type = plain: clients send the password in clear to pgbouncer, which
// then logs in upstream with it (SCRAM or md5, whatever the server asks for).
// Fine on loopback in tests; it lets pgbench use PGPASSWORD unchanged.

import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onExitCleanup, processAlive, spawnWatchdog } from './cleanup.ts';
import { freePort } from './ports.ts';
import { asPostgresUser, childEnv, isRoot, pgbouncerBin, postgresIds } from './run.ts';

export interface PgbouncerTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface PgbouncerOptions {
  /** Default 'session'. */
  poolMode?: 'session' | 'transaction' | 'statement';
  /** Server connections per user/database pair. Default 40 (room for 16+ clients). */
  poolSize?: number;
  /** Default 30 s. */
  startTimeoutMs?: number;
}

export interface Pgbouncer {
  host: '127.0.0.1';
  port: number;
  pid: number;
  configFile: string;
  logFile: string;
  /** Immediate shutdown (SIGTERM, then SIGKILL) and removal of the temp dir; idempotent. */
  stop(): Promise<void>;
}

const START_ATTEMPTS = 5;

const quoteAuth = (s: string): string => `"${s.replace(/"/g, '""')}"`;

function connstrValue(v: string): string {
  return /^[\w.\-/]+$/.test(v) ? v : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function tcpReady(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const WATCHDOG_SCRIPT = `
kill -TERM "$BOUNCER_PID" 2>/dev/null
sleep 1
kill -KILL "$BOUNCER_PID" 2>/dev/null
rm -rf "$ROOT"
`;

export async function startPgbouncer(target: PgbouncerTarget, opts: PgbouncerOptions = {}): Promise<Pgbouncer> {
  const root = await mkdtemp(join(tmpdir(), 'gh-pgb-'));
  const configFile = join(root, 'pgbouncer.ini');
  const authFile = join(root, 'userlist.txt');
  const logFile = join(root, 'pgbouncer.log');
  const startTimeoutMs = opts.startTimeoutMs ?? 30_000;

  const ids = isRoot ? await postgresIds() : undefined;
  if (ids) await chown(root, ids.uid, ids.gid);

  await writeFile(authFile, `${quoteAuth(target.user)} ${quoteAuth(target.password)}\n`, { mode: 0o600 });
  if (ids) await chown(authFile, ids.uid, ids.gid);

  const writeConfig = async (port: number): Promise<void> => {
    const db = [
      `host=${connstrValue(target.host)}`,
      `port=${target.port}`,
      `dbname=${connstrValue(target.database)}`,
    ].join(' ');
    const ini = `[databases]
${target.database} = ${db}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
; no unix socket: the default /tmp one would be shared with other runs
unix_socket_dir =
auth_type = plain
auth_file = ${authFile}
pool_mode = ${opts.poolMode ?? 'session'}
default_pool_size = ${opts.poolSize ?? 40}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 500
max_db_connections = 0
; default 15 s: a failed upstream login would stall tests that long
server_login_retry = 1
query_wait_timeout = 30
; node-postgres and JDBC send this; pgbouncer rejects unknown parameters otherwise
ignore_startup_parameters = extra_float_digits
logfile = ${logFile}
log_connections = 1
log_disconnections = 1
`;
    await writeFile(configFile, ini, { mode: 0o600 });
    if (ids) await chown(configFile, ids.uid, ids.gid);
  };

  let child: ReturnType<typeof spawn> | undefined;
  let stderrTail = '';
  let unregisterExit: (() => void) | undefined;
  let killWatchdog: (() => void) | undefined;
  let stopping: Promise<void> | undefined;

  const killChild = (): void => {
    const pid = child?.pid;
    if (pid === undefined || !processAlive(pid)) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone in between.
    }
  };

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      unregisterExit?.();
      const c = child;
      if (c?.pid !== undefined && c.exitCode === null && c.signalCode === null) {
        const exited = new Promise<void>((r) => c.once('exit', () => r()));
        // SIGTERM is pgbouncer's immediate shutdown (SIGINT would wait for
        // session-mode clients to disconnect).
        c.kill('SIGTERM');
        const t = setTimeout(killChild, 5_000);
        await exited;
        clearTimeout(t);
      }
      killWatchdog?.();
      await rm(root, { recursive: true, force: true, maxRetries: 3 });
    })();
    return stopping;
  };

  unregisterExit = onExitCleanup(() => {
    killChild();
    rmSync(root, { recursive: true, force: true, maxRetries: 3 });
    killWatchdog?.();
  });

  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      await writeConfig(port);
      const [cmd, args] = asPostgresUser(pgbouncerBin(), [configFile]);
      stderrTail = '';
      const c = spawn(cmd, args, { cwd: root, env: childEnv({ HOME: root }), stdio: ['ignore', 'ignore', 'pipe'] });
      child = c;
      c.stderr!.on('data', (b: Buffer) => {
        stderrTail = (stderrTail + b.toString('utf8')).slice(-8000);
      });
      const exited = new Promise<string>((resolve) => {
        c.once('error', (e) => resolve(`cannot start ${cmd}: ${e.message}`));
        c.once('exit', (code, sig) => resolve(`exited with ${code ?? sig}`));
      });

      const deadline = Date.now() + startTimeoutMs;
      let failure: string | undefined;
      for (;;) {
        const early = await Promise.race([exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 30))]);
        if (early !== undefined) {
          failure = early;
          break;
        }
        if (await tcpReady(port)) break;
        if (Date.now() > deadline) {
          failure = `not listening after ${startTimeoutMs} ms`;
          killChild();
          break;
        }
      }
      if (failure === undefined) {
        killWatchdog?.();
        killWatchdog = spawnWatchdog(WATCHDOG_SCRIPT, { BOUNCER_PID: String(c.pid), ROOT: root });
        return { host: '127.0.0.1', port, pid: c.pid!, configFile, logFile, stop };
      }
      const log = await readFile(logFile, 'utf8').catch(() => '');
      const details = `${stderrTail}\n${log}`.trim();
      if (attempt < START_ATTEMPTS && /Address already in use|could not bind|bind\(\)/i.test(details)) continue;
      throw new Error(`startPgbouncer: pgbouncer ${failure}\n--- output ---\n${details.slice(-4000)}`);
    }
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}
