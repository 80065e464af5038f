/* delta_merge.c - MERGE by key columns (module delta): upserts (the merge writes the
 * rows, or the caller does and only names the keys), deletes (or soft deletes) by key,
 * an optional "newer wins" column, as a copy-on-write rewrite inside one txn.
 *
 * Entries are copied into an arena capped at max_bytes and indexed by their encoded key
 * (one map entry per distinct key, pointing at the entry that wins within the batch).
 * Candidate files are chosen by the key columns' stats; each candidate is scanned alone
 * (one data file in memory at a time). With newer_wins, resolve() scans the candidates
 * once to find the entries a target row beats; run() then scans each candidate that held
 * a key, and rewrites it only when one of its rows changes. The keys and the scanned
 * paths stay with the txn (delta_key_guard) so its commit can detect concurrent commits
 * that add rows with the same keys or delete rows the merge read. */
#include "delta/delta_int.h"

#include <stdio.h>
#include <stdlib.h>

enum { ENT_ROW = 0, ENT_KEY, ENT_DEL };

typedef struct merge_ent {
    fl_str key;       /* encoded key; ptr NULL = a null key (never matches) */
    fl_pq_val *row;   /* ENT_ROW: the whole row (copy) */
    fl_pq_val nw;     /* newer-wins value (scalar copy), NULL kind when unset */
    uint8_t kind;
    bool lost;        /* a target row is as new or newer */
    bool superseded;  /* a later entry of the batch has the same key and won */
    bool matched;     /* a target row held the key */
} merge_ent;

struct fl_delta_merge {
    fl_delta_txn *txn;
    const fl_delta_snapshot *s;
    const fl_delta_type *sch;
    fl_arena a; /* entry copies, capped at max_bytes */
    size_t max_rows, max_bytes;
    fl_vec ents;   /* merge_ent */
    fl_map idx;    /* encoded key -> (entry index + 1) of the batch's winner */
    size_t nk;
    size_t kidx[FL_DELTA_MAX_MERGE_KEYS];
    long nw, sd;   /* newer-wins / soft-delete column index, -1 = none */
    bool ties_to_source;
    const fl_pq_write_opts *wo;
    bool resolved, ran;
    delta_key_guard *guard; /* in txn->a once resolve/run starts */
    uint8_t *fstate;        /* per snapshot file: bit 0 read, bit 1 held a key */
    fl_vec read_paths;      /* fl_str (snapshot-owned paths) */
    fl_buf kb;              /* key scratch */
    const fl_delta_field *part_refused; /* a partition column whose values we cannot render */
    bool no_columnar;       /* column mapping: rewrites take the row path */
    fl_buf cdata;           /* columnar rewrite: the file's bytes (capacity kept across files) */
    fl_arena carena;        /* columnar rewrite: one row group's columns (first block kept) */
    uint64_t *bloom;        /* bit per key_hash0 of the batch's keys (built by prepare), NULL = none */
    uint64_t bmask;         /* bit count - 1 */
};

#define FS_READ 1u
#define FS_HELD 2u

static bool key_kind_ok(fl_delta_kind k)
{
    switch (k) {
    case FL_DELTA_T_STRING:
    case FL_DELTA_T_BINARY:
    case FL_DELTA_T_LONG:
    case FL_DELTA_T_INTEGER:
    case FL_DELTA_T_SHORT:
    case FL_DELTA_T_BYTE:
    case FL_DELTA_T_DATE:
    case FL_DELTA_T_TIMESTAMP:
    case FL_DELTA_T_TIMESTAMP_NTZ:
    case FL_DELTA_T_BOOLEAN: return true;
    default: return false;
    }
}

static bool nw_kind_ok(fl_delta_kind k)
{
    switch (k) {
    case FL_DELTA_T_STRING:
    case FL_DELTA_T_LONG:
    case FL_DELTA_T_INTEGER:
    case FL_DELTA_T_SHORT:
    case FL_DELTA_T_BYTE:
    case FL_DELTA_T_DATE:
    case FL_DELTA_T_TIMESTAMP:
    case FL_DELTA_T_TIMESTAMP_NTZ:
    case FL_DELTA_T_FLOAT:
    case FL_DELTA_T_DOUBLE: return true;
    default: return false;
    }
}

static bool is_null(const fl_pq_val *v) { return v->kind == FL_PQ_V_NULL || v->kind == FL_PQ_V_SKIPPED; }

/* Order of two scalars of one column: null < any value; integers and floats by value,
 * bytes lexicographically. */
static int cmp_scalar(const fl_pq_val *x, const fl_pq_val *y)
{
    bool xn = is_null(x), yn = is_null(y);
    if (xn || yn) return xn == yn ? 0 : (xn ? -1 : 1);
    if (x->kind == FL_PQ_V_BYTES && y->kind == FL_PQ_V_BYTES) return fl_str_cmp(x->v.bytes, y->v.bytes);
    bool xi = x->kind == FL_PQ_V_I32 || x->kind == FL_PQ_V_I64 || x->kind == FL_PQ_V_BOOL;
    bool yi = y->kind == FL_PQ_V_I32 || y->kind == FL_PQ_V_I64 || y->kind == FL_PQ_V_BOOL;
    if (xi && yi) {
        int64_t a = x->kind == FL_PQ_V_I32 ? x->v.i32 : x->kind == FL_PQ_V_I64 ? x->v.i64 : x->v.b;
        int64_t b = y->kind == FL_PQ_V_I32 ? y->v.i32 : y->kind == FL_PQ_V_I64 ? y->v.i64 : y->v.b;
        return a < b ? -1 : a > b;
    }
    double a = x->kind == FL_PQ_V_F32 ? x->v.f32 : x->kind == FL_PQ_V_F64 ? x->v.f64 : x->kind == FL_PQ_V_I32 ? x->v.i32 : (double)x->v.i64;
    double b = y->kind == FL_PQ_V_F32 ? y->v.f32 : y->kind == FL_PQ_V_F64 ? y->v.f64 : y->kind == FL_PQ_V_I32 ? y->v.i32 : (double)y->v.i64;
    return a < b ? -1 : a > b;
}

/* Encode the key items of row into b; false when a key item is null (or not a scalar).
 * Integers: 'i' + 8 bytes big-endian; bytes: 's' + 4-byte big-endian length + bytes. */
static bool enc_key(const fl_delta_merge *m, const fl_pq_val *row, fl_buf *b)
{
    fl_buf_clear(b);
    size_t need = 0;
    for (size_t k = 0; k < m->nk; k++) {
        const fl_pq_val *v = &row->v.items[m->kidx[k]];
        switch (v->kind) {
        case FL_PQ_V_I32:
        case FL_PQ_V_I64:
        case FL_PQ_V_BOOL: need += 9; break;
        case FL_PQ_V_BYTES:
            if (v->v.bytes.len > UINT32_MAX) return false;
            need += 5 + v->v.bytes.len;
            break;
        default: return false;
        }
    }
    if (fl_buf_reserve(b, need)) return false;
    uint8_t *q = (uint8_t *)b->ptr;
    for (size_t k = 0; k < m->nk; k++) {
        const fl_pq_val *v = &row->v.items[m->kidx[k]];
        if (v->kind == FL_PQ_V_BYTES) {
            uint32_t len = (uint32_t)v->v.bytes.len;
            q[0] = 's';
            for (int j = 0; j < 4; j++) q[1 + j] = (uint8_t)(len >> (24 - 8 * j));
            if (len) memcpy(q + 5, v->v.bytes.ptr, len);
            q += 5 + len;
        } else {
            int64_t i = v->kind == FL_PQ_V_I32 ? v->v.i32 : v->kind == FL_PQ_V_I64 ? v->v.i64 : v->v.b;
            q[0] = 'i';
            for (int j = 0; j < 8; j++) q[1 + j] = (uint8_t)((uint64_t)i >> (56 - 8 * j));
            q += 9;
        }
    }
    b->len = need;
    b->ptr[need] = 0;
    return true;
}

