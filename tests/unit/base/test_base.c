/* test_base.c - arena, buffer, vector, map, errors, utf8, number parsing (src/base). */
#include "fhirlake/base.h"
#include "testhelp.h"

static void test_errors(void)
{
    CHECK_EQ_STR(fl_rc_str(FL_OK), "ok");
    CHECK_EQ_STR(fl_rc_name(FL_E_JSON_SYNTAX), "FL_E_JSON_SYNTAX");
    CHECK_EQ_STR(fl_rc_str((fl_rc)9999), "unknown error");
    fl_err e;
    fl_err_clear(&e);
    CHECK(fl_err_set_at(&e, FL_E_JSON_SYNTAX, 10, 2, 3, "expected %s", "','") == FL_E_JSON_SYNTAX);
    CHECK_EQ_STR(e.msg, "expected ','");
    CHECK_EQ_INT(e.line, 2);
    fl_err_prefix(&e, "%s:%d: ", "a.ndjson", 2);
    CHECK_EQ_STR(e.msg, "a.ndjson:2: expected ','");
    CHECK(!fl_err_is_retriable(&e));
    fl_err_set(&e, FL_E_STORE_RETRY, "503");
    CHECK(fl_err_is_retriable(&e));
    CHECK(fl_err_set(NULL, FL_E_IO, "x") == FL_E_IO);
}

static void test_arena(void)
{
    fl_arena a;
    fl_arena_init(&a, 1024, 0);
    char *p = fl_arena_alloc(&a, 10);
    CHECK(p != NULL);
    CHECK(((uintptr_t)p & 7) == 0);
    for (int i = 0; i < 1000; i++) {
        char *q = fl_arena_alloc(&a, 100);
        CHECK(q != NULL);
        memset(q, 1, 100);
    }
    char *big = fl_arena_alloc(&a, 100000);
    CHECK(big != NULL);
    memset(big, 2, 100000);
    char *s = fl_arena_printf(&a, "%d-%s", 42, "x");
    CHECK_EQ_STR(s, "42-x");
    fl_arena_reset(&a);
    CHECK(fl_arena_total(&a) <= 1024);
    CHECK(fl_arena_alloc(&a, 16) != NULL);
    fl_arena_fini(&a);

    fl_arena lim;
    fl_arena_init(&lim, 1024, 4096);
    int n = 0;
    while (fl_arena_alloc(&lim, 512) && n < 100) n++;
    CHECK(n < 100);
    CHECK(fl_arena_total(&lim) <= 4096);
    fl_arena_fini(&lim);
}

static int cleanup_count;
static void bump(void *ctx) { (void)ctx; cleanup_count++; }

static void test_arena_cleanup(void)
{
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    CHECK(fl_arena_on_reset(&a, bump, NULL) == FL_OK);
    CHECK(fl_arena_on_reset(&a, bump, NULL) == FL_OK);
    fl_arena_reset(&a);
    CHECK_EQ_INT(cleanup_count, 2);
    fl_arena_reset(&a);
    CHECK_EQ_INT(cleanup_count, 2);
    fl_arena_fini(&a);
}

static void test_buf(void)
{
    fl_buf b;
    fl_buf_init(&b, 100);
    CHECK(fl_buf_append_c(&b, "hello") == FL_OK);
    CHECK(fl_buf_printf(&b, " %d", 7) == FL_OK);
    CHECK_EQ_STR(b.ptr, "hello 7");
    char big[200];
    memset(big, 'x', sizeof big);
    CHECK(fl_buf_append(&b, big, sizeof big) == FL_E_LIMIT);
    CHECK(fl_buf_putc(&b, 'y') == FL_E_LIMIT); /* sticky */
    CHECK_EQ_INT(b.len, 7);
    fl_buf_clear(&b);
    CHECK(fl_buf_append(&b, big, 100) == FL_OK);
    CHECK(fl_buf_putc(&b, 'y') == FL_E_LIMIT);
    size_t n;
    char *p = fl_buf_detach(&b, &n);
    CHECK_EQ_INT(n, 100);
    fl_free(p);
    fl_buf_reset(&b);
    char longfmt[600];
    memset(longfmt, 'z', sizeof longfmt - 1);
    longfmt[sizeof longfmt - 1] = 0;
    fl_buf_init(&b, 0);
    CHECK(fl_buf_printf(&b, "%s!", longfmt) == FL_OK);
    CHECK_EQ_INT(b.len, 600);
    fl_buf_reset(&b);
}

static void test_vec(void)
{
    fl_vec v;
    fl_vec_init(&v, sizeof(int));
    for (int i = 0; i < 1000; i++) CHECK(fl_vec_push(&v, &i) == FL_OK);
    CHECK_EQ_INT(v.len, 1000);
    CHECK_EQ_INT(FL_VEC_AT(&v, int, 999), 999);
    int *z = fl_vec_push_zero(&v);
    CHECK(z && *z == 0);
    fl_vec_reset(&v);
}

