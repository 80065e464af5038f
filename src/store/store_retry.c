/* store_retry.c - the one place where object-store operations are retried (module store).
 * A failure is retried when fl_err_is_retriable() says so, up to retry.max_attempts tries,
 * sleeping a "full jitter" exponential backoff between tries. Retries are made safe per
 * operation: a get truncates what a failed try appended, a listing resumes after the last
 * key it delivered, and a put-if-absent that finds the key after an ambiguous failure
 * compares the stored bytes with its own (equal = our earlier try landed = success).
 * Errors raised by the caller's list callback are never retried. */
#include "store/store_int.h"

#include "fhirlake/os.h"

uint32_t fl_store_backoff_ms(const fl_store_retry *r, uint32_t attempt)
{
    uint64_t base = r->base_ms ? r->base_ms : 50;
    uint64_t cap = r->cap_ms ? r->cap_ms : 5000;
    uint64_t ceil = base;
    for (uint32_t i = 1; i < attempt && ceil < cap; i++) ceil *= 2;
    if (ceil > cap) ceil = cap;
    return (uint32_t)(fl_random_u64() % (ceil + 1));
}

typedef struct list_track {
    const store_op *op;
    char last[FL_STORE_MAX_KEY + 2];
    size_t last_len;
    bool have_last;
    bool user_failed;
} list_track;

static fl_rc list_track_cb(void *ctx, const fl_store_entry *e, fl_err *err)
{
    list_track *t = ctx;
    fl_rc rc = t->op->fn(t->op->ctx, e, err);
    if (rc && rc != FL_E_EOF) t->user_failed = true;
    if (e->key.len <= FL_STORE_MAX_KEY + 1) {
        memcpy(t->last, e->key.ptr, e->key.len);
        t->last_len = e->key.len;
        t->have_last = true;
    }
    return rc;
}

/* After an ambiguous put-if-absent failure followed by FL_E_EXISTS: is the stored object
 * byte-identical to ours? */
static bool same_object(fl_store *st, const store_op *op)
{
    fl_buf b;
    fl_buf_init(&b, op->dlen + 1);
    fl_err e2;
    fl_rc rc = FL_OK;
    /* The read-back decides between "our commit landed" and "someone else's did", so a
     * transient failure here is retried like any other call instead of being taken as
     * "not ours" (which would report our own landed commit as a conflict). */
    for (uint32_t attempt = 1;; attempt++) {
        fl_err_clear(&e2);
        fl_buf_clear(&b);
        rc = st->drv->get(st->impl, op->key, 0, UINT64_MAX, &b, NULL, &e2);
        if (rc == FL_OK || !fl_err_is_retriable(&e2) || attempt >= st->retry.max_attempts) break;
        fl_sleep_ms(fl_store_backoff_ms(&st->retry, attempt));
    }
    bool same = rc == FL_OK && b.len == op->dlen && (op->dlen == 0 || memcmp(b.ptr, op->data, op->dlen) == 0);
    fl_buf_reset(&b);
    return same;
}

static fl_rc run_once(fl_store *st, const store_op *op, list_track *lt, fl_err *err)
{
    const fl_store_driver *d = st->drv;
    switch (op->kind) {
    case STORE_OP_GET:
        return d->get(st->impl, op->key, op->off, op->len, op->out, op->meta, err);
    case STORE_OP_PUT:
        return d->put(st->impl, op->key, op->data, op->dlen, op->flags, err);
    case STORE_OP_HEAD:
        return d->head(st->impl, op->key, op->meta, err);
    case STORE_OP_DEL:
        return d->del(st->impl, op->keys, op->nkeys, err);
    case STORE_OP_LIST: {
        fl_str after = lt->have_last ? fl_str_make(lt->last, lt->last_len) : op->start_after;
        fl_rc rc = d->list(st->impl, op->prefix, after, op->flags, list_track_cb, lt, err);
        return rc == FL_E_EOF ? FL_OK : rc;
    }
    }
    return fl_err_set(err, FL_E_INTERNAL, "unknown store operation");
}

static const char *op_name(store_op_kind k)
{
    switch (k) {
    case STORE_OP_GET: return "get";
    case STORE_OP_PUT: return "put";
    case STORE_OP_HEAD: return "head";
    case STORE_OP_DEL: return "delete";
    case STORE_OP_LIST: return "list";
    }
    return "?";
}

fl_rc store_run(fl_store *st, const store_op *op, fl_err *err)
{
    fl_err local;
    if (!err) err = &local;
    size_t out_len0 = op->out ? op->out->len : 0;
    list_track lt = {.op = op};
    bool ambiguous_put = false;
    fl_rc rc = FL_OK;
    for (uint32_t attempt = 1;; attempt++) {
        fl_err_clear(err);
        rc = run_once(st, op, &lt, err);
        if (rc == FL_OK) return FL_OK;
        if (op->kind == STORE_OP_PUT && (op->flags & FL_STORE_IF_ABSENT) && rc == FL_E_EXISTS && ambiguous_put &&
            same_object(st, op)) {
            fl_log(st->log, FL_LOG_INFO, "store %s: put-if-absent of " FL_STR_FMT " had landed on an earlier try",
                   st->url, FL_STR_ARG(op->key));
            fl_err_clear(err);
            return FL_OK;
        }
        if (lt.user_failed || !fl_err_is_retriable(err) || attempt >= st->retry.max_attempts) break;
        if (op->kind == STORE_OP_PUT) ambiguous_put = true;
        if (op->out) { /* drop a partial read */
            op->out->len = out_len0;
            if (op->out->ptr) op->out->ptr[out_len0] = 0;
            op->out->rc = FL_OK;
        }
        uint32_t ms = fl_store_backoff_ms(&st->retry, attempt);
        fl_log(st->log, FL_LOG_WARN, "store %s: %s " FL_STR_FMT " failed (%s), retry %u/%u in %u ms", st->url,
               op_name(op->kind), FL_STR_ARG(op->key), err->msg, attempt, st->retry.max_attempts - 1, ms);
        fl_sleep_ms(ms);
    }
    return rc;
}
