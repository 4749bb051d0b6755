import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../../shared/errors.ts';
import { IN_BYTES, Masker, type MaskingRules, type PlanContext } from './engine.ts';
import { compileRules, globToRegExp } from './rules.ts';
import { OID } from './pgtypes.ts';
import { DETECTED_CLASSES, type ResultColumn } from './types.ts';
import { DEFAULT_DETECTORS } from './detectors/index.ts';

const RULES: MaskingRules = {
  columnRules: [
    { pattern: 'customers/public.people.ssn', cls: 'us_ssn' },
    { pattern: 'customers/public.*.card_number', cls: 'payment_card' },
    { pattern: '*/public.people.dob', cls: 'dob' },
    { pattern: '**.blob', cls: 'secret_blob' },
  ],
  strategies: { us_ssn: { kind: 'partial' }, payment_card: { kind: 'token', scope: 'session' }, dob: { kind: 'partial' }, email: { kind: 'redact', mask: 'EMAIL' }, jwt: { kind: 'null' } },
  defaultStrategy: { kind: 'redact' },
};
const KEYS = { master: Buffer.alloc(32, 9), identity: 'iss|alice', session: 's-1' };
const NONE = new Set<string>();

/** RowDescription-like columns: people(id int4, ssn text, dob date, card_number int8, notes text, profile jsonb). */
function cols(format: 0 | 1 = 0): ResultColumn[] {
  return [
    { name: 'id', tableOid: 100, columnAttr: 1, typeOid: OID.int4, format },
    { name: 'ssn', tableOid: 100, columnAttr: 2, typeOid: OID.text, format },
    { name: 'dob', tableOid: 100, columnAttr: 3, typeOid: OID.date, format },
    { name: 'card_number', tableOid: 100, columnAttr: 4, typeOid: OID.int8, format },
    { name: 'notes', tableOid: 100, columnAttr: 5, typeOid: OID.text, format },
    { name: 'profile', tableOid: 100, columnAttr: 6, typeOid: OID.jsonb, format },
  ];
}
const NAMES = ['id', 'ssn', 'dob', 'card_number', 'notes', 'profile'];
const resolveColumn = (oid: number, attnum: number): string | undefined => (oid === 100 ? `public.people.${NAMES[attnum - 1]}` : undefined);
const ctx = (unmask: ReadonlySet<string> = NONE, extra: Partial<PlanContext> = {}): PlanContext => ({ connection: 'customers', unmask, resolveColumn, ...extra });
const row = (...v: (string | null)[]): (Buffer | null)[] => v.map((s) => (s === null ? null : Buffer.from(s)));
const text = (v: (Buffer | null)[]): (string | null)[] => v.map((b) => (b === null ? null : b.toString()));

test('column rules via RowDescription origin, detectors everywhere else, counts only', () => {
  const m = new Masker(RULES, KEYS);
  const plan = m.planForRow(cols(), ctx());
  assert.equal(plan.passthrough, false);
  const r = m.maskDataRow(plan, row('7', '123-45-6789', '1985-07-14', '4111111111111111', 'mail bob@example.com, card 5500 0000 0000 0004', '{"contact":{"email":"x@example.org"},"n":4111111111111111}'));
  const [id, ssn, dob, card, notes, profile] = text(r.values);
  assert.equal(id, '7');
  assert.equal(ssn, '***-**-6789');
  assert.equal(dob, '1985-01-01');
  assert.match(card!, /^\d{18}$/); // a bigint stays a bigint
  assert.match(notes!, /^mail EMAIL, card tok_[a-z2-7]{26}$/);
  const p = JSON.parse(profile!) as { contact: { email: string }; n: number };
  assert.equal(p.contact.email, 'EMAIL');
  assert.notEqual(String(p.n), '4111111111111111');
  assert.deepEqual(r.counts, { us_ssn: 1, dob: 1, payment_card: 3, email: 2 });
  assert.equal(r.changed, true);
  assert.ok(!JSON.stringify(r.counts).includes('6789'));
});

test('the raw-byte prefilter never hides a value: JSON \\u escapes, arrays, composites', () => {
  const m = new Masker(RULES, KEYS);
  const c = (typeOid: number): ResultColumn[] => [{ name: 'v', tableOid: 0, columnAttr: 0, typeOid, format: 0 }];
  const mask = (typeOid: number, v: string): string | null => text(m.maskDataRow(m.planForRow(c(typeOid), ctx()), row(v)).values)[0]!;
  assert.equal(JSON.parse(mask(OID.jsonb, '{"e": "bob\\u0040example.com"}')!).e, 'EMAIL');
  assert.equal(JSON.parse(mask(OID.json, '["\\u0031\\u0032\\u0033-45-6789"]')!)[0], '***-**-6789');
  assert.equal(mask(1009, '{"card 4111 1111 1111 1111",x}')!.startsWith('{"card tok_'), true);
  assert.equal(mask(99999, '(1,"123-45-6789",t)'), '(1,"***-**-6789",t)'); // composite literal text
  assert.equal(mask(OID.text, 'key AKIAIOSFODNN7EXAMPLE'), 'key ****');
});

