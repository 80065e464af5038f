/* fhirdb_sql.c - the statement layer over SQLite and libpq (module fhirdb).
 * db_exec() runs one SQL statement with bound parameters (never string-built values) and
 * streams rows to a callback. SQL is written with `?`; for PostgreSQL each `?` becomes $n.
 * Statements are prepared once per connection (SQLite handles; PostgreSQL named prepared
 * statements) and kept in a small cache keyed by their text. Error mapping: unique violations -> FL_E_CONFLICT; busy/serialization/lock timeouts ->
 * FL_E_DB marked retriable; everything else FL_E_DB with the backend's message. */
#include "fhirdb/fhirdb_int.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>

int64_t db_int(const db_val *v)
{
    if (v->t == DB_INT) return v->i;
    int64_t x = 0;
    if (v->t == DB_TEXT && fl_parse_i64(v->s, &x)) return x;
    return 0;
}

fl_str db_text(const db_val *v)
{
    if (v->t == DB_TEXT) return v->s;
    return FL_STR("");
}

/* ------------------------------------------------------------------ sqlite */

static fl_rc sq_fail(fl_fhirdb_conn *c, int code, const char *what, fl_err *err)
{
    sqlite3 *h = c->handle;
    int prim = code & 0xff;
    fl_rc rc = prim == SQLITE_CONSTRAINT ? FL_E_CONFLICT : FL_E_DB;
    fl_err_set(err, rc, "sqlite %s: %s", what, h ? sqlite3_errmsg(h) : sqlite3_errstr(code));
    if (err && (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)) err->flags |= FL_ERR_RETRIABLE;
    return rc;
}

static fl_rc sq_open(fl_fhirdb *db, fl_fhirdb_conn *c, fl_err *err)
{
    sqlite3 *h = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int code = sqlite3_open_v2(db->memory ? ":memory:" : db->url, &h, flags, NULL);
    c->handle = h;
    if (code != SQLITE_OK) return sq_fail(c, code, "open", err);
    sqlite3_busy_timeout(h, (int)db->opts.busy_timeout_ms);
    sqlite3_extended_result_codes(h, 1);
    static const char *const pragmas =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;";
    char *msg = NULL;
    code = sqlite3_exec(h, pragmas, NULL, NULL, &msg);
    if (code != SQLITE_OK) {
        fl_err_set(err, FL_E_DB, "sqlite pragmas: %s", msg ? msg : sqlite3_errstr(code));
        sqlite3_free(msg);
        return FL_E_DB;
    }
    return FL_OK;
}

/* A prepared statement for sql from the connection's cache (prepared on a miss). The
 * statement stays owned by the cache; callers reset it after use. */
