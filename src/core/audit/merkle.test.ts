import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  EMPTY_ROOT,
  MerkleFrontier,
  MerkleTree,
  hashChildren,
  hashLeaf,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
  ProofPlan,
} from './merkle.ts';

// Test vectors: the standard CT data (certificate-transparency `merkle_tree_test`,
// transparency-dev/merkle proof/verify_test.go).
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(
  (h) => Buffer.from(h, 'hex'),
);
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
].map((h) => Buffer.from(h, 'hex'));

const hx = (h: string) => Buffer.from(h, 'hex');

/** leaf is 1-based, as in the Go vectors. */
const INCLUSION: { leaf: number; size: number; proof: Buffer[] }[] = [
  { leaf: 1, size: 1, proof: [] },
  {
    leaf: 1,
    size: 8,
    proof: [
      hx('96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7'),
      hx('5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e'),
      hx('6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'),
    ],
  },
  {
    leaf: 6,
    size: 8,
    proof: [
      hx('bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'),
      hx('ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0'),
      hx('d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'),
    ],
  },
  { leaf: 3, size: 3, proof: [hx('fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125')] },
  {
    leaf: 2,
    size: 5,
    proof: [
      hx('6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d'),
      hx('5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e'),
      hx('bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'),
    ],
  },
];

const CONSISTENCY: { size1: number; size2: number; proof: Buffer[] }[] = [
  { size1: 1, size2: 1, proof: [] },
  {
    size1: 1,
    size2: 8,
    proof: [
      hx('96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7'),
      hx('5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e'),
      hx('6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'),
    ],
  },
  {
    size1: 6,
    size2: 8,
    proof: [
      hx('0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a'),
      hx('ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0'),
      hx('d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'),
    ],
  },
  {
    size1: 2,
    size2: 5,
    proof: [
      hx('5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e'),
      hx('bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'),
    ],
  },
  {
    size1: 6,
    size2: 7,
    proof: [
      hx('0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a'),
      hx('b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f'),
      hx('d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'),
    ],
  },
];

const tree = MerkleTree.fromLeafHashes(LEAVES.map(hashLeaf));

/** RFC 6962 §2.1 MTH written literally, as an independent reference. */
function referenceRoot(data: Buffer[]): Buffer {
  if (data.length === 0) return createHash('sha256').digest();
  if (data.length === 1) return hashLeaf(data[0]!);
  let k = 1;
  while (k * 2 < data.length) k *= 2;
  return hashChildren(referenceRoot(data.slice(0, k)), referenceRoot(data.slice(k)));
}

