/* fhirdb_read.c - read, vread, history and search (module fhirdb).
 * Results are copied into the caller's arena. Paging is keyset-based, never OFFSET:
 * history pages by the history row number (hseq, newest first), search by
 * (lastUpdated, id), so a cursor stays valid while other clients write.
 * Cursors are opaque text: "h<hseq>" for history, "s<lastUpdated>_<id>" for search. */
#include "fhirdb/fhirdb_int.h"

#include <stdio.h>

typedef struct rec_sink {
    fl_arena *a;
    fl_fhirdb_rec *recs;
    size_t n, cap;
} rec_sink;

/* columns: type, id, version, last_updated, deleted, method, body, hseq */
static fl_rc rec_cb(void *ctx, const db_val *cols, size_t ncol, fl_err *err)
{
    rec_sink *s = ctx;
    if (ncol < 8) return fl_err_set(err, FL_E_INTERNAL, "fhirdb: short row");
    if (s->n >= s->cap) return FL_OK; /* LIMIT guards this; be safe anyway */
    fl_fhirdb_rec *r = &s->recs[s->n];
    memset(r, 0, sizeof *r);
    r->type = fl_arena_str_dup(s->a, db_text(&cols[0]));
    r->id = fl_arena_str_dup(s->a, db_text(&cols[1]));
    r->version = db_int(&cols[2]);
    r->last_updated_us = db_int(&cols[3]);
    r->deleted = db_int(&cols[4]) != 0;
    r->method = fl_arena_str_dup(s->a, db_text(&cols[5]));
    r->body = r->deleted ? FL_STR("") : fl_arena_str_dup(s->a, db_text(&cols[6]));
    r->hseq = db_int(&cols[7]);
    if (!r->type.ptr || !r->id.ptr || !r->method.ptr || !r->body.ptr)
        return fl_err_set(err, FL_E_NOMEM, "fhirdb: out of memory");
    s->n++;
    return FL_OK;
}

fl_rc fl_fhirdb_read(fl_fhirdb_conn *c, fl_str type, fl_str id, fl_arena *a, fl_fhirdb_rec *out,
                     fl_err *err)
{
    fl_fhirdb_rec r;
    rec_sink s = {a, &r, 0, 1};
    db_val p[2] = {db_t(type), db_t(id)};
    fl_rc rc = db_exec(c,
                       "SELECT type, id, version, last_updated, deleted, '', body, 0"
                       " FROM fl_resource WHERE type=? AND id=?",
                       p, 2, rec_cb, &s, err);
    if (rc) return rc;
    if (!s.n) return fl_err_set(err, FL_E_NOT_FOUND, "%.*s/%.*s not found", FL_STR_ARG(type), FL_STR_ARG(id));
    *out = r;
    return FL_OK;
}

fl_rc fl_fhirdb_vread(fl_fhirdb_conn *c, fl_str type, fl_str id, int64_t version, fl_arena *a,
                      fl_fhirdb_rec *out, fl_err *err)
{
    fl_fhirdb_rec r;
    rec_sink s = {a, &r, 0, 1};
    db_val p[3] = {db_t(type), db_t(id), db_i(version)};
    fl_rc rc = db_exec(c,
                       "SELECT type, id, version, last_updated, deleted, method, body, hseq"
                       " FROM fl_history WHERE type=? AND id=? AND version=?",
                       p, 3, rec_cb, &s, err);
    if (rc) return rc;
    if (!s.n)
        return fl_err_set(err, FL_E_NOT_FOUND, "%.*s/%.*s version %lld not found", FL_STR_ARG(type),
                          FL_STR_ARG(id), (long long)version);
    *out = r;
    return FL_OK;
}

static uint32_t page_size(uint32_t count)
{
    if (count == 0) return FL_FHIRDB_DEFAULT_COUNT;
    return count > FL_FHIRDB_MAX_COUNT ? FL_FHIRDB_MAX_COUNT : count;
}

/* Query under construction: SQL text plus its parameters. */
typedef struct qb {
    fl_buf sql;
    db_val p[DB_MAX_PARAMS];
    size_t n;
} qb;

static void qb_param(qb *q, db_val v)
{
    if (q->n < DB_MAX_PARAMS)
        q->p[q->n++] = v;
    else
        q->sql.rc = FL_E_LIMIT;
}

