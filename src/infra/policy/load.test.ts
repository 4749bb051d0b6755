import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initClassifier, classifyPostgres } from '../../core/classify/sql/postgres.ts';
import { PolicyCompileError } from '../../core/policy/cedar-authorizer.ts';
import { GATEHOUSE_SCHEMA } from '../../core/policy/schema.ts';
import { CTX, principal } from '../../core/policy/testing.ts';
import type { PolicyProblem } from '../../core/policy/source.ts';
import { BUNDLED_SCHEMA_PATH, loadPolicyDir, PolicyStore, readPolicyFolder } from './load.ts';

const DEMO = fileURLToPath(new URL('../../../policy/demo', import.meta.url));
const bot = principal('ci-bot', ['agents']);
const READ = '@id("read") permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"sql:read", resource);\n';
const WRITE = '@id("write") permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"sql:write", resource);\n';

let dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'gatehouse-policy-'));
  dirs.push(d);
  return d;
}

before(async () => {
  await initClassifier();
});
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function decide(store: { decideStatement: PolicyStore['decideStatement'] }, sql: string) {
  return store.decideStatement(bot, 'demo', classifyPostgres(sql, { searchPath: ['public'] }), CTX).effect;
}

/** Resolve when `pred` holds (polled), or fail after `ms`. */
async function eventually(pred: () => boolean, ms = 5000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('policy folder loading', () => {
  test('the published schema file and the embedded schema are identical', () => {
    assert.equal(readFileSync(BUNDLED_SCHEMA_PATH, 'utf8'), GATEHOUSE_SCHEMA);
  });

  test('the demo folder loads', () => {
    const a = loadPolicyDir(DEMO);
    assert.deepEqual(
      a.policies.map((p) => p.id).sort(),
      ['agents-connect', 'agents-read-only', 'agents-write-with-dba-approval', 'dba-read-write', 'fraud-analysts-connect-read', 'fraud-analysts-unmask-cards', 'no-ddl'],
    );
    assert.deepEqual(a.warnings, []);
  });

  test('reads nested .cedar files in path order, ignores others and dot files', () => {
    const d = tempDir();
    mkdirSync(join(d, 'team'));
    mkdirSync(join(d, '.git'));
    writeFileSync(join(d, 'b.cedar'), 'permit (principal, action == Gatehouse::Action::"sql:read", resource);');
    writeFileSync(join(d, 'team', 'a.cedar'), 'permit (principal, action == Gatehouse::Action::"connect", resource);');
    writeFileSync(join(d, '.hidden.cedar'), 'broken');
    writeFileSync(join(d, '.git', 'x.cedar'), 'broken');
    writeFileSync(join(d, 'notes.txt'), 'broken');
    const f = readPolicyFolder(d);
    assert.deepEqual(f.sources.map((s) => s.file), ['b.cedar', 'team/a.cedar']);
    assert.equal(f.schemaFile, BUNDLED_SCHEMA_PATH);
    assert.deepEqual(loadPolicyDir(d).policies.map((p) => p.id), ['b.cedar:0', 'team/a.cedar:0']);
  });

  test("a folder's own schema is used", () => {
    const d = tempDir();
    writeFileSync(join(d, 'custom.cedarschema'), GATEHOUSE_SCHEMA.replace('entity DataClass;', 'entity DataClass;\n  entity Extra;'));
    writeFileSync(join(d, 'p.cedar'), 'permit (principal, action == Gatehouse::Action::"connect", resource) when { Gatehouse::Extra::"x" == Gatehouse::Extra::"x" };');
    assert.equal(loadPolicyDir(d).policies.length, 1);
    assert.throws(() => loadPolicyDir(d, { schemaPath: BUNDLED_SCHEMA_PATH }), PolicyCompileError);
  });

  test('a missing folder is a config error', () => {
    assert.throws(() => loadPolicyDir(join(tempDir(), 'nope')), /policy folder not found/);
  });
});

describe('PolicyStore', () => {
  test('manual reload: new version on change, none when unchanged, old set kept when broken', () => {
    const d = tempDir();
    writeFileSync(join(d, 'read.cedar'), READ);
    const errors: string[] = [];
    const reloads: number[] = [];
    const store = PolicyStore.open({ dir: d, watch: false, onError: (m) => errors.push(m), onReload: (v) => reloads.push(v) });
    assert.equal(store.version, 1);
    assert.equal(decide(store, 'SELECT 1'), 'allow');
    assert.equal(decide(store, 'DELETE FROM t'), 'deny');

    assert.deepEqual(store.reload(), { ok: true, version: 1, changed: false });

    writeFileSync(join(d, 'write.cedar'), WRITE);
    assert.deepEqual(store.reload(), { ok: true, version: 2, changed: true });
    assert.equal(decide(store, 'DELETE FROM t'), 'allow');
    assert.equal(store.authorize({ principal: bot, action: 'sql:write', connection: 'demo', context: CTX }).policyVersion, 2);

    writeFileSync(join(d, 'write.cedar'), `${WRITE}\n\npermit (principal, action, resource) when { principal.nope };\n`);
    const r = store.reload();
    assert.equal(r.ok, false);
    assert.equal(store.version, 2, 'old set stays in force');
    assert.equal(decide(store, 'DELETE FROM t'), 'allow');
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? '', /^policy reload failed; version 2 stays in force:\nwrite\.cedar:4: policy 'write\.cedar:1': /);

    unlinkSync(join(d, 'write.cedar'));
    assert.deepEqual(store.reload(), { ok: true, version: 3, changed: true });
    assert.equal(decide(store, 'DELETE FROM t'), 'deny');
    assert.deepEqual(reloads, [2, 3]);
    store.close();
  });

  test('a broken folder at startup refuses to open', () => {
    const d = tempDir();
    writeFileSync(join(d, 'x.cedar'), 'permit (principal, action, resource');
    assert.throws(
      () => PolicyStore.open({ dir: d, watch: false }),
      (e: unknown) => e instanceof PolicyCompileError && e.problems[0]?.file === 'x.cedar' && e.problems[0]?.line === 1,
    );
  });

  test('hot reload on file change; a broken edit keeps the old set and reports file and line', async () => {
    const d = tempDir();
    writeFileSync(join(d, 'read.cedar'), READ);
    const errors: { message: string; problems: readonly PolicyProblem[] }[] = [];
    const store = PolicyStore.open({ dir: d, debounceMs: 30, onError: (message, problems) => errors.push({ message, problems }) });
    try {
      assert.equal(decide(store, 'DELETE FROM t'), 'deny');

      // Atomic replace, as editors do.
      writeFileSync(join(d, '.write.cedar.tmp'), WRITE);
      renameSync(join(d, '.write.cedar.tmp'), join(d, 'write.cedar'));
      await eventually(() => store.version === 2);
      assert.equal(decide(store, 'DELETE FROM t'), 'allow');

      writeFileSync(join(d, 'read.cedar'), `${READ}\npermit (principal, action, resource) when { 1 + };\n`);
      await eventually(() => errors.length > 0);
      assert.equal(store.version, 2);
      assert.equal(decide(store, 'DELETE FROM t'), 'allow');
      assert.equal(errors[0]?.problems[0]?.file, 'read.cedar');
      assert.equal(errors[0]?.problems[0]?.line, 3);

      // Back to exactly the set in force: not a new version.
      writeFileSync(join(d, 'read.cedar'), READ);
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(store.version, 2);
      mkdirSync(join(d, 'nested'));
      writeFileSync(join(d, 'nested', 'ddl.cedar'), '@id("no-ddl") forbid (principal, action == Gatehouse::Action::"sql:ddl", resource);');
      await eventually(() => store.version === 3);
      assert.ok(store.current.policy('no-ddl'));
    } finally {
      store.close();
    }
  });
});
