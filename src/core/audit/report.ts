/**
 * The access report an examiner asks for (`gatehouse audit report`): over a
 * period, who reached which connection and did what, what was denied, who
 * approved what and why, which grants were given, failed log-ins, and the
 * gateway's own life (starts, stops, policy versions, key handovers,
 * retention), next to the log's verification result.
 *
 * Pure: events go in one at a time (a CLI pages them out of the store), so
 * memory grows with the number of identities, approvals and grants, not
 * with the number of statements. Long lists are capped (`LIST_LIMIT`), and
 * the report says how many were left out. No statement text or result is
 * included: actions and tables only; approval justifications are, since
 * they are the reason an examiner looks for.
 */
import type { IdentityRef, PersonRef, StoredEvent } from './events.ts';
import { keyIdOf } from './keychain.ts';

export const LIST_LIMIT = 500;
/** Tables counted per identity and connection; past it, `otherTables` in the row. */
export const TABLES_PER_ROW = 100;

export interface ReportVerification {
  readonly ok: boolean;
  readonly entries: number;
  readonly checkpoints: number;
  readonly lastCheckpointSize: number;
  readonly unsigned: number;
  readonly firstProblem?: string;
}

export interface AccessRow {
  readonly issuer: string;
  readonly subject: string;
  readonly kind: string;
  readonly groups: string[];
  /** CI repository claim, when the identity is a CI workload. */
  readonly repository?: string;
  readonly connection: string;
  sessions: number;
  statements: Record<string, number>;
  /** Statements per table they touched (schema-qualified), at most TABLES_PER_ROW tables. */
  tables: Record<string, number>;
  denied: number;
  first: number;
  last: number;
}

export interface DenialRow {
  readonly seq: number;
  readonly time: number;
  readonly what: 'connect' | 'statement';
  readonly subject: string;
  readonly connection: string;
  readonly action: string;
  readonly policyIds: readonly string[];
  readonly reasons: readonly string[];
}

export interface Vote {
  readonly time: number;
  readonly subject: string;
  readonly decision: 'approved' | 'denied' | 'revoked';
  readonly justification: string;
}

export interface ApprovalRow {
  readonly id: string;
  requestedAt: number | null;
  requester: string;
  connection: string;
  action: string;
  tables: readonly string[];
  policyId: string;
  approvalsNeeded: number;
  votes: Vote[];
  outcome: 'pending' | 'approved' | 'denied' | 'expired' | 'used' | 'revoked' | 'active';
  /** Grants: the requester's stated reason. */
  justification?: string;
  durationSeconds?: number;
  endedAt: number | null;
}

export interface LifecycleRow {
  readonly seq: number;
  readonly time: number;
  readonly type: string;
  readonly detail: string;
}

export interface AuthFailureRow {
  readonly protocol: string;
  readonly code: string;
  count: number;
  first: number;
  last: number;
  readonly addresses: Set<string>;
}

export interface ReportData {
  readonly origin: string;
  readonly period: { readonly from: number | null; readonly to: number | null };
  readonly entries: { first: number | null; last: number | null; count: number };
  readonly verification: ReportVerification;
  readonly lifecycle: LifecycleRow[];
  readonly access: AccessRow[];
  readonly denials: DenialRow[];
  readonly approvals: ApprovalRow[];
  readonly grants: ApprovalRow[];
  readonly authFailures: AuthFailureRow[];
  readonly credentials: { issued: number; revoked: number; notDropped: string[] };
  /** Rows left out of each capped list. */
  readonly omitted: { lifecycle: number; denials: number; approvals: number; grants: number };
}

const who = (p: PersonRef): string => p.subject;

export class AccessReport {
  readonly #access = new Map<string, AccessRow>();
  readonly #sessions = new Map<string, string>();
  readonly #approvals = new Map<string, ApprovalRow>();
  readonly #grants = new Map<string, ApprovalRow>();
  readonly #auth = new Map<string, AuthFailureRow>();
  readonly #data: ReportData;

