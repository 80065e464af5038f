/* test_delta_concurrency.c - multi-process safety of Delta commits on the file store.
 *  - concurrency: 8 processes append 50 commits each (one Parquet file per commit, txn
 *    appId per process) to one table: 400 contiguous versions, every row exactly once;
 *  - crash: a writer doing 200 idempotent commits is SIGKILLed at random moments and
 *    restarted with the same txn ids until it finishes: the table stays loadable after
 *    every kill, no partial commit is ever visible, and no batch is committed twice.
 * Rows are checked by reading the data files back with the Parquet reader. */
#include "fhirlake/delta.h"
#include "fhirlake/os.h"
#include "fhirlake/parquet.h"
#include "testhelp.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define WRITERS 8
#define COMMITS_PER_WRITER 50
#define ROWS_PER_COMMIT 3
#define CRASH_COMMITS 200

static char dir[256];

static fl_delta_schema *schema(void)
{
    fl_delta_schema *s = NULL;
    fl_delta_schema_new(&s, NULL);
    fl_delta_schema_add(s, NULL, "id", fl_delta_schema_prim(s, FL_DELTA_T_LONG), false);
    fl_delta_schema_add(s, NULL, "who", fl_delta_schema_prim(s, FL_DELTA_T_STRING), true);
    return s;
}

static void create_table(void)
{
    fl_rm_rf(dir, NULL);
    fl_store *st = NULL;
    fl_delta_table *t = NULL;
    fl_err err;
    fl_store_open(dir, NULL, &st, &err);
    fl_delta_table_open(st, NULL, &t, &err);
    fl_delta_schema *s = schema();
    fl_delta_create_opts co = {.schema = fl_delta_schema_root(s)};
    CHECK_EQ_INT(fl_delta_table_create(t, &co, NULL, &err), FL_OK);
    fl_delta_schema_free(s);
    fl_delta_table_close(t);
    fl_store_close(st);
}

/* One idempotent commit of batch `batch` for app `app`: rows ids base..base+ROWS-1.
 * Returns FL_OK, FL_E_DELTA_DUPLICATE, or an error. */
static fl_rc commit_batch(fl_delta_table *t, const char *app, int64_t batch, int64_t base, uint32_t *attempts,
                          fl_err *err)
{
    fl_delta_txn *txn = NULL;
    fl_rc rc = fl_delta_txn_begin(t, &txn, err);
    if (rc) return rc;
    rc = fl_delta_txn_set_app(txn, fl_str_c(app), batch, err);
    if (rc == FL_OK) {
        fl_pq_writer *w = NULL;
        rc = fl_delta_txn_file_open(txn, NULL, 0, NULL, &w, err);
        for (int r = 0; !rc && r < ROWS_PER_COMMIT; r++) {
            fl_pq_writer_put_i64(w, base + r);
            fl_pq_writer_put_str(w, fl_str_c(app));
            rc = fl_pq_writer_end_row(w);
        }
        if (!rc) rc = fl_delta_txn_file_close(txn, err);
        fl_delta_commit_result res;
        if (!rc) rc = fl_delta_txn_commit(txn, &res, err);
        if (attempts && res.attempts > *attempts) *attempts = res.attempts;
    }
    fl_delta_txn_free(txn);
    return rc;
}

static int writer_main(int id)
{
    fl_store *st = NULL;
    fl_delta_table *t = NULL;
    fl_err err;
    if (fl_store_open(dir, NULL, &st, &err)) return 10;
    fl_delta_opts o;
    fl_delta_opts_default(&o);
    o.max_commit_attempts = 1000; /* 8 writers on 2 cores: do not give up in the test */
    if (fl_delta_table_open(st, &o, &t, &err)) return 11;
    char app[32];
    snprintf(app, sizeof app, "writer-%d", id);
    uint32_t max_attempts = 0;
    for (int i = 0; i < COMMITS_PER_WRITER; i++) {
        fl_rc rc = commit_batch(t, app, i, ((int64_t)id * 1000 + i) * ROWS_PER_COMMIT, &max_attempts, &err);
        if (rc) {
            fprintf(stderr, "writer %d batch %d: %s\n", id, i, err.msg);
            return 12;
        }
    }
    fprintf(stderr, "writer %d done (max attempts for one commit: %u)\n", id, max_attempts);
    fl_delta_table_close(t);
    fl_store_close(st);
    return 0;
}

