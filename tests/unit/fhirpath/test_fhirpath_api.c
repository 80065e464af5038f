/* test_fhirpath_api.c - unit tests of the FHIRPath public API (src/fhirpath).
 * Compile errors and their columns, limits, variables, the value model (exact
 * decimals, temporals, quantities, choice types, primitive extensions), the SQL-on-FHIR
 * key functions, static hints, JSON output and sharing one program across threads. */
#include "testhelp.h"

#include "fhirlake/fhirpath.h"
#include "fhirlake/json.h"

#include <pthread.h>

/* internal: the function table (fp_func.c) */
size_t fhirpath_fntab_count(void);
const char *fhirpath_fntab_name(size_t i);

static const char patient[] =
    "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"active\":true,"
    "\"name\":[{\"use\":\"official\",\"family\":\"Chalmers\",\"given\":[\"Peter\",\"James\"]},"
    "{\"use\":\"usual\",\"given\":[null,\"Jim\"],\"_given\":[{\"extension\":[{\"url\":\"u2\",\"valueString\":\"y\"}]},null]}],"
    "\"birthDate\":\"1974-12-25\",\"_birthDate\":{\"extension\":[{\"url\":\"u\",\"valueString\":\"x\"}]},"
    "\"foo\":\"2020-01-01\",\"managingOrganization\":{\"reference\":\"Organization/1\"},"
    "\"link\":[{\"other\":{\"reference\":\"http://srv/fhir/Patient/p2/_history/3\"}}]}";

static const char observation[] =
    "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"status\":\"final\",\"issued\":\"2013-04-03T15:30:10.01Z\","
    "\"valueQuantity\":{\"value\":185.50,\"unit\":\"lbs\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"[lb_av]\"}}";

static fl_arena arena;

static fl_json_val *parse(const char *text)
{
    fl_json_val *v = NULL;
    fl_err err;
    if (fl_json_parse(text, strlen(text), NULL, &arena, &v, NULL, &err) != FL_OK) return NULL;
    return v;
}

/* Evaluate expr on doc and return the result as compact JSON (static buffer). */
static const char *ev(const char *doc, const char *expr)
{
    static char out[2048];
    fl_err err;
    fl_err_clear(&err);
    fl_fp_prog *p = NULL;
    if (fl_fp_compile(expr, SIZE_MAX, NULL, &p, &err) != FL_OK) {
        snprintf(out, sizeof out, "compile error: %s", err.msg);
        return out;
    }
    fl_fp_coll c;
    fl_rc rc = fl_fp_eval(p, doc ? parse(doc) : NULL, NULL, &arena, &c, &err);
    if (rc) {
        snprintf(out, sizeof out, "eval error: %s", err.msg);
    } else {
        fl_buf b;
        fl_buf_init(&b, 0);
        fl_jw w;
        fl_jw_init(&w, &b);
        fl_fp_coll_write_json(&c, &w);
        snprintf(out, sizeof out, "%s", b.ptr ? b.ptr : "");
        fl_buf_reset(&b);
    }
    fl_fp_prog_free(p);
    return out;
}

