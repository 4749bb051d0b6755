/**
 * SCRAM-SHA-256 client for authenticating to an upstream Postgres
 * (RFC 5802, RFC 7677; https://www.postgresql.org/docs/current/sasl-authentication.html).
 * It follows libpq (src/interfaces/libpq/fe-auth-scram.c) without channel
 * binding: gs2 header "n,,", empty user name (the server takes the user from
 * the StartupMessage), 18 random nonce bytes in base64, and the password
 * prepared with pg_saslprep semantics (see saslprep.ts).
 *
 * Flow: clientFirstMessage() → SASLInitialResponse; AuthenticationSASLContinue
 * data → handleServerFirst() → SASLResponse; AuthenticationSASLFinal data →
 * verifyServerFinal(). The adapter must not accept AuthenticationOk unless
 * `serverVerified` is true: otherwise a server (or a man in the middle) that
 * skips SASLFinal would be trusted without proving it knows the verifier.
 *
 * Pure and synchronous: PBKDF2 runs with pbkdf2Sync and blocks for the
 * iteration count the server picks: 4096 by default (~1 ms), but ~0.2 s per
 * million, so the default cap of 10M allows a hostile upstream a ~2 s stall;
 * pass a lower opts.maxIterations where upstreams are not trusted.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../../shared/errors.ts';
import { saslprep } from './saslprep.ts';

const DEFAULT_MAX_ITERATIONS = 10_000_000;
/** RFC 5802 §7 "printable": %x21-2B / %x2D-7E (no comma). */
const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const GS2_HEADER = 'n,,';

/** 'failed' is terminal: after any error the exchange cannot be resumed or retried. */
type State = 'initial' | 'first-sent' | 'final-sent' | 'verified' | 'failed';

function protocolError(message: string): GatewayError {
  return new GatewayError('GW_UPSTREAM_PROTOCOL', `SCRAM: ${message}`);
}

function authFailed(message: string): GatewayError {
  return new GatewayError('GW_UPSTREAM_AUTH_FAILED', `SCRAM: ${message}`);
}

function hmac(key: Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** RFC 5802 §5.1 saslname: "=" and "," are escaped as =3D and =2C. */
function saslname(s: string): string {
  return s.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

/** Server messages are UTF-8 text without NUL (libpq rejects a length mismatch with strlen). */
function serverText(data: Buffer, what: string): string {
  const text = data.toString('utf8');
  if (data.length === 0 || data.includes(0) || !Buffer.from(text, 'utf8').equals(data)) {
    throw protocolError(`malformed ${what}`);
  }
  return text;
}

export class ScramClient {
  #state: State = 'initial';
  #password: string;
  readonly #nonce: string;
  readonly #clientFirstBare: string;
  readonly #maxIterations: number;
  #serverSignature: Buffer | null = null;

  /**
   * @param nonce fixed client nonce, for tests only.
   * @param opts.username user name for client-first (Postgres ignores it; RFC test vectors need it).
   * @param opts.maxIterations largest iteration count accepted from the server.
   */
  constructor(password: string, nonce?: string, opts: { username?: string; maxIterations?: number } = {}) {
    this.#password = password;
    this.#nonce = nonce ?? randomBytes(18).toString('base64');
    if (!PRINTABLE.test(this.#nonce)) throw new GatewayError('GW_INTERNAL', 'SCRAM: client nonce must be printable ASCII without ","');
    this.#clientFirstBare = `n=${saslname(opts.username ?? '')},r=${this.#nonce}`;
    this.#maxIterations = opts.maxIterations ?? DEFAULT_MAX_ITERATIONS;
  }

  /** True once the server proved knowledge of the verifier (ServerSignature matched). */
  get serverVerified(): boolean {
    return this.#state === 'verified';
  }

  /** client-first-message, the data of SASLInitialResponse. */
  clientFirstMessage(): Buffer {
    if (this.#state !== 'initial') throw protocolError('client-first-message already sent');
    this.#state = 'first-sent';
    return Buffer.from(GS2_HEADER + this.#clientFirstBare, 'utf8');
  }

  /** Takes server-first-message (AuthenticationSASLContinue data), returns client-final-message. */
  handleServerFirst(data: Buffer): Buffer {
    if (this.#state !== 'first-sent') throw protocolError('unexpected server-first-message');
    this.#state = 'failed'; // until it succeeds
    const serverFirst = serverText(data, 'server-first-message');
    // server-first-message = nonce "," salt "," iteration-count; like libpq we
    // reject mandatory extensions ("m=") and anything after the count.
    const parts = serverFirst.split(',');
    if (parts.length !== 3 || !parts[0]!.startsWith('r=') || !parts[1]!.startsWith('s=') || !parts[2]!.startsWith('i=')) {
      throw protocolError('malformed server-first-message');
    }
    const nonce = parts[0]!.slice(2);
    const saltB64 = parts[1]!.slice(2);
    const iterText = parts[2]!.slice(2);
    // The server must extend our nonce (RFC 5802 §5.1 "r="): anything else is a replay or a broken server.
    if (!PRINTABLE.test(nonce) || nonce.length <= this.#nonce.length || !nonce.startsWith(this.#nonce)) {
      throw authFailed('server nonce does not extend the client nonce');
    }
    if (saltB64 === '' || !BASE64.test(saltB64)) throw protocolError('salt is not valid base64');
    const salt = Buffer.from(saltB64, 'base64');
    if (!/^[1-9][0-9]{0,9}$/.test(iterText) || Number(iterText) > this.#maxIterations) {
      throw protocolError(`iteration count must be between 1 and ${this.#maxIterations}`);
    }
    const iterations = Number(iterText);

    // RFC 5802 §3: SaltedPassword := Hi(Normalize(password), salt, i); Hi is PBKDF2 with HMAC.
    const saltedPassword = pbkdf2Sync(saslprep(this.#password), salt, iterations, 32, 'sha256');
    this.#password = ''; // not needed any more; do not keep it reachable from this object
    const clientKey = hmac(saltedPassword, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=${Buffer.from(GS2_HEADER).toString('base64')},r=${nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const clientSignature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
    this.#serverSignature = hmac(hmac(saltedPassword, 'Server Key'), authMessage);
    this.#state = 'final-sent';
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  /** Checks server-final-message (AuthenticationSASLFinal data); throws GW_UPSTREAM_AUTH_FAILED on mismatch. */
  verifyServerFinal(data: Buffer): void {
    if (this.#state !== 'final-sent' || this.#serverSignature === null) throw protocolError('unexpected server-final-message');
    this.#state = 'failed'; // until it succeeds
    const text = serverText(data, 'server-final-message');
    if (text.startsWith('e=')) {
      // server-error values are a fixed vocabulary (RFC 5802 §7); keep only those characters.
      throw authFailed(`server reported error "${text.slice(2).replace(/[^a-z0-9-]/g, '')}"`);
    }
    if (!text.startsWith('v=') || text.includes(',') || !BASE64.test(text.slice(2))) {
      throw protocolError('malformed server-final-message');
    }
    const signature = Buffer.from(text.slice(2), 'base64');
    const expected = this.#serverSignature;
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
      throw authFailed('server signature does not match');
    }
    this.#state = 'verified';
  }
}
