/**
 * The verifier against a GitHub-Actions-shaped issuer whose JWKS is served
 * from loopback, and every refusal with its code and message.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, base64url, type CryptoKey, type JWTPayload } from 'jose';
import { OidcTokenVerifier } from './verifier.ts';
import { startJwksServer, type JwksServer } from './test-helpers.ts';
import { GatewayError } from '../../shared/errors.ts';

const GH = 'https://token.actions.githubusercontent.com';
const now = () => Math.floor(Date.now() / 1000);

let jwks: JwksServer;
let key: CryptoKey;
let publicKey: CryptoKey;
let otherKey: CryptoKey;
let verifier: OidcTokenVerifier;

const CI_CLAIMS = {
  repository: 'acme/app',
  repository_owner: 'acme',
  ref: 'refs/heads/main',
  workflow_ref: 'acme/app/.github/workflows/deploy.yml@refs/heads/main',
  job_workflow_ref: 'acme/app/.github/workflows/deploy.yml@refs/heads/main',
  environment: 'production',
  actor: 'octocat',
  run_id: '9876543210',
  event_name: 'push',
};

function sign(claims: JWTPayload, opts: { key?: CryptoKey; kid?: string; alg?: string } = {}): Promise<string> {
  const t = now();
  return new SignJWT({ iss: GH, aud: 'gatehouse', sub: 'repo:acme/app:ref:refs/heads/main', iat: t, nbf: t, exp: t + 300, ...claims })
    .setProtectedHeader({ alg: opts.alg ?? 'RS256', kid: opts.kid ?? 'gh-1', typ: 'JWT' })
    .sign(opts.key ?? key);
}

async function refused(token: string | Promise<string>, code: string, message: string | RegExp): Promise<void> {
  await assert.rejects(verifier.verify(await token), (e: unknown) => {
    assert.ok(e instanceof GatewayError, String(e));
    assert.equal(e.code, code);
    assert.equal(e.clientSafe, true);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

before(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  key = pair.privateKey;
  publicKey = pair.publicKey;
  otherKey = (await generateKeyPair('RS256')).privateKey;
  jwks = await startJwksServer([{ ...(await exportJWK(publicKey)), kid: 'gh-1', alg: 'RS256', use: 'sig' }]);
  verifier = new OidcTokenVerifier({ issuers: [{ issuer: GH, audience: 'gatehouse', jwksUri: jwks.url }] });
});

after(() => jwks.close());

test('a GitHub Actions token is a workload principal with its CI claims', async () => {
  const token = await sign({ ...CI_CLAIMS, groups: 'deployers' });
  const p = await verifier.verify(token);
  assert.equal(p.issuer, GH);
  assert.equal(p.subject, 'repo:acme/app:ref:refs/heads/main');
  assert.equal(p.kind, 'workload');
  assert.deepEqual(p.groups, ['deployers']);
  for (const [k, v] of Object.entries(CI_CLAIMS)) assert.equal(p.claims[k], v, k);
  assert.equal(p.claims.aud, 'gatehouse');
  assert.ok(!Object.values(p.claims).includes(token), 'the raw token is not kept');
  assert.ok(!('iss' in p.claims || 'sub' in p.claims || 'exp' in p.claims || 'groups' in p.claims));
  assert.ok(Object.isFrozen(p) && Object.isFrozen(p.claims) && Object.isFrozen(p.groups));
  const exp = (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { exp: number }).exp;
  assert.equal(p.expiresAt, exp * 1000);
  assert.equal(jwks.fetches, 1);
});

test('groups: array kept, missing → [], malformed refused', async () => {
  assert.deepEqual((await verifier.verify(await sign({ groups: ['a', 'b'] }))).groups, ['a', 'b']);
  assert.deepEqual((await verifier.verify(await sign({}))).groups, []);
  await refused(sign({ groups: [1, 2] }), 'GW_AUTH_TOKEN_INVALID', "token claim 'groups' must be a string or an array of strings");
});

test('groupsClaim and kindClaim are configurable', async () => {
  const v = new OidcTokenVerifier({
    issuers: [{ issuer: GH, audience: ['api', 'gatehouse'], jwksUri: jwks.url, groupsClaim: 'roles', kindClaim: 'principal_type' }],
  });
  const p = await v.verify(await sign({ roles: ['dba'], groups: ['ignored'], principal_type: 'human' }));
  assert.deepEqual(p.groups, ['dba']);
  assert.equal(p.kind, 'human');
  assert.deepEqual(p.claims.groups, ['ignored']);
});

test('expired token (beyond the 30 s skew)', async () => {
  const exp = now() - 120;
  await refused(sign({ iat: exp - 300, nbf: exp - 300, exp }), 'GW_AUTH_TOKEN_EXPIRED', `token expired at ${new Date(exp * 1000).toISOString().replace('.000Z', 'Z')}`);
  // within the skew it is still accepted
  await verifier.verify(await sign({ iat: now() - 300, nbf: now() - 300, exp: now() - 10 }));
});

test('not yet valid (nbf, or iat in the future)', async () => {
  const nbf = now() + 600;
  await refused(sign({ nbf, exp: nbf + 300 }), 'GW_AUTH_TOKEN_NOT_YET_VALID', `token is not valid before ${new Date(nbf * 1000).toISOString().replace('.000Z', 'Z')}`);
  await refused(sign({ iat: now() + 600, nbf: undefined }), 'GW_AUTH_TOKEN_NOT_YET_VALID', /^token is issued in the future/);
});

test('wrong issuer', async () => {
  await refused(sign({ iss: 'https://evil.example' }), 'GW_AUTH_ISSUER_UNKNOWN', "issuer 'https://evil.example' is not configured");
  await refused(sign({ iss: undefined }), 'GW_AUTH_ISSUER_UNKNOWN', "token has no 'iss' claim");
  await refused(sign({ iss: 'https://gatehouse.dev.invalid' }), 'GW_DEV_ISSUER_DISABLED', /dev issuer, which is disabled/);
});

test('wrong audience', async () => {
  await refused(sign({ aud: 'some-other-api' }), 'GW_AUTH_AUDIENCE', "token audience 'some-other-api' does not include 'gatehouse'");
  await refused(sign({ aud: ['a', 'b'] }), 'GW_AUTH_AUDIENCE', "token audience ['a', 'b'] does not include 'gatehouse'");
  await refused(sign({ aud: undefined }), 'GW_AUTH_AUDIENCE', "token has no 'aud' claim; expected 'gatehouse'");
});

test('bad signature: signed by another key under the same kid, or tampered', async () => {
  await refused(sign({}, { key: otherKey }), 'GW_AUTH_SIGNATURE', `token signature is not valid for issuer '${GH}'`);
  const [h, , s] = (await sign({})).split('.');
  const forged = base64url.encode(JSON.stringify({ iss: GH, aud: 'gatehouse', sub: 'repo:acme/app:ref:refs/heads/prod', exp: now() + 300 }));
  await refused(`${h}.${forged}.${s}`, 'GW_AUTH_SIGNATURE', `token signature is not valid for issuer '${GH}'`);
});

test("alg 'none' (unsigned, hand-built) is refused", async () => {
  const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
  const payload = base64url.encode(JSON.stringify({ iss: GH, aud: 'gatehouse', sub: 'x', exp: now() + 300 }));
  await refused(`${header}.${payload}.`, 'GW_AUTH_ALGORITHM', "algorithm 'none' is not allowed");
});

test('HS256 signed with the public key bytes is refused (key confusion)', async () => {
  const pem = await exportSPKI(publicKey);
  for (const secret of [pem, JSON.stringify(await exportJWK(publicKey))]) {
    const header = base64url.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'gh-1' }));
    const payload = base64url.encode(JSON.stringify({ iss: GH, aud: 'gatehouse', sub: 'x', exp: now() + 300 }));
    const sig = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
    await refused(`${header}.${payload}.${sig}`, 'GW_AUTH_ALGORITHM', "algorithm 'HS256' is not allowed");
  }
});

test('an allowed-elsewhere algorithm not in the issuer list is refused', async () => {
  const v = new OidcTokenVerifier({ issuers: [{ issuer: GH, audience: 'gatehouse', jwksUri: jwks.url, algorithms: ['ES256'] }] });
  await assert.rejects(v.verify(await sign({})), {
    code: 'GW_AUTH_ALGORITHM',
    message: `algorithm 'RS256' is not allowed for issuer '${GH}' (allowed: ES256)`,
  });
});

test('garbage is refused without echoing it', async () => {
  for (const garbage of ['hunter2-my-password', 'a.b.c', 'eyJhbGciOiJSUzI1NiJ9.bm90LWpzb24.sig', 'x'.repeat(20_000)]) {
    await assert.rejects(verifier.verify(garbage), (e: unknown) => {
      assert.ok(e instanceof GatewayError);
      assert.equal(e.code, 'GW_AUTH_TOKEN_INVALID');
      assert.ok(!e.message.includes(garbage.slice(0, 12)), e.message);
      return true;
    });
  }
  await assert.rejects(verifier.verify(''), { code: 'GW_AUTH_TOKEN_MISSING' });
});

test('tokens without exp or sub are refused', async () => {
  await refused(sign({ exp: undefined }), 'GW_AUTH_TOKEN_INVALID', "token has no 'exp' claim");
  await refused(sign({ sub: undefined }), 'GW_AUTH_TOKEN_INVALID', "token has no 'sub' claim");
});

test('unknown kid and an unavailable JWKS', async () => {
  const fresh = new OidcTokenVerifier({ issuers: [{ issuer: GH, audience: 'gatehouse', jwksUri: jwks.url }] });
  jwks.failWith = 500;
  try {
    await assert.rejects(fresh.verify(await sign({})), {
      code: 'GW_AUTH_JWKS_UNAVAILABLE',
      message: `cannot fetch the signing keys of issuer '${GH}' (JWKS fetch failed); try again later`,
    });
  } finally {
    jwks.failWith = undefined;
  }
  // the failure is remembered briefly: no request storm against a struggling IdP
  const fetches = jwks.fetches;
  await assert.rejects(fresh.verify(await sign({})), { code: 'GW_AUTH_JWKS_UNAVAILABLE' });
  assert.equal(jwks.fetches, fetches);
  await refused(sign({}, { kid: 'nobody' }), 'GW_AUTH_SIGNATURE', `no signing key of issuer '${GH}' matches the token (kid 'nobody')`);
});

test('construction fails closed on unsafe issuer config', () => {
  const bad = [
    { issuer: GH, audience: 'gatehouse', algorithms: ['HS256'] },
    { issuer: GH, audience: 'gatehouse', algorithms: ['none'] },
    { issuer: 'http://idp.example.com', audience: 'gatehouse' },
    { issuer: GH, audience: 'gatehouse', jwksUri: 'http://idp.example.com/jwks' },
    { issuer: GH, audience: [] },
  ];
  for (const c of bad) assert.throws(() => new OidcTokenVerifier({ issuers: [c] }), { code: 'GW_CONFIG_INVALID' }, JSON.stringify(c));
  assert.throws(() => new OidcTokenVerifier({ issuers: [{ issuer: GH, audience: 'a' }, { issuer: GH, audience: 'b' }] }), { code: 'GW_CONFIG_INVALID' });
});
