/* fhirlake/fhirdb.h - the FHIR resource store behind `fhirlake serve` (module fhirdb).
 *
 * One interface, two backends: SQLite (embedded default, WAL, "sqlite:PATH" or
 * "sqlite::memory:") and PostgreSQL ("postgres://..." / "postgresql://..." libpq URLs).
 * Three kinds of table: current resources, history (every version incl. deletes) and a
 * transactional outbox (events written in the same DB transaction as the resource write).
 *
 * Threads: an fl_fhirdb is shared by all threads; each thread borrows a connection with
 * fl_fhirdb_acquire() and gives it back with fl_fhirdb_release(). A connection is used by
 * one thread at a time. Everything a call returns lives in the caller's arena (or buffer)
 * and stays valid until that arena is reset. Design notes: docs/internals/FHIRDB.md. */
#ifndef FHIRLAKE_FHIRDB_H
#define FHIRLAKE_FHIRDB_H

#include "fhirlake/base.h"
#include "fhirlake/json.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_fhirdb fl_fhirdb;
typedef struct fl_fhirdb_conn fl_fhirdb_conn;

/* Named limits. */
#define FL_FHIRDB_MAX_ID 64          /* FHIR id: [A-Za-z0-9-.]{1,64} */
#define FL_FHIRDB_MAX_TYPE 64        /* resource type name length */
#define FL_FHIRDB_MAX_COUNT 1000     /* largest page (_count) */
#define FL_FHIRDB_DEFAULT_COUNT 50   /* page size when _count is absent */
#define FL_FHIRDB_MAX_IDS 100        /* values in one _id search */
#define FL_FHIRDB_CURSOR_MAX 96      /* bytes of an opaque paging cursor incl. NUL */
#define FL_FHIRDB_MAX_RESOURCE (64u << 20) /* largest stored JSON text */

typedef enum fl_fhirdb_op { FL_FHIRDB_CREATE = 1, FL_FHIRDB_UPDATE = 2, FL_FHIRDB_DELETE = 3 } fl_fhirdb_op;

/* One change, handed to the write hook inside the write's transaction. All slices are
 * valid only during the hook call. */
typedef struct fl_fhirdb_event {
    fl_fhirdb_op op;
    fl_str type, id;
    int64_t version;         /* the new version */
    int64_t last_updated_us; /* microseconds since the epoch (ms precision) */
    fl_str current;          /* JSON text after the write; empty for delete */
    fl_str previous;         /* JSON text before the write; empty on create */
    fl_str correlation_id;   /* from fl_fhirdb_wopts (empty when none) */
} fl_fhirdb_event;

/* Called inside the write transaction after the resource and history rows are written
 * (so the hook can enqueue outbox rows atomically with fl_fhirdb_outbox_enqueue on `c`).
 * A non-OK return rolls the whole write back and is returned to the writer. */
typedef fl_rc (*fl_fhirdb_hook_fn)(void *ctx, fl_fhirdb_conn *c, const fl_fhirdb_event *ev,
                                   fl_err *err);

typedef struct fl_fhirdb_opts {
    unsigned max_conns;      /* pool size; 0 = 8 (forced to 1 for sqlite::memory:) */
    unsigned busy_timeout_ms; /* SQLite busy wait / PG lock_timeout; 0 = 10000 */
    fl_fhirdb_hook_fn hook;  /* optional */
    void *hook_ctx;
    fl_logger log;
} fl_fhirdb_opts;

FL_API void fl_fhirdb_opts_default(fl_fhirdb_opts *o);

/* Open a store and create its tables if missing. url: "sqlite:PATH" (parent directory is
 * created), "sqlite::memory:", "postgres://..." or "postgresql://...". o may be NULL.
 * The caller owns *out (fl_fhirdb_close). FL_E_CONFIG for an unknown scheme, FL_E_DB for
 * connect/schema errors (err has the backend's message). */
FL_API fl_rc fl_fhirdb_open(const char *url, const fl_fhirdb_opts *o, fl_fhirdb **out, fl_err *err);
/* Close every pooled connection. All connections must have been released. NULL is fine. */
FL_API void fl_fhirdb_close(fl_fhirdb *db);
/* "sqlite" or "postgres". */
FL_API const char *fl_fhirdb_backend(const fl_fhirdb *db);

/* Borrow a connection (opens one if the pool is below max_conns, otherwise waits).
 * Thread-safe. Give it back with fl_fhirdb_release. */
FL_API fl_rc fl_fhirdb_acquire(fl_fhirdb *db, fl_fhirdb_conn **out, fl_err *err);
/* Return a connection; an open transaction is rolled back first. */
FL_API void fl_fhirdb_release(fl_fhirdb *db, fl_fhirdb_conn *c);