/* Read every id of the snapshot's files; counts[id]++ (ids < cap). Returns rows read. */
static int64_t read_ids(const fl_delta_snapshot *s, int *counts, int64_t cap)
{
    int64_t rows = 0;
    for (size_t i = 0; i < fl_delta_snapshot_num_files(s); i++) {
        const fl_delta_file *f = fl_delta_snapshot_get_file(s, i);
        char path[768];
        snprintf(path, sizeof path, "%s/%.*s", dir, (int)f->path.len, f->path.ptr);
        fl_pq_reader *r = NULL;
        fl_err err;
        fl_rc rc = fl_pq_reader_open_file(path, NULL, &r, &err);
        CHECK_MSG(rc == FL_OK, "%s", err.msg);
        if (rc) continue;
        fl_arena a;
        fl_arena_init(&a, 0, 0);
        for (int rg = 0; rg < fl_pq_reader_num_row_groups(r); rg++) {
            fl_pq_column col;
            CHECK_EQ_INT(fl_pq_reader_read_column(r, rg, 0, &a, &col, &err), FL_OK);
            const int64_t *ids = col.values;
            for (size_t k = 0; k < col.num_values; k++) {
                if (ids[k] >= 0 && ids[k] < cap) counts[ids[k]]++;
                rows++;
            }
        }
        fl_arena_fini(&a);
        fl_pq_reader_free(r);
    }
    return rows;
}

