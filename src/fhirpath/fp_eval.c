/* fp_eval.c - FHIRPath evaluator core (module fhirpath): walks the compiled AST over the
 * JSON DOM. Member navigation reads object members in place (no copies), expands
 * arrays, resolves choice elements (value -> valueQuantity) and primitive extensions
 * ("_birthDate"). Operators follow the spec's collection rules: empty propagates,
 * three-valued and/or/xor/implies, '=' vs '~', typed ordering.
 * All memory comes from the caller's arena; the program is never written. */
#include "fhirpath/fhirpath_int.h"

#include <stdarg.h>
#include <stdio.h>

/* ------------------------------------------------------------------ helpers */

fl_rc fhirpath_fail(fp_ctx *c, const fp_node *n, fl_rc code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    uint32_t pos = n ? n->pos : 0, col = 1, line = 1;
    const char *e = c->p->expr;
    for (uint32_t i = 0; i < pos && i < c->p->expr_len; i++) {
        if (e[i] == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)e[i] & 0xC0) != 0x80) {
            col++;
        }
    }
    int shown = c->p->expr_len > 160 ? 160 : (int)c->p->expr_len;
    const char *name = c->p->name;
    return fl_err_set_at(c->err, code, pos, line, col, "%s%s%.*s%s: col %u: %s", name ? name : "", name ? ": " : "",
                         shown, e, c->p->expr_len > 160 ? "..." : "", col, msg);
}

static fl_rc nomem(fp_ctx *c) { return fl_err_set(c->err, FL_E_NOMEM, "fhirpath: evaluation arena exhausted"); }

/* Make room for `extra` more items (one growth step instead of several doublings). */
static fl_rc cb_reserve(fp_ctx *c, fp_cb *b, size_t extra)
{
    if (b->cap - b->len >= extra) return FL_OK;
    size_t ncap = b->cap ? b->cap * 2 : 4;
    if (ncap < b->len + extra) ncap = b->len + extra;
    if (ncap > FL_FP_MAX_COLL_ITEMS) {
        if (b->len + extra > FL_FP_MAX_COLL_ITEMS)
            return fl_err_set(c->err, FL_E_LIMIT, "fhirpath: collection over %u items", FL_FP_MAX_COLL_ITEMS);
        ncap = FL_FP_MAX_COLL_ITEMS;
    }
    fl_fp_item *n = fl_arena_alloc(c->a, ncap * sizeof *n);
    if (!n) return nomem(c);
    if (b->len) memcpy(n, b->items, b->len * sizeof *n);
    b->items = n;
    b->cap = ncap;
    return FL_OK;
}

fl_rc fhirpath_cb_push(fp_ctx *c, fp_cb *b, const fl_fp_item *it)
{
    if (b->len == b->cap) {
        fl_rc rc = cb_reserve(c, b, 1);
        if (rc) return rc;
    }
    b->items[b->len++] = *it;
    return FL_OK;
}

fl_rc fhirpath_cb_append(fp_ctx *c, fp_cb *b, fl_fp_coll in)
{
    if (b->len == 0 && b->cap == 0) {
        /* adopt the input array (collections are immutable once produced) */
        b->items = in.items;
        b->len = b->cap = in.len;
        return FL_OK;
    }
    for (size_t i = 0; i < in.len; i++) {
        fl_rc rc = fhirpath_cb_push(c, b, &in.items[i]);
        if (rc) return rc;
    }
    return FL_OK;
}

fl_rc fhirpath_out_item(fp_ctx *c, const fl_fp_item *it, fl_fp_coll *out)
{
    fl_fp_item *p = fl_arena_alloc(c->a, sizeof *p);
    if (!p) return nomem(c);
    *p = *it;
    out->items = p;
    out->len = 1;
    return FL_OK;
}

/* Shared read-only boolean results: collections are never written once built, so a
 * one-item result may point at constant storage instead of the arena. */
static const fl_fp_item fp_false_item = {.kind = FL_FP_BOOL, .v.b = false};
static const fl_fp_item fp_true_item = {.kind = FL_FP_BOOL, .v.b = true};

fl_rc fhirpath_out_bool(fp_ctx *c, bool v, fl_fp_coll *out)
{
    (void)c;
    out->items = (fl_fp_item *)(uintptr_t)(v ? &fp_true_item : &fp_false_item);
    out->len = 1;
    return FL_OK;
}

/* ------------------------------------------------------------------ navigation */

static uint16_t item_ftype(const fl_fp_item *it)
{
    /* items from fp_item_from_json already carry the resource type when known */
    return it->ftype;
}

