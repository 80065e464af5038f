/* fp_value.c - FHIRPath value semantics (module fhirpath): exact decimals, date/time
 * values with precision, quantities with a small UCUM/calendar unit table, and the
 * equality ('='), equivalence ('~') and ordering rules on single items.
 * Decimals are a 128-bit coefficient with a decimal scale, so "1.10" = "1.1" and
 * 0.1 + 0.2 = 0.3 exactly; text is produced only when a result is materialised.
 * Pure functions over items; allocation (text) only in the caller's arena. */
#include "fhirpath/fhirpath_int.h"

#include <math.h>
#include <stdio.h>

#define FP_JSON_EQUIV_MAX_DEPTH 512u
#define FP_MAX_DATE_STEP 100000000LL /* largest calendar amount added to a date/time */ /* nesting compared by '~' on complex values */

/* ------------------------------------------------------------------ decimals */

static const fp_i128 FP_I128_MAX = (fp_i128)(((fp_u128)1 << 127) - 1);

static bool pow10_i128(int32_t n, fp_i128 *out)
{
    fp_i128 r = 1;
    if (n < 0 || n > 38) return false;
    for (int32_t i = 0; i < n; i++) r *= 10;
    *out = r;
    return true;
}

bool fp_dec_parse(fl_str s, fp_dec *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < s.len && (s.ptr[i] == '-' || s.ptr[i] == '+')) neg = s.ptr[i++] == '-';
    fp_i128 m = 0;
    int32_t scale = 0, ndig = 0;
    bool frac = false, any = false;
    for (; i < s.len; i++) {
        char ch = s.ptr[i];
        if (ch >= '0' && ch <= '9') {
            any = true;
            if (m == 0 && ch == '0' && !frac) continue;
            if (ndig >= 37) {
                if (frac) continue; /* drop excess fraction digits */
                return false;
            }
            m = m * 10 + (ch - '0');
            if (m) ndig++;
            if (frac) scale++;
        } else if (ch == '.' && !frac) {
            frac = true;
        } else {
            break;
        }
    }
    if (!any) return false;
    if (i < s.len && (s.ptr[i] == 'e' || s.ptr[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < s.len && (s.ptr[i] == '-' || s.ptr[i] == '+')) eneg = s.ptr[i++] == '-';
        int32_t e = 0;
        bool edig = false;
        for (; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9'; i++) {
            edig = true;
            if (e < 1000) e = e * 10 + (s.ptr[i] - '0');
        }
        if (!edig) return false;
        if (eneg) {
            scale += e;
        } else {
            while (e > 0 && scale > 0) {
                scale--;
                e--;
            }
            while (e-- > 0) {
                if (m > FP_I128_MAX / 10) return false;
                m *= 10;
            }
        }
    }
    if (i != s.len) return false;
    while (scale > FP_DEC_MAX_SCALE) {
        m /= 10;
        scale--;
    }
    out->m = neg ? -m : m;
    out->scale = scale;
    return true;
}

fp_dec fp_dec_from_i64(int64_t v) { return (fp_dec){(fp_i128)v, 0}; }

fl_str fp_dec_text(fl_arena *a, fp_dec d)
{
    char digits[64];
    int n = 0;
    fp_i128 m = d.m;
    bool neg = m < 0;
    fp_u128 u = neg ? (fp_u128)(-(m + 1)) + 1u : (fp_u128)m;
    do {
        digits[n++] = (char)('0' + (int)(u % 10u));
        u /= 10u;
    } while (u && n < 60);
    while (n <= d.scale) digits[n++] = '0';
    char *buf = fl_arena_alloc(a, (size_t)n + 4);
    if (!buf) return FL_STR_NULL;
    size_t k = 0;
    if (neg) buf[k++] = '-';
    for (int i = n - 1; i >= 0; i--) {
        buf[k++] = digits[i];
        if (i == d.scale && d.scale > 0) buf[k++] = '.';
    }
    return fl_str_make(buf, k);
}

static bool align(fp_dec *a, fp_dec *b)
{
    while (a->scale < b->scale) {
        if (a->m > FP_I128_MAX / 10 || a->m < -FP_I128_MAX / 10) return false;
        a->m *= 10;
        a->scale++;
    }
    while (b->scale < a->scale) {
        if (b->m > FP_I128_MAX / 10 || b->m < -FP_I128_MAX / 10) return false;
        b->m *= 10;
        b->scale++;
    }
    return true;
}

bool fp_dec_add(fp_dec a, fp_dec b, fp_dec *out)
{
    if (!align(&a, &b)) return false;
    out->scale = a.scale;
    return !__builtin_add_overflow(a.m, b.m, &out->m);
}

bool fp_dec_sub(fp_dec a, fp_dec b, fp_dec *out)
{
    if (!align(&a, &b)) return false;
    out->scale = a.scale;
    return !__builtin_sub_overflow(a.m, b.m, &out->m);
}

bool fp_dec_mul(fp_dec a, fp_dec b, fp_dec *out)
{
    a = fp_dec_trim(a);
    b = fp_dec_trim(b);
    fp_i128 r;
    if (__builtin_mul_overflow(a.m, b.m, &r)) return false;
    out->m = r;
    out->scale = a.scale + b.scale;
    while (out->scale > FP_DEC_MAX_SCALE) return fp_dec_rescale(*out, FP_DEC_MAX_SCALE, 0, out);
    return true;
}

