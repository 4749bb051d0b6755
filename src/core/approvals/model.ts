/**
 * The approval model (issue 6): approval requests bound to one exact
 * operation, and just-in-time grants bound to a time window.
 *
 * States are string-literal unions and each record is a discriminated union
 * on `status`, so a record cannot claim to be `used` without `usedAt`, or
 * `active` without the end of its window (ARCHITECTURE.md principle 6).
 *
 *   approval:  pending ──► approved ──► used          (single use)
 *                 │            └──────► expired       (not used within the ttl)
 *                 ├──► denied
 *                 └──► expired                        (not decided within the ttl)
 *
 *   grant:     pending ──► active ──► expired | revoked
 *                 ├──► revoked                        (withdrawn or turned down)
 *                 └──► expired                        (not approved in time)
 *
 * Every record carries `version`, incremented on each stored change, so a
 * store can refuse a write computed from a stale read (compare-and-set).
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../audit/canonical.ts';
import type { IdentityRef } from '../audit/events.ts';
import type { Principal } from '../identity/principal.ts';
import type { ApprovalContext, GrantContext } from '../policy/decision.ts';

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'used';
export const APPROVAL_STATUSES: readonly ApprovalStatus[] = ['pending', 'approved', 'denied', 'expired', 'used'];

export type GrantStatus = 'pending' | 'active' | 'revoked' | 'expired';
export const GRANT_STATUSES: readonly GrantStatus[] = ['pending', 'active', 'revoked', 'expired'];

/**
 * `hold`: the statement waits for the decision. `reject`: the statement fails
 * at once; the same identity re-sending the same statement on the same
 * connection under the same policy version runs it once after approval.
 */
export type ApprovalMode = 'hold' | 'reject';

/** One person's decision. People are identified by issuer + subject. */
export interface Vote {
  readonly approver: IdentityRef;
  /** The reason the approver gave (required, free text, never a closed vocabulary). */
  readonly reason: string;
  /** ms since the epoch. */
  readonly at: number;
}

interface ApprovalBase {
  readonly id: string;
  readonly version: number;
  readonly mode: ApprovalMode;
  readonly requester: IdentityRef;
  readonly connection: string;
  /** The exact statement text that was approved (what runs must be byte-identical). */
  readonly statement: string;
  /** hex SHA-256 of the UTF-8 statement text. */
  readonly statementHash: string;
  /** Normalised statement fingerprint (libpg-query), for grouping; not part of the binding. */
  readonly fingerprint: string | null;
  readonly action: string;
  readonly tables: readonly string[];
  /** The policy whose annotations gave the approval terms, and the policy-set version that decided. */
  readonly policyId: string;
  readonly policyVersion: number;
  /** hex SHA-256 over the canonical {requester iss+sub, connection, statement, policyVersion}. */
  readonly bindingHash: string;
  readonly approverGroups: readonly string[];
  readonly approvalsNeeded: number;
  readonly ttlSeconds: number;
  /** ms since the epoch. */
  readonly createdAt: number;
  /** Decide-by deadline: createdAt + ttl. */
  readonly expiresAt: number;
  /** Approving votes so far, one per distinct person. */
  readonly approvals: readonly Vote[];
}

export type ApprovalRequest =
  | (ApprovalBase & { readonly status: 'pending' })
  | (ApprovalBase & {
      readonly status: 'approved';
      readonly approvedAt: number;
      /** Use-by deadline: approvedAt + ttl. */
      readonly validUntil: number;
    })
  | (ApprovalBase & { readonly status: 'denied'; readonly denial: Vote })
  | (ApprovalBase & {
      readonly status: 'expired';
      readonly expiredAt: number;
      readonly previousStatus: 'pending' | 'approved';
    })
  | (ApprovalBase & {
      readonly status: 'used';
      readonly approvedAt: number;
      readonly validUntil: number;
      readonly usedAt: number;
      /** The session that ran the statement, when the caller said. */
      readonly usedBySession: string | null;
    });

interface GrantBase {
  readonly id: string;
  readonly version: number;
  readonly requester: IdentityRef;
  readonly connection: string;
  /** The action the grant covers (`sql:write`). */
  readonly action: string;
  /** Schema-qualified table the grant is limited to, or null for every table on the connection. */
  readonly table: string | null;
  readonly durationSeconds: number;
  /** The requester's justification (a change ticket, …). */
  readonly reason: string;
  readonly approverGroups: readonly string[];
  readonly approvalsNeeded: number;
  readonly createdAt: number;
  /** A pending grant not approved by then expires. */
  readonly requestExpiresAt: number;
  readonly approvals: readonly Vote[];
}

