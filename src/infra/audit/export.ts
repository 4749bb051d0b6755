/**
 * Writes an evidence bundle from the SQLite store (layout: docs/audit.md).
 *
 * The bundle holds the stored bytes as they are — the exporter never repairs
 * or filters — so a store edited outside the log yields a bundle that fails
 * verification. Slice choice: entries [a, b] are widened to end exactly at
 * the first checkpoint E covering b, so every exported entry is anchored by
 * a recomputable root; entries after the newest checkpoint are left out.
 * Checkpoints from the last one before a through the newest are included,
 * with consistency proofs between neighbours, so those outside the slice
 * are anchored too.
 */
import type Database from 'better-sqlite3';
import { createHash, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../../core/audit/canonical.ts';
import { keyId, signNote, verifierKey } from '../../core/audit/checkpoint.ts';
import { rotationOfNote } from '../../core/audit/keychain.ts';
import { ProofPlan } from '../../core/audit/merkle.ts';
import {
  BUNDLE_FILES,
  BUNDLE_FORMAT,
  BUNDLE_VERSION,
  KEY_HANDOVERS_FILE,
  MANIFEST_FILE,
  MANIFEST_SIG_FILE,
  manifestNoteText,
  type BundleManifest,
} from './bundle-format.ts';
import { publicKeyPem } from './keys.ts';
import { storedLeafHashes } from './read.ts';

export interface ExportOptions {
  readonly outDir: string;
  /** Earliest event time to include (ms since epoch). */
  readonly from?: number;
  /** Latest event time to include (ms since epoch). */
  readonly to?: number;
  readonly fromSeq?: number;
  readonly toSeq?: number;
}

export interface ExportSummary {
  readonly outDir: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly entries: number;
  readonly payloads: number;
  readonly checkpoints: number;
  readonly files: readonly string[];
  /** hex SHA-256 of manifest.json. */
  readonly manifestSha256: string;
}

export interface ExportContext {
  readonly origin: string;
  readonly instance: string;
  readonly privateKey: KeyObject | undefined;
  readonly publicKey: KeyObject;
  readonly now: number;
}

/** A file written line by line with its SHA-256 computed on the way. */
class HashedFile {
  private readonly fd: number;
  private readonly hash = createHash('sha256');
  private chunks: string[] = [];
  private pendingBytes = 0;
  bytes = 0;

  constructor(readonly name: string, dir: string) {
    this.fd = openSync(join(dir, name), 'wx', 0o644);
  }

  write(text: string): void {
    this.chunks.push(text);
    this.pendingBytes += text.length;
    if (this.pendingBytes > 1 << 20) this.drain();
  }

  private drain(): void {
    const buf = Buffer.from(this.chunks.join(''), 'utf8');
    this.chunks = [];
    this.pendingBytes = 0;
    this.hash.update(buf);
    this.bytes += buf.length;
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off);
  }

  close(): { sha256: string; bytes: number } {
    this.drain();
    closeSync(this.fd);
    return { sha256: this.hash.digest('hex'), bytes: this.bytes };
  }
}

