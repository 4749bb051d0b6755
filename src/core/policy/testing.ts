/** Helpers shared by the policy tests (not used in production code). */
import type { Principal } from '../identity/principal.ts';

export function principal(subject: string, groups: string[], claims: Record<string, unknown> = {}, kind: 'human' | 'workload' = 'workload'): Principal {
  return { issuer: 'https://issuer.test', subject, kind, groups, claims, expiresAt: undefined };
}

/** Monday 2026-01-05 10:00 UTC. */
export const MONDAY_10_UTC = Date.UTC(2026, 0, 5, 10, 0, 0);

export const CTX = { clientAddress: '192.0.2.10', time: MONDAY_10_UTC };

export const READ_ONLY = `@id("agents-read-only")
permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"sql:read", resource in Gatehouse::Connection::"customers");
`;
