/**
 * What masking needs to know about Postgres types: which built-in OIDs hold
 * what kind of value (pg_type.dat), and codecs for the binary formats whose
 * values masking must read or write (the *send/*recv functions in
 * src/backend/utils/adt). Core may not import wire/, and these are value
 * formats rather than protocol messages anyway.
 */
import { GatewayError } from '../../shared/errors.ts';

/**
 * A scalar's kind decides how it is scanned and what a masked replacement
 * looks like:
 * - `string`: any text; scanned by detectors, replaced span by span;
 * - `integer` (with byte width), `numeric`, `float`: digits; scanned, replaced whole by a number;
 * - `date` / `timestamp` / `timestamptz` / `uuid` / `bool`: fixed grammar, never scanned;
 * - `json`: walked into its strings and numbers (json.ts);
 * - `bytea`: bytes, never scanned (hex text hides any shape);
 * - `fixed`: other fixed-grammar types (time, interval, inet…): replaced by a constant.
 */
export type ScalarKind = 'string' | 'integer' | 'numeric' | 'float' | 'date' | 'timestamp' | 'timestamptz' | 'uuid' | 'bool' | 'json' | 'bytea' | 'fixed';

export const OID = {
  bool: 16, bytea: 17, char: 18, name: 19, int8: 20, int2: 21, int4: 23, text: 25, oid: 26, json: 114, xml: 142,
  float4: 700, float8: 701, unknown: 705, money: 790, bpchar: 1042, varchar: 1043, date: 1082, time: 1083,
  timestamp: 1114, timestamptz: 1184, interval: 1186, timetz: 1266, numeric: 1700, uuid: 2950, jsonb: 3802,
  inet: 869, cidr: 650, macaddr: 829, macaddr8: 774,
} as const;

const KIND = new Map<number, ScalarKind>([
  [OID.bool, 'bool'], [OID.bytea, 'bytea'], [OID.char, 'string'], [OID.name, 'string'], [OID.int8, 'integer'], [OID.int2, 'integer'],
  [OID.int4, 'integer'], [OID.text, 'string'], [OID.oid, 'integer'], [OID.json, 'json'], [OID.xml, 'string'], [OID.float4, 'float'],
  [OID.float8, 'float'], [OID.unknown, 'string'], [OID.money, 'numeric'], [OID.bpchar, 'string'], [OID.varchar, 'string'],
  [OID.date, 'date'], [OID.time, 'fixed'], [OID.timestamp, 'timestamp'], [OID.timestamptz, 'timestamptz'], [OID.interval, 'fixed'],
  [OID.timetz, 'fixed'], [OID.numeric, 'numeric'], [OID.uuid, 'uuid'], [OID.jsonb, 'json'], [OID.inet, 'fixed'], [OID.cidr, 'fixed'],
  [OID.macaddr, 'fixed'], [OID.macaddr8, 'fixed'],
]);

/** Array type OID → element type OID (pg_type.typarray of the element). */
export const ARRAY_ELEMENT = new Map<number, number>([
  [1000, OID.bool], [1001, OID.bytea], [1002, OID.char], [1003, OID.name], [1016, OID.int8], [1005, OID.int2], [1007, OID.int4],
  [1009, OID.text], [1028, OID.oid], [199, OID.json], [143, OID.xml], [1021, OID.float4], [1022, OID.float8], [791, OID.money],
  [1014, OID.bpchar], [1015, OID.varchar], [1182, OID.date], [1183, OID.time], [1115, OID.timestamp], [1185, OID.timestamptz],
  [1187, OID.interval], [1270, OID.timetz], [1231, OID.numeric], [2951, OID.uuid], [3807, OID.jsonb], [1041, OID.inet],
  [651, OID.cidr], [1040, OID.macaddr], [775, OID.macaddr8],
]);

/**
 * Unknown OIDs (user types, enums, composites, domains, extensions such as
 * citext) are `string` in text format: their text is scanned like any text,
 * and whole-value replacements are plain words.
 */
export function scalarKind(typeOid: number): ScalarKind {
  return KIND.get(typeOid) ?? 'string';
}

export function isKnownType(typeOid: number): boolean {
  return KIND.has(typeOid) || ARRAY_ELEMENT.has(typeOid);
}

export function integerWidth(typeOid: number): 2 | 4 | 8 {
  return typeOid === OID.int2 ? 2 : typeOid === OID.int4 || typeOid === OID.oid ? 4 : 8;
}

