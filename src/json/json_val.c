/* json_val.c - reading a parsed DOM: member lookup, number views, equality (module json).
 * Numbers are stored as their source text; the int64/double views are computed on
 * demand here. Doubles use an exact fast path (<= 2^53 mantissa, |exp10| <= 22) and
 * fall back to strtod (C locale decimal point enforced) for the rest. Equality compares
 * numbers by exact decimal value, never through a double. Uses base only. */
#include "json/json_int.h"

#include <locale.h>
#include <math.h>
#include <stdlib.h>

/* Deepest nesting fl_json_equal walks (it recurses); deeper documents compare unequal. */
#define JSON_EQUAL_MAX_DEPTH 1024

const fl_json_val *fl_json_get(const fl_json_val *obj, fl_str key)
{
    if (!obj || obj->type != FL_JSON_OBJECT) return NULL;
    const fl_json_member *m = obj->u.members;
    for (uint32_t i = 0; i < obj->len; i++) {
        if (m[i].key.len == key.len && (key.len == 0 || memcmp(m[i].key.ptr, key.ptr, key.len) == 0))
            return &m[i].val;
    }
    return NULL;
}

bool fl_json_as_i64(const fl_json_val *v, int64_t *out)
{
    if (!v || v->type != FL_JSON_NUMBER || !(v->flags & FL_JSON_F_INT) || !v->len) return false;
    const char *p = v->u.str, *e = p + v->len;
    bool neg = *p == '-';
    if (neg) p++;
    size_t nd = (size_t)(e - p);
    if (nd == 0 || nd > 19) return false;
    uint64_t x = 0;
    for (; p < e; p++) {
        unsigned d = (unsigned)(unsigned char)*p - '0';
        if (d > 9) return false;
        x = x * 10 + d; /* 19 digits fit in uint64 */
    }
    if (neg) {
        if (x > (uint64_t)INT64_MAX + 1) return false;
        *out = x == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)x;
    } else {
        if (x > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)x;
    }
    return true;
}

static const double json_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* strtod on a private NUL-terminated copy with the locale's decimal point. */
static bool json_strtod(const char *s, size_t n, double *out)
{
    char local[128];
    char *tmp = n < sizeof local ? local : fl_malloc(n + 1);
    if (!tmp) return false;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    const struct lconv *lc = localeconv();
    char dp = lc && lc->decimal_point && lc->decimal_point[0] ? lc->decimal_point[0] : '.';
    if (dp != '.') {
        char *dot = memchr(tmp, '.', n);
        if (dot) *dot = dp;
    }
    char *endp = NULL;
    double d = strtod(tmp, &endp);
    bool ok = endp == tmp + n && !isinf(d);
    if (tmp != local) fl_free(tmp);
    if (ok) *out = d;
    return ok;
}

bool fl_json_as_f64(const fl_json_val *v, double *out)
{
    if (!v || v->type != FL_JSON_NUMBER || !v->len) return false;
    const char *p = v->u.str, *e = p + v->len;
    bool neg = *p == '-';
    if (neg) p++;
    uint64_t m = 0;
    int digits = 0, frac = 0;
    for (; p < e && (unsigned)(*p - '0') <= 9u; p++) {
        if (m || *p != '0') digits++;
        m = m * 10 + (unsigned)(*p - '0');
        if (digits > 15) goto slow;
    }
    if (p < e && *p == '.') {
        for (p++; p < e && (unsigned)(*p - '0') <= 9u; p++) {
            if (m || *p != '0') digits++;
            m = m * 10 + (unsigned)(*p - '0');
            frac++;
            if (digits > 15 || frac > 22) goto slow;
        }
    }
    int ex = 0;
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        bool eneg = false;
        if (p < e && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        for (; p < e; p++) {
            if ((unsigned)(*p - '0') > 9u) return false;
            ex = ex * 10 + (*p - '0');
            if (ex > 400) goto slow;
        }
        if (eneg) ex = -ex;
    }
    if (p != e) return false;
    {
        int e10 = ex - frac;
        double d = (double)m; /* m < 10^15 < 2^53: exact */
        if (m == 0) {
            d = 0.0;
        } else if (e10 >= 0 && e10 <= 22) {
            d *= json_pow10[e10];
        } else if (e10 < 0 && e10 >= -22) {
            d /= json_pow10[-e10];
        } else {
            goto slow;
        }
        *out = neg ? -d : d;
        return true;
    }
slow:
    return json_strtod(v->u.str, v->len, out);
}

