/* delta_write.c - data files of a write transaction: the Parquet schema derived from the
 * Delta schema, unique file names in Hive-style partition directories, streaming the file
 * to the store, and the `add` stats JSON (numRecords, minValues, maxValues, nullCount for
 * the first dataSkippingNumIndexedCols columns) computed from the writer's column
 * statistics (module delta). String bounds are cut to 32 characters (max gets a
 * tie-breaker so it stays an upper bound); timestamps are rounded outward to milliseconds. */
#include "delta/delta_int.h"

#include "fhirlake/os.h"

#include <math.h>
#include <stdio.h>

/* ------------------------------------------------------------------ schema mapping */

static fl_rc pq_type_of(const fl_delta_type *t, fl_pq_type *out)
{
    switch (t->kind) {
    case FL_DELTA_T_STRING: *out = fl_pq_t_string(); return FL_OK;
    case FL_DELTA_T_LONG: *out = fl_pq_t_i64(); return FL_OK;
    case FL_DELTA_T_INTEGER: *out = fl_pq_t_i32(); return FL_OK;
    case FL_DELTA_T_SHORT: *out = fl_pq_t_int(16, true); return FL_OK;
    case FL_DELTA_T_BYTE: *out = fl_pq_t_int(8, true); return FL_OK;
    case FL_DELTA_T_FLOAT: *out = fl_pq_t_float(); return FL_OK;
    case FL_DELTA_T_DOUBLE: *out = fl_pq_t_double(); return FL_OK;
    case FL_DELTA_T_BOOLEAN: *out = fl_pq_t_bool(); return FL_OK;
    case FL_DELTA_T_BINARY: *out = fl_pq_t_binary(); return FL_OK;
    case FL_DELTA_T_DATE: *out = fl_pq_t_date(); return FL_OK;
    case FL_DELTA_T_TIMESTAMP: *out = fl_pq_t_timestamp_us(true); return FL_OK;
    case FL_DELTA_T_TIMESTAMP_NTZ: *out = fl_pq_t_timestamp_us(false); return FL_OK;
    case FL_DELTA_T_DECIMAL: *out = fl_pq_t_decimal(t->precision, t->scale); return FL_OK;
    default: return FL_E_UNSUPPORTED;
    }
}

bool delta_pq_type(const fl_delta_type *t, fl_pq_type *out) { return pq_type_of(t, out) == FL_OK; }

static bool is_prim(const fl_delta_type *t)
{
    return t->kind != FL_DELTA_T_ARRAY && t->kind != FL_DELTA_T_MAP && t->kind != FL_DELTA_T_STRUCT &&
           t->kind != FL_DELTA_T_OTHER;
}

