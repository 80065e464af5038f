/* test_json_write.c - writer tests (tests src/json/json_write.c): string escaping,
 * compact DOM output, round trips (incl. JSONTestSuite test_transform/), fl_jw. */
#include "fhirlake/json.h"
#include "fhirlake/os.h"
#include "testhelp.h"

#include <math.h>
#include <stdlib.h>

static fl_arena A;

static void check_str(const char *in, size_t n, const char *want)
{
    fl_buf b;
    fl_buf_init(&b, 0);
    CHECK(fl_json_write_str(&b, fl_str_make(in, n)) == FL_OK);
    CHECK_EQ_MEM(b.ptr, b.len, want);
    fl_buf_reset(&b);
}

static void test_escaping(void)
{
    check_str("", 0, "\"\"");
    check_str("plain / text", 12, "\"plain / text\""); /* '/' is not escaped */
    check_str("q\"b\\", 4, "\"q\\\"b\\\\\"");
    check_str("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"");
    check_str("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
    check_str("a\0b", 3, "\"a\\u0000b\"");
    check_str("\xC3\xA9\xF0\x9F\x98\x80", 6, "\"\xC3\xA9\xF0\x9F\x98\x80\""); /* UTF-8 kept as is */
    /* invalid UTF-8 becomes U+FFFD so the output is valid JSON */
    check_str("a\xFF" "b\xC3", 4, "\"a\\ufffdb\\ufffd\"");
    check_str("\xED\xA0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
    /* every control character, in a string long enough for the SIMD scanner */
    char all[64];
    for (int i = 0; i < 32; i++) all[i] = (char)i;
    memcpy(all + 32, "0123456789abcdef0123456789abcdef", 32);
    fl_buf b;
    fl_buf_init(&b, 0);
    CHECK(fl_json_write_str(&b, fl_str_make(all, 64)) == FL_OK);
    fl_json_val *v;
    fl_err err;
    CHECK(fl_json_parse(b.ptr, b.len, NULL, &A, &v, NULL, &err) == FL_OK);
    CHECK(fl_json_is_str(v) && v->len == 64 && memcmp(v->u.str, all, 64) == 0);
    fl_buf_reset(&b);
    /* every single byte value round-trips (invalid ones as U+FFFD) */
    for (int c = 1; c < 256; c++) {
        char one = (char)c;
        fl_buf_init(&b, 0);
        fl_json_write_str(&b, fl_str_make(&one, 1));
        CHECK(fl_json_parse(b.ptr, b.len, NULL, &A, &v, NULL, &err) == FL_OK);
        if (c < 0x80)
            CHECK(v->len == 1 && v->u.str[0] == one);
        else
            CHECK_EQ_MEM(v->u.str, v->len, "\xEF\xBF\xBD");
        fl_buf_reset(&b);
    }
    fl_arena_reset(&A);
}

static void roundtrip_exact(const char *s)
{
    fl_json_val *v;
    fl_err err;
    CHECK_MSG(fl_json_parse(s, strlen(s), NULL, &A, &v, NULL, &err) == FL_OK, "%s: %s", s, err.msg);
    fl_buf b;
    fl_buf_init(&b, 0);
    CHECK(fl_json_write(v, &b) == FL_OK);
    CHECK_EQ_MEM(b.ptr, b.len, s);
    fl_buf_reset(&b);
}

static void test_write_dom(void)
{
    roundtrip_exact("{\"resourceType\":\"Patient\",\"id\":\"p1\",\"name\":[{\"given\":[\"A\",\"B\"]}],"
                    "\"multipleBirthInteger\":2,\"deceasedBoolean\":false,\"x\":null,\"d\":1.50,\"e\":-0,"
                    "\"big\":123456789012345678901234567890,\"exp\":1E-7,\"o\":{},\"a\":[]}");
    roundtrip_exact("\"esc \\\"\\\\\\n\\t\\u0001\"");
    roundtrip_exact("[[[]],{\"\":{\"\":[]}}]");
    /* whitespace is dropped, escapes normalised */
    fl_json_val *v;
    fl_err err;
    const char *s = " { \"a\" : [ 1 , \"\\u0041\\/\" ] } ";
    CHECK(fl_json_parse(s, strlen(s), NULL, &A, &v, NULL, &err) == FL_OK);
    fl_buf b;
    fl_buf_init(&b, 0);
    CHECK(fl_json_write(v, &b) == FL_OK);
    CHECK_EQ_MEM(b.ptr, b.len, "{\"a\":[1,\"A/\"]}");
    /* appends to what is there; a small buffer limit is a sticky error */
    CHECK(fl_json_write(v, &b) == FL_OK);
    CHECK_EQ_INT(b.len, 28);
    fl_buf small;
    fl_buf_init(&small, 8);
    CHECK(fl_json_write(v, &small) == FL_E_LIMIT);
    CHECK(small.rc == FL_E_LIMIT);
    fl_buf_reset(&small);
    fl_buf_reset(&b);
    fl_arena_reset(&A);
}

/* JSONTestSuite test_transform: numbers keep their text; keys are not normalised;
 * duplicate keys are rejected (or resolved last-wins); invalid code points rejected. */
static void test_transform_suite(void)
{
    const char *dir = th_path("tests/data/json/test_transform");
    fl_arena names;
    fl_arena_init(&names, 0, 0);
    fl_str *list = NULL;
    size_t count = 0;
    fl_err err;
    CHECK(fl_dir_list(dir, &names, &list, &count, &err) == FL_OK);
    int seen = 0;
    for (size_t i = 0; i < count; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%.*s", dir, (int)list[i].len, list[i].ptr);
        fl_buf data, out;
        fl_buf_init(&data, 0);
        fl_buf_init(&out, 0);
        CHECK(fl_file_read(path, 0, &data, &err) == FL_OK);
        size_t n = data.len;
        while (n && (data.ptr[n - 1] == '\n')) n--; /* the files end in a newline */
        fl_json_val *v = NULL;
        fl_rc rc = fl_json_parse(data.ptr, data.len, NULL, &A, &v, NULL, &err);
        fl_str name = list[i];
        seen++;
        if (fl_str_starts_with(name, FL_STR("number_")) || fl_str_starts_with(name, FL_STR("object_key_")) ||
            fl_str_starts_with(name, FL_STR("string_with_escaped_NULL"))) {
            /* exact text back */
            CHECK_MSG(rc == FL_OK, "%s: %s", path, err.msg);
            if (rc == FL_OK) {
                fl_json_write(v, &out);
                CHECK_MSG(out.len == n && memcmp(out.ptr, data.ptr, n) == 0, "%s: wrote %s", path, out.ptr);
            }
            if (fl_str_starts_with(name, FL_STR("object_key_"))) CHECK(rc == FL_OK && v->len == 2);
        } else if (fl_str_starts_with(name, FL_STR("object_same_key_"))) {
            CHECK_MSG(rc == FL_E_JSON_DUPKEY, "%s: %s", path, fl_rc_name(rc));
            fl_json_opts o = {.flags = FL_JSON_ALLOW_DUPKEYS};
            CHECK(fl_json_parse(data.ptr, data.len, &o, &A, &v, NULL, &err) == FL_OK);
            fl_json_write(v, &out);
            const char *want = fl_str_eq_c(name, "object_same_key_different_values.json") ? "{\"a\":2}"
                               : fl_str_eq_c(name, "object_same_key_same_value.json")     ? "{\"a\":1}"
                                                                                          : "{\"a\":-0}";
            CHECK_EQ_MEM(out.ptr, out.len, want);
        } else if (fl_str_starts_with(name, FL_STR("string_"))) {
            /* lone surrogates, escaped or raw, are rejected */
            CHECK_MSG(rc == FL_E_JSON_SYNTAX || rc == FL_E_UTF8, "%s: %s", path, fl_rc_name(rc));
        } else {
            CHECK_MSG(0, "unexpected transform file %s", path);
        }
        fl_buf_reset(&data);
        fl_buf_reset(&out);
    }
    CHECK_EQ_INT(seen, 22);
    fl_arena_fini(&names);
    fl_arena_reset(&A);
}

static void test_jw(void)
{
    fl_buf b;
    fl_buf_init(&b, 0);
    fl_jw w;
    fl_jw_init(&w, &b);
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "s");
    fl_jw_str_c(&w, "a\"b");
    fl_jw_key_c(&w, "i");
    fl_jw_i64(&w, INT64_MIN);
    fl_jw_key_c(&w, "j");
    fl_jw_i64(&w, INT64_MAX);
    fl_jw_key_c(&w, "arr");
    fl_jw_arr_begin(&w);
    fl_jw_bool(&w, true);
    fl_jw_bool(&w, false);
    fl_jw_null(&w);
    fl_jw_raw(&w, FL_STR("1.50"));
    fl_jw_arr_begin(&w);
    fl_jw_arr_end(&w);
    fl_jw_obj_begin(&w);
    fl_jw_obj_end(&w);
    fl_jw_i64(&w, 0);
    fl_jw_arr_end(&w);
    fl_jw_key(&w, FL_STR("nested"));
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "k");
    fl_jw_i64(&w, -7);
    fl_jw_obj_end(&w);
    fl_jw_obj_end(&w);
    CHECK(b.rc == FL_OK);
    CHECK_EQ_MEM(b.ptr, b.len,
                 "{\"s\":\"a\\\"b\",\"i\":-9223372036854775808,\"j\":9223372036854775807,"
                 "\"arr\":[true,false,null,1.50,[],{},0],\"nested\":{\"k\":-7}}");
    /* a DOM value inside the stream */
    fl_json_val *v;
    fl_err err;
    CHECK(fl_json_parse("{\"x\":[1,2]}", 11, NULL, &A, &v, NULL, &err) == FL_OK);
    fl_buf_clear(&b);
    fl_jw_init(&w, &b);
    fl_jw_arr_begin(&w);
    fl_jw_val(&w, v);
    fl_jw_val(&w, &v->u.members[0].val);
    fl_jw_arr_end(&w);
    CHECK_EQ_MEM(b.ptr, b.len, "[{\"x\":[1,2]},[1,2]]");
    fl_buf_reset(&b);
    fl_arena_reset(&A);
}

static void check_f64(double d, const char *want)
{
    fl_buf b;
    fl_buf_init(&b, 0);
    fl_jw w;
    fl_jw_init(&w, &b);
    fl_jw_f64(&w, d);
    CHECK(b.rc == FL_OK);
    if (want) CHECK_EQ_MEM(b.ptr, b.len, want);
    if (isfinite(d)) CHECK_MSG(strtod(b.ptr, NULL) == d, "%s does not round-trip", b.ptr); /* shortest that round-trips */
    fl_buf_reset(&b);
}

static void test_jw_f64(void)
{
    check_f64(0.1, "0.1");
    check_f64(1.5, "1.5");
    check_f64(100, "100");
    check_f64(-0.0, "-0");
    check_f64(1e21, "1e+21");
    check_f64(1.0 / 3.0, "0.3333333333333333");
    check_f64(5e-324, "5e-324");
    check_f64(1.5e-320, "1.5e-320");
    check_f64(1.7976931348623157e308, "1.7976931348623157e+308");
    check_f64(NAN, "null");
    check_f64(INFINITY, "null");
    check_f64(-INFINITY, "null");
    for (int i = 0; i < 1000; i++) check_f64((double)rand() / (double)rand() * 1e-5, NULL);
}

static void test_jw_errors(void)
{
    fl_buf b;
    fl_buf_init(&b, 0);
    fl_jw w;
    fl_jw_init(&w, &b);
    fl_jw_obj_end(&w); /* nothing open */
    CHECK(b.rc == FL_E_STATE);
    fl_jw_obj_begin(&w); /* sticky: nothing more is written */
    CHECK_EQ_INT(b.len, 0);
    fl_buf_reset(&b);

    fl_buf_init(&b, 0);
    fl_jw_init(&w, &b);
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "a");
    fl_jw_key_c(&w, "b"); /* key after key */
    CHECK(b.rc == FL_E_STATE);
    fl_buf_reset(&b);

    fl_buf_init(&b, 0);
    fl_jw_init(&w, &b);
    fl_jw_key_c(&w, "a"); /* key outside an object */
    CHECK(b.rc == FL_E_STATE);
    fl_buf_reset(&b);

    fl_buf_init(&b, 0);
    fl_jw_init(&w, &b);
    for (int i = 0; i < 63; i++) fl_jw_arr_begin(&w);
    CHECK(b.rc == FL_OK);
    fl_jw_arr_begin(&w); /* 64 levels: over the writer's limit */
    CHECK(b.rc == FL_E_JSON_DEPTH);
    fl_buf_reset(&b);
}

