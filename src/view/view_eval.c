/* view_eval.c - runs a compiled plan over one resource (module view).
 * Each select structure produces a set of full-width rows in the ctx arena: its own
 * columns (one row per iteration item) cross-joined with each nested select and with the
 * concatenation of its unionAll branches. forEachOrNull without items evaluates the
 * structure once over an empty object with %rowIndex 0 (as the reference runner does).
 * Rows are committed to the batch only when the whole resource succeeded.
 * Memory per resource is bounded by opts.max_rows and opts.arena_limit. */
#include "view/view_int.h"

#include "fhirlake/os.h"

typedef struct rowset {
    view_cell *cells; /* n rows of plan->ncols cells */
    size_t n, cap;
} rowset;

static fl_rc oom(fl_err *err)
{
    return fl_err_set(err, FL_E_NOMEM, "out of evaluation memory (arena limit)");
}

fl_rc fl_view_ctx_new(const fl_view_plan *plan, fl_view_ctx **out, fl_err *err)
{
    *out = NULL;
    fl_view_ctx *ctx = fl_calloc(1, sizeof *ctx);
    if (!ctx) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    ctx->plan = plan;
    fl_arena_init(&ctx->arena, 0, plan->opts.arena_limit);
    ctx->vars = fl_calloc(plan->nvars, sizeof *ctx->vars);
    ctx->hints = fl_calloc(plan->nhints ? plan->nhints : 1, sizeof *ctx->hints);
    if (!ctx->vars || !ctx->hints) {
        fl_free(ctx->vars);
        fl_free(ctx->hints);
        fl_free(ctx);
        return fl_err_set(err, FL_E_NOMEM, "out of memory");
    }
    for (uint32_t i = 1; i < plan->nvars; i++) ctx->vars[i] = plan->var_vals[i];
    ctx->resource_len = strlen(plan->resource);
    ctx->row_item = fl_fp_item_int(0);
    ctx->vars[0] = fl_fp_coll_one(&ctx->row_item);
    ctx->env.vars = ctx->vars;
    ctx->env.nvars = plan->nvars;
    ctx->empty_obj.type = FL_JSON_OBJECT;
    ctx->empty_obj.len = 0;
    ctx->empty_obj.u.members = NULL;
    /* The root item depends only on the resource type, which eval_resource checks first:
     * build it once from a probe instead of looking the type name up per resource. */
    fl_json_member probe_m = {FL_STR("resourceType"), {FL_JSON_STRING, 0, 0, 0, {plan->resource}}};
    probe_m.val.len = (uint32_t)strlen(plan->resource);
    fl_json_val probe = {FL_JSON_OBJECT, 0, 0, 1, {NULL}};
    probe.u.members = &probe_m;
    ctx->root_tmpl = fl_fp_item_from_json(&probe, plan->resource);
    ctx->root_tmpl_ok = ctx->root_tmpl.kind == FL_FP_NODE && ctx->root_tmpl.src == &probe &&
                        ctx->root_tmpl.v.node == &probe && !ctx->root_tmpl.ext;
    *out = ctx;
    return FL_OK;
}

void fl_view_ctx_free(fl_view_ctx *ctx)
{
    if (!ctx) return;
    fl_arena_fini(&ctx->arena);
    fl_free(ctx->vars);
    fl_free(ctx->hints);
    fl_free(ctx);
}

bool fl_view_ctx_last_skipped(const fl_view_ctx *ctx) { return ctx->skipped; }

/* ------------------------------------------------------------------ rows */

static fl_rc rows_reserve(fl_view_ctx *ctx, rowset *rs, size_t n, fl_err *err)
{
    size_t w = ctx->plan->ncols ? ctx->plan->ncols : 1;
    if (n <= rs->cap) return FL_OK;
    if (n > ctx->plan->opts.max_rows)
        return fl_err_set(err, FL_E_LIMIT, "resource produces more than %zu rows (limit)",
                          ctx->plan->opts.max_rows);
    size_t cap = rs->cap ? rs->cap * 2 : 4;
    if (cap < n) cap = n;
    if (cap > ctx->plan->opts.max_rows) cap = ctx->plan->opts.max_rows;
    size_t bytes;
    if (fl_mul_overflows(cap, w * sizeof(view_cell), &bytes)) return oom(err);
    view_cell *cells = fl_arena_alloc(&ctx->arena, bytes);
    if (!cells) return oom(err);
    if (rs->n) memcpy(cells, rs->cells, rs->n * w * sizeof(view_cell));
    rs->cells = cells;
    rs->cap = cap;
    return FL_OK;
}