test('fast path: principals who may unmask everything get passthrough; one unmasked class stays clear', () => {
  const m = new Masker(RULES, KEYS);
  const all = new Set<string>([...DETECTED_CLASSES, 'dob', 'secret_blob']);
  assert.ok(m.masksNothing(all));
  assert.deepEqual(m.planForRow(cols(), ctx(all)), { passthrough: true });
  // Unmask payment_card only (fraud analysts): cards clear, SSNs masked.
  const plan = m.planForRow(cols(), ctx(new Set(['payment_card'])));
  const r = m.maskDataRow(plan, row('1', '123-45-6789', null, '4111111111111111', 'card 5500 0000 0000 0004', null));
  assert.deepEqual(text(r.values), ['1', '***-**-6789', null, '4111111111111111', 'card 5500 0000 0000 0004', null]);
  // A result of only unscannable, unbound columns needs no work at all.
  assert.deepEqual(m.planForRow([{ name: 'd', tableOid: 0, columnAttr: 0, typeOid: OID.date, format: 0 }], ctx()), { passthrough: true });
  // Unchanged rows are returned as is.
  const same = m.maskDataRow(m.planForRow(cols(), ctx()), row('1', null, null, null, 'nothing here', '{}'));
  assert.equal(same.changed, false);
  assert.deepEqual(same.counts, {});
});

test('lineage classes mask derived columns; unknown masks unless every bound class may be unmasked', () => {
  const m = new Masker(RULES, KEYS);
  const derived: ResultColumn[] = [
    { name: 'reverse', tableOid: 0, columnAttr: 0, typeOid: OID.text, format: 0 },
    { name: 'f', tableOid: 0, columnAttr: 0, typeOid: OID.text, format: 0 },
    { name: 'both', tableOid: 0, columnAttr: 0, typeOid: OID.text, format: 0 },
  ];
  const c = ctx(NONE, { columnClasses: ['us_ssn', 'unknown', ['payment_card', 'us_ssn']] });
  const r = m.maskDataRow(m.planForRow(derived, c), row('9876-54-321', 'whatever', 'x'));
  // A derived value is redacted even though us_ssn is `partial`: the last four of reverse(ssn) are the original's first digits.
  assert.equal(text(r.values)[0], '****');
  assert.equal(text(r.values)[1], '****'); // default strategy
  assert.match(text(r.values)[2]!, /^tok_/); // first masked class: payment_card
  assert.deepEqual(r.counts, { us_ssn: 1, unknown: 1, payment_card: 1 });
  // Unmasking one of two lineage classes still masks the other.
  const r2 = m.maskDataRow(m.planForRow(derived, ctx(new Set(['payment_card']), { columnClasses: [null, null, ['payment_card', 'us_ssn']] })), row('a', 'b', 'x'));
  assert.equal(text(r2.values)[2], '****'); // us_ssn, reached through lineage: redacted, not partial
  // 'unknown' with every bound class unmasked: clear.
  const bound = new Set([...m.boundClasses]);
  const r3 = m.maskDataRow(m.planForRow(derived, ctx(bound, { columnClasses: [null, 'unknown', null] })), row('a', 'b', 'c'));
  assert.deepEqual(text(r3.values), ['a', 'b', 'c']);
});

