/* server_rest.c - FHIR REST interactions on one type or instance (module server):
 * create, read, vread, update (create-on-update), delete, history (instance/type/system)
 * and search (_id, _lastUpdated, _count, _sort, keyset paging by _cursor), plus the
 * CapabilityStatement. Bodies are parsed here and checked against the URL; storage is
 * fhirdb's job. Unknown search parameters are ignored (lenient, as the FHIR spec allows)
 * unless the client sent `Prefer: handling=strict`. */
#include "server/server_int.h"

#include <stdio.h>

const char *srv_check_resource(srv_req *r, const fl_json_val *res, fl_str type, fl_str id, bool is_put)
{
    const fl_json_val *rt = fl_json_get_c(res, "resourceType");
    if (!rt) return "the resource has no resourceType";
    if (!fl_json_is_str(rt)) return "resourceType must be a string";
    if (!fl_str_eq(fl_json_str(rt), type))
        return fl_arena_printf(r->a, "resourceType '%.*s' in the body does not match '%.*s' in the URL",
                               FL_STR_ARG(fl_json_str(rt)), FL_STR_ARG(type));
    const fl_json_val *jid = fl_json_get_c(res, "id");
    if (jid && !fl_json_is_str(jid)) return "id must be a string";
    if (is_put) {
        if (!jid) return fl_arena_printf(r->a, "the body has no id; PUT %.*s/%.*s needs id \"%.*s\"",
                                         FL_STR_ARG(type), FL_STR_ARG(id), FL_STR_ARG(id));
        if (!fl_str_eq(fl_json_str(jid), id))
            return fl_arena_printf(r->a, "id '%.*s' in the body does not match '%.*s' in the URL",
                                   FL_STR_ARG(fl_json_str(jid)), FL_STR_ARG(id));
    }
    const fl_json_val *meta = fl_json_get_c(res, "meta");
    if (meta && !fl_json_is_obj(meta)) return "meta must be an object";
    return NULL;
}

int64_t srv_if_match(fl_str v)
{
    if (!v.len) return 0;
    if (fl_str_starts_with(v, FL_STR("W/"))) v = fl_str_make(v.ptr + 2, v.len - 2);
    if (v.len >= 2 && v.ptr[0] == '"' && v.ptr[v.len - 1] == '"') v = fl_str_make(v.ptr + 1, v.len - 2);
    int64_t n = 0;
    if (!fl_parse_i64(v, &n) || n <= 0) return -1;
    return n;
}

/* Reply to a successful create/update per the Prefer header. */
static void write_reply(srv_req *r, int status, const fl_fhirdb_rec *rec)
{
    srv_version_headers(r, rec, true);
    if (r->prefer == SRV_PREFER_MINIMAL) {
        r->resp->status = status;
        fl_buf_clear(&r->resp->body);
    } else if (r->prefer == SRV_PREFER_OUTCOME) {
        srv_outcome(r, status, "%s %.*s/%.*s version %lld", status == 201 ? "created" : "updated",
                    FL_STR_ARG(rec->type), FL_STR_ARG(rec->id), (long long)rec->version);
    } else {
        srv_set_json_body(r, status, rec->body);
    }
}

static void store_fail(srv_req *r, fl_rc rc, const fl_err *err, const char *what)
{
    int st = srv_status_for(rc, err);
    srv_outcome(r, st, "%s: %s", what, err->msg[0] ? err->msg : fl_rc_str(rc));
}

static bool get_conn(srv_req *r)
{
    fl_err err;
    fl_err_clear(&err);
    fl_rc rc = srv_conn(r, &err);
    if (rc) store_fail(r, rc, &err, "database unavailable");
    return rc == FL_OK;
}

static void do_create(srv_req *r, fl_str type)
{
    const fl_json_val *res = srv_parse_body(r, r->req->body, "create");
    if (!res) return;
    const char *msg = srv_check_resource(r, res, type, FL_STR_NULL, false);
    if (msg) {
        srv_outcome(r, 400, "create %.*s: %s", FL_STR_ARG(type), msg);
        return;
    }
    if (!get_conn(r)) return;
    fl_fhirdb_rec rec;
    fl_err err;
    fl_err_clear(&err);
    fl_rc rc = fl_fhirdb_create(r->c, type, res, NULL, r->a, &rec, &err);
    if (rc) {
        store_fail(r, rc, &err, "create failed");
        return;
    }
    write_reply(r, 201, &rec);
}

