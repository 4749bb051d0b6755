/**
 * Masking strategies: what a masked value becomes.
 *
 * - `partial` keeps the last four letters/digits and every separator
 *   (`***-**-6789`), never more than half of them (`Bob` → `**b`, `Alice` → `***ce`);
 * - `redact` replaces with a fixed mask;
 * - `token` replaces with HMAC-SHA256(key, value): equal values give equal
 *   tokens, so joins, GROUP BY and correlation work *within the key's scope*.
 *   The scope is chosen by which key the caller passes (deriveScopeKey);
 * - `null` makes the value SQL NULL (JSON null, array NULL inside those).
 *
 * Every replacement is valid for the value's type (the reason for the
 * per-kind table in `maskLeaf`): drivers that parse types keep working, and a
 * bigint column holding card numbers still parses as a bigint.
 */
import { createHmac } from 'node:crypto';
import { GatewayError } from '../../shared/errors.ts';
import { HmacSha256 } from './hmac.ts';
import { FIXED_TEXT, integerWidth, OID } from './pgtypes.ts';
import type { DataClass, StrategySpec, TokenScope } from './types.ts';
import { transformValue, type Leaf } from './values.ts';

export type Strategy = StrategySpec;

export const DEFAULT_REDACT_MASK = '****';

/**
 * The token key for a scope. `global`: one key for everyone (tokens
 * correlate across identities); `identity`: per principal (scopeId = the
 * identity's stable id); `session`: per session (scopeId = session id). The
 * derivation is domain-separated so a key for one scope never equals
 * another's, and `global` ignores scopeId so callers cannot split it by mistake.
 */
export function deriveScopeKey(masterKey: Buffer, scope: TokenScope, scopeId: string): Buffer {
  if (masterKey.length < 16) throw new GatewayError('GW_INTERNAL', 'masking token key must be at least 16 bytes');
  const info = `gatehouse/masking-token/v1\0${scope}\0${scope === 'global' ? '' : scopeId}`;
  return createHmac('sha256', masterKey).update(info, 'utf8').digest();
}

/** Precomputed HMAC states per key object (the engine keeps its scope keys, so this hits). */
const hmacs = new WeakMap<Buffer, HmacSha256>();

function hmacFor(key: Buffer | undefined): HmacSha256 {
  // Fail closed: a token strategy without its key is a configuration error, never a clear value.
  if (key === undefined) throw new GatewayError('GW_INTERNAL', 'token masking needs a key');
  let h = hmacs.get(key);
  if (h === undefined) {
    h = new HmacSha256(key);
    hmacs.set(key, h);
  }
  return h;
}

function digest(key: Buffer | undefined, canonical: string): Buffer {
  return hmacFor(key).digest(canonical);
}

/** Bytes of a `token` text: `tok_` + 26 base32 characters. */
export const TOKEN_TEXT_BYTES = 30;

/**
 * Writes `tok_` + base32 of the first 128 bits of the digest words `w` into
 * `out` at `pos` (TOKEN_TEXT_BYTES bytes, Latin-1 = ASCII): RFC 4648
 * base32 (lower case, unpadded) of the digest's first 16 bytes, without
 * allocating the digest (strategies.test.ts checks it against createHmac).
 */
function writeTokenWords(w: Int32Array, out: Uint8Array, pos: number): number {
  out[pos] = 0x74; // t
  out[pos + 1] = 0x6f; // o
  out[pos + 2] = 0x6b; // k
  out[pos + 3] = 0x5f; // _
  // Character k is bits [5k, 5k + 5) of the 128-bit big-endian string (the 26th has 3 bits and 2 zero bits).
  for (let k = 0, bit = 0; k < 26; k++, bit += 5) {
    const i = bit >>> 5;
    const off = bit & 31;
    const v = off <= 27 ? w[i]! >>> (27 - off) : (w[i]! << (off - 27)) | (i < 3 ? w[i + 1]! >>> (59 - off) : 0);
    out[pos + 4 + k] = B32_CODES[v & 31]!;
  }
  return TOKEN_TEXT_BYTES;
}

/** `tok_` + 128 bits of the HMAC in lower-case base32 (26 characters): safe inside array and composite literals. */
export function tokenText(key: Buffer | undefined, value: string): string {
  const n = writeTokenWords(hmacFor(key).digestWords(value), TOKEN_CHARS, 0);
  return TOKEN_CHARS.toString('latin1', 0, n);
}

