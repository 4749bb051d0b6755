/**
 * Builds one Postgres message with a single allocation: fields are recorded
 * with their encoded sizes first, then written into a buffer sized exactly
 * once (type byte + Int32 length + body; startup-phase packets have no type
 * byte; https://www.postgresql.org/docs/current/protocol-message-formats.html).
 *
 * Misuse (NUL inside a string, out-of-range integers) is a programming error
 * in the gateway, not bad input, so it throws GW_INTERNAL: a string containing
 * NUL would otherwise end early on the wire and desynchronise the framing.
 */
import { GatewayError } from '../../shared/errors.ts';

type Field =
  | { kind: 'i8' | 'i16' | 'i32'; value: number }
  | { kind: 'str'; value: string; size: number }
  | { kind: 'bytes'; value: Buffer };

function internal(message: string): GatewayError {
  return new GatewayError('GW_INTERNAL', message);
}

function checkInt(v: number, bits: 8 | 16 | 32): void {
  // Accept both the signed and the unsigned range: wire integers are two's
  // complement, and callers hold e.g. secret keys either way.
  const lo = -(2 ** (bits - 1));
  const hi = 2 ** bits - 1;
  if (!Number.isInteger(v) || v < lo || v > hi) throw internal(`value ${v} does not fit in ${bits} bits`);
}

export class PgWriter {
  readonly #fields: Field[] = [];
  #size = 0;

  int8(v: number): this {
    checkInt(v, 8);
    this.#fields.push({ kind: 'i8', value: v });
    this.#size += 1;
    return this;
  }

  int16(v: number): this {
    checkInt(v, 16);
    this.#fields.push({ kind: 'i16', value: v });
    this.#size += 2;
    return this;
  }

  int32(v: number): this {
    checkInt(v, 32);
    this.#fields.push({ kind: 'i32', value: v });
    this.#size += 4;
    return this;
  }

  /** A UTF-8 string followed by NUL ("String" in the spec). */
  cstring(s: string): this {
    if (s.includes('\0')) throw internal('a protocol string cannot contain a NUL character');
    const size = Buffer.byteLength(s, 'utf8');
    this.#fields.push({ kind: 'str', value: s, size });
    this.#size += size + 1;
    return this;
  }

  bytes(b: Buffer): this {
    this.#fields.push({ kind: 'bytes', value: b });
    this.#size += b.length;
    return this;
  }

  /**
   * Allocates and fills the message. `type` is the message type byte, or null
   * for startup-phase packets (StartupMessage, SSLRequest, CancelRequest).
   */
  finish(type: number | null): Buffer {
    const header = type === null ? 4 : 5;
    const length = this.#size + 4; // the length counts itself but not the type byte
    if (length > 0x7fffffff) throw internal(`message length ${length} does not fit in Int32`);
    const out = Buffer.allocUnsafe(header + this.#size);
    let pos = 0;
    if (type !== null) {
      checkInt(type, 8);
      out[pos++] = type;
    }
    out.writeInt32BE(length, pos);
    pos += 4;
    for (const f of this.#fields) {
      switch (f.kind) {
        case 'i8':
          out[pos++] = f.value & 0xff;
          break;
        case 'i16':
          out.writeInt16BE((f.value << 16) >> 16, pos);
          pos += 2;
          break;
        case 'i32':
          out.writeInt32BE(f.value | 0, pos);
          pos += 4;
          break;
        case 'str':
          pos += out.write(f.value, pos, f.size, 'utf8');
          out[pos++] = 0;
          break;
        case 'bytes':
          pos += f.value.copy(out, pos);
          break;
      }
    }
    // Defensive: allocUnsafe memory must never leave the process partly unwritten.
    if (pos !== out.length) throw internal(`message writer size mismatch (${pos} != ${out.length})`);
    return out;
  }
}

/** A message with an empty body (Sync, Terminate, Flush, CopyDone...). */
export function emptyMessage(type: number): Buffer {
  return new PgWriter().finish(type);
}
