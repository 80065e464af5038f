/* json_int.h - helpers shared by the json module's own .c files (module json).
 * Byte-class scanning (SSE2 on x86-64, 8-byte SWAR elsewhere) and single-sequence
 * UTF-8 validation, used by both the parser and the writer so that the two agree on
 * which bytes are "plain" string content. Not part of the public API. */
#ifndef FL_JSON_INT_H
#define FL_JSON_INT_H

#include "fhirlake/json.h"

#if defined(__SSE2__) && !defined(FL_JSON_NO_SIMD)
#include <emmintrin.h>
#endif

/* Longest string or container length representable in fl_json_val.len. */
#define JSON_MAX_LEN ((size_t)UINT32_MAX)

/* First byte in [p, end) that is '"', '\\', a control byte (< 0x20) or non-ASCII
 * (>= 0x80); end if there is none. Everything before it can be copied verbatim. */
static inline const char *json_scan_plain(const char *p, const char *end)
{
#if defined(__SSE2__) && !defined(FL_JSON_NO_SIMD)
    const __m128i q = _mm_set1_epi8('"');
    const __m128i bs = _mm_set1_epi8('\\');
    const __m128i sp = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* signed compare: bytes >= 0x80 are negative, so "< 0x20" also catches them */
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)),
                                 _mm_cmplt_epi8(v, sp));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits) return p + __builtin_ctz(bits);
        p += 16;
    }
#else
    while (end - p >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
        uint64_t xq = x ^ (ones * '"'), xb = x ^ (ones * '\\');
        /* exact per-byte tests (no false positives, so ctz locates the first hit) */
        uint64_t zq = ~(((xq & ~high) + ~high) | xq) & high;
        uint64_t zb = ~(((xb & ~high) + ~high) | xb) & high;
        uint64_t lt = ~((x & ~high) + (ones * (0x80 - 0x20))) & ~x & high; /* < 0x20 */
        uint64_t hit = zq | zb | lt | (x & high);
        if (hit) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
            return p + (__builtin_clzll(hit) >> 3);
#else
            return p + (__builtin_ctzll(hit) >> 3);
#endif
        }
        p += 8;
    }
#endif
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return p;
        p++;
    }
    return end;
}

/* Length (2..4) of the valid UTF-8 sequence starting with the non-ASCII byte at p,
 * or 0 if it is not valid RFC 3629 UTF-8 (overlong, surrogate, > U+10FFFF, truncated). */
static inline size_t json_utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t avail = (size_t)(end - p);
    if (c >= 0xC2 && c <= 0xDF) {
        return (avail >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (avail < 3) return 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F; /* no UTF-16 surrogates */
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (avail < 4) return 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F; /* <= U+10FFFF */
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        return 4;
    }
    return 0;
}

/* 1-based line and column (in characters, i.e. UTF-8 lead bytes) of byte offset pos. */
void json_locate(const char *buf, size_t pos, uint32_t *line, uint32_t *col);

#endif
