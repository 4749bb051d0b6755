/** Sample events for the audit tests (not used at runtime). */
import type { GatewayEvent } from './events.ts';

const identity = {
  issuer: 'https://token.actions.githubusercontent.com',
  subject: 'repo:acme/app:ref:refs/heads/main',
  groups: ['deployers'],
  kind: 'workload' as const,
  ci: { repository: 'acme/app', run_id: '42' },
};

/** One event of each variant, with customer data in the payload fields. */
export function sampleEvents(time = 1_764_000_000_000): GatewayEvent[] {
  const decision = { effect: 'allow' as const, policyIds: ['p-read'], reasons: ['permitted_by_policy'] };
  return [
    { type: 'session.opened', time, sessionId: 's1', identity, connection: 'orders-db', protocol: 'postgres', clientAddress: '10.0.0.5', tls: true },
    { type: 'auth.failed', time, protocol: 'postgres', connection: null, clientAddress: '10.0.0.9', code: 'GW_AUTH_TOKEN_EXPIRED', message: 'token expired' },
    { type: 'connect.denied', time, identity, connection: 'orders-db', clientAddress: '10.0.0.5', decision: { ...decision, effect: 'deny', reasons: ['no_policy_permits'] } },
    {
      type: 'statement.started', time, sessionId: 's1', operationId: 'op1', identity, connection: 'orders-db', action: 'sql:read',
      statement: "SELECT * FROM customers WHERE email = 'ann@example.com'", decision, tables: ['public.customers'],
    },
    { type: 'statement.finished', time: time + 3, sessionId: 's1', operationId: 'op1', outcome: 'ok', durationMs: 3, rows: 1 },
    {
      type: 'statement.finished', time: time + 4, sessionId: 's1', operationId: 'op2', outcome: 'error', durationMs: 1, rows: null,
      error: { code: '23505', message: 'duplicate key value violates unique constraint: Key (email)=(ann@example.com)' },
    },
    {
      type: 'statement.denied', time, sessionId: 's1', operationId: 'op3', identity, connection: 'orders-db', action: 'sql:write',
      statement: 'DELETE FROM customers', decision: { effect: 'deny', policyIds: [], reasons: ['no_policy_permits'] },
    },
    { type: 'upstream.failed', time, sessionId: 's1', connection: 'orders-db', code: 'GW_UPSTREAM_UNAVAILABLE', message: 'connect ECONNREFUSED 10.1.1.1:5432' },
    { type: 'session.closed', time: time + 10, sessionId: 's1', reason: 'client_terminated', statements: 2 },
  ];
}

/** Secret/customer strings that must never appear in an envelope. */
export const CUSTOMER_STRINGS = ['ann@example.com', 'DELETE FROM', 'token expired', 'ECONNREFUSED'];

/** Approval and grant events (issue 6 vocabulary). */
export function approvalSampleEvents(time = 1_764_000_000_000): GatewayEvent[] {
  const requester = { issuer: identity.issuer, subject: identity.subject };
  const approver = { ...identity, subject: 'bob', kind: 'human' as const, groups: ['dba'] };
  return [
    {
      type: 'approval.requested', time, approvalId: 'ap1', identity, connection: 'orders-db', action: 'sql:write', tables: ['public.customers'],
      statement: "UPDATE customers SET email = 'x@example.com'", statementHash: 'ab'.repeat(32), bindingHash: 'cd'.repeat(32), fingerprint: 'f1',
      policyId: 'p-write', policyVersion: 3, approverGroups: ['dba'], approvalsNeeded: 1, mode: 'hold', expiresAt: time + 60_000,
    },
    {
      type: 'approval.granted', time, approvalId: 'ap1', identity: approver, requester, connection: 'orders-db', justification: 'ticket OPS-1, ann@example.com asked',
      approvalsGiven: 1, approvalsNeeded: 1, complete: true, validUntil: time + 300_000,
    },
    { type: 'approval.used', time, approvalId: 'ap1', identity, connection: 'orders-db', bindingHash: 'cd'.repeat(32) },
    { type: 'grant.expired', time, grantId: 'g1', requester, connection: 'orders-db', previousStatus: 'active' },
  ];
}
