/* test_delta_merge.c - MERGE by key (fl_delta_merge_*): upsert of matched and unmatched
 * keys, newer-wins both ways and ties, deletes and soft deletes, files without matches
 * left alone (the commit's remove set), multi-column keys, batch duplicates, limits,
 * conflicts with concurrent appends/removes, txn idempotency. */
#include "fhirlake/delta.h"
#include "fhirlake/json.h"
#include "fhirlake/os.h"
#include "testhelp.h"

#include <unistd.h>

static char dir[256];

static fl_store *fresh(const char *name)
{
    snprintf(dir, sizeof dir, "/tmp/fl_dm_%s_%d", name, (int)getpid());
    fl_rm_rf(dir, NULL);
    fl_store *st = NULL;
    fl_err err;
    CHECK_EQ_INT(fl_store_open(dir, NULL, &st, &err), FL_OK);
    return st;
}

/* id STRING, k2 LONG, ts LONG, v STRING, del BOOLEAN */
static fl_delta_table *create(fl_store *st)
{
    fl_delta_table *t = NULL;
    fl_err err;
    CHECK_EQ_INT(fl_delta_table_open(st, NULL, &t, &err), FL_OK);
    fl_delta_schema *s = NULL;
    CHECK_EQ_INT(fl_delta_schema_new(&s, &err), FL_OK);
    fl_delta_schema_add(s, NULL, "id", fl_delta_schema_prim(s, FL_DELTA_T_STRING), true);
    fl_delta_schema_add(s, NULL, "k2", fl_delta_schema_prim(s, FL_DELTA_T_LONG), true);
    fl_delta_schema_add(s, NULL, "ts", fl_delta_schema_prim(s, FL_DELTA_T_LONG), true);
    fl_delta_schema_add(s, NULL, "v", fl_delta_schema_prim(s, FL_DELTA_T_STRING), true);
    fl_delta_schema_add(s, NULL, "del", fl_delta_schema_prim(s, FL_DELTA_T_BOOLEAN), true);
    fl_delta_create_opts co = {.schema = fl_delta_schema_root(s)};
    CHECK_EQ_INT(fl_delta_table_create(t, &co, NULL, &err), FL_OK);
    fl_delta_schema_free(s);
    return t;
}

/* One commit with one file: ids prefix-<first..first+n) (3 digits), k2 = k2, ts, v. */
static void append(fl_delta_table *t, const char *prefix, int first, int n, int64_t k2, int64_t ts, const char *v)
{
    fl_err err;
    fl_delta_txn *txn = NULL;
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    fl_pq_writer *w = NULL;
    CHECK_EQ_INT(fl_delta_txn_file_open(txn, NULL, 0, NULL, &w, &err), FL_OK);
    for (int i = first; i < first + n; i++) {
        char id[32];
        snprintf(id, sizeof id, "%s-%03d", prefix, i);
        fl_pq_writer_put_str(w, fl_str_c(id));
        fl_pq_writer_put_i64(w, k2);
        fl_pq_writer_put_i64(w, ts);
        fl_pq_writer_put_str(w, fl_str_c(v));
        fl_pq_writer_put_null(w);
        CHECK_EQ_INT(fl_pq_writer_end_row(w), FL_OK);
    }
    CHECK_EQ_INT(fl_delta_txn_file_close(txn, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_txn_commit(txn, NULL, &err), FL_OK);
    fl_delta_txn_free(txn);
}

/* A row in scan shape; del < 0 = null; v NULL = null. */
static fl_pq_val *mkrow(fl_arena *a, const char *id, int64_t k2, int64_t ts, const char *v, int del)
{
    fl_pq_val *r = fl_arena_calloc(a, 1, sizeof *r);
    fl_pq_val *it = fl_arena_calloc(a, 5, sizeof *it);
    r->kind = FL_PQ_V_STRUCT;
    r->n = 5;
    r->v.items = it;
    it[0] = (fl_pq_val){.kind = FL_PQ_V_BYTES, .v.bytes = fl_str_c(id)};
    it[1] = (fl_pq_val){.kind = FL_PQ_V_I64, .v.i64 = k2};
    it[2] = (fl_pq_val){.kind = FL_PQ_V_I64, .v.i64 = ts};
    if (v) it[3] = (fl_pq_val){.kind = FL_PQ_V_BYTES, .v.bytes = fl_str_c(v)};
    if (del >= 0) it[4] = (fl_pq_val){.kind = FL_PQ_V_BOOL, .v.b = del != 0};
    return r;
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Rows of the latest version as sorted "id|k2|ts|v|del" lines. */
static char *rows_text(fl_delta_table *t, int64_t version)
{
    fl_delta_snapshot *s = NULL;
    fl_err err;
    if (fl_delta_snapshot_load(t, version, &s, &err)) return NULL;
    fl_delta_scan *sc = NULL;
    CHECK_EQ_INT(fl_delta_scan_open(t, s, &sc, &err), FL_OK);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    char **rows = NULL;
    size_t n = 0;
    fl_pq_val *row;
    while (fl_delta_scan_next(sc, &a, &row, &err) == FL_OK) {
        char line[256];
        const fl_pq_val *it = row->v.items;
        snprintf(line, sizeof line, "%.*s|%lld|%lld|%.*s|%s", (int)it[0].v.bytes.len, it[0].v.bytes.ptr,
                 (long long)it[1].v.i64, (long long)it[2].v.i64, it[3].kind == FL_PQ_V_BYTES ? (int)it[3].v.bytes.len : 4,
                 it[3].kind == FL_PQ_V_BYTES ? it[3].v.bytes.ptr : "null",
                 it[4].kind == FL_PQ_V_BOOL ? (it[4].v.b ? "T" : "F") : "-");
        rows = realloc(rows, (n + 1) * sizeof *rows);
        rows[n++] = strdup(line);
        fl_arena_reset(&a);
    }
    qsort(rows, n, sizeof *rows, str_cmp);
    fl_buf all;
    fl_buf_init(&all, 0);
    for (size_t i = 0; i < n; i++) {
        fl_buf_append_c(&all, rows[i]);
        fl_buf_putc(&all, '\n');
        free(rows[i]);
    }
    free(rows);
    fl_arena_fini(&a);
    fl_delta_scan_close(sc);
    fl_delta_snapshot_free(s);
    return fl_buf_detach(&all, NULL);
}

/* Does the table text hold this exact line? */
static bool has_line(const char *text, const char *line)
{
    char want[256];
    snprintf(want, sizeof want, "%s\n", line);
    return text && strstr(text, want) != NULL && (text == strstr(text, want) || strstr(text, want)[-1] == '\n');
}

static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; p && *p; p++) n += *p == '\n';
    return n;
}