static void test_compile_errors(void)
{
    fl_err err;
    fl_fp_prog *p = (fl_fp_prog *)&err;
    fl_err_clear(&err);
    CHECK_EQ_INT(fl_fp_compile("name.where(use = )", SIZE_MAX, NULL, &p, &err), FL_E_FP_SYNTAX);
    CHECK(p == NULL);
    CHECK_EQ_INT(err.col, 18);
    CHECK(strstr(err.msg, "name.where(use = ): col 18: expected an expression") != NULL);

    CHECK_EQ_INT(fl_fp_compile("name.frobnicate()", SIZE_MAX, NULL, &p, &err), FL_E_FP_COMPILE);
    CHECK_EQ_INT(err.col, 6);
    CHECK(strstr(err.msg, "unknown function 'frobnicate'") != NULL);
    CHECK_EQ_INT(fl_fp_compile("name.first(1)", SIZE_MAX, NULL, &p, &err), FL_E_FP_COMPILE);
    CHECK_EQ_INT(fl_fp_compile("%nope + 1", SIZE_MAX, NULL, &p, &err), FL_E_FP_COMPILE);
    CHECK(strstr(err.msg, "unknown variable '%nope'") != NULL);
    CHECK_EQ_INT(fl_fp_compile("'abc", SIZE_MAX, NULL, &p, &err), FL_E_FP_SYNTAX);
    CHECK_EQ_INT(fl_fp_compile("1 + 2 /* open", SIZE_MAX, NULL, &p, &err), FL_E_FP_SYNTAX);
    CHECK_EQ_INT(fl_fp_compile("@T10:00Z", SIZE_MAX, NULL, &p, &err), FL_E_FP_SYNTAX);
    CHECK_EQ_INT(fl_fp_compile("", SIZE_MAX, NULL, &p, &err), FL_E_FP_SYNTAX);
    CHECK_EQ_INT(fl_fp_compile("a b", SIZE_MAX, NULL, &p, &err), FL_E_FP_SYNTAX);
    CHECK_EQ_INT(err.col, 3);

    fl_fp_opts o;
    fl_fp_opts_default(&o);
    o.name = "column 'x'";
    CHECK_EQ_INT(fl_fp_compile("a..b", SIZE_MAX, &o, &p, &err), FL_E_FP_SYNTAX);
    CHECK(strncmp(err.msg, "column 'x': a..b: col 3", 23) == 0);
}

static void test_limits(void)
{
    fl_err err;
    fl_fp_prog *p = NULL;
    char deep[1024];
    size_t n = 0;
    for (int i = 0; i < 300; i++) deep[n++] = '(';
    deep[n++] = '1';
    for (int i = 0; i < 300; i++) deep[n++] = ')';
    deep[n] = 0;
    CHECK_EQ_INT(fl_fp_compile(deep, n, NULL, &p, &err), FL_E_LIMIT);
    fl_fp_opts o;
    fl_fp_opts_default(&o);
    o.max_len = 8;
    CHECK_EQ_INT(fl_fp_compile("name.given.first()", SIZE_MAX, &o, &p, &err), FL_E_LIMIT);
    o.max_len = 0;
    o.max_depth = 4;
    CHECK_EQ_INT(fl_fp_compile("1 + (2 + (3 + (4 + 5)))", SIZE_MAX, &o, &p, &err), FL_E_LIMIT);
    /* repeat() over a self-producing expression stops at the repeat depth limit */
    CHECK(strstr(ev(NULL, "(1).repeat($this + 1)"), "deeper than") != NULL);
    /* pairwise set operations have a comparison budget (FP_MAX_PAIR_COMPARES = 2^26) */
    static char big[10040];
    size_t k = (size_t)snprintf(big, sizeof big, "{\"s\":\"");
    for (int i = 0; i < 10000; i++) big[k++] = (char)('a' + i % 26);
    memcpy(big + k, "\"}", 3);
    CHECK(strstr(ev(big, "s.toChars().distinct()"), "item comparisons exceed the limit") != NULL);
    CHECK(strstr(ev(big, "s.toChars() | s.toChars()"), "item comparisons exceed the limit") != NULL);
    CHECK_EQ_STR(ev(big, "s.toChars().count()"), "[10000]");
    CHECK_EQ_STR(ev(big, "s.substring(0, 3000).toChars().distinct().count()"), "[26]");
    /* substring search is linear: a needle of 50,000 'a' + 'b' in 200,000 'a' + 'b' */
    static char hay[300100];
    k = (size_t)snprintf(hay, sizeof hay, "{\"h\":\"");
    for (int i = 0; i < 200000; i++) hay[k++] = 'a';
    k += (size_t)snprintf(hay + k, sizeof hay - k, "b\",\"n\":\"");
    for (int i = 0; i < 50000; i++) hay[k++] = 'a';
    memcpy(hay + k, "b\"}", 4);
    CHECK_EQ_STR(ev(hay, "h.indexOf(n)"), "[150000]");
    CHECK_EQ_STR(ev(hay, "h.contains(n) and h.split(n).count() = 2"), "[true]");
    /* catastrophic backtracking stops at the regex step limit */
    CHECK(strstr(ev(NULL, "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!'.matches('^(a+)+$')"),
                 "more than 1000000 steps") != NULL);
    CHECK_EQ_STR(ev(NULL, "'abc123'.replaceMatches('[0-9]', '-')"), "[\"abc---\"]");
}

