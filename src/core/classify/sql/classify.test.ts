import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyPostgres, initClassifier } from './postgres.ts';
import { CASES, pairSet, type Case } from './classify.cases.ts';
import type { ClassifyContext } from './types.ts';

function contextFor(c: Case): ClassifyContext {
  const base = { searchPath: c.searchPath ?? ['$user', 'public'] };
  const prepared = c.prepared ?? {};
  return {
    ...base,
    prepared: (name) => (prepared[name] === undefined ? undefined : classifyPostgres(prepared[name], { searchPath: ['$user', 'public'] })),
  };
}

before(async () => {
  await initClassifier();
});

describe('classifyPostgres: corpus', () => {
  test('corpus has at least 150 statements', () => {
    assert.ok(CASES.length >= 150, `only ${CASES.length} cases`);
  });
  for (const c of CASES) {
    test(c.note ? `${c.sql}  (${c.note})` : c.sql, () => {
      const got = classifyPostgres(c.sql, contextFor(c));
      assert.deepEqual(pairSet(got), [...c.pairs].sort(), JSON.stringify(got));
      const flags = new Set(got.statements.flatMap((s) => s.flags));
      for (const f of c.flags ?? []) assert.ok(flags.has(f), `missing flag ${f}: ${JSON.stringify(got)}`);
      for (const s of got.statements) assert.ok(s.pairs.length > 0, 'every statement has at least one pair');
    });
  }
});

describe('classifyPostgres: shape', () => {
  test('empty and comment-only strings have no statements', () => {
    assert.deepEqual(classifyPostgres('', { searchPath: [] }).statements, []);
    assert.deepEqual(classifyPostgres('  -- nothing\n /* at all */ ', { searchPath: [] }).statements, []);
    assert.deepEqual(classifyPostgres(';', { searchPath: [] }).statements, []);
  });

  test('fingerprint ignores constants and is null on a parse error', () => {
    const a = classifyPostgres('SELECT * FROM t WHERE id = 1', { searchPath: ['public'] });
    const b = classifyPostgres('select * from t where id = 42', { searchPath: ['public'] });
    assert.ok(a.fingerprint);
    assert.equal(a.fingerprint, b.fingerprint);
    const bad = classifyPostgres('SELEC 1', { searchPath: ['public'] });
    assert.equal(bad.fingerprint, null);
    assert.match(bad.parseError ?? '', /syntax error/);
  });

  test('statement kinds, locations and setsSearchPath', () => {
    const c = classifyPostgres('SET search_path = a, b; SELECT 1', { searchPath: ['public'] });
    assert.deepEqual(c.statements.map((s) => s.kind), ['VariableSetStmt', 'SelectStmt']);
    assert.deepEqual(c.statements[0]?.setsSearchPath, ['a', 'b']);
    assert.deepEqual(c.statements[0]?.location, { start: 0, length: 22 });
    assert.deepEqual(c.statements[1]?.location, { start: 24, length: 8 });
  });

  test('PREPARE returns the body classification for EXECUTE', () => {
    const c = classifyPostgres('PREPARE q AS INSERT INTO a SELECT * FROM b', { searchPath: ['public'] });
    const prep = c.statements[0]?.prepares;
    assert.equal(prep?.name, 'q');
    assert.deepEqual(pairSet(prep!.body), ['r:public.b', 'w:public.a']);
    const e = classifyPostgres('EXECUTE q', { searchPath: ['public'], prepared: (n) => (n === 'q' ? prep!.body : undefined) });
    assert.deepEqual(pairSet(e), ['r:public.b', 'w:public.a']);
  });

  test('configured functions and procedures take their configured action', () => {
    const ctx: ClassifyContext = { searchPath: ['public'], functions: { archive_customer: 'sql:write', report: 'sql:read' } };
    assert.deepEqual(pairSet(classifyPostgres('SELECT archive_customer(1)', ctx)), ['w:']);
    assert.deepEqual(pairSet(classifyPostgres('CALL report()', ctx)), ['r:']);
    assert.deepEqual(pairSet(classifyPostgres('CALL other()', ctx)), ['a:']);
  });

  test('a default search_path can be configured for RESET', () => {
    const c = classifyPostgres('RESET search_path; SELECT * FROM t', { searchPath: ['x'], defaultSearchPath: ['app'] });
    assert.deepEqual(pairSet(c), ['r:app.t', 't:']);
  });

  test('deeply nested expressions fail closed rather than throw', () => {
    const deep = `SELECT ${'('.repeat(3000)}1${')'.repeat(3000)}`;
    const c = classifyPostgres(deep, { searchPath: ['public'] });
    for (const s of c.statements) assert.ok(s.pairs.length > 0);
  });
});