/* Append a fresh all-null row; returns it. */
static view_cell *rows_add(fl_view_ctx *ctx, rowset *rs, fl_err *err)
{
    size_t w = ctx->plan->ncols;
    if (rows_reserve(ctx, rs, rs->n + 1, err)) return NULL;
    view_cell *r = rs->cells + rs->n * w;
    memset(r, 0, w * sizeof *r);
    rs->n++;
    return r;
}

/* a := a x b, where b only fills columns [b0, b1). */
static fl_rc rows_cross(fl_view_ctx *ctx, rowset *a, const rowset *b, uint32_t b0, uint32_t b1,
                        fl_err *err)
{
    size_t w = ctx->plan->ncols;
    if (b->n == 0 || a->n == 0) {
        a->n = 0;
        return FL_OK;
    }
    if (b->n == 1) {
        for (size_t i = 0; i < a->n; i++)
            memcpy(a->cells + i * w + b0, b->cells + b0, (b1 - b0) * sizeof(view_cell));
        return FL_OK;
    }
    size_t n;
    if (fl_mul_overflows(a->n, b->n, &n) || n > ctx->plan->opts.max_rows)
        return fl_err_set(err, FL_E_LIMIT, "resource produces more than %zu rows (limit)",
                          ctx->plan->opts.max_rows);
    rowset out = {0};
    fl_rc rc = rows_reserve(ctx, &out, n, err);
    if (rc) return rc;
    for (size_t i = 0; i < a->n; i++) {
        for (size_t j = 0; j < b->n; j++) {
            view_cell *r = out.cells + out.n * w;
            memcpy(r, a->cells + i * w, w * sizeof *r);
            memcpy(r + b0, b->cells + j * w + b0, (b1 - b0) * sizeof *r);
            out.n++;
        }
    }
    *a = out;
    return FL_OK;
}

static fl_rc rows_concat(fl_view_ctx *ctx, rowset *a, const rowset *b, fl_err *err)
{
    size_t w = ctx->plan->ncols;
    if (!b->n) return FL_OK;
    if (!a->n) {
        *a = *b;
        return FL_OK;
    }
    fl_rc rc = rows_reserve(ctx, a, a->n + b->n, err);
    if (rc) return rc;
    memcpy(a->cells + a->n * w, b->cells, b->n * w * sizeof(view_cell));
    a->n += b->n;
    return FL_OK;
}

/* ------------------------------------------------------------------ evaluation */

/* Member-chain fast path: navigate the JSON DOM directly. Returns false (and the caller
 * runs the FHIRPath program) whenever the result could differ from FHIRPath's: input not
 * an object, a member missing (choice types, extension-only primitives), nulls. */
/* The item a column needs from a JSON value. For a column only the value matters (its
 * conversion reads the text, number or boolean), so strings stay plain strings and the
 * FHIR type lookup is skipped; objects (JSON text) go through fl_fp_item_from_json. */
static void column_item(fl_fp_item *it, const fl_json_val *x, const char *fhir_type)
{
    int64_t i;
    switch (x->type) {
    case FL_JSON_STRING:
    case FL_JSON_NUMBER:
    case FL_JSON_TRUE:
    case FL_JSON_FALSE: break;
    default: *it = fl_fp_item_from_json(x, fhir_type); return;
    }
    memset(it, 0, sizeof *it);
    it->src = x;
    if (x->type == FL_JSON_STRING) {
        it->kind = FL_FP_STR;
        it->v.s = fl_json_str(x);
    } else if (x->type == FL_JSON_NUMBER) {
        if ((x->flags & FL_JSON_F_INT) && fl_json_as_i64(x, &i)) {
            it->kind = FL_FP_INT;
            it->v.i = i;
        } else {
            it->kind = FL_FP_DEC;
            it->v.s = fl_json_str(x);
        }
    } else {
        it->kind = FL_FP_BOOL;
        it->v.b = x->type == FL_JSON_TRUE;
    }
}

