/**
 * The service's refusals, each a client-safe GatewayError with a stable
 * code (the admin API maps codes to HTTP statuses), and input validation.
 */
import { GatewayError, isGatewayError } from '../../shared/errors.ts';
import type { Logger } from '../logger.ts';
import type { GrantTerms, RequestInput } from './types.ts';

const MAX_TTL_SECONDS = 30 * 24 * 3600;
const MAX_STATEMENT_CHARS = 1 << 20;

export function invalid(message: string): never {
  throw new GatewayError('GW_APPROVAL_INVALID', message, { clientSafe: true });
}

/** Fail closed: whatever the sink threw, the change is refused with a client-safe error. */
export function auditRefused(cause: unknown): GatewayError {
  if (isGatewayError(cause) && cause.code === 'GW_EVENT_STORE_UNAVAILABLE') return cause;
  return new GatewayError('GW_EVENT_STORE_UNAVAILABLE', 'audit log unavailable: the change was refused', { clientSafe: true, cause });
}

export function notFound(what: 'request' | 'grant', id: string): GatewayError {
  return new GatewayError(what === 'request' ? 'GW_APPROVAL_NOT_FOUND' : 'GW_GRANT_NOT_FOUND', `no ${what === 'request' ? 'approval request' : 'grant'} ${id}`, {
    clientSafe: true,
  });
}

export function conflict(what: 'request' | 'grant', id: string, log: Logger): GatewayError {
  // Only reachable with several writers on one store (another instance decided meanwhile).
  // The audit event for this attempt is already written; the log says it did not take effect.
  log.warn({ id }, `${what} changed concurrently; the recorded decision did not take effect`);
  return new GatewayError('GW_APPROVAL_CONFLICT', `${what} ${id} was changed concurrently; reload and try again`, { clientSafe: true });
}

export function tooMany(what: 'approval requests' | 'grant requests', max: number): GatewayError {
  return new GatewayError('GW_APPROVAL_LIMIT', `too many pending ${what} (${max}); wait for a decision`, { clientSafe: true });
}

export function validateRequest(i: RequestInput): void {
  if (typeof i.statement !== 'string' || i.statement.length === 0) invalid('the statement is empty');
  if (i.statement.length > MAX_STATEMENT_CHARS) invalid('the statement is too long to hold for approval');
  if (i.connection === '') invalid('the connection is empty');
  // Fail closed: a policy that requires approval but names no approver group cannot be approved by anyone.
  if (i.approverGroups.length === 0) invalid(`policy '${i.policyId}' requires approval but names no approver group (@approvers)`);
  if (!Number.isSafeInteger(i.approvalsNeeded) || i.approvalsNeeded < 1 || i.approvalsNeeded > 100) invalid('approvals needed must be 1 to 100');
  if (!Number.isSafeInteger(i.ttlSeconds) || i.ttlSeconds < 1 || i.ttlSeconds > MAX_TTL_SECONDS) invalid('approval ttl must be 1 s to 30 d');
  if (!Number.isSafeInteger(i.policyVersion)) invalid('policy version must be an integer');
}

/** The grant terms for a request, or a refusal. */
export function checkGrantRequest(terms: GrantTerms | null, connection: string, action: string, durationSeconds: number): GrantTerms {
  if (!terms || terms.approverGroups.length === 0) {
    throw new GatewayError('GW_GRANT_UNAVAILABLE', `grants for ${action} on '${connection}' are not offered by this Gatehouse`, { clientSafe: true });
  }
  const d = durationSeconds;
  if (!Number.isSafeInteger(d) || d < 1 || d > terms.maxDurationSeconds) {
    invalid(`duration must be between 1 second and ${terms.maxDurationSeconds} seconds`);
  }
  return terms;
}
