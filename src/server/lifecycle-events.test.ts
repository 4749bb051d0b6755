// The gateway's own life in the audit log (PCI DSS 10.2.1.6: start and stop
// of audit logging; 10.2.1.2 and NYDFS 500.06: changes to who may do what):
// gateway.started names the version, connections and the exact policy set in
// force; a policy change and a failed one are recorded; gateway.stopped is
// the last entry. Free text (the reload problems) stays in the payload.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseConfig } from '../config/load.ts';
import { startGateway } from './gateway.ts';
import { silentLogger } from '../core/logger.ts';
import { tempDir } from '../infra/audit/test-support.ts';
import { AUDIT_DB_FILE } from '../infra/audit/index.ts';
import { GATEHOUSE_VERSION } from './version.ts';

test('gateway.started, policy.reloaded, policy.reload_failed and gateway.stopped are recorded, in order, and the log verifies', async (t) => {
  const base = tempDir('gh-lifecycle-');
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const policyDir = join(base, 'policy');
  mkdirSync(policyDir);
  writeFileSync(join(policyDir, 'connect.cedar'), '@id("agents-connect")\npermit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"connect", resource);\n');
  const config = parseConfig(
    `listen: { postgres: 127.0.0.1:0, admin: 127.0.0.1:0 }
state: ./state
identity: { dev: true }
log: { level: silent }
policy: { dir: ./policy, watch: false }
connections:
  - name: orders
    protocol: postgres
    upstream: { host: 127.0.0.1, port: 1, database: orders, user: app }
  - name: ledger
    protocol: postgres
    upstream: { host: 127.0.0.1, port: 1, database: ledger, user: app }
`,
    process.env,
  );
  const gw = await startGateway({ config, baseDir: base, log: silentLogger });
  const digest1 = gw.policy!.digest;
  writeFileSync(join(policyDir, 'read.cedar'), '@id("agents-read")\npermit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"sql:read", resource);\n');
  assert.deepEqual(gw.policy!.reload(), { ok: true, version: 2, changed: true });
  writeFileSync(join(policyDir, 'broken.cedar'), 'permit (principal, action, resource) when { this is not cedar };\n');
  assert.equal(gw.policy!.reload().ok, false);
  await gw.stop();

  const db = new Database(join(base, 'state', AUDIT_DB_FILE), { readonly: true });
  const rows = db.prepare('SELECT seq, body FROM envelopes ORDER BY seq').all() as { seq: number; body: string }[];
  db.close();
  const envelopes = rows.map((r) => JSON.parse(r.body) as { type: string; attrs?: Record<string, unknown>; payload?: unknown });
  assert.deepEqual(envelopes.map((e) => e.type), ['gateway.started', 'policy.reloaded', 'policy.reload_failed', 'gateway.stopped']);
  const [started, reloaded, failed, stopped] = envelopes;
  assert.deepEqual(started!.attrs, { version: GATEHOUSE_VERSION, connections: ['orders', 'ledger'], durability: 'full', policyVersion: 1, policyDigest: digest1, policies: 1 });
  assert.match(digest1, /^[0-9a-f]{64}$/);
  assert.equal(reloaded!.attrs!['policyVersion'], 2);
  assert.equal(reloaded!.attrs!['policies'], 2);
  assert.match(String(reloaded!.attrs!['policyDigest']), /^[0-9a-f]{64}$/);
  assert.notEqual(reloaded!.attrs!['policyDigest'], digest1);
  // The failed reload keeps version 2 in force; its problems (file and line) are in the payload, not the envelope.
  assert.deepEqual(failed!.attrs, { policyVersion: 2 });
  assert.ok(failed!.payload, 'the message is a payload');
  assert.ok(!rows[2]!.body.includes('broken.cedar'));
  assert.deepEqual(stopped!.attrs, { reason: 'shutdown', sessionsEnded: 0 });

  const again = await startGateway({ config: parseConfig(`listen: { postgres: 127.0.0.1:0, admin: 127.0.0.1:0 }\nstate: ./state\nidentity: { dev: true }\nlog: { level: silent }\n`, process.env), baseDir: base, log: silentLogger });
  try {
    const events = again.store!.query();
    const failedEvent = events.find((e) => e.type === 'policy.reload_failed') as { message: string } | undefined;
    assert.match(failedEvent?.message ?? '', /broken\.cedar:1/);
    assert.equal(again.store!.verify().ok, true);
    // Without a policy folder, the start names no policy.
    const last = events[events.length - 1] as { type: string; policyVersion?: number };
    assert.equal(last.type, 'gateway.started');
    assert.equal(last.policyVersion, undefined);
  } finally {
    await again.stop();
  }
});
