import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
const schema = `namespace Gatehouse {
  entity Group;
  entity Identity in [Group] { issuer: String, subject: String, kind: String, repository?: String };
  entity Connection;
  entity Table in [Connection] { schema: String, name: String };
  type Ctx = { hour: Long, approval?: { id: String } };
  action sql;
  action "sql:read" in [sql] appliesTo { principal: [Identity], resource: [Table, Connection], context: Ctx };
  action "sql:write" in [sql] appliesTo { principal: [Identity], resource: [Table, Connection], context: Ctx };
}`;
console.log(JSON.stringify(cedar.preparseSchema('s1', schema)));
const pol = `@id("agents-read")
permit(principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"sql:read", resource in Gatehouse::Connection::"demo");
@approvers("dba") @approvals("1")
permit(principal in Gatehouse::Group::"agents", action in Gatehouse::Action::"sql", resource) when { context has approval };
`;
console.log(JSON.stringify(cedar.policySetTextToParts(pol)));
console.log(JSON.stringify(cedar.checkParsePolicySet({ staticPolicies: 'permit(principal, action, resource) when { 1 + };\n' })));
console.log(JSON.stringify(cedar.checkParsePolicySet({ staticPolicies: { a: 'permit(principal, action, resource);', b: 'permit(principal, action, resource);\nforbid(principal,action,resource);' } })));
const v = cedar.validate({ schema, policies: { staticPolicies: { p1: 'permit(principal, action == Gatehouse::Action::"sql:read", resource) when { principal.nosuch == "x" };', p2: 'permit(principal, action, resource) when { context.approval.id == "x" };' } }, validationSettings: { mode: 'strict' } });
console.log(JSON.stringify(v, null, 1));
console.log(JSON.stringify(cedar.preparsePolicySet('ps1', { staticPolicies: { 'agents-read': 'permit(principal in Gatehouse::Group::"agents", action in Gatehouse::Action::"sql", resource in Gatehouse::Connection::"demo") when { context.hour > 1 };' } })));
const ents = [
  { uid: { type: 'Gatehouse::Identity', id: 'ci-bot' }, attrs: { issuer: 'x', subject: 'ci-bot', kind: 'workload' }, parents: [{ type: 'Gatehouse::Group', id: 'agents' }] },
  { uid: { type: 'Gatehouse::Table', id: 'public.customers' }, attrs: { schema: 'public', name: 'customers' }, parents: [{ type: 'Gatehouse::Connection', id: 'demo' }] },
];
const r = cedar.statefulIsAuthorized({ principal: { type: 'Gatehouse::Identity', id: 'ci-bot' }, action: { type: 'Gatehouse::Action', id: 'sql:write' }, resource: { type: 'Gatehouse::Table', id: 'public.customers' }, context: { hour: 5 }, preparsedSchemaName: 's1', validateRequest: true, preparsedPolicySetId: 'ps1', entities: ents });
console.log(JSON.stringify(r));
const r2 = cedar.statefulIsAuthorized({ principal: { type: 'Gatehouse::Identity', id: 'ci-bot' }, action: { type: 'Gatehouse::Action', id: 'sql:write' }, resource: { type: 'Gatehouse::Table', id: 'public.customers' }, context: { hour: 'x' }, preparsedSchemaName: 's1', validateRequest: true, preparsedPolicySetId: 'ps1', entities: ents });
console.log(JSON.stringify(r2));
const r3 = cedar.statefulIsAuthorized({ principal: { type: 'Gatehouse::Identity', id: 'ci-bot' }, action: { type: 'Gatehouse::Action', id: 'sql:write' }, resource: { type: 'Gatehouse::Table', id: 'public.customers' }, context: { hour: 5 }, preparsedSchemaName: 's1', validateRequest: true, preparsedPolicySetId: 'nope', entities: ents });
console.log(JSON.stringify(r3));
const N = 20000; let t = performance.now();
for (let i = 0; i < N; i++) cedar.statefulIsAuthorized({ principal: { type: 'Gatehouse::Identity', id: 'ci-bot' }, action: { type: 'Gatehouse::Action', id: 'sql:write' }, resource: { type: 'Gatehouse::Table', id: 'public.customers' }, context: { hour: 5 }, preparsedSchemaName: 's1', validateRequest: true, preparsedPolicySetId: 'ps1', entities: ents });
console.log('us/call', (performance.now() - t) * 1000 / N);
console.log(JSON.stringify(cedar.policyToJson('@id("x") @approvals("2") permit(principal, action, resource);')));
