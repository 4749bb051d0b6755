/**
 * Opening the upstream connection: TCP, TLS per the connection's mode,
 * StartupMessage, then authentication with the vaulted credential
 * (SCRAM-SHA-256, md5 or cleartext) until ReadyForQuery (§55.2.1 "Start-up").
 *
 * The credential never leaves this module: errors name the connection and
 * the upstream's SQLSTATE, never the password.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { PostgresUpstreamSpec } from './spec.ts';
import { MessageRelay } from '../../wire/postgres/relay.ts';
import { BE, decodeAuthentication, decodeBackendKeyData, decodeErrorFields, decodeParameterStatus } from '../../wire/postgres/backend.ts';
import {
  encodePassword,
  encodeSASLInitialResponse,
  encodeSASLResponse,
  encodeSSLRequest,
  encodeStartup,
} from '../../wire/postgres/frontend.ts';
import { ScramClient } from '../../wire/postgres/scram.ts';
import { md5Password } from '../../wire/postgres/md5.ts';
import { GatewayError } from '../../shared/errors.ts';

export interface UpstreamConnection {
  readonly socket: net.Socket;
  readonly tls: boolean;
  /** ParameterStatus messages as received, to replay to the client. */
  readonly parameterStatus: readonly Buffer[];
  readonly backendKey: { processId: number; secretKey: number } | null;
  /** The relay, mid-stream: keep using it so no byte is lost or misframed. */
  readonly relay: MessageRelay;
  /** Bytes that followed ReadyForQuery in the same read (forward to the client). */
  readonly leftover: readonly Buffer[];
}

/** Connect a TCP (and maybe TLS) socket to the upstream. */
export async function dialUpstream(
  spec: PostgresUpstreamSpec,
  timeoutMs: number,
  connectionName: string,
): Promise<{ socket: net.Socket; tls: boolean }> {
  const raw = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: spec.host, port: spec.port });
    s.setNoDelay(true);
    const t = setTimeout(() => {
      s.destroy();
      reject(unavailable(connectionName, `connect timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      reject(unavailable(connectionName, e.code ?? e.message));
    });
  });
  if (spec.tls === 'disable') return { socket: raw, tls: false };
  raw.write(encodeSSLRequest());
  const answer = await readByte(raw, timeoutMs, connectionName);
  if (answer === 0x4e /* 'N' */) {
    if (spec.tls === 'prefer') return { socket: raw, tls: false };
    raw.destroy();
    // Fail closed: a connection configured to require TLS never falls back to plaintext.
    throw unavailable(connectionName, `upstream refused TLS but the connection requires it (tls: ${spec.tls})`);
  }
  if (answer !== 0x53 /* 'S' */) {
    raw.destroy();
    throw new GatewayError('GW_UPSTREAM_PROTOCOL', `upstream for '${connectionName}' answered SSLRequest with 0x${answer.toString(16)}`, {
      clientSafe: true,
    });
  }
  const verify = spec.tls === 'verify-full';
  const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({
      socket: raw,
      servername: net.isIP(spec.host) ? undefined : spec.host,
      rejectUnauthorized: verify,
      ...(spec.ca ? { ca: spec.ca } : {}),
      ...(verify ? {} : { checkServerIdentity: () => undefined }),
    });
    const t = setTimeout(() => {
      s.destroy();
      reject(unavailable(connectionName, 'TLS handshake timed out'));
    }, timeoutMs);
    s.once('secureConnect', () => {
      clearTimeout(t);
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(unavailable(connectionName, `TLS: ${e.message}`));
    });
  });
  return { socket: secure, tls: true };
}

/** Open, authenticate and wait for ReadyForQuery. */
export async function openUpstream(opts: {
  spec: PostgresUpstreamSpec;
  connectionName: string;
  /** Client startup parameters that are safe to pass on (application_name, client_encoding…). */
  params: Record<string, string>;
  timeoutMs: number;
  maxMessageBytes: number;
}): Promise<UpstreamConnection> {
  const { spec, connectionName } = opts;
  const { socket, tls: isTls } = await dialUpstream(spec, opts.timeoutMs, connectionName);
  const reader = new HandshakeReader(socket, opts.maxMessageBytes, opts.timeoutMs, connectionName);
  try {
    socket.write(encodeStartup({ ...opts.params, user: spec.user, database: spec.database }));
    const parameterStatus: Buffer[] = [];
    let backendKey: UpstreamConnection['backendKey'] = null;
    let scram: ScramClient | null = null;
    for (;;) {
      const frame = await reader.next();
      const type = frame[0]!;
      const payload = frame.subarray(5);
      switch (type) {
        case BE.Authentication: {
          const auth = decodeAuthentication(payload);
          switch (auth.kind) {
            case 'ok':
              // A server that skips SASLFinal would skip proving it knows the verifier: refuse.
              if (scram && !scram.serverVerified) throw authFailed(connectionName, 'upstream ended SCRAM without proving the server signature');
              break;
            case 'cleartext':
              socket.write(encodePassword(secret(spec, connectionName)));
              break;
            case 'md5':
              socket.write(encodePassword(md5Password(spec.user, secret(spec, connectionName), auth.salt)));
              break;
            case 'sasl': {
              if (!auth.mechanisms.includes('SCRAM-SHA-256')) {
                throw authFailed(connectionName, `no supported SASL mechanism (offered: ${auth.mechanisms.join(', ')})`);
              }
              // Bound the PBKDF2 work an upstream can ask for (it blocks the event loop, ~0.2 s per million).
              scram = new ScramClient(secret(spec, connectionName), undefined, { maxIterations: 1_000_000 });
              socket.write(encodeSASLInitialResponse('SCRAM-SHA-256', scram.clientFirstMessage()));
              break;
            }
            case 'sasl-continue':
              if (!scram) throw authFailed(connectionName, 'unexpected SASL continue');
              socket.write(encodeSASLResponse(scram.handleServerFirst(auth.data)));
              break;
            case 'sasl-final':
              if (!scram) throw authFailed(connectionName, 'unexpected SASL final');
              // Mutual authentication: the server must prove it knows the verifier.
              scram.verifyServerFinal(auth.data);
              break;
            default:
              throw authFailed(connectionName, `unsupported authentication method (code ${auth.code})`);
          }
          break;
        }
        case BE.ParameterStatus:
          decodeParameterStatus(payload); // validates
          parameterStatus.push(Buffer.from(frame));
          break;
        case BE.BackendKeyData:
          backendKey = decodeBackendKeyData(payload);
          break;
        case BE.NoticeResponse:
          break;
        case BE.ErrorResponse: {
          const f = decodeErrorFields(payload);
          const code = f.get('C') ?? 'XX000';
          if (code.startsWith('28')) throw authFailed(connectionName, `upstream rejected Gatehouse's credential (SQLSTATE ${code})`);
          throw new GatewayError(
            'GW_UPSTREAM_UNAVAILABLE',
            `upstream for '${connectionName}' refused the session: ${f.get('M') ?? 'error'} (SQLSTATE ${code})`,
            { clientSafe: true },
          );
        }
        case BE.ReadyForQuery:
          return { socket, tls: isTls, parameterStatus, backendKey, relay: reader.relay, leftover: reader.finish() };
        default:
          throw new GatewayError('GW_UPSTREAM_PROTOCOL', `unexpected message 0x${type.toString(16)} from upstream during start-up`, {
            clientSafe: true,
          });
      }
    }
  } catch (e) {
    socket.destroy();
    throw e;
  }
}

