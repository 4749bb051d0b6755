/**
 * Test-only helpers shared by the *.test.ts files of this folder.
 */
import assert from 'node:assert/strict';
import { GatewayError, type ErrorCode } from '../../shared/errors.ts';
import { FrameReader } from './framer.ts';

export function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof GatewayError, `expected GatewayError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (message) assert.match(e.message, message);
    return true;
  });
}

/** Runs a decoder on bad input: it may parse, or throw a GatewayError with one of `codes`, never anything else. */
export function parsesOrRejects(fn: () => unknown, codes: ErrorCode[] = ['GW_FRAME_MALFORMED']): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof GatewayError) || !codes.includes(e.code)) {
      assert.fail(`decoder crashed instead of rejecting: ${e instanceof Error ? e.stack : String(e)}`);
    }
  }
}

/** Every strict prefix of the payload, through the decoder. */
export function everyPrefix(payload: Buffer, fn: (b: Buffer) => unknown, codes?: ErrorCode[]): void {
  for (let n = 0; n < payload.length; n++) parsesOrRejects(() => fn(payload.subarray(0, n)), codes);
}

/** The payload as a view in the middle of a larger buffer full of other bytes (byteOffset != 0). */
export function embedded(payload: Buffer): Buffer {
  const big = Buffer.concat([Buffer.from('\xff\x00before\x00', 'latin1'), payload, Buffer.from('\x00after\xff', 'latin1')]);
  return big.subarray(9, 9 + payload.length);
}

/** Splits an encoded typed message with the real framer. */
export function frameOf(bytes: Buffer): { type: number; payload: Buffer } {
  const r = new FrameReader({ maxMessageBytes: 1 << 20 });
  r.push(bytes);
  const f = r.next();
  assert.ok(f !== null, 'incomplete message');
  assert.equal(r.bufferedBytes, 0, 'trailing bytes after message');
  return f;
}

/** Splits an encoded startup-phase packet with the real framer. */
export function startupPayloadOf(bytes: Buffer): Buffer {
  const r = new FrameReader({ maxMessageBytes: 1 << 20 });
  r.push(bytes);
  const f = r.nextStartup();
  assert.ok(f !== null, 'incomplete startup packet');
  assert.equal(r.bufferedBytes, 0, 'trailing bytes after packet');
  return f.payload;
}
