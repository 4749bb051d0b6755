/**
 * The inputs and outputs of ApprovalService (service.ts), kept apart so
 * that adapters, the API and the notifier can import them without the
 * service's implementation.
 */
import type { Principal } from '../identity/principal.ts';
import type { ApprovalMode, ApprovalRequest, Grant, Vote } from './model.ts';

export interface GrantTerms {
  readonly approverGroups: readonly string[];
  readonly approvalsNeeded: number;
  readonly maxDurationSeconds: number;
}

export interface RequestInput {
  readonly requester: Principal;
  readonly connection: string;
  readonly statement: string;
  readonly fingerprint: string | null;
  readonly action: string;
  readonly tables: readonly string[];
  readonly policyId: string;
  readonly policyVersion: number;
  readonly approverGroups: readonly string[];
  readonly approvalsNeeded: number;
  readonly ttlSeconds: number;
  readonly mode: ApprovalMode;
}

export interface ConsumeInput {
  readonly requester: Principal;
  readonly connection: string;
  readonly statement: string;
  readonly policyVersion: number;
  /** Hold mode: use exactly this request. */
  readonly approvalId?: string;
  /** Recorded in `approval.used`. */
  readonly sessionId?: string;
}

export interface GrantRequestInput {
  readonly requester: Principal;
  readonly connection: string;
  readonly action: string;
  readonly table?: string | null;
  readonly durationSeconds: number;
  readonly reason: string;
}

export type WaitResult = 'approved' | 'denied' | 'expired' | 'timeout';
export type GrantEndReason = 'expired' | 'revoked';
export type ActiveGrant = Extract<Grant, { status: 'active' }>;

/** What listeners (the webhook notifier, the console) hear after each stored change. */
export type ApprovalChange =
  | { readonly type: 'approval.requested'; readonly approval: ApprovalRequest }
  | { readonly type: 'approval.granted'; readonly approval: ApprovalRequest; readonly vote: Vote }
  | { readonly type: 'approval.denied'; readonly approval: ApprovalRequest }
  | { readonly type: 'approval.expired'; readonly approval: ApprovalRequest }
  | { readonly type: 'approval.used'; readonly approval: ApprovalRequest }
  | { readonly type: 'grant.requested'; readonly grant: Grant }
  | { readonly type: 'grant.approved'; readonly grant: Grant; readonly vote: Vote }
  | { readonly type: 'grant.revoked'; readonly grant: Grant }
  | { readonly type: 'grant.expired'; readonly grant: Grant };
