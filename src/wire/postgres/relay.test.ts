import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MessageRelay, type RelayHooks } from './relay.ts';

function msg(type: string, body: Buffer | string): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  const h = Buffer.alloc(5);
  h[0] = type.charCodeAt(0);
  h.writeInt32BE(b.length + 4, 1);
  return Buffer.concat([h, b]);
}

// A realistic backend stream: RowDescription, DataRows, CommandComplete, ReadyForQuery, ErrorResponse.
const stream = Buffer.concat([
  msg('T', Buffer.from('00010069640000000000000000000017000400000000000000000000', 'hex')),
  msg('D', Buffer.from('00010000000131', 'hex')),
  msg('D', Buffer.alloc(300, 7)),
  msg('C', 'SELECT 2\0'),
  msg('Z', 'I'),
  msg('E', 'SERROR\0C42501\0Mdenied\0\0'),
  msg('Z', 'T'),
  msg('I', ''),
]);

function split(buf: Buffer, cuts: number[]): Buffer[] {
  const parts: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    parts.push(buf.subarray(prev, c));
    prev = c;
  }
  parts.push(buf.subarray(prev));
  return parts;
}

function run(parts: Buffer[], hooks: RelayHooks): { out: Buffer; seen: string[] } {
  const relay = new MessageRelay({ maxHeldBytes: 1 << 20 });
  const out: Buffer[] = [];
  for (const p of parts) out.push(...relay.feed(p, hooks));
  assert.ok(relay.atBoundary);
  return { out: Buffer.concat(out), seen: (hooks as { seen?: string[] }).seen ?? [] };
}

function tracking(replaceE: boolean): RelayHooks & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    disposition: (t) => (t === 0x43 || t === 0x5a || t === 0x45 ? 'hold' : 'pass'),
    message(t, frame) {
      seen.push(`${String.fromCharCode(t)}:${frame.subarray(5).toString('latin1')}`);
      if (t === 0x45 && replaceE) return msg('E', 'SERROR\0C42501\0Mreplaced\0\0');
      return frame;
    },
  };
}

test('unchanged stream is forwarded byte for byte at every split point', () => {
  for (let i = 0; i <= stream.length; i++) {
    const hooks = tracking(false);
    const { out, seen } = run(split(stream, [i]), hooks);
    assert.deepEqual(out, stream, `split at ${i}`);
    assert.equal(seen.length, 4); // C, Z, E, Z
  }
});

test('a whole chunk passed unchanged comes back as one zero-copy segment', () => {
  const relay = new MessageRelay({ maxHeldBytes: 1 << 20 });
  const segs = relay.feed(stream, tracking(false));
  assert.equal(segs.length, 1);
  assert.equal(segs[0]!.buffer, stream.buffer);
  assert.equal(segs[0]!.length, stream.length);
});

test('replacing a held message works at every split point', () => {
  const expected = Buffer.concat([
    stream.subarray(0, stream.indexOf(Buffer.from('E'), stream.indexOf(Buffer.from('Z')))),
  ]);
  const eStart = expected.length;
  const eLen = stream.readInt32BE(eStart + 1) + 1;
  const want = Buffer.concat([
    stream.subarray(0, eStart),
    msg('E', 'SERROR\0C42501\0Mreplaced\0\0'),
    stream.subarray(eStart + eLen),
  ]);
  for (let i = 0; i <= stream.length; i++) {
    for (const j of [0, 3, 17, eStart + 2, stream.length - 3]) {
      const { out } = run(split(stream, [i, Math.min(j, stream.length)]), tracking(true));
      assert.deepEqual(out, want, `split at ${i},${j}`);
    }
  }
});

test('random chunking yields the same bytes and the same held messages', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: stream.length }), { maxLength: 12 }), (cuts) => {
      const ref = run([stream], tracking(false));
      const got = run(split(stream, cuts), tracking(false));
      assert.deepEqual(got.out, stream);
      assert.deepEqual(got.seen, ref.seen);
    }),
  );
});

test('dropping a held message removes exactly its bytes', () => {
  const hooks: RelayHooks = {
    disposition: (t) => (t === 0x43 ? 'hold' : 'pass'),
    message: () => null,
  };
  const c = msg('C', 'SELECT 2\0');
  const want = Buffer.concat([stream.subarray(0, stream.indexOf(c)), stream.subarray(stream.indexOf(c) + c.length)]);
  for (let i = 0; i <= stream.length; i++) assert.deepEqual(run(split(stream, [i]), hooks).out, want);
});

test('invalid and oversized lengths are refused, never buffered', () => {
  const relay = new MessageRelay({ maxHeldBytes: 64 });
  const bad = Buffer.from([0x5a, 0, 0, 0, 2]);
  assert.throws(() => relay.feed(bad, tracking(false)), { code: 'GW_FRAME_MALFORMED' });
  const big = Buffer.from([0x45, 0x7f, 0xff, 0xff, 0xff]);
  assert.throws(() => new MessageRelay({ maxHeldBytes: 64 }).feed(big, tracking(false)), { code: 'GW_FRAME_TOO_LARGE' });
  // A huge passed message is streamed, not refused: only its length is tracked.
  const huge = Buffer.from([0x44, 0x00, 0x10, 0x00, 0x04]);
  const r = new MessageRelay({ maxHeldBytes: 64 });
  assert.deepEqual(Buffer.concat(r.feed(huge, tracking(false))), huge);
  assert.equal(r.atBoundary, false);
});
