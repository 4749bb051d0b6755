/**
 * Request validation for the admin API (zod). Every body and query is a
 * closed object: an unknown key is a 400, like the config file.
 */
import { z } from 'zod';
import { APPROVAL_STATUSES, GRANT_STATUSES } from '../core/approvals/model.ts';
import { MAX_REASON_LENGTH } from '../core/approvals/rules.ts';
import { parseDuration } from '../core/policy/annotations.ts';

const reason = z
  .string({ error: 'a reason is required' })
  .trim()
  .min(1, { error: 'a reason is required' })
  .max(MAX_REASON_LENGTH, { error: `at most ${MAX_REASON_LENGTH} characters` });

export const decisionBody = z.strictObject({ reason });

export const revokeBody = z.strictObject({
  reason: z.string().trim().max(MAX_REASON_LENGTH, { error: `at most ${MAX_REASON_LENGTH} characters` }).optional(),
});

const limit = z.coerce.number().int().min(1).max(1000).optional();

export const approvalListQuery = z.strictObject({
  status: z.enum(APPROVAL_STATUSES as [string, ...string[]], { error: `status must be one of ${APPROVAL_STATUSES.join(', ')}` }).optional(),
  limit,
});

export const grantListQuery = z.strictObject({
  status: z.enum(GRANT_STATUSES as [string, ...string[]], { error: `status must be one of ${GRANT_STATUSES.join(', ')}` }).optional(),
  limit,
});

/** Connection names as the config allows them; actions like `sql:write`; schema-qualified table names. */
const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, { error: 'expected a connection name' });
const action = z.string().regex(/^[a-z][a-z0-9_]*(:[a-z][a-z0-9_]*)?$/, { error: 'expected an action such as sql:write' });
const table = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[^\u0000-\u001f\u007f]+$/, { error: 'expected a table name such as public.orders' });

/** `duration` as `30m` / `1h30m`, or `durationSeconds` as a number; exactly one. */
export const grantRequestBody = z
  .strictObject({
    connection: name,
    action,
    table: table.nullable().optional(),
    duration: z.string().optional(),
    durationSeconds: z.number().int().positive().optional(),
    reason,
  })
  .transform((b, ctx) => {
    let seconds = b.durationSeconds;
    if (b.duration !== undefined) {
      const d = parseDuration(b.duration);
      if (d === null || d < 1) {
        ctx.addIssue({ code: 'custom', path: ['duration'], message: 'expected a duration such as 30m or 1h30m' });
        return z.NEVER;
      }
      if (seconds !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['duration'], message: 'give duration or durationSeconds, not both' });
        return z.NEVER;
      }
      seconds = d;
    }
    if (seconds === undefined) {
      ctx.addIssue({ code: 'custom', path: ['duration'], message: 'a duration is required' });
      return z.NEVER;
    }
    return { connection: b.connection, action: b.action, table: b.table ?? null, durationSeconds: seconds, reason: b.reason };
  });

/** One line per problem: `path: message`. Values are never echoed. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
}
