/* fhirlake/delta.h - Delta Lake tables: log replay, snapshots, time travel, optimistic
 * commits with txn idempotency, data files through the Parquet writer (module delta).
 *
 * A table is opened over an fl_store rooted at the table directory. Reading gives an
 * immutable fl_delta_snapshot (protocol, metadata, schema, live files, txn versions).
 * Writing goes through an fl_delta_txn: add data files (written with an fl_pq_writer the
 * txn hands out, stats computed for you) or already-written files, remove files, change
 * schema (add nullable columns), then commit: put-if-absent of _delta_log/<v>.json; on a
 * lost race the winners are read, checked for logical conflicts, and the commit retried
 * at the next version with backoff. See docs/internals/DELTA.md.
 *
 * Lifetimes: everything a snapshot returns (strings, arrays, types) is owned by the
 * snapshot and valid until fl_delta_snapshot_free. A snapshot is read-only and may be
 * shared by threads; a table handle and a txn are used by one thread at a time. */
#ifndef FHIRLAKE_DELTA_H
#define FHIRLAKE_DELTA_H

#include "fhirlake/base.h"
#include "fhirlake/parquet.h"
#include "fhirlake/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_delta_table fl_delta_table;
typedef struct fl_delta_snapshot fl_delta_snapshot;
typedef struct fl_delta_txn fl_delta_txn;
typedef struct fl_delta_schema fl_delta_schema;

/* Limits (named so input cannot decide memory use). */
#define FL_DELTA_MAX_COMMIT_BYTES ((size_t)256 << 20) /* one _delta_log/<v>.json */
#define FL_DELTA_MAX_CHECKPOINT_BYTES ((size_t)2 << 30) /* one checkpoint part/sidecar */
#define FL_DELTA_MAX_DV_BYTES ((size_t)256 << 20)       /* one serialised deletion vector */
#define FL_DELTA_MAX_DV_ROWS ((size_t)100000000)        /* deleted rows decoded per file */
#define FL_DELTA_MAX_SCAN_FILE_BYTES ((size_t)4 << 30)  /* one data file read by a scan */
#define FL_DELTA_MAX_SCHEMA_DEPTH 64u                  /* nesting of schemaString types */
#define FL_DELTA_MAX_ACTION_DEPTH 64u                  /* JSON nesting of one action line */
#define FL_DELTA_STATS_MAX_COLUMNS 32u                 /* default dataSkippingNumIndexedCols */
#define FL_DELTA_STATS_STRING_PREFIX 32u               /* chars kept of string min/max */

/* ------------------------------------------------------------------ actions */

/* One string map entry (partitionValues, configuration, format options). has_val false =
 * JSON null. */
typedef struct fl_delta_kv {
    fl_str key;
    fl_str val;
    bool has_val;
} fl_delta_kv;

typedef struct fl_delta_protocol {
    int32_t min_reader, min_writer;
    const fl_str *reader_features; /* present only when min_reader >= 3 */
    size_t n_reader_features;
    const fl_str *writer_features; /* present only when min_writer >= 7 */
    size_t n_writer_features;
} fl_delta_protocol;

typedef struct fl_delta_metadata {
    fl_str id;
    fl_str name, description; /* empty when absent */
    fl_str provider;          /* format.provider, "parquet" */
    fl_str schema_string;     /* Spark JSON schema text */
    const fl_str *partition_columns;
    size_t n_partition_columns;
    const fl_delta_kv *configuration;
    size_t n_configuration;
    int64_t created_time; /* ms; -1 when absent */
} fl_delta_metadata;

/* A live data file (an `add` action that no later `remove` cancelled). */
typedef struct fl_delta_file {
    fl_str path; /* as stored in the log: relative to the table root, URI-encoded (or an
                    absolute URI) */
    const fl_delta_kv *partition_values;
    size_t n_partition_values;
    int64_t size;
    int64_t modification_time; /* ms */
    bool data_change;
    fl_str stats;    /* JSON text of the stats object; empty when absent */
    fl_str dv;       /* deletionVector object as JSON text; empty when none */
    fl_str tags;     /* tags object as JSON text; empty when none */
    int64_t base_row_id;                /* -1 when absent */
    int64_t default_row_commit_version; /* -1 when absent */
} fl_delta_file;

