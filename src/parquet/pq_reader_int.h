/* pq_reader_int.h - reader internals shared by pq_meta.c (footer), pq_read.c (pages and
 * encodings) and pq_assemble.c (rows) (module parquet). */
#ifndef FL_PQ_READER_INT_H
#define FL_PQ_READER_INT_H

#include "fhirlake/os.h"
#include "parquet/parquet_int.h"

typedef struct pq_chunk_meta {
    int type, codec;
    int64_t num_values, total_comp, total_uncomp;
    int64_t data_off, dict_off, index_off; /* -1 when absent */
    bool has_path;           /* file_path set: data lives in another file */
    bool has_stats;
    fl_str min_value, max_value, min_legacy, max_legacy;
    bool has_min_value, has_max_value, has_min_legacy, has_max_legacy;
    bool min_exact, max_exact;
    int64_t null_count, nan_count; /* -1 absent */
} pq_chunk_meta;

typedef struct pq_rg_meta {
    int64_t num_rows;
    pq_chunk_meta *cols;
} pq_rg_meta;

typedef struct pq_cursor {
    fl_pq_column col;
    size_t lev, val;
    bool loaded;
} pq_cursor;

struct fl_pq_reader {
    fl_pq_read_fn fn;
    void *ctx;
    uint64_t size;
    fl_pq_read_opts o;
    const uint8_t *mem; /* whole file in memory (open_mem / open_file), else NULL */
    fl_mmap map;
    bool mapped;
    fl_arena meta;      /* footer bytes, row group arrays, kv */
    const uint8_t *footer;
    size_t footer_len;
    fl_pq_schema *schema;
    int64_t num_rows;
    pq_rg_meta *rgs;
    int nrg;
    fl_str created_by;
    fl_str *kv_keys, *kv_vals;
    bool *kv_has;
    size_t nkv;
    bool has_col_orders;
    pq_codec_ctx cc;
    fl_buf chunk; /* chunk bytes when reading through the callback */
    /* rows */
    uint8_t *sel;       /* per node: 1 if selected (subtree of a selected path) */
    bool selected_all;
    int cur_rg;         /* row group loaded, -1 none */
    int64_t rg_row;     /* next row within cur_rg */
    fl_arena rg_arena;  /* decoded columns of cur_rg */
    pq_cursor *cur;     /* per leaf */
    int *first_sel_leaf; /* per node: first selected leaf under it, -1 none */
    fl_vec vstack;      /* fl_pq_val scratch for list assembly */
    bool started;
};

/* pq_meta.c */
fl_rc pq_read_footer(fl_pq_reader *r, fl_err *err);

#endif
