/**
 * Lineage for a whole query string, one entry per statement, with the
 * session state that SQL-level names carry across statements:
 *
 * - `PREPARE p AS …` / `EXECUTE p`: the EXECUTE returns the body's rows, so
 *   it gets the body's lineage (an unknown name: every column 'unknown');
 * - `DECLARE c CURSOR FOR …` / `FETCH … FROM c`: the same for cursors, and for
 *   protocol-level portals, which share the cursor namespace (`lookupPortal`);
 * - `COPY … TO STDOUT`: its options (format, delimiter, null, quote, escape,
 *   header) and the table or column list, because COPY data has no
 *   RowDescription to plan from.
 *
 * Why per statement: a simple Query may hold several statements and the
 * relay plans each RowDescription with the lineage of the statement it
 * belongs to (counted by CommandComplete). `analyzeLineage` (index.ts) gives
 * only the last one.
 *
 * Pure: parsing with libpg_query (WASM, loaded by `initLineage()`), no I/O.
 * The result of `analyzeQuery` is cacheable unless `stateful` is set (it read
 * PREPARE/cursor state); `applyEffects` must be called for every analysed
 * query, cached or not, so that later EXECUTE/FETCH see the bodies.
 */
import { parseSync } from 'libpg-query';
import { UNKNOWN_LINEAGE, type DataClass } from '../types.ts';
import { Analyzer, type LineageCatalog } from './analyze.ts';
import { arr, isObj, node, str, type Obj } from './ast.ts';
import type { LineageResult } from './index.ts';
import type { Lin, SelectOut } from './relations.ts';

/** COPY text/CSV/binary options as written in the statement (the defaults are the wire codec's). */
export interface CopyOptions {
  kind: 'text' | 'csv' | 'binary';
  delimiter?: string;
  null?: string;
  quote?: string;
  escape?: string;
  header: boolean;
}

export interface CopyTarget {
  options: CopyOptions;
  /** `COPY table [(cols)] TO`: the relation as written (schema may be absent) and the column list, if any. */
  relation: { schema: string | null; name: string; columns: string[] | null } | null;
}

export interface StatementLineage {
  /** libpg_query node type (`SelectStmt`, `CopyStmt`…). */
  kind: string;
  /**
   * Lineage of the rows this statement returns, or null when it returns none
   * or returns no table data (SHOW, EXPLAIN). A statement of another kind
   * that yields a RowDescription anyway must be treated as all-unknown: see
   * `rowsUnknownIfAny`.
   */
  result: LineageResult | null;
  /** True when rows from this statement, if any arrive, have lineage Gatehouse cannot follow (CALL, an unresolved EXECUTE/FETCH…). */
  rowsUnknownIfAny: boolean;
  /** Set for `COPY … TO STDOUT`. */
  copy?: CopyTarget;
}

export interface QueryLineage {
  statements: StatementLineage[];
  /** Union over all statements (inference guard). */
  predicateClasses: DataClass[];
  /** Union over all statements (laundering writes). */
  writeClasses: (DataClass | 'unknown')[];
  /** Relation names (as written, unqualified name part) that the catalog did not know in any schema looked at. */
  missingRelations: string[];
  /** Results depend on PREPARE/cursor state: do not cache. */
  stateful: boolean;
  parseError?: string;
  /** Session effects, applied by `applyEffects`. */
  effects: Effect[];
}

type Effect =
  | { kind: 'prepare'; name: string; body: unknown }
  | { kind: 'declare'; name: string; result: LineageResult }
  | { kind: 'deallocate'; name: string | null }
  | { kind: 'close'; name: string | null }
  | { kind: 'discard' };

/** What SQL-level names refer to in one session. Bounded: a session cannot grow it without limit. */
export class LineageSessionState {
  static readonly LIMIT = 1000;
  readonly prepared = new Map<string, unknown>();
  readonly cursors = new Map<string, LineageResult>();

  applyEffects(q: QueryLineage): void {
    for (const e of q.effects) {
      switch (e.kind) {
        case 'prepare':
          bounded(this.prepared, e.name, e.body);
          break;
        case 'declare':
          bounded(this.cursors, e.name, e.result);
          break;
        case 'deallocate':
          if (e.name === null) this.prepared.clear();
          else this.prepared.delete(e.name);
          break;
        case 'close':
          if (e.name === null) this.cursors.clear();
          else this.cursors.delete(e.name);
          break;
        case 'discard':
          this.prepared.clear();
          this.cursors.clear();
          break;
      }
    }
  }
}

function bounded<V>(m: Map<string, V>, k: string, v: V): void {
  m.delete(k);
  // Dropping the oldest entry only makes a later EXECUTE/FETCH of it 'unknown' (masked): fail closed.
  if (m.size >= LineageSessionState.LIMIT) m.delete(m.keys().next().value!);
  m.set(k, v);
}

