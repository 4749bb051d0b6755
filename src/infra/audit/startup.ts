/**
 * Opening the store: restore the Merkle compact range and the newest
 * checkpoint, and decide whether a log may be continued.
 *
 * The compact range is stored in `tree_state` in the same transaction as
 * the entries, so after a crash (kill -9 included) it matches exactly what
 * was committed. It can only disagree with the entries after an edit
 * outside the log; then it is rebuilt from the stored leaf hashes, and the
 * startup check decides.
 */
import type Database from 'better-sqlite3';
import type { KeyObject } from 'node:crypto';
import { NoteError, openCheckpoint } from '../../core/audit/checkpoint.ts';
import { MerkleFrontier } from '../../core/audit/merkle.ts';

export interface LastCheckpoint {
  readonly id: number;
  /** -1 when the newest checkpoint does not verify with the configured key. */
  readonly size: number;
  /** The signed body (for the next checkpoint's `prev`). */
  readonly body: string;
}

function entryCount(db: Database.Database): { n: number; max: number } {
  return db.prepare('SELECT count(*) AS n, coalesce(max(seq), 0) AS max FROM envelopes').get() as { n: number; max: number };
}

export function loadTreeState(
  db: Database.Database,
  origin: string,
  publicKey: KeyObject,
): { frontier: MerkleFrontier; lastCheckpoint: LastCheckpoint | null } {
  const st = db.prepare('SELECT size, frontier FROM tree_state WHERE id = 1').get() as { size: number; frontier: Buffer } | undefined;
  const agg = entryCount(db);
  let frontier: MerkleFrontier | undefined;
  if (st && st.size === agg.max && agg.n === agg.max) {
    try {
      frontier = MerkleFrontier.deserialize(st.size, st.frontier);
    } catch {
      frontier = undefined;
    }
  }
  frontier ??= rebuildFrontier(db);
  const cp = db.prepare('SELECT id, body FROM checkpoints ORDER BY id DESC LIMIT 1').get() as { id: number; body: string } | undefined;
  let lastCheckpoint: LastCheckpoint | null = null;
  if (cp) {
    let size: number;
    try {
      size = openCheckpoint(cp.body, origin, publicKey).size;
    } catch {
      size = -1; // named by startupProblem in write mode
    }
    lastCheckpoint = { id: cp.id, size, body: cp.body.slice(0, cp.body.lastIndexOf('\n\n') + 1) };
  }
  return { frontier, lastCheckpoint };
}

/**
 * The log's key handovers (keychain.ts), oldest first; with `upToId`, those
 * at or before that checkpoint. Signature lines are base64, so only a body
 * can hold the extension line.
 */
export function storedHandovers(db: Database.Database, upToId = Number.MAX_SAFE_INTEGER): string[] {
  const rows = db.prepare(`SELECT body FROM checkpoints WHERE id <= ? AND instr(body, char(10) || 'key-rotation ') > 0 ORDER BY id`).all(upToId);
  return (rows as { body: string }[]).map((r) => r.body);
}

/** The compact range over the stored leaf hashes, up to the first gap. */
function rebuildFrontier(db: Database.Database): MerkleFrontier {
  const f = MerkleFrontier.empty();
  for (const row of db.prepare('SELECT seq, leaf_hash FROM envelopes ORDER BY seq').iterate() as Iterable<{ seq: number; leaf_hash: Buffer }>) {
    if (row.seq !== f.size + 1) break; // a gap: verification names it
    f.append(row.leaf_hash);
  }
  return f;
}

/**
 * Why a log must not be continued, or null. Cheap checks only (no full
 * verification): continuing a damaged log would sign the damage into the
 * next checkpoint, so the gateway refuses to start instead (fail closed).
 */
export function startupProblem(
  db: Database.Database,
  origin: string,
  publicKey: KeyObject,
  frontier: MerkleFrontier,
  cp: LastCheckpoint | null,
): string | null {
  const agg = entryCount(db);
  if (agg.n !== agg.max || frontier.size !== agg.max) return `entries are not numbered 1..${agg.max} without gaps`;
  if (!cp) return null;
  const note = (db.prepare('SELECT body FROM checkpoints WHERE id = ?').get(cp.id) as { body: string }).body;
  let root: Buffer;
  try {
    root = openCheckpoint(note, origin, publicKey).rootHash;
  } catch (e) {
    return `newest checkpoint ${cp.id}: ${e instanceof NoteError ? e.problem : String(e)}`;
  }
  if (frontier.size < cp.size) return `the log holds ${frontier.size} entries but checkpoint ${cp.id} signs ${cp.size} (tail truncated)`;
  if (frontier.size === cp.size && !root.equals(frontier.root())) return `the log does not match checkpoint ${cp.id}`;
  return null;
}
