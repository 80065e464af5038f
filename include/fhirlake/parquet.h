/* fhirlake/parquet.h - Parquet schema description, writer and reader (module parquet).
 *
 * Schema: a tree of nodes built with fl_pq_schema_add*(); node 0 is the root group.
 * Writer: streams row groups to a caller-supplied sink callback (a file, a buffer, an
 * object-store multipart upload); memory stays bounded by one buffered row group. Values
 * come in row by row (fl_pq_writer_put_* events, nested structs/lists/maps) or column by
 * column (fl_pq_writer_write_batch). Errors are sticky: the first failure is kept and
 * every later call is a no-op until fl_pq_writer_finish() reports it.
 * Reader: parses the footer through a read-at callback (memory, file, object store), and
 * returns columns (values + definition/repetition levels) or assembled rows (value trees).
 *
 * Depends on base and os only (never on json). Objects are not thread-safe; use one
 * writer/reader per thread. See docs/internals/PARQUET.md for the supported subset. */
#ifndef FHIRLAKE_PARQUET_H
#define FHIRLAKE_PARQUET_H

#include "fhirlake/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- types */

/* Physical types (values are the Parquet Type enum); FL_PQ_GROUP marks a group node. */
typedef enum fl_pq_phys {
    FL_PQ_BOOLEAN = 0,
    FL_PQ_INT32 = 1,
    FL_PQ_INT64 = 2,
    FL_PQ_INT96 = 3, /* read only: values are delivered as int64 nanoseconds since epoch */
    FL_PQ_FLOAT = 4,
    FL_PQ_DOUBLE = 5,
    FL_PQ_BYTE_ARRAY = 6,
    FL_PQ_FIXED_LEN_BYTE_ARRAY = 7,
    FL_PQ_GROUP = 100
} fl_pq_phys;

/* Repetition of a node (values are the Parquet FieldRepetitionType enum). */
typedef enum fl_pq_rep { FL_PQ_REQUIRED = 0, FL_PQ_OPTIONAL = 1, FL_PQ_REPEATED = 2 } fl_pq_rep;

/* Logical annotation. The writer emits both LogicalType and the matching ConvertedType. */
typedef enum fl_pq_logical {
    FL_PQ_LT_NONE = 0,
    FL_PQ_LT_STRING,    /* BYTE_ARRAY, UTF-8 */
    FL_PQ_LT_ENUM,      /* BYTE_ARRAY (read only) */
    FL_PQ_LT_JSON,      /* BYTE_ARRAY */
    FL_PQ_LT_UUID,      /* FIXED_LEN_BYTE_ARRAY(16) */
    FL_PQ_LT_DATE,      /* INT32 days since 1970-01-01 */
    FL_PQ_LT_TIME,      /* INT32 millis / INT64 micros|nanos since midnight (read only) */
    FL_PQ_LT_TIMESTAMP, /* INT64, unit + adjusted_utc below */
    FL_PQ_LT_INT,       /* INT32/INT64 with bit_width + is_signed */
    FL_PQ_LT_DECIMAL,   /* INT32/INT64/FIXED_LEN_BYTE_ARRAY/BYTE_ARRAY, precision + scale */
    FL_PQ_LT_FLOAT16,   /* FIXED_LEN_BYTE_ARRAY(2) (read only) */
    FL_PQ_LT_LIST,      /* group annotation */
    FL_PQ_LT_MAP,       /* group annotation */
    FL_PQ_LT_UNKNOWN    /* an annotation this version does not know (read only) */
} fl_pq_logical;

enum { FL_PQ_UNIT_MILLIS = 0, FL_PQ_UNIT_MICROS = 1, FL_PQ_UNIT_NANOS = 2 };

