/**
 * A verified identity. Created only by a TokenVerifier after every check
 * passed; nothing in the data path trusts a principal built elsewhere.
 */
export type PrincipalKind = 'human' | 'workload';

export interface Principal {
  /** `iss` of the verified token. */
  readonly issuer: string;
  /** `sub` of the verified token. */
  readonly subject: string;
  readonly kind: PrincipalKind;
  readonly groups: readonly string[];
  /**
   * All other claims, kept for policy (for GitHub Actions: repository, ref,
   * workflow_ref, job_workflow_ref, environment, actor, run_id, event_name…).
   * Never contains the raw token.
   */
  readonly claims: Readonly<Record<string, unknown>>;
  /** Token expiry (ms since epoch); sessions may be bounded by it. */
  readonly expiresAt: number | undefined;
}

/** A short label for logs and messages: `subject (groups: a, b)`. */
export function describePrincipal(p: Principal): string {
  return `${p.subject} (groups: ${p.groups.length ? p.groups.join(', ') : 'none'})`;
}
