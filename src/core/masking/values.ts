/**
 * Walks one column value down to its scalar leaves — through arrays (text and
 * binary) and, when scanning, JSON — and rebuilds it from what a visitor
 * returns. Both masking paths use it:
 *
 * - `whole`: a column rule or lineage masks the value as a whole, so every
 *   leaf is replaced (an array keeps its shape, a JSON value is one leaf);
 * - `scan`: detectors look at every string and number leaf and replace only
 *   what they find (inside JSON strings, keys, array elements…).
 *
 * Leaves are always offered as their *text* form (binary ints as decimal,
 * binary dates as ISO), so detectors and tokens see the same value whatever
 * format the client asked for; replacements come back as text and are
 * encoded again in the value's format. That is what keeps a masked value
 * valid for its type.
 */
import { isUtf8 } from 'node:buffer';
import { rewriteJsonText } from './json.ts';
import {
  ARRAY_ELEMENT, FIXED_BINARY, OID, daysToIsoDate, integerToNumericBinary, integerWidth, isKnownType, isoDateToDays,
  numericBinaryToText, rewriteArrayBinary, rewriteArrayText, scalarKind, unsupported, type ScalarKind,
} from './pgtypes.ts';

export type Mode = 'whole' | 'scan';

export interface Leaf {
  kind: ScalarKind;
  /** Text form (see above). */
  text: string;
  /** The leaf's own type (an array's element type; json for JSON strings and numbers). */
  typeOid: number;
  /** Set for leaves inside JSON: their replacement is JSON text for `kind: 'json'`, a string or number otherwise. */
  inJson?: boolean;
}

/** A replacement in the leaf's text form, null for NULL in that context, undefined to keep the leaf. */
export type Visitor = (leaf: Leaf) => string | null | undefined;

/** Returns the new value, null for SQL NULL, or undefined when nothing changed. */
export function transformValue(value: Buffer, typeOid: number, format: 0 | 1, mode: Mode, visit: Visitor): Buffer | null | undefined {
  return format === 1 ? binaryValue(value, typeOid, mode, visit) : textValue(value, typeOid, mode, visit);
}

// ---- text format ----

function textValue(value: Buffer, typeOid: number, mode: Mode, visit: Visitor): Buffer | null | undefined {
  // Byte-faithful decoding: a non-UTF-8 client_encoding still round-trips (detectors only look for ASCII shapes there).
  const enc = isUtf8(value) ? 'utf8' : 'latin1';
  const text = value.toString(enc);
  const elem = ARRAY_ELEMENT.get(typeOid);
  const r = elem === undefined ? textLeaf(text, typeOid, mode, visit) : rewriteArrayText(text, (t) => textLeaf(t, elem, mode, visit));
  return r === undefined ? undefined : r === null ? null : Buffer.from(r, enc);
}

function textLeaf(text: string, typeOid: number, mode: Mode, visit: Visitor): string | null | undefined {
  const kind = scalarKind(typeOid);
  if (kind === 'json' && mode === 'scan') {
    return rewriteJsonText(text, (j) => visit({ kind: j.kind === 'string' ? 'string' : 'numeric', text: j.text, typeOid: OID.json, inJson: true }));
  }
  return visit({ kind, text, typeOid });
}

// ---- binary format ----

function binaryValue(value: Buffer, typeOid: number, mode: Mode, visit: Visitor): Buffer | null | undefined {
  if (ARRAY_ELEMENT.has(typeOid)) return rewriteArrayBinary(value, (e, elemOid) => binaryScalar(e, elemOid, mode, visit));
  return binaryScalar(value, typeOid, mode, visit);
}

const TEXT_BINARY = new Set<number>([OID.text, OID.varchar, OID.bpchar, OID.name, OID.unknown, OID.xml, OID.char]);

