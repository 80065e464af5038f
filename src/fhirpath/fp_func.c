/* fp_func.c - the FHIRPath function library and its lookup table (module fhirpath).
 * Each function gets its input collection and evaluates its own arguments: ordinary
 * arguments in the caller's scope, "lambda" arguments (where, select, all, repeat, ...)
 * once per input item with $this/$index bound. The table is sorted by name and
 * searched at compile time, so evaluation dispatches by pointer. String, regex and
 * math functions live in fp_fnstr.c; shared helpers (fpf_*) in fhirpath_int.h. */
#include "fhirpath/fhirpath_int.h"

#include "fhirlake/os.h"

#include <math.h>
#include <stdio.h>
#include <strings.h>

#define FN(name) static FP_FN(name)

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
        fl_rc rc = fpf_arg_on(c, n, 0, s, in, i, &r);
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
        fl_rc rc = fpf_arg_on(c, n, 0, s, in, i, &r);
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

/* The collection argument of a set function, once the pair-count limit allows comparing the
 * items: `in` with it (subsetOf/supersetOf), or everything with everything (`both`). */
static fl_rc set_arg(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll in, bool both,
                     fl_fp_coll *other)
{
    fl_rc rc = fpf_arg(c, n, 0, s, other);
    if (rc) return rc;
    size_t na = both ? in.len + other->len : in.len, nb = both ? na : other->len;
    return fpf_pairs_ok(c, n, na, nb);
}

/* true when every item of a is in b */
static fl_rc all_in(fp_ctx *c, fl_fp_coll a, fl_fp_coll b, fl_fp_coll *out)
{
    for (size_t i = 0; i < a.len; i++)
        if (!fpf_coll_has(b, &a.items[i])) return fhirpath_out_bool(c, false, out);
    return fhirpath_out_bool(c, true, out);
}

/* Append to b the items of src that are (want_in) or are not (!want_in) in *other (every
 * item when other is NULL), skipping those already in b when `distinct`. */
static fl_rc push_filtered(fp_ctx *c, fp_cb *b, fl_fp_coll src, const fl_fp_coll *other, bool want_in,
                           bool distinct)
{
    for (size_t i = 0; i < src.len; i++) {
        if (other && fpf_coll_has(*other, &src.items[i]) != want_in) continue;
        if (distinct && fpf_coll_has(fhirpath_cb_coll(b), &src.items[i])) continue;
        fl_rc rc = fhirpath_cb_push(c, b, &src.items[i]);
        if (rc) return rc;
    }
    return FL_OK;
}

FN(subsetOf)
{
    fl_fp_coll other;
    fl_rc rc = set_arg(c, n, s, in, false, &other);
    return rc ? rc : all_in(c, in, other, out);
}

FN(supersetOf)
{
    fl_fp_coll other;
    fl_rc rc = set_arg(c, n, s, in, false, &other);
    return rc ? rc : all_in(c, other, in, out);
}

FN(count)
{
    (void)s;
    (void)n;
    return fpf_out_int(c, (int64_t)in.len, out);
}

