/* server_deliver.c - delivery workers of data-lakehouse-at-least-once destinations
 * (module server; issue #8 part 2). One thread per active destination in the registry,
 * started/stopped by srv_deliver_sync() after every registry reload.
 *
 * A worker resolves its ViewDefinition (by name), opens the Delta sink (engine.h;
 * schema check / add-columns), takes the destination's lease in the store (so of several
 * replicas sharing PostgreSQL one delivers a destination at a time and its batches stay
 * ordered), runs the initial export once, then loops: take the next outbox batch (up to
 * batchSize rows, when full or sendIntervalMs passed), number it, flatten the payloads,
 * make ONE Delta commit tagged txn{appId = destination id, version = batch number}, then
 * ack. A crash between commit and ack hands the same rows back under the same number:
 * the sink reports a duplicate and the rows are acked without writing (exactly-once rows).
 * Failed batches stay queued and are retried after 1 s; a failed worker start is retried
 * with backoff 1 s -> 60 s. Counters are per process, in memory, as in Aidbox.
 *
 * Initial export: inside one snapshot transaction the queued events of the destination
 * are marked as covered (batch -1) and every current resource of the view's type is
 * flattened into one Delta commit (txn{appId "<id>:initial-export", 1}); after the store
 * transaction commits and the Delta commit lands, the covered events are dropped. Events
 * committed after the snapshot are delivered live. Tried 4 times (waits 1, 2, 4 s); after
 * that the status is failed and the covered events go back to live delivery. */
#include "fhirlake/engine.h"
#include "fhirlake/store.h"
#include "fhirlake/view.h"
#include "server/server_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#define W_MAX_ERRORS 5
#define W_LEASE_MS 30000u
#define W_BACKOFF_MAX_MS 60000u
#define W_EXPORT_BATCH_ROWS 8192u
#define W_POLL_MS 50u /* outbox poll of an idle worker (a count query) */

typedef struct w_error {
    char msg[512];
    int64_t ts_us;
} w_error;

struct srv_worker {
    fl_server *srv;
    char id[FL_FHIRDB_MAX_ID + 1];
    char *body;
    pthread_t th;
    atomic_bool stop, alive;
    srv_worker *next;
    /* status, guarded by srv->work_mu */
    const char *status;        /* starting | active | standby | error | stopped */
    const char *export_status; /* not_started | export-in-progress | completed | skipped | failed */
    char export_error[512];
    int64_t start_us, end_us;
    bool has_thread;           /* jobs: th was started ($materialize runs on the request thread) */
    uint64_t delivered, attempts, in_process, rows_sent, batches, errors;
    w_error errs[W_MAX_ERRORS];
    size_t nerrs, errs_next;
    /* worker-thread state */
    srv_lake_cfg cfg;
    fl_view_plan *plan;
    fl_view_ctx *ctx;
    fl_view_batch *vb;
    fl_engine_sink *sink;
    fl_buf del; /* int32 is_deleted per row of vb */
    int64_t last_batch;
    char app_export[FL_FHIRDB_MAX_ID + 32];
};

static void w_set(srv_worker *w, const char **field, const char *val)
{
    pthread_mutex_lock(&w->srv->work_mu);
    *field = val;
    pthread_mutex_unlock(&w->srv->work_mu);
}

static void w_error_add(srv_worker *w, const char *fmt, ...) FL_PRINTF(2, 3);
static void w_error_add(srv_worker *w, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&w->srv->work_mu);
    w_error *e = &w->errs[w->errs_next];
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    e->ts_us = fl_clock_now_us();
    w->errs_next = (w->errs_next + 1) % W_MAX_ERRORS;
    if (w->nerrs < W_MAX_ERRORS) w->nerrs++;
    w->errors++;
    pthread_mutex_unlock(&w->srv->work_mu);
    fl_log(&w->srv->opts.log, FL_LOG_WARN, "destination %s: %s", w->id, msg);
}

/* Sleep ms unless asked to stop; false when stopping. */
static bool w_sleep(srv_worker *w, uint32_t ms)
{
    for (uint32_t t = 0; t < ms && !atomic_load(&w->stop); t += 20) fl_sleep_ms(ms - t < 20 ? ms - t : 20);
    return !atomic_load(&w->stop);
}

/* Wait up to ms, or until this process has enqueued events up to `wake_at` (counted by the
 * write hook, see srv_deliver_poke), or stop. */
static void w_wait_events(srv_worker *w, uint32_t ms, uint64_t wake_at)
{
    fl_server *srv = w->srv;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000u);
    ts.tv_nsec += (long)(ms % 1000u) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&srv->wake_mu);
    while (!atomic_load(&w->stop) && atomic_load(&srv->enq_events) < wake_at) {
        /* (re)register: a poke for another worker resets wake_at */
        uint_fast64_t cur = atomic_load(&srv->wake_at);
        while (wake_at < cur && !atomic_compare_exchange_weak(&srv->wake_at, &cur, wake_at)) {
        }
        if (pthread_cond_timedwait(&srv->wake_cv, &srv->wake_mu, &ts) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&srv->wake_mu);
}

void srv_deliver_poke(fl_server *srv)
{
    if (atomic_load_explicit(&srv->enq_events, memory_order_relaxed) <
        atomic_load_explicit(&srv->wake_at, memory_order_relaxed))
        return;
    pthread_mutex_lock(&srv->wake_mu);
    atomic_store(&srv->wake_at, UINT64_MAX);
    pthread_cond_broadcast(&srv->wake_cv);
    pthread_mutex_unlock(&srv->wake_mu);
}

static void w_close(srv_worker *w)
{
    fl_engine_sink_close(w->sink);
    w->sink = NULL;
    fl_view_batch_free(w->vb);
    w->vb = NULL;
    fl_view_ctx_free(w->ctx);
    w->ctx = NULL;
    fl_view_plan_free(w->plan);
    w->plan = NULL;
    fl_buf_reset(&w->del);
}

/* Find the stored ViewDefinition named cfg.view and compile it. */
static fl_rc w_load_view(srv_worker *w, fl_fhirdb_conn *c, fl_err *err)
{
    fl_rc rc = FL_OK;
    char cursor[FL_FHIRDB_CURSOR_MAX] = "";
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    for (;;) {
        fl_fhirdb_query q = {.type = FL_STR("ViewDefinition"), .count = FL_FHIRDB_MAX_COUNT, .cursor = fl_str_c(cursor)};
        fl_fhirdb_page pg;
        FL_TRY(fl_fhirdb_search(c, &q, &a, &pg, err));
        for (size_t i = 0; i < pg.n; i++) {
            fl_json_val *res = NULL;
            if (fl_json_parse(pg.recs[i].body.ptr, pg.recs[i].body.len, NULL, &a, &res, NULL, err) != FL_OK) continue;
            if (!fl_str_eq_c(fl_json_str(fl_json_get_c(res, "name")), w->cfg.view)) continue;
            fl_view_opts vo;
            fl_view_opts_default(&vo);
            vo.flags = FL_VIEW_LENIENT_KEYS; /* stored resources carry id/meta/resourceType */
            rc = fl_view_compile_json(res, &vo, &w->plan, err);
            if (rc) fl_err_prefix(err, "ViewDefinition/%.*s (%s): ", FL_STR_ARG(pg.recs[i].id), w->cfg.view);
            goto done;
        }
        if (!pg.has_next) break;
        memcpy(cursor, pg.next_cursor, sizeof cursor);
        fl_arena_reset(&a);
    }
    rc = fl_err_set(err, FL_E_NOT_FOUND, "no ViewDefinition named '%s'", w->cfg.view);
done:
    fl_arena_fini(&a);
    return rc;
}

