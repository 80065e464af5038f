/* view_write.c - row writers for view batches: NDJSON, CSV (RFC 4180) and a JSON array
 * (module view). Values are written from the typed vectors: DATE as YYYY-MM-DD,
 * TIMESTAMP as RFC 3339 UTC, DECIMAL from its unscaled integer, collections as JSON
 * arrays (in CSV as JSON text in one field). Output goes to a caller buffer. */
#include "view/view_int.h"

#include <stdio.h>

bool fl_view_format_parse(const char *name, fl_view_format *out)
{
    if (!strcmp(name, "ndjson")) *out = FL_VIEW_FMT_NDJSON;
    else if (!strcmp(name, "csv")) *out = FL_VIEW_FMT_CSV;
    else if (!strcmp(name, "json")) *out = FL_VIEW_FMT_JSON;
    else return false;
    return true;
}

void fl_view_writer_init(fl_view_writer *w, const fl_view_plan *plan, fl_view_format fmt, uint32_t flags)
{
    memset(w, 0, sizeof *w);
    w->plan = plan;
    w->fmt = fmt;
    w->flags = flags;
}

/* Append raw bytes: reserve once, then copy (the hot path of the row writers). */
static inline void put_raw(fl_buf *out, const char *p, size_t n)
{
    if (FL_UNLIKELY(out->len + n + 1 > out->cap || out->rc)) {
        if (fl_buf_reserve(out, n)) return;
    }
    view_copy(out->ptr + out->len, p, n);
    out->len += n;
    out->ptr[out->len] = 0;
}

/* A JSON string; strings without characters to escape are copied as they are. */
/* True if any byte of the 8-byte word w is < 0x20, '"' or '\\' (SWAR test). */
static inline bool word_needs_escape(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t lt20 = (w - ones * 0x20) & ~w & high;
    uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
    uint64_t isq = (q - ones) & ~q & high, isbs = (bs - ones) & ~bs & high;
    return (lt20 | isq | isbs) != 0;
}

/* True if any of the n bytes at p needs escaping in a JSON string (words only: the short
 * tails are read as overlapping words or padded with a plain byte, not byte by byte). */
static inline bool needs_escape(const char *p, size_t n)
{
    uint64_t w;
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            memcpy(&w, p + i, 8);
            if (word_needs_escape(w)) return true;
        }
        if (i == n) return false;
        memcpy(&w, p + n - 8, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        w = (uint64_t)a | (uint64_t)b << 32;
    } else if (n) {
        w = 0x6161616161000000ull /* 'a' padding */ | (uint64_t)(unsigned char)p[0] | (uint64_t)(unsigned char)p[n >> 1] << 8 |
             (uint64_t)(unsigned char)p[n - 1] << 16;
    } else {
        return false;
    }
    return word_needs_escape(w);
}

static void put_json_str(fl_buf *out, fl_str s)
{
    if (needs_escape(s.ptr, s.len)) {
        fl_json_write_str(out, s);
        return;
    }
    if (FL_UNLIKELY(out->len + s.len + 3 > out->cap || out->rc)) {
        if (fl_buf_reserve(out, s.len + 2)) return;
    }
    char *p = out->ptr + out->len;
    p[0] = '"';
    view_copy(p + 1, s.ptr, s.len);
    p[s.len + 1] = '"';
    out->len += s.len + 2;
    out->ptr[out->len] = 0;
}

static void put_i64(fl_buf *out, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) tmp[sizeof tmp - 1 - n++] = '-';
    put_raw(out, tmp + sizeof tmp - n, n);
}

/* One value (item idx of vector v) as JSON. */
static void json_value(fl_buf *out, const fl_view_vec *v, size_t idx)
{
    char tmp[64];
    size_t n;
    switch (v->col->type) {
    case FL_VIEW_STRING: put_json_str(out, v->data.s[idx]); break;
    case FL_VIEW_BOOL:
        if (v->data.b[idx]) put_raw(out, "true", 4);
        else put_raw(out, "false", 5);
        break;
    case FL_VIEW_INT: put_i64(out, v->data.i32[idx]); break;
    case FL_VIEW_LONG: put_i64(out, v->data.i64[idx]); break;
    case FL_VIEW_DOUBLE: {
        fl_jw jw;
        fl_jw_init(&jw, out);
        fl_jw_f64(&jw, v->data.f64[idx]);
        break;
    }
    case FL_VIEW_DATE:
        tmp[0] = '"';
        n = fl_view_format_date(v->data.i32[idx], tmp + 1, sizeof tmp - 2);
        tmp[n + 1] = '"';
        put_raw(out, tmp, n + 2);
        break;
    case FL_VIEW_TIMESTAMP:
        tmp[0] = '"';
        n = fl_view_format_timestamp(v->data.i64[idx], tmp + 1, sizeof tmp - 2);
        tmp[n + 1] = '"';
        put_raw(out, tmp, n + 2);
        break;
    case FL_VIEW_DECIMAL:
        n = fl_view_format_decimal(v->data.i64[idx], v->col->scale, tmp, sizeof tmp);
        put_raw(out, tmp, n);
        break;
    }
}

static void json_cell(fl_buf *out, const fl_view_vec *v, size_t row)
{
    if (!v->valid[row]) {
        put_raw(out, "null", 4);
        return;
    }
    if (!v->col->collection) {
        json_value(out, v, row);
        return;
    }
    put_raw(out, "[", 1);
    for (uint32_t k = v->offsets[row]; k < v->offsets[row + 1]; k++) {
        if (k != v->offsets[row]) put_raw(out, ",", 1);
        json_value(out, v, k);
    }
    put_raw(out, "]", 1);
}

