/* pq_write.c - the Parquet writer object: options, row-at-a-time shredding (Dremel
 * definition/repetition levels from put/begin/end events), the columnar batch API,
 * row-group flushing through the sink, and the footer (module parquet).
 * Invariant: the first error is sticky in w->rc; every entry point is a no-op after it.
 * Memory: one buffered row group (compressed pages + the current page + dictionaries). */
#include "parquet/pq_writer_int.h"

#include <stdio.h>

#define PQ_DEFAULT_PAGE (1u << 20)
#define PQ_DEFAULT_DICT (1u << 20)
#define PQ_DEFAULT_RG ((size_t)128 << 20)
#define PQ_DEFAULT_RG_ROWS 1048576

void fl_pq_write_opts_default(fl_pq_write_opts *o)
{
    memset(o, 0, sizeof *o);
    o->codec = FL_PQ_SNAPPY;
    o->page_size = PQ_DEFAULT_PAGE;
    o->dict_page_limit = PQ_DEFAULT_DICT;
    o->row_group_size = PQ_DEFAULT_RG;
    o->row_group_rows = PQ_DEFAULT_RG_ROWS;
}

fl_rc fl_pq_sink_buf(void *buf, const void *data, size_t len, fl_err *err)
{
    fl_buf *b = buf;
    if (fl_buf_append(b, data, len)) return fl_err_set(err, b->rc, "parquet sink: buffer: %s", fl_rc_str(b->rc));
    return FL_OK;
}

fl_rc fl_pq_sink_stdio(void *file, const void *data, size_t len, fl_err *err)
{
    if (len && fwrite(data, 1, len, (FILE *)file) != len)
        return fl_err_set(err, FL_E_IO, "parquet sink: write failed");
    return FL_OK;
}

static fl_rc wfail(fl_pq_writer *w, fl_rc code, const char *fmt, ...) FL_PRINTF(3, 4);
static fl_rc wfail(fl_pq_writer *w, fl_rc code, const char *fmt, ...)
{
    if (!w->rc) {
        va_list ap;
        va_start(ap, fmt);
        w->rc = fl_err_setv(&w->err, code, fmt, ap);
        va_end(ap);
    }
    return w->rc;
}

fl_rc pq_emit(fl_pq_writer *w, const void *p, size_t n)
{
    if (w->rc) return w->rc;
    if (!w->started) {
        w->started = true;
        fl_rc rc = w->sink(w->sink_ctx, "PAR1", 4, &w->err);
        if (rc) return w->rc = rc;
        w->written += 4;
    }
    if (!n) return FL_OK;
    if (w->o.max_file_size && w->written + n > w->o.max_file_size)
        return wfail(w, FL_E_LIMIT, "parquet writer: file would exceed max_file_size%s", "");
    fl_rc rc = w->sink(w->sink_ctx, p, n, &w->err);
    if (rc) return w->rc = rc;
    w->written += n;
    return FL_OK;
}

