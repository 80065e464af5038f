/* pq_testgen.h - random Parquet schemas and rows for the parquet unit tests and fuzzers.
 * A seeded PRNG builds a schema (primitives of every writable type, structs, lists, maps;
 * required/optional; bounded depth) and rows as fl_pq_val trees, feeds rows to a writer
 * through the row API, and compares value trees. Header-only, test code. */
#ifndef PQ_TESTGEN_H
#define PQ_TESTGEN_H

#include "fhirlake/parquet.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct tg_rng {
    uint64_t s;
} tg_rng;

static inline uint64_t tg_next(tg_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline uint32_t tg_below(tg_rng *r, uint32_t n) { return n ? (uint32_t)(tg_next(r) % n) : 0; }

/* ---------------------------------------------------------------- schema */

static inline fl_pq_type tg_prim_type(tg_rng *r)
{
    switch (tg_below(r, 16)) {
    case 0: return fl_pq_t_bool();
    case 1: return fl_pq_t_i32();
    case 2: return fl_pq_t_i64();
    case 3: return fl_pq_t_float();
    case 4: return fl_pq_t_double();
    case 5: return fl_pq_t_string();
    case 6: return fl_pq_t_binary();
    case 7: return fl_pq_t_fixed((int32_t)(1 + tg_below(r, 20)));
    case 8: return fl_pq_t_date();
    case 9: return fl_pq_t_timestamp_us(true);
    case 10: return fl_pq_t_int((uint8_t)(8 << tg_below(r, 4)), tg_below(r, 3) != 0);
    case 11: {
        int32_t p = (int32_t)(1 + tg_below(r, 9));
        return fl_pq_t_decimal(p, (int32_t)tg_below(r, 3) % (p + 1));
    }
    case 12: return fl_pq_t_decimal((int32_t)(10 + tg_below(r, 9)), (int32_t)tg_below(r, 5));
    case 13: return fl_pq_t_decimal((int32_t)(19 + tg_below(r, 20)), (int32_t)tg_below(r, 10));
    case 14: return fl_pq_t_json();
    default: return fl_pq_t_string();
    }
}

static inline fl_pq_rep tg_rep(tg_rng *r) { return tg_below(r, 2) ? FL_PQ_OPTIONAL : FL_PQ_REQUIRED; }

static inline void tg_add_field(fl_pq_schema *s, tg_rng *r, int parent, const char *name, int depth);

/* Children of a group node (1..4 fields). */
static inline void tg_fill_group(fl_pq_schema *s, tg_rng *r, int g, int depth)
{
    int n = 1 + (int)tg_below(r, 4);
    for (int i = 0; i < n; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "f%d_%d", depth, i);
        tg_add_field(s, r, g, nm, depth + 1);
    }
}

static inline void tg_add_field(fl_pq_schema *s, tg_rng *r, int parent, const char *name, int depth)
{
    uint32_t k = depth >= 4 ? 0 : tg_below(r, 10);
    if (k <= 4) { /* primitive */
        fl_pq_schema_add(s, parent, name, tg_rep(r), tg_prim_type(r));
    } else if (k <= 6) { /* struct */
        int g = fl_pq_schema_add_group(s, parent, name, tg_rep(r), FL_PQ_LT_NONE);
        if (g >= 0) tg_fill_group(s, r, g, depth);
    } else if (k <= 8) { /* list */
        if (tg_below(r, 3) == 0) {
            int e = fl_pq_schema_add_list(s, parent, name, tg_rep(r), tg_rep(r), NULL);
            if (e >= 0) tg_fill_group(s, r, e, depth);
        } else {
            fl_pq_type t = tg_prim_type(r);
            fl_pq_schema_add_list(s, parent, name, tg_rep(r), tg_rep(r), &t);
        }
    } else { /* map */
        fl_pq_type kt = tg_below(r, 2) ? fl_pq_t_string() : fl_pq_t_i64();
        if (tg_below(r, 3) == 0) {
            int v = fl_pq_schema_add_map(s, parent, name, tg_rep(r), kt, tg_rep(r), NULL);
            if (v >= 0) tg_fill_group(s, r, v, depth);
        } else {
            fl_pq_type vt = tg_prim_type(r);
            fl_pq_schema_add_map(s, parent, name, tg_rep(r), kt, tg_rep(r), &vt);
        }
    }
}

