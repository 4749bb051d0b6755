// Spawning real client and server tools (psql, pgbench, initdb, pg_ctl, openssl)
// from tests.
//
// Invariants:
// - Nothing can hang a test: every child has a timeout (default 30 s) after
//   which its whole process group is SIGKILLed and the promise rejects with a
//   RunTimeoutError naming the command.
// - Children run in their own session (`detached`), so they have no
//   controlling terminal: libpq's password prompt reads /dev/tty, and without
//   one it fails at once instead of waiting for a human.
// - PG* variables from the developer's shell (PGHOST, PGPASSWORD, PGSSLMODE…)
//   are not inherited; tests pass the ones they mean explicitly.
// - Output kept in memory is bounded (maxOutputBytes per stream).

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { onExitCleanup } from './cleanup.ts';

export const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_OUTPUT_BYTES = 32 * 1024 * 1024;
/** GATEHOUSE_HARNESS_DEBUG=1 prints every command with its duration to stderr. */
const DEBUG = Boolean(process.env.GATEHOUSE_HARNESS_DEBUG);

export interface RunOptions {
  /** Added on top of the inherited environment (minus PG*); `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  /** Written to stdin, which is then closed. Without it stdin is /dev/null. */
  input?: string | Buffer;
  /** Kill the process group and reject after this long. Default 30 s. */
  timeoutMs?: number;
  cwd?: string;
  /** Per stream; exceeding it kills the child and rejects. Default 32 MiB. */
  maxOutputBytes?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class RunTimeoutError extends Error {
  constructor(
    readonly command: string,
    readonly timeoutMs: number,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`run: \`${command}\` timed out after ${timeoutMs} ms and was killed${tailOf('stderr', stderr)}${tailOf('stdout', stdout)}`);
    this.name = 'RunTimeoutError';
  }
}

export class RunFailedError extends Error {
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    const status = result.code !== null ? `exit code ${result.code}` : `signal ${result.signal}`;
    super(`run: \`${command}\` failed with ${status}${tailOf('stderr', result.stderr)}${tailOf('stdout', result.stdout)}`);
    this.name = 'RunFailedError';
  }
}

function tailOf(label: string, text: string): string {
  const t = text.trim();
  if (t === '') return '';
  return `\n--- ${label} (tail) ---\n${t.length > 4000 ? '…' + t.slice(-4000) : t}`;
}

export function describeCommand(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** The environment children get: ours without PG*, plus `extra`. */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('PG')) env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

// Children still running when the process exits (e.g. a test threw while a
// pgbench was in flight) are killed with their process group.
const live = new Set<number>();
let unregisterLive: (() => void) | undefined;
function track(pid: number): void {
  live.add(pid);
  unregisterLive ??= onExitCleanup(() => {
    for (const p of live) killGroup(p);
    live.clear();
    unregisterLive = undefined;
  });
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/**
 * Runs `cmd args` and resolves with its exit status and output (a non-zero
 * exit resolves; use runOk to reject). Rejects if the command cannot be
 * started, times out, or floods its output.
 */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const command = describeCommand(cmd, args);

  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: childEnv(opts.env),
      detached: true,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });

    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let settled = false;
    const text = (chunks: Buffer[]): string => Buffer.concat(chunks).toString('utf8');

    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.pid !== undefined) live.delete(child.pid);
      fn();
    };

    const timer = setTimeout(() => {
      if (child.pid !== undefined) killGroup(child.pid);
      finish(() => reject(new RunTimeoutError(command, timeoutMs, text(out), text(err))));
    }, timeoutMs);

    child.on('error', (e: NodeJS.ErrnoException) => {
      const hint = e.code === 'ENOENT' ? ' (not installed or not on PATH? run `node test/setup.mjs`)' : '';
      finish(() => reject(new Error(`run: cannot start \`${command}\`: ${e.message}${hint}`)));
    });
    if (child.pid !== undefined) track(child.pid);

    const overflow = (): void => {
      if (child.pid !== undefined) killGroup(child.pid);
      finish(() => reject(new Error(`run: \`${command}\` produced more than ${maxBytes} bytes of output; killed`)));
    };
    child.stdout!.on('data', (b: Buffer) => {
      outBytes += b.length;
      if (outBytes > maxBytes) return overflow();
      out.push(b);
    });
    child.stderr!.on('data', (b: Buffer) => {
      errBytes += b.length;
      if (errBytes > maxBytes) return overflow();
      err.push(b);
    });

    if (opts.input !== undefined && child.stdin) {
      // EPIPE when the child exits without reading all of stdin is not our
      // error to report; its exit status says what happened.
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input);
    }

    const started = performance.now();
    child.on('close', (code, signal) => {
      if (DEBUG) process.stderr.write(`[harness] ${Math.round(performance.now() - started)} ms, exit ${code ?? signal}: ${command.slice(0, 160)}\n`);
      finish(() => resolve({ code, signal, stdout: text(out), stderr: text(err) }));
    });
  });
}

/** Like run, but rejects with RunFailedError unless the exit code is 0. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const result = await run(cmd, args, opts);
  if (result.code !== 0) throw new RunFailedError(describeCommand(cmd, args), result);
  return result;
}

// ---------------------------------------------------------------------------
// Running server binaries as the `postgres` OS user.
//
// initdb, postgres and pgbouncer refuse to run as root. When we are root we
// drop to the postgres user with setpriv, which exec()s the target directly
// (unlike runuser/su, which fork and sit in between) so the pid we hold is the
// server's own and signals reach it. When we are not root we run them as
// ourselves.

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

let pgIds: Promise<{ uid: number; gid: number }> | undefined;
/** uid/gid of the postgres OS user (looked up once), for chown'ing temp dirs when we are root. */
export function postgresIds(): Promise<{ uid: number; gid: number }> {
  pgIds ??= (async () => {
    const uid = Number((await runOk('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await runOk('id', ['-g', 'postgres'])).stdout.trim());
    return { uid, gid };
  })();
  return pgIds;
}

/** Wraps a command so that it runs as the `postgres` OS user when we are root. */
export function asPostgresUser(cmd: string, args: readonly string[]): [string, string[]] {
  if (!isRoot) return [cmd, [...args]];
  return ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', cmd, ...args]];
}

const PG_BINDIR = process.env.GATEHOUSE_PG_BINDIR ?? '/usr/lib/postgresql/15/bin';

/**
 * Absolute path of a PostgreSQL program from the pinned major version
 * (GATEHOUSE_PG_BINDIR overrides the directory); falls back to PATH. Going
 * straight to the versioned binary skips Debian's pg_wrapper, which picks a
 * version from cluster config and would tie tests to the system cluster.
 */
export function pgBin(name: string): string {
  const p = `${PG_BINDIR}/${name}`;
  return existsSync(p) ? p : name;
}

/** pgbouncer lives in /usr/sbin, which is not on a non-root PATH on Debian. */
export function pgbouncerBin(): string {
  return existsSync('/usr/sbin/pgbouncer') ? '/usr/sbin/pgbouncer' : 'pgbouncer';
}
