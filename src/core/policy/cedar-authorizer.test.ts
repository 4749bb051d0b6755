import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import * as wasm from '@cedar-policy/cedar-wasm/nodejs';
import { classifyPostgres, initClassifier } from '../classify/sql/postgres.ts';
import { CedarAuthorizer, PolicyCompileError, type CedarEngine, type StatementContext } from './cedar-authorizer.ts';
import { GATEHOUSE_SCHEMA } from './schema.ts';
import { CTX, MONDAY_10_UTC, READ_ONLY, principal } from './testing.ts';

const bot = principal('ci-bot', ['agents']);
const dba = principal('dana', ['dba'], {}, 'human');
const analyst = principal('fran', ['fraud-analysts'], {}, 'human');

function authz(text: string, extra: Partial<Parameters<typeof CedarAuthorizer.create>[0]> = {}): CedarAuthorizer {
  // validateRequests: every request the tests build must conform to the schema.
  return CedarAuthorizer.create({ policies: [{ id: 'test.cedar', file: 'test.cedar', text }], schemaText: GATEHOUSE_SCHEMA, validateRequests: true, ...extra });
}

function decide(a: CedarAuthorizer, p = bot, sql: string, conn = 'customers', ctx: StatementContext = CTX) {
  return a.decideStatement(p, conn, classifyPostgres(sql, { searchPath: ['$user', 'public'] }), ctx);
}

const WRITE_WITH_APPROVAL = `@id("writes-need-dba")
@approvers("dba, security") @approvals("2") @approval_ttl("1h30m")
permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"sql:write", resource in Gatehouse::Connection::"customers")
when { context has approval };
`;

before(async () => {
  await initClassifier();
});

