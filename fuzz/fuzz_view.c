/* fuzz_view.c - fuzz target for the view module: the input is compiled as a
 * ViewDefinition (validation + FHIRPath compile), and a plan that compiles is run over a
 * fixed set of resources and written as NDJSON and CSV. The input is also parsed as a
 * resource and run through a fixed view that uses forEach, forEachOrNull, repeat,
 * unionAll, collections and %rowIndex, so evaluation sees arbitrary documents too. */
#include "fhirlake/json.h"
#include "fhirlake/view.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static const char *const resources[] = {
    "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"active\":true,\"gender\":\"female\","
    "\"birthDate\":\"1970-06\",\"deceasedBoolean\":false,"
    "\"name\":[{\"use\":\"official\",\"family\":\"F\",\"given\":[\"A\",\"B\"]},{\"family\":\"G\"}],"
    "\"telecom\":[{\"system\":\"phone\",\"value\":\"1\"}],\"address\":[{\"line\":[\"x\",\"y\"],\"city\":\"C\"}],"
    "\"extension\":[{\"url\":\"u\",\"valueString\":\"v\"}],\"link\":[{\"other\":{\"reference\":\"Patient/p1\"}}]}",
    "{\"resourceType\":\"Patient\",\"id\":\"p2\",\"birthDate\":\"2001-02-03\",\"multipleBirthInteger\":2}",
    "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"valueQuantity\":{\"value\":1.50,\"unit\":\"mg\"},"
    "\"effectiveDateTime\":\"2020-01-02T03:04:05.678+01:00\",\"subject\":{\"reference\":\"Patient/p1\"}}",
    "{\"resourceType\":\"QuestionnaireResponse\",\"id\":\"q1\",\"item\":[{\"linkId\":\"1\",\"item\":"
    "[{\"linkId\":\"1.1\",\"answer\":[{\"valueString\":\"a\",\"item\":[{\"linkId\":\"1.1.1\"}]}]}]},"
    "{\"linkId\":\"2\"}]}",
};

static const char fixed_view[] =
    "{\"resource\":\"Patient\",\"constant\":[{\"name\":\"u\",\"valueString\":\"official\"}],"
    "\"where\":[{\"path\":\"id.exists()\"}],"
    "\"select\":[{\"column\":[{\"name\":\"id\",\"path\":\"getResourceKey()\"},"
    "{\"name\":\"bd\",\"path\":\"birthDate\",\"type\":\"date\"},"
    "{\"name\":\"given\",\"path\":\"name.given\",\"collection\":true},"
    "{\"name\":\"ri\",\"path\":\"%rowIndex\",\"type\":\"integer\"}]},"
    "{\"forEachOrNull\":\"name.where(use = %u)\",\"column\":[{\"name\":\"fam\",\"path\":\"family\"}]},"
    "{\"repeat\":[\"item\",\"answer.item\",\"contained\"],\"column\":[{\"name\":\"lid\",\"path\":\"linkId\"}]},"
    "{\"unionAll\":[{\"forEach\":\"telecom\",\"column\":[{\"name\":\"v\",\"path\":\"value\"}]},"
    "{\"forEach\":\"address\",\"column\":[{\"name\":\"v\",\"path\":\"city\"}]}]}]}";

static void run_plan(fl_view_plan *plan, const char *const *res, size_t nres, const char *extra,
                     size_t extra_len)
{
    fl_view_ctx *ctx = NULL;
    fl_view_batch *b = NULL;
    fl_err err;
    if (fl_view_ctx_new(plan, &ctx, &err) || fl_view_batch_new(plan, 16, &b, &err)) goto done;
    for (size_t i = 0; i < nres; i++)
        (void)fl_view_eval_text(ctx, res[i], strlen(res[i]), b, NULL, &err);
    if (extra) (void)fl_view_eval_text(ctx, extra, extra_len, b, NULL, &err);
    fl_view_format fmts[] = {FL_VIEW_FMT_NDJSON, FL_VIEW_FMT_CSV, FL_VIEW_FMT_JSON};
    for (size_t f = 0; f < 3; f++) {
        fl_buf out;
        fl_buf_init(&out, 1u << 24);
        fl_view_writer w;
        fl_view_writer_init(&w, plan, fmts[f], 0);
        (void)fl_view_writer_batch(&w, b, &out);
        (void)fl_view_writer_finish(&w, &out);
        fl_buf_reset(&out);
    }
done:
    fl_view_batch_free(b);
    fl_view_ctx_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fl_err err;
    fl_view_plan *plan = NULL;
    fl_view_opts o;
    fl_view_opts_default(&o);
    o.max_rows = 10000;
    o.arena_limit = 64u << 20;
    o.max_repeat_depth = 16;
    if (fl_view_compile((const char *)data, size, &o, &plan, &err) == FL_OK) {
        run_plan(plan, resources, sizeof resources / sizeof resources[0], NULL, 0);
        fl_view_plan_free(plan);
    }
    plan = NULL;
    if (fl_view_compile(fixed_view, sizeof fixed_view - 1, &o, &plan, &err) == FL_OK) {
        run_plan(plan, NULL, 0, (const char *)data, size);
        fl_view_plan_free(plan);
    }
    return 0;
}
