/* test_roundtrip.c - random schemas and rows written with the row API and read back
 * (src/parquet writer + reader). Several hundred seeded cases cover every writable type,
 * nulls, empty lists/maps, deep nesting, extreme integers, NaN/inf/-0, multi-byte UTF-8,
 * large strings, every codec, dictionary on/off/fallback, tiny pages and row groups.
 * Also checks the writer's whole-file statistics against statistics computed here. */
#include "parquet/pq_testgen.h"
#include "testhelp.h"

#define CASES 600

typedef struct leaf_stats {
    int64_t nulls, values;
    bool has;
    fl_pq_val min, max;
} leaf_stats;

/* Sort-order comparison of two present scalars of a leaf (as the Parquet spec orders them). */
static int cmp_scalar(const fl_pq_type *t, const fl_pq_val *a, const fl_pq_val *b)
{
    bool uns = t->logical == FL_PQ_LT_INT && !t->is_signed;
    switch (a->kind) {
    case FL_PQ_V_BOOL: return (int)a->v.b - (int)b->v.b;
    case FL_PQ_V_I32:
        if (uns) return (uint32_t)a->v.i32 < (uint32_t)b->v.i32 ? -1 : (uint32_t)a->v.i32 > (uint32_t)b->v.i32;
        return a->v.i32 < b->v.i32 ? -1 : a->v.i32 > b->v.i32;
    case FL_PQ_V_I64:
        if (uns) return (uint64_t)a->v.i64 < (uint64_t)b->v.i64 ? -1 : (uint64_t)a->v.i64 > (uint64_t)b->v.i64;
        return a->v.i64 < b->v.i64 ? -1 : a->v.i64 > b->v.i64;
    case FL_PQ_V_F32: return a->v.f32 < b->v.f32 ? -1 : a->v.f32 > b->v.f32;
    case FL_PQ_V_F64: return a->v.f64 < b->v.f64 ? -1 : a->v.f64 > b->v.f64;
    default: {
        if (t->logical == FL_PQ_LT_DECIMAL && a->v.bytes.len && b->v.bytes.len) {
            bool na = (uint8_t)a->v.bytes.ptr[0] & 0x80, nb = (uint8_t)b->v.bytes.ptr[0] & 0x80;
            if (na != nb) return na ? -1 : 1;
        }
        size_t n = a->v.bytes.len < b->v.bytes.len ? a->v.bytes.len : b->v.bytes.len;
        int c = n ? memcmp(a->v.bytes.ptr, b->v.bytes.ptr, n) : 0;
        if (c) return c;
        return a->v.bytes.len < b->v.bytes.len ? -1 : a->v.bytes.len > b->v.bytes.len;
    }
    }
}

/* Walk a value the way the writer shreds it, accumulating per-leaf statistics. */
static void acc_nulls(const fl_pq_schema *s, int node, leaf_stats *st)
{
    const fl_pq_node *n = fl_pq_schema_node(s, node);
    if (n->leaf >= 0) {
        st[n->leaf].nulls++;
        st[n->leaf].values++;
        return;
    }
    for (int i = 0; i < n->num_children; i++) acc_nulls(s, n->children[i], st);
}