bool fp_dec_div(fp_dec a, fp_dec b, fp_dec *out)
{
    if (b.m == 0) return false;
    int32_t target = FP_DEC_DIV_SCALE;
    if (a.scale > target) target = a.scale;
    if (b.scale > target) target = b.scale;
    /* result = a.m * 10^(target + b.scale - a.scale) / b.m, with one guard digit */
    int32_t e = target + 1 + b.scale - a.scale;
    fp_i128 num = a.m, den = b.m, p;
    if (e >= 0) {
        if (!pow10_i128(e, &p) || __builtin_mul_overflow(num, p, &num)) return false;
    } else {
        if (!pow10_i128(-e, &p) || __builtin_mul_overflow(den, p, &den)) return false;
    }
    fp_i128 q = num / den;
    /* q has target+1 fraction digits: round half away from zero on the guard digit */
    fp_i128 last = q % 10;
    q /= 10;
    if (last >= 5) q++;
    else if (last <= -5) q--;
    out->m = q;
    out->scale = target;
    *out = fp_dec_trim(*out);
    return true;
}

int fp_dec_cmp(fp_dec a, fp_dec b)
{
    if (!align(&a, &b)) {
        double x = fp_dec_to_f64(a), y = fp_dec_to_f64(b);
        return x < y ? -1 : x > y ? 1 : 0;
    }
    return a.m < b.m ? -1 : a.m > b.m ? 1 : 0;
}

bool fp_dec_rescale(fp_dec a, int32_t scale, int mode, fp_dec *out)
{
    if (scale < 0) scale = 0;
    if (scale >= a.scale) {
        fp_dec b = {0, scale};
        if (!align(&a, &b)) return false;
        *out = a;
        return true;
    }
    fp_i128 p;
    if (!pow10_i128(a.scale - scale, &p)) {
        *out = (fp_dec){0, scale};
        return true;
    }
    fp_i128 q = a.m / p, r = a.m % p;
    switch (mode) {
    case 0:
        if (r * 2 >= p) q++;
        else if (r * 2 <= -p) q--;
        break;
    case 1:
        if (r < 0) q--;
        break;
    case 2:
        if (r > 0) q++;
        break;
    default: break;
    }
    out->m = q;
    out->scale = scale;
    return true;
}

fp_dec fp_dec_trim(fp_dec a)
{
    while (a.scale > 0 && a.m % 10 == 0) {
        a.m /= 10;
        a.scale--;
    }
    return a;
}

double fp_dec_to_f64(fp_dec a)
{
    double v = (double)a.m;
    for (int32_t i = 0; i < a.scale; i++) v /= 10.0;
    return v;
}

bool fp_dec_from_f64(double v, fp_dec *out)
{
    if (!isfinite(v)) return false;
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%.15g", v);
    if (n <= 0 || (size_t)n >= sizeof buf) return false;
    if (!fp_dec_parse(fl_str_make(buf, (size_t)n), out)) return false;
    return true;
}

bool fp_dec_to_i64(fp_dec a, int64_t *out)
{
    a = fp_dec_trim(a);
    if (a.scale != 0) return false;
    if (a.m > INT64_MAX || a.m < INT64_MIN) return false;
    *out = (int64_t)a.m;
    return true;
}

/* ------------------------------------------------------------------ temporals */

static bool dig2(const char *p, int32_t *v)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9') return false;
    *v = (p[0] - '0') * 10 + (p[1] - '0');
    return true;
}

static bool parse_time_part(const char *s, size_t n, size_t *i, fp_dt *d)
{
    if (*i + 2 > n || !dig2(s + *i, &d->hour) || d->hour > 23) return false;
    *i += 2;
    d->prec = FL_FP_PREC_HOUR;
    if (*i < n && s[*i] == ':') {
        if (*i + 3 > n || !dig2(s + *i + 1, &d->minute) || d->minute > 59) return false;
        *i += 3;
        d->prec = FL_FP_PREC_MINUTE;
        if (*i < n && s[*i] == ':') {
            if (*i + 3 > n || !dig2(s + *i + 1, &d->second) || d->second > 60) return false;
            *i += 3;
            d->prec = FL_FP_PREC_SECOND;
            if (*i < n && s[*i] == '.') {
                (*i)++;
                int32_t ms = 0, nd = 0;
                while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
                    if (nd < 3) ms = ms * 10 + (s[*i] - '0');
                    nd++;
                    (*i)++;
                }
                if (nd == 0) return false;
                while (nd < 3) {
                    ms *= 10;
                    nd++;
                }
                d->ms = ms;
                d->prec = FL_FP_PREC_MS;
            }
        }
    }
    return true;
}

static int32_t days_in_month(int32_t y, int32_t m)
{
    static const int32_t dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2) return (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 29 : 28;
    return dm[(m - 1) % 12];
}

