/**
 * Typed errors with stable codes (ARCHITECTURE.md principle 7).
 *
 * Only errors created with `clientSafe: true` may have their message shown to a
 * client; anything else is logged with the session id and the client sees a
 * generic message. Messages must never contain secrets (tokens, passwords,
 * vault values): construct them from names and reasons only.
 */
export type ErrorCode =
  | 'GW_AUTH_TOKEN_MISSING'
  | 'GW_AUTH_TOKEN_INVALID'
  | 'GW_AUTH_TOKEN_EXPIRED'
  | 'GW_AUTH_TOKEN_NOT_YET_VALID'
  | 'GW_AUTH_ISSUER_UNKNOWN'
  | 'GW_AUTH_AUDIENCE'
  | 'GW_AUTH_SIGNATURE'
  | 'GW_AUTH_ALGORITHM'
  | 'GW_AUTH_GROUPS_MISSING'
  | 'GW_AUTH_JWKS_UNAVAILABLE'
  | 'GW_TLS_REQUIRED'
  | 'GW_CONNECTION_UNKNOWN'
  | 'GW_POLICY_DENIED'
  | 'GW_UPSTREAM_UNAVAILABLE'
  | 'GW_UPSTREAM_AUTH_FAILED'
  | 'GW_UPSTREAM_PROTOCOL'
  | 'GW_FRAME_TOO_LARGE'
  | 'GW_FRAME_MALFORMED'
  | 'GW_PROTOCOL_UNSUPPORTED'
  | 'GW_EVENT_STORE_UNAVAILABLE'
  | 'GW_SHUTTING_DOWN'
  | 'GW_SESSION_KILLED'
  | 'GW_VAULT_KEY_MISSING'
  | 'GW_VAULT_SECRET_MISSING'
  | 'GW_VAULT_CORRUPT'
  | 'GW_CONFIG_INVALID'
  | 'GW_DEV_ISSUER_DISABLED'
  // Approvals and just-in-time grants (issue 6).
  | 'GW_APPROVAL_NOT_FOUND'
  | 'GW_APPROVAL_INVALID'
  | 'GW_APPROVAL_NOT_HUMAN'
  | 'GW_APPROVAL_NOT_APPROVER'
  | 'GW_APPROVAL_SELF'
  | 'GW_APPROVAL_ALREADY_VOTED'
  | 'GW_APPROVAL_NOT_PENDING'
  | 'GW_APPROVAL_REASON_REQUIRED'
  | 'GW_APPROVAL_CONFLICT'
  | 'GW_APPROVAL_LIMIT'
  | 'GW_GRANT_NOT_FOUND'
  | 'GW_GRANT_UNAVAILABLE'
  | 'GW_GRANT_FORBIDDEN'
  | 'GW_GRANT_NOT_PENDING'
  | 'GW_GRANT_ENDED'
  // Admin API request validation.
  | 'GW_API_BAD_REQUEST'
  | 'GW_API_NOT_FOUND'
  // Masking (issue 4): a value that cannot be masked, or a statement refused by the inference guard.
  | 'GW_MASKING_UNSUPPORTED'
  | 'GW_MASKING_REFUSED'
  | 'GW_INTERNAL';

export class GatewayError extends Error {
  readonly code: ErrorCode;
  /** True when `message` may be shown to the client as is. */
  readonly clientSafe: boolean;
  /** Optional detail for the client (no secrets). */
  readonly detail: string | undefined;
  readonly hint: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { clientSafe?: boolean; detail?: string; hint?: string; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.clientSafe = opts.clientSafe ?? false;
    this.detail = opts.detail;
    this.hint = opts.hint;
  }
}

export function isGatewayError(e: unknown): e is GatewayError {
  return e instanceof GatewayError;
}

/** The message a client may see for any thrown value. */
export function clientMessage(e: unknown): string {
  if (isGatewayError(e) && e.clientSafe) return e.message;
  return 'Gatehouse internal error (see gateway log)';
}
