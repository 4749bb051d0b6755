/**
 * Webhook notifications for approvals and grants (issue 6): a JSON POST on
 * request, decision and expiry, to each configured URL, with a
 * Slack-compatible body option.
 *
 * Never on the data path: `notify` builds the body and returns; the POST
 * runs in the background with a timeout, at most `maxInFlight` at once
 * (beyond that a notification is dropped and logged — a slow receiver must
 * not make Gatehouse hold an unbounded queue, ARCHITECTURE.md principle 2).
 * One attempt, no redirects followed (a redirect is treated as a failure:
 * a notifier must not be steerable to internal addresses).
 *
 * What leaves Gatehouse: ids, names, groups, the statement hash, times, and
 * and free text (the statement, reasons) only in escaped, truncated form
 * inside `text` (see slack-format.ts); the raw free texts only with
 * `rawText: true`. Other string fields (subjects, names, tables) are data
 * for automation; a receiver rendering them must escape them itself.
 * Never: tokens, claims other than the CI set, vault
 * values. Webhook URLs themselves are secrets (a Slack URL is a bearer
 * credential), so logs name a target by index and host only.
 */
import { createHmac } from 'node:crypto';
import type { Logger } from '../../core/logger.ts';
import type { ApprovalChange } from '../../core/approvals/service.ts';
import type { ApprovalRequest, Grant, Vote } from '../../core/approvals/model.ts';
import { escapeSlack, slackCodeBlock, slackInline } from './slack-format.ts';

export type NotificationType = ApprovalChange['type'];

/** Request, decisions and expiry; `approval.used` only when asked for. */
export const DEFAULT_NOTIFICATION_TYPES: readonly NotificationType[] = [
  'approval.requested',
  'approval.granted',
  'approval.denied',
  'approval.expired',
  'grant.requested',
  'grant.approved',
  'grant.revoked',
  'grant.expired',
];

export interface WebhookTarget {
  readonly url: string;
  /** `json` (default): Gatehouse's own body. `slack`: an incoming-webhook body (text + blocks). */
  readonly format?: 'json' | 'slack';
  /** HMAC-SHA256 key for the `x-gatehouse-signature` header (resolved from the vault by the caller). Never sent. */
  readonly secret?: string;
  readonly events?: readonly NotificationType[];
  /**
   * JSON format only: also send the exact free texts — statement, approvers'
   * reasons, the grant's reason — as plain JSON strings. Off by default: a
   * receiver that renders them would let the requester inject formatting.
   */
  readonly rawText?: boolean;
}