bool fp_dt_parse(fl_str str, fl_fp_kind kind, fp_dt *d)
{
    memset(d, 0, sizeof *d);
    d->month = d->day = 1;
    const char *s = str.ptr;
    size_t n = str.len, i = 0;
    if (!s) return false;
    if (kind == FL_FP_TIME) {
        d->is_time = true;
        if (n && s[0] == 'T') i = 1;
        if (!parse_time_part(s, n, &i, d)) return false;
        return i == n;
    }
    d->has_date = true;
    if (n < 4) return false;
    for (int k = 0; k < 4; k++)
        if (s[k] < '0' || s[k] > '9') return false;
    d->year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    i = 4;
    d->prec = FL_FP_PREC_YEAR;
    if (i < n && s[i] == '-') {
        if (i + 3 > n || !dig2(s + i + 1, &d->month) || d->month < 1 || d->month > 12) return false;
        i += 3;
        d->prec = FL_FP_PREC_MONTH;
        if (i < n && s[i] == '-') {
            if (i + 3 > n || !dig2(s + i + 1, &d->day) || d->day < 1 || d->day > days_in_month(d->year, d->month)) return false;
            i += 3;
            d->prec = FL_FP_PREC_DAY;
        }
    }
    if (kind == FL_FP_DATE) return i == n;
    if (i < n && s[i] == 'T') {
        i++;
        if (i == n) return true;
        if (!parse_time_part(s, n, &i, d)) return false;
        if (i < n && s[i] == 'Z') {
            d->has_tz = true;
            i++;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
            int32_t th, tm;
            if (i + 6 > n || !dig2(s + i + 1, &th) || s[i + 3] != ':' || !dig2(s + i + 4, &tm)) return false;
            d->has_tz = true;
            d->tz_min = (th * 60 + tm) * (s[i] == '-' ? -1 : 1);
            i += 6;
        }
    }
    return i == n;
}

fl_str fp_dt_text(fl_arena *a, const fp_dt *d, fl_fp_kind kind)
{
    char buf[64];
    size_t k = 0;
    int w;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        w = snprintf(buf + k, sizeof buf - k, __VA_ARGS__);                                        \
        if (w > 0) k += (size_t)w;                                                                 \
    } while (0)
    if (kind != FL_FP_TIME) {
        PUT("%04d", (int)d->year);
        if (d->prec >= FL_FP_PREC_MONTH) PUT("-%02d", (int)d->month);
        if (d->prec >= FL_FP_PREC_DAY) PUT("-%02d", (int)d->day);
        if (kind == FL_FP_DATETIME && d->prec >= FL_FP_PREC_HOUR) PUT("T");
    }
    if (kind == FL_FP_TIME || (kind == FL_FP_DATETIME && d->prec >= FL_FP_PREC_HOUR)) {
        PUT("%02d", (int)d->hour);
        if (d->prec >= FL_FP_PREC_MINUTE) PUT(":%02d", (int)d->minute);
        if (d->prec >= FL_FP_PREC_SECOND) PUT(":%02d", (int)d->second);
        if (d->prec >= FL_FP_PREC_MS) PUT(".%03d", (int)d->ms);
        if (kind == FL_FP_DATETIME && d->has_tz) {
            if (d->tz_min == 0) PUT("Z");
            else {
                int32_t t = d->tz_min < 0 ? -d->tz_min : d->tz_min;
                PUT("%c%02d:%02d", d->tz_min < 0 ? '-' : '+', (int)(t / 60), (int)(t % 60));
            }
        }
    }
#undef PUT
    if (k >= sizeof buf) k = sizeof buf - 1;
    char *out = fl_arena_strndup(a, buf, k);
    return out ? fl_str_make(out, k) : FL_STR_NULL;
}

static void civil_from_days(int64_t z, int32_t *y, int32_t *m, int32_t *d)
{
    int64_t yy;
    unsigned mm, dd;
    fl_civil_from_days(z, &yy, &mm, &dd);
    *y = (int32_t)yy;
    *m = (int32_t)mm;
    *d = (int32_t)dd;
}

/* Milliseconds of a date-time at full precision (absent parts are their minimum), UTC
 * when it has a timezone. */
static int64_t dt_ms(const fp_dt *d)
{
    int64_t days = d->is_time ? 0 : fl_days_from_civil(d->year, d->month, d->day);
    int64_t ms = (((days * 24 + d->hour) * 60 + d->minute) * 60 + d->second) * 1000 + d->ms;
    if (d->has_tz) ms -= (int64_t)d->tz_min * 60000;
    return ms;
}

static void dt_to_utc(fp_dt *d)
{
    if (!d->has_tz || d->tz_min == 0 || d->is_time || d->prec < FL_FP_PREC_HOUR) return;
    int64_t ms = dt_ms(d);
    int64_t nd = ms / 86400000LL - (ms % 86400000LL < 0);
    int64_t rem = ms - nd * 86400000LL;
    civil_from_days(nd, &d->year, &d->month, &d->day);
    d->hour = (int32_t)(rem / 3600000);
    d->minute = (int32_t)(rem / 60000 % 60);
    d->second = (int32_t)(rem / 1000 % 60);
    d->ms = (int32_t)(rem % 1000);
    d->tz_min = 0;
}

