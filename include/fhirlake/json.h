/* fhirlake/json.h - JSON DOM parser, writer and NDJSON reader (module json).
 *
 * The DOM lives in a caller-supplied arena: parse, use, then fl_arena_reset(). Strings
 * without escapes point into the input buffer (zero copy) unless FL_JSON_COPY_STRINGS
 * is given, so by default THE INPUT MUST OUTLIVE THE DOM. Numbers keep their exact
 * source text (FHIR decimals must not lose digits) with int64/double views on demand.
 * Objects keep member order. A parsed DOM is read-only and may be shared by threads. */
#ifndef FHIRLAKE_JSON_H
#define FHIRLAKE_JSON_H

#include "fhirlake/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fl_json_type {
    FL_JSON_NULL = 0,
    FL_JSON_FALSE,
    FL_JSON_TRUE,
    FL_JSON_NUMBER,
    FL_JSON_STRING,
    FL_JSON_ARRAY,
    FL_JSON_OBJECT
} fl_json_type;

/* val->flags */
#define FL_JSON_F_INT 0x1u /* NUMBER written without fraction or exponent */

typedef struct fl_json_val fl_json_val;
typedef struct fl_json_member fl_json_member;

/* One JSON value (16 bytes). Read the fields directly; they are the contract.
 *  STRING: u.str/len = decoded UTF-8 bytes (may contain NUL; not NUL-terminated).
 *  NUMBER: u.str/len = exact source text ("1.50", "-0", "1e3").
 *  ARRAY:  u.items[0..len) contiguous.
 *  OBJECT: u.members[0..len) contiguous, in source order. */
struct fl_json_val {
    uint8_t type;  /* fl_json_type */
    uint8_t flags; /* FL_JSON_F_* */
    uint16_t reserved_;
    uint32_t len;
    union {
        const char *str;
        fl_json_val *items;
        fl_json_member *members;
    } u;
};

struct fl_json_member {
    fl_str key; /* decoded key bytes */
    fl_json_val val;
};

/* ------------------------------------------------------------------ parsing */

/* opts->flags */
#define FL_JSON_ALLOW_DUPKEYS 0x1u /* duplicate object keys allowed: last one wins */
#define FL_JSON_COPY_STRINGS 0x2u  /* copy every string into the arena (input may be freed) */
#define FL_JSON_ALLOW_TRAILING 0x4u /* allow bytes after the value (returned via *consumed) */

#define FL_JSON_DEFAULT_MAX_DEPTH 256u

typedef struct fl_json_opts {
    uint32_t flags;
    uint32_t max_depth; /* nesting limit; 0 = FL_JSON_DEFAULT_MAX_DEPTH */
    size_t max_size;    /* input size limit in bytes; 0 = no limit beyond 4 GiB per string */
} fl_json_opts;

/* Parse one RFC 8259 JSON text (UTF-8 validated; leading/trailing whitespace allowed).
 * opts may be NULL (defaults). On success *out is the root, allocated in `a`.
 * On failure returns FL_E_JSON_SYNTAX / FL_E_JSON_DUPKEY / FL_E_JSON_DEPTH / FL_E_UTF8 /
 * FL_E_LIMIT / FL_E_NOMEM and fills err with byte offset, line, column (1-based) and a
 * message saying what was expected ("expected ',' or '}' after object member").
 * consumed (optional) receives the number of bytes used (with FL_JSON_ALLOW_TRAILING). */
FL_API fl_rc fl_json_parse(const char *buf, size_t len, const fl_json_opts *opts, fl_arena *a,
                           fl_json_val **out, size_t *consumed, fl_err *err);

/* ------------------------------------------------------------------ access */

static inline bool fl_json_is_obj(const fl_json_val *v) { return v && v->type == FL_JSON_OBJECT; }
static inline bool fl_json_is_arr(const fl_json_val *v) { return v && v->type == FL_JSON_ARRAY; }
static inline bool fl_json_is_str(const fl_json_val *v) { return v && v->type == FL_JSON_STRING; }
static inline bool fl_json_is_num(const fl_json_val *v) { return v && v->type == FL_JSON_NUMBER; }
static inline bool fl_json_is_bool(const fl_json_val *v)
{
    return v && (v->type == FL_JSON_TRUE || v->type == FL_JSON_FALSE);
}
static inline bool fl_json_is_null(const fl_json_val *v) { return v && v->type == FL_JSON_NULL; }
/* String bytes or number text as a slice ({NULL,0} for other types). */
static inline fl_str fl_json_str(const fl_json_val *v)
{
    if (v && (v->type == FL_JSON_STRING || v->type == FL_JSON_NUMBER)) return (fl_str){v->u.str, v->len};
    return FL_STR_NULL;
}
/* Member value by key (linear scan; FHIR objects are small), or NULL. */
FL_API const fl_json_val *fl_json_get(const fl_json_val *obj, fl_str key);
static inline const fl_json_val *fl_json_get_c(const fl_json_val *obj, const char *key)
{
    return fl_json_get(obj, fl_str_c(key));
}
/* Number views. false if v is not a number or the value does not fit; as_i64 accepts
 * only integer text (FL_JSON_F_INT). */