fl_rc fl_pq_writer_new(const fl_pq_schema *schema, const fl_pq_write_opts *o, fl_pq_sink_fn sink,
                       void *sink_ctx, fl_pq_writer **out, fl_err *err)
{
    fl_rc rc = FL_OK;
    *out = NULL;
    if (!sink) return fl_err_set(err, FL_E_ARG, "parquet writer: no sink");
    rc = fl_pq_schema_check(schema, err);
    if (rc) return rc;
    fl_pq_writer *w = fl_calloc(1, sizeof *w);
    if (!w) return fl_err_set(err, FL_E_NOMEM, "parquet writer: out of memory");
    fl_arena_init(&w->meta, 4096, 0);
    fl_buf_init(&w->page, 0);
    fl_buf_init(&w->comp, 0);
    fl_buf_init(&w->hdr, 0);
    fl_buf_init(&w->rg_meta, 0);
    if (o) w->o = *o;
    else fl_pq_write_opts_default(&w->o);
    if (!w->o.page_size) w->o.page_size = PQ_DEFAULT_PAGE;
    if (!w->o.dict_page_limit) w->o.dict_page_limit = PQ_DEFAULT_DICT;
    if (!w->o.row_group_size) w->o.row_group_size = PQ_DEFAULT_RG;
    if (w->o.row_group_rows <= 0) w->o.row_group_rows = PQ_DEFAULT_RG_ROWS;
    switch (w->o.codec) {
    case FL_PQ_UNCOMPRESSED: case FL_PQ_SNAPPY: case FL_PQ_GZIP: case FL_PQ_ZSTD: case FL_PQ_LZ4_RAW:
        break;
    default:
        FL_FAIL(FL_E_ARG, "parquet writer: unsupported codec %d", (int)w->o.codec);
    }
    w->sink = sink;
    w->sink_ctx = sink_ctx;
    FL_TRY(pq_schema_clone(schema, &w->schema, err));
    const char *cb = w->o.created_by ? w->o.created_by : "fhirlake version " FL_VERSION_STRING;
    w->o.created_by = fl_arena_strndup(&w->meta, cb, strlen(cb));
    if (w->o.kv_count) {
        fl_pq_kv *kv = fl_arena_calloc(&w->meta, w->o.kv_count, sizeof *kv);
        if (!kv) FL_FAIL(FL_E_NOMEM, "parquet writer: out of memory");
        for (size_t i = 0; i < w->o.kv_count; i++) {
            const char *k = w->o.kv[i].key ? w->o.kv[i].key : "";
            kv[i].key = fl_arena_strndup(&w->meta, k, strlen(k));
            if (w->o.kv[i].value) kv[i].value = fl_arena_strndup(&w->meta, w->o.kv[i].value, strlen(w->o.kv[i].value));
            if (!kv[i].key || (w->o.kv[i].value && !kv[i].value)) FL_FAIL(FL_E_NOMEM, "parquet writer: out of memory");
        }
        w->o.kv = kv;
    }
    if (!w->o.created_by) FL_FAIL(FL_E_NOMEM, "parquet writer: out of memory");
    w->ncols = w->schema->nleaves;
    w->cols = fl_calloc((size_t)w->ncols, sizeof *w->cols);
    w->next_rep = fl_calloc((size_t)w->ncols, 1);
    if (!w->cols || !w->next_rep) FL_FAIL(FL_E_NOMEM, "parquet writer: out of memory");
    for (int i = 0; i < w->ncols; i++) FL_TRY(pq_wcol_init(w, &w->cols[i], w->schema->leaves[i]));
    *out = w;
    return FL_OK;
done:
    fl_pq_writer_free(w);
    return rc;
}

void fl_pq_writer_free(fl_pq_writer *w)
{
    if (!w) return;
    if (w->cols)
        for (int i = 0; i < w->ncols; i++) pq_wcol_free(&w->cols[i]);
    fl_free(w->cols);
    fl_free(w->next_rep);
    fl_pq_schema_free(w->schema);
    fl_buf_reset(&w->page);
    fl_buf_reset(&w->comp);
    fl_buf_reset(&w->hdr);
    fl_buf_reset(&w->rg_meta);
    pq_codec_free(&w->cc);
    fl_arena_fini(&w->meta);
    fl_free(w);
}

const fl_pq_schema *fl_pq_writer_get_schema(const fl_pq_writer *w) { return w->schema; }
fl_rc fl_pq_writer_rc(const fl_pq_writer *w) { return w->rc; }
const fl_err *fl_pq_writer_err(const fl_pq_writer *w) { return &w->err; }
int64_t fl_pq_writer_num_rows(const fl_pq_writer *w) { return w->rows; }
uint64_t fl_pq_writer_bytes_written(const fl_pq_writer *w) { return w->written; }

uint64_t fl_pq_writer_estimated_size(const fl_pq_writer *w)
{
    uint64_t s = w->written;
    for (int i = 0; i < w->ncols; i++) s += w->cols[i].chunk.len + w->cols[i].dict.data.len + w->cols[i].vals.len;
    return s;
}

fl_rc fl_pq_writer_get_stats(const fl_pq_writer *w, int leaf, fl_pq_stats *out)
{
    if (leaf < 0 || leaf >= w->ncols) return FL_E_ARG;
    const pq_wcol *c = &w->cols[leaf];
    /* file stats so far plus the row group still buffered */
    pq_stat merged = c->fst;
    pq_stat_to_scalar_out(c, &merged, out);
    const pq_stat *cs = &c->cst;
    out->num_values += cs->values;
    out->null_count += cs->nulls;
    if (out->nan_count >= 0) out->nan_count += cs->nans;
    if (cs->has && c->sort != 2) {
        if (!out->has_min_max || pq_scalar_cmp(&c->t, &cs->min, &out->min) < 0) out->min = cs->min;
        if (!out->has_min_max || pq_scalar_cmp(&c->t, &cs->max, &out->max) > 0) out->max = cs->max;
        out->has_min_max = true;
    }
    return FL_OK;
}

/* ---------------------------------------------------------------- row groups */

static size_t buffered_bytes(const fl_pq_writer *w)
{
    size_t s = 0;
    for (int i = 0; i < w->ncols; i++) s += pq_wcol_buffered(&w->cols[i]);
    return s;
}

