/* pq_meta.c - reader: open (memory, file, read-at callback), footer FileMetaData parsing
 * into the schema tree and row-group/column-chunk metadata, and the metadata getters
 * (module parquet). Every count and offset from the footer is checked against the file
 * size and the thrift limits before it is used; binary fields point into the footer copy
 * held in r->meta. */
#include "parquet/pq_reader_int.h"

#define PQ_DEFAULT_MAX_FOOTER ((size_t)64 << 20)
#define PQ_DEFAULT_MAX_PAGE ((size_t)256 << 20)
#define PQ_DEFAULT_MAX_COLUMN ((size_t)1 << 30)

void fl_pq_read_opts_default(fl_pq_read_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_footer_size = PQ_DEFAULT_MAX_FOOTER;
    o->max_page_size = PQ_DEFAULT_MAX_PAGE;
    o->max_column_bytes = PQ_DEFAULT_MAX_COLUMN;
}

static fl_rc mem_read(void *ctx, uint64_t off, void *dst, size_t len, fl_err *err)
{
    fl_pq_reader *r = ctx;
    if (off > r->size || len > r->size - off)
        return fl_err_set(err, FL_E_PQ_FORMAT, "read of %zu bytes at %llu past the end of the file (%llu bytes)",
                          len, (unsigned long long)off, (unsigned long long)r->size);
    memcpy(dst, r->mem + off, len);
    return FL_OK;
}

static fl_rc reader_alloc(const fl_pq_read_opts *o, fl_pq_reader **out, fl_err *err)
{
    fl_pq_reader *r = fl_calloc(1, sizeof *r);
    if (!r) return fl_err_set(err, FL_E_NOMEM, "parquet reader: out of memory");
    if (o) r->o = *o;
    else fl_pq_read_opts_default(&r->o);
    if (!r->o.max_footer_size) r->o.max_footer_size = PQ_DEFAULT_MAX_FOOTER;
    if (!r->o.max_page_size) r->o.max_page_size = PQ_DEFAULT_MAX_PAGE;
    if (!r->o.max_column_bytes) r->o.max_column_bytes = PQ_DEFAULT_MAX_COLUMN;
    fl_arena_init(&r->meta, 0, 0);
    fl_arena_init(&r->rg_arena, 0, 0);
    fl_buf_init(&r->chunk, 0);
    fl_vec_init(&r->vstack, sizeof(fl_pq_val));
    r->cur_rg = -1;
    r->selected_all = true;
    *out = r;
    return FL_OK;
}

fl_rc fl_pq_reader_open(fl_pq_read_fn fn, void *ctx, uint64_t file_size, const fl_pq_read_opts *o,
                        fl_pq_reader **out, fl_err *err)
{
    *out = NULL;
    fl_pq_reader *r = NULL;
    fl_rc rc = reader_alloc(o, &r, err);
    if (rc) return rc;
    r->fn = fn;
    r->ctx = ctx;
    r->size = file_size;
    rc = pq_read_footer(r, err);
    if (rc) {
        fl_pq_reader_free(r);
        return rc;
    }
    *out = r;
    return FL_OK;
}

fl_rc fl_pq_reader_open_mem(const void *data, size_t len, const fl_pq_read_opts *o, fl_pq_reader **out,
                            fl_err *err)
{
    *out = NULL;
    fl_pq_reader *r = NULL;
    fl_rc rc = reader_alloc(o, &r, err);
    if (rc) return rc;
    r->mem = data;
    r->fn = mem_read;
    r->ctx = r;
    r->size = len;
    rc = pq_read_footer(r, err);
    if (rc) {
        fl_pq_reader_free(r);
        return rc;
    }
    *out = r;
    return FL_OK;
}

fl_rc fl_pq_reader_open_file(const char *path, const fl_pq_read_opts *o, fl_pq_reader **out, fl_err *err)
{
    *out = NULL;
    fl_pq_reader *r = NULL;
    fl_rc rc = reader_alloc(o, &r, err);
    if (rc) return rc;
    rc = fl_file_mmap(path, &r->map, err);
    if (rc) {
        fl_pq_reader_free(r);
        return rc;
    }
    r->mapped = true;
    r->mem = (const uint8_t *)r->map.ptr;
    r->fn = mem_read;
    r->ctx = r;
    r->size = r->map.len;
    rc = pq_read_footer(r, err);
    if (rc) {
        fl_err_prefix(err, "%s: ", path);
        fl_pq_reader_free(r);
        return rc;
    }
    *out = r;
    return FL_OK;
}

