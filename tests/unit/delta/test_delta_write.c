/* test_delta_write.c - writing Delta tables: create (protocol choice, schema JSON),
 * appends with data files from the Parquet writer and their stats, txn idempotency,
 * optimistic-commit conflicts between two transactions, overwrite, schema evolution
 * rules, refusal of writer features, time travel by version and timestamp. */
#include "delta/delta_int.h"
#include "fhirlake/delta.h"
#include "fhirlake/json.h"
#include "fhirlake/os.h"
#include "testhelp.h"

#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char dir[256];

static fl_store *fresh(const char *name)
{
    snprintf(dir, sizeof dir, "/tmp/fl_dw_%s_%d", name, (int)getpid());
    fl_rm_rf(dir, NULL);
    fl_store *st = NULL;
    fl_err err;
    CHECK_EQ_INT(fl_store_open(dir, NULL, &st, &err), FL_OK);
    return st;
}

/* id STRING NOT NULL, n LONG, d DATE, ts TIMESTAMP, x DOUBLE, ok BOOLEAN, amt DECIMAL(10,2),
 * tags ARRAY<STRING>, addr STRUCT<city STRING, zip INT>, day STRING (partition column when asked) */
static fl_delta_schema *test_schema(void)
{
    fl_delta_schema *s = NULL;
    fl_err err;
    CHECK_EQ_INT(fl_delta_schema_new(&s, &err), FL_OK);
    fl_delta_schema_add(s, NULL, "id", fl_delta_schema_prim(s, FL_DELTA_T_STRING), false);
    fl_delta_schema_add(s, NULL, "n", fl_delta_schema_prim(s, FL_DELTA_T_LONG), true);
    fl_delta_schema_add(s, NULL, "d", fl_delta_schema_prim(s, FL_DELTA_T_DATE), true);
    fl_delta_schema_add(s, NULL, "ts", fl_delta_schema_prim(s, FL_DELTA_T_TIMESTAMP), true);
    fl_delta_schema_add(s, NULL, "x", fl_delta_schema_prim(s, FL_DELTA_T_DOUBLE), true);
    fl_delta_schema_add(s, NULL, "ok", fl_delta_schema_prim(s, FL_DELTA_T_BOOLEAN), true);
    fl_delta_schema_add(s, NULL, "amt", fl_delta_schema_decimal(s, 10, 2), true);
    fl_delta_schema_add(s, NULL, "tags", fl_delta_schema_array(s, fl_delta_schema_prim(s, FL_DELTA_T_STRING), true), true);
    const fl_delta_type *addr = fl_delta_schema_struct(s);
    fl_delta_schema_add(s, addr, "city", fl_delta_schema_prim(s, FL_DELTA_T_STRING), true);
    fl_delta_schema_add(s, addr, "zip", fl_delta_schema_prim(s, FL_DELTA_T_INTEGER), true);
    fl_delta_schema_add(s, NULL, "addr", addr, true);
    fl_delta_schema_add(s, NULL, "day", fl_delta_schema_prim(s, FL_DELTA_T_STRING), true);
    CHECK_EQ_INT(fl_delta_schema_check(s, &err), FL_OK);
    return s;
}

static fl_delta_table *create(fl_store *st, bool partitioned, const fl_delta_kv *conf, size_t nconf)
{
    fl_delta_table *t = NULL;
    fl_err err;
    CHECK_EQ_INT(fl_delta_table_open(st, NULL, &t, &err), FL_OK);
    fl_delta_schema *s = test_schema();
    const char *pcs[] = {"day"};
    fl_delta_create_opts co = {.schema = fl_delta_schema_root(s), .partition_columns = pcs,
                               .n_partition_columns = partitioned ? 1 : 0, .configuration = conf, .n_configuration = nconf};
    fl_delta_commit_result res;
    fl_rc rc = fl_delta_table_create(t, &co, &res, &err);
    CHECK_MSG(rc == FL_OK, "%s", err.msg);
    CHECK_EQ_INT(res.version, 0);
    fl_delta_schema_free(s);
    return t;
}

/* Write one data file with rows [first, first+n) through the txn's Parquet writer. */
static void write_rows(fl_delta_txn *txn, int first, int n, const char *day)
{
    fl_err err;
    fl_pq_writer *w = NULL;
    fl_delta_kv pv = {FL_STR("day"), fl_str_c(day), day != NULL};
    bool part = fl_delta_snapshot_get_metadata(fl_delta_txn_get_snapshot(txn))->n_partition_columns > 0;
    fl_rc rc = fl_delta_txn_file_open(txn, part ? &pv : NULL, part ? 1 : 0, NULL, &w, &err);
    CHECK_MSG(rc == FL_OK, "%s", err.msg);
    if (rc) return;
    for (int i = first; i < first + n; i++) {
        char id[32];
        snprintf(id, sizeof id, "id-%05d", i);
        fl_pq_writer_put_str(w, fl_str_c(id));
        if (i % 5 == 0) fl_pq_writer_put_null(w);
        else fl_pq_writer_put_i64(w, (int64_t)i * 10);
        fl_pq_writer_put_i32(w, 19000 + i);                              /* date */
        fl_pq_writer_put_i64(w, 1700000000000000LL + (int64_t)i * 1001); /* ts, sub-ms part */
        fl_pq_writer_put_f64(w, i * 0.5);
        fl_pq_writer_put_bool(w, i % 2 == 0);
        fl_pq_writer_put_i64(w, (int64_t)i * 100 + 5); /* decimal(10,2) unscaled */
        fl_pq_writer_begin_list(w);
        fl_pq_writer_put_str(w, FL_STR("a"));
        fl_pq_writer_end(w);
        fl_pq_writer_begin_struct(w);
        fl_pq_writer_put_str(w, i == first ? FL_STR("Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") : FL_STR("Berlin"));
        fl_pq_writer_put_i32(w, 10000 + i);
        fl_pq_writer_end(w);
        if (!part) fl_pq_writer_put_str(w, fl_str_c(day ? day : "none"));
        rc = fl_pq_writer_end_row(w);
        if (rc) break;
    }
    CHECK_MSG(rc == FL_OK, "%s", fl_pq_writer_err(w)->msg);
    rc = fl_delta_txn_file_close(txn, &err);
    CHECK_MSG(rc == FL_OK, "%s", err.msg);
}

static const fl_json_val *jget(const fl_json_val *o, const char *path)
{
    /* dotted path lookup */
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    const fl_json_val *v = o;
    for (char *p = buf, *dot; v && p; p = dot ? dot + 1 : NULL) {
        dot = strchr(p, '.');
        if (dot) *dot = 0;
        v = fl_json_get_c(v, p);
    }
    return v;
}

