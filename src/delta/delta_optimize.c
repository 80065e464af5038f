/* delta_optimize.c - file rewrites (module delta): OPTIMIZE by bin-packing (small files of one partition
 * are read through the scan (deletion vectors applied) and rewritten through the txn's
 * Parquet writer into files of about the target size; one commit removes the inputs and
 * adds the outputs, both with dataChange=false), copy-on-write delete by key (the first
 * half of an upsert; files pruned by key stats), and the decimal text -> unscaled bytes
 * conversion used to write scanned decimals back. */
#include "delta/delta_int.h"

#include <stdio.h>
#include <stdlib.h>

bool delta_decimal_parse(fl_str s, int32_t scale, uint8_t *out, size_t len)
{
    uint8_t mag[32] = {0};
    if (len == 0 || len > sizeof mag) return false;
    size_t i = 0;
    bool neg = false;
    if (i < s.len && (s.ptr[i] == '-' || s.ptr[i] == '+')) neg = s.ptr[i++] == '-';
    int frac = -1, ndig = 0;
    for (;; i++) {
        int d;
        if (i < s.len) {
            char c = s.ptr[i];
            if (c == '.' && frac < 0) {
                frac = 0;
                continue;
            }
            if (c < '0' || c > '9') return false;
            if (frac >= 0 && frac == scale) continue; /* digits beyond the scale are cut */
            d = c - '0';
            if (frac >= 0) frac++;
        } else if ((frac < 0 ? 0 : frac) < scale) {
            d = 0;
            frac = frac < 0 ? 1 : frac + 1;
        } else {
            break;
        }
        unsigned carry = (unsigned)d;
        for (size_t k = sizeof mag; k-- > 0;) {
            unsigned v = mag[k] * 10u + carry;
            mag[k] = (uint8_t)v;
            carry = v >> 8;
        }
        if (carry || ++ndig > 76) return false;
    }
    if (neg) {
        for (size_t k = 0; k < sizeof mag; k++) mag[k] = (uint8_t)~mag[k];
        for (size_t k = sizeof mag; k-- > 0;)
            if (++mag[k] != 0) break;
    }
    size_t skip = sizeof mag - len;
    for (size_t k = 0; k < skip; k++)
        if (mag[k] != (neg ? 0xFF : 0x00)) return false;
    if (((mag[skip] & 0x80) != 0) != neg) return false;
    memcpy(out, mag + skip, len);
    return true;
}

bool fl_delta_decimal_to_bytes(fl_str text, int32_t scale, uint8_t *out, size_t len)
{
    return delta_decimal_parse(text, scale, out, len);
}

