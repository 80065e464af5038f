/* fp_func.c - the FHIRPath function library and its lookup table (module fhirpath).
 * Each function gets its input collection and evaluates its own arguments: ordinary
 * arguments in the caller's scope, "lambda" arguments (where, select, all, repeat, ...)
 * once per input item with $this/$index bound. The table is sorted by name and
 * searched at compile time, so evaluation dispatches by pointer.
 * Regular expressions use PCRE2 with fl_malloc-backed contexts. */
#include "fhirpath/fhirpath_int.h"

#include "fhirlake/os.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <strings.h>

/* ------------------------------------------------------------------ helpers */

#define FN(name) static fl_rc fn_##name(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll in, fl_fp_coll *out)

static fl_rc nomem(fp_ctx *c) { return fl_err_set(c->err, FL_E_NOMEM, "fhirpath: evaluation arena exhausted"); }

static fl_rc arg(fp_ctx *c, const fp_node *n, unsigned i, const fp_scope *s, fl_fp_coll *out)
{
    return fhirpath_eval_node(c, n->args[i], s, out);
}

/* Evaluate argument i with $this = item k of in. */
static fl_rc arg_on(fp_ctx *c, const fp_node *n, unsigned i, const fp_scope *s, fl_fp_coll in, size_t k,
                    fl_fp_coll *out)
{
    fp_scope sc = *s;
    sc.this_ = (fl_fp_coll){&in.items[k], 1};
    sc.index = (int64_t)k;
    return fhirpath_eval_node(c, n->args[i], &sc, out);
}