static fl_rc flush_row_group(fl_pq_writer *w)
{
    if (w->rc) return w->rc;
    if (w->rg_rows == 0) return FL_OK;
    if (w->n_rg >= INT16_MAX) return wfail(w, FL_E_LIMIT, "parquet writer: too many row groups%s", "");
    if (pq_emit(w, NULL, 0)) return w->rc; /* magic first, so offsets are right */
    uint64_t rg_start = w->written;
    pq_tw t;
    pq_tw_init(&t, &w->rg_meta);
    pq_tw_elem_struct_begin(&t);
    pq_tw_list_begin(&t, 1, TT_STRUCT, (size_t)w->ncols);
    int64_t uncomp = 0, comp = 0;
    for (int i = 0; i < w->ncols && !w->rc; i++) pq_wcol_write_chunk(w, &w->cols[i], &t, &uncomp, &comp);
    if (w->rc) return w->rc;
    pq_tw_i64(&t, 2, uncomp);
    pq_tw_i64(&t, 3, w->rg_rows);
    pq_tw_i64(&t, 5, (int64_t)rg_start);
    pq_tw_i64(&t, 6, comp);
    pq_tw_i16(&t, 7, (int16_t)w->n_rg);
    pq_tw_struct_end(&t);
    if (w->rg_meta.rc) return wfail(w, w->rg_meta.rc, "parquet writer: footer metadata: %s", fl_rc_str(w->rg_meta.rc));
    w->n_rg++;
    w->rg_rows = 0;
    return FL_OK;
}

fl_rc fl_pq_writer_flush(fl_pq_writer *w)
{
    if (w->rc) return w->rc;
    if (w->in_row) return wfail(w, FL_E_STATE, "parquet writer: flush in the middle of a row%s", "");
    return flush_row_group(w);
}

static void maybe_flush(fl_pq_writer *w)
{
    if (w->rg_rows >= w->o.row_group_rows ||
        ((w->rg_rows & 1023) == 0 && buffered_bytes(w) >= w->o.row_group_size))
        flush_row_group(w);
}

/* ---------------------------------------------------------------- footer */

static void put_logical(pq_tw *t, const fl_pq_type *ty)
{
    switch (ty->logical) {
    case FL_PQ_LT_STRING: pq_tw_struct_begin(t, 10); pq_tw_struct_begin(t, 1); pq_tw_struct_end(t); pq_tw_struct_end(t); return;
    case FL_PQ_LT_MAP: pq_tw_struct_begin(t, 10); pq_tw_struct_begin(t, 2); pq_tw_struct_end(t); pq_tw_struct_end(t); return;
    case FL_PQ_LT_LIST: pq_tw_struct_begin(t, 10); pq_tw_struct_begin(t, 3); pq_tw_struct_end(t); pq_tw_struct_end(t); return;
    case FL_PQ_LT_DATE: pq_tw_struct_begin(t, 10); pq_tw_struct_begin(t, 6); pq_tw_struct_end(t); pq_tw_struct_end(t); return;
    case FL_PQ_LT_JSON: pq_tw_struct_begin(t, 10); pq_tw_struct_begin(t, 12); pq_tw_struct_end(t); pq_tw_struct_end(t); return;
    case FL_PQ_LT_UUID: pq_tw_struct_begin(t, 10); pq_tw_struct_begin(t, 14); pq_tw_struct_end(t); pq_tw_struct_end(t); return;
    case FL_PQ_LT_DECIMAL:
        pq_tw_struct_begin(t, 10);
        pq_tw_struct_begin(t, 5);
        pq_tw_i32(t, 1, ty->scale);
        pq_tw_i32(t, 2, ty->precision);
        pq_tw_struct_end(t);
        pq_tw_struct_end(t);
        return;
    case FL_PQ_LT_TIMESTAMP:
        pq_tw_struct_begin(t, 10);
        pq_tw_struct_begin(t, 8);
        pq_tw_bool(t, 1, ty->adjusted_utc);
        pq_tw_struct_begin(t, 2);
        pq_tw_struct_begin(t, (int16_t)(ty->unit + 1));
        pq_tw_struct_end(t);
        pq_tw_struct_end(t);
        pq_tw_struct_end(t);
        pq_tw_struct_end(t);
        return;
    case FL_PQ_LT_INT:
        pq_tw_struct_begin(t, 10);
        pq_tw_struct_begin(t, 10);
        pq_tw_i8(t, 1, (int8_t)ty->bit_width);
        pq_tw_bool(t, 2, ty->is_signed);
        pq_tw_struct_end(t);
        pq_tw_struct_end(t);
        return;
    default:
        return;
    }
}

