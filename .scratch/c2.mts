import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { readFileSync } from 'node:fs';
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
cedar.preparseSchema('s1', schema);
cedar.preparsePolicySet('ps1', { staticPolicies: { 'agents-read': 'permit(principal in Gatehouse::Group::"agents", action in Gatehouse::Action::"sql", resource in Gatehouse::Connection::"demo") when { context.hour > 1 };' } });
const ents = [
  { uid: { type: 'Gatehouse::Identity', id: 'ci-bot' }, attrs: { issuer: 'x', subject: 'ci-bot', kind: 'workload' }, parents: [{ type: 'Gatehouse::Group', id: 'agents' }] },
  { uid: { type: 'Gatehouse::Table', id: 'public.customers' }, attrs: { schema: 'public', name: 'customers' }, parents: [{ type: 'Gatehouse::Connection', id: 'demo' }] },
];
function bench(label: string, extra: object) {
  const N = 5000; let t = performance.now(); let last: any;
  for (let i = 0; i < N; i++) last = cedar.statefulIsAuthorized({ principal: { type: 'Gatehouse::Identity', id: 'ci-bot' }, action: { type: 'Gatehouse::Action', id: 'sql:read' }, resource: { type: 'Gatehouse::Table', id: 'public.customers' }, context: { hour: 5 }, preparsedPolicySetId: 'ps1', entities: ents, ...extra } as any);
  console.log(label, 'us/call', ((performance.now() - t) * 1000 / N).toFixed(1), JSON.stringify(last).slice(0, 120));
}
bench('schema+validate', { preparsedSchemaName: 's1', validateRequest: true });
bench('schema novalidate', { preparsedSchemaName: 's1', validateRequest: false });
bench('no schema', {});
