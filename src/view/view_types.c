/* view_types.c - column types of the view module: FHIR/ANSI type names to storage
 * types, FHIRPath item to column value conversion, and the date/timestamp rules.
 * The partial-date rule (docs/internals/VIEW.md): missing month/day = 1, missing time =
 * midnight, no offset = UTC, digits past microseconds dropped. Nothing here allocates
 * outside the caller's arena. Uses base, json, fhirpath. */
#include "view/view_int.h"

#include <math.h>
#include <stdio.h>

const char *fl_view_type_name(fl_view_type t)
{
    switch (t) {
    case FL_VIEW_STRING: return "STRING";
    case FL_VIEW_BOOL: return "BOOLEAN";
    case FL_VIEW_INT: return "INT";
    case FL_VIEW_LONG: return "LONG";
    case FL_VIEW_DOUBLE: return "DOUBLE";
    case FL_VIEW_DATE: return "DATE";
    case FL_VIEW_TIMESTAMP: return "TIMESTAMP";
    case FL_VIEW_DECIMAL: return "DECIMAL";
    }
    return "?";
}

/* ------------------------------------------------------------------ type names */

typedef struct type_entry {
    const char *name;
    fl_view_type type;
    uint8_t kind; /* 0 plain, 1 temporal, 2 decimal, 3 complex (JSON text) */
} type_entry;

static const type_entry fhir_types[] = {
    {"boolean", FL_VIEW_BOOL, 0},       {"integer", FL_VIEW_INT, 0},
    {"positiveInt", FL_VIEW_INT, 0},    {"unsignedInt", FL_VIEW_INT, 0},
    {"integer64", FL_VIEW_LONG, 0},     {"decimal", FL_VIEW_DOUBLE, 2},
    {"date", FL_VIEW_DATE, 1},          {"dateTime", FL_VIEW_TIMESTAMP, 1},
    {"instant", FL_VIEW_TIMESTAMP, 1},  {"time", FL_VIEW_STRING, 0},
    {"base64Binary", FL_VIEW_STRING, 0}, {"canonical", FL_VIEW_STRING, 0},
    {"code", FL_VIEW_STRING, 0},        {"id", FL_VIEW_STRING, 0},
    {"markdown", FL_VIEW_STRING, 0},    {"oid", FL_VIEW_STRING, 0},
    {"string", FL_VIEW_STRING, 0},      {"uri", FL_VIEW_STRING, 0},
    {"url", FL_VIEW_STRING, 0},         {"uuid", FL_VIEW_STRING, 0},
    {"xhtml", FL_VIEW_STRING, 0},
    /* FHIRPath System types */
    {"Boolean", FL_VIEW_BOOL, 0},       {"Integer", FL_VIEW_INT, 0},
    {"Long", FL_VIEW_LONG, 0},          {"Decimal", FL_VIEW_DOUBLE, 2},
    {"String", FL_VIEW_STRING, 0},      {"Date", FL_VIEW_DATE, 1},
    {"DateTime", FL_VIEW_TIMESTAMP, 1}, {"Time", FL_VIEW_STRING, 0},
};

/* Complex FHIR datatypes: values are written as JSON text. */
static const char *const complex_types[] = {
    "Address", "Age", "Annotation", "Attachment", "Availability", "BackboneElement",
    "BackboneType", "CodeableConcept", "CodeableReference", "Coding", "ContactDetail",
    "ContactPoint", "Contributor", "Count", "DataRequirement", "Distance", "Dosage", "Duration",
    "Element", "ElementDefinition", "Expression", "ExtendedContactDetail", "Extension",
    "HumanName", "Identifier", "MarketingStatus", "Meta", "MonetaryComponent", "Money",
    "Narrative", "ParameterDefinition", "Period", "Population", "ProductShelfLife", "Quantity",
    "Range", "Ratio", "RatioRange", "Reference", "RelatedArtifact", "SampledData", "Signature",
    "SimpleQuantity", "Timing", "TriggerDefinition", "UsageContext", "VirtualServiceDetail",
    "Resource",
};

