import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from './duration.ts';
import { parseHostPort } from './listen.ts';
import { parseSize } from './size.ts';

test('parseDuration returns seconds', () => {
  assert.equal(parseDuration('30s'), 30);
  assert.equal(parseDuration('15m'), 900);
  assert.equal(parseDuration('1h'), 3600);
  assert.equal(parseDuration('2d'), 172800);
  assert.equal(parseDuration('1h30m'), 5400);
  assert.equal(parseDuration('0s'), 0);
  for (const bad of ['30', '', 's', '1x', '-5s', '1.5h', '1 h', '30S']) {
    assert.throws(() => parseDuration(bad), { code: 'GW_CONFIG_INVALID' }, bad);
  }
});

test('parseHostPort', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:15432'), { host: '127.0.0.1', port: 15432 });
  assert.deepEqual(parseHostPort('0.0.0.0:0'), { host: '0.0.0.0', port: 0 });
  assert.deepEqual(parseHostPort('gateway.internal:8000'), { host: 'gateway.internal', port: 8000 });
  assert.deepEqual(parseHostPort('[::1]:15432'), { host: '::1', port: 15432 });
  for (const bad of ['15432', ':15432', '127.0.0.1', '127.0.0.1:65536', '::1:5432', '[localhost]:1', 'a b:1', '127.0.0.1:-1', 'h:1:2']) {
    assert.throws(() => parseHostPort(bad), { code: 'GW_CONFIG_INVALID' }, bad);
  }
});

test('parseSize', () => {
  assert.equal(parseSize(4096), 4096);
  assert.equal(parseSize('1MiB'), 1048576);
  assert.equal(parseSize('512KiB'), 524288);
  assert.equal(parseSize('2MB'), 2_000_000);
  assert.equal(parseSize('1.5KiB'), 1536);
  assert.equal(parseSize('100'), 100);
  assert.equal(parseSize('1gib'), 1024 ** 3);
  for (const bad of ['lots', '1XB', '-1', '1.3B', '']) assert.throws(() => parseSize(bad), { code: 'GW_CONFIG_INVALID' }, bad);
  assert.throws(() => parseSize(1.5), { code: 'GW_CONFIG_INVALID' });
});
