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
 * - indexes: only (time), for time ranges. Type and class lookups scan
 *   (sessions list, retention). There is deliberately no index on
 *   session_id: with many concurrent sessions each appended event landed on
 *   a different leaf page of such an index, and writing those pages was the
 *   largest single cost of a commit (about 2x the per-event cost measured
 *   with bench/scratch-style inserts at batches of 64). Instead
 * - session_spans: per session the first and last sequence number, upserted
 *   once per session per batch in the same transaction as the entries;
 *   replay reads `seq BETWEEN first AND last AND session_id = ?` on the
 *   primary key. A cache like the others: verification does not read it;
 * - tree_state: the Merkle compact range after the last committed entry,
 *   written in the same transaction as the entries, so that a restart (also
 *   after kill -9) continues the same tree without rereading every leaf.
 */
import type Database from 'better-sqlite3';

export const AUDIT_SCHEMA_VERSION = 2;

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
    CREATE TABLE IF NOT EXISTS session_spans (
      session_id TEXT PRIMARY KEY,
      first_seq  INTEGER NOT NULL,
      last_seq   INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS tree_state (
      id       INTEGER PRIMARY KEY CHECK (id = 1),
      size     INTEGER NOT NULL,
      frontier BLOB NOT NULL
    );
  `);
  const row = db.prepare(`SELECT value FROM audit_meta WHERE key = 'schema'`).get() as { value: string } | undefined;
  if (!row) {
    db.prepare(`INSERT INTO audit_meta (key, value) VALUES ('schema', ?)`).run(String(AUDIT_SCHEMA_VERSION));
  } else if (Number(row.value) === 1) {
    migrateFrom1(db);
  } else if (Number(row.value) !== AUDIT_SCHEMA_VERSION) {
    throw new Error(`audit schema version ${row.value} is not supported (expected ${AUDIT_SCHEMA_VERSION})`);
  }
}

/**
 * Version 1 had an index on (session_id, seq) instead of session_spans.
 * Only caches change: no envelope, payload or checkpoint is touched.
 */
function migrateFrom1(db: Database.Database): void {
  db.transaction(() => {
    db.exec(`
      INSERT OR REPLACE INTO session_spans (session_id, first_seq, last_seq)
        SELECT session_id, min(seq), max(seq) FROM envelopes WHERE session_id IS NOT NULL GROUP BY session_id;
      DROP INDEX IF EXISTS envelopes_session;
    `);
    db.prepare(`UPDATE audit_meta SET value = ? WHERE key = 'schema'`).run(String(AUDIT_SCHEMA_VERSION));
  })();
}
