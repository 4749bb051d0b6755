/**
 * The Postgres adapter: the client-facing start-up (§55.2.1), then a relay
 * session. It only knows how to *say* things in Postgres; every decision is
 * core's (SessionService).
 *
 *   SSLRequest → 'S' + TLS (or 'N'); GSSENCRequest → 'N';
 *   CancelRequest → mapped to the client's own upstream backend, or ignored;
 *   StartupMessage (database = connection name) → AuthenticationCleartextPassword
 *   → PasswordMessage (the OIDC token) → core opens the session → upstream
 *   start-up with the vaulted credential → AuthenticationOk, ParameterStatus*,
 *   BackendKeyData (Gatehouse's own key), ReadyForQuery.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { SessionService, Session } from '../../core/sessions/session-service.ts';
import type { Logger } from '../../core/logger.ts';
import type { CredentialLease, PostgresAdapterOptions, PostgresUpstreamSpec } from './spec.ts';
import { SocketFrames } from './socket-frames.ts';
import { CancelRegistry } from './cancel.ts';
import { dialUpstream, openUpstream } from './upstream.ts';
import { PgRelaySession } from './relay-session.ts';
import { sqlstateFor } from './sqlstate.ts';
import { parseStartup, decodePassword, FE, encodeCancelRequest } from '../../wire/postgres/frontend.ts';
import {
  encodeAuthenticationCleartextPassword,
  encodeAuthenticationOk,
  encodeBackendKeyData,
  encodeErrorResponse,
  encodeReadyForQuery,
} from '../../wire/postgres/backend.ts';
import { GatewayError, clientMessage, isGatewayError } from '../../shared/errors.ts';
import { ClassificationCache } from '../../core/classify/sql/cache.ts';
import type { MaskingService } from './masking.ts';

export const PROTOCOL = 'postgres';

/** Client start-up parameters passed on to the upstream; anything else is dropped. */
const FORWARDED_PARAMS = new Set([
  'application_name',
  'client_encoding',
  'DateStyle',
  'TimeZone',
  'IntervalStyle',
  'extra_float_digits',
]);
// Not search_path: Gatehouse tracks it from SET statements to resolve table names for policy.

export interface PostgresAdapterDeps {
  sessions: SessionService;
  options: PostgresAdapterOptions;
  /** Client-facing TLS; undefined means SSLRequest is declined. */
  tlsContext: () => tls.SecureContext | undefined;
  log: Logger;
  /** Result masking (issue 4); absent: results pass unmasked (adapter tests only). */
  masking?: MaskingService;
}

export class PostgresAdapter {
  readonly #deps: PostgresAdapterDeps;
  readonly #cancel = new CancelRegistry();
  readonly #relays = new Set<PgRelaySession>();
  readonly #classifier = new ClassificationCache();

  constructor(deps: PostgresAdapterDeps) {
    this.#deps = deps;
  }

  get activeRelays(): number {
    return this.#relays.size;
  }

