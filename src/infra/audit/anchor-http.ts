/**
 * Anchoring over HTTP (issue 5 point 7): every new checkpoint is POSTed to a
 * receiver that Gatehouse's operators do not control, which keeps the notes
 * where they cannot be rewritten. The auditor later points
 * `gatehouse audit verify --anchors DIR` at a copy of what the receiver kept
 * (docs/audit.md §10 "Anchoring").
 *
 * Never on the statement path. `onCheckpoint` (called by the log after a
 * checkpoint is durable) only pushes the note onto a bounded in-memory queue
 * and returns; one background loop POSTs the queue in order, one request at
 * a time, and retries the oldest undelivered note with exponential backoff
 * (with jitter) until it is delivered.
 *
 * Overflow policy (ARCHITECTURE.md principle 2): when the queue is full the
 * OLDEST waiting note is skipped, never the newest. Each checkpoint signs the
 * whole tree up to its size, so a later anchored note still protects every
 * entry the skipped ones covered (a rewrite of any of them changes the later
 * root); what is lost is only granularity: a rollback to a size between two
 * anchored notes is detected from the later note (its size exceeds the log),
 * not from the skipped one. Skips are never silent: each gap is logged when it
 * opens and again, with its range, when a later note covering it is
 * delivered; `stats()` counts them.
 *
 * Delivery is at least once: a POST that timed out may have been stored, and
 * the newest checkpoint is offered again at every start (the queue does not
 * survive a restart). Receivers store the body verbatim and treat an identical
 * note as a no-op.
 *
 * Secrets: header values (bearer tokens, API keys) are never logged, never put
 * into an error, and the URL is logged by host only (its path or query may
 * carry a token). Fetch errors are reduced to their name and cause code.
 * Redirects are not followed (`redirect: 'manual'`): a 3xx is a failure, so the
 * Authorization header can never be forwarded to another host.
 */
import type { Logger } from '../../core/logger.ts';
import type { CheckpointInfo } from './sqlite-log.ts';

export interface HttpAnchorOptions {
  readonly url: string;
  /** Resolved header values (may be secrets: never logged). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Per POST (default 5000 ms). */
  readonly timeoutMs?: number;
  /** Checkpoints waiting to be delivered, at most (default 1000). */
  readonly maxQueue?: number;
  /** First retry delay (default 1000 ms), doubled per failure up to `maxBackoffMs` (default 60000 ms). */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** While a receiver keeps failing, repeat the error at most this often (default 60000 ms). */
  readonly logEveryMs?: number;
  readonly log: Logger;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

export interface HttpAnchorStats {
  /** Checkpoints accepted by the receiver (2xx). */
  readonly delivered: number;
  /** Failed POSTs (network error, timeout, non-2xx). */
  readonly failedAttempts: number;
  /** Checkpoints dropped from a full queue (covered by a later one). */
  readonly skipped: number;
  /** Checkpoints still waiting. */
  readonly pending: number;
  /** Size of the newest delivered checkpoint (0: none yet). */
  readonly lastDeliveredSize: number;
  /** Since when the receiver has been failing (ms), if it is. */
  readonly failingSince: number | null;
}

interface Item {
  readonly size: number;
  readonly id: number;
  readonly note: string;
}

/** Reasons a POST failed, safe to log: status or error name and cause code, never a header or the URL. */
type Failure = { status: number } | { error: string };

export class HttpAnchor {
  readonly #opts: HttpAnchorOptions;
  readonly #fetch: typeof fetch;
  readonly #url: string;
  readonly #host: string;
  readonly #headers: Record<string, string>;
  readonly #maxQueue: number;
  readonly #now: () => number;
  #queue: Item[] = [];
  #inFlight: Item | null = null;
  #lastOffered: string | null = null;
  #running: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #closing = false;
  readonly #abort = new AbortController();
  // Failure streak and gap bookkeeping (for logs and stats).
  #streak = 0;
  #failingSince: number | null = null;
  #lastFailureLog = 0;
  #gap: { from: number; to: number; count: number } | null = null;
  #delivered = 0;
  #failedAttempts = 0;
  #skipped = 0;
  #lastDeliveredSize = 0;