/* Feed a scanned value (normalised shape, see fl_delta_scan_next) of type t to w. */
bool delta_put_val(fl_pq_writer *w, const fl_delta_type *t, const fl_pq_val *v, unsigned depth)
{
    if (v->kind == FL_PQ_V_NULL || v->kind == FL_PQ_V_SKIPPED) {
        fl_pq_writer_put_null(w);
        return true;
    }
    if (depth > FL_DELTA_MAX_SCHEMA_DEPTH) return false;
    switch (t->kind) {
    case FL_DELTA_T_STRUCT:
        if (v->kind != FL_PQ_V_STRUCT) return false;
        fl_pq_writer_begin_struct(w);
        for (size_t i = 0; i < t->n_fields; i++) {
            static const fl_pq_val null_val = {.kind = FL_PQ_V_NULL};
            if (!delta_put_val(w, t->fields[i].type, i < v->n ? &v->v.items[i] : &null_val, depth + 1)) return false;
        }
        fl_pq_writer_end(w);
        return true;
    case FL_DELTA_T_ARRAY:
        if (v->kind != FL_PQ_V_LIST) return false;
        fl_pq_writer_begin_list(w);
        for (uint32_t i = 0; i < v->n; i++)
            if (!delta_put_val(w, t->element, &v->v.items[i], depth + 1)) return false;
        fl_pq_writer_end(w);
        return true;
    case FL_DELTA_T_MAP:
        if (v->kind != FL_PQ_V_MAP) return false;
        fl_pq_writer_begin_map(w);
        for (uint32_t i = 0; i < v->n; i++)
            if (!delta_put_val(w, t->key, &v->v.items[2 * i], depth + 1) || !delta_put_val(w, t->value, &v->v.items[2 * i + 1], depth + 1))
                return false;
        fl_pq_writer_end(w);
        return true;
    case FL_DELTA_T_DECIMAL: {
        if (v->kind != FL_PQ_V_BYTES) return false;
        fl_pq_type pt = fl_pq_t_decimal(t->precision, t->scale);
        uint8_t be[32];
        size_t len = pt.phys == FL_PQ_FIXED_LEN_BYTE_ARRAY ? (size_t)pt.type_length : 8;
        if (!delta_decimal_parse(v->v.bytes, t->scale, be, len)) return false;
        if (pt.phys == FL_PQ_FIXED_LEN_BYTE_ARRAY) {
            fl_pq_writer_put_bytes(w, be, len);
            return true;
        }
        uint64_t u = 0;
        for (size_t k = 0; k < 8; k++) u = u << 8 | be[k];
        if (pt.phys == FL_PQ_INT32) fl_pq_writer_put_i32(w, (int32_t)(int64_t)u);
        else fl_pq_writer_put_i64(w, (int64_t)u);
        return true;
    }
    default:
        break;
    }
    switch (v->kind) {
    case FL_PQ_V_BOOL: fl_pq_writer_put_bool(w, v->v.b); return true;
    case FL_PQ_V_I32: fl_pq_writer_put_i32(w, v->v.i32); return true;
    case FL_PQ_V_I64: fl_pq_writer_put_i64(w, v->v.i64); return true;
    case FL_PQ_V_F32: fl_pq_writer_put_f32(w, v->v.f32); return true;
    case FL_PQ_V_F64: fl_pq_writer_put_f64(w, v->v.f64); return true;
    case FL_PQ_V_BYTES: fl_pq_writer_put_bytes(w, v->v.bytes.ptr, v->v.bytes.len); return true;
    default: return false;
    }
}

/* Partition key text of a file: "<has>value\x1f" per partition column. */
static fl_str part_key(fl_arena *a, const fl_delta_file *f)
{
    fl_buf b;
    fl_buf_init(&b, 0);
    for (size_t i = 0; i < f->n_partition_values; i++) {
        const fl_delta_kv *kv = &f->partition_values[i];
        fl_buf_append_str(&b, kv->key);
        fl_buf_putc(&b, kv->has_val ? '=' : '~');
        fl_buf_append_str(&b, kv->val);
        fl_buf_putc(&b, 0x1f);
    }
    fl_str r = b.rc ? FL_STR_NULL : fl_arena_str_dup(a, fl_buf_str(&b));
    if (b.len == 0) r = FL_STR("");
    fl_buf_reset(&b);
    return r;
}

typedef struct opt_file {
    size_t idx;
    fl_str key;
} opt_file;

