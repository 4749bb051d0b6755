/**
 * A classification cache for statements that differ only in numeric
 * constants (`… WHERE aid = 1` and `… WHERE aid = 2`): parsing costs tens of
 * microseconds per statement, which a gateway pays on every Query.
 *
 * Security argument: the key is the exact text with each numeric literal
 * replaced by `?`; nothing else is abstracted. Identifiers, keywords, string
 * literals and operators stay verbatim, so two texts share a key only when
 * they differ in the values of numeric constants, which never decide what a
 * statement does to which table. Anything the tiny lexer below cannot lex with
 * certainty is not cached at all and is parsed every time:
 *   - backslashes (escape strings, `standard_conforming_strings = off`),
 *   - `$` (dollar quoting, parameters),
 *   - comments (`--`, `/*`),
 *   - unterminated quotes.
 * Only single plain-DML statements without session effects are kept.
 */
import type { Classification, ClassifyContext } from './types.ts';
import { classifyPostgres } from './postgres.ts';
import { LruCache } from '../../policy/lru.ts';

/** The cache key for `sql`, or null when the text must not be cached. */
export function numericShape(sql: string): string | null {
  if (sql.length > 4096 || sql.includes('\\') || sql.includes('$')) return null;
  let out = '';
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const ch = sql[i]!;
    if (ch === '-' && sql[i + 1] === '-') return null;
    if (ch === '/' && sql[i + 1] === '*') return null;
    if (ch === "'" || ch === '"') {
      // A quoted string or identifier, copied verbatim ('' and "" are escaped quotes).
      let j = i + 1;
      for (;;) {
        const k = sql.indexOf(ch, j);
        if (k === -1) return null;
        if (sql[k + 1] === ch) {
          j = k + 2;
          continue;
        }
        j = k + 1;
        break;
      }
      out += sql.slice(i, j);
      i = j;
      continue;
    }
    if (isIdentStart(ch)) {
      // A keyword or identifier (may contain digits: t1, x2y), copied verbatim.
      let j = i + 1;
      while (j < n && isIdentChar(sql[j]!)) j++;
      out += sql.slice(i, j);
      i = j;
      continue;
    }
    if (isDigit(ch) || (ch === '.' && isDigit(sql[i + 1] ?? ''))) {
      // A numeric literal: digits, '.', exponent, and (PG 16+) '_' and hex/octal/binary letters.
      let j = i + 1;
      while (j < n && (isIdentChar(sql[j]!) || sql[j] === '.' || ((sql[j] === '+' || sql[j] === '-') && /[eE]/.test(sql[j - 1]!)))) j++;
      out += '?';
      i = j;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}
function isIdentStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_' || c.charCodeAt(0) > 127;
}
function isIdentChar(c: string): boolean {
  return isIdentStart(c) || isDigit(c);
}

/**
 * Plain DML only: there the libpg_query fingerprint ignores every constant, so
 * the shared entry's fingerprint (which policy may test) is exact for all texts
 * of the shape. (It is not for e.g. FETCH, whose count is part of it.)
 */
const CACHED_KINDS = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

function cacheable(c: Classification): boolean {
  if (c.parseError !== undefined || c.statements.length !== 1) return false;
  const st = c.statements[0]!;
  return CACHED_KINDS.has(st.kind) && st.setsSearchPath === undefined && st.prepares === undefined;
}

export class ClassificationCache {
  readonly #lru: LruCache<string, Classification>;
  hits = 0;
  misses = 0;

  constructor(capacity = 4096) {
    this.#lru = new LruCache(capacity);
  }

  classify(sql: string, ctx: ClassifyContext): Classification {
    const shape = numericShape(sql);
    if (shape === null) return classifyPostgres(sql, ctx);
    const key = `${ctx.searchPath.join('\u0001')}\u0000${shape}`;
    const hit = this.#lru.get(key);
    if (hit) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const c = classifyPostgres(sql, ctx);
    if (cacheable(c)) {
      // Offsets differ between texts of one shape: drop them from the shared entry.
      const { location: _location, ...st } = c.statements[0]!;
      const shared: Classification = { ...c, statements: [st] };
      this.#lru.set(key, shared);
      return shared;
    }
    return c;
  }
}
