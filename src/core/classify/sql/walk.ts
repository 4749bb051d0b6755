/**
 * Generic walk over a libpg_query JSON parse tree.
 *
 * Rather than look only in known places, the walker visits every object and
 * array of a statement, so a table or a side-effect function hidden anywhere
 * (a sub-select in a CASE in a DEFAULT, a LATERAL function, a CTE inside a
 * sub-query) is found. A few node types change what the nodes below them
 * mean, and only those are special-cased:
 *
 * - `RangeVar` (a table reference) → a pair with the current range action;
 *   unqualified names bound by an enclosing WITH are CTE references, not tables;
 * - `InsertStmt` / `UpdateStmt` / `DeleteStmt` / `MergeStmt` wherever they
 *   appear (including data-modifying CTEs) → `sql:write` on their target;
 * - `SelectStmt` → reads below, `FOR UPDATE/SHARE` → writes on the locked tables;
 * - `FuncCall` → the side-effect catalog (functions.ts);
 * - `ExecuteStmt` → the prepared statement's classification.
 *
 * libpg_query's JSON wraps `Node *` fields as `{ "TypeName": {...} }` but writes
 * fields of a fixed struct type inline (`relation: { relname… }`,
 * `larg: { targetList… }`, `funccall: { funcname… }`); both forms are handled.
 */
import { functionEffect, type FunctionEffect } from './functions.ts';
import { candidateTables, parseQualifiedName, qualify, tablesFromNameList } from './names.ts';
import type { ClassifyContext, SqlAction, SqlPair } from './types.ts';

type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Mutable accumulator for one statement. */
export class StatementState {
  readonly pairs: SqlPair[] = [];
  readonly #keys = new Set<string>();
  readonly flags = new Set<string>();
  /** Lexical CTE scopes, innermost last. */
  readonly #scopes: Set<string>[] = [];
  #cteDepth = 0;

  constructor(
    readonly ctx: ClassifyContext,
    public searchPath: readonly string[],
  ) {}

  /** CREATE SCHEMA s CREATE TABLE t …: the elements' unqualified names live in s. */
  withSearchPath(path: readonly string[], body: () => void): void {
    const saved = this.searchPath;
    this.searchPath = path;
    try {
      body();
    } finally {
      this.searchPath = saved;
    }
  }

