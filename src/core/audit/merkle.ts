/**
 * RFC 6962 §2.1 Merkle hash trees (the structure C2SP tlog-checkpoint and
 * RFC 9162 §2.1 use): leaf hash SHA-256(0x00 ‖ data), interior node
 * SHA-256(0x01 ‖ left ‖ right), the tree over n leaves split at the largest
 * power of two smaller than n.
 *
 * Three tools:
 * - `MerkleFrontier`: the compact range [0, n) — one perfect-subtree root per
 *   set bit of n — so appending is O(log n) and the root is O(log n) without
 *   touching older leaves. This is what the live log keeps in memory.
 * - `MerkleTree`: every perfect aligned subtree hash over a list of leaf
 *   hashes (≈ 2n hashes in packed buffers), to produce inclusion and
 *   consistency proofs against any earlier tree size in O(log² n).
 * - the RFC 9162 §2.1.3.2 / §2.1.4.2 verification algorithms.
 *
 * Sizes and indices are JS numbers; bit tricks use arithmetic, not `>>`,
 * which would truncate above 2^31.
 */
import { createHash, hash } from 'node:crypto';

export const HASH_SIZE = 32;

/** MTH({}) = SHA-256 of the empty string (RFC 6962 §2.1). */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

export function hashLeaf(data: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(data).digest();
}

/** hashLeaf of a string's UTF-8 bytes ("\u0000" encodes as the single byte 0x00). One-shot crypto.hash measured ~20% faster than createHash here. */
export function hashLeafText(text: string): Buffer {
  return hash('sha256', '\u0000' + text, 'buffer');
}

export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length === HASH_SIZE && right.length === HASH_SIZE) {
    const buf = Buffer.allocUnsafe(1 + 2 * HASH_SIZE);
    buf[0] = 0x01;
    buf.set(left, 1);
    buf.set(right, 1 + HASH_SIZE);
    return hash('sha256', buf, 'buffer');
  }
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** Largest power of two strictly smaller than n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const isOdd = (x: number): boolean => x % 2 === 1;
const half = (x: number): number => Math.floor(x / 2);

function isPowerOfTwo(x: number): boolean {
  return x > 0 && splitPoint(x + 1) === x;
}

/** Number of set bits: how many perfect subtrees a compact range [0, n) has. */
export function popcount(n: number): number {
  let c = 0;
  for (let x = n; x > 0; x = half(x)) c += x % 2;
  return c;
}

// ---------------------------------------------------------------------------
// Compact range [0, size): incremental append with O(log n) state.

export class MerkleFrontier {
  private constructor(
    private sizeValue: number,
    /** Perfect subtree roots, left to right (tallest first). */
    private readonly nodes: Buffer[],
  ) {}

  static empty(): MerkleFrontier {
    return new MerkleFrontier(0, []);
  }