static int opt_cmp(const void *a, const void *b)
{
    const opt_file *x = a, *y = b;
    int c = fl_str_cmp(x->key, y->key);
    return c ? c : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

/* Rewrite snapshot files idx[0..n) (one partition) into one new file. */
static fl_rc rewrite_bin(fl_delta_txn *txn, const size_t *idx, size_t n, int64_t *rows, fl_err *err)
{
    const fl_delta_snapshot *s = txn->snap;
    const fl_delta_file *first = fl_delta_snapshot_get_file(s, idx[0]);
    const fl_delta_type *sch = fl_delta_snapshot_get_schema(s);
    fl_delta_scan *sc = NULL;
    fl_pq_writer *w = NULL;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_rc rc = fl_delta_scan_open_files(txn->t, s, idx, n, &sc, err);
    if (rc) goto done;
    FL_TRY(fl_delta_txn_file_open(txn, first->partition_values, first->n_partition_values, NULL, &w, err));
    for (;;) {
        fl_arena_reset(&a);
        fl_pq_val *row = NULL;
        rc = fl_delta_scan_next(sc, &a, &row, err);
        if (rc == FL_E_EOF) break;
        if (rc) goto done;
        for (size_t i = 0; i < sch->n_fields; i++) {
            bool part = false;
            for (size_t k = 0; k < s->meta.n_partition_columns; k++)
                if (fl_str_eq(s->meta.partition_columns[k], sch->fields[i].name)) part = true;
            if (part) continue;
            if (!delta_put_val(w, sch->fields[i].type, &row->v.items[i], 0))
                FL_FAIL(FL_E_INTERNAL, "optimize: a value of column " FL_STR_FMT " does not fit its type",
                        FL_STR_ARG(sch->fields[i].name));
        }
        if ((rc = fl_pq_writer_end_row(w)) != FL_OK) {
            if (err) *err = *fl_pq_writer_err(w);
            goto done;
        }
        (*rows)++;
    }
    rc = FL_OK;
    w = NULL; /* owned by the txn */
    FL_TRY(fl_delta_txn_file_close(txn, err));
    for (size_t i = 0; i < n; i++)
        FL_TRY(fl_delta_txn_remove_file(txn, fl_delta_snapshot_get_file(s, idx[i])->path, err));
done:
    if (rc) fl_delta_txn_file_abort(txn);
    fl_delta_scan_close(sc);
    fl_arena_fini(&a);
    return rc;
}

fl_rc fl_delta_table_optimize(fl_delta_table *t, const fl_delta_optimize_opts *o, fl_delta_optimize_result *res,
                              fl_err *err)
{
    fl_delta_optimize_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    res->version = -1;
    fl_delta_optimize_opts def = {0};
    if (!o) o = &def;
    fl_delta_txn *txn = NULL;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    opt_file *files = NULL;
    size_t *bin = NULL;
    fl_rc rc = fl_delta_txn_begin(t, &txn, err);
    if (rc) goto done;
    if (delta_config_bool(txn->snap, "delta.appendOnly", false))
        FL_FAIL(FL_E_DELTA_PROTOCOL, "optimize %s: table is append-only", fl_store_get_url(t->st));
    uint64_t target = o->target_file_size;
    int64_t cfg;
    fl_str ts = fl_delta_snapshot_get_config(txn->snap, "delta.targetFileSize", FL_STR_NULL);
    if (!target && ts.len && fl_parse_i64(ts, &cfg) && cfg > 0) target = (uint64_t)cfg;
    if (!target) target = (uint64_t)128 << 20;
    uint32_t min_files = o->min_files ? o->min_files : 2;
    txn->rearrange = true;
    fl_delta_txn_set_operation(txn, "OPTIMIZE", "Overwrite");
    /* small files grouped by partition */
    size_t nf = fl_delta_snapshot_num_files(txn->snap), nsmall = 0;
    files = fl_malloc((nf ? nf : 1) * sizeof *files);
    bin = fl_malloc((nf ? nf : 1) * sizeof *bin);
    if (!files || !bin) FL_FAIL(FL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < nf; i++) {
        const fl_delta_file *f = fl_delta_snapshot_get_file(txn->snap, i);
        if ((uint64_t)f->size >= target) continue;
        files[nsmall].idx = i;
        files[nsmall].key = part_key(&a, f);
        if (!files[nsmall].key.ptr) FL_FAIL(FL_E_NOMEM, "out of memory");
        nsmall++;
    }
    qsort(files, nsmall, sizeof *files, opt_cmp);
    for (size_t i = 0; i < nsmall;) {
        size_t j = i;
        while (j < nsmall && fl_str_eq(files[j].key, files[i].key)) j++;
        if (j - i >= min_files) {
            /* bins of about `target` input bytes */
            size_t nb = 0;
            uint64_t bytes = 0;
            for (size_t k = i; k < j; k++) {
                bin[nb++] = files[k].idx;
                bytes += (uint64_t)fl_delta_snapshot_get_file(txn->snap, files[k].idx)->size;
                if (bytes >= target || k + 1 == j) {
                    if (nb >= 2) {
                        FL_TRY(rewrite_bin(txn, bin, nb, &res->rows, err));
                        res->files_removed += (int64_t)nb;
                        res->files_added++;
                    }
                    nb = 0;
                    bytes = 0;
                }
            }
        }
        i = j;
    }
    if (res->files_added == 0) goto done; /* nothing to do: no commit */
    fl_delta_commit_result cr;
    FL_TRY(fl_delta_txn_commit(txn, &cr, err));
    res->version = cr.version;
done:
    fl_delta_txn_free(txn);
    fl_free(files);
    fl_free(bin);
    fl_arena_fini(&a);
    return rc;
}

/* ------------------------------------------------------------------ delete by key */

static int fstr_cmp(const void *a, const void *b) { return fl_str_cmp(*(const fl_str *)a, *(const fl_str *)b); }

static bool key_in(const fl_str *keys, size_t n, fl_str k)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = fl_str_cmp(keys[mid], k);
        if (c == 0) return true;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return false;
}

