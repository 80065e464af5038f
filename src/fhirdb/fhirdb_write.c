/* fhirdb_write.c - create, update (create-on-update) and delete (module fhirdb).
 * Each write, inside one transaction: lock the (type, id) (PostgreSQL: an advisory
 * transaction lock, SQLite: BEGIN IMMEDIATE), read the current row, check If-Match, stamp
 * id + meta.versionId + meta.lastUpdated into the JSON, upsert the current row, append a
 * history row (PostgreSQL: both in one statement), then call the write hook (which may
 * enqueue outbox rows on the same connection). Any failure rolls the whole write back.
 * A create with a server-assigned (fresh random) id skips the lock and the read.
 * Invariant: fl_resource.version == MAX(fl_history.version) for each (type, id). */
#include "fhirdb/fhirdb_int.h"

#include <stdio.h>

bool fl_fhirdb_valid_id(fl_str s)
{
    if (s.len == 0 || s.len > FL_FHIRDB_MAX_ID) return false;
    for (size_t i = 0; i < s.len; i++) {
        char ch = s.ptr[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                  ch == '-' || ch == '.';
        if (!ok) return false;
    }
    return true;
}

static bool valid_type(fl_str s)
{
    if (s.len == 0 || s.len > FL_FHIRDB_MAX_TYPE) return false;
    if (!(s.ptr[0] >= 'A' && s.ptr[0] <= 'Z')) return false;
    for (size_t i = 0; i < s.len; i++) {
        char ch = s.ptr[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
            return false;
    }
    return true;
}

fl_rc fhirdb_stamp(const fl_json_val *res, fl_str type, fl_str id, int64_t version, int64_t lu_us,
                   fl_buf *out, fl_err *err)
{
    if (!fl_json_is_obj(res)) return fl_err_set(err, FL_E_FHIR_INVALID, "resource is not a JSON object");
    const fl_json_val *meta = fl_json_get_c(res, "meta");
    if (meta && !fl_json_is_obj(meta))
        return fl_err_set(err, FL_E_FHIR_INVALID, "%.*s.meta is not an object", FL_STR_ARG(type));
    char vbuf[24], tbuf[40];
    int vn = snprintf(vbuf, sizeof vbuf, "%lld", (long long)version);
    size_t tn = fl_time_format_rfc3339(lu_us, tbuf, sizeof tbuf);
    fl_jw w;
    fl_jw_init(&w, out);
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "resourceType");
    fl_jw_str(&w, type);
    fl_jw_key_c(&w, "id");
    fl_jw_str(&w, id);
    fl_jw_key_c(&w, "meta");
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "versionId");
    fl_jw_str(&w, fl_str_make(vbuf, (size_t)vn));
    fl_jw_key_c(&w, "lastUpdated");
    fl_jw_str(&w, fl_str_make(tbuf, tn));
    for (uint32_t i = 0; meta && i < meta->len; i++) {
        const fl_json_member *m = &meta->u.members[i];
        if (fl_str_eq_c(m->key, "versionId") || fl_str_eq_c(m->key, "lastUpdated")) continue;
        fl_jw_key(&w, m->key);
        fl_jw_val(&w, &m->val);
    }
    fl_jw_obj_end(&w);
    for (uint32_t i = 0; i < res->len; i++) {
        const fl_json_member *m = &res->u.members[i];
        if (fl_str_eq_c(m->key, "resourceType") || fl_str_eq_c(m->key, "id") ||
            fl_str_eq_c(m->key, "meta"))
            continue;
        fl_jw_key(&w, m->key);
        fl_jw_val(&w, &m->val);
    }
    fl_jw_obj_end(&w);
    if (out->rc == FL_E_LIMIT)
        return fl_err_set(err, FL_E_LIMIT, "resource larger than %u bytes", FL_FHIRDB_MAX_RESOURCE);
    if (out->rc) return fl_err_set(err, out->rc, "serialising resource: %s", fl_rc_str(out->rc));
    return FL_OK;
}

/* The current row as seen by a write. */
typedef struct cur_row {
    bool found;
    bool deleted;
    int64_t version;
    fl_str body; /* in the arena; only when a hook needs it */
    fl_arena *a;
    bool want_body;
} cur_row;

static fl_rc cur_row_cb(void *ctx, const db_val *cols, size_t ncol, fl_err *err)
{
    cur_row *r = ctx;
    if (ncol < 3) return fl_err_set(err, FL_E_INTERNAL, "fhirdb: short row");
    r->found = true;
    r->version = db_int(&cols[0]);
    r->deleted = db_int(&cols[1]) != 0;
    if (r->want_body && !r->deleted) {
        r->body = fl_arena_str_dup(r->a, db_text(&cols[2]));
        if (!r->body.ptr && cols[2].s.len) return fl_err_set(err, FL_E_NOMEM, "fhirdb: out of memory");
    }
    return FL_OK;
}

