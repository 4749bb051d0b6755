/**
 * JSON errors for the admin API: `{ "error": { "code", "message" } }` with
 * the HTTP status that fits the stable code. Only client-safe messages are
 * returned; anything else is logged and answered with a generic 500.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { clientMessage, isGatewayError, type ErrorCode } from '../shared/errors.ts';
import type { Logger } from '../core/logger.ts';

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

const STATUS: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  GW_API_BAD_REQUEST: 400,
  GW_APPROVAL_INVALID: 400,
  GW_APPROVAL_REASON_REQUIRED: 400,
  GW_APPROVAL_NOT_HUMAN: 403,
  GW_APPROVAL_NOT_APPROVER: 403,
  GW_APPROVAL_SELF: 403,
  GW_GRANT_FORBIDDEN: 403,
  GW_GRANT_UNAVAILABLE: 403,
  GW_APPROVAL_NOT_FOUND: 404,
  GW_GRANT_NOT_FOUND: 404,
  GW_API_NOT_FOUND: 404,
  GW_APPROVAL_ALREADY_VOTED: 409,
  GW_APPROVAL_NOT_PENDING: 409,
  GW_APPROVAL_CONFLICT: 409,
  GW_GRANT_NOT_PENDING: 409,
  GW_GRANT_ENDED: 409,
  GW_APPROVAL_LIMIT: 429,
  GW_EVENT_STORE_UNAVAILABLE: 503,
  GW_AUTH_JWKS_UNAVAILABLE: 503,
};

export function statusFor(code: ErrorCode): ContentfulStatusCode {
  const s = STATUS[code];
  if (s !== undefined) return s;
  if (code.startsWith('GW_AUTH_')) return 401;
  return 500;
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/** The response for any thrown value (Hono's onError). */
export function errorResponse(c: Context, e: unknown, log: Logger): Response {
  if (isGatewayError(e) && e.clientSafe) {
    const status = statusFor(e.code);
    if (status === 401) c.header('www-authenticate', 'Bearer realm="gatehouse"');
    if (status >= 500) log.warn({ code: e.code }, 'admin API request failed');
    return c.json(errorBody(e.code, e.message), status);
  }
  // Fail closed and say nothing: the detail goes to the log only.
  log.error({ err: e, path: c.req.path, method: c.req.method }, 'admin API internal error');
  return c.json(errorBody('GW_INTERNAL', clientMessage(e)), 500);
}
