/* test_export.c - unit tests of module engine: the bounded queue and fl_engine_export on
 * small inputs (rows, bad lines, idempotent rerun, fail-fast commits nothing, bad views
 * rejected first, thread counts x tiny batches give the same rows, merge + --since +
 * Bulk Data deleted[] with remove and flag). */
#include "testhelp.h"

#include "engine/engine_int.h"
#include "fhirlake/delta.h"
#include "fhirlake/engine.h"
#include "fhirlake/os.h"
#include "fhirlake/store.h"
#include "fhirlake/view.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char g_dir[256];

static void put_file(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static const char *path_of(const char *name)
{
    static char bufs[8][512];
    static int next;
    char *p = bufs[next++ % 8];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

static int64_t table_records(const char *name, int64_t *version)
{
    fl_store *st = NULL;
    fl_delta_table *t = NULL;
    fl_delta_snapshot *s = NULL;
    fl_err err;
    int64_t n = -1;
    *version = -1;
    if (fl_store_open(path_of(name), NULL, &st, &err) == FL_OK && fl_delta_table_open(st, NULL, &t, &err) == FL_OK &&
        fl_delta_snapshot_load(t, -1, &s, &err) == FL_OK) {
        n = fl_delta_snapshot_num_records(s);
        *version = fl_delta_snapshot_version(s);
    }
    fl_delta_snapshot_free(s);
    fl_delta_table_close(t);
    fl_store_close(st);
    return n;
}

typedef struct bad_count {
    int n;
    uint64_t last_line;
} bad_count;

static void count_bad(void *ctx, const fl_engine_bad_line *b)
{
    bad_count *c = ctx;
    c->n++;
    c->last_line = b->line_no;
}

static const char *VIEW =
    "{\"resourceType\":\"ViewDefinition\",\"name\":\"pats\",\"status\":\"active\",\"resource\":\"Patient\","
    "\"select\":[{\"column\":[{\"name\":\"id\",\"path\":\"getResourceKey()\",\"type\":\"id\"},"
    "{\"name\":\"gender\",\"path\":\"gender\",\"type\":\"code\"},"
    "{\"name\":\"birth\",\"path\":\"birthDate\",\"type\":\"date\"},"
    "{\"name\":\"given\",\"path\":\"name.given\",\"type\":\"string\",\"collection\":true}]}]}";

static const char *INPUT =
    "{\"resourceType\":\"Patient\",\"id\":\"a\",\"gender\":\"male\",\"birthDate\":\"1990-01-02\",\"name\":[{\"given\":[\"A\",\"B\"]}]}\n"
    "{\"resourceType\":\"Observation\",\"id\":\"o1\"}\n"
    "{\"resourceType\":\"Patient\",\"id\":\"b\",\"gender\":\"female\"}\n"
    "not json at all\n"
    "{\"resourceType\":\"Patient\",\"id\":\"c\",\"birthDate\":\"2001\"}\n";

static void opts_for(fl_engine_export_opts *o, const char **views, const char **inputs, const char *target)
{
    fl_engine_export_opts_default(o);
    views[0] = path_of("view.json");
    inputs[0] = path_of("in.ndjson");
    o->views = views;
    o->n_views = 1;
    o->inputs = inputs;
    o->n_inputs = 1;
    o->target = target;
    o->threads = 2;
}

static void test_queue(void)
{
    eng_queue q;
    fl_err err;
    CHECK(eng_queue_init(&q, 2, &err) == FL_OK);
    int a = 1, b = 2;
    CHECK(eng_queue_push(&q, &a));
    CHECK(eng_queue_push(&q, &b));
    CHECK(eng_queue_pop(&q) == &a);
    CHECK(eng_queue_push(&q, &a));
    eng_queue_close(&q);
    CHECK(eng_queue_pop(&q) == &b); /* close drains what is left */
    CHECK(eng_queue_pop(&q) == &a);
    CHECK(eng_queue_pop(&q) == NULL);
    eng_queue_abort(&q);
    CHECK(!eng_queue_push(&q, &a));
    eng_queue_fini(&q);
}

static void test_append_and_rerun(void)
{
    fl_engine_export_opts o;
    const char *views[1], *inputs[1];
    opts_for(&o, views, inputs, path_of("out1"));
    bad_count bc = {0, 0};
    o.on_bad = count_bad;
    o.bad_ctx = &bc;
    fl_engine_export_result r;
    fl_err err;
    fl_rc rc = fl_engine_export(&o, &r, &err);
    CHECK_MSG(rc == FL_OK, "%s", err.msg);
    CHECK_EQ_INT(r.lines, 5);
    CHECK_EQ_INT(r.resources, 4);
    CHECK_EQ_INT(r.failed, 1);
    CHECK_EQ_INT(bc.n, 1);
    CHECK_EQ_INT(bc.last_line, 4);
    CHECK_EQ_INT(r.n_tables, 1);
    if (r.n_tables == 1) {
        CHECK_EQ_STR(r.tables[0].name, "pats");
        CHECK_EQ_INT(r.tables[0].rows, 3);
        CHECK_EQ_INT(r.tables[0].version, 1);
        CHECK(!r.tables[0].skipped);
        CHECK(r.tables[0].bytes > 0);
    }
    CHECK(strncmp(r.app_id, "fhirlake-export-", 16) == 0);
    char id[72];
    snprintf(id, sizeof id, "%s", r.export_id);
    fl_engine_export_result_free(&r);
    int64_t v;
    CHECK_EQ_INT(table_records("out1/pats", &v), 3);
    CHECK_EQ_INT(v, 1);

    /* same inputs, same views: the same id, nothing changes */
    rc = fl_engine_export(&o, &r, &err);
    CHECK(rc == FL_OK);
    CHECK_EQ_STR(r.export_id, id);
    CHECK(r.n_tables == 1 && r.tables[0].skipped);
    CHECK_EQ_INT(r.resources, 0); /* nothing was even read */
    fl_engine_export_result_free(&r);
    CHECK_EQ_INT(table_records("out1/pats", &v), 3);
    CHECK_EQ_INT(v, 1);

    /* another export id appends once more; overwrite replaces in one commit */
    o.export_id = "second";
    CHECK(fl_engine_export(&o, &r, &err) == FL_OK);
    fl_engine_export_result_free(&r);
    CHECK_EQ_INT(table_records("out1/pats", &v), 6);
    CHECK_EQ_INT(v, 2);
    o.export_id = "third";
    o.mode = FL_ENGINE_OVERWRITE;
    CHECK(fl_engine_export(&o, &r, &err) == FL_OK);
    fl_engine_export_result_free(&r);
    CHECK_EQ_INT(table_records("out1/pats", &v), 3);
    CHECK_EQ_INT(v, 3);
}

static void test_fail_fast(void)
{
    fl_engine_export_opts o;
    const char *views[1], *inputs[1];
    opts_for(&o, views, inputs, path_of("out2"));
    o.fail_fast = true;
    fl_engine_export_result r;
    fl_err err;
    fl_rc rc = fl_engine_export(&o, &r, &err);
    CHECK(rc == FL_E_CANCELLED);
    CHECK(strstr(err.msg, "in.ndjson:4") != NULL);
    fl_engine_export_result_free(&r);
    int64_t v;
    int64_t n = table_records("out2/pats", &v);
    CHECK(n <= 0); /* created empty at most, never the data */
    CHECK(v <= 0);
}

static void test_bad_view(void)
{
    put_file("bad.json", "{\"resourceType\":\"ViewDefinition\",\"status\":\"active\",\"resource\":\"Patient\","
                         "\"select\":[{\"column\":[{\"name\":\"x\",\"path\":\"name.where(\"}]}]}");
    fl_engine_export_opts o;
    const char *views[2], *inputs[1];
    opts_for(&o, views, inputs, path_of("out3"));
    views[1] = path_of("bad.json");
    o.n_views = 2;
    inputs[0] = path_of("does-not-exist.ndjson"); /* the view must fail first */
    fl_engine_export_result r;
    fl_err err;
    fl_rc rc = fl_engine_export(&o, &r, &err);
    CHECK(rc != FL_OK && rc != FL_E_NOT_FOUND);
    CHECK(strstr(err.msg, "bad.json") != NULL);
    fl_engine_export_result_free(&r);
    CHECK(!fl_path_exists(path_of("out3"), NULL, NULL));
}

static void test_threads_and_batches(void)
{
    /* 2,000 patients over 3 files; every thread count and a batch of 3 rows */
    fl_buf b;
    fl_buf_init(&b, 0);
    for (int f = 0; f < 3; f++) {
        fl_buf_clear(&b);
        for (int i = 0; i < 700; i++)
            fl_buf_printf(&b, "{\"resourceType\":\"Patient\",\"id\":\"p%d-%d\",\"gender\":\"%s\",\"name\":[{\"given\":[\"x\"]}]}\n", f,
                          i, i % 2 ? "male" : "female");
        char name[32];
        snprintf(name, sizeof name, "many%d.ndjson", f);
        put_file(name, b.ptr);
    }
    fl_buf_reset(&b);
    const unsigned threads[] = {1, 3, 8};
    for (size_t k = 0; k < 3; k++) {
        fl_engine_export_opts o;
        const char *views[1], *inputs[3];
        char target[64];
        snprintf(target, sizeof target, "many-out-%u", threads[k]);
        opts_for(&o, views, inputs, path_of(target));
        inputs[0] = path_of("many0.ndjson");
        inputs[1] = path_of("many1.ndjson");
        inputs[2] = path_of("many2.ndjson");
        o.n_inputs = 3;
        o.threads = threads[k];
        o.batch_rows = 3;
        o.target_file_size = 4096; /* several data files */
        fl_engine_export_result r;
        fl_err err;
        fl_rc rc = fl_engine_export(&o, &r, &err);
        CHECK_MSG(rc == FL_OK, "%s", err.msg);
        CHECK_EQ_INT(r.resources, 2100);
        CHECK(r.n_tables == 1 && r.tables[0].rows == 2100 && r.tables[0].files > 1);
        fl_engine_export_result_free(&r);
        char tbl[96];
        snprintf(tbl, sizeof tbl, "%s/pats", target);
        int64_t v;
        CHECK_EQ_INT(table_records(tbl, &v), 2100);
    }
}

/* merge: one row per id, the newest version wins, Bulk Data deleted[] removes (or flags);
 * --since keeps only newer resources. Checked through the table's record counts. */
static void test_merge_since_deletes(void)
{
    put_file("m0.ndjson", "{\"resourceType\":\"Patient\",\"id\":\"a\",\"gender\":\"male\"}\n"
                          "{\"resourceType\":\"Patient\",\"id\":\"b\",\"gender\":\"male\"}\n"
                          "{\"resourceType\":\"Patient\",\"id\":\"c\",\"gender\":\"male\"}\n");
    char dir[600];
    snprintf(dir, sizeof dir, "%s/inc", g_dir);
    fl_err err;
    CHECK(fl_mkdir_p(dir, &err) == FL_OK);
    put_file("inc/p.ndjson",
             "{\"resourceType\":\"Patient\",\"id\":\"a\",\"gender\":\"x\",\"meta\":{\"lastUpdated\":\"2030-01-02T00:00:00Z\"}}\n"
             "{\"resourceType\":\"Patient\",\"id\":\"a\",\"gender\":\"y\",\"meta\":{\"lastUpdated\":\"2030-01-01T00:00:00Z\"}}\n"
             "{\"resourceType\":\"Patient\",\"id\":\"d\",\"meta\":{\"lastUpdated\":\"2030-01-01T00:00:00Z\"}}\n"
             "{\"resourceType\":\"Patient\",\"id\":\"e\",\"meta\":{\"lastUpdated\":\"2001-01-01T00:00:00Z\"}}\n");
    put_file("inc/d.ndjson", "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[{\"request\":"
                             "{\"method\":\"DELETE\",\"url\":\"Patient/b\"}}]}\n");
    put_file("inc/manifest.json", "{\"output\":[{\"type\":\"Patient\",\"url\":\"https://x/y/p.ndjson\"}],"
                                  "\"deleted\":[{\"type\":\"Bundle\",\"url\":\"d.ndjson\"}]}");
    for (int flag = 0; flag < 2; flag++) {
        fl_engine_export_opts o;
        const char *views[1], *inputs[1];
        char target[64];
        snprintf(target, sizeof target, "merge-%d", flag);
        opts_for(&o, views, inputs, path_of(target));
        inputs[0] = path_of("m0.ndjson");
        o.mode = FL_ENGINE_MERGE;
        o.deletes_flag = flag == 1;
        fl_engine_export_result r;
        CHECK(fl_engine_export(&o, &r, &err) == FL_OK);
        fl_engine_export_result_free(&r);
        inputs[0] = dir;
        o.has_since = true;
        CHECK(fl_view_parse_timestamp(fl_str_c("2020-01-01T00:00:00Z"), &o.since_us));
        fl_rc rc = fl_engine_export(&o, &r, &err);
        CHECK_MSG(rc == FL_OK, "%s", err.msg);
        CHECK_EQ_INT(r.deleted, 1);
        CHECK_EQ_INT(r.filtered, 2); /* e (before --since) and the older version of a */
        CHECK(r.n_tables == 1 && r.tables[0].rows == 2); /* a (newest) and d */
        fl_engine_export_result_free(&r);
        char tbl[96];
        snprintf(tbl, sizeof tbl, "%s/pats", target);
        int64_t v;
        /* a (replaced), c, d, and b only when flagged */
        CHECK_EQ_INT(table_records(tbl, &v), flag ? 4 : 3);
        CHECK_EQ_INT(v, 2);
    }
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/fl-engine-test-XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    put_file("view.json", VIEW);
    put_file("in.ndjson", INPUT);
    RUN(test_queue);
    RUN(test_append_and_rerun);
    RUN(test_fail_fast);
    RUN(test_bad_view);
    RUN(test_threads_and_batches);
    RUN(test_merge_since_deletes);
    fl_err err;
    fl_rm_rf(g_dir, &err);
    return testhelp_done();
}