static uint16_t choice_type(fl_str suffix)
{
    /* primitive types are spelt lower-camel: valueDateTime -> dateTime */
    char buf[64];
    if (suffix.len == 0 || suffix.len >= sizeof buf) return 0;
    memcpy(buf, suffix.ptr, suffix.len);
    buf[0] = (char)(buf[0] >= 'A' && buf[0] <= 'Z' ? buf[0] + 32 : buf[0]);
    uint16_t t = fp_type_id(fl_str_make(buf, suffix.len));
    if (t && fp_type_kind(t)) return t;
    return fp_type_id(suffix);
}

static fl_rc emit_value(fp_ctx *c, const fl_json_val *v, const fl_json_val *ext, uint16_t ftype, fp_cb *b)
{
    if (v && v->type == FL_JSON_ARRAY) {
        fl_rc rr = cb_reserve(c, b, v->len);
        if (rr) return rr;
        for (uint32_t i = 0; i < v->len; i++) {
            const fl_json_val *e = ext && ext->type == FL_JSON_ARRAY && i < ext->len ? &ext->u.items[i] : NULL;
            if (e && e->type == FL_JSON_NULL) e = NULL;
            fl_rc rc = emit_value(c, &v->u.items[i], e, ftype, b);
            if (rc) return rc;
        }
        return FL_OK;
    }
    if (!v && ext && ext->type == FL_JSON_ARRAY) {
        /* "_given": [...] without "given": one value-less item per extension entry */
        for (uint32_t i = 0; i < ext->len; i++) {
            fl_rc rc = emit_value(c, NULL, &ext->u.items[i], ftype, b);
            if (rc) return rc;
        }
        return FL_OK;
    }
    if (!v || v->type == FL_JSON_NULL) {
        if (!ext || ext->type != FL_JSON_OBJECT) return FL_OK;
        fl_fp_item it;
        memset(&it, 0, sizeof it);
        it.kind = FL_FP_NODE;
        it.flags_ = FPF_NOVALUE;
        it.v.node = ext;
        it.ext = ext;
        it.ftype = ftype;
        return fhirpath_cb_push(c, b, &it);
    }
    fl_fp_item it = fp_item_from_json(v, ftype);
    if (!it.kind) return FL_OK;
    if (ext && ext->type == FL_JSON_OBJECT) it.ext = ext;
    return fhirpath_cb_push(c, b, &it);
}

fl_rc fhirpath_member(fp_ctx *c, const fl_fp_item *it, fl_str name, fp_cb *b)
{
    return fhirpath_member_memo(c, it, name, NULL, b);
}

/* Element type of `name` under `parent`, through the node's one-entry memo. */
static uint16_t child_type(uint16_t parent, fl_str name, _Atomic uint32_t *memo)
{
    if (!parent) return fp_type_child(0, name);
    if (memo) {
        uint32_t m = atomic_load_explicit(memo, memory_order_relaxed);
        if (m && (uint16_t)(m >> 16) == parent) return (uint16_t)(m & 0xFFFF);
    }
    uint16_t t = fp_type_child(parent, name);
    if (memo) atomic_store_explicit(memo, ((uint32_t)parent << 16) | t, memory_order_relaxed);
    return t;
}