/* Full type of a node. Build one with the fl_pq_t_* helpers below. */
typedef struct fl_pq_type {
    fl_pq_phys phys;
    fl_pq_logical logical;
    int32_t type_length;     /* FIXED_LEN_BYTE_ARRAY only */
    int32_t precision, scale; /* DECIMAL only */
    uint8_t bit_width;       /* INT only: 8, 16, 32, 64 */
    bool is_signed;          /* INT only */
    bool adjusted_utc;       /* TIMESTAMP/TIME only */
    uint8_t unit;            /* TIMESTAMP/TIME only: FL_PQ_UNIT_* */
} fl_pq_type;

static inline fl_pq_type fl_pq_t_phys(fl_pq_phys p)
{
    fl_pq_type t;
    memset(&t, 0, sizeof t);
    t.phys = p;
    return t;
}
static inline fl_pq_type fl_pq_t_bool(void) { return fl_pq_t_phys(FL_PQ_BOOLEAN); }
static inline fl_pq_type fl_pq_t_i32(void) { return fl_pq_t_phys(FL_PQ_INT32); } /* no annotation */
static inline fl_pq_type fl_pq_t_i64(void) { return fl_pq_t_phys(FL_PQ_INT64); } /* no annotation */
static inline fl_pq_type fl_pq_t_float(void) { return fl_pq_t_phys(FL_PQ_FLOAT); }
static inline fl_pq_type fl_pq_t_double(void) { return fl_pq_t_phys(FL_PQ_DOUBLE); }
static inline fl_pq_type fl_pq_t_binary(void) { return fl_pq_t_phys(FL_PQ_BYTE_ARRAY); }
static inline fl_pq_type fl_pq_t_fixed(int32_t len)
{
    fl_pq_type t = fl_pq_t_phys(FL_PQ_FIXED_LEN_BYTE_ARRAY);
    t.type_length = len;
    return t;
}
static inline fl_pq_type fl_pq_t_string(void)
{
    fl_pq_type t = fl_pq_t_phys(FL_PQ_BYTE_ARRAY);
    t.logical = FL_PQ_LT_STRING;
    return t;
}
static inline fl_pq_type fl_pq_t_json(void)
{
    fl_pq_type t = fl_pq_t_phys(FL_PQ_BYTE_ARRAY);
    t.logical = FL_PQ_LT_JSON;
    return t;
}
/* INTEGER(bits, signed): bits 8/16/32 -> INT32, 64 -> INT64 (INT_8.. / UINT_8.. converted). */
static inline fl_pq_type fl_pq_t_int(uint8_t bits, bool is_signed)
{
    fl_pq_type t = fl_pq_t_phys(bits == 64 ? FL_PQ_INT64 : FL_PQ_INT32);
    t.logical = FL_PQ_LT_INT;
    t.bit_width = bits;
    t.is_signed = is_signed;
    return t;
}
static inline fl_pq_type fl_pq_t_date(void)
{
    fl_pq_type t = fl_pq_t_phys(FL_PQ_INT32);
    t.logical = FL_PQ_LT_DATE;
    return t;
}
/* TIMESTAMP(isAdjustedToUTC=utc, MICROS) on INT64 (Delta `timestamp` is utc=true). */
static inline fl_pq_type fl_pq_t_timestamp_us(bool utc)
{
    fl_pq_type t = fl_pq_t_phys(FL_PQ_INT64);
    t.logical = FL_PQ_LT_TIMESTAMP;
    t.adjusted_utc = utc;
    t.unit = FL_PQ_UNIT_MICROS;
    return t;
}
/* DECIMAL(p, s): p <= 9 -> INT32, p <= 18 -> INT64, else FIXED_LEN_BYTE_ARRAY of the
 * minimal length (big-endian two's complement). 1 <= p <= 38. */
static inline fl_pq_type fl_pq_t_decimal(int32_t precision, int32_t scale)
{
    fl_pq_type t;
    if (precision <= 9) {
        t = fl_pq_t_phys(FL_PQ_INT32);
    } else if (precision <= 18) {
        t = fl_pq_t_phys(FL_PQ_INT64);
    } else {
        /* bytes needed for 10^p - 1 in two's complement: ceil((p*log2(10)+1)/8) */
        t = fl_pq_t_fixed((int32_t)((precision * 3322 / 1000 + 2 + 7) / 8));
    }
    t.logical = FL_PQ_LT_DECIMAL;
    t.precision = precision;
    t.scale = scale;
    return t;
}

