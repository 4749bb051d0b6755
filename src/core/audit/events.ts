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

/** The first rows of a result as the client received them (after masking). */
export interface ResultSample {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | null)[])[];
  /** More rows were sent than kept. */
  readonly truncated: boolean;
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
      /** libpg_query fingerprint (constants ignored), for grouping. */
      readonly fingerprint?: string | null;
      /** Bind parameters (extended protocol): text as sent, binary as \\x hex. */
      readonly params?: readonly (string | null)[];
      readonly policyVersion?: number;
      /** Data classes this principal may see in clear (decided by policy). */
      readonly unmaskable?: readonly string[];
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
      readonly fingerprint?: string | null;
      readonly policyVersion?: number;
      /** The policy's words, as the client received them. */
      readonly message?: string;
    })
  | (Base & {
      readonly type: 'statement.finished';
      readonly sessionId: string;
      readonly operationId: string;
      readonly outcome: Outcome;
      readonly durationMs: number;
      readonly rows: number | null;
      readonly error?: { readonly code: string; readonly message: string };
      /** Values masked per data class in this statement's results (counts only, never values). */
      readonly masked?: Readonly<Record<string, number>>;
      /**
       * Session recording: the first rows of the result as the client
       * received them (after masking). Makes the payload a 'result' payload,
       * removed with result retention.
       */
      readonly result?: ResultSample;
    })
  | (Base &
      ResultSample & {
        /**
         * Session recording as logs before version 0.2 wrote it: a separate
         * event per result. Still read (replay); now `statement.finished`
         * carries the sample (`result`), one event fewer per statement.
         */
        readonly type: 'statement.result';
        readonly sessionId: string;
        readonly operationId: string;
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
      /**
       * Per class, inclusive sequence-number ranges [from, to] in which every
       * payload of that class was removed.
       */
      readonly expiredByClass?: Readonly<Record<string, readonly (readonly [number, number])[]>>;
      /** Logs written before expiredByClass: ranges in which every payload was removed, whatever its class. */
      readonly expiredRanges?: readonly (readonly [number, number])[];
    })
  | (Base & {
      /**
       * Written by the audit log itself when its signing key is handed over
       * (`gatehouse audit rotate-key`): covered by the handover checkpoint,
       * which both keys sign (keychain.ts). Verifier keys are public.
       */
      readonly type: 'audit.key_rotated';
      /** Signed-note verifier keys (`name+id+base64`) of the outgoing and the incoming key. */
      readonly fromKey: string;
      readonly toKey: string;
      /** The operator's stated reason (free text: kept in the payload). */
      readonly justification?: string;
    })
  | (Base & {
      /**
       * The gateway starts serving on this audit log (PCI DSS 10.2.1.6: the
       * start of audit logging): before its listeners take a session.
       */
      readonly type: 'gateway.started';
      /** Gatehouse's version. */
      readonly version: string;
      /** The configured connections, by name. */
      readonly connections: readonly string[];
      readonly durability: string;
      /** The Cedar policy set in force, when policy comes from a folder. */
      readonly policyVersion?: number;
      readonly policyDigest?: string;
      readonly policies?: number;
    })
  | (Base & {
      /** The gateway stops (SIGTERM, SIGINT): the last entry it writes before the final checkpoint. */
      readonly type: 'gateway.stopped';
      readonly reason: 'shutdown';
      /** Sessions still open when the grace period ended, ended by the shutdown. */
      readonly sessionsEnded: number;
    })
  | (Base & {
      /** The policy folder changed and the new set is in force (every decision after names its version). */
      readonly type: 'policy.reloaded';
      readonly policyVersion: number;
      /** SHA-256 over the policy sources and the schema: the exact text in force. */
      readonly policyDigest: string;
      readonly policies: number;
    })
  | (Base & {
      /** The policy folder changed but does not load: the previous version stays in force. */
      readonly type: 'policy.reload_failed';
      readonly policyVersion: number;
      /** The problems, with file and line (free text: kept in the payload). */
      readonly message: string;
    })
  | ApprovalEvent
  | GrantEvent
  | CredentialEvent;

/** Who a decision was about, without groups or claims (those are in the request event). */
export interface PersonRef {
  readonly issuer: string;
  readonly subject: string;
}

/**
 * Approval events (issue 6). `identity` is the person who acted: the
 * requester for `approval.requested` / `approval.used`, the approver for
 * `approval.granted` / `approval.denied`. Free-text reasons are named
 * `justification` so that they land in the payload: the envelope attribute
 * `reason` is reserved for closed vocabularies.
 */