/* Start a page query for q: *out an empty page (no next page, total unknown), *b an empty query
 * with sql_cap bytes reserved (the caller resets b->sql). Returns the number of rows a page holds. */
static uint32_t page_start(qb *b, size_t sql_cap, const fl_fhirdb_query *q, fl_fhirdb_page *out)
{
    b->n = 0;
    fl_buf_init(&b->sql, sql_cap);
    memset(out, 0, sizeof *out);
    out->total = -1;
    return page_size(q->count);
}

/* Filter on q's _lastUpdated range, when it has one. */
static void qb_last_updated(qb *b, const fl_fhirdb_query *q)
{
    if (q->has_lu_min) {
        fl_buf_append_c(&b->sql, " AND last_updated>=?");
        qb_param(b, db_i(q->lu_min_us));
    }
    if (q->has_lu_max) {
        fl_buf_append_c(&b->sql, " AND last_updated<?");
        qb_param(b, db_i(q->lu_max_us));
    }
}

/* Run the page query b (which asks for lim + 1 rows) and put the first lim rows, copied into a, in
 * out; out->has_next when there were more (the caller writes out->next_cursor from row lim - 1). */
static fl_rc page_fetch(fl_fhirdb_conn *c, const qb *b, fl_arena *a, uint32_t lim, fl_fhirdb_page *out, fl_err *err)
{
    rec_sink s = {.a = a, .n = 0, .cap = (size_t)lim + 1};
    s.recs = fl_arena_calloc(a, s.cap, sizeof *s.recs);
    if (!s.recs) return fl_err_set(err, FL_E_NOMEM, "fhirdb: out of memory");
    fl_rc rc = db_exec(c, b->sql.ptr, b->p, b->n, rec_cb, &s, err);
    if (rc) return rc;
    out->recs = s.recs;
    out->n = s.n > lim ? lim : s.n;
    out->has_next = s.n > lim;
    return FL_OK;
}

fl_rc fl_fhirdb_history(fl_fhirdb_conn *c, const fl_fhirdb_query *q, fl_arena *a,
                        fl_fhirdb_page *out, fl_err *err)
{
    fl_rc rc = FL_OK;
    qb b;
    uint32_t lim = page_start(&b, 4096, q, out);
    int64_t before = 0;
    if (q->cursor.len) {
        if (q->cursor.ptr[0] != 'h' ||
            !fl_parse_i64(fl_str_make(q->cursor.ptr + 1, q->cursor.len - 1), &before) || before <= 0)
            FL_FAIL(FL_E_ARG, "malformed history cursor '%.*s'", FL_STR_ARG(q->cursor));
    }
    fl_buf_append_c(&b.sql, "SELECT type, id, version, last_updated, deleted, method, body, hseq"
                            " FROM fl_history WHERE 1=1");
    if (q->type.len) {
        fl_buf_append_c(&b.sql, " AND type=?");
        qb_param(&b, db_t(q->type));
    }
    if (q->id.len) {
        fl_buf_append_c(&b.sql, " AND id=?");
        qb_param(&b, db_t(q->id));
    }
    qb_last_updated(&b, q);
    if (before) {
        fl_buf_append_c(&b.sql, " AND hseq<?");
        qb_param(&b, db_i(before));
    }
    fl_buf_append_c(&b.sql, " ORDER BY hseq DESC LIMIT ?");
    qb_param(&b, db_i((int64_t)lim + 1));
    if (b.sql.rc) FL_FAIL(b.sql.rc, "fhirdb: history query too large");
    FL_TRY(page_fetch(c, &b, a, lim, out, err));
    if (out->has_next)
        snprintf(out->next_cursor, sizeof out->next_cursor, "h%lld", (long long)out->recs[lim - 1].hseq);
done:
    fl_buf_reset(&b.sql);
    return rc;
}

static fl_rc count_cb(void *ctx, const db_val *cols, size_t ncol, fl_err *err)
{
    (void)err;
    if (ncol >= 1) *(int64_t *)ctx = db_int(&cols[0]);
    return FL_OK;
}

