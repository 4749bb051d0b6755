// docs/openapi.yaml must describe exactly the routes createAdminApi serves,
// and the Approval/Grant schemas exactly the fields the views return.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { silentLogger } from '../core/logger.ts';
import { FakeVerifier, harness, requestInput } from '../core/approvals/test-support.ts';
import { createAdminApi } from './admin-api.ts';
import { approvalView, grantView } from './views.ts';
import { activeGrant, pendingGrant } from '../core/approvals/store-contract.ts';

const spec = parse(readFileSync(resolve(import.meta.dirname, '../../docs/openapi.yaml'), 'utf8')) as any;

test('openapi.yaml is OpenAPI 3.1 and every $ref resolves', () => {
  assert.equal(spec.openapi, '3.1.0');
  const refs: string[] = [];
  (function walk(v: unknown): void {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === '$ref' && typeof x === 'string') refs.push(x);
        else walk(x);
      }
    }
  })(spec);
  assert.ok(refs.length > 20);
  for (const ref of refs) {
    const target = ref.replace(/^#\//, '').split('/').reduce((o: any, k) => (o === undefined ? undefined : o[k]), spec);
    assert.ok(target !== undefined, `unresolved ${ref}`);
  }
});

test('the documented paths and methods are exactly the served routes', () => {
  const app = createAdminApi({ approvals: harness().service, verifier: new FakeVerifier({}), log: silentLogger });
  const served = new Set(
    app.routes
      .filter((r) => r.method !== 'ALL' && (r.path.startsWith('/api/') || r.path === '/healthz' || r.path === '/readyz'))
      .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z]+)/g, '{$1}')}`),
  );
  const documented = new Set<string>();
  for (const [path, item] of Object.entries(spec.paths as Record<string, Record<string, unknown>>)) {
    for (const m of Object.keys(item)) if (m !== 'parameters') documented.add(`${m.toUpperCase()} ${path}`);
  }
  assert.deepEqual([...documented].sort(), [...served].sort());
});

test('Approval and Grant schemas list exactly the fields the API returns', async () => {
  const r = await harness().service.request(requestInput());
  assert.deepEqual(Object.keys(approvalView(r)).sort(), [...spec.components.schemas.Approval.required].sort());
  assert.deepEqual(Object.keys(spec.components.schemas.Approval.properties).sort(), [...spec.components.schemas.Approval.required].sort());
  const g = activeGrant(pendingGrant('g1'));
  assert.deepEqual(Object.keys(grantView(g)).sort(), [...spec.components.schemas.Grant.required].sort());
  assert.deepEqual(Object.keys(spec.components.schemas.Grant.properties).sort(), [...spec.components.schemas.Grant.required].sort());
});
