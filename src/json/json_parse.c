/* json_parse.c - RFC 8259 JSON parser into an arena DOM (module json).
 * One pass, no recursion: an explicit frame stack tracks open containers and a scratch
 * stack of slots collects each container's children, which are copied once into the
 * arena as a contiguous array when the container closes. Strings without escapes point
 * into the input (zero copy); escaped strings are decoded into the arena. UTF-8 is
 * validated while scanning string bodies (ASCII fast path, SSE2/SWAR).
 * Invariant: on failure nothing is returned but the arena may hold garbage until reset.
 * Uses base only. */
#include "json/json_int.h"

#include <stdio.h>

/* Children of open containers: 512 slots live on the C stack, more go to the heap. */
#define JP_LOCAL_SLOTS 512
#define JP_LOCAL_FRAMES 64
/* Objects up to this many members are checked for duplicate keys pairwise. */
#define JP_DUP_LINEAR_MAX 24

/* A child of an open container: exactly an object member, so closing an object is one
 * memcpy (arrays copy the .val parts). Key offsets live in the parallel j->koff array. */
typedef fl_json_member jp_slot;

typedef struct jp_frame {
    size_t base;   /* first child slot; the container's own slot is base - 1 */
    uint64_t seen; /* the enclosing object's key signatures, kept while this one is open */
    uint8_t type;  /* FL_JSON_ARRAY or FL_JSON_OBJECT */
    bool dup;      /* the enclosing object's "two keys share a signature" flag */
} jp_frame;

typedef struct jp {
    const char *buf, *end;
    fl_arena *a;
    fl_err *err;
    uint32_t flags, max_depth;
    jp_slot *slots;
    size_t *koff; /* koff[i]: byte offset of slot i's key quote (object members only) */
    size_t nslots, cap_slots;
    jp_frame *frames;
    uint32_t depth, cap_frames;
    bool slots_heap, frames_heap;
    bool str_checks; /* strings need the 4 GiB check or a copy (see jp_string) */
} jp;

/* ------------------------------------------------------------------ errors */

void json_locate(const char *buf, size_t pos, uint32_t *line, uint32_t *col)
{
    uint64_t ln = 1;
    size_t ls = 0;
    const char *p = buf, *e = buf + pos;
    while (p < e) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        if (!nl) break;
        ln++;
        p = nl + 1;
    }
    ls = (size_t)(p - buf);
    uint64_t c = 1;
    for (size_t i = ls; i < pos; i++)
        if (((unsigned char)buf[i] & 0xC0) != 0x80) c++;
    *line = ln > UINT32_MAX ? UINT32_MAX : (uint32_t)ln;
    *col = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
}

/* "$.name[0].given" for the innermost open container (bounded; keys shortened). */
static void jp_path(const jp *j, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    if (!j->depth) return;
    n += (size_t)snprintf(out, cap, "$");
    for (uint32_t k = 1; k < j->depth && n < cap; k++) {
        const jp_frame *parent = &j->frames[k - 1];
        size_t self = j->frames[k].base - 1;
        if (parent->type == FL_JSON_ARRAY) {
            n += (size_t)snprintf(out + n, cap - n, "[%zu]", self - parent->base);
        } else {
            fl_str key = j->slots[self].key;
            int kl = key.len > 40 ? 40 : (int)key.len;
            n += (size_t)snprintf(out + n, cap - n, ".%.*s%s", kl, key.ptr ? key.ptr : "",
                                  key.len > 40 ? "..." : "");
        }
    }
}

static fl_rc jp_fail(const jp *j, fl_rc code, const char *at, const char *fmt, ...) FL_PRINTF(4, 5);

