/**
 * Temporary credentials (issue 6, item 5; `credentials.mode: ephemeral`).
 *
 * For each session Gatehouse creates an upstream role of its own over an
 * admin connection (node-postgres):
 *
 *   CREATE ROLE gh_<session>_<random> LOGIN … PASSWORD <SCRAM verifier>
 *     VALID UNTIL <now + ttl> IN ROLE <template>;
 *   COMMENT ON ROLE … IS 'gatehouse-ephemeral';          -- same transaction
 *
 * connects the session's upstream as that role, and when the session ends
 * (closed, killed, its grant ended, or the lifetime is up) terminates the
 * role's backends and drops it. Roles left behind by a crash carry the
 * marker comment and are dropped by `sweep()` at start-up.
 *
 * Secrets: the password is 32 random bytes, lives only in the lease's
 * closure and is forgotten on release. The upstream receives a SCRAM
 * verifier, never the password (ephemeral-sql.ts says why). Errors, log
 * lines and audit events name the connection and the role, never either.
 *
 * Fail closed: a role that cannot be created, or an issue that cannot be
 * audited, refuses the session (SQLSTATE 08001). A role that cannot be
 * dropped is at least disabled (NOLOGIN); its VALID UNTIL bounds it anyway.
 */
import net from 'node:net';
import pg from 'pg';
import type { EventSink } from '../../core/ports.ts';
import type { Logger } from '../../core/logger.ts';
import type { CredentialRevokeReason } from '../../core/audit/events.ts';
import type { Clock } from '../../shared/clock.ts';
import { GatewayError, isGatewayError } from '../../shared/errors.ts';
import type { CredentialLease, CredentialSubject, PostgresUpstreamSpec, SessionCredentials } from './spec.ts';
import {
  LEFTOVER_ROLES_SQL,
  createRoleSql,
  ephemeralPassword,
  ephemeralRoleName,
  markRoleSql,
  quoteIdent,
  scramVerifier,
  terminateBackendsSql,
} from './ephemeral-sql.ts';

/** Where the upstream is: the connection's spec without its own credentials. */
export type UpstreamAddress = Pick<PostgresUpstreamSpec, 'host' | 'port' | 'database' | 'tls' | 'ca'>;

export interface EphemeralCredentialsOptions {
  /** Connection name (errors, events). */
  readonly connection: string;
  readonly upstream: UpstreamAddress;
  /** The role whose privileges every session role inherits. */
  readonly templateRole: string;
  /** Needs CREATEROLE (and, to terminate backends, pg_signal_backend). */
  readonly admin: { readonly user: string; readonly password: () => string | undefined };
  readonly ttlSeconds: number;
  readonly events: EventSink;
  readonly clock: Clock;
  readonly log: Logger;
  readonly connectTimeoutMs?: number;
}

/** Session kill reason when the credential's lifetime is over (closed vocabulary: session.closed.reason). */
export const CREDENTIAL_EXPIRED = 'credential_expired';

/**
 * Every role this process created and has not finished dropping, across all
 * connections: two connection names may point at one cluster, and a sweep
 * of one must never drop a live role of the other.
 */
const issuedHere = new Set<string>();

export class EphemeralCredentials implements SessionCredentials {
  readonly #o: EphemeralCredentialsOptions;
  readonly #admin: AdminConnector;
  /** Live leases, by role. */
  readonly #live = new Map<string, Lease>();
  /** Releases in flight, so close() can wait for them. */
  readonly #releasing = new Set<Promise<void>>();
  #swept = false;
  #sweeping: Promise<number> | null = null;

  constructor(opts: EphemeralCredentialsOptions) {
    this.#o = opts;
    this.#admin = new AdminConnector(opts);
  }

  get connection(): string {
    return this.#o.connection;
  }

  async issue(session: CredentialSubject): Promise<CredentialLease> {
    const { connection, templateRole, ttlSeconds, clock, events, log } = this.#o;
    // A sweep that failed at start-up (upstream down) is retried before the first role is created.
    if (!this.#swept) await this.sweep().catch(() => undefined);
    const role = ephemeralRoleName(session.id);
    let password: string | undefined = ephemeralPassword();
    const validUntil = clock.now() + ttlSeconds * 1000;
    issuedHere.add(role);
    try {
      await this.#admin.run(async (c) => {
        await c.query('BEGIN');
        await c.query(createRoleSql(role, scramVerifier(password!), new Date(validUntil), templateRole));
        await c.query(markRoleSql(role));
        await c.query('COMMIT');
      });
    } catch (e) {
      password = undefined;
      issuedHere.delete(role);
      log.warn({ sessionId: session.id, connection, role, ...pgFailure(e) }, 'could not create a temporary role: session refused');
      // Fail closed: no role, no session.
      throw refused(connection, e);
    }
    try {
      // Write-ahead for the session: it may use the role only once the role is on record.
      await events.append({
        type: 'credential.issued',
        time: clock.now(),
        sessionId: session.id,
        connection,
        role,
        templateRole,
        validUntil,
        durationSeconds: ttlSeconds,
      });
    } catch (e) {
      password = undefined;
      // Fail closed: an unaudited credential is revoked at once and the session refused.
      await this.#drop(role, 'session_refused', session.id);
      throw isGatewayError(e) ? e : refused(connection, e);
    }
    log.info({ sessionId: session.id, connection, role, validUntil: new Date(validUntil).toISOString() }, 'temporary role issued');

