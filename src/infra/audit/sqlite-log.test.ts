import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { isGatewayError } from '../../shared/errors.ts';
import { sampleEvents } from '../../core/audit/test-support.ts';
import type { GatewayEvent } from '../../core/audit/events.ts';
import { AuditLog, AUDIT_DB_FILE, LAZY_FLUSH_MS } from './sqlite-log.ts';
import { verifyBundle, verifyProof, verifyEvidence } from './bundle.ts';
import { loadOrCreateSigningKey, publicKeyPem } from './keys.ts';
import { ORIGIN, dbOf, openLog, tempDir, testKey } from './test-support.ts';
import { directoryAnchor, readAnchors } from './anchor.ts';
import { WRITER_OWNER_FILE } from './writer-lock.ts';

const PUB = publicKeyPem(testKey);
const events = sampleEvents();
const ev = (i: number): GatewayEvent => events[i % events.length]!;

test('append → durable, contiguous seq; query rebuilds the events; verify passes', async () => {
  const dir = tempDir();
  const log = openLog(dir, { checkpointEvery: { entries: 4, seconds: 3600 } });
  const stored = [];
  for (let i = 0; i < 9; i++) stored.push(await log.append(ev(i)));
  assert.deepEqual(stored.map((s) => s.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // Durable: another connection sees every resolved entry.
  const other = new Database(join(dir, AUDIT_DB_FILE), { readonly: true });
  assert.equal((other.prepare('SELECT count(*) AS n FROM envelopes').get() as { n: number }).n, 9);
  other.close();
  const back = log.query();
  assert.deepEqual(back, events.map((e, i) => ({ ...e, seq: i + 1 })));
  assert.deepEqual(log.query({ sessionId: 's1', types: ['statement.started'] }).map((e) => e.seq), [4]);
  assert.deepEqual(log.query({ afterSeq: 7 }).map((e) => e.seq), [8, 9]);
  assert.deepEqual(log.query({ limit: 2 }).map((e) => e.seq), [1, 2]);
  const r = log.verify();
  assert.equal(r.ok, true, JSON.stringify(r.firstError));
  assert.equal(r.checked.checkpoints, 2);
  assert.equal(r.checked.unsigned, 1);
  log.close();
  const reopened = openLog(dir, { mode: 'inspect' });
  const r2 = reopened.verify();
  assert.equal(r2.ok, true);
  assert.equal(r2.checked.unsigned, 0); // close() signed the tail
  reopened.close();
});

test('group commit: many concurrent appends share a few transactions, all durable, contiguous', async () => {
  const dir = tempDir();
  const log = openLog(dir, { checkpointEvery: { entries: 1000, seconds: 3600 } });
  const n = 5000;
  const results = await Promise.all(Array.from({ length: n }, (_, i) => log.append(ev(i))));
  const seqs = results.map((r) => r.seq).sort((a, b) => a - b);
  assert.deepEqual(seqs, Array.from({ length: n }, (_, i) => i + 1));
  const st = log.stats();
  assert.equal(st.appended, n);
  assert.ok(st.batches <= 3, `expected batching, got ${st.batches} transactions`);
  // Checkpoints are cut at batch boundaries once `entries` is reached.
  assert.ok(st.checkpoints >= 1);
  assert.equal(log.verify().ok, true);
  log.close();
});

test('failure path: a store that cannot be written rejects every append of the batch with GW_EVENT_STORE_UNAVAILABLE, then recovers', async () => {
  const dir = tempDir();
  const log = openLog(dir);
  await log.append(ev(0));
  dbOf(log).pragma('query_only = ON'); // the store refuses writes
  const attempts = await Promise.allSettled([log.append(ev(1)), log.append(ev(2)), log.append(ev(3))]);
  for (const a of attempts) {
    assert.equal(a.status, 'rejected');
    const err = (a as PromiseRejectedResult).reason;
    assert.ok(isGatewayError(err));
    assert.equal(err.code, 'GW_EVENT_STORE_UNAVAILABLE');
    assert.equal(err.clientSafe, true);
    assert.equal(err.message, 'audit log unavailable: statement refused');
  }
  dbOf(log).pragma('query_only = OFF');
  // The tree did not advance for the failed batch: the next entry is 2.
  assert.equal((await log.append(ev(4))).seq, 2);
  assert.equal(log.verify().ok, true);
  // A closed database: refused too.
  dbOf(log).close();
  await assert.rejects(log.append(ev(5)), (e: unknown) => isGatewayError(e) && e.code === 'GW_EVENT_STORE_UNAVAILABLE');
});

test('appends after close() are refused; inspect mode refuses appends', async () => {
  const dir = tempDir();
  const log = openLog(dir);
  await log.append(ev(0));
  log.close();
  await assert.rejects(log.append(ev(1)), (e: unknown) => isGatewayError(e) && e.code === 'GW_EVENT_STORE_UNAVAILABLE');
  const ro = openLog(dir, { mode: 'inspect' });
  await assert.rejects(ro.append(ev(1)), (e: unknown) => isGatewayError(e) && e.code === 'GW_EVENT_STORE_UNAVAILABLE');
  ro.close();
});

test('reopen continues the same tree and checkpoint chain', async () => {
  const dir = tempDir();
  for (let round = 0; round < 3; round++) {
    const log = openLog(dir, { checkpointEvery: { entries: 3, seconds: 3600 } });
    for (let i = 0; i < 5; i++) assert.equal((await log.append(ev(i))).seq, round * 5 + i + 1);
    log.close();
  }
  const log = openLog(dir);
  const r = log.verify();
  assert.equal(r.ok, true, JSON.stringify(r.firstError));
  assert.equal(r.checked.treeSize, 15);
  log.close();
});

test('recovery after kill -9 under load: everything acknowledged is there, the tree continues, verify passes', async () => {
  const dir = tempDir();
  const child = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'crash-child.ts'), dir], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(child.signal, 'SIGKILL', child.stderr);
  const acked = child.stdout.split('\n').filter(Boolean).map(Number);
  assert.ok(acked.length > 100, `child acknowledged only ${acked.length} appends`);
  const log = openLog(dir, { signingKey: loadOrCreateSigningKey(dir, {}).privateKey });
  assert.ok(log.size >= Math.max(...acked), `acknowledged ${Math.max(...acked)} but only ${log.size} survived`);
  const next = await log.append(ev(0));
  assert.equal(next.seq, log.size);
  const r = log.verify();
  assert.equal(r.ok, true, JSON.stringify(r.firstError));
  log.close();
});