static int converted_type(const fl_pq_type *ty)
{
    switch (ty->logical) {
    case FL_PQ_LT_STRING: return PQ_CT_UTF8;
    case FL_PQ_LT_JSON: return PQ_CT_JSON;
    case FL_PQ_LT_MAP: return PQ_CT_MAP;
    case FL_PQ_LT_LIST: return PQ_CT_LIST;
    case FL_PQ_LT_DATE: return PQ_CT_DATE;
    case FL_PQ_LT_DECIMAL: return PQ_CT_DECIMAL;
    case FL_PQ_LT_TIMESTAMP:
        if (!ty->adjusted_utc || ty->unit == FL_PQ_UNIT_NANOS) return -1;
        return ty->unit == FL_PQ_UNIT_MILLIS ? PQ_CT_TIMESTAMP_MILLIS : PQ_CT_TIMESTAMP_MICROS;
    case FL_PQ_LT_INT:
        switch (ty->bit_width) {
        case 8: return ty->is_signed ? PQ_CT_INT_8 : PQ_CT_UINT_8;
        case 16: return ty->is_signed ? PQ_CT_INT_16 : PQ_CT_UINT_16;
        case 32: return ty->is_signed ? PQ_CT_INT_32 : PQ_CT_UINT_32;
        default: return ty->is_signed ? PQ_CT_INT_64 : PQ_CT_UINT_64;
        }
    default:
        return -1;
    }
}

static fl_rc write_footer(fl_pq_writer *w)
{
    fl_buf *b = &w->page;
    fl_buf_clear(b);
    pq_tw t;
    pq_tw_init(&t, b);
    pq_tw_i32(&t, 1, 1);
    const fl_pq_schema *s = w->schema;
    pq_tw_list_begin(&t, 2, TT_STRUCT, (size_t)s->n);
    for (int i = 0; i < s->n; i++) {
        const fl_pq_node *n = &s->nodes[i].pub;
        bool group = n->type.phys == FL_PQ_GROUP;
        pq_tw_elem_struct_begin(&t);
        if (!group) pq_tw_i32(&t, 1, (int32_t)n->type.phys);
        if (n->type.phys == FL_PQ_FIXED_LEN_BYTE_ARRAY) pq_tw_i32(&t, 2, n->type.type_length);
        if (i > 0) pq_tw_i32(&t, 3, (int32_t)n->rep);
        pq_tw_bin(&t, 4, n->name, strlen(n->name));
        if (group) pq_tw_i32(&t, 5, n->num_children);
        int ct = converted_type(&n->type);
        if (ct >= 0) pq_tw_i32(&t, 6, ct);
        if (n->type.logical == FL_PQ_LT_DECIMAL) {
            pq_tw_i32(&t, 7, n->type.scale);
            pq_tw_i32(&t, 8, n->type.precision);
        }
        if (n->field_id >= 0) pq_tw_i32(&t, 9, n->field_id);
        put_logical(&t, &n->type);
        pq_tw_struct_end(&t);
    }
    pq_tw_i64(&t, 3, w->rows);
    pq_tw_list_begin(&t, 4, TT_STRUCT, (size_t)w->n_rg);
    fl_buf_append(b, w->rg_meta.ptr ? w->rg_meta.ptr : "", w->rg_meta.len);
    if (w->o.kv_count) {
        pq_tw_list_begin(&t, 5, TT_STRUCT, w->o.kv_count);
        for (size_t i = 0; i < w->o.kv_count; i++) {
            pq_tw_elem_struct_begin(&t);
            pq_tw_bin(&t, 1, w->o.kv[i].key, strlen(w->o.kv[i].key));
            if (w->o.kv[i].value) pq_tw_bin(&t, 2, w->o.kv[i].value, strlen(w->o.kv[i].value));
            pq_tw_struct_end(&t);
        }
    }
    pq_tw_bin(&t, 6, w->o.created_by, strlen(w->o.created_by));
    pq_tw_list_begin(&t, 7, TT_STRUCT, (size_t)w->ncols);
    for (int i = 0; i < w->ncols; i++) {
        pq_tw_elem_struct_begin(&t);
        pq_tw_struct_begin(&t, 1);
        pq_tw_struct_end(&t);
        pq_tw_struct_end(&t);
    }
    pq_tw_stop(&t);
    if (b->rc) return wfail(w, b->rc, "parquet writer: footer: %s", fl_rc_str(b->rc));
    if (b->len > UINT32_MAX) return wfail(w, FL_E_LIMIT, "parquet writer: footer larger than 4 GiB%s", "");
    uint8_t tail[8];
    pq_le32(tail, (uint32_t)b->len);
    memcpy(tail + 4, "PAR1", 4);
    if (pq_emit(w, b->ptr, b->len)) return w->rc;
    return pq_emit(w, tail, 8);
}