    const { host, port, database, tls, ca } = this.#o.upstream;
    const spec: PostgresUpstreamSpec = {
      host,
      port,
      database,
      tls,
      ...(ca ? { ca } : {}),
      user: role,
      password: () => password,
    };
    const lease = new Lease(spec, () => {
      password = undefined;
      clearTimeout(timer);
      this.#live.delete(role);
      const p = this.#drop(role, 'session_ended', session.id);
      this.#releasing.add(p);
      return p.finally(() => this.#releasing.delete(p));
    });
    // VALID UNTIL stops new logins only; a session outliving its credential is ended here.
    const timer = setTimeout(() => session.kill(CREDENTIAL_EXPIRED), Math.max(0, validUntil - clock.now()));
    timer.unref();
    this.#live.set(role, lease);
    return lease;
  }

  /**
   * Drops every marked `gh_` role that no live lease of this instance owns:
   * leftovers of a crash. Run at start-up, before the listener accepts.
   * Returns how many roles were found. Rejects when the upstream is unreachable.
   */
  sweep(): Promise<number> {
    return (this.#sweeping ??= this.#sweep().finally(() => (this.#sweeping = null)));
  }

  async #sweep(): Promise<number> {
    const roles = await this.#admin.run(async (c) => (await c.query<{ rolname: string }>(LEFTOVER_ROLES_SQL)).rows.map((r) => r.rolname));
    const leftovers = roles.filter((r) => !issuedHere.has(r));
    for (const role of leftovers) await this.#drop(role, 'leftover');
    this.#swept = true;
    if (leftovers.length > 0) this.#o.log.info({ connection: this.#o.connection, roles: leftovers }, 'dropped temporary roles left over from an earlier run');
    return leftovers.length;
  }

