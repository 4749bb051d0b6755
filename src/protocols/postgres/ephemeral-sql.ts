/**
 * The SQL that temporary credentials need, as pure functions: quoting, role
 * names, the SCRAM verifier and the statements themselves (issue 6, item 5).
 *
 * Why a SCRAM verifier and not the password: `CREATE ROLE … PASSWORD 'x'`
 * puts its literal in the upstream's server log whenever the statement is
 * logged (`log_statement = ddl|all`, or `log_min_error_statement` on a
 * failure) and in `pg_stat_activity` while it runs. Postgres accepts a
 * pre-computed verifier in place of the password (§ CREATE ROLE, "PASSWORD";
 * §53.3.1 "SCRAM-SHA-256 authentication"), so the cleartext password never
 * leaves Gatehouse's memory except inside the session's own SCRAM exchange.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/** Every role Gatehouse creates starts with this prefix … */
export const ROLE_PREFIX = 'gh_';
/** … and carries this comment; the start-up sweep drops only roles that have both. */
export const ROLE_MARKER = 'gatehouse-ephemeral';

/** NAMEDATALEN - 1: longer identifiers are silently truncated by Postgres. */
const MAX_IDENT_BYTES = 63;

/** `"name"` with embedded quotes doubled (§4.1.1). Refuses what Postgres would mangle. */
export function quoteIdent(name: string): string {
  if (name === '' || name.includes('\0') || Buffer.byteLength(name, 'utf8') > MAX_IDENT_BYTES) {
    throw new RangeError('not a valid Postgres identifier (1-63 bytes, no NUL)');
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * A string constant that means the same under either setting of
 * `standard_conforming_strings`: `E'…'` with backslashes doubled when the
 * text has any, else a plain `'…'` (§4.1.2.1, §4.1.2.2).
 */
export function quoteLiteral(text: string): string {
  if (text.includes('\0')) throw new RangeError('a Postgres string constant cannot contain NUL');
  const body = text.replace(/'/g, "''");
  return text.includes('\\') ? `E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}

/**
 * `gh_<short session id>_<random>`: lowercase [a-z0-9_] only, so the name
 * never needs quoting to be read back, and unique without coordination.
 */
export function ephemeralRoleName(sessionId: string, random: Buffer = randomBytes(5)): string {
  const short = sessionId.toLowerCase().replace(/[^a-z0-9]/g, '').slice(-10) || 'session';
  return `${ROLE_PREFIX}${short}_${random.toString('hex')}`;
}

/** 32 random bytes, base64url: 43 characters, ASCII, so SASLprep leaves it unchanged. */
export function ephemeralPassword(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The verifier Postgres stores for a SCRAM-SHA-256 password (RFC 5802 §3,
 * RFC 7677; the text form of src/backend/libpq/auth-scram.c):
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
 */
export function scramVerifier(password: string, opts: { salt?: Buffer; iterations?: number } = {}): string {
  // SASLprep is the identity on printable ASCII, the only passwords Gatehouse generates.
  if (!/^[\x21-\x7e]+$/.test(password)) throw new RangeError('scramVerifier: expected a printable ASCII password');
  const salt = opts.salt ?? randomBytes(16);
  const iterations = opts.iterations ?? 4096;
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/**
 * The role of one session: it may log in once at a time, until `validUntil`,
 * and has exactly the privileges of the template (INHERIT, member of it).
 * Run in one transaction with `markRoleSql`, so no role exists unmarked.
 */
export function createRoleSql(role: string, verifier: string, validUntil: Date, templateRole: string): string {
  return (
    `CREATE ROLE ${quoteIdent(role)} LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION CONNECTION LIMIT 1 ` +
    `PASSWORD ${quoteLiteral(verifier)} VALID UNTIL ${quoteLiteral(validUntil.toISOString())} IN ROLE ${quoteIdent(templateRole)}`
  );
}

export function markRoleSql(role: string): string {
  return `COMMENT ON ROLE ${quoteIdent(role)} IS ${quoteLiteral(ROLE_MARKER)}`;
}

/** Ends every backend logged in as `$1`; PG 14+ waits up to `waitMs` for each to exit. */
export function terminateBackendsSql(serverVersionNum: number, waitMs = 5000): string {
  const call = serverVersionNum >= 140000 ? `pg_terminate_backend(pid, ${Math.max(0, Math.trunc(waitMs))})` : 'pg_terminate_backend(pid)';
  return `SELECT count(*)::int AS n FROM (SELECT ${call} FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()) AS t`;
}

/**
 * Roles left over by any Gatehouse: the prefix *and* the marker comment.
 * `_` is a LIKE wildcard, hence the escape (`!`, not a backslash, so the
 * text means the same whatever `standard_conforming_strings` says).
 */
export const LEFTOVER_ROLES_SQL =
  `SELECT rolname FROM pg_roles WHERE rolname LIKE 'gh!_%' ESCAPE '!' ` +
  `AND shobj_description(oid, 'pg_authid') = ${quoteLiteral(ROLE_MARKER)} ORDER BY rolname`;
