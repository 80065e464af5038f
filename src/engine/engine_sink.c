/* engine_sink.c - table sinks of an export (module engine): one writer thread per view
 * turns full row batches into Parquet (column-at-a-time) inside the table's single Delta
 * transaction, rolling data files at the target size; or streams a plain Parquet / CSV /
 * NDJSON file through an object-store writer (visible only when committed).
 * Opening a Delta table creates it (schema = view columns + is_deleted INT) when absent,
 * begins the transaction, records txn{appId, 1} (an earlier commit with the same export
 * id marks the table skipped), and prepares overwrite/merge. The commit itself is done by
 * the export's main thread after every stage has finished, so nothing is visible before
 * all input was read. */
#include "engine/engine_int.h"

#include <stdio.h>

fl_delta_kind eng_delta_kind(fl_view_type t)
{
    switch (t) {
    case FL_VIEW_BOOL: return FL_DELTA_T_BOOLEAN;
    case FL_VIEW_INT: return FL_DELTA_T_INTEGER;
    case FL_VIEW_LONG: return FL_DELTA_T_LONG;
    case FL_VIEW_DOUBLE: return FL_DELTA_T_DOUBLE;
    case FL_VIEW_DATE: return FL_DELTA_T_DATE;
    case FL_VIEW_TIMESTAMP: return FL_DELTA_T_TIMESTAMP;
    case FL_VIEW_DECIMAL: return FL_DELTA_T_DECIMAL;
    default: return FL_DELTA_T_STRING;
    }
}

const fl_delta_type *eng_delta_col_type(fl_delta_schema *s, const fl_view_col *c)
{
    const fl_delta_type *t = c->type == FL_VIEW_DECIMAL ? fl_delta_schema_decimal(s, c->precision, c->scale)
                                                        : fl_delta_schema_prim(s, eng_delta_kind(c->type));
    return c->collection ? fl_delta_schema_array(s, t, false) : t;
}

fl_rc eng_delta_schema_for(const fl_view_plan *plan, fl_delta_schema **out, fl_err *err)
{
    *out = NULL;
    fl_delta_schema *s = NULL;
    fl_rc rc = fl_delta_schema_new(&s, err);
    if (rc) return rc;
    for (size_t i = 0; i < fl_view_plan_ncols(plan); i++) {
        const fl_view_col *c = fl_view_plan_col(plan, i);
        fl_delta_schema_add(s, NULL, c->name, eng_delta_col_type(s, c), true);
    }
    fl_delta_schema_add(s, NULL, "is_deleted", fl_delta_schema_prim(s, FL_DELTA_T_INTEGER), true);
    if ((rc = fl_delta_schema_check(s, err)) != FL_OK) {
        fl_delta_schema_free(s);
        return rc;
    }
    *out = s;
    return FL_OK;
}

static fl_pq_type pq_type_of(const fl_view_col *c)
{
    switch (c->type) {
    case FL_VIEW_BOOL: return fl_pq_t_bool();
    case FL_VIEW_INT: return fl_pq_t_i32();
    case FL_VIEW_LONG: return fl_pq_t_i64();
    case FL_VIEW_DOUBLE: return fl_pq_t_double();
    case FL_VIEW_DATE: return fl_pq_t_date();
    case FL_VIEW_TIMESTAMP: return fl_pq_t_timestamp_us(true);
    case FL_VIEW_DECIMAL: return fl_pq_t_decimal(c->precision, c->scale);
    default: return fl_pq_t_string();
    }
}

fl_rc eng_pq_schema_for(const fl_view_plan *plan, fl_pq_schema **out, fl_err *err)
{
    fl_pq_schema *ps = NULL;
    fl_rc rc = fl_pq_schema_new(&ps, err);
    if (rc) return rc;
    for (size_t i = 0; i < fl_view_plan_ncols(plan); i++) {
        const fl_view_col *c = fl_view_plan_col(plan, i);
        fl_pq_type t = pq_type_of(c);
        if (c->collection) fl_pq_schema_add_list(ps, 0, c->name, FL_PQ_OPTIONAL, FL_PQ_REQUIRED, &t);
        else fl_pq_schema_add(ps, 0, c->name, FL_PQ_OPTIONAL, t);
    }
    fl_pq_schema_add(ps, 0, "is_deleted", FL_PQ_OPTIONAL, fl_pq_t_i32());
    if ((rc = fl_pq_schema_check(ps, err)) != FL_OK) {
        fl_pq_schema_free(ps);
        return rc;
    }
    *out = ps;
    return FL_OK;
}

