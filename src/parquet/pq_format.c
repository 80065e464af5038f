/* pq_format.c - canonical JSON text of parquet values, for tools and tests (module
 * parquet). Produces the format documented at fl_pq_format_row(); used by the
 * `fhirlake parquet cat` command and by the interop tests to compare fhirlake's reading
 * of a file with pyarrow's and DuckDB's. No dependency on the json module. */
#include "parquet/parquet_int.h"

#include <math.h>
#include <stdio.h>

static void put_json_string(fl_buf *out, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    fl_buf_putc(out, '"');
    size_t i = 0;
    while (i < n) {
        uint8_t c = (uint8_t)p[i];
        if (c < 0x80) {
            if (c == '"' || c == '\\') {
                char e[2] = {'\\', (char)c};
                fl_buf_append(out, e, 2);
            } else if (c < 0x20) {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                fl_buf_append(out, e, 6);
            } else {
                fl_buf_putc(out, (char)c);
            }
            i++;
            continue;
        }
        size_t bad;
        size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (len > 1 && i + len <= n && fl_utf8_valid(p + i, len, &bad)) {
            fl_buf_append(out, p + i, len);
            i += len;
        } else {
            fl_buf_append(out, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    fl_buf_putc(out, '"');
}

static void put_hex(fl_buf *out, fl_str s)
{
    static const char hex[] = "0123456789abcdef";
    fl_buf_append(out, "\"0x", 3);
    for (size_t i = 0; i < s.len; i++) {
        char h[2] = {hex[(uint8_t)s.ptr[i] >> 4], hex[(uint8_t)s.ptr[i] & 15]};
        fl_buf_append(out, h, 2);
    }
    fl_buf_putc(out, '"');
}

static void put_double(fl_buf *out, double d)
{
    if (d != d) fl_buf_append_c(out, "\"NaN\"");
    else if (isinf(d)) fl_buf_append_c(out, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    else fl_buf_printf(out, "%.17g", d);
}

/* Decimal text of a big-endian two's complement integer with `scale` digits after the point. */
static void put_decimal_be(fl_buf *out, const uint8_t *p, size_t n, int32_t scale)
{
    uint8_t mag[64];
    char digits[160];
    size_t nd = 0;
    if (n == 0 || n > sizeof mag) {
        fl_buf_append_c(out, "null");
        return;
    }
    bool neg = p[0] & 0x80;
    memcpy(mag, p, n);
    if (neg) { /* two's complement negate */
        int carry = 1;
        for (size_t i = n; i-- > 0;) {
            int v = (uint8_t)~mag[i] + carry;
            mag[i] = (uint8_t)v;
            carry = v >> 8;
        }
    }
    for (;;) {
        bool zero = true;
        unsigned rem = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned cur = rem << 8 | mag[i];
            mag[i] = (uint8_t)(cur / 10);
            rem = cur % 10;
            if (mag[i]) zero = false;
        }
        digits[nd++] = (char)('0' + rem);
        if (zero || nd >= sizeof digits - 1) break;
    }
    while ((int32_t)nd <= scale && nd < sizeof digits - 1) digits[nd++] = '0';
    fl_buf_putc(out, '"');
    if (neg) fl_buf_putc(out, '-');
    for (size_t i = nd; i-- > 0;) {
        fl_buf_putc(out, digits[i]);
        if (scale > 0 && i == (size_t)scale) fl_buf_putc(out, '.');
    }
    fl_buf_putc(out, '"');
}

static void put_decimal_i64(fl_buf *out, int64_t v, int32_t scale)
{
    uint8_t be[8];
    for (int i = 0; i < 8; i++) be[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
    put_decimal_be(out, be, 8, scale);
}

static void put_scalar(fl_buf *out, const fl_pq_type *t, const fl_pq_val *v)
{
    bool dec = t->logical == FL_PQ_LT_DECIMAL;
    bool uns = t->logical == FL_PQ_LT_INT && !t->is_signed;
    switch (v->kind) {
    case FL_PQ_V_BOOL: fl_buf_append_c(out, v->v.b ? "true" : "false"); return;
    case FL_PQ_V_I32:
        if (dec) put_decimal_i64(out, v->v.i32, t->scale);
        else if (uns) fl_buf_printf(out, "%u", (unsigned)(uint32_t)v->v.i32);
        else fl_buf_printf(out, "%d", (int)v->v.i32);
        return;
    case FL_PQ_V_I64:
        if (dec) put_decimal_i64(out, v->v.i64, t->scale);
        else if (uns) fl_buf_printf(out, "%llu", (unsigned long long)(uint64_t)v->v.i64);
        else fl_buf_printf(out, "%lld", (long long)v->v.i64);
        return;
    case FL_PQ_V_F32: put_double(out, (double)v->v.f32); return;
    case FL_PQ_V_F64: put_double(out, v->v.f64); return;
    case FL_PQ_V_BYTES:
        if (dec) put_decimal_be(out, (const uint8_t *)v->v.bytes.ptr, v->v.bytes.len, t->scale);
        else if (t->logical == FL_PQ_LT_STRING || t->logical == FL_PQ_LT_JSON || t->logical == FL_PQ_LT_ENUM)
            put_json_string(out, v->v.bytes.ptr, v->v.bytes.len);
        else put_hex(out, v->v.bytes);
        return;
    default: fl_buf_append_c(out, "null"); return;
    }
}

static void format_value(const fl_pq_schema *s, int node, const fl_pq_val *v, fl_buf *out, int depth, bool as_elem);

static void format_struct(const fl_pq_schema *s, int node, const fl_pq_val *v, fl_buf *out, int depth)
{
    const fl_pq_node *n = &s->nodes[node].pub;
    fl_buf_putc(out, '{');
    bool first = true;
    for (uint32_t k = 0; k < v->n && (int)k < n->num_children; k++) {
        if (v->v.items[k].kind == FL_PQ_V_SKIPPED) continue;
        if (!first) fl_buf_putc(out, ',');
        first = false;
        const char *nm = s->nodes[n->children[k]].pub.name;
        put_json_string(out, nm, strlen(nm));
        fl_buf_putc(out, ':');
        format_value(s, n->children[k], &v->v.items[k], out, depth + 1, false);
    }
    fl_buf_putc(out, '}');
}

static void format_value(const fl_pq_schema *s, int node, const fl_pq_val *v, fl_buf *out, int depth, bool as_elem)
{
    const fl_pq_node *n = &s->nodes[node].pub;
    if (depth > PQ_MAX_SCHEMA_DEPTH * 3) {
        out->rc = FL_E_LIMIT;
        return;
    }
    switch (v->kind) {
    case FL_PQ_V_NULL:
    case FL_PQ_V_SKIPPED:
        fl_buf_append_c(out, "null");
        return;
    case FL_PQ_V_STRUCT:
        format_struct(s, node, v, out, depth);
        return;
    case FL_PQ_V_LIST:
    case FL_PQ_V_MAP: {
        pq_nest ns;
        if (n->rep == FL_PQ_REPEATED && !as_elem) {
            memset(&ns, 0, sizeof ns);
            ns.rep_node = ns.elem = node;
            ns.key = ns.value = -1;
        } else if (!pq_schema_nest_annot(s, node, &ns)) {
            fl_buf_append_c(out, "null");
            return;
        }
        fl_buf_putc(out, '[');
        uint32_t cnt = v->kind == FL_PQ_V_MAP ? v->n * 2 : v->n;
        for (uint32_t i = 0; i < cnt; i++) {
            if (v->kind == FL_PQ_V_MAP) {
                if (i & 1) {
                    fl_buf_putc(out, ',');
                    if (ns.value >= 0) format_value(s, ns.value, &v->v.items[i], out, depth + 1, false);
                    else fl_buf_append_c(out, "null");
                    fl_buf_putc(out, ']');
                } else {
                    if (i) fl_buf_putc(out, ',');
                    fl_buf_putc(out, '[');
                    format_value(s, ns.key, &v->v.items[i], out, depth + 1, false);
                }
            } else {
                if (i) fl_buf_putc(out, ',');
                format_value(s, ns.elem, &v->v.items[i], out, depth + 1, true);
            }
        }
        fl_buf_putc(out, ']');
        return;
    }
    default:
        put_scalar(out, &n->type, v);
    }
}

fl_rc fl_pq_format_value(const fl_pq_schema *s, int node, const fl_pq_val *v, fl_buf *out)
{
    if (node < 0 || node >= s->n) return FL_E_ARG;
    format_value(s, node, v, out, 0, false);
    return out->rc;
}

fl_rc fl_pq_format_row(const fl_pq_schema *s, const fl_pq_val *row, fl_buf *out)
{
    if (row->kind != FL_PQ_V_STRUCT) return FL_E_ARG;
    format_struct(s, 0, row, out, 0);
    return out->rc;
}