static bool copy_val(fl_arena *a, const fl_pq_val *src, fl_pq_val *dst, unsigned depth)
{
    *dst = *src;
    if (depth > FL_DELTA_MAX_SCHEMA_DEPTH) return false;
    switch (src->kind) {
    case FL_PQ_V_BYTES:
        if (src->v.bytes.len) {
            dst->v.bytes = fl_arena_str_dup(a, src->v.bytes);
            if (!dst->v.bytes.ptr) return false;
        }
        return true;
    case FL_PQ_V_STRUCT:
    case FL_PQ_V_LIST:
    case FL_PQ_V_MAP: {
        size_t n = src->kind == FL_PQ_V_MAP ? 2 * (size_t)src->n : src->n;
        if (!n) {
            dst->v.items = NULL;
            return true;
        }
        fl_pq_val *items = fl_arena_alloc(a, n * sizeof *items);
        if (!items) return false;
        for (size_t i = 0; i < n; i++)
            if (!copy_val(a, &src->v.items[i], &items[i], depth + 1)) return false;
        dst->v.items = items;
        return true;
    }
    default: return true;
    }
}

static fl_rc copy_fail(fl_delta_merge *m, fl_err *err)
{
    if (fl_arena_total(&m->a) + ((size_t)1 << 20) >= m->max_bytes)
        return fl_err_set(err, FL_E_LIMIT,
                          "merge: the batch's rows exceed max_bytes (%zu bytes); split the input into smaller merges",
                          m->max_bytes);
    return fl_err_set(err, FL_E_NOMEM, "merge: out of memory");
}

static long col_index(const fl_delta_type *sch, const char *name)
{
    const fl_delta_field *f = fl_delta_type_find(sch, fl_str_c(name));
    return f ? (long)(f - sch->fields) : -1;
}

fl_rc fl_delta_merge_new(fl_delta_txn *txn, const fl_delta_merge_opts *o, fl_delta_merge **out, fl_err *err)
{
    *out = NULL;
    if (!o || !o->n_key_columns || o->n_key_columns > FL_DELTA_MAX_MERGE_KEYS || !o->key_columns)
        return fl_err_set(err, FL_E_ARG, "merge: 1 to %u key columns are needed", FL_DELTA_MAX_MERGE_KEYS);
    if (txn->new_schema) return fl_err_set(err, FL_E_STATE, "merge: the txn changes the schema; merge in its own txn");
    if (txn->guard) return fl_err_set(err, FL_E_STATE, "merge: the txn already ran a merge (one per txn)");
    const fl_delta_snapshot *s = txn->snap;
    const fl_delta_type *sch = fl_delta_snapshot_get_schema(s);
    if (delta_config_bool(s, "delta.appendOnly", false))
        return fl_err_set(err, FL_E_DELTA_PROTOCOL, "merge: %s is append-only (delta.appendOnly=true): rows cannot be "
                          "updated or deleted", fl_store_get_url(txn->t->st));
    fl_delta_merge *m = fl_calloc(1, sizeof *m);
    if (!m) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    m->txn = txn;
    m->s = s;
    m->sch = sch;
    m->max_rows = o->max_rows ? o->max_rows : FL_DELTA_MAX_MERGE_ROWS;
    m->max_bytes = o->max_bytes ? o->max_bytes : FL_DELTA_MAX_MERGE_BYTES;
    fl_arena_init(&m->a, 0, m->max_bytes);
    fl_vec_init(&m->ents, sizeof(merge_ent));
    fl_vec_init(&m->read_paths, sizeof(fl_str));
    fl_map_init(&m->idx);
    fl_buf_init(&m->kb, 0);
    fl_buf_init(&m->cdata, FL_DELTA_MAX_SCAN_FILE_BYTES);
    fl_arena_init(&m->carena, (size_t)4 << 20, 0);
    m->ties_to_source = o->ties_to_source;
    m->wo = o->write_opts;
    m->nw = m->sd = -1;
    m->no_columnar = !fl_str_eq_c(fl_delta_snapshot_get_config(s, "delta.columnMapping.mode", FL_STR("none")), "none");
    fl_rc rc = FL_OK;
    for (size_t k = 0; k < o->n_key_columns; k++) {
        const char *name = o->key_columns[k] ? o->key_columns[k] : "";
        long ci = col_index(sch, name);
        if (ci < 0) FL_FAIL(FL_E_ARG, "merge: key column '%s' is not a top-level column of the table", name);
        if (!key_kind_ok(sch->fields[ci].type->kind))
            FL_FAIL(FL_E_ARG, "merge: key column '%s' is a %s; keys must be string, binary, integer, date, timestamp or boolean columns",
                    name, delta_kind_name(sch->fields[ci].type->kind));
        for (size_t j = 0; j < k; j++)
            if (m->kidx[j] == (size_t)ci) FL_FAIL(FL_E_ARG, "merge: key column '%s' named twice", name);
        m->kidx[k] = (size_t)ci;
    }
    m->nk = o->n_key_columns;
    if (o->newer_wins) {
        m->nw = col_index(sch, o->newer_wins);
        if (m->nw < 0) FL_FAIL(FL_E_ARG, "merge: newer-wins column '%s' is not a top-level column", o->newer_wins);
        if (!nw_kind_ok(sch->fields[m->nw].type->kind))
            FL_FAIL(FL_E_ARG, "merge: newer-wins column '%s' is a %s; use a number, date, timestamp or string column",
                    o->newer_wins, delta_kind_name(sch->fields[m->nw].type->kind));
    }
    if (o->soft_delete_column) {
        m->sd = col_index(sch, o->soft_delete_column);
        fl_delta_kind k = m->sd >= 0 ? sch->fields[m->sd].type->kind : FL_DELTA_T_OTHER;
        if (k != FL_DELTA_T_BOOLEAN && k != FL_DELTA_T_INTEGER && k != FL_DELTA_T_LONG && k != FL_DELTA_T_SHORT &&
            k != FL_DELTA_T_BYTE)
            FL_FAIL(FL_E_ARG, "merge: soft-delete column '%s' must be a top-level boolean or integer column",
                    o->soft_delete_column);
        for (size_t j = 0; j < m->nk; j++)
            if (m->kidx[j] == (size_t)m->sd) FL_FAIL(FL_E_ARG, "merge: the soft-delete column cannot be a key column");
    }
    for (size_t k = 0; k < s->meta.n_partition_columns && !m->part_refused; k++) {
        const fl_delta_field *f = fl_delta_type_find(sch, s->meta.partition_columns[k]);
        switch (f ? f->type->kind : FL_DELTA_T_OTHER) {
        case FL_DELTA_T_STRING:
        case FL_DELTA_T_LONG:
        case FL_DELTA_T_INTEGER:
        case FL_DELTA_T_SHORT:
        case FL_DELTA_T_BYTE:
        case FL_DELTA_T_BOOLEAN:
        case FL_DELTA_T_DATE:
        case FL_DELTA_T_TIMESTAMP:
        case FL_DELTA_T_TIMESTAMP_NTZ:
        case FL_DELTA_T_DECIMAL: break;
        default: m->part_refused = f ? f : &sch->fields[0]; break;
        }
    }
    *out = m;
    return FL_OK;
done:
    fl_delta_merge_free(m);
    return rc;
}