typedef enum write_kind { W_CREATE, W_UPDATE, W_DELETE } write_kind;

/* Upsert the current row and append the history row of one new version. */
static fl_rc write_rows(fl_fhirdb_conn *c, fl_str type, fl_str id, int64_t version, int64_t lu, bool deleted,
                        const char *method, fl_str text, bool exists, fl_err *err)
{
    fl_rc rc = FL_OK;
    int64_t del = deleted ? 1 : 0;
    if (c->backend == DB_PG) { /* one round trip: the row change and the history row */
        db_val p[13] = {db_i(version), db_i(lu),   db_i(del),     db_t(text), db_t(type),
                        db_t(id),      db_t(type), db_t(id),      db_i(version), db_i(lu),
                        db_i(del),     db_t(fl_str_c(method)), db_t(text)};
        if (!exists) {
            db_val q[6] = {db_t(type), db_t(id), db_i(version), db_i(lu), db_i(del), db_t(text)};
            memcpy(p, q, sizeof q);
        }
        FL_TRY(db_exec(c,
                       exists ? "WITH r AS (UPDATE fl_resource SET version=?, last_updated=?, deleted=?, body=?"
                                " WHERE type=? AND id=?)"
                                " INSERT INTO fl_history(type, id, version, last_updated, deleted, method, body)"
                                " VALUES(?, ?, ?, ?, ?, ?, ?)"
                              : "WITH r AS (INSERT INTO fl_resource(type, id, version, last_updated, deleted, body)"
                                " VALUES(?, ?, ?, ?, ?, ?))"
                                " INSERT INTO fl_history(type, id, version, last_updated, deleted, method, body)"
                                " VALUES(?, ?, ?, ?, ?, ?, ?)",
                       p, 13, NULL, NULL, err));
        goto done;
    }
    if (exists) {
        db_val p[6] = {db_i(version), db_i(lu), db_i(del), db_t(text), db_t(type), db_t(id)};
        FL_TRY(db_exec(c,
                       "UPDATE fl_resource SET version=?, last_updated=?, deleted=?, body=?"
                       " WHERE type=? AND id=?",
                       p, 6, NULL, NULL, err));
    } else {
        db_val p[6] = {db_t(type), db_t(id), db_i(version), db_i(lu), db_i(del), db_t(text)};
        FL_TRY(db_exec(c,
                       "INSERT INTO fl_resource(type, id, version, last_updated, deleted, body)"
                       " VALUES(?, ?, ?, ?, ?, ?)",
                       p, 6, NULL, NULL, err));
    }
    db_val h[7] = {db_t(type), db_t(id), db_i(version), db_i(lu), db_i(del), db_t(fl_str_c(method)), db_t(text)};
    FL_TRY(db_exec(c,
                   "INSERT INTO fl_history(type, id, version, last_updated, deleted, method, body)"
                   " VALUES(?, ?, ?, ?, ?, ?, ?)",
                   h, 7, NULL, NULL, err));
done:
    return rc;
}

/* Lock (type, id) for this transaction and read its current row. */
static fl_rc lock_and_read(fl_fhirdb_conn *c, fl_str type, fl_str id, cur_row *cur, fl_err *err)
{
    fl_rc rc = FL_OK;
    if (c->backend == DB_PG) {
        /* Serialise writers of one (type, id), including two concurrent creates of an id
         * that does not exist yet (FOR UPDATE cannot lock a missing row). */
        db_val lk[2] = {db_t(type), db_t(id)};
        FL_TRY(db_exec(c, "SELECT pg_advisory_xact_lock(hashtextextended(? || '/' || ?, 0))", lk, 2, NULL,
                       NULL, err));
    }
    const char *sel = c->backend == DB_PG
                          ? "SELECT version, deleted, body FROM fl_resource WHERE type=? AND id=? FOR UPDATE"
                          : "SELECT version, deleted, body FROM fl_resource WHERE type=? AND id=?";
    db_val key[2] = {db_t(type), db_t(id)};
    FL_TRY(db_exec(c, sel, key, 2, cur_row_cb, cur, err));
done:
    return rc;
}

/* fresh: id was just generated here (a random UUID), so there is no current row to lock
 * or read; a collision would still fail on the primary key and roll back. */
