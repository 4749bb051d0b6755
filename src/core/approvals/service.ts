/**
 * ApprovalService: the protocol-neutral approval and just-in-time grant
 * flow (issue 6). Adapters and the admin API call it; it never knows about
 * wire protocols or HTTP.
 *
 * Every state change follows the same order (write-ahead, fail closed —
 * ARCHITECTURE.md principle 4):
 *
 *   lock(id) → read → compute next record (rules.ts, may refuse) →
 *   append the audit event → store the record (compare-and-set) →
 *   notify listeners and hold-mode waiters → re-arm the expiry timer.
 *
 * If the event cannot be appended the change is refused and nothing is
 * stored. The one exception is the single-use claim (`consumeFor`), which
 * must be atomic across racing statements: the store claims first, and the
 * claim is released again if the `approval.used` event cannot be written.
 *
 * Time: deadlines are enforced twice. A single timer, armed at the earliest
 * deadline in the store, expires records and fires `onGrantEnded` within
 * the timer's precision (this is what ends live sessions). Independently,
 * every read that decides something (`consumeFor`, `activeGrants`,
 * `approve`, `waitFor`) compares against the clock, so a late or failed
 * sweep can never make an expired approval or grant usable.
 */
import type { EventSink } from '../ports.ts';
import type { Clock } from '../../shared/clock.ts';
import type { Logger } from '../logger.ts';
import type { Principal } from '../identity/principal.ts';
import type { GatewayEvent } from '../audit/events.ts';
import { GatewayError, isGatewayError } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import { identityRef } from '../sessions/session-service.ts';
import {
  assertNever,
  bindingHash,
  canView,
  samePerson,
  sha256Hex,
  type ApprovalMode,
  type ApprovalRequest,
  type ApprovalStatus,
  type Grant,
  type GrantStatus,
  type Vote,
} from './model.ts';
import { approveGrant, approveRequest, denyRequest, expireGrant, expireRequest, normaliseReason, revokeGrant } from './rules.ts';
import * as ev from './audit-events.ts';
import type { ApprovalStore } from './store.ts';
import { KeyedLock } from './keyed-lock.ts';
import { MAX_TIMER_MS, systemTimers, type TimerHandle, type Timers } from './timers.ts';

export interface GrantTerms {
  readonly approverGroups: readonly string[];
  readonly approvalsNeeded: number;
  readonly maxDurationSeconds: number;
}

export interface ApprovalServiceDeps {
  readonly store: ApprovalStore;
  readonly events: EventSink;
  readonly clock: Clock;
  readonly log: Logger;
  readonly timers?: Timers;
  /** Who approves grants of `action` on `connection`; null when grants are not offered there (the default). */
  readonly grantTerms?: (connection: string, action: string) => GrantTerms | null;
  /** A grant request not approved within this expires (default 1 h). */
  readonly grantRequestTtlSeconds?: number;
  /** Bound on pending approval requests and pending grants per person (default 20). */
  readonly maxPendingPerRequester?: number;
  /** After a failed expiry sweep (audit log down), retry after this long (default 5 s). */
  readonly retryMs?: number;
}

export interface RequestInput {
  readonly requester: Principal;
  readonly connection: string;
  readonly statement: string;
  readonly fingerprint: string | null;
  readonly action: string;
  readonly tables: readonly string[];
  readonly policyId: string;
  readonly policyVersion: number;
  readonly approverGroups: readonly string[];
  readonly approvalsNeeded: number;
  readonly ttlSeconds: number;
  readonly mode: ApprovalMode;
}

export interface ConsumeInput {
  readonly requester: Principal;
  readonly connection: string;
  readonly statement: string;
  readonly policyVersion: number;
  /** Hold mode: use exactly this request. */
  readonly approvalId?: string;
  /** Recorded in `approval.used`. */
  readonly sessionId?: string;
}

export interface GrantRequestInput {
  readonly requester: Principal;
  readonly connection: string;
  readonly action: string;
  readonly table?: string | null;
  readonly durationSeconds: number;
  readonly reason: string;
}

export type WaitResult = 'approved' | 'denied' | 'expired' | 'timeout';
export type GrantEndReason = 'expired' | 'revoked';
export type ActiveGrant = Extract<Grant, { status: 'active' }>;

