/**
 * Where the vault's 32-byte master key comes from. Production: the
 * GATEHOUSE_MASTER_KEY environment variable (base64 or hex). Development only
 * (allowDevKey): a key generated into `stateDir/master.key`, which protects
 * against nothing but accidental disclosure of vault.json alone.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayError, type ErrorCode } from '../../shared/errors.ts';

export const MASTER_KEY_ENV = 'GATEHOUSE_MASTER_KEY';
const KEY_FILE = 'master.key';
const FORMAT =
  `${MASTER_KEY_ENV} must be 32 random bytes encoded as base64 (44 characters) or hex (64 characters); ` +
  'generate one with: openssl rand -base64 32';

/** Decodes a key, or returns undefined. Strict: 32 bytes exactly, so a truncated paste cannot silently shorten the key. */
export function decodeMasterKey(text: string): Buffer | undefined {
  const s = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(s)) return Buffer.from(s, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(s) || /^[A-Za-z0-9_-]{43}=?$/.test(s)) {
    const key = Buffer.from(s, s.includes('-') || s.includes('_') ? 'base64url' : 'base64');
    if (key.length === 32) return key;
  }
  return undefined;
}

export function resolveMasterKey(opts: { stateDir: string; allowDevKey: boolean; env: NodeJS.ProcessEnv }): Buffer {
  const fromEnv = opts.env[MASTER_KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    const key = decodeMasterKey(fromEnv);
    // The message states the expected format only: the value may be a real key with a typo.
    if (!key) throw new GatewayError('GW_VAULT_KEY_MISSING', `${MASTER_KEY_ENV} has the wrong format: ${FORMAT}`);
    return key;
  }
  if (!opts.allowDevKey) {
    // Fail closed: no silent fallback to a key stored next to the data it protects.
    throw new GatewayError('GW_VAULT_KEY_MISSING', `${MASTER_KEY_ENV} is not set: ${FORMAT}`);
  }
  return devKey(opts.stateDir);
}

function devKey(stateDir: string): Buffer {
  return devKeyFile(stateDir, KEY_FILE, 'master key', 'GW_VAULT_KEY_MISSING');
}

/**
 * Development only: a 32-byte key generated once into the state folder,
 * private to the user running Gatehouse ('wx': never overwrite one another
 * process created meanwhile). Shared by the vault and the masking token key.
 */
export function devKeyFile(stateDir: string, fileName: string, what: string, code: ErrorCode): Buffer {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = join(stateDir, fileName);
  try {
    writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // Readable by others means readable by anyone on the host: tighten it.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  }
  const key = decodeMasterKey(readFileSync(file, 'utf8'));
  if (!key) throw new GatewayError(code, `${file} is not a valid ${what} (32 bytes, base64)`);
  return key;
}