describe('CedarAuthorizer: decisions', () => {
  test('allow: a permitted read names the policy', () => {
    const d = decide(authz(READ_ONLY), bot, 'SELECT * FROM customers');
    assert.equal(d.effect, 'allow');
    assert.deepEqual(d.policyIds, ['agents-read-only']);
    assert.equal(d.decision.effect, 'allow');
    assert.equal(d.pairs[0]?.reason, 'permitted_by_policy');
  });

  test('deny: default deny, with the message the issue specifies', () => {
    const d = decide(authz(READ_ONLY), bot, 'UPDATE customers SET name = 1');
    assert.equal(d.effect, 'deny');
    assert.equal(
      d.message,
      "Gatehouse denied sql:write on public.customers: no policy permits it for ci-bot (groups: agents). Policy 'agents-read-only' allows sql:read.",
    );
    assert.equal(d.reasons[0]?.code, 'no_policy_permits');
    assert.equal(d.decision.effect, 'deny');
  });

  test('deny: nothing at all permitted says so', () => {
    const d = decide(authz(READ_ONLY), principal('eve', []), 'SELECT 1');
    assert.equal(d.effect, 'deny');
    assert.match(d.message, /no policy permits it for eve \(groups: none\)\. No SQL on connection 'customers' is permitted for eve\./);
  });

  test('forbid wins over permit and its @reason is shown', () => {
    const a = authz(`@id("all") permit (principal, action, resource);
@id("no-ddl") @reason("use migrations") forbid (principal, action == Gatehouse::Action::"sql:ddl", resource);`);
    const d = decide(a, bot, 'DROP TABLE customers');
    assert.equal(d.effect, 'deny');
    assert.deepEqual(d.policyIds, ['no-ddl']);
    assert.equal(d.reasons[0]?.code, 'forbidden_by_policy');
    assert.match(d.message, /^Gatehouse denied sql:ddl on public\.customers: forbidden by policy 'no-ddl' for ci-bot \(groups: agents\): use migrations\. Policy 'all' allows sql:read; /);
    assert.equal(decide(a, bot, 'SELECT 1').effect, 'allow');
  });

  test('require_approval: carries the annotation terms, and the approved request is allowed', () => {
    const a = authz(READ_ONLY + WRITE_WITH_APPROVAL);
    const d = decide(a, bot, 'DELETE FROM customers WHERE id = 1');
    assert.equal(d.effect, 'require_approval');
    assert.deepEqual(d.approval, { approvers: ['dba', 'security'], approvals: 2, ttlSeconds: 5400, policyId: 'writes-need-dba' });
    assert.deepEqual(d.policyIds, ['writes-need-dba']);
    assert.equal(
      d.message,
      "Gatehouse requires approval for sql:write on public.customers: policy 'writes-need-dba' permits it for ci-bot (groups: agents) once approved (2 approvals from dba or security, valid 90m).",
    );
    // The port shape stays fail closed for code that only knows allow/deny.
    assert.equal(d.decision.effect, 'deny');
    assert.equal(d.decision.reasons[0]?.code, 'approval_required');
    assert.deepEqual(d.decision.approval, d.approval);
    const approved = decide(a, bot, 'DELETE FROM customers WHERE id = 1', 'customers', { ...CTX, approval: { id: 'apr-1', approvers: ['dana', 'sam'], approvedAt: MONDAY_10_UTC } });
    assert.equal(approved.effect, 'allow');
    assert.deepEqual(approved.policyIds, ['writes-need-dba']);
  });

  test('require_approval is not offered when a forbid applies', () => {
    const a = authz(WRITE_WITH_APPROVAL + '@id("freeze") forbid (principal, action == Gatehouse::Action::"sql:write", resource);');
    const d = decide(a, bot, 'DELETE FROM customers');
    assert.equal(d.effect, 'deny');
    assert.deepEqual(d.policyIds, ['freeze']);
  });

  test('denial messages offer approval as an alternative', () => {
    const a = authz(READ_ONLY + WRITE_WITH_APPROVAL);
    const d = decide(a, bot, 'TRUNCATE orders; SELECT 1');
    assert.equal(d.effect, 'require_approval');
    const ddl = decide(a, bot, 'ALTER TABLE customers ADD COLUMN x int');
    assert.equal(
      ddl.message,
      "Gatehouse denied sql:ddl on public.customers: no policy permits it for ci-bot (groups: agents). Policy 'agents-read-only' allows sql:read; policy 'writes-need-dba' allows sql:write with 2 approvals from dba or security, valid 90m.",
    );
  });

  test('multi-pair: INSERT INTO a SELECT FROM b needs both pairs', () => {
    const writeA = `@id("write-a") permit (principal, action == Gatehouse::Action::"sql:write", resource == Gatehouse::Table::"public.a");`;
    const readB = `@id("read-b") permit (principal, action == Gatehouse::Action::"sql:read", resource == Gatehouse::Table::"public.b");`;
    const onlyA = decide(authz(writeA), bot, 'INSERT INTO a SELECT * FROM b');
    assert.equal(onlyA.effect, 'deny');
    assert.deepEqual(
      onlyA.pairs.map((p) => [p.action, p.table, p.effect]),
      [
        ['sql:write', 'public.a', 'allow'],
        ['sql:read', 'public.b', 'deny'],
      ],
    );
    assert.match(onlyA.message, /^Gatehouse denied sql:read on public\.b: no policy permits it/);
    assert.equal(decide(authz(readB), bot, 'INSERT INTO a SELECT * FROM b').effect, 'deny');
    const both = decide(authz(writeA + readB), bot, 'INSERT INTO a SELECT * FROM b');
    assert.equal(both.effect, 'allow');
    assert.deepEqual(both.policyIds, ['write-a', 'read-b']);
  });

  test('every statement of a multi-statement string is decided', () => {
    const d = decide(authz(READ_ONLY), bot, 'SELECT 1; DELETE FROM customers; DROP TABLE orders');
    assert.equal(d.effect, 'deny');
    assert.deepEqual(d.pairs.map((p) => p.statementIndex), [0, 1, 2]);
    assert.match(d.message, /\(1 more denied: sql:ddl on public\.orders\)$/);
  });

  test('transaction control is allowed without any policy; an empty query is allowed', () => {
    const a = authz('');
    for (const sql of ['BEGIN', 'COMMIT', 'SAVEPOINT a; ROLLBACK TO a', 'SET statement_timeout = 1000', 'DEALLOCATE ALL']) {
      const d = decide(a, bot, sql);
      assert.equal(d.effect, 'allow', sql);
      assert.equal(d.reasons[0]?.code, 'transaction_control');
    }
    assert.equal(decide(a, bot, '-- nothing').effect, 'allow');
    assert.equal(decide(a, bot, 'BEGIN; SELECT 1; COMMIT').effect, 'deny');
  });

  test('sql:unknown is denied unless a policy permits it, and the message says why', () => {
    const d = decide(authz(READ_ONLY), bot, 'SELEC * FROM customers');
    assert.equal(d.effect, 'deny');
    assert.match(d.message, /^Gatehouse denied sql:unknown on connection 'customers' \(the statement could not be classified: syntax error at or near "SELEC"\)/);
    const allowUnknown = authz('@id("yolo") permit (principal, action == Gatehouse::Action::"sql:unknown", resource);');
    assert.equal(decide(allowUnknown, bot, 'SELEC 1').effect, 'allow');
  });

  test('action groups: `action in Action::"sql"` covers every statement action', () => {
    const a = authz('@id("dba-all") permit (principal in Gatehouse::Group::"dba", action in Gatehouse::Action::"sql", resource);');
    for (const sql of ['SELECT 1', 'DELETE FROM t', 'DROP TABLE t', 'GRANT x TO y', 'VACUUM', 'SELEC']) assert.equal(decide(a, dba, sql).effect, 'allow', sql);
    assert.equal(a.decideConnect(dba, 'customers', CTX).effect, 'deny', 'connect is not in sql');
  });

  test('connect', () => {
    const a = authz('@id("c") permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"connect", resource == Gatehouse::Connection::"customers");');
    const ok = a.decideConnect(bot, 'customers', CTX);
    assert.equal(ok.effect, 'allow');
    assert.deepEqual(ok.policyIds, ['c']);
    const no = a.decideConnect(bot, 'payments', CTX);
    assert.equal(no.effect, 'deny');
    assert.equal(no.message, "Gatehouse denied connect to connection 'payments': no policy permits it for ci-bot (groups: agents).");
  });

  test('unmask: only the permitted group sees the class in clear', () => {
    const a = authz(`${READ_ONLY}
@id("fraud-read") permit (principal in Gatehouse::Group::"fraud-analysts", action == Gatehouse::Action::"sql:read", resource in Gatehouse::Connection::"customers");
@id("cards") permit (principal in Gatehouse::Group::"fraud-analysts", action == Gatehouse::Action::"unmask", resource == Gatehouse::DataClass::"payment_card");`);
    const fran = decide(a, analyst, 'SELECT * FROM customers');
    assert.deepEqual(fran.unmaskable, ['payment_card']);
    assert.deepEqual(fran.decision.unmask, ['payment_card']);
    assert.deepEqual(decide(a, bot, 'SELECT * FROM customers').unmaskable, []);
    assert.equal(a.authorize({ principal: analyst, action: 'unmask', dataClass: 'payment_card', connection: 'customers', context: CTX }).effect, 'allow');
    assert.equal(a.authorize({ principal: analyst, action: 'unmask', dataClass: 'us_ssn', connection: 'customers', context: CTX }).effect, 'deny');
    assert.equal(a.authorize({ principal: bot, action: 'unmask', dataClass: 'payment_card', connection: 'customers', context: CTX }).effect, 'deny');
  });

  test('CI claims, time of day and client address are visible to policy', () => {
    const a = authz(`@id("main-branch-reads")
permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"sql:read", resource)
when { principal has repository && principal.repository == "bank/app" && principal has ref && principal.ref == "refs/heads/main"
  && context.hour >= 9 && context.hour < 17 && context.weekday >= 1 && context.weekday <= 5 && context.clientAddress like "192.0.2.*" };`);
    const ci = principal('repo:bank/app', ['agents'], { repository: 'bank/app', ref: 'refs/heads/main', workflow_ref: 'x', environment: 'prod', actor: 'a', event_name: 'push' });
    assert.equal(decide(a, ci, 'SELECT 1').effect, 'allow');
    assert.equal(decide(a, principal('repo:bank/app', ['agents'], { repository: 'bank/app', ref: 'refs/heads/dev' }), 'SELECT 1').effect, 'deny');
    assert.equal(decide(a, principal('x', ['agents']), 'SELECT 1').effect, 'deny', 'claims absent');
    assert.equal(decide(a, ci, 'SELECT 1', 'customers', { ...CTX, time: MONDAY_10_UTC + 8 * 3600_000 }).effect, 'deny', '18:00');
    assert.equal(decide(a, ci, 'SELECT 1', 'customers', { ...CTX, time: MONDAY_10_UTC - 24 * 3600_000 }).effect, 'deny', 'Sunday');
    assert.equal(decide(a, ci, 'SELECT 1', 'customers', { ...CTX, clientAddress: '10.0.0.1' }).effect, 'deny');
  });

  test('statement flags and kind are visible to policy', () => {
    const a = authz(`@id("read") permit (principal, action == Gatehouse::Action::"sql:read", resource);
@id("no-sleep") forbid (principal, action, resource) when { context.flags.contains("pg_sleep") };`);
    assert.equal(decide(a, bot, 'SELECT 1').effect, 'allow');
    const d = decide(a, bot, 'SELECT pg_sleep(100)');
    assert.equal(d.effect, 'deny');
    assert.deepEqual(d.policyIds, ['no-sleep']);
  });

  test('grants are visible to policy as context.grant', () => {
    const a = authz(`@id("grant-writes") permit (principal, action == Gatehouse::Action::"sql:write", resource) when { context has grant && context.grant.actions.contains("sql:write") };`);
    assert.equal(decide(a, bot, 'DELETE FROM t').effect, 'deny');
    const grant = { id: 'g1', actions: ['sql:write'], tables: ['public.t'], expiresAt: MONDAY_10_UTC + 1800_000, reason: 'CHG-1234' };
    assert.equal(decide(a, bot, 'DELETE FROM t', 'customers', { ...CTX, grant }).effect, 'allow');
  });

  test('the authorize port decides sql actions on tables', () => {
    const a = authz(READ_ONLY + WRITE_WITH_APPROVAL);
    const base = { principal: bot, connection: 'customers', context: CTX };
    assert.equal(a.authorize({ ...base, action: 'sql:read', tables: ['public.customers', 'public.orders'] }).effect, 'allow');
    const w = a.authorize({ ...base, action: 'sql:write', tables: ['public.customers'] });
    assert.equal(w.effect, 'deny');
    assert.equal(w.reasons[0]?.code, 'approval_required');
    assert.equal(w.approval?.approvals, 2);
    assert.equal(a.authorize({ ...base, action: 'sql:ddl' }).effect, 'deny');
    assert.equal(a.authorize({ ...base, action: 'frobnicate' }).effect, 'deny');
  });
});

