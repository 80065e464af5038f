/* parquet_int.h - private declarations shared by the src/parquet files (module parquet).
 * Thrift compact protocol reader/writer, RLE/bit-packed hybrid codec, page codecs, the
 * schema's internal layout and footer metadata structs. Not part of the public API.
 * Depends on base and os only. */
#ifndef FL_PARQUET_INT_H
#define FL_PARQUET_INT_H

#include "fhirlake/parquet.h"

/* ---------------------------------------------------------------- limits */

#define PQ_MAX_THRIFT_DEPTH 64        /* nesting of thrift structs/lists */
#define PQ_MAX_THRIFT_LIST 10000000u  /* elements in one thrift list */
#define PQ_MAX_SCHEMA_NODES 100000    /* schema elements */
#define PQ_MAX_SCHEMA_DEPTH 100       /* group nesting (and def/rep levels) */
#define PQ_MAX_NAME 4096              /* bytes in a column name */
#define PQ_MAX_ROW_GROUPS 1000000
#define PQ_MAX_CHUNKS 4000000 /* row groups x leaf columns described by one footer */
#define PQ_MAX_PAGE_HEADER (16u << 20) /* bytes of one thrift page header */

/* Parquet enums. */
enum {
    PQ_ENC_PLAIN = 0,
    PQ_ENC_PLAIN_DICTIONARY = 2,
    PQ_ENC_RLE = 3,
    PQ_ENC_BIT_PACKED = 4,
    PQ_ENC_DELTA_BINARY_PACKED = 5,
    PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
    PQ_ENC_DELTA_BYTE_ARRAY = 7,
    PQ_ENC_RLE_DICTIONARY = 8,
    PQ_ENC_BYTE_STREAM_SPLIT = 9
};
enum { PQ_PAGE_DATA = 0, PQ_PAGE_INDEX = 1, PQ_PAGE_DICT = 2, PQ_PAGE_DATA_V2 = 3 };
enum {
    PQ_CT_UTF8 = 0, PQ_CT_MAP = 1, PQ_CT_MAP_KEY_VALUE = 2, PQ_CT_LIST = 3, PQ_CT_ENUM = 4,
    PQ_CT_DECIMAL = 5, PQ_CT_DATE = 6, PQ_CT_TIME_MILLIS = 7, PQ_CT_TIME_MICROS = 8,
    PQ_CT_TIMESTAMP_MILLIS = 9, PQ_CT_TIMESTAMP_MICROS = 10, PQ_CT_UINT_8 = 11,
    PQ_CT_UINT_16 = 12, PQ_CT_UINT_32 = 13, PQ_CT_UINT_64 = 14, PQ_CT_INT_8 = 15,
    PQ_CT_INT_16 = 16, PQ_CT_INT_32 = 17, PQ_CT_INT_64 = 18, PQ_CT_JSON = 19, PQ_CT_BSON = 20,
    PQ_CT_INTERVAL = 21
};
enum { PQ_CODEC_LZO = 3, PQ_CODEC_BROTLI = 4, PQ_CODEC_LZ4 = 5 };

/* Thrift compact type ids. */
enum {
    TT_STOP = 0, TT_TRUE = 1, TT_FALSE = 2, TT_I8 = 3, TT_I16 = 4, TT_I32 = 5, TT_I64 = 6,
    TT_DOUBLE = 7, TT_BINARY = 8, TT_LIST = 9, TT_SET = 10, TT_MAP = 11, TT_STRUCT = 12
};

/* ---------------------------------------------------------------- thrift writer */

typedef struct pq_tw {
    fl_buf *b;
    int depth;
    int16_t last[PQ_MAX_THRIFT_DEPTH];
} pq_tw;

void pq_tw_init(pq_tw *t, fl_buf *b);
void pq_tw_i32(pq_tw *t, int16_t id, int32_t v);
void pq_tw_i64(pq_tw *t, int16_t id, int64_t v);
void pq_tw_i16(pq_tw *t, int16_t id, int16_t v);
void pq_tw_i8(pq_tw *t, int16_t id, int8_t v);
void pq_tw_bool(pq_tw *t, int16_t id, bool v);
void pq_tw_bin(pq_tw *t, int16_t id, const void *p, size_t n);
void pq_tw_struct_begin(pq_tw *t, int16_t id); /* field of type struct */
void pq_tw_struct_end(pq_tw *t);               /* stop byte, pop */
void pq_tw_list_begin(pq_tw *t, int16_t id, int elem_type, size_t n);
void pq_tw_elem_struct_begin(pq_tw *t); /* a struct element inside a list */
void pq_tw_elem_i32(pq_tw *t, int32_t v);
void pq_tw_elem_bin(pq_tw *t, const void *p, size_t n);
void pq_tw_stop(pq_tw *t); /* end of the top-level struct */

/* ---------------------------------------------------------------- thrift reader */

typedef struct pq_tr {
    const uint8_t *p, *end, *start;
    int depth;
    fl_rc rc;
    fl_err *err;
    const char *what; /* "file footer", "page header" for messages */
} pq_tr;

