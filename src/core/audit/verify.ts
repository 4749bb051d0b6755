/**
 * Pure verification of an audit log or an exported slice of it.
 *
 * Input: the stored envelopes in order, the payloads that still exist, the
 * signed checkpoints in order, and — for a slice that does not start at
 * entry 1 — the compact range of the tree before the slice, consistency
 * proofs between consecutive checkpoints and proven retention records. The
 * same function checks the live SQLite store and an offline bundle.
 *
 * What it establishes:
 * 1. every checkpoint carries a valid Ed25519 signature by the log key in
 *    force at its place in the log (a handover by both keys: keychain.ts),
 *    from a key chain that contains the trusted key, and names the origin;
 *    checkpoint sizes never shrink; each checkpoint's `prev` line is the
 *    SHA-256 of the previous checkpoint's body;
 * 2. entries are numbered 1, 2, 3… without gaps, and each envelope states
 *    its own position (`seq`), so deletion, insertion and reordering surface
 *    at the first displaced entry;
 * 3. the RFC 6962 tree over the envelopes' exact bytes has, at each
 *    checkpoint's size, the signed root — so no byte of a checkpointed entry
 *    can change; a log shorter than its last checkpoint has been truncated;
 * 4. every payload matches the commitment in its envelope; a payload that is
 *    gone is acceptable only if a later `retention.run` entry lists it.
 *
 * What it cannot establish on its own: entries appended after the newest
 * checkpoint are not yet signed (`checked.unsigned` counts them), and a
 * store rolled back to an older checkpoint (newest checkpoint *and* the
 * entries after it removed) looks like an older log. Comparing against a
 * copy of the checkpoints kept elsewhere (anchoring) closes both gaps.
 */
