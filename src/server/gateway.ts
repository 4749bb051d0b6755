/**
 * Composition root: builds every service from one frozen config snapshot and
 * starts the listeners. The only place that knows all the parts.
 */
import net from 'node:net';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { hostname } from 'node:os';
import type { Config } from '../config/schema.ts';
import type { EventSink } from '../core/ports.ts';
import type { Logger } from '../core/logger.ts';
import { SessionService } from '../core/sessions/session-service.ts';
import { GroupAllowAuthorizer } from '../core/policy/interim.ts';
import { PairwiseStatementAuthorizer } from '../core/policy/pairwise.ts';
import { initClassifier } from '../core/classify/sql/postgres.ts';
import { PolicyStore } from '../infra/policy/load.ts';
import type { Authorizer, StatementAuthorizer } from '../core/ports.ts';
import { systemClock } from '../shared/clock.ts';
import { OidcTokenVerifier } from '../infra/idp/verifier.ts';
import { DevIssuer } from '../infra/idp/dev-issuer.ts';
import { Vault } from '../infra/vault/vault.ts';
import { ensureDevCertificate, loadSecureContext } from '../infra/tls/certificates.ts';
import { PostgresAdapter } from '../protocols/postgres/adapter.ts';
import { openEventStore, type EventStore } from './event-store.ts';
import type { HttpAnchor } from '../infra/audit/index.ts';
import { buildCatalog, allowRules } from './catalog.ts';
import { createLogger } from './logger.ts';
import { buildCredentialSources, closeCredentialSources, sweepLeftoverRoles } from './credentials.ts';
import { createMasking, maskingDataClasses } from './masking.ts';
import { ApprovalService } from '../core/approvals/service.ts';
import { endSessionsOnGrantEnd } from '../core/approvals/session-binding.ts';
import { SqliteApprovalStore } from '../infra/approvals/sqlite-store.ts';
import { WebhookNotifier } from '../infra/approvals/webhook.ts';
import { createAdminApi, type Readiness } from '../api/admin-api.ts';
import { GatewayMetrics } from '../infra/metrics/metrics.ts';
import { GATEHOUSE_VERSION } from './version.ts';
import { serve, type ServerType } from '@hono/node-server';

export interface GatewayOptions {
  config: Config;
  /** Directory relative paths in config are resolved against (the config file's folder). */
  baseDir?: string;
  log?: Logger;
  /** Override the event store (tests that need a failing store). */
  events?: EventSink;
  env?: NodeJS.ProcessEnv;
}