/* Paths of the live files at version v, sorted, joined by '\n'. */
static char *live_paths(fl_delta_table *t, int64_t v)
{
    fl_delta_snapshot *s = NULL;
    fl_err err;
    if (fl_delta_snapshot_load(t, v, &s, &err)) return NULL;
    fl_buf b;
    fl_buf_init(&b, 0);
    for (size_t i = 0; i < fl_delta_snapshot_num_files(s); i++) {
        fl_buf_append_str(&b, fl_delta_snapshot_get_file(s, i)->path);
        fl_buf_putc(&b, '\n');
    }
    fl_delta_snapshot_free(s);
    return fl_buf_detach(&b, NULL);
}

/* The `remove` paths of commit v (in log order) and whether each had dataChange=true. */
static int commit_removes(fl_store *st, int64_t v, char paths[][160], int cap, bool *all_data_change)
{
    char key[48];
    fl_delta_commit_key(v, key);
    fl_buf b;
    fl_buf_init(&b, 0);
    fl_err err;
    CHECK_EQ_INT(fl_store_get(st, fl_str_c(key), &b, NULL, &err), FL_OK);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    int n = 0;
    *all_data_change = true;
    for (char *line = b.ptr, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        fl_json_val *j = NULL;
        if (fl_json_parse(line, nl ? (size_t)(nl - line) : strlen(line), NULL, &a, &j, NULL, &err)) continue;
        const fl_json_val *r = fl_json_get_c(j, "remove");
        if (!r || n >= cap) continue;
        fl_str p = fl_json_str(fl_json_get_c(r, "path"));
        snprintf(paths[n++], 160, "%.*s", (int)p.len, p.ptr);
        const fl_json_val *dc = fl_json_get_c(r, "dataChange");
        if (!dc || dc->type != FL_JSON_TRUE) *all_data_change = false;
    }
    fl_arena_fini(&a);
    fl_buf_reset(&b);
    return n;
}

