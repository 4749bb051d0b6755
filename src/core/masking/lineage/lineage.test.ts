import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeLineage, initLineage, lineageForColumns, type LineageCatalog } from './index.ts';

const TABLES: Record<string, string[]> = {
  'public.people': ['id', 'name', 'ssn', 'card_number', 'email', 'dob'],
  'public.orders': ['id', 'person_id', 'total', 'note'],
  'secret.people': ['id', 'ssn'],
};
const RULES: Record<string, string> = {
  'public.people.ssn': 'us_ssn',
  'public.people.card_number': 'payment_card',
  'public.people.dob': 'dob',
  'secret.people.ssn': 'us_ssn',
};
const VIEWS: Record<string, string> = {
  'public.v_people': 'SELECT p.id, p.name, p.ssn AS tax_id FROM public.people p',
  'public.v_nested': 'SELECT tax_id, upper(name) AS n FROM public.v_people',
  'public.v_loop': 'SELECT * FROM public.v_loop',
};

function catalog(opts: { columns?: boolean; searchPath?: string[] } = {}): LineageCatalog {
  return {
    columnClass: (s, t, c) => RULES[`${s}.${t}.${c}`] ?? null,
    viewDefinition: (s, t) => VIEWS[`${s}.${t}`] ?? null,
    ...(opts.columns === false ? {} : { columns: (s: string, t: string) => TABLES[`${s}.${t}`] ?? (VIEWS[`${s}.${t}`] ? null : null) }),
    searchPath: opts.searchPath ?? ['"$user"', 'public'],
  };
}

const cols = (sql: string, cat: LineageCatalog = catalog()): (string | null)[] => analyzeLineage(sql, cat).columns;
const preds = (sql: string): string[] => analyzeLineage(sql, catalog()).predicateClasses;

before(async () => {
  await initLineage();
});

test('plain columns, casts, concatenation, CASE, COALESCE', () => {
  assert.deepEqual(cols('SELECT id, name, ssn FROM people'), [null, null, 'us_ssn']);
  assert.deepEqual(cols('SELECT ssn::text, CAST(ssn AS varchar(20)), ssn::bytea::text FROM people'), ['us_ssn', 'us_ssn', 'us_ssn']);
  assert.deepEqual(cols("SELECT 'x' || ssn, name || '-' || p.ssn, concat(name, ssn) FROM people p"), ['us_ssn', 'us_ssn', 'us_ssn']);
  assert.deepEqual(cols("SELECT CASE WHEN ssn LIKE '1%' THEN 'a' ELSE 'b' END, coalesce(ssn, 'n/a'), nullif(ssn, '') FROM people"), ['us_ssn', 'us_ssn', 'us_ssn']);
});

test('substring, overlay, reverse, encode/base64, hashes, format()', () => {
  assert.deepEqual(
    cols("SELECT substring(ssn from 1 for 3), substr(ssn, 5), overlay(ssn placing 'x' from 1 for 1), reverse(ssn), encode(ssn::bytea, 'base64'), md5(ssn), format('%s!', ssn), left(ssn, 3), translate(ssn, '0123456789', 'abcdefghij') FROM people"),
    Array(9).fill('us_ssn'),
  );
});

test('JSON and aggregates: to_json, row_to_json, json_agg, array_agg, string_agg; count carries no value', () => {
  assert.deepEqual(cols('SELECT to_json(ssn), row_to_json(p), json_agg(p.*), jsonb_build_object(\'s\', ssn) FROM people p'), ['us_ssn', 'unknown', 'unknown', 'us_ssn']);
  // row_to_json(p) reaches several classes: 'unknown' in `columns`, all of them in `classes`.
  const r = analyzeLineage('SELECT row_to_json(p) FROM people p', catalog());
  assert.deepEqual(r.classes[0], ['dob', 'payment_card', 'us_ssn']);
  assert.deepEqual(r.unresolved, [false]);
  assert.deepEqual(lineageForColumns(r, 1), [['dob', 'payment_card', 'us_ssn']]);
  assert.deepEqual(cols('SELECT to_json(ssn), json_agg(ssn ORDER BY id) FROM people'), ['us_ssn', 'us_ssn']);
  assert.deepEqual(cols("SELECT array_agg(ssn), string_agg(ssn, ','), min(ssn), count(ssn), count(*) FROM people"), ['us_ssn', 'us_ssn', 'us_ssn', null, null]);
  assert.deepEqual(cols('SELECT (SELECT json_agg(x) FROM (SELECT ssn FROM people) x)'), ['us_ssn']);
  // Whole-row reference by the alias alone.
  assert.deepEqual(analyzeLineage('SELECT p FROM people p', catalog()).classes[0], ['dob', 'payment_card', 'us_ssn']);
});