export interface WebhookNotifierOptions {
  readonly targets: readonly WebhookTarget[];
  readonly log: Logger;
  /** Per POST (default 5000 ms). */
  readonly timeoutMs?: number;
  /** Concurrent POSTs across targets (default 32); beyond, notifications are dropped. */
  readonly maxInFlight?: number;
  /** Statement characters shown (default 1500). */
  readonly maxStatementChars?: number;
  /** Name of this Gatehouse instance, sent as `instance`. */
  readonly instance?: string;
  /** Base URL of the web console, for links in messages (trusted config, not user input). */
  readonly consoleUrl?: string;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export class WebhookNotifier {
  readonly #opts: WebhookNotifierOptions;
  readonly #fetch: typeof fetch;
  readonly #inFlight = new Set<Promise<void>>();
  #dropped = 0;
  #failed = 0;

  constructor(opts: WebhookNotifierOptions) {
    for (const t of opts.targets) {
      const u = new URL(t.url);
      if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('webhook URLs must be http(s)');
    }
    this.#opts = opts;
    this.#fetch = opts.fetch ?? globalThis.fetch;
  }

  /** Subscribe to a service's changes; returns the unsubscribe function. */
  attach(source: { onChange(listener: (c: ApprovalChange) => void): () => void }): () => void {
    return source.onChange((c) => this.notify(c));
  }

  get dropped(): number {
    return this.#dropped;
  }

  get failed(): number {
    return this.#failed;
  }

  /** Send `change` to every interested target. Returns at once. */
  notify(change: ApprovalChange): void {
    this.#opts.targets.forEach((target, index) => {
      if (!(target.events ?? DEFAULT_NOTIFICATION_TYPES).includes(change.type)) return;
      if (this.#inFlight.size >= (this.#opts.maxInFlight ?? 32)) {
        this.#dropped++;
        this.#opts.log.warn({ target: index, host: hostOf(target.url), type: change.type }, 'webhook notification dropped: too many in flight');
        return;
      }
      let body: string;
      try {
        body = JSON.stringify(target.format === 'slack' ? this.slackBody(change) : this.jsonBody(change, target));
      } catch (e) {
        this.#opts.log.error({ err: e, type: change.type }, 'could not build webhook notification');
        return;
      }
      const p = this.#post(target, index, body).finally(() => this.#inFlight.delete(p));
      this.#inFlight.add(p);
    });
  }

  /** Resolves when every POST started so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  async #post(target: WebhookTarget, index: number, body: string): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'gatehouse-webhook/1' };
    if (target.secret) {
      const t = Math.floor((this.#opts.now?.() ?? Date.now()) / 1000);
      const sig = createHmac('sha256', target.secret).update(`${t}.${body}`).digest('hex');
      headers['x-gatehouse-signature'] = `t=${t},v1=${sig}`;
    }
    try {
      const res = await this.#fetch(target.url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#opts.timeoutMs ?? 5000),
      });
      // Drain the body so the connection can be reused; its content is not used.
      await res.arrayBuffer().catch(() => undefined);
      if (res.status < 200 || res.status > 299) {
        this.#failed++;
        this.#opts.log.warn({ target: index, host: hostOf(target.url), status: res.status }, 'webhook receiver refused the notification');
      }
    } catch (e) {
      this.#failed++;
      // The error text may contain the URL; log its name only.
      this.#opts.log.warn({ target: index, host: hostOf(target.url), error: (e as Error)?.name ?? 'Error' }, 'webhook notification failed');
    }
  }

  /** The `json` body. */
  jsonBody(change: ApprovalChange, target: Pick<WebhookTarget, 'rawText'> = {}): Record<string, unknown> {
    const now = this.#opts.now?.() ?? Date.now();
    const common = { type: change.type, time: iso(now), ...(this.#opts.instance ? { instance: this.#opts.instance } : {}), text: this.summary(change) };
    const raw = target.rawText === true;
    if ('approval' in change) return { ...common, approval: approvalSummary(change.approval, raw) };
    return { ...common, grant: grantSummary(change.grant, raw) };
  }

  /** The `slack` body: mrkdwn text with every interpolated value escaped. */
  slackBody(change: ApprovalChange): Record<string, unknown> {
    const text = this.summary(change);
    return {
      text,
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }],
      unfurl_links: false,
      unfurl_media: false,
    };
  }

  /** Human-readable mrkdwn; safe to render (every value escaped and in code). */
  summary(change: ApprovalChange): string {
    const maxStmt = this.#opts.maxStatementChars ?? 1500;
    const lines: string[] = [];
    if ('approval' in change) {
      const r = change.approval;
      lines.push(`*${approvalHeadline(change)}* ${slackInline(r.id)}`);
      lines.push(
        `Requester ${slackInline(r.requester.subject)} (${r.requester.kind}) · connection ${slackInline(r.connection)} · ${slackInline(r.action)}` +
          (r.tables.length ? ` on ${slackInline(r.tables.join(', '))}` : ''),
      );
      lines.push(slackCodeBlock(r.statement, maxStmt));
      lines.push(`Policy ${slackInline(r.policyId)} v${r.policyVersion} · approvers ${slackInline(r.approverGroups.join(', '))} · ${r.approvals.length}/${r.approvalsNeeded} approvals`);
      if (change.type === 'approval.granted') lines.push(`Approved by ${slackInline(change.vote.approver.subject)}: ${slackInline(change.vote.reason, 500)}`);
      if (r.status === 'denied') lines.push(`Denied by ${slackInline(r.denial.approver.subject)}: ${slackInline(r.denial.reason, 500)}`);
      if (r.status === 'pending') {
        lines.push(`Decide by ${iso(r.expiresAt)}: ${slackInline(`gatehouse approvals approve ${r.id} --reason "…"`)} or ${slackInline(`gatehouse approvals deny ${r.id} --reason "…"`)}`);
      }
      if (this.#opts.consoleUrl) lines.push(`${escapeSlack(this.#opts.consoleUrl)}/approvals/${encodeURIComponent(r.id)}`);
    } else {
      const g = change.grant;
      lines.push(`*${grantHeadline(change)}* ${slackInline(g.id)}`);
      lines.push(
        `Requester ${slackInline(g.requester.subject)} (${g.requester.kind}) · connection ${slackInline(g.connection)} · ${slackInline(g.action)}` +
          (g.table ? ` on ${slackInline(g.table)}` : ' on every table') +
          ` · for ${Math.round(g.durationSeconds / 60)} min`,
      );
      lines.push(`Reason: ${slackInline(g.reason, 500)}`);
      if (change.type === 'grant.approved') lines.push(`Approved by ${slackInline(change.vote.approver.subject)}: ${slackInline(change.vote.reason, 500)}`);
      if (g.status === 'active') lines.push(`Active until ${iso(g.expiresAt)}`);
      if (g.status === 'revoked') lines.push(`Revoked by ${slackInline(g.revokedBy.subject)}${g.revokeReason ? `: ${slackInline(g.revokeReason, 500)}` : ''}`);
      if (g.status === 'pending') lines.push(`Approve: ${slackInline(`gatehouse access approve ${g.id} --reason "…"`)}`);
    }
    return lines.join('\n');
  }
}