fl_rc fhirpath_member_memo(fp_ctx *c, const fl_fp_item *it, fl_str name, _Atomic uint32_t *memo, fp_cb *b)
{
    const fl_json_val *obj;
    if (it->kind == FL_FP_NODE) {
        obj = it->v.node;
    } else if (it->ext) {
        obj = it->ext; /* primitive: only id/extension live in "_name" */
        if (!fl_str_eq_c(name, "extension") && !fl_str_eq_c(name, "id")) return FL_OK;
    } else {
        return FL_OK;
    }
    if (!obj || obj->type != FL_JSON_OBJECT) return FL_OK;
    const fl_json_val *val = NULL, *ext = NULL, *choice = NULL, *choice_ext = NULL;
    fl_str choice_suffix = FL_STR_NULL;
    if (name.len == 0) return FL_OK;
    const char first = name.ptr[0];
    for (uint32_t i = 0; i < obj->len; i++) {
        fl_str k = obj->u.members[i].key;
        if (k.len < name.len) continue;
        /* cheap first-byte tests before any memcmp: most keys differ at once */
        if (k.ptr[0] == first) {
            if (memcmp(k.ptr, name.ptr, name.len) != 0) continue;
            if (k.len == name.len) {
                val = &obj->u.members[i].val;
            } else if (k.ptr[name.len] >= 'A' && k.ptr[name.len] <= 'Z') {
                choice = &obj->u.members[i].val;
                choice_suffix = fl_str_make(k.ptr + name.len, k.len - name.len);
            }
        } else if (k.ptr[0] == '_' && k.len > name.len && k.ptr[1] == first &&
                   memcmp(k.ptr + 1, name.ptr, name.len) == 0) {
            if (k.len == name.len + 1) ext = &obj->u.members[i].val;
            else if (k.ptr[name.len + 1] >= 'A' && k.ptr[name.len + 1] <= 'Z') choice_ext = &obj->u.members[i].val;
        }
    }
    if (val || ext) {
        uint16_t ft = child_type(item_ftype(it), name, memo);
        return emit_value(c, val, ext, ft, b);
    }
    if (!choice && !choice_ext) return FL_OK;
    /* choice element: emit every valueX present (normally one), each with its _valueX */
    for (uint32_t i = 0; i < obj->len; i++) {
        fl_str k = obj->u.members[i].key;
        bool under = k.len > name.len + 1 && k.ptr[0] == '_';
        fl_str kk = under ? fl_str_make(k.ptr + 1, k.len - 1) : k;
        if (kk.len <= name.len || kk.ptr[name.len] < 'A' || kk.ptr[name.len] > 'Z' ||
            memcmp(kk.ptr, name.ptr, name.len) != 0)
            continue;
        fl_str suffix = fl_str_make(kk.ptr + name.len, kk.len - name.len);
        const fl_json_val *v = NULL, *e = NULL;
        if (under) {
            /* "_valueX" alone (no value): only when there is no "valueX" */
            if (fl_json_get(obj, kk)) continue;
            e = &obj->u.members[i].val;
        } else {
            v = &obj->u.members[i].val;
            char ek[128];
            if (kk.len + 1 < sizeof ek) {
                ek[0] = '_';
                memcpy(ek + 1, kk.ptr, kk.len);
                e = fl_json_get(obj, fl_str_make(ek, kk.len + 1));
            }
        }
        fl_rc rc = emit_value(c, v, e, choice_type(suffix), b);
        if (rc) return rc;
    }
    (void)choice_suffix;
    return FL_OK;
}

fl_rc fhirpath_children(fp_ctx *c, const fl_fp_item *it, fp_cb *b)
{
    if (it->kind != FL_FP_NODE || (it->flags_ & FPF_NOVALUE)) return FL_OK;
    const fl_json_val *obj = it->v.node;
    uint16_t pt = item_ftype(it);
    for (uint32_t i = 0; i < obj->len; i++) {
        fl_str k = obj->u.members[i].key;
        if (k.len && k.ptr[0] == '_') continue;
        if (fl_str_eq_c(k, "resourceType")) continue;
        const fl_json_val *v = &obj->u.members[i].val;
        uint16_t ft = fp_type_child(pt, k);
        fl_rc rc = emit_value(c, v, NULL, ft, b);
        if (rc) return rc;
    }
    return FL_OK;
}

/* ------------------------------------------------------------------ truth values */

fl_rc fl_fp_coll_truth(const fl_fp_coll *col, int *out, fl_err *err)
{
    if (col->len == 0) {
        *out = -1;
        return FL_OK;
    }
    if (col->len > 1) return fl_err_set(err, FL_E_FP_EVAL, "fhirpath: expected a single boolean, got %zu items", col->len);
    const fl_fp_item *it = &col->items[0];
    *out = it->kind == FL_FP_BOOL ? (it->v.b ? 1 : 0) : 1;
    return FL_OK;
}

static fl_rc truth(fp_ctx *c, const fp_node *n, fl_fp_coll col, int *out)
{
    if (col.len > 1) return fhirpath_fail(c, n, FL_E_FP_EVAL, "expected a single boolean, got %zu items", col.len);
    return fl_fp_coll_truth(&col, out, c->err);
}

/* ------------------------------------------------------------------ operators */

static fl_rc single(fp_ctx *c, const fp_node *n, fl_fp_coll col, const fl_fp_item **out)
{
    if (col.len == 0) {
        *out = NULL;
        return FL_OK;
    }
    if (col.len > 1) return fhirpath_fail(c, n, FL_E_FP_EVAL, "operand has %zu items, expected one", col.len);
    *out = &col.items[0];
    return FL_OK;
}

static fl_rc out_dec(fp_ctx *c, fp_dec d, fl_fp_coll *out)
{
    fl_str t = fp_dec_text(c->a, d);
    if (!t.ptr) return nomem(c);
    fl_fp_item it = fl_fp_item_dec(t);
    return fhirpath_out_item(c, &it, out);
}

static fl_rc out_qty(fp_ctx *c, fp_dec d, fl_str unit, uint32_t flags, fl_fp_coll *out)
{
    fl_str t = fp_dec_text(c->a, d);
    if (!t.ptr) return nomem(c);
    fl_fp_item it;
    memset(&it, 0, sizeof it);
    it.kind = FL_FP_QTY;
    it.v.q.value = t;
    it.v.q.unit = unit;
    it.flags_ = flags & FPF_CALUNIT;
    return fhirpath_out_item(c, &it, out);
}

