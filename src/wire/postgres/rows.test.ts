import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as rows from './rows.ts';
import * as fx from './fixtures.ts';
import { embedded, everyPrefix, frameOf, parsesOrRejects, throwsCode } from './testing.ts';

test('decodeRowDescription: the fixture, and from a view with byteOffset != 0', () => {
  const expected = [
    { name: 'id', tableOid: 16384, columnAttr: 1, typeOid: 23, typeSize: 4, typeMod: -1, format: 0 },
    { name: 'name', tableOid: 16384, columnAttr: 2, typeOid: 25, typeSize: -1, typeMod: -1, format: 0 },
  ];
  assert.deepEqual(rows.decodeRowDescription(fx.rowDescription.payload), expected);
  assert.deepEqual(rows.decodeRowDescription(embedded(fx.rowDescription.payload)), expected);
  // Unsigned OIDs above 2^31 (OIDs wrap into that range on old clusters).
  const big = Buffer.from([...fx.i16(1), ...fx.z('x'), 0xff, 0xff, 0xff, 0xfe, ...fx.i16(0), 0x80, 0, 0, 1, ...fx.i16(-1), ...fx.i32(-1), ...fx.i16(1)]);
  assert.deepEqual(rows.decodeRowDescription(big), [{ name: 'x', tableOid: 0xfffffffe, columnAttr: 0, typeOid: 0x80000001, typeSize: -1, typeMod: -1, format: 1 }]);
  throwsCode(() => rows.decodeRowDescription(Buffer.from([...fx.i16(1), ...fx.z('x'), ...fx.i32(0), ...fx.i16(0), ...fx.i32(25), ...fx.i16(-1), ...fx.i32(-1), ...fx.i16(2)])), 'GW_FRAME_MALFORMED', /format code/);
  everyPrefix(fx.rowDescription.payload, rows.decodeRowDescription);
  for (let n = 0; n < fx.rowDescription.payload.length; n++) throwsCode(() => rows.decodeRowDescription(fx.rowDescription.payload.subarray(0, n)), 'GW_FRAME_MALFORMED');
  throwsCode(() => rows.decodeRowDescription(Buffer.concat([fx.rowDescription.payload, Buffer.of(0)])), 'GW_FRAME_MALFORMED', /trailing/);
});

test('decodeDataRow / encodeDataRow: fixtures, NULLs, round trip, truncation at every offset', () => {
  assert.deepEqual(rows.decodeDataRow(fx.dataRow1.payload), [Buffer.from('1'), null]);
  assert.deepEqual(rows.decodeDataRow(embedded(fx.dataRow2.payload)), [Buffer.from('2'), Buffer.from('bob')]);
  assert.deepEqual(rows.encodeDataRow([Buffer.from('1'), null]), fx.dataRow1.bytes);
  assert.deepEqual(rows.encodeDataRow([Buffer.from('2'), Buffer.from('bob')]), fx.dataRow2.bytes);
  assert.deepEqual(frameOf(rows.encodeDataRow([])).payload, Buffer.from([0, 0]));
  for (const f of [fx.dataRow1, fx.dataRow2]) {
    for (let n = 0; n < f.payload.length; n++) throwsCode(() => rows.decodeDataRow(f.payload.subarray(0, n)), 'GW_FRAME_MALFORMED');
  }
  throwsCode(() => rows.decodeDataRow(Buffer.from([...fx.i16(1), ...fx.i32(-2)])), 'GW_FRAME_MALFORMED', /negative/);
  throwsCode(() => rows.decodeDataRow(Buffer.concat([fx.dataRow1.payload, Buffer.of(1)])), 'GW_FRAME_MALFORMED', /trailing/);
  fc.assert(
    fc.property(fc.array(fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }), { maxLength: 30 }), (vals) => {
      const values = vals.map((v) => (v === null ? null : Buffer.from(v)));
      const frame = frameOf(rows.encodeDataRow(values));
      assert.equal(frame.type, 0x44);
      assert.deepEqual(rows.decodeDataRow(frame.payload), values);
      assert.deepEqual(rows.decodeDataRow(embedded(frame.payload)), values);
    }),
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => parsesOrRejects(() => rows.decodeDataRow(Buffer.from(b)))));
});