void fl_delta_merge_free(fl_delta_merge *m)
{
    if (!m) return;
    fl_arena_fini(&m->a);
    fl_vec_reset(&m->ents);
    fl_vec_reset(&m->read_paths);
    fl_map_reset(&m->idx);
    fl_buf_reset(&m->kb);
    fl_buf_reset(&m->cdata);
    fl_arena_fini(&m->carena);
    fl_free(m->bloom);
    fl_free(m->fstate);
    fl_free(m);
}

static fl_rc add_entry(fl_delta_merge *m, const fl_pq_val *row, uint8_t kind, fl_err *err)
{
    if (m->resolved || m->ran) return fl_err_set(err, FL_E_STATE, "merge: entries cannot be added after resolve/run");
    if (!row || row->kind != FL_PQ_V_STRUCT || row->n != m->sch->n_fields)
        return fl_err_set(err, FL_E_ARG, "merge: an entry must be a struct with one item per table column (%zu)",
                          m->sch->n_fields);
    if (m->ents.len >= m->max_rows)
        return fl_err_set(err, FL_E_LIMIT,
                          "merge: the batch is limited to %zu rows and keys (max_rows); split the input into smaller merges",
                          m->max_rows);
    if (kind == ENT_ROW && m->part_refused)
        return fl_err_set(err, FL_E_UNSUPPORTED,
                          "merge: partition column " FL_STR_FMT " is a %s; inserting rows needs string, integer, "
                          "boolean, date, timestamp or decimal partition columns (write the rows yourself and name "
                          "their keys with fl_delta_merge_add_key)",
                          FL_STR_ARG(m->part_refused->name), delta_kind_name(m->part_refused->type->kind));
    size_t self = m->ents.len;
    merge_ent e = {.kind = kind};
    bool has_key = enc_key(m, row, &m->kb);
    if (m->kb.rc) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    if (!has_key && kind == ENT_DEL) return fl_err_set(err, FL_E_ARG, "merge: delete entry %zu has a null key", self);
    if (has_key) {
        e.key = fl_arena_str_dup(&m->a, fl_buf_str(&m->kb));
        if (!e.key.ptr) return copy_fail(m, err);
    }
    if (kind == ENT_ROW) {
        e.row = fl_arena_alloc(&m->a, sizeof *e.row);
        if (!e.row || !copy_val(&m->a, row, e.row, 0)) return copy_fail(m, err);
    }
    if (kind != ENT_DEL && m->nw >= 0) {
        const fl_pq_val *v = &row->v.items[m->nw];
        if (v->kind == FL_PQ_V_STRUCT || v->kind == FL_PQ_V_LIST || v->kind == FL_PQ_V_MAP)
            return fl_err_set(err, FL_E_ARG, "merge: entry %zu: the newer-wins value is not a scalar", self);
        if (!copy_val(&m->a, v, &e.nw, 0)) return copy_fail(m, err);
    }
    if (has_key) {
        bool found = false;
        uintptr_t old = (uintptr_t)fl_map_get(&m->idx, e.key, &found);
        bool take = true;
        if (found) {
            merge_ent *o = &FL_VEC_AT(&m->ents, merge_ent, old - 1);
            if ((o->kind == ENT_DEL) != (kind == ENT_DEL))
                return fl_err_set(err, FL_E_ARG,
                                  "merge: entries %zu and %zu have the same key, one deletes and one upserts it; "
                                  "decide which applies before merging",
                                  (size_t)(old - 1), self);
            if (kind != ENT_DEL && m->nw >= 0 && cmp_scalar(&e.nw, &o->nw) < 0) take = false;
            if (take) o->superseded = true;
            else e.superseded = true;
        }
        if (take && fl_map_put(&m->idx, e.key, (void *)(self + 1), NULL))
            return fl_err_set(err, FL_E_NOMEM, "out of memory");
    }
    if (fl_vec_push(&m->ents, &e)) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    return FL_OK;
}

fl_rc fl_delta_merge_add_row(fl_delta_merge *m, const fl_pq_val *row, fl_err *err) { return add_entry(m, row, ENT_ROW, err); }
fl_rc fl_delta_merge_add_key(fl_delta_merge *m, const fl_pq_val *row, fl_err *err) { return add_entry(m, row, ENT_KEY, err); }
fl_rc fl_delta_merge_add_delete(fl_delta_merge *m, const fl_pq_val *row, fl_err *err)
{
    return add_entry(m, row, ENT_DEL, err);
}

/* ------------------------------------------------------------------ guard (stats pruning) */

