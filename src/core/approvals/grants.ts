/**
 * Just-in-time grants, the half of ApprovalService that manages access
 * windows. Same write-ahead order as approval requests (service.ts header):
 * lock → read → rules.ts → audit event → compare-and-set → listeners.
 *
 * `onEnded` listeners are how live sessions end: on revoke (after the
 * revocation is recorded) and at the end of the window. For expiry the
 * announcement happens at the deadline even if the `grant.expired` event
 * cannot be written yet (fail closed), and only once per grant.
 */
import type { Clock } from '../../shared/clock.ts';
import type { Logger } from '../logger.ts';
import type { Principal } from '../identity/principal.ts';
import type { GatewayEvent } from '../audit/events.ts';
import { newId } from '../../shared/ids.ts';
import { identityRef } from '../sessions/session-service.ts';
import { samePerson, type Grant, type GrantStatus, type Vote } from './model.ts';
import { approveGrant, expireGrant, normaliseReason, revokeGrant } from './rules.ts';
import * as ev from './audit-events.ts';
import type { ApprovalStore } from './store.ts';
import type { KeyedLock } from './keyed-lock.ts';
import { checkGrantRequest, conflict, notFound, tooMany } from './failures.ts';
import type { ActiveGrant, ApprovalChange, GrantEndReason, GrantRequestInput, GrantTerms } from './types.ts';

/** What the grant half shares with the service: store, clock, locks, the audit path and the listeners. */
export interface Kernel {
  readonly store: ApprovalStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly lock: KeyedLock;
  /** Appends the event or throws a client-safe GW_EVENT_STORE_UNAVAILABLE. */
  append(event: GatewayEvent): Promise<void>;
  changed(change: ApprovalChange): void;
}

export interface GrantOptions {
  readonly terms: (connection: string, action: string) => GrantTerms | null;
  readonly requestTtlSeconds: number;
  readonly maxPending: number;
}

/** How long active() may answer from its cache without asking the store. */
const ACTIVE_CACHE_MS = 1000;
const ACTIVE_CACHE_ENTRIES = 10_000;

export class GrantBook {
  readonly #k: Kernel;
  readonly #opts: GrantOptions;
  readonly #endListeners = new Set<(g: Grant, reason: GrantEndReason) => void>();
  /** Grants whose expiry was already announced (a retried sweep does not announce twice). */
  readonly #expiryAnnounced = new Set<string>();
  /** active(): the store's answer per person and connection, valid in [from, until). */
  readonly #activeCache = new Map<string, { grants: Extract<Grant, { status: 'active' }>[]; from: number; until: number }>();

  constructor(kernel: Kernel, opts: GrantOptions) {
    this.#k = kernel;
    this.#opts = opts;
  }

  onEnded(listener: (g: Grant, reason: GrantEndReason) => void): () => void {
    this.#endListeners.add(listener);
    return () => this.#endListeners.delete(listener);
  }

