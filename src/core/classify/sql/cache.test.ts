import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ClassificationCache, numericShape } from './cache.ts';
import { classifyPostgres, initClassifier } from './postgres.ts';
import { CASES } from './classify.cases.ts';
import { DEFAULT_SEARCH_PATH } from './types.ts';

before(async () => {
  await initClassifier();
});

const ctx = { searchPath: DEFAULT_SEARCH_PATH };
const strip = (c: ReturnType<typeof classifyPostgres>) => ({ ...c, statements: c.statements.map(({ location: _l, ...s }) => s) });

test('numericShape abstracts numeric literals only', () => {
  assert.equal(numericShape('SELECT a FROM t1 WHERE id = 42 AND x > 1.5e-3'), 'SELECT a FROM t1 WHERE id = ? AND x > ?');
  assert.equal(numericShape("SELECT '42', \"col1\" FROM t"), "SELECT '42', \"col1\" FROM t");
  assert.equal(numericShape("SELECT 'it''s 5'"), "SELECT 'it''s 5'");
  assert.equal(numericShape('SELECT 1 -- comment'), null);
  assert.equal(numericShape('SELECT /* 1 */ 1'), null);
  assert.equal(numericShape("SELECT E'\\x'"), null);
  assert.equal(numericShape('SELECT $1'), null);
  assert.equal(numericShape('SELECT $$x$$'), null);
  assert.equal(numericShape("SELECT 'unterminated"), null);
  assert.notEqual(numericShape('SELECT * FROM a1'), numericShape('SELECT * FROM a2'));
});

test('a cached classification equals a fresh one for every corpus statement with other numbers', () => {
  const cache = new ClassificationCache(10_000);
  fc.assert(
    fc.property(fc.constantFrom(...CASES.map((c) => c.sql)), fc.integer({ min: 0, max: 999999 }), (sql, n) => {
      // Warm the cache with the original, then ask for a variant with different numbers.
      cache.classify(sql, ctx);
      const variant = sql.replace(/(?<![A-Za-z_0-9$])\d+(?![A-Za-z_0-9])/g, String(n));
      const cached = cache.classify(variant, ctx);
      assert.deepEqual(strip(cached), strip(classifyPostgres(variant, ctx)), variant);
    }),
    { numRuns: 1000 },
  );
  assert.ok(cache.hits > 0, 'the cache is used');
});

test('statements with session effects are never served from the cache', () => {
  const cache = new ClassificationCache();
  const a = cache.classify('SET search_path = s1', ctx);
  const b = cache.classify('SET search_path = s1', ctx);
  assert.notEqual(a, b);
  assert.equal(cache.hits, 0);
});

test('the search path is part of the key', () => {
  const cache = new ClassificationCache();
  const a = cache.classify('SELECT * FROM t WHERE id = 1', { searchPath: ['public'] });
  const b = cache.classify('SELECT * FROM t WHERE id = 2', { searchPath: ['vault'] });
  assert.equal(a.statements[0]!.pairs[0]!.table, 'public.t');
  assert.equal(b.statements[0]!.pairs[0]!.table, 'vault.t');
});
