/**
 * The verifier against a real IdP (oidc-provider) on loopback: discovery,
 * JWKS, a JWT access token from client_credentials, and key rotation.
 * oidc-provider warns "Unsupported runtime" on Node 20; that is expected.
 */
import { after, before, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { OidcTokenVerifier } from './verifier.ts';
import { GatewayError } from '../../shared/errors.ts';

const CLIENT = { id: 'agent-7', secret: 'client-secret-for-tests-only' };

let server: Server;
let issuer: string;
let handler: RequestListener;
const hits = { discovery: 0, jwks: 0 };

async function signingKey(kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
}

function provider(keys: JWK[]): Provider {
  return new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys },
    ttl: { ClientCredentials: 300 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'urn:gatehouse',
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'db:read',
          audience: 'gatehouse',
          accessTokenFormat: 'jwt',
          accessTokenTTL: 300,
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    extraTokenClaims: () => ({ groups: ['agents', 'readers'] }),
  });
}

async function accessToken(): Promise<string> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'Basic ' + Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString('base64'),
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'db:read' }),
  });
  const body = (await res.json()) as { access_token?: string };
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.ok(body.access_token);
  return body.access_token;
}

before(async () => {
  // Date is mocked (for the JWKS cooldown); timers stay real so sockets work.
  mock.timers.enable({ apis: ['Date'], now: Date.now() });
  server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') hits.discovery++;
    if (req.url === '/jwks') hits.jwks++;
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  handler = provider([await signingKey('k1')]).callback();
});

after(async () => {
  mock.timers.reset();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test('a JWT access token from a real IdP is accepted via discovery + JWKS; rotation refetches once', async () => {
  const verifier = new OidcTokenVerifier({ issuers: [{ issuer, audience: 'gatehouse' }] });

  const p = await verifier.verify(await accessToken());
  assert.equal(p.issuer, issuer);
  assert.equal(p.subject, CLIENT.id);
  assert.equal(p.kind, 'human');
  assert.deepEqual(p.groups, ['agents', 'readers']);
  assert.equal(p.claims.client_id, CLIENT.id);
  assert.equal(p.claims.scope, 'db:read');
  assert.equal(p.claims.aud, 'gatehouse');
  assert.ok(!('iss' in p.claims) && !('groups' in p.claims));
  assert.ok(p.expiresAt !== undefined && Math.abs(p.expiresAt - (Date.now() + 300_000)) < 5_000);
  assert.deepEqual(hits, { discovery: 1, jwks: 1 });

  await verifier.verify(await accessToken());
  assert.deepEqual(hits, { discovery: 1, jwks: 1 }, 'keys are cached');

  // The IdP rotates: a new key signs, the old one is still published.
  handler = provider([await signingKey('k2'), await signingKey('k1')]).callback();
  const rotated = await accessToken();

  // Within the cooldown an unknown kid is refused without a refetch (rate limit).
  await assert.rejects(verifier.verify(rotated), (e: unknown) => {
    assert.ok(e instanceof GatewayError);
    assert.equal(e.code, 'GW_AUTH_SIGNATURE');
    assert.equal(e.message, `no signing key of issuer '${issuer}' matches the token (kid 'k2')`);
    return true;
  });
  assert.equal(hits.jwks, 1);

  mock.timers.tick(31_000);
  const p2 = await verifier.verify(rotated);
  assert.equal(p2.subject, CLIENT.id);
  assert.deepEqual(hits, { discovery: 1, jwks: 2 }, 'exactly one refetch for the unknown kid');
  await verifier.verify(rotated);
  assert.equal(hits.jwks, 2);
});

test('a wrong configured audience and an unreachable IdP are refused', async () => {
  const wrongAud = new OidcTokenVerifier({ issuers: [{ issuer, audience: 'other-api' }] });
  await assert.rejects(wrongAud.verify(await accessToken()), {
    code: 'GW_AUTH_AUDIENCE',
    message: "token audience 'gatehouse' does not include 'other-api'",
  });

  const down = new OidcTokenVerifier({
    issuers: [{ issuer, audience: 'gatehouse' }],
    fetchImpl: async () => new Response('nope', { status: 503 }),
  });
  await assert.rejects(down.verify(await accessToken()), {
    code: 'GW_AUTH_JWKS_UNAVAILABLE',
    message: `cannot fetch the signing keys of issuer '${issuer}' (discovery returned HTTP 503); try again later`,
  });
});