static void test_variables(void)
{
    const char *names[] = {"rowIndex", "c"};
    fl_fp_opts o;
    fl_fp_opts_default(&o);
    o.vars = names;
    o.nvars = 2;
    fl_fp_prog *p = NULL;
    fl_err err;
    CHECK_EQ_INT(fl_fp_compile("%rowIndex + %c", SIZE_MAX, &o, &p, &err), FL_OK);
    if (!p) return;
    fl_fp_item a = fl_fp_item_int(2), b = fl_fp_item_int(3);
    fl_fp_coll vals[2] = {fl_fp_coll_one(&a), fl_fp_coll_one(&b)};
    fl_fp_env env;
    memset(&env, 0, sizeof env);
    env.vars = vals;
    env.nvars = 2;
    fl_fp_coll out;
    CHECK_EQ_INT(fl_fp_eval(p, NULL, &env, &arena, &out, &err), FL_OK);
    CHECK(out.len == 1 && out.items[0].kind == FL_FP_INT && out.items[0].v.i == 5);
    env.nvars = 1;
    CHECK_EQ_INT(fl_fp_eval(p, NULL, &env, &arena, &out, &err), FL_E_ARG);
    fl_fp_prog_free(p);
    CHECK_EQ_STR(ev(NULL, "%ucum"), "[\"http://unitsofmeasure.org\"]");
    CHECK_EQ_STR(ev(patient, "%resource.id"), "[\"p1\"]");
    CHECK_EQ_STR(ev("[1, null, \"a\", {\"x\": 2}]", "$this.count()"), "[3]");
    CHECK_EQ_STR(ev("[1, null, \"a\", {\"x\": 2}]", "x"), "[2]");
}

static void test_decimals(void)
{
    CHECK_EQ_STR(ev(NULL, "0.1 + 0.2 = 0.3"), "[true]");
    CHECK_EQ_STR(ev(NULL, "1.0 / 3"), "[0.33333333]");
    CHECK_EQ_STR(ev(NULL, "1.10 = 1.1"), "[true]");
    CHECK_EQ_STR(ev(NULL, "1234567890987654321.5 + 1"), "[1234567890987654322.5]");
    CHECK_EQ_STR(ev(NULL, "7 div 2"), "[3]");
    CHECK_EQ_STR(ev(NULL, "-7 mod 3"), "[-1]");
    CHECK_EQ_STR(ev(NULL, "1 / 0"), "[]");
    CHECK_EQ_STR(ev(NULL, "9223372036854775807 + 1"), "[]");
    CHECK_EQ_STR(ev(NULL, "2.5.round()"), "[3]");
    CHECK_EQ_STR(ev(NULL, "1.587.lowBoundary()"), "[1.58650000]");
    CHECK_EQ_STR(ev(observation, "value.value"), "[185.50]");
}