/** What listeners (the webhook notifier, the console) hear after each stored change. */
export type ApprovalChange =
  | { readonly type: 'approval.requested'; readonly approval: ApprovalRequest }
  | { readonly type: 'approval.granted'; readonly approval: ApprovalRequest; readonly vote: Vote }
  | { readonly type: 'approval.denied'; readonly approval: ApprovalRequest }
  | { readonly type: 'approval.expired'; readonly approval: ApprovalRequest }
  | { readonly type: 'approval.used'; readonly approval: ApprovalRequest }
  | { readonly type: 'grant.requested'; readonly grant: Grant }
  | { readonly type: 'grant.approved'; readonly grant: Grant; readonly vote: Vote }
  | { readonly type: 'grant.revoked'; readonly grant: Grant }
  | { readonly type: 'grant.expired'; readonly grant: Grant };

const MAX_TTL_SECONDS = 30 * 24 * 3600;
const MAX_STATEMENT_CHARS = 1 << 20;

function invalid(message: string): never {
  throw new GatewayError('GW_APPROVAL_INVALID', message, { clientSafe: true });
}

/** Fail closed: whatever the sink threw, the change is refused with a client-safe error. */
function auditRefused(cause: unknown): GatewayError {
  if (isGatewayError(cause) && cause.code === 'GW_EVENT_STORE_UNAVAILABLE') return cause;
  return new GatewayError('GW_EVENT_STORE_UNAVAILABLE', 'audit log unavailable: the change was refused', { clientSafe: true, cause });
}

export class ApprovalService {
  readonly #store: ApprovalStore;
  readonly #events: EventSink;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #timers: Timers;
  readonly #grantTerms: (connection: string, action: string) => GrantTerms | null;
  readonly #grantRequestTtl: number;
  readonly #maxPending: number;
  readonly #retryMs: number;
  readonly #lock = new KeyedLock();
  readonly #changeListeners = new Set<(c: ApprovalChange) => void>();
  readonly #grantEndListeners = new Set<(g: Grant, reason: GrantEndReason) => void>();
  /** Hold-mode waiters per request id; called with the new record, or null when the service closes. */
  readonly #waiters = new Map<string, Set<(r: ApprovalRequest | null) => void>>();
  /** Grants whose end was already announced (so a retried sweep does not announce twice). */
  readonly #endAnnounced = new Set<string>();
  #timer: TimerHandle | null = null;
  #sweeping = false;
  #sweepFailed = false;
  #closed = false;

  constructor(deps: ApprovalServiceDeps) {
    this.#store = deps.store;
    this.#events = deps.events;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#timers = deps.timers ?? systemTimers;
    this.#grantTerms = deps.grantTerms ?? (() => null);
    this.#grantRequestTtl = deps.grantRequestTtlSeconds ?? 3600;
    this.#maxPending = deps.maxPendingPerRequester ?? 20;
    this.#retryMs = deps.retryMs ?? 5000;
  }

  /** Expire what is already due (e.g. after a restart) and arm the expiry timer. */
  async start(): Promise<void> {
    await this.expireDue();
  }

