/**
 * Masking in the Postgres relay (issue 4; docs/masking.md).
 *
 * `MaskingService` (one per gateway) holds the compiled rules, the token
 * master key, the upstream catalogs and a lineage cache. `SessionMasking`
 * (one per relay session) tracks what the client named — prepared
 * statements, portals, Describe requests, SQL-level PREPARE and cursors — so
 * that every result can be planned, and `StatementMask` (one per Query or
 * Execute) plans and rewrites that statement's results:
 *
 * - RowDescription (passed unchanged) → a plan per result column from its
 *   origin (table OID, attnum → `schema.table.column` from the catalog) and
 *   from statement lineage; `Masker.planForRow`;
 * - DataRow → `maskDataRow`, text and binary formats; held (decoded) only
 *   when the plan masks something, otherwise forwarded untouched;
 * - Execute without a RowDescription: the plan comes from the portal's
 *   Describe answer, the statement's (with the Bind's result formats), or a
 *   Describe(portal) Gatehouse sends itself just before the Execute and whose
 *   answer it swallows. Portals fetched in pieces keep their plan;
 * - COPY … TO STDOUT: text, CSV and binary, planned from the statement's COPY
 *   options, lineage and catalog column types;
 * - ErrorResponse / NoticeResponse fields and NotificationResponse payloads:
 *   detectors, plus stricter rules when the statement reads a masked class.
 *
 * Fail closed (principle 4): whatever cannot be planned or masked raises
 * GW_MASKING_UNSUPPORTED; the relay then sends an ErrorResponse naming the
 * column instead of the row, and discards the rest of the statement's
 * output until ReadyForQuery. A statement that cannot be planned before it
 * runs (catalog unreadable, binary COPY of a query, inference guard,
 * laundering write) is refused before it is forwarded.
 */
import type { Logger } from '../../core/logger.ts';
import type { Session } from '../../core/sessions/session-service.ts';
import type { Classification } from '../../core/classify/sql/types.ts';
import { flushTally, IN_BYTES, Masker, newTally, type ColumnLineage, type CompiledRules, type RangeResult, type RowPlan, type RowRanges } from '../../core/masking/engine.ts';
import { lineageForColumns, type LineageCatalog, type LineageResult } from '../../core/masking/lineage/index.ts';
import { ALL_UNKNOWN, analyzeQuery, LineageSessionState, type QueryLineage, type StatementLineage } from '../../core/masking/lineage/statements.ts';
import { OID } from '../../core/masking/pgtypes.ts';
import { UNKNOWN_LINEAGE, type ClassCounts, type DataClass, type ResultColumn } from '../../core/masking/types.ts';
import { GatewayError, isGatewayError } from '../../shared/errors.ts';
import { decodeErrorFields } from '../../wire/postgres/backend.ts';
import {
  CopyRowDecoder, decodeCopyOutResponse, decodeRowDescription, encodeCopyData, encodeCopyRow,
  type CopyFormat, type CopyItem, type RowField,
} from '../../wire/postgres/rows.ts';
import type { CatalogRegistry, CatalogSnapshot, UpstreamCatalog } from './catalog.ts';
import type { PostgresUpstreamSpec } from './spec.ts';

export interface MaskingServiceOptions {
  rules: CompiledRules;
  /** Token master key (≥ 16 bytes); scope keys are derived per identity / session. */
  masterKey: Buffer;
  /** masking.guardPredicates */
  guardPredicates: boolean;
  catalogs: CatalogRegistry;
  /** Bound on a COPY row held across CopyData messages. */
  maxCopyRowBytes: number;
  log: Logger;
}

const LINEAGE_CACHE = 2000;
/** A snapshot this old or older is read again when a statement names a relation it does not know. */
const MISSING_REFRESH_MS = 1000;
const EMPTY: ReadonlySet<string> = new Set();

export class MaskingService {
  readonly #lineage = new Map<string, QueryLineage>();

  constructor(readonly opts: MaskingServiceOptions) {}

  /** Classes bound by column rules (policy's `unmask` is asked about these too). */
  get boundClasses(): ReadonlySet<DataClass> {
    return this.opts.rules.bound;
  }

  forSession(session: Session): SessionMasking {
    const spec = session.connection.spec as PostgresUpstreamSpec;
    return new SessionMasking(this, session, this.opts.catalogs.get(session.connection.name, spec));
  }