/* Latest txn version of one application (idempotent writers). */
typedef struct fl_delta_app_txn {
    fl_str app_id;
    int64_t version;
    int64_t last_updated; /* ms; -1 when absent */
} fl_delta_app_txn;

/* A domainMetadata entry (kept and passed through, never interpreted). */
typedef struct fl_delta_domain {
    fl_str domain;
    fl_str configuration; /* JSON string value */
    bool removed;
} fl_delta_domain;

/* ------------------------------------------------------------------ schema */

typedef enum fl_delta_kind {
    FL_DELTA_T_STRING = 0,
    FL_DELTA_T_LONG,
    FL_DELTA_T_INTEGER,
    FL_DELTA_T_SHORT,
    FL_DELTA_T_BYTE,
    FL_DELTA_T_FLOAT,
    FL_DELTA_T_DOUBLE,
    FL_DELTA_T_BOOLEAN,
    FL_DELTA_T_BINARY,
    FL_DELTA_T_DATE,
    FL_DELTA_T_TIMESTAMP,
    FL_DELTA_T_TIMESTAMP_NTZ,
    FL_DELTA_T_DECIMAL,
    FL_DELTA_T_ARRAY,
    FL_DELTA_T_MAP,
    FL_DELTA_T_STRUCT,
    FL_DELTA_T_OTHER /* a type this version does not know (name kept in `other`) */
} fl_delta_kind;

typedef struct fl_delta_type fl_delta_type;

typedef struct fl_delta_field {
    fl_str name;
    const fl_delta_type *type;
    bool nullable;
    fl_str metadata; /* field metadata object as JSON text ("{}" when empty) */
} fl_delta_field;

struct fl_delta_type {
    fl_delta_kind kind;
    int32_t precision, scale;          /* DECIMAL */
    const fl_delta_type *element;      /* ARRAY */
    bool contains_null;                /* ARRAY */
    const fl_delta_type *key, *value;  /* MAP */
    bool value_contains_null;          /* MAP */
    const fl_delta_field *fields;      /* STRUCT */
    size_t n_fields;                   /* STRUCT */
    fl_str other;                      /* OTHER: the type's JSON text */
};

/* Parse a Spark/Delta schema JSON (a struct type). The caller owns *out (free with
 * fl_delta_schema_free). FL_E_DELTA_SCHEMA with the field path on malformed input. */
FL_API fl_rc fl_delta_schema_parse(fl_str json, fl_delta_schema **out, fl_err *err);
/* An empty struct schema to fill with fl_delta_schema_add*. */
FL_API fl_rc fl_delta_schema_new(fl_delta_schema **out, fl_err *err);
FL_API void fl_delta_schema_free(fl_delta_schema *s);
/* Root struct type (borrowed; valid until the schema is freed). */
FL_API const fl_delta_type *fl_delta_schema_root(const fl_delta_schema *s);
/* Builders: types are owned by the schema. `parent` is a STRUCT type made by this schema
 * (NULL = the root). Return NULL on OOM, bad arguments or a duplicate name (sticky error
 * reported by fl_delta_schema_check). */
FL_API const fl_delta_type *fl_delta_schema_prim(fl_delta_schema *s, fl_delta_kind kind);
FL_API const fl_delta_type *fl_delta_schema_decimal(fl_delta_schema *s, int32_t precision, int32_t scale);
FL_API const fl_delta_type *fl_delta_schema_array(fl_delta_schema *s, const fl_delta_type *elem, bool contains_null);
FL_API const fl_delta_type *fl_delta_schema_map(fl_delta_schema *s, const fl_delta_type *key,
                                                const fl_delta_type *value, bool value_contains_null);
FL_API const fl_delta_type *fl_delta_schema_struct(fl_delta_schema *s);
FL_API bool fl_delta_schema_add(fl_delta_schema *s, const fl_delta_type *parent, const char *name,
                                const fl_delta_type *type, bool nullable);
FL_API fl_rc fl_delta_schema_check(const fl_delta_schema *s, fl_err *err);
/* Append the schema's JSON (compact, Spark spelling, "metadata":{} always) to out. */
FL_API fl_rc fl_delta_type_to_json(const fl_delta_type *t, fl_buf *out);
/* Top-level field by name (case-insensitive, like Spark), or NULL. */
FL_API const fl_delta_field *fl_delta_type_find(const fl_delta_type *st, fl_str name);
/* Decimal text ("-12.5") -> the big-endian two's complement unscaled value in exactly `len`
 * bytes (1..32), as Parquet stores DECIMAL in FIXED_LEN_BYTE_ARRAY. Digits beyond `scale`
 * are cut; a short fraction is padded. false on junk or when the value does not fit. */