/* Could file f hold one of the keys, judging by its stats? (true when unknown) */
static bool may_hold(const fl_delta_file *f, fl_str col, const fl_str *keys, size_t n, fl_arena *a)
{
    fl_json_val *st = NULL;
    if (!f->stats.len || fl_json_parse(f->stats.ptr, f->stats.len, NULL, a, &st, NULL, NULL) != FL_OK) return true;
    const fl_json_val *mn = fl_json_get(fl_json_get_c(st, "minValues"), col);
    const fl_json_val *mx = fl_json_get(fl_json_get_c(st, "maxValues"), col);
    int64_t nulls, nrec;
    if (fl_json_as_i64(fl_json_get(fl_json_get_c(st, "nullCount"), col), &nulls) &&
        fl_json_as_i64(fl_json_get_c(st, "numRecords"), &nrec) && nulls == nrec)
        return false; /* only nulls in this file */
    if (!fl_json_is_str(mn) || !fl_json_is_str(mx)) return true;
    fl_str lo = fl_json_str(mn), hi = fl_json_str(mx);
    /* first key >= lo; it must also be <= hi (a truncated max is still an upper bound) */
    size_t l = 0, h = n;
    while (l < h) {
        size_t mid = l + (h - l) / 2;
        if (fl_str_cmp(keys[mid], lo) < 0) l = mid + 1;
        else h = mid;
    }
    return l < n && fl_str_cmp(keys[l], hi) <= 0;
}