function column(l: Lin): DataClass | 'unknown' | null {
  if (l.unknown || l.classes.size > 1) return UNKNOWN_LINEAGE;
  return l.classes.size === 1 ? [...l.classes][0]! : null;
}

export function resultOf(out: SelectOut): LineageResult {
  const lins = [...out.cols.map((c) => c.lin), ...(out.tail ? [out.tail.lin] : [])];
  return {
    columns: lins.map(column),
    classes: lins.map((l) => [...l.classes].sort()),
    unresolved: lins.map((l) => l.unknown),
    openEnded: out.tail !== null,
    predicateClasses: [],
    writeClasses: [],
  };
}

/** Every column 'unknown' (open-ended, so it covers any number of columns). */
export const ALL_UNKNOWN: LineageResult = Object.freeze({
  columns: [UNKNOWN_LINEAGE],
  classes: [[]],
  unresolved: [true],
  openEnded: true,
  predicateClasses: [],
  writeClasses: [],
}) as LineageResult;

/**
 * Statements that return rows whose lineage the analyzer cannot see (a
 * procedure's OUT parameters). Every other statement either returns rows
 * the analyzer follows (SELECT, VALUES, RETURNING, COPY, cursors, EXECUTE),
 * rows without table data (SHOW, EXPLAIN), or no rows at all.
 */
const OPAQUE_ROWS = new Set(['CallStmt']);

export interface AnalyzeOptions {
  /** Lineage of a protocol-level portal (`FETCH` from a Bind portal), when the caller knows it. */
  lookupPortal?: (name: string) => LineageResult | undefined;
}

function parse(sql: string): { stmt: unknown }[] {
  const tree = parseSync(sql) as { stmts?: { stmt?: unknown }[] };
  return (tree.stmts ?? []).map((s) => ({ stmt: s.stmt }));
}

/**
 * Analyse every statement of `sql`. Never throws: a query that does not
 * parse, or a walk that fails, yields all-unknown statements (fail closed).
 */
export function analyzeQuery(sql: string, catalog: LineageCatalog, state: LineageSessionState, opts: AnalyzeOptions = {}): QueryLineage {
  let stmts: { stmt: unknown }[];
  try {
    stmts = parse(sql);
  } catch (e) {
    return failClosed(e instanceof Error ? e.message : String(e));
  }
  const seen = new Map<string, boolean>();
  const recording: LineageCatalog = {
    searchPath: catalog.searchPath,
    columnClass: (s, t, c) => catalog.columnClass(s, t, c),
    ...(catalog.viewDefinition ? { viewDefinition: (s: string, t: string) => catalog.viewDefinition!(s, t) } : {}),
    ...(catalog.columns
      ? {
          columns: (s: string, t: string) => {
            const c = catalog.columns!(s, t);
            seen.set(t, (seen.get(t) ?? false) || c !== null);
            return c;
          },
        }
      : {}),
  };
  try {
    const a = new Analyzer(recording, (text) => parse(text).map((s) => s.stmt));
    const out: StatementLineage[] = [];
    const effects: Effect[] = [];
    let stateful = false;
    // Cursors and prepared statements declared earlier in the same string are visible to later statements.
    const local = new LineageSessionState();
    for (const [k, v] of state.prepared) local.prepared.set(k, v);
    for (const [k, v] of state.cursors) local.cursors.set(k, v);
    for (const { stmt } of stmts) {
      const n = node(stmt);
      const kind = n?.[0] ?? 'Unknown';
      const b: Obj = n?.[1] ?? {};
      let entry: StatementLineage;
      switch (kind) {
        case 'PrepareStmt': {
          a.statement(b.query); // predicates and writes of the body count when it is prepared
          const name = typeof b.name === 'string' ? b.name : '';
          const e: Effect = { kind: 'prepare', name, body: b.query };
          effects.push(e);
          local.applyEffects({ effects: [e] } as QueryLineage);
          entry = { kind, result: null, rowsUnknownIfAny: false };
          break;
        }
        case 'ExecuteStmt': {
          stateful = true;
          const body = local.prepared.get(typeof b.name === 'string' ? b.name : '');
          const res = body === undefined ? null : a.statement(body);
          entry = res ? { kind, result: resultOf(res), rowsUnknownIfAny: false } : { kind, result: null, rowsUnknownIfAny: body === undefined || !returnsNothing(body) };
          break;
        }
        case 'DeclareCursorStmt': {
          const res = a.statement(stmt);
          const result = res ? resultOf(res) : ALL_UNKNOWN;
          const e: Effect = { kind: 'declare', name: typeof b.portalname === 'string' ? b.portalname : '', result };
          effects.push(e);
          local.applyEffects({ effects: [e] } as QueryLineage);
          entry = { kind, result: null, rowsUnknownIfAny: false };
          break;
        }
        case 'FetchStmt': {
          stateful = true;
          if (b.ismove === true) {
            entry = { kind, result: null, rowsUnknownIfAny: false };
            break;
          }
          const name = typeof b.portalname === 'string' ? b.portalname : '';
          const result = local.cursors.get(name) ?? opts.lookupPortal?.(name) ?? ALL_UNKNOWN;
          entry = { kind, result, rowsUnknownIfAny: false };
          break;
        }
        case 'DeallocateStmt': {
          const e: Effect = { kind: 'deallocate', name: b.isall === true || typeof b.name !== 'string' ? null : b.name };
          effects.push(e);
          local.applyEffects({ effects: [e] } as QueryLineage);
          entry = { kind, result: null, rowsUnknownIfAny: false };
          break;
        }
        case 'ClosePortalStmt': {
          const e: Effect = { kind: 'close', name: typeof b.portalname === 'string' ? b.portalname : null };
          effects.push(e);
          local.applyEffects({ effects: [e] } as QueryLineage);
          entry = { kind, result: null, rowsUnknownIfAny: false };
          break;
        }
        case 'DiscardStmt': {
          if (b.target === 'DISCARD_ALL') {
            const e: Effect = { kind: 'discard' };
            effects.push(e);
            local.applyEffects({ effects: [e] } as QueryLineage);
          }
          entry = { kind, result: null, rowsUnknownIfAny: false };
          break;
        }
        case 'CopyStmt': {
          const res = a.statement(stmt);
          const copy = copyTarget(b);
          entry = { kind, result: res ? resultOf(res) : copy ? ALL_UNKNOWN : null, rowsUnknownIfAny: false, ...(copy ? { copy } : {}) };
          break;
        }
        default: {
          const res = a.statement(stmt);
          entry = res
            ? { kind, result: resultOf(res), rowsUnknownIfAny: false }
            : { kind, result: null, rowsUnknownIfAny: OPAQUE_ROWS.has(kind) };
        }
      }
      out.push(entry);
    }
    return {
      statements: out,
      predicateClasses: [...a.predicates].sort(),
      writeClasses: [...[...a.writes.classes].sort(), ...(a.writes.unknown ? [UNKNOWN_LINEAGE] : [])],
      missingRelations: [...seen].filter(([, hit]) => !hit).map(([t]) => t),
      stateful,
      effects,
    };
  } catch (e) {
    // A bug or an exhausted stack while walking: fail closed.
    return failClosed(e instanceof Error ? e.message : String(e));
  }
}