/** Text forms used as whole-value replacements for `fixed` kinds (valid input for the type). */
export const FIXED_TEXT = new Map<number, string>([
  [OID.time, '00:00:00'], [OID.timetz, '00:00:00+00'], [OID.interval, '00:00:00'], [OID.inet, '0.0.0.0'], [OID.cidr, '0.0.0.0/32'],
  [OID.macaddr, '00:00:00:00:00:00'], [OID.macaddr8, '00:00:00:00:00:00:00:00'],
]);

/** Binary forms of the same constants (timeofday micros, interval micros+days+months, inet family/bits/is_cidr/len/addr). */
export const FIXED_BINARY = new Map<number, Buffer>([
  [OID.time, Buffer.alloc(8)], [OID.timetz, Buffer.alloc(12)], [OID.interval, Buffer.alloc(16)],
  [OID.inet, Buffer.from([2, 32, 0, 4, 0, 0, 0, 0])], [OID.cidr, Buffer.from([2, 32, 1, 4, 0, 0, 0, 0])],
  [OID.macaddr, Buffer.alloc(6)], [OID.macaddr8, Buffer.alloc(8)],
]);

export function unsupported(typeOid: number, why: string): GatewayError {
  return new GatewayError('GW_MASKING_UNSUPPORTED', `cannot mask a value of type oid ${typeOid} in binary format: ${why}`, { clientSafe: true });
}

// ---- dates: Postgres counts days / microseconds from 2000-01-01 ----

const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const DAY_MS = 86_400_000;

export function daysToIsoDate(days: number): string | null {
  if (days === 0x7fffffff || days === -0x80000000) return null; // infinity / -infinity
  const d = new Date(PG_EPOCH_MS + days * DAY_MS);
  return Number.isNaN(d.getTime()) ? null : d.toISOString().slice(0, 10);
}

/** `YYYY-MM-DD…` → days since 2000-01-01 (the masked replacements are always ISO). */
export function isoDateToDays(iso: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso);
  if (!m) throw new GatewayError('GW_INTERNAL', 'masked date is not ISO');
  return Math.round((Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) - PG_EPOCH_MS) / DAY_MS);
}

// ---- numeric (NumericVar on the wire: ndigits, weight, sign, dscale, base-10000 digits) ----

const NUMERIC_POS = 0x0000;
const NUMERIC_NEG = 0x4000;
const NUMERIC_NAN = 0xc000;

/** Binary numeric → decimal text as numeric_out prints it ('NaN', 'Infinity' included). */
export function numericBinaryToText(b: Buffer): string {
  if (b.length < 8) throw unsupported(OID.numeric, 'truncated numeric');
  const ndigits = b.readUInt16BE(0);
  const weight = b.readInt16BE(2);
  const sign = b.readUInt16BE(4);
  const dscale = b.readUInt16BE(6);
  if (b.length !== 8 + 2 * ndigits) throw unsupported(OID.numeric, 'bad numeric length');
  if (sign === NUMERIC_NAN) return 'NaN';
  if (sign === 0xd000) return 'Infinity';
  if (sign === 0xf000) return '-Infinity';
  // Digit i (base 10000) has weight `weight - i`: indices 0..weight are the integer part.
  const digit = (i: number): number => (i >= 0 && i < ndigits ? b.readUInt16BE(8 + 2 * i) : 0);
  let int = weight < 0 ? '0' : String(digit(0));
  for (let i = 1; i <= weight; i++) int += String(digit(i)).padStart(4, '0');
  let frac = '';
  for (let k = 1; frac.length < dscale; k++) frac += String(digit(weight + k)).padStart(4, '0');
  frac = frac.slice(0, dscale);
  const text = dscale > 0 ? `${int}.${frac}` : int;
  return sign === NUMERIC_NEG ? `-${text}` : text;
}

