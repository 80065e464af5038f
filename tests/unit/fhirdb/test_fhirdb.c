/* test_fhirdb.c - unit tests of the resource store (src/fhirdb): writes with versions and
 * meta, If-Match, reads, history and search paging, transactions, the write hook + outbox
 * atomicity, outbox claim/ack/nack, concurrent claims, time parsing, concurrent writers.
 * Runs on SQLite; with FL_TEST_PG_URL set (tests/run/server_rest_pg.sh does) the same
 * scenarios run on that PostgreSQL database too (its fl_* tables are dropped first). */
#include "fhirdb/fhirdb_int.h"
#include "fhirlake/fhirdb.h"
#include "fhirlake/os.h"
#include "testhelp.h"

#include <pthread.h>
#include <unistd.h>

static fl_arena A;

static const fl_json_val *J(const char *text)
{
    fl_json_val *v = NULL;
    fl_err err;
    fl_rc rc = fl_json_parse(text, strlen(text), NULL, &A, &v, NULL, &err);
    CHECK_MSG(rc == FL_OK, "%s", err.msg);
    return v;
}

static const char *g_url = "sqlite::memory:"; /* or a PostgreSQL URL */

/* A fresh, empty store at g_url. */
static fl_fhirdb *open_mem(fl_fhirdb_hook_fn hook, void *ctx)
{
    fl_fhirdb_opts o;
    fl_fhirdb_opts_default(&o);
    o.hook = hook;
    o.hook_ctx = ctx;
    fl_fhirdb *db = NULL;
    fl_err err;
    fl_rc rc = fl_fhirdb_open(g_url, &o, &db, &err);
    CHECK_MSG(rc == FL_OK, "%s", err.msg);
    if (rc == FL_OK && strncmp(g_url, "postgres", 8) == 0) {
        fl_fhirdb_conn *c = NULL;
        CHECK(fl_fhirdb_acquire(db, &c, &err) == FL_OK);
        CHECK(db_exec_script(c, "DROP TABLE IF EXISTS fl_resource, fl_history, fl_outbox, fl_meta, fl_lease", &err) == FL_OK);
        fl_fhirdb_release(db, c);
        fl_fhirdb_close(db);
        db = NULL;
        rc = fl_fhirdb_open(g_url, &o, &db, &err);
        CHECK_MSG(rc == FL_OK, "%s", err.msg);
    }
    return db;
}

static bool body_has(fl_str body, const char *needle)
{
    char *s = fl_strndup(body.ptr, body.len);
    bool r = s && strstr(s, needle) != NULL;
    fl_free(s);
    return r;
}

