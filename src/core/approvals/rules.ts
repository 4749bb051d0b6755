/**
 * The state machine as pure functions: each takes a record and returns the
 * next one, or throws a client-safe GatewayError saying why the transition
 * is not allowed. No I/O, no clock: the service passes `now`.
 *
 * The rules that make an approval mean something (issue 6, "Approvals that
 * mean something") all live in `checkApprover`:
 *   - only human identities approve (CI and other workload tokens never);
 *   - the approver is in one of the approver groups;
 *   - the requester never approves their own request (same issuer + subject);
 *   - N approvals are N distinct people: votes are keyed by issuer + subject,
 *     so one person in several approver groups counts once.
 */
import { GatewayError } from '../../shared/errors.ts';
import type { Principal } from '../identity/principal.ts';
import { identityRef } from '../sessions/session-service.ts';
import { assertNever, samePerson, type ApprovalRequest, type Grant, type Vote } from './model.ts';

export const MAX_REASON_LENGTH = 2000;

function fail(code: ConstructorParameters<typeof GatewayError>[0], message: string): never {
  throw new GatewayError(code, message, { clientSafe: true });
}

/** A decision's reason: required, trimmed, bounded. */
export function normaliseReason(reason: unknown): string {
  const r = typeof reason === 'string' ? reason.trim() : '';
  if (r === '') fail('GW_APPROVAL_REASON_REQUIRED', 'a reason is required');
  if (r.length > MAX_REASON_LENGTH) fail('GW_APPROVAL_INVALID', `the reason is longer than ${MAX_REASON_LENGTH} characters`);
  return r;
}

type Subject = { readonly requester: { readonly issuer: string; readonly subject: string }; readonly approverGroups: readonly string[] };

/** Throws unless `approver` may decide on `subject`; `what` names it in messages. */
export function checkApprover(subject: Subject, approver: Principal, what: 'request' | 'grant'): void {
  if (approver.kind !== 'human') {
    fail('GW_APPROVAL_NOT_HUMAN', `only people can approve or deny; ${approver.subject} authenticated with a workload token`);
  }
  if (samePerson(subject.requester, approver)) {
    fail('GW_APPROVAL_SELF', `you cannot approve or deny your own ${what}`);
  }
  if (!approver.groups.some((g) => subject.approverGroups.includes(g))) {
    fail('GW_APPROVAL_NOT_APPROVER', `only members of ${subject.approverGroups.join(', ')} can decide on this ${what}`);
  }
}

/**
 * Eligibility is checked before state, so that a refused person learns the
 * rule that refuses them rather than the state of a request they may not
 * decide. A person who already approved may still deny (a veto before the
 * request completes), but may not approve twice.
 */
function checkDecision(
  r: Subject & { readonly id: string; readonly status: string; readonly approvals: readonly Vote[] },
  approver: Principal,
  what: 'request' | 'grant',
  kind: 'approve' | 'deny',
): void {
  checkApprover(r, approver, what);
  if (r.status !== 'pending') notPending(r, what);
  if (kind === 'approve' && r.approvals.some((v) => samePerson(v.approver, approver))) {
    fail('GW_APPROVAL_ALREADY_VOTED', `you have already approved this ${what}; it needs another person`);
  }
}

function vote(approver: Principal, reason: string, now: number): Vote {
  return { approver: identityRef(approver), reason, at: now };
}

function notPending(r: { readonly id: string; readonly status: string }, what: 'request' | 'grant'): never {
  fail(what === 'request' ? 'GW_APPROVAL_NOT_PENDING' : 'GW_GRANT_NOT_PENDING', `${what} ${r.id} is already ${r.status}`);
}

/** One approving vote; the request becomes `approved` when it has enough distinct people. */
export function approveRequest(r: ApprovalRequest, approver: Principal, reason: string, now: number): ApprovalRequest {
  const why = normaliseReason(reason);
  checkDecision(r, approver, 'request', 'approve');
  if (r.status !== 'pending') notPending(r, 'request');
  const approvals = [...r.approvals, vote(approver, why, now)];
  const base = { ...r, version: r.version + 1, approvals };
  if (approvals.length < r.approvalsNeeded) return { ...base, status: 'pending' };
  return { ...base, status: 'approved', approvedAt: now, validUntil: now + r.ttlSeconds * 1000 };
}