FL_API bool fl_delta_decimal_to_bytes(fl_str text, int32_t scale, uint8_t *out, size_t len);

/* ------------------------------------------------------------------ table and snapshot */

typedef struct fl_delta_opts {
    const fl_logger *log;          /* borrowed, NULL = silent */
    uint32_t max_commit_attempts;  /* commit tries before giving up on conflicts; 0 = 50 */
    uint32_t retry_base_ms;        /* commit-conflict backoff base; 0 = 10 ms */
    uint32_t retry_cap_ms;         /* backoff cap; 0 = 1000 ms */
    size_t max_commit_bytes;       /* 0 = FL_DELTA_MAX_COMMIT_BYTES */
    size_t max_files;              /* live files a snapshot may hold; 0 = 50,000,000 */
    const char *engine_info;       /* commitInfo.engineInfo; NULL = "fhirlake/<version>" */
    bool no_checkpoints;           /* never write checkpoints */
    bool read_dv;                  /* the caller applies fl_delta_dv_rows() to every file that
                                      has a deletion vector, so tables with the reader
                                      feature deletionVectors may be loaded (writers never
                                      need this: appends ignore DVs) */
    bool read_column_mapping;      /* the caller reads rows through fl_delta_scan (which maps
                                      physical column names / field ids), so tables with
                                      column mapping (name or id) may be loaded for reading;
                                      writing them stays refused */
} fl_delta_opts;

static inline void fl_delta_opts_default(fl_delta_opts *o) { memset(o, 0, sizeof *o); }

/* Open a table handle over st (borrowed; must outlive the table). Does no I/O; opts may be
 * NULL and is copied. Free with fl_delta_table_close. */
FL_API fl_rc fl_delta_table_open(fl_store *st, const fl_delta_opts *opts, fl_delta_table **out, fl_err *err);
FL_API void fl_delta_table_close(fl_delta_table *t);

/* Load the snapshot at `version` (-1 = latest). FL_E_DELTA_NOT_TABLE when there is no
 * _delta_log; FL_E_NOT_FOUND when the version does not exist; FL_E_DELTA_LOG for a
 * malformed or non-contiguous log (naming file and line); FL_E_DELTA_PROTOCOL naming
 * reader features this version cannot honour. The caller owns *out. */
FL_API fl_rc fl_delta_snapshot_load(fl_delta_table *t, int64_t version, fl_delta_snapshot **out, fl_err *err);
/* Time travel by time: the latest version whose commit timestamp (inCommitTimestamp when
 * enabled, else the commit file's modification time) is <= ts_ms. FL_E_NOT_FOUND when
 * ts_ms is before the first commit. */
FL_API fl_rc fl_delta_snapshot_load_at(fl_delta_table *t, int64_t ts_ms, fl_delta_snapshot **out, fl_err *err);
FL_API void fl_delta_snapshot_free(fl_delta_snapshot *s);

FL_API int64_t fl_delta_snapshot_version(const fl_delta_snapshot *s);
/* Commit timestamp (ms) of the snapshot's version. */
FL_API int64_t fl_delta_snapshot_timestamp(const fl_delta_snapshot *s);
FL_API const fl_delta_protocol *fl_delta_snapshot_get_protocol(const fl_delta_snapshot *s);
FL_API const fl_delta_metadata *fl_delta_snapshot_get_metadata(const fl_delta_snapshot *s);
/* Parsed schemaString (root STRUCT). */
FL_API const fl_delta_type *fl_delta_snapshot_get_schema(const fl_delta_snapshot *s);
/* Value of a table property, or def when unset. */
FL_API fl_str fl_delta_snapshot_get_config(const fl_delta_snapshot *s, const char *key, fl_str def);
/* Live files, sorted by path. */
FL_API size_t fl_delta_snapshot_num_files(const fl_delta_snapshot *s);
FL_API const fl_delta_file *fl_delta_snapshot_get_file(const fl_delta_snapshot *s, size_t i);
/* Latest txn version of app_id; false when the app never committed. */
FL_API bool fl_delta_snapshot_get_app_version(const fl_delta_snapshot *s, fl_str app_id, int64_t *version);
FL_API size_t fl_delta_snapshot_num_app_txns(const fl_delta_snapshot *s);
FL_API const fl_delta_app_txn *fl_delta_snapshot_get_app_txn(const fl_delta_snapshot *s, size_t i);
FL_API size_t fl_delta_snapshot_num_domains(const fl_delta_snapshot *s);
FL_API const fl_delta_domain *fl_delta_snapshot_get_domain(const fl_delta_snapshot *s, size_t i);
/* Write a classic checkpoint of s (its version must exist in t's log) and update
 * _last_checkpoint. Commits do this by themselves every delta.checkpointInterval. */
