/**
 * Byte sizes in config (`maxMessageBytes: 1MiB`). Accepts a non-negative
 * integer (bytes) or `<number><unit>` with B, KiB, MiB, GiB (powers of 1024)
 * or KB, MB, GB (powers of 1000). The result must be a whole number of bytes.
 */
import { GatewayError } from '../shared/errors.ts';

const UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
};
const SIZE = /^(\d+(?:\.\d+)?)\s*([A-Za-z]+)?$/;

export const SIZE_HINT = 'expected a size in bytes or like 512KiB, 1MiB, 2MB';

/** Parses a size (number of bytes or size string) and returns bytes. Throws GW_CONFIG_INVALID. */
export function parseSize(v: number | string): number {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && v >= 0) return v;
    throw new GatewayError('GW_CONFIG_INVALID', SIZE_HINT);
  }
  const m = SIZE.exec(v.trim());
  const unit = UNITS[(m?.[2] ?? 'b').toLowerCase()];
  if (!m || unit === undefined) throw new GatewayError('GW_CONFIG_INVALID', SIZE_HINT);
  const bytes = Number(m[1]) * unit;
  if (!Number.isSafeInteger(bytes)) throw new GatewayError('GW_CONFIG_INVALID', `${SIZE_HINT} (whole bytes)`);
  return bytes;
}