static fl_rc add_field(fl_pq_schema *ps, int parent, const char *name, const fl_delta_type *t, bool nullable,
                       unsigned depth, fl_err *err)
{
    if (depth > FL_DELTA_MAX_SCHEMA_DEPTH) return fl_err_set(err, FL_E_LIMIT, "schema too deep at %s", name);
    fl_pq_rep rep = nullable ? FL_PQ_OPTIONAL : FL_PQ_REQUIRED;
    fl_pq_type pt;
    if (is_prim(t)) {
        if (pq_type_of(t, &pt)) return fl_err_set(err, FL_E_UNSUPPORTED, "column %s: type not writable", name);
        return fl_pq_schema_add(ps, parent, name, rep, pt) < 0 ? FL_E_PQ_SCHEMA : FL_OK;
    }
    if (t->kind == FL_DELTA_T_STRUCT) {
        int g = fl_pq_schema_add_group(ps, parent, name, rep, FL_PQ_LT_NONE);
        if (g < 0) return FL_E_PQ_SCHEMA;
        for (size_t i = 0; i < t->n_fields; i++) {
            char nm[256];
            snprintf(nm, sizeof nm, FL_STR_FMT, FL_STR_ARG(t->fields[i].name));
            fl_rc rc = add_field(ps, g, nm, t->fields[i].type, t->fields[i].nullable, depth + 1, err);
            if (rc) return rc;
        }
        return FL_OK;
    }
    if (t->kind == FL_DELTA_T_ARRAY) {
        const fl_delta_type *e = t->element;
        fl_pq_rep er = t->contains_null ? FL_PQ_OPTIONAL : FL_PQ_REQUIRED;
        if (is_prim(e)) {
            if (pq_type_of(e, &pt)) return fl_err_set(err, FL_E_UNSUPPORTED, "column %s: element type not writable", name);
            return fl_pq_schema_add_list(ps, parent, name, rep, er, &pt) < 0 ? FL_E_PQ_SCHEMA : FL_OK;
        }
        if (e->kind == FL_DELTA_T_STRUCT) {
            int el = fl_pq_schema_add_list(ps, parent, name, rep, er, NULL);
            if (el < 0) return FL_E_PQ_SCHEMA;
            for (size_t i = 0; i < e->n_fields; i++) {
                char nm[256];
                snprintf(nm, sizeof nm, FL_STR_FMT, FL_STR_ARG(e->fields[i].name));
                fl_rc rc = add_field(ps, el, nm, e->fields[i].type, e->fields[i].nullable, depth + 1, err);
                if (rc) return rc;
            }
            return FL_OK;
        }
        return fl_err_set(err, FL_E_UNSUPPORTED, "column %s: arrays of arrays/maps are not writable yet", name);
    }
    if (t->kind == FL_DELTA_T_MAP) {
        fl_pq_type kt, vt;
        if (!is_prim(t->key) || pq_type_of(t->key, &kt))
            return fl_err_set(err, FL_E_UNSUPPORTED, "column %s: map keys must be primitive", name);
        fl_pq_rep vr = t->value_contains_null ? FL_PQ_OPTIONAL : FL_PQ_REQUIRED;
        if (is_prim(t->value)) {
            if (pq_type_of(t->value, &vt)) return fl_err_set(err, FL_E_UNSUPPORTED, "column %s: value type", name);
            return fl_pq_schema_add_map(ps, parent, name, rep, kt, vr, &vt) < 0 ? FL_E_PQ_SCHEMA : FL_OK;
        }
        if (t->value->kind == FL_DELTA_T_STRUCT) {
            int vn = fl_pq_schema_add_map(ps, parent, name, rep, kt, vr, NULL);
            if (vn < 0) return FL_E_PQ_SCHEMA;
            for (size_t i = 0; i < t->value->n_fields; i++) {
                char nm[256];
                snprintf(nm, sizeof nm, FL_STR_FMT, FL_STR_ARG(t->value->fields[i].name));
                fl_rc rc = add_field(ps, vn, nm, t->value->fields[i].type, t->value->fields[i].nullable, depth + 1, err);
                if (rc) return rc;
            }
            return FL_OK;
        }
        return fl_err_set(err, FL_E_UNSUPPORTED, "column %s: map values of this type are not writable yet", name);
    }
    return fl_err_set(err, FL_E_UNSUPPORTED, "column %s: type not writable", name);
}

static bool is_partition(const fl_delta_metadata *m, fl_str name)
{
    for (size_t i = 0; i < m->n_partition_columns; i++)
        if (fl_str_eq(m->partition_columns[i], name)) return true;
    return false;
}

static const fl_delta_type *txn_schema(const fl_delta_txn *txn)
{
    return txn->new_schema ? txn->new_schema : fl_delta_snapshot_get_schema(txn->snap);
}