static fl_rc pq_sink(void *ctx, const void *data, size_t len, fl_err *err)
{
    return fl_store_writer_write(ctx, data, len, err);
}

/* ------------------------------------------------------------------ opening */

static char *join_url(const char *base, const char *name)
{
    size_t n = strlen(base);
    while (n > 1 && base[n - 1] == '/') n--;
    fl_buf b;
    fl_buf_init(&b, 8192);
    fl_buf_append(&b, base, n);
    fl_buf_putc(&b, '/');
    fl_buf_append_c(&b, name);
    if (b.rc) {
        fl_buf_reset(&b);
        return NULL;
    }
    return fl_buf_detach(&b, NULL);
}

static bool same_schema(const fl_delta_type *a, const fl_delta_type *b)
{
    fl_buf x, y;
    fl_buf_init(&x, 0);
    fl_buf_init(&y, 0);
    fl_delta_type_to_json(a, &x);
    fl_delta_type_to_json(b, &y);
    bool same = !x.rc && !y.rc && fl_str_eq(fl_buf_str(&x), fl_buf_str(&y));
    fl_buf_reset(&x);
    fl_buf_reset(&y);
    return same;
}

fl_rc eng_delta_open(const char *url, const fl_store_opts *so, const fl_view_plan *plan, fl_delta_schema *schema,
                     const char *name, fl_store **st, fl_delta_table **tbl, fl_delta_snapshot **snap, fl_err *err)
{
    fl_rc rc = FL_OK;
    fl_delta_schema *own = NULL;
    *snap = NULL;
    fl_delta_opts dopts;
    fl_delta_opts_default(&dopts);
    dopts.log = so->log;
    FL_TRY(fl_store_open(url, so, st, err));
    FL_TRY(fl_delta_table_open(*st, &dopts, tbl, err));
    rc = fl_delta_snapshot_load(*tbl, -1, snap, err);
    if (rc == FL_E_DELTA_NOT_TABLE) {
        if (!schema) FL_TRY(eng_delta_schema_for(plan, &own, err));
        fl_delta_create_opts co = {.schema = fl_delta_schema_root(schema ? schema : own), .name = name,
                                   .if_not_exists = true};
        FL_TRY(fl_delta_table_create(*tbl, &co, NULL, err));
    }
done:
    fl_delta_schema_free(own);
    return rc;
}

static fl_rc open_delta(eng_table *t, fl_str app_id, fl_err *err)
{
    const fl_engine_export_opts *o = t->es->o;
    fl_rc rc = FL_OK;
    fl_delta_schema *schema = NULL;
    fl_delta_snapshot *snap = NULL;
    fl_store_opts so;
    fl_store_opts_default(&so);
    so.log = o->log;
    FL_TRY(eng_delta_schema_for(t->plan, &schema, err));
    FL_TRY(eng_delta_open(t->location, &so, t->plan, schema, t->name, &t->st, &t->tbl, &snap, err));
    FL_TRY(fl_delta_txn_begin(t->tbl, &t->txn, err));
    const fl_delta_snapshot *cur = fl_delta_txn_get_snapshot(t->txn);
    rc = fl_delta_txn_set_app(t->txn, app_id, 1, err);
    if (rc == FL_E_DELTA_DUPLICATE) {
        t->skipped = true;
        t->version = fl_delta_snapshot_version(cur);
        rc = FL_OK;
        goto done;
    }
    if (rc) goto done;
    if (!same_schema(fl_delta_snapshot_get_schema(cur), fl_delta_schema_root(schema))) {
        rc = fl_delta_txn_set_schema(t->txn, fl_delta_schema_root(schema), err);
        if (rc == FL_E_DELTA_SCHEMA && o->mode == FL_ENGINE_OVERWRITE)
            fl_err_prefix(err, "(--mode overwrite keeps the table's schema rules; export to a new table to change "
                               "column types) ");
        if (rc) goto done;
    }
    if (o->mode == FL_ENGINE_OVERWRITE) {
        fl_delta_txn_set_operation(t->txn, "WRITE", "Overwrite");
        FL_TRY(fl_delta_txn_remove_all(t->txn, err));
    } else if (o->mode == FL_ENGINE_MERGE) {
        fl_delta_txn_set_operation(t->txn, "MERGE", "Merge");
    }
    for (size_t i = 0; i < fl_delta_snapshot_num_files(cur); i++) {
        fl_str p = fl_arena_str_dup(&t->before_a, fl_delta_snapshot_get_file(cur, i)->path);
        if (!p.ptr || fl_map_put(&t->before, p, NULL, NULL) != FL_OK) FL_FAIL(FL_E_NOMEM, "out of memory");
    }
done:
    if (rc) fl_err_prefix(err, "table %s (%s): ", t->name, t->location);
    fl_delta_snapshot_free(snap);
    fl_delta_schema_free(schema);
    return rc;
}