fl_rc fl_pq_writer_finish(fl_pq_writer *w, fl_err *err)
{
    if (!w) return fl_err_set(err, FL_E_ARG, "parquet writer: NULL");
    if (!w->rc && w->finished) wfail(w, FL_E_STATE, "parquet writer: already finished%s", "");
    if (!w->rc && w->in_row) wfail(w, FL_E_STATE, "parquet writer: finish in the middle of a row%s", "");
    flush_row_group(w);
    if (!w->rc) write_footer(w);
    w->finished = true;
    if (w->rc && err) *err = w->err;
    return w->rc;
}

/* ---------------------------------------------------------------- row API */

static void set_rep(fl_pq_writer *w, int node)
{
    const pq_snode *n = &w->schema->nodes[node];
    uint8_t r = (uint8_t)n->pub.max_rep;
    for (int l = n->first_leaf; l < n->end_leaf; l++) w->next_rep[l] = r;
}

static void emit_nulls(fl_pq_writer *w, int node, int def)
{
    const pq_snode *n = &w->schema->nodes[node];
    for (int l = n->first_leaf; l < n->end_leaf; l++) pq_wcol_levels(w, &w->cols[l], w->next_rep[l], def);
}

/* Position of the next value: the node expected, and whether it is a list element. */
static int begin_value(fl_pq_writer *w, bool *as_elem)
{
    *as_elem = false;
    if (w->rc) return -1;
    if (w->finished) {
        wfail(w, FL_E_STATE, "parquet writer: already finished%s", "");
        return -1;
    }
    if (!w->in_row) {
        memset(w->next_rep, 0, (size_t)w->ncols);
        w->depth = 1;
        memset(&w->frames[0], 0, sizeof w->frames[0]);
        w->frames[0].kind = PQ_F_STRUCT;
        w->in_row = true;
    }
    pq_frame *f = &w->frames[w->depth - 1];
    const fl_pq_schema *s = w->schema;
    switch (f->kind) {
    case PQ_F_STRUCT: {
        const fl_pq_node *g = &s->nodes[f->node].pub;
        if (f->idx >= g->num_children) {
            wfail(w, FL_E_ARG, "parquet writer: too many values for group '%s'", g->name);
            return -1;
        }
        return g->children[f->idx];
    }
    case PQ_F_LIST:
        if (f->count > 0) set_rep(w, f->nest.rep_node);
        f->count++;
        *as_elem = true;
        return f->nest.elem;
    default: /* map */
        if ((f->idx & 1) == 0) {
            if (f->count > 0) set_rep(w, f->nest.rep_node);
            f->count++;
            return f->nest.key;
        }
        if (f->nest.value < 0) {
            wfail(w, FL_E_ARG, "parquet writer: map '%s' has no value column", s->nodes[f->node].pub.name);
            return -1;
        }
        return f->nest.value;
    }
}

static void end_value(fl_pq_writer *w)
{
    pq_frame *f = &w->frames[w->depth - 1];
    if (f->kind != PQ_F_LIST) f->idx++;
}

/* The leaf column for a scalar put at node x, or NULL (error set). */
static pq_wcol *leaf_for(fl_pq_writer *w, int x, bool as_elem, const char *what)
{
    const fl_pq_node *n = &w->schema->nodes[x].pub;
    if (n->type.phys == FL_PQ_GROUP) {
        wfail(w, FL_E_ARG, "parquet writer: a scalar given for group '%s'", n->name);
        return NULL;
    }
    if (n->rep == FL_PQ_REPEATED && !as_elem) {
        wfail(w, FL_E_ARG, "parquet writer: repeated column '%s' needs begin_list", n->name);
        return NULL;
    }
    (void)what;
    pq_wcol *c = &w->cols[n->leaf];
    pq_wcol_levels(w, c, w->next_rep[n->leaf], n->max_def);
    return c;
}

static void type_mismatch(fl_pq_writer *w, int x, const char *what)
{
    char msg[160];
    snprintf(msg, sizeof msg, "%s given for column '%s'", what, w->schema->nodes[x].pub.name);
    wfail(w, FL_E_ARG, "parquet writer: %s", msg);
}

