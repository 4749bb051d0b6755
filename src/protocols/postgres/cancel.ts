/**
 * CancelRequest handling (§55.2.7 "Canceling Requests in Progress").
 *
 * Gatehouse hands each client its own random (processId, secretKey) pair and
 * keeps the mapping to the upstream backend's pair, so a client can cancel
 * only its own running statement and never learns upstream keys.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { PostgresUpstreamSpec } from './spec.ts';

export interface CancelTarget {
  readonly spec: PostgresUpstreamSpec;
  readonly connectionName: string;
  readonly upstreamKey: { readonly processId: number; readonly secretKey: number };
  readonly sessionId: string;
}

export class CancelRegistry {
  readonly #byPid = new Map<number, { secret: Buffer; target: CancelTarget }>();

  /** Issue a fresh key pair for a session. */
  issue(target: CancelTarget): { processId: number; secretKey: number } {
    let processId: number;
    do {
      processId = randomBytes(4).readInt32BE(0) & 0x7fffffff;
    } while (processId === 0 || this.#byPid.has(processId));
    const secret = randomBytes(4);
    this.#byPid.set(processId, { secret, target });
    return { processId, secretKey: secret.readInt32BE(0) };
  }

  release(processId: number): void {
    this.#byPid.delete(processId);
  }

  /** Returns the target only when both halves of the key match (constant-time on the secret). */
  lookup(processId: number, secretKey: number): CancelTarget | undefined {
    const entry = this.#byPid.get(processId);
    if (!entry) return undefined;
    const given = Buffer.alloc(4);
    given.writeInt32BE(secretKey | 0, 0);
    return timingSafeEqual(given, entry.secret) ? entry.target : undefined;
  }
}
