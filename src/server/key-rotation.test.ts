// `gatehouse audit rotate-key` through the CLI and the composition root:
// refused while a gateway holds the log; hands the state folder's key over
// (the handover checkpoint reaches the anchor folder like any other); the
// gateway then starts with the new key; `audit verify` passes from the new
// or the retired public key, against the anchors too, and an export checks
// offline with the key the auditor had before.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { parseConfig } from '../config/load.ts';
import { startGateway } from './gateway.ts';
import { captureLog } from '../infra/audit/test-receiver.ts';
import { tempDir } from '../infra/audit/test-support.ts';
import { sampleEvents } from '../core/audit/test-support.ts';
import { AUDIT_KEY_FILE, AuditLog, loadOrCreateSigningKey } from '../infra/audit/index.ts';
import { generateKeyPairSync } from 'node:crypto';

const CLI = resolve(import.meta.dirname, '../../bin/gatehouse.js');

test('rotate-key: refused while the gateway runs; hands the key over; the gateway goes on with the new key; the log verifies from either key, with its anchors and offline', async (t) => {
  const base = tempDir('gh-rotate-');
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const env = { ...process.env };
  delete env['GATEHOUSE_AUDIT_KEY'];
  const yaml = `
listen: { postgres: 127.0.0.1:0, admin: 127.0.0.1:0 }
state: ./state
log: { level: silent }
audit:
  checkpointEvery: { entries: 3, interval: 1h }
  anchorDir: ./anchors
`;
  const configFile = join(base, 'gatehouse.yaml');
  writeFileSync(configFile, yaml);
  const config = parseConfig(yaml, env);
  const log = captureLog();
  const cli = (args: string[], e: NodeJS.ProcessEnv = env) => spawnSync(process.execPath, [CLI, ...args, '--config', configFile], { env: e, encoding: 'utf8', timeout: 60_000 });
  const state = join(base, 'state');

  const gw = await startGateway({ config, baseDir: base, env, log });
  for (const e of sampleEvents().slice(0, 5)) await gw.store!.append(e);
  const busy = cli(['audit', 'rotate-key']);
  assert.equal(busy.status, 1, busy.stdout);
  assert.match(busy.stderr, new RegExp(`pid ${process.pid}`));
  await gw.stop();
  const oldPub = join(base, 'old.pub');
  writeFileSync(oldPub, cli(['audit', 'pubkey']).stdout);
  const oldKey = readFileSync(join(state, AUDIT_KEY_FILE), 'utf8');

  const r = cli(['audit', 'rotate-key', '--reason', 'annual rotation']);
  assert.equal(r.status, 0, r.stderr);
  const m = /audit key rotated: key ([0-9a-f]{8}) handed over to key ([0-9a-f]{8}) at checkpoint \d+ \(entries 1\.\.8\), signed by both/.exec(r.stdout);
  assert.ok(m, r.stdout);
  const retired = join(state, `audit-key.retired-${m[1]}.pem`);
  assert.match(r.stdout, new RegExp(`the retired key was moved to ${retired.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.equal(readFileSync(retired, 'utf8'), oldKey);
  assert.equal(statSync(retired).mode & 0o777, 0o600);
  assert.notEqual(readFileSync(join(state, AUDIT_KEY_FILE), 'utf8'), oldKey);
  assert.equal(statSync(join(state, AUDIT_KEY_FILE)).mode & 0o777, 0o600);
  assert.equal(existsSync(join(state, 'audit-key.next.pem')), false);
  // The handover checkpoint was anchored like every other.
  const notes = readdirSync(join(base, 'anchors')).map((f) => readFileSync(join(base, 'anchors', f), 'utf8'));
  assert.equal(notes.filter((n) => n.includes(`\nkey-rotation `)).length, 1);

  // The gateway comes up with the new key from the state folder and goes on.
  const gw2 = await startGateway({ config, baseDir: base, env, log });
  for (const e of sampleEvents().slice(0, 4)) await gw2.store!.append(e);
  await gw2.stop();

  for (const args of [[], ['--pubkey', oldPub], ['--anchors', join(base, 'anchors')]]) {
    const v = cli(['audit', 'verify', ...args]);
    assert.equal(v.status, 0, `${args.join(' ')}: ${v.stderr}`);
    assert.match(v.stdout, /audit log: OK — 14 entries \(seq 1\.\.14\), 6 checkpoints verified/);
  }
  const bundle = join(base, 'bundle');
  assert.equal(cli(['audit', 'export', '--out', bundle]).status, 0);
  const offline = spawnSync(process.execPath, [CLI, 'audit', 'verify-bundle', bundle, '--pubkey', oldPub], { env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(offline.status, 0, offline.stderr);

  // The retired key is refused at start, naming the key to configure.
  const retiredEnv = { ...env, GATEHOUSE_AUDIT_KEY: retired };
  await assert.rejects(startGateway({ config, baseDir: base, env: retiredEnv, log }), new RegExp(`key id ${m[1]}\\) was retired: key handover 1 passed signing to key ${m[2]}; configure that key`));
  // A key from the environment is rotated only to a key the operator gives.
  const noNew = cli(['audit', 'rotate-key'], { ...env, GATEHOUSE_AUDIT_KEY: join(state, AUDIT_KEY_FILE) });
  assert.equal(noNew.status, 2);
  assert.match(noNew.stderr, /pass the new key with --new-key FILE, then point GATEHOUSE_AUDIT_KEY at it/);
});

test('rotate-key that stopped after the handover (key files not swapped yet) is finished by running it again; an unused leftover key is dropped', async (t) => {
  const base = tempDir('gh-rotate-resume-');
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const env = { ...process.env };
  delete env['GATEHOUSE_AUDIT_KEY'];
  const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: base, env, encoding: 'utf8', timeout: 60_000 });
  // A log in the state folder the CLI uses without a config file (./.gatehouse), keyed from audit-key.pem.
  const dir = join(base, '.gatehouse');
  const key = loadOrCreateSigningKey(dir, env);
  const log = AuditLog.open({ stateDir: dir, instance: 'gw', signingKey: key.privateKey, keyName: 'gatehouse.local/audit' });
  for (const e of sampleEvents().slice(0, 3)) await log.append(e);
  // An unused leftover (the crash came before the handover): dropped, and the rotation runs.
  const stale = generateKeyPairSync('ed25519').privateKey;
  writeFileSync(join(dir, 'audit-key.next.pem'), stale.export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600 });
  // The crash came after the handover: simulated by handing over in-process and leaving the files as they were.
  const pending = generateKeyPairSync('ed25519').privateKey;
  log.close();
  const first = cli(['audit', 'rotate-key']);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /audit key rotated: key [0-9a-f]{8} handed over to key [0-9a-f]{8}/);
  assert.notEqual(readFileSync(join(dir, AUDIT_KEY_FILE), 'utf8'), stale.export({ format: 'pem', type: 'pkcs8' }).toString(), 'the stale key was not used');
  // Set aside, never deleted: Gatehouse does not destroy key files.
  const unused = readdirSync(dir).filter((f) => /^audit-key\.unused-[0-9a-f]{8}\.pem$/.test(f));
  assert.equal(unused.length, 1);
  assert.equal(readFileSync(join(dir, unused[0]!), 'utf8'), stale.export({ format: 'pem', type: 'pkcs8' }).toString());
  // A key that cannot take over is refused before any key file is written.
  const same = cli(['audit', 'rotate-key', '--new-key', join(dir, AUDIT_KEY_FILE)]);
  assert.equal(same.status, 2, same.stdout);
  assert.match(same.stderr, /is already the key in force/);
  assert.equal(existsSync(join(dir, 'audit-key.next.pem')), false);
  const inForce = loadOrCreateSigningKey(dir, env);
  const again = AuditLog.open({ stateDir: dir, instance: 'gw', signingKey: inForce.privateKey, keyName: 'gatehouse.local/audit' });
  again.rotateKey(pending);
  again.close();
  writeFileSync(join(dir, 'audit-key.next.pem'), pending.export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600 });
  assert.throws(
    () => AuditLog.open({ stateDir: dir, instance: 'gw', signingKey: inForce.privateKey, keyName: 'gatehouse.local/audit' }),
    /was retired: key handover 2 passed signing to key [0-9a-f]{8}; configure that key \(if 'gatehouse audit rotate-key' stopped half-way, run it again to finish\)/,
  );
  const resumed = cli(['audit', 'rotate-key']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /finished the rotation that had stopped half-way: the log's key was already handed over from key [0-9a-f]{8} to key [0-9a-f]{8}; no new key was made/);
  assert.equal(readFileSync(join(dir, AUDIT_KEY_FILE), 'utf8'), pending.export({ format: 'pem', type: 'pkcs8' }).toString());
  assert.equal(existsSync(join(dir, 'audit-key.next.pem')), false);
  const v = cli(['audit', 'verify']);
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /audit log: OK — 5 entries/);
});
