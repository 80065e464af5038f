/* fuzz_json.c - libFuzzer target for the JSON parser and writer (module json).
 * Parse; on success write, re-parse the output and require an equal DOM and a
 * byte-identical second serialisation; exercise the number views. On failure require a
 * sane error position. If the first byte is < 0x08 it selects parse flags
 * (ALLOW_DUPKEYS / COPY_STRINGS / ALLOW_TRAILING) and is not part of the text. */
#include "fhirlake/json.h"

#include <stdlib.h>
#include <string.h>

static void walk(const fl_json_val *v, int depth)
{
    int64_t i;
    double d;
    if (depth > 300) __builtin_trap();
    switch (v->type) {
    case FL_JSON_NUMBER:
        if (v->len == 0) __builtin_trap();
        (void)fl_json_as_i64(v, &i);
        (void)fl_json_as_f64(v, &d);
        break;
    case FL_JSON_ARRAY:
        for (uint32_t k = 0; k < v->len; k++) walk(&v->u.items[k], depth + 1);
        break;
    case FL_JSON_OBJECT:
        for (uint32_t k = 0; k < v->len; k++) {
            if (fl_json_get(v, v->u.members[k].key) == NULL) __builtin_trap();
            walk(&v->u.members[k].val, depth + 1);
        }
        break;
    default: break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t flags = 0;
    if (size > 0 && data[0] < 0x08) {
        flags = data[0];
        data++;
        size--;
    }
    fl_arena a;
    fl_arena_init(&a, 4096, (size_t)64 << 20);
    fl_json_opts o = {.flags = flags};
    fl_json_val *v = NULL;
    fl_err err;
    size_t used = 0;
    fl_rc rc = fl_json_parse((const char *)data, size, &o, &a, &v, &used, &err);
    if (rc == FL_OK) {
        if (!v || used > size) __builtin_trap();
        walk(v, 0);
        fl_buf out1, out2;
        fl_buf_init(&out1, 0);
        fl_buf_init(&out2, 0);
        if (fl_json_write(v, &out1) != FL_OK) __builtin_trap();
        fl_json_val *v2 = NULL;
        if (fl_json_parse(out1.ptr, out1.len, NULL, &a, &v2, NULL, &err) != FL_OK) __builtin_trap();
        if (!fl_json_equal(v, v2) || !fl_json_equal(v2, v)) __builtin_trap();
        if (fl_json_write(v2, &out2) != FL_OK) __builtin_trap();
        if (out1.len != out2.len || memcmp(out1.ptr, out2.ptr, out1.len) != 0) __builtin_trap();
        fl_buf_reset(&out1);
        fl_buf_reset(&out2);
    } else if (rc != FL_E_NOMEM && rc != FL_E_LIMIT) {
        if (err.pos > size || err.line < 1 || err.col < 1 || !err.msg[0]) __builtin_trap();
        if (rc != FL_E_JSON_SYNTAX && rc != FL_E_JSON_DUPKEY && rc != FL_E_JSON_DEPTH && rc != FL_E_UTF8)
            __builtin_trap();
    }
    fl_arena_fini(&a);
    return 0;
}
