/**
 * Ends live sessions when a grant they may depend on ends (issue 6: "at
 * expiry or on revoke, every live session that depends on the grant is
 * ended within seconds, with an audit event" — the session's own
 * `session.closed` event, written when the adapter closes it).
 *
 * By default a session depends on a grant when it belongs to the grant's
 * requester (same issuer + subject) on the grant's connection. That is
 * deliberately broader than "ran a statement under the grant": a session
 * opened during the window may hold locks, cursors or a transaction begun
 * under the grant. Pass `dependsOn` to narrow it.
 */
import type { Session } from '../sessions/session-service.ts';
import { samePerson, type Grant } from './model.ts';
import type { ApprovalService, GrantEndReason } from './service.ts';

/** Closed vocabulary (it reaches `session.closed.reason`). */
export type GrantKillReason = 'grant_revoked' | 'grant_expired';

export function killReason(reason: GrantEndReason): GrantKillReason {
  return reason === 'revoked' ? 'grant_revoked' : 'grant_expired';
}

export function defaultDependsOn(session: Pick<Session, 'principal' | 'connection'>, grant: Grant): boolean {
  return session.connection.name === grant.connection && samePerson(session.principal, grant.requester);
}

/** Subscribe; returns the unsubscribe function. */
export function endSessionsOnGrantEnd(
  approvals: Pick<ApprovalService, 'onGrantEnded'>,
  sessions: { readonly liveSessions: readonly Pick<Session, 'principal' | 'connection' | 'kill'>[] },
  dependsOn: (session: Pick<Session, 'principal' | 'connection'>, grant: Grant) => boolean = defaultDependsOn,
): () => void {
  return approvals.onGrantEnded((grant, reason) => {
    for (const s of sessions.liveSessions) if (dependsOn(s, grant)) s.kill(killReason(reason));
  });
}