/**
 * `tokenText` of the value whose UTF-8 bytes are `src[from, from + n)`,
 * written into `out` at `pos` (TOKEN_TEXT_BYTES bytes; returns that count).
 * For callers that hold the bytes already (a DataRow value): the HMAC reads
 * them in place, so no string is decoded or created. The caller guarantees
 * the bytes are the UTF-8 encoding of the value's text (ASCII is), which is
 * what makes the token equal to `tokenText` of that text.
 */
export function writeTokenText(key: Buffer | undefined, src: Uint8Array, from: number, n: number, out: Uint8Array, pos: number): number {
  return writeTokenWords(hmacFor(key).digestBytes(src, from, n), out, pos);
}

const B32_CODES = Buffer.from('abcdefghijklmnopqrstuvwxyz234567', 'latin1');
/** `tok_` + 26 characters, written in place (the engine is synchronous). */
const TOKEN_CHARS = Buffer.alloc(TOKEN_TEXT_BYTES);

/**
 * A deterministic positive number that fits the column: 4 digits for int2, 9
 * for int4, 18 for int8/numeric (below 2^63). Built from the digest with
 * Number arithmetic: BigInt cost more than the HMAC itself on the hot path.
 */
export function tokenNumber(key: Buffer | undefined, value: string, width: 2 | 4 | 8): string {
  const h = digest(key, value);
  if (width === 2) return String(1000 + (h.readUInt16BE(0) % 9000));
  if (width === 4) return String(100_000_000 + (h.readUInt32BE(0) % 900_000_000));
  const lead = 1 + (h[0]! % 9);
  const mid = String(h.readUIntBE(1, 6) % 1_000_000_000).padStart(9, '0');
  const low = String(h.readUIntBE(7, 6) % 100_000_000).padStart(8, '0');
  return `${lead}${mid}${low}`;
}

const DAY_MS = 86_400_000;
const T1900 = Date.UTC(1900, 0, 1);

/** A deterministic date in 1900-01-01 … 2099-12-31. */
export function tokenDate(key: Buffer | undefined, value: string): string {
  const days = Number(digest(key, value).readBigUInt64BE(0) % 73_049n);
  return new Date(T1900 + days * DAY_MS).toISOString().slice(0, 10);
}

/** Keeps separators and the last min(4, half) letters/digits; masks the other letters/digits with `*`. */
export function partialText(s: string): string {
  if (/^[\x20-\x7e]*$/.test(s)) return partialAscii(s);
  const chars = [...s];
  const alnum = chars.filter((c) => /[\p{L}\p{N}]/u.test(c)).length;
  let keep = Math.min(4, Math.floor(alnum / 2));
  for (let i = chars.length - 1; i >= 0; i--) {
    if (!/[\p{L}\p{N}]/u.test(chars[i]!)) continue;
    if (keep > 0) keep--;
    else chars[i] = '*';
  }
  return chars.join('');
}

const isAlnum = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** partialText for printable ASCII (the common case), without per-character regexes. */
function partialAscii(s: string): string {
  let alnum = 0;
  for (let i = 0; i < s.length; i++) if (isAlnum(s.charCodeAt(i))) alnum++;
  let keep = Math.min(4, Math.floor(alnum / 2));
  let cut = s.length;
  while (keep > 0 && cut > 0) if (isAlnum(s.charCodeAt(--cut))) keep--;
  if (cut > PARTIAL_SCRATCH.length) {
    let out = '';
    for (let i = 0; i < cut; i++) out += isAlnum(s.charCodeAt(i)) ? '*' : s[i];
    return out + s.slice(cut);
  }
  // Printable ASCII: one byte per character, written in place (the engine is synchronous).
  for (let i = 0; i < cut; i++) {
    const c = s.charCodeAt(i);
    PARTIAL_SCRATCH[i] = isAlnum(c) ? 0x2a : c;
  }
  return PARTIAL_SCRATCH.toString('latin1', 0, cut) + s.slice(cut);
}

const PARTIAL_SCRATCH = Buffer.alloc(256);

/**
 * `partialText` of an ASCII value given as bytes `src[from, from + n)`,
 * written into `out` at `pos`; returns n (the result has the value's
 * length). For ASCII, `partialText` is this byte-wise rule whether or not
 * the text is printable: only A-Z, a-z and 0-9 are letters or digits there
 * (strategies.test.ts checks the equivalence). The caller guarantees ASCII.
 */
export function writePartialAscii(src: Uint8Array, from: number, n: number, out: Uint8Array, pos: number): number {
  const end = from + n;
  let alnum = 0;
  for (let i = from; i < end; i++) if (isAlnum(src[i]!)) alnum++;
  let keep = Math.min(4, alnum >>> 1);
  let cut = end;
  while (keep > 0 && cut > from) if (isAlnum(src[--cut]!)) keep--;
  for (let i = from; i < end; i++) {
    const c = src[i]!;
    out[pos++] = i < cut && isAlnum(c) ? 0x2a : c;
  }
  return n;
}