  constructor(opts: HttpAnchorOptions) {
    const u = new URL(opts.url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('the anchor URL must be http(s)');
    // fetch refuses credentials in a URL; refuse them here with a message that does not repeat them.
    if (u.username || u.password) throw new Error('the anchor URL must not contain credentials; send them in a header');
    this.#opts = opts;
    this.#url = u.href;
    this.#host = u.host;
    this.#fetch = opts.fetch ?? globalThis.fetch;
    this.#maxQueue = Math.max(1, opts.maxQueue ?? 1000);
    this.#now = opts.now ?? Date.now;
    // Headers.set: names are case-insensitive, a configured User-Agent replaces ours, content-type is always ours.
    const headers = new Headers({ 'user-agent': 'gatehouse-anchor/1' });
    for (const [name, value] of Object.entries(opts.headers ?? {})) {
      try {
        headers.set(name, value);
      } catch {
        // Headers' own message quotes the value, which is usually a credential.
        throw new Error(`the anchor header '${name}' has an invalid name or value`);
      }
    }
    headers.set('content-type', 'text/plain; charset=utf-8');
    this.#headers = Object.fromEntries(headers);
  }

  /** The `onCheckpoint` callback for AuditLog: queue the note and return at once. */
  readonly onCheckpoint = (cp: CheckpointInfo): void => {
    this.offer(cp);
  };

  /** Queue a checkpoint for delivery. Never throws, never blocks. */
  offer(cp: Pick<CheckpointInfo, 'size' | 'id' | 'note'>): void {
    if (this.#closing) {
      this.#opts.log.error({ host: this.#host, size: cp.size }, 'checkpoint not anchored over HTTP: the anchor is closed');
      return;
    }
    // The same note twice in a row (e.g. the newest checkpoint re-offered at start) is sent once.
    if (cp.note === this.#lastOffered) return;
    this.#lastOffered = cp.note;
    if (this.#queue.length >= this.#maxQueue) this.#skipOldest();
    this.#queue.push({ size: cp.size, id: cp.id, note: cp.note });
    this.#kick();
  }

  /** Start the delivery loop unless it runs (or we are shutting down). */
  #kick(): void {
    if (this.#running || this.#closing || this.#queue.length === 0) return;
    this.#running = this.#run().finally(() => {
      this.#running = null;
      // An offer that raced with the loop's exit starts a new loop.
      this.#kick();
    });
  }

  stats(): HttpAnchorStats {
    return {
      delivered: this.#delivered,
      failedAttempts: this.#failedAttempts,
      skipped: this.#skipped,
      pending: this.#queue.length,
      lastDeliveredSize: this.#lastDeliveredSize,
      failingSince: this.#failingSince,
    };
  }

  /** Resolves once the queue is empty (tests). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /**
   * Stop: keep delivering what is queued, without backoff, until the first
   * failure or for at most `drainMs` (default: the POST timeout), then report
   * what stays undelivered. The next start offers the newest checkpoint again.
   */
  async close(drainMs = this.#opts.timeoutMs ?? 5000): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#wake?.();
    if (this.#running) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((r) => {
        timer = setTimeout(r, drainMs);
        timer.unref();
      });
      await Promise.race([this.#running, deadline]);
      clearTimeout(timer);
      this.#abort.abort();
      await this.#running;
    }
    if (this.#queue.length > 0) {
      const sizes = this.#queue.map((i) => i.size);
      this.#opts.log.error(
        { host: this.#host, undelivered: sizes.length, fromSize: sizes[0], toSize: sizes[sizes.length - 1], lastDeliveredSize: this.#lastDeliveredSize, skipped: this.#skipped },
        'checkpoints not anchored over HTTP at shutdown; the newest checkpoint is sent again at the next start and covers them',
      );
    }
  }

  async #run(): Promise<void> {
    for (;;) {
      const item = this.#queue[0];
      if (!item) return;
      this.#inFlight = item;
      const failure = await this.#post(item);
      this.#inFlight = null;
      if (failure === null) {
        this.#onDelivered(item);
        continue;
      }
      this.#onFailure(item, failure);
      // Shutting down: no more waiting; close() reports what is left.
      if (this.#closing) return;
      await this.#sleep(this.#backoff());
    }
  }

  async #post(item: Item): Promise<Failure | null> {
    // Own timer rather than AbortSignal.any([AbortSignal.timeout(…)]): on Node 20 the composite holds its
    // sources weakly, so a collected timeout signal never fires and a hanging receiver would stall the queue.
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(new DOMException('anchor POST timed out', 'TimeoutError')), this.#opts.timeoutMs ?? 5000);
    const onClose = (): void => ctrl.abort(new DOMException('anchor closed', 'AbortError'));
    this.#abort.signal.addEventListener('abort', onClose, { once: true });
    try {
      const res = await this.#fetch(this.#url, {
        method: 'POST',
        headers: { ...this.#headers, 'x-gatehouse-checkpoint-size': String(item.size) },
        body: item.note,
        redirect: 'manual',
        signal: ctrl.signal,
      });
      // Drain the body so the connection can be reused; its content is not used.
      await res.arrayBuffer().catch(() => undefined);
      return res.status >= 200 && res.status <= 299 ? null : { status: res.status };
    } catch (e) {
      // The message of a fetch error can contain the URL; keep only the error's name and its cause's code.
      const err = e as { name?: unknown; cause?: { code?: unknown } };
      const name = typeof err?.name === 'string' ? err.name : 'Error';
      const code = typeof err?.cause?.code === 'string' ? err.cause.code : undefined;
      return { error: code ? `${name} (${code})` : name };
    } finally {
      clearTimeout(timer);
      this.#abort.signal.removeEventListener('abort', onClose);
    }
  }

