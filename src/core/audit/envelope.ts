/**
 * Envelope + payload (issue 5, "Events as envelope + payload").
 *
 * Every event is split in two:
 * - the *envelope*: who, where, what kind of operation, the decision and its
 *   policy ids, the outcome, and a commitment to the payload. It is encoded
 *   with RFC 8785, versioned (`v`), and its canonical bytes are the Merkle
 *   leaf. It never holds customer data or secrets.
 * - the *payload*: statement text, parameters, messages, result samples,
 *   recording chunks — anything that may carry customer data. It is stored
 *   next to the envelope with a random 16-byte salt, and can be removed by
 *   retention without breaking the tree: the envelope keeps
 *   commitment = hex SHA-256(salt ‖ canonical payload bytes).
 *
 * The split is an allow-list: only the fields named in ENVELOPE_SLOTS and
 * ENVELOPE_ATTRS may enter the envelope; every other field of an event —
 * including fields added to the vocabulary later — lands in the payload.
 * A new field therefore can never leak customer data into the envelope; it
 * only has to be added to ENVELOPE_ATTRS when it is known to be safe *and*
 * needed in the envelope. The salt keeps low-entropy payloads (short
 * statements) from being confirmed by guessing against the commitment.
 */
import { hash, randomBytes } from 'node:crypto';
import { canonicalJson } from './canonical.ts';
import { hashLeafText } from './merkle.ts';
import { PAYLOAD_EXPIRED_TEXT, type GatewayEvent, type StoredEvent } from './events.ts';

export const ENVELOPE_VERSION = 1;
export const SALT_BYTES = 16;

/** Retention classes of payloads. */
export type PayloadClass = 'statement' | 'result' | 'recording' | 'detail';

/** Envelope fields copied verbatim from the event (same names). */
const ENVELOPE_SLOTS = [
  'sessionId',
  'operationId',
  'identity',
  'connection',
  'action',
  'tables',
  'decision',
  'outcome',
  'approvalId',
] as const;
const SLOT_SET: ReadonlySet<string> = new Set(ENVELOPE_SLOTS);

/**
 * Other event fields known to hold no customer data, kept under `attrs`.
 * `reason` (session.closed) and `code` must stay closed vocabularies; free
 * text goes in fields not listed here (`message`, `justification`…). Hashes
 * of statements (`statementHash`, `bindingHash`, `fingerprint`) stay in the
 * payload: a short statement could be confirmed by guessing against them.
 */
const ENVELOPE_ATTRS: ReadonlySet<string> = new Set([
  // sessions, statements, failures
  'protocol',
  'clientAddress',
  'tls',
  'reason',
  'statements',
  'durationMs',
  'rows',
  // statement.finished: values masked per data class (class names and counts, never values)
  'masked',
  'code',
  // retention.run
  'rules',
  'expired',
  'expiredRanges',
  'expiredByClass',
  // audit.key_rotated: public verifier keys
  'fromKey',
  'toKey',
  // gateway.started / gateway.stopped / policy.reloaded: versions, names from the config, digests, counts
  'version',
  'connections',
  'durability',
  'policyDigest',
  'policies',
  'sessionsEnded',
  // approvals and grants (issue 6)
  'grantId',
  'requester',
  'policyId',
  'policyVersion',
  'approverGroups',
  'approvalsNeeded',
  'approvalsGiven',
  'complete',
  'validUntil',
  'mode',
  'expiresAt',
  'previousStatus',
  'durationSeconds',
  'activeUntil',
  'requestExpiresAt',
  // temporary credentials (issue 6): role names and lifetimes, never passwords
  'role',
  'templateRole',
  'backendsTerminated',
  'dropped',
]);