static fl_rc jp_fail(const jp *j, fl_rc code, const char *at, const char *fmt, ...)
{
    if (!j->err) return code;
    char msg[300], path[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    jp_path(j, path, sizeof path);
    size_t pos = (size_t)(at - j->buf);
    uint32_t line, col;
    json_locate(j->buf, pos, &line, &col);
    if (path[0] && path[1]) /* not for the root container ("$") */
        return fl_err_set_at(j->err, code, pos, line, col, "%s (in %s)", msg, path);
    return fl_err_set_at(j->err, code, pos, line, col, "%s", msg);
}

/* Describe the byte at p for a message: "'x'", "byte 0xC3" or "end of input". */
static const char *jp_what(const jp *j, const char *p, char tmp[16])
{
    if (p >= j->end) return "end of input";
    unsigned char c = (unsigned char)*p;
    if (c >= 0x21 && c < 0x7f)
        snprintf(tmp, 16, "'%c'", c);
    else
        snprintf(tmp, 16, "byte 0x%02X", c);
    return tmp;
}

/* ------------------------------------------------------------------ stacks */

static fl_rc jp_grow_slots(jp *j)
{
    size_t cap = j->cap_slots * 2;
    jp_slot *s = fl_malloc(cap * sizeof *s);
    size_t *k = fl_malloc(cap * sizeof *k);
    if (!s || !k) {
        fl_free(s);
        fl_free(k);
        return FL_E_NOMEM;
    }
    memcpy(s, j->slots, j->nslots * sizeof *s);
    memcpy(k, j->koff, j->nslots * sizeof *k);
    if (j->slots_heap) {
        fl_free(j->slots);
        fl_free(j->koff);
    }
    j->slots = s;
    j->koff = k;
    j->cap_slots = cap;
    j->slots_heap = true;
    return FL_OK;
}

/* Depth check and frame-stack growth, off the hot path. */
static fl_rc jp_grow_frames(jp *j, const char *at)
{
    if (j->depth >= j->max_depth)
        return jp_fail(j, FL_E_JSON_DEPTH, at, "nesting deeper than %u levels", j->max_depth);
    if (j->cap_frames > UINT32_MAX / 2) return jp_fail(j, FL_E_LIMIT, at, "nesting too deep");
    uint32_t cap = j->cap_frames * 2;
    jp_frame *f = fl_malloc((size_t)cap * sizeof *f);
    if (!f) return jp_fail(j, FL_E_NOMEM, at, "out of memory");
    memcpy(f, j->frames, j->depth * sizeof *f);
    if (j->frames_heap) fl_free(j->frames);
    j->frames = f;
    j->cap_frames = cap;
    j->frames_heap = true;
    return FL_OK;
}

/* ------------------------------------------------------------------ strings */

static inline int jp_hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = (v << 4) | d;
    }
    return v;
}

/* Decode the escaped string body [s, qend) into dst; returns bytes written or fails. */
static fl_rc jp_decode(const jp *j, const char *s, const char *qend, char *dst, size_t *outlen)
{
    char *d = dst;
    while (s < qend) {
        const char *run = json_scan_plain(s, qend);
        if (run > s) {
            memcpy(d, s, (size_t)(run - s));
            d += run - s;
            s = run;
            if (s >= qend) break;
        }
        unsigned char c = (unsigned char)*s;
        if (c == '\\') {
            char tmp[16];
            if (s + 1 >= qend) return jp_fail(j, FL_E_JSON_SYNTAX, s, "unterminated escape");
            char e = s[1];
            switch (e) {
            case '"': *d++ = '"'; break;
            case '\\': *d++ = '\\'; break;
            case '/': *d++ = '/'; break;
            case 'b': *d++ = '\b'; break;
            case 'f': *d++ = '\f'; break;
            case 'n': *d++ = '\n'; break;
            case 'r': *d++ = '\r'; break;
            case 't': *d++ = '\t'; break;
            case 'u': {
                int cp = qend - s >= 6 ? jp_hex4(s + 2) : -1;
                if (cp < 0)
                    return jp_fail(j, FL_E_JSON_SYNTAX, s, "invalid \\u escape: expected 4 hex digits");
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return jp_fail(j, FL_E_JSON_SYNTAX, s,
                                   "lone low surrogate \\u%04X (expected a high surrogate before it)",
                                   (unsigned)cp);
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    int lo = (qend - s >= 12 && s[6] == '\\' && s[7] == 'u') ? jp_hex4(s + 8) : -1;
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return jp_fail(j, FL_E_JSON_SYNTAX, s,
                                       "lone high surrogate \\u%04X (expected \\uDC00-\\uDFFF after it)",
                                       (unsigned)cp);
                    uint32_t full = 0x10000u + (((uint32_t)cp - 0xD800u) << 10) + ((uint32_t)lo - 0xDC00u);
                    d += fl_utf8_encode(full, d);
                    s += 6;
                } else {
                    d += fl_utf8_encode((uint32_t)cp, d);
                }
                s += 4;
                break;
            }
            default:
                return jp_fail(j, FL_E_JSON_SYNTAX, s, "invalid escape '\\' followed by %s",
                               jp_what(j, s + 1, tmp));
            }
            s += 2;
        } else if (c >= 0x80) {
            size_t n = json_utf8_seq((const unsigned char *)s, (const unsigned char *)qend);
            if (!n) return jp_fail(j, FL_E_UTF8, s, "invalid UTF-8 byte 0x%02X in string", c);
            memcpy(d, s, n);
            d += n;
            s += n;
        } else {
            return jp_fail(j, FL_E_JSON_SYNTAX, s,
                           "control character U+%04X in string must be escaped", c);
        }
    }
    *outlen = (size_t)(d - dst);
    return FL_OK;
}

