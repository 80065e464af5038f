/* engine_deliver.c - a Delta sink for continuous delivery (module engine): one open table
 * that receives many small commits of view rows + is_deleted, each tagged
 * txn{appId, version} so a replayed batch is a no-op (FL_E_DELTA_DUPLICATE). Used by the
 * server's data-lakehouse topic destinations (and their initial export).
 * Opening creates the table (view columns + is_deleted INT) when absent; an existing
 * table must hold every view column with the same type, else the open fails naming the
 * missing/mismatched columns, or (add_columns) the missing ones are added in a metadata
 * commit. Rows are written in the table's column order: columns the view lacks are null.
 * Separate from engine_sink.c (the one-shot export's per-view writer threads), which holds
 * the Delta set-up both use (eng_delta_open, eng_delta_schema_for; engine_int.h). */
#include "engine/engine_int.h"

#include <stdio.h>

struct fl_engine_sink {
    const fl_view_plan *plan;
    char *url;
    char name[128];
    fl_store *st;
    fl_delta_table *tbl;
    fl_delta_txn *txn;
    fl_pq_writer *pw;
    fl_pq_write_opts pqo;
    uint64_t target;
    int *map;        /* per table field: view column, -2 is_deleted, -1 null */
    size_t nmap;
    fl_arena scratch;
    fl_logger log;
    uint64_t rows;   /* rows written in the open txn */
};

/* The view's column matches the table field's type (arrays by element kind). */
static bool type_matches(const fl_view_col *c, const fl_delta_type *t)
{
    if (c->collection) {
        if (t->kind != FL_DELTA_T_ARRAY || !t->element) return false;
        t = t->element;
    } else if (t->kind == FL_DELTA_T_ARRAY) {
        return false;
    }
    if (t->kind != eng_delta_kind(c->type)) return false;
    if (c->type == FL_VIEW_DECIMAL) return t->precision == c->precision && t->scale == c->scale;
    return true;
}

/* Missing columns (appended to `missing`, comma separated) and type mismatches. */
static fl_rc check_schema(fl_engine_sink *s, const fl_delta_type *root, fl_buf *missing, fl_err *err)
{
    for (size_t i = 0; i < fl_view_plan_ncols(s->plan); i++) {
        const fl_view_col *c = fl_view_plan_col(s->plan, i);
        const fl_delta_field *f = fl_delta_type_find(root, fl_str_c(c->name));
        if (!f) {
            fl_buf_printf(missing, "%s%s", missing->len ? ", " : "", c->name);
        } else if (!type_matches(c, f->type)) {
            fl_buf b;
            fl_buf_init(&b, 4096);
            fl_delta_type_to_json(f->type, &b);
            fl_rc rc = fl_err_set(err, FL_E_DELTA_SCHEMA,
                                  "table %s: column %s has type %.*s but the view gives %s%s%s", s->url, c->name,
                                  (int)b.len, b.ptr ? b.ptr : "", c->collection ? "array of " : "",
                                  fl_view_type_name(c->type), " (types are not changed automatically)");
            fl_buf_reset(&b);
            return rc;
        }
    }
    const fl_delta_field *d = fl_delta_type_find(root, FL_STR("is_deleted"));
    if (!d) fl_buf_printf(missing, "%sis_deleted", missing->len ? ", " : "");
    else if (d->type->kind != FL_DELTA_T_INTEGER)
        return fl_err_set(err, FL_E_DELTA_SCHEMA, "table %s: column is_deleted must be INT", s->url);
    return missing->rc ? fl_err_set(err, FL_E_NOMEM, "out of memory") : FL_OK;
}

static fl_rc add_columns(fl_engine_sink *s, const fl_delta_type *root, fl_err *err)
{
    fl_rc rc = FL_OK;
    fl_buf js;
    fl_buf_init(&js, 0);
    fl_delta_schema *ns = NULL;
    fl_delta_txn *txn = NULL;
    fl_delta_type_to_json(root, &js);
    if (js.rc) FL_FAIL(FL_E_NOMEM, "out of memory");
    FL_TRY(fl_delta_schema_parse(fl_buf_str(&js), &ns, err));
    for (size_t i = 0; i < fl_view_plan_ncols(s->plan); i++) {
        const fl_view_col *c = fl_view_plan_col(s->plan, i);
        if (!fl_delta_type_find(root, fl_str_c(c->name))) fl_delta_schema_add(ns, NULL, c->name, eng_delta_col_type(ns, c), true);
    }
    if (!fl_delta_type_find(root, FL_STR("is_deleted")))
        fl_delta_schema_add(ns, NULL, "is_deleted", fl_delta_schema_prim(ns, FL_DELTA_T_INTEGER), true);
    FL_TRY(fl_delta_schema_check(ns, err));
    FL_TRY(fl_delta_txn_begin(s->tbl, &txn, err));
    fl_delta_txn_set_operation(txn, "ADD COLUMNS", NULL);
    FL_TRY(fl_delta_txn_set_schema(txn, fl_delta_schema_root(ns), err));
    fl_delta_commit_result res;
    FL_TRY(fl_delta_txn_commit(txn, &res, err));
    fl_log(&s->log, FL_LOG_INFO, "table %s: added the view's missing columns (version %lld)", s->url,
           (long long)res.version);
done:
    fl_delta_txn_free(txn);
    fl_delta_schema_free(ns);
    fl_buf_reset(&js);
    return rc;
}