static void test_crud(void)
{
    fl_fhirdb *db = open_mem(NULL, NULL);
    fl_fhirdb_conn *c = NULL;
    fl_err err;
    if (!db) return;
    if (fl_fhirdb_acquire(db, &c, &err) != FL_OK) {
        CHECK(0);
        fl_fhirdb_close(db);
        return;
    }
    fl_fhirdb_rec r, r2;
    fl_rc rc = fl_fhirdb_create(c, FL_STR("Patient"),
                                J("{\"resourceType\":\"Patient\",\"meta\":{\"profile\":[\"x\"],\"versionId\":\"9\"},"
                                  "\"active\":true}"),
                                NULL, &A, &r, &err);
    CHECK_MSG(rc == FL_OK, "%s", err.msg);
    CHECK_EQ_INT(r.version, 1);
    CHECK(r.created);
    CHECK_EQ_INT(r.id.len, 36);
    CHECK(body_has(r.body, "\"versionId\":\"1\""));
    CHECK(body_has(r.body, "\"profile\":[\"x\"]"));
    CHECK(body_has(r.body, "\"active\":true"));
    CHECK(body_has(r.body, "\"lastUpdated\":\""));
    CHECK(!body_has(r.body, "\"9\""));

    CHECK(fl_fhirdb_read(c, FL_STR("Patient"), r.id, &A, &r2, &err) == FL_OK);
    CHECK(fl_str_eq(r2.body, r.body));
    CHECK_EQ_INT(r2.version, 1);

    /* update with the right If-Match, then a stale one */
    fl_fhirdb_wopts wo = {.if_match = 1};
    rc = fl_fhirdb_update(c, FL_STR("Patient"), r.id, J("{\"resourceType\":\"Patient\",\"active\":false}"),
                          &wo, &A, &r2, &err);
    CHECK_MSG(rc == FL_OK, "%s", err.msg);
    CHECK_EQ_INT(r2.version, 2);
    CHECK(!r2.created);
    fl_err_clear(&err);
    rc = fl_fhirdb_update(c, FL_STR("Patient"), r.id, J("{\"resourceType\":\"Patient\"}"), &wo, &A, &r2, &err);
    CHECK_EQ_INT(rc, FL_E_CONFLICT);
    CHECK_EQ_INT(err.status, 412);

    /* create-on-update with a client id; invalid ids refused */
    rc = fl_fhirdb_update(c, FL_STR("Patient"), FL_STR("p-1"), J("{\"resourceType\":\"Patient\"}"), NULL, &A,
                          &r2, &err);
    CHECK(rc == FL_OK && r2.created && r2.version == 1);
    CHECK_EQ_INT(fl_fhirdb_update(c, FL_STR("Patient"), FL_STR("bad id"), J("{}"), NULL, &A, &r2, &err),
                 FL_E_ARG);

    /* delete keeps history; read sees deleted; delete again is a no-op */
    rc = fl_fhirdb_delete(c, FL_STR("Patient"), FL_STR("p-1"), NULL, &A, &r2, &err);
    CHECK(rc == FL_OK && r2.version == 2 && r2.deleted);
    CHECK(fl_fhirdb_read(c, FL_STR("Patient"), FL_STR("p-1"), &A, &r2, &err) == FL_OK);
    CHECK(r2.deleted && r2.body.len == 0 && r2.version == 2);
    rc = fl_fhirdb_delete(c, FL_STR("Patient"), FL_STR("p-1"), NULL, &A, &r2, &err);
    CHECK(rc == FL_OK && r2.version == 0);
    CHECK(fl_fhirdb_vread(c, FL_STR("Patient"), FL_STR("p-1"), 1, &A, &r2, &err) == FL_OK);
    CHECK(!r2.deleted && r2.version == 1 && fl_str_eq_c(r2.method, "PUT"));
    CHECK_EQ_INT(fl_fhirdb_vread(c, FL_STR("Patient"), FL_STR("p-1"), 7, &A, &r2, &err), FL_E_NOT_FOUND);
    CHECK_EQ_INT(fl_fhirdb_read(c, FL_STR("Patient"), FL_STR("nope"), &A, &r2, &err), FL_E_NOT_FOUND);
    /* re-create after delete: version 3, created */
    rc = fl_fhirdb_update(c, FL_STR("Patient"), FL_STR("p-1"), J("{\"resourceType\":\"Patient\"}"), NULL, &A,
                          &r2, &err);
    CHECK(rc == FL_OK && r2.created && r2.version == 3);

    fl_fhirdb_release(db, c);
    fl_fhirdb_close(db);
    fl_arena_reset(&A);
}