/* ---------------------------------------------------------------- schema */

typedef struct fl_pq_schema fl_pq_schema;

/* One node of a schema (read-only view). Node ids are dense, 0 = root, in depth-first
 * (Parquet footer) order; leaves are numbered 0..num_leaves-1 in the same order. */
typedef struct fl_pq_node {
    const char *name;     /* NUL-terminated, owned by the schema */
    fl_pq_rep rep;        /* the root reports FL_PQ_REQUIRED */
    fl_pq_type type;      /* type.phys == FL_PQ_GROUP for groups */
    int parent;           /* -1 for the root */
    int num_children;
    const int *children;  /* node ids, owned by the schema */
    int leaf;             /* leaf index, -1 for groups */
    int16_t max_def;      /* definition level of this node when present */
    int16_t max_rep;      /* repetition level of this node */
    int32_t field_id;     /* -1 when absent */
} fl_pq_node;

/* A new schema holding only the root group (named "schema"). Free with fl_pq_schema_free. */
FL_API fl_rc fl_pq_schema_new(fl_pq_schema **out, fl_err *err);
FL_API void fl_pq_schema_free(fl_pq_schema *s); /* NULL allowed */

/* Building. Each call returns the new node id, or -1 after a failure (bad parent, bad
 * type, name empty, limits); the first failure is sticky and reported by
 * fl_pq_schema_check() and by fl_pq_writer_new(). `name` is copied.
 * Children must be added in order; a node cannot get children after a sibling that
 * follows it got some (nodes are depth-first), except through the helpers below. */
FL_API int fl_pq_schema_add(fl_pq_schema *s, int parent, const char *name, fl_pq_rep rep,
                            fl_pq_type type);
/* A group. annot is FL_PQ_LT_NONE (struct), FL_PQ_LT_LIST or FL_PQ_LT_MAP (raw layout:
 * the caller adds the repeated child itself). */
FL_API int fl_pq_schema_add_group(fl_pq_schema *s, int parent, const char *name, fl_pq_rep rep,
                                  fl_pq_logical annot);
/* Three-level list `<rep> group name (LIST) { repeated group list { <elem_rep> element } }`.
 * elem == NULL makes the element a group (struct) to fill with further add calls.
 * Returns the id of the "element" node. */
FL_API int fl_pq_schema_add_list(fl_pq_schema *s, int parent, const char *name, fl_pq_rep rep,
                                 fl_pq_rep elem_rep, const fl_pq_type *elem);
/* Map `<rep> group name (MAP) { repeated group key_value { required key; <value_rep> value } }`.
 * value == NULL makes the value a group to fill. Returns the id of the "value" node. */
FL_API int fl_pq_schema_add_map(fl_pq_schema *s, int parent, const char *name, fl_pq_rep rep,
                                fl_pq_type key, fl_pq_rep value_rep, const fl_pq_type *value);
/* Set the field_id of a node. */
FL_API void fl_pq_schema_set_field_id(fl_pq_schema *s, int node, int32_t field_id);
/* The sticky build error (FL_OK if none); fills err. Also checks LIST/MAP layouts. */
FL_API fl_rc fl_pq_schema_check(const fl_pq_schema *s, fl_err *err);

/* Inspection. Pointers are owned by the schema and valid until it is freed. */
FL_API int fl_pq_schema_num_nodes(const fl_pq_schema *s);
FL_API int fl_pq_schema_num_leaves(const fl_pq_schema *s);
FL_API const fl_pq_node *fl_pq_schema_node(const fl_pq_schema *s, int id); /* NULL if out of range */
FL_API int fl_pq_schema_leaf_node(const fl_pq_schema *s, int leaf);       /* node id or -1 */
/* Child of `parent` named `name`, or -1. */
FL_API int fl_pq_schema_find(const fl_pq_schema *s, int parent, const char *name);
/* Dotted path of a node from the root ("add.partitionValues.key_value.key") into buf;
 * returns the full length (may be >= cap, then truncated; always NUL-terminated if cap>0). */
