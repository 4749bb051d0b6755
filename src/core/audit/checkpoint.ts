/**
 * Signed checkpoints: C2SP tlog-checkpoint bodies inside C2SP signed notes,
 * signed with Ed25519 (https://c2sp.org/tlog-checkpoint,
 * https://c2sp.org/signed-note). The format is the one Go's
 * golang.org/x/mod/sumdb/note, Sigstore, Trillian/Tessera and the witness
 * network read, so a checkpoint can be cosigned or checked by their tools.
 *
 *   gatehouse.local/audit          ← origin (= key name)
 *   1234                           ← tree size, decimal
 *   <base64 root hash>             ← RFC 6962 MTH, standard base64
 *   time 1764124800                ← extension: unix seconds when signed
 *   prev <base64 sha256>           ← extension: SHA-256 of the previous checkpoint's body
 *   key-rotation <vkey> <vkey>     ← extension, handover checkpoints only: the signing key
 *                                    changes from the first verifier key to the second;
 *                                    the note is signed by both (see keychain.ts)
 *                                  ← blank line ends the body
 *   — gatehouse.local/audit <base64(key id ‖ Ed25519 signature)>
 *
 * Key id = first 4 bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key);
 * 0x01 is the signed-note algorithm byte for Ed25519. The signature covers the
 * body bytes, final newline included.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { HASH_SIZE } from './merkle.ts';

const ALG_ED25519 = 0x01;
const SIG_PREFIX = '\u2014 '; // "— " (U+2014 EM DASH, space)

export class NoteError extends Error {
  constructor(readonly problem: string) {
    super(problem);
    this.name = 'NoteError';
  }
}

// ---------------------------------------------------------------------------
// Keys

/** SubjectPublicKeyInfo DER of an Ed25519 key, before its 32 key bytes (RFC 8410 §4). */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * Raw keys by KeyObject: each key is exported once. Besides saving the work
 * on every checkpoint verified, this keeps clear of a Node 20 deadlock: an
 * export holds the key's mutex while it allocates, and if that allocation
 * runs the garbage collector over the KeyGenJob that generated the key
 * (generateKeyPairSync leaves it behind), the job's destructor takes the
 * same mutex and the process hangs (seen in CI: a test process stuck in
 * ExportJWKEdKey → GC → ~KeyGenJob → pthread_mutex_lock).
 */
const RAW = new WeakMap<KeyObject, Buffer>();

/** The 32-byte Ed25519 public key of a private or public KeyObject. */
export function rawPublicKey(key: KeyObject): Buffer {
  const cached = RAW.get(key);
  if (cached) return Buffer.from(cached);
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'ed25519') throw new NoteError(`key is ${pub.asymmetricKeyType}, not ed25519`);
  const der = pub.export({ format: 'der', type: 'spki' });
  if (der.length !== ED25519_SPKI_PREFIX.length + 32 || !der.subarray(0, ED25519_SPKI_PREFIX.length).equals(ED25519_SPKI_PREFIX)) {
    throw new NoteError('unexpected Ed25519 public key encoding');
  }
  const raw = Buffer.from(der.subarray(ED25519_SPKI_PREFIX.length));
  RAW.set(key, raw);
  return Buffer.from(raw);
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new NoteError('an Ed25519 public key is 32 bytes');
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

function checkKeyName(name: string): void {
  if (name.length === 0 || /[\s+]/u.test(name) || /\p{Cc}/u.test(name)) {
    throw new NoteError(`invalid key name ${JSON.stringify(name)}: non-empty, no spaces, no '+'`);
  }
}

/** Signed-note key id: SHA-256(name ‖ "\n" ‖ 0x01 ‖ pubkey)[:4]. */
export function keyId(name: string, publicKey: KeyObject): Buffer {
  checkKeyName(name);
  return createHash('sha256')
    .update(name, 'utf8')
    .update(Buffer.from([0x0a, ALG_ED25519]))
    .update(rawPublicKey(publicKey))
    .digest()
    .subarray(0, 4);
}

/** The signed-note verifier key string: `<name>+<hex key id>+<base64(0x01 ‖ pubkey)>`. */
export function verifierKey(name: string, publicKey: KeyObject): string {
  const material = Buffer.concat([Buffer.from([ALG_ED25519]), rawPublicKey(publicKey)]);
  return `${name}+${keyId(name, publicKey).toString('hex')}+${material.toString('base64')}`;
}