/* fl_json_get with a position hint: FHIR resources of one kind mostly keep their members
 * in the same order, so the position found last time is tried first. */
/* Equal bytes; keys are short, so inline word compares beat a call to memcmp. */
static inline bool key_eq(const char *a, const char *b, size_t n) { return view_bytes_eq(a, b, n); }

static inline const fl_json_val *member_get(const fl_json_val *obj, fl_str key, uint32_t *hint)
{
    const fl_json_member *m = obj->u.members;
    uint32_t n = obj->len, h = *hint;
    if (h < n && m[h].key.len == key.len && key_eq(m[h].key.ptr, key.ptr, key.len)) return &m[h].val;
    for (uint32_t i = 0; i < n; i++) {
        if (m[i].key.len == key.len && m[i].key.ptr[0] == key.ptr[0] &&
            key_eq(m[i].key.ptr, key.ptr, key.len)) {
            *hint = i;
            return &m[i].val;
        }
    }
    return NULL;
}

/* The item for an object reached by an iteration fast path. */
static inline void node_item(fl_fp_item *it, const view_fast *f, const fl_json_val *x)
{
    if (f->node_tmpl_ok && x->type == FL_JSON_OBJECT) {
        *it = f->node_tmpl;
        it->src = x;
        it->v.node = x;
    } else {
        *it = fl_fp_item_from_json(x, f->fhir_type);
    }
}

/* .where(key = 'want') on one object, as FHIRPath's where() decides it: 1 kept, 0 not
 * kept, -1 unsure (an extension "_key" or a choice "keyX" is present, the value is not a
 * string, or text that might be a date/time compared by value): use the program. */
static int fast_where(const fl_json_val *obj, fl_str key, fl_str want)
{
    const fl_json_val *val = NULL;
    for (uint32_t i = 0; i < obj->len; i++) {
        fl_str k = obj->u.members[i].key;
        if (k.len == key.len && key_eq(k.ptr, key.ptr, key.len)) {
            val = &obj->u.members[i].val;
        } else if (k.len > key.len &&
                   ((k.ptr[0] == '_' && key_eq(k.ptr + 1, key.ptr, key.len)) ||
                    (key_eq(k.ptr, key.ptr, key.len) && k.ptr[key.len] >= 'A' && k.ptr[key.len] <= 'Z'))) {
            return -1;
        }
    }
    if (!val) return 0;
    if (val->type != FL_JSON_STRING) return -1;
    fl_str got = fl_json_str(val);
    if (got.len == want.len && key_eq(got.ptr, want.ptr, got.len)) return 1;
    if (got.len && got.ptr[0] >= '0' && got.ptr[0] <= '9') return -1;
    return 0;
}

