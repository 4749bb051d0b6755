/**
 * Phone numbers, found with libphonenumber-js `findPhoneNumbersInText`
 * (Google's libphonenumber port) using the **max** metadata: it validates
 * numbers against each country's real number ranges, not only their lengths,
 * which is what keeps ordinary numbers out. The larger bundle (~150 kB) is
 * irrelevant for a server.
 *
 * False positives: with a default country, libphonenumber accepts a bare run
 * of digits (`4155552671`) as a national number, so every 10-digit id in a
 * US-default scan would be masked. We therefore keep a match only when it is
 * written like a phone number: with a leading `+`, or with at least one
 * separator (space, dash, dot, parentheses). Columns holding bare digit
 * phones need a column rule. The default country (for numbers written without
 * `+`) is a parameter; `createPhoneDetector()` with none finds only
 * international numbers.
 */
import { findPhoneNumbersInText, type CountryCode } from 'libphonenumber-js/max';
import type { Detector, Span } from '../types.ts';
import { countDigits } from './util.ts';

export function createPhoneDetector(opts: { defaultCountry?: CountryCode } = {}): Detector {
  return {
    class: 'phone',
    hints: { minDigits: 7 },
    find(text: string): Span[] {
      // libphonenumber is by far the costliest detector: skip text that cannot hold a number.
      if (!countDigits(text, 7)) return [];
      const found = opts.defaultCountry === undefined ? findPhoneNumbersInText(text) : findPhoneNumbersInText(text, { defaultCountry: opts.defaultCountry });
      const out: Span[] = [];
      for (const f of found) {
        const s = text.slice(f.startsAt, f.endsAt);
        if (!s.includes('+') && !/\d[\s().-]+\d|\(\d/.test(s)) continue; // a bare digit run: too ambiguous
        out.push({ start: f.startsAt, end: f.endsAt });
      }
      return out;
    },
  };
}

/** The default: international numbers anywhere, national numbers in US format. */
export const phone: Detector = createPhoneDetector({ defaultCountry: 'US' });
