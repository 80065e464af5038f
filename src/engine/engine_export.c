/* engine_export.c - fl_engine_export: the export orchestration (module engine).
 * Order: compile every view (a bad view fails before any input is opened), resolve the
 * inputs, derive the export id, open one sink per view (Delta txn with txn{appId,1}),
 * then run the pipeline: reader threads -> work queue -> worker threads -> per-table
 * queues -> table writer threads. A merge runs a scan pass first to find the winning
 * version of every resource. When every stage has finished without a fatal error the
 * tables are committed one by one (one commit each); on failure or --fail-fast nothing
 * is committed. The first fatal error stops all threads (queues aborted). */
#include "engine/engine_int.h"

#include <stdio.h>

double eng_elapsed(const eng_state *es) { return (double)(fl_clock_mono_ns() - es->t0_ns) / 1e9; }

static void abort_queue(eng_queue *q)
{
    if (q->items) eng_queue_abort(q);
}

void eng_fail(eng_state *es, fl_rc rc, const fl_err *err)
{
    pthread_mutex_lock(&es->mu);
    if (es->rc == FL_OK) {
        es->rc = rc;
        if (err) es->err = *err;
        es->err.code = rc;
    }
    pthread_mutex_unlock(&es->mu);
    atomic_store(&es->stop, true);
    abort_queue(&es->work_q);
    abort_queue(&es->chunk_free);
    for (size_t t = 0; t < es->n_tables; t++) {
        abort_queue(&es->tables[t].full);
        abort_queue(&es->tables[t].free_q);
    }
}

void eng_bad_line(eng_state *es, uint32_t file, uint64_t line_no, fl_rc code, const char *reason, fl_str text)
{
    const fl_engine_export_opts *o = es->o;
    const char *path = es->files[file].path;
    pthread_mutex_lock(&es->cb_mu);
    atomic_fetch_add(&es->failed, 1);
    if (o->on_bad) {
        fl_engine_bad_line b = {.file = path, .line_no = line_no, .code = code, .reason = reason, .text = text};
        o->on_bad(o->bad_ctx, &b);
    }
    pthread_mutex_unlock(&es->cb_mu);
    if (o->fail_fast) {
        fl_err err;
        fl_err_set(&err, FL_E_CANCELLED, "%s:%llu: %s (--fail-fast: nothing committed)", path,
                   (unsigned long long)line_no, reason);
        eng_fail(es, FL_E_CANCELLED, &err);
    }
}

/* ------------------------------------------------------------------ views */

static int key_column(const fl_view_plan *plan)
{
    for (size_t i = 0; i < fl_view_plan_ncols(plan); i++) {
        const fl_view_col *c = fl_view_plan_col(plan, i);
        if (c->collection || c->type != FL_VIEW_STRING) continue;
        if (!strcmp(c->path, "getResourceKey()") || !strcmp(c->path, "id")) return (int)i;
    }
    return -1;
}

static int last_updated_column(const fl_view_plan *plan)
{
    for (size_t i = 0; i < fl_view_plan_ncols(plan); i++) {
        const fl_view_col *c = fl_view_plan_col(plan, i);
        if (!c->collection && c->type == FL_VIEW_TIMESTAMP && !strcmp(c->path, "meta.lastUpdated")) return (int)i;
    }
    return -1;
}

static void base_name(const char *path, char *out, size_t cap)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 5 && !strcmp(b + n - 5, ".json")) n -= 5;
    snprintf(out, cap, "%.*s", (int)n, b);
}

