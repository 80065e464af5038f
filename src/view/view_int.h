/* view_int.h - private structures of the view module (src/view only).
 * A plan is a tree of compiled select structures (view_sel) whose columns write into a
 * flat, ordered list of output columns. Everything a plan owns lives in its arena,
 * except the FHIRPath programs, which are freed explicitly. */
#ifndef FL_VIEW_INT_H
#define FL_VIEW_INT_H

#include "fhirlake/fhirpath.h"
#include "fhirlake/json.h"
#include "fhirlake/view.h"

/* How a select structure iterates. */
typedef enum view_iter {
    VIEW_IT_NONE = 0,
    VIEW_IT_FOREACH,
    VIEW_IT_FOREACH_OR_NULL,
    VIEW_IT_REPEAT
} view_iter;

/* One column occurrence inside a select: its program and the output slot it fills
 * (unionAll branches fill the same slots). */
/* A path that is a plain member chain ("address.city") whose FHIR type the FHIRPath
 * compiler knows, optionally with `.where(member = 'text')` after a segment and a final
 * `.first()` or `.join('sep')`, or just `getResourceKey()`: evaluated directly on the JSON
 * DOM (see fast_eval in view_eval.c), which falls back to the program on anything unusual. */
typedef enum view_fast_tail {
    VIEW_FAST_ALL = 0, /* the whole collection */
    VIEW_FAST_FIRST,   /* .first() */
    VIEW_FAST_JOIN     /* .join('sep') over strings */
} view_fast_tail;

typedef struct view_fast {
    fl_str *segs;
    fl_str *filt_key, *filt_val; /* per segment: .where(key = 'val'), or .ptr NULL */
    uint32_t nsegs;
    uint8_t tail;       /* view_fast_tail */
    bool resource_key;  /* the path is getResourceKey() (nsegs 0) */
    fl_str join_sep;
    uint32_t hint_base; /* first of nsegs member-position hints in fl_view_ctx.hints */
    const char *fhir_type;
    bool node_tmpl_ok;  /* objects of this type can be built from node_tmpl */
    fl_fp_item node_tmpl;
} view_fast;

typedef struct view_cref {
    uint32_t out;
    fl_fp_prog *prog;
    const view_fast *fast; /* NULL = always use prog */
} view_cref;

typedef struct view_sel view_sel;
struct view_sel {
    view_iter iter;
    fl_fp_prog **iters; /* forEach/forEachOrNull: 1; repeat: one per path */
    const view_fast *iter_fast; /* forEach/forEachOrNull fast path, or NULL */
    uint32_t niters;
    view_cref *cols;
    uint32_t ncols;
    view_sel **subs; /* nested select[] */
    uint32_t nsubs;
    view_sel **unions; /* unionAll[] */
    uint32_t nunions;
    uint32_t col_begin, col_end; /* output columns this structure fills */
    const char *where; /* place in the view ("select[0].unionAll[1]") for messages */
};

/* Copy n bytes from s to d (not overlapping). Short copies, the usual case for view values
 * and keys, are done inline with overlapping word moves instead of a call to memcpy; no
 * byte outside [s, s+n) is read and none outside [d, d+n) written. */
static inline void view_copy(char *d, const char *s, size_t n)
{
    if (n > 16) {
        memcpy(d, s, n);
    } else if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n) {
        char a = s[0], b = s[n >> 1], c = s[n - 1];
        d[0] = a;
        d[n >> 1] = b;
        d[n - 1] = c;
    }
}

/* Equal bytes, for short keys: inline word compares (same reads as view_copy). */
static inline bool view_bytes_eq(const char *a, const char *b, size_t n)
{
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint64_t x, y;
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y) return false;
        }
        if (i < n) {
            uint64_t x, y;
            memcpy(&x, a + n - 8, 8);
            memcpy(&y, b + n - 8, 8);
            return x == y;
        }
        return true;
    }
    if (n >= 4) {
        uint32_t x0, y0, x1, y1;
        memcpy(&x0, a, 4);
        memcpy(&y0, b, 4);
        memcpy(&x1, a + n - 4, 4);
        memcpy(&y1, b + n - 4, 4);
        return ((x0 ^ y0) | (x1 ^ y1)) == 0;
    }
    if (n) return a[0] == b[0] && a[n >> 1] == b[n >> 1] && a[n - 1] == b[n - 1];
    return true;
}

/* Value storage class of an fl_view_type. */
typedef enum view_store { VIEW_ST_STR, VIEW_ST_U8, VIEW_ST_I32, VIEW_ST_I64, VIEW_ST_F64 } view_store;

