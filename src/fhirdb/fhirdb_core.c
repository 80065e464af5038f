/* fhirdb_core.c - opening a store, its schema, the connection pool and transactions
 * (module fhirdb). One fl_fhirdb per process; connections are pooled (mutex + condvar)
 * and each is used by one thread at a time. The schema is created idempotently on open
 * (under an advisory lock on PostgreSQL so several replicas can start together). */
#include "fhirdb/fhirdb_int.h"

#include <stdio.h>

static const char *const schema_sqlite =
    "CREATE TABLE IF NOT EXISTS fl_resource(type TEXT NOT NULL, id TEXT NOT NULL,"
    " version INTEGER NOT NULL, last_updated INTEGER NOT NULL, deleted INTEGER NOT NULL,"
    " body TEXT NOT NULL, PRIMARY KEY(type, id));"
    "CREATE INDEX IF NOT EXISTS fl_resource_lu ON fl_resource(type, last_updated, id);"
    "CREATE TABLE IF NOT EXISTS fl_history(hseq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,"
    " last_updated INTEGER NOT NULL, deleted INTEGER NOT NULL, method TEXT NOT NULL,"
    " body TEXT NOT NULL, UNIQUE(type, id, version));"
    "CREATE INDEX IF NOT EXISTS fl_history_type ON fl_history(type, hseq);"
    "CREATE INDEX IF NOT EXISTS fl_history_inst ON fl_history(type, id, hseq);"
    "CREATE TABLE IF NOT EXISTS fl_outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " destination_id TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL,"
    " version INTEGER NOT NULL, op TEXT NOT NULL, payload TEXT NOT NULL,"
    " created INTEGER NOT NULL, lease_until INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, correlation_id TEXT, batch_no INTEGER);"
    "CREATE INDEX IF NOT EXISTS fl_outbox_dest ON fl_outbox(destination_id, seq);"
    "CREATE TABLE IF NOT EXISTS fl_lease(name TEXT PRIMARY KEY, owner TEXT NOT NULL, until_us INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS fl_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT OR IGNORE INTO fl_meta(key, value) VALUES('schema_version', '1');";

static const char *const schema_pg =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(727274);"
    "CREATE TABLE IF NOT EXISTS fl_resource(type TEXT NOT NULL, id TEXT NOT NULL,"
    " version BIGINT NOT NULL, last_updated BIGINT NOT NULL, deleted INTEGER NOT NULL,"
    " body TEXT NOT NULL, PRIMARY KEY(type, id));"
    "CREATE INDEX IF NOT EXISTS fl_resource_lu ON fl_resource(type, last_updated, id);"
    "CREATE TABLE IF NOT EXISTS fl_history(hseq BIGSERIAL PRIMARY KEY,"
    " type TEXT NOT NULL, id TEXT NOT NULL, version BIGINT NOT NULL,"
    " last_updated BIGINT NOT NULL, deleted INTEGER NOT NULL, method TEXT NOT NULL,"
    " body TEXT NOT NULL, UNIQUE(type, id, version));"
    "CREATE INDEX IF NOT EXISTS fl_history_type ON fl_history(type, hseq);"
    "CREATE INDEX IF NOT EXISTS fl_history_inst ON fl_history(type, id, hseq);"
    "CREATE TABLE IF NOT EXISTS fl_outbox(seq BIGSERIAL PRIMARY KEY,"
    " destination_id TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL,"
    " version BIGINT NOT NULL, op TEXT NOT NULL, payload TEXT NOT NULL,"
    " created BIGINT NOT NULL, lease_until BIGINT NOT NULL DEFAULT 0,"
    " attempts BIGINT NOT NULL DEFAULT 0, last_error TEXT, correlation_id TEXT, batch_no BIGINT);"
    "CREATE INDEX IF NOT EXISTS fl_outbox_dest ON fl_outbox(destination_id, seq);"
    "CREATE TABLE IF NOT EXISTS fl_lease(name TEXT PRIMARY KEY, owner TEXT NOT NULL, until_us BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS fl_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT INTO fl_meta(key, value) VALUES('schema_version', '1') ON CONFLICT DO NOTHING;"
    "COMMIT;";

void fl_fhirdb_opts_default(fl_fhirdb_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_conns = 8;
    o->busy_timeout_ms = 10000;
}

const char *fl_fhirdb_backend(const fl_fhirdb *db)
{
    return db->backend == DB_SQLITE ? "sqlite" : "postgres";
}

