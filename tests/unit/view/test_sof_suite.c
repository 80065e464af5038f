/* test_sof_suite.c - runs the SQL-on-FHIR conformance suite (tests/data/sql-on-fhir/tests)
 * through the view module and writes a report in the suite's test-report format to
 * $FL_BUILD_DIR/sof-report.json (and sof-report-spec.json for the second mode).
 *
 * Every case runs in two type modes:
 *   default  - the DESIGN.md mapping (date -> DATE, dateTime -> TIMESTAMP, decimal -> DOUBLE);
 *              DATE/TIMESTAMP cells are compared with the expected text read by the same
 *              documented rule (fl_view_parse_date / fl_view_parse_timestamp);
 *   spec     - FL_VIEW_TEMPORAL_AS_STRING (close to the SQL-on-FHIR default mapping): temporal
 *              values must equal the expected text byte for byte.
 * Rows are compared as a multiset (order-insensitive), a missing key means null,
 * expectColumns is checked in order, expectError passes only if compilation or evaluation
 * fails. Any failing case fails the test and is listed. */
#include "fhirlake/json.h"
#include "fhirlake/os.h"
#include "fhirlake/view.h"
#include "testhelp.h"

#include <math.h>

typedef struct outcome {
    bool passed;
    char why[600];
} outcome;

static void whyf(outcome *o, const char *fmt, ...) FL_PRINTF(2, 3);
static void whyf(outcome *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->why, sizeof o->why, fmt, ap);
    va_end(ap);
    o->passed = false;
}

/* One value (item idx of v) against an expected JSON value. */
static bool value_matches(const fl_view_vec *v, size_t idx, const fl_json_val *e)
{
    int64_t i64;
    double d;
    switch (v->col->type) {
    case FL_VIEW_STRING: return fl_json_is_str(e) && fl_str_eq(fl_json_str(e), v->data.s[idx]);
    case FL_VIEW_BOOL: return fl_json_is_bool(e) && (e->type == FL_JSON_TRUE) == (v->data.b[idx] != 0);
    case FL_VIEW_INT: return fl_json_as_i64(e, &i64) && i64 == v->data.i32[idx];
    case FL_VIEW_LONG: return fl_json_as_i64(e, &i64) && i64 == v->data.i64[idx];
    case FL_VIEW_DOUBLE: return fl_json_as_f64(e, &d) && d == v->data.f64[idx];
    case FL_VIEW_DATE: {
        int32_t days;
        return fl_json_is_str(e) && fl_view_parse_date(fl_json_str(e), &days) && days == v->data.i32[idx];
    }
    case FL_VIEW_TIMESTAMP:
        return fl_json_is_str(e) && fl_view_parse_timestamp(fl_json_str(e), &i64) && i64 == v->data.i64[idx];
    case FL_VIEW_DECIMAL: {
        char buf[64];
        fl_view_format_decimal(v->data.i64[idx], v->col->scale, buf, sizeof buf);
        double mine = strtod(buf, NULL);
        return fl_json_as_f64(e, &d) && d == mine;
    }
    }
    return false;
}

static bool cell_matches(const fl_view_vec *v, size_t row, const fl_json_val *e)
{
    if (!e || fl_json_is_null(e)) return !v->valid[row];
    if (!v->valid[row]) return false;
    if (!v->col->collection) return value_matches(v, row, e);
    if (!fl_json_is_arr(e)) return false;
    uint32_t b = v->offsets[row], n = v->offsets[row + 1] - b;
    if (n != e->len) return false;
    for (uint32_t k = 0; k < n; k++)
        if (!value_matches(v, b + k, &e->u.items[k])) return false;
    return true;
}

static bool row_matches(const fl_view_batch *b, size_t row, const fl_json_val *exp)
{
    size_t ncols = fl_view_batch_ncols(b);
    for (size_t c = 0; c < ncols; c++) {
        const fl_view_vec *v = fl_view_batch_col(b, c);
        if (!cell_matches(v, row, fl_json_get_c(exp, v->col->name))) return false;
    }
    return true;
}

static void describe_row(const fl_view_plan *plan, const fl_view_batch *b, size_t row, char *out, size_t cap)
{
    fl_view_writer w;
    fl_buf buf;
    fl_buf_init(&buf, 0);
    fl_view_writer_init(&w, plan, FL_VIEW_FMT_NDJSON, 0);
    /* write the whole batch, then cut the row we want */
    fl_view_writer_batch(&w, b, &buf);
    const char *p = buf.ptr ? buf.ptr : "";
    for (size_t r = 0; r < row && *p; r++) {
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : p + strlen(p);
    }
    const char *nl = strchr(p, '\n');
    snprintf(out, cap, "%.*s", (int)(nl ? (size_t)(nl - p) : strlen(p)), p);
    fl_buf_reset(&buf);
}

