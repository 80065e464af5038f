/* view_batch.c - columnar batches filled by the view evaluator (module view).
 * One vector per column: a validity byte per row and typed values; collection columns
 * keep offsets (rows+1) into a child value array. String bytes live in the batch's own
 * arena, so a batch does not depend on the resources it was filled from.
 * Appends are all-or-nothing: on failure every length is restored. */
#include "view/view_int.h"

static fl_rc grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return FL_OK;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2) return FL_E_NOMEM;
        n *= 2;
    }
    size_t bytes;
    if (fl_mul_overflows(n, elem, &bytes)) return FL_E_NOMEM;
    void *q = fl_realloc(*p, bytes);
    if (!q) return FL_E_NOMEM;
    *p = q;
    *cap = n;
    return FL_OK;
}

/* Row-indexed arrays of every column must hold `rows` rows. */
static fl_rc reserve_rows(fl_view_batch *b, size_t rows)
{
    if (rows <= b->cap) return FL_OK;
    size_t cap = b->cap ? b->cap : 16;
    while (cap < rows) cap *= 2;
    size_t ncols = b->plan->ncols;
    for (size_t i = 0; i < ncols; i++) {
        fl_view_vec *v = &b->vecs[i];
        size_t c1 = b->cap;
        void *p = v->valid;
        if (grow(&p, &c1, cap, 1)) return FL_E_NOMEM;
        v->valid = p;
        if (v->col->collection) {
            size_t c2 = b->cap ? b->cap + 1 : 0;
            p = v->offsets;
            if (grow(&p, &c2, cap + 1, sizeof(uint32_t))) return FL_E_NOMEM;
            v->offsets = p;
        } else {
            size_t c3 = b->cap;
            p = v->data.p;
            if (grow(&p, &c3, cap, view_store_size(view_type_store(v->col->type)))) return FL_E_NOMEM;
            v->data.p = p;
        }
    }
    b->cap = cap;
    return FL_OK;
}

fl_rc fl_view_batch_new(const fl_view_plan *plan, size_t row_hint, fl_view_batch **out, fl_err *err)
{
    *out = NULL;
    fl_view_batch *b = fl_calloc(1, sizeof *b);
    if (!b) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    b->plan = plan;
    fl_arena_init(&b->strings, 0, 0);
    size_t n = plan->ncols ? plan->ncols : 1;
    b->vecs = fl_calloc(n, sizeof *b->vecs);
    b->item_cap = fl_calloc(n, sizeof *b->item_cap);
    if (!b->vecs || !b->item_cap) goto oom;
    for (size_t i = 0; i < plan->ncols; i++) b->vecs[i].col = &plan->cols[i];
    if (reserve_rows(b, row_hint ? row_hint : 1024)) goto oom;
    for (size_t i = 0; i < plan->ncols; i++)
        if (b->vecs[i].offsets) b->vecs[i].offsets[0] = 0;
    *out = b;
    return FL_OK;
oom:
    fl_view_batch_free(b);
    return fl_err_set(err, FL_E_NOMEM, "out of memory allocating a batch");
}

void fl_view_batch_free(fl_view_batch *b)
{
    if (!b) return;
    for (size_t i = 0; b->vecs && i < b->plan->ncols; i++) {
        fl_free(b->vecs[i].valid);
        fl_free(b->vecs[i].offsets);
        fl_free(b->vecs[i].data.p);
    }
    fl_free(b->vecs);
    fl_free(b->item_cap);
    fl_arena_fini(&b->strings);
    fl_free(b);
}

void fl_view_batch_clear(fl_view_batch *b)
{
    b->rows = 0;
    for (size_t i = 0; i < b->plan->ncols; i++) {
        b->vecs[i].nitems = 0;
        if (b->vecs[i].offsets) b->vecs[i].offsets[0] = 0;
    }
    fl_arena_reset(&b->strings);
}

size_t fl_view_batch_rows(const fl_view_batch *b) { return b->rows; }
size_t fl_view_batch_ncols(const fl_view_batch *b) { return b->plan->ncols; }
const fl_view_vec *fl_view_batch_col(const fl_view_batch *b, size_t i)
{
    return i < b->plan->ncols ? &b->vecs[i] : NULL;
}