static bool check_id(srv_req *r, fl_str type, fl_str id)
{
    if (fl_fhirdb_valid_id(id)) return true;
    srv_outcome(r, 400, "invalid id '%.*s' in %.*s/%.*s (expected [A-Za-z0-9-.]{1,64})", FL_STR_ARG(id),
                FL_STR_ARG(type), FL_STR_ARG(id));
    return false;
}

static bool if_match(srv_req *r, fl_fhirdb_wopts *wo)
{
    fl_str h = srv_header(r->req, "If-Match");
    wo->if_match = srv_if_match(h);
    if (wo->if_match < 0) {
        srv_outcome(r, 400, "malformed If-Match '%.*s' (expected W/\"<versionId>\")", FL_STR_ARG(h));
        return false;
    }
    return true;
}

static void do_update(srv_req *r, fl_str type, fl_str id)
{
    if (!check_id(r, type, id)) return;
    fl_fhirdb_wopts wo = {0};
    if (!if_match(r, &wo)) return;
    const fl_json_val *res = srv_parse_body(r, r->req->body, "update");
    if (!res) return;
    const char *msg = srv_check_resource(r, res, type, id, true);
    if (msg) {
        srv_outcome(r, 400, "update %.*s/%.*s: %s", FL_STR_ARG(type), FL_STR_ARG(id), msg);
        return;
    }
    if (!get_conn(r)) return;
    fl_fhirdb_rec rec;
    fl_err err;
    fl_err_clear(&err);
    fl_rc rc = fl_fhirdb_update(r->c, type, id, res, &wo, r->a, &rec, &err);
    if (rc) {
        store_fail(r, rc, &err, "update failed");
        return;
    }
    write_reply(r, rec.created ? 201 : 200, &rec);
}

static void do_delete(srv_req *r, fl_str type, fl_str id)
{
    if (!check_id(r, type, id)) return;
    fl_fhirdb_wopts wo = {0};
    if (!if_match(r, &wo)) return;
    if (!get_conn(r)) return;
    fl_fhirdb_rec rec;
    fl_err err;
    fl_err_clear(&err);
    fl_rc rc = fl_fhirdb_delete(r->c, type, id, &wo, r->a, &rec, &err);
    if (rc) {
        store_fail(r, rc, &err, "delete failed");
        return;
    }
    if (rec.version > 0) {
        char et[32];
        int n = snprintf(et, sizeof et, "W/\"%lld\"", (long long)rec.version);
        srv_add_header(r, "ETag", fl_str_make(et, (size_t)n));
    }
    if (r->prefer == SRV_PREFER_OUTCOME) {
        srv_outcome(r, 200, "deleted %.*s/%.*s", FL_STR_ARG(type), FL_STR_ARG(id));
        return;
    }
    r->resp->status = 204;
    fl_buf_clear(&r->resp->body);
}

static void reply_read(srv_req *r, fl_rc rc, const fl_err *err, const fl_fhirdb_rec *rec, fl_str type,
                       fl_str id)
{
    if (rc == FL_E_NOT_FOUND) {
        srv_outcome(r, 404, "%s", err->msg);
        return;
    }
    if (rc) {
        store_fail(r, rc, err, "read failed");
        return;
    }
    srv_version_headers(r, rec, false);
    if (rec->deleted) {
        srv_outcome(r, 410, "%.*s/%.*s was deleted (version %lld)", FL_STR_ARG(type), FL_STR_ARG(id),
                    (long long)rec->version);
        return;
    }
    srv_set_json_body(r, 200, rec->body);
}

static void do_read(srv_req *r, fl_str type, fl_str id, fl_str vid)
{
    if (!check_id(r, type, id)) return;
    int64_t v = 0;
    if (vid.len && (!fl_parse_i64(vid, &v) || v <= 0)) {
        srv_outcome(r, 400, "invalid version '%.*s' (expected a positive integer)", FL_STR_ARG(vid));
        return;
    }
    if (!get_conn(r)) return;
    fl_fhirdb_rec rec;
    fl_err err;
    fl_err_clear(&err);
    fl_rc rc = vid.len ? fl_fhirdb_vread(r->c, type, id, v, r->a, &rec, &err)
                       : fl_fhirdb_read(r->c, type, id, r->a, &rec, &err);
    reply_read(r, rc, &err, &rec, type, id);
}

/* ------------------------------------------------------------------ bundles out */

