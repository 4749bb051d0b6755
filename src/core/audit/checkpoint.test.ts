import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  NoteError,
  checkpointBodyHash,
  cosignNote,
  noteText,
  formatCheckpointBody,
  keyId,
  openCheckpoint,
  openNote,
  parseCheckpointBody,
  parseVerifierKey,
  signCheckpoint,
  signNote,
  verifierKey,
} from './checkpoint.ts';

// The reference example of golang.org/x/mod/sumdb/note (note_test.go), which
// the C2SP signed-note spec follows. Ed25519 is deterministic (RFC 8032), so
// signing the same text with the same key must reproduce the published line.
const VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const SIGNED =
  TEXT + '\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';

function goPrivateKey(skey: string) {
  const material = Buffer.from(skey.split('+').slice(4).join('+'), 'base64');
  assert.equal(material[0], 0x01);
  // PKCS#8 wrapper for a raw Ed25519 seed (RFC 8410).
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), material.subarray(1)]);
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

test('signed-note encoding reproduces the Go reference example byte for byte', () => {
  const priv = goPrivateKey(SKEY);
  const pub = createPublicKey(priv);
  assert.equal(verifierKey('PeterNeumann', pub), VKEY);
  assert.equal(keyId('PeterNeumann', pub).toString('hex'), 'c74f20a3');
  assert.equal(signNote(TEXT, 'PeterNeumann', priv), SIGNED);
  const v = parseVerifierKey(VKEY);
  assert.equal(v.name, 'PeterNeumann');
  assert.equal(openNote(SIGNED, v.name, v.publicKey), TEXT);
  assert.throws(() => openNote(SIGNED.replace('cryptography', 'cryptographY'), v.name, v.publicKey), /invalid signature/);
});

test('a note signed by another key with the same name is named as such', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');
  const note = signNote('a\n', 'log.example/x', other.privateKey);
  assert.throws(() => openNote(note, 'log.example/x', publicKey), /signed with another key/);
  assert.throws(() => openNote(signNote('a\n', 'someone', privateKey), 'log.example/x', publicKey), /no signature by/);
  // A cosignature next to ours does not disturb verification.
  const cosigned = signNote('a\n', 'log.example/x', privateKey) + '\u2014 witness ' + Buffer.alloc(68, 1).toString('base64') + '\n';
  assert.equal(openNote(cosigned, 'log.example/x', publicKey), 'a\n');
});

test('checkpoint body format follows C2SP tlog-checkpoint', () => {
  const root = Buffer.alloc(32, 7);
  const prev = checkpointBodyHash('x\n');
  const body = formatCheckpointBody({ origin: 'gatehouse.local/audit', size: 42, rootHash: root, time: 1764124800, prev });
  assert.equal(
    body,
    `gatehouse.local/audit\n42\n${root.toString('base64')}\ntime 1764124800\nprev ${prev.toString('base64')}\n`,
  );
  const cp = parseCheckpointBody(body);
  assert.equal(cp.size, 42);
  assert.deepEqual(cp.rootHash, root);
  assert.equal(cp.time, 1764124800);
  assert.deepEqual(cp.prev, prev);
  for (const bad of ['o\n01\n' + root.toString('base64') + '\n', 'o\n1\nAAAA\n', 'o\n1\n', 'o\n-1\n' + root.toString('base64') + '\n']) {
    assert.throws(() => parseCheckpointBody(bad), NoteError);
  }
});

test('signCheckpoint / openCheckpoint round trip and reject tampering', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const note = signCheckpoint({ origin: 'gatehouse.local/audit', size: 3, rootHash: Buffer.alloc(32, 1), time: 5 }, privateKey);
  const cp = openCheckpoint(note, 'gatehouse.local/audit', publicKey);
  assert.equal(cp.size, 3);
  assert.equal(cp.prev, undefined);
  assert.throws(() => openCheckpoint(note.replace('\n3\n', '\n4\n'), 'gatehouse.local/audit', publicKey), /invalid signature/);
  assert.throws(() => openCheckpoint(note, 'other.origin', publicKey), NoteError);
  for (let i = 0; i < note.length; i++) {
    const mutated = note.slice(0, i) + String.fromCharCode(note.charCodeAt(i) ^ 1) + note.slice(i + 1);
    assert.throws(() => openCheckpoint(mutated, 'gatehouse.local/audit', publicKey), NoteError, `byte ${i}`);
  }
});

test('a repeated signature line by the log key is refused (the log never writes one)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const note = signNote('a\n', 'log.example/x', privateKey);
  const sigLine = note.slice(note.lastIndexOf('\n\n') + 2);
  assert.throws(() => openNote(note + sigLine, 'log.example/x', publicKey), /repeated signature/);
});

test('a handover checkpoint names both keys in its body and carries both signatures, each verifiable alone', () => {
  const origin = 'log.example/x';
  const a = generateKeyPairSync('ed25519');
  const b = generateKeyPairSync('ed25519');
  const rotation = { from: verifierKey(origin, a.publicKey), to: verifierKey(origin, b.publicKey) };
  const note = cosignNote(signCheckpoint({ origin, size: 5, rootHash: Buffer.alloc(32, 1), time: 7, rotation }, a.privateKey), origin, b.privateKey);
  const lines = note.split('\n');
  assert.equal(lines[4], `key-rotation ${rotation.from} ${rotation.to}`);
  // Two signature lines under the same key name, told apart by key id.
  assert.deepEqual(lines.slice(6, 8).map((l) => Buffer.from(l.split(' ')[2]!, 'base64').subarray(0, 4).toString('hex')), [
    keyId(origin, a.publicKey).toString('hex'),
    keyId(origin, b.publicKey).toString('hex'),
  ]);
  for (const k of [a.publicKey, b.publicKey]) assert.deepEqual(openCheckpoint(note, origin, k).rotation, rotation);
  assert.equal(noteText(note), lines.slice(0, 5).join('\n') + '\n');
  // Malformed rotation lines are refused when read, and a key cannot hand over to itself.
  const body = (ext: string) => `${origin}\n5\n${Buffer.alloc(32, 1).toString('base64')}\n${ext}\n`;
  assert.throws(() => parseCheckpointBody(body(`key-rotation ${rotation.from}`)), /bad key-rotation/);
  assert.throws(() => parseCheckpointBody(body(`key-rotation ${rotation.from} ${rotation.to} x`)), /bad key-rotation/);
  assert.throws(() => parseCheckpointBody(body(`key-rotation ${rotation.from} not-a-key`)), /malformed verifier key/);
  assert.throws(() => parseCheckpointBody(body(`key-rotation ${rotation.from} ${rotation.from}`)), /to itself/);
  assert.throws(() => parseCheckpointBody(body(`key-rotation ${rotation.from} ${rotation.to}\nkey-rotation ${rotation.from} ${rotation.to}`)), /bad key-rotation/);
});
