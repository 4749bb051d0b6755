import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfig } from './load.ts';
import { GatewayError } from '../shared/errors.ts';

const EXAMPLE = `
listen: { postgres: 127.0.0.1:15432, admin: 127.0.0.1:18000 }
state: ./.gatehouse
log: { level: info }
identity:
  dev: false
  clockSkew: 30s
  issuers:
    - { issuer: https://token.actions.githubusercontent.com, audience: gatehouse, groupsClaim: groups }
tls:
  cert: /path/cert.pem
  key: /path/key.pem
postgres:
  requireTls: true
  allowLoopbackWithoutTls: true
  maxMessageBytes: 1MiB
limits: { shutdownGraceSeconds: 10 }
connections:
  - name: customers
    protocol: postgres
    upstream: { host: 127.0.0.1, port: 5432, database: bank, user: app, password: vault:customers, tls: prefer }
    allow: { groups: [agents] }
`;

/** Parses and returns the GW_CONFIG_INVALID message lines (without the header line). */
function problems(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(yaml, env, 'test.yaml');
  } catch (e) {
    assert.ok(e instanceof GatewayError);
    assert.equal(e.code, 'GW_CONFIG_INVALID');
    const [head, ...lines] = e.message.split('\n');
    assert.equal(head, 'invalid configuration in test.yaml:');
    return lines.map((l) => l.trim());
  }
  assert.fail('expected GW_CONFIG_INVALID');
}

const CONN = (extra: string) => `connections:\n  - { name: c, protocol: postgres, upstream: { host: h, database: d, user: u${extra} } }\n`;

test('the documented example loads, normalised and deep-frozen', () => {
  const c = parseConfig(EXAMPLE, {}, 'example.yaml');
  assert.deepEqual(c.listen.postgres, { host: '127.0.0.1', port: 15432 });
  assert.equal(c.identity.clockSkew, 30);
  assert.equal(c.postgres.maxMessageBytes, 1024 * 1024);
  assert.deepEqual(c.identity.issuers[0], {
    issuer: 'https://token.actions.githubusercontent.com',
    audience: 'gatehouse',
    groupsClaim: 'groups',
  });
  const conn = c.connections[0];
  assert.ok(conn);
  assert.deepEqual(conn.upstream, { host: '127.0.0.1', port: 5432, database: 'bank', user: 'app', password: { vault: 'customers' }, tls: 'prefer' });
  assert.deepEqual(conn.allow, { groups: ['agents'] });
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.connections));
  assert.ok(Object.isFrozen(conn.upstream));
  assert.ok(Object.isFrozen(c.identity.issuers[0]));
  assert.throws(() => {
    (c.listen as { admin: unknown }).admin = null;
  }, TypeError);
});

test('an empty file gives every default', () => {
  const c = parseConfig('', {});
  assert.deepEqual(c, {
    listen: { postgres: { host: '127.0.0.1', port: 15432 }, admin: { host: '127.0.0.1', port: 18000 } },
    state: './.gatehouse',
    log: { level: 'info' },
    identity: { dev: false, clockSkew: 30, issuers: [] },
    audit: { origin: 'gatehouse.local/audit', durability: 'full', checkpointEvery: { entries: 10000, interval: 60 }, retention: {}, resultRows: 20 },
    notifications: { webhooks: [] },
    policy: { watch: true },
    postgres: { requireTls: true, allowLoopbackWithoutTls: true, maxMessageBytes: 1048576 },
    limits: { shutdownGraceSeconds: 10 },
    connections: [],
    masking: { guardPredicates: false, columnRules: [], strategies: {}, defaultStrategy: { kind: 'redact' }, catalogTtl: 10 },
  });
});