typedef struct link_q {
    fl_str names[12];
    fl_str vals[12];
    size_t n;
} link_q;

static void link_add(link_q *q, const char *name, fl_str val)
{
    if (q->n < 12) {
        q->names[q->n] = fl_str_c(name);
        q->vals[q->n] = val;
        q->n++;
    }
}

static void write_link(srv_req *r, fl_jw *w, const char *rel, fl_str path, const link_q *q,
                       const char *cursor)
{
    fl_buf u;
    fl_buf_init(&u, 16384);
    fl_buf_append_str(&u, r->base_url);
    fl_buf_append_str(&u, path);
    char sep = '?';
    for (size_t i = 0; i < q->n; i++) {
        fl_buf_putc(&u, sep);
        sep = '&';
        fl_buf_append_str(&u, q->names[i]);
        fl_buf_putc(&u, '=');
        srv_pct_encode(&u, q->vals[i]);
    }
    if (cursor) {
        fl_buf_putc(&u, sep);
        fl_buf_append_c(&u, "_cursor=");
        srv_pct_encode(&u, fl_str_c(cursor));
    }
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "relation");
    fl_jw_str_c(w, rel);
    fl_jw_key_c(w, "url");
    fl_jw_str(w, fl_buf_str(&u));
    fl_jw_obj_end(w);
    fl_buf_reset(&u);
}

static void write_full_url(srv_req *r, fl_jw *w, const fl_fhirdb_rec *rec)
{
    fl_buf u;
    fl_buf_init(&u, 4096);
    fl_buf_printf(&u, FL_STR_FMT "/" FL_STR_FMT "/" FL_STR_FMT, FL_STR_ARG(r->base_url), FL_STR_ARG(rec->type),
                  FL_STR_ARG(rec->id));
    fl_jw_key_c(w, "fullUrl");
    fl_jw_str(w, fl_buf_str(&u));
    fl_buf_reset(&u);
}

static void write_history_entry(srv_req *r, fl_jw *w, const fl_fhirdb_rec *rec)
{
    char buf[64];
    fl_jw_obj_begin(w);
    write_full_url(r, w, rec);
    if (!rec->deleted) {
        fl_jw_key_c(w, "resource");
        fl_jw_raw(w, rec->body);
    }
    fl_jw_key_c(w, "request");
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "method");
    fl_jw_str(w, rec->method);
    fl_jw_key_c(w, "url");
    if (fl_str_eq_c(rec->method, "POST")) {
        fl_jw_str(w, rec->type);
    } else {
        int n = snprintf(buf, sizeof buf, FL_STR_FMT "/" FL_STR_FMT, FL_STR_ARG(rec->type), FL_STR_ARG(rec->id));
        fl_jw_str(w, fl_str_make(buf, n > 0 && (size_t)n < sizeof buf ? (size_t)n : 0));
    }
    fl_jw_obj_end(w);
    fl_jw_key_c(w, "response");
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "status");
    fl_jw_str_c(w, rec->deleted ? "204 No Content" : rec->version == 1 ? "201 Created" : "200 OK");
    int n = snprintf(buf, sizeof buf, "W/\"%lld\"", (long long)rec->version);
    fl_jw_key_c(w, "etag");
    fl_jw_str(w, fl_str_make(buf, (size_t)n));
    size_t tn = fl_time_format_rfc3339(rec->last_updated_us, buf, sizeof buf);
    fl_jw_key_c(w, "lastModified");
    fl_jw_str(w, fl_str_make(buf, tn));
    fl_jw_obj_end(w);
    fl_jw_obj_end(w);
}

static bool parse_count(srv_req *r, fl_str v, uint32_t *out, bool *zero)
{
    int64_t n = 0;
    if (!fl_parse_i64(v, &n) || n < 0) {
        srv_outcome(r, 400, "invalid _count '%.*s' (expected a non-negative integer)", FL_STR_ARG(v));
        return false;
    }
    *zero = n == 0;
    *out = n > FL_FHIRDB_MAX_COUNT ? FL_FHIRDB_MAX_COUNT : (uint32_t)n;
    return true;
}

static bool unknown_param(srv_req *r, fl_str name, const char *where)
{
    if (!r->strict) return true; /* lenient: ignored, and absent from the self link */
    srv_outcome(r, 400, "unsupported %s parameter '%.*s'", where, FL_STR_ARG(name));
    return false;
}