test('binary format: bigint card number and date stay binary of their type; unknown layouts fail closed naming the column', () => {
  const m = new Masker(RULES, KEYS);
  const i8 = Buffer.alloc(8);
  i8.writeBigInt64BE(4111111111111111n);
  const dob = Buffer.alloc(4);
  dob.writeInt32BE(-5285);
  const plan = m.planForRow(cols(1), ctx());
  const jsonb = Buffer.concat([Buffer.of(1), Buffer.from('{"ssn": "219-09-9999"}')]);
  const r = m.maskDataRow(plan, [Buffer.from([0, 0, 0, 7]), Buffer.from('123-45-6789'), dob, i8, Buffer.from('jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig'), jsonb]);
  assert.equal(r.values[3]!.length, 8);
  assert.notEqual(r.values[3]!.readBigInt64BE(0), 4111111111111111n);
  assert.equal(r.values[2]!.readInt32BE(0), -5478);
  assert.equal(r.values[4], null); // jwt strategy is null: the value becomes NULL
  assert.equal(r.values[5]![0], 1);
  assert.equal(r.values[5]!.subarray(1).toString(), '{"ssn": "***-**-9999"}');
  // A bound column of a type with no known binary layout: the row is refused.
  const odd: ResultColumn[] = [{ name: 'ssn', tableOid: 100, columnAttr: 2, typeOid: 77777, format: 1 }];
  assert.throws(
    () => m.maskDataRow(m.planForRow(odd, ctx()), [Buffer.from('123-45-6789')]),
    (e: unknown) => e instanceof GatewayError && e.code === 'GW_MASKING_UNSUPPORTED' && e.clientSafe && /column "ssn"/.test(e.message) && !e.message.includes('6789'),
  );
  // Scanning an unknown binary layout: clean values pass, a detected value fails closed.
  const composite: ResultColumn[] = [{ name: 'row', tableOid: 0, columnAttr: 0, typeOid: 88888, format: 1 }];
  const p2 = m.planForRow(composite, ctx());
  assert.equal(m.maskDataRow(p2, [Buffer.from([0, 0, 0, 1, 0, 0, 0, 25])]).changed, false);
  assert.throws(() => m.maskDataRow(p2, [Buffer.from('\x00\x00\x00\x0b123-45-6789', 'latin1')]), /column "row"/);
});

test('tokens: equal within scope, different across sessions for session scope', () => {
  const card: ResultColumn[] = [{ name: 'card_number', tableOid: 100, columnAttr: 4, typeOid: OID.text, format: 0 }];
  const a = new Masker(RULES, KEYS);
  const b = new Masker(RULES, { ...KEYS, session: 's-2' });
  const tok = (m: Masker, v: string): string => m.maskDataRow(m.planForRow(card, ctx()), row(v)).values[0]!.toString();
  assert.equal(tok(a, '4111111111111111'), tok(a, '4111111111111111'));
  assert.notEqual(tok(a, '4111111111111111'), tok(a, '5500000000000004'));
  assert.notEqual(tok(a, '4111111111111111'), tok(b, '4111111111111111'));
  const global = new Masker({ ...RULES, strategies: { payment_card: { kind: 'token', scope: 'global' } } }, KEYS);
  const global2 = new Masker({ ...RULES, strategies: { payment_card: { kind: 'token', scope: 'global' } } }, { ...KEYS, identity: 'other', session: 's-9' });
  assert.equal(tok(global, '4111111111111111'), tok(global2, '4111111111111111'));
});

test('maskText: error details and notification payloads', () => {
  const m = new Masker(RULES, KEYS);
  const r = m.maskText('Key (ssn)=(123-45-6789) already exists.', NONE);
  assert.equal(r.text, 'Key (ssn)=(***-**-6789) already exists.');
  assert.deepEqual(r.counts, { us_ssn: 1 });
  // The null strategy cannot empty part of a message: it redacts.
  const j = m.maskText('token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig here', NONE);
  assert.equal(j.text, 'token **** here');
  assert.deepEqual(m.maskText('nothing', NONE), { text: 'nothing', counts: {} });
  assert.equal(m.maskText('123-45-6789', new Set(['us_ssn'])).text, '123-45-6789');
});

test('COPY fields go through the same plan (types from the caller, or text)', () => {
  const m = new Masker(RULES, KEYS);
  const fields: ResultColumn[] = ['a', 'b'].map((name) => ({ name, tableOid: 0, columnAttr: 0, typeOid: 0, format: 0 as const }));
  const r = m.maskDataRow(m.planForRow(fields, ctx(NONE, { columnClasses: ['us_ssn', null] })), row('123456789', 'x 219-09-9999'));
  // Lineage alone (COPY of a query): redacted; with the column's origin (COPY of a table, from the catalog): partial.
  assert.deepEqual(text(r.values), ['****', 'x ***-**-9999']);
  const origin: ResultColumn[] = [{ name: 'ssn', tableOid: 100, columnAttr: 2, typeOid: OID.text, format: 0 }];
  assert.deepEqual(text(m.maskDataRow(m.planForRow(origin, ctx(NONE, { columnClasses: ['us_ssn'] })), row('123456789')).values), ['*****6789']);
});

