/**
 * AWS access key ids: `AKIA` (long-term) or `ASIA` (temporary, STS) followed
 * by 16 upper-case letters or digits, standing alone. (The secret key has no
 * recognisable shape; it is usually next to the id, so a column rule or the
 * id's presence should prompt a rule for its neighbour.)
 */
import type { Detector, Span } from '../types.ts';
import { scan } from './util.ts';

const CANDIDATE = /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g;

export const awsAccessKey: Detector = {
  class: 'aws_access_key',
  hints: { anyOf: ['AKIA', 'ASIA'] },
  find(text: string): Span[] {
    if (!text.includes('AKIA') && !text.includes('ASIA')) return [];
    return scan(text, CANDIDATE, (m) => ({ start: m.index, end: m.index + m[0].length }));
  },
};
