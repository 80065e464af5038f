/* test_view.c - unit tests of the view module: validation messages, type mapping and
 * inference, evaluation semantics on the columnar batch, conversions and the
 * partial-date rule, limits, writers, and a plan shared by two threads. */
#include "fhirlake/json.h"
#include "fhirlake/view.h"
#include "testhelp.h"

#include <pthread.h>

/* ------------------------------------------------------------------ helpers */

/* ctx + batch for p; on failure (e.g. injected allocation failures) frees everything and
 * makes the calling test return. */
#define SETUP_OR_RETURN(p, ctx, b, rows)                                                          \
    do {                                                                                           \
        fl_err se_;                                                                                \
        (ctx) = NULL;                                                                              \
        (b) = NULL;                                                                                \
        bool ok_ = fl_view_ctx_new((p), &(ctx), &se_) == FL_OK &&                                  \
                   fl_view_batch_new((p), (rows), &(b), &se_) == FL_OK;                            \
        CHECK_MSG(ok_, "setup: %s", se_.msg);                                                      \
        if (!ok_) {                                                                                \
            fl_view_batch_free(b);                                                                 \
            fl_view_ctx_free(ctx);                                                                 \
            fl_view_plan_free(p);                                                                  \
            return;                                                                                \
        }                                                                                          \
    } while (0)


static fl_view_plan *compile_ok(const char *view, uint32_t flags)
{
    fl_err err;
    fl_view_opts o;
    fl_view_opts_default(&o);
    o.flags = flags;
    fl_view_plan *p = NULL;
    fl_rc rc = fl_view_compile(view, strlen(view), &o, &p, &err);
    CHECK_MSG(rc == FL_OK, "compile: %s", err.msg);
    return p;
}