/* Explicit transactions (for transaction Bundles). Writes outside one run in their own
 * transaction. After any failed call inside a transaction the caller must roll back. */
FL_API fl_rc fl_fhirdb_begin(fl_fhirdb_conn *c, fl_err *err);
FL_API fl_rc fl_fhirdb_commit(fl_fhirdb_conn *c, fl_err *err);
FL_API void fl_fhirdb_rollback(fl_fhirdb_conn *c);
FL_API bool fl_fhirdb_in_tx(const fl_fhirdb_conn *c);
/* Round trip to the database (health checks); reconnects a dropped PostgreSQL session. */
FL_API fl_rc fl_fhirdb_ping(fl_fhirdb_conn *c, fl_err *err);

/* ------------------------------------------------------------------ writes */

/* One stored version. Slices point into the arena passed to the call that filled it,
 * except that write calls set type (and id, for update/delete) to the caller's arguments:
 * keep those alive as long as the record is used. */
typedef struct fl_fhirdb_rec {
    fl_str type, id;
    int64_t version;
    int64_t last_updated_us;
    bool deleted;
    bool created;     /* write calls: the resource did not exist (or was deleted) before */
    fl_str method;    /* history: "POST", "PUT" or "DELETE" */
    int64_t hseq;     /* history row number (history calls) */
    fl_str body;      /* JSON text (empty for a deleted version) */
} fl_fhirdb_rec;

/* Write options. */
typedef struct fl_fhirdb_wopts {
    int64_t if_match;   /* > 0: the current version must equal this, else FL_E_CONFLICT with
                           err->status = 412 */
    fl_str id;          /* create: a preassigned id (transaction Bundles); empty = new UUID */
    fl_str correlation_id; /* passed to the hook and stored with outbox events; empty = none */
} fl_fhirdb_wopts;

/* Create `res` (a parsed resource object whose resourceType is `type`) under a new id.
 * Sets id, meta.versionId = "1" and meta.lastUpdated (other meta members are kept).
 * wo may be NULL. On success *out describes the stored version; out->body is the stored
 * JSON text, allocated in `a`. */
FL_API fl_rc fl_fhirdb_create(fl_fhirdb_conn *c, fl_str type, const fl_json_val *res,
                              const fl_fhirdb_wopts *wo, fl_arena *a, fl_fhirdb_rec *out,
                              fl_err *err);
/* Update (or create, when absent or deleted) type/id with `res`. Increments the version.
 * FL_E_ARG for an invalid id, FL_E_CONFLICT (status 412) on an If-Match mismatch. */
FL_API fl_rc fl_fhirdb_update(fl_fhirdb_conn *c, fl_str type, fl_str id, const fl_json_val *res,
                              const fl_fhirdb_wopts *wo, fl_arena *a, fl_fhirdb_rec *out,
                              fl_err *err);
/* Delete type/id: a new version marked deleted; history is kept. Deleting a missing or
 * already deleted resource is FL_OK with out->version = 0 (nothing written). */
FL_API fl_rc fl_fhirdb_delete(fl_fhirdb_conn *c, fl_str type, fl_str id,
                              const fl_fhirdb_wopts *wo, fl_arena *a, fl_fhirdb_rec *out,
                              fl_err *err);

/* ------------------------------------------------------------------ reads */

/* Current version. FL_E_NOT_FOUND if it never existed; a deleted resource is FL_OK with
 * out->deleted set and an empty body. */
FL_API fl_rc fl_fhirdb_read(fl_fhirdb_conn *c, fl_str type, fl_str id, fl_arena *a,
                            fl_fhirdb_rec *out, fl_err *err);
/* A given version (FL_E_NOT_FOUND if absent; deleted versions as in read). */
FL_API fl_rc fl_fhirdb_vread(fl_fhirdb_conn *c, fl_str type, fl_str id, int64_t version,
                             fl_arena *a, fl_fhirdb_rec *out, fl_err *err);

typedef enum fl_fhirdb_sort { FL_FHIRDB_SORT_NONE = 0, FL_FHIRDB_SORT_LU_ASC, FL_FHIRDB_SORT_LU_DESC } fl_fhirdb_sort;

