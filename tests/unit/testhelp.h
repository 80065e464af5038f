/* testhelp.h - the whole unit-test harness (one process per test file).
 * Usage:
 *   static void test_x(void) { CHECK(1 + 1 == 2); CHECK_EQ_INT(a, b); CHECK_EQ_STR(s, "x"); }
 *   int main(void) { RUN(test_x); return testhelp_done(); }
 * A failed CHECK prints file:line and the expression, marks the test failed and goes on.
 * The last line printed is "N passed, N failed" (counting checks). */
#ifndef FL_TESTHELP_H
#define FL_TESTHELP_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int th_checks_ok, th_checks_bad, th_tests_bad;
static int th_cur_bad;
static const char *th_cur_name = "";

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            th_checks_ok++;                                                                        \
        } else {                                                                                   \
            th_checks_bad++;                                                                       \
            th_cur_bad++;                                                                          \
            fprintf(stderr, "%s:%d: [%s] CHECK failed: %s\n", __FILE__, __LINE__, th_cur_name,   \
                    #cond);                                                                        \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (cond) {                                                                                \
            th_checks_ok++;                                                                        \
        } else {                                                                                   \
            th_checks_bad++;                                                                       \
            th_cur_bad++;                                                                          \
            fprintf(stderr, "%s:%d: [%s] CHECK failed: %s: ", __FILE__, __LINE__, th_cur_name,   \
                    #cond);                                                                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long th_a = (long long)(a), th_b = (long long)(b);                                    \
        CHECK_MSG(th_a == th_b, "%lld != %lld", th_a, th_b);                                       \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *th_a = (a), *th_b = (b);                                                       \
        CHECK_MSG(th_a && th_b && strcmp(th_a, th_b) == 0, "\"%s\" != \"%s\"", th_a ? th_a : "(null)", \
                  th_b ? th_b : "(null)");                                                         \
    } while (0)

/* Compare a length-delimited slice with a C string. */
#define CHECK_EQ_MEM(p, n, cstr)                                                                   \
    do {                                                                                           \
        const char *th_p = (const char *)(p);                                                      \
        size_t th_n = (size_t)(n);                                                                 \
        const char *th_c = (cstr);                                                                 \
        CHECK_MSG(th_n == strlen(th_c) && memcmp(th_p, th_c, th_n) == 0, "\"%.*s\" != \"%s\"",   \
                  (int)th_n, th_p, th_c);                                                          \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        th_cur_name = #fn;                                                                         \
        th_cur_bad = 0;                                                                            \
        fn();                                                                                      \
        if (th_cur_bad) th_tests_bad++;                                                            \
        fprintf(stderr, "%s %s\n", th_cur_bad ? "FAIL" : "ok  ", #fn);                            \
    } while (0)

static inline int testhelp_done(void)
{
    printf("%d passed, %d failed\n", th_checks_ok, th_checks_bad);
    return th_checks_bad ? 1 : 0;
}

/* Path of a file under the source tree (FL_SOURCE_DIR is set by CMake). */
static inline const char *th_path(const char *rel)
{
    static char buf[8][4096];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%s/%s", FL_SOURCE_DIR, rel);
    return buf[i];
}

#endif
