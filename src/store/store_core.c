/* store_core.c - the fl_store handle: URL parsing, driver dispatch, key checks and the
 * streaming writer front end (module store).
 * Every object operation is validated here and then handed to store_run() (store_retry.c),
 * which owns retries; drivers never see an invalid key. Uses base and os only. */
#include "store/store_int.h"

#include "fhirlake/os.h"

bool store_key_check(fl_str key, bool allow_prefix)
{
    if (key.len == 0) return allow_prefix;
    if (key.len > FL_STORE_MAX_KEY || !key.ptr) return false;
    if (key.ptr[0] == '/') return false;
    size_t seg = 0; /* start of the current segment */
    for (size_t i = 0; i <= key.len; i++) {
        if (i < key.len && key.ptr[i] == 0) return false;
        if (i == key.len || key.ptr[i] == '/') {
            size_t n = i - seg;
            if (n == 0) {
                /* empty segment: only a trailing '/' of a prefix is fine */
                if (!(allow_prefix && i == key.len)) return false;
            } else if ((n == 1 && key.ptr[seg] == '.') ||
                       (n == 2 && key.ptr[seg] == '.' && key.ptr[seg + 1] == '.')) {
                return false;
            }
            seg = i + 1;
        }
    }
    return true;
}

bool fl_store_key_valid(fl_str key) { return store_key_check(key, false); }

