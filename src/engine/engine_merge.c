/* engine_merge.c - copy-on-write MERGE of an export into a Delta table (module engine),
 * through the delta module's merge (fl_delta_merge_*, include/fhirlake/delta.h).
 * The export writes the winning version of each "Type/id" itself; the delta merge only
 * gets the keys:
 *   - before the main pass (eng_merge_mark_stale), every non-deleted winner of the view's
 *     resource type with its meta.lastUpdated goes in as a key with newer-wins on the
 *     lastUpdated column (ties to the export); a winner the table holds with a newer
 *     lastUpdated is marked stale for this table, so its rows are neither written nor
 *     replaced;
 *   - after the rows are written (eng_merge_rewrite), the remaining winners go in as keys
 *     (replace) and the deleted ones as deletes (drop, or is_deleted = 1 with
 *     --deletes flag); the merge rewrites only files holding those keys (found by the id
 *     column's stats, then read one at a time). Removes and adds land in the export's
 *     single commit. */
#include "engine/engine_int.h"

#include <stdio.h>

/* Winners of t's resource type, as eng_winner pointers with their ids. */
typedef struct merge_keys {
    eng_winner **w;
    fl_str *id;
    size_t n;
} merge_keys;

static fl_rc collect(eng_table *t, merge_keys *mk, fl_err *err)
{
    size_t plen = strlen(t->resource), it = 0, cap = t->es->winners.len ? t->es->winners.len : 1;
    mk->n = 0;
    mk->w = fl_malloc(cap * sizeof *mk->w);
    mk->id = fl_malloc(cap * sizeof *mk->id);
    if (!mk->w || !mk->id) return fl_err_set(err, FL_E_NOMEM, "out of memory (merge keys)");
    const fl_map_entry *e;
    while ((e = fl_map_next(&t->es->winners, &it)) != NULL) {
        if (e->key.len <= plen + 1 || memcmp(e->key.ptr, t->resource, plen) || e->key.ptr[plen] != '/') continue;
        mk->w[mk->n] = e->val;
        mk->id[mk->n] = fl_str_make(e->key.ptr + plen + 1, e->key.len - plen - 1);
        mk->n++;
    }
    return FL_OK;
}

static void keys_free(merge_keys *mk)
{
    fl_free(mk->w);
    fl_free(mk->id);
}

/* A row of the table's width with every item null (items[] reused per entry). */
static fl_pq_val *null_row(fl_arena *a, size_t n)
{
    fl_pq_val *row = fl_arena_calloc(a, 1, sizeof *row);
    fl_pq_val *items = fl_arena_calloc(a, n ? n : 1, sizeof *items);
    if (!row || !items) return NULL;
    row->kind = FL_PQ_V_STRUCT;
    row->n = (uint32_t)n;
    row->v.items = items;
    return row;
}

static long field_index(const fl_delta_type *sch, const char *name)
{
    const fl_delta_field *f = fl_delta_type_find(sch, fl_str_c(name));
    return f ? (long)(f - sch->fields) : -1;
}

fl_rc eng_merge_mark_stale(eng_table *t, fl_err *err)
{
    const fl_delta_snapshot *s = fl_delta_txn_get_snapshot(t->txn);
    const fl_delta_type *sch = fl_delta_snapshot_get_schema(s);
    const char *key = fl_view_plan_col(t->plan, (size_t)t->key_col)->name;
    const char *lu = fl_view_plan_col(t->plan, (size_t)t->lu_col)->name;
    long ki = field_index(sch, key), li = field_index(sch, lu);
    if (ki < 0 || li < 0) return FL_OK; /* the table lacks the columns: it holds nothing newer */
    merge_keys mk = {0};
    fl_delta_merge *m = NULL;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_rc rc = collect(t, &mk, err);
    if (rc || mk.n == 0) goto done;
    fl_delta_merge_opts mo = {.key_columns = &key, .n_key_columns = 1, .newer_wins = lu, .ties_to_source = true,
                              .max_rows = mk.n + 1, .max_bytes = (size_t)1 << 40};
    FL_TRY(fl_delta_merge_new(t->txn, &mo, &m, err));
    fl_pq_val *row = null_row(&a, sch->n_fields);
    if (!row) FL_FAIL(FL_E_NOMEM, "out of memory");
    size_t *ent = fl_arena_alloc(&a, mk.n * sizeof *ent), ne = 0;
    if (!ent) FL_FAIL(FL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < mk.n; i++) {
        if (mk.w[i]->deleted) continue;
        row->v.items[ki] = (fl_pq_val){.kind = FL_PQ_V_BYTES, .v.bytes = mk.id[i]};
        row->v.items[li] = mk.w[i]->last_updated == INT64_MIN
                               ? (fl_pq_val){.kind = FL_PQ_V_NULL}
                               : (fl_pq_val){.kind = FL_PQ_V_I64, .v.i64 = mk.w[i]->last_updated};
        FL_TRY(fl_delta_merge_add_key(m, row, err));
        ent[ne++] = i;
    }
    FL_TRY(fl_delta_merge_resolve(m, err));
    for (size_t e = 0; e < ne; e++)
        if (fl_delta_merge_lost(m, e)) mk.w[ent[e]]->stale |= (uint64_t)1 << t->index;
done:
    if (rc) fl_err_prefix(err, "merge into %s: ", t->name);
    fl_delta_merge_free(m);
    keys_free(&mk);
    fl_arena_fini(&a);
    return rc;
}

fl_rc eng_merge_rewrite(eng_table *t, fl_err *err)
{
    if (t->key_col < 0)
        return fl_err_set(err, FL_E_ARG, "view %s: merge needs a column with path 'id' or 'getResourceKey()'", t->name);
    const fl_delta_snapshot *s = fl_delta_txn_get_snapshot(t->txn);
    const fl_delta_type *sch = fl_delta_snapshot_get_schema(s);
    const char *key = fl_view_plan_col(t->plan, (size_t)t->key_col)->name;
    long ki = field_index(sch, key);
    if (ki < 0) return FL_OK; /* no id column in the table: no row can match */
    merge_keys mk = {0};
    fl_delta_merge *m = NULL;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_rc rc = collect(t, &mk, err);
    if (rc || mk.n == 0) goto done;
    fl_delta_merge_opts mo = {.key_columns = &key, .n_key_columns = 1,
                              .soft_delete_column = t->es->o->deletes_flag ? "is_deleted" : NULL,
                              .max_rows = mk.n + 1, .max_bytes = (size_t)1 << 40, .write_opts = &t->es->pqo};
    FL_TRY(fl_delta_merge_new(t->txn, &mo, &m, err));
    fl_pq_val *row = null_row(&a, sch->n_fields);
    if (!row) FL_FAIL(FL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < mk.n; i++) {
        const eng_winner *w = mk.w[i];
        if (!w->deleted && t->index < 64 && ((w->stale >> t->index) & 1u)) continue; /* the table's row is newer */
        row->v.items[ki] = (fl_pq_val){.kind = FL_PQ_V_BYTES, .v.bytes = mk.id[i]};
        FL_TRY(w->deleted ? fl_delta_merge_add_delete(m, row, err) : fl_delta_merge_add_key(m, row, err));
    }
    fl_delta_merge_result res;
    FL_TRY(fl_delta_merge_run(m, &res, err));
    t->rows_removed += (uint64_t)res.target_rows_removed;
done:
    if (rc) fl_err_prefix(err, "merge into %s: ", t->name);
    fl_delta_merge_free(m);
    keys_free(&mk);
    fl_arena_fini(&a);
    return rc;
}
