/**
 * A StatementAuthorizer over any Authorizer: each (action, table) pair of a
 * classified statement is one access request, and the statement runs only if
 * every pair is allowed. Used with the interim `allow.groups` rule; the Cedar
 * engine decides statements itself (with approval terms and unmask sets).
 */
import type { Authorizer, StatementAuthorizer } from '../ports.ts';
import type { Principal } from '../identity/principal.ts';
import type { Classification } from '../classify/sql/types.ts';
import type { PairDecision, StatementContext, StatementDecision } from './authorizer-types.ts';
import type { Decision } from './decision.ts';

export class PairwiseStatementAuthorizer implements StatementAuthorizer {
  constructor(private readonly authorizer: Authorizer) {}

  decideStatement(principal: Principal, connection: string, classification: Classification, context: StatementContext): StatementDecision {
    const pairs: PairDecision[] = [];
    let denied: { pair: PairDecision; decision: Decision } | null = null;
    classification.statements.forEach((stmt, statementIndex) => {
      for (const pair of stmt.pairs) {
        // Transaction control never touches data; refusing it only breaks drivers.
        if (pair.action === 'sql:transaction') continue;
        let d: Decision;
        try {
          d = this.authorizer.authorize({
            principal,
            action: pair.action,
            connection,
            ...(pair.table ? { tables: [pair.table] } : {}),
            context: { clientAddress: context.clientAddress, time: context.time, ...(classification.fingerprint ? { statementFingerprint: classification.fingerprint } : {}) },
          });
        } catch {
          // Fail closed.
          d = { effect: 'deny', policyIds: [], reasons: [{ code: 'policy_error', message: 'policy evaluation failed' }] };
        }
        const reason = d.reasons[0];
        const pd: PairDecision = {
          statementIndex,
          action: pair.action,
          table: pair.table,
          effect: d.effect === 'allow' ? 'allow' : 'deny',
          reason: reason?.code ?? (d.effect === 'allow' ? 'permitted_by_policy' : 'no_policy_permits'),
          policyIds: d.policyIds,
          message: reason?.message ?? '',
        };
        pairs.push(pd);
        if (pd.effect !== 'allow' && !denied) denied = { pair: pd, decision: d };
      }
    });
    const policyIds = [...new Set(pairs.flatMap((p) => p.policyIds))];
    if (denied) {
      const { pair, decision } = denied as { pair: PairDecision; decision: Decision };
      const message = `Gatehouse denied ${pair.action}${pair.table ? ` on ${pair.table}` : ` on connection '${connection}'`}: ${pair.message}`;
      return { effect: 'deny', policyIds: decision.policyIds, reasons: decision.reasons, message, pairs, unmaskable: [], policyVersion: 0, decision: { ...decision, message } };
    }
    const reasons = [{ code: 'permitted_by_policy' as const, message: 'every part of the statement is allowed' }];
    return {
      effect: 'allow',
      policyIds,
      reasons,
      message: 'allowed',
      pairs,
      unmaskable: [],
      policyVersion: 0,
      decision: { effect: 'allow', policyIds, reasons },
    };
  }
}
