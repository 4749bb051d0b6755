import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BackendScanner, FrameReader } from './framer.ts';
import * as fx from './fixtures.ts';
import { throwsCode } from './testing.ts';

const MAX = 1 << 20;

interface Seen {
  type: number | null;
  payload: string | null;
}

const hex = (b: Buffer | null): string | null => (b === null ? null : b.toString('hex'));

const streams: { name: string; fixtures: fx.Fixture[]; startup: number }[] = [
  { name: 'startup + frontend', fixtures: [...fx.startupStream, ...fx.frontendStream], startup: 2 },
  { name: 'cancel', fixtures: [fx.cancelRequest], startup: 1 },
  { name: 'backend', fixtures: fx.backendStream, startup: 0 },
];

/** Feeds the parts, pulling frames after every push, as the adapter does. */
function readAll(parts: Buffer[], startup: number): Seen[] {
  const r = new FrameReader({ maxMessageBytes: MAX });
  const out: Seen[] = [];
  let startupLeft = startup;
  for (const p of parts) {
    r.push(p);
    for (;;) {
      if (startupLeft > 0) {
        const f = r.nextStartup();
        if (f === null) break;
        startupLeft--;
        out.push({ type: null, payload: hex(f.payload) });
      } else {
        const f = r.next();
        if (f === null) break;
        out.push({ type: f.type, payload: hex(f.payload) });
      }
    }
  }
  assert.equal(r.bufferedBytes, 0);
  return out;
}

/** Uncaptured types: DataRow/Describe ('D') and CopyData ('d'), the bulk of real traffic. */
const capture = (type: number): boolean => type !== 0x44 && type !== 0x64;

/** Scans the parts; returns events and checks each `end` against the absolute stream position. */
function scanAll(parts: Buffer[], ends?: number[]): Seen[] {
  const s = new BackendScanner({ maxMessageBytes: MAX, capture });
  const out: Seen[] = [];
  let base = 0;
  for (const p of parts) {
    s.scan(p, (type, payload, end) => {
      out.push({ type, payload: hex(payload) });
      if (ends) assert.equal(base + end, ends[out.length - 1], `end offset of message ${out.length}`);
    });
    base += p.length;
  }
  assert.ok(s.atMessageBoundary);
  return out;
}

function expectedFrames(fixtures: fx.Fixture[]): Seen[] {
  return fixtures.map((f) => ({ type: f.type, payload: hex(f.payload) }));
}

function expectedScan(fixtures: fx.Fixture[]): Seen[] {
  return fixtures.map((f) => ({ type: f.type, payload: capture(f.type!) ? hex(f.payload) : null }));
}

function cumulativeEnds(fixtures: fx.Fixture[]): number[] {
  let pos = 0;
  return fixtures.map((f) => (pos += f.bytes.length));
}

function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const parts: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    parts.push(buf.subarray(prev, c));
    prev = c;
  }
  parts.push(buf.subarray(prev));
  return parts;
}

test('fixtures announce the lengths of their bodies', () => {
  const all = [...fx.startupStream, fx.cancelRequest, ...fx.frontendStream, ...fx.backendStream];
  for (const f of all) {
    const announced = f.type === null ? f.bytes.readInt32BE(0) : f.bytes.readInt32BE(1);
    assert.equal(announced, f.payload.length + 4, f.name);
  }
});

for (const s of streams) {
  const stream = fx.concat(s.fixtures);

  test(`FrameReader: ${s.name} split at every byte offset`, () => {
    const expected = expectedFrames(s.fixtures);
    for (let k = 0; k <= stream.length; k++) assert.deepEqual(readAll(splitAt(stream, [k]), s.startup), expected, `split at ${k}`);
  });

  test(`FrameReader: ${s.name} in random chunks`, () => {
    const expected = expectedFrames(s.fixtures);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 60 }), (cuts) => {
        assert.deepEqual(readAll(splitAt(stream, cuts), s.startup), expected);
      }),
      { numRuns: 300 },
    );
  });

  if (s.startup > 0) continue; // the scanner only understands typed messages

  test(`BackendScanner: ${s.name} split at every byte offset`, () => {
    const expected = expectedScan(s.fixtures);
    const ends = cumulativeEnds(s.fixtures);
    for (let k = 0; k <= stream.length; k++) assert.deepEqual(scanAll(splitAt(stream, [k]), ends), expected, `split at ${k}`);
  });

  test(`BackendScanner: ${s.name} in random chunks`, () => {
    const expected = expectedScan(s.fixtures);
    const ends = cumulativeEnds(s.fixtures);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 60 }), (cuts) => {
        assert.deepEqual(scanAll(splitAt(stream, cuts), ends), expected);
      }),
      { numRuns: 300 },
    );
  });
}