  /**
   * Restore from a stored frontier. `nodes` must be the roots of the perfect
   * subtrees of the binary decomposition of `size`, tallest first.
   */
  static fromNodes(size: number, nodes: readonly Uint8Array[]): MerkleFrontier {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad tree size ${size}`);
    if (nodes.length !== popcount(size)) {
      throw new RangeError(`a frontier of size ${size} has ${popcount(size)} nodes, got ${nodes.length}`);
    }
    for (const n of nodes) if (n.length !== HASH_SIZE) throw new RangeError('frontier node is not 32 bytes');
    return new MerkleFrontier(size, nodes.map((n) => Buffer.from(n)));
  }

  /** Inverse of `serialize`. */
  static deserialize(size: number, packed: Uint8Array): MerkleFrontier {
    if (packed.length % HASH_SIZE !== 0) throw new RangeError('packed frontier is not a multiple of 32 bytes');
    const nodes: Buffer[] = [];
    for (let i = 0; i < packed.length; i += HASH_SIZE) nodes.push(Buffer.from(packed.subarray(i, i + HASH_SIZE)));
    return MerkleFrontier.fromNodes(size, nodes);
  }

  get size(): number {
    return this.sizeValue;
  }

  /** The perfect subtree roots, tallest first (copies). */
  get hashes(): Buffer[] {
    return this.nodes.map((n) => Buffer.from(n));
  }

  serialize(): Buffer {
    return Buffer.concat(this.nodes);
  }

  clone(): MerkleFrontier {
    return new MerkleFrontier(this.sizeValue, this.nodes.slice());
  }

  append(leafHash: Uint8Array): void {
    if (leafHash.length !== HASH_SIZE) throw new RangeError('leaf hash is not 32 bytes');
    this.nodes.push(Buffer.from(leafHash));
    // Each trailing 1-bit of the old size is a subtree the new leaf completes.
    for (let s = this.sizeValue; isOdd(s); s = half(s)) {
      const right = this.nodes.pop()!;
      const left = this.nodes.pop()!;
      this.nodes.push(hashChildren(left, right));
    }
    this.sizeValue += 1;
  }

  appendData(data: Uint8Array): void {
    this.append(hashLeaf(data));
  }

  /** MTH of the leaves appended so far. */
  root(): Buffer {
    const last = this.nodes.length - 1;
    if (last < 0) return Buffer.from(EMPTY_ROOT);
    let h = this.nodes[last]!;
    for (let i = last - 1; i >= 0; i--) h = hashChildren(this.nodes[i]!, h);
    return Buffer.from(h);
  }
}

// ---------------------------------------------------------------------------
// Full tree over leaf hashes, for proofs.

/** A growable array of 32-byte hashes in one buffer. */
class HashList {
  private buf = Buffer.alloc(HASH_SIZE * 64);
  length = 0;

  push(h: Uint8Array): void {
    if ((this.length + 1) * HASH_SIZE > this.buf.length) {
      const bigger = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(bigger);
      this.buf = bigger;
    }
    this.buf.set(h, this.length * HASH_SIZE);
    this.length += 1;
  }

  get(i: number): Buffer {
    return this.buf.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
  }
}

export class MerkleTree {
  /** levels[k][i] = hash of the perfect subtree over leaves [i·2^k, (i+1)·2^k). */
  private readonly levels: HashList[] = [new HashList()];

  static fromLeafHashes(leafHashes: Iterable<Uint8Array>): MerkleTree {
    const t = new MerkleTree();
    for (const h of leafHashes) t.append(h);
    return t;
  }

  get size(): number {
    return this.levels[0]!.length;
  }

  append(leafHash: Uint8Array): void {
    if (leafHash.length !== HASH_SIZE) throw new RangeError('leaf hash is not 32 bytes');
    this.levels[0]!.push(leafHash);
    // Complete every perfect subtree the new leaf closes.
    for (let k = 0; ; k++) {
      const level = this.levels[k]!;
      if (level.length % 2 !== 0) break;
      const up = (this.levels[k + 1] ??= new HashList());
      up.push(hashChildren(level.get(level.length - 2), level.get(level.length - 1)));
    }
  }

  leafHash(index: number): Buffer {
    this.checkSize(index + 1);
    return Buffer.from(this.levels[0]!.get(index));
  }

  /** MTH of the first `size` leaves. */
  root(size: number = this.size): Buffer {
    this.checkSize(size);
    return size === 0 ? Buffer.from(EMPTY_ROOT) : Buffer.from(this.rangeHash(0, size));
  }

  /** RFC 6962 §2.1.1 PATH(index, D[0:size]): sibling hashes, leaf to root. */
  inclusionProof(index: number, size: number = this.size): Buffer[] {
    this.checkSize(size);
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw new RangeError(`leaf index ${index} is outside a tree of size ${size}`);
    }
    const out: Buffer[] = [];
    this.path(index, 0, size, out);
    return out.map((h) => Buffer.from(h));
  }

  /** RFC 6962 §2.1.2 PROOF(m, D[0:n]). Empty when m = 0 or m = n. */
  consistencyProof(m: number, n: number = this.size): Buffer[] {
    this.checkSize(n);
    if (!Number.isSafeInteger(m) || m < 0 || m > n) throw new RangeError(`cannot prove size ${m} against ${n}`);
    if (m === 0 || m === n) return [];
    const out: Buffer[] = [];
    this.subproof(m, 0, n, true, out);
    return out.map((h) => Buffer.from(h));
  }

  private checkSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size) {
      throw new RangeError(`tree size ${size} is outside 0..${this.size}`);
    }
  }

  /** MTH(D[start:end]); O(1) for perfect aligned subtrees, else O(log n) lookups. */
  private rangeHash(start: number, end: number): Buffer {
    return rangeHash((k, i) => this.levels[k]!.get(i), start, end);
  }

  private path(m: number, start: number, end: number, out: Buffer[]): void {
    path((a, b) => this.rangeHash(a, b), m, start, end, out);
  }

  private subproof(m: number, start: number, end: number, complete: boolean, out: Buffer[]): void {
    subproof((a, b) => this.rangeHash(a, b), m, start, end, complete, out);
  }
}

/** Hash of the perfect subtree at height `k` (2^k leaves) and position `i` among those of its height. */
type NodeSource = (k: number, i: number) => Buffer;
type RangeHash = (start: number, end: number) => Buffer;

/** MTH(D[start:end]) from perfect aligned subtrees: RFC 6962 §2.1 splits every range into such pieces. */
function rangeHash(node: NodeSource, start: number, end: number): Buffer {
  const n = end - start;
  if (isPowerOfTwo(n) && start % n === 0) return node(Math.log2(n), start / n);
  const k = splitPoint(n);
  return hashChildren(rangeHash(node, start, start + k), rangeHash(node, start + k, end));
}

/** RFC 6962 §2.1.1 PATH(m, D[start:end]). */
function path(hashOf: RangeHash, m: number, start: number, end: number, out: Buffer[]): void {
  const n = end - start;
  if (n === 1) return;
  const k = splitPoint(n);
  if (m < k) {
    path(hashOf, m, start, start + k, out);
    out.push(hashOf(start + k, end));
  } else {
    path(hashOf, m - k, start + k, end, out);
    out.push(hashOf(start, start + k));
  }
}

/** RFC 6962 §2.1.2 SUBPROOF(m, D[start:end], complete). */
function subproof(hashOf: RangeHash, m: number, start: number, end: number, complete: boolean, out: Buffer[]): void {
  const n = end - start;
  if (m === n) {
    if (!complete) out.push(hashOf(start, end));
    return;
  }
  const k = splitPoint(n);
  if (m <= k) {
    subproof(hashOf, m, start, start + k, complete, out);
    out.push(hashOf(start + k, end));
  } else {
    subproof(hashOf, m - k, start + k, end, false, out);
    out.push(hashOf(start, start + k));
  }
}

/** The perfect aligned subtrees that make up [0, size), tallest first: a compact range's nodes. */
function compactRange(size: number): [k: number, i: number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (let k = 52; k >= 0; k--) {
    const width = 2 ** k;
    if (size - start >= width) {
      out.push([k, start / width]);
      start += width;
    }
  }
  return out;
}

const PLACEHOLDER = Buffer.alloc(HASH_SIZE);

/**
 * Proofs over a log too large to hold its tree in memory (MerkleTree keeps
 * 64 bytes per entry). Ask first — `inclusion`, `consistency`, `root`,
 * `leaf`, `frontier` — then `run` streams the leaf hashes once and keeps
 * only the perfect subtrees the answers are built from (O(log n) per
 * question), and the same methods answer. The answers are byte-identical
 * to MerkleTree's (merkle.test.ts).
 */
export class ProofPlan {
  private readonly wanted = new Map<string, Buffer | null>();
  private maxSize = 0;
  private streamed = -1;

  /** Ask (before `run`) or answer (after) PATH(index, D[0:size]). */
  inclusion(index: number, size: number): Buffer[] {
    this.check(size);
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new RangeError(`leaf index ${index} is outside a tree of size ${size}`);
    const out: Buffer[] = [];
    path((a, b) => this.hashOf(a, b), index, 0, size, out);
    return out.map((h) => Buffer.from(h));
  }

  /** Ask or answer PROOF(m, D[0:n]). */
  consistency(m: number, n: number): Buffer[] {
    this.check(n);
    if (!Number.isSafeInteger(m) || m < 0 || m > n) throw new RangeError(`cannot prove size ${m} against ${n}`);
    if (m === 0 || m === n) return [];
    const out: Buffer[] = [];
    subproof((a, b) => this.hashOf(a, b), m, 0, n, true, out);
    return out.map((h) => Buffer.from(h));
  }

  /** Ask or answer MTH(D[0:size]). */
  root(size: number): Buffer {
    this.check(size);
    return size === 0 ? Buffer.from(EMPTY_ROOT) : Buffer.from(this.hashOf(0, size));
  }

  /** Ask or answer the hash of leaf `index`. */
  leaf(index: number): Buffer {
    this.check(index + 1);
    return Buffer.from(this.node(0, index));
  }

  /** Ask or answer the compact range of the first `size` leaves (the frontier a slice starts from). */
  frontier(size: number): MerkleFrontier {
    this.check(size);
    return MerkleFrontier.fromNodes(
      size,
      compactRange(size).map(([k, i]) => this.node(k, i)),
    );
  }

  /**
   * Stream leaf hashes (in order) and keep what the questions need. Reads
   * only as many as the largest tree asked about. Returns how many leaves
   * it read: fewer than asked means the source ended early.
   */
  run(leafHashes: Iterable<Uint8Array>): number {
    if (this.streamed >= 0) throw new Error('ProofPlan.run called twice');
    // Completed perfect subtrees, as in MerkleFrontier, each offered to `wanted` as it closes.
    const stack: Buffer[] = [];
    let size = 0;
    if (this.maxSize > 0) {
      for (const leafHash of leafHashes) {
        if (leafHash.length !== HASH_SIZE) throw new RangeError('leaf hash is not 32 bytes');
        let h: Buffer = Buffer.from(leafHash);
        this.keep(0, size, h);
        let k = 0;
        for (let s = size; isOdd(s); s = half(s)) {
          h = hashChildren(stack.pop()!, h);
          k++;
          this.keep(k, (size + 1) / 2 ** k - 1, h);
        }
        stack.push(h);
        size++;
        if (size === this.maxSize) break;
      }
    }
    this.streamed = size;
    return size;
  }

  private keep(k: number, i: number, h: Buffer): void {
    const key = `${k}:${i}`;
    if (this.wanted.has(key)) this.wanted.set(key, h);
  }

  private check(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad tree size ${size}`);
    if (this.streamed < 0) this.maxSize = Math.max(this.maxSize, size);
    else if (size > this.streamed) throw new RangeError(`tree size ${size} is outside 0..${this.streamed}`);
  }

  private hashOf(start: number, end: number): Buffer {
    return rangeHash((k, i) => this.node(k, i), start, end);
  }

  private node(k: number, i: number): Buffer {
    const key = `${k}:${i}`;
    if (this.streamed < 0) {
      if (!this.wanted.has(key)) this.wanted.set(key, null);
      return PLACEHOLDER;
    }
    const h = this.wanted.get(key);
    if (!h) throw new Error(`ProofPlan: subtree ${key} was not asked for before run()`);
    return h;
  }
}

