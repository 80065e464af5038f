/* delta_int.h - private declarations shared by the files of module delta.
 * Public contract: include/fhirlake/delta.h. Layout of the handles, the parsed form of
 * one log action, and the internal functions each file provides to the others. */
#ifndef FL_DELTA_INT_H
#define FL_DELTA_INT_H

#include "fhirlake/delta.h"
#include "fhirlake/json.h"

#define DELTA_LOG_DIR "_delta_log/"
#define DELTA_MAX_PARTS 100000 /* multi-part checkpoint parts accepted */

/* ------------------------------------------------------------------ schema */

struct fl_delta_schema {
    fl_arena a;
    fl_delta_type *root;
    fl_rc rc; /* sticky builder error */
    char msg[160];
};

/* Parse a type JSON value into arena a (depth-limited). path names the field for errors. */
fl_rc delta_type_parse(fl_arena *a, const fl_json_val *v, unsigned depth, const char *path,
                       const fl_delta_type **out, fl_err *err);
/* Deep copy of a type into a. */
const fl_delta_type *delta_type_copy(fl_arena *a, const fl_delta_type *t, unsigned depth);
/* Evolution check: is `next` the same as `cur` plus new nullable fields? Fills err with
 * what is wrong and what to do. */
fl_rc delta_schema_evolve_check(const fl_delta_type *cur, const fl_delta_type *next, const char *path,
                                fl_err *err);
/* Spark type name of a primitive kind ("string", "long", ...). */
const char *delta_kind_name(fl_delta_kind k);

/* ------------------------------------------------------------------ actions */

typedef enum delta_action_kind {
    DA_NONE = 0, /* unknown action: ignored */
    DA_PROTOCOL,
    DA_METADATA,
    DA_ADD,
    DA_REMOVE,
    DA_TXN,
    DA_COMMIT_INFO,
    DA_DOMAIN,
    DA_CDC,
    DA_CHECKPOINT_META,
    DA_SIDECAR
} delta_action_kind;

typedef struct delta_remove {
    fl_str path;
    fl_str dv;
    int64_t deletion_timestamp; /* -1 absent */
    bool data_change;
} delta_remove;

typedef struct delta_commit_info {
    int64_t timestamp;     /* -1 absent */
    int64_t ict;           /* inCommitTimestamp, -1 absent */
    fl_str operation;
    fl_str txn_id;
} delta_commit_info;

/* One parsed action. Strings point into the JSON DOM / line buffer (scratch lifetime). */
typedef struct delta_action {
    delta_action_kind kind;
    fl_str dv_id; /* add/remove: deletion-vector unique id, empty without a DV */
    union {
        fl_delta_protocol proto;
        fl_delta_metadata meta;
        fl_delta_file add;
        delta_remove remove;
        fl_delta_app_txn txn;
        delta_commit_info ci;
        fl_delta_domain domain;
    } u;
} delta_action;

/* Parse one action line. Arrays are allocated in `a`. FL_E_DELTA_LOG on bad shapes. */
fl_rc delta_action_parse(fl_arena *a, const char *line, size_t len, delta_action *out, fl_err *err);
/* Serialise actions (one JSON object, no newline) into out. */
void delta_write_protocol(fl_jw *w, const fl_delta_protocol *p);
void delta_write_metadata(fl_jw *w, const fl_delta_metadata *m);
void delta_write_add(fl_jw *w, const fl_delta_file *f);
void delta_write_remove(fl_jw *w, const fl_delta_file *f, int64_t deletion_ts, bool data_change);
void delta_write_txn(fl_jw *w, const fl_delta_app_txn *t);
/* Deep copies into arena a (false on OOM). */
bool delta_file_copy(fl_arena *a, const fl_delta_file *src, fl_delta_file *dst);
bool delta_meta_copy(fl_arena *a, const fl_delta_metadata *src, fl_delta_metadata *dst);
bool delta_proto_copy(fl_arena *a, const fl_delta_protocol *src, fl_delta_protocol *dst);
/* The reconciliation key of a file: path, plus "\n"+DV unique id when it has a DV. */
fl_str delta_file_key(fl_arena *a, fl_str path, fl_str dv_id);

/* ------------------------------------------------------------------ log listing */

typedef struct delta_log_entry {
    int64_t version;
    int64_t mtime_ms;
    uint64_t size;
} delta_log_entry;

typedef struct delta_checkpoint_ref {
    int64_t version;
    int kind; /* 1 classic, 2 multi-part, 3 v2 */
    uint32_t parts;
    fl_str key; /* classic/v2: the file; multi-part: first part */
} delta_checkpoint_ref;

/* The listing of _delta_log needed to load a snapshot (arena-owned arrays). */
typedef struct delta_listing {
    delta_log_entry *commits; /* sorted by version, may have gaps (checked by replay) */
    size_t n_commits;
    delta_checkpoint_ref *cps; /* complete checkpoints, sorted by version */
    size_t n_cps;
    bool any; /* _delta_log has any entry at all */
} delta_listing;