function approvalHeadline(c: Extract<ApprovalChange, { approval: ApprovalRequest }>): string {
  switch (c.type) {
    case 'approval.requested':
      return 'Approval requested';
    case 'approval.granted':
      return c.approval.status === 'approved' ? 'Approved' : `Approval ${c.approval.approvals.length} of ${c.approval.approvalsNeeded} given`;
    case 'approval.denied':
      return 'Denied';
    case 'approval.expired':
      return 'Approval request expired';
    case 'approval.used':
      return 'Approved statement ran';
  }
}

function grantHeadline(c: Extract<ApprovalChange, { grant: Grant }>): string {
  switch (c.type) {
    case 'grant.requested':
      return 'Access grant requested';
    case 'grant.approved':
      return c.grant.status === 'active' ? 'Access grant active' : `Grant approval ${c.grant.approvals.length} of ${c.grant.approvalsNeeded} given`;
    case 'grant.revoked':
      return 'Access grant revoked';
    case 'grant.expired':
      return 'Access grant expired';
  }
}

function person(p: ApprovalRequest['requester']): Record<string, unknown> {
  return { issuer: p.issuer, subject: p.subject, kind: p.kind, groups: p.groups, ...(p.ci ? { ci: p.ci } : {}) };
}

function vote(v: Vote, raw: boolean): Record<string, unknown> {
  return { approver: { issuer: v.approver.issuer, subject: v.approver.subject }, ...(raw ? { reason: v.reason } : {}), at: iso(v.at) };
}

function approvalSummary(r: ApprovalRequest, raw: boolean): Record<string, unknown> {
  return {
    id: r.id,
    status: r.status,
    mode: r.mode,
    requester: person(r.requester),
    connection: r.connection,
    action: r.action,
    tables: r.tables,
    statementHash: r.statementHash,
    ...(raw ? { statement: r.statement } : {}),
    fingerprint: r.fingerprint,
    policyId: r.policyId,
    policyVersion: r.policyVersion,
    approverGroups: r.approverGroups,
    approvalsNeeded: r.approvalsNeeded,
    approvals: r.approvals.map((v) => vote(v, raw)),
    ...(r.status === 'denied' ? { denial: vote(r.denial, raw) } : {}),
    createdAt: iso(r.createdAt),
    expiresAt: iso(r.expiresAt),
    ...(r.status === 'approved' || r.status === 'used' ? { validUntil: iso(r.validUntil) } : {}),
  };
}

function grantSummary(g: Grant, raw: boolean): Record<string, unknown> {
  return {
    id: g.id,
    status: g.status,
    requester: person(g.requester),
    connection: g.connection,
    action: g.action,
    table: g.table,
    durationSeconds: g.durationSeconds,
    ...(raw ? { reason: g.reason } : {}),
    approverGroups: g.approverGroups,
    approvalsNeeded: g.approvalsNeeded,
    approvals: g.approvals.map((v) => vote(v, raw)),
    createdAt: iso(g.createdAt),
    ...(g.status === 'active' ? { activatedAt: iso(g.activatedAt), expiresAt: iso(g.expiresAt) } : {}),
    ...(g.status === 'revoked' ? { revokedAt: iso(g.revokedAt), revokedBy: { issuer: g.revokedBy.issuer, subject: g.revokedBy.subject } } : {}),
  };
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'invalid-url';
  }
}