void srv_history(srv_req *r, fl_str type, fl_str id)
{
    fl_fhirdb_query q = {.type = type, .id = id};
    link_q lq = {.n = 0};
    bool count_only = false;
    for (size_t i = 0; i < r->nparams; i++) {
        const srv_param *p = &r->params[i];
        if (fl_str_eq_c(p->name, "_since")) {
            int64_t lo, hi;
            if (!fl_fhirdb_parse_time(p->value, &lo, &hi)) {
                srv_outcome(r, 400, "invalid _since '%.*s' (expected a FHIR instant)", FL_STR_ARG(p->value));
                return;
            }
            q.has_lu_min = true;
            q.lu_min_us = lo;
            link_add(&lq, "_since", p->value);
        } else if (fl_str_eq_c(p->name, "_count")) {
            if (!parse_count(r, p->value, &q.count, &count_only)) return;
            if (count_only) q.count = 1;
            link_add(&lq, "_count", p->value);
        } else if (fl_str_eq_c(p->name, "_cursor")) {
            q.cursor = p->value;
        } else if (fl_str_eq_c(p->name, "_format") || fl_str_eq_c(p->name, "_pretty")) {
            continue;
        } else if (!unknown_param(r, p->name, "history")) {
            return;
        }
    }
    if (!get_conn(r)) return;
    fl_fhirdb_page pg;
    fl_err err;
    fl_err_clear(&err);
    fl_rc rc = fl_fhirdb_history(r->c, &q, r->a, &pg, &err);
    if (rc) {
        store_fail(r, rc, &err, "history failed");
        return;
    }
    if (count_only) {
        pg.n = 0;
        pg.has_next = false;
    }
    if (id.len && pg.n == 0 && !q.cursor.len) {
        fl_fhirdb_rec cur;
        rc = fl_fhirdb_read(r->c, type, id, r->a, &cur, &err);
        if (rc == FL_E_NOT_FOUND) {
            srv_outcome(r, 404, "%.*s/%.*s not found", FL_STR_ARG(type), FL_STR_ARG(id));
            return;
        }
        if (rc) {
            store_fail(r, rc, &err, "history failed");
            return;
        }
    }
    char path[256];
    int pn = id.len ? snprintf(path, sizeof path, "/" FL_STR_FMT "/" FL_STR_FMT "/_history", FL_STR_ARG(type),
                               FL_STR_ARG(id))
             : type.len ? snprintf(path, sizeof path, "/" FL_STR_FMT "/_history", FL_STR_ARG(type))
                        : snprintf(path, sizeof path, "/_history");
    fl_str spath = fl_str_make(path, pn > 0 && (size_t)pn < sizeof path ? (size_t)pn : 0);
    fl_buf *b = &r->resp->body;
    fl_buf_clear(b);
    fl_jw w;
    fl_jw_init(&w, b);
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "resourceType");
    fl_jw_str_c(&w, "Bundle");
    fl_jw_key_c(&w, "type");
    fl_jw_str_c(&w, "history");
    fl_jw_key_c(&w, "link");
    fl_jw_arr_begin(&w);
    write_link(r, &w, "self", spath, &lq, q.cursor.len ? fl_arena_strndup(r->a, q.cursor.ptr, q.cursor.len) : NULL);
    if (pg.has_next) write_link(r, &w, "next", spath, &lq, pg.next_cursor);
    fl_jw_arr_end(&w);
    fl_jw_key_c(&w, "entry");
    fl_jw_arr_begin(&w);
    for (size_t i = 0; i < pg.n; i++) write_history_entry(r, &w, &pg.recs[i]);
    fl_jw_arr_end(&w);
    fl_jw_obj_end(&w);
    r->resp->status = 200;
}

