/**
 * Policy sources → a checked, id-addressed policy set.
 *
 * A policy folder holds `.cedar` files, each with any number of policies.
 * Every policy gets an id: its `@id("…")` annotation, else `FILE:N` (N the
 * 0-based position of the policy in its file). Problems are reported with
 * the file and the 1-based line, from Cedar's parser and from strict
 * validation against policy/gatehouse.cedarschema.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { parseApprovalTerms } from './annotations.ts';
import type { ApprovalTerms } from './decision.ts';

export interface PolicySource {
  /** Name used for ids and messages when `file` is absent. */
  readonly id: string;
  readonly text: string;
  /** Path as the author knows it (relative to the policy folder). */
  readonly file?: string;
}

export interface PolicyProblem {
  readonly file: string;
  /** 1-based; 0 when the problem has no position. */
  readonly line: number;
  readonly message: string;
}

export interface CompiledPolicy {
  readonly id: string;
  readonly file: string;
  readonly line: number;
  readonly effect: 'permit' | 'forbid';
  readonly text: string;
  readonly annotations: Readonly<Record<string, string>>;
  /** From @approvers/@approvals/@approval_ttl; defaults filled in (annotations.ts). */
  readonly approval: Omit<ApprovalTerms, 'policyId'>;
  /** From @reason("…"): shown in denials this policy decides. */
  readonly reason?: string;
}

export interface CompiledPolicySet {
  readonly policies: readonly CompiledPolicy[];
  readonly errors: readonly PolicyProblem[];
  readonly warnings: readonly PolicyProblem[];
}

interface Chunk {
  readonly text: string;
  /** UTF-16 index of the chunk in its source. */
  readonly start: number;
}

/**
 * Split Cedar policy text at top-level `;` (outside strings and `//`
 * comments). Cedar has no other use for `;`, so each chunk is one policy;
 * a trailing chunk without `;` is kept so that Cedar reports it.
 */
export function splitPolicies(text: string): Chunk[] {
  const out: Chunk[] = [];
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      i += 1;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i += 1;
    } else if (ch === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i += 1;
    } else if (ch === ';') {
      out.push({ text: text.slice(start, i + 1), start });
      i += 1;
      start = i;
    } else i += 1;
  }
  if (!isBlank(text.slice(start))) out.push({ text: text.slice(start), start });
  return out;
}

function isBlank(text: string): boolean {
  return text.replace(/\/\/[^\n]*/g, '').trim() === '';
}

const enc = new TextEncoder();

/** Map a Cedar source offset (UTF-8 bytes within `chunk`) to a 1-based line of the source. */
function lineOf(source: string, chunk: Chunk, byteOffset: number): number {
  const bytes = enc.encode(chunk.text).slice(0, Math.max(0, byteOffset));
  const within = new TextDecoder().decode(bytes);
  const before = source.slice(0, chunk.start) + within;
  let line = 1;
  for (const c of before) if (c === '\n') line += 1;
  return line;
}

/** Line of the first non-blank, non-comment character of a chunk (the policy's own line). */
function firstLine(source: string, chunk: Chunk): number {
  const m = /^(\s|\/\/[^\n]*)*/.exec(chunk.text);
  const skip = m ? m[0].length : 0;
  return lineOf(source, chunk, enc.encode(chunk.text.slice(0, skip)).length);
}

function describe(e: cedar.DetailedError): string {
  const label = e.sourceLocations?.find((l) => l.label)?.label;
  const parts = [e.message];
  if (label) parts.push(`(${label})`);
  if (e.help) parts.push(`— ${e.help}`);
  return parts.join(' ');
}

/** Check the schema itself; problems are reported against `schemaFile`. */
export function checkSchema(schemaText: string, schemaFile = 'gatehouse.cedarschema'): PolicyProblem[] {
  const r = cedar.checkParseSchema(schemaText);
  if (r.type === 'success') return [];
  const whole: Chunk = { text: schemaText, start: 0 };
  return r.errors.map((e) => ({ file: schemaFile, line: lineOf(schemaText, whole, e.sourceLocations?.[0]?.start ?? 0), message: describe(e) }));
}

