/**
 * A self-contained inclusion proof for one log entry: the envelope, its
 * payload when still retained, the RFC 6962 audit path and the signed
 * checkpoint it leads to. An auditor checks a sampled event with this file
 * and the public key alone (`gatehouse audit prove --seq N`, then
 * `gatehouse audit verify-bundle proof.json --pubkey FILE`).
 */
import type { KeyObject } from 'node:crypto';
import { NoteError, openCheckpoint, parseCheckpointBody } from './checkpoint.ts';
import { openEvent, parseEnvelope, payloadCommitment } from './envelope.ts';
import type { StoredEvent } from './events.ts';
import { keysAfterHandovers } from './keychain.ts';
import { hashLeaf, verifyInclusion } from './merkle.ts';

export const PROOF_FORMAT = 'gatehouse-inclusion-proof/v1';

export interface InclusionProof {
  readonly format: typeof PROOF_FORMAT;
  readonly origin: string;
  readonly seq: number;
  /** seq − 1: the RFC 6962 leaf index. */
  readonly leafIndex: number;
  readonly treeSize: number;
  /** hex SHA-256(0x00 ‖ envelope). */
  readonly leafHash: string;
  /** The canonical envelope JSON (the leaf data). */
  readonly envelope: string;
  /** The payload, when retained: class, hex salt, canonical body. */
  readonly payload?: { readonly class: string; readonly salt: string; readonly body: string };
  /** Audit path, leaf to root, hex. */
  readonly path: readonly string[];
  /** The signed checkpoint note of size `treeSize`. */
  readonly checkpoint: string;
  /**
   * The log's key handovers up to that checkpoint, oldest first (absent
   * when the key was never rotated): they lead from the key the auditor
   * trusts to the key that signed the checkpoint.
   */
  readonly keyHandovers?: readonly string[];
}

export interface ProofCheck {
  readonly ok: boolean;
  readonly problem?: string;
  readonly seq?: number;
  readonly treeSize?: number;
  /** Unix seconds of the checkpoint, when it has a time line. */
  readonly checkpointTime?: number;
  readonly payload: 'verified' | 'absent';
  /** The event, rebuilt from the proven envelope and payload. */
  readonly event?: StoredEvent;
}

const HEX32 = /^[0-9a-f]{64}$/;

/** Verify a parsed proof object against the log's public key (and, optionally, a pinned origin). */
export function verifyInclusionProof(value: unknown, publicKey: KeyObject, origin?: string): ProofCheck {
  const fail = (problem: string, seq?: number): ProofCheck => ({ ok: false, problem, ...(seq ? { seq } : {}), payload: 'absent' });
  if (value === null || typeof value !== 'object') return fail('proof is not a JSON object');
  const p = value as Partial<InclusionProof>;
  if (p.format !== PROOF_FORMAT) return fail(`unknown proof format ${String(p.format)}`);
  if (typeof p.origin !== 'string' || (origin !== undefined && p.origin !== origin)) return fail('proof origin does not match');
  if (!Number.isSafeInteger(p.seq) || !Number.isSafeInteger(p.treeSize) || typeof p.envelope !== 'string') {
    return fail('proof fields missing');
  }
  const seq = p.seq!;
  if (p.leafIndex !== seq - 1) return fail('leafIndex is not seq − 1', seq);
  if (!Array.isArray(p.path) || !p.path.every((h) => typeof h === 'string' && HEX32.test(h))) return fail('malformed audit path', seq);
  if (typeof p.checkpoint !== 'string') return fail('checkpoint missing', seq);
  const handovers = p.keyHandovers ?? [];
  if (!Array.isArray(handovers) || !handovers.every((h) => typeof h === 'string')) return fail('malformed keyHandovers', seq);
  const chain = keysAfterHandovers(p.origin, publicKey, handovers);
  if (chain.problem) return fail(chain.problem, seq);
  let cp;
  try {
    // Signed by the key in force at the checkpoint: a key retired before it signs nothing after its handover.
    cp = openCheckpoint(p.checkpoint, p.origin, chain.keys[chain.keys.length - 1]!);
  } catch (e) {
    return fail(`checkpoint: ${e instanceof NoteError ? e.problem : String(e)}`, seq);
  }
  if (cp.size !== p.treeSize) return fail(`checkpoint signs size ${cp.size}, proof claims ${p.treeSize}`, seq);
  const leaf = hashLeaf(Buffer.from(p.envelope, 'utf8'));
  if (p.leafHash !== leaf.toString('hex')) return fail('leafHash is not the hash of the envelope', seq);
  const path = p.path.map((h) => Buffer.from(h, 'hex'));
  if (!verifyInclusion(seq - 1, cp.size, leaf, path, cp.rootHash)) return fail('audit path does not lead to the checkpoint root', seq);
  let env;
  try {
    env = parseEnvelope(p.envelope);
  } catch (e) {
    return fail(`envelope: ${(e as Error).message}`, seq);
  }
  if (env.seq !== seq) return fail(`envelope states seq ${env.seq}`, seq);
  let payloadBody: string | null = null;
  if (p.payload !== undefined) {
    const pl = p.payload;
    if (!env.payload) return fail('payload given but the envelope commits to none', seq);
    if (typeof pl.salt !== 'string' || typeof pl.body !== 'string' || !/^([0-9a-f]{2})+$/.test(pl.salt)) return fail('malformed payload', seq);
    if (pl.class !== env.payload.class) return fail('payload class differs from the envelope', seq);
    if (payloadCommitment(Buffer.from(pl.salt, 'hex'), pl.body) !== env.payload.commitment) {
      return fail('payload does not match its commitment', seq);
    }
    payloadBody = pl.body;
  }
  return {
    ok: true,
    seq,
    treeSize: cp.size,
    ...(cp.time !== undefined ? { checkpointTime: cp.time } : {}),
    payload: payloadBody === null ? 'absent' : 'verified',
    event: openEvent(env, payloadBody),
  };
}

/** Checkpoint body of a signed note without verifying it (for display). */
export function checkpointBodyOf(note: string): ReturnType<typeof parseCheckpointBody> {
  return parseCheckpointBody(note.slice(0, note.lastIndexOf('\n\n') + 1));
}