FL_API fl_rc fl_delta_snapshot_write_checkpoint(fl_delta_table *t, const fl_delta_snapshot *s, fl_err *err);
/* Sum of numRecords over live files (from stats); -1 if some file has no numRecords. */
FL_API int64_t fl_delta_snapshot_num_records(const fl_delta_snapshot *s);

/* ------------------------------------------------------------------ creating */

typedef struct fl_delta_create_opts {
    const fl_delta_type *schema;      /* root STRUCT (borrowed for the call) */
    const char *const *partition_columns;
    size_t n_partition_columns;
    const fl_delta_kv *configuration; /* table properties (borrowed) */
    size_t n_configuration;
    const char *name, *description;   /* optional */
    bool if_not_exists;               /* an existing table is fine (no new version) */
} fl_delta_create_opts;

/* Result of a commit. */
typedef struct fl_delta_commit_result {
    int64_t version;      /* the version written (for a duplicate found at commit time: the
                             version that already holds the txn) */
    bool duplicate;       /* the txn's (appId, version) was already in the table */
    uint32_t attempts;    /* put-if-absent tries (1 = no conflict) */
    int64_t files_added, files_removed, records_added;
    bool checkpointed;    /* a checkpoint was written after the commit */
    int64_t log_files_deleted; /* expired log files deleted after that checkpoint (metadata
                                  cleanup, unless delta.enableExpiredLogCleanup=false) */
} fl_delta_commit_result;

/* Create the table (version 0: protocol 1/2 unless the schema needs a feature, metaData,
 * commitInfo). FL_E_EXISTS if a table is there (unless if_not_exists). res optional. */
FL_API fl_rc fl_delta_table_create(fl_delta_table *t, const fl_delta_create_opts *o,
                                   fl_delta_commit_result *res, fl_err *err);

/* ------------------------------------------------------------------ writing */

/* Start a write transaction on the latest snapshot. FL_E_DELTA_PROTOCOL naming writer
 * features this version cannot honour. The caller owns *out (fl_delta_txn_free). */
FL_API fl_rc fl_delta_txn_begin(fl_delta_table *t, fl_delta_txn **out, fl_err *err);
/* Discard an uncommitted txn (data files it wrote stay as orphans for VACUUM). */
FL_API void fl_delta_txn_free(fl_delta_txn *txn);
/* The snapshot the txn reads (borrowed; valid until the txn is freed). */
FL_API const fl_delta_snapshot *fl_delta_txn_get_snapshot(const fl_delta_txn *txn);

/* Idempotency: record txn{app_id, version}. Returns FL_E_DELTA_DUPLICATE right away when
 * the snapshot already holds app_id at >= version (nothing to do). app_id is copied. */
FL_API fl_rc fl_delta_txn_set_app(fl_delta_txn *txn, fl_str app_id, int64_t version, fl_err *err);
/* commitInfo.operation ("WRITE" default) and operationParameters.mode ("Append" default). */
FL_API void fl_delta_txn_set_operation(fl_delta_txn *txn, const char *operation, const char *mode);

