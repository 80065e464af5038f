/* fhirdb_time.c - FHIR date/dateTime/instant parsing into UTC microsecond ranges
 * (module fhirdb). A value of precision P denotes the half-open interval it covers:
 * "2024" is [2024-01-01, 2025-01-01), "2024-03-05T10:00" is one minute. Search prefixes
 * (eq/gt/ge/lt/le) and history _since are then plain comparisons on integers. */
#include "fhirdb/fhirdb_int.h"

static bool digits(const char *p, size_t n, size_t at, size_t cnt, int64_t *out)
{
    if (at + cnt > n) return false;
    int64_t v = 0;
    for (size_t i = 0; i < cnt; i++) {
        char ch = p[at + i];
        if (ch < '0' || ch > '9') return false;
        v = v * 10 + (ch - '0');
    }
    *out = v;
    return true;
}

static int days_in_month(int64_t y, int64_t m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

bool fl_fhirdb_parse_time(fl_str s, int64_t *lo_us, int64_t *hi_us)
{
    const char *p = s.ptr;
    size_t n = s.len, i = 0;
    int64_t y, mo = 1, d = 1, hh = 0, mi = 0, ss = 0, frac = 0, span;
    const int64_t DAY = 86400LL * 1000000;
    if (!p || !digits(p, n, 0, 4, &y)) return false;
    i = 4;
    if (i == n) {
        int64_t lo = fl_days_from_civil(y, 1, 1) * DAY;
        *lo_us = lo;
        *hi_us = fl_days_from_civil(y + 1, 1, 1) * DAY;
        return true;
    }
    if (p[i] != '-' || !digits(p, n, i + 1, 2, &mo) || mo < 1 || mo > 12) return false;
    i += 3;
    if (i == n) {
        *lo_us = fl_days_from_civil(y, mo, 1) * DAY;
        *hi_us = (mo == 12 ? fl_days_from_civil(y + 1, 1, 1) : fl_days_from_civil(y, mo + 1, 1)) * DAY;
        return true;
    }
    if (p[i] != '-' || !digits(p, n, i + 1, 2, &d) || d < 1 || d > days_in_month(y, mo)) return false;
    i += 3;
    int64_t base = fl_days_from_civil(y, mo, d) * DAY;
    if (i == n) {
        *lo_us = base;
        *hi_us = base + DAY;
        return true;
    }
    if (p[i] != 'T' || !digits(p, n, i + 1, 2, &hh) || hh > 23) return false;
    i += 3;
    if (i >= n || p[i] != ':' || !digits(p, n, i + 1, 2, &mi) || mi > 59) return false;
    i += 3;
    span = 60LL * 1000000;
    if (i < n && p[i] == ':') {
        if (!digits(p, n, i + 1, 2, &ss) || ss > 60) return false;
        i += 3;
        span = 1000000;
        if (i < n && p[i] == '.') {
            i++;
            size_t nd = 0;
            int64_t scale = 1000000;
            while (i < n && p[i] >= '0' && p[i] <= '9') {
                if (nd < 6) {
                    scale /= 10;
                    frac += (p[i] - '0') * scale;
                }
                nd++;
                i++;
            }
            if (nd == 0) return false;
            span = scale > 0 ? scale : 1;
        }
    }
    int64_t off = 0;
    if (i < n) {
        if (p[i] == 'Z' && i + 1 == n) {
            i++;
        } else if (p[i] == '+' || p[i] == '-' || p[i] == ' ') { /* ' ' = '+' lost in a query */
            int64_t oh, om;
            if (!digits(p, n, i + 1, 2, &oh) || i + 3 >= n || p[i + 3] != ':' ||
                !digits(p, n, i + 4, 2, &om) || oh > 14 || om > 59 || i + 6 != n)
                return false;
            off = (oh * 60 + om) * 60 * 1000000;
            if (p[i] == '-') off = -off;
            i = n;
        } else {
            return false;
        }
    }
    int64_t lo = base + ((hh * 60 + mi) * 60 + ss) * 1000000 + frac - off;
    *lo_us = lo;
    *hi_us = lo + span;
    return true;
}