export interface Envelope {
  readonly v: 1;
  readonly seq: number;
  /** Event time, ms since the epoch. */
  readonly time: number;
  /** The Gatehouse instance that wrote the event. */
  readonly instance: string;
  readonly type: string;
  readonly sessionId?: string;
  readonly operationId?: string;
  readonly identity?: unknown;
  readonly connection?: string | null;
  readonly action?: string;
  readonly tables?: readonly string[];
  readonly decision?: { readonly effect: string; readonly policyIds: readonly string[]; readonly reasons: readonly string[] };
  readonly outcome?: string;
  readonly approvalId?: string;
  /** `error.code` of the event; the error message stays in the payload. */
  readonly errorCode?: string;
  readonly attrs?: Readonly<Record<string, unknown>>;
  /** Present iff the event has a payload. */
  readonly payload?: { readonly class: string; readonly commitment: string };
}

export interface SealedPayload {
  readonly class: string;
  readonly salt: Buffer;
  /** Canonical JSON of the payload object. */
  readonly body: string;
}

export interface SealedEvent {
  readonly envelope: Envelope;
  /** Canonical JSON of the envelope: the exact Merkle leaf data. */
  readonly envelopeJson: string;
  readonly leafHash: Buffer;
  readonly payload: SealedPayload | null;
}

/** Retention class of an event's payload: statement text is kept as long as statements are. */
export function payloadClassOf(type: string, payload: Readonly<Record<string, unknown>> = {}): PayloadClass {
  if (type.startsWith('recording.')) return 'recording';
  if (type.includes('result') || 'result' in payload) return 'result';
  if (type.startsWith('statement.') || 'statement' in payload) return 'statement';
  return 'detail';
}

/** Salts are cut from a CSPRNG pool: one randomBytes call per 256 events instead of one each (it was 7% of the append path). */
const SALT_POOL_BYTES = SALT_BYTES * 256;
let saltPool = Buffer.alloc(0);
let saltOffset = 0;

function freshSalt(): Buffer {
  if (saltOffset + SALT_BYTES > saltPool.length) {
    saltPool = randomBytes(SALT_POOL_BYTES);
    saltOffset = 0;
  }
  // A view, not a copy: each slice is handed out once and the pool is never refilled in place.
  const salt = saltPool.subarray(saltOffset, saltOffset + SALT_BYTES);
  saltOffset += SALT_BYTES;
  return salt;
}

/** hex SHA-256(salt ‖ UTF-8 bytes of the canonical payload). */
export function payloadCommitment(salt: Uint8Array, body: string): string {
  // One buffer and one-shot crypto.hash: ~20% cheaper than a createHash object per event.
  const buf = Buffer.allocUnsafe(salt.length + Buffer.byteLength(body, 'utf8'));
  buf.set(salt, 0);
  buf.write(body, salt.length, 'utf8');
  return hash('sha256', buf, 'hex');
}

