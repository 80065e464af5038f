/* base_arena.c - bump arena for one unit of work (module base).
 * Blocks are chained newest-first; reset keeps the oldest (first) block so a steady
 * workload (one resource, one request) allocates nothing after warm-up. Oversized
 * requests get a block of their own. Cleanups run LIFO at reset/fini.
 * Invariant: a->total never exceeds a->limit when a limit is set. */
#include "fhirlake/base.h"

#include <stdio.h>

struct fl_arena_block {
    fl_arena_block *next;
    size_t size; /* usable bytes after the header */
    /* data follows, 64-byte aligned start is not required; alignment handled per alloc */
};

struct fl_arena_cleanup {
    fl_arena_cleanup *next;
    void (*fn)(void *ctx);
    void *ctx;
};

#define ARENA_DEFAULT_BLOCK ((size_t)64 * 1024)
#define BLOCK_HDR ((sizeof(fl_arena_block) + 63) & ~(size_t)63)

void fl_arena_init(fl_arena *a, size_t block_size, size_t limit)
{
    a->cur = a->end = NULL;
    a->head = NULL;
    a->block_size = block_size ? block_size : ARENA_DEFAULT_BLOCK;
    a->limit = limit;
    a->total = 0;
    a->cleanups = NULL;
}

static void run_cleanups(fl_arena *a)
{
    fl_arena_cleanup *c = a->cleanups;
    a->cleanups = NULL;
    while (c) {
        fl_arena_cleanup *next = c->next;
        c->fn(c->ctx);
        c = next;
    }
}

void fl_arena_reset(fl_arena *a)
{
    run_cleanups(a);
    fl_arena_block *b = a->head;
    if (!b) return;
    /* keep the last block in the chain (the first allocated, normal-sized) */
    while (b->next) {
        fl_arena_block *next = b->next;
        a->total -= b->size;
        fl_free(b);
        b = next;
    }
    a->head = b;
    a->cur = (char *)b + BLOCK_HDR;
    a->end = a->cur + b->size;
}

void fl_arena_fini(fl_arena *a)
{
    run_cleanups(a);
    fl_arena_block *b = a->head;
    while (b) {
        fl_arena_block *next = b->next;
        fl_free(b);
        b = next;
    }
    a->head = NULL;
    a->cur = a->end = NULL;
    a->total = 0;
}

void *fl_arena_alloc_slow(fl_arena *a, size_t size, size_t align)
{
    if (align == 0 || (align & (align - 1)) || align > 64) return NULL;
    size_t need;
    if (fl_add_overflows(size, align, &need)) return NULL;
    /* big item (over a quarter block): a dedicated block of exactly its size */
    bool dedicated = need > a->block_size / 4;
    size_t bsize = dedicated ? need : a->block_size;
    size_t total_after;
    if (fl_add_overflows(a->total, bsize, &total_after)) return NULL;
    if (a->limit && total_after > a->limit) return NULL;
    size_t alloc_sz;
    if (fl_add_overflows(bsize, BLOCK_HDR, &alloc_sz)) return NULL;
    fl_arena_block *b = fl_malloc(alloc_sz);
    if (!b) return NULL;
    b->size = bsize;
    a->total = total_after;
    char *start = (char *)b + BLOCK_HDR;
    char *end = start + bsize;
    if (dedicated && a->head) {
        /* dedicated block: insert behind the current one so the current stays in use */
        b->next = a->head->next;
        a->head->next = b;
        uintptr_t p = ((uintptr_t)start + (align - 1)) & ~(uintptr_t)(align - 1);
        return (void *)p;
    }
    b->next = a->head;
    a->head = b;
    a->cur = start;
    a->end = end;
    uintptr_t p = ((uintptr_t)a->cur + (align - 1)) & ~(uintptr_t)(align - 1);
    a->cur = (char *)(p + size);
    return (void *)p;
}

void *fl_arena_calloc(fl_arena *a, size_t n, size_t size)
{
    size_t total;
    if (fl_mul_overflows(n, size, &total)) return NULL;
    void *p = fl_arena_alloc(a, total);
    if (p) memset(p, 0, total);
    return p;
}

char *fl_arena_strndup(fl_arena *a, const char *s, size_t n)
{
    size_t sz;
    if (fl_add_overflows(n, 1, &sz)) return NULL;
    char *p = fl_arena_alloc_aligned(a, sz, 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

fl_str fl_arena_str_dup(fl_arena *a, fl_str s)
{
    char *p = fl_arena_strndup(a, s.ptr, s.len);
    if (!p) return FL_STR_NULL;
    return (fl_str){p, s.len};
}

char *fl_arena_printf(fl_arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return NULL;
    }
    char *p = fl_arena_alloc_aligned(a, (size_t)n + 1, 1);
    if (p) vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

fl_rc fl_arena_on_reset(fl_arena *a, void (*fn)(void *ctx), void *ctx)
{
    fl_arena_cleanup *c = fl_arena_alloc(a, sizeof *c);
    if (!c) return FL_E_NOMEM;
    c->fn = fn;
    c->ctx = ctx;
    c->next = a->cleanups;
    a->cleanups = c;
    return FL_OK;
}