static inline view_store view_type_store(fl_view_type t)
{
    switch (t) {
    case FL_VIEW_BOOL: return VIEW_ST_U8;
    case FL_VIEW_INT:
    case FL_VIEW_DATE: return VIEW_ST_I32;
    case FL_VIEW_LONG:
    case FL_VIEW_TIMESTAMP:
    case FL_VIEW_DECIMAL: return VIEW_ST_I64;
    case FL_VIEW_DOUBLE: return VIEW_ST_F64;
    case FL_VIEW_STRING:
    default: return VIEW_ST_STR;
    }
}

static inline size_t view_store_size(view_store s)
{
    switch (s) {
    case VIEW_ST_U8: return 1;
    case VIEW_ST_I32: return 4;
    case VIEW_ST_I64: return 8;
    case VIEW_ST_F64: return 8;
    case VIEW_ST_STR:
    default: return sizeof(fl_str);
    }
}

/* Per-column conversion behaviour decided at compile time. */
typedef struct view_colinfo {
    bool json_ok;       /* complex (object) values are written as JSON text */
    fl_str json_key;    /* "name": pre-escaped, for the row writers */
    fl_str json_key_sep; /* ,"name": (the same bytes with the separator in front) */
} view_colinfo;

struct fl_view_plan {
    fl_arena arena;
    fl_view_opts opts;
    const char *resource;
    const char *name;
    view_sel *root; /* synthetic structure whose subs are the view's select[] */
    fl_fp_prog **wheres;
    const char **where_paths;
    uint32_t nwheres;
    fl_view_col *cols;
    view_colinfo *info;
    uint32_t ncols;
    /* FHIRPath variables: slot 0 = rowIndex, then the constants in order. */
    const char **var_names;
    fl_fp_coll *var_vals; /* constants' values (slot 0 unused here) */
    uint32_t nvars;
    fl_vec progs; /* every fl_fp_prog* compiled, for freeing */
    uint32_t nhints; /* member-position hints used by fast paths (per ctx) */
};

/* ---- one converted value (evaluation scratch) */
typedef union view_val {
    int64_t i;
    double d;
    fl_str s;
} view_val;

typedef struct view_cell {
    uint32_t set; /* 0 = null */
    uint32_t n;   /* collection: item count */
    union {
        view_val one;
        view_val *items; /* collection */
    } v;
} view_cell;

struct fl_view_ctx {
    const fl_view_plan *plan;
    fl_arena arena;
    fl_fp_coll *vars; /* nvars slots: [0] = %rowIndex, rest = constants */
    fl_fp_item row_item;
    fl_fp_env env;
    fl_fp_item root_item;
    fl_fp_item root_tmpl; /* root_item of any resource of plan->resource (node pointers aside) */
    bool root_tmpl_ok;
    fl_json_val empty_obj;
    const fl_json_val *res;
    fl_str res_id;
    uint64_t nres; /* resources evaluated (clock refresh) */
    uint32_t *hints; /* plan->nhints member positions last seen by the fast paths */
    uint32_t rt_hint, id_hint; /* positions of resourceType and id last seen */
    size_t resource_len;       /* strlen(plan->resource) */
    bool skipped;
};

struct fl_view_batch {
    const fl_view_plan *plan;
    size_t rows, cap;
    fl_view_vec *vecs;
    size_t *item_cap; /* per column: capacity of data for collections */
    fl_arena strings;  /* string bytes of all rows */
};

/* view_types.c */
/* Map a declared FHIR type name (or URI) to storage; false if unknown. json_ok is set
 * for complex types. */
bool view_type_from_fhir(const char *name, uint32_t flags, fl_view_type *out, view_colinfo *info);
/* Map an `ansi/type` tag value; false if unsupported. */
bool view_type_from_ansi(const char *val, fl_view_type *out, uint8_t *precision, uint8_t *scale);
/* Convert one FHIRPath item to the column's storage. Strings may borrow from the item
 * or be allocated in `a`. Returns FL_E_VIEW_EVAL with a message on mismatch. */
fl_rc view_convert(const fl_view_col *col, const view_colinfo *info, const fl_fp_item *it,
                   fl_arena *a, view_val *out, fl_err *err);

/* view_compile.c: fast path for `expr` compiled as p, or NULL (also on OOM). */
const view_fast *view_fast_make(fl_arena *a, const char *expr, const fl_fp_prog *p, uint32_t *nhints);

/* view_batch.c */
/* Append the rows (each ncols cells wide) to b; all-or-nothing. */
fl_rc view_batch_append(fl_view_batch *b, const view_cell *rows, size_t nrows, fl_err *err);

#endif