/** A PREPAREd body that cannot return rows (so an EXECUTE of it needs no lineage). */
function returnsNothing(body: unknown): boolean {
  const n = node(body);
  if (!n) return false;
  const [kind, b] = n;
  if (kind === 'SelectStmt') return false;
  if (kind === 'InsertStmt' || kind === 'UpdateStmt' || kind === 'DeleteStmt' || kind === 'MergeStmt') {
    return arr(b.returningList).length === 0 && !(isObj(b.returningClause) && arr(b.returningClause.exprs).length > 0);
  }
  return false;
}

function failClosed(parseError: string): QueryLineage {
  return {
    statements: [{ kind: 'ParseError', result: ALL_UNKNOWN, rowsUnknownIfAny: true }],
    predicateClasses: [],
    writeClasses: [UNKNOWN_LINEAGE],
    missingRelations: [],
    stateful: true,
    parseError,
    effects: [],
  };
}

/** `COPY … TO STDOUT` options and target; null for COPY FROM and for COPY to a server file or program. */
function copyTarget(b: Obj): CopyTarget | null {
  if (b.is_from === true || typeof b.filename === 'string' || b.is_program === true) return null;
  const options: CopyOptions = { kind: 'text', header: false };
  for (const o of arr(b.options)) {
    const d = node(o)?.[1];
    if (!d || typeof d.defname !== 'string') continue;
    const v = defValue(d.arg);
    switch (d.defname) {
      case 'format':
        options.kind = v === 'csv' ? 'csv' : v === 'binary' ? 'binary' : 'text';
        break;
      case 'delimiter':
      case 'null':
      case 'quote':
      case 'escape':
        if (typeof v === 'string') options[d.defname] = v;
        break;
      case 'header':
        // HEADER alone, true/on/1, or MATCH (COPY FROM only).
        options.header = v === undefined || v === true || (typeof v === 'string' && /^(true|on|1|match)$/i.test(v));
        break;
    }
  }
  const rv = isObj(b.relation) ? b.relation : null;
  const relation = rv && typeof rv.relname === 'string'
    ? { schema: typeof rv.schemaname === 'string' ? rv.schemaname : null, name: rv.relname, columns: arr(b.attlist).length ? arr(b.attlist).map((x) => str(x) ?? '') : null }
    : null;
  return { options, relation };
}

function defValue(arg: unknown): string | boolean | undefined {
  if (arg === undefined) return undefined;
  const s = str(arg);
  if (s !== undefined) return s;
  const n = node(arg);
  if (n?.[0] === 'Boolean') return n[1].boolval === true;
  if (n?.[0] === 'Integer') return String(n[1].ival ?? 0);
  return undefined;
}
