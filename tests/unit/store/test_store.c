/* test_store.c - unit tests for the store module: URL/key rules, the file driver
 * (get/range/put/if-absent/head/delete/list/writer) and the retry layer (with a
 * fault-injecting driver that wraps the file driver). */
#include "fhirlake/os.h"
#include "fhirlake/store.h"
#include "testhelp.h"

#include <pthread.h>
#include <unistd.h>

static char tmpdir[256];

static void make_tmp(const char *name)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fl_store_%s_%d", name, (int)getpid());
    fl_rm_rf(tmpdir, NULL);
}

static fl_store *open_tmp(const char *name)
{
    make_tmp(name);
    fl_store *st = NULL;
    fl_err err;
    fl_rc rc = fl_store_open(tmpdir, NULL, &st, &err);
    CHECK_EQ_INT(rc, FL_OK);
    return st;
}

static void put_s(fl_store *st, const char *key, const char *val)
{
    fl_err err;
    fl_rc rc = fl_store_put(st, fl_str_c(key), val, strlen(val), 0, &err);
    CHECK_MSG(rc == FL_OK, "put %s: %s", key, err.msg);
}

static void test_url_parse(void)
{
    fl_store_url u;
    fl_err err;
    CHECK_EQ_INT(fl_store_url_parse("/data/t1", &u, &err), FL_OK);
    CHECK(fl_str_eq_c(u.scheme, "file") && fl_str_eq_c(u.path, "/data/t1"));
    CHECK_EQ_INT(fl_store_url_parse("rel/dir", &u, &err), FL_OK);
    CHECK(fl_str_eq_c(u.scheme, "file") && fl_str_eq_c(u.path, "rel/dir"));
    CHECK_EQ_INT(fl_store_url_parse("file:///abs/x", &u, &err), FL_OK);
    CHECK(fl_str_eq_c(u.scheme, "file") && fl_str_eq_c(u.path, "/abs/x"));
    CHECK_EQ_INT(fl_store_url_parse("file:/abs/y", &u, &err), FL_OK);
    CHECK(fl_str_eq_c(u.path, "/abs/y"));
    CHECK_EQ_INT(fl_store_url_parse("file://localhost/abs/z", &u, &err), FL_OK);
    CHECK(fl_str_eq_c(u.path, "/abs/z"));
    CHECK_EQ_INT(fl_store_url_parse("s3://bucket/a/b/", &u, &err), FL_OK);
    CHECK(fl_str_eq_c(u.scheme, "s3") && fl_str_eq_c(u.authority, "bucket") && fl_str_eq_c(u.path, "a/b"));
    CHECK_EQ_INT(fl_store_url_parse("abfss://c@acct.dfs.core.windows.net/t", &u, &err), FL_OK);
    CHECK(fl_str_eq_c(u.authority, "c@acct.dfs.core.windows.net") && fl_str_eq_c(u.path, "t"));
    CHECK_EQ_INT(fl_store_url_parse("s3:///nobucket", &u, &err), FL_E_ARG);
    CHECK_EQ_INT(fl_store_url_parse("", &u, &err), FL_E_ARG);
    CHECK_EQ_INT(fl_store_url_parse("s3:bucket", &u, &err), FL_E_ARG);
    /* unknown scheme: clear error naming it */
    fl_store *st = NULL;
    CHECK_EQ_INT(fl_store_open("nosuch://b/x", NULL, &st, &err), FL_E_UNSUPPORTED);
    CHECK(strstr(err.msg, "nosuch") != NULL);
    CHECK(st == NULL);
}

static void test_key_valid(void)
{
    CHECK(fl_store_key_valid(FL_STR("a")));
    CHECK(fl_store_key_valid(FL_STR("_delta_log/00000000000000000000.json")));
    CHECK(!fl_store_key_valid(FL_STR("")));
    CHECK(!fl_store_key_valid(FL_STR("/abs")));
    CHECK(!fl_store_key_valid(FL_STR("a//b")));
    CHECK(!fl_store_key_valid(FL_STR("a/../b")));
    CHECK(!fl_store_key_valid(FL_STR("./b")));
    CHECK(!fl_store_key_valid(FL_STR("a/")));
    CHECK(!fl_store_key_valid(fl_str_make("a\0b", 3)));
    CHECK(fl_store_key_valid(FL_STR("a/..b/.c")));
}

