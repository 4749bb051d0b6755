/**
 * Column lineage over the libpg_query parse tree: for each output column of
 * a statement, the data classes (from column rules) its value may be derived
 * from — through functions, casts, CASE, sub-selects, CTEs, set operations
 * and views — and the classes used in predicates (WHERE, JOIN, ORDER BY,
 * GROUP BY, HAVING, DISTINCT ON, window clauses) for the inference guard.
 *
 * Why over-approximate: detectors cannot recognise a transformed value
 * (`reverse(ssn)`), so lineage is the only thing between such a query and a
 * clear value. Every uncertainty therefore widens the result: an expression
 * carries the classes of *every* column it mentions (a CASE condition
 * included), a name that might belong to an outer query is looked up there
 * too, and anything unresolvable is 'unknown'.
 *
 * See relations.ts for the shapes, tables.ts for tables and views, dml.ts
 * for INSERT/UPDATE/DELETE/MERGE, functions.ts for which calls are followed.
 */
import type { DataClass } from '../types.ts';
import { functionLineage } from './functions.ts';
import { add, derivedRel, empty, figureName, functionRel, opaqueRel, unionAll, unknownLin, type Col, type Lin, type Lookup, type Rel, type SelectOut } from './relations.ts';

import { arr, isObj, names, node, str, type Obj } from './ast.ts';
import { analyzeDml } from './dml.ts';
import { tableRel } from './tables.ts';

export interface LineageCatalog {
  /** The class a column rule gives this column (for the current connection), or null. */
  columnClass(schema: string, table: string, column: string): DataClass | null;
  /** A view's SELECT (pg_get_viewdef), or null when the relation is not a view. */
  viewDefinition?(schema: string, table: string): string | null;
  /** A relation's column names in order, or null when it does not exist (lets `*` expand and picks the search_path match). */
  columns?(schema: string, table: string): string[] | null;
  searchPath: string[];
}

export interface Scope {
  rels: Rel[];
  parent: Scope | null;
  ctes: Map<string, SelectOut>;
}

export class Analyzer {
  readonly predicates = new Set<DataClass>();
  readonly writes: Lin = empty();
  /** Views being expanded (cycle and depth guard, tables.ts). */
  readonly views = new Set<string>();

  constructor(
    readonly catalog: LineageCatalog,
    readonly parse: (sql: string) => unknown[],
  ) {}

  /** One parsed statement (`{ SelectStmt: … }`) → its output, or null when it returns no rows. */
  statement(stmt: unknown, parent: Scope | null = null): SelectOut | null {
    const n = node(stmt);
    if (!n) return null;
    const [kind, b] = n;
    switch (kind) {
      case 'SelectStmt': {
        const out = this.select(b, parent);
        if (b.intoClause) this.#writeAll(out); // SELECT … INTO copies values into a new table
        return out;
      }
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt':
        return analyzeDml(this, kind, b, parent);
      case 'DeclareCursorStmt':
        return this.statement(b.query, parent);
      case 'CreateTableAsStmt': {
        const out = this.statement(b.query, parent);
        if (out) this.#writeAll(out);
        return null;
      }
      case 'ExplainStmt':
        this.statement(b.query, parent); // predicates only: a plan shows no row values
        return null;
      case 'CopyStmt':
        return this.#copy(b, parent);
      default:
        return null;
    }
  }