/* ---------------------------------------------------------------- values */

static const char *const tg_words[] = {"", "a", "final", "Patient/123", "ünïcødé", "日本語テキスト", "emoji 😀",
                                       "with\"quote", "tab\there", "nul\0byte", "http://loinc.org", "8867-4"};

static inline fl_str tg_bytes(tg_rng *r, fl_arena *a, const fl_pq_type *t)
{
    if (t->phys == FL_PQ_FIXED_LEN_BYTE_ARRAY) {
        size_t n = (size_t)t->type_length;
        char *p = fl_arena_alloc(a, n);
        for (size_t i = 0; i < n; i++) p[i] = (char)tg_below(r, 256);
        if (t->logical == FL_PQ_LT_DECIMAL && n > 0) {
            /* keep |value| < 10^precision: make the top bytes a sign extension */
            size_t keep = (size_t)(t->precision * 3322 / 1000) / 8;
            if (keep == 0) keep = 1;
            bool neg = tg_below(r, 2);
            for (size_t i = 0; i + keep < n; i++) p[i] = neg ? (char)0xff : 0;
            if (keep < n) p[n - keep] = (char)(neg ? (p[n - keep] | 0x80) : (p[n - keep] & 0x7f));
        }
        return fl_str_make(p, n);
    }
    if (t->logical == FL_PQ_LT_JSON) { /* JSON columns hold valid JSON text */
        static const char *const js[] = {"{}", "[]", "{\"a\":1,\"b\":[true,false]}", "\"ünïcødé\"", "-12.5e3",
                                         "{\"resourceType\":\"Patient\",\"id\":\"p1\"}", "[1,2,3]"};
        return fl_str_c(js[tg_below(r, 7)]);
    }
    uint32_t k = tg_below(r, 20);
    if (k < 12) {
        const char *w = tg_words[k];
        size_t n = k == 9 ? 9 : strlen(w);
        return fl_str_make(w, n);
    }
    size_t n = k == 19 ? 5000 + tg_below(r, 70000) : tg_below(r, 40);
    char *p = fl_arena_alloc(a, n + 1);
    bool text = t->logical == FL_PQ_LT_STRING || t->logical == FL_PQ_LT_JSON;
    for (size_t i = 0; i < n; i++) p[i] = text ? (char)('a' + tg_below(r, 26)) : (char)tg_below(r, 256);
    return fl_str_make(p, n);
}

static inline int64_t tg_int(tg_rng *r, int bits, bool is_signed)
{
    uint32_t k = tg_below(r, 8);
    int64_t lo, hi;
    if (bits == 64) {
        lo = INT64_MIN; /* uint64 is stored as int64 bits */
        hi = is_signed ? INT64_MAX : -1;
    } else {
        lo = is_signed ? -((int64_t)1 << (bits - 1)) : 0;
        hi = is_signed ? ((int64_t)1 << (bits - 1)) - 1 : ((int64_t)1 << bits) - 1;
    }
    if (k == 0) return lo;
    if (k == 1) return hi;
    if (k == 2) return 0;
    if (k <= 4) return (int64_t)tg_below(r, 100) - (is_signed ? 50 : 0);
    uint64_t u = tg_next(r);
    if (bits < 64) {
        uint64_t span = (uint64_t)(hi - lo) + 1;
        return lo + (int64_t)(u % span);
    }
    return (int64_t)u;
}

