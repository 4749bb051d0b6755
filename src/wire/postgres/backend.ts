/**
 * Backend messages (sent by servers): decoders for what the upstream sends
 * the gateway, and encoders for what the gateway says to clients itself
 * (authentication requests, "ready", denials as ErrorResponse).
 * Formats: https://www.postgresql.org/docs/current/protocol-message-formats.html
 *
 * Backend strings are decoded leniently (invalid UTF-8 becomes U+FFFD): they
 * are only displayed or logged, and a server whose client_encoding is not
 * UTF8 may send other bytes. Structure is still checked strictly.
 */
import { GatewayError } from '../../shared/errors.ts';
import { PgReader, malformed } from './reader.ts';
import { PgWriter } from './writer.ts';

/** Backend message type bytes. */
export const BE = {
  Authentication: 0x52, // 'R'
  ParameterStatus: 0x53, // 'S'
  BackendKeyData: 0x4b, // 'K'
  ReadyForQuery: 0x5a, // 'Z'
  ErrorResponse: 0x45, // 'E'
  NoticeResponse: 0x4e, // 'N'
  CommandComplete: 0x43, // 'C'
  EmptyQueryResponse: 0x49, // 'I'
  PortalSuspended: 0x73, // 's'
  RowDescription: 0x54, // 'T'
  DataRow: 0x44, // 'D'
  CopyInResponse: 0x47, // 'G'
  CopyOutResponse: 0x48, // 'H'
  CopyBothResponse: 0x57, // 'W'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  NotificationResponse: 0x41, // 'A'
  ParseComplete: 0x31, // '1'
  BindComplete: 0x32, // '2'
  CloseComplete: 0x33, // '3'
  NoData: 0x6e, // 'n'
  ParameterDescription: 0x74, // 't'
} as const;

/** Int32 request codes of the Authentication message. */
const AUTH_OK = 0;
const AUTH_CLEARTEXT = 3;
const AUTH_MD5 = 5;
const AUTH_SASL = 10;
const AUTH_SASL_CONTINUE = 11;
const AUTH_SASL_FINAL = 12;

export type AuthenticationRequest =
  | { kind: 'ok' }
  | { kind: 'cleartext' }
  | { kind: 'md5'; salt: Buffer }
  | { kind: 'sasl'; mechanisms: string[] }
  | { kind: 'sasl-continue'; data: Buffer }
  | { kind: 'sasl-final'; data: Buffer }
  /** KerberosV5 (2), GSS (7), GSSContinue (8), SSPI (9) or anything newer: the gateway does not speak them. */
  | { kind: 'unsupported'; code: number };

/** Authentication* messages ('R'). Buffers alias the payload. */
export function decodeAuthentication(payload: Buffer): AuthenticationRequest {
  const r = new PgReader(payload, 'Authentication', false);
  const code = r.int32();
  switch (code) {
    case AUTH_OK:
      r.end();
      return { kind: 'ok' };
    case AUTH_CLEARTEXT:
      r.end();
      return { kind: 'cleartext' };
    case AUTH_MD5: {
      const salt = r.bytes(4);
      r.end();
      return { kind: 'md5', salt };
    }
    case AUTH_SASL: {
      // A list of mechanism names, each a String, ended by an empty String.
      const mechanisms: string[] = [];
      for (let m = r.cstring(); m !== ''; m = r.cstring()) mechanisms.push(m);
      r.end();
      return { kind: 'sasl', mechanisms };
    }
    case AUTH_SASL_CONTINUE:
      return { kind: 'sasl-continue', data: r.rest() };
    case AUTH_SASL_FINAL:
      return { kind: 'sasl-final', data: r.rest() };
    default:
      return { kind: 'unsupported', code };
  }
}

export function decodeParameterStatus(payload: Buffer): { name: string; value: string } {
  const r = new PgReader(payload, 'ParameterStatus', false);
  const name = r.cstring();
  const value = r.cstring();
  r.end();
  return { name, value };
}

/** BackendKeyData in its protocol 3.0 form (Int32 key); the gateway asks upstream for 3.0. */
export function decodeBackendKeyData(payload: Buffer): { processId: number; secretKey: number } {
  const r = new PgReader(payload, 'BackendKeyData', false);
  const processId = r.int32();
  const secretKey = r.int32();
  r.end();
  return { processId, secretKey };
}

export type TransactionStatus = 'I' | 'T' | 'E';