static fl_rc do_write(fl_fhirdb_conn *c, write_kind kind, fl_str type, fl_str id,
                      const fl_json_val *res, const fl_fhirdb_wopts *wo, fl_arena *a,
                      fl_fhirdb_rec *out, bool fresh, fl_err *err)
{
    fl_rc rc = FL_OK;
    bool own = false;
    fl_buf body;
    fl_buf_init(&body, FL_FHIRDB_MAX_RESOURCE);
    const fl_fhirdb_opts *o = &c->db->opts;
    memset(out, 0, sizeof *out);

    if (!valid_type(type)) FL_FAIL(FL_E_ARG, "invalid resource type '%.*s'", FL_STR_ARG(type));
    if (!fl_fhirdb_valid_id(id))
        FL_FAIL(FL_E_ARG, "invalid id '%.*s' (expected [A-Za-z0-9-.]{1,64})", FL_STR_ARG(id));
    if (!c->in_tx) {
        FL_TRY(fl_fhirdb_begin(c, err));
        own = true;
    }

    cur_row cur = {.a = a, .want_body = o->hook != NULL};
    if (!fresh) FL_TRY(lock_and_read(c, type, id, &cur, err));

    int64_t if_match = wo ? wo->if_match : 0;
    if (if_match > 0 && (!cur.found || cur.version != if_match)) {
        rc = fl_err_set(err, FL_E_CONFLICT,
                        "If-Match version %lld does not match the current version %lld of %.*s/%.*s",
                        (long long)if_match, (long long)(cur.found ? cur.version : 0),
                        FL_STR_ARG(type), FL_STR_ARG(id));
        if (err) err->status = 412;
        goto done;
    }
    if (kind == W_CREATE && cur.found) {
        rc = fl_err_set(err, FL_E_CONFLICT, "%.*s/%.*s already exists", FL_STR_ARG(type), FL_STR_ARG(id));
        if (err) err->status = 409;
        goto done;
    }
    bool live = cur.found && !cur.deleted;
    if (kind == W_DELETE && !live) {
        /* nothing to delete: report success without a new version */
        out->type = type;
        out->id = id;
        out->version = 0;
        out->deleted = true;
        if (own) {
            own = false;
            FL_TRY(fl_fhirdb_commit(c, err));
        }
        goto done;
    }

    int64_t version = cur.found ? cur.version + 1 : 1;
    int64_t lu = fl_clock_now_us() / 1000 * 1000;
    fl_str text = FL_STR("");
    if (kind != W_DELETE) {
        FL_TRY(fhirdb_stamp(res, type, id, version, lu, &body, err));
        text = fl_buf_str(&body);
    }
    const char *method = kind == W_CREATE ? "POST" : kind == W_UPDATE ? "PUT" : "DELETE";
    FL_TRY(write_rows(c, type, id, version, lu, kind == W_DELETE, method, text, cur.found, err));

    if (o->hook) {
        fl_fhirdb_event ev = {
            .op = kind == W_DELETE ? FL_FHIRDB_DELETE : live ? FL_FHIRDB_UPDATE : FL_FHIRDB_CREATE,
            .type = type,
            .id = id,
            .version = version,
            .last_updated_us = lu,
            .current = text,
            .previous = live ? cur.body : FL_STR(""),
            .correlation_id = wo ? wo->correlation_id : FL_STR(""),
        };
        FL_TRY(o->hook(o->hook_ctx, c, &ev, err));
    }
    if (own) {
        own = false;
        FL_TRY(fl_fhirdb_commit(c, err));
    }
    out->type = type;
    out->id = id;
    out->version = version;
    out->last_updated_us = lu;
    out->deleted = kind == W_DELETE;
    out->created = !live && kind != W_DELETE;
    out->method = fl_str_c(method);
    if (kind != W_DELETE) {
        out->body = fl_arena_str_dup(a, text);
        if (!out->body.ptr) FL_FAIL(FL_E_NOMEM, "fhirdb: out of memory");
    }
done:
    if (own) fl_fhirdb_rollback(c);
    fl_buf_reset(&body);
    return rc;
}

fl_rc fl_fhirdb_create(fl_fhirdb_conn *c, fl_str type, const fl_json_val *res,
                       const fl_fhirdb_wopts *wo, fl_arena *a, fl_fhirdb_rec *out, fl_err *err)
{
    if (wo && wo->id.len) return do_write(c, W_CREATE, type, wo->id, res, wo, a, out, false, err);
    char uuid[37];
    fl_uuid4(uuid);
    fl_str id = fl_arena_str_dup(a, fl_str_make(uuid, 36));
    if (!id.ptr) return fl_err_set(err, FL_E_NOMEM, "fhirdb: out of memory");
    fl_fhirdb_wopts w = wo ? *wo : (fl_fhirdb_wopts){0};
    w.if_match = 0;
    return do_write(c, W_CREATE, type, id, res, &w, a, out, true, err);
}

fl_rc fl_fhirdb_update(fl_fhirdb_conn *c, fl_str type, fl_str id, const fl_json_val *res,
                       const fl_fhirdb_wopts *wo, fl_arena *a, fl_fhirdb_rec *out, fl_err *err)
{
    return do_write(c, W_UPDATE, type, id, res, wo, a, out, false, err);
}

fl_rc fl_fhirdb_delete(fl_fhirdb_conn *c, fl_str type, fl_str id, const fl_fhirdb_wopts *wo,
                       fl_arena *a, fl_fhirdb_rec *out, fl_err *err)
{
    return do_write(c, W_DELETE, type, id, NULL, wo, a, out, false, err);
}