static int str_cmp_p(const void *a, const void *b) { return fl_str_cmp(*(const fl_str *)a, *(const fl_str *)b); }
static int i64_cmp_p(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The keys of the batch (winning entries with a key) per key column, sorted, in txn->a. */
static fl_rc build_guard(fl_delta_merge *m, fl_err *err)
{
    fl_arena *ta = &m->txn->a;
    delta_key_guard *g = fl_arena_calloc(ta, 1, sizeof *g);
    if (!g) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    g->n_cols = m->nk;
    size_t n = 0;
    for (size_t i = 0; i < m->ents.len; i++) {
        const merge_ent *e = &FL_VEC_AT(&m->ents, merge_ent, i);
        if (e->key.ptr && !e->superseded) n++;
    }
    for (size_t k = 0; k < m->nk; k++) {
        const fl_delta_field *f = &m->sch->fields[m->kidx[k]];
        g->cols[k] = fl_arena_str_dup(ta, f->name);
        if (!g->cols[k].ptr) return fl_err_set(err, FL_E_NOMEM, "out of memory");
        fl_delta_kind kind = f->type->kind;
        g->col_kind[k] = kind == FL_DELTA_T_STRING ? 1
                       : (kind == FL_DELTA_T_LONG || kind == FL_DELTA_T_INTEGER || kind == FL_DELTA_T_SHORT ||
                          kind == FL_DELTA_T_BYTE)
                           ? 2
                           : 0;
        if (!g->col_kind[k] || !n) continue;
        if (g->col_kind[k] == 1) g->svals[k] = fl_arena_alloc(ta, n * sizeof(fl_str));
        else g->ivals[k] = fl_arena_alloc(ta, n * sizeof(int64_t));
        if (!g->svals[k] && !g->ivals[k]) return fl_err_set(err, FL_E_NOMEM, "out of memory");
        size_t j = 0;
        for (size_t i = 0; i < m->ents.len; i++) {
            const merge_ent *e = &FL_VEC_AT(&m->ents, merge_ent, i);
            if (!e->key.ptr || e->superseded) continue;
            /* decode column k from the encoded key */
            const uint8_t *p = (const uint8_t *)e->key.ptr;
            for (size_t c = 0;; c++) {
                if (p[0] == 'i') {
                    if (c == k) {
                        uint64_t u = 0;
                        for (int b = 0; b < 8; b++) u = u << 8 | p[1 + b];
                        g->ivals[k][j++] = (int64_t)u;
                        break;
                    }
                    p += 9;
                } else {
                    uint32_t len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
                    if (c == k) {
                        g->svals[k][j++] = fl_str_make((const char *)p + 5, len); /* points into m->a: copied below */
                        break;
                    }
                    p += 5 + len;
                }
            }
        }
        if (g->col_kind[k] == 1) {
            for (size_t i = 0; i < j; i++) {
                fl_str c = fl_arena_str_dup(ta, g->svals[k][i]);
                if (!c.ptr && g->svals[k][i].len) return fl_err_set(err, FL_E_NOMEM, "out of memory");
                g->svals[k][i] = c;
            }
            qsort(g->svals[k], j, sizeof(fl_str), str_cmp_p);
        } else {
            qsort(g->ivals[k], j, sizeof(int64_t), i64_cmp_p);
        }
        g->nvals[k] = j;
    }
    m->guard = g;
    return FL_OK;
}

bool delta_guard_may_hold(const delta_key_guard *g, const fl_delta_file *f, fl_arena *scratch)
{
    fl_json_val *st = NULL;
    if (!f->stats.len || fl_json_parse(f->stats.ptr, f->stats.len, NULL, scratch, &st, NULL, NULL) != FL_OK) return true;
    int64_t nrec = -1;
    if (!fl_json_as_i64(fl_json_get_c(st, "numRecords"), &nrec)) nrec = -1;
    if (nrec == 0) return false;
    for (size_t k = 0; k < g->n_cols; k++) {
        int64_t nulls;
        if (nrec > 0 && fl_json_as_i64(fl_json_get(fl_json_get_c(st, "nullCount"), g->cols[k]), &nulls) && nulls == nrec)
            return false; /* only null keys in this file: nothing can match */
        if (!g->col_kind[k]) continue;
        const fl_json_val *mn = fl_json_get(fl_json_get_c(st, "minValues"), g->cols[k]);
        const fl_json_val *mx = fl_json_get(fl_json_get_c(st, "maxValues"), g->cols[k]);
        size_t n = g->nvals[k];
        if (g->col_kind[k] == 1) {
            if (!fl_json_is_str(mn) || !fl_json_is_str(mx)) continue;
            fl_str lo = fl_json_str(mn), hi = fl_json_str(mx);
            size_t l = 0, h = n;
            while (l < h) {
                size_t mid = l + (h - l) / 2;
                if (fl_str_cmp(g->svals[k][mid], lo) < 0) l = mid + 1;
                else h = mid;
            }
            /* a truncated min is a prefix (<= every value); a truncated max is still an upper bound */
            if (!(l < n && fl_str_cmp(g->svals[k][l], hi) <= 0)) return false;
        } else {
            int64_t lo, hi;
            if (!fl_json_as_i64(mn, &lo) || !fl_json_as_i64(mx, &hi)) continue;
            size_t l = 0, h = n;
            while (l < h) {
                size_t mid = l + (h - l) / 2;
                if (g->ivals[k][mid] < lo) l = mid + 1;
                else h = mid;
            }
            if (!(l < n && g->ivals[k][l] <= hi)) return false;
        }
    }
    return true;
}

bool delta_guard_read(const delta_key_guard *g, fl_str path)
{
    size_t l = 0, h = g->n_read;
    while (l < h) {
        size_t mid = l + (h - l) / 2;
        int c = fl_str_cmp(g->read_paths[mid], path);
        if (c == 0) return true;
        if (c < 0) l = mid + 1;
        else h = mid;
    }
    return false;
}

/* ------------------------------------------------------------------ resolve and run */

/* Hash of one key item's value bytes (integers as in enc_key, 8 bytes big-endian; bytes
 * as they are), for the prefilter. */
static uint64_t key_hash0(const void *p, size_t n, char tag)
{
    return fl_str_hash(fl_str_make(n ? (const char *)p : "", n)) + (uint64_t)(tag == 's');
}

static fl_rc prepare(fl_delta_merge *m, fl_err *err)
{
    if (m->guard) return FL_OK;
    size_t nf = fl_delta_snapshot_num_files(m->s);
    m->fstate = fl_calloc(nf ? nf : 1, 1);
    if (!m->fstate) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    /* a filter in front of the key map: most target rows hold no key of the batch */
    uint64_t bits = 1024;
    while (bits < 16 * (uint64_t)m->idx.len && bits < ((uint64_t)1 << 27)) bits *= 2;
    m->bloom = fl_calloc((size_t)(bits / 64), sizeof *m->bloom);
    if (!m->bloom) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    m->bmask = bits - 1;
    size_t it = 0;
    for (const fl_map_entry *e; (e = fl_map_next(&m->idx, &it)) != NULL;) {
        const uint8_t *p = (const uint8_t *)e->key.ptr; /* first component of the encoded key */
        uint64_t h;
        if (p[0] == 'i') h = key_hash0(p + 1, 8, 'i');
        else h = key_hash0(p + 5, (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4], 's');
        h &= m->bmask;
        m->bloom[h >> 6] |= (uint64_t)1 << (h & 63);
    }
    return build_guard(m, err);
}

static fl_rc mark_read(fl_delta_merge *m, size_t fi, fl_err *err)
{
    if (m->fstate[fi] & FS_READ) return FL_OK;
    m->fstate[fi] |= FS_READ;
    fl_str p = fl_delta_snapshot_get_file(m->s, fi)->path;
    if (fl_vec_push(&m->read_paths, &p)) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    return FL_OK;
}

/* Scan of snapshot file fi; `keys_only` decodes just the key and newer-wins columns
 * (enough to match rows), else every column (for rewriting). */
static fl_rc open_scan(fl_delta_merge *m, size_t fi, bool keys_only, fl_delta_scan **sc, fl_err *err)
{
    fl_rc rc = fl_delta_scan_open_files(m->txn->t, m->s, &fi, 1, sc, err);
    if (rc || !keys_only) return rc;
    const char *cols[FL_DELTA_MAX_MERGE_KEYS + 1];
    char names[FL_DELTA_MAX_MERGE_KEYS + 1][256];
    size_t n = 0;
    for (size_t k = 0; k <= m->nk; k++) {
        long ci = k < m->nk ? (long)m->kidx[k] : m->nw;
        if (ci < 0) continue;
        fl_str nm = m->sch->fields[ci].name;
        if (nm.len >= sizeof names[0]) return FL_OK; /* unusual name: decode everything */
        memcpy(names[n], nm.ptr, nm.len);
        names[n][nm.len] = 0;
        cols[n] = names[n];
        n++;
    }
    return fl_delta_scan_select(*sc, cols, n, err);
}

/* The batch's winning entry for the key of a target row, or NULL. */
static merge_ent *lookup(fl_delta_merge *m, const fl_pq_val *row)
{
    if (m->bloom) { /* the first key item alone rules out most rows, before encoding */
        const fl_pq_val *v = &row->v.items[m->kidx[0]];
        uint64_t h;
        if (v->kind == FL_PQ_V_BYTES) {
            h = key_hash0(v->v.bytes.ptr, v->v.bytes.len, 's');
        } else if (v->kind == FL_PQ_V_I32 || v->kind == FL_PQ_V_I64 || v->kind == FL_PQ_V_BOOL) {
            int64_t i = v->kind == FL_PQ_V_I32 ? v->v.i32 : v->kind == FL_PQ_V_I64 ? v->v.i64 : v->v.b;
            uint8_t be[8];
            for (int j = 0; j < 8; j++) be[j] = (uint8_t)((uint64_t)i >> (56 - 8 * j));
            h = key_hash0(be, 8, 'i');
        } else {
            return NULL; /* null or not a scalar: no key */
        }
        h &= m->bmask;
        if (!(m->bloom[h >> 6] >> (h & 63) & 1)) return NULL;
    }
    if (!enc_key(m, row, &m->kb)) return NULL;
    uintptr_t i = (uintptr_t)fl_map_get(&m->idx, fl_buf_str(&m->kb), NULL);
    return i ? &FL_VEC_AT(&m->ents, merge_ent, i - 1) : NULL;
}

fl_rc fl_delta_merge_resolve(fl_delta_merge *m, fl_err *err)
{
    if (m->resolved) return FL_OK;
    fl_rc rc = prepare(m, err);
    if (rc) return rc;
    fl_arena ra;
    fl_arena_init(&ra, 0, 0);
    fl_delta_scan *sc = NULL;
    size_t nf = fl_delta_snapshot_num_files(m->s);
    for (size_t fi = 0; fi < nf && m->nw >= 0 && m->idx.len; fi++) {
        fl_arena_reset(&ra);
        if (!delta_guard_may_hold(m->guard, fl_delta_snapshot_get_file(m->s, fi), &ra)) continue;
        FL_TRY(mark_read(m, fi, err));
        FL_TRY(open_scan(m, fi, true, &sc, err));
        for (;;) {
            fl_arena_reset(&ra);
            fl_pq_val *row;
            rc = fl_delta_scan_next(sc, &ra, &row, err);
            if (rc == FL_E_EOF) break;
            if (rc) goto done;
            merge_ent *e = lookup(m, row);
            if (!e) continue;
            m->fstate[fi] |= FS_HELD;
            if (e->kind == ENT_DEL || e->lost) continue;
            int c = cmp_scalar(&e->nw, &row->v.items[m->nw]);
            if (c < 0 || (c == 0 && !m->ties_to_source)) e->lost = true;
        }
        rc = FL_OK;
        fl_delta_scan_close(sc);
        sc = NULL;
    }
    m->resolved = true;
done:
    fl_delta_scan_close(sc);
    fl_arena_fini(&ra);
    if (rc) fl_err_prefix(err, "merge into %s: ", fl_store_get_url(m->txn->t->st));
    return rc;
}

bool fl_delta_merge_lost(const fl_delta_merge *m, size_t i)
{
    if (i >= m->ents.len) return true;
    const merge_ent *e = &FL_VEC_AT(&m->ents, merge_ent, i);
    return e->lost || e->superseded;
}

static bool is_part_col(const fl_delta_snapshot *s, fl_str name)
{
    for (size_t k = 0; k < s->meta.n_partition_columns; k++)
        if (fl_str_eq(s->meta.partition_columns[k], name)) return true;
    return false;
}

static fl_rc write_row(fl_delta_merge *m, fl_pq_writer *w, const fl_pq_val *row, fl_err *err)
{
    const fl_delta_type *sch = m->sch;
    for (size_t i = 0; i < sch->n_fields; i++) {
        if (is_part_col(m->s, sch->fields[i].name)) continue;
        if (!delta_put_val(w, sch->fields[i].type, &row->v.items[i], 0))
            return fl_err_set(err, FL_E_ARG, "merge: a value of column " FL_STR_FMT " does not fit its type",
                              FL_STR_ARG(sch->fields[i].name));
    }
    fl_rc rc = fl_pq_writer_end_row(w);
    if (rc && err) *err = *fl_pq_writer_err(w);
    return rc;
}

/* An entry that changes the target rows holding its key. */
static bool active(const merge_ent *e) { return e && !e->lost && !e->superseded; }

static int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b) != 0 && ((a < 0) != (b < 0))); }

