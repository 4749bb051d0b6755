// Identity end to end: tokens from a real OIDC provider (oidc-provider,
// client_credentials) and GitHub-Actions-shaped tokens verified through a
// loopback JWKS, presented by psql and node-postgres to Gatehouse.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import pg from 'pg';
import Provider from 'oidc-provider';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { startPostgres, type PgCluster } from '../../harness/postgres.ts';
import { startGatehouse, removeDir, type TestGateway } from '../../harness/gateway.ts';
import { run } from '../../harness/run.ts';
import { startJwksServer, type JwksServer } from '../../../src/infra/idp/test-helpers.ts';

const GH = 'https://token.actions.githubusercontent.com';
let cluster: PgCluster;
let gw: TestGateway;
let idp: Server;
let idpUrl: string;
let jwks: JwksServer;
let ghKey: CryptoKey;
let ghPublicPem: string;
let otherKey: CryptoKey;

before(async () => {
  const k = await generateKeyPair('RS256', { extractable: true });
  ghKey = k.privateKey;
  ghPublicPem = await exportSPKI(k.publicKey);
  otherKey = (await generateKeyPair('RS256')).privateKey;
  jwks = await startJwksServer([{ ...(await exportJWK(k.publicKey)), kid: 'gh-1', alg: 'RS256', use: 'sig' }]);

  idp = createServer();
  await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
  idpUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const signing: JWK = { ...(await exportJWK(privateKey)), kid: 'idp-1', alg: 'ES256', use: 'sig' };
  const provider = new Provider(idpUrl, {
    clients: [{ client_id: 'etl-agent', client_secret: 'test-only-secret', grant_types: ['client_credentials'], redirect_uris: [], response_types: [], id_token_signed_response_alg: 'ES256' }],
    jwks: { keys: [signing] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'urn:gatehouse',
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: 'db', audience: 'gatehouse', accessTokenFormat: 'jwt', accessTokenTTL: 300, jwt: { sign: { alg: 'ES256' } } }),
      },
    },
    extraTokenClaims: () => ({ groups: ['agents'] }),
  });
  idp.on('request', provider.callback());
  // oidc-provider initialises lazily on its first discovery request (seconds on a loaded machine): warm it up.
  assert.equal((await fetch(`${idpUrl}/.well-known/openid-configuration`)).status, 200);

  cluster = await startPostgres();
  gw = await startGatehouse(
    { host: cluster.host, port: cluster.port, database: cluster.database, user: cluster.appUser, password: cluster.appPassword },
    {
      issuersYaml: `  issuers:
    - { issuer: "${idpUrl}", audience: gatehouse }
    - { issuer: "${GH}", audience: gatehouse, jwksUri: "${jwks.url}" }`,
    },
  );
});

after(async () => {
  await gw?.stop('SIGKILL');
  await cluster?.stop();
  await jwks?.close();
  idp?.closeAllConnections();
  idp?.close();
  if (gw) await removeDir(gw.dir);
});