static void test_upsert_delete(void)
{
    fl_store *st = fresh("upsert");
    fl_delta_table *t = create(st);
    append(t, "id", 0, 10, 1, 100, "old");  /* v1: file A */
    append(t, "id", 10, 10, 1, 100, "old"); /* v2: file B */
    append(t, "id", 20, 10, 1, 100, "old"); /* v3: file C */
    char *before = live_paths(t, 3);
    fl_err err;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_delta_txn *txn = NULL;
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    fl_delta_txn_set_operation(txn, "MERGE", NULL);
    const char *keys[] = {"id"};
    fl_delta_merge_opts mo = {.key_columns = keys, .n_key_columns = 1};
    fl_delta_merge *m = NULL;
    CHECK_EQ_INT(fl_delta_merge_new(txn, &mo, &m, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, "id-003", 1, 200, "new", -1), &err), FL_OK); /* matched (A) */
    CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, "zz-999", 1, 1, "ins", -1), &err), FL_OK);   /* unmatched */
    CHECK_EQ_INT(fl_delta_merge_add_delete(m, mkrow(&a, "id-015", 0, 0, NULL, -1), &err), FL_OK); /* B */
    CHECK_EQ_INT(fl_delta_merge_add_delete(m, mkrow(&a, "id-003", 0, 0, NULL, -1), &err), FL_E_ARG); /* both */
    CHECK(strstr(err.msg, "same key") != NULL);
    fl_delta_merge_result r;
    CHECK_EQ_INT(fl_delta_merge_run(m, &r, &err), FL_OK);
    CHECK_EQ_INT(r.rows_updated, 1);
    CHECK_EQ_INT(r.rows_inserted, 1);
    CHECK_EQ_INT(r.rows_deleted, 1);
    CHECK_EQ_INT(r.target_rows_removed, 2);
    CHECK_EQ_INT(r.files_removed, 2);
    CHECK_EQ_INT(r.files_added, 3); /* two rewrites + the new rows */
    CHECK_EQ_INT(r.files_scanned, 2);
    CHECK_EQ_INT(r.files_skipped, 1); /* C (id-020..029) ruled out by stats, never read */
    CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, "late", 1, 1, "x", -1), &err), FL_E_STATE);
    fl_delta_merge_free(m);
    fl_delta_commit_result cr;
    CHECK_EQ_INT(fl_delta_txn_commit(txn, &cr, &err), FL_OK);
    CHECK_EQ_INT(cr.version, 4);
    CHECK_EQ_INT(cr.files_removed, 2);
    fl_delta_txn_free(txn);
    /* the remove set is exactly files A and B (the first two of v3's sorted live paths
     * are A/B/C in some order: find C by elimination) */
    char rm[8][160];
    bool dc = false;
    int nrm = commit_removes(st, 4, rm, 8, &dc);
    CHECK_EQ_INT(nrm, 2);
    CHECK(dc);
    char *after = live_paths(t, 4);
    int untouched = 0;
    for (char *p = before, *nl; p && *p; p = nl + 1) {
        nl = strchr(p, '\n');
        char path[160];
        snprintf(path, sizeof path, "%.*s", (int)(nl - p), p);
        bool removed = (nrm > 0 && !strcmp(path, rm[0])) || (nrm > 1 && !strcmp(path, rm[1]));
        char line[170];
        snprintf(line, sizeof line, "%s\n", path);
        if (!removed) {
            untouched++;
            CHECK(strstr(after, line) != NULL); /* still live, same file */
        } else {
            CHECK(strstr(after, line) == NULL);
        }
    }
    CHECK_EQ_INT(untouched, 1);
    char *text = rows_text(t, -1);
    CHECK_EQ_INT(count_lines(text), 30);
    CHECK(has_line(text, "id-003|1|200|new|-"));
    CHECK(!has_line(text, "id-003|1|100|old|-"));
    CHECK(has_line(text, "zz-999|1|1|ins|-"));
    CHECK(!strstr(text, "id-015|"));
    CHECK(has_line(text, "id-014|1|100|old|-"));
    CHECK(has_line(text, "id-025|1|100|old|-"));
    fl_delta_snapshot *s = NULL;
    CHECK_EQ_INT(fl_delta_snapshot_load(t, -1, &s, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_snapshot_num_records(s), 30);
    fl_delta_snapshot_free(s);
    /* time travel before the merge still reads the old rows */
    char *old = rows_text(t, 3);
    CHECK(has_line(old, "id-015|1|100|old|-") && has_line(old, "id-003|1|100|old|-"));
    free(before);
    free(after);
    free(text);
    free(old);
    fl_arena_fini(&a);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

static void test_newer_wins(void)
{
    fl_store *st = fresh("newer");
    fl_delta_table *t = create(st);
    append(t, "id", 0, 10, 1, 100, "old");
    fl_err err;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    const char *keys[] = {"id"};
    for (int ties = 0; ties < 2; ties++) {
        fl_delta_txn *txn = NULL;
        CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
        fl_delta_merge_opts mo = {.key_columns = keys, .n_key_columns = 1, .newer_wins = "ts", .ties_to_source = ties};
        fl_delta_merge *m = NULL;
        CHECK_EQ_INT(fl_delta_merge_new(txn, &mo, &m, &err), FL_OK);
        const char *tag = ties ? "t2" : "t1";
        int base = ties ? 5 : 0;
        char id1[16], id2[16], id3[16], id4[16];
        snprintf(id1, sizeof id1, "id-%03d", base + 1);
        snprintf(id2, sizeof id2, "id-%03d", base + 2);
        snprintf(id3, sizeof id3, "id-%03d", base + 3);
        snprintf(id4, sizeof id4, "id-%03d", base + 4);
        CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, id1, 1, 50, tag, -1), &err), FL_OK);  /* older: loses */
        CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, id2, 1, 100, tag, -1), &err), FL_OK); /* equal */
        CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, id3, 1, 150, tag, -1), &err), FL_OK); /* newer: wins */
        /* the same key twice in the batch: the greater ts wins whatever the order */
        CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, id4, 1, 300, "big", -1), &err), FL_OK);
        CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, id4, 1, 200, "small", -1), &err), FL_OK);
        CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, ties ? "new-2" : "new-1", 1, 1, tag, -1), &err), FL_OK);
        CHECK_EQ_INT(fl_delta_merge_resolve(m, &err), FL_OK);
        CHECK(fl_delta_merge_lost(m, 0));
        CHECK_EQ_INT(fl_delta_merge_lost(m, 1), !ties);
        CHECK(!fl_delta_merge_lost(m, 2));
        CHECK(!fl_delta_merge_lost(m, 3));
        CHECK(fl_delta_merge_lost(m, 4)); /* superseded */
        CHECK(!fl_delta_merge_lost(m, 5));
        fl_delta_merge_result r;
        CHECK_EQ_INT(fl_delta_merge_run(m, &r, &err), FL_OK);
        CHECK_EQ_INT(r.rows_inserted, 1);
        CHECK_EQ_INT(r.rows_updated, ties ? 3 : 2);
        CHECK_EQ_INT(r.rows_skipped, ties ? 2 : 3);
        fl_delta_merge_free(m);
        CHECK_EQ_INT(fl_delta_txn_commit(txn, NULL, &err), FL_OK);
        fl_delta_txn_free(txn);
        char *text = rows_text(t, -1);
        char l1[64], l2[64], l3[64], l4[64];
        snprintf(l1, sizeof l1, "%s|1|100|old|-", id1);
        snprintf(l2, sizeof l2, ties ? "%s|1|100|t2|-" : "%s|1|100|old|-", id2);
        snprintf(l3, sizeof l3, "%s|1|150|%s|-", id3, tag);
        snprintf(l4, sizeof l4, "%s|1|300|big|-", id4);
        CHECK(has_line(text, l1));
        CHECK(has_line(text, l2));
        CHECK(has_line(text, l3));
        CHECK(has_line(text, l4));
        CHECK_EQ_INT(count_lines(text), 11 + ties);
        free(text);
    }
    fl_arena_fini(&a);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

