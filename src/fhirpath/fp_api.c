/* fp_api.c - public entry points of the FHIRPath module: compile, evaluate, free,
 * static result hints and JSON/string output of items (module fhirpath).
 * A program owns one arena holding its copied source, AST and literals; it is never
 * written after fl_fp_compile returns, so any number of threads may evaluate it. */
#include "fhirpath/fhirpath_int.h"

#include "fhirlake/os.h"

#include <stdio.h>

/* ------------------------------------------------------------------ static hints */

static uint16_t static_type(const fl_fp_prog *p, const fp_node *n, uint16_t root)
{
    if (!n) return root;
    switch ((fp_op)n->op) {
    case FPN_MEMBER: {
        if (!n->left) {
            uint16_t t = fp_type_id(n->name);
            if (t && fp_type_is_resource(t)) return t;
            return root ? fp_type_child(root, n->name) : 0;
        }
        uint16_t pt = static_type(p, n->left, root);
        return pt ? fp_type_child(pt, n->name) : 0;
    }
    case FPN_CALL: {
        const char *f = n->fn->name;
        if (!strcmp(f, "ofType") || !strcmp(f, "as")) return fp_type_id(n->type.name);
        if (!strcmp(f, "first") || !strcmp(f, "last") || !strcmp(f, "where") || !strcmp(f, "single") ||
            !strcmp(f, "tail") || !strcmp(f, "skip") || !strcmp(f, "take") || !strcmp(f, "distinct") ||
            !strcmp(f, "trace") || !strcmp(f, "getValue"))
            return static_type(p, n->left, root);
        return 0;
    }
    case FPN_INDEX: return static_type(p, n->left, root);
    case FPN_AS: return fp_type_id(n->type.name);
    default: return 0;
    }
}

static fl_fp_hint hint_of_kind(fl_fp_kind k)
{
    switch (k) {
    case FL_FP_BOOL: return FL_FP_HINT_BOOL;
    case FL_FP_INT: return FL_FP_HINT_INT;
    case FL_FP_DEC: return FL_FP_HINT_DEC;
    case FL_FP_STR: return FL_FP_HINT_STR;
    case FL_FP_DATE: return FL_FP_HINT_DATE;
    case FL_FP_DATETIME: return FL_FP_HINT_DATETIME;
    case FL_FP_TIME: return FL_FP_HINT_TIME;
    case FL_FP_QTY: return FL_FP_HINT_QTY;
    default: return FL_FP_HINT_UNKNOWN;
    }
}

