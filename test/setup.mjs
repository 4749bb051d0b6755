#!/usr/bin/env node
// Runs before the test suite (`npm test`, `npm run test:e2e`).
//
// The end-to-end tests drive real servers and clients, so the programs they
// start must exist. A missing binary must fail the run loudly here rather than
// make tests skip (or fail with an obscure ENOENT) later. When we are root and
// apt-get is available, the missing Debian packages are installed; otherwise
// the exact command to run is printed and we exit 1.
//
// Plain JS, no dependencies: it runs before anything else is known to work.

import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const PG_BINDIR = process.env.GATEHOUSE_PG_BINDIR ?? '/usr/lib/postgresql/15/bin';
const ALL_PACKAGES = ['postgresql-15', 'postgresql-client-15', 'pgbouncer', 'openssl', 'sqlite3'];
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** name: what we report; paths: absolute candidates, then PATH lookup of `cmd`; pkg: Debian package. */
const REQUIRED = [
  { name: 'initdb', paths: [join(PG_BINDIR, 'initdb')], pkg: 'postgresql-15' },
  { name: 'pg_ctl', paths: [join(PG_BINDIR, 'pg_ctl')], pkg: 'postgresql-15' },
  { name: 'postgres', paths: [join(PG_BINDIR, 'postgres')], pkg: 'postgresql-15' },
  { name: 'psql', paths: [join(PG_BINDIR, 'psql')], cmd: 'psql', pkg: 'postgresql-client-15' },
  // pgbench ships in the server package on Debian (postgresql-15), not the client one.
  { name: 'pgbench', paths: [join(PG_BINDIR, 'pgbench')], cmd: 'pgbench', pkg: 'postgresql-15' },
  { name: 'pgbouncer', paths: ['/usr/sbin/pgbouncer'], cmd: 'pgbouncer', pkg: 'pgbouncer' },
  { name: 'openssl', paths: [], cmd: 'openssl', pkg: 'openssl' },
  { name: 'sqlite3', paths: [], cmd: 'sqlite3', pkg: 'sqlite3' },
  // As root the harness drops to the postgres OS user with setpriv (util-linux).
  ...(isRoot ? [{ name: 'setpriv', paths: [], cmd: 'setpriv', pkg: 'util-linux' }] : []),
];

function executable(p) {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(cmd) {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  // Debian keeps pgbouncer and setpriv-like tools in sbin, off a non-root PATH.
  for (const d of [...dirs, '/usr/sbin', '/sbin']) {
    if (executable(join(d, cmd))) return join(d, cmd);
  }
  return undefined;
}

function find(req) {
  for (const p of req.paths) if (executable(p)) return p;
  return req.cmd ? onPath(req.cmd) : undefined;
}

function missing() {
  return REQUIRED.filter((r) => find(r) === undefined);
}

function postgresUserExists() {
  return spawnSync('id', ['-u', 'postgres'], { stdio: 'ignore' }).status === 0;
}

function aptListsPresent() {
  try {
    return readdirSync('/var/lib/apt/lists').some((f) => f.includes('_Packages'));
  } catch {
    return false;
  }
}

function apt(args) {
  console.log(`setup: apt-get ${args.join(' ')}`);
  const r = spawnSync('apt-get', args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return r.status === 0;
}

function installCommand(pkgs) {
  const sudo = isRoot ? '' : 'sudo ';
  return `${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
}

function fail(lines) {
  for (const l of lines) console.error(l);
  process.exit(1);
}

let absent = missing();
// initdb/postgres must run as the postgres OS user when we are root; the
// Debian server package creates it.
const needUser = isRoot && !postgresUserExists();
if (absent.length > 0 || needUser) {
  const pkgs = [...new Set([...absent.map((r) => r.pkg), ...(needUser ? ['postgresql-15'] : [])])];
  const what = [...absent.map((r) => r.name), ...(needUser ? ['OS user postgres'] : [])].join(', ');
  const canInstall = isRoot && onPath('apt-get') !== undefined;
  if (!canInstall) {
    fail([
      `setup: missing ${what}; the end-to-end tests need them and will not be skipped.`,
      `setup: install them with:`,
      `  ${installCommand(pkgs)}`,
    ]);
  }
  console.log(`setup: missing ${what}; installing ${pkgs.join(' ')}`);
  const install = ['install', '-y', '-q', '--no-install-recommends', ...pkgs];
  let updated = false;
  if (!aptListsPresent()) {
    if (!apt(['update', '-q'])) fail([`setup: apt-get update failed; run:`, `  ${installCommand(pkgs)}`]);
    updated = true;
  }
  let ok = apt(install);
  // Stale package lists are the usual reason an install fails: refresh once.
  if (!ok && !updated) ok = apt(['update', '-q']) && apt(install);
  absent = missing();
  if (!ok || absent.length > 0 || (isRoot && !postgresUserExists())) {
    fail([
      `setup: could not install ${pkgs.join(' ')}${absent.length ? ` (still missing: ${absent.map((r) => r.name).join(', ')})` : ''}.`,
      `setup: run:`,
      `  ${installCommand(ALL_PACKAGES)}`,
    ]);
  }
}

console.log(
  `setup: ok — found ${REQUIRED.map((r) => r.name).join(', ')}` +
    ` (PostgreSQL binaries from ${existsSync(PG_BINDIR) ? PG_BINDIR : 'PATH'}${isRoot ? '; servers run as OS user postgres' : ''})`,
);
