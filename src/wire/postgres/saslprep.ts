/**
 * SASLprep (RFC 4013) exactly as PostgreSQL applies it to SCRAM passwords.
 *
 * Why not just `password.normalize('NFKC')`: libpq (fe-auth-scram.c,
 * scram_init) calls pg_saslprep (src/common/saslprep.c) and, when that
 * reports the input as prohibited or not UTF-8, falls back to the raw
 * password; the server does the same when it stores the verifier
 * (scram_build_secret). To derive the same SaltedPassword as the stored
 * verifier we must reproduce pg_saslprep, including its quirks:
 *   1. a pure-ASCII string is returned unchanged (even with control chars);
 *   2. map: C.1.2 spaces to U+0020 (checked first, so U+200B becomes a space
 *      although B.1 lists it too), B.1 characters to nothing; an empty result
 *      is "prohibited";
 *   3. normalize the mapped string with NFKC;
 *   4. the prohibited-output, unassigned (A.1) and bidi checks run on the
 *      mapped string *before* normalization;
 *   5. any failure means: use the raw password.
 * Residual difference: NFKC uses Node's ICU Unicode version, Postgres its own
 * (both current); they only differ for characters added in between.
 * Verified against verifiers produced by PostgreSQL 18 (saslprep.test.ts).
 */
import { inTable, tables } from './saslprep-tables.ts';

const ASCII = /^[\x00-\x7f]*$/;

/** The string libpq feeds to PBKDF2 for this password. */
export function saslprep(password: string): string {
  if (ASCII.test(password)) return password;

  const mapped: number[] = [];
  for (const ch of password) {
    const cp = ch.codePointAt(0)!;
    // A lone surrogate is the JS analogue of invalid UTF-8: pg_saslprep
    // returns SASLPREP_INVALID_UTF8 and libpq uses the raw password.
    if (cp >= 0xd800 && cp <= 0xdfff) return password;
    if (inTable(cp, tables.nonAsciiSpace)) mapped.push(0x20);
    else if (!inTable(cp, tables.mappedToNothing)) mapped.push(cp);
  }
  if (mapped.length === 0) return password;

  for (const cp of mapped) {
    if (inTable(cp, tables.prohibited) || inTable(cp, tables.unassigned)) return password;
  }

  // RFC 3454 §6: with any RandALCat character, no LCat character may appear
  // and the string must start and end with RandALCat.
  if (mapped.some((cp) => inTable(cp, tables.randAlCat))) {
    if (mapped.some((cp) => inTable(cp, tables.lCat))) return password;
    if (!inTable(mapped[0]!, tables.randAlCat) || !inTable(mapped[mapped.length - 1]!, tables.randAlCat)) return password;
  }

  let s = '';
  for (const cp of mapped) s += String.fromCodePoint(cp);
  return s.normalize('NFKC');
}
