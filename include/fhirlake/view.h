/* fhirlake/view.h - SQL-on-FHIR ViewDefinitions: validate, compile, run into columnar
 * batches, write rows as NDJSON/CSV/JSON (module view).
 *
 * Compile once, run many:
 *
 *   fl_view_plan *plan; rc = fl_view_compile(text, len, NULL, &plan, &err);
 *   fl_view_ctx *ctx;   rc = fl_view_ctx_new(plan, &ctx, &err);      // one per thread
 *   fl_view_batch *b;   rc = fl_view_batch_new(plan, 1024, &b, &err); // one per thread
 *   for each resource line:
 *       rc = fl_view_eval_text(ctx, line, n, b, &rows, &err);  // appends 0..n rows
 *       if (fl_view_batch_rows(b) >= 1024) { consume b; fl_view_batch_clear(b); }
 *
 * A plan is read-only after compilation and may be shared by any number of threads;
 * a ctx (evaluation scratch) and a batch belong to one thread at a time.
 *
 * Column types are fixed when the plan is compiled (declared `type`, `ansi/type` tag, or
 * inferred from the FHIRPath expression), so a Parquet/Delta schema can be written
 * before the first row. See docs/internals/VIEW.md for the mapping and the conversion
 * rules (partial dates, decimals, complex values). */
#ifndef FHIRLAKE_VIEW_H
#define FHIRLAKE_VIEW_H

#include "fhirlake/base.h"
#include "fhirlake/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ limits */

#define FL_VIEW_MAX_VIEW_BYTES (16u << 20)  /* ViewDefinition JSON text */
#define FL_VIEW_MAX_SELECT_DEPTH 64u        /* nesting of select/unionAll structures */
#define FL_VIEW_MAX_COLUMNS 4096u           /* columns in one view */
#define FL_VIEW_MAX_CONSTANTS 1024u         /* constants in one view */
#define FL_VIEW_DEFAULT_REPEAT_DEPTH 64u    /* levels a `repeat` may descend */
#define FL_VIEW_DEFAULT_MAX_ROWS 1000000u   /* rows one resource may produce */
#define FL_VIEW_DEFAULT_ARENA_LIMIT (512u << 20) /* scratch bytes for one resource */
#define FL_VIEW_DEFAULT_MAX_RESOURCE (256u << 20) /* bytes of one resource's JSON text */

/* ------------------------------------------------------------------ types */

/* Storage type of a column (or of the items of a collection column).
 *   STRING    fl_str (UTF-8)                         data.s
 *   BOOL      uint8_t 0/1                            data.b
 *   INT       int32_t                                data.i32
 *   LONG      int64_t                                data.i64
 *   DOUBLE    double                                 data.f64
 *   DATE      int32_t days since 1970-01-01          data.i32
 *   TIMESTAMP int64_t microseconds since epoch, UTC  data.i64
 *   DECIMAL   int64_t unscaled value, see col->precision/scale  data.i64 */
typedef enum fl_view_type {
    FL_VIEW_STRING = 1,
    FL_VIEW_BOOL,
    FL_VIEW_INT,
    FL_VIEW_LONG,
    FL_VIEW_DOUBLE,
    FL_VIEW_DATE,
    FL_VIEW_TIMESTAMP,
    FL_VIEW_DECIMAL
} fl_view_type;

/* "STRING", "BOOLEAN", "INT", "LONG", "DOUBLE", "DATE", "TIMESTAMP", "DECIMAL". */
FL_API const char *fl_view_type_name(fl_view_type t);

/* One output column, owned by the plan (valid until fl_view_plan_free). Strings are
 * NUL-terminated. */
typedef struct fl_view_col {
    const char *name;        /* unique in the view */
    const char *path;        /* FHIRPath expression text */
    const char *fhir_type;   /* declared `type`, or the inferred FHIR/System type name */
    const char *description; /* NULL when absent */
    fl_view_type type;       /* storage type (of each item when collection) */
    bool collection;         /* values are arrays of `type` */
    bool declared;           /* true when `type` (or an ansi/type tag) was given */
    bool nullable;           /* always true today: an empty path gives null */
    uint8_t precision, scale; /* DECIMAL only */
} fl_view_col;

/* ------------------------------------------------------------------ compile */

/* opts->flags */
#define FL_VIEW_TEMPORAL_AS_STRING 0x1u /* date/dateTime/instant columns keep their FHIR
                                           lexical text (STRING); the SQL-on-FHIR default
                                           mapping does so for date and dateTime */