static void run_case(const fl_json_val *resources, const fl_json_val *t, uint32_t flags, outcome *o)
{
    fl_err err;
    fl_view_opts vo;
    fl_view_opts_default(&vo);
    vo.flags = flags;
    fl_view_plan *plan = NULL;
    fl_view_ctx *ctx = NULL;
    fl_view_batch *b = NULL;
    const fl_json_val *expect_err = fl_json_get_c(t, "expectError");
    bool want_error = expect_err && expect_err->type == FL_JSON_TRUE;
    o->passed = true;
    o->why[0] = 0;

    fl_rc rc = fl_view_compile_json(fl_json_get_c(t, "view"), &vo, &plan, &err);
    if (rc) {
        if (!want_error) whyf(o, "compile failed: %s", err.msg);
        return;
    }
    if (fl_view_ctx_new(plan, &ctx, &err) || fl_view_batch_new(plan, 64, &b, &err)) {
        whyf(o, "setup failed: %s", err.msg);
        goto done;
    }
    for (uint32_t i = 0; resources && i < resources->len; i++) {
        size_t rows;
        rc = fl_view_eval(ctx, &resources->u.items[i], b, &rows, &err);
        if (rc) break;
    }
    if (want_error) {
        if (!rc) whyf(o, "expected an error, but the view ran and produced %zu rows", fl_view_batch_rows(b));
        goto done;
    }
    if (rc) {
        whyf(o, "evaluation failed: %s", err.msg);
        goto done;
    }
    const fl_json_val *cols = fl_json_get_c(t, "expectColumns");
    if (cols) {
        bool ok = cols->len == fl_view_plan_ncols(plan);
        for (uint32_t i = 0; ok && i < cols->len; i++)
            ok = fl_str_eq_c(fl_json_str(&cols->u.items[i]), fl_view_plan_col(plan, i)->name);
        if (!ok) {
            char names[300] = "";
            for (size_t i = 0; i < fl_view_plan_ncols(plan); i++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "," : "",
                         fl_view_plan_col(plan, i)->name);
            whyf(o, "columns are [%s], not the expected order", names);
            goto done;
        }
    }
    const fl_json_val *cnt = fl_json_get_c(t, "expectCount");
    size_t nrows = fl_view_batch_rows(b);
    if (cnt) {
        int64_t want;
        if (!fl_json_as_i64(cnt, &want) || (size_t)want != nrows)
            whyf(o, "expected %s rows, got %zu", cnt->u.str, nrows);
        goto done;
    }
    const fl_json_val *exp = fl_json_get_c(t, "expect");
    if (!fl_json_is_arr(exp)) {
        whyf(o, "test has no expect/expectCount/expectError");
        goto done;
    }
    if (exp->len != nrows) {
        whyf(o, "expected %u rows, got %zu", exp->len, nrows);
        goto done;
    }
    /* every expected key must be a column */
    for (uint32_t i = 0; i < exp->len; i++) {
        const fl_json_val *row = &exp->u.items[i];
        for (uint32_t m = 0; m < row->len; m++) {
            bool found = false;
            for (size_t c = 0; c < fl_view_plan_ncols(plan) && !found; c++)
                found = fl_str_eq_c(row->u.members[m].key, fl_view_plan_col(plan, c)->name);
            if (!found) {
                whyf(o, "expected column '" FL_STR_FMT "' is not produced",
                     FL_STR_ARG(row->u.members[m].key));
                goto done;
            }
        }
    }
    bool *used = calloc(nrows ? nrows : 1, 1);
    for (uint32_t i = 0; i < exp->len && o->passed; i++) {
        bool hit = false;
        for (size_t r = 0; r < nrows && !hit; r++) {
            if (used[r] || !row_matches(b, r, &exp->u.items[i])) continue;
            used[r] = hit = true;
        }
        if (!hit) {
            fl_buf eb;
            fl_buf_init(&eb, 0);
            fl_json_write(&exp->u.items[i], &eb);
            char got[300] = "";
            for (size_t r = 0; r < nrows; r++)
                if (!used[r]) {
                    describe_row(plan, b, r, got, sizeof got);
                    break;
                }
            whyf(o, "expected row %s not found (first unmatched row: %s)", eb.ptr ? eb.ptr : "", got);
            fl_buf_reset(&eb);
        }
    }
    free(used);
done:
    fl_view_batch_free(b);
    fl_view_ctx_free(ctx);
    fl_view_plan_free(plan);
}