static void test_put_get_head(void)
{
    fl_store *st = open_tmp("pgh");
    fl_err err;
    put_s(st, "x/y/z.txt", "hello world");
    fl_buf b;
    fl_buf_init(&b, 0);
    fl_store_meta m;
    CHECK_EQ_INT(fl_store_get(st, FL_STR("x/y/z.txt"), &b, &m, &err), FL_OK);
    CHECK_EQ_MEM(b.ptr, b.len, "hello world");
    CHECK_EQ_INT(m.size, 11);
    CHECK(m.mtime_ms > 1600000000000LL);
    fl_buf_clear(&b);
    CHECK_EQ_INT(fl_store_get_range(st, FL_STR("x/y/z.txt"), 6, 3, &b, &err), FL_OK);
    CHECK_EQ_MEM(b.ptr, b.len, "wor");
    fl_buf_clear(&b);
    CHECK_EQ_INT(fl_store_get_range(st, FL_STR("x/y/z.txt"), 6, 100, &b, &err), FL_OK);
    CHECK_EQ_MEM(b.ptr, b.len, "world");
    fl_buf_clear(&b);
    CHECK_EQ_INT(fl_store_get_range(st, FL_STR("x/y/z.txt"), 50, 10, &b, &err), FL_OK);
    CHECK_EQ_INT(b.len, 0);
    /* replace */
    put_s(st, "x/y/z.txt", "v2");
    fl_buf_clear(&b);
    CHECK_EQ_INT(fl_store_get(st, FL_STR("x/y/z.txt"), &b, NULL, &err), FL_OK);
    CHECK_EQ_MEM(b.ptr, b.len, "v2");
    /* limit from the caller's buffer */
    fl_buf small;
    fl_buf_init(&small, 4);
    put_s(st, "big", "0123456789");
    CHECK_EQ_INT(fl_store_get(st, FL_STR("big"), &small, NULL, &err), FL_E_LIMIT);
    fl_buf_reset(&small);
    /* missing */
    CHECK_EQ_INT(fl_store_get(st, FL_STR("nope"), &b, NULL, &err), FL_E_NOT_FOUND);
    CHECK(strstr(err.msg, "nope") != NULL);
    CHECK_EQ_INT(fl_store_head(st, FL_STR("nope"), &m, &err), FL_E_NOT_FOUND);
    CHECK_EQ_INT(fl_store_head(st, FL_STR("x/y"), &m, &err), FL_E_NOT_FOUND); /* a "directory" */
    CHECK_EQ_INT(fl_store_head(st, FL_STR("big"), &m, &err), FL_OK);
    CHECK_EQ_INT(m.size, 10);
    CHECK(m.etag[0] != 0);
    /* invalid key */
    CHECK_EQ_INT(fl_store_put(st, FL_STR("../escape"), "a", 1, 0, &err), FL_E_ARG);
    fl_buf_reset(&b);
    fl_store_close(st);
    fl_rm_rf(tmpdir, NULL);
}

static void test_if_absent(void)
{
    fl_store *st = open_tmp("ifabs");
    fl_err err;
    CHECK_EQ_INT(fl_store_put(st, FL_STR("_delta_log/0.json"), "A", 1, FL_STORE_IF_ABSENT, &err), FL_OK);
    CHECK_EQ_INT(fl_store_put(st, FL_STR("_delta_log/0.json"), "B", 1, FL_STORE_IF_ABSENT, &err), FL_E_EXISTS);
    fl_buf b;
    fl_buf_init(&b, 0);
    CHECK_EQ_INT(fl_store_get(st, FL_STR("_delta_log/0.json"), &b, NULL, &err), FL_OK);
    CHECK_EQ_MEM(b.ptr, b.len, "A");
    fl_buf_reset(&b);
    /* no temp files left behind, listing shows exactly one object */
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_str *names;
    size_t n;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/_delta_log", tmpdir);
    CHECK_EQ_INT(fl_dir_list(dir, &a, &names, &n, &err), FL_OK);
    CHECK_EQ_INT(n, 1);
    fl_arena_fini(&a);
    fl_store_close(st);
    fl_rm_rf(tmpdir, NULL);
}

typedef struct race_arg {
    fl_store *st;
    int id;
    int won;
} race_arg;

static void *race_thread(void *p)
{
    race_arg *r = p;
    char val[16];
    snprintf(val, sizeof val, "w%d", r->id);
    fl_err err;
    for (int v = 0; v < 50; v++) {
        char key[64];
        snprintf(key, sizeof key, "log/%05d.json", v);
        fl_rc rc = fl_store_put(r->st, fl_str_c(key), val, strlen(val), FL_STORE_IF_ABSENT, &err);
        if (rc == FL_OK) r->won++;
        else if (rc != FL_E_EXISTS) r->won = -10000;
    }
    return NULL;
}