test('loadConfig reads a file; a missing file is GW_CONFIG_INVALID', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-config-'));
  try {
    const file = join(dir, 'gatehouse.yaml');
    writeFileSync(file, EXAMPLE);
    assert.equal(loadConfig(file, {}).connections[0]?.name, 'customers');
    assert.throws(() => loadConfig(join(dir, 'nope.yaml'), {}), (e: unknown) => {
      assert.ok(e instanceof GatewayError);
      assert.equal(e.code, 'GW_CONFIG_INVALID');
      assert.match(e.message, /cannot read config file .*nope\.yaml: ENOENT/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('each problem is reported at its exact path, all at once', () => {
  const lines = problems(`
listen: { postgress: 127.0.0.1:1 }
connections:
  - { name: a, protocol: postgres, upstream: { host: h, database: d, user: u } }
  - { name: b, protocol: postgres, upstream: { host: h, port: 70000, database: d, user: u } }
`);
  assert.deepEqual(lines, ['listen.postgress: unknown key', 'connections[1].upstream.port: expected an integer 1-65535']);
});

test('error cases name their paths', () => {
  const cases: [string, string][] = [
    ['listen: { postgres: "15432" }', 'listen.postgres: expected host:port, e.g. 127.0.0.1:15432 or [::1]:15432'],
    ['listen: { admin: "127.0.0.1:99999" }', 'listen.admin: expected host:port, e.g. 127.0.0.1:15432 or [::1]:15432'],
    ['log: { level: loud }', 'log.level: expected one of trace, debug, info, warn, error, fatal, silent'],
    ['identity: { clockSkew: 30 }', 'identity.clockSkew: expected a duration like 30s, 15m, 1h or 2d'],
    ['identity: { dev: maybe }', 'identity.dev: expected true or false'],
    ['identity: { issuers: [ { issuer: x, audience: a } ] }', 'identity.issuers[0].issuer: expected an http(s) URL'],
    ['identity: { issuers: [ { issuer: "https://i", audience: a, algorithms: [RS256, HS256] } ] }', 'identity.issuers[0].algorithms[1]: expected one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519 (none and HS* are never allowed)'],
    ['identity: { issuers: [ { issuer: "https://i" } ] }', 'identity.issuers[0].audience: required'],
    ['identity: { issuers: [ { issuer: "https://i", audience: a }, { issuer: "https://i", audience: b } ] }', "identity.issuers[1].issuer: duplicate issuer 'https://i' (first at index 0)"],
    ['tls: { cert: /c.pem }', 'tls.key: required'],
    ['postgres: { maxMessageBytes: 5GiB }', 'postgres.maxMessageBytes: expected a size between 1KiB and 1GiB, e.g. 1MiB'],
    ['postgres: { maxMessageBytes: lots }', 'postgres.maxMessageBytes: expected a size between 1KiB and 1GiB, e.g. 1MiB'],
    ['limits: { shutdownGraceSeconds: -1 }', 'limits.shutdownGraceSeconds: expected an integer 0-3600'],
    ['nonsense: 1', 'nonsense: unknown key'],
    [CONN(', tls: yes'), 'connections[0].upstream.tls: expected disable, prefer, require or verify-full'],
    [CONN(', password: "vault:"'), 'connections[0].upstream.password: expected vault:NAME with NAME of 1-128 characters from A-Z a-z 0-9 _ . -'],
    [CONN(', port: 0'), 'connections[0].upstream.port: expected an integer 1-65535'],
    [CONN(', port: 5432.5'), 'connections[0].upstream.port: expected an integer 1-65535'],
    [CONN(', colour: red'), 'connections[0].upstream.colour: unknown key'],
    ['connections: [ { name: Customers, protocol: postgres, upstream: { host: h, database: d, user: u } } ]', 'connections[0].name: expected a lowercase name: a letter, then up to 62 of a-z 0-9 _ -'],
    ['connections: [ { name: c, protocol: mysql, upstream: { host: h, database: d, user: u } } ]', 'connections[0].protocol: expected postgres'],
    ['connections: [ { name: c, protocol: postgres } ]', 'connections[0].upstream: required'],
    ['connections: [ { name: c, protocol: postgres, upstream: { host: h, database: d } } ]', 'connections[0].upstream.user: required'],
    ['identity: { clockSkew: 1h }', 'identity.clockSkew: expected at most 10m'],
    ['connections: {}', 'connections: expected a list'],
    ['- 1', '(root): expected a mapping'],
  ];
  for (const [yaml, line] of cases) assert.deepEqual(problems(yaml), [line], yaml);
});

test('duplicate connection names are reported with the path of the repeat', () => {
  const c = '{ protocol: postgres, upstream: { host: h, database: d, user: u } }';
  const yaml = `connections:\n  - { name: a, ${c.slice(2)}\n  - { name: b, ${c.slice(2)}\n  - { name: a, ${c.slice(2)}\n`;
  assert.deepEqual(problems(yaml), ["connections[2].name: duplicate connection name 'a' (first at index 0)"]);
});

test('a literal password is refused without being echoed', () => {
  const lines = problems(CONN(', password: hunter2-s3cret'));
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? '', /^connections\[0\]\.upstream\.password: literal passwords are not allowed in the config; store it with `gatehouse vault set NAME`/);
  assert.doesNotMatch(lines.join('\n'), /hunter2/);
});

test('YAML syntax errors and duplicate keys give a line and column', () => {
  assert.deepEqual(problems('a: 1\na: 2'), ['line 2, column 1: Map keys must be unique']);
  assert.match(problems('listen: [1\nstate: 2')[0] ?? '', /^line \d+, column \d+: /);
});

test('${VAR} and ${VAR:-default} are interpolated in string values', () => {
  const yaml = `
state: \${STATE_DIR}/gh
listen: { postgres: "\${PG_HOST:-127.0.0.1}:\${PG_PORT}" }
identity:
  dev: \${DEV:-false}
  issuers: [ { issuer: "\${ISSUER}", audience: gatehouse } ]
connections:
  - { name: c, protocol: postgres, upstream: { host: h, port: "\${UP_PORT:-6543}", database: "$\${literal}", user: u } }
`;
  const c = parseConfig(yaml, { STATE_DIR: '/var/lib', PG_PORT: '25432', ISSUER: 'https://idp.example.com' });
  assert.equal(c.state, '/var/lib/gh');
  assert.deepEqual(c.listen.postgres, { host: '127.0.0.1', port: 25432 });
  assert.equal(c.identity.dev, false);
  assert.equal(c.identity.issuers[0]?.issuer, 'https://idp.example.com');
  assert.equal(c.connections[0]?.upstream.port, 6543);
  assert.equal(c.connections[0]?.upstream.database, '${literal}');
});

test('a missing variable without default is an error naming the path (reported once)', () => {
  assert.deepEqual(problems('state: ${STATE_DIR}\nlog: { level: "${LEVEL}" }', { LEVEL: 'debug' }), [
    'state: environment variable STATE_DIR is not set (use ${STATE_DIR:-default} for a default)',
  ]);
  assert.deepEqual(problems(CONN(', port: "${PORT}"')), [
    'connections[0].upstream.port: environment variable PORT is not set (use ${PORT:-default} for a default)',
  ]);
});

test('an interpolated secret is not echoed by a failing check', () => {
  const lines = problems(CONN(', password: "${DB_PASSWORD}"'), { DB_PASSWORD: 'top-secret-pw' });
  assert.equal(lines.length, 1);
  assert.doesNotMatch(lines.join('\n'), /top-secret-pw/);
});

test('audit.anchorHttp: normalised (vault: and ${ENV} header values, seconds); bad URLs and header values refused without being echoed', () => {
  const ok = parseConfig(
    `audit:\n  anchorHttp:\n    url: https://anchors.example.com/gatehouse\n    headers: { Authorization: vault:anchor-token, x-api-key: "\${ANCHOR_KEY}" }\n`,
    { ANCHOR_KEY: 'k-123' },
  );
  assert.deepEqual(ok.audit.anchorHttp, {
    url: 'https://anchors.example.com/gatehouse',
    headers: { Authorization: { vault: 'anchor-token' }, 'x-api-key': { value: 'k-123' } },
    timeout: 5,
    queue: 1000,
    maxBackoff: 60,
  });
  assert.equal(parseConfig('audit:\n  anchorHttp: { url: "http://127.0.0.1:9000/a" }\n').audit.anchorHttp?.url, 'http://127.0.0.1:9000/a');
  const yaml = [
    'audit:',
    '  anchorHttp:',
    '    url: https://user:pw-sekrit@anchors.example.com/',
    '    headers:',
    '      authorization: "Bearer tok-sekrit\\r\\nx-evil: 1"',
    '      Content-Type: application/json',
    '      X-Key: vault:bad name',
    '      "bad header": x',
    '    timeout: 0s',
    '    queue: 0',
  ].join('\n');
  const lines = problems(yaml);
  assert.deepEqual(lines.sort(), [
    'audit.anchorHttp.headers.Content-Type: this header is set by Gatehouse',
    'audit.anchorHttp.headers.X-Key: expected vault:NAME with NAME of 1-128 characters from A-Z a-z 0-9 _ . -',
    'audit.anchorHttp.headers.authorization: expected a header value of at most 8192 characters without line breaks or control characters',
    'audit.anchorHttp.headers.bad header: expected an HTTP header name',
    'audit.anchorHttp.queue: expected an integer 1-100000',
    'audit.anchorHttp.timeout: expected between 1s and 5m',
    'audit.anchorHttp.url: credentials in the URL are not allowed; send them in a header with vault:NAME',
  ]);
  assert.ok(!lines.join('\n').includes('sekrit'));
  assert.deepEqual(problems('audit:\n  anchorHttp: { url: "http://anchors.example.com/" }\n'), ['audit.anchorHttp.url: expected an https URL (http only to 127.0.0.1, localhost or [::1])']);
  assert.deepEqual(problems('audit:\n  anchorHttp: { url: "https://a.example/", headers: { X-A: a, x-a: b } }\n'), ['audit.anchorHttp.headers.x-a: duplicate header (names are case-insensitive)']);
});