static void test_multi_key_soft_delete(void)
{
    fl_store *st = fresh("multikey");
    fl_delta_table *t = create(st);
    append(t, "id", 0, 3, 1, 100, "one");
    append(t, "id", 0, 3, 2, 100, "two");
    fl_err err;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    const char *keys[] = {"id", "k2"};
    fl_delta_txn *txn = NULL;
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    fl_delta_merge_opts mo = {.key_columns = keys, .n_key_columns = 2, .soft_delete_column = "del"};
    fl_delta_merge *m = NULL;
    CHECK_EQ_INT(fl_delta_merge_new(txn, &mo, &m, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, "id-001", 2, 5, "upd", -1), &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, "id-001", 3, 5, "ins", -1), &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_add_delete(m, mkrow(&a, "id-002", 1, 0, NULL, -1), &err), FL_OK);
    fl_delta_merge_result r;
    CHECK_EQ_INT(fl_delta_merge_run(m, &r, &err), FL_OK);
    CHECK_EQ_INT(r.rows_updated, 1);
    CHECK_EQ_INT(r.rows_inserted, 1);
    CHECK_EQ_INT(r.rows_deleted, 1);
    CHECK_EQ_INT(r.target_rows_removed, 1); /* the soft-deleted row stays */
    fl_delta_merge_free(m);
    CHECK_EQ_INT(fl_delta_txn_commit(txn, NULL, &err), FL_OK);
    fl_delta_txn_free(txn);
    char *text = rows_text(t, -1);
    CHECK_EQ_INT(count_lines(text), 7);
    CHECK(has_line(text, "id-001|1|100|one|-")); /* other k2: untouched */
    CHECK(has_line(text, "id-001|2|5|upd|-"));
    CHECK(!has_line(text, "id-001|2|100|two|-"));
    CHECK(has_line(text, "id-001|3|5|ins|-"));
    CHECK(has_line(text, "id-002|1|100|one|T")); /* flagged, kept */
    CHECK(has_line(text, "id-002|2|100|two|-"));
    free(text);
    /* argument errors */
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    const char *bad[] = {"nope"};
    fl_delta_merge_opts bo = {.key_columns = bad, .n_key_columns = 1};
    CHECK_EQ_INT(fl_delta_merge_new(txn, &bo, &m, &err), FL_E_ARG);
    CHECK(strstr(err.msg, "nope") != NULL);
    const char *boolkey[] = {"id"};
    fl_delta_merge_opts no = {.key_columns = boolkey, .n_key_columns = 1, .newer_wins = "del"};
    CHECK_EQ_INT(fl_delta_merge_new(txn, &no, &m, &err), FL_E_ARG);
    fl_delta_txn_free(txn);
    fl_arena_fini(&a);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
    /* append-only tables refuse a merge before anything is written */
    st = fresh("appendonly");
    CHECK_EQ_INT(fl_delta_table_open(st, NULL, &t, &err), FL_OK);
    fl_delta_schema *sc = NULL;
    CHECK_EQ_INT(fl_delta_schema_new(&sc, &err), FL_OK);
    fl_delta_schema_add(sc, NULL, "id", fl_delta_schema_prim(sc, FL_DELTA_T_STRING), true);
    fl_delta_kv ao = {FL_STR("delta.appendOnly"), FL_STR("true"), true};
    fl_delta_create_opts co = {.schema = fl_delta_schema_root(sc), .configuration = &ao, .n_configuration = 1};
    CHECK_EQ_INT(fl_delta_table_create(t, &co, NULL, &err), FL_OK);
    fl_delta_schema_free(sc);
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    const char *idk[] = {"id"};
    fl_delta_merge_opts ko = {.key_columns = idk, .n_key_columns = 1};
    m = NULL;
    CHECK_EQ_INT(fl_delta_merge_new(txn, &ko, &m, &err), FL_E_DELTA_PROTOCOL);
    CHECK(m == NULL && strstr(err.msg, "append-only") != NULL);
    fl_delta_txn_free(txn);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

/* Partitioned table (p STRING, dd DATE): updates in place, a row moving to another
 * partition, an insert with a null partition value, a delete. */
