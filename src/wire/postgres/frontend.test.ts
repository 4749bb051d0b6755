import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as fe from './frontend.ts';
import * as fx from './fixtures.ts';
import { embedded, everyPrefix, frameOf, parsesOrRejects, startupPayloadOf, throwsCode } from './testing.ts';

const decoders: [string, (b: Buffer) => unknown, Buffer[]][] = [
  ['parseStartup', fe.parseStartup, [fx.startupMessage.payload, fx.sslRequest.payload, fx.cancelRequest.payload]],
  ['decodePassword', fe.decodePassword, [fx.password.payload]],
  ['decodeQuery', fe.decodeQuery, [fx.query.payload]],
  ['decodeParse', fe.decodeParse, [fx.parse.payload]],
  ['decodeBind', fe.decodeBind, [fx.bind.payload, fx.bindNull.payload]],
  ['decodeExecute', fe.decodeExecute, [fx.execute.payload]],
  ['decodeDescribe', fe.decodeDescribe, [fx.describe.payload]],
  ['decodeClose', fe.decodeClose, [fx.close.payload]],
];

test('parseStartup: StartupMessage, SSLRequest, GSSENCRequest, CancelRequest', () => {
  assert.deepEqual(fe.parseStartup(fx.startupMessage.payload), {
    kind: 'startup',
    major: 3,
    minor: 0,
    params: new Map([
      ['user', 'alice'],
      ['database', 'app'],
      ['application_name', 'psql'],
    ]),
  });
  assert.deepEqual(fe.parseStartup(fx.sslRequest.payload), { kind: 'ssl' });
  assert.deepEqual(fe.parseStartup(Buffer.from([0x04, 0xd2, 0x16, 0x30])), { kind: 'gssenc' });
  assert.deepEqual(fe.parseStartup(fx.cancelRequest.payload), { kind: 'cancel', processId: 12345, secretKey: 0xdeadbeef | 0 });
});

test('parseStartup: versions', () => {
  // 3.2 (libpq 18) is reported so the adapter can answer NegotiateProtocolVersion.
  const v32 = fe.parseStartup(Buffer.from([0, 3, 0, 2, ...fx.z('user'), ...fx.z('a'), 0]));
  assert.equal(v32.kind === 'startup' && v32.minor, 2);
  throwsCode(() => fe.parseStartup(Buffer.from([0, 2, 0, 0, 0])), 'GW_PROTOCOL_UNSUPPORTED', /2\.0/);
  throwsCode(() => fe.parseStartup(Buffer.from([0x04, 0xd2, 0x16, 0x31])), 'GW_PROTOCOL_UNSUPPORTED');
  throwsCode(() => fe.parseStartup(Buffer.from([0xff, 0xff, 0, 0, 0])), 'GW_PROTOCOL_UNSUPPORTED');
});

test('parseStartup: malformed packets', () => {
  const v3 = [0, 3, 0, 0];
  throwsCode(() => fe.parseStartup(Buffer.from([...v3, ...fx.z('user'), ...fx.z('a')])), 'GW_FRAME_MALFORMED'); // no terminator
  throwsCode(() => fe.parseStartup(Buffer.from([...v3, ...fx.z('user'), ...fx.t('a')])), 'GW_FRAME_MALFORMED'); // unterminated value
  throwsCode(() => fe.parseStartup(Buffer.from([...v3, ...fx.z('user'), ...fx.z('a'), 0, 0])), 'GW_FRAME_MALFORMED'); // trailing byte
  throwsCode(
    () => fe.parseStartup(Buffer.from([...v3, ...fx.z('user'), ...fx.z('a'), ...fx.z('user'), ...fx.z('b'), 0])),
    'GW_FRAME_MALFORMED',
    /repeats parameter "user"/,
  );
  throwsCode(() => fe.parseStartup(Buffer.from([0x04, 0xd2, 0x16, 0x2f, 0])), 'GW_FRAME_MALFORMED'); // SSLRequest + 1
  throwsCode(() => fe.parseStartup(Buffer.from([...fx.cancelRequest.payload, 0])), 'GW_FRAME_MALFORMED'); // 3.2-style long key
  throwsCode(() => fe.parseStartup(Buffer.from([...v3, 0x75, 0xff, 0, 0x61, 0, 0])), 'GW_FRAME_MALFORMED'); // invalid UTF-8
});