test('CopyOutResponse / CopyInResponse / CopyBothResponse', () => {
  const out = Buffer.from([0, ...fx.i16(2), ...fx.i16(0), ...fx.i16(0)]);
  assert.deepEqual(rows.decodeCopyOutResponse(out), { format: 0, columnFormats: [0, 0] });
  assert.deepEqual(rows.decodeCopyInResponse(embedded(Buffer.from([1, ...fx.i16(1), ...fx.i16(1)]))), { format: 1, columnFormats: [1] });
  assert.deepEqual(rows.decodeCopyBothResponse(Buffer.from([0, ...fx.i16(0)])), { format: 0, columnFormats: [] });
  throwsCode(() => rows.decodeCopyOutResponse(Buffer.from([2, ...fx.i16(0)])), 'GW_FRAME_MALFORMED');
  throwsCode(() => rows.decodeCopyOutResponse(Buffer.from([0, ...fx.i16(1), ...fx.i16(3)])), 'GW_FRAME_MALFORMED');
  everyPrefix(out, rows.decodeCopyOutResponse);
  assert.deepEqual(rows.encodeCopyData(Buffer.from('1\tbob\n')), fx.copyData.bytes);
});

// ---- COPY formats ----

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
type Row = (string | null)[];
const asStrings = (items: rows.CopyItem[]): Row[] =>
  items.flatMap((i) => (i.kind === 'row' ? [i.fields.map((f) => (f === null ? null : f.toString('utf8')))] : []));

/** Feeds `stream` split at every pair of offsets (i, j) and checks every split gives `expected`, with raw bytes re-forming the stream. */
function everySplit(format: rows.CopyFormat, stream: Buffer, expected: Row[]): void {
  const cuts: number[][] = [[]];
  for (let i = 1; i < stream.length; i++) {
    cuts.push([i]);
    for (let j = i + 1; j < stream.length; j += 3) cuts.push([i, j]);
  }
  for (const c of cuts) {
    const d = new rows.CopyRowDecoder(format, { maxRowBytes: 1 << 16 });
    const items: rows.CopyItem[] = [];
    let prev = 0;
    for (const at of [...c, stream.length]) {
      items.push(...d.push(stream.subarray(prev, at)));
      prev = at;
    }
    items.push(...d.end());
    assert.deepEqual(asStrings(items), expected, `split at ${c.join(',')}`);
    assert.deepEqual(Buffer.concat(items.map((i) => i.raw)), stream, `raw bytes at split ${c.join(',')}`);
  }
}

test('COPY text: escapes, NULL, custom delimiter and null marker, every split', () => {
  const stream = b('1\tA\\tB\\nC\\\\D\t\\N\n2\t\\101\\x42\\z\t\n');
  const expected: Row[] = [
    ['1', 'A\tB\nC\\D', null],
    ['2', 'ABz', ''],
  ];
  assert.deepEqual(asStrings(rows.decodeCopyPayload({ kind: 'text' }, stream)), expected);
  everySplit({ kind: 'text' }, stream, expected);
  // Escaped delimiter stays in the field.
  assert.deepEqual(asStrings(rows.decodeCopyPayload({ kind: 'text', delimiter: '|', null: 'NULL' }, b('a\\|b|NULL|\\\\|x\r\n'))), [['a|b', null, '\\', 'x']]);
  // Re-encode and decode again.
  for (const r of expected) {
    const fields = r.map((f) => (f === null ? null : b(f)));
    assert.deepEqual(asStrings(rows.decodeCopyPayload({ kind: 'text' }, rows.encodeCopyTextRow(fields))), [r]);
  }
  assert.deepEqual(rows.encodeCopyTextRow([b('a|b'), null], { delimiter: '|', null: 'NULL' }), b('a\\|b|NULL\n'));
  // Header flag.
  const items = rows.decodeCopyPayload({ kind: 'text', header: true }, b('id\tname\n1\tx\n'));
  assert.deepEqual(items.map((i) => i.kind === 'row' && i.header), [true, false]);
});

