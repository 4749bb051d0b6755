/**
 * Frontend messages (sent by clients): decoders for what clients send to the
 * gateway, and encoders for what the gateway sends upstream as a client.
 * Formats: https://www.postgresql.org/docs/current/protocol-message-formats.html
 *
 * Decoders are strict like the server (exact lengths, terminators, no trailing
 * bytes, valid UTF-8): the gateway must never read a message differently from
 * how Postgres will, or policy would judge one statement while another runs.
 * Returned Buffers (Bind parameters) alias the payload; copy them to retain
 * them beyond the payload's lifetime.
 */
import { GatewayError } from '../../shared/errors.ts';
import { PgReader, malformed } from './reader.ts';
import { PgWriter, emptyMessage } from './writer.ts';

/** Frontend message type bytes. */
export const FE = {
  Query: 0x51, // 'Q'
  Parse: 0x50, // 'P'
  Bind: 0x42, // 'B'
  Execute: 0x45, // 'E'
  Describe: 0x44, // 'D'
  Close: 0x43, // 'C'
  Sync: 0x53, // 'S'
  Flush: 0x48, // 'H'
  Terminate: 0x58, // 'X'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyFail: 0x66, // 'f'
  FunctionCall: 0x46, // 'F'
  /** PasswordMessage, and also SASLInitialResponse / SASLResponse / GSSResponse. */
  Password: 0x70, // 'p'
} as const;

/** Startup-phase request codes (Int32 in place of the protocol version). */
export const PROTOCOL_3_0 = 196608; // 3 << 16 | 0
export const SSL_REQUEST_CODE = 80877103; // 1234 << 16 | 5679
export const GSSENC_REQUEST_CODE = 80877104; // 1234 << 16 | 5680
export const CANCEL_REQUEST_CODE = 80877102; // 1234 << 16 | 5678

export type StartupPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; processId: number; secretKey: number }
  | { kind: 'startup'; major: number; minor: number; params: Map<string, string> };

/**
 * Parses the payload of a startup-phase packet (after its Int32 length).
 *
 * Any 3.x version is accepted and reported, as the server does: a client
 * asking for a newer minor (e.g. 3.2 from libpq 18) must be answered with
 * NegotiateProtocolVersion by the adapter, not rejected. Other majors throw
 * GW_PROTOCOL_UNSUPPORTED. The CancelRequest key is the 3.0 Int32 form; the
 * variable-length keys of protocol 3.2 only occur if the gateway issued them.
 */
export function parseStartup(payload: Buffer): StartupPacket {
  const r = new PgReader(payload, 'startup', true);
  const code = r.int32();
  switch (code) {
    case SSL_REQUEST_CODE:
      r.end();
      return { kind: 'ssl' };
    case GSSENC_REQUEST_CODE:
      r.end();
      return { kind: 'gssenc' };
    case CANCEL_REQUEST_CODE: {
      const processId = r.int32();
      const secretKey = r.int32();
      r.end();
      return { kind: 'cancel', processId, secretKey };
    }
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== 3) {
    throw new GatewayError('GW_PROTOCOL_UNSUPPORTED', `unsupported frontend protocol ${major}.${minor}: server supports 3.0`, {
      clientSafe: true,
    });
  }
  // Name/value String pairs ended by a single NUL, which must be the last byte.
  const params = new Map<string, string>();
  for (;;) {
    const name = r.cstring();
    if (name === '') break;
    const value = r.cstring();
    // Postgres lets the last duplicate win; rejecting duplicates keeps the
    // gateway from authorising one "user"/"database" while another is used.
    if (params.has(name)) throw malformed(`startup packet repeats parameter "${name}"`);
    params.set(name, value);
  }
  r.end();
  return { kind: 'startup', major, minor, params };
}

/** PasswordMessage: the password (or md5 hash) as a String. */
export function decodePassword(payload: Buffer): string {
  const r = new PgReader(payload, 'PasswordMessage', true);
  const s = r.cstring();
  r.end();
  return s;
}

/** Query (simple query protocol): the SQL text, possibly several statements. */
export function decodeQuery(payload: Buffer): string {
  const r = new PgReader(payload, 'Query', true);
  const s = r.cstring();
  r.end();
  return s;
}

export function decodeParse(payload: Buffer): { name: string; query: string; paramTypes: number[] } {
  const r = new PgReader(payload, 'Parse', true);
  const name = r.cstring();
  const query = r.cstring();
  const n = r.uint16();
  const paramTypes: number[] = [];
  for (let i = 0; i < n; i++) paramTypes.push(r.uint32());
  r.end();
  return { name, query, paramTypes };
}