int fp_dt_cmp(const fp_dt *a0, const fp_dt *b0)
{
    fp_dt a = *a0, b = *b0;
    if (a.is_time != b.is_time) return 2;
    uint8_t pa = a.prec == FL_FP_PREC_MS ? FL_FP_PREC_SECOND : a.prec;
    uint8_t pb = b.prec == FL_FP_PREC_MS ? FL_FP_PREC_SECOND : b.prec;
    uint8_t pmin = pa < pb ? pa : pb;
    if (!a.is_time && a.has_tz != b.has_tz && pa >= FL_FP_PREC_HOUR && pb >= FL_FP_PREC_HOUR) {
        /* one side has no offset: decide only when the days are far enough apart */
        int64_t da = fl_days_from_civil(a.year, a.month, a.day), db = fl_days_from_civil(b.year, b.month, b.day);
        if (da + 1 < db) return -1;
        if (da > db + 1) return 1;
        return 2;
    }
    dt_to_utc(&a);
    dt_to_utc(&b);
    int32_t fa[7] = {a.year, a.month, a.day, a.hour, a.minute, a.second, a.ms};
    int32_t fb[7] = {b.year, b.month, b.day, b.hour, b.minute, b.second, b.ms};
    int start = a.is_time ? 3 : 0;
    int last = (int)pmin - 1;
    for (int i = start; i <= last; i++) {
        if (fa[i] != fb[i]) return fa[i] < fb[i] ? -1 : 1;
    }
    if (pmin == FL_FP_PREC_SECOND && fa[6] != fb[6]) return fa[6] < fb[6] ? -1 : 1;
    return pa == pb ? 0 : 2;
}

fl_str fp_cal_unit(fl_str u)
{
    static const char *const words[] = {"year", "month", "week", "day", "hour", "minute", "second", "millisecond"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t n = strlen(words[i]);
        if (u.len == n && !memcmp(u.ptr, words[i], n)) return fl_str_make(words[i], n);
        if (u.len == n + 1 && !memcmp(u.ptr, words[i], n) && u.ptr[n] == 's') return fl_str_make(words[i], n);
    }
    return FL_STR_NULL;
}

bool fp_dt_add(fp_dt *d, fp_dec amount, fl_str unit, bool negate)
{
    fl_str cu = fp_cal_unit(unit);
    /* UCUM definite-duration codes accepted for date arithmetic */
    if (!cu.len) {
        if (fl_str_eq_c(unit, "d")) cu = FL_STR("day");
        else if (fl_str_eq_c(unit, "wk")) cu = FL_STR("week");
        else if (fl_str_eq_c(unit, "h")) cu = FL_STR("hour");
        else if (fl_str_eq_c(unit, "min")) cu = FL_STR("minute");
        else if (fl_str_eq_c(unit, "s")) cu = FL_STR("second");
        else if (fl_str_eq_c(unit, "ms")) cu = FL_STR("millisecond");
        else return false;
    }
    if (negate) amount.m = -amount.m;
    int64_t whole;
    fp_dec t;
    if (!fp_dec_rescale(amount, 0, 3, &t) || !fp_dec_to_i64(t, &whole)) return false;
    /* keep every product below in range; results must stay within years 1..9999 */
    if (whole > FP_MAX_DATE_STEP || whole < -FP_MAX_DATE_STEP) return false;
    if (fl_str_eq_c(cu, "year") || fl_str_eq_c(cu, "month")) {
        int64_t months = fl_str_eq_c(cu, "year") ? whole * 12 : whole;
        if (d->is_time) return false;
        if (fl_str_eq_c(cu, "month") && d->prec < FL_FP_PREC_MONTH) months = (months / 12) * 12;
        int64_t total = (int64_t)d->year * 12 + (d->month - 1) + months;
        if (total < 12 || total >= 10000 * 12) return false;
        d->year = (int32_t)(total / 12);
        d->month = (int32_t)(total % 12) + 1;
        int32_t dim = days_in_month(d->year, d->month);
        if (d->day > dim) d->day = dim;
        return true;
    }
    int64_t ms;
    if (fl_str_eq_c(cu, "week")) ms = whole * 7 * 86400000LL;
    else if (fl_str_eq_c(cu, "day")) ms = whole * 86400000LL;
    else if (fl_str_eq_c(cu, "hour")) ms = whole * 3600000LL;
    else if (fl_str_eq_c(cu, "minute")) ms = whole * 60000LL;
    else if (fl_str_eq_c(cu, "second")) ms = whole * 1000LL;
    else ms = whole;
    if (!d->is_time && d->prec < FL_FP_PREC_DAY) {
        /* date with year/month precision: whole days ignored below that precision */
        return true;
    }
    if (d->is_time) {
        int64_t cur = ((int64_t)d->hour * 60 + d->minute) * 60000 + (int64_t)d->second * 1000 + d->ms;
        cur = ((cur + ms) % 86400000LL + 86400000LL) % 86400000LL;
        d->hour = (int32_t)(cur / 3600000);
        d->minute = (int32_t)(cur / 60000 % 60);
        d->second = (int32_t)(cur / 1000 % 60);
        d->ms = (int32_t)(cur % 1000);
        return true;
    }
    int64_t days = fl_days_from_civil(d->year, d->month, d->day);
    int64_t cur = (((days * 24 + d->hour) * 60 + d->minute) * 60 + d->second) * 1000 + d->ms + ms;
    int64_t nd = cur / 86400000LL - (cur % 86400000LL < 0);
    int64_t rem = cur - nd * 86400000LL;
    if (nd < fl_days_from_civil(1, 1, 1) || nd > fl_days_from_civil(9999, 12, 31)) return false;
    civil_from_days(nd, &d->year, &d->month, &d->day);
    d->hour = (int32_t)(rem / 3600000);
    d->minute = (int32_t)(rem / 60000 % 60);
    d->second = (int32_t)(rem / 1000 % 60);
    d->ms = (int32_t)(rem % 1000);
    return true;
}