/**
 * Parse, annotate and validate policies. Never throws; the caller refuses
 * the whole set when `errors` is non-empty (a broken file keeps the previous
 * set in force: see infra/policy/load.ts).
 */
export function compilePolicies(sources: readonly PolicySource[], schemaText: string, schemaFile?: string): CompiledPolicySet {
  const errors: PolicyProblem[] = [...checkSchema(schemaText, schemaFile)];
  const warnings: PolicyProblem[] = [];
  const policies: CompiledPolicy[] = [];
  const located = new Map<string, { source: string; chunk: Chunk; file: string }>();

  for (const src of sources) {
    const file = src.file ?? src.id;
    splitPolicies(src.text).forEach((chunk, index) => {
      const parsed = cedar.checkParsePolicySet({ staticPolicies: { p: chunk.text } });
      if (parsed.type === 'failure') {
        for (const e of parsed.errors)
          errors.push({ file, line: lineOf(src.text, chunk, e.sourceLocations?.[0]?.start ?? 0), message: describe(e).replace('policy with id `p` ', 'policy ') });
        return;
      }
      const json = cedar.policyToJson(chunk.text);
      if (json.type === 'failure') {
        for (const e of json.errors) errors.push({ file, line: firstLine(src.text, chunk), message: describe(e) });
        return;
      }
      const annotations = json.json.annotations ?? {};
      const id = annotations.id ?? `${file}:${index}`;
      const line = firstLine(src.text, chunk);
      if (id.trim() === '') {
        errors.push({ file, line, message: '@id must not be empty' });
        return;
      }
      const prior = located.get(id);
      if (prior) {
        errors.push({ file, line, message: `duplicate policy id '${id}' (first defined in ${prior.file}:${firstLine(prior.source, prior.chunk)})` });
        return;
      }
      const terms = parseApprovalTerms(annotations);
      for (const m of terms.problems) errors.push({ file, line, message: `policy '${id}': ${m}` });
      if (json.json.effect === 'forbid' && (annotations.approvers ?? annotations.approvals ?? annotations.approval_ttl) !== undefined)
        warnings.push({ file, line, message: `policy '${id}': approval annotations on a forbid policy have no effect` });
      located.set(id, { source: src.text, chunk, file });
      policies.push({
        id,
        file,
        line,
        effect: json.json.effect,
        text: chunk.text,
        annotations,
        approval: terms.terms,
        ...(annotations.reason !== undefined ? { reason: annotations.reason } : {}),
      });
    });
  }

  if (errors.length === 0 && policies.length > 0) {
    const v = cedar.validate({
      schema: schemaText,
      policies: { staticPolicies: Object.fromEntries(policies.map((p) => [p.id, p.text])) },
      validationSettings: { mode: 'strict' },
    });
    if (v.type === 'failure') {
      for (const e of v.errors) errors.push({ file: schemaFile ?? 'gatehouse.cedarschema', line: 0, message: describe(e) });
    } else {
      const report = (list: cedar.ValidationError[], into: PolicyProblem[]): void => {
        const seen = new Set<string>();
        for (const ve of list) {
          const where = located.get(ve.policyId);
          const line = where ? lineOf(where.source, where.chunk, ve.error.sourceLocations?.[0]?.start ?? 0) : 0;
          const message = describe(ve.error).replace(`for policy \`${ve.policyId}\`, `, `policy '${ve.policyId}': `);
          // Cedar reports the same problem once per action the policy applies to.
          const key = `${where?.file}:${line}:${message.replace(/ for Gatehouse::Action::"[^"]*"/, '')}`;
          if (seen.has(key)) continue;
          seen.add(key);
          into.push({ file: where?.file ?? '?', line, message });
        }
      };
      report(v.validationErrors, errors);
      // A policy that can never apply is an error, not a warning: an author
      // who writes a forbid that silently never fires believes something is
      // forbidden that is not.
      const never = (w: cedar.ValidationError): boolean => /policy is impossible|unable to find an applicable action/.test(w.error.message);
      report(v.validationWarnings.filter(never), errors);
      report(v.validationWarnings.filter((w) => !never(w)), warnings);
    }
  }
  return { policies, errors, warnings };
}
