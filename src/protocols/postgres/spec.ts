/** What the Postgres adapter needs to reach one upstream. Built by server/ from config. */
export type UpstreamTlsMode = 'disable' | 'prefer' | 'require' | 'verify-full';

export interface PostgresUpstreamSpec {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /**
   * Resolves the vaulted credential at connect time, so the secret is never
   * part of a config snapshot, a log line or an error.
   */
  readonly password: () => string | undefined;
  readonly tls: UpstreamTlsMode;
  /** PEM CA bundle for verify-full. */
  readonly ca?: string;
  /**
   * Per-session credentials (`credentials.mode: ephemeral`): the adapter asks
   * for a lease before it connects and uses the lease's spec instead of this
   * one. Absent: `user` and `password` above are used as they are.
   */
  readonly credentials?: SessionCredentials;
}

/** What a credential source needs to know of a session. */
export interface CredentialSubject {
  readonly id: string;
  /** Ends the session (the credential's lifetime is over). */
  kill(reason: string): void;
}

export interface SessionCredentials {
  /**
   * Creates a credential for one session. Fail closed: rejects with a
   * client-safe GatewayError (never naming the password) when it cannot.
   */
  issue(session: CredentialSubject): Promise<CredentialLease>;
}

export interface CredentialLease {
  /** The spec to connect this session's upstream with (user and password of the lease). */
  readonly spec: PostgresUpstreamSpec;
  /** Revokes the credential. Idempotent; never throws (failures are logged and audited). */
  release(): Promise<void>;
}

export interface PostgresAdapterOptions {
  /** Refuse the cleartext token without TLS … */
  readonly requireTls: boolean;
  /** … unless the client is on loopback. */
  readonly allowLoopbackWithoutTls: boolean;
  readonly maxMessageBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly upstreamConnectTimeoutMs: number;
  /** Session recording: rows kept per result (0 = none). */
  readonly recordRows: number;
}
