/* fhirpath_int.h - private declarations shared by the src/fhirpath files (module fhirpath).
 * The AST (built by fp_parse.c, read-only after compile), the evaluation context, the
 * exact decimal and temporal helpers (fp_value.c), the FHIR type table (fp_types.c) and
 * the function table (fp_func.c). Nothing here is visible outside the module. */
#ifndef FL_FHIRPATH_INT_H
#define FL_FHIRPATH_INT_H

#include "fhirlake/fhirpath.h"

#include <stdatomic.h>
#include "fhirpath/fp_types_ids.h"

/* ------------------------------------------------------------------ item flags */

#define FPF_NOVALUE 0x1u  /* primitive with only "_x" (id/extension) and no value: v.node = "_x" */
#define FPF_CALUNIT 0x2u  /* quantity whose unit is a calendar word (year, day, ...) */
#define FPF_TYPEINFO 0x4u /* type() result: v.s = namespace, ext unused, src NULL; name in q */

/* ------------------------------------------------------------------ lexer */

typedef enum fp_tok_kind {
    FPT_EOF = 0,
    FPT_IDENT,    /* plain identifier or keyword */
    FPT_DIDENT,   /* `delimited` identifier (text decoded) */
    FPT_STRING,   /* 'string' (text decoded) */
    FPT_INT,      /* 123 */
    FPT_DEC,      /* 1.5 */
    FPT_DATE,     /* @2014-01 (text without @) */
    FPT_DATETIME, /* @2014-01-01T10 */
    FPT_TIME,     /* @T10:30 (text without @T) */
    FPT_EXTVAR,   /* %name / %`name` / %'name' (text = name) */
    FPT_DOLLAR,   /* $this / $index / $total (text = word) */
    FPT_OP        /* punctuation; text = the operator */
} fp_tok_kind;

typedef struct fp_tok {
    fp_tok_kind kind;
    uint32_t pos; /* byte offset */
    fl_str text;  /* points into the source or into the program arena */
    uint8_t prec; /* temporal literals */
} fp_tok;

/* ------------------------------------------------------------------ AST */

typedef enum fp_op {
    FPN_LIT = 1,   /* literal item (lit) */
    FPN_EMPTY,     /* {} */
    FPN_MEMBER,    /* [left].name */
    FPN_CALL,      /* [left].fn(args) */
    FPN_INDEX,     /* left[right] */
    FPN_NEG,       /* -left */
    FPN_THIS,      /* $this */
    FPN_INDEXVAR,  /* $index */
    FPN_TOTAL,     /* $total */
    FPN_VAR,       /* %name: external slot */
    FPN_CTXVAR,    /* %context / %resource / %rootResource (slot = which) */
    FPN_DEFVAR,    /* %name bound by defineVariable() upstream in the chain (name) */
    FPN_IS,        /* left is type */
    FPN_AS,        /* left as type */
    /* binary operators: left op right */
    FPN_MUL,
    FPN_DIV,
    FPN_IDIV,
    FPN_MOD,
    FPN_ADD,
    FPN_SUB,
    FPN_CONCAT,
    FPN_UNION,
    FPN_LT,
    FPN_LE,
    FPN_GT,
    FPN_GE,
    FPN_EQ,
    FPN_NE,
    FPN_EQUIV,
    FPN_NEQUIV,
    FPN_IN,
    FPN_CONTAINS,
    FPN_AND,
    FPN_OR,
    FPN_XOR,
    FPN_IMPLIES
} fp_op;

/* A type specifier (is/as/ofType): namespace may be empty. */
typedef struct fp_typespec {
    fl_str ns;   /* "FHIR", "System" or empty */
    fl_str name; /* "Patient", "Integer", "string" */
    /* resolved once by fp_typespec_resolve() at compile time */
    uint16_t fid;     /* FHIR type id (0 = none / System namespace) */
    uint8_t sys_kind; /* fl_fp_kind when the name is a System type name, else 0 */
    uint8_t resolved;
} fp_typespec;

/* Fill fid/sys_kind of a parsed type specifier (fp_types.c). */
void fp_typespec_resolve(fp_typespec *t);

typedef struct fp_node fp_node;

struct fp_ctx;
struct fp_scope;
typedef fl_rc (*fp_fn_impl)(struct fp_ctx *c, const fp_node *call, const struct fp_scope *s,
                            fl_fp_coll in, fl_fp_coll *out);

