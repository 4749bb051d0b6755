/**
 * The audit signing key: Ed25519, from GATEHOUSE_AUDIT_KEY (the PEM itself
 * or a path to it) or `stateDir/audit-key.pem`, generated on first use with
 * mode 0600. Errors name the source, never the key material.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayError } from '../../shared/errors.ts';

export const AUDIT_KEY_ENV = 'GATEHOUSE_AUDIT_KEY';
export const AUDIT_KEY_FILE = 'audit-key.pem';

export interface SigningKeyInfo {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** Where the key came from. */
  readonly source: 'env-pem' | 'env-path' | 'state-file' | 'generated';
  readonly path?: string;
  /** Operator-facing warnings (for example, a key file readable by others). */
  readonly warnings: readonly string[];
}

function parsePrivate(pem: string, where: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new GatewayError('GW_CONFIG_INVALID', `${where}: not a PEM private key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new GatewayError('GW_CONFIG_INVALID', `${where}: audit key must be Ed25519, got ${key.asymmetricKeyType}`);
  }
  return key;
}

function permissionWarnings(path: string): string[] {
  try {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) return [`${path} is accessible by group or others (mode ${mode.toString(8)}); chmod 600 it`];
  } catch {
    /* reported by the read */
  }
  return [];
}

export function loadOrCreateSigningKey(stateDir: string, env: NodeJS.ProcessEnv = process.env): SigningKeyInfo {
  const fromEnv = env[AUDIT_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    if (fromEnv.trimStart().startsWith('-----BEGIN')) {
      const privateKey = parsePrivate(fromEnv, AUDIT_KEY_ENV);
      return { privateKey, publicKey: createPublicKey(privateKey), source: 'env-pem', warnings: [] };
    }
    const path = fromEnv.trim();
    let pem: string;
    try {
      pem = readFileSync(path, 'utf8');
    } catch (e) {
      throw new GatewayError('GW_CONFIG_INVALID', `${AUDIT_KEY_ENV}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const privateKey = parsePrivate(pem, path);
    return { privateKey, publicKey: createPublicKey(privateKey), source: 'env-path', path, warnings: permissionWarnings(path) };
  }
  const path = join(stateDir, AUDIT_KEY_FILE);
  if (!existsSync(path)) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    try {
      // 'wx': never overwrite a key another process created meanwhile.
      writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
      return { privateKey, publicKey: createPublicKey(privateKey), source: 'generated', path, warnings: [] };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  const privateKey = parsePrivate(readFileSync(path, 'utf8'), path);
  return { privateKey, publicKey: createPublicKey(privateKey), source: 'state-file', path, warnings: permissionWarnings(path) };
}

/** SPKI PEM of the public half of `key` (private or public). */
export function publicKeyPem(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ format: 'pem', type: 'spki' }).toString();
}

/** An Ed25519 public key from SPKI PEM text (a private key PEM is accepted and reduced to its public half). */
export function parsePublicKeyPem(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new GatewayError('GW_CONFIG_INVALID', 'not a PEM public key');
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new GatewayError('GW_CONFIG_INVALID', `audit public key must be Ed25519, got ${key.asymmetricKeyType}`);
  }
  return key;
}
