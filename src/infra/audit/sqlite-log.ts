/**
 * The audit log store: an EventSink over better-sqlite3 (issue 5).
 *
 * Write path (write-ahead, fail closed): `append` queues the event; all
 * appends that arrive before the next turn of the event loop (or within
 * `batchWindowMs`) are sealed — sequence number, envelope, payload
 * commitment, leaf hash — and written in ONE transaction together with the
 * new Merkle compact range (and a signed checkpoint when one is due). Only
 * after COMMIT returns do their promises resolve; if the transaction fails
 * they all reject with GW_EVENT_STORE_UNAVAILABLE and the in-memory tree is
 * left as it was, so the next batch continues from what is durable. The
 * caller then refuses the statement (ARCHITECTURE.md principle 4).
 *
 * With durability 'full' appends resolve only after the WAL holding their
 * COMMIT has been fsynced — on libuv's thread pool, so the event loop seals
 * and commits the next batch meanwhile (wal-sync.ts); 'normal' resolves
 * after COMMIT, which survives a process crash but not a power loss.
 * better-sqlite3 is synchronous, so appends arriving while a batch is being
 * written naturally form the next batch.
 *
 * The pending queue is bounded (`maxPending`); past it, appends are refused
 * with the same error rather than buffered without limit.
 */
import Database from 'better-sqlite3';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayError } from '../../shared/errors.ts';
import { systemClock, type Clock } from '../../shared/clock.ts';
import type { AppendOptions, EventSink } from '../../core/ports.ts';
import type { GatewayEvent, StoredEvent } from '../../core/audit/events.ts';
import { sealEvent, type SealedEvent } from '../../core/audit/envelope.ts';
import { MerkleFrontier } from '../../core/audit/merkle.ts';
import {
  checkpointBodyHash,
  cosignNote,
  keyId,
  openCheckpoint,
  signCheckpoint,
  verifierKey,
  type Checkpoint,
} from '../../core/audit/checkpoint.ts';
import { verifyLog, type VerifyResult } from '../../core/audit/verify.ts';
import { keysAfterHandovers, sameKey } from '../../core/audit/keychain.ts';
import type { InclusionProof } from '../../core/audit/proof.ts';
import { createAuditSchema } from './schema.ts';
import { publicKeyPem } from './keys.ts';
import { writeBundle, type ExportOptions, type ExportSummary } from './export.ts';
import { WalSyncer } from './wal-sync.ts';
import { WalCheckpointer } from './wal-checkpointer.ts';
import { acquireWriterLock, type WriterLock } from './writer-lock.ts';
import { loadTreeState, startupProblem, storedHandovers, type LastCheckpoint } from './startup.ts';
import { inclusionProofFor, queryEvents, readStore, selectExpired, statementCounts, type QueryFilter } from './read.ts';

export type { QueryFilter } from './read.ts';

export const AUDIT_DB_FILE = 'gatehouse.db';
/** Longest a lazy append waits for a batch to ride with. */
export const LAZY_FLUSH_MS = 20;
export const AUDIT_UNAVAILABLE_MESSAGE = 'audit log unavailable: statement refused';

export interface AuditLogOptions {
  readonly stateDir: string;
  /** Name of this Gatehouse instance, written into every envelope. */
  readonly instance: string;
  /** Ed25519 private key; required in 'write' mode. */
  readonly signingKey?: KeyObject;
  /** Public key for 'inspect' mode without the private key. */
  readonly publicKey?: KeyObject;
  /** Checkpoint origin and signed-note key name, e.g. 'gatehouse.local/audit'. */
  readonly keyName: string;
  readonly checkpointEvery?: { readonly entries: number; readonly seconds: number };
  readonly durability?: 'full' | 'normal';
  /** 'inspect': read, verify, export and prove only; nothing is written (for CLI commands on a stopped or damaged log). */
  readonly mode?: 'write' | 'inspect';
  /** Retention seconds per payload class, used to fill payloads.expires_at at write time. */
  readonly retention?: Readonly<Record<string, number>>;
  /** Wait this long for more appends before writing a batch (0 = next event-loop turn). */
  readonly batchWindowMs?: number;
  /** Bound of the pending queue; appends past it are refused. */
  readonly maxPending?: number;
  readonly clock?: Clock;
  /**
   * Called after each checkpoint is committed, e.g. to copy it to storage
   * Gatehouse's operators cannot rewrite (see anchor.ts). Errors thrown here
   * are swallowed: anchoring must not stop the log.
   */
  readonly onCheckpoint?: (cp: CheckpointInfo) => void;
}

