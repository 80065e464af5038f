/* fuzz_delta_log.c - libFuzzer target for Delta log replay (module delta).
 * The input is split at 0xFF bytes into commit files 0, 1, 2, ... of an in-memory store
 * (a tiny fl_store_driver defined here). The table is loaded at its latest version and
 * at version 0; on success the snapshot must be self-consistent, and writing a
 * checkpoint of it and loading again through that checkpoint must give the same files,
 * txns and protocol. Every failure must come back as an error code with a message. */
#include "fhirlake/delta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEM_MAX_OBJ 24

typedef struct mem_obj {
    char key[128];
    char *data;
    size_t len;
} mem_obj;

typedef struct mem_store {
    mem_obj obj[MEM_MAX_OBJ];
    int n;
} mem_store;

static mem_store *g_mem; /* the store for the current input (libFuzzer runs one input at a time) */

static mem_obj *mem_find(mem_store *m, fl_str key)
{
    for (int i = 0; i < m->n; i++)
        if (fl_str_eq_c(key, m->obj[i].key)) return &m->obj[i];
    return NULL;
}

static fl_rc mem_open(const fl_store_url *u, const fl_store_opts *o, void **impl, fl_err *err)
{
    (void)u, (void)o, (void)err;
    *impl = g_mem;
    return FL_OK;
}
static void mem_close(void *impl) { (void)impl; }

static fl_rc mem_get(void *impl, fl_str key, uint64_t off, uint64_t len, fl_buf *out, fl_store_meta *meta, fl_err *err)
{
    mem_obj *o = mem_find(impl, key);
    if (!o) return fl_err_set(err, FL_E_NOT_FOUND, "no " FL_STR_FMT, FL_STR_ARG(key));
    if (meta) {
        memset(meta, 0, sizeof *meta);
        meta->size = o->len;
        meta->mtime_ms = 1000;
    }
    if (off >= o->len) return FL_OK;
    uint64_t n = o->len - off < len ? o->len - off : len;
    fl_rc rc = fl_buf_append(out, o->data + off, (size_t)n);
    return rc ? fl_err_set(err, rc, "get: %s", fl_rc_str(rc)) : FL_OK;
}

static fl_rc mem_put(void *impl, fl_str key, const void *data, size_t len, uint32_t flags, fl_err *err)
{
    mem_store *m = impl;
    mem_obj *o = mem_find(m, key);
    if (o && (flags & FL_STORE_IF_ABSENT)) return fl_err_set(err, FL_E_EXISTS, "exists");
    if (!o) {
        if (m->n == MEM_MAX_OBJ || key.len >= sizeof o->key) return fl_err_set(err, FL_E_LIMIT, "mem store full");
        /* keep keys sorted */
        int at = m->n;
        while (at > 0 && fl_str_cmp(fl_str_c(m->obj[at - 1].key), key) > 0) at--;
        memmove(&m->obj[at + 1], &m->obj[at], (size_t)(m->n - at) * sizeof *o);
        m->n++;
        o = &m->obj[at];
        memset(o, 0, sizeof *o);
        memcpy(o->key, key.ptr, key.len);
    }
    free(o->data);
    o->data = malloc(len ? len : 1);
    if (len) memcpy(o->data, data, len);
    o->len = len;
    return FL_OK;
}

static fl_rc mem_head(void *impl, fl_str key, fl_store_meta *meta, fl_err *err)
{
    mem_obj *o = mem_find(impl, key);
    if (!o) return fl_err_set(err, FL_E_NOT_FOUND, "no " FL_STR_FMT, FL_STR_ARG(key));
    if (meta) {
        memset(meta, 0, sizeof *meta);
        meta->size = o->len;
        meta->mtime_ms = 1000;
    }
    return FL_OK;
}

static fl_rc mem_del(void *impl, const fl_str *keys, size_t n, fl_err *err)
{
    (void)impl, (void)keys, (void)n, (void)err;
    return FL_OK;
}

