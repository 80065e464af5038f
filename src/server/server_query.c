/* server_query.c - history (instance/type/system) and search for the REST server
 * (module server): parameter parsing (_since, _count, _cursor, _id, _lastUpdated with
 * eq/gt/ge/lt/le at any precision, _sort), and the history/searchset Bundles with
 * self/next links. Paging uses fhirdb's keyset cursors, carried as `_cursor`. Unknown
 * parameters are ignored (lenient, as FHIR allows) unless `Prefer: handling=strict`. */
#include "server/server_int.h"

#include <stdio.h>

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

/* Start a history/searchset Bundle in the response body, up to the open entry array. */
static void bundle_head(srv_req *r, fl_jw *w, const char *type, fl_str path, const link_q *lq, fl_str cursor,
                        const fl_fhirdb_page *pg)
{
    srv_json_resource(r, w, "Bundle");
    fl_jw_key_c(w, "type");
    fl_jw_str_c(w, type);
    if (pg->total >= 0) {
        fl_jw_key_c(w, "total");
        fl_jw_i64(w, pg->total);
    }
    fl_jw_key_c(w, "link");
    fl_jw_arr_begin(w);
    write_link(r, w, "self", path, lq, cursor.len ? fl_arena_strndup(r->a, cursor.ptr, cursor.len) : NULL);
    if (pg->has_next) write_link(r, w, "next", path, lq, pg->next_cursor);
    fl_jw_arr_end(w);
    fl_jw_key_c(w, "entry");
    fl_jw_arr_begin(w);
}

static void bundle_tail(srv_req *r, fl_jw *w)
{
    fl_jw_arr_end(w);
    fl_jw_obj_end(w);
    r->resp->status = 200;
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
    if (!srv_get_conn(r)) return;
    fl_fhirdb_page pg;
    fl_err err;
    fl_err_clear(&err);
    fl_rc rc = fl_fhirdb_history(r->c, &q, r->a, &pg, &err);
    if (rc) {
        srv_store_fail(r, rc, &err, "history failed");
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
            srv_store_fail(r, rc, &err, "history failed");
            return;
        }
    }
    char path[256];
    int pn = id.len ? snprintf(path, sizeof path, "/" FL_STR_FMT "/" FL_STR_FMT "/_history", FL_STR_ARG(type),
                               FL_STR_ARG(id))
             : type.len ? snprintf(path, sizeof path, "/" FL_STR_FMT "/_history", FL_STR_ARG(type))
                        : snprintf(path, sizeof path, "/_history");
    fl_jw w;
    bundle_head(r, &w, "history", fl_str_make(path, pn > 0 && (size_t)pn < sizeof path ? (size_t)pn : 0), &lq,
                q.cursor, &pg);
    for (size_t i = 0; i < pg.n; i++) write_history_entry(r, &w, &pg.recs[i]);
    bundle_tail(r, &w);
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

/* _id=a,b,c -> q->ids (arena). false after replying with an error. */
static bool parse_ids(srv_req *r, fl_str v, fl_fhirdb_query *q)
{
    if (q->ids) {
        srv_outcome(r, 400, "repeated _id parameters are not supported (use _id=a,b)");
        return false;
    }
    fl_str *ids = fl_arena_calloc(r->a, FL_FHIRDB_MAX_IDS, sizeof *ids);
    if (!ids) {
        srv_outcome(r, 500, "out of memory");
        return false;
    }
    for (size_t s = 0; s <= v.len;) {
        size_t e = s;
        while (e < v.len && v.ptr[e] != ',') e++;
        if (q->nids >= FL_FHIRDB_MAX_IDS) {
            srv_outcome(r, 400, "more than %d _id values", FL_FHIRDB_MAX_IDS);
            return false;
        }
        if (e > s) ids[q->nids++] = fl_str_make(v.ptr + s, e - s);
        s = e + 1;
    }
    if (q->nids == 0) {
        srv_outcome(r, 400, "empty _id parameter");
        return false;
    }
    q->ids = ids;
    return true;
}

/* Search parameters -> query (+ the parameters echoed in links). false after replying. */
static bool parse_search(srv_req *r, fl_fhirdb_query *q, link_q *lq, bool *count_only)
{
    for (size_t i = 0; i < r->nparams; i++) {
        const srv_param *p = &r->params[i];
        if (fl_str_eq_c(p->name, "_id")) {
            if (!parse_ids(r, p->value, q)) return false;
            link_add(lq, "_id", p->value);
        } else if (fl_str_eq_c(p->name, "_lastUpdated")) {
            if (!apply_last_updated(r, q, p->value)) return false;
            link_add(lq, "_lastUpdated", p->value);
        } else if (fl_str_eq_c(p->name, "_count")) {
            if (!parse_count(r, p->value, &q->count, count_only)) return false;
            link_add(lq, "_count", p->value);
        } else if (fl_str_eq_c(p->name, "_sort")) {
            if (fl_str_eq_c(p->value, "_lastUpdated")) {
                q->sort = FL_FHIRDB_SORT_LU_ASC;
            } else if (fl_str_eq_c(p->value, "-_lastUpdated")) {
                q->sort = FL_FHIRDB_SORT_LU_DESC;
            } else {
                srv_outcome(r, 400, "unsupported _sort '%.*s' (use _lastUpdated or -_lastUpdated)",
                            FL_STR_ARG(p->value));
                return false;
            }
            link_add(lq, "_sort", p->value);
        } else if (fl_str_eq_c(p->name, "_cursor")) {
            q->cursor = p->value;
        } else if (fl_str_eq_c(p->name, "_summary") && fl_str_eq_c(p->value, "count")) {
            *count_only = true;
            link_add(lq, "_summary", p->value);
        } else if (fl_str_eq_c(p->name, "_format") || fl_str_eq_c(p->name, "_pretty") ||
                   fl_str_eq_c(p->name, "_total")) {
            continue;
        } else if (!unknown_param(r, p->name, "search")) {
            return false;
        }
    }
    return true;
}

void srv_search(srv_req *r, fl_str type)
{
    fl_fhirdb_query q = {.type = type, .want_total = true};
    link_q lq = {.n = 0};
    bool count_only = false;
    if (!parse_search(r, &q, &lq, &count_only)) return;
    if (count_only) q.count = 1;
    if (!srv_get_conn(r)) return;
    fl_fhirdb_page pg;
    fl_err err;
    fl_err_clear(&err);
    fl_rc rc = fl_fhirdb_search(r->c, &q, r->a, &pg, &err);
    if (rc) {
        srv_store_fail(r, rc, &err, "search failed");
        return;
    }
    if (count_only) {
        pg.n = 0;
        pg.has_next = false;
    }
    char path[96];
    int pn = snprintf(path, sizeof path, "/" FL_STR_FMT, FL_STR_ARG(type));
    fl_jw w;
    bundle_head(r, &w, "searchset", fl_str_make(path, pn > 0 && (size_t)pn < sizeof path ? (size_t)pn : 0), &lq,
                q.cursor, &pg);
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
    bundle_tail(r, &w);
}