/* Partition value text of a scanned scalar of type t (PROTOCOL.md "Partition Value
 * Serialization"); appended to b. false for a null value. */
static bool part_text(const fl_delta_type *t, const fl_pq_val *v, fl_buf *b)
{
    if (is_null(v)) return false;
    int64_t y;
    unsigned mo, d;
    switch (t->kind) {
    case FL_DELTA_T_BOOLEAN: fl_buf_append_c(b, v->v.b ? "true" : "false"); return true;
    case FL_DELTA_T_DATE:
        fl_civil_from_days(v->v.i32, &y, &mo, &d);
        fl_buf_printf(b, "%04lld-%02u-%02u", (long long)y, mo, d);
        return true;
    case FL_DELTA_T_TIMESTAMP:
    case FL_DELTA_T_TIMESTAMP_NTZ: {
        int64_t secs = floor_div(v->v.i64, 1000000), us = v->v.i64 - secs * 1000000;
        int64_t days = floor_div(secs, 86400), rem = secs - days * 86400;
        fl_civil_from_days(days, &y, &mo, &d);
        fl_buf_printf(b, "%04lld-%02u-%02u %02lld:%02lld:%02lld", (long long)y, mo, d, (long long)(rem / 3600),
                      (long long)(rem / 60 % 60), (long long)(rem % 60));
        if (us) fl_buf_printf(b, ".%06lld", (long long)us);
        return true;
    }
    default: break;
    }
    switch (v->kind) {
    case FL_PQ_V_I32: fl_buf_printf(b, "%d", v->v.i32); return true;
    case FL_PQ_V_I64: fl_buf_printf(b, "%lld", (long long)v->v.i64); return true;
    case FL_PQ_V_BYTES: fl_buf_append_str(b, v->v.bytes); return true;
    default: return false;
    }
}

typedef struct ins_row {
    fl_str pkey; /* partition values text ("=v\x1f" / "~\x1f" per column), "" unpartitioned */
    size_t ent;
} ins_row;

static int ins_cmp(const void *a, const void *b)
{
    const ins_row *x = a, *y = b;
    int c = fl_str_cmp(x->pkey, y->pkey);
    return c ? c : (x->ent < y->ent ? -1 : x->ent > y->ent);
}

/* Partition values of row for file_open (strings in a). */
static fl_rc row_pvals(fl_delta_merge *m, const fl_pq_val *row, fl_arena *a, fl_delta_kv *kv, fl_buf *tmp, fl_err *err)
{
    const fl_delta_metadata *md = &m->s->meta;
    for (size_t k = 0; k < md->n_partition_columns; k++) {
        const fl_delta_field *f = fl_delta_type_find(m->sch, md->partition_columns[k]);
        fl_buf_clear(tmp);
        kv[k].key = md->partition_columns[k];
        kv[k].has_val = f && part_text(f->type, &row->v.items[f - m->sch->fields], tmp);
        kv[k].val = kv[k].has_val ? fl_arena_str_dup(a, fl_buf_str(tmp)) : FL_STR_NULL;
        if (tmp->rc || (kv[k].has_val && !kv[k].val.ptr && tmp->len))
            return fl_err_set(err, FL_E_NOMEM, "out of memory");
    }
    return FL_OK;
}