static fl_fp_hint static_hint(const fl_fp_prog *p, const fp_node *n, uint16_t root)
{
    if (n->hint) return (fl_fp_hint)n->hint;
    switch ((fp_op)n->op) {
    case FPN_EQ: case FPN_NE: case FPN_EQUIV: case FPN_NEQUIV: case FPN_LT: case FPN_LE: case FPN_GT:
    case FPN_GE: case FPN_AND: case FPN_OR: case FPN_XOR: case FPN_IMPLIES: case FPN_IN: case FPN_CONTAINS:
    case FPN_IS:
        return FL_FP_HINT_BOOL;
    case FPN_CONCAT: return FL_FP_HINT_STR;
    case FPN_DIV: return FL_FP_HINT_DEC;
    case FPN_CALL: {
        static const char *const bools[] = {"exists", "empty", "all", "allTrue", "anyTrue", "allFalse", "anyFalse",
            "subsetOf", "supersetOf", "isDistinct", "not", "hasValue", "is", "startsWith", "endsWith", "contains",
            "matches", "matchesFull", "convertsToBoolean", "convertsToInteger", "convertsToDecimal",
            "convertsToString", "convertsToDate", "convertsToDateTime", "convertsToTime", "convertsToQuantity", "toBoolean"};
        static const char *const ints[] = {"count", "length", "indexOf", "toInteger", "precision"};
        static const char *const strs[] = {"toString", "join", "substring", "upper", "lower", "replace",
            "replaceMatches", "trim", "encode", "decode", "escape", "unescape", "getResourceKey", "getReferenceKey"};
        const char *f = n->fn->name;
        for (size_t i = 0; i < sizeof bools / sizeof *bools; i++)
            if (!strcmp(f, bools[i])) return FL_FP_HINT_BOOL;
        for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
            if (!strcmp(f, ints[i])) return FL_FP_HINT_INT;
        for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
            if (!strcmp(f, strs[i])) return FL_FP_HINT_STR;
        if (!strcmp(f, "toDecimal")) return FL_FP_HINT_DEC;
        if (!strcmp(f, "toDate")) return FL_FP_HINT_DATE;
        if (!strcmp(f, "toDateTime") || !strcmp(f, "now")) return FL_FP_HINT_DATETIME;
        if (!strcmp(f, "today")) return FL_FP_HINT_DATE;
        if (!strcmp(f, "toTime") || !strcmp(f, "timeOfDay")) return FL_FP_HINT_TIME;
        if (!strcmp(f, "toQuantity")) return FL_FP_HINT_QTY;
        if ((!strcmp(f, "first") || !strcmp(f, "last") || !strcmp(f, "where") || !strcmp(f, "single") ||
             !strcmp(f, "distinct") || !strcmp(f, "take") || !strcmp(f, "skip") || !strcmp(f, "tail")) && n->left) {
            fl_fp_hint h = static_hint(p, n->left, root);
            if (h) return h;
        }
        break;
    }
    default: break;
    }
    uint16_t t = static_type(p, n, root);
    if (!t) return FL_FP_HINT_UNKNOWN;
    fl_fp_kind k = fp_type_kind(t);
    if (k) return hint_of_kind(k);
    return FL_FP_HINT_NODE;
}

/* ------------------------------------------------------------------ compile */

fl_rc fl_fp_compile(const char *expr, size_t len, const fl_fp_opts *opts, fl_fp_prog **out, fl_err *err)
{
    *out = NULL;
    if (!expr) return fl_err_set(err, FL_E_ARG, "fhirpath: NULL expression");
    if (len == SIZE_MAX) len = strlen(expr);
    size_t max_len = opts && opts->max_len ? opts->max_len : FL_FP_MAX_EXPR_LEN;
    if (len > max_len) return fl_err_set(err, FL_E_LIMIT, "fhirpath: expression of %zu bytes is over the limit of %zu", len, max_len);
    fl_fp_prog *p = fl_calloc(1, sizeof *p);
    if (!p) return fl_err_set(err, FL_E_NOMEM, "fhirpath: out of memory");
    fl_arena_init(&p->arena, 4096, 0);
    fl_rc rc = FL_OK;
    char *src = fl_arena_strndup(&p->arena, expr, len);
    if (!src) {
        rc = fl_err_set(err, FL_E_NOMEM, "fhirpath: out of memory");
        goto done;
    }
    p->expr = src;
    p->expr_len = len;
    p->nvars = opts ? opts->nvars : 0;
    if (opts && opts->name) {
        p->name = fl_arena_strndup(&p->arena, opts->name, strlen(opts->name));
        if (!p->name) {
            rc = fl_err_set(err, FL_E_NOMEM, "fhirpath: out of memory");
            goto done;
        }
    }
    if ((rc = fhirpath_parse(p, opts, err))) goto done;
    uint16_t root = opts && opts->root_type ? fp_type_id(fl_str_c(opts->root_type)) : 0;
    p->hint = static_hint(p, p->root, root);
    uint16_t t = static_type(p, p->root, root);
    p->fhir_type = t ? fl_fp_type_name(t) : NULL;
    if (p->fhir_type && strchr(p->fhir_type, '.')) p->fhir_type = "BackboneElement";
done:
    if (rc) {
        fl_fp_prog_free(p);
        return rc;
    }
    *out = p;
    return FL_OK;
}

void fl_fp_prog_free(fl_fp_prog *p)
{
    if (!p) return;
    fl_arena_fini(&p->arena);
    fl_free(p);
}

const char *fl_fp_prog_expr(const fl_fp_prog *p) { return p->expr; }
fl_fp_hint fl_fp_prog_hint(const fl_fp_prog *p) { return p->hint; }
const char *fl_fp_prog_fhir_type(const fl_fp_prog *p) { return p->fhir_type; }

