/**
 * The shared session flow. The order of security steps is written here once,
 * for every protocol:
 *
 *   authenticate (token) → resolve connection → authorize `connect` →
 *   write `session.opened` → [adapter connects upstream] →
 *   per operation: authorize → write event (write-ahead) → forward → finish.
 *
 * Adapters only translate wire traffic into calls on this service and its
 * results into their protocol's words.
 */
import type { Authorizer, EventSink, StatementAuthorizer, TokenVerifier } from '../ports.ts';
import type { Classification, SqlAction } from '../classify/sql/types.ts';
import type { StatementContext, StatementDecision } from '../policy/authorizer-types.ts';
import type { ApprovalService } from '../approvals/service.ts';
import type { ApprovalMode } from '../approvals/model.ts';
import { approvalGate } from '../approvals/gate.ts';
import { grantContext, selectGrant } from '../approvals/model.ts';
import type { Principal } from '../identity/principal.ts';
import type { Clock } from '../../shared/clock.ts';
import type { Logger } from '../logger.ts';
import type { Decision } from '../policy/decision.ts';
import { canonicalStable } from '../audit/canonical.ts';
import { decisionRecord, type IdentityRef, type Outcome, type ResultSample } from '../audit/events.ts';
import { GatewayError, isGatewayError } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';

/** What core knows of a configured connection; adapters read their own `spec`. */
export interface ConnectionEntry<Spec = unknown> {
  readonly name: string;
  readonly protocol: string;
  readonly spec: Spec;
}

export interface ConnectionCatalog {
  get(name: string): ConnectionEntry | undefined;
}

export interface SessionServiceDeps {
  verifier: TokenVerifier;
  authorizer: Authorizer;
  /** Decides classified statements (every (action, table) pair). */
  statements: StatementAuthorizer;
  events: EventSink;
  connections: ConnectionCatalog;
  clock: Clock;
  log: Logger;
  /** Approvals and just-in-time grants; without it, a statement that needs approval is refused. */
  approvals?: ApprovalService;
  /** How a connection waits for approval: hold the statement, or reject it until approved. */
  approvalMode?: (connection: string) => { mode: ApprovalMode; holdTimeoutMs: number };
}

export interface OpenRequest {
  readonly protocol: string;
  readonly connection: string;
  readonly token: string;
  readonly clientAddress: string;
  readonly tls: boolean;
}

const CI_CLAIMS = [
  'repository',
  'repository_owner',
  'ref',
  'sha',
  'workflow',
  'workflow_ref',
  'job_workflow_ref',
  'environment',
  'actor',
  'run_id',
  'run_attempt',
  'event_name',
] as const;

export function identityRef(p: Principal): IdentityRef {
  const ci: Record<string, string> = {};
  for (const k of CI_CLAIMS) {
    const v = p.claims[k];
    if (typeof v === 'string' || typeof v === 'number') ci[k] = String(v);
  }
  // Written into every event of the session: its canonical form is prepared once (and it is frozen).
  return canonicalStable({
    issuer: p.issuer,
    subject: p.subject,
    groups: [...p.groups],
    kind: p.kind,
    ...(Object.keys(ci).length ? { ci } : {}),
  });
}

export type SessionState = 'open' | 'closing' | 'closed';

export class SessionService {
  readonly #deps: SessionServiceDeps;
  readonly #live = new Map<string, Session>();
  #accepting = true;

  constructor(deps: SessionServiceDeps) {
    this.#deps = deps;
  }

