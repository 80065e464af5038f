/* test_view_bytes.c - the view module's inline byte helpers (src/view/view_int.h:
 * view_copy, view_bytes_eq) against memcpy/memcmp at every length 0..40, on exact-size
 * heap buffers so that ASan sees any byte read or written outside them; and the NDJSON
 * writer's string path (the word-wise escape check, the direct string/date cells of
 * one-member columns) against fl_json_write_str for every length and escape position. */
#include "view/view_int.h"
#include "testhelp.h"

#include <stdlib.h>

static void test_copy_and_eq(void)
{
    int bad = 0;
    for (size_t n = 0; n <= 40; n++) {
        char *src = malloc(n ? n : 1), *dst = malloc(n ? n : 1), *ref = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++) src[i] = (char)('A' + (i * 7 + n) % 26);
        memset(dst, 0x55, n ? n : 1);
        view_copy(dst, src, n);
        if (n && memcmp(dst, src, n) != 0) bad++;
        memcpy(ref, src, n ? n : 1);
        if (!view_bytes_eq(src, ref, n)) bad++;
        for (size_t k = 0; k < n; k++) { /* one differing byte anywhere */
            ref[k] ^= 0x20;
            if (view_bytes_eq(src, ref, n) || view_bytes_eq(ref, src, n)) bad++;
            ref[k] ^= 0x20;
        }
        free(src);
        free(dst);
        free(ref);
    }
    CHECK_EQ_INT(bad, 0);
}

static fl_view_plan *plan(const char *type)
{
    char view[256];
    snprintf(view, sizeof view,
             "{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"s\",\"path\":\"gender\","
             "\"type\":\"%s\"}]}]}",
             type);
    fl_err err;
    fl_view_plan *p = NULL;
    CHECK_MSG(fl_view_compile(view, strlen(view), NULL, &p, &err) == FL_OK, "compile: %s", err.msg);
    return p;
}

/* One resource with gender = text (JSON-escaped into the resource); returns the NDJSON
 * row or the error code. */
static fl_rc row_of_json(fl_view_plan *p, fl_str text, bool raw, fl_buf *out, fl_err *err)
{
    fl_buf res;
    fl_buf_init(&res, 0);
    fl_buf_append_c(&res, "{\"resourceType\":\"Patient\",\"gender\":");
    if (raw) fl_buf_append(&res, text.ptr, text.len);
    else fl_json_write_str(&res, text);
    fl_buf_putc(&res, '}');
    fl_view_ctx *ctx = NULL;
    fl_view_batch *b = NULL;
    fl_rc rc = fl_view_ctx_new(p, &ctx, err);
    if (!rc) rc = fl_view_batch_new(p, 4, &b, err);
    if (!rc) rc = fl_view_eval_text(ctx, res.ptr, res.len, b, NULL, err);
    if (!rc) {
        fl_view_writer w;
        fl_view_writer_init(&w, p, FL_VIEW_FMT_NDJSON, 0);
        rc = fl_view_writer_batch(&w, b, out);
    }
    fl_view_batch_free(b);
    fl_view_ctx_free(ctx);
    fl_buf_reset(&res);
    return rc;
}

static fl_rc row_of(fl_view_plan *p, fl_str text, fl_buf *out, fl_err *err)
{
    return row_of_json(p, text, false, out, err);
}

/* gender = the raw JSON value json in a column of the given type: the NDJSON row or "error: <msg>" */
static void check_raw(const char *type, const char *json, const char *want)
{
    fl_view_plan *p = plan(type);
    if (!p) return;
    fl_buf out;
    fl_buf_init(&out, 0);
    fl_err err;
    if (row_of_json(p, fl_str_c(json), true, &out, &err) != FL_OK) {
        fl_buf_clear(&out);
        fl_buf_printf(&out, "error: %s", err.msg);
    }
    CHECK_MSG(strstr(out.ptr ? out.ptr : "", want) != NULL, "%s from %s: got %s, want %s", type, json,
              out.ptr ? out.ptr : "", want);
    fl_buf_reset(&out);
    fl_view_plan_free(p);
}