typedef struct fp_fninfo {
    const char *name;
    uint8_t min_args, max_args;
    uint8_t type_arg; /* 1 = the first argument is a type specifier (ofType/is/as) */
    fp_fn_impl impl;
} fp_fninfo;

struct fp_node {
    uint8_t op; /* fp_op */
    uint8_t nargs;
    uint8_t hint;     /* fl_fp_hint of the node's value, best effort */
    uint8_t restore_vars; /* chain root: drop defineVariable() bindings made inside it */
    uint32_t pos;     /* byte offset of the node's token in the source */
    uint32_t slot;    /* FPN_VAR slot, FPN_CTXVAR kind */
    fp_node *left;    /* input (member/call/index) or left operand */
    fp_node *right;   /* right operand / index */
    fp_node **args;   /* call arguments */
    fl_str name;      /* member or function name */
    const fp_fninfo *fn;
    fp_typespec type; /* FPN_IS/FPN_AS and type-argument calls */
    fl_fp_item lit;   /* FPN_LIT */
    /* FPN_MEMBER: last (parent type << 16 | element type) looked up, 0 = none. The only
     * field written after compile: a relaxed atomic cache, so sharing stays safe. */
    _Atomic uint32_t type_memo;
};

struct fl_fp_prog {
    fl_arena arena; /* owns nodes, literals, copied names and expression text */
    fp_node *root;
    const char *expr;
    size_t expr_len;
    size_t nvars;
    const char *name;
    fl_fp_hint hint;
    const char *fhir_type;
};

/* Parse src into p->root (nodes in p->arena). */
fl_rc fhirpath_parse(fl_fp_prog *p, const fl_fp_opts *o, fl_err *err);

/* ------------------------------------------------------------------ evaluation */

typedef struct fp_ctx {
    const fl_fp_prog *p;
    const fl_fp_env *env;
    fl_arena *a;
    fl_err *err;
    fl_fp_coll context; /* %context: the evaluation input */
    const fl_json_val *resource;
    uint32_t depth;
    int64_t now_us;
    struct fp_binding *vars; /* defineVariable() bindings, innermost first */
} fp_ctx;

/* One defineVariable() binding (arena memory of the evaluation). */
typedef struct fp_binding {
    fl_str name;
    fl_fp_coll val;
    struct fp_binding *next;
} fp_binding;

typedef struct fp_scope {
    fl_fp_coll this_; /* $this (the focus) */
    int64_t index;    /* $index */
    const fl_fp_coll *total; /* $total (aggregate) or NULL */
} fp_scope;

/* Growable collection in the evaluation arena. */
typedef struct fp_cb {
    fl_fp_item *items;
    size_t len, cap;
} fp_cb;

fl_rc fhirpath_eval_node(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll *out);
fl_rc fhirpath_cb_push(fp_ctx *c, fp_cb *b, const fl_fp_item *it);
fl_rc fhirpath_cb_append(fp_ctx *c, fp_cb *b, fl_fp_coll in);
static inline fl_fp_coll fhirpath_cb_coll(const fp_cb *b) { return (fl_fp_coll){b->items, b->len}; }
/* Set err with the program's expression and the node's column; returns code. */
fl_rc fhirpath_fail(fp_ctx *c, const fp_node *n, fl_rc code, const char *fmt, ...) FL_PRINTF(4, 5);
/* Children of a node item (every member value, arrays flattened), appended to b. */
fl_rc fhirpath_children(fp_ctx *c, const fl_fp_item *it, fp_cb *b);
/* Member navigation of one item by name (choice types and _primitive handled). */
fl_rc fhirpath_member(fp_ctx *c, const fl_fp_item *it, fl_str name, fp_cb *b);
/* Same with a per-node memo of the last (parent type -> element type) answer. */
fl_rc fhirpath_member_memo(fp_ctx *c, const fl_fp_item *it, fl_str name, _Atomic uint32_t *memo, fp_cb *b);
/* One-item result helpers. */
fl_rc fhirpath_out_bool(fp_ctx *c, bool v, fl_fp_coll *out);
fl_rc fhirpath_out_item(fp_ctx *c, const fl_fp_item *it, fl_fp_coll *out);

/* Look up a function by name; NULL if unknown. */
const fp_fninfo *fhirpath_fn_lookup(fl_str name);

/* ------------------------------------------------------------------ decimals */

__extension__ typedef __int128 fp_i128;
__extension__ typedef unsigned __int128 fp_u128;

