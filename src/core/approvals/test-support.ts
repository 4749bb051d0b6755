/** Helpers for the approval tests (core, infra and api); not used at runtime. */
import type { Principal } from '../identity/principal.ts';
import type { EventSink, TokenVerifier } from '../ports.ts';
import type { GatewayEvent, StoredEvent } from '../audit/events.ts';
import type { Clock } from '../../shared/clock.ts';
import { GatewayError } from '../../shared/errors.ts';
import { silentLogger } from '../logger.ts';
import type { TimerHandle, Timers } from './timers.ts';
import { ApprovalService, type ApprovalServiceDeps, type RequestInput } from './service.ts';
import { MemoryApprovalStore } from './memory-store.ts';
import type { ApprovalStore } from './store.ts';

export const ISSUER = 'https://login.example.com/realms/ops';
export const CI_ISSUER = 'https://token.actions.githubusercontent.com';

export function human(subject: string, groups: string[], issuer = ISSUER): Principal {
  return { issuer, subject, kind: 'human', groups, claims: { email: `${subject}@example.com` }, expiresAt: undefined };
}

export function workload(subject: string, groups: string[], issuer = CI_ISSUER): Principal {
  return { issuer, subject, kind: 'workload', groups, claims: { repository: 'acme/app', run_id: '42' }, expiresAt: undefined };
}

/** A clock and timer port driven by hand: `advance` moves time and fires due timers in order. */
export class ManualTime implements Clock, Timers {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, { at: number; fn: () => void; seq: number }>();

  constructor(start = 1_764_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  set(fn: () => void, ms: number): TimerHandle {
    const seq = ++this.#seq;
    this.#timers.set(seq, { at: this.#now + Math.max(0, ms), fn, seq });
    return { seq };
  }

  clear(handle: TimerHandle): void {
    this.#timers.delete((handle as { seq: number }).seq);
  }

  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Move time forward by `ms`, firing due timers (and letting their async work settle) on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      let next: { at: number; fn: () => void; seq: number } | undefined;
      for (const t of this.#timers.values()) if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      if (!next) break;
      this.#timers.delete(next.seq);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
      await settle();
    }
    this.#now = target;
    await settle();
  }
}

/** Let pending promise chains run (several macrotask turns). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}

/** An EventSink that keeps events in memory and can be told to fail. */
export class MemorySink implements EventSink {
  readonly events: GatewayEvent[] = [];
  failing = false;

  async append(event: GatewayEvent): Promise<StoredEvent> {
    if (this.failing) throw new GatewayError('GW_EVENT_STORE_UNAVAILABLE', 'audit log unavailable: statement refused', { clientSafe: true });
    this.events.push(event);
    return { ...event, seq: this.events.length };
  }

  types(): string[] {
    return this.events.map((e) => e.type);
  }
}

/** A TokenVerifier over a fixed token → principal table (tokens are opaque strings in tests). */
export class FakeVerifier implements TokenVerifier {
  constructor(readonly tokens: Readonly<Record<string, Principal>>) {}

  async verify(token: string): Promise<Principal> {
    const p = this.tokens[token];
    if (!p) throw new GatewayError('GW_AUTH_TOKEN_INVALID', 'token is not valid', { clientSafe: true });
    return p;
  }
}

export interface Harness {
  readonly service: ApprovalService;
  readonly store: ApprovalStore;
  readonly sink: MemorySink;
  readonly time: ManualTime;
}

export function harness(opts: Partial<ApprovalServiceDeps> = {}): Harness {
  const time = new ManualTime();
  const sink = new MemorySink();
  const store = opts.store ?? new MemoryApprovalStore();
  const service = new ApprovalService({
    store,
    events: sink,
    clock: time,
    timers: time,
    log: silentLogger,
    grantTerms: (connection) => (connection === 'customers' ? { approverGroups: ['dba', 'security'], approvalsNeeded: 1, maxDurationSeconds: 8 * 3600 } : null),
    ...opts,
  });
  return { service, store, sink, time };
}

export const agent = workload('repo:acme/app:ref:refs/heads/main', ['agents']);

export function requestInput(over: Partial<RequestInput> = {}): RequestInput {
  return {
    requester: agent,
    connection: 'customers',
    statement: "UPDATE customers SET tier = 'gold' WHERE id = 7",
    fingerprint: 'a1b2c3',
    action: 'sql:write',
    tables: ['public.customers'],
    policyId: 'writes-need-dba',
    policyVersion: 3,
    approverGroups: ['dba'],
    approvalsNeeded: 1,
    ttlSeconds: 900,
    mode: 'reject',
    ...over,
  };
}