FL_API size_t fl_pq_schema_path(const fl_pq_schema *s, int id, char *buf, size_t cap);

/* ---------------------------------------------------------------- values and stats */

/* A typed scalar. bytes (BYTE_ARRAY / FIXED_LEN_BYTE_ARRAY) are borrowed; their owner
 * is stated where the value comes from. */
typedef struct fl_pq_scalar {
    fl_pq_phys phys;
    union {
        bool b;
        int32_t i32;
        int64_t i64; /* also INT96 as nanoseconds */
        float f32;
        double f64;
        fl_str bytes;
    } v;
} fl_pq_scalar;

/* Statistics of one leaf column (a whole file for the writer, a row group for the reader). */
typedef struct fl_pq_stats {
    int64_t num_values;   /* level entries including nulls (-1 unknown when read) */
    int64_t null_count;   /* -1 when unknown (reader) */
    int64_t nan_count;    /* floating point only; -1 when unknown */
    bool has_min_max;     /* false if all values are null/NaN, or unknown */
    bool min_exact, max_exact;
    fl_pq_scalar min, max; /* logical-type order; NaN never counts */
} fl_pq_stats;

/* ---------------------------------------------------------------- writer */

typedef enum fl_pq_codec {
    FL_PQ_UNCOMPRESSED = 0,
    FL_PQ_SNAPPY = 1,
    FL_PQ_GZIP = 2,
    FL_PQ_ZSTD = 6,
    FL_PQ_LZ4_RAW = 7
} fl_pq_codec;

/* Writer flags (0 = defaults). */
#define FL_PQ_W_NO_DICT 0x1u  /* never dictionary-encode */
#define FL_PQ_W_NO_STATS 0x2u /* no min/max statistics in the file (null_count still written) */

typedef struct fl_pq_kv {
    const char *key;
    const char *value; /* NULL = no value */
} fl_pq_kv;

typedef struct fl_pq_write_opts {
    fl_pq_codec codec;         /* default FL_PQ_SNAPPY */
    int codec_level;           /* ZSTD/GZIP level; 0 = codec default (zstd 3, gzip 6) */
    uint32_t flags;            /* FL_PQ_W_* */
    size_t page_size;          /* target uncompressed data page size; default 1 MiB */
    size_t dict_page_limit;    /* dictionary fallback threshold (bytes); default 1 MiB */
    size_t row_group_size;     /* target buffered bytes per row group; default 128 MiB */
    int64_t row_group_rows;    /* max rows per row group; default 1,048,576 */
    uint64_t max_file_size;    /* FL_E_LIMIT once the file would exceed this; 0 = none */
    const char *created_by;    /* NULL = "fhirlake version <FL_VERSION_STRING>" */
    const fl_pq_kv *kv;        /* key/value metadata, copied by fl_pq_writer_new */
    size_t kv_count;
    struct fl_pq_codec_cache *codec_cache; /* borrowed, outlives the writer; NULL = own contexts */
} fl_pq_write_opts;

FL_API void fl_pq_write_opts_default(fl_pq_write_opts *o);

/* Compression contexts shared by writers used one after another (a ZSTD context's tables
 * are then allocated and first touched once, not per file). Not thread-safe: give one cache
 * to one writer at a time. Set fl_pq_write_opts.codec_cache; free after the last writer
 * using it (NULL allowed). Output is the same with or without it. */
typedef struct fl_pq_codec_cache fl_pq_codec_cache;
FL_API fl_rc fl_pq_codec_cache_new(fl_pq_codec_cache **out, fl_err *err);
FL_API void fl_pq_codec_cache_free(fl_pq_codec_cache *c);