void fl_pq_reader_free(fl_pq_reader *r)
{
    if (!r) return;
    fl_pq_schema_free(r->schema);
    fl_arena_fini(&r->meta);
    fl_arena_fini(&r->rg_arena);
    fl_buf_reset(&r->chunk);
    fl_vec_reset(&r->vstack);
    fl_free(r->sel);
    fl_free(r->cur);
    fl_free(r->first_sel_leaf);
    pq_codec_free(&r->cc);
    if (r->mapped) fl_file_munmap(&r->map);
    fl_free(r);
}

/* ---------------------------------------------------------------- schema */

typedef struct pq_selem {
    int type; /* -1 absent */
    int32_t type_length;
    int rep;  /* -1 absent */
    fl_str name;
    int32_t num_children; /* -1 absent */
    int ct;               /* -1 absent */
    int32_t scale, precision, field_id;
    bool has_lt;
    fl_pq_type lt; /* logical part only */
} pq_selem;

static void parse_time_unit(pq_tr *t, uint8_t *unit)
{
    if (!pq_tr_enter(t)) return;
    int16_t last = 0, id;
    int ty;
    while (pq_tr_field(t, &last, &id, &ty)) {
        if (id >= 1 && id <= 3 && ty == TT_STRUCT) *unit = (uint8_t)(id - 1);
        pq_tr_skip(t, ty);
    }
    pq_tr_leave(t);
}

static void parse_logical(pq_tr *t, pq_selem *e)
{
    if (!pq_tr_enter(t)) return;
    int16_t last = 0, id;
    int ty;
    e->has_lt = true;
    e->lt.logical = FL_PQ_LT_UNKNOWN;
    while (pq_tr_field(t, &last, &id, &ty)) {
        if (ty != TT_STRUCT) {
            pq_tr_skip(t, ty);
            continue;
        }
        switch (id) {
        case 1: e->lt.logical = FL_PQ_LT_STRING; break;
        case 2: e->lt.logical = FL_PQ_LT_MAP; break;
        case 3: e->lt.logical = FL_PQ_LT_LIST; break;
        case 4: e->lt.logical = FL_PQ_LT_ENUM; break;
        case 6: e->lt.logical = FL_PQ_LT_DATE; break;
        case 12: e->lt.logical = FL_PQ_LT_JSON; break;
        case 14: e->lt.logical = FL_PQ_LT_UUID; break;
        case 15: e->lt.logical = FL_PQ_LT_FLOAT16; break;
        case 5:
        case 7:
        case 8:
        case 10: {
            if (!pq_tr_enter(t)) return;
            int16_t l2 = 0, i2;
            int t2;
            if (id == 5) e->lt.logical = FL_PQ_LT_DECIMAL;
            if (id == 7) e->lt.logical = FL_PQ_LT_TIME;
            if (id == 8) e->lt.logical = FL_PQ_LT_TIMESTAMP;
            if (id == 10) e->lt.logical = FL_PQ_LT_INT;
            while (pq_tr_field(t, &l2, &i2, &t2)) {
                if (id == 5 && i2 == 1 && t2 == TT_I32) e->lt.scale = (int32_t)pq_tr_int(t, t2);
                else if (id == 5 && i2 == 2 && t2 == TT_I32) e->lt.precision = (int32_t)pq_tr_int(t, t2);
                else if ((id == 7 || id == 8) && i2 == 1 && (t2 == TT_TRUE || t2 == TT_FALSE))
                    e->lt.adjusted_utc = pq_tr_bool(t, t2);
                else if ((id == 7 || id == 8) && i2 == 2 && t2 == TT_STRUCT) parse_time_unit(t, &e->lt.unit);
                else if (id == 10 && i2 == 1 && t2 == TT_I8) e->lt.bit_width = (uint8_t)pq_tr_int(t, t2);
                else if (id == 10 && i2 == 2 && (t2 == TT_TRUE || t2 == TT_FALSE)) e->lt.is_signed = pq_tr_bool(t, t2);
                else pq_tr_skip(t, t2);
            }
            pq_tr_leave(t);
            continue;
        }
        default: e->lt.logical = FL_PQ_LT_UNKNOWN; break;
        }
        pq_tr_skip(t, ty);
    }
    pq_tr_leave(t);
}