static fl_rc parse_url(fl_fhirdb *db, const char *url, fl_err *err)
{
    fl_str u = fl_str_c(url);
    if (fl_str_starts_with(u, FL_STR("sqlite:"))) {
        const char *p = url + 7;
        if (p[0] == '/' && p[1] == '/') p += 2;
        if (!*p) return fl_err_set(err, FL_E_CONFIG, "db url '%s': missing sqlite path", url);
        db->backend = DB_SQLITE;
        db->memory = !strcmp(p, ":memory:");
        db->url = fl_strndup(p, strlen(p));
    } else if (fl_str_starts_with(u, FL_STR("postgres://")) ||
               fl_str_starts_with(u, FL_STR("postgresql://"))) {
        db->backend = DB_PG;
        db->url = fl_strndup(url, u.len);
    } else {
        return fl_err_set(err, FL_E_CONFIG,
                          "db url '%s': expected sqlite:PATH, sqlite::memory: or postgres://...",
                          url);
    }
    if (!db->url) return fl_err_set(err, FL_E_NOMEM, "fhirdb: out of memory");
    return FL_OK;
}

static fl_rc make_parent_dir(const char *path, fl_err *err)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return FL_OK;
    char *dir = fl_strndup(path, (size_t)(slash - path));
    if (!dir) return fl_err_set(err, FL_E_NOMEM, "fhirdb: out of memory");
    fl_rc rc = fl_mkdir_p(dir, err);
    fl_free(dir);
    return rc;
}

fl_rc fl_fhirdb_open(const char *url, const fl_fhirdb_opts *o, fl_fhirdb **out, fl_err *err)
{
    fl_rc rc = FL_OK;
    fl_fhirdb_conn *c = NULL;
    *out = NULL;
    if (!url) return fl_err_set(err, FL_E_ARG, "fl_fhirdb_open: NULL url");
    fl_fhirdb *db = fl_calloc(1, sizeof *db);
    if (!db) return fl_err_set(err, FL_E_NOMEM, "fhirdb: out of memory");
    if (o)
        db->opts = *o;
    else
        fl_fhirdb_opts_default(&db->opts);
    if (!db->opts.max_conns) db->opts.max_conns = 8;
    if (!db->opts.busy_timeout_ms) db->opts.busy_timeout_ms = 10000;
    pthread_mutex_init(&db->mu, NULL);
    pthread_cond_init(&db->cv, NULL);
    FL_TRY(parse_url(db, url, err));
    if (db->memory) db->opts.max_conns = 1; /* one private in-memory database */
    if (db->backend == DB_SQLITE && !db->memory) FL_TRY(make_parent_dir(db->url, err));
    FL_TRY(fl_fhirdb_acquire(db, &c, err));
    rc = db_exec_script(c, db->backend == DB_SQLITE ? schema_sqlite : schema_pg, err);
    if (rc && db->backend == DB_PG) db_exec_script(c, "ROLLBACK", NULL);
    /* stores created before fl_outbox.correlation_id existed (same day, pre-release) */
    if (rc == FL_OK && db->backend == DB_PG)
        rc = db_exec_script(c, "ALTER TABLE fl_outbox ADD COLUMN IF NOT EXISTS correlation_id TEXT", err);
    if (rc == FL_OK && db->backend == DB_SQLITE &&
        db_exec_script(c, "SELECT correlation_id FROM fl_outbox LIMIT 0", NULL) != FL_OK)
        rc = db_exec_script(c, "ALTER TABLE fl_outbox ADD COLUMN correlation_id TEXT", err);
    /* and before fl_outbox.batch_no (delivery batches) */
    if (rc == FL_OK && db->backend == DB_PG)
        rc = db_exec_script(c, "ALTER TABLE fl_outbox ADD COLUMN IF NOT EXISTS batch_no BIGINT", err);
    if (rc == FL_OK && db->backend == DB_SQLITE &&
        db_exec_script(c, "SELECT batch_no FROM fl_outbox LIMIT 0", NULL) != FL_OK)
        rc = db_exec_script(c, "ALTER TABLE fl_outbox ADD COLUMN batch_no INTEGER", err);
    /* delivery batches look rows up by (destination, batch_no): without this index every
     * poll, ack and replay scans the destination's whole queue, which slows delivery down
     * exactly when the queue grows */
    if (rc == FL_OK && db->backend == DB_PG) {
        rc = db_exec_script(c,
                            "BEGIN; SELECT pg_advisory_xact_lock(727274);"
                            " CREATE INDEX IF NOT EXISTS fl_outbox_batch ON fl_outbox(destination_id, batch_no);"
                            " COMMIT;",
                            err);
        if (rc) db_exec_script(c, "ROLLBACK", NULL);
    }
    if (rc == FL_OK && db->backend == DB_SQLITE)
        rc = db_exec_script(c, "CREATE INDEX IF NOT EXISTS fl_outbox_batch ON fl_outbox(destination_id, batch_no)", err);
    fl_fhirdb_release(db, c);
    if (rc) {
        fl_err_prefix(err, "creating schema: ");
        goto done;
    }
    fl_log(&db->opts.log, FL_LOG_INFO, "fhirdb: opened %s store", fl_fhirdb_backend(db));
    *out = db;
done:
    if (rc) fl_fhirdb_close(db);
    return rc;
}

