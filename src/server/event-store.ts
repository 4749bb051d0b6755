/**
 * The state store behind the EventSink port: the tamper-evident audit log
 * (infra/audit), opened in write mode by the one gateway process. CLI
 * commands open it with `openAuditForReading` (inspect mode: writes nothing).
 */
import { join, resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../core/logger.ts';
import { AuditLog, directoryAnchor, loadOrCreateSigningKey } from '../infra/audit/index.ts';
import { createPublicKey } from 'node:crypto';

export type EventStore = AuditLog;

export function openEventStore(opts: { stateDir: string; baseDir: string; instance: string; env: NodeJS.ProcessEnv; log: Logger; config: Config }): EventStore {
  const { config } = opts;
  const key = loadOrCreateSigningKey(opts.stateDir, opts.env);
  for (const w of key.warnings) opts.log.warn({}, w);
  const anchorDir = config.audit.anchorDir ? resolve(opts.baseDir, config.audit.anchorDir) : undefined;
  return AuditLog.open({
    stateDir: opts.stateDir,
    instance: opts.instance,
    signingKey: key.privateKey,
    keyName: config.audit.origin,
    checkpointEvery: { entries: config.audit.checkpointEvery.entries, seconds: config.audit.checkpointEvery.interval },
    durability: 'full',
    ...(Object.keys(config.audit.retention).length ? { retention: config.audit.retention } : {}),
    ...(anchorDir ? { onCheckpoint: directoryAnchor(anchorDir) } : {}),
  });
}

/** Read-only access for CLI commands (verify, export, prove, sessions, replay). */
export function openAuditForReading(stateDir: string, config: Config | null, env: NodeJS.ProcessEnv = process.env): AuditLog {
  const key = loadOrCreateSigningKey(stateDir, env);
  return AuditLog.open({
    stateDir,
    instance: 'cli',
    publicKey: createPublicKey(key.privateKey),
    keyName: config?.audit.origin ?? 'gatehouse.local/audit',
    mode: 'inspect',
  });
}

export function auditDbPath(stateDir: string): string {
  return join(stateDir, 'gatehouse.db');
}
