/**
 * Accessors for libpg_query's JSON parse tree. `Node *` fields are wrapped
 * as `{ "TypeName": {...} }`; fixed-struct fields are written inline.
 */
export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
/** A `String` node's value. */
export const str = (v: unknown): string | undefined => (isObj(v) && isObj(v.String) && typeof v.String.sval === 'string' ? v.String.sval : undefined);
/** A name list (`funcname`, `fields`); `*` for A_Star. */
export const names = (v: unknown): string[] => arr(v).map((x) => str(x) ?? '*');

/** `{ Kind: body }` → [Kind, body]. */
export function node(v: unknown): [string, Obj] | null {
  if (!isObj(v)) return null;
  const keys = Object.keys(v);
  if (keys.length !== 1) return null;
  const body = v[keys[0]!];
  return isObj(body) ? [keys[0]!, body] : null;
}
