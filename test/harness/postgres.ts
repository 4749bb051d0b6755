// A throwaway PostgreSQL 15 cluster per test file: the real server binaries,
// on a random loopback port, in a fresh temp dir, seeded with the `bank` schema.
//
// Layout of the temp dir (owned by the postgres OS user when we are root,
// because initdb and postgres refuse to run as root):
//   <root>/data            PGDATA (server.crt / server.key live here with ssl)
//   <root>/postgres.log    server log (pg_ctl -l; logging_collector = off)
//   <root>/.s.PGSQL.<port> unix socket: superuser access with trust auth
//
// TCP on 127.0.0.1 requires a password (scram-sha-256, or md5 when asked), so
// tests that go through Gatehouse exercise real authentication, while the
// harness itself administers the cluster over the socket without one.
//
// Never touches the system cluster on 5432: the port is always a fresh free
// one, and the socket directory is private.

import { randomBytes } from 'node:crypto';
import { appendFile, chmod, chown, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onExitCleanup, processAlive, spawnWatchdog } from './cleanup.ts';
import { freePort } from './ports.ts';
import { asPostgresUser, isRoot, pgBin, postgresIds, run, runOk, type RunOptions } from './run.ts';
import { seedSql } from './seed.ts';
import { makeSelfSignedCert } from './tls.ts';

export { SEED_COUNTS, seedAccount, seedCustomer } from './seed.ts';

export interface StartPostgresOptions {
  /** Log every statement the server receives (log_statement = 'all'), enabled after seeding. */
  logStatements?: boolean;
  /** Serve TLS with a self-signed certificate (see PgCluster.sslCertFile). */
  ssl?: boolean;
  /** How role passwords are stored and how TCP logins authenticate. Default scram-sha-256. */
  passwordEncryption?: 'scram-sha-256' | 'md5';
  /** Extra postgresql.conf settings; values are written quoted. */
  extraConf?: Record<string, string>;
}

export interface PsqlOptions {
  user?: string;
  db?: string;
  timeoutMs?: number;
}

export interface PgCluster {
  host: '127.0.0.1';
  port: number;
  dataDir: string;
  socketDir: string;
  superuser: 'postgres';
  /** Also set, so the superuser can log in over TCP when a test needs it. */
  superuserPassword: string;
  appUser: 'app';
  appPassword: string;
  database: 'bank';
  logFile: string;
  ssl: boolean;
  /** The server certificate (self-signed, CA:TRUE), usable as sslrootcert; undefined without ssl. */
  sslCertFile: string | undefined;
  /** Postmaster pid. */
  pid: number;
  /** postgresql://user:password@127.0.0.1:port/db; user defaults to app, db to bank, password to the role's own. */
  url(user?: string, password?: string, db?: string): string;
  /**
   * Runs `psql -X -A -t -q -v ON_ERROR_STOP=1 -w` over the unix socket (as the
   * superuser unless opts.user, in database bank unless opts.db), feeding `sql`
   * on stdin; resolves with stdout, rejects on any error.
   */
  psql(sql: string, opts?: PsqlOptions): Promise<string>;
  /** Immediate shutdown and removal of the temp dir; safe to call more than once. */
  stop(): Promise<void>;
}

const START_ATTEMPTS = 5;

const confValue = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

async function logTail(logFile: string, from = 0): Promise<string> {
  try {
    const text = (await readFile(logFile, 'utf8')).slice(from);
    return text.length > 4000 ? '…' + text.slice(-4000) : text;
  } catch {
    return '(no log)';
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** Synchronous, for 'exit' hooks: SIGQUIT (immediate shutdown), wait up to 5 s, then SIGKILL. */
function killPostmasterSync(pid: number): void {
  try {
    process.kill(pid, 'SIGQUIT');
  } catch {
    return;
  }
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 100 && processAlive(pid); i++) Atomics.wait(pause, 0, 0, 50);
  if (processAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone in between.
    }
  }
}