  /** Statement lineage, cached by text, search_path, connection and catalog version (stateless results only). */
  lineage(sql: string, connection: string, searchPath: readonly string[], snapshot: CatalogSnapshot | null, catalog: LineageCatalog, state: LineageSessionState, lookupPortal: (name: string) => LineageResult | undefined): QueryLineage {
    const key = `${connection}\u0000${snapshot?.version ?? 0}\u0000${searchPath.join(',')}\u0000${sql}`;
    const hit = this.#lineage.get(key);
    if (hit) return hit;
    const q = analyzeQuery(sql, catalog, state, { lookupPortal });
    if (!q.stateful && q.missingRelations.length === 0) {
      if (this.#lineage.size >= LINEAGE_CACHE) this.#lineage.delete(this.#lineage.keys().next().value!);
      this.#lineage.set(key, q);
    }
    return q;
  }

  invalidateCatalog(connection: string): void {
    this.opts.catalogs.invalidate(connection);
  }

  close(): Promise<void> {
    return this.opts.catalogs.close();
  }
}

// ---------------------------------------------------------------------------

interface StmtInfo {
  readonly query: string;
  readonly searchPath: readonly string[];
  /** From a Describe answer: the columns (formats all text), null for NoData, undefined while unknown. */
  desc?: RowField[] | null;
  /** Describe requests for this statement still waiting for their answer. */
  describing: number;
}

interface PortalInfo {
  readonly stmt: StmtInfo | null;
  /** Bind's result format codes: none = all text, one = all columns, else per column. */
  readonly formats: readonly number[];
  desc?: RowField[] | null;
  describing: number;
  /** The plan of the last Execute, reused while the unmask set and catalog are the same. */
  plan?: { readonly key: string; readonly plan: RowPlan };
}

interface DescribeWait {
  /** Which ReadyForQuery cycle the answer belongs to (see PgRelaySession #cycle). */
  readonly cycle: number;
  readonly target: StmtInfo | PortalInfo | null;
  /** Sent by Gatehouse (Execute without Describe): the answer is not forwarded. */
  readonly injected: boolean;
}

export type PrepareRequest = {
  readonly kind: 'query' | 'execute' | 'fastpath';
  /** The Query's text (unused for execute: the portal's statement is used). */
  readonly sql: string;
  readonly portal?: string;
  readonly classification: Classification;
  readonly unmaskable: readonly string[];
  readonly searchPath: readonly string[];
  /** The ReadyForQuery cycle an injected Describe would be answered in. */
  readonly cycle: number;
};

export type Prepared =
  | { readonly refuse: { readonly code: string; readonly message: string } }
  | { readonly refuse?: undefined; readonly ctx: StatementMask | null; readonly inject: Buffer | null };

export class SessionMasking {
  readonly masker: Masker;
  readonly #service: MaskingService;
  readonly #session: Session;
  readonly #catalog: UpstreamCatalog;
  readonly #statements = new Map<string, StmtInfo>();
  readonly #portals = new Map<string, PortalInfo>();
  #describes: DescribeWait[] = [];
  readonly #state = new LineageSessionState();
  /** The last statement's unmask set: used for notifications, which belong to no statement. Empty (mask all) until then. */
  #unmask: ReadonlySet<string> = EMPTY;
  #unmaskFrom: readonly string[] | null = null;

  constructor(service: MaskingService, session: Session, catalog: UpstreamCatalog) {
    this.#service = service;
    this.#session = session;
    this.#catalog = catalog;
    const p = session.principal;
    this.masker = new Masker(service.opts.rules, { master: service.opts.masterKey, identity: `${p.issuer}\u0000${p.subject}`, session: session.id });
  }

  get connection(): string {
    return this.#session.connection.name;
  }

  get log(): Logger {
    return this.#session.log;
  }

  get maxCopyRowBytes(): number {
    return this.#service.opts.maxCopyRowBytes;
  }

  /** True when text messages (notices, notifications) may need masking for this session. */
  get scansText(): boolean {
    return !this.masker.masksNothing(this.#unmask);
  }

  // ---- what the client names ------------------------------------------

  onParse(name: string, query: string, searchPath: readonly string[]): void {
    this.#statements.set(name, { query, searchPath, describing: 0 });
  }

  onBind(portal: string, statement: string, formats: readonly number[]): void {
    this.#portals.set(portal, { stmt: this.#statements.get(statement) ?? null, formats, describing: 0 });
  }

  onClose(target: 'S' | 'P', name: string): void {
    (target === 'S' ? this.#statements : this.#portals).delete(name);
  }

  onDescribe(target: 'S' | 'P', name: string, cycle: number): void {
    const t = (target === 'S' ? this.#statements : this.#portals).get(name) ?? null;
    if (t) t.describing++;
    this.#describes.push({ cycle, target: t, injected: false });
  }

  // ---- upstream answers -----------------------------------------------

  /** A RowDescription: a Describe answer (recorded; dropped when Gatehouse asked) or a Query result (planned). */
  onRowDescription(frame: Buffer, head: StatementMask | null | undefined, cycle: number): Buffer | null {
    const d = this.#answer(cycle);
    if (d) {
      const fields = decodeRowDescription(frame.subarray(5));
      if (d.target) {
        d.target.desc = fields;
        d.target.describing--;
      }
      return d.injected ? null : frame;
    }
    head?.onRowDescription(frame);
    return frame;
  }

  onNoData(frame: Buffer, cycle: number): Buffer | null {
    const d = this.#answer(cycle);
    if (!d) return frame;
    if (d.target) {
      d.target.desc = null;
      d.target.describing--;
    }
    return d.injected ? null : frame;
  }

  /** An ErrorResponse: the upstream skips the rest of this batch, so Describes of this cycle go unanswered. */
  onError(cycle: number): void {
    this.#dropThrough(cycle);
  }

  onReadyForQuery(cycle: number): void {
    this.#dropThrough(cycle);
  }

  #answer(cycle: number): DescribeWait | undefined {
    this.#dropThrough(cycle - 1);
    return this.#describes[0]?.cycle === cycle ? this.#describes.shift() : undefined;
  }

  #dropThrough(cycle: number): void {
    while (this.#describes.length > 0 && this.#describes[0]!.cycle <= cycle) {
      const d = this.#describes.shift()!;
      if (d.target) d.target.describing--;
    }
  }

  // ---- before a statement is forwarded ------------------------------------

  #unmaskSet(list: readonly string[]): ReadonlySet<string> {
    if (list !== this.#unmaskFrom) {
      this.#unmaskFrom = list;
      this.#unmask = list.length === 0 ? EMPTY : new Set(list);
    }
    return this.#unmask;
  }

