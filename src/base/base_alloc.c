/* base_alloc.c - the process-wide allocator hook (module base).
 * All heap memory in src/ is obtained here (tools/checksrc.sh rejects malloc/free
 * elsewhere), so tests can count allocations or fail the Nth one.
 * Why a process-wide hook rather than one per handle: the allocator is needed by code
 * that has no handle at hand (buffers, maps, arenas), and libuv/zstd/yyjson show that a
 * single replace-before-use hook is enough in practice. It is the one mutable global in
 * base, set before any other call (documented in base.h). */
#include "fhirlake/base.h"

#include <stdatomic.h>
#include <stdlib.h>

static void *libc_malloc(void *ctx, size_t n) { (void)ctx; return malloc(n); }
static void *libc_realloc(void *ctx, void *p, size_t n) { (void)ctx; return realloc(p, n); }
static void libc_free(void *ctx, void *p) { (void)ctx; free(p); }

static fl_alloc g_alc = {libc_malloc, libc_realloc, libc_free, NULL};

/* FL_TEST_FAIL_ALLOC=N: fail the Nth allocation (1-based); read lazily once. */
static atomic_long g_fail_at = -1;   /* -1 unknown, 0 off */
static atomic_long g_alloc_count = 0;

static bool fail_now(void)
{
    long at = atomic_load_explicit(&g_fail_at, memory_order_relaxed);
    if (at < 0) {
        const char *e = getenv("FL_TEST_FAIL_ALLOC");
        at = 0;
        if (e && *e) {
            char *end = NULL;
            long v = strtol(e, &end, 10);
            if (end && *end == 0 && v > 0) at = v;
        }
        atomic_store(&g_fail_at, at);
    }
    if (at == 0) return false;
    return atomic_fetch_add(&g_alloc_count, 1) + 1 == at;
}

void fl_set_allocator(const fl_alloc *alc)
{
    if (alc && alc->malloc_fn && alc->realloc_fn && alc->free_fn) {
        g_alc = *alc;
    } else {
        g_alc = (fl_alloc){libc_malloc, libc_realloc, libc_free, NULL};
    }
}

void *fl_malloc(size_t size)
{
    if (fail_now()) return NULL;
    return g_alc.malloc_fn(g_alc.ctx, size ? size : 1);
}

void *fl_calloc(size_t n, size_t size)
{
    size_t total;
    if (fl_mul_overflows(n, size, &total)) return NULL;
    void *p = fl_malloc(total);
    if (p) memset(p, 0, total);
    return p;
}

void *fl_realloc(void *ptr, size_t size)
{
    if (fail_now()) return NULL;
    return g_alc.realloc_fn(g_alc.ctx, ptr, size ? size : 1);
}

void fl_free(void *ptr)
{
    if (ptr) g_alc.free_fn(g_alc.ctx, ptr);
}

char *fl_strndup(const char *s, size_t n)
{
    size_t sz;
    if (fl_add_overflows(n, 1, &sz)) return NULL;
    char *p = fl_malloc(sz);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}
