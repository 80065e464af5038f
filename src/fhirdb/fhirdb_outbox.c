/* fhirdb_outbox.c - the transactional outbox: per-destination event queue (module fhirdb).
 * Rows are enqueued by the write hook on the writer's connection, so they commit or roll
 * back with the resource write. Workers claim rows with a time lease (UPDATE ... RETURNING;
 * on PostgreSQL the inner SELECT uses FOR UPDATE SKIP LOCKED so replicas never take the
 * same rows), ack (delete) what they delivered and nack (release, count) what failed.
 * A crashed worker's rows come back when their lease expires: at-least-once delivery. */
#include "fhirdb/fhirdb_int.h"

#include <stdio.h>
#include <stdlib.h>

static const char *op_name(fl_fhirdb_op op)
{
    return op == FL_FHIRDB_CREATE ? "create" : op == FL_FHIRDB_UPDATE ? "update" : "delete";
}

static fl_fhirdb_op op_parse(fl_str s)
{
    if (fl_str_eq_c(s, "create")) return FL_FHIRDB_CREATE;
    if (fl_str_eq_c(s, "update")) return FL_FHIRDB_UPDATE;
    return FL_FHIRDB_DELETE;
}

static fl_rc seq_cb(void *ctx, const db_val *cols, size_t ncol, fl_err *err)
{
    (void)err;
    if (ncol >= 1) *(int64_t *)ctx = db_int(&cols[0]);
    return FL_OK;
}

fl_rc fl_fhirdb_outbox_enqueue(fl_fhirdb_conn *c, fl_str dest, const fl_fhirdb_event *ev,
                               fl_str payload, int64_t *seq_out, fl_err *err)
{
    if (!dest.len) return fl_err_set(err, FL_E_ARG, "outbox: empty destination id");
    int64_t seq = 0;
    db_val p[8] = {db_t(dest),        db_t(ev->type),
                   db_t(ev->id),      db_i(ev->version),
                   db_t(fl_str_c(op_name(ev->op))), db_t(payload),
                   db_i(fl_clock_now_us()), ev->correlation_id.len ? db_t(ev->correlation_id) : db_null()};
    fl_rc rc = db_exec(c,
                       "INSERT INTO fl_outbox(destination_id, resource_type, resource_id, version,"
                       " op, payload, created, correlation_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
                       p, 8, seq_cb, &seq, err);
    if (rc == FL_OK && seq_out) *seq_out = seq;
    return rc;
}

typedef struct claim_sink {
    fl_arena *a;
    fl_fhirdb_outbox_row *rows;
    size_t n, cap;
} claim_sink;

/* columns: seq, destination_id, resource_type, resource_id, version, op, payload, attempts,
 * correlation_id */
static fl_rc claim_cb(void *ctx, const db_val *cols, size_t ncol, fl_err *err)
{
    claim_sink *s = ctx;
    if (ncol < 9) return fl_err_set(err, FL_E_INTERNAL, "outbox: short row");
    if (s->n >= s->cap) return FL_OK;
    fl_fhirdb_outbox_row *r = &s->rows[s->n];
    r->seq = db_int(&cols[0]);
    r->destination_id = fl_arena_str_dup(s->a, db_text(&cols[1]));
    r->type = fl_arena_str_dup(s->a, db_text(&cols[2]));
    r->id = fl_arena_str_dup(s->a, db_text(&cols[3]));
    r->version = db_int(&cols[4]);
    r->op = op_parse(db_text(&cols[5]));
    r->payload = fl_arena_str_dup(s->a, db_text(&cols[6]));
    r->attempts = db_int(&cols[7]);
    r->correlation_id = fl_arena_str_dup(s->a, db_text(&cols[8]));
    if (!r->destination_id.ptr || !r->type.ptr || !r->id.ptr || !r->payload.ptr || !r->correlation_id.ptr)
        return fl_err_set(err, FL_E_NOMEM, "outbox: out of memory");
    s->n++;
    return FL_OK;
}