export function parseVerifierKey(vkey: string): { name: string; publicKey: KeyObject } {
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+=*)$/.exec(vkey.trim());
  if (!m) throw new NoteError('malformed verifier key');
  const material = Buffer.from(m[3]!, 'base64');
  if (material.length !== 33 || material[0] !== ALG_ED25519) throw new NoteError('verifier key is not Ed25519');
  const publicKey = publicKeyFromRaw(material.subarray(1));
  if (keyId(m[1]!, publicKey).toString('hex') !== m[2]) throw new NoteError('verifier key id does not match the key');
  return { name: m[1]!, publicKey };
}

// ---------------------------------------------------------------------------
// Signed notes

function checkNoteText(text: string): void {
  if (!text.endsWith('\n')) throw new NoteError('note text must end with a newline');
  // Control characters other than newline are not allowed in note text.
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(text)) throw new NoteError('note text contains control characters');
  if (text.includes('\n\n') || text.startsWith('\n')) throw new NoteError('note text contains a blank line');
}

/**
 * Add a signature by (name, privateKey) to a signed note (a handover
 * checkpoint is signed by the outgoing and the incoming key).
 */
export function cosignNote(note: string, name: string, privateKey: KeyObject): string {
  const { text } = splitNote(note);
  return `${note}${signNote(text, name, privateKey).slice(text.length + 1)}`;
}

/** Sign `text` (which must end in "\n") and return the complete note. */
export function signNote(text: string, name: string, privateKey: KeyObject): string {
  checkNoteText(text);
  const id = keyId(name, privateKey);
  const sig = sign(null, Buffer.from(text, 'utf8'), privateKey);
  return `${text}\n${SIG_PREFIX}${name} ${Buffer.concat([id, sig]).toString('base64')}\n`;
}

interface SignatureLine {
  name: string;
  id: Buffer;
  sig: Buffer;
}

function splitNote(note: string): { text: string; sigs: SignatureLine[] } {
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('malformed note: no blank line before the signatures');
  const text = note.slice(0, split + 1);
  const sigBlock = note.slice(split + 2);
  if (!sigBlock.endsWith('\n')) throw new NoteError('malformed note: signatures must end with a newline');
  checkNoteText(text);
  const sigs: SignatureLine[] = [];
  for (const line of sigBlock.slice(0, -1).split('\n')) {
    if (!line.startsWith(SIG_PREFIX)) throw new NoteError('malformed note: bad signature line');
    const rest = line.slice(SIG_PREFIX.length);
    const sp = rest.indexOf(' ');
    const name = rest.slice(0, sp);
    const b64 = rest.slice(sp + 1);
    if (sp <= 0 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) throw new NoteError('malformed note: bad signature line');
    const blob = Buffer.from(b64, 'base64');
    if (blob.length < 5 || blob.toString('base64') !== b64) throw new NoteError('malformed note: bad signature encoding');
    sigs.push({ name, id: blob.subarray(0, 4), sig: blob.subarray(4) });
  }
  if (sigs.length === 0) throw new NoteError('malformed note: no signatures');
  if (sigs.length > 100) throw new NoteError('malformed note: more than 100 signatures');
  return { text, sigs };
}

/** A note's text (the signed body), without checking any signature. */
export function noteText(note: string): string {
  return splitNote(note).text;
}

/**
 * Verify that `note` carries a valid Ed25519 signature by (name, publicKey)
 * and return its text. Other signatures (cosigners) are ignored.
 */
export function openNote(note: string, name: string, publicKey: KeyObject): string {
  const { text, sigs } = splitNote(note);
  const id = keyId(name, publicKey);
  const mine = sigs.filter((s) => s.name === name && s.id.equals(id));
  // Go's note.Open ignores repeats; a log's own notes never carry one, so a repeat means the note was edited.
  if (mine.length > 1) throw new NoteError('malformed note: repeated signature by the log key');
  if (mine.length === 0) {
    const other = sigs.find((s) => s.name === name);
    if (other) {
      throw new NoteError(
        `signed with another key (key id ${other.id.toString('hex')}, expected ${id.toString('hex')})`,
      );
    }
    throw new NoteError(`no signature by ${name} (signers: ${sigs.map((s) => s.name).join(', ')})`);
  }
  const sig = mine[0]!.sig;
  if (sig.length === 64 && verify(null, Buffer.from(text, 'utf8'), publicKey, sig)) return text;
  throw new NoteError('invalid signature');
}

// ---------------------------------------------------------------------------
// Checkpoints