test('typed frontend messages also scan identically (same framing both ways)', () => {
  const stream = fx.concat(fx.frontendStream);
  const expected = expectedScan(fx.frontendStream);
  const ends = cumulativeEnds(fx.frontendStream);
  for (let k = 0; k <= stream.length; k++) assert.deepEqual(scanAll(splitAt(stream, [k]), ends), expected);
});

test('FrameReader returns frames inside one chunk as subarrays of it (no copy)', () => {
  const chunk = fx.concat(fx.backendStream);
  const r = new FrameReader({ maxMessageBytes: MAX });
  r.push(chunk);
  let count = 0;
  for (let f = r.next(); f !== null; f = r.next()) {
    if (f.payload.length > 0) assert.equal(f.payload.buffer, chunk.buffer);
    count++;
  }
  assert.equal(count, fx.backendStream.length);
});

test('FrameReader and BackendScanner respect the byteOffset of pushed chunks', () => {
  const stream = fx.concat(fx.backendStream);
  const big = Buffer.concat([Buffer.from('garbage-before'), stream, Buffer.from('garbage-after')]);
  const chunk = big.subarray(14, 14 + stream.length);
  assert.notEqual(chunk.byteOffset % big.buffer.byteLength, 0);
  assert.deepEqual(readAll([chunk.subarray(0, 7), chunk.subarray(7)], 0), expectedFrames(fx.backendStream));
  assert.deepEqual(scanAll([chunk.subarray(0, 33), chunk.subarray(33)]), expectedScan(fx.backendStream));
});

test('FrameReader rejects an oversized length as soon as the header is readable', () => {
  const r = new FrameReader({ maxMessageBytes: 1048576 });
  r.push(Buffer.from([0x51, 0x06, 0x40]));
  assert.equal(r.next(), null);
  r.push(Buffer.from([0x00, 0x00])); // 'Q' announcing 104857600 bytes, none of them sent
  throwsCode(() => r.next(), 'GW_FRAME_TOO_LARGE', /^message length 104857600 exceeds limit 1048576$/);
});

test('FrameReader accepts exactly the limit', () => {
  const r = new FrameReader({ maxMessageBytes: 10 });
  r.push(Buffer.from([0x64, ...fx.i32(10), 1, 2, 3, 4, 5, 6]));
  assert.equal(r.next()?.payload.length, 6);
  r.push(Buffer.from([0x64, ...fx.i32(11)]));
  throwsCode(() => r.next(), 'GW_FRAME_TOO_LARGE');
});

test('FrameReader rejects undersized and negative lengths', () => {
  for (const len of [3, 0, -1, -2147483648]) {
    const r = new FrameReader({ maxMessageBytes: MAX });
    r.push(Buffer.from([0x51, ...fx.i32(len)]));
    throwsCode(() => r.next(), 'GW_FRAME_MALFORMED');
  }
  const empty = new FrameReader({ maxMessageBytes: MAX });
  empty.push(Buffer.from([0x53, ...fx.i32(4)]));
  assert.deepEqual(empty.next(), { type: 0x53, payload: Buffer.alloc(0) });
});

