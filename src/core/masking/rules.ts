/**
 * Column rules: globs over `connection/schema.table.column` that bind a
 * column to a data class whatever its content.
 *
 * Glob syntax (documented in docs/masking.md): `*` matches within one name
 * part (no `/` or `.`), `**` matches anything, `?` one character; everything
 * else is literal and case-sensitive (Postgres has already folded unquoted
 * names to lower case). The first matching rule wins, so put specific rules
 * first. Compiled once per config snapshot; lookups are memoised because the
 * same few columns come back in every RowDescription.
 */
import { GatewayError } from '../../shared/errors.ts';
import { DEFAULT_REDACT_MASK } from './strategies.ts';
import type { DataClass, StrategySpec } from './types.ts';

export interface MaskingRules {
  columnRules: readonly { pattern: string; cls: DataClass }[];
  strategies: Partial<Record<DataClass, StrategySpec>>;
  defaultStrategy: StrategySpec;
}

export interface CompiledRules {
  readonly compiled: true;
  readonly bound: ReadonlySet<DataClass>;
  readonly strategies: Partial<Record<DataClass, StrategySpec>>;
  readonly defaultStrategy: StrategySpec;
  classOf(connection: string, qualifiedColumn: string): DataClass | null;
}

const CLASS_NAME = /^[a-z][a-z0-9_]{0,62}$/;
/** Replacements are spliced into array and composite literals: no quotes, separators, braces or backslashes. */
const SAFE_MASK = /^[A-Za-z0-9_*#.-]{0,64}$/;
const MEMO_LIMIT = 10_000;

function invalid(message: string): GatewayError {
  return new GatewayError('GW_CONFIG_INVALID', message);
}

export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/.]*';
    else if (c === '?') re += '[^/.]';
    else re += c.replace(/[\\^$+.()|[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function checkStrategy(s: StrategySpec, where: string): void {
  if (s.kind === 'redact' && s.mask !== undefined && !SAFE_MASK.test(s.mask)) {
    throw invalid(`${where}: redact mask may only use letters, digits and _ * # . - (at most 64)`);
  }
  if (s.kind === 'token' && !['global', 'identity', 'session'].includes(s.scope)) throw invalid(`${where}: token scope must be global, identity or session`);
}

export function compileRules(rules: MaskingRules): CompiledRules {
  const compiled = rules.columnRules.map((r, i) => {
    if (!CLASS_NAME.test(r.cls)) throw invalid(`masking.columnRules[${i}].class "${r.cls}" is not a valid class name`);
    // `**` may span parts; otherwise the shape must be explicit, so a forgotten connection is an error, not a rule that never matches.
    if (!r.pattern.includes('**') && (!/^[^/]+\/[^/]+$/.test(r.pattern) || r.pattern.split('/')[1]!.split('.').length < 3)) {
      throw invalid(`masking.columnRules[${i}].pattern "${r.pattern}" must look like connection/schema.table.column`);
    }
    return { re: globToRegExp(r.pattern), cls: r.cls };
  });
  checkStrategy(rules.defaultStrategy, 'masking.defaultStrategy');
  for (const [cls, s] of Object.entries(rules.strategies)) if (s) checkStrategy(s, `masking.strategies.${cls}`);
  const memo = new Map<string, DataClass | null>();
  return Object.freeze({
    compiled: true as const,
    bound: new Set(compiled.map((r) => r.cls)),
    strategies: { ...rules.strategies },
    defaultStrategy: rules.defaultStrategy,
    classOf(connection: string, qualifiedColumn: string): DataClass | null {
      const key = `${connection}/${qualifiedColumn}`;
      const hit = memo.get(key);
      if (hit !== undefined) return hit;
      const cls = compiled.find((r) => r.re.test(key))?.cls ?? null;
      if (memo.size >= MEMO_LIMIT) memo.clear(); // bounded (principle 2); refilled from the few hot columns
      memo.set(key, cls);
      return cls;
    },
  });
}

export { DEFAULT_REDACT_MASK };
