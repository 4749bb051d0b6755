/**
 * Where an issuer's signing keys come from: a configured `jwksUri`, or the
 * `jwks_uri` of its OIDC discovery document. Keys are cached by jose's
 * remote JWKS set (refetched after CACHE_MAX_AGE_MS; a token with an unknown
 * `kid` triggers at most one refetch per COOLDOWN_MS, so a flood of forged
 * kids cannot turn the gateway into a traffic amplifier against the IdP).
 */
import { createRemoteJWKSet, customFetch, errors, type JWTVerifyGetKey, type RemoteJWKSet } from 'jose';
import { GatewayError } from '../../shared/errors.ts';

export const COOLDOWN_MS = 30_000;
export const CACHE_MAX_AGE_MS = 10 * 60_000;
export const FETCH_TIMEOUT_MS = 5_000;
export const FAILURE_BACKOFF_MS = 5_000;
const MAX_DISCOVERY_BYTES = 256 * 1024;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Keys fetched over plain HTTP could be swapped by anyone on the path, which
 * would let them mint tokens. Only https is accepted, except on loopback
 * (local IdPs and tests), where there is no path to attack.
 */
export function isSecureUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  return u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname));
}

export function discoveryUrl(issuer: string): string {
  return issuer.replace(/\/+$/, '') + '/.well-known/openid-configuration';
}

function unavailable(issuer: string, reason: string, cause?: unknown): GatewayError {
  return new GatewayError('GW_AUTH_JWKS_UNAVAILABLE', `cannot fetch the signing keys of issuer '${issuer}' (${reason}); try again later`, {
    clientSafe: true,
    cause,
  });
}

/** Errors from the key lookup itself (as opposed to transport) that the verifier maps on its own. */
function isKeySelectionError(e: unknown): boolean {
  return (
    e instanceof errors.JWKSNoMatchingKey ||
    e instanceof errors.JWKSMultipleMatchingKeys ||
    e instanceof errors.JOSENotSupported ||
    e instanceof errors.JWSInvalid
  );
}

export class RemoteKeySource {
  readonly #issuer: string;
  readonly #fetch: typeof fetch;
  #jwks: RemoteJWKSet | undefined;
  #pending: Promise<RemoteJWKSet> | undefined;
  #failure: { at: number; error: GatewayError } | undefined;

  constructor(opts: { issuer: string; jwksUri?: string; fetchImpl?: typeof fetch }) {
    this.#issuer = opts.issuer;
    this.#fetch = opts.fetchImpl ?? fetch;
    if (opts.jwksUri !== undefined) this.#jwks = this.#remote(opts.jwksUri);
  }

  /**
   * A jose key resolver; transport failures become GW_AUTH_JWKS_UNAVAILABLE
   * (a refusal: without keys nothing can be verified). A failure is
   * remembered for FAILURE_BACKOFF_MS so that an IdP outage plus a stream of
   * tokens does not become a stream of requests to the IdP.
   */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const last = this.#failure;
    if (last && Date.now() - last.at < FAILURE_BACKOFF_MS) throw last.error;
    try {
      const jwks = this.#jwks ?? (await this.#discover());
      const key = await jwks(header, token);
      this.#failure = undefined;
      return key;
    } catch (e) {
      if (isKeySelectionError(e)) throw e;
      const error = e instanceof GatewayError ? e : unavailable(this.#issuer, e instanceof errors.JWKSTimeout ? 'timeout' : 'JWKS fetch failed', e);
      this.#failure = { at: Date.now(), error };
      throw error;
    }
  };

  #remote(uri: string): RemoteJWKSet {
    const fetchImpl = this.#fetch;
    return createRemoteJWKSet(new URL(uri), {
      cooldownDuration: COOLDOWN_MS,
      cacheMaxAge: CACHE_MAX_AGE_MS,
      timeoutDuration: FETCH_TIMEOUT_MS,
      [customFetch]: (url, init) => fetchImpl(url, init),
    });
  }

  /** One discovery request at a time, shared by all waiting verifications. */
  #discover(): Promise<RemoteJWKSet> {
    this.#pending ??= this.#fetchDiscovery()
      .then((uri) => (this.#jwks = this.#remote(uri)))
      .finally(() => {
        this.#pending = undefined;
      });
    return this.#pending;
  }

  async #fetchDiscovery(): Promise<string> {
    const url = discoveryUrl(this.#issuer);
    let res: Response;
    try {
      res = await this.#fetch(url, {
        headers: { accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
    } catch (e) {
      throw unavailable(this.#issuer, 'discovery request failed', e);
    }
    if (res.status !== 200) throw unavailable(this.#issuer, `discovery returned HTTP ${res.status}`);
    const text = await res.text();
    if (text.length > MAX_DISCOVERY_BYTES) throw unavailable(this.#issuer, 'discovery document too large');
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw unavailable(this.#issuer, 'discovery document is not JSON', e);
    }
    const { issuer, jwks_uri: jwksUri } = (doc ?? {}) as { issuer?: unknown; jwks_uri?: unknown };
    // OIDC Discovery 1.0 §4.3: the document must name the issuer it was fetched for,
    // otherwise one IdP could hand out keys for another (mix-up).
    if (issuer !== this.#issuer) throw unavailable(this.#issuer, 'discovery document names a different issuer');
    if (typeof jwksUri !== 'string' || !isSecureUrl(jwksUri)) {
      throw unavailable(this.#issuer, 'discovery document has no https jwks_uri');
    }
    return jwksUri;
  }
}
