/**
 * Test helpers for anchoring (not used at runtime): a real HTTP receiver on
 * a loopback port that keeps every POSTed note as a file, the way
 * docs/audit.md §10 asks a receiver to, and a Logger that records every line.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../core/logger.ts';
import { readAnchors } from './anchor.ts';
import { tempDir } from './test-support.ts';

export type Mode = 'store' | 500 | 'hang';

/** A receiver that stores each note verbatim as `<size>-<sha256>.note` (write-once), as docs/audit.md §10 describes. */
export class Receiver {
  mode: Mode = 'store';
  readonly dir = join(tempDir('gh-anchor-recv-'), 'notes');
  readonly requests: { headers: IncomingHttpHeaders; body: string }[] = [];
  server: Server | null = null;
  port = 0;

  async start(port = 0): Promise<this> {
    mkdirSync(this.dir, { recursive: true });
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.requests.push({ headers: req.headers, body });
        if (this.mode === 'hang') return; // never answers
        if (this.mode === 500) {
          res.writeHead(500).end('boom');
          return;
        }
        const size = req.headers['x-gatehouse-checkpoint-size'];
        const name = `${String(size).padStart(16, '0')}-${createHash('sha256').update(body).digest('hex').slice(0, 16)}.note`;
        try {
          writeFileSync(join(this.dir, name), body, { flag: 'wx' });
        } catch {
          /* the same note again: at-least-once delivery, identical bytes */
        }
        res.writeHead(201).end();
      });
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  /** Down: the port refuses connections. */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/anchors?token=query-secret-4b3a`;
  }

  notes(): string[] {
    return readAnchors(this.dir);
  }

  cleanup(): void {
    rmSync(join(this.dir, '..'), { recursive: true, force: true });
  }
}

/** A Logger that keeps every record as JSON text (to search it for secrets). */
export function captureLog(): Logger & { lines: string[]; has(msg: RegExp): boolean } {
  const lines: string[] = [];
  const at =
    (level: string, bindings: Record<string, unknown>) =>
    (obj: object, msg?: string): void => {
      lines.push(JSON.stringify({ level, ...bindings, ...obj, msg, err: (obj as { err?: Error }).err ? String((obj as { err: Error }).err.stack) : undefined }));
    };
  const make = (bindings: Record<string, unknown>): Logger => ({
    debug: at('debug', bindings),
    info: at('info', bindings),
    warn: at('warn', bindings),
    error: at('error', bindings),
    child: (b) => make({ ...bindings, ...b }),
  });
  return Object.assign(make({}), { lines, has: (m: RegExp) => lines.some((l) => m.test(l)) });
}