fl_rc fl_engine_sink_open(const fl_view_plan *plan, const fl_engine_sink_opts *o, fl_engine_sink **out, fl_err *err)
{
    fl_rc rc = FL_OK;
    *out = NULL;
    fl_delta_snapshot *snap = NULL;
    fl_buf missing;
    fl_buf_init(&missing, 1u << 20);
    if (!o || !o->table_url || !*o->table_url) return fl_err_set(err, FL_E_ARG, "delivery sink: no table URL");
    for (size_t i = 0; i < fl_view_plan_ncols(plan); i++)
        if (!strcmp(fl_view_plan_col(plan, i)->name, "is_deleted"))
            return fl_err_set(err, FL_E_VIEW_INVALID, "view %s: the column name is_deleted is reserved",
                              fl_view_plan_name(plan));
    fl_engine_sink *s = fl_calloc(1, sizeof *s);
    if (!s) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    s->plan = plan;
    s->url = fl_strndup(o->table_url, strlen(o->table_url));
    if (o->log) s->log = *o->log;
    snprintf(s->name, sizeof s->name, "%s", o->name && *o->name ? o->name : fl_view_plan_name(plan));
    s->target = o->target_file_size ? o->target_file_size : ENG_DEFAULT_FILE_SIZE;
    fl_arena_init(&s->scratch, 0, 0);
    fl_pq_write_opts_default(&s->pqo);
    if (!s->url) FL_FAIL(FL_E_NOMEM, "out of memory");
    fl_store_opts so;
    fl_store_opts_default(&so);
    so.log = o->log;
    so.props = o->props;
    so.nprops = o->nprops;
    FL_TRY(eng_delta_open(s->url, &so, plan, NULL, s->name, &s->st, &s->tbl, &snap, err));
    if (snap) { /* an existing table (a new one was created with the view's columns) */
        FL_TRY(check_schema(s, fl_delta_snapshot_get_schema(snap), &missing, err));
        if (missing.len) {
            if (!o->add_columns)
                FL_FAIL(FL_E_DELTA_SCHEMA, "table %s lacks the view's columns: %.*s (schemaEvolution=add-columns adds them)",
                        s->url, (int)missing.len, missing.ptr);
            FL_TRY(add_columns(s, fl_delta_snapshot_get_schema(snap), err));
        }
    }
    *out = s;
done:
    if (rc) {
        fl_err_prefix(err, "delivery sink %s: ", o->table_url);
        fl_engine_sink_close(s);
    }
    fl_buf_reset(&missing);
    fl_delta_snapshot_free(snap);
    return rc;
}

fl_rc fl_engine_sink_app_version(fl_engine_sink *s, fl_str app_id, int64_t *version, fl_err *err)
{
    *version = -1;
    fl_delta_snapshot *snap = NULL;
    fl_rc rc = fl_delta_snapshot_load(s->tbl, -1, &snap, err);
    if (rc) return rc;
    int64_t v = -1;
    if (fl_delta_snapshot_get_app_version(snap, app_id, &v)) *version = v;
    fl_delta_snapshot_free(snap);
    return FL_OK;
}

void fl_engine_sink_abort(fl_engine_sink *s)
{
    if (!s || !s->txn) return;
    fl_delta_txn_file_abort(s->txn);
    s->pw = NULL;
    fl_delta_txn_free(s->txn);
    s->txn = NULL;
    fl_free(s->map);
    s->map = NULL;
    s->rows = 0;
}

