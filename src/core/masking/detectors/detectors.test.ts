import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Detector } from '../types.ts';
import { abaRouting, awsAccessKey, createPhoneDetector, DEFAULT_DETECTORS, email, iban, jwt, paymentCard, pemPrivateKey, phone, usSsn } from './index.ts';
import { isCardNumber, luhn } from './payment_card.ts';
import { isAbaRouting } from './us_aba_routing.ts';

/** The substrings a detector finds. */
const found = (d: Detector, text: string): string[] => d.find(text).map((s) => text.slice(s.start, s.end));

function cases(d: Detector, valid: [string, string][], nearMiss: string[]): void {
  for (const [text, value] of valid) assert.deepEqual(found(d, text), [value], `${d.class} should find ${value} in ${JSON.stringify(text)}`);
  for (const text of nearMiss) assert.deepEqual(found(d, text), [], `${d.class} should find nothing in ${JSON.stringify(text)}`);
}

test('us_ssn: separated forms, labelled bare form; area/group/serial rules', () => {
  cases(
    usSsn,
    [
      ['123-45-6789', '123-45-6789'],
      ['ssn 078-05-1121 on file', '078-05-1121'],
      ['Key (ssn)=(219 09 9999) already exists.', '219 09 9999'],
      ['SSN: 123456789', '123456789'],
      ['social security number #899-99-0001', '899-99-0001'],
      ['{"tin":"665012345"}', '665012345'],
    ],
    [
      '000-12-3456', // area 000
      '666-12-3456', // area 666
      '900-12-3456', // area 9xx
      '123-00-4567', // group 00
      '123-45-0000', // serial 0000
      '123456789', // bare without a label: an id
      'order 123456789 shipped',
      '123-45-67890', // too long
      '1123-45-6789',
      '123-45 6789', // mixed separators
      '2024-01-15', // a date
      'SSN: 1234567890',
    ],
  );
});

test('payment_card: Luhn + issuer ranges, separators, several in one text', () => {
  assert.ok(luhn('4111111111111111'));
  assert.ok(!luhn('4111111111111112'));
  cases(
    paymentCard,
    [
      ['4111111111111111', '4111111111111111'], // Visa
      ['card 4111 1111 1111 1111 exp 12/29', '4111 1111 1111 1111'],
      ['5500-0000-0000-0004', '5500-0000-0000-0004'], // Mastercard
      ['2223000048400011', '2223000048400011'], // Mastercard 2-series
      ['amex 3782 822463 10005.', '3782 822463 10005'], // Amex 15
      ['6011111111111117', '6011111111111117'], // Discover
      ['3530111333300000', '3530111333300000'], // JCB
      ['{"pan": "6200000000000005"}', '6200000000000005'], // UnionPay
      ['4222222222222', '4222222222222'], // Visa 13
    ],
    [
      '4111111111111112', // Luhn fails
      '1234567812345670', // Luhn passes, no issuer starts with 1
      '7000000000000005', // no issuer range
      '3782822463100051', // Amex prefix, wrong length (16)
      '41111111111111111111', // 20 digits
      '4111-1111 1111-1111', // mixed separators
      '411111111111', // 12 digits
      'x4111111111111111', // glued to a word
      '0.4111111111111111', // a decimal fraction
      '1490218392830918273', // 19-digit snowflake-style id
    ],
  );
  assert.deepEqual(found(paymentCard, '4111111111111111 5500000000000004'), ['4111111111111111', '5500000000000004']);
  assert.deepEqual(found(paymentCard, 'ref 12 4111 1111 1111 1111'), ['4111 1111 1111 1111']);
  // Property: every generated valid Visa number is found, alone and with spaces.
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 14, maxLength: 14 }), (ds) => {
      const body = '4' + ds.join('');
      const check = [...Array(10).keys()].find((c) => luhn(body + c))!;
      const pan = body + check;
      assert.ok(isCardNumber(pan));
      assert.deepEqual(found(paymentCard, pan), [pan]);
      const spaced = pan.replace(/(\d{4})(?=\d)/g, '$1 ');
      assert.deepEqual(found(paymentCard, `pay ${spaced}!`), [spaced]);
    }),
  );
});

test('iban: mod-97 and country format via ibantools, printed and electronic forms', () => {
  cases(
    iban,
    [
      ['GB82WEST12345698765432', 'GB82WEST12345698765432'],
      ['IBAN: GB82 WEST 1234 5698 7654 32 is mine', 'GB82 WEST 1234 5698 7654 32'],
      ['de89370400440532013000', 'de89370400440532013000'],
      ['(NL91ABNA0417164300)', 'NL91ABNA0417164300'],
      ['FR1420041010050500013M02606', 'FR1420041010050500013M02606'],
    ],
    [
      'GB82WEST12345698765433', // mod-97 fails
      'GB82WEST1234569876543', // wrong length for GB
      'XX82WEST12345698765432', // unknown country
      'DE89 3704 0044 0532 0130', // truncated
      'AB12CD34',
    ],
  );
});

