/* fhirlake/base.h - public base types: return codes, error detail, string slices,
 * allocator hook, arena, growable buffer, vector, hash map, logging (module base).
 *
 * Everything in libfhirlake reports failure through an fl_rc return code plus an
 * optional caller-owned fl_err. The library never prints, exits or aborts.
 * Thread safety: all functions here are reentrant; an object (arena, buffer, map)
 * must not be used from two threads at once without the caller's own locking. */
#ifndef FHIRLAKE_BASE_H
#define FHIRLAKE_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FL_API __attribute__((visibility("default")))
#define FL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define FL_LIKELY(x) __builtin_expect(!!(x), 1)
#define FL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define FL_API
#define FL_PRINTF(f, a)
#define FL_LIKELY(x) (x)
#define FL_UNLIKELY(x) (x)
#endif

#define FL_VERSION_STRING "0.1.0"

/* ---------------------------------------------------------------- return codes */

typedef enum fl_rc {
#define X(name, msg) name,
#include "fhirlake/errors.def"
#undef X
    FL_RC_COUNT_
} fl_rc;

/* Human text for a code ("json syntax error"); never NULL. */
FL_API const char *fl_rc_str(fl_rc rc);
/* The code's name ("FL_E_JSON_SYNTAX"); never NULL. */
FL_API const char *fl_rc_name(fl_rc rc);

/* ---------------------------------------------------------------- error detail */

#define FL_ERR_MSG_MAX 512
#define FL_ERR_RETRIABLE 0x1u /* flags: the operation may succeed if retried */

/* Caller-owned error detail, passed last and NULL-able everywhere. Filling it never
 * allocates. pos/line/col are 0 when unknown (line and col are 1-based when set). */
typedef struct fl_err {
    fl_rc code;
    uint32_t flags;
    uint64_t pos;
    uint32_t line, col;
    int status; /* remote status (HTTP code) when relevant, else 0 */
    char msg[FL_ERR_MSG_MAX];
} fl_err;

/* Clear err (NULL allowed). */
FL_API void fl_err_clear(fl_err *err);
/* Set code and a formatted message; returns code so callers can `return fl_err_set(...)`.
 * err may be NULL (then only the code is returned). */
FL_API fl_rc fl_err_set(fl_err *err, fl_rc code, const char *fmt, ...) FL_PRINTF(3, 4);
FL_API fl_rc fl_err_setv(fl_err *err, fl_rc code, const char *fmt, va_list ap) FL_PRINTF(3, 0);
/* Like fl_err_set and also records the input position. */
FL_API fl_rc fl_err_set_at(fl_err *err, fl_rc code, uint64_t pos, uint32_t line, uint32_t col,
                           const char *fmt, ...) FL_PRINTF(6, 7);
/* Prepend context to the message ("Patient.ndjson:12: " + msg), truncating if needed. */
FL_API void fl_err_prefix(fl_err *err, const char *fmt, ...) FL_PRINTF(2, 3);
/* True when the failure is transient (S3 503, connection reset, rebasable conflict). */
FL_API bool fl_err_is_retriable(const fl_err *err);

/* Propagation macros (STYLE §3): neither hides a return; both need `fl_rc rc` and `done:`. */
#define FL_TRY(expr)                                                                               \
    do {                                                                                           \
        if ((rc = (expr)) != FL_OK) goto done;                                                     \
    } while (0)
#define FL_FAIL(code, ...)                                                                         \
    do {                                                                                           \
        rc = fl_err_set(err, (code), __VA_ARGS__);                                                 \
        goto done;                                                                                 \
    } while (0)

/* ---------------------------------------------------------------- string slices */

/* A borrowed byte range; not NUL-terminated, may contain NUL. Lifetime is the owner's. */
typedef struct fl_str {
    const char *ptr;
    size_t len;
} fl_str;

#define FL_STR(lit) ((fl_str){(lit), sizeof(lit) - 1})
#define FL_STR_NULL ((fl_str){NULL, 0})
#define FL_STR_FMT "%.*s"
#define FL_STR_ARG(s) (int)((s).len > 0x7fffffff ? 0x7fffffff : (s).len), ((s).ptr ? (s).ptr : "")