/** The last min(4, half) digits of the integer part, as a number (`4111111111111111` → `1111`). */
function partialNumber(text: string): string {
  const int = text.replace(/^[-+]/, '').split(/[.eE]/)[0]!.replace(/\D/g, '');
  const keep = Math.min(4, Math.floor(int.length / 2));
  return keep === 0 ? '0' : String(Number(int.slice(-keep)));
}

function dateLike(leaf: Leaf, strategy: StrategySpec, key: Buffer | undefined): string {
  let date: string;
  if (strategy.kind === 'token') date = tokenDate(key, leaf.text);
  else if (strategy.kind === 'partial') {
    // Keep the year (the "last four" of a date); find it whatever the DateStyle.
    const y = /(?<!\d)(\d{4})(?!\d)/.exec(leaf.text)?.[1];
    date = y !== undefined && y !== '0000' ? `${y}-01-01` : '1900-01-01';
  } else date = '1900-01-01';
  return leaf.kind === 'date' ? date : leaf.kind === 'timestamptz' ? `${date} 00:00:00+00` : `${date} 00:00:00`;
}

/** The replacement for one leaf (text form), or null for NULL. */
export function maskLeaf(leaf: Leaf, strategy: StrategySpec, key?: Buffer): string | null {
  if (strategy.kind === 'null') return null;
  const { kind } = leaf;
  switch (kind) {
    case 'string':
      if (strategy.kind === 'partial') return partialText(leaf.text);
      if (strategy.kind === 'token') return tokenText(key, leaf.text);
      return strategy.mask ?? DEFAULT_REDACT_MASK;
    case 'integer':
    case 'numeric':
    case 'float': {
      const width = kind === 'integer' ? integerWidth(leaf.typeOid) : 8;
      if (strategy.kind === 'partial') return partialNumber(leaf.text);
      if (strategy.kind === 'token') return tokenNumber(key, leaf.text, width);
      return '0';
    }
    case 'date':
    case 'timestamp':
    case 'timestamptz':
      return dateLike(leaf, strategy, key);
    case 'uuid': {
      if (strategy.kind === 'token') {
        const h = Buffer.from(digest(key, leaf.text).subarray(0, 16));
        h[6] = (h[6]! & 0x0f) | 0x80; // RFC 9562 version 8 (custom), so it reads as a syntactically valid UUID
        h[8] = (h[8]! & 0x3f) | 0x80;
        const x = h.toString('hex');
        return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
      }
      const tail = strategy.kind === 'partial' ? leaf.text.replace(/-/g, '').slice(-4) : '0000';
      return `00000000-0000-0000-0000-00000000${tail}`;
    }
    case 'bool':
      return strategy.kind === 'token' ? ((digest(key, leaf.text)[0]! & 1) === 1 ? 't' : 'f') : 'f';
    case 'json':
      // A whole JSON value becomes a JSON string: keys are data too (jsonb_object_agg), so no structure is kept.
      return JSON.stringify(strategy.kind === 'token' ? tokenText(key, leaf.text) : (strategy.kind === 'redact' ? strategy.mask : undefined) ?? DEFAULT_REDACT_MASK);
    case 'bytea':
      return strategy.kind === 'token' ? `\\x${digest(key, leaf.text).subarray(0, 16).toString('hex')}` : '\\x';
    case 'fixed':
      return FIXED_TEXT.get(leaf.typeOid) ?? '';
  }
}

export interface MaskValueContext {
  typeOid: number;
  format: 0 | 1;
  /** The class being masked (for error messages and future per-class shapes). */
  cls: DataClass;
  strategy: Strategy;
  /** The scope key for `token` (deriveScopeKey). */
  key?: Buffer;
}

/**
 * Masks a whole value, keeping it valid for its type. Returns null for SQL
 * NULL. Throws GW_MASKING_UNSUPPORTED for a binary value whose layout is not
 * known (unless the strategy is `null`): the caller fails closed with an
 * error naming the column.
 */
export function maskValue(value: Buffer, ctx: MaskValueContext): Buffer | null {
  if (ctx.strategy.kind === 'null') return null;
  const r = transformValue(value, ctx.typeOid, ctx.format, 'whole', (leaf) => maskLeaf(leaf, ctx.strategy, ctx.key));
  // undefined: an array of NULLs only — nothing to mask.
  return r === undefined ? value : r;
}

/** The JSON type OID, for callers that mask JSON text they hold outside a row. */
export const JSON_OID = OID.json;
