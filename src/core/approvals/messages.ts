/**
 * The words a client sees about approvals, the same for every protocol
 * (ARCHITECTURE.md principle 5: a held or refused agent must be able to read
 * what to do next). Adapters put them in their own envelope: a Postgres
 * NoticeResponse while holding, an ErrorResponse (42501) when refusing.
 *
 * They go to the requester only, so they may name the approver groups, the
 * request id and a denier's reason; they never contain tokens.
 */
import type { ApprovalRequest } from './model.ts';
import type { WaitResult } from './types.ts';

function needs(r: ApprovalRequest): string {
  const n = r.approvalsNeeded;
  return `${n} approval${n === 1 ? '' : 's'} from ${r.approverGroups.join(' or ')}`;
}

function what(r: ApprovalRequest): string {
  return `${r.action}${r.tables.length ? ` on ${r.tables.join(', ')}` : ''}`;
}

export function approveCommand(id: string): string {
  return `gatehouse approvals approve ${id} --reason "…"`;
}

/** Hold mode, sent while the statement waits. */
export function holdMessage(r: ApprovalRequest): string {
  return (
    `Gatehouse is holding this statement for approval: ${what(r)} needs ${needs(r)} (policy '${r.policyId}'). ` +
    `Request ${r.id}, decide by ${new Date(r.expiresAt).toISOString()}. Approve with: ${approveCommand(r.id)}`
  );
}

/** Reject mode, the error for the statement. */
export function rejectMessage(r: ApprovalRequest): string {
  return (
    `Gatehouse requires approval for ${what(r)}: ${needs(r)} (policy '${r.policyId}'). ` +
    `Request ${r.id} is pending until ${new Date(r.expiresAt).toISOString()}. Approve with: ${approveCommand(r.id)} ` +
    `— then send the same statement again on this connection to run it once.`
  );
}

/** Hold mode, the error when the wait ended without approval. */
export function holdEndedMessage(result: Exclude<WaitResult, 'approved'>, r: ApprovalRequest): string {
  switch (result) {
    case 'denied':
      return r.status === 'denied'
        ? `Gatehouse: request ${r.id} for ${what(r)} was denied by ${r.denial.approver.subject}: ${r.denial.reason}`
        : `Gatehouse: request ${r.id} for ${what(r)} was denied`;
    case 'expired':
      return `Gatehouse: request ${r.id} for ${what(r)} expired before it could be used; the statement did not run`;
    case 'timeout':
      return (
        `Gatehouse stopped waiting for approval of request ${r.id} (${what(r)}); the statement did not run. ` +
        `It stays pending: once approved, send the same statement again on this connection to run it once.`
      );
  }
}
