import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { initLineage, type LineageCatalog } from './index.ts';
import { ALL_UNKNOWN, analyzeQuery, LineageSessionState } from './statements.ts';

const TABLES: Record<string, string[]> = { 'public.people': ['id', 'name', 'ssn', 'card'] };
const RULES: Record<string, string> = { 'public.people.ssn': 'us_ssn', 'public.people.card': 'payment_card' };
const catalog: LineageCatalog = {
  columnClass: (s, t, c) => RULES[`${s}.${t}.${c}`] ?? null,
  columns: (s, t) => TABLES[`${s}.${t}`] ?? null,
  viewDefinition: () => null,
  searchPath: ['$user', 'public'],
};

before(async () => {
  await initLineage();
});

test('one entry per statement of a simple Query, in order', () => {
  const q = analyzeQuery("SELECT reverse(ssn) FROM people; SET x = 1; SELECT id, card FROM people; UPDATE people SET name = 'a' RETURNING ssn", catalog, new LineageSessionState());
  assert.deepEqual(
    q.statements.map((s) => [s.kind, s.result?.columns ?? null]),
    [
      ['SelectStmt', ['us_ssn']],
      ['VariableSetStmt', null],
      ['SelectStmt', [null, 'payment_card']],
      ['UpdateStmt', ['us_ssn']],
    ],
  );
  assert.equal(q.stateful, false);
});

test('PREPARE / EXECUTE and DECLARE / FETCH carry lineage across statements and queries; unknown names are all-unknown', () => {
  const state = new LineageSessionState();
  const q1 = analyzeQuery('PREPARE p(int) AS SELECT reverse(ssn), id FROM people WHERE id = $1; EXECUTE p(1)', catalog, state);
  assert.deepEqual(q1.statements[1]!.result!.columns, ['us_ssn', null]);
  state.applyEffects(q1);
  assert.deepEqual(analyzeQuery('EXECUTE p(2)', catalog, state).statements[0]!.result!.columns, ['us_ssn', null]);
  const unknown = analyzeQuery('EXECUTE nope(2)', catalog, state).statements[0]!;
  assert.equal(unknown.result, null);
  assert.equal(unknown.rowsUnknownIfAny, true);

  const q2 = analyzeQuery('DECLARE c CURSOR FOR SELECT card FROM people', catalog, state);
  state.applyEffects(q2);
  assert.deepEqual(analyzeQuery('FETCH 10 FROM c', catalog, state).statements[0]!.result!.columns, ['payment_card']);
  assert.equal(analyzeQuery('FETCH ALL FROM other', catalog, state).statements[0]!.result, ALL_UNKNOWN);
  assert.equal(analyzeQuery('MOVE ALL IN c', catalog, state).statements[0]!.result, null);
  // A protocol-level portal of the same name is asked for when no cursor has it.
  assert.deepEqual(analyzeQuery('FETCH 1 FROM p1', catalog, state, { lookupPortal: (n) => (n === 'p1' ? { ...ALL_UNKNOWN, columns: ['iban'], openEnded: false, classes: [['iban']], unresolved: [false] } : undefined) }).statements[0]!.result!.columns, ['iban']);
  state.applyEffects(analyzeQuery('CLOSE c; DEALLOCATE p', catalog, state));
  assert.equal(analyzeQuery('FETCH 1 FROM c', catalog, state).statements[0]!.result, ALL_UNKNOWN);
  assert.equal(analyzeQuery('EXECUTE p(1)', catalog, state).statements[0]!.rowsUnknownIfAny, true);
});

test('COPY … TO STDOUT: options from the statement, table and column list', () => {
  const s = new LineageSessionState();
  const csv = analyzeQuery("COPY people (id, ssn) TO STDOUT WITH (FORMAT csv, HEADER, DELIMITER ';', NULL 'x', QUOTE '''', ESCAPE '\\')", catalog, s).statements[0]!;
  assert.deepEqual(csv.copy, {
    options: { kind: 'csv', header: true, delimiter: ';', null: 'x', quote: "'", escape: '\\' },
    relation: { schema: null, name: 'people', columns: ['id', 'ssn'] },
  });
  assert.deepEqual(csv.result!.columns, [null, 'us_ssn']);
  const old = analyzeQuery('COPY public.people TO STDOUT WITH CSV HEADER', catalog, s).statements[0]!;
  assert.deepEqual(old.copy?.options, { kind: 'csv', header: true });
  assert.deepEqual(old.copy?.relation, { schema: 'public', name: 'people', columns: null });
  const bin = analyzeQuery('COPY (SELECT reverse(card) FROM people) TO STDOUT (FORMAT binary)', catalog, s).statements[0]!;
  assert.deepEqual(bin.copy, { options: { kind: 'binary', header: false }, relation: null });
  assert.deepEqual(bin.result!.columns, ['payment_card']);
  assert.equal(analyzeQuery('COPY people FROM STDIN', catalog, s).statements[0]!.copy, undefined);
  assert.equal(analyzeQuery("COPY people TO '/tmp/x'", catalog, s).statements[0]!.copy, undefined);
});

test('predicates and writes are unioned over statements; relations the catalog lacks are reported', () => {
  const q = analyzeQuery("SELECT id FROM people WHERE ssn LIKE '1%'; INSERT INTO people (name) SELECT card FROM people; SELECT * FROM missing_table", catalog, new LineageSessionState());
  assert.deepEqual(q.predicateClasses, ['us_ssn']);
  assert.deepEqual(q.writeClasses, ['payment_card']);
  assert.deepEqual(q.missingRelations, ['missing_table']);
});

test('fail closed: a query that does not parse is all-unknown and stateful (never cached)', () => {
  const q = analyzeQuery('SELEC broken', catalog, new LineageSessionState());
  assert.equal(q.statements[0]!.result, ALL_UNKNOWN);
  assert.equal(q.stateful, true);
  assert.ok(q.parseError);
});
