/**
 * The relay phase of one Postgres session: client messages become operations
 * decided by core before they are forwarded; upstream bytes flow back
 * untouched except for the few messages that close an operation.
 *
 * Ordering: Postgres answers messages in the order it received them, so the
 * operations waiting for an answer are kept in a FIFO (`pending`).
 *
 * Denial: a denied statement is replaced upstream by a statement that fails
 * to parse (nothing runs), and the upstream's ErrorResponse is replaced by
 * Gatehouse's. The upstream so behaves exactly as Postgres does after an
 * error: outside a transaction the session is simply ready again; inside one
 * the transaction is aborted until ROLLBACK; in the extended protocol the
 * rest of the batch is skipped until Sync.
 */
import type { Socket } from 'node:net';
import type { Operation, Session } from '../../core/sessions/session-service.ts';
import type { OperationResult } from '../../core/sessions/session-service.ts';
import type { FrameReader, Frame } from '../../wire/postgres/framer.ts';
import type { MessageRelay } from '../../wire/postgres/relay.ts';
import { BE, decodeCommandComplete, decodeErrorFields, decodeReadyForQuery, encodeErrorResponse, encodeNoticeResponse } from '../../wire/postgres/backend.ts';
import { FE, encodeParse, encodeQuery, encodeTerminate, decodeBind, decodeClose, decodeDescribe, decodeExecute, decodeParse, decodeQuery } from '../../wire/postgres/frontend.ts';
import { GatewayError, clientMessage, isGatewayError } from '../../shared/errors.ts';
import { sqlstateFor } from './sqlstate.ts';
import type { ClassificationCache } from '../../core/classify/sql/cache.ts';
import { decodeDataRow, decodeRowDescription } from '../../wire/postgres/rows.ts';
import { DEFAULT_SEARCH_PATH, type Classification } from '../../core/classify/sql/types.ts';
import { coalesce, type Prepared, type SessionMasking, type StatementMask } from './masking.ts';

/** The fast-path FunctionCall calls any function by OID: an escape hatch, never classified as safe. */
const FASTPATH: Classification = {
  statements: [{ kind: 'FunctionCall', pairs: [{ action: 'sql:admin', table: null }], flags: ['fastpath_function_call'] }],
  fingerprint: null,
};

/** Never valid SQL: the upstream rejects it at parse time, before anything runs. */
const DENIED_SQL = 'GATEHOUSE DENIED THIS STATEMENT';

type Pending =
  | { kind: 'query'; op: Operation | null; rows: number | null; error: ErrorInfo | null; replaceError: Buffer | null; mask?: StatementMask | null }
  | { kind: 'execute'; op: Operation | null; rows: number; replaceError: Buffer | null; mask?: StatementMask | null }
  | { kind: 'sync' };

interface Recording {
  columns: string[];
  formats: number[];
  rows: (string | null)[][];
  truncated: boolean;
}

/** A value as the replay shows it: text as sent, binary as \x hex. */
function recordValue(v: Buffer | null, format: number | undefined): string | null {
  if (v === null) return null;
  return format === 1 ? `\\x${v.toString('hex')}` : v.toString('utf8');
}

interface ErrorInfo {
  code: string;
  message: string;
}

export interface RelayEndpoints {
  client: Socket;
  clientReader: FrameReader;
  upstream: Socket;
  upstreamRelay: MessageRelay;
  /** Shared across sessions: statements that differ only in numbers are parsed once. */
  classifier: ClassificationCache;
  /** Session recording: rows of each result kept as the client received them (0 = none; counts are always kept). */
  recordRows: number;
  /** Result masking (issue 4); null when the gateway masks nothing (tests of the bare relay). */
  masking?: SessionMasking | null;
}

export type CloseReason = 'client_terminated' | 'client_disconnected' | 'upstream_disconnected' | 'protocol_error' | 'killed';

