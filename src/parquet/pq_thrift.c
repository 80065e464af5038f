/* pq_thrift.c - Thrift compact protocol encoder and bounded decoder (module parquet).
 * Only what Parquet footers and page headers need: structs, lists, ints, binary, bool,
 * double; unknown fields are skipped generically. The decoder never reads past its
 * buffer, limits nesting to PQ_MAX_THRIFT_DEPTH and list sizes to PQ_MAX_THRIFT_LIST and
 * to the bytes left, and keeps its first error sticky in t->rc. */
#include "parquet/parquet_int.h"

/* ---------------------------------------------------------------- writer */

void pq_put_varint(fl_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    fl_buf_append(b, tmp, n);
}

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

void pq_tw_init(pq_tw *t, fl_buf *b)
{
    t->b = b;
    t->depth = 0;
    t->last[0] = 0;
}

static void tw_field(pq_tw *t, int16_t id, int type)
{
    int16_t delta = (int16_t)(id - t->last[t->depth]);
    if (delta > 0 && delta <= 15) {
        fl_buf_putc(t->b, (char)(uint8_t)((delta << 4) | type));
    } else {
        fl_buf_putc(t->b, (char)type);
        pq_put_varint(t->b, zigzag(id));
    }
    t->last[t->depth] = id;
}

void pq_tw_i32(pq_tw *t, int16_t id, int32_t v)
{
    tw_field(t, id, TT_I32);
    pq_put_varint(t->b, zigzag(v));
}

void pq_tw_i64(pq_tw *t, int16_t id, int64_t v)
{
    tw_field(t, id, TT_I64);
    pq_put_varint(t->b, zigzag(v));
}

void pq_tw_i16(pq_tw *t, int16_t id, int16_t v)
{
    tw_field(t, id, TT_I16);
    pq_put_varint(t->b, zigzag(v));
}

void pq_tw_i8(pq_tw *t, int16_t id, int8_t v)
{
    tw_field(t, id, TT_I8);
    fl_buf_putc(t->b, (char)v);
}

void pq_tw_bool(pq_tw *t, int16_t id, bool v) { tw_field(t, id, v ? TT_TRUE : TT_FALSE); }

void pq_tw_bin(pq_tw *t, int16_t id, const void *p, size_t n)
{
    tw_field(t, id, TT_BINARY);
    pq_put_varint(t->b, n);
    fl_buf_append(t->b, p, n);
}

static void tw_push(pq_tw *t)
{
    if (t->depth + 1 >= PQ_MAX_THRIFT_DEPTH) {
        t->b->rc = FL_E_LIMIT;
        return;
    }
    t->last[++t->depth] = 0;
}

void pq_tw_struct_begin(pq_tw *t, int16_t id)
{
    tw_field(t, id, TT_STRUCT);
    tw_push(t);
}

void pq_tw_struct_end(pq_tw *t)
{
    fl_buf_putc(t->b, 0);
    if (t->depth > 0) t->depth--;
}

void pq_tw_list_begin(pq_tw *t, int16_t id, int elem_type, size_t n)
{
    tw_field(t, id, TT_LIST);
    if (n < 15) {
        fl_buf_putc(t->b, (char)(uint8_t)((n << 4) | (size_t)elem_type));
    } else {
        fl_buf_putc(t->b, (char)(uint8_t)(0xF0 | elem_type));
        pq_put_varint(t->b, n);
    }
}

void pq_tw_elem_struct_begin(pq_tw *t) { tw_push(t); }
void pq_tw_elem_i32(pq_tw *t, int32_t v) { pq_put_varint(t->b, zigzag(v)); }
void pq_tw_elem_bin(pq_tw *t, const void *p, size_t n)
{
    pq_put_varint(t->b, n);
    fl_buf_append(t->b, p, n);
}
void pq_tw_stop(pq_tw *t) { fl_buf_putc(t->b, 0); }

/* ---------------------------------------------------------------- reader */

void pq_tr_init(pq_tr *t, const void *p, size_t n, const char *what, fl_err *err)
{
    t->p = t->start = p;
    t->end = t->p + n;
    t->depth = 0;
    t->rc = FL_OK;
    t->err = err;
    t->what = what;
}

fl_rc pq_tr_fail(pq_tr *t, const char *msg)
{
    if (!t->rc) {
        t->rc = fl_err_set(t->err, FL_E_PQ_THRIFT, "%s: %s at byte %zu", t->what, msg,
                           (size_t)(t->p - t->start));
    }
    t->p = t->end;
    return t->rc;
}

static uint64_t tr_varint(pq_tr *t)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (t->p >= t->end) {
            pq_tr_fail(t, "truncated varint");
            return 0;
        }
        uint8_t c = *t->p++;
        if (shift == 63 && (c & 0x7e)) break;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) return v;
    }
    pq_tr_fail(t, "varint too long");
    return 0;
}

static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

bool pq_tr_field(pq_tr *t, int16_t *last, int16_t *id, int *type)
{
    if (t->rc) return false;
    if (t->p >= t->end) {
        pq_tr_fail(t, "truncated struct");
        return false;
    }
    uint8_t c = *t->p++;
    if (c == 0) return false;
    int ty = c & 0x0f;
    int delta = c >> 4;
    if (delta) {
        *id = (int16_t)(*last + delta);
    } else {
        int64_t v = unzigzag(tr_varint(t));
        if (v < INT16_MIN || v > INT16_MAX) {
            pq_tr_fail(t, "bad field id");
            return false;
        }
        *id = (int16_t)v;
    }
    if (ty < TT_TRUE || ty > TT_STRUCT) {
        pq_tr_fail(t, "bad field type");
        return false;
    }
    *last = *id;
    *type = ty;
    return !t->rc;
}

