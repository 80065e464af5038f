/* fuzz_fhirpath.c - libFuzzer target for the FHIRPath compiler and evaluator.
 * The input is an expression: compile it (with two declared variables); on success
 * evaluate it against a small fixed Patient resource and serialise the result; on
 * failure require an error message and a column inside the expression. Evaluation
 * errors must be FHIRPath errors or limits, never crashes (ASan/UBSan catch those). */
#include "fhirlake/fhirpath.h"
#include "fhirlake/json.h"

#include <string.h>

static const char resource_text[] =
    "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"active\":true,"
    "\"meta\":{\"lastUpdated\":\"2024-01-02T03:04:05.678Z\"},"
    "\"extension\":[{\"url\":\"http://x/ext\",\"valueString\":\"e\"}],"
    "\"name\":[{\"use\":\"official\",\"family\":\"Chalmers\",\"given\":[\"Peter\",\"James\"]},"
    "{\"use\":\"usual\",\"given\":[\"Jim\"],\"_given\":[{\"id\":\"g\"}]}],"
    "\"gender\":\"male\",\"birthDate\":\"1974-12-25\","
    "\"_birthDate\":{\"extension\":[{\"url\":\"http://x/bt\",\"valueDateTime\":\"1974-12-25T14:35:45-05:00\"}]},"
    "\"deceasedBoolean\":false,\"multipleBirthInteger\":2,"
    "\"telecom\":[{\"system\":\"phone\",\"value\":\"555\",\"rank\":1}],"
    "\"contained\":[{\"resourceType\":\"Observation\",\"id\":\"o1\",\"status\":\"final\","
    "\"valueQuantity\":{\"value\":185.50,\"unit\":\"lbs\",\"code\":\"[lb_av]\"}}],"
    "\"managingOrganization\":{\"reference\":\"Organization/1\"},"
    "\"generalPractitioner\":[{\"reference\":\"#o1\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fl_arena a;
    fl_arena_init(&a, 4096, (size_t)64 << 20);
    fl_json_val *res = NULL;
    if (fl_json_parse(resource_text, sizeof resource_text - 1, NULL, &a, &res, NULL, NULL) != FL_OK)
        __builtin_trap();
    const char *vars[] = {"rowIndex", "name_index"};
    fl_fp_opts o;
    fl_fp_opts_default(&o);
    o.vars = vars;
    o.nvars = 2;
    fl_fp_prog *p = NULL;
    fl_err err;
    fl_err_clear(&err);
    fl_rc rc = fl_fp_compile((const char *)data, size, &o, &p, &err);
    if (rc == FL_OK) {
        if (!p) __builtin_trap();
        (void)fl_fp_prog_hint(p);
        (void)fl_fp_prog_fhir_type(p);
        fl_fp_item v0 = fl_fp_item_int(3), v1 = fl_fp_item_int(0);
        fl_fp_coll vals[2] = {fl_fp_coll_one(&v0), fl_fp_coll_one(&v1)};
        fl_fp_env env;
        memset(&env, 0, sizeof env);
        env.vars = vals;
        env.nvars = 2;
        env.now_us = 1700000000000000LL;
        fl_fp_coll out;
        rc = fl_fp_eval(p, res, &env, &a, &out, &err);
        if (rc == FL_OK) {
            fl_buf b;
            fl_buf_init(&b, 0);
            fl_jw w;
            fl_jw_init(&w, &b);
            fl_fp_coll_write_json(&out, &w);
            for (size_t i = 0; i < out.len; i++) {
                fl_str s;
                (void)fl_fp_item_to_string(&out.items[i], &a, &s);
                (void)fl_fp_item_type_name(&out.items[i]);
            }
            int t;
            (void)fl_fp_coll_truth(&out, &t, &err);
            fl_buf_reset(&b);
        } else if (rc != FL_E_FP_EVAL && rc != FL_E_LIMIT && rc != FL_E_NOMEM) {
            __builtin_trap();
        } else if (!err.msg[0]) {
            __builtin_trap();
        }
        fl_fp_prog_free(p);
    } else {
        if (p) __builtin_trap();
        if (rc != FL_E_FP_SYNTAX && rc != FL_E_FP_COMPILE && rc != FL_E_LIMIT && rc != FL_E_NOMEM) __builtin_trap();
        if (!err.msg[0]) __builtin_trap();
        if (rc != FL_E_LIMIT && rc != FL_E_NOMEM && (err.col < 1 || err.pos > size)) __builtin_trap();
    }
    fl_arena_fini(&a);
    return 0;
}