bool view_type_from_fhir(const char *name, uint32_t flags, fl_view_type *out, view_colinfo *info)
{
    static const char sd[] = "http://hl7.org/fhir/StructureDefinition/";
    static const char sys[] = "http://hl7.org/fhirpath/System.";
    if (!strncmp(name, sd, sizeof sd - 1)) name += sizeof sd - 1;
    else if (!strncmp(name, sys, sizeof sys - 1)) name += sizeof sys - 1;
    info->json_ok = false;
    for (size_t i = 0; i < sizeof fhir_types / sizeof fhir_types[0]; i++) {
        const type_entry *e = &fhir_types[i];
        if (strcmp(e->name, name) != 0) continue;
        *out = e->type;
        if ((e->kind == 1 && (flags & FL_VIEW_TEMPORAL_AS_STRING)) ||
            (e->kind == 2 && (flags & FL_VIEW_DECIMAL_AS_STRING))) {
            *out = FL_VIEW_STRING;
        }
        return true;
    }
    for (size_t i = 0; i < sizeof complex_types / sizeof complex_types[0]; i++) {
        if (!strcmp(complex_types[i], name)) {
            *out = FL_VIEW_STRING;
            info->json_ok = true;
            return true;
        }
    }
    return false;
}

/* Case-insensitive prefix match of a word; returns the rest or NULL. */
static const char *ansi_word(const char *s, const char *w)
{
    while (*w) {
        char c = *s;
        if (c >= 'a' && c <= 'z') c = (char)(c - 32);
        if (c != *w) return NULL;
        s++, w++;
    }
    return s;
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

/* Parse "(n)" or "(n, m)"; absent parentheses give def values. */
static bool ansi_args(const char *s, unsigned *a, unsigned *b, bool *given)
{
    s = skip_ws(s);
    *given = false;
    if (!*s) return true;
    if (*s != '(') return false;
    s = skip_ws(s + 1);
    unsigned v[2] = {0, 0};
    int n = 0;
    for (;;) {
        if (*s < '0' || *s > '9' || n == 2) return false;
        while (*s >= '0' && *s <= '9') {
            v[n] = v[n] * 10u + (unsigned)(*s - '0');
            if (v[n] > 1000000u) return false;
            s++;
        }
        n++;
        s = skip_ws(s);
        if (*s == ',') {
            s = skip_ws(s + 1);
            continue;
        }
        if (*s != ')') return false;
        s = skip_ws(s + 1);
        break;
    }
    if (*s) return false;
    *a = v[0];
    *b = n == 2 ? v[1] : 0;
    *given = true;
    return true;
}

bool view_type_from_ansi(const char *val, fl_view_type *out, uint8_t *precision, uint8_t *scale)
{
    const char *s = skip_ws(val), *r;
    unsigned a = 0, b = 0;
    bool given;
    static const struct {
        const char *w;
        fl_view_type t;
    } words[] = {
        {"BOOLEAN", FL_VIEW_BOOL},
        {"TINYINT", FL_VIEW_INT},
        {"SMALLINT", FL_VIEW_INT},
        {"INTEGER", FL_VIEW_INT},
        {"INT", FL_VIEW_INT},
        {"BIGINT", FL_VIEW_LONG},
        {"DOUBLE PRECISION", FL_VIEW_DOUBLE},
        {"DOUBLE", FL_VIEW_DOUBLE},
        {"FLOAT", FL_VIEW_DOUBLE},
        {"REAL", FL_VIEW_DOUBLE},
        {"DATE", FL_VIEW_DATE},
        {"TIMESTAMP WITH TIME ZONE", FL_VIEW_TIMESTAMP},
        {"TIMESTAMP", FL_VIEW_TIMESTAMP},
        {"CHARACTER VARYING", FL_VIEW_STRING},
        {"VARCHAR", FL_VIEW_STRING},
        {"CHARACTER", FL_VIEW_STRING},
        {"CHAR", FL_VIEW_STRING},
        {"TEXT", FL_VIEW_STRING},
        {"STRING", FL_VIEW_STRING},
        {"CLOB", FL_VIEW_STRING},
        {"DECIMAL", FL_VIEW_DECIMAL},
        {"NUMERIC", FL_VIEW_DECIMAL},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (!(r = ansi_word(s, words[i].w))) continue;
        if (*r && *r != ' ' && *r != '(' && *r != '\t') continue; /* INT vs INTEGER */
        if (!ansi_args(r, &a, &b, &given)) return false;
        fl_view_type t = words[i].t;
        if (t == FL_VIEW_DECIMAL) {
            if (!given) a = 18, b = 0;
            if (a < 1 || a > 18 || b > a) return false;
            *precision = (uint8_t)a;
            *scale = (uint8_t)b;
        } else if (given && t != FL_VIEW_STRING && t != FL_VIEW_TIMESTAMP) {
            return false;
        }
        *out = t;
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------ dates */

/* Days from 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool digits(const char *p, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        v = v * 10u + (unsigned)(p[i] - '0');
    }
    *out = v;
    return true;
}

static unsigned month_days(unsigned y, unsigned m)
{
    static const unsigned md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return md[m - 1];
}

/* Parse the date part "YYYY[-MM[-DD]]" at s; *used receives the bytes consumed. */
static bool parse_date_part(const char *p, size_t n, int64_t *days, size_t *used)
{
    unsigned y, m = 1, d = 1;
    size_t i = 4;
    if (n < 4 || !digits(p, 4, &y) || y < 1) return false;
    if (i < n && p[i] == '-') {
        if (n < i + 3 || !digits(p + i + 1, 2, &m) || m < 1 || m > 12) return false;
        i += 3;
        if (i < n && p[i] == '-') {
            if (n < i + 3 || !digits(p + i + 1, 2, &d) || d < 1 || d > month_days(y, m)) return false;
            i += 3;
        }
    }
    *days = days_from_civil(y, m, d);
    *used = i;
    return true;
}

bool fl_view_parse_date(fl_str s, int32_t *days)
{
    int64_t d;
    size_t used;
    if (!s.ptr || !parse_date_part(s.ptr, s.len, &d, &used)) return false;
    /* A dateTime given to a DATE column keeps its calendar date as written. */
    if (used != s.len && s.ptr[used] != 'T') return false;
    if (used != s.len) {
        int64_t us;
        if (!fl_view_parse_timestamp(s, &us)) return false;
    }
    *days = (int32_t)d;
    return true;
}

bool fl_view_parse_timestamp(fl_str s, int64_t *micros)
{
    int64_t days;
    size_t i;
    if (!s.ptr || !parse_date_part(s.ptr, s.len, &days, &i)) return false;
    const char *p = s.ptr;
    size_t n = s.len;
    unsigned hh = 0, mi = 0, ss = 0;
    int64_t frac = 0;
    int64_t off_min = 0;
    if (i < n) {
        if (p[i] != 'T') return false;
        i++;
        if (i < n) { /* "2020-01-01T" alone is accepted as FHIRPath writes it */
            if (n < i + 2 || !digits(p + i, 2, &hh) || hh > 23) return false;
            i += 2;
            if (i < n && p[i] == ':') {
                if (n < i + 3 || !digits(p + i + 1, 2, &mi) || mi > 59) return false;
                i += 3;
                if (i < n && p[i] == ':') {
                    if (n < i + 3 || !digits(p + i + 1, 2, &ss) || ss > 60) return false;
                    if (ss == 60) ss = 59; /* leap second: clamp */
                    i += 3;
                    if (i < n && p[i] == '.') {
                        i++;
                        size_t nd = 0;
                        while (i < n && p[i] >= '0' && p[i] <= '9') {
                            if (nd < 6) frac = frac * 10 + (p[i] - '0');
                            nd++, i++;
                        }
                        if (nd == 0) return false;
                        for (; nd < 6; nd++) frac *= 10;
                    }
                }
            }
            if (i < n) {
                if (p[i] == 'Z') {
                    i++;
                } else if (p[i] == '+' || p[i] == '-') {
                    unsigned oh, om;
                    if (n < i + 6 || !digits(p + i + 1, 2, &oh) || p[i + 3] != ':' ||
                        !digits(p + i + 4, 2, &om) || oh > 14 || om > 59)
                        return false;
                    off_min = (int64_t)(oh * 60 + om);
                    if (p[i] == '-') off_min = -off_min;
                    i += 6;
                } else {
                    return false;
                }
            }
        }
    }
    if (i != n) return false;
    int64_t secs = days * 86400 + (int64_t)hh * 3600 + (int64_t)mi * 60 + (int64_t)ss - off_min * 60;
    *micros = secs * 1000000 + frac;
    return true;
}

/* Write v as exactly `width` digits (zero-padded) at p. */
static char *put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* "YYYY-MM-DD" (years outside 0..9999 fall back to snprintf). */
static size_t put_ymd(char *out, size_t cap, int64_t days)
{
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        int n = snprintf(out, cap, "%04lld-%02u-%02u", (long long)y, m, d);
        return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
    }
    if (cap < 11) return 0;
    char *p = put_digits(out, (unsigned)y, 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p = 0;
    return 10;
}

size_t fl_view_format_date(int32_t days, char *out, size_t cap) { return put_ymd(out, cap, days); }

size_t fl_view_format_timestamp(int64_t micros, char *out, size_t cap)
{
    int64_t secs = micros / 1000000, us = micros % 1000000;
    if (us < 0) us += 1000000, secs -= 1;
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) rem += 86400, days -= 1;
    if (cap < 32) return 0;
    size_t n = put_ymd(out, cap, days);
    char *p = out + n;
    *p++ = 'T';
    p = put_digits(p, (unsigned)(rem / 3600), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)(rem / 60 % 60), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)(rem % 60), 2);
    if (us && us % 1000 == 0) {
        *p++ = '.';
        p = put_digits(p, (unsigned)(us / 1000), 3);
    } else if (us) {
        *p++ = '.';
        p = put_digits(p, (unsigned)us, 6);
    }
    *p++ = 'Z';
    *p = 0;
    return (size_t)(p - out);
}