static fl_rc open_plain(eng_table *t, fl_err *err)
{
    const fl_engine_export_opts *o = t->es->o;
    fl_rc rc = FL_OK;
    fl_pq_schema *ps = NULL;
    fl_store_opts so;
    fl_store_opts_default(&so);
    so.log = o->log;
    const char *ext = o->format == FL_ENGINE_FMT_PARQUET ? ".parquet" : o->format == FL_ENGINE_FMT_CSV ? ".csv" : ".ndjson";
    char key[512];
    snprintf(key, sizeof key, "%s%s", t->name, ext);
    fl_free(t->location);
    t->location = join_url(o->target, key);
    if (!t->location) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    FL_TRY(fl_store_open(o->target, &so, &t->st, err));
    FL_TRY(fl_store_writer_open(t->st, fl_str_c(key), 0, &t->sw, err));
    if (o->format == FL_ENGINE_FMT_PARQUET) {
        FL_TRY(eng_pq_schema_for(t->plan, &ps, err));
        FL_TRY(fl_pq_writer_new(ps, &t->es->pqo, pq_sink, t->sw, &t->plain_pw, err));
    } else {
        fl_view_writer_init(&t->vw, t->plan, o->format == FL_ENGINE_FMT_CSV ? FL_VIEW_FMT_CSV : FL_VIEW_FMT_NDJSON, 0);
    }
done:
    if (rc) fl_err_prefix(err, "%s: ", t->location);
    fl_pq_schema_free(ps);
    return rc;
}

fl_rc eng_table_open(eng_table *t, fl_str app_id, fl_err *err)
{
    t->version = -1;
    fl_map_init(&t->before);
    fl_arena_init(&t->before_a, 0, 0);
    fl_arena_init(&t->scratch, 0, 0);
    fl_buf_init(&t->out, 0);
    fl_buf_init(&t->text, 0);
    for (size_t i = 0; i < fl_view_plan_ncols(t->plan); i++)
        if (!strcmp(fl_view_plan_col(t->plan, i)->name, "is_deleted"))
            return fl_err_set(err, FL_E_VIEW_INVALID, "view %s: the column name is_deleted is reserved by export", t->name);
    t->location = join_url(t->es->o->target, t->name);
    if (!t->location) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    if (t->es->o->format == FL_ENGINE_FMT_DELTA) return open_delta(t, app_id, err);
    return open_plain(t, err);
}

void eng_table_close(eng_table *t)
{
    if (t->txn) fl_delta_txn_file_abort(t->txn);
    t->pw = NULL;
    fl_delta_txn_free(t->txn);
    t->txn = NULL;
    fl_delta_table_close(t->tbl);
    t->tbl = NULL;
    fl_pq_writer_free(t->plain_pw);
    t->plain_pw = NULL;
    fl_store_writer_abort(t->sw);
    t->sw = NULL;
    fl_store_close(t->st);
    t->st = NULL;
    fl_map_reset(&t->before);
    fl_arena_fini(&t->before_a);
    fl_arena_fini(&t->scratch);
    fl_buf_reset(&t->out);
    fl_buf_reset(&t->text);
    fl_free(t->location);
    t->location = NULL;
}

/* ------------------------------------------------------------------ writing batches */

/* Column vectors of a view batch (+ is_deleted) in the Parquet writer's batch form. */
/* One Parquet batch column from one view column: list offsets widened to int64, an empty
 * value array when a batch has no value at all, DECIMAL(<=9) narrowed to INT32. Scratch
 * memory comes from `scratch`; cv must be zeroed by the caller. */
fl_rc eng_colvec_from_view(fl_arena *scratch, const fl_view_vec *v, size_t rows, fl_pq_colvec *cv, fl_err *err)
{
    const fl_view_col *c = v->col;
    size_t nvals = rows;
    cv->values = v->data.p;
    if (c->collection) {
        int64_t *off = fl_arena_alloc(scratch, (rows + 1) * sizeof *off);
        if (!off) return fl_err_set(err, FL_E_NOMEM, "out of memory");
        for (size_t r = 0; r <= rows; r++) off[r] = v->offsets[r];
        cv->offsets = off;
        cv->list_valid = v->valid;
        nvals = v->nitems;
    } else {
        cv->valid = v->valid;
    }
    if (!cv->values) { /* e.g. a collection column without a single item in the batch */
        cv->values = fl_arena_calloc(scratch, nvals + 1, sizeof(fl_str));
        if (!cv->values) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    }
    if (c->type == FL_VIEW_DECIMAL && c->precision <= 9) {
        int32_t *d = fl_arena_alloc(scratch, (nvals + 1) * sizeof *d);
        if (!d) return fl_err_set(err, FL_E_NOMEM, "out of memory");
        for (size_t r = 0; r < nvals; r++) d[r] = (int32_t)v->data.i64[r];
        cv->values = d;
    }
    return FL_OK;
}