  /**
   * Plan a Query or Execute that policy allowed: lineage (with the upstream
   * catalog when column rules matter), the inference guard, the laundering
   * checks. Returns a refusal, or the statement's masking context (null on
   * the fast path: this principal sees everything in clear) and a Describe
   * to send before an Execute whose columns are not known yet.
   */
  async prepare(req: PrepareRequest): Promise<Prepared> {
    const unmask = this.#unmaskSet(req.unmaskable);
    const m = this.masker;
    if (m.masksNothing(unmask)) return { ctx: null, inject: null };
    const who = this.#session.principal.subject;
    if (req.kind === 'fastpath') {
      return refuse('42501', `Gatehouse denied the fast-path function call: its result cannot be masked, and ${who} may not see every data class in clear`);
    }
    // 'unknown' lineage, a relation the catalog does not know, and every
    // rule-bound class matter only while some bound class stays masked.
    const boundMasked = [...m.boundClasses].some((c) => !unmask.has(c));

    let portal: PortalInfo | null = null;
    let sql = req.sql;
    let searchPath = req.searchPath;
    if (req.kind === 'execute') {
      portal = this.#portals.get(req.portal ?? '') ?? null;
      sql = portal?.stmt?.query ?? '';
      searchPath = portal?.stmt?.searchPath ?? req.searchPath;
    }

    // Without a masked bound class, lineage cannot change a plan (it only ever names bound classes,
    // and 'unknown' masks nothing then): skip the parse, except for COPY, whose options are needed.
    if (!boundMasked && !req.classification.statements.some((s) => s.flags.includes('copy_to_stdout'))) {
      return { ctx: new StatementMask(this, unmask, NO_LINEAGE, null, portal, searchPath, false, false, false), inject: this.#describeFor(portal, req) };
    }
    let snapshot: CatalogSnapshot | null = null;
    if (boundMasked) {
      try {
        snapshot = await this.#catalog.snapshot();
      } catch (e) {
        // Fail closed: without the catalog, bound columns cannot be recognised.
        return refuse('58000', `Gatehouse refused the statement: ${isGatewayError(e) && e.clientSafe ? e.message : 'the upstream catalog could not be read for masking'}; nothing was sent upstream`);
      }
    }
    let q = this.#analyze(sql, searchPath, snapshot);
    if (snapshot && q.missingRelations.length > 0 && Date.now() - snapshot.takenAt >= MISSING_REFRESH_MS) {
      // A relation newer than the snapshot (or a typo): read the catalog again once, then trust the answer.
      try {
        snapshot = await this.#catalog.snapshot(0);
      } catch (e) {
        return refuse('58000', `Gatehouse refused the statement: ${isGatewayError(e) && e.clientSafe ? e.message : 'the upstream catalog could not be read for masking'}; nothing was sent upstream`);
      }
      q = this.#analyze(sql, searchPath, snapshot);
    }
    this.#state.applyEffects(q);

    const masked = (c: string): boolean => (c === UNKNOWN_LINEAGE ? boundMasked : !unmask.has(c));
    if (this.#service.opts.guardPredicates) {
      const v = m.predicateViolations(q.predicateClasses, unmask);
      if (v.length > 0) {
        return refuse(
          '42501',
          `Gatehouse denied the statement: it filters, joins, sorts or groups on ${list(v)}, which ${who} may not see in clear (masking.guardPredicates: such a statement can reveal values, as in WHERE ssn LIKE '123%'). ` +
            `Select the column without using it in WHERE, JOIN, ORDER BY, GROUP BY, DISTINCT ON or a window, or ask for a policy that permits unmask on it`,
        );
      }
    }
    const laundered = q.writeClasses.filter(masked);
    if (laundered.length > 0) {
      const named = laundered.filter((c) => c !== UNKNOWN_LINEAGE);
      return refuse(
        '42501',
        `Gatehouse denied the statement: it would copy ${named.length ? list(named) + ' values' : 'values it cannot trace (a function whose body Gatehouse cannot see)'} into another column or table, where masking could no longer follow them; ${who} may not see ${named.length ? list(named) : 'every data class'} in clear`,
      );
    }
    const reach = reachedClasses(q).filter(masked);
    const rowsUnknown = q.statements.some((s) => s.rowsUnknownIfAny) && boundMasked;
    const strict = reach.length > 0 || rowsUnknown;
    if (reach.length > 0 && req.classification.statements.some((s) => s.flags.includes('side_effect_function:pg_notify'))) {
      return refuse('42501', `Gatehouse denied the statement: pg_notify would send values derived from ${list(reach.filter((c) => c !== UNKNOWN_LINEAGE)) || 'an expression it cannot trace'} to listeners, outside masking`);
    }

    // COPY … TO STDOUT (FORMAT binary) carries no types: they must come from the catalog.
    for (const st of q.statements) {
      if (st.copy?.options.kind !== 'binary') continue;
      if (!st.copy.relation) {
        return refuse(
          '42501',
          `Gatehouse refused COPY (query) TO STDOUT in binary format: binary COPY carries no column types, and ${who} may not see every data class in clear. Use FORMAT text or csv, or COPY a table`,
        );
      }
      try {
        snapshot ??= await this.#catalog.snapshot();
      } catch (e) {
        return refuse('58000', `Gatehouse refused the binary COPY: ${isGatewayError(e) && e.clientSafe ? e.message : 'the upstream catalog could not be read'}; nothing was sent upstream`);
      }
      const rel = snapshot.resolve(st.copy.relation.schema, st.copy.relation.name, searchPath);
      const cols = st.copy.relation.columns;
      if (!rel || (cols && cols.some((c) => !rel.columns.some((x) => x.name === c)))) {
        return refuse('42501', `Gatehouse refused the binary COPY: the column types of ${st.copy.relation.name} are not in the upstream catalog, so its values cannot be masked`);
      }
    }

    const invalidates = req.classification.statements.some((s) => s.pairs.some((p) => p.action === 'sql:ddl' || p.action === 'sql:admin' || p.action === 'sql:privilege'));
    const ctx = new StatementMask(this, unmask, q, snapshot, portal, searchPath, strict, boundMasked, invalidates);
    return { ctx, inject: this.#describeFor(portal, req) };
  }

  /** Execute without a Describe: ask for the portal's columns ourselves, just before the Execute. */
  #describeFor(portal: PortalInfo | null, req: PrepareRequest): Buffer | null {
    if (!portal || portalDesc(portal) !== undefined || portal.describing > 0 || (portal.stmt?.describing ?? 0) > 0) return null;
    portal.describing++;
    this.#describes.push({ cycle: req.cycle, target: portal, injected: true });
    return DESCRIBE_PORTAL(req.portal ?? '');
  }

  #analyze(sql: string, searchPath: readonly string[], snapshot: CatalogSnapshot | null): QueryLineage {
    const m = this.masker;
    const connection = this.connection;
    const catalog: LineageCatalog = {
      searchPath: [...searchPath],
      columnClass: (s, t, c) => m.ruleClass(connection, s, t, c),
      ...(snapshot
        ? {
            columns: (s: string, t: string) => snapshot.columns(s, t),
            viewDefinition: (s: string, t: string) => snapshot.viewDefinition(s, t),
          }
        : {}),
    };
    const lookupPortal = (name: string): LineageResult | undefined => {
      const p = this.#portals.get(name);
      if (!p?.stmt) return undefined;
      return analyzeQuery(p.stmt.query, catalog, this.#state).statements[0]?.result ?? undefined;
    };
    return this.#service.lineage(sql, connection, searchPath, snapshot, catalog, this.#state, lookupPortal);
  }

  /** A statement (or its DDL) ran: forget the catalog if it may have changed it. */
  finished(ctx: StatementMask): void {
    if (ctx.invalidatesCatalog) this.#service.invalidateCatalog(this.connection);
  }

  // ---- text channels ------------------------------------------------------

  /**
   * ErrorResponse / NoticeResponse: detectors over the text fields; key
   * values of rule-bound columns in unique-violation details (they show the
   * *existing* row's value); and with `ctx.strict` (the statement reads a
   * class this principal may not see) every quoted value in the message and
   * hint — Postgres quotes the input it could not use (`invalid input syntax
   * for type integer: "…"`) — while DETAIL, CONTEXT and the internal query,
   * which quote values without marks (`JSON data, line 1: …`), are replaced.
   */
  maskNotice(frame: Buffer, ctx: StatementMask | null | undefined): Buffer {
    const unmask = ctx?.unmask ?? this.#unmask;
    if (this.masker.masksNothing(unmask)) return frame;
    const fields = decodeErrorFields(frame.subarray(5));
    let changed = false;
    const schema = fields.get('s');
    const table = fields.get('t');
    for (const code of TEXT_FIELDS) {
      const v = fields.get(code);
      if (v === undefined) continue;
      const r = this.masker.maskText(v, unmask);
      let t = r.text;
      if (ctx) ctx.add(r.counts);
      if (code === 'D') t = this.#maskKeyDetail(t, schema, table, unmask, ctx?.snapshot ?? this.#catalog.latest);
      if (ctx?.strict) t = code === 'M' || code === 'H' ? t.replace(QUOTED, '"****"') : STRICT_REPLACEMENT;
      if (t !== v) {
        fields.set(code, t);
        changed = true;
      }
    }
    return changed ? encodeFields(frame[0]!, fields) : frame;
  }

  #maskKeyDetail(detail: string, schema: string | undefined, table: string | undefined, unmask: ReadonlySet<string>, snapshot: CatalogSnapshot | null): string {
    if (schema === undefined || table === undefined || this.masker.boundClasses.size === 0) return detail;
    const bound = (col: string): boolean => {
      const c = this.masker.ruleClass(this.connection, schema, table, col);
      return c !== null && !unmask.has(c);
    };
    const key = KEY_DETAIL.exec(detail);
    if (key) {
      const cols = key[1]!.split(', ');
      // An expression index names no plain column: mask when any rule could apply to the table.
      return cols.some((c) => bound(c) || !/^[a-z_][a-z0-9_$]*$/.test(c)) ? `Key (${key[1]})=(****)${key[3]}` : detail;
    }
    const row = FAILING_ROW.exec(detail);
    if (row) {
      const rel = snapshot?.relation(schema, table);
      // Without the catalog we cannot tell: mask (fail closed).
      return !rel || rel.columns.some((c) => bound(c.name)) ? 'Failing row contains (****).' : detail;
    }
    return detail;
  }