static fl_rc build_pq_schema(fl_delta_txn *txn, fl_pq_schema **out, fl_err *err)
{
    const fl_delta_type *root = txn_schema(txn);
    fl_pq_schema *ps = NULL;
    fl_rc rc = fl_pq_schema_new(&ps, err);
    if (rc) return rc;
    for (size_t i = 0; i < root->n_fields; i++) {
        const fl_delta_field *f = &root->fields[i];
        if (is_partition(&txn->snap->meta, f->name)) continue;
        char nm[256];
        snprintf(nm, sizeof nm, FL_STR_FMT, FL_STR_ARG(f->name));
        rc = add_field(ps, 0, nm, f->type, f->nullable, 1, err);
        if (rc) {
            if (rc == FL_E_PQ_SCHEMA) fl_pq_schema_check(ps, err);
            fl_pq_schema_free(ps);
            return rc;
        }
    }
    if ((rc = fl_pq_schema_check(ps, err)) != FL_OK) {
        fl_pq_schema_free(ps);
        return rc;
    }
    *out = ps;
    return FL_OK;
}

/* ------------------------------------------------------------------ names */

static bool plain_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

/* Hive-escape a partition value for a directory name (every byte outside [A-Za-z0-9._-]
 * as %XX); a null value is __HIVE_DEFAULT_PARTITION__. */
static void hive_escape(fl_buf *b, const fl_delta_kv *kv)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!kv->has_val || kv->val.len == 0) {
        fl_buf_append_c(b, "__HIVE_DEFAULT_PARTITION__");
        return;
    }
    for (size_t i = 0; i < kv->val.len; i++) {
        char c = kv->val.ptr[i];
        if (plain_char(c)) {
            fl_buf_putc(b, c);
        } else {
            unsigned char u = (unsigned char)c;
            fl_buf_putc(b, '%');
            fl_buf_putc(b, hex[u >> 4]);
            fl_buf_putc(b, hex[u & 15]);
        }
    }
}

static const char *codec_ext(fl_pq_codec c)
{
    switch (c) {
    case FL_PQ_SNAPPY: return ".snappy";
    case FL_PQ_ZSTD: return ".zstd";
    case FL_PQ_GZIP: return ".gz";
    case FL_PQ_LZ4_RAW: return ".lz4raw";
    default: return "";
    }
}

static fl_rc sink(void *ctx, const void *data, size_t len, fl_err *err)
{
    return fl_store_writer_write(ctx, data, len, err);
}