static fl_rc compile_views(eng_state *es, fl_err *err)
{
    const fl_engine_export_opts *o = es->o;
    fl_buf text;
    fl_buf_init(&text, 0);
    fl_rc rc = FL_OK;
    fl_view_opts vo;
    fl_view_opts_default(&vo);
    vo.flags = o->view_flags;
    for (size_t i = 0; i < o->n_views; i++) {
        eng_table *t = &es->tables[i];
        t->es = es;
        t->index = i;
        t->key_col = -1;
        t->lu_col = -1;
        fl_buf_clear(&text);
        rc = fl_file_read(o->views[i], FL_VIEW_MAX_VIEW_BYTES, &text, err);
        if (rc == FL_OK) rc = fl_view_compile(text.ptr ? text.ptr : "", text.len, &vo, &t->plan, err);
        if (rc) {
            if (err && err->line) fl_err_prefix(err, "%s:%u:%u: ", o->views[i], (unsigned)err->line, (unsigned)err->col);
            else fl_err_prefix(err, "%s: ", o->views[i]);
            goto done;
        }
        es->n_tables = i + 1;
        const char *nm = fl_view_plan_name(t->plan);
        if (nm && *nm) snprintf(t->name, sizeof t->name, "%s", nm);
        else base_name(o->views[i], t->name, sizeof t->name);
        t->resource = fl_view_plan_resource(t->plan);
        t->key_col = key_column(t->plan);
        t->lu_col = i < 64 ? last_updated_column(t->plan) : -1;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(es->tables[j].name, t->name))
                FL_FAIL(FL_E_ARG, "%s: view name '%s' is also the name of %s (one table per view name)", o->views[i],
                        t->name, o->views[j]);
        if (o->mode == FL_ENGINE_MERGE && t->key_col < 0)
            FL_FAIL(FL_E_VIEW_INVALID, "%s: view %s: merge needs a string column with path 'id' or 'getResourceKey()'",
                    o->views[i], t->name);
    }
done:
    fl_buf_reset(&text);
    return rc;
}

/* ------------------------------------------------------------------ pipeline */

static void progress(eng_state *es, const char **names, uint64_t *rows)
{
    const fl_engine_export_opts *o = es->o;
    if (!o->on_progress) return;
    for (size_t t = 0; t < es->n_tables; t++) rows[t] = atomic_load(&es->tables[t].rows_produced);
    fl_engine_progress p = {
        .files_done = atomic_load(&es->files_done),
        .files_total = es->n_files,
        .bytes_read = atomic_load(&es->bytes_read),
        .bytes_total = es->bytes_total,
        .resources = atomic_load(&es->resources),
        .failed = atomic_load(&es->failed),
        .seconds = eng_elapsed(es),
        .n_tables = es->n_tables,
        .table_names = names,
        .table_rows = rows,
    };
    pthread_mutex_lock(&es->cb_mu);
    o->on_progress(o->progress_ctx, &p);
    pthread_mutex_unlock(&es->cb_mu);
}

static fl_rc start_tables(eng_state *es, fl_err *err)
{
    for (size_t i = 0; i < es->n_tables; i++) {
        eng_table *t = &es->tables[i];
        if (t->skipped) continue;
        t->n_batches = es->n_workers + 2;
        fl_rc rc = eng_queue_init(&t->full, t->n_batches, err);
        if (!rc) rc = eng_queue_init(&t->free_q, t->n_batches, err);
        if (rc) return rc;
        t->batches = fl_calloc(t->n_batches, sizeof *t->batches);
        if (!t->batches) return fl_err_set(err, FL_E_NOMEM, "out of memory");
        for (size_t b = 0; b < t->n_batches; b++) {
            fl_vec_init(&t->batches[b].deleted, sizeof(int32_t));
            if ((rc = fl_view_batch_new(t->plan, es->batch_rows, &t->batches[b].vb, err)) != FL_OK) return rc;
            eng_queue_push(&t->free_q, &t->batches[b]);
        }
        if (pthread_create(&t->thread, NULL, eng_table_main, t) != 0)
            return fl_err_set(err, FL_E_ENGINE, "cannot start a writer thread");
        t->thread_started = true;
    }
    return FL_OK;
}

static void free_tables_pipeline(eng_state *es)
{
    for (size_t i = 0; i < es->n_tables; i++) {
        eng_table *t = &es->tables[i];
        for (size_t b = 0; t->batches && b < t->n_batches; b++) {
            fl_view_batch_free(t->batches[b].vb);
            fl_vec_reset(&t->batches[b].deleted);
        }
        fl_free(t->batches);
        t->batches = NULL;
        eng_queue_fini(&t->full);
        eng_queue_fini(&t->free_q);
    }
}

