/**
 * The state store behind the EventSink port: the tamper-evident audit log
 * (infra/audit), opened in write mode by the one gateway process. CLI
 * commands open it with `openAuditForReading` (inspect mode: writes nothing).
 */
import { join, resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../core/logger.ts';
import { existsSync } from 'node:fs';
import { AUDIT_KEY_ENV, AUDIT_KEY_FILE, AuditLog, directoryAnchor, loadOrCreateSigningKey, parsePublicKeyPem } from '../infra/audit/index.ts';
import { createPublicKey } from 'node:crypto';
import { GatewayError } from '../shared/errors.ts';

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
    durability: config.audit.durability,
    ...(Object.keys(config.audit.retention).length ? { retention: config.audit.retention } : {}),
    ...(anchorDir ? { onCheckpoint: directoryAnchor(anchorDir) } : {}),
  });
}

/**
 * Read-only access for CLI commands (verify, export, prove, sessions, replay).
 * `publicKeyPem` pins the key checkpoints must verify with (an auditor's copy);
 * otherwise the public half of the configured signing key is used.
 */
export function openAuditForReading(
  stateDir: string,
  config: Config | null,
  env: NodeJS.ProcessEnv = process.env,
  publicKeyPem?: string,
  /** Export signs its manifest with the audit key (still writes nothing to the log). */
  opts: { sign?: boolean } = {},
): AuditLog {
  if (!existsSync(auditDbPath(stateDir))) {
    throw new GatewayError('GW_CONFIG_INVALID', `no audit log in ${stateDir} (expected ${auditDbPath(stateDir)}); pass --config or run where Gatehouse keeps its state`, { clientSafe: true });
  }
  if (opts.sign) {
    const key = loadOrCreateSigningKey(stateDir, env);
    return AuditLog.open({ stateDir, instance: 'cli', signingKey: key.privateKey, keyName: config?.audit.origin ?? 'gatehouse.local/audit', mode: 'inspect' });
  }
  let publicKey;
  if (publicKeyPem) {
    publicKey = parsePublicKeyPem(publicKeyPem);
  } else {
    if (!env[AUDIT_KEY_ENV] && !existsSync(join(stateDir, AUDIT_KEY_FILE))) {
      throw new GatewayError('GW_CONFIG_INVALID', `no audit key: set ${AUDIT_KEY_ENV} or pass --pubkey`, { clientSafe: true });
    }
    publicKey = createPublicKey(loadOrCreateSigningKey(stateDir, env).privateKey);
  }
  return AuditLog.open({ stateDir, instance: 'cli', publicKey, keyName: config?.audit.origin ?? 'gatehouse.local/audit', mode: 'inspect' });
}

export function auditDbPath(stateDir: string): string {
  return join(stateDir, 'gatehouse.db');
}