/* Slow path: the string starting after the quote at `start` has an escape at `q`.
 * Find the closing quote, then decode everything into the arena. */
static fl_rc jp_string_escaped(jp *j, const char *start, const char *q, const char **pp, fl_str *out)
{
    const char *p = q;
    for (;;) {
        /* only '"' and '\\' matter for finding the end */
        while (p < j->end && *p != '"' && *p != '\\') {
            const char *r = json_scan_plain(p, j->end);
            if (r == p) {
                p++;
            } else {
                p = r;
            }
        }
        if (p >= j->end) return jp_fail(j, FL_E_JSON_SYNTAX, start - 1, "unterminated string");
        if (*p == '"') break;
        if (j->end - p < 2) return jp_fail(j, FL_E_JSON_SYNTAX, start - 1, "unterminated string");
        p += 2; /* skip the escaped byte */
    }
    size_t raw = (size_t)(p - start);
    char *dst = fl_arena_alloc_aligned(j->a, raw ? raw : 1, 1);
    if (!dst) return jp_fail(j, FL_E_NOMEM, start, "out of memory");
    size_t pre = (size_t)(q - start);
    memcpy(dst, start, pre);
    size_t n = 0;
    fl_rc rc = jp_decode(j, q, p, dst + pre, &n);
    if (rc) return rc;
    n += pre;
    if (n > JSON_MAX_LEN) return jp_fail(j, FL_E_LIMIT, start - 1, "string longer than 4 GiB");
    out->ptr = dst;
    out->len = n;
    *pp = p + 1;
    return FL_OK;
}

/* *pp points just after the opening quote. On success *pp is after the closing quote.
 * Forced inline: clang otherwise keeps a call per string (about 19% more instructions). */
static inline __attribute__((always_inline)) fl_rc jp_string(jp *j, const char **pp, fl_str *out)
{
    const char *start = *pp, *p = start, *end = j->end;
    for (;;) {
        p = json_scan_plain(p, end);
        if (FL_UNLIKELY(p >= end)) return jp_fail(j, FL_E_JSON_SYNTAX, start - 1, "unterminated string");
        unsigned char c = (unsigned char)*p;
        if (FL_LIKELY(c == '"')) break;
        if (c == '\\') return jp_string_escaped(j, start, p, pp, out);
        if (c >= 0x80) {
            size_t n = json_utf8_seq((const unsigned char *)p, (const unsigned char *)end);
            if (FL_UNLIKELY(!n)) return jp_fail(j, FL_E_UTF8, p, "invalid UTF-8 byte 0x%02X in string", c);
            p += n;
            continue;
        }
        return jp_fail(j, FL_E_JSON_SYNTAX, p, "control character U+%04X in string must be escaped", c);
    }
    size_t n = (size_t)(p - start);
    out->ptr = start;
    if (FL_UNLIKELY(j->str_checks)) { /* input over 4 GiB or FL_JSON_COPY_STRINGS: one test here */
        if (n > JSON_MAX_LEN) return jp_fail(j, FL_E_LIMIT, start - 1, "string longer than 4 GiB");
        if (j->flags & FL_JSON_COPY_STRINGS) {
            char *dst = fl_arena_alloc_aligned(j->a, n ? n : 1, 1);
            if (!dst) return jp_fail(j, FL_E_NOMEM, start, "out of memory");
            memcpy(dst, start, n);
            out->ptr = dst;
        }
    }
    out->len = n;
    *pp = p + 1;
    return FL_OK;
}

