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
import {
  BACKSLASH, CR, NL, csvBytes, csvRow, encodeCopyCsvRow, encodeCopyTextRow, isEscaped, oneByte, textRow,
  type CopyCsvOptions, type CopyTextOptions, type CsvBytes,
} from './copy-text.ts';

export { encodeCopyCsvRow, encodeCopyTextRow, type CopyCsvOptions, type CopyTextOptions } from './copy-text.ts';

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
