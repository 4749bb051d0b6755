/**
 * Lineage values and the relations a FROM clause brings into scope.
 *
 * A `Lin` is the set of data classes an expression's value may be derived
 * from, plus `unknown` when some part of it could not be followed. It only
 * ever grows (union), so every approximation errs towards masking.
 */
import type { DataClass } from '../types.ts';

export interface Lin {
  classes: Set<DataClass>;
  unknown: boolean;
}

export const empty = (): Lin => ({ classes: new Set(), unknown: false });
export const unknownLin = (): Lin => ({ classes: new Set(), unknown: true });

/** Adds `from` into `into` and returns `into`. */
export function add(into: Lin, from: Lin | null | undefined): Lin {
  if (from) {
    for (const c of from.classes) into.classes.add(c);
    if (from.unknown) into.unknown = true;
  }
  return into;
}

export function unionAll(lins: Iterable<Lin>): Lin {
  const out = empty();
  for (const l of lins) add(out, l);
  return out;
}

export interface Col {
  name: string;
  lin: Lin;
}

/**
 * What a SELECT (or RETURNING list) yields: its columns, and a `tail` when a
 * `*` could not be expanded (no column list from the catalog), after which
 * positions are not known. `tail.lin` applies to every column from there on;
 * `tail.lookup` still resolves names through it for outer queries.
 */
export interface SelectOut {
  cols: Col[];
  tail: { lin: Lin; lookup: (name: string) => Lookup | null } | null;
}

/** A name found in a relation; `definite` when we know the relation has that column (else keep looking outward too). */
export interface Lookup {
  lin: Lin;
  definite: boolean;
}

export interface Rel {
  /** The name a qualified reference uses (alias, or relation name). */
  readonly name: string;
  lookup(col: string): Lookup | null;
  /** The columns `*` yields, or null when not known. */
  expand(): Col[] | null;
  /**
   * Lineage of the columns an unexpandable `*` yields. Empty for plain base
   * tables: those columns reach the client as plain column references whose
   * RowDescription origin (table OID, attnum) the engine resolves exactly.
   */
  tail(): Lin;
  /** A whole-row reference (`row_to_json(p)`, `SELECT p FROM people p`). */
  whole(): Lin;
}

/** A relation computed by a sub-select, CTE or view. */
export function derivedRel(name: string, out: SelectOut, colnames: readonly string[] = []): Rel {
  const cols = out.cols.map((c, i) => ({ name: colnames[i] ?? c.name, lin: c.lin }));
  return {
    name,
    lookup(col) {
      const hits = cols.filter((c) => c.name === col);
      if (hits.length > 0) return { lin: unionAll(hits.map((h) => h.lin)), definite: true };
      return out.tail ? out.tail.lookup(col) : null;
    },
    expand: () => (out.tail ? null : cols),
    tail: () => out.tail?.lin ?? empty(),
    whole: () => add(unionAll(cols.map((c) => c.lin)), out.tail?.lin),
  };
}

/** A set-returning function or table function in FROM: every column it yields has the call's lineage. */
export function functionRel(name: string, lin: Lin, colnames: readonly string[]): Rel {
  return {
    name,
    lookup: () => ({ lin, definite: colnames.length > 0 }),
    expand: () => (colnames.length > 0 ? colnames.map((n) => ({ name: n, lin })) : null),
    tail: () => lin,
    whole: () => lin,
  };
}

/** A relation whose every column is 'unknown' (pg_stats and friends, an unresolvable qualifier). */
export function opaqueRel(name: string): Rel {
  return { name, lookup: () => ({ lin: unknownLin(), definite: false }), expand: () => null, tail: unknownLin, whole: unknownLin };
}

/** Output names of a SELECT list item, as Postgres derives them (FigureColname). */
export function figureName(val: unknown): string {
  if (typeof val !== 'object' || val === null) return '?column?';
  const [kind] = Object.keys(val);
  const body = (val as Record<string, Record<string, unknown>>)[kind ?? ''];
  const lastString = (list: unknown): string | undefined => {
    if (!Array.isArray(list)) return undefined;
    const last = list[list.length - 1] as { String?: { sval?: string } } | undefined;
    return last?.String?.sval;
  };
  if (kind === 'ColumnRef') return lastString(body?.fields) ?? '?column?';
  if (kind === 'FuncCall') return lastString(body?.funcname) ?? '?column?';
  if (kind === 'TypeCast') return figureName(body?.arg) === '?column?' ? (lastString((body?.typeName as Record<string, unknown>)?.names) ?? '?column?') : figureName(body?.arg);
  return '?column?';
}