/* ------------------------------------------------------------------ units */

typedef struct fp_unit_def {
    const char *code;
    const char *canon; /* canonical base unit */
    const char *factor;
} fp_unit_def;

/* Small UCUM subset: base units with common prefixes are derived below; these are the
 * special and customary units seen in FHIR data. */
static const fp_unit_def unit_table[] = {
    {"[lb_av]", "g", "453.59237"},
    {"[oz_av]", "g", "28.349523125"},
    {"[in_i]", "m", "0.0254"},
    {"[ft_i]", "m", "0.3048"},
    {"[mi_i]", "m", "1609.344"},
    {"min", "s", "60"},
    {"h", "s", "3600"},
    {"d", "s", "86400"},
    {"wk", "s", "604800"},
    {"mo", "mo", "1"},
    {"a", "a", "1"},
    {"%", "1", "0.01"},
    {"1", "1", "1"},
    {"[degF]", "[degF]", "1"},
    {"Cel", "Cel", "1"},
    {"mm[Hg]", "mm[Hg]", "1"},
};

static bool prefix_factor(char p, const char **f)
{
    switch (p) {
    case 'k': *f = "1000"; return true;
    case 'h': *f = "100"; return true;
    case 'd': *f = "0.1"; return true;
    case 'c': *f = "0.01"; return true;
    case 'm': *f = "0.001"; return true;
    case 'u': *f = "0.000001"; return true;
    case 'n': *f = "0.000000001"; return true;
    case 'p': *f = "0.000000000001"; return true;
    default: return false;
    }
}

/* One unit term like "mg", "m2", "cm", "[lb_av]" -> factor and base+exponent. */
static bool unit_term(fl_str t, fp_dec *factor, fl_str *base, int *expo)
{
    *expo = 1;
    /* trailing exponent digits (m2, s-1) */
    size_t n = t.len;
    size_t e = n;
    while (e > 0 && t.ptr[e - 1] >= '0' && t.ptr[e - 1] <= '9') e--;
    if (e > 0 && e < n && t.ptr[e - 1] == '-') e--;
    if (e > 0 && e < n && t.ptr[0] != '[') {
        int64_t ex;
        if (!fl_parse_i64(fl_str_make(t.ptr + e, n - e), &ex) || ex < -9 || ex > 9) return false;
        *expo = (int)ex;
        t.len = e;
    }
    for (size_t i = 0; i < sizeof unit_table / sizeof unit_table[0]; i++) {
        if (fl_str_eq_c(t, unit_table[i].code)) {
            fp_dec_parse(fl_str_c(unit_table[i].factor), factor);
            *base = fl_str_c(unit_table[i].canon);
            return true;
        }
    }
    static const char *const bases[] = {"g", "m", "s", "l", "L", "mol", "eq", "U", "[iU]", "kat", "Pa", "J", "W"};
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        fl_str b = fl_str_c(bases[i]);
        fl_str canon = fl_str_eq_c(b, "L") ? FL_STR("l") : b; /* litre: L and l are one unit */
        if (fl_str_eq(t, b)) {
            *factor = fp_dec_from_i64(1);
            *base = canon;
            return true;
        }
        const char *pf;
        if (t.len == b.len + 1 && fl_str_ends_with(t, b) && prefix_factor(t.ptr[0], &pf)) {
            fp_dec_parse(fl_str_c(pf), factor);
            *base = canon;
            return true;
        }
    }
    return false;
}

bool fp_qty_canon(fl_arena *a, fp_dec v, fl_str unit, fp_dec *cv, fl_str *cunit)
{
    /* calendar words: definite durations convert to seconds (week/day/hour/...); year
     * and month stay as themselves (not comparable with a/mo per the spec) */
    fl_str cal = fp_cal_unit(unit);
    if (cal.len) {
        static const struct { const char *w, *f; } cw[] = {
            {"week", "604800"}, {"day", "86400"}, {"hour", "3600"}, {"minute", "60"}, {"second", "1"}, {"millisecond", "0.001"}};
        for (size_t i = 0; i < sizeof cw / sizeof cw[0]; i++) {
            if (fl_str_eq_c(cal, cw[i].w)) {
                fp_dec f;
                fp_dec_parse(fl_str_c(cw[i].f), &f);
                *cunit = FL_STR("s");
                return fp_dec_mul(v, f, cv);
            }
        }
        *cv = v;
        *cunit = cal;
        return true;
    }
    if (unit.len == 0) {
        *cv = v;
        *cunit = FL_STR("1");
        return true;
    }
    /* product/quotient of terms: a.b/c */
    char buf[128];
    size_t bl = 0;
    fp_dec acc = v;
    size_t i = 0;
    bool div = false;
    /* collect (base, exponent) pairs, merging equal bases */
    struct { fl_str base; int ex; } parts[8];
    size_t np = 0;
    while (i <= unit.len) {
        size_t j = i;
        while (j < unit.len && unit.ptr[j] != '.' && unit.ptr[j] != '/') j++;
        fl_str term = fl_str_make(unit.ptr + i, j - i);
        if (term.len == 0) return false;
        fp_dec f;
        fl_str base;
        int ex;
        if (!unit_term(term, &f, &base, &ex)) return false;
        if (div) ex = -ex;
        for (int k = 0; k < (ex < 0 ? -ex : ex); k++) {
            bool ok = ex < 0 ? fp_dec_div(acc, f, &acc) : fp_dec_mul(acc, f, &acc);
            if (!ok) return false;
        }
        size_t k;
        for (k = 0; k < np; k++)
            if (fl_str_eq(parts[k].base, base)) break;
        if (k == np) {
            if (np == 8) return false;
            parts[np].base = base;
            parts[np].ex = 0;
            np++;
        }
        parts[k].ex += ex;
        if (j >= unit.len) break;
        div = unit.ptr[j] == '/' ? true : div;
        i = j + 1;
    }
    for (size_t k = 0; k < np; k++) {
        if (parts[k].ex == 0 || fl_str_eq_c(parts[k].base, "1")) continue;
        int w = parts[k].ex == 1 ? snprintf(buf + bl, sizeof buf - bl, "%s%.*s", bl ? "." : "", (int)parts[k].base.len,
                                            parts[k].base.ptr)
                                 : snprintf(buf + bl, sizeof buf - bl, "%s%.*s%d", bl ? "." : "", (int)parts[k].base.len,
                                            parts[k].base.ptr, parts[k].ex);
        if (w < 0 || (size_t)w >= sizeof buf - bl) return false;
        bl += (size_t)w;
    }
    if (bl == 0) {
        *cunit = FL_STR("1");
    } else {
        char *s = fl_arena_strndup(a, buf, bl);
        if (!s) return false;
        *cunit = fl_str_make(s, bl);
    }
    *cv = acc;
    return true;
}