void fl_pq_writer_put_null(fl_pq_writer *w)
{
    bool el;
    int x = begin_value(w, &el);
    if (x < 0) return;
    const fl_pq_node *n = &w->schema->nodes[x].pub;
    if (n->rep != FL_PQ_OPTIONAL) {
        wfail(w, FL_E_ARG, "parquet writer: null given for non-optional column '%s'", n->name);
        return;
    }
    emit_nulls(w, x, n->max_def - 1);
    end_value(w);
}

void fl_pq_writer_put_bool(fl_pq_writer *w, bool v)
{
    bool el;
    int x = begin_value(w, &el);
    if (x < 0) return;
    if (w->schema->nodes[x].pub.type.phys != FL_PQ_BOOLEAN) { type_mismatch(w, x, "a boolean"); return; }
    pq_wcol *c = leaf_for(w, x, el, "bool");
    if (!c) return;
    pq_wcol_bool(c, v);
    end_value(w);
}

void fl_pq_writer_put_i64(fl_pq_writer *w, int64_t v)
{
    bool el;
    int x = begin_value(w, &el);
    if (x < 0) return;
    fl_pq_phys p = w->schema->nodes[x].pub.type.phys;
    if (p == FL_PQ_INT32) {
        if (v < INT32_MIN || v > INT32_MAX) { type_mismatch(w, x, "an out-of-range integer"); return; }
    } else if (p != FL_PQ_INT64) {
        { type_mismatch(w, x, "an integer"); return; }
    }
    pq_wcol *c = leaf_for(w, x, el, "int");
    if (!c) return;
    if (p == FL_PQ_INT32) pq_wcol_i32(c, (int32_t)v);
    else pq_wcol_i64(c, v);
    end_value(w);
}

void fl_pq_writer_put_i32(fl_pq_writer *w, int32_t v) { fl_pq_writer_put_i64(w, v); }

void fl_pq_writer_put_f64(fl_pq_writer *w, double v)
{
    bool el;
    int x = begin_value(w, &el);
    if (x < 0) return;
    fl_pq_phys p = w->schema->nodes[x].pub.type.phys;
    if (p != FL_PQ_DOUBLE && p != FL_PQ_FLOAT) { type_mismatch(w, x, "a floating-point value"); return; }
    pq_wcol *c = leaf_for(w, x, el, "double");
    if (!c) return;
    if (p == FL_PQ_FLOAT) pq_wcol_f32(c, (float)v);
    else pq_wcol_f64(c, v);
    end_value(w);
}

void fl_pq_writer_put_f32(fl_pq_writer *w, float v) { fl_pq_writer_put_f64(w, (double)v); }

void fl_pq_writer_put_bytes(fl_pq_writer *w, const void *p, size_t n)
{
    bool el;
    int x = begin_value(w, &el);
    if (x < 0) return;
    const fl_pq_type *t = &w->schema->nodes[x].pub.type;
    if (t->phys == FL_PQ_FIXED_LEN_BYTE_ARRAY) {
        if (n != (size_t)t->type_length) { type_mismatch(w, x, "bytes of the wrong length"); return; }
    } else if (t->phys != FL_PQ_BYTE_ARRAY) {
        { type_mismatch(w, x, "bytes"); return; }
    }
    pq_wcol *c = leaf_for(w, x, el, "bytes");
    if (!c) return;
    pq_wcol_bytes(c, p, n);
    end_value(w);
}

static void push_frame(fl_pq_writer *w, int node, int kind, const pq_nest *ns)
{
    if (w->depth >= (int)(sizeof w->frames / sizeof w->frames[0])) {
        wfail(w, FL_E_LIMIT, "parquet writer: nesting too deep%s", "");
        return;
    }
    pq_frame *f = &w->frames[w->depth++];
    memset(f, 0, sizeof *f);
    f->node = node;
    f->kind = kind;
    if (ns) f->nest = *ns;
}

void fl_pq_writer_begin_struct(fl_pq_writer *w)
{
    bool el;
    int x = begin_value(w, &el);
    if (x < 0) return;
    const fl_pq_node *n = &w->schema->nodes[x].pub;
    if (n->type.phys != FL_PQ_GROUP || n->type.logical == FL_PQ_LT_LIST || n->type.logical == FL_PQ_LT_MAP) {
        wfail(w, FL_E_ARG, "parquet writer: begin_struct given for '%s', which is not a struct", n->name);
        return;
    }
    if (n->rep == FL_PQ_REPEATED && !el) {
        wfail(w, FL_E_ARG, "parquet writer: repeated group '%s' needs begin_list", n->name);
        return;
    }
    push_frame(w, x, PQ_F_STRUCT, NULL);
}