export interface CheckpointInfo {
  readonly id: number;
  readonly size: number;
  /** hex root hash. */
  readonly root: string;
  readonly time: number | undefined;
  /** The signed note. */
  readonly note: string;
}

export interface RetentionResult {
  /** The retention.run event(s) appended (more than one when the ranges are many). */
  readonly events: readonly StoredEvent[];
  readonly expired: number;
  /** Per class, inclusive seq ranges in which every payload of the class was removed. */
  readonly expiredByClass: Readonly<Record<string, readonly (readonly [number, number])[]>>;
  /** More payloads are due than this run removed (see `maxPayloads`): run again. */
  readonly more: boolean;
}

/** Payloads one retention run removes at most: one transaction, and the gateway's loop, stay short. */
export const RETENTION_BATCH = 50_000;

interface Pending {
  readonly event: GatewayEvent;
  readonly resolve: (e: StoredEvent) => void;
  readonly reject: (e: unknown) => void;
}

export function auditUnavailable(cause?: unknown): GatewayError {
  // Client-safe: the client learns the statement was refused, not why the store failed.
  return new GatewayError('GW_EVENT_STORE_UNAVAILABLE', AUDIT_UNAVAILABLE_MESSAGE, {
    clientSafe: true,
    ...(cause === undefined ? {} : { cause }),
  });
}

export class AuditLog implements EventSink {
  private readonly db: Database.Database;
  private readonly origin: string;
  private readonly instance: string;
  /** Write mode: the key in force, which signs checkpoints (replaced by rotateKey). */
  private privateKey: KeyObject | undefined;
  /** The configured key (write mode) or the key the reader trusts (inspect mode): verification starts from it. */
  private readonly publicKey: KeyObject;
  /**
   * The log's signing keys, oldest first (keychain.ts): the last is the key
   * in force; `[publicKey]` when the handovers do not lead from it.
   */
  private keyChain: KeyObject[];
  /** Why the log's key handovers do not lead from `publicKey` to a key in force (startup refuses to write). */
  private readonly keyProblem: string | undefined;
  private readonly every: { entries: number; seconds: number };
  private readonly retention: Readonly<Record<string, number>>;
  private readonly batchWindowMs: number;
  private readonly maxPending: number;
  private readonly clock: Clock;
  private readonly writable: boolean;
  private readonly stateDir: string;
  private readonly onCheckpoint: ((cp: CheckpointInfo) => void) | undefined;
  /** Set for durability 'full': resolves appends only after their commit is fsynced. */
  private readonly syncer: WalSyncer | undefined;
  /** Write mode: SQLite's WAL checkpoints on a worker thread instead of inside commits (wal-checkpointer.ts). */
  private walCheckpointer: WalCheckpointer | undefined;
  /** Write mode: this process's claim on the log (writer-lock.ts), released by close(). */
  private writerLock: WriterLock | null = null;

  /** Compact range of the committed tree. */
  private frontier: MerkleFrontier;
  private lastCheckpoint: LastCheckpoint | null;
  private pending: Pending[] = [];
  private flushScheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private lazyTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly counters = { batches: 0, appended: 0, refused: 0, checkpoints: 0, largestBatch: 0, checkpointerErrors: 0 };
  private lastCheckpointerError: string | undefined;
  /** The newest write's outcome (readiness): a failed commit or sync, and when (clock ms). */
  private lastWrite: { ok: boolean; at: number } = { ok: true, at: 0 };

