/**
 * Verifies OIDC JWTs (access or ID tokens) against a fixed list of trusted
 * issuers and turns them into Principals. The issuer is chosen by the
 * *unverified* `iss`, which is safe only because jwtVerify then checks the
 * signature with that issuer's keys and the `iss` claim itself.
 *
 * Fail closed: every check that cannot be completed (keys unavailable,
 * malformed claim, unknown algorithm) is a refusal with a GW_AUTH_* code.
 */
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { TokenVerifier } from '../../core/ports.ts';
import type { Principal, PrincipalKind } from '../../core/identity/principal.ts';
import { GatewayError } from '../../shared/errors.ts';
import { DevIssuer } from './dev-issuer.ts';
import { RemoteKeySource, isSecureUrl } from './key-source.ts';
import { isoSeconds, mapJoseError, q, refuse } from './refusals.ts';

export interface IssuerConfig {
  issuer: string;
  audience: string | string[];
  /** Default 'groups'. */
  groupsClaim?: string;
  /** Else OIDC discovery at issuer + '/.well-known/openid-configuration'. */
  jwksUri?: string;
  /** Default ['RS256', 'ES256', 'PS256', 'EdDSA']. */
  algorithms?: string[];
  /** Default 'workload' for GitHub Actions, else 'human'. */
  kind?: PrincipalKind;
  /** A claim whose value ('human' | 'workload') overrides `kind`. */
  kindClaim?: string;
}

export interface OidcTokenVerifierOptions {
  issuers: IssuerConfig[];
  /** Default 30. */
  clockSkewSeconds?: number;
  dev?: DevIssuer;
  fetchImpl?: typeof fetch;
}

export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';
export const DEFAULT_ALGORITHMS: readonly string[] = ['RS256', 'ES256', 'PS256', 'EdDSA'];
/**
 * Asymmetric algorithms only. `none` needs no key at all, and HS* would make
 * the issuer's *public* key (from its JWKS) a shared secret anyone can sign with.
 */
const ASYMMETRIC = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);
/** Bounds the work (base64/JSON decoding) an unauthenticated client can ask for. */
const MAX_TOKEN_CHARS = 16 * 1024;

interface TrustedIssuer {
  readonly issuer: string;
  readonly audience: readonly string[];
  readonly groupsClaim: string;
  readonly algorithms: readonly string[];
  readonly kind: PrincipalKind;
  readonly kindClaim: string | undefined;
  readonly getKey: JWTVerifyGetKey;
}

export class OidcTokenVerifier implements TokenVerifier {
  readonly #issuers = new Map<string, TrustedIssuer>();
  readonly #skew: number;

  constructor(opts: OidcTokenVerifierOptions) {
    this.#skew = opts.clockSkewSeconds ?? 30;
    if (!Number.isFinite(this.#skew) || this.#skew < 0 || this.#skew > 600) {
      throw new GatewayError('GW_CONFIG_INVALID', 'identity.clockSkew: expected 0 to 600 seconds');
    }
    opts.issuers.forEach((c, i) => this.#add(trusted(c, `identity.issuers[${i}]`, opts.fetchImpl)));
    if (opts.dev) {
      this.#add({
        issuer: DevIssuer.ISSUER,
        audience: [DevIssuer.AUDIENCE],
        groupsClaim: 'groups',
        algorithms: ['ES256'],
        kind: 'human',
        kindClaim: DevIssuer.KIND_CLAIM,
        getKey: createLocalJWKSet(opts.dev.jwks()),
      });
    }
  }

  #add(t: TrustedIssuer): void {
    if (this.#issuers.has(t.issuer)) throw new GatewayError('GW_CONFIG_INVALID', `issuer '${t.issuer}' is configured twice`);
    this.#issuers.set(t.issuer, t);
  }