static void test_create_and_append(void)
{
    fl_store *st = fresh("append");
    fl_delta_table *t = create(st, true, NULL, 0);
    fl_err err;
    /* first commit is protocol 1/2 without feature lists, with metaData */
    fl_buf b;
    fl_buf_init(&b, 0);
    CHECK_EQ_INT(fl_store_get(st, FL_STR("_delta_log/00000000000000000000.json"), &b, NULL, &err), FL_OK);
    CHECK(strstr(b.ptr, "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}") != NULL);
    CHECK(strstr(b.ptr, "\"partitionColumns\":[\"day\"]") != NULL);
    CHECK(strstr(b.ptr, "readerFeatures") == NULL);
    fl_buf_reset(&b);
    /* creating again fails, if_not_exists is fine */
    fl_delta_create_opts co = {0};
    fl_delta_schema *s = test_schema();
    co.schema = fl_delta_schema_root(s);
    CHECK_EQ_INT(fl_delta_table_create(t, &co, NULL, &err), FL_E_EXISTS);
    co.if_not_exists = true;
    CHECK_EQ_INT(fl_delta_table_create(t, &co, NULL, &err), FL_OK);
    fl_delta_schema_free(s);

    fl_delta_txn *txn = NULL;
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    if (!txn) return;
    write_rows(txn, 0, 100, "2024-01-01");
    write_rows(txn, 100, 50, "2024-01:02 x"); /* needs escaping */
    fl_delta_commit_result res;
    CHECK_EQ_INT(fl_delta_txn_commit(txn, &res, &err), FL_OK);
    CHECK_EQ_INT(res.version, 1);
    CHECK_EQ_INT(res.files_added, 2);
    CHECK_EQ_INT(res.records_added, 150);
    CHECK_EQ_INT(res.attempts, 1);
    fl_delta_txn_free(txn);

    fl_delta_snapshot *snap = NULL;
    CHECK_EQ_INT(fl_delta_snapshot_load(t, -1, &snap, &err), FL_OK);
    if (!snap) return;
    CHECK_EQ_INT(fl_delta_snapshot_version(snap), 1);
    CHECK_EQ_INT(fl_delta_snapshot_num_files(snap), 2);
    CHECK_EQ_INT(fl_delta_snapshot_num_records(snap), 150);
    for (size_t i = 0; i < fl_delta_snapshot_num_files(snap); i++) {
        const fl_delta_file *f = fl_delta_snapshot_get_file(snap, i);
        /* the file exists with the recorded size: the log path URI-decodes to the key */
        char key[512];
        size_t k = 0;
        for (size_t j = 0; j < f->path.len && k + 1 < sizeof key; j++) {
            if (f->path.ptr[j] == '%' && j + 2 < f->path.len && f->path.ptr[j + 1] == '2' && f->path.ptr[j + 2] == '5') {
                key[k++] = '%';
                j += 2;
            } else {
                key[k++] = f->path.ptr[j];
            }
        }
        key[k] = 0;
        fl_store_meta m;
        CHECK_EQ_INT(fl_store_head(st, fl_str_c(key), &m, &err), FL_OK);
        CHECK_EQ_INT((int64_t)m.size, f->size);
        CHECK_EQ_INT(f->n_partition_values, 1);
        CHECK(f->data_change);
        /* stats */
        fl_arena a;
        fl_arena_init(&a, 0, 0);
        fl_json_val *js = NULL;
        CHECK_EQ_INT(fl_json_parse(f->stats.ptr, f->stats.len, NULL, &a, &js, NULL, &err), FL_OK);
        int64_t nrec = 0;
        CHECK(fl_json_as_i64(jget(js, "numRecords"), &nrec));
        bool first = fl_str_eq_c(f->partition_values[0].val, "2024-01-01");
        CHECK_EQ_INT(nrec, first ? 100 : 50);
        if (first) {
            CHECK(fl_str_eq_c(fl_json_str(jget(js, "minValues.id")), "id-00000"));
            CHECK(fl_str_eq_c(fl_json_str(jget(js, "maxValues.id")), "id-00099"));
            int64_t v;
            CHECK(fl_json_as_i64(jget(js, "minValues.n"), &v) && v == 10);
            CHECK(fl_json_as_i64(jget(js, "maxValues.n"), &v) && v == 990);
            CHECK(fl_json_as_i64(jget(js, "nullCount.n"), &v) && v == 20);
            CHECK(fl_json_as_i64(jget(js, "nullCount.id"), &v) && v == 0);
            /* dates as YYYY-MM-DD: 19000 days = 2022-01-08 */
            CHECK(fl_str_eq_c(fl_json_str(jget(js, "minValues.d")), "2022-01-08"));
            /* timestamps to ms: min rounded down, max rounded up */
            CHECK(fl_str_eq_c(fl_json_str(jget(js, "minValues.ts")), "2023-11-14T22:13:20.000Z"));
            CHECK(fl_str_eq_c(fl_json_str(jget(js, "maxValues.ts")), "2023-11-14T22:13:20.100Z"));
            CHECK(fl_str_eq_c(fl_json_str(jget(js, "minValues.amt")), "0.05"));
            CHECK(fl_str_eq_c(fl_json_str(jget(js, "maxValues.amt")), "99.05"));
            /* booleans and arrays: no min/max */
            CHECK(jget(js, "minValues.ok") == NULL);
            CHECK(jget(js, "minValues.tags") == NULL);
            CHECK(fl_json_as_i64(jget(js, "nullCount.ok"), &v) && v == 0);
            /* nested struct; a long string is cut to 32 chars, the max gets a tie-breaker */
            fl_str mn = fl_json_str(jget(js, "minValues.addr.city"));
            fl_str mx = fl_json_str(jget(js, "maxValues.addr.city"));
            CHECK_EQ_INT(mn.len, 32);
            CHECK(fl_str_eq_c(mx, "Berlin"));
            CHECK(fl_json_as_i64(jget(js, "maxValues.addr.zip"), &v) && v == 10099);
            /* partition column: no stats */
            CHECK(jget(js, "nullCount.day") == NULL);
        } else {
            CHECK(fl_str_eq_c(f->partition_values[0].val, "2024-01:02 x"));
            CHECK(strstr(key, "day=2024-01%3A02%20x/") == key);
        }
        fl_arena_fini(&a);
    }
    fl_delta_snapshot_free(snap);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

static fl_delta_file fake_file(const char *path, int64_t records, char *stats_buf, size_t cap)
{
    snprintf(stats_buf, cap, "{\"numRecords\":%lld}", (long long)records);
    fl_delta_file f = {.path = fl_str_c(path), .size = 100, .modification_time = 1, .data_change = true,
                       .stats = fl_str_c(stats_buf), .base_row_id = -1, .default_row_commit_version = -1};
    return f;
}

static void test_txn_idempotency(void)
{
    fl_store *st = fresh("idem");
    fl_delta_table *t = create(st, false, NULL, 0);
    fl_err err;
    char sb[64];
    for (int round = 0; round < 2; round++) {
        /* the same batch (app "exp", version 7) twice: second time it is a duplicate */
        fl_delta_txn *txn = NULL;
        CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
        fl_rc rc = fl_delta_txn_set_app(txn, FL_STR("exp"), 7, &err);
        if (round == 0) {
            CHECK_EQ_INT(rc, FL_OK);
            fl_delta_file f = fake_file("a.parquet", 5, sb, sizeof sb);
            CHECK_EQ_INT(fl_delta_txn_add_file(txn, &f, &err), FL_OK);
            fl_delta_commit_result res;
            CHECK_EQ_INT(fl_delta_txn_commit(txn, &res, &err), FL_OK);
            CHECK(!res.duplicate);
            /* a second commit of the same txn object is refused */
            CHECK_EQ_INT(fl_delta_txn_commit(txn, &res, &err), FL_E_STATE);
        } else {
            CHECK_EQ_INT(rc, FL_E_DELTA_DUPLICATE);
            CHECK(strstr(err.msg, "exp") != NULL);
        }
        fl_delta_txn_free(txn);
    }
    /* lower versions are duplicates too; a higher one goes through */
    fl_delta_txn *txn = NULL;
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_set_app(txn, FL_STR("exp"), 3, &err), FL_E_DELTA_DUPLICATE);
    CHECK_EQ_INT(fl_delta_txn_set_app(txn, FL_STR("exp"), 8, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_commit(txn, NULL, &err), FL_OK);
    fl_delta_txn_free(txn);
    fl_delta_snapshot *s = NULL;
    CHECK_EQ_INT(fl_delta_snapshot_load(t, -1, &s, &err), FL_OK);
    int64_t v = 0;
    CHECK(s && fl_delta_snapshot_get_app_version(s, FL_STR("exp"), &v));
    CHECK_EQ_INT(v, 8);
    CHECK_EQ_INT(fl_delta_snapshot_num_records(s), 5);
    fl_delta_snapshot_free(s);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

static void test_conflicts(void)
{
    fl_store *st = fresh("conflict");
    fl_delta_table *t1 = create(st, false, NULL, 0);
    fl_delta_table *t2 = NULL;
    fl_err err;
    char sb[64];
    CHECK_EQ_INT(fl_delta_table_open(st, NULL, &t2, &err), FL_OK);
    /* v1: one file */
    fl_delta_txn *a = NULL, *b = NULL;
    CHECK_EQ_INT(fl_delta_txn_begin(t1, &a, &err), FL_OK);
    fl_delta_file f = fake_file("base.parquet", 1, sb, sizeof sb);
    fl_delta_txn_add_file(a, &f, &err);
    CHECK_EQ_INT(fl_delta_txn_commit(a, NULL, &err), FL_OK);
    fl_delta_txn_free(a);

    /* two blind appends from the same read version: both land, at v2 and v3 */
    CHECK_EQ_INT(fl_delta_txn_begin(t1, &a, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_begin(t2, &b, &err), FL_OK);
    f = fake_file("a.parquet", 1, sb, sizeof sb);
    fl_delta_txn_add_file(a, &f, &err);
    f = fake_file("b.parquet", 1, sb, sizeof sb);
    fl_delta_txn_add_file(b, &f, &err);
    fl_delta_commit_result ra, rb;
    CHECK_EQ_INT(fl_delta_txn_commit(a, &ra, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_commit(b, &rb, &err), FL_OK);
    CHECK_EQ_INT(ra.version, 2);
    CHECK_EQ_INT(rb.version, 3);
    CHECK_EQ_INT(rb.attempts, 2);
    fl_delta_txn_free(a);
    fl_delta_txn_free(b);

    /* two removes of the same file: the second conflicts */
    CHECK_EQ_INT(fl_delta_txn_begin(t1, &a, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_begin(t2, &b, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_remove_file(a, FL_STR("base.parquet"), &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_remove_file(b, FL_STR("base.parquet"), &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_remove_file(b, FL_STR("nope.parquet"), &err), FL_E_NOT_FOUND);
    CHECK_EQ_INT(fl_delta_txn_commit(a, NULL, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_commit(b, NULL, &err), FL_E_DELTA_CONFLICT);
    CHECK_MSG(strstr(err.msg, "base.parquet") != NULL, "%s", err.msg);
    fl_delta_txn_free(a);
    fl_delta_txn_free(b);

    /* overwrite vs concurrent append: conflict */
    CHECK_EQ_INT(fl_delta_txn_begin(t1, &a, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_begin(t2, &b, &err), FL_OK);
    f = fake_file("c.parquet", 1, sb, sizeof sb);
    fl_delta_txn_add_file(a, &f, &err);
    CHECK_EQ_INT(fl_delta_txn_remove_all(b, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_commit(a, NULL, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_commit(b, NULL, &err), FL_E_DELTA_CONFLICT);
    fl_delta_txn_free(a);
    fl_delta_txn_free(b);

    /* the same txn (appId, version) racing: the loser reports a duplicate */
    CHECK_EQ_INT(fl_delta_txn_begin(t1, &a, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_begin(t2, &b, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_set_app(a, FL_STR("q"), 1, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_set_app(b, FL_STR("q"), 1, &err), FL_OK);
    f = fake_file("d.parquet", 1, sb, sizeof sb);
    fl_delta_txn_add_file(a, &f, &err);
    fl_delta_txn_add_file(b, &f, &err);
    CHECK_EQ_INT(fl_delta_txn_commit(a, NULL, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_commit(a, NULL, &err) == FL_E_STATE, 1); /* committed already */
    CHECK_EQ_INT(fl_delta_txn_commit(b, &rb, &err), FL_E_DELTA_DUPLICATE);
    CHECK(rb.duplicate);
    CHECK_EQ_INT(rb.version, 6); /* v1 base, v2-v3 appends, v4 remove, v5 append, v6 = a */
    fl_delta_txn_free(a);
    fl_delta_txn_free(b);

    /* metadata change by a winner: conflict */
    CHECK_EQ_INT(fl_delta_txn_begin(t1, &a, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_begin(t2, &b, &err), FL_OK);
    fl_delta_schema *s = test_schema();
    fl_delta_schema_add(s, NULL, "extra", fl_delta_schema_prim(s, FL_DELTA_T_STRING), true);
    CHECK_EQ_INT(fl_delta_txn_set_schema(a, fl_delta_schema_root(s), &err), FL_OK);
    fl_delta_schema_free(s);
    CHECK_EQ_INT(fl_delta_txn_commit(a, NULL, &err), FL_OK);
    f = fake_file("e.parquet", 1, sb, sizeof sb);
    fl_delta_txn_add_file(b, &f, &err);
    CHECK_EQ_INT(fl_delta_txn_commit(b, NULL, &err), FL_E_DELTA_CONFLICT);
    CHECK_MSG(strstr(err.msg, "metadata") != NULL, "%s", err.msg);
    fl_delta_txn_free(a);
    fl_delta_txn_free(b);

    fl_delta_snapshot *snap = NULL;
    CHECK_EQ_INT(fl_delta_snapshot_load(t1, -1, &snap, &err), FL_OK);
    if (snap) {
        /* a, b, c, d live; base removed; e never committed */
        CHECK_EQ_INT(fl_delta_snapshot_num_files(snap), 4);
        CHECK(fl_delta_type_find(fl_delta_snapshot_get_schema(snap), FL_STR("extra")) != NULL);
        fl_delta_snapshot_free(snap);
    }
    fl_delta_table_close(t1);
    fl_delta_table_close(t2);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

static void test_schema_evolution(void)
{
    fl_store *st = fresh("evolve");
    fl_delta_table *t = create(st, false, NULL, 0);
    fl_err err;
    fl_delta_txn *txn = NULL;
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    /* drop a column */
    fl_delta_schema *s = NULL;
    fl_delta_schema_new(&s, &err);
    fl_delta_schema_add(s, NULL, "id", fl_delta_schema_prim(s, FL_DELTA_T_STRING), false);
    CHECK_EQ_INT(fl_delta_txn_set_schema(txn, fl_delta_schema_root(s), &err), FL_E_DELTA_SCHEMA);
    CHECK_MSG(strstr(err.msg, "drops or renames column n") != NULL, "%s", err.msg);
    fl_delta_schema_free(s);
    /* narrow a type */
    s = test_schema();
    ((fl_delta_type *)fl_delta_schema_root(s)->fields[1].type)->kind = FL_DELTA_T_INTEGER;
    CHECK_EQ_INT(fl_delta_txn_set_schema(txn, fl_delta_schema_root(s), &err), FL_E_DELTA_SCHEMA);
    CHECK_MSG(strstr(err.msg, "from long into integer") != NULL, "%s", err.msg);
    fl_delta_schema_free(s);
    /* new NOT NULL column */
    s = test_schema();
    fl_delta_schema_add(s, NULL, "req", fl_delta_schema_prim(s, FL_DELTA_T_STRING), false);
    CHECK_EQ_INT(fl_delta_txn_set_schema(txn, fl_delta_schema_root(s), &err), FL_E_DELTA_SCHEMA);
    CHECK_MSG(strstr(err.msg, "must be nullable") != NULL, "%s", err.msg);
    fl_delta_schema_free(s);
    /* a nullable column at the top and inside the struct: fine, data files get the new schema */
    s = test_schema();
    fl_delta_schema_add(s, fl_delta_schema_root(s)->fields[8].type, "country", fl_delta_schema_prim(s, FL_DELTA_T_STRING), true);
    fl_delta_schema_add(s, NULL, "note", fl_delta_schema_prim(s, FL_DELTA_T_STRING), true);
    CHECK_EQ_INT(fl_delta_txn_set_schema(txn, fl_delta_schema_root(s), &err), FL_OK);
    fl_delta_schema_free(s);
    CHECK_EQ_INT(fl_delta_txn_commit(txn, NULL, &err), FL_OK);
    fl_delta_txn_free(txn);
    fl_delta_snapshot *snap = NULL;
    CHECK_EQ_INT(fl_delta_snapshot_load(t, -1, &snap, &err), FL_OK);
    if (snap) {
        const fl_delta_type *r = fl_delta_snapshot_get_schema(snap);
        CHECK_EQ_INT(r->n_fields, 11);
        CHECK(fl_delta_type_find(fl_delta_type_find(r, FL_STR("addr"))->type, FL_STR("country")) != NULL);
        fl_delta_snapshot_free(snap);
    }
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

static void test_refuse_features(void)
{
    /* hand-written tables whose protocol needs writer features we do not implement */
    fl_store *st = fresh("refuse");
    const char *c0 =
        "{\"protocol\":{\"minReaderVersion\":3,\"minWriterVersion\":7,\"readerFeatures\":[],\"writerFeatures\":["
        "\"rowTracking\",\"domainMetadata\",\"icebergCompatV2\"]}}\n"
        "{\"metaData\":{\"id\":\"x\",\"format\":{\"provider\":\"parquet\",\"options\":{}},\"schemaString\":\"{\\\"type\\\":"
        "\\\"struct\\\",\\\"fields\\\":[{\\\"name\\\":\\\"a\\\",\\\"type\\\":\\\"long\\\",\\\"nullable\\\":true,"
        "\\\"metadata\\\":{}}]}\",\"partitionColumns\":[],\"configuration\":{}}}\n";
    fl_err err;
    CHECK_EQ_INT(fl_store_put(st, FL_STR("_delta_log/00000000000000000000.json"), c0, strlen(c0), 0, &err), FL_OK);
    fl_delta_table *t = NULL;
    fl_delta_table_open(st, NULL, &t, &err);
    fl_delta_snapshot *s = NULL;
    CHECK_EQ_INT(fl_delta_snapshot_load(t, -1, &s, &err), FL_OK); /* readable */
    fl_delta_snapshot_free(s);
    fl_delta_txn *txn = NULL;
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_E_DELTA_PROTOCOL);
    CHECK_MSG(strstr(err.msg, "rowTracking, icebergCompatV2") != NULL, "%s", err.msg);
    CHECK(txn == NULL);
    fl_delta_table_close(t);
    /* appendOnly tables refuse removes */
    fl_rm_rf(dir, NULL);
    fl_delta_kv conf[] = {{FL_STR("delta.appendOnly"), FL_STR("true"), true}};
    t = create(st, false, conf, 1);
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_remove_all(txn, &err), FL_E_DELTA_PROTOCOL);
    CHECK(strstr(err.msg, "append-only") != NULL);
    fl_delta_txn_free(txn);
    fl_delta_table_close(t);
    /* boolean properties are read in any case, as Delta does; other text keeps the default */
    fl_rm_rf(dir, NULL);
    fl_delta_kv bools[] = {{FL_STR("delta.appendOnly"), FL_STR("True"), true},
                           {FL_STR("x.off"), FL_STR("FALSE"), true},
                           {FL_STR("x.junk"), FL_STR("trux"), true}};
    t = create(st, false, bools, 3);
    CHECK_EQ_INT(fl_delta_snapshot_load(t, -1, &s, &err), FL_OK);
    if (s) {
        CHECK(delta_config_bool(s, "delta.appendOnly", false));
        CHECK(!delta_config_bool(s, "x.off", true));
        CHECK(delta_config_bool(s, "x.junk", true) && !delta_config_bool(s, "x.junk", false));
        CHECK(delta_config_bool(s, "x.unset", true) && !delta_config_bool(s, "x.unset", false));
        fl_delta_snapshot_free(s);
        s = NULL;
    }
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_remove_all(txn, &err), FL_E_DELTA_PROTOCOL);
    fl_delta_txn_free(txn);
    fl_delta_table_close(t);
    /* properties that need features we cannot write are refused at create */
    fl_rm_rf(dir, NULL);
    fl_delta_table_open(st, NULL, &t, &err);
    fl_delta_schema *sc = test_schema();
    fl_delta_kv dv[] = {{FL_STR("delta.enableDeletionVectors"), FL_STR("true"), true}};
    fl_delta_create_opts co = {.schema = fl_delta_schema_root(sc), .configuration = dv, .n_configuration = 1};
    CHECK_EQ_INT(fl_delta_table_create(t, &co, NULL, &err), FL_E_DELTA_PROTOCOL);
    CHECK(strstr(err.msg, "enableDeletionVectors") != NULL);
    /* a TIMESTAMP_NTZ column raises the protocol to 3/7 with timestampNtz */
    fl_delta_schema_add(sc, NULL, "local", fl_delta_schema_prim(sc, FL_DELTA_T_TIMESTAMP_NTZ), true);
    co.configuration = NULL;
    co.n_configuration = 0;
    co.schema = fl_delta_schema_root(sc);
    CHECK_EQ_INT(fl_delta_table_create(t, &co, NULL, &err), FL_OK);
    fl_delta_schema_free(sc);
    CHECK_EQ_INT(fl_delta_snapshot_load(t, -1, &s, &err), FL_OK);
    if (s) {
        const fl_delta_protocol *p = fl_delta_snapshot_get_protocol(s);
        CHECK_EQ_INT(p->min_reader, 3);
        CHECK_EQ_INT(p->min_writer, 7);
        CHECK(p->n_reader_features == 1 && fl_str_eq_c(p->reader_features[0], "timestampNtz"));
        fl_delta_snapshot_free(s);
    }
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

static void test_time_travel(void)
{
    fl_store *st = fresh("tt");
    fl_delta_table *t = create(st, false, NULL, 0);
    fl_err err;
    char sb[64];
    for (int i = 0; i < 4; i++) {
        fl_delta_txn *txn = NULL;
        CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
        char p[32];
        snprintf(p, sizeof p, "f%d.parquet", i);
        fl_delta_file f = fake_file(p, 10, sb, sizeof sb);
        fl_delta_txn_add_file(txn, &f, &err);
        CHECK_EQ_INT(fl_delta_txn_commit(txn, NULL, &err), FL_OK);
        fl_delta_txn_free(txn);
    }
    /* commit v at time 1000s + v*100s (file mtimes) */
    for (int v = 0; v <= 4; v++) {
        char path[512];
        snprintf(path, sizeof path, "%s/_delta_log/%020d.json", dir, v);
        struct timeval tv[2] = {{1000 + v * 100, 0}, {1000 + v * 100, 0}};
        CHECK_EQ_INT(utimes(path, tv), 0);
    }
    fl_delta_snapshot *s = NULL;
    CHECK_EQ_INT(fl_delta_snapshot_load_at(t, 1250 * 1000LL, &s, &err), FL_OK);
    if (s) {
        CHECK_EQ_INT(fl_delta_snapshot_version(s), 2);
        CHECK_EQ_INT(fl_delta_snapshot_num_files(s), 2);
        CHECK_EQ_INT(fl_delta_snapshot_timestamp(s), 1200 * 1000LL);
        fl_delta_snapshot_free(s);
    }
    CHECK_EQ_INT(fl_delta_snapshot_load_at(t, 1300 * 1000LL, &s, &err), FL_OK);
    CHECK(s && fl_delta_snapshot_version(s) == 3);
    fl_delta_snapshot_free(s);
    CHECK_EQ_INT(fl_delta_snapshot_load_at(t, 999 * 1000LL, &s, &err), FL_E_NOT_FOUND);
    CHECK_EQ_INT(fl_delta_snapshot_load(t, 1, &s, &err), FL_OK);
    CHECK(s && fl_delta_snapshot_num_records(s) == 10);
    fl_delta_snapshot_free(s);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

/* Set the mtime of every regular file under dir/sub (recursively) to `secs`. */
static void age_tree(const char *path, time_t secs)
{
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_str *names;
    size_t n;
    if (fl_dir_list(path, &a, &names, &n, NULL) == FL_OK) {
        for (size_t i = 0; i < n; i++) {
            char p[1024];
            snprintf(p, sizeof p, "%s/%.*s", path, (int)names[i].len, names[i].ptr);
            bool is_dir = false;
            if (fl_path_exists(p, &is_dir, NULL) && is_dir) {
                if (strcmp(p + strlen(p) - 10, "_delta_log") != 0) age_tree(p, secs);
            } else {
                struct timeval tv[2] = {{secs, 0}, {secs, 0}};
                utimes(p, tv);
            }
        }
    }
    fl_arena_fini(&a);
}

static int64_t count_rows(fl_delta_table *t)
{
    fl_delta_snapshot *s = NULL;
    fl_err err;
    if (fl_delta_snapshot_load(t, -1, &s, &err)) return -1;
    fl_delta_scan *sc = NULL;
    fl_delta_scan_open(t, s, &sc, &err);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    int64_t n = 0;
    fl_pq_val *row;
    fl_rc rc;
    while ((rc = fl_delta_scan_next(sc, &a, &row, &err)) == FL_OK) {
        n++;
        fl_arena_reset(&a);
    }
    if (rc != FL_E_EOF) n = -1;
    fl_arena_fini(&a);
    fl_delta_scan_close(sc);
    fl_delta_snapshot_free(s);
    return n;
}

static void test_vacuum(void)
{
    fl_store *st = fresh("vacuum");
    fl_delta_table *t = create(st, true, NULL, 0);
    fl_err err;
    for (int i = 0; i < 3; i++) {
        fl_delta_txn *txn = NULL;
        CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
        if (i == 2) CHECK_EQ_INT(fl_delta_txn_remove_all(txn, &err), FL_OK); /* 2 tombstones */
        write_rows(txn, i * 10, 10, i == 1 ? "2024-02-02" : "2024-01-01");
        CHECK_EQ_INT(fl_delta_txn_commit(txn, NULL, &err), FL_OK);
        fl_delta_txn_free(txn);
    }
    /* a stray file no commit references (a crashed writer's upload) */
    CHECK_EQ_INT(fl_store_put(st, FL_STR("day=2024-01-01/orphan.parquet"), "x", 1, 0, &err), FL_OK);
    CHECK_EQ_INT(count_rows(t), 10);
    /* everything is recent: nothing goes with the default retention */
    fl_delta_vacuum_result r;
    CHECK_EQ_INT(fl_delta_table_vacuum(t, NULL, &r, &err), FL_OK);
    CHECK_EQ_INT(r.files_deleted, 0);
    /* a retention below the table's needs force */
    fl_delta_vacuum_opts o = {.retention_ms = 0};
    CHECK_EQ_INT(fl_delta_table_vacuum(t, &o, &r, &err), FL_E_ARG);
    CHECK(strstr(err.msg, "force") != NULL);
    /* make every data file 30 days old: the tombstones (deleted now) still protect their
     * files under the default retention, the orphan goes */
    age_tree(dir, time(NULL) - 30 * 86400);
    CHECK_EQ_INT(fl_delta_table_vacuum(t, NULL, &r, &err), FL_OK);
    CHECK_EQ_INT(r.files_deleted, 1);
    CHECK_EQ_INT(fl_store_head(st, FL_STR("day=2024-01-01/orphan.parquet"), NULL, &err), FL_E_NOT_FOUND);
    CHECK_EQ_INT(r.files_kept, 3);
    /* retention 0 with force: the two removed files go, dry run first */
    o.force = true;
    o.dry_run = true;
    CHECK_EQ_INT(fl_delta_table_vacuum(t, &o, &r, &err), FL_OK);
    CHECK_EQ_INT(r.files_deleted, 2);
    o.dry_run = false;
    CHECK_EQ_INT(fl_delta_table_vacuum(t, &o, &r, &err), FL_OK);
    CHECK_EQ_INT(r.files_deleted, 2);
    CHECK_EQ_INT(r.files_kept, 1);
    /* the latest version still reads completely; the log is untouched */
    CHECK_EQ_INT(count_rows(t), 10);
    fl_store_meta m;
    CHECK_EQ_INT(fl_store_head(st, FL_STR("_delta_log/00000000000000000000.json"), &m, &err), FL_OK);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

/* Canonical text of a scanned value (for comparing row sets). */
static void val_text(const fl_pq_val *v, fl_buf *b, int depth)
{
    switch (v->kind) {
    case FL_PQ_V_NULL: fl_buf_append_c(b, "null"); return;
    case FL_PQ_V_BOOL: fl_buf_append_c(b, v->v.b ? "T" : "F"); return;
    case FL_PQ_V_I32: fl_buf_printf(b, "%d", v->v.i32); return;
    case FL_PQ_V_I64: fl_buf_printf(b, "%lld", (long long)v->v.i64); return;
    case FL_PQ_V_F32: fl_buf_printf(b, "%.9g", (double)v->v.f32); return;
    case FL_PQ_V_F64: fl_buf_printf(b, "%.17g", v->v.f64); return;
    case FL_PQ_V_BYTES: fl_buf_printf(b, "'%.*s'", (int)v->v.bytes.len, v->v.bytes.ptr); return;
    default:
        fl_buf_putc(b, '(');
        for (uint32_t i = 0; i < (v->kind == FL_PQ_V_MAP ? 2 * v->n : v->n) && depth < 16; i++) {
            val_text(&v->v.items[i], b, depth + 1);
            fl_buf_putc(b, ',');
        }
        fl_buf_putc(b, ')');
    }
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* All rows of the table at `version` as one canonical text (sorted rows). */
static char *table_text(fl_delta_table *t, int64_t version)
{
    fl_delta_snapshot *s = NULL;
    fl_err err;
    if (fl_delta_snapshot_load(t, version, &s, &err)) return NULL;
    fl_delta_scan *sc = NULL;
    fl_delta_scan_open(t, s, &sc, &err);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    char **rows = NULL;
    size_t n = 0;
    fl_pq_val *row;
    while (fl_delta_scan_next(sc, &a, &row, &err) == FL_OK) {
        fl_buf b;
        fl_buf_init(&b, 0);
        val_text(row, &b, 0);
        rows = realloc(rows, (n + 1) * sizeof *rows);
        rows[n++] = fl_buf_detach(&b, NULL);
        fl_arena_reset(&a);
    }
    qsort(rows, n, sizeof *rows, str_cmp);
    fl_buf all;
    fl_buf_init(&all, 0);
    for (size_t i = 0; i < n; i++) {
        fl_buf_append_c(&all, rows[i]);
        fl_buf_putc(&all, '\n');
        fl_free(rows[i]);
    }
    free(rows);
    fl_arena_fini(&a);
    fl_delta_scan_close(sc);
    fl_delta_snapshot_free(s);
    return fl_buf_detach(&all, NULL);
}

static void test_optimize(void)
{
    fl_store *st = fresh("optimize");
    fl_delta_table *t = create(st, true, NULL, 0);
    fl_err err;
    for (int i = 0; i < 5; i++) {
        fl_delta_txn *txn = NULL;
        CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
        write_rows(txn, i * 10, 7, i < 4 ? "2024-01-01" : "2024-09-09");
        CHECK_EQ_INT(fl_delta_txn_commit(txn, NULL, &err), FL_OK);
        fl_delta_txn_free(txn);
    }
    char *before = table_text(t, -1);
    fl_delta_optimize_result r;
    CHECK_EQ_INT(fl_delta_table_optimize(t, NULL, &r, &err), FL_OK);
    CHECK_EQ_INT(r.version, 6);
    CHECK_EQ_INT(r.files_removed, 4); /* the 2024-01-01 partition; 2024-09-09 has one file */
    CHECK_EQ_INT(r.files_added, 1);
    CHECK_EQ_INT(r.rows, 28);
    char *after = table_text(t, -1);
    CHECK(before && after && strcmp(before, after) == 0); /* every value survives the rewrite */
    char *old = table_text(t, 5); /* time travel still reads the old files */
    CHECK(old && before && strcmp(old, before) == 0);
    fl_delta_snapshot *s = NULL;
    CHECK_EQ_INT(fl_delta_snapshot_load(t, -1, &s, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_snapshot_num_files(s), 2);
    for (size_t i = 0; i < fl_delta_snapshot_num_files(s); i++)
        if (fl_str_eq_c(fl_delta_snapshot_get_file(s, i)->partition_values[0].val, "2024-01-01"))
            CHECK(!fl_delta_snapshot_get_file(s, i)->data_change); /* rearrangement only */
    fl_delta_snapshot_free(s);
    fl_buf b;
    fl_buf_init(&b, 0);
    CHECK_EQ_INT(fl_store_get(st, FL_STR("_delta_log/00000000000000000006.json"), &b, NULL, &err), FL_OK);
    CHECK(strstr(b.ptr, "\"operation\":\"OPTIMIZE\"") && strstr(b.ptr, "\"isBlindAppend\":false"));
    CHECK(strstr(b.ptr, "\"dataChange\":true") == NULL);
    fl_buf_reset(&b);
    /* nothing left to compact: no new version */
    CHECK_EQ_INT(fl_delta_table_optimize(t, NULL, &r, &err), FL_OK);
    CHECK_EQ_INT(r.version, -1);
    fl_free(before);
    fl_free(after);
    fl_free(old);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

static void test_upsert(void)
{
    fl_store *st = fresh("upsert");
    fl_delta_table *t = create(st, false, NULL, 0);
    fl_err err;
    /* three files: ids 0-9, 10-19, 20-29 (id-000NN strings) */
    for (int i = 0; i < 3; i++) {
        fl_delta_txn *txn = NULL;
        CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
        write_rows(txn, i * 10, 10, "x");
        CHECK_EQ_INT(fl_delta_txn_commit(txn, NULL, &err), FL_OK);
        fl_delta_txn_free(txn);
    }
    /* upsert ids 3, 5 and 99 (new): delete by key + append the new versions */
    fl_delta_txn *txn = NULL;
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    fl_delta_txn_set_operation(txn, "MERGE", NULL);
    fl_str keys[] = {FL_STR("id-00005"), FL_STR("id-00099"), FL_STR("id-00003")};
    int64_t deleted = -1, rewritten = -1;
    CHECK_EQ_INT(fl_delta_txn_delete_keys(txn, "id", keys, 3, &deleted, &rewritten, &err), FL_OK);
    CHECK_EQ_INT(deleted, 2);
    CHECK_EQ_INT(rewritten, 1); /* stats ruled out the other two files */
    CHECK_EQ_INT(fl_delta_txn_delete_keys(txn, "n", keys, 3, NULL, NULL, &err), FL_E_ARG);
    write_rows(txn, 3, 1, "new");
    write_rows(txn, 5, 1, "new");
    write_rows(txn, 99, 1, "new");
    fl_delta_commit_result res;
    CHECK_EQ_INT(fl_delta_txn_commit(txn, &res, &err), FL_OK);
    CHECK_EQ_INT(res.records_added, 3);
    fl_delta_txn_free(txn);
    /* 31 rows: 28 old + 3 new; ids 3 and 5 exist once, from the new batch */
    fl_delta_snapshot *s = NULL;
    CHECK_EQ_INT(fl_delta_snapshot_load(t, -1, &s, &err), FL_OK);
    fl_delta_scan *sc = NULL;
    CHECK_EQ_INT(fl_delta_scan_open(t, s, &sc, &err), FL_OK);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    int n = 0, seen3 = 0, seen5 = 0, new_rows = 0;
    fl_pq_val *row;
    while (fl_delta_scan_next(sc, &a, &row, &err) == FL_OK) {
        n++;
        fl_str id = row->v.items[0].v.bytes, day = row->v.items[9].v.bytes;
        if (fl_str_eq_c(id, "id-00003")) seen3++;
        if (fl_str_eq_c(id, "id-00005")) seen5++;
        if (fl_str_eq_c(day, "new")) new_rows++;
        fl_arena_reset(&a);
    }
    CHECK_EQ_INT(n, 31);
    CHECK_EQ_INT(seen3, 1);
    CHECK_EQ_INT(seen5, 1);
    CHECK_EQ_INT(new_rows, 3);
    CHECK_EQ_INT(fl_delta_snapshot_num_records(s), 31);
    fl_arena_fini(&a);
    fl_delta_scan_close(sc);
    fl_delta_snapshot_free(s);
    /* deleting every row of a file removes it without a replacement */
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    fl_str all[10];
    char buf[10][16];
    for (int i = 0; i < 10; i++) {
        snprintf(buf[i], sizeof buf[i], "id-%05d", 20 + i);
        all[i] = fl_str_c(buf[i]);
    }
    CHECK_EQ_INT(fl_delta_txn_delete_keys(txn, "id", all, 10, &deleted, &rewritten, &err), FL_OK);
    CHECK_EQ_INT(deleted, 10);
    CHECK_EQ_INT(fl_delta_txn_commit(txn, &res, &err), FL_OK);
    CHECK_EQ_INT(res.files_added, 0);
    CHECK_EQ_INT(res.files_removed, 1);
    fl_delta_txn_free(txn);
    CHECK_EQ_INT(fl_delta_snapshot_load(t, -1, &s, &err), FL_OK);
    CHECK(s && fl_delta_snapshot_num_records(s) == 21);
    fl_delta_snapshot_free(s);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

static void test_log_cleanup(void)
{
    fl_store *st = fresh("cleanup");
    fl_delta_table *t = create(st, false, NULL, 0);
    fl_err err;
    char sb[64];
    for (int i = 1; i <= 25; i++) {
        fl_delta_txn *txn = NULL;
        CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
        char p[32];
        snprintf(p, sizeof p, "c%d.parquet", i);
        fl_delta_file f = fake_file(p, 1, sb, sizeof sb);
        fl_delta_txn_add_file(txn, &f, &err);
        CHECK_EQ_INT(fl_delta_txn_commit(txn, NULL, &err), FL_OK);
        fl_delta_txn_free(txn);
    }
    int64_t deleted = -1;
    CHECK_EQ_INT(fl_delta_table_cleanup_log(t, -1, &deleted, &err), FL_OK);
    CHECK_EQ_INT(deleted, 0); /* everything is recent */
    /* versions 0..15 (and the checkpoint at 10) are 40 days old; 20 is recent */
    for (int v = 0; v <= 15; v++) {
        char path[512];
        snprintf(path, sizeof path, "%s/_delta_log/%020d.json", dir, v);
        struct timeval tv[2] = {{time(NULL) - 40 * 86400, 0}, {time(NULL) - 40 * 86400, 0}};
        utimes(path, tv);
        if (v == 10) {
            snprintf(path, sizeof path, "%s/_delta_log/%020d.checkpoint.parquet", dir, v);
            utimes(path, tv);
        }
    }
    CHECK_EQ_INT(fl_delta_table_cleanup_log(t, -1, &deleted, &err), FL_OK);
    CHECK_EQ_INT(deleted, 10); /* commits 0..9; the checkpoint at 10 and its JSON stay */
    fl_store_meta m;
    CHECK_EQ_INT(fl_store_head(st, FL_STR("_delta_log/00000000000000000009.json"), &m, &err), FL_E_NOT_FOUND);
    CHECK_EQ_INT(fl_store_head(st, FL_STR("_delta_log/00000000000000000010.json"), &m, &err), FL_OK);
    fl_delta_snapshot *s = NULL;
    CHECK_EQ_INT(fl_delta_snapshot_load(t, -1, &s, &err), FL_OK);
    CHECK(s && fl_delta_snapshot_num_files(s) == 25);
    fl_delta_snapshot_free(s);
    CHECK_EQ_INT(fl_delta_snapshot_load(t, 12, &s, &err), FL_OK);
    CHECK(s && fl_delta_snapshot_num_files(s) == 12);
    fl_delta_snapshot_free(s);
    CHECK_EQ_INT(fl_delta_snapshot_load(t, 5, &s, &err), FL_E_NOT_FOUND); /* cleaned up */
    CHECK(strstr(err.msg, "no longer in the log") != NULL);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

/* Set the mtime of _delta_log files of versions [from, to] (commit JSON and checkpoint). */
static void age_log(int from, int to, time_t when)
{
    for (int v = from; v <= to; v++) {
        char path[512];
        struct timeval tv[2] = {{when, 0}, {when, 0}};
        snprintf(path, sizeof path, "%s/_delta_log/%020d.json", dir, v);
        utimes(path, tv);
        snprintf(path, sizeof path, "%s/_delta_log/%020d.checkpoint.parquet", dir, v);
        utimes(path, tv);
    }
}

static void test_interval_parse(void)
{
    int64_t ms = -1;
    CHECK(delta_interval_ms(FL_STR("interval 30 days"), &ms) && ms == 30 * 86400000LL);
    CHECK(delta_interval_ms(FL_STR("interval 1 week"), &ms) && ms == 604800000LL);
    CHECK(delta_interval_ms(FL_STR("INTERVAL 1 Second"), &ms) && ms == 1000);
    CHECK(delta_interval_ms(FL_STR("interval 1 day 12 hours"), &ms) && ms == 36 * 3600000LL);
    CHECK(delta_interval_ms(FL_STR("2 weeks"), &ms) && ms == 14 * 86400000LL);
    CHECK(delta_interval_ms(FL_STR("interval 1.5 hours"), &ms) && ms == 5400000LL);
    CHECK(delta_interval_ms(FL_STR("interval 250 milliseconds"), &ms) && ms == 250);
    CHECK(delta_interval_ms(FL_STR("interval 0 seconds"), &ms) && ms == 0);
    CHECK(!delta_interval_ms(FL_STR("interval 1 month"), &ms)); /* Delta refuses months/years */
    CHECK(!delta_interval_ms(FL_STR("interval 3 fortnights"), &ms));
    CHECK(!delta_interval_ms(FL_STR("interval"), &ms));
    CHECK(!delta_interval_ms(FL_STR("interval -1 day"), &ms));
    CHECK(!delta_interval_ms(FL_STR("interval days"), &ms));
    CHECK(!delta_interval_ms(FL_STR("interval 99999999999999 weeks"), &ms));
}

/* Metadata cleanup runs by itself after a checkpoint: commit and checkpoint files older than
 * delta.logRetentionDuration go, up to (not including) the newest checkpoint at or before the
 * cutoff commit; the table and every version from that checkpoint on still load. */
static void test_auto_log_cleanup(void)
{
    for (int enabled = 1; enabled >= 0; enabled--) {
        fl_store *st = fresh(enabled ? "autoclean" : "noclean");
        fl_delta_kv conf[] = {{FL_STR("delta.logRetentionDuration"), FL_STR("interval 1 second"), true},
                              {FL_STR("delta.enableExpiredLogCleanup"), FL_STR("false"), true}};
        fl_delta_table *t = create(st, false, conf, enabled ? 1 : 2);
        fl_err err;
        char sb[64];
        int64_t deleted_at[21] = {0};
        for (int i = 1; i <= 20; i++) {
            if (i == 10) age_log(0, 9, time(NULL) - 60);   /* 0..9 expired before checkpoint 10 */
            if (i == 20) age_log(10, 19, time(NULL) - 60); /* 10..19 expired before checkpoint 20 */
            fl_delta_txn *txn = NULL;
            CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
            char p[32];
            snprintf(p, sizeof p, "c%d.parquet", i);
            fl_delta_file f = fake_file(p, 1, sb, sizeof sb);
            CHECK_EQ_INT(fl_delta_txn_add_file(txn, &f, &err), FL_OK);
            fl_delta_commit_result res;
            CHECK_EQ_INT(fl_delta_txn_commit(txn, &res, &err), FL_OK);
            CHECK_EQ_INT(res.checkpointed, i % 10 == 0);
            deleted_at[i] = res.log_files_deleted;
            fl_delta_txn_free(txn);
        }
        /* at v10 no checkpoint was old enough (the first one is being written) */
        CHECK_EQ_INT(deleted_at[10], 0);
        /* at v20 the cutoff commit is 19, the checkpoint to keep is 10: commits 0..9 go */
        CHECK_EQ_INT(deleted_at[20], enabled ? 10 : 0);
        fl_store_meta m;
        CHECK_EQ_INT(fl_store_head(st, FL_STR("_delta_log/00000000000000000009.json"), &m, &err),
                     enabled ? FL_E_NOT_FOUND : FL_OK);
        CHECK_EQ_INT(fl_store_head(st, FL_STR("_delta_log/00000000000000000000.json"), &m, &err),
                     enabled ? FL_E_NOT_FOUND : FL_OK);
        CHECK_EQ_INT(fl_store_head(st, FL_STR("_delta_log/00000000000000000010.json"), &m, &err), FL_OK);
        CHECK_EQ_INT(fl_store_head(st, FL_STR("_delta_log/00000000000000000010.checkpoint.parquet"), &m, &err), FL_OK);
        /* a fresh handle reads the latest version and time travels from the kept checkpoint on */
        fl_delta_table *t2 = NULL;
        CHECK_EQ_INT(fl_delta_table_open(st, NULL, &t2, &err), FL_OK);
        fl_delta_snapshot *s = NULL;
        CHECK_EQ_INT(fl_delta_snapshot_load(t2, -1, &s, &err), FL_OK);
        CHECK(s && fl_delta_snapshot_version(s) == 20 && fl_delta_snapshot_num_files(s) == 20);
        fl_delta_snapshot_free(s);
        s = NULL;
        CHECK_EQ_INT(fl_delta_snapshot_load(t2, 10, &s, &err), FL_OK);
        CHECK(s && fl_delta_snapshot_num_files(s) == 10);
        fl_delta_snapshot_free(s);
        s = NULL;
        CHECK_EQ_INT(fl_delta_snapshot_load(t2, 15, &s, &err), FL_OK);
        CHECK(s && fl_delta_snapshot_num_files(s) == 15);
        fl_delta_snapshot_free(s);
        s = NULL;
        CHECK_EQ_INT(fl_delta_snapshot_load(t2, 5, &s, &err), enabled ? FL_E_NOT_FOUND : FL_OK);
        fl_delta_snapshot_free(s);
        fl_delta_table_close(t2);
        fl_delta_table_close(t);
        fl_store_close(st);
        fl_rm_rf(dir, NULL);
    }
    /* malformed delta.logRetentionDuration: the explicit cleanup says so, nothing deleted */
    fl_store *st = fresh("badret");
    fl_delta_kv conf[] = {{FL_STR("delta.logRetentionDuration"), FL_STR("interval 2 months"), true}};
    fl_delta_table *t = create(st, false, conf, 1);
    fl_err err;
    int64_t deleted = -1;
    CHECK_EQ_INT(fl_delta_table_cleanup_log(t, -1, &deleted, &err), FL_E_ARG);
    CHECK(strstr(err.msg, "not an interval") != NULL);
    CHECK_EQ_INT(deleted, 0);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

/* inCommitTimestamp of commit v read straight from the log text. */
static int64_t ict_of(fl_store *st, int v)
{
    char key[64];
    snprintf(key, sizeof key, "_delta_log/%020d.json", v);
    fl_buf b;
    fl_buf_init(&b, 0);
    fl_err err;
    int64_t ict = -1;
    if (fl_store_get(st, fl_str_c(key), &b, NULL, &err) == FL_OK) {
        const char *p = strstr(b.ptr, "\"inCommitTimestamp\":");
        if (p) ict = strtoll(p + 20, NULL, 10);
    }
    fl_buf_reset(&b);
    return ict;
}

typedef struct hist {
    int n;
    int64_t version[8], ts[8];
    char op[8][32];
} hist;

static fl_rc hist_cb(void *ctx, const fl_delta_commit_entry *e, fl_err *err)
{
    (void)err;
    hist *h = ctx;
    if (h->n < 8) {
        h->version[h->n] = e->version;
        h->ts[h->n] = e->timestamp_ms;
        snprintf(h->op[h->n], sizeof h->op[0], "%.*s", (int)e->operation.len, e->operation.ptr);
        h->n++;
    }
    return FL_OK;
}

static void test_time_travel_ict(void)
{
    fl_store *st = fresh("ict");
    fl_delta_kv conf[] = {{FL_STR("delta.enableInCommitTimestamps"), FL_STR("true"), true}};
    fl_delta_table *t = create(st, false, conf, 1);
    fl_err err;
    char sb[64];
    for (int i = 0; i < 3; i++) {
        fl_delta_txn *txn = NULL;
        CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
        char p[32];
        snprintf(p, sizeof p, "g%d.parquet", i);
        fl_delta_file f = fake_file(p, 1, sb, sizeof sb);
        fl_delta_txn_add_file(txn, &f, &err);
        CHECK_EQ_INT(fl_delta_txn_commit(txn, NULL, &err), FL_OK);
        fl_delta_txn_free(txn);
    }
    int64_t ict[4];
    for (int v = 0; v <= 3; v++) {
        ict[v] = ict_of(st, v);
        CHECK(ict[v] > 0);
        if (v) CHECK(ict[v] > ict[v - 1]); /* strictly increasing */
        /* scramble file times: ICT tables must not depend on them */
        char path[512];
        snprintf(path, sizeof path, "%s/_delta_log/%020d.json", dir, v);
        struct timeval tv[2] = {{2000000000 - v * 1000, 0}, {2000000000 - v * 1000, 0}};
        utimes(path, tv);
    }
    fl_delta_snapshot *s = NULL;
    CHECK_EQ_INT(fl_delta_snapshot_load_at(t, ict[2], &s, &err), FL_OK);
    CHECK(s && fl_delta_snapshot_version(s) == 2);
    fl_delta_snapshot_free(s);
    CHECK_EQ_INT(fl_delta_snapshot_load_at(t, ict[2] - 1, &s, &err), FL_OK);
    CHECK(s && fl_delta_snapshot_version(s) == 1);
    fl_delta_snapshot_free(s);
    CHECK_EQ_INT(fl_delta_snapshot_load_at(t, ict[3] + 100000, &s, &err), FL_OK);
    CHECK(s && fl_delta_snapshot_version(s) == 3);
    CHECK(s && fl_delta_snapshot_timestamp(s) == ict[3]);
    fl_delta_snapshot_free(s);
    CHECK_EQ_INT(fl_delta_snapshot_load_at(t, ict[0] - 1, &s, &err), FL_E_NOT_FOUND);
    /* history: newest first, ICT timestamps, operations */
    hist h = {0};
    CHECK_EQ_INT(fl_delta_table_history(t, 0, -1, 0, hist_cb, &h, &err), FL_OK);
    CHECK_EQ_INT(h.n, 4);
    for (int i = 0; i < h.n && i < 4; i++) {
        CHECK_EQ_INT(h.version[i], 3 - i);
        CHECK_EQ_INT(h.ts[i], ict[3 - i]);
    }
    CHECK_EQ_STR(h.op[0], "WRITE");
    CHECK_EQ_STR(h.op[3], "CREATE TABLE");
    memset(&h, 0, sizeof h);
    CHECK_EQ_INT(fl_delta_table_history(t, 1, 2, 0, hist_cb, &h, &err), FL_OK);
    CHECK(h.n == 2 && h.version[0] == 2 && h.version[1] == 1);
    memset(&h, 0, sizeof h);
    CHECK_EQ_INT(fl_delta_table_history(t, 0, -1, 1, hist_cb, &h, &err), FL_OK);
    CHECK(h.n == 1 && h.version[0] == 3);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

/* Snapshot summary used to compare two loads: version, files, records, txn versions. */
static void summary(const fl_delta_snapshot *s, fl_buf *out)
{
    fl_buf_printf(out, "v%lld n%zu r%lld|", (long long)fl_delta_snapshot_version(s), fl_delta_snapshot_num_files(s),
                  (long long)fl_delta_snapshot_num_records(s));
    for (size_t i = 0; i < fl_delta_snapshot_num_files(s); i++) {
        const fl_delta_file *f = fl_delta_snapshot_get_file(s, i);
        fl_buf_printf(out, "%.*s:%lld:%.*s,", (int)f->path.len, f->path.ptr, (long long)f->size, (int)f->stats.len,
                      f->stats.ptr);
    }
    for (size_t i = 0; i < fl_delta_snapshot_num_app_txns(s); i++) {
        const fl_delta_app_txn *t = fl_delta_snapshot_get_app_txn(s, i);
        fl_buf_printf(out, "%.*s=%lld;", (int)t->app_id.len, t->app_id.ptr, (long long)t->version);
    }
}

static void test_checkpoint_write(void)
{
    fl_store *st = fresh("cpw");
    fl_delta_table *t = create(st, true, NULL, 0);
    fl_err err;
    for (int i = 1; i <= 12; i++) {
        fl_delta_txn *txn = NULL;
        CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
        if (!txn) return;
        CHECK_EQ_INT(fl_delta_txn_set_app(txn, FL_STR("cp"), i, &err), FL_OK);
        if (i == 6) CHECK_EQ_INT(fl_delta_txn_remove_all(txn, &err), FL_OK); /* tombstones */
        write_rows(txn, i * 10, 10, i % 2 ? "2024-01-01" : NULL);
        fl_delta_commit_result res;
        CHECK_EQ_INT(fl_delta_txn_commit(txn, &res, &err), FL_OK);
        CHECK_EQ_INT(res.checkpointed, i == 10);
        fl_delta_txn_free(txn);
    }
    fl_store_meta m;
    CHECK_EQ_INT(fl_store_head(st, FL_STR("_delta_log/00000000000000000010.checkpoint.parquet"), &m, &err), FL_OK);
    fl_buf b;
    fl_buf_init(&b, 0);
    CHECK_EQ_INT(fl_store_get(st, FL_STR("_delta_log/_last_checkpoint"), &b, NULL, &err), FL_OK);
    CHECK(strstr(b.ptr, "\"version\":10") != NULL);
    fl_buf_reset(&b);
    /* state through the checkpoint == state from replaying every JSON commit */
    fl_delta_snapshot *a = NULL, *c = NULL;
    CHECK_EQ_INT(fl_delta_snapshot_load(t, -1, &a, &err), FL_OK);
    fl_str del[2] = {FL_STR("_delta_log/00000000000000000010.checkpoint.parquet"), FL_STR("_delta_log/_last_checkpoint")};
    CHECK_EQ_INT(fl_store_delete(st, del, 2, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_snapshot_load(t, -1, &c, &err), FL_OK);
    if (a && c) {
        fl_buf sa, sc;
        fl_buf_init(&sa, 0);
        fl_buf_init(&sc, 0);
        summary(a, &sa);
        summary(c, &sc);
        CHECK_EQ_STR(sa.ptr, sc.ptr);
        CHECK_EQ_INT(fl_delta_snapshot_version(a), 12);
        CHECK_EQ_INT(fl_delta_snapshot_num_records(a), 70); /* batches 6..12 after the overwrite */
        fl_buf_reset(&sa);
        fl_buf_reset(&sc);
        /* an explicit checkpoint at the latest version */
        CHECK_EQ_INT(fl_delta_snapshot_write_checkpoint(t, c, &err), FL_OK);
        CHECK_EQ_INT(fl_store_head(st, FL_STR("_delta_log/00000000000000000012.checkpoint.parquet"), &m, &err), FL_OK);
    }
    fl_delta_snapshot_free(a);
    fl_delta_snapshot_free(c);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

int main(void)
{
    RUN(test_create_and_append);
    RUN(test_txn_idempotency);
    RUN(test_conflicts);
    RUN(test_schema_evolution);
    RUN(test_refuse_features);
    RUN(test_time_travel);
    RUN(test_checkpoint_write);
    RUN(test_time_travel_ict);
    RUN(test_vacuum);
    RUN(test_optimize);
    RUN(test_upsert);
    RUN(test_log_cleanup);
    RUN(test_interval_parse);
    RUN(test_auto_log_cleanup);
    return testhelp_done();
}