/* Sink: receives the file bytes in order; data is valid for the call only. Return FL_OK
 * or an error (filled into err), which becomes the writer's sticky error. */
typedef fl_rc (*fl_pq_sink_fn)(void *ctx, const void *data, size_t len, fl_err *err);

/* Ready-made sinks. ctx is a fl_buf* (appends) or a FILE* (fwrite). */
FL_API fl_rc fl_pq_sink_buf(void *buf, const void *data, size_t len, fl_err *err);
FL_API fl_rc fl_pq_sink_stdio(void *file, const void *data, size_t len, fl_err *err);

typedef struct fl_pq_writer fl_pq_writer;

/* Create a writer. The schema is copied (the caller may free it afterwards); o may be
 * NULL (defaults). Nothing is written before the first row group is flushed (the "PAR1"
 * magic goes out with it). Free with fl_pq_writer_free (also after errors). */
FL_API fl_rc fl_pq_writer_new(const fl_pq_schema *schema, const fl_pq_write_opts *o,
                              fl_pq_sink_fn sink, void *sink_ctx, fl_pq_writer **out,
                              fl_err *err);
FL_API void fl_pq_writer_free(fl_pq_writer *w); /* NULL allowed; does not finish */
/* The writer's schema (borrowed, valid until fl_pq_writer_free). */
FL_API const fl_pq_schema *fl_pq_writer_get_schema(const fl_pq_writer *w);

/* Row-at-a-time API. A row is the sequence of the root's children in schema order, each
 * given as one value event:
 *   primitive leaf:  one put_* call (put_null if OPTIONAL)
 *   struct group:    begin_struct, its children in order, end   (or put_null)
 *   LIST group:      begin_list, each element's value, end       (or put_null)
 *   MAP group:       begin_map, key value key value ..., end    (or put_null)
 *   REPEATED node outside LIST/MAP: begin_list, each repetition, end
 * then end_row(). BOOLEAN takes put_bool; INT32 columns take put_i32
 * (put_i64 is accepted when the value fits), DATE put_i32, TIMESTAMP/INT64 put_i64,
 * FLOAT put_f32 or put_f64, DOUBLE put_f64, BYTE_ARRAY / FIXED put_bytes (bytes are
 * copied). A call that does not fit the schema position sets a sticky FL_E_ARG.
 * These never return errors: check fl_pq_writer_rc() or the result of end_row/finish. */
FL_API void fl_pq_writer_put_null(fl_pq_writer *w);
FL_API void fl_pq_writer_put_bool(fl_pq_writer *w, bool v);
FL_API void fl_pq_writer_put_i32(fl_pq_writer *w, int32_t v);
FL_API void fl_pq_writer_put_i64(fl_pq_writer *w, int64_t v);
FL_API void fl_pq_writer_put_f32(fl_pq_writer *w, float v);
FL_API void fl_pq_writer_put_f64(fl_pq_writer *w, double v);
FL_API void fl_pq_writer_put_bytes(fl_pq_writer *w, const void *p, size_t n);
static inline void fl_pq_writer_put_str(fl_pq_writer *w, fl_str s)
{
    fl_pq_writer_put_bytes(w, s.ptr, s.len);
}
FL_API void fl_pq_writer_begin_struct(fl_pq_writer *w);
FL_API void fl_pq_writer_begin_list(fl_pq_writer *w);
FL_API void fl_pq_writer_begin_map(fl_pq_writer *w);
FL_API void fl_pq_writer_end(fl_pq_writer *w);
/* Complete the row (FL_E_ARG if fields are missing); may flush a row group through the
 * sink. Returns the sticky error code (details in fl_pq_writer_err). */
FL_API fl_rc fl_pq_writer_end_row(fl_pq_writer *w);