static bool scheme_char(char c, bool first)
{
    if (c >= 'a' && c <= 'z') return true;
    if (first) return false;
    return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

fl_rc fl_store_url_parse(const char *url, fl_store_url *out, fl_err *err)
{
    memset(out, 0, sizeof *out);
    if (!url || !*url) return fl_err_set(err, FL_E_ARG, "empty store URL");
    size_t n = strlen(url);
    size_t i = 0;
    while (i < n && scheme_char(url[i], i == 0)) i++;
    bool has_scheme = i > 1 && i < n && url[i] == ':';
    if (!has_scheme) { /* plain local path */
        out->scheme = FL_STR("file");
        out->path = fl_str_make(url, n);
        return FL_OK;
    }
    fl_str scheme = fl_str_make(url, i);
    const char *rest = url + i + 1;
    if (fl_str_eq_c(scheme, "file")) {
        out->scheme = scheme;
        if (!strncmp(rest, "//", 2)) {
            rest += 2; /* file://[localhost]/path */
            if (!strncmp(rest, "localhost/", 10)) rest += 9;
            if (*rest != '/') return fl_err_set(err, FL_E_ARG, "file URL %s: expected an absolute path", url);
        }
        if (!*rest) return fl_err_set(err, FL_E_ARG, "file URL %s has no path", url);
        out->path = fl_str_c(rest);
        return FL_OK;
    }
    if (strncmp(rest, "//", 2) != 0)
        return fl_err_set(err, FL_E_ARG, "store URL %s: expected '%.*s://<authority>/<path>'", url, (int)i, url);
    rest += 2;
    const char *slash = strchr(rest, '/');
    size_t alen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (alen == 0) return fl_err_set(err, FL_E_ARG, "store URL %s has no bucket/authority", url);
    out->scheme = scheme;
    out->authority = fl_str_make(rest, alen);
    const char *p = slash ? slash + 1 : rest + alen;
    size_t plen = strlen(p);
    while (plen > 0 && p[plen - 1] == '/') plen--;
    out->path = fl_str_make(p, plen);
    return FL_OK;
}

fl_rc fl_store_open_driver(const fl_store_driver *drv, const char *url, const fl_store_opts *opts,
                           fl_store **out, fl_err *err)
{
    *out = NULL;
    fl_store_opts def;
    if (!opts) {
        fl_store_opts_default(&def);
        opts = &def;
    }
    fl_store *st = fl_calloc(1, sizeof *st);
    if (!st) return fl_err_set(err, FL_E_NOMEM, "out of memory opening store %s", url ? url : "");
    fl_rc rc = FL_OK;
    st->url = fl_strndup(url ? url : "", url ? strlen(url) : 0);
    if (!st->url) FL_FAIL(FL_E_NOMEM, "out of memory opening store %s", url ? url : "");
    fl_store_url u;
    FL_TRY(fl_store_url_parse(st->url, &u, err));
    st->drv = drv;
    st->log = opts->log;
    st->retry.max_attempts = opts->retry_max_attempts ? opts->retry_max_attempts : 6;
    st->retry.base_ms = opts->retry_base_ms ? opts->retry_base_ms : 50;
    st->retry.cap_ms = opts->retry_cap_ms ? opts->retry_cap_ms : 5000;
    FL_TRY(drv->open(&u, opts, &st->impl, err));
    *out = st;
    return FL_OK;
done:
    fl_free(st->url);
    fl_free(st);
    return rc;
}

fl_rc fl_store_open(const char *url, const fl_store_opts *opts, fl_store **out, fl_err *err)
{
    *out = NULL;
    fl_store_url u;
    fl_rc rc = fl_store_url_parse(url, &u, err);
    if (rc) return rc;
    const fl_store_driver *drv = store_driver_find(u.scheme);
    if (!drv)
        return fl_err_set(err, FL_E_UNSUPPORTED, "cannot open %s: no object-store driver for scheme '%.*s'", url,
                          FL_STR_ARG(u.scheme));
    return fl_store_open_driver(drv, url, opts, out, err);
}

void fl_store_close(fl_store *st)
{
    if (!st) return;
    if (st->drv && st->impl) st->drv->close(st->impl);
    fl_free(st->url);
    fl_free(st);
}

const char *fl_store_get_url(const fl_store *st) { return st->url; }
const char *fl_store_get_scheme(const fl_store *st) { return st->drv->scheme; }

static fl_rc bad_key(fl_store *st, fl_str key, fl_err *err)
{
    return fl_err_set(err, FL_E_ARG, "%s: invalid object key '" FL_STR_FMT "'", st->url, FL_STR_ARG(key));
}

fl_rc fl_store_get(fl_store *st, fl_str key, fl_buf *out, fl_store_meta *meta, fl_err *err)
{
    if (!store_key_check(key, false)) return bad_key(st, key, err);
    store_op op = {.kind = STORE_OP_GET, .key = key, .off = 0, .len = UINT64_MAX, .out = out, .meta = meta};
    size_t saved = out->limit;
    if (out->limit == 0 || out->limit == SIZE_MAX / 2) out->limit = FL_STORE_DEFAULT_MAX_OBJECT;
    fl_rc rc = store_run(st, &op, err);
    out->limit = saved;
    return rc;
}

fl_rc fl_store_get_range(fl_store *st, fl_str key, uint64_t off, uint64_t len, fl_buf *out, fl_err *err)
{
    if (!store_key_check(key, false)) return bad_key(st, key, err);
    if (len == 0) return FL_OK;
    store_op op = {.kind = STORE_OP_GET, .key = key, .off = off, .len = len, .out = out};
    return store_run(st, &op, err);
}

fl_rc fl_store_put(fl_store *st, fl_str key, const void *data, size_t len, uint32_t flags, fl_err *err)
{
    if (!store_key_check(key, false)) return bad_key(st, key, err);
    store_op op = {.kind = STORE_OP_PUT, .key = key, .data = data, .dlen = len, .flags = flags};
    return store_run(st, &op, err);
}

fl_rc fl_store_head(fl_store *st, fl_str key, fl_store_meta *meta, fl_err *err)
{
    if (!store_key_check(key, false)) return bad_key(st, key, err);
    store_op op = {.kind = STORE_OP_HEAD, .key = key, .meta = meta};
    return store_run(st, &op, err);
}

fl_rc fl_store_delete(fl_store *st, const fl_str *keys, size_t n, fl_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (!store_key_check(keys[i], false)) return bad_key(st, keys[i], err);
    if (n == 0) return FL_OK;
    store_op op = {.kind = STORE_OP_DEL, .keys = keys, .nkeys = n};
    return store_run(st, &op, err);
}

fl_rc fl_store_list(fl_store *st, fl_str prefix, fl_str start_after, uint32_t flags, fl_store_list_fn fn,
                    void *ctx, fl_err *err)
{
    if (!store_key_check(prefix, true)) return bad_key(st, prefix, err);
    if (start_after.len > FL_STORE_MAX_KEY) return bad_key(st, start_after, err);
    store_op op = {.kind = STORE_OP_LIST, .prefix = prefix, .start_after = start_after, .flags = flags,
                   .fn = fn, .ctx = ctx};
    return store_run(st, &op, err);
}

typedef struct list_all_ctx {
    fl_arena *a;
    fl_vec v;
    size_t max;
} list_all_ctx;

static fl_rc list_all_cb(void *ctx, const fl_store_entry *e, fl_err *err)
{
    list_all_ctx *c = ctx;
    if (c->v.len >= c->max) return fl_err_set(err, FL_E_LIMIT, "listing has more than %zu entries", c->max);
    fl_store_entry *slot = fl_vec_push_zero(&c->v);
    if (!slot) return fl_err_set(err, FL_E_NOMEM, "out of memory listing");
    *slot = *e;
    slot->key = fl_arena_str_dup(c->a, e->key);
    if (!slot->key.ptr && e->key.len) return fl_err_set(err, FL_E_NOMEM, "out of memory listing");
    return FL_OK;
}

fl_rc fl_store_list_all(fl_store *st, fl_str prefix, fl_str start_after, uint32_t flags, size_t max_entries,
                        fl_arena *a, fl_store_entry **out, size_t *count, fl_err *err)
{
    *out = NULL;
    *count = 0;
    list_all_ctx c = {.a = a, .max = max_entries ? max_entries : SIZE_MAX};
    fl_vec_init(&c.v, sizeof(fl_store_entry));
    fl_rc rc = fl_store_list(st, prefix, start_after, flags, list_all_cb, &c, err);
    if (!rc && c.v.len) {
        fl_store_entry *arr = fl_arena_alloc(a, c.v.len * sizeof *arr);
        if (!arr) {
            rc = fl_err_set(err, FL_E_NOMEM, "out of memory listing %s", st->url);
        } else {
            memcpy(arr, c.v.ptr, c.v.len * sizeof *arr);
            *out = arr;
            *count = c.v.len;
        }
    }
    fl_vec_reset(&c.v);
    return rc;
}

/* ------------------------------------------------------------------ writer front end */

fl_rc fl_store_writer_open(fl_store *st, fl_str key, uint32_t flags, fl_store_writer **out, fl_err *err)
{
    *out = NULL;
    if (!store_key_check(key, false)) return bad_key(st, key, err);
    fl_store_writer *w = fl_calloc(1, sizeof *w);
    if (!w) return fl_err_set(err, FL_E_NOMEM, "out of memory opening writer");
    w->st = st;
    w->flags = flags;
    w->key = fl_strndup(key.ptr, key.len);
    fl_buf_init(&w->mem, 0);
    fl_rc rc = FL_OK;
    if (!w->key) FL_FAIL(FL_E_NOMEM, "out of memory opening writer");
    if (st->drv->writer_open) FL_TRY(st->drv->writer_open(st->impl, key, flags, &w->impl, err));
    *out = w;
    return FL_OK;
done:
    fl_free(w->key);
    fl_free(w);
    return rc;
}

fl_rc fl_store_writer_write(fl_store_writer *w, const void *data, size_t len, fl_err *err)
{
    if (w->rc) return fl_err_set(err, w->rc, "writer for %s already failed", w->key);
    fl_rc rc;
    if (w->impl) {
        rc = w->st->drv->writer_write(w->impl, data, len, err);
    } else {
        rc = fl_buf_append(&w->mem, data, len);
        if (rc) fl_err_set(err, rc, "buffering %s: %s", w->key, fl_rc_str(rc));
    }
    if (rc) w->rc = rc;
    else w->size += len;
    return rc;
}

uint64_t fl_store_writer_size(const fl_store_writer *w) { return w->size; }

static void writer_free(fl_store_writer *w)
{
    fl_buf_reset(&w->mem);
    fl_free(w->key);
    fl_free(w);
}

fl_rc fl_store_writer_commit(fl_store_writer *w, fl_store_meta *meta, fl_err *err)
{
    fl_rc rc = w->rc;
    if (rc) {
        fl_err_set(err, rc, "writer for %s already failed", w->key);
        fl_store_writer_abort(w);
        return rc;
    }
    if (w->impl) {
        rc = w->st->drv->writer_commit(w->impl, meta, err);
        w->impl = NULL;
    } else {
        rc = fl_store_put(w->st, fl_str_c(w->key), w->mem.ptr, w->mem.len, w->flags, err);
        if (!rc && meta) {
            memset(meta, 0, sizeof *meta);
            meta->size = w->mem.len;
            meta->mtime_ms = fl_clock_now_us() / 1000;
        }
    }
    writer_free(w);
    return rc;
}

void fl_store_writer_abort(fl_store_writer *w)
{
    if (!w) return;
    if (w->impl) w->st->drv->writer_abort(w->impl);
    writer_free(w);
}