/* ------------------------------------------------------------------ scalars */

static inline bool jp_digit(const char *p, const char *end)
{
    return p < end && (unsigned)(*p - '0') <= 9u;
}

/* *pp points at '-' or a digit. */
static inline fl_rc jp_number(jp *j, const char **pp, fl_json_val *v)
{
    const char *start = *pp, *p = start, *end = j->end;
    uint8_t flags = FL_JSON_F_INT;
    if (*p == '-') {
        p++;
        if (!jp_digit(p, end)) {
            char tmp[16];
            return jp_fail(j, FL_E_JSON_SYNTAX, p, "invalid number: expected a digit after '-', found %s",
                           jp_what(j, p, tmp));
        }
    }
    if (*p == '0') {
        p++;
        if (jp_digit(p, end))
            return jp_fail(j, FL_E_JSON_SYNTAX, start, "invalid number: leading zeros are not allowed");
    } else {
        while (jp_digit(p, end)) p++;
    }
    if (p < end && *p == '.') {
        p++;
        if (!jp_digit(p, end)) {
            char tmp[16];
            return jp_fail(j, FL_E_JSON_SYNTAX, p, "invalid number: expected a digit after '.', found %s",
                           jp_what(j, p, tmp));
        }
        while (jp_digit(p, end)) p++;
        flags = 0;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (!jp_digit(p, end)) {
            char tmp[16];
            return jp_fail(j, FL_E_JSON_SYNTAX, p, "invalid number: expected a digit in the exponent, found %s",
                           jp_what(j, p, tmp));
        }
        while (jp_digit(p, end)) p++;
        flags = 0;
    }
    size_t n = (size_t)(p - start);
    if (FL_UNLIKELY(n > JSON_MAX_LEN)) return jp_fail(j, FL_E_LIMIT, start, "number longer than 4 GiB");
    v->type = FL_JSON_NUMBER;
    v->flags = flags;
    v->len = (uint32_t)n;
    if (j->flags & FL_JSON_COPY_STRINGS) {
        char *dst = fl_arena_alloc_aligned(j->a, n, 1);
        if (!dst) return jp_fail(j, FL_E_NOMEM, start, "out of memory");
        memcpy(dst, start, n);
        v->u.str = dst;
    } else {
        v->u.str = start;
    }
    *pp = p;
    return FL_OK;
}

static inline fl_rc jp_literal(jp *j, const char **pp, fl_json_val *v)
{
    const char *p = *pp;
    size_t avail = (size_t)(j->end - p);
    const char *word;
    size_t n;
    uint8_t type;
    switch (*p) {
    case 't': word = "true", n = 4, type = FL_JSON_TRUE; break;
    case 'f': word = "false", n = 5, type = FL_JSON_FALSE; break;
    default: word = "null", n = 4, type = FL_JSON_NULL; break;
    }
    /* p[0] is the word's first letter (the caller dispatched on it): compare the last four
     * bytes as one word instead of calling memcmp */
    uint32_t got = 0, want = 0;
    if (avail >= n) {
        memcpy(&got, p + n - 4, 4);
        memcpy(&want, word + n - 4, 4);
    }
    if (avail < n || got != want) {
        size_t k = 0;
        while (k < n && k < avail && p[k] == word[k]) k++;
        char tmp[16];
        return jp_fail(j, FL_E_JSON_SYNTAX, p + k, "invalid literal: expected '%s', found %s", word,
                       jp_what(j, p + k, tmp));
    }
    v->type = type;
    v->flags = 0;
    v->len = 0;
    v->u.str = NULL;
    *pp = p + n;
    return FL_OK;
}