  /** NotificationResponse: Int32 pid, channel, payload; detectors over the payload. */
  maskNotification(frame: Buffer): Buffer {
    const unmask = this.#unmask;
    if (this.masker.masksNothing(unmask)) return frame;
    const payload = frame.subarray(5);
    const ch = payload.indexOf(0, 4);
    const end = ch < 0 ? -1 : payload.indexOf(0, ch + 1);
    if (ch < 0 || end < 0) throw new GatewayError('GW_FRAME_MALFORMED', 'NotificationResponse is malformed', { clientSafe: true });
    const text = payload.subarray(ch + 1, end).toString('utf8');
    const r = this.masker.maskText(text, unmask);
    if (r.text === text) return frame;
    const body = Buffer.concat([payload.subarray(0, ch + 1), Buffer.from(r.text, 'utf8'), Buffer.of(0)]);
    const out = Buffer.allocUnsafe(5 + body.length);
    out[0] = frame[0]!;
    out.writeInt32BE(4 + body.length, 1);
    body.copy(out, 5);
    return out;
  }
}

// ---------------------------------------------------------------------------

/** The masking of one Query or Execute, attached to the relay's pending entry. */
export class StatementMask {
  readonly #counts: ClassCounts = {};
  /** DataRow values masked per plan column, not yet added to #counts (see Masker.maskRanges). */
  #tally: { readonly plan: RowPlan; readonly slots: Float64Array } | null = null;
  #plan: RowPlan | null = null;
  /** Hold DataRows (to rewrite them). True until a plan says otherwise: no plan means fail closed. */
  #hold = true;
  /** Simple Query: index of the statement whose output is streaming (CommandComplete count). */
  #stmt = 0;
  #copy: CopyState | null = null;