/* Columnar batch API: one fl_pq_colvec per leaf column (in leaf order), num_rows rows.
 * Value arrays by physical type: BOOLEAN uint8_t (0/1), INT32 int32_t, INT64 int64_t,
 * FLOAT float, DOUBLE double, BYTE_ARRAY and FIXED fl_str (bytes are copied).
 * Two forms per column:
 *  - levels form (def_levels != NULL, or a REQUIRED non-repeated leaf): num_levels
 *    definition levels (and repetition levels if the leaf is repeated), values dense:
 *    one per level entry equal to max_def. For a REQUIRED flat leaf pass
 *    def_levels = NULL and num_rows values.
 *  - simple form (def_levels == NULL) for OPTIONAL flat leaves and for leaves of
 *    top-level lists of primitives `<opt|req> name (LIST) { repeated list { <opt|req> element } }`:
 *    `valid` (NULL = all valid) is indexed like `values` (one slot per row, or per list
 *    element); lists give `offsets` (num_rows + 1 entries, offsets[0] may be non-zero)
 *    into values, and `list_valid` (NULL = no null lists) per row.
 * All columns must describe the same num_rows. Can be mixed with the row API between
 * rows. Returns the sticky error code. */
typedef struct fl_pq_colvec {
    const void *values;
    const uint8_t *valid;
    const int64_t *offsets;
    const uint8_t *list_valid;
    const int16_t *def_levels;
    const int16_t *rep_levels;
    size_t num_levels;
} fl_pq_colvec;
FL_API fl_rc fl_pq_writer_write_batch(fl_pq_writer *w, const fl_pq_colvec *cols, size_t ncols,
                                      size_t num_rows);

/* Flush buffered rows as a row group now (no-op if none). */
FL_API fl_rc fl_pq_writer_flush(fl_pq_writer *w);
/* Flush the last row group, write the footer, and report the sticky error. After it, only
 * the getters below and fl_pq_writer_free may be called. err may be NULL. */
FL_API fl_rc fl_pq_writer_finish(fl_pq_writer *w, fl_err *err);
/* The sticky error code (FL_OK if none) and its detail (borrowed, valid until free). */
FL_API fl_rc fl_pq_writer_rc(const fl_pq_writer *w);
FL_API const fl_err *fl_pq_writer_err(const fl_pq_writer *w);

/* Counters: rows appended so far; bytes handed to the sink so far; bytes written plus an
 * estimate of what is buffered (for rolling files at a target size). */
FL_API int64_t fl_pq_writer_num_rows(const fl_pq_writer *w);
FL_API uint64_t fl_pq_writer_bytes_written(const fl_pq_writer *w);
FL_API uint64_t fl_pq_writer_estimated_size(const fl_pq_writer *w);
/* Whole-file statistics of leaf column `leaf` over all rows written so far (complete
 * after finish). Byte min/max point into the writer: after finish they stay valid until
 * fl_pq_writer_free; before finish only until the next put/write/flush call.
 * FL_E_ARG if leaf is out of range. */
FL_API fl_rc fl_pq_writer_get_stats(const fl_pq_writer *w, int leaf, fl_pq_stats *out);

/* ---------------------------------------------------------------- reader */

/* Read-at callback: copy exactly len bytes at offset off into dst (FL_E_IO/FL_E_EOF etc.
 * otherwise). dst belongs to the reader and is valid for the call only; the reader reuses
 * it for the next chunk, so nothing it returns ever points into it (see "Lifetimes" below).
 *
 * Lifetimes of what the reader returns, the same for fl_pq_reader_open (read-at),
 * fl_pq_reader_open_mem and fl_pq_reader_open_file:
 *  - file metadata (schema, created_by, key/value metadata, footer statistics bytes):
 *    owned by the reader, valid until fl_pq_reader_free;
 *  - fl_pq_reader_read_column: arrays and value bytes in the caller's arena, valid until
 *    that arena is reset or finalised;
 *  - fl_pq_reader_next_row: the row tree and all its bytes in the caller's arena, valid
 *    until that arena is reset or finalised.
 * Values never point into the memory given to open_mem, the file mapping, or a buffer the
 * reader reuses, so later read_column / next_row calls (including ones that load another
 * row group) and fl_pq_reader_free leave them intact. */
