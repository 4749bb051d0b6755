/**
 * JSON Web Tokens in compact serialisation (RFC 7519 §3 / RFC 7515 §7.1):
 * three base64url parts; the first decodes to a JSON object with a string
 * `alg`. The signature may be empty (`alg: none`). JWE (five parts) tokens
 * match on their first three parts, which is enough to mask them.
 */
import type { Detector, Span } from '../types.ts';
import { scan } from './util.ts';

// A JSON header starts with `{`, so its base64url starts with `e` followed by w-z.
const CANDIDATE = /(?<![A-Za-z0-9_-])e[w-z][A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g;

function hasAlgHeader(part: string): boolean {
  try {
    const h: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof h === 'object' && h !== null && typeof (h as Record<string, unknown>).alg === 'string';
  } catch {
    return false;
  }
}

export const jwt: Detector = {
  class: 'jwt',
  hints: { anyOf: ['.'], minLength: 20 },
  find(text: string): Span[] {
    if (!text.includes('.')) return [];
    return scan(text, CANDIDATE, (m) => (hasAlgHeader(m[0].slice(0, m[0].indexOf('.'))) ? { start: m.index, end: m.index + m[0].length } : null));
  },
};
