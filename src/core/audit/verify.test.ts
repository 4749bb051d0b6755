import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { checkpointBodyHash, cosignNote, signCheckpoint, signNote, noteText, parseCheckpointBody, verifierKey } from './checkpoint.ts';
import { sealEvent } from './envelope.ts';
import { MerkleFrontier, MerkleTree } from './merkle.ts';
import { MAX_PROBLEMS, verifyLog, type LogCheckpoint, type LogPayload, type LogRecord, type VerifyInput } from './verify.ts';
import { sampleEvents } from './test-support.ts';
import type { GatewayEvent } from './events.ts';

const ORIGIN = 'gatehouse.test/audit';
const keys = generateKeyPairSync('ed25519');
const otherKeys = generateKeyPairSync('ed25519');

interface Built {
  records: LogRecord[];
  payloads: LogPayload[];
  checkpoints: LogCheckpoint[];
}

/** At entry `at`, the checkpoint hands the signing key over to `to` (signed by the outgoing and the incoming key). */
interface Rotation {
  readonly at: number;
  readonly to: KeyObject;
}

function build(n: number, every: number, key = keys.privateKey, rotations: readonly Rotation[] = []): Built {
  const events = sampleEvents();
  const records: LogRecord[] = [];
  const payloads: LogPayload[] = [];
  const checkpoints: LogCheckpoint[] = [];
  const f = MerkleFrontier.empty();
  let prev: string | undefined;
  for (let seq = 1; seq <= n; seq++) {
    const s = sealEvent(events[(seq - 1) % events.length]!, seq, 'gw');
    records.push({ seq, envelope: s.envelopeJson, leafHash: s.leafHash });
    if (s.payload) payloads.push({ seq, class: s.payload.class, salt: s.payload.salt, body: s.payload.body });
    f.append(s.leafHash);
    const rotation = rotations.find((r) => r.at === seq);
    if (seq % every === 0 || seq === n || rotation) {
      const fields = { origin: ORIGIN, size: seq, rootHash: f.root(), time: 1000 + seq, ...(prev ? { prev: checkpointBodyHash(prev) } : {}) };
      let note: string;
      if (rotation) {
        note = signCheckpoint({ ...fields, rotation: { from: verifierKey(ORIGIN, key), to: verifierKey(ORIGIN, rotation.to) } }, key);
        note = cosignNote(note, ORIGIN, rotation.to);
        key = rotation.to;
      } else {
        note = signCheckpoint(fields, key);
      }
      checkpoints.push({ id: checkpoints.length + 1, note });
      prev = parseCheckpointBody(note.slice(0, note.lastIndexOf('\n\n') + 1)).body;
    }
  }
  return { records, payloads, checkpoints };
}

const input = (b: Built, extra: Partial<VerifyInput> = {}): VerifyInput => ({ origin: ORIGIN, publicKey: keys.publicKey, ...b, ...extra });

test('an untouched log verifies', () => {
  const r = verifyLog(input(build(20, 6)));
  assert.equal(r.ok, true, JSON.stringify(r.firstError));
  assert.equal(r.checked.entries, 20);
  assert.equal(r.checked.checkpoints, 4);
  assert.equal(r.checked.unsigned, 0);
  assert.ok(r.checked.payloads > 0);
});

test('empty log verifies', () => {
  assert.equal(verifyLog(input({ records: [], payloads: [], checkpoints: [] })).ok, true);
});

test('a byte changed in an envelope is named by sequence number', () => {
  const b = build(10, 5);
  const r7 = b.records[6]!;
  b.records[6] = { ...r7, envelope: r7.envelope.replace('"seq":7', '"seq":8') };
  const r = verifyLog(input(b));
  assert.equal(r.ok, false);
  assert.equal(r.firstError?.seq, 7);
  // Even with the leaf hash recomputed, the checkpoint root catches it.
  const c = build(10, 5);
  c.records[6] = { seq: 7, envelope: c.records[6]!.envelope.replace('gw', 'gx') };
  const r2 = verifyLog(input(c));
  assert.equal(r2.ok, false);
  assert.equal(r2.firstError?.checkpoint, 2);
  assert.match(r2.firstError!.problem, /6\.\.10/);
});