static fl_rc batch_colvecs(eng_table *t, const eng_batch *b, fl_pq_colvec **out, fl_err *err)
{
    const fl_view_batch *vb = b->vb;
    size_t rows = fl_view_batch_rows(vb), ncols = fl_view_batch_ncols(vb);
    fl_arena_reset(&t->scratch);
    fl_pq_colvec *cv = fl_arena_alloc(&t->scratch, (ncols + 1) * sizeof *cv);
    if (!cv) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    *out = cv;
    for (size_t i = 0; i < ncols; i++) {
        memset(&cv[i], 0, sizeof cv[i]);
        fl_rc rc = eng_colvec_from_view(&t->scratch, fl_view_batch_col(vb, i), rows, &cv[i], err);
        if (rc) return rc;
    }
    memset(&cv[ncols], 0, sizeof cv[ncols]);
    cv[ncols].values = b->deleted.ptr;
    return FL_OK;
}

/* The view writer's CSV/NDJSON text with the is_deleted column added: NDJSON rows are
 * single lines ending in '}' (strings escape control characters); CSV rows end in CRLF
 * outside quotes (a quoted field may hold line breaks; "" toggles twice). The first CSV
 * line is the header unless it was already seen. */
static void add_is_deleted(eng_table *t, fl_str text, const int32_t *del, size_t nrows, fl_buf *out)
{
    bool csv = t->es->o->format == FL_ENGINE_FMT_CSV, in_quote = false;
    size_t row = 0, start = 0;
    for (size_t i = 0; i < text.len; i++) {
        char c = text.ptr[i];
        if (csv && c == '"') in_quote = !in_quote;
        if (c != '\n' || in_quote) continue;
        size_t end = i; /* the line is text[start, end) + "\n" */
        if (csv) {
            if (end > start && text.ptr[end - 1] == '\r') end--;
            fl_buf_append(out, text.ptr + start, end - start);
            if (!t->header_done) {
                fl_buf_append_c(out, ",is_deleted");
                t->header_done = true;
            } else {
                fl_buf_printf(out, ",%d", row < nrows && del ? (int)del[row] : 0);
                row++;
            }
            fl_buf_append(out, "\r\n", 2);
        } else {
            if (end > start && text.ptr[end - 1] == '}') end--;
            fl_buf_append(out, text.ptr + start, end - start);
            fl_buf_printf(out, "%s\"is_deleted\":%d}\n", end > start + 1 ? "," : "",
                          row < nrows && del ? (int)del[row] : 0);
            row++;
        }
        start = i + 1;
    }
    if (start < text.len) fl_buf_append(out, text.ptr + start, text.len - start);
}

static fl_rc write_batch(eng_table *t, const eng_batch *b, fl_err *err)
{
    eng_state *es = t->es;
    size_t rows = fl_view_batch_rows(b->vb), ncols = fl_view_batch_ncols(b->vb);
    fl_rc rc = FL_OK;
    if (es->o->format == FL_ENGINE_FMT_CSV || es->o->format == FL_ENGINE_FMT_NDJSON) {
        fl_buf_clear(&t->text);
        fl_view_writer_batch(&t->vw, b->vb, &t->text);
        add_is_deleted(t, fl_buf_str(&t->text), b->deleted.ptr, rows, &t->out);
        if (t->out.rc || t->text.rc) return fl_err_set(err, FL_E_NOMEM, "%s: formatting rows", t->location);
        if (t->out.len >= ((size_t)1 << 20)) {
            rc = fl_store_writer_write(t->sw, t->out.ptr, t->out.len, err);
            fl_buf_clear(&t->out);
        }
        t->rows_written += rows;
        return rc;
    }
    fl_pq_colvec *cv = NULL;
    FL_TRY(batch_colvecs(t, b, &cv, err));
    fl_pq_writer *w = t->plain_pw;
    if (es->o->format == FL_ENGINE_FMT_DELTA) {
        if (!t->pw) FL_TRY(fl_delta_txn_file_open(t->txn, NULL, 0, &es->pqo, &t->pw, err));
        w = t->pw;
    }
    rc = fl_pq_writer_write_batch(w, cv, ncols + 1, rows);
    if (rc) {
        fl_err_set(err, rc, "%s: %s", t->location, fl_pq_writer_err(w)->msg);
        goto done;
    }
    t->rows_written += rows;
    uint64_t target = es->o->target_file_size ? es->o->target_file_size : ENG_DEFAULT_FILE_SIZE;
    if (es->o->format == FL_ENGINE_FMT_DELTA && fl_pq_writer_estimated_size(w) >= target) {
        t->pw = NULL;
        FL_TRY(fl_delta_txn_file_close(t->txn, err));
    }
done:
    return rc;
}