static inline fl_str fl_str_make(const char *p, size_t n) { return (fl_str){p, n}; }
static inline fl_str fl_str_c(const char *cstr) { return (fl_str){cstr, cstr ? strlen(cstr) : 0}; }
static inline bool fl_str_eq(fl_str a, fl_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}
static inline bool fl_str_eq_c(fl_str a, const char *cstr) { return fl_str_eq(a, fl_str_c(cstr)); }
static inline bool fl_str_starts_with(fl_str s, fl_str p)
{
    return s.len >= p.len && (p.len == 0 || memcmp(s.ptr, p.ptr, p.len) == 0);
}
static inline bool fl_str_ends_with(fl_str s, fl_str p)
{
    return s.len >= p.len && (p.len == 0 || memcmp(s.ptr + s.len - p.len, p.ptr, p.len) == 0);
}
/* Byte-wise comparison (memcmp order, shorter first on a tie): <0, 0, >0. */
FL_API int fl_str_cmp(fl_str a, fl_str b);
/* 64-bit hash of the bytes (stable within a process run only). */
FL_API uint64_t fl_str_hash(fl_str s);

/* ---------------------------------------------------------------- allocator */

/* One process-wide allocator (like uv_replace_allocator / ZSTD_customMem). Every heap
 * allocation in src/ goes through fl_malloc/fl_realloc/fl_free. realloc_fn and free_fn
 * receive NULL/0 like their libc counterparts. */
typedef struct fl_alloc {
    void *(*malloc_fn)(void *ctx, size_t size);
    void *(*realloc_fn)(void *ctx, void *ptr, size_t size);
    void (*free_fn)(void *ctx, void *ptr);
    void *ctx;
} fl_alloc;

/* Replace the allocator. Call before any other fhirlake call, from one thread; NULL
 * restores libc. If the environment has FL_TEST_FAIL_ALLOC=N (tests only), the default
 * allocator fails the Nth allocation. */
FL_API void fl_set_allocator(const fl_alloc *alc);
FL_API void *fl_malloc(size_t size);
FL_API void *fl_calloc(size_t n, size_t size);
FL_API void *fl_realloc(void *ptr, size_t size);
FL_API void fl_free(void *ptr);
/* NUL-terminated owned copy of s (free with fl_free); NULL on OOM. */
FL_API char *fl_strndup(const char *s, size_t n);

/* ---------------------------------------------------------------- arena */

typedef struct fl_arena_block fl_arena_block;
typedef struct fl_arena_cleanup fl_arena_cleanup;

/* Bump allocator for one unit of work (a batch, a request, an evaluation). Rewind with
 * fl_arena_reset() between items; fl_arena_fini() releases everything.
 * `limit` caps the total bytes the arena may hold (0 = no cap), so input cannot decide
 * how much memory is used. The struct is public only so allocation can be inlined;
 * treat its fields as private. */
typedef struct fl_arena {
    char *cur, *end;
    fl_arena_block *head;
    size_t block_size;
    size_t limit;
    size_t total; /* bytes in all blocks */
    fl_arena_cleanup *cleanups;
} fl_arena;

/* block_size 0 = 64 KiB. Allocates nothing until first use. */
FL_API void fl_arena_init(fl_arena *a, size_t block_size, size_t limit);
/* Run cleanups, keep the first block for reuse, free the rest. */
FL_API void fl_arena_reset(fl_arena *a);
/* Run cleanups and free every block; the arena can be re-initialised. */
FL_API void fl_arena_fini(fl_arena *a);
/* Slow path of fl_arena_alloc; do not call directly. */
FL_API void *fl_arena_alloc_slow(fl_arena *a, size_t size, size_t align);
/* Memory aligned to `align` (a power of two <= 64), valid until reset/fini. NULL when out of
 * memory or over the limit. */
