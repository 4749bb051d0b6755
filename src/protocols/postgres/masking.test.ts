import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Session } from '../../core/sessions/session-service.ts';
import type { Classification } from '../../core/classify/sql/types.ts';
import { compileRules } from '../../core/masking/engine.ts';
import { initLineage } from '../../core/masking/lineage/index.ts';
import { GatewayError } from '../../shared/errors.ts';
import { decodeDataRow, encodeDataRow } from '../../wire/postgres/rows.ts';
import { CatalogSnapshot, type CatalogRegistry, type UpstreamCatalog } from './catalog.ts';
import { coalesce, MaskingService, type Prepared, type SessionMasking } from './masking.ts';

const log = { child: () => log, debug() {}, info() {}, warn() {}, error() {} };
const SNAPSHOT = new CatalogSnapshot(
  [{ oid: 100, schema: 'public', name: 'people', kind: 'r', viewDef: null, columns: ['id', 'name', 'ssn', 'card'].map((name, i) => ({ attnum: i + 1, name, typeOid: i === 0 ? 23 : 25 })) }],
  Date.now(),
);

function service(opts: { catalog?: () => Promise<CatalogSnapshot>; guard?: boolean } = {}): MaskingService {
  const catalog = { snapshot: opts.catalog ?? (async () => SNAPSHOT), latest: SNAPSHOT, invalidate() {} } as unknown as UpstreamCatalog;
  return new MaskingService({
    rules: compileRules({
      columnRules: [
        { pattern: 'c/public.people.ssn', cls: 'us_ssn' },
        { pattern: 'c/public.people.card', cls: 'payment_card' },
      ],
      strategies: { us_ssn: { kind: 'partial' } },
      defaultStrategy: { kind: 'redact' },
    }),
    masterKey: Buffer.alloc(32, 5),
    guardPredicates: opts.guard ?? false,
    catalogs: { get: () => catalog, invalidate() {}, close: async () => {} } as unknown as CatalogRegistry,
    maxCopyRowBytes: 1 << 20,
    log: log as never,
  });
}

function session(): Session {
  return { id: 'ses_1', principal: { issuer: 'i', subject: 'bot' }, connection: { name: 'c', spec: {} }, log } as unknown as Session;
}

const cls = (flags: string[] = []): Classification => ({ statements: [{ kind: 'SelectStmt', pairs: [{ action: 'sql:read', table: 'public.people' }], flags }], fingerprint: null });
const query = (m: SessionMasking, sql: string, extra: Partial<Parameters<SessionMasking['prepare']>[0]> = {}): Promise<Prepared> =>
  m.prepare({ kind: 'query', sql, classification: cls(), unmaskable: [], searchPath: ['public'], cycle: 0, ...extra });

before(async () => {
  await initLineage();
});

test('the fast path: a principal who may unmask everything gets no masking context at all', async () => {
  const m = service().forSession(session());
  const all = ['us_ssn', 'payment_card', 'iban', 'email', 'phone', 'aba_routing', 'jwt', 'aws_access_key', 'private_key'];
  const p = await query(m, 'SELECT ssn FROM people', { unmaskable: all });
  assert.deepEqual(p, { ctx: null, inject: null });
});

test('fail closed: an unreadable catalog refuses statements while bound classes stay masked', async () => {
  const m = service({ catalog: () => Promise.reject(new GatewayError('GW_UPSTREAM_UNAVAILABLE', "the catalog of connection 'c' could not be read for masking (ECONNREFUSED)", { clientSafe: true })) }).forSession(session());
  const p = await query(m, 'SELECT name FROM people');
  assert.equal(p.refuse?.code, '58000');
  assert.match(p.refuse!.message, /catalog of connection 'c' could not be read.*nothing was sent upstream/);
  // Unmasking every bound class needs no catalog: detectors alone.
  const q = await query(m, 'SELECT name FROM people', { unmaskable: ['us_ssn', 'payment_card'] });
  assert.equal(q.refuse, undefined);
});

