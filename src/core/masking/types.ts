/**
 * Vocabulary shared by detectors, strategies, the engine and lineage.
 *
 * Class names match the policy schema's DataClass entities
 * (core/policy/schema.ts DEFAULT_DATA_CLASSES), because `unmask` decisions
 * arrive as those names. Column rules may name further classes of their own
 * (`account_number`, `dob`…) for values with no recognisable shape.
 */

/** Classes a content detector can find. */
export const DETECTED_CLASSES = ['us_ssn', 'payment_card', 'iban', 'email', 'phone', 'aba_routing', 'jwt', 'aws_access_key', 'private_key'] as const;
export type DetectedClass = (typeof DETECTED_CLASSES)[number];

/** A detected class, or a class a column rule names. `(string & {})` keeps editor completion for the known names. */
export type DataClass = DetectedClass | (string & {});

/** Lineage could not be established where a bound class is reachable (see lineage/). */
export const UNKNOWN_LINEAGE = 'unknown';

export interface Span {
  /** UTF-16 offsets into the scanned string, end exclusive. */
  start: number;
  end: number;
}

export interface Detector {
  readonly class: DataClass;
  find(text: string): Span[];
  /**
   * Cheap necessary conditions, checked by the engine once per value for all
   * detectors (one digit count instead of one per detector): a value with
   * fewer digits, or none of the substrings, cannot match. Optional; `find`
   * must be correct without them.
   */
  readonly hints?: { minDigits?: number; anyOf?: readonly string[]; minLength?: number };
}

export type TokenScope = 'global' | 'identity' | 'session';

/** What a config names per class. */
export type StrategySpec =
  | { kind: 'partial' }
  | { kind: 'redact'; /** Text replacement; default `****`. */ mask?: string }
  | { kind: 'token'; scope: TokenScope }
  | { kind: 'null' };

export type StrategyKind = StrategySpec['kind'];

/**
 * The columns of a result as masking needs them: structurally a subset of
 * wire/postgres/rows.ts RowField (core may not import wire), so a decoded
 * RowDescription can be passed as is.
 */
export interface ResultColumn {
  name: string;
  tableOid: number;
  columnAttr: number;
  typeOid: number;
  format: 0 | 1;
}

/** Values masked per class (counts only, never values: this goes into audit events). */
export type ClassCounts = Record<string, number>;
