import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { GatewayError } from '../../shared/errors.ts';
import { deriveScopeKey, maskValue, partialText, tokenNumber, tokenText, TOKEN_TEXT_BYTES, writePartialAscii, writeTokenText, type MaskValueContext } from './strategies.ts';
import { integerToNumericBinary, numericBinaryToText, OID, rewriteArrayBinary, rewriteArrayText } from './pgtypes.ts';
import { rewriteJsonText } from './json.ts';
import type { StrategySpec } from './types.ts';

const KEY = deriveScopeKey(Buffer.alloc(32, 7), 'global', '');
const P: StrategySpec = { kind: 'partial' };
const R: StrategySpec = { kind: 'redact' };
const T: StrategySpec = { kind: 'token', scope: 'global' };
const N: StrategySpec = { kind: 'null' };

function mask(text: string, typeOid: number, strategy: StrategySpec, format: 0 | 1 = 0): string | null {
  const r = maskValue(Buffer.from(text), { typeOid, format, cls: 'test', strategy, key: KEY });
  return r === null ? null : r.toString();
}

function maskBin(value: Buffer, typeOid: number, strategy: StrategySpec): Buffer | null {
  return maskValue(value, { typeOid, format: 1, cls: 'test', strategy, key: KEY });
}

test('partial keeps separators and the last four (never more than half)', () => {
  assert.equal(partialText('123-45-6789'), '***-**-6789');
  assert.equal(partialText('4111 1111 1111 1111'), '**** **** **** 1111');
  assert.equal(partialText('alice@example.com'), '*****@******e.com');
  assert.equal(partialText('Bob'), '**b');
  assert.equal(partialText('Alice'), '***ce');
  assert.equal(partialText(''), '');
});

test('token: deterministic per key, tok_ + base32, scopes separate keys', () => {
  assert.match(tokenText(KEY, 'x'), /^tok_[a-z2-7]{26}$/);
  assert.equal(tokenText(KEY, '123-45-6789'), tokenText(KEY, '123-45-6789'));
  assert.notEqual(tokenText(KEY, '123-45-6789'), tokenText(KEY, '123-45-6788'));
  const master = Buffer.alloc(32, 1);
  assert.deepEqual(deriveScopeKey(master, 'global', 'a'), deriveScopeKey(master, 'global', 'b'));
  assert.notDeepEqual(deriveScopeKey(master, 'identity', 'a'), deriveScopeKey(master, 'identity', 'b'));
  assert.notDeepEqual(deriveScopeKey(master, 'identity', 'a'), deriveScopeKey(master, 'session', 'a'));
  assert.notDeepEqual(deriveScopeKey(master, 'global', ''), deriveScopeKey(master, 'session', ''));
  assert.throws(() => deriveScopeKey(Buffer.alloc(8), 'global', ''), GatewayError);
  assert.throws(() => tokenText(undefined, 'x'), GatewayError); // fail closed without a key
  assert.match(tokenNumber(KEY, '1', 8), /^[1-9]\d{17}$/);
  assert.match(tokenNumber(KEY, '1', 4), /^[1-9]\d{8}$/);
  assert.match(tokenNumber(KEY, '1', 2), /^[1-9]\d{3}$/);
});

