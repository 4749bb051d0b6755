/**
 * The schema of gatehouse.yaml (zod 4). Every object is strict: a misspelt
 * key is an error, not a silently ignored setting (`requireTsl: true` must
 * not leave TLS optional). The parsed Config is normalised: listen addresses
 * become {host, port}, durations seconds, sizes bytes, and vault references
 * `{ vault: NAME }`, so no consumer re-parses strings.
 */
import * as z from 'zod';
import { DURATION_HINT, parseDuration } from './duration.ts';
import { HOST_PORT_HINT, parseHostPort } from './listen.ts';
import { parseSize } from './size.ts';
import { maskingSchema } from './masking.ts';

/** A schema-level message, except for a missing key, which says `required`. */
const req =
  (text: string) =>
  (issue: { input?: unknown }): string =>
    issue.input === undefined ? 'required' : text;

/** YAML and `${VAR}` give strings; accept "5432" where an integer is expected. */
const intIn = (min: number, max: number, error: string) =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
    z.number({ error: req(error) }).int({ error }).min(min, { error }).max(max, { error }),
  );

const bool = z.preprocess(
  (v) => (v === 'true' ? true : v === 'false' ? false : v),
  z.boolean({ error: req('expected true or false') }),
);

/** Runs a throwing parser as a zod transform, reporting `hint` (not the value) on failure. */
function parsed<I, O>(base: z.ZodType<I>, parse: (v: I) => O, hint: string) {
  return base.transform((v, ctx): O => {
    try {
      return parse(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: hint });
      return z.NEVER;
    }
  });
}

const hostPort = parsed(z.string({ error: req(HOST_PORT_HINT) }), parseHostPort, HOST_PORT_HINT);
const duration = parsed(z.string({ error: req(DURATION_HINT) }), parseDuration, DURATION_HINT);

const SIZE_RANGE = 'expected a size between 1KiB and 1GiB, e.g. 1MiB';
const messageSize = parsed(
  z.union([z.number(), z.string()], { error: req(SIZE_RANGE) }),
  (v) => {
    const n = parseSize(v);
    if (n < 1024 || n > 1024 ** 3) throw new RangeError(SIZE_RANGE);
    return n;
  },
  SIZE_RANGE,
);

const nonEmpty = z.string({ error: req('expected a non-empty string') }).min(1, { error: 'expected a non-empty string' });
const httpUrl = z.url({ protocol: /^https?$/, error: req('expected an http(s) URL') });

/** Asymmetric only; `none` and HS* are never accepted (see infra/idp/verifier.ts). */
export const JWS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

const issuer = z.strictObject({
  issuer: httpUrl,
  audience: z.union([nonEmpty, z.array(nonEmpty).min(1)], { error: req('expected a string or a non-empty list of strings') }),
  groupsClaim: nonEmpty.default('groups'),
  jwksUri: httpUrl.optional(),
  algorithms: z
    .array(z.enum(JWS_ALGORITHMS, { error: `expected one of ${JWS_ALGORITHMS.join(', ')} (none and HS* are never allowed)` }))
    .min(1, { error: 'expected at least one algorithm' })
    .optional(),
  kind: z.enum(['human', 'workload'], { error: req('expected human or workload') }).optional(),
  kindClaim: nonEmpty.optional(),
});

const VAULT_REF = /^vault:([A-Za-z0-9_.-]{1,128})$/;
/**
 * Fail closed on literal passwords: config files end up in git, tickets and
 * screenshots. The message never repeats the value it refused.
 */
const vaultRef = z.string({ error: req('expected vault:NAME') }).transform((v, ctx) => {
  const name = VAULT_REF.exec(v)?.[1];
  if (name !== undefined) return { vault: name };
  ctx.addIssue({
    code: 'custom',
    message: v.startsWith('vault:')
      ? 'expected vault:NAME with NAME of 1-128 characters from A-Z a-z 0-9 _ . -'
      : 'literal passwords are not allowed in the config; store it with `gatehouse vault set NAME` and write password: vault:NAME',
  });
  return z.NEVER;
});

