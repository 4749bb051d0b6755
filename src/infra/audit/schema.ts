/**
 * SQLite schema of the audit log (in `stateDir/gatehouse.db`, next to other
 * state). Only `envelopes.body`, `payloads.(salt, body, class)` and
 * `checkpoints.body` are evidence; every other column is an index or a cache
 * that verification re-derives or cross-checks:
 *
 * - envelopes.time/type/session_id: copies of envelope fields for queries;
 * - envelopes.leaf_hash: SHA-256(0x00 ‖ body), checked by `verify` so a
 *   naive edit of a body is named by its sequence number;
 * - payloads.expires_at: when the payload's class retention (known at write
 *   time) runs out, informational;
 * - checkpoints.size/root: copies of the signed note's lines;
 * - indexes: only (session_id, seq) for replay and (time) for time ranges;
 *   each extra index measured at ~4 µs per appended event (bench/audit-append.ts),
 *   so type and class lookups scan (sessions list, retention) instead;
 * - tree_state: the Merkle compact range after the last committed entry,
 *   written in the same transaction as the entries, so that a restart (also
 *   after kill -9) continues the same tree without rereading every leaf.
 */
import type Database from 'better-sqlite3';

export const AUDIT_SCHEMA_VERSION = 1;

export function createAuditSchema(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS audit_meta (
      key   TEXT PRIMARY KEY,
      value TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS envelopes (
      seq        INTEGER PRIMARY KEY,
      time       INTEGER NOT NULL,
      type       TEXT NOT NULL,
      session_id TEXT,
      body       TEXT NOT NULL,
      leaf_hash  BLOB NOT NULL
    );
    CREATE INDEX IF NOT EXISTS envelopes_session ON envelopes (session_id, seq);
    CREATE INDEX IF NOT EXISTS envelopes_time ON envelopes (time);
    CREATE TABLE IF NOT EXISTS payloads (
      seq        INTEGER PRIMARY KEY,
      salt       BLOB NOT NULL,
      body       TEXT NOT NULL,
      class      TEXT NOT NULL,
      expires_at INTEGER
    );
    CREATE TABLE IF NOT EXISTS checkpoints (
      id   INTEGER PRIMARY KEY,
      size INTEGER NOT NULL,
      root BLOB NOT NULL,
      body TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS tree_state (
      id       INTEGER PRIMARY KEY CHECK (id = 1),
      size     INTEGER NOT NULL,
      frontier BLOB NOT NULL
    );
  `);
  const row = db.prepare(`SELECT value FROM audit_meta WHERE key = 'schema'`).get() as { value: string } | undefined;
  if (!row) {
    db.prepare(`INSERT INTO audit_meta (key, value) VALUES ('schema', ?)`).run(String(AUDIT_SCHEMA_VERSION));
  } else if (Number(row.value) !== AUDIT_SCHEMA_VERSION) {
    throw new Error(`audit schema version ${row.value} is not supported (expected ${AUDIT_SCHEMA_VERSION})`);
  }
}
