// Runs the real `gatehouse` CLI as a child process against a config file in a
// temp dir, the way an operator would: `gatehouse vault set`, then
// `gatehouse up --config`. Tokens come from the dev issuer key in that state dir.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DevIssuer } from '../../src/infra/idp/dev-issuer.ts';
import { openAuditForReading } from '../../src/server/event-store.ts';
import { freePort } from './ports.ts';
import { runOk, childEnv } from './run.ts';
import { onExitCleanup } from './cleanup.ts';

export const CLI = resolve(import.meta.dirname, '../../bin/gatehouse.js');

export interface TestGateway {
  readonly port: number;
  /** The admin / approvals API: http://127.0.0.1:adminPort */
  readonly adminPort: number;
  readonly dir: string;
  readonly stateDir: string;
  readonly configFile: string;
  readonly masterKey: string;
  readonly child: ChildProcess;
  /** Everything the process wrote so far. */
  output(): string;
  token(opts?: { sub?: string; groups?: string[]; claims?: Record<string, unknown>; ttlSeconds?: number }): Promise<string>;
  /** Resident set size of the Gatehouse process, in bytes (from /proc). */
  rss(): Promise<number>;
  /** Send a signal and wait for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Rows of the event store. */
  events(): Promise<{ seq: number; type: string; body: Record<string, unknown> }[]>;
}

export interface GatewayTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  tls?: 'disable' | 'prefer' | 'require' | 'verify-full';
}

export interface StartGatehouseOptions {
  extraYaml?: string;
  allowGroups?: string[];
  connectionName?: string;
  postgresYaml?: string;
  issuersYaml?: string;
  /** More vault secrets to store before start (name → value), e.g. an admin credential. */
  vaultSecrets?: Record<string, string>;
  /**
   * Start again on a stopped (or killed) gateway's dir, config, state, master
   * key and ports, as an operator restarting the service would; `target` and
   * the other options are then ignored.
   */
  restartOf?: TestGateway;
}

export async function startGatehouse(target: GatewayTarget, opts: StartGatehouseOptions = {}): Promise<TestGateway> {
  const prev = opts.restartOf;
  const dir = prev?.dir ?? (await mkdtemp(join(tmpdir(), 'gatehouse-test-')));
  const stateDir = join(dir, 'state');
  const port = prev?.port ?? (await freePort());
  const adminPort = prev?.adminPort ?? (await freePort());
  const masterKey = prev?.masterKey ?? randomBytes(32).toString('base64');
  const name = opts.connectionName ?? 'customers';
  const configFile = join(dir, 'gatehouse.yaml');
  const env = childEnv({ GATEHOUSE_MASTER_KEY: masterKey });
  if (!prev) {
    await writeFile(
      configFile,
      `listen: { postgres: 127.0.0.1:${port}, admin: 127.0.0.1:${adminPort} }
state: ./state
log: { level: debug }
identity:
  dev: true
${opts.issuersYaml ?? ''}
${opts.postgresYaml ?? ''}
limits: { shutdownGraceSeconds: 5 }
connections:
  - name: ${name}
    protocol: postgres
    upstream: { host: ${target.host}, port: ${target.port}, database: ${target.database}, user: ${target.user}, ${target.password ? `password: "vault:${name}-db",` : ''} tls: ${target.tls ?? 'prefer'} }
    allow: { groups: [${(opts.allowGroups ?? ['agents']).join(', ')}] }
${opts.extraYaml ?? ''}`,
    );
    const secrets: Record<string, string> = { ...(target.password ? { [`${name}-db`]: target.password } : {}), ...opts.vaultSecrets };
    for (const [secret, value] of Object.entries(secrets)) {
      await runOk(process.execPath, [CLI, 'vault', 'set', secret, '--config', configFile], { env, input: value + '\n', timeoutMs: 60_000 });
    }
  }
  const child = spawn(process.execPath, [...(process.env.GH_NODE_FLAGS ? process.env.GH_NODE_FLAGS.split(' ') : []), CLI, 'up', '--config', configFile], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const removeCleanup = onExitCleanup(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`gatehouse did not start in 60s:\n${out}`)), 60_000);
    const check = (): void => {
      if (out.includes('Gatehouse is running')) {
        clearTimeout(t);
        res();
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(t);
      rej(new Error(`gatehouse exited with ${code} during start:\n${out}`));
    });
  });
  let issuer: DevIssuer | null = null;
  return {
    port,
    adminPort,
    dir,
    stateDir,
    configFile,
    masterKey,
    child,
    output: () => out,
    async token(o = {}) {
      issuer ??= await DevIssuer.load(stateDir);
      return issuer.sign({ sub: o.sub ?? 'ci-bot', groups: o.groups ?? ['agents'], claims: o.claims ?? {}, ttlSeconds: o.ttlSeconds ?? 900 });
    },
    async rss() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
      return kb * 1024;
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(t);
      removeCleanup();
      return code;
    },
    async events() {
      // The audit log, read the way `gatehouse audit`/`sessions` commands read it (inspect mode).
      const log = openAuditForReading(stateDir, null, {});
      try {
        return log.query({}).map((e) => ({ seq: e.seq, type: e.type, body: e as unknown as Record<string, unknown> }));
      } finally {
        log.close();
      }
    },
  };
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
