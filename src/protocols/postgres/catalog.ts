/**
 * The upstream catalog as masking needs it: every relation's OID, schema,
 * name, kind, columns (attnum, name, type OID) and, for views and
 * materialized views, the definition (`pg_get_viewdef`).
 *
 * Why the whole catalog in one query, rather than the relations a statement
 * names: planning happens synchronously while bytes stream (a RowDescription
 * names table OIDs, and lineage expands views whose definitions name further
 * relations), and one round trip per TTL is cheaper and simpler than a
 * dependency walk per statement. A relation the snapshot does not know is
 * treated as 'unknown' by the caller (masked), never as unbound.
 *
 * Read over a side connection with node-postgres, opened lazily once per
 * connection name per gateway with the connection's own upstream
 * credentials, kept while used and closed when idle. Snapshots live for a
 * short TTL and are invalidated when DDL runs through Gatehouse.
 *
 * Fail closed: a catalog that cannot be read rejects `snapshot()`; the
 * caller refuses the statements that need it (never passes them unmasked).
 */
import pg from 'pg';
import net from 'node:net';
import type { Logger } from '../../core/logger.ts';
import { effectivePath } from '../../core/classify/sql/names.ts';
import { GatewayError } from '../../shared/errors.ts';
import type { PostgresUpstreamSpec } from './spec.ts';

export interface CatalogColumn {
  readonly attnum: number;
  readonly name: string;
  readonly typeOid: number;
}

export interface CatalogRelation {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  /** pg_class.relkind: r table, v view, m materialized view, p partitioned table, f foreign table. */
  readonly kind: string;
  readonly columns: readonly CatalogColumn[];
  /** For views and materialized views outside pg_catalog / information_schema. */
  readonly viewDef: string | null;
}

const QUERY = `
SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
  CASE WHEN c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') THEN pg_get_viewdef(c.oid) END AS viewdef,
  (SELECT coalesce(json_agg(json_build_array(a.attnum, a.attname, a.atttypid::int8) ORDER BY a.attnum), '[]'::json)
     FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS cols
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')`;

let versions = 0;

export class CatalogSnapshot {
  readonly version = ++versions;
  readonly #byOid = new Map<number, CatalogRelation>();
  readonly #byName = new Map<string, CatalogRelation>();

  constructor(
    relations: readonly CatalogRelation[],
    readonly takenAt: number,
  ) {
    for (const r of relations) {
      this.#byOid.set(r.oid, r);
      this.#byName.set(`${r.schema}\u0000${r.name}`, r);
    }
  }

  get size(): number {
    return this.#byOid.size;
  }

  hasRelation(oid: number): boolean {
    return this.#byOid.has(oid);
  }

  relation(schema: string, name: string): CatalogRelation | undefined {
    return this.#byName.get(`${schema}\u0000${name}`);
  }

  /** `schema.table.column` of a RowDescription origin, or undefined. */
  columnName(oid: number, attnum: number): string | undefined {
    const r = this.#byOid.get(oid);
    const c = r?.columns.find((x) => x.attnum === attnum);
    return r && c ? `${r.schema}.${r.name}.${c.name}` : undefined;
  }

  columns(schema: string, name: string): string[] | null {
    const r = this.relation(schema, name);
    return r ? r.columns.map((c) => c.name) : null;
  }

  viewDefinition(schema: string, name: string): string | null {
    return this.relation(schema, name)?.viewDef ?? null;
  }

  /** The relation an unqualified name means under `searchPath`, as Postgres picks it (first schema that has it). */
  resolve(schema: string | null, name: string, searchPath: readonly string[]): CatalogRelation | undefined {
    if (schema !== null) return this.relation(schema, name);
    const path = effectivePath(searchPath);
    const candidates = [...(path.includes('pg_catalog') ? [] : ['pg_catalog']), ...path];
    for (const s of candidates) {
      const r = this.relation(s, name);
      if (r) return r;
    }
    return undefined;
  }
}

export interface UpstreamCatalogOptions {
  /** How long a snapshot is used before it is read again. */
  ttlMs: number;
  connectTimeoutMs: number;
  /** Close the side connection after this long without use. */
  idleCloseMs?: number;
  log: Logger;
}