  add(action: SqlAction, table: string | null): void {
    const key = `${action}\u0000${table ?? ''}`;
    if (this.#keys.has(key)) return;
    this.#keys.add(key);
    this.pairs.push({ action, table });
  }

  flag(f: string): void {
    this.flags.add(f);
  }

  isCte(name: string): boolean {
    return this.#scopes.some((s) => s.has(name));
  }

  get inCte(): boolean {
    return this.#cteDepth > 0;
  }

  /**
   * Run `body` with the CTEs of `withClause` in scope. Non-recursive WITH:
   * each CTE sees only the ones before it, so in
   * `WITH customers AS (SELECT * FROM customers) …` the inner `customers` is
   * the real table (reported), not the CTE. WITH RECURSIVE: all of them.
   */
  withCtes(withClause: unknown, body: () => void): void {
    if (!isObj(withClause) || !Array.isArray(withClause.ctes)) {
      body();
      return;
    }
    const ctes = withClause.ctes
      .map((c) => (isObj(c) && isObj(c.CommonTableExpr) ? c.CommonTableExpr : undefined))
      .filter((c): c is Obj => c !== undefined);
    const scope = new Set<string>();
    this.#scopes.push(scope);
    try {
      if (withClause.recursive === true) for (const c of ctes) if (typeof c.ctename === 'string') scope.add(c.ctename);
      for (const c of ctes) {
        this.#cteDepth += 1;
        try {
          visit(c.ctequery, this, 'sql:read');
        } finally {
          this.#cteDepth -= 1;
        }
        if (typeof c.ctename === 'string') scope.add(c.ctename);
      }
      body();
    } finally {
      this.#scopes.pop();
    }
  }
}

/** Tables a RangeVar may name (candidates for unqualified names; see names.ts). */
export function rangeVarTables(rv: Obj, st: StatementState): string[] {
  const rel = typeof rv.relname === 'string' ? rv.relname : '';
  if (typeof rv.schemaname === 'string' && rv.schemaname !== '') return [qualify(rv.schemaname, rel)];
  // CREATE TEMP TABLE x: the new table lives in the session's pg_temp schema.
  if (rv.relpersistence === 't') return [qualify('pg_temp', rel)];
  return candidateTables(rel, st.searchPath);
}

/** A table reference in a query or DDL: skipped when it names a visible CTE. */
function rangeVar(rv: Obj, st: StatementState, action: SqlAction): void {
  const unqualified = typeof rv.schemaname !== 'string' || rv.schemaname === '';
  if (unqualified && typeof rv.relname === 'string' && st.isCte(rv.relname)) return;
  for (const t of rangeVarTables(rv, st)) st.add(action, t);
  visitFields(rv, st, action, RANGEVAR_SKIP);
}
const RANGEVAR_SKIP = new Set(['relname', 'schemaname', 'catalogname']);

/** A DML target is always a table: WITH names cannot be written to. */
export function targetTable(rv: unknown, st: StatementState, action: SqlAction): void {
  if (!isObj(rv)) return;
  for (const t of rangeVarTables(rv, st)) st.add(action, t);
}

export function funcName(fc: Obj): string | null {
  const names = Array.isArray(fc.funcname) ? fc.funcname : [];
  const last = names[names.length - 1];
  if (isObj(last) && isObj(last.String) && typeof last.String.sval === 'string') return last.String.sval.toLowerCase();
  return null;
}

function configuredEffect(name: string, st: StatementState): FunctionEffect | undefined {
  const configured = st.ctx.functions?.[name];
  if (configured !== undefined) return { action: configured, flag: `configured_function:${name}` };
  return functionEffect(name);
}

function funcCall(fc: Obj, st: StatementState, action: SqlAction): void {
  const name = funcName(fc);
  const effect = name === null ? undefined : configuredEffect(name, st);
  if (effect) {
    st.flag(effect.flag);
    if (effect.action !== null) {
      let tables: string[] = [];
      if (effect.relationArg !== undefined && Array.isArray(fc.args)) {
        const arg = fc.args[effect.relationArg];
        const literal = stringConst(arg);
        const parts = literal === null ? null : parseQualifiedName(literal);
        if (parts) tables = tablesFromNameList(parts, st.searchPath);
      }
      if (tables.length === 0) st.add(effect.action, null);
      for (const t of tables) st.add(effect.action, t);
    }
  }
  visitFields(fc, st, action, EMPTY);
}
const EMPTY = new Set<string>();

/** The text of a string constant, looking through casts (`'s'::regclass`). */
export function stringConst(node: unknown): string | null {
  if (!isObj(node)) return null;
  if (isObj(node.A_Const) && isObj(node.A_Const.sval) && typeof node.A_Const.sval.sval === 'string') return node.A_Const.sval.sval;
  if (isObj(node.TypeCast)) return stringConst(node.TypeCast.arg);
  return null;
}

function returns(stmt: Obj): boolean {
  if (Array.isArray(stmt.returningList) && stmt.returningList.length > 0) return true;
  const rc = stmt.returningClause;
  return isObj(rc) && Array.isArray(rc.exprs) && rc.exprs.length > 0;
}

/**
 * INSERT/UPDATE/DELETE/MERGE anywhere. RETURNING also reads the target:
 * `DELETE … RETURNING *` hands back the rows, which a write-only principal
 * must not see.
 */
function dml(kind: string, stmt: Obj, st: StatementState): void {
  if (st.inCte) st.flag('modifying_cte');
  st.withCtes(stmt.withClause, () => {
    targetTable(stmt.relation, st, 'sql:write');
    if (returns(stmt)) targetTable(stmt.relation, st, 'sql:read');
    if (kind === 'MergeStmt') st.flag('merge');
    visitFields(stmt, st, 'sql:read', DML_SKIP);
  });
}
const DML_SKIP = new Set(['relation', 'withClause']);

/**
 * Collect the table references of a FROM clause: all of them (`deep`), or
 * only the directly joined ones with their aliases (for `FOR UPDATE OF a`).
 */
function fromTables(node: unknown, st: StatementState, out: { alias: string | null; rv: Obj }[], deep: boolean): void {
  if (Array.isArray(node)) {
    for (const n of node) fromTables(n, st, out, deep);
    return;
  }
  if (!isObj(node)) return;
  const rv = isObj(node.RangeVar) ? node.RangeVar : typeof node.relname === 'string' ? node : null;
  if (rv) {
    const alias = isObj(rv.alias) && typeof rv.alias.aliasname === 'string' ? rv.alias.aliasname : null;
    out.push({ alias, rv });
    return;
  }
  if (!deep) {
    if (isObj(node.JoinExpr)) {
      fromTables(node.JoinExpr.larg, st, out, false);
      fromTables(node.JoinExpr.rarg, st, out, false);
    }
    return;
  }
  for (const v of Object.values(node)) fromTables(v, st, out, true);
}

/**
 * SELECT … FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE takes row locks
 * and Postgres requires UPDATE privilege for it, so the locked tables get
 * `sql:write` (in addition to `sql:read`). Without OF, every table of the
 * FROM clause is locked (including those in sub-selects); with OF, the named
 * ones, and when a name is not a plain table (a sub-select alias) all of them.
 */
function lockingWrites(select: Obj, st: StatementState): void {
  const clauses = Array.isArray(select.lockingClause) ? select.lockingClause : [];
  for (const c of clauses) {
    const lc = isObj(c) && isObj(c.LockingClause) ? c.LockingClause : null;
    if (!lc) continue;
    const strength = String(lc.strength ?? '');
    st.flag(strength === 'LCS_FORUPDATE' || strength === 'LCS_FORNOKEYUPDATE' ? 'for_update' : 'for_share');
    const all: { alias: string | null; rv: Obj }[] = [];
    fromTables(select.fromClause, st, all, true);
    const lockAll = (): void => {
      for (const { rv } of all) rangeVar(rv, st, 'sql:write');
    };
    const named = Array.isArray(lc.lockedRels) ? lc.lockedRels : [];
    if (named.length === 0) {
      lockAll();
      continue;
    }
    const direct: { alias: string | null; rv: Obj }[] = [];
    fromTables(select.fromClause, st, direct, false);
    for (const n of named) {
      const rv = isObj(n) && isObj(n.RangeVar) ? n.RangeVar : null;
      const name = rv && typeof rv.relname === 'string' ? rv.relname : null;
      const hit = direct.find((d) => (d.alias ?? d.rv.relname) === name);
      if (hit) rangeVar(hit.rv, st, 'sql:write');
      else lockAll();
    }
  }
}

function select(stmt: Obj, st: StatementState): void {
  st.withCtes(stmt.withClause, () => {
    lockingWrites(stmt, st);
    if (isObj(stmt.intoClause)) {
      // SELECT … INTO new_table creates a table: DDL.
      st.flag('select_into');
      targetTable(stmt.intoClause.rel, st, 'sql:ddl');
    }
    if (isObj(stmt.larg)) select(stmt.larg, st);
    if (isObj(stmt.rarg)) select(stmt.rarg, st);
    visitFields(stmt, st, 'sql:read', SELECT_SKIP);
  });
}
const SELECT_SKIP = new Set(['withClause', 'intoClause', 'larg', 'rarg', 'lockingClause']);

/** EXECUTE name(params): the class of the prepared body, plus whatever the parameters call. */
function execute(stmt: Obj, st: StatementState): void {
  const name = typeof stmt.name === 'string' ? stmt.name : '';
  const prepared = st.ctx.prepared?.(name);
  if (!prepared) {
    // Not prepared through Gatehouse (or already deallocated): nothing to go on.
    st.flag(`unknown_prepared:${name}`);
    st.add('sql:unknown', null);
  } else {
    st.flag(`execute:${name}`);
    if (prepared.statements.length === 0) st.add('sql:unknown', null);
    for (const s of prepared.statements) {
      for (const p of s.pairs) st.add(p.action, p.table);
      for (const f of s.flags) st.flag(f);
    }
  }
  visitFields(stmt, st, 'sql:read', EXECUTE_SKIP);
}
const EXECUTE_SKIP = new Set(['name']);

const NODE_NAME = /^[A-Z]/;

/** Visit any value of the tree. `action` is what a plain table reference means here. */
export function visit(node: unknown, st: StatementState, action: SqlAction): void {
  if (Array.isArray(node)) {
    for (const n of node) visit(n, st, action);
    return;
  }
  if (!isObj(node)) return;
  const keys = Object.keys(node);
  if (keys.length === 1 && NODE_NAME.test(keys[0] as string)) {
    const type = keys[0] as string;
    visitNode(type, node[type], st, action);
    return;
  }
  if (typeof node.relname === 'string') return rangeVar(node, st, action);
  if (typeof node.funcformat === 'string' && Array.isArray(node.funcname)) return funcCall(node, st, action);
  visitFields(node, st, action, EMPTY);
}

export function visitNode(type: string, body: unknown, st: StatementState, action: SqlAction): void {
  if (!isObj(body)) return;
  switch (type) {
    case 'RangeVar':
      return rangeVar(body, st, action);
    case 'FuncCall':
      return funcCall(body, st, action);
    case 'SelectStmt':
      return select(body, st);
    case 'InsertStmt':
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'MergeStmt':
      return dml(type, body, st);
    case 'ExecuteStmt':
      return execute(body, st);
    default:
      return visitFields(body, st, action, EMPTY);
  }
}

export function visitFields(node: Obj, st: StatementState, action: SqlAction, skip: ReadonlySet<string>): void {
  for (const [k, v] of Object.entries(node)) {
    if (skip.has(k) || v === null || typeof v !== 'object') continue;
    visit(v, st, action);
  }
}