static void test_history_search(void)
{
    fl_fhirdb *db = open_mem(NULL, NULL);
    fl_fhirdb_conn *c = NULL;
    fl_err err;
    if (!db) return;
    fl_fhirdb_rec r;
    CHECK(fl_fhirdb_acquire(db, &c, &err) == FL_OK);
    char id[16];
    for (int i = 0; i < 7; i++) {
        snprintf(id, sizeof id, "o%d", i);
        CHECK(fl_fhirdb_update(c, FL_STR("Observation"), fl_str_c(id),
                               J("{\"resourceType\":\"Observation\",\"status\":\"final\"}"), NULL, &A, &r,
                               &err) == FL_OK);
        fl_sleep_ms(2);
    }
    CHECK(fl_fhirdb_update(c, FL_STR("Observation"), FL_STR("o0"), J("{\"resourceType\":\"Observation\"}"),
                           NULL, &A, &r, &err) == FL_OK);
    CHECK(fl_fhirdb_create(c, FL_STR("Patient"), J("{\"resourceType\":\"Patient\"}"), NULL, &A, &r, &err) ==
          FL_OK);
    CHECK(fl_fhirdb_delete(c, FL_STR("Observation"), FL_STR("o6"), NULL, &A, &r, &err) == FL_OK);

    /* instance history newest first */
    fl_fhirdb_query q = {.type = FL_STR("Observation"), .id = FL_STR("o0")};
    fl_fhirdb_page pg;
    CHECK(fl_fhirdb_history(c, &q, &A, &pg, &err) == FL_OK);
    CHECK_EQ_INT(pg.n, 2);
    CHECK(pg.n == 2 && pg.recs[0].version == 2 && pg.recs[1].version == 1);
    /* type history paged 3 at a time: 9 Observation rows (7 + update + delete) */
    q = (fl_fhirdb_query){.type = FL_STR("Observation"), .count = 3};
    size_t total = 0, pages = 0;
    int64_t last_hseq = INT64_MAX;
    char cur[FL_FHIRDB_CURSOR_MAX];
    for (;;) {
        CHECK(fl_fhirdb_history(c, &q, &A, &pg, &err) == FL_OK);
        for (size_t i = 0; i < pg.n; i++) {
            CHECK(pg.recs[i].hseq < last_hseq);
            last_hseq = pg.recs[i].hseq;
        }
        total += pg.n;
        pages++;
        if (!pg.has_next || pages > 10) break;
        memcpy(cur, pg.next_cursor, sizeof cur);
        q.cursor = fl_str_c(cur);
    }
    CHECK_EQ_INT(total, 9);
    CHECK_EQ_INT(pages, 3);
    /* system history includes the Patient */
    q = (fl_fhirdb_query){0};
    CHECK(fl_fhirdb_history(c, &q, &A, &pg, &err) == FL_OK);
    CHECK_EQ_INT(pg.n, 10);
    CHECK(pg.n && pg.recs[0].deleted && fl_str_eq_c(pg.recs[0].method, "DELETE"));
    q.cursor = FL_STR("zz");
    CHECK_EQ_INT(fl_fhirdb_history(c, &q, &A, &pg, &err), FL_E_ARG);

    /* search: deleted excluded, _id, sort desc, paging */
    q = (fl_fhirdb_query){.type = FL_STR("Observation"), .want_total = true};
    CHECK(fl_fhirdb_search(c, &q, &A, &pg, &err) == FL_OK);
    CHECK_EQ_INT(pg.total, 6);
    CHECK_EQ_INT(pg.n, 6);
    CHECK(pg.n == 6 && fl_str_eq_c(pg.recs[5].id, "o0")); /* o0 updated last */
    fl_str ids[2] = {FL_STR("o1"), FL_STR("o6")};
    q.ids = ids;
    q.nids = 2;
    CHECK(fl_fhirdb_search(c, &q, &A, &pg, &err) == FL_OK);
    CHECK(pg.n == 1 && fl_str_eq_c(pg.recs[0].id, "o1"));
    q = (fl_fhirdb_query){.type = FL_STR("Observation"), .sort = FL_FHIRDB_SORT_LU_DESC, .count = 4};
    CHECK(fl_fhirdb_search(c, &q, &A, &pg, &err) == FL_OK);
    CHECK(pg.n == 4 && pg.has_next && fl_str_eq_c(pg.recs[0].id, "o0"));
    int64_t prev = pg.recs[3].last_updated_us;
    memcpy(cur, pg.next_cursor, sizeof cur);
    q.cursor = fl_str_c(cur);
    CHECK(fl_fhirdb_search(c, &q, &A, &pg, &err) == FL_OK);
    CHECK(pg.n == 2 && !pg.has_next && pg.recs[0].last_updated_us <= prev);
    /* _lastUpdated window: everything from o3's time on */
    CHECK(fl_fhirdb_read(c, FL_STR("Observation"), FL_STR("o3"), &A, &r, &err) == FL_OK);
    q = (fl_fhirdb_query){.type = FL_STR("Observation"), .has_lu_min = true, .lu_min_us = r.last_updated_us};
    CHECK(fl_fhirdb_search(c, &q, &A, &pg, &err) == FL_OK);
    CHECK_EQ_INT(pg.n, 4); /* o3, o4, o5, o0 (o6 deleted) */
    q.has_lu_max = true;
    q.lu_max_us = r.last_updated_us + 1000;
    CHECK(fl_fhirdb_search(c, &q, &A, &pg, &err) == FL_OK);
    CHECK(pg.n == 1 && fl_str_eq_c(pg.recs[0].id, "o3"));

    fl_fhirdb_release(db, c);
    fl_fhirdb_close(db);
    fl_arena_reset(&A);
}

typedef struct hook_state {
    int calls;
    int fail_on;
    fl_fhirdb_op last_op;
    size_t prev_len;
} hook_state;

static fl_rc hook(void *ctx, fl_fhirdb_conn *c, const fl_fhirdb_event *ev, fl_err *err)
{
    hook_state *h = ctx;
    h->calls++;
    h->last_op = ev->op;
    h->prev_len = ev->previous.len;
    fl_rc rc = fl_fhirdb_outbox_enqueue(c, FL_STR("dest1"), ev, ev->current, NULL, err);
    if (rc) return rc;
    if (h->calls == h->fail_on) return fl_err_set(err, FL_E_INTERNAL, "hook refused");
    return FL_OK;
}