test('empty tree hash is SHA-256("")', () => {
  assert.equal(EMPTY_ROOT.toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.deepEqual(new MerkleTree().root(), EMPTY_ROOT);
  assert.deepEqual(MerkleFrontier.empty().root(), EMPTY_ROOT);
});

test('roots for sizes 1..8 match the RFC 6962 test vectors (tree, frontier, reference)', () => {
  const f = MerkleFrontier.empty();
  for (let size = 1; size <= 8; size++) {
    f.appendData(LEAVES[size - 1]!);
    assert.equal(tree.root(size).toString('hex'), ROOTS[size - 1]!.toString('hex'), `tree size ${size}`);
    assert.equal(f.root().toString('hex'), ROOTS[size - 1]!.toString('hex'), `frontier size ${size}`);
    assert.equal(referenceRoot(LEAVES.slice(0, size)).toString('hex'), ROOTS[size - 1]!.toString('hex'));
  }
});

test('inclusion proofs match the test vectors and verify', () => {
  for (const v of INCLUSION) {
    const got = tree.inclusionProof(v.leaf - 1, v.size);
    assert.deepEqual(got.map((h) => h.toString('hex')), v.proof.map((h) => h.toString('hex')), `${v.leaf}/${v.size}`);
    const leafHash = hashLeaf(LEAVES[v.leaf - 1]!);
    assert.ok(verifyInclusion(v.leaf - 1, v.size, leafHash, v.proof, ROOTS[v.size - 1]!));
  }
});

test('consistency proofs match the test vectors and verify', () => {
  for (const v of CONSISTENCY) {
    const got = tree.consistencyProof(v.size1, v.size2);
    assert.deepEqual(got.map((h) => h.toString('hex')), v.proof.map((h) => h.toString('hex')), `${v.size1}->${v.size2}`);
    assert.ok(verifyConsistency(v.size1, v.size2, ROOTS[v.size1 - 1]!, ROOTS[v.size2 - 1]!, v.proof));
  }
});

test('corrupted inclusion proofs are rejected (the Go verifier probes)', () => {
  const someHash = hx('abacaba000000000000000000000000000000000000000000060061e00123456');
  for (const v of INCLUSION.filter((x) => x.proof.length > 0)) {
    const i = v.leaf - 1;
    const root = ROOTS[v.size - 1]!;
    const leaf = hashLeaf(LEAVES[i]!);
    const probes: [number, number, Uint8Array, Uint8Array[], Uint8Array][] = [
      [i - 1, v.size, leaf, v.proof, root],
      [i + 1, v.size, leaf, v.proof, root],
      [i ^ 2, v.size, leaf, v.proof, root],
      [i, v.size * 2, leaf, v.proof, root],
      [i, Math.floor(v.size / 2), leaf, v.proof, root],
      [i, v.size, Buffer.from('WrongLeaf'), v.proof, root],
      [i, v.size, leaf, v.proof, EMPTY_ROOT],
      [i, v.size, leaf, v.proof, someHash],
      [i, v.size, leaf, [...v.proof, Buffer.alloc(0)], root],
      [i, v.size, leaf, [...v.proof, root], root],
      [i, v.size, leaf, [Buffer.alloc(0), ...v.proof], root],
      [i, v.size, leaf, [root, ...v.proof], root],
      [i, v.size, leaf, v.proof.slice(0, -1), root],
    ];
    for (let k = 0; k < v.proof.length; k++) {
      const bad = v.proof.map((h) => Buffer.from(h));
      bad[k]![0]! ^= 8;
      probes.push([i, v.size, leaf, bad, root]);
    }
    for (const [idx, size, lh, proof, r] of probes) assert.equal(verifyInclusion(idx, size, lh, proof, r), false);
  }
});

test('corrupted consistency proofs are rejected (the Go verifier probes)', () => {
  for (const v of CONSISTENCY.filter((x) => x.proof.length > 0)) {
    const r1 = ROOTS[v.size1 - 1]!;
    const r2 = ROOTS[v.size2 - 1]!;
    const p = v.proof;
    const probes: [number, number, Uint8Array, Uint8Array, Uint8Array[]][] = [
      [v.size1 - 1, v.size2, r1, r2, p],
      [v.size1 + 1, v.size2, r1, r2, p],
      [v.size1 ^ 2, v.size2, r1, r2, p],
      [v.size1, v.size2 * 2, r1, r2, p],
      [v.size1, Math.floor(v.size2 / 2), r1, r2, p],
      [v.size1, v.size2, Buffer.from('WrongRoot'), r2, p],
      [v.size1, v.size2, r1, Buffer.from('WrongRoot'), p],
      [v.size1, v.size2, r2, r1, p],
      [v.size1, v.size2, r1, r2, []],
      [v.size1, v.size2, r1, r2, [...p, Buffer.alloc(0)]],
      [v.size1, v.size2, r1, r2, [...p, r1]],
      [v.size1, v.size2, r1, r2, [...p, r2]],
      [v.size1, v.size2, r1, r2, [Buffer.alloc(0), ...p]],
      [v.size1, v.size2, r1, r2, [r1, ...p]],
      [v.size1, v.size2, r1, r2, [r2, ...p]],
      [v.size1, v.size2, r1, r2, [p[0]!, ...p]],
      [v.size1, v.size2, r1, r2, p.slice(0, -1)],
    ];
    for (let k = 0; k < p.length; k++) {
      const bad = p.map((h) => Buffer.from(h));
      bad[k]![0]! ^= 16;
      probes.push([v.size1, v.size2, r1, r2, bad]);
    }
    for (const [s1, s2, a, b, proof] of probes) {
      assert.equal(verifyConsistency(s1, s2, a, b, proof), false, `${s1}->${s2}`);
    }
  }
});

test('consistency edge cases (Go TestVerifyConsistency table)', () => {
  const r1 = Buffer.from("don't care 1");
  const r2 = Buffer.from("don't care 2");
  assert.equal(verifyConsistency(0, 0, r1, r2, []), false);
  assert.equal(verifyConsistency(1, 1, r1, r2, []), false);
  assert.equal(verifyConsistency(0, 0, r1, r1, []), false); // not 32 bytes
  assert.equal(verifyConsistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, []), true);
  assert.equal(verifyConsistency(0, 1, r1, r2, []), true);
  assert.equal(verifyConsistency(1, 0, r1, r2, []), false);
  assert.equal(verifyConsistency(2, 1, r1, r2, []), false);
  assert.equal(verifyConsistency(1, 2, r1, r2, []), false);
  assert.equal(verifyConsistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]), false);
  assert.equal(verifyConsistency(0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]), false);
  assert.equal(verifyConsistency(1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]), false);
  assert.equal(rootFromInclusionProof(0, 0, EMPTY_ROOT, []), null);
  assert.equal(rootFromInclusionProof(2, 1, EMPTY_ROOT, []), null);
});

