/* base_buf.c - growable byte buffer with a hard limit and a sticky error (module base).
 * Growth doubles; a request past `limit` fails with FL_E_LIMIT and every later append
 * is a no-op, so hot loops can append without checking and test b->rc once. */
#include "fhirlake/base.h"

#include <stdio.h>

#define BUF_DEFAULT_LIMIT (SIZE_MAX / 2)

void fl_buf_init(fl_buf *b, size_t limit)
{
    b->ptr = NULL;
    b->len = b->cap = 0;
    b->limit = limit ? limit : BUF_DEFAULT_LIMIT;
    b->rc = FL_OK;
}

void fl_buf_reset(fl_buf *b)
{
    fl_free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
    b->rc = FL_OK;
}

fl_rc fl_buf_reserve(fl_buf *b, size_t n)
{
    if (b->rc) return b->rc;
    size_t need;
    if (fl_add_overflows(b->len, n, &need) || need > b->limit) return b->rc = FL_E_LIMIT;
    if (need + 1 <= b->cap) return FL_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need + 1) {
        if (cap > SIZE_MAX / 2) return b->rc = FL_E_LIMIT;
        cap *= 2;
    }
    if (cap > b->limit + 1) cap = b->limit + 1;
    char *p = fl_realloc(b->ptr, cap);
    if (!p) return b->rc = FL_E_NOMEM;
    b->ptr = p;
    b->cap = cap;
    return FL_OK;
}

fl_rc fl_buf_append(fl_buf *b, const void *p, size_t n)
{
    if (FL_UNLIKELY(b->len + n + 1 > b->cap || b->rc)) {
        fl_rc rc = fl_buf_reserve(b, n);
        if (rc) return rc;
    }
    if (n) memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = 0;
    return FL_OK;
}

fl_rc fl_buf_putc(fl_buf *b, char c) { return fl_buf_append(b, &c, 1); }

fl_rc fl_buf_vprintf(fl_buf *b, const char *fmt, va_list ap)
{
    if (b->rc) return b->rc;
    va_list ap2;
    va_copy(ap2, ap);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return b->rc = FL_E_ARG;
    }
    if ((size_t)n < sizeof tmp) {
        va_end(ap2);
        return fl_buf_append(b, tmp, (size_t)n);
    }
    fl_rc rc = fl_buf_reserve(b, (size_t)n);
    if (rc) {
        va_end(ap2);
        return rc;
    }
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
    return FL_OK;
}

fl_rc fl_buf_printf(fl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fl_rc rc = fl_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *fl_buf_detach(fl_buf *b, size_t *len_out)
{
    char *p = b->ptr;
    if (len_out) *len_out = b->len;
    b->ptr = NULL;
    b->len = b->cap = 0;
    b->rc = FL_OK;
    return p;
}