/* Add a data file written elsewhere (everything copied). */
FL_API fl_rc fl_delta_txn_add_file(fl_delta_txn *txn, const fl_delta_file *f, fl_err *err);
/* Remove a live file by its log path (FL_E_NOT_FOUND if it is not live in the snapshot). */
FL_API fl_rc fl_delta_txn_remove_file(fl_delta_txn *txn, fl_str path, fl_err *err);
/* Remove every live file (overwrite); conflicts with any concurrent add. */
FL_API fl_rc fl_delta_txn_remove_all(fl_delta_txn *txn, fl_err *err);
/* Replace the schema. Allowed: the same fields plus new nullable fields (also inside
 * structs). Drops, renames, type changes and nullability tightening are refused with
 * FL_E_DELTA_SCHEMA saying what to do instead. new_root is copied. */
FL_API fl_rc fl_delta_txn_set_schema(fl_delta_txn *txn, const fl_delta_type *new_root, fl_err *err);

/* Data files through the Parquet writer. file_open returns a writer whose schema is the
 * table schema minus partition columns (leaf order = schema order); fill it with the
 * fl_pq_writer_* row or batch calls, then file_close finishes it, uploads it under a
 * unique name (part-<n>-<uuid>.<codec>.parquet, inside Hive-style partition directories)
 * and records the `add` with stats. One file open per txn at a time. pvals: one value per
 * partition column (has_val false = null). o may be NULL (ZSTD default, as the protocol
 * recommends). The writer is owned by the txn (do not free it). */
FL_API fl_rc fl_delta_txn_file_open(fl_delta_txn *txn, const fl_delta_kv *pvals, size_t n_pvals,
                                    const fl_pq_write_opts *o, fl_pq_writer **w, fl_err *err);
FL_API fl_rc fl_delta_txn_file_close(fl_delta_txn *txn, fl_err *err);
/* Abandon the open file (nothing is uploaded). */
FL_API void fl_delta_txn_file_abort(fl_delta_txn *txn);

/* Copy-on-write delete of the rows whose top-level STRING column `key_column` equals one
 * of keys[0..n) (an upsert is this plus appending the new rows in the same txn). Files
 * whose stats show no key in [minValues, maxValues] are skipped unread; other files are
 * scanned, and those holding matches are rewritten without them (remove + add in this
 * txn; a file whose rows all match is only removed). keys are copied. Counts go to the
 * optional outputs. Concurrent removals of the same files conflict at commit; concurrent
 * appends of rows with the same keys are not detected (callers serialise by key range or
 * use txn ids). */
FL_API fl_rc fl_delta_txn_delete_keys(fl_delta_txn *txn, const char *key_column, const fl_str *keys, size_t n,
                                      int64_t *rows_deleted, int64_t *files_rewritten, fl_err *err);

/* ------------------------------------------------------------------ merge */

/* MERGE (upsert and delete by key) as a copy-on-write rewrite inside a txn.
 *
 * Entries are added in the shape of a scanned row (fl_delta_scan_next): a FL_PQ_V_STRUCT
 * with one item per top-level column of the txn's schema, scalars normalised the same
 * way (STRING/BINARY bytes, LONG i64, INTEGER/SHORT/BYTE/DATE i32, TIMESTAMP i64 micros,
 * DECIMAL text). Three kinds:
 *   add_row    a source row; the merge writes it (insert, or update of matched rows);
 *   add_key    a source row the caller writes itself into the same txn (only the key
 *              and newer-wins items are read); matched target rows are replaced;
 *   add_delete target rows with this key are deleted (or flagged, see
 *              soft_delete_column). Deletes are unconditional (newer_wins is ignored).
 * Keys are compared by value over the key columns (INTEGER/SHORT/BYTE/LONG compare as
 * integers); a null key never matches (a source row with a null key is inserted). Within
 * one batch the same key twice keeps one entry: the later one, or with newer_wins the one
 * with the greater value (the later one on a tie). A key both upserted and deleted in one
 * batch is refused (FL_E_ARG).
 *
 * newer_wins (a column name; LONG, INTEGER, SHORT, BYTE, DATE, TIMESTAMP(_NTZ), FLOAT,
 * DOUBLE or STRING): a source entry replaces the matched target rows only when its value
 * is greater than every matched target row's value; null is older than any value. On an
 * equal value the target row is kept (ties_to_source = true lets the source win ties).
 * A losing entry changes nothing: its target rows stay and (add_row) it is not written.
 *
 * Files: candidate files are found by the stats of the key columns (minValues/maxValues,
 * nullCount; STRING and integer keys); the others are never read. Candidates are scanned
 * one at a time; only files holding a row that changes are rewritten (remove with
 * dataChange=true + add of the surviving rows; a file whose rows all go is only removed).
 * New rows are written to one new file per partition. Everything lands in the txn; the caller commits it
 * (with fl_delta_txn_set_app for idempotency).
 *
 * Concurrency: after run, the txn conflicts at commit (FL_E_DELTA_CONFLICT, not retried)
 * with a concurrent commit that adds a file (dataChange=true) whose stats may hold a merge key (or
 * that has no stats), or that removes (dataChange=true) a file the merge read; concurrent
 * appends of other key ranges and compactions of unread files are rebased and retried.
 *
 * Memory: the entries are copied into the merge (at most max_rows entries and max_bytes
 * bytes of copies; going over either fails the add with FL_E_LIMIT - split the input into
 * smaller merges), plus one data file scanned at a time (<= FL_DELTA_MAX_SCAN_FILE_BYTES)
 * and the row group being written. */