function binaryScalar(b: Buffer, typeOid: number, mode: Mode, visit: Visitor): Buffer | null | undefined {
  const kind = scalarKind(typeOid);
  const leaf = (text: string, k: ScalarKind = kind): string | null | undefined => visit({ kind: k, text, typeOid });
  if (!isKnownType(typeOid)) return opaque(b, typeOid, mode, visit);
  if (TEXT_BINARY.has(typeOid)) {
    const enc = isUtf8(b) ? 'utf8' : 'latin1';
    const r = leaf(b.toString(enc));
    return r === undefined || r === null ? r : Buffer.from(r, enc);
  }
  switch (kind) {
    case 'json': {
      // jsonb_send prefixes a version byte (1); json_send is plain text.
      const jsonb = typeOid === OID.jsonb;
      if (jsonb && b[0] !== 1) throw unsupported(typeOid, `jsonb binary version ${b[0] ?? 'missing'}`);
      const r = textLeaf(b.subarray(jsonb ? 1 : 0).toString('utf8'), typeOid, mode, visit);
      if (r === undefined || r === null) return r;
      return jsonb ? Buffer.concat([Buffer.of(1), Buffer.from(r, 'utf8')]) : Buffer.from(r, 'utf8');
    }
    case 'integer': {
      const w = integerWidth(typeOid);
      if (b.length !== w) throw unsupported(typeOid, 'bad integer length');
      const text = typeOid === OID.oid ? String(b.readUInt32BE(0)) : w === 2 ? String(b.readInt16BE(0)) : w === 4 ? String(b.readInt32BE(0)) : b.readBigInt64BE(0).toString();
      const r = leaf(text);
      if (r === undefined || r === null) return r;
      const out = Buffer.alloc(w);
      if (typeOid === OID.oid) out.writeUInt32BE(Number(r));
      else if (w === 2) out.writeInt16BE(Number(r));
      else if (w === 4) out.writeInt32BE(Number(r));
      else out.writeBigInt64BE(BigInt(r));
      return out;
    }
    case 'numeric': {
      if (typeOid === OID.money) return opaque(b, typeOid, mode, visit); // money_send is a locale-free int64 of cents, but rare: fail closed
      const r = leaf(numericBinaryToText(b));
      return r === undefined || r === null ? r : integerToNumericBinary(r);
    }
    case 'float': {
      const v = typeOid === OID.float4 ? b.readFloatBE(0) : b.readDoubleBE(0);
      // An integral double prints as digits so that a card number stored in a float8 is still found.
      const r = leaf(Number.isInteger(v) && Math.abs(v) < 1e21 ? BigInt(v).toString() : String(v));
      if (r === undefined || r === null) return r;
      const out = Buffer.alloc(typeOid === OID.float4 ? 4 : 8);
      if (typeOid === OID.float4) out.writeFloatBE(Number(r));
      else out.writeDoubleBE(Number(r));
      return out;
    }
    case 'date': {
      const r = leaf(daysToIsoDate(b.readInt32BE(0)) ?? 'infinity');
      if (r === undefined || r === null) return r;
      const out = Buffer.alloc(4);
      out.writeInt32BE(isoDateToDays(r));
      return out;
    }
    case 'timestamp':
    case 'timestamptz': {
      const micros = b.readBigInt64BE(0);
      // Floor division: before 2000 the micros are negative, and truncation would move the day (and year) forward.
      const q = micros / 86_400_000_000n;
      const days = Number(micros < 0n && q * 86_400_000_000n !== micros ? q - 1n : q);
      const r = leaf(`${daysToIsoDate(days) ?? 'infinity'} 00:00:00${kind === 'timestamptz' ? '+00' : ''}`);
      if (r === undefined || r === null) return r;
      const out = Buffer.alloc(8);
      out.writeBigInt64BE(BigInt(isoDateToDays(r)) * 86_400_000_000n); // replacements are midnight
      return out;
    }
    case 'uuid': {
      const h = b.toString('hex');
      const r = leaf(`${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`);
      return r === undefined || r === null ? r : Buffer.from(r.replace(/-/g, ''), 'hex');
    }
    case 'bool': {
      const r = leaf(b[0] === 1 ? 't' : 'f');
      return r === undefined || r === null ? r : Buffer.of(r === 't' ? 1 : 0);
    }
    case 'bytea': {
      const r = leaf(`\\x${b.toString('hex')}`);
      return r === undefined || r === null ? r : Buffer.from(r.slice(2), 'hex');
    }
    case 'fixed': {
      const r = leaf('');
      return r === undefined || r === null ? r : Buffer.from(FIXED_BINARY.get(typeOid) ?? Buffer.alloc(0));
    }
    case 'string':
      return opaque(b, typeOid, mode, visit);
  }
}

/**
 * A binary value whose layout we do not know (composites, enums, extension
 * types). Whole-value masking can only make it NULL. Scanning reads the bytes
 * as Latin-1, which finds ASCII shapes inside embedded text; a hit cannot be
 * replaced without knowing the layout (lengths would change), so it throws:
 * the caller fails closed, naming the column.
 */
function opaque(b: Buffer, typeOid: number, mode: Mode, visit: Visitor): null | undefined {
  const r = visit({ kind: 'string', text: b.toString('latin1'), typeOid });
  if (r === undefined) return undefined;
  if (r === null && mode === 'whole') return null;
  throw unsupported(typeOid, mode === 'whole' ? 'unknown binary layout (use the null strategy or text format)' : 'a detected value inside a binary value of an unknown layout');
}
