/**
 * The event vocabulary: one typed union, written through the single EventSink
 * port. The audit issue hardens the store into a tamper-evident log without
 * touching adapters, because every event already flows through here.
 *
 * Events never carry secrets: no tokens, no passwords, no vault values.
 */
import type { Decision } from '../policy/decision.ts';

export interface IdentityRef {
  readonly issuer: string;
  readonly subject: string;
  readonly groups: readonly string[];
  readonly kind: 'human' | 'workload';
  /** CI claims when present (repository, ref, workflow_ref, environment, actor, run_id…). */
  readonly ci?: Readonly<Record<string, string>>;
}

export type Outcome = 'ok' | 'error' | 'denied' | 'cancelled' | 'not_executed';

interface Base {
  /** ms since epoch. */
  readonly time: number;
  readonly sessionId?: string;
}

export type GatewayEvent =
  | (Base & {
      readonly type: 'session.opened';
      readonly sessionId: string;
      readonly identity: IdentityRef;
      readonly connection: string;
      readonly protocol: string;
      readonly clientAddress: string;
      readonly tls: boolean;
    })
  | (Base & {
      readonly type: 'session.closed';
      readonly sessionId: string;
      readonly reason: string;
      readonly statements: number;
    })
  | (Base & {
      readonly type: 'auth.failed';
      readonly protocol: string;
      readonly connection: string | null;
      readonly clientAddress: string;
      readonly code: string;
      readonly message: string;
    })
  | (Base & {
      readonly type: 'connect.denied';
      readonly identity: IdentityRef;
      readonly connection: string;
      readonly clientAddress: string;
      readonly decision: DecisionRecord;
    })
  | (Base & {
      readonly type: 'statement.started';
      readonly sessionId: string;
      readonly operationId: string;
      readonly identity: IdentityRef;
      readonly connection: string;
      readonly action: string;
      readonly statement: string;
      readonly decision: DecisionRecord;
      /** Tables (schema-qualified) the statement touches, when classification knows them. */
      readonly tables?: readonly string[];
      /** The approval this statement runs under, when one was required. */
      readonly approvalId?: string;
    })
  | (Base & {
      readonly type: 'statement.denied';
      readonly sessionId: string;
      readonly operationId: string;
      readonly identity: IdentityRef;
      readonly connection: string;
      readonly action: string;
      readonly statement: string;
      readonly decision: DecisionRecord;
      readonly tables?: readonly string[];
    })
  | (Base & {
      readonly type: 'statement.finished';
      readonly sessionId: string;
      readonly operationId: string;
      readonly outcome: Outcome;
      readonly durationMs: number;
      readonly rows: number | null;
      readonly error?: { readonly code: string; readonly message: string };
    })
  | (Base & {
      readonly type: 'upstream.failed';
      readonly sessionId: string;
      readonly connection: string;
      readonly code: string;
      readonly message: string;
    })
  | (Base & {
      /**
       * Written by the audit log itself when retention removes payloads, in the
       * same transaction as the removal, so verification can tell "expired by
       * policy" from "deleted".
       */
      readonly type: 'retention.run';
      /** Seconds of retention per payload class that this run applied. */
      readonly rules: Readonly<Record<string, number>>;
      /** How many payloads were removed. */
      readonly expired: number;
      /** The removed payloads as inclusive sequence-number ranges [from, to]. */
      readonly expiredRanges: readonly (readonly [number, number])[];
    });

export interface DecisionRecord {
  readonly effect: Decision['effect'];
  readonly policyIds: readonly string[];
  readonly reasons: readonly string[];
}

export function decisionRecord(d: Decision): DecisionRecord {
  return { effect: d.effect, policyIds: d.policyIds, reasons: d.reasons.map((r) => r.code) };
}

/**
 * An event as read back from the log. `payloadExpired` is set when the
 * event's payload (statement text, messages…) was removed by retention; the
 * affected text fields then hold `PAYLOAD_EXPIRED_TEXT`.
 */
export type StoredEvent = GatewayEvent & { readonly seq: number; readonly payloadExpired?: true };

export const PAYLOAD_EXPIRED_TEXT = '[payload expired by retention policy]';