static void test_tx_hook_outbox(void)
{
    hook_state hs = {0};
    fl_fhirdb *db = open_mem(hook, &hs);
    fl_fhirdb_conn *c = NULL;
    fl_err err;
    if (!db) return;
    fl_fhirdb_rec r;
    CHECK(fl_fhirdb_acquire(db, &c, &err) == FL_OK);
    fl_fhirdb_wopts corr = {.correlation_id = FL_STR("corr-1")};
    CHECK(fl_fhirdb_update(c, FL_STR("Patient"), FL_STR("a"), J("{\"resourceType\":\"Patient\"}"), &corr, &A,
                           &r, &err) == FL_OK);
    CHECK(hs.last_op == FL_FHIRDB_CREATE && hs.prev_len == 0);
    CHECK(fl_fhirdb_update(c, FL_STR("Patient"), FL_STR("a"), J("{\"resourceType\":\"Patient\"}"), NULL, &A,
                           &r, &err) == FL_OK);
    CHECK(hs.last_op == FL_FHIRDB_UPDATE && hs.prev_len > 0);
    CHECK(fl_fhirdb_delete(c, FL_STR("Patient"), FL_STR("a"), NULL, &A, &r, &err) == FL_OK);
    CHECK(hs.last_op == FL_FHIRDB_DELETE && hs.prev_len > 0);
    int64_t n = 0;
    CHECK(fl_fhirdb_outbox_count(c, FL_STR("dest1"), &n, &err) == FL_OK);
    CHECK_EQ_INT(n, 3);

    /* the hook fails on its 4th call: the write and its outbox row roll back */
    hs.fail_on = 4;
    CHECK_EQ_INT(fl_fhirdb_update(c, FL_STR("Patient"), FL_STR("b"), J("{\"resourceType\":\"Patient\"}"),
                                  NULL, &A, &r, &err),
                 FL_E_INTERNAL);
    CHECK_EQ_INT(fl_fhirdb_read(c, FL_STR("Patient"), FL_STR("b"), &A, &r, &err), FL_E_NOT_FOUND);
    CHECK(fl_fhirdb_outbox_count(c, FL_STR("dest1"), &n, &err) == FL_OK);
    CHECK_EQ_INT(n, 3);

    /* explicit transaction: two writes, rollback -> nothing */
    hs.fail_on = 0;
    CHECK(fl_fhirdb_begin(c, &err) == FL_OK);
    CHECK(fl_fhirdb_update(c, FL_STR("Patient"), FL_STR("t1"), J("{\"resourceType\":\"Patient\"}"), NULL, &A,
                           &r, &err) == FL_OK);
    CHECK(fl_fhirdb_update(c, FL_STR("Patient"), FL_STR("t2"), J("{\"resourceType\":\"Patient\"}"), NULL, &A,
                           &r, &err) == FL_OK);
    fl_fhirdb_rollback(c);
    CHECK_EQ_INT(fl_fhirdb_read(c, FL_STR("Patient"), FL_STR("t1"), &A, &r, &err), FL_E_NOT_FOUND);
    CHECK(fl_fhirdb_outbox_count(c, FL_STR("dest1"), &n, &err) == FL_OK);
    CHECK_EQ_INT(n, 3);
    CHECK(fl_fhirdb_begin(c, &err) == FL_OK);
    CHECK(fl_fhirdb_update(c, FL_STR("Patient"), FL_STR("t1"), J("{\"resourceType\":\"Patient\"}"), NULL, &A,
                           &r, &err) == FL_OK);
    CHECK(fl_fhirdb_commit(c, &err) == FL_OK);
    CHECK(fl_fhirdb_read(c, FL_STR("Patient"), FL_STR("t1"), &A, &r, &err) == FL_OK);

    /* claim 2 of 4, claim again gets the other 2 (leased rows skipped), nack one, ack */
    fl_fhirdb_outbox_row *rows;
    size_t nr;
    CHECK(fl_fhirdb_outbox_claim(c, FL_STR("dest1"), 2, 60000, &A, &rows, &nr, &err) == FL_OK);
    CHECK(nr == 2 && rows[0].seq < rows[1].seq && rows[0].op == FL_FHIRDB_CREATE);
    CHECK(nr == 2 && fl_str_eq_c(rows[0].type, "Patient") && fl_str_eq_c(rows[0].id, "a"));
    CHECK(nr == 2 && fl_str_eq_c(rows[0].correlation_id, "corr-1") && rows[1].correlation_id.len == 0);
    int64_t s1[2] = {rows[0].seq, rows[1].seq};
    CHECK(fl_fhirdb_outbox_claim(c, FL_STR("dest1"), 10, 60000, &A, &rows, &nr, &err) == FL_OK);
    CHECK_EQ_INT(nr, 2);
    int64_t s2 = nr ? rows[0].seq : 0;
    CHECK(fl_fhirdb_outbox_claim(c, FL_STR("dest1"), 10, 60000, &A, &rows, &nr, &err) == FL_OK);
    CHECK_EQ_INT(nr, 0);
    CHECK(fl_fhirdb_outbox_nack(c, FL_STR("dest1"), &s2, 1, FL_STR("boom"), &err) == FL_OK);
    CHECK(fl_fhirdb_outbox_claim(c, FL_STR("dest1"), 10, 60000, &A, &rows, &nr, &err) == FL_OK);
    CHECK(nr == 1 && rows[0].seq == s2 && rows[0].attempts == 1);
    CHECK(fl_fhirdb_outbox_ack(c, FL_STR("dest1"), s1, 2, &err) == FL_OK);
    CHECK(fl_fhirdb_outbox_count(c, FL_STR("dest1"), &n, &err) == FL_OK);
    CHECK_EQ_INT(n, 2);
    CHECK(fl_fhirdb_outbox_count(c, FL_STR("other"), &n, &err) == FL_OK);
    CHECK_EQ_INT(n, 0);

    fl_fhirdb_release(db, c);
    fl_fhirdb_close(db);
    fl_arena_reset(&A);
}

