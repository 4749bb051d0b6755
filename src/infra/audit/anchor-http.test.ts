// The HTTP anchor against a real receiver (node:http on a loopback port)
// that keeps every POSTed note as a file, the way docs/audit.md §10 asks a
// receiver to: delivery with valid signatures, retry after an outage, a
// failing or hanging receiver never slowing appends, a bounded queue with
// visible gaps, no secret in any log line, and `verify --anchors` on the
// receiver's copy catching a rewritten history.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { sampleEvents } from '../../core/audit/test-support.ts';
import { openCheckpoint } from '../../core/audit/checkpoint.ts';
import type { GatewayEvent } from '../../core/audit/events.ts';
import type { Logger } from '../../core/logger.ts';
import { Receiver, captureLog } from './test-receiver.ts';
import { AUDIT_DB_FILE, type AuditLog } from './sqlite-log.ts';
import { HttpAnchor } from './anchor-http.ts';
import { anchorCoverage } from './anchor.ts';
import { ORIGIN, openLog, tempDir, testKey } from './test-support.ts';

const PUB = createPublicKey(testKey);
const events = sampleEvents();
const ev = (i: number): GatewayEvent => events[i % events.length]!;
const SECRET = 'Bearer s3cr3t-anchor-token-0f9e8d';

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The log in `dir` verifies against what the receiver kept; then everything is closed. */
async function verifiesAgainstReceiverThenClose(dir: string, recv: Receiver, audit: AuditLog, anchor: HttpAnchor): Promise<void> {
  const ro = openLog(dir, { mode: 'inspect' });
  assert.equal(ro.verify({ anchors: recv.notes() }).ok, true);
  ro.close();
  audit.close();
  await anchor.close();
  await recv.stop();
  recv.cleanup();
}

function anchorFor(r: Receiver, log: Logger, extra: Partial<ConstructorParameters<typeof HttpAnchor>[0]> = {}): HttpAnchor {
  return new HttpAnchor({ url: r.url, headers: { authorization: SECRET }, timeoutMs: 2000, initialBackoffMs: 20, maxBackoffMs: 100, log, ...extra });
}

test('every checkpoint reaches the receiver as its signed note (text/plain, in order, with the header); verify --anchors on its copy passes', async () => {
  const recv = await new Receiver().start();
  const log = captureLog();
  const anchor = anchorFor(recv, log);
  const dir = tempDir();
  const audit = openLog(dir, { onCheckpoint: anchor.onCheckpoint, checkpointEvery: { entries: 3, seconds: 3600 } });
  for (let i = 0; i < 10; i++) await audit.append(ev(i));
  audit.close(); // signs the tail (size 10)
  await anchor.idle();
  const sizes = recv.requests.map((q) => Number(q.headers['x-gatehouse-checkpoint-size']));
  assert.deepEqual(sizes, [3, 6, 9, 10]);
  for (const q of recv.requests) {
    assert.equal(q.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(q.headers['authorization'], SECRET);
    const cp = openCheckpoint(q.body, ORIGIN, PUB); // throws unless the signature verifies
    assert.equal(cp.size, Number(q.headers['x-gatehouse-checkpoint-size']));
  }
  assert.deepEqual(anchor.stats(), { delivered: 4, failedAttempts: 0, skipped: 0, pending: 0, lastDeliveredSize: 10, failingSince: null });
  const ro = openLog(dir, { mode: 'inspect' });
  const r = ro.verify({ anchors: recv.notes() });
  assert.equal(r.ok, true, JSON.stringify(r.firstError));
  assert.deepEqual(anchorCoverage(recv.notes()), { count: 4, newestSize: 10 });
  ro.close();
  await anchor.close();
  await recv.stop();
  recv.cleanup();
});

test('receiver down, then up: appends go on meanwhile, every queued checkpoint arrives after the retry; the outage is logged', async () => {
  const recv = await new Receiver().start();
  const port = recv.port;
  await recv.stop(); // down: connection refused
  const log = captureLog();
  const anchor = anchorFor(recv, log);
  const dir = tempDir();
  const audit = openLog(dir, { onCheckpoint: anchor.onCheckpoint, checkpointEvery: { entries: 2, seconds: 3600 } });
  for (let i = 0; i < 6; i++) await audit.append(ev(i));
  await until(() => anchor.stats().failedAttempts >= 3, 'failed attempts');
  assert.equal(anchor.stats().delivered, 0);
  assert.equal(anchor.stats().pending, 3);
  assert.ok(anchor.stats().failingSince !== null);
  assert.ok(log.has(/could not anchor the checkpoint over HTTP; retrying with backoff.*ECONNREFUSED|ECONNREFUSED.*could not anchor/), log.lines.join('\n'));

  await recv.start(port); // back up on the same address
  for (let i = 6; i < 8; i++) await audit.append(ev(i));
  await until(() => anchor.stats().pending === 0, 'the queue to drain');
  assert.deepEqual(recv.requests.map((q) => Number(q.headers['x-gatehouse-checkpoint-size'])), [2, 4, 6, 8]);
  assert.equal(anchor.stats().failingSince, null);
  assert.ok(log.has(/anchor receiver reachable again/));
  await verifiesAgainstReceiverThenClose(dir, recv, audit, anchor);
});

test('a receiver answering 500 (or not at all) never slows appends; a full queue skips the oldest, says so, and the next delivered checkpoint covers the gap', async () => {
  for (const mode of [500, 'hang'] as const) {
    const recv = await new Receiver().start();
    recv.mode = mode;
    const log = captureLog();
    const anchor = anchorFor(recv, log, { maxQueue: 3, timeoutMs: 300 });
    const dir = tempDir();
    const audit = openLog(dir, { onCheckpoint: anchor.onCheckpoint, checkpointEvery: { entries: 1, seconds: 3600 }, durability: 'normal' });
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) await audit.append(ev(i)); // 50 checkpoints
    const elapsed = performance.now() - t0;
    // Waiting for the receiver would take at least 50 × 300 ms; a loaded 2-core machine still does this well under 5 s.
    assert.ok(elapsed < 5000, `appends took ${elapsed.toFixed(0)} ms with the receiver ${mode}`);
    assert.equal(audit.stats().refused, 0);
    const st = anchor.stats();
    assert.equal(st.delivered, 0);
    assert.ok(st.pending <= 3, `queue bounded, pending ${st.pending}`);
    assert.ok(st.skipped >= 46, `skipped ${st.skipped}`);
    assert.ok(log.has(/anchor queue full: skipping the oldest checkpoint/));

    recv.mode = 'store';
    await until(() => anchor.stats().pending === 0, `the queue to drain after ${mode}: ${JSON.stringify(anchor.stats())} ${recv.requests.length} ${log.lines.slice(-3).join("\n")}`);
    const st2 = anchor.stats();
    assert.equal(st2.lastDeliveredSize, 50, 'the newest checkpoint, covering every entry, was delivered');
    assert.equal(st2.skipped + st2.delivered, 50);
    assert.ok(st2.failedAttempts >= 1);
    assert.ok(log.has(/skipped checkpoints were not anchored over HTTP/), log.lines.join('\n'));
    const gap = log.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['coveredBySize'] !== undefined)!;
    assert.equal(gap['skipped'], st2.skipped);
    assert.ok((gap['fromSize'] as number) <= (gap['toSize'] as number) && (gap['toSize'] as number) < 50);
    // What the receiver got is in increasing order, ending with the newest.
    const got = recv.notes().map((n) => openCheckpoint(n, ORIGIN, PUB).size);
    assert.equal(got.at(-1), 50);
    assert.equal(got.length, st2.delivered);
    await verifiesAgainstReceiverThenClose(dir, recv, audit, anchor);
  }
});