test('maskValue, text format: every strategy keeps the value valid for its type', () => {
  for (const oid of [OID.text, OID.varchar, OID.bpchar, 0]) {
    assert.equal(mask('123-45-6789', oid, P), '***-**-6789');
    assert.equal(mask('123-45-6789', oid, R), '****');
    assert.equal(mask('123-45-6789', oid, { kind: 'redact', mask: 'XXX' }), 'XXX');
    assert.match(mask('123-45-6789', oid, T)!, /^tok_/);
    assert.equal(mask('123-45-6789', oid, N), null);
  }
  // Integers stay integers of their width.
  assert.equal(mask('4111111111111111', OID.int8, P), '1111');
  assert.equal(mask('4111111111111111', OID.int8, R), '0');
  assert.match(mask('4111111111111111', OID.int8, T)!, /^\d{18}$/);
  assert.ok(BigInt(mask('4111111111111111', OID.int8, T)!) < 2n ** 63n);
  assert.ok(Number(mask('2000000000', OID.int4, T)) < 2 ** 31);
  assert.ok(Number(mask('32000', OID.int2, T)) < 2 ** 15);
  assert.match(mask('1234.50', OID.numeric, T)!, /^\d{18}$/);
  assert.equal(mask('-98765.43', OID.numeric, P), '65'); // 5 integer digits: keep 2
  assert.equal(mask('123456789.5', OID.numeric, P), '6789');
  // Dates stay dates.
  assert.equal(mask('1985-07-14', OID.date, P), '1985-01-01');
  assert.equal(mask('07/14/1985', OID.date, P), '1985-01-01'); // SQL DateStyle
  assert.equal(mask('1985-07-14', OID.date, R), '1900-01-01');
  const d = mask('1985-07-14', OID.date, T)!;
  assert.match(d, /^(19|20)\d\d-\d\d-\d\d$/);
  assert.equal(new Date(`${d}T00:00:00Z`).toISOString().slice(0, 10), d);
  assert.equal(mask('1985-07-14', OID.date, T), d);
  assert.equal(mask('1985-07-14 10:11:12', OID.timestamp, P), '1985-01-01 00:00:00');
  assert.equal(mask('1985-07-14 10:11:12+02', OID.timestamptz, R), '1900-01-01 00:00:00+00');
  // uuid, bool, json.
  assert.match(mask('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', OID.uuid, T)!, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(mask('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', OID.uuid, P), '00000000-0000-0000-0000-000000000a11');
  assert.equal(mask('t', OID.bool, R), 'f');
  assert.equal(JSON.parse(mask('{"ssn":"123-45-6789"}', OID.jsonb, R)!), '****');
  assert.match(JSON.parse(mask('[1,2]', OID.json, T)!) as string, /^tok_/);
  // Arrays keep their shape; elements are masked by element type.
  assert.equal(mask('{123-45-6789,NULL,"a b"}', 1009, P), '{***-**-6789,NULL,"* b"}');
  assert.match(mask('{4111111111111111,5}', 1016, T)!, /^\{\d{18},\d{18}\}$/);
  assert.equal(mask('{{1985-07-14},{1990-01-02}}', 1182, P), '{{1985-01-01},{1990-01-01}}');
  assert.equal(mask('[0:1]={a,b}', 1009, R), '[0:1]={****,****}');
  assert.equal(mask('{"{\\"a\\": 1}"}', 3807, R), '{"\\"****\\""}');
  assert.equal(mask('00:11:22', OID.time, T), '00:00:00');
});

test('maskValue, binary format: int2/4/8, text, date, json, jsonb, numeric, arrays; unknown types fail closed', () => {
  const i8 = Buffer.alloc(8);
  i8.writeBigInt64BE(4111111111111111n);
  const t8 = maskBin(i8, OID.int8, T)!;
  assert.equal(t8.length, 8);
  assert.match(t8.readBigInt64BE(0).toString(), /^\d{18}$/);
  // Same token for the same value in text and binary format.
  assert.equal(t8.readBigInt64BE(0).toString(), mask('4111111111111111', OID.int8, T));
  assert.equal(maskBin(Buffer.from([0, 0, 0x30, 0x39]), OID.int4, P)!.readInt32BE(0), 45); // 12345 → half of 5 digits kept
  assert.equal(maskBin(Buffer.from([0x30, 0x39]), OID.int2, R)!.readInt16BE(0), 0);
  assert.ok(maskBin(Buffer.from([0x7f, 0xff]), OID.int2, T)!.readInt16BE(0) >= 1000);
  assert.equal(maskBin(Buffer.from('123-45-6789'), OID.varchar, P)!.toString(), '***-**-6789');
  const date = Buffer.alloc(4);
  date.writeInt32BE(-5285); // 1985-07-14
  const ts = Buffer.alloc(8);
  ts.writeBigInt64BE(-1n); // 1999-12-31 23:59:59.999999
  assert.equal(maskBin(ts, OID.timestamp, P)!.readBigInt64BE(0), -365n * 86_400_000_000n); // 1999-01-01
  const md = maskBin(date, OID.date, P)!;
  assert.equal(md.readInt32BE(0), -5478); // 1985-01-01
  assert.equal(maskBin(Buffer.from('{"a":1}'), OID.json, R)!.toString(), '"****"');
  const jb = maskBin(Buffer.concat([Buffer.of(1), Buffer.from('{"a":1}')]), OID.jsonb, R)!;
  assert.equal(jb[0], 1);
  assert.equal(jb.subarray(1).toString(), '"****"');
  assert.throws(() => maskBin(Buffer.concat([Buffer.of(2), Buffer.from('{}')]), OID.jsonb, R), (e: unknown) => e instanceof GatewayError && e.code === 'GW_MASKING_UNSUPPORTED');
  const num = maskBin(integerToNumericBinary('4111111111111111'), OID.numeric, T)!;
  assert.match(numericBinaryToText(num), /^\d{18}$/);
  // A binary int8[] with a NULL.
  const arr = Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 20, 0, 0, 0, 2, 0, 0, 0, 1]), Buffer.from([0, 0, 0, 8]), i8, Buffer.from([0xff, 0xff, 0xff, 0xff])]);
  const ma = maskBin(arr, 1016, P)!;
  assert.equal(ma.length, arr.length);
  assert.equal(ma.readBigInt64BE(24), 1111n);
  assert.equal(ma.readInt32BE(32), -1);
  // Unknown binary layout: only NULL is possible.
  assert.equal(maskBin(Buffer.from([1, 2, 3]), 99999, N), null);
  assert.throws(() => maskBin(Buffer.from([1, 2, 3]), 99999, R), (e: unknown) => e instanceof GatewayError && e.code === 'GW_MASKING_UNSUPPORTED' && /99999/.test(e.message));
});