export function writeBundle(db: Database.Database, ctx: ExportContext, opts: ExportOptions): ExportSummary {
  if (!ctx.privateKey) throw new Error('exporting a bundle needs the audit signing key (to sign the manifest)');
  const checkpoints = db.prepare('SELECT id, size, body FROM checkpoints ORDER BY id').all() as { id: number; size: number; body: string }[];
  const newest = checkpoints[checkpoints.length - 1];
  if (!newest) throw new Error('nothing to export: the log has no checkpoint yet');

  // Slice bounds.
  const one = <T>(sql: string, ...args: unknown[]): T | undefined => (db.prepare(sql).get(...args) as { v: T | null } | undefined)?.v ?? undefined;
  let a = opts.fromSeq ?? (opts.from !== undefined ? one<number>('SELECT min(seq) AS v FROM envelopes WHERE time >= ?', Math.trunc(opts.from)) : 1);
  let b = opts.toSeq ?? (opts.to !== undefined ? one<number>('SELECT max(seq) AS v FROM envelopes WHERE time <= ?', Math.trunc(opts.to)) : newest.size);
  if (a === undefined || b === undefined) throw new Error('no entries in the requested range');
  a = Math.max(1, a);
  b = Math.min(b, newest.size);
  if (a > b) throw new Error('no checkpointed entries in the requested range');
  const endIdx = checkpoints.findIndex((c) => c.size >= b!);
  const end = checkpoints[endIdx]!;
  b = end.size;
  let startIdx = 0;
  checkpoints.forEach((c, i) => {
    if (c.size < a! && i < endIdx) startIdx = i;
  });
  const included = checkpoints.slice(startIdx);
  // The key handovers before it: they lead from any earlier key of the log to the one signing the slice.
  const handovers = checkpoints.slice(0, startIdx).filter((c) => rotationOfNote(c.body) !== null);

  // Retention runs after the slice that removed payloads inside it: proven against the newest checkpoint.
  const retentionRuns: { seq: number; body: string }[] = [];
  const runs = db.prepare(`SELECT seq, body FROM envelopes WHERE type = 'retention.run' AND seq > ? AND seq <= ? ORDER BY seq`).iterate(b, newest.size);
  for (const r of runs as Iterable<{ seq: number; body: string }>) {
    let ranges: unknown[] = [];
    try {
      const attrs = (JSON.parse(r.body) as { attrs?: { expiredRanges?: unknown; expiredByClass?: unknown } }).attrs;
      if (Array.isArray(attrs?.expiredRanges)) ranges = attrs.expiredRanges;
      const byClass = attrs?.expiredByClass;
      if (byClass !== null && typeof byClass === 'object') for (const list of Object.values(byClass)) if (Array.isArray(list)) ranges = ranges.concat(list);
    } catch {
      continue;
    }
    if (ranges.some((x) => Array.isArray(x) && x[0] <= b! && x[1] >= a!)) retentionRuns.push(r);
  }

  // Every hash the bundle needs, from one pass over the stored leaf hashes (it stops at a gap): the
  // tree itself is never held (ProofPlan), so a log of any length can be exported.
  const plan = new ProofPlan();
  plan.frontier(a - 1);
  for (let i = 1; i < included.length; i++) {
    const s1 = included[i - 1]!.size;
    const s2 = included[i]!.size;
    if (s1 <= s2) plan.consistency(s1, s2);
  }
  for (const r of retentionRuns) plan.inclusion(r.seq - 1, newest.size);
  const stored = plan.run(storedLeafHashes(db, newest.size));
  if (stored < a - 1) throw new Error(`the store holds only ${stored} contiguous entries before entry ${a}: run 'gatehouse audit verify'`);
  const start = plan.frontier(a - 1);

  if (existsSync(opts.outDir) && readdirSync(opts.outDir).length > 0) throw new Error(`${opts.outDir} is not empty`);
  mkdirSync(opts.outDir, { recursive: true });
  const files: Record<string, { sha256: string; bytes: number }> = {};
  const write = (name: string, fill: (f: HashedFile) => void): void => {
    const f = new HashedFile(name, opts.outDir);
    fill(f);
    files[name] = f.close();
  };

  let entries = 0;
  write(BUNDLE_FILES.envelopes, (f) => {
    for (const r of db.prepare('SELECT body FROM envelopes WHERE seq BETWEEN ? AND ? ORDER BY seq').iterate(a, b) as Iterable<{ body: string }>) {
      f.write(`${r.body}\n`);
      entries++;
    }
  });
  let payloads = 0;
  write(BUNDLE_FILES.payloads, (f) => {
    const rows = db.prepare('SELECT seq, class, salt, body FROM payloads WHERE seq BETWEEN ? AND ? ORDER BY seq').iterate(a, b);
    for (const p of rows as Iterable<{ seq: number; class: string; salt: Buffer; body: string }>) {
      f.write(`${canonicalJson({ seq: p.seq, class: p.class, salt: p.salt.toString('hex'), body: p.body })}\n`);
      payloads++;
    }
  });
  write(BUNDLE_FILES.checkpoints, (f) => {
    for (const c of included) f.write(`${canonicalJson({ id: c.id, note: c.body })}\n`);
  });
  write(BUNDLE_FILES.consistency, (f) => {
    for (let i = 1; i < included.length; i++) {
      const s1 = included[i - 1]!.size;
      const s2 = included[i]!.size;
      if (s1 > s2 || s2 > stored) continue; // a damaged store: the verifier reports the missing proof
      f.write(`${canonicalJson({ size1: s1, size2: s2, proof: plan.consistency(s1, s2).map((h) => h.toString('hex')) })}\n`);
    }
  });
  write(BUNDLE_FILES.retention, (f) => {
    if (newest.size > stored) return; // a damaged store: the verifier reports the payloads as missing
    for (const r of retentionRuns) {
      const proof = plan.inclusion(r.seq - 1, newest.size).map((h) => h.toString('hex'));
      f.write(`${canonicalJson({ seq: r.seq, envelope: r.body, treeSize: newest.size, proof })}\n`);
    }
  });
  write(BUNDLE_FILES.start, (f) => {
    f.write(`${canonicalJson({ size: a - 1, hashes: start.hashes.map((h) => h.toString('hex')) })}\n`);
  });
  write(KEY_HANDOVERS_FILE, (f) => {
    for (const c of handovers) f.write(`${canonicalJson({ id: c.id, note: c.body })}\n`);
  });
  write(BUNDLE_FILES.pubkey, (f) => f.write(publicKeyPem(ctx.publicKey)));
  write(BUNDLE_FILES.vkey, (f) => f.write(`${verifierKey(ctx.origin, ctx.publicKey)}\n`));

  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    origin: ctx.origin,
    instance: ctx.instance,
    keyId: keyId(ctx.origin, ctx.publicKey).toString('hex'),
    createdAt: ctx.now,
    range: {
      firstSeq: a,
      lastSeq: b,
      requested: {
        ...(opts.from !== undefined ? { from: opts.from } : {}),
        ...(opts.to !== undefined ? { to: opts.to } : {}),
        ...(opts.fromSeq !== undefined ? { fromSeq: opts.fromSeq } : {}),
        ...(opts.toSeq !== undefined ? { toSeq: opts.toSeq } : {}),
      },
    },
    files,
  };
  const manifestText = `${canonicalJson(manifest)}\n`;
  const manifestSha = createHash('sha256').update(manifestText, 'utf8').digest('hex');
  write(MANIFEST_FILE, (f) => f.write(manifestText));
  write(MANIFEST_SIG_FILE, (f) => f.write(signNote(manifestNoteText(ctx.origin, manifestSha), ctx.origin, ctx.privateKey!)));
  return {
    outDir: opts.outDir,
    firstSeq: a,
    lastSeq: b,
    entries,
    payloads,
    checkpoints: included.length,
    files: [...Object.keys(files)],
    manifestSha256: manifestSha,
  };
}
