/**
 * Helpers shared by the detectors.
 *
 * Every detector is a candidate regex followed by a structural check
 * (checksum, issuer range, parse). The regexes are linear: no nested
 * quantifiers over the same characters, so adversarial text cannot make a
 * scan of a large value quadratic.
 */
import type { Span } from '../types.ts';

/** True when `text` has a label matching `label` shortly before `start` (for all-digit formats that are otherwise ambiguous). */
export function labelledBefore(text: string, start: number, label: RegExp, window = 40): boolean {
  return label.test(text.slice(Math.max(0, start - window), start));
}

export function digitsOf(s: string): string {
  return s.replace(/\D/g, '');
}

/** Runs a global regex and keeps the matches `accept` approves (it may return a narrower span). */
export function scan(text: string, re: RegExp, accept: (m: RegExpExecArray) => Span | Span[] | null): Span[] {
  const out: Span[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const r = accept(m);
    if (r !== null) out.push(...(Array.isArray(r) ? r : [r]));
    if (m[0].length === 0) re.lastIndex++;
  }
  return out;
}

/** Quick count of ASCII digits, used as a prefilter before costlier work. */
export function countDigits(text: string, atLeast: number): boolean {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57 && ++n >= atLeast) return true;
  }
  return false;
}