FN(distinct)
{
    (void)s;
    fl_rc rc = fpf_pairs_ok(c, n, in.len, in.len);
    fp_cb b = {0};
    if (rc || (rc = push_filtered(c, &b, in, NULL, false, true))) return rc;
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

FN(isDistinct)
{
    (void)s;
    fl_rc prc = fpf_pairs_ok(c, n, in.len, in.len);
    if (prc) return prc;
    for (size_t i = 0; i < in.len; i++)
        for (size_t j = i + 1; j < in.len; j++)
            if (fp_item_eq(&in.items[i], &in.items[j]) == 1) return fhirpath_out_bool(c, false, out);
    return fhirpath_out_bool(c, true, out);
}

/* ------------------------------------------------------------------ filtering */

/* Fast path of where(member = 'text') on a JSON object: 1 match, 0 no match, -1 decide
 * the general way (choice or _member present, non-string value, text that may be a date). */
static int where_eq_fast(const fp_node *crit, const fl_fp_item *it)
{
    if (it->kind != FL_FP_NODE || (it->flags_ & FPF_NOVALUE)) return -1;
    const fl_json_val *obj = it->v.node;
    fl_str name = crit->left->name, want = crit->right->lit.v.s;
    const fl_json_val *val = NULL;
    for (uint32_t i = 0; i < obj->len; i++) {
        fl_str k = obj->u.members[i].key;
        if (k.len == name.len && memcmp(k.ptr, name.ptr, name.len) == 0) {
            val = &obj->u.members[i].val;
        } else if (k.len > name.len && ((k.ptr[0] == '_' && k.len > name.len && memcmp(k.ptr + 1, name.ptr, name.len) == 0) ||
                                        (memcmp(k.ptr, name.ptr, name.len) == 0 && k.ptr[name.len] >= 'A' &&
                                         k.ptr[name.len] <= 'Z'))) {
            return -1;
        }
    }
    if (!val) return 0; /* empty criteria: not kept */
    if (val->type != FL_JSON_STRING) return -1;
    fl_str got = fl_json_str(val);
    if (fl_str_eq(got, want)) return 1;
    /* a date/time element may equal differently written text: let '=' decide */
    if (got.len && got.ptr[0] >= '0' && got.ptr[0] <= '9') return -1;
    return 0;
}

FN(where)
{
    fp_cb b = {0};
    const fp_node *crit = n->args[0];
    bool fast = crit->op == FPN_EQ && crit->left->op == FPN_MEMBER && !crit->left->left && !crit->left->slot &&
                crit->right->op == FPN_LIT && crit->right->lit.kind == FL_FP_STR;
    for (size_t i = 0; i < in.len; i++) {
        fl_fp_coll r;
        int t;
        if (fast) {
            int m = where_eq_fast(crit, &in.items[i]);
            if (m >= 0) {
                fl_rc rc;
                if (m == 1 && (rc = fhirpath_cb_push(c, &b, &in.items[i]))) return rc;
                continue;
            }
        }
        fl_rc rc = fpf_arg_on(c, n, 0, s, in, i, &r);
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
        fl_rc rc = fpf_arg_on(c, n, 0, s, in, i, &r);
        if (rc) return rc;
        if ((rc = fhirpath_cb_append(c, &b, r))) return rc;
    }
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

static bool cb_has_same(const fp_cb *b, const fl_fp_item *it)
{
    for (size_t i = 0; i < b->len; i++)
        if (fpf_same_item(&b->items[i], it)) return true;
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
            } else if ((rc = fpf_arg_on(c, n, 0, s, level, i, &r))) {
                return rc;
            }
            if (!children && (rc = fpf_pairs_ok(c, n, res.len + 1, r.len))) return rc;
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
    const fl_fp_item *it = NULL;
    fl_rc rc = fpf_one_input(c, n, in, &it);
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

/* skip(k) / take(k): k <= 0 skips nothing and takes nothing; k past the end skips all. */
static fl_rc skip_take(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll in, bool take, fl_fp_coll *out)
{
    bool have;
    int64_t k;
    fl_rc rc = fpf_int_arg(c, n, 0, s, &have, &k);
    if (rc || !have) return rc;
    size_t m = k <= 0 ? 0 : (uint64_t)k < in.len ? (size_t)k : in.len;
    if (take) {
        if (k > 0) *out = (fl_fp_coll){in.items, m};
    } else if (k <= 0) {
        *out = in;
    } else if (m < in.len) {
        *out = (fl_fp_coll){in.items + m, in.len - m};
    }
    return FL_OK;
}

FN(skip) { return skip_take(c, n, s, in, false, out); }
FN(take) { return skip_take(c, n, s, in, true, out); }

/* intersect(), exclude() and union() of `in` with the argument collection. */
typedef enum set_kind { SET_INTERSECT, SET_EXCLUDE, SET_UNION } set_kind;

static fl_rc set_op(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll in, set_kind k, fl_fp_coll *out)
{
    fl_fp_coll other;
    fl_rc rc = set_arg(c, n, s, in, true, &other);
    if (rc) return rc;
    fp_cb b = {0};
    if (k == SET_UNION)
        rc = push_filtered(c, &b, in, NULL, false, true);
    else /* intersect keeps the items found in other, once; exclude the others, all */
        rc = push_filtered(c, &b, in, &other, k == SET_INTERSECT, k == SET_INTERSECT);
    if (!rc && k == SET_UNION) rc = push_filtered(c, &b, other, NULL, false, true);
    if (rc) return rc;
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

FN(intersect) { return set_op(c, n, s, in, SET_INTERSECT, out); }
FN(exclude) { return set_op(c, n, s, in, SET_EXCLUDE, out); }
FN(union) { return set_op(c, n, s, in, SET_UNION, out); }

FN(combine)
{
    fl_fp_coll other;
    fl_rc rc = fpf_arg(c, n, 0, s, &other);
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
    const fl_fp_item *it = NULL;
    fl_rc rc = fpf_one_input(c, n, in, &it);
    if (rc || !it) return rc;
    fl_fp_item r;
    bool ok = false;
    memset(&r, 0, sizeof r);
    switch (target) {
    case FL_FP_BOOL: {
        bool v = false;
        ok = conv_bool(it, &v);
        r = fl_fp_item_bool(ok && v);
        break;
    }
    case FL_FP_INT: {
        int64_t v = 0;
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
            if (!r.v.s.ptr) return fpf_nomem(c);
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
    return fpf_out_dt(c, &d, k, out);
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
    fl_rc rc = fpf_str_arg(c, n, 0, s, &h, &url);
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
    if (n->nargs > 1 && (rc = fpf_arg(c, n, 1, s, &total))) return rc;
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
    if (!ks) return fpf_nomem(c);
    for (size_t i = 0; i < in.len; i++) {
        ks[i].idx = i;
        ks[i].keys = fl_arena_alloc(c->a, nk * sizeof *ks[i].keys);
        if (!ks[i].keys) return fpf_nomem(c);
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
    /* bottom-up merge sort: stable, O(n log n) */
    sort_key *tmp = fl_arena_alloc(c->a, in.len * sizeof *tmp);
    if (!tmp) return fpf_nomem(c);
    for (size_t width = 1; width < in.len; width *= 2) {
        for (size_t lo = 0; lo < in.len; lo += 2 * width) {
            size_t mid = lo + width < in.len ? lo + width : in.len;
            size_t hi = lo + 2 * width < in.len ? lo + 2 * width : in.len;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = sort_cmp_keys(n, &ks[j], &ks[i]) < 0 ? ks[j++] : ks[i++];
            while (i < mid) tmp[k++] = ks[i++];
            while (j < hi) tmp[k++] = ks[j++];
        }
        sort_key *sw = ks;
        ks = tmp;
        tmp = sw;
    }
    fl_fp_item *items = fl_arena_alloc(c->a, in.len * sizeof *items);
    if (!items) return fpf_nomem(c);
    for (size_t i = 0; i < in.len; i++) items[i] = in.items[ks[i].idx];
    *out = (fl_fp_coll){items, in.len};
    return FL_OK;
}

/* defineVariable(name [, expr]): binds %name to expr evaluated on the input (or to the
 * input itself) for the rest of the chain; returns the input unchanged. */
FN(defineVariable)
{
    fl_fp_coll val = in;
    if (n->nargs > 1) {
        fp_scope sc = *s;
        sc.this_ = in;
        fl_rc rc = fhirpath_eval_node(c, n->args[1], &sc, &val);
        if (rc) return rc;
    }
    fp_binding *b = fl_arena_alloc(c->a, sizeof *b);
    if (!b) return fpf_nomem(c);
    b->name = n->args[0]->lit.v.s;
    b->val = val;
    b->next = c->vars;
    c->vars = b;
    *out = in;
    return FL_OK;
}

/* conformsTo(url): only the core profiles (".../StructureDefinition/<Type>") are known. */
FN(conformsTo)
{
    bool h;
    fl_str url;
    fl_rc rc = fpf_str_arg(c, n, 0, s, &h, &url);
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
        if (!obj || !m) return fpf_nomem(c);
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

#define E(name, lo, hi, ta) {#name, lo, hi, ta, fhirpath_fn_##name}
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
    E(defineVariable, 1, 2, 0),
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
size_t fhirpath_fntab_count(void);
const char *fhirpath_fntab_name(size_t i);
size_t fhirpath_fntab_count(void) { return sizeof fn_table / sizeof fn_table[0]; }
const char *fhirpath_fntab_name(size_t i) { return i < fhirpath_fntab_count() ? fn_table[i].name : NULL; }
