/**
 * Postgres statement classification with the real Postgres grammar
 * (libpg_query, compiled to WASM). `initClassifier()` must have resolved once
 * before `classifyPostgres` is called; until then every query classifies as
 * `sql:unknown` (fail closed) with parseError 'classifier not initialised'.
 */
import { fingerprintSync, loadModule, parseSync } from 'libpg-query';
import { classifyNode } from './statements.ts';
import { isObj, StatementState } from './walk.ts';
import type { Classification, ClassifiedStatement, ClassifyContext } from './types.ts';

let ready = false;
let loading: Promise<void> | undefined;

/** Load the parser (WASM). Idempotent; safe to call concurrently. */
export function initClassifier(): Promise<void> {
  loading ??= loadModule().then(() => {
    ready = true;
  });
  return loading;
}

export function isClassifierReady(): boolean {
  return ready;
}

function unknown(kind: string, flag: string, message: string): Classification {
  return {
    statements: [{ kind, pairs: [{ action: 'sql:unknown', table: null }], flags: [flag] }],
    fingerprint: null,
    parseError: message,
  };
}

/** Whitespace and comments only: Postgres answers EmptyQueryResponse and runs nothing. */
function isBlank(sql: string): boolean {
  return sql.trim() === '';
}

/**
 * Classify every statement of a (possibly multi-statement) query string.
 *
 * Statements are classified in order and a `SET search_path` in one applies
 * to the unqualified names of the statements after it in the same string.
 * Any parser rejection or classifier failure yields a single `sql:unknown`
 * statement: fail closed, the caller denies unless policy permits sql:unknown.
 */
export function classifyPostgres(sql: string, ctx: ClassifyContext): Classification {
  if (!ready) return unknown('ParseError', 'classifier_not_ready', 'classifier not initialised');
  if (isBlank(sql)) return { statements: [], fingerprint: null };
  let parsed: { stmts?: unknown[] };
  try {
    parsed = parseSync(sql) as { stmts?: unknown[] };
  } catch (e) {
    return unknown('ParseError', 'parse_error', e instanceof Error ? e.message : String(e));
  }
  try {
    const statements: ClassifiedStatement[] = [];
    let searchPath = ctx.searchPath;
    let totalBytes: number | undefined;
    // `PREPARE p AS …; EXECUTE p` in one string: later statements see earlier PREPAREs.
    const local = new Map<string, Classification>();
    const prepared = (name: string): Classification | undefined => local.get(name) ?? ctx.prepared?.(name);
    for (const raw of parsed.stmts ?? []) {
      if (!isObj(raw) || !isObj(raw.stmt)) throw new Error('malformed parse tree');
      const [kind] = Object.keys(raw.stmt);
      const body = kind === undefined ? undefined : raw.stmt[kind];
      if (kind === undefined || !isObj(body)) throw new Error('malformed parse tree');
      const start = typeof raw.stmt_location === 'number' ? raw.stmt_location : 0;
      let length = typeof raw.stmt_len === 'number' ? raw.stmt_len : 0;
      if (length === 0) {
        totalBytes ??= new TextEncoder().encode(sql).length;
        length = totalBytes - start;
      }
      const stmt = classifyOne(kind, body, { ...ctx, searchPath, prepared });
      statements.push({ ...stmt, location: { start, length } });
      if (stmt.setsSearchPath) searchPath = stmt.setsSearchPath;
      if (stmt.prepares) local.set(stmt.prepares.name, stmt.prepares.body);
    }
    let fingerprint: string | null = null;
    if (statements.length > 0) {
      try {
        fingerprint = fingerprintSync(sql);
      } catch {
        fingerprint = null;
      }
    }
    return { statements, fingerprint };
  } catch (e) {
    // A bug or an exhausted stack while walking: fail closed.
    return unknown('ClassifierError', 'classifier_error', e instanceof Error ? e.message : String(e));
  }
}

function classifyOne(kind: string, body: Record<string, unknown>, ctx: ClassifyContext): ClassifiedStatement {
  const st = new StatementState(ctx, ctx.searchPath);
  if (kind === 'PrepareStmt') {
    // PREPARE name AS body: classified as its body now (so an unauthorised
    // body never reaches the server), and the body's class is what a later
    // EXECUTE gets (a prepared statement cannot change class).
    const name = typeof body.name === 'string' ? body.name : '';
    const q = isObj(body.query) ? body.query : {};
    const [innerKind] = Object.keys(q);
    const innerBody = innerKind === undefined ? undefined : q[innerKind];
    const inner: ClassifiedStatement =
      innerKind !== undefined && isObj(innerBody)
        ? classifyOne(innerKind, innerBody, ctx)
        : { kind: 'Unknown', pairs: [{ action: 'sql:unknown', table: null }], flags: ['unknown_statement:?'] };
    return {
      kind,
      pairs: inner.pairs,
      flags: ['prepare', ...inner.flags],
      prepares: { name, body: { statements: [inner], fingerprint: null } },
    };
  }
  const out = classifyNode(kind, body, st);
  if (st.pairs.length === 0) st.add('sql:unknown', null); // invariant: never empty
  const stmt: ClassifiedStatement = { kind, pairs: st.pairs, flags: [...st.flags].sort() };
  return out.searchPath ? { ...stmt, setsSearchPath: out.searchPath } : stmt;
}