  #writeAll(out: SelectOut): void {
    for (const c of out.cols) add(this.writes, c.lin);
    add(this.writes, out.tail?.lin);
  }

  #copy(b: Obj, parent: Scope | null): SelectOut | null {
    if (b.is_from === true) return null;
    if (b.query) return this.statement(b.query, parent);
    const rv = b.relation;
    if (!isObj(rv)) return null;
    const rel = this.table(rv, { rels: [], parent, ctes: new Map() });
    const attl = arr(b.attlist).map(str).filter((s): s is string => s !== undefined);
    if (attl.length > 0) return { cols: attl.map((c) => ({ name: c, lin: rel.lookup(c)?.lin ?? unknownLin() })), tail: null };
    const ex = rel.expand();
    // COPY has no RowDescription, so the engine cannot fall back on column origins: unknown columns are 'unknown'.
    return ex ? { cols: ex, tail: null } : { cols: [], tail: { lin: add(unknownLin(), rel.whole()), lookup: (c) => rel.lookup(c) } };
  }

  select(b: Obj, parent: Scope | null): SelectOut {
    const scope: Scope = { rels: [], parent, ctes: new Map() };
    this.ctes(b.withClause, scope);
    if (typeof b.op === 'string' && b.op !== 'SETOP_NONE') {
      const l = this.select(isObj(b.larg) ? b.larg : {}, scope);
      const r = this.select(isObj(b.rarg) ? b.rarg : {}, scope);
      const out = mergeSetOp(l, r);
      this.#orderBy(b.sortClause, scope, out);
      return out;
    }
    if (Array.isArray(b.valuesLists)) {
      const cols: Col[] = [];
      for (const row of b.valuesLists) {
        arr(node(row)?.[1].items).forEach((e, i) => {
          cols[i] ??= { name: `column${i + 1}`, lin: empty() };
          add(cols[i]!.lin, this.expr(e, scope));
        });
      }
      return { cols, tail: null };
    }
    for (const item of arr(b.fromClause)) this.fromItem(item, scope);
    for (const p of [b.whereClause, b.havingClause, b.groupClause, b.distinctClause, b.windowClause]) this.predicate(p, scope);
    const out = this.targets(arr(b.targetList), scope);
    this.#orderBy(b.sortClause, scope, out);
    return out;
  }

  ctes(w: unknown, scope: Scope): void {
    if (!isObj(w)) return;
    for (const c of arr(w.ctes)) {
      const cte = node(c)?.[1];
      if (!cte || typeof cte.ctename !== 'string') continue;
      const colnames = arr(cte.aliascolnames).map((x) => str(x) ?? '');
      const rename = (o: SelectOut): SelectOut => ({ cols: o.cols.map((col, i) => ({ name: colnames[i] || col.name, lin: col.lin })), tail: o.tail });
      if (w.recursive === true) {
        // Iterate to a fixed point: the recursive term reads the CTE itself. Lineage only grows, classes are finite.
        let cur: SelectOut = { cols: colnames.map((n) => ({ name: n, lin: empty() })), tail: null };
        for (let i = 0; i < 4; i++) {
          scope.ctes.set(cte.ctename, cur);
          const next = rename(this.statement(cte.ctequery, scope) ?? { cols: [], tail: null });
          const merged = mergeSetOp(cur, next);
          if (sameLineage(merged, cur)) break;
          cur = merged;
        }
        scope.ctes.set(cte.ctename, cur);
      } else {
        scope.ctes.set(cte.ctename, rename(this.statement(cte.ctequery, scope) ?? { cols: [], tail: null }));
      }
    }
  }

  fromItem(item: unknown, scope: Scope): void {
    const n = node(item);
    if (!n) return;
    const [kind, b] = n;
    switch (kind) {
      case 'RangeVar':
        scope.rels.push(this.table(b, scope));
        return;
      case 'RangeSubselect': {
        // A non-LATERAL sub-select sees outer queries and this level's CTEs, not its FROM siblings.
        const sees: Scope = b.lateral === true ? scope : { rels: [], parent: scope.parent, ctes: scope.ctes };
        const out = this.statement(b.subquery, sees) ?? { cols: [], tail: null };
        const alias = isObj(b.alias) ? b.alias : {};
        scope.rels.push(derivedRel(typeof alias.aliasname === 'string' ? alias.aliasname : '', out, arr(alias.colnames).map((x) => str(x) ?? '')));
        return;
      }
      case 'JoinExpr':
        this.fromItem(b.larg, scope);
        this.fromItem(b.rarg, scope);
        this.predicate(b.quals, scope);
        for (const u of arr(b.usingClause)) this.predicate({ ColumnRef: { fields: [u] } }, scope);
        return;
      case 'RangeFunction': {
        const lin = empty();
        for (const f of arr(b.functions)) add(lin, this.expr(arr(node(f)?.[1].items)[0], scope));
        const alias = isObj(b.alias) ? b.alias : {};
        const first = node(arr(node(arr(b.functions)[0])?.[1].items)[0]);
        const fname = first?.[0] === 'FuncCall' ? names(first[1].funcname).pop() : undefined;
        scope.rels.push(functionRel(typeof alias.aliasname === 'string' ? alias.aliasname : (fname ?? ''), lin, arr(alias.colnames).map((x) => str(x) ?? '')));
        return;
      }
      case 'RangeTableSample':
        this.fromItem(b.relation, scope);
        return;
      default: {
        // XMLTABLE, JSON_TABLE and anything newer: the lineage of everything they mention.
        const alias = isObj(b.alias) ? b.alias : {};
        scope.rels.push(functionRel(typeof alias.aliasname === 'string' ? alias.aliasname : '', this.expr(b, scope), []));
      }
    }
  }

  /** A table, view or CTE reference (tables.ts). */
  table(rv: Obj, scope: Scope): Rel {
    return tableRel(this, rv, scope);
  }

  targets(targets: unknown[], scope: Scope): SelectOut {
    const cols: Col[] = [];
    let tail: { lin: Lin; rels: Rel[]; extra: Col[] } | null = null;
    for (const t of targets) {
      const rt = node(t)?.[1] ?? {};
      const ref = node(rt.val);
      const fields = ref?.[0] === 'ColumnRef' ? names(ref[1].fields) : [];
      if (fields[fields.length - 1] === '*') {
        const rels = fields.length === 1 ? scope.rels : [this.findRel(fields[fields.length - 2]!, scope) ?? opaqueRel('')];
        for (const rel of rels) {
          const ex = tail ? null : rel.expand();
          if (ex) cols.push(...ex);
          else {
            tail ??= { lin: empty(), rels: [], extra: [] };
            add(tail.lin, rel.tail());
            tail.rels.push(rel);
          }
        }
        continue;
      }
      const col = { name: typeof rt.name === 'string' ? rt.name : figureName(rt.val), lin: this.expr(rt.val, scope) };
      if (tail) {
        // Past an unexpandable `*` positions are unknown: this column's lineage applies to the whole tail.
        add(tail.lin, col.lin);
        tail.extra.push(col);
      } else cols.push(col);
    }
    if (!tail) return { cols, tail: null };
    const t = tail;
    return {
      cols,
      tail: {
        lin: t.lin,
        lookup: (name) => {
          const hits = [...t.rels.map((r) => r.lookup(name)), ...t.extra.filter((c) => c.name === name).map((c) => ({ lin: c.lin, definite: true }))];
          const found = hits.filter((h): h is Lookup => h !== null);
          return found.length === 0 ? null : { lin: unionAll(found.map((f) => f.lin)), definite: found.some((f) => f.definite) };
        },
      },
    };
  }

  /** ORDER BY may name output columns (`ORDER BY 1`, `ORDER BY alias`) as well as input expressions. */
  #orderBy(sort: unknown, scope: Scope, out: SelectOut): void {
    for (const s of arr(sort)) {
      const e = node(s)?.[1].node;
      const n = node(e);
      const pos = n?.[0] === 'A_Const' && isObj(n[1].ival) ? Number(n[1].ival.ival) : NaN;
      if (Number.isInteger(pos)) {
        const col = out.cols[pos - 1];
        for (const c of (col?.lin ?? out.tail?.lin ?? empty()).classes) this.predicates.add(c);
        continue;
      }
      const f = n?.[0] === 'ColumnRef' ? names(n[1].fields) : [];
      if (f.length === 1) for (const c of out.cols.filter((x) => x.name === f[0])) for (const k of c.lin.classes) this.predicates.add(k);
      this.predicate(e, scope);
    }
  }

  predicate(e: unknown, scope: Scope): void {
    if (e === undefined || e === null) return;
    for (const c of this.expr(e, scope).classes) this.predicates.add(c);
  }

  findRel(name: string, scope: Scope): Rel | null {
    for (let s: Scope | null = scope; s; s = s.parent) {
      for (let i = s.rels.length - 1; i >= 0; i--) if (s.rels[i]!.name === name) return s.rels[i]!;
    }
    return null;
  }

  /** Lineage of an expression: the union over everything it reads. */
  expr(e: unknown, scope: Scope): Lin {
    if (Array.isArray(e)) return unionAll(e.map((x) => this.expr(x, scope)));
    if (!isObj(e)) return empty();
    const n = node(e);
    if (!n || !/^[A-Z]/.test(n[0])) return unionAll(Object.values(e).map((v) => this.expr(v, scope)));
    const [kind, b] = n;
    switch (kind) {
      case 'ColumnRef':
        return this.#columnRef(names(b.fields), scope);
      case 'A_Const':
      case 'ParamRef':
      case 'TypeName':
        return empty();
      case 'FuncCall': {
        const args = add(this.expr(b.args, scope), this.expr(b.agg_order, scope));
        this.predicate(b.agg_filter, scope);
        this.predicate(b.over, scope);
        const how = functionLineage(names(b.funcname));
        return how === 'none' ? empty() : how === 'unknown' ? add(unknownLin(), args) : args;
      }
      case 'SubLink': {
        const out = this.statement(b.subselect, scope);
        return add(add(unionAll((out?.cols ?? []).map((c) => c.lin)), out?.tail?.lin), this.expr(b.testexpr, scope));
      }
      case 'SelectStmt':
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt': {
        const out = this.statement(e, scope);
        return add(unionAll((out?.cols ?? []).map((c) => c.lin)), out?.tail?.lin);
      }
      default:
        return unionAll(Object.values(b).map((v) => this.expr(v, scope)));
    }
  }

  #columnRef(f: string[], scope: Scope): Lin {
    if (f.length === 0) return unknownLin();
    const last = f[f.length - 1]!;
    if (last === '*') {
      if (f.length === 1) return unionAll(scope.rels.map((r) => r.whole()));
      return this.findRel(f[f.length - 2]!, scope)?.whole() ?? unknownLin();
    }
    if (f.length >= 2) {
      const rel = this.findRel(f[f.length - 2]!, scope);
      if (rel) return rel.lookup(last)?.lin ?? empty();
      // `(comp).field` written as `comp.field`, or an unknown qualifier: the first name as a column, else unknown.
      const asColumn = this.#unqualified(f[0]!, scope);
      return asColumn ?? unknownLin();
    }
    return this.#unqualified(last, scope) ?? empty();
  }

  /**
   * Innermost scope first, like Postgres: a column of that level, else a
   * relation of that name (a whole-row reference, `SELECT p FROM people p`),
   * else the next level out. Relations whose columns we do not know only
   * *may* have the name, so the search goes on outward and unions.
   */
  #unqualified(col: string, scope: Scope): Lin | null {
    const lin = empty();
    let found = false;
    for (let s: Scope | null = scope; s; s = s.parent) {
      let definite = false;
      for (const rel of s.rels) {
        const l = rel.lookup(col);
        if (!l) continue;
        found = true;
        add(lin, l.lin);
        definite ||= l.definite;
      }
      if (definite) return lin;
      const whole = s.rels.find((r) => r.name === col);
      if (whole) return add(lin, whole.whole());
    }
    return found ? lin : null;
  }
}

/** Column-wise union of two branches of a set operation (UNION with a literal branch keeps the class). */
function mergeSetOp(l: SelectOut, r: SelectOut): SelectOut {
  const n = Math.max(l.cols.length, r.cols.length);
  const cols: Col[] = [];
  for (let i = 0; i < n; i++) {
    cols.push({ name: l.cols[i]?.name ?? r.cols[i]?.name ?? '?column?', lin: add(add(empty(), l.cols[i]?.lin ?? l.tail?.lin), r.cols[i]?.lin ?? r.tail?.lin) });
  }
  if (!l.tail && !r.tail) return { cols, tail: null };
  const lin = add(add(empty(), l.tail?.lin), r.tail?.lin);
  return { cols, tail: { lin, lookup: (name) => l.tail?.lookup(name) ?? r.tail?.lookup(name) ?? null } };
}

function sameLineage(a: SelectOut, b: SelectOut): boolean {
  const key = (o: SelectOut): string => JSON.stringify(o.cols.map((c) => [[...c.lin.classes].sort(), c.lin.unknown]));
  return key(a) === key(b);
}