static void test_navigation(void)
{
    CHECK_EQ_STR(ev(patient, "name.given"), "[\"Peter\",\"James\",null,\"Jim\"]");
    CHECK_EQ_STR(ev(patient, "name.given.count()"), "[4]");
    CHECK_EQ_STR(ev(patient, "name[1].given.hasValue()"), "[false]"); /* not a single primitive */
    CHECK_EQ_STR(ev(patient, "name[1].given.select(hasValue())"), "[false,true]");
    {
        fl_fp_prog *p = NULL;
        fl_err err;
        fl_fp_coll c;
        CHECK_EQ_INT(fl_fp_compile("name[1].given", SIZE_MAX, NULL, &p, &err), FL_OK);
        CHECK_EQ_INT(fl_fp_eval(p, parse(patient), NULL, &arena, &c, &err), FL_OK);
        CHECK(c.len == 2 && !fl_fp_item_has_value(&c.items[0]) && fl_fp_item_has_value(&c.items[1]));
        fl_fp_prog_free(p);
    }
    CHECK_EQ_STR(ev(patient, "name[1].given.first().extension('u2').valueString"), "[\"y\"]");
    CHECK_EQ_STR(ev(patient, "birthDate.extension('u').value"), "[\"x\"]");
    CHECK_EQ_STR(ev(patient, "Patient.name.where(use = 'official').family"), "[\"Chalmers\"]");
    CHECK(strncmp(ev(patient, "Observation.status"), "eval error", 10) == 0);
    CHECK_EQ_STR(ev(observation, "value.ofType(Quantity).unit"), "[\"lbs\"]");
    CHECK_EQ_STR(ev(observation, "value.ofType(string)"), "[]");
    CHECK_EQ_STR(ev(observation, "value is Quantity"), "[true]");
    CHECK_EQ_STR(ev(observation, "value > 100 '[lb_av]'"), "[true]");
    CHECK_EQ_STR(ev(observation, "value = 185.5 '[lb_av]'"), "[true]");
    CHECK_EQ_STR(ev(patient, "name.single()"), "eval error: name.single(): col 6: single() on 2 items");
    /* choice elements: every valueX is found, with its _valueX; _valueX alone is a no-value item */
    const char *multi = "{\"valueDateTime\":\"2010-10-10\",\"_valueDateTime\":{\"id\":\"d\"},"
                        "\"valueQuantity\":{\"value\":1.0},\"_effectiveDateTime\":{\"id\":\"e\"}}";
    CHECK_EQ_STR(ev(multi, "value.ofType(dateTime).lowBoundary()"), "[\"2010-10-10T00:00:00.000+14:00\"]");
    CHECK_EQ_STR(ev(multi, "value.ofType(Quantity).value"), "[1.0]");
    CHECK_EQ_STR(ev(multi, "value.ofType(dateTime).id"), "[\"d\"]");
    CHECK_EQ_STR(ev(multi, "effective.count()"), "[1]");
    CHECK_EQ_STR(ev(multi, "effective.hasValue()"), "[false]");
    CHECK_EQ_STR(ev("{\"_given\":[{\"id\":\"a\"},null,{\"id\":\"b\"}]}", "given.id"), "[\"a\",\"b\"]");
}

static void test_where(void)
{
    /* where(member = 'text') has a fast path; these cover each of its fall-backs */
    const char *doc = "{\"t\":[{\"use\":\"home\",\"v\":1},{\"v\":2},{\"use\":\"work\",\"v\":3},"
                      "{\"_use\":{\"id\":\"u\"},\"v\":4},{\"use\":[\"home\"],\"v\":5},"
                      "{\"valueString\":\"home\",\"v\":6},{\"use\":\"2020-01-01\",\"v\":7},{\"use\":true,\"v\":8}]}";
    CHECK_EQ_STR(ev(doc, "t.where(use = 'home').v"), "[1,5]");
    CHECK_EQ_STR(ev(doc, "t.where(value = 'home').v"), "[6]");
    CHECK_EQ_STR(ev(doc, "t.where(use = '2020-01-01').v"), "[7]");
    CHECK_EQ_STR(ev(doc, "t.where(use != 'home').v"), "[3,7,8]");
    CHECK_EQ_STR(ev(doc, "t.where(use.id = 'u').v"), "[4]");
    CHECK_EQ_STR(ev(doc, "t.v.join('-')"), "[\"1-2-3-4-5-6-7-8\"]");
    CHECK_EQ_STR(ev(doc, "t.first().use.join(', ')"), "[\"home\"]");
}

static void test_temporal(void)
{
    CHECK_EQ_STR(ev(patient, "birthDate < @2000-01-01"), "[true]");
    CHECK_EQ_STR(ev(patient, "birthDate.is(date)"), "[true]");
    CHECK_EQ_STR(ev(patient, "foo > @2019"), "[true]");            /* untyped string read as a date */
    CHECK_EQ_STR(ev(patient, "foo = @2020-01-01"), "[true]");
    CHECK_EQ_STR(ev(observation, "issued > @2013-04-03T15:30:10Z"), "[true]");
    CHECK_EQ_STR(ev(observation, "issued.is(instant)"), "[true]");
    CHECK_EQ_STR(ev(NULL, "@2012-04-15T15:00:00+02:00 = @2012-04-15T16:00:00+03:00"), "[true]");
    CHECK_EQ_STR(ev(NULL, "@2018-03 < @2018-03-01"), "[]");
    CHECK_EQ_STR(ev(NULL, "@2019-01-31 + 1 month"), "[\"2019-02-28\"]");
    CHECK_EQ_STR(ev(NULL, "@2014-01-01T08:05+08:00.lowBoundary()"), "[\"2014-01-01T08:05:00.000+08:00\"]");
}

