/* json_write.c - compact JSON serialisation of a DOM and the fl_jw streaming writer
 * (module json). Strings are scanned with the same plain-byte scanner as the parser and
 * escaped minimally ('"', '\\', control characters); invalid UTF-8 in a string to write
 * becomes U+FFFD so the output is always valid JSON. Numbers are copied from their
 * source text. The DOM writer stores bytes through a cursor into the fl_buf and only
 * calls fl_buf to grow. Errors are sticky in the fl_buf (out->rc). Uses base only. */
#include "json/json_int.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Deepest DOM nesting fl_json_write follows (it recurses). */
#define JSON_WRITE_MAX_DEPTH 1024
/* fl_jw nesting limit: one bit of fl_jw.first per level. */
#define JW_MAX_DEPTH 63

static const char json_hex[] = "0123456789abcdef";

/* A cursor into an fl_buf's storage: the hot loops write bytes directly and only call
 * into fl_buf when they need more room (sticky errors and limits stay fl_buf's). One
 * byte at the end of the storage is kept for the NUL that fl_buf promises. */
typedef struct jwb {
    fl_buf *b;
    char *p, *end; /* NULL after a failure: every later write is dropped */
} jwb;

static void jwb_init(jwb *w, fl_buf *b)
{
    w->b = b;
    if (b->ptr && !b->rc) {
        w->p = b->ptr + b->len;
        w->end = b->ptr + b->cap - 1;
    } else {
        w->p = w->end = NULL;
    }
}

/* Publish what was written: b->len and the terminating NUL. */
static void jwb_sync(jwb *w)
{
    if (!w->p) return;
    w->b->len = (size_t)(w->p - w->b->ptr);
    w->b->ptr[w->b->len] = 0;
}

static void jwb_fail(jwb *w, fl_rc rc)
{
    jwb_sync(w);
    if (!w->b->rc) w->b->rc = rc;
    w->p = w->end = NULL;
}

static bool jwb_grow(jwb *w, size_t n)
{
    if (w->b->rc) return false;
    jwb_sync(w);
    if (fl_buf_reserve(w->b, n)) {
        w->p = w->end = NULL;
        return false;
    }
    w->p = w->b->ptr + w->b->len;
    w->end = w->b->ptr + w->b->cap - 1;
    return true;
}

/* Room for n more bytes (false after a failure). */
static inline bool jwb_need(jwb *w, size_t n)
{
    if (FL_LIKELY(w->p && (size_t)(w->end - w->p) >= n)) return true;
    return jwb_grow(w, n);
}

static inline void jwb_put(jwb *w, const char *s, size_t n)
{
    if (!jwb_need(w, n)) return;
    memcpy(w->p, s, n);
    w->p += n;
}

/* Quoted, escaped string. Invariant inside the loop: room >= unread input + 1 (the
 * closing quote); plain bytes keep it, each expanding escape re-reserves. */
static void jwb_str(jwb *w, const char *s, size_t n)
{
    const char *p = s ? s : "", *end = p + n;
    if (!jwb_need(w, n + 2)) return;
    *w->p++ = '"';
    while (p < end) {
        const char *run = json_scan_plain(p, end);
        size_t k = (size_t)(run - p);
        memcpy(w->p, p, k);
        w->p += k;
        p = run;
        if (p >= end) break;
        unsigned char c = (unsigned char)*p;
        if (c >= 0x80) {
            size_t m = json_utf8_seq((const unsigned char *)p, (const unsigned char *)end);
            if (m) { /* valid UTF-8 is copied as is */
                memcpy(w->p, p, m);
                w->p += m;
                p += m;
                continue;
            }
        }
        if (!jwb_need(w, 6 + (size_t)(end - p) + 1)) return;
        char *d = w->p;
        d[0] = '\\';
        switch (c) {
        case '"': d[1] = '"'; w->p += 2; break;
        case '\\': d[1] = '\\'; w->p += 2; break;
        case '\b': d[1] = 'b'; w->p += 2; break;
        case '\f': d[1] = 'f'; w->p += 2; break;
        case '\n': d[1] = 'n'; w->p += 2; break;
        case '\r': d[1] = 'r'; w->p += 2; break;
        case '\t': d[1] = 't'; w->p += 2; break;
        default:
            if (c >= 0x80) { /* not valid UTF-8: U+FFFD */
                memcpy(d, "\\ufffd", 6);
            } else {
                memcpy(d, "\\u00", 4);
                d[4] = json_hex[c >> 4];
                d[5] = json_hex[c & 15];
            }
            w->p += 6;
            break;
        }
        p++;
    }
    *w->p++ = '"';
}

fl_rc fl_json_write_str(fl_buf *out, fl_str s)
{
    jwb w;
    jwb_init(&w, out);
    jwb_str(&w, s.ptr, s.len);
    jwb_sync(&w);
    return out->rc;
}