#define FL_VIEW_DECIMAL_AS_STRING 0x2u  /* decimal columns keep their exact text (STRING) */
#define FL_VIEW_LENIENT_KEYS 0x4u       /* ignore unknown keys instead of failing */

typedef struct fl_view_opts {
    uint32_t flags;
    uint32_t max_repeat_depth; /* 0 = FL_VIEW_DEFAULT_REPEAT_DEPTH */
    size_t max_rows;           /* rows per resource; 0 = FL_VIEW_DEFAULT_MAX_ROWS */
    size_t arena_limit;        /* scratch per resource; 0 = FL_VIEW_DEFAULT_ARENA_LIMIT */
    size_t max_resource;       /* JSON text per resource; 0 = FL_VIEW_DEFAULT_MAX_RESOURCE */
} fl_view_opts;

static inline void fl_view_opts_default(fl_view_opts *o) { memset(o, 0, sizeof *o); }

typedef struct fl_view_plan fl_view_plan;

/* Validate and compile a ViewDefinition given as JSON text. opts may be NULL. On success
 * *out is an owned plan (free with fl_view_plan_free); it copies everything it needs, so
 * text may be freed afterwards. Errors (FL_E_VIEW_INVALID unless stated): JSON syntax
 * (FL_E_JSON_*, with line/column), unknown or missing keys, wrong JSON types, invalid
 * names, duplicate column names, unknown types, more than one of
 * forEach/forEachOrNull/repeat, unionAll branches whose columns differ, constants
 * without a value, a `where` whose result is statically not boolean, and FHIRPath
 * syntax/compile errors (the message quotes the expression and the column). The message
 * names the place in the view, e.g. "select[1].column[0] (name 'birth'): ...". */
FL_API fl_rc fl_view_compile(const char *text, size_t len, const fl_view_opts *opts,
                             fl_view_plan **out, fl_err *err);
/* Same from a parsed JSON object (the DOM is not retained). */
FL_API fl_rc fl_view_compile_json(const fl_json_val *view, const fl_view_opts *opts,
                                  fl_view_plan **out, fl_err *err);
FL_API void fl_view_plan_free(fl_view_plan *plan);

/* Plan accessors (borrowed; valid until fl_view_plan_free). */
FL_API size_t fl_view_plan_ncols(const fl_view_plan *plan);
FL_API const fl_view_col *fl_view_plan_col(const fl_view_plan *plan, size_t i);
/* The `resource` type ("Patient") and the view `name` ("" when absent), NUL-terminated. */
FL_API const char *fl_view_plan_resource(const fl_view_plan *plan);
FL_API const char *fl_view_plan_name(const fl_view_plan *plan);

/* ------------------------------------------------------------------ batches */

/* One column of a batch. Scalar columns: valid[r] and data[r] for rows r < rows.
 * Collection columns: valid[r] says the array is non-null; its items are
 * data[offsets[r] .. offsets[r+1]) (offsets has rows+1 entries, offsets[0] = 0; items
 * are never null). Values of null rows are zero. Pointers are owned by the batch and are
 * valid until the next fl_view_batch_* call that changes it. */
typedef struct fl_view_vec {
    const fl_view_col *col;
    uint8_t *valid;
    uint32_t *offsets; /* collection columns only, else NULL */
    size_t nitems;     /* collection columns: total items */
    union {
        fl_str *s;
        uint8_t *b;
        int32_t *i32;
        int64_t *i64;
        double *f64;
        void *p;
    } data;
} fl_view_vec;

typedef struct fl_view_batch fl_view_batch;

/* A batch for plan's columns with room for row_hint rows (it grows past that when a
 * resource produces more; the caller decides when to flush). The plan must outlive the
 * batch. Free with fl_view_batch_free. */
FL_API fl_rc fl_view_batch_new(const fl_view_plan *plan, size_t row_hint, fl_view_batch **out,
                               fl_err *err);
FL_API void fl_view_batch_free(fl_view_batch *b);
/* Drop all rows (storage kept for reuse). */
FL_API void fl_view_batch_clear(fl_view_batch *b);
FL_API size_t fl_view_batch_rows(const fl_view_batch *b);
FL_API size_t fl_view_batch_ncols(const fl_view_batch *b);
/* Column i (borrowed). */
FL_API const fl_view_vec *fl_view_batch_col(const fl_view_batch *b, size_t i);
/* Bytes held by the batch (for flush decisions). */
FL_API size_t fl_view_batch_bytes(const fl_view_batch *b);

