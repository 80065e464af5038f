/* fhirlake/fhirpath.h - FHIRPath compiler and evaluator over the JSON DOM (module fhirpath).
 *
 * Compile once, run many: fl_fp_compile() turns an expression into a read-only program
 * (functions, external constants and variables are resolved at compile time). A program
 * may be shared by any number of threads; each evaluation takes its scratch memory only
 * from the caller's arena, so results live until that arena is reset.
 *
 *   fl_fp_opts o; fl_fp_opts_default(&o);
 *   const char *vars[] = {"rowIndex", "myConst"}; o.vars = vars; o.nvars = 2;
 *   fl_fp_prog *p; rc = fl_fp_compile("name.where(use='official').given", SIZE_MAX, &o, &p, &err);
 *   fl_fp_env env = {0}; fl_fp_coll vals[2] = {fl_fp_coll_one(..), ..}; env.vars = vals;
 *   fl_fp_coll out; rc = fl_fp_eval(p, resource_node, &env, arena, &out, &err);
 *   for (size_t i = 0; i < out.len; i++) switch (out.items[i].kind) { ... }
 *   fl_fp_prog_free(p);
 */
#ifndef FHIRLAKE_FHIRPATH_H
#define FHIRLAKE_FHIRPATH_H

#include "fhirlake/base.h"
#include "fhirlake/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ limits */

#define FL_FP_MAX_EXPR_LEN (64u * 1024u) /* bytes of expression text */
#define FL_FP_MAX_AST_DEPTH 128u         /* nesting of the parsed expression */
#define FL_FP_MAX_REPEAT_DEPTH 64u       /* repeat()/descendants() levels */
#define FL_FP_MAX_COLL_ITEMS (1u << 22)  /* items in one intermediate collection */
#define FL_FP_MAX_REGEX_STEPS 1000000u   /* PCRE2 match limit for matches()/replaceMatches() */

/* ------------------------------------------------------------------ values */

/* Kind of one collection item (FHIRPath system types + a JSON node for complex elements). */
typedef enum fl_fp_kind {
    FL_FP_BOOL = 1,
    FL_FP_INT,      /* v.i */
    FL_FP_DEC,      /* v.s = exact decimal text ("1.50", "-3", "1e3" from JSON) */
    FL_FP_STR,      /* v.s = UTF-8 bytes */
    FL_FP_DATE,     /* v.s = ISO text without '@' ("2024-01"), prec = precision */
    FL_FP_DATETIME, /* v.s = ISO text without '@' ("2024-01-02T03:04:05.6+01:00") */
    FL_FP_TIME,     /* v.s = ISO text without '@' and 'T' ("12:30") */
    FL_FP_QTY,      /* v.q.value = decimal text, v.q.unit = unit text (UCUM code or
                       calendar word such as "year"); unit may be empty */
    FL_FP_NODE      /* v.node = complex element / resource / array-less JSON object; also a
                       primitive that has only "_x" (id/extension, no value): then v.node is
                       that "_x" object and fl_fp_item_has_value() is false */
} fl_fp_kind;

/* Temporal precision (FL_FP_DATE / DATETIME / TIME items). */
typedef enum fl_fp_prec {
    FL_FP_PREC_NONE = 0,
    FL_FP_PREC_YEAR,
    FL_FP_PREC_MONTH,
    FL_FP_PREC_DAY,
    FL_FP_PREC_HOUR,
    FL_FP_PREC_MINUTE,
    FL_FP_PREC_SECOND,
    FL_FP_PREC_MS /* fractional seconds present */
} fl_fp_prec;

/* One item of a result collection. A small public value type: read the fields directly.
 * Strings point either into the JSON DOM (valid while the DOM lives), into the compiled
 * program (literals; valid until fl_fp_prog_free) or into the evaluation arena. */
typedef struct fl_fp_item {
    uint8_t kind;    /* fl_fp_kind */
    uint8_t prec;    /* fl_fp_prec for temporal kinds, else 0 */
    uint16_t ftype;  /* FHIR type id (fl_fp_type_name), 0 = unknown / system type */
    uint32_t flags_; /* private */
    union {
        bool b;
        int64_t i;
        fl_str s;
        struct {
            fl_str value;
            fl_str unit;
        } q;
        const fl_json_val *node;
    } v;
    const fl_json_val *src; /* JSON node the item was read from (NULL when computed) */
    const fl_json_val *ext; /* primitive's "_name" sibling (id/extension), or NULL */
} fl_fp_item;