export type Grant =
  | (GrantBase & { readonly status: 'pending' })
  | (GrantBase & {
      readonly status: 'active';
      readonly activatedAt: number;
      /** End of the window: activatedAt + duration. */
      readonly expiresAt: number;
    })
  | (GrantBase & {
      readonly status: 'revoked';
      readonly revokedAt: number;
      readonly revokedBy: IdentityRef;
      readonly revokeReason: string;
      readonly previousStatus: 'pending' | 'active';
      /** Set when the grant had been active. */
      readonly activatedAt: number | null;
    })
  | (GrantBase & {
      readonly status: 'expired';
      readonly expiredAt: number;
      readonly previousStatus: 'pending' | 'active';
      readonly activatedAt: number | null;
    });

/** What a store must know to schedule expiry: the next moment the record changes by itself, or null. */
export function approvalDeadline(r: ApprovalRequest): number | null {
  switch (r.status) {
    case 'pending':
      return r.expiresAt;
    case 'approved':
      return r.validUntil;
    case 'denied':
    case 'expired':
    case 'used':
      return null;
    default:
      return assertNever(r);
  }
}

export function grantDeadline(g: Grant): number | null {
  switch (g.status) {
    case 'pending':
      return g.requestExpiresAt;
    case 'active':
      return g.expiresAt;
    case 'revoked':
    case 'expired':
      return null;
    default:
      return assertNever(g);
  }
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}

/** Two identities are the same person when issuer and subject match. */
export function samePerson(a: { readonly issuer: string; readonly subject: string }, b: { readonly issuer: string; readonly subject: string }): boolean {
  return a.issuer === b.issuer && a.subject === b.subject;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export interface BindingInput {
  readonly requester: { readonly issuer: string; readonly subject: string };
  readonly connection: string;
  readonly statement: string;
  readonly policyVersion: number;
}

/**
 * The binding hash: what an approval is bound to. Canonical JSON (RFC 8785)
 * so the same inputs always give the same bytes and no field can bleed into
 * another (a statement ending in `","connection":"x` is just a string).
 * Groups are deliberately not part of it: the approved person is the
 * approved person, whatever their groups are when they re-send.
 */
export function bindingHash(b: BindingInput): string {
  return sha256Hex(
    canonicalJson({
      v: 1,
      requester: { iss: b.requester.issuer, sub: b.requester.subject },
      connection: b.connection,
      statement: b.statement,
      policyVersion: b.policyVersion,
    }),
  );
}

/** `context.approval` for the policy engine, from an approval being used. */
export function approvalContext(r: Extract<ApprovalRequest, { status: 'approved' | 'used' }>): ApprovalContext {
  return { id: r.id, approvers: r.approvals.map((v) => v.approver.subject), approvedAt: r.approvedAt };
}

/** `context.grant` for the policy engine. `tables` is empty when the grant covers every table. */
export function grantContext(g: Extract<Grant, { status: 'active' }>): GrantContext {
  return { id: g.id, actions: [g.action], tables: g.table === null ? [] : [g.table], expiresAt: g.expiresAt, reason: g.reason };
}

/**
 * The grant (if any) that covers `action` on every one of `tables`; a grant
 * without a table covers all tables of its connection. When several do, the
 * one that lasts longest is chosen.
 */
export function selectGrant(
  grants: readonly Extract<Grant, { status: 'active' }>[],
  action: string,
  tables: readonly string[],
): Extract<Grant, { status: 'active' }> | undefined {
  let best: Extract<Grant, { status: 'active' }> | undefined;
  for (const g of grants) {
    if (g.action !== action) continue;
    if (g.table !== null && !tables.every((t) => t === g.table)) continue;
    if (!best || g.expiresAt > best.expiresAt) best = g;
  }
  return best;
}

/** May this principal see the request (the requester, or a member of an approver group)? */
export function canView(
  r: { readonly requester: IdentityRef; readonly approverGroups: readonly string[] },
  p: Principal,
): boolean {
  return samePerson(r.requester, p) || p.groups.some((g) => r.approverGroups.includes(g));
}
