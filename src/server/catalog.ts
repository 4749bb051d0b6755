/**
 * Turns validated config connections into what core and the adapters need.
 * Secrets are resolved lazily through the vault at connect time.
 */
import type { ConnectionCatalog, ConnectionEntry } from '../core/sessions/session-service.ts';
import type { SecretStore } from '../core/ports.ts';
import type { Config } from '../config/schema.ts';
import type { PostgresUpstreamSpec, SessionCredentials } from '../protocols/postgres/spec.ts';

/** `credentials`: per-session credential sources by connection name (credentials.mode: ephemeral). */
export function buildCatalog(config: Config, vault: SecretStore | null, credentials?: ReadonlyMap<string, SessionCredentials>): ConnectionCatalog {
  const map = new Map<string, ConnectionEntry>();
  for (const c of config.connections) {
    const ref = c.upstream.password;
    const source = credentials?.get(c.name);
    const spec: PostgresUpstreamSpec = {
      host: c.upstream.host,
      port: c.upstream.port,
      database: c.upstream.database,
      user: c.upstream.user,
      tls: c.upstream.tls,
      password: () => {
        if (!ref) return undefined;
        if (!vault) return undefined;
        return vault.get(ref.vault);
      },
      ...(source ? { credentials: source } : {}),
    };
    map.set(c.name, { name: c.name, protocol: c.protocol, spec });
  }
  return { get: (name) => map.get(name) };
}

export function allowRules(config: Config): Map<string, string[]> {
  return new Map(config.connections.map((c) => [c.name, [...(c.allow?.groups ?? [])]]));
}
