/**
 * Hold-mode waiters: statements waiting on the connection for a decision.
 * Event driven — the service calls `notify` after each stored change to a
 * request; nothing here polls the store. Each waiter also has its own timer
 * at min(timeout, decide-by deadline), so a waiter fails closed at the
 * deadline even when the expiry could not be stored (audit log down).
 */
import type { Clock } from '../../shared/clock.ts';
import { assertNever, type ApprovalRequest } from './model.ts';
import { MAX_TIMER_MS, type Timers } from './timers.ts';
import type { WaitResult } from './types.ts';

/** What a waiter learns from a record; null while it is still pending. An approval spent elsewhere reads as expired. */
export function waitResultOf(r: ApprovalRequest): WaitResult | null {
  switch (r.status) {
    case 'pending':
      return null;
    case 'approved':
      return 'approved';
    case 'denied':
      return 'denied';
    case 'expired':
    case 'used':
      return 'expired';
    default:
      return assertNever(r);
  }
}

export class HoldWaiters {
  /** Per request id; called with the new record, or null when closing. */
  readonly #byId = new Map<string, Set<(r: ApprovalRequest | null) => void>>();
  #closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly timers: Timers,
  ) {}

  wait(current: ApprovalRequest, timeoutMs: number, signal?: AbortSignal): Promise<WaitResult> {
    const immediate = waitResultOf(current);
    if (immediate !== null) return Promise.resolve(immediate);
    if (this.#closed || signal?.aborted) return Promise.resolve('timeout');
    const id = current.id;
    const deadline = current.status === 'pending' ? current.expiresAt : Infinity;
    return new Promise<WaitResult>((resolve) => {
      let set = this.#byId.get(id);
      if (!set) this.#byId.set(id, (set = new Set()));
      const waiters = set;
      const finish = (result: WaitResult): void => {
        this.timers.clear(timer);
        waiters.delete(onChange);
        if (waiters.size === 0 && this.#byId.get(id) === waiters) this.#byId.delete(id);
        signal?.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const onChange = (next: ApprovalRequest | null): void => {
        if (next === null) return finish('timeout');
        const res = waitResultOf(next);
        if (res !== null) finish(res);
      };
      const onAbort = (): void => finish('timeout');
      const wait = Math.max(0, Math.min(timeoutMs, deadline - this.clock.now(), MAX_TIMER_MS));
      const timer = this.timers.set(() => finish(this.clock.now() >= deadline ? 'expired' : 'timeout'), wait);
      waiters.add(onChange);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  notify(r: ApprovalRequest): void {
    const set = this.#byId.get(r.id);
    if (set) for (const w of [...set]) w(r);
  }

  /** Every waiter resolves 'timeout'. */
  close(): void {
    this.#closed = true;
    for (const set of [...this.#byId.values()]) for (const w of [...set]) w(null);
    this.#byId.clear();
  }
}
