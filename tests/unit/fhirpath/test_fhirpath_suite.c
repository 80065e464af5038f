/* test_fhirpath_suite.c - runs the official FHIRPath R4 suite (tests/data/fhirpath).
 * Cases come from r4-cases.json (made from tests-fhir-r4.xml by
 * tools/fhirpath_xml2json.py); inputs are the JSON forms of the example resources.
 * Every case is compiled and evaluated; the result is compared with the expected
 * outputs (typed, ordered unless the case says otherwise). Writes a report to
 * $FL_BUILD_DIR/fhirpath-report.json and fails when a case fails that is not listed
 * in known-failures.txt, or when the pass count drops below its "# min-pass" line.
 * FP_SUITE_VERBOSE=1 prints every failure; FP_SUITE_WRITE_KNOWN=path writes the
 * current failures (with reasons) in known-failures format. FP_SUITE_DIR (inputs) and
 * FP_SUITE_CASES (cases file) run another copy of the suite ad hoc (e.g. R5); the
 * known-failures check applies to the R4 run only. */
#include "testhelp.h"

#include "fhirlake/fhirpath.h"
#include "fhirlake/json.h"
#include "fhirlake/os.h"

#include <math.h>

#define MAX_INPUTS 32

typedef struct input_file {
    char name[128];
    fl_json_val *root;
    fl_buf text;
    bool loaded, missing;
} input_file;

static input_file inputs[MAX_INPUTS];
static size_t ninputs;
static fl_arena doc_arena;

static const fl_json_val *load_input(fl_str name, char *why, size_t whylen)
{
    for (size_t i = 0; i < ninputs; i++) {
        if (strlen(inputs[i].name) == name.len && !memcmp(inputs[i].name, name.ptr, name.len))
            return inputs[i].missing ? NULL : inputs[i].root;
    }
    if (ninputs == MAX_INPUTS) return NULL;
    input_file *f = &inputs[ninputs++];
    snprintf(f->name, sizeof f->name, "%.*s", (int)name.len, name.ptr);
    char rel[4096];
    const char *dir = getenv("FP_SUITE_DIR");
    if (dir) snprintf(rel, sizeof rel, "%s/%s", dir, f->name);
    else snprintf(rel, sizeof rel, "%s", th_path("tests/data/fhirpath/r4"));
    if (!dir) snprintf(rel + strlen(rel), sizeof rel - strlen(rel), "/%s", f->name);
    fl_buf_init(&f->text, 0);
    fl_err err;
    fl_err_clear(&err);
    if (name.len > 4 && !memcmp(name.ptr + name.len - 4, ".xml", 4)) {
        f->missing = true;
        snprintf(why, whylen, "input %s exists only as XML (no JSON form)", f->name);
        return NULL;
    }
    if (fl_file_read(rel, 0, &f->text, &err) ||
        fl_json_parse(f->text.ptr, f->text.len, NULL, &doc_arena, &f->root, NULL, &err)) {
        f->missing = true;
        snprintf(why, whylen, "cannot load input %.100s: %.300s", f->name, err.msg);
        return NULL;
    }
    return f->root;
}

static fl_str jstr(const fl_json_val *obj, const char *key)
{
    const fl_json_val *v = fl_json_get_c(obj, key);
    return v && v->type == FL_JSON_STRING ? fl_json_str(v) : FL_STR("");
}

static bool jbool(const fl_json_val *obj, const char *key)
{
    const fl_json_val *v = fl_json_get_c(obj, key);
    return v && v->type == FL_JSON_TRUE;
}

/* Compare one result item with an expected (type, value) pair. */
static bool item_matches(const fl_fp_item *it, fl_str type, fl_str value, fl_arena *a)
{
    fl_str sv;
    if (fl_str_eq_c(type, "boolean")) return it->kind == FL_FP_BOOL && fl_str_eq_c(value, it->v.b ? "true" : "false");
    if (fl_str_eq_c(type, "integer")) {
        int64_t v;
        return it->kind == FL_FP_INT && fl_parse_i64(value, &v) && v == it->v.i;
    }
    if (fl_str_eq_c(type, "decimal")) {
        if (it->kind != FL_FP_DEC && it->kind != FL_FP_INT) return false;
        if (!fl_fp_item_to_string(it, a, &sv)) return false;
        if (fl_str_eq(sv, value)) return true;
        double x, y;
        /* equal value written with a different number of trailing zeros */
        return fl_parse_f64(sv, &x) && fl_parse_f64(value, &y) && x == y;
    }
    if (fl_str_eq_c(type, "date") || fl_str_eq_c(type, "dateTime") || fl_str_eq_c(type, "time")) {
        if (it->kind != FL_FP_DATE && it->kind != FL_FP_DATETIME && it->kind != FL_FP_TIME) return false;
        fl_str v = value;
        if (v.len && v.ptr[0] == '@') v = fl_str_make(v.ptr + 1, v.len - 1);
        if (v.len && v.ptr[0] == 'T') v = fl_str_make(v.ptr + 1, v.len - 1);
        return fl_str_eq(it->v.s, v);
    }
    if (fl_str_eq_c(type, "Quantity")) {
        return it->kind == FL_FP_QTY && fl_fp_item_to_string(it, a, &sv) && fl_str_eq(sv, value);
    }
    if (type.len == 0) {
        /* untyped expectation: compare the string form ("@" literals without the '@') */
        if (!fl_fp_item_to_string(it, a, &sv)) return false;
        fl_str v = value;
        if (v.len && v.ptr[0] == '@') {
            v = fl_str_make(v.ptr + 1, v.len - 1);
            if (v.len && v.ptr[0] == 'T' && it->kind == FL_FP_TIME) v = fl_str_make(v.ptr + 1, v.len - 1);
        }
        return fl_str_eq(sv, v);
    }
    /* string-like FHIR and System types */
    if (it->kind == FL_FP_NODE || !fl_fp_item_to_string(it, a, &sv)) return false;
    return fl_str_eq(sv, value);
}

