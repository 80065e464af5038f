/* engine_merge.c - copy-on-write MERGE of an export into a Delta table (module engine).
 * After the new rows of the export are written (only the winning version of each
 * "Type/id" was evaluated), every live data file of the transaction's snapshot is
 * checked: its key column is read alone; a file holding none of the export's keys is
 * left as it is. A file that does is removed and rewritten row by row without the rows
 * the export replaces (or deletes), or - with --deletes flag - with is_deleted = 1 on
 * the rows of deleted resources. Removes and adds land in the export's single commit. */
#include "engine/engine_int.h"

#include <stdio.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Store key of a log path (URI-decoded). */
static bool path_key(fl_str path, fl_buf *out)
{
    fl_buf_clear(out);
    for (size_t i = 0; i < path.len; i++) {
        char c = path.ptr[i];
        if (c == '%' && i + 2 < path.len && hexval(path.ptr[i + 1]) >= 0 && hexval(path.ptr[i + 2]) >= 0) {
            fl_buf_putc(out, (char)(hexval(path.ptr[i + 1]) * 16 + hexval(path.ptr[i + 2])));
            i += 2;
        } else {
            fl_buf_putc(out, c);
        }
    }
    return out->rc == FL_OK;
}

/* What happens to an existing row with this id: 0 keep, 1 drop, 2 keep flagged deleted. */
static int row_fate(const eng_table *t, fl_buf *key, fl_str id)
{
    fl_buf_clear(key);
    fl_buf_append_c(key, t->resource);
    fl_buf_putc(key, '/');
    fl_buf_append_str(key, id);
    if (key->rc) return 0;
    const eng_winner *w = fl_map_get(&t->es->winners, fl_buf_str(key), NULL);
    if (!w) return 0;
    if (!w->deleted && t->index < 64 && ((w->stale >> t->index) & 1u)) return 0; /* the table's row is newer */
    if (w->deleted && t->es->o->deletes_flag) return 2;
    return 1;
}

static void put_value(fl_pq_writer *w, const fl_pq_val *v, unsigned depth)
{
    switch (v->kind) {
    case FL_PQ_V_BOOL: fl_pq_writer_put_bool(w, v->v.b); break;
    case FL_PQ_V_I32: fl_pq_writer_put_i32(w, v->v.i32); break;
    case FL_PQ_V_I64: fl_pq_writer_put_i64(w, v->v.i64); break;
    case FL_PQ_V_F32: fl_pq_writer_put_f32(w, v->v.f32); break;
    case FL_PQ_V_F64: fl_pq_writer_put_f64(w, v->v.f64); break;
    case FL_PQ_V_BYTES: fl_pq_writer_put_bytes(w, v->v.bytes.ptr, v->v.bytes.len); break;
    case FL_PQ_V_LIST:
        fl_pq_writer_begin_list(w);
        for (uint32_t i = 0; i < v->n && depth < 16; i++) put_value(w, &v->v.items[i], depth + 1);
        fl_pq_writer_end(w);
        break;
    case FL_PQ_V_STRUCT:
        fl_pq_writer_begin_struct(w);
        for (uint32_t i = 0; i < v->n && depth < 16; i++) put_value(w, &v->v.items[i], depth + 1);
        fl_pq_writer_end(w);
        break;
    default: fl_pq_writer_put_null(w); break;
    }
}

/* Does any row of the file hold a key of the export? */
static fl_rc file_matches(eng_table *t, fl_pq_reader *r, fl_buf *key, bool *match, fl_err *err)
{
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_rc rc = FL_OK;
    *match = false;
    for (int rg = 0; rg < fl_pq_reader_num_row_groups(r) && !*match; rg++) {
        fl_pq_column col;
        fl_arena_reset(&a);
        FL_TRY(fl_pq_reader_read_column(r, rg, t->key_col, &a, &col, err));
        const fl_str *ids = col.values;
        for (size_t i = 0; i < col.num_values && !*match; i++) *match = row_fate(t, key, ids[i]) != 0;
    }
done:
    fl_arena_fini(&a);
    return rc;
}

