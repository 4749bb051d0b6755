/**
 * Shared CLI plumbing: which config applies (explicit --config, else
 * ./gatehouse.yaml, else the demo), and how errors are printed.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { GatewayError, isGatewayError } from '../shared/errors.ts';

export interface ConfigChoice {
  /** null in demo mode. */
  readonly file: string | null;
  readonly config: Config | null;
  readonly baseDir: string;
  readonly stateDir: string;
}

export function chooseConfig(explicit: string | undefined): ConfigChoice {
  const file = explicit ?? (existsSync('gatehouse.yaml') ? 'gatehouse.yaml' : null);
  if (file === null) {
    return { file: null, config: null, baseDir: process.cwd(), stateDir: resolve('.gatehouse') };
  }
  const config = loadConfig(file);
  const baseDir = dirname(resolve(file));
  return { file, config, baseDir, stateDir: resolve(baseDir, config.state) };
}

/** Print an error the way a user can act on it and exit non-zero. Never prints a stack for expected errors. */
export function fail(e: unknown): never {
  if (isGatewayError(e)) {
    process.stderr.write(`gatehouse: ${e.message}${e.hint ? `\nhint: ${e.hint}` : ''}\n`);
    process.exit(e.code === 'GW_CONFIG_INVALID' ? 2 : 1);
  }
  process.stderr.write(`gatehouse: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `--claim key=value` options (repeatable) as a claims object. */
export function parseClaims(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of list) {
    const i = c.indexOf('=');
    if (i <= 0) throw new GatewayError('GW_CONFIG_INVALID', `--claim expects key=value, got '${c}'`, { clientSafe: true });
    out[c.slice(0, i)] = c.slice(i + 1);
  }
  return out;
}