  constructor(
    readonly owner: SessionMasking,
    readonly unmask: ReadonlySet<string>,
    readonly lineage: QueryLineage,
    readonly snapshot: CatalogSnapshot | null,
    readonly portal: PortalInfo | null,
    readonly searchPath: readonly string[],
    /** The statement reads a class this principal may not see: error texts are sanitised harder. */
    readonly strict: boolean,
    /** Some rule-bound class stays masked: unknown lineage and unknown relations mask. */
    readonly boundMasked: boolean,
    readonly invalidatesCatalog: boolean,
  ) {}

  /** Values masked per class in this statement (counts only). */
  get counts(): ClassCounts {
    this.#flushTally();
    return this.#counts;
  }

  add(counts: ClassCounts): void {
    for (const k in counts) this.#counts[k] = (this.#counts[k] ?? 0) + counts[k]!;
  }

  get hasCounts(): boolean {
    for (const _ in this.counts) return true;
    return false;
  }

  #flushTally(): void {
    if (this.#tally) flushTally(this.#tally.plan, this.#tally.slots, this.#counts);
  }

  #statement(): StatementLineage | null {
    return this.lineage.statements[this.portal ? 0 : this.#stmt] ?? null;
  }

  /** A Query's RowDescription for its current statement. */
  onRowDescription(frame: Buffer): void {
    this.#setPlan(this.#planFor(decodeRowDescription(frame.subarray(5)), this.#statement()));
  }

  /** A statement of the Query is complete: the next one plans afresh. */
  onCommandComplete(): void {
    if (this.portal) return;
    this.#stmt++;
    this.#plan = null;
    this.#hold = true;
    this.#copy = null;
  }

  #setPlan(plan: RowPlan): void {
    this.#plan = plan;
    this.#hold = !plan.passthrough;
  }

  /** At a DataRow's header: true to hold it for rewriting, false to pass it through untouched. */
  holdRow(): boolean {
    if (this.#plan === null && this.portal) {
      try {
        this.#planPortal(this.portal);
      } catch {
        return true; // maskRow reports it
      }
    }
    return this.#hold;
  }

