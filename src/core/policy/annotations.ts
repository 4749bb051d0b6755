/**
 * Approval terms from policy annotations:
 *
 *   @approvers("dba, security")   groups whose members may approve (comma-separated)
 *   @approvals("2")               distinct people needed (default 1)
 *   @approval_ttl("15m")          how long the approval is valid: 30s, 15m, 2h, 1d, 1h30m (default 15m)
 */
import type { ApprovalTerms } from './decision.ts';

export const DEFAULT_APPROVALS = 1;
export const DEFAULT_APPROVAL_TTL_SECONDS = 15 * 60;
const MAX_TTL_SECONDS = 30 * 24 * 3600;

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `1h30m` → 5400; null when malformed. */
export function parseDuration(text: string): number | null {
  const s = text.trim();
  if (!/^(\d+[smhd])+$/.test(s)) return null;
  let total = 0;
  for (const m of s.matchAll(/(\d+)([smhd])/g)) total += Number(m[1]) * (UNIT[m[2] as string] as number);
  return total;
}

export function formatDuration(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

export function parseApprovalTerms(annotations: Readonly<Record<string, string>>): {
  terms: Omit<ApprovalTerms, 'policyId'>;
  problems: string[];
} {
  const problems: string[] = [];
  const approvers = (annotations.approvers ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  let approvals = DEFAULT_APPROVALS;
  if (annotations.approvals !== undefined) {
    const n = /^\s*\d+\s*$/.test(annotations.approvals) ? Number(annotations.approvals) : NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > 100) problems.push(`@approvals("${annotations.approvals}") must be a whole number from 1 to 100`);
    else approvals = n;
  }
  let ttlSeconds = DEFAULT_APPROVAL_TTL_SECONDS;
  if (annotations.approval_ttl !== undefined) {
    const t = parseDuration(annotations.approval_ttl);
    if (t === null || t < 1 || t > MAX_TTL_SECONDS)
      problems.push(`@approval_ttl("${annotations.approval_ttl}") must be a duration such as 30s, 15m, 2h, 1d or 1h30m (at most 30d)`);
    else ttlSeconds = t;
  }
  if (annotations.approvers !== undefined && approvers.length === 0) problems.push('@approvers must name at least one group');
  return { terms: { approvers, approvals, ttlSeconds }, problems };
}