fl_rc delta_list_log(fl_delta_table *t, int64_t from_version, fl_arena *a, delta_listing *out, fl_err *err);
/* Parse "_delta_log/<20 digits>.json" style names; true when key is a commit. */
bool delta_parse_commit_key(fl_str key, int64_t *version);

/* ------------------------------------------------------------------ snapshot */

/* A live file and its reconciliation key (path, or path + DV id). */
typedef struct delta_snap_file {
    fl_delta_file f;
    fl_str key;
} delta_snap_file;

/* A tombstone (remove) kept for checkpoints until it expires. */
typedef struct delta_tomb {
    fl_str path, dv, key;
    int64_t deletion_ts;
} delta_tomb;

struct fl_delta_snapshot {
    fl_arena a;
    int64_t version;
    int64_t timestamp_ms;
    bool has_proto, has_meta;
    fl_delta_protocol proto;
    fl_delta_metadata meta;
    fl_delta_schema *schema;
    fl_vec files;    /* delta_snap_file, sorted by path after finish */
    fl_map file_idx; /* file key -> (index + 1) */
    fl_vec txns;     /* fl_delta_app_txn */
    fl_map txn_idx;  /* app id -> (index + 1) */
    fl_vec domains;  /* fl_delta_domain */
    fl_vec tombs;    /* delta_tomb */
    fl_map tomb_idx; /* file key -> (index + 1) */
    size_t garbage;  /* arena bytes held by cancelled files */
    size_t max_files;
    int64_t num_records; /* -1 unknown */
    bool for_write;      /* loaded by a txn: deletion vectors need not be applied */
};

fl_rc delta_snapshot_new(size_t max_files, fl_delta_snapshot **out, fl_err *err);
/* Apply one parsed action (copying what it keeps). */
fl_rc delta_snapshot_apply(fl_delta_snapshot *s, const delta_action *act, fl_err *err);
/* Called for each action of a commit before it is applied (conflict checks). */
typedef fl_rc (*delta_action_fn)(void *ctx, int64_t version, const delta_action *act, fl_err *err);
/* Read _delta_log/<v>.json and apply its actions; ci (optional) receives its commitInfo
 * (timestamps only). fn (optional) sees every action first; its error stops the replay. */
fl_rc delta_snapshot_apply_commit(fl_delta_table *t, fl_delta_snapshot *s, int64_t v, delta_commit_info *ci,
                                  delta_action_fn fn, void *fn_ctx, fl_err *err);
/* Replay commits (s->version, latest] passing each action to fn (may be NULL); then finish. */
fl_rc delta_snapshot_update_fn(fl_delta_table *t, fl_delta_snapshot *s, delta_action_fn fn, void *fn_ctx,
                               fl_err *err);
/* After applying: validate protocol/metadata, parse the schema, sort files. */
fl_rc delta_snapshot_finish(fl_delta_table *t, fl_delta_snapshot *s, fl_err *err);
/* Load at version (-1 latest); for_write skips the deletion-vector reader check. */
fl_rc delta_snapshot_load_ex(fl_delta_table *t, int64_t version, bool for_write, fl_delta_snapshot **out, fl_err *err);
/* Reader/writer feature checks. */
fl_rc delta_check_read_support(const fl_delta_snapshot *s, bool dv_ok, bool cm_ok, fl_err *err);
fl_rc delta_check_write_support(const fl_delta_snapshot *s, fl_err *err);

/* ------------------------------------------------------------------ checkpoints */

/* Load checkpoint cp into the (empty) snapshot s; s->version becomes cp->version. */
fl_rc delta_checkpoint_read(fl_delta_table *t, fl_delta_snapshot *s, const delta_checkpoint_ref *cp, fl_err *err);
/* Write the classic checkpoint of s (at s->version) and _last_checkpoint. */
fl_rc delta_checkpoint_write(fl_delta_table *t, const fl_delta_snapshot *s, fl_err *err);
/* The version in _delta_log/_last_checkpoint, or -1 when absent or unreadable. */
int64_t delta_last_checkpoint_version(fl_delta_table *t);

/* Spark/Delta interval text ("interval 30 days", "interval 1 day 12 hours", "2 weeks";
 * units microsecond..week, singular or plural, case-insensitive; months/years refused)
 * -> milliseconds. false when malformed (delta_vacuum.c). */
bool delta_interval_ms(fl_str s, int64_t *out);
/* Table property `key` as an interval in ms; def when unset or malformed. */
int64_t delta_config_interval_ms(const fl_delta_snapshot *s, const char *key, int64_t def);
/* Boolean table property `key` ("true"/"false", any case, as Delta reads them); def when unset
 * or anything else (delta_features.c). */