test('nextStartup enforces minimum length and the startup cap', () => {
  for (const len of [7, 4, 0, -1]) {
    const r = new FrameReader({ maxMessageBytes: MAX });
    r.push(Buffer.from(fx.i32(len)));
    throwsCode(() => r.nextStartup(), 'GW_FRAME_MALFORMED');
  }
  const big = new FrameReader({ maxMessageBytes: MAX });
  big.push(Buffer.from(fx.i32(10_001)));
  throwsCode(() => big.nextStartup(), 'GW_FRAME_TOO_LARGE', /^message length 10001 exceeds limit 10000$/);
  const small = new FrameReader({ maxMessageBytes: 64 });
  small.push(Buffer.from(fx.i32(65)));
  throwsCode(() => small.nextStartup(), 'GW_FRAME_TOO_LARGE', /limit 64$/);
});

test('FrameReader reports incomplete frames as null and counts buffered bytes', () => {
  const r = new FrameReader({ maxMessageBytes: MAX });
  assert.equal(r.next(), null);
  r.push(fx.query.bytes.subarray(0, 4));
  assert.equal(r.next(), null);
  r.push(fx.query.bytes.subarray(4, 10));
  assert.equal(r.next(), null);
  assert.equal(r.bufferedBytes, 10);
  r.push(fx.query.bytes.subarray(10));
  assert.equal(r.next()?.payload.toString(), 'SELECT 1\0');
  assert.equal(r.bufferedBytes, 0);
});

test('FrameReader assembles a large frame from one-byte chunks in linear time', () => {
  const body = Buffer.alloc(200_000, 0x61);
  const frame = Buffer.concat([Buffer.from([0x64, ...fx.i32(body.length + 4)]), body]);
  const r = new FrameReader({ maxMessageBytes: MAX });
  let got: Buffer | undefined;
  for (let i = 0; i < frame.length; i++) {
    r.push(frame.subarray(i, i + 1));
    const f = r.next();
    if (f !== null) got = f.payload;
  }
  assert.ok(got?.equals(body));
});

test('BackendScanner never buffers uncaptured bodies, whatever their size', () => {
  const s = new BackendScanner({ maxMessageBytes: 65536, capture: (t) => t !== 0x44 });
  const size = 5 * 1024 * 1024;
  const events: (Buffer | null)[] = [];
  const onMessage = (_t: number, p: Buffer | null): void => void events.push(p);
  s.scan(Buffer.from([0x44, ...fx.i32(size + 4)]), onMessage);
  const block = Buffer.alloc(65536);
  for (let sent = 0; sent < size; sent += block.length) s.scan(block, onMessage);
  assert.deepEqual(events, [null]);
  assert.ok(s.atMessageBoundary);
});

test('BackendScanner rejects captured messages over the limit and bad lengths', () => {
  const s = new BackendScanner({ maxMessageBytes: 100, capture: (t) => t === 0x45 });
  throwsCode(() => s.scan(Buffer.from([0x45, ...fx.i32(101)]), () => {}), 'GW_FRAME_TOO_LARGE', /message length 101 exceeds limit 100/);
  for (const type of [0x45, 0x44]) {
    const s2 = new BackendScanner({ maxMessageBytes: 100, capture: (t) => t === 0x45 });
    throwsCode(() => s2.scan(Buffer.from([type, ...fx.i32(3)]), () => {}), 'GW_FRAME_MALFORMED');
  }
});

test('BackendScanner hands a captured message inside one chunk as a subarray', () => {
  const chunk = fx.concat(fx.backendStream);
  const s = new BackendScanner({ maxMessageBytes: MAX, capture: () => true });
  let n = 0;
  s.scan(chunk, (_t, p) => {
    if (p !== null && p.length > 0) assert.equal(p.buffer, chunk.buffer);
    n++;
  });
  assert.equal(n, fx.backendStream.length);
});

test('BackendScanner reports a mid-message position', () => {
  const s = new BackendScanner({ maxMessageBytes: MAX, capture: () => false });
  s.scan(fx.readyIdle.bytes.subarray(0, 3), () => assert.fail('incomplete'));
  assert.equal(s.atMessageBoundary, false);
  s.scan(fx.readyIdle.bytes.subarray(3, 5), () => assert.fail('incomplete'));
  assert.equal(s.atMessageBoundary, false);
  let seen = 0;
  s.scan(fx.readyIdle.bytes.subarray(5), () => seen++);
  assert.equal(seen, 1);
  assert.equal(s.atMessageBoundary, true);
});