fl_rc fl_delta_txn_file_open(fl_delta_txn *txn, const fl_delta_kv *pvals, size_t n_pvals, const fl_pq_write_opts *o,
                             fl_pq_writer **w, fl_err *err)
{
    *w = NULL;
    if (txn->pw) return fl_err_set(err, FL_E_STATE, "a data file is already open in this transaction");
    if (txn->done) return fl_err_set(err, FL_E_STATE, "transaction already committed");
    const fl_delta_metadata *m = &txn->snap->meta;
    if (n_pvals != m->n_partition_columns)
        return fl_err_set(err, FL_E_ARG, "table has %zu partition columns, %zu values given", m->n_partition_columns,
                          n_pvals);
    fl_rc rc = FL_OK;
    fl_buf dir;
    fl_buf_init(&dir, FL_STORE_MAX_KEY);
    /* partition values in the table's partition column order */
    txn->file_pvals = n_pvals ? fl_arena_alloc(&txn->a, n_pvals * sizeof *txn->file_pvals) : NULL;
    if (n_pvals && !txn->file_pvals) FL_FAIL(FL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < m->n_partition_columns; i++) {
        const fl_delta_kv *kv = NULL;
        for (size_t j = 0; j < n_pvals && !kv; j++)
            if (fl_str_eq(pvals[j].key, m->partition_columns[i])) kv = &pvals[j];
        if (!kv)
            FL_FAIL(FL_E_ARG, "no value for partition column " FL_STR_FMT, FL_STR_ARG(m->partition_columns[i]));
        fl_delta_kv *c = &txn->file_pvals[i];
        c->key = fl_arena_str_dup(&txn->a, m->partition_columns[i]);
        c->has_val = kv->has_val && kv->val.len > 0;
        c->val = c->has_val ? fl_arena_str_dup(&txn->a, kv->val) : FL_STR_NULL;
        if (!c->key.ptr || (c->has_val && !c->val.ptr)) FL_FAIL(FL_E_NOMEM, "out of memory");
        fl_buf_append_str(&dir, m->partition_columns[i]);
        fl_buf_putc(&dir, '=');
        hive_escape(&dir, kv);
        fl_buf_putc(&dir, '/');
    }
    txn->n_file_pvals = n_pvals;
    fl_pq_write_opts wo;
    if (o) wo = *o;
    else {
        fl_pq_write_opts_default(&wo);
        wo.codec = FL_PQ_ZSTD;
    }
    if (!wo.codec_cache) { /* one set of compression contexts for all the txn's files */
        if (!txn->codec_cache) FL_TRY(fl_pq_codec_cache_new(&txn->codec_cache, err));
        wo.codec_cache = txn->codec_cache;
    }
    fl_buf_printf(&dir, "part-%05u-%s-c000%s.parquet", txn->file_seq++, txn->uuid, codec_ext(wo.codec));
    if (dir.rc) FL_FAIL(FL_E_LIMIT, "data file path too long");
    snprintf(txn->file_key, sizeof txn->file_key, "%s", dir.ptr);
    /* the log path is a URI: '%' from Hive escaping becomes %25 */
    fl_buf uri;
    fl_buf_init(&uri, 3 * FL_STORE_MAX_KEY);
    for (size_t i = 0; i < dir.len; i++) {
        if (dir.ptr[i] == '%') fl_buf_append_c(&uri, "%25");
        else fl_buf_putc(&uri, dir.ptr[i]);
    }
    txn->file_path = uri.rc ? FL_STR_NULL : fl_arena_str_dup(&txn->a, fl_buf_str(&uri));
    fl_buf_reset(&uri);
    if (!txn->file_path.ptr) FL_FAIL(FL_E_NOMEM, "out of memory");
    FL_TRY(build_pq_schema(txn, &txn->pq_schema, err));
    FL_TRY(fl_store_writer_open(txn->t->st, fl_str_c(txn->file_key), 0, &txn->sw, err));
    rc = fl_pq_writer_new(txn->pq_schema, &wo, sink, txn->sw, &txn->pw, err);
    if (rc) {
        fl_store_writer_abort(txn->sw);
        txn->sw = NULL;
        fl_pq_writer_free(txn->pw);
        txn->pw = NULL;
        goto done;
    }
    *w = txn->pw;
done:
    if (rc) {
        fl_pq_schema_free(txn->pq_schema);
        txn->pq_schema = NULL;
    }
    fl_buf_reset(&dir);
    return rc;
}

void fl_delta_txn_file_abort(fl_delta_txn *txn)
{
    fl_pq_writer_free(txn->pw);
    txn->pw = NULL;
    fl_store_writer_abort(txn->sw);
    txn->sw = NULL;
    fl_pq_schema_free(txn->pq_schema);
    txn->pq_schema = NULL;
}

/* ------------------------------------------------------------------ stats */

typedef struct stats_ctx {
    fl_pq_writer *pw;
    int leaf;        /* next Parquet leaf index */
    int64_t budget;  /* columns left that get stats (-1 = all) */
} stats_ctx;

static int count_leaves(const fl_delta_type *t, unsigned depth)
{
    if (depth > FL_DELTA_MAX_SCHEMA_DEPTH) return 0;
    switch (t->kind) {
    case FL_DELTA_T_STRUCT: {
        int n = 0;
        for (size_t i = 0; i < t->n_fields; i++) n += count_leaves(t->fields[i].type, depth + 1);
        return n;
    }
    case FL_DELTA_T_ARRAY: return count_leaves(t->element, depth + 1);
    case FL_DELTA_T_MAP: return 1 + count_leaves(t->value, depth + 1);
    default: return 1;
    }
}