static void parse_selem(pq_tr *t, pq_selem *e)
{
    memset(e, 0, sizeof *e);
    e->type = e->rep = e->ct = -1;
    e->num_children = -1;
    e->field_id = -1;
    if (!pq_tr_enter(t)) return;
    int16_t last = 0, id;
    int ty;
    while (pq_tr_field(t, &last, &id, &ty)) {
        switch (id) {
        case 1: if (ty == TT_I32) { e->type = (int)pq_tr_int(t, ty); continue; } break;
        case 2: if (ty == TT_I32) { e->type_length = (int32_t)pq_tr_int(t, ty); continue; } break;
        case 3: if (ty == TT_I32) { e->rep = (int)pq_tr_int(t, ty); continue; } break;
        case 4: if (ty == TT_BINARY) { e->name = pq_tr_bin(t); continue; } break;
        case 5: if (ty == TT_I32) { e->num_children = (int32_t)pq_tr_int(t, ty); continue; } break;
        case 6: if (ty == TT_I32) { e->ct = (int)pq_tr_int(t, ty); continue; } break;
        case 7: if (ty == TT_I32) { e->scale = (int32_t)pq_tr_int(t, ty); continue; } break;
        case 8: if (ty == TT_I32) { e->precision = (int32_t)pq_tr_int(t, ty); continue; } break;
        case 9: if (ty == TT_I32) { e->field_id = (int32_t)pq_tr_int(t, ty); continue; } break;
        case 10: if (ty == TT_STRUCT) { parse_logical(t, e); continue; } break;
        default: break;
        }
        pq_tr_skip(t, ty);
    }
    pq_tr_leave(t);
}

/* Logical type of an element from LogicalType (preferred) or ConvertedType. */
static fl_pq_type elem_type(const pq_selem *e, bool group)
{
    fl_pq_type t = fl_pq_t_phys(group ? FL_PQ_GROUP : (fl_pq_phys)e->type);
    t.type_length = e->type_length;
    if (e->has_lt) {
        t.logical = e->lt.logical;
        t.scale = e->lt.scale;
        t.precision = e->lt.precision;
        t.adjusted_utc = e->lt.adjusted_utc;
        t.unit = e->lt.unit;
        t.bit_width = e->lt.bit_width;
        t.is_signed = e->lt.is_signed;
        return t;
    }
    switch (e->ct) {
    case PQ_CT_UTF8: t.logical = FL_PQ_LT_STRING; break;
    case PQ_CT_ENUM: t.logical = FL_PQ_LT_ENUM; break;
    case PQ_CT_JSON: t.logical = FL_PQ_LT_JSON; break;
    case PQ_CT_MAP: t.logical = FL_PQ_LT_MAP; break;
    case PQ_CT_LIST: t.logical = FL_PQ_LT_LIST; break;
    case PQ_CT_DATE: t.logical = FL_PQ_LT_DATE; break;
    case PQ_CT_DECIMAL:
        t.logical = FL_PQ_LT_DECIMAL;
        t.scale = e->scale;
        t.precision = e->precision;
        break;
    case PQ_CT_TIME_MILLIS:
    case PQ_CT_TIME_MICROS:
        t.logical = FL_PQ_LT_TIME;
        t.adjusted_utc = true;
        t.unit = e->ct == PQ_CT_TIME_MILLIS ? FL_PQ_UNIT_MILLIS : FL_PQ_UNIT_MICROS;
        break;
    case PQ_CT_TIMESTAMP_MILLIS:
    case PQ_CT_TIMESTAMP_MICROS:
        t.logical = FL_PQ_LT_TIMESTAMP;
        t.adjusted_utc = true;
        t.unit = e->ct == PQ_CT_TIMESTAMP_MILLIS ? FL_PQ_UNIT_MILLIS : FL_PQ_UNIT_MICROS;
        break;
    case PQ_CT_UINT_8: case PQ_CT_UINT_16: case PQ_CT_UINT_32: case PQ_CT_UINT_64:
    case PQ_CT_INT_8: case PQ_CT_INT_16: case PQ_CT_INT_32: case PQ_CT_INT_64: {
        static const uint8_t bits[] = {8, 16, 32, 64};
        int k = e->ct >= PQ_CT_INT_8 ? e->ct - PQ_CT_INT_8 : e->ct - PQ_CT_UINT_8;
        t.logical = FL_PQ_LT_INT;
        t.bit_width = bits[k];
        t.is_signed = e->ct >= PQ_CT_INT_8;
        break;
    }
    default: break;
    }
    return t;
}

