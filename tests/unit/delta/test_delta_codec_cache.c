/* test_delta_codec_cache.c - a txn's data files share one set of compression contexts
 * (fl_pq_codec_cache): files written through it are byte-identical to files written with
 * the writer's own contexts, the first file and later ones alike, for ZSTD and GZIP. */
#include "fhirlake/delta.h"
#include "fhirlake/os.h"
#include "testhelp.h"

#include <unistd.h>

static char dir[256];

/* id STRING, n LONG, v STRING rows; enough of them for several ZSTD pages. */
static void put_rows(fl_pq_writer *w, int n)
{
    for (int i = 0; i < n; i++) {
        char id[32], v[48];
        snprintf(id, sizeof id, "id%09d", i);
        snprintf(v, sizeof v, "value-%d-%d", i, i % 7);
        fl_pq_writer_put_str(w, fl_str_c(id));
        fl_pq_writer_put_i64(w, (int64_t)i * 3);
        if (i % 5) fl_pq_writer_put_str(w, fl_str_c(v));
        else fl_pq_writer_put_null(w);
        fl_pq_writer_end_row(w);
    }
}

static void write_plain(const fl_pq_schema *ps, const fl_pq_write_opts *o, int rows, fl_buf *out)
{
    fl_err err;
    fl_pq_writer *w = NULL;
    CHECK_EQ_INT(fl_pq_writer_new(ps, o, fl_pq_sink_buf, out, &w, &err), FL_OK);
    put_rows(w, rows);
    CHECK_EQ_INT(fl_pq_writer_finish(w, &err), FL_OK);
    fl_pq_writer_free(w);
}

static void test_same_bytes(fl_pq_codec codec)
{
    fl_err err;
    fl_pq_schema *ps = NULL;
    CHECK_EQ_INT(fl_pq_schema_new(&ps, &err), FL_OK);
    fl_pq_schema_add(ps, 0, "id", FL_PQ_REQUIRED, fl_pq_t_string());
    fl_pq_schema_add(ps, 0, "n", FL_PQ_OPTIONAL, fl_pq_t_i64());
    fl_pq_schema_add(ps, 0, "v", FL_PQ_OPTIONAL, fl_pq_t_string());
    fl_pq_write_opts o;
    fl_pq_write_opts_default(&o);
    o.codec = codec;
    o.page_size = 64 * 1024;
    fl_buf own, c1, c2;
    fl_buf_init(&own, 0);
    fl_buf_init(&c1, 0);
    fl_buf_init(&c2, 0);
    write_plain(ps, &o, 30000, &own);
    fl_pq_codec_cache *cc = NULL;
    CHECK_EQ_INT(fl_pq_codec_cache_new(&cc, &err), FL_OK);
    o.codec_cache = cc;
    write_plain(ps, &o, 30000, &c1);
    write_plain(ps, &o, 30000, &c2);
    CHECK(own.len > 1000);
    CHECK_EQ_INT(c1.len, own.len);
    CHECK_EQ_INT(c2.len, own.len);
    CHECK(c1.len == own.len && memcmp(c1.ptr, own.ptr, own.len) == 0);
    CHECK(c2.len == own.len && memcmp(c2.ptr, own.ptr, own.len) == 0);
    fl_pq_codec_cache_free(cc);
    fl_pq_codec_cache_free(NULL);
    fl_buf_reset(&own);
    fl_buf_reset(&c1);
    fl_buf_reset(&c2);
    fl_pq_schema_free(ps);
}

static void test_writer_cache(void)
{
    test_same_bytes(FL_PQ_ZSTD);
    test_same_bytes(FL_PQ_GZIP);
}

/* Two files of one txn (the second through the txn's warm cache) hold the same bytes. */
static void test_txn_files(void)
{
    snprintf(dir, sizeof dir, "/tmp/fl_dcc_%d", (int)getpid());
    fl_rm_rf(dir, NULL);
    fl_err err;
    fl_store *st = NULL;
    CHECK_EQ_INT(fl_store_open(dir, NULL, &st, &err), FL_OK);
    fl_delta_table *t = NULL;
    CHECK_EQ_INT(fl_delta_table_open(st, NULL, &t, &err), FL_OK);
    fl_delta_schema *s = NULL;
    CHECK_EQ_INT(fl_delta_schema_new(&s, &err), FL_OK);
    fl_delta_schema_add(s, NULL, "id", fl_delta_schema_prim(s, FL_DELTA_T_STRING), false);
    fl_delta_schema_add(s, NULL, "n", fl_delta_schema_prim(s, FL_DELTA_T_LONG), true);
    fl_delta_schema_add(s, NULL, "v", fl_delta_schema_prim(s, FL_DELTA_T_STRING), true);
    fl_delta_create_opts co = {.schema = fl_delta_schema_root(s)};
    CHECK_EQ_INT(fl_delta_table_create(t, &co, NULL, &err), FL_OK);
    fl_delta_schema_free(s);
    fl_delta_txn *txn = NULL;
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    for (int f = 0; f < 2; f++) {
        fl_pq_writer *w = NULL;
        CHECK_EQ_INT(fl_delta_txn_file_open(txn, NULL, 0, NULL, &w, &err), FL_OK);
        put_rows(w, 20000);
        CHECK_EQ_INT(fl_delta_txn_file_close(txn, &err), FL_OK);
    }
    CHECK_EQ_INT(fl_delta_txn_commit(txn, NULL, &err), FL_OK);
    fl_delta_txn_free(txn);
    fl_delta_snapshot *snap = NULL;
    CHECK_EQ_INT(fl_delta_snapshot_load(t, -1, &snap, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_snapshot_num_files(snap), 2);
    fl_buf b[2];
    for (size_t i = 0; i < 2; i++) {
        fl_buf_init(&b[i], 0);
        const fl_delta_file *f = fl_delta_snapshot_get_file(snap, i);
        CHECK_EQ_INT(fl_store_get(st, f->path, &b[i], NULL, &err), FL_OK);
    }
    CHECK(b[0].len > 1000);
    CHECK(b[0].len == b[1].len && memcmp(b[0].ptr, b[1].ptr, b[0].len) == 0);
    fl_buf_reset(&b[0]);
    fl_buf_reset(&b[1]);
    fl_delta_snapshot_free(snap);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

int main(void)
{
    RUN(test_writer_cache);
    RUN(test_txn_files);
    return testhelp_done();
}