static void test_map(void)
{
    fl_map m;
    fl_map_init(&m);
    char keys[2000][16];
    for (int i = 0; i < 2000; i++) {
        snprintf(keys[i], 16, "k%d", i);
        CHECK(fl_map_put(&m, fl_str_c(keys[i]), (void *)(intptr_t)(i + 1), NULL) == FL_OK);
    }
    CHECK_EQ_INT(m.len, 2000);
    CHECK_EQ_INT((intptr_t)fl_map_get(&m, FL_STR("k1234"), NULL), 1235);
    bool found = true;
    CHECK(fl_map_get(&m, FL_STR("nope"), &found) == NULL && !found);
    for (int i = 0; i < 2000; i += 2) CHECK(fl_map_del(&m, fl_str_c(keys[i])));
    CHECK_EQ_INT(m.len, 1000);
    CHECK(fl_map_get(&m, FL_STR("k0"), NULL) == NULL);
    CHECK_EQ_INT((intptr_t)fl_map_get(&m, FL_STR("k1"), NULL), 2);
    void *old = NULL;
    fl_map_put(&m, FL_STR("k1"), (void *)(intptr_t)5, &old);
    CHECK_EQ_INT((intptr_t)old, 2);
    size_t it = 0, count = 0;
    while (fl_map_next(&m, &it)) count++;
    CHECK_EQ_INT(count, 1000);
    for (int i = 0; i < 2000; i += 2) fl_map_put(&m, fl_str_c(keys[i]), NULL, NULL);
    CHECK_EQ_INT(m.len, 2000);
    fl_map_reset(&m);
}

static void test_utf8(void)
{
    size_t off = 0;
    CHECK(fl_utf8_valid("abc", 3, NULL));
    CHECK(fl_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, NULL));
    CHECK(!fl_utf8_valid("ab\xc0\xaf", 4, &off) && off == 2); /* overlong */
    CHECK(!fl_utf8_valid("\xed\xa0\x80", 3, NULL));            /* surrogate */
    CHECK(!fl_utf8_valid("\xf4\x90\x80\x80", 4, NULL));        /* > U+10FFFF */
    CHECK(!fl_utf8_valid("\xe2\x82", 2, NULL));                /* truncated */
    CHECK(!fl_utf8_valid("aaaaaaaaaaaa\x80", 13, &off) && off == 12);
    char out[4];
    CHECK_EQ_INT(fl_utf8_encode(0x1F600, out), 4);
    CHECK(memcmp(out, "\xf0\x9f\x98\x80", 4) == 0);
}

