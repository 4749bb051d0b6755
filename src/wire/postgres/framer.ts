/**
 * Message framing for the PostgreSQL v3 protocol
 * (https://www.postgresql.org/docs/current/protocol-overview.html#PROTOCOL-MESSAGE-CONCEPTS).
 *
 * Two shapes exist on the wire:
 *   - startup phase (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest):
 *     Int32 length (counting itself) + body, no type byte;
 *   - everything else: Byte1 type + Int32 length (counting itself, not the
 *     type byte) + body.
 *
 * Invariants (ARCHITECTURE.md principles 1 and 2):
 *   - the announced length is checked against the limit as soon as the header
 *     is readable, before any of the body is waited for;
 *   - input chunks are kept in a list and only the bytes of a frame that
 *     straddles chunks are copied (once); a frame inside one chunk is returned
 *     as a subarray of it, so callers must not mutate pushed chunks;
 *   - no sockets, timers or promises: the adapter pushes bytes and pulls frames.
 */
import { GatewayError } from '../../shared/errors.ts';
import { malformed } from './reader.ts';

export interface Frame {
  /** Message type byte, e.g. 0x51 ('Q'). */
  type: number;
  /** Body without type and length. May alias a pushed chunk. */
  payload: Buffer;
}

export interface StartupFrame {
  /** Body after the Int32 length. May alias a pushed chunk. */
  payload: Buffer;
}

/** Postgres caps startup packets at MAX_STARTUP_PACKET_LENGTH (src/include/libpq/pqcomm.h). */
const MAX_STARTUP_PACKET_LENGTH = 10_000;

const EMPTY = Buffer.alloc(0);

export function tooLarge(length: number, limit: number): GatewayError {
  return new GatewayError('GW_FRAME_TOO_LARGE', `message length ${length} exceeds limit ${limit}`, { clientSafe: true });
}

export class FrameReader {
  readonly #max: number;
  readonly #maxStartup: number;
  /** Live chunks are #chunks[#first..]; #offset is the read position inside #chunks[#first]. */
  #chunks: Buffer[] = [];
  #first = 0;
  #offset = 0;
  #buffered = 0;

  /**
   * @param opts.maxMessageBytes largest announced length (which counts the 4
   *   length bytes) accepted for any message.
   * @param opts.maxStartupBytes largest startup-phase packet; defaults to the
   *   server's own 10000-byte cap, and never exceeds maxMessageBytes.
   */
  constructor(opts: { maxMessageBytes: number; maxStartupBytes?: number }) {
    this.#max = opts.maxMessageBytes;
    this.#maxStartup = Math.min(opts.maxStartupBytes ?? MAX_STARTUP_PACKET_LENGTH, opts.maxMessageBytes);
  }

