/**
 * COPY text and CSV row formats (https://www.postgresql.org/docs/current/sql-copy.html,
 * "Text Format" and "CSV Format"; CopyReadAttributesText/CSV and
 * CopyAttributeOutText/CSV in src/backend/commands/copyfromparse.c / copyto.c).
 * The streaming decoder that uses these is in copy.ts.
 */
import { GatewayError } from '../../shared/errors.ts';
import { malformed } from './reader.ts';

export interface CopyTextOptions {
  /** One single-byte character; default tab. */
  delimiter?: string;
  /** The NULL marker as written on the wire; default `\N`. */
  null?: string;
}

export interface CopyCsvOptions {
  /** Default `,`. */
  delimiter?: string;
  /** Default `"`. */
  quote?: string;
  /** Default: the quote character. */
  escape?: string;
  /** An *unquoted* field equal to this is NULL; default empty. */
  null?: string;
}

export const NL = 0x0a;
export const CR = 0x0d;
export const BACKSLASH = 0x5c;

export function oneByte(s: string, what: string): number {
  const b = Buffer.from(s, 'utf8');
  if (b.length !== 1 || b[0]! >= 0x80) throw new GatewayError('GW_INTERNAL', `COPY ${what} must be one ASCII character`);
  return b[0]!;
}

// ---------------------------------------------------------------- text ----

const TEXT_UNESCAPE: Record<number, number> = { 0x62: 0x08, 0x66: 0x0c, 0x6e: NL, 0x72: CR, 0x74: 0x09, 0x76: 0x0b };
const TEXT_ESCAPE: Record<number, number> = { 0x08: 0x62, 0x0c: 0x66, [NL]: 0x6e, [CR]: 0x72, 0x09: 0x74, 0x0b: 0x76, [BACKSLASH]: BACKSLASH };

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** De-escapes one text-format field (CopyReadAttributesText). */
function unescapeText(raw: Buffer): Buffer {
  if (raw.indexOf(BACKSLASH) === -1) return raw;
  const out = Buffer.allocUnsafe(raw.length);
  let o = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== BACKSLASH || i + 1 >= raw.length) {
      out[o++] = c;
      continue;
    }
    const n = raw[++i]!;
    if (n >= 0x30 && n <= 0x37) {
      let v = n - 0x30;
      for (let k = 0; k < 2 && i + 1 < raw.length && raw[i + 1]! >= 0x30 && raw[i + 1]! <= 0x37; k++) v = v * 8 + raw[++i]! - 0x30;
      out[o++] = v & 0xff;
    } else if (n === 0x78 && i + 1 < raw.length && hexVal(raw[i + 1]!) >= 0) {
      let v = hexVal(raw[++i]!);
      if (i + 1 < raw.length && hexVal(raw[i + 1]!) >= 0) v = v * 16 + hexVal(raw[++i]!);
      out[o++] = v;
    } else {
      out[o++] = TEXT_UNESCAPE[n] ?? n; // `\\`, `\.`, and any other char stand for themselves
    }
  }
  return out.subarray(0, o);
}

export function textRow(line: Buffer, delim: number, nullMarker: Buffer): (Buffer | null)[] {
  const fields: (Buffer | null)[] = [];
  let start = 0;
  for (let i = 0; i <= line.length; i++) {
    if (i < line.length && line[i] !== delim) continue;
    // A delimiter is never escaped in the raw line other than as `\<delim>`; skip those.
    if (i < line.length && i > start && isEscaped(line, start, i)) continue;
    const raw = line.subarray(start, i);
    fields.push(raw.equals(nullMarker) ? null : unescapeText(raw));
    start = i + 1;
  }
  return fields;
}

/** True when the byte at `i` is preceded by an odd number of backslashes (since `from`). */
export function isEscaped(b: Buffer, from: number, i: number): boolean {
  let n = 0;
  for (let j = i - 1; j >= from && b[j] === BACKSLASH; j--) n++;
  return n % 2 === 1;
}

/** One text-format row, newline included (CopyAttributeOutText). */
export function encodeCopyTextRow(fields: readonly (Buffer | null)[], opts: CopyTextOptions = {}): Buffer {
  const delim = oneByte(opts.delimiter ?? '\t', 'delimiter');
  const nullMarker = Buffer.from(opts.null ?? '\\N', 'utf8');
  const parts: Buffer[] = [];
  fields.forEach((f, idx) => {
    if (idx > 0) parts.push(Buffer.of(delim));
    if (f === null) return void parts.push(nullMarker);
    const out = Buffer.allocUnsafe(f.length * 2);
    let o = 0;
    for (const c of f) {
      const e = c === delim ? c : TEXT_ESCAPE[c];
      if (e !== undefined) {
        out[o++] = BACKSLASH;
        out[o++] = e;
      } else out[o++] = c;
    }
    parts.push(out.subarray(0, o));
  });
  parts.push(Buffer.of(NL));
  return Buffer.concat(parts);
}