/* ------------------------------------------------------------------ equality */

/* A JSON number as digits D (int part then fraction, virtually concatenated) and a
 * power of ten: value = D * 10^exp. Normalised: no leading or trailing zeros in D. */
typedef struct jnum {
    const char *ip, *fp; /* integer and fraction digits */
    size_t il, fl;
    size_t lo, hi; /* significant digit range [lo, hi) of the concatenation */
    int64_t exp;
    bool neg;
} jnum;

static inline char jnum_digit(const jnum *n, size_t k) { return k < n->il ? n->ip[k] : n->fp[k - n->il]; }

static void jnum_init(jnum *n, fl_str s)
{
    const char *p = s.ptr, *e = s.ptr + s.len;
    n->neg = p < e && *p == '-';
    if (n->neg) p++;
    n->ip = p;
    while (p < e && (unsigned)(*p - '0') <= 9u) p++;
    n->il = (size_t)(p - n->ip);
    n->fp = p;
    n->fl = 0;
    if (p < e && *p == '.') {
        n->fp = ++p;
        while (p < e && (unsigned)(*p - '0') <= 9u) p++;
        n->fl = (size_t)(p - n->fp);
    }
    int64_t ex = 0;
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        bool eneg = false;
        if (p < e && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        for (; p < e; p++) {
            if (ex < (int64_t)1e15) ex = ex * 10 + (*p - '0'); /* saturate absurd exponents */
        }
        if (eneg) ex = -ex;
    }
    size_t total = n->il + n->fl, lo = 0, hi = total;
    while (lo < hi && jnum_digit(n, lo) == '0') lo++;
    while (hi > lo && jnum_digit(n, hi - 1) == '0') hi--;
    n->lo = lo;
    n->hi = hi;
    n->exp = ex - (int64_t)n->fl + (int64_t)(total - hi);
}

static bool json_num_equal(fl_str a, fl_str b)
{
    if (a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0) return true;
    jnum x, y;
    jnum_init(&x, a);
    jnum_init(&y, b);
    bool xz = x.lo == x.hi, yz = y.lo == y.hi;
    if (xz || yz) return xz && yz; /* -0 == 0 */
    if (x.neg != y.neg || x.exp != y.exp || x.hi - x.lo != y.hi - y.lo) return false;
    for (size_t i = 0; i < x.hi - x.lo; i++)
        if (jnum_digit(&x, x.lo + i) != jnum_digit(&y, y.lo + i)) return false;
    return true;
}

static bool json_equal_at(const fl_json_val *a, const fl_json_val *b, unsigned depth)
{
    if (a->type != b->type) return false;
    switch (a->type) {
    case FL_JSON_NULL:
    case FL_JSON_TRUE:
    case FL_JSON_FALSE: return true;
    case FL_JSON_NUMBER:
        return json_num_equal((fl_str){a->u.str, a->len}, (fl_str){b->u.str, b->len});
    case FL_JSON_STRING:
        return a->len == b->len && (a->len == 0 || memcmp(a->u.str, b->u.str, a->len) == 0);
    case FL_JSON_ARRAY:
        if (a->len != b->len || depth >= JSON_EQUAL_MAX_DEPTH) return false;
        for (uint32_t i = 0; i < a->len; i++)
            if (!json_equal_at(&a->u.items[i], &b->u.items[i], depth + 1)) return false;
        return true;
    case FL_JSON_OBJECT:
        if (a->len != b->len || depth >= JSON_EQUAL_MAX_DEPTH) return false;
        for (uint32_t i = 0; i < a->len; i++) {
            const fl_json_member *m = &a->u.members[i];
            /* try the same position first: equal objects usually share member order */
            const fl_json_val *bv = NULL;
            if (fl_str_eq(b->u.members[i].key, m->key))
                bv = &b->u.members[i].val;
            else
                bv = fl_json_get(b, m->key);
            if (!bv || !json_equal_at(&m->val, bv, depth + 1)) return false;
        }
        return true;
    default: return false;
    }
}

bool fl_json_equal(const fl_json_val *a, const fl_json_val *b)
{
    if (!a || !b) return a == b;
    return json_equal_at(a, b, 0);
}
