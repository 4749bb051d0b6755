/**
 * The built-in dev issuer: an ES256 key kept in the state directory that signs
 * tokens for local use (`gatehouse token --dev`). It is only trusted when the
 * verifier is given an instance (identity.dev: true); otherwise its tokens are
 * refused with GW_DEV_ISSUER_DISABLED.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { GatewayError } from '../../shared/errors.ts';

const KEY_FILE = 'dev-issuer.jwk';
const ALG = 'ES256';

export interface DevTokenOptions {
  sub: string;
  groups: string[];
  claims?: Record<string, unknown>;
  /** Default 900 (15 minutes). */
  ttlSeconds?: number;
  /** Default 'gatehouse'. */
  audience?: string;
}

export class DevIssuer {
  static readonly ISSUER = 'https://gatehouse.dev.invalid';
  static readonly AUDIENCE = 'gatehouse';
  /** Claim a dev token may carry to say it is a 'workload' (default 'human'). */
  static readonly KIND_CLAIM = 'gatehouse_kind';

  readonly #privateKey: CryptoKey;
  readonly #publicJwk: JWK;

  private constructor(privateKey: CryptoKey, publicJwk: JWK) {
    this.#privateKey = privateKey;
    this.#publicJwk = publicJwk;
  }

  /** Loads `stateDir/dev-issuer.jwk`, creating it (mode 0600) on first use. */
  static async load(stateDir: string): Promise<DevIssuer> {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const file = join(stateDir, KEY_FILE);
    let jwk = readKey(file);
    if (!jwk) {
      const { privateKey } = await generateKeyPair(ALG, { extractable: true });
      const fresh = await exportJWK(privateKey);
      fresh.kid = await calculateJwkThumbprint(fresh);
      fresh.alg = ALG;
      fresh.use = 'sig';
      try {
        // 'wx': never overwrite a key another process created meanwhile (tokens it signed stay valid).
        writeFileSync(file, JSON.stringify(fresh, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
        jwk = fresh;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        jwk = readKey(file);
      }
    }
    if (!jwk || jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string') {
      throw new GatewayError('GW_INTERNAL', `dev issuer key ${file} is not an ES256 private JWK; delete it to create a new one`);
    }
    const privateKey = (await importJWK(jwk, ALG)) as CryptoKey;
    const { d: _d, ...pub } = jwk;
    return new DevIssuer(privateKey, { ...pub, kid: jwk.kid ?? (await calculateJwkThumbprint(pub)), alg: ALG, use: 'sig' });
  }

  async sign(opts: DevTokenOptions): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    // Custom claims first: the registered claims below always win, so a
    // caller cannot mint a token for another issuer or without expiry.
    return new SignJWT({ ...opts.claims, groups: [...opts.groups] })
      .setProtectedHeader({ alg: ALG, kid: this.#publicJwk.kid, typ: 'JWT' })
      .setIssuer(DevIssuer.ISSUER)
      .setSubject(opts.sub)
      .setAudience(opts.audience ?? DevIssuer.AUDIENCE)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + (opts.ttlSeconds ?? 900))
      .setJti(randomUUID())
      .sign(this.#privateKey);
  }

  /** The public key set (no private parts). */
  jwks(): { keys: JWK[] } {
    return { keys: [{ ...this.#publicJwk }] };
  }
}

function readKey(file: string): JWK | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  // A private key readable by others is a key anyone on the host can sign with: tighten it.
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  try {
    return JSON.parse(text) as JWK;
  } catch {
    throw new GatewayError('GW_INTERNAL', `dev issuer key ${file} is not valid JSON; delete it to create a new one`);
  }
}