// ----------------------------------------------------------------- CSV ----

export interface CsvBytes {
  delim: number;
  quote: number;
  escape: number;
  nullMarker: Buffer;
}

export function csvBytes(o: CopyCsvOptions): CsvBytes {
  const quote = oneByte(o.quote ?? '"', 'quote');
  return {
    delim: oneByte(o.delimiter ?? ',', 'delimiter'),
    quote,
    escape: o.escape === undefined ? quote : oneByte(o.escape, 'escape'),
    nullMarker: Buffer.from(o.null ?? '', 'utf8'),
  };
}

/**
 * Parses one CSV row starting at `from` (CopyReadAttributesCSV). Returns null
 * when the row is not complete yet (`final`: end of data, so an open quote is
 * an error and a missing final newline ends the row).
 */
export function csvRow(b: Buffer, from: number, c: CsvBytes, final: boolean): { fields: (Buffer | null)[]; end: number } | null {
  const fields: (Buffer | null)[] = [];
  let i = from;
  for (;;) {
    // One field.
    const parts: Buffer[] = [];
    let quoted = false;
    let segStart = i;
    let inQuotes = false;
    for (;;) {
      if (i >= b.length) {
        if (!final) return null;
        if (inQuotes) throw malformed('COPY CSV data has an unterminated quoted field');
        break;
      }
      const ch = b[i]!;
      if (inQuotes) {
        if (ch === c.escape && c.escape !== c.quote && i + 1 < b.length && (b[i + 1] === c.quote || b[i + 1] === c.escape)) {
          parts.push(b.subarray(segStart, i));
          segStart = i + 1;
          i += 2;
        } else if (ch === c.quote) {
          if (i + 1 >= b.length && !final && c.escape === c.quote) return null; // could be a doubled quote
          if (c.escape === c.quote && b[i + 1] === c.quote) {
            parts.push(b.subarray(segStart, i + 1));
            i += 2;
            segStart = i;
          } else {
            parts.push(b.subarray(segStart, i));
            inQuotes = false;
            i += 1;
            segStart = i;
          }
        } else i += 1;
        continue;
      }
      if (ch === c.delim || ch === NL || ch === CR) break;
      if (ch === c.quote) {
        parts.push(b.subarray(segStart, i));
        quoted = true;
        inQuotes = true;
        i += 1;
        segStart = i;
        continue;
      }
      i += 1;
    }
    parts.push(b.subarray(segStart, i));
    const value = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    // Only an unquoted field can be NULL: `""` is an empty string.
    fields.push(!quoted && value.equals(c.nullMarker) ? null : value);
    if (i >= b.length) return { fields, end: i };
    const ch = b[i]!;
    if (ch === c.delim) {
      i += 1;
      continue;
    }
    if (ch === CR) {
      if (i + 1 >= b.length && !final) return null; // \r\n may be split
      return { fields, end: b[i + 1] === NL ? i + 2 : i + 1 };
    }
    return { fields, end: i + 1 };
  }
}

/** One CSV row, newline included (CopyAttributeOutCSV: quote only when needed). */
export function encodeCopyCsvRow(fields: readonly (Buffer | null)[], opts: CopyCsvOptions = {}): Buffer {
  const c = csvBytes(opts);
  const parts: Buffer[] = [];
  fields.forEach((f, idx) => {
    if (idx > 0) parts.push(Buffer.of(c.delim));
    if (f === null) return void parts.push(c.nullMarker);
    const mustQuote =
      f.equals(c.nullMarker) ||
      (fields.length === 1 && f.equals(Buffer.from('\\.'))) ||
      f.some((ch) => ch === c.delim || ch === c.quote || ch === c.escape || ch === NL || ch === CR);
    if (!mustQuote) return void parts.push(f);
    const out = Buffer.allocUnsafe(f.length * 2 + 2);
    let o = 0;
    out[o++] = c.quote;
    for (const ch of f) {
      if (ch === c.quote || ch === c.escape) out[o++] = c.escape;
      out[o++] = ch;
    }
    out[o++] = c.quote;
    parts.push(out.subarray(0, o));
  });
  parts.push(Buffer.of(NL));
  return Buffer.concat(parts);
}
