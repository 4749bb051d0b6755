// Two gateways on one state folder: the second is refused at start with the
// owner named (it would otherwise sign checkpoints of a stale tree into the
// same log); once the first has stopped, it starts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { parseConfig } from '../config/load.ts';
import { startGateway } from './gateway.ts';
import { isGatewayError } from '../shared/errors.ts';
import { silentLogger } from '../core/logger.ts';
import { tempDir } from '../infra/audit/test-support.ts';
import { sampleEvents } from '../core/audit/test-support.ts';

test('a second gateway on the same state folder is refused while the first runs', async (t) => {
  const base = tempDir('gh-state-lock-');
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const config = parseConfig(
    `listen: { postgres: 127.0.0.1:0, admin: 127.0.0.1:0 }
state: ./state
identity: { dev: true }
log: { level: silent }
`,
    process.env,
  );
  const first = await startGateway({ config, baseDir: base, log: silentLogger });
  t.after(() => first.stop());
  await first.store!.append(sampleEvents()[0]!);
  await assert.rejects(
    startGateway({ config, baseDir: base, log: silentLogger }),
    (e: unknown) => isGatewayError(e) && e.code === 'GW_EVENT_STORE_UNAVAILABLE' && new RegExp(`open for writing by another Gatehouse \\(pid ${process.pid} `).test(e.message),
  );
  // The refused start left the first one's log alone.
  await first.store!.append(sampleEvents()[1]!);
  await first.stop();
  const second = await startGateway({ config, baseDir: base, log: silentLogger });
  try {
    // Each gateway's start and stop is in the log (PCI DSS 10.2.1.6), around the first one's two events.
    assert.deepEqual(second.store!.query().map((e) => e.type), ['gateway.started', 'session.opened', 'auth.failed', 'gateway.stopped', 'gateway.started']);
    assert.equal(second.store!.verify().ok, true);
  } finally {
    await second.stop();
  }
});
