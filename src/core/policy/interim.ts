/**
 * The interim `allow.groups` rule: a principal in one of a connection's
 * allowed groups may do anything on it; everyone else is denied. Replaced by
 * the Cedar engine (policy issue). Default deny: a connection without an
 * `allow` rule admits nobody.
 */
import type { Authorizer } from '../ports.ts';
import { allow, deny, type AccessRequest, type Decision } from './decision.ts';
import { describePrincipal } from '../identity/principal.ts';

export class GroupAllowAuthorizer implements Authorizer {
  readonly #groups: ReadonlyMap<string, ReadonlySet<string>>;

  constructor(rules: ReadonlyMap<string, readonly string[]>) {
    this.#groups = new Map([...rules].map(([conn, groups]) => [conn, new Set(groups)]));
  }

  authorize(req: AccessRequest): Decision {
    const id = `allow.groups:${req.connection}`;
    const allowed = this.#groups.get(req.connection);
    if (!allowed || allowed.size === 0) {
      return deny('no_policy_permits', `no rule allows any group on connection '${req.connection}'`);
    }
    const hit = req.principal.groups.find((g) => allowed.has(g));
    if (hit === undefined) {
      return deny(
        'not_in_allowed_group',
        `${describePrincipal(req.principal)} is not in a group allowed on '${req.connection}' (allowed: ${[...allowed].join(', ')})`,
        [id],
      );
    }
    return allow(`group '${hit}' is allowed on '${req.connection}'`, [id]);
  }
}