  private readonly stmt: {
    insEnvelope: Database.Statement;
    insPayload: Database.Statement;
    insCheckpoint: Database.Statement;
    putState: Database.Statement;
    /** Null in inspect mode: a version-1 store opened read-only has no session_spans table. */
    putSpan: Database.Statement | null;
  };
  private readonly commitTx: (seals: readonly SealedEvent[], f: MerkleFrontier, note: string | null, before: (() => void) | undefined) => number | null;

  private constructor(opts: AuditLogOptions, db: Database.Database) {
    this.db = db;
    this.origin = opts.keyName;
    this.instance = opts.instance;
    this.stateDir = opts.stateDir;
    this.writable = (opts.mode ?? 'write') === 'write';
    this.privateKey = opts.signingKey;
    const pub = opts.publicKey ?? (opts.signingKey ? createPublicKey(opts.signingKey) : undefined);
    if (!pub) throw new GatewayError('GW_CONFIG_INVALID', 'audit log needs a signing key or a public key');
    this.publicKey = pub;
    if (this.writable && !this.privateKey) throw new GatewayError('GW_CONFIG_INVALID', 'audit log in write mode needs a signing key');
    this.every = { entries: opts.checkpointEvery?.entries ?? 1000, seconds: opts.checkpointEvery?.seconds ?? 10 };
    this.retention = opts.retention ?? {};
    this.batchWindowMs = opts.batchWindowMs ?? 0;
    this.maxPending = opts.maxPending ?? 100_000;
    this.clock = opts.clock ?? systemClock;
    this.onCheckpoint = opts.onCheckpoint;
    const dbPath = join(opts.stateDir, AUDIT_DB_FILE);
    this.syncer = opts.durability === 'normal' ? undefined : new WalSyncer(`${dbPath}-wal`, dbPath);

    this.stmt = {
      insEnvelope: db.prepare('INSERT INTO envelopes (seq, time, type, session_id, body, leaf_hash) VALUES (?, ?, ?, ?, ?, ?)'),
      insPayload: db.prepare('INSERT INTO payloads (seq, salt, body, class, expires_at) VALUES (?, ?, ?, ?, ?)'),
      insCheckpoint: db.prepare('INSERT INTO checkpoints (size, root, body) VALUES (?, ?, ?)'),
      putSpan: this.writable
        ? db.prepare(
            'INSERT INTO session_spans (session_id, first_seq, last_seq) VALUES (?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET last_seq = excluded.last_seq',
          )
        : null,
      putState: db.prepare(
        'INSERT INTO tree_state (id, size, frontier) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET size = excluded.size, frontier = excluded.frontier',
      ),
    };
    this.commitTx = db.transaction((seals: readonly SealedEvent[], f: MerkleFrontier, note: string | null, before: (() => void) | undefined) => {
      before?.();
      // One span upsert per session per batch (schema.ts: session_spans).
      let spans: Map<string, [first: number, last: number]> | undefined;
      for (const s of seals) {
        const e = s.envelope;
        this.stmt.insEnvelope.run(e.seq, Math.trunc(e.time), e.type, e.sessionId ?? null, s.envelopeJson, s.leafHash);
        if (e.sessionId !== undefined) {
          const span = (spans ??= new Map()).get(e.sessionId);
          if (span) span[1] = e.seq;
          else spans.set(e.sessionId, [e.seq, e.seq]);
        }
        if (s.payload) {
          const keep = this.retention[s.payload.class];
          const expiresAt = keep === undefined ? null : Math.trunc(e.time + keep * 1000);
          this.stmt.insPayload.run(e.seq, s.payload.salt, s.payload.body, s.payload.class, expiresAt);
        }
      }
      if (spans) for (const [session, [first, last]] of spans) this.stmt.putSpan!.run(session, first, last);
      this.stmt.putState.run(f.size, f.serialize());
      if (note === null) return null;
      return Number(this.stmt.insCheckpoint.run(f.size, f.root(), note).lastInsertRowid);
    });

    const chain = keysAfterHandovers(this.origin, this.publicKey, storedHandovers(db));
    this.keyChain = [...chain.keys];
    this.keyProblem = chain.problem;
    const state = loadTreeState(db, this.origin, this.signingKey);
    this.frontier = state.frontier;
    this.lastCheckpoint = state.lastCheckpoint;
  }