/* ------------------------------------------------------------------ item views */

bool fp_item_dec(const fl_fp_item *it, fp_dec *out)
{
    if (it->kind == FL_FP_INT) {
        *out = fp_dec_from_i64(it->v.i);
        return true;
    }
    if (it->kind == FL_FP_DEC) return fp_dec_parse(it->v.s, out);
    return false;
}

bool fp_item_temporal(const fl_fp_item *it, fl_fp_kind want, fp_dt *out, fl_fp_kind *kind_out)
{
    fl_fp_kind k = (fl_fp_kind)it->kind;
    if (k == FL_FP_DATE || k == FL_FP_DATETIME || k == FL_FP_TIME) {
        if (!fp_dt_parse(it->v.s, k, out)) return false;
        if (kind_out) *kind_out = k;
        return true;
    }
    if (k != FL_FP_STR) return false;
    /* a FHIR string holding a date/dateTime/time (type unknown): read it by shape */
    if (want == FL_FP_TIME) {
        if (fp_dt_parse(it->v.s, FL_FP_TIME, out)) {
            if (kind_out) *kind_out = FL_FP_TIME;
            return true;
        }
        return false;
    }
    if (fp_dt_parse(it->v.s, FL_FP_DATE, out)) {
        if (kind_out) *kind_out = FL_FP_DATE;
        return true;
    }
    if (fp_dt_parse(it->v.s, FL_FP_DATETIME, out)) {
        if (kind_out) *kind_out = FL_FP_DATETIME;
        return true;
    }
    return false;
}

static bool is_temporal(uint8_t k) { return k == FL_FP_DATE || k == FL_FP_DATETIME || k == FL_FP_TIME; }
static bool is_num(uint8_t k) { return k == FL_FP_INT || k == FL_FP_DEC; }

static bool qty_pair(const fl_fp_item *a, const fl_fp_item *b, fp_dec *va, fp_dec *vb, bool *same_unit)
{
    /* Compare quantities in canonical units; scratch text goes to a small local arena. */
    fp_dec x, y;
    if (!fp_dec_parse(a->v.q.value, &x) || !fp_dec_parse(b->v.q.value, &y)) return false;
    if (fl_str_eq(a->v.q.unit, b->v.q.unit)) {
        *va = x;
        *vb = y;
        *same_unit = true;
        return true;
    }
    fl_arena tmp;
    fl_arena_init(&tmp, 1024, 1 << 16);
    fl_str ua, ub;
    bool ok = fp_qty_canon(&tmp, x, a->v.q.unit, va, &ua) && fp_qty_canon(&tmp, y, b->v.q.unit, vb, &ub) &&
              fl_str_eq(ua, ub);
    fl_arena_fini(&tmp);
    *same_unit = ok;
    return ok;
}

/* Node items: structural JSON equality (ignores member order). */
static bool node_eq(const fl_fp_item *a, const fl_fp_item *b)
{
    return fl_json_equal(a->v.node, b->v.node);
}

