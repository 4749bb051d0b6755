import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as be from './backend.ts';
import * as fx from './fixtures.ts';
import { embedded, everyPrefix, frameOf, parsesOrRejects, throwsCode } from './testing.ts';

const decoders: [string, (b: Buffer) => unknown, Buffer[]][] = [
  ['decodeAuthentication', be.decodeAuthentication, [fx.authOk.payload, fx.authMd5.payload, fx.authSasl.payload, fx.authSaslContinue.payload]],
  ['decodeParameterStatus', be.decodeParameterStatus, [fx.parameterStatus.payload]],
  ['decodeBackendKeyData', be.decodeBackendKeyData, [fx.backendKeyData.payload]],
  ['decodeReadyForQuery', be.decodeReadyForQuery, [fx.readyIdle.payload, fx.readyFailed.payload]],
  ['decodeCommandComplete', be.decodeCommandComplete, [fx.commandComplete.payload]],
  ['decodeErrorFields', be.decodeErrorFields, [fx.errorResponse.payload]],
];

test('decodeAuthentication: every request kind', () => {
  assert.deepEqual(be.decodeAuthentication(fx.authOk.payload), { kind: 'ok' });
  assert.deepEqual(be.decodeAuthentication(Buffer.from(fx.i32(3))), { kind: 'cleartext' });
  assert.deepEqual(be.decodeAuthentication(fx.authMd5.payload), { kind: 'md5', salt: Buffer.from([1, 2, 3, 4]) });
  assert.deepEqual(be.decodeAuthentication(fx.authSasl.payload), { kind: 'sasl', mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] });
  assert.deepEqual(be.decodeAuthentication(fx.authSaslContinue.payload), { kind: 'sasl-continue', data: Buffer.from('r=abc') });
  assert.deepEqual(be.decodeAuthentication(Buffer.from([...fx.i32(12), ...fx.t('v=xyz')])), { kind: 'sasl-final', data: Buffer.from('v=xyz') });
  assert.deepEqual(be.decodeAuthentication(Buffer.from(fx.i32(7))), { kind: 'unsupported', code: 7 });
  throwsCode(() => be.decodeAuthentication(Buffer.from([...fx.i32(5), 1, 2, 3])), 'GW_FRAME_MALFORMED');
  throwsCode(() => be.decodeAuthentication(Buffer.from([...fx.i32(0), 0])), 'GW_FRAME_MALFORMED');
  throwsCode(() => be.decodeAuthentication(Buffer.from([...fx.i32(10), ...fx.z('SCRAM-SHA-256')])), 'GW_FRAME_MALFORMED');
});

test('decoders: ParameterStatus, BackendKeyData, ReadyForQuery', () => {
  assert.deepEqual(be.decodeParameterStatus(fx.parameterStatus.payload), { name: 'server_version', value: '16.2' });
  assert.deepEqual(be.decodeBackendKeyData(fx.backendKeyData.payload), { processId: 4242, secretKey: -1 });
  assert.equal(be.decodeReadyForQuery(fx.readyIdle.payload), 'I');
  assert.equal(be.decodeReadyForQuery(fx.readyFailed.payload), 'E');
  assert.equal(be.decodeReadyForQuery(Buffer.from('T')), 'T');
  throwsCode(() => be.decodeReadyForQuery(Buffer.from('X')), 'GW_FRAME_MALFORMED');
  throwsCode(() => be.decodeReadyForQuery(Buffer.from('II')), 'GW_FRAME_MALFORMED');
});

test('decodeCommandComplete: row counts by tag', () => {
  const cases: [string, number | null][] = [
    ['SELECT 2', 2],
    ['SELECT 0', 0],
    ['INSERT 0 3', 3],
    ['UPDATE 2', 2],
    ['DELETE 1', 1],
    ['MERGE 2', 2],
    ['COPY 10', 10],
    ['FETCH 4', 4],
    ['MOVE 1', 1],
    ['CREATE TABLE', null],
    ['BEGIN', null],
    ['SELECT', null],
    ['INSERT 3', null],
    ['UPDATE x', null],
    ['SELECT 99999999999999999999', null],
  ];
  for (const [tag, rows] of cases) assert.deepEqual(be.decodeCommandComplete(Buffer.from([...fx.z(tag)])), { tag, rows }, tag);
  assert.deepEqual(be.decodeCommandComplete(fx.commandComplete.payload), { tag: 'SELECT 2', rows: 2 });
});

test('decodeErrorFields: ErrorResponse fixture', () => {
  assert.deepEqual(
    be.decodeErrorFields(fx.errorResponse.payload),
    new Map([
      ['S', 'ERROR'],
      ['V', 'ERROR'],
      ['C', '42P01'],
      ['M', 'relation "nope" does not exist'],
    ]),
  );
  throwsCode(() => be.decodeErrorFields(Buffer.from([0x53, ...fx.z('ERROR')])), 'GW_FRAME_MALFORMED'); // no final zero
  throwsCode(() => be.decodeErrorFields(Buffer.from([0, 0])), 'GW_FRAME_MALFORMED'); // trailing byte
});

test('backend strings are decoded leniently (non-UTF-8 client_encoding)', () => {
  assert.deepEqual(be.decodeErrorFields(Buffer.from([0x4d, 0x63, 0x61, 0x66, 0xe9, 0, 0])).get('M'), 'caf\ufffd');
});

