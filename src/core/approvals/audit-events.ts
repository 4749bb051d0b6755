/**
 * The audit event for each transition. Built from the record *after* the
 * transition, appended before the record is stored (write-ahead).
 */
import type { ApprovalEvent, GrantEvent, PersonRef } from '../audit/events.ts';
import type { ApprovalRequest, Grant, Vote } from './model.ts';

function person(p: { readonly issuer: string; readonly subject: string }): PersonRef {
  return { issuer: p.issuer, subject: p.subject };
}

export function approvalRequested(r: ApprovalRequest): ApprovalEvent {
  return {
    type: 'approval.requested',
    time: r.createdAt,
    approvalId: r.id,
    identity: r.requester,
    connection: r.connection,
    action: r.action,
    tables: r.tables,
    statement: r.statement,
    statementHash: r.statementHash,
    bindingHash: r.bindingHash,
    fingerprint: r.fingerprint,
    policyId: r.policyId,
    policyVersion: r.policyVersion,
    approverGroups: r.approverGroups,
    approvalsNeeded: r.approvalsNeeded,
    mode: r.mode,
    expiresAt: r.expiresAt,
  };
}

export function approvalGranted(r: ApprovalRequest, vote: Vote): ApprovalEvent {
  return {
    type: 'approval.granted',
    time: vote.at,
    approvalId: r.id,
    identity: vote.approver,
    requester: person(r.requester),
    connection: r.connection,
    justification: vote.reason,
    approvalsGiven: r.approvals.length,
    approvalsNeeded: r.approvalsNeeded,
    complete: r.status === 'approved',
    validUntil: r.status === 'approved' ? r.validUntil : null,
  };
}

export function approvalDenied(r: Extract<ApprovalRequest, { status: 'denied' }>): ApprovalEvent {
  return {
    type: 'approval.denied',
    time: r.denial.at,
    approvalId: r.id,
    identity: r.denial.approver,
    requester: person(r.requester),
    connection: r.connection,
    justification: r.denial.reason,
  };
}

export function approvalExpired(r: Extract<ApprovalRequest, { status: 'expired' }>): ApprovalEvent {
  return {
    type: 'approval.expired',
    time: r.expiredAt,
    approvalId: r.id,
    requester: person(r.requester),
    connection: r.connection,
    previousStatus: r.previousStatus,
  };
}

export function approvalUsed(r: Extract<ApprovalRequest, { status: 'used' }>): ApprovalEvent {
  return {
    type: 'approval.used',
    time: r.usedAt,
    ...(r.usedBySession !== null ? { sessionId: r.usedBySession } : {}),
    approvalId: r.id,
    identity: r.requester,
    connection: r.connection,
    bindingHash: r.bindingHash,
  };
}

export function grantRequested(g: Grant): GrantEvent {
  return {
    type: 'grant.requested',
    time: g.createdAt,
    grantId: g.id,
    identity: g.requester,
    connection: g.connection,
    action: g.action,
    tables: g.table === null ? [] : [g.table],
    durationSeconds: g.durationSeconds,
    justification: g.reason,
    approverGroups: g.approverGroups,
    approvalsNeeded: g.approvalsNeeded,
    requestExpiresAt: g.requestExpiresAt,
  };
}

export function grantApproved(g: Grant, vote: Vote): GrantEvent {
  return {
    type: 'grant.approved',
    time: vote.at,
    grantId: g.id,
    identity: vote.approver,
    requester: person(g.requester),
    connection: g.connection,
    justification: vote.reason,
    approvalsGiven: g.approvals.length,
    approvalsNeeded: g.approvalsNeeded,
    activeUntil: g.status === 'active' ? g.expiresAt : null,
  };
}

export function grantRevoked(g: Extract<Grant, { status: 'revoked' }>): GrantEvent {
  return {
    type: 'grant.revoked',
    time: g.revokedAt,
    grantId: g.id,
    identity: g.revokedBy,
    requester: person(g.requester),
    connection: g.connection,
    justification: g.revokeReason,
    previousStatus: g.previousStatus,
  };
}

export function grantExpired(g: Extract<Grant, { status: 'expired' }>): GrantEvent {
  return {
    type: 'grant.expired',
    time: g.expiredAt,
    grantId: g.id,
    requester: person(g.requester),
    connection: g.connection,
    previousStatus: g.previousStatus,
  };
}
