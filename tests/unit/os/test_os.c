/* test_os.c - files, atomic write, put-if-absent, listing, uuid, clock (src/os). */
#include "fhirlake/os.h"
#include "testhelp.h"

#include <unistd.h>

static char dir[256];

static const char *p(const char *name)
{
    static char buf[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

static void test_write_read(void)
{
    fl_err err;
    CHECK(fl_mkdir_p(p("a/b/c"), &err) == FL_OK);
    CHECK(fl_mkdir_p(p("a/b/c"), &err) == FL_OK);
    CHECK(fl_file_write_atomic(p("a/f.txt"), "hello", 5, &err) == FL_OK);
    CHECK(fl_file_write_atomic(p("a/f.txt"), "world!", 6, &err) == FL_OK);
    fl_buf b;
    fl_buf_init(&b, 0);
    CHECK(fl_file_read(p("a/f.txt"), 0, &b, &err) == FL_OK);
    CHECK_EQ_STR(b.ptr, "world!");
    fl_buf_clear(&b);
    CHECK(fl_file_read(p("a/f.txt"), 3, &b, &err) == FL_E_LIMIT);
    fl_buf_reset(&b);
    fl_buf_init(&b, 0);
    CHECK(fl_file_read(p("missing"), 0, &b, &err) == FL_E_NOT_FOUND);
    CHECK(strstr(err.msg, "missing") != NULL);
    fl_buf_reset(&b);

    fl_mmap m;
    CHECK(fl_file_mmap(p("a/f.txt"), &m, &err) == FL_OK);
    CHECK_EQ_MEM(m.ptr, m.len, "world!");
    fl_file_munmap(&m);
}

static void test_put_if_absent(void)
{
    fl_err err;
    CHECK(fl_file_put_if_absent(p("v0.json"), "{}", 2, &err) == FL_OK);
    CHECK(fl_file_put_if_absent(p("v0.json"), "{x}", 3, &err) == FL_E_EXISTS);
    fl_buf b;
    fl_buf_init(&b, 0);
    CHECK(fl_file_read(p("v0.json"), 0, &b, &err) == FL_OK);
    CHECK_EQ_STR(b.ptr, "{}");
    fl_buf_reset(&b);
}

static void test_list(void)
{
    fl_err err;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_mkdir_p(p("l"), &err);
    fl_file_write_atomic(p("l/b"), "", 0, &err);
    fl_file_write_atomic(p("l/a"), "", 0, &err);
    fl_file_write_atomic(p("l/c"), "", 0, &err);
    fl_str *names;
    size_t n;
    CHECK(fl_dir_list(p("l"), &a, &names, &n, &err) == FL_OK);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK(fl_str_eq_c(names[0], "a"));
        CHECK(fl_str_eq_c(names[2], "c"));
    }
    fl_arena_fini(&a);
}

static void test_misc(void)
{
    char u[37], v[37];
    fl_uuid4(u);
    fl_uuid4(v);
    CHECK_EQ_INT(strlen(u), 36);
    CHECK(u[14] == '4');
    CHECK(strcmp(u, v) != 0);
    CHECK(fl_clock_now_us() > 1600000000000000LL);
    char ts[40];
    fl_time_format_rfc3339(1700000000123456LL, ts, sizeof ts);
    CHECK_EQ_STR(ts, "2023-11-14T22:13:20.123Z");
    CHECK(fl_cpu_count() >= 1);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/fl_test_os_%d", (int)getpid());
    fl_rm_rf(dir, NULL);
    RUN(test_write_read);
    RUN(test_put_if_absent);
    RUN(test_list);
    RUN(test_misc);
    CHECK(fl_rm_rf(dir, NULL) == FL_OK);
    CHECK(!fl_path_exists(dir, NULL, NULL));
    return testhelp_done();
}
