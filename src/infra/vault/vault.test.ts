import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vault } from './vault.ts';
import { GatewayError } from '../../shared/errors.ts';

const KEY_B64 = randomBytes(32).toString('base64');
const KEY_HEX = randomBytes(32).toString('hex');
const SECRET = 'pg-password-Zq9!xY7#unique';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'gh-vault-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function gatewayError(code: string, check?: (e: GatewayError) => void) {
  return (e: unknown) => {
    assert.ok(e instanceof GatewayError, String(e));
    assert.equal(e.code, code);
    check?.(e);
    return true;
  };
}

test('round trip: set, get, has, list, remove; a new instance reads the file', () => {
  withDir((dir) => {
    const v = Vault.open({ stateDir: dir, allowDevKey: false, env: { GATEHOUSE_MASTER_KEY: KEY_B64 } });
    assert.deepEqual(v.list(), []);
    assert.equal(v.has('customers'), false);
    v.set('customers', SECRET);
    v.set('billing.ro', 'ünïcödé ✓');
    assert.equal(v.get('customers'), SECRET);
    assert.equal(v.has('customers'), true);
    assert.deepEqual(v.list(), ['billing.ro', 'customers']);

    const again = Vault.open({ stateDir: dir, allowDevKey: false, env: { GATEHOUSE_MASTER_KEY: KEY_B64 } });
    assert.equal(again.get('billing.ro'), 'ünïcödé ✓');
    assert.equal(again.remove('billing.ro'), true);
    assert.equal(again.remove('billing.ro'), false);
    // the first instance notices the change made through the second (e.g. by the CLI)
    assert.deepEqual(v.list(), ['customers']);
    assert.throws(
      () => v.get('billing.ro'),
      gatewayError('GW_VAULT_SECRET_MISSING', (e) =>
        assert.equal(e.message, "vault secret 'billing.ro' is not set; run: gatehouse vault set billing.ro"),
      ),
    );
  });
});

test('hex keys work too', () => {
  withDir((dir) => {
    const v = Vault.open({ stateDir: dir, allowDevKey: false, env: { GATEHOUSE_MASTER_KEY: KEY_HEX } });
    v.set('x', SECRET);
    assert.equal(Vault.open({ stateDir: dir, allowDevKey: false, env: { GATEHOUSE_MASTER_KEY: KEY_HEX.toUpperCase() } }).get('x'), SECRET);
  });
});

test('on disk: JSON with version and entries, no plaintext, mode 0600, no temp files left', () => {
  withDir((dir) => {
    const v = Vault.open({ stateDir: dir, allowDevKey: false, env: { GATEHOUSE_MASTER_KEY: KEY_B64 } });
    v.set('customers', SECRET);
    const file = join(dir, 'vault.json');
    const text = readFileSync(file, 'utf8');
    assert.ok(!text.includes(SECRET));
    assert.ok(!text.includes(Buffer.from(SECRET).toString('base64')));
    const json = JSON.parse(text);
    assert.equal(json.version, 1);
    const e = json.entries.customers;
    assert.equal(Buffer.from(e.nonce, 'base64').length, 12);
    assert.equal(Buffer.from(e.tag, 'base64').length, 16);
    assert.ok(!Number.isNaN(Date.parse(e.createdAt)));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ['vault.json']);
  });
});

test('a fresh nonce per write: the same value twice gives different ciphertexts', () => {
  withDir((dir) => {
    const v = Vault.open({ stateDir: dir, allowDevKey: false, env: { GATEHOUSE_MASTER_KEY: KEY_B64 } });
    v.set('a', SECRET);
    v.set('b', SECRET);
    const first = JSON.parse(readFileSync(join(dir, 'vault.json'), 'utf8')).entries;
    v.set('a', SECRET);
    const second = JSON.parse(readFileSync(join(dir, 'vault.json'), 'utf8')).entries;
    assert.notEqual(first.a.nonce, first.b.nonce);
    assert.notEqual(first.a.ciphertext, first.b.ciphertext);
    assert.notEqual(first.a.nonce, second.a.nonce);
    assert.notEqual(first.a.ciphertext, second.a.ciphertext);
  });
});

