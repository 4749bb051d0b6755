/**
 * A small client for the approvals and grants API, for the CLI
 * (`gatehouse approvals list|show|approve|deny`, `gatehouse access
 * request|list|approve|revoke`). Authenticates with the caller's own OIDC
 * token. Errors carry the API's stable code; the token never appears in an
 * error or message.
 */
import type { ApprovalView, GrantView } from './views.ts';
import type { ApprovalStatus, GrantStatus } from '../core/approvals/model.ts';

export type { ApprovalView, GrantView } from './views.ts';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export interface ClientOptions {
  /** Per request (default 30 s). */
  readonly timeoutMs?: number;
  /** For tests: e.g. `(url, init) => app.request(url, init)`. */
  readonly fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

export interface GrantRequest {
  readonly connection: string;
  readonly action: string;
  readonly table?: string;
  /** `30m`, `1h30m`; or give durationSeconds. */
  readonly duration?: string;
  readonly durationSeconds?: number;
  readonly reason: string;
}

export interface ApprovalsClient {
  list(opts?: { status?: ApprovalStatus; limit?: number }): Promise<ApprovalView[]>;
  show(id: string): Promise<ApprovalView>;
  approve(id: string, reason: string): Promise<ApprovalView>;
  deny(id: string, reason: string): Promise<ApprovalView>;
  requestGrant(req: GrantRequest): Promise<GrantView>;
  listGrants(opts?: { status?: GrantStatus; limit?: number }): Promise<GrantView[]>;
  showGrant(id: string): Promise<GrantView>;
  approveGrant(id: string, reason: string): Promise<GrantView>;
  revokeGrant(id: string, reason?: string): Promise<GrantView>;
}

export function approvalsClient(baseUrl: string, token: string, opts: ClientOptions = {}): ApprovalsClient {
  const base = baseUrl.replace(/\/+$/, '');
  const doFetch = opts.fetch ?? ((url: string, init: RequestInit) => fetch(url, init));
  const timeoutMs = opts.timeoutMs ?? 30_000;

  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      const why = (e as Error)?.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'connection failed';
      throw new ApiError(0, 'GW_API_UNREACHABLE', `cannot reach Gatehouse at ${base}: ${why}`);
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // fall through: reported below
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      const code = typeof err?.code === 'string' ? err.code : `HTTP_${res.status}`;
      const message = typeof err?.message === 'string' ? err.message : `Gatehouse answered ${res.status}`;
      throw new ApiError(res.status, code, message);
    }
    if (json === null || typeof json !== 'object') throw new ApiError(res.status, 'GW_API_BAD_RESPONSE', 'Gatehouse sent a response that is not JSON');
    return json as T;
  }

  const q = (o: { status?: string; limit?: number } | undefined): string => {
    const p = new URLSearchParams();
    if (o?.status !== undefined) p.set('status', o.status);
    if (o?.limit !== undefined) p.set('limit', String(o.limit));
    const s = p.toString();
    return s ? `?${s}` : '';
  };
  const id = (x: string): string => encodeURIComponent(x);

  return {
    list: async (o) => (await call<{ approvals: ApprovalView[] }>('GET', `/api/v1/approvals${q(o)}`)).approvals,
    show: async (x) => (await call<{ approval: ApprovalView }>('GET', `/api/v1/approvals/${id(x)}`)).approval,
    approve: async (x, reason) => (await call<{ approval: ApprovalView }>('POST', `/api/v1/approvals/${id(x)}/approve`, { reason })).approval,
    deny: async (x, reason) => (await call<{ approval: ApprovalView }>('POST', `/api/v1/approvals/${id(x)}/deny`, { reason })).approval,
    requestGrant: async (req) => (await call<{ grant: GrantView }>('POST', '/api/v1/grants', req)).grant,
    listGrants: async (o) => (await call<{ grants: GrantView[] }>('GET', `/api/v1/grants${q(o)}`)).grants,
    showGrant: async (x) => (await call<{ grant: GrantView }>('GET', `/api/v1/grants/${id(x)}`)).grant,
    approveGrant: async (x, reason) => (await call<{ grant: GrantView }>('POST', `/api/v1/grants/${id(x)}/approve`, { reason })).grant,
    revokeGrant: async (x, reason) => (await call<{ grant: GrantView }>('POST', `/api/v1/grants/${id(x)}/revoke`, reason === undefined ? {} : { reason })).grant,
  };
}