/* History or search query. Zero-initialise, then set what applies. */
typedef struct fl_fhirdb_query {
    fl_str type;          /* history: empty = whole system; search: required */
    fl_str id;            /* history: one instance */
    const fl_str *ids;    /* search: _id values (OR), at most FL_FHIRDB_MAX_IDS */
    size_t nids;
    bool has_lu_min, has_lu_max;
    int64_t lu_min_us;    /* lastUpdated >= min (inclusive); history _since uses this */
    int64_t lu_max_us;    /* lastUpdated <  max (exclusive) */
    uint32_t count;       /* page size; 0 = FL_FHIRDB_DEFAULT_COUNT, capped at MAX_COUNT */
    fl_fhirdb_sort sort;  /* search only; NONE pages by (lastUpdated, id) ascending */
    fl_str cursor;        /* empty = first page; else a cursor from the previous page */
    bool want_total;      /* search: also count all matches */
} fl_fhirdb_query;

typedef struct fl_fhirdb_page {
    fl_fhirdb_rec *recs;  /* in the arena */
    size_t n;
    int64_t total;        /* -1 when not computed */
    bool has_next;
    char next_cursor[FL_FHIRDB_CURSOR_MAX]; /* valid when has_next */
} fl_fhirdb_page;

/* History, newest first (instance when q->id is set, type when only q->type, else
 * system). Paging is by a stable cursor (the history row number), so rows written while
 * a client pages do not shift pages. FL_E_ARG for a malformed cursor. */
FL_API fl_rc fl_fhirdb_history(fl_fhirdb_conn *c, const fl_fhirdb_query *q, fl_arena *a,
                               fl_fhirdb_page *out, fl_err *err);
/* Search current, non-deleted resources of q->type by _id and _lastUpdated, keyset-paged
 * by (lastUpdated, id). */
FL_API fl_rc fl_fhirdb_search(fl_fhirdb_conn *c, const fl_fhirdb_query *q, fl_arena *a,
                              fl_fhirdb_page *out, fl_err *err);

/* ------------------------------------------------------------------ outbox */

/* One queued event. Slices point into the arena of the claim call. */
typedef struct fl_fhirdb_outbox_row {
    int64_t seq;
    fl_str destination_id, type, id;
    int64_t version;
    fl_fhirdb_op op;
    fl_str payload;
    int64_t attempts;
    fl_str correlation_id; /* empty when none */
} fl_fhirdb_outbox_row;

/* Queue an event for destination `dest` on connection c: call it from the write hook so
 * the row commits or rolls back with the resource write. *seq_out optional. */
FL_API fl_rc fl_fhirdb_outbox_enqueue(fl_fhirdb_conn *c, fl_str dest, const fl_fhirdb_event *ev,
                                      fl_str payload, int64_t *seq_out, fl_err *err);
/* Claim up to `max` unleased rows of dest, oldest first, leasing them for lease_ms (a
 * crashed worker's rows come back when the lease expires). PostgreSQL uses
 * FOR UPDATE SKIP LOCKED so several replicas never claim the same row. */
FL_API fl_rc fl_fhirdb_outbox_claim(fl_fhirdb_conn *c, fl_str dest, uint32_t max, uint32_t lease_ms,
                                    fl_arena *a, fl_fhirdb_outbox_row **rows, size_t *n,
                                    fl_err *err);
/* Delivered: delete these rows. */
FL_API fl_rc fl_fhirdb_outbox_ack(fl_fhirdb_conn *c, fl_str dest, const int64_t *seqs, size_t n,
                                  fl_err *err);
/* Not delivered: release the lease, count the attempt, keep the error text. */
FL_API fl_rc fl_fhirdb_outbox_nack(fl_fhirdb_conn *c, fl_str dest, const int64_t *seqs, size_t n,
                                   fl_str error, fl_err *err);
/* Drop every row of dest (the destination was deleted). *n_out optional. */
FL_API fl_rc fl_fhirdb_outbox_purge(fl_fhirdb_conn *c, fl_str dest, int64_t *n_out, fl_err *err);
/* Rows queued for dest (claimed or not). */
FL_API fl_rc fl_fhirdb_outbox_count(fl_fhirdb_conn *c, fl_str dest, int64_t *out, fl_err *err);

/* Delivery batches, for a destination delivered by one worker at a time (it holds the
 * destination's lease, see fl_fhirdb_lease). Exactly-once protocol: next() -> assign(N)
 * -> sink commit tagged N -> ack_batch(N). After a crash anywhere in between, next()
 * returns the rows already assigned to the oldest unacked batch (all of them, *batch_no =
 * N), so the sink sees the same tag again; otherwise up to max unassigned rows oldest
 * first (*batch_no = 0: assign them a new number). */
FL_API fl_rc fl_fhirdb_outbox_next(fl_fhirdb_conn *c, fl_str dest, uint32_t max, fl_arena *a,
                                   fl_fhirdb_outbox_row **rows, size_t *n, int64_t *batch_no,
                                   fl_err *err);
