/**
 * Test-only fixtures: real protocol byte sequences written by hand from
 * https://www.postgresql.org/docs/current/protocol-message-formats.html,
 * independently of the encoders under test. Lengths are literal and were
 * counted by hand (the Int32 length counts itself, never the type byte).
 * Each fixture records its expected frames; the streams are the
 * concatenations that framer.test.ts splits at every byte offset.
 */

export type Bytes = number[];

/** ASCII text as bytes (fixtures use ASCII only). */
export function t(s: string): Bytes {
  return [...s].map((c) => c.charCodeAt(0));
}
/** NUL-terminated ASCII ("String" in the spec). */
export function z(s: string): Bytes {
  return [...t(s), 0];
}
export function i16(n: number): Bytes {
  return [(n >> 8) & 0xff, n & 0xff];
}
export function i32(n: number): Bytes {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

export interface Fixture {
  name: string;
  /** The whole message as on the wire. */
  bytes: Buffer;
  /** Type byte, or null for startup-phase packets. */
  type: number | null;
  /** The body after type and length. */
  payload: Buffer;
}

function msg(name: string, type: string | null, length: number, body: Bytes): Fixture {
  const header = type === null ? i32(length) : [type.charCodeAt(0), ...i32(length)];
  return { name, bytes: Buffer.from([...header, ...body]), type: type === null ? null : type.charCodeAt(0), payload: Buffer.from(body) };
}

// ---- Startup phase (no type byte). ----

/** SSLRequest: length 8, code 80877103 = 0x04D2162F. */
export const sslRequest = msg('SSLRequest', null, 8, [0x04, 0xd2, 0x16, 0x2f]);

/** StartupMessage 3.0: 4 + 4 + user(5) alice(6) database(9) app(4) application_name(17) psql(5) + 1 = 55. */
export const startupMessage = msg('StartupMessage', null, 55, [
  0x00, 0x03, 0x00, 0x00,
  ...z('user'), ...z('alice'), ...z('database'), ...z('app'), ...z('application_name'), ...z('psql'), 0,
]);

/** CancelRequest: length 16, code 80877102 = 0x04D2162E, pid 12345, secret 0xDEADBEEF. */
export const cancelRequest = msg('CancelRequest', null, 16, [0x04, 0xd2, 0x16, 0x2e, ...i32(12345), 0xde, 0xad, 0xbe, 0xef]);

// ---- Frontend typed messages. ----

/** Query "SELECT 1": 4 + 9. */
export const query = msg('Query', 'Q', 13, z('SELECT 1'));

/** Parse s1 "SELECT $1::int" [int4=23]: 4 + 3 + 15 + 2 + 4 = 28. */
export const parse = msg('Parse', 'P', 28, [...z('s1'), ...z('SELECT $1::int'), ...i16(1), ...i32(23)]);

/** Bind portal "" stmt s1, formats [1], one binary int4 42, result formats [1]: 4+1+3+2+2+2+4+4+2+2 = 26. */
export const bind = msg('Bind', 'B', 26, [
  ...z(''), ...z('s1'), ...i16(1), ...i16(1), ...i16(1), ...i32(4), ...i32(42), ...i16(1), ...i16(1),
]);

/** Describe portal "": 4 + 1 + 1. */
export const describe = msg('Describe', 'D', 6, [0x50, 0]);

/** Execute portal "" all rows: 4 + 1 + 4. */
export const execute = msg('Execute', 'E', 9, [0, ...i32(0)]);

export const sync = msg('Sync', 'S', 4, []);

/**
 * Bind p1/s2 with formats [text, binary], params [NULL, 0x0102], result
 * formats [1,0,1]: 4 + 3 + 3 + 2 + 4 + 2 + 4 + (4+2) + 2 + 6 = 36.
 */
export const bindNull = msg('Bind with NULL', 'B', 36, [
  ...z('p1'), ...z('s2'), ...i16(2), ...i16(0), ...i16(1), ...i16(2), ...i32(-1), ...i32(2), 0x01, 0x02,
  ...i16(3), ...i16(1), ...i16(0), ...i16(1),
]);

/** Close statement s2: 4 + 1 + 3. */
export const close = msg('Close', 'C', 8, [0x53, ...z('s2')]);

/** CopyData "1\tbob\n" (6 bytes): 4 + 6. */
export const copyData = msg('CopyData', 'd', 10, [...t('1\tbob\n')]);
export const copyDone = msg('CopyDone', 'c', 4, []);

/** PasswordMessage "secret": 4 + 7. */
export const password = msg('PasswordMessage', 'p', 11, z('secret'));

export const terminate = msg('Terminate', 'X', 4, []);

// ---- Backend messages. ----

export const authOk = msg('AuthenticationOk', 'R', 8, i32(0));
/** AuthenticationMD5Password with salt 01 02 03 04: 4 + 4 + 4. */
export const authMd5 = msg('AuthenticationMD5Password', 'R', 12, [...i32(5), 1, 2, 3, 4]);
/** AuthenticationSASL [SCRAM-SHA-256-PLUS, SCRAM-SHA-256]: 4 + 4 + 19 + 14 + 1 = 42. */
export const authSasl = msg('AuthenticationSASL', 'R', 42, [...i32(10), ...z('SCRAM-SHA-256-PLUS'), ...z('SCRAM-SHA-256'), 0]);
/** AuthenticationSASLContinue "r=abc": 4 + 4 + 5. */
export const authSaslContinue = msg('AuthenticationSASLContinue', 'R', 13, [...i32(11), ...t('r=abc')]);
/** ParameterStatus server_version 16.2: 4 + 15 + 5. */
export const parameterStatus = msg('ParameterStatus', 'S', 24, [...z('server_version'), ...z('16.2')]);
/** BackendKeyData pid 4242, secret -1 (0xFFFFFFFF). */
export const backendKeyData = msg('BackendKeyData', 'K', 12, [...i32(4242), ...i32(-1)]);
export const readyIdle = msg('ReadyForQuery', 'Z', 5, t('I'));

/**
 * RowDescription, 2 fields: field = name, table oid, column attnum, type oid,
 * typlen, typmod, format (Int32 Int16 Int32 Int16 Int32 Int16 = 18 bytes).
 * "id" int4: 3 + 18 = 21; "name" text: 5 + 18 = 23; total 4 + 2 + 21 + 23 = 50.
 */
export const rowDescription = msg('RowDescription', 'T', 50, [
  ...i16(2),
  ...z('id'), ...i32(16384), ...i16(1), ...i32(23), ...i16(4), ...i32(-1), ...i16(0),
  ...z('name'), ...i32(16384), ...i16(2), ...i32(25), ...i16(-1), ...i32(-1), ...i16(0),
]);

/** DataRow ["1", NULL]: 4 + 2 + (4+1) + 4 = 15. */
export const dataRow1 = msg('DataRow 1', 'D', 15, [...i16(2), ...i32(1), ...t('1'), ...i32(-1)]);
/** DataRow ["2", "bob"]: 4 + 2 + (4+1) + (4+3) = 18. */
export const dataRow2 = msg('DataRow 2', 'D', 18, [...i16(2), ...i32(1), ...t('2'), ...i32(3), ...t('bob')]);
/** CommandComplete "SELECT 2": 4 + 9. */
export const commandComplete = msg('CommandComplete', 'C', 13, z('SELECT 2'));

/**
 * ErrorResponse S=ERROR V=ERROR C=42P01 M=relation "nope" does not exist:
 * 4 + 7 + 7 + 7 + (1 + 30 + 1) + 1 = 58.
 */
export const errorResponse = msg('ErrorResponse', 'E', 58, [
  0x53, ...z('ERROR'), 0x56, ...z('ERROR'), 0x43, ...z('42P01'), 0x4d, ...z('relation "nope" does not exist'), 0,
]);
export const readyFailed = msg('ReadyForQuery (failed tx)', 'Z', 5, t('E'));
export const emptyQuery = msg('EmptyQueryResponse', 'I', 4, []);

/** Startup-phase stream of one connection: SSLRequest, then StartupMessage. */
export const startupStream = [sslRequest, startupMessage];

/** Extended-protocol pipeline and other client traffic after startup. */
export const frontendStream = [password, query, parse, bind, describe, execute, sync, bindNull, close, copyData, copyDone, sync, terminate];

/** A server's answer: authentication, startup, a query result and an error. */
export const backendStream = [
  authSasl, authSaslContinue, authOk, parameterStatus, backendKeyData, readyIdle,
  rowDescription, dataRow1, dataRow2, commandComplete, readyIdle, emptyQuery, errorResponse, readyFailed,
];

export function concat(fixtures: Fixture[]): Buffer {
  return Buffer.concat(fixtures.map((f) => f.bytes));
}
