/**
 * Policy folders on disk → CedarAuthorizer, and a store that reloads them
 * when files change.
 *
 * A folder holds `.cedar` files (any depth, read in sorted path order; dot
 * files and folders are ignored). The schema is the folder's own
 * `*.cedarschema` if it has one at the top, else the published
 * policy/gatehouse.cedarschema.
 *
 * Reload is all or nothing: the new set is compiled and validated in full
 * before it replaces the old one. A broken file keeps the previous set in
 * force (fail closed would be "deny everything", which takes production
 * down on a typo; keeping the last validated set is what the issue asks for)
 * and `onError` says why, with file and line.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GatewayError } from '../../shared/errors.ts';
import { CedarAuthorizer, PolicyCompileError, type StatementContext, type StatementDecision } from '../../core/policy/cedar-authorizer.ts';
import type { PolicyProblem, PolicySource } from '../../core/policy/source.ts';
import type { Authorizer } from '../../core/ports.ts';
import type { AccessRequest, Decision } from '../../core/policy/decision.ts';
import type { Principal } from '../../core/identity/principal.ts';
import type { Classification } from '../../core/classify/sql/types.ts';

/** policy/gatehouse.cedarschema at the repository (package) root. */
export const BUNDLED_SCHEMA_PATH = fileURLToPath(new URL('../../../policy/gatehouse.cedarschema', import.meta.url));

export interface PolicyFolder {
  readonly dir: string;
  readonly sources: readonly PolicySource[];
  readonly schemaText: string;
  readonly schemaFile: string;
  /** Hash of every source and the schema: unchanged content is not a new version. */
  readonly digest: string;
}

export interface LoadOptions {
  /** Schema file; default: the folder's *.cedarschema, else BUNDLED_SCHEMA_PATH. */
  readonly schemaPath?: string;
  readonly dataClasses?: readonly string[];
  readonly cacheSize?: number;
}

function cedarFiles(dir: string, root: string, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const full = join(dir, name);
    const st = statSync(full);
    if (st.isDirectory()) cedarFiles(full, root, out);
    else if (st.isFile() && name.endsWith('.cedar')) out.push(full);
  }
}

function schemaPathFor(dir: string, explicit?: string): string {
  if (explicit) return resolve(explicit);
  const own = readdirSync(dir)
    .filter((n) => n.endsWith('.cedarschema') && !n.startsWith('.'))
    .sort()[0];
  return own ? join(dir, own) : BUNDLED_SCHEMA_PATH;
}

/** Read a policy folder. Throws GatewayError(GW_CONFIG_INVALID) when it cannot be read. */
export function readPolicyFolder(dir: string, opts: LoadOptions = {}): PolicyFolder {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new GatewayError('GW_CONFIG_INVALID', `policy folder not found: ${dir}`, { clientSafe: false });
  const files: string[] = [];
  cedarFiles(root, root, files);
  const sources = files.map((f) => {
    const file = relative(root, f).split(sep).join('/');
    return { id: file, file, text: readFileSync(f, 'utf8') };
  });
  const schemaFile = schemaPathFor(root, opts.schemaPath);
  const schemaText = readFileSync(schemaFile, 'utf8');
  const h = createHash('sha256');
  for (const s of sources) h.update(`${s.file}\0${s.text}\0`);
  h.update(schemaText);
  return { dir: root, sources, schemaText, schemaFile, digest: h.digest('hex') };
}

/** Read and compile a folder. Throws PolicyCompileError (with file and line) or GatewayError. */
export function loadPolicyDir(dir: string, opts: LoadOptions & { version?: number } = {}): CedarAuthorizer {
  const folder = readPolicyFolder(dir, opts);
  return authorizerFor(folder, opts, opts.version ?? 1);
}

function authorizerFor(folder: PolicyFolder, opts: LoadOptions, version: number): CedarAuthorizer {
  const schemaFile = relative(folder.dir, folder.schemaFile).startsWith('..') ? folder.schemaFile : relative(folder.dir, folder.schemaFile);
  return CedarAuthorizer.create({
    policies: folder.sources,
    schemaText: folder.schemaText,
    schemaFile,
    version,
    ...(opts.dataClasses ? { dataClasses: opts.dataClasses } : {}),
    ...(opts.cacheSize !== undefined ? { cacheSize: opts.cacheSize } : {}),
  });
}