/* The last batch number used for this destination: the higher of the table's txn version
 * for the destination id and the outbox's highest assigned number. Run whenever this
 * process (re)gains the lease: another replica may have delivered batches meanwhile, and
 * a stale number would make the next fresh batch look like a duplicate. */
static fl_rc w_sync_numbering(srv_worker *w, fl_fhirdb_conn *c, fl_err *err)
{
    fl_rc rc = FL_OK;
    int64_t tv = -1, ov = 0;
    FL_TRY(fl_engine_sink_app_version(w->sink, fl_str_c(w->id), &tv, err));
    FL_TRY(fl_fhirdb_outbox_max_batch(c, fl_str_c(w->id), &ov, err));
    w->last_batch = tv > ov ? tv : ov;
    if (w->last_batch < 0) w->last_batch = 0;
done:
    return rc;
}

/* The store properties (S3 region, credentials, endpoint) that cfg sets, into props; returns how many.
 * props point into cfg. */
static size_t cfg_store_props(const srv_lake_cfg *cfg, fl_store_prop props[4])
{
    size_t np = 0;
    if (cfg->region[0]) props[np++] = (fl_store_prop){"awsRegion", cfg->region};
    if (cfg->akid[0]) props[np++] = (fl_store_prop){"awsAccessKeyId", cfg->akid};
    if (cfg->secret[0]) props[np++] = (fl_store_prop){"awsSecretAccessKey", cfg->secret};
    if (cfg->endpoint[0]) props[np++] = (fl_store_prop){"s3Endpoint", cfg->endpoint};
    return np;
}

static fl_rc w_open(srv_worker *w, fl_err *err)
{
    fl_rc rc = FL_OK;
    fl_fhirdb_conn *c = NULL;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_json_val *res = NULL;
    FL_TRY(fl_json_parse(w->body, strlen(w->body), NULL, &a, &res, NULL, err));
    const char *msg = srv_lake_parse(&a, res, &w->cfg);
    if (msg) FL_FAIL(FL_E_CONFIG, "%s", msg);
    FL_TRY(fl_fhirdb_acquire(w->srv->db, &c, err));
    FL_TRY(w_load_view(w, c, err));
    FL_TRY(fl_view_ctx_new(w->plan, &w->ctx, err));
    FL_TRY(fl_view_batch_new(w->plan, w->cfg.batch_size, &w->vb, err));
    fl_store_prop props[4];
    size_t np = cfg_store_props(&w->cfg, props);
    fl_engine_sink_opts so = {.table_url = w->cfg.table, .name = w->cfg.view, .props = props, .nprops = np,
                              .target_file_size = w->cfg.target_file_size, .add_columns = w->cfg.add_columns,
                              .log = &w->srv->opts.log};
    FL_TRY(fl_engine_sink_open(w->plan, &so, &w->sink, err)); /* numbering: synced when the lease is gained */
done:
    fl_fhirdb_release(w->srv->db, c);
    fl_arena_fini(&a);
    return rc;
}

/* Flatten one resource text into w->vb with is_deleted; eval errors are reported and the
 * resource skipped (a bad resource must not block the queue). */
static fl_rc w_add(srv_worker *w, fl_str text, int32_t deleted, const char *what, fl_err *err)
{
    size_t added = 0;
    fl_err e;
    fl_err_clear(&e);
    fl_rc rc = fl_view_eval_text(w->ctx, text.ptr, text.len, w->vb, &added, &e);
    if (rc == FL_E_NOMEM) return fl_err_set(err, rc, "%s", e.msg);
    if (rc) {
        w_error_add(w, "%s: skipped, the view failed on it: %s", what, e.msg);
        return FL_OK;
    }
    for (size_t i = 0; i < added; i++) fl_buf_append(&w->del, &deleted, sizeof deleted);
    if (w->del.rc) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    return FL_OK;
}

static void w_clear_rows(srv_worker *w)
{
    fl_view_batch_clear(w->vb);
    fl_buf_clear(&w->del);
}

static fl_rc w_flush(srv_worker *w, fl_err *err)
{
    fl_rc rc = FL_OK;
    if (fl_view_batch_rows(w->vb)) rc = fl_engine_sink_write(w->sink, w->vb, (const int32_t *)(void *)w->del.ptr, err);
    w_clear_rows(w);
    return rc;
}

/* ------------------------------------------------------------------ initial export */

/* mark: a destination's initial export (cover its queued events); else a
 * $viewdefinition-export job (no queue). */
static fl_rc w_export_once(srv_worker *w, bool mark, uint64_t *rows, fl_err *err)
{
    fl_rc rc = FL_OK;
    fl_fhirdb_conn *c = NULL;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_str dest = fl_str_c(w->id);
    *rows = 0;
    FL_TRY(fl_fhirdb_acquire(w->srv->db, &c, err));
    rc = fl_engine_sink_begin(w->sink, fl_str_c(w->app_export), 1, err);
    if (rc == FL_E_DELTA_DUPLICATE) { /* committed before a crash: drop the covered events */
        if (mark) rc = fl_fhirdb_outbox_ack_batch(c, dest, -1, err);
        goto done;
    }
    if (rc) goto done;
    FL_TRY(fl_fhirdb_begin_snapshot(c, err));
    if (mark) FL_TRY(fl_fhirdb_outbox_mark_export(c, dest, err));
    char cursor[FL_FHIRDB_CURSOR_MAX] = "";
    w_clear_rows(w);
    for (;;) {
        fl_fhirdb_query q = {.type = fl_str_c(fl_view_plan_resource(w->plan)), .count = FL_FHIRDB_MAX_COUNT,
                             .cursor = fl_str_c(cursor)};
        fl_fhirdb_page pg;
        FL_TRY(fl_fhirdb_search(c, &q, &a, &pg, err));
        for (size_t i = 0; i < pg.n; i++) {
            char what[160];
            snprintf(what, sizeof what, "initial export %.*s/%.*s", FL_STR_ARG(pg.recs[i].type),
                     FL_STR_ARG(pg.recs[i].id));
            FL_TRY(w_add(w, pg.recs[i].body, 0, what, err));
            if (fl_view_batch_rows(w->vb) >= W_EXPORT_BATCH_ROWS) {
                *rows += fl_view_batch_rows(w->vb);
                FL_TRY(w_flush(w, err));
            }
        }
        if (atomic_load(&w->stop)) FL_FAIL(FL_E_CANCELLED, "server stopping");
        if (!pg.has_next) break;
        memcpy(cursor, pg.next_cursor, sizeof cursor);
        fl_arena_reset(&a);
    }
    *rows += fl_view_batch_rows(w->vb);
    FL_TRY(w_flush(w, err));
    /* the store commit first: if the Delta commit then fails, the marked events stay
     * covered and the retry's snapshot covers them again */
    FL_TRY(fl_fhirdb_commit(c, err));
    rc = fl_engine_sink_commit(w->sink, NULL, err);
    if (rc == FL_E_DELTA_DUPLICATE) rc = FL_OK;
    if (rc) goto done;
    if (mark) FL_TRY(fl_fhirdb_outbox_ack_batch(c, dest, -1, err));
done:
    if (c && fl_fhirdb_in_tx(c)) fl_fhirdb_rollback(c);
    fl_engine_sink_abort(w->sink);
    w_clear_rows(w);
    fl_fhirdb_release(w->srv->db, c);
    fl_arena_fini(&a);
    return rc;
}

