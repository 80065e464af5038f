/* bench_delta.c - Delta module throughput: commits per second (each commit writes one
 * small Parquet data file through the txn and commits it, fsync included) and snapshot
 * load time of the resulting log, with and without checkpoints.
 *   bench_delta write DIR COMMITS ROWS [nocheckpoint]   create DIR and commit COMMITS times
 *   bench_delta load DIR REPEAT                         load the latest snapshot REPEAT times
 *   bench_delta files DIR NFILES PER_COMMIT             log-only table with NFILES adds (stats
 *                                                       JSON, no data files), for load scaling
 * Prints one "key value" line per figure. */
#include "fhirlake/delta.h"
#include "fhirlake/os.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int die(const char *what, const fl_err *err)
{
    fprintf(stderr, "bench_delta: %s: %s\n", what, err->msg);
    return 1;
}

static int bench_write(const char *dir, int commits, int rows, bool nocp)
{
    fl_err err;
    fl_store *st = NULL;
    fl_delta_table *t = NULL;
    fl_rm_rf(dir, NULL);
    if (fl_store_open(dir, NULL, &st, &err)) return die("open", &err);
    fl_delta_opts o;
    fl_delta_opts_default(&o);
    o.no_checkpoints = nocp;
    if (fl_delta_table_open(st, &o, &t, &err)) return die("table", &err);
    fl_delta_schema *s = NULL;
    fl_delta_schema_new(&s, &err);
    fl_delta_schema_add(s, NULL, "id", fl_delta_schema_prim(s, FL_DELTA_T_LONG), false);
    fl_delta_schema_add(s, NULL, "name", fl_delta_schema_prim(s, FL_DELTA_T_STRING), true);
    fl_delta_schema_add(s, NULL, "ts", fl_delta_schema_prim(s, FL_DELTA_T_TIMESTAMP), true);
    fl_delta_create_opts co = {.schema = fl_delta_schema_root(s)};
    if (fl_delta_table_create(t, &co, NULL, &err)) return die("create", &err);
    fl_delta_schema_free(s);
    uint64_t t0 = fl_clock_mono_ns();
    for (int c = 0; c < commits; c++) {
        fl_delta_txn *txn = NULL;
        if (fl_delta_txn_begin(t, &txn, &err)) return die("begin", &err);
        fl_delta_txn_set_app(txn, FL_STR("bench"), c, &err);
        fl_pq_writer *w = NULL;
        if (fl_delta_txn_file_open(txn, NULL, 0, NULL, &w, &err)) return die("file", &err);
        for (int r = 0; r < rows; r++) {
            char name[32];
            snprintf(name, sizeof name, "name-%d-%d", c, r);
            fl_pq_writer_put_i64(w, (int64_t)c * rows + r);
            fl_pq_writer_put_str(w, fl_str_c(name));
            fl_pq_writer_put_i64(w, 1700000000000000LL + r);
            fl_pq_writer_end_row(w);
        }
        if (fl_delta_txn_file_close(txn, &err)) return die("close", &err);
        if (fl_delta_txn_commit(txn, NULL, &err)) return die("commit", &err);
        fl_delta_txn_free(txn);
    }
    double secs = (double)(fl_clock_mono_ns() - t0) / 1e9;
    printf("commits %d\nwrite_seconds %.3f\ncommits_per_sec %.1f\n", commits, secs, commits / secs);
    fl_delta_table_close(t);
    fl_store_close(st);
    return 0;
}

static int bench_files(const char *dir, int nfiles, int per_commit)
{
    fl_err err;
    fl_store *st = NULL;
    fl_delta_table *t = NULL;
    fl_rm_rf(dir, NULL);
    if (fl_store_open(dir, NULL, &st, &err) || fl_delta_table_open(st, NULL, &t, &err)) return die("open", &err);
    fl_delta_schema *s = NULL;
    fl_delta_schema_new(&s, &err);
    fl_delta_schema_add(s, NULL, "id", fl_delta_schema_prim(s, FL_DELTA_T_LONG), false);
    fl_delta_create_opts co = {.schema = fl_delta_schema_root(s)};
    if (fl_delta_table_create(t, &co, NULL, &err)) return die("create", &err);
    fl_delta_schema_free(s);
    uint64_t t0 = fl_clock_mono_ns();
    for (int done = 0; done < nfiles;) {
        fl_delta_txn *txn = NULL;
        if (fl_delta_txn_begin(t, &txn, &err)) return die("begin", &err);
        for (int k = 0; k < per_commit && done < nfiles; k++, done++) {
            char path[96], stats[160];
            snprintf(path, sizeof path, "part-%08d-0b9c5a4e-1111-4222-8333-944455556666-c000.zstd.parquet", done);
            snprintf(stats, sizeof stats,
                     "{\"numRecords\":1000,\"minValues\":{\"id\":%d},\"maxValues\":{\"id\":%d},\"nullCount\":{\"id\":0}}",
                     done * 1000, done * 1000 + 999);
            fl_delta_file f = {.path = fl_str_c(path), .size = 123456, .modification_time = 1700000000000LL,
                               .data_change = true, .stats = fl_str_c(stats), .base_row_id = -1,
                               .default_row_commit_version = -1};
            if (fl_delta_txn_add_file(txn, &f, &err)) return die("add", &err);
        }
        if (fl_delta_txn_commit(txn, NULL, &err)) return die("commit", &err);
        fl_delta_txn_free(txn);
    }
    printf("files %d\nwrite_seconds %.3f\n", nfiles, (double)(fl_clock_mono_ns() - t0) / 1e9);
    fl_delta_table_close(t);
    fl_store_close(st);
    return 0;
}

static int bench_load(const char *dir, int repeat)
{
    fl_err err;
    fl_store *st = NULL;
    if (fl_store_open(dir, NULL, &st, &err)) return die("open", &err);
    double best = 1e9;
    size_t files = 0;
    int64_t version = -1;
    for (int i = 0; i < repeat; i++) {
        fl_delta_table *t = NULL;
        fl_delta_snapshot *s = NULL;
        uint64_t t0 = fl_clock_mono_ns();
        if (fl_delta_table_open(st, NULL, &t, &err) || fl_delta_snapshot_load(t, -1, &s, &err)) return die("load", &err);
        double ms = (double)(fl_clock_mono_ns() - t0) / 1e6;
        if (ms < best) best = ms;
        files = fl_delta_snapshot_num_files(s);
        version = fl_delta_snapshot_version(s);
        fl_delta_snapshot_free(s);
        fl_delta_table_close(t);
    }
    printf("version %lld\nfiles %zu\nload_ms_best %.2f\n", (long long)version, files, best);
    fl_store_close(st);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "write"))
        return bench_write(argv[2], atoi(argv[3]), atoi(argv[4]), argc > 5 && !strcmp(argv[5], "nocheckpoint"));
    if (argc >= 4 && !strcmp(argv[1], "load")) return bench_load(argv[2], atoi(argv[3]));
    if (argc >= 5 && !strcmp(argv[1], "files")) return bench_files(argv[2], atoi(argv[3]), atoi(argv[4]));
    fprintf(stderr, "usage: bench_delta write DIR COMMITS ROWS [nocheckpoint] | load DIR REPEAT\n");
    return 2;
}