static void json_write_at(jwb *w, const fl_json_val *v, unsigned depth)
{
    switch (v->type) {
    case FL_JSON_NULL: jwb_put(w, "null", 4); break;
    case FL_JSON_TRUE: jwb_put(w, "true", 4); break;
    case FL_JSON_FALSE: jwb_put(w, "false", 5); break;
    case FL_JSON_NUMBER: jwb_put(w, v->u.str, v->len); break;
    case FL_JSON_STRING: jwb_str(w, v->u.str, v->len); break;
    case FL_JSON_ARRAY:
        if (depth >= JSON_WRITE_MAX_DEPTH) {
            jwb_fail(w, FL_E_JSON_DEPTH);
            return;
        }
        jwb_put(w, "[", 1);
        for (uint32_t i = 0; i < v->len && w->p; i++) {
            if (i) jwb_put(w, ",", 1);
            json_write_at(w, &v->u.items[i], depth + 1);
        }
        jwb_put(w, "]", 1);
        break;
    case FL_JSON_OBJECT:
        if (depth >= JSON_WRITE_MAX_DEPTH) {
            jwb_fail(w, FL_E_JSON_DEPTH);
            return;
        }
        jwb_put(w, "{", 1);
        for (uint32_t i = 0; i < v->len && w->p; i++) {
            const fl_json_member *m = &v->u.members[i];
            if (i) jwb_put(w, ",", 1);
            jwb_str(w, m->key.ptr, m->key.len);
            jwb_put(w, ":", 1);
            json_write_at(w, &m->val, depth + 1);
        }
        jwb_put(w, "}", 1);
        break;
    default: jwb_fail(w, FL_E_ARG); break;
    }
}

fl_rc fl_json_write(const fl_json_val *v, fl_buf *out)
{
    if (!v) {
        if (!out->rc) out->rc = FL_E_ARG;
        return out->rc;
    }
    jwb w;
    jwb_init(&w, out);
    json_write_at(&w, v, 0);
    jwb_sync(&w);
    return out->rc;
}

/* ------------------------------------------------------------------ fl_jw */

void fl_jw_init(fl_jw *w, fl_buf *out)
{
    w->out = out;
    w->depth = 0;
    w->first = 1;
    w->after_key = false;
}

static inline void jw_fail(fl_jw *w, fl_rc rc)
{
    if (!w->out->rc) w->out->rc = rc;
}

/* Separator before a value or key: ',' unless first in its container or after a key.
 * Top-level values get no separator (the caller frames them, e.g. one per line). */
static inline void jw_sep(fl_jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth == 0) return;
    uint64_t bit = 1ull << w->depth;
    if (w->first & bit)
        w->first &= ~bit;
    else
        fl_buf_putc(w->out, ',');
}

static void jw_open(fl_jw *w, char c)
{
    jw_sep(w);
    if (w->depth >= JW_MAX_DEPTH) {
        jw_fail(w, FL_E_JSON_DEPTH);
        return;
    }
    fl_buf_putc(w->out, c);
    w->depth++;
    w->first |= 1ull << w->depth;
}

static void jw_close(fl_jw *w, char c)
{
    if (w->depth == 0 || w->after_key) {
        jw_fail(w, FL_E_STATE);
        return;
    }
    w->depth--;
    fl_buf_putc(w->out, c);
}

void fl_jw_obj_begin(fl_jw *w) { jw_open(w, '{'); }
void fl_jw_obj_end(fl_jw *w) { jw_close(w, '}'); }
void fl_jw_arr_begin(fl_jw *w) { jw_open(w, '['); }
void fl_jw_arr_end(fl_jw *w) { jw_close(w, ']'); }

void fl_jw_key(fl_jw *w, fl_str key)
{
    if (w->after_key || w->depth == 0) {
        jw_fail(w, FL_E_STATE);
        return;
    }
    jw_sep(w);
    fl_json_write_str(w->out, key);
    fl_buf_putc(w->out, ':');
    w->after_key = true;
}

void fl_jw_str(fl_jw *w, fl_str s)
{
    jw_sep(w);
    fl_json_write_str(w->out, s);
}

void fl_jw_i64(fl_jw *w, int64_t v)
{
    char tmp[24];
    char *e = tmp + sizeof tmp, *p = e;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    jw_sep(w);
    fl_buf_append(w->out, p, (size_t)(e - p));
}

void fl_jw_f64(fl_jw *w, double v)
{
    if (!isfinite(v)) {
        fl_jw_null(w);
        return;
    }
    char tmp[40];
    int n = 0;
    const struct lconv *lc = localeconv();
    char dp = lc && lc->decimal_point && lc->decimal_point[0] ? lc->decimal_point[0] : '.';
    /* For normal doubles any decimal of <= 15 digits maps back uniquely, so %.15g is
     * already the shortest form when it round-trips; subnormals have fewer significant
     * bits and need the search from 1 digit. */
    int first = (v != 0.0 && fabs(v) < DBL_MIN) ? 1 : 15;
    for (int prec = first; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (n <= 0 || (size_t)n >= sizeof tmp) {
            jw_fail(w, FL_E_INTERNAL);
            return;
        }
        if (strtod(tmp, NULL) == v) break; /* same locale both ways */
    }
    if (dp != '.') {
        char *d = memchr(tmp, dp, (size_t)n);
        if (d) *d = '.';
    }
    jw_sep(w);
    fl_buf_append(w->out, tmp, (size_t)n);
}

void fl_jw_bool(fl_jw *w, bool v)
{
    jw_sep(w);
    if (v)
        fl_buf_append(w->out, "true", 4);
    else
        fl_buf_append(w->out, "false", 5);
}

void fl_jw_null(fl_jw *w)
{
    jw_sep(w);
    fl_buf_append(w->out, "null", 4);
}

void fl_jw_raw(fl_jw *w, fl_str json)
{
    jw_sep(w);
    fl_buf_append(w->out, json.ptr ? json.ptr : "", json.len);
}

void fl_jw_val(fl_jw *w, const fl_json_val *v)
{
    jw_sep(w);
    fl_json_write(v, w->out);
}