  /** Open (creating if needed) the audit log in `stateDir/gatehouse.db`. */
  static open(opts: AuditLogOptions): AuditLog {
    const inspect = (opts.mode ?? 'write') === 'inspect';
    if (!inspect) mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
    // One writer per log (writer-lock.ts): taken before anything is read into memory.
    const lock = inspect ? null : acquireWriterLock(opts.stateDir);
    let db: Database.Database;
    try {
      db = new Database(join(opts.stateDir, AUDIT_DB_FILE), { fileMustExist: inspect });
    } catch (e) {
      lock?.release();
      throw e;
    }
    try {
      db.pragma('journal_mode = WAL');
      // 'full' is NORMAL plus our own off-thread WAL fsync before appends resolve (wal-sync.ts).
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      if (!inspect) {
        createAuditSchema(db);
        // Checkpoints run on a worker thread (wal-checkpointer.ts), not inside our commits.
        db.pragma('wal_autocheckpoint = 0');
      }
      const log = new AuditLog(opts, db);
      log.writerLock = lock;
      if (!inspect) log.startWriting();
      return log;
    } catch (e) {
      db.close();
      lock?.release();
      throw e;
    }
  }

  // -------------------------------------------------------------------------
  // State

  /** Write-mode startup: refuse to continue a log that is visibly damaged, anchor a recovered tail, start the timer. */
  private startWriting(): void {
    const problem = this.keyProblem ?? this.retiredKeyProblem() ?? startupProblem(this.db, this.origin, this.signingKey, this.frontier, this.lastCheckpoint);
    if (problem) {
      throw new GatewayError('GW_EVENT_STORE_UNAVAILABLE', `audit log failed its startup check: ${problem}; run 'gatehouse audit verify'`);
    }
    if (this.syncer) {
      this.syncer.syncNow();
      this.syncer.syncDirectory(this.stateDir);
    }
    // Entries committed before a crash but not yet checkpointed: sign them now.
    this.checkpoint();
    if (this.every.seconds > 0) {
      this.timer = setInterval(() => this.onTimer(), this.every.seconds * 1000);
      this.timer.unref();
    }
    this.walCheckpointer = new WalCheckpointer({
      dbPath: join(this.stateDir, AUDIT_DB_FILE),
      onError: (message) => {
        this.counters.checkpointerErrors++;
        this.lastCheckpointerError = message;
      },
    });
  }

