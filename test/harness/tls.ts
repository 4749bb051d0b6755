// Self-signed certificates for test servers, made with the real `openssl req`.
// EC P-256 rather than RSA: key generation takes milliseconds, which keeps
// cluster start fast. `req -x509` marks the cert CA:TRUE (Debian's v3_ca), so
// a client can use the same file as its root for sslmode=verify-full.

import { join } from 'node:path';
import { runOk } from './run.ts';

export interface SelfSignedCert {
  certFile: string;
  keyFile: string;
}

export async function makeSelfSignedCert(
  dir: string,
  opts: { name?: string; commonName?: string; dnsNames?: string[]; ips?: string[]; days?: number } = {},
): Promise<SelfSignedCert> {
  const name = opts.name ?? 'server';
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  const san = [
    ...(opts.dnsNames ?? ['localhost']).map((d) => `DNS:${d}`),
    ...(opts.ips ?? ['127.0.0.1']).map((ip) => `IP:${ip}`),
  ].join(',');
  await runOk('openssl', [
    'req', '-x509', '-nodes',
    '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-keyout', keyFile, '-out', certFile,
    '-days', String(opts.days ?? 7),
    '-subj', `/CN=${opts.commonName ?? 'localhost'}`,
    '-addext', `subjectAltName=${san}`,
  ], { timeoutMs: 15_000 });
  return { certFile, keyFile };
}
