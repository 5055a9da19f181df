"""The functions generated or uploaded SQL may call (data_pipeline/validation/guard.py checks every call).

PostgreSQL names, lower case, as the server resolves them (unqualified or `pg_catalog.`-qualified). Everything
not listed is rejected with its name. What belongs here: functions that compute a value from their arguments
(aggregates, window, math, string, date/time, casts written as calls, JSON/array accessors, full-text matching).
What never does, whatever a pair needs:
- anything that runs SQL given as text (`ts_stat`, `ts_rewrite`, `query_to_xml` and `table_to_xml` families,
  `dblink*`), reads server files or large objects (`pg_read_file`, `lo_*`), changes or reveals settings
  (`set_config`, `current_setting`), sleeps, locks, signals, advances sequences (`nextval`);
- every `pg_*` function (administration and catalog helpers; a pair is about business data).
Maintenance: a new function is added here with the test that needs it (tests/validation/test_sql_guard.py lists
the demo and fixture pairs); a function that takes SQL text, a file name, a setting name or a role/OID is never
added. The read-only transaction, timeouts and row cap stay as the second line of defence.
"""
from __future__ import annotations

AGGREGATES = """
count sum avg min max stddev stddev_pop stddev_samp variance var_pop var_samp string_agg array_agg json_agg
jsonb_agg json_object_agg jsonb_object_agg bool_and bool_or every bit_and bit_or bit_xor percentile_cont
percentile_disc mode corr covar_pop covar_samp regr_avgx regr_avgy regr_count regr_intercept regr_r2 regr_slope
regr_sxx regr_sxy regr_syy any_value grouping
"""
WINDOW = "row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value"
MATH = """
abs ceil ceiling floor round trunc sign sqrt cbrt power pow exp ln log log10 mod div greatest least pi degrees
radians sin cos tan cot asin acos atan atan2 sind cosd tand width_bucket gcd lcm scale min_scale trim_scale
factorial random
"""
STRINGS = """
length char_length character_length octet_length bit_length lower upper initcap trim btrim ltrim rtrim lpad rpad
substr substring left right replace reverse repeat concat concat_ws split_part strpos position overlay translate
format regexp_replace regexp_match regexp_matches regexp_split_to_array regexp_split_to_table regexp_like
regexp_count regexp_instr regexp_substr starts_with md5 ascii chr to_hex encode decode string_to_array
array_to_string string_to_table quote_ident quote_literal quote_nullable normalize unistr
"""
DATES = """
now current_date current_time current_timestamp localtime localtimestamp clock_timestamp statement_timestamp
transaction_timestamp date_trunc date_part extract age to_char to_date to_timestamp to_number make_date make_time
make_timestamp make_timestamptz make_interval justify_days justify_hours justify_interval isfinite date_bin
timezone generate_series
"""
# casts written as calls: date(x), numeric(x), text(x) ...
TYPES = """
date time timestamp timestamptz interval text varchar char bpchar int int2 int4 int8 integer smallint bigint
numeric decimal float4 float8 real bool boolean
"""
CONDITIONALS = "coalesce nullif num_nulls num_nonnulls"
JSON = """
to_json to_jsonb row_to_json array_to_json json_build_object jsonb_build_object json_build_array
jsonb_build_array json_object jsonb_object json_extract_path json_extract_path_text jsonb_extract_path
jsonb_extract_path_text json_array_length jsonb_array_length json_typeof jsonb_typeof json_array_elements
jsonb_array_elements json_array_elements_text jsonb_array_elements_text json_each jsonb_each json_each_text
jsonb_each_text json_object_keys jsonb_object_keys jsonb_strip_nulls json_strip_nulls jsonb_pretty
jsonb_path_exists jsonb_path_query jsonb_path_query_array jsonb_path_query_first json_to_record
jsonb_to_record json_to_recordset jsonb_to_recordset
"""
ARRAYS = """
array_length array_position array_positions array_remove array_replace array_append array_prepend array_cat
cardinality array_dims array_lower array_upper array_ndims unnest
"""
TEXT_SEARCH = """
to_tsvector to_tsquery plainto_tsquery phraseto_tsquery websearch_to_tsquery ts_rank ts_rank_cd ts_headline
"""
# what PostgreSQL's grammar turns SQL syntax into (`a OVERLAPS b`, `x IS NORMALIZED`, `SIMILAR TO`)
SYNTAX = "overlaps is_normalized similar_to_escape"

ALLOWED_FUNCTIONS: frozenset[str] = frozenset(
    " ".join((AGGREGATES, WINDOW, MATH, STRINGS, DATES, TYPES, CONDITIONALS, JSON, ARRAYS, TEXT_SEARCH,
              SYNTAX)).split())

# the types a pair may name (casts, `type 'literal'`, column definitions of record functions): common built-in
# value types under the names the grammar gives them (`integer` -> pg_catalog.int4). Never reg* (catalog lookups
# by name: an oracle), aclitem, pg_* or anything a business database defines (the catalog check also refuses a
# domain or user type that shadows one of these names).
SAFE_TYPES: frozenset[str] = frozenset("""
int2 int4 int8 int smallint integer bigint float4 float8 real numeric decimal bool boolean text varchar bpchar char
character date time timetz timestamp timestamptz interval json jsonb uuid bytea money bit varbit inet cidr macaddr
tsvector tsquery
""".split())

# names that are never allowed, with the reason an operator reads in the report (checked before the allowlist,
# case-insensitively, so `"PG_SLEEP"` and `U&"pg_sl\0065ep"` are named for what they are)
DENIED_FUNCTION_PREFIXES: tuple[str, ...] = (
    # sequences (write outside the transaction: nextval is not rolled back)
    "nextval", "setval", "currval", "lastval",
    # stall or signal other sessions
    "pg_sleep", "pg_terminate_backend", "pg_cancel_backend", "pg_advisory", "pg_try_advisory",
    "pg_notify", "pg_reload_conf", "pg_rotate_logfile", "pg_promote", "pg_log_backend",
    # server files and large objects
    "pg_read_file", "pg_read_binary_file", "pg_ls_", "pg_stat_file", "pg_file_", "lo_", "loread", "lowrite",
    # configuration, transaction ids, snapshots, WAL, replication, backups, statistics reset
    "set_config", "current_setting", "txid_", "pg_current_xact_id", "pg_export_snapshot", "pg_switch_wal",
    "pg_create_", "pg_drop_", "pg_replication_", "pg_logical_", "pg_wal_", "pg_backup_", "pg_start_backup",
    "pg_stop_backup", "pg_stat_reset", "pg_stat_statements_reset", "pg_import_system_collations", "pg_copy_",
    "pg_signal", "pg_logdir_ls", "pg_prewarm", "brin_summarize", "brin_desummarize", "gin_clean_pending_list",
    # run other SQL text or other databases (would bypass this check)
    "dblink", "query_to_xml", "cursor_to_xml", "query_to_xmlschema", "cursor_to_xmlschema",
    "database_to_xml", "schema_to_xml", "table_to_xml", "ts_stat", "ts_rewrite",
)
