/**
 * ApprovalStore over better-sqlite3 in `stateDir/approvals.db` (WAL).
 *
 * A separate database file from the audit log (`gatehouse.db`): approvals
 * are mutable state with compare-and-set updates, the audit log is
 * append-only; keeping them apart means neither's locking or retention
 * touches the other.
 *
 * Each record is stored as its JSON body plus the columns the queries need
 * (status, binding hash, requester, connection, deadline, version). The body
 * is the source of truth; the columns are derived from it in `approvalRow` /
 * `grantRow` on every write, in the same statement, so they cannot drift.
 *
 * Use-once (`claimApproved`) is one IMMEDIATE transaction: select the
 * candidate, then a conditional UPDATE (`WHERE id = ? AND status =
 * 'approved' AND version = ?`) whose change count decides the winner. Two
 * processes racing on the same file serialise on SQLite's write lock; the
 * loser sees changes = 0 and gets nothing.
 *
 * synchronous=FULL: a decision that was reported to an approver must survive
 * a power loss (the volume is a handful of writes per approval).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { approvalDeadline, grantDeadline, type ApprovalRequest, type Grant } from '../../core/approvals/model.ts';
import { MAX_LIST, type ApprovalFilter, type ApprovalStore, type GrantFilter } from '../../core/approvals/store.ts';

export const APPROVALS_DB_FILE = 'approvals.db';
const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS approvals (
  id            TEXT PRIMARY KEY,
  status        TEXT NOT NULL,
  version       INTEGER NOT NULL,
  binding_hash  TEXT NOT NULL,
  requester_iss TEXT NOT NULL,
  requester_sub TEXT NOT NULL,
  connection    TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  approved_at   INTEGER,
  valid_until   INTEGER,
  deadline      INTEGER,
  body          TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS approvals_binding ON approvals (binding_hash, status);
CREATE INDEX IF NOT EXISTS approvals_deadline ON approvals (deadline) WHERE deadline IS NOT NULL;
CREATE INDEX IF NOT EXISTS approvals_created ON approvals (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS approvals_requester ON approvals (requester_iss, requester_sub, status);

CREATE TABLE IF NOT EXISTS grants (
  id            TEXT PRIMARY KEY,
  status        TEXT NOT NULL,
  version       INTEGER NOT NULL,
  requester_iss TEXT NOT NULL,
  requester_sub TEXT NOT NULL,
  connection    TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  activated_at  INTEGER,
  expires_at    INTEGER,
  deadline      INTEGER,
  body          TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS grants_active ON grants (requester_iss, requester_sub, connection, status);
CREATE INDEX IF NOT EXISTS grants_deadline ON grants (deadline) WHERE deadline IS NOT NULL;
CREATE INDEX IF NOT EXISTS grants_created ON grants (created_at DESC, id DESC);
`;

interface BodyRow {
  readonly body: string;
}

function approvalRow(r: ApprovalRequest): Record<string, string | number | null> {
  const approvedAt = r.status === 'approved' || r.status === 'used' ? r.approvedAt : null;
  const validUntil = r.status === 'approved' || r.status === 'used' ? r.validUntil : null;
  return {
    id: r.id,
    status: r.status,
    version: r.version,
    binding_hash: r.bindingHash,
    requester_iss: r.requester.issuer,
    requester_sub: r.requester.subject,
    connection: r.connection,
    created_at: r.createdAt,
    approved_at: approvedAt,
    valid_until: validUntil,
    deadline: approvalDeadline(r),
    body: JSON.stringify(r),
  };
}

function grantRow(g: Grant): Record<string, string | number | null> {
  return {
    id: g.id,
    status: g.status,
    version: g.version,
    requester_iss: g.requester.issuer,
    requester_sub: g.requester.subject,
    connection: g.connection,
    created_at: g.createdAt,
    activated_at: g.status === 'active' ? g.activatedAt : null,
    expires_at: g.status === 'active' ? g.expiresAt : null,
    deadline: grantDeadline(g),
    body: JSON.stringify(g),
  };
}

function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

export interface SqliteApprovalStoreOptions {
  /** Directory for approvals.db; created (0700) if missing. Ignored with `memory`. */
  readonly stateDir?: string;
  /** An in-memory database (tests). */
  readonly memory?: boolean;
}