static fl_rc run_pass(eng_state *es, int pass, fl_err *err)
{
    fl_rc rc = FL_OK;
    es->pass = pass;
    atomic_store(&es->next_file, 0);
    atomic_store(&es->files_done, 0);
    atomic_store(&es->bytes_read, 0);
    atomic_store(&es->readers_left, (int)es->n_readers);
    atomic_store(&es->workers_left, (int)es->n_workers);
    es->n_chunks = 2 * (size_t)es->n_workers + es->n_readers;
    pthread_t *th = fl_calloc(es->n_readers + es->n_workers, sizeof *th);
    size_t started = 0;
    const char **names = fl_calloc(es->n_tables + 1, sizeof *names);
    uint64_t *rows = fl_calloc(es->n_tables + 1, sizeof *rows);
    es->chunks = fl_calloc(es->n_chunks, sizeof *es->chunks);
    if (!th || !names || !rows || !es->chunks) FL_FAIL(FL_E_NOMEM, "out of memory");
    for (size_t t = 0; t < es->n_tables; t++) names[t] = es->tables[t].name;
    FL_TRY(eng_queue_init(&es->work_q, 2 * (size_t)es->n_workers, err));
    FL_TRY(eng_queue_init(&es->chunk_free, es->n_chunks, err));
    for (size_t i = 0; i < es->n_chunks; i++) {
        fl_buf_init(&es->chunks[i].text, ENG_CHUNK_BYTES + ENG_MAX_LINE + 16);
        fl_vec_init(&es->chunks[i].lines, sizeof(eng_line));
        eng_queue_push(&es->chunk_free, &es->chunks[i]);
    }
    if (pass != 1) FL_TRY(start_tables(es, err));
    for (unsigned i = 0; i < es->n_workers; i++, started++)
        if (pthread_create(&th[started], NULL, eng_worker_main, es) != 0) {
            atomic_fetch_sub(&es->workers_left, (int)(es->n_workers - i));
            FL_FAIL(FL_E_ENGINE, "cannot start a worker thread");
        }
    for (unsigned i = 0; i < es->n_readers; i++, started++)
        if (pthread_create(&th[started], NULL, eng_reader_main, es) != 0) {
            atomic_fetch_sub(&es->readers_left, (int)(es->n_readers - i));
            FL_FAIL(FL_E_ENGINE, "cannot start a reader thread");
        }
    uint32_t every = es->o->progress_ms ? es->o->progress_ms : 250;
    uint64_t last = fl_clock_mono_ns();
    while (atomic_load(&es->workers_left) > 0) {
        fl_sleep_ms(every < 20 ? every : 20);
        if (pass != 1 && fl_clock_mono_ns() - last >= (uint64_t)every * 1000000u) {
            progress(es, names, rows);
            last = fl_clock_mono_ns();
        }
    }
done:
    if (rc) {
        fl_err copy = err ? *err : (fl_err){0};
        eng_fail(es, rc, &copy);
    }
    for (size_t i = 0; i < started; i++) pthread_join(th[i], NULL);
    for (size_t i = 0; i < es->n_tables; i++)
        if (es->tables[i].thread_started) {
            pthread_join(es->tables[i].thread, NULL);
            es->tables[i].thread_started = false;
        }
    if (pass != 1 && rc == FL_OK && !atomic_load(&es->stop)) progress(es, names, rows);
    for (size_t i = 0; es->chunks && i < es->n_chunks; i++) {
        fl_buf_reset(&es->chunks[i].text);
        fl_vec_reset(&es->chunks[i].lines);
    }
    fl_free(es->chunks);
    es->chunks = NULL;
    eng_queue_fini(&es->work_q);
    eng_queue_fini(&es->chunk_free);
    free_tables_pipeline(es);
    fl_free(th);
    fl_free(names);
    fl_free(rows);
    if (rc == FL_OK && es->rc != FL_OK) {
        rc = es->rc;
        if (err) *err = es->err;
    }
    return rc;
}

