/**
 * `${VAR}` and `${VAR:-default}` in string values (not keys) of the parsed
 * YAML, so secrets-free config can still take addresses from the
 * environment. `$${` writes a literal `${`. A missing variable without a
 * default is an error at its path: silently substituting '' could turn
 * `issuer: ${OIDC_ISSUER}` into a config that trusts nothing or the wrong thing.
 */
export interface InterpolationProblem {
  readonly path: (string | number)[];
  readonly message: string;
}

const REF = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{[^}]*\}?/g;

export function interpolate(value: unknown, env: NodeJS.ProcessEnv, problems: InterpolationProblem[], path: (string | number)[] = []): unknown {
  if (typeof value === 'string') return interpolateString(value, env, problems, path);
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, problems, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, env, problems, [...path, k]);
    return out;
  }
  return value;
}

function interpolateString(s: string, env: NodeJS.ProcessEnv, problems: InterpolationProblem[], path: (string | number)[]): string {
  return s.replace(REF, (whole, name: string | undefined, fallback: string | undefined) => {
    if (whole === '$${') return '${';
    if (name === undefined) {
      problems.push({ path, message: 'malformed ${...} reference; expected ${VAR} or ${VAR:-default}' });
      return '';
    }
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (fallback !== undefined) return fallback;
    problems.push({ path, message: `environment variable ${name} is not set (use \${${name}:-default} for a default)` });
    return '';
  });
}