export interface BindMessage {
  portal: string;
  statement: string;
  /** 0 = text, 1 = binary; empty means all text, one entry applies to all. */
  paramFormats: number[];
  /** Parameter values (aliasing the payload); null is SQL NULL (length -1). */
  params: (Buffer | null)[];
  resultFormats: number[];
}

export function decodeBind(payload: Buffer): BindMessage {
  const r = new PgReader(payload, 'Bind', true);
  const portal = r.cstring();
  const statement = r.cstring();
  const paramFormats = int16List(r);
  const n = r.uint16();
  // Same rule as the server (exec_bind_message); checked here so that the
  // adapter can rely on it when deciding which parameters are binary.
  if (paramFormats.length > 1 && paramFormats.length !== n) {
    throw malformed(`Bind message has ${paramFormats.length} parameter formats but ${n} parameters`);
  }
  const params: (Buffer | null)[] = [];
  for (let i = 0; i < n; i++) {
    const len = r.int32();
    if (len === -1) params.push(null);
    else if (len < -1) throw malformed(`Bind message has invalid parameter length ${len}`);
    else params.push(r.bytes(len));
  }
  const resultFormats = int16List(r);
  r.end();
  return { portal, statement, paramFormats, params, resultFormats };
}

function int16List(r: PgReader): number[] {
  const n = r.uint16();
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.int16());
  return out;
}

/** Execute: portal name and row limit (0 = no limit). */
export function decodeExecute(payload: Buffer): { portal: string; maxRows: number } {
  const r = new PgReader(payload, 'Execute', true);
  const portal = r.cstring();
  const maxRows = r.int32();
  r.end();
  return { portal, maxRows };
}

export interface TargetMessage {
  /** 'S' prepared statement, 'P' portal. */
  target: 'S' | 'P';
  name: string;
}

export function decodeDescribe(payload: Buffer): TargetMessage {
  return decodeTarget(payload, 'Describe');
}

export function decodeClose(payload: Buffer): TargetMessage {
  return decodeTarget(payload, 'Close');
}

function decodeTarget(payload: Buffer, what: string): TargetMessage {
  const r = new PgReader(payload, what, true);
  const t = r.byte();
  if (t !== 0x53 && t !== 0x50) throw malformed(`${what} message has invalid target 0x${t.toString(16)}`);
  const name = r.cstring();
  r.end();
  return { target: t === 0x53 ? 'S' : 'P', name };
}

// ---- Encoders: the gateway as a client of the upstream server. ----

/** StartupMessage for protocol 3.0 with the given parameters (user is required by the server). */
export function encodeStartup(params: Record<string, string>): Buffer {
  const w = new PgWriter().int32(PROTOCOL_3_0);
  for (const [name, value] of Object.entries(params)) w.cstring(name).cstring(value);
  return w.int8(0).finish(null);
}

export function encodeSSLRequest(): Buffer {
  return new PgWriter().int32(SSL_REQUEST_CODE).finish(null);
}

export function encodeCancelRequest(processId: number, secretKey: number): Buffer {
  return new PgWriter().int32(CANCEL_REQUEST_CODE).int32(processId).int32(secretKey).finish(null);
}

/** PasswordMessage (cleartext password or "md5..." hash). */
export function encodePassword(password: string): Buffer {
  return new PgWriter().cstring(password).finish(FE.Password);
}

/** SASLInitialResponse: mechanism name, then Int32 length and the client-first-message. */
export function encodeSASLInitialResponse(mechanism: string, data: Buffer): Buffer {
  return new PgWriter().cstring(mechanism).int32(data.length).bytes(data).finish(FE.Password);
}

/** SASLResponse: the mechanism data, unframed (its length is the message length). */
export function encodeSASLResponse(data: Buffer): Buffer {
  return new PgWriter().bytes(data).finish(FE.Password);
}

export function encodeQuery(sql: string): Buffer {
  return new PgWriter().cstring(sql).finish(FE.Query);
}

/** Parse: statement name, query text, then Int16 count of parameter type OIDs. */
export function encodeParse(name: string, query: string, paramTypes: readonly number[] = []): Buffer {
  const w = new PgWriter().cstring(name).cstring(query).int16(paramTypes.length);
  for (const t of paramTypes) w.int32(t);
  return w.finish(FE.Parse);
}

export function encodeSync(): Buffer {
  return emptyMessage(FE.Sync);
}

export function encodeTerminate(): Buffer {
  return emptyMessage(FE.Terminate);
}