test('property: frontier = tree = reference root; every proof verifies; frontier round-trips', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 8 }), { minLength: 1, maxLength: 70 }), (leaves) => {
      const data = leaves.map((l) => Buffer.from(l));
      const t = MerkleTree.fromLeafHashes(data.map(hashLeaf));
      const f = MerkleFrontier.empty();
      for (const d of data) f.appendData(d);
      const n = data.length;
      assert.deepEqual(f.root(), referenceRoot(data));
      assert.deepEqual(t.root(), f.root());
      assert.deepEqual(MerkleFrontier.deserialize(f.size, f.serialize()).root(), f.root());
      for (let size = 1; size <= n; size++) {
        const root = t.root(size);
        assert.deepEqual(root, referenceRoot(data.slice(0, size)));
        for (let i = 0; i < size; i++) {
          assert.ok(verifyInclusion(i, size, t.leafHash(i), t.inclusionProof(i, size), root));
        }
        for (let m = 0; m <= size; m++) {
          assert.ok(verifyConsistency(m, size, t.root(m), root, t.consistencyProof(m, size)), `${m}->${size}`);
        }
      }
    }),
    { numRuns: 40 },
  );
});

test('frontier restored from stored nodes continues the same tree', () => {
  const f = MerkleFrontier.empty();
  for (let i = 0; i < 13; i++) f.appendData(Buffer.from([i]));
  const g = MerkleFrontier.fromNodes(13, f.hashes);
  for (let i = 13; i < 40; i++) {
    f.appendData(Buffer.from([i]));
    g.appendData(Buffer.from([i]));
  }
  assert.deepEqual(g.root(), f.root());
  assert.throws(() => MerkleFrontier.fromNodes(13, f.hashes));
});

test('ProofPlan: one streamed pass answers inclusion, consistency, root, leaf and frontier exactly as MerkleTree', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 300 }),
      fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat()), { minLength: 1, maxLength: 12 }),
      (total, asks) => {
        const leaves = Array.from({ length: total }, (_, i) => hashLeaf(Buffer.from(`entry ${i}`)));
        const tree = MerkleTree.fromLeafHashes(leaves);
        const plan = new ProofPlan();
        const qs = asks.map(([a, b, c]) => {
          const n = (a % total) + 1;
          return { n, m: b % (n + 1), index: c % n };
        });
        for (const q of qs) {
          plan.inclusion(q.index, q.n);
          plan.consistency(q.m, q.n);
          plan.root(q.n);
          plan.leaf(q.index);
          plan.frontier(q.m);
        }
        let pulled = 0;
        const read = plan.run(
          (function* () {
            for (const l of leaves) {
              pulled++;
              yield l;
            }
          })(),
        );
        const largest = Math.max(...qs.map((q) => q.n));
        assert.equal(read, largest);
        assert.equal(pulled, largest, 'reads no further than the largest tree asked about');
        for (const q of qs) {
          assert.deepEqual(plan.inclusion(q.index, q.n), tree.inclusionProof(q.index, q.n));
          assert.deepEqual(plan.consistency(q.m, q.n), tree.consistencyProof(q.m, q.n));
          assert.deepEqual(plan.root(q.n), tree.root(q.n));
          assert.deepEqual(plan.leaf(q.index), tree.leafHash(q.index));
          const f = MerkleFrontier.empty();
          for (let i = 0; i < q.m; i++) f.append(leaves[i]!);
          assert.deepEqual(plan.frontier(q.m).hashes, f.hashes);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('ProofPlan: a question not asked before run() is refused; a short source is reported', () => {
  const leaves = Array.from({ length: 10 }, (_, i) => hashLeaf(Buffer.from(`e${i}`)));
  const plan = new ProofPlan();
  plan.inclusion(3, 8);
  assert.equal(plan.run(leaves), 8);
  assert.throws(() => plan.inclusion(4, 8), /was not asked for before run/);
  assert.throws(() => plan.root(9), /outside 0\.\.8/);
  const short = new ProofPlan();
  short.root(10);
  assert.equal(short.run(leaves.slice(0, 6)), 6);
});