describe('CedarAuthorizer: fail closed', () => {
  const permitAll = '@id("all") permit (principal, action, resource);';

  test('a forbid that errors at runtime denies (Cedar alone would skip it and allow)', () => {
    const a = authz(`${permitAll}
@id("overflow") forbid (principal, action, resource) when { context.hour * 9223372036854775807 > 0 };`);
    const d = decide(a, bot, 'SELECT 1');
    assert.equal(d.effect, 'deny');
    assert.equal(d.reasons[0]?.code, 'policy_error');
    assert.deepEqual(d.policyIds, ['overflow']);
    assert.equal(a.decideConnect(bot, 'customers', CTX).effect, 'deny');
  });

  test('broken engine input (an invalid clock) denies', () => {
    const a = authz(permitAll);
    const d = decide(a, bot, 'SELECT 1', 'customers', { ...CTX, time: Number.NaN });
    assert.equal(d.effect, 'deny');
    assert.equal(d.reasons[0]?.code, 'policy_error');
    assert.equal(a.authorize({ principal: bot, action: 'connect', connection: 'customers', context: { ...CTX, time: Number.NaN } }).effect, 'deny');
    assert.deepEqual(a.unmaskable(bot, 'customers', { ...CTX, time: Number.NaN }), []);
  });

  const real: CedarEngine = {
    preparsePolicySet: (i, p) => wasm.preparsePolicySet(i, p),
    preparseSchema: (n, s) => wasm.preparseSchema(n, s),
    statefulIsAuthorized: (c) => wasm.statefulIsAuthorized(c),
  };
  const faulty = (answer: (c: cedar.StatefulAuthorizationCall) => cedar.AuthorizationAnswer): CedarEngine => ({ ...real, statefulIsAuthorized: answer });

  for (const [name, engine] of [
    ['the engine throws', faulty(() => { throw new Error('wasm trap'); })],
    ['the engine reports failure', faulty(() => ({ type: 'failure', errors: [{ message: 'bad entity', help: null, code: null, url: null, severity: null }], warnings: [] }))],
    ['the engine reports evaluation errors with an allow', faulty(() => ({ type: 'success', warnings: [], response: { decision: 'allow', diagnostics: { reason: ['all'], errors: [{ policyId: 'x', error: { message: 'boom', help: null, code: null, url: null, severity: null } }] } } }))],
    ['the engine answers garbage', faulty(() => ({}) as cedar.AuthorizationAnswer)],
  ] as const) {
    test(`${name} → deny policy_error`, () => {
      const a = authz(permitAll, { engine });
      const d = decide(a, bot, 'SELECT 1');
      assert.equal(d.effect, 'deny');
      assert.equal(d.reasons[0]?.code, 'policy_error');
      assert.equal(d.decision.effect, 'deny');
      const c = a.decideConnect(bot, 'customers', CTX);
      assert.equal(c.effect, 'deny');
      assert.equal(c.reasons[0]?.code, 'policy_error');
      assert.deepEqual(a.unmaskable(bot, 'customers', CTX), []);
    });
  }

  test('errors are not cached: the engine recovering means allow again', () => {
    let broken = true;
    const a = authz(permitAll, { engine: faulty((c) => { if (broken) throw new Error('transient'); return wasm.statefulIsAuthorized(c); }) });
    assert.equal(decide(a, bot, 'SELECT 1').effect, 'deny');
    broken = false;
    assert.equal(decide(a, bot, 'SELECT 1').effect, 'allow');
  });
});