bool delta_config_bool(const fl_delta_snapshot *s, const char *key, bool def);
/* Metadata cleanup of t's log judged against snapshot s (its latest version); retention_ms
 * < 0 = delta.logRetentionDuration (FL_E_ARG when malformed). */
fl_rc delta_cleanup_log(fl_delta_table *t, const fl_delta_snapshot *s, int64_t retention_ms, int64_t *deleted,
                        fl_err *err);

/* Decimal text -> unscaled value at `scale` as big-endian two's complement of exactly
 * `len` bytes (<= 32); false when malformed or out of range (delta_optimize.c). */
bool delta_decimal_parse(fl_str text, int32_t scale, uint8_t *out, size_t len);

/* Decimal text ("-12.50") of a big-endian two's complement unscaled value (<= 32 bytes)
 * with `scale` fraction digits, in arena a; ptr NULL on failure (delta_scan.c). */
fl_str delta_decimal_text(fl_arena *a, const uint8_t *be, size_t n, int32_t scale);

/* ------------------------------------------------------------------ table */

struct fl_delta_table {
    fl_store *st;
    fl_delta_opts o;
    char engine_info[64];
    fl_delta_snapshot *cache; /* latest snapshot kept for the next txn (owned) */
};

/* ------------------------------------------------------------------ merge guard */

/* What a merge read (delta_merge.c), kept by its txn for the commit's conflict checks:
 * per key column the sorted key values (STRING as text, integer kinds as int64; other
 * kinds are not prunable and make every stats check "may hold"), and the sorted paths of
 * the files the merge scanned. All arrays live in the txn's arena. */
typedef struct delta_key_guard {
    size_t n_cols;
    fl_str cols[FL_DELTA_MAX_MERGE_KEYS];
    int col_kind[FL_DELTA_MAX_MERGE_KEYS]; /* 0 not prunable, 1 string, 2 integer */
    fl_str *svals[FL_DELTA_MAX_MERGE_KEYS];
    int64_t *ivals[FL_DELTA_MAX_MERGE_KEYS];
    size_t nvals[FL_DELTA_MAX_MERGE_KEYS];
    fl_str *read_paths;
    size_t n_read;
} delta_key_guard;

/* Could file f (by its stats) hold a row whose keys are all in g? true when unknown. */
bool delta_guard_may_hold(const delta_key_guard *g, const fl_delta_file *f, fl_arena *scratch);
/* Did the merge read the file at this log path? */
bool delta_guard_read(const delta_key_guard *g, fl_str path);
/* Feed a scanned value (normalised shape, see fl_delta_scan_next) of type t to w
 * (delta_optimize.c); false when the value does not fit the type. */
bool delta_put_val(fl_pq_writer *w, const fl_delta_type *t, const fl_pq_val *v, unsigned depth);
/* The Parquet type the writer gives a primitive Delta type t (delta_write.c); false for
 * nested or unwritable types. */
bool delta_pq_type(const fl_delta_type *t, fl_pq_type *out);
/* Fetch data file f of table t into data (cleared first; its cap is the size limit). */
fl_rc delta_load_file(fl_delta_table *t, const fl_delta_file *f, fl_buf *data, fl_err *err);

/* ------------------------------------------------------------------ transaction */

struct fl_delta_txn {
    fl_delta_table *t;
    fl_delta_snapshot *snap; /* owned; updated in place by conflict resolution */
    int64_t read_version;
    fl_arena a;              /* copies of added/removed files, app id, schema */
    fl_vec adds;             /* fl_delta_file */
    fl_vec removes;          /* fl_delta_file (copies of the live files) */
    bool remove_all;         /* overwrite: depends on the whole table */
    bool has_app;
    fl_delta_app_txn app;
    const fl_delta_type *new_schema; /* in a; NULL = unchanged */
    char operation[48], mode[32];
    bool done;               /* committed (or duplicate): no second commit */
    bool rearrange;          /* OPTIMIZE: adds/removes carry dataChange=false */
    int64_t records_added;
    /* the data file being written (delta_write.c) */
    fl_pq_writer *pw;
    fl_store_writer *sw;
    fl_pq_schema *pq_schema;
    fl_delta_kv *file_pvals;
    size_t n_file_pvals;
    char file_key[FL_STORE_MAX_KEY + 1];
    fl_str file_path;        /* URI-encoded log path for the add */
    uint32_t file_seq;
    char uuid[37];           /* per-txn id: commitInfo.txnId and data file names */
    const delta_key_guard *guard; /* merge read predicate (in a), NULL = none */
    fl_pq_codec_cache *codec_cache; /* reused by the txn's data files (created by file_open) */
};

/* Read a whole log object with the commit size limit. */
fl_rc delta_read_object(fl_delta_table *t, fl_str key, fl_buf *out, fl_err *err);

#endif
