/**
 * US ABA routing transit number: nine digits, a Federal Reserve prefix
 * (00-12, 21-32, 61-72, 80) and the 3-7-1 checksum
 * 3(d1+d4+d7) + 7(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10).
 *
 * About 4% of random 9-digit numbers pass prefix and checksum, so by content
 * alone an ABA number cannot be told from an id. The detector therefore
 * requires a label shortly before the number (`routing`, `ABA`, `RTN`,
 * `transit`); routing-number columns are covered by column rules.
 */
import type { Detector, Span } from '../types.ts';
import { countDigits, labelledBefore, scan } from './util.ts';

const CANDIDATE = /(?<![\w-])\d{9}(?![\w-])/g;
const LABEL = /(?:routing|\baba|\brtn|transit)[^\n]{0,24}$/i;

export function isAbaRouting(d: string): boolean {
  if (d.length !== 9 || !/^\d{9}$/.test(d) || d === '000000000') return false;
  const p = Number(d.slice(0, 2));
  if (!((p >= 0 && p <= 12) || (p >= 21 && p <= 32) || (p >= 61 && p <= 72) || p === 80)) return false;
  const n = [...d].map(Number) as [number, number, number, number, number, number, number, number, number];
  return (3 * (n[0] + n[3] + n[6]) + 7 * (n[1] + n[4] + n[7]) + (n[2] + n[5] + n[8])) % 10 === 0;
}

export const abaRouting: Detector = {
  class: 'aba_routing',
  hints: { minDigits: 9 },
  find(text: string): Span[] {
    if (!countDigits(text, 9)) return [];
    return scan(text, CANDIDATE, (m) => (isAbaRouting(m[0]) && labelledBefore(text, m.index, LABEL) ? { start: m.index, end: m.index + 9 } : null));
  },
};
