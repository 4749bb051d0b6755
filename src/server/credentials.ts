/**
 * Temporary credentials for the connections configured with
 * `credentials.mode: ephemeral`: one EphemeralCredentials per connection,
 * built from config, with the admin secret read from the vault at each use.
 */
import type { Config } from '../config/schema.ts';
import type { EventSink, SecretStore } from '../core/ports.ts';
import type { Logger } from '../core/logger.ts';
import type { Clock } from '../shared/clock.ts';
import { EphemeralCredentials } from '../protocols/postgres/ephemeral.ts';

export type CredentialSources = ReadonlyMap<string, EphemeralCredentials>;

export function buildCredentialSources(deps: {
  config: Config;
  vault: SecretStore | null;
  events: EventSink;
  clock: Clock;
  log: Logger;
}): CredentialSources {
  const map = new Map<string, EphemeralCredentials>();
  for (const c of deps.config.connections) {
    const cred = c.credentials;
    if (cred?.mode !== 'ephemeral') continue;
    const ref = cred.admin.password.vault;
    map.set(
      c.name,
      new EphemeralCredentials({
        connection: c.name,
        upstream: { host: c.upstream.host, port: c.upstream.port, database: c.upstream.database, tls: c.upstream.tls },
        templateRole: cred.templateRole,
        admin: { user: cred.admin.user, password: () => deps.vault?.get(ref) },
        ttlSeconds: cred.ttl,
        events: deps.events,
        clock: deps.clock,
        log: deps.log.child({ component: 'credentials' }),
      }),
    );
  }
  return map;
}

/**
 * Drops the roles a crashed run left behind, on every ephemeral connection at
 * once. An unreachable upstream does not stop the start-up: it is logged, and
 * that connection sweeps again before it issues its first role.
 */
export async function sweepLeftoverRoles(sources: CredentialSources, log: Logger): Promise<void> {
  await Promise.all(
    [...sources.values()].map((s) =>
      s.sweep().catch((e: unknown) =>
        log.warn({ connection: s.connection, reason: (e as Error)?.message?.split('\n')[0] }, 'could not sweep leftover temporary roles at start-up; retried before the first session'),
      ),
    ),
  );
}

export async function closeCredentialSources(sources: CredentialSources): Promise<void> {
  await Promise.all([...sources.values()].map((s) => s.close()));
}
