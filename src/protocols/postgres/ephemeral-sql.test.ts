import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import {
  LEFTOVER_ROLES_SQL,
  ROLE_MARKER,
  createRoleSql,
  ephemeralPassword,
  ephemeralRoleName,
  markRoleSql,
  quoteIdent,
  quoteLiteral,
  scramVerifier,
  terminateBackendsSql,
} from './ephemeral-sql.ts';

test('identifiers are double-quoted with quotes doubled; what Postgres would mangle is refused', () => {
  assert.equal(quoteIdent('app_rw'), '"app_rw"');
  assert.equal(quoteIdent('a"b'), '"a""b"');
  assert.equal(quoteIdent('Robert"); DROP ROLE x; --'), '"Robert""); DROP ROLE x; --"');
  assert.throws(() => quoteIdent(''), RangeError);
  assert.throws(() => quoteIdent('a\0b'), RangeError);
  assert.throws(() => quoteIdent('x'.repeat(64)), RangeError);
  assert.equal(quoteIdent('é'.repeat(31)), `"${'é'.repeat(31)}"`); // 62 bytes
  assert.throws(() => quoteIdent('é'.repeat(32)), RangeError); // 64 bytes
});

test('literals mean the same under either standard_conforming_strings', () => {
  assert.equal(quoteLiteral('plain'), "'plain'");
  assert.equal(quoteLiteral("it's"), "'it''s'");
  assert.equal(quoteLiteral('back\\slash'), "E'back\\\\slash'");
  assert.equal(quoteLiteral("\\'; DROP"), "E'\\\\''; DROP'");
  assert.throws(() => quoteLiteral('a\0'), RangeError);
});

test('role names: gh_ prefix, lowercase, short, unique', () => {
  const name = ephemeralRoleName('ses_lq3k9x2a1b2c3d4e5f6');
  assert.match(name, /^gh_[a-z0-9]{1,10}_[0-9a-f]{10}$/);
  assert.ok(name.startsWith('gh_b2c3d4e5f6_'), 'ends of the session id: greppable in the session log');
  assert.equal(ephemeralRoleName('ses_ABC', Buffer.from('0102030405', 'hex')), 'gh_sesabc_0102030405');
  assert.notEqual(ephemeralRoleName('ses_x'), ephemeralRoleName('ses_x'));
  assert.ok(Buffer.byteLength(ephemeralRoleName('ses_' + 'z'.repeat(200))) <= 63);
});

test('passwords: 32 random bytes as base64url', () => {
  const p = ephemeralPassword();
  assert.match(p, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(Buffer.from(p, 'base64url').length, 32);
  assert.notEqual(p, ephemeralPassword());
});

test('the SCRAM verifier lets a server check the RFC 7677 exchange', () => {
  // RFC 7677 §3: user "user", password "pencil".
  const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
  const v = scramVerifier('pencil', { salt, iterations: 4096 });
  const m = /^SCRAM-SHA-256\$4096:([^$]+)\$([^:]+):(.+)$/.exec(v);
  assert.ok(m, v);
  assert.equal(m[1], salt.toString('base64'));
  const storedKey = Buffer.from(m[2]!, 'base64');
  const serverKey = Buffer.from(m[3]!, 'base64');
  const authMessage =
    'n=user,r=rOprNGfwEbeRWgbNEkqO,' +
    'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,' +
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
  // What the server does with the stored verifier (RFC 5802 §3).
  const clientSignature = createHmac('sha256', storedKey).update(authMessage).digest();
  const proof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
  const clientKey = Buffer.from(proof.map((b, i) => b ^ clientSignature[i]!));
  assert.deepEqual(createHash('sha256').update(clientKey).digest(), storedKey);
  assert.equal(createHmac('sha256', serverKey).update(authMessage).digest('base64'), '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  assert.throws(() => scramVerifier('naïve'), RangeError);
});

test('CREATE ROLE carries the verifier, never the password, and quotes every name', () => {
  const password = ephemeralPassword();
  const sql = createRoleSql('gh_abc_01', scramVerifier(password), new Date(Date.UTC(2030, 0, 2, 3, 4, 5)), 'app "rw"');
  assert.ok(!sql.includes(password));
  assert.match(sql, /^CREATE ROLE "gh_abc_01" LOGIN INHERIT .*CONNECTION LIMIT 1 PASSWORD 'SCRAM-SHA-256\$4096:/);
  assert.match(sql, / VALID UNTIL '2030-01-02T03:04:05\.000Z' IN ROLE "app ""rw"""$/);
  assert.equal(markRoleSql('gh_abc_01'), `COMMENT ON ROLE "gh_abc_01" IS '${ROLE_MARKER}'`);
});

test('termination waits on PG 14+, and the leftover query wants prefix and marker', () => {
  assert.match(terminateBackendsSql(150004), /pg_terminate_backend\(pid, 5000\)/);
  assert.match(terminateBackendsSql(130000), /pg_terminate_backend\(pid\) /);
  assert.match(LEFTOVER_ROLES_SQL, /LIKE 'gh!_%' ESCAPE '!'/);
  assert.match(LEFTOVER_ROLES_SQL, /shobj_description\(oid, 'pg_authid'\) = 'gatehouse-ephemeral'/);
});
