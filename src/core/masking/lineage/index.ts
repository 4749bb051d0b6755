/**
 * Statement lineage for masking: which output columns of a statement carry
 * which rule-bound data classes, and which classes its predicates use.
 *
 * `initLineage()` must have resolved once (it loads the WASM parser, shared
 * with the classifier). Until then, and for any statement the parser rejects,
 * the result is fail-closed: every column 'unknown'.
 */
import { loadModule, parseSync } from 'libpg-query';
import type { ColumnLineage } from '../engine.ts';
import { UNKNOWN_LINEAGE, type DataClass } from '../types.ts';
import { Analyzer, type LineageCatalog } from './analyze.ts';
import type { Lin, SelectOut } from './relations.ts';

export type { LineageCatalog } from './analyze.ts';

export interface LineageResult {
  /**
   * Per output column of the last statement that returns rows (SELECT,
   * RETURNING, DECLARE CURSOR, COPY … TO): its class, 'unknown', or null.
   * A column reached by several classes is 'unknown' here (safe for a single
   * class slot); `classes` has them all.
   */
  columns: (DataClass | 'unknown' | null)[];
  /** Every class reaching each column (same positions as `columns`). */
  classes: DataClass[][];
  /** True where a construct could not be followed (an opaque function, an unresolvable name…). */
  unresolved: boolean[];
  /**
   * True when a `*` could not be expanded (no `catalog.columns`): the last
   * entry of `columns`/`classes` then applies to every column from its
   * position on. Use `lineageForColumns` to get one entry per result column.
   */
  openEnded: boolean;
  /** Classes used in WHERE/JOIN/ORDER BY/GROUP BY/HAVING/DISTINCT ON/window clauses, for the inference guard. */
  predicateClasses: DataClass[];
  /**
   * Classes the statement copies into *other* columns or tables (INSERT …
   * SELECT, UPDATE SET x = f(ssn), CREATE TABLE AS, SELECT INTO): reading them
   * back later would bypass lineage. 'unknown' when a written value's lineage
   * is unknown. The caller should deny such writes for principals who may not
   * unmask those classes.
   */
  writeClasses: (DataClass | 'unknown')[];
  /** Set when the statement could not be parsed (the result is then fail-closed). */
  parseError?: string;
}

let ready = false;
let loading: Promise<void> | undefined;

export function initLineage(): Promise<void> {
  loading ??= loadModule().then(() => {
    ready = true;
  });
  return loading;
}

function parse(sql: string): unknown[] {
  const tree = parseSync(sql) as { stmts?: { stmt?: unknown }[] };
  return (tree.stmts ?? []).map((s) => s.stmt);
}

const failClosed = (parseError: string): LineageResult => ({
  columns: [UNKNOWN_LINEAGE],
  classes: [[]],
  unresolved: [true],
  openEnded: true,
  predicateClasses: [],
  writeClasses: [UNKNOWN_LINEAGE],
  parseError,
});

function column(l: Lin): DataClass | 'unknown' | null {
  if (l.unknown || l.classes.size > 1) return UNKNOWN_LINEAGE;
  return l.classes.size === 1 ? [...l.classes][0]! : null;
}

export function analyzeLineage(sql: string, catalog: LineageCatalog): LineageResult {
  if (!ready) return failClosed('lineage parser not initialised');
  let stmts: unknown[];
  try {
    stmts = parse(sql);
  } catch (e) {
    return failClosed(e instanceof Error ? e.message : String(e));
  }
  try {
    const a = new Analyzer(catalog, parse);
    let last: SelectOut | null = null;
    for (const s of stmts) last = a.statement(s) ?? last;
    const lins = last ? [...last.cols.map((c) => c.lin), ...(last.tail ? [last.tail.lin] : [])] : [];
    return {
      columns: lins.map(column),
      classes: lins.map((l) => [...l.classes].sort()),
      unresolved: lins.map((l) => l.unknown),
      openEnded: last?.tail != null,
      predicateClasses: [...a.predicates].sort(),
      writeClasses: [...[...a.writes.classes].sort(), ...(a.writes.unknown ? [UNKNOWN_LINEAGE] : [])],
    };
  } catch (e) {
    // A bug or an exhausted stack while walking: fail closed.
    return failClosed(e instanceof Error ? e.message : String(e));
  }
}

/**
 * One engine entry per result column (`Masker.planForRow`'s `columnClasses`):
 * 'unknown', the list of classes, or null. Extends an open-ended result.
 */
export function lineageForColumns(r: LineageResult, count: number): ColumnLineage[] {
  const out: ColumnLineage[] = [];
  for (let i = 0; i < count; i++) {
    const j = r.openEnded ? Math.min(i, r.columns.length - 1) : i;
    const col = r.columns[j];
    if (col === undefined || col === null) out.push(null);
    else if (col === UNKNOWN_LINEAGE && r.unresolved[j] !== true) out.push(r.classes[j] ?? UNKNOWN_LINEAGE); // several classes: keep them all
    else out.push(col);
  }
  return out;
}
