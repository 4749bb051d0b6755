/**
 * SQLite WAL checkpoints off the event loop.
 *
 * By default SQLite checkpoints the WAL inside the COMMIT that crosses 1000
 * pages: it copies the frames into the database file and syncs it, on the
 * committing thread. better-sqlite3 is synchronous, so every session
 * waited for that copy: `bench:audit` showed p99 spikes of 15–20 ms and
 * about 25% fewer statements per second than with checkpoints switched off.
 *
 * The log therefore runs with `wal_autocheckpoint = 0`, and this worker
 * thread, on its own connection, runs `wal_checkpoint(PASSIVE)` every
 * `intervalMs` while there are new commits. PASSIVE never blocks the writer
 * and never waits for readers. It is the same copy SQLite would make, only
 * on another thread; durability is unchanged (the WAL holds every committed
 * frame until it is copied and the database file is synced).
 *
 * SQLite restarts the WAL from its beginning only at a write that finds
 * every frame copied. Under steady load the writer appends during the
 * worker's checkpoint, so that moment may never come. When the WAL holds
 * more than `maxFrames` frames, `due()` says so and the log runs one
 * checkpoint itself. By then the worker has copied almost everything, so
 * that checkpoint is short, and the WAL restarts at the next write.
 *
 * If the worker cannot start or fails, `due()` falls back to the frame count
 * SQLite itself would use, so the WAL never grows without bound.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';

/** The worker's program: CommonJS, evaluated from a string (the gateway may run from TypeScript sources). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('synchronous = NORMAL');
parentPort.on('message', (m) => {
  if (m && m.close) {
    // The connection is closed before the log's own closes: the log's close is then the last one,
    // which checkpoints the WAL and removes it. The flag wakes the log, which waits for this.
    try { db.close(); } finally {
      Atomics.store(m.close, 0, 1);
      Atomics.notify(m.close, 0);
      parentPort.close();
    }
    return;
  }
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    parentPort.postMessage({ ok: true, busy: r.busy, log: r.log, checkpointed: r.checkpointed });
  } catch (e) {
    parentPort.postMessage({ ok: false, error: String((e && e.message) || e) });
  }
});
`;

export interface CheckpointReport {
  readonly ok: boolean;
  /** Frames in the WAL, and how many of them are in the database file (when ok). */
  readonly log?: number;
  readonly checkpointed?: number;
  readonly busy?: number;
  readonly error?: string;
}

export interface WalCheckpointerOptions {
  readonly dbPath: string;
  /** How often to checkpoint while there are new commits (default 250 ms). */
  readonly intervalMs?: number;
  /** Past this many frames in the WAL the log checkpoints itself (default 16384, 64 MiB of 4 KiB pages). */
  readonly maxFrames?: number;
  /** Called when the worker fails (it is then not used again). */
  readonly onError?: (message: string) => void;
}

/** Frames SQLite's own auto-checkpoint would allow: the fallback when the worker is gone. */
const SQLITE_DEFAULT_FRAMES = 1000;

export class WalCheckpointer {
  readonly #maxFrames: number;
  readonly #onError: (message: string) => void;
  #worker: Worker | null = null;
  #timer: NodeJS.Timeout | undefined;
  #dirty = false;
  #inFlight = false;
  #failed = false;
  /** Commits since the last report, and frames in the WAL at the last report. */
  #commits = 0;
  #walFrames = 0;
  #reports = 0;

  constructor(opts: WalCheckpointerOptions) {
    this.#maxFrames = opts.maxFrames ?? 16_384;
    this.#onError = opts.onError ?? (() => undefined);
    try {
      const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
      this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { sqlite, path: opts.dbPath } });
      this.#worker.on('message', (r: CheckpointReport) => this.#onReport(r));
      this.#worker.on('error', (e) => this.#fail(`checkpoint worker failed: ${e.message}`));
      this.#worker.on('exit', (code) => {
        if (this.#worker) this.#fail(`checkpoint worker exited (${code})`);
      });
      // After the listeners (attaching one refs the worker again): the worker never keeps the process alive.
      this.#worker.unref();
    } catch (e) {
      this.#fail(`checkpoint worker could not start: ${(e as Error).message}`);
    }
    this.#timer = setInterval(() => this.#tick(), opts.intervalMs ?? 250);
    this.#timer.unref();
  }

  /** Called after each commit. */
  noteCommit(): void {
    this.#dirty = true;
    this.#commits++;
  }

  /**
   * True when the log should checkpoint on its own connection now: the WAL
   * is past `maxFrames` (steady load kept it from restarting), or the
   * worker is gone and SQLite's own threshold may be reached (counted in
   * commits, each at least one frame).
   */
  due(): boolean {
    if (this.#failed) return this.#commits >= SQLITE_DEFAULT_FRAMES;
    return this.#walFrames > this.#maxFrames;
  }

  /** The log checkpointed on its own connection. */
  checkpointed(): void {
    this.#walFrames = 0;
    this.#commits = 0;
  }

  /** Checkpoints the worker has reported (tests, metrics). */
  get reports(): number {
    return this.#reports;
  }

  get failed(): boolean {
    return this.#failed;
  }

  #tick(): void {
    if (!this.#dirty || this.#inFlight || !this.#worker) return;
    this.#dirty = false;
    this.#inFlight = true;
    this.#worker.postMessage('checkpoint');
  }

  #onReport(r: CheckpointReport): void {
    this.#inFlight = false;
    this.#reports++;
    if (!r.ok) {
      this.#fail(`checkpoint failed: ${r.error ?? 'unknown error'}`);
      return;
    }
    this.#walFrames = r.log ?? 0;
    this.#commits = 0;
  }

  #fail(message: string): void {
    if (this.#failed) return;
    this.#failed = true;
    const w = this.#worker;
    this.#worker = null;
    void w?.terminate();
    this.#onError(message);
  }

  /**
   * Stop the worker and wait until its connection is closed (at most
   * `waitMs`; a worker stuck longer is terminated). Synchronous on purpose:
   * the log closes its own connection right after, and that close must be
   * the last one, so that SQLite checkpoints the WAL and removes it before
   * `close()` returns. Otherwise the worker's connection closed a moment
   * later, on its own thread, and the WAL file vanished under whoever
   * copied or opened the folder meanwhile.
   */
  close(waitMs = 2000): void {
    if (this.#timer) clearInterval(this.#timer);
    const w = this.#worker;
    this.#worker = null;
    if (!w) return;
    const closed = new Int32Array(new SharedArrayBuffer(4));
    w.postMessage({ close: closed });
    // A checkpoint in progress finishes first; do not wait forever for a stuck one.
    if (Atomics.wait(closed, 0, 0, waitMs) === 'timed-out') void w.terminate();
  }
}