  #planPortal(p: PortalInfo): void {
    const desc = portalDesc(p);
    if (desc === undefined || desc === null) {
      throw new GatewayError('GW_MASKING_UNSUPPORTED', 'Gatehouse could not learn the columns of this result, so it cannot mask them; the rows were not sent', { clientSafe: true });
    }
    const key = `${this.owner.connection}\u0000${[...this.unmask].join(',')}\u0000${this.snapshot?.version ?? 0}`;
    if (p.plan?.key === key) return this.#setPlan(p.plan.plan);
    const plan = this.#planFor(desc, this.#statement());
    p.plan = { key, plan };
    this.#setPlan(plan);
  }

  /** A held DataRow: the same frame when nothing changed, else the rewritten row. Throws GW_MASKING_UNSUPPORTED. */
  maskRow(frame: Buffer): Buffer {
    try {
      if (this.#plan === null) {
        if (!this.portal) throw new GatewayError('GW_MASKING_UNSUPPORTED', 'Gatehouse received rows without a RowDescription and cannot mask them; the rows were not sent', { clientSafe: true });
        this.#planPortal(this.portal);
      }
      const plan = this.#plan!;
      if (plan.passthrough) return frame;
      const row = dataRowRanges(frame);
      let t = this.#tally;
      if (t === null || t.plan !== plan) {
        this.#flushTally();
        t = this.#tally = { plan, slots: newTally(plan) };
      }
      const r = this.owner.masker.maskRanges(plan, row, this.#counts, t.slots);
      return r === null ? frame : encodeDataRowRanges(row, r);
    } catch (e) {
      throw failure(e, this.owner.log);
    }
  }

  /**
   * Result columns → plan. Lineage comes per output column from the
   * statement; an origin whose table the catalog does not know counts as
   * 'unknown' (masked while a bound class stays masked).
   */
  #planFor(fields: readonly ResultColumn[], st: StatementLineage | null): RowPlan {
    const lin: LineageResult | null = st?.result ?? (st === null || st.rowsUnknownIfAny ? ALL_UNKNOWN : null);
    let columnClasses: ColumnLineage[] | undefined = lin ? lineageForColumns(lin, fields.length) : undefined;
    const snap = this.snapshot;
    if (this.boundMasked) {
      fields.forEach((f, i) => {
        if (f.tableOid !== 0 && !snap?.hasRelation(f.tableOid)) {
          columnClasses ??= fields.map(() => null);
          const c = columnClasses[i];
          columnClasses[i] = c === null || c === undefined ? UNKNOWN_LINEAGE : typeof c === 'string' ? [c, UNKNOWN_LINEAGE] : [...c, UNKNOWN_LINEAGE];
        }
      });
    }
    return this.owner.masker.planForRow(fields, {
      connection: this.owner.connection,
      unmask: this.unmask,
      ...(columnClasses ? { columnClasses } : {}),
      ...(snap ? { resolveColumn: (oid: number, att: number) => snap.columnName(oid, att) } : {}),
    });
  }

  // ---- COPY … TO STDOUT ----------------------------------------------------

  /** True while CopyData must be held (decoded and rewritten). */
  get holdCopy(): boolean {
    const c = this.#copy;
    // Keep feeding the decoder while it holds part of a row, even once the plan turned out to mask nothing.
    return c !== null && (c.plan?.passthrough !== true || c.decoder.bufferedBytes > 0);
  }

  /** CopyOutResponse: set up the COPY decoder and plan. Throws GW_MASKING_UNSUPPORTED. */
  onCopyOut(frame: Buffer): void {
    const maxRowBytes = this.owner.maxCopyRowBytes;
    try {
      const resp = decodeCopyOutResponse(frame.subarray(5));
      const st = this.#statement();
      const opts = st?.copy?.options;
      if (!opts && resp.format === 0) {
        // Text or CSV? Only the statement says, and we could not read it: fail closed.
        throw new GatewayError('GW_MASKING_UNSUPPORTED', 'Gatehouse could not read the COPY options of this statement, so it cannot mask its data', { clientSafe: true });
      }
      const format: CopyFormat =
        resp.format === 1
          ? { kind: 'binary' }
          : opts!.kind === 'csv'
            ? { kind: 'csv', header: opts!.header, ...pick(opts!, ['delimiter', 'null', 'quote', 'escape']) }
            : { kind: 'text', header: opts!.header, ...pick(opts!, ['delimiter', 'null']) };
      const state: CopyState = { decoder: new CopyRowDecoder(format, { maxRowBytes }), format, plan: null, fields: null, count: 0 };
      // Columns: from the catalog for COPY table (types, and origins for column rules), else from lineage.
      const rel = st?.copy?.relation;
      const r = rel && this.snapshot ? this.snapshot.resolve(rel.schema, rel.name, this.searchPath) : undefined;
      if (r) {
        const cols = rel!.columns ? rel!.columns.map((n) => r.columns.find((c) => c.name === n)) : r.columns;
        if (cols.every((c) => c !== undefined)) {
          state.fields = cols.map((c) => ({ name: c!.name, tableOid: r.oid, columnAttr: c!.attnum, typeOid: c!.typeOid, format: resp.format }));
        }
      }
      if (!state.fields && resp.format === 1) {
        throw new GatewayError('GW_MASKING_UNSUPPORTED', 'Gatehouse does not know the column types of this binary COPY, so it cannot mask it', { clientSafe: true });
      }
      if (state.fields) {
        state.plan = this.#planFor(state.fields, st);
        state.count = state.fields.length;
      } else if (st?.result && !st.result.openEnded) {
        state.plan = this.#planFor(textColumns(st.result.columns.length), st);
        state.count = st.result.columns.length;
      }
      this.#copy = state;
    } catch (e) {
      throw failure(e, this.owner.log);
    }
  }

  /** A CopyData message: the rewritten message, the frame itself when unchanged, or null while a row is incomplete. */
  maskCopyData(frame: Buffer): Buffer | null {
    const c = this.#copy!;
    try {
      const before = c.decoder.bufferedBytes;
      const items = c.decoder.push(frame.subarray(5));
      const { parts, changed } = this.#copyItems(c, items);
      if (!changed && before === 0 && c.decoder.bufferedBytes === 0) return frame;
      return parts.length === 0 ? null : encodeCopyData(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    } catch (e) {
      throw failure(e, this.owner.log);
    }
  }

  /** CopyDone: flush a last row without newline, then the CopyDone itself. */
  copyDone(frame: Buffer): Buffer {
    const c = this.#copy;
    if (!c) return frame;
    try {
      const { parts } = this.#copyItems(c, c.decoder.end());
      return parts.length === 0 ? frame : Buffer.concat([encodeCopyData(Buffer.concat(parts)), frame]);
    } catch (e) {
      throw failure(e, this.owner.log);
    }
  }

  #copyItems(c: CopyState, items: CopyItem[]): { parts: Buffer[]; changed: boolean } {
    const parts: Buffer[] = [];
    let changed = false;
    const masker = this.owner.masker;
    for (const it of items) {
      if (it.kind !== 'row' || it.header || it.fields.length === 0) {
        parts.push(it.raw);
        continue;
      }
      if (c.plan === null) {
        c.plan = this.#planFor(textColumns(it.fields.length), this.#statement());
        c.count = it.fields.length;
      }
      if (it.fields.length !== c.count) {
        // The catalog is older than the table (a column was added): positions cannot be trusted.
        throw new GatewayError('GW_MASKING_UNSUPPORTED', `Gatehouse expected ${c.count} COPY columns and received ${it.fields.length}, so it cannot mask them`, { clientSafe: true });
      }
      if (c.plan.passthrough) {
        parts.push(it.raw);
        continue;
      }
      const r = masker.maskDataRow(c.plan, it.fields);
      if (!r.changed) {
        parts.push(it.raw);
        continue;
      }
      this.add(r.counts);
      changed = true;
      parts.push(encodeCopyRow(c.format, r.values));
    }
    return { parts, changed };
  }
}