test('numeric binary codec', () => {
  const enc = (ndigits: number, weight: number, sign: number, dscale: number, digits: number[]): Buffer => {
    const b = Buffer.alloc(8 + 2 * digits.length);
    b.writeUInt16BE(ndigits, 0);
    b.writeInt16BE(weight, 2);
    b.writeUInt16BE(sign, 4);
    b.writeUInt16BE(dscale, 6);
    digits.forEach((d, i) => b.writeUInt16BE(d, 8 + 2 * i));
    return b;
  };
  assert.equal(numericBinaryToText(enc(2, 0, 0, 2, [123, 4500])), '123.45');
  assert.equal(numericBinaryToText(enc(1, -1, 0, 4, [1])), '0.0001');
  assert.equal(numericBinaryToText(enc(1, -2, 0, 8, [5])), '0.00000005');
  assert.equal(numericBinaryToText(enc(1, 1, 0, 0, [1])), '10000');
  assert.equal(numericBinaryToText(enc(1, 0, 0x4000, 0, [5])), '-5');
  assert.equal(numericBinaryToText(enc(0, 0, 0, 0, [])), '0');
  assert.equal(numericBinaryToText(enc(0, 0, 0xc000, 0, [])), 'NaN');
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), (n) => assert.equal(numericBinaryToText(integerToNumericBinary(n.toString())), n.toString())));
});

test('array and JSON rewriting keep untouched text byte for byte', () => {
  const arr = '{"a b","c\\"d",NULL,e,{f,""}}';
  assert.equal(rewriteArrayText(arr, () => undefined), undefined);
  const seen: string[] = [];
  rewriteArrayText(arr, (t) => void seen.push(t));
  assert.deepEqual(seen, ['a b', 'c"d', 'e', 'f', '']);
  assert.equal(rewriteArrayText('{x,y}', (t) => (t === 'y' ? 'has,comma' : undefined)), '{x,"has,comma"}');
  const json = '{ "k" : "v\\u0041", "n": 41111111111111111111, "a": [true, null, -1.5e3] }';
  assert.equal(rewriteJsonText(json, () => undefined), undefined);
  const leaves: string[] = [];
  rewriteJsonText(json, (l) => void leaves.push(`${l.kind}:${l.key ? 'key:' : ''}${l.text}`));
  assert.deepEqual(leaves, ['string:key:k', 'string:vA', 'string:key:n', 'number:41111111111111111111', 'string:key:a', 'number:-1.5e3']);
  assert.equal(rewriteJsonText(json, (l) => (l.kind === 'number' && l.text.length > 10 ? '0' : undefined)), json.replace('41111111111111111111', '0'));
  assert.equal(rewriteArrayBinary(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25]), () => Buffer.from('x')), undefined); // empty array
});