int fp_item_eq(const fl_fp_item *a, const fl_fp_item *b)
{
    if ((a->flags_ & FPF_NOVALUE) || (b->flags_ & FPF_NOVALUE)) {
        /* a primitive without a value compares like an empty value: unknown; the same
         * element (same "_x" node) is still itself, for union()/distinct() */
        if ((a->flags_ & FPF_NOVALUE) && (b->flags_ & FPF_NOVALUE) && a->v.node == b->v.node) return 1;
        return -1;
    }
    if (is_num(a->kind) && is_num(b->kind)) {
        if (a->kind == FL_FP_INT && b->kind == FL_FP_INT) return a->v.i == b->v.i;
        fp_dec x, y;
        if (!fp_item_dec(a, &x) || !fp_item_dec(b, &y)) return 0;
        return fp_dec_cmp(x, y) == 0;
    }
    if (a->kind == FL_FP_QTY && b->kind == FL_FP_QTY) {
        fp_dec x, y;
        bool same;
        if (!qty_pair(a, b, &x, &y, &same)) return -1;
        return fp_dec_cmp(x, y) == 0;
    }
    if (is_temporal(a->kind) || is_temporal(b->kind)) {
        fp_dt x, y;
        fl_fp_kind kx, ky;
        fl_fp_kind want = is_temporal(a->kind) ? (fl_fp_kind)a->kind : (fl_fp_kind)b->kind;
        if (!fp_item_temporal(a, want, &x, &kx) || !fp_item_temporal(b, want, &y, &ky)) return 0;
        if (x.is_time != y.is_time) return 0;
        int r = fp_dt_cmp(&x, &y);
        if (r == 2) return -1;
        return r == 0;
    }
    if (a->kind == FL_FP_STR && b->kind == FL_FP_STR) return fl_str_eq(a->v.s, b->v.s);
    if (a->kind == FL_FP_BOOL && b->kind == FL_FP_BOOL) return a->v.b == b->v.b;
    if (a->kind == FL_FP_NODE && b->kind == FL_FP_NODE) return node_eq(a, b);
    /* a FHIR Quantity node vs a quantity literal */
    if ((a->kind == FL_FP_NODE && b->kind == FL_FP_QTY) || (a->kind == FL_FP_QTY && b->kind == FL_FP_NODE)) {
        const fl_fp_item *nd = a->kind == FL_FP_NODE ? a : b;
        const fl_fp_item *q = a->kind == FL_FP_QTY ? a : b;
        const fl_json_val *val = fl_json_get_c(nd->v.node, "value");
        const fl_json_val *code = fl_json_get_c(nd->v.node, "code");
        if (!code) code = fl_json_get_c(nd->v.node, "unit");
        if (!val || val->type != FL_JSON_NUMBER) return 0;
        fl_fp_item qq;
        memset(&qq, 0, sizeof qq);
        qq.kind = FL_FP_QTY;
        qq.v.q.value = fl_json_str(val);
        qq.v.q.unit = code ? fl_json_str(code) : FL_STR_NULL;
        return fp_item_eq(&qq, q);
    }
    return 0;
}

/* Normalise whitespace for string equivalence: trim, collapse runs to one space. */
static bool str_equiv(fl_str a, fl_str b)
{
    size_t i = 0, j = 0;
    while (i < a.len && (unsigned char)a.ptr[i] <= ' ') i++;
    while (j < b.len && (unsigned char)b.ptr[j] <= ' ') j++;
    for (;;) {
        bool wa = false, wb = false;
        while (i < a.len && (unsigned char)a.ptr[i] <= ' ') {
            i++;
            wa = true;
        }
        while (j < b.len && (unsigned char)b.ptr[j] <= ' ') {
            j++;
            wb = true;
        }
        if (i >= a.len || j >= b.len) return i >= a.len && j >= b.len;
        if (wa != wb) return false;
        char x = a.ptr[i++], y = b.ptr[j++];
        if (x >= 'A' && x <= 'Z') x = (char)(x + 32);
        if (y >= 'A' && y <= 'Z') y = (char)(y + 32);
        if (x != y) return false;
    }
}

/* Structural equivalence of two JSON trees; depth-bounded (deeper trees compare as
 * not equivalent) so a hostile DOM cannot exhaust the stack. */
static bool json_equiv(const fl_json_val *a, const fl_json_val *b, unsigned depth)
{
    if (depth > FP_JSON_EQUIV_MAX_DEPTH) return false;
    if (a->type == FL_JSON_STRING && b->type == FL_JSON_STRING) return str_equiv(fl_json_str(a), fl_json_str(b));
    if (a->type == FL_JSON_OBJECT && b->type == FL_JSON_OBJECT) {
        /* ignore id/extension differences is not required; compare members except "id" */
        uint32_t na = 0, nb = 0;
        for (uint32_t i = 0; i < a->len; i++) {
            if (fl_str_eq_c(a->u.members[i].key, "id")) continue;
            na++;
            const fl_json_val *o = fl_json_get(b, a->u.members[i].key);
            if (!o || !json_equiv(&a->u.members[i].val, o, depth + 1)) return false;
        }
        for (uint32_t i = 0; i < b->len; i++)
            if (!fl_str_eq_c(b->u.members[i].key, "id")) nb++;
        return na == nb;
    }
    if (a->type == FL_JSON_ARRAY && b->type == FL_JSON_ARRAY) {
        if (a->len != b->len) return false;
        for (uint32_t i = 0; i < a->len; i++)
            if (!json_equiv(&a->u.items[i], &b->u.items[i], depth + 1)) return false;
        return true;
    }
    return fl_json_equal(a, b);
}

