/* fuzz_parquet_roundtrip.c - libFuzzer target: writer -> reader round trip (module parquet).
 * The input seeds a PRNG that builds a random schema, writer options and rows (the
 * generator of the parquet unit tests); the file written must read back equal, row by
 * row. A mismatch or any writer/reader error is a bug and aborts (this is test code). */
#include "../tests/unit/parquet/pq_testgen.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = 0x12345;
    for (size_t i = 0; i < size && i < 64; i++) seed = seed * 1099511628211ull ^ data[i];
    tg_rng r = {seed};
    fl_err err;
    fl_pq_schema *s;
    if (fl_pq_schema_new(&s, &err)) return 0;
    tg_fill_group(s, &r, 0, 0);
    fl_pq_write_opts o;
    fl_pq_write_opts_default(&o);
    static const fl_pq_codec codecs[] = {FL_PQ_UNCOMPRESSED, FL_PQ_SNAPPY, FL_PQ_GZIP, FL_PQ_ZSTD, FL_PQ_LZ4_RAW};
    o.codec = codecs[tg_below(&r, 5)];
    if (tg_below(&r, 3) == 0) o.flags |= FL_PQ_W_NO_DICT;
    o.page_size = 16 + tg_below(&r, 4000);
    o.dict_page_limit = 8 + tg_below(&r, 4000);
    o.row_group_rows = 1 + tg_below(&r, 20);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_buf file;
    fl_buf_init(&file, 0);
    fl_pq_writer *w;
    if (fl_pq_writer_new(s, &o, fl_pq_sink_buf, &file, &w, &err)) abort();
    int nrows = (int)tg_below(&r, 30);
    fl_pq_val **rows = fl_arena_calloc(&a, (size_t)nrows + 1, sizeof *rows);
    for (int i = 0; i < nrows; i++) {
        rows[i] = tg_row(s, &r, &a);
        if (tg_put_row(w, rows[i])) abort();
    }
    if (fl_pq_writer_finish(w, &err)) abort();
    fl_pq_reader *rd;
    if (fl_pq_reader_open_mem(file.ptr, file.len, NULL, &rd, &err)) abort();
    fl_arena ra;
    fl_arena_init(&ra, 0, 0);
    for (int i = 0; i < nrows; i++) {
        fl_pq_val *got;
        if (fl_pq_reader_next_row(rd, &ra, &got, &err) || !tg_equal(rows[i], got)) {
            fprintf(stderr, "row %d differs: %s\n", i, err.msg);
            abort();
        }
    }
    fl_pq_val *extra;
    if (fl_pq_reader_next_row(rd, &ra, &extra, &err) != FL_E_EOF) abort();
    fl_arena_fini(&ra);
    fl_pq_reader_free(rd);
    fl_pq_writer_free(w);
    fl_pq_schema_free(s);
    fl_buf_reset(&file);
    fl_arena_fini(&a);
    return 0;
}