export class SqliteApprovalStore implements ApprovalStore {
  readonly #db: Database.Database;
  readonly #stmts: ReturnType<typeof prepare>;
  readonly #claim: (bindingHash: string, now: number, id: string | null, sessionId: string | null) => ApprovalRequest | undefined;

  static open(opts: SqliteApprovalStoreOptions): SqliteApprovalStore {
    let file = ':memory:';
    if (!opts.memory) {
      if (!opts.stateDir) throw new Error('stateDir is required');
      mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
      file = join(opts.stateDir, APPROVALS_DB_FILE);
    }
    return new SqliteApprovalStore(new Database(file));
  }

  private constructor(db: Database.Database) {
    this.#db = db;
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) throw new Error(`approvals.db has schema version ${version}; this Gatehouse knows ${SCHEMA_VERSION}`);
    db.exec(SCHEMA);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
    this.#stmts = prepare(db);
    const s = this.#stmts;
    const claim = db.transaction((bindingHash: string, now: number, id: string | null, sessionId: string | null): ApprovalRequest | undefined => {
        const row = (id === null ? s.claimCandidate.get(bindingHash, now) : s.claimCandidateById.get(bindingHash, now, id)) as BodyRow | undefined;
        if (!row) return undefined;
        const cur = JSON.parse(row.body) as ApprovalRequest;
        if (cur.status !== 'approved') return undefined;
        const used: ApprovalRequest = { ...cur, version: cur.version + 1, status: 'used', usedAt: now, usedBySession: sessionId };
        const res = s.update.run({ ...approvalRow(used), expected: cur.version });
        // The conditional UPDATE is the use-once guard: zero changes means someone else used it.
        return res.changes === 1 ? used : undefined;
      });
    // IMMEDIATE: take the write lock before reading, so no other process can claim between our SELECT and UPDATE.
    this.#claim = (bindingHash, now, id, sessionId) => claim.immediate(bindingHash, now, id, sessionId);
  }

  insertApproval(r: ApprovalRequest): void {
    this.#stmts.insert.run(approvalRow(r));
  }

  getApproval(id: string): ApprovalRequest | undefined {
    const row = this.#stmts.get.get(id) as BodyRow | undefined;
    return row ? (JSON.parse(row.body) as ApprovalRequest) : undefined;
  }

  listApprovals(filter: ApprovalFilter): ApprovalRequest[] {
    const limit = Math.min(filter.limit ?? MAX_LIST, MAX_LIST);
    const statuses = filter.statuses;
    const rows = (
      statuses
        ? this.#db.prepare(`SELECT body FROM approvals WHERE status IN (${placeholders(statuses.length)}) ORDER BY created_at DESC, id DESC LIMIT ?`).all(...statuses, limit)
        : this.#stmts.list.all(limit)
    ) as BodyRow[];
    return rows.map((r) => JSON.parse(r.body) as ApprovalRequest);
  }

  findPending(bindingHash: string): ApprovalRequest | undefined {
    const row = this.#stmts.findPending.get(bindingHash) as BodyRow | undefined;
    return row ? (JSON.parse(row.body) as ApprovalRequest) : undefined;
  }

  countPending(requester: { issuer: string; subject: string }): number {
    return (this.#stmts.countPending.get(requester.issuer, requester.subject) as { n: number }).n;
  }

  updateApproval(next: ApprovalRequest, expectedVersion: number): boolean {
    return this.#stmts.update.run({ ...approvalRow(next), expected: expectedVersion }).changes === 1;
  }

  claimApproved(bindingHash: string, now: number, opts: { id?: string; sessionId: string | null }): ApprovalRequest | undefined {
    return this.#claim(bindingHash, now, opts.id ?? null, opts.sessionId);
  }

  insertGrant(g: Grant): void {
    this.#stmts.insertGrant.run(grantRow(g));
  }

  getGrant(id: string): Grant | undefined {
    const row = this.#stmts.getGrant.get(id) as BodyRow | undefined;
    return row ? (JSON.parse(row.body) as Grant) : undefined;
  }

  listGrants(filter: GrantFilter): Grant[] {
    const limit = Math.min(filter.limit ?? MAX_LIST, MAX_LIST);
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.statuses) {
      where.push(`status IN (${placeholders(filter.statuses.length)})`);
      args.push(...filter.statuses);
    }
    if (filter.requester) {
      where.push('requester_iss = ? AND requester_sub = ?');
      args.push(filter.requester.issuer, filter.requester.subject);
    }
    const sql = `SELECT body FROM grants ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`;
    return (this.#db.prepare(sql).all(...args, limit) as BodyRow[]).map((r) => JSON.parse(r.body) as Grant);
  }

  updateGrant(next: Grant, expectedVersion: number): boolean {
    return this.#stmts.updateGrant.run({ ...grantRow(next), expected: expectedVersion }).changes === 1;
  }

  activeGrants(requester: { issuer: string; subject: string }, connection: string, now: number): Extract<Grant, { status: 'active' }>[] {
    const rows = this.#stmts.activeGrants.all(requester.issuer, requester.subject, connection, now, now) as BodyRow[];
    return rows.map((r) => JSON.parse(r.body) as Extract<Grant, { status: 'active' }>);
  }

  nextDeadline(): number | null {
    const row = this.#stmts.nextDeadline.get() as { d: number | null };
    return row.d;
  }

  due(now: number): { approvals: ApprovalRequest[]; grants: Grant[] } {
    return {
      approvals: (this.#stmts.dueApprovals.all(now) as BodyRow[]).map((r) => JSON.parse(r.body) as ApprovalRequest),
      grants: (this.#stmts.dueGrants.all(now) as BodyRow[]).map((r) => JSON.parse(r.body) as Grant),
    };
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}

function prepare(db: Database.Database) {
  const cols = 'id, status, version, binding_hash, requester_iss, requester_sub, connection, created_at, approved_at, valid_until, deadline, body';
  const vals = cols
    .split(', ')
    .map((c) => `@${c}`)
    .join(', ');
  const gcols = 'id, status, version, requester_iss, requester_sub, connection, created_at, activated_at, expires_at, deadline, body';
  const gvals = gcols
    .split(', ')
    .map((c) => `@${c}`)
    .join(', ');
  return {
    insert: db.prepare(`INSERT INTO approvals (${cols}) VALUES (${vals})`),
    get: db.prepare('SELECT body FROM approvals WHERE id = ?'),
    list: db.prepare('SELECT body FROM approvals ORDER BY created_at DESC, id DESC LIMIT ?'),
    findPending: db.prepare("SELECT body FROM approvals WHERE binding_hash = ? AND status = 'pending' ORDER BY created_at LIMIT 1"),
    countPending: db.prepare("SELECT count(*) AS n FROM approvals WHERE requester_iss = ? AND requester_sub = ? AND status = 'pending'"),
    update: db.prepare(
      `UPDATE approvals SET status = @status, version = @version, approved_at = @approved_at, valid_until = @valid_until,
         deadline = @deadline, body = @body
       WHERE id = @id AND version = @expected`,
    ),
    claimCandidate: db.prepare(
      "SELECT body FROM approvals WHERE binding_hash = ? AND status = 'approved' AND valid_until > ? ORDER BY approved_at, id LIMIT 1",
    ),
    claimCandidateById: db.prepare("SELECT body FROM approvals WHERE binding_hash = ? AND status = 'approved' AND valid_until > ? AND id = ?"),
    insertGrant: db.prepare(`INSERT INTO grants (${gcols}) VALUES (${gvals})`),
    getGrant: db.prepare('SELECT body FROM grants WHERE id = ?'),
    updateGrant: db.prepare(
      `UPDATE grants SET status = @status, version = @version, activated_at = @activated_at, expires_at = @expires_at,
         deadline = @deadline, body = @body
       WHERE id = @id AND version = @expected`,
    ),
    activeGrants: db.prepare(
      "SELECT body FROM grants WHERE requester_iss = ? AND requester_sub = ? AND connection = ? AND status = 'active' AND activated_at <= ? AND expires_at > ? ORDER BY expires_at DESC",
    ),
    nextDeadline: db.prepare('SELECT min(d) AS d FROM (SELECT min(deadline) AS d FROM approvals UNION ALL SELECT min(deadline) AS d FROM grants)'),
    dueApprovals: db.prepare('SELECT body FROM approvals WHERE deadline IS NOT NULL AND deadline <= ? ORDER BY deadline'),
    dueGrants: db.prepare('SELECT body FROM grants WHERE deadline IS NOT NULL AND deadline <= ? ORDER BY deadline'),
  };
}
