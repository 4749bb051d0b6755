/**
 * The masking engine: decides per result column what to do (plan), then
 * applies it to each row. Pure and synchronous; one Masker per session (it
 * holds the session's token keys), rules compiled once per config snapshot
 * (`compileRules`).
 *
 * Two mechanisms, both applied to every class the principal may not unmask:
 * 1. **Column rules** (config globs over `connection/schema.table.column`)
 *    mask a value as a whole. A column is bound when its RowDescription
 *    origin (tableOid, attnum → name via the caller's resolver) matches a
 *    rule, or when statement lineage (lineage/) says its expression reads a
 *    bound column. Lineage 'unknown' masks unless every bound class may be
 *    unmasked.
 * 2. **Detectors** scan every other string and number leaf — inside JSON,
 *    arrays, composite literal text — and replace what they find.
 *
 * Fail closed (principle 4): a value that cannot be masked throws
 * GW_MASKING_UNSUPPORTED naming the column; the caller must not send the
 * row. There is no best-effort mode.
 *
 * Results carry counts per class, never values (they go into audit events).
 */
import { isUtf8 } from 'node:buffer';
import { GatewayError, isGatewayError } from '../../shared/errors.ts';
import { DEFAULT_DETECTORS } from './detectors/index.ts';
import { scalarKind, ARRAY_ELEMENT, OID, type ScalarKind } from './pgtypes.ts';
import { DEFAULT_REDACT_MASK, deriveScopeKey, maskLeaf, TOKEN_TEXT_BYTES, writePartialAscii, writeTokenText } from './strategies.ts';
import { UNKNOWN_LINEAGE, type DataClass, type Detector, type ClassCounts, type ResultColumn, type Span, type StrategySpec, type TokenScope } from './types.ts';
import { transformValue, type Leaf, type Visitor } from './values.ts';
import { compileRules, type CompiledRules, type MaskingRules } from './rules.ts';

export { compileRules, type CompiledRules, type MaskingRules } from './rules.ts';

export interface MaskingKeys {
  /** The vault's masking master key (≥ 16 bytes). */
  master: Buffer;
  /** Stable identity id (issuer + subject) for `identity` scope. */
  identity: string;
  /** Session id for `session` scope. */
  session: string;
}

/** One output column's lineage: a class, several, 'unknown', or null (not bound). */
export type ColumnLineage = DataClass | readonly DataClass[] | null;

export interface PlanContext {
  connection: string;
  unmask: ReadonlySet<DataClass>;
  /** Per output column, from lineage/ (`analyzeLineage(...).classes` or `.columns`). */
  columnClasses?: readonly ColumnLineage[];
  /** RowDescription origin → `schema.table.column` (from the upstream catalog), or undefined. */
  resolveColumn?: (tableOid: number, columnAttr: number) => string | undefined;
}

interface ColumnPlan {
  index: number;
  name: string;
  typeOid: number;
  format: 0 | 1;
  /** Mask the whole value as this class (column rule or lineage), or null to scan it with detectors. */
  whole: DataClass | null;
  /** The leaf visitor, built once per plan: closures per value cost measurably on the hot path. */
  visit: Visitor;
  /** The `null` strategy: the value becomes NULL without being looked at. */
  toNull: boolean;
  /** The raw bytes are the text detectors see (text format, or a textual binary type): prefilter them before decoding. */
  rawText: boolean;
  /**
   * Whole masking of a text-format scalar (not an array): the replacement is
   * `maskLeaf` of the value's text, so `maskRanges` can skip Buffers and
   * `transformValue` altogether. Null otherwise.
   */
  wholeText: WholeText | null;
}

interface WholeText {
  readonly kind: ScalarKind;
  readonly strategy: StrategySpec;
  readonly key: Buffer | undefined;
  /** `redact` reads nothing of the value: its replacement, as UTF-8 bytes, once per column. */
  readonly constant: Buffer | undefined;
  /**
   * A `string` kind with `token` or `partial`: an ASCII value is masked from
   * its bytes straight into the result's byte scratch (no string decoded or
   * created); anything else takes `maskLeaf`.
   */
  readonly bytes: 'token' | 'partial' | null;
}