test('deleted, reordered and truncated entries are detected', () => {
  const del = build(10, 5);
  del.records.splice(3, 1);
  assert.equal(verifyLog(input(del)).firstError?.seq, 4);
  const swap = build(10, 5);
  [swap.records[2], swap.records[3]] = [
    { ...swap.records[3]!, seq: 3 },
    { ...swap.records[2]!, seq: 4 },
  ];
  assert.equal(verifyLog(input(swap)).firstError?.seq, 3);
  const cut = build(10, 5);
  cut.records.length = 8;
  const r = verifyLog(input(cut));
  assert.equal(r.ok, false);
  assert.match(r.firstError!.problem, /tail truncated/);
});

test('checkpoints: forged, re-signed with another key, deleted, reordered', () => {
  const b = build(12, 3);
  const resigned = build(12, 3, otherKeys.privateKey);
  const mixed = { ...b, checkpoints: [...b.checkpoints.slice(0, 2), resigned.checkpoints[2]!, b.checkpoints[3]!] };
  const r = verifyLog(input(mixed));
  assert.equal(r.firstError?.checkpoint, 3);
  assert.match(r.firstError!.problem, /another key/);
  const deleted = { ...b, checkpoints: [b.checkpoints[0]!, b.checkpoints[2]!, b.checkpoints[3]!] };
  assert.match(verifyLog(input(deleted)).firstError!.problem, /prev hash/);
  const first = { ...b, checkpoints: b.checkpoints.slice(1) };
  assert.match(verifyLog(input(first)).firstError!.problem, /missing/);
  const swapped = { ...b, checkpoints: [b.checkpoints[1]!, b.checkpoints[0]!, ...b.checkpoints.slice(2)] };
  assert.equal(verifyLog(input(swapped)).ok, false);
});