static void acc(const fl_pq_schema *s, int node, const fl_pq_val *v, leaf_stats *st)
{
    const fl_pq_node *n = fl_pq_schema_node(s, node);
    if (v->kind == FL_PQ_V_NULL) {
        acc_nulls(s, node, st);
        return;
    }
    if (n->leaf >= 0) {
        leaf_stats *l = &st[n->leaf];
        l->values++;
        bool nan = (v->kind == FL_PQ_V_F32 && isnan(v->v.f32)) || (v->kind == FL_PQ_V_F64 && isnan(v->v.f64));
        if (nan) return;
        if (!l->has) {
            l->has = true;
            l->min = l->max = *v;
        } else {
            if (cmp_scalar(&n->type, v, &l->min) < 0) l->min = *v;
            if (cmp_scalar(&n->type, v, &l->max) > 0) l->max = *v;
        }
        return;
    }
    if (v->kind == FL_PQ_V_STRUCT) {
        for (int i = 0; i < n->num_children; i++) acc(s, n->children[i], &v->v.items[i], st);
        return;
    }
    const fl_pq_node *rn = fl_pq_schema_node(s, n->children[0]);
    if (v->n == 0) {
        acc_nulls(s, n->children[0], st);
        return;
    }
    for (uint32_t i = 0; i < v->n; i++) {
        if (v->kind == FL_PQ_V_MAP) {
            acc(s, rn->children[0], &v->v.items[2 * i], st);
            acc(s, rn->children[1], &v->v.items[2 * i + 1], st);
        } else {
            acc(s, rn->children[0], &v->v.items[i], st);
        }
    }
}

static bool scalar_matches(const fl_pq_scalar *sc, const fl_pq_val *v)
{
    switch (v->kind) {
    case FL_PQ_V_BOOL: return sc->v.b == v->v.b;
    case FL_PQ_V_I32: return sc->v.i32 == v->v.i32;
    case FL_PQ_V_I64: return sc->v.i64 == v->v.i64;
    case FL_PQ_V_F32: return sc->v.f32 == v->v.f32;
    case FL_PQ_V_F64: return sc->v.f64 == v->v.f64;
    default: return fl_str_eq(sc->v.bytes, v->v.bytes);
    }
}