size_t fl_view_format_decimal(int64_t unscaled, unsigned scale, char *out, size_t cap)
{
    char digs[24];
    uint64_t mag = unscaled < 0 ? (uint64_t)0 - (uint64_t)unscaled : (uint64_t)unscaled;
    int nd = snprintf(digs, sizeof digs, "%llu", (unsigned long long)mag);
    if (nd < 0 || cap < 2) return 0;
    size_t o = 0, nds = (size_t)nd;
    if (unscaled < 0 && o + 1 < cap) out[o++] = '-';
    if (scale == 0) {
        for (size_t i = 0; i < nds && o + 1 < cap; i++) out[o++] = digs[i];
    } else if (nds <= scale) {
        if (o + 1 < cap) out[o++] = '0';
        if (o + 1 < cap) out[o++] = '.';
        for (size_t i = nds; i < scale && o + 1 < cap; i++) out[o++] = '0';
        for (size_t i = 0; i < nds && o + 1 < cap; i++) out[o++] = digs[i];
    } else {
        for (size_t i = 0; i < nds && o + 1 < cap; i++) {
            if (i == nds - scale && o + 1 < cap) out[o++] = '.';
            out[o++] = digs[i];
        }
    }
    out[o] = 0;
    return o;
}

/* ------------------------------------------------------------------ conversion */