export class PgRelaySession {
  readonly #session: Session;
  readonly #ep: RelayEndpoints;
  readonly #pending: Pending[] = [];
  /** Protocol-level prepared statements: classified at Parse, decided at Execute. */
  readonly #statements = new Map<string, { query: string; classification: Classification }>();
  readonly #portals = new Map<string, { query: string; classification: Classification; params?: (string | null)[] }>();
  /** SQL-level PREPARE bodies, for EXECUTE name. */
  readonly #sqlPrepared = new Map<string, Classification>();
  /** The session's search_path as Gatehouse tracks it (SET / RESET / DISCARD ALL). */
  #searchPath: readonly string[] = DEFAULT_SEARCH_PATH;
  #txStatus: 'I' | 'T' | 'E' = 'I';
  #pumping = false;
  #closed = false;
  /** Session recording: the first rows of each operation's result, after masking. */
  readonly #recordings = new WeakMap<Operation, Recording>();
  /** Ends approval holds when the session ends. */
  readonly #abort = new AbortController();
  /** Gatehouse's own messages (notices) waiting for the upstream stream to reach a message boundary. */
  #injections: Buffer[] = [];
  /** ReadyForQuery messages seen: numbers the request/answer cycles that Describe answers belong to. */
  #rfqSeen = 0;
  /**
   * After a masking failure: the client got an ErrorResponse instead of the
   * row, so everything the upstream still sends until ReadyForQuery is
   * dropped (as Postgres itself would send nothing more after an error).
   */
  #discard = false;
  #closeReason: CloseReason | null = null;
  #resolveDone!: (reason: CloseReason) => void;
  readonly done: Promise<CloseReason>;

