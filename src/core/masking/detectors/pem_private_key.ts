/**
 * PEM private keys (RFC 7468): `-----BEGIN … PRIVATE KEY-----` through the
 * matching END line (PKCS#1 RSA, SEC1 EC, DSA, PKCS#8, encrypted PKCS#8,
 * OpenSSH). A BEGIN line without its END (a value cut by `substring` or a
 * column limit) masks from BEGIN to the end of the base64 body: a partial key
 * is still secret material.
 */
import type { Detector, Span } from '../types.ts';
import { scan } from './util.ts';

const BLOCK = /-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY)-----(?:[\s\S]*?-----END \1-----|[A-Za-z0-9+/=:,\s-]*)/g;

export const pemPrivateKey: Detector = {
  class: 'private_key',
  hints: { anyOf: ['PRIVATE KEY'] },
  find(text: string): Span[] {
    if (!text.includes('PRIVATE KEY')) return [];
    return scan(text, BLOCK, (m) => ({ start: m.index, end: m.index + m[0].replace(/\s+$/, '').length }));
  },
};