/* Write the winning add_row rows: one new file per partition. */
static fl_rc insert_rows(fl_delta_merge *m, fl_delta_merge_result *res, fl_err *err)
{
    const fl_delta_metadata *md = &m->s->meta;
    size_t np = md->n_partition_columns, n = 0;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_buf tmp, pk;
    fl_buf_init(&tmp, 0);
    fl_buf_init(&pk, 0);
    fl_rc rc = FL_OK;
    ins_row *rows = fl_malloc((m->ents.len ? m->ents.len : 1) * sizeof *rows);
    fl_delta_kv *kv = fl_arena_alloc(&a, (np ? np : 1) * sizeof *kv);
    if (!rows || !kv) FL_FAIL(FL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < m->ents.len; i++) {
        const merge_ent *e = &FL_VEC_AT(&m->ents, merge_ent, i);
        if (e->kind != ENT_ROW || !active(e)) continue;
        FL_TRY(row_pvals(m, e->row, &a, kv, &tmp, err));
        fl_buf_clear(&pk);
        for (size_t k = 0; k < np; k++) {
            fl_buf_putc(&pk, kv[k].has_val ? '=' : '~');
            fl_buf_append_str(&pk, kv[k].val);
            fl_buf_putc(&pk, 0x1f);
        }
        if (pk.rc) FL_FAIL(FL_E_NOMEM, "out of memory");
        rows[n].pkey = pk.len ? fl_arena_str_dup(&a, fl_buf_str(&pk)) : FL_STR("");
        if (!rows[n].pkey.ptr) FL_FAIL(FL_E_NOMEM, "out of memory");
        rows[n++].ent = i;
    }
    qsort(rows, n, sizeof *rows, ins_cmp);
    for (size_t i = 0; i < n;) {
        const merge_ent *first = &FL_VEC_AT(&m->ents, merge_ent, rows[i].ent);
        FL_TRY(row_pvals(m, first->row, &a, kv, &tmp, err));
        fl_pq_writer *w = NULL;
        FL_TRY(fl_delta_txn_file_open(m->txn, kv, np, m->wo, &w, err));
        size_t j = i;
        for (; j < n && fl_str_eq(rows[j].pkey, rows[i].pkey); j++)
            FL_TRY(write_row(m, w, FL_VEC_AT(&m->ents, merge_ent, rows[j].ent).row, err));
        FL_TRY(fl_delta_txn_file_close(m->txn, err));
        res->files_added++;
        i = j;
    }
done:
    if (rc) fl_delta_txn_file_abort(m->txn);
    fl_free(rows);
    fl_buf_reset(&tmp);
    fl_buf_reset(&pk);
    fl_arena_fini(&a);
    return rc;
}


/* Rewrite snapshot file fi without (or with flagged) rows of active entries. */
static fl_rc rewrite_file(fl_delta_merge *m, size_t fi, fl_arena *ra, fl_delta_merge_result *res, fl_err *err)
{
    const fl_delta_file *f = fl_delta_snapshot_get_file(m->s, fi);
    fl_delta_scan *sc = NULL;
    fl_pq_writer *w = NULL;
    int64_t keep = 0;
    fl_rc rc = fl_delta_scan_open_files(m->txn->t, m->s, &fi, 1, &sc, err);
    if (rc) goto done;
    FL_TRY(fl_delta_txn_file_open(m->txn, f->partition_values, f->n_partition_values, m->wo, &w, err));
    for (;;) {
        fl_arena_reset(ra);
        fl_pq_val *row;
        rc = fl_delta_scan_next(sc, ra, &row, err);
        if (rc == FL_E_EOF) break;
        if (rc) goto done;
        merge_ent *e = lookup(m, row);
        if (active(e)) {
            e->matched = true;
            if (e->kind == ENT_DEL) {
                res->rows_deleted++;
                if (m->sd >= 0) {
                    fl_pq_val *v = &row->v.items[m->sd];
                    switch (m->sch->fields[m->sd].type->kind) {
                    case FL_DELTA_T_BOOLEAN: *v = (fl_pq_val){.kind = FL_PQ_V_BOOL, .v.b = true}; break;
                    case FL_DELTA_T_LONG: *v = (fl_pq_val){.kind = FL_PQ_V_I64, .v.i64 = 1}; break;
                    default: *v = (fl_pq_val){.kind = FL_PQ_V_I32, .v.i32 = 1}; break;
                    }
                    FL_TRY(write_row(m, w, row, err));
                    keep++;
                    continue;
                }
            }
            res->target_rows_removed++;
            continue;
        }
        FL_TRY(write_row(m, w, row, err));
        keep++;
    }
    rc = FL_OK;
    fl_delta_scan_close(sc);
    sc = NULL;
    if (keep) {
        FL_TRY(fl_delta_txn_file_close(m->txn, err));
        m->txn->records_added -= keep; /* rewritten rows are not new rows */
        res->files_added++;
    } else {
        fl_delta_txn_file_abort(m->txn);
    }
    FL_TRY(fl_delta_txn_remove_file(m->txn, f->path, err));
    res->files_removed++;
done:
    if (rc) fl_delta_txn_file_abort(m->txn);
    fl_delta_scan_close(sc);
    return rc;
}

/* ------------------------------------------------------------------ columnar rewrite */

/* Per table column of a columnar rewrite. */
typedef struct col_map {
    int leaf;   /* leaf index in the data file; -1 for a partition column */
    int16_t max_def; /* of that leaf in the file */
    bool wopt;  /* OPTIONAL in the new file */
    fl_pq_phys phys;
} col_map;

static bool same_pq_type(const fl_pq_type *a, const fl_pq_type *b)
{
    if (a->phys != b->phys || a->logical != b->logical) return false;
    if (a->phys == FL_PQ_FIXED_LEN_BYTE_ARRAY && a->type_length != b->type_length) return false;
    switch (a->logical) {
    case FL_PQ_LT_DECIMAL: return a->precision == b->precision && a->scale == b->scale;
    case FL_PQ_LT_INT: return a->bit_width == b->bit_width && a->is_signed == b->is_signed;
    case FL_PQ_LT_TIMESTAMP: return a->unit == b->unit && a->adjusted_utc == b->adjusted_utc;
    default: return true;
    }
}

/* Can a file with Parquet schema ps be copied column by column? Every non-partition
 * column of the table must be a primitive the file holds as a top-level leaf under its
 * exact name, with the Parquet type the writer gives it (values copy unchanged: no
 * widening, unit or decimal conversion) and a repetition the new file accepts; key and
 * soft-delete columns must not be partition columns. Fills cm (one per table field). */