/* _lastUpdated=[prefix]value narrows [min, max) */
static bool apply_last_updated(srv_req *r, fl_fhirdb_query *q, fl_str v)
{
    if (memchr(v.ptr, ',', v.len)) {
        srv_outcome(r, 400, "_lastUpdated with several values (OR) is not supported: '%.*s'", FL_STR_ARG(v));
        return false;
    }
    fl_str pre = FL_STR("eq");
    if (v.len >= 2 && v.ptr[0] >= 'a' && v.ptr[0] <= 'z') {
        pre = fl_str_make(v.ptr, 2);
        v = fl_str_make(v.ptr + 2, v.len - 2);
    }
    int64_t lo, hi;
    if (!fl_fhirdb_parse_time(v, &lo, &hi)) {
        srv_outcome(r, 400, "invalid _lastUpdated date '%.*s'", FL_STR_ARG(v));
        return false;
    }
    int64_t mn = INT64_MIN, mx = INT64_MAX;
    if (fl_str_eq_c(pre, "eq")) {
        mn = lo;
        mx = hi;
    } else if (fl_str_eq_c(pre, "gt")) {
        mn = hi;
    } else if (fl_str_eq_c(pre, "ge")) {
        mn = lo;
    } else if (fl_str_eq_c(pre, "lt")) {
        mx = lo;
    } else if (fl_str_eq_c(pre, "le")) {
        mx = hi;
    } else {
        srv_outcome(r, 400, "unsupported _lastUpdated prefix '%.*s' (use eq, gt, ge, lt or le)", FL_STR_ARG(pre));
        return false;
    }
    if (mn != INT64_MIN && (!q->has_lu_min || mn > q->lu_min_us)) {
        q->has_lu_min = true;
        q->lu_min_us = mn;
    }
    if (mx != INT64_MAX && (!q->has_lu_max || mx < q->lu_max_us)) {
        q->has_lu_max = true;
        q->lu_max_us = mx;
    }
    return true;
}

static void do_search(srv_req *r, fl_str type)
{
    fl_fhirdb_query q = {.type = type, .want_total = true};
    link_q lq = {.n = 0};
    bool count_only = false;
    bool have_ids = false;
    fl_str *ids = NULL;
    for (size_t i = 0; i < r->nparams; i++) {
        const srv_param *p = &r->params[i];
        if (fl_str_eq_c(p->name, "_id")) {
            if (have_ids) {
                srv_outcome(r, 400, "repeated _id parameters are not supported (use _id=a,b)");
                return;
            }
            have_ids = true;
            ids = fl_arena_calloc(r->a, FL_FHIRDB_MAX_IDS, sizeof *ids);
            if (!ids) {
                srv_outcome(r, 500, "out of memory");
                return;
            }
            size_t s = 0;
            fl_str v = p->value;
            while (s <= v.len) {
                size_t e = s;
                while (e < v.len && v.ptr[e] != ',') e++;
                if (q.nids >= FL_FHIRDB_MAX_IDS) {
                    srv_outcome(r, 400, "more than %d _id values", FL_FHIRDB_MAX_IDS);
                    return;
                }
                if (e > s) ids[q.nids++] = fl_str_make(v.ptr + s, e - s);
                s = e + 1;
            }
            q.ids = ids;
            link_add(&lq, "_id", p->value);
        } else if (fl_str_eq_c(p->name, "_lastUpdated")) {
            if (!apply_last_updated(r, &q, p->value)) return;
            link_add(&lq, "_lastUpdated", p->value);
        } else if (fl_str_eq_c(p->name, "_count")) {
            if (!parse_count(r, p->value, &q.count, &count_only)) return;
            link_add(&lq, "_count", p->value);
        } else if (fl_str_eq_c(p->name, "_sort")) {
            if (fl_str_eq_c(p->value, "_lastUpdated"))
                q.sort = FL_FHIRDB_SORT_LU_ASC;
            else if (fl_str_eq_c(p->value, "-_lastUpdated"))
                q.sort = FL_FHIRDB_SORT_LU_DESC;
            else {
                srv_outcome(r, 400, "unsupported _sort '%.*s' (use _lastUpdated or -_lastUpdated)",
                            FL_STR_ARG(p->value));
                return;
            }
            link_add(&lq, "_sort", p->value);
        } else if (fl_str_eq_c(p->name, "_cursor")) {
            q.cursor = p->value;
        } else if (fl_str_eq_c(p->name, "_format") || fl_str_eq_c(p->name, "_pretty") ||
                   fl_str_eq_c(p->name, "_total")) {
            continue;
        } else if (!unknown_param(r, p->name, "search")) {
            return;
        }
    }
    if (have_ids && q.nids == 0) {
        srv_outcome(r, 400, "empty _id parameter");
        return;
    }
    if (count_only) q.count = 1;
    if (!get_conn(r)) return;
    fl_fhirdb_page pg;
    fl_err err;
    fl_err_clear(&err);
    fl_rc rc = fl_fhirdb_search(r->c, &q, r->a, &pg, &err);
    if (rc) {
        store_fail(r, rc, &err, "search failed");
        return;
    }
    if (count_only) {
        pg.n = 0;
        pg.has_next = false;
    }
    char path[96];
    int pn = snprintf(path, sizeof path, "/" FL_STR_FMT, FL_STR_ARG(type));
    fl_str spath = fl_str_make(path, pn > 0 && (size_t)pn < sizeof path ? (size_t)pn : 0);
    fl_buf *b = &r->resp->body;
    fl_buf_clear(b);
    fl_jw w;
    fl_jw_init(&w, b);
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "resourceType");
    fl_jw_str_c(&w, "Bundle");
    fl_jw_key_c(&w, "type");
    fl_jw_str_c(&w, "searchset");
    fl_jw_key_c(&w, "total");
    fl_jw_i64(&w, pg.total);
    fl_jw_key_c(&w, "link");
    fl_jw_arr_begin(&w);
    write_link(r, &w, "self", spath, &lq, q.cursor.len ? fl_arena_strndup(r->a, q.cursor.ptr, q.cursor.len) : NULL);
    if (pg.has_next) write_link(r, &w, "next", spath, &lq, pg.next_cursor);
    fl_jw_arr_end(&w);
    fl_jw_key_c(&w, "entry");
    fl_jw_arr_begin(&w);
    for (size_t i = 0; i < pg.n; i++) {
        fl_jw_obj_begin(&w);
        write_full_url(r, &w, &pg.recs[i]);
        fl_jw_key_c(&w, "resource");
        fl_jw_raw(&w, pg.recs[i].body);
        fl_jw_key_c(&w, "search");
        fl_jw_obj_begin(&w);
        fl_jw_key_c(&w, "mode");
        fl_jw_str_c(&w, "match");
        fl_jw_obj_end(&w);
        fl_jw_obj_end(&w);
    }
    fl_jw_arr_end(&w);
    fl_jw_obj_end(&w);
    r->resp->status = 200;
}