/** ReadyForQuery: 'I' idle, 'T' in a transaction block, 'E' in a failed transaction block. */
export function decodeReadyForQuery(payload: Buffer): TransactionStatus {
  const r = new PgReader(payload, 'ReadyForQuery', false);
  const s = r.byte();
  r.end();
  if (s === 0x49) return 'I';
  if (s === 0x54) return 'T';
  if (s === 0x45) return 'E';
  throw malformed(`ReadyForQuery message has invalid status 0x${s.toString(16)}`);
}

/**
 * Row-count tags of CommandComplete (see the message's description in the
 * spec): "INSERT oid rows" (oid is always 0 since PG 12) and "<TAG> rows".
 */
const ROW_COUNT_TAG = /^(?:INSERT \d+|SELECT|UPDATE|DELETE|MERGE|COPY|FETCH|MOVE) (\d+)$/;

export function decodeCommandComplete(payload: Buffer): { tag: string; rows: number | null } {
  const r = new PgReader(payload, 'CommandComplete', false);
  const tag = r.cstring();
  r.end();
  const m = ROW_COUNT_TAG.exec(tag);
  const rows = m === null ? null : Number(m[1]);
  return { tag, rows: rows !== null && Number.isSafeInteger(rows) ? rows : null };
}

/**
 * ErrorResponse / NoticeResponse body: (Byte1 field code, String value)* then
 * a zero byte. Keys are the field code characters ('S', 'V', 'C', 'M', 'D',
 * 'H', 'P', ...; https://www.postgresql.org/docs/current/protocol-error-fields.html).
 */
export function decodeErrorFields(payload: Buffer): Map<string, string> {
  const r = new PgReader(payload, 'ErrorResponse/NoticeResponse', false);
  const fields = new Map<string, string>();
  for (let code = r.byte(); code !== 0; code = r.byte()) {
    fields.set(String.fromCharCode(code), r.cstring());
  }
  r.end();
  return fields;
}

// ---- Encoders: the gateway speaking as a server to its clients. ----

export interface ErrorFields {
  severity: 'ERROR' | 'FATAL' | 'PANIC';
  /** SQLSTATE, e.g. 42501 insufficient_privilege. */
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

export interface NoticeFields {
  severity: 'NOTICE' | 'WARNING' | 'INFO';
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;
const SEVERITIES = new Set(['ERROR', 'FATAL', 'PANIC', 'NOTICE', 'WARNING', 'INFO']);

function encodeFields(type: number, f: ErrorFields | NoticeFields): Buffer {
  if (!SQLSTATE.test(f.code)) throw new GatewayError('GW_INTERNAL', `invalid SQLSTATE "${f.code}"`);
  if (!SEVERITIES.has(f.severity)) throw new GatewayError('GW_INTERNAL', `invalid severity "${f.severity}"`);
  // 'S' is localized in real servers and 'V' (since 9.6) never is; clients
  // such as libpq and node-postgres read either, so send both.
  const w = new PgWriter();
  w.int8(0x53).cstring(f.severity); // S
  w.int8(0x56).cstring(f.severity); // V
  w.int8(0x43).cstring(f.code); // C
  w.int8(0x4d).cstring(f.message); // M
  if (f.detail !== undefined) w.int8(0x44).cstring(f.detail); // D
  if (f.hint !== undefined) w.int8(0x48).cstring(f.hint); // H
  return w.int8(0).finish(type);
}

export function encodeErrorResponse(f: ErrorFields): Buffer {
  return encodeFields(BE.ErrorResponse, f);
}

export function encodeNoticeResponse(f: NoticeFields): Buffer {
  return encodeFields(BE.NoticeResponse, f);
}

export function encodeAuthenticationOk(): Buffer {
  return new PgWriter().int32(AUTH_OK).finish(BE.Authentication);
}

export function encodeAuthenticationCleartextPassword(): Buffer {
  return new PgWriter().int32(AUTH_CLEARTEXT).finish(BE.Authentication);
}

export function encodeParameterStatus(name: string, value: string): Buffer {
  return new PgWriter().cstring(name).cstring(value).finish(BE.ParameterStatus);
}

export function encodeBackendKeyData(processId: number, secretKey: number): Buffer {
  return new PgWriter().int32(processId).int32(secretKey).finish(BE.BackendKeyData);
}

export function encodeReadyForQuery(status: TransactionStatus): Buffer {
  const code = status === 'I' ? 0x49 : status === 'T' ? 0x54 : status === 'E' ? 0x45 : -1;
  if (code === -1) throw new GatewayError('GW_INTERNAL', `invalid transaction status "${String(status)}"`);
  return new PgWriter().int8(code).finish(BE.ReadyForQuery);
}
