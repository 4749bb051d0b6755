export { CedarAuthorizer, PolicyCompileError } from './cedar-authorizer.ts';
export type { CedarAuthorizerOptions, CedarEngine, PairDecision, StatementContext, StatementDecision, StatementEffect } from './cedar-authorizer.ts';
export { compilePolicies, checkSchema, splitPolicies } from './source.ts';
export type { CompiledPolicy, CompiledPolicySet, PolicyProblem, PolicySource } from './source.ts';
export { GATEHOUSE_SCHEMA, DEFAULT_DATA_CLASSES } from './schema.ts';
export { parseApprovalTerms, parseDuration, formatDuration } from './annotations.ts';
export { LruCache } from './lru.ts';