fl_rc fl_engine_sink_begin(fl_engine_sink *s, fl_str app_id, int64_t version, fl_err *err)
{
    fl_rc rc = FL_OK;
    fl_engine_sink_abort(s);
    FL_TRY(fl_delta_txn_begin(s->tbl, &s->txn, err));
    FL_TRY(fl_delta_txn_set_app(s->txn, app_id, version, err));
    const fl_delta_type *root = fl_delta_snapshot_get_schema(fl_delta_txn_get_snapshot(s->txn));
    s->nmap = root->n_fields;
    s->map = fl_calloc(s->nmap ? s->nmap : 1, sizeof *s->map);
    if (!s->map) FL_FAIL(FL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < s->nmap; i++) {
        const fl_delta_field *f = &root->fields[i];
        s->map[i] = -1;
        if (fl_str_eq_c(f->name, "is_deleted")) {
            s->map[i] = -2;
            continue;
        }
        for (size_t k = 0; k < fl_view_plan_ncols(s->plan); k++)
            if (fl_str_eq_c(f->name, fl_view_plan_col(s->plan, k)->name)) s->map[i] = (int)k;
        if (s->map[i] >= 0 && !type_matches(fl_view_plan_col(s->plan, (size_t)s->map[i]), f->type))
            FL_FAIL(FL_E_DELTA_SCHEMA, "table %s: column %.*s changed type", s->url, FL_STR_ARG(f->name));
        if (s->map[i] == -1 && (f->type->kind == FL_DELTA_T_STRUCT || f->type->kind == FL_DELTA_T_MAP ||
                                (f->type->kind == FL_DELTA_T_ARRAY && f->type->element &&
                                 f->type->element->kind >= FL_DELTA_T_ARRAY)))
            FL_FAIL(FL_E_UNSUPPORTED, "table %s: column %.*s is not in the view and is nested (cannot write nulls)",
                    s->url, FL_STR_ARG(f->name));
    }
done:
    if (rc && rc != FL_E_DELTA_DUPLICATE) fl_err_prefix(err, "table %s: ", s->url);
    if (rc) fl_engine_sink_abort(s);
    return rc;
}

fl_rc fl_engine_sink_write(fl_engine_sink *s, const fl_view_batch *vb, const int32_t *is_deleted, fl_err *err)
{
    fl_rc rc = FL_OK;
    if (!s->txn) return fl_err_set(err, FL_E_STATE, "delivery sink: no open batch");
    size_t rows = fl_view_batch_rows(vb);
    if (!rows) return FL_OK;
    fl_arena_reset(&s->scratch);
    fl_pq_colvec *cv = fl_arena_calloc(&s->scratch, s->nmap + 1, sizeof *cv);
    uint8_t *nulls = fl_arena_calloc(&s->scratch, rows + 1, 1);
    int64_t *zero_off = fl_arena_calloc(&s->scratch, rows + 1, sizeof *zero_off);
    void *zero_vals = fl_arena_calloc(&s->scratch, rows + 1, 16);
    if (!cv || !nulls || !zero_off || !zero_vals) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    const fl_delta_type *root = fl_delta_snapshot_get_schema(fl_delta_txn_get_snapshot(s->txn));
    for (size_t i = 0; i < s->nmap; i++) {
        if (s->map[i] == -2) {
            cv[i].values = is_deleted;
            continue;
        }
        if (s->map[i] == -1) { /* a table column the view does not give */
            cv[i].values = zero_vals;
            if (root->fields[i].type->kind == FL_DELTA_T_ARRAY) {
                cv[i].offsets = zero_off;
                cv[i].list_valid = nulls;
            } else {
                cv[i].valid = nulls;
            }
            continue;
        }
        FL_TRY(eng_colvec_from_view(&s->scratch, fl_view_batch_col(vb, (size_t)s->map[i]), rows, &cv[i], err));
    }
    if (!s->pw) FL_TRY(fl_delta_txn_file_open(s->txn, NULL, 0, &s->pqo, &s->pw, err));
    rc = fl_pq_writer_write_batch(s->pw, cv, s->nmap, rows);
    if (rc) FL_FAIL(rc, "table %s: %s", s->url, fl_pq_writer_err(s->pw)->msg);
    s->rows += rows;
    if (fl_pq_writer_estimated_size(s->pw) >= s->target) {
        s->pw = NULL;
        FL_TRY(fl_delta_txn_file_close(s->txn, err));
    }
done:
    return rc;
}

fl_rc fl_engine_sink_commit(fl_engine_sink *s, int64_t *version, fl_err *err)
{
    fl_rc rc = FL_OK;
    if (!s->txn) return fl_err_set(err, FL_E_STATE, "delivery sink: no open batch");
    if (s->pw) {
        s->pw = NULL;
        FL_TRY(fl_delta_txn_file_close(s->txn, err));
    }
    fl_delta_commit_result res;
    memset(&res, 0, sizeof res);
    rc = fl_delta_txn_commit(s->txn, &res, err);
    if (version) *version = res.version;
    if (rc && rc != FL_E_DELTA_DUPLICATE) fl_err_prefix(err, "table %s: commit: ", s->url);
done:
    fl_engine_sink_abort(s);
    return rc;
}

void fl_engine_sink_close(fl_engine_sink *s)
{
    if (!s) return;
    fl_engine_sink_abort(s);
    fl_delta_table_close(s->tbl);
    fl_store_close(s->st);
    fl_arena_fini(&s->scratch);
    fl_free(s->url);
    fl_free(s);
}