static void test_if_absent_race(void)
{
    fl_store *st = open_tmp("race");
    pthread_t th[6];
    race_arg args[6];
    for (int i = 0; i < 6; i++) {
        args[i] = (race_arg){st, i, 0};
        pthread_create(&th[i], NULL, race_thread, &args[i]);
    }
    int total = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        CHECK(args[i].won >= 0);
        total += args[i].won;
    }
    CHECK_EQ_INT(total, 50); /* every key won by exactly one writer */
    fl_store_close(st);
    fl_rm_rf(tmpdir, NULL);
}

typedef struct collect {
    char keys[64][128];
    bool pref[64];
    int n;
    int stop_after;
} collect;

static fl_rc collect_cb(void *ctx, const fl_store_entry *e, fl_err *err)
{
    (void)err;
    collect *c = ctx;
    if (c->n < 64) {
        snprintf(c->keys[c->n], sizeof c->keys[0], FL_STR_FMT, FL_STR_ARG(e->key));
        c->pref[c->n] = e->is_prefix;
        c->n++;
    }
    if (c->stop_after && c->n >= c->stop_after) return FL_E_EOF;
    return FL_OK;
}

static void test_list(void)
{
    fl_store *st = open_tmp("list");
    fl_err err;
    put_s(st, "a/b/x", "1");
    put_s(st, "a/b.txt", "2");
    put_s(st, "a/b0", "3");
    put_s(st, "a/a", "4");
    put_s(st, "c", "5");
    put_s(st, "a/b/y/z", "6");
    /* a stray temp file (as left by a crash) must not be listed */
    char stray[300];
    snprintf(stray, sizeof stray, "%s/a/.fl-tmp-dead", tmpdir);
    FILE *f = fopen(stray, "w");
    if (f) fclose(f);
    collect c = {0};
    CHECK_EQ_INT(fl_store_list(st, FL_STR(""), FL_STR_NULL, 0, collect_cb, &c, &err), FL_OK);
    CHECK_EQ_INT(c.n, 6);
    /* bytewise key order: "a/b.txt" < "a/b/x" < "a/b/y/z" < "a/b0" ('.' < '/' < '0') */
    CHECK_EQ_STR(c.keys[0], "a/a");
    CHECK_EQ_STR(c.keys[1], "a/b.txt");
    CHECK_EQ_STR(c.keys[2], "a/b/x");
    CHECK_EQ_STR(c.keys[3], "a/b/y/z");
    CHECK_EQ_STR(c.keys[4], "a/b0");
    CHECK_EQ_STR(c.keys[5], "c");
    /* prefix that is not a directory */
    memset(&c, 0, sizeof c);
    CHECK_EQ_INT(fl_store_list(st, FL_STR("a/b"), FL_STR_NULL, 0, collect_cb, &c, &err), FL_OK);
    CHECK_EQ_INT(c.n, 4);
    CHECK_EQ_STR(c.keys[0], "a/b.txt");
    /* start_after */
    memset(&c, 0, sizeof c);
    CHECK_EQ_INT(fl_store_list(st, FL_STR("a/"), FL_STR("a/b/x"), 0, collect_cb, &c, &err), FL_OK);
    CHECK_EQ_INT(c.n, 2);
    CHECK_EQ_STR(c.keys[0], "a/b/y/z");
    CHECK_EQ_STR(c.keys[1], "a/b0");
    /* non-recursive */
    memset(&c, 0, sizeof c);
    CHECK_EQ_INT(fl_store_list(st, FL_STR("a/"), FL_STR_NULL, FL_STORE_LIST_NO_RECURSE, collect_cb, &c, &err),
                 FL_OK);
    CHECK_EQ_INT(c.n, 4);
    CHECK_EQ_STR(c.keys[2], "a/b/");
    CHECK(c.pref[2] && !c.pref[0]);
    /* early stop */
    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    CHECK_EQ_INT(fl_store_list(st, FL_STR(""), FL_STR_NULL, 0, collect_cb, &c, &err), FL_OK);
    CHECK_EQ_INT(c.n, 2);
    /* missing prefix directory: empty, not an error */
    memset(&c, 0, sizeof c);
    CHECK_EQ_INT(fl_store_list(st, FL_STR("zzz/"), FL_STR_NULL, 0, collect_cb, &c, &err), FL_OK);
    CHECK_EQ_INT(c.n, 0);
    /* list_all into an arena, with a cap */
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_store_entry *ents;
    size_t n;
    CHECK_EQ_INT(fl_store_list_all(st, FL_STR(""), FL_STR_NULL, 0, 0, &a, &ents, &n, &err), FL_OK);
    CHECK_EQ_INT(n, 6);
    CHECK(fl_str_eq_c(ents[5].key, "c") && ents[5].size == 1);
    CHECK_EQ_INT(fl_store_list_all(st, FL_STR(""), FL_STR_NULL, 0, 3, &a, &ents, &n, &err), FL_E_LIMIT);
    fl_arena_fini(&a);
    /* delete (missing keys fine) */
    fl_str del[3] = {FL_STR("a/a"), FL_STR("c"), FL_STR("not/there")};
    CHECK_EQ_INT(fl_store_delete(st, del, 3, &err), FL_OK);
    memset(&c, 0, sizeof c);
    CHECK_EQ_INT(fl_store_list(st, FL_STR(""), FL_STR_NULL, 0, collect_cb, &c, &err), FL_OK);
    CHECK_EQ_INT(c.n, 4);
    fl_store_close(st);
    fl_rm_rf(tmpdir, NULL);
}