static fl_rc parse_schema(fl_pq_reader *r, pq_tr *t, fl_err *err)
{
    int et;
    uint32_t n = pq_tr_list(t, &et);
    if (t->rc) return t->rc;
    if (et != TT_STRUCT || n == 0) return fl_err_set(err, FL_E_PQ_SCHEMA, "file footer: schema is empty or not a list of elements");
    if (n > PQ_MAX_SCHEMA_NODES) return fl_err_set(err, FL_E_LIMIT, "file footer: more than %d schema elements", PQ_MAX_SCHEMA_NODES);
    fl_rc rc = fl_pq_schema_new(&r->schema, err);
    if (rc) return rc;
    int stack[PQ_MAX_SCHEMA_DEPTH + 2];
    int32_t left[PQ_MAX_SCHEMA_DEPTH + 2];
    int sp = 0;
    for (uint32_t i = 0; i < n; i++) {
        pq_selem e;
        parse_selem(t, &e);
        if (t->rc) return t->rc;
        if (i == 0) {
            if (e.num_children < 0) return fl_err_set(err, FL_E_PQ_SCHEMA, "file footer: schema root has no num_children");
            stack[0] = 0;
            left[0] = e.num_children;
            sp = 1;
            r->schema->nodes[0].pub.field_id = e.field_id;
            continue;
        }
        if (sp == 0 || left[sp - 1] <= 0)
            return fl_err_set(err, FL_E_PQ_SCHEMA, "file footer: schema has more elements than its groups declare");
        bool group = e.num_children > 0 || e.type < 0;
        if (!group && (e.type < 0 || e.type > FL_PQ_FIXED_LEN_BYTE_ARRAY))
            return fl_err_set(err, FL_E_PQ_SCHEMA, "file footer: column '" FL_STR_FMT "' has unknown physical type %d",
                              FL_STR_ARG(e.name), e.type);
        if (group && e.num_children <= 0)
            return fl_err_set(err, FL_E_PQ_SCHEMA, "file footer: group '" FL_STR_FMT "' has no children", FL_STR_ARG(e.name));
        if (!group && e.type == FL_PQ_FIXED_LEN_BYTE_ARRAY && (e.type_length <= 0 || e.type_length > (1 << 24)))
            return fl_err_set(err, FL_E_PQ_SCHEMA, "file footer: column '" FL_STR_FMT "' has a bad fixed length %d",
                              FL_STR_ARG(e.name), e.type_length);
        if (e.rep < -1 || e.rep > FL_PQ_REPEATED)
            return fl_err_set(err, FL_E_PQ_SCHEMA, "file footer: column '" FL_STR_FMT "' has a bad repetition", FL_STR_ARG(e.name));
        fl_pq_rep rep = e.rep < 0 ? FL_PQ_REQUIRED : (fl_pq_rep)e.rep;
        int id = pq_schema_add_node(r->schema, stack[sp - 1], e.name.ptr ? e.name.ptr : "", e.name.len, rep,
                                    elem_type(&e, group), group);
        if (id < 0) {
            if (err) *err = r->schema->err;
            return r->schema->rc;
        }
        r->schema->nodes[id].pub.field_id = e.field_id;
        r->schema->nodes[id].annot_ct = (int16_t)e.ct;
        left[sp - 1]--;
        while (sp > 0 && left[sp - 1] == 0) sp--;
        if (group) {
            if (sp >= PQ_MAX_SCHEMA_DEPTH)
                return fl_err_set(err, FL_E_LIMIT, "file footer: schema nested deeper than %d", PQ_MAX_SCHEMA_DEPTH);
            stack[sp] = id;
            left[sp] = e.num_children;
            sp++;
        }
    }
    if (sp != 0) return fl_err_set(err, FL_E_PQ_SCHEMA, "file footer: schema has fewer elements than its groups declare");
    if (r->schema->nleaves == 0) return fl_err_set(err, FL_E_PQ_SCHEMA, "file footer: schema has no columns");
    return FL_OK;
}

/* ---------------------------------------------------------------- row groups */

static void parse_stats(pq_tr *t, pq_chunk_meta *c)
{
    if (!pq_tr_enter(t)) return;
    c->has_stats = true;
    int16_t last = 0, id;
    int ty;
    while (pq_tr_field(t, &last, &id, &ty)) {
        if (ty == TT_BINARY && id >= 1 && id <= 6 && id != 3 && id != 4) {
            fl_str s = pq_tr_bin(t);
            if (id == 1) { c->max_legacy = s; c->has_max_legacy = true; }
            if (id == 2) { c->min_legacy = s; c->has_min_legacy = true; }
            if (id == 5) { c->max_value = s; c->has_max_value = true; }
            if (id == 6) { c->min_value = s; c->has_min_value = true; }
        } else if (id == 3 && ty == TT_I64) {
            c->null_count = pq_tr_int(t, ty);
        } else if (id == 7 && (ty == TT_TRUE || ty == TT_FALSE)) {
            c->max_exact = pq_tr_bool(t, ty);
        } else if (id == 8 && (ty == TT_TRUE || ty == TT_FALSE)) {
            c->min_exact = pq_tr_bool(t, ty);
        } else if (id == 9 && ty == TT_I64) {
            c->nan_count = pq_tr_int(t, ty);
        } else {
            pq_tr_skip(t, ty);
        }
    }
    pq_tr_leave(t);
}

