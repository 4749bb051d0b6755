/**
 * Bounds-checked cursor over one message payload (the body after type and
 * length; https://www.postgresql.org/docs/current/protocol-message-formats.html).
 *
 * Every decoder in this folder reads through a PgReader so that truncated or
 * garbage input surfaces as GW_FRAME_MALFORMED and never as a RangeError from
 * Buffer. All offsets are relative to the Buffer view, so payloads that are
 * subarrays of a larger chunk (the normal case, see framer.ts) are safe.
 */
import { isUtf8 } from 'node:buffer';
import { GatewayError } from '../../shared/errors.ts';

/** A structural error. Messages only name message kinds and numbers, never content, so they are client-safe. */
export function malformed(message: string): GatewayError {
  return new GatewayError('GW_FRAME_MALFORMED', message, { clientSafe: true });
}

export class PgReader {
  readonly #buf: Buffer;
  readonly #what: string;
  readonly #strictUtf8: boolean;
  #pos = 0;

  /**
   * @param what message name used in error messages (e.g. "Bind").
   * @param strictUtf8 reject invalid UTF-8 in strings. Frontend messages are
   *   strict: policy must classify exactly the text the server will run, and a
   *   lossy U+FFFD decode would let the two differ. Backend strings (error
   *   texts, parameter values) are only displayed, and a server whose
   *   client_encoding is not UTF8 may legitimately send other bytes.
   */
  constructor(buf: Buffer, what: string, strictUtf8: boolean) {
    this.#buf = buf;
    this.#what = what;
    this.#strictUtf8 = strictUtf8;
  }

  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  #need(n: number): void {
    if (n > this.#buf.length - this.#pos) throw malformed(`${this.#what} message is truncated`);
  }

  byte(): number {
    this.#need(1);
    return this.#buf[this.#pos++]!;
  }

  int16(): number {
    this.#need(2);
    const v = this.#buf.readInt16BE(this.#pos);
    this.#pos += 2;
    return v;
  }

  /** Counts in Parse/Bind/RowDescription are Int16 on the wire but the server reads them unsigned (up to 65535 parameters). */
  uint16(): number {
    this.#need(2);
    const v = this.#buf.readUInt16BE(this.#pos);
    this.#pos += 2;
    return v;
  }

  int32(): number {
    this.#need(4);
    const v = this.#buf.readInt32BE(this.#pos);
    this.#pos += 4;
    return v;
  }

  /** Type OIDs are unsigned 32-bit. */
  uint32(): number {
    this.#need(4);
    const v = this.#buf.readUInt32BE(this.#pos);
    this.#pos += 4;
    return v;
  }

  /** A NUL-terminated UTF-8 string ("String" in the spec). */
  cstring(): string {
    const end = this.#buf.indexOf(0, this.#pos);
    if (end === -1) throw malformed(`${this.#what} message has an unterminated string`);
    const raw = this.#buf.subarray(this.#pos, end);
    if (this.#strictUtf8 && !isUtf8(raw)) throw malformed(`${this.#what} message has a string that is not valid UTF-8`);
    this.#pos = end + 1;
    // Buffer#toString keeps a leading BOM (unlike TextDecoder's default), so the text is byte-faithful.
    return raw.toString('utf8');
  }

  /** n bytes as a subarray of the payload (no copy). */
  bytes(n: number): Buffer {
    if (n < 0) throw malformed(`${this.#what} message has a negative length`);
    this.#need(n);
    const v = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return v;
  }

  /** The unread rest of the payload (no copy). */
  rest(): Buffer {
    const v = this.#buf.subarray(this.#pos);
    this.#pos = this.#buf.length;
    return v;
  }

  /**
   * Asserts the payload is fully consumed. The server rejects trailing bytes
   * (pq_getmsgend: "invalid message format"); so do we, so that the gateway
   * never interprets a message differently from the server.
   */
  end(): void {
    if (this.#pos !== this.#buf.length) throw malformed(`${this.#what} message has ${this.remaining} trailing bytes`);
  }
}