FL_API bool fl_json_as_i64(const fl_json_val *v, int64_t *out);
FL_API bool fl_json_as_f64(const fl_json_val *v, double *out);
/* Structural equality (numbers compared by value, object members order-insensitive). */
FL_API bool fl_json_equal(const fl_json_val *a, const fl_json_val *b);

/* ------------------------------------------------------------------ writing */

/* Append the compact serialisation of v to out (numbers from their source text). */
FL_API fl_rc fl_json_write(const fl_json_val *v, fl_buf *out);
/* Append s as a quoted, escaped JSON string: '"' '\\' and \b \f \n \r \t by their short
 * escapes, other control chars as \u00XX, '/' unescaped; bytes that are not valid UTF-8
 * become \ufffd, so the output is always valid JSON. */
FL_API fl_rc fl_json_write_str(fl_buf *out, fl_str s);

/* Streaming writer with automatic commas. Errors are sticky in out->rc (FL_E_STATE for a
 * misplaced key or end, FL_E_JSON_DEPTH past 63 nesting levels). Top-level values get no
 * separator: the caller frames them (e.g. appends '\n' after each NDJSON record). */
typedef struct fl_jw {
    fl_buf *out;
    uint32_t depth;
    uint64_t first; /* bit d set = next item at depth d is the first */
    bool after_key;
} fl_jw;

FL_API void fl_jw_init(fl_jw *w, fl_buf *out);
FL_API void fl_jw_obj_begin(fl_jw *w);
FL_API void fl_jw_obj_end(fl_jw *w);
FL_API void fl_jw_arr_begin(fl_jw *w);
FL_API void fl_jw_arr_end(fl_jw *w);
FL_API void fl_jw_key(fl_jw *w, fl_str key);
static inline void fl_jw_key_c(fl_jw *w, const char *key) { fl_jw_key(w, fl_str_c(key)); }
FL_API void fl_jw_str(fl_jw *w, fl_str s);
static inline void fl_jw_str_c(fl_jw *w, const char *s) { fl_jw_str(w, fl_str_c(s)); }
FL_API void fl_jw_i64(fl_jw *w, int64_t v);
FL_API void fl_jw_f64(fl_jw *w, double v); /* shortest round-trip text; NaN/inf as null */
FL_API void fl_jw_bool(fl_jw *w, bool v);
FL_API void fl_jw_null(fl_jw *w);
FL_API void fl_jw_raw(fl_jw *w, fl_str json); /* already-valid JSON text (e.g. number text) */
FL_API void fl_jw_val(fl_jw *w, const fl_json_val *v);

/* ------------------------------------------------------------------ NDJSON */

typedef struct fl_ndjson_reader fl_ndjson_reader;

typedef struct fl_ndjson_opts {
    size_t max_line; /* longest accepted line in bytes; 0 = 64 MiB */
} fl_ndjson_opts;

/* Open an NDJSON source: a path ("-" = stdin). Gzip input (.gz, detected by its magic
 * bytes) is inflated through zlib. Memory stays bounded by max_line plus one read chunk,
 * whatever the file size. The reader owns its buffers; free with fl_ndjson_close. */
FL_API fl_rc fl_ndjson_open(const char *path, const fl_ndjson_opts *opts, fl_ndjson_reader **out,
                            fl_err *err);
/* Same over a caller-owned memory buffer (which must outlive the reader). */
FL_API fl_rc fl_ndjson_open_mem(const char *buf, size_t len, const fl_ndjson_opts *opts,
                                fl_ndjson_reader **out, fl_err *err);

/* One record line. */
typedef struct fl_ndjson_line {
    fl_str text;      /* line bytes without the LF/CRLF and without a leading BOM; valid
                         until the next fl_ndjson_next() or fl_ndjson_close() */
    uint64_t line_no; /* 1-based physical line number in the (decompressed) input */
    uint64_t offset;  /* byte offset of text.ptr in the (decompressed) input (after a
                         leading BOM, which is stripped on line 1 only) */
} fl_ndjson_line;

/* Next non-blank line. FL_E_EOF at the end; FL_E_LIMIT for a line over max_line (the
 * reader skips past it, so the caller may report and continue; line->line_no and offset
 * name the skipped line, line->text is empty); FL_E_IO/FL_E_COMPRESS on read/inflate
 * errors (not recoverable). */
FL_API fl_rc fl_ndjson_next(fl_ndjson_reader *r, fl_ndjson_line *line, fl_err *err);
/* Bytes read from the underlying source so far (compressed bytes for .gz), for progress. */
FL_API uint64_t fl_ndjson_bytes_read(const fl_ndjson_reader *r);
FL_API void fl_ndjson_close(fl_ndjson_reader *r);

/* Read a whole file ("-" = stdin) and append its bytes to out (caller-initialised),
 * inflating it first if it starts with the gzip magic (concatenated members followed).
 * FL_E_LIMIT if the (decompressed) content is over `limit` bytes (0 = no limit beyond
 * out's own limit). For one-document .json / .json.gz input. */
FL_API fl_rc fl_json_read_file(const char *path, size_t limit, fl_buf *out, fl_err *err);

#ifdef __cplusplus
}
#endif
#endif