static fl_rc finish_table(eng_table *t, fl_err *err)
{
    const fl_engine_export_opts *o = t->es->o;
    fl_rc rc = FL_OK;
    switch (o->format) {
    case FL_ENGINE_FMT_DELTA:
        if (t->pw) {
            t->pw = NULL;
            FL_TRY(fl_delta_txn_file_close(t->txn, err));
        }
        if (o->mode == FL_ENGINE_MERGE) FL_TRY(eng_merge_rewrite(t, err));
        break;
    case FL_ENGINE_FMT_PARQUET:
        FL_TRY(fl_pq_writer_finish(t->plain_pw, err));
        break;
    default:
        fl_buf_clear(&t->text);
        fl_view_writer_finish(&t->vw, &t->text);
        add_is_deleted(t, fl_buf_str(&t->text), NULL, 0, &t->out);
        if (t->out.rc || t->text.rc) FL_FAIL(FL_E_NOMEM, "%s: formatting rows", t->location);
        if (t->out.len) FL_TRY(fl_store_writer_write(t->sw, t->out.ptr, t->out.len, err));
        fl_buf_clear(&t->out);
        break;
    }
done:
    return rc;
}

void *eng_table_main(void *arg)
{
    eng_table *t = arg;
    eng_state *es = t->es;
    fl_rc rc = FL_OK;
    for (;;) {
        eng_batch *b = eng_queue_pop(&t->full);
        if (!b) break;
        if (rc == FL_OK) rc = write_batch(t, b, &t->err);
        fl_view_batch_clear(b->vb);
        b->deleted.len = 0;
        eng_queue_push(&t->free_q, b);
        if (rc) break;
    }
    if (rc == FL_OK && !atomic_load(&es->stop)) rc = finish_table(t, &t->err);
    if (rc) {
        t->rc = rc;
        eng_fail(es, rc, &t->err);
    }
    return NULL;
}

/* ------------------------------------------------------------------ commit */

static void count_new_bytes(eng_table *t, int64_t version)
{
    fl_delta_snapshot *s = NULL;
    fl_err err;
    if (fl_delta_snapshot_load(t->tbl, version, &s, &err) != FL_OK) return;
    for (size_t i = 0; i < fl_delta_snapshot_num_files(s); i++) {
        const fl_delta_file *f = fl_delta_snapshot_get_file(s, i);
        bool found = false;
        fl_map_get(&t->before, f->path, &found);
        if (!found) t->bytes += (uint64_t)f->size;
    }
    fl_delta_snapshot_free(s);
}

fl_rc eng_table_commit(eng_table *t, fl_err *err)
{
    fl_rc rc = FL_OK;
    if (t->skipped) return FL_OK;
    if (t->es->o->format != FL_ENGINE_FMT_DELTA) {
        fl_store_meta meta;
        memset(&meta, 0, sizeof meta);
        rc = fl_store_writer_commit(t->sw, &meta, err);
        t->sw = NULL;
        if (rc == FL_OK) {
            t->files = 1;
            t->bytes = meta.size;
        }
        t->seconds = eng_elapsed(t->es);
        return rc;
    }
    fl_delta_commit_result res;
    memset(&res, 0, sizeof res);
    rc = fl_delta_txn_commit(t->txn, &res, err);
    t->seconds = eng_elapsed(t->es);
    if (rc == FL_E_DELTA_DUPLICATE) {
        t->skipped = true;
        t->version = res.version;
        return FL_OK;
    }
    if (rc) {
        fl_err_prefix(err, "table %s: commit: ", t->name);
        return rc;
    }
    t->version = res.version;
    t->files = (uint64_t)res.files_added;
    count_new_bytes(t, res.version);
    return FL_OK;
}