test('email: validator.isEmail on candidates', () => {
  cases(
    email,
    [
      ['alice@example.com', 'alice@example.com'],
      ['Contact: <bob.smith+tag@mail.example.co.uk>.', 'bob.smith+tag@mail.example.co.uk'],
      ['{"email":"o\'reilly@example.org"}', "o'reilly@example.org"],
      ['dup key (email)=(jörg@exämple.de)', 'jörg@exämple.de'],
    ],
    ['alice@localhost', 'not an email: a@b', '@example.com', 'alice@', 'alice@@example.com', 'foo@bar..com'],
  );
});

test('phone: formatted national and international numbers; bare digit runs are ignored', () => {
  cases(
    phone,
    [
      ['call +1 (415) 555-2671 now', '+1 (415) 555-2671'],
      ['(415) 555-2671', '(415) 555-2671'],
      ['415-555-2671', '415-555-2671'],
      ['uk office +44 20 7946 0958', '+44 20 7946 0958'],
      ['+33 1 42 68 53 00', '+33 1 42 68 53 00'],
    ],
    [
      '4155552671', // bare run: an id as far as we can tell
      'id 12345678901',
      '2024-01-15 10:30:00',
      '555-0100', // too short
      '+1 (123) 456-7890', // invalid area code
      '123-45-6789', // an SSN shape, not a valid US number
      'total 1,234,567.89',
      '192.168.100.200',
    ],
  );
  const intl = createPhoneDetector();
  assert.deepEqual(found(intl, '(415) 555-2671'), []);
  assert.deepEqual(found(intl, '+1 415 555 2671'), ['+1 415 555 2671']);
});

test('aba_routing: prefix + 3-7-1 checksum, labelled', () => {
  assert.ok(isAbaRouting('021000021'));
  assert.ok(isAbaRouting('011000015'));
  assert.ok(!isAbaRouting('021000022'));
  cases(
    abaRouting,
    [
      ['routing number: 021000021', '021000021'],
      ['ABA 011000015', '011000015'],
      ['{"rtn": "322271627"}', '322271627'],
    ],
    [
      'routing 021000022', // checksum fails
      'routing 131000025', // prefix 13 not assigned (checksum ok)
      'routing 000000000',
      'routing 0210000211', // 10 digits
      '021000021', // no label
      'order 021000021',
    ],
  );
});

test('jwt: three base64url parts with a JSON header that has alg', () => {
  const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const token = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ sub: 'x' })}.c2lnbmF0dXJl`;
  const none = `${enc({ alg: 'none' })}.${enc({ sub: 'x' })}.`;
  cases(
    jwt,
    [
      [token, token],
      [`Authorization: Bearer ${token}`, token],
      [none, none],
    ],
    [
      `${enc({ typ: 'JWT' })}.${enc({ sub: 'x' })}.sig`, // no alg
      `${enc({ alg: 5 })}.${enc({ sub: 'x' })}.sig`, // alg not a string
      `${enc([1, 2])}.${enc({})}.sig`,
      'eyJhbGciOiJIUzI1NiJ9', // one part
      'www.example.com', // dotted words
      'eyJub3QganNvbg.eyJ4Ijox.c2ln', // header is not JSON
    ],
  );
});

test('aws_access_key: AKIA/ASIA + 16', () => {
  cases(
    awsAccessKey,
    [
      ['AKIAIOSFODNN7EXAMPLE', 'AKIAIOSFODNN7EXAMPLE'],
      ['aws_access_key_id = ASIAY34FZKBOKMUTVV7A', 'ASIAY34FZKBOKMUTVV7A'],
    ],
    ['AKIAIOSFODNN7EXAMPL', 'AKIAIOSFODNN7EXAMPLE1', 'akiaiosfodnn7example', 'AKIBIOSFODNN7EXAMPLE', 'XAKIAIOSFODNN7EXAMPLE', 'AKIAiosfodnn7example'],
  );
});

test('private_key: PEM blocks, also without END', () => {
  const body = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7';
  const pkcs8 = `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----`;
  const rsa = `-----BEGIN RSA PRIVATE KEY-----\n${body}\n-----END RSA PRIVATE KEY-----`;
  const openssh = `-----BEGIN OPENSSH PRIVATE KEY-----\n${body}\n-----END OPENSSH PRIVATE KEY-----`;
  cases(
    pemPrivateKey,
    [
      [pkcs8, pkcs8],
      [`key=${rsa}\nnext`, rsa],
      [openssh, openssh],
      [`-----BEGIN EC PRIVATE KEY-----\n${body}`, `-----BEGIN EC PRIVATE KEY-----\n${body}`],
    ],
    [`-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----`, `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----`, 'PRIVATE KEY'],
  );
});

test('detectors never crash and return in-bounds, non-empty spans on arbitrary text', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200, unit: fc.constantFrom(...'0123456789 -+()@.abcAKIAeyJ\n'.split('')) }), (text) => {
      for (const d of DEFAULT_DETECTORS) {
        for (const s of d.find(text)) assert.ok(s.start >= 0 && s.end <= text.length && s.start < s.end, d.class);
      }
    }),
  );
});