static void w_initial_export(srv_worker *w)
{
    if (w->cfg.skip_initial) {
        w_set(w, &w->export_status, "skipped");
        return;
    }
    fl_err err;
    fl_err_clear(&err);
    int64_t v = -1;
    if (fl_engine_sink_app_version(w->sink, fl_str_c(w->app_export), &v, &err) == FL_OK && v >= 1) {
        fl_fhirdb_conn *c = NULL;
        if (fl_fhirdb_acquire(w->srv->db, &c, &err) == FL_OK) {
            fl_fhirdb_outbox_ack_batch(c, fl_str_c(w->id), -1, &err); /* leftovers of a crash */
            fl_fhirdb_release(w->srv->db, c);
        }
        w_set(w, &w->export_status, "completed");
        return;
    }
    /* a final failure is remembered: exporting again later could double rows that were
     * delivered live since */
    char key[FL_FHIRDB_MAX_ID + 48];
    snprintf(key, sizeof key, "initial-export-failed/%s", w->id);
    {
        fl_fhirdb_conn *c = NULL;
        fl_arena a;
        fl_arena_init(&a, 0, 0);
        fl_str val = FL_STR_NULL;
        bool found = false;
        if (fl_fhirdb_acquire(w->srv->db, &c, &err) == FL_OK) {
            if (fl_fhirdb_meta_get(c, fl_str_c(key), &a, &val, &found, &err) != FL_OK) found = false;
            fl_fhirdb_release(w->srv->db, c);
        }
        if (found) {
            pthread_mutex_lock(&w->srv->work_mu);
            w->export_status = "failed";
            snprintf(w->export_error, sizeof w->export_error, "%.*s", FL_STR_ARG(val));
            pthread_mutex_unlock(&w->srv->work_mu);
        }
        fl_arena_fini(&a);
        if (found) return;
    }
    for (unsigned attempt = 0; attempt < 4; attempt++) {
        w_set(w, &w->export_status, "export-in-progress");
        uint64_t rows = 0;
        fl_err_clear(&err);
        fl_rc rc = w_export_once(w, true, &rows, &err);
        if (rc == FL_OK) {
            pthread_mutex_lock(&w->srv->work_mu);
            w->rows_sent = rows;
            w->export_status = "completed";
            pthread_mutex_unlock(&w->srv->work_mu);
            fl_log(&w->srv->opts.log, FL_LOG_INFO, "destination %s: initial export of %llu rows committed", w->id,
                   (unsigned long long)rows);
            return;
        }
        if (atomic_load(&w->stop)) return;
        w_error_add(w, "initial export attempt %u: %s", attempt + 1, err.msg);
        pthread_mutex_lock(&w->srv->work_mu);
        snprintf(w->export_error, sizeof w->export_error, "%s", err.msg);
        pthread_mutex_unlock(&w->srv->work_mu);
        if (attempt < 3 && !w_sleep(w, 1000u << attempt)) return;
    }
    w_set(w, &w->export_status, "failed");
    fl_fhirdb_conn *c = NULL;
    if (fl_fhirdb_acquire(w->srv->db, &c, &err) == FL_OK) {
        char msg[512];
        pthread_mutex_lock(&w->srv->work_mu);
        snprintf(msg, sizeof msg, "%s", w->export_error);
        pthread_mutex_unlock(&w->srv->work_mu);
        if (fl_fhirdb_meta_set(c, fl_str_c(key), fl_str_c(msg), &err) != FL_OK)
            w_error_add(w, "recording the failed export: %s", err.msg);
        if (fl_fhirdb_outbox_release_export(c, fl_str_c(w->id), &err) != FL_OK)
            w_error_add(w, "releasing events covered by the failed export: %s", err.msg);
        fl_fhirdb_release(w->srv->db, c);
    }
}

/* ------------------------------------------------------------------ live batches */

static double ms_since(uint64_t from_ns, uint64_t to_ns) { return to_ns > from_ns ? (double)(to_ns - from_ns) / 1e6 : 0; }

/* Deliver one batch. *wait_ms > 0: nothing to do now, poll again after that long, or as
 * soon as this process's writes have enqueued *wake_at events in all (a full batch; 0 =
 * no such shortcut). The poll is cheap (a count, no payloads), so it runs often and a full
 * batch written through another replica or an expired sendIntervalMs is noticed within
 * W_POLL_MS. */