test('UNION with a literal branch, CTEs (also recursive), sub-selects, LATERAL', () => {
  assert.deepEqual(cols("SELECT 'literal' UNION SELECT ssn FROM people"), ['us_ssn']);
  assert.deepEqual(cols("SELECT id, 'x' FROM orders UNION ALL SELECT 1, reverse(ssn) FROM people"), [null, 'us_ssn']);
  assert.deepEqual(cols('WITH s AS (SELECT ssn AS v, name FROM people) SELECT reverse(v), name FROM s'), ['us_ssn', null]);
  assert.deepEqual(cols('WITH s(a, b) AS (SELECT name, ssn FROM people) SELECT b, a FROM s'), ['us_ssn', null]);
  assert.deepEqual(cols('WITH RECURSIVE r(n, s) AS (SELECT 1, ssn FROM people UNION ALL SELECT n + 1, s FROM r WHERE n < 3) SELECT s FROM r'), ['us_ssn']);
  assert.deepEqual(cols('SELECT x.v FROM (SELECT upper(ssn) AS v FROM people) x'), ['us_ssn']);
  assert.deepEqual(cols('SELECT (SELECT ssn FROM people LIMIT 1), (SELECT max(id) FROM people)'), ['us_ssn', null]);
  assert.deepEqual(cols('SELECT o.id, l.s FROM orders o, LATERAL (SELECT ssn AS s FROM people p WHERE p.id = o.person_id) l'), [null, 'us_ssn']);
  // A correlated reference to the outer query is found even though the inner table is listed first.
  assert.deepEqual(cols('SELECT (SELECT max(ssn) FROM orders) FROM people', catalog({ columns: false })), ['us_ssn']);
  assert.deepEqual(cols('SELECT ARRAY(SELECT ssn FROM people), EXISTS(SELECT 1 FROM people)'), ['us_ssn', null]);
  assert.deepEqual(cols("SELECT v FROM (VALUES ('a'), ((SELECT ssn FROM people LIMIT 1))) t(v)"), ['us_ssn']);
});

test('views via viewDefinition, nested and cyclic', () => {
  assert.deepEqual(cols('SELECT tax_id, name FROM v_people'), ['us_ssn', null]);
  assert.deepEqual(cols('SELECT * FROM v_people'), [null, null, 'us_ssn']);
  assert.deepEqual(cols('SELECT tax_id, n FROM public.v_nested'), ['us_ssn', null]);
  assert.deepEqual(cols('SELECT x FROM v_loop'), ['unknown']); // a cycle must not hang, and fails closed
});

test('star expansion with and without a column catalog', () => {
  assert.deepEqual(cols('SELECT * FROM people'), [null, null, 'us_ssn', 'payment_card', null, 'dob']);
  assert.deepEqual(cols('SELECT o.*, p.ssn FROM orders o JOIN people p ON p.id = o.person_id'), [null, null, null, null, 'us_ssn']);
  // Without column lists: a plain table star is left to RowDescription origins (tail null) ...
  const r = analyzeLineage('SELECT name, * FROM people', catalog({ columns: false }));
  assert.deepEqual(r.columns, [null, null]);
  assert.equal(r.openEnded, true);
  assert.deepEqual(lineageForColumns(r, 4), [null, null, null, null]);
  // ... but items after the star have unknown positions, so their classes cover the whole tail.
  const r2 = analyzeLineage('SELECT *, reverse(ssn) FROM people', catalog({ columns: false }));
  assert.deepEqual(lineageForColumns(r2, 3), ['us_ssn', 'us_ssn', 'us_ssn']);
  // A star over a view without column lists cannot rely on origins either.
  assert.deepEqual(cols('SELECT * FROM (SELECT reverse(ssn) AS r FROM people) x', catalog({ columns: false })), ['us_ssn']);
  // Names still resolve through an unexpanded star.
  assert.deepEqual(cols('SELECT x.ssn FROM (SELECT * FROM people) x', catalog({ columns: false })), ['us_ssn']);
  // Renamed columns without the column list are unknown.
  assert.deepEqual(cols('SELECT b FROM people AS p(a, b)', catalog({ columns: false })), ['unknown']);
  assert.deepEqual(cols('SELECT c FROM people AS p(a, b, c)'), ['us_ssn']);
});

test('functions Gatehouse cannot see through are unknown; catalog helpers are not', () => {
  assert.deepEqual(cols('SELECT my_func(ssn), public.reverse(ssn), my_func(1) FROM people'), ['unknown', 'unknown', 'unknown']);
  assert.deepEqual(cols("SELECT query_to_xml('select ssn from people', true, false, ''), current_setting('my.x')"), ['unknown', 'unknown']);
  assert.deepEqual(cols('SELECT pg_catalog.format_type(atttypid, atttypmod), pg_get_userbyid(1), now(), version() FROM pg_attribute'), [null, null, null, null]);
  assert.deepEqual(cols('SELECT most_common_vals FROM pg_stats'), ['unknown']);
  assert.deepEqual(cols('SELECT x FROM my_srf() AS t(x)'), ['unknown']);
  assert.deepEqual(cols('SELECT g, g.g FROM generate_series(1, 3) g'), [null, null]);
  assert.deepEqual(cols('SELECT j.value FROM jsonb_each(to_jsonb((SELECT p FROM people p LIMIT 1))) j'), ['unknown']);
  // A function in FROM may yield any column name, so an unqualified name next to it takes its lineage too (over-approximation).
  assert.deepEqual(cols('SELECT id FROM orders, jsonb_each(to_jsonb((SELECT p FROM people p LIMIT 1))) j'), ['unknown']);
});

