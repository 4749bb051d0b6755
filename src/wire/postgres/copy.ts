/**
 * COPY data formats — text, CSV and binary — as carried in CopyData payloads
 * (https://www.postgresql.org/docs/current/sql-copy.html, "File Formats").
 *
 * Why a streaming decoder: the protocol does not promise that a CopyData
 * message holds whole rows. Postgres happens to send one row per message for
 * COPY TO STDOUT (the binary header rides with the first row, the trailer
 * alone), but clients split COPY FROM STDIN data anywhere, and a gateway that
 * assumed row-aligned messages would mis-parse, i.e. fail open. So
 * `CopyRowDecoder` carries a partial row across messages, bounded by
 * `maxRowBytes`. Each item keeps its `raw` bytes so that an unchanged row is
 * re-sent byte for byte.
 *
 * Bytes, not strings: the delimiter, quote and escape are single-byte ASCII
 * and in UTF-8 (and every server encoding) an ASCII byte never occurs inside
 * a multi-byte character, so splitting at the byte level is exact.
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

export type CopyFormat =
  | ({ kind: 'text'; header?: boolean } & CopyTextOptions)
  | ({ kind: 'csv'; header?: boolean } & CopyCsvOptions)
  | { kind: 'binary' };

export type CopyItem =
  /** `header` marks the HEADER line of text/CSV (column names, not data). */
  | { kind: 'row'; fields: (Buffer | null)[]; raw: Buffer; header: boolean }
  /** Binary file header (signature, flags, extension area). */
  | { kind: 'binary-header'; raw: Buffer }
  /** Binary trailer (Int16 -1). */
  | { kind: 'binary-trailer'; raw: Buffer };

const NL = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;

