import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { saslprep } from './saslprep.ts';
import { inTable, tables, type RangeTable } from './saslprep-tables.ts';

/**
 * Verifiers produced by PostgreSQL 18.6 (PGlite 0.5.14) with
 * `SET password_encryption = 'scram-sha-256'; CREATE ROLE r PASSWORD '<pw>';
 * SELECT rolpassword FROM pg_authid` — the server runs pg_saslprep itself, so
 * these are an independent oracle for what libpq must derive.
 */
const PG_VERIFIERS: { pw: string; why: string; verifier: string }[] = [
  { pw: 'pencil', why: 'ASCII', verifier: 'SCRAM-SHA-256$4096:F1QZBYxkOR9WzGCUn5574A==$6rCPNEg+/l9tsSSW66qYfjGdAAu8f7/xG6rRi3Rk/4s=:99AreFJpQut1F7DfiBMkhtxjTlCzQrQYcq8WvgbSGy4=' },
  { pw: '\u2168', why: 'NFKC roman numeral', verifier: 'SCRAM-SHA-256$4096:m3Aune06pd/k86PdR9Byiw==$gwlT+6Tmf+2gGHjlvdrEguyqLhFySO7gW2U0VMNhzdM=:Vct7eqPoaGj/9Qpm0qIQ6yX+xZDvvhSzs3DKkSGH31E=' },
  { pw: '\ufb01le', why: 'NFKC ligature', verifier: 'SCRAM-SHA-256$4096:WVbZQ2jlnzAGLIfYOTC9/Q==$IAKWVJ5JKXDnAVEUTHdCf8D2BywkLCt9w2X4scJFlp8=:WGSwU30J7dvpKVDyiMJTblf1I82VAM+Tx16ZvH8zmMc=' },
  { pw: 'a\u00a0b', why: 'C.1.2 space', verifier: 'SCRAM-SHA-256$4096:TT1O2nCBnEwGVdT9rw27dw==$KSEdXOaTk1xXkWYYeyRV01mDIbgND3m0ITWIUak1UeA=:E5+6T624A2hRHQ8mWvYDASnrhIR4Us04ZSsRazMielc=' },
  { pw: 'a\u00adb', why: 'B.1 removed', verifier: 'SCRAM-SHA-256$4096:1X7bWTINcanPuQhGfoZHnw==$nJfEA67VzFMJNyfdrSn8xmD6huCJ0SOQD9taKoGo6DQ=:GmWynF/mYdAKsAiIosiROsmlbA+wFVhOyv7rjTl3Hks=' },
  { pw: 'x\u200by', why: 'U+200B: space table wins over B.1', verifier: 'SCRAM-SHA-256$4096:u5ZRD65DCrWKie8S5LZRXw==$0kTWVjvx8ENDvKRBYsu6TArL13W5Zc1dpKgrRjzDPa4=:swVEWNewaQA+rT5Q5uPE3ZKa9+3PuAH3OuZr+wD5gSU=' },
  { pw: '\ufb01\u0085', why: 'prohibited C.2.2 → raw', verifier: 'SCRAM-SHA-256$4096:ui+gWZATZ79lVyl94kL7lA==$CKhduduvG9t1hHDrqQjSxpceeg3DoTlcO6KDQ04KVMc=:gRFVdplLhIgynMqHv+N98OSSWSHolOmeMbY2rdEDzPk=' },
  { pw: '\ufb01\u{1f511}', why: 'unassigned in 3.2 → raw', verifier: 'SCRAM-SHA-256$4096:yYDEQO6mKH4C9KUuN8ro8A==$8HzaisKCqpbiKx2Jvj7/RehvSP6xswgLz5GwvVFc9/8=:CNooT4iWrANZNJWmZwwITdwESjK9dZOEy99YvLdVpfc=' },
  { pw: '\ufefb', why: 'RandALCat only, NFKC', verifier: 'SCRAM-SHA-256$4096:knYnQsluBL9cHwNmYVCQYA==$9WMpc72sTik7QYvs+O0KxPIA0JXTQpMgN1Y3mRG6BMI=:EtdxQysLVsOy9/pyvzIAzxLLVwRbub3nyUP3j+8lV6g=' },
  { pw: 'a\ufefb', why: 'bidi: LCat with RandALCat → raw', verifier: 'SCRAM-SHA-256$4096:6+F4dsfBArshp13j8pdmRg==$3QwPDAUuZqkphdz0bDI3SO90xBBerZt4txiVsMJHHvs=:7avZEjyicz8HKHiDu5Yg93pPBOu5YmD9Xd9+t8qW0i8=' },
  { pw: '\ufefb1', why: 'bidi: does not end with RandALCat → raw', verifier: 'SCRAM-SHA-256$4096:fpvJJkBpqtrx9HiHs5pN+Q==$bvw9hBVrkRrBeNpPgOsJmjiNTgCYExG2V4HcBlSE2XI=:FWh+m1Xxz8t3vJh9G7hgIMJW9WnUrnGY+5SzdvuaDHQ=' },
  { pw: '\u00ad', why: 'empty after mapping → raw', verifier: 'SCRAM-SHA-256$4096:VTSvgxdVLNa2cPmkaJfLOw==$p70qSRNF7R17p4Ns803FU1B/dyGx9Tt5otjO8xfntV8=:jzAah4AtISVgWN9NN86gnVNPLOUyZz74mKFCR7y4zjM=' },
  { pw: 'A\u030a', why: 'composition', verifier: 'SCRAM-SHA-256$4096:4qH6vDZQERoebn/GCwxDgA==$64chm6cElRFoUy0teRcItBJ3MyRKshkUv473IwuNk2I=:iMDB03bX3fLpG6cmzCcd8c1ZkyUv3iRBR5bAIWRGTM8=' },
  { pw: 'a\u0001b', why: 'ASCII fast path keeps controls', verifier: 'SCRAM-SHA-256$4096:OAPaYWcEo/oaDuuwNe9/9Q==$HCYnpdj7bdcQ0aXB/BQZPo1fNGq2KVkRwKqOunKW/qY=:whSHqbR0IlXADTnXxfscP57DwtIFNaqso6WqX5kKs/k=' },
  { pw: '\uff50\uff45\uff4e\uff43\uff49\uff4c', why: 'full width', verifier: 'SCRAM-SHA-256$4096:yKig5n9r3Y3txTksy66IOw==$ajJga1o6DsyM5gPspbZzS0jhWzcY1aiWVKsA8xnopQo=:A+i7iPw+drjdxeiiQIYJ8eAu1uQmoef3MCfwNouBm78=' },
  { pw: '\u05d0\ufb01\u05d0', why: 'bidi: LCat inside RandALCat → raw', verifier: 'SCRAM-SHA-256$4096:hW2XLLNUMXAlUgdHZnlfGg==$c55KyfbLhh+4838EW2O8IG4vD59b+qMMWZG+swa3lr8=:3CZA1ADRx7nXDK/WPxugj2zxYywNTaiU36cLA9IbtS0=' },
  { pw: '\u2168\u3000x', why: 'ideographic space + NFKC', verifier: 'SCRAM-SHA-256$4096:oEdqqqf85jrLzQQbiacb0Q==$oAceumFjBoFXHZP8Db8hY4ivWA95xOaYqbSx6CgfNO4=:61jyfzRknRzPF/oXZ+1ptpECh1cs1YgPGuyxf2pG1uU=' },
];

