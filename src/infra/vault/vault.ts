/**
 * The vault: upstream credentials encrypted at rest in `stateDir/vault.json`.
 *
 * Each secret is sealed with AES-256-GCM under the master key, with a fresh
 * random 12-byte nonce (never reused under one key; 2^-32 collision risk only
 * after ~2^32 writes) and the secret's name as additional authenticated data,
 * so a ciphertext copied onto another name fails to decrypt instead of
 * handing one connection another's password.
 *
 * Values never appear in errors or logs: messages are built from names only.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { SecretStore } from '../../core/ports.ts';
import { GatewayError } from '../../shared/errors.ts';
import { resolveMasterKey } from './master-key.ts';

const FILE = 'vault.json';
const VERSION = 1;
const NAME = /^[A-Za-z0-9_.-]{1,128}$/;

interface Entry {
  nonce: string;
  ciphertext: string;
  tag: string;
  createdAt: string;
}
interface VaultFile {
  version: number;
  entries: Record<string, Entry>;
}

function aad(name: string): Buffer {
  return Buffer.from(`gatehouse-vault-v${VERSION}:${name}`, 'utf8');
}

function checkName(name: string): void {
  // The rejected name is not echoed: a value passed in the name position must not end up in a log.
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new GatewayError('GW_CONFIG_INVALID', 'invalid vault secret name: use 1-128 characters from A-Z a-z 0-9 _ . -');
  }
}

export class Vault implements SecretStore {
  readonly #key: Buffer;
  readonly #file: string;
  #cache: { ino: number; mtimeMs: number; size: number; data: VaultFile } | undefined;

  private constructor(key: Buffer, stateDir: string) {
    this.#key = key;
    this.#file = join(stateDir, FILE);
  }

  static open(opts: { stateDir: string; allowDevKey: boolean; env?: NodeJS.ProcessEnv }): Vault {
    const key = resolveMasterKey({ stateDir: opts.stateDir, allowDevKey: opts.allowDevKey, env: opts.env ?? process.env });
    mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
    const vault = new Vault(key, opts.stateDir);
    vault.#read(); // surface a corrupt file at startup, not at the first connection
    return vault;
  }

  get(name: string): string {
    checkName(name);
    const e = this.#read().entries[name];
    if (!e) {
      throw new GatewayError('GW_VAULT_SECRET_MISSING', `vault secret '${name}' is not set; run: gatehouse vault set ${name}`);
    }
    try {
      const nonce = Buffer.from(e.nonce, 'base64');
      if (nonce.length !== 12) throw new Error('bad nonce length');
      // authTagLength pins the full 16-byte tag: Node otherwise accepts truncated tags, which are easier to forge.
      const d = createDecipheriv('aes-256-gcm', this.#key, nonce, { authTagLength: 16 });
      d.setAAD(aad(name));
      d.setAuthTag(Buffer.from(e.tag, 'base64'));
      return Buffer.concat([d.update(Buffer.from(e.ciphertext, 'base64')), d.final()]).toString('utf8');
    } catch (cause) {
      // GCM authentication failed: wrong key, or the entry was altered/moved. Never return unauthenticated bytes.
      throw new GatewayError('GW_VAULT_CORRUPT', `cannot decrypt vault secret '${name}': wrong GATEHOUSE_MASTER_KEY?`, { cause });
    }
  }

  has(name: string): boolean {
    checkName(name);
    return Object.hasOwn(this.#read().entries, name);
  }

  set(name: string, value: string): void {
    checkName(name);
    if (typeof value !== 'string') throw new GatewayError('GW_CONFIG_INVALID', `vault secret '${name}': value must be a string`);
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#key, nonce);
    c.setAAD(aad(name));
    const ciphertext = Buffer.concat([c.update(value, 'utf8'), c.final()]);
    const data = this.#read();
    const entries = {
      ...data.entries,
      [name]: {
        nonce: nonce.toString('base64'),
        ciphertext: ciphertext.toString('base64'),
        tag: c.getAuthTag().toString('base64'),
        createdAt: new Date().toISOString(),
      },
    };
    this.#write({ version: VERSION, entries });
  }

  remove(name: string): boolean {
    checkName(name);
    const data = this.#read();
    if (!Object.hasOwn(data.entries, name)) return false;
    const { [name]: _gone, ...entries } = data.entries;
    this.#write({ version: VERSION, entries });
    return true;
  }

  list(): string[] {
    return Object.keys(this.#read().entries).sort();
  }

  /** Re-reads the file when it changed, so `gatehouse vault set` is seen by a running daemon. */
  #read(): VaultFile {
    let st;
    try {
      st = statSync(this.#file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: VERSION, entries: {} };
      throw e;
    }
    const c = this.#cache;
    if (c && c.ino === st.ino && c.mtimeMs === st.mtimeMs && c.size === st.size) return c.data;
    const data = parseVaultFile(readFileSync(this.#file, 'utf8'), this.#file);
    this.#cache = { ino: st.ino, mtimeMs: st.mtimeMs, size: st.size, data };
    return data;
  }

  /** Temp file + fsync + rename: a crash leaves the old or the new vault, never half of one. */
  #write(data: VaultFile): void {
    const tmp = `${this.#file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, JSON.stringify(data, null, 2) + '\n');
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw e;
    }
    closeSync(fd);
    renameSync(tmp, this.#file);
    this.#cache = undefined;
  }
}

function parseVaultFile(text: string, file: string): VaultFile {
  const corrupt = (why: string) => new GatewayError('GW_VAULT_CORRUPT', `vault file ${file} is corrupt: ${why}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw corrupt('not valid JSON');
  }
  const v = raw as Partial<VaultFile> | null;
  if (!v || typeof v !== 'object' || v.version !== VERSION || !v.entries || typeof v.entries !== 'object') {
    throw corrupt(`expected {"version": ${VERSION}, "entries": {...}}`);
  }
  const entries: Record<string, Entry> = Object.create(null);
  for (const [name, e] of Object.entries(v.entries)) {
    const ok =
      NAME.test(name) &&
      e !== null &&
      typeof e === 'object' &&
      typeof e.nonce === 'string' &&
      typeof e.ciphertext === 'string' &&
      typeof e.tag === 'string' &&
      typeof e.createdAt === 'string';
    if (!ok) throw corrupt(`entry '${NAME.test(name) ? name : '(invalid name)'}' is malformed`);
    entries[name] = { nonce: e.nonce, ciphertext: e.ciphertext, tag: e.tag, createdAt: e.createdAt };
  }
  return { version: VERSION, entries };
}