/** A non-negative integer string → binary numeric with dscale 0 (all masked numerics are such integers). */
export function integerToNumericBinary(digits: string): Buffer {
  const s = digits.replace(/^0+(?=\d)/, '');
  if (!/^\d+$/.test(s)) throw new GatewayError('GW_INTERNAL', 'masked numeric is not an integer');
  const groups: number[] = [];
  for (let end = s.length; end > 0; end -= 4) groups.unshift(Number(s.slice(Math.max(0, end - 4), end)));
  while (groups.length > 0 && groups[groups.length - 1] === 0) groups.pop(); // trailing zero groups are implied by weight
  const weight = Math.ceil(s.length / 4) - 1;
  const out = Buffer.alloc(8 + 2 * groups.length);
  out.writeUInt16BE(groups.length, 0);
  out.writeInt16BE(s === '0' ? 0 : weight, 2);
  out.writeUInt16BE(NUMERIC_POS, 4);
  out.writeUInt16BE(0, 6);
  groups.forEach((g, i) => out.writeUInt16BE(g, 8 + 2 * i));
  return out;
}

// ---- arrays, text format (array_in / array_out) ----

/**
 * Rewrites each element of an array literal (`{a,"b c",NULL,{1,2}}`, with an
 * optional `[1:2]=` dimension prefix). `fn` gets the de-quoted element text and
 * returns the new text, null for NULL, or undefined to keep it. Returns
 * undefined when nothing changed.
 */
export function rewriteArrayText(s: string, fn: (elem: string) => string | null | undefined): string | undefined {
  let i = 0;
  let out = '';
  let changed = false;
  const eq = s.indexOf('=');
  if (s.startsWith('[') && eq > 0) {
    out = s.slice(0, eq + 1);
    i = eq + 1;
  }
  while (i < s.length) {
    const c = s[i]!;
    if (c === '{' || c === '}' || c === ',' || c === ' ') {
      out += c;
      i++;
      continue;
    }
    let text = '';
    let quoted = false;
    if (c === '"') {
      quoted = true;
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\') i++;
        text += s[i] ?? '';
        i++;
      }
      i++; // closing quote
    } else {
      while (i < s.length && s[i] !== ',' && s[i] !== '}') text += s[i++];
    }
    if (!quoted && text.toUpperCase() === 'NULL') {
      out += text;
      continue;
    }
    const r = fn(text);
    if (r === undefined) {
      out += quoted ? quoteArrayElement(text, true) : text;
      continue;
    }
    changed = true;
    out += r === null ? 'NULL' : quoteArrayElement(r, false);
  }
  return changed ? out : undefined;
}

function quoteArrayElement(t: string, force: boolean): string {
  if (!force && t !== '' && !/[{}",\\\s]/.test(t) && t.toUpperCase() !== 'NULL') return t;
  return `"${t.replace(/["\\]/g, '\\$&')}"`;
}

// ---- arrays, binary format (array_send / array_recv) ----

/** Rewrites each non-NULL element of a binary array; `fn` gets the element OID from the header. */
export function rewriteArrayBinary(b: Buffer, fn: (elem: Buffer, elemOid: number) => Buffer | null | undefined): Buffer | undefined {
  if (b.length < 12) throw unsupported(0, 'truncated array');
  const ndim = b.readInt32BE(0);
  const elemOid = b.readUInt32BE(8);
  if (ndim < 0 || ndim > 6 || b.length < 12 + 8 * ndim) throw unsupported(0, 'bad array header');
  let count = ndim === 0 ? 0 : 1;
  for (let d = 0; d < ndim; d++) count *= b.readInt32BE(12 + 8 * d);
  let pos = 12 + 8 * ndim;
  const parts: Buffer[] = [];
  let changed = false;
  let hasNull = false;
  for (let e = 0; e < count; e++) {
    if (b.length - pos < 4) throw unsupported(elemOid, 'truncated array element');
    const len = b.readInt32BE(pos);
    pos += 4;
    if (len === -1) {
      hasNull = true;
      parts.push(Buffer.from([0xff, 0xff, 0xff, 0xff]));
      continue;
    }
    if (len < 0 || b.length - pos < len) throw unsupported(elemOid, 'bad array element length');
    const elem = b.subarray(pos, pos + len);
    pos += len;
    const r = fn(elem, elemOid);
    const v = r === undefined ? elem : r;
    if (r !== undefined) changed = true;
    if (v === null) hasNull = true;
    const head = Buffer.alloc(4);
    head.writeInt32BE(v === null ? -1 : v.length);
    parts.push(head);
    if (v !== null) parts.push(v);
  }
  if (pos !== b.length) throw unsupported(elemOid, 'trailing bytes after array');
  if (!changed) return undefined;
  const header = Buffer.from(b.subarray(0, 12 + 8 * ndim));
  header.writeInt32BE(hasNull ? 1 : 0, 4);
  return Buffer.concat([header, ...parts]);
}
