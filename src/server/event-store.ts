/**
 * The state store behind the EventSink port (embedded SQLite).
 * INTERIM: replaced by the tamper-evident audit log (infra/audit) once wired.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { EventSink } from '../core/ports.ts';
import type { GatewayEvent, StoredEvent } from '../core/audit/events.ts';
import type { Logger } from '../core/logger.ts';
import { GatewayError } from '../shared/errors.ts';

export interface EventStore extends EventSink {
  query(filter: { sessionId?: string; types?: string[]; limit?: number }): StoredEvent[];
  close(): Promise<void>;
}

export async function openEventStore(opts: { stateDir: string; instance: string; env: NodeJS.ProcessEnv; log: Logger }): Promise<EventStore> {
  const db = new Database(join(opts.stateDir, 'gatehouse.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, session_id TEXT, body TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO events (type, session_id, body) VALUES (?, ?, ?)');
  let closed = false;
  return {
    async append(event: GatewayEvent): Promise<StoredEvent> {
      try {
        if (closed) throw new Error('store closed');
        const r = insert.run(event.type, event.sessionId ?? null, JSON.stringify(event));
        return { ...event, seq: Number(r.lastInsertRowid) };
      } catch (e) {
        throw new GatewayError('GW_EVENT_STORE_UNAVAILABLE', 'audit log unavailable: statement refused', { clientSafe: true, cause: e });
      }
    },
    query(filter) {
      const rows = db.prepare('SELECT seq, body FROM events ORDER BY seq').all() as { seq: number; body: string }[];
      return rows
        .map((r) => ({ ...(JSON.parse(r.body) as GatewayEvent), seq: r.seq }))
        .filter((e) => (!filter.sessionId || e.sessionId === filter.sessionId) && (!filter.types || filter.types.includes(e.type)))
        .slice(0, filter.limit ?? Infinity);
    },
    async close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
