/**
 * The admin API (issue 6): approvals and just-in-time grants over HTTP,
 * served by Hono on the admin listener. server/ mounts it with
 * @hono/node-server; tests call `app.request()`.
 *
 * Authentication: every route under /api/v1 needs `Authorization: Bearer
 * <OIDC token>` — the caller's own token, verified by the same
 * TokenVerifier as the data path. Who may do what is decided by
 * ApprovalService (only people, in an approver group, never for their own
 * request); this layer only authenticates, validates and translates.
 *
 * `/healthz` (the process answers), `/readyz` (it can take sessions: not
 * shutting down, and the audit log takes appends) and `/metrics`
 * (Prometheus) need no token.
 *
 * Responses carry `cache-control: no-store` (they contain statements) and
 * never contain tokens or claims beyond the CI set.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import type { TokenVerifier } from '../core/ports.ts';
import type { Logger } from '../core/logger.ts';
import type { Principal } from '../core/identity/principal.ts';
import type { ApprovalService } from '../core/approvals/service.ts';
import type { ApprovalStatus, GrantStatus } from '../core/approvals/model.ts';
import { canView } from '../core/approvals/model.ts';
import { GatewayError, isGatewayError } from '../shared/errors.ts';
import { errorBody, errorResponse } from './errors.ts';
import { approvalListQuery, decisionBody, describeIssues, grantListQuery, grantRequestBody, revokeBody } from './schemas.ts';
import { approvalView, grantView } from './views.ts';

export interface AdminApiDeps {
  readonly approvals: ApprovalService;
  readonly verifier: TokenVerifier;
  readonly log: Logger;
  /** Readiness for `/readyz` (default: always ready). */
  readonly readiness?: () => Readiness;
  /** Prometheus exposition for `/metrics` (absent: no such route). */
  readonly metrics?: () => Promise<{ readonly contentType: string; readonly body: string }>;
}

/** What `/readyz` reports: each check's state, by name; ready when every one is `ok`. No details, no secrets. */
export interface Readiness {
  readonly checks: Readonly<Record<string, 'ok' | 'failing' | 'stopping'>>;
}

export type AdminEnv = { Variables: { principal: Principal } };

const MAX_BODY_BYTES = 64 * 1024;
const MAX_TOKEN_CHARS = 16 * 1024;

function badRequest(message: string): GatewayError {
  return new GatewayError('GW_API_BAD_REQUEST', message, { clientSafe: true });
}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw badRequest(describeIssues(r.error));
  return r.data;
}

async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest('body: expected a JSON object');
  }
}

/** The principal from `Authorization: Bearer …`, or a 401 GatewayError. */
async function authenticate(verifier: TokenVerifier, header: string | undefined): Promise<Principal> {
  const m = header === undefined ? null : /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  if (!m || !m[1]) {
    throw new GatewayError('GW_AUTH_TOKEN_MISSING', 'send your OIDC token as "Authorization: Bearer <token>"', { clientSafe: true });
  }
  if (m[1].length > MAX_TOKEN_CHARS) throw new GatewayError('GW_AUTH_TOKEN_INVALID', 'token is too long', { clientSafe: true });
  try {
    return await verifier.verify(m[1]);
  } catch (e) {
    // Fail closed: any verification problem is a 401 (the token never appears in the message).
    if (isGatewayError(e) && e.clientSafe) throw e;
    throw new GatewayError('GW_AUTH_TOKEN_INVALID', 'token verification failed', { clientSafe: true, cause: e });
  }
}

