/**
 * Demo mode (`gatehouse up` with no config file): an embedded Postgres
 * (PGlite served on loopback by pglite-socket) seeded with synthetic
 * customers, the built-in dev issuer, state in ./.gatehouse.
 */
import net from 'node:net';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { fileURLToPath } from 'node:url';
import { demoSeedSql } from './demo-data.ts';

/** The demo policies shipped with Gatehouse (policy/demo). */
export const DEMO_POLICY_DIR = fileURLToPath(new URL('../../policy/demo', import.meta.url));

export interface DemoDatabase {
  readonly port: number;
  stop(): Promise<void>;
}

export async function startDemoDatabase(stateDir: string): Promise<DemoDatabase> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const dataDir = join(resolve(stateDir), 'demo-pgdata');
  const fresh = !existsSync(dataDir);
  mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir);
  if (fresh) await db.exec(demoSeedSql(1000));
  const port = await freePort();
  // PGlite has one backend; connections queue at the query level.
  const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 64 });
  await server.start();
  return {
    port,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}

export function demoConfig(dbPort: number, listen = '127.0.0.1:15432', admin = '127.0.0.1:18000', env: NodeJS.ProcessEnv = process.env): Config {
  return parseConfig(
    `
listen: { postgres: "${listen}", admin: "${admin}" }
state: ./.gatehouse
identity: { dev: true }
policy: { dir: ${JSON.stringify(DEMO_POLICY_DIR)} }
connections:
  - name: demo
    protocol: postgres
    upstream: { host: 127.0.0.1, port: ${dbPort}, database: postgres, user: postgres, tls: disable }
`,
    env,
    'demo',
  );
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => res(p));
    });
  });
}
