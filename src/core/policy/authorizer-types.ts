/**
 * Public types of the Cedar authorizer (cedar-authorizer.ts), kept apart so
 * the engine file stays readable.
 */
import type * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { GatewayError } from '../../shared/errors.ts';
import type { SqlAction } from '../classify/sql/types.ts';
import type { ApprovalContext, ApprovalTerms, Decision, GrantContext, Reason, ReasonCode } from './decision.ts';
import type { PolicyProblem, PolicySource } from './source.ts';

/** The subset of cedar-wasm the authorizer uses (injectable for fault tests). */
export interface CedarEngine {
  preparsePolicySet(id: string, policies: cedar.PolicySet): cedar.CheckParseAnswer;
  preparseSchema(name: string, schema: cedar.Schema): cedar.CheckParseAnswer;
  statefulIsAuthorized(call: cedar.StatefulAuthorizationCall): cedar.AuthorizationAnswer;
}

export class PolicyCompileError extends GatewayError {
  constructor(readonly problems: readonly PolicyProblem[]) {
    super('GW_CONFIG_INVALID', `policy invalid: ${problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('; ')}`, {
      clientSafe: false,
    });
    this.name = 'PolicyCompileError';
  }
}

export interface CedarAuthorizerOptions {
  readonly policies: readonly PolicySource[];
  readonly schemaText: string;
  readonly schemaFile?: string;
  /** Data classes `unmaskable` asks about. Default: schema.ts DEFAULT_DATA_CLASSES. */
  readonly dataClasses?: readonly string[];
  /** Entries in the decision cache (per authorizer, i.e. per policy version). Default 10 000. */
  readonly cacheSize?: number;
  /** Policy version (PolicyStore increments it on every successful reload). Default 1. */
  readonly version?: number;
  /** Validate every request against the schema (slower; tests use it to prove requests conform). */
  readonly validateRequests?: boolean;
  readonly engine?: CedarEngine;
}

/** When and from where, plus approval/grant once those features supply them. */
export interface StatementContext {
  readonly clientAddress: string;
  /** ms since the epoch */
  readonly time: number;
  readonly approval?: ApprovalContext;
  readonly grant?: GrantContext;
}

export type StatementEffect = 'allow' | 'deny' | 'require_approval';

export interface PairDecision {
  readonly statementIndex: number;
  readonly action: SqlAction;
  readonly table: string | null;
  readonly effect: StatementEffect;
  readonly reason: ReasonCode;
  readonly policyIds: readonly string[];
  readonly approval?: ApprovalTerms;
  readonly message: string;
}

export interface StatementDecision {
  readonly effect: StatementEffect;
  /** The deciding policies: forbids / errors of denied pairs, approval policies, or the permits when allowed. */
  readonly policyIds: readonly string[];
  readonly reasons: readonly Reason[];
  /** For the client, the log and the audit record (issue 3, item 5). */
  readonly message: string;
  readonly pairs: readonly PairDecision[];
  /** When effect is require_approval: the strictest terms over the pairs (most approvals). */
  readonly approval?: ApprovalTerms;
  /** Data classes this principal may see in clear on this connection. */
  readonly unmaskable: readonly string[];
  readonly policyVersion: number;
  /** The same outcome in the Authorizer port's shape (require_approval → deny + approval). */
  readonly decision: Decision;
}

