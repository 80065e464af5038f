/* fuzz_parquet_read.c - libFuzzer target for the Parquet reader (module parquet).
 * Opens the input as a file in memory with small limits, reads every column chunk of
 * every row group, assembles every row and formats it, and reads all statistics. Any
 * crash, sanitizer report, leak or unbounded allocation is a bug; errors are expected. */
#include "fhirlake/parquet.h"

#include <stdint.h>
#include <stddef.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fl_pq_read_opts o;
    fl_pq_read_opts_default(&o);
    o.max_footer_size = 1 << 20;
    o.max_page_size = 8 << 20;
    o.max_column_bytes = 16 << 20;
    fl_err err;
    fl_pq_reader *r = NULL;
    if (fl_pq_reader_open_mem(data, size, &o, &r, &err) != FL_OK) return 0;
    const fl_pq_schema *s = fl_pq_reader_get_schema(r);
    fl_arena a;
    fl_arena_init(&a, 0, 64u << 20);
    for (int g = 0; g < fl_pq_reader_num_row_groups(r); g++) {
        for (int l = 0; l < fl_pq_schema_num_leaves(s); l++) {
            fl_pq_stats st;
            fl_pq_reader_get_rg_stats(r, g, l, &st, &err);
            fl_pq_column col;
            (void)fl_pq_reader_read_column(r, g, l, &a, &col, &err);
            fl_arena_reset(&a);
        }
    }
    fl_buf b;
    fl_buf_init(&b, 1 << 20);
    for (int i = 0; i < 100000; i++) {
        fl_pq_val *row;
        if (fl_pq_reader_next_row(r, &a, &row, &err) != FL_OK) break;
        fl_buf_clear(&b);
        fl_pq_format_row(s, row, &b);
        fl_arena_reset(&a);
    }
    fl_buf_reset(&b);
    fl_arena_fini(&a);
    fl_pq_reader_free(r);
    return 0;
}