test('every prefix of every valid payload parses or throws GW_FRAME_MALFORMED', () => {
  for (const [, decode, payloads] of decoders) for (const p of payloads) everyPrefix(p, decode);
});

test('decoders never crash on random bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 48 }), (bytes) => {
      const b = Buffer.from(bytes);
      for (const [, decode] of decoders) parsesOrRejects(() => decode(b));
    }),
    { numRuns: 2000 },
  );
});

test('decoders read only their view of a larger buffer (byteOffset)', () => {
  for (const [name, decode, payloads] of decoders) {
    for (const p of payloads) assert.deepEqual(decode(embedded(p)), decode(Buffer.from(p)), name);
  }
});

test('encoders produce the hand-written fixture bytes', () => {
  assert.deepEqual(be.encodeAuthenticationOk(), fx.authOk.bytes);
  assert.deepEqual(be.encodeAuthenticationCleartextPassword(), Buffer.from([0x52, ...fx.i32(8), ...fx.i32(3)]));
  assert.deepEqual(be.encodeParameterStatus('server_version', '16.2'), fx.parameterStatus.bytes);
  assert.deepEqual(be.encodeBackendKeyData(4242, -1), fx.backendKeyData.bytes);
  assert.deepEqual(be.encodeBackendKeyData(4242, 0xffffffff), fx.backendKeyData.bytes);
  assert.deepEqual(be.encodeReadyForQuery('I'), fx.readyIdle.bytes);
  assert.deepEqual(be.encodeReadyForQuery('E'), fx.readyFailed.bytes);
  assert.deepEqual(be.encodeErrorResponse({ severity: 'ERROR', code: '42P01', message: 'relation "nope" does not exist' }), fx.errorResponse.bytes);
});

test('encodeErrorResponse / encodeNoticeResponse → framer → decodeErrorFields', () => {
  const e = frameOf(
    be.encodeErrorResponse({ severity: 'FATAL', code: '42501', message: 'permission denied', detail: 'policy p1', hint: 'ask for approval' }),
  );
  assert.equal(e.type, be.BE.ErrorResponse);
  assert.deepEqual(
    be.decodeErrorFields(e.payload),
    new Map([
      ['S', 'FATAL'],
      ['V', 'FATAL'],
      ['C', '42501'],
      ['M', 'permission denied'],
      ['D', 'policy p1'],
      ['H', 'ask for approval'],
    ]),
  );
  const n = frameOf(be.encodeNoticeResponse({ severity: 'WARNING', code: '01000', message: 'masked 2 columns' }));
  assert.equal(n.type, be.BE.NoticeResponse);
  assert.equal(be.decodeErrorFields(n.payload).get('M'), 'masked 2 columns');
  throwsCode(() => be.encodeErrorResponse({ severity: 'ERROR', code: '4250', message: 'x' }), 'GW_INTERNAL');
  throwsCode(() => be.encodeErrorResponse({ severity: 'ERROR', code: '42501', message: 'a\0b' }), 'GW_INTERNAL');
});

test('round trips: encoders → framer → decoders', () => {
  const text = fc.string({ unit: 'grapheme', maxLength: 30 }).filter((s) => !s.includes('\0'));
  const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
  fc.assert(
    fc.property(text, text, int32, int32, fc.constantFrom('I', 'T', 'E' as const), (name, value, pid, secret, status) => {
      assert.deepEqual(be.decodeParameterStatus(frameOf(be.encodeParameterStatus(name, value)).payload), { name, value });
      assert.deepEqual(be.decodeBackendKeyData(frameOf(be.encodeBackendKeyData(pid, secret)).payload), { processId: pid, secretKey: secret });
      assert.equal(be.decodeReadyForQuery(frameOf(be.encodeReadyForQuery(status)).payload), status);
      const err = frameOf(be.encodeErrorResponse({ severity: 'ERROR', code: '42501', message: name, detail: value }));
      assert.equal(be.decodeErrorFields(err.payload).get('M'), name);
      assert.equal(be.decodeErrorFields(err.payload).get('D'), value);
    }),
  );
  assert.deepEqual(be.decodeAuthentication(frameOf(be.encodeAuthenticationOk()).payload), { kind: 'ok' });
  assert.deepEqual(be.decodeAuthentication(frameOf(be.encodeAuthenticationCleartextPassword()).payload), { kind: 'cleartext' });
});

test('BE codes are the spec bytes', () => {
  assert.deepEqual(Object.fromEntries(Object.entries(be.BE).map(([k, v]) => [k, String.fromCharCode(v)])), {
    Authentication: 'R', ParameterStatus: 'S', BackendKeyData: 'K', ReadyForQuery: 'Z', ErrorResponse: 'E',
    NoticeResponse: 'N', CommandComplete: 'C', EmptyQueryResponse: 'I', PortalSuspended: 's', RowDescription: 'T',
    DataRow: 'D', CopyInResponse: 'G', CopyOutResponse: 'H', CopyBothResponse: 'W', CopyData: 'd', CopyDone: 'c',
    NotificationResponse: 'A', ParseComplete: '1', BindComplete: '2', CloseComplete: '3', NoData: 'n',
    ParameterDescription: 't',
  });
});