static void test_partitioned(void)
{
    fl_store *st = fresh("parts");
    fl_delta_table *t = NULL;
    fl_err err;
    CHECK_EQ_INT(fl_delta_table_open(st, NULL, &t, &err), FL_OK);
    fl_delta_schema *sc = NULL;
    CHECK_EQ_INT(fl_delta_schema_new(&sc, &err), FL_OK);
    fl_delta_schema_add(sc, NULL, "id", fl_delta_schema_prim(sc, FL_DELTA_T_STRING), true);
    fl_delta_schema_add(sc, NULL, "v", fl_delta_schema_prim(sc, FL_DELTA_T_STRING), true);
    fl_delta_schema_add(sc, NULL, "p", fl_delta_schema_prim(sc, FL_DELTA_T_STRING), true);
    fl_delta_schema_add(sc, NULL, "dd", fl_delta_schema_prim(sc, FL_DELTA_T_DATE), true);
    const char *pcs[] = {"p", "dd"};
    fl_delta_create_opts co = {.schema = fl_delta_schema_root(sc), .partition_columns = pcs, .n_partition_columns = 2};
    CHECK_EQ_INT(fl_delta_table_create(t, &co, NULL, &err), FL_OK);
    fl_delta_schema_free(sc);
    for (int f = 0; f < 2; f++) {
        fl_delta_txn *txn = NULL;
        CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
        fl_delta_kv pv[2] = {{FL_STR("p"), f ? FL_STR("b") : FL_STR("a"), true},
                             {FL_STR("dd"), f ? FL_STR_NULL : FL_STR("2024-01-02"), f == 0}};
        fl_pq_writer *w = NULL;
        CHECK_EQ_INT(fl_delta_txn_file_open(txn, pv, 2, NULL, &w, &err), FL_OK);
        for (int i = 0; i < 5; i++) {
            char id[8];
            snprintf(id, sizeof id, "%c%d", f ? 'b' : 'a', i);
            fl_pq_writer_put_str(w, fl_str_c(id));
            fl_pq_writer_put_str(w, FL_STR("old"));
            CHECK_EQ_INT(fl_pq_writer_end_row(w), FL_OK);
        }
        CHECK_EQ_INT(fl_delta_txn_file_close(txn, &err), FL_OK);
        CHECK_EQ_INT(fl_delta_txn_commit(txn, NULL, &err), FL_OK);
        fl_delta_txn_free(txn);
    }
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_delta_txn *txn = NULL;
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    const char *keys[] = {"id"};
    fl_delta_merge_opts mo = {.key_columns = keys, .n_key_columns = 1};
    fl_delta_merge *m = NULL;
    CHECK_EQ_INT(fl_delta_merge_new(txn, &mo, &m, &err), FL_OK);
    const int32_t d0102 = 19724, d0103 = 19725; /* days since 1970-01-01 */
    struct {
        const char *id, *v, *p;
        int32_t dd;
        bool del;
    } in[] = {{"a1", "new", "a", d0102, false}, {"b2", "moved", "c", d0103, false}, {"z9", "ins", NULL, d0102, false},
              {"a3", NULL, NULL, 0, true}};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        fl_pq_val *it = fl_arena_calloc(&a, 4, sizeof *it);
        fl_pq_val row = {.kind = FL_PQ_V_STRUCT, .n = 4, .v.items = it};
        it[0] = (fl_pq_val){.kind = FL_PQ_V_BYTES, .v.bytes = fl_str_c(in[i].id)};
        if (in[i].v) it[1] = (fl_pq_val){.kind = FL_PQ_V_BYTES, .v.bytes = fl_str_c(in[i].v)};
        if (in[i].p) it[2] = (fl_pq_val){.kind = FL_PQ_V_BYTES, .v.bytes = fl_str_c(in[i].p)};
        if (!in[i].del) it[3] = (fl_pq_val){.kind = FL_PQ_V_I32, .v.i32 = in[i].dd};
        CHECK_EQ_INT(in[i].del ? fl_delta_merge_add_delete(m, &row, &err) : fl_delta_merge_add_row(m, &row, &err), FL_OK);
    }
    fl_delta_merge_result r;
    CHECK_EQ_INT(fl_delta_merge_run(m, &r, &err), FL_OK);
    CHECK_EQ_INT(r.rows_updated, 2);
    CHECK_EQ_INT(r.rows_inserted, 1);
    CHECK_EQ_INT(r.rows_deleted, 1);
    CHECK_EQ_INT(r.files_removed, 2);
    CHECK_EQ_INT(r.files_added, 5); /* 2 rewrites + (a,01-02), (c,01-03), (null,01-02) */
    fl_delta_merge_free(m);
    CHECK_EQ_INT(fl_delta_txn_commit(txn, NULL, &err), FL_OK);
    fl_delta_txn_free(txn);
    /* rows with their partition values, through the scan */
    fl_delta_snapshot *snap = NULL;
    CHECK_EQ_INT(fl_delta_snapshot_load(t, -1, &snap, &err), FL_OK);
    fl_delta_scan *scn = NULL;
    CHECK_EQ_INT(fl_delta_scan_open(t, snap, &scn, &err), FL_OK);
    fl_arena ra;
    fl_arena_init(&ra, 0, 0);
    fl_pq_val *row;
    int n = 0, hits = 0;
    while (fl_delta_scan_next(scn, &ra, &row, &err) == FL_OK) {
        const fl_pq_val *it = row->v.items;
        fl_str id = it[0].v.bytes;
        n++;
        if (fl_str_eq_c(id, "a1"))
            hits += fl_str_eq_c(it[1].v.bytes, "new") && fl_str_eq_c(it[2].v.bytes, "a") && it[3].v.i32 == d0102;
        if (fl_str_eq_c(id, "b2"))
            hits += fl_str_eq_c(it[1].v.bytes, "moved") && fl_str_eq_c(it[2].v.bytes, "c") && it[3].v.i32 == d0103;
        if (fl_str_eq_c(id, "z9")) hits += it[2].kind == FL_PQ_V_NULL && it[3].v.i32 == d0102;
        if (fl_str_eq_c(id, "a3")) hits -= 10;
        if (fl_str_eq_c(id, "b0")) hits += it[2].kind == FL_PQ_V_BYTES && it[3].kind == FL_PQ_V_NULL;
        fl_arena_reset(&ra);
    }
    CHECK_EQ_INT(n, 10);
    CHECK_EQ_INT(hits, 4);
    int c_files = 0;
    for (size_t i = 0; i < fl_delta_snapshot_num_files(snap); i++) {
        const fl_delta_file *f = fl_delta_snapshot_get_file(snap, i);
        if (fl_str_eq_c(f->partition_values[0].val, "c") && fl_str_eq_c(f->partition_values[1].val, "2024-01-03") &&
            strstr(f->path.ptr, "p=c/dd=2024-01-03/"))
            c_files++;
    }
    CHECK_EQ_INT(c_files, 1);
    fl_arena_fini(&ra);
    fl_delta_scan_close(scn);
    fl_delta_snapshot_free(snap);
    fl_arena_fini(&a);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

static void test_limits(void)
{
    fl_store *st = fresh("limits");
    fl_delta_table *t = create(st);
    append(t, "id", 0, 3, 1, 100, "one");
    fl_err err;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    const char *keys[] = {"id"};
    fl_delta_txn *txn = NULL;
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    fl_delta_merge_opts mo = {.key_columns = keys, .n_key_columns = 1, .max_rows = 2};
    fl_delta_merge *m = NULL;
    CHECK_EQ_INT(fl_delta_merge_new(txn, &mo, &m, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, "a", 1, 1, "x", -1), &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, "b", 1, 1, "x", -1), &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, "c", 1, 1, "x", -1), &err), FL_E_LIMIT);
    CHECK(strstr(err.msg, "max_rows") != NULL && strstr(err.msg, "split") != NULL);
    fl_delta_merge_free(m);
    /* bytes: 64 KiB cap, rows with 8 KiB values */
    char *big = malloc(8192);
    memset(big, 'v', 8191);
    big[8191] = 0;
    fl_delta_merge_opts bo = {.key_columns = keys, .n_key_columns = 1, .max_bytes = 65536};
    CHECK_EQ_INT(fl_delta_merge_new(txn, &bo, &m, &err), FL_OK);
    fl_rc rc = FL_OK;
    int added = 0;
    for (int i = 0; i < 100 && rc == FL_OK; i++) {
        char id[16];
        snprintf(id, sizeof id, "k%d", i);
        rc = fl_delta_merge_add_row(m, mkrow(&a, fl_arena_strndup(&a, id, strlen(id)), 1, 1, big, -1), &err);
        if (rc == FL_OK) added++;
    }
    CHECK_EQ_INT(rc, FL_E_LIMIT);
    CHECK(strstr(err.msg, "max_bytes") != NULL);
    CHECK(added >= 4 && added < 8);
    fl_delta_merge_free(m);
    free(big);
    fl_delta_txn_free(txn);
    fl_arena_fini(&a);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