  /** Stop timers; hold-mode waiters resolve 'timeout'. */
  close(): void {
    this.#closed = true;
    if (this.#timer) this.#timers.clear(this.#timer);
    this.#timer = null;
    for (const set of [...this.#waiters.values()]) for (const w of [...set]) w(null);
    this.#waiters.clear();
  }

  // ─── listeners ────────────────────────────────────────────────────────

  /** Every stored change, after it is durable. Listeners must not block; errors are logged. */
  onChange(listener: (c: ApprovalChange) => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /**
   * Called when an active grant ends (revoked, or its window closed), so the
   * server can end every live session that depends on it. For expiry this
   * fires at the deadline even when the audit log is down (fail closed).
   */
  onGrantEnded(listener: (grant: Grant, reason: GrantEndReason) => void): () => void {
    this.#grantEndListeners.add(listener);
    return () => this.#grantEndListeners.delete(listener);
  }

  // ─── approval requests ────────────────────────────────────────────────

  /**
   * Create a request for an operation that needs approval. A pending request
   * with the same binding (same person, connection, statement, policy
   * version) is returned instead of creating a second one, so an agent
   * retrying a rejected statement does not flood approvers.
   */
  async request(input: RequestInput): Promise<ApprovalRequest> {
    validateRequest(input);
    const hash = bindingHash({ requester: input.requester, connection: input.connection, statement: input.statement, policyVersion: input.policyVersion });
    return this.#lock.run(`bind:${hash}`, async () => {
      const now = this.#clock.now();
      const existing = this.#store.findPending(hash);
      if (existing && expireRequest(existing, now) === null) return existing;
      if (this.#store.countPending(input.requester) >= this.#maxPending) {
        throw new GatewayError('GW_APPROVAL_LIMIT', `too many pending approval requests (${this.#maxPending}); wait for a decision`, { clientSafe: true });
      }
      const r: ApprovalRequest = {
        id: newId('apr'),
        version: 1,
        status: 'pending',
        mode: input.mode,
        requester: identityRef(input.requester),
        connection: input.connection,
        statement: input.statement,
        statementHash: sha256Hex(input.statement),
        fingerprint: input.fingerprint,
        action: input.action,
        tables: [...input.tables],
        policyId: input.policyId,
        policyVersion: input.policyVersion,
        bindingHash: hash,
        approverGroups: [...new Set(input.approverGroups)],
        approvalsNeeded: input.approvalsNeeded,
        ttlSeconds: input.ttlSeconds,
        createdAt: now,
        expiresAt: now + input.ttlSeconds * 1000,
        approvals: [],
      };
      await this.#append(ev.approvalRequested(r));
      this.#store.insertApproval(r);
      this.#changed({ type: 'approval.requested', approval: r });
      return r;
    });
  }

  /** The request as it stands now (a passed deadline shows as expired even before the sweep stores it). */
  get(id: string): ApprovalRequest | undefined {
    const r = this.#store.getApproval(id);
    return r && (expireRequest(r, this.#clock.now()) ?? r);
  }

  /** Requests the viewer may see: their own, and those their groups may decide. */
  list(viewer: Principal, filter: { status?: ApprovalStatus; limit?: number } = {}): ApprovalRequest[] {
    const now = this.#clock.now();
    const statuses: ApprovalStatus[] | undefined =
      filter.status === undefined ? undefined : filter.status === 'expired' ? ['expired', 'pending', 'approved'] : [filter.status];
    return this.#store
      .listApprovals({ ...(statuses ? { statuses } : {}) })
      .map((r) => expireRequest(r, now) ?? r)
      .filter((r) => (filter.status === undefined || r.status === filter.status) && canView(r, viewer))
      .slice(0, filter.limit ?? 100);
  }

  approve(id: string, approver: Principal, reason: string): Promise<ApprovalRequest> {
    return this.#decide(id, approver, reason, 'approve');
  }

  deny(id: string, approver: Principal, reason: string): Promise<ApprovalRequest> {
    return this.#decide(id, approver, reason, 'deny');
  }

  #decide(id: string, approver: Principal, reason: string, kind: 'approve' | 'deny'): Promise<ApprovalRequest> {
    return this.#lock.run(id, async () => {
      const cur = this.#store.getApproval(id);
      if (!cur) throw notFound('request', id);
      const now = this.#clock.now();
      // A passed deadline wins over a late decision: store the expiry, then refuse.
      if (expireRequest(cur, now) !== null) await this.#expireApproval(cur, now);
      const latest = this.#store.getApproval(id) ?? cur;
      const next = kind === 'approve' ? approveRequest(latest, approver, reason, now) : denyRequest(latest, approver, reason, now);
      if (next.status === 'denied') await this.#append(ev.approvalDenied(next));
      else {
        const vote = next.approvals[next.approvals.length - 1] as Vote;
        await this.#append(ev.approvalGranted(next, vote));
      }
      this.#storeApproval(next, latest.version);
      if (next.status === 'denied') this.#changed({ type: 'approval.denied', approval: next });
      else this.#changed({ type: 'approval.granted', approval: next, vote: next.approvals[next.approvals.length - 1] as Vote });
      return next;
    });
  }

  /**
   * Hold mode: resolves when the request is decided or expires, or after
   * `timeoutMs` ('timeout', also on `signal` abort or service close). An
   * approval already spent by another statement reports 'expired'. Event
   * driven: resolved by the change itself, never by polling the store.
   */
  waitFor(id: string, timeoutMs: number, opts: { signal?: AbortSignal } = {}): Promise<WaitResult> {
    const r = this.get(id);
    if (!r) return Promise.reject(notFound('request', id));
    const immediate = waitResultOf(r);
    if (immediate !== null) return Promise.resolve(immediate);
    if (this.#closed || opts.signal?.aborted) return Promise.resolve('timeout');
    const deadline = r.status === 'pending' ? r.expiresAt : Infinity;
    return new Promise<WaitResult>((resolve) => {
      let set = this.#waiters.get(id);
      if (!set) this.#waiters.set(id, (set = new Set()));
      const waiters = set;
      const finish = (result: WaitResult): void => {
        this.#timers.clear(timer);
        waiters.delete(onChange);
        if (waiters.size === 0 && this.#waiters.get(id) === waiters) this.#waiters.delete(id);
        opts.signal?.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const onChange = (next: ApprovalRequest | null): void => {
        if (next === null) return finish('timeout');
        const res = waitResultOf(next);
        if (res !== null) finish(res);
      };
      const onAbort = (): void => finish('timeout');
      const now = this.#clock.now();
      const wait = Math.max(0, Math.min(timeoutMs, deadline - now, MAX_TIMER_MS));
      // Fail closed on the deadline even if the expiry sweep could not store it (audit log down).
      const timer = this.#timers.set(() => finish(this.#clock.now() >= deadline ? 'expired' : 'timeout'), wait);
      waiters.add(onChange);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Use an approval once. Reject mode: the same person re-sending the same
   * statement text on the same connection under the same policy version finds
   * the approved request and runs it once; anything else finds nothing. Hold
   * mode passes `approvalId` to use exactly the request it waited for.
   */
  async consumeFor(input: ConsumeInput): Promise<ApprovalRequest | null> {
    const hash = bindingHash(input);
    const now = this.#clock.now();
    const claimed = this.#store.claimApproved(hash, now, {
      ...(input.approvalId !== undefined ? { id: input.approvalId } : {}),
      sessionId: input.sessionId ?? null,
    });
    if (!claimed) return null;
    if (claimed.status !== 'used') throw new Error('store returned an unclaimed approval');
    // Defence in depth: the hash binds these fields; compare them anyway.
    const exact =
      samePerson(claimed.requester, input.requester) &&
      claimed.connection === input.connection &&
      claimed.statement === input.statement &&
      claimed.policyVersion === input.policyVersion;
    try {
      if (!exact) throw new Error('approval binding mismatch');
      await this.#append(ev.approvalUsed(claimed));
    } catch (e) {
      // Release the claim: the statement will not run, so the approval stays usable.
      const { usedAt: _u, usedBySession: _s, ...rest } = claimed;
      const back: ApprovalRequest = { ...rest, status: 'approved', version: claimed.version + 1 };
      if (!this.#store.updateApproval(back, claimed.version)) this.#log.error({ approvalId: claimed.id }, 'could not release an approval claim');
      if (!exact) {
        this.#log.error({ approvalId: claimed.id }, 'approval binding hash matched different fields; refused');
        return null;
      }
      throw auditRefused(e);
    }
    this.#changed({ type: 'approval.used', approval: claimed });
    return claimed;
  }

  // ─── just-in-time grants ──────────────────────────────────────────────

  async requestGrant(input: GrantRequestInput): Promise<Grant> {
    const reason = normaliseReason(input.reason);
    const terms = this.#grantTerms(input.connection, input.action);
    if (!terms || terms.approverGroups.length === 0) {
      throw new GatewayError('GW_GRANT_UNAVAILABLE', `grants for ${input.action} on '${input.connection}' are not offered by this Gatehouse`, { clientSafe: true });
    }
    const d = input.durationSeconds;
    if (!Number.isSafeInteger(d) || d < 1 || d > terms.maxDurationSeconds) {
      invalid(`duration must be between 1 second and ${terms.maxDurationSeconds} seconds`);
    }
    const mine = this.#store.listGrants({ requester: input.requester, statuses: ['pending'] }).length;
    if (mine >= this.#maxPending) {
      throw new GatewayError('GW_APPROVAL_LIMIT', `too many pending grant requests (${this.#maxPending})`, { clientSafe: true });
    }
    const now = this.#clock.now();
    const g: Grant = {
      id: newId('grt'),
      version: 1,
      status: 'pending',
      requester: identityRef(input.requester),
      connection: input.connection,
      action: input.action,
      table: input.table ?? null,
      durationSeconds: d,
      reason,
      approverGroups: [...new Set(terms.approverGroups)],
      approvalsNeeded: terms.approvalsNeeded,
      createdAt: now,
      requestExpiresAt: now + this.#grantRequestTtl * 1000,
      approvals: [],
    };
    await this.#append(ev.grantRequested(g));
    this.#store.insertGrant(g);
    this.#changed({ type: 'grant.requested', grant: g });
    return g;
  }

  getGrant(id: string): Grant | undefined {
    const g = this.#store.getGrant(id);
    return g && (expireGrant(g, this.#clock.now()) ?? g);
  }

  /**
   * Grants the viewer may see: all their own; and, for members of approver
   * groups, the pending and active grants those groups decide on (to approve
   * or revoke them).
   */
  listGrants(viewer: Principal, filter: { status?: GrantStatus; limit?: number } = {}): Grant[] {
    const now = this.#clock.now();
    return this.#store
      .listGrants({})
      .map((g) => expireGrant(g, now) ?? g)
      .filter((g) => {
        if (filter.status !== undefined && g.status !== filter.status) return false;
        if (samePerson(g.requester, viewer)) return true;
        return (g.status === 'pending' || g.status === 'active') && viewer.groups.some((x) => g.approverGroups.includes(x));
      })
      .slice(0, filter.limit ?? 100);
  }

  approveGrant(id: string, approver: Principal, reason: string): Promise<Grant> {
    return this.#lock.run(id, async () => {
      const cur = this.#store.getGrant(id);
      if (!cur) throw notFound('grant', id);
      const now = this.#clock.now();
      if (expireGrant(cur, now) !== null) await this.#expireGrant(cur, now);
      const latest = this.#store.getGrant(id) ?? cur;
      const next = approveGrant(latest, approver, reason, now);
      const vote = next.approvals[next.approvals.length - 1] as Vote;
      await this.#append(ev.grantApproved(next, vote));
      this.#storeGrant(next, latest.version);
      this.#changed({ type: 'grant.approved', grant: next, vote });
      return next;
    });
  }

  /** Revoke a pending or active grant; live sessions depending on an active one are ended via onGrantEnded. */
  revokeGrant(id: string, by: Principal, reason = ''): Promise<Grant> {
    return this.#lock.run(id, async () => {
      const cur = this.#store.getGrant(id);
      if (!cur) throw notFound('grant', id);
      const now = this.#clock.now();
      if (expireGrant(cur, now) !== null) await this.#expireGrant(cur, now);
      const latest = this.#store.getGrant(id) ?? cur;
      const next = revokeGrant(latest, by, reason, now);
      if (next.status !== 'revoked') throw new Error('unreachable');
      await this.#append(ev.grantRevoked(next));
      this.#storeGrant(next, latest.version);
      this.#changed({ type: 'grant.revoked', grant: next });
      if (next.previousStatus === 'active') this.#announceEnd(next, 'revoked');
      return next;
    });
  }

  /** Active grants of this person on this connection at `now` (for policy `context.grant`). */
  activeGrants(principal: Principal, connection: string, now: number = this.#clock.now()): ActiveGrant[] {
    return this.#store.activeGrants(principal, connection, now).filter((g) => g.activatedAt <= now && now < g.expiresAt);
  }

  // ─── expiry ───────────────────────────────────────────────────────────

  /** Expire every record whose deadline has passed, then re-arm the timer. Safe to call at any time. */
  async expireDue(): Promise<void> {
    if (this.#sweeping || this.#closed) return;
    this.#sweeping = true;
    let failed = false;
    try {
      const now = this.#clock.now();
      const { approvals, grants } = this.#store.due(now);
      for (const g of grants) {
        // Fail closed: sessions depending on a grant end at its deadline, even if the event below cannot be written.
        if (g.status === 'active') this.#announceEnd(g, 'expired');
      }
      for (const r of approvals) {
        try {
          await this.#lock.run(r.id, async () => {
            const cur = this.#store.getApproval(r.id);
            if (cur && expireRequest(cur, this.#clock.now()) !== null) await this.#expireApproval(cur, this.#clock.now());
          });
        } catch (e) {
          failed = true;
          this.#log.error({ err: e, approvalId: r.id }, 'could not expire approval request; will retry');
        }
      }
      for (const g of grants) {
        try {
          await this.#lock.run(g.id, async () => {
            const cur = this.#store.getGrant(g.id);
            if (cur && expireGrant(cur, this.#clock.now()) !== null) await this.#expireGrant(cur, this.#clock.now());
          });
        } catch (e) {
          failed = true;
          this.#log.error({ err: e, grantId: g.id }, 'could not expire grant; will retry');
        }
      }
    } finally {
      this.#sweeping = false;
      this.#sweepFailed = failed;
      this.#arm();
    }
  }

  /** Caller holds the lock for r.id. */
  async #expireApproval(r: ApprovalRequest, now: number): Promise<void> {
    const next = expireRequest(r, now);
    if (next === null || next.status !== 'expired') return;
    await this.#append(ev.approvalExpired(next));
    this.#storeApproval(next, r.version);
    this.#changed({ type: 'approval.expired', approval: next });
  }

  /** Caller holds the lock for g.id. */
  async #expireGrant(g: Grant, now: number): Promise<void> {
    const next = expireGrant(g, now);
    if (next === null || next.status !== 'expired') return;
    if (next.previousStatus === 'active') this.#announceEnd(next, 'expired');
    await this.#append(ev.grantExpired(next));
    this.#storeGrant(next, g.version);
    this.#endAnnounced.delete(next.id);
    this.#changed({ type: 'grant.expired', grant: next });
  }

  #arm(): void {
    if (this.#closed) return;
    if (this.#timer) this.#timers.clear(this.#timer);
    this.#timer = null;
    const next = this.#store.nextDeadline();
    if (next === null) return;
    let delay = Math.max(0, next - this.#clock.now());
    if (this.#sweepFailed) delay = Math.max(delay, this.#retryMs);
    this.#timer = this.#timers.set(() => {
      this.#timer = null;
      void this.expireDue();
    }, Math.min(delay, MAX_TIMER_MS));
  }

  // ─── plumbing ─────────────────────────────────────────────────────────

  async #append(event: GatewayEvent): Promise<void> {
    try {
      await this.#events.append(event);
    } catch (e) {
      throw auditRefused(e);
    }
  }

  #storeApproval(next: ApprovalRequest, expectedVersion: number): void {
    if (!this.#store.updateApproval(next, expectedVersion)) throw conflict('request', next.id, this.#log);
  }

  #storeGrant(next: Grant, expectedVersion: number): void {
    if (!this.#store.updateGrant(next, expectedVersion)) throw conflict('grant', next.id, this.#log);
  }

  #announceEnd(g: Grant, reason: GrantEndReason): void {
    if (reason === 'expired') {
      if (this.#endAnnounced.has(g.id)) return;
      this.#endAnnounced.add(g.id);
    }
    for (const l of this.#grantEndListeners) {
      try {
        l(g, reason);
      } catch (e) {
        this.#log.error({ err: e, grantId: g.id }, 'grant-ended listener failed');
      }
    }
  }

  #changed(c: ApprovalChange): void {
    if ('approval' in c) {
      const set = this.#waiters.get(c.approval.id);
      if (set) for (const w of [...set]) w(c.approval);
    }
    for (const l of this.#changeListeners) {
      try {
        l(c);
      } catch (e) {
        this.#log.error({ err: e, change: c.type }, 'approval change listener failed');
      }
    }
    if (!this.#sweeping) this.#arm();
  }
}

function waitResultOf(r: ApprovalRequest): WaitResult | null {
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

function notFound(what: 'request' | 'grant', id: string): GatewayError {
  return new GatewayError(what === 'request' ? 'GW_APPROVAL_NOT_FOUND' : 'GW_GRANT_NOT_FOUND', `no ${what === 'request' ? 'approval request' : 'grant'} ${id}`, {
    clientSafe: true,
  });
}

function conflict(what: 'request' | 'grant', id: string, log: Logger): GatewayError {
  // Only reachable with several writers on one store (another instance decided meanwhile).
  // The audit event for this attempt is already written; the log says it did not take effect.
  log.warn({ id }, `${what} changed concurrently; the recorded decision did not take effect`);
  return new GatewayError('GW_APPROVAL_CONFLICT', `${what} ${id} was changed concurrently; reload and try again`, { clientSafe: true });
}

function validateRequest(i: RequestInput): void {
  if (typeof i.statement !== 'string' || i.statement.length === 0) invalid('the statement is empty');
  if (i.statement.length > MAX_STATEMENT_CHARS) invalid('the statement is too long to hold for approval');
  if (i.connection === '') invalid('the connection is empty');
  // Fail closed: a policy that requires approval but names no approver group cannot be approved by anyone.
  if (i.approverGroups.length === 0) invalid(`policy '${i.policyId}' requires approval but names no approver group (@approvers)`);
  if (!Number.isSafeInteger(i.approvalsNeeded) || i.approvalsNeeded < 1 || i.approvalsNeeded > 100) invalid('approvals needed must be 1 to 100');
  if (!Number.isSafeInteger(i.ttlSeconds) || i.ttlSeconds < 1 || i.ttlSeconds > MAX_TTL_SECONDS) invalid('approval ttl must be 1 s to 30 d');
  if (!Number.isSafeInteger(i.policyVersion)) invalid('policy version must be an integer');
}