typedef struct known {
    char name[128];
    bool seen;
} known;

static known knowns[512];
static size_t nknown;
static long min_pass;

static void load_known(void)
{
    fl_buf b;
    fl_buf_init(&b, 0);
    fl_err err;
    if (fl_file_read(th_path("tests/data/fhirpath/known-failures.txt"), 0, &b, &err)) {
        fl_buf_reset(&b);
        return;
    }
    const char *p = b.ptr, *end = b.ptr + b.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        size_t n = (size_t)(nl - p);
        if (n > 11 && !memcmp(p, "# min-pass ", 11)) {
            min_pass = strtol(p + 11, NULL, 10);
        } else if (n && p[0] != '#' && nknown < 512) {
            size_t k = 0;
            while (k < n && p[k] != '\t' && p[k] != ' ' && k < sizeof knowns[0].name - 1) k++;
            memcpy(knowns[nknown].name, p, k);
            knowns[nknown].name[k] = 0;
            nknown++;
        }
        p = nl + 1;
    }
    fl_buf_reset(&b);
}

static known *find_known(fl_str name)
{
    for (size_t i = 0; i < nknown; i++)
        if (fl_str_eq_c(name, knowns[i].name)) return &knowns[i];
    return NULL;
}

static void test_suite(void)
{
    fl_arena_init(&doc_arena, 0, 0);
    load_known();
    fl_buf cases_text;
    fl_buf_init(&cases_text, 0);
    fl_err err;
    fl_err_clear(&err);
    fl_json_val *cases = NULL;
    const char *cases_path = getenv("FP_SUITE_CASES");
    bool adhoc = cases_path != NULL;
    if (!cases_path) cases_path = th_path("tests/data/fhirpath/r4-cases.json");
    CHECK(fl_file_read(cases_path, 0, &cases_text, &err) == FL_OK);
    CHECK(fl_json_parse(cases_text.ptr, cases_text.len, NULL, &doc_arena, &cases, NULL, &err) == FL_OK);
    if (!cases || cases->type != FL_JSON_ARRAY) return;

    const char *verbose = getenv("FP_SUITE_VERBOSE");
    const char *write_known = getenv("FP_SUITE_WRITE_KNOWN");
    FILE *kf = write_known ? fopen(write_known, "w") : NULL;
    fl_buf report;
    fl_buf_init(&report, 0);
    fl_jw w;
    fl_jw_init(&w, &report);
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "cases");
    fl_jw_arr_begin(&w);

    fl_arena a;
    fl_arena_init(&a, 0, 64u << 20);
    int pass = 0, fail = 0, unexpected = 0;
    fl_buf why_b;
    fl_buf_init(&why_b, 0);
    for (uint32_t ci = 0; ci < cases->len; ci++) {
        const fl_json_val *cs = &cases->u.items[ci];
        fl_str name = jstr(cs, "name"), expr = jstr(cs, "expression"), input = jstr(cs, "input");
        fl_str invalid = jstr(cs, "invalid");
        bool predicate = jbool(cs, "predicate"), ordered = jbool(cs, "ordered");
        const fl_json_val *outs = fl_json_get_c(cs, "outputs");
        char why[512] = "";
        bool ok = false;
        fl_arena_reset(&a);
        const fl_json_val *res = NULL;
        if (input.len) res = load_input(input, why, sizeof why);
        if (input.len && !res) {
            if (!why[0]) snprintf(why, sizeof why, "input %.*s could not be loaded", (int)input.len, input.ptr);
        } else {
            fl_fp_prog *p = NULL;
            fl_err e;
            fl_err_clear(&e);
            fl_rc rc = fl_fp_compile(expr.ptr, expr.len, NULL, &p, &e);
            fl_fp_coll out = {0};
            if (!rc) {
                fl_fp_env env;
                memset(&env, 0, sizeof env);
                rc = fl_fp_eval(p, res, &env, &a, &out, &e);
            }
            if (invalid.len) {
                ok = rc != FL_OK;
                if (!ok) snprintf(why, sizeof why, "expected a %.*s error, got a result", (int)invalid.len, invalid.ptr);
            } else if (rc) {
                snprintf(why, sizeof why, "error: %.400s", e.msg);
            } else {
                fl_fp_item pred;
                if (predicate) {
                    pred = fl_fp_item_bool(out.len > 0);
                    out = fl_fp_coll_one(&pred);
                }
                size_t nexp = outs ? outs->len : 0;
                ok = out.len == nexp;
                if (ok && ordered) {
                    for (size_t k = 0; k < nexp && ok; k++)
                        ok = item_matches(&out.items[k], jstr(&outs->u.items[k], "type"), jstr(&outs->u.items[k], "value"), &a);
                } else if (ok) {
                    bool used[64] = {0};
                    for (size_t k = 0; k < nexp && ok && nexp <= 64; k++) {
                        bool found = false;
                        for (size_t j = 0; j < out.len && !found; j++) {
                            if (!used[j] && item_matches(&out.items[j], jstr(&outs->u.items[k], "type"),
                                                         jstr(&outs->u.items[k], "value"), &a)) {
                                used[j] = found = true;
                            }
                        }
                        ok = found;
                    }
                }
                if (!ok) {
                    fl_buf_clear(&why_b);
                    fl_jw jw;
                    fl_jw_init(&jw, &why_b);
                    fl_fp_coll_write_json(&out, &jw);
                    snprintf(why, sizeof why, "got %.300s", why_b.ptr ? why_b.ptr : "");
                }
            }
            fl_fp_prog_free(p);
        }
        known *kn = find_known(name);
        if (ok) {
            pass++;
        } else {
            fail++;
            if (!kn) unexpected++;
            if (verbose || !kn)
                fprintf(stderr, "%s %.*s: %.*s -> %s\n", kn ? "known-fail" : "FAIL", (int)name.len, name.ptr,
                        (int)(expr.len > 120 ? 120 : expr.len), expr.ptr, why);
            if (kf) {
                for (char *q = why; *q; q++)
                    if (*q == '\n' || *q == '\t') *q = ' ';
                fprintf(kf, "%.*s\t%s\n", (int)name.len, name.ptr, why);
            }
        }
        if (kn) kn->seen = true;
        if (kn && ok) fprintf(stderr, "note: %.*s passes but is listed in known-failures.txt\n", (int)name.len, name.ptr);
        fl_jw_obj_begin(&w);
        fl_jw_key_c(&w, "name");
        fl_jw_str(&w, name);
        fl_jw_key_c(&w, "pass");
        fl_jw_bool(&w, ok);
        if (!ok) {
            fl_jw_key_c(&w, "reason");
            fl_jw_str_c(&w, why);
        }
        fl_jw_obj_end(&w);
    }
    fl_jw_arr_end(&w);
    fl_jw_key_c(&w, "pass");
    fl_jw_i64(&w, pass);
    fl_jw_key_c(&w, "fail");
    fl_jw_i64(&w, fail);
    fl_jw_obj_end(&w);
    const char *bdir = getenv("FL_BUILD_DIR");
    if (bdir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/fhirpath-report.json", bdir);
        fl_file_write_atomic(path, report.ptr, report.len, &err);
    }
    if (kf) fclose(kf);
    printf("fhirpath R4 suite: %d of %d cases pass, %d fail (%d not in known-failures.txt), minimum %ld\n", pass,
           pass + fail, fail, unexpected, min_pass);
    for (size_t i = 0; i < nknown; i++)
        if (!knowns[i].seen) fprintf(stderr, "known-failures.txt names an unknown case: %s\n", knowns[i].name);
    if (!adhoc) {
        CHECK_MSG(unexpected == 0, "%d cases failed that are not listed in known-failures.txt", unexpected);
        CHECK_MSG(pass >= min_pass, "pass count %d is below the minimum %ld", pass, min_pass);
    }
    CHECK(pass + fail == (int)cases->len);
    fl_buf_reset(&why_b);
    fl_buf_reset(&report);
    fl_buf_reset(&cases_text);
    for (size_t i = 0; i < ninputs; i++) fl_buf_reset(&inputs[i].text);
    fl_arena_fini(&a);
    fl_arena_fini(&doc_arena);
}

int main(void)
{
    RUN(test_suite);
    return testhelp_done();
}