size_t fl_view_batch_bytes(const fl_view_batch *b)
{
    size_t n = fl_arena_total(&b->strings);
    for (size_t i = 0; i < b->plan->ncols; i++) {
        const fl_view_vec *v = &b->vecs[i];
        size_t es = view_store_size(view_type_store(v->col->type));
        n += b->cap * (1 + (v->offsets ? sizeof(uint32_t) : es));
        if (v->offsets) n += b->item_cap[i] * es;
    }
    return n;
}

/* Store one value at data[idx]; string bytes are copied into *pool (pre-sized). */
static inline void put(fl_view_vec *v, view_store st, size_t idx, const view_val *val, char **pool)
{
    switch (st) {
    case VIEW_ST_U8: v->data.b[idx] = (uint8_t)(val->i != 0); break;
    case VIEW_ST_I32: v->data.i32[idx] = (int32_t)val->i; break;
    case VIEW_ST_I64: v->data.i64[idx] = val->i; break;
    case VIEW_ST_F64: v->data.f64[idx] = val->d; break;
    case VIEW_ST_STR:
        if (val->s.len == 0) {
            v->data.s[idx] = (fl_str){"", 0};
        } else {
            view_copy(*pool, val->s.ptr, val->s.len);
            v->data.s[idx] = (fl_str){*pool, val->s.len};
            *pool += val->s.len;
        }
        break;
    }
}

static void zero(fl_view_vec *v, view_store st, size_t idx)
{
    switch (st) {
    case VIEW_ST_U8: v->data.b[idx] = 0; break;
    case VIEW_ST_I32: v->data.i32[idx] = 0; break;
    case VIEW_ST_I64: v->data.i64[idx] = 0; break;
    case VIEW_ST_F64: v->data.f64[idx] = 0; break;
    case VIEW_ST_STR: v->data.s[idx] = (fl_str){"", 0}; break;
    }
}

fl_rc view_batch_append(fl_view_batch *b, const view_cell *rows, size_t nrows, fl_err *err)
{
    size_t w = b->plan->ncols;
    if (!nrows) return FL_OK;
    if (reserve_rows(b, b->rows + nrows)) return fl_err_set(err, FL_E_NOMEM, "out of memory growing a batch");
    /* Size everything first (collection items, string bytes) so that the copy below
     * cannot fail half-way: the append is all-or-nothing. */
    size_t sbytes = 0;
    for (size_t c = 0; c < w; c++) {
        fl_view_vec *v = &b->vecs[c];
        bool str = view_type_store(v->col->type) == VIEW_ST_STR;
        if (!v->col->collection) {
            if (str)
                for (size_t r = 0; r < nrows; r++)
                    if (rows[r * w + c].set) sbytes += rows[r * w + c].v.one.s.len;
            continue;
        }
        size_t add = 0;
        for (size_t r = 0; r < nrows; r++) {
            const view_cell *cell = &rows[r * w + c];
            if (!cell->set) continue;
            add += cell->n;
            if (str)
                for (uint32_t k = 0; k < cell->n; k++) sbytes += cell->v.items[k].s.len;
        }
        if (v->nitems + add > UINT32_MAX)
            return fl_err_set(err, FL_E_LIMIT, "column '%s': more than 2^32 items in one batch",
                              v->col->name);
        size_t es = view_store_size(view_type_store(v->col->type));
        if (grow(&v->data.p, &b->item_cap[c], v->nitems + add, es))
            return fl_err_set(err, FL_E_NOMEM, "out of memory growing a batch");
    }
    char *pool = sbytes ? fl_arena_alloc_aligned(&b->strings, sbytes, 1) : NULL;
    if (sbytes && !pool) return fl_err_set(err, FL_E_NOMEM, "out of memory copying strings into a batch");
    size_t base = b->rows;
    for (size_t c = 0; c < w; c++) {
        fl_view_vec *v = &b->vecs[c];
        view_store st = view_type_store(v->col->type);
        for (size_t r = 0; r < nrows; r++) {
            const view_cell *cell = &rows[r * w + c];
            size_t row = base + r;
            v->valid[row] = cell->set ? 1 : 0;
            if (v->col->collection) {
                if (cell->set)
                    for (uint32_t k = 0; k < cell->n; k++) put(v, st, v->nitems++, &cell->v.items[k], &pool);
                v->offsets[row + 1] = (uint32_t)v->nitems;
            } else if (cell->set) {
                put(v, st, row, &cell->v.one, &pool);
            } else {
                zero(v, st, row);
            }
        }
    }
    b->rows += nrows;
    return FL_OK;
}