fl_rc fl_delta_txn_delete_keys(fl_delta_txn *txn, const char *key_column, const fl_str *keys, size_t n,
                               int64_t *rows_deleted, int64_t *files_rewritten, fl_err *err)
{
    if (rows_deleted) *rows_deleted = 0;
    if (files_rewritten) *files_rewritten = 0;
    const fl_delta_snapshot *s = txn->snap;
    const fl_delta_type *sch = fl_delta_snapshot_get_schema(s);
    const fl_delta_field *kf = fl_delta_type_find(sch, fl_str_c(key_column));
    if (!kf || kf->type->kind != FL_DELTA_T_STRING)
        return fl_err_set(err, FL_E_ARG, "delete by key: %s is not a top-level string column", key_column);
    if (txn->pw) return fl_err_set(err, FL_E_STATE, "close the open data file first");
    if (delta_config_bool(s, "delta.appendOnly", false))
        return fl_err_set(err, FL_E_DELTA_PROTOCOL, "%s is append-only (delta.appendOnly=true): rows cannot be deleted",
                          fl_store_get_url(txn->t->st));
    size_t kidx = (size_t)(kf - sch->fields);
    for (size_t k = 0; k < s->meta.n_partition_columns; k++)
        if (fl_str_eq(s->meta.partition_columns[k], kf->name))
            return fl_err_set(err, FL_E_UNSUPPORTED, "delete by key: %s is a partition column", key_column);
    fl_arena a, row_a;
    fl_arena_init(&a, 0, 0);
    fl_arena_init(&row_a, 0, 0);
    fl_rc rc = FL_OK;
    fl_delta_scan *sc = NULL;
    fl_str *sorted = fl_arena_alloc(&a, (n ? n : 1) * sizeof *sorted);
    if (!sorted) FL_FAIL(FL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        sorted[i] = fl_arena_str_dup(&a, keys[i]);
        if (!sorted[i].ptr && keys[i].len) FL_FAIL(FL_E_NOMEM, "out of memory");
    }
    qsort(sorted, n, sizeof *sorted, fstr_cmp);
    size_t nf = fl_delta_snapshot_num_files(s);
    for (size_t fi = 0; fi < nf && n; fi++) {
        const fl_delta_file *f = fl_delta_snapshot_get_file(s, fi);
        fl_arena_reset(&row_a);
        if (!may_hold(f, kf->name, sorted, n, &row_a)) continue;
        /* pass 1: count matches and survivors */
        int64_t hit = 0, keep = 0;
        FL_TRY(fl_delta_scan_open_files(txn->t, s, &fi, 1, &sc, err));
        for (;;) {
            fl_arena_reset(&row_a);
            fl_pq_val *row;
            rc = fl_delta_scan_next(sc, &row_a, &row, err);
            if (rc == FL_E_EOF) break;
            if (rc) goto done;
            const fl_pq_val *kv = &row->v.items[kidx];
            if (kv->kind == FL_PQ_V_BYTES && key_in(sorted, n, kv->v.bytes)) hit++;
            else keep++;
        }
        rc = FL_OK;
        fl_delta_scan_close(sc);
        sc = NULL;
        if (!hit) continue;
        /* pass 2: rewrite the survivors (if any), then remove the old file */
        if (keep) {
            fl_pq_writer *w = NULL;
            FL_TRY(fl_delta_scan_open_files(txn->t, s, &fi, 1, &sc, err));
            FL_TRY(fl_delta_txn_file_open(txn, f->partition_values, f->n_partition_values, NULL, &w, err));
            for (;;) {
                fl_arena_reset(&row_a);
                fl_pq_val *row;
                rc = fl_delta_scan_next(sc, &row_a, &row, err);
                if (rc == FL_E_EOF) break;
                if (rc) goto done;
                const fl_pq_val *kv = &row->v.items[kidx];
                if (kv->kind == FL_PQ_V_BYTES && key_in(sorted, n, kv->v.bytes)) continue;
                for (size_t i = 0; i < sch->n_fields; i++) {
                    bool part = false;
                    for (size_t k = 0; k < s->meta.n_partition_columns; k++)
                        if (fl_str_eq(s->meta.partition_columns[k], sch->fields[i].name)) part = true;
                    if (!part && !delta_put_val(w, sch->fields[i].type, &row->v.items[i], 0))
                        FL_FAIL(FL_E_INTERNAL, "delete by key: a value of column " FL_STR_FMT " does not fit its type",
                                FL_STR_ARG(sch->fields[i].name));
                }
                if ((rc = fl_pq_writer_end_row(w)) != FL_OK) {
                    if (err) *err = *fl_pq_writer_err(w);
                    goto done;
                }
            }
            rc = FL_OK;
            fl_delta_scan_close(sc);
            sc = NULL;
            FL_TRY(fl_delta_txn_file_close(txn, err));
            txn->records_added -= keep; /* rewritten rows are not new rows */
        }
        FL_TRY(fl_delta_txn_remove_file(txn, f->path, err));
        if (rows_deleted) *rows_deleted += hit;
        if (files_rewritten) (*files_rewritten)++;
    }
done:
    if (rc) fl_delta_txn_file_abort(txn);
    fl_delta_scan_close(sc);
    fl_arena_fini(&row_a);
    fl_arena_fini(&a);
    return rc;
}