static void test_values(void)
{
    /* decimals: rounding, scale, comparison across scales */
    CHECK_EQ_STR(ev(NULL, "(-2.5).round()"), "[-3]");
    CHECK_EQ_STR(ev(NULL, "1.005.round(2)"), "[1.01]");
    CHECK_EQ_STR(ev(NULL, "0.1 * 3"), "[0.3]");
    CHECK_EQ_STR(ev(NULL, "10.0 / 4"), "[2.5]");
    CHECK_EQ_STR(ev(NULL, "1.2 ~ 1.23"), "[true]");
    CHECK_EQ_STR(ev(NULL, "100.000 > 99.9999"), "[true]");
    CHECK_EQ_STR(ev(NULL, "(-1.5).truncate()"), "[-1]");
    CHECK_EQ_STR(ev(NULL, "1.power(9223372036854775807)"), "[1]");   /* by squaring, not a loop */
    CHECK_EQ_STR(ev(NULL, "(-1).power(9223372036854775807)"), "[-1]");
    CHECK_EQ_STR(ev(NULL, "3.power(40)"), "[]");                      /* overflow: empty */
    CHECK_EQ_STR(ev(NULL, "(3 | 1 | 2 | 5 | 4 | 0).sort()"), "[0,1,2,3,4,5]");
    CHECK_EQ_STR(ev(NULL, "('b' | 'a' | 'c' | 'a2').sort(-$this)"), "[\"c\",\"b\",\"a2\",\"a\"]");
    CHECK_EQ_STR(ev(NULL, "1e2"), "compile error: 1e2: col 2: unexpected identifier 'e2' after the expression");
    /* dates: leap years, month ends, offsets, precision */
    CHECK_EQ_STR(ev(NULL, "@2020-02-29 + 1 year"), "[\"2021-02-28\"]");
    CHECK_EQ_STR(ev(NULL, "@2020-03-31 - 1 month"), "[\"2020-02-29\"]");
    CHECK_EQ_STR(ev(NULL, "@2019-12-31T23:30:00Z + 45 minutes"), "[\"2020-01-01T00:15:00Z\"]");
    CHECK_EQ_STR(ev(NULL, "@2020-01-01T00:30:00+01:00 < @2019-12-31T23:45:00Z"), "[true]");
    CHECK_EQ_STR(ev(NULL, "@2020 = @2020-01"), "[]");
    CHECK_EQ_STR(ev(NULL, "@2020 ~ @2020-01"), "[false]");
    CHECK_EQ_STR(ev(NULL, "@T23:00 + 2 hours"), "[\"01:00\"]");
    CHECK_EQ_STR(ev(NULL, "@2020-01-15.precision()"), "[8]");
    CHECK(strstr(ev(NULL, "@2020-01-01 + 9223372036854775807 years"), "outside years 1-9999") != NULL);
    CHECK(strstr(ev(NULL, "@2020-01-01T10:00:00Z - 99999999 weeks"), "outside years 1-9999") != NULL);
    CHECK_EQ_STR(ev(NULL, "@2020-01-01 + 7979 years"), "[\"9999-01-01\"]");
    /* quantities: UCUM conversions of the small built-in table */
    CHECK_EQ_STR(ev(NULL, "1 'L' = 1000 'mL'"), "[true]");
    CHECK_EQ_STR(ev(NULL, "100 'mg/dL' = 1 'g/L'"), "[true]");
    CHECK_EQ_STR(ev(NULL, "1 '[lb_av]' > 450 'g'"), "[true]");
    CHECK_EQ_STR(ev(NULL, "1 'kg' < 1 'm'"), "eval error: 1 'kg' < 1 'm': col 8: cannot compare Quantity with Quantity");
}

