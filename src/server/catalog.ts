/**
 * Turns validated config connections into what core and the adapters need.
 * Secrets are resolved lazily through the vault at connect time.
 */
import type { ConnectionCatalog, ConnectionEntry } from '../core/sessions/session-service.ts';
import type { SecretStore } from '../core/ports.ts';
import type { Config } from '../config/schema.ts';
import type { PostgresUpstreamSpec } from '../protocols/postgres/spec.ts';

export function buildCatalog(config: Config, vault: SecretStore | null): ConnectionCatalog {
  const map = new Map<string, ConnectionEntry>();
  for (const c of config.connections) {
    const ref = c.upstream.password;
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
    };
    map.set(c.name, { name: c.name, protocol: c.protocol, spec });
  }
  return { get: (name) => map.get(name) };
}

export function allowRules(config: Config): Map<string, string[]> {
  return new Map(config.connections.map((c) => [c.name, [...(c.allow?.groups ?? [])]]));
}