/* ------------------------------------------------------------------ evaluate */

fl_rc fl_fp_eval_coll(const fl_fp_prog *p, fl_fp_coll input, const fl_fp_env *env, fl_arena *a, fl_fp_coll *out,
                      fl_err *err)
{
    if (!p || !a || !out) return fl_err_set(err, FL_E_ARG, "fhirpath: NULL program, arena or output");
    fp_ctx c;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.env = env;
    c.a = a;
    c.err = err;
    c.context = input;
    c.resource = env ? env->resource : NULL;
    if (!c.resource && input.len == 1 && input.items[0].kind == FL_FP_NODE) c.resource = input.items[0].v.node;
    c.now_us = env ? env->now_us : 0; /* 0: read the clock only if now()/today() runs */
    if (env && env->vars && env->nvars != p->nvars)
        return fl_err_set(err, FL_E_ARG, "fhirpath: %zu variable values given, program declares %zu", env->nvars, p->nvars);
    fp_scope s;
    memset(&s, 0, sizeof s);
    s.this_ = input;
    out->items = NULL;
    out->len = 0;
    return fhirpath_eval_node(&c, p->root, &s, out);
}

fl_rc fl_fp_eval(const fl_fp_prog *p, const fl_json_val *input, const fl_fp_env *env, fl_arena *a, fl_fp_coll *out,
                 fl_err *err)
{
    fl_fp_coll in = {NULL, 0};
    if (!a) return fl_err_set(err, FL_E_ARG, "fhirpath: NULL arena");
    if (input && input->type != FL_JSON_NULL) {
        /* an array input is a collection of its (non-null) elements */
        size_t n = input->type == FL_JSON_ARRAY ? input->len : 1;
        fl_fp_item *items = n ? fl_arena_alloc(a, n * sizeof *items) : NULL;
        if (n && !items) return fl_err_set(err, FL_E_NOMEM, "fhirpath: evaluation arena exhausted");
        for (size_t i = 0; i < n; i++) {
            const fl_json_val *v = input->type == FL_JSON_ARRAY ? &input->u.items[i] : input;
            fl_fp_item it = fl_fp_item_from_json(v, NULL);
            if (it.kind) items[in.len++] = it;
        }
        in.items = items;
    }
    return fl_fp_eval_coll(p, in, env, a, out, err);
}

/* ------------------------------------------------------------------ output */

void fl_fp_item_write_json(const fl_fp_item *it, fl_jw *w)
{
    if (it->flags_ & FPF_NOVALUE) {
        fl_jw_null(w);
        return;
    }
    switch (it->kind) {
    case FL_FP_BOOL: fl_jw_bool(w, it->v.b); break;
    case FL_FP_INT: fl_jw_i64(w, it->v.i); break;
    case FL_FP_DEC: fl_jw_raw(w, it->v.s); break;
    case FL_FP_STR:
    case FL_FP_DATE:
    case FL_FP_DATETIME:
    case FL_FP_TIME: fl_jw_str(w, it->v.s); break;
    case FL_FP_QTY:
        fl_jw_obj_begin(w);
        fl_jw_key_c(w, "value");
        fl_jw_raw(w, it->v.q.value);
        fl_jw_key_c(w, "unit");
        fl_jw_str(w, it->v.q.unit);
        fl_jw_obj_end(w);
        break;
    case FL_FP_NODE: fl_jw_val(w, it->v.node); break;
    default: fl_jw_null(w); break;
    }
}

void fl_fp_coll_write_json(const fl_fp_coll *col, fl_jw *w)
{
    fl_jw_arr_begin(w);
    for (size_t i = 0; i < col->len; i++) fl_fp_item_write_json(&col->items[i], w);
    fl_jw_arr_end(w);
}

bool fl_fp_item_to_string(const fl_fp_item *it, fl_arena *a, fl_str *out) { return fp_item_string(a, it, out); }

bool fl_fp_item_has_value(const fl_fp_item *it) { return !(it->flags_ & FPF_NOVALUE); }
