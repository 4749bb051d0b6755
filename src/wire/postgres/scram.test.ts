import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { ScramClient } from './scram.ts';
import { md5Password } from './md5.ts';
import { throwsCode } from './testing.ts';

// RFC 7677 §3 test vector.
const NONCE = 'rOprNGfwEbeRWgbNEkqO';
const SERVER_FIRST = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
const CLIENT_FINAL = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
const SERVER_FINAL = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

function rfcClient(): ScramClient {
  return new ScramClient('pencil', NONCE, { username: 'user' });
}

test('SCRAM-SHA-256: RFC 7677 test vector', () => {
  const c = rfcClient();
  assert.equal(c.clientFirstMessage().toString(), 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
  assert.equal(c.handleServerFirst(Buffer.from(SERVER_FIRST)).toString(), CLIENT_FINAL);
  assert.equal(c.serverVerified, false);
  c.verifyServerFinal(Buffer.from(SERVER_FINAL));
  assert.equal(c.serverVerified, true);
});

test('SCRAM: a wrong server signature fails authentication', () => {
  const c = rfcClient();
  c.clientFirstMessage();
  c.handleServerFirst(Buffer.from(SERVER_FIRST));
  const wrong = SERVER_FINAL.replace('6rri', '7rri');
  throwsCode(() => c.verifyServerFinal(Buffer.from(wrong)), 'GW_UPSTREAM_AUTH_FAILED', /signature/);
  assert.equal(c.serverVerified, false);
  // The exchange is over: the genuine signature is no longer accepted either.
  throwsCode(() => c.verifyServerFinal(Buffer.from(SERVER_FINAL)), 'GW_UPSTREAM_PROTOCOL');
});

test('SCRAM: server errors and malformed server-final', () => {
  const ready = (): ScramClient => {
    const c = rfcClient();
    c.clientFirstMessage();
    c.handleServerFirst(Buffer.from(SERVER_FIRST));
    return c;
  };
  throwsCode(() => ready().verifyServerFinal(Buffer.from('e=invalid-proof')), 'GW_UPSTREAM_AUTH_FAILED', /invalid-proof/);
  throwsCode(() => ready().verifyServerFinal(Buffer.from('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4')), 'GW_UPSTREAM_PROTOCOL');
  throwsCode(() => ready().verifyServerFinal(Buffer.from(`${SERVER_FINAL},x=1`)), 'GW_UPSTREAM_PROTOCOL');
  throwsCode(() => ready().verifyServerFinal(Buffer.from('v=AAAA')), 'GW_UPSTREAM_AUTH_FAILED');
  throwsCode(() => ready().verifyServerFinal(Buffer.alloc(0)), 'GW_UPSTREAM_PROTOCOL');
});

test('SCRAM: server-first validation', () => {
  const attempt = (serverFirst: string): (() => unknown) => () => {
    const c = rfcClient();
    c.clientFirstMessage();
    return c.handleServerFirst(Buffer.from(serverFirst));
  };
  const salt = 's=W22ZaJ0SNY7soEsUEjb6gQ==';
  const nonce = 'r=rOprNGfwEbeRWgbNEkqO%hvY';
  throwsCode(attempt(`r=someoneElsesNonce,${salt},i=4096`), 'GW_UPSTREAM_AUTH_FAILED', /nonce/);
  throwsCode(attempt(`r=${NONCE},${salt},i=4096`), 'GW_UPSTREAM_AUTH_FAILED', /nonce/); // not extended
  throwsCode(attempt(`${nonce},s=not base64!,i=4096`), 'GW_UPSTREAM_PROTOCOL', /salt/);
  throwsCode(attempt(`${nonce},s=,i=4096`), 'GW_UPSTREAM_PROTOCOL', /salt/);
  throwsCode(attempt(`${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ,i=4096`), 'GW_UPSTREAM_PROTOCOL', /salt/);
  for (const i of ['0', '-1', '10000001', '4096x', '', '0100', '99999999999']) {
    throwsCode(attempt(`${nonce},${salt},i=${i}`), 'GW_UPSTREAM_PROTOCOL', /iteration/);
  }
  throwsCode(attempt(`m=ext,${nonce},${salt},i=4096`), 'GW_UPSTREAM_PROTOCOL');
  throwsCode(attempt(`${nonce},${salt},i=4096,x=extra`), 'GW_UPSTREAM_PROTOCOL');
  throwsCode(attempt(`${salt},${nonce},i=4096`), 'GW_UPSTREAM_PROTOCOL');
  throwsCode(attempt(`${nonce},${salt},i=4096\0`), 'GW_UPSTREAM_PROTOCOL');
});

test('SCRAM: calls out of order are refused', () => {
  const c = rfcClient();
  throwsCode(() => c.handleServerFirst(Buffer.from(SERVER_FIRST)), 'GW_UPSTREAM_PROTOCOL');
  throwsCode(() => c.verifyServerFinal(Buffer.from(SERVER_FINAL)), 'GW_UPSTREAM_PROTOCOL');
  c.clientFirstMessage();
  throwsCode(() => c.clientFirstMessage(), 'GW_UPSTREAM_PROTOCOL');
});

test('SCRAM: like libpq, an empty user name and a fresh 18-byte nonce', () => {
  const a = new ScramClient('pw').clientFirstMessage().toString();
  const b = new ScramClient('pw').clientFirstMessage().toString();
  assert.match(a, /^n,,n=,r=[A-Za-z0-9+/]{24}$/);
  assert.notEqual(a, b);
  assert.equal(new ScramClient('pw', 'abc', { username: 'a=b,c' }).clientFirstMessage().toString(), 'n,,n=a=3Db=2Cc,r=abc');
});

/**
 * A minimal SCRAM server holding a verifier that PostgreSQL 18 generated for
 * the password "\u2168" (Roman numeral nine; NFKC "IX"): proves the client
 * authenticates against a real stored secret, SASLprep included.
 */
test('SCRAM: authenticates against a verifier stored by PostgreSQL', () => {
  const salt = 'm3Aune06pd/k86PdR9Byiw==';
  const storedKey = Buffer.from('gwlT+6Tmf+2gGHjlvdrEguyqLhFySO7gW2U0VMNhzdM=', 'base64');
  const serverKey = Buffer.from('Vct7eqPoaGj/9Qpm0qIQ6yX+xZDvvhSzs3DKkSGH31E=', 'base64');
  const c = new ScramClient('\u2168');
  const clientFirst = c.clientFirstMessage().toString();
  const clientFirstBare = clientFirst.slice(3);
  const nonce = `${/r=(.*)$/.exec(clientFirst)![1]}serverpart`;
  const serverFirst = `r=${nonce},s=${salt},i=4096`;
  const clientFinal = c.handleServerFirst(Buffer.from(serverFirst)).toString();
  const [withoutProof, proofB64] = clientFinal.split(',p=') as [string, string];
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  // Server side (RFC 5802 §3): ClientKey = proof XOR HMAC(StoredKey, AuthMessage); H(ClientKey) must equal StoredKey.
  const signature = createHmac('sha256', storedKey).update(authMessage).digest();
  const proof = Buffer.from(proofB64, 'base64');
  const clientKey = Buffer.from(proof.map((x, i) => x ^ signature[i]!));
  assert.deepEqual(createHash('sha256').update(clientKey).digest(), storedKey);
  c.verifyServerFinal(Buffer.from(`v=${createHmac('sha256', serverKey).update(authMessage).digest('base64')}`));
  assert.equal(c.serverVerified, true);
});

test('md5Password matches the documented formula', () => {
  const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');
  const salt = Buffer.from([0x93, 0x00, 0xff, 0x7a]);
  const expected = 'md5' + md5(Buffer.concat([Buffer.from(md5('s3cretalice')), salt]));
  assert.equal(md5Password('alice', 's3cret', salt), expected);
  // byteOffset: the salt as a view into a larger buffer (as decodeAuthentication returns it)
  const view = Buffer.from([0, 0, 0, 5, 0x93, 0x00, 0xff, 0x7a, 0xee]).subarray(4, 8);
  assert.equal(md5Password('alice', 's3cret', view), expected);
  throwsCode(() => md5Password('alice', 's3cret', Buffer.alloc(3)), 'GW_UPSTREAM_PROTOCOL');
});