  /** Bytes pushed but not yet returned as frames; the adapter bounds this with backpressure. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** Next startup-phase packet, or null if incomplete. */
  nextStartup(): StartupFrame | null {
    if (this.#buffered < 4) return null;
    const length = this.#peekInt32(0);
    if (length < 8) throw malformed(`startup packet length ${length} is below the minimum of 8`);
    if (length > this.#maxStartup) throw tooLarge(length, this.#maxStartup);
    if (this.#buffered < length) return null;
    this.#skip(4);
    return { payload: this.#take(length - 4) };
  }

  /** Next typed message, or null if incomplete. */
  next(): Frame | null {
    if (this.#buffered < 5) return null;
    const type = this.#peekByte(0);
    const length = this.#peekInt32(1);
    if (length < 4) throw malformed(`message type 0x${type.toString(16)} has invalid length ${length}`);
    if (length > this.#max) throw tooLarge(length, this.#max);
    if (this.#buffered < 1 + length) return null;
    this.#skip(5);
    return { type, payload: this.#take(length - 4) };
  }

  /** Byte at logical position i of the buffered data (caller ensures i < #buffered). */
  #peekByte(i: number): number {
    let idx = this.#first;
    let at = this.#offset + i;
    for (;;) {
      const c = this.#chunks[idx]!;
      if (at < c.length) return c[at]!;
      at -= c.length;
      idx++;
    }
  }

  /** Int32 (signed, so a length with the top bit set reads as negative and is rejected). */
  #peekInt32(i: number): number {
    const c = this.#chunks[this.#first]!;
    const at = this.#offset + i;
    if (at + 4 <= c.length) return c.readInt32BE(at);
    return (this.#peekByte(i) << 24) | (this.#peekByte(i + 1) << 16) | (this.#peekByte(i + 2) << 8) | this.#peekByte(i + 3);
  }

  /** Removes n bytes (n <= #buffered) as one Buffer: a subarray when they lie in one chunk, else one copy. */
  #take(n: number): Buffer {
    const c = this.#chunks[this.#first];
    if (n === 0) return Buffer.alloc(0);
    if (c !== undefined && this.#offset + n <= c.length) {
      const view = c.subarray(this.#offset, this.#offset + n);
      this.#skip(n);
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[this.#first]!;
      const k = Math.min(n - filled, chunk.length - this.#offset);
      chunk.copy(out, filled, this.#offset, this.#offset + k);
      filled += k;
      this.#skip(k);
    }
    return out;
  }

  /** Advances past n buffered bytes, releasing fully consumed chunks. */
  #skip(n: number): void {
    this.#buffered -= n;
    while (n > 0) {
      const c = this.#chunks[this.#first]!;
      const avail = c.length - this.#offset;
      if (n < avail) {
        this.#offset += n;
        return;
      }
      n -= avail;
      this.#chunks[this.#first] = EMPTY; // drop the reference now; frames may still alias it
      this.#first++;
      this.#offset = 0;
    }
    if (this.#buffered === 0) {
      this.#chunks = [];
      this.#first = 0;
      return;
    }
    // Compact the list occasionally: amortised O(1) per chunk, no per-frame shift().
    if (this.#first > 32 && this.#first * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#first);
      this.#first = 0;
    }
  }
}

/**
 * Walks typed-message boundaries of a relayed stream (normally backend →
 * client) without copying it: the adapter forwards each chunk as received and
 * learns from the callbacks where messages end and what the few messages it
 * cares about (ReadyForQuery, ErrorResponse, CommandComplete...) contain.
 *
 * Uncaptured bodies (typically DataRow) are never buffered, only counted, so
 * their size is not limited here: the memory bound is the chunk size. Captured
 * messages are assembled (bounded by maxMessageBytes) and passed whole.
 *
 * Captured payloads may alias the scanned chunks, including chunks of earlier
 * scan() calls held for a message split across chunks: chunks must not be
 * mutated after they are scanned. If scan() throws (bad framing, or from a
 * callback) the stream is unusable and the connection must be closed.
 */
export class BackendScanner {
  readonly #max: number;
  readonly #capture: (type: number) => boolean;
  readonly #header = Buffer.alloc(5);
  #headerLen = 0;
  #inBody = false;
  #type = 0;
  /** Body bytes of the current message still to come. */
  #remaining = 0;
  #capturing = false;
  /** Parts of a captured body that began in an earlier chunk. */
  #parts: Buffer[] = [];
  #partsLen = 0;

  constructor(opts: { maxMessageBytes: number; capture: (type: number) => boolean }) {
    this.#max = opts.maxMessageBytes;
    this.#capture = opts.capture;
  }

  /** True when the scanned bytes end exactly at a message boundary. */
  get atMessageBoundary(): boolean {
    return !this.#inBody && this.#headerLen === 0;
  }

  /**
   * Calls onMessage once per message completed within `chunk`, in order, with
   * the payload if captured (else null) and `end`, the offset in `chunk` just
   * past the message's last byte (lets the adapter split a chunk at a boundary).
   */
  scan(chunk: Buffer, onMessage: (type: number, payload: Buffer | null, end: number) => void): void {
    const n = chunk.length;
    let pos = 0;
    for (;;) {
      if (!this.#inBody) {
        let length: number;
        if (this.#headerLen === 0 && n - pos >= 5) {
          this.#type = chunk[pos]!;
          length = chunk.readInt32BE(pos + 1);
          pos += 5;
        } else {
          // Header split across chunks: collect its 5 bytes first.
          const k = Math.min(5 - this.#headerLen, n - pos);
          chunk.copy(this.#header, this.#headerLen, pos, pos + k);
          this.#headerLen += k;
          pos += k;
          if (this.#headerLen < 5) return;
          this.#headerLen = 0;
          this.#type = this.#header[0]!;
          length = this.#header.readInt32BE(1);
        }
        if (length < 4) throw malformed(`message type 0x${this.#type.toString(16)} has invalid length ${length}`);
        this.#capturing = this.#capture(this.#type);
        if (this.#capturing && length > this.#max) throw tooLarge(length, this.#max);
        this.#remaining = length - 4;
        this.#inBody = true;
      }

      const k = Math.min(this.#remaining, n - pos);
      let payload: Buffer | null = null;
      if (this.#capturing) {
        if (k === this.#remaining && this.#partsLen === 0) {
          payload = chunk.subarray(pos, pos + k); // whole body in this chunk: no copy
        } else if (k > 0) {
          this.#parts.push(chunk.subarray(pos, pos + k));
          this.#partsLen += k;
        }
      }
      pos += k;
      this.#remaining -= k;
      if (this.#remaining > 0) return; // chunk exhausted inside the body

      if (this.#capturing && payload === null) {
        payload = this.#partsLen === 0 ? Buffer.alloc(0) : Buffer.concat(this.#parts, this.#partsLen);
      }
      // Reset before the callback so that the scanner is consistent even if it throws.
      this.#parts = [];
      this.#partsLen = 0;
      this.#inBody = false;
      onMessage(this.#type, payload, pos);
      if (pos === n) return;
    }
  }
}
