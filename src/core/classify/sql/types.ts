/**
 * The result of classifying one Postgres query string. Pure data: the
 * Postgres adapter produces it at Parse / Query time and the policy engine
 * decides each (action, table) pair (see docs/policy.md, "Classification").
 */

/**
 * What a statement does to a resource. `sql:transaction` is transaction and
 * harmless session control (BEGIN, COMMIT, SAVEPOINT, SET of ordinary
 * settings, DEALLOCATE…): it is always allowed without asking policy, because
 * refusing it only breaks drivers and it cannot touch data.
 */
export type SqlAction =
  | 'sql:read'
  | 'sql:write'
  | 'sql:ddl'
  | 'sql:privilege'
  | 'sql:admin'
  | 'sql:unknown'
  | 'sql:transaction';

export const SQL_ACTIONS: readonly SqlAction[] = [
  'sql:read',
  'sql:write',
  'sql:ddl',
  'sql:privilege',
  'sql:admin',
  'sql:unknown',
  'sql:transaction',
];

export interface SqlPair {
  readonly action: SqlAction;
  /** Schema-qualified table (`public.customers`), or null for the connection as a whole. */
  readonly table: string | null;
}

export interface ClassifiedStatement {
  /** libpg_query node type of the statement (`SelectStmt`), or `ParseError`. */
  readonly kind: string;
  /** Deduplicated; never empty. Every pair must be allowed for the statement to run. */
  readonly pairs: readonly SqlPair[];
  /**
   * Facts worth recording or deciding on: `side_effect_function:NAME`,
   * `pg_sleep`, `for_update`, `for_share`, `modifying_cte`, `copy_program`,
   * `explain_analyze`, `unknown_statement:KIND`, `parse_error`… (docs/policy.md).
   */
  readonly flags: readonly string[];
  /** Present when the statement changes the session's search_path (SET/RESET/DISCARD ALL). */
  readonly setsSearchPath?: readonly string[];
  /** For `PREPARE name AS body`: the name and the body's classification (store it for EXECUTE). */
  readonly prepares?: { readonly name: string; readonly body: Classification };
  /** Span of this statement in the query string, in UTF-8 bytes (as Postgres reports `stmt_location`). */
  readonly location?: { readonly start: number; readonly length: number };
}

export interface Classification {
  readonly statements: readonly ClassifiedStatement[];
  /** libpg_query fingerprint of the whole string (constants ignored); null when it did not parse. */
  readonly fingerprint: string | null;
  /** Parser (or classifier) error; the classification is then one `sql:unknown` statement. */
  readonly parseError?: string;
}

export interface ClassifyContext {
  /** The session's search_path as Gatehouse tracks it (`$user` entries are skipped). */
  readonly searchPath: readonly string[];
  /** Classification of a prepared statement by name (for SQL-level EXECUTE). */
  readonly prepared?: (name: string) => Classification | undefined;
  /**
   * Extra functions with side effects configured for this connection
   * (lower-case name → action), e.g. `{ archive_customer: 'sql:write' }`.
   */
  readonly functions?: Readonly<Record<string, SqlAction>>;
  /** What `RESET search_path` / `DISCARD ALL` return to; default `["$user", "public"]`. */
  readonly defaultSearchPath?: readonly string[];
}

export const DEFAULT_SEARCH_PATH: readonly string[] = ['$user', 'public'];
