export { classifyPostgres, initClassifier, isClassifierReady } from './postgres.ts';
export { FUNCTION_CATALOG, functionEffect, isAdminSetting } from './functions.ts';
export { candidateTables, qualify, quoteIdent } from './names.ts';
export { DEFAULT_SEARCH_PATH, SQL_ACTIONS } from './types.ts';
export type { Classification, ClassifiedStatement, ClassifyContext, SqlAction, SqlPair } from './types.ts';
