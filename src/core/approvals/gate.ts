/**
 * The approval step of the per-operation pipeline, written once for every
 * adapter: given an operation that policy says needs approval, either find
 * an approval for exactly this operation and use it, or create the request
 * and hold (wait) or reject.
 *
 *   consumeFor(binding) ─ found ──────────────────────────────► run
 *        │ none
 *   request(…) ─ reject ─────────────────────────────────────► refused (pending)
 *        │ hold
 *   onHold(notice) → waitFor ─ approved → consumeFor(id) ────► run
 *                             └ denied | expired | timeout ──► refused
 *
 * On `run`, the caller re-authorizes with `context.approval` set to
 * `result.context` and, if allowed, writes `statement.started` with
 * `approvalId` and forwards the statement. If the re-check denies, the
 * statement is refused and the approval stays used (fail closed).
 */
import type { Principal } from '../identity/principal.ts';
import type { ApprovalContext, ApprovalTerms } from '../policy/decision.ts';
import { approvalContext, type ApprovalMode, type ApprovalRequest } from './model.ts';
import { holdEndedMessage, holdMessage, rejectMessage } from './messages.ts';
import type { ApprovalService } from './service.ts';

export interface ApprovalGateInput {
  readonly requester: Principal;
  readonly connection: string;
  readonly statement: string;
  readonly fingerprint: string | null;
  readonly action: string;
  readonly tables: readonly string[];
  /** `decision.approval`. */
  readonly terms: ApprovalTerms;
  /** `decision.policyVersion`. */
  readonly policyVersion: number;
  readonly mode: ApprovalMode;
  /** Hold mode: how long the statement may wait. */
  readonly holdTimeoutMs: number;
  readonly sessionId?: string;
  /** Abort the wait (client went away, session killed). */
  readonly signal?: AbortSignal;
  /** Hold mode: called once the request exists, to tell the client it is waiting and how to approve. */
  readonly onHold?: (request: ApprovalRequest, message: string) => void;
}

export type ApprovalGateResult =
  | { readonly outcome: 'run'; readonly approval: ApprovalRequest; readonly context: ApprovalContext }
  | {
      readonly outcome: 'refused';
      readonly why: 'pending' | 'denied' | 'expired' | 'timeout';
      readonly request: ApprovalRequest;
      /** For the client (ErrorResponse message). */
      readonly message: string;
    };

export async function approvalGate(service: ApprovalService, input: ApprovalGateInput): Promise<ApprovalGateResult> {
  const binding = {
    requester: input.requester,
    connection: input.connection,
    statement: input.statement,
    policyVersion: input.policyVersion,
    ...(input.sessionId !== undefined ? { sessionId: input.sessionId } : {}),
  };
  const ready = await service.consumeFor(binding);
  if (ready) return run(ready);
  const r = await service.request({
    requester: input.requester,
    connection: input.connection,
    statement: input.statement,
    fingerprint: input.fingerprint,
    action: input.action,
    tables: input.tables,
    policyId: input.terms.policyId,
    policyVersion: input.policyVersion,
    approverGroups: input.terms.approvers,
    approvalsNeeded: input.terms.approvals,
    ttlSeconds: input.terms.ttlSeconds,
    mode: input.mode,
  });
  if (input.mode === 'reject') return { outcome: 'refused', why: 'pending', request: r, message: rejectMessage(r) };
  input.onHold?.(r, holdMessage(r));
  const result = await service.waitFor(r.id, input.holdTimeoutMs, input.signal ? { signal: input.signal } : {});
  const latest = service.get(r.id) ?? r;
  if (result === 'approved') {
    const used = await service.consumeFor({ ...binding, approvalId: r.id });
    if (used) return run(used);
    return { outcome: 'refused', why: 'expired', request: latest, message: holdEndedMessage('expired', latest) };
  }
  return { outcome: 'refused', why: result, request: latest, message: holdEndedMessage(result, latest) };
}

function run(approval: ApprovalRequest): ApprovalGateResult {
  if (approval.status !== 'used') throw new Error('unreachable: a consumed approval is used');
  return { outcome: 'run', approval, context: approvalContext(approval) };
}