static bool columnar_ok(const fl_delta_merge *m, const fl_pq_schema *ps, col_map *cm)
{
    const fl_delta_type *sch = m->sch;
    for (size_t i = 0; i < sch->n_fields; i++) {
        const fl_delta_field *fd = &sch->fields[i];
        cm[i].leaf = -1;
        if (is_part_col(m->s, fd->name)) continue;
        fl_pq_type want;
        char nm[256];
        if (!delta_pq_type(fd->type, &want) || fd->name.len >= sizeof nm) return false;
        memcpy(nm, fd->name.ptr, fd->name.len);
        nm[fd->name.len] = 0;
        int id = fl_pq_schema_find(ps, 0, nm);
        const fl_pq_node *nd = id > 0 ? fl_pq_schema_node(ps, id) : NULL;
        if (!nd || nd->leaf < 0 || nd->max_rep || nd->rep == FL_PQ_REPEATED || !same_pq_type(&nd->type, &want))
            return false;
        if (!fd->nullable && nd->rep != FL_PQ_REQUIRED) return false;
        cm[i] = (col_map){.leaf = nd->leaf, .max_def = nd->max_def, .wopt = fd->nullable, .phys = want.phys};
    }
    for (size_t k = 0; k < m->nk; k++)
        if (cm[m->kidx[k]].leaf < 0) return false;
    return m->sd < 0 || cm[m->sd].leaf >= 0;
}

static size_t phys_width(fl_pq_phys p)
{
    switch (p) {
    case FL_PQ_BOOLEAN: return 1;
    case FL_PQ_INT32:
    case FL_PQ_FLOAT: return 4;
    case FL_PQ_INT64:
    case FL_PQ_DOUBLE: return 8;
    default: return sizeof(fl_str);
    }
}

/* One decoded column of the current row group, with a cursor over its dense values. */
typedef struct ccol {
    fl_pq_column c;
    bool loaded;
} ccol;

/* Key of row i of the row group into m->kb (through a row whose key items are set from
 * the key columns; vi[k] is the dense value cursor of key k). NULL when no entry wins. */
static merge_ent *lookup_cols(fl_delta_merge *m, const col_map *cm, const ccol *cc, size_t *vi, size_t i,
                              fl_pq_val *row)
{
    bool null_key = false;
    for (size_t k = 0; k < m->nk; k++) {
        size_t ci = m->kidx[k];
        const fl_pq_column *c = &cc[ci].c;
        fl_pq_val *v = &row->v.items[ci];
        if (c->def_levels && c->def_levels[i] < cm[ci].max_def) {
            null_key = true;
            continue;
        }
        size_t j = vi[k]++;
        switch (cm[ci].phys) {
        case FL_PQ_BOOLEAN: *v = (fl_pq_val){.kind = FL_PQ_V_BOOL, .v.b = ((const uint8_t *)c->values)[j] != 0}; break;
        case FL_PQ_INT32: *v = (fl_pq_val){.kind = FL_PQ_V_I32, .v.i32 = ((const int32_t *)c->values)[j]}; break;
        case FL_PQ_INT64: *v = (fl_pq_val){.kind = FL_PQ_V_I64, .v.i64 = ((const int64_t *)c->values)[j]}; break;
        default: *v = (fl_pq_val){.kind = FL_PQ_V_BYTES, .v.bytes = ((const fl_str *)c->values)[j]}; break;
        }
    }
    return null_key ? NULL : lookup(m, row);
}

static fl_rc load_col(fl_pq_reader *r, int rg, const col_map *cm, ccol *cc, fl_arena *a, int64_t rows, fl_err *err)
{
    if (cc->loaded) return FL_OK;
    fl_rc rc = fl_pq_reader_read_column(r, rg, cm->leaf, a, &cc->c, err);
    if (rc) return rc;
    if (cc->c.num_levels != (size_t)rows || (!cc->c.def_levels && cc->c.num_values != (size_t)rows))
        return fl_err_set(err, FL_E_PQ_FORMAT, "row group %d: a column holds %zu values for %lld rows", rg,
                          cc->c.num_levels, (long long)rows);
    cc->loaded = true;
    return FL_OK;
}

/* Rewrite snapshot file fi column by column when columnar_ok (else *handled = false and
 * nothing is changed: the caller takes the row path). The file is fetched once; the key
 * columns of its row groups are decoded until a row that changes is found (none: the
 * file stays, nothing else is decoded); then each row group is decoded column by column
 * and its surviving rows go to the new file as one batch (one row group of the file in
 * memory besides the file's bytes). */
