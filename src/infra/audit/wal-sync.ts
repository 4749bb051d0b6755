/**
 * Durability without blocking the event loop.
 *
 * SQLite's `synchronous=FULL` in WAL mode fsyncs the WAL inside COMMIT,
 * and better-sqlite3 is synchronous, so the whole process would wait for
 * the disk on every batch (0.2 ms to several ms per fsync, by disk and load). Instead the log
 * runs `synchronous=NORMAL` (COMMIT writes the WAL, no fsync) and then
 * fsyncs the WAL file itself on libuv's thread pool; a batch's appends
 * resolve only after an fsync that *started after its COMMIT* has
 * completed. That is the same guarantee as FULL — committed WAL frames on
 * stable storage before anyone is told "durable" — while the main thread
 * seals and commits the next batch during the fsync.
 *
 * fsyncs are coalesced: while one is running, newly committed batches wait
 * for the next one, which starts as soon as the running one ends.
 *
 * Why the WAL file: that is where COMMIT appends the frames. If a
 * checkpoint moved them into the database file meanwhile, SQLite (in NORMAL
 * mode) has already synced the WAL before the checkpoint and the database
 * after it; the database file is synced as a fallback when the WAL is gone.
 */
import { close, closeSync, fdatasync, fsync, fsyncSync, open, openSync } from 'node:fs';

type Waiter = (err: Error | null) => void;

export class WalSyncer {
  private running = false;
  private waiting: Waiter[] = [];
  private beforeNextHook: (() => void) | null = null;
  private fd: number | null = null;
  private closed = false;

  constructor(
    private readonly walPath: string,
    private readonly dbPath: string,
  ) {}

  /** Call right after COMMIT; `done` runs once the commit is on stable storage (or with the error). */
  afterCommit(done: Waiter): void {
    this.waiting.push(done);
    if (!this.running) this.start();
  }

  /** An fsync is in flight. */
  get busy(): boolean {
    return this.running;
  }

  /**
   * Run `hook` when the running fsync ends, before the next one starts (at
   * once when none is running). The log commits there what arrived during
   * the fsync: that commit is covered by the next fsync exactly as if it had
   * been made earlier, so durability is not delayed, and one transaction
   * replaces the several small ones that would have waited for that fsync.
   */
  beforeNextSync(hook: () => void): void {
    if (!this.running) {
      hook();
      return;
    }
    const prev = this.beforeNextHook;
    this.beforeNextHook = prev ? () => (prev(), hook()) : hook;
  }

  /**
   * fsync the directory once the WAL exists, so the WAL's directory entry is
   * itself durable (an fsync of a file does not cover its name).
   */
  syncDirectory(dir: string): void {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Blocking variant for rare writes that return synchronously (checkpoint, retention). */
  syncNow(): void {
    const kept = this.walFd();
    if (kept !== null) {
      fsyncSync(kept);
      return;
    }
    for (const path of [this.walPath, this.dbPath]) {
      let fd: number;
      try {
        fd = openSync(path, 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return;
    }
  }

  private start(): void {
    const batch = this.waiting;
    this.waiting = [];
    this.running = true;
    const fd = this.walFd();
    if (fd !== null) {
      // fdatasync, as SQLite itself syncs its WAL: the data and what is needed to read it back (the size,
      // when the WAL grew), without the timestamps a full fsync would also write.
      fdatasync(fd, (err) => this.finish(batch, err));
      return;
    }
    this.syncFile(this.walPath, (err) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.syncFile(this.dbPath, (err2) => this.finish(batch, err2));
      } else {
        this.finish(batch, err);
      }
    });
  }

  /**
   * The WAL kept open: one fsync per batch instead of open + fsync + close
   * (three trips through the thread pool). SQLite keeps the WAL file (same
   * inode; it is reset, not deleted) while a connection is open, and the
   * log's own connection stays open until close(). Null until the WAL exists.
   */
  private walFd(): number | null {
    if (this.fd === null && !this.closed) {
      try {
        this.fd = openSync(this.walPath, 'r');
      } catch {
        return null;
      }
    }
    return this.fd;
  }

  /** Close the kept descriptor (after the database is closed or about to be). */
  close(): void {
    this.closed = true;
    if (this.fd !== null && !this.running) {
      closeSync(this.fd);
      this.fd = null;
    }
  }

  private finish(batch: Waiter[], err: Error | null): void {
    this.running = false;
    if (this.closed && this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
    for (const w of batch) w(err);
    const hook = this.beforeNextHook;
    this.beforeNextHook = null;
    try {
      hook?.();
    } finally {
      if (!this.running && this.waiting.length > 0) this.start();
    }
  }

  private syncFile(path: string, cb: (err: Error | null) => void): void {
    open(path, 'r', (err, fd) => {
      if (err) return cb(err);
      fsync(fd, (err2) => close(fd, () => cb(err2)));
    });
  }
}
