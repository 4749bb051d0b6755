import crypto from 'node:crypto';
import { tokenText, deriveScopeKey } from './src/core/masking/strategies.ts';
const key = deriveScopeKey(Buffer.alloc(32, 1), 'identity', 'x');
const ipad = Buffer.alloc(64, 0x36), opad = Buffer.alloc(64, 0x5c);
for (let i = 0; i < 32; i++) { ipad[i] ^= key[i]!; opad[i] ^= key[i]!; }
const buf = Buffer.alloc(64 + 256); ipad.copy(buf);
const obuf = Buffer.alloc(96); opad.copy(obuf);
function nativeHmac(s: string): Buffer {
  const n = buf.latin1Write(s, 64);
  const inner = (crypto as any).hash('sha256', buf.subarray(0, 64 + n), 'buffer') as Buffer;
  inner.copy(obuf, 64);
  return (crypto as any).hash('sha256', obuf, 'buffer');
}
console.log(nativeHmac('abc').toString('hex') === crypto.createHmac('sha256', key).update('abc').digest('hex'));
const vals = Array.from({ length: 200000 }, (_, g) => '4' + String(g).padStart(15, '0'));
function cpu(label: string, f: (s: string) => unknown) {
  for (let k = 0; k < 3; k++) { const t = process.cpuUsage(); for (const v of vals) f(v); const u = process.cpuUsage(t); if (k === 2) console.log(label, ((u.user + u.system) / vals.length).toFixed(2), 'µs cpu'); }
}
cpu('js hmac token', (s) => tokenText(key, s));
cpu('native crypto.hash hmac', (s) => nativeHmac(s));
cpu('createHmac', (s) => crypto.createHmac('sha256', key).update(s).digest());