function secret(spec: PostgresUpstreamSpec, connectionName: string): string {
  const pw = spec.password();
  if (pw === undefined) throw authFailed(connectionName, 'upstream asked for a password but the connection has none configured');
  return pw;
}

function unavailable(connectionName: string, why: string): GatewayError {
  return new GatewayError('GW_UPSTREAM_UNAVAILABLE', `upstream for connection '${connectionName}' is unavailable: ${why}`, {
    clientSafe: true,
  });
}

function authFailed(connectionName: string, why: string): GatewayError {
  return new GatewayError('GW_UPSTREAM_AUTH_FAILED', `Gatehouse could not authenticate to the upstream of '${connectionName}': ${why}`, {
    clientSafe: true,
  });
}

async function readByte(socket: net.Socket, timeoutMs: number, connectionName: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => done(unavailable(connectionName, 'no answer to SSLRequest')), timeoutMs);
    const onReadable = (): void => {
      const b = socket.read(1) as Buffer | null;
      if (b) done(null, b[0]!);
    };
    const onEnd = (): void => done(unavailable(connectionName, 'closed during SSLRequest'));
    const done = (err: Error | null, v?: number): void => {
      clearTimeout(t);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
      if (err) reject(err);
      else resolve(v!);
    };
    socket.on('readable', onReadable);
    socket.on('end', onEnd);
    socket.on('error', onEnd);
  });
}

/**
 * Reads whole backend messages during start-up with the same MessageRelay the
 * relay phase goes on using, so bytes after ReadyForQuery are not lost.
 */
class HandshakeReader {
  readonly relay: MessageRelay;
  #frames: Buffer[] = [];
  #after: Buffer[] = [];
  #ready = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  readonly #onData = (chunk: Buffer): void => {
    try {
      const out = this.relay.feed(chunk, {
        disposition: () => (this.#ready ? 'pass' : 'hold'),
        message: (type, frame) => {
          if (this.#ready) return frame;
          this.#frames.push(frame);
          if (type === BE.ReadyForQuery) this.#ready = true;
          return null;
        },
      });
      this.#after.push(...out);
    } catch (e) {
      this.#error = e as Error;
    }
    this.#poke();
  };
  readonly #onEnd = (): void => {
    this.#error ??= unavailable(this.connectionName, 'upstream closed the connection during start-up');
    this.#poke();
  };

  constructor(
    readonly socket: net.Socket,
    maxMessageBytes: number,
    readonly timeoutMs: number,
    readonly connectionName: string,
  ) {
    this.relay = new MessageRelay({ maxHeldBytes: maxMessageBytes });
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onEnd);
    // A 'readable' listener (SSLRequest answer) may have left the socket paused.
    socket.resume();
  }

  #poke(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  async next(): Promise<Buffer> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const f = this.#frames.shift();
      if (f) return f;
      if (this.#error) throw this.#error;
      const left = deadline - Date.now();
      if (left <= 0) throw unavailable(this.connectionName, 'start-up timed out');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Detach and hand over what arrived after ReadyForQuery. */
  finish(): Buffer[] {
    this.socket.pause();
    this.socket.off('data', this.#onData);
    this.socket.off('end', this.#onEnd);
    this.socket.off('error', this.#onEnd);
    return this.#after;
  }
}