/* Numbered delivery batches: next -> assign -> (crash) -> next returns the same rows
 * under the same number; ack_batch; export marking inside a snapshot transaction; leases. */
static void test_outbox_batches(void)
{
    hook_state hs = {0};
    fl_fhirdb *db = open_mem(hook, &hs);
    fl_fhirdb_conn *c = NULL;
    fl_err err;
    if (!db) return;
    fl_fhirdb_rec r;
    CHECK(fl_fhirdb_acquire(db, &c, &err) == FL_OK);
    const char *ids[] = {"b1", "b2", "b3"};
    for (size_t i = 0; i < 3; i++)
        CHECK(fl_fhirdb_update(c, FL_STR("Patient"), fl_str_c(ids[i]), J("{\"resourceType\":\"Patient\"}"), NULL, &A,
                               &r, &err) == FL_OK);
    fl_fhirdb_outbox_row *rows = NULL;
    size_t n = 0;
    int64_t bn = -5, mx = -1, pend = -1, ready = -1;
    /* the cheap poll: nothing pending, unassigned rows counted up to max */
    CHECK(fl_fhirdb_outbox_ready(c, FL_STR("dest1"), 2, &pend, &ready, &err) == FL_OK);
    CHECK(pend == 0 && ready == 2);
    CHECK(fl_fhirdb_outbox_ready(c, FL_STR("dest1"), 10, &pend, &ready, &err) == FL_OK);
    CHECK(pend == 0 && ready == 3);
    CHECK(fl_fhirdb_outbox_ready(c, FL_STR("nobody"), 10, &pend, &ready, &err) == FL_OK);
    CHECK(pend == 0 && ready == 0);
    CHECK(fl_fhirdb_outbox_next(c, FL_STR("dest1"), 2, &A, &rows, &n, &bn, &err) == FL_OK);
    CHECK(n == 2 && bn == 0 && fl_str_eq_c(rows[0].id, "b1") && fl_str_eq_c(rows[1].id, "b2"));
    int64_t seqs[2] = {n == 2 ? rows[0].seq : 0, n == 2 ? rows[1].seq : 0};
    CHECK(fl_fhirdb_outbox_assign(c, FL_STR("dest1"), seqs, 2, 7, &err) == FL_OK);
    CHECK(fl_fhirdb_outbox_ready(c, FL_STR("dest1"), 10, &pend, &ready, &err) == FL_OK);
    CHECK(pend == 7); /* an unacked batch first */
    /* a restarted worker gets the same batch back, whole, even with a smaller max */
    CHECK(fl_fhirdb_outbox_next(c, FL_STR("dest1"), 1, &A, &rows, &n, &bn, &err) == FL_OK);
    CHECK(n == 2 && bn == 7 && rows[0].seq == seqs[0] && rows[1].seq == seqs[1]);
    CHECK(fl_fhirdb_outbox_max_batch(c, FL_STR("dest1"), &mx, &err) == FL_OK);
    CHECK_EQ_INT(mx, 7);
    CHECK(fl_fhirdb_outbox_nack_batch(c, FL_STR("dest1"), 7, FL_STR("sink down"), &err) == FL_OK);
    CHECK(fl_fhirdb_outbox_next(c, FL_STR("dest1"), 10, &A, &rows, &n, &bn, &err) == FL_OK);
    CHECK(n == 2 && bn == 7 && rows[0].attempts == 1);
    CHECK(fl_fhirdb_outbox_ack_batch(c, FL_STR("dest1"), 7, &err) == FL_OK);
    CHECK(fl_fhirdb_outbox_ready(c, FL_STR("dest1"), 10, &pend, &ready, &err) == FL_OK);
    CHECK(pend == 0 && ready == 1);
    CHECK(fl_fhirdb_outbox_next(c, FL_STR("dest1"), 10, &A, &rows, &n, &bn, &err) == FL_OK);
    CHECK(n == 1 && bn == 0 && fl_str_eq_c(rows[0].id, "b3"));
    /* export marking: rows visible to the snapshot are covered, later ones are not */
    int64_t cnt = -1;
    CHECK(fl_fhirdb_begin_snapshot(c, &err) == FL_OK);
    CHECK(fl_fhirdb_outbox_mark_export(c, FL_STR("dest1"), &err) == FL_OK);
    CHECK(fl_fhirdb_commit(c, &err) == FL_OK);
    CHECK(fl_fhirdb_outbox_count_export(c, FL_STR("dest1"), &cnt, &err) == FL_OK);
    CHECK_EQ_INT(cnt, 1);
    CHECK(fl_fhirdb_update(c, FL_STR("Patient"), FL_STR("b4"), J("{\"resourceType\":\"Patient\"}"), NULL, &A, &r,
                           &err) == FL_OK);
    CHECK(fl_fhirdb_outbox_next(c, FL_STR("dest1"), 10, &A, &rows, &n, &bn, &err) == FL_OK);
    CHECK(n == 1 && bn == 0 && fl_str_eq_c(rows[0].id, "b4"));
    CHECK(fl_fhirdb_outbox_release_export(c, FL_STR("dest1"), &err) == FL_OK);
    CHECK(fl_fhirdb_outbox_next(c, FL_STR("dest1"), 10, &A, &rows, &n, &bn, &err) == FL_OK);
    CHECK_EQ_INT(n, 2);
    CHECK(fl_fhirdb_begin_snapshot(c, &err) == FL_OK);
    CHECK(fl_fhirdb_outbox_mark_export(c, FL_STR("dest1"), &err) == FL_OK);
    fl_fhirdb_rollback(c); /* a failed export attempt leaves nothing marked */
    CHECK(fl_fhirdb_outbox_count_export(c, FL_STR("dest1"), &cnt, &err) == FL_OK);
    CHECK_EQ_INT(cnt, 0);
    /* take: number + fetch in one statement, oldest first, up to max */
    CHECK(fl_fhirdb_outbox_take(c, FL_STR("dest1"), 1, 9, &A, &rows, &n, &err) == FL_OK);
    CHECK(n == 1 && fl_str_eq_c(rows[0].id, "b3"));
    CHECK(fl_fhirdb_outbox_ready(c, FL_STR("dest1"), 10, &pend, &ready, &err) == FL_OK);
    CHECK(pend == 9);
    CHECK(fl_fhirdb_outbox_next(c, FL_STR("dest1"), 10, &A, &rows, &n, &bn, &err) == FL_OK);
    CHECK(n == 1 && bn == 9 && fl_str_eq_c(rows[0].id, "b3")); /* a crash replays it under 9 */
    CHECK(fl_fhirdb_outbox_ack_batch(c, FL_STR("dest1"), 9, &err) == FL_OK);
    CHECK(fl_fhirdb_outbox_take(c, FL_STR("dest1"), 10, 10, &A, &rows, &n, &err) == FL_OK);
    CHECK(n == 1 && fl_str_eq_c(rows[0].id, "b4"));
    CHECK(fl_fhirdb_outbox_take(c, FL_STR("dest1"), 10, 11, &A, &rows, &n, &err) == FL_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(fl_fhirdb_outbox_take(c, FL_STR("dest1"), 10, 0, &A, &rows, &n, &err), FL_E_ARG);
    /* leases */
    bool held = false;
    CHECK(fl_fhirdb_lease(c, FL_STR("destination/x"), FL_STR("A"), 60000, &held, &err) == FL_OK && held);
    CHECK(fl_fhirdb_lease(c, FL_STR("destination/x"), FL_STR("B"), 60000, &held, &err) == FL_OK && !held);
    CHECK(fl_fhirdb_lease(c, FL_STR("destination/x"), FL_STR("A"), 60000, &held, &err) == FL_OK && held);
    CHECK(fl_fhirdb_lease_release(c, FL_STR("destination/x"), FL_STR("A"), &err) == FL_OK);
    CHECK(fl_fhirdb_lease(c, FL_STR("destination/x"), FL_STR("B"), 1, &held, &err) == FL_OK && held);
    fl_sleep_ms(5); /* B's 1 ms lease expired: A may take it */
    CHECK(fl_fhirdb_lease(c, FL_STR("destination/x"), FL_STR("A"), 60000, &held, &err) == FL_OK && held);
    /* persistent key/value state */
    fl_str v = FL_STR_NULL;
    bool found = true;
    CHECK(fl_fhirdb_meta_get(c, FL_STR("k1"), &A, &v, &found, &err) == FL_OK && !found);
    CHECK(fl_fhirdb_meta_set(c, FL_STR("k1"), FL_STR("one"), &err) == FL_OK);
    CHECK(fl_fhirdb_meta_set(c, FL_STR("k1"), FL_STR("two"), &err) == FL_OK);
    CHECK(fl_fhirdb_meta_get(c, FL_STR("k1"), &A, &v, &found, &err) == FL_OK && found && fl_str_eq_c(v, "two"));
    CHECK_EQ_INT(fl_fhirdb_meta_set(c, FL_STR("schema_version"), FL_STR("9"), &err), FL_E_ARG);
    fl_fhirdb_release(db, c);
    fl_fhirdb_close(db);
    fl_arena_reset(&A);
}

static void test_time(void)
{
    int64_t lo, hi;
    CHECK(fl_fhirdb_parse_time(FL_STR("1970-01-01T00:00:00Z"), &lo, &hi) && lo == 0 && hi == 1000000);
    CHECK(fl_fhirdb_parse_time(FL_STR("2024"), &lo, &hi));
    CHECK_EQ_INT(lo, 1704067200LL * 1000000);
    CHECK_EQ_INT(hi, 1735689600LL * 1000000);
    CHECK(fl_fhirdb_parse_time(FL_STR("2024-02"), &lo, &hi));
    CHECK_EQ_INT(hi - lo, 29LL * 86400 * 1000000);
    CHECK(fl_fhirdb_parse_time(FL_STR("2024-12-31"), &lo, &hi));
    CHECK_EQ_INT(hi, 1735689600LL * 1000000);
    CHECK(fl_fhirdb_parse_time(FL_STR("2024-01-01T02:00:00.250+02:00"), &lo, &hi));
    CHECK_EQ_INT(lo, 1704067200LL * 1000000 + 250000);
    CHECK_EQ_INT(hi - lo, 1000);
    CHECK(fl_fhirdb_parse_time(FL_STR("2024-01-01T00:00 02:00"), &lo, &hi));
    CHECK_EQ_INT(lo, 1704067200LL * 1000000 - 7200LL * 1000000);
    CHECK(!fl_fhirdb_parse_time(FL_STR("2024-13"), &lo, &hi));
    CHECK(!fl_fhirdb_parse_time(FL_STR("2023-02-29"), &lo, &hi));
    CHECK(!fl_fhirdb_parse_time(FL_STR("2024-01-01T10"), &lo, &hi));
    CHECK(!fl_fhirdb_parse_time(FL_STR("2024-01-01T10:00:00Zjunk"), &lo, &hi));
    CHECK(!fl_fhirdb_parse_time(FL_STR(""), &lo, &hi));
    CHECK(fl_fhirdb_valid_id(FL_STR("a-b.C9")));
    CHECK(!fl_fhirdb_valid_id(FL_STR("a_b")));
    CHECK(!fl_fhirdb_valid_id(FL_STR("")));
    CHECK(!fl_fhirdb_valid_id(FL_STR("01234567890123456789012345678901234567890123456789012345678901234")));
}

/* Several threads update one resource through a file database: every update must get a
 * distinct version (BEGIN IMMEDIATE serialises writers; busy_timeout waits). */
typedef struct worker {
    fl_fhirdb *db;
    int ok;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_fhirdb_conn *c = NULL;
    fl_err err;
    if (fl_fhirdb_acquire(w->db, &c, &err) != FL_OK) return NULL;
    for (int i = 0; i < 25; i++) {
        fl_json_val *v = NULL;
        const char *t = "{\"resourceType\":\"Patient\"}";
        fl_fhirdb_rec r;
        if (fl_json_parse(t, strlen(t), NULL, &a, &v, NULL, &err) == FL_OK &&
            fl_fhirdb_update(c, FL_STR("Patient"), FL_STR("shared"), v, NULL, &a, &r, &err) == FL_OK)
            w->ok++;
        fl_arena_reset(&a);
    }
    fl_fhirdb_release(w->db, c);
    fl_arena_fini(&a);
    return NULL;
}

static void run_writers(fl_fhirdb *db)
{
    worker ws[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        ws[i] = (worker){db, 0};
        pthread_create(&th[i], NULL, worker_main, &ws[i]);
    }
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ok += ws[i].ok;
    }
    CHECK_EQ_INT(ok, 100);
}