  async verify(token: string): Promise<Principal> {
    if (typeof token !== 'string' || token.length === 0) throw refuse('GW_AUTH_TOKEN_MISSING', 'no token was presented');
    if (token.length > MAX_TOKEN_CHARS) {
      throw refuse('GW_AUTH_TOKEN_INVALID', `token is too large (${token.length} characters, limit ${MAX_TOKEN_CHARS})`);
    }
    let alg: unknown, kid: unknown, unverified: JWTPayload;
    try {
      ({ alg, kid } = decodeProtectedHeader(token));
      unverified = decodeJwt(token);
    } catch (e) {
      // Never echo the input: a mistyped password or a secret may have been pasted here.
      throw refuse('GW_AUTH_TOKEN_INVALID', 'token is not a JWT (expected a signed JWT: three base64url parts separated by dots)', e);
    }
    if (typeof alg !== 'string' || !ASYMMETRIC.has(alg)) {
      throw refuse('GW_AUTH_ALGORITHM', `algorithm ${q(alg ?? 'missing')} is not allowed`);
    }
    const iss = unverified.iss;
    if (typeof iss !== 'string') throw refuse('GW_AUTH_ISSUER_UNKNOWN', "token has no 'iss' claim");
    const t = this.#issuers.get(iss);
    if (!t) {
      if (iss === DevIssuer.ISSUER) {
        throw refuse('GW_DEV_ISSUER_DISABLED', 'token is from the built-in dev issuer, which is disabled (identity.dev: false)');
      }
      throw refuse('GW_AUTH_ISSUER_UNKNOWN', `issuer ${q(iss)} is not configured`);
    }
    if (!t.algorithms.includes(alg)) {
      throw refuse('GW_AUTH_ALGORITHM', `algorithm ${q(alg)} is not allowed for issuer ${q(iss)} (allowed: ${t.algorithms.join(', ')})`);
    }

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, t.getKey, {
        issuer: t.issuer,
        audience: [...t.audience],
        algorithms: [...t.algorithms],
        clockTolerance: this.#skew,
        // A token without expiry would be a permanent credential; without sub there is nobody to name.
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (e) {
      throw mapJoseError(e, { issuer: t.issuer, audience: t.audience, kid });
    }
    return this.#principal(t, payload);
  }

  #principal(t: TrustedIssuer, payload: JWTPayload): Principal {
    // jose checks iat only with maxTokenAge; a token issued in the future is as suspect as one with nbf there.
    if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + this.#skew) {
      throw refuse('GW_AUTH_TOKEN_NOT_YET_VALID', `token is issued in the future (iat ${isoSeconds(payload.iat)})`);
    }
    const { sub, exp } = payload;
    if (typeof sub !== 'string' || sub.length === 0) throw refuse('GW_AUTH_TOKEN_INVALID', "token claim 'sub' must be a non-empty string");
    const claims: Record<string, unknown> = structuredClone(payload);
    for (const k of ['iss', 'sub', 'exp', t.groupsClaim]) delete claims[k];
    return Object.freeze({
      issuer: t.issuer,
      subject: sub,
      kind: kindOf(t, payload),
      groups: Object.freeze(groupsOf(t.groupsClaim, payload[t.groupsClaim])),
      claims: deepFreeze(claims),
      expiresAt: typeof exp === 'number' ? exp * 1000 : undefined,
    });
  }
}

function trusted(c: IssuerConfig, path: string, fetchImpl: typeof fetch | undefined): TrustedIssuer {
  const bad = (msg: string) => new GatewayError('GW_CONFIG_INVALID', `${path}.${msg}`);
  const audience = Array.isArray(c.audience) ? c.audience : [c.audience];
  if (audience.length === 0 || audience.some((a) => typeof a !== 'string' || a === '')) throw bad('audience: expected a non-empty string');
  const algorithms = c.algorithms ?? [...DEFAULT_ALGORITHMS];
  const weak = algorithms.find((a) => !ASYMMETRIC.has(a));
  if (algorithms.length === 0 || weak !== undefined) {
    throw bad(`algorithms: '${weak ?? ''}' is not allowed; use asymmetric algorithms (${[...ASYMMETRIC].join(', ')})`);
  }
  if (c.issuer === DevIssuer.ISSUER) throw bad('issuer: the dev issuer is enabled with identity.dev, not listed');
  if (c.jwksUri !== undefined ? !isSecureUrl(c.jwksUri) : !isSecureUrl(c.issuer)) {
    throw bad(`${c.jwksUri !== undefined ? 'jwksUri' : 'issuer'}: keys must be fetched over https (http only on loopback)`);
  }
  return {
    issuer: c.issuer,
    audience,
    groupsClaim: c.groupsClaim ?? 'groups',
    algorithms,
    kind: c.kind ?? (c.issuer === GITHUB_ACTIONS_ISSUER ? 'workload' : 'human'),
    kindClaim: c.kindClaim,
    getKey: new RemoteKeySource({ issuer: c.issuer, jwksUri: c.jwksUri, fetchImpl }).getKey,
  };
}

/** string → [string]; string[] → as is; missing → []. Anything else is refused rather than guessed at. */
function groupsOf(claim: string, v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((g): g is string => typeof g === 'string')) return [...v];
  throw refuse('GW_AUTH_TOKEN_INVALID', `token claim '${claim}' must be a string or an array of strings`);
}

function kindOf(t: TrustedIssuer, payload: JWTPayload): PrincipalKind {
  const v = t.kindClaim === undefined ? undefined : payload[t.kindClaim];
  if (v === undefined) return t.kind;
  if (v === 'human' || v === 'workload') return v;
  throw refuse('GW_AUTH_TOKEN_INVALID', `token claim '${t.kindClaim}' must be 'human' or 'workload'`);
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
