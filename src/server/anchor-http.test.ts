// audit.anchorHttp through the composition root: config (a vault: header and
// a ${ENV} header) → startGateway → checkpoints POSTed to a real loopback
// receiver → the final checkpoint sent at stop → the newest one offered again
// at the next start → `gatehouse audit verify --anchors <receiver's copy>`
// passes, and fails with a split view once the log is rewritten.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { parseConfig } from '../config/load.ts';
import { startGateway } from './gateway.ts';
import { Vault } from '../infra/vault/vault.ts';
import { Receiver, captureLog } from '../infra/audit/test-receiver.ts';
import { tempDir } from '../infra/audit/test-support.ts';
import { sampleEvents } from '../core/audit/test-support.ts';
import { AUDIT_DB_FILE } from '../infra/audit/index.ts';

const CLI = resolve(import.meta.dirname, '../../bin/gatehouse.js');
const TOKEN = 'Bearer vault-held-7c1d';
const API_KEY = 'env-held-91ab';

test('gateway: audit.anchorHttp posts every checkpoint with vault/env headers, re-offers the newest at start, and the CLI verifies against the receiver\'s copy', async (t) => {
  const recv = await new Receiver().start();
  const base = tempDir('gh-anchor-gw-');
  const empty = tempDir('gh-anchor-empty-');
  t.after(async () => {
    await recv.stop();
    recv.cleanup();
    rmSync(base, { recursive: true, force: true });
    rmSync(empty, { recursive: true, force: true });
  });
  const env = { ...process.env, GATEHOUSE_MASTER_KEY: randomBytes(32).toString('base64'), ANCHOR_API_KEY: API_KEY };
  Vault.open({ stateDir: join(base, 'state'), allowDevKey: false, env }).set('anchor-token', TOKEN);
  const yaml = `
listen: { postgres: 127.0.0.1:0, admin: 127.0.0.1:0 }
state: ./state
log: { level: silent }
audit:
  checkpointEvery: { entries: 2, interval: 1h }
  anchorHttp:
    url: ${recv.url}
    headers: { Authorization: vault:anchor-token, x-api-key: "\${ANCHOR_API_KEY}" }
    timeout: 2s
`;
  const configFile = join(base, 'gatehouse.yaml');
  writeFileSync(configFile, yaml);
  const config = parseConfig(yaml, env);
  const log = captureLog();

  const gw = await startGateway({ config, baseDir: base, env, log });
  // Entry 1 is gateway.started; five events make 2..6 (checkpoints at 2, 4, 6); gateway.stopped is 7.
  for (const e of sampleEvents().slice(0, 5)) await gw.store!.append(e);
  await gw.stop(); // signs 7 and sends it before returning
  assert.deepEqual(recv.requests.map((q) => q.headers['x-gatehouse-checkpoint-size']), ['2', '4', '6', '7']);
  for (const q of recv.requests) {
    assert.equal(q.headers['authorization'], TOKEN);
    assert.equal(q.headers['x-api-key'], API_KEY);
  }

  // The in-memory queue does not survive a restart: the newest checkpoint is offered again (same bytes).
  const gw2 = await startGateway({ config, baseDir: base, env, log });
  await gw2.stop();
  // Then its own start and stop (8, 9) end in checkpoint 9.
  assert.deepEqual(recv.requests.map((q) => q.headers['x-gatehouse-checkpoint-size']), ['2', '4', '6', '7', '7', '9']);
  assert.equal(recv.requests[4]!.body, recv.requests[3]!.body);
  const all = log.lines.join('\n');
  for (const secret of ['vault-held-7c1d', API_KEY, 'query-secret-4b3a']) assert.ok(!all.includes(secret), `'${secret}' leaked into the log`);

  // The auditor points --anchors at a copy of what the receiver kept.
  const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', timeout: 60_000 });
  const ok = cli(['audit', 'verify', '--config', configFile, '--anchors', recv.dir]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /anchors: 5 anchored checkpoints from .* compared; the newest covers entries 1\.\.9/);
  assert.match(ok.stdout, /audit log: OK/);

  // Offline, with only an export, the public key and the receiver's copy: the bundle's checkpoints agree with it.
  const pub = join(base, 'audit.pub');
  writeFileSync(pub, cli(['audit', 'pubkey', '--config', configFile]).stdout);
  const honest = join(base, 'bundle-honest');
  assert.equal(cli(['audit', 'export', '--config', configFile, '--out', honest]).status, 0);
  const offline = cli(['audit', 'verify-bundle', honest, '--pubkey', pub, '--anchors', recv.dir]);
  assert.equal(offline.status, 0, offline.stderr);
  assert.match(offline.stdout, /anchors: 5 anchored checkpoints from .*: 5 compared with the bundle, 0 outside the checkpoints it holds/);
  assert.match(offline.stdout, /bundle .*: OK/);

  // Rewrite the history with the same key (one event left out): alone it verifies, against the receiver's copy it does not.
  for (const f of [AUDIT_DB_FILE, `${AUDIT_DB_FILE}-wal`, `${AUDIT_DB_FILE}-shm`]) rmSync(join(base, 'state', f), { force: true });
  const plain = parseConfig(yaml.replace(/ {2}anchorHttp:[\s\S]*$/, ''), env);
  const gw3 = await startGateway({ config: plain, baseDir: base, env, log });
  for (const e of sampleEvents().slice(1, 6)) await gw3.store!.append(e);
  await gw3.stop();
  assert.equal(cli(['audit', 'verify', '--config', configFile]).status, 0);
  const bad = cli(['audit', 'verify', '--config', configFile, '--anchors', recv.dir]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /audit log: FAILED — first bad record: seq 2: split view: the anchored checkpoint \d+ \(size 2\) does not match the log/);
  // The rewritten log's export verifies on its own; against the receiver's copy, offline, it does not.
  const forked = join(base, 'bundle-forked');
  assert.equal(cli(['audit', 'export', '--config', configFile, '--out', forked]).status, 0);
  assert.equal(cli(['audit', 'verify-bundle', forked, '--pubkey', pub]).status, 0);
  const split = cli(['audit', 'verify-bundle', forked, '--pubkey', pub, '--anchors', recv.dir]);
  assert.equal(split.status, 1);
  assert.match(split.stderr, /bundle .*: FAILED — first bad record: seq 2: split view: the anchored checkpoint \d+ \(size 2\) does not match the log/);

  const none = cli(['audit', 'verify', '--config', configFile, '--anchors', empty]);
  assert.match(none.stderr, /no anchored checkpoints \(\*\.note\) in .*: nothing to compare against/);

});
