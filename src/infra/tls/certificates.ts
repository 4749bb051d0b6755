/**
 * Client-facing TLS material: a configured certificate, or in dev a
 * self-signed one generated once into the state folder with the system's
 * `openssl` (EC P-256; the key file is written with mode 0600).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { GatewayError } from '../../shared/errors.ts';

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
}

export function ensureDevCertificate(stateDir: string): TlsFiles {
  const cert = join(stateDir, 'tls-cert.pem');
  const key = join(stateDir, 'tls-key.pem');
  if (existsSync(cert) && existsSync(key)) return { cert, key };
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
        '-keyout', key, '-out', cert, '-days', '365', '-subj', '/CN=gatehouse-dev',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
      ],
      { stdio: 'pipe', timeout: 20_000 },
    );
  } catch (e) {
    throw new GatewayError(
      'GW_CONFIG_INVALID',
      'could not generate a development TLS certificate with openssl; install openssl (apt-get install openssl) or configure tls.cert and tls.key',
      { clientSafe: true, cause: e },
    );
  }
  chmodSync(key, 0o600);
  return { cert, key };
}

export function loadSecureContext(files: TlsFiles): tls.SecureContext {
  try {
    return tls.createSecureContext({ cert: readFileSync(files.cert), key: readFileSync(files.key), minVersion: 'TLSv1.2' });
  } catch (e) {
    throw new GatewayError('GW_CONFIG_INVALID', `cannot load TLS certificate ${files.cert}: ${(e as Error).message}`, {
      clientSafe: true,
      cause: e,
    });
  }
}