/* Random byte strings, written into fresh and nearly full buffers: the output always
 * parses, valid UTF-8 input comes back unchanged, and a buffer limit gives a clean
 * FL_E_LIMIT with a NUL-terminated prefix. */
static void test_write_stress(void)
{
    uint64_t seed = 0x2545F4914F6CDD1Dull;
    char in[300];
    int bad = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 0;
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        size_t len = (size_t)(seed % sizeof in);
        int mode = (int)((seed >> 20) % 3); /* 0 ASCII+controls, 1 valid UTF-8 mix, 2 any byte */
        while (n < len) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            unsigned r = (unsigned)(seed >> 32);
            if (mode == 0) {
                in[n++] = (char)(r % 3 ? 0x20 + r % 0x5f : r % 0x20);
            } else if (mode == 1 && n + 3 <= len && r % 5 == 0) {
                memcpy(in + n, "\xE2\x82\xAC", 3); /* U+20AC */
                n += 3;
            } else {
                in[n++] = (char)(mode == 2 ? r & 0xff : (r % 4 ? 0x20 + r % 0x5f : r % 0x20));
            }
        }
        fl_buf b;
        fl_buf_init(&b, 0);
        if (iter % 2) fl_buf_append(&b, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", (size_t)(63 - iter % 7));
        size_t pre = b.len;
        if (fl_json_write_str(&b, fl_str_make(in, n)) != FL_OK) bad++;
        fl_json_val *v;
        fl_err err;
        if (fl_json_parse(b.ptr + pre, b.len - pre, NULL, &A, &v, NULL, &err) != FL_OK || !fl_json_is_str(v)) {
            bad++;
        } else if (fl_utf8_valid(in, n, NULL) && (v->len != n || memcmp(v->u.str, in, n) != 0)) {
            bad++;
        }
        if (strlen(b.ptr) != b.len && memchr(in, 0, n) == NULL) bad++; /* NUL-terminated */
        fl_buf_reset(&b);
        /* the same into a buffer with a limit: OK or a clean FL_E_LIMIT */
        fl_buf lim;
        fl_buf_init(&lim, (size_t)(iter % 40) + 1);
        fl_rc rc = fl_json_write_str(&lim, fl_str_make(in, n));
        if (rc != FL_OK && rc != FL_E_LIMIT) bad++;
        if (lim.len > lim.limit || (lim.ptr && lim.ptr[lim.len] != 0)) bad++;
        fl_buf_reset(&lim);
        fl_arena_reset(&A);
    }
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    fl_arena_init(&A, 0, 0);
    RUN(test_escaping);
    RUN(test_write_dom);
    RUN(test_transform_suite);
    RUN(test_jw);
    RUN(test_jw_f64);
    RUN(test_jw_errors);
    RUN(test_write_stress);
    fl_arena_fini(&A);
    return testhelp_done();
}