static void test_concurrent_pg(void)
{
    fl_fhirdb *db = open_mem(NULL, NULL);
    if (!db) return;
    run_writers(db);
    fl_fhirdb_conn *c = NULL;
    fl_fhirdb_rec r;
    fl_err err;
    CHECK(fl_fhirdb_acquire(db, &c, &err) == FL_OK);
    CHECK(fl_fhirdb_read(c, FL_STR("Patient"), FL_STR("shared"), &A, &r, &err) == FL_OK);
    CHECK_EQ_INT(r.version, 100);
    CHECK_EQ_STR(fl_fhirdb_backend(db), "postgres");
    fl_fhirdb_release(db, c);
    fl_fhirdb_close(db);
    fl_arena_reset(&A);
}

static void test_concurrent_file_db(void)
{
    char dir[] = "/tmp/fl_fhirdb_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char url[256];
    snprintf(url, sizeof url, "sqlite:%s/sub/x.db", dir);
    fl_fhirdb *db = NULL;
    fl_err err;
    fl_rc rc = fl_fhirdb_open(url, NULL, &db, &err);
    CHECK_MSG(rc == FL_OK, "%s", err.msg);
    if (!db) return;
    CHECK_EQ_STR(fl_fhirdb_backend(db), "sqlite");
    run_writers(db);
    fl_fhirdb_conn *c = NULL;
    fl_fhirdb_rec r;
    CHECK(fl_fhirdb_acquire(db, &c, &err) == FL_OK);
    CHECK(fl_fhirdb_read(c, FL_STR("Patient"), FL_STR("shared"), &A, &r, &err) == FL_OK);
    CHECK_EQ_INT(r.version, 100);
    fl_fhirdb_release(db, c);
    fl_fhirdb_close(db);
    /* reopen: schema creation is idempotent and the data is there */
    CHECK(fl_fhirdb_open(url, NULL, &db, &err) == FL_OK);
    if (!db) return;
    CHECK(fl_fhirdb_acquire(db, &c, &err) == FL_OK);
    CHECK(fl_fhirdb_read(c, FL_STR("Patient"), FL_STR("shared"), &A, &r, &err) == FL_OK);
    CHECK_EQ_INT(r.version, 100);
    fl_fhirdb_release(db, c);
    fl_fhirdb_close(db);
    CHECK(fl_rm_rf(dir, &err) == FL_OK);
    CHECK_EQ_INT(fl_fhirdb_open("mysql://x", NULL, &db, &err), FL_E_CONFIG);
    fl_arena_reset(&A);
}

