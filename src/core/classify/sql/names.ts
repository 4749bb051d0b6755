/**
 * Table names as policy sees them: `schema.table`, each part written the way
 * Postgres's quote_ident would (bare when it is a plain lower-case
 * identifier, otherwise double-quoted with inner quotes doubled). libpg_query
 * has already case-folded unquoted names and decoded U&"…" escapes, so
 * `Public.CUSTOMERS`, `"public"."customers"` and `U&"cust\006fmers"` all
 * become `public.customers`.
 */

const PLAIN = /^[a-z_][a-z0-9_$]*$/;

export function quoteIdent(part: string): string {
  return PLAIN.test(part) ? part : `"${part.replaceAll('"', '""')}"`;
}

export function qualify(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/** The schemas an unqualified name may resolve to, in order (see candidateTables). */
export function effectivePath(searchPath: readonly string[]): string[] {
  const out: string[] = [];
  for (const s of searchPath) {
    // `$user` names a schema after the upstream role; Gatehouse does not know
    // whether it exists, so it is skipped (documented limitation).
    if (s === '$user' || s === '') continue;
    if (!out.includes(s)) out.push(s);
  }
  return out;
}

/**
 * Every table an unqualified name could be, given the tracked search_path.
 *
 * Postgres picks the first schema in the path that *has* such a table, which
 * Gatehouse cannot see. Naming only the first schema would let a session with
 * `search_path = allowed, secret` read `secret.t` while policy checks
 * `allowed.t`. So every schema in the path is a candidate and each becomes a
 * pair: stricter than Postgres, never weaker. With the default path
 * (`"$user", public`) this is just `public`.
 *
 * `pg_catalog` is searched first implicitly; only relations named `pg_*`
 * live there, so it is a candidate for those names only. An empty path leaves
 * only `pg_catalog` (Postgres would fail to find anything else).
 */
export function candidateTables(name: string, searchPath: readonly string[]): string[] {
  const schemas = effectivePath(searchPath);
  const out: string[] = [];
  if (name.startsWith('pg_') || schemas.length === 0) out.push(qualify('pg_catalog', name));
  for (const s of schemas) {
    const q = qualify(s, name);
    if (!out.includes(q)) out.push(q);
  }
  return out;
}

/**
 * Where CREATE puts an unqualified new object: the first schema of the path
 * (Postgres: the first *existing* one; again Gatehouse cannot know, and the
 * first entry is what an operator reading the path expects).
 */
export function creationTable(name: string, searchPath: readonly string[]): string {
  const first = effectivePath(searchPath)[0];
  return qualify(first ?? 'public', name);
}

/** A name written as a list of identifiers (`a.b`, `b`) → candidates. */
export function tablesFromNameList(parts: readonly string[], searchPath: readonly string[]): string[] {
  if (parts.length === 0) return [];
  const name = parts[parts.length - 1] as string;
  const schema = parts.length >= 2 ? parts[parts.length - 2] : undefined;
  return schema === undefined ? candidateTables(name, searchPath) : [qualify(schema, name)];
}

/**
 * Parse a regclass-style string literal (`'public.orders_id_seq'`,
 * `'"Odd"."Seq"'`, `'Seq'`) into identifier parts with Postgres's folding
 * rules. Returns null when it is not a plain (possibly qualified) name.
 */
export function parseQualifiedName(text: string): string[] | null {
  const parts: string[] = [];
  let i = 0;
  const s = text.trim();
  while (i < s.length) {
    if (s[i] === '"') {
      let j = i + 1;
      let part = '';
      for (;;) {
        if (j >= s.length) return null;
        if (s[j] === '"') {
          if (s[j + 1] === '"') {
            part += '"';
            j += 2;
            continue;
          }
          break;
        }
        part += s[j];
        j += 1;
      }
      parts.push(part);
      i = j + 1;
    } else {
      const m = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/.exec(s.slice(i));
      if (!m) return null;
      parts.push(m[0].toLowerCase());
      i += m[0].length;
    }
    if (i === s.length) break;
    if (s[i] !== '.') return null;
    i += 1;
    if (i === s.length) return null;
  }
  return parts.length > 0 && parts.length <= 3 ? parts : null;
}