/* ------------------------------------------------------------------ entry point */

enum { TABLE_OPEN, TABLE_COMMIT };

typedef struct table_job {
    eng_table *t;
    int what;
    fl_str app_id;
    fl_rc rc;
    fl_err err;
} table_job;

static void *table_job_main(void *arg)
{
    table_job *j = arg;
    j->rc = j->what == TABLE_OPEN ? eng_table_open(j->t, j->app_id, &j->err) : eng_table_commit(j->t, &j->err);
    return NULL;
}

/* Open or commit every table, each on its own thread: the time goes to fsync and the
 * object store, not to CPU, so tables wait for storage side by side. The first failure
 * (in table order) is returned; with several tables, committed ones stay committed. */
static fl_rc each_table(eng_state *es, int what, fl_str app_id, fl_err *err)
{
    size_t n = es->n_tables;
    table_job *jobs = fl_calloc(n, sizeof *jobs);
    pthread_t *th = fl_calloc(n, sizeof *th);
    bool *started = fl_calloc(n, sizeof *started);
    fl_rc rc = FL_OK;
    if (!jobs || !th || !started) {
        rc = fl_err_set(err, FL_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        jobs[i] = (table_job){.t = &es->tables[i], .what = what, .app_id = app_id};
        started[i] = pthread_create(&th[i], NULL, table_job_main, &jobs[i]) == 0;
        if (!started[i]) table_job_main(&jobs[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (started[i]) pthread_join(th[i], NULL);
        if (jobs[i].rc && rc == FL_OK) {
            rc = jobs[i].rc;
            if (err) *err = jobs[i].err;
        }
    }
done:
    fl_free(jobs);
    fl_free(th);
    fl_free(started);
    return rc;
}

static void fill_result(eng_state *es, fl_engine_export_result *res)
{
    res->files = es->n_files;
    res->bytes_read = atomic_load(&es->bytes_read);
    res->lines = atomic_load(&es->lines);
    res->resources = atomic_load(&es->resources);
    res->filtered = atomic_load(&es->filtered);
    res->deleted = atomic_load(&es->deleted);
    res->failed = atomic_load(&es->failed);
    res->seconds = eng_elapsed(es);
    if (!res->tables && es->n_tables) res->tables = fl_calloc(es->n_tables, sizeof *res->tables);
    if (!res->tables) return;
    res->n_tables = es->n_tables;
    for (size_t i = 0; i < es->n_tables; i++) {
        const eng_table *t = &es->tables[i];
        fl_engine_table_result *r = &res->tables[i];
        snprintf(r->name, sizeof r->name, "%s", t->name);
        snprintf(r->location, sizeof r->location, "%s", t->location ? t->location : "");
        r->rows = t->skipped ? 0 : t->rows_written;
        r->rows_removed = t->rows_removed;
        r->files = t->files;
        r->bytes = t->bytes;
        r->version = t->version;
        r->skipped = t->skipped;
        r->seconds = t->seconds;
        r->failed = atomic_load(&t->failed);
    }
}

fl_rc fl_engine_export(const fl_engine_export_opts *o, fl_engine_export_result *res, fl_err *err)
{
    memset(res, 0, sizeof *res);
    if (!o->n_views || !o->views) return fl_err_set(err, FL_E_ARG, "no view given");
    if (o->n_views > FL_ENGINE_MAX_VIEWS) return fl_err_set(err, FL_E_LIMIT, "more than %u views", FL_ENGINE_MAX_VIEWS);
    if (!o->target || !*o->target) return fl_err_set(err, FL_E_ARG, "no target given");
    if (!o->n_inputs || !o->inputs) return fl_err_set(err, FL_E_ARG, "no input given");
    fl_rc rc = FL_OK;
    eng_state *es = fl_calloc(1, sizeof *es);
    if (!es) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    es->o = o;
    es->t0_ns = fl_clock_mono_ns();
    pthread_mutex_init(&es->mu, NULL);
    pthread_mutex_init(&es->cb_mu, NULL);
    pthread_mutex_init(&es->win_mu, NULL);
    fl_map_init(&es->winners);
    fl_arena_init(&es->win_a, 0, 0);
    es->tables = fl_calloc(o->n_views, sizeof *es->tables);
    if (!es->tables) FL_FAIL(FL_E_NOMEM, "out of memory");

    FL_TRY(compile_views(es, err));
    FL_TRY(eng_inputs_resolve(es, err));
    if (o->mode == FL_ENGINE_MERGE)
        for (size_t i = 0; i < es->n_files; i++)
            if (!strcmp(es->files[i].path, "-")) FL_FAIL(FL_E_ARG, "merge reads the input twice: stdin is not possible");
    if (o->export_id && *o->export_id) {
        for (const char *p = o->export_id; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                  *p == '_' || *p == '.') ||
                p - o->export_id >= 64)
                FL_FAIL(FL_E_ARG, "export id '%s': use up to 64 letters, digits, '-', '_' or '.'", o->export_id);
        snprintf(res->export_id, sizeof res->export_id, "%s", o->export_id);
    } else {
        FL_TRY(eng_export_id(es, res->export_id, err));
    }
    snprintf(res->app_id, sizeof res->app_id, "fhirlake-export-%s", res->export_id);

    fl_pq_write_opts_default(&es->pqo);
    es->pqo.codec = o->codec_set ? o->codec : (o->codec ? o->codec : FL_PQ_SNAPPY);
    uint64_t target = o->target_file_size ? o->target_file_size : ENG_DEFAULT_FILE_SIZE;
    es->pqo.row_group_size = target < ENG_ROW_GROUP_CAP ? (size_t)target : ENG_ROW_GROUP_CAP;
    es->batch_rows = o->batch_rows ? o->batch_rows : ENG_DEFAULT_BATCH_ROWS;
    es->n_workers = o->threads ? o->threads : fl_cpu_count();
    if (es->n_workers > 256) es->n_workers = 256;
    unsigned max_readers = es->n_workers / 2 ? es->n_workers / 2 : 1;
    es->n_readers = es->n_files < max_readers ? (unsigned)es->n_files : max_readers;

    bool any = false;
    FL_TRY(each_table(es, TABLE_OPEN, fl_str_c(res->app_id), err));
    for (size_t i = 0; i < es->n_tables; i++) any |= !es->tables[i].skipped;
    if (any) {
        if (o->mode == FL_ENGINE_MERGE) {
            FL_TRY(run_pass(es, 1, err));
            for (size_t i = 0; i < es->n_tables; i++)
                if (!es->tables[i].skipped && es->tables[i].lu_col >= 0) FL_TRY(eng_merge_mark_stale(&es->tables[i], err));
        }
        FL_TRY(run_pass(es, 0, err));
        FL_TRY(each_table(es, TABLE_COMMIT, FL_STR_NULL, err));
    } else {
        fl_log(o->log, FL_LOG_INFO, "export %s: every table already has it; nothing to do", res->export_id);
    }
done:
    fill_result(es, res);
    for (size_t i = 0; i < es->n_tables; i++) {
        eng_table_close(&es->tables[i]);
        fl_view_plan_free(es->tables[i].plan);
    }
    fl_free(es->tables);
    eng_inputs_free(es);
    fl_map_reset(&es->winners);
    fl_arena_fini(&es->win_a);
    pthread_mutex_destroy(&es->mu);
    pthread_mutex_destroy(&es->cb_mu);
    pthread_mutex_destroy(&es->win_mu);
    fl_free(es);
    return rc;
}

void fl_engine_export_result_free(fl_engine_export_result *res)
{
    if (!res) return;
    fl_free(res->tables);
    res->tables = NULL;
    res->n_tables = 0;
}