static void test_writer(void)
{
    fl_store *st = open_tmp("writer");
    fl_err err;
    fl_store_writer *w = NULL;
    CHECK_EQ_INT(fl_store_writer_open(st, FL_STR("d/big.bin"), 0, &w, &err), FL_OK);
    char chunk[1000];
    for (int i = 0; i < 1000; i++) chunk[i] = (char)(i % 251);
    for (int i = 0; i < 100; i++) CHECK_EQ_INT(fl_store_writer_write(w, chunk, sizeof chunk, &err), FL_OK);
    CHECK_EQ_INT(fl_store_writer_size(w), 100000);
    /* not visible before commit */
    fl_store_meta m;
    CHECK_EQ_INT(fl_store_head(st, FL_STR("d/big.bin"), &m, &err), FL_E_NOT_FOUND);
    collect c = {0};
    CHECK_EQ_INT(fl_store_list(st, FL_STR(""), FL_STR_NULL, 0, collect_cb, &c, &err), FL_OK);
    CHECK_EQ_INT(c.n, 0);
    CHECK_EQ_INT(fl_store_writer_commit(w, &m, &err), FL_OK);
    CHECK_EQ_INT(m.size, 100000);
    fl_buf b;
    fl_buf_init(&b, 0);
    CHECK_EQ_INT(fl_store_get_range(st, FL_STR("d/big.bin"), 99000, 1000, &b, &err), FL_OK);
    CHECK(b.len == 1000 && memcmp(b.ptr, chunk, 1000) == 0);
    fl_buf_reset(&b);
    /* abort leaves nothing */
    CHECK_EQ_INT(fl_store_writer_open(st, FL_STR("d/gone.bin"), 0, &w, &err), FL_OK);
    CHECK_EQ_INT(fl_store_writer_write(w, "abc", 3, &err), FL_OK);
    fl_store_writer_abort(w);
    CHECK_EQ_INT(fl_store_head(st, FL_STR("d/gone.bin"), &m, &err), FL_E_NOT_FOUND);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_str *names;
    size_t n;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/d", tmpdir);
    CHECK_EQ_INT(fl_dir_list(dir, &a, &names, &n, &err), FL_OK);
    CHECK_EQ_INT(n, 1); /* only big.bin, no temp file */
    fl_arena_fini(&a);
    /* if-absent writer */
    CHECK_EQ_INT(fl_store_writer_open(st, FL_STR("d/big.bin"), FL_STORE_IF_ABSENT, &w, &err), FL_OK);
    CHECK_EQ_INT(fl_store_writer_write(w, "x", 1, &err), FL_OK);
    CHECK_EQ_INT(fl_store_writer_commit(w, NULL, &err), FL_E_EXISTS);
    CHECK_EQ_INT(fl_store_head(st, FL_STR("d/big.bin"), &m, &err), FL_OK);
    CHECK_EQ_INT(m.size, 100000);
    fl_store_close(st);
    fl_rm_rf(tmpdir, NULL);
}

/* ------------------------------------------------------------------ fault injection */

