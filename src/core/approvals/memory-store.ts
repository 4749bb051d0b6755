/**
 * An in-memory ApprovalStore for tests and the demo. Single-threaded JS makes
 * each method atomic, which is all `claimApproved` needs here.
 */
import { approvalDeadline, grantDeadline, samePerson, type ApprovalRequest, type Grant } from './model.ts';
import { MAX_LIST, type ApprovalFilter, type ApprovalStore, type GrantFilter } from './store.ts';

export class MemoryApprovalStore implements ApprovalStore {
  readonly #approvals = new Map<string, ApprovalRequest>();
  readonly #grants = new Map<string, Grant>();

  insertApproval(r: ApprovalRequest): void {
    if (this.#approvals.has(r.id)) throw new Error(`approval ${r.id} exists`);
    this.#approvals.set(r.id, r);
  }

  getApproval(id: string): ApprovalRequest | undefined {
    return this.#approvals.get(id);
  }

  listApprovals(filter: ApprovalFilter): ApprovalRequest[] {
    const limit = Math.min(filter.limit ?? MAX_LIST, MAX_LIST);
    return [...this.#approvals.values()]
      .filter((r) => !filter.statuses || filter.statuses.includes(r.status))
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))
      .slice(0, limit);
  }

  findPending(bindingHash: string): ApprovalRequest | undefined {
    for (const r of this.#approvals.values()) if (r.status === 'pending' && r.bindingHash === bindingHash) return r;
    return undefined;
  }

  countPending(requester: { issuer: string; subject: string }): number {
    let n = 0;
    for (const r of this.#approvals.values()) if (r.status === 'pending' && samePerson(r.requester, requester)) n++;
    return n;
  }

  updateApproval(next: ApprovalRequest, expectedVersion: number): boolean {
    const cur = this.#approvals.get(next.id);
    if (!cur || cur.version !== expectedVersion) return false;
    this.#approvals.set(next.id, next);
    return true;
  }

  claimApproved(bindingHash: string, now: number, opts: { id?: string; sessionId: string | null }): ApprovalRequest | undefined {
    let pick: Extract<ApprovalRequest, { status: 'approved' }> | undefined;
    for (const r of this.#approvals.values()) {
      if (r.status !== 'approved' || r.bindingHash !== bindingHash || r.validUntil <= now) continue;
      if (opts.id !== undefined && r.id !== opts.id) continue;
      if (!pick || r.approvedAt < pick.approvedAt) pick = r;
    }
    if (!pick) return undefined;
    const used: ApprovalRequest = { ...pick, version: pick.version + 1, status: 'used', usedAt: now, usedBySession: opts.sessionId };
    this.#approvals.set(used.id, used);
    return used;
  }

  insertGrant(g: Grant): void {
    if (this.#grants.has(g.id)) throw new Error(`grant ${g.id} exists`);
    this.#grants.set(g.id, g);
  }

  getGrant(id: string): Grant | undefined {
    return this.#grants.get(id);
  }

  listGrants(filter: GrantFilter): Grant[] {
    const limit = Math.min(filter.limit ?? MAX_LIST, MAX_LIST);
    return [...this.#grants.values()]
      .filter((g) => (!filter.statuses || filter.statuses.includes(g.status)) && (!filter.requester || samePerson(g.requester, filter.requester)))
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))
      .slice(0, limit);
  }

  updateGrant(next: Grant, expectedVersion: number): boolean {
    const cur = this.#grants.get(next.id);
    if (!cur || cur.version !== expectedVersion) return false;
    this.#grants.set(next.id, next);
    return true;
  }

  activeGrants(requester: { issuer: string; subject: string }, connection: string, now: number): Extract<Grant, { status: 'active' }>[] {
    const out: Extract<Grant, { status: 'active' }>[] = [];
    for (const g of this.#grants.values()) {
      if (g.status === 'active' && g.connection === connection && samePerson(g.requester, requester) && g.activatedAt <= now && now < g.expiresAt) out.push(g);
    }
    return out;
  }

  nextDeadline(): number | null {
    let min: number | null = null;
    for (const r of this.#approvals.values()) {
      const d = approvalDeadline(r);
      if (d !== null && (min === null || d < min)) min = d;
    }
    for (const g of this.#grants.values()) {
      const d = grantDeadline(g);
      if (d !== null && (min === null || d < min)) min = d;
    }
    return min;
  }

  due(now: number): { approvals: ApprovalRequest[]; grants: Grant[] } {
    return {
      approvals: [...this.#approvals.values()].filter((r) => {
        const d = approvalDeadline(r);
        return d !== null && d <= now;
      }),
      grants: [...this.#grants.values()].filter((g) => {
        const d = grantDeadline(g);
        return d !== null && d <= now;
      }),
    };
  }

  close(): void {}
}