static inline void tg_prim_value(tg_rng *r, fl_arena *a, const fl_pq_type *t, fl_pq_val *v)
{
    switch (t->phys) {
    case FL_PQ_BOOLEAN:
        v->kind = FL_PQ_V_BOOL;
        v->v.b = tg_below(r, 2);
        return;
    case FL_PQ_INT32: {
        v->kind = FL_PQ_V_I32;
        int bits = t->logical == FL_PQ_LT_INT ? t->bit_width : 32;
        bool sg = t->logical == FL_PQ_LT_INT ? t->is_signed : true;
        if (t->logical == FL_PQ_LT_DATE) { /* years 1696..2243: every peer's date range */
            v->v.i32 = (int32_t)tg_below(r, 200000) - 100000;
        } else if (t->logical == FL_PQ_LT_DECIMAL) {
            int64_t m = 1;
            for (int i = 0; i < t->precision; i++) m *= 10;
            v->v.i32 = (int32_t)((int64_t)(tg_next(r) % (uint64_t)(2 * m - 1)) - (m - 1));
        } else {
            v->v.i32 = (int32_t)(uint32_t)(uint64_t)tg_int(r, bits, sg);
        }
        return;
    }
    case FL_PQ_INT64:
        v->kind = FL_PQ_V_I64;
        if (t->logical == FL_PQ_LT_TIMESTAMP) { /* +-95 years around 1970, microseconds */
            v->v.i64 = (int64_t)(tg_next(r) % 6000000000000000ull) - 3000000000000000;
        } else if (t->logical == FL_PQ_LT_DECIMAL) {
            int64_t m = 1;
            for (int i = 0; i < t->precision; i++) m *= 10;
            v->v.i64 = (int64_t)(tg_next(r) % (uint64_t)(2 * m - 1)) - (m - 1);
        } else {
            v->v.i64 = tg_int(r, 64, !(t->logical == FL_PQ_LT_INT && !t->is_signed));
        }
        return;
    case FL_PQ_FLOAT: {
        static const float sp[] = {0.0f, -0.0f, 1.5f, -2.25f, INFINITY, -INFINITY, NAN, 3.4028235e38f, 1e-45f};
        v->kind = FL_PQ_V_F32;
        uint32_t k = tg_below(r, 12);
        v->v.f32 = k < 9 ? sp[k] : (float)((double)(int64_t)tg_next(r) / 1e12);
        return;
    }
    case FL_PQ_DOUBLE: {
        static const double sp[] = {0.0, -0.0, 1.5, -2.25, INFINITY, -INFINITY, NAN, 1.7976931348623157e308, 5e-324};
        v->kind = FL_PQ_V_F64;
        uint32_t k = tg_below(r, 12);
        v->v.f64 = k < 9 ? sp[k] : (double)(int64_t)tg_next(r) / 1e9;
        return;
    }
    default:
        v->kind = FL_PQ_V_BYTES;
        v->v.bytes = tg_bytes(r, a, t);
        return;
    }
}

static inline void tg_value(const fl_pq_schema *s, tg_rng *r, fl_arena *a, int node, bool as_elem, fl_pq_val *v, int depth);

static inline void tg_struct(const fl_pq_schema *s, tg_rng *r, fl_arena *a, int node, fl_pq_val *v, int depth)
{
    const fl_pq_node *n = fl_pq_schema_node(s, node);
    v->kind = FL_PQ_V_STRUCT;
    v->n = (uint32_t)n->num_children;
    v->v.items = fl_arena_calloc(a, (size_t)n->num_children, sizeof(fl_pq_val));
    for (int i = 0; i < n->num_children; i++) tg_value(s, r, a, n->children[i], false, &v->v.items[i], depth + 1);
}

static inline void tg_value(const fl_pq_schema *s, tg_rng *r, fl_arena *a, int node, bool as_elem, fl_pq_val *v, int depth)
{
    const fl_pq_node *n = fl_pq_schema_node(s, node);
    memset(v, 0, sizeof *v);
    (void)as_elem;
    if (n->rep == FL_PQ_OPTIONAL && tg_below(r, 4) == 0) {
        v->kind = FL_PQ_V_NULL;
        return;
    }
    if (n->type.phys != FL_PQ_GROUP) {
        tg_prim_value(r, a, &n->type, v);
        return;
    }
    if (n->type.logical == FL_PQ_LT_LIST || n->type.logical == FL_PQ_LT_MAP) {
        bool map = n->type.logical == FL_PQ_LT_MAP;
        int rep = n->children[0];
        const fl_pq_node *rn = fl_pq_schema_node(s, rep);
        uint32_t cnt = tg_below(r, 4) == 0 ? 0 : tg_below(r, depth > 2 ? 3 : 6);
        v->kind = map ? FL_PQ_V_MAP : FL_PQ_V_LIST;
        v->n = cnt;
        v->v.items = fl_arena_calloc(a, (size_t)cnt * (map ? 2 : 1) + 1, sizeof(fl_pq_val));
        for (uint32_t i = 0; i < cnt; i++) {
            if (map) {
                tg_value(s, r, a, rn->children[0], false, &v->v.items[2 * i], depth + 1);
                tg_value(s, r, a, rn->children[1], false, &v->v.items[2 * i + 1], depth + 1);
            } else {
                tg_value(s, r, a, rn->children[0], true, &v->v.items[i], depth + 1);
            }
        }
        return;
    }
    tg_struct(s, r, a, node, v, depth);
}

