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
}

export interface PostgresAdapterOptions {
  /** Refuse the cleartext token without TLS … */
  readonly requireTls: boolean;
  /** … unless the client is on loopback. */
  readonly allowLoopbackWithoutTls: boolean;
  readonly maxMessageBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly upstreamConnectTimeoutMs: number;
}