import type { KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical.ts';
import { NoteError, checkpointBodyHash, openCheckpoint, type Checkpoint } from './checkpoint.ts';
import { parseEnvelope, payloadCommitment, type Envelope } from './envelope.ts';
import { keyChain, openHandover, openWithAnyKey, rotationOfNote } from './keychain.ts';
import { EMPTY_ROOT, MerkleFrontier, hashLeaf, hashLeafText, verifyConsistency, verifyInclusion } from './merkle.ts';

export interface LogRecord {
  /** The entry's sequence number as the store files it (DB key, or position in a bundle). */
  readonly seq: number;
  /** Canonical envelope JSON exactly as stored: the Merkle leaf data. */
  readonly envelope: string;
  /** The leaf hash the store keeps next to the envelope, when it keeps one. */
  readonly leafHash?: Uint8Array;
}

export interface LogPayload {
  readonly seq: number;
  readonly class: string;
  readonly salt: Uint8Array;
  /** Canonical payload JSON exactly as stored. */
  readonly body: string;
}

export interface LogCheckpoint {
  /** Store id (1-based), used to name the checkpoint in problems; defaults to position. */
  readonly id?: number;
  readonly note: string;
}

export interface ConsistencyProofRecord {
  readonly size1: number;
  readonly size2: number;
  readonly proof: readonly Uint8Array[];
}

/** An envelope outside the records, proven by inclusion in the checkpoint of size `treeSize`. */
export interface ProvenEnvelope {
  readonly seq: number;
  readonly envelope: string;
  readonly treeSize: number;
  readonly proof: readonly Uint8Array[];
}

export interface VerifyInput {
  /** Origin line / key name of the log's checkpoints. */
  readonly origin: string;
  /**
   * The Ed25519 public key the auditor trusts: the log's key, or any key of
   * its chain of signing keys when the key was rotated (keychain.ts).
   */
  readonly publicKey: KeyObject;
  /**
   * Key handovers before the first checkpoint, oldest first (a slice that
   * starts after a rotation): each opens with both its keys, and they give
   * the key in force at the slice's first checkpoint.
   */
  readonly keyHandovers?: readonly string[];
  /** In position order; read once, front to back (a store or file can stream them). */
  readonly records: Iterable<LogRecord>;
  /**
   * In ascending `seq` order; read once, in step with `records`. One out of
   * order is reported (a live store reads them by primary key; an exporter
   * writes them sorted).
   */
  readonly payloads: Iterable<LogPayload>;
  readonly checkpoints: readonly LogCheckpoint[];
  /** For a slice: the compact range (perfect subtree roots, tallest first) of the entries before it. */
  readonly start?: { readonly size: number; readonly hashes: readonly Uint8Array[] };
  readonly consistencyProofs?: readonly ConsistencyProofRecord[];
  /** Demand a consistency proof for every consecutive checkpoint pair (bundles). */
  readonly requireConsistencyProofs?: boolean;
  readonly provenEnvelopes?: readonly ProvenEnvelope[];
  /** The tree size the store's own bookkeeping claims (live store only). */
  readonly claimedSize?: number;
  /**
   * Slices: checkpoints after the last record are expected (they are
   * anchored by consistency proofs), and the last record must end exactly
   * at a checkpoint.
   */
  readonly slice?: boolean;
  /**
   * Signed checkpoints kept outside Gatehouse (anchoring). Each must verify
   * and match the log at its size; one the log cannot match is a split view
   * or a rollback.
   */
  readonly anchors?: readonly string[];
}

export interface VerifyProblem {
  readonly seq?: number;
  readonly checkpoint?: number;
  readonly problem: string;
}

export interface VerifyResult {
  readonly ok: boolean;
  /** The earliest problem in log order (the record to look at first). */
  readonly firstError?: VerifyProblem;
  /** Up to MAX_PROBLEMS problems in log order. */
  readonly problems: readonly VerifyProblem[];
  readonly checked: {
    readonly entries: number;
    readonly firstSeq: number;
    readonly treeSize: number;
    readonly checkpoints: number;
    readonly lastCheckpointSize: number;
    readonly consistencyProofs: number;
    readonly payloads: number;
    readonly payloadsExpired: number;
    /** Entries after the newest checkpoint: present, but not yet signed. */
    readonly unsigned: number;
    /**
     * With `anchors`: how many were compared with the log (by recomputed
     * root, or, for a slice, with the bundle's checkpoint of the same size),
     * and how many lie outside what a slice covers (before its first or
     * after its newest checkpoint), which a slice cannot check.
     */
    readonly anchors?: { readonly compared: number; readonly outside: number };
  };
  /** Payloads removed by retention, as inclusive ranges, with the retention entry that removed them. */
  readonly expired: readonly { readonly from: number; readonly to: number; readonly class: string; readonly by: number }[];
}

export const MAX_PROBLEMS = 100;

interface Found {
  key: number;
  order: number;
  p: VerifyProblem;
}

interface OpenedCheckpoint {
  id: number;
  cp: Checkpoint;
}

/**
 * Verify in one pass over the records and payloads: memory grows with the
 * number of checkpoints and of payloads removed by retention, not with the
 * number of entries, so a log of any length can be checked.
 */
export function verifyLog(input: VerifyInput): VerifyResult {
  // Only the MAX_PROBLEMS earliest problems are returned: keep the list bounded on a badly damaged log.
  let found: Found[] = [];
  let problemCount = 0;
  let order = 0;
  const report = (key: number, p: VerifyProblem): void => {
    problemCount++;
    found.push({ key, order: order++, p });
    if (found.length >= 8 * MAX_PROBLEMS) found = earliest(found);
  };

  // 1. Checkpoints: signature by the key in force, origin, prev chain, monotonic size.
  const opened: OpenedCheckpoint[] = [];
  const startSize = input.start?.size ?? 0;
  const genesis = startSize === 0;
  const earlier = input.keyHandovers ?? [];
  const rotations = [...earlier, ...input.checkpoints.map((c) => c.note)].map(rotationOfNote);
  /** Index in `rotations` (earlier handovers, then checkpoints) of each handover. */
  const handoverAt = rotations.flatMap((r, i) => (r === null ? [] : [i]));
  const chain = keyChain(input.origin, input.publicKey, rotations.filter((r) => r !== null));
  if (chain.problem) {
    // Named by the checkpoint it is about: the faulty handover, or the first checkpoint (the trusted key signs none).
    const pos = chain.at !== undefined ? handoverAt[chain.at]! : earlier.length;
    const c = input.checkpoints[pos - earlier.length];
    if (c) report(0, { checkpoint: c.id ?? pos - earlier.length + 1, problem: `checkpoint ${c.id ?? pos - earlier.length + 1}: ${chain.problem}` });
    else report(0, { problem: chain.problem });
  }
  // With a broken chain every checkpoint is checked against the trusted key alone (and those it did not sign fail).
  const keys = chain.problem ? [input.publicKey] : chain.keys;
  let inForce = 0;
  const keyAt = (i: number): KeyObject => keys[Math.min(i, keys.length - 1)]!;
  earlier.forEach((note, i) => {
    if (!rotations[i]) {
      report(0, { problem: `earlier key handover ${i + 1}: not a key handover` });
      return;
    }
    try {
      openHandover(note, input.origin, keyAt(inForce), keyAt(inForce + 1));
    } catch (e) {
      report(0, { problem: `earlier key handover ${i + 1}: ${e instanceof NoteError ? e.problem : String(e)}` });
    }
    inForce++;
  });
  let prevBody: string | undefined;
  let prevSize = -1;
  input.checkpoints.forEach((c, i) => {
    const id = c.id ?? i + 1;
    const handover = rotations[earlier.length + i] !== null;
    let cp: Checkpoint;
    try {
      cp = handover ? openHandover(c.note, input.origin, keyAt(inForce), keyAt(inForce + 1)) : openCheckpoint(c.note, input.origin, keyAt(inForce));
    } catch (e) {
      const problem = e instanceof NoteError ? e.problem : String(e);
      report(Math.max(prevSize, 0) + 0.5, { checkpoint: id, problem: `checkpoint ${id}: ${problem}` });
      prevBody = undefined;
      return;
    } finally {
      if (handover) inForce++;
    }
    if (prevBody !== undefined) {
      if (cp.prev === undefined || !cp.prev.equals(checkpointBodyHash(prevBody))) {
        report(cp.size, { checkpoint: id, problem: `checkpoint ${id}: prev hash does not match the previous checkpoint (checkpoint removed, inserted or reordered)` });
      }
    } else if (i === 0 && genesis && cp.prev !== undefined) {
      report(cp.size, { checkpoint: id, problem: `checkpoint ${id}: refers to an earlier checkpoint that is missing` });
    }
    if (cp.size < prevSize) {
      report(cp.size, { checkpoint: id, problem: `checkpoint ${id}: signs size ${cp.size}, smaller than the previous checkpoint's ${prevSize} (log rolled back)` });
    }
    prevSize = Math.max(prevSize, cp.size);
    prevBody = cp.body;
    opened.push({ id, cp });
  });
  const bySize = new Map<number, OpenedCheckpoint[]>();
  for (const o of opened) bySize.set(o.cp.size, [...(bySize.get(o.cp.size) ?? []), o]);
  // Anchored copies: checked against the recomputed roots like stored checkpoints, but outside the prev chain.
  const anchorsBySize = new Map<number, { n: number; cp: Checkpoint }[]>();
  const anchored: { n: number; cp: Checkpoint }[] = [];
  (input.anchors ?? []).forEach((note, i) => {
    const n = i + 1;
    try {
      // Anchored copies may be signed by any key of the chain (a witness keeps the notes, not their order).
      const cp = openWithAnyKey(keys, (k) => openCheckpoint(note, input.origin, k));
      anchored.push({ n, cp });
      anchorsBySize.set(cp.size, [...(anchorsBySize.get(cp.size) ?? []), { n, cp }]);
    } catch (e) {
      report(0, { problem: `anchored checkpoint ${n}: ${e instanceof NoteError ? e.problem : String(e)}` });
    }
  });
  let lastAnchored = 0; // size of the last checkpoint whose root matched, for messages
  let anchorsCompared = 0;
  let anchorsOutside = 0;

  let frontier: MerkleFrontier;
  try {
    frontier = input.start ? MerkleFrontier.fromNodes(input.start.size, input.start.hashes) : MerkleFrontier.empty();
  } catch (e) {
    report(0, { problem: `tree state before the first entry is malformed: ${(e as Error).message}` });
    frontier = MerkleFrontier.empty();
  }
  const checkRootsAt = (size: number): void => {
    const list = bySize.get(size);
    if (!list) return;
    const root = size === 0 ? EMPTY_ROOT : frontier.root();
    for (const { id, cp } of list) {
      if (!cp.rootHash.equals(root)) {
        report(size, {
          checkpoint: id,
          problem: `checkpoint ${id} (size ${size}): root hash does not match the log — an entry in ${lastAnchored + 1}..${size} was altered, inserted, removed or reordered`,
        });
      } else {
        lastAnchored = size;
      }
    }
    for (const { n, cp } of anchorsBySize.get(size) ?? []) {
      anchorsCompared++;
      if (!cp.rootHash.equals(root)) {
        report(size, { seq: size, problem: `split view: the anchored checkpoint ${n} (size ${size}) does not match the log` });
      }
    }
  };
  checkRootsAt(frontier.size);

  // 2. Entries: continuity, envelope shape, leaf hash, tree roots; and, in step, their payloads.
  const retention: RetentionRange[] = [];
  const collectRetention = (env: Envelope): void => {
    if (env.type !== 'retention.run') return;
    const attrs = env.attrs as { expiredRanges?: unknown; expiredByClass?: unknown } | undefined;
    const add = (ranges: unknown, cls: string | null): void => {
      if (!Array.isArray(ranges)) return;
      for (const r of ranges) {
        if (Array.isArray(r) && Number.isSafeInteger(r[0]) && Number.isSafeInteger(r[1])) {
          retention.push({ from: r[0] as number, to: r[1] as number, by: env.seq, cls });
        }
      }
    };
    // Older runs: every payload in the range, whatever its class.
    add(attrs?.expiredRanges, null);
    // Per class: every payload of that class in the range.
    const byClass = attrs?.expiredByClass;
    if (byClass !== null && typeof byClass === 'object' && !Array.isArray(byClass)) {
      for (const [cls, ranges] of Object.entries(byClass)) add(ranges, cls);
    }
  };
  const payloadIt = input.payloads[Symbol.iterator]();
  let pay = null as LogPayload | null; // (set by nextPayload)
  let lastPayloadSeq = -1;
  let payloadsChecked = 0;
  /** Entries whose envelope commits to a payload that is not there, as runs of one class (resolved against retention at the end). */
  const missing: { from: number; to: number; cls: string }[] = [];
  /** Move to the next payload, reporting duplicates and payloads out of order on the way. */
  const nextPayload = (): void => {
    for (;;) {
      const r = payloadIt.next();
      if (r.done) {
        pay = null;
        return;
      }
      const p = r.value;
      if (p.seq === lastPayloadSeq) {
        report(p.seq, { seq: p.seq, problem: `entry ${p.seq}: more than one payload` });
        continue;
      }
      if (p.seq < lastPayloadSeq) {
        report(p.seq, { seq: p.seq, problem: `entry ${p.seq}: payload out of sequence order (payload inserted or moved)` });
        continue;
      }
      lastPayloadSeq = p.seq;
      pay = p;
      return;
    }
  };
  /** A payload no entry claims: inside the entries read so far, or outside the log. */
  const unclaimed = (p: LogPayload, inLog: boolean): void => {
    if (inLog) report(p.seq, { seq: p.seq, problem: `entry ${p.seq}: payload present but the envelope commits to none (payload inserted)` });
    else report(p.seq, { seq: p.seq, problem: `payload for entry ${p.seq}, which is not in the log` });
  };
  nextPayload();
  let continuityReported = false;
  let entries = 0;
  const firstSeq = frontier.size + 1;
  for (const rec of input.records) {
    entries++;
    const position = frontier.size + 1;
    if (rec.seq !== position && !continuityReported) {
      continuityReported = true;
      report(position, {
        seq: position,
        problem:
          rec.seq > position
            ? `entries ${position}..${rec.seq - 1} are missing (deleted)`
            : `entry ${rec.seq} appears at position ${position} (duplicated, inserted or reordered)`,
      });
    }
    const leaf = hashLeafText(rec.envelope);
    if (rec.leafHash !== undefined && !leaf.equals(rec.leafHash)) {
      report(position, { seq: position, problem: `entry ${position}: envelope does not match its stored leaf hash (envelope or hash altered)` });
    }
    let env: Envelope | undefined;
    try {
      env = parseEnvelope(rec.envelope);
    } catch (e) {
      report(position, { seq: position, problem: `entry ${position}: ${(e as Error).message}` });
    }
    let need: { cls: string; commitment: string } | null = null;
    if (env) {
      let canonical = false;
      try {
        canonical = canonicalJson(env) === rec.envelope;
      } catch {
        /* not representable: not canonical */
      }
      if (!canonical) report(position, { seq: position, problem: `entry ${position}: envelope is not in canonical (RFC 8785) form` });
      if (env.seq !== position) {
        report(position, { seq: position, problem: `entry ${position}: envelope states seq ${env.seq} (entries inserted, removed or reordered)` });
      }
      if (env.payload) need = { cls: env.payload.class, commitment: env.payload.commitment };
      collectRetention(env);
    }
    // Matched by position: the envelope at a position commits to the payload filed there.
    while (pay !== null && pay.seq < position) {
      unclaimed(pay, pay.seq >= firstSeq);
      nextPayload();
    }
    const p: LogPayload | null = pay !== null && pay.seq === position ? pay : null;
    if (p !== null) nextPayload();
    if (need && p) {
      payloadsChecked++;
      if (p.class !== need.cls) {
        report(p.seq, { seq: p.seq, problem: `entry ${p.seq}: payload class is ${p.class}, the envelope says ${need.cls}` });
      }
      if (payloadCommitment(p.salt, p.body) !== need.commitment) {
        report(p.seq, { seq: p.seq, problem: `entry ${p.seq}: payload does not match its commitment (payload or salt altered)` });
      }
    } else if (need) {
      const last = missing[missing.length - 1];
      if (last && last.to === position - 1 && last.cls === need.cls) last.to = position;
      else missing.push({ from: position, to: position, cls: need.cls });
    } else if (p) {
      unclaimed(p, true);
    }
    frontier.append(leaf);
    checkRootsAt(frontier.size);
  }
  for (; pay !== null; nextPayload()) unclaimed(pay, pay.seq >= firstSeq && pay.seq <= frontier.size);
  const treeSize = frontier.size;

  // 3. Checkpoints beyond the end: the tail was cut off (unless this is a slice).
  let lastCheckpointSize = 0;
  let coveredSize = startSize;
  for (const { id, cp } of opened) {
    lastCheckpointSize = Math.max(lastCheckpointSize, cp.size);
    if (cp.size <= treeSize) coveredSize = Math.max(coveredSize, cp.size);
    if (cp.size > treeSize && !input.slice) {
      report(treeSize + 1, {
        seq: treeSize + 1,
        checkpoint: id,
        problem: `the log ends at entry ${treeSize} but checkpoint ${id} signs ${cp.size} entries (tail truncated)`,
      });
    }
  }
  const firstCheckpointSize = opened[0]?.cp.size ?? startSize;
  for (const { n, cp } of anchored) {
    if (cp.size >= startSize && cp.size <= treeSize) continue; // compared with the recomputed root above
    if (input.slice) {
      // A bundle holds every checkpoint from before its first entry to its newest: an anchored copy in
      // that span must be one of them, with the same root.
      const same = bySize.get(cp.size);
      if (same) {
        anchorsCompared++;
        if (!same.every((o) => o.cp.rootHash.equals(cp.rootHash))) {
          report(cp.size, { problem: `split view: the anchored checkpoint ${n} (size ${cp.size}) does not match the bundle's checkpoint of that size` });
        }
      } else if (cp.size > lastCheckpointSize || cp.size < firstCheckpointSize) {
        anchorsOutside++;
      } else {
        report(cp.size, { problem: `split view: the anchored checkpoint ${n} (size ${cp.size}) is not among the bundle's checkpoints` });
      }
    } else if (cp.size > treeSize) {
      report(treeSize + 1, { seq: treeSize + 1, problem: `the anchored checkpoint ${n} signs ${cp.size} entries but the log holds ${treeSize} (rolled back or truncated)` });
    } else {
      report(cp.size, { problem: `anchored checkpoint ${n} (size ${cp.size}) precedes the verified range and was not checked` });
    }
  }
  if (input.slice && coveredSize < treeSize) {
    report(coveredSize + 1, {
      seq: coveredSize + 1,
      problem: `entries ${coveredSize + 1}..${treeSize} are not covered by a checkpoint in the bundle (bundle truncated or extended)`,
    });
  }
  if (input.claimedSize !== undefined && input.claimedSize !== treeSize) {
    report(Math.min(input.claimedSize, treeSize) + 1, {
      seq: Math.min(input.claimedSize, treeSize) + 1,
      problem: `the store's tree state records ${input.claimedSize} entries but the log holds ${treeSize} (entries added or removed outside the log)`,
    });
  }

  // 4. Consistency proofs between consecutive checkpoints.
  const proofs = new Map<string, ConsistencyProofRecord>();
  for (const p of input.consistencyProofs ?? []) proofs.set(`${p.size1}:${p.size2}`, p);
  let consistencyChecked = 0;
  for (let i = 1; i < opened.length; i++) {
    const a = opened[i - 1]!.cp;
    const b = opened[i]!;
    if (b.cp.size < a.size) continue; // already reported
    const p = proofs.get(`${a.size}:${b.cp.size}`);
    if (!p) {
      if (input.requireConsistencyProofs) {
        report(b.cp.size, { checkpoint: b.id, problem: `no consistency proof from size ${a.size} to ${b.cp.size}` });
      }
      continue;
    }
    consistencyChecked++;
    if (!verifyConsistency(a.size, b.cp.size, a.rootHash, b.cp.rootHash, p.proof)) {
      report(b.cp.size, { checkpoint: b.id, problem: `checkpoint ${b.id}: not consistent with the previous checkpoint (size ${a.size} → ${b.cp.size})` });
    }
  }
  // A checkpoint no entry reached (before a slice's start) is anchored only by that chain.
  for (const o of opened) {
    if (o.cp.size < startSize && !input.requireConsistencyProofs && !input.slice) {
      report(o.cp.size, { checkpoint: o.id, problem: `checkpoint ${o.id} precedes the slice and is not covered by consistency proofs` });
    }
  }

  // 5. Retention records proven against a checkpoint (slices ending before the retention run).
  for (const pe of input.provenEnvelopes ?? []) {
    const target = bySize.get(pe.treeSize)?.[0];
    let env: Envelope | undefined;
    try {
      env = parseEnvelope(pe.envelope);
    } catch (e) {
      report(pe.seq, { seq: pe.seq, problem: `retention entry ${pe.seq}: ${(e as Error).message}` });
      continue;
    }
    const ok =
      target !== undefined &&
      env.seq === pe.seq &&
      verifyInclusion(pe.seq - 1, pe.treeSize, hashLeaf(Buffer.from(pe.envelope, 'utf8')), pe.proof, target.cp.rootHash);
    if (!ok) {
      report(pe.seq, { seq: pe.seq, problem: `retention entry ${pe.seq}: inclusion proof does not verify against a checkpoint` });
      continue;
    }
    collectRetention(env);
  }

  // 6. Payloads that are gone: each must be listed by a retention run logged after it.
  const covers = retentionIndex(retention);
  const expired: { from: number; to: number; class: string; by: number }[] = [];
  let payloadsExpired = 0;
  for (const run of missing) {
    for (let seq = run.from; seq <= run.to; seq++) {
      const by = covers(seq, run.cls);
      if (by === null) {
        report(seq, { seq, problem: `entry ${seq}: payload missing and no retention run in the log removed it (payload deleted, or the retention entry is gone)` });
        continue;
      }
      payloadsExpired++;
      const last = expired[expired.length - 1];
      if (last && last.to === seq - 1 && last.class === run.cls && last.by === by) last.to = seq;
      else expired.push({ from: seq, to: seq, class: run.cls, by });
    }
  }

  const problems = earliest(found).map((f) => f.p);
  return {
    ok: problemCount === 0,
    ...(problems[0] ? { firstError: problems[0] } : {}),
    problems,
    checked: {
      entries,
      firstSeq,
      treeSize,
      checkpoints: opened.length,
      lastCheckpointSize,
      consistencyProofs: consistencyChecked,
      payloads: payloadsChecked,
      payloadsExpired,
      unsigned: Math.max(0, treeSize - coveredSize),
      ...(input.anchors ? { anchors: { compared: anchorsCompared, outside: anchorsOutside } } : {}),
    },
    expired,
  };
}

/** The MAX_PROBLEMS problems that come first in log order (ties: in the order found). */
function earliest(found: Found[]): Found[] {
  return found.sort((a, b) => a.key - b.key || a.order - b.order).slice(0, MAX_PROBLEMS);
}

interface RetentionRange {
  readonly from: number;
  readonly to: number;
  /** The retention.run entry that lists the range. */
  readonly by: number;
  /** The payload class the range is about; null: every class (runs written before expiredByClass). */
  readonly cls: string | null;
}

/**
 * Finds the retention run that removed entry `seq`'s payload of class
 * `cls`: one whose range holds `seq`, is about that class (or every
 * class), and that was logged after it. Ranges are sorted by
 * start, with the running maximum of their ends, so a lookup is a binary
 * search plus a walk back over only the ranges that could still reach `seq`.
 */
function retentionIndex(ranges: readonly RetentionRange[]): (seq: number, cls: string) => number | null {
  const sorted = [...ranges].sort((a, b) => a.from - b.from || a.by - b.by);
  const reach: number[] = [];
  let max = -Infinity;
  for (const r of sorted) reach.push((max = Math.max(max, r.to)));
  return (seq, cls) => {
    let lo = 0;
    let hi = sorted.length - 1;
    let i = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]!.from <= seq) {
        i = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    for (; i >= 0 && reach[i]! >= seq; i--) {
      const r = sorted[i]!;
      if (r.to >= seq && r.by > seq && (r.cls === null || r.cls === cls)) return r.by;
    }
    return null;
  };
}
