/**
 * Property tests: spelling a statement differently must never make its class
 * less strict. "At least as strict" means: the rewritten string is
 * `sql:unknown` (denied unless policy explicitly permits unknown statements),
 * or its (action, table) pairs include every pair of the original.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { scanSync } from 'libpg-query';
import { classifyPostgres, initClassifier } from './postgres.ts';
import { CASES, pairSet, type Case } from './classify.cases.ts';
import type { ClassifyContext } from './types.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

function ctxFor(c: Case): ClassifyContext {
  const prepared = c.prepared ?? {};
  return {
    searchPath: c.searchPath ?? ['$user', 'public'],
    prepared: (n) => (prepared[n] === undefined ? undefined : classifyPostgres(prepared[n], { searchPath: ['$user', 'public'] })),
  };
}

function atLeastAsStrict(original: string[], rewritten: string[]): boolean {
  if (rewritten.includes('u:')) return true;
  return original.every((p) => rewritten.includes(p));
}

/** Token boundaries (byte offsets) of a statement, or null when it does not scan. */
function boundaries(sql: string): { start: number; end: number; text: string }[] | null {
  try {
    return scanSync(sql).tokens.map((t) => ({ start: t.start, end: t.end, text: t.text }));
  } catch {
    return null;
  }
}

interface Scannable {
  readonly c: Case;
  readonly bytes: Uint8Array;
  readonly tokens: { start: number; end: number; text: string }[];
}

let corpus: Scannable[] = [];

before(async () => {
  await initClassifier();
  corpus = CASES.flatMap((c) => {
    const tokens = boundaries(c.sql);
    return tokens && tokens.length > 0 ? [{ c, bytes: enc.encode(c.sql), tokens }] : [];
  });
});

const FILLERS = [' ', '  ', '\n', '\t', '\r\n', '/* x */', '/**/', '-- c\n', '/* ; */', '/* /* nested */ */', '/* DROP TABLE t; */', '--;\n'];

function check(name: string, run: (s: Scannable, ...args: never[]) => string, arb: (s: Scannable) => fc.Arbitrary<unknown[]>): void {
  test(name, () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }).chain((i) => {
          const s = corpus[i % corpus.length] as Scannable;
          return fc.tuple(fc.constant(s), arb(s));
        }),
        ([s, args]) => {
          const rewritten = (run as (s: Scannable, ...a: unknown[]) => string)(s, ...args);
          const before = pairSet(classifyPostgres(s.c.sql, ctxFor(s.c)));
          const after = pairSet(classifyPostgres(rewritten, ctxFor(s.c)));
          assert.ok(atLeastAsStrict(before, after), `${JSON.stringify(s.c.sql)} → ${JSON.stringify(rewritten)}: ${before} vs ${after}`);
        },
      ),
      { numRuns: 400 },
    );
  });
}

describe('classification is stable under respelling', () => {
  check(
    'comments and whitespace between tokens',
    (s: Scannable, inserts: { at: number; fill: string }[]) => {
      const cuts = new Map<number, string>();
      for (const { at, fill } of inserts) {
        // Insert at a token boundary: before a token or after the last one.
        const tok = s.tokens[at % (s.tokens.length + 1)];
        const pos = tok ? tok.start : s.bytes.length;
        cuts.set(pos, (cuts.get(pos) ?? '') + fill);
      }
      let out = '';
      let last = 0;
      for (const pos of [...cuts.keys()].sort((a, b) => a - b)) {
        out += dec.decode(s.bytes.slice(last, pos)) + ` ${cuts.get(pos)} `;
        last = pos;
      }
      return out + dec.decode(s.bytes.slice(last));
    },
    () => fc.tuple(fc.array(fc.record({ at: fc.nat(), fill: fc.constantFrom(...FILLERS) }), { minLength: 1, maxLength: 8 })),
  );

  check(
    'letter case of keywords and unquoted identifiers',
    (s: Scannable, flips: boolean[]) => {
      let out = '';
      let last = 0;
      s.tokens.forEach((t, i) => {
        out += dec.decode(s.bytes.slice(last, t.start));
        const bare = /^[A-Za-z_][A-Za-z0-9_$]*$/.test(t.text);
        out += bare ? (flips[i % Math.max(flips.length, 1)] ? t.text.toUpperCase() : t.text.toLowerCase()) : t.text;
        last = t.end;
      });
      return out + dec.decode(s.bytes.slice(last));
    },
    () => fc.tuple(fc.array(fc.boolean(), { minLength: 1, maxLength: 16 })),
  );

  check(
    'redundant parentheses around a SELECT',
    (s: Scannable, depth: number) => {
      const one = classifyPostgres(s.c.sql, ctxFor(s.c));
      const body = s.c.sql.replace(/[;\s]+$/, '');
      if (one.statements.length !== 1 || one.statements[0]?.kind !== 'SelectStmt' || /--/.test(body)) return s.c.sql;
      return `${'('.repeat(depth)}${body}${')'.repeat(depth)}`;
    },
    () => fc.tuple(fc.integer({ min: 1, max: 4 })),
  );

  check(
    'a surrounding transaction block',
    (s: Scannable, begin: string, end: string) => `${begin};\n${s.c.sql}\n;${end};`,
    () => fc.tuple(fc.constantFrom('BEGIN', 'START TRANSACTION', 'begin isolation level serializable', 'BEGIN READ WRITE'), fc.constantFrom('COMMIT', 'ROLLBACK', 'END', 'commit and chain')),
  );

  test('known examples', () => {
    const ctx = { searchPath: ['public'] };
    const base = pairSet(classifyPostgres('DELETE FROM customers', ctx));
    for (const v of ['BEGIN; DELETE FROM customers; COMMIT', 'DELETE/**/FROM/**/customers', 'delete from "customers" -- x', 'BEGIN;\nDELETE FROM customers\n;ROLLBACK']) {
      assert.ok(atLeastAsStrict(base, pairSet(classifyPostgres(v, ctx))), v);
    }
  });
});
