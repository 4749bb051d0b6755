/**
 * Result-row codecs: RowDescription, DataRow and the Copy*Response headers
 * (https://www.postgresql.org/docs/current/protocol-message-formats.html).
 * The COPY data formats themselves live in copy.ts.
 *
 * Masking is the only reason the gateway decodes rows at all (principle 3:
 * untouched bytes pass through undecoded), so these functions are written for
 * the hot path: one pass, no intermediate arrays beyond the result, values
 * returned as subarrays of the payload (no copy), and `encodeDataRow` sizes
 * its output once.
 */
import { GatewayError } from '../../shared/errors.ts';
import { PgReader, malformed } from './reader.ts';

export interface RowField {
  name: string;
  /** OID of the table the column comes from, or 0 when it is not a plain column reference. */
  tableOid: number;
  /** Attribute number of that column (pg_attribute.attnum), or 0. */
  columnAttr: number;
  typeOid: number;
  /** pg_type.typlen: negative for variable-width types. */
  typeSize: number;
  typeMod: number;
  /** 0 text, 1 binary. In a RowDescription answering Describe(statement) it is always 0 (not yet known). */
  format: 0 | 1;
}

function formatCode(n: number, what: string): 0 | 1 {
  if (n === 0 || n === 1) return n;
  throw malformed(`${what} message has invalid format code ${n}`);
}

/** RowDescription ('T'). */
export function decodeRowDescription(payload: Buffer): RowField[] {
  const r = new PgReader(payload, 'RowDescription', false);
  const n = r.uint16();
  const fields: RowField[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const name = r.cstring();
    const tableOid = r.uint32();
    const columnAttr = r.int16();
    const typeOid = r.uint32();
    const typeSize = r.int16();
    const typeMod = r.int32();
    const format = formatCode(r.int16(), 'RowDescription');
    fields[i] = { name, tableOid, columnAttr, typeOid, typeSize, typeMod, format };
  }
  r.end();
  return fields;
}

/**
 * DataRow ('D'): values as subarrays of the payload (no copy), null for SQL
 * NULL. The caller must not keep them past the payload's lifetime if the
 * framer reuses its buffer (ours does not).
 */
export function decodeDataRow(payload: Buffer): (Buffer | null)[] {
  // Hand-rolled rather than PgReader: this runs once per row of every masked
  // result, and the checks below are the same ones PgReader makes.
  if (payload.length < 2) throw malformed('DataRow message is truncated');
  const n = payload.readUInt16BE(0);
  const out: (Buffer | null)[] = new Array(n);
  let pos = 2;
  for (let i = 0; i < n; i++) {
    if (payload.length - pos < 4) throw malformed('DataRow message is truncated');
    const len = payload.readInt32BE(pos);
    pos += 4;
    if (len === -1) {
      out[i] = null;
      continue;
    }
    if (len < 0) throw malformed('DataRow message has a negative length');
    if (payload.length - pos < len) throw malformed('DataRow message is truncated');
    out[i] = payload.subarray(pos, pos + len);
    pos += len;
  }
  if (pos !== payload.length) throw malformed(`DataRow message has ${payload.length - pos} trailing bytes`);
  return out;
}

/** A whole DataRow message: type byte, Int32 length, Int16 count, then (Int32 length, bytes) per value. */
export function encodeDataRow(values: readonly (Buffer | null)[]): Buffer {
  if (values.length > 0xffff) throw new GatewayError('GW_INTERNAL', `DataRow cannot carry ${values.length} columns`);
  let size = 4 + 2;
  for (const v of values) size += 4 + (v === null ? 0 : v.length);
  if (size > 0x7fffffff) throw new GatewayError('GW_INTERNAL', `DataRow length ${size} does not fit in Int32`);
  const out = Buffer.allocUnsafe(1 + size);
  out[0] = 0x44; // 'D'
  out.writeInt32BE(size, 1);
  out.writeUInt16BE(values.length, 5);
  let pos = 7;
  for (const v of values) {
    if (v === null) {
      out.writeInt32BE(-1, pos);
      pos += 4;
    } else {
      out.writeInt32BE(v.length, pos);
      pos += 4;
      pos += v.copy(out, pos);
    }
  }
  // Defensive: allocUnsafe memory must never leave the process partly unwritten.
  if (pos !== out.length) throw new GatewayError('GW_INTERNAL', 'DataRow size mismatch');
  return out;
}

export interface CopyResponse {
  /** Overall format: 0 textual (text or CSV; the statement's options say which), 1 binary. */
  format: 0 | 1;
  /** Per column; all 0 when `format` is 0, all 1 when it is 1 (the server never mixes them today). */
  columnFormats: number[];
}

function decodeCopyResponse(payload: Buffer, what: string): CopyResponse {
  const r = new PgReader(payload, what, false);
  const format = formatCode(r.byte(), what);
  const n = r.uint16();
  const columnFormats: number[] = new Array(n);
  for (let i = 0; i < n; i++) columnFormats[i] = formatCode(r.int16(), what);
  r.end();
  return { format, columnFormats };
}

/** CopyOutResponse ('H'): the server is about to send COPY … TO STDOUT data. */
export function decodeCopyOutResponse(payload: Buffer): CopyResponse {
  return decodeCopyResponse(payload, 'CopyOutResponse');
}

/** CopyInResponse ('G'): the server waits for COPY … FROM STDIN data. */
export function decodeCopyInResponse(payload: Buffer): CopyResponse {
  return decodeCopyResponse(payload, 'CopyInResponse');
}

/** CopyBothResponse ('W'), used by streaming replication only. */
export function decodeCopyBothResponse(payload: Buffer): CopyResponse {
  return decodeCopyResponse(payload, 'CopyBothResponse');
}

/** Wraps a COPY payload into a CopyData ('d') message. */
export function encodeCopyData(payload: Buffer): Buffer {
  if (payload.length > 0x7fffffff - 4) throw new GatewayError('GW_INTERNAL', 'CopyData payload too large');
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = 0x64; // 'd'
  out.writeInt32BE(4 + payload.length, 1);
  payload.copy(out, 5);
  return out;
}

// The COPY data formats (text, CSV, binary) are in copy.ts; re-exported so rows.ts is the one entry point for result data.
export * from './copy.ts';
