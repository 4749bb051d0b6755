/**
 * Payment card numbers (PAN): 13-19 digits, Luhn check, and a known issuer
 * range (IIN) with a length that issuer uses. Digits may be grouped with
 * spaces or dashes (one kind per number). Sources: ISO/IEC 7812 and the
 * networks' published ranges (Visa, Mastercard incl. 2-series, Amex,
 * Discover, Diners, JCB, UnionPay, Maestro, Mir, RuPay).
 *
 * Why issuer ranges as well as Luhn: Luhn alone passes one random number in
 * ten, and long numeric ids (snowflake ids, order numbers) are common in
 * bigint columns; a range check removes most of them.
 */
import type { Detector, Span } from '../types.ts';
import { countDigits, scan } from './util.ts';

/** [first prefix, last prefix, allowed lengths]; prefixes compared on the same number of leading digits. */
const RANGES: [string, string, number[]][] = [
  ['4', '4', [13, 16, 19]], // Visa
  ['51', '55', [16]], // Mastercard
  ['2221', '2720', [16]], // Mastercard 2-series
  ['34', '34', [15]], // Amex
  ['37', '37', [15]], // Amex
  ['6011', '6011', [16, 17, 18, 19]], // Discover
  ['644', '649', [16, 17, 18, 19]],
  ['65', '65', [16, 17, 18, 19]],
  ['300', '305', [14, 15, 16, 17, 18, 19]], // Diners
  ['3095', '3095', [14, 15, 16, 17, 18, 19]],
  ['36', '36', [14, 15, 16, 17, 18, 19]],
  ['38', '39', [16, 17, 18, 19]],
  ['3528', '3589', [16, 17, 18, 19]], // JCB
  ['62', '62', [16, 17, 18, 19]], // UnionPay (and Discover co-branding)
  ['50', '50', [13, 14, 15, 16, 17, 18, 19]], // Maestro
  ['56', '69', [13, 14, 15, 16, 17, 18, 19]],
  ['2200', '2204', [16, 17, 18, 19]], // Mir
  ['60', '60', [16]], // RuPay
  ['81', '82', [16]],
  ['508', '508', [16]],
  ['353', '353', [16]],
  ['356', '356', [16]],
];

export function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export function knownIssuer(digits: string): boolean {
  return RANGES.some(([lo, hi, lengths]) => {
    const p = digits.slice(0, lo.length);
    return p >= lo && p <= hi && lengths.includes(digits.length);
  });
}

export function isCardNumber(digits: string): boolean {
  return digits.length >= 13 && digits.length <= 19 && knownIssuer(digits) && luhn(digits);
}

/** A run of digit groups joined by single spaces or dashes (same separator throughout, checked below). */
const CANDIDATE = /(?<![\w.-])\d+(?:[ -]\d+)*(?![\w-])/g;

/**
 * The best card inside one run: the whole run, or else the longest valid
 * sequence of whole groups (so `card 4111 1111 1111 1111 exp 12 25` and two
 * cards in a row are both found).
 */
function cardsInRun(run: string, offset: number): Span[] {
  const groups: { start: number; end: number }[] = [];
  for (const m of run.matchAll(/\d+/g)) groups.push({ start: m.index, end: m.index + m[0].length });
  const seps = new Set<string>();
  for (let g = 1; g < groups.length; g++) seps.add(run[groups[g]!.start - 1]!);
  const out: Span[] = [];
  let i = 0;
  while (i < groups.length) {
    let found = -1;
    let digits = '';
    for (let j = i; j < groups.length; j++) {
      digits += run.slice(groups[j]!.start, groups[j]!.end);
      if (digits.length > 19) break;
      // One separator kind per number: `4111-1111 1111-1111` is not a card.
      if (j > i && seps.size > 1 && run[groups[j]!.start - 1] !== run[groups[i + 1]!.start - 1]) break;
      if (isCardNumber(digits)) found = j;
    }
    if (found >= 0) {
      out.push({ start: offset + groups[i]!.start, end: offset + groups[found]!.end });
      i = found + 1;
    } else i++;
  }
  return out;
}

export const paymentCard: Detector = {
  class: 'payment_card',
  hints: { minDigits: 13 },
  find(text: string): Span[] {
    if (!countDigits(text, 13)) return [];
    return scan(text, CANDIDATE, (m) => {
      const run = m[0];
      if (run.length < 13) return null;
      return cardsInRun(run, m.index);
    });
  },
};