/* The final values xs[0..n) as the result items, after the tail function. */
static bool fast_finish(fl_view_ctx *ctx, const view_fast *f, const fl_json_val *const *xs, size_t n,
                        bool for_column, fl_fp_coll *out)
{
    out->items = NULL;
    out->len = 0;
    if (f->tail == VIEW_FAST_JOIN) {
        /* join(): strings only (anything else is an error the program reports) */
        if (!for_column) return false;
        if (n == 0) return true;
        size_t total = 0;
        for (size_t i = 0; i < n; i++) {
            if (xs[i]->type != FL_JSON_STRING) return false;
            total += xs[i]->len + (i ? f->join_sep.len : 0);
        }
        if (total > ((size_t)1 << 26)) return false; /* over FHIRPath's string limit */
        fl_fp_item *it = fl_arena_alloc(&ctx->arena, sizeof *it);
        if (!it) return false;
        fl_str joined = fl_json_str(xs[0]);
        if (n > 1) {
            char *buf = fl_arena_alloc_aligned(&ctx->arena, total ? total : 1, 1);
            if (!buf) return false;
            size_t k = 0;
            for (size_t i = 0; i < n; i++) {
                if (i) {
                    view_copy(buf + k, f->join_sep.ptr, f->join_sep.len);
                    k += f->join_sep.len;
                }
                view_copy(buf + k, xs[i]->u.str, xs[i]->len);
                k += xs[i]->len;
            }
            joined = fl_str_make(buf, k);
        }
        *it = fl_fp_item_str(joined);
        out->items = it;
        out->len = 1;
        return true;
    }
    if (n == 0) return true;
    if (f->tail == VIEW_FAST_FIRST) n = 1;
    fl_fp_item *items = fl_arena_alloc(&ctx->arena, n * sizeof *items);
    if (!items) return false;
    for (size_t i = 0; i < n; i++) {
        const fl_json_val *x = xs[i];
        if (for_column) {
            if (!f->fhir_type && x->type == FL_JSON_OBJECT) return false;
            column_item(&items[i], x, f->fhir_type);
        } else {
            node_item(&items[i], f, x);
        }
        if (!items[i].kind) return false;
    }
    out->items = items;
    out->len = n;
    return true;
}

static bool fast_eval(fl_view_ctx *ctx, const view_fast *f, const fl_fp_item *input, bool for_column,
                      fl_fp_coll *out)
{
    if (input->kind != FL_FP_NODE || !fl_json_is_obj(input->v.node)) return false;
    const fl_json_val *first = input->v.node;
    if (f->resource_key) {
        /* getResourceKey(): the id of the input node when it is a string, else empty */
        if (!for_column) return false;
        const fl_json_val *id = member_get(first, FL_STR("id"), &ctx->id_hint);
        if (id && id->type == FL_JSON_STRING) return fast_finish(ctx, f, &id, 1, for_column, out);
        return fast_finish(ctx, f, NULL, 0, for_column, out);
    }
    if (for_column && f->nsegs == 1 && f->tail == VIEW_FAST_ALL && !f->filt_key[0].ptr) {
        /* the commonest column, one member holding one primitive ("gender", "city") */
        const fl_json_val *v = member_get(first, f->segs[0], &ctx->hints[f->hint_base]);
        if (!v) return false;
        if (v->type == FL_JSON_STRING || v->type == FL_JSON_NUMBER || v->type == FL_JSON_TRUE ||
            v->type == FL_JSON_FALSE) {
            fl_fp_item *it = fl_arena_alloc(&ctx->arena, sizeof *it);
            if (!it) return false;
            column_item(it, v, f->fhir_type);
            out->items = it;
            out->len = 1;
            return true;
        }
    }
    const fl_json_val *const *cur = &first;
    size_t ncur = 1;
    const fl_json_val *stack[16], *nbuf[2][16]; /* vals; next (alternating with cur) */
    unsigned flip = 0;
    for (uint32_t s = 0; s < f->nsegs; s++) {
        bool last = s + 1 == f->nsegs;
        /* one lookup per node; vals[i] is the member of cur[i] */
        const fl_json_val **vals = ncur <= 16 ? stack : fl_arena_alloc(&ctx->arena, ncur * sizeof *vals);
        if (!vals) return false;
        size_t cap = 0;
        for (size_t i = 0; i < ncur; i++) {
            const fl_json_val *v = member_get(cur[i], f->segs[s], &ctx->hints[f->hint_base + s]);
            if (!v || fl_json_is_null(v)) return false;
            vals[i] = v;
            cap += fl_json_is_arr(v) ? v->len : 1;
        }
        /* the values of this segment, arrays flattened */
        flip ^= 1u;
        const fl_json_val **next = cap <= 16 ? nbuf[flip] : fl_arena_alloc(&ctx->arena, cap * sizeof *next);
        if (!next) return false;
        size_t n = 0;
        bool filter = f->filt_key[s].ptr != NULL;
        for (size_t i = 0; i < ncur; i++) {
            const fl_json_val *v = vals[i];
            uint32_t k = fl_json_is_arr(v) ? v->len : 1;
            for (uint32_t j = 0; j < k; j++) {
                const fl_json_val *x = fl_json_is_arr(v) ? &v->u.items[j] : v;
                if (last && !filter ? (fl_json_is_null(x) || fl_json_is_arr(x)) : !fl_json_is_obj(x)) return false;
                if (filter) {
                    int m = fast_where(x, f->filt_key[s], f->filt_val[s]);
                    if (m < 0) return false;
                    if (!m) continue;
                }
                next[n++] = x;
            }
        }
        if (last) return fast_finish(ctx, f, next, n, for_column, out);
        if (!n) {
            if (!filter) return false;
            return fast_finish(ctx, f, NULL, 0, for_column, out); /* where() kept nothing */
        }
        cur = next;
        ncur = n;
    }
    return false;
}