export interface CheckpointFields {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
  /** Unix seconds when the checkpoint was signed. */
  readonly time?: number;
  /** SHA-256 of the previous checkpoint's body; absent on the first checkpoint. */
  readonly prev?: Uint8Array;
  /** Handover checkpoints: the verifier keys of the outgoing and the incoming signing key. */
  readonly rotation?: KeyRotation;
}

/** A signing key handed over at a checkpoint: verifier keys (`name+id+base64`) of both. */
export interface KeyRotation {
  readonly from: string;
  readonly to: string;
}

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Buffer;
  readonly time: number | undefined;
  readonly prev: Buffer | undefined;
  readonly rotation: KeyRotation | undefined;
  /** All extension lines, verbatim (time and prev included). */
  readonly extensions: readonly string[];
  /** The signed body text (ends with "\n"). */
  readonly body: string;
}

export function formatCheckpointBody(f: CheckpointFields): string {
  checkKeyName(f.origin);
  if (!Number.isSafeInteger(f.size) || f.size < 0) throw new NoteError(`bad tree size ${f.size}`);
  if (f.rootHash.length !== HASH_SIZE) throw new NoteError('root hash is not 32 bytes');
  let body = `${f.origin}\n${f.size}\n${Buffer.from(f.rootHash).toString('base64')}\n`;
  if (f.time !== undefined) body += `time ${Math.floor(f.time)}\n`;
  if (f.prev !== undefined) body += `prev ${Buffer.from(f.prev).toString('base64')}\n`;
  if (f.rotation !== undefined) {
    for (const k of [f.rotation.from, f.rotation.to]) parseVerifierKey(k);
    body += `key-rotation ${f.rotation.from} ${f.rotation.to}\n`;
  }
  return body;
}

const B64_HASH = /^[A-Za-z0-9+/]{43}=$/;

export function parseCheckpointBody(body: string): Checkpoint {
  checkNoteText(body);
  const lines = body.slice(0, -1).split('\n');
  if (lines.length < 3) throw new NoteError('checkpoint body needs origin, size and root hash lines');
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0) throw new NoteError('checkpoint origin is empty');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine) || !Number.isSafeInteger(Number(sizeLine))) {
    throw new NoteError('checkpoint tree size is not a decimal number');
  }
  if (!B64_HASH.test(rootLine)) throw new NoteError('checkpoint root hash is not base64 of 32 bytes');
  let time: number | undefined;
  let prev: Buffer | undefined;
  let rotation: KeyRotation | undefined;
  for (const ext of extensions) {
    if (ext.length === 0) throw new NoteError('empty extension line');
    if (ext.startsWith('time ')) {
      const v = ext.slice(5);
      if (!/^(0|[1-9][0-9]*)$/.test(v) || time !== undefined) throw new NoteError('bad time extension');
      time = Number(v);
    } else if (ext.startsWith('prev ')) {
      const v = ext.slice(5);
      if (!B64_HASH.test(v) || prev !== undefined) throw new NoteError('bad prev extension');
      prev = Buffer.from(v, 'base64');
    } else if (ext.startsWith('key-rotation ')) {
      const keys = ext.slice('key-rotation '.length).split(' ');
      if (keys.length !== 2 || rotation !== undefined) throw new NoteError('bad key-rotation extension');
      for (const k of keys) parseVerifierKey(k);
      if (keys[0] === keys[1]) throw new NoteError('key-rotation hands the key over to itself');
      rotation = { from: keys[0]!, to: keys[1]! };
    }
  }
  return {
    origin,
    size: Number(sizeLine),
    rootHash: Buffer.from(rootLine, 'base64'),
    time,
    prev,
    rotation,
    extensions,
    body,
  };
}

/** SHA-256 of a checkpoint body: what the next checkpoint's `prev` line holds. */
export function checkpointBodyHash(body: string): Buffer {
  return createHash('sha256').update(body, 'utf8').digest();
}

/** Format and sign a checkpoint; returns the signed note text. The key name is the origin. */
export function signCheckpoint(f: CheckpointFields, privateKey: KeyObject): string {
  return signNote(formatCheckpointBody(f), f.origin, privateKey);
}

/**
 * Verify a signed checkpoint note against the log's key and origin; throws
 * NoteError naming the problem (malformed, unknown key, bad signature,
 * wrong origin).
 */
export function openCheckpoint(note: string, origin: string, publicKey: KeyObject): Checkpoint {
  const body = openNote(note, origin, publicKey);
  const cp = parseCheckpointBody(body);
  if (cp.origin !== origin) throw new NoteError(`checkpoint origin is ${cp.origin}, expected ${origin}`);
  return cp;
}
