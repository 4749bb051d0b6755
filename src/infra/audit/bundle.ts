/**
 * Offline verification of an evidence bundle or a single inclusion proof:
 * reads files, needs only the public key — no state store, no network.
 * The checks themselves are core/audit/verify.ts and core/audit/proof.ts;
 * this file parses the bundle layout (docs/audit.md) and checks the signed
 * manifest.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NoteError, openNote } from '../../core/audit/checkpoint.ts';
import { keysAfterHandovers, rotationOfNote, sameKey } from '../../core/audit/keychain.ts';
import { verifyLog, type ConsistencyProofRecord, type LogCheckpoint, type LogPayload, type LogRecord, type ProvenEnvelope, type VerifyProblem, type VerifyResult } from '../../core/audit/verify.ts';
import { verifyInclusionProof, type ProofCheck } from '../../core/audit/proof.ts';
import { BUNDLE_FILES, BUNDLE_FORMAT, KEY_HANDOVERS_FILE, MANIFEST_FILE, MANIFEST_SIG_FILE, manifestNoteText, type BundleManifest } from './bundle-format.ts';
import { parsePublicKeyPem, publicKeyPem } from './keys.ts';

export interface BundleVerifyResult extends VerifyResult {
  /** The slice the bundle claims to hold, from its signed manifest. */
  readonly range?: { readonly firstSeq: number; readonly lastSeq: number };
  readonly instance?: string;
}

const HEX = /^([0-9a-f]{2})*$/;

export class BundleFormatError extends Error {}

function lines(text: string, file: string): string[] {
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new BundleFormatError(`${file}: last line is not terminated`);
  return text.slice(0, -1).split('\n');
}

function jsonObject(line: string, where: string): Record<string, unknown> {
  try {
    const v = JSON.parse(line) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error();
    return v as Record<string, unknown>;
  } catch {
    throw new BundleFormatError(`${where}: not a JSON object`);
  }
}

function jsonLines(text: string, file: string): Record<string, unknown>[] {
  return lines(text, file).map((l, i) => jsonObject(l, `${file} line ${i + 1}`));
}

const CHUNK = 1 << 20;

/**
 * The lines of a file, read a chunk at a time when iterated (so a bundle of
 * any size verifies in bounded memory). Same rules as `lines`: every line
 * ends with a newline. UTF-8 never has a 0x0a byte inside a character, so
 * cutting at newline bytes cannot split one.
 */
export function fileLines(path: string, file: string, chunk = CHUNK): Iterable<string> {
  return {
    *[Symbol.iterator]() {
      const fd = openSync(path, 'r');
      try {
        const buf = Buffer.allocUnsafe(chunk);
        let rest: Buffer = Buffer.alloc(0);
        for (;;) {
          const n = readSync(fd, buf, 0, chunk, null);
          if (n === 0) break;
          const data: Buffer = rest.length ? Buffer.concat([rest, buf.subarray(0, n)]) : buf.subarray(0, n);
          let from = 0;
          for (let nl = data.indexOf(10, from); nl !== -1; nl = data.indexOf(10, from)) {
            yield data.toString('utf8', from, nl);
            from = nl + 1;
          }
          // Copy the partial line: `buf` is reused for the next chunk.
          rest = Buffer.from(data.subarray(from));
        }
        if (rest.length) throw new BundleFormatError(`${file}: last line is not terminated`);
      } finally {
        closeSync(fd);
      }
    },
  };
}

function* jsonFileLines(path: string, file: string): Generator<Record<string, unknown>> {
  let i = 0;
  for (const line of fileLines(path, file)) yield jsonObject(line, `${file} line ${++i}`);
}

