/* fhirlake/engine.h - pipelines from FHIR sources to table sinks (module engine).
 *
 * Export: FHIR NDJSON files, Bulk Data output folders (with or without manifest.json)
 * or stdin, flattened by SQL-on-FHIR ViewDefinitions into one table per view: a Delta
 * table (default) or a plain Parquet / CSV / NDJSON file. The work runs on a pool of
 * threads with bounded queues (read+split -> parse+flatten -> encode+upload), so memory
 * stays about threads x batch size whatever the input size. Every Delta table gets
 * exactly one commit per export carrying txn{appId "fhirlake-export-<id>", version 1},
 * which makes a repeated export (same id) a no-op and a crashed one safe to rerun.
 * See docs/internals/ENGINE.md.
 *
 * Thread safety: fl_engine_export() may be called from any thread; it starts and joins
 * its own threads. Callbacks are called one at a time (never concurrently), from any of
 * the engine's threads. */
#ifndef FHIRLAKE_ENGINE_H
#define FHIRLAKE_ENGINE_H

#include "fhirlake/base.h"
#include "fhirlake/parquet.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FL_ENGINE_MAX_VIEWS 256u
#define FL_ENGINE_MAX_INPUTS 100000u /* files after expanding directories/manifests */

typedef enum fl_engine_format {
    FL_ENGINE_FMT_DELTA = 0, /* <target>/<view name>/ as a Delta table */
    FL_ENGINE_FMT_PARQUET,   /* <target>/<view name>.parquet */
    FL_ENGINE_FMT_CSV,       /* <target>/<view name>.csv */
    FL_ENGINE_FMT_NDJSON     /* <target>/<view name>.ndjson */
} fl_engine_format;

typedef enum fl_engine_mode {
    FL_ENGINE_APPEND = 0, /* add rows (history kept) */
    FL_ENGINE_OVERWRITE,  /* replace the table contents in the same commit */
    FL_ENGINE_MERGE       /* upsert by resource id (copy-on-write), newest meta.lastUpdated wins */
} fl_engine_mode;

/* One input line that failed (invalid JSON, not a FHIR resource, evaluation error).
 * Everything is borrowed for the duration of the callback. */
typedef struct fl_engine_bad_line {
    const char *file;  /* input path ("-" for stdin) */
    uint64_t line_no;  /* 1-based */
    fl_rc code;
    const char *reason; /* NUL-terminated message (names the view when it is a view error) */
    fl_str text;        /* the line's bytes (empty for an over-long line) */
} fl_engine_bad_line;

/* Progress snapshot (counters since the start of the export). */
typedef struct fl_engine_progress {
    size_t files_done, files_total;
    uint64_t bytes_read, bytes_total; /* input bytes (compressed for .gz) */
    uint64_t resources, failed;
    double seconds;
    size_t n_tables;
    const char *const *table_names; /* borrowed */
    const uint64_t *table_rows;     /* rows produced so far per table */
} fl_engine_progress;

typedef void (*fl_engine_bad_fn)(void *ctx, const fl_engine_bad_line *bad);
typedef void (*fl_engine_progress_fn)(void *ctx, const fl_engine_progress *p);

typedef struct fl_engine_export_opts {
    const char *const *views; /* ViewDefinition file paths (borrowed for the call) */
    size_t n_views;
    const char *const *inputs; /* NDJSON files (.ndjson/.ndjson.gz), directories, "-" */
    size_t n_inputs;
    const char *target;        /* directory path or URL (file://, s3://, ...) */
    fl_engine_format format;
    fl_engine_mode mode;
    bool deletes_flag;         /* merge: keep deleted rows with is_deleted=1 (default remove) */
    bool has_since;
    int64_t since_us;          /* only resources with meta.lastUpdated > since (micros UTC) */
    const char *export_id;     /* NULL = hash of inputs (paths, sizes, mtimes) + views + mode */
    uint64_t target_file_size; /* bytes per data file; 0 = 128 MiB */
    fl_pq_codec codec;         /* 0 (UNCOMPRESSED) is taken as the default: SNAPPY */
    bool codec_set;            /* true: use `codec` as given, even UNCOMPRESSED */
    unsigned threads;          /* 0 = all cores */
    bool fail_fast;            /* first bad line aborts the export; nothing is committed */
    uint32_t view_flags;       /* FL_VIEW_* compile flags */
    size_t batch_rows;         /* rows per batch handed to a table writer; 0 = 8192 */
    fl_engine_bad_fn on_bad;
    void *bad_ctx;
    fl_engine_progress_fn on_progress; /* called about every progress_ms and at the end */
    void *progress_ctx;
    uint32_t progress_ms;      /* 0 = 250 */
    const fl_logger *log;      /* borrowed; NULL = silent */
} fl_engine_export_opts;

static inline void fl_engine_export_opts_default(fl_engine_export_opts *o) { memset(o, 0, sizeof *o); }

