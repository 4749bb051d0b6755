/**
 * Which function calls lineage can see through.
 *
 * A built-in whose result is computed from its arguments only (string,
 * numeric, date, JSON, array functions, aggregates) carries the lineage of
 * its arguments: `reverse(ssn)`, `encode(ssn::bytea, 'base64')`,
 * `json_agg(p)` are all still `us_ssn`. Anything else — a user function
 * (whose body Gatehouse cannot see), a schema-qualified call outside
 * pg_catalog, a function that runs SQL text or reads session state — makes the
 * column's lineage 'unknown', which the engine masks unless the principal may
 * unmask every bound class.
 *
 * An allowlist, not a denylist: a built-in missing here errs towards masking.
 */

/** Results derived from arguments only. */
const PURE = new Set(
  `
  concat concat_ws format lower upper initcap left right substr substring overlay replace translate reverse repeat lpad rpad
  trim btrim ltrim rtrim split_part string_to_array array_to_string regexp_replace regexp_substr regexp_match regexp_matches
  regexp_split_to_array regexp_split_to_table regexp_count regexp_instr regexp_like md5 sha224 sha256 sha384 sha512 encode decode
  convert convert_from convert_to to_hex to_bin to_oct ascii chr length char_length character_length octet_length bit_length
  position strpos starts_with quote_ident quote_literal quote_nullable to_char to_number to_date to_timestamp normalize unistr
  casefold textcat text varchar bpchar int2 int4 int8 float4 float8 numeric bool date timestamp timestamptz time interval
  uuid bytea abs ceil ceiling floor round trunc mod div power pow sqrt cbrt exp ln log log10 sign width_bucket gcd lcm scale
  min_scale trim_scale random random_normal setseed pi degrees radians sin cos tan asin acos atan atan2
  date_trunc date_part extract age make_date make_time make_timestamp make_timestamptz make_interval now clock_timestamp
  statement_timestamp transaction_timestamp timeofday timezone date_bin justify_days justify_hours justify_interval isfinite
  to_json to_jsonb row_to_json array_to_json json_build_object jsonb_build_object json_build_array jsonb_build_array
  json_object jsonb_object json_agg jsonb_agg json_agg_strict jsonb_agg_strict json_object_agg jsonb_object_agg
  json_object_agg_strict jsonb_object_agg_strict json_object_agg_unique jsonb_object_agg_unique json_strip_nulls
  jsonb_strip_nulls jsonb_set jsonb_set_lax jsonb_insert jsonb_pretty json_extract_path json_extract_path_text
  jsonb_extract_path jsonb_extract_path_text json_array_elements json_array_elements_text jsonb_array_elements
  jsonb_array_elements_text json_each json_each_text jsonb_each jsonb_each_text json_typeof jsonb_typeof json_array_length
  jsonb_array_length json_object_keys jsonb_object_keys jsonb_path_query jsonb_path_query_array jsonb_path_query_first
  jsonb_path_exists jsonb_path_match json_populate_record jsonb_populate_record json_populate_recordset
  jsonb_populate_recordset json_to_record jsonb_to_record json_to_recordset jsonb_to_recordset json_scalar json_serialize
  array_agg array_append array_prepend array_cat array_remove array_replace array_position array_positions array_length
  array_upper array_lower array_ndims array_dims cardinality unnest array_fill trim_array array_reverse array_sort
  array_sample array_shuffle string_agg min max sum avg bool_and bool_or every bit_and bit_or bit_xor mode percentile_cont
  percentile_disc first_value last_value nth_value lag lead any_value stddev stddev_pop stddev_samp variance var_pop
  var_samp corr covar_pop covar_samp regr_avgx regr_avgy regr_count regr_intercept regr_r2 regr_slope regr_sxx regr_sxy
  regr_syy row_number rank dense_rank ntile percent_rank cume_dist generate_series generate_subscripts hashtext
  hashtextextended gen_random_uuid uuidv4 uuidv7 xmlagg xmlconcat xmlcomment xmlelement xmlforest xmlparse xmlpi xmlroot
  xmlserialize xmltext num_nonnulls num_nulls crc32 crc32c
  `
    .split(/\s+/)
    .filter(Boolean),
);

/** Results that do not depend on table data at all: the count of rows carries no value. */
const VALUELESS = new Set(['count']);

/** Built-ins that run SQL text, read files or read session state: their result has no lineage we can follow. */
const OPAQUE = new Set(
  `
  query_to_xml query_to_xmlschema query_to_xml_and_xmlschema table_to_xml table_to_xmlschema table_to_xml_and_xmlschema
  cursor_to_xml cursor_to_xmlschema schema_to_xml schema_to_xmlschema schema_to_xml_and_xmlschema database_to_xml
  database_to_xmlschema database_to_xml_and_xmlschema current_setting pg_read_file pg_read_binary_file lo_get loread
  pg_stat_file dblink dblink_exec dblink_fetch dblink_get_result
  `
    .split(/\s+/)
    .filter(Boolean),
);

/**
 * Catalog and introspection helpers (`pg_get_userbyid`, `format_type`,
 * `has_table_privilege`…) return metadata, not table data; psql's `\d`
 * commands use them, so they must not make every column 'unknown'.
 */
const CATALOG_PREFIX = /^(?:pg_|has_|obj_description|col_description|shobj_description|format_type|to_reg|current_(?:user|role|schema|schemas|database|catalog|query)|session_user|inet_|version$|txid_|array_in|textin)/;

export type FunctionLineage = 'args' | 'none' | 'unknown';

/** `names` as libpg_query writes funcname (`['pg_catalog', 'substring']`, `['reverse']`). */
export function functionLineage(names: readonly string[]): FunctionLineage {
  const name = (names[names.length - 1] ?? '').toLowerCase();
  const schema = names.length >= 2 ? names[names.length - 2] : undefined;
  if (schema !== undefined && schema !== 'pg_catalog') return 'unknown'; // a user (or extension) function
  if (OPAQUE.has(name)) return 'unknown';
  if (VALUELESS.has(name)) return 'none';
  if (PURE.has(name) || CATALOG_PREFIX.test(name)) return 'args';
  return 'unknown';
}

/**
 * Catalog relations that expose column *values*: pg_stats' most_common_vals
 * and histogram_bounds hold real values of every analysed column. Reading
 * them is 'unknown' lineage whatever the column.
 */
export const VALUE_CATALOG_RELATIONS = new Set(['pg_statistic', 'pg_stats', 'pg_stats_ext', 'pg_stats_ext_exprs', 'pg_statistic_ext_data']);