static fl_rc mem_list(void *impl, fl_str prefix, fl_str start_after, uint32_t flags, fl_store_list_fn fn, void *ctx,
                      fl_err *err)
{
    (void)flags;
    mem_store *m = impl;
    for (int i = 0; i < m->n; i++) {
        fl_str k = fl_str_c(m->obj[i].key);
        if (!fl_str_starts_with(k, prefix) || fl_str_cmp(k, start_after) <= 0) continue;
        fl_store_entry e = {.key = k, .size = m->obj[i].len, .mtime_ms = 1000 + i};
        fl_rc rc = fn(ctx, &e, err);
        if (rc) return rc;
    }
    return FL_OK;
}

static const fl_store_driver mem_drv = {.scheme = "mem", .open = mem_open, .close = mem_close, .get = mem_get,
                                        .put = mem_put, .head = mem_head, .del = mem_del, .list = mem_list};

static void summary(const fl_delta_snapshot *s, fl_buf *b)
{
    const fl_delta_protocol *p = fl_delta_snapshot_get_protocol(s);
    fl_buf_printf(b, "p%d/%d n%zu|", (int)p->min_reader, (int)p->min_writer, fl_delta_snapshot_num_files(s));
    for (size_t i = 0; i < fl_delta_snapshot_num_files(s); i++) {
        const fl_delta_file *f = fl_delta_snapshot_get_file(s, i);
        if (f->path.len == 0) __builtin_trap();
        fl_buf_printf(b, FL_STR_FMT ":%lld,", FL_STR_ARG(f->path), (long long)f->size);
    }
    for (size_t i = 0; i < fl_delta_snapshot_num_app_txns(s); i++) {
        const fl_delta_app_txn *t = fl_delta_snapshot_get_app_txn(s, i);
        fl_buf_printf(b, FL_STR_FMT "=%lld;", FL_STR_ARG(t->app_id), (long long)t->version);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mem_store m;
    memset(&m, 0, sizeof m);
    g_mem = &m;
    fl_err err;
    /* split into commits */
    size_t start = 0;
    int64_t v = 0;
    for (size_t i = 0; i <= size && v < 16; i++) {
        if (i == size || data[i] == 0xFF) {
            char key[64];
            fl_delta_commit_key(v++, key);
            mem_put(&m, fl_str_c(key), data + start, i - start, 0, &err);
            start = i + 1;
        }
    }
    fl_store *st = NULL;
    fl_delta_table *t = NULL;
    if (fl_store_open_driver(&mem_drv, "mem://fuzz/t", NULL, &st, &err) != FL_OK) __builtin_trap();
    fl_delta_opts o;
    fl_delta_opts_default(&o);
    o.max_files = 100000;
    if (fl_delta_table_open(st, &o, &t, &err) != FL_OK) __builtin_trap();
    fl_delta_snapshot *s = NULL;
    fl_rc rc = fl_delta_snapshot_load(t, -1, &s, &err);
    if (rc != FL_OK) {
        if (err.msg[0] == 0 || s) __builtin_trap();
    } else {
        if (fl_delta_snapshot_version(s) != v - 1) __builtin_trap();
        (void)fl_delta_snapshot_num_records(s);
        fl_buf a, b;
        fl_buf_init(&a, 0);
        fl_buf_init(&b, 0);
        summary(s, &a);
        /* checkpoint round trip */
        if (fl_delta_snapshot_write_checkpoint(t, s, &err) == FL_OK) {
            fl_delta_snapshot *c = NULL;
            if (fl_delta_snapshot_load(t, -1, &c, &err) != FL_OK) __builtin_trap();
            summary(c, &b);
            if (a.len != b.len || memcmp(a.ptr, b.ptr, a.len) != 0) __builtin_trap();
            fl_delta_snapshot_free(c);
        }
        fl_buf_reset(&a);
        fl_buf_reset(&b);
        fl_delta_snapshot_free(s);
        s = NULL;
        if (fl_delta_snapshot_load(t, 0, &s, &err) == FL_OK) fl_delta_snapshot_free(s);
    }
    fl_delta_table_close(t);
    fl_store_close(st);
    for (int i = 0; i < m.n; i++) free(m.obj[i].data);
    return 0;
}
