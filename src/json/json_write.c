/* json_write.c - compact JSON serialisation of a DOM and the fl_jw streaming writer
 * (module json). Strings are scanned with the same plain-byte scanner as the parser and
 * escaped minimally ('"', '\\', control characters); invalid UTF-8 in a string to write
 * becomes U+FFFD so the output is always valid JSON. Numbers are copied from their
 * source text. Errors are sticky in the fl_buf (out->rc). Uses base only. */
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

fl_rc fl_json_write_str(fl_buf *out, fl_str s)
{
    const char *p = s.ptr ? s.ptr : "", *end = p + s.len;
    if (fl_buf_reserve(out, s.len + 2)) return out->rc;
    fl_buf_putc(out, '"');
    while (p < end) {
        const char *run = json_scan_plain(p, end);
        if (run > p) fl_buf_append(out, p, (size_t)(run - p));
        p = run;
        if (p >= end) break;
        unsigned char c = (unsigned char)*p;
        char esc[6];
        if (c >= 0x80) {
            size_t n = json_utf8_seq((const unsigned char *)p, (const unsigned char *)end);
            if (n) {
                fl_buf_append(out, p, n);
                p += n;
            } else {
                fl_buf_append(out, "\\ufffd", 6);
                p++;
            }
            continue;
        }
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = json_hex[c >> 4];
            esc[5] = json_hex[c & 15];
            fl_buf_append(out, esc, 6);
            p++;
            continue;
        }
        fl_buf_append(out, esc, 2);
        p++;
    }
    fl_buf_putc(out, '"');
    return out->rc;
}

static void json_write_at(const fl_json_val *v, fl_buf *out, unsigned depth)
{
    if (out->rc) return;
    switch (v->type) {
    case FL_JSON_NULL: fl_buf_append(out, "null", 4); break;
    case FL_JSON_TRUE: fl_buf_append(out, "true", 4); break;
    case FL_JSON_FALSE: fl_buf_append(out, "false", 5); break;
    case FL_JSON_NUMBER: fl_buf_append(out, v->u.str, v->len); break;
    case FL_JSON_STRING: fl_json_write_str(out, (fl_str){v->u.str, v->len}); break;
    case FL_JSON_ARRAY:
        if (depth >= JSON_WRITE_MAX_DEPTH) {
            out->rc = FL_E_JSON_DEPTH;
            return;
        }
        fl_buf_putc(out, '[');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i) fl_buf_putc(out, ',');
            json_write_at(&v->u.items[i], out, depth + 1);
        }
        fl_buf_putc(out, ']');
        break;
    case FL_JSON_OBJECT:
        if (depth >= JSON_WRITE_MAX_DEPTH) {
            out->rc = FL_E_JSON_DEPTH;
            return;
        }
        fl_buf_putc(out, '{');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i) fl_buf_putc(out, ',');
            fl_json_write_str(out, v->u.members[i].key);
            fl_buf_putc(out, ':');
            json_write_at(&v->u.members[i].val, out, depth + 1);
        }
        fl_buf_putc(out, '}');
        break;
    default: out->rc = FL_E_ARG; break;
    }
}

fl_rc fl_json_write(const fl_json_val *v, fl_buf *out)
{
    if (!v) {
        if (!out->rc) out->rc = FL_E_ARG;
        return out->rc;
    }
    json_write_at(v, out, 0);
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