/**
 * A row as ranges of one buffer — value i is `buf[start[i], start[i] + len[i])`,
 * `len[i] === -1` for NULL — so the hot path creates no Buffer per value.
 */
export interface RowRanges {
  readonly buf: Buffer;
  readonly start: Int32Array;
  readonly len: Int32Array;
  readonly count: number;
}

/**
 * What `maskRanges` changed: per value index, undefined (unchanged), null
 * (NULL), a Buffer, or a string to be written in `latin1` (one byte per
 * character: ASCII, or a byte-faithful non-UTF-8 value) or `utf8`. The
 * arrays belong to the Masker and are reused by its next call.
 */
export interface RangeResult {
  readonly values: (Buffer | string | null | undefined)[];
  readonly utf8: Uint8Array;
  /** Replacements written as bytes: where `values[i] === IN_BYTES`, value i is `bytes[at[i], at[i] + size[i])`. */
  readonly bytes: Buffer;
  readonly at: Int32Array;
  readonly size: Int32Array;
}

/** The `RangeResult.values` marker of a replacement written into `RangeResult.bytes` (compared by identity). */
export const IN_BYTES: Buffer = Buffer.alloc(0);

export type RowPlan =
  | { readonly passthrough: true }
  | { readonly passthrough: false; readonly columns: readonly ColumnPlan[]; readonly detectors: readonly Detector[]; readonly prefilter: Prefilter };

/**
 * The detectors' hints in one shape (Detector.hints objects come in several,
 * and reading them row after row made the prefilter's property loads
 * megamorphic), compiled once per plan.
 */
interface Prefilter {
  /** Some detector has no hints: every value may match. */
  readonly always: boolean;
  readonly hints: readonly { readonly minDigits: number; readonly minLength: number; readonly anyOf: readonly string[] | null }[];
}

function compilePrefilter(detectors: readonly Detector[]): Prefilter {
  return {
    always: detectors.some((d) => d.hints === undefined),
    hints: detectors.map((d) => ({ minDigits: d.hints?.minDigits ?? 0, minLength: d.hints?.minLength ?? 0, anyOf: d.hints?.anyOf ?? null })),
  };
}

export interface MaskRowResult {
  values: (Buffer | null)[];
  /** Per class: how many values were masked (only classes with a count). */
  counts: ClassCounts;
  changed: boolean;
}

const NO_DETECTORS: readonly Detector[] = [];

/**
 * The detectors whose hints `text` meets. Most values are short words and
 * numbers that meet none, and this one pass over the text is what keeps
 * scanning them cheap.
 */
function candidates(detectors: readonly Detector[], text: string): readonly Detector[] {
  let digits = 0;
  for (let i = 0; i < text.length && digits < 13; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
  }
  let out: Detector[] | undefined;
  for (let i = 0; i < detectors.length; i++) {
    const d = detectors[i]!;
    const h = d.hints;
    const ok =
      h === undefined ||
      ((h.minDigits === undefined || digits >= h.minDigits) && (h.minLength === undefined || text.length >= h.minLength) && (h.anyOf === undefined || h.anyOf.some((s) => text.includes(s))));
    if (ok) (out ??= []).push(d);
  }
  return out ?? NO_DETECTORS;
}

/** Binary formats that are the value's text as is (jsonb after its version byte). */
const RAW_TEXT_BINARY = new Set<number>([OID.text, OID.varchar, OID.bpchar, OID.name, OID.unknown, OID.json, OID.jsonb, OID.xml]);
const BACKSLASH_U = Buffer.from('\\u');

/**
 * The same hints over raw bytes, before any decoding: the common value meets
 * none and costs one native scan. Sound because every leaf's text is a
 * substring of the raw text, with one exception handled here: a JSON `\uXXXX`
 * escape can hide a character, so such values are always decoded.
 */
const seen = new Uint32Array(256);
let epoch = 0;
const needles = new Map<string, Buffer>();