/* The WHERE clause shared by the page query and the total count. */
static void search_filters(qb *b, const fl_fhirdb_query *q)
{
    fl_buf_append_c(&b->sql, " FROM fl_resource WHERE type=? AND deleted=0");
    qb_param(b, db_t(q->type));
    if (q->nids) {
        fl_buf_append_c(&b->sql, " AND id IN (");
        bool first = true;
        for (size_t i = 0; i < q->nids; i++) {
            if (!fl_fhirdb_valid_id(q->ids[i])) continue;
            fl_buf_append_c(&b->sql, first ? "?" : ", ?");
            qb_param(b, db_t(q->ids[i]));
            first = false;
        }
        fl_buf_append_c(&b->sql, ")");
    }
    qb_last_updated(b, q);
}

fl_rc fl_fhirdb_search(fl_fhirdb_conn *c, const fl_fhirdb_query *q, fl_arena *a,
                       fl_fhirdb_page *out, fl_err *err)
{
    fl_rc rc = FL_OK;
    qb b;
    uint32_t lim = page_start(&b, 16384, q, out);
    bool desc = q->sort == FL_FHIRDB_SORT_LU_DESC;
    int64_t cur_lu = 0;
    fl_str cur_id = FL_STR_NULL;
    if (!q->type.len) FL_FAIL(FL_E_ARG, "search needs a resource type");
    if (q->nids > FL_FHIRDB_MAX_IDS) FL_FAIL(FL_E_LIMIT, "more than %d _id values", FL_FHIRDB_MAX_IDS);
    if (q->cursor.len) {
        const char *us = q->cursor.len > 1 ? memchr(q->cursor.ptr, '_', q->cursor.len) : NULL;
        if (q->cursor.ptr[0] != 's' || !us ||
            !fl_parse_i64(fl_str_make(q->cursor.ptr + 1, (size_t)(us - q->cursor.ptr - 1)), &cur_lu))
            FL_FAIL(FL_E_ARG, "malformed search cursor '%.*s'", FL_STR_ARG(q->cursor));
        cur_id = fl_str_make(us + 1, q->cursor.len - (size_t)(us + 1 - q->cursor.ptr));
        if (!fl_fhirdb_valid_id(cur_id))
            FL_FAIL(FL_E_ARG, "malformed search cursor '%.*s'", FL_STR_ARG(q->cursor));
    }
    if (q->nids) {
        /* values that are not valid ids cannot match (and must not reach the database:
         * PostgreSQL rejects NUL bytes in text) */
        size_t valid = 0;
        for (size_t i = 0; i < q->nids; i++) valid += fl_fhirdb_valid_id(q->ids[i]);
        if (!valid) {
            out->total = q->want_total ? 0 : -1;
            goto done;
        }
    }
    if (q->want_total) {
        fl_buf_append_c(&b.sql, "SELECT COUNT(*)");
        search_filters(&b, q);
        if (b.sql.rc) FL_FAIL(b.sql.rc, "fhirdb: search query too large");
        FL_TRY(db_exec(c, b.sql.ptr, b.p, b.n, count_cb, &out->total, err));
        fl_buf_clear(&b.sql);
        b.n = 0;
    }
    fl_buf_append_c(&b.sql, "SELECT type, id, version, last_updated, deleted, '', body, 0");
    search_filters(&b, q);
    if (cur_id.len) {
        fl_buf_append_c(&b.sql, desc ? " AND (last_updated<? OR (last_updated=? AND id<?))"
                                     : " AND (last_updated>? OR (last_updated=? AND id>?))");
        qb_param(&b, db_i(cur_lu));
        qb_param(&b, db_i(cur_lu));
        qb_param(&b, db_t(cur_id));
    }
    fl_buf_append_c(&b.sql, desc ? " ORDER BY last_updated DESC, id DESC LIMIT ?"
                                 : " ORDER BY last_updated ASC, id ASC LIMIT ?");
    qb_param(&b, db_i((int64_t)lim + 1));
    if (b.sql.rc) FL_FAIL(b.sql.rc, "fhirdb: search query too large");
    FL_TRY(page_fetch(c, &b, a, lim, out, err));
    if (out->has_next) {
        const fl_fhirdb_rec *last = &out->recs[lim - 1];
        snprintf(out->next_cursor, sizeof out->next_cursor, "s%lld_%.*s",
                 (long long)last->last_updated_us, FL_STR_ARG(last->id));
    }
done:
    fl_buf_reset(&b.sql);
    return rc;
}