static void json_row(const fl_view_writer *w, const fl_view_batch *b, size_t row, fl_buf *out)
{
    bool first = true;
    put_raw(out, "{", 1);
    if (!(w->flags & FL_VIEW_W_OMIT_NULLS)) { /* every column: separator and key in one copy */
        for (size_t c = 0; c < b->plan->ncols; c++) {
            const fl_str *key = c ? &b->plan->info[c].json_key_sep : &b->plan->info[c].json_key;
            const fl_view_vec *v = &b->vecs[c];
            put_raw(out, key->ptr, key->len);
            if (!v->valid[row]) put_raw(out, "null", 4);
            else if (v->col->type == FL_VIEW_STRING && !v->col->collection) put_json_str(out, v->data.s[row]);
            else json_cell(out, v, row);
        }
        put_raw(out, "}", 1);
        return;
    }
    for (size_t c = 0; c < b->plan->ncols; c++) {
        const fl_view_vec *v = &b->vecs[c];
        if (!v->valid[row] && (w->flags & FL_VIEW_W_OMIT_NULLS)) continue;
        if (!first) put_raw(out, ",", 1);
        first = false;
        fl_str key = b->plan->info[c].json_key;
        put_raw(out, key.ptr, key.len);
        json_cell(out, v, row);
    }
    put_raw(out, "}", 1);
}

static void csv_field(fl_buf *out, fl_str s)
{
    bool quote = false;
    for (size_t i = 0; i < s.len && !quote; i++) {
        char ch = s.ptr[i];
        quote = ch == ',' || ch == '"' || ch == '\n' || ch == '\r';
    }
    if (!quote) {
        fl_buf_append_str(out, s);
        return;
    }
    fl_buf_putc(out, '"');
    size_t start = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] == '"') {
            fl_buf_append(out, s.ptr + start, i + 1 - start);
            fl_buf_putc(out, '"');
            start = i + 1;
        }
    }
    fl_buf_append(out, s.ptr + start, s.len - start);
    fl_buf_putc(out, '"');
}

static void csv_cell(fl_buf *out, fl_buf *tmp, const fl_view_vec *v, size_t row)
{
    char t[64];
    size_t n;
    if (!v->valid[row]) return;
    if (v->col->collection) {
        fl_buf_clear(tmp);
        json_cell(tmp, v, row);
        csv_field(out, fl_buf_str(tmp));
        return;
    }
    switch (v->col->type) {
    case FL_VIEW_STRING: csv_field(out, v->data.s[row]); return;
    case FL_VIEW_BOOL: fl_buf_append_c(out, v->data.b[row] ? "true" : "false"); return;
    case FL_VIEW_INT: fl_buf_printf(out, "%d", (int)v->data.i32[row]); return;
    case FL_VIEW_LONG: fl_buf_printf(out, "%lld", (long long)v->data.i64[row]); return;
    case FL_VIEW_DOUBLE:
        fl_buf_clear(tmp);
        {
            fl_jw jw;
            fl_jw_init(&jw, tmp);
            fl_jw_f64(&jw, v->data.f64[row]);
        }
        fl_buf_append_str(out, fl_buf_str(tmp));
        return;
    case FL_VIEW_DATE: n = fl_view_format_date(v->data.i32[row], t, sizeof t); break;
    case FL_VIEW_TIMESTAMP: n = fl_view_format_timestamp(v->data.i64[row], t, sizeof t); break;
    case FL_VIEW_DECIMAL: n = fl_view_format_decimal(v->data.i64[row], v->col->scale, t, sizeof t); break;
    default: return;
    }
    fl_buf_append(out, t, n);
}

/* First output: the CSV header or the opening bracket. */
static void start(fl_view_writer *w, fl_buf *out)
{
    if (w->started) return;
    w->started = true;
    if (w->fmt == FL_VIEW_FMT_CSV && !(w->flags & FL_VIEW_W_NO_HEADER)) {
        for (size_t c = 0; c < w->plan->ncols; c++) {
            if (c) fl_buf_putc(out, ',');
            csv_field(out, fl_str_c(w->plan->cols[c].name));
        }
        fl_buf_append(out, "\r\n", 2);
    } else if (w->fmt == FL_VIEW_FMT_JSON) {
        fl_buf_putc(out, '[');
    }
}

fl_rc fl_view_writer_batch(fl_view_writer *w, const fl_view_batch *b, fl_buf *out)
{
    if (b->plan != w->plan) return FL_E_ARG;
    size_t ncols = b->plan->ncols;
    start(w, out);
    fl_buf tmp;
    fl_buf_init(&tmp, 0);
    for (size_t r = 0; r < b->rows && out->rc == FL_OK; r++) {
        switch (w->fmt) {
        case FL_VIEW_FMT_NDJSON:
            json_row(w, b, r, out);
            fl_buf_putc(out, '\n');
            break;
        case FL_VIEW_FMT_JSON:
            fl_buf_append_c(out, w->rows ? ",\n" : "\n");
            json_row(w, b, r, out);
            break;
        case FL_VIEW_FMT_CSV:
            for (size_t c = 0; c < ncols; c++) {
                if (c) fl_buf_putc(out, ',');
                csv_cell(out, &tmp, &b->vecs[c], r);
            }
            fl_buf_append(out, "\r\n", 2);
            break;
        }
        w->rows++;
    }
    fl_buf_reset(&tmp);
    return out->rc;
}

fl_rc fl_view_writer_finish(fl_view_writer *w, fl_buf *out)
{
    start(w, out);
    if (w->fmt == FL_VIEW_FMT_JSON) fl_buf_append_c(out, w->rows ? "\n]\n" : "]\n");
    return out->rc;
}
