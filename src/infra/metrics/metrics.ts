/**
 * Prometheus metrics (prom-client) for the admin listener's `/metrics`.
 *
 * Counted from the audit events themselves: `sink()` wraps the EventSink,
 * so every session, refusal and statement that is recorded is counted, and
 * nothing that is not (an event the store refused never happened: the
 * statement was refused). Nothing is added to the protocol adapters.
 *
 * Labels come from closed vocabularies and the configuration only
 * (connection names, protocols, actions, error codes, outcomes, reasons):
 * never a subject, a group, a client address or statement text, so the
 * series stay few and carry no personal data or secrets.
 *
 * The audit log's own counters are read at scrape time (no work per event).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AppendOptions, EventSink } from '../../core/ports.ts';
import type { GatewayEvent, StoredEvent } from '../../core/audit/events.ts';

/** What the metrics read from the audit log at scrape time. */
export interface AuditMetricsSource {
  readonly size: number;
  stats(): { appended: number; refused: number; checkpoints: number };
  writeHealth(): { ok: boolean };
}

const PREFIX = 'gatehouse_';

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #sessionsOpened: Counter<'connection' | 'protocol'>;
  readonly #sessionsClosed: Counter<'reason'>;
  readonly #sessionsActive: Gauge<'connection'>;
  readonly #authFailures: Counter<'protocol' | 'code'>;
  readonly #connectsDenied: Counter<'connection'>;
  readonly #statements: Counter<'connection' | 'action'>;
  readonly #statementsDenied: Counter<'connection' | 'action'>;
  readonly #outcomes: Counter<'outcome'>;
  readonly #duration: Histogram;
  readonly #upstreamFailures: Counter<'connection' | 'code'>;
  readonly #approvals: Counter<'event'>;
  /** Open sessions' connections, to decrement the right gauge at session.closed (which names none). */
  readonly #open = new Map<string, string>();

  constructor(opts: { audit?: AuditMetricsSource | null; processMetrics?: boolean } = {}) {
    const r = this.registry;
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Counter<L>({ name: PREFIX + name, help, labelNames, registers: [r] });
    this.#sessionsOpened = counter('sessions_opened_total', 'Sessions opened (identity verified, connection allowed).', ['connection', 'protocol']);
    this.#sessionsClosed = counter('sessions_closed_total', 'Sessions closed, by reason.', ['reason']);
    this.#sessionsActive = new Gauge({ name: `${PREFIX}sessions_active`, help: 'Sessions open now.', labelNames: ['connection'], registers: [r] });
    this.#authFailures = counter('auth_failures_total', 'Log-ins refused: bad, expired or missing tokens and the like, by error code.', ['protocol', 'code']);
    this.#connectsDenied = counter('connects_denied_total', 'Log-ins refused by policy.', ['connection']);
    this.#statements = counter('statements_total', 'Statements allowed and forwarded, by action.', ['connection', 'action']);
    this.#statementsDenied = counter('statements_denied_total', 'Statements denied by policy (never forwarded).', ['connection', 'action']);
    this.#outcomes = counter('statement_outcomes_total', 'Forwarded statements by outcome.', ['outcome']);
    this.#duration = new Histogram({
      name: `${PREFIX}statement_duration_seconds`,
      help: 'Time from forwarding a statement to its completion, upstream included.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [r],
    });
    this.#upstreamFailures = counter('upstream_failures_total', 'Upstream connections that failed.', ['connection', 'code']);
    this.#approvals = counter('approval_events_total', 'Approval and grant events (requested, granted, denied, expired, used…).', ['event']);
    const audit = opts.audit;
    if (audit) {
      // Read at scrape time from the log's own counters (since this process opened it).
      const fromStats = (name: string, help: string, pick: (s: ReturnType<AuditMetricsSource['stats']>) => number) =>
        new Counter({
          name: PREFIX + name,
          help,
          registers: [r],
          collect() {
            this.reset();
            this.inc(pick(audit.stats()));
          },
        });
      fromStats('audit_appended_total', 'Audit entries written since start.', (s) => s.appended);
      fromStats('audit_refused_total', 'Audit appends refused since start (each refuses its statement: fail closed).', (s) => s.refused);
      fromStats('audit_checkpoints_total', 'Signed checkpoints since start.', (s) => s.checkpoints);
      new Gauge({ name: `${PREFIX}audit_entries`, help: 'Entries in the audit log.', registers: [r], collect() { this.set(audit.size); } });
      new Gauge({ name: `${PREFIX}audit_write_ok`, help: '1 while the audit log takes writes, 0 while its newest write failed.', registers: [r], collect() { this.set(audit.writeHealth().ok ? 1 : 0); } });
    }
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: r, prefix: PREFIX });
  }

  /** An EventSink that records `event` in `inner`, then counts it (only once it is recorded). */
  sink(inner: EventSink): EventSink {
    return {
      append: (event: GatewayEvent, opts?: AppendOptions): Promise<StoredEvent> =>
        inner.append(event, opts).then((stored) => {
          this.count(event);
          return stored;
        }),
    };
  }

  count(e: GatewayEvent): void {
    switch (e.type) {
      case 'session.opened':
        this.#sessionsOpened.inc({ connection: e.connection, protocol: e.protocol });
        this.#sessionsActive.inc({ connection: e.connection });
        this.#open.set(e.sessionId, e.connection);
        break;
      case 'session.closed': {
        this.#sessionsClosed.inc({ reason: e.reason });
        const connection = this.#open.get(e.sessionId);
        if (connection !== undefined) {
          this.#open.delete(e.sessionId);
          this.#sessionsActive.dec({ connection });
        }
        break;
      }
      case 'auth.failed':
        this.#authFailures.inc({ protocol: e.protocol, code: e.code });
        break;
      case 'connect.denied':
        this.#connectsDenied.inc({ connection: e.connection });
        break;
      case 'statement.started':
        this.#statements.inc({ connection: e.connection, action: e.action });
        break;
      case 'statement.denied':
        this.#statementsDenied.inc({ connection: e.connection, action: e.action });
        break;
      case 'statement.finished':
        this.#outcomes.inc({ outcome: e.outcome });
        if (Number.isFinite(e.durationMs) && e.durationMs >= 0) this.#duration.observe(e.durationMs / 1000);
        break;
      case 'upstream.failed':
        this.#upstreamFailures.inc({ connection: e.connection, code: e.code });
        break;
      default:
        if (e.type.startsWith('approval.') || e.type.startsWith('grant.')) this.#approvals.inc({ event: e.type });
    }
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
