/**
 * `gatehouse policy check | explain | test`, as functions the CLI wraps.
 * They read files, so they live in infra; the decisions are core's.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { classifyPostgres, initClassifier } from '../../core/classify/sql/postgres.ts';
import { DEFAULT_SEARCH_PATH } from '../../core/classify/sql/types.ts';
import { PolicyCompileError, type CedarAuthorizer, type StatementContext, type StatementEffect } from '../../core/policy/cedar-authorizer.ts';
import { approvalTermsText } from '../../core/policy/messages.ts';
import { compilePolicies, type PolicyProblem } from '../../core/policy/source.ts';
import { describePrincipal, type Principal } from '../../core/identity/principal.ts';
import { loadPolicyDir, readPolicyFolder, type LoadOptions } from './load.ts';

export interface PolicyCheckResult {
  readonly ok: boolean;
  readonly errors: readonly PolicyProblem[];
  readonly warnings: readonly PolicyProblem[];
  /** Number of policies that compiled. */
  readonly policies: number;
}

/** Validate a folder against the schema; never throws. */
export function policyCheck(dir: string, opts: LoadOptions = {}): PolicyCheckResult {
  try {
    const folder = readPolicyFolder(dir, opts);
    const r = compilePolicies(folder.sources, folder.schemaText, folder.schemaFile);
    return { ok: r.errors.length === 0, errors: r.errors, warnings: r.warnings, policies: r.policies.length };
  } catch (e) {
    return { ok: false, errors: [{ file: dir, line: 0, message: e instanceof Error ? e.message : String(e) }], warnings: [], policies: 0 };
  }
}

export interface IdentityInput {
  readonly sub: string;
  readonly groups?: readonly string[];
  readonly claims?: Readonly<Record<string, unknown>>;
  readonly kind?: 'human' | 'workload';
  readonly issuer?: string;
}

function toPrincipal(i: IdentityInput): Principal {
  return {
    issuer: i.issuer ?? 'gatehouse-policy-tools',
    subject: i.sub,
    kind: i.kind ?? 'workload',
    groups: [...(i.groups ?? [])],
    claims: { ...(i.claims ?? {}) },
    expiresAt: undefined,
  };
}

export interface ExplainInput extends IdentityInput, LoadOptions {
  readonly connection: string;
  readonly sql: string;
  readonly dir: string;
  readonly searchPath?: readonly string[];
  readonly clientAddress?: string;
  /** ms since the epoch; default now. */
  readonly time?: number;
}

const EFFECT_LABEL: Record<StatementEffect, string> = { allow: 'ALLOW', deny: 'DENY', require_approval: 'REQUIRE APPROVAL' };

/** A human-readable account of how a statement is classified and decided. Throws PolicyCompileError for a broken folder. */
export async function policyExplain(input: ExplainInput): Promise<string> {
  await initClassifier();
  const authz = loadPolicyDir(input.dir, input);
  const principal = toPrincipal(input);
  const ctx: StatementContext = { clientAddress: input.clientAddress ?? '127.0.0.1', time: input.time ?? Date.now() };
  const classification = classifyPostgres(input.sql, { searchPath: input.searchPath ?? DEFAULT_SEARCH_PATH });
  const d = authz.decideStatement(principal, input.connection, classification, ctx);
  const connect = authz.decideConnect(principal, input.connection, ctx);
  const lines: string[] = [];
  lines.push(`policies:   ${resolve(input.dir)} (${authz.policies.length} policies)`);
  lines.push(`identity:   ${describePrincipal(principal)}, ${principal.kind}${claimsText(principal)}`);
  lines.push(`connection: ${input.connection} (connect: ${connect.effect}${connect.policyIds.length ? ` by ${connect.policyIds.map((p) => `'${p}'`).join(', ')}` : ''})`);
  lines.push(`fingerprint: ${classification.fingerprint ?? '-'}`);
  if (classification.parseError) lines.push(`parse error: ${classification.parseError}`);
  lines.push('statements:');
  classification.statements.forEach((s, i) => {
    lines.push(`  [${i + 1}] ${s.kind}${s.flags.length ? `  flags: ${s.flags.join(', ')}` : ''}`);
    for (const p of d.pairs.filter((x) => x.statementIndex === i)) {
      const by = p.policyIds.length ? `  by ${p.policyIds.map((x) => `'${x}'`).join(', ')}` : '';
      const terms = p.approval ? `  (${approvalTermsText(p.approval)})` : '';
      lines.push(`      ${p.action.padEnd(15)} ${(p.table ?? `connection '${input.connection}'`).padEnd(28)} → ${EFFECT_LABEL[p.effect]} [${p.reason}]${by}${terms}`);
    }
  });
  if (classification.statements.length === 0) lines.push('  (empty query)');
  lines.push(`unmask:     ${d.unmaskable.length ? d.unmaskable.join(', ') : 'none (every detected class is masked)'}`);
  lines.push(`decision:   ${EFFECT_LABEL[d.effect]}`);
  lines.push(`message:    ${d.message}`);
  return lines.join('\n');
}

function claimsText(p: Principal): string {
  const entries = Object.entries(p.claims);
  return entries.length ? `, claims: ${entries.map(([k, v]) => `${k}=${String(v)}`).join(' ')}` : '';
}