  get liveSessions(): readonly Session[] {
    return [...this.#live.values()];
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  /**
   * Authenticates and admits a session. Throws a client-safe GatewayError on
   * every refusal, after recording the attempt. Fail closed: any unexpected
   * error in identity or policy is a refusal.
   */
  async open(req: OpenRequest): Promise<Session> {
    const { verifier, authorizer, events, connections, clock } = this.#deps;
    if (!this.#accepting) {
      throw new GatewayError('GW_SHUTTING_DOWN', 'Gatehouse is shutting down', { clientSafe: true });
    }
    let principal: Principal;
    try {
      principal = await verifier.verify(req.token);
    } catch (e) {
      // Fail closed: whatever went wrong in verification, the session is refused.
      const err = isGatewayError(e)
        ? e
        : new GatewayError('GW_AUTH_TOKEN_INVALID', 'token verification failed', { clientSafe: true, cause: e });
      await this.#recordAuthFailure(req, req.connection, err);
      throw err;
    }
    const conn = connections.get(req.connection);
    if (!conn || conn.protocol !== req.protocol) {
      const err = new GatewayError(
        'GW_CONNECTION_UNKNOWN',
        `connection '${req.connection}' is not configured for ${req.protocol} on this Gatehouse`,
        { clientSafe: true },
      );
      await this.#recordAuthFailure(req, null, err);
      throw err;
    }
    const now = clock.now();
    const decision = safeAuthorize(authorizer, {
      principal,
      action: 'connect',
      connection: conn.name,
      context: { clientAddress: req.clientAddress, time: now },
    });
    const identity = identityRef(principal);
    if (decision.effect !== 'allow') {
      await events
        .append({
          type: 'connect.denied',
          time: now,
          identity,
          connection: conn.name,
          clientAddress: req.clientAddress,
          decision: decisionRecord(decision),
        })
        .catch((e) => this.#deps.log.error({ err: e }, 'could not record connect.denied'));
      throw new GatewayError('GW_POLICY_DENIED', `Gatehouse denied connect on '${conn.name}': ${reasonText(decision)}`, {
        clientSafe: true,
      });
    }
    const id = newId('ses');
    // Write-ahead: the session exists only once its opening is on record.
    await events.append({
      type: 'session.opened',
      time: now,
      sessionId: id,
      identity,
      connection: conn.name,
      protocol: req.protocol,
      clientAddress: req.clientAddress,
      tls: req.tls,
    });
    const session = new Session(this.#deps, id, principal, identity, conn, req.clientAddress, now, () =>
      this.#live.delete(id),
    );
    this.#live.set(id, session);
    return session;
  }

  get(id: string): Session | undefined {
    return this.#live.get(id);
  }

  /** Stop admitting new sessions (SIGTERM, first step). */
  stopAccepting(): void {
    this.#accepting = false;
  }

  async #recordAuthFailure(req: OpenRequest, connection: string | null, err: GatewayError): Promise<void> {
    try {
      await this.#deps.events.append({
        type: 'auth.failed',
        time: this.#deps.clock.now(),
        protocol: req.protocol,
        connection,
        clientAddress: req.clientAddress,
        code: err.code,
        message: err.clientSafe ? err.message : err.code,
      });
    } catch (e) {
      this.#deps.log.error({ err: e }, 'could not record auth.failed');
    }
  }
}

function safeAuthorize(authorizer: Authorizer, req: Parameters<Authorizer['authorize']>[0]): Decision {
  try {
    return authorizer.authorize(req);
  } catch {
    // Fail closed: an authorizer that throws denies.
    return { effect: 'deny', policyIds: [], reasons: [{ code: 'policy_error', message: 'policy evaluation failed' }] };
  }
}

export function reasonText(d: Decision): string {
  return d.reasons.map((r) => r.message).join('; ') || 'no policy permits it';
}

export interface OperationRequest {
  /** The statement text (SQL…), recorded in the event payload. */
  readonly statement: string;
  readonly classification: Classification;
  /** Bind parameters (extended protocol), for the recording. */
  readonly params?: readonly (string | null)[];
  /** Hold mode: tell the client the statement waits for approval (a NoticeResponse in Postgres). */
  readonly onHold?: (message: string) => void;
  /** Ends a hold early (client gone, session killed). */
  readonly signal?: AbortSignal;
}

/** Strictest first: the action an event is filed under when a statement does several things. */
const ACTION_RANK: readonly SqlAction[] = ['sql:unknown', 'sql:admin', 'sql:privilege', 'sql:ddl', 'sql:write', 'sql:read', 'sql:transaction'];

export function primaryAction(c: Classification): SqlAction {
  let best = ACTION_RANK.length - 1;
  for (const st of c.statements) for (const p of st.pairs) best = Math.min(best, ACTION_RANK.indexOf(p.action));
  return ACTION_RANK[best]!;
}

export function tablesOf(c: Classification): string[] {
  const out = new Set<string>();
  for (const st of c.statements) for (const p of st.pairs) if (p.table) out.add(p.table);
  return [...out];
}