test('COPY CSV: quotes, doubled quotes, embedded newlines, NULL vs empty, custom quote/escape, every split', () => {
  const stream = b('1,"a,b","say ""hi""",,""\r\n2,"line1\nline2",plain,x,"NULL"\n');
  const expected: Row[] = [
    ['1', 'a,b', 'say "hi"', null, ''],
    ['2', 'line1\nline2', 'plain', 'x', 'NULL'],
  ];
  assert.deepEqual(asStrings(rows.decodeCopyPayload({ kind: 'csv' }, stream)), expected);
  everySplit({ kind: 'csv' }, stream, expected);
  const opts = { delimiter: ';', quote: "'", escape: '\\', null: 'NULL' };
  const custom = b("'it\\'s';NULL;'a;b';'NULL'\n");
  assert.deepEqual(asStrings(rows.decodeCopyPayload({ kind: 'csv', ...opts }, custom)), [["it's", null, 'a;b', 'NULL']]);
  everySplit({ kind: 'csv', ...opts }, custom, [["it's", null, 'a;b', 'NULL']]);
  // Missing final newline is accepted at end().
  assert.deepEqual(asStrings(rows.decodeCopyPayload({ kind: 'csv' }, b('a,b'))), [['a', 'b']]);
  throwsCode(() => rows.decodeCopyPayload({ kind: 'csv' }, b('"open\n')), 'GW_FRAME_MALFORMED');
  fc.assert(
    fc.property(
      fc.array(fc.option(fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r', ';', "'", '\\', 'é', ' ') }), { nil: null }), { minLength: 1, maxLength: 6 }),
      fc.constantFrom<rows.CopyCsvOptions>({}, opts),
      (r, o) => {
        const fields = r.map((f) => (f === null ? null : b(f)));
        assert.deepEqual(asStrings(rows.decodeCopyPayload({ kind: 'csv', ...o }, rows.encodeCopyCsvRow(fields, o))), [r]);
      },
    ),
  );
});

test('COPY text: property round trip', () => {
  fc.assert(
    fc.property(
      fc.array(fc.option(fc.string({ unit: fc.constantFrom('a', '\t', '\\', '\n', '\r', 'N', '|', '\x0b', 'é') }), { nil: null }), { minLength: 1, maxLength: 6 }),
      fc.constantFrom<rows.CopyTextOptions>({}, { delimiter: '|', null: 'NULL' }),
      (r, o) => {
        const fields = r.map((f) => (f === null ? null : b(f)));
        // A value equal to the null marker is indistinguishable in text format (Postgres has the same rule).
        fc.pre(!r.includes(o.null ?? '\\N'));
        assert.deepEqual(asStrings(rows.decodeCopyPayload({ kind: 'text', ...o }, rows.encodeCopyTextRow(fields, o))), [r]);
      },
    ),
  );
});

test('COPY binary: header, tuples, NULL, trailer, every split, bad signature and flags', () => {
  const tuple1 = rows.encodeCopyBinaryRow([Buffer.from([0, 0, 0, 7]), b('bob'), null]);
  const tuple2 = rows.encodeCopyBinaryRow([Buffer.from([0, 0, 0, 8]), b(''), b('x')]);
  // A header with a 3-byte extension area, which readers must skip.
  const header = Buffer.concat([rows.BINARY_SIGNATURE, Buffer.from([0, 0, 0, 0, 0, 0, 0, 3, 9, 9, 9])]);
  const stream = Buffer.concat([header, tuple1, tuple2, rows.encodeCopyBinaryTrailer()]);
  const expected: Row[] = [
    ['\0\0\0\x07', 'bob', null],
    ['\0\0\0\x08', '', 'x'],
  ];
  everySplit({ kind: 'binary' }, stream, expected);
  const items = rows.decodeCopyPayload({ kind: 'binary' }, stream);
  assert.deepEqual(items.map((i) => i.kind), ['binary-header', 'row', 'row', 'binary-trailer']);
  assert.equal(rows.encodeCopyBinaryHeader().length, 19);
  assert.deepEqual(rows.decodeCopyPayload({ kind: 'binary' }, Buffer.concat([rows.encodeCopyBinaryHeader(), rows.encodeCopyBinaryTrailer()])).map((i) => i.kind), ['binary-header', 'binary-trailer']);
  throwsCode(() => rows.decodeCopyPayload({ kind: 'binary' }, b('PGCOPX\n')), 'GW_FRAME_MALFORMED', /signature/);
  const oids = Buffer.concat([rows.BINARY_SIGNATURE, Buffer.from([0, 1, 0, 0, 0, 0, 0, 0])]);
  throwsCode(() => rows.decodeCopyPayload({ kind: 'binary' }, oids), 'GW_FRAME_MALFORMED', /flags/);
  throwsCode(() => rows.decodeCopyPayload({ kind: 'binary' }, stream.subarray(0, stream.length - 3)), 'GW_FRAME_MALFORMED');
  throwsCode(() => rows.decodeCopyPayload({ kind: 'binary' }, Buffer.concat([stream, tuple1])), 'GW_FRAME_MALFORMED', /after the trailer/);
  everyPrefix(stream, (p) => rows.decodeCopyPayload({ kind: 'binary' }, p));
});

test('COPY decoder bounds what an unfinished row can hold', () => {
  const d = new rows.CopyRowDecoder({ kind: 'text' }, { maxRowBytes: 16 });
  assert.deepEqual(d.push(b('0123456789')), []);
  assert.equal(d.bufferedBytes, 10);
  throwsCode(() => d.push(b('0123456789')), 'GW_FRAME_TOO_LARGE');
  const bin = new rows.CopyRowDecoder({ kind: 'binary' }, { maxRowBytes: 16 });
  throwsCode(() => bin.push(Buffer.concat([rows.encodeCopyBinaryHeader(), Buffer.from([0, 1, 0, 0, 1, 0])])), 'GW_FRAME_TOO_LARGE');
});
