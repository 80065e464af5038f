/* fuzz_ndjson.c - libFuzzer target for the NDJSON reader over a memory buffer (module
 * json), plain or gzip (input starting with 1f 8b is inflated). Every returned line is
 * parsed; line numbers must increase and plain lines must lie inside the input. If the
 * first byte is < 0x08 it selects a small max_line (16 << byte) and is dropped. */
#include "fhirlake/json.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fl_ndjson_opts o = {0};
    if (size > 0 && data[0] < 0x08) {
        o.max_line = (size_t)16 << data[0];
        data++;
        size--;
    }
    const char *buf = (const char *)data;
    bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    fl_ndjson_reader *r = NULL;
    fl_err err;
    if (fl_ndjson_open_mem(buf, size, &o, &r, &err) != FL_OK) return 0;
    fl_arena a;
    fl_arena_init(&a, 4096, (size_t)64 << 20);
    uint64_t last = 0;
    for (int guard = 0; guard < 1000000; guard++) {
        fl_ndjson_line l;
        fl_rc rc = fl_ndjson_next(r, &l, &err);
        if (rc == FL_E_EOF) break;
        if (rc == FL_E_LIMIT) continue;
        if (rc) break; /* FL_E_COMPRESS / FL_E_NOMEM end the stream */
        if (l.line_no <= last) __builtin_trap();
        last = l.line_no;
        if (o.max_line && l.text.len > o.max_line) __builtin_trap();
        if (!gz && (l.text.ptr < buf || l.text.ptr + l.text.len > buf + size)) __builtin_trap();
        if (memchr(l.text.ptr, '\n', l.text.len)) __builtin_trap();
        fl_arena_reset(&a);
        fl_json_val *v;
        (void)fl_json_parse(l.text.ptr, l.text.len, NULL, &a, &v, NULL, &err);
    }
    fl_arena_fini(&a);
    fl_ndjson_close(r);
    return 0;
}
