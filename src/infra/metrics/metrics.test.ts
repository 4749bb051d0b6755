import { test } from 'node:test';
import assert from 'node:assert/strict';
import { approvalSampleEvents, sampleEvents } from '../../core/audit/test-support.ts';
import type { EventSink } from '../../core/ports.ts';
import type { GatewayEvent, StoredEvent } from '../../core/audit/events.ts';
import { GatewayMetrics } from './metrics.ts';

/** A sink that records, or refuses every event when `refuse` is set (a failing audit store). */
function innerSink(): EventSink & { refuse: boolean } {
  let seq = 0;
  return {
    refuse: false,
    append(event: GatewayEvent): Promise<StoredEvent> {
      if (this.refuse) return Promise.reject(new Error('store full'));
      return Promise.resolve({ ...event, seq: ++seq } as StoredEvent);
    },
  };
}

const line = (text: string, prefix: string): string | undefined => text.split('\n').find((l) => l.startsWith(prefix));

test('each recorded event is counted once under closed-vocabulary labels; an event the store refused is not counted', async () => {
  const metrics = new GatewayMetrics({ processMetrics: false });
  const inner = innerSink();
  const sink = metrics.sink(inner);
  for (const e of [...sampleEvents(), ...approvalSampleEvents()]) await sink.append(e);
  inner.refuse = true;
  await assert.rejects(sink.append(sampleEvents()[3]!), /store full/);
  const { body, contentType } = await metrics.render();
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  const expect: Record<string, string> = {
    'gatehouse_sessions_opened_total{connection="orders-db",protocol="postgres"}': '1',
    'gatehouse_sessions_active{connection="orders-db"}': '0',
    'gatehouse_sessions_closed_total{reason="client_terminated"}': '1',
    'gatehouse_auth_failures_total{protocol="postgres",code="GW_AUTH_TOKEN_EXPIRED"}': '1',
    'gatehouse_connects_denied_total{connection="orders-db"}': '1',
    'gatehouse_statements_total{connection="orders-db",action="sql:read"}': '1', // not 2: the refused one
    'gatehouse_statements_denied_total{connection="orders-db",action="sql:write"}': '1',
    'gatehouse_statement_outcomes_total{outcome="ok"}': '1',
    'gatehouse_statement_outcomes_total{outcome="error"}': '1',
    'gatehouse_statement_duration_seconds_count': '2',
    'gatehouse_upstream_failures_total{connection="orders-db",code="GW_UPSTREAM_UNAVAILABLE"}': '1',
    'gatehouse_approval_events_total{event="approval.requested"}': '1',
    'gatehouse_approval_events_total{event="grant.expired"}': '1',
  };
  for (const [series, value] of Object.entries(expect)) assert.equal(line(body, `${series} `), `${series} ${value}`, series);
  // The sample events carry an email address, a subject, a client address and statement text: none is a label.
  for (const s of ['ann@example.com', 'repo:acme', '10.0.0.5', 'SELECT', 'deployers', 'ticket OPS-1']) assert.ok(!body.includes(s), `'${s}' in /metrics`);
});

test('audit counters are read from the log at scrape time', async () => {
  let stats = { appended: 5, refused: 0, checkpoints: 1 };
  let ok = true;
  const metrics = new GatewayMetrics({ processMetrics: false, audit: { size: 42, stats: () => stats, writeHealth: () => ({ ok }) } });
  let body = (await metrics.render()).body;
  assert.equal(line(body, 'gatehouse_audit_appended_total '), 'gatehouse_audit_appended_total 5');
  assert.equal(line(body, 'gatehouse_audit_entries '), 'gatehouse_audit_entries 42');
  assert.equal(line(body, 'gatehouse_audit_write_ok '), 'gatehouse_audit_write_ok 1');
  stats = { appended: 9, refused: 2, checkpoints: 3 };
  ok = false;
  body = (await metrics.render()).body;
  assert.equal(line(body, 'gatehouse_audit_appended_total '), 'gatehouse_audit_appended_total 9');
  assert.equal(line(body, 'gatehouse_audit_refused_total '), 'gatehouse_audit_refused_total 2');
  assert.equal(line(body, 'gatehouse_audit_checkpoints_total '), 'gatehouse_audit_checkpoints_total 3');
  assert.equal(line(body, 'gatehouse_audit_write_ok '), 'gatehouse_audit_write_ok 0');
});