test('a wrong key fails with GW_VAULT_CORRUPT, without the value', () => {
  withDir((dir) => {
    Vault.open({ stateDir: dir, allowDevKey: false, env: { GATEHOUSE_MASTER_KEY: KEY_B64 } }).set('customers', SECRET);
    const wrong = Vault.open({ stateDir: dir, allowDevKey: false, env: { GATEHOUSE_MASTER_KEY: randomBytes(32).toString('base64') } });
    assert.throws(
      () => wrong.get('customers'),
      gatewayError('GW_VAULT_CORRUPT', (e) => {
        assert.equal(e.message, "cannot decrypt vault secret 'customers': wrong GATEHOUSE_MASTER_KEY?");
        assert.ok(!e.message.includes(SECRET));
      }),
    );
  });
});

test('the name is bound: an entry copied to another name does not decrypt', () => {
  withDir((dir) => {
    const v = Vault.open({ stateDir: dir, allowDevKey: false, env: { GATEHOUSE_MASTER_KEY: KEY_B64 } });
    v.set('admin', SECRET);
    v.set('readonly', 'other');
    const file = join(dir, 'vault.json');
    const json = JSON.parse(readFileSync(file, 'utf8'));
    json.entries.readonly = json.entries.admin;
    writeFileSync(file, JSON.stringify(json));
    assert.throws(() => v.get('readonly'), gatewayError('GW_VAULT_CORRUPT'));
    // a truncated tag is not accepted either (GCM would otherwise take 4-byte tags)
    json.entries.admin.tag = Buffer.from(json.entries.admin.tag, 'base64').subarray(0, 4).toString('base64');
    writeFileSync(file, JSON.stringify(json) + ' ');
    assert.throws(() => v.get('admin'), gatewayError('GW_VAULT_CORRUPT'));
  });
});

test('a bad key format is refused with the expected format, never the value', () => {
  withDir((dir) => {
    const bad = ['my-master-password-1234', KEY_HEX.slice(2), randomBytes(16).toString('base64'), randomBytes(33).toString('base64')];
    for (const value of bad) {
      assert.throws(
        () => Vault.open({ stateDir: dir, allowDevKey: true, env: { GATEHOUSE_MASTER_KEY: value } }),
        gatewayError('GW_VAULT_KEY_MISSING', (e) => {
          assert.match(e.message, /32 random bytes encoded as base64 \(44 characters\) or hex \(64 characters\)/);
          assert.ok(!e.message.includes(value));
          assert.ok(!e.message.includes(value.slice(0, 8)));
        }),
      );
    }
  });
});

test('no key: refused unless allowDevKey, which creates master.key (0600) and reuses it', () => {
  withDir((dir) => {
    assert.throws(
      () => Vault.open({ stateDir: dir, allowDevKey: false, env: {} }),
      gatewayError('GW_VAULT_KEY_MISSING', (e) => assert.match(e.message, /GATEHOUSE_MASTER_KEY is not set/)),
    );
    const v = Vault.open({ stateDir: dir, allowDevKey: true, env: {} });
    v.set('x', SECRET);
    const keyFile = join(dir, 'master.key');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const key = readFileSync(keyFile, 'utf8');
    assert.equal(Vault.open({ stateDir: dir, allowDevKey: true, env: {} }).get('x'), SECRET);
    assert.equal(readFileSync(keyFile, 'utf8'), key);
    // the env key, when set, wins over the dev key file
    assert.equal(Vault.open({ stateDir: dir, allowDevKey: true, env: { GATEHOUSE_MASTER_KEY: key.trim() } }).get('x'), SECRET);
  });
});

test('invalid names are refused without echoing them; a corrupt file is reported at open', () => {
  withDir((dir) => {
    const v = Vault.open({ stateDir: dir, allowDevKey: false, env: { GATEHOUSE_MASTER_KEY: KEY_B64 } });
    for (const name of ['', 'has space', 'a/b', 'x'.repeat(129), 'p@ss:w0rd']) {
      assert.throws(
        () => v.set(name, SECRET),
        gatewayError('GW_CONFIG_INVALID', (e) => assert.ok(name === '' || !e.message.includes(name))),
      );
    }
    writeFileSync(join(dir, 'vault.json'), '{ not json');
    assert.throws(() => Vault.open({ stateDir: dir, allowDevKey: false, env: { GATEHOUSE_MASTER_KEY: KEY_B64 } }), gatewayError('GW_VAULT_CORRUPT'));
  });
});