int64_t pq_tr_int(pq_tr *t, int type)
{
    switch (type) {
    case TT_I8:
        if (t->p >= t->end) {
            pq_tr_fail(t, "truncated i8");
            return 0;
        }
        return (int8_t)*t->p++;
    case TT_I16:
    case TT_I32:
    case TT_I64: {
        int64_t v = unzigzag(tr_varint(t));
        if (type == TT_I16 && (v < INT16_MIN || v > INT16_MAX)) pq_tr_fail(t, "i16 out of range");
        if (type == TT_I32 && (v < INT32_MIN || v > INT32_MAX)) pq_tr_fail(t, "i32 out of range");
        return t->rc ? 0 : v;
    }
    default:
        pq_tr_fail(t, "expected an integer field");
        return 0;
    }
}

bool pq_tr_bool(pq_tr *t, int type)
{
    if (type == TT_TRUE) return true;
    if (type == TT_FALSE) return false;
    pq_tr_fail(t, "expected a bool field");
    return false;
}

bool pq_tr_elem_bool(pq_tr *t)
{
    if (t->p >= t->end) {
        pq_tr_fail(t, "truncated bool");
        return false;
    }
    return *t->p++ == 1;
}

fl_str pq_tr_bin(pq_tr *t)
{
    uint64_t n = tr_varint(t);
    if (t->rc) return FL_STR_NULL;
    if (n > (uint64_t)(t->end - t->p)) {
        pq_tr_fail(t, "binary length past the end");
        return FL_STR_NULL;
    }
    fl_str s = {(const char *)t->p, (size_t)n};
    t->p += n;
    return s;
}

double pq_tr_double(pq_tr *t)
{
    if (t->end - t->p < 8) {
        pq_tr_fail(t, "truncated double");
        return 0;
    }
    uint64_t u = pq_rd64(t->p);
    t->p += 8;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

uint32_t pq_tr_list(pq_tr *t, int *elem_type)
{
    if (t->p >= t->end) {
        pq_tr_fail(t, "truncated list");
        return 0;
    }
    uint8_t c = *t->p++;
    uint64_t n = c >> 4;
    *elem_type = c & 0x0f;
    if (n == 15) n = tr_varint(t);
    if (t->rc) return 0;
    if (*elem_type < TT_TRUE || *elem_type > TT_STRUCT) {
        pq_tr_fail(t, "bad list element type");
        return 0;
    }
    /* every element takes at least one byte (structs end with a stop byte) */
    if (n > PQ_MAX_THRIFT_LIST || n > (uint64_t)(t->end - t->p)) {
        pq_tr_fail(t, "list size larger than the data");
        return 0;
    }
    return (uint32_t)n;
}

bool pq_tr_enter(pq_tr *t)
{
    if (t->rc) return false;
    if (++t->depth > PQ_MAX_THRIFT_DEPTH) {
        pq_tr_fail(t, "nesting too deep");
        return false;
    }
    return true;
}

void pq_tr_leave(pq_tr *t) { t->depth--; }

void pq_tr_skip(pq_tr *t, int type)
{
    if (t->rc) return;
    switch (type) {
    case TT_TRUE:
    case TT_FALSE:
        return;
    case TT_I8:
    case TT_I16:
    case TT_I32:
    case TT_I64:
        (void)pq_tr_int(t, type);
        return;
    case TT_DOUBLE:
        (void)pq_tr_double(t);
        return;
    case TT_BINARY:
        (void)pq_tr_bin(t);
        return;
    case TT_LIST:
    case TT_SET: {
        int et;
        uint32_t n = pq_tr_list(t, &et);
        if (!pq_tr_enter(t)) return;
        for (uint32_t i = 0; i < n && !t->rc; i++) {
            if (et == TT_TRUE || et == TT_FALSE)
                (void)pq_tr_elem_bool(t);
            else
                pq_tr_skip(t, et);
        }
        pq_tr_leave(t);
        return;
    }
    case TT_MAP: {
        uint64_t n = tr_varint(t);
        if (t->rc || n == 0) return;
        if (t->p >= t->end) {
            pq_tr_fail(t, "truncated map");
            return;
        }
        uint8_t kv = *t->p++;
        if (n > (uint64_t)(t->end - t->p)) {
            pq_tr_fail(t, "map size larger than the data");
            return;
        }
        if (!pq_tr_enter(t)) return;
        int kt = kv >> 4, vt = kv & 0x0f;
        for (uint64_t i = 0; i < n && !t->rc; i++) {
            if (kt == TT_TRUE || kt == TT_FALSE) (void)pq_tr_elem_bool(t); else pq_tr_skip(t, kt);
            if (vt == TT_TRUE || vt == TT_FALSE) (void)pq_tr_elem_bool(t); else pq_tr_skip(t, vt);
        }
        pq_tr_leave(t);
        return;
    }
    case TT_STRUCT: {
        if (!pq_tr_enter(t)) return;
        int16_t last = 0, id;
        int ty;
        while (pq_tr_field(t, &last, &id, &ty)) pq_tr_skip(t, ty);
        pq_tr_leave(t);
        return;
    }
    default:
        pq_tr_fail(t, "bad type");
    }
}