#define FL_DELTA_MAX_MERGE_ROWS ((size_t)1000000)     /* default max_rows */
#define FL_DELTA_MAX_MERGE_BYTES ((size_t)512 << 20)  /* default max_bytes */
#define FL_DELTA_MAX_MERGE_KEYS 8u                    /* key columns */

typedef struct fl_delta_merge fl_delta_merge;

typedef struct fl_delta_merge_opts {
    const char *const *key_columns; /* top-level columns (STRING, BINARY, LONG, INTEGER, SHORT,
                                       BYTE, DATE, TIMESTAMP(_NTZ), BOOLEAN); borrowed for the call */
    size_t n_key_columns;           /* 1..FL_DELTA_MAX_MERGE_KEYS */
    const char *newer_wins;         /* NULL = the source always wins */
    bool ties_to_source;            /* newer_wins: an equal value replaces the target row */
    const char *soft_delete_column; /* NULL = deletes drop rows; else a BOOLEAN or integer
                                       column set to true/1 on deleted rows (rows kept) */
    size_t max_rows;                /* entries; 0 = FL_DELTA_MAX_MERGE_ROWS */
    size_t max_bytes;               /* bytes of copied entries; 0 = FL_DELTA_MAX_MERGE_BYTES */
    const fl_pq_write_opts *write_opts; /* for the files the merge writes (borrowed until the
                                           merge is freed); NULL = defaults (ZSTD) */
} fl_delta_merge_opts;

typedef struct fl_delta_merge_result {
    int64_t rows_inserted;   /* add_row entries that matched no target row */
    int64_t rows_updated;    /* add_row/add_key entries that replaced target rows */
    int64_t rows_deleted;    /* target rows deleted (or flagged) by add_delete entries */
    int64_t rows_skipped;    /* entries not applied: a target row is as new or newer, or a
                                later entry of the batch has the same key */
    int64_t target_rows_removed; /* target rows dropped (replaced or deleted) */
    int64_t files_skipped;   /* live files ruled out by stats (never read) */
    int64_t files_scanned;   /* live files read */
    int64_t files_removed;   /* live files removed (rewritten or emptied) */
    int64_t files_added;     /* files added (rewrites and new rows) */
} fl_delta_merge_result;

/* Start a merge over txn's snapshot (txn borrowed; must outlive the merge; no open data
 * file, no schema change in the txn, at most one merge run per txn; FL_E_DELTA_PROTOCOL
 * for append-only tables). FL_E_ARG for unknown/unsuitable columns. The
 * caller owns *out (fl_delta_merge_free). */
FL_API fl_rc fl_delta_merge_new(fl_delta_txn *txn, const fl_delta_merge_opts *o, fl_delta_merge **out, fl_err *err);
/* Add entries (row copied). The i-th add call (0-based, all kinds) is entry i. In a
 * partitioned table add_row rows go to files of their own partition values (rendered per
 * PROTOCOL.md; FL_E_UNSUPPORTED for float/double/binary/nested partition columns - use
 * add_key and write the rows yourself). FL_E_LIMIT over max_rows/max_bytes. */