static void parse_col_meta(pq_tr *t, pq_chunk_meta *c)
{
    if (!pq_tr_enter(t)) return;
    int16_t last = 0, id;
    int ty;
    while (pq_tr_field(t, &last, &id, &ty)) {
        bool isint = ty == TT_I32 || ty == TT_I64;
        switch (id) {
        case 1: if (isint) { c->type = (int)pq_tr_int(t, ty); continue; } break;
        case 4: if (isint) { c->codec = (int)pq_tr_int(t, ty); continue; } break;
        case 5: if (isint) { c->num_values = pq_tr_int(t, ty); continue; } break;
        case 6: if (isint) { c->total_uncomp = pq_tr_int(t, ty); continue; } break;
        case 7: if (isint) { c->total_comp = pq_tr_int(t, ty); continue; } break;
        case 9: if (isint) { c->data_off = pq_tr_int(t, ty); continue; } break;
        case 10: if (isint) { c->index_off = pq_tr_int(t, ty); continue; } break;
        case 11: if (isint) { c->dict_off = pq_tr_int(t, ty); continue; } break;
        case 12: if (ty == TT_STRUCT) { parse_stats(t, c); continue; } break;
        default: break;
        }
        pq_tr_skip(t, ty);
    }
    pq_tr_leave(t);
}

static fl_rc parse_row_group(fl_pq_reader *r, pq_tr *t, pq_rg_meta *g, int rgi, fl_err *err)
{
    if (!pq_tr_enter(t)) return t->rc;
    int16_t last = 0, id;
    int ty;
    int nleaves = r->schema->nleaves;
    bool have_cols = false, have_rows = false;
    g->num_rows = 0;
    while (pq_tr_field(t, &last, &id, &ty)) {
        if (id == 1 && ty == TT_LIST) {
            int et;
            uint32_t n = pq_tr_list(t, &et);
            if (t->rc) break;
            if (have_cols || et != TT_STRUCT || n != (uint32_t)nleaves)
                return fl_err_set(err, FL_E_PQ_FORMAT, "file footer: row group %d has %u column chunks, schema has %d columns",
                                  rgi, n, nleaves);
            have_cols = true;
            g->cols = fl_arena_calloc(&r->meta, n, sizeof *g->cols);
            if (!g->cols) return fl_err_set(err, FL_E_NOMEM, "file footer: out of memory");
            for (uint32_t k = 0; k < n && !t->rc; k++) {
                pq_chunk_meta *c = &g->cols[k];
                c->type = c->codec = -1;
                c->num_values = c->total_comp = c->total_uncomp = -1;
                c->data_off = c->dict_off = c->index_off = -1;
                c->null_count = c->nan_count = -1;
                c->min_exact = c->max_exact = true;
                bool have_meta = false;
                if (!pq_tr_enter(t)) break;
                int16_t l2 = 0, i2;
                int t2;
                while (pq_tr_field(t, &l2, &i2, &t2)) {
                    if (i2 == 1 && t2 == TT_BINARY) {
                        (void)pq_tr_bin(t);
                        c->has_path = true;
                    } else if (i2 == 3 && t2 == TT_STRUCT) {
                        parse_col_meta(t, c);
                        have_meta = true;
                    } else if (i2 == 9) {
                        pq_tr_leave(t);
                        return fl_err_set(err, FL_E_PQ_UNSUPPORTED, "file footer: row group %d column %u is encrypted (not supported)", rgi, k);
                    } else {
                        pq_tr_skip(t, t2);
                    }
                }
                pq_tr_leave(t);
                if (t->rc) break;
                if (!have_meta)
                    return fl_err_set(err, FL_E_PQ_FORMAT, "file footer: row group %d column %u has no metadata", rgi, k);
            }
        } else if (id == 3 && (ty == TT_I64 || ty == TT_I32)) {
            g->num_rows = pq_tr_int(t, ty);
            have_rows = true;
        } else {
            pq_tr_skip(t, ty);
        }
    }
    pq_tr_leave(t);
    if (t->rc) return t->rc;
    if (!have_cols || !have_rows)
        return fl_err_set(err, FL_E_PQ_FORMAT, "file footer: row group %d lacks columns or num_rows", rgi);
    if (g->num_rows < 0) return fl_err_set(err, FL_E_PQ_FORMAT, "file footer: row group %d has negative num_rows", rgi);
    return FL_OK;
}