  /** Entry point for each accepted TCP connection. Never throws. */
  handle(socket: net.Socket): void {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    this.#run(socket).catch((e) => {
      this.#deps.log.error({ err: e }, 'postgres connection failed');
      socket.destroy();
    });
  }

  async #run(rawSocket: net.Socket): Promise<void> {
    const { options, log } = this.#deps;
    const clientAddress = rawSocket.remoteAddress ?? 'unknown';
    let socket: net.Socket = rawSocket;
    let isTls = false;
    let frames = new SocketFrames(socket, options.maxMessageBytes, options.handshakeTimeoutMs);
    let params: Map<string, string>;
    try {
      // Negotiation loop: at most one SSLRequest and one GSSENCRequest precede the StartupMessage.
      for (let round = 0; ; round++) {
        if (round > 2) throw new GatewayError('GW_FRAME_MALFORMED', 'too many negotiation requests', { clientSafe: true });
        const packet = parseStartup((await frames.nextStartup()).payload);
        if (packet.kind === 'cancel') {
          frames.release();
          await this.#onCancel(packet.processId, packet.secretKey);
          socket.destroy();
          return;
        }
        if (packet.kind === 'gssenc') {
          socket.write(Buffer.from('N'));
          continue;
        }
        if (packet.kind === 'ssl') {
          const ctx = isTls ? undefined : this.#deps.tlsContext();
          if (!ctx) {
            socket.write(Buffer.from('N'));
            continue;
          }
          // CVE-2021-23214: bytes sent before the TLS handshake must not be treated as encrypted traffic.
          if (frames.reader.bufferedBytes > 0) {
            throw new GatewayError('GW_FRAME_MALFORMED', 'unencrypted data after SSLRequest', { clientSafe: true });
          }
          frames.release();
          socket.write(Buffer.from('S'));
          socket = await upgradeToTls(rawSocket, ctx, options.handshakeTimeoutMs);
          isTls = true;
          frames = new SocketFrames(socket, options.maxMessageBytes, options.handshakeTimeoutMs);
          continue;
        }
        if (packet.major !== 3) {
          throw new GatewayError('GW_PROTOCOL_UNSUPPORTED', `unsupported frontend protocol ${packet.major}.${packet.minor}: Gatehouse speaks 3.0`, {
            clientSafe: true,
          });
        }
        params = packet.params;
        break;
      }
    } catch (e) {
      this.#reject(socket, e, 'FATAL');
      return;
    }

    const connection = params.get('database') ?? params.get('user') ?? '';
    const user = params.get('user') ?? '';
    if (params.has('replication')) {
      this.#reject(socket, new GatewayError('GW_PROTOCOL_UNSUPPORTED', 'replication connections are not supported through Gatehouse', { clientSafe: true }), 'FATAL');
      return;
    }
    const loopback = isLoopback(clientAddress);
    if (!isTls && options.requireTls && !(loopback && options.allowLoopbackWithoutTls)) {
      // Refuse before asking for the token, so it is never sent in clear.
      this.#reject(
        socket,
        new GatewayError('GW_TLS_REQUIRED', 'Gatehouse requires TLS for non-local clients: connect with sslmode=require', { clientSafe: true }),
        'FATAL',
      );
      return;
    }

    let token: string;
    try {
      socket.write(encodeAuthenticationCleartextPassword());
      const msg = await frames.next();
      if (msg.type !== FE.Password) {
        throw new GatewayError('GW_FRAME_MALFORMED', 'expected a password message', { clientSafe: true });
      }
      token = decodePassword(msg.payload);
    } catch (e) {
      this.#reject(socket, e, 'FATAL');
      return;
    }
    if (token === '') {
      this.#reject(socket, new GatewayError('GW_AUTH_TOKEN_MISSING', 'no token: pass your OIDC token as the password', { clientSafe: true }), 'FATAL');
      return;
    }

    let session: Session;
    try {
      session = await this.#deps.sessions.open({ protocol: PROTOCOL, connection, token, clientAddress, tls: isTls });
    } catch (e) {
      this.#reject(socket, e, 'FATAL');
      return;
    }
    const slog = session.log.child({ connection, user, client: clientAddress });
    let spec = session.connection.spec as PostgresUpstreamSpec;
    // Temporary credentials (credentials.mode: ephemeral): a role of this session's own, revoked when it ends.
    let lease: CredentialLease | null = null;

    let upstream: Awaited<ReturnType<typeof openUpstream>>;
    try {
      if (spec.credentials) spec = (lease = await spec.credentials.issue(session)).spec;
      const fwd: Record<string, string> = {};
      for (const [k, v] of params) if (FORWARDED_PARAMS.has(k)) fwd[k] = v;
      upstream = await openUpstream({
        spec,
        connectionName: connection,
        params: fwd,
        timeoutMs: options.upstreamConnectTimeoutMs,
        maxMessageBytes: options.maxMessageBytes,
      });
    } catch (e) {
      slog.warn({ code: isGatewayError(e) ? e.code : undefined, msg: clientMessage(e) }, 'upstream connection failed');
      this.#reject(socket, e, 'FATAL');
      await lease?.release();
      await session.close('upstream_failed');
      return;
    }
    // Killed (shutdown, grant revoked) while the upstream was being opened:
    // the kill handler below did not exist yet, so end the session here.
    if (session.state !== 'open') {
      upstream.socket.destroy();
      this.#reject(socket, new GatewayError('GW_SESSION_KILLED', 'terminating connection: the session was ended while connecting', { clientSafe: true }), 'FATAL');
      await lease?.release();
      await session.close('killed');
      return;
    }

    // Gatehouse's own cancel key, mapped to the upstream's.
    const key = upstream.backendKey
      ? this.#cancel.issue({ spec, connectionName: connection, upstreamKey: upstream.backendKey, sessionId: session.id })
      : null;
    const hello: Buffer[] = [encodeAuthenticationOk(), ...upstream.parameterStatus];
    if (key) hello.push(encodeBackendKeyData(key.processId, key.secretKey));
    hello.push(encodeReadyForQuery('I'), ...upstream.leftover);
    socket.write(Buffer.concat(hello));
    frames.release();

    const relay = new PgRelaySession(session, {
      client: socket,
      clientReader: frames.reader,
      upstream: upstream.socket,
      upstreamRelay: upstream.relay,
      classifier: this.#classifier,
      recordRows: options.recordRows,
      masking: this.#deps.masking?.forSession(session) ?? null,
    });
    this.#relays.add(relay);
    session.onKill((reason) => relay.kill(reason));
    slog.info({ tls: isTls, upstreamTls: upstream.tls }, 'session started');
    relay.start();
    const reason = await relay.done;
    this.#relays.delete(relay);
    if (key) this.#cancel.release(key.processId);
    await lease?.release();
    await session.close(reason);
    slog.info({ reason }, 'session ended');
  }

  async #onCancel(processId: number, secretKey: number): Promise<void> {
    const target = this.#cancel.lookup(processId, secretKey);
    if (!target) {
      this.#deps.log.warn({ processId }, 'cancel request with unknown key ignored');
      return;
    }
    try {
      const { socket } = await dialUpstream(target.spec, this.#deps.options.upstreamConnectTimeoutMs, target.connectionName);
      socket.end(encodeCancelRequest(target.upstreamKey.processId, target.upstreamKey.secretKey));
      socket.on('error', () => {});
      this.#deps.log.info({ sessionId: target.sessionId }, 'cancel request forwarded');
    } catch (e) {
      this.#deps.log.warn({ err: e, sessionId: target.sessionId }, 'cancel request could not be forwarded');
    }
  }

  #reject(socket: net.Socket, e: unknown, severity: 'FATAL' | 'ERROR'): void {
    const code = isGatewayError(e) ? sqlstateFor(e.code) : 'XX000';
    if (!isGatewayError(e) || !e.clientSafe) this.#deps.log.error({ err: e }, 'connection refused on internal error');
    if (socket.writable) {
      socket.end(encodeErrorResponse({ severity, code, message: clientMessage(e) }));
    }
    setTimeout(() => socket.destroy(), 1000).unref();
  }
}

function isLoopback(addr: string): boolean {
  return addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.');
}

function upgradeToTls(socket: net.Socket, ctx: tls.SecureContext, timeoutMs: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = new tls.TLSSocket(socket, { isServer: true, secureContext: ctx });
    const t = setTimeout(() => {
      s.destroy();
      reject(new GatewayError('GW_FRAME_MALFORMED', 'TLS handshake timed out', { clientSafe: true }));
    }, timeoutMs);
    s.once('secure', () => {
      clearTimeout(t);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(new GatewayError('GW_FRAME_MALFORMED', `TLS handshake failed: ${e.message}`, { clientSafe: true }));
    });
  });
}
