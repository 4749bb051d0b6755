/**
 * Signing-key rotation: which key signs which checkpoint.
 *
 * A log changes its signing key at a handover checkpoint. Its body carries
 * `key-rotation <outgoing vkey> <incoming vkey>` and the note is signed by
 * both keys. Checkpoints before it are signed by the outgoing key, those
 * after it by the incoming one. The handovers of a log, in order, give the
 * chain of keys k0 → k1 → … → kn, where each handover names the key the
 * previous one handed over to.
 *
 * Trusting any one key of the chain is enough to check the whole log: the
 * handover that introduced a later key is signed by the key before it, and
 * a handover signed by a later key commits, through its root and its
 * `prev` line, to everything the earlier keys signed. A key that is not in
 * the chain verifies nothing. The chain is only as strong as its weakest
 * key while that key was in force: an auditor who still trusts a key that
 * was retired because it leaked should trust the key it was handed over to
 * instead (see docs/audit.md §5.1).
 */
import type { KeyObject } from 'node:crypto';
import { NoteError, noteText, openNote, parseCheckpointBody, parseVerifierKey, rawPublicKey, verifierKey, type Checkpoint, type KeyRotation } from './checkpoint.ts';

export interface KeyChain {
  /** The keys in the order they signed, oldest first: `keys[i]` signs after the i-th handover. */
  readonly keys: readonly KeyObject[];
  /** Why the chain does not hold (handovers that do not follow each other, the trusted key not in it). */
  readonly problem?: string;
  /** The handover (index into the rotations given) the problem is about, when it is about one. */
  readonly at?: number;
}

/** Whether two KeyObjects (private or public) hold the same Ed25519 key. */
export function sameKey(a: KeyObject, b: KeyObject): boolean {
  return rawPublicKey(a).equals(rawPublicKey(b));
}

/**
 * The chain of keys given by `rotations` (the handovers' key-rotation
 * lines, in log order), checked against the trusted key. Signatures are
 * not checked here: the caller opens each checkpoint with the key in force
 * (`keys[number of handovers before it]`) and each handover with both.
 */
export function keyChain(origin: string, trusted: KeyObject, rotations: readonly KeyRotation[]): KeyChain {
  if (rotations.length === 0) return { keys: [trusted] };
  const keys: KeyObject[] = [];
  let problem: string | undefined;
  let at: number | undefined;
  const fault = (i: number, p: string): void => {
    if (problem !== undefined) return;
    problem = p;
    at = i;
  };
  rotations.forEach((r, i) => {
    const from = parseVerifierKey(r.from);
    const to = parseVerifierKey(r.to);
    if (from.name !== origin || to.name !== origin) {
      fault(i, `key handover ${i + 1} names keys of ${from.name === origin ? to.name : from.name}, not of ${origin}`);
    }
    if (i === 0) keys.push(from.publicKey);
    else if (!sameKey(keys[keys.length - 1]!, from.publicKey)) {
      fault(i, `key handover ${i + 1} hands over from key ${keyIdOf(r.from)}, but the key in force was ${keyIdOf(rotations[i - 1]!.to)} (a handover is missing, repeated or forged)`);
    }
    keys.push(to.publicKey);
  });
  if (problem !== undefined) return { keys, problem, ...(at !== undefined ? { at } : {}) };
  if (!keys.some((k) => sameKey(k, trusted))) {
    problem = `the trusted key (key id ${keyIdOf(verifierKey(origin, trusted))}) is not among the log's signing keys (${rotations
      .map((r, i) => (i === 0 ? `${keyIdOf(r.from)} → ${keyIdOf(r.to)}` : keyIdOf(r.to)))
      .join(' → ')})`;
  }
  return problem === undefined ? { keys } : { keys, problem };
}

/** The hex key id inside a verifier key (`name+id+base64`), for messages. */
export function keyIdOf(vkey: string): string {
  return vkey.split('+')[1] ?? '?';
}

/** The key-rotation line of a note's body, read without checking any signature (null when none or unreadable). */
export function rotationOfNote(note: string): KeyRotation | null {
  try {
    return parseCheckpointBody(noteText(note)).rotation ?? null;
  } catch {
    return null;
  }
}

/**
 * Open a handover checkpoint: signed by both keys it names, which must be
 * `from` (the key in force) and the key after it.
 */
export function openHandover(note: string, origin: string, from: KeyObject, to: KeyObject): Checkpoint {
  const body = openNote(note, origin, from);
  try {
    openNote(note, origin, to);
  } catch (e) {
    throw new NoteError(`key handover not signed by the incoming key: ${e instanceof NoteError ? e.problem : String(e)}`);
  }
  const cp = parseCheckpointBody(body);
  if (cp.origin !== origin) throw new NoteError(`checkpoint origin is ${cp.origin}, expected ${origin}`);
  if (!cp.rotation) throw new NoteError('not a key handover');
  return cp;
}

/**
 * Open a note signed by any key of the chain: anchored copies, whose place
 * in the chain is not known (a forged one cannot match the log's roots, so
 * accepting any key of the chain only decides what is compared). Bundle
 * manifests and inclusion proofs are opened with the key in force instead.
 * Throws the first key's error when none opens it.
 */
export function openWithAnyKey<T>(keys: readonly KeyObject[], open: (key: KeyObject) => T): T {
  let first: unknown;
  for (const key of keys) {
    try {
      return open(key);
    } catch (e) {
      first ??= e;
    }
  }
  throw first ?? new NoteError('no key to open the note with');
}

/**
 * The chain of keys given by a list of handover notes (oldest first) that
 * must contain `trusted`: each handover opens with both its keys. The key
 * in force after them is the last of `keys`. On a problem, `keys` is
 * `[trusted]` alone.
 */
export function keysAfterHandovers(origin: string, trusted: KeyObject, handovers: readonly string[]): KeyChain {
  const rotations: KeyRotation[] = [];
  for (const [i, note] of handovers.entries()) {
    const r = rotationOfNote(note);
    if (!r) return { keys: [trusted], problem: `key handover ${i + 1}: not a key handover` };
    rotations.push(r);
  }
  const chain = keyChain(origin, trusted, rotations);
  if (chain.problem) return { keys: [trusted], problem: chain.problem };
  for (const [i, note] of handovers.entries()) {
    try {
      openHandover(note, origin, chain.keys[i]!, chain.keys[i + 1]!);
    } catch (e) {
      return { keys: [trusted], problem: `key handover ${i + 1}: ${e instanceof NoteError ? e.problem : String(e)}` };
    }
  }
  return chain;
}
