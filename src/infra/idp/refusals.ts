/**
 * Turns jose's verification errors into GatewayErrors with stable codes and
 * messages a client can act on. Every path ends in a refusal (fail closed):
 * an error we do not recognise becomes GW_AUTH_TOKEN_INVALID, never a pass.
 * Messages are built from claims and config only, never from the token text.
 */
import { errors } from 'jose';
import { GatewayError, type ErrorCode } from '../../shared/errors.ts';

export function refuse(code: ErrorCode, message: string, cause?: unknown): GatewayError {
  return new GatewayError(code, message, { clientSafe: true, cause });
}

/** Quotes an attacker-controlled value for a message: printable ASCII only, bounded length. */
export function q(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return `'${clean.length > 120 ? clean.slice(0, 117) + '...' : clean}'`;
}

/** `2026-01-02T03:04:05Z` (seconds precision, like the claim itself). */
export function isoSeconds(epochSeconds: unknown): string {
  if (typeof epochSeconds !== 'number' || !Number.isFinite(epochSeconds)) return 'an invalid time';
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function describeAudience(aud: unknown): string {
  return Array.isArray(aud) ? `[${aud.map(q).join(', ')}]` : q(aud);
}

export interface RefusalContext {
  readonly issuer: string;
  readonly audience: readonly string[];
  readonly kid: unknown;
}

export function mapJoseError(e: unknown, ctx: RefusalContext): GatewayError {
  if (e instanceof GatewayError) return e;
  if (e instanceof errors.JWTExpired) {
    return refuse('GW_AUTH_TOKEN_EXPIRED', `token expired at ${isoSeconds(e.payload.exp)}`, e);
  }
  if (e instanceof errors.JWTClaimValidationFailed) {
    const { claim, reason, payload } = e;
    const want = ctx.audience.length === 1 ? q(ctx.audience[0]) : `any of ${ctx.audience.map(q).join(', ')}`;
    if (claim === 'aud' && reason === 'missing') return refuse('GW_AUTH_AUDIENCE', `token has no 'aud' claim; expected ${want}`, e);
    if (reason === 'missing') return refuse('GW_AUTH_TOKEN_INVALID', `token has no '${claim}' claim`, e);
    if (reason === 'invalid') return refuse('GW_AUTH_TOKEN_INVALID', `token claim '${claim}' has an invalid type`, e);
    switch (claim) {
      case 'nbf':
        return refuse('GW_AUTH_TOKEN_NOT_YET_VALID', `token is not valid before ${isoSeconds(payload.nbf)}`, e);
      case 'aud':
        return refuse('GW_AUTH_AUDIENCE', `token audience ${describeAudience(payload.aud)} does not include ${want}`, e);
      case 'iss':
        return refuse('GW_AUTH_ISSUER_UNKNOWN', `issuer ${q(payload.iss)} is not configured`, e);
      default:
        return refuse('GW_AUTH_TOKEN_INVALID', `token claim '${claim}' is not acceptable`, e);
    }
  }
  if (e instanceof errors.JOSEAlgNotAllowed || e instanceof errors.JOSENotSupported) {
    return refuse('GW_AUTH_ALGORITHM', `token algorithm is not allowed for issuer ${q(ctx.issuer)}`, e);
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) {
    return refuse('GW_AUTH_SIGNATURE', `token signature is not valid for issuer ${q(ctx.issuer)}`, e);
  }
  if (e instanceof errors.JWKSNoMatchingKey) {
    const kid = ctx.kid === undefined ? 'no kid' : `kid ${q(ctx.kid)}`;
    return refuse('GW_AUTH_SIGNATURE', `no signing key of issuer ${q(ctx.issuer)} matches the token (${kid})`, e);
  }
  if (e instanceof errors.JWKSMultipleMatchingKeys) {
    return refuse('GW_AUTH_SIGNATURE', `token signature is not valid for any matching key of issuer ${q(ctx.issuer)}`, e);
  }
  if (e instanceof errors.JWKSTimeout || e instanceof errors.JWKSInvalid) {
    return refuse('GW_AUTH_JWKS_UNAVAILABLE', `cannot fetch the signing keys of issuer ${q(ctx.issuer)}; try again later`, e);
  }
  // JWSInvalid, JWTInvalid, TypeErrors on malformed claims, anything unforeseen: refuse.
  return refuse('GW_AUTH_TOKEN_INVALID', 'token is malformed or could not be verified', e);
}