test('a log truncated below its last checkpoint refuses to start; inspect + verify names it', async () => {
  const dir = tempDir();
  const log = openLog(dir);
  for (let i = 0; i < 10; i++) await log.append(ev(i));
  log.close();
  const db = new Database(join(dir, AUDIT_DB_FILE));
  db.prepare('DELETE FROM envelopes WHERE seq > 8').run();
  db.prepare('UPDATE tree_state SET size = 8').run();
  db.close();
  assert.throws(() => openLog(dir), (e: unknown) => isGatewayError(e) && e.code === 'GW_EVENT_STORE_UNAVAILABLE' && /truncated/.test(e.message));
  const ro = openLog(dir, { mode: 'inspect' });
  const r = ro.verify();
  assert.equal(r.ok, false);
  assert.equal(r.firstError?.seq, 9);
  assert.match(r.firstError!.problem, /tail truncated/);
  ro.close();
});

test('a checkpoint signed by another key is refused at start and named by verify', async () => {
  const dir = tempDir();
  const log = openLog(dir);
  await log.append(ev(0));
  log.close();
  const other = generateKeyPairSync('ed25519').privateKey;
  assert.throws(() => openLog(dir, { signingKey: other }), /another key/);
});

test('retention removes expired payloads, records the run, and verification reports them as expired', async () => {
  const dir = tempDir();
  const log = openLog(dir, { checkpointEvery: { entries: 5, seconds: 3600 } });
  const t0 = 1_700_000_000_000;
  const old = sampleEvents(t0);
  for (const e of old) await log.append(e);
  for (const e of sampleEvents(t0 + 86_400_000)) await log.append(e);
  const res = log.applyRetention({ statement: 3600 }, t0 + 86_400_000);
  // Old statement payloads: statement.started (4), statement.finished with error (6), statement.denied (7).
  // Entry 5 (statement.finished, ok) has no payload, so one range of the class covers all three.
  assert.deepEqual(res.expiredByClass, { statement: [[4, 7]] });
  assert.equal(res.expired, 3);
  assert.equal(res.events[0]!.type, 'retention.run');
  assert.equal(res.events[0]!.seq, 19);
  const r = log.verify();
  assert.equal(r.ok, true, JSON.stringify(r.firstError));
  assert.equal(r.checked.payloadsExpired, 3);
  assert.deepEqual(r.expired, [
    { from: 4, to: 4, class: 'statement', by: 19 },
    { from: 6, to: 7, class: 'statement', by: 19 },
  ]);
  const q = log.query({ types: ['statement.started'] });
  assert.equal(q[0]!.payloadExpired, true);
  assert.equal(q[1]!.payloadExpired, undefined);
  // A slice that ends before the retention run still proves the removal.
  const out = join(tempDir(), 'bundle');
  log.exportBundle({ outDir: out, fromSeq: 3, toSeq: 6 });
  const vb = verifyBundle(out, PUB);
  assert.equal(vb.ok, true, JSON.stringify(vb.problems));
  assert.equal(vb.checked.payloadsExpired, 3);
  log.close();
});