typedef struct mode {
    const char *name, *report;
    uint32_t flags;
} mode;

static void run_suite(const mode *m)
{
    fl_err err;
    fl_arena names_arena;
    fl_arena_init(&names_arena, 0, 0);
    const char *dir = th_path("tests/data/sql-on-fhir/tests");
    fl_str *names = NULL;
    size_t nnames = 0;
    CHECK(fl_dir_list(dir, &names_arena, &names, &nnames, &err) == FL_OK);
    fl_buf report;
    fl_buf_init(&report, 0);
    fl_jw jw;
    fl_jw_init(&jw, &report);
    fl_jw_obj_begin(&jw);
    int total = 0, passed = 0, files = 0;
    for (size_t f = 0; f < nnames; f++) {
        if (!fl_str_ends_with(names[f], FL_STR(".json"))) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/" FL_STR_FMT, dir, FL_STR_ARG(names[f]));
        fl_buf text;
        fl_buf_init(&text, 0);
        fl_arena a;
        fl_arena_init(&a, 0, 0);
        fl_json_val *doc = NULL;
        fl_rc rc = fl_file_read(path, 0, &text, &err);
        if (!rc) rc = fl_json_parse(text.ptr, text.len, NULL, &a, &doc, NULL, &err);
        CHECK_MSG(rc == FL_OK, "%s: %s", path, err.msg);
        if (rc) {
            fl_buf_reset(&text);
            fl_arena_fini(&a);
            continue;
        }
        files++;
        const fl_json_val *resources = fl_json_get_c(doc, "resources");
        const fl_json_val *tests = fl_json_get_c(doc, "tests");
        fl_jw_key(&jw, names[f]);
        fl_jw_obj_begin(&jw);
        fl_jw_key_c(&jw, "tests");
        fl_jw_arr_begin(&jw);
        for (uint32_t i = 0; tests && i < tests->len; i++) {
            const fl_json_val *t = &tests->u.items[i];
            fl_str title = fl_json_str(fl_json_get_c(t, "title"));
            outcome o;
            run_case(resources, t, m->flags, &o);
            total++;
            passed += o.passed;
            CHECK_MSG(o.passed, "[%s] " FL_STR_FMT " / " FL_STR_FMT ": %s", m->name, FL_STR_ARG(names[f]),
                      FL_STR_ARG(title), o.why);
            fl_jw_obj_begin(&jw);
            fl_jw_key_c(&jw, "name");
            fl_jw_str(&jw, title);
            fl_jw_key_c(&jw, "result");
            fl_jw_obj_begin(&jw);
            fl_jw_key_c(&jw, "passed");
            fl_jw_bool(&jw, o.passed);
            if (!o.passed) {
                fl_jw_key_c(&jw, "error");
                fl_jw_str_c(&jw, o.why);
            }
            fl_jw_obj_end(&jw);
            fl_jw_obj_end(&jw);
        }
        fl_jw_arr_end(&jw);
        fl_jw_obj_end(&jw);
        fl_buf_reset(&text);
        fl_arena_fini(&a);
    }
    fl_jw_obj_end(&jw);
    fl_buf_putc(&report, '\n');
    const char *bdir = getenv("FL_BUILD_DIR");
    char rpath[4096];
    snprintf(rpath, sizeof rpath, "%s/%s", bdir && *bdir ? bdir : ".", m->report);
    CHECK(fl_file_write_atomic(rpath, report.ptr, report.len, &err) == FL_OK);
    fl_buf_reset(&report);
    fl_arena_fini(&names_arena);
    printf("sql-on-fhir suite [%s]: %d/%d passed in %d files; report %s\n", m->name, passed, total, files,
           rpath);
    CHECK(files > 0 && total > 0);
}

static void test_suite_default(void)
{
    static const mode m = {"default", "sof-report.json", 0};
    run_suite(&m);
}

static void test_suite_spec(void)
{
    static const mode m = {"spec", "sof-report-spec.json", FL_VIEW_TEMPORAL_AS_STRING};
    run_suite(&m);
}

int main(void)
{
    RUN(test_suite_default);
    RUN(test_suite_spec);
    return testhelp_done();
}