typedef struct flaky {
    void *inner;
    int fail_next;        /* fail this many calls before passing through */
    int fail_after_put;   /* put: perform it, then report a transient failure (once) */
    int list_fail_at;     /* list: fail after delivering this many entries (once) */
    int calls;
} flaky;

/* The wrapper's state must be reachable from the vtable functions; keep one per test. */
static flaky g_flaky;

static fl_rc flaky_open(const fl_store_url *url, const fl_store_opts *o, void **impl, fl_err *err)
{
    g_flaky.calls = 0;
    fl_rc rc = fl_store_file_driver()->open(url, o, &g_flaky.inner, err);
    *impl = &g_flaky;
    return rc;
}
static void flaky_close(void *impl) { fl_store_file_driver()->close(((flaky *)impl)->inner); }
static fl_rc maybe_fail(flaky *f, fl_err *err)
{
    f->calls++;
    if (f->fail_next > 0) {
        f->fail_next--;
        return fl_err_set(err, FL_E_STORE_RETRY, "injected 503 SlowDown");
    }
    return FL_OK;
}
static fl_rc flaky_get(void *impl, fl_str key, uint64_t off, uint64_t len, fl_buf *out, fl_store_meta *m,
                       fl_err *err)
{
    flaky *f = impl;
    if (f->fail_next > 0) {
        fl_buf_append(out, "partial", 7); /* a failed try that left bytes behind */
        return maybe_fail(f, err);
    }
    return fl_store_file_driver()->get(f->inner, key, off, len, out, m, err);
}
static fl_rc flaky_put(void *impl, fl_str key, const void *d, size_t n, uint32_t flags, fl_err *err)
{
    flaky *f = impl;
    fl_rc rc = maybe_fail(f, err);
    if (rc) return rc;
    rc = fl_store_file_driver()->put(f->inner, key, d, n, flags, err);
    if (!rc && f->fail_after_put > 0) {
        f->fail_after_put--;
        return fl_err_set(err, FL_E_STORE_RETRY, "injected timeout after the write landed");
    }
    return rc;
}
static fl_rc flaky_head(void *impl, fl_str key, fl_store_meta *m, fl_err *err)
{
    flaky *f = impl;
    fl_rc rc = maybe_fail(f, err);
    return rc ? rc : fl_store_file_driver()->head(f->inner, key, m, err);
}
static fl_rc flaky_del(void *impl, const fl_str *k, size_t n, fl_err *err)
{
    flaky *f = impl;
    fl_rc rc = maybe_fail(f, err);
    return rc ? rc : fl_store_file_driver()->del(f->inner, k, n, err);
}
typedef struct flaky_list_ctx {
    flaky *f;
    fl_store_list_fn fn;
    void *ctx;
    int delivered;
} flaky_list_ctx;
static fl_rc flaky_list_cb(void *ctx, const fl_store_entry *e, fl_err *err)
{
    flaky_list_ctx *c = ctx;
    if (c->f->list_fail_at > 0 && c->delivered == c->f->list_fail_at) {
        c->f->list_fail_at = 0;
        fl_err_set(err, FL_E_STORE_RETRY, "injected connection reset");
        return FL_E_STORE_RETRY;
    }
    c->delivered++;
    return c->fn(c->ctx, e, err);
}
static fl_rc flaky_list(void *impl, fl_str p, fl_str sa, uint32_t flags, fl_store_list_fn fn, void *ctx, fl_err *err)
{
    flaky *f = impl;
    flaky_list_ctx c = {f, fn, ctx, 0};
    return fl_store_file_driver()->list(f->inner, p, sa, flags, flaky_list_cb, &c, err);
}

static const fl_store_driver flaky_drv = {
    .scheme = "flaky", .open = flaky_open, .close = flaky_close, .get = flaky_get, .put = flaky_put,
    .head = flaky_head, .del = flaky_del, .list = flaky_list,
    /* no streaming writer: exercises the buffering front end */
};

