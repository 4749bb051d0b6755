/**
 * The approval store port. Implementations: MemoryApprovalStore (tests,
 * demo) and infra/approvals/sqlite-store.ts (stateDir/approvals.db).
 *
 * Synchronous on purpose: better-sqlite3 is synchronous, and the data path
 * needs `activeGrants` while building a policy request, which is synchronous
 * too. A future shared (Postgres) store would keep an in-memory mirror fed by
 * LISTEN/NOTIFY behind this same interface.
 *
 * Concurrency contract: every update is compare-and-set on `version`, so a
 * change computed from a stale read is refused instead of overwriting a
 * decision made meanwhile; `claimApproved` is the atomic use-once.
 */
import type { ApprovalRequest, ApprovalStatus, Grant, GrantStatus } from './model.ts';

export interface ApprovalFilter {
  readonly statuses?: readonly ApprovalStatus[];
  /** Newest first; the store caps this (1000). */
  readonly limit?: number;
}

export interface GrantFilter {
  readonly statuses?: readonly GrantStatus[];
  readonly requester?: { readonly issuer: string; readonly subject: string };
  readonly limit?: number;
}

export interface ApprovalStore {
  insertApproval(r: ApprovalRequest): void;
  getApproval(id: string): ApprovalRequest | undefined;
  listApprovals(filter: ApprovalFilter): ApprovalRequest[];
  /** The pending request with this binding hash, if any (to avoid duplicate requests for a re-sent statement). */
  findPending(bindingHash: string): ApprovalRequest | undefined;
  /** Pending requests of one requester (to bound them). */
  countPending(requester: { readonly issuer: string; readonly subject: string }): number;
  /** Writes `next` iff the stored record still has version `expectedVersion`; false otherwise. */
  updateApproval(next: ApprovalRequest, expectedVersion: number): boolean;
  /**
   * Atomic use-once: among `approved` requests with this binding hash whose
   * `validUntil` is after `now` (and with this id, when given), marks the
   * oldest `used` and returns it; undefined when there is none. Two callers
   * racing for the same approval: exactly one gets it.
   */
  claimApproved(bindingHash: string, now: number, opts: { id?: string; sessionId: string | null }): ApprovalRequest | undefined;

  insertGrant(g: Grant): void;
  getGrant(id: string): Grant | undefined;
  listGrants(filter: GrantFilter): Grant[];
  updateGrant(next: Grant, expectedVersion: number): boolean;
  /** Active grants of one person on one connection whose window contains `now`. */
  activeGrants(requester: { readonly issuer: string; readonly subject: string }, connection: string, now: number): Extract<Grant, { status: 'active' }>[];

  /** The earliest deadline of any non-final record (ms), or null. */
  nextDeadline(): number | null;
  /** Non-final records whose deadline is at or before `now`. */
  due(now: number): { approvals: ApprovalRequest[]; grants: Grant[] };

  close(): void;
}

export const MAX_LIST = 1000;