static void test_define_variable(void)
{
    CHECK_EQ_STR(ev(NULL, "(1|2|3).defineVariable('n', count()).select($this * %n)"), "[3,6,9]");
    CHECK_EQ_STR(ev(patient, "name.where(use = 'official').select(defineVariable('f', family).given.select($this & ' ' & %f))"),
                 "[\"Peter Chalmers\",\"James Chalmers\"]");
    CHECK_EQ_STR(ev(patient, "defineVariable('a', id).defineVariable('b', %a & '!').select(%b)"), "[\"p1!\"]");
    CHECK_EQ_STR(ev(patient, "defineVariable('x', 1).select(%x) | defineVariable('x', 2).select(%x)"), "[1,2]");
    CHECK(strstr(ev(NULL, "defineVariable('v').select(%v) | %v"), "unknown variable '%v'") != NULL);
    CHECK(strstr(ev(NULL, "defineVariable('v').defineVariable('v')"), "'%v' is already defined") != NULL);
    CHECK(strstr(ev(NULL, "defineVariable('resource')"), "already defined") != NULL);
    CHECK(strstr(ev(NULL, "defineVariable(1)"), "string literal name") != NULL);
}

static void test_keys(void)
{
    CHECK_EQ_STR(ev(patient, "getResourceKey()"), "[\"p1\"]");
    CHECK_EQ_STR(ev(patient, "managingOrganization.getReferenceKey()"), "[\"1\"]");
    CHECK_EQ_STR(ev(patient, "managingOrganization.getReferenceKey(Organization)"), "[\"1\"]");
    CHECK_EQ_STR(ev(patient, "managingOrganization.getReferenceKey(Patient)"), "[]");
    CHECK_EQ_STR(ev(patient, "link.other.getReferenceKey(Patient)"), "[\"p2\"]");
}