/* Four workers claim from one queue at once: every row is delivered exactly once while
 * leases hold (SKIP LOCKED on PostgreSQL, the write lock on SQLite). */
typedef struct claimer {
    fl_fhirdb *db;
    int64_t got[200];
    size_t n;
} claimer;

static void *claim_main(void *arg)
{
    claimer *w = arg;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_fhirdb_conn *c = NULL;
    fl_err err;
    if (fl_fhirdb_acquire(w->db, &c, &err) != FL_OK) return NULL;
    for (int round = 0; round < 50; round++) {
        fl_fhirdb_outbox_row *rows;
        size_t n = 0;
        if (fl_fhirdb_outbox_claim(c, FL_STR("q"), 7, 60000, &a, &rows, &n, &err) != FL_OK) break;
        for (size_t i = 0; i < n && w->n < 200; i++) w->got[w->n++] = rows[i].seq;
        fl_arena_reset(&a);
        if (n == 0) break;
    }
    fl_fhirdb_release(w->db, c);
    fl_arena_fini(&a);
    return NULL;
}

static void test_outbox_concurrent_claims(void)
{
    fl_fhirdb *db = NULL;
    fl_err err;
    fl_fhirdb_conn *c = NULL;
    if (strcmp(g_url, "sqlite::memory:") == 0) {
        char dir[] = "/tmp/fl_fhirdb_q_XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        char url[256];
        snprintf(url, sizeof url, "sqlite:%s/q.db", dir);
        const char *saved = g_url;
        g_url = url;
        db = open_mem(NULL, NULL);
        g_url = saved;
        fl_rm_rf(dir, &err); /* unlinked files stay usable while open */
    } else {
        db = open_mem(NULL, NULL);
    }
    if (!db) return;
    CHECK(fl_fhirdb_acquire(db, &c, &err) == FL_OK);
    fl_fhirdb_event ev = {.op = FL_FHIRDB_CREATE, .type = FL_STR("Patient"), .id = FL_STR("x"), .version = 1};
    for (int i = 0; i < 100; i++) CHECK(fl_fhirdb_outbox_enqueue(c, FL_STR("q"), &ev, FL_STR("{}"), NULL, &err) == FL_OK);
    fl_fhirdb_release(db, c);
    claimer ws[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        memset(&ws[i], 0, sizeof ws[i]);
        ws[i].db = db;
        pthread_create(&th[i], NULL, claim_main, &ws[i]);
    }
    static int seen[4096];
    memset(seen, 0, sizeof seen);
    size_t total = 0;
    int dups = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        for (size_t k = 0; k < ws[i].n; k++) {
            int64_t s = ws[i].got[k];
            if (s >= 0 && s < 4096 && seen[s]++) dups++;
            total++;
        }
    }
    CHECK_EQ_INT(total, 100);
    CHECK_EQ_INT(dups, 0);
    fl_fhirdb_close(db);
}

int main(void)
{
    fl_arena_init(&A, 0, 0);
    RUN(test_crud);
    RUN(test_history_search);
    RUN(test_tx_hook_outbox);
    RUN(test_outbox_concurrent_claims);
    RUN(test_outbox_batches);
    RUN(test_time);
    RUN(test_concurrent_file_db);
    const char *pg = getenv("FL_TEST_PG_URL");
    if (pg && *pg) {
        fprintf(stderr, "-- PostgreSQL: %s\n", pg);
        g_url = pg;
        RUN(test_crud);
        RUN(test_history_search);
        RUN(test_tx_hook_outbox);
        RUN(test_outbox_concurrent_claims);
        RUN(test_outbox_batches);
        RUN(test_concurrent_pg);
    }
    fl_arena_fini(&A);
    return testhelp_done();
}