export function formatProblems(problems: readonly PolicyProblem[]): string {
  return problems.map((p) => `${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`).join('\n');
}

export interface PolicyStoreOptions extends LoadOptions {
  readonly dir: string;
  /** Watch the folder and reload on change (default true). */
  readonly watch?: boolean;
  /** Quiet period after the last change before reloading (default 100 ms). */
  readonly debounceMs?: number;
  /** A reload failed; the previous policy set stays in force. */
  readonly onError?: (message: string, problems: readonly PolicyProblem[]) => void;
  /** A new policy set is in force. */
  readonly onReload?: (version: number, authorizer: CedarAuthorizer) => void;
}

export type ReloadResult =
  | { readonly ok: true; readonly version: number; readonly changed: boolean }
  | { readonly ok: false; readonly version: number; readonly problems: readonly PolicyProblem[] };

/**
 * The policy set in force, swapped atomically on reload. Implements the
 * Authorizer port by delegating to the current CedarAuthorizer, so a decision
 * is always made by one complete, validated set.
 */
export class PolicyStore implements Authorizer {
  #current: CedarAuthorizer;
  #digest: string;
  #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #opts: PolicyStoreOptions;

  private constructor(opts: PolicyStoreOptions, current: CedarAuthorizer, digest: string) {
    this.#opts = opts;
    this.#current = current;
    this.#digest = digest;
  }

  /**
   * Load the folder and start watching it. Throws when the initial set is
   * broken: with no validated set to fall back on, Gatehouse must not start.
   */
  static open(opts: PolicyStoreOptions): PolicyStore {
    const folder = readPolicyFolder(opts.dir, opts);
    const store = new PolicyStore(opts, authorizerFor(folder, opts, 1), folder.digest);
    if (opts.watch !== false) store.#watch(folder);
    return store;
  }

  get current(): CedarAuthorizer {
    return this.#current;
  }

  /** SHA-256 over the sources and the schema of the set in force. */
  get digest(): string {
    return this.#digest;
  }

  get version(): number {
    return this.#current.version;
  }

  authorize(request: AccessRequest): Decision {
    return this.#current.authorize(request);
  }

  decideStatement(principal: Principal, connection: string, classification: Classification, context: StatementContext): StatementDecision {
    return this.#current.decideStatement(principal, connection, classification, context);
  }

  /** Re-read the folder now. On any problem the current set stays in force. */
  reload(): ReloadResult {
    const version = this.#current.version;
    try {
      const folder = readPolicyFolder(this.#opts.dir, this.#opts);
      if (folder.digest === this.#digest) return { ok: true, version, changed: false };
      const next = authorizerFor(folder, this.#opts, version + 1);
      this.#current = next;
      this.#digest = folder.digest;
      this.#opts.onReload?.(next.version, next);
      return { ok: true, version: next.version, changed: true };
    } catch (e) {
      const problems: PolicyProblem[] =
        e instanceof PolicyCompileError ? [...e.problems] : [{ file: this.#opts.dir, line: 0, message: e instanceof Error ? e.message : String(e) }];
      this.#opts.onError?.(`policy reload failed; version ${version} stays in force:\n${formatProblems(problems)}`, problems);
      return { ok: false, version, problems };
    }
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
  }

  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.reload();
    }, this.#opts.debounceMs ?? 100);
    this.#timer.unref?.();
  }

  #watch(folder: PolicyFolder): void {
    const onError = (e: Error): void => {
      this.#opts.onError?.(`policy folder watch failed (${e.message}); version ${this.version} stays in force until restart`, []);
    };
    // Editors replace files by rename; watching the folder sees that, a file watch would not.
    const w = watch(folder.dir, { recursive: true, persistent: false }, () => this.#schedule());
    w.on('error', onError);
    this.#watchers.push(w);
    if (!folder.schemaFile.startsWith(folder.dir + sep)) {
      const s = watch(folder.schemaFile, { persistent: false }, () => this.#schedule());
      s.on('error', onError);
      this.#watchers.push(s);
    }
  }
}