static void bad_method(srv_req *r, fl_str method, const char *what)
{
    srv_outcome(r, 405, "%.*s is not allowed on %s", FL_STR_ARG(method), what);
}

void srv_route_type(srv_req *r, fl_str method, fl_str type, fl_str id, fl_str hist, fl_str vid, int nseg)
{
    bool get = fl_str_eq_c(method, "GET") || fl_str_eq_c(method, "HEAD");
    if (!srv_known_type(type)) {
        srv_outcome(r, 404, "unknown resource type '%.*s'", FL_STR_ARG(type));
        return;
    }
    if (nseg == 1) {
        if (fl_str_eq_c(method, "POST"))
            do_create(r, type);
        else if (get)
            do_search(r, type);
        else
            bad_method(r, method, "a resource type (use POST to create, GET to search)");
        return;
    }
    if (id.len && id.ptr[0] == '$') {
        srv_outcome(r, 404, "unknown operation '%.*s' on %.*s", FL_STR_ARG(id), FL_STR_ARG(type));
        return;
    }
    if (nseg == 2 && fl_str_eq_c(id, "_history")) {
        if (get)
            srv_history(r, type, FL_STR_NULL);
        else
            bad_method(r, method, "type history");
        return;
    }
    if (nseg == 2 && fl_str_eq_c(id, "_search")) {
        if (!fl_str_eq_c(method, "POST")) {
            bad_method(r, method, "_search (use POST with a form body)");
            return;
        }
        if (!srv_parse_query(r, r->req->body)) return;
        do_search(r, type);
        return;
    }
    if (nseg == 2) {
        if (get)
            do_read(r, type, id, FL_STR_NULL);
        else if (fl_str_eq_c(method, "PUT"))
            do_update(r, type, id);
        else if (fl_str_eq_c(method, "DELETE"))
            do_delete(r, type, id);
        else
            bad_method(r, method, "a resource instance");
        return;
    }
    if (hist.len && hist.ptr[0] == '$') {
        srv_outcome(r, 404, "unknown operation '%.*s' on %.*s/%.*s", FL_STR_ARG(hist), FL_STR_ARG(type),
                    FL_STR_ARG(id));
        return;
    }
    if (!fl_str_eq_c(hist, "_history") || nseg > 4) {
        srv_outcome(r, 404, "no such endpoint under %.*s/%.*s", FL_STR_ARG(type), FL_STR_ARG(id));
        return;
    }
    if (!get) {
        bad_method(r, method, "history");
        return;
    }
    if (!check_id(r, type, id)) return;
    if (nseg == 3)
        srv_history(r, type, id);
    else
        do_read(r, type, id, vid);
}