test('refusals: inference guard, laundering writes, pg_notify of a masked class, binary COPY of a query, fast-path calls', async () => {
  const guarded = service({ guard: true }).forSession(session());
  assert.match((await query(guarded, "SELECT id FROM people WHERE ssn LIKE '1%'")).refuse!.message, /filters, joins, sorts or groups on us_ssn, which bot may not see in clear/);
  assert.equal((await query(guarded, "SELECT id FROM people WHERE ssn LIKE '1%'", { unmaskable: ['us_ssn'] })).refuse, undefined);
  const m = service().forSession(session());
  assert.match((await query(m, 'INSERT INTO people (name) SELECT reverse(ssn) FROM people')).refuse!.message, /would copy us_ssn values into another column or table/);
  assert.match((await query(m, "SELECT pg_notify('x', card) FROM people", { classification: cls(['side_effect_function:pg_notify']) })).refuse!.message, /pg_notify would send values derived from payment_card/);
  assert.match((await query(m, 'COPY (SELECT ssn FROM people) TO STDOUT (FORMAT binary)')).refuse!.message, /binary COPY carries no column types/);
  assert.equal((await query(m, 'COPY people (id, ssn) TO STDOUT (FORMAT binary)')).refuse, undefined);
  assert.match((await m.prepare({ kind: 'fastpath', sql: '', classification: cls(), unmaskable: [], searchPath: [], cycle: 0 })).refuse!.message, /fast-path function call/);
});

test('Execute without Describe: Gatehouse describes the portal itself once, swallows the answer and plans from it', async () => {
  const m = service().forSession(session());
  m.onParse('s', 'SELECT id, ssn FROM people', ['public']);
  m.onBind('p', 's', [0]);
  const p = await m.prepare({ kind: 'execute', sql: '', portal: 'p', classification: cls(), unmaskable: [], searchPath: ['public'], cycle: 3 });
  assert.ok(p.refuse === undefined && p.ctx && p.inject);
  assert.deepEqual([...p.inject], [...Buffer.concat([Buffer.from('D'), Buffer.from([0, 0, 0, 7]), Buffer.from('Pp\0')])]);
  // The answer arrives in cycle 3: dropped, and the rows are planned with it.
  const rd = rowDescription([['id', 100, 1, 23], ['ssn', 100, 3, 25]]);
  assert.equal(m.onRowDescription(rd, null, 3), null);
  assert.equal(p.ctx.holdRow(), true);
  const row = p.ctx.maskRow(encodeDataRow([Buffer.from('1'), Buffer.from('123-45-6789')]));
  assert.ok(row.includes(Buffer.from('***-**-6789')));
  assert.deepEqual(p.ctx.counts, { us_ssn: 1 });
  // A second Execute of the same portal (fetched in pieces) needs no Describe.
  const again = await m.prepare({ kind: 'execute', sql: '', portal: 'p', classification: cls(), unmaskable: [], searchPath: ['public'], cycle: 4 });
  assert.ok(again.refuse === undefined && again.inject === null);
  // A client's own Describe in an earlier cycle that was skipped after an error does not capture later answers.
  m.onDescribe('S', 's', 5);
  m.onError(5);
  const client = rowDescription([['x', 0, 0, 25]]);
  assert.equal(m.onRowDescription(client, null, 6), client, 'not taken for a Describe answer');
});

test('error texts: detectors, unique-violation keys of bound columns, strict mode for statements reading a masked class', async () => {
  const m = service().forSession(session());
  const plain = await query(m, 'UPDATE people SET name = name');
  assert.ok(plain.refuse === undefined && plain.ctx);
  const dup = errorResponse({ S: 'ERROR', C: '23505', M: 'duplicate key value violates unique constraint "people_ssn_key"', D: 'Key (ssn)=(987654321) already exists.', s: 'public', t: 'people' });
  const masked = fields(m.maskNotice(dup, plain.ctx));
  assert.equal(masked.get('D'), 'Key (ssn)=(****) already exists.');
  assert.equal(masked.get('M'), 'duplicate key value violates unique constraint "people_ssn_key"');
  const other = errorResponse({ S: 'ERROR', C: '23505', M: 'x', D: 'Key (name)=(Ada) already exists.', s: 'public', t: 'people' });
  assert.equal(fields(m.maskNotice(other, plain.ctx)).get('D'), 'Key (name)=(Ada) already exists.');
  const strict = await query(m, 'SELECT reverse(ssn)::int FROM people');
  assert.ok(strict.refuse === undefined && strict.ctx?.strict);
  const cast = fields(m.maskNotice(errorResponse({ S: 'ERROR', C: '22P02', M: 'invalid input syntax for type integer: "9876-54-321"', W: 'line 1: 9876-54-321' }), strict.ctx));
  assert.equal(cast.get('M'), 'invalid input syntax for type integer: "****"');
  assert.match(cast.get('W')!, /masked by Gatehouse/);
  // Detectors everywhere, also without a statement.
  assert.equal(fields(m.maskNotice(errorResponse({ S: 'NOTICE', C: '00000', M: 'mail bob@example.com' }), null)).get('M'), 'mail ****');
});

