/**
 * Lineage through INSERT, UPDATE, DELETE and MERGE: predicates, RETURNING
 * (which shows what was written, `old`/`new` included), and the classes a
 * write copies into other columns (`UPDATE t SET note = reverse(ssn)` would
 * otherwise launder a class past lineage for a later plain SELECT).
 */
import type { Analyzer, Scope } from './analyze.ts';
import { arr, isObj, node, type Obj } from './ast.ts';
import { add, empty, functionRel, opaqueRel, unionAll, type Lin, type Rel, type SelectOut } from './relations.ts';

export function analyzeDml(a: Analyzer, kind: string, b: Obj, parent: Scope | null): SelectOut | null {
  const scope: Scope = { rels: [], parent, ctes: new Map() };
  a.ctes(b.withClause, scope);
  const target = isObj(b.relation) ? a.table(b.relation, scope) : opaqueRel('');
  scope.rels.push(target);
  /** Values written per target column (they show in RETURNING and must not launder a class into another column). */
  const written = new Map<string, Lin>();
  const write = (col: string | null, lin: Lin): void => {
    const key = col ?? '';
    written.set(key, add(written.get(key) ?? empty(), lin));
    const own = col === null ? null : target.lookup(col)?.lin;
    for (const c of lin.classes) if (!own?.classes.has(c)) a.writes.classes.add(c);
    if (lin.unknown) a.writes.unknown = true;
  };
  for (const item of arr(kind === 'DeleteStmt' ? b.usingClause : b.fromClause)) a.fromItem(item, scope);
  if (kind === 'MergeStmt') {
    a.fromItem(b.sourceRelation, scope);
    a.predicate(b.joinCondition, scope);
    for (const w of arr(b.mergeWhenClauses)) write(null, a.expr(node(w)?.[1], scope));
  }
  a.predicate(b.whereClause, scope);
  if (kind === 'UpdateStmt') {
    for (const t of arr(b.targetList)) {
      const rt = node(t)?.[1] ?? {};
      write(typeof rt.name === 'string' ? rt.name : null, a.expr(rt.val, scope));
    }
  }
  if (kind === 'InsertStmt') {
    const src = a.statement(b.selectStmt, scope);
    const cols = arr(b.cols).map((c) => node(c)?.[1].name);
    (src?.cols ?? []).forEach((c, i) => write(typeof cols[i] === 'string' ? cols[i] : (target.expand()?.[i]?.name ?? null), c.lin));
    if (src?.tail) write(null, src.tail.lin);
    const conflict = isObj(b.onConflictClause) ? b.onConflictClause : {};
    const excluded = functionRel('excluded', unionAll(written.values()), []);
    const cs: Scope = { rels: [target, excluded], parent: scope, ctes: new Map() };
    a.predicate(conflict.whereClause, cs);
    for (const t of arr(conflict.targetList)) write(null, a.expr(node(t)?.[1].val, cs));
  }
  const ret = isObj(b.returningClause) ? arr(b.returningClause.exprs) : arr(b.returningList);
  if (ret.length === 0) return null;
  // RETURNING sees the target with what was written into it; PG 18 adds `old` and `new` for the same row.
  const anyColumn = written.get('');
  const returned: Rel = {
    name: target.name,
    lookup: (col) => {
      const l = target.lookup(col);
      const extra = add(add(empty(), written.get(col)), anyColumn);
      return l ? { lin: add(add(empty(), l.lin), extra), definite: l.definite } : extra.classes.size > 0 || extra.unknown ? { lin: extra, definite: false } : null;
    },
    expand: () => target.expand()?.map((c) => ({ name: c.name, lin: add(add(add(empty(), c.lin), written.get(c.name)), anyColumn) })) ?? null,
    tail: () => add(add(target.tail(), anyColumn), unionAll(written.values())),
    whole: () => add(target.whole(), unionAll(written.values())),
  };
  // `old`/`new` sit one level out so that `RETURNING *` does not expand them.
  const aliases: Scope = { rels: [{ ...returned, name: 'old' }, { ...returned, name: 'new' }], parent: scope.parent, ctes: new Map() };
  const rs: Scope = { rels: [returned, ...scope.rels.slice(1)], parent: aliases, ctes: scope.ctes };
  return a.targets(ret, rs);
}