/* A collection: items[0..len), allocated in the evaluation arena (or caller storage). */
typedef struct fl_fp_coll {
    fl_fp_item *items;
    size_t len;
} fl_fp_coll;

/* Item constructors (no allocation; strings are borrowed). */
static inline fl_fp_item fl_fp_item_bool(bool b)
{
    fl_fp_item it;
    memset(&it, 0, sizeof it);
    it.kind = FL_FP_BOOL;
    it.v.b = b;
    return it;
}
static inline fl_fp_item fl_fp_item_int(int64_t i)
{
    fl_fp_item it;
    memset(&it, 0, sizeof it);
    it.kind = FL_FP_INT;
    it.v.i = i;
    return it;
}
static inline fl_fp_item fl_fp_item_str(fl_str s)
{
    fl_fp_item it;
    memset(&it, 0, sizeof it);
    it.kind = FL_FP_STR;
    it.v.s = s;
    return it;
}
/* Decimal from exact text (caller guarantees it is a valid FHIRPath/JSON number). */
static inline fl_fp_item fl_fp_item_dec(fl_str text)
{
    fl_fp_item it;
    memset(&it, 0, sizeof it);
    it.kind = FL_FP_DEC;
    it.v.s = text;
    return it;
}
/* The item for a JSON node exactly as navigation would produce it (objects become
 * FL_FP_NODE, strings FL_FP_STR, numbers INT/DEC, booleans BOOL); fhir_type may be
 * NULL (unknown) or a FHIR type name ("date", "HumanName") which also decides whether
 * a string is read as a date/dateTime/time. Returns kind 0 for null/arrays. */
FL_API fl_fp_item fl_fp_item_from_json(const fl_json_val *v, const char *fhir_type);

/* false for a primitive element present only as "_x" (no value); true otherwise. */
FL_API bool fl_fp_item_has_value(const fl_fp_item *it);

/* A one-item collection over caller storage. */
static inline fl_fp_coll fl_fp_coll_one(fl_fp_item *it) { return (fl_fp_coll){it, 1}; }

/* FHIR type name for an ftype id ("HumanName", "date"), or NULL for 0/unknown ids. */
FL_API const char *fl_fp_type_name(uint16_t ftype);

/* Type name of an item as FHIRPath reports it: the FHIR type when known ("code",
 * "HumanName", "Patient"), else the System type ("String", "Integer", "Decimal", ...).
 * Never NULL. */
FL_API const char *fl_fp_item_type_name(const fl_fp_item *it);

/* ------------------------------------------------------------------ compile */

/* Declared result hint of a compiled expression (static analysis, best effort). */
typedef enum fl_fp_hint {
    FL_FP_HINT_UNKNOWN = 0,
    FL_FP_HINT_BOOL,
    FL_FP_HINT_INT,
    FL_FP_HINT_DEC,
    FL_FP_HINT_STR,
    FL_FP_HINT_DATE,
    FL_FP_HINT_DATETIME,
    FL_FP_HINT_TIME,
    FL_FP_HINT_QTY,
    FL_FP_HINT_NODE
} fl_fp_hint;

typedef struct fl_fp_opts {
    /* Names of external variables (without '%', e.g. "rowIndex", "resource_id").
     * `%name` in the expression resolves to slot i of fl_fp_env.vars at compile time;
     * an unknown %name is a compile error. The strings are copied. */
    const char *const *vars;
    size_t nvars;
    /* Resource type of the root input when known ("Patient"); used for the static
     * result hint (fl_fp_prog_hint / fl_fp_prog_fhir_type) only. At evaluation the type
     * always comes from the data (resourceType). NULL = unknown. */
    const char *root_type;
    uint32_t flags;    /* FL_FP_F_* */
    size_t max_len;    /* expression length limit; 0 = FL_FP_MAX_EXPR_LEN */
    uint32_t max_depth; /* AST depth limit; 0 = FL_FP_MAX_AST_DEPTH */
    /* Name used in error messages (e.g. "column 'birth'"); NULL = none. Copied. */
    const char *name;
} fl_fp_opts;

/* opts->flags */
#define FL_FP_F_STRICT_VARS 0x1u /* also reject the built-in %ucum/%sct/%loinc/%vs-/%ext- */

static inline void fl_fp_opts_default(fl_fp_opts *o) { memset(o, 0, sizeof *o); }

typedef struct fl_fp_prog fl_fp_prog;