test('search_path: unqualified names resolve like Postgres with a catalog, to every candidate without', () => {
  assert.deepEqual(cols('SELECT ssn FROM people', catalog({ searchPath: ['secret', 'public'] })), ['us_ssn']);
  assert.deepEqual(cols('SELECT name FROM people', catalog({ searchPath: ['secret', 'public'] })), [null]);
  assert.deepEqual(cols('SELECT ssn FROM people', catalog({ columns: false, searchPath: ['x', 'secret'] })), ['us_ssn']);
});

test('RETURNING, and writes that copy a class elsewhere', () => {
  assert.deepEqual(cols("UPDATE people SET name = 'x' WHERE id = 1 RETURNING id, ssn, reverse(ssn)"), [null, 'us_ssn', 'us_ssn']);
  assert.deepEqual(cols('DELETE FROM people WHERE id = 1 RETURNING *'), [null, null, 'us_ssn', 'payment_card', null, 'dob']);
  assert.deepEqual(cols("INSERT INTO people (id, ssn) VALUES (1, '123-45-6789') RETURNING ssn, old.ssn, new.ssn"), ['us_ssn', 'us_ssn', 'us_ssn']);
  const moved = analyzeLineage('UPDATE people SET name = reverse(ssn) RETURNING name', catalog());
  assert.deepEqual(moved.columns, ['us_ssn']);
  assert.deepEqual(moved.writeClasses, ['us_ssn']);
  assert.deepEqual(analyzeLineage('UPDATE people SET ssn = ssn', catalog()).writeClasses, []);
  assert.deepEqual(analyzeLineage('INSERT INTO orders (note) SELECT ssn FROM people', catalog()).writeClasses, ['us_ssn']);
  assert.deepEqual(analyzeLineage('CREATE TABLE t AS SELECT card_number FROM people', catalog()).writeClasses, ['payment_card']);
  assert.deepEqual(analyzeLineage('SELECT ssn INTO t FROM people', catalog()).writeClasses, ['us_ssn']);
  assert.deepEqual(cols('WITH d AS (DELETE FROM people RETURNING ssn) SELECT * FROM d'), ['us_ssn']);
});

test('predicate classes for the inference guard', () => {
  assert.deepEqual(preds("SELECT name FROM people WHERE ssn LIKE '123%'"), ['us_ssn']);
  assert.deepEqual(preds('SELECT o.id FROM orders o JOIN people p ON p.ssn = o.note'), ['us_ssn']);
  assert.deepEqual(preds('SELECT name FROM people ORDER BY dob'), ['dob']);
  assert.deepEqual(preds('SELECT reverse(ssn) AS r FROM people ORDER BY 1'), ['us_ssn']);
  assert.deepEqual(preds('SELECT reverse(ssn) AS r FROM people ORDER BY r'), ['us_ssn']);
  assert.deepEqual(preds('SELECT count(*) FROM people GROUP BY card_number HAVING count(*) > 1'), ['payment_card']);
  assert.deepEqual(preds('SELECT name FROM people WHERE id IN (SELECT id FROM people WHERE ssn = $1)'), ['us_ssn']);
  assert.deepEqual(preds('SELECT DISTINCT ON (ssn) name FROM people'), ['us_ssn']);
  assert.deepEqual(preds('SELECT row_number() OVER (ORDER BY ssn) FROM people'), ['us_ssn']);
  assert.deepEqual(preds('SELECT name FROM people WHERE id = 1'), []);
  assert.deepEqual(preds("DELETE FROM people WHERE ssn = '1'"), ['us_ssn']);
});

test('statement kinds: last statement wins, COPY, DECLARE, EXPLAIN, parse errors fail closed', () => {
  assert.deepEqual(cols('SELECT ssn FROM people; SELECT name FROM people'), [null]);
  assert.deepEqual(cols('SELECT ssn FROM people; SET search_path = public'), ['us_ssn']);
  assert.deepEqual(cols('COPY (SELECT reverse(ssn) FROM people) TO STDOUT'), ['us_ssn']);
  assert.deepEqual(cols('COPY people (name, ssn) TO STDOUT WITH (FORMAT csv)'), [null, 'us_ssn']);
  assert.deepEqual(cols('COPY people TO STDOUT'), [null, null, 'us_ssn', 'payment_card', null, 'dob']);
  assert.deepEqual(cols('COPY people TO STDOUT', catalog({ columns: false })), ['unknown']);
  assert.deepEqual(cols('COPY people FROM STDIN'), []);
  assert.deepEqual(cols('DECLARE c CURSOR FOR SELECT reverse(ssn) FROM people'), ['us_ssn']);
  assert.deepEqual(cols('EXPLAIN SELECT ssn FROM people'), []);
  const bad = analyzeLineage('SELEC ssn FROM people', catalog());
  assert.ok(bad.parseError);
  assert.deepEqual(lineageForColumns(bad, 2), ['unknown', 'unknown']);
});
