/**
 * The maintained catalog of functions whose call changes what a statement is.
 *
 * A SELECT is only a read if nothing it calls has side effects. Postgres has
 * functions that kill sessions, read server files, open connections to other
 * servers, run SQL given as a string or change settings (including the role).
 * Any call to one of these, anywhere in a statement (target list, WHERE, a
 * DEFAULT, a LATERAL function, an EXECUTE parameter…), adds its action.
 *
 * Matching is on the function's own name, lower-cased, whatever schema it is
 * qualified with: a user function called `public.pg_read_file` is treated
 * like the built-in (stricter, never weaker).
 *
 * Keep this list sorted by category; add a test case in classify.cases.ts
 * for every entry you add.
 */
import type { SqlAction } from './types.ts';

export interface FunctionEffect {
  /** Pair added for the call; null = only flag it. */
  readonly action: SqlAction | null;
  /** Flag added to the statement. */
  readonly flag: string;
  /**
   * For sequence functions: the index of the argument naming the relation
   * (a string literal such as `'orders_id_seq'`), so the pair gets a table.
   */
  readonly relationArg?: number;
}

const admin = (name: string): [string, FunctionEffect] => [name, { action: 'sql:admin', flag: `side_effect_function:${name}` }];
const write = (name: string, relationArg?: number): [string, FunctionEffect] => [
  name,
  relationArg === undefined
    ? { action: 'sql:write', flag: `side_effect_function:${name}` }
    : { action: 'sql:write', flag: `side_effect_function:${name}`, relationArg },
];
const dynamic = (name: string): [string, FunctionEffect] => [name, { action: 'sql:admin', flag: `dynamic_sql:${name}` }];
const flagOnly = (name: string, flag: string): [string, FunctionEffect] => [name, { action: null, flag }];

export const FUNCTION_CATALOG: ReadonlyMap<string, FunctionEffect> = new Map<string, FunctionEffect>([
  // Other sessions and the server process.
  admin('pg_terminate_backend'),
  admin('pg_cancel_backend'),
  admin('pg_reload_conf'),
  admin('pg_rotate_logfile'),
  admin('pg_log_backend_memory_contexts'),
  admin('pg_promote'),
  admin('pg_wal_replay_pause'),
  admin('pg_wal_replay_resume'),
  admin('pg_switch_wal'),
  admin('pg_create_restore_point'),
  admin('pg_backup_start'),
  admin('pg_backup_stop'),
  admin('pg_start_backup'),
  admin('pg_stop_backup'),
  admin('pg_stat_reset'),
  admin('pg_stat_reset_shared'),
  admin('pg_stat_reset_single_table_counters'),
  admin('pg_stat_reset_single_function_counters'),
  admin('pg_stat_reset_slru'),
  admin('pg_stat_reset_replication_slot'),
  admin('pg_stat_statements_reset'),
  admin('pg_import_system_collations'),
  // Settings: set_config('role', …) is SET ROLE in disguise.
  admin('set_config'),
  // Replication slots: logical decoding reads every change in the database.
  admin('pg_create_physical_replication_slot'),
  admin('pg_create_logical_replication_slot'),
  admin('pg_drop_replication_slot'),
  admin('pg_copy_physical_replication_slot'),
  admin('pg_copy_logical_replication_slot'),
  admin('pg_replication_slot_advance'),
  admin('pg_logical_slot_get_changes'),
  admin('pg_logical_slot_peek_changes'),
  admin('pg_logical_slot_get_binary_changes'),
  admin('pg_logical_slot_peek_binary_changes'),
  admin('pg_logical_emit_message'),
  admin('pg_replication_origin_create'),
  admin('pg_replication_origin_drop'),
  admin('pg_replication_origin_advance'),
  admin('pg_replication_origin_session_setup'),
  // Server files (and adminpack).
  admin('pg_read_file'),
  admin('pg_read_binary_file'),
  admin('pg_ls_dir'),
  admin('pg_stat_file'),
  admin('pg_ls_logdir'),
  admin('pg_ls_waldir'),
  admin('pg_ls_tmpdir'),
  admin('pg_ls_archive_statusdir'),
  admin('pg_ls_logicalsnapdir'),
  admin('pg_ls_logicalmapdir'),
  admin('pg_ls_replslotdir'),
  admin('pg_file_write'),
  admin('pg_file_rename'),
  admin('pg_file_unlink'),
  admin('pg_file_sync'),
  admin('pg_logdir_ls'),
  // Server-side large object file transfer.
  admin('lo_import'),
  admin('lo_export'),
  // Large objects in the database: writes.
  write('lo_create'),
  write('lo_creat'),
  write('lo_unlink'),
  write('lo_put'),
  write('lo_from_bytea'),
  write('lo_truncate'),
  write('lo_truncate64'),
  write('lowrite'),
  // Sequences: nextval/setval change state that other sessions see.
  write('nextval', 0),
  write('setval', 0),
  // Notifications reach other sessions.
  write('pg_notify'),
  // Functions that run SQL given as text: what they read cannot be known.
  dynamic('query_to_xml'),
  dynamic('query_to_xmlschema'),
  dynamic('query_to_xml_and_xmlschema'),
  dynamic('cursor_to_xml'),
  dynamic('cursor_to_xmlschema'),
  dynamic('table_to_xml'),
  dynamic('table_to_xmlschema'),
  dynamic('table_to_xml_and_xmlschema'),
  dynamic('schema_to_xml'),
  dynamic('schema_to_xmlschema'),
  dynamic('schema_to_xml_and_xmlschema'),
  dynamic('database_to_xml'),
  dynamic('database_to_xmlschema'),
  dynamic('database_to_xml_and_xmlschema'),
  dynamic('ts_stat'),
  dynamic('crosstab'),
  dynamic('crosstab2'),
  dynamic('crosstab3'),
  dynamic('crosstab4'),
  dynamic('connectby'),
  dynamic('xpath_table'),
  // Flagged only: they hold a backend or locks but do not touch data.
  flagOnly('pg_sleep', 'pg_sleep'),
  flagOnly('pg_sleep_for', 'pg_sleep'),
  flagOnly('pg_sleep_until', 'pg_sleep'),
  flagOnly('pg_advisory_lock', 'advisory_lock'),
  flagOnly('pg_advisory_lock_shared', 'advisory_lock'),
  flagOnly('pg_advisory_xact_lock', 'advisory_lock'),
  flagOnly('pg_advisory_xact_lock_shared', 'advisory_lock'),
  flagOnly('pg_try_advisory_lock', 'advisory_lock'),
  flagOnly('pg_try_advisory_lock_shared', 'advisory_lock'),
  flagOnly('pg_try_advisory_xact_lock', 'advisory_lock'),
  flagOnly('pg_try_advisory_xact_lock_shared', 'advisory_lock'),
]);