/* Parse decimal text into an unscaled int64 with `scale` fraction digits, rounding half
 * away from zero; false on junk or when more than `precision` digits are needed. */
static bool parse_decimal(fl_str s, unsigned precision, unsigned scale, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < s.len && (s.ptr[i] == '-' || s.ptr[i] == '+')) neg = s.ptr[i++] == '-';
    uint64_t v = 0;
    unsigned fd = 0;
    bool any = false, round_up = false, dot = false;
    for (; i < s.len; i++) {
        char c = s.ptr[i];
        if (c == '.' && !dot) {
            dot = true;
            continue;
        }
        if (c < '0' || c > '9') return false;
        any = true;
        if (dot && fd >= scale) { /* the first dropped digit decides the rounding */
            if (fd == scale) round_up = c >= '5';
            fd++;
            continue;
        }
        if (dot) fd++;
        v = v * 10u + (uint64_t)(c - '0');
        if (v > 999999999999999999ull) return false;
    }
    if (!any) return false;
    for (; fd < scale; fd++) {
        v *= 10u;
        if (v > 999999999999999999ull) return false;
    }
    if (round_up) v++;
    uint64_t lim = 1;
    for (unsigned k = 0; k < precision; k++) lim *= 10u;
    if (v >= lim) return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

static fl_rc conv_fail(const fl_view_col *col, const fl_fp_item *it, fl_arena *a, const char *why,
                       fl_err *err)
{
    fl_str txt = FL_STR_NULL;
    if (it->kind != FL_FP_NODE) (void)fl_fp_item_to_string(it, a, &txt);
    if (txt.len > 40) txt.len = 40;
    return fl_err_set(err, FL_E_VIEW_EVAL, "column '%s' (%s%s%s): %s %s%s" FL_STR_FMT "%s",
                      col->name, fl_view_type_name(col->type), col->fhir_type ? " from " : "",
                      col->fhir_type ? col->fhir_type : "", why, fl_fp_item_type_name(it),
                      txt.ptr ? " '" : "", FL_STR_ARG(txt), txt.ptr ? "'" : "");
}

static bool int_text(const fl_fp_item *it, int64_t *out)
{
    if (it->kind == FL_FP_INT) {
        *out = it->v.i;
        return true;
    }
    if (it->kind == FL_FP_STR || it->kind == FL_FP_DEC) {
        fl_str s = it->v.s;
        /* "3.0" is an integral decimal */
        size_t dot = s.len;
        for (size_t i = 0; i < s.len; i++)
            if (s.ptr[i] == '.') dot = i;
        for (size_t i = dot + 1; i < s.len; i++)
            if (s.ptr[i] != '0') return false;
        return fl_parse_i64(fl_str_make(s.ptr, dot), out);
    }
    return false;
}

