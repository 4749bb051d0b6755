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
  readonly context: {
    readonly clientAddress: string;
    readonly time: number;
    readonly statementFingerprint?: string;
  };
}

/** Closed vocabulary of reasons; the same words go to the client, log and audit record. */
export type ReasonCode =
  | 'permitted_by_policy'
  | 'no_policy_permits'
  | 'forbidden_by_policy'
  | 'not_in_allowed_group'
  | 'unknown_connection'
  | 'policy_error';

export interface Reason {
  readonly code: ReasonCode;
  readonly message: string;
}

export type Effect = 'allow' | 'deny';

export interface Decision {
  readonly effect: Effect;
  /** Ids of the policies (or interim rules) that produced the decision. */
  readonly policyIds: readonly string[];
  readonly reasons: readonly Reason[];
}

export function deny(code: ReasonCode, message: string, policyIds: readonly string[] = []): Decision {
  return { effect: 'deny', policyIds, reasons: [{ code, message }] };
}

export function allow(message: string, policyIds: readonly string[]): Decision {
  return { effect: 'allow', policyIds, reasons: [{ code: 'permitted_by_policy', message }] };
}