FL_API fl_rc fl_delta_merge_add_row(fl_delta_merge *m, const fl_pq_val *row, fl_err *err);
FL_API fl_rc fl_delta_merge_add_key(fl_delta_merge *m, const fl_pq_val *row, fl_err *err);
FL_API fl_rc fl_delta_merge_add_delete(fl_delta_merge *m, const fl_pq_val *row, fl_err *err);
/* Decide which entries win: with newer_wins, candidate files are read and every entry
 * whose key a target row holds with an equal-or-newer value (see ties_to_source) loses.
 * Called by fl_delta_merge_run when needed; call it yourself to learn the losers before
 * writing add_key rows. Adds are refused afterwards. */
FL_API fl_rc fl_delta_merge_resolve(fl_delta_merge *m, fl_err *err);
/* After resolve: true when entry i will not be applied (lost to a target row or replaced
 * by a later entry of the batch). */
FL_API bool fl_delta_merge_lost(const fl_delta_merge *m, size_t i);
/* Rewrite the files holding changed rows and write the winning add_row rows into the txn;
 * installs the conflict checks described above. Counts go to res (optional). Run once. */
FL_API fl_rc fl_delta_merge_run(fl_delta_merge *m, fl_delta_merge_result *res, fl_err *err);
FL_API void fl_delta_merge_free(fl_delta_merge *m);

/* Commit. On success res->version is the new version. FL_E_DELTA_DUPLICATE (with
 * res->duplicate) when a concurrent or earlier commit already holds this txn's (appId,
 * version): nothing was committed. FL_E_DELTA_CONFLICT when a winner changed the
 * protocol/metadata or removed files this txn read/removed, or after max_commit_attempts
 * tries (retriable via fl_err_is_retriable only in the latter case). The txn cannot be
 * committed twice; free it afterwards. */
FL_API fl_rc fl_delta_txn_commit(fl_delta_txn *txn, fl_delta_commit_result *res, fl_err *err);

/* Deleted row indexes (0-based positions in the data file, sorted ascending) of f's
 * deletion vector: inline (Z85), or stored in a deletion_vector_<uuid>.bin file of the
 * table (size and CRC checked). The array is allocated in arena a; *n = 0 when f has no
 * DV. FL_E_CORRUPT for malformed data, FL_E_UNSUPPORTED for DVs outside the table. */
FL_API fl_rc fl_delta_dv_rows(fl_delta_table *t, const fl_delta_file *f, fl_arena *a, uint64_t **rows, size_t *n,
                              fl_err *err);

/* ------------------------------------------------------------------ optimize */

typedef struct fl_delta_optimize_opts {
    uint64_t target_file_size; /* bytes; 0 = delta.targetFileSize or 128 MiB */
    uint32_t min_files;        /* compact a partition only with at least this many small files; 0 = 2 */
} fl_delta_optimize_opts;

typedef struct fl_delta_optimize_result {
    int64_t version;          /* the commit written, -1 when nothing needed compaction */
    int64_t files_removed, files_added, rows;
} fl_delta_optimize_result;

/* Bin-packing compaction: in every partition, files smaller than the target are read
 * (deletion vectors applied) and rewritten into as few files as possible; one commit
 * removes the old files and adds the new ones with dataChange=false (readers of the
 * change feed skip it). Conflicts with concurrent removals of the same files. */
FL_API fl_rc fl_delta_table_optimize(fl_delta_table *t, const fl_delta_optimize_opts *o,
                                     fl_delta_optimize_result *res, fl_err *err);

/* ------------------------------------------------------------------ vacuum */

typedef struct fl_delta_vacuum_opts {
    int64_t retention_ms; /* keep files removed less than this ago; -1 = the table's
                             delta.deletedFileRetentionDuration (default 7 days) */
    bool force;           /* allow a retention shorter than the table's setting */
    bool dry_run;         /* only count what would be deleted */
} fl_delta_vacuum_opts;

typedef struct fl_delta_vacuum_result {
    int64_t files_deleted; /* or that would be deleted (dry run) */
    int64_t bytes_deleted;
    int64_t files_kept;    /* data files still referenced or too recent */
} fl_delta_vacuum_result;

/* Delete data files no longer referenced by the latest snapshot: not live, not referenced
 * by a tombstone younger than the retention, and last modified before now - retention.
 * Never touches _delta_log or other hidden paths ('_' or '.' names, except partition
 * directories). Refuses tables whose protocol this fhirlake cannot write (this covers
 * vacuumProtocolCheck) and, without `force`, a retention shorter than the table's. */
