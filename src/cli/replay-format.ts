/** Formatting the recorded timeline for people (`replay`) and machines (`replay --json`). */
import type { ResultSample, StoredEvent } from '../core/audit/events.ts';

export interface SessionSummary {
  sessionId: string;
  subject: string;
  groups: readonly string[];
  connection: string;
  clientAddress: string;
  openedAt: number;
  closedAt: number | null;
  statements: number;
  denied: number;
}

/**
 * Sessions from their opened/closed events. `counts` (per session id) gives
 * the statement numbers without the statement events; without it they are
 * counted from `events`.
 */
export function sessionSummaries(events: readonly StoredEvent[], counts?: ReadonlyMap<string, { statements: number; denied: number }>): SessionSummary[] {
  const byId = new Map<string, SessionSummary>();
  for (const e of events) {
    if (e.type === 'session.opened') {
      byId.set(e.sessionId, {
        sessionId: e.sessionId,
        subject: e.identity.subject,
        groups: e.identity.groups,
        connection: e.connection,
        clientAddress: e.clientAddress,
        openedAt: e.time,
        closedAt: null,
        statements: counts?.get(e.sessionId)?.statements ?? 0,
        denied: counts?.get(e.sessionId)?.denied ?? 0,
      });
      continue;
    }
    const s = e.sessionId ? byId.get(e.sessionId) : undefined;
    if (!s) continue;
    if (e.type === 'session.closed') s.closedAt = e.time;
    else if (counts) continue;
    else if (e.type === 'statement.started') s.statements++;
    else if (e.type === 'statement.denied') s.denied++;
  }
  return [...byId.values()];
}

const cell = (v: unknown): string => (v === null || v === undefined ? 'NULL' : String(v));

function writeSample(r: ResultSample, write: (s: string) => void): void {
  write(`            ${r.columns.join(' | ')}\n`);
  for (const row of r.rows) write(`            ${row.map(cell).join(' | ')}\n`);
  if (r.truncated) write(`            … (first ${r.rows.length} rows kept)\n`);
}

/** `start`: the time offsets are measured from (the session's first event; by default the first of `events`). */
export function printReplay(events: readonly StoredEvent[], json: boolean, write: (s: string) => void, start: number = events[0]?.time ?? 0): void {
  for (const e of events) {
    if (json) {
      write(JSON.stringify(e) + '\n');
      continue;
    }
    const t = `+${((e.time - start) / 1000).toFixed(3)}s`.padStart(10);
    switch (e.type) {
      case 'session.opened':
        write(`${t}  session ${e.sessionId} opened by ${e.identity.subject} (${e.identity.groups.join(', ')}) on ${e.connection} from ${e.clientAddress}${e.tls ? ' over TLS' : ''}\n`);
        break;
      case 'statement.started':
        write(`${t}  > ${e.statement}${e.params?.length ? `   -- params: ${JSON.stringify(e.params)}` : ''}${e.approvalId ? `   -- approval ${e.approvalId}` : ''}\n`);
        break;
      case 'statement.denied':
        write(`${t}  ✗ DENIED ${e.statement}\n            ${e.message ?? e.decision.reasons.join(', ')}\n`);
        break;
      case 'statement.result': // logs written before the sample moved into statement.finished
        writeSample(e, write);
        break;
      case 'statement.finished':
        if (e.result) writeSample(e.result, write);
        write(`${t}  < ${e.outcome}${e.rows !== null ? `, ${e.rows} rows` : ''} in ${e.durationMs} ms${e.error ? ` — ${e.error.code} ${e.error.message}` : ''}${e.masked && Object.keys(e.masked).length ? `, masked ${JSON.stringify(e.masked)}` : ''}\n`);
        break;
      case 'session.closed':
        write(`${t}  session closed (${e.reason}), ${e.statements} statements\n`);
        break;
      default:
        break;
    }
  }
}