  constructor(opts: { origin: string; from?: number; to?: number; verification: ReportVerification }) {
    this.#data = {
      origin: opts.origin,
      period: { from: opts.from ?? null, to: opts.to ?? null },
      entries: { first: null, last: null, count: 0 },
      verification: opts.verification,
      lifecycle: [],
      access: [],
      denials: [],
      approvals: [],
      grants: [],
      authFailures: [],
      credentials: { issued: 0, revoked: 0, notDropped: [] },
      omitted: { lifecycle: 0, denials: 0, approvals: 0, grants: 0 },
    };
  }

  #row(identity: IdentityRef, connection: string, time: number): AccessRow {
    const key = JSON.stringify([identity.issuer, identity.subject, connection]);
    let row = this.#access.get(key);
    if (!row) {
      row = {
        issuer: identity.issuer,
        subject: identity.subject,
        kind: identity.kind,
        groups: [...identity.groups],
        ...(identity.ci?.['repository'] ? { repository: identity.ci['repository'] } : {}),
        connection,
        sessions: 0,
        statements: {},
        tables: {},
        denied: 0,
        first: time,
        last: time,
      };
      this.#access.set(key, row);
    }
    for (const g of identity.groups) if (!row.groups.includes(g)) row.groups.push(g);
    row.first = Math.min(row.first, time);
    row.last = Math.max(row.last, time);
    return row;
  }

  #lifecycle(e: StoredEvent, detail: string): void {
    if (this.#data.lifecycle.length < LIST_LIMIT) this.#data.lifecycle.push({ seq: e.seq, time: e.time, type: e.type, detail });
    else this.#data.omitted.lifecycle++;
  }

  #deny(row: DenialRow): void {
    if (this.#data.denials.length < LIST_LIMIT) this.#data.denials.push(row);
    else this.#data.omitted.denials++;
  }

  /** A request seen for the first time (its request may lie before the period: then only its later events are known). */
  #request(map: Map<string, ApprovalRow>, id: string, kind: 'approvals' | 'grants', init: () => Partial<ApprovalRow>, counted = false): ApprovalRow | undefined {
    let row = map.get(id);
    if (row) return row;
    if (map.size >= LIST_LIMIT) {
      // Counted once per request: at its request event (a request made before the period is not counted).
      if (counted) this.#data.omitted[kind]++;
      return undefined;
    }
    row = { id, requestedAt: null, requester: '', connection: '', action: '', tables: [], policyId: '', approvalsNeeded: 0, votes: [], outcome: 'pending', endedAt: null, ...init() };
    map.set(id, row);
    return row;
  }

  add(e: StoredEvent): void {
    const d = this.#data;
    d.entries.count++;
    d.entries.first ??= e.seq;
    d.entries.last = e.seq;
    switch (e.type) {
      case 'session.opened': {
        const row = this.#row(e.identity, e.connection, e.time);
        row.sessions++;
        this.#sessions.set(e.sessionId, JSON.stringify([e.identity.issuer, e.identity.subject, e.connection]));
        break;
      }
      case 'statement.started': {
        const row = this.#row(e.identity, e.connection, e.time);
        row.statements[e.action] = (row.statements[e.action] ?? 0) + 1;
        for (const t of e.tables ?? []) {
          const key = t in row.tables || Object.keys(row.tables).length < TABLES_PER_ROW ? t : '(other tables)';
          row.tables[key] = (row.tables[key] ?? 0) + 1;
        }
        break;
      }
      case 'statement.denied': {
        this.#row(e.identity, e.connection, e.time).denied++;
        this.#deny({ seq: e.seq, time: e.time, what: 'statement', subject: e.identity.subject, connection: e.connection, action: e.action, policyIds: e.decision.policyIds, reasons: e.decision.reasons });
        break;
      }
      case 'connect.denied':
        this.#row(e.identity, e.connection, e.time).denied++;
        this.#deny({ seq: e.seq, time: e.time, what: 'connect', subject: e.identity.subject, connection: e.connection, action: 'connect', policyIds: e.decision.policyIds, reasons: e.decision.reasons });
        break;
      case 'auth.failed': {
        const key = `${e.protocol}\u0000${e.code}`;
        const row = this.#auth.get(key) ?? { protocol: e.protocol, code: e.code, count: 0, first: e.time, last: e.time, addresses: new Set<string>() };
        row.count++;
        row.first = Math.min(row.first, e.time);
        row.last = Math.max(row.last, e.time);
        if (row.addresses.size < 1000) row.addresses.add(e.clientAddress);
        this.#auth.set(key, row);
        break;
      }
      case 'approval.requested': {
        const r = this.#request(this.#approvals, e.approvalId, 'approvals', () => ({}), true);
        if (r) Object.assign(r, { requestedAt: e.time, requester: e.identity.subject, connection: e.connection, action: e.action, tables: e.tables, policyId: e.policyId, approvalsNeeded: e.approvalsNeeded });
        break;
      }
      case 'approval.granted': {
        const r = this.#request(this.#approvals, e.approvalId, 'approvals', () => ({ requester: who(e.requester), connection: e.connection, approvalsNeeded: e.approvalsNeeded }));
        if (!r) break;
        r.votes.push({ time: e.time, subject: e.identity.subject, decision: 'approved', justification: e.justification });
        if (e.complete) r.outcome = 'approved';
        break;
      }
      case 'approval.denied': {
        const r = this.#request(this.#approvals, e.approvalId, 'approvals', () => ({ requester: who(e.requester), connection: e.connection }));
        if (!r) break;
        r.votes.push({ time: e.time, subject: e.identity.subject, decision: 'denied', justification: e.justification });
        r.outcome = 'denied';
        r.endedAt = e.time;
        break;
      }
      case 'approval.expired': {
        const r = this.#request(this.#approvals, e.approvalId, 'approvals', () => ({ requester: who(e.requester), connection: e.connection }));
        if (!r) break;
        r.outcome = 'expired';
        r.endedAt = e.time;
        break;
      }
      case 'approval.used': {
        const r = this.#request(this.#approvals, e.approvalId, 'approvals', () => ({ requester: e.identity.subject, connection: e.connection }));
        if (!r) break;
        r.outcome = 'used';
        r.endedAt = e.time;
        break;
      }
      case 'grant.requested': {
        const r = this.#request(this.#grants, e.grantId, 'grants', () => ({}), true);
        if (r) {
          Object.assign(r, {
            requestedAt: e.time,
            requester: e.identity.subject,
            connection: e.connection,
            action: e.action,
            tables: e.tables,
            approvalsNeeded: e.approvalsNeeded,
            justification: e.justification,
            durationSeconds: e.durationSeconds,
          });
        }
        break;
      }
      case 'grant.approved': {
        const r = this.#request(this.#grants, e.grantId, 'grants', () => ({ requester: who(e.requester), connection: e.connection, approvalsNeeded: e.approvalsNeeded }));
        if (!r) break;
        r.votes.push({ time: e.time, subject: e.identity.subject, decision: 'approved', justification: e.justification });
        if (e.activeUntil !== null) r.outcome = 'active';
        break;
      }
      case 'grant.revoked': {
        const r = this.#request(this.#grants, e.grantId, 'grants', () => ({ requester: who(e.requester), connection: e.connection }));
        if (!r) break;
        r.votes.push({ time: e.time, subject: e.identity.subject, decision: 'revoked', justification: e.justification });
        r.outcome = 'revoked';
        r.endedAt = e.time;
        break;
      }
      case 'grant.expired': {
        const r = this.#request(this.#grants, e.grantId, 'grants', () => ({ requester: who(e.requester), connection: e.connection }));
        if (!r) break;
        r.outcome = 'expired';
        r.endedAt = e.time;
        break;
      }
      case 'credential.issued':
        d.credentials.issued++;
        break;
      case 'credential.revoked':
        d.credentials.revoked++;
        if (!e.dropped && d.credentials.notDropped.length < LIST_LIMIT) d.credentials.notDropped.push(`${e.role} on ${e.connection}`);
        break;
      case 'gateway.started':
        this.#lifecycle(e, `Gatehouse ${e.version}; connections ${e.connections.join(', ') || '(none)'}; durability ${e.durability}${e.policyVersion !== undefined ? `; policy version ${e.policyVersion} (${e.policies} policies, sha256 ${e.policyDigest})` : ''}`);
        break;
      case 'gateway.stopped':
        this.#lifecycle(e, `shutdown; ${e.sessionsEnded} sessions ended by it`);
        break;
      case 'policy.reloaded':
        this.#lifecycle(e, `policy version ${e.policyVersion} in force (${e.policies} policies, sha256 ${e.policyDigest})`);
        break;
      case 'policy.reload_failed':
        this.#lifecycle(e, `policy change refused; version ${e.policyVersion} stays in force`);
        break;
      case 'audit.key_rotated':
        this.#lifecycle(e, `signing key ${keyIdOf(e.fromKey)} handed over to ${keyIdOf(e.toKey)}`);
        break;
      case 'retention.run':
        this.#lifecycle(e, `${e.expired} payloads removed by retention (${Object.entries(e.rules).map(([c, s]) => `${c} ${s}s`).join(', ')})`);
        break;
      default:
        break;
    }
  }

  data(): ReportData {
    const d = this.#data;
    const byTime = (a: { first: number }, b: { first: number }): number => a.first - b.first;
    return {
      ...d,
      access: [...this.#access.values()].sort((a, b) => a.subject.localeCompare(b.subject) || a.connection.localeCompare(b.connection)),
      approvals: [...this.#approvals.values()],
      grants: [...this.#grants.values()],
      authFailures: [...this.#auth.values()].sort(byTime),
    };
  }
}

const iso = (ms: number | null): string => (ms === null ? '—' : new Date(ms).toISOString());
/** A Markdown table cell: pipes and line breaks escaped, so free text cannot break the table. */
const cell = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '_none_\n';
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n') + '\n';
}

function omitted(n: number): string {
  return n > 0 ? `\n_${n} more not listed (over ${LIST_LIMIT}); use --json with a shorter period._\n` : '';
}

/** The report as Markdown, for people (an examiner's work paper). */
export function formatReportMarkdown(d: ReportData): string {
  const v = d.verification;
  const out: string[] = [];
  out.push(`# Gatehouse access report — ${d.origin}\n`);
  const { from, to } = d.period;
  const period = from === null && to === null ? 'the whole log' : from === null ? `up to ${iso(to)}` : to === null ? `from ${iso(from)}` : `${iso(from)} to ${iso(to)}`;
  out.push(`Period: ${period}. Entries in the period: ${d.entries.count}${d.entries.first !== null ? ` (seq ${d.entries.first}..${d.entries.last})` : ''}.\n`);
  out.push(
    v.ok
      ? `Log integrity: **verified** — ${v.entries} entries, ${v.checkpoints} signed checkpoint${v.checkpoints === 1 ? '' : 's'} (newest covers 1..${v.lastCheckpointSize})${v.unsigned ? `, ${v.unsigned} entries not yet signed` : ''}.\n`
      : `Log integrity: **FAILED** — ${v.firstProblem ?? 'see gatehouse audit verify'}. The figures below come from a log that does not verify.\n`,
  );
  out.push(`\n## Gateway, policy and audit log\n\n`);
  out.push(table(['time', 'seq', 'event', 'detail'], d.lifecycle.map((r) => [iso(r.time), String(r.seq), r.type, r.detail])) + omitted(d.omitted.lifecycle));
  out.push(`\n## Access by identity and connection\n\n`);
  out.push(
    table(
      ['identity', 'kind', 'groups', 'connection', 'sessions', 'statements by action', 'tables', 'denied', 'first', 'last'],
      d.access.map((r) => [
        `${r.subject}${r.repository ? ` (${r.repository})` : ''} — ${r.issuer}`,
        r.kind,
        r.groups.join(', '),
        r.connection,
        String(r.sessions),
        Object.entries(r.statements).sort(([a], [b]) => a.localeCompare(b)).map(([a, n]) => `${a} ${n}`).join(', ') || '—',
        Object.entries(r.tables).sort(([a], [b]) => a.localeCompare(b)).map(([t, n]) => `${t} ${n}`).join(', ') || '—',
        String(r.denied),
        iso(r.first),
        iso(r.last),
      ]),
    ),
  );
  out.push(`\n## Denied by policy\n\n`);
  out.push(table(['time', 'seq', 'identity', 'connection', 'action', 'policies', 'reasons'], d.denials.map((r) => [iso(r.time), String(r.seq), r.subject, r.connection, r.action, r.policyIds.join(', ') || '—', r.reasons.join(', ')])) + omitted(d.omitted.denials));
  const votes = (r: ApprovalRow): string => r.votes.map((x) => `${x.decision} by ${x.subject} at ${iso(x.time)}: "${x.justification}"`).join('; ') || '—';
  out.push(`\n## Approvals of single operations\n\n`);
  out.push(
    table(
      ['requested', 'id', 'requester', 'connection', 'action', 'tables', 'policy', 'outcome', 'decisions'],
      d.approvals.map((r) => [iso(r.requestedAt), r.id, r.requester, r.connection, r.action || '—', r.tables.join(', ') || '—', r.policyId || '—', r.outcome, votes(r)]),
    ) + omitted(d.omitted.approvals),
  );
  out.push(`\n## Just-in-time grants\n\n`);
  out.push(
    table(
      ['requested', 'id', 'requester', 'connection', 'action', 'tables', 'duration', 'reason given', 'outcome', 'decisions'],
      d.grants.map((r) => [iso(r.requestedAt), r.id, r.requester, r.connection, r.action || '—', r.tables.join(', ') || '—', r.durationSeconds !== undefined ? `${r.durationSeconds}s` : '—', r.justification ?? '—', r.outcome, votes(r)]),
    ) + omitted(d.omitted.grants),
  );
  out.push(`\n## Failed log-ins\n\n`);
  out.push(table(['protocol', 'code', 'count', 'client addresses', 'first', 'last'], d.authFailures.map((r) => [r.protocol, r.code, String(r.count), String(r.addresses.size), iso(r.first), iso(r.last)])));
  out.push(`\n## Temporary credentials\n\n`);
  out.push(`${d.credentials.issued} issued, ${d.credentials.revoked} revoked${d.credentials.notDropped.length ? `; **not dropped**: ${d.credentials.notDropped.join(', ')}` : ''}.\n`);
  return out.join('');
}

/** The report as JSON (sets become counts). */
export function reportJson(d: ReportData): unknown {
  return { ...d, authFailures: d.authFailures.map((r) => ({ ...r, addresses: r.addresses.size })) };
}