static fl_rc eval_prog(fl_view_ctx *ctx, const fl_fp_prog *p, const fl_fp_item *input, int64_t row_index,
                       fl_fp_coll *out, fl_err *err)
{
    ctx->row_item.v.i = row_index;
    fl_fp_coll in = {(fl_fp_item *)input, 1};
    return fl_fp_eval_coll(p, in, &ctx->env, &ctx->arena, out, err);
}

/* A primitive element that carries only an extension (`"_gender": {...}` without
 * `"gender"`) reaches a column as an object of a primitive FHIR type: it has no value, so
 * it is dropped (a column holds values). The result may be shared storage, so a filtered
 * copy is made in the arena when something has to go. */
static bool valueless_primitive(const fl_fp_item *it)
{
    return it->kind == FL_FP_NODE && !fl_fp_item_has_value(it);
}

static fl_rc drop_valueless_slow(fl_view_ctx *ctx, fl_fp_coll *c, fl_err *err);

static inline fl_rc drop_valueless(fl_view_ctx *ctx, fl_fp_coll *c, fl_err *err)
{
    for (size_t i = 0; i < c->len; i++)
        if (c->items[i].kind == FL_FP_NODE) return drop_valueless_slow(ctx, c, err);
    return FL_OK; /* no objects: nothing can be value-less */
}

static fl_rc drop_valueless_slow(fl_view_ctx *ctx, fl_fp_coll *c, fl_err *err)
{
    size_t keep = 0;
    for (size_t i = 0; i < c->len; i++) keep += !valueless_primitive(&c->items[i]);
    if (keep == c->len) return FL_OK;
    fl_fp_item *items = keep ? fl_arena_alloc(&ctx->arena, keep * sizeof *items) : NULL;
    if (keep && !items) return oom(err);
    size_t n = 0;
    for (size_t i = 0; i < c->len; i++)
        if (!valueless_primitive(&c->items[i])) items[n++] = c->items[i];
    c->items = items;
    c->len = n;
    return FL_OK;
}

