/* test_delta_oom.c - allocation-failure torture for the Delta write and read paths.
 * A counting allocator (fl_set_allocator) fails the Nth allocation, for every N from 1
 * until the scenario runs through without hitting the failure: create a table, append a
 * data file with a txn id, commit, load the snapshot, write and read a checkpoint, MERGE
 * (a delete and a key replacement rewriting the file) and commit again. Each
 * run must end in FL_OK or a clean error code (never a crash); ASan's leak check at exit
 * covers leaks on every error path. */
#include "fhirlake/delta.h"
#include "fhirlake/os.h"
#include "testhelp.h"

#include <unistd.h>

static long fail_at, count;
static bool failed;

static void *t_malloc(void *ctx, size_t n)
{
    (void)ctx;
    if (++count == fail_at) {
        failed = true;
        return NULL;
    }
    return malloc(n);
}
static void *t_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    if (++count == fail_at) {
        failed = true;
        return NULL;
    }
    return realloc(p, n);
}
static void t_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static char dir[256];

/* The scenario; returns the first error code (FL_OK when everything worked). */
static fl_rc scenario(void)
{
    fl_err err;
    fl_store *st = NULL;
    fl_delta_table *t = NULL;
    fl_delta_schema *s = NULL;
    fl_delta_txn *txn = NULL;
    fl_delta_snapshot *snap = NULL, *snap2 = NULL;
    fl_delta_merge *m = NULL;
    fl_rc rc = FL_OK;
    fl_rm_rf(dir, NULL);
    FL_TRY(fl_store_open(dir, NULL, &st, &err));
    FL_TRY(fl_delta_table_open(st, NULL, &t, &err));
    FL_TRY(fl_delta_schema_new(&s, &err));
    fl_delta_schema_add(s, NULL, "id", fl_delta_schema_prim(s, FL_DELTA_T_LONG), false);
    fl_delta_schema_add(s, NULL, "name", fl_delta_schema_prim(s, FL_DELTA_T_STRING), true);
    fl_delta_schema_add(s, NULL, "day", fl_delta_schema_prim(s, FL_DELTA_T_STRING), true);
    FL_TRY(fl_delta_schema_check(s, &err));
    const char *pcs[] = {"day"};
    fl_delta_create_opts co = {.schema = fl_delta_schema_root(s), .partition_columns = pcs, .n_partition_columns = 1};
    FL_TRY(fl_delta_table_create(t, &co, NULL, &err));
    FL_TRY(fl_delta_txn_begin(t, &txn, &err));
    FL_TRY(fl_delta_txn_set_app(txn, FL_STR("oom"), 1, &err));
    fl_pq_writer *w = NULL;
    fl_delta_kv pv = {FL_STR("day"), FL_STR("2024-01-01"), true};
    FL_TRY(fl_delta_txn_file_open(txn, &pv, 1, NULL, &w, &err));
    for (int i = 0; i < 20; i++) {
        fl_pq_writer_put_i64(w, i);
        fl_pq_writer_put_str(w, FL_STR("some name"));
        fl_pq_writer_end_row(w);
    }
    FL_TRY(fl_delta_txn_file_close(txn, &err));
    FL_TRY(fl_delta_txn_commit(txn, NULL, &err));
    FL_TRY(fl_delta_snapshot_load(t, -1, &snap, &err));
    FL_TRY(fl_delta_snapshot_write_checkpoint(t, snap, &err));
    FL_TRY(fl_delta_snapshot_load(t, -1, &snap2, &err));
    if (fl_delta_snapshot_num_records(snap2) != 20) {
        rc = FL_E_INTERNAL;
        goto done;
    }
    /* MERGE: delete id 3 and replace id 5 (key only) in the partitioned file */
    fl_delta_txn_free(txn);
    txn = NULL;
    FL_TRY(fl_delta_txn_begin(t, &txn, &err));
    const char *keys[] = {"id"};
    fl_delta_merge_opts mo = {.key_columns = keys, .n_key_columns = 1};
    FL_TRY(fl_delta_merge_new(txn, &mo, &m, &err));
    fl_pq_val items[3] = {{.kind = FL_PQ_V_I64, .v.i64 = 3}, {.kind = FL_PQ_V_NULL}, {.kind = FL_PQ_V_NULL}};
    fl_pq_val row = {.kind = FL_PQ_V_STRUCT, .n = 3, .v.items = items};
    FL_TRY(fl_delta_merge_add_delete(m, &row, &err));
    items[0].v.i64 = 5;
    FL_TRY(fl_delta_merge_add_key(m, &row, &err));
    FL_TRY(fl_delta_merge_run(m, NULL, &err));
    FL_TRY(fl_delta_txn_commit(txn, NULL, &err));
    fl_delta_snapshot_free(snap2);
    snap2 = NULL;
    FL_TRY(fl_delta_snapshot_load(t, -1, &snap2, &err));
    if (fl_delta_snapshot_num_records(snap2) != 18) rc = FL_E_INTERNAL;
done:
    fl_delta_merge_free(m);
    fl_delta_snapshot_free(snap2);
    fl_delta_snapshot_free(snap);
    fl_delta_txn_free(txn);
    fl_delta_schema_free(s);
    fl_delta_table_close(t);
    fl_store_close(st);
    return rc;
}

static void test_torture(void)
{
    snprintf(dir, sizeof dir, "/tmp/fl_doom_%d", (int)getpid());
    fl_alloc alc = {t_malloc, t_realloc, t_free, NULL};
    fl_set_allocator(&alc);
    int runs = 0, clean_errors = 0;
    for (fail_at = 1; fail_at < 200000; fail_at++) {
        count = 0;
        failed = false;
        fl_rc rc = scenario();
        runs++;
        if (!failed) {
            CHECK_EQ_INT(rc, FL_OK); /* no injected failure: the scenario must pass */
            break;
        }
        /* an injected failure may be absorbed (e.g. an optional checkpoint); otherwise it
         * must surface as an error code */
        if (rc != FL_OK) clean_errors++;
        CHECK_MSG(rc != FL_E_INTERNAL, "fail_at %ld: wrong result after an absorbed failure", fail_at);
    }
    fl_set_allocator(NULL);
    fprintf(stderr, "torture: %d runs (allocations in a full run: %ld), %d ended in an error code\n", runs, count,
            clean_errors);
    CHECK(runs > 100);
    fl_rm_rf(dir, NULL);
}

int main(void)
{
    RUN(test_torture);
    return testhelp_done();
}