/* ------------------------------------------------------------------ containers */

static inline bool jp_key_eq(const fl_str *a, const fl_str *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0);
}

/* Signature bit of an object key (from its length, first and last byte): equal keys have
 * equal bits, so keys with pairwise different bits are pairwise different. */
static inline uint64_t jp_key_bit(fl_str k)
{
    unsigned h = k.len ? (unsigned)(k.len * 7u + (unsigned char)k.ptr[0] * 3u + (unsigned char)k.ptr[k.len - 1]) & 63u
                       : 0u;
    return 1ull << h;
}

static uint64_t jp_hash(fl_str s)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < s.len; i++) h = (h ^ (unsigned char)s.ptr[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static fl_rc jp_dup_error(const jp *j, const jp_slot *m, const size_t *ko, size_t first, size_t dup)
{
    fl_str k = m[dup].key;
    int kl = k.len > 60 ? 60 : (int)k.len;
    uint32_t line, col;
    json_locate(j->buf, ko[first], &line, &col);
    return jp_fail(j, FL_E_JSON_DUPKEY, j->buf + ko[dup],
                   "duplicate object key \"%.*s%s\" (first at line %u, column %u)", kl,
                   k.ptr ? k.ptr : "", k.len > 60 ? "..." : "", line, col);
}

/* firsts[i] = index of the first member whose key equals m[i].key (i if none earlier). */
static fl_rc jp_first_index(const jp *j, const jp_slot *m, const size_t *ko, size_t n, size_t *firsts)
{
    if (n <= JP_DUP_LINEAR_MAX) {
        for (size_t i = 0; i < n; i++) {
            firsts[i] = i;
            for (size_t k = 0; k < i; k++) {
                if (jp_key_eq(&m[k].key, &m[i].key)) {
                    firsts[i] = k;
                    break;
                }
            }
        }
        return FL_OK;
    }
    size_t cap = 64;
    while (cap < n * 2) cap *= 2;
    uint32_t *tab = fl_malloc(cap * sizeof *tab);
    if (!tab) return jp_fail(j, FL_E_NOMEM, j->buf + ko[0], "out of memory");
    memset(tab, 0xff, cap * sizeof *tab);
    size_t mask = cap - 1;
    for (size_t i = 0; i < n; i++) {
        size_t h = (size_t)jp_hash(m[i].key) & mask;
        firsts[i] = i;
        for (;;) {
            uint32_t k = tab[h];
            if (k == UINT32_MAX) {
                tab[h] = (uint32_t)i;
                break;
            }
            if (jp_key_eq(&m[k].key, &m[i].key)) {
                firsts[i] = k;
                break;
            }
            h = (h + 1) & mask;
        }
    }
    fl_free(tab);
    return FL_OK;
}

/* Reject duplicate keys among the n members at m or, with FL_JSON_ALLOW_DUPKEYS, resolve
 * them: the member keeps its first position and takes the last value. *n_out receives
 * the member count afterwards. */
static fl_rc jp_dupkeys(jp *j, jp_slot *m, const size_t *ko, size_t n, size_t *n_out)
{
    *n_out = n;
    if (n < 2) return FL_OK;
    bool allow = (j->flags & FL_JSON_ALLOW_DUPKEYS) != 0;
    if (!allow && n <= JP_DUP_LINEAR_MAX) { /* the hot path: small FHIR objects */
        /* A 64-bit signature set over (length, first byte, last byte): only a key whose
         * signature was seen before is compared with the earlier keys, so distinct keys
         * (the normal case) cost O(n) instead of O(n^2). */
        uint64_t seen = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t bit = jp_key_bit(m[i].key);
            if (FL_LIKELY(!(seen & bit))) {
                seen |= bit;
                continue;
            }
            for (size_t k = 0; k < i; k++) {
                if (m[k].key.len == m[i].key.len && (m[i].key.len == 0 || m[k].key.ptr[0] == m[i].key.ptr[0]) &&
                    jp_key_eq(&m[k].key, &m[i].key))
                    return jp_dup_error(j, m, ko, k, i);
            }
        }
        return FL_OK;
    }
    size_t local[JP_DUP_LINEAR_MAX];
    size_t *firsts = n <= JP_DUP_LINEAR_MAX ? local : fl_malloc(n * sizeof *firsts);
    if (!firsts) return jp_fail(j, FL_E_NOMEM, j->buf + ko[0], "out of memory");
    fl_rc rc = jp_first_index(j, m, ko, n, firsts);
    if (rc) goto done;
    if (!allow) {
        for (size_t i = 0; i < n; i++) {
            if (firsts[i] != i) {
                rc = jp_dup_error(j, m, ko, firsts[i], i);
                goto done;
            }
        }
        goto done;
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (firsts[i] != i) m[firsts[i]].val = m[i].val; /* source order: the last one wins */
    for (size_t i = 0; i < n; i++)
        if (firsts[i] == i) m[w++] = m[i];
    *n_out = w;
done:
    if (firsts != local) fl_free(firsts);
    return rc;
}

static inline const char *jp_ws(const char *p, const char *end)
{
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c > ' ' || (c != ' ' && c != '\n' && c != '\r' && c != '\t')) return p;
        p++;
    }
    return p;
}

