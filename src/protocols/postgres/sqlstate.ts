/**
 * How Gatehouse's stable error codes are said in Postgres: the SQLSTATE a
 * client library maps to an exception class (Appendix A, "PostgreSQL Error Codes").
 */
import type { ErrorCode } from '../../shared/errors.ts';

const MAP: Partial<Record<ErrorCode, string>> = {
  GW_AUTH_TOKEN_MISSING: '28P01',
  GW_AUTH_TOKEN_INVALID: '28P01',
  GW_AUTH_TOKEN_EXPIRED: '28P01',
  GW_AUTH_TOKEN_NOT_YET_VALID: '28P01',
  GW_AUTH_ISSUER_UNKNOWN: '28P01',
  GW_AUTH_AUDIENCE: '28P01',
  GW_AUTH_SIGNATURE: '28P01',
  GW_AUTH_ALGORITHM: '28P01',
  GW_AUTH_GROUPS_MISSING: '28P01',
  GW_AUTH_JWKS_UNAVAILABLE: '28000',
  GW_TLS_REQUIRED: '28000',
  GW_CONNECTION_UNKNOWN: '3D000',
  GW_POLICY_DENIED: '42501',
  GW_UPSTREAM_UNAVAILABLE: '08001',
  GW_UPSTREAM_AUTH_FAILED: '08001',
  GW_UPSTREAM_PROTOCOL: '08P01',
  GW_FRAME_TOO_LARGE: '54000',
  GW_FRAME_MALFORMED: '08P01',
  GW_PROTOCOL_UNSUPPORTED: '0A000',
  GW_EVENT_STORE_UNAVAILABLE: '58000',
  GW_SHUTTING_DOWN: '57P01',
  GW_SESSION_KILLED: '57P01',
  // Masking (issue 4): a value that cannot be masked stops the statement; a refused statement is a privilege matter.
  GW_MASKING_UNSUPPORTED: '0A000',
  GW_MASKING_REFUSED: '42501',
};

export function sqlstateFor(code: ErrorCode): string {
  return MAP[code] ?? 'XX000';
}