static void test_civil_days(void)
{
    CHECK_EQ_INT(fl_days_from_civil(1970, 1, 1), 0);
    CHECK_EQ_INT(fl_days_from_civil(1969, 12, 31), -1);
    CHECK_EQ_INT(fl_days_from_civil(2000, 3, 1), 11017);
    CHECK_EQ_INT(fl_days_from_civil(1, 1, 1), -719162);
    CHECK_EQ_INT(fl_days_from_civil(9999, 12, 31), 2932896);
    /* every day from 0001-01-01 to 9999-12-31 maps back to itself, one day after the previous */
    int64_t py = 0;
    unsigned pm = 12, pd = 31;
    int bad = 0;
    for (int64_t z = -719162; z <= 2932896; z++) {
        int64_t y;
        unsigned m, d;
        fl_civil_from_days(z, &y, &m, &d);
        bool next = (y == py && m == pm && d == pd + 1) || (y == py && m == pm + 1 && d == 1) ||
                    (y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31);
        if (!next || fl_days_from_civil(y, m, d) != z) bad++;
        py = y, pm = m, pd = d;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(py, 9999);
    int64_t y;
    unsigned m, d;
    fl_civil_from_days(11016, &y, &m, &d); /* leap day */
    CHECK(y == 2000 && m == 2 && d == 29);
}

static void test_parse_date_ts(void)
{
    int64_t v = 7;
    CHECK(fl_parse_date_days(FL_STR("1970-01-01"), &v) && v == 0);
    CHECK(fl_parse_date_days(FL_STR("2000-03-01"), &v) && v == 11017);
    CHECK(fl_parse_date_days(FL_STR("1969-12-31"), &v) && v == -1);
    v = 7;
    CHECK(!fl_parse_date_days(FL_STR("2000-13-01"), &v)); /* month */
    CHECK(!fl_parse_date_days(FL_STR("2000-01-32"), &v)); /* day */
    CHECK(!fl_parse_date_days(FL_STR("2000-01-00"), &v));
    CHECK(!fl_parse_date_days(FL_STR("2000/01/01"), &v));
    CHECK(!fl_parse_date_days(FL_STR("2000-1-01"), &v));
    CHECK(!fl_parse_date_days(FL_STR("2000-01-01T00:00:00Z"), &v)); /* exactly a date */
    CHECK(!fl_parse_date_days(FL_STR("2000-01-0"), &v));
    CHECK(!fl_parse_date_days(FL_STR(""), &v));
    CHECK_EQ_INT(v, 7); /* untouched on failure */

    const int64_t day = 86400000000LL;
    CHECK(fl_parse_timestamp_us(FL_STR("1970-01-01T00:00:00Z"), false, &v) && v == 0);
    CHECK(fl_parse_timestamp_us(FL_STR("1970-01-02 00:00:01"), false, &v) && v == day + 1000000);
    CHECK(fl_parse_timestamp_us(FL_STR("2000-03-01T03:04:05z"), false, &v) &&
          v == 11017 * day + (3 * 3600 + 4 * 60 + 5) * 1000000LL);
    /* fractions: padded to micros, digits past the sixth dropped, a bare '.' is zero */
    CHECK(fl_parse_timestamp_us(FL_STR("1970-01-01T00:00:00.5Z"), false, &v) && v == 500000);
    CHECK(fl_parse_timestamp_us(FL_STR("1970-01-01T00:00:00.123456789"), false, &v) && v == 123456);
    CHECK(fl_parse_timestamp_us(FL_STR("1970-01-01T00:00:00.Z"), false, &v) && v == 0);
    /* offsets: local time minus the offset */
    CHECK(fl_parse_timestamp_us(FL_STR("1970-01-01T01:30:00+01:30"), false, &v) && v == 0);
    CHECK(fl_parse_timestamp_us(FL_STR("1969-12-31T23:00:00.25-01:00"), false, &v) && v == 250000);
    CHECK(fl_parse_timestamp_us(FL_STR("1970-01-01T00:00:00-00:01"), false, &v) && v == 60000000);
    v = 7;
    CHECK(!fl_parse_timestamp_us(FL_STR("1970-01-01T00:00:00+01"), false, &v));   /* short offset */
    CHECK(!fl_parse_timestamp_us(FL_STR("1970-01-01T00:00:00+0100"), false, &v)); /* no colon */
    CHECK(!fl_parse_timestamp_us(FL_STR("1970-01-01T00:00:00ZZ"), false, &v));
    CHECK(!fl_parse_timestamp_us(FL_STR("1970-01-01T00:00:00 "), false, &v));
    CHECK(!fl_parse_timestamp_us(FL_STR("1970-01-01T00:00"), true, &v)); /* seconds required */
    CHECK(!fl_parse_timestamp_us(FL_STR("1970-01-01X00:00:00"), true, &v));
    CHECK(!fl_parse_timestamp_us(FL_STR("1970-01-01T0a:00:00"), true, &v));
    CHECK(!fl_parse_timestamp_us(FL_STR("1970-13-01T00:00:00"), true, &v));
    CHECK(!fl_parse_timestamp_us(FL_STR("1970-01-01T"), true, &v));
    CHECK(!fl_parse_timestamp_us(FL_STR(""), true, &v));
    CHECK_EQ_INT(v, 7);
    /* the date-only flag */
    CHECK(!fl_parse_timestamp_us(FL_STR("1970-01-02"), false, &v));
    CHECK_EQ_INT(v, 7);
    CHECK(fl_parse_timestamp_us(FL_STR("1970-01-02"), true, &v) && v == day);
}

static void test_numbers(void)
{
    int64_t v;
    CHECK(fl_parse_i64(FL_STR("-9223372036854775808"), &v) && v == INT64_MIN);
    CHECK(fl_parse_i64(FL_STR("9223372036854775807"), &v) && v == INT64_MAX);
    CHECK(!fl_parse_i64(FL_STR("9223372036854775808"), &v));
    CHECK(!fl_parse_i64(FL_STR("12a"), &v));
    CHECK(!fl_parse_i64(FL_STR("-"), &v));
    double d;
    CHECK(fl_parse_f64(FL_STR("1.5e3"), &d) && d == 1500.0);
    CHECK(!fl_parse_f64(FL_STR("1.5x"), &d));
}

int main(void)
{
    RUN(test_errors);
    RUN(test_arena);
    RUN(test_arena_cleanup);
    RUN(test_buf);
    RUN(test_vec);
    RUN(test_map);
    RUN(test_utf8);
    RUN(test_numbers);
    RUN(test_civil_days);
    RUN(test_parse_date_ts);
    return testhelp_done();
}
