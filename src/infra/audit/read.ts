/**
 * Read-side queries of the audit store: listing/replay, the inputs of
 * verification, inclusion proofs and the retention selection. Plain
 * functions over the database handle; AuditLog wires them to its state.
 */
import type Database from 'better-sqlite3';
import type { GatewayEvent, StoredEvent } from '../../core/audit/events.ts';
import { openEvent, parseEnvelope } from '../../core/audit/envelope.ts';
import { ProofPlan } from '../../core/audit/merkle.ts';
import { PROOF_FORMAT, type InclusionProof } from '../../core/audit/proof.ts';
import type { LogCheckpoint, LogPayload, LogRecord } from '../../core/audit/verify.ts';

export interface QueryFilter {
  readonly sessionId?: string;
  readonly types?: readonly string[];
  /** ms since epoch, inclusive. */
  readonly since?: number;
  /** ms since epoch, inclusive. */
  readonly until?: number;
  /** Only entries with seq greater than this (for following a live log). */
  readonly afterSeq?: number;
  readonly limit?: number;
}

/**
 * Events rebuilt from envelope + payload, in sequence order. Rows whose
 * envelope no longer parses are skipped: verification is what reports them.
 */
export function queryEvents(db: Database.Database, filter: QueryFilter): StoredEvent[] {
  const where: string[] = [];
  const args: unknown[] = [];
  if (filter.sessionId !== undefined) {
    where.push('e.session_id = ?');
    args.push(filter.sessionId);
    // The session's span turns the lookup into a primary-key range (schema.ts: there is no session_id index).
    const span = sessionSpan(db, filter.sessionId);
    if (span) {
      where.push('e.seq BETWEEN ? AND ?');
      args.push(span.first, span.last);
    }
  }
  if (filter.types !== undefined) {
    if (filter.types.length === 0) return [];
    where.push(`e.type IN (${filter.types.map(() => '?').join(', ')})`);
    args.push(...filter.types);
  }
  if (filter.since !== undefined) {
    where.push('e.time >= ?');
    args.push(Math.trunc(filter.since));
  }
  if (filter.until !== undefined) {
    where.push('e.time <= ?');
    args.push(Math.trunc(filter.until));
  }
  if (filter.afterSeq !== undefined) {
    where.push('e.seq > ?');
    args.push(filter.afterSeq);
  }
  const sql =
    'SELECT e.body AS body, p.body AS pbody FROM envelopes e LEFT JOIN payloads p ON p.seq = e.seq' +
    (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
    ' ORDER BY e.seq LIMIT ?';
  args.push(filter.limit ?? -1);
  const out: StoredEvent[] = [];
  for (const row of db.prepare(sql).iterate(...args) as Iterable<{ body: string; pbody: string | null }>) {
    try {
      out.push(openEvent(parseEnvelope(row.body), row.pbody));
    } catch {
      /* see doc comment */
    }
  }
  return out;
}

/**
 * First and last sequence number of a session, or undefined when unknown
 * (then the caller scans: correct, only slower; also for a version-1 store
 * opened read-only, which has no session_spans table).
 */
function sessionSpan(db: Database.Database, sessionId: string): { first: number; last: number } | undefined {
  const has = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'session_spans'`).get();
  if (!has) return undefined;
  const row = db.prepare('SELECT first_seq, last_seq FROM session_spans WHERE session_id = ?').get(sessionId) as { first_seq: number; last_seq: number } | undefined;
  return row ? { first: row.first_seq, last: row.last_seq } : undefined;
}

/**
 * Everything verification reads, exactly as stored. Envelopes and payloads
 * are streamed in key order (verifyLog reads them once, in step), so the
 * whole log is never held in memory; the checkpoints are read at once.
 * Call inside one read transaction, so that all of it is one snapshot.
 */
export function readStore(db: Database.Database): {
  records: Iterable<LogRecord>;
  payloads: Iterable<LogPayload>;
  checkpoints: LogCheckpoint[];
  claimedSize: number;
} {
  const records = mapRows(db.prepare('SELECT seq, body, leaf_hash FROM envelopes ORDER BY seq'), (r: { seq: number; body: string; leaf_hash: Buffer }) => ({
    seq: r.seq,
    envelope: r.body,
    leafHash: r.leaf_hash,
  }));
  const payloads = mapRows(db.prepare('SELECT seq, class, salt, body FROM payloads ORDER BY seq'), (p: { seq: number; class: string; salt: Buffer; body: string }) => ({
    seq: p.seq,
    class: p.class,
    salt: p.salt,
    body: p.body,
  }));
  const checkpoints = (db.prepare('SELECT id, body FROM checkpoints ORDER BY id').all() as { id: number; body: string }[]).map((c) => ({ id: c.id, note: c.body }));
  const st = db.prepare('SELECT size FROM tree_state WHERE id = 1').get() as { size: number } | undefined;
  return { records, payloads, checkpoints, claimedSize: st?.size ?? 0 };
}

/**
 * Statements run and refused per session, counted by SQL over the type and
 * session columns: no envelope is parsed, so `sessions list` costs a scan,
 * not a read of every statement into memory.
 */
export function statementCounts(db: Database.Database, since?: number): Map<string, { statements: number; denied: number }> {
  const rows = db
    .prepare(
      `SELECT session_id AS id, sum(type = 'statement.started') AS started, sum(type = 'statement.denied') AS denied
         FROM envelopes WHERE type IN ('statement.started', 'statement.denied') AND session_id IS NOT NULL AND time >= ?
        GROUP BY session_id`,
    )
    .all(since === undefined ? Number.MIN_SAFE_INTEGER : Math.trunc(since)) as { id: string; started: number; denied: number }[];
  return new Map(rows.map((r) => [r.id, { statements: r.started, denied: r.denied }]));
}

/** Rows of `stmt`, mapped, read lazily when iterated (once). */
function mapRows<R, T>(stmt: Database.Statement, map: (row: R) => T): Iterable<T> {
  return {
    *[Symbol.iterator]() {
      for (const row of stmt.iterate() as Iterable<R>) yield map(row);
    },
  };
}

/** Stored leaf hashes of entries 1..size, stopping at the first gap. */
export function* storedLeafHashes(db: Database.Database, size: number): Generator<Buffer> {
  let next = 1;
  for (const r of db.prepare('SELECT seq, leaf_hash FROM envelopes WHERE seq <= ? ORDER BY seq').iterate(size) as Iterable<{ seq: number; leaf_hash: Buffer }>) {
    if (r.seq !== next++) return;
    yield r.leaf_hash;
  }
}

/** Inclusion proof of entry `seq` against the checkpoint `cp` (size ≥ seq): one pass over the stored leaf hashes, O(log size) memory. */
export function inclusionProofFor(
  db: Database.Database,
  origin: string,
  seq: number,
  cp: { id: number; size: number; note: string },
  keyHandovers: readonly string[] = [],
): InclusionProof {
  const plan = new ProofPlan();
  plan.leaf(seq - 1);
  plan.inclusion(seq - 1, cp.size);
  const stored = plan.run(storedLeafHashes(db, cp.size));
  if (stored < cp.size) throw new Error(`the store holds only ${stored} contiguous leaves, checkpoint ${cp.id} signs ${cp.size}`);
  const env = db.prepare('SELECT body FROM envelopes WHERE seq = ?').get(seq) as { body: string };
  const pay = db.prepare('SELECT class, salt, body FROM payloads WHERE seq = ?').get(seq) as { class: string; salt: Buffer; body: string } | undefined;
  return {
    format: PROOF_FORMAT,
    origin,
    seq,
    leafIndex: seq - 1,
    treeSize: cp.size,
    leafHash: plan.leaf(seq - 1).toString('hex'),
    envelope: env.body,
    ...(pay ? { payload: { class: pay.class, salt: pay.salt.toString('hex'), body: pay.body } } : {}),
    path: plan.inclusion(seq - 1, cp.size).map((h) => h.toString('hex')),
    checkpoint: cp.note,
    ...(keyHandovers.length > 0 ? { keyHandovers } : {}),
  };
}

/** Ranges per retention.run event, to keep one envelope bounded. */
export const MAX_RANGES_PER_EVENT = 4096;

/**
 * The payloads that `rules` (seconds per class) expire at `now`, and the
 * retention.run event(s) that record them: per class, inclusive seq ranges
 * [from, to] meaning "every payload of this class with a seq in the range
 * was removed" (`expiredByClass`). Classes interleave in the log (a
 * statement's text, then its result sample), so ranges of plain sequence
 * numbers would break at every entry of another class; ranges per class
 * stay one per class and run, and break only at a payload of the class that
 * is not expired (possible only if the clock went back).
 *
 * At most `limit` payloads, the oldest first; `more` says that others are
 * due too (the next call continues where this one stops, since the removed
 * ones are gone).
 */
export function selectExpired(
  db: Database.Database,
  rules: Readonly<Record<string, number>>,
  now: number,
  limit: number = Number.MAX_SAFE_INTEGER,
): { count: number; byClass: Record<string, [number, number][]>; events: GatewayEvent[]; more: boolean } {
  for (const [cls, secs] of Object.entries(rules)) {
    if (!Number.isFinite(secs) || secs < 0) throw new RangeError(`retention for ${cls} must be a non-negative number of seconds`);
  }
  const cutoff = (cls: string): number => Math.floor(now - rules[cls]! * 1000);
  // Walks the time index, then the payload by primary key.
  const select = db.prepare('SELECT e.seq AS seq FROM envelopes e JOIN payloads p ON p.seq = e.seq WHERE e.time <= ? AND p.class = ? ORDER BY e.seq LIMIT ?');
  let due: { seq: number; cls: string }[] = [];
  let more = false;
  for (const cls of Object.keys(rules)) {
    const before = due.length;
    for (const r of select.iterate(cutoff(cls), cls, limit) as Iterable<{ seq: number }>) due.push({ seq: r.seq, cls });
    if (due.length - before === limit) more = true;
  }
  due.sort((a, b) => a.seq - b.seq);
  if (due.length > limit) {
    // The oldest `limit` overall: per class still the oldest ones, so each class's ranges below are exact.
    due = due.slice(0, limit);
    more = true;
  }
  // Payloads of a class inside its span that this run keeps (newer than the cutoff): a range must not cover them.
  const kept = db.prepare('SELECT p.seq AS seq FROM payloads p JOIN envelopes e ON e.seq = p.seq WHERE p.class = ? AND p.seq > ? AND p.seq < ? AND e.time > ? ORDER BY p.seq');
  const byClass: Record<string, [number, number][]> = {};
  const counts = new Map<[number, number], number>();
  for (const cls of Object.keys(rules)) {
    const seqs = due.filter((d) => d.cls === cls).map((d) => d.seq);
    if (seqs.length === 0) continue;
    const blockers = (kept.all(cls, seqs[0]!, seqs[seqs.length - 1]!, cutoff(cls)) as { seq: number }[]).map((r) => r.seq);
    const ranges: [number, number][] = [];
    let b = 0;
    for (const seq of seqs) {
      const last = ranges[ranges.length - 1];
      while (b < blockers.length && blockers[b]! < seq) b++;
      // A kept payload between the previous removed one and this one starts a new range.
      const blocked = last !== undefined && b > 0 && blockers[b - 1]! > last[1];
      if (last && !blocked) {
        last[1] = seq;
        counts.set(last, counts.get(last)! + 1);
      } else {
        const range: [number, number] = [seq, seq];
        ranges.push(range);
        counts.set(range, 1);
      }
    }
    byClass[cls] = ranges;
  }
  // Bounded envelopes: at most MAX_RANGES_PER_EVENT ranges per event.
  const events: GatewayEvent[] = [];
  let chunk: Record<string, [number, number][]> = {};
  let inChunk = 0;
  let expiredInChunk = 0;
  const emit = (): void => {
    events.push({ type: 'retention.run', time: now, rules: { ...rules }, expired: expiredInChunk, expiredByClass: chunk });
    chunk = {};
    inChunk = 0;
    expiredInChunk = 0;
  };
  for (const [cls, ranges] of Object.entries(byClass)) {
    for (const range of ranges) {
      if (inChunk === MAX_RANGES_PER_EVENT) emit();
      (chunk[cls] ??= []).push(range);
      inChunk++;
      expiredInChunk += counts.get(range)!;
    }
  }
  if (inChunk > 0 || events.length === 0) emit(); // every run is an event, also when nothing expired
  return { count: due.length, byClass, events, more };
}