FL_API fl_rc fl_delta_table_vacuum(fl_delta_table *t, const fl_delta_vacuum_opts *o, fl_delta_vacuum_result *res,
                                   fl_err *err);

/* Metadata cleanup (PROTOCOL.md): the cutoff commit is the newest commit whose time (file
 * mtimes made monotonic) is not after now - retention (retention_ms < 0 = the table's
 * delta.logRetentionDuration, default "interval 30 days"; FL_E_ARG when that is not an
 * interval); the newest checkpoint at or before it is kept with its JSON and everything
 * after; commit, checkpoint, .crc and log-compaction files of older versions are deleted.
 * Every version inside the retention stays loadable. Commits run this by themselves after
 * each checkpoint unless delta.enableExpiredLogCleanup=false. *deleted (optional)
 * receives the number of files removed. */
FL_API fl_rc fl_delta_table_cleanup_log(fl_delta_table *t, int64_t retention_ms, int64_t *deleted, fl_err *err);

/* ------------------------------------------------------------------ history */

/* One commit as shown by history. Strings are valid for the callback only. */
typedef struct fl_delta_commit_entry {
    int64_t version;
    int64_t timestamp_ms; /* inCommitTimestamp when present, else the commit file's mtime */
    fl_str operation;     /* commitInfo.operation ("" when absent) */
    fl_str commit_info;   /* the whole commitInfo object as JSON text ("" when absent) */
} fl_delta_commit_entry;

typedef fl_rc (*fl_delta_history_fn)(void *ctx, const fl_delta_commit_entry *e, fl_err *err);

/* Call fn for every commit with version in [from, to] (to < 0 = latest), newest first,
 * at most `limit` commits (0 = all). Versions whose JSON was cleaned up are skipped. */
FL_API fl_rc fl_delta_table_history(fl_delta_table *t, int64_t from, int64_t to, size_t limit, fl_delta_history_fn fn,
                                    void *ctx, fl_err *err);

/* ------------------------------------------------------------------ reading rows */

typedef struct fl_delta_scan fl_delta_scan;

/* Read every live row of snapshot s (borrowed; t and s must outlive the scan). Rows come
 * file by file (snapshot order) as FL_PQ_V_STRUCT values with one item per top-level
 * schema column: columns missing in a file are null, partition columns come from the
 * partition values, rows deleted by deletion vectors are skipped. Top-level scalars are
 * normalised per Delta type: STRING/BINARY bytes; BOOLEAN bool; BYTE/SHORT/INTEGER/DATE
 * i32 (dates as days since 1970-01-01); LONG i64; TIMESTAMP(_NTZ) i64 microseconds (from
 * INT96, millis, micros or nanos files); FLOAT f32; DOUBLE f64; DECIMAL bytes holding the
 * decimal text with exactly `scale` fraction digits ("12.50"). Nested values are as the
 * Parquet reader assembles them. One data file is held in memory at a time. */
FL_API fl_rc fl_delta_scan_open(fl_delta_table *t, const fl_delta_snapshot *s, fl_delta_scan **out, fl_err *err);
/* Same over a subset: the snapshot files with indexes files[0..n) (copied), in that order. */
FL_API fl_rc fl_delta_scan_open_files(fl_delta_table *t, const fl_delta_snapshot *s, const size_t *files, size_t n,
                                      fl_delta_scan **out, fl_err *err);
/* Projection: only the named top-level columns are decoded; the others come back null
 * (rows keep one item per schema column). Call before the first fl_delta_scan_next.
 * FL_E_NOT_FOUND naming an unknown column. */
FL_API fl_rc fl_delta_scan_select(fl_delta_scan *sc, const char *const *columns, size_t n, fl_err *err);
/* Next row, allocated in a (valid until a is reset); FL_E_EOF after the last row. */
FL_API fl_rc fl_delta_scan_next(fl_delta_scan *sc, fl_arena *a, fl_pq_val **row, fl_err *err);
FL_API void fl_delta_scan_close(fl_delta_scan *sc);

/* ------------------------------------------------------------------ helpers */

/* Name of the commit file of version v ("_delta_log/00000000000000000042.json") into out
 * (>= 48 bytes). */
FL_API void fl_delta_commit_key(int64_t v, char out[48]);

#ifdef __cplusplus
}
#endif
#endif
