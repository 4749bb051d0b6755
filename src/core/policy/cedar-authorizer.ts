/**
 * The Cedar policy engine behind the Authorizer port.
 *
 * Default deny. Per (action, resource) the outcome is:
 *   - allow            some permit applies, no forbid applies;
 *   - deny (forbid)    a forbid applies;
 *   - require_approval nothing applies as is, but some permit would once
 *                      `context.approval` is present; that policy's
 *                      annotations give the terms (annotations.ts);
 *   - deny             otherwise.
 * A statement runs only if every (action, table) pair of every statement is
 * allowed. Fail closed: any engine failure, evaluation error (an erroring
 * policy might have been a forbid) or exception is a deny with reason
 * `policy_error`, and says so.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { Authorizer } from '../ports.ts';
import type { Principal } from '../identity/principal.ts';
import type { Classification, SqlAction } from '../classify/sql/types.ts';
import type { AccessRequest, ApprovalTerms, Decision, ReasonCode } from './decision.ts';
import {
  PolicyCompileError,
  type CedarAuthorizerOptions,
  type CedarEngine,
  type PairDecision,
  type StatementContext,
  type StatementDecision,
  type StatementEffect,
} from './authorizer-types.ts';
import {
  ACTION_ENTITIES,
  actionUid,
  connectionEntity,
  dataClassEntity,
  identityUid,
  principalEntities,
  principalKey,
  requestContext,
  tableEntity,
  type RequestContextInput,
} from './entities.ts';
import { LruCache } from './lru.ts';
import { compilePolicies, type CompiledPolicy, type PolicyProblem } from './source.ts';
import { DEFAULT_DATA_CLASSES } from './schema.ts';
import { alternativesSentence, pairMessage, resourceLabel } from './messages.ts';

export { PolicyCompileError };
export type { CedarAuthorizerOptions, CedarEngine, PairDecision, StatementContext, StatementDecision, StatementEffect };

const wasmEngine: CedarEngine = {
  preparsePolicySet: (id, p) => cedar.preparsePolicySet(id, p),
  preparseSchema: (n, s) => cedar.preparseSchema(n, s),
  statefulIsAuthorized: (c) => cedar.statefulIsAuthorized(c),
};

type Resource = { kind: 'table'; table: string } | { kind: 'connection' } | { kind: 'dataClass'; name: string };

interface Verdict {
  readonly effect: StatementEffect;
  readonly reason: ReasonCode;
  readonly policyIds: readonly string[];
  readonly approval?: ApprovalTerms;
  readonly error?: string;
}

let instances = 0;

export class CedarAuthorizer implements Authorizer {
  readonly version: number;
  readonly policies: readonly CompiledPolicy[];
  readonly warnings: readonly PolicyProblem[];
  readonly dataClasses: readonly string[];
  readonly #engine: CedarEngine;
  readonly #psetId: string;
  readonly #schemaName: string | undefined;
  readonly #byId: ReadonlyMap<string, { policy: CompiledPolicy; index: number }>;
  readonly #cache: LruCache<string, Verdict>;
  readonly #memo = new WeakMap<Classification, Map<string, StatementDecision>>();
  readonly #principalKeys = new WeakMap<Principal, { key: string; entities: cedar.EntityJson[] }>();
  #hits = 0;
  #misses = 0;

  private constructor(opts: CedarAuthorizerOptions, policies: readonly CompiledPolicy[], warnings: readonly PolicyProblem[]) {
    this.version = opts.version ?? 1;
    this.policies = policies;
    this.warnings = warnings;
    this.dataClasses = [...(opts.dataClasses ?? DEFAULT_DATA_CLASSES)];
    this.#engine = opts.engine ?? wasmEngine;
    this.#byId = new Map(policies.map((p, index) => [p.id, { policy: p, index }]));
    this.#cache = new LruCache(opts.cacheSize ?? 10_000);
    instances += 1;
    // Cedar keeps preparsed sets in a per-thread table keyed by id, so every
    // authorizer (= policy version) gets its own id: an old authorizer still
    // finishing a decision during a reload keeps deciding with its own set.
    this.#psetId = `gatehouse-${instances}-v${this.version}`;
    const pset = this.#engine.preparsePolicySet(this.#psetId, { staticPolicies: Object.fromEntries(policies.map((p) => [p.id, p.text])) });
    if (pset.type === 'failure') throw new PolicyCompileError(pset.errors.map((e) => ({ file: '?', line: 0, message: e.message })));
    if (opts.validateRequests) {
      this.#schemaName = `${this.#psetId}-schema`;
      const s = this.#engine.preparseSchema(this.#schemaName, opts.schemaText);
      if (s.type === 'failure') throw new PolicyCompileError(s.errors.map((e) => ({ file: opts.schemaFile ?? 'gatehouse.cedarschema', line: 0, message: e.message })));
    }
  }

  /** Compile and validate; throws PolicyCompileError listing every problem with file and line. */
  static create(opts: CedarAuthorizerOptions): CedarAuthorizer {
    const compiled = compilePolicies(opts.policies, opts.schemaText, opts.schemaFile);
    if (compiled.errors.length > 0) throw new PolicyCompileError(compiled.errors);
    return new CedarAuthorizer(opts, compiled.policies, compiled.warnings);
  }

  /** Decision-cache counters (for benchmarks and tests). */
  get cacheStats(): { hits: number; misses: number; size: number } {
    return { hits: this.#hits, misses: this.#misses, size: this.#cache.size };
  }

  policy(id: string): CompiledPolicy | undefined {
    return this.#byId.get(id)?.policy;
  }

  // --- the Authorizer port ----------------------------------------------------

  authorize(req: AccessRequest): Decision {
    try {
      const ctx: RequestContextInput = {
        time: req.context.time,
        clientAddress: req.context.clientAddress,
        connection: req.connection,
        fingerprint: req.context.statementFingerprint ?? '',
        statement: req.context.statementKind ?? '',
        flags: req.context.flags ?? [],
        approval: req.context.approval,
        grant: req.context.grant,
      };
      if (req.action === 'connect') {
        return this.#single(req.principal, req.connection, 'connect', { kind: 'connection' }, ctx);
      }
      if (req.action === 'unmask') {
        if (req.dataClass === undefined) return this.#denied('no_policy_permits', 'unmask needs a data class', []);
        return this.#single(req.principal, req.connection, 'unmask', { kind: 'dataClass', name: req.dataClass }, ctx);
      }
      if (isSqlAction(req.action)) {
        const tables = req.tables && req.tables.length > 0 ? req.tables : [null];
        const classification: Classification = {
          statements: [{ kind: ctx.statement, pairs: tables.map((table) => ({ action: req.action as SqlAction, table })), flags: ctx.flags }],
          fingerprint: ctx.fingerprint === '' ? null : ctx.fingerprint,
        };
        return this.decideStatement(req.principal, req.connection, classification, req.context).decision;
      }
      return this.#denied('no_policy_permits', `Gatehouse denied ${req.action}: not an action Gatehouse policy knows`, []);
    } catch (e) {
      // Fail closed: whatever went wrong, the answer is no.
      return this.#denied('policy_error', `Gatehouse denied ${req.action}: the policy engine failed (${errorText(e)}); denied to be safe`, []);
    }
  }

  /** `connect` for a session. */
  decideConnect(principal: Principal, connection: string, context: StatementContext): Decision {
    return this.authorize({ principal, action: 'connect', connection, context });
  }

  /** Data classes the principal may see in clear. Fails closed to [] (mask everything). */
  unmaskable(principal: Principal, connection: string, context: StatementContext): string[] {
    try {
      const ctx = this.#ctx(connection, context, '', '', []);
      // Unmask is decided without statement details so it caches per session.
      return this.dataClasses.filter((dc) => this.#verdict(principal, connection, 'unmask', { kind: 'dataClass', name: dc }, ctx).effect === 'allow');
    } catch {
      return [];
    }
  }

  // --- statements ---------------------------------------------------------------

  decideStatement(principal: Principal, connection: string, classification: Classification, context: StatementContext): StatementDecision {
    try {
      // Whole-statement memo: the same Classification object (the classifier
      // cache shares them) for the same principal, connection, hour, weekday
      // and client address decides the same way under this policy version.
      // Never with an approval or grant in the context, never for errors.
      const memoable = context.approval === undefined && context.grant === undefined;
      if (!memoable) return this.#decideStatement(principal, connection, classification, context);
      const when = new Date(context.time);
      const key = `${this.#principal(principal).key}\u0000${connection}\u0000${when.getUTCHours()}\u0000${when.getUTCDay()}\u0000${context.clientAddress}`;
      let memo = this.#memo.get(classification);
      const hit = memo?.get(key);
      if (hit) {
        this.#hits += 1;
        return hit;
      }
      const d = this.#decideStatement(principal, connection, classification, context);
      if (!d.reasons.some((r) => r.code === 'policy_error')) {
        if (!memo) this.#memo.set(classification, (memo = new Map()));
        if (memo.size < 256) memo.set(key, d);
      }
      return d;
    } catch (e) {
      const message = `Gatehouse denied the statement: the policy engine failed (${errorText(e)}); denied to be safe`;
      return {
        effect: 'deny',
        policyIds: [],
        reasons: [{ code: 'policy_error', message }],
        message,
        pairs: [],
        unmaskable: [],
        policyVersion: this.version,
        decision: { ...this.#denied('policy_error', message, []), unmask: [] },
      };
    }
  }

  #decideStatement(principal: Principal, connection: string, c: Classification, context: StatementContext): StatementDecision {
    const pairs: PairDecision[] = [];
    c.statements.forEach((stmt, statementIndex) => {
      const ctx = this.#ctx(connection, context, c.fingerprint ?? '', stmt.kind, stmt.flags);
      for (const pair of stmt.pairs) {
        const v =
          pair.action === 'sql:transaction'
            ? ({ effect: 'allow', reason: 'transaction_control', policyIds: [] } satisfies Verdict)
            : this.#verdict(principal, connection, pair.action, pair.table === null ? { kind: 'connection' } : { kind: 'table', table: pair.table }, ctx);
        const detail = pair.action === 'sql:unknown' ? unknownDetail(c, stmt.kind, stmt.flags) : undefined;
        pairs.push({
          statementIndex,
          action: pair.action,
          table: pair.table,
          effect: v.effect,
          reason: v.reason,
          policyIds: v.policyIds,
          ...(v.approval ? { approval: v.approval } : {}),
          message: pairMessage({ ...v, action: pair.action, resource: resourceLabel(pair.table, connection), principal, policy: (id) => this.policy(id), detail }),
        });
      }
    });
    const unmaskable = this.unmaskable(principal, connection, context);
    const denied = pairs.filter((p) => p.effect === 'deny');
    const pending = pairs.filter((p) => p.effect === 'require_approval');
    const base = { pairs, unmaskable, policyVersion: this.version };

    if (denied.length > 0) {
      const first = denied[0] as PairDecision;
      const stmt = c.statements[first.statementIndex];
      const ctx = this.#ctx(connection, context, c.fingerprint ?? '', stmt?.kind ?? '', stmt?.flags ?? []);
      let message = `${first.message}${this.#alternatives(principal, connection, first, ctx)}`;
      if (denied.length > 1) message += ` (${denied.length - 1} more denied: ${denied.slice(1, 4).map((d) => `${d.action} on ${resourceLabel(d.table, connection)}`).join(', ')}${denied.length > 4 ? ', …' : ''})`;
      const policyIds = unique(denied.flatMap((d) => d.policyIds));
      const reasons = [{ code: first.reason, message }];
      return { ...base, effect: 'deny', policyIds, reasons, message, decision: { effect: 'deny', policyIds, reasons, message, unmask: unmaskable, policyVersion: this.version } };
    }
    if (pending.length > 0) {
      const strictest = pending.reduce((a, b) => ((b.approval?.approvals ?? 0) > (a.approval?.approvals ?? 0) ? b : a));
      const approval = strictest.approval;
      const message = strictest.message;
      const policyIds = unique(pending.flatMap((d) => d.policyIds));
      const reasons = [{ code: 'approval_required' as const, message }];
      return {
        ...base,
        effect: 'require_approval',
        policyIds,
        reasons,
        message,
        ...(approval ? { approval } : {}),
        decision: { effect: 'deny', policyIds, reasons, message, ...(approval ? { approval } : {}), unmask: unmaskable, policyVersion: this.version },
      };
    }
    const policyIds = unique(pairs.flatMap((d) => d.policyIds));
    const summary = pairs.filter((p) => p.action !== 'sql:transaction').map((p) => `${p.action} on ${resourceLabel(p.table, connection)}`);
    const message =
      pairs.length === 0
        ? 'Gatehouse allowed an empty query'
        : summary.length === 0
          ? 'Gatehouse allowed transaction control'
          : `Gatehouse allowed ${summary.join(', ')}${policyIds.length ? ` (${policyIds.map((id) => `policy '${id}'`).join(', ')})` : ''}`;
    const reasons = [{ code: summary.length === 0 ? ('transaction_control' as const) : ('permitted_by_policy' as const), message }];
    return { ...base, effect: 'allow', policyIds, reasons, message, decision: { effect: 'allow', policyIds, reasons, message, unmask: unmaskable, policyVersion: this.version } };
  }

  /** " Policy 'agents-read-only' allows sql:read." — what the principal may do on the same resource. */
  #alternatives(principal: Principal, connection: string, denied: PairDecision, ctx: RequestContextInput): string {
    const resource: Resource = denied.table === null ? { kind: 'connection' } : { kind: 'table', table: denied.table };
    const options: { action: string; verdict: Verdict }[] = [];
    for (const action of ['sql:read', 'sql:write', 'sql:ddl', 'sql:privilege', 'sql:admin'] as const) {
      if (action === denied.action) continue;
      const v = this.#verdict(principal, connection, action, resource, { ...ctx, approval: undefined });
      if (v.effect !== 'deny') options.push({ action, verdict: v });
    }
    return alternativesSentence(options, resourceLabel(denied.table, connection), principal);
  }

  #ctx(connection: string, context: StatementContext, fingerprint: string, statement: string, flags: readonly string[]): RequestContextInput {
    return { time: context.time, clientAddress: context.clientAddress, connection, fingerprint, statement, flags, approval: context.approval, grant: context.grant };
  }

  #single(principal: Principal, connection: string, action: string, resource: Resource, ctx: RequestContextInput): Decision {
    const v = this.#verdict(principal, connection, action, resource, ctx);
    const label = resource.kind === 'dataClass' ? `data class '${resource.name}'` : resourceLabel(null, connection);
    const message = pairMessage({ ...v, action, resource: label, principal, policy: (id) => this.policy(id), detail: undefined });
    const reasons = [{ code: v.reason, message }];
    const effect = v.effect === 'allow' ? 'allow' : 'deny';
    return { effect, policyIds: v.policyIds, reasons, message, policyVersion: this.version, ...(v.approval ? { approval: v.approval } : {}) };
  }

  #denied(code: ReasonCode, message: string, policyIds: readonly string[]): Decision {
    return { effect: 'deny', policyIds, reasons: [{ code, message }], message, policyVersion: this.version };
  }

  #principal(p: Principal): { key: string; entities: cedar.EntityJson[] } {
    let hit = this.#principalKeys.get(p);
    if (!hit) {
      hit = { key: principalKey(p), entities: principalEntities(p) };
      this.#principalKeys.set(p, hit);
    }
    return hit;
  }

  /** One (action, resource) decision, cached unless an approval or grant is in the context. */
  #verdict(principal: Principal, connection: string, action: string, resource: Resource, ctx: RequestContextInput): Verdict {
    const pr = this.#principal(principal);
    const resKey = resource.kind === 'table' ? `t:${resource.table}` : resource.kind === 'dataClass' ? `d:${resource.name}` : 'c';
    const cacheable = ctx.approval === undefined && ctx.grant === undefined;
    const hour = new Date(ctx.time).getUTCHours();
    const day = new Date(ctx.time).getUTCDay();
    const key = cacheable
      ? JSON.stringify([this.version, pr.key, connection, action, resKey, hour, day, ctx.clientAddress, ctx.fingerprint, ctx.statement, ctx.flags])
      : '';
    if (cacheable) {
      const hit = this.#cache.get(key);
      if (hit) {
        this.#hits += 1;
        return hit;
      }
      this.#misses += 1;
    }
    const v = this.#evaluate(principal, pr.entities, connection, action, resource, ctx);
    // Errors are not cached: a transient engine failure must not stick.
    if (cacheable && v.reason !== 'policy_error') this.#cache.set(key, v);
    return v;
  }

  #evaluate(principal: Principal, entities: cedar.EntityJson[], connection: string, action: string, resource: Resource, ctx: RequestContextInput): Verdict {
    try {
      const resourceEntities =
        resource.kind === 'table'
          ? [tableEntity(resource.table, connection), connectionEntity(connection)]
          : resource.kind === 'dataClass'
            ? [dataClassEntity(resource.name)]
            : [connectionEntity(connection)];
      const call = (context: RequestContextInput): cedar.Response => {
        const answer = this.#engine.statefulIsAuthorized({
          principal: identityUid(principal),
          action: actionUid(action),
          resource: resourceEntities[0]!.uid,
          context: requestContext(context),
          preparsedPolicySetId: this.#psetId,
          entities: [...entities, ...resourceEntities, ...ACTION_ENTITIES],
          ...(this.#schemaName ? { preparsedSchemaName: this.#schemaName, validateRequest: true } : {}),
        });
        if (answer.type === 'failure') throw new Error(answer.errors.map((e) => e.message).join('; '));
        return answer.response;
      };
      const base = call(ctx);
      if (base.diagnostics.errors.length > 0) return evalError(base);
      if (base.decision === 'allow') return { effect: 'allow', reason: 'permitted_by_policy', policyIds: base.diagnostics.reason };
      if (base.diagnostics.reason.length > 0) return { effect: 'deny', reason: 'forbidden_by_policy', policyIds: base.diagnostics.reason };
      if (ctx.approval !== undefined || action === 'connect' || action === 'unmask') return { effect: 'deny', reason: 'no_policy_permits', policyIds: [] };
      // Nothing applies as is: would a policy permit it once approved?
      const probe = call({ ...ctx, approval: { id: 'pending', approvers: [], approvedAt: ctx.time } });
      if (probe.diagnostics.errors.length > 0) return evalError(probe);
      if (probe.decision === 'allow') return { effect: 'require_approval', reason: 'approval_required', policyIds: probe.diagnostics.reason, approval: this.#terms(probe.diagnostics.reason) };
      return { effect: 'deny', reason: 'no_policy_permits', policyIds: [] };
    } catch (e) {
      return { effect: 'deny', reason: 'policy_error', policyIds: [], error: errorText(e) };
    }
  }

  /** The strictest terms among the policies that would permit (most approvals; then policy order). */
  #terms(ids: readonly string[]): ApprovalTerms {
    const found = ids
      .map((id) => this.#byId.get(id))
      .filter((x): x is { policy: CompiledPolicy; index: number } => x !== undefined)
      .sort((a, b) => b.policy.approval.approvals - a.policy.approval.approvals || a.index - b.index);
    const best = found[0];
    if (!best) return { approvers: [], approvals: 1, ttlSeconds: 900, policyId: ids[0] ?? '' };
    return { ...best.policy.approval, policyId: best.policy.id };
  }
}

function evalError(r: cedar.Response): Verdict {
  // Cedar skips a policy whose evaluation errors; it might have been a forbid.
  const ids = unique(r.diagnostics.errors.map((e) => e.policyId));
  return { effect: 'deny', reason: 'policy_error', policyIds: ids, error: r.diagnostics.errors.map((e) => e.error.message).join('; ') };
}

function isSqlAction(a: string): boolean {
  return a === 'sql:read' || a === 'sql:write' || a === 'sql:ddl' || a === 'sql:privilege' || a === 'sql:admin' || a === 'sql:unknown' || a === 'sql:transaction';
}

function unknownDetail(c: Classification, kind: string, flags: readonly string[]): string {
  if (c.parseError !== undefined) return `the statement could not be classified: ${c.parseError}`;
  const unknownKind = flags.find((f) => f.startsWith('unknown_statement:'));
  if (unknownKind) return `Gatehouse does not recognise ${unknownKind.slice('unknown_statement:'.length)} statements`;
  const prepared = flags.find((f) => f.startsWith('unknown_prepared:'));
  if (prepared) return `prepared statement '${prepared.slice('unknown_prepared:'.length)}' was not prepared through Gatehouse`;
  return `${kind} could not be classified`;
}

function unique(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
