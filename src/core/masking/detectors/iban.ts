/**
 * IBAN (ISO 13616): country code, two check digits, BBAN; validated with
 * ibantools (country-specific length and format, then mod-97 = 1). Printed
 * form with spaces every four characters is accepted, as is lower case
 * (`lower(iban)` must not defeat detection).
 */
import { electronicFormatIBAN, isValidIBAN } from 'ibantools';
import type { Detector, Span } from '../types.ts';
import { scan } from './util.ts';

/** Country, check digits, then 1-4 character groups optionally separated by one space. */
const CANDIDATE = /(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{1,4}){3,8}(?![A-Za-z0-9])/g;

function valid(candidate: string): boolean {
  const e = electronicFormatIBAN(candidate.toUpperCase());
  return e !== null && isValidIBAN(e);
}

export const iban: Detector = {
  class: 'iban',
  hints: { minDigits: 2, minLength: 15 },
  find(text: string): Span[] {
    return scan(text, CANDIDATE, (m) => {
      // The candidate may have swallowed a following word (`… 7654 32 is`):
      // drop trailing groups until the rest validates.
      let s = m[0];
      while (s.replace(/ /g, '').length >= 15) {
        if (valid(s)) return { start: m.index, end: m.index + s.length };
        const cut = s.lastIndexOf(' ');
        if (cut < 0) break;
        s = s.slice(0, cut);
      }
      return null;
    });
  },
};