static fl_rc w_batch(srv_worker *w, fl_fhirdb_conn *c, int64_t *last_flush_ms, uint32_t *wait_ms, uint64_t *wake_at,
                     fl_err *err)
{
    fl_rc rc = FL_OK;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_str dest = fl_str_c(w->id);
    fl_fhirdb_outbox_row *rows = NULL;
    size_t n = 0;
    int64_t batch_no = 0, pending = 0, ready = 0;
    uint32_t poll = w->cfg.send_interval_ms < W_POLL_MS ? w->cfg.send_interval_ms : W_POLL_MS;
    *wait_ms = 0;
    *wake_at = 0;
    uint64_t enq = atomic_load(&w->srv->enq_events); /* before the count: wakes early rather than late */
    uint64_t t_take = fl_clock_mono_ns(), t_flat = 0, t_commit = 0, t_ack = 0; /* for the debug log */
    FL_TRY(fl_fhirdb_outbox_ready(c, dest, w->cfg.batch_size, &pending, &ready, err));
    int64_t now_ms = (int64_t)(fl_clock_mono_ns() / 1000000u);
    if (!pending) {
        int64_t left = (int64_t)w->cfg.send_interval_ms - (now_ms - *last_flush_ms);
        if (!ready) *last_flush_ms = now_ms; /* the interval counts from the first waiting event */
        if (!ready || (ready < (int64_t)w->cfg.batch_size && left > 0)) {
            *wait_ms = !ready || left > (int64_t)poll ? poll : (uint32_t)left;
            *wake_at = enq + (uint64_t)((int64_t)w->cfg.batch_size - ready);
            goto done;
        }
    }
    fl_rc begun = FL_OK;
    if (pending) { /* left assigned by a crash or a failed attempt: redo under its number */
        FL_TRY(fl_fhirdb_outbox_next(c, dest, w->cfg.batch_size, &a, &rows, &n, &batch_no, err));
        if (n) begun = fl_engine_sink_begin(w->sink, dest, batch_no, err); /* duplicate: committed before a crash */
    } else {
        /* Open the table's txn under the new number before any row carries it: rows numbered
         * with a number the table already has would later be acked as a duplicate unsent.
         * The table has it when our numbering is behind (another deliverer committed since):
         * renumber above the table, once. */
        batch_no = w->last_batch + 1;
        begun = fl_engine_sink_begin(w->sink, dest, batch_no, err);
        if (begun == FL_E_DELTA_DUPLICATE) {
            int64_t stale = batch_no;
            FL_TRY(w_sync_numbering(w, c, err));
            batch_no = w->last_batch + 1;
            fl_log(&w->srv->opts.log, FL_LOG_WARN, "destination %s: batch number %lld already in table %s; now %lld",
                   w->id, (long long)stale, w->cfg.table, (long long)batch_no);
            begun = fl_engine_sink_begin(w->sink, dest, batch_no, err);
            if (begun == FL_E_DELTA_DUPLICATE)
                FL_FAIL(FL_E_STATE, "batch %lld: numbering collides with table %s", (long long)batch_no, w->cfg.table);
        }
        /* numbered even when the txn did not open: the attempt is counted on its rows (nack)
         * and the batch is redone under this number */
        FL_TRY(fl_fhirdb_outbox_take(c, dest, w->cfg.batch_size, batch_no, &a, &rows, &n, err));
        if (n) w->last_batch = batch_no;
    }
    if (!n) {
        *wait_ms = poll;
        goto done;
    }
    *last_flush_ms = now_ms;
    pthread_mutex_lock(&w->srv->work_mu);
    w->in_process = n;
    pthread_mutex_unlock(&w->srv->work_mu);
    rc = begun;
    t_flat = fl_clock_mono_ns();
    if (rc == FL_OK) {
        w_clear_rows(w);
        for (size_t i = 0; i < n && rc == FL_OK; i++) {
            fl_str text = rows[i].payload;
            char what[160];
            snprintf(what, sizeof what, "event %lld (%.*s/%.*s version %lld)", (long long)rows[i].seq,
                     FL_STR_ARG(rows[i].type), FL_STR_ARG(rows[i].id), (long long)rows[i].version);
            if (!text.len && rows[i].op == FL_FHIRDB_DELETE && rows[i].version > 1) {
                /* queued without the last version: read it from history */
                fl_fhirdb_rec rec;
                if (fl_fhirdb_vread(c, rows[i].type, rows[i].id, rows[i].version - 1, &a, &rec, err) == FL_OK)
                    text = rec.body;
            }
            if (!text.len) {
                w_error_add(w, "%s: skipped, no resource content", what);
                continue;
            }
            rc = w_add(w, text, rows[i].op == FL_FHIRDB_DELETE ? 1 : 0, what, err);
        }
        if (rc == FL_OK) rc = w_flush(w, err);
        t_commit = fl_clock_mono_ns();
        if (rc == FL_OK) rc = fl_engine_sink_commit(w->sink, NULL, err);
        fl_engine_sink_abort(w->sink);
    }
    if (rc == FL_E_DELTA_DUPLICATE) rc = FL_OK; /* delivered before a crash: just ack */
    t_ack = fl_clock_mono_ns();
    if (rc == FL_OK) rc = fl_fhirdb_outbox_ack_batch(c, dest, batch_no, err);
    fl_log(&w->srv->opts.log, FL_LOG_DEBUG,
           "destination %s: batch %lld, %zu events: take %.1f ms, flatten %.1f ms, commit %.1f ms, ack %.1f ms", w->id,
           (long long)batch_no, n, ms_since(t_take, t_flat), ms_since(t_flat, t_commit),
           ms_since(t_commit, t_ack), ms_since(t_ack, fl_clock_mono_ns()));
    pthread_mutex_lock(&w->srv->work_mu);
    w->in_process = 0;
    if (rc == FL_OK) {
        w->delivered += n;
        w->batches++;
    } else {
        w->attempts += n;
    }
    pthread_mutex_unlock(&w->srv->work_mu);
    if (rc) {
        fl_err e2;
        fl_fhirdb_outbox_nack_batch(c, dest, batch_no, fl_str_c(err->msg), &e2);
    }
done:
    fl_engine_sink_abort(w->sink); /* a txn opened for a batch that came back empty or failed */
    fl_arena_fini(&a);
    return rc;
}

static fl_rc w_run(srv_worker *w, fl_err *err)
{
    fl_rc rc = FL_OK;
    fl_fhirdb_conn *c = NULL;
    char lease_name[FL_FHIRDB_MAX_ID + 16];
    snprintf(lease_name, sizeof lease_name, "destination/%s", w->id);
    fl_str lease = fl_str_c(lease_name);
    bool held = false;
    w_set(w, &w->status, "starting");
    FL_TRY(w_open(w, err));
    bool exported = false;
    int64_t last_flush = (int64_t)(fl_clock_mono_ns() / 1000000u);
    uint64_t last_lease = 0;
    while (!atomic_load(&w->stop)) {
        uint64_t now = fl_clock_mono_ns();
        if (!held || now - last_lease > (uint64_t)W_LEASE_MS * 1000000u / 3) {
            bool was_held = held;
            FL_TRY(fl_fhirdb_acquire(w->srv->db, &c, err));
            rc = fl_fhirdb_lease(c, lease, fl_str_c(w->srv->owner), W_LEASE_MS, &held, err);
            fl_fhirdb_release(w->srv->db, c);
            c = NULL;
            if (rc) goto done;
            last_lease = now;
            if (!held) {
                w_set(w, &w->status, "standby"); /* another replica delivers this destination */
                w_sleep(w, 1000);
                continue;
            }
            if (!was_held) { /* (re)gained: batches may have been delivered by another replica */
                FL_TRY(fl_fhirdb_acquire(w->srv->db, &c, err));
                rc = w_sync_numbering(w, c, err);
                fl_fhirdb_release(w->srv->db, c);
                c = NULL;
                if (rc) goto done;
            }
            w_set(w, &w->status, "active");
        }
        if (!exported) {
            w_initial_export(w);
            exported = true;
            continue;
        }
        FL_TRY(fl_fhirdb_acquire(w->srv->db, &c, err));
        uint32_t wait_ms = 0;
        uint64_t wake_at = 0;
        fl_err berr;
        fl_err_clear(&berr);
        rc = w_batch(w, c, &last_flush, &wait_ms, &wake_at, &berr);
        fl_fhirdb_release(w->srv->db, c);
        c = NULL;
        if (rc) {
            w_error_add(w, "batch failed (kept queued, retry in 1 s): %s", berr.msg);
            rc = FL_OK;
            w_sleep(w, 1000);
            continue;
        }
        if (wait_ms && wake_at) w_wait_events(w, wait_ms, wake_at);
        else if (wait_ms) w_sleep(w, wait_ms);
    }
done:
    if (held) {
        fl_err e2;
        if (fl_fhirdb_acquire(w->srv->db, &c, &e2) == FL_OK) {
            fl_fhirdb_lease_release(c, lease, fl_str_c(w->srv->owner), &e2);
            fl_fhirdb_release(w->srv->db, c);
        }
    }
    w_close(w);
    return rc;
}