/* Quantity pieces of a QTY item or a FHIR Quantity node. */
static bool qty_of(const fl_fp_item *it, fp_dec *v, fl_str *unit, uint32_t *flags)
{
    if (it->kind == FL_FP_QTY) {
        *unit = it->v.q.unit;
        *flags = it->flags_;
        return fp_dec_parse(it->v.q.value, v);
    }
    if (it->kind == FL_FP_NODE && !(it->flags_ & FPF_NOVALUE)) {
        const fl_json_val *val = fl_json_get_c(it->v.node, "value");
        const fl_json_val *code = fl_json_get_c(it->v.node, "code");
        if (!code) code = fl_json_get_c(it->v.node, "unit");
        if (!val || val->type != FL_JSON_NUMBER) return false;
        *unit = code ? fl_json_str(code) : FL_STR_NULL;
        *flags = 0;
        return fp_dec_parse(fl_json_str(val), v);
    }
    return false;
}

static fl_rc arith(fp_ctx *c, const fp_node *n, fl_fp_coll l, fl_fp_coll r, fl_fp_coll *out)
{
    fl_rc rc;
    const fl_fp_item *a = NULL, *b = NULL;
    out->len = 0;
    if (n->op == FPN_CONCAT) {
        if (l.len > 1 || r.len > 1) return fhirpath_fail(c, n, FL_E_FP_EVAL, "'&' needs single strings");
        fl_str x = FL_STR(""), y = FL_STR("");
        if (l.len && !fp_item_string(c->a, &l.items[0], &x)) return fhirpath_fail(c, n, FL_E_FP_EVAL, "'&' needs strings");
        if (r.len && !fp_item_string(c->a, &r.items[0], &y)) return fhirpath_fail(c, n, FL_E_FP_EVAL, "'&' needs strings");
        char *s = fl_arena_alloc(c->a, x.len + y.len + 1);
        if (!s) return nomem(c);
        if (x.len) memcpy(s, x.ptr, x.len);
        if (y.len) memcpy(s + x.len, y.ptr, y.len);
        fl_fp_item it = fl_fp_item_str(fl_str_make(s, x.len + y.len));
        return fhirpath_out_item(c, &it, out);
    }
    if ((rc = single(c, n, l, &a)) || (rc = single(c, n, r, &b))) return rc;
    if (!a || !b) return FL_OK;
    uint8_t ka = a->kind, kb = b->kind;
    /* strings */
    if (ka == FL_FP_STR && kb == FL_FP_STR) {
        if (n->op != FPN_ADD) return fhirpath_fail(c, n, FL_E_FP_EVAL, "operator not defined for strings");
        char *s = fl_arena_alloc(c->a, a->v.s.len + b->v.s.len + 1);
        if (!s) return nomem(c);
        if (a->v.s.len) memcpy(s, a->v.s.ptr, a->v.s.len);
        if (b->v.s.len) memcpy(s + a->v.s.len, b->v.s.ptr, b->v.s.len);
        fl_fp_item it = fl_fp_item_str(fl_str_make(s, a->v.s.len + b->v.s.len));
        return fhirpath_out_item(c, &it, out);
    }
    /* integers */
    if (ka == FL_FP_INT && kb == FL_FP_INT && n->op != FPN_DIV) {
        int64_t x = a->v.i, y = b->v.i, z = 0;
        bool ovf = false;
        switch (n->op) {
        case FPN_ADD: ovf = __builtin_add_overflow(x, y, &z); break;
        case FPN_SUB: ovf = __builtin_sub_overflow(x, y, &z); break;
        case FPN_MUL: ovf = __builtin_mul_overflow(x, y, &z); break;
        case FPN_IDIV:
            if (y == 0) return FL_OK;
            if (x == INT64_MIN && y == -1) ovf = true;
            else z = x / y;
            break;
        case FPN_MOD:
            if (y == 0) return FL_OK;
            z = (y == -1) ? 0 : x % y;
            break;
        default: break;
        }
        if (ovf) return FL_OK; /* overflow yields empty */
        fl_fp_item it = fl_fp_item_int(z);
        return fhirpath_out_item(c, &it, out);
    }
    /* decimals */
    if ((ka == FL_FP_INT || ka == FL_FP_DEC) && (kb == FL_FP_INT || kb == FL_FP_DEC)) {
        fp_dec x, y, z;
        if (!fp_item_dec(a, &x) || !fp_item_dec(b, &y)) return fhirpath_fail(c, n, FL_E_FP_EVAL, "bad decimal");
        bool ok = true;
        switch (n->op) {
        case FPN_ADD: ok = fp_dec_add(x, y, &z); break;
        case FPN_SUB: ok = fp_dec_sub(x, y, &z); break;
        case FPN_MUL: ok = fp_dec_mul(x, y, &z); break;
        case FPN_DIV:
            if (y.m == 0) return FL_OK;
            ok = fp_dec_div(x, y, &z);
            break;
        case FPN_IDIV: {
            if (y.m == 0) return FL_OK;
            fp_dec q;
            ok = fp_dec_div(x, y, &q) && fp_dec_rescale(q, 0, 3, &q);
            int64_t iv;
            if (!ok || !fp_dec_to_i64(q, &iv)) return FL_OK;
            fl_fp_item it = fl_fp_item_int(iv);
            return fhirpath_out_item(c, &it, out);
        }
        case FPN_MOD: {
            if (y.m == 0) return FL_OK;
            fp_dec q, t;
            ok = fp_dec_div(x, y, &q) && fp_dec_rescale(q, 0, 3, &q) && fp_dec_mul(q, y, &t) && fp_dec_sub(x, t, &z);
            break;
        }
        default: ok = false; break;
        }
        if (!ok) return FL_OK;
        return out_dec(c, z, out);
    }
    /* date/time +/- quantity */
    if ((ka == FL_FP_DATE || ka == FL_FP_DATETIME || ka == FL_FP_TIME ||
         (ka == FL_FP_STR && a->src)) && (n->op == FPN_ADD || n->op == FPN_SUB)) {
        fp_dec v;
        fl_str unit;
        uint32_t fl;
        if (!qty_of(b, &v, &unit, &fl)) return fhirpath_fail(c, n, FL_E_FP_EVAL, "date/time arithmetic needs a quantity");
        fp_dt d;
        fl_fp_kind k;
        if (!fp_item_temporal(a, (fl_fp_kind)ka, &d, &k)) return fhirpath_fail(c, n, FL_E_FP_EVAL, "bad date/time");
        fl_str cal = fp_cal_unit(unit);
        if (!(fl & FPF_CALUNIT) && (fl_str_eq_c(unit, "a") || fl_str_eq_c(unit, "mo")))
            return fhirpath_fail(c, n, FL_E_FP_EVAL, "calendar arithmetic needs 'year'/'month', not UCUM '" FL_STR_FMT "'", FL_STR_ARG(unit));
        (void)cal;
        if (!fp_dt_add(&d, v, unit, n->op == FPN_SUB))
            return fhirpath_fail(c, n, FL_E_FP_EVAL, "cannot add '" FL_STR_FMT "' to a date/time (unit not supported, or the result is outside years 1-9999)", FL_STR_ARG(unit));
        return fpf_out_dt(c, &d, k, out);
    }
    /* quantities */
    fp_dec qa, qb;
    fl_str ua, ub;
    uint32_t fa, fb;
    bool aq = qty_of(a, &qa, &ua, &fa), bq = qty_of(b, &qb, &ub, &fb);
    if (aq || bq) {
        if (!aq) {
            if (!fp_item_dec(a, &qa)) return fhirpath_fail(c, n, FL_E_FP_EVAL, "bad quantity operand");
            ua = FL_STR("1");
            fa = 0;
        }
        if (!bq) {
            if (!fp_item_dec(b, &qb)) return fhirpath_fail(c, n, FL_E_FP_EVAL, "bad quantity operand");
            ub = FL_STR("1");
            fb = 0;
        }
        fp_dec z;
        if (n->op == FPN_ADD || n->op == FPN_SUB) {
            if (!fl_str_eq(ua, ub)) {
                fp_dec ca, cb;
                fl_str cua, cub;
                if (!fp_qty_canon(c->a, qa, ua, &ca, &cua) || !fp_qty_canon(c->a, qb, ub, &cb, &cub) || !fl_str_eq(cua, cub))
                    return FL_OK;
                qa = ca;
                qb = cb;
                ua = cua;
                fa = 0;
            }
            if (!(n->op == FPN_ADD ? fp_dec_add(qa, qb, &z) : fp_dec_sub(qa, qb, &z))) return FL_OK;
            return out_qty(c, z, ua, fa, out);
        }
        if (n->op == FPN_MUL || n->op == FPN_DIV) {
            fp_dec ca, cb;
            fl_str cua, cub;
            if (!fp_qty_canon(c->a, qa, ua, &ca, &cua) || !fp_qty_canon(c->a, qb, ub, &cb, &cub)) return FL_OK;
            if (n->op == FPN_DIV && cb.m == 0) return FL_OK;
            if (!(n->op == FPN_MUL ? fp_dec_mul(ca, cb, &z) : fp_dec_div(ca, cb, &z))) return FL_OK;
            /* combine canonical units */
            char *u;
            if (fl_str_eq_c(cub, "1")) u = fl_arena_printf(c->a, FL_STR_FMT, FL_STR_ARG(cua));
            else if (fl_str_eq_c(cua, "1") && n->op == FPN_MUL) u = fl_arena_printf(c->a, FL_STR_FMT, FL_STR_ARG(cub));
            else u = fl_arena_printf(c->a, FL_STR_FMT "%c" FL_STR_FMT, FL_STR_ARG(cua), n->op == FPN_MUL ? '.' : '/', FL_STR_ARG(cub));
            if (!u) return nomem(c);
            fp_dec cz;
            fl_str cu;
            if (fp_qty_canon(c->a, z, fl_str_c(u), &cz, &cu)) return out_qty(c, cz, cu, 0, out);
            return out_qty(c, z, fl_str_c(u), 0, out);
        }
        return fhirpath_fail(c, n, FL_E_FP_EVAL, "operator not defined for quantities");
    }
    return fhirpath_fail(c, n, FL_E_FP_EVAL, "operator not defined for %s and %s", fl_fp_item_type_name(a),
                         fl_fp_item_type_name(b));
}

