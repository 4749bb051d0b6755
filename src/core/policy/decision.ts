/**
 * Access requests and decisions. Protocol-neutral: an adapter describes an
 * operation as an action on a resource; the authorizer answers with a
 * decision that explains itself (ARCHITECTURE.md principle 5).
 */
import type { Principal } from '../identity/principal.ts';

/** `connect` at session start; per operation e.g. `sql:read`, `sql:write`, `sql:unknown`. */
export type Action = string;

export interface AccessRequest {
  readonly principal: Principal;
  readonly action: Action;
  /** The configured connection name. */
  readonly connection: string;
  /** Tables (schema-qualified) the operation touches, when known. */
  readonly tables?: readonly string[];
  /** For `unmask`: the data class (`payment_card`). */
  readonly dataClass?: string;
  readonly context: {
    readonly clientAddress: string;
    readonly time: number;
    readonly statementFingerprint?: string;
    /** Statement node type (`SelectStmt`) and classifier flags, when deciding a statement. */
    readonly statementKind?: string;
    readonly flags?: readonly string[];
    /** Present once the operation has been approved (approvals feature). */
    readonly approval?: ApprovalContext;
    /** Present while a just-in-time grant is active. */
    readonly grant?: GrantContext;
  };
}

/** `context.approval` as policy sees it (policy/gatehouse.cedarschema). */
export interface ApprovalContext {
  readonly id: string;
  readonly approvers: readonly string[];
  /** ms since the epoch */
  readonly approvedAt: number;
}

/** `context.grant` as policy sees it. */
export interface GrantContext {
  readonly id: string;
  readonly actions: readonly string[];
  readonly tables: readonly string[];
  /** ms since the epoch */
  readonly expiresAt: number;
  readonly reason: string;
}

/**
 * The terms under which an operation may run once approved, taken from the
 * annotations of the policy that would permit it (`@approvers("dba")
 * @approvals("1") @approval_ttl("15m")`).
 */
export interface ApprovalTerms {
  /** Groups whose members may approve. */
  readonly approvers: readonly string[];
  /** Distinct people needed. */
  readonly approvals: number;
  /** How long an approval stays valid. */
  readonly ttlSeconds: number;
  /** The policy the terms come from. */
  readonly policyId: string;
}

/** Closed vocabulary of reasons; the same words go to the client, log and audit record. */
export type ReasonCode =
  | 'permitted_by_policy'
  | 'no_policy_permits'
  | 'forbidden_by_policy'
  | 'not_in_allowed_group'
  | 'unknown_connection'
  | 'policy_error'
  /** No policy permits it as is, but one would with an approval: see Decision.approval. */
  | 'approval_required'
  /** Transaction and harmless session control (BEGIN, COMMIT, SET x…): always allowed. */
  | 'transaction_control';

export interface Reason {
  readonly code: ReasonCode;
  readonly message: string;
}

/**
 * Deliberately only allow/deny: an operation that needs approval is `deny`
 * with reason `approval_required` and `approval` set, so every consumer that
 * does not know about approvals refuses it (fail closed).
 */
export type Effect = 'allow' | 'deny';

export interface Decision {
  readonly effect: Effect;
  /** Ids of the policies (or interim rules) that produced the decision. */
  readonly policyIds: readonly string[];
  readonly reasons: readonly Reason[];
  /** Set when approval would make the operation allowed (effect is still 'deny'). */
  readonly approval?: ApprovalTerms;
  /** Data classes the principal may see in clear (`unmask` permitted). */
  readonly unmask?: readonly string[];
  /** One sentence for the client, the log and the audit record; says what would be allowed instead. */
  readonly message?: string;
  /** Version of the policy set that decided (increments on every successful reload). */
  readonly policyVersion?: number;
}

export function deny(code: ReasonCode, message: string, policyIds: readonly string[] = []): Decision {
  return { effect: 'deny', policyIds, reasons: [{ code, message }] };
}

export function allow(message: string, policyIds: readonly string[]): Decision {
  return { effect: 'allow', policyIds, reasons: [{ code: 'permitted_by_policy', message }] };
}
