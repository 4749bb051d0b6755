/**
 * Denial and approval messages, written for the person or agent who sent the
 * statement: what was refused, on what, why, and what would be allowed
 * instead (issue 3, item 5). The same text goes to the client (as a 42501
 * ErrorResponse), the log and the audit record.
 *
 *   Gatehouse denied sql:write on public.customers: no policy permits it for
 *   ci-bot (groups: agents). Policy 'agents-read-only' allows sql:read.
 */
import { describePrincipal, type Principal } from '../identity/principal.ts';
import type { ApprovalTerms, ReasonCode } from './decision.ts';
import { formatDuration } from './annotations.ts';
import type { CompiledPolicy } from './source.ts';

export function resourceLabel(table: string | null, connection: string): string {
  return table === null ? `connection '${connection}'` : table;
}

export function approvalTermsText(a: ApprovalTerms): string {
  const who = a.approvers.length > 0 ? ` from ${a.approvers.join(' or ')}` : '';
  return `${a.approvals} approval${a.approvals === 1 ? '' : 's'}${who}, valid ${formatDuration(a.ttlSeconds)}`;
}

function quoteIds(ids: readonly string[]): string {
  return ids.map((id) => `'${id}'`).join(', ');
}

export interface PairMessageInput {
  readonly action: string;
  readonly resource: string;
  readonly reason: ReasonCode;
  readonly policyIds: readonly string[];
  readonly approval?: ApprovalTerms;
  readonly principal: Principal;
  readonly policy: (id: string) => CompiledPolicy | undefined;
  /** Extra explanation for sql:unknown (parse error, unknown statement type…). */
  readonly detail: string | undefined;
}

export function pairMessage(m: PairMessageInput): string {
  const who = describePrincipal(m.principal);
  const detail = m.detail ? ` (${m.detail})` : '';
  switch (m.reason) {
    case 'permitted_by_policy':
      return `Gatehouse allowed ${on(m)} for ${who} (policy ${quoteIds(m.policyIds)})`;
    case 'transaction_control':
      return `Gatehouse allowed ${m.action}: transaction control is always allowed`;
    case 'forbidden_by_policy': {
      const why = m.policyIds
        .map((id) => m.policy(id)?.reason)
        .filter((r): r is string => r !== undefined);
      const because = why.length ? `: ${why.join('; ')}` : '';
      const noun = m.policyIds.length === 1 ? 'policy' : 'policies';
      return `Gatehouse denied ${on(m)}${detail}: forbidden by ${noun} ${quoteIds(m.policyIds)} for ${who}${because}.`;
    }
    case 'approval_required': {
      const terms = m.approval ? ` (${approvalTermsText(m.approval)})` : '';
      const id = m.approval?.policyId ?? m.policyIds[0] ?? '';
      return `Gatehouse requires approval for ${on(m)}: policy '${id}' permits it for ${who} once approved${terms}.`;
    }
    case 'policy_error': {
      const which = m.policyIds.length ? ` (policy ${quoteIds(m.policyIds)} could not be evaluated)` : '';
      return `Gatehouse denied ${on(m)}${detail}: the policy engine failed${which}; denied to be safe.`;
    }
    default:
      return `Gatehouse denied ${on(m)}${detail}: no policy permits it for ${who}.`;
  }
}

/** "sql:read on public.customers", "connect to connection 'demo'". */
function on(m: { action: string; resource: string }): string {
  return `${m.action} ${m.action === 'connect' ? 'to' : 'on'} ${m.resource}`;
}

/** " Policy 'a' allows sql:read; policy 'b' allows sql:write with 1 approval from dba, valid 15m." */
export function alternativesSentence(
  options: readonly { action: string; verdict: { effect: string; policyIds: readonly string[]; approval?: ApprovalTerms } }[],
  resource: string,
  principal: Principal,
): string {
  if (options.length === 0) return ` No SQL on ${resource} is permitted for ${principal.subject}.`;
  const parts = options.map(({ action, verdict }) => {
    const ids = verdict.effect === 'require_approval' && verdict.approval ? [verdict.approval.policyId] : verdict.policyIds;
    const noun = ids.length === 1 ? 'policy' : 'policies';
    const verb = ids.length === 1 ? 'allows' : 'allow';
    const withApproval = verdict.effect === 'require_approval' && verdict.approval ? ` with ${approvalTermsText(verdict.approval)}` : '';
    return `${noun} ${quoteIds(ids)} ${verb} ${action}${withApproval}`;
  });
  const sentence = parts.join('; ');
  return ` ${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}.`;
}