static inline void *fl_arena_alloc_aligned(fl_arena *a, size_t size, size_t align)
{
    uintptr_t p = ((uintptr_t)a->cur + (align - 1)) & ~(uintptr_t)(align - 1);
    if (FL_LIKELY(a->cur && p <= (uintptr_t)a->end && size <= (size_t)((uintptr_t)a->end - p))) {
        a->cur = (char *)(p + size);
        return (void *)p;
    }
    return fl_arena_alloc_slow(a, size, align);
}
static inline void *fl_arena_alloc(fl_arena *a, size_t size) { return fl_arena_alloc_aligned(a, size, 8); }
FL_API void *fl_arena_calloc(fl_arena *a, size_t n, size_t size);
/* NUL-terminated copy of s in the arena; NULL on OOM. */
FL_API char *fl_arena_strndup(fl_arena *a, const char *s, size_t n);
FL_API fl_str fl_arena_str_dup(fl_arena *a, fl_str s); /* ptr NULL on OOM (len 0) */
/* Formatted string in the arena; NULL on OOM. */
FL_API char *fl_arena_printf(fl_arena *a, const char *fmt, ...) FL_PRINTF(2, 3);
/* Register fn(ctx) to run at the next reset/fini (LIFO). Returns FL_E_NOMEM on failure. */
FL_API fl_rc fl_arena_on_reset(fl_arena *a, void (*fn)(void *ctx), void *ctx);
/* Bytes currently held in blocks (for budgets and tests). */
static inline size_t fl_arena_total(const fl_arena *a) { return a->total; }

/* ---------------------------------------------------------------- buffer */

/* Growable byte buffer with a hard limit and a sticky error: after a failure every
 * append is a no-op and `rc` keeps the first error. ptr is always NUL-terminated when
 * non-NULL (the NUL is not counted in len). */
typedef struct fl_buf {
    char *ptr;
    size_t len, cap, limit;
    fl_rc rc;
} fl_buf;

/* limit 0 = SIZE_MAX/2. No allocation until first append. */
FL_API void fl_buf_init(fl_buf *b, size_t limit);
/* Free storage; b can be re-initialised. */
FL_API void fl_buf_reset(fl_buf *b);
/* len = 0 and rc = FL_OK, storage kept. */
static inline void fl_buf_clear(fl_buf *b)
{
    b->len = 0;
    b->rc = FL_OK;
    if (b->ptr) b->ptr[0] = 0;
}
/* Make room for n more bytes. */
FL_API fl_rc fl_buf_reserve(fl_buf *b, size_t n);
FL_API fl_rc fl_buf_append(fl_buf *b, const void *p, size_t n);
static inline fl_rc fl_buf_append_str(fl_buf *b, fl_str s) { return fl_buf_append(b, s.ptr, s.len); }
static inline fl_rc fl_buf_append_c(fl_buf *b, const char *cstr) { return fl_buf_append(b, cstr, strlen(cstr)); }
FL_API fl_rc fl_buf_putc(fl_buf *b, char c);
FL_API fl_rc fl_buf_printf(fl_buf *b, const char *fmt, ...) FL_PRINTF(2, 3);
FL_API fl_rc fl_buf_vprintf(fl_buf *b, const char *fmt, va_list ap) FL_PRINTF(2, 0);
static inline fl_str fl_buf_str(const fl_buf *b) { return (fl_str){b->ptr ? b->ptr : "", b->len}; }
/* Hand the storage to the caller (free with fl_free); b is left empty. May return NULL if
 * nothing was appended. */
FL_API char *fl_buf_detach(fl_buf *b, size_t *len_out);

/* ---------------------------------------------------------------- vector */

/* Growable array of fixed-size elements on the heap. */
typedef struct fl_vec {
    void *ptr;
    size_t len, cap, elem_size;
} fl_vec;

static inline void fl_vec_init(fl_vec *v, size_t elem_size)
{
    v->ptr = NULL;
    v->len = v->cap = 0;
    v->elem_size = elem_size;
}
FL_API void fl_vec_reset(fl_vec *v); /* free storage */
FL_API fl_rc fl_vec_reserve(fl_vec *v, size_t n);
/* Copy elem (elem_size bytes) to the end. */
FL_API fl_rc fl_vec_push(fl_vec *v, const void *elem);
/* Append a zeroed element and return it (NULL on OOM). */
FL_API void *fl_vec_push_zero(fl_vec *v);
static inline void *fl_vec_at(const fl_vec *v, size_t i) { return (char *)v->ptr + i * v->elem_size; }
#define FL_VEC_AT(v, T, i) (((T *)(v)->ptr)[i])

/* ---------------------------------------------------------------- hash map */