/* Append the first FL_DELTA_STATS_STRING_PREFIX characters of s (UTF-16 counting, never
 * splitting a character); *cut receives whether anything was left out, *next the first
 * code point left out. */
static size_t utf8_prefix(fl_str s, bool *cut, uint32_t *next)
{
    size_t i = 0;
    unsigned units = 0;
    *cut = false;
    while (i < s.len) {
        unsigned char c = (unsigned char)s.ptr[i];
        size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        unsigned u = n == 4 ? 2 : 1;
        if (units + u > FL_DELTA_STATS_STRING_PREFIX) {
            *cut = true;
            uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1Fu) : n == 3 ? (c & 0x0Fu) : (c & 0x07u);
            for (size_t k = 1; k < n && i + k < s.len; k++) cp = (cp << 6) | ((unsigned char)s.ptr[i + k] & 0x3Fu);
            *next = cp;
            return i;
        }
        units += u;
        i += n;
    }
    return s.len;
}

static void fmt_date(int32_t days, char *out, size_t cap)
{
    int64_t secs = (int64_t)days * 86400;
    char tmp[40];
    fl_time_format_rfc3339(secs * 1000000, tmp, sizeof tmp);
    snprintf(out, cap, "%.10s", tmp);
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b) != 0 && ((a < 0) != (b < 0))); }

static void fmt_ts(int64_t us, bool round_up, bool utc, char *out, size_t cap)
{
    int64_t ms = floor_div(us, 1000);
    if (round_up && ms * 1000 != us) ms++;
    char tmp[40];
    size_t n = fl_time_format_rfc3339(ms * 1000, tmp, sizeof tmp);
    if (!utc && n && tmp[n - 1] == 'Z') tmp[n - 1] = 0;
    snprintf(out, cap, "%s", tmp);
}

static void fmt_decimal(int64_t unscaled, int32_t scale, char *out, size_t cap)
{
    char digits[32];
    bool neg = unscaled < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)unscaled : (uint64_t)unscaled;
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)u);
    if (scale <= 0) {
        snprintf(out, cap, "%s%s", neg ? "-" : "", digits);
        return;
    }
    if (n <= scale) {
        snprintf(out, cap, "%s0.%0*d%s", neg ? "-" : "", scale - n, 0, digits);
        if (scale - n == 0) snprintf(out, cap, "%s0.%s", neg ? "-" : "", digits);
        return;
    }
    snprintf(out, cap, "%s%.*s.%s", neg ? "-" : "", n - scale, digits, digits + (n - scale));
}

