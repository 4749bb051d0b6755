import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { DevIssuer } from './dev-issuer.ts';
import { OidcTokenVerifier } from './verifier.ts';

test('the dev issuer key is created once (0600), reused, and its tokens verify', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-dev-'));
  try {
    const dev = await DevIssuer.load(join(dir, 'state'));
    const file = join(dir, 'state', 'dev-issuer.jwk');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const first = readFileSync(file, 'utf8');
    assert.equal(JSON.parse(first).crv, 'P-256');
    const jwks = dev.jwks();
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]?.d, undefined, 'no private part in the JWKS');

    chmodSync(file, 0o644);
    const again = await DevIssuer.load(join(dir, 'state'));
    assert.equal(readFileSync(file, 'utf8'), first);
    assert.equal(statSync(file).mode & 0o777, 0o600, 'a loose mode is tightened');
    assert.deepEqual(again.jwks(), jwks);

    const token = await again.sign({ sub: 'alice', groups: ['dba'], claims: { email: 'alice@example.com', iss: 'https://evil' } });
    assert.equal(decodeProtectedHeader(token).kid, jwks.keys[0]?.kid);
    const verifier = new OidcTokenVerifier({ issuers: [], dev });
    const p = await verifier.verify(token);
    assert.equal(p.issuer, DevIssuer.ISSUER);
    assert.equal(p.subject, 'alice');
    assert.equal(p.kind, 'human');
    assert.deepEqual(p.groups, ['dba']);
    assert.equal(p.claims.email, 'alice@example.com');
    assert.ok(p.expiresAt !== undefined && Math.abs(p.expiresAt - (Date.now() + 900_000)) < 5_000);

    const bot = await dev.sign({ sub: 'ci-bot', groups: [], claims: { gatehouse_kind: 'workload' }, ttlSeconds: 60 });
    assert.equal((await verifier.verify(bot)).kind, 'workload');
    await assert.rejects(verifier.verify(await dev.sign({ sub: 'x', groups: [], audience: 'other' })), { code: 'GW_AUTH_AUDIENCE' });
    await assert.rejects(verifier.verify(await dev.sign({ sub: 'x', groups: [], claims: { gatehouse_kind: 'root' } })), {
      code: 'GW_AUTH_TOKEN_INVALID',
      message: "token claim 'gatehouse_kind' must be 'human' or 'workload'",
    });
    await assert.rejects(new OidcTokenVerifier({ issuers: [] }).verify(token), { code: 'GW_DEV_ISSUER_DISABLED' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