/* Result for one table. */
typedef struct fl_engine_table_result {
    char name[128];      /* view name */
    char location[1024]; /* table URL or output file */
    uint64_t rows;       /* rows written by this export (merge: new/updated rows) */
    uint64_t rows_removed; /* merge/overwrite: rows of rewritten/removed files dropped */
    uint64_t files, bytes; /* data files added and their bytes */
    int64_t version;     /* Delta version committed (or, if skipped, the table's latest); -1 */
    bool skipped;        /* this export id was already committed to the table */
    double seconds;      /* from start until this table's commit */
    uint64_t failed;     /* resources this view could not evaluate (also in the total) */
} fl_engine_table_result;

typedef struct fl_engine_export_result {
    char export_id[72];
    char app_id[96];
    size_t files;        /* input files read */
    uint64_t bytes_read;
    uint64_t lines, resources, filtered, deleted, failed;
    double seconds;
    size_t n_tables;
    fl_engine_table_result *tables; /* owned; free with fl_engine_export_result_free */
} fl_engine_export_result;

/* Run an export. Views are compiled (all of them) before any input is opened; a bad view
 * fails with FL_E_VIEW_INVALID (or FL_E_JSON_*) naming the file. Bad input lines are
 * reported through on_bad and skipped; the export still commits and returns FL_OK with
 * res->failed > 0 (with fail_fast it returns FL_E_CANCELLED and commits nothing). Errors of
 * the sink (store, Delta conflicts) fail the export; tables committed before the failure
 * stay committed and a rerun with the same export id completes the others.
 * res (required) is filled also on failure as far as known; free it with
 * fl_engine_export_result_free. */
FL_API fl_rc fl_engine_export(const fl_engine_export_opts *o, fl_engine_export_result *res, fl_err *err);
FL_API void fl_engine_export_result_free(fl_engine_export_result *res);

/* ------------------------------------------------------------------ delivery sink
 * One Delta table fed by many small commits (the server's data-lakehouse destinations):
 *
 *   fl_engine_sink_open(plan, &o, &s, &err);            // create or check the table
 *   rc = fl_engine_sink_begin(s, app_id, n, &err);       // FL_E_DELTA_DUPLICATE: n done
 *   fl_engine_sink_write(s, batch, is_deleted, &err);    // any number of times
 *   rc = fl_engine_sink_commit(s, &version, &err);       // one commit, txn{app_id, n}
 *
 * A table that exists must hold every view column (same type) and is_deleted INT; else
 * open fails with FL_E_DELTA_SCHEMA naming the missing columns, unless add_columns (then
 * they are added, nullable, in a metadata commit). One thread at a time per sink. */
typedef struct fl_engine_sink fl_engine_sink;
typedef struct fl_view_plan fl_view_plan;
typedef struct fl_view_batch fl_view_batch;
typedef struct fl_store_prop fl_store_prop;

typedef struct fl_engine_sink_opts {
    const char *table_url;       /* local path, file://, s3://, ... */
    const char *name;            /* metaData name for a new table; NULL = view name */
    const fl_store_prop *props;  /* store options (e.g. awsRegion, s3Endpoint); borrowed for open */
    size_t nprops;
    uint64_t target_file_size;   /* bytes per data file; 0 = 128 MiB */
    bool add_columns;            /* schema evolution: add missing view columns */
    const fl_logger *log;        /* borrowed; must outlive the sink; NULL = silent */
} fl_engine_sink_opts;

/* plan must outlive the sink. The caller owns *out (fl_engine_sink_close). */
FL_API fl_rc fl_engine_sink_open(const fl_view_plan *plan, const fl_engine_sink_opts *o, fl_engine_sink **out,
                                 fl_err *err);
/* The latest version the table records for app_id (-1 when none). */
FL_API fl_rc fl_engine_sink_app_version(fl_engine_sink *s, fl_str app_id, int64_t *version, fl_err *err);
/* Start a batch tagged txn{app_id, version}; FL_E_DELTA_DUPLICATE when the table already
 * holds app_id at >= version (the batch was delivered: nothing to do). */
FL_API fl_rc fl_engine_sink_begin(fl_engine_sink *s, fl_str app_id, int64_t version, fl_err *err);
/* Append the batch's rows with is_deleted[r] (one per row). Data files roll at the target. */
FL_API fl_rc fl_engine_sink_write(fl_engine_sink *s, const fl_view_batch *vb, const int32_t *is_deleted,
                                  fl_err *err);
/* Commit the batch (all-or-nothing); *version (optional) = the Delta version. Returns
 * FL_E_DELTA_DUPLICATE if a concurrent commit already holds the tag. Ends the batch
 * either way. */
FL_API fl_rc fl_engine_sink_commit(fl_engine_sink *s, int64_t *version, fl_err *err);
/* Drop an open batch (files already uploaded stay as orphans for VACUUM). */
FL_API void fl_engine_sink_abort(fl_engine_sink *s);
FL_API void fl_engine_sink_close(fl_engine_sink *s);

#ifdef __cplusplus
}
#endif
#endif