/** One denial by an eligible approver ends the request. */
export function denyRequest(r: ApprovalRequest, approver: Principal, reason: string, now: number): ApprovalRequest {
  const why = normaliseReason(reason);
  checkDecision(r, approver, 'request', 'deny');
  if (r.status !== 'pending') notPending(r, 'request');
  return { ...r, version: r.version + 1, status: 'denied', denial: vote(approver, why, now) };
}

/** Deadline passed: pending → expired, approved (unused) → expired. Other states are final. */
export function expireRequest(r: ApprovalRequest, now: number): ApprovalRequest | null {
  switch (r.status) {
    case 'pending':
      if (now < r.expiresAt) return null;
      return { ...r, version: r.version + 1, status: 'expired', expiredAt: now, previousStatus: 'pending' };
    case 'approved':
      if (now < r.validUntil) return null;
      return { ...r, version: r.version + 1, status: 'expired', expiredAt: now, previousStatus: 'approved' };
    case 'denied':
    case 'expired':
    case 'used':
      return null;
    default:
      return assertNever(r);
  }
}

/** approved → used (single use). */
export function useRequest(r: ApprovalRequest, now: number, sessionId: string | null): ApprovalRequest {
  if (r.status !== 'approved' || now >= r.validUntil) notPending(r, 'request');
  return { ...r, version: r.version + 1, status: 'used', usedAt: now, usedBySession: sessionId };
}

/** One approving vote on a grant; it becomes active (the window starts) with enough distinct people. */
export function approveGrant(g: Grant, approver: Principal, reason: string, now: number): Grant {
  const why = normaliseReason(reason);
  checkDecision(g, approver, 'grant', 'approve');
  if (g.status !== 'pending') notPending(g, 'grant');
  const approvals = [...g.approvals, vote(approver, why, now)];
  const base = { ...g, version: g.version + 1, approvals };
  if (approvals.length < g.approvalsNeeded) return { ...base, status: 'pending' };
  return { ...base, status: 'active', activatedAt: now, expiresAt: now + g.durationSeconds * 1000 };
}

/**
 * Revoke a pending or active grant. The requester may give up their own
 * grant; otherwise only a human member of an approver group may revoke.
 */
export function revokeGrant(g: Grant, by: Principal, reason: string, now: number): Grant {
  const why = typeof reason === 'string' ? reason.trim().slice(0, MAX_REASON_LENGTH) : '';
  if (!samePerson(g.requester, by)) {
    if (by.kind !== 'human' || !by.groups.some((x) => g.approverGroups.includes(x))) {
      fail('GW_GRANT_FORBIDDEN', `only the requester or a member of ${g.approverGroups.join(', ')} can revoke grant ${g.id}`);
    }
  }
  switch (g.status) {
    case 'pending':
      return { ...g, version: g.version + 1, status: 'revoked', revokedAt: now, revokedBy: identityRef(by), revokeReason: why, previousStatus: 'pending', activatedAt: null };
    case 'active':
      return { ...g, version: g.version + 1, status: 'revoked', revokedAt: now, revokedBy: identityRef(by), revokeReason: why, previousStatus: 'active', activatedAt: g.activatedAt };
    case 'revoked':
    case 'expired':
      return fail('GW_GRANT_ENDED', `grant ${g.id} has already ${g.status === 'revoked' ? 'been revoked' : 'expired'}`);
    default:
      return assertNever(g);
  }
}

export function expireGrant(g: Grant, now: number): Grant | null {
  switch (g.status) {
    case 'pending':
      if (now < g.requestExpiresAt) return null;
      return { ...g, version: g.version + 1, status: 'expired', expiredAt: now, previousStatus: 'pending', activatedAt: null };
    case 'active':
      if (now < g.expiresAt) return null;
      return { ...g, version: g.version + 1, status: 'expired', expiredAt: now, previousStatus: 'active', activatedAt: g.activatedAt };
    case 'revoked':
    case 'expired':
      return null;
    default:
      return assertNever(g);
  }
}
