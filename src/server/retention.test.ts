// Payload retention through the composition root: a log with old statement
// payloads, a gateway started with audit.retention — the expired payloads
// are gone once start returns, each removal is recorded, the log verifies.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../config/load.ts';
import { startGateway } from './gateway.ts';
import { silentLogger } from '../core/logger.ts';
import { AuditLog, loadOrCreateSigningKey } from '../infra/audit/index.ts';
import { tempDir } from '../infra/audit/test-support.ts';
import { sampleEvents } from '../core/audit/test-support.ts';

test('audit.retention: expired payloads are removed at start, recorded, and the log still verifies', async (t) => {
  const base = tempDir('gh-retention-gw-');
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const state = join(base, 'state');
  const yaml = `listen: { postgres: 127.0.0.1:0, admin: 127.0.0.1:0 }
state: ./state
identity: { dev: true }
log: { level: silent }
audit: { retention: { statement: 1h } }
`;
  const config = parseConfig(yaml, process.env);
  // A log written two days ago by the same gateway (same key and origin).
  const old = AuditLog.open({ stateDir: state, instance: 'gw', signingKey: loadOrCreateSigningKey(state, process.env).privateKey, keyName: config.audit.origin });
  const twoDaysAgo = Date.now() - 2 * 86_400_000;
  for (const e of sampleEvents(twoDaysAgo)) await old.append(e);
  const statementPayloads = old.query({}).filter((e) => 'statement' in e && e.statement !== undefined).length;
  assert.ok(statementPayloads > 0);
  old.close();

  const gw = await startGateway({ config, baseDir: base, log: silentLogger });
  try {
    const runs = gw.store!.query({ types: ['retention.run'] });
    assert.equal(runs.length, 1);
    const r = gw.store!.verify();
    assert.equal(r.ok, true, JSON.stringify(r.firstError));
    assert.ok(r.checked.payloadsExpired >= statementPayloads, `${r.checked.payloadsExpired} expired`);
    assert.equal(r.expired.every((x) => x.class === 'statement' && x.by === runs[0]!.seq), true);
  } finally {
    await gw.stop();
  }
});
