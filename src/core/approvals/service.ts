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
import { newId } from '../../shared/ids.ts';
import { identityRef } from '../sessions/session-service.ts';
import { bindingHash, canView, samePerson, sha256Hex, type ApprovalRequest, type ApprovalStatus, type Grant, type GrantStatus, type Vote } from './model.ts';
import { approveRequest, denyRequest, expireRequest } from './rules.ts';
import * as ev from './audit-events.ts';
import type { ApprovalStore } from './store.ts';
import { KeyedLock } from './keyed-lock.ts';
import { MAX_TIMER_MS, systemTimers, type TimerHandle, type Timers } from './timers.ts';
import { HoldWaiters } from './waiters.ts';
import { GrantBook, type Kernel } from './grants.ts';
import { auditRefused, conflict, notFound, tooMany, validateRequest } from './failures.ts';
import type {
  ActiveGrant,
  ApprovalChange,
  ConsumeInput,
  GrantEndReason,
  GrantRequestInput,
  GrantTerms,
  RequestInput,
  WaitResult,
} from './types.ts';

export type * from './types.ts';

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

export class ApprovalService {
  readonly #store: ApprovalStore;
  readonly #events: EventSink;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #timers: Timers;
  readonly #grants: GrantBook;
  readonly #maxPending: number;
  readonly #retryMs: number;
  readonly #lock = new KeyedLock();
  readonly #changeListeners = new Set<(c: ApprovalChange) => void>();
  readonly #waiters: HoldWaiters;
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
    this.#maxPending = deps.maxPendingPerRequester ?? 20;
    this.#retryMs = deps.retryMs ?? 5000;
    this.#waiters = new HoldWaiters(this.#clock, this.#timers);
    const kernel: Kernel = {
      store: this.#store,
      clock: this.#clock,
      log: this.#log,
      lock: this.#lock,
      append: (e) => this.#append(e),
      changed: (c) => this.#changed(c),
    };
    this.#grants = new GrantBook(kernel, {
      terms: deps.grantTerms ?? (() => null),
      requestTtlSeconds: deps.grantRequestTtlSeconds ?? 3600,
      maxPending: this.#maxPending,
    });
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
    this.#waiters.close();
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
    return this.#grants.onEnded(listener);
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
        throw tooMany('approval requests', this.#maxPending);
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
    return this.#waiters.wait(r, timeoutMs, opts.signal);
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

  // ─── just-in-time grants (grants.ts) ──────────────────────────────────

  requestGrant(input: GrantRequestInput): Promise<Grant> {
    return this.#grants.request(input);
  }

  getGrant(id: string): Grant | undefined {
    return this.#grants.get(id);
  }

  /** Own grants; for members of approver groups also the pending and active ones those groups decide on. */
  listGrants(viewer: Principal, filter: { status?: GrantStatus; limit?: number } = {}): Grant[] {
    return this.#grants.list(viewer, filter);
  }

  approveGrant(id: string, approver: Principal, reason: string): Promise<Grant> {
    return this.#grants.approve(id, approver, reason);
  }

  /** Revoke a pending or active grant; live sessions depending on an active one are ended via onGrantEnded. */
  revokeGrant(id: string, by: Principal, reason = ''): Promise<Grant> {
    return this.#grants.revoke(id, by, reason);
  }

  /** Active grants of this person on this connection at `now` (for policy `context.grant`). */
  activeGrants(principal: Principal, connection: string, now: number = this.#clock.now()): ActiveGrant[] {
    return this.#grants.active(principal, connection, now);
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
      // Fail closed: sessions depending on a grant end at its deadline, even if its event cannot be written below.
      for (const g of grants) if (g.status === 'active') this.#grants.announceEnd(g, 'expired');
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
      for (const g of grants) if (!(await this.#grants.expire(g.id))) failed = true;
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

  #changed(c: ApprovalChange): void {
    if ('approval' in c) this.#waiters.notify(c.approval);
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