fl_rc pq_read_footer(fl_pq_reader *r, fl_err *err)
{
    fl_rc rc = FL_OK;
    uint8_t tail[8], head[4];
    if (r->size < 12) return fl_err_set(err, FL_E_PQ_FORMAT, "not a parquet file: only %llu bytes", (unsigned long long)r->size);
    FL_TRY(r->fn(r->ctx, 0, head, 4, err));
    FL_TRY(r->fn(r->ctx, r->size - 8, tail, 8, err));
    if (!memcmp(tail + 4, "PARE", 4))
        FL_FAIL(FL_E_PQ_UNSUPPORTED, "parquet file has an encrypted footer (parquet modular encryption is not supported)");
    if (memcmp(head, "PAR1", 4) || memcmp(tail + 4, "PAR1", 4)) FL_FAIL(FL_E_PQ_FORMAT, "not a parquet file: missing PAR1 magic");
    uint32_t flen = pq_rd32(tail);
    if ((uint64_t)flen + 12 > r->size) FL_FAIL(FL_E_PQ_FORMAT, "file footer length %u is larger than the file", flen);
    if (flen > r->o.max_footer_size) FL_FAIL(FL_E_LIMIT, "file footer of %u bytes exceeds the limit of %zu", flen, r->o.max_footer_size);
    uint8_t *fb = fl_arena_alloc(&r->meta, flen ? flen : 1);
    if (!fb) FL_FAIL(FL_E_NOMEM, "file footer: out of memory (%u bytes)", flen);
    FL_TRY(r->fn(r->ctx, r->size - 8 - flen, fb, flen, err));
    r->footer = fb;
    r->footer_len = flen;

    pq_tr t;
    pq_tr_init(&t, fb, flen, "file footer", err);
    int16_t last = 0, id;
    int ty;
    bool have_schema = false, have_rgs = false;
    while (pq_tr_field(&t, &last, &id, &ty)) {
        if (id == 2 && ty == TT_LIST && !have_schema) {
            FL_TRY(parse_schema(r, &t, err));
            have_schema = true;
        } else if (id == 3 && (ty == TT_I64 || ty == TT_I32)) {
            r->num_rows = pq_tr_int(&t, ty);
        } else if (id == 4 && ty == TT_LIST && !have_rgs) {
            if (!have_schema) FL_FAIL(FL_E_PQ_FORMAT, "file footer: row groups before the schema");
            int et;
            uint32_t n = pq_tr_list(&t, &et);
            if (t.rc) break;
            if (n && et != TT_STRUCT) FL_FAIL(FL_E_PQ_FORMAT, "file footer: row groups are not structs");
            if (n > PQ_MAX_ROW_GROUPS) FL_FAIL(FL_E_LIMIT, "file footer: %u row groups exceed the limit", n);
            if ((uint64_t)n * (uint64_t)r->schema->nleaves > PQ_MAX_CHUNKS)
                FL_FAIL(FL_E_LIMIT, "file footer: %u row groups x %d columns exceed the limit of %d column chunks", n,
                        r->schema->nleaves, PQ_MAX_CHUNKS);
            r->rgs = fl_arena_calloc(&r->meta, n ? n : 1, sizeof *r->rgs);
            if (!r->rgs) FL_FAIL(FL_E_NOMEM, "file footer: out of memory");
            for (uint32_t i = 0; i < n; i++) FL_TRY(parse_row_group(r, &t, &r->rgs[i], (int)i, err));
            r->nrg = (int)n;
            have_rgs = true;
        } else if (id == 5 && ty == TT_LIST) {
            int et;
            uint32_t n = pq_tr_list(&t, &et);
            if (t.rc) break;
            if (n && et != TT_STRUCT) FL_FAIL(FL_E_PQ_FORMAT, "file footer: key/value metadata is not a list of structs");
            r->kv_keys = fl_arena_calloc(&r->meta, n ? n : 1, sizeof(fl_str));
            r->kv_vals = fl_arena_calloc(&r->meta, n ? n : 1, sizeof(fl_str));
            r->kv_has = fl_arena_calloc(&r->meta, n ? n : 1, sizeof(bool));
            if (!r->kv_keys || !r->kv_vals || !r->kv_has) FL_FAIL(FL_E_NOMEM, "file footer: out of memory");
            for (uint32_t i = 0; i < n && !t.rc; i++) {
                if (!pq_tr_enter(&t)) break;
                int16_t l2 = 0, i2;
                int t2;
                while (pq_tr_field(&t, &l2, &i2, &t2)) {
                    if (i2 == 1 && t2 == TT_BINARY) r->kv_keys[i] = pq_tr_bin(&t);
                    else if (i2 == 2 && t2 == TT_BINARY) { r->kv_vals[i] = pq_tr_bin(&t); r->kv_has[i] = true; }
                    else pq_tr_skip(&t, t2);
                }
                pq_tr_leave(&t);
            }
            r->nkv = n;
        } else if (id == 6 && ty == TT_BINARY) {
            r->created_by = pq_tr_bin(&t);
        } else if (id == 7 && ty == TT_LIST) {
            r->has_col_orders = true;
            pq_tr_skip(&t, ty);
        } else if (id == 8 && ty == TT_STRUCT) {
            FL_FAIL(FL_E_PQ_UNSUPPORTED, "parquet file is encrypted (plaintext footer with encryption algorithm); not supported");
        } else {
            pq_tr_skip(&t, ty);
        }
    }
    if (t.rc) {
        rc = t.rc;
        goto done;
    }
    if (!have_schema) FL_FAIL(FL_E_PQ_FORMAT, "file footer: no schema");
    if (r->num_rows < 0) FL_FAIL(FL_E_PQ_FORMAT, "file footer: negative num_rows");
    /* Check row group metadata against the schema and the file size. */
    uint64_t data_end = r->size - 8 - flen;
    int64_t total = 0;
    for (int g = 0; g < r->nrg; g++) {
        if (__builtin_add_overflow(total, r->rgs[g].num_rows, &total)) FL_FAIL(FL_E_PQ_FORMAT, "file footer: row count overflow");
        for (int l = 0; l < r->schema->nleaves; l++) {
            pq_chunk_meta *c = &r->rgs[g].cols[l];
            const fl_pq_node *nd = &r->schema->nodes[r->schema->leaves[l]].pub;
            char path[256];
            fl_pq_schema_path(r->schema, r->schema->leaves[l], path, sizeof path);
            if (c->has_path)
                FL_FAIL(FL_E_PQ_UNSUPPORTED, "column '%s' in row group %d lives in another file (file_path is not supported)", path, g);
            if (c->type != (int)nd->type.phys)
                FL_FAIL(FL_E_PQ_FORMAT, "column '%s' in row group %d: chunk type %d does not match the schema type %d", path,
                        g, c->type, (int)nd->type.phys);
            if (c->num_values < 0 || c->total_comp < 0 || c->data_off < 0)
                FL_FAIL(FL_E_PQ_FORMAT, "column '%s' in row group %d: missing or negative sizes/offsets", path, g);
            if (c->num_values < r->rgs[g].num_rows && nd->max_rep == 0)
                FL_FAIL(FL_E_PQ_FORMAT, "column '%s' in row group %d: %lld values for %lld rows", path, g,
                        (long long)c->num_values, (long long)r->rgs[g].num_rows);
            if (c->num_values == 0) continue; /* empty chunks are never read */
            int64_t start = c->data_off;
            if (c->dict_off > 0 && c->dict_off < start) start = c->dict_off;
            if ((uint64_t)start < 4 || (uint64_t)start > data_end || (uint64_t)c->total_comp > data_end - (uint64_t)start)
                FL_FAIL(FL_E_PQ_FORMAT, "column '%s' in row group %d: chunk at %lld (+%lld bytes) lies outside the data area",
                        path, g, (long long)start, (long long)c->total_comp);
        }
    }
    /* some writers leave FileMetaData.num_rows at 0; the row groups are authoritative */
    if (r->nrg > 0) r->num_rows = total;
    r->sel = fl_calloc((size_t)r->schema->n, 1);
    r->first_sel_leaf = fl_calloc((size_t)r->schema->n, sizeof(int));
    r->cur = fl_calloc((size_t)r->schema->nleaves, sizeof *r->cur);
    if (!r->sel || !r->first_sel_leaf || !r->cur) FL_FAIL(FL_E_NOMEM, "parquet reader: out of memory");
    memset(r->sel, 1, (size_t)r->schema->n);
    for (int i = 0; i < r->schema->n; i++) r->first_sel_leaf[i] = r->schema->nodes[i].first_leaf < r->schema->nodes[i].end_leaf ? r->schema->nodes[i].first_leaf : -1;
done:
    return rc;
}