/* ------------------------------------------------------------------ driver */

/* Parse one value starting at p into slot 0; *stop receives the byte after it.
 * The hot state lives in locals: `slot` (the slot the next value fills), `fr` (the
 * innermost open container) and, for the innermost object, the signature set `seen` of
 * its keys so far and `maybe_dup` (two keys share a signature). An object whose keys all
 * have distinct signatures cannot hold a duplicate, so closing it skips the key check.
 * A container's frame keeps its parent's `seen`/`maybe_dup` while it is open. */
static fl_rc jp_run(jp *j, const char *p, const char **stop)
{
    const char *end = j->end;
    fl_rc rc;
    char tmp[16];
    bool after_comma = false, maybe_dup = false;
    uint64_t seen = 0;
    jp_slot *slot;
    jp_frame *fr = NULL;
    unsigned c; /* the byte at p, or 0 at the end of the input (messages check p itself) */
/* Skip blanks and load c: one test when there are none (compact JSON). */
#define JP_PEEK_WS()                                                                                   \
    do {                                                                                               \
        c = FL_LIKELY(p < end) ? (unsigned char)*p : 0u;                                               \
        if (FL_UNLIKELY(c <= ' ' && c != 0)) {                                                         \
            p = jp_ws(p, end);                                                                         \
            c = p < end ? (unsigned char)*p : 0u;                                                      \
        }                                                                                              \
    } while (0)
#define JP_PUSH_SLOT()                                                                                 \
    do {                                                                                               \
        if (FL_UNLIKELY(j->nslots == j->cap_slots) && jp_grow_slots(j))                                \
            return jp_fail(j, FL_E_NOMEM, p, "out of memory");                                         \
        slot = &j->slots[j->nslots++];                                                                 \
    } while (0)
#define JP_PUSH_FRAME(t)                                                                               \
    do {                                                                                               \
        if (FL_UNLIKELY(j->depth >= j->max_depth || j->depth == j->cap_frames) &&                      \
            (rc = jp_grow_frames(j, p)) != FL_OK)                                                      \
            return rc;                                                                                 \
        fr = &j->frames[j->depth++];                                                                   \
        fr->base = j->nslots;                                                                          \
        fr->type = (t);                                                                                \
        fr->seen = seen;                                                                               \
        fr->dup = maybe_dup;                                                                           \
        seen = 0;                                                                                      \
        maybe_dup = false;                                                                             \
    } while (0)

    JP_PUSH_SLOT();

value: /* fill slot->val */
    JP_PEEK_WS();
    if (FL_LIKELY(c == '"')) { /* the commonest value: a test instead of the jump table */
        fl_str s;
        p++;
        if ((rc = jp_string(j, &p, &s)) != FL_OK) return rc;
        slot->val.type = FL_JSON_STRING;
        slot->val.flags = 0;
        slot->val.reserved_ = 0;
        slot->val.len = (uint32_t)s.len;
        slot->val.u.str = s.ptr;
        goto after;
    }
    switch (c) {
    case '{':
        JP_PUSH_FRAME(FL_JSON_OBJECT);
        p++;
        JP_PEEK_WS();
        if (c == '}') {
            p++;
            goto close;
        }
        after_comma = false;
        goto key;
    case '[':
        JP_PUSH_FRAME(FL_JSON_ARRAY);
        p++;
        JP_PEEK_WS();
        if (c == ']') {
            p++;
            goto close;
        }
        JP_PUSH_SLOT();
        goto value;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        if ((rc = jp_number(j, &p, &slot->val)) != FL_OK) return rc;
        goto after;
    case 't': case 'f': case 'n':
        if ((rc = jp_literal(j, &p, &slot->val)) != FL_OK) return rc;
        goto after;
    default:
        if (p >= end) return jp_fail(j, FL_E_JSON_SYNTAX, p, "expected a JSON value, found end of input");
        if (end - p >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
            return jp_fail(j, FL_E_JSON_SYNTAX, p, "expected a JSON value, found a UTF-8 byte order mark (BOM)");
        return jp_fail(j, FL_E_JSON_SYNTAX, p, "expected a JSON value, found %s", jp_what(j, p, tmp));
    }

key: /* p is at the first non-blank byte where a member's key must start, c = its byte */
    if (FL_UNLIKELY(c != '"'))
        return jp_fail(j, FL_E_JSON_SYNTAX, p, after_comma ? "expected a string key after ',', found %s"
                                                           : "expected a string key or '}', found %s",
                       jp_what(j, p, tmp));
    JP_PUSH_SLOT();
    j->koff[j->nslots - 1] = (size_t)(p - j->buf);
    p++;
    if ((rc = jp_string(j, &p, &slot->key)) != FL_OK) return rc;
    {
        uint64_t bit = jp_key_bit(slot->key);
        maybe_dup |= (seen & bit) != 0;
        seen |= bit;
    }
    if (FL_LIKELY(p < end && *p == ':')) {
        p++;
    } else {
        p = jp_ws(p, end);
        if (p >= end || *p != ':')
            return jp_fail(j, FL_E_JSON_SYNTAX, p, "expected ':' after object key, found %s", jp_what(j, p, tmp));
        p++;
    }
    goto value;

after: /* a value is complete */
    if (FL_UNLIKELY(!fr)) {
        *stop = p;
        return FL_OK;
    }
    JP_PEEK_WS();
    if (fr->type == FL_JSON_ARRAY) {
        if (FL_LIKELY(c == ',')) {
            p++;
            JP_PUSH_SLOT();
            goto value;
        }
        if (c == ']') {
            p++;
            goto close;
        }
        return jp_fail(j, FL_E_JSON_SYNTAX, p, "expected ',' or ']' after array element, found %s",
                       jp_what(j, p, tmp));
    }
    if (FL_LIKELY(c == ',')) {
        p++;
        JP_PEEK_WS();
        after_comma = true;
        goto key;
    }
    if (c == '}') {
        p++;
        goto close;
    }
    return jp_fail(j, FL_E_JSON_SYNTAX, p, "expected ',' or '}' after object member, found %s",
                   jp_what(j, p, tmp));

close: /* p is just after the bracket closing fr: copy its children into the arena as one array */
    {
        const char *at = p - 1;
        size_t base = fr->base;
        jp_slot *kids = &j->slots[base];
        size_t n = j->nslots - base;
        if (FL_UNLIKELY(n > JSON_MAX_LEN)) return jp_fail(j, FL_E_LIMIT, at, "container with more than 2^32 entries");
        fl_json_val v;
        if (fr->type == FL_JSON_OBJECT) {
            /* keys with pairwise distinct signatures are distinct: nothing to reject or resolve */
            if (FL_UNLIKELY(maybe_dup) &&
                (rc = jp_dupkeys(j, kids, &j->koff[base], n, &n)) != FL_OK)
                return rc;
            fl_json_member *mem = NULL;
            if (n) {
                mem = fl_arena_alloc(j->a, n * sizeof *mem);
                if (!mem) return jp_fail(j, FL_E_NOMEM, at, "out of memory");
                memcpy(mem, kids, n * sizeof *mem);
            }
            v.type = FL_JSON_OBJECT;
            v.u.members = mem;
        } else {
            fl_json_val *items = NULL;
            if (n) {
                items = fl_arena_alloc(j->a, n * sizeof *items);
                if (!items) return jp_fail(j, FL_E_NOMEM, at, "out of memory");
                for (size_t i = 0; i < n; i++) items[i] = kids[i].val;
            }
            v.type = FL_JSON_ARRAY;
            v.u.items = items;
        }
        v.flags = 0;
        v.reserved_ = 0;
        v.len = (uint32_t)n;
        slot = &j->slots[base - 1];
        slot->val = v;
        seen = fr->seen;
        maybe_dup = fr->dup;
        j->nslots = base;
        j->depth--;
        fr = j->depth ? &j->frames[j->depth - 1] : NULL;
        goto after;
    }
#undef JP_PEEK_WS
#undef JP_PUSH_SLOT
#undef JP_PUSH_FRAME
}

fl_rc fl_json_parse(const char *buf, size_t len, const fl_json_opts *opts, fl_arena *a,
                    fl_json_val **out, size_t *consumed, fl_err *err)
{
    if (consumed) *consumed = 0;
    if (!a || !out || (!buf && len)) return fl_err_set(err, FL_E_ARG, "fl_json_parse: NULL argument");
    *out = NULL;
    if (!buf) buf = "";
    jp_slot local_slots[JP_LOCAL_SLOTS];
    size_t local_koff[JP_LOCAL_SLOTS];
    jp_frame local_frames[JP_LOCAL_FRAMES];
    jp j;
    j.buf = buf;
    j.end = buf + len;
    j.a = a;
    j.err = err;
    j.flags = opts ? opts->flags : 0;
    j.max_depth = opts && opts->max_depth ? opts->max_depth : FL_JSON_DEFAULT_MAX_DEPTH;
    j.slots = local_slots;
    j.koff = local_koff;
    j.nslots = 0;
    j.cap_slots = JP_LOCAL_SLOTS;
    j.frames = local_frames;
    j.depth = 0;
    j.cap_frames = JP_LOCAL_FRAMES;
    j.slots_heap = j.frames_heap = false;
    j.str_checks = len > JSON_MAX_LEN || (j.flags & FL_JSON_COPY_STRINGS);
    fl_rc rc = FL_OK;
    if (opts && opts->max_size && len > opts->max_size) {
        rc = fl_err_set(err, FL_E_LIMIT, "JSON text of %zu bytes is over the limit of %zu bytes", len,
                        opts->max_size);
        goto done;
    }
    const char *stop = buf;
    FL_TRY(jp_run(&j, buf, &stop));
    const char *rest = jp_ws(stop, j.end);
    if (rest < j.end && !(j.flags & FL_JSON_ALLOW_TRAILING)) {
        char tmp[16];
        rc = jp_fail(&j, FL_E_JSON_SYNTAX, rest, "expected end of input after the JSON value, found %s",
                     jp_what(&j, rest, tmp));
        goto done;
    }
    fl_json_val *root = fl_arena_alloc(a, sizeof *root);
    if (!root) {
        rc = fl_err_set(err, FL_E_NOMEM, "out of memory");
        goto done;
    }
    *root = j.slots[0].val;
    *out = root;
    if (consumed) *consumed = (size_t)(rest - buf);
done:
    if (j.slots_heap) {
        fl_free(j.slots);
        fl_free(j.koff);
    }
    if (j.frames_heap) fl_free(j.frames);
    return rc;
}
