/**
 * US Social Security Number (SSA rules: https://www.ssa.gov/employer/randomization.html).
 * Area 001-899 except 666, group 01-99, serial 0001-9999.
 *
 * With separators (`123-45-6789`, `123 45 6789`) the shape is distinctive
 * enough on its own. Nine bare digits are not: any 9-digit id passes the
 * area/group/serial rules, so a bare form counts only after a label (`SSN`,
 * `social security`, `TIN`…). Columns that hold bare SSNs need a column rule.
 */
import type { Detector, Span } from '../types.ts';
import { countDigits, labelledBefore, scan } from './util.ts';

const SEPARATED = /(?<![\w-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\w-])/g;
const BARE = /(?<![\w-])(\d{3})(\d{2})(\d{4})(?![\w-])/g;
const LABEL = /(?:\bssn|social[\s_-]*security(?:[\s_-]*(?:number|no))?|\bss#|\btin|taxpayer[\s_-]*id(?:entification)?)[^\w\n]{0,12}(?:(?:number|no|num|#)[^\w\n]{0,4})?$/i;

export function isValidSsn(area: string, group: string, serial: string): boolean {
  return area !== '000' && area !== '666' && area[0] !== '9' && group !== '00' && serial !== '0000';
}

export const usSsn: Detector = {
  class: 'us_ssn',
  hints: { minDigits: 9 },
  find(text: string): Span[] {
    if (!countDigits(text, 9)) return [];
    const spans = scan(text, SEPARATED, (m) => (isValidSsn(m[1]!, m[3]!, m[4]!) ? { start: m.index, end: m.index + m[0].length } : null));
    spans.push(
      ...scan(text, BARE, (m) => (isValidSsn(m[1]!, m[2]!, m[3]!) && labelledBefore(text, m.index, LABEL) ? { start: m.index, end: m.index + 9 } : null)),
    );
    return spans;
  },
};