static fl_rc eval_column(fl_view_ctx *ctx, const view_cref *cr, const fl_fp_item *input,
                         int64_t row_index, view_cell *cell, fl_err *err)
{
    const fl_view_plan *plan = ctx->plan;
    const fl_view_col *col = &plan->cols[cr->out];
    const view_colinfo *info = &plan->info[cr->out];
    fl_fp_coll c;
    fl_rc rc = FL_OK;
    const view_fast *f = cr->fast;
    if (f && f->nsegs == 1 && f->tail == VIEW_FAST_ALL && !f->filt_key[0].ptr && !col->collection &&
        input->kind == FL_FP_NODE && fl_json_is_obj(input->v.node)) {
        /* One member holding one primitive ("gender", "city", "birthDate", "active"): the
         * value converted straight into the cell, as the path below would (no collection, no
         * second lookup in fast_eval); a JSON string into a string column, or into a date
         * column when it parses, needs no item either. A missing member, an object or an
         * array goes below. */
        const fl_json_val *v = member_get(input->v.node, f->segs[0], &ctx->hints[f->hint_base]);
        if (v && (v->type == FL_JSON_STRING || v->type == FL_JSON_NUMBER || v->type == FL_JSON_TRUE ||
                  v->type == FL_JSON_FALSE)) {
            cell->set = 1;
            if (v->type == FL_JSON_STRING) {
                fl_str sv = {v->u.str, v->len};
                int32_t d;
                if (col->type == FL_VIEW_STRING) {
                    cell->v.one.s = sv;
                    return FL_OK;
                }
                if (col->type == FL_VIEW_DATE && fl_view_parse_date(sv, &d)) {
                    cell->v.one.i = d;
                    return FL_OK;
                }
            }
            fl_fp_item it;
            column_item(&it, v, f->fhir_type);
            return view_convert(col, info, &it, &ctx->arena, &cell->v.one, err);
        }
    }
    if (!cr->fast || !fast_eval(ctx, cr->fast, input, true, &c))
        rc = eval_prog(ctx, cr->prog, input, row_index, &c, err);
    if (rc) {
        fl_err_prefix(err, "column '%s' (path '%s'): ", col->name, fl_fp_prog_expr(cr->prog));
        return rc;
    }
    if ((rc = drop_valueless(ctx, &c, err))) return rc;
    if (col->collection) {
        if (c.len > UINT32_MAX) return fl_err_set(err, FL_E_LIMIT, "column '%s': too many values", col->name);
        cell->set = 1;
        cell->n = (uint32_t)c.len;
        cell->v.items = c.len ? fl_arena_alloc(&ctx->arena, c.len * sizeof(view_val)) : NULL;
        if (c.len && !cell->v.items) return oom(err);
        for (size_t i = 0; i < c.len; i++)
            if ((rc = view_convert(col, info, &c.items[i], &ctx->arena, &cell->v.items[i], err))) return rc;
        return FL_OK;
    }
    if (c.len == 0) return FL_OK;
    if (c.len > 1)
        return fl_err_set(err, FL_E_VIEW_EVAL,
                          "column '%s': path '%s' returned %zu values; a column that is not "
                          "'collection: true' takes at most one",
                          col->name, fl_fp_prog_expr(cr->prog), c.len);
    cell->set = 1;
    return view_convert(col, info, &c.items[0], &ctx->arena, &cell->v.one, err);
}

static fl_rc eval_sel(fl_view_ctx *ctx, const view_sel *s, const fl_fp_item *input, int64_t row_index,
                      rowset *out, fl_err *err);


/* One iteration of a structure: own columns x nested selects x unionAll. */
static fl_rc eval_body(fl_view_ctx *ctx, const view_sel *s, const fl_fp_item *input, int64_t row_index,
                       rowset *out, fl_err *err)
{
    fl_rc rc;
    rowset rs = {0};
    view_cell *row = rows_add(ctx, &rs, err);
    if (!row) return err ? err->code : FL_E_NOMEM;
    for (uint32_t i = 0; i < s->ncols; i++)
        if ((rc = eval_column(ctx, &s->cols[i], input, row_index, &row[s->cols[i].out], err))) return rc;
    for (uint32_t i = 0; i < s->nsubs && rs.n; i++) {
        rowset sub = {0};
        if ((rc = eval_sel(ctx, s->subs[i], input, row_index, &sub, err))) return rc;
        if ((rc = rows_cross(ctx, &rs, &sub, s->subs[i]->col_begin, s->subs[i]->col_end, err))) return rc;
    }
    if (s->nunions && rs.n) {
        rowset u = {0};
        for (uint32_t i = 0; i < s->nunions; i++) {
            rowset br = {0};
            if ((rc = eval_sel(ctx, s->unions[i], input, row_index, &br, err))) return rc;
            if ((rc = rows_concat(ctx, &u, &br, err))) return rc;
        }
        if ((rc = rows_cross(ctx, &rs, &u, s->unions[0]->col_begin, s->unions[0]->col_end, err))) return rc;
    }
    *out = rs;
    return FL_OK;
}

typedef struct itemvec {
    fl_fp_item *items;
    size_t n, cap;
} itemvec;