test('decoders: Query, Parse, Bind, Describe, Execute, Close, PasswordMessage', () => {
  assert.equal(fe.decodeQuery(fx.query.payload), 'SELECT 1');
  assert.equal(fe.decodePassword(fx.password.payload), 'secret');
  assert.deepEqual(fe.decodeParse(fx.parse.payload), { name: 's1', query: 'SELECT $1::int', paramTypes: [23] });
  assert.deepEqual(fe.decodeBind(fx.bind.payload), {
    portal: '',
    statement: 's1',
    paramFormats: [1],
    params: [Buffer.from([0, 0, 0, 42])],
    resultFormats: [1],
  });
  assert.deepEqual(fe.decodeDescribe(fx.describe.payload), { target: 'P', name: '' });
  assert.deepEqual(fe.decodeExecute(fx.execute.payload), { portal: '', maxRows: 0 });
  assert.deepEqual(fe.decodeClose(fx.close.payload), { target: 'S', name: 's2' });
});

test('decodeBind: NULL parameter and binary formats', () => {
  assert.deepEqual(fe.decodeBind(fx.bindNull.payload), {
    portal: 'p1',
    statement: 's2',
    paramFormats: [0, 1],
    params: [null, Buffer.from([1, 2])],
    resultFormats: [1, 0, 1],
  });
});

test('decodeBind: inconsistent counts and lengths', () => {
  const head = [...fx.z(''), ...fx.z('')];
  // 2 formats for 1 parameter
  throwsCode(() => fe.decodeBind(Buffer.from([...head, ...fx.i16(2), 0, 0, 0, 0, ...fx.i16(1), ...fx.i32(-1), 0, 0])), 'GW_FRAME_MALFORMED');
  // length -2
  throwsCode(() => fe.decodeBind(Buffer.from([...head, 0, 0, ...fx.i16(1), ...fx.i32(-2), 0, 0])), 'GW_FRAME_MALFORMED');
  // length past the end of the payload
  throwsCode(() => fe.decodeBind(Buffer.from([...head, 0, 0, ...fx.i16(1), ...fx.i32(1000), 1, 2, 0, 0])), 'GW_FRAME_MALFORMED');
  // 65535 parameters announced, none present (count read unsigned, as the server does)
  throwsCode(() => fe.decodeBind(Buffer.from([...head, 0, 0, 0xff, 0xff])), 'GW_FRAME_MALFORMED');
});

test('decoders reject trailing bytes, bad targets and invalid UTF-8', () => {
  throwsCode(() => fe.decodeQuery(Buffer.from([...fx.z('SELECT 1'), 0])), 'GW_FRAME_MALFORMED');
  throwsCode(() => fe.decodeQuery(Buffer.from([0x53, 0xc3, 0x28, 0])), 'GW_FRAME_MALFORMED');
  throwsCode(() => fe.decodeDescribe(Buffer.from([0x58, 0])), 'GW_FRAME_MALFORMED', /target 0x58/);
  throwsCode(() => fe.decodeExecute(Buffer.from([0, 0, 0, 0, 0, 0])), 'GW_FRAME_MALFORMED');
  // A BOM is text the server will see: it must survive decoding.
  assert.equal(fe.decodeQuery(Buffer.from([0xef, 0xbb, 0xbf, 0x78, 0])), '\ufeffx');
});

test('every prefix of every valid payload parses or throws GW_FRAME_MALFORMED', () => {
  for (const [name, decode, payloads] of decoders) {
    const codes = name === 'parseStartup' ? ['GW_FRAME_MALFORMED', 'GW_PROTOCOL_UNSUPPORTED'] as const : (['GW_FRAME_MALFORMED'] as const);
    for (const p of payloads) everyPrefix(p, decode, [...codes]);
  }
});