void fl_pq_writer_begin_list(fl_pq_writer *w)
{
    bool el;
    int x = begin_value(w, &el);
    if (x < 0) return;
    const fl_pq_node *n = &w->schema->nodes[x].pub;
    pq_nest ns;
    if (!el && n->rep == FL_PQ_REPEATED) {
        memset(&ns, 0, sizeof ns);
        ns.rep_node = ns.elem = x;
        ns.key = ns.value = -1;
    } else if (n->rep == FL_PQ_REPEATED || n->type.logical != FL_PQ_LT_LIST ||
               !pq_schema_nest(w->schema, x, &ns) || ns.is_map) {
        wfail(w, FL_E_ARG, "parquet writer: begin_list given for '%s', which is not a list", n->name);
        return;
    }
    push_frame(w, x, PQ_F_LIST, &ns);
}

void fl_pq_writer_begin_map(fl_pq_writer *w)
{
    bool el;
    int x = begin_value(w, &el);
    if (x < 0) return;
    const fl_pq_node *n = &w->schema->nodes[x].pub;
    pq_nest ns;
    if (n->rep == FL_PQ_REPEATED || !pq_schema_nest(w->schema, x, &ns) || !ns.is_map) {
        wfail(w, FL_E_ARG, "parquet writer: begin_map given for '%s', which is not a map", n->name);
        return;
    }
    push_frame(w, x, PQ_F_MAP, &ns);
}

void fl_pq_writer_end(fl_pq_writer *w)
{
    if (w->rc) return;
    if (!w->in_row || w->depth <= 1) {
        wfail(w, FL_E_ARG, "parquet writer: end without a matching begin%s", "");
        return;
    }
    pq_frame *f = &w->frames[w->depth - 1];
    const fl_pq_node *n = &w->schema->nodes[f->node].pub;
    if (f->kind == PQ_F_STRUCT && f->idx != n->num_children) {
        wfail(w, FL_E_ARG, "parquet writer: struct '%s' ended before all its fields were given", n->name);
        return;
    }
    if (f->kind == PQ_F_MAP && (f->idx & 1)) {
        wfail(w, FL_E_ARG, "parquet writer: map '%s' ended after a key without its value", n->name);
        return;
    }
    if (f->kind != PQ_F_STRUCT && f->count == 0)
        emit_nulls(w, f->nest.rep_node, w->schema->nodes[f->nest.rep_node].pub.max_def - 1);
    w->depth--;
    end_value(w);
}

fl_rc fl_pq_writer_end_row(fl_pq_writer *w)
{
    if (w->rc) return w->rc;
    if (!w->in_row) {
        /* a row with no events is only valid if the schema had no columns (never) */
        return wfail(w, FL_E_ARG, "parquet writer: end_row without any value%s", "");
    }
    if (w->depth != 1 || w->frames[0].idx != w->schema->nodes[0].pub.num_children)
        return wfail(w, FL_E_ARG, "parquet writer: row ended before all columns were given%s", "");
    w->in_row = false;
    w->rows++;
    w->rg_rows++;
    maybe_flush(w);
    return w->rc;
}

/* ---------------------------------------------------------------- batch API */

static void put_vec_value(pq_wcol *c, const void *values, size_t i)
{
    switch (c->t.phys) {
    case FL_PQ_BOOLEAN: pq_wcol_bool(c, ((const uint8_t *)values)[i] != 0); break;
    case FL_PQ_INT32: pq_wcol_i32(c, ((const int32_t *)values)[i]); break;
    case FL_PQ_INT64: pq_wcol_i64(c, ((const int64_t *)values)[i]); break;
    case FL_PQ_FLOAT: pq_wcol_f32(c, ((const float *)values)[i]); break;
    case FL_PQ_DOUBLE: pq_wcol_f64(c, ((const double *)values)[i]); break;
    default: {
        fl_str s = ((const fl_str *)values)[i];
        if (c->t.phys == FL_PQ_FIXED_LEN_BYTE_ARRAY && s.len != (size_t)c->t.type_length) {
            c->rc = FL_E_ARG;
            return;
        }
        pq_wcol_bytes(c, s.ptr, s.len);
    }
    }
}