/* Write one bound; returns false when this column gets no such bound. */
static bool write_bound(fl_jw *w, const fl_delta_type *t, const fl_pq_scalar *v, bool is_max, const fl_pq_stats *st)
{
    char buf[96];
    switch (t->kind) {
    case FL_DELTA_T_STRING: {
        bool cut;
        uint32_t next = 0;
        size_t n = utf8_prefix(v->v.bytes, &cut, &next);
        if (!cut) {
            fl_jw_str(w, v->v.bytes);
            return true;
        }
        if (!is_max) {
            fl_jw_str(w, fl_str_make(v->v.bytes.ptr, n));
            return true;
        }
        /* prefix + tie-breaker keeps the max an upper bound */
        fl_buf b;
        fl_buf_init(&b, 256);
        fl_buf_append(&b, v->v.bytes.ptr, n);
        if (next < 0x7F) fl_buf_putc(&b, 0x7F);
        else fl_buf_append(&b, "\xF4\x8F\xBF\xBF", 4);
        fl_jw_str(w, fl_buf_str(&b));
        fl_buf_reset(&b);
        return true;
    }
    case FL_DELTA_T_LONG: fl_jw_i64(w, v->v.i64); return true;
    case FL_DELTA_T_INTEGER:
    case FL_DELTA_T_SHORT:
    case FL_DELTA_T_BYTE: fl_jw_i64(w, v->phys == FL_PQ_INT64 ? v->v.i64 : v->v.i32); return true;
    case FL_DELTA_T_FLOAT:
    case FL_DELTA_T_DOUBLE: {
        double d = v->phys == FL_PQ_FLOAT ? (double)v->v.f32 : v->v.f64;
        if (st->nan_count > 0 || isnan(d) || isinf(d)) return false;
        fl_jw_f64(w, d);
        return true;
    }
    case FL_DELTA_T_DATE:
        fmt_date(v->v.i32, buf, sizeof buf);
        fl_jw_str_c(w, buf);
        return true;
    case FL_DELTA_T_TIMESTAMP:
    case FL_DELTA_T_TIMESTAMP_NTZ:
        fmt_ts(v->v.i64, is_max, t->kind == FL_DELTA_T_TIMESTAMP, buf, sizeof buf);
        fl_jw_str_c(w, buf);
        return true;
    case FL_DELTA_T_DECIMAL:
        if (v->phys == FL_PQ_INT32) fmt_decimal(v->v.i32, t->scale, buf, sizeof buf);
        else if (v->phys == FL_PQ_INT64) fmt_decimal(v->v.i64, t->scale, buf, sizeof buf);
        else if (v->phys == FL_PQ_FIXED_LEN_BYTE_ARRAY || v->phys == FL_PQ_BYTE_ARRAY) {
            /* wide decimals: big-endian unscaled bytes (only exact bounds are usable) */
            if ((is_max ? !st->max_exact : !st->min_exact)) return false;
            fl_arena a;
            fl_arena_init(&a, 256, 0);
            fl_str txt = delta_decimal_text(&a, (const uint8_t *)v->v.bytes.ptr, v->v.bytes.len, t->scale);
            if (txt.ptr) fl_jw_raw(w, txt);
            fl_arena_fini(&a);
            return txt.ptr != NULL;
        } else return false;
        fl_jw_raw(w, fl_str_c(buf));
        return true;
    default: return false;
    }
}

/* Does kind t get min/max at all? */
static bool has_bounds(const fl_delta_type *t)
{
    return is_prim(t) && t->kind != FL_DELTA_T_BOOLEAN && t->kind != FL_DELTA_T_BINARY;
}

/* One pass of the stats object: what = 0 min, 1 max, 2 nullCount. Emits fields of struct
 * t (whose leaves start at c->leaf). Returns whether anything was written. */
static bool stats_struct(fl_jw *w, stats_ctx *c, const fl_delta_type *t, const fl_delta_metadata *m, bool top,
                         int what, unsigned depth)
{
    bool any = false;
    for (size_t i = 0; i < t->n_fields; i++) {
        const fl_delta_field *f = &t->fields[i];
        if (top && is_partition(m, f->name)) continue;
        const fl_delta_type *ft = f->type;
        if (ft->kind == FL_DELTA_T_STRUCT && depth < FL_DELTA_MAX_SCHEMA_DEPTH) {
            /* nested object, written only when it has content: probe with a scratch writer */
            fl_buf tmp;
            fl_buf_init(&tmp, 0);
            fl_jw tw;
            fl_jw_init(&tw, &tmp);
            fl_jw_obj_begin(&tw);
            bool sub = stats_struct(&tw, c, ft, m, false, what, depth + 1);
            fl_jw_obj_end(&tw);
            if (sub && !tmp.rc) {
                fl_jw_key(w, f->name);
                fl_jw_raw(w, fl_buf_str(&tmp));
                any = true;
            }
            fl_buf_reset(&tmp);
            continue;
        }
        int nleaves = count_leaves(ft, depth);
        int leaf = c->leaf;
        c->leaf += nleaves;
        if (c->budget == 0) continue;
        if (c->budget > 0) c->budget--;
        if (!is_prim(ft)) continue; /* arrays/maps: leaf null counts are not column null counts */
        fl_pq_stats st;
        if (fl_pq_writer_get_stats(c->pw, leaf, &st) != FL_OK) continue;
        if (what == 2) {
            if (st.null_count < 0) continue;
            fl_jw_key(w, f->name);
            fl_jw_i64(w, st.null_count);
            any = true;
            continue;
        }
        if (!has_bounds(ft) || !st.has_min_max) continue;
        /* probe the bound into a scratch buffer: some values produce none */
        fl_buf tmp;
        fl_buf_init(&tmp, 0);
        fl_jw tw;
        fl_jw_init(&tw, &tmp);
        if (write_bound(&tw, ft, what ? &st.max : &st.min, what == 1, &st) && !tmp.rc) {
            fl_jw_key(w, f->name);
            fl_jw_raw(w, fl_buf_str(&tmp));
            any = true;
        }
        fl_buf_reset(&tmp);
    }
    return any;
}