static void one_case(uint64_t seed)
{
    tg_rng r = {seed};
    fl_err err;
    fl_pq_schema *s = NULL;
    CHECK(fl_pq_schema_new(&s, &err) == FL_OK);
    tg_fill_group(s, &r, 0, 0);
    if (fl_pq_schema_check(s, &err)) {
        CHECK_MSG(0, "seed %llu: schema: %s", (unsigned long long)seed, err.msg);
        fl_pq_schema_free(s);
        return;
    }
    fl_pq_write_opts o;
    fl_pq_write_opts_default(&o);
    static const fl_pq_codec codecs[] = {FL_PQ_UNCOMPRESSED, FL_PQ_SNAPPY, FL_PQ_GZIP, FL_PQ_ZSTD, FL_PQ_LZ4_RAW};
    o.codec = codecs[tg_below(&r, 5)];
    if (tg_below(&r, 4) == 0) o.flags |= FL_PQ_W_NO_DICT;
    if (tg_below(&r, 2)) o.page_size = 16 + tg_below(&r, 2000);
    if (tg_below(&r, 3) == 0) o.dict_page_limit = 8 + tg_below(&r, 200);
    if (tg_below(&r, 2)) o.row_group_rows = 1 + tg_below(&r, 12);
    fl_pq_kv kv[1] = {{"fhirlake.test", "roundtrip"}};
    o.kv = kv;
    o.kv_count = 1;

    fl_arena a;
    fl_arena_init(&a, 0, 0);
    int nrows = (int)tg_below(&r, 40);
    fl_pq_val **rows = fl_arena_calloc(&a, (size_t)nrows + 1, sizeof *rows);
    fl_buf file;
    fl_buf_init(&file, 0);
    fl_pq_writer *w = NULL;
    CHECK(fl_pq_writer_new(s, &o, fl_pq_sink_buf, &file, &w, &err) == FL_OK);
    int nleaves = fl_pq_schema_num_leaves(s);
    leaf_stats *st = fl_arena_calloc(&a, (size_t)nleaves, sizeof *st);
    for (int i = 0; i < nrows && w; i++) {
        rows[i] = tg_row(s, &r, &a);
        acc(s, 0, rows[i], st);
        fl_rc rc = tg_put_row(w, rows[i]);
        CHECK_MSG(rc == FL_OK, "seed %llu row %d: %s", (unsigned long long)seed, i, fl_pq_writer_err(w)->msg);
        if (rc) break;
    }
    fl_rc rc = w ? fl_pq_writer_finish(w, &err) : FL_E_INTERNAL;
    CHECK_MSG(rc == FL_OK, "seed %llu: finish: %s", (unsigned long long)seed, err.msg);
    if (rc == FL_OK) {
        CHECK_EQ_INT(fl_pq_writer_num_rows(w), nrows);
        CHECK_EQ_INT(fl_pq_writer_bytes_written(w), file.len);
        for (int l = 0; l < nleaves; l++) {
            fl_pq_stats ws;
            CHECK(fl_pq_writer_get_stats(w, l, &ws) == FL_OK);
            CHECK_EQ_INT(ws.null_count, st[l].nulls);
            CHECK_EQ_INT(ws.num_values, st[l].values);
            const fl_pq_node *ln = fl_pq_schema_node(s, fl_pq_schema_leaf_node(s, l));
            bool ordered = !(ln->type.phys == FL_PQ_BYTE_ARRAY && ln->type.logical == FL_PQ_LT_DECIMAL);
            if (ordered) {
                CHECK_MSG(ws.has_min_max == st[l].has, "seed %llu leaf %d", (unsigned long long)seed, l);
                if (ws.has_min_max && st[l].has) {
                    CHECK_MSG(scalar_matches(&ws.min, &st[l].min), "seed %llu leaf %d min", (unsigned long long)seed, l);
                    CHECK_MSG(scalar_matches(&ws.max, &st[l].max), "seed %llu leaf %d max", (unsigned long long)seed, l);
                }
            }
        }
        fl_pq_reader *rd = NULL;
        rc = fl_pq_reader_open_mem(file.ptr, file.len, NULL, &rd, &err);
        CHECK_MSG(rc == FL_OK, "seed %llu: open: %s", (unsigned long long)seed, err.msg);
        if (rc == FL_OK) {
            CHECK_EQ_INT(fl_pq_reader_num_rows(rd), nrows);
            fl_str cb = fl_pq_reader_created_by(rd);
            CHECK_EQ_MEM(cb.ptr, cb.len, "fhirlake version " FL_VERSION_STRING);
            CHECK_EQ_INT(fl_pq_reader_num_kv(rd), 1);
            fl_arena ra;
            fl_arena_init(&ra, 0, 0);
            for (int i = 0; i <= nrows; i++) {
                fl_pq_val *got;
                rc = fl_pq_reader_next_row(rd, &ra, &got, &err);
                if (i == nrows) {
                    CHECK_MSG(rc == FL_E_EOF, "seed %llu: expected EOF, got %s %s", (unsigned long long)seed, fl_rc_name(rc), err.msg);
                    break;
                }
                CHECK_MSG(rc == FL_OK, "seed %llu row %d: %s", (unsigned long long)seed, i, err.msg);
                if (rc) break;
                bool eq = tg_equal(rows[i], got);
                if (!eq) {
                    fl_buf b1, b2;
                    fl_buf_init(&b1, 0);
                    fl_buf_init(&b2, 0);
                    fl_pq_format_row(s, rows[i], &b1);
                    fl_pq_format_row(s, got, &b2);
                    CHECK_MSG(eq, "seed %llu row %d:\n want %.600s\n got  %.600s", (unsigned long long)seed, i, b1.ptr, b2.ptr);
                    fl_buf_reset(&b1);
                    fl_buf_reset(&b2);
                    break;
                }
                fl_arena_reset(&ra);
            }
            fl_arena_fini(&ra);
            fl_pq_reader_free(rd);
        }
    }
    fl_pq_writer_free(w);
    fl_pq_schema_free(s);
    fl_buf_reset(&file);
    fl_arena_fini(&a);
}

static void test_random_roundtrip(void)
{
    for (uint64_t seed = 1; seed <= CASES; seed++) one_case(seed);
}

int main(void)
{
    RUN(test_random_roundtrip);
    return testhelp_done();
}
