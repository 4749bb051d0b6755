import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from './load.ts';
import { GatewayError } from '../shared/errors.ts';

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml, {}, 'test.yaml');
  } catch (e) {
    assert.ok(e instanceof GatewayError);
    assert.equal(e.code, 'GW_CONFIG_INVALID');
    return e.message.split('\n').slice(1).map((l) => l.trim());
  }
  assert.fail('expected GW_CONFIG_INVALID');
}

test('the documented masking section loads, normalised', () => {
  const c = parseConfig(
    `masking:
  columnRules:
    - { column: "customers/public.customers.ssn", class: us_ssn }
    - { column: "**.account_no", class: account_number }
  strategies:
    us_ssn: partial
    payment_card: { kind: token, scope: identity }
    iban: token
    email: { kind: redact, mask: EMAIL }
    jwt: "null"
  defaultStrategy: redact
  guardPredicates: true
  keySecret: vault:masking-key
  catalogTtl: 30s
`,
    {},
  );
  assert.deepEqual(c.masking, {
    guardPredicates: true,
    columnRules: [
      { column: 'customers/public.customers.ssn', class: 'us_ssn' },
      { column: '**.account_no', class: 'account_number' },
    ],
    strategies: {
      us_ssn: { kind: 'partial' },
      payment_card: { kind: 'token', scope: 'identity' },
      iban: { kind: 'token', scope: 'session' },
      email: { kind: 'redact', mask: 'EMAIL' },
      jwt: { kind: 'null' },
    },
    defaultStrategy: { kind: 'redact' },
    keySecret: { vault: 'masking-key' },
    catalogTtl: 30,
  });
});

test('every mistake is reported at its exact path, never echoing a literal key', () => {
  assert.deepEqual(
    problems(`masking:
  columnRules:
    - { column: "customers/customers.ssn", class: US }
    - { pattern: "c/s.t.c", class: x }
  strategies: { us_ssn: fancy, payment_card: { kind: token }, x: { kind: redact, mask: "a,b" }, "Bad": partial }
  defaultStrategy: 3
  keySecret: "c2VjcmV0LWtleQ=="
  catalogTtl: 1h
  extra: 1
`),
    [
      'masking.columnRules[0].column: expected connection/schema.table.column (globs: * within a name, ** across names, ? one character)',
      'masking.columnRules[0].class: expected a class name: a lower-case letter, then up to 62 of a-z 0-9 _',
      'masking.columnRules[1].column: required',
      'masking.columnRules[1].pattern: unknown key',
      'masking.strategies.us_ssn.kind: expected partial, redact, token or null, or { kind: …, scope / mask }',
      'masking.strategies.payment_card.scope: required',
      'masking.strategies.x.mask: expected at most 64 of A-Z a-z 0-9 _ * # . - (the mask is spliced into array and composite literals)',
      'masking.strategies.Bad: expected a class name: a lower-case letter, then up to 62 of a-z 0-9 _',
      'masking.defaultStrategy: expected partial, redact, token or null, or { kind: …, scope / mask }',
      'masking.keySecret: expected vault:NAME (the key is never written in the config); store it with `gatehouse vault set NAME`',
      'masking.catalogTtl: expected between 1s and 10m',
      'masking.extra: unknown key',
    ],
  );
});