export interface Gateway {
  readonly postgres: { host: string; port: number };
  readonly admin: { host: string; port: number };
  readonly approvals: ApprovalService;
  readonly stateDir: string;
  readonly sessions: SessionService;
  readonly devIssuer: DevIssuer | null;
  readonly store: EventStore | null;
  readonly policy: PolicyStore | null;
  /** Graceful stop: stop accepting, let statements finish up to the grace period, end sessions. */
  stop(): Promise<void>;
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const { config } = opts;
  const env = opts.env ?? process.env;
  const log = opts.log ?? createLogger(config.log.level);
  const stateDir = resolve(opts.baseDir ?? process.cwd(), config.state);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });

  const devIssuer = config.identity.dev ? await DevIssuer.load(stateDir) : null;
  const verifier = new OidcTokenVerifier({
    issuers: config.identity.issuers.map((i) => ({
      issuer: i.issuer,
      audience: i.audience,
      groupsClaim: i.groupsClaim,
      ...(i.jwksUri ? { jwksUri: i.jwksUri } : {}),
      ...(i.algorithms ? { algorithms: [...i.algorithms] } : {}),
      ...(i.kind ? { kind: i.kind } : {}),
      ...(i.kindClaim ? { kindClaim: i.kindClaim } : {}),
    })),
    clockSkewSeconds: config.identity.clockSkew,
    ...(devIssuer ? { dev: devIssuer } : {}),
  });
  const needsVault = config.connections.some((c) => c.upstream.password) || config.masking.keySecret !== undefined;
  const needsVaultForCredentials = config.connections.some((c) => c.credentials?.mode === 'ephemeral');
  const vault = needsVault || needsVaultForCredentials ? Vault.open({ stateDir, allowDevKey: config.identity.dev, env }) : null;

  let store: EventStore | null = null;
  let httpAnchor: HttpAnchor | null = null;
  if (!opts.events) {
    ({ store, httpAnchor } = openEventStore({
      stateDir,
      baseDir: opts.baseDir ?? process.cwd(),
      instance: hostname(),
      env,
      log,
      config,
      vault: () => vault ?? Vault.open({ stateDir, allowDevKey: config.identity.dev, env }),
    }));
  }
  // Every recorded event is also counted for /metrics (infra/metrics: labels from closed vocabularies only).
  const metrics = new GatewayMetrics({ audit: store });
  const events: EventSink = metrics.sink(opts.events ?? store!);

  // The real Postgres grammar (WASM) must be loaded before the first statement.
  await initClassifier();
  let policy: PolicyStore | null = null;
  let authorizer: Authorizer;
  let statements: StatementAuthorizer;
  if (config.policy.dir) {
    const dir = resolve(opts.baseDir ?? process.cwd(), config.policy.dir);
    policy = PolicyStore.open({
      dir,
      watch: config.policy.watch,
      // Policy is asked about unmask for the detected classes and every class a column rule names.
      dataClasses: maskingDataClasses(config),
      // Policy changes are recorded in the audit log too (who may do what changed: an examiner asks when).
      onError: (message) => {
        log.error({ dir }, message);
        const inForce = policy?.version ?? 1;
        events.append({ type: 'policy.reload_failed', time: Date.now(), policyVersion: inForce, message }).catch((e) => log.error({ err: e }, 'could not record the failed policy reload'));
      },
      onReload: (version, next) => {
        log.info({ dir, version }, 'policy reloaded');
        events
          .append({ type: 'policy.reloaded', time: Date.now(), policyVersion: version, policyDigest: policy!.digest, policies: next.policies.length })
          .catch((e) => log.error({ err: e }, 'could not record the policy reload'));
      },
    });
    authorizer = policy;
    statements = policy;
    log.info({ dir, version: policy.version, policies: policy.current.policies.length }, 'policy loaded');
    if (config.connections.some((c) => c.allow)) log.warn({}, 'connections[].allow is ignored: policy.dir is set');
  } else {
    authorizer = new GroupAllowAuthorizer(allowRules(config));
    statements = new PairwiseStatementAuthorizer(authorizer);
  }

  // The start of audit logging (PCI DSS 10.2.1.6), before any listener takes a session. Not recorded: no start (fail closed).
  await events.append({
    type: 'gateway.started',
    time: Date.now(),
    version: GATEHOUSE_VERSION,
    connections: config.connections.map((c) => c.name),
    durability: config.audit.durability,
    ...(policy ? { policyVersion: policy.version, policyDigest: policy.digest, policies: policy.current.policies.length } : {}),
  });

  // Approvals and just-in-time grants (state in approvals.db; every change is an audit event).
  const approvalStore = SqliteApprovalStore.open({ stateDir });
  const grantTerms = new Map(config.connections.filter((c) => c.grants).map((c) => [c.name, c.grants!]));
  const approvals = new ApprovalService({
    store: approvalStore,
    events,
    clock: systemClock,
    log: log.child({ component: 'approvals' }),
    grantTerms: (connection) => {
      const g = grantTerms.get(connection);
      return g ? { approverGroups: g.approvers, approvalsNeeded: g.approvals, maxDurationSeconds: g.maxDuration } : null;
    },
  });
  await approvals.start();
  const modes = new Map(config.connections.map((c) => [c.name, { mode: c.approvals.mode, holdTimeoutMs: c.approvals.holdTimeout * 1000 }]));
  if (config.notifications.webhooks.length > 0) {
    const webhookVault = vault ?? Vault.open({ stateDir, allowDevKey: config.identity.dev, env });
    new WebhookNotifier({
      targets: config.notifications.webhooks.map((w) => ({
        url: w.url,
        format: w.format,
        ...(w.secret ? { secret: webhookVault.get(w.secret.vault) } : {}),
      })),
      log: log.child({ component: 'webhooks' }),
      instance: hostname(),
    }).attach(approvals);
  }

  // Temporary credentials (issue 6): roles a crashed run left behind are dropped before the first session.
  const credentialSources = buildCredentialSources({ config, vault, events, clock: systemClock, log });
  await sweepLeftoverRoles(credentialSources, log);

  const sessions = new SessionService({
    verifier,
    authorizer,
    statements,
    events,
    connections: buildCatalog(config, vault, credentialSources),
    clock: systemClock,
    log,
    approvals,
    approvalMode: (connection) => modes.get(connection) ?? { mode: 'reject', holdTimeoutMs: 0 },
  });
  // A revoked or expired grant ends the sessions that depend on it.
  endSessionsOnGrantEnd(approvals, sessions);

  // Client-facing TLS: configured certificate, or a generated one in dev.
  const tlsFiles = config.tls ?? (config.identity.dev ? ensureDevCertificate(stateDir) : undefined);
  const secureContext = tlsFiles ? loadSecureContext(tlsFiles) : undefined;

  // Result masking (issue 4): rules, token key, upstream catalogs.
  const masking = await createMasking({ config, stateDir, vault: () => vault ?? Vault.open({ stateDir, allowDevKey: config.identity.dev, env }), log: log.child({ component: 'masking' }) });

  const adapter = new PostgresAdapter({
    sessions,
    masking,
    options: {
      requireTls: config.postgres.requireTls,
      allowLoopbackWithoutTls: config.postgres.allowLoopbackWithoutTls,
      maxMessageBytes: config.postgres.maxMessageBytes,
      recordRows: config.audit.resultRows,
      handshakeTimeoutMs: 30_000,
      upstreamConnectTimeoutMs: 10_000,
    },
    tlsContext: () => secureContext,
    log: log.child({ protocol: 'postgres' }),
  });

  const server = net.createServer({ noDelay: true }, (socket) => adapter.handle(socket));
  const { host, port } = config.listen.postgres;
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(port, host, () => {
      server.off('error', rej);
      res();
    });
  });
  const address = server.address() as net.AddressInfo;
  log.info({ host: address.address, port: address.port, connections: config.connections.map((c) => c.name) }, 'postgres listener ready');

  // Admin and approval API (bearer OIDC tokens, same verifier as the data path).
  // Readiness: not shutting down, and the audit log took its newest write (or it failed more than
  // READY_AFTER_FAILURE_MS ago: traffic then comes back and tries the store again, so a recovered
  // disk is noticed without a probe ever writing to the log).
  let shuttingDown = false;
  const readiness = (): Readiness => {
    const checks: Record<string, 'ok' | 'failing' | 'stopping'> = { sessions: shuttingDown ? 'stopping' : 'ok' };
    if (store) {
      const h = store.writeHealth();
      checks['audit'] = h.ok || (h.failedAt !== undefined && Date.now() - h.failedAt > READY_AFTER_FAILURE_MS) ? 'ok' : 'failing';
    }
    return { checks };
  };
  const api = createAdminApi({ approvals, verifier, log: log.child({ component: 'api' }), readiness, metrics: () => metrics.render() });
  const adminServer: ServerType = await new Promise((res, rej) => {
    const srv = serve({ fetch: api.fetch, hostname: config.listen.admin.host, port: config.listen.admin.port }, () => res(srv));
    srv.once('error', rej);
  });
  const adminAddress = adminServer.address() as net.AddressInfo;
  log.info({ host: adminAddress.address, port: adminAddress.port }, 'admin API ready');

  // Payload retention: removes expired payloads (envelopes, tree and checkpoints stay); each run is itself an event.
  let retentionTimer: NodeJS.Timeout | undefined;
  // Set by stop(): a retention loop in progress ends after its current batch, before the store closes.
  let retentionStopped = false;
  let retentionLoop: Promise<void> = Promise.resolve();
  if (store && Object.keys(config.audit.retention).length > 0) {
    const rules = config.audit.retention as Record<string, number>;
    let retentionRunning = false;
    // A batch at a time (RETENTION_BATCH payloads, one transaction each), yielding to the sessions between
    // batches: a large backlog (retention switched on for an old log) neither blocks start-up nor stalls statements.
    const runRetention = async (): Promise<void> => {
      if (retentionRunning) return;
      retentionRunning = true;
      let expired = 0;
      try {
        for (;;) {
          if (retentionStopped) return;
          const r = store!.applyRetention(rules);
          expired += r.expired;
          if (!r.more) break;
          await new Promise((res) => setImmediate(res));
        }
        if (expired > 0) log.info({ expired }, 'audit retention run');
      } catch (e) {
        log.error({ err: e, expired }, 'audit retention run failed');
      } finally {
        retentionRunning = false;
      }
    };
    // The first batch runs before start returns (as before); a backlog continues in the background.
    retentionLoop = runRetention();
    retentionTimer = setInterval(() => {
      if (!retentionRunning) retentionLoop = runRetention();
    }, 3600_000);
    retentionTimer.unref();
  }

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      log.info({}, 'shutting down: no new sessions');
      shuttingDown = true;
      if (retentionTimer) clearInterval(retentionTimer);
      retentionStopped = true;
      sessions.stopAccepting();
      const closed = new Promise<void>((r) => server.close(() => r()));
      const grace = config.limits.shutdownGraceSeconds * 1000;
      const live = sessions.liveSessions;
      // Let running statements finish, up to the grace period.
      await Promise.race([Promise.all(live.map((s) => s.whenIdle())), delay(grace)]);
      const sessionsEnded = sessions.liveSessions.length;
      for (const s of sessions.liveSessions) s.kill('Gatehouse is shutting down');
      // Give sessions a moment to write their end events.
      const deadline = Date.now() + 3000;
      while (sessions.liveSessions.length > 0 && Date.now() < deadline) await delay(20);
      await closed;
      await new Promise<void>((r) => adminServer.close(() => r()));
      // Roles of sessions that outlived the grace period are dropped before the event store closes.
      await closeCredentialSources(credentialSources);
      approvals.close();
      approvalStore.close();
      policy?.close();
      await masking.close();
      // Closing the store signs the final checkpoint; the anchor then gets a bounded time to send it.
      await retentionLoop;
      // The end of audit logging (PCI DSS 10.2.1.6): the last entry before the final checkpoint.
      await events.append({ type: 'gateway.stopped', time: Date.now(), reason: 'shutdown', sessionsEnded }).catch((e) => log.error({ err: e }, 'could not record the shutdown'));
      store?.close();
      await httpAnchor?.close();
      log.info({}, 'stopped');
    })());

  return {
    postgres: { host: address.address, port: address.port },
    admin: { host: adminAddress.address, port: adminAddress.port },
    approvals,
    stateDir,
    sessions,
    devIssuer,
    store,
    policy,
    stop,
  };
}

/** After a failed audit write, /readyz answers 503 this long (unless a write succeeds first). */
export const READY_AFTER_FAILURE_MS = 10_000;

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