  constructor(session: Session, ep: RelayEndpoints) {
    this.#session = session;
    this.#ep = ep;
    this.done = new Promise((r) => (this.#resolveDone = r));
  }

  get transactionStatus(): 'I' | 'T' | 'E' {
    return this.#txStatus;
  }

  /** Start relaying; `initial` is what the upstream sent after ReadyForQuery during start-up. */
  start(): void {
    const { client, upstream } = this.#ep;
    client.on('data', (chunk: Buffer) => {
      try {
        this.#ep.clientReader.push(chunk);
      } catch (e) {
        this.#fatal(e);
        return;
      }
      void this.#pump();
    });
    upstream.on('data', (chunk: Buffer) => this.#fromUpstream(chunk));
    client.on('close', () => this.#close('client_disconnected'));
    client.on('error', (e) => this.#session.log.debug({ err: e }, 'client socket error'));
    upstream.on('close', () => {
      if (!this.#closed) {
        this.#sendFatal('08006', 'upstream connection lost');
        this.#close('upstream_disconnected');
      }
    });
    upstream.on('error', (e) => this.#session.log.warn({ err: e }, 'upstream socket error'));
    client.resume();
    upstream.resume();
    // Bytes already buffered by the handshake reader.
    void this.#pump();
  }

  /** End the session now, telling the client why (kill, shutdown, grant revoked). */
  kill(reason: string): void {
    this.#sendFatal('57P01', `terminating connection: ${reason}`);
    this.#close('killed');
  }

  // ---- client → upstream -------------------------------------------------

  async #pump(): Promise<void> {
    if (this.#pumping || this.#closed) return;
    this.#pumping = true;
    const { client, upstream, clientReader } = this.#ep;
    const out: Buffer[] = [];
    const flush = (): void => {
      if (out.length === 0) return;
      const ok = writeAll(upstream, out.splice(0));
      if (!ok && !client.isPaused()) {
        // Backpressure: stop reading the client until the upstream drains.
        client.pause();
        upstream.once('drain', () => {
          if (!this.#closed) {
            client.resume();
            void this.#pump();
          }
        });
      }
    };
    try {
      for (;;) {
        if (this.#closed) return;
        const frame = clientReader.next();
        if (frame === null) break;
        const needsDecision = frame.type === FE.Query || frame.type === FE.Execute || frame.type === FE.FunctionCall;
        if (!needsDecision) {
          if (this.#onPlainMessage(frame, out)) {
            flush();
            this.#close('client_terminated');
            return;
          }
          continue;
        }
        // Forward what came before, then hold the client while core decides.
        flush();
        client.pause();
        await this.#decide(frame, out);
        if (this.#closed) return;
        if (!upstream.writableNeedDrain) client.resume();
      }
      flush();
    } catch (e) {
      this.#fatal(e);
    } finally {
      this.#pumping = false;
    }
  }

  /** Messages forwarded without a decision. Returns true on Terminate. */
  #onPlainMessage(frame: Frame, out: Buffer[]): boolean {
    switch (frame.type) {
      case FE.Parse: {
        const p = decodeParse(frame.payload);
        // Classified once, here: a prepared statement cannot change class later.
        this.#statements.set(p.name, { query: p.query, classification: this.#classify(p.query) });
        this.#ep.masking?.onParse(p.name, p.query, this.#searchPath);
        break;
      }
      case FE.Bind: {
        const b = decodeBind(frame.payload);
        // An unknown statement name: the upstream will refuse the Bind; classify as unknown meanwhile.
        const stmt = this.#statements.get(b.statement) ?? { query: '', classification: this.#classify('') };
        // Parameters go into the statement's event (a payload) for the recording.
        const fmt = (i: number): number | undefined => (b.paramFormats.length <= 1 ? b.paramFormats[0] : b.paramFormats[i]);
        this.#portals.set(b.portal, { ...stmt, params: b.params.map((v, i) => recordValue(v, fmt(i))) });
        this.#ep.masking?.onBind(b.portal, b.statement, b.resultFormats);
        break;
      }
      case FE.Close: {
        const c = decodeClose(frame.payload);
        (c.target === 'S' ? this.#statements : this.#portals).delete(c.name);
        this.#ep.masking?.onClose(c.target, c.name);
        break;
      }
      case FE.Sync:
        this.#pending.push({ kind: 'sync' });
        break;
      case FE.Terminate:
        out.push(raw(frame));
        return true;
      case FE.Describe: {
        // Masking needs the answer (a RowDescription) to plan Executes of this statement or portal.
        const d = decodeDescribe(frame.payload);
        this.#ep.masking?.onDescribe(d.target, d.name, this.#cycle());
        break;
      }
      case FE.Flush:
      case FE.CopyData:
      case FE.CopyDone:
      case FE.CopyFail:
        break;
      default:
        throw new GatewayError('GW_FRAME_MALFORMED', `unexpected message type 0x${frame.type.toString(16)} from client`, {
          clientSafe: true,
        });
    }
    out.push(raw(frame));
    return false;
  }

  #classify(sql: string): Classification {
    return this.#ep.classifier.classify(sql, { searchPath: this.#searchPath, prepared: (name) => this.#sqlPrepared.get(name) });
  }

  /** Session state that an allowed statement changes, as Gatehouse must track it. */
  #applyEffects(c: Classification): void {
    for (const st of c.statements) {
      if (st.setsSearchPath) this.#searchPath = st.setsSearchPath;
      if (st.prepares) this.#sqlPrepared.set(st.prepares.name, st.prepares.body);
    }
  }

  async #decide(frame: Frame, out: Buffer[]): Promise<void> {
    let statement: string;
    let classification: Classification;
    let params: (string | null)[] | undefined;
    let extended = false;
    if (frame.type === FE.Query) {
      statement = decodeQuery(frame.payload);
      classification = this.#classify(statement);
    } else if (frame.type === FE.Execute) {
      const ex = decodeExecute(frame.payload);
      const portal = this.#portals.get(ex.portal) ?? { query: '', classification: this.#classify('') };
      statement = portal.query;
      classification = portal.classification;
      params = 'params' in portal ? portal.params : undefined;
      extended = true;
    } else {
      statement = '<fast-path function call>';
      classification = FASTPATH;
    }
    let start: Awaited<ReturnType<Session['begin']>>;
    try {
      start = await this.#session.begin({
        statement,
        classification,
        ...(params ? { params } : {}),
        signal: this.#abort.signal,
        onHold: (message) => this.#inject(encodeNoticeResponse({ severity: 'NOTICE', code: '01000', message })),
      });
    } catch (e) {
      // Fail closed: no event on record, no statement forwarded.
      this.#session.log.error({ err: e }, 'operation refused: event could not be recorded');
      const code = isGatewayError(e) ? sqlstateFor(e.code) : 'XX000';
      return this.#refuse(extended, encodeErrorResponse({ severity: 'ERROR', code, message: clientMessage(e) }), out);
    }
    if (!start.allowed) {
      return this.#refuse(extended, encodeErrorResponse({ severity: 'ERROR', code: '42501', message: start.message }), out);
    }
    // Masking (issue 4): lineage, inference guard and laundering checks may refuse the statement.
    const masking = await this.#prepareMasking(frame, statement, classification, start.decision.unmaskable);
    if (masking.refuse) {
      start.operation.finish({ outcome: 'denied', rows: null, error: masking.refuse });
      return this.#refuse(extended, encodeErrorResponse({ severity: 'ERROR', ...masking.refuse }), out);
    }
    this.#applyEffects(classification);
    // An Execute whose result columns are unknown gets a Describe(portal) of Gatehouse's own just before it.
    if (masking.inject) out.push(masking.inject);
    if (this.#ep.recordRows > 0) this.#recordings.set(start.operation, { columns: [], formats: [], rows: [], truncated: false });
    out.push(raw(frame));
    this.#pending.push(
      extended
        ? { kind: 'execute', op: start.operation, rows: 0, replaceError: null, mask: masking.ctx }
        : { kind: 'query', op: start.operation, rows: null, error: null, replaceError: null, mask: masking.ctx },
    );
    this.#flushTo(out);
  }

  async #prepareMasking(frame: Frame, statement: string, classification: Classification, unmaskable: readonly string[]): Promise<Prepared> {
    const m = this.#ep.masking;
    if (!m) return { ctx: null, inject: null };
    try {
      return await m.prepare({
        kind: frame.type === FE.Query ? 'query' : frame.type === FE.Execute ? 'execute' : 'fastpath',
        sql: statement,
        ...(frame.type === FE.Execute ? { portal: decodeExecute(frame.payload).portal } : {}),
        classification,
        unmaskable,
        searchPath: this.#searchPath,
        cycle: this.#cycle(),
      });
    } catch (e) {
      // Fail closed: a statement whose masking could not be planned is not forwarded.
      this.#session.log.error({ err: e }, 'masking could not be planned; statement refused');
      return { refuse: { code: 'XX000', message: 'Gatehouse could not plan the masking of this statement, so it was not run' } };
    }
  }

  /**
   * The ReadyForQuery cycle a message sent now is answered in: one per Sync,
   * Query or FunctionCall, i.e. per 'query' or 'sync' entry still pending.
   */
  #cycle(): number {
    let n = this.#rfqSeen;
    for (const p of this.#pending) if (p.kind !== 'execute') n++;
    return n;
  }

  #refuse(extended: boolean, error: Buffer, out: Buffer[]): void {
    if (extended) {
      out.push(encodeParse('', DENIED_SQL));
      this.#pending.push({ kind: 'execute', op: null, rows: 0, replaceError: error });
    } else {
      out.push(encodeQuery(DENIED_SQL));
      this.#pending.push({ kind: 'query', op: null, rows: null, error: null, replaceError: error });
    }
    this.#flushTo(out);
  }

  #flushTo(out: Buffer[]): void {
    if (out.length) writeAll(this.#ep.upstream, out.splice(0));
  }

  // ---- upstream → client -------------------------------------------------

  #fromUpstream(chunk: Buffer): void {
    if (this.#closed) return;
    let segments: Buffer[];
    try {
      segments = this.#ep.upstreamRelay.feed(chunk, this.#hooks);
    } catch (e) {
      this.#session.log.error({ err: e }, 'malformed data from upstream');
      this.#sendFatal('08P01', 'Gatehouse received malformed data from the upstream');
      this.#close('protocol_error');
      return;
    }
    if (this.#injections.length && this.#ep.upstreamRelay.atBoundary) segments.push(...this.#injections.splice(0));
    if (segments.length === 0) return;
    const { client, upstream } = this.#ep;
    // Rewritten rows cut a chunk into many small segments: rows rewritten one after another are
    // consecutive bytes of one slab (masking.ts) and become one segment again; what stays split is
    // copied together, because one copy is cheaper than one socket write per segment.
    if (segments.length > 16) segments = coalesce(segments);
    if (segments.length > 16) segments = [Buffer.concat(segments)];
    if (!writeAll(client, segments) && !upstream.isPaused()) {
      // Backpressure: a slow client stops the upstream, so nothing piles up here.
      upstream.pause();
      client.once('drain', () => {
        if (!this.#closed) upstream.resume();
      });
    }
  }

  readonly #hooks = {
    disposition: (type: number): 'pass' | 'hold' => {
      // After a masking failure nothing reaches the client until ReadyForQuery.
      if (this.#discard) return 'hold';
      switch (type) {
        case BE.DataRow: {
          const head = this.#pending[0];
          if (head === undefined || head.kind === 'sync') return 'pass';
          if (head.kind === 'execute') head.rows++;
          // Zero-copy unless this statement's plan masks something (the fast path),
          // or the recording still wants rows of this result.
          const masked = head.mask?.holdRow() === true;
          return masked || this.#wantsRow(head.op) ? 'hold' : 'pass';
        }
        case BE.CopyData: {
          const head = this.#pending[0];
          return head !== undefined && head.kind !== 'sync' && head.mask?.holdCopy === true ? 'hold' : 'pass';
        }
        case BE.RowDescription:
        case BE.NoData:
        case BE.CopyOutResponse:
        case BE.CopyDone:
          return this.#ep.masking || this.#ep.recordRows > 0 ? 'hold' : 'pass';
        case BE.NoticeResponse:
        case BE.NotificationResponse:
          return this.#ep.masking?.scansText === true ? 'hold' : 'pass';
        case BE.CommandComplete:
        case BE.ReadyForQuery:
        case BE.ErrorResponse:
        case BE.EmptyQueryResponse:
        case BE.PortalSuspended:
          return 'hold';
        default:
          return 'pass';
      }
    },
    message: (type: number, frame: Buffer): Buffer | null => {
      const discarding = this.#discard;
      const out = this.#onUpstreamMessage(type, frame);
      // Bookkeeping ran (operations finish, Describe answers are recorded); the client sees none of it.
      return discarding && type !== BE.ReadyForQuery ? null : out;
    },
  };

  #onUpstreamMessage(type: number, frame: Buffer): Buffer | null {
    const head = this.#pending[0];
    // The masking of the statement whose output this is.
    const op = head !== undefined && head.kind !== 'sync' ? head : undefined;
    // DataRow first: it is the one held per row, everything else is held per statement.
    if (type === BE.DataRow) {
      if (this.#discard) return frame;
      let sent = frame;
      if (op?.mask) {
        try {
          sent = op.mask.maskRow(frame);
        } catch (e) {
          return this.#maskingFailed(op, e);
        }
      }
      // Recorded after masking: the replay shows what the client received.
      if (op) this.#recordRow(op.op, sent);
      return sent;
    }
    const payload = frame.subarray(5);
    const masking = this.#ep.masking;
    switch (type) {
      case BE.RowDescription:
        if (op) this.#recordColumns(op.op, payload);
        if (!masking) return frame;
        try {
          return masking.onRowDescription(frame, op?.kind === 'query' && !this.#discard ? op.mask : null, this.#rfqSeen);
        } catch (e) {
          if (!op || !isGatewayError(e) || e.code !== 'GW_MASKING_UNSUPPORTED') throw e;
          return this.#maskingFailed(op, e);
        }
      case BE.NoData:
        return masking ? masking.onNoData(frame, this.#rfqSeen) : frame;
      case BE.CopyOutResponse:
        if (this.#discard || !op?.mask) return frame;
        try {
          op.mask.onCopyOut(frame);
          return frame;
        } catch (e) {
          return this.#maskingFailed(op, e);
        }
      case BE.CopyData:
        if (this.#discard || !op?.mask) return frame;
        try {
          return op.mask.maskCopyData(frame);
        } catch (e) {
          return this.#maskingFailed(op, e);
        }
      case BE.CopyDone:
        if (this.#discard || !op?.mask) return frame;
        try {
          return op.mask.copyDone(frame);
        } catch (e) {
          return this.#maskingFailed(op, e);
        }
      case BE.NoticeResponse:
        return masking && !this.#discard ? masking.maskNotice(frame, op?.mask) : frame;
      case BE.NotificationResponse:
        return masking ? masking.maskNotification(frame) : frame;
      case BE.CommandComplete: {
        const { rows } = decodeCommandComplete(payload);
        if (head?.kind === 'execute') {
          this.#finish(head.op, { outcome: 'ok', rows: rows ?? head.rows }, head.mask);
          this.#pending.shift();
        } else if (head?.kind === 'query') {
          if (rows !== null) head.rows = (head.rows ?? 0) + rows;
          head.mask?.onCommandComplete();
        }
        return frame;
      }
      case BE.EmptyQueryResponse:
      case BE.PortalSuspended:
        if (head?.kind === 'execute') {
          this.#finish(head.op, { outcome: 'ok', rows: head.rows }, head.mask);
          this.#pending.shift();
        }
        return frame;
      case BE.ErrorResponse: {
        // Describes later in this batch go unanswered: the upstream skips to Sync.
        masking?.onError(this.#rfqSeen);
        // Error texts can quote values (a unique violation's key, a failed cast's input): mask them,
        // also in what the audit event records.
        if (masking && !this.#discard && !op?.replaceError) frame = masking.maskNotice(frame, op?.mask);
        const fields = decodeErrorFields(frame.subarray(5));
        const info = { code: fields.get('C') ?? 'XX000', message: fields.get('M') ?? '' };
        if (head?.kind === 'execute') {
          this.#pending.shift();
          if (head.replaceError) return head.replaceError;
          this.#finish(head.op, { outcome: 'error', rows: head.rows, error: info }, head.mask);
          return frame;
        }
        if (head?.kind === 'query') {
          if (head.replaceError) {
            const r = head.replaceError;
            head.replaceError = null;
            return r;
          }
          head.error ??= info;
          return frame;
        }
        // An error outside any operation (e.g. FATAL on admin shutdown): pass it on.
        return frame;
      }
      case BE.ReadyForQuery: {
        this.#txStatus = decodeReadyForQuery(payload);
        masking?.onReadyForQuery(this.#rfqSeen);
        this.#rfqSeen++;
        this.#discard = false;
        // Executes still pending at ReadyForQuery were skipped after an error.
        while (this.#pending.length) {
          const p = this.#pending.shift()!;
          if (p.kind === 'query') {
            this.#finish(p.op, p.error ? { outcome: 'error', rows: p.rows, error: p.error } : { outcome: 'ok', rows: p.rows }, p.mask);
            break;
          }
          if (p.kind === 'sync') break;
          this.#finish(p.op, { outcome: 'not_executed', rows: null }, p.mask);
        }
        return frame;
      }
      default:
        return frame;
    }
  }

  /**
   * Send a message of Gatehouse's own to the client. Only between two upstream
   * messages: writing in the middle of a passed-through DataRow would corrupt
   * the stream, so it waits for the next boundary.
   */
  #inject(message: Buffer): void {
    if (this.#closed) return;
    if (this.#ep.upstreamRelay.atBoundary) this.#ep.client.write(message);
    else this.#injections.push(message);
  }

  #wantsRow(op: Operation | null): boolean {
    const rec = op ? this.#recordings.get(op) : undefined;
    return rec !== undefined && !rec.truncated;
  }

  #recordColumns(op: Operation | null, payload: Buffer): void {
    const rec = op ? this.#recordings.get(op) : undefined;
    if (!rec) return;
    if (rec.columns.length > 0 || rec.rows.length > 0) {
      // A second result (multi-statement query): keep the first one only.
      rec.truncated = true;
      return;
    }
    const fields = decodeRowDescription(payload);
    rec.columns = fields.map((f) => f.name);
    rec.formats = fields.map((f) => f.format);
  }

  #recordRow(op: Operation | null, frame: Buffer): void {
    const rec = op ? this.#recordings.get(op) : undefined;
    if (!rec || rec.truncated) return;
    if (rec.rows.length >= this.#ep.recordRows) {
      rec.truncated = true;
      return;
    }
    rec.rows.push(decodeDataRow(frame.subarray(5)).map((v, i) => recordValue(v, rec.formats[i])));
  }

  #finish(op: Operation | null, result: OperationResult, mask?: StatementMask | null): void {
    const rec = op ? this.#recordings.get(op) : undefined;
    if (op) this.#recordings.delete(op);
    if (mask) this.#ep.masking?.finished(mask);
    // The event records how many values of each class were masked (counts only), and the recorded rows.
    op?.finish({
      ...result,
      ...(mask?.hasCounts ? { masked: { ...mask.counts } } : {}),
      ...(rec && (rec.columns.length > 0 || rec.rows.length > 0) ? { result: { columns: rec.columns, rows: rec.rows, truncated: rec.truncated } } : {}),
    });
  }

  /**
   * Fail closed: a value could not be masked, so its row is not sent. The
   * client gets an ErrorResponse naming the column instead, and the rest of
   * the statement's output (and, in the extended protocol, of the batch) is
   * dropped until ReadyForQuery, which the client expects after an error.
   */
  #maskingFailed(p: Extract<Pending, { kind: 'query' | 'execute' }>, e: unknown): Buffer {
    const err = isGatewayError(e) && e.clientSafe ? e : new GatewayError('GW_MASKING_UNSUPPORTED', 'Gatehouse could not mask this result, so the rows were not sent', { clientSafe: true, cause: e });
    const info = { code: sqlstateFor(err.code), message: clientMessage(err) };
    this.#session.log.warn({ code: err.code, msg: err.message }, 'masking failed; statement stopped');
    this.#discard = true;
    if (p.kind === 'execute') this.#finish(p.op, { outcome: 'error', rows: p.rows, error: info }, p.mask);
    else p.error ??= info;
    return encodeErrorResponse({ severity: 'ERROR', code: info.code, message: info.message });
  }

  // ---- ending ------------------------------------------------------------

  #fatal(e: unknown): void {
    if (this.#closed) return;
    const code = isGatewayError(e) ? sqlstateFor(e.code) : 'XX000';
    if (!isGatewayError(e) || !e.clientSafe) this.#session.log.error({ err: e }, 'session error');
    else this.#session.log.warn({ code: e.code, msg: e.message }, 'closing session on protocol error');
    this.#sendFatal(code, clientMessage(e));
    this.#close('protocol_error');
  }

  #sendFatal(code: string, message: string): void {
    const { client } = this.#ep;
    if (client.writable) client.write(encodeErrorResponse({ severity: 'FATAL', code, message }));
  }

  #close(reason: CloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    this.#abort.abort();
    const { client, upstream } = this.#ep;
    // Operations still waiting for an answer did not complete.
    for (const p of this.#pending.splice(0)) {
      if (p.kind !== 'sync') this.#finish(p.op, { outcome: 'cancelled', rows: null });
    }
    client.end();
    if (reason !== 'client_terminated' && upstream.writable) {
      upstream.end(encodeTerminate());
    } else {
      upstream.end();
    }
    setTimeout(() => {
      client.destroy();
      upstream.destroy();
    }, 1000).unref();
    this.#resolveDone(reason);
  }

  get closeReason(): CloseReason | null {
    return this.#closeReason;
  }
}

function writeAll(socket: Socket, parts: Buffer[]): boolean {
  if (parts.length === 1) return socket.write(parts[0]!);
  socket.cork();
  let ok = true;
  for (const p of parts) ok = socket.write(p) && ok;
  socket.uncork();
  return ok;
}

function frameOf(type: number, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(5 + payload.length);
  b[0] = type;
  b.writeInt32BE(payload.length + 4, 1);
  payload.copy(b, 5);
  return b;
}

/** Re-frame a decoded client message to forward it. */
function raw(frame: Frame): Buffer {
  return frameOf(frame.type, frame.payload);
}