export type OperationStart =
  | { readonly allowed: true; readonly operation: Operation; readonly decision: StatementDecision }
  | { readonly allowed: false; readonly decision: StatementDecision; readonly message: string };

export interface OperationResult {
  readonly outcome: Outcome;
  readonly rows: number | null;
  readonly error?: { readonly code: string; readonly message: string };
  /** Values masked per data class (counts only, never values), when masking changed any. */
  readonly masked?: Readonly<Record<string, number>>;
  /** Session recording: the first rows as the client received them (after masking). */
  readonly result?: ResultSample;
}

/**
 * A live, admitted session. Only SessionService creates one, so holding a
 * Session proves the token was verified and `connect` was allowed.
 */
export class Session {
  readonly id: string;
  readonly principal: Principal;
  readonly identity: IdentityRef;
  readonly connection: ConnectionEntry;
  readonly clientAddress: string;
  readonly startedAt: number;
  #state: SessionState = 'open';
  #statements = 0;
  #inFlight = 0;
  #idleWaiters: (() => void)[] = [];
  #killHandlers: ((reason: string) => void)[] = [];
  readonly #deps: SessionServiceDeps;
  readonly #onClosed: () => void;
  readonly log: Logger;

  constructor(
    deps: SessionServiceDeps,
    id: string,
    principal: Principal,
    identity: IdentityRef,
    connection: ConnectionEntry,
    clientAddress: string,
    startedAt: number,
    onClosed: () => void,
  ) {
    this.#deps = deps;
    this.id = id;
    this.principal = principal;
    this.identity = identity;
    this.connection = connection;
    this.clientAddress = clientAddress;
    this.startedAt = startedAt;
    this.#onClosed = onClosed;
    this.log = deps.log.child({ sessionId: id });
  }

  get state(): SessionState {
    return this.#state;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Decide one operation and write its event before the adapter forwards it.
   * Rejects (GW_EVENT_STORE_UNAVAILABLE) when the event cannot be written:
   * the adapter must then refuse the operation and keep the session usable.
   */
  async begin(req: OperationRequest): Promise<OperationStart> {
    if (this.#state !== 'open') {
      throw new GatewayError('GW_SESSION_KILLED', 'session is closing', { clientSafe: true });
    }
    const { events, clock, approvals } = this.#deps;
    const now = clock.now();
    const action = primaryAction(req.classification);
    const tables = tablesOf(req.classification);
    // A just-in-time grant covering this operation is visible to policy as context.grant.
    const active = approvals ? approvals.activeGrants(this.principal, this.connection.name, now) : [];
    const grant = active.length ? selectGrant(active, action, tables) : undefined;
    const context: StatementContext = { clientAddress: this.clientAddress, time: now, ...(grant ? { grant: grantContext(grant) } : {}) };
    let decision = this.#decide(req.classification, context);
    let approvalId: string | undefined;
    if (decision.effect === 'require_approval') {
      const gated = await this.#approve(req, decision, action, tables, context);
      decision = gated.decision;
      approvalId = gated.approvalId;
    }
    const operationId = newId('op');
    const common = {
      time: now,
      sessionId: this.id,
      operationId,
      identity: this.identity,
      connection: this.connection.name,
      action,
      statement: req.statement,
      decision: decisionRecord(decision.decision),
      tables,
      fingerprint: req.classification.fingerprint,
      policyVersion: decision.policyVersion,
    };
    if (decision.effect !== 'allow') {
      await events.append({ type: 'statement.denied', ...common, message: decision.message });
      return { allowed: false, decision, message: decision.message };
    }
    this.#inFlight++;
    try {
      await events.append({
        type: 'statement.started',
        ...common,
        unmaskable: decision.unmaskable,
        ...(approvalId ? { approvalId } : {}),
        ...(req.params ? { params: req.params } : {}),
      });
    } catch (e) {
      this.#operationDone();
      throw e;
    }
    this.#statements++;
    return { allowed: true, operation: new Operation(this, operationId, now), decision };
  }

  #decide(classification: Classification, context: StatementContext): StatementDecision {
    try {
      return this.#deps.statements.decideStatement(this.principal, this.connection.name, classification, context);
    } catch (e) {
      // Fail closed: a policy engine that throws denies.
      this.log.error({ err: e }, 'statement decision failed');
      return refusal('policy_error', 'Gatehouse denied the statement: policy evaluation failed');
    }
  }