/* Prepare a merge of id-003 on handle t (run, not committed). */
static fl_delta_txn *merge_pending(fl_delta_table *t, fl_arena *a)
{
    fl_err err;
    fl_delta_txn *txn = NULL;
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    const char *keys[] = {"id"};
    fl_delta_merge_opts mo = {.key_columns = keys, .n_key_columns = 1};
    fl_delta_merge *m = NULL;
    CHECK_EQ_INT(fl_delta_merge_new(txn, &mo, &m, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(a, "id-003", 1, 7, "merged", -1), &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_run(m, NULL, &err), FL_OK);
    fl_delta_merge_free(m); /* the txn keeps what it needs */
    return txn;
}

static void test_conflicts(void)
{
    fl_store *st = fresh("conflict");
    fl_delta_table *t = create(st);
    append(t, "id", 0, 10, 1, 100, "old");
    append(t, "id", 10, 10, 1, 100, "old");
    fl_delta_table *t2 = NULL;
    fl_err err;
    CHECK_EQ_INT(fl_delta_table_open(st, NULL, &t2, &err), FL_OK);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    /* 1. a concurrent append of other keys: rebased, committed on the second attempt */
    fl_delta_txn *txn = merge_pending(t, &a);
    append(t2, "zz", 0, 5, 1, 1, "other");
    fl_delta_commit_result cr;
    CHECK_EQ_INT(fl_delta_txn_commit(txn, &cr, &err), FL_OK);
    CHECK_EQ_INT(cr.attempts, 2);
    fl_delta_txn_free(txn);
    char *text = rows_text(t, -1);
    CHECK_EQ_INT(count_lines(text), 25);
    CHECK(has_line(text, "id-003|1|7|merged|-"));
    free(text);
    /* 2. a concurrent append holding a merged key: conflict, nothing committed */
    txn = merge_pending(t, &a);
    append(t2, "id", 3, 1, 9, 9, "racer");
    int64_t v_before = -1;
    fl_delta_snapshot *s = NULL;
    CHECK_EQ_INT(fl_delta_snapshot_load(t2, -1, &s, &err), FL_OK);
    v_before = fl_delta_snapshot_version(s);
    fl_delta_snapshot_free(s);
    CHECK_EQ_INT(fl_delta_txn_commit(txn, &cr, &err), FL_E_DELTA_CONFLICT);
    CHECK(strstr(err.msg, "may hold keys") != NULL);
    fl_delta_txn_free(txn);
    CHECK_EQ_INT(fl_delta_snapshot_load(t2, -1, &s, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_snapshot_version(s), v_before);
    fl_delta_snapshot_free(s);
    /* 3. a concurrent delete of a file the merge read (but does not remove): conflict */
    txn = merge_pending(t, &a); /* reads the file(s) that may hold id-003 */
    CHECK_EQ_INT(fl_delta_snapshot_load(t2, -1, &s, &err), FL_OK);
    fl_delta_txn *t2x = NULL;
    CHECK_EQ_INT(fl_delta_txn_begin(t2, &t2x, &err), FL_OK);
    /* remove the racer's file (id-003 only, k2 = 9): the merge read it */
    const fl_delta_snapshot *s2 = fl_delta_txn_get_snapshot(t2x);
    int removed = 0;
    for (size_t i = 0; i < fl_delta_snapshot_num_files(s2); i++) {
        const fl_delta_file *f = fl_delta_snapshot_get_file(s2, i);
        if (strstr(f->stats.ptr, "\"k2\":9") && fl_delta_txn_remove_file(t2x, f->path, &err) == FL_OK) removed++;
    }
    CHECK_EQ_INT(removed, 1);
    CHECK_EQ_INT(fl_delta_txn_commit(t2x, NULL, &err), FL_OK);
    fl_delta_txn_free(t2x);
    fl_delta_snapshot_free(s);
    CHECK_EQ_INT(fl_delta_txn_commit(txn, &cr, &err), FL_E_DELTA_CONFLICT);
    CHECK(strstr(err.msg, "which this merge read") != NULL || strstr(err.msg, "also removes") != NULL);
    fl_delta_txn_free(txn);
    fl_delta_table_close(t2);
    fl_arena_fini(&a);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

static void test_txn_duplicate(void)
{
    fl_store *st = fresh("dup");
    fl_delta_table *t = create(st);
    append(t, "id", 0, 5, 1, 100, "old");
    fl_err err;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    const char *keys[] = {"id"};
    for (int round = 0; round < 2; round++) {
        fl_delta_txn *txn = NULL;
        CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
        fl_rc rc = fl_delta_txn_set_app(txn, FL_STR("merge-app"), 7, &err);
        if (round == 1) {
            CHECK_EQ_INT(rc, FL_E_DELTA_DUPLICATE); /* already applied: skipped */
            fl_delta_txn_free(txn);
            break;
        }
        CHECK_EQ_INT(rc, FL_OK);
        fl_delta_merge_opts mo = {.key_columns = keys, .n_key_columns = 1};
        fl_delta_merge *m = NULL;
        CHECK_EQ_INT(fl_delta_merge_new(txn, &mo, &m, &err), FL_OK);
        CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, "id-001", 1, 2, "m", -1), &err), FL_OK);
        CHECK_EQ_INT(fl_delta_merge_run(m, NULL, &err), FL_OK);
        fl_delta_merge_free(m);
        CHECK_EQ_INT(fl_delta_txn_commit(txn, NULL, &err), FL_OK);
        fl_delta_txn_free(txn);
    }
    char *text = rows_text(t, -1);
    CHECK_EQ_INT(count_lines(text), 5);
    CHECK(has_line(text, "id-001|1|2|m|-"));
    free(text);
    fl_arena_fini(&a);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

/* The scan projection the merge uses to match rows: unselected columns come back null. */
/* The column-by-column rewrite: a file of several row groups (4 rows each) whose only
 * changed rows sit in the last one (earlier row groups must still be copied), null
 * values and a null key (never matches); a second file written elsewhere with k2 as
 * INT32 (not the writer's INT64: the row path rewrites it, widening); then a merge whose
 * key lies inside the first file's id range but matches no row (the file stays). */
static void test_columnar(void)
{
    fl_store *st = fresh("columnar");
    fl_delta_table *t = create(st);
    fl_err err;
    fl_delta_txn *txn = NULL;
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    fl_pq_write_opts wo;
    fl_pq_write_opts_default(&wo);
    wo.codec = FL_PQ_ZSTD;
    wo.row_group_rows = 4;
    fl_pq_writer *w = NULL;
    CHECK_EQ_INT(fl_delta_txn_file_open(txn, NULL, 0, &wo, &w, &err), FL_OK);
    for (int i = 0; i < 12; i++) {
        char id[32];
        snprintf(id, sizeof id, "a-%03d", i);
        if (i == 5) fl_pq_writer_put_null(w);
        else fl_pq_writer_put_str(w, fl_str_c(id));
        fl_pq_writer_put_i64(w, i);
        fl_pq_writer_put_i64(w, 100);
        if (i % 2) fl_pq_writer_put_null(w);
        else fl_pq_writer_put_str(w, FL_STR("even"));
        if (i % 3) fl_pq_writer_put_null(w);
        else fl_pq_writer_put_bool(w, false);
        CHECK_EQ_INT(fl_pq_writer_end_row(w), FL_OK);
    }
    CHECK_EQ_INT(fl_delta_txn_file_close(txn, &err), FL_OK);
    /* file B: k2 INT32 */
    fl_pq_schema *ps = NULL;
    CHECK_EQ_INT(fl_pq_schema_new(&ps, &err), FL_OK);
    fl_pq_schema_add(ps, 0, "id", FL_PQ_OPTIONAL, fl_pq_t_string());
    fl_pq_schema_add(ps, 0, "k2", FL_PQ_OPTIONAL, fl_pq_t_i32());
    fl_pq_schema_add(ps, 0, "ts", FL_PQ_OPTIONAL, fl_pq_t_i64());
    fl_pq_schema_add(ps, 0, "v", FL_PQ_OPTIONAL, fl_pq_t_string());
    fl_pq_schema_add(ps, 0, "del", FL_PQ_OPTIONAL, fl_pq_t_bool());
    fl_buf fb;
    fl_buf_init(&fb, 0);
    fl_pq_writer *bw = NULL;
    CHECK_EQ_INT(fl_pq_writer_new(ps, NULL, fl_pq_sink_buf, &fb, &bw, &err), FL_OK);
    for (int i = 0; i < 3; i++) {
        char id[32];
        snprintf(id, sizeof id, "b-%03d", i);
        fl_pq_writer_put_str(bw, fl_str_c(id));
        fl_pq_writer_put_i32(bw, 40 + i);
        fl_pq_writer_put_i64(bw, 100);
        fl_pq_writer_put_str(bw, FL_STR("bee"));
        fl_pq_writer_put_null(bw);
        CHECK_EQ_INT(fl_pq_writer_end_row(bw), FL_OK);
    }
    CHECK_EQ_INT(fl_pq_writer_finish(bw, &err), FL_OK);
    fl_pq_writer_free(bw);
    fl_pq_schema_free(ps);
    CHECK_EQ_INT(fl_store_put(st, FL_STR("ext-b.parquet"), fb.ptr, fb.len, 0, &err), FL_OK);
    fl_delta_file bf = {.path = FL_STR("ext-b.parquet"), .size = (int64_t)fb.len, .data_change = true,
                        .base_row_id = -1, .default_row_commit_version = -1};
    CHECK_EQ_INT(fl_delta_txn_add_file(txn, &bf, &err), FL_OK);
    fl_buf_reset(&fb);
    CHECK_EQ_INT(fl_delta_txn_commit(txn, NULL, &err), FL_OK);
    fl_delta_txn_free(txn);
    /* merge: update a-009, delete a-010, update b-001 (row path), insert n-000 */
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    const char *keys[] = {"id"};
    fl_delta_merge_opts mo = {.key_columns = keys, .n_key_columns = 1};
    fl_delta_merge *m = NULL;
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_new(txn, &mo, &m, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, "a-009", 9, 200, "upd", 1), &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_add_delete(m, mkrow(&a, "a-010", 0, 0, NULL, -1), &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, "b-001", 7, 200, NULL, -1), &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, "n-000", 1, 200, "new", 0), &err), FL_OK);
    fl_delta_merge_result r;
    CHECK_EQ_INT(fl_delta_merge_run(m, &r, &err), FL_OK);
    CHECK_EQ_INT(r.rows_updated, 2);
    CHECK_EQ_INT(r.rows_inserted, 1);
    CHECK_EQ_INT(r.rows_deleted, 1);
    CHECK_EQ_INT(r.target_rows_removed, 3);
    CHECK_EQ_INT(r.files_removed, 2);
    CHECK_EQ_INT(r.files_added, 3);
    fl_delta_merge_free(m);
    CHECK_EQ_INT(fl_delta_txn_commit(txn, NULL, &err), FL_OK);
    fl_delta_txn_free(txn);
    char *text = rows_text(t, -1);
    CHECK_EQ_INT(count_lines(text), 15);
    CHECK(has_line(text, "a-000|0|100|even|F")); /* row group 0, copied */
    CHECK(has_line(text, "a-001|1|100|null|-"));
    CHECK(has_line(text, "|5|100|null|-"));      /* null key kept */
    CHECK(has_line(text, "a-007|7|100|null|-")); /* row group 1 */
    CHECK(has_line(text, "a-008|8|100|even|-"));
    CHECK(has_line(text, "a-009|9|200|upd|T"));
    CHECK(!has_line(text, "a-009|9|100|null|F"));
    CHECK(strstr(text, "a-010|") == NULL);
    CHECK(has_line(text, "a-011|11|100|null|-"));
    CHECK(has_line(text, "b-000|40|100|bee|-")); /* INT32 widened by the row path */
    CHECK(has_line(text, "b-001|7|200|null|-"));
    CHECK(has_line(text, "b-002|42|100|bee|-"));
    CHECK(has_line(text, "n-000|1|200|new|F"));
    free(text);
    /* a key inside file A's id range that no row holds: A is read, nothing rewritten */
    char *before = live_paths(t, -1);
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_new(txn, &mo, &m, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, "a-0055", 3, 300, "mid", -1), &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_run(m, &r, &err), FL_OK);
    CHECK_EQ_INT(r.rows_inserted, 1);
    CHECK_EQ_INT(r.files_removed, 0);
    CHECK(r.files_scanned >= 1);
    fl_delta_merge_free(m);
    CHECK_EQ_INT(fl_delta_txn_commit(txn, NULL, &err), FL_OK);
    fl_delta_txn_free(txn);
    char *after = live_paths(t, -1);
    int kept = 0;
    for (char *line = before, *nl; line && (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = 0;
        kept += strstr(after, line) != NULL; /* every earlier file still live */
    }
    CHECK_EQ_INT(kept, 3);
    CHECK_EQ_INT(count_lines(after), 4);
    free(before);
    free(after);
    /* an integer first key column (k2, id): the key filter hashes the integer */
    const char *ikeys[] = {"k2", "id"};
    fl_delta_merge_opts io = {.key_columns = ikeys, .n_key_columns = 2};
    CHECK_EQ_INT(fl_delta_txn_begin(t, &txn, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_new(txn, &io, &m, &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, "a-008", 8, 400, "k8", -1), &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_add_row(m, mkrow(&a, "a-007", 8, 400, "other", -1), &err), FL_OK);
    CHECK_EQ_INT(fl_delta_merge_run(m, &r, &err), FL_OK);
    CHECK_EQ_INT(r.rows_updated, 1);
    CHECK_EQ_INT(r.rows_inserted, 1);
    CHECK_EQ_INT(r.target_rows_removed, 1);
    fl_delta_merge_free(m);
    CHECK_EQ_INT(fl_delta_txn_commit(txn, NULL, &err), FL_OK);
    fl_delta_txn_free(txn);
    text = rows_text(t, -1);
    CHECK_EQ_INT(count_lines(text), 17);
    CHECK(has_line(text, "a-008|8|400|k8|-"));
    CHECK(!has_line(text, "a-008|8|100|even|-"));
    CHECK(has_line(text, "a-007|7|100|null|-")); /* (7, a-007) is not (8, a-007) */
    CHECK(has_line(text, "a-007|8|400|other|-"));
    free(text);
    fl_arena_fini(&a);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

static void test_scan_select(void)
{
    fl_store *st = fresh("select");
    fl_delta_table *t = create(st);
    append(t, "id", 0, 4, 7, 100, "val");
    fl_err err;
    fl_delta_snapshot *s = NULL;
    CHECK_EQ_INT(fl_delta_snapshot_load(t, -1, &s, &err), FL_OK);
    fl_delta_scan *sc = NULL;
    CHECK_EQ_INT(fl_delta_scan_open(t, s, &sc, &err), FL_OK);
    const char *bad[] = {"nope"};
    CHECK_EQ_INT(fl_delta_scan_select(sc, bad, 1, &err), FL_E_NOT_FOUND);
    const char *cols[] = {"ts", "id"};
    CHECK_EQ_INT(fl_delta_scan_select(sc, cols, 2, &err), FL_OK);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_pq_val *row;
    int n = 0, good = 0;
    while (fl_delta_scan_next(sc, &a, &row, &err) == FL_OK) {
        const fl_pq_val *it = row->v.items;
        n++;
        good += row->n == 5 && it[0].kind == FL_PQ_V_BYTES && it[2].kind == FL_PQ_V_I64 && it[2].v.i64 == 100 &&
                it[1].kind == FL_PQ_V_NULL && it[3].kind == FL_PQ_V_NULL && it[4].kind == FL_PQ_V_NULL;
        fl_arena_reset(&a);
    }
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(good, 4);
    CHECK_EQ_INT(fl_delta_scan_select(sc, cols, 2, &err), FL_E_STATE); /* too late */
    fl_arena_fini(&a);
    fl_delta_scan_close(sc);
    fl_delta_snapshot_free(s);
    fl_delta_table_close(t);
    fl_store_close(st);
    fl_rm_rf(dir, NULL);
}

int main(void)
{
    RUN(test_upsert_delete);
    RUN(test_newer_wins);
    RUN(test_multi_key_soft_delete);
    RUN(test_partitioned);
    RUN(test_limits);
    RUN(test_conflicts);
    RUN(test_txn_duplicate);
    RUN(test_scan_select);
    RUN(test_columnar);
    return testhelp_done();
}
