/* base_util.c - logging, UTF-8 and number helpers (module base). */
#include "fhirlake/base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

void fl_log(const fl_logger *lg, int level, const char *fmt, ...)
{
    if (!lg || !lg->fn || level > lg->level) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lg->fn(lg->ctx, level, msg);
}

bool fl_utf8_valid(const char *str, size_t n, size_t *bad_off)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        /* ASCII fast path, 8 bytes at a time */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
        } else {
            goto bad;
        }
        if (n - i <= need) goto bad;
        for (size_t k = 1; k <= need; k++) {
            unsigned cc = s[i + k];
            if ((cc & 0xC0) != 0x80) goto bad;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            goto bad;
        i += need + 1;
    }
    return true;
bad:
    if (bad_off) *bad_off = i;
    return false;
}

size_t fl_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

bool fl_parse_i64(fl_str s, int64_t *out)
{
    if (!s.len || s.len > 21) return false;
    size_t i = 0;
    bool neg = false;
    if (s.ptr[0] == '-' || s.ptr[0] == '+') {
        neg = s.ptr[0] == '-';
        i = 1;
        if (s.len == 1) return false;
    }
    uint64_t v = 0;
    for (; i < s.len; i++) {
        unsigned d = (unsigned)(unsigned char)s.ptr[i] - '0';
        if (d > 9) return false;
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)v;
    }
    return true;
}

bool fl_parse_f64(fl_str s, double *out)
{
    char tmp[128];
    if (!s.len || s.len >= sizeof tmp) return false;
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = 0;
    char *end = NULL;
    errno = 0;
    double v = strtod(tmp, &end);
    if (end != tmp + s.len) return false;
    *out = v;
    return true;
}

int64_t fl_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool fixed_digits(const char *p, int n, int64_t *out)
{
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

/* The "YYYY-MM-DD" that starts s (s.len >= 10). */
static bool date_prefix_days(fl_str s, int64_t *days)
{
    int64_t y, m, d;
    if (s.len < 10 || !fixed_digits(s.ptr, 4, &y) || s.ptr[4] != '-' || !fixed_digits(s.ptr + 5, 2, &m) ||
        s.ptr[7] != '-' || !fixed_digits(s.ptr + 8, 2, &d) || m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    *days = fl_days_from_civil(y, m, d);
    return true;
}

bool fl_parse_date_days(fl_str s, int64_t *days)
{
    return s.len == 10 && date_prefix_days(s, days);
}

bool fl_parse_timestamp_us(fl_str s, bool date_only_ok, int64_t *us)
{
    int64_t days, hh = 0, mi = 0, ss = 0, frac = 0, off = 0;
    if (!date_prefix_days(s, &days)) return false;
    if (s.len == 10) {
        if (!date_only_ok) return false;
    } else {
        if (s.len < 19 || (s.ptr[10] != 'T' && s.ptr[10] != ' ') || !fixed_digits(s.ptr + 11, 2, &hh) ||
            s.ptr[13] != ':' || !fixed_digits(s.ptr + 14, 2, &mi) || s.ptr[16] != ':' ||
            !fixed_digits(s.ptr + 17, 2, &ss))
            return false;
        size_t i = 19;
        int nf = 0;
        if (i < s.len && s.ptr[i] == '.') {
            for (i++; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9'; i++)
                if (nf < 6) frac = frac * 10 + (s.ptr[i] - '0'), nf++;
            while (nf < 6) frac *= 10, nf++;
        }
        if (i < s.len && (s.ptr[i] == 'Z' || s.ptr[i] == 'z')) {
            i++;
        } else if (i < s.len && (s.ptr[i] == '+' || s.ptr[i] == '-')) {
            int64_t oh, om;
            if (i + 6 > s.len || !fixed_digits(s.ptr + i + 1, 2, &oh) || s.ptr[i + 3] != ':' ||
                !fixed_digits(s.ptr + i + 4, 2, &om))
                return false;
            off = (oh * 60 + om) * 60 * (s.ptr[i] == '-' ? -1 : 1);
            i += 6;
        }
        if (i != s.len) return false;
    }
    *us = (days * 86400 + hh * 3600 + mi * 60 + ss - off) * 1000000 + frac;
    return true;
}

void fl_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}