static bool coll_has(const fl_fp_coll *col, const fl_fp_item *it)
{
    for (size_t i = 0; i < col->len; i++)
        if (fp_item_eq(&col->items[i], it) == 1) return true;
    return false;
}

static fl_rc eq_op(fp_ctx *c, const fp_node *n, fl_fp_coll l, fl_fp_coll r, fl_fp_coll *out)
{
    out->len = 0;
    bool neg = n->op == FPN_NE || n->op == FPN_NEQUIV;
    if (n->op == FPN_EQUIV || n->op == FPN_NEQUIV) {
        bool eq = true;
        fl_rc prc = fpf_pairs_ok(c, n, l.len, r.len);
        if (prc) return prc;
        if (l.len != r.len) {
            eq = false;
        } else {
            /* order-independent matching */
            bool *used = l.len ? fl_arena_calloc(c->a, l.len, sizeof *used) : NULL;
            if (l.len && !used) return nomem(c);
            for (size_t i = 0; i < l.len && eq; i++) {
                bool found = false;
                for (size_t j = 0; j < r.len; j++) {
                    if (!used[j] && fp_item_equiv(&l.items[i], &r.items[j])) {
                        used[j] = true;
                        found = true;
                        break;
                    }
                }
                eq = found;
            }
        }
        return fhirpath_out_bool(c, neg ? !eq : eq, out);
    }
    if (l.len == 0 || r.len == 0) return FL_OK;
    if (l.len != r.len) return fhirpath_out_bool(c, neg, out);
    for (size_t i = 0; i < l.len; i++) {
        int e = fp_item_eq(&l.items[i], &r.items[i]);
        if (e < 0) return FL_OK;
        if (e == 0) return fhirpath_out_bool(c, neg, out);
    }
    return fhirpath_out_bool(c, !neg, out);
}