/** One connection's catalog: a side connection and the latest snapshot. */
export class UpstreamCatalog {
  #snapshot: CatalogSnapshot | null = null;
  #stale = false;
  #loading: Promise<CatalogSnapshot> | null = null;
  #client: pg.Client | null = null;
  #idle: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    readonly connection: string,
    readonly spec: PostgresUpstreamSpec,
    readonly opts: UpstreamCatalogOptions,
  ) {}

  /** The latest snapshot if it is fresh enough, else undefined (synchronous: for the hot path). */
  fresh(maxAgeMs = this.opts.ttlMs): CatalogSnapshot | undefined {
    const s = this.#snapshot;
    return s && !this.#stale && Date.now() - s.takenAt <= maxAgeMs ? s : undefined;
  }

  /** Any snapshot, however old (for error-text masking, which cannot wait). */
  get latest(): CatalogSnapshot | null {
    return this.#snapshot;
  }

  /** A snapshot at most `maxAgeMs` old; reads the catalog when needed (one read at a time). */
  snapshot(maxAgeMs = this.opts.ttlMs): Promise<CatalogSnapshot> {
    const f = this.fresh(maxAgeMs);
    if (f) return Promise.resolve(f);
    this.#loading ??= this.#load().finally(() => (this.#loading = null));
    return this.#loading;
  }

  /** DDL ran through Gatehouse: the next statement that needs the catalog reads it again. */
  invalidate(): void {
    this.#stale = true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#idle) clearTimeout(this.#idle);
    const c = this.#client;
    this.#client = null;
    await c?.end().catch(() => undefined);
  }

  async #load(): Promise<CatalogSnapshot> {
    if (this.#closed) throw unavailable(this.connection, 'Gatehouse is shutting down');
    const started = Date.now();
    try {
      const client = await this.#connect();
      const r = await client.query<{ oid: string; schema: string; name: string; kind: string; viewdef: string | null; cols: [number, string, string | number][] }>(QUERY);
      const relations: CatalogRelation[] = r.rows.map((row) => ({
        oid: Number(row.oid),
        schema: row.schema,
        name: row.name,
        kind: row.kind,
        viewDef: row.viewdef,
        columns: row.cols.map(([attnum, name, type]) => ({ attnum: Number(attnum), name, typeOid: Number(type) })),
      }));
      const snap = new CatalogSnapshot(relations, started);
      this.#snapshot = snap;
      this.#stale = false;
      this.#touch();
      this.opts.log.debug({ connection: this.connection, relations: snap.size, ms: Date.now() - started }, 'masking catalog read');
      return snap;
    } catch (e) {
      // Drop the connection: the next attempt starts clean.
      const c = this.#client;
      this.#client = null;
      void c?.end().catch(() => undefined);
      this.opts.log.warn({ connection: this.connection, err: e }, 'masking catalog could not be read');
      throw isUnavailable(e) ? e : unavailable(this.connection, reason(e));
    }
  }

  async #connect(): Promise<pg.Client> {
    if (this.#client) return this.#client;
    const { spec } = this;
    const base: pg.ClientConfig = {
      host: spec.host,
      port: spec.port,
      database: spec.database,
      user: spec.user,
      connectionTimeoutMillis: this.opts.connectTimeoutMs,
      statement_timeout: 30_000,
      application_name: 'gatehouse-masking-catalog',
    };
    const password = spec.password();
    if (password !== undefined) base.password = password;
    const servername = net.isIP(spec.host) ? undefined : spec.host;
    const attempts: pg.ClientConfig['ssl'][] =
      spec.tls === 'disable'
        ? [false]
        : spec.tls === 'prefer'
          ? [{ rejectUnauthorized: false }, false]
          : spec.tls === 'require'
            ? [{ rejectUnauthorized: false }]
            : [{ rejectUnauthorized: true, ...(spec.ca ? { ca: spec.ca } : {}), ...(servername ? { servername } : {}) }];
    let last: unknown;
    for (const ssl of attempts) {
      const client = new pg.Client({ ...base, ssl });
      // An idle side connection can be dropped by the server; forget it, the next read reconnects.
      client.on('error', () => {
        if (this.#client === client) this.#client = null;
      });
      try {
        await client.connect();
        this.#client = client;
        return client;
      } catch (e) {
        last = e;
        await client.end().catch(() => undefined);
        // `prefer` falls back to plaintext only when the server does not offer TLS.
        if (!/does not support SSL/i.test(reason(e))) break;
      }
    }
    throw unavailable(this.connection, reason(last));
  }

  #touch(): void {
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = setTimeout(() => {
      const c = this.#client;
      this.#client = null;
      void c?.end().catch(() => undefined);
    }, this.opts.idleCloseMs ?? 60_000);
    this.#idle.unref();
  }
}

/** Catalogs by connection name, one per gateway. */
export class CatalogRegistry {
  readonly #catalogs = new Map<string, UpstreamCatalog>();
  constructor(readonly opts: UpstreamCatalogOptions) {}

  get(connection: string, spec: PostgresUpstreamSpec): UpstreamCatalog {
    let c = this.#catalogs.get(connection);
    if (!c) this.#catalogs.set(connection, (c = new UpstreamCatalog(connection, spec, this.opts)));
    return c;
  }

  /** DDL on `connection`: every session's next statement reads the catalog again. */
  invalidate(connection: string): void {
    this.#catalogs.get(connection)?.invalidate();
  }

  async close(): Promise<void> {
    await Promise.all([...this.#catalogs.values()].map((c) => c.close()));
  }
}

function reason(e: unknown): string {
  const err = e as { code?: string; message?: string } | undefined;
  // Never the password: pg's messages name the user and host at most.
  return err?.message ? err.message.split('\n')[0]! : (err?.code ?? 'unknown error');
}

function unavailable(connection: string, why: string): GatewayError {
  return new GatewayError('GW_UPSTREAM_UNAVAILABLE', `the catalog of connection '${connection}' could not be read for masking (${why})`, { clientSafe: true });
}

function isUnavailable(e: unknown): e is GatewayError {
  return e instanceof GatewayError && e.code === 'GW_UPSTREAM_UNAVAILABLE';
}