/** Split, encode and hash one event as log entry `seq`. */
export function sealEvent(
  event: GatewayEvent,
  seq: number,
  instance: string,
  opts: { salt?: Uint8Array } = {},
): SealedEvent {
  const src = event as unknown as Record<string, unknown>;
  const env: Record<string, unknown> = { v: ENVELOPE_VERSION, seq, time: event.time, instance, type: event.type };
  const attrs: Record<string, unknown> = {};
  const payload: Record<string, unknown> = {};
  let hasAttrs = false;
  let hasPayload = false;
  for (const key of Object.keys(src)) {
    const value = src[key];
    if (value === undefined || key === 'type' || key === 'time') continue;
    if (SLOT_SET.has(key)) env[key] = value;
    else if (ENVELOPE_ATTRS.has(key)) {
      attrs[key] = value;
      hasAttrs = true;
    } else {
      payload[key] = value;
      hasPayload = true;
    }
  }
  const err = src['error'];
  if (err !== null && typeof err === 'object' && typeof (err as { code?: unknown }).code === 'string') {
    env['errorCode'] = (err as { code: string }).code;
  }
  if (hasAttrs) env['attrs'] = attrs;
  let sealedPayload: SealedPayload | null = null;
  if (hasPayload) {
    const body = canonicalJson(payload);
    const salt = opts.salt ? Buffer.from(opts.salt) : freshSalt();
    const cls = payloadClassOf(event.type, payload);
    sealedPayload = { class: cls, salt, body };
    env['payload'] = { class: cls, commitment: payloadCommitment(salt, body) };
  }
  const envelopeJson = canonicalJson(env);
  return {
    envelope: env as unknown as Envelope,
    envelopeJson,
    leafHash: hashLeafText(envelopeJson),
    payload: sealedPayload,
  };
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Parse and shape-check a stored envelope; throws an Error naming the problem. */
export function parseEnvelope(text: string): Envelope {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error('envelope is not valid JSON');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('envelope is not a JSON object');
  const e = v as Record<string, unknown>;
  if (e['v'] !== ENVELOPE_VERSION) throw new Error(`unsupported envelope version ${String(e['v'])}`);
  if (!Number.isSafeInteger(e['seq']) || (e['seq'] as number) < 1) throw new Error('envelope seq is not a positive integer');
  if (typeof e['time'] !== 'number' || !Number.isFinite(e['time'])) throw new Error('envelope time is not a number');
  if (typeof e['type'] !== 'string' || typeof e['instance'] !== 'string') throw new Error('envelope type/instance missing');
  const p = e['payload'];
  if (p !== undefined) {
    const pp = p as Record<string, unknown>;
    if (p === null || typeof p !== 'object' || typeof pp['class'] !== 'string' || typeof pp['commitment'] !== 'string' || !HEX64.test(pp['commitment'])) {
      throw new Error('envelope payload reference is malformed');
    }
  }
  return e as unknown as Envelope;
}

/** Payload fields the vocabulary requires, per type, filled with a marker once retention removed them. */
const REQUIRED_PAYLOAD_FIELDS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  'statement.started': { statement: PAYLOAD_EXPIRED_TEXT },
  'statement.denied': { statement: PAYLOAD_EXPIRED_TEXT },
  'auth.failed': { message: PAYLOAD_EXPIRED_TEXT },
  'upstream.failed': { message: PAYLOAD_EXPIRED_TEXT },
  'approval.requested': { statement: PAYLOAD_EXPIRED_TEXT, statementHash: '', bindingHash: '', fingerprint: null },
  'approval.granted': { justification: PAYLOAD_EXPIRED_TEXT },
  'approval.denied': { justification: PAYLOAD_EXPIRED_TEXT },
  'approval.used': { bindingHash: '' },
  'grant.requested': { justification: PAYLOAD_EXPIRED_TEXT },
  'grant.approved': { justification: PAYLOAD_EXPIRED_TEXT },
  'grant.revoked': { justification: PAYLOAD_EXPIRED_TEXT },
};

/**
 * Rebuild the event from its envelope and payload body (null when there is
 * none, or when retention removed it). Inverse of `sealEvent`.
 */
export function openEvent(envelope: Envelope, payloadBody: string | null): StoredEvent {
  const out: Record<string, unknown> = { type: envelope.type, time: envelope.time };
  const env = envelope as unknown as Record<string, unknown>;
  for (const key of ENVELOPE_SLOTS) if (env[key] !== undefined) out[key] = env[key];
  if (envelope.attrs) Object.assign(out, envelope.attrs);
  if (payloadBody !== null) {
    Object.assign(out, JSON.parse(payloadBody) as Record<string, unknown>);
  } else if (envelope.payload) {
    out['payloadExpired'] = true;
    for (const [f, marker] of Object.entries(REQUIRED_PAYLOAD_FIELDS[envelope.type] ?? {})) out[f] ??= marker;
    if (envelope.errorCode !== undefined) out['error'] ??= { code: envelope.errorCode, message: PAYLOAD_EXPIRED_TEXT };
  }
  out['seq'] = envelope.seq;
  return out as unknown as StoredEvent;
}