typedef fl_rc (*fl_pq_read_fn)(void *ctx, uint64_t off, void *dst, size_t len, fl_err *err);

typedef struct fl_pq_reader fl_pq_reader;

/* Row-group filter: return false to skip row group rg (inspect its stats with
 * fl_pq_reader_get_rg_stats). */
typedef bool (*fl_pq_rg_filter_fn)(void *ctx, const fl_pq_reader *r, int rg);

typedef struct fl_pq_read_opts {
    size_t max_footer_size;  /* default 64 MiB */
    size_t max_page_size;    /* max uncompressed/compressed page bytes; default 256 MiB */
    size_t max_column_bytes; /* max decoded bytes of one column chunk; default 1 GiB */
    fl_pq_rg_filter_fn rg_filter; /* NULL = read all row groups */
    void *rg_filter_ctx;
    bool verify_crc;         /* check page CRCs when present (default false) */
} fl_pq_read_opts;
FL_API void fl_pq_read_opts_default(fl_pq_read_opts *o);

/* Open over a read-at callback (file_size bytes long); fn/ctx must stay valid until
 * fl_pq_reader_free. o may be NULL. Reads and checks the footer and schema. */
FL_API fl_rc fl_pq_reader_open(fl_pq_read_fn fn, void *ctx, uint64_t file_size,
                               const fl_pq_read_opts *o, fl_pq_reader **out, fl_err *err);
/* Open over memory; data is borrowed and must outlive the reader. */
FL_API fl_rc fl_pq_reader_open_mem(const void *data, size_t len, const fl_pq_read_opts *o,
                                   fl_pq_reader **out, fl_err *err);
/* Open a local file (memory-mapped; unmapped by fl_pq_reader_free). */
FL_API fl_rc fl_pq_reader_open_file(const char *path, const fl_pq_read_opts *o,
                                    fl_pq_reader **out, fl_err *err);
FL_API void fl_pq_reader_free(fl_pq_reader *r); /* NULL allowed */

/* File metadata; pointers borrowed from the reader, valid until fl_pq_reader_free. */
FL_API const fl_pq_schema *fl_pq_reader_get_schema(const fl_pq_reader *r);
FL_API int64_t fl_pq_reader_num_rows(const fl_pq_reader *r);
FL_API int fl_pq_reader_num_row_groups(const fl_pq_reader *r);
FL_API int64_t fl_pq_reader_rg_num_rows(const fl_pq_reader *r, int rg);
FL_API fl_str fl_pq_reader_created_by(const fl_pq_reader *r); /* len 0 if absent */
FL_API size_t fl_pq_reader_num_kv(const fl_pq_reader *r);
/* Key/value metadata entry i; *has_value false when the value is absent. */
FL_API void fl_pq_reader_get_kv(const fl_pq_reader *r, size_t i, fl_str *key, fl_str *value,
                                bool *has_value);
/* Column-chunk statistics of leaf in row group rg as stored in the footer (fields the file
 * does not have are -1 / has_min_max=false; legacy min/max are used only where their
 * order is valid). min/max bytes are borrowed from the reader (they point into its copy of
 * the footer) and stay valid until fl_pq_reader_free. */
FL_API fl_rc fl_pq_reader_get_rg_stats(const fl_pq_reader *r, int rg, int leaf, fl_pq_stats *out,
                                       fl_err *err);
/* Codec name used by a leaf's chunk in rg ("SNAPPY", ...), for tools. */
FL_API const char *fl_pq_reader_codec_name(const fl_pq_reader *r, int rg, int leaf);

/* One decoded column chunk. Arrays live in the arena passed to read_column. */
typedef struct fl_pq_column {
    size_t num_levels;         /* level entries (== rows for flat columns) */
    const int16_t *def_levels; /* NULL when max_def == 0 (all present) */
    const int16_t *rep_levels; /* NULL when max_rep == 0 */
    size_t num_values;         /* non-null values (level == max_def) */
    const void *values;        /* typed like fl_pq_colvec values; INT96 as int64 ns */
} fl_pq_column;

