/* test_json_suite.c - JSONTestSuite conformance (tests src/json/json_parse.c).
 * Every test_parsing/y_* file must parse, every n_* file must be rejected, every i_*
 * file may go either way (but must not crash, leak or hang: ASan/UBSan build). Each
 * accepted document is also written back and re-parsed to an equal DOM.
 * Deliberate deviation: FHIR forbids duplicate object keys, so by default the two y_
 * files with duplicate keys are rejected (FL_E_JSON_DUPKEY); the suite therefore runs
 * twice, strict (those two must fail with DUPKEY) and with FL_JSON_ALLOW_DUPKEYS
 * (every y_ file must pass). */
#include "fhirlake/json.h"
#include "fhirlake/os.h"
#include "testhelp.h"

static int n_y, n_n, n_i, n_i_accepted;
static uint32_t g_flags;

static bool is_dupkey_file(fl_str name)
{
    return fl_str_eq_c(name, "y_object_duplicated_key.json") ||
           fl_str_eq_c(name, "y_object_duplicated_key_and_value.json");
}

static void check_file(const char *dir, fl_str name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%.*s", dir, (int)name.len, name.ptr);
    fl_buf data;
    fl_buf_init(&data, 0);
    fl_err err;
    fl_rc rc = fl_file_read(path, 0, &data, &err);
    CHECK_MSG(rc == FL_OK, "%s: %s", path, err.msg);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_json_val *v = NULL;
    fl_err_clear(&err);
    fl_json_opts opts = {.flags = g_flags};
    rc = fl_json_parse(data.ptr ? data.ptr : "", data.len, &opts, &a, &v, NULL, &err);
    char kind = name.ptr[0];
    if (kind == 'y' && !(g_flags & FL_JSON_ALLOW_DUPKEYS) && is_dupkey_file(name)) {
        n_y++;
        CHECK_MSG(rc == FL_E_JSON_DUPKEY, "%.*s: expected a duplicate-key error, got %s", (int)name.len,
                  name.ptr, fl_rc_name(rc));
        CHECK(strstr(err.msg, "duplicate object key \"a\"") != NULL);
    } else if (kind == 'y') {
        n_y++;
        CHECK_MSG(rc == FL_OK, "%.*s rejected: %s", (int)name.len, name.ptr, err.msg);
    } else if (kind == 'n') {
        n_n++;
        CHECK_MSG(rc != FL_OK, "%.*s accepted", (int)name.len, name.ptr);
        /* a rejection always carries a position and a message */
        if (rc != FL_OK) {
            CHECK_MSG(err.line >= 1 && err.col >= 1 && err.msg[0], "%.*s: no position/message",
                      (int)name.len, name.ptr);
            CHECK(err.pos <= data.len);
        }
    } else {
        n_i++;
        if (rc == FL_OK) n_i_accepted++;
    }
    if (rc == FL_OK) {
        fl_buf out;
        fl_buf_init(&out, 0);
        CHECK(fl_json_write(v, &out) == FL_OK);
        fl_json_val *v2 = NULL;
        rc = fl_json_parse(out.ptr, out.len, NULL, &a, &v2, NULL, &err);
        CHECK_MSG(rc == FL_OK, "%.*s: written form does not re-parse: %s", (int)name.len, name.ptr, err.msg);
        if (rc == FL_OK) CHECK_MSG(fl_json_equal(v, v2), "%.*s: round trip differs", (int)name.len, name.ptr);
        fl_buf_reset(&out);
    }
    fl_arena_fini(&a);
    fl_buf_reset(&data);
}

static void run_suite(uint32_t flags)
{
    g_flags = flags;
    n_y = n_n = n_i = n_i_accepted = 0;
    const char *dir = th_path("tests/data/json/test_parsing");
    fl_arena names;
    fl_arena_init(&names, 0, 0);
    fl_str *list = NULL;
    size_t count = 0;
    fl_err err;
    CHECK(fl_dir_list(dir, &names, &list, &count, &err) == FL_OK);
    CHECK(count >= 300);
    for (size_t i = 0; i < count; i++) {
        if (list[i].len < 7 || !fl_str_ends_with(list[i], FL_STR(".json"))) continue;
        check_file(dir, list[i]);
    }
    fprintf(stderr, "suite: %d y, %d n, %d i (%d accepted)\n", n_y, n_n, n_i, n_i_accepted);
    CHECK_EQ_INT(n_y, 95);
    CHECK_EQ_INT(n_n, 188);
    CHECK_EQ_INT(n_i, 35);
    fl_arena_fini(&names);
}

static void test_suite_strict(void) { run_suite(0); }
static void test_suite_allow_dupkeys(void) { run_suite(FL_JSON_ALLOW_DUPKEYS); }
static void test_suite_copy_strings(void) { run_suite(FL_JSON_COPY_STRINGS); }

int main(void)
{
    RUN(test_suite_strict);
    RUN(test_suite_allow_dupkeys);
    RUN(test_suite_copy_strings);
    return testhelp_done();
}
