/* test_delta_dv.c - deletion-vector decoding with hand-built bitmaps: inline (Z85) DVs
 * holding array, bitset and run containers in two 32-bit buckets, and malformed inputs
 * (bad magic, truncation, cardinality mismatch) that must fail cleanly. File-based DVs are
 * covered by the golden tables in test_delta_log.c. */
#include "fhirlake/delta.h"
#include "testhelp.h"

static const char z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

static void z85_encode(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = (uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 | (uint32_t)p[i + 2] << 8 | p[i + 3];
        for (int k = 4; k >= 0; k--) {
            out[i / 4 * 5 + (size_t)k] = z85[v % 85];
            v /= 85;
        }
    }
    out[n / 4 * 5] = 0;
}

typedef struct wbuf {
    uint8_t b[20000];
    size_t n;
} wbuf;

static void w16(wbuf *w, uint32_t v)
{
    w->b[w->n++] = (uint8_t)v;
    w->b[w->n++] = (uint8_t)(v >> 8);
}
static void w32(wbuf *w, uint32_t v)
{
    w16(w, v & 0xFFFF);
    w16(w, v >> 16);
}

/* Bitmap: bucket 0 = array {1,5,7} + bitset container (key 1) with 5000 values 65536+2k;
 * bucket 3 = run container (key 0) 10..19. */
static size_t build(wbuf *w, uint32_t magic, bool truncate)
{
    w->n = 0;
    w32(w, magic);
    w32(w, 2); /* buckets, int64 LE */
    w32(w, 0);
    /* bucket 0: no-run cookie, 2 containers */
    w32(w, 0);
    w32(w, 12346);
    w32(w, 2);
    w16(w, 0), w16(w, 3 - 1);
    w16(w, 1), w16(w, 5000 - 1);
    w32(w, 0), w32(w, 0); /* offsets (ignored by readers) */
    w16(w, 1), w16(w, 5), w16(w, 7);
    uint32_t words[2048] = {0};
    for (uint32_t k = 0; k < 5000; k++) words[(2 * k) / 32] |= 1u << ((2 * k) % 32);
    for (int i = 0; i < 2048; i++) w32(w, words[i]);
    /* bucket 3: run cookie with 1 container, run bitset byte, no offsets (< 4 containers) */
    w32(w, 3);
    w32(w, 12347 | (0u << 16));
    w->b[w->n++] = 1;
    w16(w, 0), w16(w, 10 - 1);
    w16(w, 1);           /* one run */
    w16(w, 10), w16(w, 9); /* start 10, length 10 */
    size_t real = w->n;
    while (w->n % 4) w->b[w->n++] = 0;
    return truncate ? real - 30 : real;
}

static fl_rc decode(uint32_t magic, bool truncate, int64_t card, fl_arena *a, uint64_t **rows, size_t *n, fl_err *err)
{
    static wbuf w;
    size_t real = build(&w, magic, truncate);
    static char enc[30000];
    z85_encode(w.b, w.n, enc);
    char dv[32000];
    snprintf(dv, sizeof dv, "{\"storageType\":\"i\",\"pathOrInlineDv\":\"%s\",\"sizeInBytes\":%zu,\"cardinality\":%lld}",
             enc, real, (long long)card);
    fl_delta_file f = {.path = FL_STR("x.parquet"), .dv = fl_str_c(dv)};
    fl_store *st = NULL;
    fl_delta_table *t = NULL;
    fl_store_open("/tmp/fl-dv-test-unused", NULL, &st, err);
    fl_delta_table_open(st, NULL, &t, err);
    fl_rc rc = fl_delta_dv_rows(t, &f, a, rows, n, err);
    fl_delta_table_close(t);
    fl_store_close(st);
    return rc;
}

static void test_inline(void)
{
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    uint64_t *rows = NULL;
    size_t n = 0;
    fl_err err;
    fl_rc rc = decode(1681511377u, false, 3 + 5000 + 10, &a, &rows, &n, &err);
    CHECK_MSG(rc == FL_OK, "%s", err.msg);
    CHECK_EQ_INT(n, 5013);
    if (n == 5013) {
        CHECK_EQ_INT(rows[0], 1);
        CHECK_EQ_INT(rows[1], 5);
        CHECK_EQ_INT(rows[2], 7);
        CHECK_EQ_INT(rows[3], 65536);
        CHECK_EQ_INT(rows[4], 65538);
        CHECK_EQ_INT(rows[5002], 65536 + 2 * 4999);
        CHECK_EQ_INT((int64_t)rows[5003], (int64_t)((3ull << 32) + 10));
        CHECK_EQ_INT((int64_t)rows[5012], (int64_t)((3ull << 32) + 19));
    }
    /* no DV: nothing */
    fl_delta_file plain = {.path = FL_STR("y")};
    CHECK_EQ_INT(fl_delta_dv_rows(NULL, &plain, &a, &rows, &n, &err), FL_OK);
    CHECK_EQ_INT(n, 0);
    fl_arena_fini(&a);
}

static void test_malformed(void)
{
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    uint64_t *rows = NULL;
    size_t n = 0;
    fl_err err;
    CHECK_EQ_INT(decode(1234u, false, 5013, &a, &rows, &n, &err), FL_E_CORRUPT);
    CHECK(strstr(err.msg, "magic") != NULL);
    CHECK_EQ_INT(decode(1681511377u, true, 5013, &a, &rows, &n, &err), FL_E_CORRUPT);
    CHECK(strstr(err.msg, "truncated") != NULL);
    CHECK_EQ_INT(decode(1681511377u, false, 7, &a, &rows, &n, &err), FL_E_CORRUPT);
    CHECK(strstr(err.msg, "cardinality") != NULL);
    fl_delta_file bad = {.path = FL_STR("z"), .dv = FL_STR("{\"storageType\":\"i\",\"pathOrInlineDv\":\"~~~~~\"}")};
    fl_store *st = NULL;
    fl_delta_table *t = NULL;
    fl_store_open("/tmp/fl-dv-test-unused", NULL, &st, &err);
    fl_delta_table_open(st, NULL, &t, &err);
    CHECK_EQ_INT(fl_delta_dv_rows(t, &bad, &a, &rows, &n, &err), FL_E_CORRUPT);
    fl_delta_file other = {.path = FL_STR("z"), .dv = FL_STR("{\"storageType\":\"q\",\"pathOrInlineDv\":\"x\"}")};
    CHECK_EQ_INT(fl_delta_dv_rows(t, &other, &a, &rows, &n, &err), FL_E_UNSUPPORTED);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_arena_fini(&a);
}

int main(void)
{
    RUN(test_inline);
    RUN(test_malformed);
    return testhelp_done();
}