static void *w_main(void *arg)
{
    srv_worker *w = arg;
    uint32_t backoff = 1000;
    while (!atomic_load(&w->stop)) {
        fl_err err;
        fl_err_clear(&err);
        uint64_t t0 = fl_clock_mono_ns();
        fl_rc rc = w_run(w, &err);
        if (atomic_load(&w->stop)) break;
        if (rc == FL_OK) continue;
        if (fl_clock_mono_ns() - t0 > (uint64_t)W_BACKOFF_MAX_MS * 1000000u) backoff = 1000; /* ran a while */
        w_error_add(w, "worker stopped: %s (restart in %u s)", err.msg, backoff / 1000);
        w_set(w, &w->status, "error");
        w_sleep(w, backoff);
        backoff = backoff * 2 > W_BACKOFF_MAX_MS ? W_BACKOFF_MAX_MS : backoff * 2;
    }
    w_set(w, &w->status, "stopped");
    atomic_store(&w->alive, false);
    return NULL;
}

/* ------------------------------------------------------------------ supervision */

static void w_free(srv_worker *w)
{
    fl_free(w->body);
    fl_free(w);
}

/* Join and free stopped workers (work_mu held). */
static void reap(fl_server *srv, bool wait)
{
    srv_worker **pp = &srv->workers;
    while (*pp) {
        srv_worker *w = *pp;
        if (atomic_load(&w->stop) && (wait || !atomic_load(&w->alive))) {
            *pp = w->next;
            pthread_mutex_unlock(&srv->work_mu); /* the worker takes work_mu to update status */
            pthread_join(w->th, NULL);
            pthread_mutex_lock(&srv->work_mu);
            w_free(w);
            pp = &srv->workers; /* the list may have changed while unlocked */
            continue;
        }
        pp = &w->next;
    }
}

void srv_deliver_sync(fl_server *srv)
{
    pthread_mutex_lock(&srv->work_mu);
    if (!srv->delivery_on) { /* before fl_server_start or after stop */
        pthread_mutex_unlock(&srv->work_mu);
        return;
    }
    pthread_rwlock_rdlock(&srv->reg_lock);
    const srv_registry *g = srv->reg;
    for (srv_worker *w = srv->workers; w; w = w->next) {
        bool keep = false;
        for (size_t i = 0; g && i < g->ndests && !keep; i++) keep = g->dests[i].lakehouse && !strcmp(g->dests[i].id, w->id);
        if (!keep) atomic_store(&w->stop, true);
    }
    for (size_t i = 0; g && i < g->ndests; i++) {
        const srv_dest *d = &g->dests[i];
        if (!d->lakehouse) continue;
        bool have = false;
        for (srv_worker *w = srv->workers; w && !have; w = w->next) have = !atomic_load(&w->stop) && !strcmp(w->id, d->id);
        if (have) continue;
        srv_worker *w = fl_calloc(1, sizeof *w);
        if (!w) break;
        w->srv = srv;
        snprintf(w->id, sizeof w->id, "%s", d->id);
        snprintf(w->app_export, sizeof w->app_export, "%s:initial-export", d->id);
        w->body = fl_strndup(d->body, strlen(d->body));
        w->status = "starting";
        w->export_status = "not_started";
        w->start_us = fl_clock_now_us();
        fl_buf_init(&w->del, 0);
        atomic_store(&w->alive, true);
        if (!w->body || pthread_create(&w->th, NULL, w_main, w) != 0) {
            fl_log(&srv->opts.log, FL_LOG_ERROR, "destination %s: cannot start its worker", d->id);
            w_free(w);
            continue;
        }
        w->next = srv->workers;
        srv->workers = w;
    }
    pthread_rwlock_unlock(&srv->reg_lock);
    reap(srv, false);
    pthread_mutex_unlock(&srv->work_mu);
}

void srv_deliver_stop_all(fl_server *srv)
{
    if (!srv->reg_lock_init) return; /* fl_server_new failed before the locks existed */
    pthread_mutex_lock(&srv->work_mu);
    srv->delivery_on = false;
    for (srv_worker *w = srv->workers; w; w = w->next) atomic_store(&w->stop, true);
    pthread_mutex_lock(&srv->wake_mu); /* no wait for the poll interval */
    pthread_cond_broadcast(&srv->wake_cv);
    pthread_mutex_unlock(&srv->wake_mu);
    reap(srv, true);
    while (srv->jobs) {
        srv_worker *j = srv->jobs;
        srv->jobs = j->next;
        atomic_store(&j->stop, true);
        pthread_mutex_unlock(&srv->work_mu);
        if (j->has_thread) pthread_join(j->th, NULL);
        pthread_mutex_lock(&srv->work_mu);
        w_free(j);
    }
    pthread_mutex_unlock(&srv->work_mu);
}

/* ------------------------------------------------------------------ $status, /metrics */

static void p_int(fl_jw *jw, const char *name, int64_t v)
{
    fl_jw_obj_begin(jw);
    fl_jw_key_c(jw, "name");
    fl_jw_str_c(jw, name);
    fl_jw_key_c(jw, "valueInteger");
    fl_jw_i64(jw, v);
    fl_jw_obj_end(jw);
}

static void p_str(fl_jw *jw, const char *name, const char *type, const char *v)
{
    fl_jw_obj_begin(jw);
    fl_jw_key_c(jw, "name");
    fl_jw_str_c(jw, name);
    fl_jw_key_c(jw, type);
    fl_jw_str_c(jw, v);
    fl_jw_obj_end(jw);
}

void srv_deliver_status(srv_req *r, fl_str id, int64_t queued, fl_jw *jw)
{
    fl_server *srv = r->srv;
    char ts[40];
    pthread_mutex_lock(&srv->work_mu);
    srv_worker *w = srv->workers;
    while (w && (atomic_load(&w->stop) || !fl_str_eq_c(id, w->id))) w = w->next;
    p_int(jw, "messagesQueued", queued);
    p_int(jw, "messagesDelivered", w ? (int64_t)w->delivered : 0);
    p_int(jw, "messagesDeliveryAttempts", w ? (int64_t)w->attempts : 0);
    p_int(jw, "messagesInProcess", w ? (int64_t)w->in_process : 0);
    fl_time_format_rfc3339(w ? w->start_us : srv->start_us, ts, sizeof ts);
    p_str(jw, "startTimestamp", "valueDateTime", ts);
    p_str(jw, "status", "valueString", w ? w->status : "queueing (no delivery worker for this kind yet)");
    if (w) {
        p_str(jw, "initialExportStatus", "valueString", w->export_status);
        p_int(jw, "initialExportProgress_rowsSent", (int64_t)w->rows_sent);
        if (w->export_error[0] && strcmp(w->export_status, "completed") != 0)
            p_str(jw, "initialExportError", "valueString", w->export_error);
        for (size_t k = 0; k < w->nerrs; k++) { /* newest first */
            const w_error *e = &w->errs[(w->errs_next + W_MAX_ERRORS - 1 - k) % W_MAX_ERRORS];
            fl_time_format_rfc3339(e->ts_us, ts, sizeof ts);
            fl_jw_obj_begin(jw);
            fl_jw_key_c(jw, "name");
            fl_jw_str_c(jw, "lastErrorDetail");
            fl_jw_key_c(jw, "part");
            fl_jw_arr_begin(jw);
            p_str(jw, "message", "valueString", e->msg);
            p_str(jw, "timestamp", "valueDateTime", ts);
            fl_jw_arr_end(jw);
            fl_jw_obj_end(jw);
        }
    }
    pthread_mutex_unlock(&srv->work_mu);
}