test('export → verify-bundle, full and partial, by time and by seq', async () => {
  const dir = tempDir();
  const log = openLog(dir, { checkpointEvery: { entries: 4, seconds: 3600 } });
  for (let i = 0; i < 30; i++) await log.append({ ...ev(i), time: 1_000_000 + i * 1000 } as GatewayEvent);
  const full = join(tempDir(), 'full');
  const s = log.exportBundle({ outDir: full });
  assert.equal(s.firstSeq, 1);
  assert.equal(s.lastSeq, 30);
  const v = verifyBundle(full, PUB);
  assert.equal(v.ok, true, JSON.stringify(v.problems));
  assert.equal(v.checked.entries, 30);
  const part = join(tempDir(), 'part');
  const sp = log.exportBundle({ outDir: part, from: 1_000_000 + 10_000, to: 1_000_000 + 17_000 });
  assert.equal(sp.firstSeq, 11);
  assert.equal(sp.lastSeq, 20); // widened to the checkpoint at 20
  const vp = verifyBundle(part, PUB);
  assert.equal(vp.ok, true, JSON.stringify(vp.problems));
  assert.equal(vp.checked.firstSeq, 11);
  assert.ok(vp.checked.consistencyProofs >= 3);
  // Another key does not verify.
  const wrong = publicKeyPem(generateKeyPairSync('ed25519').privateKey);
  assert.equal(verifyBundle(full, wrong).ok, false);
  assert.equal(verifyEvidence(full, PUB).kind, 'bundle');
  log.close();
});

test('prove → verifyProof (alone, offline); tampering with the proof is caught', async () => {
  const dir = tempDir();
  const log = openLog(dir, { checkpointEvery: { entries: 7, seconds: 3600 } });
  for (let i = 0; i < 20; i++) await log.append(ev(i));
  const proof = log.prove(4);
  const json = JSON.stringify(proof);
  const ok = verifyProof(json, PUB);
  assert.equal(ok.ok, true, ok.problem);
  assert.equal(ok.payload, 'verified');
  assert.equal((ok.event as { statement?: string }).statement, (events[3] as { statement: string }).statement);
  const file = join(tempDir(), 'proof.json');
  writeFileSync(file, json);
  assert.equal(verifyEvidence(file, PUB).result.ok, true);
  const bad1 = { ...proof, envelope: proof.envelope.replace('orders-db', 'orders-dc') };
  assert.equal(verifyProof(JSON.stringify(bad1), PUB).ok, false);
  const bad2 = { ...proof, path: [...proof.path].reverse() };
  assert.equal(verifyProof(JSON.stringify(bad2), PUB).ok, false);
  const bad3 = { ...proof, payload: { ...proof.payload!, body: proof.payload!.body.replace('ann', 'bob') } };
  assert.match(verifyProof(JSON.stringify(bad3), PUB).problem!, /commitment/);
  log.close();
});