static fl_rc rewrite_file(eng_table *t, const fl_delta_file *f, fl_buf *data, fl_buf *key, fl_err *err)
{
    fl_rc rc = FL_OK;
    fl_pq_reader *r = NULL;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_buf_clear(data);
    if (!path_key(f->path, key)) return fl_err_set(err, FL_E_LIMIT, "data file path too long");
    FL_TRY(fl_store_get(t->st, fl_buf_str(key), data, NULL, err));
    FL_TRY(fl_pq_reader_open_mem(data->ptr, data->len, NULL, &r, err));
    const fl_pq_schema *ps = fl_pq_reader_get_schema(r);
    const fl_pq_node *root = fl_pq_schema_node(ps, 0);
    int ncols = root ? root->num_children : 0;
    if (t->key_col >= fl_pq_schema_num_leaves(ps) || ncols != (int)fl_view_plan_ncols(t->plan) + 1)
        FL_FAIL(FL_E_DELTA_SCHEMA, "data file " FL_STR_FMT " does not have the view's columns", FL_STR_ARG(f->path));
    bool match = false;
    FL_TRY(file_matches(t, r, key, &match, err));
    if (!match) goto done;
    FL_TRY(fl_delta_txn_remove_file(t->txn, f->path, err));
    fl_pq_writer *w = NULL;
    int64_t kept = 0;
    FL_TRY(fl_delta_txn_file_open(t->txn, NULL, 0, &t->es->pqo, &w, err));
    for (;;) {
        fl_pq_val *row = NULL;
        fl_arena_reset(&a);
        rc = fl_pq_reader_next_row(r, &a, &row, err);
        if (rc == FL_E_EOF) {
            rc = FL_OK;
            break;
        }
        if (rc) break;
        const fl_pq_val *idv = &row->v.items[t->key_col];
        int fate = idv->kind == FL_PQ_V_BYTES ? row_fate(t, key, idv->v.bytes) : 0;
        if (fate == 1) {
            t->rows_removed++;
            continue;
        }
        for (uint32_t c = 0; c < row->n; c++) {
            if (fate == 2 && (int)c == ncols - 1) fl_pq_writer_put_i32(w, 1);
            else put_value(w, &row->v.items[c], 0);
        }
        if ((rc = fl_pq_writer_end_row(w)) != FL_OK) {
            fl_err_set(err, rc, "rewriting " FL_STR_FMT ": %s", FL_STR_ARG(f->path), fl_pq_writer_err(w)->msg);
            break;
        }
        kept++;
    }
    if (rc || kept == 0) fl_delta_txn_file_abort(t->txn);
    else rc = fl_delta_txn_file_close(t->txn, err);
done:
    if (rc) fl_err_prefix(err, "merge into %s: ", t->name);
    fl_pq_reader_free(r);
    fl_arena_fini(&a);
    return rc;
}

/* Before the merge's main pass: for every key of the export that the table already holds
 * with a newer meta.lastUpdated (the view's lastUpdated column), mark the winner stale for
 * this table, so its rows are neither written nor replaced. Reads only the key and
 * lastUpdated columns of each live file. */
fl_rc eng_merge_mark_stale(eng_table *t, fl_err *err)
{
    const fl_delta_snapshot *s = fl_delta_txn_get_snapshot(t->txn);
    fl_buf data, key;
    fl_buf_init(&data, 0);
    fl_buf_init(&key, FL_STORE_MAX_KEY * 4);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_pq_reader *r = NULL;
    fl_rc rc = FL_OK;
    for (size_t i = 0; i < fl_delta_snapshot_num_files(s) && rc == FL_OK; i++) {
        const fl_delta_file *f = fl_delta_snapshot_get_file(s, i);
        fl_buf_clear(&data);
        if (!path_key(f->path, &key)) FL_FAIL(FL_E_LIMIT, "data file path too long");
        FL_TRY(fl_store_get(t->st, fl_buf_str(&key), &data, NULL, err));
        FL_TRY(fl_pq_reader_open_mem(data.ptr, data.len, NULL, &r, err));
        int nleaves = fl_pq_schema_num_leaves(fl_pq_reader_get_schema(r));
        for (int rg = 0; rg < fl_pq_reader_num_row_groups(r) && t->key_col < nleaves && t->lu_col < nleaves; rg++) {
            fl_pq_column kc, lc;
            fl_arena_reset(&a);
            FL_TRY(fl_pq_reader_read_column(r, rg, t->key_col, &a, &kc, err));
            FL_TRY(fl_pq_reader_read_column(r, rg, t->lu_col, &a, &lc, err));
            const fl_str *ids = kc.values;
            const int64_t *lus = lc.values;
            size_t ki = 0, li = 0;
            for (size_t row = 0; row < kc.num_levels && row < lc.num_levels; row++) {
                bool has_k = !kc.def_levels || kc.def_levels[row] > 0;
                bool has_l = !lc.def_levels || lc.def_levels[row] > 0;
                fl_str id = has_k ? ids[ki++] : FL_STR_NULL;
                int64_t lu = has_l ? lus[li++] : INT64_MIN;
                if (!has_k || !has_l) continue;
                fl_buf_clear(&key);
                fl_buf_append_c(&key, t->resource);
                fl_buf_putc(&key, '/');
                fl_buf_append_str(&key, id);
                eng_winner *w = key.rc ? NULL : fl_map_get(&t->es->winners, fl_buf_str(&key), NULL);
                if (w && !w->deleted && lu > w->last_updated) w->stale |= (uint64_t)1 << t->index;
            }
        }
        fl_pq_reader_free(r);
        r = NULL;
    }
done:
    if (rc) fl_err_prefix(err, "merge into %s: ", t->name);
    fl_pq_reader_free(r);
    fl_arena_fini(&a);
    fl_buf_reset(&data);
    fl_buf_reset(&key);
    return rc;
}

fl_rc eng_merge_rewrite(eng_table *t, fl_err *err)
{
    if (t->key_col < 0)
        return fl_err_set(err, FL_E_ARG, "view %s: merge needs a column with path 'id' or 'getResourceKey()'", t->name);
    const fl_delta_snapshot *s = fl_delta_txn_get_snapshot(t->txn);
    fl_buf data, key;
    fl_buf_init(&data, 0);
    fl_buf_init(&key, FL_STORE_MAX_KEY * 4);
    fl_rc rc = FL_OK;
    size_t n = fl_delta_snapshot_num_files(s);
    for (size_t i = 0; i < n && rc == FL_OK && !atomic_load(&t->es->stop); i++)
        rc = rewrite_file(t, fl_delta_snapshot_get_file(s, i), &data, &key, err);
    fl_buf_reset(&data);
    fl_buf_reset(&key);
    return rc;
}