static void test_retry(void)
{
    make_tmp("retry");
    fl_store_opts o;
    fl_store_opts_default(&o);
    o.retry_base_ms = 1;
    o.retry_cap_ms = 4;
    o.retry_max_attempts = 4;
    memset(&g_flaky, 0, sizeof g_flaky);
    fl_store *st = NULL;
    fl_err err;
    CHECK_EQ_INT(fl_store_open_driver(&flaky_drv, tmpdir, &o, &st, &err), FL_OK);
    /* transient failures below the limit are absorbed */
    g_flaky.fail_next = 3;
    CHECK_EQ_INT(fl_store_put(st, FL_STR("k"), "data", 4, 0, &err), FL_OK);
    CHECK_EQ_INT(g_flaky.calls, 4);
    /* a get whose failed tries left partial bytes returns clean content */
    g_flaky.fail_next = 2;
    fl_buf b;
    fl_buf_init(&b, 0);
    fl_buf_append(&b, "pre:", 4);
    CHECK_EQ_INT(fl_store_get(st, FL_STR("k"), &b, NULL, &err), FL_OK);
    CHECK_EQ_MEM(b.ptr, b.len, "pre:data");
    /* too many failures: the retriable error comes back */
    g_flaky.fail_next = 10;
    CHECK_EQ_INT(fl_store_head(st, FL_STR("k"), NULL, &err), FL_E_STORE_RETRY);
    CHECK(fl_err_is_retriable(&err));
    g_flaky.fail_next = 0;
    /* non-retriable errors are not retried */
    g_flaky.calls = 0;
    CHECK_EQ_INT(fl_store_head(st, FL_STR("missing"), NULL, &err), FL_E_NOT_FOUND);
    CHECK_EQ_INT(g_flaky.calls, 1);
    /* put-if-absent whose first try landed but reported a timeout: the retry sees
       "exists", finds its own bytes, and reports success (no false conflict) */
    g_flaky.fail_after_put = 1;
    CHECK_EQ_INT(fl_store_put(st, FL_STR("log/1.json"), "mine", 4, FL_STORE_IF_ABSENT, &err), FL_OK);
    /* ... but different bytes under the key are a real conflict */
    CHECK_EQ_INT(fl_store_put(st, FL_STR("log/2.json"), "other", 5, FL_STORE_IF_ABSENT, &err), FL_OK);
    g_flaky.fail_next = 1;
    CHECK_EQ_INT(fl_store_put(st, FL_STR("log/2.json"), "mine", 4, FL_STORE_IF_ABSENT, &err), FL_E_EXISTS);
    /* a listing that breaks midway resumes after the last delivered key: no duplicates */
    for (int i = 0; i < 10; i++) {
        char k[32];
        snprintf(k, sizeof k, "l/%02d", i);
        put_s(st, k, "x");
    }
    g_flaky.list_fail_at = 4;
    collect c = {0};
    CHECK_EQ_INT(fl_store_list(st, FL_STR("l/"), FL_STR_NULL, 0, collect_cb, &c, &err), FL_OK);
    CHECK_EQ_INT(c.n, 10);
    CHECK_EQ_STR(c.keys[4], "l/04");
    CHECK_EQ_STR(c.keys[9], "l/09");
    /* buffering writer on a driver without streaming support */
    fl_store_writer *w;
    CHECK_EQ_INT(fl_store_writer_open(st, FL_STR("w/obj"), 0, &w, &err), FL_OK);
    CHECK_EQ_INT(fl_store_writer_write(w, "ab", 2, &err), FL_OK);
    CHECK_EQ_INT(fl_store_writer_write(w, "cd", 2, &err), FL_OK);
    CHECK_EQ_INT(fl_store_writer_commit(w, NULL, &err), FL_OK);
    fl_buf_clear(&b);
    CHECK_EQ_INT(fl_store_get(st, FL_STR("w/obj"), &b, NULL, &err), FL_OK);
    CHECK_EQ_MEM(b.ptr, b.len, "abcd");
    fl_buf_reset(&b);
    fl_store_close(st);
    fl_rm_rf(tmpdir, NULL);
}

static void test_backoff(void)
{
    fl_store_retry r = {6, 10, 100};
    for (uint32_t a = 1; a <= 8; a++) {
        uint32_t ceil = a == 1 ? 10 : a == 2 ? 20 : a == 3 ? 40 : a == 4 ? 80 : 100;
        for (int i = 0; i < 50; i++) CHECK(fl_store_backoff_ms(&r, a) <= ceil);
    }
    /* jitter: not always the same value */
    uint32_t first = fl_store_backoff_ms(&r, 5);
    bool differs = false;
    for (int i = 0; i < 100 && !differs; i++) differs = fl_store_backoff_ms(&r, 5) != first;
    CHECK(differs);
}

int main(void)
{
    RUN(test_url_parse);
    RUN(test_key_valid);
    RUN(test_put_get_head);
    RUN(test_if_absent);
    RUN(test_if_absent_race);
    RUN(test_list);
    RUN(test_writer);
    RUN(test_retry);
    RUN(test_backoff);
    return testhelp_done();
}