void fl_fhirdb_close(fl_fhirdb *db)
{
    if (!db) return;
    while (db->idle) {
        fl_fhirdb_conn *c = db->idle;
        db->idle = c->next_idle;
        db_conn_close(c);
    }
    pthread_cond_destroy(&db->cv);
    pthread_mutex_destroy(&db->mu);
    fl_free(db->url);
    fl_free(db);
}

fl_rc fl_fhirdb_acquire(fl_fhirdb *db, fl_fhirdb_conn **out, fl_err *err)
{
    *out = NULL;
    pthread_mutex_lock(&db->mu);
    for (;;) {
        if (db->idle) {
            fl_fhirdb_conn *c = db->idle;
            db->idle = c->next_idle;
            c->next_idle = NULL;
            pthread_mutex_unlock(&db->mu);
            *out = c;
            return FL_OK;
        }
        if (db->open_conns < db->opts.max_conns) break;
        pthread_cond_wait(&db->cv, &db->mu);
    }
    db->open_conns++;
    pthread_mutex_unlock(&db->mu);
    fl_rc rc = db_conn_open(db, out, err);
    if (rc) {
        pthread_mutex_lock(&db->mu);
        db->open_conns--;
        pthread_cond_signal(&db->cv);
        pthread_mutex_unlock(&db->mu);
    }
    return rc;
}

void fl_fhirdb_release(fl_fhirdb *db, fl_fhirdb_conn *c)
{
    if (!c) return;
    if (c->in_tx) fl_fhirdb_rollback(c);
    pthread_mutex_lock(&db->mu);
    c->next_idle = db->idle;
    db->idle = c;
    pthread_cond_signal(&db->cv);
    pthread_mutex_unlock(&db->mu);
}

fl_rc fl_fhirdb_begin(fl_fhirdb_conn *c, fl_err *err)
{
    if (c->in_tx) return fl_err_set(err, FL_E_STATE, "fhirdb: transaction already open");
    /* SQLite: take the write lock up front so two writers never deadlock on upgrade. */
    fl_rc rc = db_exec_script(c, c->backend == DB_SQLITE ? "BEGIN IMMEDIATE" : "BEGIN", err);
    if (rc == FL_OK) c->in_tx = true;
    return rc;
}

fl_rc fl_fhirdb_commit(fl_fhirdb_conn *c, fl_err *err)
{
    if (!c->in_tx) return fl_err_set(err, FL_E_STATE, "fhirdb: no open transaction");
    fl_rc rc = db_exec_script(c, "COMMIT", err);
    if (rc) {
        db_exec_script(c, "ROLLBACK", NULL);
    }
    c->in_tx = false;
    return rc;
}

void fl_fhirdb_rollback(fl_fhirdb_conn *c)
{
    if (!c->in_tx) return;
    db_exec_script(c, "ROLLBACK", NULL);
    c->in_tx = false;
}

fl_rc fl_fhirdb_begin_snapshot(fl_fhirdb_conn *c, fl_err *err)
{
    if (c->in_tx) return fl_err_set(err, FL_E_STATE, "fhirdb: transaction already open");
    /* PostgreSQL: one snapshot for every statement of the transaction. SQLite: the write
     * lock serialises against all writers, so reads inside see one state too. */
    fl_rc rc = db_exec_script(c, c->backend == DB_SQLITE ? "BEGIN IMMEDIATE" : "BEGIN ISOLATION LEVEL REPEATABLE READ",
                              err);
    if (rc == FL_OK) c->in_tx = true;
    return rc;
}

bool fl_fhirdb_in_tx(const fl_fhirdb_conn *c) { return c->in_tx; }

fl_rc fl_fhirdb_ping(fl_fhirdb_conn *c, fl_err *err) { return db_exec(c, "SELECT 1", NULL, 0, NULL, NULL, err); }
