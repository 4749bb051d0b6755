/** The audit log's public surface for server/ and cli/ (issue 5). */
export { AuditLog, AUDIT_DB_FILE, AUDIT_UNAVAILABLE_MESSAGE, auditUnavailable } from './sqlite-log.ts';
export type { AuditLogOptions, CheckpointInfo, QueryFilter, RetentionResult } from './sqlite-log.ts';
export type { ExportOptions, ExportSummary } from './export.ts';
export { verifyBundle, verifyProof, verifyEvidence } from './bundle.ts';
export type { BundleVerifyResult } from './bundle.ts';
export { loadOrCreateSigningKey, publicKeyPem, parsePublicKeyPem, AUDIT_KEY_ENV, AUDIT_KEY_FILE } from './keys.ts';
export type { SigningKeyInfo } from './keys.ts';
export { anchorCoverage, directoryAnchor, readAnchors } from './anchor.ts';
export { HttpAnchor } from './anchor-http.ts';
export { acquireWriterLock } from './writer-lock.ts';
export type { HttpAnchorOptions, HttpAnchorStats } from './anchor-http.ts';
export type { VerifyResult, VerifyProblem } from '../../core/audit/verify.ts';
export type { InclusionProof, ProofCheck } from '../../core/audit/proof.ts';