/* ---------------------------------------------------------------- getters */

const fl_pq_schema *fl_pq_reader_get_schema(const fl_pq_reader *r) { return r->schema; }
int64_t fl_pq_reader_num_rows(const fl_pq_reader *r) { return r->num_rows; }
int fl_pq_reader_num_row_groups(const fl_pq_reader *r) { return r->nrg; }
int64_t fl_pq_reader_rg_num_rows(const fl_pq_reader *r, int rg)
{
    return rg >= 0 && rg < r->nrg ? r->rgs[rg].num_rows : -1;
}
fl_str fl_pq_reader_created_by(const fl_pq_reader *r) { return r->created_by; }
size_t fl_pq_reader_num_kv(const fl_pq_reader *r) { return r->nkv; }

void fl_pq_reader_get_kv(const fl_pq_reader *r, size_t i, fl_str *key, fl_str *value, bool *has_value)
{
    if (i >= r->nkv) {
        *key = *value = FL_STR_NULL;
        *has_value = false;
        return;
    }
    *key = r->kv_keys[i];
    *value = r->kv_vals[i];
    *has_value = r->kv_has[i];
}

const char *fl_pq_reader_codec_name(const fl_pq_reader *r, int rg, int leaf)
{
    if (rg < 0 || rg >= r->nrg || leaf < 0 || leaf >= r->schema->nleaves) return "";
    return pq_codec_name(r->rgs[rg].cols[leaf].codec);
}

