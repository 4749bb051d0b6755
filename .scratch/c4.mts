import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { readFileSync } from 'node:fs';
const schema = readFileSync('policy/gatehouse.cedarschema', 'utf8');
console.log(JSON.stringify(cedar.checkParseSchema(schema)));
console.log(JSON.stringify(cedar.validate({ schema, policies: { staticPolicies: { a: 'permit(principal in Gatehouse::Group::"agents", action in Gatehouse::Action::"sql", resource in Gatehouse::Connection::"demo") when { context has approval && context.flags.contains("x") && principal has repository && principal.repository == "x" };' } }, validationSettings: { mode: 'strict' } })));
