/**
 * HMAC-SHA256 (RFC 2104 over FIPS 180-4) for the `token` strategy's hot path.
 *
 * Why not node:crypto: on Node 20 `createHmac(...).update(...).digest()`
 * costs ~7.5 µs per call, almost all of it fixed per-call overhead (object
 * creation, key setup, the JS↔C++ crossing); tokenising one column of a
 * million-row result spent 7+ seconds there (measured with the masking bench
 * script, see docs/masking.md). Tokens are short (one or two SHA-256 blocks),
 * so this implementation precomputes the inner and outer key states once per
 * key and then runs two to three compressions per value, about 1 µs.
 *
 * It is checked against node:crypto's createHmac on random keys and messages
 * of every length in hmac.test.ts. It is used only for masking tokens, never
 * for authentication (tokens need determinism and keyed one-wayness; timing
 * side channels are irrelevant because the token is sent to the caller anyway).
 */

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
  0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
  0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
  0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
  0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
  0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

const W = new Int32Array(64);

/** One SHA-256 compression of the 64-byte block at `off` into state `h`. */
function compress(h: Int32Array, b: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++) {
    const j = off + i * 4;
    W[i] = (b[j]! << 24) | (b[j + 1]! << 16) | (b[j + 2]! << 8) | b[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15]!;
    const y = W[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = h[0]!, bb = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, hh = h[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = bb;
    bb = a;
    a = (t1 + t2) | 0;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + bb) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
  h[5] = (h[5]! + f) | 0;
  h[6] = (h[6]! + g) | 0;
  h[7] = (h[7]! + hh) | 0;
}

/**
 * Hashes `len` bytes of `msg` (a buffer with room for padding) continuing
 * from `state` after `prefix` bytes; the result goes into `h`. No allocation:
 * this runs once or twice per masked value.
 */
function finish(state: Int32Array, h: Int32Array, msg: Uint8Array, len: number, prefix: number): void {
  h.set(state);
  const padded = Math.ceil((len + 9) / 64) * 64;
  msg.fill(0, len, padded);
  msg[len] = 0x80;
  const bits = (prefix + len) * 8; // < 2^32 for any message we hash
  msg[padded - 4] = bits >>> 24;
  msg[padded - 3] = (bits >>> 16) & 0xff;
  msg[padded - 2] = (bits >>> 8) & 0xff;
  msg[padded - 1] = bits & 0xff;
  for (let off = 0; off < padded; off += 64) compress(h, msg, off);
}

export class HmacSha256 {
  readonly #inner = Int32Array.from(IV);
  readonly #outer = Int32Array.from(IV);
  #scratch = new Uint8Array(256);
  readonly #outerBlock = new Uint8Array(64);
  readonly #ih = new Int32Array(8);
  readonly #oh = new Int32Array(8);

  constructor(key: Uint8Array) {
    if (key.length > 64) throw new Error('HMAC key longer than a block: hash it first'); // our keys are 32-byte derived keys
    const pad = new Uint8Array(64);
    pad.set(key);
    const ipad = pad.map((x) => x ^ 0x36);
    const opad = pad.map((x) => x ^ 0x5c);
    compress(this.#inner, ipad, 0);
    compress(this.#outer, opad, 0);
  }

  /** HMAC of the UTF-8 bytes of `message`; 32 bytes. */
  digest(message: string): Buffer {
    const oh = this.digestWords(message);
    const out = Buffer.allocUnsafe(32);
    for (let i = 0; i < 8; i++) out.writeInt32BE(oh[i]!, i * 4);
    return out;
  }

  /**
   * The same HMAC as eight big-endian 32-bit words, in an array this object
   * reuses (valid until the next call): no allocation on the hot path.
   */
  digestWords(message: string): Int32Array {
    if (message.length > 0x1000000) throw new Error('token input too long'); // keeps the bit length in 32 bits
    const max = message.length * 3 + 72;
    if (this.#scratch.length < max) this.#scratch = new Uint8Array(max * 2);
    const s = this.#scratch;
    let len = 0;
    for (let i = 0; i < message.length; i++) {
      const c = message.charCodeAt(i);
      if (c >= 0x80) {
        len = Buffer.from(s.buffer, s.byteOffset, s.length).write(message, 0, 'utf8'); // rare: let Buffer do full UTF-8
        break;
      }
      s[len++] = c;
    }
    const ih = this.#ih;
    finish(this.#inner, ih, s, len, 64);
    // Outer hash: the 32-byte inner digest plus padding fits one 64-byte block.
    const ob = this.#outerBlock;
    for (let i = 0; i < 8; i++) {
      const v = ih[i]!;
      ob[i * 4] = v >>> 24;
      ob[i * 4 + 1] = (v >>> 16) & 0xff;
      ob[i * 4 + 2] = (v >>> 8) & 0xff;
      ob[i * 4 + 3] = v & 0xff;
    }
    const oh = this.#oh;
    finish(this.#outer, oh, ob, 32, 64);
    return oh;
  }
}