/* value = m / 10^scale, 0 <= scale <= FP_DEC_MAX_SCALE */
typedef struct fp_dec {
    fp_i128 m;
    int32_t scale;
} fp_dec;

#define FP_DEC_MAX_SCALE 36
#define FP_DEC_DIV_SCALE 8 /* minimum fraction digits kept by division */

bool fp_dec_parse(fl_str s, fp_dec *out);
fp_dec fp_dec_from_i64(int64_t v);
/* Text in the arena ("1.50"); ptr NULL on OOM. */
fl_str fp_dec_text(fl_arena *a, fp_dec d);
bool fp_dec_add(fp_dec a, fp_dec b, fp_dec *out);
bool fp_dec_sub(fp_dec a, fp_dec b, fp_dec *out);
bool fp_dec_mul(fp_dec a, fp_dec b, fp_dec *out);
/* false on overflow or division by zero. */
bool fp_dec_div(fp_dec a, fp_dec b, fp_dec *out);
int fp_dec_cmp(fp_dec a, fp_dec b);
/* Rescale to `scale` digits; mode 0 = round half away from zero, 1 = floor, 2 = ceiling,
 * 3 = truncate. false on overflow. */
bool fp_dec_rescale(fp_dec a, int32_t scale, int mode, fp_dec *out);
/* Remove trailing fraction zeros. */
fp_dec fp_dec_trim(fp_dec a);
double fp_dec_to_f64(fp_dec a);
bool fp_dec_from_f64(double v, fp_dec *out);
/* Integer value when scale 0 (or fraction zero) and in range. */
bool fp_dec_to_i64(fp_dec a, int64_t *out);

/* ------------------------------------------------------------------ temporals */

typedef struct fp_dt {
    int32_t year;
    int32_t month, day, hour, minute, second, ms; /* absent parts are 0 (month/day 1) */
    int32_t tz_min;                               /* offset in minutes when has_tz */
    uint8_t prec;                                 /* fl_fp_prec */
    bool has_tz;
    bool is_time;
    bool has_date;
} fp_dt;

/* Parse ISO text (no '@'): kind FL_FP_DATE / DATETIME / TIME; false if malformed. */
bool fp_dt_parse(fl_str s, fl_fp_kind kind, fp_dt *out);
/* Format back to text in the arena (kind decides the form). */
fl_str fp_dt_text(fl_arena *a, const fp_dt *d, fl_fp_kind kind);
/* Compare: returns 0 equal, <0, >0, or 2 when the precisions make the answer unknown. */
int fp_dt_cmp(const fp_dt *a, const fp_dt *b);
/* Add amount of unit (calendar word normalised: "year", "month", "week", "day", "hour",
 * "minute", "second", "millisecond"); false on a bad unit. */
bool fp_dt_add(fp_dt *d, fp_dec amount, fl_str unit, bool negate);

/* ------------------------------------------------------------------ values */

/* Temporal view of an item: temporal kinds parse their text; a string read from JSON
 * is parsed as date/dateTime/time when its shape fits (for comparisons with literals). */
bool fp_item_temporal(const fl_fp_item *it, fl_fp_kind want, fp_dt *out, fl_fp_kind *kind_out);
/* Decimal view of INT / DEC items. */
bool fp_item_dec(const fl_fp_item *it, fp_dec *out);
/* Equality per FHIRPath '=' on two single items: 1 true, 0 false, -1 empty (unknown). */
int fp_item_eq(const fl_fp_item *a, const fl_fp_item *b);
/* Equivalence '~': true/false. */
bool fp_item_equiv(const fl_fp_item *a, const fl_fp_item *b);
/* Ordering: sets *cmp and returns 1; 0 = empty (precision); -1 = not comparable (error). */
int fp_item_cmp(const fl_fp_item *a, const fl_fp_item *b, int *cmp);
/* Canonical unit conversion of a quantity to base units: factor applied to value, and a
 * canonical unit string in the arena. false when the unit is unknown. */
bool fp_qty_canon(fl_arena *a, fp_dec v, fl_str unit, fp_dec *cv, fl_str *cunit);
/* Normalise a calendar word ("days" -> "day"); returns empty slice if not calendar. */
fl_str fp_cal_unit(fl_str u);
/* String form per toString(). */
bool fp_item_string(fl_arena *a, const fl_fp_item *it, fl_str *out);

/* ------------------------------------------------------------------ types */