test('rules: globs, first match wins, config errors', () => {
  assert.ok(globToRegExp('c/public.*.ssn').test('c/public.people.ssn'));
  assert.ok(!globToRegExp('c/public.*.ssn').test('c/public.a.b.ssn'));
  assert.ok(globToRegExp('**.ssn').test('any/x.y.ssn'));
  assert.ok(!globToRegExp('c/public.people.ss?').test('c/public.people.ssnx'));
  const r = compileRules({ ...RULES, columnRules: [{ pattern: 'c/s.t.x', cls: 'first' }, { pattern: 'c/s.t.*', cls: 'second' }] });
  assert.equal(r.classOf('c', 's.t.x'), 'first');
  assert.equal(r.classOf('c', 's.t.y'), 'second');
  assert.equal(r.classOf('d', 's.t.y'), null);
  const bad = (rules: Partial<MaskingRules>): void => assert.throws(() => compileRules({ ...RULES, ...rules }), (e: unknown) => e instanceof GatewayError && e.code === 'GW_CONFIG_INVALID');
  bad({ columnRules: [{ pattern: 'public.people.ssn', cls: 'us_ssn' }] });
  bad({ columnRules: [{ pattern: 'c/s.t.c', cls: 'Bad Class' }] });
  bad({ defaultStrategy: { kind: 'redact', mask: 'a,b' } });
  bad({ strategies: { x: { kind: 'token', scope: 'forever' as 'global' } } });
  const m = new Masker(RULES, KEYS);
  assert.equal(m.ruleClass('customers', 'public', 'people', 'ssn'), 'us_ssn');
  assert.deepEqual(m.predicateViolations(['us_ssn', 'us_ssn', 'dob'], new Set(['dob'])), ['us_ssn']);
});

test('narrow integers (int2, int4, oid) are not scanned: no default detector can match their text', () => {
  const m = new Masker(RULES, KEYS);
  for (const typeOid of [OID.int2, OID.int4, OID.oid, 1007 /* int4[] */]) {
    assert.deepEqual(m.planForRow([{ name: 'id', tableOid: 0, columnAttr: 0, typeOid, format: 0 }], ctx()), { passthrough: true });
  }
  // The claim behind it, over boundary and random values: nothing in the text of an int4 is found.
  const values = ['-2147483648', '2147483647', '4294967295', '-32768', '2125551234', '-2125551234', '123456789', '078051120', '021000021'];
  for (let i = 0; i < 20000; i++) values.push(String(Math.floor(Math.random() * 2 ** 32) - 2 ** 31), String(Math.floor(Math.random() * 2 ** 32)));
  for (const v of values) for (const d of DEFAULT_DETECTORS) assert.deepEqual(d.find(v), [], `${d.class} found something in ${v}`);
  // int8 can hold a card number: still scanned.
  assert.equal(m.planForRow([{ name: 'n', tableOid: 0, columnAttr: 0, typeOid: OID.int8, format: 0 }], ctx()).passthrough, false);
});

/** The row through maskRanges (values laid out in one buffer, as the relay has them), as plain values. */
function maskRangesOf(m: Masker, plan: Parameters<Masker['maskRanges']>[0], values: readonly (Buffer | null)[]) {
  const buf = Buffer.concat(values.map((v) => v ?? Buffer.alloc(0)));
  const start = new Int32Array(values.length);
  const len = new Int32Array(values.length);
  let pos = 0;
  values.forEach((v, i) => {
    start[i] = pos;
    len[i] = v === null ? -1 : v.length;
    pos += v?.length ?? 0;
  });
  const counts = {};
  const r = m.maskRanges(plan, { buf, start, len, count: values.length }, counts);
  const b = values.map((v, i) => {
    const x = r?.values[i];
    if (x === IN_BYTES) return r!.bytes.subarray(r!.at[i], r!.at[i]! + r!.size[i]!);
    return x === undefined ? v : x === null ? null : typeof x === 'string' ? Buffer.from(x, r!.utf8[i] ? 'utf8' : 'latin1') : x;
  });
  return { b, counts, r };
}