  #onDelivered(item: Item): void {
    const i = this.#queue.indexOf(item);
    if (i >= 0) this.#queue.splice(i, 1);
    this.#delivered++;
    this.#lastDeliveredSize = Math.max(this.#lastDeliveredSize, item.size);
    if (this.#streak > 0) {
      this.#opts.log.info(
        { host: this.#host, size: item.size, failedAttempts: this.#streak, failingForMs: this.#now() - (this.#failingSince ?? this.#now()) },
        'anchor receiver reachable again',
      );
    }
    this.#streak = 0;
    this.#failingSince = null;
    if (this.#gap && item.size >= this.#gap.to) {
      this.#opts.log.warn(
        { host: this.#host, skipped: this.#gap.count, fromSize: this.#gap.from, toSize: this.#gap.to, coveredBySize: item.size },
        'skipped checkpoints were not anchored over HTTP; the anchored checkpoint of a later size covers their entries',
      );
      this.#gap = null;
    }
  }

  #onFailure(item: Item, f: Failure): void {
    this.#failedAttempts++;
    this.#streak++;
    const now = this.#now();
    this.#failingSince ??= now;
    const what = 'status' in f ? { status: f.status } : { error: f.error };
    // A 4xx other than 408/429 means the receiver refuses this note (auth, or it holds a different note at this size): louder.
    const refused = 'status' in f && f.status >= 400 && f.status < 500 && f.status !== 408 && f.status !== 429;
    if (this.#streak === 1) {
      const fields = { host: this.#host, size: item.size, pending: this.#queue.length, ...what };
      if (refused) this.#opts.log.error(fields, 'anchor receiver refused the checkpoint; retrying with backoff');
      else this.#opts.log.warn(fields, 'could not anchor the checkpoint over HTTP; retrying with backoff');
      this.#lastFailureLog = now;
    } else if (now - this.#lastFailureLog >= (this.#opts.logEveryMs ?? 60_000)) {
      this.#opts.log.error(
        { host: this.#host, size: item.size, attempts: this.#streak, failingForMs: now - this.#failingSince, pending: this.#queue.length, skipped: this.#skipped, lastDeliveredSize: this.#lastDeliveredSize, ...what },
        'checkpoint anchoring over HTTP is still failing',
      );
      this.#lastFailureLog = now;
    }
  }

  /** Drop the oldest note that is not being sent right now. */
  #skipOldest(): void {
    const i = this.#queue[0] === this.#inFlight ? 1 : 0;
    const [dropped] = this.#queue.splice(i, 1);
    if (!dropped) return;
    this.#skipped++;
    if (this.#gap) {
      this.#gap.from = Math.min(this.#gap.from, dropped.size);
      this.#gap.to = Math.max(this.#gap.to, dropped.size);
      this.#gap.count++;
      return;
    }
    this.#gap = { from: dropped.size, to: dropped.size, count: 1 };
    this.#opts.log.warn(
      { host: this.#host, size: dropped.size, maxQueue: this.#maxQueue, lastDeliveredSize: this.#lastDeliveredSize },
      'anchor queue full: skipping the oldest checkpoint (a later anchored checkpoint covers its entries)',
    );
  }

  #backoff(): number {
    const first = this.#opts.initialBackoffMs ?? 1000;
    const max = this.#opts.maxBackoffMs ?? 60_000;
    const base = Math.min(max, first * 2 ** Math.min(this.#streak - 1, 30));
    // Full jitter in the upper half: receivers coming back are not hit by every gateway at once.
    return base / 2 + Math.random() * (base / 2);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.#wake = done;
    });
  }
}