test('maskValue is total over random text values of common types (valid output or a typed error)', () => {
  const types = [OID.text, OID.int4, OID.int8, OID.numeric, OID.date, OID.json, 1009, 1016];
  fc.assert(
    fc.property(fc.string({ maxLength: 30 }), fc.constantFrom(...types), fc.constantFrom(P, R, T, N), (s, typeOid, strategy) => {
      const ctx: MaskValueContext = { typeOid, format: 0, cls: 'x', strategy, key: KEY };
      try {
        maskValue(Buffer.from(s), ctx);
      } catch (e) {
        assert.ok(e instanceof GatewayError, String(e));
      }
    }),
  );
});

test('tokenText equals tok_ + base32 of the first 128 bits of HMAC-SHA256 (node:crypto reference)', () => {
  const key = deriveScopeKey(Buffer.alloc(32, 3), 'identity', 'iss|alice');
  const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
  const reference = (v: string): string => {
    const b = createHmac('sha256', key).update(v, 'utf8').digest().subarray(0, 16);
    let out = '';
    let bits = 0;
    let acc = 0;
    for (const byte of b) {
      acc = (acc << 8) | byte;
      bits += 8;
      while (bits >= 5) {
        out += B32[(acc >>> (bits - 5)) & 31];
        bits -= 5;
      }
    }
    return `tok_${out}${B32[(acc << (5 - bits)) & 31]}`;
  };
  for (const v of ['', 'a', '4111111111111111', '123-45-6789', 'Ünïcødé 😀', 'x'.repeat(300), ...Array.from({ length: 200 }, () => Math.random().toString(36))]) {
    assert.equal(tokenText(key, v), reference(v), v);
  }
});

test('the byte forms: writeTokenText and writePartialAscii equal tokenText and partialText for ASCII values', () => {
  const key = deriveScopeKey(Buffer.alloc(32, 3), 'identity', 'iss|alice');
  const ascii = fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: 120 });
  fc.assert(
    fc.property(ascii, fc.nat(20), (v, pad) => {
      // The value sits somewhere inside a larger buffer, as in a DataRow.
      const src = Buffer.concat([Buffer.alloc(pad, 0x41), Buffer.from(v, 'latin1'), Buffer.alloc(3, 0x42)]);
      const out = Buffer.alloc(pad + 200, 0xee);
      assert.equal(writeTokenText(key, src, pad, v.length, out, pad), TOKEN_TEXT_BYTES);
      assert.equal(out.toString('latin1', pad, pad + TOKEN_TEXT_BYTES), tokenText(key, v));
      assert.equal(writePartialAscii(src, pad, v.length, out, pad), v.length);
      assert.equal(out.toString('latin1', pad, pad + v.length), partialText(v));
    }),
    { numRuns: 1000 },
  );
  for (const v of ['', 'a', 'ab', '123-45-6789', '4111 1111 1111 1111', 'tab\there\n', 'x'.repeat(300), 'DE89370400440532013000']) {
    const out = Buffer.alloc(400);
    writePartialAscii(Buffer.from(v), 0, v.length, out, 0);
    assert.equal(out.toString('latin1', 0, v.length), partialText(v), v);
    writeTokenText(key, Buffer.from(v), 0, v.length, out, 0);
    assert.equal(out.toString('latin1', 0, TOKEN_TEXT_BYTES), tokenText(key, v), v);
  }
  assert.throws(() => writeTokenText(undefined, Buffer.from('x'), 0, 1, Buffer.alloc(40), 0), (e: unknown) => e instanceof GatewayError && e.code === 'GW_INTERNAL');
});