static fl_rc cmp_op(fp_ctx *c, const fp_node *n, fl_fp_coll l, fl_fp_coll r, fl_fp_coll *out)
{
    fl_rc rc;
    const fl_fp_item *a = NULL, *b = NULL;
    out->len = 0;
    if ((rc = single(c, n, l, &a)) || (rc = single(c, n, r, &b))) return rc;
    if (!a || !b) return FL_OK;
    int cmp = 0;
    int k = fp_item_cmp(a, b, &cmp);
    if (k < 0)
        return fhirpath_fail(c, n, FL_E_FP_EVAL, "cannot compare %s with %s", fl_fp_item_type_name(a), fl_fp_item_type_name(b));
    if (k == 0) return FL_OK;
    bool v = n->op == FPN_LT ? cmp < 0 : n->op == FPN_LE ? cmp <= 0 : n->op == FPN_GT ? cmp > 0 : cmp >= 0;
    return fhirpath_out_bool(c, v, out);
}

static fl_rc union_op(fp_ctx *c, const fp_node *n, fl_fp_coll l, fl_fp_coll r, fl_fp_coll *out)
{
    fl_rc prc = fpf_pairs_ok(c, n, l.len + r.len, l.len + r.len);
    if (prc) return prc;
    fp_cb b = {0};
    for (int side = 0; side < 2; side++) {
        fl_fp_coll src = side ? r : l;
        for (size_t i = 0; i < src.len; i++) {
            fl_fp_coll cur = fhirpath_cb_coll(&b);
            if (coll_has(&cur, &src.items[i])) continue;
            fl_rc rc = fhirpath_cb_push(c, &b, &src.items[i]);
            if (rc) return rc;
        }
    }
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

static fl_rc logic_op(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll *out)
{
    fl_rc rc;
    fl_fp_coll l, r;
    int a = -1, b = -1;
    out->len = 0;
    if ((rc = fhirpath_eval_node(c, n->left, s, &l)) || (rc = truth(c, n->left, l, &a))) return rc;
    /* short-circuit where the answer is already known */
    if (n->op == FPN_AND && a == 0) return fhirpath_out_bool(c, false, out);
    if (n->op == FPN_OR && a == 1) return fhirpath_out_bool(c, true, out);
    if (n->op == FPN_IMPLIES && a == 0) return fhirpath_out_bool(c, true, out);
    if ((rc = fhirpath_eval_node(c, n->right, s, &r)) || (rc = truth(c, n->right, r, &b))) return rc;
    int v = -1;
    switch (n->op) {
    case FPN_AND: v = (a == 1 && b == 1) ? 1 : (b == 0) ? 0 : -1; break;
    case FPN_OR: v = (b == 1) ? 1 : (a == 0 && b == 0) ? 0 : -1; break;
    case FPN_XOR: v = (a < 0 || b < 0) ? -1 : (a != b); break;
    case FPN_IMPLIES: v = (b == 1) ? 1 : (a == 1 && b == 0) ? 0 : -1; break;
    default: break;
    }
    if (v < 0) return FL_OK;
    return fhirpath_out_bool(c, v == 1, out);
}

/* ------------------------------------------------------------------ the walk */

static fl_rc eval_member(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll *out)
{
    fl_rc rc;
    fl_fp_coll in;
    if (n->left) {
        if ((rc = fhirpath_eval_node(c, n->left, s, &in))) return rc;
    } else {
        in = s->this_;
        /* a leading type name ("Patient.name") filters the context by its type */
        if (n->slot) {
            uint16_t tid = (uint16_t)n->slot; /* resolved by the parser */
            if (tid && (fp_type_is_resource(tid) || !fp_type_kind(tid))) {
                fp_cb b = {0};
                bool any_res = false;
                for (size_t i = 0; i < in.len; i++) {
                    uint16_t ft = item_ftype(&in.items[i]);
                    if (fp_type_is_resource(ft)) any_res = true;
                    if (ft && fp_type_derives(ft, tid)) {
                        if ((rc = fhirpath_cb_push(c, &b, &in.items[i]))) return rc;
                    }
                }
                if (b.len || (any_res && fp_type_is_resource(tid))) {
                    if (!b.len)
                        return fhirpath_fail(c, n, FL_E_FP_EVAL, "expression is for " FL_STR_FMT " but the input is %s",
                                             FL_STR_ARG(n->name), fl_fp_item_type_name(&in.items[0]));
                    *out = fhirpath_cb_coll(&b);
                    return FL_OK;
                }
            }
        }
    }
    fp_cb b = {0};
    for (size_t i = 0; i < in.len; i++) {
        if ((rc = fhirpath_member_memo(c, &in.items[i], n->name, (_Atomic uint32_t *)(uintptr_t)&n->type_memo, &b)))
            return rc;
    }
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

fl_rc fhirpath_eval_node(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll *out)
{
    fl_rc rc = FL_OK;
    fl_fp_coll l, r;
    out->items = NULL;
    out->len = 0;
    if (++c->depth > FL_FP_MAX_AST_DEPTH * 4) {
        c->depth--;
        return fhirpath_fail(c, n, FL_E_LIMIT, "evaluation nested too deep");
    }
    fp_binding *vars0 = c->vars;
    switch ((fp_op)n->op) {
    case FPN_DEFVAR: {
        const fp_binding *b = c->vars;
        while (b && !fl_str_eq(b->name, n->name)) b = b->next;
        if (!b) rc = fhirpath_fail(c, n, FL_E_FP_EVAL, "variable '%%" FL_STR_FMT "' is not defined here", FL_STR_ARG(n->name));
        else *out = b->val;
        break;
    }
    case FPN_LIT: /* literals live in the program; results never write to items */
        out->items = (fl_fp_item *)(uintptr_t)&n->lit;
        out->len = 1;
        break;
    case FPN_EMPTY: break;
    case FPN_MEMBER: rc = eval_member(c, n, s, out); break;
    case FPN_CALL:
        if (n->left) {
            if ((rc = fhirpath_eval_node(c, n->left, s, &l))) break;
        } else {
            l = s->this_;
        }
        rc = n->fn->impl(c, n, s, l, out);
        break;
    case FPN_INDEX: {
        if ((rc = fhirpath_eval_node(c, n->left, s, &l)) || (rc = fhirpath_eval_node(c, n->right, s, &r))) break;
        if (r.len == 0) break;
        if (r.len != 1 || r.items[0].kind != FL_FP_INT) {
            rc = fhirpath_fail(c, n, FL_E_FP_EVAL, "index must be a single integer");
            break;
        }
        int64_t ix = r.items[0].v.i;
        if (ix >= 0 && (uint64_t)ix < l.len) {
            out->items = &l.items[ix];
            out->len = 1;
        }
        break;
    }
    case FPN_NEG: {
        if ((rc = fhirpath_eval_node(c, n->left, s, &l))) break;
        if (l.len == 0) break;
        if (l.len > 1) {
            rc = fhirpath_fail(c, n, FL_E_FP_EVAL, "unary '-' on %zu items", l.len);
            break;
        }
        fl_fp_item it = l.items[0];
        if (it.kind == FL_FP_INT) {
            if (it.v.i == INT64_MIN) break;
            it.v.i = -it.v.i;
        } else if (it.kind == FL_FP_DEC || it.kind == FL_FP_QTY) {
            fp_dec d;
            if (!fp_dec_parse(it.kind == FL_FP_DEC ? it.v.s : it.v.q.value, &d)) break;
            d.m = -d.m;
            fl_str t = fp_dec_text(c->a, d);
            if (!t.ptr) {
                rc = nomem(c);
                break;
            }
            if (it.kind == FL_FP_DEC) it.v.s = t;
            else it.v.q.value = t;
        } else {
            rc = fhirpath_fail(c, n, FL_E_FP_EVAL, "unary '-' needs a number, got %s", fl_fp_item_type_name(&it));
            break;
        }
        it.src = NULL;
        it.ftype = 0;
        rc = fhirpath_out_item(c, &it, out);
        break;
    }
    case FPN_THIS: *out = s->this_; break;
    case FPN_INDEXVAR: {
        fl_fp_item it = fl_fp_item_int(s->index);
        rc = fhirpath_out_item(c, &it, out);
        break;
    }
    case FPN_TOTAL:
        if (s->total) *out = *s->total;
        break;
    case FPN_VAR:
        if (!c->env || !c->env->vars || n->slot >= c->env->nvars) {
            rc = fhirpath_fail(c, n, FL_E_FP_EVAL, "variable '%%" FL_STR_FMT "' has no value", FL_STR_ARG(n->name));
            break;
        }
        *out = c->env->vars[n->slot];
        break;
    case FPN_CTXVAR:
        if (n->slot == 0 || !c->resource) {
            *out = c->context;
        } else {
            fl_fp_item it = fl_fp_item_from_json(c->resource, NULL);
            rc = fhirpath_out_item(c, &it, out);
        }
        break;
    case FPN_IS:
    case FPN_AS: {
        if ((rc = fhirpath_eval_node(c, n->left, s, &l))) break;
        if (l.len == 0) break;
        if (l.len > 1) {
            rc = fhirpath_fail(c, n, FL_E_FP_EVAL, "'%s' needs a single item, got %zu", n->op == FPN_IS ? "is" : "as", l.len);
            break;
        }
        int k = fp_item_is(&l.items[0], &n->type, n->op == FPN_AS);
        if (k < 0) {
            rc = fhirpath_fail(c, n, FL_E_FP_EVAL, "unknown type '" FL_STR_FMT "'", FL_STR_ARG(n->type.name));
            break;
        }
        if (n->op == FPN_IS) rc = fhirpath_out_bool(c, k == 1, out);
        else if (k == 1) *out = l;
        break;
    }
    case FPN_AND:
    case FPN_OR:
    case FPN_XOR:
    case FPN_IMPLIES: rc = logic_op(c, n, s, out); break;
    default:
        if ((rc = fhirpath_eval_node(c, n->left, s, &l)) || (rc = fhirpath_eval_node(c, n->right, s, &r))) break;
        switch ((fp_op)n->op) {
        case FPN_EQ:
        case FPN_NE:
        case FPN_EQUIV:
        case FPN_NEQUIV: rc = eq_op(c, n, l, r, out); break;
        case FPN_LT:
        case FPN_LE:
        case FPN_GT:
        case FPN_GE: rc = cmp_op(c, n, l, r, out); break;
        case FPN_UNION: rc = union_op(c, n, l, r, out); break;
        case FPN_IN:
        case FPN_CONTAINS: {
            fl_fp_coll item = n->op == FPN_IN ? l : r, set = n->op == FPN_IN ? r : l;
            if (item.len == 0) break;
            if (item.len > 1) {
                rc = fhirpath_fail(c, n, FL_E_FP_EVAL, "'%s' needs a single item", n->op == FPN_IN ? "in" : "contains");
                break;
            }
            rc = fhirpath_out_bool(c, coll_has(&set, &item.items[0]), out);
            break;
        }
        default: rc = arith(c, n, l, r, out); break;
        }
        break;
    }
    if (n->restore_vars) c->vars = vars0;
    c->depth--;
    return rc;
}