/** SHA-256 of a file, read a chunk at a time. */
function fileSha256(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (let n = readSync(fd, buf, 0, CHUNK, null); n > 0; n = readSync(fd, buf, 0, CHUNK, null)) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

function hexHashes(v: unknown, where: string): Buffer[] {
  if (!Array.isArray(v) || !v.every((h) => typeof h === 'string' && HEX.test(h))) throw new BundleFormatError(`${where}: malformed hash list`);
  return v.map((h: string) => Buffer.from(h, 'hex'));
}

function int(v: unknown, where: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new BundleFormatError(`${where}: not a non-negative integer`);
  return v as number;
}

function str(v: unknown, where: string): string {
  if (typeof v !== 'string') throw new BundleFormatError(`${where}: not a string`);
  return v;
}

/** `{"id","note"}` lines: checkpoints.jsonl and key-handovers.jsonl. */
function checkpointLines(text: string, name: string): LogCheckpoint[] {
  return jsonLines(text, name).map((c, i) => {
    const where = `${name} line ${i + 1}`;
    return { id: int(c['id'], where), note: str(c['note'], where) };
  });
}

function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function failed(problem: VerifyProblem): BundleVerifyResult {
  return {
    ok: false,
    firstError: problem,
    problems: [problem],
    checked: { entries: 0, firstSeq: 0, treeSize: 0, checkpoints: 0, lastCheckpointSize: 0, consistencyProofs: 0, payloads: 0, payloadsExpired: 0, unsigned: 0 },
    expired: [],
  };
}

/**
 * Verify the bundle in `dir` against the log's public key (SPKI PEM text).
 * `origin` pins the expected log origin; by default the manifest's is used
 * (it is covered by the signature, which only the key holder can make).
 */
export function verifyBundle(dir: string, pubkeyPem: string, opts: { origin?: string; anchors?: readonly string[] } = {}): BundleVerifyResult {
  let publicKey: KeyObject;
  try {
    publicKey = parsePublicKeyPem(pubkeyPem);
  } catch (e) {
    return failed({ problem: `public key: ${(e as Error).message}` });
  }
  const read = (name: string): Buffer => readFileSync(join(dir, name));
  const late: VerifyProblem[] = [];

  // 1. The signed manifest and the files it lists.
  let manifest: BundleManifest;
  let manifestBytes: Buffer;
  try {
    manifestBytes = read(MANIFEST_FILE);
    manifest = JSON.parse(manifestBytes.toString('utf8')) as BundleManifest;
    if (manifest.format !== BUNDLE_FORMAT || manifest.version !== 1) throw new Error('unknown bundle format');
  } catch (e) {
    return failed({ problem: `${MANIFEST_FILE}: ${(e as Error).message}` });
  }
  const origin = opts.origin ?? manifest.origin;
  if (typeof origin !== 'string' || (opts.origin !== undefined && manifest.origin !== opts.origin)) {
    return failed({ problem: `bundle origin ${String(manifest.origin)} is not ${String(opts.origin)}` });
  }
  const listed = manifest.files !== null && typeof manifest.files === 'object' ? manifest.files : {};
  // The keys that signed the bundle: from the trusted key through the handovers (earlier ones, then the
  // bundle's own) to the key in force at its newest checkpoint, which signed the manifest. Read ahead
  // of step 2 (these files are small); unreadable ones are reported there.
  let keyHandovers: LogCheckpoint[] = [];
  let checkpoints: LogCheckpoint[] = [];
  let unreadableCheckpoints: unknown = null;
  try {
    if (KEY_HANDOVERS_FILE in listed) keyHandovers = checkpointLines(read(KEY_HANDOVERS_FILE).toString('utf8'), KEY_HANDOVERS_FILE);
    checkpoints = checkpointLines(read(BUNDLE_FILES.checkpoints).toString('utf8'), BUNDLE_FILES.checkpoints);
  } catch (e) {
    unreadableCheckpoints = e; // reported by step 2, with the other files
  }
  const handoverNotes = [...keyHandovers, ...checkpoints].map((c) => c.note).filter((n) => rotationOfNote(n) !== null);
  const chain = keysAfterHandovers(origin, publicKey, handoverNotes);
  const keyInForce = chain.keys[chain.keys.length - 1]!;
  try {
    const text = openNote(read(MANIFEST_SIG_FILE).toString('utf8'), origin, keyInForce);
    if (text !== manifestNoteText(origin, sha256Hex(manifestBytes))) late.push({ problem: `${MANIFEST_SIG_FILE} does not sign this ${MANIFEST_FILE}` });
  } catch (e) {
    late.push({ problem: `${MANIFEST_SIG_FILE}: ${e instanceof NoteError ? e.problem : (e as Error).message}` });
  }
  for (const name of Object.values(BUNDLE_FILES)) {
    if (!(name in listed)) late.push({ problem: `${name} is not listed in the manifest` });
  }
  for (const [name, info] of Object.entries(listed)) {
    if (name === MANIFEST_FILE || name === MANIFEST_SIG_FILE || name.includes('/') || name.includes('\\')) continue;
    if (!existsSync(join(dir, name))) {
      late.push({ problem: `${name}: listed in the manifest but missing` });
    } else if (fileSha256(join(dir, name)) !== info.sha256) {
      late.push({ problem: `${name}: SHA-256 differs from the manifest (file altered)` });
    }
  }
  try {
    // The key in force at export: the key given, or one the log handed over to or from.
    if (!sameKey(parsePublicKeyPem(read(BUNDLE_FILES.pubkey).toString('utf8')), keyInForce)) {
      late.push({
        problem: chain.keys.length > 1 ? `${BUNDLE_FILES.pubkey} is not the key in force at the bundle's newest checkpoint` : `${BUNDLE_FILES.pubkey} is not the public key given for verification`,
      });
    }
  } catch {
    late.push({ problem: `${BUNDLE_FILES.pubkey}: unreadable` });
  }

  // 2. The log slice itself.
  let result: VerifyResult;
  let firstSeq = 0;
  try {
    const startObj = JSON.parse(read(BUNDLE_FILES.start).toString('utf8')) as Record<string, unknown>;
    const start = { size: int(startObj['size'], BUNDLE_FILES.start), hashes: hexHashes(startObj['hashes'], BUNDLE_FILES.start) };
    firstSeq = start.size + 1;
    // Envelopes and payloads are streamed through verifyLog; the rest is small.
    const envelopesPath = join(dir, BUNDLE_FILES.envelopes);
    const payloadsPath = join(dir, BUNDLE_FILES.payloads);
    const records: Iterable<LogRecord> = {
      *[Symbol.iterator]() {
        let seq = firstSeq;
        for (const envelope of fileLines(envelopesPath, BUNDLE_FILES.envelopes)) yield { seq: seq++, envelope };
      },
    };
    const payloads: Iterable<LogPayload> = {
      *[Symbol.iterator]() {
        let i = 0;
        for (const p of jsonFileLines(payloadsPath, BUNDLE_FILES.payloads)) {
          const where = `${BUNDLE_FILES.payloads} line ${++i}`;
          const salt = str(p['salt'], where);
          if (!HEX.test(salt)) throw new BundleFormatError(`${where}: salt is not hex`);
          yield { seq: int(p['seq'], where), class: str(p['class'], where), salt: Buffer.from(salt, 'hex'), body: str(p['body'], where) };
        }
      },
    };
    if (unreadableCheckpoints !== null) throw unreadableCheckpoints;
    const consistencyProofs: ConsistencyProofRecord[] = jsonLines(read(BUNDLE_FILES.consistency).toString('utf8'), BUNDLE_FILES.consistency).map((c, i) => {
      const where = `${BUNDLE_FILES.consistency} line ${i + 1}`;
      return { size1: int(c['size1'], where), size2: int(c['size2'], where), proof: hexHashes(c['proof'], where) };
    });
    const provenEnvelopes: ProvenEnvelope[] = jsonLines(read(BUNDLE_FILES.retention).toString('utf8'), BUNDLE_FILES.retention).map((r, i) => {
      const where = `${BUNDLE_FILES.retention} line ${i + 1}`;
      return { seq: int(r['seq'], where), envelope: str(r['envelope'], where), treeSize: int(r['treeSize'], where), proof: hexHashes(r['proof'], where) };
    });
    result = verifyLog({ origin, publicKey, keyHandovers: keyHandovers.map((c) => c.note), records, payloads, checkpoints, start, consistencyProofs, provenEnvelopes, requireConsistencyProofs: true, slice: true, ...(opts.anchors ? { anchors: opts.anchors } : {}) });
  } catch (e) {
    const msg = e instanceof BundleFormatError ? e.message : `unreadable bundle: ${(e as Error).message}`;
    return { ...failed({ problem: msg }), problems: [{ problem: msg }, ...late].slice(0, 100) };
  }
  const count = result.checked.entries;
  const range = manifest.range;
  if (range?.firstSeq !== firstSeq || range?.lastSeq !== firstSeq + count - 1) {
    late.push({ problem: `bundle holds entries ${firstSeq}..${firstSeq + count - 1} but its manifest says ${range?.firstSeq}..${range?.lastSeq}` });
  }
  // Record-level problems first (they name the entry); bundle-level ones after.
  const problems = [...result.problems, ...late].slice(0, 100);
  return {
    ...result,
    ok: result.ok && late.length === 0,
    ...(problems[0] ? { firstError: problems[0] } : {}),
    problems,
    range: { firstSeq: range?.firstSeq ?? firstSeq, lastSeq: range?.lastSeq ?? firstSeq + count - 1 },
    instance: manifest.instance,
  };
}

/** Verify a single inclusion proof (the JSON `gatehouse audit prove` prints) against the public key. */
export function verifyProof(proofJson: string, pubkeyPem: string, opts: { origin?: string } = {}): ProofCheck {
  let publicKey: KeyObject;
  try {
    publicKey = parsePublicKeyPem(pubkeyPem);
  } catch (e) {
    return { ok: false, problem: `public key: ${(e as Error).message}`, payload: 'absent' };
  }
  let value: unknown;
  try {
    value = JSON.parse(proofJson);
  } catch {
    return { ok: false, problem: 'proof is not valid JSON', payload: 'absent' };
  }
  return verifyInclusionProof(value, publicKey, opts.origin);
}

/** `verify-bundle PATH`: a directory is a bundle, a file is an inclusion proof. */
export function verifyEvidence(
  path: string,
  pubkeyPem: string,
  opts: { origin?: string; anchors?: readonly string[] } = {},
): { kind: 'bundle'; result: BundleVerifyResult } | { kind: 'proof'; result: ProofCheck } {
  if (statSync(path).isDirectory()) return { kind: 'bundle', result: verifyBundle(path, pubkeyPem, opts) };
  if (opts.anchors) throw new Error('--anchors compares a bundle with anchored checkpoints; it does not apply to a single inclusion proof');
  return { kind: 'proof', result: verifyProof(readFileSync(path, 'utf8'), pubkeyPem, opts) };
}

export { publicKeyPem };