/* Expect compilation to fail with code and a message containing `needle`. */
static void compile_err(const char *view, fl_rc code, const char *needle)
{
    fl_err err;
    fl_view_plan *p = NULL;
    fl_rc rc = fl_view_compile(view, strlen(view), NULL, &p, &err);
    CHECK_MSG(rc == code, "%s: rc %s (%s), want %s", view, fl_rc_name(rc), rc ? err.msg : "", fl_rc_name(code));
    CHECK_MSG(rc == FL_OK || strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
    CHECK(p == NULL || rc == FL_OK);
    fl_view_plan_free(p);
}

/* Run plan over NDJSON-ish list of resources; output NDJSON of the rows. */
static fl_rc run_rows(fl_view_plan *p, const char *const *res, size_t n, fl_buf *out, fl_err *err)
{
    fl_view_ctx *ctx = NULL;
    fl_view_batch *b = NULL;
    fl_rc rc = fl_view_ctx_new(p, &ctx, err);
    if (!rc) rc = fl_view_batch_new(p, 4, &b, err);
    for (size_t i = 0; !rc && i < n; i++) rc = fl_view_eval_text(ctx, res[i], strlen(res[i]), b, NULL, err);
    if (!rc) {
        fl_view_writer w;
        fl_view_writer_init(&w, p, FL_VIEW_FMT_NDJSON, 0);
        rc = fl_view_writer_batch(&w, b, out);
        if (!rc) rc = fl_view_writer_finish(&w, out);
    }
    fl_view_batch_free(b);
    fl_view_ctx_free(ctx);
    return rc;
}

static void expect_rows(const char *view, const char *const *res, size_t n, const char *want)
{
    fl_view_plan *p = compile_ok(view, 0);
    if (!p) return;
    fl_buf out;
    fl_buf_init(&out, 0);
    fl_err err;
    fl_rc rc = run_rows(p, res, n, &out, &err);
    CHECK_MSG(rc == FL_OK, "run: %s", err.msg);
    CHECK_EQ_STR(out.ptr ? out.ptr : "", want);
    fl_buf_reset(&out);
    fl_view_plan_free(p);
}

static const char *const pt[] = {
    "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"active\":true,\"birthDate\":\"1970-06\","
    "\"name\":[{\"use\":\"official\",\"family\":\"Smith\",\"given\":[\"Ann\",\"Bea\"]},"
    "{\"family\":\"Jones\"}],\"telecom\":[{\"value\":\"t1\"},{\"value\":\"t2\"}]}",
    "{\"resourceType\":\"Observation\",\"id\":\"o1\"}",
    "{\"resourceType\":\"Patient\",\"id\":\"p2\",\"active\":false}",
};

/* ------------------------------------------------------------------ dates */

static void test_dates(void)
{
    int32_t d;
    int64_t us;
    CHECK(fl_view_parse_date(FL_STR("1970"), &d) && d == 0);
    CHECK(fl_view_parse_date(FL_STR("1970-06"), &d) && d == 151);
    CHECK(fl_view_parse_date(FL_STR("2000-02-29"), &d) && d == 11016);
    CHECK(fl_view_parse_date(FL_STR("2010-10-10T23:00:00-05:00"), &d) && d == 14892); /* date as written */
    CHECK(!fl_view_parse_date(FL_STR("2001-02-29"), &d));
    CHECK(!fl_view_parse_date(FL_STR("2001-13"), &d));
    CHECK(!fl_view_parse_date(FL_STR("20010"), &d));
    CHECK(!fl_view_parse_date(FL_STR(""), &d));
    CHECK(fl_view_parse_timestamp(FL_STR("1970-01-01T00:00:01Z"), &us) && us == 1000000);
    CHECK(fl_view_parse_timestamp(FL_STR("1970-06"), &us) && us == 151LL * 86400 * 1000000);
    CHECK(fl_view_parse_timestamp(FL_STR("2010-10-10T00:00:00.000+14:00"), &us) &&
          us == (14892LL * 86400 - 14 * 3600) * 1000000);
    CHECK(fl_view_parse_timestamp(FL_STR("2020-01-02T03:04:05.1234567Z"), &us) &&
          us % 1000000 == 123456);
    CHECK(fl_view_parse_timestamp(FL_STR("2020-01-02T03:04"), &us) && us % 86400000000LL == (3 * 3600 + 4 * 60) * 1000000LL);
    CHECK(!fl_view_parse_timestamp(FL_STR("2020-01-02T25:00"), &us));
    CHECK(!fl_view_parse_timestamp(FL_STR("2020-01-02T03:04:05+1"), &us));
    char buf[48];
    fl_view_format_date(151, buf, sizeof buf);
    CHECK_EQ_STR(buf, "1970-06-01");
    fl_view_format_date(-1, buf, sizeof buf);
    CHECK_EQ_STR(buf, "1969-12-31");
    fl_view_format_timestamp((14892LL * 86400 - 14 * 3600) * 1000000, buf, sizeof buf);
    CHECK_EQ_STR(buf, "2010-10-09T10:00:00Z");
    fl_view_format_timestamp(1500, buf, sizeof buf);
    CHECK_EQ_STR(buf, "1970-01-01T00:00:00.001500Z");
    fl_view_format_timestamp(-1000, buf, sizeof buf);
    CHECK_EQ_STR(buf, "1969-12-31T23:59:59.999Z");
    fl_view_format_decimal(-12345, 2, buf, sizeof buf);
    CHECK_EQ_STR(buf, "-123.45");
    fl_view_format_decimal(5, 3, buf, sizeof buf);
    CHECK_EQ_STR(buf, "0.005");
}

/* ------------------------------------------------------------------ validation */

static void test_validation(void)
{
    compile_err("{}", FL_E_VIEW_INVALID, "missing required key 'resource'");
    compile_err("[]", FL_E_VIEW_INVALID, "expected a JSON object");
    compile_err("{\"resource\":\"Patient\"", FL_E_JSON_SYNTAX, "ViewDefinition JSON");
    compile_err("{\"resource\":\"Patient\"}", FL_E_VIEW_INVALID, "missing required key 'select'");
    compile_err("{\"resource\":\"Patient\",\"selec\":[]}", FL_E_VIEW_INVALID, "unknown key 'selec'");
    compile_err("{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"a\",\"path\":\"id\",\"typ\":\"id\"}]}]}",
                FL_E_VIEW_INVALID, "select[0].column[0] (column 'a'): unknown key 'typ'");
    compile_err("{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"path\":\"id\"}]}]}", FL_E_VIEW_INVALID,
                "select[0].column[0]: missing required key 'name'");
    compile_err("{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"a\"}]}]}", FL_E_VIEW_INVALID,
                "missing required key 'path'");
    compile_err("{\"resource\":\"Patient\",\"select\":[{\"forEach\":\"name\",\"repeat\":[\"x\"],"
                "\"column\":[{\"name\":\"a\",\"path\":\"id\"}]}]}",
                FL_E_VIEW_INVALID, "only one of forEach, forEachOrNull and repeat");
    compile_err("{\"resource\":\"Patient\",\"select\":[{\"forEach\":1,\"column\":[{\"name\":\"a\",\"path\":\"id\"}]}]}",
                FL_E_VIEW_INVALID, "'forEach' must be a string");
    compile_err("{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"a\",\"path\":\"name.where(\"}]}]}",
                FL_E_VIEW_INVALID, "path 'name.where('");
    compile_err("{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"a\",\"path\":\"id\"},"
                "{\"name\":\"a\",\"path\":\"gender\"}]}]}",
                FL_E_VIEW_INVALID, "duplicate column name 'a'");
    compile_err("{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"a\",\"path\":\"id\",\"type\":\"strng\"}]}]}",
                FL_E_VIEW_INVALID, "unknown type 'strng'");
    compile_err("{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"a b\",\"path\":\"id\"}]}]}",
                FL_E_VIEW_INVALID, "name must match");
    compile_err("{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"a\",\"path\":\"id\","
                "\"tag\":[{\"name\":\"ansi/type\",\"value\":\"GEOMETRY\"}]}]}]}",
                FL_E_VIEW_INVALID, "unsupported ansi/type 'GEOMETRY'");
    compile_err("{\"resource\":\"Patient\",\"constant\":[{\"name\":\"c\"}],\"select\":[{\"column\":[{\"name\":\"a\",\"path\":\"%c\"}]}]}",
                FL_E_VIEW_INVALID, "missing value[x]");
    compile_err("{\"resource\":\"Patient\",\"constant\":[{\"name\":\"c\",\"valueInteger\":\"1\"}],"
                "\"select\":[{\"column\":[{\"name\":\"a\",\"path\":\"%c\"}]}]}",
                FL_E_VIEW_INVALID, "wrong JSON type");
    compile_err("{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"a\",\"path\":\"%nope\"}]}]}",
                FL_E_VIEW_INVALID, "path '%nope'");
    /* unionAll: count, names, order */
    compile_err("{\"resource\":\"Patient\",\"select\":[{\"unionAll\":[{\"column\":[{\"name\":\"a\",\"path\":\"id\"}]},"
                "{\"column\":[{\"name\":\"a\",\"path\":\"id\"},{\"name\":\"b\",\"path\":\"id\"}]}]}]}",
                FL_E_VIEW_INVALID, "unionAll[1] has 2 columns but unionAll[0] has 1");
    compile_err("{\"resource\":\"Patient\",\"select\":[{\"unionAll\":[{\"column\":[{\"name\":\"a\",\"path\":\"id\"},"
                "{\"name\":\"b\",\"path\":\"id\"}]},{\"column\":[{\"name\":\"b\",\"path\":\"id\"},{\"name\":\"a\",\"path\":\"id\"}]}]}]}",
                FL_E_VIEW_INVALID, "unionAll[1] column 0 is 'b' but unionAll[0] has 'a'");
    compile_err("{\"resource\":\"Patient\",\"select\":[{\"unionAll\":[{\"column\":[{\"name\":\"a\",\"path\":\"id\",\"type\":\"integer\"}]},"
                "{\"column\":[{\"name\":\"a\",\"path\":\"id\",\"type\":\"string\"}]}]}]}",
                FL_E_VIEW_INVALID, "column 'a' is STRING but unionAll[0] has INT");
    compile_err("{\"resource\":\"Patient\",\"select\":[{}]}", FL_E_VIEW_INVALID, "needs at least one column");
    /* a where that is statically a string */
    compile_err("{\"resource\":\"Patient\",\"where\":[{\"path\":\"name\"}],\"select\":[{\"column\":[{\"name\":\"a\",\"path\":\"id\"}]}]}",
                FL_E_VIEW_INVALID, "does not return a boolean");
    /* leniency flag */
    fl_view_plan *p = compile_ok("{\"resource\":\"Patient\",\"x\":1,\"select\":[{\"column\":[{\"name\":\"a\",\"path\":\"id\"}]}]}",
                                 FL_VIEW_LENIENT_KEYS);
    fl_view_plan_free(p);
}

/* ------------------------------------------------------------------ types */

static void test_types(void)
{
    fl_view_plan *p = compile_ok(
        "{\"resource\":\"Patient\",\"name\":\"pt\",\"select\":[{\"column\":["
        "{\"name\":\"s\",\"path\":\"id\",\"type\":\"id\"},"
        "{\"name\":\"b\",\"path\":\"active\",\"type\":\"boolean\"},"
        "{\"name\":\"i\",\"path\":\"multipleBirth\",\"type\":\"positiveInt\"},"
        "{\"name\":\"l\",\"path\":\"id\",\"type\":\"integer64\"},"
        "{\"name\":\"d\",\"path\":\"id\",\"type\":\"decimal\"},"
        "{\"name\":\"dt\",\"path\":\"birthDate\",\"type\":\"date\"},"
        "{\"name\":\"ts\",\"path\":\"id\",\"type\":\"dateTime\"},"
        "{\"name\":\"ins\",\"path\":\"id\",\"type\":\"instant\"},"
        "{\"name\":\"tm\",\"path\":\"id\",\"type\":\"time\"},"
        "{\"name\":\"hn\",\"path\":\"name\",\"type\":\"HumanName\",\"collection\":true},"
        "{\"name\":\"dec\",\"path\":\"id\",\"tag\":[{\"name\":\"ansi/type\",\"value\":\"decimal(10, 2)\"}]},"
        "{\"name\":\"lit\",\"path\":\"'abc'\"},"
        "{\"name\":\"flag\",\"path\":\"true\"},"
        "{\"name\":\"one\",\"path\":\"1\"},"
        "{\"name\":\"ex\",\"path\":\"name.exists()\"}]}]}",
        0);
    if (!p) return;
    static const struct {
        const char *name;
        fl_view_type t;
        bool coll;
    } want[] = {{"s", FL_VIEW_STRING, 0},    {"b", FL_VIEW_BOOL, 0},   {"i", FL_VIEW_INT, 0},
                {"l", FL_VIEW_LONG, 0},      {"d", FL_VIEW_DOUBLE, 0}, {"dt", FL_VIEW_DATE, 0},
                {"ts", FL_VIEW_TIMESTAMP, 0}, {"ins", FL_VIEW_TIMESTAMP, 0}, {"tm", FL_VIEW_STRING, 0},
                {"hn", FL_VIEW_STRING, 1},   {"dec", FL_VIEW_DECIMAL, 0}, {"lit", FL_VIEW_STRING, 0},
                {"flag", FL_VIEW_BOOL, 0},   {"one", FL_VIEW_INT, 0},  {"ex", FL_VIEW_BOOL, 0}};
    CHECK_EQ_INT(fl_view_plan_ncols(p), sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0] && i < fl_view_plan_ncols(p); i++) {
        const fl_view_col *c = fl_view_plan_col(p, i);
        CHECK_EQ_STR(c->name, want[i].name);
        CHECK_MSG(c->type == want[i].t, "column %s: %s, want %s", c->name, fl_view_type_name(c->type),
                  fl_view_type_name(want[i].t));
        CHECK(c->collection == want[i].coll);
    }
    const fl_view_col *dec = fl_view_plan_col(p, 10);
    CHECK(dec->precision == 10 && dec->scale == 2);
    CHECK_EQ_STR(fl_view_plan_name(p), "pt");
    CHECK_EQ_STR(fl_view_plan_resource(p), "Patient");
    fl_view_plan_free(p);

    /* unionAll branches: an undeclared column takes the declared type of another branch;
     * two different inferred types fall back to STRING */
    p = compile_ok("{\"resource\":\"Patient\",\"select\":[{\"unionAll\":["
                   "{\"column\":[{\"name\":\"a\",\"path\":\"active\"},{\"name\":\"b\",\"path\":\"birthDate\"}]},"
                   "{\"column\":[{\"name\":\"a\",\"path\":\"'x'\",\"type\":\"string\"},{\"name\":\"b\",\"path\":\"gender\"}]}]}]}",
                   0);
    if (p) {
        CHECK(fl_view_plan_ncols(p) == 2);
        CHECK(fl_view_plan_col(p, 0)->type == FL_VIEW_STRING && fl_view_plan_col(p, 0)->declared);
        CHECK(fl_view_plan_col(p, 1)->type == FL_VIEW_STRING && !fl_view_plan_col(p, 1)->declared);
    }
    fl_view_plan_free(p);

    /* the spec mapping keeps temporal text */
    p = compile_ok("{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"dt\",\"path\":\"birthDate\",\"type\":\"date\"}]}]}",
                   FL_VIEW_TEMPORAL_AS_STRING);
    if (p) CHECK(fl_view_plan_col(p, 0)->type == FL_VIEW_STRING);
    fl_view_plan_free(p);
}

