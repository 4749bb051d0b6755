import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { policyCheck, policyExplain, policyTest } from './tools.ts';

const DEMO = fileURLToPath(new URL('../../../policy/demo', import.meta.url));
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'gatehouse-tools-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('policyCheck', () => {
  test('the demo policies are valid', () => {
    const r = policyCheck(DEMO);
    assert.equal(r.ok, true);
    assert.deepEqual(r.errors, []);
    assert.equal(r.policies, 7);
  });

  test('reports every problem with file and line', () => {
    const d = tempDir();
    writeFileSync(join(d, 'a.cedar'), '@id("a")\npermit (principal, action, resource)\n  when { context.nosuch };\n');
    writeFileSync(join(d, 'b.cedar'), '\n\nforbid (principal, action, resource) unless { ;\n');
    const r = policyCheck(d);
    assert.equal(r.ok, false);
    assert.deepEqual(
      r.errors.map((e) => [e.file, e.line]),
      [['b.cedar', 3]],
      'parse errors first; validation runs once everything parses',
    );
    writeFileSync(join(d, 'b.cedar'), '@id("b") forbid (principal, action, resource);');
    const r2 = policyCheck(d);
    assert.deepEqual(r2.errors.map((e) => [e.file, e.line]), [['a.cedar', 3]]);
    assert.match(r2.errors[0]?.message ?? '', /nosuch/);
  });

  test('a missing folder is reported, not thrown', () => {
    const r = policyCheck(join(tempDir(), 'missing'));
    assert.equal(r.ok, false);
    assert.match(r.errors[0]?.message ?? '', /not found/);
  });
});

describe('policyExplain', () => {
  test('shows the classification, each pair decision and the deciding policies', async () => {
    const out = await policyExplain({
      sub: 'ci-bot',
      groups: ['agents'],
      claims: { repository: 'bank/app' },
      connection: 'demo',
      sql: 'INSERT INTO orders SELECT * FROM customers; DROP TABLE x',
      dir: DEMO,
      time: Date.UTC(2026, 0, 5, 10),
    });
    assert.match(out, /identity: +ci-bot \(groups: agents\), workload, claims: repository=bank\/app/);
    assert.match(out, /connection: demo \(connect: allow by 'agents-connect'\)/);
    assert.match(out, /\[1\] InsertStmt/);
    assert.match(out, /sql:write +public\.orders +→ REQUIRE APPROVAL \[approval_required\] +by 'agents-write-with-dba-approval' +\(1 approval from dba, valid 15m\)/);
    assert.match(out, /sql:read +public\.customers +→ ALLOW \[permitted_by_policy\] +by 'agents-read-only'/);
    assert.match(out, /\[2\] DropStmt/);
    assert.match(out, /sql:ddl +public\.x +→ DENY \[forbidden_by_policy\] +by 'no-ddl'/);
    assert.match(out, /decision: +DENY/);
    assert.match(out, /message: +Gatehouse denied sql:ddl on public\.x: forbidden by policy 'no-ddl'/);
  });

  test('shows unmask and parse errors', async () => {
    const fran = await policyExplain({ sub: 'fran', groups: ['fraud-analysts'], connection: 'demo', sql: 'SELECT 1', dir: DEMO });
    assert.match(fran, /unmask: +payment_card/);
    const bad = await policyExplain({ sub: 'x', groups: ['agents'], connection: 'demo', sql: 'SELEC', dir: DEMO });
    assert.match(bad, /parse error: syntax error at or near "SELEC"/);
    assert.match(bad, /sql:unknown/);
  });
});

describe('policyTest', () => {
  test('the demo expectations all hold', async () => {
    const r = await policyTest(join(DEMO, 'tests.yaml'));
    assert.deepEqual(r.failed, []);
    assert.equal(r.passed, 16);
  });

  test('misses and invalid cases are reported by name', async () => {
    const d = tempDir();
    const file = join(d, 't.yaml');
    writeFileSync(
      file,
      `defaults: { connection: demo }
tests:
  - name: wrong expectation
    identity: { sub: a, groups: [agents] }
    sql: DELETE FROM customers
    expect: allow
  - name: wrong unmask
    identity: { sub: a, groups: [agents] }
    sql: SELECT 1
    expect: allow
    unmask: [payment_card]
  - name: no identity
    sql: SELECT 1
    expect: allow
  - name: bad expectation
    identity: { sub: a }
    sql: SELECT 1
    expect: maybe
  - name: right
    identity: { sub: a, groups: [agents] }
    sql: SELECT 1
    expect: allow
`,
    );
    const r = await policyTest(file, DEMO);
    assert.equal(r.passed, 1);
    assert.deepEqual(
      r.failed.map((f) => [f.name, f.expected, f.got]),
      [
        ['wrong expectation', 'allow', 'require_approval'],
        ['wrong unmask', 'unmask [payment_card]', 'unmask []'],
        ['no identity', 'allow', 'invalid test'],
        ['bad expectation', 'maybe', 'invalid test'],
      ],
    );
  });

  test('a file without a policy folder or tests is an error', async () => {
    const d = tempDir();
    writeFileSync(join(d, 'a.yaml'), 'tests: []\n');
    await assert.rejects(policyTest(join(d, 'a.yaml')), /no policy folder/);
    writeFileSync(join(d, 'b.yaml'), 'policies: .\n');
    await assert.rejects(policyTest(join(d, 'b.yaml')), /tests/);
  });
});