static void test_hints(void)
{
    fl_fp_opts o;
    fl_fp_opts_default(&o);
    o.root_type = "Patient";
    struct { const char *expr; fl_fp_hint hint; const char *ftype; } cases[] = {
        {"birthDate", FL_FP_HINT_DATE, "date"},
        {"name.given", FL_FP_HINT_STR, "string"},
        {"name", FL_FP_HINT_NODE, "HumanName"},
        {"name.first().family", FL_FP_HINT_STR, "string"},
        {"active", FL_FP_HINT_BOOL, "boolean"},
        {"count()", FL_FP_HINT_INT, NULL},
        {"name.exists()", FL_FP_HINT_BOOL, NULL},
        {"getResourceKey()", FL_FP_HINT_STR, NULL},
        {"Observation.issued", FL_FP_HINT_DATETIME, "instant"},
        {"extension.value", FL_FP_HINT_UNKNOWN, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fl_fp_prog *p = NULL;
        fl_err err;
        CHECK_EQ_INT(fl_fp_compile(cases[i].expr, SIZE_MAX, &o, &p, &err), FL_OK);
        if (!p) continue;
        CHECK_MSG(fl_fp_prog_hint(p) == cases[i].hint, "%s: hint %d", cases[i].expr, (int)fl_fp_prog_hint(p));
        const char *ft = fl_fp_prog_fhir_type(p);
        CHECK_MSG((ft == NULL && cases[i].ftype == NULL) || (ft && cases[i].ftype && !strcmp(ft, cases[i].ftype)),
                  "%s: fhir type %s", cases[i].expr, ft ? ft : "(null)");
        CHECK_EQ_STR(fl_fp_prog_expr(p), cases[i].expr);
        fl_fp_prog_free(p);
    }
}

static void test_items(void)
{
    fl_fp_prog *p = NULL;
    fl_err err;
    CHECK_EQ_INT(fl_fp_compile("$this.length() + 1", SIZE_MAX, NULL, &p, &err), FL_OK);
    fl_fp_item in = fl_fp_item_str(FL_STR("abcd"));
    fl_fp_coll out;
    CHECK_EQ_INT(fl_fp_eval_coll(p, fl_fp_coll_one(&in), NULL, &arena, &out, &err), FL_OK);
    CHECK(out.len == 1 && out.items[0].v.i == 5);
    fl_fp_prog_free(p);

    fl_buf b;
    fl_buf_init(&b, 0);
    fl_jw w;
    fl_jw_init(&w, &b);
    fl_fp_item q;
    memset(&q, 0, sizeof q);
    q.kind = FL_FP_QTY;
    q.v.q.value = FL_STR("1.50");
    q.v.q.unit = FL_STR("mg");
    fl_fp_item_write_json(&q, &w);
    CHECK_EQ_STR(b.ptr, "{\"value\":1.50,\"unit\":\"mg\"}");
    fl_str s;
    CHECK(fl_fp_item_to_string(&q, &arena, &s));
    CHECK_EQ_MEM(s.ptr, s.len, "1.50 'mg'");
    CHECK_EQ_STR(fl_fp_item_type_name(&q), "Quantity");
    fl_buf_reset(&b);

    int t = 9;
    fl_fp_item tr = fl_fp_item_bool(false);
    fl_fp_coll c1 = fl_fp_coll_one(&tr), c0 = {NULL, 0};
    CHECK(fl_fp_coll_truth(&c1, &t, &err) == FL_OK && t == 0);
    CHECK(fl_fp_coll_truth(&c0, &t, &err) == FL_OK && t == -1);

    fl_json_val *doc = parse("{\"a\":\"2020-02-03\",\"n\":1.0}");
    fl_fp_item di = fl_fp_item_from_json(fl_json_get_c(doc, "a"), "date");
    CHECK(di.kind == FL_FP_DATE && di.prec == FL_FP_PREC_DAY);
    CHECK_EQ_STR(fl_fp_item_type_name(&di), "date");
    fl_fp_item ni = fl_fp_item_from_json(fl_json_get_c(doc, "n"), NULL);
    CHECK(ni.kind == FL_FP_DEC);
    CHECK_EQ_MEM(ni.v.s.ptr, ni.v.s.len, "1.0");
}

static void test_fn_table_sorted(void)
{
    size_t n = fhirpath_fntab_count();
    CHECK(n > 90);
    for (size_t i = 1; i < n; i++) CHECK_MSG(strcmp(fhirpath_fntab_name(i - 1), fhirpath_fntab_name(i)) < 0, "%s", fhirpath_fntab_name(i));
}

typedef struct thr_arg {
    const fl_fp_prog *p;
    const fl_json_val *doc;
    int ok;
} thr_arg;

static void *thr_main(void *argp)
{
    thr_arg *t = argp;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    for (int i = 0; i < 2000; i++) {
        fl_fp_coll out;
        fl_err err;
        if (fl_fp_eval(t->p, t->doc, NULL, &a, &out, &err) == FL_OK && out.len == 1 && out.items[0].kind == FL_FP_STR &&
            fl_str_eq_c(out.items[0].v.s, "Peter James"))
            t->ok++;
        fl_arena_reset(&a);
    }
    fl_arena_fini(&a);
    return NULL;
}

static void test_threads(void)
{
    fl_fp_prog *p = NULL;
    fl_err err;
    CHECK_EQ_INT(fl_fp_compile("name.where(use = 'official').given.join(' ')", SIZE_MAX, NULL, &p, &err), FL_OK);
    thr_arg args[4];
    pthread_t th[4];
    const fl_json_val *doc = parse(patient);
    for (int i = 0; i < 4; i++) {
        args[i] = (thr_arg){p, doc, 0};
        pthread_create(&th[i], NULL, thr_main, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(args[i].ok, 2000);
    }
    fl_fp_prog_free(p);
}

int main(void)
{
    fl_arena_init(&arena, 0, 0);
    RUN(test_compile_errors);
    RUN(test_limits);
    RUN(test_variables);
    RUN(test_decimals);
    RUN(test_navigation);
    RUN(test_where);
    RUN(test_temporal);
    RUN(test_values);
    RUN(test_define_variable);
    RUN(test_keys);
    RUN(test_hints);
    RUN(test_items);
    RUN(test_fn_table_sorted);
    RUN(test_threads);
    fl_arena_fini(&arena);
    return testhelp_done();
}
