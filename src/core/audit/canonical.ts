/**
 * RFC 8785 JSON Canonicalization Scheme (JCS).
 *
 * Envelopes and payloads are hashed over their canonical encoding, so the
 * same event always yields the same bytes: keys sorted by UTF-16 code units,
 * no whitespace, ECMAScript number serialisation, and no lone surrogates.
 * canonicalize@4 implements exactly that (5.x needs Node 22).
 */
import canonicalize from 'canonicalize';

/**
 * Canonical JSON text of `value`. Throws on values JSON cannot represent
 * faithfully (NaN, ±Infinity, lone surrogates, cycles, or a top-level
 * `undefined`); `undefined` properties are dropped, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  const out = canonicalize(value);
  if (out === undefined) throw new TypeError('value has no JSON representation');
  return out;
}

/** Canonical JSON as UTF-8 bytes: what gets hashed. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

/** True when `text` parses as JSON and is already in canonical form. */
export function isCanonicalJson(text: string): boolean {
  try {
    return canonicalJson(JSON.parse(text)) === text;
  } catch {
    return false;
  }
}
