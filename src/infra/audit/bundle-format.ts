/**
 * File names and the manifest signature of an evidence bundle. The layout is
 * specified in docs/audit.md; keep the two in step.
 */
export const BUNDLE_FORMAT = 'gatehouse-audit-bundle';
export const BUNDLE_VERSION = 1;

export const BUNDLE_FILES = {
  envelopes: 'envelopes.jsonl',
  payloads: 'payloads.jsonl',
  checkpoints: 'checkpoints.jsonl',
  consistency: 'consistency.jsonl',
  retention: 'retention.jsonl',
  start: 'start.json',
  pubkey: 'pubkey.pem',
  vkey: 'vkey.txt',
} as const;

/**
 * Key handovers before the bundle's first checkpoint (keychain.ts), one
 * `{"id","note"}` per line. Bundles written before key rotation existed do
 * not have it; when the manifest lists it, it is checked like the others.
 */
export const KEY_HANDOVERS_FILE = 'key-handovers.jsonl';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_SIG_FILE = 'manifest.sig';

/** First line of the signed manifest note; never a valid checkpoint origin line followed by a decimal size. */
export const MANIFEST_NOTE_HEADER = 'gatehouse-audit-bundle/v1';

/** The text signed (as a C2SP signed note, key name = origin) over manifest.json. */
export function manifestNoteText(origin: string, manifestSha256Hex: string): string {
  return `${MANIFEST_NOTE_HEADER}\n${origin}\nsha256 ${manifestSha256Hex}\n`;
}

export interface BundleManifest {
  readonly format: typeof BUNDLE_FORMAT;
  readonly version: typeof BUNDLE_VERSION;
  readonly origin: string;
  readonly instance: string;
  /** hex signed-note key id of the signing key. */
  readonly keyId: string;
  /** ms since epoch. */
  readonly createdAt: number;
  readonly range: {
    readonly firstSeq: number;
    readonly lastSeq: number;
    /** What was asked for (times in ms, sequence numbers). */
    readonly requested: { readonly from?: number; readonly to?: number; readonly fromSeq?: number; readonly toSeq?: number };
  };
  readonly files: Readonly<Record<string, { readonly sha256: string; readonly bytes: number }>>;
}
