/* test_delta_log.c - log replay against Delta's golden tables (tests/data/delta): the
 * errors readers must raise (gaps, missing protocol/metadata, bad protocol versions,
 * unsupported features named) and the reconciliation facts stated in SOURCE.md.
 * Row-level checks need the Parquet reader and live in the interop test. */
#include "fhirlake/delta.h"
#include "testhelp.h"

typedef struct open_tbl {
    fl_store *st;
    fl_delta_table *t;
} open_tbl;

static open_tbl open_golden(const char *rel)
{
    open_tbl o = {0};
    char rp[512];
    snprintf(rp, sizeof rp, "tests/data/delta/%s", rel);
    fl_err err;
    CHECK_EQ_INT(fl_store_open(th_path(rp), NULL, &o.st, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_table_open(o.st, NULL, &o.t, &err), FL_OK);
    return o;
}

static void close_tbl(open_tbl *o)
{
    fl_delta_table_close(o->t);
    fl_store_close(o->st);
}

/* Load the latest snapshot; returns the code, fills err. */
static fl_rc load(const char *rel, int64_t version, fl_delta_snapshot **s, fl_err *err)
{
    open_tbl o = open_golden(rel);
    fl_rc rc = fl_delta_snapshot_load(o.t, version, s, err);
    close_tbl(&o);
    return rc;
}

static void test_errors(void)
{
    fl_delta_snapshot *s = NULL;
    fl_err err;
    CHECK_EQ_INT(load("golden/versions-not-contiguous", -1, &s, &err), FL_E_DELTA_LOG);
    CHECK_MSG(strstr(err.msg, "not contiguous") && strstr(err.msg, "version 1 is missing"), "%s", err.msg);
    CHECK_EQ_INT(load("golden/deltalog-state-reconstruction-without-protocol", -1, &s, &err), FL_E_DELTA_LOG);
    CHECK_MSG(strstr(err.msg, "no protocol") != NULL, "%s", err.msg);
    CHECK_EQ_INT(load("golden/deltalog-state-reconstruction-without-metadata", -1, &s, &err), FL_E_DELTA_LOG);
    CHECK_MSG(strstr(err.msg, "no metaData") != NULL, "%s", err.msg);
    CHECK_EQ_INT(load("golden/deltalog-invalid-protocol-version", -1, &s, &err), FL_E_DELTA_PROTOCOL);
    CHECK_MSG(strstr(err.msg, "minReaderVersion 99") != NULL, "%s", err.msg);
    CHECK_EQ_INT(load("golden/no-delta-log-folder", -1, &s, &err), FL_E_DELTA_NOT_TABLE);
    CHECK_EQ_INT(load("golden/no-such-table-anywhere", -1, &s, &err), FL_E_DELTA_NOT_TABLE);
    /* unsupported reader features are named */
    CHECK_EQ_INT(load("golden/dv-partitioned-with-checkpoint", -1, &s, &err), FL_E_DELTA_PROTOCOL);
    CHECK_MSG(strstr(err.msg, "deletionVectors") != NULL, "%s", err.msg);
    CHECK_EQ_INT(load("golden/spark-variant-checkpoint", -1, &s, &err), FL_E_DELTA_PROTOCOL);
    CHECK_MSG(strstr(err.msg, "variantType") != NULL, "%s", err.msg);
    CHECK_EQ_INT(load("golden/table-with-columnmapping-mode-name", -1, &s, &err), FL_E_DELTA_PROTOCOL);
    CHECK_MSG(strstr(err.msg, "columnMapping") != NULL, "%s", err.msg);
    CHECK_EQ_INT(load("kernel/catalog-owned-preview", -1, &s, &err), FL_E_DELTA_PROTOCOL);
    CHECK_MSG(strstr(err.msg, "catalog") != NULL, "%s", err.msg);
    /* a version past the end */
    CHECK_EQ_INT(load("golden/checkpoint", 99, &s, &err), FL_E_NOT_FOUND);
    CHECK_MSG(strstr(err.msg, "latest is 14") != NULL, "%s", err.msg);
    CHECK(s == NULL);
}

static void test_checkpoint_table(void)
{
    /* 15 commits, each adds one file and removes the previous one */
    fl_delta_snapshot *s = NULL;
    fl_err err;
    CHECK_EQ_INT(load("golden/checkpoint", -1, &s, &err), FL_OK);
    if (!s) return;
    CHECK_EQ_INT(fl_delta_snapshot_version(s), 14);
    CHECK_EQ_INT(fl_delta_snapshot_num_files(s), 1);
    const fl_delta_protocol *p = fl_delta_snapshot_get_protocol(s);
    CHECK_EQ_INT(p->min_reader, 1);
    CHECK_EQ_INT(p->min_writer, 2);
    fl_delta_snapshot_free(s);
    /* time travel by version: at v3 there is still exactly one file, a different one */
    fl_delta_snapshot *s3 = NULL, *s14 = NULL;
    CHECK_EQ_INT(load("golden/checkpoint", 3, &s3, &err), FL_OK);
    CHECK_EQ_INT(load("golden/checkpoint", 14, &s14, &err), FL_OK);
    if (s3 && s14) {
        CHECK_EQ_INT(fl_delta_snapshot_version(s3), 3);
        CHECK_EQ_INT(fl_delta_snapshot_num_files(s3), 1);
        CHECK(!fl_str_eq(fl_delta_snapshot_get_file(s3, 0)->path, fl_delta_snapshot_get_file(s14, 0)->path));
    }
    fl_delta_snapshot_free(s3);
    fl_delta_snapshot_free(s14);
}

static void test_reconciliation(void)
{
    fl_delta_snapshot *s = NULL;
    fl_err err;
    /* add foo, remove foo, re-add foo: the re-added file is live */
    CHECK_EQ_INT(load("golden/delete-re-add-same-file-different-transactions", -1, &s, &err), FL_OK);
    if (s) {
        bool foo = false;
        for (size_t i = 0; i < fl_delta_snapshot_num_files(s); i++)
            if (fl_str_eq_c(fl_delta_snapshot_get_file(s, i)->path, "foo")) foo = true;
        CHECK(foo);
        fl_delta_snapshot_free(s);
    }
    /* latest metadata and protocol win */
    CHECK_EQ_INT(load("golden/log-replay-latest-metadata-protocol", -1, &s, &err), FL_OK);
    if (s) {
        CHECK_EQ_INT(fl_delta_snapshot_get_protocol(s)->min_reader, 3);
        CHECK_EQ_INT(fl_delta_snapshot_get_protocol(s)->min_writer, 7);
        CHECK(fl_delta_type_find(fl_delta_snapshot_get_schema(s), FL_STR("col2")) != NULL);
        fl_delta_snapshot_free(s);
    }
    /* a table written by Delta 0.1.0 with a txn action (appId "txnId", version 0) */
    CHECK_EQ_INT(load("spark/delta-0.1.0", -1, &s, &err), FL_OK);
    if (s) {
        int64_t v = -1;
        CHECK(fl_delta_snapshot_get_app_version(s, FL_STR("txnId"), &v));
        CHECK_EQ_INT(v, 0);
        CHECK_EQ_INT(fl_delta_snapshot_get_protocol(s)->min_writer, 1);
        CHECK_EQ_INT(fl_delta_snapshot_get_metadata(s)->n_partition_columns, 1);
        fl_delta_snapshot_free(s);
    }
    /* DELETEs: 41 rows remain (SOURCE.md), counted from the add stats */
    CHECK_EQ_INT(load("golden/basic-with-inserts-deletes-checkpoint", -1, &s, &err), FL_OK);
    if (s) {
        CHECK_EQ_INT(fl_delta_snapshot_version(s), 13);
        CHECK_EQ_INT(fl_delta_snapshot_num_records(s), 41);
        fl_delta_snapshot_free(s);
    }
    /* partition values of every type incl. real nulls */
    CHECK_EQ_INT(load("golden/data-reader-partition-values", -1, &s, &err), FL_OK);
    if (s) {
        const fl_delta_metadata *m = fl_delta_snapshot_get_metadata(s);
        CHECK(m->n_partition_columns >= 10);
        bool saw_null = false;
        for (size_t i = 0; i < fl_delta_snapshot_num_files(s); i++) {
            const fl_delta_file *f = fl_delta_snapshot_get_file(s, i);
            CHECK_EQ_INT(f->n_partition_values, m->n_partition_columns);
            for (size_t j = 0; j < f->n_partition_values; j++)
                if (!f->partition_values[j].has_val) saw_null = true;
        }
        CHECK(saw_null);
        fl_delta_snapshot_free(s);
    }
}

static void test_schema_parse(void)
{
    fl_delta_schema *sc = NULL;
    fl_err err;
    const char *js =
        "{\"type\":\"struct\",\"fields\":[{\"name\":\"id\",\"type\":\"string\",\"nullable\":false,\"metadata\":{}},"
        "{\"name\":\"v\",\"type\":\"decimal(18,6)\",\"nullable\":true,\"metadata\":{\"comment\":\"x\"}},"
        "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"elementType\":{\"type\":\"struct\",\"fields\":[{\"name\":"
        "\"code\",\"type\":\"string\",\"nullable\":true,\"metadata\":{}}]},\"containsNull\":true},\"nullable\":true,"
        "\"metadata\":{}},"
        "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"keyType\":\"string\",\"valueType\":\"long\",\"valueContainsNull\":"
        "false},\"nullable\":true,\"metadata\":{}},"
        "{\"name\":\"t\",\"type\":\"timestamp\",\"nullable\":true,\"metadata\":{}}]}";
    CHECK_EQ_INT(fl_delta_schema_parse(fl_str_c(js), &sc, &err), FL_OK);
    if (!sc) return;
    const fl_delta_type *r = fl_delta_schema_root(sc);
    CHECK_EQ_INT(r->n_fields, 5);
    CHECK_EQ_INT(r->fields[1].type->kind, FL_DELTA_T_DECIMAL);
    CHECK_EQ_INT(r->fields[1].type->precision, 18);
    CHECK_EQ_INT(r->fields[1].type->scale, 6);
    CHECK_EQ_INT(r->fields[2].type->element->kind, FL_DELTA_T_STRUCT);
    CHECK_EQ_INT(r->fields[3].type->value->kind, FL_DELTA_T_LONG);
    CHECK(!r->fields[0].nullable);
    /* round trip: writing it back gives the same text */
    fl_buf b;
    fl_buf_init(&b, 0);
    CHECK_EQ_INT(fl_delta_type_to_json(r, &b), FL_OK);
    CHECK_EQ_STR(b.ptr, js);
    fl_buf_reset(&b);
    fl_delta_schema_free(sc);
    /* errors */
    CHECK_EQ_INT(fl_delta_schema_parse(FL_STR("{\"type\":\"struct\"}"), &sc, &err), FL_E_DELTA_SCHEMA);
    CHECK_EQ_INT(fl_delta_schema_parse(FL_STR("{\"type\":\"struct\",\"fields\":[{\"name\":\"a\",\"type\":\"decimal(40,2)\"}]}"), &sc, &err),
                 FL_E_DELTA_SCHEMA);
    CHECK_MSG(strstr(err.msg, "decimal(40,2)") != NULL, "%s", err.msg);
    CHECK_EQ_INT(fl_delta_schema_parse(FL_STR("{\"type\":\"struct\",\"fields\":[{\"name\":\"a\",\"type\":\"long\"},{\"name\":\"A\",\"type\":\"long\"}]}"), &sc, &err),
                 FL_E_DELTA_SCHEMA);
    CHECK_EQ_INT(fl_delta_schema_parse(FL_STR("not json"), &sc, &err), FL_E_DELTA_SCHEMA);
    /* nesting limit */
    fl_buf deep;
    fl_buf_init(&deep, 0);
    fl_buf_append_c(&deep, "{\"type\":\"struct\",\"fields\":[{\"name\":\"a\",\"type\":");
    for (int i = 0; i < 100; i++) fl_buf_append_c(&deep, "{\"type\":\"array\",\"elementType\":");
    fl_buf_append_c(&deep, "\"long\"");
    for (int i = 0; i < 100; i++) fl_buf_append_c(&deep, "}");
    fl_buf_append_c(&deep, "}]}");
    fl_rc rc = fl_delta_schema_parse(fl_buf_str(&deep), &sc, &err);
    CHECK(rc == FL_E_LIMIT || rc == FL_E_DELTA_SCHEMA);
    fl_buf_reset(&deep);
}

/* Checkpoint flavours; expected row counts are the ones SOURCE.md states. */
static void test_checkpoints_read(void)
{
    static const struct {
        const char *table;
        int64_t version, rows;
    } cases[] = {
        {"golden/multi-part-checkpoint", 1, 31},      {"golden/only-checkpoint-files", 2, 25},
        {"golden/v2-checkpoint-json", 2, 10},         {"golden/v2-checkpoint-parquet", 2, 10},
        {"kernel/basic-with-checkpoint", 14, 150},    {"golden/corrupted-last-checkpoint-kernel", 11, 100},
        {"golden/basic-with-inserts-overwrite-restore", -1, 200},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fl_delta_snapshot *s = NULL;
        fl_err err;
        fl_rc rc = load(cases[i].table, -1, &s, &err);
        CHECK_MSG(rc == FL_OK, "%s: %s", cases[i].table, err.msg);
        if (!s) continue;
        if (cases[i].version >= 0) CHECK_EQ_INT(fl_delta_snapshot_version(s), cases[i].version);
        CHECK_MSG(fl_delta_snapshot_num_records(s) == cases[i].rows, "%s: %lld rows", cases[i].table,
                  (long long)fl_delta_snapshot_num_records(s));
        fl_delta_snapshot_free(s);
    }
    /* a checkpoint without protocol / metaData is an error, not a reason to guess */
    fl_delta_snapshot *s = NULL;
    fl_err err;
    CHECK_EQ_INT(load("golden/deltalog-state-reconstruction-from-checkpoint-missing-metadata", -1, &s, &err),
                 FL_E_DELTA_LOG);
    CHECK_EQ_INT(load("golden/deltalog-state-reconstruction-from-checkpoint-missing-protocol", -1, &s, &err),
                 FL_E_DELTA_LOG);
    /* time travel before the checkpoint replays JSON from version 0 */
    CHECK_EQ_INT(load("kernel/basic-with-checkpoint", 3, &s, &err), FL_OK);
    if (s) {
        CHECK_EQ_INT(fl_delta_snapshot_version(s), 3);
        CHECK_EQ_INT(fl_delta_snapshot_num_records(s), 40);
        fl_delta_snapshot_free(s);
    }
}

/* Deletion vectors: live rows = numRecords - decoded deleted rows (counts from SOURCE.md). */
static void test_deletion_vectors(void)
{
    static const struct {
        const char *table;
        int64_t rows;
    } cases[] = {
        {"golden/dv-partitioned-with-checkpoint", 35},
        {"golden/log-replay-dv-key-cases", 47},
        {"kernel/basic-dv-no-checkpoint", 8},
        {"kernel/basic-dv-with-checkpoint", 454},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char rp[512];
        snprintf(rp, sizeof rp, "tests/data/delta/%s", cases[i].table);
        fl_err err;
        fl_store *st = NULL;
        fl_delta_table *t = NULL;
        fl_delta_opts o;
        fl_delta_opts_default(&o);
        o.read_dv = true;
        CHECK_EQ_INT(fl_store_open(th_path(rp), NULL, &st, &err), FL_OK);
        CHECK_EQ_INT(fl_delta_table_open(st, &o, &t, &err), FL_OK);
        fl_delta_snapshot *s = NULL;
        fl_rc rc = fl_delta_snapshot_load(t, -1, &s, &err);
        CHECK_MSG(rc == FL_OK, "%s: %s", cases[i].table, err.msg);
        if (s) {
            int64_t live = fl_delta_snapshot_num_records(s);
            size_t with_dv = 0;
            fl_arena a;
            fl_arena_init(&a, 0, 0);
            for (size_t k = 0; k < fl_delta_snapshot_num_files(s); k++) {
                const fl_delta_file *f = fl_delta_snapshot_get_file(s, k);
                uint64_t *rows = NULL;
                size_t n = 0;
                rc = fl_delta_dv_rows(t, f, &a, &rows, &n, &err);
                CHECK_MSG(rc == FL_OK, "%s: %s", cases[i].table, err.msg);
                for (size_t j = 1; j < n; j++) CHECK(rows[j - 1] < rows[j]);
                live -= (int64_t)n;
                if (f->dv.len) with_dv++;
            }
            fl_arena_fini(&a);
            CHECK(with_dv > 0);
            CHECK_MSG(live == cases[i].rows, "%s: %lld live rows", cases[i].table, (long long)live);
            fl_delta_snapshot_free(s);
        }
        /* writers may append to DV tables without applying DVs */
        fl_delta_table_close(t);
        fl_delta_table_open(st, NULL, &t, &err);
        fl_delta_txn *txn = NULL;
        CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
        fl_delta_txn_free(txn);
        fl_delta_table_close(t);
        fl_store_close(st);
    }
}

/* Rows through fl_delta_scan: counts after DVs, typed partition values. */
static void test_scan(void)
{
    static const struct {
        const char *table;
        int64_t rows;
    } cases[] = {{"kernel/basic-dv-no-checkpoint", 8}, {"kernel/basic-with-checkpoint", 150},
                 {"golden/dv-partitioned-with-checkpoint", 35}, {"golden/data-reader-partition-values", 3}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char rp[512];
        snprintf(rp, sizeof rp, "tests/data/delta/%s", cases[i].table);
        fl_err err;
        fl_store *st = NULL;
        fl_delta_table *t = NULL;
        fl_delta_opts o;
        fl_delta_opts_default(&o);
        o.read_dv = true;
        fl_store_open(th_path(rp), NULL, &st, &err);
        fl_delta_table_open(st, &o, &t, &err);
        fl_delta_snapshot *s = NULL;
        CHECK_EQ_INT(fl_delta_snapshot_load(t, -1, &s, &err), FL_OK);
        fl_delta_scan *sc = NULL;
        CHECK_EQ_INT(fl_delta_scan_open(t, s, &sc, &err), FL_OK);
        fl_arena a;
        fl_arena_init(&a, 0, 0);
        int64_t n = 0;
        bool saw_date = false, saw_null_part = false;
        const fl_delta_type *sch = fl_delta_snapshot_get_schema(s);
        const fl_delta_field *df = fl_delta_type_find(sch, FL_STR("as_date"));
        size_t di = df ? (size_t)(df - sch->fields) : 0;
        fl_rc rc;
        fl_pq_val *row;
        while ((rc = fl_delta_scan_next(sc, &a, &row, &err)) == FL_OK) {
            n++;
            CHECK_EQ_INT(row->n, sch->n_fields);
            if (df) {
                /* as_date is a partition column: 2021-09-08 = day 18878, or null */
                if (row->v.items[di].kind == FL_PQ_V_I32) saw_date = row->v.items[di].v.i32 == 18878;
                if (row->v.items[di].kind == FL_PQ_V_NULL) saw_null_part = true;
            }
            fl_arena_reset(&a);
        }
        CHECK_EQ_INT(rc, FL_E_EOF);
        CHECK_MSG(n == cases[i].rows, "%s: %lld rows", cases[i].table, (long long)n);
        if (df) CHECK(saw_date && saw_null_part);
        fl_arena_fini(&a);
        fl_delta_scan_close(sc);
        fl_delta_snapshot_free(s);
        fl_delta_table_close(t);
        fl_store_close(st);
    }
}

int main(void)
{
    RUN(test_errors);
    RUN(test_checkpoint_table);
    RUN(test_reconciliation);
    RUN(test_schema_parse);
    RUN(test_checkpoints_read);
    RUN(test_deletion_vectors);
    RUN(test_scan);
    return testhelp_done();
}
