/**
 * The `masking:` section of gatehouse.yaml (docs/masking.md, docs/configuration.md):
 *
 *   masking:
 *     columnRules:
 *       - { column: "customers/public.customers.ssn", class: us_ssn }
 *     strategies:
 *       us_ssn: partial
 *       payment_card: { kind: token, scope: identity }
 *     defaultStrategy: redact
 *     guardPredicates: false
 *     keySecret: vault:masking-key
 *     catalogTtl: 10s
 *
 * Validated here with the same rules core applies (core/masking/rules.ts), so
 * a mistake is reported at its exact path when the config is loaded rather
 * than when Gatehouse starts masking.
 */
import * as z from 'zod';
import { DURATION_HINT, parseDuration } from './duration.ts';

const req =
  (text: string) =>
  (issue: { input?: unknown }): string =>
    issue.input === undefined ? 'required' : text;

const bool = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean({ error: req('expected true or false') }));

const CLASS_HINT = 'expected a class name: a lower-case letter, then up to 62 of a-z 0-9 _';
const className = z.string({ error: req(CLASS_HINT) }).regex(/^[a-z][a-z0-9_]{0,62}$/, { error: CLASS_HINT });

const COLUMN_HINT = 'expected connection/schema.table.column (globs: * within a name, ** across names, ? one character)';
const columnPattern = z
  .string({ error: req(COLUMN_HINT) })
  .min(1, { error: COLUMN_HINT })
  .refine((p) => p.includes('**') || (/^[^/]+\/[^/]+$/.test(p) && p.split('/')[1]!.split('.').length >= 3), { error: COLUMN_HINT });

const MASK_HINT = 'expected at most 64 of A-Z a-z 0-9 _ * # . - (the mask is spliced into array and composite literals)';
const STRATEGY_HINT = 'expected partial, redact, token or null, or { kind: …, scope / mask }';
const SCOPE_HINT = 'expected global, identity or session';

const strategyObject = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ kind: z.literal('partial') }),
    z.strictObject({ kind: z.literal('redact'), mask: z.string().regex(/^[A-Za-z0-9_*#.-]{0,64}$/, { error: MASK_HINT }).optional() }),
    z.strictObject({ kind: z.literal('token'), scope: z.enum(['global', 'identity', 'session'], { error: req(SCOPE_HINT) }) }),
    z.strictObject({ kind: z.literal('null') }),
  ],
  { error: STRATEGY_HINT },
);

/** `partial` is `{ kind: partial }`; a bare `token` means scope `session` (the narrowest). */
const strategy = z.preprocess(
  (v) => (typeof v === 'string' ? (v === 'token' ? { kind: 'token', scope: 'session' } : { kind: v }) : v),
  strategyObject,
);

const ttl = z
  .string({ error: req(DURATION_HINT) })
  .transform((v, ctx) => {
    try {
      return parseDuration(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: DURATION_HINT });
      return z.NEVER;
    }
  })
  .refine((s) => s >= 1 && s <= 600, { error: 'expected between 1s and 10m' });

const VAULT_REF = /^vault:([A-Za-z0-9_.-]{1,128})$/;
const keySecret = z.string({ error: req('expected vault:NAME') }).transform((v, ctx) => {
  const name = VAULT_REF.exec(v)?.[1];
  if (name !== undefined) return { vault: name };
  ctx.addIssue({ code: 'custom', message: 'expected vault:NAME (the key is never written in the config); store it with `gatehouse vault set NAME`' });
  return z.NEVER;
});

export const maskingSchema = z
  .strictObject({
    /** Inference guard: deny statements that filter, join, sort or group on a masked bound class. */
    guardPredicates: bool.default(false),
    columnRules: z.array(z.strictObject({ column: columnPattern, class: className })).default([]),
    strategies: z.record(className, strategy, { error: (iss) => (iss.code === 'invalid_key' ? CLASS_HINT : undefined) }).default({}),
    defaultStrategy: strategy.prefault('redact'),
    /** Token master key (32 random bytes, base64 or hex) in the vault; in dev, generated into the state folder. */
    keySecret: keySecret.optional(),
    /** How long the upstream catalog (column names, types, view definitions) is reused. Seconds. */
    catalogTtl: ttl.prefault('10s'),
  })
  .prefault({});

export type MaskingConfig = z.output<typeof maskingSchema>;