describe('CedarAuthorizer: decision cache', () => {
  function counting(): { engine: CedarEngine; calls: () => number } {
    let n = 0;
    return {
      engine: {
        preparsePolicySet: (i, p) => wasm.preparsePolicySet(i, p),
        preparseSchema: (s, t) => wasm.preparseSchema(s, t),
        statefulIsAuthorized: (c) => {
          n += 1;
          return wasm.statefulIsAuthorized(c);
        },
      },
      calls: () => n,
    };
  }

  test('a repeated statement is answered from the cache with the same decision', () => {
    const { engine, calls } = counting();
    const a = authz(READ_ONLY + WRITE_WITH_APPROVAL, { engine });
    const first = decide(a, bot, 'SELECT * FROM customers WHERE id = 1');
    const afterFirst = calls();
    const second = decide(a, bot, 'SELECT * FROM customers WHERE id = 2');
    assert.deepEqual(second, first);
    assert.equal(calls(), afterFirst, 'no engine call for a cached decision');
    assert.ok(a.cacheStats.hits > 0);
    const w1 = decide(a, bot, 'DELETE FROM customers');
    const n = calls();
    assert.deepEqual(decide(a, bot, 'DELETE FROM customers'), w1);
    assert.equal(calls(), n);
  });

  test('the key separates principals, context and resources', () => {
    const { engine, calls } = counting();
    const a = authz(READ_ONLY, { engine });
    decide(a, bot, 'SELECT * FROM customers');
    let n = calls();
    assert.equal(decide(a, principal('ci-bot', ['other']), 'SELECT * FROM customers').effect, 'deny');
    assert.ok(calls() > n, 'different groups');
    n = calls();
    decide(a, bot, 'SELECT * FROM customers', 'customers', { ...CTX, time: MONDAY_10_UTC + 3600_000 });
    assert.ok(calls() > n, 'different hour');
    n = calls();
    decide(a, bot, 'SELECT * FROM orders');
    assert.ok(calls() > n, 'different table');
    n = calls();
    decide(a, bot, 'SELECT * FROM customers', 'customers', { ...CTX, approval: { id: 'a', approvers: [], approvedAt: 0 } });
    assert.ok(calls() > n, 'approvals are never cached');
  });

  test('the cache is bounded', () => {
    const a = authz(READ_ONLY, { cacheSize: 5 });
    for (let i = 0; i < 20; i++) decide(a, bot, `SELECT * FROM t${i}`);
    assert.ok(a.cacheStats.size <= 5);
  });
});