test('key rotation: a log whose key was handed over twice verifies trusting any of its keys, and no other', () => {
  const k1 = generateKeyPairSync('ed25519');
  const k2 = generateKeyPairSync('ed25519');
  const b = build(30, 4, keys.privateKey, [{ at: 10, to: k1.privateKey }, { at: 21, to: k2.privateKey }]);
  for (const trusted of [keys.publicKey, k1.publicKey, k2.publicKey]) {
    const r = verifyLog(input(b, { publicKey: trusted }));
    assert.equal(r.ok, true, JSON.stringify(r.firstError));
    assert.equal(r.checked.checkpoints, b.checkpoints.length);
  }
  const r = verifyLog(input(b, { publicKey: otherKeys.publicKey }));
  assert.equal(r.ok, false);
  assert.match(r.firstError!.problem, /the trusted key \(key id [0-9a-f]{8}\) is not among the log's signing keys \([0-9a-f]{8} → [0-9a-f]{8} → [0-9a-f]{8}\)/);
  // Anchored copies signed by any key of the chain are compared.
  const anchored = verifyLog(input(b, { publicKey: k2.publicKey, anchors: [b.checkpoints[1]!.note, b.checkpoints[5]!.note] }));
  assert.equal(anchored.ok, true, JSON.stringify(anchored.firstError));
  assert.equal(anchored.checked.anchors?.compared, 2);
});

test('key rotation: the outgoing key signing after its handover, a handover without the incoming key\'s signature, a forged or removed handover are reported', () => {
  const k1 = generateKeyPairSync('ed25519');
  const b = build(20, 4, keys.privateKey, [{ at: 10, to: k1.privateKey }]);
  const handover = b.checkpoints.findIndex((c) => noteText(c.note).includes('key-rotation '));
  assert.equal(handover, 2); // checkpoints at 4, 8, 10 (handover), 12, 16, 20
  // The outgoing key goes on signing after the handover (its holder forges a later checkpoint).
  const stale = { ...b, checkpoints: b.checkpoints.map((c, i) => (i === 4 ? { ...c, note: signNote(noteText(c.note), ORIGIN, keys.privateKey) } : c)) };
  for (const trusted of [keys.publicKey, k1.publicKey]) {
    const r = verifyLog(input(stale, { publicKey: trusted }));
    assert.equal(r.firstError?.checkpoint, 5);
    assert.match(r.firstError!.problem, /signed with another key/);
  }
  // The handover signed by the outgoing key only.
  const h = b.checkpoints[handover]!;
  const unsigned = { ...b, checkpoints: b.checkpoints.map((c, i) => (i === handover ? { ...c, note: signNote(noteText(h.note), ORIGIN, keys.privateKey) } : c)) };
  const ru = verifyLog(input(unsigned));
  assert.equal(ru.firstError?.checkpoint, 3);
  assert.match(ru.firstError!.problem, /key handover not signed by the incoming key/);
  // A handover to the forger's key, signed by the forger only (the outgoing key's signature cannot be made).
  const forgedBody = noteText(h.note).replace(verifierKey(ORIGIN, k1.publicKey), verifierKey(ORIGIN, otherKeys.publicKey));
  const forged = { ...b, checkpoints: b.checkpoints.map((c, i) => (i === handover ? { ...c, note: signNote(forgedBody, ORIGIN, otherKeys.privateKey) } : c)) };
  const rf = verifyLog(input(forged));
  assert.equal(rf.ok, false);
  assert.equal(rf.firstError?.checkpoint, 3);
  assert.match(rf.firstError!.problem, /signed with another key/);
  // The handover checkpoint deleted: trusting either key, the checkpoints the other signed fail.
  const removed = { ...b, checkpoints: b.checkpoints.filter((_, i) => i !== handover) };
  for (const trusted of [keys.publicKey, k1.publicKey]) {
    const r = verifyLog(input(removed, { publicKey: trusted }));
    assert.equal(r.ok, false);
    assert.ok(r.problems.some((p) => /signed with another key/.test(p.problem)), JSON.stringify(r.problems));
  }
});

test('key rotation: a slice after the handover verifies with the earlier handovers given; without them only the key in force opens it', () => {
  const k1 = generateKeyPairSync('ed25519');
  const b = build(20, 4, keys.privateKey, [{ at: 10, to: k1.privateKey }]);
  const handovers = b.checkpoints.slice(0, 3).map((c) => c.note);
  // The slice: entries 13..20, anchored by the checkpoint at 12 and the compact range before it.
  const f = MerkleFrontier.empty();
  for (const rec of b.records.slice(0, 12)) f.append(rec.leafHash!);
  const slice = {
    records: b.records.slice(12),
    payloads: b.payloads.filter((p) => p.seq > 12),
    checkpoints: b.checkpoints.slice(3),
    start: { size: 12, hashes: f.hashes },
    slice: true,
  };
  const withHandovers = verifyLog(input(slice, { keyHandovers: [handovers[2]!] }));
  assert.equal(withHandovers.ok, true, JSON.stringify(withHandovers.firstError));
  assert.equal(verifyLog(input(slice, { publicKey: k1.publicKey })).ok, true);
  const without = verifyLog(input(slice));
  assert.equal(without.ok, false);
  assert.match(without.firstError!.problem, /another key/);
  // A checkpoint that is no handover, passed as one, is reported.
  const wrong = verifyLog(input(slice, { keyHandovers: [handovers[1]!] }));
  assert.match(wrong.problems.map((p) => p.problem).join('\n'), /earlier key handover 1: not a key handover/);
});

test('payloads: altered, deleted, inserted, reclassified', () => {
  const b = build(10, 5);
  const p = b.payloads[0]!;
  const alt = { ...b, payloads: [{ ...p, body: p.body.replace('token', 'tokeN') }, ...b.payloads.slice(1)] };
  assert.equal(verifyLog(input(alt)).firstError?.seq, p.seq);
  const gone = { ...b, payloads: b.payloads.slice(1) };
  assert.match(verifyLog(input(gone)).firstError!.problem, /payload missing/);
  const cls = { ...b, payloads: [{ ...p, class: 'result' }, ...b.payloads.slice(1)] };
  assert.match(verifyLog(input(cls)).firstError!.problem, /class/);
  // Entry 1 (session.opened) commits to no payload.
  assert.equal(b.records[0]!.envelope.includes('"payload"'), false);
  const ins = { ...b, payloads: [{ ...p, seq: 1 }, ...b.payloads] };
  assert.deepEqual(verifyLog(input(ins)).firstError, { seq: 1, problem: 'entry 1: payload present but the envelope commits to none (payload inserted)' });
  const dup = { ...b, payloads: [p, p, ...b.payloads.slice(1)] };
  assert.deepEqual(verifyLog(input(dup)).firstError, { seq: p.seq, problem: `entry ${p.seq}: more than one payload` });
  // Payloads are read in step with the entries, in seq order: one out of order is named.
  const late = { ...b, payloads: [...b.payloads, { ...p, seq: 1 }] };
  assert.deepEqual(verifyLog(input(late)).firstError, { seq: 1, problem: 'entry 1: payload out of sequence order (payload inserted or moved)' });
  const beyond = { ...b, payloads: [...b.payloads, { ...p, seq: 99 }] };
  assert.deepEqual(verifyLog(input(beyond)).firstError, { seq: 99, problem: 'payload for entry 99, which is not in the log' });
});

test('records and payloads are each read once, front to back (a store can stream them)', () => {
  const b = build(40, 7);
  const reads = { records: 0, payloads: 0 };
  const once = <T>(xs: readonly T[], k: keyof typeof reads): Iterable<T> => ({
    [Symbol.iterator]() {
      reads[k]++;
      assert.equal(reads[k], 1, `${k} iterated twice`);
      return xs[Symbol.iterator]();
    },
  });
  const r = verifyLog({ ...input(b), records: once(b.records, 'records'), payloads: once(b.payloads, 'payloads') });
  assert.equal(r.ok, true, JSON.stringify(r.firstError));
  assert.equal(r.checked.entries, 40);
  assert.deepEqual(reads, { records: 1, payloads: 1 });
});

test('a log damaged everywhere still returns only the earliest problems, in log order', () => {
  const b = build(1000, 100);
  // Every envelope altered: at least one problem per entry, far more than MAX_PROBLEMS.
  const bad = { ...b, records: b.records.map((r) => ({ ...r, envelope: r.envelope.replace('"instance":"gw"', '"instance":"gx"') })) };
  const r = verifyLog(input(bad));
  assert.equal(r.ok, false);
  assert.equal(r.problems.length, MAX_PROBLEMS);
  assert.equal(r.firstError?.seq, 1);
  const seqs = r.problems.map((p) => p.seq ?? 0);
  assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
});

test('a payload removed by a later retention run is reported as expired, not as an error', () => {
  const events: GatewayEvent[] = sampleEvents().slice(0, 4);
  const recs: LogRecord[] = [];
  const pays: LogPayload[] = [];
  const f = MerkleFrontier.empty();
  events.forEach((ev, i) => {
    const s = sealEvent(ev, i + 1, 'gw');
    recs.push({ seq: i + 1, envelope: s.envelopeJson });
    if (s.payload) pays.push({ seq: i + 1, class: s.payload.class, salt: s.payload.salt, body: s.payload.body });
    f.append(s.leafHash);
  });
  // seq 2 (auth.failed, class detail) and 4 (statement) have payloads; expire 4.
  const run = sealEvent({ type: 'retention.run', time: 1, rules: { statement: 0 }, expired: 1, expiredRanges: [[4, 4]] }, 5, 'gw');
  recs.push({ seq: 5, envelope: run.envelopeJson });
  f.append(run.leafHash);
  const note = signCheckpoint({ origin: ORIGIN, size: 5, rootHash: f.root() }, keys.privateKey);
  const r = verifyLog(input({ records: recs, payloads: pays.filter((p) => p.seq !== 4), checkpoints: [{ note }] }));
  assert.equal(r.ok, true, JSON.stringify(r.firstError));
  assert.equal(r.checked.payloadsExpired, 1);
  assert.deepEqual(r.expired, [{ from: 4, to: 4, class: 'statement', by: 5 }]);
  // …but a retention run cannot excuse a deletion it did not list.
  const r2 = verifyLog(input({ records: recs, payloads: pays.filter((p) => p.seq !== 2), checkpoints: [{ note }] }));
  assert.equal(r2.firstError?.seq, 2);
});

test('a slice verifies from its start frontier with consistency proofs', () => {
  const b = build(30, 4);
  const tree = MerkleTree.fromLeafHashes(b.records.map((r) => r.leafHash!));
  const from = 11;
  const f = MerkleFrontier.empty();
  for (let i = 0; i < from - 1; i++) f.append(tree.leafHash(i));
  const sizes = b.checkpoints.map((c) => parseCheckpointBody(c.note.slice(0, c.note.lastIndexOf('\n\n') + 1)).size);
  const cps = b.checkpoints.filter((_, i) => sizes[i]! >= 8); // anchor (8) and later
  const cpSizes = sizes.filter((s) => s >= 8);
  const proofs = cpSizes.slice(1).map((s, i) => ({ size1: cpSizes[i]!, size2: s, proof: tree.consistencyProof(cpSizes[i]!, s) }));
  const slice: VerifyInput = {
    origin: ORIGIN,
    publicKey: keys.publicKey,
    records: b.records.slice(from - 1).map((r) => ({ seq: r.seq, envelope: r.envelope })),
    payloads: b.payloads.filter((p) => p.seq >= from),
    checkpoints: cps,
    start: { size: from - 1, hashes: f.hashes },
    consistencyProofs: proofs,
    requireConsistencyProofs: true,
  };
  const r = verifyLog(slice);
  assert.equal(r.ok, true, JSON.stringify(r.firstError));
  assert.equal(r.checked.consistencyProofs, cps.length - 1);
  const badProof = { ...slice, consistencyProofs: proofs.map((p, i) => (i === 0 ? { ...p, proof: p.proof.slice(1) } : p)) };
  assert.equal(verifyLog(badProof).ok, false);
  const badStart = { ...slice, start: { size: from - 1, hashes: [Buffer.alloc(32), ...f.hashes.slice(1)] } };
  assert.equal(verifyLog(badStart).ok, false);
});

test('anchors against a slice: compared by size with its checkpoints; those outside its span are counted, not failed', () => {
  const b = build(30, 4); // checkpoints at 4, 8, …, 28, 30
  const tree = MerkleTree.fromLeafHashes(b.records.map((r) => r.leafHash!));
  const sizeOf = (note: string): number => parseCheckpointBody(note.slice(0, note.lastIndexOf('\n\n') + 1)).size;
  // Entries 13..20: the bundle holds checkpoints 12 (before the slice) through 30 (the newest).
  const from = 13;
  const to = 20;
  const f = MerkleFrontier.empty();
  for (let i = 0; i < from - 1; i++) f.append(tree.leafHash(i));
  const cps = b.checkpoints.filter((c) => sizeOf(c.note) >= 12);
  const sizes = cps.map((c) => sizeOf(c.note));
  const slice: VerifyInput = {
    origin: ORIGIN,
    publicKey: keys.publicKey,
    records: b.records.slice(from - 1, to).map((r) => ({ seq: r.seq, envelope: r.envelope })),
    payloads: b.payloads.filter((p) => p.seq >= from && p.seq <= to),
    checkpoints: cps,
    start: { size: from - 1, hashes: f.hashes },
    consistencyProofs: sizes.slice(1).map((s, i) => ({ size1: sizes[i]!, size2: s, proof: tree.consistencyProof(sizes[i]!, s) })),
    requireConsistencyProofs: true,
    slice: true,
  };
  const all = b.checkpoints.map((c) => c.note);
  const r = verifyLog({ ...slice, anchors: all });
  assert.equal(r.ok, true, JSON.stringify(r.firstError));
  // 12..30 (6 checkpoints, 16 and 20 inside the entries) compared; 4 and 8 precede the bundle.
  assert.deepEqual(r.checked.anchors, { compared: 6, outside: 2 });
  const future = signCheckpoint({ origin: ORIGIN, size: 31, rootHash: Buffer.alloc(32, 1) }, keys.privateKey);
  assert.deepEqual(verifyLog({ ...slice, anchors: [future] }).checked.anchors, { compared: 0, outside: 1 });
  // Another history signed with the same key: caught inside the entries, and at the bundle's later checkpoints.
  const inside = signCheckpoint({ origin: ORIGIN, size: 16, rootHash: Buffer.alloc(32, 2) }, keys.privateKey);
  assert.match(verifyLog({ ...slice, anchors: [inside] }).firstError!.problem, /split view: the anchored checkpoint 1 \(size 16\) does not match the log/);
  const later = signCheckpoint({ origin: ORIGIN, size: 28, rootHash: Buffer.alloc(32, 3) }, keys.privateKey);
  assert.match(verifyLog({ ...slice, anchors: [later] }).firstError!.problem, /split view: the anchored checkpoint 1 \(size 28\) does not match the bundle's checkpoint of that size/);
  // A checkpoint size the bundle's complete chain 12..30 does not have: a checkpoint of another history.
  const stray = signCheckpoint({ origin: ORIGIN, size: 26, rootHash: tree.root(26) }, keys.privateKey);
  assert.match(verifyLog({ ...slice, anchors: [stray] }).firstError!.problem, /split view: the anchored checkpoint 1 \(size 26\) is not among the bundle's checkpoints/);
  // Without anchors nothing is counted.
  assert.equal(verifyLog(slice).checked.anchors, undefined);
});

test('property: any single-byte change, deletion, insertion, reordering or truncation is detected', () => {
  const base = build(9, 3);
  const arb = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), target: fc.constantFrom('records', 'payloads', 'checkpoints'), idx: fc.nat(), pos: fc.nat(), bit: fc.integer({ min: 0, max: 6 }) }),
    fc.record({ kind: fc.constant('delete' as const), target: fc.constantFrom('records', 'payloads', 'checkpoints'), idx: fc.nat() }),
    fc.record({ kind: fc.constant('insert' as const), target: fc.constantFrom('records', 'payloads', 'checkpoints'), idx: fc.nat(), from: fc.nat() }),
    fc.record({ kind: fc.constant('swap' as const), target: fc.constantFrom('records', 'checkpoints'), idx: fc.nat() }),
    fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  );
  fc.assert(
    fc.property(arb, (m) => {
      const b: Built = { records: [...base.records], payloads: [...base.payloads], checkpoints: [...base.checkpoints] };
      if (m.kind === 'truncate') {
        b.records.length = m.keep % b.records.length;
      } else if (m.kind === 'flip') {
        if (m.target === 'records') {
          const i = m.idx % b.records.length;
          const r = b.records[i]!;
          b.records[i] = { seq: r.seq, envelope: flip(r.envelope, m.pos, m.bit) }; // hash column dropped: root must catch it
        } else if (m.target === 'payloads') {
          const i = m.idx % b.payloads.length;
          const p = b.payloads[i]!;
          b.payloads[i] = { ...p, body: flip(p.body, m.pos, m.bit) };
        } else {
          const i = m.idx % b.checkpoints.length;
          b.checkpoints[i] = { note: flip(b.checkpoints[i]!.note, m.pos, m.bit) };
        }
      } else if (m.kind === 'delete') {
        const list = b[m.target] as unknown[];
        list.splice(m.idx % list.length, 1);
        if (m.target === 'records') b.records = b.records.map((r, i) => ({ ...r, seq: i + 1 }));
        // deleting the newest checkpoint alone is a rollback: only anchoring can see it
        if (m.target === 'checkpoints' && m.idx % base.checkpoints.length === base.checkpoints.length - 1) return;
      } else if (m.kind === 'insert') {
        const list = b[m.target] as unknown[];
        list.splice(m.idx % (list.length + 1), 0, list[m.from % list.length]);
        if (m.target === 'records') b.records = b.records.map((r, i) => ({ ...r, seq: i + 1 }));
      } else {
        const list = b[m.target] as unknown[];
        const i = m.idx % (list.length - 1);
        [list[i], list[i + 1]] = [list[i + 1], list[i]];
        if (m.target === 'records') b.records = b.records.map((r, i2) => ({ ...r, seq: i2 + 1 }));
      }
      const r = verifyLog(input(b));
      assert.equal(r.ok, false, JSON.stringify(m));
    }),
    { numRuns: 400 },
  );
});

/** Flip one bit of one UTF-16 unit (ASCII content, so one byte). */
function flip(s: string, pos: number, bit: number): string {
  const i = pos % s.length;
  return s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ (1 << bit)) + s.slice(i + 1);
}

test('anchors: a copy that disagrees with the log at the same size is a split view', () => {
  const b = build(8, 4);
  const forged = signCheckpoint({ origin: ORIGIN, size: 4, rootHash: Buffer.alloc(32, 9) }, keys.privateKey);
  const r = verifyLog(input(b, { anchors: [b.checkpoints[0]!.note, forged] }));
  assert.equal(r.ok, false);
  assert.match(r.firstError!.problem, /split view/);
  assert.equal(verifyLog(input(b, { anchors: b.checkpoints.map((c) => c.note) })).ok, true);
  const ahead = signCheckpoint({ origin: ORIGIN, size: 9, rootHash: Buffer.alloc(32, 9) }, keys.privateKey);
  assert.match(verifyLog(input(b, { anchors: [ahead] })).firstError!.problem, /rolled back/);
});
