/**
 * MessageRelay: forwards a stream of typed Postgres messages (type byte +
 * int32 length, Protocol §55.7 "Message Formats") chunk by chunk while letting
 * the caller inspect, replace or drop selected messages.
 *
 * The disposition of each message is chosen when its 5-byte header is
 * complete, before any of its bytes are forwarded:
 *   - 'pass': bytes are forwarded as they arrive and never buffered, so a
 *     large DataRow costs no copy and no memory (principle 3);
 *   - 'hold': the whole message is collected (bounded by `maxHeldBytes`) and
 *     handed to `message()`, whose return value is forwarded in its place
 *     (the frame itself, a replacement, or null to drop it).
 * In the common case every message of a chunk is passed or returned as is,
 * and `feed` returns the chunk itself: one write, zero copies.
 */
import { GatewayError } from '../../shared/errors.ts';

export type Disposition = 'pass' | 'hold';

export interface RelayHooks {
  disposition(type: number): Disposition;
  /** A held message, header included. Return the bytes to forward, or null to drop it. */
  message(type: number, frame: Buffer): Buffer | null;
}

const HEADER = 5;

/** Appends a non-empty segment. A function of the module, not a closure per feed: one call target, so optimised code stays optimised. */
function emit(out: Buffer[], b: Buffer): void {
  if (b.length > 0) out.push(b);
}

export class MessageRelay {
  readonly #maxHeld: number;
  readonly #header = Buffer.alloc(HEADER);
  #headerLen = 0;
  /** Body bytes of the current message still to come; -1 when between messages. */
  #remaining = -1;
  #mode: Disposition = 'pass';
  #type = 0;
  /** Parts of a held message that began in an earlier chunk. */
  #held: Buffer[] = [];
  #heldLen = 0;

  constructor(opts: { maxHeldBytes: number }) {
    this.#maxHeld = opts.maxHeldBytes;
  }

  /** True when no partial message is buffered or in flight. */
  get atBoundary(): boolean {
    return this.#remaining === -1 && this.#headerLen === 0;
  }

  /**
   * Processes one chunk and returns the segments to forward, in order.
   * Throws GatewayError (GW_FRAME_MALFORMED, GW_FRAME_TOO_LARGE).
   */
  feed(chunk: Buffer, hooks: RelayHooks): Buffer[] {
    const out: Buffer[] = [];
    // [runStart, pos) is a run of this chunk's bytes to forward untouched.
    let runStart = 0;
    let pos = 0;
    // Start (in this chunk) of the held message being collected, or -1 when it began earlier.
    let holdStart = -1;
    while (pos < chunk.length) {
      if (this.#remaining === -1) {
        const headerStart = pos;
        const take = Math.min(HEADER - this.#headerLen, chunk.length - pos);
        const whole = this.#headerLen === 0 && take === HEADER;
        if (!whole) {
          // A header split across chunks: hold its bytes back until it is complete.
          emit(out, chunk.subarray(runStart, pos));
          chunk.copy(this.#header, this.#headerLen, pos, pos + take);
          this.#headerLen += take;
          pos += take;
          runStart = pos;
          if (this.#headerLen < HEADER) break;
        } else {
          pos += HEADER;
        }
        // A whole header is read in place: no Buffer per message (principle 3: this runs once per row).
        const hdr = whole ? chunk : Buffer.from(this.#header);
        const h = whole ? headerStart : 0;
        this.#headerLen = 0;
        this.#type = hdr[h]!;
        const len = (hdr[h + 1]! << 24) | (hdr[h + 2]! << 16) | (hdr[h + 3]! << 8) | hdr[h + 4]!;
        if (len < 4) {
          throw new GatewayError('GW_FRAME_MALFORMED', `message type 0x${this.#type.toString(16)} has invalid length ${len}`, {
            clientSafe: true,
          });
        }
        this.#remaining = len - 4;
        this.#mode = hooks.disposition(this.#type);
        if (this.#mode === 'hold') {
          if (len + 1 > this.#maxHeld) {
            throw new GatewayError('GW_FRAME_TOO_LARGE', `message length ${len} exceeds limit ${this.#maxHeld}`, {
              clientSafe: true,
            });
          }
          if (whole) {
            // The run before it stays pending: if the message is forwarded unchanged
            // the chunk remains one segment.
            holdStart = headerStart;
          } else {
            holdStart = -1;
            this.#held = [hdr];
            this.#heldLen = HEADER;
          }
        } else if (!whole) {
          // A passed message whose header was held back: forward the header now.
          out.push(hdr);
        }
      }
      const take = Math.min(this.#remaining, chunk.length - pos);
      pos += take;
      this.#remaining -= take;
      if (this.#mode === 'pass') {
        if (this.#remaining === 0) this.#remaining = -1;
        continue;
      }
      // Hold mode.
      if (this.#remaining > 0) {
        // The chunk ends inside a held message: forward the run before it, keep the rest.
        if (holdStart !== -1) emit(out, chunk.subarray(runStart, holdStart));
        const part = chunk.subarray(holdStart === -1 ? pos - take : holdStart, pos);
        this.#held.push(part);
        this.#heldLen += part.length;
        holdStart = -1;
        runStart = pos;
        break;
      }
      this.#remaining = -1;
      let frame: Buffer;
      if (holdStart !== -1) {
        frame = chunk.subarray(holdStart, pos);
      } else {
        this.#held.push(chunk.subarray(pos - take, pos));
        frame = Buffer.concat(this.#held, this.#heldLen + take);
        this.#held = [];
        this.#heldLen = 0;
      }
      const replacement = hooks.message(this.#type, frame);
      if (replacement !== frame || holdStart === -1) {
        // Replaced, dropped, or assembled from several chunks: cut the run here.
        if (holdStart !== -1 && holdStart > runStart) emit(out, chunk.subarray(runStart, holdStart));
        if (replacement !== null) emit(out, replacement);
        runStart = pos;
      }
      // Otherwise the message is forwarded unchanged as part of the current run.
      holdStart = -1;
    }
    if (this.#remaining === -1 || this.#mode === 'pass') emit(out, chunk.subarray(runStart, pos));
    return out;
  }
}