describe('CedarAuthorizer.create', () => {
  test('reports syntax errors with file and line', () => {
    assert.throws(
      () => CedarAuthorizer.create({ policies: [{ id: 'a', file: 'team/a.cedar', text: `${READ_ONLY}\n// broken:\npermit (principal, action, resource) when { 1 + };\n` }], schemaText: GATEHOUSE_SCHEMA }),
      (e: unknown) => {
        assert.ok(e instanceof PolicyCompileError);
        assert.equal(e.code, 'GW_CONFIG_INVALID');
        assert.equal(e.problems[0]?.file, 'team/a.cedar');
        assert.equal(e.problems[0]?.line, 5);
        return true;
      },
    );
  });

  test('reports schema violations with file and line', () => {
    assert.throws(
      () => CedarAuthorizer.create({ policies: [{ id: 'b', file: 'b.cedar', text: '\n\n@id("x")\npermit (principal, action, resource)\nwhen { principal.nosuch == "1" };' }], schemaText: GATEHOUSE_SCHEMA }),
      (e: unknown) => e instanceof PolicyCompileError && e.problems.length === 1 && e.problems[0]?.line === 5 && /nosuch/.test(e.problems[0].message),
    );
  });

  test('policy ids: @id, else file:index', () => {
    const a = CedarAuthorizer.create({
      policies: [{ id: 'x', file: 'p.cedar', text: 'permit (principal, action == Gatehouse::Action::"sql:read", resource);\n@id("named") forbid (principal, action == Gatehouse::Action::"sql:ddl", resource);\npermit (principal, action == Gatehouse::Action::"connect", resource);' }],
      schemaText: GATEHOUSE_SCHEMA,
    });
    assert.deepEqual(a.policies.map((p) => p.id), ['p.cedar:0', 'named', 'p.cedar:2']);
    assert.deepEqual(decide(a, bot, 'SELECT 1').policyIds, ['p.cedar:0']);
  });

  test('an empty policy set denies everything but transaction control', () => {
    const a = CedarAuthorizer.create({ policies: [], schemaText: GATEHOUSE_SCHEMA });
    assert.equal(decide(a, bot, 'SELECT 1').effect, 'deny');
    assert.equal(a.decideConnect(bot, 'customers', CTX).effect, 'deny');
    assert.equal(decide(a, bot, 'BEGIN').effect, 'allow');
  });

  test('a broken schema is refused', () => {
    assert.throws(() => CedarAuthorizer.create({ policies: [], schemaText: 'namespace X { entity A in [Nope]; }' }), PolicyCompileError);
  });
});