bool fp_item_equiv(const fl_fp_item *a, const fl_fp_item *b)
{
    if (is_num(a->kind) && is_num(b->kind)) {
        fp_dec x, y;
        if (!fp_item_dec(a, &x) || !fp_item_dec(b, &y)) return false;
        /* compare at the precision of the less precise operand */
        int32_t sc = x.scale < y.scale ? x.scale : y.scale;
        fp_dec rx, ry;
        if (!fp_dec_rescale(x, sc, 0, &rx) || !fp_dec_rescale(y, sc, 0, &ry)) return false;
        return fp_dec_cmp(rx, ry) == 0;
    }
    if (a->kind == FL_FP_STR && b->kind == FL_FP_STR) return str_equiv(a->v.s, b->v.s);
    if (is_temporal(a->kind) || is_temporal(b->kind)) {
        fp_dt x, y;
        fl_fp_kind want = is_temporal(a->kind) ? (fl_fp_kind)a->kind : (fl_fp_kind)b->kind;
        if (!fp_item_temporal(a, want, &x, NULL) || !fp_item_temporal(b, want, &y, NULL)) return false;
        return fp_dt_cmp(&x, &y) == 0;
    }
    if (a->kind == FL_FP_NODE && b->kind == FL_FP_NODE) return json_equiv(a->v.node, b->v.node, 0);
    if (a->kind == FL_FP_QTY && b->kind == FL_FP_QTY) {
        fp_dec x, y;
        bool same;
        if (!qty_pair(a, b, &x, &y, &same)) return false;
        int32_t sc = x.scale < y.scale ? x.scale : y.scale;
        fp_dec rx, ry;
        if (!fp_dec_rescale(x, sc, 0, &rx) || !fp_dec_rescale(y, sc, 0, &ry)) return false;
        return fp_dec_cmp(rx, ry) == 0;
    }
    return fp_item_eq(a, b) == 1;
}

int fp_item_cmp(const fl_fp_item *a, const fl_fp_item *b, int *cmp)
{
    if (is_num(a->kind) && is_num(b->kind)) {
        if (a->kind == FL_FP_INT && b->kind == FL_FP_INT) {
            *cmp = a->v.i < b->v.i ? -1 : a->v.i > b->v.i;
            return 1;
        }
        fp_dec x, y;
        if (!fp_item_dec(a, &x) || !fp_item_dec(b, &y)) return -1;
        *cmp = fp_dec_cmp(x, y);
        return 1;
    }
    if (a->kind == FL_FP_STR && b->kind == FL_FP_STR) {
        int r = fl_str_cmp(a->v.s, b->v.s);
        *cmp = r < 0 ? -1 : r > 0;
        return 1;
    }
    if (is_temporal(a->kind) || is_temporal(b->kind)) {
        fp_dt x, y;
        fl_fp_kind want = is_temporal(a->kind) ? (fl_fp_kind)a->kind : (fl_fp_kind)b->kind;
        if (!fp_item_temporal(a, want, &x, NULL) || !fp_item_temporal(b, want, &y, NULL)) return -1;
        if (x.is_time != y.is_time) return -1;
        int r = fp_dt_cmp(&x, &y);
        if (r == 2) return 0;
        *cmp = r;
        return 1;
    }
    if (a->kind == FL_FP_QTY && b->kind == FL_FP_QTY) {
        fp_dec x, y;
        bool same;
        if (!qty_pair(a, b, &x, &y, &same)) return -1;
        *cmp = fp_dec_cmp(x, y);
        return 1;
    }
    if ((a->kind == FL_FP_NODE && b->kind == FL_FP_QTY) || (a->kind == FL_FP_QTY && b->kind == FL_FP_NODE)) {
        const fl_fp_item *nd = a->kind == FL_FP_NODE ? a : b;
        const fl_json_val *val = fl_json_get_c(nd->v.node, "value");
        const fl_json_val *code = fl_json_get_c(nd->v.node, "code");
        if (!code) code = fl_json_get_c(nd->v.node, "unit");
        if (!val || val->type != FL_JSON_NUMBER) return -1;
        fl_fp_item qq;
        memset(&qq, 0, sizeof qq);
        qq.kind = FL_FP_QTY;
        qq.v.q.value = fl_json_str(val);
        qq.v.q.unit = code ? fl_json_str(code) : FL_STR_NULL;
        return a->kind == FL_FP_NODE ? fp_item_cmp(&qq, b, cmp) : fp_item_cmp(a, &qq, cmp);
    }
    return -1;
}

bool fp_item_string(fl_arena *a, const fl_fp_item *it, fl_str *out)
{
    if (it->flags_ & FPF_NOVALUE) return false;
    switch (it->kind) {
    case FL_FP_BOOL: *out = it->v.b ? FL_STR("true") : FL_STR("false"); return true;
    case FL_FP_INT: {
        char *s = fl_arena_printf(a, "%lld", (long long)it->v.i);
        if (!s) return false;
        *out = fl_str_c(s);
        return true;
    }
    case FL_FP_DEC:
    case FL_FP_STR:
    case FL_FP_DATE:
    case FL_FP_DATETIME:
    case FL_FP_TIME: *out = it->v.s; return true;
    case FL_FP_QTY: {
        char *s;
        if (it->flags_ & FPF_CALUNIT)
            s = fl_arena_printf(a, FL_STR_FMT " " FL_STR_FMT, FL_STR_ARG(it->v.q.value), FL_STR_ARG(it->v.q.unit));
        else
            s = fl_arena_printf(a, FL_STR_FMT " '" FL_STR_FMT "'", FL_STR_ARG(it->v.q.value), FL_STR_ARG(it->v.q.unit));
        if (!s) return false;
        *out = fl_str_c(s);
        return true;
    }
    default: return false;
    }
}