void srv_deliver_metrics(srv_req *r, fl_buf *b)
{
    fl_server *srv = r->srv;
    typedef struct row {
        char id[FL_FHIRDB_MAX_ID + 1];
        uint64_t delivered, attempts, errors, batches;
    } row;
    row rows[64];
    size_t n = 0;
    pthread_mutex_lock(&srv->work_mu);
    for (srv_worker *w = srv->workers; w && n < 64; w = w->next) {
        if (atomic_load(&w->stop)) continue;
        snprintf(rows[n].id, sizeof rows[n].id, "%s", w->id);
        rows[n].delivered = w->delivered;
        rows[n].attempts = w->attempts;
        rows[n].errors = w->errors;
        rows[n].batches = w->batches;
        n++;
    }
    pthread_mutex_unlock(&srv->work_mu);
    if (!n) return;
    fl_err err;
    fl_err_clear(&err);
    bool db = srv_conn(r, &err) == FL_OK;
    fl_buf_append_c(b, "# HELP fhirlake_destination_messages_queued Events queued for a topic destination.\n"
                       "# TYPE fhirlake_destination_messages_queued gauge\n");
    for (size_t i = 0; i < n; i++) {
        int64_t q = -1;
        if (db && fl_fhirdb_outbox_count(r->c, fl_str_c(rows[i].id), &q, &err) != FL_OK) q = -1;
        if (q >= 0) fl_buf_printf(b, "fhirlake_destination_messages_queued{destination=\"%s\"} %lld\n", rows[i].id, (long long)q);
    }
    const char *names[] = {"messages_delivered", "delivery_attempts", "errors", "batches_delivered"};
    const char *help[] = {"Events delivered (this process).", "Failed delivery attempts, in events (this process).",
                          "Errors reported in lastErrorDetail (this process).", "Delta commits of live batches (this process)."};
    for (size_t k = 0; k < 4; k++) {
        fl_buf_printf(b, "# HELP fhirlake_destination_%s_total %s\n# TYPE fhirlake_destination_%s_total counter\n",
                      names[k], help[k], names[k]);
        for (size_t i = 0; i < n; i++) {
            uint64_t v = k == 0 ? rows[i].delivered : k == 1 ? rows[i].attempts : k == 2 ? rows[i].errors : rows[i].batches;
            fl_buf_printf(b, "fhirlake_destination_%s_total{destination=\"%s\"} %llu\n", names[k], rows[i].id,
                          (unsigned long long)v);
        }
    }
}

/* ------------------------------------------------------------------ $viewdefinition-export
 * Async one-shot export of one stored ViewDefinition into a Delta table: kick-off answers
 * 202 + Content-Location of a status URL; the job reads every current resource of the
 * view's type in one snapshot transaction and makes one Delta commit tagged
 * txn{"viewdefinition-export/<job>", 1} (all-or-nothing). Status: 202 while running, 200
 * with status completed|failed|cancelled when done; DELETE cancels. Jobs live in memory
 * (this process; at most SRV_MAX_JOBS, the oldest finished ones are dropped). */

#define SRV_MAX_JOBS 32

static void *job_main(void *arg)
{
    srv_worker *j = arg;
    fl_err err;
    fl_err_clear(&err);
    fl_rc rc = FL_OK;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_json_val *view = NULL;
    uint64_t rows = 0;
    FL_TRY(fl_json_parse(j->body, strlen(j->body), NULL, &a, &view, NULL, &err));
    fl_view_opts vo;
    fl_view_opts_default(&vo);
    vo.flags = FL_VIEW_LENIENT_KEYS;
    FL_TRY(fl_view_compile_json(view, &vo, &j->plan, &err));
    FL_TRY(fl_view_ctx_new(j->plan, &j->ctx, &err));
    FL_TRY(fl_view_batch_new(j->plan, W_EXPORT_BATCH_ROWS, &j->vb, &err));
    fl_store_prop props[4];
    size_t np = cfg_store_props(&j->cfg, props);
    fl_engine_sink_opts so = {.table_url = j->cfg.table, .props = props, .nprops = np,
                              .target_file_size = j->cfg.target_file_size, .add_columns = j->cfg.add_columns,
                              .log = &j->srv->opts.log};
    FL_TRY(fl_engine_sink_open(j->plan, &so, &j->sink, &err));
    rc = w_export_once(j, false, &rows, &err);
done:
    fl_arena_fini(&a);
    w_close(j);
    pthread_mutex_lock(&j->srv->work_mu);
    j->rows_sent = rows;
    j->end_us = fl_clock_now_us();
    if (rc == FL_OK) {
        j->export_status = "completed";
    } else {
        j->export_status = atomic_load(&j->stop) ? "cancelled" : "failed";
        snprintf(j->export_error, sizeof j->export_error, "%s", err.msg);
    }
    pthread_mutex_unlock(&j->srv->work_mu);
    fl_log(&j->srv->opts.log, rc ? FL_LOG_WARN : FL_LOG_INFO, "$viewdefinition-export %s: %s, %llu rows%s%s", j->id,
           j->export_status, (unsigned long long)rows, rc ? ": " : "", rc ? err.msg : "");
    atomic_store(&j->alive, false);
    return NULL;
}