/* Cheap poll before next(): *pending = the oldest unacked batch number (0 when none) and
 * *ready = unassigned rows of dest, counted up to max (no payloads are read). */
FL_API fl_rc fl_fhirdb_outbox_ready(fl_fhirdb_conn *c, fl_str dest, uint32_t max, int64_t *pending, int64_t *ready,
                                    fl_err *err);
FL_API fl_rc fl_fhirdb_outbox_assign(fl_fhirdb_conn *c, fl_str dest, const int64_t *seqs, size_t n,
                                     int64_t batch_no, fl_err *err);
/* next() + assign() of a new batch in one statement: number up to max of the oldest
 * unassigned rows of dest batch_no and return them (oldest first, in arena a). Only for the
 * destination's single deliverer (lease holder). */
FL_API fl_rc fl_fhirdb_outbox_take(fl_fhirdb_conn *c, fl_str dest, uint32_t max, int64_t batch_no, fl_arena *a,
                                   fl_fhirdb_outbox_row **rows, size_t *n, fl_err *err);
/* Delete the rows of batch_no (delivered). */
FL_API fl_rc fl_fhirdb_outbox_ack_batch(fl_fhirdb_conn *c, fl_str dest, int64_t batch_no, fl_err *err);
/* A failed attempt of batch_no: count it and keep the error (rows stay assigned). */
FL_API fl_rc fl_fhirdb_outbox_nack_batch(fl_fhirdb_conn *c, fl_str dest, int64_t batch_no, fl_str error,
                                         fl_err *err);
/* Largest batch number assigned to rows of dest (0 when none). */
FL_API fl_rc fl_fhirdb_outbox_max_batch(fl_fhirdb_conn *c, fl_str dest, int64_t *out, fl_err *err);
/* Initial export: inside fl_fhirdb_begin_snapshot, mark every unassigned row of dest as
 * covered by the snapshot (batch -1); they are acked with ack_batch(-1) once the export
 * committed, or given back to live delivery with release_export when it failed. */
FL_API fl_rc fl_fhirdb_outbox_mark_export(fl_fhirdb_conn *c, fl_str dest, fl_err *err);
FL_API fl_rc fl_fhirdb_outbox_release_export(fl_fhirdb_conn *c, fl_str dest, fl_err *err);
FL_API fl_rc fl_fhirdb_outbox_count_export(fl_fhirdb_conn *c, fl_str dest, int64_t *out, fl_err *err);

/* A transaction whose reads all see one state of the store (PostgreSQL REPEATABLE READ;
 * SQLite BEGIN IMMEDIATE, which also holds the write lock until commit/rollback). */
FL_API fl_rc fl_fhirdb_begin_snapshot(fl_fhirdb_conn *c, fl_err *err);

/* Named lease shared by every process on the store: take or renew `name` for `owner`
 * for ttl_ms; *held says whether owner has it now (another owner's unexpired lease wins).
 * Autocommit statements; call outside a transaction. */
FL_API fl_rc fl_fhirdb_lease(fl_fhirdb_conn *c, fl_str name, fl_str owner, uint32_t ttl_ms, bool *held,
                             fl_err *err);
FL_API fl_rc fl_fhirdb_lease_release(fl_fhirdb_conn *c, fl_str name, fl_str owner, fl_err *err);

/* Small persistent key/value state in fl_meta (e.g. a destination's failed initial
 * export). get: *found false when absent; *value in arena a. set: insert or replace
 * ("schema_version" is reserved). */
FL_API fl_rc fl_fhirdb_meta_get(fl_fhirdb_conn *c, fl_str key, fl_arena *a, fl_str *value, bool *found,
                                fl_err *err);
FL_API fl_rc fl_fhirdb_meta_set(fl_fhirdb_conn *c, fl_str key, fl_str value, fl_err *err);

/* ------------------------------------------------------------------ helpers */

/* true if s is a valid FHIR id ([A-Za-z0-9-.]{1,64}). */
FL_API bool fl_fhirdb_valid_id(fl_str s);
/* Parse a FHIR date/dateTime/instant of any precision ("2024", "2024-03",
 * "2024-03-05T10:00:00.5+02:00") into the half-open UTC range [*lo, *hi) in microseconds
 * that it denotes. A time without a zone is taken as UTC. false if malformed. */
FL_API bool fl_fhirdb_parse_time(fl_str s, int64_t *lo_us, int64_t *hi_us);

#ifdef __cplusplus
}
#endif
#endif