/* Compile expr[0..len) (len SIZE_MAX = NUL-terminated). opts may be NULL. On success
 * *out is an owned program (free with fl_fp_prog_free); it copies what it needs from expr
 * and opts. Errors: FL_E_FP_SYNTAX (lexing/parsing), FL_E_FP_COMPILE (unknown function,
 * wrong argument count, unknown %variable), FL_E_LIMIT, FL_E_NOMEM; err->col is the
 * 1-based column (err->pos the byte offset) and the message names the expression, e.g.
 * "name.where(use = ): col 18: expected an expression". */
FL_API fl_rc fl_fp_compile(const char *expr, size_t len, const fl_fp_opts *opts, fl_fp_prog **out,
                           fl_err *err);
FL_API void fl_fp_prog_free(fl_fp_prog *p);

/* Source text of the program (NUL-terminated; owned by p). */
FL_API const char *fl_fp_prog_expr(const fl_fp_prog *p);
/* Static result hint (FL_FP_HINT_UNKNOWN when it cannot be known). */
FL_API fl_fp_hint fl_fp_prog_hint(const fl_fp_prog *p);
/* FHIR type name of the result when known from the built-in element table ("date",
 * "string", "HumanName"), else NULL. Owned by the library (static). */
FL_API const char *fl_fp_prog_fhir_type(const fl_fp_prog *p);

/* ------------------------------------------------------------------ evaluate */

/* Evaluation environment; all fields optional (zero-initialise). */
typedef struct fl_fp_env {
    const fl_fp_coll *vars;        /* values for the declared vars, by slot (nvars entries) */
    size_t nvars;                  /* must equal the compiled opts->nvars when vars is set */
    const fl_json_val *resource;   /* %resource / %rootResource; NULL = the input node */
    int64_t now_us;                /* now()/today()/timeOfDay() in UTC micros; 0 = clock */
    int32_t tz_offset_min;         /* local offset for now()/today(); 0 = UTC */
    uint32_t flags;                /* reserved, 0 */
} fl_fp_env;

/* Evaluate p with `input` as the context ($this, and %context); a JSON array input is the
 * collection of its elements, NULL or JSON null the empty collection. env may be NULL. Results
 * and scratch are allocated in `a` (valid until it is reset); *out is filled (len 0 =
 * empty). Errors: FL_E_FP_EVAL (e.g. single() on many items, a type error in an
 * operator), FL_E_LIMIT (collection or repeat limits), FL_E_NOMEM (arena exhausted).
 * Thread-safe for a shared p with distinct arenas. */
FL_API fl_rc fl_fp_eval(const fl_fp_prog *p, const fl_json_val *input, const fl_fp_env *env,
                        fl_arena *a, fl_fp_coll *out, fl_err *err);
/* Same with an arbitrary input collection (e.g. an item produced by a forEach). When
 * many expressions run over one resource, build its item once with
 * fl_fp_item_from_json(resource, NULL) and pass fl_fp_coll_one(&item): this skips the
 * per-call resourceType lookup. %resource is env->resource, else the single input node. */
FL_API fl_rc fl_fp_eval_coll(const fl_fp_prog *p, fl_fp_coll input, const fl_fp_env *env,
                             fl_arena *a, fl_fp_coll *out, fl_err *err);

/* ------------------------------------------------------------------ output */

/* Write one item as JSON to w: BOOL/INT/DEC as JSON literals (decimal text kept), STR as
 * a string, temporal kinds as their ISO text, QTY as {"value":n,"unit":"u"}, NODE as the
 * JSON node. */
FL_API void fl_fp_item_write_json(const fl_fp_item *it, fl_jw *w);
/* Write a whole collection as a JSON array. */
FL_API void fl_fp_coll_write_json(const fl_fp_coll *c, fl_jw *w);
/* The FHIRPath string form of a primitive item (toString()): "true", "12", "1.50",
 * "2024-01", "5 'mg'". Returns false for NODE items. The result may point into the item
 * or be allocated in `a`. */
FL_API bool fl_fp_item_to_string(const fl_fp_item *it, fl_arena *a, fl_str *out);

/* Three-valued truth of a collection used as a condition (where(), view `where`):
 * returns 1 (true), 0 (false) or -1 (empty). A single non-boolean item counts as true;
 * more than one item is an error (FL_E_FP_EVAL). */
FL_API fl_rc fl_fp_coll_truth(const fl_fp_coll *c, int *out, fl_err *err);

#ifdef __cplusplus
}
#endif
#endif