/* The kick-off's Parameters -> job (cfg + view body). Returns a message or NULL. */
static const char *job_parse(srv_req *r, const fl_json_val *body, srv_worker *j, fl_str view_id)
{
    srv_lake_cfg *cfg = &j->cfg;
    memset(cfg, 0, sizeof *cfg);
    if (!fl_str_eq_c(fl_json_str(fl_json_get_c(body, "resourceType")), "Parameters"))
        return "the body must be a Parameters resource";
    const fl_json_val *par = fl_json_get_c(body, "parameter");
    fl_str ref = FL_STR_NULL;
    size_t nviews = 0;
    for (uint32_t i = 0; fl_json_is_arr(par) && i < par->len; i++) {
        const fl_json_val *p = &par->u.items[i];
        fl_str name = fl_json_str(fl_json_get_c(p, "name"));
        fl_str sv = fl_json_str(fl_json_get_c(p, "valueString"));
        if (!sv.len) sv = fl_json_str(fl_json_get_c(p, "valueUri"));
        if (!sv.len) sv = fl_json_str(fl_json_get_c(p, "valueUrl"));
        if (!sv.len) sv = fl_json_str(fl_json_get_c(p, "valueCode"));
        char *dst = NULL;
        size_t cap = 0;
        if (fl_str_eq_c(name, "view") || fl_str_eq_c(name, "viewReference")) {
            nviews++;
            const fl_json_val *vr = fl_json_get_c(p, "valueReference");
            const fl_json_val *parts = fl_json_get_c(p, "part");
            for (uint32_t k = 0; !vr && fl_json_is_arr(parts) && k < parts->len; k++) {
                if (fl_str_eq_c(fl_json_str(fl_json_get_c(&parts->u.items[k], "name")), "viewResource"))
                    return "view.viewResource (an inline view) is not supported: store the ViewDefinition and use "
                           "viewReference";
                if (fl_str_eq_c(fl_json_str(fl_json_get_c(&parts->u.items[k], "name")), "viewReference"))
                    vr = fl_json_get_c(&parts->u.items[k], "valueReference");
            }
            ref = fl_json_str(fl_json_get_c(vr, "reference"));
            if (!ref.len) return "view: expected a viewReference (valueReference.reference 'ViewDefinition/<id>')";
        } else if (fl_str_eq_c(name, "kind")) {
            if (!fl_str_eq_c(sv, "data-lakehouse"))
                return fl_arena_printf(r->a, "kind '%.*s' is not supported (data-lakehouse)", FL_STR_ARG(sv));
        } else if (fl_str_eq_c(name, "tablePath")) {
            dst = cfg->table, cap = sizeof cfg->table;
        } else if (fl_str_eq_c(name, "awsRegion")) {
            dst = cfg->region, cap = sizeof cfg->region;
        } else if (fl_str_eq_c(name, "awsAccessKeyId")) {
            dst = cfg->akid, cap = sizeof cfg->akid;
        } else if (fl_str_eq_c(name, "awsSecretAccessKey")) {
            dst = cfg->secret, cap = sizeof cfg->secret;
        } else if (fl_str_eq_c(name, "s3Endpoint")) {
            dst = cfg->endpoint, cap = sizeof cfg->endpoint;
        } else if (fl_str_eq_c(name, "schemaEvolution")) {
            if (!fl_str_eq_c(sv, "none") && !fl_str_eq_c(sv, "add-columns"))
                return "schemaEvolution must be none or add-columns";
            cfg->add_columns = fl_str_eq_c(sv, "add-columns");
        } else if (fl_str_eq_c(name, "targetFileSizeMb")) {
            int64_t mb = 0;
            if (!fl_parse_i64(fl_json_str(fl_json_get_c(p, "valueInteger")), &mb) || mb < 1 || mb > 4096)
                return "targetFileSizeMb must be an integer 1-4096";
            cfg->target_file_size = (uint64_t)mb << 20;
        } else if (view_id.len && fl_str_eq_c(name, "type")) { /* $materialize */
            if (!fl_str_eq_c(sv, "table"))
                return fl_arena_printf(r->a, "type '%.*s' is not supported: fhirlake materializes into a Delta table "
                                             "(type=table with tablePath)", FL_STR_ARG(sv));
        } else if (fl_str_eq_c(name, "_since") || fl_str_eq_c(name, "source")) {
            return fl_arena_printf(r->a, "parameter %.*s is not supported yet", FL_STR_ARG(name));
        } else if (fl_str_eq_c(name, "patient") || fl_str_eq_c(name, "group") || fl_str_eq_c(name, "chunkCount") ||
                   fl_str_eq_c(name, "_format") || fl_str_eq_c(name, "writeMode")) {
            continue; /* accepted, not applied (as in Aidbox) */
        } else {
            return fl_arena_printf(r->a, "unknown parameter '%.*s'", FL_STR_ARG(name));
        }
        if (dst) {
            if (!sv.len || sv.len >= cap) return fl_arena_printf(r->a, "parameter %.*s: expected a string", FL_STR_ARG(name));
            memcpy(dst, sv.ptr, sv.len);
            dst[sv.len] = 0;
        }
    }
    if (view_id.len) {
        if (nviews) return "the view is given by the URL; no view parameter";
        ref = fl_arena_str_dup(r->a, fl_str_c(fl_arena_printf(r->a, "ViewDefinition/%.*s", FL_STR_ARG(view_id))));
        nviews = 1;
    }
    if (nviews != 1) return "exactly one view (viewReference) is required";
    if (!cfg->table[0]) return "parameter tablePath is required";
    if ((cfg->akid[0] != 0) != (cfg->secret[0] != 0)) return "awsAccessKeyId and awsSecretAccessKey go together";
    if (!fl_str_starts_with(ref, FL_STR("ViewDefinition/")))
        return fl_arena_printf(r->a, "viewReference '%.*s' must be ViewDefinition/<id>", FL_STR_ARG(ref));
    fl_str vid = fl_str_make(ref.ptr + 15, ref.len - 15);
    fl_err err;
    fl_err_clear(&err);
    fl_fhirdb_rec rec;
    if (srv_conn(r, &err) != FL_OK) return fl_arena_printf(r->a, "store unavailable: %s", err.msg);
    fl_rc rc = fl_fhirdb_read(r->c, FL_STR("ViewDefinition"), vid, r->a, &rec, &err);
    if (rc == FL_E_NOT_FOUND || (rc == FL_OK && rec.deleted))
        return fl_arena_printf(r->a, "no ViewDefinition/%.*s", FL_STR_ARG(vid));
    if (rc) return fl_arena_printf(r->a, "reading ViewDefinition/%.*s: %s", FL_STR_ARG(vid), err.msg);
    j->body = fl_strndup(rec.body.ptr, rec.body.len);
    if (!j->body) return "out of memory";
    /* compile now so a bad view is a 400 at kick-off, not a failed job */
    fl_view_opts vo;
    fl_view_opts_default(&vo);
    vo.flags = FL_VIEW_LENIENT_KEYS;
    fl_view_plan *plan = NULL;
    rc = fl_view_compile(rec.body.ptr, rec.body.len, &vo, &plan, &err);
    if (rc == FL_OK) snprintf(cfg->view, sizeof cfg->view, "%s", fl_view_plan_name(plan));
    fl_view_plan_free(plan);
    if (rc) return fl_arena_printf(r->a, "ViewDefinition/%.*s: %s", FL_STR_ARG(vid), err.msg);
    return NULL;
}

/* A new export job of operation op ("viewdefinition-export", "materialize") for request r, its
 * parameters parsed from body (NULL: out of memory) with view_id as in job_parse, given a fresh id
 * and marked in progress. NULL after answering r with the error. The caller owns the job (w_free). */
static srv_worker *job_new(srv_req *r, const fl_json_val *body, fl_str view_id, const char *op)
{
    srv_worker *j = fl_calloc(1, sizeof *j);
    if (!j) {
        srv_outcome(r, 500, "out of memory");
        return NULL;
    }
    j->srv = r->srv;
    const char *msg = body ? job_parse(r, body, j, view_id) : "out of memory";
    if (msg) {
        srv_outcome(r, 400, "$%s: %s", op, msg);
        w_free(j);
        return NULL;
    }
    char uuid[37];
    fl_uuid4(uuid);
    snprintf(j->id, sizeof j->id, "%s", uuid);
    snprintf(j->app_export, sizeof j->app_export, "%s/%s", op, uuid);
    j->export_status = "export-in-progress";
    j->start_us = fl_clock_now_us();
    fl_buf_init(&j->del, 0);
    atomic_store(&j->alive, true);
    return j;
}

