/**
 * Email addresses: a permissive candidate regex, then validator's isEmail
 * (RFC 5321 lengths, dot rules, a real-looking domain with a TLD).
 */
import validator from 'validator';
import type { Detector, Span } from '../types.ts';
import { scan } from './util.ts';

const CANDIDATE = /[\p{L}\p{N}._%+'!#$&*=?^`{|}~-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+/gu;

export const email: Detector = {
  class: 'email',
  hints: { anyOf: ['@'] },
  find(text: string): Span[] {
    if (!text.includes('@')) return [];
    return scan(text, CANDIDATE, (m) => {
      let s = m[0];
      let start = m.index;
      // Punctuation that ends a sentence or starts a quote is not part of the address.
      while (/^[.'`{|}~]/.test(s)) {
        s = s.slice(1);
        start++;
      }
      s = s.replace(/[.-]+$/, '');
      return validator.isEmail(s, { allow_utf8_local_part: true, require_tld: true }) ? { start, end: start + s.length } : null;
    });
  },
};