/* Id of a FHIR type name (0 when not in the table). */
uint16_t fp_type_id(fl_str name);
/* Type of element `name` of a parent of FHIR type `parent` (id); 0 unknown. */
uint16_t fp_type_child(uint16_t parent, fl_str name);
/* Resource type id of a JSON object (from resourceType), 0 if none / unknown. */
uint16_t fp_type_of_resource(const fl_json_val *obj);
/* true when FHIR type `t` is `want` or derives from it (code -> string, Age -> Quantity). */
bool fp_type_derives(uint16_t t, uint16_t want);
/* System kind for a FHIR primitive type (string/code/uri/... -> STR, date -> DATE, ...);
 * 0 for complex types. */
fl_fp_kind fp_type_kind(uint16_t t);
/* true for resource type ids. */
bool fp_type_is_resource(uint16_t t);
/* Make an item from a JSON node and a known FHIR type (0 unknown). */
fl_fp_item fp_item_from_json(const fl_json_val *v, uint16_t ftype);
/* FHIRPath `is` test of one item against a type spec: 1 yes, 0 no, -1 unknown type name.
 * exact: as()/ofType() semantics (a primitive must have exactly that type). */
int fp_item_is(const fl_fp_item *it, const fp_typespec *t, bool exact);


/* Most item comparisons one set operation may make (distinct, union, intersect, exclude,
 * subsetOf, supersetOf, isDistinct, '~' on collections, repeat): they compare pairwise
 * because FHIRPath equality (1.0 = 1, dates across offsets) does not hash simply. */
#define FP_MAX_PAIR_COMPARES (1ull << 26)

/* FL_E_LIMIT when a pairwise operation over a x b items would exceed the budget. */
static inline fl_rc fpf_pairs_ok(struct fp_ctx *c, const fp_node *n, size_t a, size_t b);

/* Longest string a string function may build (join, replace, escape). */
#define FP_MAX_STRING_BYTES (1u << 26)

/* ------------------------------------------------------------------ function helpers */
/* Shared by fp_func.c and fp_fnstr.c. A function gets its input collection; ordinary
 * arguments are evaluated in the caller's scope, lambda arguments per input item. */

#define FP_FN(name) fl_rc fhirpath_fn_##name(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll in, fl_fp_coll *out)



static inline fl_rc fpf_nomem(fp_ctx *c) { return fl_err_set(c->err, FL_E_NOMEM, "fhirpath: evaluation arena exhausted"); }
/* The date/time d as the one result item of kind k (its text formatted in the arena). */
static inline fl_rc fpf_out_dt(fp_ctx *c, const fp_dt *d, fl_fp_kind k, fl_fp_coll *out)
{
    fl_fp_item it;
    memset(&it, 0, sizeof it);
    it.kind = (uint8_t)k;
    it.prec = d->prec;
    it.v.s = fp_dt_text(c->a, d, k);
    if (!it.v.s.ptr) return fpf_nomem(c);
    return fhirpath_out_item(c, &it, out);
}

static inline fl_rc fpf_arg(fp_ctx *c, const fp_node *n, unsigned i, const fp_scope *s, fl_fp_coll *out)
{
    return fhirpath_eval_node(c, n->args[i], s, out);
}

/* Evaluate argument i with $this = item k of in. */
static inline fl_rc fpf_arg_on(fp_ctx *c, const fp_node *n, unsigned i, const fp_scope *s, fl_fp_coll in, size_t k,
                    fl_fp_coll *out)
{
    fp_scope sc = *s;
    sc.this_ = (fl_fp_coll){&in.items[k], 1};
    sc.index = (int64_t)k;
    return fhirpath_eval_node(c, n->args[i], &sc, out);
}

static inline fl_rc fpf_one_input(fp_ctx *c, const fp_node *n, fl_fp_coll in, const fl_fp_item **it)
{
    if (in.len == 0) {
        *it = NULL;
        return FL_OK;
    }
    if (in.len > 1) return fhirpath_fail(c, n, FL_E_FP_EVAL, "%s() needs a single input item, got %zu", n->fn->name, in.len);
    *it = &in.items[0];
    return FL_OK;
}