/** Header names Gatehouse sets itself or that only the HTTP layer may set. */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'host', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'x-gatehouse-checkpoint-size']);
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,256}$/;

/**
 * A header value for the anchor receiver: `vault:NAME` (resolved at start),
 * or text, which may come from `${ENV}` so a bearer token need not be in the
 * file. Messages never repeat the value: it is usually a credential.
 */
const headerValue = z.string({ error: req('expected a string, vault:NAME or ${ENV_VAR}') }).transform((v, ctx): { readonly vault: string } | { readonly value: string } => {
  const name = VAULT_REF.exec(v)?.[1];
  if (name !== undefined) return { vault: name };
  if (v.startsWith('vault:')) {
    ctx.addIssue({ code: 'custom', message: 'expected vault:NAME with NAME of 1-128 characters from A-Z a-z 0-9 _ . -' });
    return z.NEVER;
  }
  // Visible ASCII/Latin-1, space and tab only: fetch refuses anything else, and its error would quote the value.
  if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(v) || v.length > 8192) {
    ctx.addIssue({ code: 'custom', message: 'expected a header value of at most 8192 characters without line breaks or control characters' });
    return z.NEVER;
  }
  return { value: v };
});

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
/** https, or http to loopback only (a bearer token must not cross a network in cleartext); no credentials in the URL. */
const anchorUrl = z.string({ error: req('expected an https URL') }).transform((v, ctx) => {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected an https URL' });
    return z.NEVER;
  }
  const problem =
    u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname))
      ? 'expected an https URL (http only to 127.0.0.1, localhost or [::1])'
      : u.username || u.password
        ? 'credentials in the URL are not allowed; send them in a header with vault:NAME'
        : null;
  if (problem) {
    ctx.addIssue({ code: 'custom', message: problem });
    return z.NEVER;
  }
  return u.href;
});