static fl_str make_stats(fl_delta_txn *txn, fl_pq_writer *pw, fl_err *err)
{
    const fl_delta_type *root = txn_schema(txn);
    int64_t budget = FL_DELTA_STATS_MAX_COLUMNS;
    fl_str cfg = fl_delta_snapshot_get_config(txn->snap, "delta.dataSkippingNumIndexedCols", FL_STR_NULL);
    int64_t x;
    if (cfg.len && fl_parse_i64(cfg, &x)) budget = x < 0 ? -1 : x;
    fl_buf b;
    fl_buf_init(&b, FL_DELTA_MAX_COMMIT_BYTES);
    fl_jw w;
    fl_jw_init(&w, &b);
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "numRecords");
    fl_jw_i64(&w, fl_pq_writer_num_rows(pw));
    static const char *const names[3] = {"minValues", "maxValues", "nullCount"};
    for (int what = 0; what < 3; what++) {
        stats_ctx c = {.pw = pw, .leaf = 0, .budget = budget};
        fl_jw_key_c(&w, names[what]);
        fl_jw_obj_begin(&w);
        stats_struct(&w, &c, root, &txn->snap->meta, true, what, 1);
        fl_jw_obj_end(&w);
    }
    fl_jw_obj_end(&w);
    fl_str r = b.rc ? FL_STR_NULL : fl_arena_str_dup(&txn->a, fl_buf_str(&b));
    if (!r.ptr) fl_err_set(err, FL_E_NOMEM, "out of memory writing stats");
    fl_buf_reset(&b);
    return r;
}

fl_rc fl_delta_txn_file_close(fl_delta_txn *txn, fl_err *err)
{
    if (!txn->pw) return fl_err_set(err, FL_E_STATE, "no data file is open");
    fl_rc rc = fl_pq_writer_finish(txn->pw, err);
    if (rc) {
        fl_err_prefix(err, "writing %s/%s: ", fl_store_get_url(txn->t->st), txn->file_key);
        fl_delta_txn_file_abort(txn);
        return rc;
    }
    fl_store_meta meta;
    rc = fl_store_writer_commit(txn->sw, &meta, err);
    txn->sw = NULL;
    if (rc) {
        fl_delta_txn_file_abort(txn);
        return rc;
    }
    fl_delta_file f = {
        .path = txn->file_path,
        .partition_values = txn->file_pvals,
        .n_partition_values = txn->n_file_pvals,
        .size = (int64_t)meta.size,
        .modification_time = meta.mtime_ms ? meta.mtime_ms : fl_clock_now_us() / 1000,
        .data_change = !txn->rearrange,
        .base_row_id = -1,
        .default_row_commit_version = -1,
    };
    f.stats = make_stats(txn, txn->pw, err);
    int64_t rows = fl_pq_writer_num_rows(txn->pw);
    fl_delta_txn_file_abort(txn); /* frees writer and schema; the object is already visible */
    if (!f.stats.ptr) return FL_E_NOMEM;
    fl_delta_file *c = fl_vec_push_zero(&txn->adds);
    if (!c) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    *c = f; /* strings already live in txn->a */
    txn->records_added += rows;
    return FL_OK;
}
