import { test } from 'node:test';
import assert from 'node:assert/strict';
import { approvalSampleEvents, sampleEvents } from './test-support.ts';
import type { GatewayEvent, StoredEvent } from './events.ts';
import { AccessReport, LIST_LIMIT, TABLES_PER_ROW, formatReportMarkdown, reportJson } from './report.ts';

const verification = { ok: true, entries: 20, checkpoints: 3, lastCheckpointSize: 20, unsigned: 0 };
const stored = (events: readonly GatewayEvent[], first = 1): StoredEvent[] => events.map((e, i) => ({ ...e, seq: first + i }) as StoredEvent);

test('the report groups access by identity and connection, lists denials, approvals with their decisions, failed log-ins and the gateway\'s life', () => {
  const t = 1_764_000_000_000;
  const lifecycle: GatewayEvent[] = [
    { type: 'gateway.started', time: t - 1000, version: '0.1.0', connections: ['orders-db'], durability: 'full', policyVersion: 3, policyDigest: 'ab'.repeat(32), policies: 7 },
    { type: 'policy.reloaded', time: t + 50, policyVersion: 4, policyDigest: 'cd'.repeat(32), policies: 8 },
    { type: 'gateway.stopped', time: t + 100, reason: 'shutdown', sessionsEnded: 0 },
  ];
  const approvals = approvalSampleEvents(t);
  // A justification with a pipe and a line break must not break the Markdown table.
  const tricky = approvals.map((e) => (e.type === 'approval.granted' ? { ...e, justification: 'ticket OPS-1 | urgent\nsecond line' } : e));
  const report = new AccessReport({ origin: 'gatehouse.test/audit', from: t - 5000, to: t + 5000, verification });
  for (const e of stored([lifecycle[0]!, ...sampleEvents(t), ...tricky, lifecycle[1]!, lifecycle[2]!])) report.add(e);
  const d = report.data();
  assert.deepEqual(d.entries, { first: 1, last: 16, count: 16 });
  assert.equal(d.access.length, 1);
  const row = d.access[0]!;
  assert.equal(row.subject, 'repo:acme/app:ref:refs/heads/main');
  assert.equal(row.repository, 'acme/app');
  assert.equal(row.connection, 'orders-db');
  assert.equal(row.sessions, 1);
  assert.deepEqual(row.statements, { 'sql:read': 1 });
  assert.deepEqual(row.tables, { 'public.customers': 1 });
  assert.equal(row.denied, 2); // connect.denied and statement.denied
  assert.deepEqual(d.denials.map((x) => [x.what, x.action, x.reasons.join()]), [['connect', 'connect', 'no_policy_permits'], ['statement', 'sql:write', 'no_policy_permits']]);
  assert.equal(d.approvals.length, 1);
  const a = d.approvals[0]!;
  assert.equal(a.outcome, 'used');
  assert.equal(a.policyId, 'p-write');
  assert.deepEqual(a.votes.map((v) => [v.subject, v.decision]), [['bob', 'approved']]);
  assert.deepEqual(d.grants.map((g) => [g.id, g.outcome]), [['g1', 'expired']]);
  assert.deepEqual(d.authFailures.map((r) => [r.protocol, r.code, r.count, r.addresses.size]), [['postgres', 'GW_AUTH_TOKEN_EXPIRED', 1, 1]]);
  assert.deepEqual(d.lifecycle.map((r) => r.type), ['gateway.started', 'policy.reloaded', 'gateway.stopped']);

  const md = formatReportMarkdown(d);
  assert.match(md, /^# Gatehouse access report — gatehouse\.test\/audit\n/);
  assert.match(md, /\nPeriod: 2025-11-24T15:59:55\.000Z to 2025-11-24T16:00:05\.000Z\. Entries in the period: 16 \(seq 1\.\.16\)\.\n/);
  assert.match(md, /Log integrity: \*\*verified\*\* — 20 entries, 3 signed checkpoints/);
  assert.match(md, /\| repo:acme\/app:ref:refs\/heads\/main \(acme\/app\) — https:\/\/token\.actions\.githubusercontent\.com \| workload \| deployers \| orders-db \| 1 \| sql:read 1 \| public\.customers 1 \| 2 \|/);
  assert.match(md, /policy version 4 in force \(8 policies, sha256 cdcd/);
  assert.match(md, /approved by bob at [0-9T:.Z-]+: "ticket OPS-1 \\\| urgent second line"/);
  // Statement text, parameters and error messages are not in the report.
  for (const s of ["SELECT * FROM customers", 'DELETE FROM', "UPDATE customers SET email", 'duplicate key', 'ECONNREFUSED']) assert.ok(!md.includes(s), `'${s}' in the report`);
  // Every table row has as many cells as its header (no free text broke one).
  for (const block of md.split('\n\n').filter((b) => b.startsWith('| '))) {
    const lines = block.trim().split('\n');
    const cols = (l: string) => l.replace(/\\\|/g, '').split('|').length;
    for (const l of lines) assert.equal(cols(l), cols(lines[0]!), l);
  }
  const json = reportJson(d) as { authFailures: { addresses: number }[] };
  assert.equal(json.authFailures[0]!.addresses, 1);
});

test('a failed verification is stated first, and long lists are capped with the count left out', () => {
  const report = new AccessReport({ origin: 'o', verification: { ...verification, ok: false, firstProblem: 'entry 7: payload does not match its commitment' } });
  const denied = sampleEvents().find((e) => e.type === 'statement.denied')!;
  for (const e of stored(Array.from({ length: LIST_LIMIT + 25 }, () => denied))) report.add(e);
  const d = report.data();
  assert.equal(d.denials.length, LIST_LIMIT);
  assert.equal(d.omitted.denials, 25);
  assert.equal(d.access[0]!.denied, LIST_LIMIT + 25, 'the per-identity count is not capped');
  // Tables per identity and connection stop at TABLES_PER_ROW; the rest are counted together.
  const started = sampleEvents().find((e) => e.type === 'statement.started')!;
  const many = new AccessReport({ origin: 'o', verification });
  for (const e of stored(Array.from({ length: TABLES_PER_ROW + 20 }, (_, i) => ({ ...started, tables: [`public.t${i}`] })))) many.add(e);
  const tables = many.data().access[0]!.tables;
  assert.equal(Object.keys(tables).length, TABLES_PER_ROW + 1);
  assert.equal(tables['(other tables)'], 20);
  const md = formatReportMarkdown(d);
  assert.match(md, /\nPeriod: the whole log\./);
  assert.match(md, /Log integrity: \*\*FAILED\*\* — entry 7: payload does not match its commitment\. The figures below come from a log that does not verify\./);
  assert.match(md, /_25 more not listed \(over 500\)/);
});