test('signing key: generated 0600 in the state dir, reused, or from GATEHOUSE_AUDIT_KEY (PEM or path)', () => {
  const dir = tempDir();
  const a = loadOrCreateSigningKey(dir, {});
  assert.equal(a.source, 'generated');
  assert.equal(statSync(join(dir, 'audit-key.pem')).mode & 0o777, 0o600);
  const b = loadOrCreateSigningKey(dir, {});
  assert.equal(b.source, 'state-file');
  assert.equal(publicKeyPem(a.publicKey), publicKeyPem(b.publicKey));
  const pem = readFileSync(join(dir, 'audit-key.pem'), 'utf8');
  assert.equal(loadOrCreateSigningKey(tempDir(), { GATEHOUSE_AUDIT_KEY: pem }).source, 'env-pem');
  assert.equal(loadOrCreateSigningKey(tempDir(), { GATEHOUSE_AUDIT_KEY: join(dir, 'audit-key.pem') }).source, 'env-path');
  assert.throws(() => loadOrCreateSigningKey(tempDir(), { GATEHOUSE_AUDIT_KEY: '/nonexistent/key.pem' }), /cannot read/);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  assert.throws(() => loadOrCreateSigningKey(tempDir(), { GATEHOUSE_AUDIT_KEY: rsa }), /Ed25519/);
});

test('the origin must match: a log opened under another key name refuses the old checkpoints', async () => {
  const dir = tempDir();
  const log = AuditLog.open({ stateDir: dir, instance: 'x', signingKey: testKey, keyName: ORIGIN });
  await log.append(ev(0));
  log.close();
  assert.throws(() => AuditLog.open({ stateDir: dir, instance: 'x', signingKey: testKey, keyName: 'other.origin/audit' }));
});

test('checkpoints are also cut by time (timer), and the pending queue is bounded', async () => {
  const dir = tempDir();
  const log = openLog(dir, { checkpointEvery: { entries: 1_000_000, seconds: 0.05 }, maxPending: 10 });
  await log.append(ev(0));
  assert.equal(log.latestCheckpoint(), null);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(log.latestCheckpoint()?.size, 1);
  const burst = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => log.append(ev(i))));
  assert.equal(burst.filter((b) => b.status === 'fulfilled').length, 10);
  assert.equal(burst.filter((b) => b.status === 'rejected').length, 2);
  log.close();
});

test('anchoring: checkpoints copied to a directory reveal a rollback that the log alone cannot', async () => {
  const dir = tempDir();
  const anchors = join(tempDir(), 'anchors');
  const log = openLog(dir, { onCheckpoint: directoryAnchor(anchors), checkpointEvery: { entries: 3, seconds: 3600 } });
  for (let i = 0; i < 6; i++) await log.append(ev(i));
  log.checkpoint();
  const snapshot = tempDir();
  log.flush();
  dbOf(log).pragma('wal_checkpoint(TRUNCATE)');
  cpSync(join(dir, AUDIT_DB_FILE), join(snapshot, AUDIT_DB_FILE));
  for (let i = 0; i < 6; i++) await log.append(ev(i));
  log.close();
  assert.equal(readAnchors(anchors).length, 4);
  // Roll the store back to the snapshot: it is a perfectly consistent older log…
  copyFileSync(join(snapshot, AUDIT_DB_FILE), join(dir, AUDIT_DB_FILE));
  const ro = openLog(dir, { mode: 'inspect' });
  assert.equal(ro.verify().ok, true);
  // …until compared with the anchored copies.
  const r = ro.verify({ anchors: readAnchors(anchors) });
  assert.equal(r.ok, false);
  assert.match(r.firstError!.problem, /rolled back/);
  ro.close();
});