/* Open-addressing map from a byte-string key to a void* value. Keys are BORROWED: the
 * bytes must stay valid while they are in the map (copy them into an arena if needed). */
typedef struct fl_map_entry {
    fl_str key;
    uint64_t hash; /* 0 = empty slot */
    void *val;
} fl_map_entry;

typedef struct fl_map {
    fl_map_entry *slots;
    size_t cap, len, tombs;
} fl_map;

FL_API void fl_map_init(fl_map *m);
FL_API void fl_map_reset(fl_map *m); /* free storage */
/* Insert or replace. *old (if non-NULL) receives the replaced value or NULL. */
FL_API fl_rc fl_map_put(fl_map *m, fl_str key, void *val, void **old);
/* Borrowed value or NULL. `found` (optional) tells a stored NULL from a miss. */
FL_API void *fl_map_get(const fl_map *m, fl_str key, bool *found);
/* Remove; returns true if the key was there. */
FL_API bool fl_map_del(fl_map *m, fl_str key);
/* Iterate: `*it` starts at 0; returns the next entry or NULL when done. Do not modify
 * the map while iterating. */
FL_API const fl_map_entry *fl_map_next(const fl_map *m, size_t *it);

/* ---------------------------------------------------------------- logging */

enum { FL_LOG_ERROR = 0, FL_LOG_WARN = 1, FL_LOG_INFO = 2, FL_LOG_DEBUG = 3 };

/* Log sink supplied by the program; msg is NUL-terminated and valid for the call only. */
typedef void (*fl_log_fn)(void *ctx, int level, const char *msg);

typedef struct fl_logger {
    fl_log_fn fn; /* NULL = logging off */
    void *ctx;
    int level;    /* messages above this level are dropped */
} fl_logger;

/* Format and send to lg->fn if set and level <= lg->level. lg may be NULL. */
FL_API void fl_log(const fl_logger *lg, int level, const char *fmt, ...) FL_PRINTF(3, 4);

/* ---------------------------------------------------------------- utilities */

/* Checked size arithmetic: false on overflow. */
static inline bool fl_add_overflows(size_t a, size_t b, size_t *out)
{
    return __builtin_add_overflow(a, b, out);
}
static inline bool fl_mul_overflows(size_t a, size_t b, size_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}

/* Validate UTF-8 (RFC 3629: no overlongs, no surrogates, max U+10FFFF). Returns true if
 * valid; otherwise *bad_off (optional) receives the offset of the first bad byte. */
FL_API bool fl_utf8_valid(const char *s, size_t n, size_t *bad_off);
/* Encode a code point (<= 0x10FFFF) as UTF-8 into out[4]; returns the byte count. */
FL_API size_t fl_utf8_encode(uint32_t cp, char out[4]);

/* Parse a whole decimal int64 ("-12"); false on junk or overflow. */
FL_API bool fl_parse_i64(fl_str s, int64_t *out);
/* Parse a whole double via strtod semantics (C locale); false on junk. */
FL_API bool fl_parse_f64(fl_str s, double *out);

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d (m 1..12, d 1..31; negative
 * before 1970; H. Hinnant's algorithm, exact for |y| < 2^40). */
FL_API int64_t fl_days_from_civil(int64_t y, int64_t m, int64_t d);
/* The proleptic Gregorian date of day z since 1970-01-01 (the inverse of fl_days_from_civil):
 * *y the year, *m 1..12, *d 1..31. */
FL_API void fl_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
/* "YYYY-MM-DD" (exactly; month 1..12, day 1..31) -> days since 1970-01-01; false on anything else. */
FL_API bool fl_parse_date_days(fl_str s, int64_t *days);
/* RFC 3339-style date-time "YYYY-MM-DD[T ]HH:MM:SS[.f*][Z|z|+hh:mm|-hh:mm]" -> microseconds since
 * 1970-01-01T00:00:00Z (no zone = UTC; fraction digits past the sixth are dropped). With
 * date_only_ok a bare "YYYY-MM-DD" is also accepted (midnight UTC). False on anything else. */
FL_API bool fl_parse_timestamp_us(fl_str s, bool date_only_ok, int64_t *us);

#ifdef __cplusplus
}
#endif
#endif
