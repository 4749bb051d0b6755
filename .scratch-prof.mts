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