test('replay by session reads the session span; a version-1 store is migrated without touching evidence', async () => {
  const dir = tempDir();
  const log = openLog(dir, { checkpointEvery: { entries: 1000, seconds: 3600 } });
  // Three sessions interleaved, written in several batches.
  for (let batch = 0; batch < 3; batch++) {
    await Promise.all(['a', 'b', 'c'].flatMap((s) => [1, 2].map((k) => log.append({ type: 'session.closed', time: 1000 + batch, sessionId: `ses_${s}`, reason: 'client_terminated', statements: batch * 10 + k }))));
  }
  const seqsOf = (l: AuditLog, s: string): number[] => l.query({ sessionId: s }).map((e) => e.seq);
  const before = { a: seqsOf(log, 'ses_a'), b: seqsOf(log, 'ses_b'), c: seqsOf(log, 'ses_c') };
  assert.equal(before.a.length, 6);
  assert.deepEqual(log.query({ sessionId: 'ses_b' }).map((e) => (e as { statements: number }).statements), [1, 2, 11, 12, 21, 22]);
  const spans = dbOf(log).prepare('SELECT session_id, first_seq, last_seq FROM session_spans ORDER BY session_id').all();
  assert.deepEqual(spans, ['a', 'b', 'c'].map((s) => ({ session_id: `ses_${s}`, first_seq: before[s as 'a'][0], last_seq: before[s as 'a'].at(-1) })));
  assert.deepEqual(seqsOf(log, 'ses_unknown'), []);
  log.close();

  // Rewrite the caches as schema version 1 had them.
  const db = new Database(join(dir, AUDIT_DB_FILE));
  const evidence = (): unknown => db.prepare('SELECT seq, body, leaf_hash FROM envelopes ORDER BY seq').all();
  const kept = evidence();
  db.exec(`DROP TABLE session_spans; CREATE INDEX envelopes_session ON envelopes (session_id, seq); UPDATE audit_meta SET value = '1' WHERE key = 'schema'`);
  db.close();
  // Read-only inspection of a version-1 store works (no spans: scan).
  const old = openLog(dir, { mode: 'inspect' });
  assert.deepEqual(seqsOf(old, 'ses_c'), before.c);
  old.close();
  const migrated = openLog(dir);
  assert.deepEqual(seqsOf(migrated, 'ses_a'), before.a);
  const mdb = dbOf(migrated);
  assert.equal((mdb.prepare(`SELECT value FROM audit_meta WHERE key = 'schema'`).get() as { value: string }).value, '2');
  assert.equal(mdb.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'envelopes_session'`).get(), undefined);
  assert.equal((mdb.prepare('SELECT count(*) AS n FROM session_spans').get() as { n: number }).n, 3);
  const again = new Database(join(dir, AUDIT_DB_FILE), { readonly: true });
  assert.deepEqual(again.prepare('SELECT seq, body, leaf_hash FROM envelopes ORDER BY seq').all(), kept);
  again.close();
  assert.equal(migrated.verify().ok, true);
  migrated.close();
});

test('lazy appends ride with the next batch, or are written on their own within LAZY_FLUSH_MS', async () => {
  const dir = tempDir();
  const log = openLog(dir, { checkpointEvery: { entries: 1000, seconds: 3600 } });
  const t0 = Date.now();
  const alone = await log.append(ev(0), { lazy: true });
  assert.equal(alone.seq, 1);
  assert.ok(Date.now() - t0 >= LAZY_FLUSH_MS - 2, 'a lazy append alone waits for its timer');
  assert.equal(log.stats().batches, 1);
  // A lazy append, then (in a later turn) one somebody waits for: one transaction for both.
  const lazy = log.append(ev(1), { lazy: true });
  await new Promise((r) => setImmediate(r));
  const urgent = await log.append(ev(2));
  assert.equal((await lazy).seq, 2);
  assert.equal(urgent.seq, 3);
  assert.equal(log.stats().batches, 2);
  // close() writes what is still waiting.
  const last = log.append(ev(3), { lazy: true });
  log.close();
  assert.equal((await last).seq, 4);
  const reopened = openLog(dir, { mode: 'inspect' });
  assert.equal(reopened.query().length, 4);
  assert.equal(reopened.verify().ok, true);
  reopened.close();
});

test('statementCounts: statements and refusals per session from the type column, optionally since a time', async () => {
  const dir = tempDir();
  const log = openLog(dir);
  const byType = (t: string): GatewayEvent => events.find((e) => e.type === t)!;
  const at = (e: GatewayEvent, sessionId: string, time: number): GatewayEvent => ({ ...e, sessionId, time }) as GatewayEvent;
  for (const e of [
    at(byType('session.opened'), 'a', 1000),
    at(byType('statement.started'), 'a', 1001),
    at(byType('statement.started'), 'a', 1002),
    at(byType('statement.denied'), 'a', 1003),
    at(byType('statement.finished'), 'a', 1004),
    at(byType('session.opened'), 'b', 2000),
    at(byType('statement.started'), 'b', 2001),
  ]) {
    await log.append(e);
  }
  assert.deepEqual(
    [...log.statementCounts().entries()].sort(),
    [
      ['a', { statements: 2, denied: 1 }],
      ['b', { statements: 1, denied: 0 }],
    ],
  );
  assert.deepEqual([...log.statementCounts({ since: 2000 }).entries()], [['b', { statements: 1, denied: 0 }]]);
  log.close();
});

test('retention works through a backlog in bounded batches, oldest first; the log verifies after each', async () => {
  const dir = tempDir();
  const log = openLog(dir, { checkpointEvery: { entries: 50, seconds: 3600 } });
  const t0 = 1_700_000_000_000;
  // Ten old rounds of sample events (statement and detail payloads interleaved), one new round.
  for (let k = 0; k < 10; k++) for (const e of sampleEvents(t0 + k)) await log.append(e);
  for (const e of sampleEvents(t0 + 86_400_000)) await log.append(e);
  const rules = { statement: 3600, detail: 3600 };
  const due = selectExpiredCount(log, rules, t0 + 86_400_000);
  assert.ok(due > 20, `backlog of ${due}`);
  let total = 0;
  let runs = 0;
  let lastRemoved = 0;
  for (;;) {
    const r = log.applyRetention(rules, t0 + 86_400_000, { maxPayloads: 7 });
    runs++;
    assert.ok(r.expired <= 7);
    // Oldest first: every batch removes entries after the previous batch's.
    const ranges = Object.values(r.expiredByClass).flat();
    if (ranges.length) {
      assert.ok(Math.min(...ranges.map((x) => x[0])) > lastRemoved);
      lastRemoved = Math.max(...ranges.map((x) => x[1]));
    }
    total += r.expired;
    const v = log.verify();
    assert.equal(v.ok, true, JSON.stringify(v.firstError));
    assert.equal(v.checked.payloadsExpired, total);
    if (!r.more) break;
  }
  assert.equal(total, due);
  // One run per batch of 7; at most one more, that finds nothing, when the last batch was exactly full.
  assert.ok(runs >= Math.ceil(due / 7) && runs <= Math.ceil(due / 7) + 1, `${runs} runs for ${due}`);
  // Nothing left: a further run removes nothing and says so.
  const again = log.applyRetention(rules, t0 + 86_400_000, { maxPayloads: 7 });
  assert.deepEqual([again.expired, again.more], [0, false]);
  log.close();
});

/** Expired payloads of `rules` at `now`, counted straight from the store. */
function selectExpiredCount(log: AuditLog, rules: Record<string, number>, now: number): number {
  const db = dbOf(log);
  let n = 0;
  for (const [cls, secs] of Object.entries(rules)) {
    n += (db.prepare('SELECT count(*) AS n FROM envelopes e JOIN payloads p ON p.seq = e.seq WHERE e.time <= ? AND p.class = ?').get(now - secs * 1000, cls) as { n: number }).n;
  }
  return n;
}

test('retention of one class among interleaved classes: one range for the class; other classes and kept payloads inside it stay protected', async () => {
  const dir = tempDir();
  const log = openLog(dir, { checkpointEvery: { entries: 1000, seconds: 3600 } });
  const t0 = 1_700_000_000_000;
  const now = t0 + 86_400_000;
  const result = { columns: ['n'], rows: [['1']], truncated: false };
  // 40 statements, each a statement payload then a result payload; statement 20's result has a later time
  // (the clock went back around it), so it is not due and must stay.
  for (let i = 0; i < 40; i++) {
    await log.append({ type: 'statement.started', time: t0, sessionId: 's', operationId: `op${i}`, statement: `SELECT ${i}` } as GatewayEvent);
    await log.append({ type: 'statement.finished', time: i === 20 ? now : t0, sessionId: 's', operationId: `op${i}`, outcome: 'ok', durationMs: 1, rows: 1, result } as GatewayEvent);
  }
  const res = log.applyRetention({ result: 3600 }, now);
  // Results are entries 2, 4, …, 80; entry 42 (statement 20's) is kept: two ranges, not 39.
  assert.deepEqual(res.expiredByClass, { result: [[2, 40], [44, 80]] });
  assert.equal(res.expired, 39);
  const ok = log.verify();
  assert.equal(ok.ok, true, JSON.stringify(ok.firstError));
  assert.equal(ok.checked.payloadsExpired, 39);
  log.close();

  // A statement payload inside the result range, or the kept result, deleted: not covered, so reported.
  for (const seq of [11, 42]) {
    const copy = tempDir();
    cpSync(dir, copy, { recursive: true });
    rmSync(join(copy, WRITER_OWNER_FILE), { force: true });
    const db = new Database(join(copy, AUDIT_DB_FILE));
    assert.equal(db.prepare('DELETE FROM payloads WHERE seq = ?').run(seq).changes, 1);
    db.close();
    const ro = openLog(copy, { mode: 'inspect' });
    const r = ro.verify();
    ro.close();
    assert.equal(r.ok, false);
    assert.deepEqual(r.firstError, { seq, problem: `entry ${seq}: payload missing and no retention run in the log removed it (payload deleted, or the retention entry is gone)` });
  }
});

test('property: retention of random interleaved classes, times and batch sizes removes exactly what is due; any other payload deleted is reported', async () => {
  const classes = ['statement', 'result', 'detail'] as const;
  const t0 = 1_700_000_000_000;
  const now = t0 + 86_400_000;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ cls: fc.constantFrom(...classes), old: fc.boolean() }), { minLength: 1, maxLength: 40 }),
      fc.subarray([...classes], { minLength: 1 }),
      fc.integer({ min: 1, max: 8 }),
      fc.nat(),
      async (entries, ruled, batch, pick) => {
        const dir = tempDir();
        const log = openLog(dir, { checkpointEvery: { entries: 1000, seconds: 3600 } });
        for (const [i, e] of entries.entries()) {
          const time = e.old ? t0 : now; // "now" entries are not due: the clock went back around them
          const ev: Record<string, unknown> =
            e.cls === 'statement'
              ? { type: 'statement.started', time, sessionId: 's', operationId: `op${i}`, statement: `SELECT ${i}` }
              : e.cls === 'result'
                ? { type: 'statement.finished', time, sessionId: 's', operationId: `op${i}`, outcome: 'ok', durationMs: 1, rows: 1, result: { columns: ['n'], rows: [[String(i)]], truncated: false } }
                : { type: 'upstream.failed', time, sessionId: 's', connection: 'c', code: 'GW_UPSTREAM_UNAVAILABLE', message: `down ${i}` };
          await log.append(ev as unknown as GatewayEvent);
        }
        const rules = Object.fromEntries(ruled.map((c) => [c, 3600]));
        for (;;) {
          const r = log.applyRetention(rules, now, { maxPayloads: batch });
          if (!r.more) break;
        }
        const due = entries.filter((e) => e.old && ruled.includes(e.cls)).length;
        const v = log.verify();
        assert.equal(v.ok, true, JSON.stringify(v.firstError));
        assert.equal(v.checked.payloadsExpired, due);
        assert.equal(v.checked.payloads, entries.length - due);
        const left = (dbOf(log).prepare('SELECT seq FROM payloads ORDER BY seq').all() as { seq: number }[]).map((r) => r.seq);
        log.close();
        if (left.length === 0) return;
        // Any payload that retention kept, deleted afterwards, is reported as deleted.
        const victim = left[pick % left.length]!;
        const db = new Database(join(dir, AUDIT_DB_FILE));
        db.prepare('DELETE FROM payloads WHERE seq = ?').run(victim);
        db.close();
        const ro = openLog(dir, { mode: 'inspect' });
        const bad = ro.verify();
        ro.close();
        assert.equal(bad.ok, false);
        assert.equal(bad.firstError?.seq, victim);
        assert.match(bad.firstError!.problem, /payload missing and no retention run in the log removed it/);
      },
    ),
    { numRuns: Number(process.env.AUDIT_FC_RUNS ?? 60) },
  );
});
