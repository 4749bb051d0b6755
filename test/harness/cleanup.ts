// Last-resort cleanup for servers the harness starts.
//
// A test run can end in three ways the harness must survive without leaving
// Postgres / pgbouncer processes (and their temp dirs) behind:
//   1. normal exit or an uncaught exception  -> process 'exit' runs our hooks;
//   2. SIGINT / SIGTERM (Ctrl-C, `node --test` killing a file on timeout)
//      -> under `node --test` the runner's own handler calls process.exit(),
//      which lands in (1); when nobody else listens we run the hooks and
//      re-raise the signal so the exit status stays honest;
//   3. SIGKILL / OOM of the node process -> nothing in-process can run, so
//      each server also gets a detached shell "watchdog" that polls our pid
//      and runs a cleanup script once we are gone.
// Hooks must be synchronous ('exit' listeners cannot await) and idempotent.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

// kill(pid, 0) also succeeds for a zombie, and in containers PID 1 may take
// a second or more to reap the postmaster after it exits (it is re-parented
// to PID 1 by pg_ctl), so look at the process state where /proc exists.
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && existsSync('/proc/self/stat')) return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

type Hook = () => void;

const hooks = new Set<Hook>();
let installed = false;

function runHooks(): void {
  for (const hook of [...hooks]) {
    hooks.delete(hook);
    try {
      hook();
    } catch {
      // Best effort: one failing hook must not stop the others.
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runHooks);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      runHooks();
      // If someone else (e.g. the node:test harness) handles this signal, let
      // them decide how to exit; otherwise restore default behaviour.
      if (process.listenerCount(sig) <= 1) {
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

/** Registers a synchronous cleanup hook; returns a function that unregisters it. */
export function onExitCleanup(hook: Hook): () => void {
  install();
  hooks.add(hook);
  return () => {
    hooks.delete(hook);
  };
}

/**
 * A shell function `alive PID` for watchdog scripts. `kill -0` alone also
 * succeeds for zombies, and PID 1 in a container may be slow to reap them.
 */
export const SH_ALIVE = `alive() {
  if [ -r /proc/self/stat ]; then
    [ -r "/proc/$1/stat" ] || return 1
    case "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" in Z|X|'') return 1 ;; esac
    return 0
  fi
  kill -0 "$1" 2>/dev/null
}`;

/**
 * Starts a detached `sh` that waits for this node process to disappear and then
 * runs `script` (with `env` added to its environment; pass paths through env
 * rather than interpolating them, to avoid quoting bugs). Returns a function
 * that kills the watchdog, for use once the resource was cleaned up normally.
 */
export function spawnWatchdog(script: string, env: Record<string, string>): () => void {
  const body = `${SH_ALIVE}\nwhile alive "$WATCH_PID"; do sleep 0.5; done\n${script}`;
  const child = spawn('sh', ['-c', body], {
    detached: true,
    stdio: 'ignore',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env, WATCH_PID: String(process.pid) },
  });
  child.on('error', () => {
    // No sh: lose only the SIGKILL safety net, keep the in-process hooks.
  });
  child.unref();
  const pid = child.pid;
  return () => {
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
}
