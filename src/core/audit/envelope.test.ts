import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, isCanonicalJson } from './canonical.ts';
import { hashLeaf } from './merkle.ts';
import { openEvent, parseEnvelope, payloadCommitment, sealEvent } from './envelope.ts';
import { PAYLOAD_EXPIRED_TEXT } from './events.ts';
import { CUSTOMER_STRINGS, approvalSampleEvents, sampleEvents } from './test-support.ts';

test('canonical JSON follows RFC 8785 (sorted keys, ES number form, no whitespace)', () => {
  assert.equal(canonicalJson({ b: 1, a: [1e21, 0.1, -0, 'é'], c: { z: null, y: true } }), '{"a":[1e+21,0.1,0,"é"],"b":1,"c":{"y":true,"z":null}}');
  // RFC 8785 §3.2.3: sort by UTF-16 code units.
  assert.equal(canonicalJson({ '\u20ac': 1, '\r': 2, '\ud83d\ude00': 3, '1': 4 }), '{"\\r":2,"1":4,"€":1,"😀":3}');
  assert.throws(() => canonicalJson(Number.NaN));
  assert.ok(isCanonicalJson('{"a":1}'));
  assert.ok(!isCanonicalJson('{ "a":1}'));
});

test('every variant round-trips through envelope + payload', () => {
  for (const [i, ev] of sampleEvents().entries()) {
    const sealed = sealEvent(ev, i + 1, 'gw-1');
    assert.equal(sealed.envelopeJson, canonicalJson(sealed.envelope));
    assert.deepEqual(sealed.leafHash, hashLeaf(Buffer.from(sealed.envelopeJson)));
    const env = parseEnvelope(sealed.envelopeJson);
    assert.equal(env.v, 1);
    assert.equal(env.seq, i + 1);
    assert.equal(env.instance, 'gw-1');
    const back = openEvent(env, sealed.payload?.body ?? null);
    assert.deepEqual(back, { ...ev, seq: i + 1 });
  }
});

test('envelopes never hold statement text, messages or other customer data', () => {
  for (const ev of sampleEvents()) {
    const sealed = sealEvent(ev, 1, 'gw-1');
    for (const s of CUSTOMER_STRINGS) assert.ok(!sealed.envelopeJson.includes(s), `${ev.type} envelope leaks ${s}`);
  }
  const started = sealEvent(sampleEvents()[3]!, 1, 'gw-1');
  assert.deepEqual(started.envelope.tables, ['public.customers']);
  assert.deepEqual(started.envelope.decision?.policyIds, ['p-read']);
  assert.equal(started.envelope.payload?.class, 'statement');
  const failed = sealEvent(sampleEvents()[5]!, 1, 'gw-1');
  assert.equal(failed.envelope.errorCode, '23505');
  assert.equal(failed.envelope.outcome, 'error');
});

test('unknown fields go to the payload, not the envelope', () => {
  const ev = { ...sampleEvents()[4]!, params: ['secret-param'], resultSample: [['ann']] } as never;
  const sealed = sealEvent(ev, 1, 'gw-1');
  assert.ok(!sealed.envelopeJson.includes('secret-param'));
  assert.ok(sealed.payload?.body.includes('secret-param'));
});

test('payload commitment = SHA-256(salt ‖ canonical payload), with a fresh 16-byte salt', () => {
  const a = sealEvent(sampleEvents()[3]!, 1, 'gw-1');
  const b = sealEvent(sampleEvents()[3]!, 1, 'gw-1');
  assert.equal(a.payload!.salt.length, 16);
  assert.notEqual(a.envelope.payload!.commitment, b.envelope.payload!.commitment);
  assert.equal(a.envelope.payload!.commitment, payloadCommitment(a.payload!.salt, a.payload!.body));
  const fixed = sealEvent(sampleEvents()[3]!, 1, 'gw-1', { salt: Buffer.alloc(16) });
  assert.equal(
    fixed.envelope.payload!.commitment,
    // sha256(16 zero bytes ‖ canonical payload)
    payloadCommitment(Buffer.alloc(16), canonicalJson({ statement: "SELECT * FROM customers WHERE email = 'ann@example.com'" })),
  );
});

test('an event whose payload expired reopens with markers', () => {
  const started = sealEvent(sampleEvents()[3]!, 7, 'gw-1');
  const ev = openEvent(started.envelope, null);
  assert.equal(ev.payloadExpired, true);
  assert.equal((ev as { statement: string }).statement, PAYLOAD_EXPIRED_TEXT);
  const failed = sealEvent(sampleEvents()[5]!, 8, 'gw-1');
  assert.deepEqual((openEvent(failed.envelope, null) as { error: unknown }).error, { code: '23505', message: PAYLOAD_EXPIRED_TEXT });
});

test('approval and grant events: references and counts in the envelope, statement and justification in the payload', () => {
  for (const [i, ev] of approvalSampleEvents().entries()) {
    const sealed = sealEvent(ev, i + 1, 'gw-1');
    for (const s of [...CUSTOMER_STRINGS, 'x@example.com', 'OPS-1', 'ab'.repeat(32), 'cd'.repeat(32)]) {
      assert.ok(!sealed.envelopeJson.includes(s), `${ev.type} envelope leaks ${s}`);
    }
    assert.deepEqual(openEvent(parseEnvelope(sealed.envelopeJson), sealed.payload?.body ?? null), { ...ev, seq: i + 1 });
  }
  const [requested, granted] = approvalSampleEvents().map((e, i) => sealEvent(e, i + 1, 'gw-1'));
  assert.equal(requested!.envelope.approvalId, 'ap1');
  assert.equal(requested!.envelope.attrs?.['policyId'], 'p-write');
  assert.equal(requested!.envelope.payload?.class, 'statement');
  assert.equal(granted!.envelope.payload?.class, 'detail');
  const expired = openEvent(requested!.envelope, null) as { statement: string; payloadExpired?: true };
  assert.equal(expired.statement, PAYLOAD_EXPIRED_TEXT);
  assert.equal(expired.payloadExpired, true);
});
