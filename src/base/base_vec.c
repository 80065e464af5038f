/* base_vec.c - growable array of fixed-size elements (module base). */
#include "fhirlake/base.h"

void fl_vec_reset(fl_vec *v)
{
    fl_free(v->ptr);
    v->ptr = NULL;
    v->len = v->cap = 0;
}

fl_rc fl_vec_reserve(fl_vec *v, size_t n)
{
    size_t need;
    if (fl_add_overflows(v->len, n, &need)) return FL_E_LIMIT;
    if (need <= v->cap) return FL_OK;
    size_t cap = v->cap ? v->cap * 2 : 8;
    if (cap < need) cap = need;
    size_t bytes;
    if (fl_mul_overflows(cap, v->elem_size, &bytes)) return FL_E_LIMIT;
    void *p = fl_realloc(v->ptr, bytes);
    if (!p) return FL_E_NOMEM;
    v->ptr = p;
    v->cap = cap;
    return FL_OK;
}

fl_rc fl_vec_push(fl_vec *v, const void *elem)
{
    if (v->len == v->cap) {
        fl_rc rc = fl_vec_reserve(v, 1);
        if (rc) return rc;
    }
    memcpy((char *)v->ptr + v->len * v->elem_size, elem, v->elem_size);
    v->len++;
    return FL_OK;
}

void *fl_vec_push_zero(fl_vec *v)
{
    if (v->len == v->cap && fl_vec_reserve(v, 1)) return NULL;
    void *p = (char *)v->ptr + v->len * v->elem_size;
    memset(p, 0, v->elem_size);
    v->len++;
    return p;
}