static fl_rc sq_prepare(fl_fhirdb_conn *c, const char *sql, sqlite3_stmt **out, fl_err *err)
{
    for (unsigned i = 0; i < DB_STMT_CACHE; i++) {
        if (c->cache[i].sql && strcmp(c->cache[i].sql, sql) == 0) {
            *out = c->cache[i].stmt;
            return FL_OK;
        }
    }
    sqlite3_stmt *st = NULL;
    int code = sqlite3_prepare_v3(c->handle, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (code != SQLITE_OK) return sq_fail(c, code, "prepare", err);
    char *copy = fl_strndup(sql, strlen(sql));
    if (!copy) {
        sqlite3_finalize(st);
        return fl_err_set(err, FL_E_NOMEM, "fhirdb: out of memory");
    }
    db_cached_stmt *slot = &c->cache[c->cache_next++ % DB_STMT_CACHE];
    if (slot->stmt) sqlite3_finalize(slot->stmt);
    fl_free(slot->sql);
    slot->sql = copy;
    slot->stmt = st;
    *out = st;
    return FL_OK;
}

static fl_rc sq_exec(fl_fhirdb_conn *c, const char *sql, const db_val *params, size_t n,
                     db_row_fn fn, void *ctx, fl_err *err)
{
    sqlite3_stmt *st = NULL;
    fl_rc rc = sq_prepare(c, sql, &st, err);
    if (rc) return rc;
    int code;
    for (size_t i = 0; i < n; i++) {
        int idx = (int)i + 1;
        if (params[i].t == DB_INT) {
            code = sqlite3_bind_int64(st, idx, params[i].i);
        } else if (params[i].t == DB_TEXT) {
            if (params[i].s.len > (size_t)INT32_MAX) {
                rc = fl_err_set(err, FL_E_LIMIT, "sqlite: parameter too large");
                goto done;
            }
            code = sqlite3_bind_text(st, idx, params[i].s.ptr ? params[i].s.ptr : "",
                                     (int)params[i].s.len, SQLITE_TRANSIENT);
        } else {
            code = sqlite3_bind_null(st, idx);
        }
        if (code != SQLITE_OK) {
            rc = sq_fail(c, code, "bind", err);
            goto done;
        }
    }
    db_val cols[16];
    for (;;) {
        code = sqlite3_step(st);
        if (code == SQLITE_DONE) break;
        if (code != SQLITE_ROW) {
            rc = sq_fail(c, code, "step", err);
            goto done;
        }
        if (!fn) continue;
        int nc = sqlite3_column_count(st);
        if (nc > 16) nc = 16;
        for (int k = 0; k < nc; k++) {
            int ty = sqlite3_column_type(st, k);
            if (ty == SQLITE_NULL) {
                cols[k] = db_null();
            } else if (ty == SQLITE_INTEGER) {
                cols[k] = db_i(sqlite3_column_int64(st, k));
            } else {
                const unsigned char *p = sqlite3_column_text(st, k);
                int len = sqlite3_column_bytes(st, k);
                cols[k] = db_t(fl_str_make(p ? (const char *)p : "", len > 0 ? (size_t)len : 0));
            }
        }
        rc = fn(ctx, cols, (size_t)nc, err);
        if (rc) goto done;
    }
done:
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* ------------------------------------------------------------------ postgres */

static void pg_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* notices ("relation exists, skipping") are not errors; the library stays quiet */
}

static fl_rc pg_fail_res(PGresult *res, const char *what, fl_err *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : "no result";
    fl_rc rc = FL_E_DB;
    if (state && !strcmp(state, "23505")) rc = FL_E_CONFLICT;
    bool lost = !state || !strncmp(state, "08", 2) || !strcmp(state, "57P01");
    size_t ml = strlen(msg);
    while (ml && (msg[ml - 1] == '\n' || msg[ml - 1] == ' ')) ml--;
    fl_err_set(err, rc, "postgres %s: %.*s%s%s", what, (int)ml, msg, state ? " SQLSTATE " : "",
               state ? state : "");
    if (err && (lost || !strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03")))
        err->flags |= FL_ERR_RETRIABLE;
    return rc;
}

/* Forget the cached statement names (after a reconnect the server has none of them). */
static void pg_cache_clear(fl_fhirdb_conn *c)
{
    for (unsigned i = 0; i < DB_STMT_CACHE; i++) {
        fl_free(c->cache[i].sql);
        c->cache[i].sql = NULL;
    }
}

/* After a server restart the connection is dead: reconnect between transactions (inside
 * one the caller sees the error and rolls back). */
static void pg_ensure(fl_fhirdb_conn *c)
{
    if (PQstatus(c->handle) == CONNECTION_BAD && !c->in_tx) {
        pg_cache_clear(c);
        PQreset(c->handle);
        if (PQstatus(c->handle) == CONNECTION_OK) {
            PQsetNoticeProcessor(c->handle, pg_notice, NULL);
            char sql[96];
            snprintf(sql, sizeof sql, "SET lock_timeout = %u; SET client_min_messages = warning",
                     c->db->opts.busy_timeout_ms);
            PGresult *res = PQexec(c->handle, sql);
            if (res) PQclear(res);
        }
    }
}

static fl_rc pg_open(fl_fhirdb *db, fl_fhirdb_conn *c, fl_err *err)
{
    PGconn *h = PQconnectdb(db->url);
    c->handle = h;
    if (!h) return fl_err_set(err, FL_E_NOMEM, "postgres: out of memory");
    if (PQstatus(h) != CONNECTION_OK) {
        const char *m = PQerrorMessage(h);
        size_t ml = strlen(m);
        while (ml && m[ml - 1] == '\n') ml--;
        fl_err_set(err, FL_E_DB, "postgres connect: %.*s", (int)ml, m);
        if (err) err->flags |= FL_ERR_RETRIABLE;
        return FL_E_DB;
    }
    PQsetNoticeProcessor(h, pg_notice, NULL);
    char sql[96];
    snprintf(sql, sizeof sql, "SET lock_timeout = %u; SET client_min_messages = warning",
             db->opts.busy_timeout_ms);
    return db_exec_script(c, sql, err);
}

/* Run q ($n placeholders) as a named prepared statement, cached per connection by the
 * original text sql; the PREPARE happens on first use (types fixed then). Names are never
 * reused, so a DEALLOCATE that fails (aborted transaction) leaves only a harmless leftover. */
static PGresult *pg_run(fl_fhirdb_conn *c, const char *sql, const char *q, int n, const Oid *types,
                        const char *const *vals, const int *lens, const int *fmts)
{
    PGconn *h = c->handle;
    db_cached_stmt *hit = NULL;
    char name[32];
    for (unsigned i = 0; i < DB_STMT_CACHE && !hit; i++)
        if (c->cache[i].sql && strcmp(c->cache[i].sql, sql) == 0) hit = &c->cache[i];
    if (!hit) {
        char *copy = fl_strndup(sql, strlen(sql));
        if (!copy) return PQexecParams(h, q, n, types, vals, lens, fmts, 0); /* unprepared fallback */
        unsigned gen = c->cache_next++;
        db_cached_stmt *slot = &c->cache[gen % DB_STMT_CACHE];
        if (slot->sql) {
            snprintf(name, sizeof name, "DEALLOCATE fl_s%u", slot->pg_id);
            PGresult *d = PQexec(h, name);
            if (d) PQclear(d);
            fl_free(slot->sql);
            slot->sql = NULL;
        }
        snprintf(name, sizeof name, "fl_s%u", gen);
        PGresult *pr = PQprepare(h, name, q, n, types);
        if (!pr || PQresultStatus(pr) != PGRES_COMMAND_OK) {
            fl_free(copy);
            return pr; /* the caller reports the error */
        }
        PQclear(pr);
        slot->sql = copy;
        slot->pg_id = gen;
        hit = slot;
    }
    snprintf(name, sizeof name, "fl_s%u", hit->pg_id);
    return PQexecPrepared(h, name, n, vals, lens, fmts, 0);
}

static fl_rc pg_exec(fl_fhirdb_conn *c, const char *sql, const db_val *params, size_t n,
                     db_row_fn fn, void *ctx, fl_err *err)
{
    PGconn *h = c->handle;
    fl_rc rc = FL_OK;
    PGresult *res = NULL;
    fl_buf q;
    fl_buf_init(&q, 1u << 20);
    if (n > DB_MAX_PARAMS) return fl_err_set(err, FL_E_LIMIT, "postgres: too many parameters");
    pg_ensure(c);

    /* ? -> $n (our SQL has no '?' inside literals) */
    unsigned k = 0;
    for (const char *p = sql; *p; p++) {
        if (*p == '?')
            fl_buf_printf(&q, "$%u", ++k);
        else
            fl_buf_putc(&q, *p);
    }
    if (q.rc) {
        rc = fl_err_set(err, q.rc, "postgres: statement too long");
        goto done;
    }
    const char *vals[DB_MAX_PARAMS];
    int lens[DB_MAX_PARAMS], fmts[DB_MAX_PARAMS];
    Oid types[DB_MAX_PARAMS];
    char ints[DB_MAX_PARAMS][24];
    for (size_t i = 0; i < n; i++) {
        if (params[i].t == DB_INT) {
            snprintf(ints[i], sizeof ints[i], "%lld", (long long)params[i].i);
            vals[i] = ints[i];
            lens[i] = 0;
            fmts[i] = 0;
            types[i] = 20; /* int8 */
        } else if (params[i].t == DB_TEXT) {
            if (params[i].s.len > (size_t)INT32_MAX) {
                rc = fl_err_set(err, FL_E_LIMIT, "postgres: parameter too large");
                goto done;
            }
            /* binary format: text bytes need no NUL terminator */
            vals[i] = params[i].s.ptr ? params[i].s.ptr : "";
            lens[i] = (int)params[i].s.len;
            fmts[i] = 1;
            types[i] = 25; /* text */
        } else {
            vals[i] = NULL;
            lens[i] = 0;
            fmts[i] = 0;
            types[i] = 0;
        }
    }
    res = pg_run(c, sql, q.ptr, (int)n, types, vals, lens, fmts);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_FATAL_ERROR && PQstatus(h) == CONNECTION_BAD && !c->in_tx) {
        /* the server went away between our statements: reconnect and try once more
         * (outside a transaction every statement we issue is safe to repeat) */
        if (res) PQclear(res);
        pg_ensure(c);
        res = pg_run(c, sql, q.ptr, (int)n, types, vals, lens, fmts);
        st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    }
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        if (!res && PQstatus(h) == CONNECTION_BAD) {
            rc = fl_err_set(err, FL_E_DB, "postgres: connection lost");
            if (err) err->flags |= FL_ERR_RETRIABLE;
        } else {
            rc = pg_fail_res(res, "exec", err);
        }
        goto done;
    }
    if (fn && st == PGRES_TUPLES_OK) {
        int nr = PQntuples(res), nc = PQnfields(res);
        if (nc > 16) nc = 16;
        db_val cols[16];
        for (int r = 0; r < nr; r++) {
            for (int j = 0; j < nc; j++) {
                if (PQgetisnull(res, r, j))
                    cols[j] = db_null();
                else
                    cols[j] = db_t(fl_str_make(PQgetvalue(res, r, j), (size_t)PQgetlength(res, r, j)));
            }
            rc = fn(ctx, cols, (size_t)nc, err);
            if (rc) goto done;
        }
    }
done:
    if (res) PQclear(res);
    fl_buf_reset(&q);
    return rc;
}

/* ------------------------------------------------------------------ dispatch */

fl_rc db_conn_open(fl_fhirdb *db, fl_fhirdb_conn **out, fl_err *err)
{
    fl_fhirdb_conn *c = fl_calloc(1, sizeof *c);
    if (!c) return fl_err_set(err, FL_E_NOMEM, "fhirdb: out of memory");
    c->backend = db->backend;
    c->db = db;
    fl_rc rc = db->backend == DB_SQLITE ? sq_open(db, c, err) : pg_open(db, c, err);
    if (rc) {
        db_conn_close(c);
        return rc;
    }
    *out = c;
    return FL_OK;
}

void db_conn_close(fl_fhirdb_conn *c)
{
    if (!c) return;
    for (unsigned i = 0; i < DB_STMT_CACHE; i++) {
        if (c->cache[i].stmt) sqlite3_finalize(c->cache[i].stmt);
        fl_free(c->cache[i].sql);
    }
    if (c->handle) {
        if (c->backend == DB_SQLITE)
            sqlite3_close_v2(c->handle);
        else
            PQfinish(c->handle);
    }
    fl_free(c);
}

fl_rc db_exec(fl_fhirdb_conn *c, const char *sql, const db_val *params, size_t nparams,
              db_row_fn fn, void *ctx, fl_err *err)
{
    if (c->backend == DB_SQLITE) return sq_exec(c, sql, params, nparams, fn, ctx, err);
    return pg_exec(c, sql, params, nparams, fn, ctx, err);
}

fl_rc db_exec_script(fl_fhirdb_conn *c, const char *sql, fl_err *err)
{
    if (c->backend == DB_SQLITE) {
        char *msg = NULL;
        int code = sqlite3_exec(c->handle, sql, NULL, NULL, &msg);
        if (code != SQLITE_OK) {
            fl_rc rc = (code & 0xff) == SQLITE_CONSTRAINT ? FL_E_CONFLICT : FL_E_DB;
            fl_err_set(err, rc, "sqlite: %s", msg ? msg : sqlite3_errstr(code));
            if (err && ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED))
                err->flags |= FL_ERR_RETRIABLE;
            sqlite3_free(msg);
            return rc;
        }
        return FL_OK;
    }
    pg_ensure(c);
    PGresult *res = PQexec(c->handle, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_FATAL_ERROR && PQstatus(c->handle) == CONNECTION_BAD && !c->in_tx) {
        if (res) PQclear(res);
        pg_ensure(c); /* reconnect once, as in pg_exec */
        res = PQexec(c->handle, sql);
        st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    }
    fl_rc rc = FL_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) rc = pg_fail_res(res, "exec", err);
    if (res) PQclear(res);
    return rc;
}