/** Root of a list of leaf hashes (convenience for tests and small trees). */
export function rootOf(leafHashes: readonly Uint8Array[]): Buffer {
  return MerkleTree.fromLeafHashes(leafHashes).root();
}

// ---------------------------------------------------------------------------
// Verification (RFC 9162 §2.1.3.2 and §2.1.4.2).

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === HASH_SIZE && b.length === HASH_SIZE && Buffer.compare(a, b) === 0;
}

/** The root an inclusion proof leads to, or null when the proof is malformed for (index, size). */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
): Buffer | null {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return null;
  if (leafHash.length !== HASH_SIZE) return null;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leafHash);
  for (const p of proof) {
    if (p.length !== HASH_SIZE || sn === 0) return null;
    if (isOdd(fn) || fn === sn) {
      r = hashChildren(p, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? r : null;
}

export function verifyInclusion(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  const got = rootFromInclusionProof(index, size, leafHash, proof);
  return got !== null && sameHash(got, root);
}

export function verifyConsistency(
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size2 < size1) return false;
  if (size1 === size2) return proof.length === 0 && sameHash(root1, root2);
  if (size1 === 0) return proof.length === 0; // the empty tree is a prefix of every tree
  if (proof.length === 0) return false;
  for (const p of proof) if (p.length !== HASH_SIZE) return false;
  const path: Uint8Array[] = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = Buffer.from(path[0]!);
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && sameHash(fr, root1) && sameHash(sr, root2);
}
