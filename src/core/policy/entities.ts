/**
 * Gatehouse values → Cedar request pieces (entities, context) per
 * policy/gatehouse.cedarschema. Requests are evaluated without re-validating
 * against the schema on every call (a 3-4x cost); instead the action
 * hierarchy is supplied as entities here, policies are validated strictly at
 * load, and a test builds every kind of request with request validation on.
 * Any evaluation error still fails closed (cedar-authorizer.ts).
 */
import type * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { Principal } from '../identity/principal.ts';
import { parseQualifiedName } from '../classify/sql/names.ts';
import type { ApprovalContext, GrantContext } from './decision.ts';
import { T } from './schema.ts';

export type Uid = { type: string; id: string };

/** Identity claims that become optional attributes of `Identity`. */
export const IDENTITY_CLAIMS = ['repository', 'ref', 'workflow_ref', 'environment', 'actor', 'event_name'] as const;

export const SQL_CEDAR_ACTIONS = ['sql:read', 'sql:write', 'sql:ddl', 'sql:privilege', 'sql:admin', 'sql:unknown'] as const;

/** The action hierarchy (`sql:*` in `sql`), as entities. */
export const ACTION_ENTITIES: cedar.EntityJson[] = [
  { uid: { type: T.action, id: 'sql' }, attrs: {}, parents: [] },
  { uid: { type: T.action, id: 'connect' }, attrs: {}, parents: [] },
  { uid: { type: T.action, id: 'unmask' }, attrs: {}, parents: [] },
  ...SQL_CEDAR_ACTIONS.map((a) => ({ uid: { type: T.action, id: a }, attrs: {}, parents: [{ type: T.action, id: 'sql' }] })),
];

export function actionUid(action: string): Uid {
  return { type: T.action, id: action };
}

export function identityUid(p: Principal): Uid {
  return { type: T.identity, id: p.subject };
}

/**
 * A claim as a Cedar string. Non-string claims are stringified rather than
 * dropped: dropping `environment: 1` would let it slip past a
 * `forbid … when { principal has environment && … }`.
 */
function claimString(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return undefined;
  }
}

/** The principal and its groups. */
export function principalEntities(p: Principal): cedar.EntityJson[] {
  const attrs: Record<string, cedar.CedarValueJson> = { issuer: p.issuer, subject: p.subject, kind: p.kind };
  for (const c of IDENTITY_CLAIMS) {
    const v = claimString(p.claims[c]);
    if (v !== undefined) attrs[c] = v;
  }
  const groups = [...new Set(p.groups)];
  return [
    { uid: identityUid(p), attrs, parents: groups.map((g) => ({ type: T.group, id: g })) },
    ...groups.map((g) => ({ uid: { type: T.group, id: g }, attrs: {}, parents: [] })),
  ];
}

/** A stable key for everything about a principal that policy can see. */
export function principalKey(p: Principal): string {
  const claims = IDENTITY_CLAIMS.map((c) => claimString(p.claims[c]) ?? '\u0001');
  return JSON.stringify([p.issuer, p.subject, p.kind, [...new Set(p.groups)].sort(), claims]);
}

export function connectionEntity(connection: string): cedar.EntityJson {
  return { uid: { type: T.connection, id: connection }, attrs: {}, parents: [] };
}

/** `public.customers` → Table entity in its Connection. */
export function tableEntity(table: string, connection: string): cedar.EntityJson {
  const parts = parseQualifiedName(table) ?? [table];
  const name = parts[parts.length - 1] ?? table;
  const schema = parts.length >= 2 ? (parts[parts.length - 2] as string) : '';
  return {
    uid: { type: T.table, id: table },
    attrs: { schema, name, connection },
    parents: [{ type: T.connection, id: connection }],
  };
}

export function dataClassEntity(dataClass: string): cedar.EntityJson {
  return { uid: { type: T.dataClass, id: dataClass }, attrs: {}, parents: [] };
}

export interface RequestContextInput {
  readonly time: number;
  readonly clientAddress: string;
  readonly connection: string;
  readonly fingerprint: string;
  readonly statement: string;
  readonly flags: readonly string[];
  readonly approval?: ApprovalContext | undefined;
  readonly grant?: GrantContext | undefined;
}

export function hourAndWeekday(time: number): { hour: number; weekday: number } {
  const d = new Date(time);
  const hour = d.getUTCHours();
  const weekday = d.getUTCDay();
  // An invalid clock must not become a silently-matching value: fail closed upstream.
  if (!Number.isInteger(hour) || !Number.isInteger(weekday)) throw new RangeError(`invalid request time ${time}`);
  return { hour, weekday };
}

export function requestContext(c: RequestContextInput): cedar.Context {
  const { hour, weekday } = hourAndWeekday(c.time);
  const ctx: cedar.Context = {
    hour,
    weekday,
    clientAddress: c.clientAddress,
    connection: c.connection,
    fingerprint: c.fingerprint,
    statement: c.statement,
    flags: [...c.flags],
  };
  if (c.approval) ctx.approval = { id: c.approval.id, approvers: [...c.approval.approvers], approvedAt: c.approval.approvedAt };
  if (c.grant)
    ctx.grant = {
      id: c.grant.id,
      actions: [...c.grant.actions],
      tables: [...c.grant.tables],
      expiresAt: c.grant.expiresAt,
      reason: c.grant.reason,
    };
  return ctx;
}