const WATCHDOG_SCRIPT = `
pid=$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ]; then
  kill -QUIT "$pid" 2>/dev/null
  i=0
  while alive "$pid" && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
  kill -KILL "$pid" 2>/dev/null
fi
rm -rf "$ROOT"
`;

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PgCluster> {
  const authMethod = opts.passwordEncryption ?? 'scram-sha-256';
  // Unix socket paths are limited to ~107 bytes; a long TMPDIR would break them.
  const base = tmpdir().length > 60 ? '/tmp' : tmpdir();
  const root = await mkdtemp(join(base, 'gh-pg-'));
  const dataDir = join(root, 'data');
  const logFile = join(root, 'postgres.log');
  const superuserPassword = randomBytes(18).toString('hex');
  const appPassword = randomBytes(18).toString('hex');

  // Server-side commands run as the postgres OS user, from a directory it can
  // read (our cwd may be root-only), with HOME pointing somewhere harmless.
  const asPg = (cmd: string, args: string[], extra: RunOptions = {}) => {
    const [c, a] = asPostgresUser(cmd, args);
    return runOk(c, a, { cwd: root, ...extra, env: { HOME: root, LC_ALL: 'C', ...extra.env } });
  };

  let pid: number | undefined;
  let unregisterExit: (() => void) | undefined;
  let killWatchdog: (() => void) | undefined;
  let stopping: Promise<void> | undefined;

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      unregisterExit?.();
      if (pid !== undefined && processAlive(pid)) {
        const [c, a] = asPostgresUser(pgBin('pg_ctl'), ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '20']);
        await run(c, a, { cwd: root, env: { HOME: root } }).catch(() => undefined);
        if (processAlive(pid)) killPostmasterSync(pid);
      }
      killWatchdog?.();
      await rm(root, { recursive: true, force: true, maxRetries: 3 });
    })();
    return stopping;
  };

  try {
    if (isRoot) {
      const { uid, gid } = await postgresIds();
      await chown(root, uid, gid);
    }
    // Registered before the server exists so that a crash anywhere below still
    // removes the temp dir; pid is filled in once the postmaster runs.
    unregisterExit = onExitCleanup(() => {
      if (pid !== undefined) killPostmasterSync(pid);
      rmSync(root, { recursive: true, force: true, maxRetries: 3 });
      killWatchdog?.();
    });
    killWatchdog = spawnWatchdog(WATCHDOG_SCRIPT, { DATA: dataDir, ROOT: root });

    await asPg(pgBin('initdb'), [
      '-D', dataDir, '-U', 'postgres', '-E', 'UTF8', '--locale=C', '-N', '--no-instructions',
      '--auth-local=trust', `--auth-host=${authMethod}`,
    ], { timeoutMs: 60_000 });

    let sslCertFile: string | undefined;
    const conf: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: root,
      max_connections: '200',
      shared_buffers: '32MB',
      // Durability is worthless for a throwaway cluster and costs seconds.
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      logging_collector: 'off',
      log_destination: 'stderr',
      log_line_prefix: '%m [%p] %q%u@%d ',
      // Stable, English messages for tests that match on them.
      lc_messages: 'C',
      timezone: 'UTC',
      log_timezone: 'UTC',
      password_encryption: authMethod,
    };
    if (opts.ssl) {
      const cert = await makeSelfSignedCert(dataDir);
      // The server insists the key is private to the user it runs as.
      await chmod(cert.keyFile, 0o600);
      if (isRoot) {
        const { uid, gid } = await postgresIds();
        await chown(cert.keyFile, uid, gid);
        await chown(cert.certFile, uid, gid);
      }
      Object.assign(conf, { ssl: 'on', ssl_cert_file: cert.certFile, ssl_key_file: cert.keyFile });
      sslCertFile = cert.certFile;
    }
    Object.assign(conf, opts.extraConf ?? {});
    const confText = Object.entries(conf).map(([k, v]) => `${k} = ${confValue(v)}`).join('\n');
    await appendFile(join(dataDir, 'postgresql.conf'), `\n# --- gatehouse test harness ---\n${confText}\n`);

    // The port can be taken between freePort() and the bind; retry on that only.
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const logStart = await fileSize(logFile);
      try {
        await asPg(pgBin('pg_ctl'), ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '30', '-o', `-p ${port}`], {
          timeoutMs: 45_000,
        });
        break;
      } catch (e) {
        const log = await logTail(logFile, logStart);
        if (attempt < START_ATTEMPTS && /could not bind|Address already in use/i.test(log)) continue;
        throw new Error(`startPostgres: server did not start: ${(e as Error).message}\n--- ${logFile} ---\n${log}`);
      }
    }
    pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);

    const psql = async (sql: string, o: PsqlOptions = {}): Promise<string> => {
      const args = ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-w',
        '-h', root, '-p', String(port), '-U', o.user ?? 'postgres', '-d', o.db ?? 'bank', '-f', '-'];
      const r = await run(pgBin('psql'), args, { input: sql, timeoutMs: o.timeoutMs ?? 30_000 });
      if (r.code !== 0) {
        throw new Error(`psql (as ${o.user ?? 'postgres'} on ${o.db ?? 'bank'}) failed with code ${r.code}: ${r.stderr.trim()}`);
      }
      return r.stdout;
    };

    const lit = (s: string): string => `'${s.replace(/'/g, "''")}'`;
    // Passwords travel on psql's stdin, never in argv. FILE_COPY is quicker
    // than the default WAL_LOG for copying a tiny template1 with fsync off.
    await psql(
      `CREATE ROLE app LOGIN PASSWORD ${lit(appPassword)};
       ALTER ROLE postgres PASSWORD ${lit(superuserPassword)};
       CREATE DATABASE bank OWNER app STRATEGY = FILE_COPY;`,
      { db: 'postgres' },
    );
    // As app, so app owns the tables it is tested against.
    await psql(seedSql(), { user: 'app' });

    if (opts.logStatements) {
      // Turned on only now so the log holds what tests did, not the setup
      // (which includes the role passwords).
      await psql(`ALTER SYSTEM SET log_statement = 'all'; SELECT pg_reload_conf();`, { db: 'postgres' });
      // pg_reload_conf() only signals the postmaster; wait until new backends see it.
      for (let i = 0; ; i++) {
        if ((await psql('SHOW log_statement', { db: 'postgres' })).trim() === 'all') break;
        if (i >= 100) throw new Error('startPostgres: log_statement = all did not take effect');
        await new Promise((r) => setTimeout(r, 20));
      }
    }

    const defaultPassword = (user: string): string | undefined =>
      user === 'app' ? appPassword : user === 'postgres' ? superuserPassword : undefined;

    return {
      host: '127.0.0.1',
      port,
      dataDir,
      socketDir: root,
      superuser: 'postgres',
      superuserPassword,
      appUser: 'app',
      appPassword,
      database: 'bank',
      logFile,
      ssl: opts.ssl ?? false,
      sslCertFile,
      pid,
      url(user = 'app', password?: string, db = 'bank'): string {
        const pw = password ?? defaultPassword(user);
        const auth = encodeURIComponent(user) + (pw === undefined ? '' : ':' + encodeURIComponent(pw));
        return `postgresql://${auth}@127.0.0.1:${port}/${encodeURIComponent(db)}`;
      },
      psql,
      stop,
    };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}

/** Reads the server log (e.g. to assert that a statement did or did not reach the upstream). */
export async function readServerLog(cluster: Pick<PgCluster, 'logFile'>): Promise<string> {
  return readFile(cluster.logFile, 'utf8');
}
