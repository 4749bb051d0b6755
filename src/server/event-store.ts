/**
 * The state store behind the EventSink port: the tamper-evident audit log
 * (infra/audit), opened in write mode by the one gateway process. CLI
 * commands open it with `openAuditForReading` (inspect mode: writes nothing).
 */
import { join, resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../core/logger.ts';
import { existsSync } from 'node:fs';
import { AUDIT_KEY_ENV, AUDIT_KEY_FILE, AuditLog, HttpAnchor, acquireWriterLock, directoryAnchor, loadOrCreateSigningKey, parsePublicKeyPem, publicKeyPem } from '../infra/audit/index.ts';
import type { CheckpointInfo } from '../infra/audit/index.ts';
import type { SecretStore } from '../core/ports.ts';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { keyId } from '../core/audit/checkpoint.ts';
import { keyIdOf } from '../core/audit/keychain.ts';
import { GatewayError } from '../shared/errors.ts';

export type EventStore = AuditLog;

export interface OpenedEventStore {
  readonly store: EventStore;
  /** The HTTP anchor (audit.anchorHttp), if configured; close it after the store so the final checkpoint is sent. */
  readonly httpAnchor: HttpAnchor | null;
}

export function openEventStore(opts: {
  stateDir: string;
  baseDir: string;
  instance: string;
  env: NodeJS.ProcessEnv;
  log: Logger;
  config: Config;
  /** Resolves `vault:NAME` header values of audit.anchorHttp (opened only when one is used). */
  vault?: () => SecretStore;
}): OpenedEventStore {
  const { config } = opts;
  const key = loadOrCreateSigningKey(opts.stateDir, opts.env);
  for (const w of key.warnings) opts.log.warn({}, w);
  const anchorDir = config.audit.anchorDir ? resolve(opts.baseDir, config.audit.anchorDir) : undefined;
  const httpAnchor = config.audit.anchorHttp ? createHttpAnchor(config.audit.anchorHttp, opts.log.child({ component: 'audit-anchor' }), opts.vault) : null;
  // Every sink gets every checkpoint; one failing does not keep the other from it.
  const sinks: ((cp: CheckpointInfo) => void)[] = [];
  if (anchorDir) sinks.push(directoryAnchor(anchorDir));
  if (httpAnchor) sinks.push(httpAnchor.onCheckpoint);
  const onCheckpoint = (cp: CheckpointInfo): void => {
    for (const sink of sinks) {
      try {
        sink(cp);
      } catch (e) {
        opts.log.error({ err: e, size: cp.size }, 'could not anchor a checkpoint');
      }
    }
  };
  const store = AuditLog.open({
    stateDir: opts.stateDir,
    instance: opts.instance,
    signingKey: key.privateKey,
    keyName: config.audit.origin,
    checkpointEvery: { entries: config.audit.checkpointEvery.entries, seconds: config.audit.checkpointEvery.interval },
    durability: config.audit.durability,
    ...(Object.keys(config.audit.retention).length ? { retention: config.audit.retention } : {}),
    ...(sinks.length ? { onCheckpoint } : {}),
  });
  const previous = store.previousWriter;
  if (previous) {
    opts.log.warn({ pid: previous.pid, host: previous.host, since: previous.since }, 'the previous Gatehouse on this state folder ended without closing the audit log (crash or kill -9); continuing it');
  }
  // The delivery queue does not survive a restart: offer the newest checkpoint again; it covers any that were lost
  // (no-op when opening just signed and offered it).
  const newest = httpAnchor ? store.latestCheckpoint() : null;
  if (httpAnchor && newest) httpAnchor.offer(newest);
  return { store, httpAnchor };
}

/** Resolve header values (vault first, fail closed on a missing secret at start) and build the sink. */
function createHttpAnchor(cfg: NonNullable<Config['audit']['anchorHttp']>, log: Logger, vault: (() => SecretStore) | undefined): HttpAnchor {
  const headers: Record<string, string> = {};
  for (const [name, v] of Object.entries(cfg.headers)) {
    if ('value' in v) {
      headers[name] = v.value;
      continue;
    }
    if (!vault) throw new GatewayError('GW_CONFIG_INVALID', `audit.anchorHttp.headers.${name}: vault:NAME needs the vault`);
    headers[name] = vault().get(v.vault);
  }
  return new HttpAnchor({
    url: cfg.url,
    headers,
    timeoutMs: cfg.timeout * 1000,
    maxQueue: cfg.queue,
    maxBackoffMs: cfg.maxBackoff * 1000,
    log,
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

export interface KeyRotationResult {
  readonly checkpoint: CheckpointInfo;
  readonly fromKeyId: string;
  readonly toKeyId: string;
  /** Where the incoming key now is (the state folder's key file), or null when the operator supplied it through GATEHOUSE_AUDIT_KEY. */
  readonly keyFile: string | null;
  /** The outgoing key's file after the rotation (state-folder keys only). */
  readonly retiredFile: string | null;
  /** True when this finished a rotation that had stopped half-way (handover done, key files not yet swapped). */
  readonly resumed: boolean;
}

/**
 * `gatehouse audit rotate-key`: hand the audit signing key over (docs/audit.md §5.1).
 * Opens the log for writing (refused while a gateway holds it), so the
 * handover checkpoint is anchored like any other. The incoming key is
 * `newKeyPem`, or, when the key lives in the state folder, a fresh one; it
 * is written to `audit-key.next.pem` before the handover, so a crash in
 * between never loses it (it is never deleted on failure; the next run
 * finishes the swap or sets it aside as `audit-key.unused-<key id>.pem`),
 * and becomes `audit-key.pem` after it (the
 * outgoing key is kept as `audit-key.retired-<key id>.pem`, mode 0600, for
 * the operator's key-destruction procedure). With GATEHOUSE_AUDIT_KEY the
 * operator points it at the new key before the next start.
 */
export async function rotateAuditKey(opts: {
  stateDir: string;
  baseDir: string;
  env: NodeJS.ProcessEnv;
  log: Logger;
  config: Config | null;
  newKeyPem?: string;
  justification?: string;
  vault?: () => SecretStore;
}): Promise<KeyRotationResult> {
  if (!existsSync(auditDbPath(opts.stateDir))) {
    throw new GatewayError('GW_CONFIG_INVALID', `no audit log in ${opts.stateDir}: nothing to rotate`, { clientSafe: true });
  }
  const fromEnv = Boolean(opts.env[AUDIT_KEY_ENV]?.trim());
  if (fromEnv && opts.newKeyPem === undefined) {
    throw new GatewayError('GW_CONFIG_INVALID', `the audit key comes from ${AUDIT_KEY_ENV}: pass the new key with --new-key FILE, then point ${AUDIT_KEY_ENV} at it`, { clientSafe: true });
  }
  let next: KeyObject;
  if (opts.newKeyPem !== undefined) {
    try {
      next = createPrivateKey(opts.newKeyPem);
    } catch {
      throw new GatewayError('GW_CONFIG_INVALID', '--new-key: not a PEM private key', { clientSafe: true });
    }
    if (next.asymmetricKeyType !== 'ed25519') throw new GatewayError('GW_CONFIG_INVALID', `--new-key: the audit key must be Ed25519, got ${next.asymmetricKeyType}`, { clientSafe: true });
  } else {
    next = generateKeyPairSync('ed25519').privateKey;
  }
  const keyFile = join(opts.stateDir, AUDIT_KEY_FILE);
  const nextFile = join(opts.stateDir, 'audit-key.next.pem');
  const origin = opts.config?.audit.origin ?? 'gatehouse.local/audit';
  // An earlier rotation that stopped between the handover and the key files: finish it (or drop its unused key).
  // Under the writer lock: a rotate-key running now (between writing that file and the swap) is never disturbed.
  if (!fromEnv && existsSync(nextFile)) {
    const lock = acquireWriterLock(opts.stateDir);
    let finished: KeyRotationResult | null;
    try {
      finished = finishInterruptedRotation(opts.stateDir, origin, keyFile, nextFile);
    } finally {
      lock.release();
    }
    if (finished) return finished;
  }
  let store: EventStore;
  let httpAnchor: HttpAnchor | null = null;
  if (opts.config) {
    ({ store, httpAnchor } = openEventStore({ stateDir: opts.stateDir, baseDir: opts.baseDir, instance: hostname(), env: opts.env, log: opts.log, config: opts.config, ...(opts.vault ? { vault: opts.vault } : {}) }));
  } else {
    store = AuditLog.open({ stateDir: opts.stateDir, instance: hostname(), signingKey: loadOrCreateSigningKey(opts.stateDir, opts.env).privateKey, keyName: origin });
  }
  let checkpoint: CheckpointInfo;
  const fromKeyId = keyIdOf(store.verifierKey());
  try {
    store.checkRotation(next);
  } catch (e) {
    store.close();
    await httpAnchor?.close();
    throw e;
  }
  try {
    // Kept before the handover: after it, only this key can continue the log.
    if (!fromEnv) writeFileSync(nextFile, next.export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600, flag: 'wx' });
    checkpoint = store.rotateKey(next, opts.justification ? { justification: opts.justification } : {});
  } catch (e) {
    store.close();
    await httpAnchor?.close();
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new GatewayError('GW_CONFIG_INVALID', `${nextFile} appeared meanwhile: is another rotate-key running?`, { clientSafe: true });
    }
    // The new key file is kept whatever failed: the handover may be on disk even if a later step threw
    // (an fsync error, say), and then only that key continues the log. The next run of rotate-key finds
    // out which: it finishes the swap, or sets the unused key aside.
    throw e;
  }
  store.close();
  await httpAnchor?.close();
  const toKeyId = keyIdHex(origin, createPublicKey(next));
  if (fromEnv) return { checkpoint, fromKeyId, toKeyId, keyFile: null, retiredFile: null, resumed: false };
  const retiredFile = join(opts.stateDir, `audit-key.retired-${fromKeyId}.pem`);
  renameSync(keyFile, retiredFile);
  renameSync(nextFile, keyFile);
  return { checkpoint, fromKeyId, toKeyId, keyFile, retiredFile, resumed: false };
}

/**
 * `audit-key.next.pem` left by a rotation that stopped (crash, kill) before
 * its key files were swapped: when the log's key in force is that key, the
 * handover happened and only the swap is finished; otherwise the handover
 * never happened and the unused key is removed (null: rotate now).
 */
function finishInterruptedRotation(stateDir: string, origin: string, keyFile: string, nextFile: string): KeyRotationResult | null {
  let pending: KeyObject;
  try {
    pending = createPrivateKey(readFileSync(nextFile, 'utf8'));
  } catch {
    throw new GatewayError('GW_CONFIG_INVALID', `${nextFile} is not a PEM private key: remove it and run rotate-key again`, { clientSafe: true });
  }
  const current = loadOrCreateSigningKey(stateDir, {});
  const ro = AuditLog.open({ stateDir, instance: 'cli', publicKey: current.publicKey, keyName: origin, mode: 'inspect' });
  let inForce: string;
  let checkpoint: CheckpointInfo | null;
  try {
    inForce = ro.publicKeyPem();
    checkpoint = ro.latestCheckpoint();
  } finally {
    ro.close();
  }
  if (inForce !== publicKeyPem(pending) || !checkpoint) {
    // Never handed over to: set aside (not deleted: a key file is never destroyed by Gatehouse).
    renameSync(nextFile, join(stateDir, `audit-key.unused-${keyIdHex(origin, createPublicKey(pending))}.pem`));
    return null;
  }
  const fromKeyId = keyIdHex(origin, current.publicKey);
  const retiredFile = join(stateDir, `audit-key.retired-${fromKeyId}.pem`);
  renameSync(keyFile, retiredFile);
  renameSync(nextFile, keyFile);
  return { checkpoint, fromKeyId, toKeyId: keyIdHex(origin, createPublicKey(pending)), keyFile, retiredFile, resumed: true };
}

function keyIdHex(origin: string, publicKey: KeyObject): string {
  return keyId(origin, publicKey).toString('hex');
}