static fl_rc itemvec_push(fl_view_ctx *ctx, itemvec *v, const fl_fp_item *it, fl_err *err)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        if (cap > ctx->plan->opts.max_rows) {
            if (v->n >= ctx->plan->opts.max_rows)
                return fl_err_set(err, FL_E_LIMIT, "repeat reaches more than %zu nodes (limit)",
                                  ctx->plan->opts.max_rows);
            cap = ctx->plan->opts.max_rows;
        }
        fl_fp_item *p = fl_arena_alloc(&ctx->arena, cap * sizeof *p);
        if (!p) return oom(err);
        if (v->n) memcpy(p, v->items, v->n * sizeof *p);
        v->items = p;
        v->cap = cap;
    }
    v->items[v->n++] = *it;
    return FL_OK;
}

/* Pre-order walk: every object reached through any repeat path, at any depth. */
static fl_rc repeat_walk(fl_view_ctx *ctx, const view_sel *s, const fl_fp_item *node, uint32_t depth,
                         itemvec *acc, fl_err *err)
{
    if (depth > ctx->plan->opts.max_repeat_depth)
        return fl_err_set(err, FL_E_LIMIT, "%s: repeat deeper than %u levels (limit)", s->where,
                          ctx->plan->opts.max_repeat_depth);
    for (uint32_t p = 0; p < s->niters; p++) {
        fl_fp_coll c;
        fl_rc rc = eval_prog(ctx, s->iters[p], node, 0, &c, err);
        if (rc) {
            fl_err_prefix(err, "%s: repeat path '%s': ", s->where, fl_fp_prog_expr(s->iters[p]));
            return rc;
        }
        for (size_t i = 0; i < c.len; i++) {
            if (c.items[i].kind != FL_FP_NODE) continue;
            if ((rc = itemvec_push(ctx, acc, &c.items[i], err))) return rc;
            if ((rc = repeat_walk(ctx, s, &c.items[i], depth + 1, acc, err))) return rc;
        }
    }
    return FL_OK;
}

static fl_rc eval_sel(fl_view_ctx *ctx, const view_sel *s, const fl_fp_item *input, int64_t row_index,
                      rowset *out, fl_err *err)
{
    fl_rc rc;
    out->n = 0;
    if (s->iter == VIEW_IT_NONE) return eval_body(ctx, s, input, row_index, out, err);
    fl_fp_coll items;
    if (s->iter == VIEW_IT_REPEAT) {
        itemvec acc = {0};
        if ((rc = repeat_walk(ctx, s, input, 1, &acc, err))) return rc;
        items.items = acc.items;
        items.len = acc.n;
    } else {
        if ((!s->iter_fast || !fast_eval(ctx, s->iter_fast, input, false, &items)) &&
            (rc = eval_prog(ctx, s->iters[0], input, row_index, &items, err))) {
            fl_err_prefix(err, "%s: %s '%s': ", s->where,
                          s->iter == VIEW_IT_FOREACH ? "forEach" : "forEachOrNull",
                          fl_fp_prog_expr(s->iters[0]));
            return rc;
        }
    }
    if (items.len == 0) {
        if (s->iter != VIEW_IT_FOREACH_OR_NULL) return FL_OK;
        fl_fp_item empty = fl_fp_item_from_json(&ctx->empty_obj, NULL);
        return eval_body(ctx, s, &empty, 0, out, err);
    }
    for (size_t i = 0; i < items.len; i++) {
        rowset one = {0};
        if ((rc = eval_body(ctx, s, &items.items[i], (int64_t)i, &one, err))) return rc;
        if ((rc = rows_concat(ctx, out, &one, err))) return rc;
    }
    return FL_OK;
}

/* ------------------------------------------------------------------ entry points */

