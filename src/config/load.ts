/**
 * Loads gatehouse.yaml: YAML → `${VAR}` interpolation → strict zod
 * validation → deep-frozen snapshot. Every problem is reported at once, one
 * `path: reason` line each, so a broken config is fixed in one round trip.
 * Messages name paths and rules, never the offending values (which may come
 * from the environment and be secret).
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type * as z from 'zod';
import { GatewayError } from '../shared/errors.ts';
import { interpolate, type InterpolationProblem } from './interpolate.ts';
import { configSchema, type Config } from './schema.ts';

export type { Config, ConnectionConfig } from './schema.ts';

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new GatewayError('GW_CONFIG_INVALID', `cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { cause: e });
  }
  return parseConfig(text, env, file);
}

export function parseConfig(text: string, env: NodeJS.ProcessEnv = process.env, sourceName = 'gatehouse.yaml'): Config {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      return `${pos ? `line ${pos.line}, column ${pos.col}` : 'YAML'}: ${(e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`;
    });
    throw invalid(sourceName, lines);
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(sourceName, ['(root): expected a mapping']);

  const problems: InterpolationProblem[] = [];
  const data = interpolate(raw, env, problems);
  const result = configSchema.safeParse(data, { error: defaultMessage });
  const lines = problems.map((p) => `${formatPath(p.path)}: ${p.message}`);
  if (!result.success) {
    // A value already reported as a failed interpolation is not reported again as, say, "expected a non-empty string".
    const reported = new Set(problems.map((p) => formatPath(p.path)));
    lines.push(...result.error.issues.filter((i) => !reported.has(formatPath(i.path))).flatMap(describeIssue));
  }
  if (lines.length > 0) throw invalid(sourceName, [...new Set(lines)]);
  return deepFreeze(result.data as Config);
}

function invalid(sourceName: string, lines: string[]): GatewayError {
  return new GatewayError('GW_CONFIG_INVALID', `invalid configuration in ${sourceName}:\n${lines.map((l) => `  ${l}`).join('\n')}`);
}

/** `connections[1].upstream.port` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out === '' ? '(root)' : out;
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `${formatPath([...issue.path, k])}: unknown key`);
  return [`${formatPath(issue.path)}: ${issue.message}`];
}

const NOUN: Readonly<Record<string, string>> = { object: 'a mapping', array: 'a list', string: 'a string', number: 'a number', boolean: 'true or false' };

/** Default messages for issues the schema did not word itself; none repeats the input value. */
function defaultMessage(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'required' : `expected ${NOUN[issue.expected] ?? issue.expected}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map(String).join(', ')}`;
    case 'too_small':
      return issue.origin === 'array' ? `expected at least ${String(issue.minimum)} item(s)` : `expected at least ${String(issue.minimum)}`;
    case 'too_big':
      return `expected at most ${String(issue.maximum)}`;
    case 'invalid_format':
      return `expected ${issue.format}`;
    default:
      return 'invalid value';
  }
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