function rawMayMatch(raw: Buffer, pf: Prefilter): boolean {
  if (pf.always) return true;
  // One pass: count digits and stamp which bytes occur, so that a substring
  // hint costs a native search only when its first two bytes both occur.
  epoch = (epoch + 1) >>> 0 || 1;
  let digits = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    seen[c] = epoch;
    if (c >= 48 && c <= 57) digits++;
  }
  const hints = pf.hints;
  for (let k = 0; k < hints.length; k++) {
    const h = hints[k]!;
    if (digits < h.minDigits || raw.length < h.minLength) continue;
    if (h.anyOf !== null && !h.anyOf.some((s) => rawIncludes(raw, s))) continue;
    return true;
  }
  return seen[0x5c] === epoch && raw.includes(BACKSLASH_U);
}

/** rawMayMatch over `buf[from, from + n)` without creating a Buffer for it (the common value is short). */
function rawMayMatchRange(buf: Buffer, from: number, n: number, pf: Prefilter): boolean {
  // Long values: the native substring search on a view is cheaper than the loop below.
  if (n > 256 || pf.always) return rawMayMatch(buf.subarray(from, from + n), pf);
  epoch = (epoch + 1) >>> 0 || 1;
  let digits = 0;
  const end = from + n;
  for (let i = from; i < end; i++) {
    const c = buf[i]!;
    seen[c] = epoch;
    if (c >= 48 && c <= 57) digits++;
  }
  const hints = pf.hints;
  for (let k = 0; k < hints.length; k++) {
    const h = hints[k]!;
    if (digits < h.minDigits || n < h.minLength) continue;
    const anyOf = h.anyOf;
    if (anyOf !== null) {
      // Substring hints: the view is only made when the byte stamps of a needle's first two bytes allow a match.
      let any = false;
      for (let j = 0; j < anyOf.length && !any; j++) {
        const s = anyOf[j]!;
        any = seen[s.charCodeAt(0)] === epoch && (s.length === 1 || (seen[s.charCodeAt(1)] === epoch && rawIncludes(buf.subarray(from, end), s)));
      }
      if (!any) continue;
    }
    return true;
  }
  return seen[0x5c] === epoch && buf.subarray(from, end).includes(BACKSLASH_U);
}

