import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import canonicalize from 'canonicalize';
import { canonicalJson } from './canonical.ts';

test('matches the canonicalize (RFC 8785) reference on random JSON values', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      assert.equal(canonicalJson(v), canonicalize(v));
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string({ unit: 'binary' }), (d, s) => {
      assert.equal(canonicalJson({ d, s, a: [d, s] }), canonicalize({ d, s, a: [d, s] }));
    }),
    { numRuns: 2000 },
  );
});

test('RFC 8785 examples and edge cases', () => {
  // RFC 8785 §3.2.3 sorting example keys, and number forms from Appendix B.
  assert.equal(
    canonicalJson({ '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' }),
    '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
  );
  assert.equal(canonicalJson([0, -0, 1e21, 1e-7, 333333333.3333333, 5e-324, 1.7976931348623157e308, 9007199254740992]), '[0,0,1e+21,1e-7,333333333.3333333,5e-324,1.7976931348623157e+308,9007199254740992]');
  assert.equal(canonicalJson({ a: undefined, b: [undefined, () => 1], c: new Date(0) }), '{"b":[null,null],"c":"1970-01-01T00:00:00.000Z"}');
  for (const bad of [Number.NaN, Infinity, 1n, '\ud800', { '\udc00': 1 }]) assert.throws(() => canonicalJson(bad));
  const cyc: Record<string, unknown> = {};
  cyc['self'] = cyc;
  assert.throws(() => canonicalJson(cyc));
  assert.throws(() => canonicalJson(undefined));
});

test('canonicalStable: a declared-immutable object gives the same text, is frozen, and is reused', async () => {
  const { canonicalStable } = await import('./canonical.ts');
  const identity = { subject: 'alice', issuer: 'https://idp', groups: ['b', 'a'], ci: { ref: 'main', '1x': 'digit key' } };
  const expected = canonicalize(identity);
  const stable = canonicalStable(identity);
  assert.equal(stable, identity);
  assert.ok(Object.isFrozen(identity) && Object.isFrozen(identity.groups) && Object.isFrozen(identity.ci));
  assert.equal(canonicalJson(identity), expected);
  assert.equal(canonicalJson({ z: 1, who: identity, a: [identity] }), canonicalize({ z: 1, who: identity, a: [identity] }));
});
