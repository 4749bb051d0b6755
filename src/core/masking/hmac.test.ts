import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { HmacSha256 } from './hmac.ts';

test('HmacSha256 equals node:crypto createHmac for every message length and random keys', () => {
  const key = Buffer.alloc(32, 0xab);
  const h = new HmacSha256(key);
  for (let n = 0; n < 300; n++) {
    const m = 'x'.repeat(n);
    assert.deepEqual(h.digest(m), createHmac('sha256', key).update(m).digest(), `length ${n}`);
  }
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), fc.string({ maxLength: 200, unit: 'grapheme' }), (k, m) => {
      assert.deepEqual(new HmacSha256(k).digest(m), createHmac('sha256', Buffer.from(k)).update(m, 'utf8').digest());
    }),
    { numRuns: 500 },
  );
  // RFC 4231 test case 2.
  assert.equal(new HmacSha256(Buffer.from('Jefe')).digest('what do ya want for nothing?').toString('hex'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
});

test('HmacSha256.digestBytes equals createHmac over any bytes at any offset, across the one- and two-block tails', () => {
  const key = Buffer.from('a 32-byte scope key for the test!');
  const h = new HmacSha256(key);
  const src = Buffer.from(Array.from({ length: 700 }, (_, i) => (i * 151 + 7) & 0xff)); // not UTF-8: raw bytes are hashed as they are
  for (const from of [0, 1, 3, 130]) {
    for (let n = 0; n <= 300; n++) {
      const w = h.digestBytes(src, from, n);
      const got = Buffer.alloc(32);
      for (let i = 0; i < 8; i++) got.writeInt32BE(w[i]!, i * 4);
      assert.deepEqual(got, createHmac('sha256', key).update(src.subarray(from, from + n)).digest(), `from ${from}, length ${n}`);
    }
  }
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), fc.uint8Array({ maxLength: 400 }), fc.nat(), (k, m, cut) => {
      const from = m.length === 0 ? 0 : cut % m.length;
      const w = new HmacSha256(k).digestBytes(m, from, m.length - from);
      const ref = createHmac('sha256', Buffer.from(k)).update(m.subarray(from)).digest();
      for (let i = 0; i < 8; i++) assert.equal(w[i], ref.readInt32BE(i * 4));
    }),
    { numRuns: 500 },
  );
});
