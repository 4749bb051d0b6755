import { randomBytes, randomUUID } from 'node:crypto';

/** Session and event ids: sortable-ish prefix of time plus randomness. */
export function newId(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}${randomBytes(6).toString('hex')}`;
}

export function uuid(): string {
  return randomUUID();
}
