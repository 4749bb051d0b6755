/**
 * Reading bundle files a chunk at a time: the lines come out exactly as a
 * whole-file split gives them, whatever the chunk size, including
 * multi-byte characters cut by a chunk boundary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BundleFormatError, fileLines } from './bundle.ts';

const dir = mkdtempSync(join(tmpdir(), 'gh-bundle-lines-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, 'utf8');
  return path;
}

test('fileLines gives the same lines as a whole-file split for every chunk size', () => {
  const lines = ['{"a":1}', '', 'Zürich – 東京 – 🏦', 'x'.repeat(37), '{"statement":"SELECT ’quoted’"}', 'last'];
  const path = file('lines.jsonl', lines.join('\n') + '\n');
  for (const chunk of [1, 2, 3, 4, 5, 7, 16, 64, 1 << 20]) {
    assert.deepEqual([...fileLines(path, 'lines.jsonl', chunk)], lines, `chunk ${chunk}`);
  }
});

test('fileLines: an empty file has no lines; an unterminated last line is a format error', () => {
  assert.deepEqual([...fileLines(file('empty.jsonl', ''), 'empty.jsonl')], []);
  const path = file('cut.jsonl', 'one\ntwo');
  for (const chunk of [1, 3, 1 << 20]) {
    assert.throws(
      () => [...fileLines(path, 'cut.jsonl', chunk)],
      (e: unknown) => e instanceof BundleFormatError && e.message === 'cut.jsonl: last line is not terminated',
    );
  }
});