static int row_cmp(const void *x, const void *y)
{
    const fl_fhirdb_outbox_row *a = x, *b = y;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Run sql (an UPDATE ... RETURNING the row columns; its last parameter, p[np - 1], is the
 * LIMIT and is set here to max clamped) and hand back its rows in seq order. */
static fl_rc returning_rows(fl_fhirdb_conn *c, const char *sql, db_val *p, size_t np, uint32_t max, fl_arena *a,
                            fl_fhirdb_outbox_row **rows, size_t *n, fl_err *err)
{
    if (max > FL_FHIRDB_MAX_COUNT * 10) max = FL_FHIRDB_MAX_COUNT * 10;
    claim_sink s = {a, fl_arena_calloc(a, max, sizeof(fl_fhirdb_outbox_row)), 0, max};
    if (!s.rows) return fl_err_set(err, FL_E_NOMEM, "outbox: out of memory");
    p[np - 1] = db_i(max);
    fl_rc rc = db_exec(c, sql, p, np, claim_cb, &s, err);
    if (rc) return rc;
    qsort(s.rows, s.n, sizeof *s.rows, row_cmp); /* RETURNING order is unspecified */
    *rows = s.rows;
    *n = s.n;
    return FL_OK;
}

fl_rc fl_fhirdb_outbox_claim(fl_fhirdb_conn *c, fl_str dest, uint32_t max, uint32_t lease_ms,
                             fl_arena *a, fl_fhirdb_outbox_row **rows, size_t *n, fl_err *err)
{
    *rows = NULL;
    *n = 0;
    if (max == 0) return FL_OK;
    int64_t now = fl_clock_now_us();
    db_val p[4] = {db_i(now + (int64_t)lease_ms * 1000), db_t(dest), db_i(now), db_i(0)};
    const char *sql =
        c->backend == DB_PG
            ? "UPDATE fl_outbox SET lease_until=? WHERE seq IN (SELECT seq FROM fl_outbox"
              " WHERE destination_id=? AND lease_until<? ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED)"
              " RETURNING seq, destination_id, resource_type, resource_id, version, op, payload, attempts,"
              " correlation_id"
            : "UPDATE fl_outbox SET lease_until=? WHERE seq IN (SELECT seq FROM fl_outbox"
              " WHERE destination_id=? AND lease_until<? ORDER BY seq LIMIT ?)"
              " RETURNING seq, destination_id, resource_type, resource_id, version, op, payload, attempts,"
              " correlation_id";
    return returning_rows(c, sql, p, 4, max, a, rows, n, err);
}

/* Run `head (?, ?, ...)` over seqs in chunks that fit the parameter limit. */
static fl_rc seq_batches(fl_fhirdb_conn *c, const char *head, const db_val *pre, size_t npre,
                         const int64_t *seqs, size_t n, fl_err *err)
{
    fl_rc rc = FL_OK;
    fl_buf sql;
    fl_buf_init(&sql, 65536);
    db_val p[DB_MAX_PARAMS];
    size_t chunk = DB_MAX_PARAMS - npre;
    for (size_t off = 0; off < n; off += chunk) {
        size_t m = n - off < chunk ? n - off : chunk;
        fl_buf_clear(&sql);
        fl_buf_append_c(&sql, head);
        fl_buf_append_c(&sql, " (");
        for (size_t i = 0; i < npre; i++) p[i] = pre[i];
        for (size_t i = 0; i < m; i++) {
            fl_buf_append_c(&sql, i ? ", ?" : "?");
            p[npre + i] = db_i(seqs[off + i]);
        }
        fl_buf_append_c(&sql, ")");
        if (sql.rc) FL_FAIL(sql.rc, "outbox: statement too large");
        FL_TRY(db_exec(c, sql.ptr, p, npre + m, NULL, NULL, err));
    }
done:
    fl_buf_reset(&sql);
    return rc;
}

fl_rc fl_fhirdb_outbox_ack(fl_fhirdb_conn *c, fl_str dest, const int64_t *seqs, size_t n, fl_err *err)
{
    db_val pre[1] = {db_t(dest)};
    return seq_batches(c, "DELETE FROM fl_outbox WHERE destination_id=? AND seq IN", pre, 1, seqs, n,
                       err);
}

fl_rc fl_fhirdb_outbox_nack(fl_fhirdb_conn *c, fl_str dest, const int64_t *seqs, size_t n,
                            fl_str error, fl_err *err)
{
    if (error.len > 4096) error.len = 4096;
    db_val pre[2] = {db_t(error), db_t(dest)};
    return seq_batches(c,
                       "UPDATE fl_outbox SET lease_until=0, attempts=attempts+1, last_error=?"
                       " WHERE destination_id=? AND seq IN",
                       pre, 2, seqs, n, err);
}

fl_rc fl_fhirdb_outbox_count(fl_fhirdb_conn *c, fl_str dest, int64_t *out, fl_err *err)
{
    *out = 0;
    db_val p[1] = {db_t(dest)};
    return db_exec(c, "SELECT COUNT(*) FROM fl_outbox WHERE destination_id=?", p, 1, seq_cb, out, err);
}

fl_rc fl_fhirdb_outbox_purge(fl_fhirdb_conn *c, fl_str dest, int64_t *n_out, fl_err *err)
{
    int64_t n = 0;
    db_val p[1] = {db_t(dest)};
    fl_rc rc = fl_fhirdb_outbox_count(c, dest, &n, err);
    if (rc == FL_OK) rc = db_exec(c, "DELETE FROM fl_outbox WHERE destination_id=?", p, 1, NULL, NULL, err);
    if (rc == FL_OK && n_out) *n_out = n;
    return rc;
}

/* ------------------------------------------------------------------ delivery batches
 * A destination with one deliverer at a time (it holds the destination's lease) numbers
 * its batches: assign() stamps rows with batch_no before the sink commit, the sink
 * records the number (Delta txn version), ack_batch() deletes the rows afterwards. After a
 * crash, next() hands back the same rows under the same number, so the sink sees a
 * duplicate and nothing is written twice. batch_no -1 marks rows covered by an initial
 * export snapshot. */

/* The lowest batch number still queued for dest (rows left assigned by a crash or a failed
 * attempt), 0 if none. */
static fl_rc pending_batch(fl_fhirdb_conn *c, fl_str dest, int64_t *out, fl_err *err)
{
    db_val p[1] = {db_t(dest)};
    return db_exec(c, "SELECT COALESCE(MIN(batch_no), 0) FROM fl_outbox WHERE destination_id=? AND batch_no>0", p, 1,
                   seq_cb, out, err);
}

static const char *const row_cols =
    "seq, destination_id, resource_type, resource_id, version, op, payload, attempts, correlation_id";

fl_rc fl_fhirdb_outbox_next(fl_fhirdb_conn *c, fl_str dest, uint32_t max, fl_arena *a, fl_fhirdb_outbox_row **rows,
                            size_t *n, int64_t *batch_no, fl_err *err)
{
    *rows = NULL;
    *n = 0;
    *batch_no = 0;
    if (max == 0) return FL_OK;
    if (max > FL_FHIRDB_MAX_COUNT * 10) max = FL_FHIRDB_MAX_COUNT * 10;
    fl_rc rc = FL_OK;
    int64_t pending = 0;
    FL_TRY(pending_batch(c, dest, &pending, err));
    char sql[512];
    db_val p[2] = {db_t(dest), db_i(pending ? pending : (int64_t)max)};
    if (pending) {
        int64_t cnt = 0;
        FL_TRY(db_exec(c, "SELECT COUNT(*) FROM fl_outbox WHERE destination_id=? AND batch_no=?", p, 2, seq_cb, &cnt,
                       err));
        if (cnt > (int64_t)max) max = (uint32_t)(cnt < FL_FHIRDB_MAX_COUNT * 10 ? cnt : FL_FHIRDB_MAX_COUNT * 10);
        snprintf(sql, sizeof sql, "SELECT %s FROM fl_outbox WHERE destination_id=? AND batch_no=? ORDER BY seq",
                 row_cols);
    } else {
        snprintf(sql, sizeof sql,
                 "SELECT %s FROM fl_outbox WHERE destination_id=? AND batch_no IS NULL ORDER BY seq LIMIT ?",
                 row_cols);
    }
    claim_sink s = {a, fl_arena_calloc(a, max, sizeof(fl_fhirdb_outbox_row)), 0, max};
    if (!s.rows) FL_FAIL(FL_E_NOMEM, "outbox: out of memory");
    FL_TRY(db_exec(c, sql, p, 2, claim_cb, &s, err));
    *rows = s.rows;
    *n = s.n;
    *batch_no = pending;
done:
    return rc;
}

fl_rc fl_fhirdb_outbox_ready(fl_fhirdb_conn *c, fl_str dest, uint32_t max, int64_t *pending, int64_t *ready,
                            fl_err *err)
{
    fl_rc rc = FL_OK;
    *pending = 0;
    *ready = 0;
    FL_TRY(pending_batch(c, dest, pending, err));
    if (*pending) goto done;
    db_val p[2] = {db_t(dest), db_i(max)};
    FL_TRY(db_exec(c,
                   "SELECT COUNT(*) FROM (SELECT 1 FROM fl_outbox WHERE destination_id=? AND batch_no IS NULL"
                   " LIMIT ?) q",
                   p, 2, seq_cb, ready, err));
done:
    return rc;
}

fl_rc fl_fhirdb_outbox_take(fl_fhirdb_conn *c, fl_str dest, uint32_t max, int64_t batch_no, fl_arena *a,
                           fl_fhirdb_outbox_row **rows, size_t *n, fl_err *err)
{
    *rows = NULL;
    *n = 0;
    if (max == 0) return FL_OK;
    if (batch_no <= 0) return fl_err_set(err, FL_E_ARG, "outbox: batch number must be > 0");
    db_val p[4] = {db_i(batch_no), db_t(dest), db_t(dest), db_i(0)};
    return returning_rows(c,
                          "UPDATE fl_outbox SET batch_no=? WHERE destination_id=? AND seq IN (SELECT seq FROM fl_outbox"
                          " WHERE destination_id=? AND batch_no IS NULL ORDER BY seq LIMIT ?)"
                          " RETURNING seq, destination_id, resource_type, resource_id, version, op, payload, attempts,"
                          " correlation_id",
                          p, 4, max, a, rows, n, err);
}

fl_rc fl_fhirdb_outbox_assign(fl_fhirdb_conn *c, fl_str dest, const int64_t *seqs, size_t n, int64_t batch_no,
                              fl_err *err)
{
    db_val pre[2] = {db_i(batch_no), db_t(dest)};
    return seq_batches(c, "UPDATE fl_outbox SET batch_no=? WHERE destination_id=? AND seq IN", pre, 2, seqs, n, err);
}

fl_rc fl_fhirdb_outbox_ack_batch(fl_fhirdb_conn *c, fl_str dest, int64_t batch_no, fl_err *err)
{
    db_val p[2] = {db_t(dest), db_i(batch_no)};
    return db_exec(c, "DELETE FROM fl_outbox WHERE destination_id=? AND batch_no=?", p, 2, NULL, NULL, err);
}

fl_rc fl_fhirdb_outbox_nack_batch(fl_fhirdb_conn *c, fl_str dest, int64_t batch_no, fl_str error, fl_err *err)
{
    if (error.len > 4096) error.len = 4096;
    db_val p[3] = {db_t(error), db_t(dest), db_i(batch_no)};
    return db_exec(c, "UPDATE fl_outbox SET attempts=attempts+1, last_error=? WHERE destination_id=? AND batch_no=?", p,
                   3, NULL, NULL, err);
}

fl_rc fl_fhirdb_outbox_max_batch(fl_fhirdb_conn *c, fl_str dest, int64_t *out, fl_err *err)
{
    *out = 0;
    db_val p[1] = {db_t(dest)};
    return db_exec(c, "SELECT COALESCE(MAX(batch_no), 0) FROM fl_outbox WHERE destination_id=?", p, 1, seq_cb, out,
                   err);
}

fl_rc fl_fhirdb_outbox_mark_export(fl_fhirdb_conn *c, fl_str dest, fl_err *err)
{
    db_val p[1] = {db_t(dest)};
    return db_exec(c, "UPDATE fl_outbox SET batch_no=-1 WHERE destination_id=? AND batch_no IS NULL", p, 1, NULL, NULL,
                   err);
}

fl_rc fl_fhirdb_outbox_release_export(fl_fhirdb_conn *c, fl_str dest, fl_err *err)
{
    db_val p[1] = {db_t(dest)};
    return db_exec(c, "UPDATE fl_outbox SET batch_no=NULL WHERE destination_id=? AND batch_no=-1", p, 1, NULL, NULL,
                   err);
}

fl_rc fl_fhirdb_outbox_count_export(fl_fhirdb_conn *c, fl_str dest, int64_t *out, fl_err *err)
{
    *out = 0;
    db_val p[1] = {db_t(dest)};
    return db_exec(c, "SELECT COUNT(*) FROM fl_outbox WHERE destination_id=? AND batch_no=-1", p, 1, seq_cb, out, err);
}

/* ------------------------------------------------------------------ leases */

typedef struct lease_sink {
    fl_str owner;
    bool held;
} lease_sink;

static fl_rc lease_cb(void *ctx, const db_val *cols, size_t ncol, fl_err *err)
{
    (void)err;
    lease_sink *s = ctx;
    if (ncol >= 1) s->held = fl_str_eq(db_text(&cols[0]), s->owner);
    return FL_OK;
}

fl_rc fl_fhirdb_lease(fl_fhirdb_conn *c, fl_str name, fl_str owner, uint32_t ttl_ms, bool *held, fl_err *err)
{
    *held = false;
    int64_t now = fl_clock_now_us();
    db_val p[4] = {db_t(name), db_t(owner), db_i(now + (int64_t)ttl_ms * 1000), db_i(now)};
    fl_rc rc = db_exec(c,
                       "INSERT INTO fl_lease(name, owner, until_us) VALUES(?, ?, ?) ON CONFLICT(name) DO UPDATE"
                       " SET owner=excluded.owner, until_us=excluded.until_us"
                       " WHERE fl_lease.owner=excluded.owner OR fl_lease.until_us<?",
                       p, 4, NULL, NULL, err);
    if (rc) return rc;
    lease_sink s = {owner, false};
    rc = db_exec(c, "SELECT owner FROM fl_lease WHERE name=?", p, 1, lease_cb, &s, err);
    if (rc == FL_OK) *held = s.held;
    return rc;
}

fl_rc fl_fhirdb_lease_release(fl_fhirdb_conn *c, fl_str name, fl_str owner, fl_err *err)
{
    db_val p[2] = {db_t(name), db_t(owner)};
    return db_exec(c, "DELETE FROM fl_lease WHERE name=? AND owner=?", p, 2, NULL, NULL, err);
}

/* ------------------------------------------------------------------ small persistent state */

typedef struct meta_sink {
    fl_arena *a;
    fl_str *out;
    bool *found;
} meta_sink;

static fl_rc meta_cb(void *ctx, const db_val *cols, size_t ncol, fl_err *err)
{
    meta_sink *m = ctx;
    if (ncol < 1) return FL_OK;
    *m->out = fl_arena_str_dup(m->a, db_text(&cols[0]));
    if (!m->out->ptr) return fl_err_set(err, FL_E_NOMEM, "fhirdb: out of memory");
    *m->found = true;
    return FL_OK;
}

fl_rc fl_fhirdb_meta_get(fl_fhirdb_conn *c, fl_str key, fl_arena *a, fl_str *value, bool *found, fl_err *err)
{
    *found = false;
    *value = FL_STR_NULL;
    meta_sink m = {a, value, found};
    db_val p[1] = {db_t(key)};
    return db_exec(c, "SELECT value FROM fl_meta WHERE key=?", p, 1, meta_cb, &m, err);
}

fl_rc fl_fhirdb_meta_set(fl_fhirdb_conn *c, fl_str key, fl_str value, fl_err *err)
{
    if (fl_str_eq_c(key, "schema_version")) return fl_err_set(err, FL_E_ARG, "fhirdb: schema_version is reserved");
    db_val p[2] = {db_t(key), db_t(value)};
    return db_exec(c, "INSERT INTO fl_meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                   p, 2, NULL, NULL, err);
}
