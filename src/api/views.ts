/**
 * The JSON shapes the admin API returns (docs/openapi.yaml: Approval, Grant).
 * Times are RFC 3339 strings. Identities carry issuer, subject, kind, groups
 * and the CI claims only — never the token or other claims.
 */
import type { IdentityRef } from '../core/audit/events.ts';
import type { ApprovalRequest, Grant, Vote } from '../core/approvals/model.ts';

const iso = (ms: number): string => new Date(ms).toISOString();

export interface IdentityView {
  readonly issuer: string;
  readonly subject: string;
  readonly kind: 'human' | 'workload';
  readonly groups: readonly string[];
  readonly ci?: Readonly<Record<string, string>>;
}

export interface VoteView {
  readonly approver: { readonly issuer: string; readonly subject: string };
  readonly reason: string;
  readonly at: string;
}

export interface ApprovalView {
  readonly id: string;
  readonly status: ApprovalRequest['status'];
  readonly mode: ApprovalRequest['mode'];
  readonly requester: IdentityView;
  readonly connection: string;
  readonly action: string;
  readonly tables: readonly string[];
  readonly statement: string;
  readonly statementHash: string;
  readonly fingerprint: string | null;
  readonly bindingHash: string;
  readonly policyId: string;
  readonly policyVersion: number;
  readonly approverGroups: readonly string[];
  readonly approvalsNeeded: number;
  readonly approvals: readonly VoteView[];
  readonly denial: VoteView | null;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly approvedAt: string | null;
  readonly validUntil: string | null;
  readonly usedAt: string | null;
  readonly expiredAt: string | null;
}

export interface GrantView {
  readonly id: string;
  readonly status: Grant['status'];
  readonly requester: IdentityView;
  readonly connection: string;
  readonly action: string;
  readonly table: string | null;
  readonly durationSeconds: number;
  readonly reason: string;
  readonly approverGroups: readonly string[];
  readonly approvalsNeeded: number;
  readonly approvals: readonly VoteView[];
  readonly createdAt: string;
  readonly requestExpiresAt: string;
  readonly activatedAt: string | null;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  readonly revokedBy: { readonly issuer: string; readonly subject: string } | null;
  readonly revokeReason: string | null;
  readonly expiredAt: string | null;
}

export function identityView(i: IdentityRef): IdentityView {
  return { issuer: i.issuer, subject: i.subject, kind: i.kind, groups: i.groups, ...(i.ci ? { ci: i.ci } : {}) };
}

function voteView(v: Vote): VoteView {
  return { approver: { issuer: v.approver.issuer, subject: v.approver.subject }, reason: v.reason, at: iso(v.at) };
}

export function approvalView(r: ApprovalRequest): ApprovalView {
  const approved = r.status === 'approved' || r.status === 'used' ? r : null;
  return {
    id: r.id,
    status: r.status,
    mode: r.mode,
    requester: identityView(r.requester),
    connection: r.connection,
    action: r.action,
    tables: r.tables,
    statement: r.statement,
    statementHash: r.statementHash,
    fingerprint: r.fingerprint,
    bindingHash: r.bindingHash,
    policyId: r.policyId,
    policyVersion: r.policyVersion,
    approverGroups: r.approverGroups,
    approvalsNeeded: r.approvalsNeeded,
    approvals: r.approvals.map(voteView),
    denial: r.status === 'denied' ? voteView(r.denial) : null,
    createdAt: iso(r.createdAt),
    expiresAt: iso(r.expiresAt),
    approvedAt: approved ? iso(approved.approvedAt) : null,
    validUntil: approved ? iso(approved.validUntil) : null,
    usedAt: r.status === 'used' ? iso(r.usedAt) : null,
    expiredAt: r.status === 'expired' ? iso(r.expiredAt) : null,
  };
}

export function grantView(g: Grant): GrantView {
  const activated = g.status === 'pending' ? null : g.activatedAt;
  return {
    id: g.id,
    status: g.status,
    requester: identityView(g.requester),
    connection: g.connection,
    action: g.action,
    table: g.table,
    durationSeconds: g.durationSeconds,
    reason: g.reason,
    approverGroups: g.approverGroups,
    approvalsNeeded: g.approvalsNeeded,
    approvals: g.approvals.map(voteView),
    createdAt: iso(g.createdAt),
    requestExpiresAt: iso(g.requestExpiresAt),
    activatedAt: activated === null ? null : iso(activated),
    // The end of the window, once there is one (for an ended grant: when it would have ended).
    expiresAt: g.status === 'active' ? iso(g.expiresAt) : activated === null ? null : iso(activated + g.durationSeconds * 1000),
    revokedAt: g.status === 'revoked' ? iso(g.revokedAt) : null,
    revokedBy: g.status === 'revoked' ? { issuer: g.revokedBy.issuer, subject: g.revokedBy.subject } : null,
    revokeReason: g.status === 'revoked' ? g.revokeReason : null,
    expiredAt: g.status === 'expired' ? iso(g.expiredAt) : null,
  };
}
