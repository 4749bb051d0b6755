import { Masker } from './src/core/masking/engine.ts';
import { decodeDataRow, encodeDataRow } from './src/wire/postgres/rows.ts';
const m = new Masker({ columnRules: [{ pattern: 'c/public.p.ssn', cls: 'us_ssn' }, { pattern: 'c/public.p.card', cls: 'payment_card' }, { pattern: 'c/public.p.email', cls: 'email' }], strategies: { us_ssn: { kind: 'partial' }, payment_card: { kind: 'token', scope: 'session' } }, defaultStrategy: { kind: 'redact' } }, { master: Buffer.alloc(32, 1), identity: 'i', session: 's' });
const names = ['id', 'name', 'ssn', 'card', 'email', 'note'];
const types = [20, 25, 25, 20, 25, 25];
const fields = names.map((n, i) => ({ name: n, tableOid: 1, columnAttr: i + 1, typeOid: types[i]!, format: 0 as const }));
const plan = m.planForRow(fields, { connection: 'c', unmask: new Set(), resolveColumn: (_o, a) => `public.p.${names[a - 1]}` });
const N = 300_000;
const rows = Array.from({ length: 1000 }, (_, i) => encodeDataRow([String(i), `Person ${i}`, `123-45-${String(6000 + i).padStart(4, '0')}`, String(4111111111111111n + BigInt(i)), `user${i}@example.com`, 'some note text here'].map((s) => Buffer.from(s))).subarray(5));
for (let round = 0; round < 2; round++) {
let t = performance.now(); let c0 = process.cpuUsage();
for (let i = 0; i < N; i++) { const v = decodeDataRow(rows[i % 1000]!); encodeDataRow(v); }
const base = (process.cpuUsage(c0).user) / 1000;
t = performance.now(); c0 = process.cpuUsage();
for (let i = 0; i < N; i++) { const v = decodeDataRow(rows[i % 1000]!); const r = m.maskDataRow(plan, v); encodeDataRow(r.values); }
const masked = (process.cpuUsage(c0).user) / 1000;
console.log(`decode+encode: ${(N / base * 1000).toFixed(0)} rows/s; masked: ${(N / masked * 1000).toFixed(0)} rows/s; per row ${(masked / N * 1000).toFixed(2)} µs`);
}