interface CopyState {
  readonly decoder: CopyRowDecoder;
  readonly format: CopyFormat;
  plan: RowPlan | null;
  fields: ResultColumn[] | null;
  /** Columns per row the plan was made for. */
  count: number;
}

// ---------------------------------------------------------------------------

// ---- DataRow as ranges (the hot path: no Buffer per value) ----

/** Reused row after row (the relay is synchronous): no allocation per row. */
const ROW: { buf: Buffer; start: Int32Array; len: Int32Array; count: number } = { buf: Buffer.alloc(0), start: new Int32Array(64), len: new Int32Array(64), count: 0 };

/** Value ranges of a whole DataRow message (header included), valid until the next call. */
function dataRowRanges(frame: Buffer): RowRanges {
  const total = frame.length;
  if (total < 7) throw new GatewayError('GW_FRAME_MALFORMED', 'DataRow message is truncated', { clientSafe: true });
  const n = (frame[5]! << 8) | frame[6]!;
  if (n > ROW.start.length) {
    ROW.start = new Int32Array(n);
    ROW.len = new Int32Array(n);
  }
  const starts = ROW.start;
  const lens = ROW.len;
  let pos = 7;
  for (let i = 0; i < n; i++) {
    if (total - pos < 4) throw new GatewayError('GW_FRAME_MALFORMED', 'DataRow message is truncated', { clientSafe: true });
    const len = (frame[pos]! << 24) | (frame[pos + 1]! << 16) | (frame[pos + 2]! << 8) | frame[pos + 3]!;
    pos += 4;
    starts[i] = pos;
    lens[i] = len;
    if (len === -1) continue;
    if (len < 0 || total - pos < len) throw new GatewayError('GW_FRAME_MALFORMED', 'DataRow message is malformed', { clientSafe: true });
    pos += len;
  }
  if (pos !== total) throw new GatewayError('GW_FRAME_MALFORMED', 'DataRow message has trailing bytes', { clientSafe: true });
  ROW.buf = frame;
  ROW.count = n;
  return ROW;
}

/** Up to this many bytes, a byte loop copies faster than Buffer.copy (whose per-call overhead dominates short values). */
const SHORT = 48;

/** Copies `src[from, from + n)` to `out` at `pos`; returns n. */
function copyBytes(src: Uint8Array, from: number, n: number, out: Buffer, pos: number): number {
  if (n > SHORT) return out.set(src.subarray(from, from + n), pos), n;
  for (let j = 0; j < n; j++) out[pos + j] = src[from + j]!;
  return n;
}

function putInt32(out: Buffer, v: number, pos: number): void {
  out[pos] = v >>> 24;
  out[pos + 1] = v >>> 16;
  out[pos + 2] = v >>> 8;
  out[pos + 3] = v;
}

/**
 * The rewritten DataRow: replacements written in place; unchanged values
 * copied from the frame, each run of consecutive ones (with their length
 * words, which are adjacent in the frame) in one copy.
 */
function encodeDataRowRanges(row: RowRanges, r: RangeResult): Buffer {
  const { buf, start, len, count } = row;
  const { values, utf8, bytes, at, size: bsize } = r;
  let size = 4 + 2;
  for (let i = 0; i < count; i++) {
    const v = values[i];
    size += 4;
    if (v === undefined) size += len[i]! > 0 ? len[i]! : 0;
    else if (v === null) continue;
    else if (v === IN_BYTES) size += bsize[i]!;
    else if (typeof v === 'string') size += utf8[i] ? Buffer.byteLength(v, 'utf8') : v.length;
    else size += v.length;
  }
  const out = slab(1 + size);
  out[0] = 0x44; // 'D'
  putInt32(out, size, 1);
  out[5] = count >>> 8;
  out[6] = count;
  let pos = 7;
  // The pending run of unchanged values: frame bytes [runFrom, runEnd), or runFrom -1.
  let runFrom = -1;
  let runEnd = 0;
  for (let i = 0; i < count; i++) {
    const v = values[i];
    if (v === undefined) {
      if (runFrom < 0) runFrom = start[i]! - 4;
      runEnd = start[i]! + (len[i]! > 0 ? len[i]! : 0);
      continue;
    }
    if (runFrom >= 0) {
      pos += copyBytes(buf, runFrom, runEnd - runFrom, out, pos);
      runFrom = -1;
    }
    if (v === null) {
      putInt32(out, -1, pos);
      pos += 4;
      continue;
    }
    const lenAt = pos;
    pos += 4;
    let n: number;
    if (v === IN_BYTES) n = copyBytes(bytes, at[i]!, bsize[i]!, out, pos);
    else if (typeof v === 'string') {
      if (!utf8[i] && v.length <= SHORT) {
        for (let j = 0; j < v.length; j++) out[pos + j] = v.charCodeAt(j);
        n = v.length;
      } else n = out.write(v, pos, utf8[i] ? 'utf8' : 'latin1');
    } else n = copyBytes(v, 0, v.length, out, pos);
    putInt32(out, n, lenAt);
    pos += n;
  }
  if (runFrom >= 0) pos += copyBytes(buf, runFrom, runEnd - runFrom, out, pos);
  // allocUnsafe memory must never leave the process partly unwritten.
  if (pos !== out.length) throw new GatewayError('GW_INTERNAL', 'DataRow size mismatch');
  return out;
}