static fl_rc rewrite_columnar(fl_delta_merge *m, size_t fi, fl_delta_merge_result *res, bool *handled, fl_err *err)
{
    *handled = false;
    const fl_delta_file *f = fl_delta_snapshot_get_file(m->s, fi);
    if (m->no_columnar || f->dv.len) return FL_OK;
    const fl_delta_type *sch = m->sch;
    size_t nf = sch->n_fields;
    fl_buf *data = &m->cdata;
    fl_arena *a = &m->carena;
    fl_pq_reader *r = NULL;
    fl_pq_writer *w = NULL;
    col_map *cm = fl_calloc(nf ? nf : 1, sizeof *cm);
    ccol *cc = fl_calloc(nf ? nf : 1, sizeof *cc);
    fl_pq_colvec *cv = fl_calloc(nf ? nf : 1, sizeof *cv);
    fl_pq_val *items = fl_calloc(nf ? nf : 1, sizeof *items);
    int64_t keep = 0;
    fl_rc rc = FL_OK;
    if (!cm || !cc || !cv || !items) FL_FAIL(FL_E_NOMEM, "out of memory");
    FL_TRY(delta_load_file(m->txn->t, f, data, err));
    if ((rc = fl_pq_reader_open_mem(data->ptr, data->len, NULL, &r, err)) != FL_OK) {
        fl_err_prefix(err, FL_STR_FMT ": ", FL_STR_ARG(f->path));
        goto done;
    }
    if (!columnar_ok(m, fl_pq_reader_get_schema(r), cm)) goto done; /* row path */
    *handled = true;
    fl_pq_val row = {.kind = FL_PQ_V_STRUCT, .n = (uint32_t)nf, .v.items = items};
    int nrg = fl_pq_reader_num_row_groups(r);
    /* does any row change? (the key columns of the first row group with a change stay decoded) */
    int first = nrg;
    for (int g = 0; g < nrg && first == nrg; g++) {
        fl_arena_reset(a);
        memset(cc, 0, nf * sizeof *cc);
        int64_t rows = fl_pq_reader_rg_num_rows(r, g);
        size_t vi[FL_DELTA_MAX_MERGE_KEYS] = {0};
        for (size_t k = 0; k < m->nk; k++) FL_TRY(load_col(r, g, &cm[m->kidx[k]], &cc[m->kidx[k]], a, rows, err));
        for (int64_t i = 0; i < rows; i++)
            if (active(lookup_cols(m, cm, cc, vi, (size_t)i, &row))) {
                first = g;
                break;
            }
    }
    if (first == nrg) goto done; /* nothing changes: the file stays */
    FL_TRY(fl_delta_txn_file_open(m->txn, f->partition_values, f->n_partition_values, m->wo, &w, err));
    uint8_t *act = NULL;
    for (int g = 0; g < nrg; g++) { /* row groups before `first` are copied unchanged */
        if (g != 0 || first != 0) { /* cc holds the key columns of `first`: reusable when it is row group 0 */
            fl_arena_reset(a);
            memset(cc, 0, nf * sizeof *cc);
        }
        int64_t rows = fl_pq_reader_rg_num_rows(r, g);
        if (rows <= 0) continue;
        size_t vi[FL_DELTA_MAX_MERGE_KEYS] = {0};
        for (size_t ci = 0; ci < nf; ci++)
            if (cm[ci].leaf >= 0) FL_TRY(load_col(r, g, &cm[ci], &cc[ci], a, rows, err));
        /* per row: 0 keep, 1 drop, 2 keep with the soft-delete flag set */
        act = fl_arena_alloc(a, (size_t)rows);
        if (!act) FL_FAIL(FL_E_NOMEM, "out of memory");
        size_t nkeep = 0;
        for (int64_t i = 0; i < rows; i++) {
            merge_ent *e = lookup_cols(m, cm, cc, vi, (size_t)i, &row);
            act[i] = 0;
            if (active(e)) {
                e->matched = true;
                act[i] = 1;
                if (e->kind == ENT_DEL) {
                    res->rows_deleted++;
                    if (m->sd >= 0) act[i] = 2;
                }
                if (act[i] == 1) res->target_rows_removed++;
            }
            nkeep += act[i] != 1;
        }
        if (!nkeep) continue;
        /* gather the surviving rows of each column */
        size_t wi = 0;
        for (size_t ci = 0; ci < nf; ci++) {
            if (cm[ci].leaf < 0) continue;
            const fl_pq_column *c = &cc[ci].c;
            size_t wd = phys_width(cm[ci].phys);
            uint8_t *vals = fl_arena_alloc(a, nkeep * wd);
            uint8_t *valid = cm[ci].wopt ? fl_arena_alloc(a, nkeep) : NULL;
            if (!vals || (cm[ci].wopt && !valid)) FL_FAIL(FL_E_NOMEM, "out of memory");
            const uint8_t *src = c->values;
            const int16_t *def = c->def_levels;
            bool is_sd = (long)ci == m->sd;
            size_t o = 0, v = 0;
            for (int64_t i = 0; i < rows; i++) {
                bool present = !def || def[i] >= cm[ci].max_def;
                if (act[i] == 1) {
                    v += present;
                    continue;
                }
                if (is_sd && act[i] == 2) {
                    switch (cm[ci].phys) {
                    case FL_PQ_BOOLEAN: vals[o] = 1; break;
                    case FL_PQ_INT64: ((int64_t *)(void *)vals)[o] = 1; break;
                    default: ((int32_t *)(void *)vals)[o] = 1; break;
                    }
                    present = true;
                    v += !def || def[i] >= cm[ci].max_def;
                } else if (present) {
                    switch (wd) { /* fixed sizes: inline copies, no memcpy call per value */
                    case 1: vals[o] = src[v]; break;
                    case 4: memcpy(vals + o * 4, src + v * 4, 4); break;
                    case 8: memcpy(vals + o * 8, src + v * 8, 8); break;
                    default: memcpy(vals + o * sizeof(fl_str), src + v * sizeof(fl_str), sizeof(fl_str)); break;
                    }
                    v++;
                } else {
                    memset(vals + o * wd, 0, wd);
                }
                if (valid) valid[o] = present;
                o++;
            }
            cv[wi++] = (fl_pq_colvec){.values = vals, .valid = valid};
        }
        if (fl_pq_writer_write_batch(w, cv, wi, nkeep)) {
            if (err) *err = *fl_pq_writer_err(w);
            rc = fl_pq_writer_rc(w);
            goto done;
        }
        keep += (int64_t)nkeep;
    }
    if (keep) {
        FL_TRY(fl_delta_txn_file_close(m->txn, err));
        m->txn->records_added -= keep; /* rewritten rows are not new rows */
        res->files_added++;
    } else {
        fl_delta_txn_file_abort(m->txn);
    }
    w = NULL;
    FL_TRY(fl_delta_txn_remove_file(m->txn, f->path, err));
    res->files_removed++;
done:
    if (rc && w) fl_delta_txn_file_abort(m->txn);
    fl_pq_reader_free(r);
    fl_buf_clear(data);
    fl_arena_reset(a);
    fl_free(cm);
    fl_free(cc);
    fl_free(cv);
    fl_free(items);
    return rc;
}

fl_rc fl_delta_merge_run(fl_delta_merge *m, fl_delta_merge_result *res, fl_err *err)
{
    fl_delta_merge_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    if (m->ran) return fl_err_set(err, FL_E_STATE, "merge: already run");
    if (m->txn->pw) return fl_err_set(err, FL_E_STATE, "merge: close the txn's open data file first");
    m->ran = true;
    fl_rc rc = fl_delta_merge_resolve(m, err);
    if (rc) return rc;
    fl_arena ra;
    fl_arena_init(&ra, 0, 0);
    fl_delta_scan *sc = NULL;
    bool scanned = m->nw >= 0; /* resolve read every candidate already */
    size_t nf = fl_delta_snapshot_num_files(m->s);
    for (size_t fi = 0; fi < nf; fi++) {
        const fl_delta_file *f = fl_delta_snapshot_get_file(m->s, fi);
        fl_arena_reset(&ra);
        if (!m->idx.len || !delta_guard_may_hold(m->guard, f, &ra)) {
            res->files_skipped++;
            continue;
        }
        if (scanned && !(m->fstate[fi] & FS_HELD)) continue;
        FL_TRY(mark_read(m, fi, err));
        bool handled;
        FL_TRY(rewrite_columnar(m, fi, res, &handled, err));
        if (handled) continue;
        /* does any row change? */
        bool change = false;
        FL_TRY(open_scan(m, fi, true, &sc, err));
        while (!change) {
            fl_arena_reset(&ra);
            fl_pq_val *row;
            rc = fl_delta_scan_next(sc, &ra, &row, err);
            if (rc == FL_E_EOF) break;
            if (rc) goto done;
            change = active(lookup(m, row));
        }
        rc = FL_OK;
        fl_delta_scan_close(sc);
        sc = NULL;
        if (change) FL_TRY(rewrite_file(m, fi, &ra, res, err));
    }
    res->files_scanned = (int64_t)m->read_paths.len;
    /* new rows */
    for (size_t i = 0; i < m->ents.len; i++) {
        merge_ent *e = &FL_VEC_AT(&m->ents, merge_ent, i);
        if (!active(e)) {
            if (e->kind != ENT_DEL) res->rows_skipped++;
            continue;
        }
        if (e->kind == ENT_DEL) continue;
        if (e->matched) res->rows_updated++;
        else if (e->kind == ENT_ROW) res->rows_inserted++;
    }
    FL_TRY(insert_rows(m, res, err));
    /* the read predicate goes with the txn */
    fl_str *paths = fl_arena_alloc(&m->txn->a, (m->read_paths.len ? m->read_paths.len : 1) * sizeof *paths);
    if (!paths) FL_FAIL(FL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < m->read_paths.len; i++) {
        paths[i] = fl_arena_str_dup(&m->txn->a, FL_VEC_AT(&m->read_paths, fl_str, i));
        if (!paths[i].ptr) FL_FAIL(FL_E_NOMEM, "out of memory");
    }
    qsort(paths, m->read_paths.len, sizeof *paths, str_cmp_p);
    m->guard->read_paths = paths;
    m->guard->n_read = m->read_paths.len;
    m->txn->guard = m->guard;
done:
    if (rc) {
        fl_delta_txn_file_abort(m->txn);
        fl_err_prefix(err, "merge into %s: ", fl_store_get_url(m->txn->t->st));
    }
    fl_delta_scan_close(sc);
    fl_arena_fini(&ra);
    return rc;
}
