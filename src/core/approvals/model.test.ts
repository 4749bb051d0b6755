import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bindingHash, grantContext, selectGrant, sha256Hex, type Grant } from './model.ts';
import { activeGrant, pendingGrant } from './store-contract.ts';

const base = { requester: { issuer: 'https://idp', subject: 'bot' }, connection: 'customers', statement: 'DELETE FROM t', policyVersion: 3 };

test('binding hash: same inputs same hash; each field changes it', () => {
  assert.equal(bindingHash(base), bindingHash({ ...base }));
  assert.match(bindingHash(base), /^[0-9a-f]{64}$/);
  const variants = [
    { ...base, requester: { ...base.requester, subject: 'bot2' } },
    { ...base, requester: { ...base.requester, issuer: 'https://other' } },
    { ...base, connection: 'customers2' },
    { ...base, statement: 'DELETE FROM t ' },
    { ...base, statement: 'delete from t' },
    { ...base, policyVersion: 4 },
  ];
  for (const v of variants) assert.notEqual(bindingHash(v), bindingHash(base), JSON.stringify(v));
});

test('binding hash: fields cannot bleed into each other (canonical encoding)', () => {
  fc.assert(
    fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (c1, s1, c2, s2) => {
      fc.pre(c1 !== c2 || s1 !== s2);
      assert.notEqual(bindingHash({ ...base, connection: c1, statement: s1 }), bindingHash({ ...base, connection: c2, statement: s2 }));
    }),
  );
  assert.notEqual(
    bindingHash({ ...base, requester: { issuer: 'a', subject: 'b|c' } }),
    bindingHash({ ...base, requester: { issuer: 'a|b', subject: 'c' } }),
  );
});

test('statement hash is SHA-256 of the UTF-8 text', () => {
  assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('selectGrant: action must match; a table grant covers only its table; the longest wins', () => {
  const any = activeGrant(pendingGrant('g-any', { durationSeconds: 60 }));
  const orders = activeGrant(pendingGrant('g-orders', { table: 'public.orders', durationSeconds: 600 }));
  const read = activeGrant(pendingGrant('g-read', { action: 'sql:read' }));
  const all: Extract<Grant, { status: 'active' }>[] = [any, orders, read];
  assert.equal(selectGrant(all, 'sql:write', ['public.orders'])?.id, 'g-orders');
  assert.equal(selectGrant(all, 'sql:write', ['public.orders', 'public.items'])?.id, 'g-any');
  assert.equal(selectGrant([orders], 'sql:write', ['public.items']), undefined);
  assert.equal(selectGrant(all, 'sql:ddl', []), undefined);
  assert.deepEqual(grantContext(orders), { id: 'g-orders', actions: ['sql:write'], tables: ['public.orders'], expiresAt: orders.expiresAt, reason: 'CHG-1234' });
  assert.deepEqual(grantContext(any).tables, []);
});