/** No statement lineage: every result column is planned from its origin and the detectors. */
const NO_LINEAGE: QueryLineage = Object.freeze({ statements: [], predicateClasses: [], writeClasses: [], missingRelations: [], stateful: false, effects: [] });

/**
 * Rewritten rows are carved one after another from a slab, so that the rows
 * of one upstream chunk end up contiguous and the relay can send them as one
 * segment (`coalesce`) instead of copying them together. A slab region is
 * never reused — a socket may still hold it — so this is a bump allocator
 * over buffers the GC frees once nothing refers to them any more.
 */
const SLAB_BYTES = 256 * 1024;
let slabBuf = Buffer.allocUnsafe(0);
let slabPos = 0;

function slab(n: number): Buffer {
  if (n > SLAB_BYTES / 4) return Buffer.allocUnsafe(n);
  if (slabBuf.length - slabPos < n) {
    slabBuf = Buffer.allocUnsafe(SLAB_BYTES);
    slabPos = 0;
  }
  const out = slabBuf.subarray(slabPos, slabPos + n);
  slabPos += n;
  return out;
}

/** Adjacent segments that are consecutive bytes of one buffer (rewritten rows from one slab) become one. */
export function coalesce(segments: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let first = segments[0]!;
  let end = first.byteOffset + first.length;
  let merged = false;
  const close = (): void => {
    out.push(merged ? Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset) : first);
  };
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    if (s.buffer === first.buffer && s.byteOffset === end) {
      end += s.length;
      merged = true;
    } else {
      close();
      first = s;
      end = s.byteOffset + s.length;
      merged = false;
    }
  }
  close();
  return out;
}

function refuse(code: string, message: string): Prepared {
  return { refuse: { code, message } };
}

function list(classes: readonly string[]): string {
  return classes.join(', ');
}

/** Every class a statement's output, predicates or writes reach. */
function reachedClasses(q: QueryLineage): string[] {
  const out = new Set<string>([...q.predicateClasses, ...q.writeClasses]);
  for (const s of q.statements) {
    const r = s.result;
    if (!r) continue;
    for (const c of r.columns) if (c !== null) out.add(c);
    for (const cs of r.classes) for (const c of cs) out.add(c);
  }
  return [...out];
}

function portalDesc(p: PortalInfo): RowField[] | null | undefined {
  if (p.desc !== undefined) return p.desc;
  const s = p.stmt?.desc;
  if (s === undefined || s === null) return s;
  // A statement's Describe says text for every column; Bind's result formats decide.
  const f = p.formats;
  return s.map((c, i) => ({ ...c, format: (f.length === 0 ? 0 : f.length === 1 ? f[0] : (f[i] ?? 0)) === 1 ? 1 : 0 }));
}

function textColumns(n: number): ResultColumn[] {
  return Array.from({ length: n }, () => ({ name: '?column?', tableOid: 0, columnAttr: 0, typeOid: OID.text, format: 0 as const }));
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** A masking problem as the client-safe error the relay sends (never the value). */
function failure(e: unknown, log: Logger): GatewayError {
  if (isGatewayError(e) && e.code === 'GW_MASKING_UNSUPPORTED') return e;
  // Fail closed on anything unexpected too (a malformed row, a bug): the row is not sent.
  log.error({ err: e }, 'masking failed; the statement is stopped');
  return new GatewayError('GW_MASKING_UNSUPPORTED', 'Gatehouse could not mask this result, so the rows were not sent', { clientSafe: true, cause: e });
}

/** Describe(portal) as Gatehouse sends it for an Execute without one. */
function DESCRIBE_PORTAL(name: string): Buffer {
  const body = Buffer.from(`P${name}\0`, 'utf8');
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = 0x44; // 'D'
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

/** Fields that carry free text (https://www.postgresql.org/docs/current/protocol-error-fields.html). */
const TEXT_FIELDS = ['M', 'D', 'H', 'W', 'q'] as const;
const QUOTED = /"(?:[^"]|"")*"/g;
const STRICT_REPLACEMENT = '(masked by Gatehouse: the statement reads a data class you may not see in clear)';
const KEY_DETAIL = /^Key \((.+)\)=\(([\s\S]*)\)( already exists\.| conflicts with existing key \([\s\S]*\)\.| is not present in table "[^"]*"\.| is still referenced from table "[^"]*"\.)$/;
const FAILING_ROW = /^Failing row contains \([\s\S]*\)\.$/;

/** ErrorResponse / NoticeResponse with the given fields, in their original order. */
function encodeFields(type: number, fields: Map<string, string>): Buffer {
  const parts: Buffer[] = [];
  let size = 4 + 1;
  for (const [k, v] of fields) {
    const b = Buffer.from(`${k}${v}\0`, 'utf8');
    parts.push(b);
    size += b.length;
  }
  const out = Buffer.allocUnsafe(1 + size);
  out[0] = type;
  out.writeInt32BE(size, 1);
  let pos = 5;
  for (const p of parts) pos += p.copy(out, pos);
  out[pos] = 0;
  return out;
}