static fl_rc one_input(fp_ctx *c, const fp_node *n, fl_fp_coll in, const fl_fp_item **it)
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
static fl_rc str_input(fp_ctx *c, const fp_node *n, fl_fp_coll in, bool *have, fl_str *out)
{
    const fl_fp_item *it;
    fl_rc rc = one_input(c, n, in, &it);
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

static fl_rc str_arg(fp_ctx *c, const fp_node *n, unsigned i, const fp_scope *s, bool *have, fl_str *out)
{
    fl_fp_coll a;
    fl_rc rc = arg(c, n, i, s, &a);
    *have = false;
    if (rc || a.len == 0) return rc;
    if (a.len > 1 || !fp_item_string(c->a, &a.items[0], out))
        return fhirpath_fail(c, n->args[i], FL_E_FP_EVAL, "%s() argument %u must be a single string", n->fn->name, i + 1);
    *have = true;
    return FL_OK;
}

static fl_rc int_arg(fp_ctx *c, const fp_node *n, unsigned i, const fp_scope *s, bool *have, int64_t *out)
{
    fl_fp_coll a;
    fl_rc rc = arg(c, n, i, s, &a);
    *have = false;
    if (rc || a.len == 0) return rc;
    if (a.len > 1 || a.items[0].kind != FL_FP_INT)
        return fhirpath_fail(c, n->args[i], FL_E_FP_EVAL, "%s() argument %u must be a single integer", n->fn->name, i + 1);
    *out = a.items[0].v.i;
    *have = true;
    return FL_OK;
}

static fl_rc out_str(fp_ctx *c, fl_str sv, fl_fp_coll *out)
{
    fl_fp_item it = fl_fp_item_str(sv);
    return fhirpath_out_item(c, &it, out);
}

static fl_rc out_int(fp_ctx *c, int64_t v, fl_fp_coll *out)
{
    fl_fp_item it = fl_fp_item_int(v);
    return fhirpath_out_item(c, &it, out);
}

static fl_rc out_dec(fp_ctx *c, fp_dec d, fl_fp_coll *out)
{
    fl_str t = fp_dec_text(c->a, d);
    if (!t.ptr) return nomem(c);
    fl_fp_item it = fl_fp_item_dec(t);
    return fhirpath_out_item(c, &it, out);
}

static bool same_item(const fl_fp_item *a, const fl_fp_item *b)
{
    if (a->src && b->src && a->kind == FL_FP_NODE && b->kind == FL_FP_NODE) return a->src == b->src;
    return fp_item_eq(a, b) == 1;
}

static bool coll_has(fl_fp_coll col, const fl_fp_item *it)
{
    for (size_t i = 0; i < col.len; i++)
        if (fp_item_eq(&col.items[i], it) == 1) return true;
    return false;
}

/* ------------------------------------------------------------------ existence */

FN(empty)
{
    (void)s;
    (void)n;
    return fhirpath_out_bool(c, in.len == 0, out);
}

FN(exists)
{
    if (n->nargs == 0) return fhirpath_out_bool(c, in.len > 0, out);
    for (size_t i = 0; i < in.len; i++) {
        fl_fp_coll r;
        int t;
        fl_rc rc = arg_on(c, n, 0, s, in, i, &r);
        if (rc) return rc;
        if ((rc = fl_fp_coll_truth(&r, &t, c->err))) return rc;
        if (t == 1) return fhirpath_out_bool(c, true, out);
    }
    return fhirpath_out_bool(c, false, out);
}

FN(all)
{
    for (size_t i = 0; i < in.len; i++) {
        fl_fp_coll r;
        int t;
        fl_rc rc = arg_on(c, n, 0, s, in, i, &r);
        if (rc) return rc;
        if ((rc = fl_fp_coll_truth(&r, &t, c->err))) return rc;
        if (t != 1) return fhirpath_out_bool(c, false, out);
    }
    return fhirpath_out_bool(c, true, out);
}

static fl_rc bool_agg(fp_ctx *c, const fp_node *n, fl_fp_coll in, bool want, bool any, fl_fp_coll *out)
{
    for (size_t i = 0; i < in.len; i++) {
        if (in.items[i].kind != FL_FP_BOOL)
            return fhirpath_fail(c, n, FL_E_FP_EVAL, "%s() needs booleans, got %s", n->fn->name, fl_fp_item_type_name(&in.items[i]));
        bool match = in.items[i].v.b == want;
        if (any && match) return fhirpath_out_bool(c, true, out);
        if (!any && !match) return fhirpath_out_bool(c, false, out);
    }
    return fhirpath_out_bool(c, !any, out);
}

FN(allTrue) { (void)s; return bool_agg(c, n, in, true, false, out); }
FN(anyTrue) { (void)s; return bool_agg(c, n, in, true, true, out); }
FN(allFalse) { (void)s; return bool_agg(c, n, in, false, false, out); }
FN(anyFalse) { (void)s; return bool_agg(c, n, in, false, true, out); }

FN(subsetOf)
{
    fl_fp_coll other;
    fl_rc rc = arg(c, n, 0, s, &other);
    if (rc) return rc;
    for (size_t i = 0; i < in.len; i++)
        if (!coll_has(other, &in.items[i])) return fhirpath_out_bool(c, false, out);
    return fhirpath_out_bool(c, true, out);
}

FN(supersetOf)
{
    fl_fp_coll other;
    fl_rc rc = arg(c, n, 0, s, &other);
    if (rc) return rc;
    for (size_t i = 0; i < other.len; i++)
        if (!coll_has(in, &other.items[i])) return fhirpath_out_bool(c, false, out);
    return fhirpath_out_bool(c, true, out);
}

FN(count)
{
    (void)s;
    (void)n;
    return out_int(c, (int64_t)in.len, out);
}

FN(distinct)
{
    (void)s;
    (void)n;
    fp_cb b = {0};
    for (size_t i = 0; i < in.len; i++) {
        if (coll_has(fhirpath_cb_coll(&b), &in.items[i])) continue;
        fl_rc rc = fhirpath_cb_push(c, &b, &in.items[i]);
        if (rc) return rc;
    }
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

FN(isDistinct)
{
    (void)s;
    (void)n;
    for (size_t i = 0; i < in.len; i++)
        for (size_t j = i + 1; j < in.len; j++)
            if (fp_item_eq(&in.items[i], &in.items[j]) == 1) return fhirpath_out_bool(c, false, out);
    return fhirpath_out_bool(c, true, out);
}

/* ------------------------------------------------------------------ filtering */

FN(where)
{
    fp_cb b = {0};
    for (size_t i = 0; i < in.len; i++) {
        fl_fp_coll r;
        int t;
        fl_rc rc = arg_on(c, n, 0, s, in, i, &r);
        if (rc) return rc;
        if (r.len > 1) return fhirpath_fail(c, n->args[0], FL_E_FP_EVAL, "where() criteria returned %zu items", r.len);
        if ((rc = fl_fp_coll_truth(&r, &t, c->err))) return rc;
        if (t == 1 && (rc = fhirpath_cb_push(c, &b, &in.items[i]))) return rc;
    }
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

FN(select)
{
    fp_cb b = {0};
    for (size_t i = 0; i < in.len; i++) {
        fl_fp_coll r;
        fl_rc rc = arg_on(c, n, 0, s, in, i, &r);
        if (rc) return rc;
        if ((rc = fhirpath_cb_append(c, &b, r))) return rc;
    }
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

static bool cb_has_same(const fp_cb *b, const fl_fp_item *it)
{
    for (size_t i = 0; i < b->len; i++)
        if (same_item(&b->items[i], it)) return true;
    return false;
}

/* repeat(expr) / descendants(): breadth-first, bounded by FL_FP_MAX_REPEAT_DEPTH levels. */
static fl_rc repeat_impl(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll in, bool children, fl_fp_coll *out)
{
    fp_cb res = {0};
    fl_fp_coll level = in;
    for (unsigned depth = 0; level.len; depth++) {
        if (depth >= FL_FP_MAX_REPEAT_DEPTH)
            return fhirpath_fail(c, n, FL_E_LIMIT, "%s() went deeper than %u levels", n->fn->name, FL_FP_MAX_REPEAT_DEPTH);
        fp_cb next = {0};
        for (size_t i = 0; i < level.len; i++) {
            fl_fp_coll r;
            fl_rc rc;
            if (children) {
                fp_cb cb = {0};
                if ((rc = fhirpath_children(c, &level.items[i], &cb))) return rc;
                r = fhirpath_cb_coll(&cb);
            } else if ((rc = arg_on(c, n, 0, s, level, i, &r))) {
                return rc;
            }
            for (size_t k = 0; k < r.len; k++) {
                if (!children && cb_has_same(&res, &r.items[k])) continue;
                if ((rc = fhirpath_cb_push(c, &res, &r.items[k])) || (rc = fhirpath_cb_push(c, &next, &r.items[k]))) return rc;
            }
        }
        level = fhirpath_cb_coll(&next);
    }
    *out = fhirpath_cb_coll(&res);
    return FL_OK;
}

FN(repeat) { return repeat_impl(c, n, s, in, false, out); }
FN(descendants) { return repeat_impl(c, n, s, in, true, out); }

FN(children)
{
    (void)s;
    (void)n;
    fp_cb b = {0};
    for (size_t i = 0; i < in.len; i++) {
        fl_rc rc = fhirpath_children(c, &in.items[i], &b);
        if (rc) return rc;
    }
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

FN(ofType)
{
    (void)s;
    fp_cb b = {0};
    for (size_t i = 0; i < in.len; i++) {
        int k = fp_item_is(&in.items[i], &n->type, true);
        if (k < 0) return fhirpath_fail(c, n, FL_E_FP_EVAL, "unknown type '" FL_STR_FMT "'", FL_STR_ARG(n->type.name));
        if (k == 1) {
            fl_rc rc = fhirpath_cb_push(c, &b, &in.items[i]);
            if (rc) return rc;
        }
    }
    if (in.len == 0 && !fp_type_id(n->type.name)) {
        fp_typespec t = n->type;
        fl_fp_item probe = fl_fp_item_bool(true);
        if (fp_item_is(&probe, &t, true) < 0) return fhirpath_fail(c, n, FL_E_FP_EVAL, "unknown type '" FL_STR_FMT "'", FL_STR_ARG(n->type.name));
    }
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

static fl_rc is_as(fp_ctx *c, const fp_node *n, fl_fp_coll in, bool is, fl_fp_coll *out)
{
    const fl_fp_item *it;
    fl_rc rc = one_input(c, n, in, &it);
    if (rc || !it) return rc;
    int k = fp_item_is(it, &n->type, !is);
    if (k < 0) return fhirpath_fail(c, n, FL_E_FP_EVAL, "unknown type '" FL_STR_FMT "'", FL_STR_ARG(n->type.name));
    if (is) return fhirpath_out_bool(c, k == 1, out);
    if (k == 1) *out = in;
    return FL_OK;
}

FN(is) { (void)s; return is_as(c, n, in, true, out); }
FN(as) { (void)s; return is_as(c, n, in, false, out); }

/* ------------------------------------------------------------------ subsetting */

FN(single)
{
    (void)s;
    if (in.len > 1) return fhirpath_fail(c, n, FL_E_FP_EVAL, "single() on %zu items", in.len);
    *out = in;
    return FL_OK;
}

FN(first)
{
    (void)s;
    (void)c;
    (void)n;
    if (in.len) *out = (fl_fp_coll){in.items, 1};
    return FL_OK;
}

FN(last)
{
    (void)s;
    (void)c;
    (void)n;
    if (in.len) *out = (fl_fp_coll){in.items + in.len - 1, 1};
    return FL_OK;
}

FN(tail)
{
    (void)s;
    (void)c;
    (void)n;
    if (in.len > 1) *out = (fl_fp_coll){in.items + 1, in.len - 1};
    return FL_OK;
}

FN(skip)
{
    bool have;
    int64_t k;
    fl_rc rc = int_arg(c, n, 0, s, &have, &k);
    if (rc || !have) return rc;
    if (k <= 0) *out = in;
    else if ((uint64_t)k < in.len) *out = (fl_fp_coll){in.items + k, in.len - (size_t)k};
    return FL_OK;
}

FN(take)
{
    bool have;
    int64_t k;
    fl_rc rc = int_arg(c, n, 0, s, &have, &k);
    if (rc || !have) return rc;
    if (k > 0) *out = (fl_fp_coll){in.items, (uint64_t)k < in.len ? (size_t)k : in.len};
    return FL_OK;
}

FN(intersect)
{
    fl_fp_coll other;
    fl_rc rc = arg(c, n, 0, s, &other);
    if (rc) return rc;
    fp_cb b = {0};
    for (size_t i = 0; i < in.len; i++) {
        if (!coll_has(other, &in.items[i]) || coll_has(fhirpath_cb_coll(&b), &in.items[i])) continue;
        if ((rc = fhirpath_cb_push(c, &b, &in.items[i]))) return rc;
    }
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

FN(exclude)
{
    fl_fp_coll other;
    fl_rc rc = arg(c, n, 0, s, &other);
    if (rc) return rc;
    fp_cb b = {0};
    for (size_t i = 0; i < in.len; i++) {
        if (coll_has(other, &in.items[i])) continue;
        if ((rc = fhirpath_cb_push(c, &b, &in.items[i]))) return rc;
    }
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

FN(union)
{
    fl_fp_coll other;
    fl_rc rc = arg(c, n, 0, s, &other);
    if (rc) return rc;
    fp_cb b = {0};
    for (int side = 0; side < 2; side++) {
        fl_fp_coll src = side ? other : in;
        for (size_t i = 0; i < src.len; i++) {
            if (coll_has(fhirpath_cb_coll(&b), &src.items[i])) continue;
            if ((rc = fhirpath_cb_push(c, &b, &src.items[i]))) return rc;
        }
    }
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

FN(combine)
{
    fl_fp_coll other;
    fl_rc rc = arg(c, n, 0, s, &other);
    if (rc) return rc;
    fp_cb b = {0};
    if ((rc = fhirpath_cb_append(c, &b, in)) || (rc = fhirpath_cb_append(c, &b, other))) return rc;
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

FN(iif)
{
    fl_fp_coll cond;
    int t;
    fp_scope sc = *s;
    if (in.len > 1) return fhirpath_fail(c, n, FL_E_FP_EVAL, "iif() on %zu items", in.len);
    if (n->left) sc.this_ = in;
    fl_rc rc = fhirpath_eval_node(c, n->args[0], &sc, &cond);
    if (rc) return rc;
    if (cond.len > 1) return fhirpath_fail(c, n->args[0], FL_E_FP_EVAL, "iif() criterion has %zu items", cond.len);
    if (cond.len == 1 && cond.items[0].kind != FL_FP_BOOL)
        return fhirpath_fail(c, n->args[0], FL_E_FP_EVAL, "iif() criterion is not a boolean");
    t = cond.len ? cond.items[0].v.b : 0;
    if (t) return fhirpath_eval_node(c, n->args[1], &sc, out);
    if (n->nargs > 2) return fhirpath_eval_node(c, n->args[2], &sc, out);
    return FL_OK;
}

/* ------------------------------------------------------------------ conversions */

static bool conv_bool(const fl_fp_item *it, bool *v)
{
    switch (it->kind) {
    case FL_FP_BOOL: *v = it->v.b; return true;
    case FL_FP_INT:
        if (it->v.i == 0 || it->v.i == 1) {
            *v = it->v.i == 1;
            return true;
        }
        return false;
    case FL_FP_DEC: {
        fp_dec d, one = fp_dec_from_i64(1), zero = fp_dec_from_i64(0);
        if (!fp_dec_parse(it->v.s, &d)) return false;
        if (fp_dec_cmp(d, one) == 0) *v = true;
        else if (fp_dec_cmp(d, zero) == 0) *v = false;
        else return false;
        return true;
    }
    case FL_FP_STR: {
        static const char *const t[] = {"true", "t", "yes", "y", "1", "1.0"};
        static const char *const f[] = {"false", "f", "no", "n", "0", "0.0"};
        for (size_t i = 0; i < 6; i++) {
            if (it->v.s.len == strlen(t[i]) && !strncasecmp(it->v.s.ptr, t[i], it->v.s.len)) {
                *v = true;
                return true;
            }
            if (it->v.s.len == strlen(f[i]) && !strncasecmp(it->v.s.ptr, f[i], it->v.s.len)) {
                *v = false;
                return true;
            }
        }
        return false;
    }
    default: return false;
    }
}

static bool conv_int(const fl_fp_item *it, int64_t *v)
{
    switch (it->kind) {
    case FL_FP_INT: *v = it->v.i; return true;
    case FL_FP_BOOL: *v = it->v.b; return true;
    case FL_FP_STR: {
        fl_str sv = it->v.s;
        if (sv.len == 0) return false;
        size_t i = (sv.ptr[0] == '+' || sv.ptr[0] == '-') ? 1 : 0;
        if (i == sv.len) return false;
        for (; i < sv.len; i++)
            if (sv.ptr[i] < '0' || sv.ptr[i] > '9') return false;
        return fl_parse_i64(sv.ptr[0] == '+' ? fl_str_make(sv.ptr + 1, sv.len - 1) : sv, v);
    }
    default: return false;
    }
}

static bool valid_dec_text(fl_str sv)
{
    size_t i = 0;
    if (i < sv.len && (sv.ptr[i] == '+' || sv.ptr[i] == '-')) i++;
    size_t d0 = i;
    while (i < sv.len && sv.ptr[i] >= '0' && sv.ptr[i] <= '9') i++;
    if (i == d0) return false;
    if (i < sv.len && sv.ptr[i] == '.') {
        i++;
        size_t f0 = i;
        while (i < sv.len && sv.ptr[i] >= '0' && sv.ptr[i] <= '9') i++;
        if (i == f0) return false;
    }
    return i == sv.len;
}

static bool conv_dec(fp_ctx *c, const fl_fp_item *it, fl_str *text)
{
    switch (it->kind) {
    case FL_FP_DEC: *text = it->v.s; return true;
    case FL_FP_INT: return fp_item_string(c->a, it, text);
    case FL_FP_BOOL: *text = it->v.b ? FL_STR("1.0") : FL_STR("0.0"); return true;
    case FL_FP_STR: {
        fp_dec d;
        if (!valid_dec_text(it->v.s) || !fp_dec_parse(it->v.s, &d)) return false;
        *text = it->v.s.ptr[0] == '+' ? fl_str_make(it->v.s.ptr + 1, it->v.s.len - 1) : it->v.s;
        return true;
    }
    default: return false;
    }
}

/* Quantity from an item; for strings "<number> '<ucum>'" or "<number> <calendar word>". */
static bool conv_qty(const fl_fp_item *it, fl_fp_item *q)
{
    memset(q, 0, sizeof *q);
    q->kind = FL_FP_QTY;
    switch (it->kind) {
    case FL_FP_QTY: *q = *it; return true;
    case FL_FP_INT:
    case FL_FP_DEC:
        return false; /* handled by the caller (needs text) */
    case FL_FP_BOOL: q->v.q.value = it->v.b ? FL_STR("1.0") : FL_STR("0.0"); q->v.q.unit = FL_STR("1"); return true;
    case FL_FP_STR: {
        fl_str sv = it->v.s;
        size_t i = 0;
        if (i < sv.len && (sv.ptr[i] == '+' || sv.ptr[i] == '-')) i++;
        while (i < sv.len && ((sv.ptr[i] >= '0' && sv.ptr[i] <= '9') || sv.ptr[i] == '.')) i++;
        fl_str num = fl_str_make(sv.ptr, i);
        if (!valid_dec_text(num)) return false;
        while (i < sv.len && sv.ptr[i] == ' ') i++;
        fl_str rest = fl_str_make(sv.ptr + i, sv.len - i);
        q->v.q.value = num;
        if (rest.len == 0) {
            q->v.q.unit = FL_STR("1");
            return true;
        }
        if (rest.len >= 2 && rest.ptr[0] == '\'' && rest.ptr[rest.len - 1] == '\'') {
            q->v.q.unit = fl_str_make(rest.ptr + 1, rest.len - 2);
            return true;
        }
        if (fp_cal_unit(rest).len) {
            q->v.q.unit = rest;
            q->flags_ = FPF_CALUNIT;
            return true;
        }
        return false;
    }
    default: return false;
    }
}

static fl_rc conv(fp_ctx *c, const fp_node *n, fl_fp_coll in, int target, bool test, fl_fp_coll *out)
{
    const fl_fp_item *it;
    fl_rc rc = one_input(c, n, in, &it);
    if (rc || !it) return rc;
    fl_fp_item r;
    bool ok = false;
    memset(&r, 0, sizeof r);
    switch (target) {
    case FL_FP_BOOL: {
        bool v;
        ok = conv_bool(it, &v);
        r = fl_fp_item_bool(ok && v);
        break;
    }
    case FL_FP_INT: {
        int64_t v;
        ok = conv_int(it, &v);
        r = fl_fp_item_int(ok ? v : 0);
        break;
    }
    case FL_FP_DEC: {
        fl_str t;
        ok = conv_dec(c, it, &t);
        r = fl_fp_item_dec(ok ? t : FL_STR("0"));
        break;
    }
    case FL_FP_STR: {
        fl_str t;
        ok = fp_item_string(c->a, it, &t);
        r = fl_fp_item_str(ok ? t : FL_STR(""));
        break;
    }
    case FL_FP_QTY: {
        if (it->kind == FL_FP_INT || it->kind == FL_FP_DEC) {
            fl_str t;
            ok = fp_item_string(c->a, it, &t);
            r.kind = FL_FP_QTY;
            r.v.q.value = t;
            r.v.q.unit = FL_STR("1");
        } else {
            ok = conv_qty(it, &r);
        }
        break;
    }
    case FL_FP_DATE:
    case FL_FP_DATETIME:
    case FL_FP_TIME: {
        fp_dt d;
        fl_fp_kind k;
        if (it->kind == target) {
            ok = true;
            r = *it;
            break;
        }
        if (target == FL_FP_DATETIME && it->kind == FL_FP_DATE) {
            ok = fp_dt_parse(it->v.s, FL_FP_DATE, &d);
            k = FL_FP_DATETIME;
        } else if (target == FL_FP_DATE && it->kind == FL_FP_DATETIME) {
            ok = fp_dt_parse(it->v.s, FL_FP_DATETIME, &d);
            if (ok && d.prec > FL_FP_PREC_DAY) d.prec = FL_FP_PREC_DAY;
            d.has_tz = false;
            k = FL_FP_DATE;
        } else if (it->kind == FL_FP_STR) {
            ok = fp_dt_parse(it->v.s, (fl_fp_kind)target, &d);
            k = (fl_fp_kind)target;
        } else {
            ok = false;
            k = (fl_fp_kind)target;
        }
        if (ok) {
            r.kind = (uint8_t)k;
            r.prec = d.prec;
            r.v.s = fp_dt_text(c->a, &d, k);
            if (!r.v.s.ptr) return nomem(c);
        }
        break;
    }
    default: break;
    }
    if (test) return fhirpath_out_bool(c, ok, out);
    if (!ok) return FL_OK;
    return fhirpath_out_item(c, &r, out);
}

FN(toBoolean) { (void)s; return conv(c, n, in, FL_FP_BOOL, false, out); }
FN(convertsToBoolean) { (void)s; return conv(c, n, in, FL_FP_BOOL, true, out); }
FN(toInteger) { (void)s; return conv(c, n, in, FL_FP_INT, false, out); }
FN(convertsToInteger) { (void)s; return conv(c, n, in, FL_FP_INT, true, out); }
FN(toDecimal) { (void)s; return conv(c, n, in, FL_FP_DEC, false, out); }
FN(convertsToDecimal) { (void)s; return conv(c, n, in, FL_FP_DEC, true, out); }
FN(toString) { (void)s; return conv(c, n, in, FL_FP_STR, false, out); }
FN(convertsToString) { (void)s; return conv(c, n, in, FL_FP_STR, true, out); }
FN(toQuantity) { (void)s; return conv(c, n, in, FL_FP_QTY, false, out); }
FN(convertsToQuantity) { (void)s; return conv(c, n, in, FL_FP_QTY, true, out); }
FN(toDate) { (void)s; return conv(c, n, in, FL_FP_DATE, false, out); }
FN(convertsToDate) { (void)s; return conv(c, n, in, FL_FP_DATE, true, out); }
FN(toDateTime) { (void)s; return conv(c, n, in, FL_FP_DATETIME, false, out); }
FN(convertsToDateTime) { (void)s; return conv(c, n, in, FL_FP_DATETIME, true, out); }
FN(toTime) { (void)s; return conv(c, n, in, FL_FP_TIME, false, out); }
FN(convertsToTime) { (void)s; return conv(c, n, in, FL_FP_TIME, true, out); }

/* ------------------------------------------------------------------ strings */

/* Number of UTF-8 code points. */
static size_t u8_len(fl_str sv)
{
    size_t n = 0;
    for (size_t i = 0; i < sv.len; i++)
        if (((unsigned char)sv.ptr[i] & 0xC0) != 0x80) n++;
    return n;
}

/* Byte offset of code point index cp (or len if past the end). */
static size_t u8_off(fl_str sv, size_t cp)
{
    size_t n = 0;
    for (size_t i = 0; i < sv.len; i++) {
        if (((unsigned char)sv.ptr[i] & 0xC0) != 0x80) {
            if (n == cp) return i;
            n++;
        }
    }
    return sv.len;
}

static bool find_sub(fl_str hay, fl_str needle, size_t *at)
{
    if (needle.len == 0) {
        *at = 0;
        return true;
    }
    for (size_t i = 0; i + needle.len <= hay.len; i++) {
        if (!memcmp(hay.ptr + i, needle.ptr, needle.len)) {
            *at = i;
            return true;
        }
    }
    return false;
}

FN(indexOf)
{
    bool h1, h2;
    fl_str sv, sub;
    fl_rc rc = str_input(c, n, in, &h1, &sv);
    if (rc || !h1) return rc;
    if ((rc = str_arg(c, n, 0, s, &h2, &sub)) || !h2) return rc;
    size_t at;
    if (!find_sub(sv, sub, &at)) return out_int(c, -1, out);
    return out_int(c, (int64_t)u8_len(fl_str_make(sv.ptr, at)), out);
}

FN(substring)
{
    bool h1, h2, h3 = false;
    fl_str sv;
    int64_t start, len = 0;
    fl_rc rc = str_input(c, n, in, &h1, &sv);
    if (rc || !h1) return rc;
    if ((rc = int_arg(c, n, 0, s, &h2, &start)) || !h2) return rc;
    if (n->nargs > 1 && (rc = int_arg(c, n, 1, s, &h3, &len))) return rc;
    size_t total = u8_len(sv);
    if (start < 0 || (uint64_t)start >= total) return FL_OK;
    size_t b = u8_off(sv, (size_t)start);
    size_t e = sv.len;
    if (h3) {
        if (len <= 0) return out_str(c, FL_STR(""), out);
        if ((uint64_t)start + (uint64_t)len < total) e = u8_off(sv, (size_t)start + (size_t)len);
    }
    return out_str(c, fl_str_make(sv.ptr + b, e - b), out);
}

static fl_rc str_pred(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll in, int mode, fl_fp_coll *out)
{
    bool h1, h2;
    fl_str sv, sub;
    fl_rc rc = str_input(c, n, in, &h1, &sv);
    if (rc || !h1) return rc;
    if ((rc = str_arg(c, n, 0, s, &h2, &sub)) || !h2) return rc;
    size_t at;
    bool v = mode == 0 ? fl_str_starts_with(sv, sub) : mode == 1 ? fl_str_ends_with(sv, sub) : find_sub(sv, sub, &at);
    return fhirpath_out_bool(c, v, out);
}

FN(startsWith) { return str_pred(c, n, s, in, 0, out); }
FN(endsWith) { return str_pred(c, n, s, in, 1, out); }
FN(contains) { return str_pred(c, n, s, in, 2, out); }

static fl_rc str_case(fp_ctx *c, const fp_node *n, fl_fp_coll in, bool upper, fl_fp_coll *out)
{
    bool h;
    fl_str sv;
    fl_rc rc = str_input(c, n, in, &h, &sv);
    if (rc || !h) return rc;
    char *b = fl_arena_alloc(c->a, sv.len + 1);
    if (!b) return nomem(c);
    for (size_t i = 0; i < sv.len; i++) {
        char ch = sv.ptr[i];
        if (upper && ch >= 'a' && ch <= 'z') ch = (char)(ch - 32);
        if (!upper && ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
        b[i] = ch;
    }
    return out_str(c, fl_str_make(b, sv.len), out);
}

FN(upper) { (void)s; return str_case(c, n, in, true, out); }
FN(lower) { (void)s; return str_case(c, n, in, false, out); }

FN(length)
{
    (void)s;
    bool h;
    fl_str sv;
    fl_rc rc = str_input(c, n, in, &h, &sv);
    if (rc || !h) return rc;
    return out_int(c, (int64_t)u8_len(sv), out);
}

FN(toChars)
{
    (void)s;
    bool h;
    fl_str sv;
    fl_rc rc = str_input(c, n, in, &h, &sv);
    if (rc || !h) return rc;
    fp_cb b = {0};
    for (size_t i = 0; i < sv.len;) {
        size_t j = i + 1;
        while (j < sv.len && ((unsigned char)sv.ptr[j] & 0xC0) == 0x80) j++;
        fl_fp_item it = fl_fp_item_str(fl_str_make(sv.ptr + i, j - i));
        if ((rc = fhirpath_cb_push(c, &b, &it))) return rc;
        i = j;
    }
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

FN(trim)
{
    (void)s;
    bool h;
    fl_str sv;
    fl_rc rc = str_input(c, n, in, &h, &sv);
    if (rc || !h) return rc;
    while (sv.len && (unsigned char)sv.ptr[0] <= ' ') {
        sv.ptr++;
        sv.len--;
    }
    while (sv.len && (unsigned char)sv.ptr[sv.len - 1] <= ' ') sv.len--;
    return out_str(c, sv, out);
}

FN(split)
{
    bool h1, h2;
    fl_str sv, sep;
    fl_rc rc = str_input(c, n, in, &h1, &sv);
    if (rc || !h1) return rc;
    if ((rc = str_arg(c, n, 0, s, &h2, &sep)) || !h2) return rc;
    fp_cb b = {0};
    size_t start = 0;
    if (sep.len == 0) {
        return fn_toChars(c, n, s, in, out);
    }
    for (size_t i = 0; i + sep.len <= sv.len;) {
        if (!memcmp(sv.ptr + i, sep.ptr, sep.len)) {
            fl_fp_item it = fl_fp_item_str(fl_str_make(sv.ptr + start, i - start));
            if ((rc = fhirpath_cb_push(c, &b, &it))) return rc;
            i += sep.len;
            start = i;
        } else {
            i++;
        }
    }
    fl_fp_item it = fl_fp_item_str(fl_str_make(sv.ptr + start, sv.len - start));
    if ((rc = fhirpath_cb_push(c, &b, &it))) return rc;
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

FN(join)
{
    fl_str sep = FL_STR("");
    bool h = false;
    fl_rc rc;
    if (n->nargs && (rc = str_arg(c, n, 0, s, &h, &sep))) return rc;
    if (in.len == 0) return out_str(c, FL_STR(""), out);
    fl_buf b;
    fl_buf_init(&b, 1u << 26);
    for (size_t i = 0; i < in.len; i++) {
        fl_str t;
        if (!fp_item_string(c->a, &in.items[i], &t)) {
            fl_buf_reset(&b);
            return fhirpath_fail(c, n, FL_E_FP_EVAL, "join() needs strings, got %s", fl_fp_item_type_name(&in.items[i]));
        }
        if (i) fl_buf_append_str(&b, sep);
        fl_buf_append_str(&b, t);
    }
    if (b.rc) {
        rc = b.rc;
        fl_buf_reset(&b);
        return fl_err_set(c->err, rc, "fhirpath: join() result too large");
    }
    fl_str res = fl_arena_str_dup(c->a, fl_buf_str(&b));
    fl_buf_reset(&b);
    if (!res.ptr && b.len) return nomem(c);
    if (!res.ptr) res = FL_STR("");
    return out_str(c, res, out);
}

FN(replace)
{
    bool h1, h2, h3;
    fl_str sv, pat, rep;
    fl_rc rc = str_input(c, n, in, &h1, &sv);
    if (rc || !h1) return rc;
    if ((rc = str_arg(c, n, 0, s, &h2, &pat)) || !h2) return rc;
    if ((rc = str_arg(c, n, 1, s, &h3, &rep)) || !h3) return rc;
    fl_buf b;
    fl_buf_init(&b, 1u << 26);
    if (pat.len == 0) {
        /* insert the replacement around every character */
        fl_buf_append_str(&b, rep);
        for (size_t i = 0; i < sv.len;) {
            size_t j = i + 1;
            while (j < sv.len && ((unsigned char)sv.ptr[j] & 0xC0) == 0x80) j++;
            fl_buf_append(&b, sv.ptr + i, j - i);
            fl_buf_append_str(&b, rep);
            i = j;
        }
    } else {
        size_t i = 0;
        while (i < sv.len) {
            if (i + pat.len <= sv.len && !memcmp(sv.ptr + i, pat.ptr, pat.len)) {
                fl_buf_append_str(&b, rep);
                i += pat.len;
            } else {
                fl_buf_putc(&b, sv.ptr[i++]);
            }
        }
    }
    fl_str res = b.len ? fl_arena_str_dup(c->a, fl_buf_str(&b)) : FL_STR("");
    rc = b.rc;
    fl_buf_reset(&b);
    if (rc) return fl_err_set(c->err, rc, "fhirpath: replace() result too large");
    if (!res.ptr) return nomem(c);
    return out_str(c, res, out);
}

/* PCRE2 allocation through the library allocator. */
static void *pcre_alloc(PCRE2_SIZE size, void *ctx)
{
    (void)ctx;
    return fl_malloc(size);
}
static void pcre_free(void *p, void *ctx)
{
    (void)ctx;
    fl_free(p);
}

static fl_rc regex_compile(fp_ctx *c, const fp_node *n, fl_str pat, bool full, pcre2_general_context **gc,
                           pcre2_code **code)
{
    *gc = pcre2_general_context_create(pcre_alloc, pcre_free, NULL);
    if (!*gc) return nomem(c);
    pcre2_compile_context *cc = pcre2_compile_context_create(*gc);
    if (!cc) {
        pcre2_general_context_free(*gc);
        return nomem(c);
    }
    int ecode;
    PCRE2_SIZE eoff;
    uint32_t flags = PCRE2_UTF | PCRE2_DOTALL;
    if (full) flags |= PCRE2_ANCHORED | PCRE2_ENDANCHORED;
    *code = pcre2_compile((PCRE2_SPTR)pat.ptr, pat.len, flags, &ecode, &eoff, cc);
    pcre2_compile_context_free(cc);
    if (!*code) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(ecode, msg, sizeof msg);
        pcre2_general_context_free(*gc);
        return fhirpath_fail(c, n, FL_E_FP_EVAL, "bad regular expression at offset %zu: %s", (size_t)eoff, (const char *)msg);
    }
    return FL_OK;
}

static fl_rc do_matches(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll in, bool full, fl_fp_coll *out)
{
    bool h1, h2;
    fl_str sv, pat;
    fl_rc rc = str_input(c, n, in, &h1, &sv);
    if (rc || !h1) return rc;
    if ((rc = str_arg(c, n, 0, s, &h2, &pat)) || !h2) return rc;
    pcre2_general_context *gc;
    pcre2_code *code;
    if ((rc = regex_compile(c, n, pat, full, &gc, &code))) return rc;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, gc);
    int r = md ? pcre2_match(code, (PCRE2_SPTR)(sv.ptr ? sv.ptr : ""), sv.len, 0, 0, md, NULL) : PCRE2_ERROR_NOMEMORY;
    if (md) pcre2_match_data_free(md);
    pcre2_code_free(code);
    pcre2_general_context_free(gc);
    if (r == PCRE2_ERROR_NOMEMORY) return nomem(c);
    if (r < 0 && r != PCRE2_ERROR_NOMATCH) return fhirpath_fail(c, n, FL_E_FP_EVAL, "regular expression failed (%d)", r);
    return fhirpath_out_bool(c, r >= 0, out);
}

FN(matches) { return do_matches(c, n, s, in, false, out); }
FN(matchesFull) { return do_matches(c, n, s, in, true, out); }

FN(replaceMatches)
{
    bool h1, h2, h3;
    fl_str sv, pat, rep;
    fl_rc rc = str_input(c, n, in, &h1, &sv);
    if (rc || !h1) return rc;
    if ((rc = str_arg(c, n, 0, s, &h2, &pat)) || !h2) return rc;
    if ((rc = str_arg(c, n, 1, s, &h3, &rep)) || !h3) return rc;
    if (pat.len == 0) return out_str(c, sv, out);
    pcre2_general_context *gc;
    pcre2_code *code;
    if ((rc = regex_compile(c, n, pat, false, &gc, &code))) return rc;
    PCRE2_SIZE cap = sv.len * 2 + rep.len * 4 + 64;
    int r = PCRE2_ERROR_NOMEMORY;
    PCRE2_UCHAR *buf = NULL;
    for (int attempt = 0; attempt < 4; attempt++) {
        buf = fl_arena_alloc(c->a, cap + 1);
        if (!buf) break;
        PCRE2_SIZE olen = cap;
        r = pcre2_substitute(code, (PCRE2_SPTR)(sv.ptr ? sv.ptr : ""), sv.len, 0,
                             PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH, NULL, NULL,
                             (PCRE2_SPTR)(rep.ptr ? rep.ptr : ""), rep.len, buf, &olen);
        if (r == PCRE2_ERROR_NOMEMORY && olen > cap && olen < (1u << 26)) {
            cap = olen;
            continue;
        }
        if (r >= 0) cap = olen;
        break;
    }
    pcre2_code_free(code);
    pcre2_general_context_free(gc);
    if (!buf) return nomem(c);
    if (r < 0) return fhirpath_fail(c, n, FL_E_FP_EVAL, "replaceMatches() failed (%d)", r);
    return out_str(c, fl_str_make((const char *)buf, cap), out);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static fl_rc codec(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll in, bool enc, fl_fp_coll *out)
{
    bool h1, h2;
    fl_str sv, fmt;
    fl_rc rc = str_input(c, n, in, &h1, &sv);
    if (rc || !h1) return rc;
    if ((rc = str_arg(c, n, 0, s, &h2, &fmt)) || !h2) return rc;
    bool url = fl_str_eq_c(fmt, "urlbase64");
    char *o = fl_arena_alloc(c->a, sv.len * 2 + 8);
    if (!o) return nomem(c);
    size_t k = 0;
    if (fl_str_eq_c(fmt, "hex")) {
        if (enc) {
            for (size_t i = 0; i < sv.len; i++) {
                o[k++] = "0123456789abcdef"[(unsigned char)sv.ptr[i] >> 4];
                o[k++] = "0123456789abcdef"[(unsigned char)sv.ptr[i] & 15];
            }
        } else {
            if (sv.len % 2) return FL_OK;
            for (size_t i = 0; i < sv.len; i += 2) {
                int hi = -1, lo = -1;
                char a = sv.ptr[i], b = sv.ptr[i + 1];
                hi = (a >= '0' && a <= '9') ? a - '0' : (a >= 'a' && a <= 'f') ? a - 'a' + 10 : (a >= 'A' && a <= 'F') ? a - 'A' + 10 : -1;
                lo = (b >= '0' && b <= '9') ? b - '0' : (b >= 'a' && b <= 'f') ? b - 'a' + 10 : (b >= 'A' && b <= 'F') ? b - 'A' + 10 : -1;
                if (hi < 0 || lo < 0) return FL_OK;
                o[k++] = (char)(hi * 16 + lo);
            }
        }
    } else if (fl_str_eq_c(fmt, "base64") || url) {
        if (enc) {
            for (size_t i = 0; i < sv.len; i += 3) {
                size_t rem = sv.len - i < 3 ? sv.len - i : 3;
                uint32_t v = (uint32_t)(unsigned char)sv.ptr[i] << 16;
                if (rem > 1) v |= (uint32_t)(unsigned char)sv.ptr[i + 1] << 8;
                if (rem > 2) v |= (uint32_t)(unsigned char)sv.ptr[i + 2];
                for (size_t j = 0; j < 4; j++) {
                    if (j > rem) {
                        o[k++] = '=';
                        continue;
                    }
                    char ch = b64[(v >> (18 - 6 * j)) & 63];
                    if (url && ch == '+') ch = '-';
                    if (url && ch == '/') ch = '_';
                    o[k++] = ch;
                }
            }
        } else {
            uint32_t acc = 0;
            int bits = 0;
            for (size_t i = 0; i < sv.len; i++) {
                char ch = sv.ptr[i];
                int v;
                if (ch == '=') break;
                if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
                else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
                else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
                else if (ch == '+' || ch == '-') v = 62;
                else if (ch == '/' || ch == '_') v = 63;
                else return FL_OK;
                acc = (acc << 6) | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                    bits -= 8;
                    o[k++] = (char)((acc >> bits) & 0xFF);
                }
            }
        }
    } else {
        return fhirpath_fail(c, n, FL_E_FP_EVAL, "unknown encoding '" FL_STR_FMT "'", FL_STR_ARG(fmt));
    }
    return out_str(c, fl_str_make(o, k), out);
}

FN(encode) { return codec(c, n, s, in, true, out); }
FN(decode) { return codec(c, n, s, in, false, out); }

static fl_rc escape_impl(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll in, bool esc, fl_fp_coll *out)
{
    bool h1, h2;
    fl_str sv, fmt;
    fl_rc rc = str_input(c, n, in, &h1, &sv);
    if (rc || !h1) return rc;
    if ((rc = str_arg(c, n, 0, s, &h2, &fmt)) || !h2) return rc;
    bool html = fl_str_eq_c(fmt, "html");
    if (!html && !fl_str_eq_c(fmt, "json")) return fhirpath_fail(c, n, FL_E_FP_EVAL, "unknown escape format");
    fl_buf b;
    fl_buf_init(&b, 1u << 26);
    static const struct { char ch; const char *ent; } ents[] = {{'&', "&amp;"}, {'<', "&lt;"}, {'>', "&gt;"}, {'"', "&quot;"}, {'\'', "&#39;"}};
    for (size_t i = 0; i < sv.len; i++) {
        char ch = sv.ptr[i];
        bool done = false;
        if (html && esc) {
            for (size_t e = 0; e < 5 && !done; e++)
                if (ch == ents[e].ch) {
                    fl_buf_append_c(&b, ents[e].ent);
                    done = true;
                }
        } else if (html) {
            for (size_t e = 0; e < 5 && !done; e++) {
                size_t el = strlen(ents[e].ent);
                if (i + el <= sv.len && !memcmp(sv.ptr + i, ents[e].ent, el)) {
                    fl_buf_putc(&b, ents[e].ch);
                    i += el - 1;
                    done = true;
                }
            }
        } else if (esc) {
            if (ch == '"' || ch == '\\') {
                fl_buf_putc(&b, '\\');
                fl_buf_putc(&b, ch);
                done = true;
            }
        } else if (ch == '\\' && i + 1 < sv.len) {
            fl_buf_putc(&b, sv.ptr[++i]);
            done = true;
        }
        if (!done) fl_buf_putc(&b, ch);
    }
    fl_str res = b.len ? fl_arena_str_dup(c->a, fl_buf_str(&b)) : FL_STR("");
    rc = b.rc;
    fl_buf_reset(&b);
    if (rc) return fl_err_set(c->err, rc, "fhirpath: escape result too large");
    if (!res.ptr) return nomem(c);
    return out_str(c, res, out);
}

FN(escape) { return escape_impl(c, n, s, in, true, out); }
FN(unescape) { return escape_impl(c, n, s, in, false, out); }

/* ------------------------------------------------------------------ math */

static fl_rc num_input(fp_ctx *c, const fp_node *n, fl_fp_coll in, const fl_fp_item **it)
{
    fl_rc rc = one_input(c, n, in, it);
    if (rc || !*it) return rc;
    uint8_t k = (*it)->kind;
    if (k != FL_FP_INT && k != FL_FP_DEC && !(k == FL_FP_QTY && !strcmp(n->fn->name, "abs")))
        return fhirpath_fail(c, n, FL_E_FP_EVAL, "%s() needs a number, got %s", n->fn->name, fl_fp_item_type_name(*it));
    return FL_OK;
}

FN(abs)
{
    (void)s;
    const fl_fp_item *it;
    fl_rc rc = num_input(c, n, in, &it);
    if (rc || !it) return rc;
    if (it->kind == FL_FP_INT) {
        if (it->v.i == INT64_MIN) return FL_OK;
        return out_int(c, it->v.i < 0 ? -it->v.i : it->v.i, out);
    }
    fp_dec d;
    if (!fp_dec_parse(it->kind == FL_FP_QTY ? it->v.q.value : it->v.s, &d)) return FL_OK;
    if (d.m < 0) d.m = -d.m;
    if (it->kind == FL_FP_QTY) {
        fl_fp_item q = *it;
        q.v.q.value = fp_dec_text(c->a, d);
        if (!q.v.q.value.ptr) return nomem(c);
        return fhirpath_out_item(c, &q, out);
    }
    return out_dec(c, d, out);
}

static fl_rc round_like(fp_ctx *c, const fp_node *n, fl_fp_coll in, int mode, fl_fp_coll *out)
{
    const fl_fp_item *it;
    fl_rc rc = num_input(c, n, in, &it);
    if (rc || !it) return rc;
    if (it->kind == FL_FP_INT) return out_int(c, it->v.i, out);
    fp_dec d, r;
    int64_t v;
    if (!fp_item_dec(it, &d) || !fp_dec_rescale(d, 0, mode, &r) || !fp_dec_to_i64(r, &v)) return FL_OK;
    return out_int(c, v, out);
}

FN(ceiling) { (void)s; return round_like(c, n, in, 2, out); }
FN(floor) { (void)s; return round_like(c, n, in, 1, out); }
FN(truncate) { (void)s; return round_like(c, n, in, 3, out); }

FN(round)
{
    const fl_fp_item *it;
    fl_rc rc = num_input(c, n, in, &it);
    if (rc || !it) return rc;
    int64_t prec = 0;
    bool have = false;
    if (n->nargs && (rc = int_arg(c, n, 0, s, &have, &prec))) return rc;
    if (prec < 0 || prec > FP_DEC_MAX_SCALE) return fhirpath_fail(c, n, FL_E_FP_EVAL, "round() precision out of range");
    fp_dec d, r;
    if (!fp_item_dec(it, &d) || !fp_dec_rescale(d, (int32_t)prec, 0, &r)) return FL_OK;
    return out_dec(c, r, out);
}

static fl_rc math_f(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll in, int which, fl_fp_coll *out)
{
    const fl_fp_item *it;
    fl_rc rc = num_input(c, n, in, &it);
    if (rc || !it) return rc;
    fp_dec d;
    if (!fp_item_dec(it, &d)) return FL_OK;
    double x = fp_dec_to_f64(d), y = 0, r;
    if (which >= 4) {
        fl_fp_coll a;
        if ((rc = arg(c, n, 0, s, &a))) return rc;
        if (a.len == 0) return FL_OK;
        fp_dec e;
        if (a.len > 1 || !fp_item_dec(&a.items[0], &e)) return fhirpath_fail(c, n, FL_E_FP_EVAL, "%s() needs a number argument", n->fn->name);
        y = fp_dec_to_f64(e);
        if (which == 5 && it->kind == FL_FP_INT && a.items[0].kind == FL_FP_INT && a.items[0].v.i >= 0) {
            /* integer power stays integer */
            int64_t base = it->v.i, acc = 1;
            for (int64_t k = 0; k < a.items[0].v.i; k++)
                if (__builtin_mul_overflow(acc, base, &acc)) return FL_OK;
            return out_int(c, acc, out);
        }
    }
    switch (which) {
    case 0: r = sqrt(x); break;
    case 1: r = log(x); break;
    case 2: r = exp(x); break;
    case 4: r = log(x) / log(y); break;
    case 5: r = pow(x, y); break;
    default: r = NAN; break;
    }
    fp_dec o;
    if (!fp_dec_from_f64(r, &o)) return FL_OK;
    return out_dec(c, o, out);
}

FN(sqrt) { return math_f(c, n, s, in, 0, out); }
FN(ln) { return math_f(c, n, s, in, 1, out); }
FN(exp) { return math_f(c, n, s, in, 2, out); }
FN(log) { return math_f(c, n, s, in, 4, out); }
FN(power) { return math_f(c, n, s, in, 5, out); }

/* ------------------------------------------------------------------ boundaries */

static fl_rc dec_boundary(fp_ctx *c, const fp_node *n, fp_dec d, bool have_p, int64_t p, bool high, fl_str *text)
{
    (void)n;
    if (!have_p) p = 8;
    if (p < 0 || p > 28) return FL_E_NOT_FOUND;
    /* the value is known to +/- half a unit in its last digit */
    fp_dec half = {5, d.scale + 1}, b;
    if (!(high ? fp_dec_add(d, half, &b) : fp_dec_sub(d, half, &b))) return FL_E_NOT_FOUND;
    fp_dec r;
    if (!fp_dec_rescale(b, (int32_t)p, high ? 2 : 1, &r)) return FL_E_NOT_FOUND;
    if ((int32_t)p >= b.scale) {
        if (!fp_dec_rescale(b, (int32_t)p, 0, &r)) return FL_E_NOT_FOUND;
    }
    *text = fp_dec_text(c->a, r);
    if (!text->ptr) return nomem(c);
    /* "-0.0" for a negative value that rounds to zero */
    if (r.m == 0 && b.m < 0 && !high) {
        char *t = fl_arena_printf(c->a, "-" FL_STR_FMT, FL_STR_ARG(*text));
        if (!t) return nomem(c);
        *text = fl_str_c(t);
    }
    return FL_OK;
}

static fl_rc boundary(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll in, bool high, fl_fp_coll *out)
{
    const fl_fp_item *it;
    fl_rc rc = one_input(c, n, in, &it);
    if (rc || !it) return rc;
    bool have_p = false;
    int64_t p = 0;
    if (n->nargs && (rc = int_arg(c, n, 0, s, &have_p, &p))) return rc;
    if (it->kind == FL_FP_INT || it->kind == FL_FP_DEC || it->kind == FL_FP_QTY) {
        fp_dec d;
        if (!fp_dec_parse(it->kind == FL_FP_INT ? FL_STR("0") : it->kind == FL_FP_QTY ? it->v.q.value : it->v.s, &d)) return FL_OK;
        if (it->kind == FL_FP_INT) d = fp_dec_from_i64(it->v.i);
        fl_str t;
        rc = dec_boundary(c, n, d, have_p, p, high, &t);
        if (rc == FL_E_NOT_FOUND) return FL_OK;
        if (rc) return rc;
        fl_fp_item r = *it;
        r.src = NULL;
        r.ext = NULL;
        r.ftype = 0;
        if (it->kind == FL_FP_QTY) r.v.q.value = t;
        else r = fl_fp_item_dec(t);
        return fhirpath_out_item(c, &r, out);
    }
    fp_dt d;
    fl_fp_kind k;
    if (!fp_item_temporal(it, (fl_fp_kind)it->kind, &d, &k)) return FL_OK;
    /* target precision in digits: date 4/6/8, dateTime up to 17, time 2/4/6/9 */
    int64_t maxp = k == FL_FP_DATE ? 8 : k == FL_FP_TIME ? 9 : 17;
    if (!have_p) p = maxp;
    uint8_t tp;
    if (k == FL_FP_TIME) {
        tp = p == 2 ? FL_FP_PREC_HOUR : p == 4 ? FL_FP_PREC_MINUTE : p == 6 ? FL_FP_PREC_SECOND : p == 9 ? FL_FP_PREC_MS : 0;
    } else {
        tp = p == 4 ? FL_FP_PREC_YEAR : p == 6 ? FL_FP_PREC_MONTH : p == 8 ? FL_FP_PREC_DAY : p == 10 ? FL_FP_PREC_HOUR
           : p == 12 ? FL_FP_PREC_MINUTE : p == 14 ? FL_FP_PREC_SECOND : p == 17 ? FL_FP_PREC_MS : 0;
        if (k == FL_FP_DATE && tp > FL_FP_PREC_DAY) tp = 0;
    }
    if (!tp) return FL_OK;
    /* fill the missing parts with their lowest or highest values */
    if (d.prec < FL_FP_PREC_MONTH && !d.is_time) d.month = high ? 12 : 1;
    if (d.prec < FL_FP_PREC_DAY && !d.is_time) {
        static const int32_t dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int32_t md = dm[d.month - 1];
        if (d.month == 2 && (d.year % 4 == 0 && (d.year % 100 != 0 || d.year % 400 == 0))) md = 29;
        d.day = high ? md : 1;
    }
    if (d.prec < FL_FP_PREC_HOUR) d.hour = high ? 23 : 0;
    if (d.prec < FL_FP_PREC_MINUTE) d.minute = high ? 59 : 0;
    if (d.prec < FL_FP_PREC_SECOND) d.second = high ? 59 : 0;
    if (d.prec < FL_FP_PREC_MS) d.ms = high ? 999 : 0;
    if (k == FL_FP_DATETIME && !d.has_tz && tp >= FL_FP_PREC_HOUR) {
        d.has_tz = true;
        d.tz_min = high ? -12 * 60 : 14 * 60;
    }
    d.prec = tp;
    fl_fp_item r;
    memset(&r, 0, sizeof r);
    r.kind = (uint8_t)k;
    r.prec = tp;
    r.v.s = fp_dt_text(c->a, &d, k);
    if (!r.v.s.ptr) return nomem(c);
    return fhirpath_out_item(c, &r, out);
}

FN(lowBoundary) { return boundary(c, n, s, in, false, out); }
FN(highBoundary) { return boundary(c, n, s, in, true, out); }

FN(precision)
{
    (void)s;
    const fl_fp_item *it;
    fl_rc rc = one_input(c, n, in, &it);
    if (rc || !it) return rc;
    if (it->kind == FL_FP_DEC) {
        fp_dec d;
        if (!fp_dec_parse(it->v.s, &d)) return FL_OK;
        return out_int(c, d.scale, out);
    }
    if (it->kind == FL_FP_INT) return out_int(c, 0, out);
    fp_dt d;
    fl_fp_kind k;
    if (!fp_item_temporal(it, (fl_fp_kind)it->kind, &d, &k)) return FL_OK;
    static const int dp[] = {0, 4, 6, 8, 10, 12, 14, 17};
    static const int tp[] = {0, 0, 0, 0, 2, 4, 6, 9};
    return out_int(c, k == FL_FP_TIME ? tp[d.prec] : dp[d.prec], out);
}

FN(comparable)
{
    const fl_fp_item *it;
    fl_rc rc = one_input(c, n, in, &it);
    if (rc || !it) return rc;
    fl_fp_coll o;
    if ((rc = arg(c, n, 0, s, &o))) return rc;
    if (o.len != 1 || it->kind != FL_FP_QTY || o.items[0].kind != FL_FP_QTY) return FL_OK;
    fp_dec a, b, ca, cb;
    fl_str ua, ub;
    if (!fp_dec_parse(it->v.q.value, &a) || !fp_dec_parse(o.items[0].v.q.value, &b)) return FL_OK;
    bool ok = fp_qty_canon(c->a, a, it->v.q.unit, &ca, &ua) && fp_qty_canon(c->a, b, o.items[0].v.q.unit, &cb, &ub);
    return fhirpath_out_bool(c, ok && fl_str_eq(ua, ub), out);
}

/* ------------------------------------------------------------------ tree / utility */

FN(trace)
{
    (void)s;
    (void)c;
    (void)n;
    *out = in; /* tracing is a no-op in the library (no printing) */
    return FL_OK;
}

static fl_rc now_dt(fp_ctx *c, fp_dt *d)
{
    int64_t us = (c->now_us ? c->now_us : fl_clock_now_us()) + (int64_t)(c->env ? c->env->tz_offset_min : 0) * 60000000LL;
    int64_t ms = us / 1000;
    int64_t days = ms / 86400000LL - (ms % 86400000LL < 0);
    int64_t rem = ms - days * 86400000LL;
    memset(d, 0, sizeof *d);
    fp_dt base;
    memset(&base, 0, sizeof base);
    base.year = 1970;
    base.month = base.day = 1;
    base.prec = FL_FP_PREC_MS;
    base.has_date = true;
    *d = base;
    fp_dec amount = fp_dec_from_i64(days);
    if (!fp_dt_add(d, amount, FL_STR("day"), false)) return FL_E_INTERNAL;
    d->hour = (int32_t)(rem / 3600000);
    d->minute = (int32_t)(rem / 60000 % 60);
    d->second = (int32_t)(rem / 1000 % 60);
    d->ms = (int32_t)(rem % 1000);
    d->has_tz = true;
    d->tz_min = c->env ? c->env->tz_offset_min : 0;
    return FL_OK;
}

static fl_rc clock_fn(fp_ctx *c, const fp_node *n, fl_fp_kind k, fl_fp_coll *out)
{
    fp_dt d;
    if (now_dt(c, &d)) return fhirpath_fail(c, n, FL_E_FP_EVAL, "clock out of range");
    if (k == FL_FP_DATE) d.prec = FL_FP_PREC_DAY;
    if (k == FL_FP_TIME) d.is_time = true;
    fl_fp_item it;
    memset(&it, 0, sizeof it);
    it.kind = (uint8_t)k;
    it.prec = d.prec;
    it.v.s = fp_dt_text(c->a, &d, k);
    if (!it.v.s.ptr) return nomem(c);
    return fhirpath_out_item(c, &it, out);
}

FN(now) { (void)s; (void)in; return clock_fn(c, n, FL_FP_DATETIME, out); }
FN(today) { (void)s; (void)in; return clock_fn(c, n, FL_FP_DATE, out); }
FN(timeOfDay) { (void)s; (void)in; return clock_fn(c, n, FL_FP_TIME, out); }

FN(not)
{
    (void)s;
    if (in.len == 0) return FL_OK;
    if (in.len > 1) return fhirpath_fail(c, n, FL_E_FP_EVAL, "not() on %zu items", in.len);
    /* a single non-boolean item counts as true (singleton evaluation) */
    bool v = in.items[0].kind == FL_FP_BOOL ? in.items[0].v.b : true;
    return fhirpath_out_bool(c, !v, out);
}

FN(extension)
{
    bool h;
    fl_str url;
    fl_rc rc = str_arg(c, n, 0, s, &h, &url);
    if (rc || !h) return rc;
    fp_cb b = {0};
    for (size_t i = 0; i < in.len; i++) {
        fp_cb exts = {0};
        if ((rc = fhirpath_member(c, &in.items[i], FL_STR("extension"), &exts))) return rc;
        for (size_t k = 0; k < exts.len; k++) {
            const fl_fp_item *e = &exts.items[k];
            if (e->kind != FL_FP_NODE) continue;
            const fl_json_val *u = fl_json_get_c(e->v.node, "url");
            if (u && u->type == FL_JSON_STRING && fl_str_eq(fl_json_str(u), url) && (rc = fhirpath_cb_push(c, &b, e)))
                return rc;
        }
    }
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

FN(hasValue)
{
    (void)s;
    (void)n;
    bool v = in.len == 1 && in.items[0].kind != FL_FP_NODE && !(in.items[0].flags_ & FPF_NOVALUE);
    return fhirpath_out_bool(c, v, out);
}

FN(getValue)
{
    (void)s;
    (void)n;
    if (in.len == 1 && in.items[0].kind != FL_FP_NODE && !(in.items[0].flags_ & FPF_NOVALUE)) {
        fl_fp_item it = in.items[0];
        it.ext = NULL;
        return fhirpath_out_item(c, &it, out);
    }
    return FL_OK;
}

FN(getResourceKey)
{
    (void)s;
    (void)n;
    fp_cb b = {0};
    for (size_t i = 0; i < in.len; i++) {
        if (in.items[i].kind != FL_FP_NODE) continue;
        const fl_json_val *id = fl_json_get_c(in.items[i].v.node, "id");
        if (!id || id->type != FL_JSON_STRING) continue;
        fl_fp_item it = fp_item_from_json(id, FP_T_ID);
        fl_rc rc = fhirpath_cb_push(c, &b, &it);
        if (rc) return rc;
    }
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

/* Split a reference "Type/id", ".../Type/id" or "Type/id/_history/v" into type and id. */
static bool ref_parts(fl_str ref, fl_str *type, fl_str *id)
{
    /* drop a version suffix */
    for (size_t i = 0; i + 10 <= ref.len; i++) {
        if (!memcmp(ref.ptr + i, "/_history/", 10)) {
            ref.len = i;
            break;
        }
    }
    size_t slash = ref.len;
    while (slash > 0 && ref.ptr[slash - 1] != '/') slash--;
    if (slash == 0 || slash == ref.len) return false;
    *id = fl_str_make(ref.ptr + slash, ref.len - slash);
    size_t ts = slash - 1;
    while (ts > 0 && ref.ptr[ts - 1] != '/') ts--;
    *type = fl_str_make(ref.ptr + ts, slash - 1 - ts);
    return type->len > 0;
}

FN(getReferenceKey)
{
    (void)s;
    fp_cb b = {0};
    for (size_t i = 0; i < in.len; i++) {
        if (in.items[i].kind != FL_FP_NODE) continue;
        const fl_json_val *r = fl_json_get_c(in.items[i].v.node, "reference");
        if (!r || r->type != FL_JSON_STRING) continue;
        fl_str type, id;
        if (!ref_parts(fl_json_str(r), &type, &id)) continue;
        if (n->nargs && !fl_str_eq(type, n->type.name)) continue;
        fl_fp_item it = fl_fp_item_str(id);
        it.ftype = FP_T_ID;
        fl_rc rc = fhirpath_cb_push(c, &b, &it);
        if (rc) return rc;
    }
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

FN(resolve)
{
    (void)s;
    (void)n;
    /* only contained references ("#id") resolve; anything else yields empty */
    fp_cb b = {0};
    const fl_json_val *res = c->resource;
    const fl_json_val *contained = res ? fl_json_get_c(res, "contained") : NULL;
    for (size_t i = 0; i < in.len && contained && contained->type == FL_JSON_ARRAY; i++) {
        fl_str ref;
        if (in.items[i].kind == FL_FP_NODE) {
            const fl_json_val *r = fl_json_get_c(in.items[i].v.node, "reference");
            if (!r || r->type != FL_JSON_STRING) continue;
            ref = fl_json_str(r);
        } else if (in.items[i].kind == FL_FP_STR) {
            ref = in.items[i].v.s;
        } else {
            continue;
        }
        if (ref.len < 2 || ref.ptr[0] != '#') continue;
        for (uint32_t k = 0; k < contained->len; k++) {
            const fl_json_val *id = fl_json_get_c(&contained->u.items[k], "id");
            if (id && id->type == FL_JSON_STRING && fl_str_eq(fl_json_str(id), fl_str_make(ref.ptr + 1, ref.len - 1))) {
                fl_fp_item it = fp_item_from_json(&contained->u.items[k], FP_T_RESOURCE);
                fl_rc rc = fhirpath_cb_push(c, &b, &it);
                if (rc) return rc;
            }
        }
    }
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

FN(aggregate)
{
    fl_fp_coll total = {0};
    fl_rc rc;
    if (n->nargs > 1 && (rc = arg(c, n, 1, s, &total))) return rc;
    for (size_t i = 0; i < in.len; i++) {
        fp_scope sc = *s;
        sc.this_ = (fl_fp_coll){&in.items[i], 1};
        sc.index = (int64_t)i;
        sc.total = &total;
        fl_fp_coll r;
        if ((rc = fhirpath_eval_node(c, n->args[0], &sc, &r))) return rc;
        total = r;
    }
    *out = total;
    return FL_OK;
}

typedef struct sort_key {
    fl_fp_coll *keys; /* one per sort argument */
    size_t idx;
} sort_key;

static int sort_cmp_keys(const fp_node *n, const sort_key *a, const sort_key *b)
{
    unsigned nk = n->nargs ? n->nargs : 1;
    for (unsigned k = 0; k < nk; k++) {
        bool desc = n->nargs && n->args[k]->op == FPN_NEG;
        fl_fp_coll x = a->keys[k], y = b->keys[k];
        int r = 0;
        if (x.len == 0 || y.len == 0) r = (x.len == 0 && y.len == 0) ? 0 : (x.len == 0 ? 1 : -1); /* empty sorts last */
        else if (fp_item_cmp(&x.items[0], &y.items[0], &r) != 1) r = 0;
        if (r) return desc ? -r : r;
    }
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

FN(sort)
{
    fl_rc rc;
    unsigned nk = n->nargs ? n->nargs : 1;
    if (in.len == 0) return FL_OK;
    sort_key *ks = fl_arena_alloc(c->a, in.len * sizeof *ks);
    if (!ks) return nomem(c);
    for (size_t i = 0; i < in.len; i++) {
        ks[i].idx = i;
        ks[i].keys = fl_arena_alloc(c->a, nk * sizeof *ks[i].keys);
        if (!ks[i].keys) return nomem(c);
        for (unsigned k = 0; k < nk; k++) {
            if (!n->nargs) {
                ks[i].keys[k] = (fl_fp_coll){&in.items[i], 1};
                continue;
            }
            const fp_node *e = n->args[k]->op == FPN_NEG ? n->args[k]->left : n->args[k];
            fp_scope sc = *s;
            sc.this_ = (fl_fp_coll){&in.items[i], 1};
            sc.index = (int64_t)i;
            if ((rc = fhirpath_eval_node(c, e, &sc, &ks[i].keys[k]))) return rc;
        }
    }
    /* insertion sort: stable, collections are small */
    for (size_t i = 1; i < in.len; i++) {
        sort_key t = ks[i];
        size_t j = i;
        while (j > 0 && sort_cmp_keys(n, &ks[j - 1], &t) > 0) {
            ks[j] = ks[j - 1];
            j--;
        }
        ks[j] = t;
    }
    fl_fp_item *items = fl_arena_alloc(c->a, in.len * sizeof *items);
    if (!items) return nomem(c);
    for (size_t i = 0; i < in.len; i++) items[i] = in.items[ks[i].idx];
    *out = (fl_fp_coll){items, in.len};
    return FL_OK;
}

/* conformsTo(url): only the core profiles (".../StructureDefinition/<Type>") are known. */
FN(conformsTo)
{
    bool h;
    fl_str url;
    fl_rc rc = str_arg(c, n, 0, s, &h, &url);
    if (rc || !h) return rc;
    fl_str pre = FL_STR("http://hl7.org/fhir/StructureDefinition/");
    uint16_t want = fl_str_starts_with(url, pre) ? fp_type_id(fl_str_make(url.ptr + pre.len, url.len - pre.len)) : 0;
    if (!want) return fhirpath_fail(c, n, FL_E_FP_EVAL, "conformsTo(): unknown profile '" FL_STR_FMT "'", FL_STR_ARG(url));
    fp_cb b = {0};
    for (size_t i = 0; i < in.len; i++) {
        uint16_t t = in.items[i].ftype;
        if (!t && in.items[i].kind == FL_FP_NODE) t = fp_type_of_resource(in.items[i].v.node);
        fl_fp_item it = fl_fp_item_bool(t && fp_type_derives(t, want));
        if ((rc = fhirpath_cb_push(c, &b, &it))) return rc;
    }
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

/* type(): a small synthetic {namespace, name} object per item. */
FN(type)
{
    (void)s;
    (void)n;
    fp_cb b = {0};
    for (size_t i = 0; i < in.len; i++) {
        const fl_fp_item *it = &in.items[i];
        bool fhir = it->ftype || (it->kind == FL_FP_NODE);
        fl_json_val *obj = fl_arena_calloc(c->a, 1, sizeof *obj);
        fl_json_member *m = fl_arena_calloc(c->a, 2, sizeof *m);
        if (!obj || !m) return nomem(c);
        const char *ns = fhir ? "FHIR" : "System";
        const char *nm = fl_fp_item_type_name(it);
        m[0].key = FL_STR("namespace");
        m[0].val.type = FL_JSON_STRING;
        m[0].val.u.str = ns;
        m[0].val.len = (uint32_t)strlen(ns);
        m[1].key = FL_STR("name");
        m[1].val.type = FL_JSON_STRING;
        m[1].val.u.str = nm;
        m[1].val.len = (uint32_t)strlen(nm);
        obj->type = FL_JSON_OBJECT;
        obj->len = 2;
        obj->u.members = m;
        fl_fp_item t;
        memset(&t, 0, sizeof t);
        t.kind = FL_FP_NODE;
        t.v.node = obj;
        fl_rc rc = fhirpath_cb_push(c, &b, &t);
        if (rc) return rc;
    }
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

/* ------------------------------------------------------------------ table */

#define E(name, lo, hi, ta) {#name, lo, hi, ta, fn_##name}
/* Sorted by name (bytewise) for binary search. */
static const fp_fninfo fn_table[] = {
    E(abs, 0, 0, 0),
    E(aggregate, 1, 2, 0),
    E(all, 1, 1, 0),
    E(allFalse, 0, 0, 0),
    E(allTrue, 0, 0, 0),
    E(anyFalse, 0, 0, 0),
    E(anyTrue, 0, 0, 0),
    E(as, 1, 1, 1),
    E(ceiling, 0, 0, 0),
    E(children, 0, 0, 0),
    E(combine, 1, 1, 0),
    E(comparable, 1, 1, 0),
    E(conformsTo, 1, 1, 0),
    E(contains, 1, 1, 0),
    E(convertsToBoolean, 0, 0, 0),
    E(convertsToDate, 0, 0, 0),
    E(convertsToDateTime, 0, 0, 0),
    E(convertsToDecimal, 0, 0, 0),
    E(convertsToInteger, 0, 0, 0),
    E(convertsToQuantity, 0, 1, 0),
    E(convertsToString, 0, 0, 0),
    E(convertsToTime, 0, 0, 0),
    E(count, 0, 0, 0),
    E(decode, 1, 1, 0),
    E(descendants, 0, 0, 0),
    E(distinct, 0, 0, 0),
    E(empty, 0, 0, 0),
    E(encode, 1, 1, 0),
    E(endsWith, 1, 1, 0),
    E(escape, 1, 1, 0),
    E(exclude, 1, 1, 0),
    E(exists, 0, 1, 0),
    E(exp, 0, 0, 0),
    E(extension, 1, 1, 0),
    E(first, 0, 0, 0),
    E(floor, 0, 0, 0),
    E(getReferenceKey, 0, 1, 1),
    E(getResourceKey, 0, 0, 0),
    E(getValue, 0, 0, 0),
    E(hasValue, 0, 0, 0),
    E(highBoundary, 0, 1, 0),
    E(iif, 2, 3, 0),
    E(indexOf, 1, 1, 0),
    E(intersect, 1, 1, 0),
    E(is, 1, 1, 1),
    E(isDistinct, 0, 0, 0),
    E(join, 0, 1, 0),
    E(last, 0, 0, 0),
    E(length, 0, 0, 0),
    E(ln, 0, 0, 0),
    E(log, 1, 1, 0),
    E(lowBoundary, 0, 1, 0),
    E(lower, 0, 0, 0),
    E(matches, 1, 1, 0),
    E(matchesFull, 1, 1, 0),
    E(not, 0, 0, 0),
    E(now, 0, 0, 0),
    E(ofType, 1, 1, 1),
    E(power, 1, 1, 0),
    E(precision, 0, 0, 0),
    E(repeat, 1, 1, 0),
    E(replace, 2, 2, 0),
    E(replaceMatches, 2, 2, 0),
    E(resolve, 0, 0, 0),
    E(round, 0, 1, 0),
    E(select, 1, 1, 0),
    E(single, 0, 0, 0),
    E(skip, 1, 1, 0),
    E(sort, 0, 8, 0),
    E(split, 1, 1, 0),
    E(sqrt, 0, 0, 0),
    E(startsWith, 1, 1, 0),
    E(subsetOf, 1, 1, 0),
    E(substring, 1, 2, 0),
    E(supersetOf, 1, 1, 0),
    E(tail, 0, 0, 0),
    E(take, 1, 1, 0),
    E(timeOfDay, 0, 0, 0),
    E(toBoolean, 0, 0, 0),
    E(toChars, 0, 0, 0),
    E(toDate, 0, 0, 0),
    E(toDateTime, 0, 0, 0),
    E(toDecimal, 0, 0, 0),
    E(toInteger, 0, 0, 0),
    E(toQuantity, 0, 1, 0),
    E(toString, 0, 0, 0),
    E(toTime, 0, 0, 0),
    E(today, 0, 0, 0),
    E(trace, 1, 2, 0),
    E(trim, 0, 0, 0),
    E(truncate, 0, 0, 0),
    E(type, 0, 0, 0),
    E(unescape, 1, 1, 0),
    E(union, 1, 1, 0),
    E(upper, 0, 0, 0),
    E(where, 1, 1, 0),
};
#undef E

const fp_fninfo *fhirpath_fn_lookup(fl_str name)
{
    size_t lo = 0, hi = sizeof fn_table / sizeof fn_table[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = fl_str_cmp(fl_str_c(fn_table[mid].name), name);
        if (c == 0) return &fn_table[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* For unit tests: the table must stay sorted (checked by test_fhirpath_api.c). */
size_t fhirpath_fn_count(void);
const char *fhirpath_fn_name(size_t i);
size_t fhirpath_fn_count(void) { return sizeof fn_table / sizeof fn_table[0]; }
const char *fhirpath_fn_name(size_t i) { return i < fhirpath_fn_count() ? fn_table[i].name : NULL; }
