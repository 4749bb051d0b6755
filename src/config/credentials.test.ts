import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from './load.ts';
import { GatewayError } from '../shared/errors.ts';

const yaml = (credentials: string) =>
  `connections:\n  - { name: c, protocol: postgres, upstream: { host: h, database: d, user: u }${credentials ? `, credentials: ${credentials}` : ''} }\n`;

function problems(credentials: string): string[] {
  try {
    parseConfig(yaml(credentials), {}, 't.yaml');
  } catch (e) {
    assert.ok(e instanceof GatewayError && e.code === 'GW_CONFIG_INVALID');
    return e.message.split('\n').slice(1).map((l) => l.trim());
  }
  assert.fail('expected GW_CONFIG_INVALID');
}

test('credentials: absent or static keeps the upstream login', () => {
  assert.equal(parseConfig(yaml(''), {}).connections[0]!.credentials, undefined);
  assert.deepEqual(parseConfig(yaml('{ mode: static }'), {}).connections[0]!.credentials, { mode: 'static' });
  assert.deepEqual(parseConfig(yaml('{}'), {}).connections[0]!.credentials, { mode: 'static' });
});

test('credentials: ephemeral is normalised (vault reference, ttl in seconds, default 1h)', () => {
  const c = parseConfig(yaml('{ mode: ephemeral, templateRole: app_rw, admin: { user: gatehouse_admin, password: "vault:pg-admin" } }'), {});
  assert.deepEqual(c.connections[0]!.credentials, {
    mode: 'ephemeral',
    templateRole: 'app_rw',
    admin: { user: 'gatehouse_admin', password: { vault: 'pg-admin' } },
    ttl: 3600,
  });
  const d = parseConfig(yaml('{ mode: ephemeral, templateRole: "App RW", admin: { user: a, password: "vault:x" }, ttl: 15m }'), {});
  assert.equal(d.connections[0]!.credentials?.mode === 'ephemeral' && d.connections[0]!.credentials.ttl, 900);
});

test('credentials: every problem at its exact path, never repeating a literal password', () => {
  assert.deepEqual(problems('{ mode: ephemeral }'), [
    'connections[0].credentials.templateRole: required when mode is ephemeral',
    'connections[0].credentials.admin: required when mode is ephemeral',
  ]);
  assert.deepEqual(problems('{ templateRole: app_rw }'), ['connections[0].credentials.templateRole: only allowed with mode: ephemeral']);
  assert.deepEqual(problems('{ mode: temporary }'), ['connections[0].credentials.mode: expected static or ephemeral']);
  const lines = problems('{ mode: ephemeral, templateRole: app_rw, admin: { user: a, password: hunter2 }, ttl: 30s }');
  assert.deepEqual(lines.map((l) => l.split(':')[0]), ['connections[0].credentials.admin.password', 'connections[0].credentials.ttl']);
  assert.ok(!lines.join('\n').includes('hunter2'));
  assert.deepEqual(problems('{ mode: ephemeral, templateRole: app_rw, admin: { user: a }, ttl: 8d, extra: 1 }'), [
    'connections[0].credentials.admin.password: required',
    'connections[0].credentials.ttl: expected between 1m and 7d',
    'connections[0].credentials.extra: unknown key',
  ]);
  assert.deepEqual(problems(`{ mode: ephemeral, templateRole: ${'r'.repeat(64)}, admin: { user: a, password: "vault:x" } }`), [
    'connections[0].credentials.templateRole: expected a role name of at most 63 bytes',
  ]);
});