test('maskRanges gives the same values and counts as maskDataRow (text, non-UTF-8, arrays, JSON, NULLs, binary)', () => {
  const m = new Masker(RULES, KEYS);
  const names = ['id', 'ssn', 'dob', 'card_number', 'notes', 'profile', 'blob'];
  const resolve = (oid: number, att: number): string | undefined => `public.people.${names[att - 1]}`;
  const plans = ([0, 1] as const).map((format) =>
    m.planForRow(
      names.map((name, i) => ({ name, tableOid: 100, columnAttr: i + 1, typeOid: [OID.int8, OID.text, OID.date, OID.int8, OID.text, OID.jsonb, 1009][i]!, format: i === 6 ? 0 : format })),
      ctx(NONE, { resolveColumn: resolve }),
    ),
  );
  const pick = <T>(a: readonly T[]): T => a[Math.floor(Math.random() * a.length)]!;
  for (let k = 0; k < 3000; k++) {
    const format = k % 2 === 0 ? 0 : 1;
    const text = [
      String(k),
      pick(['123-45-6789', 'Ålborg-12', '', 'x']),
      '1985-07-14',
      pick(['4111111111111111', '42']),
      pick(['mail bob@example.com', 'Ünïcødé 219-09-9999', 'card 4111 1111 1111 1111', 'plain words']),
      pick(['{"e":"x@example.org"}', '{}', '[1,2]']),
      pick(['{"a","219-09-9999",NULL}', '{}']),
    ];
    const values = text.map((t, i): Buffer | null => {
      if (Math.random() < 0.1) return null;
      if (format === 1 && (i === 0 || i === 3)) {
        const b = Buffer.alloc(8);
        b.writeBigInt64BE(BigInt(t));
        return b;
      }
      if (format === 1 && i === 2) return Buffer.from([0, 0, 0, 0]);
      if (format === 1 && i === 5) return Buffer.concat([Buffer.of(1), Buffer.from(t)]);
      return Buffer.from(t, i === 1 && Math.random() < 0.2 ? 'latin1' : 'utf8');
    });
    const plan = plans[format]!;
    const a = m.maskDataRow(plan, values);
    const { b, counts, r } = maskRangesOf(m, plan, values);
    assert.deepEqual(b.map((x) => x?.toString('hex') ?? null), a.values.map((x) => x?.toString('hex') ?? null), text.join(' | '));
    assert.deepEqual(counts, a.counts);
    assert.equal(r !== null, a.changed);
  }
});

test('maskRanges byte paths (token and partial of ASCII text, constants) give what maskDataRow gives, many columns in a row', () => {
  const rules: MaskingRules = {
    columnRules: [
      { pattern: 'c/public.t.tok*', cls: 'payment_card' },
      { pattern: 'c/public.t.part', cls: 'us_ssn' },
      { pattern: 'c/public.t.red', cls: 'iban' },
      { pattern: 'c/public.t.js', cls: 'iban' },
    ],
    strategies: { payment_card: { kind: 'token', scope: 'identity' }, us_ssn: { kind: 'partial' }, iban: { kind: 'redact', mask: 'R-E.D#' } },
    defaultStrategy: { kind: 'redact' },
  };
  const m = new Masker(rules, KEYS);
  // 40 token columns: their 30-byte tokens outgrow the masker's first byte scratch within one row.
  const names = [...Array.from({ length: 40 }, (_, i) => `tok${i}`), 'part', 'red', 'js', 'notes'];
  const fields = names.map((name, i) => ({ name, tableOid: 7, columnAttr: i + 1, typeOid: name === 'js' ? OID.json : OID.text, format: 0 as const }));
  const plan = m.planForRow(fields, { connection: 'c', unmask: NONE, resolveColumn: (_oid, att) => `public.t.${names[att - 1]}` });
  const pick = <T>(a: readonly T[]): T => a[Math.floor(Math.random() * a.length)]!;
  const ascii = (): string => Array.from({ length: Math.floor(Math.random() * 30) }, () => String.fromCharCode(Math.floor(Math.random() * 128))).join('');
  for (let k = 0; k < 400; k++) {
    const values = names.map((name): Buffer | null => {
      if (Math.random() < 0.05) return null;
      if (name === 'red') return Buffer.from(pick(['DE89370400440532013000', 'Ålborg', '']));
      if (name === 'js') return Buffer.from(pick(['"x"', '{"a":1}']));
      const t = pick([ascii(), ascii(), '123-45-6789', 'Ünïcødé 219-09-9999', 'x'.repeat(5000), 'card 4111 1111 1111 1111', '']);
      return Buffer.from(t, Math.random() < 0.1 ? 'latin1' : 'utf8');
    });
    const a = m.maskDataRow(plan, values);
    const { b, counts, r } = maskRangesOf(m, plan, values);
    assert.deepEqual(b.map((x) => x?.toString('hex') ?? null), a.values.map((x) => x?.toString('hex') ?? null));
    assert.deepEqual(counts, a.counts);
    assert.equal(r !== null, a.changed);
    // No clear value of a bound column survives.
    for (let i = 0; i < 40; i++) if (values[i] !== null) assert.match(b[i]!.toString('latin1'), /^tok_[a-z2-7]{26}$/);
  }
});