export interface PolicyTestFailure {
  readonly name: string;
  readonly expected: string;
  readonly got: string;
  readonly message?: string;
}

export interface PolicyTestResult {
  readonly passed: number;
  readonly failed: readonly PolicyTestFailure[];
}

interface TestCase {
  name?: unknown;
  identity?: { sub?: unknown; groups?: unknown; claims?: unknown; kind?: unknown; issuer?: unknown };
  connection?: unknown;
  sql?: unknown;
  action?: unknown;
  expect?: unknown;
  unmask?: unknown;
  search_path?: unknown;
  time?: unknown;
  client_address?: unknown;
  approved?: unknown;
}

const EXPECTATIONS = new Set(['allow', 'deny', 'require_approval']);

/**
 * Run a YAML file of expected decisions (format in docs/policy.md). The
 * policy folder is `dir`, else the file's `policies:` key (relative to the
 * file). Throws when the file or the folder cannot be loaded; a CLI exits
 * non-zero on a throw or on any failure.
 */
export async function policyTest(yamlFile: string, dir?: string, opts: LoadOptions = {}): Promise<PolicyTestResult> {
  await initClassifier();
  const doc = parseYaml(readFileSync(yamlFile, 'utf8')) as { policies?: unknown; defaults?: TestCase; tests?: unknown } | null;
  if (!doc || !Array.isArray(doc.tests)) throw new Error(`${yamlFile}: expected a 'tests:' list`);
  const folder = dir ?? (typeof doc.policies === 'string' ? resolve(dirname(yamlFile), doc.policies) : undefined);
  if (folder === undefined) throw new Error(`${yamlFile}: no policy folder (give one, or set 'policies:' in the file)`);
  const authz = loadPolicyDir(folder, opts);
  let passed = 0;
  const failed: PolicyTestFailure[] = [];
  doc.tests.forEach((raw: unknown, i: number) => {
    const t = { ...(doc.defaults ?? {}), ...(typeof raw === 'object' && raw !== null ? (raw as TestCase) : {}) };
    const name = typeof t.name === 'string' ? t.name : `test #${i + 1}`;
    const expected = typeof t.expect === 'string' ? t.expect : '';
    try {
      const got = runCase(authz, t, expected);
      if (got.ok) passed += 1;
      else failed.push({ name, expected: got.expected, got: got.got, message: got.message });
    } catch (e) {
      failed.push({ name, expected, got: 'invalid test', message: e instanceof Error ? e.message : String(e) });
    }
  });
  return { passed, failed };
}

function strings(v: unknown, what: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new Error(`${what} must be a list of strings`);
  return v as string[];
}

function runCase(authz: CedarAuthorizer, t: TestCase, expected: string): { ok: boolean; expected: string; got: string; message: string } {
  if (!EXPECTATIONS.has(expected)) throw new Error(`expect must be one of allow, deny, require_approval`);
  const id = t.identity ?? {};
  if (typeof id.sub !== 'string') throw new Error('identity.sub is required');
  const claims = id.claims === undefined ? {} : id.claims;
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new Error('identity.claims must be a map');
  const principal = toPrincipal({
    sub: id.sub,
    groups: strings(id.groups, 'identity.groups'),
    claims: claims as Record<string, unknown>,
    ...(id.kind === 'human' || id.kind === 'workload' ? { kind: id.kind } : {}),
    ...(typeof id.issuer === 'string' ? { issuer: id.issuer } : {}),
  });
  if (typeof t.connection !== 'string') throw new Error('connection is required');
  const time = t.time === undefined ? Date.now() : Date.parse(String(t.time));
  if (Number.isNaN(time)) throw new Error(`time '${String(t.time)}' is not an ISO date`);
  const ctx: StatementContext = {
    clientAddress: typeof t.client_address === 'string' ? t.client_address : '127.0.0.1',
    time,
    ...(t.approved === true ? { approval: { id: 'policy-test', approvers: [], approvedAt: time } } : {}),
  };
  let got: string;
  let message: string;
  let unmask: readonly string[];
  if (t.action === 'connect') {
    const d = authz.decideConnect(principal, t.connection, ctx);
    got = d.effect;
    message = d.message ?? '';
    unmask = authz.unmaskable(principal, t.connection, ctx);
  } else {
    if (typeof t.sql !== 'string') throw new Error("sql is required (or action: connect)");
    const searchPath = t.search_path === undefined ? DEFAULT_SEARCH_PATH : strings(t.search_path, 'search_path');
    const d = authz.decideStatement(principal, t.connection, classifyPostgres(t.sql, { searchPath }), ctx);
    got = d.effect;
    message = d.message;
    unmask = d.unmaskable;
  }
  if (got !== expected) return { ok: false, expected, got, message };
  if (t.unmask !== undefined) {
    const want = [...strings(t.unmask, 'unmask')].sort();
    const have = [...unmask].sort();
    if (want.join(',') !== have.join(',')) return { ok: false, expected: `unmask [${want.join(', ')}]`, got: `unmask [${have.join(', ')}]`, message };
  }
  return { ok: true, expected, got, message };
}

export { PolicyCompileError };