static void job_kickoff(srv_req *r)
{
    fl_server *srv = r->srv;
    const fl_json_val *body = srv_parse_body(r, r->req->body, "$viewdefinition-export");
    if (!body) return;
    srv_worker *j = job_new(r, body, FL_STR_NULL, "viewdefinition-export");
    if (!j) return;
    j->status = "active";
    pthread_mutex_lock(&srv->work_mu);
    /* bound the list: drop the oldest finished jobs */
    size_t n = 0;
    for (srv_worker *x = srv->jobs; x; x = x->next) n++;
    while (n >= SRV_MAX_JOBS) {
        srv_worker **pp = &srv->jobs, **victim = NULL;
        for (; *pp; pp = &(*pp)->next)
            if (!atomic_load(&(*pp)->alive)) victim = pp;
        if (!victim) break;
        srv_worker *v = *victim;
        *victim = v->next;
        if (v->has_thread) pthread_join(v->th, NULL); /* finished: returns at once */
        w_free(v);
        n--;
    }
    bool ok = n < SRV_MAX_JOBS && pthread_create(&j->th, NULL, job_main, j) == 0;
    if (ok) {
        j->has_thread = true;
        j->next = srv->jobs;
        srv->jobs = j;
    }
    pthread_mutex_unlock(&srv->work_mu);
    if (!ok) {
        srv_outcome(r, 429, "$viewdefinition-export: too many running exports (at most %d)", SRV_MAX_JOBS);
        w_free(j);
        return;
    }
    fl_buf url;
    fl_buf_init(&url, 4096);
    fl_buf_printf(&url, "%.*s/ViewDefinition/$viewdefinition-export/status/%s", FL_STR_ARG(r->base_url), j->id);
    srv_add_header(r, "Content-Location", fl_arena_str_dup(r->a, fl_buf_str(&url)));
    fl_buf_reset(&url);
    srv_outcome(r, 202, "export %s accepted; poll the Content-Location URL", j->id);
}

static void job_status(srv_req *r, fl_str id, bool cancel)
{
    fl_server *srv = r->srv;
    pthread_mutex_lock(&srv->work_mu);
    srv_worker *j = srv->jobs;
    while (j && !fl_str_eq_c(id, j->id)) j = j->next;
    if (!j) {
        pthread_mutex_unlock(&srv->work_mu);
        srv_outcome(r, 404, "no $viewdefinition-export job '%.*s' (jobs are kept in memory by the server that ran them)",
                    FL_STR_ARG(id));
        return;
    }
    if (cancel) {
        atomic_store(&j->stop, true);
        pthread_mutex_unlock(&srv->work_mu);
        srv_outcome(r, 202, "cancelling export %.*s", FL_STR_ARG(id));
        return;
    }
    bool running = atomic_load(&j->alive);
    char ts[40];
    fl_buf *b = &r->resp->body;
    fl_buf_clear(b);
    if (running) {
        char prog[64];
        snprintf(prog, sizeof prog, "in progress since %lld s", (long long)((fl_clock_now_us() - j->start_us) / 1000000));
        srv_add_header_c(r, "X-Progress", fl_arena_printf(r->a, "%s", prog));
        pthread_mutex_unlock(&srv->work_mu);
        r->resp->status = 202;
        return;
    }
    fl_jw jw;
    srv_json_resource(r, &jw, "Parameters");
    fl_jw_key_c(&jw, "parameter");
    fl_jw_arr_begin(&jw);
    p_str(&jw, "status", "valueCode", j->export_status);
    fl_time_format_rfc3339(j->start_us, ts, sizeof ts);
    p_str(&jw, "exportStartTime", "valueInstant", ts);
    fl_time_format_rfc3339(j->end_us, ts, sizeof ts);
    p_str(&jw, "exportEndTime", "valueInstant", ts);
    p_int(&jw, "rowsExported", (int64_t)j->rows_sent);
    if (j->export_error[0]) p_str(&jw, "error", "valueString", j->export_error);
    fl_jw_obj_begin(&jw);
    fl_jw_key_c(&jw, "name");
    fl_jw_str_c(&jw, "output");
    fl_jw_key_c(&jw, "part");
    fl_jw_arr_begin(&jw);
    p_str(&jw, "name", "valueString", j->cfg.view);
    p_str(&jw, "location", "valueUri", j->cfg.table);
    fl_jw_arr_end(&jw);
    fl_jw_obj_end(&jw);
    fl_jw_arr_end(&jw);
    fl_jw_obj_end(&jw);
    pthread_mutex_unlock(&srv->work_mu);
    r->resp->status = 200;
}

/* POST ViewDefinition/<id>/$materialize {type=table, tablePath, ...}: the same export,
 * synchronous; 200 with the job's result Parameters. */
static bool exports_enabled(srv_req *r);

void srv_materialize(srv_req *r, fl_str id)
{
    fl_server *srv = r->srv;
    if (!exports_enabled(r)) return;
    fl_json_val *body = NULL;
    if (r->req->body.len) {
        body = (fl_json_val *)srv_parse_body(r, r->req->body, "$materialize");
        if (!body) return;
    }
    static const char empty_params[] = "{\"resourceType\":\"Parameters\"}";
    fl_json_val *dflt = NULL;
    if (!body && fl_json_parse(empty_params, sizeof empty_params - 1, NULL, r->a, &dflt, NULL, NULL) == FL_OK)
        body = dflt;
    srv_worker *j = job_new(r, body, id, "materialize");
    if (!j) return;
    if (r->c) { /* the job takes its own connection; do not hold two on a small pool */
        fl_fhirdb_release(srv->db, r->c);
        r->c = NULL;
    }
    job_main(j); /* synchronous, on this request thread */
    pthread_mutex_lock(&srv->work_mu);
    j->next = srv->jobs; /* listed so GET .../$viewdefinition-export/status/<id> shows it too */
    srv->jobs = j;
    pthread_mutex_unlock(&srv->work_mu);
    job_status(r, fl_str_c(j->id), false);
    if (strcmp(j->export_status, "completed") != 0) r->resp->status = 500;
}

/* Exports write to storage: only in a started server (not from fl_server_handle in unit
 * tests or the HTTP fuzzer, where a request could name any path). */
static bool exports_enabled(srv_req *r)
{
    pthread_mutex_lock(&r->srv->work_mu);
    bool on = r->srv->delivery_on;
    pthread_mutex_unlock(&r->srv->work_mu);
    if (!on) srv_outcome(r, 503, "exports run only in a started server");
    return on;
}

void srv_vdexport(srv_req *r, fl_str method, int nseg, fl_str hist, fl_str job)
{
    if (nseg == 2) {
        if (!fl_str_eq_c(method, "POST")) {
            srv_outcome(r, 405, "$viewdefinition-export: use POST (with Prefer: respond-async)");
            return;
        }
        if (exports_enabled(r)) job_kickoff(r);
        return;
    }
    if (nseg == 4 && fl_str_eq_c(hist, "status")) {
        if (fl_str_eq_c(method, "GET"))
            job_status(r, job, false);
        else if (fl_str_eq_c(method, "DELETE"))
            job_status(r, job, true);
        else
            srv_outcome(r, 405, "$viewdefinition-export status: use GET or DELETE");
        return;
    }
    srv_outcome(r, 404, "no such endpoint under ViewDefinition/$viewdefinition-export");
}
