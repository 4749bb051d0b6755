/**
 * Durations in config (`clockSkew: 30s`). One or more `<integer><unit>` parts,
 * units s, m, h, d (`90s`, `15m`, `1h30m`, `2d`). A bare number is refused so
 * that `clockSkew: 30` cannot be misread as milliseconds or minutes.
 */
import { GatewayError } from '../shared/errors.ts';

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };
const WHOLE = /^(?:\d+[smhd])+$/;
const PART = /(\d+)([smhd])/g;

export const DURATION_HINT = 'expected a duration like 30s, 15m, 1h or 2d';

/** Parses a duration string and returns whole seconds. Throws GW_CONFIG_INVALID. */
export function parseDuration(s: string): number {
  const text = s.trim();
  if (!WHOLE.test(text)) throw new GatewayError('GW_CONFIG_INVALID', DURATION_HINT);
  let total = 0;
  for (const m of text.matchAll(PART)) {
    total += Number(m[1]) * (UNIT_SECONDS[m[2] ?? 's'] ?? 1);
  }
  if (!Number.isSafeInteger(total)) throw new GatewayError('GW_CONFIG_INVALID', `${DURATION_HINT} (value too large)`);
  return total;
}