/* ------------------------------------------------------------------ evaluation */

typedef struct fl_view_ctx fl_view_ctx;

/* Per-thread evaluation scratch (an arena reset for every resource). The plan must
 * outlive the ctx. Free with fl_view_ctx_free. */
FL_API fl_rc fl_view_ctx_new(const fl_view_plan *plan, fl_view_ctx **out, fl_err *err);
FL_API void fl_view_ctx_free(fl_view_ctx *ctx);

/* Run the view over one resource and append its rows to b (which must belong to the same
 * plan). A resource of another type (or without resourceType) adds no rows and returns
 * FL_OK. *rows_added (optional) receives the number of rows. On error nothing is
 * appended and b is unchanged: FL_E_VIEW_EVAL (a non-collection column with several
 * values, a value that does not convert to the column type, a where that is not
 * boolean), FL_E_FP_EVAL, FL_E_LIMIT (rows, repeat depth, scratch), FL_E_NOMEM. The
 * message names the column and the resource id. `res` is only read; values are copied
 * into the batch, so res may be freed afterwards. */
FL_API fl_rc fl_view_eval(fl_view_ctx *ctx, const fl_json_val *res, fl_view_batch *b,
                          size_t *rows_added, fl_err *err);
/* Parse one resource (JSON text) in the ctx scratch and run fl_view_eval. JSON errors
 * are returned as FL_E_JSON_* with line/column inside the text. */
FL_API fl_rc fl_view_eval_text(fl_view_ctx *ctx, const char *text, size_t len, fl_view_batch *b,
                               size_t *rows_added, fl_err *err);
/* True when the last resource given to ctx added no rows because it is not of the view's
 * resource type (or has no resourceType). */
FL_API bool fl_view_ctx_last_skipped(const fl_view_ctx *ctx);

/* ------------------------------------------------------------------ values */

/* Conversion helpers used by the batch (exposed for writers and tests). They follow the
 * partial-date rule of docs/internals/VIEW.md: a missing month/day is 1, a missing time
 * is 00:00:00, a dateTime without offset is UTC, digits past microseconds are dropped. */
FL_API bool fl_view_parse_date(fl_str s, int32_t *days);
FL_API bool fl_view_parse_timestamp(fl_str s, int64_t *micros);
/* Format days as "YYYY-MM-DD" / micros as "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" (fraction
 * trimmed to 3 or 6 digits, absent when zero). out needs 32 bytes; returns the length. */
FL_API size_t fl_view_format_date(int32_t days, char *out, size_t cap);
FL_API size_t fl_view_format_timestamp(int64_t micros, char *out, size_t cap);
/* Format an unscaled decimal ("-12345", scale 2 -> "-123.45"). out needs 48 bytes. */
FL_API size_t fl_view_format_decimal(int64_t unscaled, unsigned scale, char *out, size_t cap);

/* ------------------------------------------------------------------ output */

typedef enum fl_view_format {
    FL_VIEW_FMT_NDJSON = 1, /* one JSON object per row, keys in column order */
    FL_VIEW_FMT_CSV,        /* RFC 4180, header line; null = empty field; arrays as JSON */
    FL_VIEW_FMT_JSON        /* one JSON array of row objects */
} fl_view_format;

/* Streaming row writer: init, write batches, finish. Output is appended to `out`
 * (errors are sticky in out->rc and returned). */
typedef struct fl_view_writer {
    const fl_view_plan *plan;
    fl_view_format fmt;
    uint32_t flags;   /* FL_VIEW_W_* */
    uint64_t rows;    /* rows written so far */
    bool started;
} fl_view_writer;

#define FL_VIEW_W_NO_HEADER 0x1u /* CSV: no header line */
#define FL_VIEW_W_OMIT_NULLS 0x2u /* NDJSON/JSON: leave null members out (default: write null) */

FL_API void fl_view_writer_init(fl_view_writer *w, const fl_view_plan *plan, fl_view_format fmt,
                                uint32_t flags);
FL_API fl_rc fl_view_writer_batch(fl_view_writer *w, const fl_view_batch *b, fl_buf *out);
FL_API fl_rc fl_view_writer_finish(fl_view_writer *w, fl_buf *out);
/* "ndjson", "csv", "json" -> format; false when unknown. */
FL_API bool fl_view_format_parse(const char *name, fl_view_format *out);

#ifdef __cplusplus
}
#endif
#endif