static fl_rc eval_where(fl_view_ctx *ctx, bool *keep, fl_err *err)
{
    const fl_view_plan *plan = ctx->plan;
    *keep = true;
    for (uint32_t i = 0; i < plan->nwheres && *keep; i++) {
        fl_fp_coll c;
        fl_rc rc = eval_prog(ctx, plan->wheres[i], &ctx->root_item, 0, &c, err);
        if (rc) {
            fl_err_prefix(err, "where[%u] (path '%s'): ", i, plan->where_paths[i]);
            return rc;
        }
        if ((rc = drop_valueless(ctx, &c, err))) return rc;
        if (c.len == 0) {
            *keep = false;
        } else if (c.len == 1 && c.items[0].kind == FL_FP_BOOL) {
            *keep = c.items[0].v.b;
        } else {
            return fl_err_set(err, FL_E_VIEW_EVAL,
                              "where[%u]: path '%s' returned %zu value(s) of type %s; a where path "
                              "must return a single boolean",
                              i, plan->where_paths[i], c.len, fl_fp_item_type_name(&c.items[0]));
        }
    }
    return FL_OK;
}

static fl_rc eval_resource(fl_view_ctx *ctx, const fl_json_val *res, fl_view_batch *b, size_t *rows_added,
                           fl_err *err)
{
    const fl_view_plan *plan = ctx->plan;
    fl_rc rc;
    ctx->skipped = true;
    if (b->plan != plan) return fl_err_set(err, FL_E_ARG, "batch belongs to another view plan");
    if (!fl_json_is_obj(res)) return fl_err_set(err, FL_E_FHIR_INVALID, "resource is not a JSON object");
    fl_str rt = fl_json_str(member_get(res, FL_STR("resourceType"), &ctx->rt_hint));
    if (rt.len != ctx->resource_len || !key_eq(rt.ptr, plan->resource, rt.len)) return FL_OK;
    ctx->skipped = false;
    ctx->res = res;
    ctx->res_id = fl_json_str(member_get(res, FL_STR("id"), &ctx->id_hint));
    ctx->env.resource = res;
    /* now()/today(): one clock read per 256 resources (and fixed within a resource) */
    if ((ctx->nres++ & 255u) == 0) ctx->env.now_us = fl_clock_now_us();
    if (ctx->root_tmpl_ok) {
        ctx->root_item = ctx->root_tmpl;
        ctx->root_item.src = res;
        ctx->root_item.v.node = res;
    } else {
        ctx->root_item = fl_fp_item_from_json(res, plan->resource);
    }
    bool keep;
    rowset rs = {0};
    if ((rc = eval_where(ctx, &keep, err))) goto done;
    if (!keep) goto done;
    if ((rc = eval_sel(ctx, plan->root, &ctx->root_item, 0, &rs, err))) goto done;
    if ((rc = view_batch_append(b, rs.cells, rs.n, err))) goto done;
    if (rows_added) *rows_added = rs.n;
done:
    if (rc) fl_err_prefix(err, "%s/" FL_STR_FMT ": ", plan->resource, FL_STR_ARG(ctx->res_id));
    return rc;
}

fl_rc fl_view_eval(fl_view_ctx *ctx, const fl_json_val *res, fl_view_batch *b, size_t *rows_added,
                   fl_err *err)
{
    if (rows_added) *rows_added = 0;
    fl_arena_reset(&ctx->arena);
    return eval_resource(ctx, res, b, rows_added, err);
}

fl_rc fl_view_eval_text(fl_view_ctx *ctx, const char *text, size_t len, fl_view_batch *b,
                        size_t *rows_added, fl_err *err)
{
    if (rows_added) *rows_added = 0;
    fl_arena_reset(&ctx->arena);
    ctx->skipped = false;
    if (len > ctx->plan->opts.max_resource)
        return fl_err_set(err, FL_E_LIMIT, "resource is larger than %zu bytes (limit)",
                          ctx->plan->opts.max_resource);
    fl_json_opts jo = {.flags = 0, .max_depth = 0, .max_size = ctx->plan->opts.max_resource};
    fl_json_val *res = NULL;
    fl_rc rc = fl_json_parse(text, len, &jo, &ctx->arena, &res, NULL, err);
    if (rc) return rc;
    return eval_resource(ctx, res, b, rows_added, err);
}