function oneByte(s: string, what: string): number {
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

function textRow(line: Buffer, delim: number, nullMarker: Buffer): (Buffer | null)[] {
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
function isEscaped(b: Buffer, from: number, i: number): boolean {
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

interface CsvBytes {
  delim: number;
  quote: number;
  escape: number;
  nullMarker: Buffer;
}

function csvBytes(o: CopyCsvOptions): CsvBytes {
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
function csvRow(b: Buffer, from: number, c: CsvBytes, final: boolean): { fields: (Buffer | null)[]; end: number } | null {
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

// -------------------------------------------------------------- binary ----

/** `PGCOPY\n\377\r\n\0`. */
export const BINARY_SIGNATURE = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]);

/** The 19-byte header Postgres writes: signature, flags 0, no extension. */
export function encodeCopyBinaryHeader(): Buffer {
  return Buffer.concat([BINARY_SIGNATURE, Buffer.alloc(8)]);
}

export function encodeCopyBinaryTrailer(): Buffer {
  return Buffer.from([0xff, 0xff]);
}

export function encodeCopyBinaryRow(fields: readonly (Buffer | null)[]): Buffer {
  if (fields.length > 0x7fff) throw new GatewayError('GW_INTERNAL', 'COPY binary tuple has too many fields');
  let size = 2;
  for (const f of fields) size += 4 + (f?.length ?? 0);
  const out = Buffer.allocUnsafe(size);
  out.writeInt16BE(fields.length, 0);
  let pos = 2;
  for (const f of fields) {
    out.writeInt32BE(f === null ? -1 : f.length, pos);
    pos += 4;
    if (f !== null) pos += f.copy(out, pos);
  }
  return out;
}

// ------------------------------------------------------------- decoder ----

/**
 * Decodes a stream of CopyData payloads into rows. Feed each payload to
 * `push`; call `end` at CopyDone (it throws if a row is left incomplete).
 */
export class CopyRowDecoder {
  readonly #format: CopyFormat;
  readonly #max: number;
  #pending: Buffer = Buffer.alloc(0);
  #rows = 0;
  #binaryState: 'header' | 'tuples' | 'done' = 'header';
  readonly #text: { delim: number; nullMarker: Buffer } | undefined;
  readonly #csv: CsvBytes | undefined;

  constructor(format: CopyFormat, opts: { maxRowBytes: number }) {
    this.#format = format;
    this.#max = opts.maxRowBytes;
    if (format.kind === 'text') this.#text = { delim: oneByte(format.delimiter ?? '\t', 'delimiter'), nullMarker: Buffer.from(format.null ?? '\\N', 'utf8') };
    if (format.kind === 'csv') this.#csv = csvBytes(format);
  }

  /** Bytes held for an incomplete row. */
  get bufferedBytes(): number {
    return this.#pending.length;
  }

  push(payload: Buffer): CopyItem[] {
    const buf = this.#pending.length === 0 ? payload : Buffer.concat([this.#pending, payload]);
    const items: CopyItem[] = [];
    const used = this.#parse(buf, items, false);
    this.#pending = used === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(used)); // copy: the payload may be reused
    // Bound what a row can make us hold (principle 2).
    if (this.#pending.length > this.#max) {
      throw new GatewayError('GW_FRAME_TOO_LARGE', `COPY row exceeds ${this.#max} bytes`, { clientSafe: true });
    }
    return items;
  }

  /** At CopyDone: the rest must form complete rows (text/CSV may omit the last newline). */
  end(): CopyItem[] {
    const items: CopyItem[] = [];
    const used = this.#parse(this.#pending, items, true);
    if (used !== this.#pending.length) throw malformed('COPY data ends inside a row');
    this.#pending = Buffer.alloc(0);
    return items;
  }

  #parse(buf: Buffer, items: CopyItem[], final: boolean): number {
    switch (this.#format.kind) {
      case 'text':
        return this.#parseText(buf, items, final, this.#format.header === true);
      case 'csv':
        return this.#parseCsv(buf, items, final, this.#format.header === true);
      case 'binary':
        return this.#parseBinary(buf, items);
    }
  }

  #parseText(buf: Buffer, items: CopyItem[], final: boolean, header: boolean): number {
    const t = this.#text!;
    let pos = 0;
    while (pos < buf.length) {
      let nl = buf.indexOf(NL, pos);
      if (nl === -1) {
        if (!final) break;
        nl = buf.length;
      }
      const raw = buf.subarray(pos, Math.min(nl + 1, buf.length));
      let line = buf.subarray(pos, nl);
      if (line.length > 0 && line[line.length - 1] === CR && !isEscaped(line, 0, line.length - 1)) line = line.subarray(0, -1);
      pos = nl + 1;
      // `\.` alone ends the data (sent by old clients in COPY FROM STDIN); keep it as a row-less raw passthrough.
      if (line.length === 2 && line[0] === BACKSLASH && line[1] === 0x2e) {
        items.push({ kind: 'row', fields: [], raw, header: false });
        continue;
      }
      items.push({ kind: 'row', fields: textRow(line, t.delim, t.nullMarker), raw, header: header && this.#rows === 0 });
      this.#rows++;
    }
    return Math.min(pos, buf.length);
  }

  #parseCsv(buf: Buffer, items: CopyItem[], final: boolean, header: boolean): number {
    let pos = 0;
    while (pos < buf.length) {
      const r = csvRow(buf, pos, this.#csv!, final);
      if (r === null) break;
      items.push({ kind: 'row', fields: r.fields, raw: buf.subarray(pos, r.end), header: header && this.#rows === 0 });
      this.#rows++;
      pos = r.end;
    }
    return pos;
  }

  #parseBinary(buf: Buffer, items: CopyItem[]): number {
    let pos = 0;
    if (this.#binaryState === 'header') {
      if (buf.length < 19) {
        if (buf.length > 0 && !BINARY_SIGNATURE.subarray(0, Math.min(buf.length, 11)).equals(buf.subarray(0, Math.min(buf.length, 11)))) {
          throw malformed('COPY binary data has a bad signature');
        }
        return 0;
      }
      if (!buf.subarray(0, 11).equals(BINARY_SIGNATURE)) throw malformed('COPY binary data has a bad signature');
      const flags = buf.readUInt32BE(11);
      // Bit 16 is WITH OIDS (gone since PG 12); other low bits are critical and unknown to us: refuse.
      if ((flags & 0x0000ffff) !== 0 || (flags & 0x10000) !== 0) throw malformed('COPY binary data has unsupported flags');
      const ext = buf.readUInt32BE(15);
      if (ext > this.#max) throw new GatewayError('GW_FRAME_TOO_LARGE', 'COPY binary header extension too large', { clientSafe: true });
      if (buf.length < 19 + ext) return 0;
      items.push({ kind: 'binary-header', raw: buf.subarray(0, 19 + ext) });
      pos = 19 + ext;
      this.#binaryState = 'tuples';
    }
    while (pos < buf.length) {
      if (this.#binaryState === 'done') throw malformed('COPY binary data continues after the trailer');
      if (buf.length - pos < 2) break;
      const count = buf.readInt16BE(pos);
      if (count === -1) {
        items.push({ kind: 'binary-trailer', raw: buf.subarray(pos, pos + 2) });
        pos += 2;
        this.#binaryState = 'done';
        continue;
      }
      if (count < 0) throw malformed('COPY binary tuple has a negative field count');
      let p = pos + 2;
      const fields: (Buffer | null)[] = new Array(count);
      let complete = true;
      for (let i = 0; i < count; i++) {
        if (buf.length - p < 4) {
          complete = false;
          break;
        }
        const len = buf.readInt32BE(p);
        p += 4;
        if (len === -1) {
          fields[i] = null;
          continue;
        }
        if (len < 0) throw malformed('COPY binary field has a negative length');
        if (len > this.#max) throw new GatewayError('GW_FRAME_TOO_LARGE', `COPY row exceeds ${this.#max} bytes`, { clientSafe: true });
        if (buf.length - p < len) {
          complete = false;
          break;
        }
        fields[i] = buf.subarray(p, p + len);
        p += len;
      }
      if (!complete) break;
      items.push({ kind: 'row', fields, raw: buf.subarray(pos, p), header: false });
      pos = p;
    }
    return pos;
  }
}

/** One row in the given format (for re-encoding a masked row). */
export function encodeCopyRow(format: CopyFormat, fields: readonly (Buffer | null)[]): Buffer {
  switch (format.kind) {
    case 'text':
      return encodeCopyTextRow(fields, format);
    case 'csv':
      return encodeCopyCsvRow(fields, format);
    case 'binary':
      return encodeCopyBinaryRow(fields);
  }
}

/** Convenience for whole payloads: every row of one self-contained payload. Throws if a row is cut. */
export function decodeCopyPayload(format: CopyFormat, payload: Buffer, maxRowBytes = 1 << 30): CopyItem[] {
  const d = new CopyRowDecoder(format, { maxRowBytes });
  return [...d.push(payload), ...d.end()];
}