export function createAdminApi(deps: AdminApiDeps): Hono<AdminEnv> {
  const { approvals, verifier, log } = deps;
  const app = new Hono<AdminEnv>();

  app.onError((e, c) => errorResponse(c, e, log));
  app.notFound((c) => c.json(errorBody('GW_API_NOT_FOUND', `no route for ${c.req.method} ${c.req.path}`), 404));

  app.use('*', async (c, next) => {
    await next();
    c.header('cache-control', 'no-store');
    c.header('x-content-type-options', 'nosniff');
  });

  // ─── probes ─────────────────────────────────────────────────────────────
  // Unauthenticated (load balancers and kubelets carry no token); they say up/ready and which check fails, nothing more.

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const checks = deps.readiness?.().checks ?? {};
    const ready = Object.values(checks).every((v) => v === 'ok');
    return c.json({ status: ready ? 'ready' : 'unavailable', checks }, ready ? 200 : 503);
  });

  const metrics = deps.metrics;
  if (metrics) {
    // Counts by connection, action, code and outcome only: no identities, no statement text (infra/metrics).
    app.get('/metrics', async (c) => {
      const m = await metrics();
      return c.body(m.body, 200, { 'content-type': m.contentType });
    });
  }

  app.use(
    '/api/v1/*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => c.json(errorBody('GW_API_BAD_REQUEST', `body: larger than ${MAX_BODY_BYTES} bytes`), 413),
    }),
  );

  app.use('/api/v1/*', async (c, next) => {
    c.set('principal', await authenticate(verifier, c.req.header('authorization')));
    await next();
  });

  // ─── approvals ──────────────────────────────────────────────────────────

  app.get('/api/v1/approvals', (c) => {
    const q = parse(approvalListQuery, c.req.query());
    const list = approvals.list(c.get('principal'), {
      ...(q.status !== undefined ? { status: q.status as ApprovalStatus } : {}),
      ...(q.limit !== undefined ? { limit: q.limit } : {}),
    });
    return c.json({ approvals: list.map(approvalView) });
  });

  app.get('/api/v1/approvals/:id', (c) => {
    const id = c.req.param('id');
    const r = approvals.get(id);
    // Not visible is reported as not found: ids of others' requests are not confirmed.
    if (!r || !canView(r, c.get('principal'))) throw new GatewayError('GW_APPROVAL_NOT_FOUND', `no approval request ${id}`, { clientSafe: true });
    return c.json({ approval: approvalView(r) });
  });

  app.post('/api/v1/approvals/:id/approve', async (c) => {
    const body = parse(decisionBody, await jsonBody(c));
    const r = await approvals.approve(c.req.param('id'), c.get('principal'), body.reason);
    return c.json({ approval: approvalView(r) });
  });

  app.post('/api/v1/approvals/:id/deny', async (c) => {
    const body = parse(decisionBody, await jsonBody(c));
    const r = await approvals.deny(c.req.param('id'), c.get('principal'), body.reason);
    return c.json({ approval: approvalView(r) });
  });

  // ─── grants ─────────────────────────────────────────────────────────────

  app.post('/api/v1/grants', async (c) => {
    const body = parse(grantRequestBody, await jsonBody(c));
    const g = await approvals.requestGrant({ requester: c.get('principal'), ...body });
    return c.json({ grant: grantView(g) }, 201);
  });

  app.get('/api/v1/grants', (c) => {
    const q = parse(grantListQuery, c.req.query());
    const list = approvals.listGrants(c.get('principal'), {
      ...(q.status !== undefined ? { status: q.status as GrantStatus } : {}),
      ...(q.limit !== undefined ? { limit: q.limit } : {}),
    });
    return c.json({ grants: list.map(grantView) });
  });

  app.get('/api/v1/grants/:id', (c) => {
    const id = c.req.param('id');
    const g = approvals.getGrant(id);
    if (!g || !canView(g, c.get('principal'))) throw new GatewayError('GW_GRANT_NOT_FOUND', `no grant ${id}`, { clientSafe: true });
    return c.json({ grant: grantView(g) });
  });

  app.post('/api/v1/grants/:id/approve', async (c) => {
    const body = parse(decisionBody, await jsonBody(c));
    const g = await approvals.approveGrant(c.req.param('id'), c.get('principal'), body.reason);
    return c.json({ grant: grantView(g) });
  });

  app.post('/api/v1/grants/:id/revoke', async (c) => {
    const body = parse(revokeBody, await jsonBody(c));
    const g = await approvals.revokeGrant(c.req.param('id'), c.get('principal'), body.reason ?? '');
    return c.json({ grant: grantView(g) });
  });

  return app;
}