async function idpToken(): Promise<string> {
  const res = await fetch(`${idpUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from('etl-agent:test-only-secret').toString('base64') },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'db' }),
  });
  const body = (await res.json()) as { access_token: string };
  assert.equal(res.status, 200);
  return body.access_token;
}

function ghClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    groups: ['agents'],
    repository: 'acme/payments',
    ref: 'refs/heads/main',
    workflow_ref: 'acme/payments/.github/workflows/migrate.yml@refs/heads/main',
    job_workflow_ref: 'acme/payments/.github/workflows/migrate.yml@refs/heads/main',
    environment: 'production',
    actor: 'octocat',
    run_id: '42',
    event_name: 'push',
    ...extra,
  };
}

async function ghToken(opts: { key?: CryptoKey; iss?: string; aud?: string; exp?: number; nbf?: number; claims?: Record<string, unknown> } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(ghClaims(opts.claims))
    .setProtectedHeader({ alg: 'RS256', kid: 'gh-1' })
    .setIssuer(opts.iss ?? GH)
    .setAudience(opts.aud ?? 'gatehouse')
    .setSubject('repo:acme/payments:ref:refs/heads/main')
    .setIssuedAt(now - 5)
    .setExpirationTime(opts.exp ?? now + 300);
  if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
  return jwt.sign(opts.key ?? ghKey);
}

function b64url(x: object | Buffer): string {
  return (Buffer.isBuffer(x) ? x : Buffer.from(JSON.stringify(x))).toString('base64url');
}

async function connectWith(token: string): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, database: 'customers', user: 'agent', password: token });
  await c.connect();
  return c;
}

test('a JWT access token from a real OIDC provider opens a session (psql)', async () => {
  const tok = await idpToken();
  const r = await run('psql', ['-X', '-A', '-t', '-c', 'SELECT count(*) FROM accounts', `host=127.0.0.1 port=${gw.port} dbname=customers user=etl-agent sslmode=disable`], {
    env: { PGPASSWORD: tok },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '150');
});

test('a GitHub-Actions-shaped token is verified through the JWKS and its CI claims are recorded', async () => {
  const c = await connectWith(await ghToken());
  assert.equal((await c.query('SELECT 1 AS x')).rows[0].x, 1);
  await c.end();
  await new Promise((r) => setTimeout(r, 200));
  const opened = (await gw.events()).find((e) => e.type === 'session.opened' && (e.body.identity as { subject: string }).subject.startsWith('repo:acme/payments'));
  assert.ok(opened);
  const identity = opened.body.identity as { kind: string; ci: Record<string, string> };
  assert.equal(identity.kind, 'workload');
  assert.equal(identity.ci.repository, 'acme/payments');
  assert.equal(identity.ci.environment, 'production');
  assert.equal(identity.ci.workflow_ref, 'acme/payments/.github/workflows/migrate.yml@refs/heads/main');
  assert.equal(identity.ci.run_id, '42');
});

test('every bad token is refused with 28P01 and a message that says why', async () => {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'none', typ: 'JWT' };
  const payload = { iss: GH, aud: 'gatehouse', sub: 'repo:x', exp: now + 300, groups: ['agents'] };
  const algNone = `${b64url(header)}.${b64url(payload)}.`;
  const hsHeader = b64url({ alg: 'HS256', kid: 'gh-1' });
  const hsBody = b64url(payload);
  const hs256 = `${hsHeader}.${hsBody}.${createHmac('sha256', ghPublicPem).update(`${hsHeader}.${hsBody}`).digest('base64url')}`;
  const cases: [string, string, RegExp][] = [
    ['expired', await ghToken({ exp: now - 600 }), /expired/],
    ['not yet valid', await ghToken({ nbf: now + 600 }), /not (yet )?valid|before/i],
    ['wrong issuer', await ghToken({ iss: 'https://evil.example.com' }), /issuer/],
    ['wrong audience', await ghToken({ aud: 'someone-else' }), /audience/],
    ['bad signature', await ghToken({ key: otherKey }), /signature/],
    ['alg none', algNone, /algorithm|none/],
    ['HS256 with the public key', hs256, /algorithm|HS256/],
  ];
  for (const [name, token, pattern] of cases) {
    await assert.rejects(connectWith(token), (e: Error & { code?: string }) => {
      assert.equal(e.code, '28P01', `${name}: ${e.message}`);
      assert.match(e.message, pattern, name);
      return true;
    }, name);
  }
  const events = await gw.events();
  assert.ok(events.filter((e) => e.type === 'auth.failed').length >= cases.length, 'each refusal is recorded');
});

test('a token without groups is verified but gets no access (42501)', async () => {
  await assert.rejects(connectWith(await ghToken({ claims: { groups: undefined } })), (e: Error & { code?: string }) => {
    assert.equal(e.code, '42501');
    assert.match(e.message, /groups: none/);
    return true;
  });
});