export type ApprovalEvent =
  | (Base & {
      readonly type: 'approval.requested';
      readonly approvalId: string;
      readonly identity: IdentityRef;
      readonly connection: string;
      readonly action: string;
      readonly tables: readonly string[];
      readonly statement: string;
      readonly statementHash: string;
      readonly bindingHash: string;
      readonly fingerprint: string | null;
      readonly policyId: string;
      readonly policyVersion: number;
      readonly approverGroups: readonly string[];
      readonly approvalsNeeded: number;
      readonly mode: 'hold' | 'reject';
      /** Decide-by deadline, ms since the epoch. */
      readonly expiresAt: number;
    })
  | (Base & {
      /** One approving vote; `complete` when it was the last one needed. */
      readonly type: 'approval.granted';
      readonly approvalId: string;
      readonly identity: IdentityRef;
      readonly requester: PersonRef;
      readonly connection: string;
      readonly justification: string;
      readonly approvalsGiven: number;
      readonly approvalsNeeded: number;
      readonly complete: boolean;
      /** Use-by deadline once complete. */
      readonly validUntil: number | null;
    })
  | (Base & {
      readonly type: 'approval.denied';
      readonly approvalId: string;
      readonly identity: IdentityRef;
      readonly requester: PersonRef;
      readonly connection: string;
      readonly justification: string;
    })
  | (Base & {
      readonly type: 'approval.expired';
      readonly approvalId: string;
      readonly requester: PersonRef;
      readonly connection: string;
      readonly previousStatus: 'pending' | 'approved';
    })
  | (Base & {
      readonly type: 'approval.used';
      readonly approvalId: string;
      readonly identity: IdentityRef;
      readonly connection: string;
      readonly bindingHash: string;
    });

/** Just-in-time grant events (issue 6); same conventions as ApprovalEvent. */
export type GrantEvent =
  | (Base & {
      readonly type: 'grant.requested';
      readonly grantId: string;
      readonly identity: IdentityRef;
      readonly connection: string;
      readonly action: string;
      readonly tables: readonly string[];
      readonly durationSeconds: number;
      readonly justification: string;
      readonly approverGroups: readonly string[];
      readonly approvalsNeeded: number;
      readonly requestExpiresAt: number;
    })
  | (Base & {
      readonly type: 'grant.approved';
      readonly grantId: string;
      readonly identity: IdentityRef;
      readonly requester: PersonRef;
      readonly connection: string;
      readonly justification: string;
      readonly approvalsGiven: number;
      readonly approvalsNeeded: number;
      /** End of the window once the grant is active, else null. */
      readonly activeUntil: number | null;
    })
  | (Base & {
      readonly type: 'grant.revoked';
      readonly grantId: string;
      readonly identity: IdentityRef;
      readonly requester: PersonRef;
      readonly connection: string;
      readonly justification: string;
      readonly previousStatus: 'pending' | 'active';
    })
  | (Base & {
      readonly type: 'grant.expired';
      readonly grantId: string;
      readonly requester: PersonRef;
      readonly connection: string;
      readonly previousStatus: 'pending' | 'active';
    });

/** Why a temporary credential was revoked (closed vocabulary: it is the envelope's `reason`). */
export type CredentialRevokeReason = 'session_ended' | 'session_refused' | 'leftover';

/**
 * Temporary credentials (issue 6, item 5): the upstream role Gatehouse
 * created for one session, and its end. Name and lifetime only: the
 * password is never stored anywhere, and no event carries it.
 */
export type CredentialEvent =
  | (Base & {
      readonly type: 'credential.issued';
      readonly sessionId: string;
      readonly connection: string;
      readonly role: string;
      readonly templateRole: string;
      /** VALID UNTIL of the role, ms since the epoch. */
      readonly validUntil: number;
      readonly durationSeconds: number;
    })
  | (Base & {
      readonly type: 'credential.revoked';
      /** Absent for leftovers found at start-up. */
      readonly sessionId?: string;
      readonly connection: string;
      readonly role: string;
      readonly reason: CredentialRevokeReason;
      /** Backends of the role that were terminated first. */
      readonly backendsTerminated: number;
      /** False when DROP ROLE failed and the role was only disabled (NOLOGIN), or not even that. */
      readonly dropped: boolean;
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