/* Single string input (primitives are converted; complex elements are an error). */
static inline fl_rc fpf_str_input(fp_ctx *c, const fp_node *n, fl_fp_coll in, bool *have, fl_str *out)
{
    const fl_fp_item *it = NULL;
    fl_rc rc = fpf_one_input(c, n, in, &it);
    *have = false;
    if (rc || !it) return rc;
    if (it->kind != FL_FP_STR) {
        if (it->kind == FL_FP_NODE || !fp_item_string(c->a, it, out))
            return fhirpath_fail(c, n, FL_E_FP_EVAL, "%s() needs a string input, got %s", n->fn->name, fl_fp_item_type_name(it));
        *have = true;
        return FL_OK;
    }
    *out = it->v.s;
    *have = true;
    return FL_OK;
}

static inline fl_rc fpf_str_arg(fp_ctx *c, const fp_node *n, unsigned i, const fp_scope *s, bool *have, fl_str *out)
{
    fl_fp_coll a;
    fl_rc rc = fpf_arg(c, n, i, s, &a);
    *have = false;
    if (rc || a.len == 0) return rc;
    if (a.len > 1 || !fp_item_string(c->a, &a.items[0], out))
        return fhirpath_fail(c, n->args[i], FL_E_FP_EVAL, "%s() argument %u must be a single string", n->fn->name, i + 1);
    *have = true;
    return FL_OK;
}

static inline fl_rc fpf_int_arg(fp_ctx *c, const fp_node *n, unsigned i, const fp_scope *s, bool *have, int64_t *out)
{
    fl_fp_coll a;
    fl_rc rc = fpf_arg(c, n, i, s, &a);
    *have = false;
    if (rc || a.len == 0) return rc;
    if (a.len > 1 || a.items[0].kind != FL_FP_INT)
        return fhirpath_fail(c, n->args[i], FL_E_FP_EVAL, "%s() argument %u must be a single integer", n->fn->name, i + 1);
    *out = a.items[0].v.i;
    *have = true;
    return FL_OK;
}

static inline fl_rc fpf_out_str(fp_ctx *c, fl_str sv, fl_fp_coll *out)
{
    fl_fp_item it = fl_fp_item_str(sv);
    return fhirpath_out_item(c, &it, out);
}

static inline fl_rc fpf_out_int(fp_ctx *c, int64_t v, fl_fp_coll *out)
{
    fl_fp_item it = fl_fp_item_int(v);
    return fhirpath_out_item(c, &it, out);
}

static inline fl_rc fpf_out_dec(fp_ctx *c, fp_dec d, fl_fp_coll *out)
{
    fl_str t = fp_dec_text(c->a, d);
    if (!t.ptr) return fpf_nomem(c);
    fl_fp_item it = fl_fp_item_dec(t);
    return fhirpath_out_item(c, &it, out);
}

static inline bool fpf_same_item(const fl_fp_item *a, const fl_fp_item *b)
{
    if (a->src && b->src && a->kind == FL_FP_NODE && b->kind == FL_FP_NODE) return a->src == b->src;
    return fp_item_eq(a, b) == 1;
}

static inline bool fpf_coll_has(fl_fp_coll col, const fl_fp_item *it)
{
    for (size_t i = 0; i < col.len; i++)
        if (fp_item_eq(&col.items[i], it) == 1) return true;
    return false;
}


static inline fl_rc fpf_pairs_ok(fp_ctx *c, const fp_node *n, size_t a, size_t b)
{
    if (a && b > FP_MAX_PAIR_COMPARES / a)
        return fhirpath_fail(c, n, FL_E_LIMIT, "%zu x %zu item comparisons exceed the limit of %llu", a, b,
                             (unsigned long long)FP_MAX_PAIR_COMPARES);
    return FL_OK;
}

/* Functions implemented in fp_fnstr.c (the table lives in fp_func.c). */
FP_FN(indexOf);
FP_FN(substring);
FP_FN(startsWith);
FP_FN(endsWith);
FP_FN(contains);
FP_FN(upper);
FP_FN(lower);
FP_FN(length);
FP_FN(toChars);
FP_FN(trim);
FP_FN(split);
FP_FN(join);
FP_FN(replace);
FP_FN(matches);
FP_FN(matchesFull);
FP_FN(replaceMatches);
FP_FN(encode);
FP_FN(decode);
FP_FN(escape);
FP_FN(unescape);
FP_FN(abs);
FP_FN(ceiling);
FP_FN(floor);
FP_FN(truncate);
FP_FN(round);
FP_FN(sqrt);
FP_FN(ln);
FP_FN(exp);
FP_FN(log);
FP_FN(power);
FP_FN(lowBoundary);
FP_FN(highBoundary);
FP_FN(precision);
FP_FN(comparable);

#endif