/* Decode leaf column `leaf` of row group rg into arena a. The arrays and every value's
 * bytes (BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY, dictionary entries) are allocated in a and stay
 * valid until a is reset or finalised, in every open mode (read-at included): reading
 * further chunks with the same reader, or freeing the reader, does not affect them. */
FL_API fl_rc fl_pq_reader_read_column(fl_pq_reader *r, int rg, int leaf, fl_arena *a,
                                      fl_pq_column *out, fl_err *err);

/* Assembled row values. */
typedef enum fl_pq_vkind {
    FL_PQ_V_NULL = 0,
    FL_PQ_V_BOOL,
    FL_PQ_V_I32,
    FL_PQ_V_I64,
    FL_PQ_V_F32,
    FL_PQ_V_F64,
    FL_PQ_V_BYTES,
    FL_PQ_V_STRUCT, /* items[n]: one per child node in schema order */
    FL_PQ_V_LIST,   /* items[n]: the elements (LIST groups and bare repeated nodes) */
    FL_PQ_V_MAP,    /* items[2n]: key, value, key, value ... */
    FL_PQ_V_SKIPPED /* a node not selected by the projection */
} fl_pq_vkind;

typedef struct fl_pq_val {
    fl_pq_vkind kind;
    uint32_t n; /* items count (struct/list), pairs (map), else 0 */
    union {
        bool b;
        int32_t i32;
        int64_t i64;
        float f32;
        double f64;
        fl_str bytes;
        struct fl_pq_val *items;
    } v;
} fl_pq_val;

/* Projection for the row API: select the subtrees whose dotted paths are given
 * ("add", "metaData.configuration"); unselected nodes come back as FL_PQ_V_SKIPPED.
 * Call before the first next_row; paths == NULL / n == 0 selects everything.
 * FL_E_NOT_FOUND (naming the path) if a path does not exist. */
FL_API fl_rc fl_pq_reader_select(fl_pq_reader *r, const char *const *paths, size_t n, fl_err *err);

/* Next row as a struct value (kind FL_PQ_V_STRUCT, one item per root child), allocated
 * with all its bytes (strings copied) in arena a. It stays valid until a is reset or
 * finalised, in every open mode (read-at included): later next_row calls, including ones
 * that load the next row group, and fl_pq_reader_free do not affect it, so the caller may
 * keep rows from several row groups in one arena. The reader's own per-row-group buffers
 * are internal and never referenced by a returned row. Skips row groups rejected by
 * opts.rg_filter. Returns FL_E_EOF after the last row. */
FL_API fl_rc fl_pq_reader_next_row(fl_pq_reader *r, fl_arena *a, fl_pq_val **out, fl_err *err);

/* ---------------------------------------------------------------- tools */

/* Append a row (from fl_pq_reader_next_row, or built by the caller with the same shape)
 * as one line of canonical JSON (no newline) to out: an object of the root's children;
 * null; booleans; integers as numbers (DATE days, TIMESTAMP/TIME raw units, INT96 ns,
 * unsigned INT as unsigned); DECIMAL as a string with the scale applied ("-1.50");
 * FLOAT/DOUBLE as numbers (%.17g) or "NaN"/"Infinity"/"-Infinity"; STRING/JSON/ENUM as
 * JSON strings (invalid UTF-8 replaced by U+FFFD); other bytes as "0x<hex>"; lists as
 * arrays; maps as arrays of [key, value]; skipped nodes are omitted. Returns out->rc. */
FL_API fl_rc fl_pq_format_row(const fl_pq_schema *s, const fl_pq_val *row, fl_buf *out);
/* The same for the value of one node (node id in s). */
FL_API fl_rc fl_pq_format_value(const fl_pq_schema *s, int node, const fl_pq_val *v, fl_buf *out);

#ifdef __cplusplus
}
#endif
#endif