static void test_concurrent_writers(void)
{
    snprintf(dir, sizeof dir, "/tmp/fl_dconc_%d", (int)getpid());
    create_table();
    uint64_t t0 = fl_clock_mono_ns();
    pid_t pids[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        pids[i] = fork();
        if (pids[i] == 0) _exit(writer_main(i));
    }
    for (int i = 0; i < WRITERS; i++) {
        int status = 0;
        waitpid(pids[i], &status, 0);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d status %d", i, status);
    }
    fprintf(stderr, "%d writers x %d commits: %.2f s\n", WRITERS, COMMITS_PER_WRITER,
            (double)(fl_clock_mono_ns() - t0) / 1e9);
    fl_store *st = NULL;
    fl_delta_table *t = NULL;
    fl_delta_snapshot *s = NULL;
    fl_err err;
    fl_store_open(dir, NULL, &st, &err);
    fl_delta_table_open(st, NULL, &t, &err);
    CHECK_EQ_INT(fl_delta_snapshot_load(t, -1, &s, &err), FL_OK); /* also checks contiguity */
    if (s) {
        CHECK_EQ_INT(fl_delta_snapshot_version(s), WRITERS * COMMITS_PER_WRITER);
        CHECK_EQ_INT(fl_delta_snapshot_num_files(s), WRITERS * COMMITS_PER_WRITER);
        CHECK_EQ_INT(fl_delta_snapshot_num_records(s), WRITERS * COMMITS_PER_WRITER * ROWS_PER_COMMIT);
        for (int i = 0; i < WRITERS; i++) {
            char app[32];
            snprintf(app, sizeof app, "writer-%d", i);
            int64_t v = -1;
            CHECK(fl_delta_snapshot_get_app_version(s, fl_str_c(app), &v));
            CHECK_EQ_INT(v, COMMITS_PER_WRITER - 1);
        }
        int64_t cap = (int64_t)WRITERS * 1000 * ROWS_PER_COMMIT;
        int *counts = calloc((size_t)cap, sizeof *counts);
        int64_t rows = read_ids(s, counts, cap);
        CHECK_EQ_INT(rows, WRITERS * COMMITS_PER_WRITER * ROWS_PER_COMMIT);
        int bad = 0;
        for (int w = 0; w < WRITERS; w++)
            for (int i = 0; i < COMMITS_PER_WRITER; i++)
                for (int r = 0; r < ROWS_PER_COMMIT; r++)
                    if (counts[((int64_t)w * 1000 + i) * ROWS_PER_COMMIT + r] != 1) bad++;
        CHECK_EQ_INT(bad, 0);
        free(counts);
        fl_delta_snapshot_free(s);
    }
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

static int crash_writer_main(void)
{
    fl_store *st = NULL;
    fl_delta_table *t = NULL;
    fl_err err;
    if (fl_store_open(dir, NULL, &st, &err) || fl_delta_table_open(st, NULL, &t, &err)) return 10;
    for (int i = 0; i < CRASH_COMMITS; i++) {
        fl_rc rc = commit_batch(t, "crashy", i, (int64_t)i * ROWS_PER_COMMIT, NULL, &err);
        if (rc && rc != FL_E_DELTA_DUPLICATE) {
            fprintf(stderr, "crash writer batch %d: %s\n", i, err.msg);
            return 12;
        }
    }
    fl_delta_table_close(t);
    fl_store_close(st);
    return 0;
}

static void test_crash_recovery(void)
{
    snprintf(dir, sizeof dir, "/tmp/fl_dcrash_%d", (int)getpid());
    create_table();
    int kills = 0, runs = 0;
    bool finished = false;
    fl_store *st = NULL;
    fl_delta_table *t = NULL;
    fl_err err;
    fl_store_open(dir, NULL, &st, &err);
    fl_delta_table_open(st, NULL, &t, &err);
    while (!finished && runs < 400) {
        runs++;
        pid_t pid = fork();
        if (pid == 0) _exit(crash_writer_main());
        /* kill windows widen as the log grows (a restarted writer first replays it) */
        uint32_t wait_us = (uint32_t)(fl_random_u64() % (20000u + (uint32_t)runs * 4000u));
        usleep(wait_us);
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            kills++;
        }
        if (WIFEXITED(status)) {
            CHECK_MSG(WEXITSTATUS(status) == 0, "writer exit %d", WEXITSTATUS(status));
            finished = WEXITSTATUS(status) == 0;
            if (WEXITSTATUS(status) != 0) break;
        }
        /* after every kill the table must load (no torn or partial commit visible) */
        fl_delta_snapshot *s = NULL;
        fl_rc rc = fl_delta_snapshot_load(t, -1, &s, &err);
        CHECK_MSG(rc == FL_OK, "after kill %d: %s", kills, err.msg);
        if (s) {
            int64_t v = -1;
            bool has = fl_delta_snapshot_get_app_version(s, FL_STR("crashy"), &v);
            /* commits so far = batches so far: nothing duplicated */
            CHECK_EQ_INT(fl_delta_snapshot_version(s), has ? v + 1 : 0);
            CHECK_EQ_INT(fl_delta_snapshot_num_files(s), has ? v + 1 : 0);
        }
        fl_delta_snapshot_free(s);
    }
    fprintf(stderr, "crash test: %d runs, %d kills\n", runs, kills);
    CHECK(finished);
    CHECK(kills >= 3);
    fl_delta_snapshot *s = NULL;
    CHECK_EQ_INT(fl_delta_snapshot_load(t, -1, &s, &err), FL_OK);
    if (s) {
        CHECK_EQ_INT(fl_delta_snapshot_version(s), CRASH_COMMITS);
        int64_t cap = (int64_t)CRASH_COMMITS * ROWS_PER_COMMIT;
        int *counts = calloc((size_t)cap, sizeof *counts);
        CHECK_EQ_INT(read_ids(s, counts, cap), cap);
        int bad = 0;
        for (int64_t i = 0; i < cap; i++)
            if (counts[i] != 1) bad++;
        CHECK_EQ_INT(bad, 0);
        free(counts);
        fl_delta_snapshot_free(s);
    }
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

int main(void)
{
    RUN(test_concurrent_writers);
    RUN(test_crash_recovery);
    return testhelp_done();
}