test('notification payloads go through the detectors', () => {
  const m = service().forSession(session());
  const body = Buffer.concat([Buffer.from([0, 0, 0, 42]), Buffer.from('chan\0ssn 219-09-9999\0')]);
  const frame = Buffer.concat([Buffer.from('A'), int32(body.length + 4), body]);
  const out = m.maskNotification(frame);
  assert.equal(out.subarray(5).toString('latin1'), '\0\0\0*chan\0ssn ***-**-9999\0');
  assert.equal(out.readInt32BE(1), out.length - 1);
});

test('DataRow rewriting: the same values as the generic engine path, unmasked values byte for byte, rewritten rows contiguous for coalesce', async () => {
  const m = service().forSession(session());
  const p = await query(m, 'SELECT id, name, ssn, card FROM people');
  assert.ok(p.refuse === undefined && p.ctx);
  m.onRowDescription(rowDescription([['id', 100, 1, 23], ['name', 100, 2, 25], ['ssn', 100, 3, 25], ['card', 100, 4, 25]]), p.ctx, 0);
  const plan = m.masker.planForRow(
    [1, 2, 3, 4].map((att) => ({ name: String(att), tableOid: 100, columnAttr: att, typeOid: att === 1 ? 23 : 25, format: 0 as const })),
    { connection: 'c', unmask: new Set(), resolveColumn: (oid, att) => SNAPSHOT.columnName(oid, att) },
  );
  const samples: (string | null)[][] = [
    ['1', 'Ada', '123-45-6789', '4111111111111111'],
    ['2', 'mail bob@example.com', null, ''],
    ['3', 'Ünïcødé 219-09-9999', 'Ålborg-12', 'x'.repeat(3000)],
    ['4', null, '\t1\n', '42'],
  ];
  const out: Buffer[] = [];
  for (let k = 0; k < 200; k++) {
    const values = samples[k % samples.length]!.map((v) => (v === null ? null : Buffer.from(v)));
    const frame = encodeDataRow(values);
    const got: Buffer = p.ctx.maskRow(frame);
    out.push(got);
    const want = encodeDataRow(m.masker.maskDataRow(plan, values).values);
    assert.deepEqual(got, want, `row ${k}`);
    assert.deepEqual(decodeDataRow(got.subarray(5))[0], values[0]);
  }
  // Short rewritten rows are carved one after another from one slab: they coalesce into few segments.
  assert.ok(coalesce(out).length < 10);
  assert.deepEqual(Buffer.concat(coalesce(out)), Buffer.concat(out));
});

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function rowDescription(cols: [string, number, number, number][]): Buffer {
  const parts = [Buffer.from([0, cols.length])];
  for (const [name, oid, att, type] of cols) {
    const b = Buffer.alloc(18);
    b.writeUInt32BE(oid, 0);
    b.writeInt16BE(att, 4);
    b.writeUInt32BE(type, 6);
    b.writeInt16BE(-1, 10);
    b.writeInt32BE(-1, 12);
    b.writeInt16BE(0, 16);
    parts.push(Buffer.from(name + '\0'), b);
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from('T'), int32(body.length + 4), body]);
}

function errorResponse(f: Record<string, string>): Buffer {
  const body = Buffer.concat([...Object.entries(f).map(([k, v]) => Buffer.from(`${k}${v}\0`)), Buffer.from([0])]);
  return Buffer.concat([Buffer.from('E'), int32(body.length + 4), body]);
}

function fields(frame: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 5;
  while (frame[pos] !== 0) {
    const end = frame.indexOf(0, pos + 1);
    out.set(String.fromCharCode(frame[pos]!), frame.subarray(pos + 1, end).toString());
    pos = end + 1;
  }
  return out;
}