/* A whole row (a struct of the root's children). */
static inline fl_pq_val *tg_row(const fl_pq_schema *s, tg_rng *r, fl_arena *a)
{
    fl_pq_val *v = fl_arena_calloc(a, 1, sizeof *v);
    tg_struct(s, r, a, 0, v, 0);
    return v;
}

/* ---------------------------------------------------------------- writing */

static inline void tg_put(fl_pq_writer *w, const fl_pq_val *v)
{
    switch (v->kind) {
    case FL_PQ_V_NULL: fl_pq_writer_put_null(w); return;
    case FL_PQ_V_BOOL: fl_pq_writer_put_bool(w, v->v.b); return;
    case FL_PQ_V_I32: fl_pq_writer_put_i32(w, v->v.i32); return;
    case FL_PQ_V_I64: fl_pq_writer_put_i64(w, v->v.i64); return;
    case FL_PQ_V_F32: fl_pq_writer_put_f32(w, v->v.f32); return;
    case FL_PQ_V_F64: fl_pq_writer_put_f64(w, v->v.f64); return;
    case FL_PQ_V_BYTES: fl_pq_writer_put_bytes(w, v->v.bytes.ptr, v->v.bytes.len); return;
    case FL_PQ_V_STRUCT:
        fl_pq_writer_begin_struct(w);
        for (uint32_t i = 0; i < v->n; i++) tg_put(w, &v->v.items[i]);
        fl_pq_writer_end(w);
        return;
    case FL_PQ_V_LIST:
        fl_pq_writer_begin_list(w);
        for (uint32_t i = 0; i < v->n; i++) tg_put(w, &v->v.items[i]);
        fl_pq_writer_end(w);
        return;
    case FL_PQ_V_MAP:
        fl_pq_writer_begin_map(w);
        for (uint32_t i = 0; i < 2 * v->n; i++) tg_put(w, &v->v.items[i]);
        fl_pq_writer_end(w);
        return;
    default:
        return;
    }
}

static inline fl_rc tg_put_row(fl_pq_writer *w, const fl_pq_val *row)
{
    for (uint32_t i = 0; i < row->n; i++) tg_put(w, &row->v.items[i]);
    return fl_pq_writer_end_row(w);
}

/* ---------------------------------------------------------------- comparing */

static inline bool tg_equal(const fl_pq_val *a, const fl_pq_val *b)
{
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case FL_PQ_V_NULL: case FL_PQ_V_SKIPPED: return true;
    case FL_PQ_V_BOOL: return a->v.b == b->v.b;
    case FL_PQ_V_I32: return a->v.i32 == b->v.i32;
    case FL_PQ_V_I64: return a->v.i64 == b->v.i64;
    case FL_PQ_V_F32: return memcmp(&a->v.f32, &b->v.f32, 4) == 0 || (isnan(a->v.f32) && isnan(b->v.f32));
    case FL_PQ_V_F64: return memcmp(&a->v.f64, &b->v.f64, 8) == 0 || (isnan(a->v.f64) && isnan(b->v.f64));
    case FL_PQ_V_BYTES: return fl_str_eq(a->v.bytes, b->v.bytes);
    default: {
        if (a->n != b->n) return false;
        uint32_t cnt = a->kind == FL_PQ_V_MAP ? 2 * a->n : a->n;
        for (uint32_t i = 0; i < cnt; i++)
            if (!tg_equal(&a->v.items[i], &b->v.items[i])) return false;
        return true;
    }
    }
}

#endif