/** audit.anchorHttp: POST each new checkpoint to a receiver outside Gatehouse (docs/audit.md §10). */
const anchorHttp = z.strictObject({
  url: anchorUrl,
  headers: z
    .record(z.string(), headerValue)
    .default({})
    // Names are checked here rather than by a key schema, whose issues zod reports only as "invalid value".
    .superRefine(
      (h, ctx) => {
        const seen = new Set<string>();
        for (const k of Object.keys(h)) {
          const lower = k.toLowerCase();
          const message = !HEADER_NAME.test(k)
            ? 'expected an HTTP header name'
            : RESERVED_HEADERS.has(lower)
              ? 'this header is set by Gatehouse'
              : seen.has(lower)
                ? 'duplicate header (names are case-insensitive)'
                : null;
          if (message) ctx.addIssue({ code: 'custom', path: [k], message });
          seen.add(lower);
        }
      },
      { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
    ),
  /** Seconds per POST. */
  timeout: duration.refine((s) => s >= 1 && s <= 300, { error: 'expected between 1s and 5m' }).prefault('5s'),
  /** Checkpoints waiting for delivery; past it the oldest is skipped (a later one covers it). */
  queue: intIn(1, 100_000, 'expected an integer 1-100000').default(1000),
  /** Longest wait between retries (seconds). */
  maxBackoff: duration.refine((s) => s >= 1 && s <= 3600, { error: 'expected between 1s and 1h' }).prefault('1m'),
});

/** A Postgres role name: quoted when used, so any text of 1-63 bytes without NUL. */
const roleName = nonEmpty.refine((s) => Buffer.byteLength(s, 'utf8') <= 63 && !s.includes('\0'), {
  error: 'expected a role name of at most 63 bytes',
});

/** How Gatehouse logs in upstream. `ephemeral` needs a template role and an admin credential (docs/configuration.md). */
export type CredentialsConfig =
  | { readonly mode: 'static' }
  | {
      readonly mode: 'ephemeral';
      readonly templateRole: string;
      readonly admin: { readonly user: string; readonly password: { readonly vault: string } };
      /** Seconds a session's role is valid (VALID UNTIL), and the longest such a session may last. */
      readonly ttl: number;
    };

const credentials = z
  .strictObject({
    mode: z.enum(['static', 'ephemeral'], { error: 'expected static or ephemeral' }).default('static'),
    templateRole: roleName.optional(),
    admin: z.strictObject({ user: roleName, password: vaultRef }).optional(),
    ttl: duration.refine((s) => s >= 60 && s <= 7 * 86400, { error: 'expected between 1m and 7d' }).prefault('1h'),
  })
  .superRefine(
    (c, ctx) => {
      // Fail closed on a half-written block: templateRole without `mode: ephemeral` would silently keep the static login.
      if (c.mode !== 'static' && c.mode !== 'ephemeral') return; // already reported
      for (const key of ['templateRole', 'admin'] as const) {
        if (c.mode === 'ephemeral' && c[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'required when mode is ephemeral' });
        if (c.mode !== 'ephemeral' && c[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'only allowed with mode: ephemeral' });
      }
    },
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
  )
  .transform((c): CredentialsConfig => (c.mode === 'ephemeral' ? { mode: 'ephemeral', templateRole: c.templateRole!, admin: c.admin!, ttl: c.ttl } : { mode: 'static' }));

const connection = z.strictObject({
  name: z.string({ error: req('expected a name') }).regex(/^[a-z][a-z0-9_-]{0,62}$/, {
    error: 'expected a lowercase name: a letter, then up to 62 of a-z 0-9 _ -',
  }),
  protocol: z.enum(['postgres'], { error: req('expected postgres') }),
  upstream: z.strictObject({
    host: nonEmpty,
    port: intIn(1, 65535, 'expected an integer 1-65535').default(5432),
    database: nonEmpty,
    user: nonEmpty,
    password: vaultRef.optional(),
    tls: z.enum(['disable', 'prefer', 'require', 'verify-full'], { error: req('expected disable, prefer, require or verify-full') }).default('prefer'),
  }),
  allow: z.strictObject({ groups: z.array(nonEmpty).default([]) }).optional(),
  /** How a statement that policy says needs approval waits (README "Approvals", docs/api.md). */
  approvals: z
    .strictObject({
      mode: z.enum(['hold', 'reject'], { error: 'expected hold or reject' }).default('reject'),
      /** Seconds a held statement may wait. */
      holdTimeout: duration.refine((s) => s >= 1 && s <= 3600, { error: 'expected between 1s and 1h' }).prefault('5m'),
    })
    .prefault({}),
  /** Just-in-time grants on this connection: who approves them and for how long at most. Absent: no grants. */
  grants: z
    .strictObject({
      approvers: z.array(nonEmpty).min(1, { error: 'expected at least one approver group' }),
      approvals: intIn(1, 10, 'expected an integer 1-10').default(1),
      maxDuration: duration.refine((s) => s >= 60 && s <= 7 * 86400, { error: 'expected between 1m and 7d' }).prefault('8h'),
    })
    .optional(),
  /** Per-session temporary roles (issue 6); absent: static, with upstream.user / upstream.password. */
  credentials: credentials.optional(),
});

const webhook = z.strictObject({
  url: httpUrl,
  format: z.enum(['json', 'slack'], { error: 'expected json or slack' }).default('json'),
  /** HMAC key for the x-gatehouse-signature header, from the vault. */
  secret: vaultRef.optional(),
});

/**
 * Reports every repeated key at its own path: `connections[2].name: duplicate ...`.
 * Runs even when other items have problems (`when`), so all errors come in one
 * report; items too broken to have the key are skipped.
 */
function unique(field: string, what: string) {
  return [
    (items: unknown[], ctx: z.RefinementCtx) => {
      const seen = new Map<string, number>();
      items.forEach((item, i) => {
        const k = (item as Record<string, unknown> | null)?.[field];
        if (typeof k !== 'string') return;
        const first = seen.get(k);
        if (first === undefined) seen.set(k, i);
        else ctx.addIssue({ code: 'custom', path: [i, field], message: `duplicate ${what} '${k}' (first at index ${first})` });
      });
    },
    { when: (payload: { value: unknown }) => Array.isArray(payload.value) },
  ] as const;
}

export const configSchema = z.strictObject({
  listen: z
    .strictObject({
      postgres: hostPort.prefault('127.0.0.1:15432'),
      admin: hostPort.prefault('127.0.0.1:18000'),
    })
    .prefault({}),
  state: nonEmpty.default('./.gatehouse'),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    })
    .prefault({}),
  identity: z
    .strictObject({
      dev: bool.default(false),
      /** Seconds. */
      clockSkew: duration
        .refine((s) => s <= 600, { error: 'expected at most 10m' })
        .prefault('30s'),
      issuers: z.array(issuer).default([]).superRefine(...unique('issuer', 'issuer')),
    })
    .prefault({}),
  /**
   * Cedar policies (docs/policy.md). Without a folder the interim
   * `connections[].allow.groups` rule decides (default deny).
   */
  /** The tamper-evident audit log (docs/audit.md). */
  audit: z
    .strictObject({
      /** Checkpoint origin line and signed-note key name. */
      origin: nonEmpty.default('gatehouse.local/audit'),
      /**
       * full: an event is fsynced before its statement is forwarded (survives power loss).
       * normal: committed to the WAL but not fsynced (survives a process crash, kill -9; not power loss).
       */
      durability: z.enum(['full', 'normal'], { error: 'expected full or normal' }).default('full'),
      checkpointEvery: z
        .strictObject({
          entries: intIn(1, 10_000_000, 'expected an integer 1-10000000').default(10_000),
          interval: duration.refine((s) => s >= 1 && s <= 86400, { error: 'expected between 1s and 1d' }).prefault('60s'),
        })
        .prefault({}),
      /** A folder each new checkpoint is copied to (point it at write-once storage). */
      anchorDir: nonEmpty.optional(),
      /** An HTTP receiver each new checkpoint is POSTed to (docs/audit.md §10). */
      anchorHttp: anchorHttp.optional(),
      /** Payload retention per class (statement, result, recording, detail); absent: kept. */
      retention: z.partialRecord(z.enum(['statement', 'result', 'recording', 'detail'], { error: 'expected statement, result, recording or detail' }), duration).default({}),
      /** Rows of each result kept in the session recording (counts are always kept). */
      resultRows: intIn(0, 1000, 'expected an integer 0-1000').default(20),
    })
    .prefault({}),
  notifications: z
    .strictObject({
      webhooks: z.array(webhook).default([]),
    })
    .prefault({}),
  policy: z
    .strictObject({
      dir: nonEmpty.optional(),
      watch: bool.default(true),
    })
    .prefault({}),
  tls: z.strictObject({ cert: nonEmpty, key: nonEmpty }).optional(),
  postgres: z
    .strictObject({
      requireTls: bool.default(true),
      allowLoopbackWithoutTls: bool.default(true),
      /** Bytes. */
      maxMessageBytes: messageSize.prefault('1MiB'),
    })
    .prefault({}),
  limits: z
    .strictObject({
      shutdownGraceSeconds: intIn(0, 3600, 'expected an integer 0-3600').default(10),
    })
    .prefault({}),
  connections: z.array(connection).default([]).superRefine(...unique('name', 'connection name')),
  /** Result masking (docs/masking.md). */
  masking: maskingSchema,
});

export type Config = z.output<typeof configSchema>;
export type ConnectionConfig = Config['connections'][number];
export type IssuerEntry = Config['identity']['issuers'][number];
