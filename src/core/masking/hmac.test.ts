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