  /** After a commit: let the worker know, and checkpoint here when the WAL has grown past its bound. */
  private afterCommitted(): void {
    const c = this.walCheckpointer;
    if (!c) return;
    c.noteCommit();
    if (!c.due()) return;
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)');
      c.checkpointed();
    } catch {
      // Not an append failure: the frames stay in the WAL and the next commit tries again.
    }
  }

  private onTimer(): void {
    if (this.closed) return;
    try {
      this.checkpoint();
    } catch {
      // A failed periodic checkpoint is retried on the next tick; appends report store failures themselves.
    }
  }

  // -------------------------------------------------------------------------
  // Write path

  get size(): number {
    return this.frontier.size;
  }

  append(event: GatewayEvent, opts?: AppendOptions): Promise<StoredEvent> {
    // Fail closed: a closed, read-only or overloaded log refuses, and the caller refuses the statement.
    if (this.closed || !this.writable || this.pending.length >= this.maxPending) {
      this.counters.refused++;
      return Promise.reject(auditUnavailable());
    }
    return new Promise<StoredEvent>((resolve, reject) => {
      this.pending.push({ event, resolve, reject });
      if (opts?.lazy) this.scheduleLazy();
      else this.schedule();
    });
  }

  /**
   * A lazy append rides with the next batch that someone waits for; if none
   * comes within LAZY_FLUSH_MS it is written on its own. Saves a transaction
   * (and with durability 'full' an fsync) per statement: statement.finished
   * goes out with the next statement.started.
   */
  private scheduleLazy(): void {
    if (this.flushScheduled || this.lazyTimer) return;
    this.lazyTimer = setTimeout(() => {
      this.lazyTimer = undefined;
      this.schedule();
    }, LAZY_FLUSH_MS);
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // While an fsync runs, appends wait for it anyway: commit them together when it ends (wal-sync.ts).
    if (this.syncer?.busy) this.syncer.beforeNextSync(() => this.flush());
    else if (this.batchWindowMs > 0) setTimeout(() => this.flush(), this.batchWindowMs);
    else setImmediate(() => this.flush());
  }

  /** Write every pending append now, in one transaction. */
  flush(): void {
    this.flushScheduled = false;
    if (this.lazyTimer) {
      clearTimeout(this.lazyTimer);
      this.lazyTimer = undefined;
    }
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const f = this.frontier.clone();
    const seals: SealedEvent[] = [];
    const accepted: Pending[] = [];
    for (const item of batch) {
      let s: SealedEvent;
      try {
        s = sealEvent(item.event, f.size + 1, this.instance);
      } catch (e) {
        // An event JSON cannot represent (NaN, cycles…) is refused alone; the others go on.
        item.reject(auditUnavailable(e));
        continue;
      }
      f.append(s.leafHash);
      seals.push(s);
      accepted.push(item);
    }
    if (seals.length === 0) return;
    try {
      this.commit(seals, f, false);
    } catch (e) {
      const err = auditUnavailable(e);
      this.lastWrite = { ok: false, at: this.clock.now() };
      this.counters.refused += accepted.length;
      for (const item of accepted) item.reject(err);
      return;
    }
    this.counters.batches++;
    this.counters.appended += seals.length;
    this.counters.largestBatch = Math.max(this.counters.largestBatch, seals.length);
    this.whenDurable((err) => {
      if (err) {
        // Committed but not known to be on disk: refuse, as for a failed write (fail closed).
        const refused = auditUnavailable(err);
        this.lastWrite = { ok: false, at: this.clock.now() };
        this.counters.refused += accepted.length;
        for (const item of accepted) item.reject(refused);
        return;
      }
      this.lastWrite = { ok: true, at: this.clock.now() };
      accepted.forEach((item, i) => item.resolve({ ...item.event, seq: seals[i]!.envelope.seq } as StoredEvent));
    });
  }

  /** Run `done` once everything committed so far is on stable storage (immediately with durability 'normal'). */
  private whenDurable(done: (err: Error | null) => void): void {
    if (this.syncer) this.syncer.afterCommit(done);
    else done(null);
  }

  /**
   * Commit sealed entries whose tree is `f` (already containing them), with
   * a checkpoint when one is due or forced. Memory state changes only after
   * COMMIT succeeded.
   */
  private commit(seals: readonly SealedEvent[], f: MerkleFrontier, forceCheckpoint: boolean, before?: () => void, handoverTo?: KeyObject): void {
    if (this.closed) throw new Error('audit log is closed');
    const lastSize = this.lastCheckpoint?.size ?? 0;
    const due = f.size > lastSize && (forceCheckpoint || handoverTo !== undefined || f.size - lastSize >= this.every.entries);
    let note: string | null = null;
    let body = '';
    const time = Math.floor(this.clock.now() / 1000);
    if (due) {
      note = signCheckpoint(
        {
          origin: this.origin,
          size: f.size,
          rootHash: f.root(),
          time,
          ...(this.lastCheckpoint ? { prev: checkpointBodyHash(this.lastCheckpoint.body) } : {}),
          ...(handoverTo ? { rotation: { from: verifierKey(this.origin, this.signingKey), to: verifierKey(this.origin, handoverTo) } } : {}),
        },
        this.requireKey(),
      );
      // A handover is signed by the outgoing key (above) and the incoming one.
      if (handoverTo) note = cosignNote(note, this.origin, handoverTo);
      body = note.slice(0, note.lastIndexOf('\n\n') + 1);
    }
    const id = this.commitTx(seals, f, note, before);
    this.afterCommitted();
    // Appends wait for the off-thread fsync (flush); the rare synchronous writers sync here.
    const syncedNow = this.syncer !== undefined && (forceCheckpoint || before !== undefined);
    if (syncedNow) this.syncer!.syncNow();
    this.frontier = f;
    if (id !== null) {
      this.lastCheckpoint = { id, size: f.size, body };
      this.counters.checkpoints++;
      const anchor = this.onCheckpoint;
      if (anchor && note !== null) {
        const info: CheckpointInfo = { id, size: f.size, root: f.root().toString('hex'), time, note };
        const copyOut = (err: Error | null): void => {
          if (err) return;
          try {
            anchor(info);
          } catch {
            // Anchoring is best effort here; `verify({ anchors })` reports gaps.
          }
        };
        // Copy it out only once it is durable here, so an anchored checkpoint is never lost locally.
        if (syncedNow || !this.syncer) copyOut(null);
        else this.whenDurable(copyOut);
      }
    }
  }

  /**
   * Whether the log takes appends (readiness probes): false once closed or
   * read-only, or while the newest write failed (`failedAt`, clock ms; the
   * next write that succeeds clears it). Says nothing of why: the reason is
   * in the gateway's log.
   */
  writeHealth(): { readonly ok: boolean; readonly failedAt?: number } {
    if (this.closed || !this.writable) return { ok: false };
    return this.lastWrite.ok ? { ok: true } : { ok: false, failedAt: this.lastWrite.at };
  }

  /** Write mode: the previous writer, when it ended without closing the log (a crash, kill -9), for the log. */
  get previousWriter(): { readonly pid: number; readonly host: string; readonly since: string } | null {
    return this.writerLock?.previousOwner ?? null;
  }

  /** Counters since open (for metrics and tests). */
  stats(): {
    batches: number;
    appended: number;
    refused: number;
    checkpoints: number;
    largestBatch: number;
    pending: number;
    size: number;
    checkpointerErrors: number;
    walCheckpoints: number;
    lastCheckpointerError?: string;
  } {
    return {
      ...this.counters,
      pending: this.pending.length,
      size: this.frontier.size,
      walCheckpoints: this.walCheckpointer?.reports ?? 0,
      ...(this.lastCheckpointerError ? { lastCheckpointerError: this.lastCheckpointerError } : {}),
    };
  }

  /** The public half of the key in force, which signs checkpoints. */
  private get signingKey(): KeyObject {
    return this.keyChain[this.keyChain.length - 1]!;
  }

  /** The configured key was handed over to another one: signing with it now would fork the key chain. */
  private retiredKeyProblem(): string | undefined {
    // The key this process signs with (rotateKey replaces it), else the configured one.
    const mine = this.privateKey ? createPublicKey(this.privateKey) : this.publicKey;
    if (sameKey(mine, this.signingKey)) return undefined;
    return `the configured signing key (key id ${keyId(this.origin, mine).toString('hex')}) was retired: key handover ${this.keyChain.length - 1} passed signing to key ${keyId(this.origin, this.signingKey).toString('hex')}; configure that key (if 'gatehouse audit rotate-key' stopped half-way, run it again to finish)`;
  }

  private requireKey(): KeyObject {
    if (!this.privateKey || !this.writable) throw new GatewayError('GW_CONFIG_INVALID', 'audit log is open for inspection only');
    return this.privateKey;
  }

  /** Sign a checkpoint now if entries were added since the last one. Returns the newest checkpoint. */
  checkpoint(): CheckpointInfo | null {
    if (this.writable && !this.closed) {
      this.flush();
      if (this.frontier.size > (this.lastCheckpoint?.size ?? 0)) this.commit([], this.frontier.clone(), true);
    }
    return this.latestCheckpoint();
  }

  // -------------------------------------------------------------------------
  // Reading

  latestCheckpoint(): CheckpointInfo | null {
    const row = this.db.prepare('SELECT id, body FROM checkpoints ORDER BY id DESC LIMIT 1').get() as { id: number; body: string } | undefined;
    return row ? this.checkpointInfo(row) : null;
  }

  private checkpointInfo(row: { id: number; body: string }): CheckpointInfo {
    const cp: Checkpoint = openCheckpoint(row.body, this.origin, this.signingKey);
    return { id: row.id, size: cp.size, root: cp.rootHash.toString('hex'), time: cp.time, note: row.body };
  }

  /** Events rebuilt from envelope + payload, in sequence order (for listing and replay). */
  query(filter: QueryFilter = {}): StoredEvent[] {
    return queryEvents(this.db, filter);
  }

  /** Statements and refusals per session, since `since` (ms), without reading the statements. */
  statementCounts(filter: { since?: number } = {}): Map<string, { statements: number; denied: number }> {
    if (this.writable && !this.closed) this.flush();
    return statementCounts(this.db, filter.since);
  }

  /**
   * Verify the whole live store (see core/audit/verify.ts for what is
   * checked). `anchors`: signed checkpoints kept elsewhere, to detect a
   * split view or a rollback.
   */
  verify(opts: { anchors?: readonly string[] } = {}): VerifyResult {
    if (this.writable && !this.closed) this.flush();
    // One read transaction: a gateway appending meanwhile does not make the counts disagree.
    return this.db.transaction(() =>
      verifyLog({
        origin: this.origin,
        publicKey: this.publicKey,
        ...readStore(this.db),
        ...(opts.anchors ? { anchors: opts.anchors } : {}),
      }),
    )();
  }

  /** An inclusion proof for entry `seq` against the newest checkpoint (signing one first if `seq` is not yet covered). */
  prove(seq: number): InclusionProof {
    if (!Number.isSafeInteger(seq) || seq < 1) throw new RangeError(`no entry ${seq}`);
    let cp = this.latestCheckpoint();
    if ((!cp || cp.size < seq) && this.writable) cp = this.checkpoint();
    if (!cp || cp.size < seq) throw new RangeError(`entry ${seq} is not covered by a checkpoint`);
    return inclusionProofFor(this.db, this.origin, seq, cp, storedHandovers(this.db, cp.id));
  }

  /**
   * Write an evidence bundle (see docs/audit.md). In write mode a checkpoint
   * is signed first so the bundle can cover every entry written so far.
   */
  exportBundle(opts: ExportOptions): ExportSummary {
    // The manifest is signed by the key in force: a retired key would make a bundle no auditor can check.
    const keyProblem = this.privateKey ? (this.keyProblem ?? this.retiredKeyProblem()) : undefined;
    if (keyProblem) throw new GatewayError('GW_CONFIG_INVALID', keyProblem);
    if (this.writable) this.checkpoint();
    return writeBundle(this.db, {
      origin: this.origin,
      instance: this.instance,
      privateKey: this.privateKey,
      publicKey: this.signingKey,
      now: this.clock.now(),
    }, opts);
  }

  /**
   * Throws when `next` cannot take over the signing key: not an Ed25519
   * private key, the key in force already, or a key that signed for this log
   * before. Returns its public half. (rotateKey checks it too; callers that
   * prepare files first check before.)
   */
  checkRotation(next: KeyObject): KeyObject {
    this.requireKey();
    if (next.type !== 'private' || next.asymmetricKeyType !== 'ed25519') {
      throw new GatewayError('GW_CONFIG_INVALID', 'the new audit key must be an Ed25519 private key');
    }
    const nextPublic = createPublicKey(next);
    const nextId = keyId(this.origin, nextPublic).toString('hex');
    if (sameKey(nextPublic, this.signingKey)) throw new GatewayError('GW_CONFIG_INVALID', `key ${nextId} is already the key in force`);
    if (this.keyChain.some((k) => sameKey(k, nextPublic))) {
      throw new GatewayError('GW_CONFIG_INVALID', `key ${nextId} signed for this log before and was retired; a retired key is never taken back`);
    }
    return nextPublic;
  }

  /**
   * Hand the signing key over to `next` (an Ed25519 private key): append an
   * `audit.key_rotated` entry and sign a handover checkpoint covering it
   * with the outgoing and the incoming key, durably, in one transaction;
   * from then on checkpoints are signed by `next` (keychain.ts). The log
   * must then be opened with `next`: the outgoing key is refused at start.
   * A key that signed for this log before is never taken back.
   */
  rotateKey(next: KeyObject, opts: { justification?: string } = {}): CheckpointInfo {
    const nextPublic = this.checkRotation(next);
    this.flush();
    const f = this.frontier.clone();
    const event: GatewayEvent = {
      type: 'audit.key_rotated',
      time: this.clock.now(),
      fromKey: verifierKey(this.origin, this.signingKey),
      toKey: verifierKey(this.origin, nextPublic),
      ...(opts.justification ? { justification: opts.justification } : {}),
    };
    const s = sealEvent(event, f.size + 1, this.instance);
    f.append(s.leafHash);
    try {
      // `before` makes the commit sync to disk before returning, like a retention run.
      this.commit([s], f, true, () => undefined, next);
    } catch (e) {
      throw auditUnavailable(e);
    }
    this.privateKey = next;
    this.keyChain.push(nextPublic);
    return this.latestCheckpoint()!;
  }

  /**
   * Remove payloads older than their class's retention (seconds; classes
   * without a rule are kept) and append a `retention.run` event listing
   * them, in one transaction: at most `maxPayloads`, the oldest first
   * (`more` in the result when others are due; the caller runs again, so
   * that a large backlog — retention switched on for an old log — never
   * holds the event loop or one transaction for long). Throws
   * GW_EVENT_STORE_UNAVAILABLE if the store cannot be written.
   */
  applyRetention(rules: Readonly<Record<string, number>>, now: number = this.clock.now(), opts: { maxPayloads?: number } = {}): RetentionResult {
    this.requireKey();
    this.flush();
    const { count, byClass, events, more } = selectExpired(this.db, rules, now, opts.maxPayloads ?? RETENTION_BATCH);
    const f = this.frontier.clone();
    const seals = events.map((ev) => {
      const s = sealEvent(ev, f.size + 1, this.instance);
      f.append(s.leafHash);
      return s;
    });
    // Exactly what the ranges say: every payload of the class in the range (read.ts: selectExpired).
    const del = this.db.prepare('DELETE FROM payloads WHERE class = ? AND seq BETWEEN ? AND ?');
    try {
      // Removal and its record commit together: there is never a removed payload without its retention entry.
      this.commit(seals, f, false, () => {
        for (const [cls, ranges] of Object.entries(byClass)) for (const [a, b] of ranges) del.run(cls, a, b);
      });
    } catch (e) {
      throw auditUnavailable(e);
    }
    return {
      events: events.map((ev, i) => ({ ...ev, seq: seals[i]!.envelope.seq }) as StoredEvent),
      expired: count,
      expiredByClass: byClass,
      more,
    };
  }

  publicKeyPem(): string {
    return publicKeyPem(this.signingKey);
  }

  /** The signed-note verifier key (`name+keyid+base64`), for witnesses and note tooling. */
  verifierKey(): string {
    return verifierKey(this.origin, this.signingKey);
  }

  /** Write pending appends, sign a final checkpoint, close the database. */
  close(): void {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    if (this.lazyTimer) clearTimeout(this.lazyTimer);
    try {
      if (this.writable) this.checkpoint();
    } finally {
      this.closed = true;
      // Anything still queued (the flush above failed) is refused, never dropped silently.
      for (const p of this.pending.splice(0)) p.reject(auditUnavailable());
      this.syncer?.close();
      this.walCheckpointer?.close();
      this.db.close();
      this.writerLock?.release();
    }
  }
}