void pq_tr_init(pq_tr *t, const void *p, size_t n, const char *what, fl_err *err);
/* Next field header of the current struct: returns false at stop (or error). *last is
 * the previous field id of this struct (caller keeps it per struct). */
bool pq_tr_field(pq_tr *t, int16_t *last, int16_t *id, int *type);
int64_t pq_tr_int(pq_tr *t, int type); /* i8/i16/i32/i64 of the given field type */
bool pq_tr_bool(pq_tr *t, int type);   /* bool field: value is in the type */
fl_str pq_tr_bin(pq_tr *t);            /* borrowed from the input */
double pq_tr_double(pq_tr *t);
/* List header: element type and count (limited by PQ_MAX_THRIFT_LIST and the bytes left). */
uint32_t pq_tr_list(pq_tr *t, int *elem_type);
void pq_tr_skip(pq_tr *t, int type);
bool pq_tr_enter(pq_tr *t); /* depth check before reading a nested struct */
void pq_tr_leave(pq_tr *t);
fl_rc pq_tr_fail(pq_tr *t, const char *msg);
/* Bool element of a list (one byte). */
bool pq_tr_elem_bool(pq_tr *t);

/* ---------------------------------------------------------------- schema */

typedef struct pq_snode {
    fl_pq_node pub;
    fl_vec kids; /* int */
    int first_leaf, end_leaf; /* leaves under this node: [first_leaf, end_leaf) */
    int16_t annot_ct;         /* converted type read from a file (-1 none) */
} pq_snode;

struct fl_pq_schema {
    fl_arena names;
    pq_snode *nodes;
    int n, cap;
    int *leaves;
    int nleaves, leaves_cap;
    int last; /* most recently added node */
    fl_rc rc;
    fl_err err;
};

/* Add without the DFS-order check (used by the footer parser). */
int pq_schema_add_node(fl_pq_schema *s, int parent, const char *name, size_t name_len,
                       fl_pq_rep rep, fl_pq_type type, bool is_group);
fl_rc pq_schema_clone(const fl_pq_schema *src, fl_pq_schema **out, fl_err *err);
/* Shape of a LIST / MAP annotated group (or bare repeated node): the repeated node and the
 * element (lists) or key/value (maps). Returns false if the layout is not recognised. */
typedef struct pq_nest {
    int rep_node;  /* the repeated node */
    int elem;      /* list element node (may equal rep_node for 2-level/bare repeated) */
    int key, value; /* maps: key node, value node (-1 if the map has no value) */
    bool is_map;
} pq_nest;
bool pq_schema_nest(const fl_pq_schema *s, int node, pq_nest *out);
/* The same by annotation only (a LIST/MAP group that is itself repeated: legacy lists). */
bool pq_schema_nest_annot(const fl_pq_schema *s, int node, pq_nest *out);
/* Sort order of a leaf for statistics: 0 signed, 1 unsigned, 2 none. */
int pq_sort_order(const fl_pq_type *t);
int pq_bit_width(uint64_t max_value);

/* ---------------------------------------------------------------- codecs */

typedef struct pq_codec_ctx {
    void *zstd_c;
    void *zstd_d;
} pq_codec_ctx;
void pq_codec_free(pq_codec_ctx *c);
/* The contexts inside a caller's fl_pq_codec_cache. */
pq_codec_ctx *pq_codec_cache_ctx(fl_pq_codec_cache *c);
/* Compress src into out (cleared first). */
fl_rc pq_compress(pq_codec_ctx *c, int codec, int level, const void *src, size_t n, fl_buf *out,
                  fl_err *err);
/* Decompress exactly out_len bytes into dst. */
fl_rc pq_decompress(pq_codec_ctx *c, int codec, const void *src, size_t n, void *dst,
                    size_t out_len, fl_err *err);
const char *pq_codec_name(int codec);

/* ---------------------------------------------------------------- RLE / bit packing */

/* Hybrid-encode n values (elem_size 1: uint8_t, 4: uint32_t) with bit width bw (0..32),
 * appending to out (no length prefix). */
void pq_rle_encode(fl_buf *out, const void *vals, int elem_size, size_t n, int bw);

/* Hybrid decoder. */
typedef struct pq_rle_dec {
    const uint8_t *p, *end;
    int bw;
    uint32_t rle_left, bp_left; /* values left in the current run */
    uint64_t rle_val;
    const uint8_t *bp; /* bit-packed data */
    uint32_t bp_pos;   /* index within the run */
} pq_rle_dec;
void pq_rle_dec_init(pq_rle_dec *d, const void *p, size_t n, int bit_width);
/* Decode up to n values into out (uint32); returns the count decoded (< n at end/error). */
size_t pq_rle_dec_get(pq_rle_dec *d, uint32_t *out, size_t n);

void pq_put_varint(fl_buf *b, uint64_t v);

static inline void pq_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t pq_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t pq_rd64(const uint8_t *p)
{
    return (uint64_t)pq_rd32(p) | (uint64_t)pq_rd32(p + 4) << 32;
}

/* Compare two scalars of leaf type t in its sort order (<0, 0, >0). */
int pq_scalar_cmp(const fl_pq_type *t, const fl_pq_scalar *a, const fl_pq_scalar *b);

#endif