function keys(prepared: string, salt: Buffer, iterations: number): string {
  const salted = pbkdf2Sync(prepared, salt, iterations, 32, 'sha256');
  const stored = createHash('sha256').update(createHmac('sha256', salted).update('Client Key').digest()).digest();
  const server = createHmac('sha256', salted).update('Server Key').digest();
  return `${stored.toString('base64')}:${server.toString('base64')}`;
}

function parseVerifier(v: string): { iterations: number; salt: Buffer; keys: string } {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$(.+)$/.exec(v);
  assert.ok(m);
  return { iterations: Number(m[1]), salt: Buffer.from(m[2]!, 'base64'), keys: m[3]! };
}

test('saslprep derives the same keys as PostgreSQL for every verifier', () => {
  for (const { pw, why, verifier } of PG_VERIFIERS) {
    const v = parseVerifier(verifier);
    assert.equal(keys(saslprep(pw), v.salt, v.iterations), v.keys, `${why}: ${JSON.stringify(pw)}`);
  }
});

test('plain NFKC would get the fallback cases wrong (why saslprep.ts exists)', () => {
  const wrong = PG_VERIFIERS.filter(({ pw, verifier }) => {
    const v = parseVerifier(verifier);
    return keys(pw.normalize('NFKC'), v.salt, v.iterations) !== v.keys;
  }).map((c) => c.why);
  assert.deepEqual(wrong, [
    'B.1 removed',
    'U+200B: space table wins over B.1',
    'prohibited C.2.2 → raw',
    'unassigned in 3.2 → raw',
    'bidi: LCat with RandALCat → raw',
    'bidi: does not end with RandALCat → raw',
    'bidi: LCat inside RandALCat → raw',
  ]);
});

test('saslprep known outputs', () => {
  assert.equal(saslprep('pencil'), 'pencil');
  assert.equal(saslprep('\u2168'), 'IX');
  assert.equal(saslprep('a\u00a0b'), 'a b');
  assert.equal(saslprep('x\u200by'), 'x y');
  assert.equal(saslprep('a\u00adb'), 'ab');
  assert.equal(saslprep('\ufb01\u0085'), '\ufb01\u0085');
  assert.equal(saslprep('\ud800x\u00e9'), '\ud800x\u00e9', 'lone surrogate: like invalid UTF-8, used raw');
});

function assertSortedDisjoint(name: string, t: RangeTable): void {
  for (let i = 0; i < t.length; i += 2) {
    assert.ok(t[i]! <= t[i + 1]!, `${name}: range ${i / 2} inverted`);
    if (i > 0) assert.ok(t[i]! > t[i - 1]!, `${name}: range ${i / 2} not ascending`);
  }
}

test('stringprep tables are sorted and disjoint ranges', () => {
  for (const [name, t] of Object.entries(tables)) assertSortedDisjoint(name, t);
});

test('stringprep tables agree with the Unicode data in this Node build', () => {
  // Assignments are stable across Unicode versions: a code point unassigned
  // today was unassigned in 3.2, so it must be in A.1 unless it is a
  // noncharacter (C.4, in the prohibited table instead).
  const unassignedNow = /^\p{Cn}$/u;
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue; // not representable alone in a regex test
    const ch = String.fromCodePoint(cp);
    const isNonChar = (cp & 0xfffe) === 0xfffe || (cp >= 0xfdd0 && cp <= 0xfdef);
    if (unassignedNow.test(ch) && !isNonChar) assert.ok(inTable(cp, tables.unassigned), `U+${cp.toString(16)} missing from A.1`);
    if (inTable(cp, tables.lCat) || inTable(cp, tables.randAlCat)) {
      assert.ok(!inTable(cp, tables.unassigned), `U+${cp.toString(16)} both bidi-classed and unassigned`);
      assert.ok(!(inTable(cp, tables.lCat) && inTable(cp, tables.randAlCat)), `U+${cp.toString(16)} both L and R/AL`);
      assert.ok(!unassignedNow.test(ch), `U+${cp.toString(16)} is bidi-classed but not assigned`);
    }
  }
});