static bool decode_stat(const fl_pq_type *t, fl_str s, fl_pq_scalar *out)
{
    out->phys = t->phys;
    const uint8_t *p = (const uint8_t *)s.ptr;
    switch (t->phys) {
    case FL_PQ_BOOLEAN:
        if (s.len < 1) return false;
        out->v.b = p[0] != 0;
        return true;
    case FL_PQ_INT32:
        if (s.len != 4) return false;
        out->v.i32 = (int32_t)pq_rd32(p);
        return true;
    case FL_PQ_INT64:
        if (s.len != 8) return false;
        out->v.i64 = (int64_t)pq_rd64(p);
        return true;
    case FL_PQ_FLOAT: {
        if (s.len != 4) return false;
        uint32_t u = pq_rd32(p);
        memcpy(&out->v.f32, &u, 4);
        return out->v.f32 == out->v.f32;
    }
    case FL_PQ_DOUBLE: {
        if (s.len != 8) return false;
        uint64_t u = pq_rd64(p);
        memcpy(&out->v.f64, &u, 8);
        return out->v.f64 == out->v.f64;
    }
    case FL_PQ_BYTE_ARRAY:
    case FL_PQ_FIXED_LEN_BYTE_ARRAY:
        out->v.bytes = s;
        return true;
    default:
        return false;
    }
}

fl_rc fl_pq_reader_get_rg_stats(const fl_pq_reader *r, int rg, int leaf, fl_pq_stats *out, fl_err *err)
{
    memset(out, 0, sizeof *out);
    if (rg < 0 || rg >= r->nrg || leaf < 0 || leaf >= r->schema->nleaves)
        return fl_err_set(err, FL_E_ARG, "parquet reader: row group %d / column %d out of range", rg, leaf);
    const pq_chunk_meta *c = &r->rgs[rg].cols[leaf];
    const fl_pq_type *t = &r->schema->nodes[r->schema->leaves[leaf]].pub.type;
    out->num_values = c->num_values;
    out->null_count = c->null_count;
    out->nan_count = c->nan_count;
    out->min_exact = c->min_exact;
    out->max_exact = c->max_exact;
    int sort = pq_sort_order(t);
    if (sort == 2) return FL_OK;
    if (c->has_min_value && c->has_max_value) {
        out->has_min_max = decode_stat(t, c->min_value, &out->min) && decode_stat(t, c->max_value, &out->max);
    } else if (c->has_min_legacy && c->has_max_legacy && sort == 0 && t->phys != FL_PQ_BYTE_ARRAY &&
               t->phys != FL_PQ_FIXED_LEN_BYTE_ARRAY) {
        out->has_min_max = decode_stat(t, c->min_legacy, &out->min) && decode_stat(t, c->max_legacy, &out->max);
    }
    return FL_OK;
}