  /**
   * The approval step: find an approval bound to exactly this statement, or
   * request one and hold or reject (core/approvals/gate.ts). After approval
   * the statement is decided again with context.approval; only an allow runs.
   */
  async #approve(
    req: OperationRequest,
    decision: StatementDecision,
    action: string,
    tables: readonly string[],
    context: StatementContext,
  ): Promise<{ decision: StatementDecision; approvalId?: string }> {
    const { approvals, approvalMode } = this.#deps;
    if (!approvals || !decision.approval) {
      return { decision: { ...decision, effect: 'deny' } };
    }
    const { mode, holdTimeoutMs } = approvalMode?.(this.connection.name) ?? { mode: 'reject' as const, holdTimeoutMs: 0 };
    const gate = await approvalGate(approvals, {
      requester: this.principal,
      connection: this.connection.name,
      statement: req.statement,
      fingerprint: req.classification.fingerprint,
      action,
      tables,
      terms: decision.approval,
      policyVersion: decision.policyVersion,
      mode,
      holdTimeoutMs,
      sessionId: this.id,
      ...(req.signal ? { signal: req.signal } : {}),
      ...(req.onHold ? { onHold: (_r: unknown, message: string) => req.onHold!(message) } : {}),
    });
    if (gate.outcome === 'refused') {
      return { decision: { ...decision, effect: 'deny', message: gate.message, decision: { ...decision.decision, message: gate.message } } };
    }
    const again = this.#decide(req.classification, { ...context, approval: gate.context });
    if (again.effect === 'allow') return { decision: again, approvalId: gate.approval.id };
    // Fail closed: the approval is used up, but policy still does not allow it.
    return { decision: { ...again, effect: 'deny' }, approvalId: gate.approval.id };
  }

  /** Called by Operation.finish; records the result without blocking the data path. */
  recordFinish(op: Operation, result: OperationResult): void {
    const now = this.#deps.clock.now();
    this.#operationDone();
    this.#deps.events
      .append({
        type: 'statement.finished',
        time: now,
        sessionId: this.id,
        operationId: op.id,
        outcome: result.outcome,
        durationMs: now - op.startedAt,
        rows: result.rows,
        ...(result.error ? { error: result.error } : {}),
        ...(result.masked && Object.keys(result.masked).length > 0 ? { masked: result.masked } : {}),
        // One event per finished statement, its result sample included (a 'result' payload, see envelope.ts).
        ...(result.result ? { result: result.result } : {}),
      }, { lazy: true })
      .catch((e) => this.log.error({ err: e, operationId: op.id }, 'could not record statement.finished'));
  }

  #operationDone(): void {
    this.#inFlight--;
    if (this.#inFlight === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves when no operation is in flight (graceful shutdown). */
  whenIdle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Adapters register how to end their connection when the session is killed. */
  onKill(handler: (reason: string) => void): void {
    this.#killHandlers.push(handler);
  }

  /** End the session from outside (shutdown, revoke, admin kill). */
  kill(reason: string): void {
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    for (const h of this.#killHandlers) {
      try {
        h(reason);
      } catch (e) {
        this.log.error({ err: e }, 'kill handler failed');
      }
    }
  }

  /** Record the end of the session. Idempotent. */
  async close(reason: string): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#onClosed();
    try {
      await this.#deps.events.append({
        type: 'session.closed',
        time: this.#deps.clock.now(),
        sessionId: this.id,
        reason,
        statements: this.#statements,
      });
    } catch (e) {
      this.log.error({ err: e }, 'could not record session.closed');
    }
  }
}

function refusal(code: 'policy_error', message: string): StatementDecision {
  const reasons = [{ code, message }];
  return { effect: 'deny', policyIds: [], reasons, message, pairs: [], unmaskable: [], policyVersion: 0, decision: { effect: 'deny', policyIds: [], reasons, message } };
}

export class Operation {
  #done = false;
  constructor(
    readonly session: Session,
    readonly id: string,
    readonly startedAt: number,
  ) {}

  finish(result: OperationResult): void {
    if (this.#done) return;
    this.#done = true;
    this.session.recordFinish(this, result);
  }
}