static void test_string_cells(void)
{
    fl_view_plan *p = plan("string");
    if (!p) return;
    static const char specials[] = {'"', '\\', '\n', 0x01, 0x1f, '\t'};
    fl_buf out, want;
    fl_buf_init(&out, 0);
    fl_buf_init(&want, 0);
    int bad = 0;
    char s[32];
    for (size_t n = 0; n <= 24; n++) {
        for (size_t at = 0; at <= n; at++) { /* at == n: no special byte */
            for (size_t k = 0; k < (at < n ? sizeof specials : 1); k++) {
                for (size_t i = 0; i < n; i++) s[i] = (char)('a' + i % 26);
                if (at < n) s[at] = specials[k];
                fl_buf_clear(&out);
                fl_buf_clear(&want);
                fl_err err;
                fl_rc rc = row_of(p, fl_str_make(s, n), &out, &err);
                fl_buf_append_c(&want, "{\"s\":");
                fl_json_write_str(&want, fl_str_make(s, n));
                fl_buf_append_c(&want, "}\n");
                if (rc != FL_OK || out.len != want.len || memcmp(out.ptr, want.ptr, out.len) != 0) {
                    if (!bad) fprintf(stderr, "len %zu at %zu: got %s want %s\n", n, at, out.ptr, want.ptr);
                    bad++;
                }
            }
        }
    }
    CHECK_EQ_INT(bad, 0);
    fl_buf_reset(&out);
    fl_buf_reset(&want);
    fl_view_plan_free(p);
}

static void test_date_cells(void)
{
    fl_view_plan *p = plan("date");
    if (!p) return;
    fl_buf out;
    fl_buf_init(&out, 0);
    fl_err err;
    CHECK(row_of(p, fl_str_c("1970-06-02"), &out, &err) == FL_OK);
    CHECK_EQ_STR(out.ptr, "{\"s\":\"1970-06-02\"}\n");
    fl_buf_clear(&out);
    CHECK(row_of(p, fl_str_c("1970"), &out, &err) == FL_OK); /* partial date: first day */
    CHECK_EQ_STR(out.ptr, "{\"s\":\"1970-01-01\"}\n");
    fl_buf_clear(&out);
    /* not a date: the conversion error of the general path, not a silent null */
    CHECK(row_of(p, fl_str_c("June"), &out, &err) == FL_E_VIEW_EVAL);
    CHECK_MSG(strstr(err.msg, "column 's'") && strstr(err.msg, "June"), "message: %s", err.msg);
    fl_buf_reset(&out);
    fl_view_plan_free(p);
}

/* Numbers and booleans in a single-member column are converted as the general path does. */
static void test_primitive_cells(void)
{
    check_raw("integer", "42", "{\"s\":42}\n");
    check_raw("integer", "-7", "{\"s\":-7}\n");
    check_raw("boolean", "true", "{\"s\":true}\n");
    check_raw("boolean", "false", "{\"s\":false}\n");
    check_raw("string", "12", "{\"s\":\"12\"}\n");
    check_raw("string", "1.50", "{\"s\":\"1.50\"}\n");
    check_raw("string", "true", "{\"s\":\"true\"}\n");
    check_raw("decimal", "1.5", "{\"s\":1.5}\n");
    check_raw("integer", "null", "{\"s\":null}\n");
    /* a value the column cannot hold: the conversion error, naming the column */
    check_raw("integer", "1.5", "column 's'");
    check_raw("boolean", "1", "column 's'");
}

int main(void)
{
    RUN(test_copy_and_eq);
    RUN(test_string_cells);
    RUN(test_date_cells);
    RUN(test_primitive_cells);
    return testhelp_done();
}
