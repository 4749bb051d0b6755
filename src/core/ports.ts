/**
 * Ports: what core needs from the outside world. Implementations live in
 * infra/ (and are wired together in server/). Core never imports I/O modules.
 */
import type { Principal } from './identity/principal.ts';
import type { AccessRequest, Decision } from './policy/decision.ts';
import type { GatewayEvent, StoredEvent } from './audit/events.ts';
import type { Classification } from './classify/sql/types.ts';
import type { StatementContext, StatementDecision } from './policy/authorizer-types.ts';

/** Verifies a bearer token (an OIDC JWT) and returns the principal, or throws a GatewayError (GW_AUTH_*). */
export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
}

/** Decides one access request. Must fail closed: on any internal error return deny. */
export interface Authorizer {
  authorize(request: AccessRequest): Decision;
}

/**
 * Decides a classified statement: every (action, table) pair must be allowed.
 * Fail closed like Authorizer. The Cedar engine implements it; so does the
 * pairwise wrapper around any Authorizer (core/policy/pairwise.ts).
 */
export interface StatementAuthorizer {
  decideStatement(principal: Principal, connection: string, classification: Classification, context: StatementContext): StatementDecision;
}

/**
 * The single event path. `append` resolves once the event is durable in the
 * state store and rejects (GW_EVENT_STORE_UNAVAILABLE) when it cannot be
 * written; callers refuse the operation in that case (fail closed).
 */
export interface EventSink {
  /**
   * Resolves once the event is durable. `lazy`: nobody waits for this event
   * on the data path (statement.finished), so the sink may hold it briefly
   * and write it with the next batch instead of a transaction of its own.
   */
  append(event: GatewayEvent, opts?: AppendOptions): Promise<StoredEvent>;
}

export interface AppendOptions {
  readonly lazy?: boolean;
}

/** Read access to stored secrets (the vault). */
export interface SecretStore {
  get(name: string): string;
  has(name: string): boolean;
}