/* ------------------------------------------------------------------ metadata */

void srv_capability(srv_req *r)
{
    static const char *const inter[] = {"read", "vread", "update", "delete", "history-instance",
                                        "history-type", "create", "search-type"};
    char date[40];
    size_t dn = fl_time_format_rfc3339(r->srv->start_us, date, sizeof date);
    fl_buf *b = &r->resp->body;
    fl_buf_clear(b);
    fl_jw w;
    fl_jw_init(&w, b);
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "resourceType");
    fl_jw_str_c(&w, "CapabilityStatement");
    fl_jw_key_c(&w, "status");
    fl_jw_str_c(&w, "active");
    fl_jw_key_c(&w, "date");
    fl_jw_str(&w, fl_str_make(date, dn));
    fl_jw_key_c(&w, "kind");
    fl_jw_str_c(&w, "instance");
    fl_jw_key_c(&w, "software");
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "name");
    fl_jw_str_c(&w, "fhirlake");
    fl_jw_key_c(&w, "version");
    fl_jw_str_c(&w, FL_VERSION_STRING);
    fl_jw_obj_end(&w);
    fl_jw_key_c(&w, "implementation");
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "description");
    fl_jw_str_c(&w, "fhirlake FHIR server");
    fl_jw_key_c(&w, "url");
    fl_jw_str(&w, r->base_url);
    fl_jw_obj_end(&w);
    fl_jw_key_c(&w, "fhirVersion");
    fl_jw_str_c(&w, "4.0.1");
    fl_jw_key_c(&w, "format");
    fl_jw_arr_begin(&w);
    fl_jw_str_c(&w, "json");
    fl_jw_str_c(&w, "application/fhir+json");
    fl_jw_arr_end(&w);
    fl_jw_key_c(&w, "rest");
    fl_jw_arr_begin(&w);
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "mode");
    fl_jw_str_c(&w, "server");
    fl_jw_key_c(&w, "resource");
    fl_jw_arr_begin(&w);
    for (size_t i = 0; i < srv_known_type_count(); i++) {
        fl_jw_obj_begin(&w);
        fl_jw_key_c(&w, "type");
        fl_jw_str_c(&w, srv_known_type_at(i));
        fl_jw_key_c(&w, "interaction");
        fl_jw_arr_begin(&w);
        for (size_t k = 0; k < sizeof inter / sizeof inter[0]; k++) {
            fl_jw_obj_begin(&w);
            fl_jw_key_c(&w, "code");
            fl_jw_str_c(&w, inter[k]);
            fl_jw_obj_end(&w);
        }
        fl_jw_arr_end(&w);
        fl_jw_key_c(&w, "versioning");
        fl_jw_str_c(&w, "versioned-update");
        fl_jw_key_c(&w, "readHistory");
        fl_jw_bool(&w, true);
        fl_jw_key_c(&w, "updateCreate");
        fl_jw_bool(&w, true);
        fl_jw_key_c(&w, "searchParam");
        fl_jw_arr_begin(&w);
        fl_jw_obj_begin(&w);
        fl_jw_key_c(&w, "name");
        fl_jw_str_c(&w, "_id");
        fl_jw_key_c(&w, "type");
        fl_jw_str_c(&w, "token");
        fl_jw_obj_end(&w);
        fl_jw_obj_begin(&w);
        fl_jw_key_c(&w, "name");
        fl_jw_str_c(&w, "_lastUpdated");
        fl_jw_key_c(&w, "type");
        fl_jw_str_c(&w, "date");
        fl_jw_obj_end(&w);
        fl_jw_arr_end(&w);
        fl_jw_obj_end(&w);
    }
    fl_jw_arr_end(&w);
    fl_jw_key_c(&w, "interaction");
    fl_jw_arr_begin(&w);
    const char *sys[] = {"transaction", "batch", "history-system"};
    for (size_t k = 0; k < 3; k++) {
        fl_jw_obj_begin(&w);
        fl_jw_key_c(&w, "code");
        fl_jw_str_c(&w, sys[k]);
        fl_jw_obj_end(&w);
    }
    fl_jw_arr_end(&w);
    fl_jw_obj_end(&w);
    fl_jw_arr_end(&w);
    fl_jw_obj_end(&w);
    r->resp->status = 200;
}
