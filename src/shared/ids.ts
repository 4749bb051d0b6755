import { randomBytes, randomUUID } from 'node:crypto';

const RANDOM_BYTES = 6;
/** One CSPRNG call per 512 ids instead of one per id (randomBytes was ~2% of a statement's CPU). */
const POOL_BYTES = RANDOM_BYTES * 512;
let pool = Buffer.alloc(0);
let offset = 0;

/** Session and event ids: sortable-ish prefix of time plus 48 random bits. */
export function newId(prefix: string): string {
  if (offset + RANDOM_BYTES > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const random = pool.toString('hex', offset, offset + RANDOM_BYTES);
  offset += RANDOM_BYTES;
  return `${prefix}_${Date.now().toString(36)}${random}`;
}

export function uuid(): string {
  return randomUUID();
}
