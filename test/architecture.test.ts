// Enforces the dependency arrows of ARCHITECTURE.md on every import in src/:
//   cli → server → {protocols, api, infra, config} → core → shared
//   protocols → {wire, net}; wire → shared
// plus: core imports no I/O module; wire is pure; adapters never import each other.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';

const SRC = resolve(import.meta.dirname, '../src');

const ALLOWED: Record<string, string[]> = {
  shared: ['shared'],
  wire: ['wire', 'shared'],
  core: ['core', 'shared'],
  net: ['net', 'shared'],
  config: ['config', 'core', 'shared'],
  infra: ['infra', 'core', 'config', 'shared'],
  protocols: ['protocols', 'core', 'wire', 'net', 'shared'],
  api: ['api', 'core', 'infra', 'config', 'shared'],
  server: ['server', 'protocols', 'api', 'infra', 'config', 'core', 'wire', 'net', 'shared'],
  cli: ['cli', 'server', 'api', 'infra', 'config', 'core', 'shared'], // cli uses the admin API client (api/client.ts)
};
const IO_MODULES = /^(node:)?(net|tls|fs|fs\/promises|http|https|http2|dgram|child_process)$/;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return files(p);
    return /\.ts$/.test(e.name) && !/\.test\.ts$/.test(e.name) ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    out.push((m[1] ?? m[2])!);
  }
  return out;
}

test('imports follow the dependency arrows', () => {
  const problems: string[] = [];
  for (const file of files(SRC)) {
    const rel = relative(SRC, file);
    const layer = rel.split('/')[0]!;
    const allowed = ALLOWED[layer];
    if (!allowed) {
      problems.push(`${rel}: unknown layer '${layer}'`);
      continue;
    }
    for (const spec of imports(file)) {
      if (spec.startsWith('.')) {
        const target = relative(SRC, resolve(dirname(file), spec));
        const targetLayer = target.split('/')[0]!;
        if (target.startsWith('..')) problems.push(`${rel}: imports outside src: ${spec}`);
        else if (!allowed.includes(targetLayer)) problems.push(`${rel}: ${layer} may not import ${targetLayer} (${spec})`);
        // Adapters never import each other.
        if (layer === 'protocols' && targetLayer === 'protocols' && target.split('/')[1] !== rel.split('/')[1]) {
          problems.push(`${rel}: adapter imports another adapter (${spec})`);
        }
      } else if ((layer === 'core' || layer === 'wire' || layer === 'shared') && IO_MODULES.test(spec)) {
        problems.push(`${rel}: ${layer} must not import the I/O module ${spec}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('the checker sees real imports (it can fail)', () => {
  const sample = files(SRC).find((f) => f.endsWith('protocols/postgres/adapter.ts'))!;
  const found = imports(sample);
  assert.ok(found.includes('node:net'));
  assert.ok(found.some((s) => s.includes('core/sessions/session-service.ts')));
});
