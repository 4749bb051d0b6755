/**
 * Base tables and views in FROM: column classes from the catalog's column
 * rules, `*` expansion from its column lists, and views expanded through
 * their definitions (so a rule on `people.ssn` follows `v_people.tax_id`).
 */
import { effectivePath } from '../../classify/sql/names.ts';
import type { Analyzer, Scope } from './analyze.ts';
import { arr, isObj, str, type Obj } from './ast.ts';
import { VALUE_CATALOG_RELATIONS } from './functions.ts';
import { add, derivedRel, empty, opaqueRel, unionAll, unknownLin, type Lookup, type Rel } from './relations.ts';

const MAX_VIEW_DEPTH = 8;

/** A table, view or CTE reference. */
export function tableRel(a: Analyzer, rv: Obj, scope: Scope): Rel {
  const relname = typeof rv.relname === 'string' ? rv.relname : '';
  const schema = typeof rv.schemaname === 'string' ? rv.schemaname : undefined;
  const alias = isObj(rv.alias) && typeof rv.alias.aliasname === 'string' ? rv.alias.aliasname : relname;
  const colnames = isObj(rv.alias) ? arr(rv.alias.colnames).map((x) => str(x) ?? '') : [];
  if (schema === undefined) {
    for (let s: Scope | null = scope; s; s = s.parent) {
      const cte = s.ctes.get(relname);
      if (cte) return derivedRel(alias, cte, colnames);
    }
  }
  if (VALUE_CATALOG_RELATIONS.has(relname) && (schema === undefined || schema === 'pg_catalog')) return opaqueRel(alias);
  const candidates = schema !== undefined ? [schema] : [...(relname.startsWith('pg_') || a.catalog.searchPath.length === 0 ? ['pg_catalog'] : []), ...effectivePath(a.catalog.searchPath)];
  // With a catalog of column lists, Postgres's own choice (the first schema that has the table) is known; without, every candidate counts.
  const listed = a.catalog.columns ? candidates.map((s) => [s, a.catalog.columns!(s, relname)] as const).find(([, c]) => c !== null) : undefined;
  const chosen = listed ? [listed[0]] : candidates;
  const views = chosen.map((s) => viewRel(a, s, relname)).filter((v): v is Rel => v !== null);
  const cat = a.catalog;
  const lookup = (col: string): Lookup | null => {
    if (listed && !listed[1]!.includes(col) && views.length === 0) return null;
    const lin = empty();
    for (const s of chosen) {
      const c = cat.columnClass(s, relname, col);
      if (c !== null) lin.classes.add(c);
    }
    for (const v of views) add(lin, v.lookup(col)?.lin);
    return { lin, definite: listed !== undefined };
  };
  const rel: Rel = {
    name: alias,
    lookup: (col) => {
      // `FROM people AS p(a, b)` renames columns by position: without the column list we cannot tell which one `b` is.
      const i = colnames.indexOf(col);
      if (i < 0) return lookup(col);
      const real = listed?.[1]?.[i] ?? views[0]?.expand()?.[i]?.name;
      return real === undefined ? { lin: unknownLin(), definite: true } : lookup(real);
    },
    expand: () => {
      const list = listed?.[1] ?? views[0]?.expand()?.map((c) => c.name);
      if (!list) return null;
      return list.map((c, i) => ({ name: colnames[i] ?? c, lin: lookup(c)?.lin ?? empty() }));
    },
    tail: () => (views.length > 0 ? add(unknownLin(), unionAll(views.map((v) => v.whole()))) : empty()),
    whole: () => {
      const ex = rel.expand();
      return ex ? unionAll(ex.map((c) => c.lin)) : unknownLin();
    },
  };
  return rel;
}

/** A view's lineage, from its definition (depth- and cycle-guarded: a broken catalog must not hang us). */
function viewRel(a: Analyzer, schema: string, relname: string): Rel | null {
  const def = a.catalog.viewDefinition?.(schema, relname) ?? null;
  if (def === null) return null;
  const key = `${schema}.${relname}`;
  if (a.views.has(key) || a.views.size >= MAX_VIEW_DEPTH) return opaqueRel(relname);
  a.views.add(key);
  try {
    const stmts = a.parse(def);
    const out = stmts.length === 1 ? a.statement(stmts[0]) : null;
    return out ? derivedRel(relname, out) : opaqueRel(relname);
  } catch {
    return opaqueRel(relname); // an unparsable view: fail closed
  } finally {
    a.views.delete(key);
  }
}