/**
 * Look a function up by its lower-cased own name. Every `dblink*` function
 * (dblink, dblink_exec, dblink_connect_u, dblink_send_query…) opens or uses a
 * connection to another server with SQL given as text: admin.
 */
export function functionEffect(name: string): FunctionEffect | undefined {
  const hit = FUNCTION_CATALOG.get(name);
  if (hit) return hit;
  if (name.startsWith('dblink')) return { action: 'sql:admin', flag: `side_effect_function:${name}` };
  return undefined;
}

/**
 * Settings whose change is an admin act even with plain SET: they switch
 * identity, turn off triggers (and with them audit triggers) or logging, or
 * weaken on-disk safety. Postgres requires superuser for most; Gatehouse
 * decides before the upstream role is even consulted.
 */
export const ADMIN_SETTINGS: ReadonlySet<string> = new Set([
  'role',
  'session_authorization',
  'session_replication_role',
  'allow_system_table_mods',
  'allow_in_place_tablespaces',
  'zero_damaged_pages',
  'ignore_checksum_failure',
  'ignore_invalid_pages',
  'ignore_system_indexes',
  'lo_compat_privileges',
  'jit_provider',
  'dynamic_library_path',
  'local_preload_libraries',
  'session_preload_libraries',
  'track_activities',
  'track_counts',
  'track_functions',
  'track_io_timing',
  'update_process_title',
]);

/** Prefixes of admin settings (`log_statement`, `debug_print_plan`, `pgaudit.log`…). */
export const ADMIN_SETTING_PREFIXES: readonly string[] = ['log_', 'debug_', 'pgaudit.', 'trace_', 'wal_', 'auto_explain.'];

export function isAdminSetting(name: string): boolean {
  const n = name.toLowerCase();
  return ADMIN_SETTINGS.has(n) || ADMIN_SETTING_PREFIXES.some((p) => n.startsWith(p));
}