static void test_ansi_and_options(void)
{
    static const struct {
        const char *ansi;
        int type; /* 0 = rejected */
        int precision, scale;
    } cases[] = {
        {"integer", FL_VIEW_INT, 0, 0},           {"int", FL_VIEW_INT, 0, 0},
        {"BIGINT", FL_VIEW_LONG, 0, 0},           {"Varchar(20)", FL_VIEW_STRING, 0, 0},
        {"CHARACTER VARYING", FL_VIEW_STRING, 0, 0}, {"timestamp with time zone", FL_VIEW_TIMESTAMP, 0, 0},
        {"double precision", FL_VIEW_DOUBLE, 0, 0}, {"DECIMAL", FL_VIEW_DECIMAL, 18, 0},
        {"numeric( 5 )", FL_VIEW_DECIMAL, 5, 0},  {"DECIMAL(19,2)", 0, 0, 0},
        {"DECIMAL(4,5)", 0, 0, 0},                {"INTX", 0, 0, 0},
        {"DATE(3)", 0, 0, 0},                     {"VARCHAR(", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char view[512];
        snprintf(view, sizeof view,
                 "{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"c\",\"path\":\"id\","
                 "\"tag\":[{\"name\":\"ansi/type\",\"value\":\"%s\"}]}]}]}",
                 cases[i].ansi);
        fl_err err;
        fl_view_plan *p = NULL;
        fl_rc rc = fl_view_compile(view, strlen(view), NULL, &p, &err);
        if (!cases[i].type) {
            CHECK_MSG(rc == FL_E_VIEW_INVALID && strstr(err.msg, "ansi/type"), "%s accepted", cases[i].ansi);
        } else {
            CHECK_MSG(rc == FL_OK, "%s: %s", cases[i].ansi, err.msg);
            if (p) {
                const fl_view_col *c = fl_view_plan_col(p, 0);
                CHECK_MSG((int)c->type == cases[i].type, "%s -> %s", cases[i].ansi, fl_view_type_name(c->type));
                CHECK(c->declared && c->precision == cases[i].precision && c->scale == cases[i].scale);
            }
        }
        fl_view_plan_free(p);
    }
    /* decimals as text; compile from a parsed DOM */
    const char *v = "{\"resource\":\"Observation\",\"select\":[{\"column\":[{\"name\":\"d\","
                    "\"path\":\"value.ofType(Quantity).value\",\"type\":\"decimal\"}]}]}";
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_json_val *dom = NULL;
    fl_err err;
    CHECK(fl_json_parse(v, strlen(v), NULL, &a, &dom, NULL, &err) == FL_OK);
    fl_view_opts o;
    fl_view_opts_default(&o);
    o.flags = FL_VIEW_DECIMAL_AS_STRING;
    fl_view_plan *p = NULL;
    CHECK(fl_view_compile_json(dom, &o, &p, &err) == FL_OK);
    fl_arena_fini(&a); /* the plan must not depend on the DOM */
    if (p) {
        CHECK(fl_view_plan_col(p, 0)->type == FL_VIEW_STRING);
        static const char *const obs[] = {
            "{\"resourceType\":\"Observation\",\"valueQuantity\":{\"value\":1.50}}"};
        fl_buf out;
        fl_buf_init(&out, 0);
        CHECK(run_rows(p, obs, 1, &out, &err) == FL_OK);
        CHECK_EQ_STR(out.ptr ? out.ptr : "", "{\"d\":\"1.50\"}\n");
        fl_buf_reset(&out);
    }
    fl_view_plan_free(p);
    CHECK(fl_view_compile_json(NULL, NULL, &p, &err) == FL_E_VIEW_INVALID && p == NULL);
}

/* ------------------------------------------------------------------ evaluation */

static void test_eval_basic(void)
{
    expect_rows("{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"id\",\"path\":\"id\"},"
                "{\"name\":\"active\",\"path\":\"active\",\"type\":\"boolean\"},"
                "{\"name\":\"bd\",\"path\":\"birthDate\",\"type\":\"date\"}]}]}",
                pt, 3,
                "{\"id\":\"p1\",\"active\":true,\"bd\":\"1970-06-01\"}\n"
                "{\"id\":\"p2\",\"active\":false,\"bd\":null}\n");
    /* forEach x sibling forEachOrNull, with %rowIndex; Observation skipped */
    expect_rows("{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"id\",\"path\":\"id\"}]},"
                "{\"forEachOrNull\":\"name\",\"column\":[{\"name\":\"i\",\"path\":\"%rowIndex\",\"type\":\"integer\"},"
                "{\"name\":\"fam\",\"path\":\"family\",\"type\":\"string\"}]}]}",
                pt, 3,
                "{\"id\":\"p1\",\"i\":0,\"fam\":\"Smith\"}\n"
                "{\"id\":\"p1\",\"i\":1,\"fam\":\"Jones\"}\n"
                "{\"id\":\"p2\",\"i\":0,\"fam\":null}\n");
    /* unionAll and collections */
    expect_rows("{\"resource\":\"Patient\",\"where\":[{\"path\":\"active\"}],\"select\":[{\"column\":[{\"name\":\"id\",\"path\":\"id\"},"
                "{\"name\":\"given\",\"path\":\"name.given\",\"type\":\"string\",\"collection\":true}],"
                "\"unionAll\":[{\"forEach\":\"telecom\",\"column\":[{\"name\":\"v\",\"path\":\"value\",\"type\":\"string\"}]},"
                "{\"forEach\":\"name\",\"column\":[{\"name\":\"v\",\"path\":\"family\",\"type\":\"string\"}]}]}]}",
                pt, 3,
                "{\"id\":\"p1\",\"given\":[\"Ann\",\"Bea\"],\"v\":\"t1\"}\n"
                "{\"id\":\"p1\",\"given\":[\"Ann\",\"Bea\"],\"v\":\"t2\"}\n"
                "{\"id\":\"p1\",\"given\":[\"Ann\",\"Bea\"],\"v\":\"Smith\"}\n"
                "{\"id\":\"p1\",\"given\":[\"Ann\",\"Bea\"],\"v\":\"Jones\"}\n");
    /* forEach over primitives with $this, nested inside forEach */
    expect_rows("{\"resource\":\"Patient\",\"select\":[{\"forEach\":\"name\",\"column\":[{\"name\":\"n\",\"path\":\"%rowIndex\",\"type\":\"integer\"}],"
                "\"select\":[{\"forEach\":\"given\",\"column\":[{\"name\":\"g\",\"path\":\"$this\",\"type\":\"string\"},"
                "{\"name\":\"gi\",\"path\":\"%rowIndex\",\"type\":\"integer\"}]}]}]}",
                pt, 3,
                "{\"n\":0,\"g\":\"Ann\",\"gi\":0}\n"
                "{\"n\":0,\"g\":\"Bea\",\"gi\":1}\n");
    /* repeat, pre-order, objects only */
    static const char *const qr[] = {
        "{\"resourceType\":\"QuestionnaireResponse\",\"id\":\"q\",\"item\":[{\"linkId\":\"1\",\"item\":[{\"linkId\":\"1.1\","
        "\"answer\":[{\"item\":[{\"linkId\":\"1.1.1\"}]}]}]},{\"linkId\":\"2\"}]}"};
    expect_rows("{\"resource\":\"QuestionnaireResponse\",\"select\":[{\"repeat\":[\"item\",\"answer.item\"],"
                "\"column\":[{\"name\":\"l\",\"path\":\"linkId\",\"type\":\"string\"},{\"name\":\"i\",\"path\":\"%rowIndex\",\"type\":\"integer\"}]}]}",
                qr, 1,
                "{\"l\":\"1\",\"i\":0}\n{\"l\":\"1.1\",\"i\":1}\n{\"l\":\"1.1.1\",\"i\":2}\n{\"l\":\"2\",\"i\":3}\n");
    /* constants of several types */
    expect_rows("{\"resource\":\"Patient\",\"constant\":[{\"name\":\"u\",\"valueString\":\"official\"},"
                "{\"name\":\"bd\",\"valueDate\":\"1970-06\"},{\"name\":\"n\",\"valueInteger\":1}],"
                "\"select\":[{\"column\":[{\"name\":\"f\",\"path\":\"name.where(use = %u).family\",\"type\":\"string\"},"
                "{\"name\":\"same\",\"path\":\"birthDate = %bd\",\"type\":\"boolean\"},"
                "{\"name\":\"second\",\"path\":\"name[%n].family\",\"type\":\"string\"}]}]}",
                pt, 1, "{\"f\":\"Smith\",\"same\":true,\"second\":\"Jones\"}\n");
}

/* Paths the member-chain fast path must hand back to FHIRPath (missing members, nulls in
 * arrays, single objects where arrays are usual, choice types) and primitives that only
 * carry an extension (no value: null / left out of collections). */
static void test_fast_path_edges(void)
{
    static const char *const res[] = {
        "{\"resourceType\":\"Patient\",\"id\":\"a\",\"_gender\":{\"extension\":[{\"url\":\"x\",\"valueString\":\"y\"}]},"
        "\"name\":[{\"given\":[\"g1\",null,\"g3\"],\"_given\":[null,{\"id\":\"q\"},null]},{\"family\":\"F\"}],"
        "\"address\":[{\"city\":\"X\"},{\"line\":[\"l\"]}]}",
        "{\"resourceType\":\"Patient\",\"id\":\"b\",\"gender\":\"male\",\"name\":[{\"given\":[\"h\"]}],"
        "\"address\":{\"city\":\"single\"}}",
    };
    expect_rows("{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"id\",\"path\":\"id\"},"
                "{\"name\":\"g\",\"path\":\"gender\",\"type\":\"code\"},"
                "{\"name\":\"given\",\"path\":\"name.given\",\"type\":\"string\",\"collection\":true},"
                "{\"name\":\"fam\",\"path\":\"name.family\",\"collection\":true}]},"
                "{\"forEach\":\"address\",\"column\":[{\"name\":\"city\",\"path\":\"city\",\"type\":\"string\"}]}]}",
                res, 2,
                "{\"id\":\"a\",\"g\":null,\"given\":[\"g1\",\"g3\"],\"fam\":[\"F\"],\"city\":\"X\"}\n"
                "{\"id\":\"a\",\"g\":null,\"given\":[\"g1\",\"g3\"],\"fam\":[\"F\"],\"city\":null}\n"
                "{\"id\":\"b\",\"g\":\"male\",\"given\":[\"h\"],\"fam\":[],\"city\":\"single\"}\n");
    /* a where over a primitive that only has an extension: no value, so not true */
    expect_rows("{\"resource\":\"Patient\",\"where\":[{\"path\":\"active\"}],\"select\":[{\"column\":[{\"name\":\"id\",\"path\":\"id\"}]}]}",
                (const char *const[]){"{\"resourceType\":\"Patient\",\"id\":\"x\",\"_active\":{\"id\":\"e\"}}",
                                      "{\"resourceType\":\"Patient\",\"id\":\"y\",\"active\":true}"},
                2, "{\"id\":\"y\"}\n");
    static const char *const obs[] = {
        "{\"resourceType\":\"Observation\",\"id\":\"o\",\"valueString\":\"s\",\"code\":{\"text\":\"t\"}}"};
    expect_rows("{\"resource\":\"Observation\",\"select\":[{\"column\":[{\"name\":\"v\",\"path\":\"value\",\"type\":\"string\"},"
                "{\"name\":\"t\",\"path\":\"code.text\"}]}]}",
                obs, 1, "{\"v\":\"s\",\"t\":\"t\"}\n");
}

/* where(member = 'text'), first(), join() and getResourceKey() on the fast path, and the
 * cases it must hand back to FHIRPath (an extension on the compared member, a member
 * missing in one kept node, an empty or missing array under join). */
static void test_fast_path_where_join(void)
{
    static const char *const res[] = {
        "{\"resourceType\":\"Patient\",\"id\":\"a\",\"name\":[{\"use\":\"usual\",\"family\":\"U\",\"given\":[\"x\"]},"
        "{\"use\":\"official\",\"family\":\"O\",\"given\":[\"p\",\"q\"]},{\"use\":\"official\",\"family\":\"O2\"}],"
        "\"address\":[{\"line\":[\"1 Main\",\"Apt 2\"]},{\"line\":[]},{}]}",
        "{\"resourceType\":\"Patient\",\"name\":[{\"use\":\"official\",\"_use\":{\"id\":\"u\"},\"family\":\"E\",\"given\":[\"z\"]}]}",
        "{\"resourceType\":\"Patient\",\"id\":\"c\",\"name\":[{\"use\":\"nickname\",\"family\":\"N\"}]}",
    };
    expect_rows("{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"key\",\"path\":\"getResourceKey()\"},"
                "{\"name\":\"fam\",\"path\":\"name.where(use = 'official').family.first()\",\"type\":\"string\"},"
                "{\"name\":\"given\",\"path\":\"name.where(use='official').given.join(' ')\",\"type\":\"string\"}]},"
                "{\"forEachOrNull\":\"address\",\"column\":[{\"name\":\"line\",\"path\":\"line.join(', ')\",\"type\":\"string\"}]}]}",
                res, 3,
                "{\"key\":\"a\",\"fam\":\"O\",\"given\":\"p q\",\"line\":\"1 Main, Apt 2\"}\n"
                "{\"key\":\"a\",\"fam\":\"O\",\"given\":\"p q\",\"line\":null}\n"
                "{\"key\":\"a\",\"fam\":\"O\",\"given\":\"p q\",\"line\":null}\n"
                "{\"key\":null,\"fam\":\"E\",\"given\":\"z\",\"line\":null}\n"
                "{\"key\":\"c\",\"fam\":null,\"given\":null,\"line\":null}\n");
}

static void test_decimal_and_constants(void)
{
    static const char *const obs[] = {
        "{\"resourceType\":\"Observation\",\"id\":\"a\",\"valueQuantity\":{\"value\":1.005}}",
        "{\"resourceType\":\"Observation\",\"id\":\"b\",\"valueQuantity\":{\"value\":-0.125}}",
        "{\"resourceType\":\"Observation\",\"id\":\"c\",\"valueQuantity\":{\"value\":123}}",
    };
    expect_rows("{\"resource\":\"Observation\",\"select\":[{\"column\":[{\"name\":\"id\",\"path\":\"id\"},"
                "{\"name\":\"v\",\"path\":\"value.ofType(Quantity).value\",\"type\":\"decimal\","
                "\"tag\":[{\"name\":\"ansi/type\",\"value\":\"DECIMAL(10,2)\"}]},"
                "{\"name\":\"d\",\"path\":\"value.ofType(Quantity).value\",\"type\":\"decimal\"}]}]}",
                obs, 3,
                "{\"id\":\"a\",\"v\":1.01,\"d\":1.005}\n{\"id\":\"b\",\"v\":-0.13,\"d\":-0.125}\n"
                "{\"id\":\"c\",\"v\":123.00,\"d\":123}\n");
    /* precision overflow is an evaluation error */
    static const char *const big[] = {
        "{\"resourceType\":\"Observation\",\"id\":\"x\",\"valueQuantity\":{\"value\":123456789.1}}"};
    fl_view_plan *p = compile_ok("{\"resource\":\"Observation\",\"select\":[{\"column\":[{\"name\":\"v\","
                                 "\"path\":\"value.ofType(Quantity).value\",\"tag\":[{\"name\":\"ansi/type\",\"value\":\"NUMERIC(10, 2)\"}]}]}]}",
                                 0);
    if (p) {
        fl_buf out;
        fl_buf_init(&out, 0);
        fl_err err;
        CHECK(run_rows(p, big, 1, &out, &err) == FL_E_VIEW_EVAL && strstr(err.msg, "precision"));
        fl_buf_reset(&out);
        fl_view_plan_free(p);
    }
    /* every constant value[x] type compiles and compares */
    static const char *const pt1[] = {"{\"resourceType\":\"Patient\",\"id\":\"p\"}"};
    expect_rows("{\"resource\":\"Patient\",\"constant\":["
                "{\"name\":\"a\",\"valueBase64Binary\":\"aGk=\"},{\"name\":\"b\",\"valueBoolean\":true},"
                "{\"name\":\"c\",\"valueCanonical\":\"http://x\"},{\"name\":\"d\",\"valueCode\":\"c\"},"
                "{\"name\":\"e\",\"valueDate\":\"2020-01\"},{\"name\":\"f\",\"valueDateTime\":\"2020-01-02T03:04:05Z\"},"
                "{\"name\":\"g\",\"valueDecimal\":1.50},{\"name\":\"h\",\"valueId\":\"i1\"},"
                "{\"name\":\"i\",\"valueInstant\":\"2020-01-02T03:04:05.123Z\"},{\"name\":\"j\",\"valueInteger\":-3},"
                "{\"name\":\"k\",\"valueInteger64\":\"9007199254740993\"},{\"name\":\"l\",\"valueOid\":\"urn:oid:1.2\"},"
                "{\"name\":\"m\",\"valuePositiveInt\":4},{\"name\":\"n\",\"valueString\":\"s\"},"
                "{\"name\":\"o\",\"valueTime\":\"10:11:12\"},{\"name\":\"q\",\"valueUnsignedInt\":0},"
                "{\"name\":\"r\",\"valueUri\":\"urn:x\"},{\"name\":\"s\",\"valueUrl\":\"http://u\"},"
                "{\"name\":\"t\",\"valueUuid\":\"urn:uuid:1\"}],"
                "\"select\":[{\"column\":[{\"name\":\"a\",\"path\":\"%a\",\"type\":\"base64Binary\"},"
                "{\"name\":\"b\",\"path\":\"%b\",\"type\":\"boolean\"},{\"name\":\"d\",\"path\":\"%d\",\"type\":\"code\"},"
                "{\"name\":\"e\",\"path\":\"%e\",\"type\":\"date\"},{\"name\":\"f\",\"path\":\"%f\",\"type\":\"dateTime\"},"
                "{\"name\":\"g\",\"path\":\"%g\",\"type\":\"decimal\"},{\"name\":\"i\",\"path\":\"%i\",\"type\":\"instant\"},"
                "{\"name\":\"j\",\"path\":\"%j\",\"type\":\"integer\"},{\"name\":\"k\",\"path\":\"%k\",\"type\":\"integer64\"},"
                "{\"name\":\"m\",\"path\":\"%m + 1\",\"type\":\"positiveInt\"},{\"name\":\"o\",\"path\":\"%o\",\"type\":\"time\"},"
                "{\"name\":\"q\",\"path\":\"%q\",\"type\":\"unsignedInt\"},{\"name\":\"t\",\"path\":\"%t\",\"type\":\"uuid\"},"
                "{\"name\":\"cmp\",\"path\":\"%i > %f and %l = 'urn:oid:1.2' and %c = 'http://x' and "
                "%h = 'i1' and %n = 's' and %r = 'urn:x' and %s = 'http://u'\",\"type\":\"boolean\"}]}]}",
                pt1, 1,
                "{\"a\":\"aGk=\",\"b\":true,\"d\":\"c\",\"e\":\"2020-01-01\",\"f\":\"2020-01-02T03:04:05Z\",\"g\":1.5,"
                "\"i\":\"2020-01-02T03:04:05.123Z\",\"j\":-3,\"k\":9007199254740993,\"m\":5,\"o\":\"10:11:12\",\"q\":0,"
                "\"t\":\"urn:uuid:1\",\"cmp\":true}\n");
}

static void test_eval_errors(void)
{
    fl_err err;
    fl_view_ctx *ctx = NULL;
    fl_view_batch *b = NULL;
    size_t rows = 99;
    /* several values in a non-collection column: error, nothing appended */
    fl_view_plan *p = compile_ok("{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"id\",\"path\":\"id\"},"
                                 "{\"name\":\"fam\",\"path\":\"name.family\",\"type\":\"string\"}]}]}",
                                 0);
    if (!p) return;
    SETUP_OR_RETURN(p, ctx, b, 2);
    CHECK(fl_view_eval_text(ctx, pt[2], strlen(pt[2]), b, &rows, &err) == FL_OK && rows == 1);
    fl_rc rc = fl_view_eval_text(ctx, pt[0], strlen(pt[0]), b, &rows, &err);
    CHECK_EQ_INT(rc, FL_E_VIEW_EVAL);
    CHECK_MSG(strstr(err.msg, "Patient/p1") && strstr(err.msg, "column 'fam'") && strstr(err.msg, "2 values"), "%s", err.msg);
    CHECK_EQ_INT(fl_view_batch_rows(b), 1);
    /* other resource types are skipped */
    CHECK(fl_view_eval_text(ctx, pt[1], strlen(pt[1]), b, &rows, &err) == FL_OK && rows == 0);
    CHECK(fl_view_ctx_last_skipped(ctx));
    /* bad JSON reports its position */
    rc = fl_view_eval_text(ctx, "{\"resourceType\":", 16, b, &rows, &err);
    CHECK(rc == FL_E_JSON_SYNTAX && err.col > 0);
    fl_view_batch_free(b);
    fl_view_ctx_free(ctx);
    fl_view_plan_free(p);

    /* a value that does not convert */
    p = compile_ok("{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"n\",\"path\":\"id\",\"type\":\"integer\"}]}]}", 0);
    if (!p) return;
    SETUP_OR_RETURN(p, ctx, b, 2);
    rc = fl_view_eval_text(ctx, pt[0], strlen(pt[0]), b, &rows, &err);
    CHECK_EQ_INT(rc, FL_E_VIEW_EVAL);
    CHECK_MSG(strstr(err.msg, "column 'n' (INT") && strstr(err.msg, "'p1'"), "%s", err.msg);
    CHECK_EQ_INT(fl_view_batch_rows(b), 0);
    fl_view_batch_free(b);
    fl_view_ctx_free(ctx);
    fl_view_plan_free(p);

    /* a where that is not boolean at run time (its static type is unknown) */
    p = compile_ok("{\"resource\":\"Patient\",\"where\":[{\"path\":\"name | active\"}],\"select\":[{\"column\":[{\"name\":\"id\",\"path\":\"id\"}]}]}", 0);
    if (p) {
        SETUP_OR_RETURN(p, ctx, b, 2);
        rc = fl_view_eval_text(ctx, pt[0], strlen(pt[0]), b, &rows, &err);
        CHECK_MSG(rc == FL_E_VIEW_EVAL && strstr(err.msg, "where[0]"), "%s %s", fl_rc_name(rc), err.msg);
        fl_view_batch_free(b);
        fl_view_ctx_free(ctx);
        fl_view_plan_free(p);
    }
}

static void test_limits(void)
{
    fl_err err;
    fl_view_opts o;
    fl_view_opts_default(&o);
    o.max_rows = 3;
    o.max_repeat_depth = 2;
    const char *v = "{\"resource\":\"Patient\",\"select\":[{\"forEach\":\"name\",\"column\":[{\"name\":\"f\",\"path\":\"family\"}]},"
                    "{\"forEach\":\"telecom\",\"column\":[{\"name\":\"t\",\"path\":\"value\"}]}]}";
    fl_view_plan *p = NULL;
    CHECK(fl_view_compile(v, strlen(v), &o, &p, &err) == FL_OK);
    fl_view_ctx *ctx = NULL;
    fl_view_batch *b = NULL;
    if (!p) return;
    SETUP_OR_RETURN(p, ctx, b, 2);
    fl_rc rc = fl_view_eval_text(ctx, pt[0], strlen(pt[0]), b, NULL, &err); /* 2 x 2 = 4 rows > 3 */
    CHECK_MSG(rc == FL_E_LIMIT && strstr(err.msg, "rows"), "%s", err.msg);
    fl_view_batch_free(b);
    fl_view_ctx_free(ctx);
    fl_view_plan_free(p);

    v = "{\"resource\":\"QuestionnaireResponse\",\"select\":[{\"repeat\":[\"item\"],\"column\":[{\"name\":\"l\",\"path\":\"linkId\"}]}]}";
    CHECK(fl_view_compile(v, strlen(v), &o, &p, &err) == FL_OK);
    if (!p) return;
    const char *deep = "{\"resourceType\":\"QuestionnaireResponse\",\"item\":[{\"linkId\":\"a\",\"item\":[{\"linkId\":\"b\","
                       "\"item\":[{\"linkId\":\"c\"}]}]}]}";
    SETUP_OR_RETURN(p, ctx, b, 2);
    rc = fl_view_eval_text(ctx, deep, strlen(deep), b, NULL, &err);
    CHECK_MSG(rc == FL_E_LIMIT && strstr(err.msg, "repeat deeper than 2"), "%s", err.msg);
    fl_view_batch_free(b);
    fl_view_ctx_free(ctx);
    fl_view_plan_free(p);
}

/* ------------------------------------------------------------------ batch + writers */

static void test_batch_and_writers(void)
{
    fl_view_plan *p = compile_ok(
        "{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"id\",\"path\":\"id\"},"
        "{\"name\":\"note\",\"path\":\"'a,\\\"b\\\"'\",\"type\":\"string\"},"
        "{\"name\":\"given\",\"path\":\"name.given\",\"type\":\"string\",\"collection\":true},"
        "{\"name\":\"bd\",\"path\":\"birthDate\",\"type\":\"dateTime\"},"
        "{\"name\":\"act\",\"path\":\"active\",\"type\":\"boolean\"}]}]}",
        0);
    if (!p) return;
    fl_err err;
    fl_view_ctx *ctx = NULL;
    fl_view_batch *b = NULL;
    SETUP_OR_RETURN(p, ctx, b, 1);
    for (int i = 0; i < 3; i++) CHECK(fl_view_eval_text(ctx, pt[i], strlen(pt[i]), b, NULL, &err) == FL_OK);
    CHECK_EQ_INT(fl_view_batch_rows(b), 2);
    if (fl_view_batch_rows(b) != 2) goto out; /* e.g. an injected allocation failure */
    const fl_view_vec *g = fl_view_batch_col(b, 2);
    CHECK(g->offsets && g->offsets[0] == 0 && g->offsets[1] == 2 && g->offsets[2] == 0 + 2 && g->nitems == 2);
    CHECK(g->valid[0] && g->valid[1]); /* an empty collection is [] not null */
    CHECK(fl_str_eq_c(g->data.s[1], "Bea"));
    const fl_view_vec *bd = fl_view_batch_col(b, 3);
    CHECK(bd->valid[0] && bd->data.i64[0] == 151LL * 86400 * 1000000 && !bd->valid[1]);

    static const struct {
        fl_view_format f;
        uint32_t flags;
        const char *want;
    } cases[] = {
        {FL_VIEW_FMT_NDJSON, 0,
         "{\"id\":\"p1\",\"note\":\"a,\\\"b\\\"\",\"given\":[\"Ann\",\"Bea\"],\"bd\":\"1970-06-01T00:00:00Z\",\"act\":true}\n"
         "{\"id\":\"p2\",\"note\":\"a,\\\"b\\\"\",\"given\":[],\"bd\":null,\"act\":false}\n"},
        {FL_VIEW_FMT_NDJSON, FL_VIEW_W_OMIT_NULLS,
         "{\"id\":\"p1\",\"note\":\"a,\\\"b\\\"\",\"given\":[\"Ann\",\"Bea\"],\"bd\":\"1970-06-01T00:00:00Z\",\"act\":true}\n"
         "{\"id\":\"p2\",\"note\":\"a,\\\"b\\\"\",\"given\":[],\"act\":false}\n"},
        {FL_VIEW_FMT_CSV, 0,
         "id,note,given,bd,act\r\n"
         "p1,\"a,\"\"b\"\"\",\"[\"\"Ann\"\",\"\"Bea\"\"]\",1970-06-01T00:00:00Z,true\r\n"
         "p2,\"a,\"\"b\"\"\",[],,false\r\n"},
        {FL_VIEW_FMT_JSON, 0,
         "[\n{\"id\":\"p1\",\"note\":\"a,\\\"b\\\"\",\"given\":[\"Ann\",\"Bea\"],\"bd\":\"1970-06-01T00:00:00Z\",\"act\":true},\n"
         "{\"id\":\"p2\",\"note\":\"a,\\\"b\\\"\",\"given\":[],\"bd\":null,\"act\":false}\n]\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fl_buf out;
        fl_buf_init(&out, 0);
        fl_view_writer w;
        fl_view_writer_init(&w, p, cases[i].f, cases[i].flags);
        CHECK(fl_view_writer_batch(&w, b, &out) == FL_OK);
        CHECK(fl_view_writer_finish(&w, &out) == FL_OK);
        CHECK_EQ_STR(out.ptr ? out.ptr : "", cases[i].want);
        fl_buf_reset(&out);
    }
    /* empty outputs */
    fl_view_batch_clear(b);
    CHECK_EQ_INT(fl_view_batch_rows(b), 0);
    fl_buf out;
    fl_buf_init(&out, 0);
    fl_view_writer w;
    fl_view_writer_init(&w, p, FL_VIEW_FMT_JSON, 0);
    CHECK(fl_view_writer_batch(&w, b, &out) == FL_OK && fl_view_writer_finish(&w, &out) == FL_OK);
    CHECK_EQ_STR(out.ptr ? out.ptr : "", "[]\n");
    fl_buf_reset(&out);
out:
    fl_view_batch_free(b);
    fl_view_ctx_free(ctx);
    fl_view_plan_free(p);

    /* strings that need escaping, before and after the first 8 bytes */
    static const char *const esc[] = {
        "{\"resourceType\":\"Patient\",\"id\":\"0123456789abc\\\"def\\tX\\\\\"}",
        "{\"resourceType\":\"Patient\",\"id\":\"\\u0001x\"}",
        "{\"resourceType\":\"Patient\",\"id\":\"h\u00e9llo w\u00f6rld, 12345678\"}",
    };
    expect_rows("{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"id\",\"path\":\"id\"}]}]}", esc, 3,
                "{\"id\":\"0123456789abc\\\"def\\tX\\\\\"}\n"
                "{\"id\":\"\\u0001x\"}\n"
                "{\"id\":\"h\u00e9llo w\u00f6rld, 12345678\"}\n");

    fl_view_format f;
    CHECK(fl_view_format_parse("csv", &f) && f == FL_VIEW_FMT_CSV);
    CHECK(!fl_view_format_parse("xml", &f));
}

/* ------------------------------------------------------------------ threads */

typedef struct thr {
    const fl_view_plan *plan;
    size_t rows;
    fl_rc rc;
} thr;

static void *thr_main(void *arg)
{
    thr *t = arg;
    fl_err err;
    fl_view_ctx *ctx = NULL;
    fl_view_batch *b = NULL;
    t->rc = fl_view_ctx_new(t->plan, &ctx, &err);
    if (!t->rc) t->rc = fl_view_batch_new(t->plan, 16, &b, &err);
    for (int k = 0; k < 2000 && !t->rc; k++) {
        size_t n;
        t->rc = fl_view_eval_text(ctx, pt[k % 3], strlen(pt[k % 3]), b, &n, &err);
        t->rows += n;
        if (fl_view_batch_rows(b) > 100) fl_view_batch_clear(b);
    }
    fl_view_batch_free(b);
    fl_view_ctx_free(ctx);
    return NULL;
}

static void test_shared_plan(void)
{
    fl_view_plan *p = compile_ok("{\"resource\":\"Patient\",\"select\":[{\"column\":[{\"name\":\"id\",\"path\":\"id\"}]},"
                                 "{\"forEachOrNull\":\"name\",\"column\":[{\"name\":\"f\",\"path\":\"family\"}]}]}",
                                 0);
    if (!p) return;
    thr t[2] = {{p, 0, FL_OK}, {p, 0, FL_OK}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, thr_main, &t[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    /* k%3: 0 -> p1 (2 rows, 667 times), 1 -> Observation (0), 2 -> p2 (1 row, 666 times) */
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(t[i].rc, FL_OK);
        CHECK_EQ_INT(t[i].rows, 667 * 2 + 666 * 1);
    }
    fl_view_plan_free(p);
}

int main(void)
{
    RUN(test_dates);
    RUN(test_validation);
    RUN(test_types);
    RUN(test_ansi_and_options);
    RUN(test_eval_basic);
    RUN(test_fast_path_edges);
    RUN(test_fast_path_where_join);
    RUN(test_decimal_and_constants);
    RUN(test_eval_errors);
    RUN(test_limits);
    RUN(test_batch_and_writers);
    RUN(test_shared_plan);
    return testhelp_done();
}