static fl_rc to_string(const fl_view_col *col, const view_colinfo *info, const fl_fp_item *it,
                       fl_arena *a, view_val *out, fl_err *err)
{
    switch (it->kind) {
    case FL_FP_STR:
    case FL_FP_DEC:
    case FL_FP_DATE:
    case FL_FP_DATETIME:
    case FL_FP_TIME: out->s = it->v.s; return FL_OK;
    case FL_FP_BOOL: out->s = it->v.b ? FL_STR("true") : FL_STR("false"); return FL_OK;
    case FL_FP_INT: {
        char *p = fl_arena_printf(a, "%lld", (long long)it->v.i);
        if (!p) return fl_err_set(err, FL_E_NOMEM, "out of memory converting column '%s'", col->name);
        out->s = fl_str_c(p);
        return FL_OK;
    }
    case FL_FP_QTY:
        if (!fl_fp_item_to_string(it, a, &out->s))
            return fl_err_set(err, FL_E_NOMEM, "out of memory converting column '%s'", col->name);
        return FL_OK;
    case FL_FP_NODE: {
        if (!info->json_ok) return conv_fail(col, it, a, "got a complex value", err);
        fl_buf b;
        fl_buf_init(&b, 0);
        fl_rc rc = fl_json_write(it->v.node, &b);
        if (rc == FL_OK) {
            out->s = fl_arena_str_dup(a, fl_buf_str(&b));
            if (!out->s.ptr) rc = FL_E_NOMEM;
        }
        fl_buf_reset(&b);
        if (rc) return fl_err_set(err, rc, "converting column '%s' to JSON text", col->name);
        return FL_OK;
    }
    default: return conv_fail(col, it, a, "unexpected value", err);
    }
}

fl_rc view_convert(const fl_view_col *col, const view_colinfo *info, const fl_fp_item *it,
                   fl_arena *a, view_val *out, fl_err *err)
{
    int64_t i64;
    switch (col->type) {
    case FL_VIEW_STRING: return to_string(col, info, it, a, out, err);
    case FL_VIEW_BOOL:
        if (it->kind == FL_FP_BOOL) {
            out->i = it->v.b;
            return FL_OK;
        }
        if (it->kind == FL_FP_STR && (fl_str_eq_c(it->v.s, "true") || fl_str_eq_c(it->v.s, "false"))) {
            out->i = it->v.s.len == 4;
            return FL_OK;
        }
        return conv_fail(col, it, a, "cannot convert", err);
    case FL_VIEW_INT:
        if (int_text(it, &i64) && i64 >= INT32_MIN && i64 <= INT32_MAX) {
            out->i = i64;
            return FL_OK;
        }
        return conv_fail(col, it, a, "cannot convert", err);
    case FL_VIEW_LONG:
        if (int_text(it, &i64)) {
            out->i = i64;
            return FL_OK;
        }
        return conv_fail(col, it, a, "cannot convert", err);
    case FL_VIEW_DOUBLE:
        if (it->kind == FL_FP_INT) {
            out->d = (double)it->v.i;
            return FL_OK;
        }
        if ((it->kind == FL_FP_DEC || it->kind == FL_FP_STR) && fl_parse_f64(it->v.s, &out->d) &&
            isfinite(out->d))
            return FL_OK;
        return conv_fail(col, it, a, "cannot convert", err);
    case FL_VIEW_DECIMAL:
        if (it->kind == FL_FP_INT) {
            char buf[32];
            int n = snprintf(buf, sizeof buf, "%lld", (long long)it->v.i);
            if (n > 0 && parse_decimal(fl_str_make(buf, (size_t)n), col->precision, col->scale, &out->i))
                return FL_OK;
        } else if ((it->kind == FL_FP_DEC || it->kind == FL_FP_STR) &&
                   parse_decimal(it->v.s, col->precision, col->scale, &out->i)) {
            return FL_OK;
        }
        return conv_fail(col, it, a, "cannot convert (or out of precision)", err);
    case FL_VIEW_DATE: {
        int32_t d;
        if ((it->kind == FL_FP_DATE || it->kind == FL_FP_DATETIME || it->kind == FL_FP_STR) &&
            fl_view_parse_date(it->v.s, &d)) {
            out->i = d;
            return FL_OK;
        }
        return conv_fail(col, it, a, "cannot convert", err);
    }
    case FL_VIEW_TIMESTAMP:
        if ((it->kind == FL_FP_DATE || it->kind == FL_FP_DATETIME || it->kind == FL_FP_STR) &&
            fl_view_parse_timestamp(it->v.s, &i64)) {
            out->i = i64;
            return FL_OK;
        }
        return conv_fail(col, it, a, "cannot convert", err);
    }
    return fl_err_set(err, FL_E_INTERNAL, "column '%s': bad type", col->name);
}
