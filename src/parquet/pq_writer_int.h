/* pq_writer_int.h - writer internals shared by pq_wcol.c (column chunk encoding) and
 * pq_write.c (writer object, row/batch APIs, footer) (module parquet). */
#ifndef FL_PQ_WRITER_INT_H
#define FL_PQ_WRITER_INT_H

#include "parquet/parquet_int.h"

#define PQ_STATS_MAX_BYTES 1024 /* longer byte min/max are truncated in the footer */

/* Dictionary of one column chunk. Entries are stored PLAIN-encoded in `data`, which is
 * exactly the dictionary page body. */
typedef struct pq_dslot {
    uint32_t hash, idx1; /* idx1 = entry index + 1; 0 = empty slot */
} pq_dslot;

typedef struct pq_dict {
    pq_dslot *slots; /* open addressing, linear probing */
    size_t cap;      /* power of two */
    size_t count;
    uint32_t *offs;  /* per entry: offset of its value bytes in data (BYTE_ARRAY: after the length) */
    size_t offcap;
    uint64_t uses; /* values encoded through the dictionary in this chunk */
    fl_buf data;
    bool active;     /* new values are dictionary-encoded */
} pq_dict;

/* Running min/max/null statistics; byte values live in minb/maxb. */
typedef struct pq_stat {
    bool has;
    int64_t nulls, values, nans;
    fl_pq_scalar min, max;
    fl_buf minb, maxb;
} pq_stat;

typedef struct pq_wcol {
    int node;
    const fl_pq_node *nd;
    fl_pq_type t;
    int16_t max_def, max_rep;
    int width;     /* PLAIN byte width of fixed types; 0 for BYTE_ARRAY */
    int sort;      /* pq_sort_order */
    int def_bw, rep_bw;
    /* current page */
    uint8_t *def, *rep;
    size_t nlev, defcap, repcap;
    fl_buf vals;   /* PLAIN values (BOOLEAN: one byte per value) */
    uint32_t *idx; /* dictionary indices */
    size_t nidx, idxcap;
    size_t page_nvals; /* non-null values in the page */
    bool page_dict;
    /* chunk */
    fl_buf chunk;  /* encoded data pages (headers + payloads) */
    int64_t chunk_levels, chunk_uncomp;
    bool used_plain_page, used_dict_page;
    pq_dict dict;
    pq_stat cst, fst; /* chunk and file statistics */
    fl_rc rc;      /* sticky allocation failure (reported at flush) */
} pq_wcol;

typedef struct pq_frame {
    int node;
    int kind; /* PQ_F_STRUCT, PQ_F_LIST, PQ_F_MAP */
    int idx, count;
    pq_nest nest;
} pq_frame;
enum { PQ_F_STRUCT = 0, PQ_F_LIST = 1, PQ_F_MAP = 2 };

struct fl_pq_writer {
    fl_pq_schema *schema;
    fl_pq_write_opts o;
    fl_arena meta; /* created_by, kv copies */
    fl_pq_sink_fn sink;
    void *sink_ctx;
    pq_wcol *cols;
    int ncols;
    fl_rc rc;
    fl_err err;
    bool finished, started;
    /* row API */
    pq_frame frames[PQ_MAX_SCHEMA_DEPTH + 2];
    int depth;
    bool in_row;
    uint8_t *next_rep;
    /* counters */
    int64_t rows, rg_rows;
    uint64_t written;
    /* scratch */
    fl_buf page, comp, hdr;
    fl_buf rg_meta; /* serialized RowGroup structs */
    int n_rg;
    pq_codec_ctx cc;
};

/* pq_wcol.c */
fl_rc pq_wcol_init(fl_pq_writer *w, pq_wcol *c, int node);
void pq_wcol_free(pq_wcol *c);
void pq_wcol_levels(fl_pq_writer *w, pq_wcol *c, int rep, int def);
void pq_wcol_bool(pq_wcol *c, bool v);
void pq_wcol_i32(pq_wcol *c, int32_t v);
void pq_wcol_i64(pq_wcol *c, int64_t v);
void pq_wcol_f32(pq_wcol *c, float v);
void pq_wcol_f64(pq_wcol *c, double v);
void pq_wcol_bytes(pq_wcol *c, const void *p, size_t n);
void pq_wcol_put_flat(fl_pq_writer *w, pq_wcol *c, const void *values, const uint8_t *valid, size_t n);
fl_rc pq_wcol_flush_page(fl_pq_writer *w, pq_wcol *c);
/* Write the chunk (dictionary page + data pages) through the sink and append its
 * ColumnChunk to the row group metadata being built in `t`. */
fl_rc pq_wcol_write_chunk(fl_pq_writer *w, pq_wcol *c, pq_tw *t, int64_t *uncomp, int64_t *comp);
size_t pq_wcol_buffered(const pq_wcol *c);
fl_rc pq_emit(fl_pq_writer *w, const void *p, size_t n);
void pq_stat_to_scalar_out(const pq_wcol *c, const pq_stat *s, fl_pq_stats *out);

#endif
