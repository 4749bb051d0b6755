/**
 * Builds the masking service from a config snapshot: compiled column rules
 * and strategies, the token master key, the upstream catalog registry.
 *
 * The token key: `masking.keySecret: vault:NAME` (32 random bytes, base64 or
 * hex, set with `gatehouse vault set NAME`), or in development
 * (`identity.dev: true`) a key generated once into `stateDir/masking.key`
 * (mode 0600). Without either, a config whose strategies use `token` does not
 * start: a token without its key would have to fail every masked statement.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../core/logger.ts';
import type { SecretStore } from '../core/ports.ts';
import { compileRules } from '../core/masking/engine.ts';
import { initLineage } from '../core/masking/lineage/index.ts';
import { DEFAULT_DATA_CLASSES } from '../core/policy/schema.ts';
import { decodeMasterKey, devKeyFile } from '../infra/vault/master-key.ts';
import { CatalogRegistry } from '../protocols/postgres/catalog.ts';
import { MaskingService } from '../protocols/postgres/masking.ts';
import { GatewayError } from '../shared/errors.ts';

const DEV_KEY_FILE = 'masking.key';

export async function createMasking(opts: { config: Config; stateDir: string; vault: () => SecretStore; log: Logger }): Promise<MaskingService> {
  const m = opts.config.masking;
  const rules = compileRules({
    columnRules: m.columnRules.map((r) => ({ pattern: r.column, cls: r.class })),
    strategies: m.strategies,
    defaultStrategy: m.defaultStrategy,
  });
  const usesToken = m.defaultStrategy.kind === 'token' || Object.values(m.strategies).some((s) => s?.kind === 'token');
  let masterKey: Buffer;
  if (m.keySecret) {
    const name = m.keySecret.vault;
    const key = decodeMasterKey(opts.vault().get(name));
    // The message names the secret, never its value.
    if (!key) throw new GatewayError('GW_CONFIG_INVALID', `masking.keySecret: vault secret '${name}' must be 32 random bytes as base64 or hex (openssl rand -base64 32)`);
    masterKey = key;
  } else if (opts.config.identity.dev) {
    masterKey = devKey(opts.stateDir);
  } else if (usesToken) {
    throw new GatewayError('GW_CONFIG_INVALID', 'masking.keySecret: required when a strategy is token (set it to vault:NAME, or run with identity.dev: true)');
  } else {
    // No strategy uses the key: any key will do, and none is kept.
    masterKey = randomBytes(32);
  }
  // The lineage parser shares the classifier's WASM module.
  await initLineage();
  return new MaskingService({
    rules,
    masterKey,
    guardPredicates: m.guardPredicates,
    catalogs: new CatalogRegistry({ ttlMs: m.catalogTtl * 1000, connectTimeoutMs: 10_000, log: opts.log.child({ component: 'masking-catalog' }) }),
    maxCopyRowBytes: opts.config.postgres.maxMessageBytes,
    log: opts.log,
  });
}

/** Data classes policy is asked about (`unmask`): the detected ones and every class a column rule names. */
export function maskingDataClasses(config: Config): string[] {
  return [...new Set([...DEFAULT_DATA_CLASSES, ...config.masking.columnRules.map((r) => r.class)])];
}

/** Development only: a key generated once, private to the user running Gatehouse. */
function devKey(stateDir: string): Buffer {
  return devKeyFile(stateDir, DEV_KEY_FILE, 'masking key', 'GW_CONFIG_INVALID');
}