  async request(input: GrantRequestInput): Promise<Grant> {
    const { store, clock } = this.#k;
    const reason = normaliseReason(input.reason);
    const terms = checkGrantRequest(this.#opts.terms(input.connection, input.action), input.connection, input.action, input.durationSeconds);
    if (store.listGrants({ requester: input.requester, statuses: ['pending'] }).length >= this.#opts.maxPending) {
      throw tooMany('grant requests', this.#opts.maxPending);
    }
    const now = clock.now();
    const g: Grant = {
      id: newId('grt'),
      version: 1,
      status: 'pending',
      requester: identityRef(input.requester),
      connection: input.connection,
      action: input.action,
      table: input.table ?? null,
      durationSeconds: input.durationSeconds,
      reason,
      approverGroups: [...new Set(terms.approverGroups)],
      approvalsNeeded: terms.approvalsNeeded,
      createdAt: now,
      requestExpiresAt: now + this.#opts.requestTtlSeconds * 1000,
      approvals: [],
    };
    await this.#k.append(ev.grantRequested(g));
    store.insertGrant(g);
    this.#activeCache.clear();
    this.#k.changed({ type: 'grant.requested', grant: g });
    return g;
  }

  /** The grant as it stands now (a passed deadline shows as expired before the sweep stores it). */
  get(id: string): Grant | undefined {
    const g = this.#k.store.getGrant(id);
    return g && (expireGrant(g, this.#k.clock.now()) ?? g);
  }

  list(viewer: Principal, filter: { status?: GrantStatus; limit?: number }): Grant[] {
    const now = this.#k.clock.now();
    return this.#k.store
      .listGrants({})
      .map((g) => expireGrant(g, now) ?? g)
      .filter((g) => {
        if (filter.status !== undefined && g.status !== filter.status) return false;
        if (samePerson(g.requester, viewer)) return true;
        return (g.status === 'pending' || g.status === 'active') && viewer.groups.some((x) => g.approverGroups.includes(x));
      })
      .slice(0, filter.limit ?? 100);
  }

  approve(id: string, approver: Principal, reason: string): Promise<Grant> {
    return this.#k.lock.run(id, async () => {
      const latest = await this.#currentLocked(id);
      const now = this.#k.clock.now();
      const next = approveGrant(latest, approver, reason, now);
      const vote = next.approvals[next.approvals.length - 1] as Vote;
      await this.#k.append(ev.grantApproved(next, vote));
      this.#store(next, latest.version);
      this.#k.changed({ type: 'grant.approved', grant: next, vote });
      return next;
    });
  }

  revoke(id: string, by: Principal, reason: string): Promise<Grant> {
    return this.#k.lock.run(id, async () => {
      const latest = await this.#currentLocked(id);
      const next = revokeGrant(latest, by, reason, this.#k.clock.now());
      if (next.status !== 'revoked') throw new Error('unreachable: revokeGrant returned a non-revoked grant');
      await this.#k.append(ev.grantRevoked(next));
      this.#store(next, latest.version);
      this.#k.changed({ type: 'grant.revoked', grant: next });
      if (next.previousStatus === 'active') this.announceEnd(next, 'revoked');
      return next;
    });
  }

  active(principal: Principal, connection: string, now: number): ActiveGrant[] {
    // Asked once per statement: the store's answer is kept until a grant changes here (#store, request),
    // the earliest window ends, or ACTIVE_CACHE_MS pass (a bound on staleness should the store be written elsewhere).
    const key = `${principal.issuer}\n${principal.subject}\n${connection}`;
    let hit = this.#activeCache.get(key);
    if (!hit || now < hit.from || now >= hit.until) {
      const grants = this.#k.store.activeGrants(principal, connection, now);
      let until = now + ACTIVE_CACHE_MS;
      for (const g of grants) until = Math.min(until, g.expiresAt);
      if (this.#activeCache.size >= ACTIVE_CACHE_ENTRIES) this.#activeCache.clear();
      hit = { grants, from: now, until };
      this.#activeCache.set(key, hit);
    }
    // The store filters by window already; the clock check here is the second, independent guard.
    return hit.grants.filter((g) => g.activatedAt <= now && now < g.expiresAt);
  }

  /** Expire one grant if due (takes the lock). False when it could not be recorded (retry later). */
  async expire(id: string): Promise<boolean> {
    try {
      await this.#k.lock.run(id, async () => {
        const cur = this.#k.store.getGrant(id);
        if (cur) await this.#expireLocked(cur, this.#k.clock.now());
      });
      return true;
    } catch (e) {
      this.#k.log.error({ err: e, grantId: id }, 'could not expire grant; will retry');
      return false;
    }
  }

  announceEnd(g: Grant, reason: GrantEndReason): void {
    if (reason === 'expired') {
      if (this.#expiryAnnounced.has(g.id)) return;
      this.#expiryAnnounced.add(g.id);
    }
    for (const l of this.#endListeners) {
      try {
        l(g, reason);
      } catch (e) {
        this.#k.log.error({ err: e, grantId: g.id }, 'grant-ended listener failed');
      }
    }
  }

  /** Caller holds the lock: the stored grant, after recording its expiry if its deadline passed. */
  async #currentLocked(id: string): Promise<Grant> {
    const cur = this.#k.store.getGrant(id);
    if (!cur) throw notFound('grant', id);
    await this.#expireLocked(cur, this.#k.clock.now());
    return this.#k.store.getGrant(id) ?? cur;
  }

  async #expireLocked(g: Grant, now: number): Promise<void> {
    const next = expireGrant(g, now);
    if (next === null || next.status !== 'expired') return;
    if (next.previousStatus === 'active') this.announceEnd(next, 'expired');
    await this.#k.append(ev.grantExpired(next));
    this.#store(next, g.version);
    this.#expiryAnnounced.delete(next.id);
    this.#k.changed({ type: 'grant.expired', grant: next });
  }

  #store(next: Grant, expectedVersion: number): void {
    this.#activeCache.clear();
    if (!this.#k.store.updateGrant(next, expectedVersion)) throw conflict('grant', next.id, this.#k.log);
  }
}