  /** Revokes what is still live and waits for releases in flight (shutdown). */
  async close(): Promise<void> {
    await Promise.all([...this.#live.values()].map((l) => l.release()));
    await Promise.all([...this.#releasing]);
  }

  /**
   * Terminate the role's backends, then DROP ROLE. A role that owns objects
   * (the session created a table) has them reassigned to the template first;
   * if it still cannot be dropped it is disabled (NOLOGIN). Never throws.
   */
  async #drop(role: string, reason: CredentialRevokeReason, sessionId?: string): Promise<void> {
    const { connection, templateRole, events, clock, log } = this.#o;
    let backendsTerminated = 0;
    let dropped = false;
    let gone = false;
    try {
      await this.#admin.run(async (c, version) => {
        if (reason === 'leftover' && (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 0) {
          gone = true;
          return;
        }
        try {
          backendsTerminated = (await c.query<{ n: number }>(terminateBackendsSql(version), [role])).rows[0]?.n ?? 0;
        } catch (e) {
          // Without pg_signal_backend the admin cannot end them; the drop below still revokes future logins.
          log.warn({ connection, role, ...pgFailure(e) }, 'could not terminate the backends of a temporary role');
        }
        try {
          await c.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
          dropped = true;
          return;
        } catch (e) {
          if ((e as { code?: string }).code !== '2BP01') throw e;
        }
        // 2BP01 dependent_objects_still_exist: hand its objects to the template, drop its grants, try again.
        try {
          await c.query(`REASSIGN OWNED BY ${quoteIdent(role)} TO ${quoteIdent(templateRole)}`);
          await c.query(`DROP OWNED BY ${quoteIdent(role)}`);
          await c.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
          dropped = true;
        } catch (e) {
          log.warn({ connection, role, ...pgFailure(e) }, 'temporary role owns objects and could not be dropped: disabling it');
          await c.query(`ALTER ROLE ${quoteIdent(role)} NOLOGIN PASSWORD NULL`);
        }
      });
    } catch (e) {
      // Several connections on one cluster sweep at once: a concurrent DROP ROLE can fail ours ("tuple
      // concurrently updated"). If the role is gone, it was revoked, just not by this call.
      const stillThere = await this.#admin
        .run(async (c) => ((await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount ?? 1) > 0)
        .catch(() => true);
      if (!stillThere && reason === 'leftover') gone = true;
      else if (!stillThere) dropped = true;
      else log.error({ connection, role, ...pgFailure(e) }, 'could not revoke a temporary role (its VALID UNTIL still bounds it; the next start-up sweep drops it)');
    }
    issuedHere.delete(role);
    if (gone) return; // dropped meanwhile by another sweep (two connections on one cluster): nothing to record
    try {
      await events.append({
        type: 'credential.revoked',
        time: clock.now(),
        ...(sessionId ? { sessionId } : {}),
        connection,
        role,
        reason,
        backendsTerminated,
        dropped,
      });
    } catch (e) {
      log.error({ connection, role, err: e }, 'could not record credential.revoked');
    }
    if (dropped) log.info({ connection, role, reason, backendsTerminated }, 'temporary role dropped');
  }
}

class Lease implements CredentialLease {
  #released: Promise<void> | null = null;
  constructor(
    readonly spec: PostgresUpstreamSpec,
    readonly revoke: () => Promise<void>,
  ) {}

  release(): Promise<void> {
    return (this.#released ??= this.revoke());
  }
}

/**
 * Short-lived admin connections, one per issue or drop: nothing idle to be
 * dropped by the server, and the admin secret is read from the vault at
 * each connect. `prefer` falls back to plaintext only when the server does
 * not offer TLS, as libpq does; the answer is remembered.
 */
class AdminConnector {
  #ssl: pg.ClientConfig['ssl'] | undefined;
  #version = 0;
  constructor(readonly o: EphemeralCredentialsOptions) {}

  async run<T>(work: (client: pg.Client, serverVersionNum: number) => Promise<T>): Promise<T> {
    const client = await this.#connect();
    try {
      if (this.#version === 0) {
        this.#version = Number((await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v ?? 0);
      }
      return await work(client, this.#version);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async #connect(): Promise<pg.Client> {
    const { upstream, admin, connectTimeoutMs } = this.o;
    const password = admin.password();
    const base: pg.ClientConfig = {
      host: upstream.host,
      port: upstream.port,
      database: upstream.database,
      user: admin.user,
      ...(password !== undefined ? { password } : {}),
      connectionTimeoutMillis: connectTimeoutMs ?? 10_000,
      statement_timeout: 15_000,
      query_timeout: 20_000,
      application_name: 'gatehouse-credentials',
    };
    const servername = net.isIP(upstream.host) ? undefined : upstream.host;
    const attempts: pg.ClientConfig['ssl'][] =
      this.#ssl !== undefined
        ? [this.#ssl]
        : upstream.tls === 'disable'
          ? [false]
          : upstream.tls === 'prefer'
            ? [{ rejectUnauthorized: false }, false]
            : upstream.tls === 'require'
              ? [{ rejectUnauthorized: false }]
              : [{ rejectUnauthorized: true, ...(upstream.ca ? { ca: upstream.ca } : {}), ...(servername ? { servername } : {}) }];
    let last: unknown;
    for (const ssl of attempts) {
      const client = new pg.Client({ ...base, ssl });
      client.on('error', () => {});
      try {
        await client.connect();
        this.#ssl = ssl;
        return client;
      } catch (e) {
        last = e;
        await client.end().catch(() => undefined);
        if (!/does not support SSL/i.test(firstLine(e))) break;
      }
    }
    throw last;
  }
}

/** What may be logged of a failure: SQLSTATE and pg's first message line (names user and host at most, never secrets). */
function pgFailure(e: unknown): { code?: string; reason: string } {
  const code = (e as { code?: unknown }).code;
  return { ...(typeof code === 'string' ? { code } : {}), reason: firstLine(e) };
}

function firstLine(e: unknown): string {
  const m = (e as { message?: unknown } | undefined)?.message;
  return typeof m === 'string' && m !== '' ? m.split('\n')[0]! : 'unknown error';
}

function refused(connection: string, e: unknown): GatewayError {
  const code = (e as { code?: unknown }).code;
  const why =
    typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)
      ? ` (upstream SQLSTATE ${code})`
      : typeof code === 'string' && /^E[A-Z]+$/.test(code)
        ? ` (${code})`
        : isGatewayError(e) && e.clientSafe
          ? ` (${e.message})`
          : '';
  return new GatewayError(
    'GW_UPSTREAM_UNAVAILABLE',
    `Gatehouse could not create a temporary credential on the upstream of connection '${connection}'${why}; the session is refused`,
    { clientSafe: true, cause: e },
  );
}
