import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicies, checkSchema, splitPolicies } from './source.ts';
import { parseApprovalTerms, parseDuration, formatDuration } from './annotations.ts';
import { LruCache } from './lru.ts';
import { GATEHOUSE_SCHEMA } from './schema.ts';

describe('splitPolicies', () => {
  test('splits at top-level semicolons only', () => {
    const text = `// a; comment
@id("a;b") permit (principal, action, resource) when { context.clientAddress like "*;*" };
// between
forbid (principal, action, resource) when { "\\";" == "x" };
// trailing comment; with semicolon
`;
    const chunks = splitPolicies(text);
    assert.equal(chunks.length, 2);
    assert.match(chunks[0]?.text ?? '', /@id\("a;b"\)/);
    assert.match(chunks[1]?.text ?? '', /^\n\/\/ between\nforbid/);
  });

  test('keeps an unterminated trailing policy so that Cedar reports it', () => {
    assert.equal(splitPolicies('permit (principal, action, resource)').length, 1);
    assert.equal(splitPolicies('  // only a comment\n').length, 0);
  });
});

describe('compilePolicies', () => {
  const compile = (text: string, file = 'f.cedar') => compilePolicies([{ id: file, file, text }], GATEHOUSE_SCHEMA);

  test('the demo-style policies compile with ids, effects, lines and terms', () => {
    const r = compile(`@id("read")
permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"sql:read", resource);

@id("write")
@approvers("dba") @approvals("1") @approval_ttl("15m")
permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"sql:write", resource) when { context has approval };
`);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.policies.map((p) => [p.id, p.effect, p.line]), [['read', 'permit', 1], ['write', 'permit', 4]]);
    assert.deepEqual(r.policies[1]?.approval, { approvers: ['dba'], approvals: 1, ttlSeconds: 900 });
  });

  test('parse errors point at the line of the problem (multi-byte text before it)', () => {
    const r = compile('// Überprüfung — ünïcödé\n@id("ok") permit (principal, action, resource);\n\npermit (principal, action, resource)\n  when { context.hour > };\n');
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]?.line, 5);
    assert.match(r.errors[0]?.message ?? '', /unexpected token/);
  });

  test('validation errors point at the offending expression', () => {
    const r = compile('@id("a") permit (principal, action, resource);\n@id("b") permit (principal, action == Gatehouse::Action::"sql:read", resource)\n  when {\n    context.approval.id == "x"\n  };');
    assert.equal(r.errors.length, 1, JSON.stringify(r.errors));
    assert.equal(r.errors[0]?.line, 4);
    assert.match(r.errors[0]?.message ?? '', /policy 'b'.*approval/);
  });

  test('unknown entity types and actions are refused', () => {
    assert.ok(compile('permit (principal == Gatehouse::User::"x", action, resource);').errors.length > 0);
    assert.ok(compile('permit (principal, action == Gatehouse::Action::"sql:drop", resource);').errors.length > 0);
    const impossible = compile('forbid (principal, action == Gatehouse::Action::"unmask", resource == Gatehouse::Table::"t");');
    assert.ok(impossible.errors.some((e) => /impossible/.test(e.message)), 'a policy that can never apply is an error');
  });

  test('duplicate ids, empty ids, templates and bad annotations are errors', () => {
    const dup = compilePolicies(
      [
        { id: 'a', file: 'a.cedar', text: '@id("x") permit (principal, action, resource);' },
        { id: 'b', file: 'b.cedar', text: '\n@id("x") forbid (principal, action, resource);' },
      ],
      GATEHOUSE_SCHEMA,
    );
    assert.deepEqual(dup.errors.map((e) => [e.file, e.line]), [['b.cedar', 2]]);
    assert.match(dup.errors[0]?.message ?? '', /duplicate policy id 'x' \(first defined in a\.cedar:1\)/);
    assert.match(compile('@id("") permit (principal, action, resource);').errors[0]?.message ?? '', /@id must not be empty/);
    assert.match(compile('permit (principal == ?principal, action, resource);').errors[0]?.message ?? '', /template/);
    const bad = compile('@approvals("two") @approval_ttl("soon") @approvers(" , ") permit (principal, action, resource) when { context has approval };');
    assert.equal(bad.errors.length, 3);
  });

  test('approval annotations on a forbid are a warning', () => {
    const r = compile('@approvers("dba") forbid (principal, action, resource);');
    assert.deepEqual(r.errors, []);
    assert.equal(r.warnings.length, 1);
  });

  test('a schema problem is reported against the schema file', () => {
    const p = checkSchema('namespace X {\n  entity A;\n  entity B in [C];\n}', 'my.cedarschema');
    assert.equal(p[0]?.file, 'my.cedarschema');
    assert.equal(p[0]?.line, 3);
  });
});

describe('annotations', () => {
  test('durations', () => {
    assert.equal(parseDuration('15m'), 900);
    assert.equal(parseDuration('1h30m'), 5400);
    assert.equal(parseDuration('2d'), 172800);
    assert.equal(parseDuration('45s'), 45);
    assert.equal(parseDuration('15'), null);
    assert.equal(parseDuration('m'), null);
    assert.equal(parseDuration('1.5h'), null);
    assert.equal(formatDuration(900), '15m');
    assert.equal(formatDuration(5400), '90m');
    assert.equal(formatDuration(7200), '2h');
    assert.equal(formatDuration(61), '61s');
  });

  test('terms and defaults', () => {
    assert.deepEqual(parseApprovalTerms({}), { terms: { approvers: [], approvals: 1, ttlSeconds: 900 }, problems: [] });
    assert.deepEqual(parseApprovalTerms({ approvers: 'dba, security ,', approvals: '3', approval_ttl: '1h' }).terms, { approvers: ['dba', 'security'], approvals: 3, ttlSeconds: 3600 });
    assert.equal(parseApprovalTerms({ approvals: '0' }).problems.length, 1);
    assert.equal(parseApprovalTerms({ approval_ttl: '90d' }).problems.length, 1);
  });
});

describe('LruCache', () => {
  test('evicts the least recently used entry', () => {
    const c = new LruCache<string, number>(2);
    c.set('a', 1);
    c.set('b', 2);
    assert.equal(c.get('a'), 1);
    c.set('c', 3);
    assert.equal(c.get('b'), undefined);
    assert.equal(c.get('a'), 1);
    assert.equal(c.get('c'), 3);
    assert.equal(c.size, 2);
    const none = new LruCache<string, number>(0);
    none.set('a', 1);
    assert.equal(none.get('a'), undefined);
  });
});
