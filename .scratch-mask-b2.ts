import { Masker } from './src/core/masking/engine.ts';
import { DEFAULT_DETECTORS } from './src/core/masking/detectors/index.ts';
const m = new Masker({ columnRules: [{ pattern: 'c/public.p.ssn', cls: 'us_ssn' }, { pattern: 'c/public.p.card', cls: 'payment_card' }, { pattern: 'c/public.p.email', cls: 'email' }], strategies: { us_ssn: { kind: 'partial' }, payment_card: { kind: 'token', scope: 'session' } }, defaultStrategy: { kind: 'redact' } }, { master: Buffer.alloc(32, 1), identity: 'i', session: 's' });
const names = ['id', 'name', 'ssn', 'card', 'email', 'note'];
const types = [20, 25, 25, 20, 25, 25];
const N = 200_000;
const vals = Array.from({ length: 1000 }, (_, i) => [String(i), `Person ${i}`, `123-45-${String(6000 + i).padStart(4, '0')}`, String(4111111111111111n + BigInt(i)), `user${i}@example.com`, 'some note text here'].map((s) => Buffer.from(s)));
function run(label: string, cols: number[]) {
  const fields = cols.map((c) => ({ name: names[c]!, tableOid: 1, columnAttr: c + 1, typeOid: types[c]!, format: 0 as const }));
  const plan = m.planForRow(fields, { connection: 'c', unmask: new Set(), resolveColumn: (_o, a) => `public.p.${names[a - 1]}` });
  const rows = vals.map((v) => cols.map((c) => v[c]!));
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) m.maskDataRow(plan, rows[i % 1000]!);
  console.log(label.padEnd(20), ((process.cpuUsage(c0).user / 1000) / N * 1000).toFixed(2), 'µs/row');
}
for (let k = 0; k < 2; k++) {
run('id(int8 scan)', [0]); run('name(scan)', [1]); run('note(scan)', [5]); run('ssn(partial)', [2]); run('card(token int8)', [3]); run('email(redact)', [4]);
}
for (const d of DEFAULT_DETECTORS) { const c0 = process.cpuUsage(); for (let i = 0; i < N; i++) d.find('some note text here ' + (i % 10)); console.log(d.class.padEnd(16), ((process.cpuUsage(c0).user / 1000) / N * 1000).toFixed(3)); }