test('decoders never crash on random bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const b = Buffer.from(bytes);
      for (const [, decode] of decoders) parsesOrRejects(() => decode(b), ['GW_FRAME_MALFORMED', 'GW_PROTOCOL_UNSUPPORTED']);
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
  assert.deepEqual(fe.encodeStartup({ user: 'alice', database: 'app', application_name: 'psql' }), fx.startupMessage.bytes);
  assert.deepEqual(fe.encodeSSLRequest(), fx.sslRequest.bytes);
  assert.deepEqual(fe.encodeCancelRequest(12345, 0xdeadbeef), fx.cancelRequest.bytes);
  assert.deepEqual(fe.encodeCancelRequest(12345, 0xdeadbeef | 0), fx.cancelRequest.bytes);
  assert.deepEqual(fe.encodeQuery('SELECT 1'), fx.query.bytes);
  assert.deepEqual(fe.encodePassword('secret'), fx.password.bytes);
  assert.deepEqual(fe.encodeSync(), fx.sync.bytes);
  assert.deepEqual(fe.encodeTerminate(), fx.terminate.bytes);
  // SASLInitialResponse: 4 + "SCRAM-SHA-256\0"(14) + Int32(4) + 11 = 33
  assert.deepEqual(
    fe.encodeSASLInitialResponse('SCRAM-SHA-256', Buffer.from('n,,n=,r=abc')),
    Buffer.from([0x70, ...fx.i32(33), ...fx.z('SCRAM-SHA-256'), ...fx.i32(11), ...fx.t('n,,n=,r=abc')]),
  );
  // SASLResponse: raw data, 4 + 6
  assert.deepEqual(fe.encodeSASLResponse(Buffer.from('c=biws')), Buffer.from([0x70, ...fx.i32(10), ...fx.t('c=biws')]));
});

test('encoders refuse strings that would break framing', () => {
  throwsCode(() => fe.encodeQuery('SELECT 1\0; DROP TABLE t'), 'GW_INTERNAL');
  throwsCode(() => fe.encodeStartup({ user: 'a\0b' }), 'GW_INTERNAL');
  throwsCode(() => fe.encodeCancelRequest(2 ** 32, 1), 'GW_INTERNAL');
});

const text = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('\0'));

test('round trip: encodeQuery / encodePassword → framer → decoder', () => {
  fc.assert(
    fc.property(text, (s) => {
      const q = frameOf(fe.encodeQuery(s));
      assert.equal(q.type, fe.FE.Query);
      assert.equal(fe.decodeQuery(q.payload), s);
      const p = frameOf(fe.encodePassword(s));
      assert.equal(p.type, fe.FE.Password);
      assert.equal(fe.decodePassword(p.payload), s);
    }),
  );
});

test('round trip: encodeStartup / encodeSSLRequest / encodeCancelRequest → parseStartup', () => {
  fc.assert(
    fc.property(
      fc.dictionary(text.filter((k) => k !== ''), text, { maxKeys: 6 }),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      (params, pid, secret) => {
        const parsed = fe.parseStartup(startupPayloadOf(fe.encodeStartup(params)));
        assert.deepEqual(parsed, { kind: 'startup', major: 3, minor: 0, params: new Map(Object.entries(params)) });
        assert.deepEqual(fe.parseStartup(startupPayloadOf(fe.encodeCancelRequest(pid, secret))), { kind: 'cancel', processId: pid, secretKey: secret });
      },
    ),
  );
  assert.deepEqual(fe.parseStartup(startupPayloadOf(fe.encodeSSLRequest())), { kind: 'ssl' });
});

test('FE codes are the spec bytes', () => {
  assert.deepEqual(
    Object.fromEntries(Object.entries(fe.FE).map(([k, v]) => [k, String.fromCharCode(v)])),
    { Query: 'Q', Parse: 'P', Bind: 'B', Execute: 'E', Describe: 'D', Close: 'C', Sync: 'S', Flush: 'H', Terminate: 'X', CopyData: 'd', CopyDone: 'c', CopyFail: 'f', FunctionCall: 'F', Password: 'p' },
  );
});

test('encodeParse round-trips through decodeParse, byte for byte with the spec layout', () => {
  const m = fe.encodeParse('s1', 'SELECT $1', [23]);
  // 'P', Int32 length 23 (4 + 3 + 10 + 2 + 4), "s1\0", "SELECT $1\0", Int16 1, Int32 23
  assert.deepEqual(m, Buffer.from('500000001773310053454c45435420243100000100000017', 'hex'));
  assert.deepEqual(fe.decodeParse(m.subarray(5)), { name: 's1', query: 'SELECT $1', paramTypes: [23] });
  assert.deepEqual(fe.decodeParse(fe.encodeParse('', 'x').subarray(5)), { name: '', query: 'x', paramTypes: [] });
});