test('header values and the URL query never appear in a log line, whatever fails', async () => {
  const recv = await new Receiver().start();
  recv.mode = 500;
  const log = captureLog();
  const anchor = anchorFor(recv, log, { maxQueue: 1, timeoutMs: 200, logEveryMs: 0, headers: { authorization: SECRET, 'x-api-key': 'key-77aa-secret' } });
  const dir = tempDir();
  const audit = openLog(dir, { onCheckpoint: anchor.onCheckpoint, checkpointEvery: { entries: 1, seconds: 3600 }, durability: 'normal' });
  for (let i = 0; i < 3; i++) await audit.append(ev(i)); // 500s, skips
  await until(() => anchor.stats().failedAttempts >= 3, '500s');
  recv.mode = 'hang'; // timeouts
  await until(() => log.has(/TimeoutError/), 'a timeout');
  await recv.stop(); // refused
  await until(() => log.has(/ECONNREFUSED/), 'a refused connection');
  await audit.append(ev(3));
  await anchor.close(100); // undelivered at shutdown
  audit.close();
  anchor.offer({ size: 99, id: 99, note: 'late' }); // after close
  assert.ok(log.has(/still failing/));
  assert.ok(log.has(/not anchored over HTTP at shutdown/));
  assert.ok(log.has(/the anchor is closed/));
  const all = log.lines.join('\n');
  for (const secret of ['s3cr3t-anchor-token', 'key-77aa-secret', 'query-secret-4b3a', '/anchors']) assert.ok(!all.includes(secret), `'${secret}' leaked into the log`);
  assert.ok(all.includes(`127.0.0.1:${recv.port}`), 'the host is named');
  assert.throws(
    () => new HttpAnchor({ url: 'https://example.com/', headers: { authorization: 'Bearer bad\nvalue-sekrit' }, log }),
    (e: Error) => !e.message.includes('sekrit') && /authorization/.test(e.message),
  );
  // Credentials in the URL are refused without repeating them.
  assert.throws(
    () => new HttpAnchor({ url: 'https://user:pw-9x8y@example.com/a', log }),
    (e: Error) => !e.message.includes('pw-9x8y') && /credentials/.test(e.message),
  );
  recv.cleanup();
});

test('verify against the receiver\'s notes reports a split view when the log is rewritten (and re-signed) after anchoring', async () => {
  const recv = await new Receiver().start();
  const anchor = anchorFor(recv, captureLog());
  const dir = tempDir();
  const audit = openLog(dir, { onCheckpoint: anchor.onCheckpoint, checkpointEvery: { entries: 4, seconds: 3600 } });
  for (let i = 0; i < 8; i++) await audit.append(ev(i));
  audit.close();
  await anchor.idle();
  assert.equal(recv.notes().length, 2);

  // An operator with the signing key rebuilds the history without one event: a perfectly consistent log on its own.
  rmSync(join(dir, AUDIT_DB_FILE));
  rmSync(join(dir, `${AUDIT_DB_FILE}-wal`), { force: true });
  rmSync(join(dir, `${AUDIT_DB_FILE}-shm`), { force: true });
  const forged = openLog(dir, { checkpointEvery: { entries: 4, seconds: 3600 } });
  for (const i of [0, 1, 2, 4, 5, 6, 7, 8]) await forged.append(ev(i)); // event 3 left out
  forged.close();
  const ro = openLog(dir, { mode: 'inspect' });
  assert.equal(ro.verify().ok, true, 'alone, the rewritten log verifies');
  const r = ro.verify({ anchors: recv.notes() });
  assert.equal(r.ok, false);
  assert.match(r.firstError!.problem, /split view: the anchored checkpoint \d+ \(size 4\) does not match the log/);
  ro.close();
  await anchor.close();
  await recv.stop();
  recv.cleanup();
});