function isAsciiString(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** Longer values take the string path (the byte scratch stays small; such values are rare). */
const MAX_BYTES_VALUE = 4096;

function isAsciiRange(buf: Buffer, from: number, n: number): boolean {
  const end = from + n;
  for (let i = from; i < end; i++) if (buf[i]! >= 0x80) return false;
  return true;
}

function columnError(col: ColumnPlan, e: unknown): unknown {
  if (isGatewayError(e) && e.code === 'GW_MASKING_UNSUPPORTED') {
    return new GatewayError('GW_MASKING_UNSUPPORTED', `Gatehouse cannot mask column "${col.name}": ${e.message}`, { clientSafe: true, cause: e });
  }
  return e;
}

function rawIncludes(raw: Buffer, s: string): boolean {
  if (seen[s.charCodeAt(0)] !== epoch) return false;
  if (s.length === 1) return true;
  if (seen[s.charCodeAt(1)] !== epoch) return false;
  let n = needles.get(s);
  if (n === undefined) needles.set(s, (n = Buffer.from(s, 'utf8')));
  return raw.includes(n);
}

const PASSTHROUGH: RowPlan = Object.freeze({ passthrough: true });

/** A tally for `maskRanges` with this plan: one slot per plan column. */
export function newTally(plan: RowPlan): Float64Array {
  return new Float64Array(plan.passthrough ? 0 : plan.columns.length);
}

/** Adds a `maskRanges` tally into `counts` (per class) and empties it. */
export function flushTally(plan: RowPlan, tally: Float64Array, counts: ClassCounts): void {
  if (plan.passthrough) return;
  for (let c = 0; c < tally.length; c++) {
    const n = tally[c]!;
    if (n === 0) continue;
    const cls = plan.columns[c]!.whole!;
    counts[cls] = (counts[cls] ?? 0) + n;
    tally[c] = 0;
  }
}

/** Kinds whose text cannot carry a detectable value: never scanned (saves work on the hot path). */
const UNSCANNED = new Set(['date', 'timestamp', 'timestamptz', 'uuid', 'bool', 'bytea', 'fixed']);

/**
 * int2, int4 and oid print as at most 10 digits after an optional minus.
 * None of the default detectors can match that: cards need 13 digits,
 * phones a `+` or a separator between digits, bare SSNs and routing numbers
 * a label, IBANs letters (engine.test.ts checks it). So with the default
 * detectors such columns are not scanned — `id` columns cost nothing.
 */
const NARROW_INTEGERS = new Set<number>([OID.int2, OID.int4, OID.oid]);

export class Masker {
  readonly #rules: CompiledRules;
  readonly #keys: MaskingKeys;
  readonly #detectors: readonly Detector[];
  readonly #scopeKeys = new Map<TokenScope, Buffer>();
  /** Classes found in the value being scanned (reset per value; the engine is synchronous). */
  readonly #found = new Set<DataClass>();
  /** True with the default detectors, which cannot match a narrow integer (NARROW_INTEGERS). */
  readonly #skipNarrowIntegers: boolean;

  constructor(rules: MaskingRules | CompiledRules, keys: MaskingKeys, opts: { detectors?: readonly Detector[] } = {}) {
    this.#rules = 'compiled' in rules ? rules : compileRules(rules);
    this.#keys = keys;
    this.#detectors = opts.detectors ?? DEFAULT_DETECTORS;
    this.#skipNarrowIntegers = opts.detectors === undefined;
  }

  /** The class a column rule gives `schema.table.column` on `connection`, or null (for lineage catalogs). */
  ruleClass(connection: string, schema: string, table: string, column: string): DataClass | null {
    return this.#rules.classOf(connection, `${schema}.${table}.${column}`);
  }

  /** Classes named by column rules. */
  get boundClasses(): ReadonlySet<DataClass> {
    return this.#rules.bound;
  }

  /** True when this principal sees everything in clear: the relay can skip decoding rows altogether. */
  masksNothing(unmask: ReadonlySet<DataClass>): boolean {
    return this.#detectors.every((d) => unmask.has(d.class)) && [...this.#rules.bound].every((c) => unmask.has(c));
  }

  /**
   * Inference guard (`masking.guardPredicates`): the bound classes a
   * statement filters, joins, sorts or groups on that the principal may not
   * unmask. Non-empty → the caller denies the statement, naming them.
   */
  predicateViolations(predicateClasses: readonly DataClass[], unmask: ReadonlySet<DataClass>): DataClass[] {
    return [...new Set(predicateClasses)].filter((c) => !unmask.has(c));
  }

  strategyFor(cls: DataClass): StrategySpec {
    return this.#rules.strategies[cls] ?? this.#rules.defaultStrategy;
  }

  #key(strategy: StrategySpec): Buffer | undefined {
    if (strategy.kind !== 'token') return undefined;
    let k = this.#scopeKeys.get(strategy.scope);
    if (k === undefined) {
      const id = strategy.scope === 'identity' ? this.#keys.identity : strategy.scope === 'session' ? this.#keys.session : '';
      k = deriveScopeKey(this.#keys.master, strategy.scope, id);
      this.#scopeKeys.set(strategy.scope, k);
    }
    return k;
  }

  planForRow(fields: readonly ResultColumn[], ctx: PlanContext): RowPlan {
    if (this.masksNothing(ctx.unmask)) return PASSTHROUGH;
    const detectors = this.#detectors.filter((d) => !ctx.unmask.has(d.class));
    // 'unknown' lineage masks unless the principal may unmask every bound class.
    const unknownMasks = [...this.#rules.bound].some((c) => !ctx.unmask.has(c));
    const columns: ColumnPlan[] = [];
    fields.forEach((f, index) => {
      const classes: DataClass[] = [];
      const lin = ctx.columnClasses?.[index];
      if (typeof lin === 'string') classes.push(lin);
      else if (Array.isArray(lin)) classes.push(...(lin as readonly DataClass[]));
      let origin: DataClass | null = null;
      if (f.tableOid !== 0 && f.columnAttr > 0 && ctx.resolveColumn) {
        const name = ctx.resolveColumn(f.tableOid, f.columnAttr);
        origin = name === undefined ? null : this.#rules.classOf(ctx.connection, name);
        if (origin !== null) classes.push(origin);
      }
      let whole: DataClass | null = null;
      for (const c of classes) {
        if (c === UNKNOWN_LINEAGE ? unknownMasks : !ctx.unmask.has(c)) {
          whole = c;
          break;
        }
      }
      const elem = ARRAY_ELEMENT.get(f.typeOid) ?? f.typeOid;
      if (whole !== null) {
        let strategy = this.strategyFor(whole);
        // `partial` keeps the last characters of the value it is given. For the column itself that is
        // the intended hint (`***-**-6789`); for an expression of it (`reverse(ssn)`, `substr(ssn, 1, 5)`)
        // it would reveal other parts of the original. Only a RowDescription origin proves the value is
        // the column as stored, so a class reached through lineage alone is redacted instead.
        if (strategy.kind === 'partial' && whole !== origin) strategy = { kind: 'redact', mask: DEFAULT_REDACT_MASK };
        const key = this.#key(strategy);
        const kind = scalarKind(f.typeOid);
        // Only redact reads nothing of the value (fixed kinds depend on the type alone): a constant per column.
        const constant = strategy.kind === 'redact' ? (maskLeaf({ kind, text: '', typeOid: f.typeOid }, strategy, key) ?? undefined) : undefined;
        const bytes = kind === 'string' && (strategy.kind === 'token' || strategy.kind === 'partial') ? strategy.kind : null;
        const wholeText: WholeText | null =
          f.format === 0 && !ARRAY_ELEMENT.has(f.typeOid) && strategy.kind !== 'null'
            ? { kind, strategy, key, constant: constant === undefined ? undefined : Buffer.from(constant, 'utf8'), bytes }
            : null;
        columns.push({ index, name: f.name, typeOid: f.typeOid, format: f.format, whole, visit: (leaf) => maskLeaf(leaf, strategy, key), toNull: strategy.kind === 'null', rawText: false, wholeText });
      } else if (detectors.length > 0 && !UNSCANNED.has(scalarKind(elem)) && !(this.#skipNarrowIntegers && NARROW_INTEGERS.has(elem))) {
        columns.push({ index, name: f.name, typeOid: f.typeOid, format: f.format, whole, visit: (leaf) => this.#scanLeaf(leaf, detectors, this.#found), toNull: false, rawText: f.format === 0 || RAW_TEXT_BINARY.has(f.typeOid), wholeText: null });
      }
    });
    return columns.length === 0 ? PASSTHROUGH : Object.freeze({ passthrough: false, columns, detectors, prefilter: compilePrefilter(detectors) });
  }

  maskDataRow(plan: RowPlan, values: readonly (Buffer | null)[]): MaskRowResult {
    const counts: ClassCounts = {};
    if (plan.passthrough) return { values: values as (Buffer | null)[], counts, changed: false };
    let out: (Buffer | null)[] | undefined;
    for (const col of plan.columns) {
      const v = values[col.index];
      if (v === null || v === undefined) continue;
      let r: Buffer | null | undefined;
      try {
        if (col.whole !== null) {
          r = col.toNull ? null : transformValue(v, col.typeOid, col.format, 'whole', col.visit);
          if (r === undefined) continue; // an array of NULLs only: nothing to mask
          counts[col.whole] = (counts[col.whole] ?? 0) + 1;
        } else {
          if (col.rawText && !rawMayMatch(v, plan.prefilter)) continue;
          this.#found.clear();
          r = transformValue(v, col.typeOid, col.format, 'scan', col.visit);
          for (const c of this.#found) counts[c] = (counts[c] ?? 0) + 1;
        }
      } catch (e) {
        // Fail closed, naming the column (never the value).
        if (isGatewayError(e) && e.code === 'GW_MASKING_UNSUPPORTED') {
          throw new GatewayError('GW_MASKING_UNSUPPORTED', `Gatehouse cannot mask column "${col.name}": ${e.message}`, { clientSafe: true, cause: e });
        }
        throw e;
      }
      if (r === undefined) continue;
      out ??= [...values];
      out[col.index] = r;
    }
    return { values: out ?? (values as (Buffer | null)[]), counts, changed: out !== undefined };
  }

  /**
   * `maskDataRow` over a row given as ranges of one buffer (a DataRow's
   * payload): the same plan and results, without a Buffer per value. Text
   * columns masked as a whole are computed on their text directly; values
   * the raw-byte prefilter clears are not decoded; everything else takes the
   * generic path. `token` and `partial` of ASCII text (the common case) are
   * computed from the value's bytes straight into a byte scratch: no string
   * is decoded or created for them. Adds what it masked to `counts`; returns
   * null when nothing changed. Throws GW_MASKING_UNSUPPORTED naming the
   * column, like maskDataRow. No allocation per row beyond the replacement
   * strings of the other paths (principle 3: this runs once per row of every
   * masked result). The result and its arrays belong to the Masker: valid
   * until its next call. With `tally` (one slot per plan column, see
   * `flushTally`), values masked as a whole are counted there instead of in
   * `counts`.
   */
  maskRanges(plan: RowPlan, row: RowRanges, counts: ClassCounts, tally?: Float64Array): RangeResult | null {
    if (plan.passthrough) return null;
    let changed = false;
    if (this.#rangeValues.length < row.count) {
      this.#rangeValues = new Array(row.count);
      this.#rangeUtf8 = new Uint8Array(row.count);
      this.#rangeAt = new Int32Array(row.count);
      this.#rangeSize = new Int32Array(row.count);
    }
    const values = this.#rangeValues;
    const utf8 = this.#rangeUtf8;
    const at = this.#rangeAt;
    const size = this.#rangeSize;
    for (let i = 0; i < row.count; i++) values[i] = undefined;
    const { buf, start, len } = row;
    let bpos = 0;
    const columns = plan.columns;
    for (let c = 0; c < columns.length; c++) {
      const col = columns[c]!;
      const i = col.index;
      if (i >= row.count) continue;
      const n = len[i]!;
      if (n < 0) continue;
      const from = start[i]!;
      let r: Buffer | string | null | undefined;
      let wide = false;
      const wt = col.wholeText;
      if (col.toNull || wt !== null) {
        // Counted per plan column when the caller keeps a tally (flushTally): a keyed store per value costs more.
        if (tally !== undefined) tally[c]!++;
        else counts[col.whole!] = (counts[col.whole!] ?? 0) + 1;
      }
      if (col.toNull) r = null;
      else if (wt !== null) {
        if (wt.constant !== undefined) r = wt.constant;
        else {
          const ascii = isAsciiRange(buf, from, n);
          if (ascii && wt.bytes !== null && n <= MAX_BYTES_VALUE) {
            // ASCII text: its bytes are its UTF-8, so token and partial work on them in place.
            const need = wt.bytes === 'token' ? TOKEN_TEXT_BYTES : n;
            if (this.#bytes.length - bpos < need) this.#growBytes(bpos + need);
            let w: number;
            try {
              w = wt.bytes === 'token' ? writeTokenText(wt.key, buf, from, n, this.#bytes, bpos) : writePartialAscii(buf, from, n, this.#bytes, bpos);
            } catch (e) {
              throw columnError(col, e);
            }
            at[i] = bpos;
            size[i] = w;
            bpos += w;
            r = IN_BYTES;
          } else {
            // Byte-faithful like values.ts: UTF-8 when valid (ASCII is both), else Latin-1.
            wide = !ascii && isUtf8(buf.subarray(from, from + n));
            const text = buf.toString(wide ? 'utf8' : 'latin1', from, from + n);
            try {
              r = maskLeaf({ kind: wt.kind, text, typeOid: col.typeOid }, wt.strategy, wt.key);
            } catch (e) {
              throw columnError(col, e);
            }
            // An ASCII value is valid UTF-8: a replacement beyond ASCII (a configured mask) is written as UTF-8, as values.ts does.
            if (ascii && typeof r === 'string' && !isAsciiString(r)) wide = true;
          }
        }
      } else {
        if (col.whole === null && col.rawText && !rawMayMatchRange(buf, from, n, plan.prefilter)) continue;
        // The generic path, for this value only.
        const one = this.maskDataRow({ passthrough: false, columns: [{ ...col, index: 0 }], detectors: plan.detectors, prefilter: plan.prefilter }, [buf.subarray(from, from + n)]);
        if (!one.changed) continue;
        r = one.values[0]!;
        for (const k in one.counts) counts[k] = (counts[k] ?? 0) + one.counts[k]!;
      }
      values[i] = r;
      utf8[i] = wide ? 1 : 0;
      changed = true;
    }
    if (!changed) return null;
    const res = this.#result;
    if (res.values !== values || res.at !== at || res.bytes !== this.#bytes) this.#result = { values, utf8, bytes: this.#bytes, at, size };
    return this.#result;
  }

  /** Grows the byte scratch, keeping what this row wrote already. */
  #growBytes(need: number): void {
    const next = Buffer.allocUnsafe(Math.max(need, this.#bytes.length * 2));
    this.#bytes.copy(next);
    this.#bytes = next;
  }

  #rangeValues: (Buffer | string | null | undefined)[] = [];
  #rangeUtf8 = new Uint8Array(0);
  #rangeAt = new Int32Array(0);
  #rangeSize = new Int32Array(0);
  /** Replacements of one row written as bytes (RangeResult.bytes), reused row after row. */
  #bytes = Buffer.allocUnsafe(1024);
  /** The result, reused while its arrays are the same (no object per row). */
  #result: RangeResult = { values: this.#rangeValues, utf8: this.#rangeUtf8, bytes: this.#bytes, at: this.#rangeAt, size: this.#rangeSize };

  /**
   * Detectors over free text: ErrorResponse/NoticeResponse fields,
   * NotificationResponse payloads, COPY fields of unknown type. A `null`
   * strategy cannot empty part of a message, so it redacts here.
   */
  maskText(text: string, unmask: ReadonlySet<DataClass>): { text: string; counts: ClassCounts } {
    const counts: ClassCounts = {};
    const detectors = this.#detectors.filter((d) => !unmask.has(d.class));
    if (detectors.length === 0) return { text, counts };
    const found = new Set<DataClass>();
    const r = this.#replaceSpans(text, candidates(detectors, text), found, true);
    for (const c of found) counts[c] = (counts[c] ?? 0) + 1;
    return { text: r ?? text, counts };
  }

  #scanLeaf(leaf: Leaf, all: readonly Detector[], found: Set<DataClass>): string | null | undefined {
    if (UNSCANNED.has(leaf.kind) || leaf.kind === 'json') return undefined;
    const detectors = candidates(all, leaf.text);
    if (detectors.length === 0) return undefined;
    if (leaf.kind === 'string') return this.#replaceSpans(leaf.text, detectors, found, false);
    // A number: if a detector matches (a card number in a bigint), the number is masked whole, as a number.
    for (const d of detectors) {
      if (d.find(leaf.text).length === 0) continue;
      found.add(d.class);
      const strategy = this.strategyFor(d.class);
      return maskLeaf(leaf, strategy, this.#key(strategy));
    }
    return undefined;
  }

  /** Replaces every detected span; null when a span's strategy is `null` (the whole leaf becomes NULL), undefined when none. */
  #replaceSpans(text: string, detectors: readonly Detector[], found: Set<DataClass>, freeText: boolean): string | null | undefined {
    const spans: (Span & { cls: DataClass })[] = [];
    for (const d of detectors) for (const s of d.find(text)) spans.push({ ...s, cls: d.class });
    if (spans.length === 0) return undefined;
    // Overlaps: keep the earliest, then the longest; detector order breaks ties (DEFAULT_DETECTORS is most specific first).
    spans.sort((a, b) => a.start - b.start || b.end - b.start - (a.end - a.start));
    let out = '';
    let last = 0;
    for (const s of spans) {
      if (s.start < last) {
        // Overlapping span: extend the masked region rather than leave its tail in clear.
        if (s.end > last) {
          out += '*'.repeat(s.end - last);
          last = s.end;
        }
        continue;
      }
      found.add(s.cls);
      let strategy = this.strategyFor(s.cls);
      if (strategy.kind === 'null') {
        if (!freeText) return null;
        strategy = { kind: 'redact', mask: DEFAULT_REDACT_MASK };
      }
      out += text.slice(last, s.start) + maskLeaf({ kind: 'string', text: text.slice(s.start, s.end), typeOid: 25 }, strategy, this.#key(strategy));
      last = s.end;
    }
    return out + text.slice(last);
  }
}
