/**
 * Handing the audit signing key over (keychain.ts) on the live store: the
 * log goes on under the new key, verifies from either key, refuses the
 * retired key at start, and its bundles and proofs check with the key an
 * auditor already holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sampleEvents } from '../../core/audit/test-support.ts';
import { keyId } from '../../core/audit/checkpoint.ts';
import type { GatewayEvent } from '../../core/audit/events.ts';
import { verifyBundle, verifyProof } from './bundle.ts';
import { KEY_HANDOVERS_FILE } from './bundle-format.ts';
import { publicKeyPem } from './keys.ts';
import { ORIGIN, openLog, tempDir, testKey } from './test-support.ts';

const events = sampleEvents();
const ev = (i: number): GatewayEvent => events[i % events.length]!;
const idOf = (k: Parameters<typeof createPublicKey>[0]) => keyId(ORIGIN, createPublicKey(k)).toString('hex');

test('rotateKey: a handover checkpoint signed by both keys; the log goes on under the new key and verifies from either; the retired key is refused at start', async () => {
  const dir = tempDir();
  const next = generateKeyPairSync('ed25519').privateKey;
  const log = openLog(dir, { checkpointEvery: { entries: 4, seconds: 3600 } });
  for (let i = 0; i < 10; i++) await log.append(ev(i));
  const cp = log.rotateKey(next, { justification: 'annual rotation, change CHG-42' });
  assert.equal(cp.size, 11);
  assert.match(cp.note, new RegExp(`\\nkey-rotation ${ORIGIN.replace('/', '\\/')}\\+${idOf(testKey)}\\+\\S+ ${ORIGIN.replace('/', '\\/')}\\+${idOf(next)}\\+\\S+\\n`));
  assert.equal(cp.note.split('\n').filter((l) => l.startsWith('\u2014 ')).length, 2);
  // The rotation is an entry of the log: who handed over to whom, and why (payload).
  const rotated = log.query({ types: ['audit.key_rotated'] });
  assert.equal(rotated.length, 1);
  assert.equal(rotated[0]!.seq, 11);
  assert.match((rotated[0] as { fromKey: string }).fromKey, new RegExp(`\\+${idOf(testKey)}\\+`));
  assert.equal((rotated[0] as { justification?: string }).justification, 'annual rotation, change CHG-42');
  for (let i = 0; i < 6; i++) await log.append(ev(i));
  assert.equal(log.publicKeyPem(), publicKeyPem(next));
  log.close();

  // Re-opened with the new key: continues; with the retired one or a stranger: refused, naming the key to use.
  const again = openLog(dir, { signingKey: next });
  await again.append(ev(0));
  const r = again.verify();
  assert.equal(r.ok, true, JSON.stringify(r.firstError));
  assert.equal(r.checked.entries, 18);
  assert.throws(() => again.rotateKey(testKey), /signed for this log before and was retired/);
  assert.throws(() => again.rotateKey(next), /already the key in force/);
  again.close();
  assert.throws(() => openLog(dir), new RegExp(`configured signing key \\(key id ${idOf(testKey)}\\) was retired: key handover 1 passed signing to key ${idOf(next)}; configure that key`));
  assert.throws(() => openLog(dir, { signingKey: generateKeyPairSync('ed25519').privateKey }), /is not among the log's signing keys/);

  // An auditor holding either key verifies the whole log; a stranger's key verifies nothing.
  for (const trusted of [testKey, next]) {
    const ro = openLog(dir, { mode: 'inspect', signingKey: undefined, publicKey: createPublicKey(trusted) });
    const v = ro.verify();
    ro.close();
    assert.equal(v.ok, true, JSON.stringify(v.firstError));
  }
  const stranger = openLog(dir, { mode: 'inspect', signingKey: undefined, publicKey: createPublicKey(generateKeyPairSync('ed25519').privateKey) });
  assert.equal(stranger.verify().ok, false);
  stranger.close();
});

test('after a rotation, bundles and inclusion proofs verify with the old key or the new one; a slice after the handover carries the handovers before it', async () => {
  const dir = tempDir();
  const k1 = generateKeyPairSync('ed25519').privateKey;
  const k2 = generateKeyPairSync('ed25519').privateKey;
  let log = openLog(dir, { checkpointEvery: { entries: 5, seconds: 3600 } });
  for (let i = 0; i < 12; i++) await log.append(ev(i));
  log.rotateKey(k1);
  log.close();
  log = openLog(dir, { signingKey: k1, checkpointEvery: { entries: 5, seconds: 3600 } });
  for (let i = 0; i < 12; i++) await log.append(ev(i));
  log.rotateKey(k2);
  for (let i = 0; i < 12; i++) await log.append(ev(i));

  const whole = join(tempDir(), 'b');
  log.exportBundle({ outDir: whole });
  const late = join(tempDir(), 'b');
  // Handovers at entries 13 and 26, checkpoints every 5 entries after them: the slice from 33 starts at the checkpoint of 31.
  const summary = log.exportBundle({ outDir: late, fromSeq: 33 });
  assert.equal(summary.firstSeq, 33);
  const proof = JSON.stringify(log.prove(3));
  log.close();
  // The late slice starts after both handovers: they travel in key-handovers.jsonl.
  assert.equal(readFileSync(join(late, KEY_HANDOVERS_FILE), 'utf8').trim().split('\n').length, 2);
  assert.equal(readFileSync(join(whole, KEY_HANDOVERS_FILE), 'utf8'), '');
  for (const trusted of [testKey, k1, k2]) {
    for (const b of [whole, late]) {
      const r = verifyBundle(b, publicKeyPem(trusted));
      assert.equal(r.ok, true, `${b} with key ${idOf(trusted)}: ${JSON.stringify(r.problems)}`);
    }
    const p = verifyProof(proof, publicKeyPem(trusted));
    assert.equal(p.ok, true, p.problem);
  }
  const stranger = publicKeyPem(generateKeyPairSync('ed25519').privateKey);
  assert.equal(verifyBundle(late, stranger).ok, false);
  assert.match(verifyProof(proof, stranger).problem ?? '', /not among the log's signing keys/);
  // Without its handovers the proof only opens with the key in force.
  const bare = { ...JSON.parse(proof), keyHandovers: undefined };
  assert.equal(verifyProof(JSON.stringify(bare), publicKeyPem(k2)).ok, true);
  assert.match(verifyProof(JSON.stringify(bare), publicKeyPem(testKey)).problem ?? '', /another key/);
});
