import { Masker, compileRules } from './src/core/masking/engine.ts';
import { decodeDataRow, encodeDataRow } from './src/wire/postgres/rows.ts';
const rules = compileRules({ columnRules: [
  { pattern: 'bench/public.people.ssn', cls: 'us_ssn' }, { pattern: 'bench/public.people.card', cls: 'payment_card' }, { pattern: 'bench/public.people.iban', cls: 'iban' }],
  strategies: { us_ssn: { kind: 'partial' }, payment_card: { kind: 'token', scope: 'identity' }, iban: { kind: 'redact' } }, defaultStrategy: { kind: 'redact' } });
const m = new Masker(rules, { master: Buffer.alloc(32, 1), identity: 'x', session: 's' });
const names = ['id','name','ssn','card','iban'];
const fields = names.map((n, i) => ({ name: n, tableOid: 100, columnAttr: i + 1, typeOid: i === 0 ? 23 : 25, format: 0 as const }));
const plan = m.planForRow(fields, { connection: 'bench', unmask: new Set(), resolveColumn: (o, a) => `public.people.${names[a-1]}` });
const rows: Buffer[] = [];
for (let g = 1; g <= 200000; g++) rows.push(encodeDataRow([String(g), 'Person ' + g, `${100 + g % 500}-${String(10 + g % 89).padStart(2,'0')}-${1000 + g % 9000}`, '4' + String(g).padStart(15, '0'), 'DE' + String(g % 100).padStart(2, '0') + String(g).padStart(18, '0')].map((s) => Buffer.from(s))));
function run(label: string, f: (b: Buffer) => unknown) {
  for (let k = 0; k < 3; k++) {
    const t = process.hrtime.bigint();
    for (const r of rows) f(r);
    const us = Number(process.hrtime.bigint() - t) / 1e3 / rows.length;
    if (k === 2) console.log(label, us.toFixed(2), 'µs/row');
  }
}
run('decode', (b) => decodeDataRow(b.subarray(5)));
run('decode+mask', (b) => m.maskDataRow(plan, decodeDataRow(b.subarray(5))));
run('decode+mask+encode', (b) => { const r = m.maskDataRow(plan, decodeDataRow(b.subarray(5))); return r.changed ? encodeDataRow(r.values) : b; });
import { partialText, tokenText, deriveScopeKey } from './src/core/masking/strategies.ts';
const key = deriveScopeKey(Buffer.alloc(32, 1), 'identity', 'x');
const IBAN = Buffer.from('****');
function fused(frame: Buffer): Buffer {
  const n = frame.readUInt16BE(5);
  let pos = 7;
  const starts = new Int32Array(n), lens = new Int32Array(n);
  for (let i = 0; i < n; i++) { const len = frame.readInt32BE(pos); pos += 4; starts[i] = pos; lens[i] = len; if (len > 0) pos += len; }
  // id, name: prefilter: count digits
  for (const i of [0, 1]) { let d = 0; for (let j = starts[i]!; j < starts[i]! + lens[i]!; j++) { const c = frame[j]!; if (c >= 48 && c <= 57) d++; } }
  const ssn = partialText(frame.latin1Slice(starts[2]!, starts[2]! + lens[2]!));
  const card = tokenText(key, frame.latin1Slice(starts[3]!, starts[3]! + lens[3]!));
  const size = 4 + 2 + 5 * 4 + lens[0]! + lens[1]! + ssn.length + card.length + 4;
  const out = Buffer.allocUnsafe(1 + size);
  out[0] = 0x44; out.writeInt32BE(size, 1); out.writeUInt16BE(5, 5);
  let o = 7;
  for (const i of [0, 1]) { out.writeInt32BE(lens[i]!, o); o += 4; o += frame.copy(out, o, starts[i]!, starts[i]! + lens[i]!); }
  out.writeInt32BE(ssn.length, o); o += 4; o += out.latin1Write(ssn, o);
  out.writeInt32BE(card.length, o); o += 4; o += out.latin1Write(card, o);
  out.writeInt32BE(4, o); o += 4; o += IBAN.copy(out, o);
  return out;
}
run('fused', fused);
run('token only', (b) => tokenText(key, '4000000000000001'));
