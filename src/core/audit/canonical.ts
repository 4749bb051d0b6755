/**
 * RFC 8785 JSON Canonicalization Scheme (JCS).
 *
 * Envelopes and payloads are hashed over their canonical encoding, so the
 * same event always yields the same bytes: object keys sorted by UTF-16 code
 * units, no whitespace, numbers in ECMAScript shortest round-trip form
 * (RFC 8785 §3.2.2.3 is defined as ES Number::toString, which is what
 * JSON.stringify emits for finite numbers), strings escaped as JSON.stringify
 * does (§3.2.2.2 is defined the same way), no lone surrogates.
 *
 * Why not call the `canonicalize` package directly: it was 20% of the append
 * path's CPU plus most of its garbage (a Set per call, a JS loop over every
 * string for surrogates), and the benchmark target is 20,000 events/s. This
 * implementation is differential-tested against canonicalize@4 over random
 * JSON values (canonical.test.ts), which stays the reference.
 */

const MAX_DEPTH = 64;

declare global {
  interface String {
    /** ES2024, in V8 since Node 20; not in the ES2022 lib this project targets. */
    isWellFormed(): boolean;
  }
}

/**
 * A value that is not an object (or is null), as JSON will write it, or
 * undefined for what JSON omits (undefined, functions, symbols). Throws for
 * what JSON cannot represent faithfully: non-finite numbers, BigInt, lone
 * surrogates.
 */
function checkedScalar(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
      if (!value.isWellFormed()) throw new TypeError('Lone surrogate is not allowed');
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${value} is not allowed in JSON`);
      return value;
    case 'bigint':
      throw new TypeError('BigInt is not allowed in JSON');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    default:
      return value; // boolean, null
  }
}

/** Canonical text of `value`, or undefined for values JSON omits (undefined, functions, symbols). */
function serialize(value: unknown, depth: number): string | undefined {
  if (value === null || typeof value !== 'object') {
    const v = checkedScalar(value);
    return v === undefined ? undefined : JSON.stringify(v);
  }
  if (depth > MAX_DEPTH) throw new TypeError('value nests too deeply (or is circular)');
  const obj = value as { toJSON?: unknown };
  if (typeof obj.toJSON === 'function') return serialize((obj.toJSON as () => unknown)(), depth + 1);
  // String concatenation (V8 ropes) measured faster than collecting parts and joining.
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += serialize(value[i], depth + 1) ?? 'null';
    }
    return out + ']';
  }
  const rec = value as Record<string, unknown>;
  const keys = Object.keys(rec).sort(); // default sort: UTF-16 code units, as §3.2.3 requires
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = serialize(rec[k], depth + 1);
    if (v === undefined) continue;
    if (!k.isWellFormed()) throw new TypeError('Lone surrogate is not allowed');
    out += (first ? '' : ',') + JSON.stringify(k) + ':' + v;
    first = false;
  }
  return out + '}';
}

const NEEDS_SERIALIZER: unique symbol = Symbol('needs the serializer');

/** Objects declared immutable with `canonicalStable`, and their prepared copies. */
const STABLE = new WeakMap<object, unknown>();

/**
 * Declare `value` immutable for the rest of its life (it is deep-frozen) so
 * its sorted copy is prepared once and reused by every canonicalJson call
 * that meets it: an identity is written into every event of its session.
 */
export function canonicalStable<T extends object>(value: T): T {
  deepFreeze(value, 0);
  const ready = sortedCopy(value, 0);
  if (ready !== null && typeof ready === 'object') deepFreeze(ready, 0);
  STABLE.set(value, ready);
  return value;
}

function deepFreeze(value: unknown, depth: number): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value) || depth > MAX_DEPTH) return;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v, depth + 1);
}

/**
 * The fast path: a copy of `value` whose objects hold their keys in RFC 8785
 * order, so that one native JSON.stringify call emits the canonical text
 * (V8 keeps string keys in insertion order). Checks what JSON.stringify
 * would not (non-finite numbers, BigInt, lone surrogates, depth). Returns
 * NEEDS_SERIALIZER for the objects where insertion order is not output
 * order — keys starting with a digit, which V8 may order as array indexes,
 * and `__proto__` — and `serialize` handles the whole value. Measured about
 * 2x faster than `serialize` on envelopes (bench/audit-append.ts).
 */
function sortedCopy(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return checkedScalar(value);
  if (depth > MAX_DEPTH) throw new TypeError('value nests too deeply (or is circular)');
  const stable = STABLE.get(value as object);
  if (stable !== undefined) return stable;
  const obj = value as { toJSON?: unknown };
  if (typeof obj.toJSON === 'function') return sortedCopy((obj.toJSON as () => unknown)(), depth + 1);
  if (Array.isArray(value)) {
    const out: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const v = sortedCopy(value[i], depth + 1);
      if (v === NEEDS_SERIALIZER) return v;
      out[i] = v === undefined ? null : v;
    }
    return out;
  }
  const rec = value as Record<string, unknown>;
  const keys = Object.keys(rec);
  let sorted = true;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const c = k.charCodeAt(0);
    if ((c >= 48 && c <= 57) || k === '__proto__') return NEEDS_SERIALIZER;
    if (!k.isWellFormed()) throw new TypeError('Lone surrogate is not allowed');
    if (i > 0 && keys[i - 1]! > k) sorted = false;
  }
  if (!sorted) keys.sort(); // default sort: UTF-16 code units, as §3.2.3 requires
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = sortedCopy(rec[k], depth + 1);
    if (v === NEEDS_SERIALIZER) return v;
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * Canonical JSON text of `value`. Throws on values JSON cannot represent
 * faithfully (NaN, ±Infinity, BigInt, lone surrogates, cycles, or a
 * top-level `undefined`); `undefined` properties are dropped, as
 * JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  const ready = sortedCopy(value, 0);
  if (ready !== NEEDS_SERIALIZER) {
    if (ready === undefined) throw new TypeError('value has no JSON representation');
    return JSON.stringify(ready);
  }
  const out = serialize(value, 0);
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