static fl_rc batch_column(fl_pq_writer *w, pq_wcol *c, const fl_pq_colvec *v, size_t num_rows)
{
    const fl_pq_schema *s = w->schema;
    const fl_pq_node *x = c->nd;
    char path[256];
    fl_pq_schema_path(s, c->node, path, sizeof path);
    if (!v->values && num_rows) return wfail(w, FL_E_ARG, "parquet writer: batch column '%s' has no values", path);
    if (v->def_levels || (x->max_def == 0 && x->max_rep == 0)) {
        if (!v->def_levels) {
            pq_wcol_put_flat(w, c, v->values, NULL, num_rows);
            return c->rc ? wfail(w, c->rc, "parquet writer: batch column '%s': bad value", path) : w->rc;
        }
        if (x->max_rep && !v->rep_levels)
            return wfail(w, FL_E_ARG, "parquet writer: batch column '%s' needs repetition levels", path);
        size_t rows = 0, vi = 0;
        for (size_t k = 0; k < v->num_levels; k++) {
            int d = v->def_levels[k];
            int r = x->max_rep ? v->rep_levels[k] : 0;
            if (d < 0 || d > x->max_def || r < 0 || r > x->max_rep || (k == 0 && r != 0))
                return wfail(w, FL_E_ARG, "parquet writer: batch column '%s': level out of range", path);
            if (r == 0) rows++;
            pq_wcol_levels(w, c, r, d);
            if (d == x->max_def) put_vec_value(c, v->values, vi++);
        }
        if (rows != num_rows)
            return wfail(w, FL_E_ARG, "parquet writer: batch column '%s': levels describe a different number of rows", path);
        return c->rc ? wfail(w, c->rc, "parquet writer: batch column '%s': bad value", path) : w->rc;
    }
    if (x->max_rep == 0 && x->max_def == 1 && x->rep == FL_PQ_OPTIONAL) {
        pq_wcol_put_flat(w, c, v->values, v->valid, num_rows);
        return c->rc ? wfail(w, c->rc, "parquet writer: batch column '%s': bad value", path) : w->rc;
    }
    /* top-level list of primitives */
    int rn = x->parent, ln = rn > 0 ? s->nodes[rn].pub.parent : -1;
    if (x->max_rep != 1 || rn <= 0 || ln <= 0 || s->nodes[ln].pub.parent != 0 ||
        s->nodes[rn].pub.rep != FL_PQ_REPEATED || s->nodes[ln].pub.type.logical != FL_PQ_LT_LIST ||
        x->rep == FL_PQ_REPEATED || !v->offsets)
        return wfail(w, FL_E_ARG, "parquet writer: batch column '%s' needs the levels form", path);
    int null_list = s->nodes[ln].pub.max_def - 1, empty = s->nodes[rn].pub.max_def - 1;
    bool list_opt = s->nodes[ln].pub.rep == FL_PQ_OPTIONAL, elem_opt = x->rep == FL_PQ_OPTIONAL;
    for (size_t r = 0; r < num_rows; r++) {
        if (v->list_valid && !v->list_valid[r]) {
            if (!list_opt) return wfail(w, FL_E_ARG, "parquet writer: null list in required column '%s'", path);
            pq_wcol_levels(w, c, 0, null_list);
            continue;
        }
        int64_t a = v->offsets[r], b = v->offsets[r + 1];
        if (b < a) return wfail(w, FL_E_ARG, "parquet writer: batch column '%s': offsets go backwards", path);
        if (a == b) {
            pq_wcol_levels(w, c, 0, empty);
            continue;
        }
        for (int64_t k = a; k < b; k++) {
            int rep = k == a ? 0 : 1;
            if (v->valid && !v->valid[k]) {
                if (!elem_opt) return wfail(w, FL_E_ARG, "parquet writer: null element in '%s'", path);
                pq_wcol_levels(w, c, rep, x->max_def - 1);
            } else {
                pq_wcol_levels(w, c, rep, x->max_def);
                put_vec_value(c, v->values, (size_t)k);
            }
        }
    }
    return c->rc ? wfail(w, c->rc, "parquet writer: batch column '%s': bad value", path) : w->rc;
}

fl_rc fl_pq_writer_write_batch(fl_pq_writer *w, const fl_pq_colvec *cols, size_t ncols, size_t num_rows)
{
    if (w->rc) return w->rc;
    if (w->finished) return wfail(w, FL_E_STATE, "parquet writer: already finished%s", "");
    if (w->in_row) return wfail(w, FL_E_STATE, "parquet writer: write_batch in the middle of a row%s", "");
    if (ncols != (size_t)w->ncols) return wfail(w, FL_E_ARG, "parquet writer: write_batch needs one vector per leaf column%s", "");
    for (int i = 0; i < w->ncols && !w->rc; i++) batch_column(w, &w->cols[i], &cols[i], num_rows);
    if (w->rc) return w->rc;
    w->rows += (int64_t)num_rows;
    w->rg_rows += (int64_t)num_rows;
    if (w->rg_rows >= w->o.row_group_rows || buffered_bytes(w) >= w->o.row_group_size) flush_row_group(w);
    return w->rc;
}
