/* fhirdb_int.h - private declarations of the fhirdb module (resource store).
 * The two backends are hidden behind a tiny statement layer (db_exec): SQL is written once
 * with `?` placeholders and bound parameters; for PostgreSQL the placeholders become $n.
 * Rows reach a callback as db_val columns that are valid only during the callback. */
#ifndef FL_FHIRDB_INT_H
#define FL_FHIRDB_INT_H

#include "fhirlake/fhirdb.h"
#include "fhirlake/os.h"

#include <pthread.h>

typedef enum db_backend { DB_SQLITE = 1, DB_PG = 2 } db_backend;

typedef enum db_type { DB_NULL = 0, DB_INT, DB_TEXT } db_type;

/* A bound parameter or a result column. PostgreSQL columns arrive as text; read them
 * with db_int()/db_text(), which accept both forms. */
typedef struct db_val {
    db_type t;
    int64_t i;
    fl_str s;
} db_val;

static inline db_val db_i(int64_t v) { return (db_val){DB_INT, v, {NULL, 0}}; }
static inline db_val db_t(fl_str s) { return (db_val){DB_TEXT, 0, s}; }
static inline db_val db_null(void) { return (db_val){DB_NULL, 0, {NULL, 0}}; }

/* Row callback: cols[0..ncol) valid only during the call. Non-OK stops the statement. */
typedef fl_rc (*db_row_fn)(void *ctx, const db_val *cols, size_t ncol, fl_err *err);

#define DB_MAX_PARAMS 128 /* bound parameters per statement (covers _id lists) */

#define DB_STMT_CACHE 32 /* prepared SQLite statements kept per connection */

typedef struct db_cached_stmt {
    char *sql;  /* owned copy: the cache is keyed by statement text */
    void *stmt; /* sqlite3_stmt* (SQLite) */
    unsigned pg_id; /* PostgreSQL: server-side name is fl_s<pg_id> */
} db_cached_stmt;

struct fl_fhirdb_conn {
    db_backend backend;
    void *handle; /* sqlite3* or PGconn* */
    db_cached_stmt cache[DB_STMT_CACHE];
    unsigned cache_next; /* round-robin eviction */
    bool in_tx;
    fl_fhirdb *db;
    fl_fhirdb_conn *next_idle;
};

struct fl_fhirdb {
    db_backend backend;
    char *url;      /* owned: the path (sqlite) or the libpq conninfo (postgres) */
    bool memory;    /* sqlite::memory: */
    fl_fhirdb_opts opts;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned open_conns;
    fl_fhirdb_conn *idle;
};

/* fhirdb_sql.c */
fl_rc db_conn_open(fl_fhirdb *db, fl_fhirdb_conn **out, fl_err *err);
void db_conn_close(fl_fhirdb_conn *c);
/* Run one statement with bound params; fn (optional) sees each result row. */
fl_rc db_exec(fl_fhirdb_conn *c, const char *sql, const db_val *params, size_t nparams,
              db_row_fn fn, void *ctx, fl_err *err);
/* Run a script of statements without parameters (schema). */
fl_rc db_exec_script(fl_fhirdb_conn *c, const char *sql, fl_err *err);
int64_t db_int(const db_val *v);
fl_str db_text(const db_val *v);

/* fhirdb_write.c: build the stored JSON text (resourceType, id, meta first). */
fl_rc fhirdb_stamp(const fl_json_val *res, fl_str type, fl_str id, int64_t version,
                   int64_t lu_us, fl_buf *out, fl_err *err);

#endif
