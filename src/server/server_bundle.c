/* server_bundle.c - transaction and batch Bundles (POST [base]) (module server).
 * transaction: every entry is validated first, POST entries get their ids up front, every
 * `reference` equal to an entry's urn:uuid/urn:oid fullUrl is rewritten to "Type/id", and
 * the entries run in one database transaction in FHIR order (DELETE, POST, PUT, GET); the
 * first failure rolls everything back and the reply is that entry's OperationOutcome.
 * batch: entries run independently, in order, each with its own status in the reply.
 * Limits: FL_SERVER_MAX_BUNDLE_ENTRIES entries; JSON depth is capped by the body parser. */
#include "server/server_int.h"

#include <stdio.h>

typedef enum { M_GET = 1, M_POST, M_PUT, M_DELETE } bmethod;

typedef struct bentry {
    const fl_json_val *res;
    bmethod method;
    fl_str url, full_url;
    fl_str type, id, vid;
    int64_t if_match;
    fl_str new_id; /* POST in a transaction: assigned before running */
    /* result */
    int status;
    fl_fhirdb_rec rec;
    bool has_rec;
    const char *msg; /* error text (arena) */
} bentry;

static const char *method_name(bmethod m)
{
    return m == M_GET ? "GET" : m == M_POST ? "POST" : m == M_PUT ? "PUT" : "DELETE";
}

/* Parse and check one entry; returns an error message (arena) or NULL. */
static const char *prepare_entry(srv_req *r, const fl_json_val *e, bentry *be)
{
    if (!fl_json_is_obj(e)) return "entry is not an object";
    const fl_json_val *req = fl_json_get_c(e, "request");
    if (!fl_json_is_obj(req)) return "entry has no request";
    fl_str m = fl_json_str(fl_json_get_c(req, "method"));
    be->url = fl_json_str(fl_json_get_c(req, "url"));
    be->full_url = fl_json_str(fl_json_get_c(e, "fullUrl"));
    be->res = fl_json_get_c(e, "resource");
    if (fl_str_eq_c(m, "GET"))
        be->method = M_GET;
    else if (fl_str_eq_c(m, "POST"))
        be->method = M_POST;
    else if (fl_str_eq_c(m, "PUT"))
        be->method = M_PUT;
    else if (fl_str_eq_c(m, "DELETE"))
        be->method = M_DELETE;
    else
        return fl_arena_printf(r->a, "unsupported request.method '%.*s' (GET, POST, PUT, DELETE)", FL_STR_ARG(m));
    if (!be->url.len) return "entry has no request.url";
    if (fl_json_get_c(req, "ifNoneExist") || fl_json_get_c(req, "ifNoneMatch") ||
        fl_json_get_c(req, "ifModifiedSince"))
        return "conditional requests (ifNoneExist/ifNoneMatch/ifModifiedSince) are not supported";
    fl_str ifm = fl_json_str(fl_json_get_c(req, "ifMatch"));
    be->if_match = srv_if_match(ifm);
    if (be->if_match < 0) return fl_arena_printf(r->a, "malformed request.ifMatch '%.*s'", FL_STR_ARG(ifm));

    fl_str u = be->url;
    if (fl_str_starts_with(u, r->base_url)) u = fl_str_make(u.ptr + r->base_url.len, u.len - r->base_url.len);
    while (u.len && u.ptr[0] == '/') u = fl_str_make(u.ptr + 1, u.len - 1);
    if (memchr(u.ptr, '?', u.len))
        return "request.url with parameters (search or conditional operations) is not supported in Bundles";
    fl_str seg[4];
    int nseg = 0;
    size_t i = 0;
    while (i < u.len) {
        size_t j = i;
        while (j < u.len && u.ptr[j] != '/') j++;
        if (nseg == 4) return fl_arena_printf(r->a, "request.url '%.*s' has too many segments", FL_STR_ARG(be->url));
        seg[nseg++] = fl_str_make(u.ptr + i, j - i);
        i = j + 1;
    }
    if (nseg == 0) return "request.url is empty";
    be->type = seg[0];
    if (!srv_known_type(be->type)) return fl_arena_printf(r->a, "unknown resource type '%.*s'", FL_STR_ARG(be->type));
    if (nseg >= 2) {
        be->id = seg[1];
        if (!fl_fhirdb_valid_id(be->id)) return fl_arena_printf(r->a, "invalid id '%.*s'", FL_STR_ARG(be->id));
    }
    switch (be->method) {
    case M_POST:
        if (nseg != 1) return "POST request.url must be a resource type";
        break;
    case M_PUT:
    case M_DELETE:
        if (nseg != 2) return fl_arena_printf(r->a, "%s request.url must be Type/id", method_name(be->method));
        break;
    case M_GET:
        if (nseg == 4 && fl_str_eq_c(seg[2], "_history")) {
            be->vid = seg[3];
            int64_t v;
            if (!fl_parse_i64(be->vid, &v) || v <= 0) return "invalid version in request.url";
        } else if (nseg != 2) {
            return "GET in a Bundle supports read (Type/id) and vread (Type/id/_history/vid) only";
        }
        break;
    }
    if (be->method == M_PUT && srv_immutable_type(be->type)) {
        be->status = 405;
        return fl_arena_printf(r->a, "%.*s is immutable: delete it and create a new one", FL_STR_ARG(be->type));
    }
    if (be->method == M_POST || be->method == M_PUT) {
        if (!fl_json_is_obj(be->res)) return "entry has no resource";
        const char *msg = srv_check_resource(r, be->res, be->type, be->id, be->method == M_PUT);
        if (msg) return msg;
    }
    return NULL;
}

/* Copy v into the arena, rewriting `reference` strings found in map. */
static fl_rc subst(fl_arena *a, const fl_json_val *in, fl_json_val *out, const fl_map *map, bool is_ref)
{
    *out = *in;
    if (in->type == FL_JSON_STRING && is_ref) {
        fl_str *to = fl_map_get(map, fl_json_str(in), NULL);
        if (to) {
            out->u.str = to->ptr;
            out->len = (uint32_t)to->len;
        }
        return FL_OK;
    }
    if (in->type == FL_JSON_ARRAY && in->len) {
        fl_json_val *items = fl_arena_alloc(a, (size_t)in->len * sizeof *items);
        if (!items) return FL_E_NOMEM;
        for (uint32_t i = 0; i < in->len; i++) {
            fl_rc rc = subst(a, &in->u.items[i], &items[i], map, false);
            if (rc) return rc;
        }
        out->u.items = items;
    } else if (in->type == FL_JSON_OBJECT && in->len) {
        fl_json_member *ms = fl_arena_alloc(a, (size_t)in->len * sizeof *ms);
        if (!ms) return FL_E_NOMEM;
        for (uint32_t i = 0; i < in->len; i++) {
            ms[i].key = in->u.members[i].key;
            fl_rc rc = subst(a, &in->u.members[i].val, &ms[i].val, map, fl_str_eq_c(ms[i].key, "reference"));
            if (rc) return rc;
        }
        out->u.members = ms;
    }
    return FL_OK;
}

/* Run one prepared entry on r->c. Fills be->status/rec; returns the store's code. */
static fl_rc exec_entry(srv_req *r, bentry *be, fl_err *err)
{
    fl_fhirdb_wopts wo = {.if_match = be->if_match, .id = be->new_id, .correlation_id = r->correlation_id};
    fl_rc rc = FL_OK;
    switch (be->method) {
    case M_POST:
        rc = fl_fhirdb_create(r->c, be->type, be->res, &wo, r->a, &be->rec, err);
        be->status = 201;
        break;
    case M_PUT:
        rc = fl_fhirdb_update(r->c, be->type, be->id, be->res, &wo, r->a, &be->rec, err);
        be->status = be->rec.created ? 201 : 200;
        break;
    case M_DELETE:
        rc = fl_fhirdb_delete(r->c, be->type, be->id, &wo, r->a, &be->rec, err);
        be->status = 204;
        break;
    case M_GET: {
        int64_t v = 0;
        if (be->vid.len) {
            fl_parse_i64(be->vid, &v);
            rc = fl_fhirdb_vread(r->c, be->type, be->id, v, r->a, &be->rec, err);
        } else {
            rc = fl_fhirdb_read(r->c, be->type, be->id, r->a, &be->rec, err);
        }
        be->status = 200;
        if (rc == FL_OK && be->rec.deleted) {
            be->status = 410;
            be->msg = fl_arena_printf(r->a, "%.*s/%.*s was deleted", FL_STR_ARG(be->type), FL_STR_ARG(be->id));
            return FL_OK;
        }
        break;
    }
    }
    if (rc) {
        be->status = srv_status_for(rc, err);
        be->msg = fl_arena_strndup(r->a, err->msg, strlen(err->msg));
        return rc;
    }
    be->has_rec = true;
    return FL_OK;
}

static void write_response_entry(srv_req *r, fl_jw *w, const bentry *be)
{
    char buf[512];
    fl_jw_obj_begin(w);
    bool with_res = be->has_rec && !be->rec.deleted && be->status < 300 &&
                    (be->method == M_GET || r->prefer == SRV_PREFER_REPRESENTATION);
    if (be->has_rec && be->rec.version > 0 && be->method != M_DELETE) {
        int n = snprintf(buf, sizeof buf, FL_STR_FMT "/" FL_STR_FMT "/" FL_STR_FMT, FL_STR_ARG(r->base_url),
                         FL_STR_ARG(be->rec.type), FL_STR_ARG(be->rec.id));
        if (n > 0 && (size_t)n < sizeof buf) {
            fl_jw_key_c(w, "fullUrl");
            fl_jw_str(w, fl_str_make(buf, (size_t)n));
        }
    }
    if (with_res) {
        fl_jw_key_c(w, "resource");
        fl_jw_raw(w, be->rec.body);
    }
    fl_jw_key_c(w, "response");
    fl_jw_obj_begin(w);
    int n = snprintf(buf, sizeof buf, "%d %s", be->status, srv_reason(be->status));
    fl_jw_key_c(w, "status");
    fl_jw_str(w, fl_str_make(buf, (size_t)n));
    if (be->has_rec && be->rec.version > 0) {
        if (be->method == M_POST || be->method == M_PUT) {
            n = snprintf(buf, sizeof buf, FL_STR_FMT "/" FL_STR_FMT "/_history/%lld", FL_STR_ARG(be->rec.type),
                         FL_STR_ARG(be->rec.id), (long long)be->rec.version);
            fl_jw_key_c(w, "location");
            fl_jw_str(w, fl_str_make(buf, n > 0 && (size_t)n < sizeof buf ? (size_t)n : 0));
        }
        n = snprintf(buf, sizeof buf, "W/\"%lld\"", (long long)be->rec.version);
        fl_jw_key_c(w, "etag");
        fl_jw_str(w, fl_str_make(buf, (size_t)n));
        size_t tn = fl_time_format_rfc3339(be->rec.last_updated_us, buf, sizeof buf);
        fl_jw_key_c(w, "lastModified");
        fl_jw_str(w, fl_str_make(buf, tn));
    }
    if (be->msg) {
        fl_jw_key_c(w, "outcome");
        srv_outcome_json(w, be->status, be->status >= 400 ? "error" : "information", be->msg);
    }
    fl_jw_obj_end(w);
    fl_jw_obj_end(w);
}

static void write_reply(srv_req *r, const char *type, bentry *be, size_t n)
{
    fl_jw w;
    srv_json_resource(r, &w, "Bundle");
    fl_jw_key_c(&w, "type");
    fl_jw_str_c(&w, type);
    fl_jw_key_c(&w, "entry");
    fl_jw_arr_begin(&w);
    for (size_t i = 0; i < n; i++) write_response_entry(r, &w, &be[i]);
    fl_jw_arr_end(&w);
    fl_jw_obj_end(&w);
    r->resp->status = 200;
}

static void run_batch(srv_req *r, const fl_json_val *entries, bentry *be, size_t n)
{
    fl_err err;
    for (size_t i = 0; i < n; i++) {
        const char *msg = prepare_entry(r, &entries->u.items[i], &be[i]);
        if (msg) {
            if (!be[i].status) be[i].status = 400;
            be[i].msg = msg;
            continue;
        }
        fl_err_clear(&err);
        fl_rc rc = srv_conn(r, &err);
        if (rc) {
            be[i].status = srv_status_for(rc, &err);
            be[i].msg = fl_arena_strndup(r->a, err.msg, strlen(err.msg));
            continue;
        }
        exec_entry(r, &be[i], &err);
    }
    write_reply(r, "batch-response", be, n);
}

static void run_transaction(srv_req *r, const fl_json_val *entries, bentry *be, size_t n)
{
    fl_err err;
    fl_err_clear(&err);
    fl_map refs;
    fl_map_init(&refs);
    for (size_t i = 0; i < n; i++) {
        const char *msg = prepare_entry(r, &entries->u.items[i], &be[i]);
        if (msg) {
            srv_outcome(r, be[i].status ? be[i].status : 400, "transaction entry[%zu]: %s; nothing was written", i,
                        msg);
            goto done;
        }
    }
    /* assign ids and collect urn: fullUrls */
    for (size_t i = 0; i < n; i++) {
        bentry *e = &be[i];
        if (e->method == M_POST) {
            char uuid[37];
            fl_uuid4(uuid);
            e->new_id = fl_arena_str_dup(r->a, fl_str_make(uuid, 36));
            if (!e->new_id.ptr) goto oom;
        }
        bool urn = fl_str_starts_with(e->full_url, FL_STR("urn:uuid:")) ||
                   fl_str_starts_with(e->full_url, FL_STR("urn:oid:"));
        if (urn && (e->method == M_POST || e->method == M_PUT)) {
            if (fl_map_get(&refs, e->full_url, NULL)) {
                srv_outcome(r, 400, "transaction entry[%zu]: duplicate fullUrl '%.*s'; nothing was written", i,
                            FL_STR_ARG(e->full_url));
                goto done;
            }
            fl_str *to = fl_arena_alloc(r->a, sizeof *to);
            if (!to) goto oom;
            char *s = fl_arena_printf(r->a, "%.*s/%.*s", FL_STR_ARG(e->type),
                                      FL_STR_ARG(e->method == M_POST ? e->new_id : e->id));
            if (!s) goto oom;
            *to = fl_str_c(s);
            if (fl_map_put(&refs, e->full_url, to, NULL)) goto oom;
        }
    }
    if (refs.len) {
        for (size_t i = 0; i < n; i++) {
            if (!be[i].res) continue;
            fl_json_val *copy = fl_arena_alloc(r->a, sizeof *copy);
            if (!copy || subst(r->a, be[i].res, copy, &refs, false)) goto oom;
            be[i].res = copy;
        }
    }
    fl_rc rc = srv_conn(r, &err);
    if (!rc) rc = fl_fhirdb_begin(r->c, &err);
    if (rc) {
        srv_outcome(r, srv_status_for(rc, &err), "transaction: %s", err.msg);
        goto done;
    }
    static const bmethod order[] = {M_DELETE, M_POST, M_PUT, M_GET};
    for (size_t k = 0; k < 4; k++) {
        for (size_t i = 0; i < n; i++) {
            if (be[i].method != order[k]) continue;
            fl_err_clear(&err);
            rc = exec_entry(r, &be[i], &err);
            if (rc == FL_OK && be[i].status >= 400) rc = FL_E_NOT_FOUND; /* GET of a deleted resource */
            if (rc) {
                fl_fhirdb_rollback(r->c);
                srv_outcome(r, be[i].status, "transaction failed at entry[%zu] (%s %.*s): %s; nothing was written",
                            i, method_name(be[i].method), FL_STR_ARG(be[i].url), be[i].msg ? be[i].msg : "");
                goto done;
            }
        }
    }
    fl_err_clear(&err);
    rc = fl_fhirdb_commit(r->c, &err);
    if (rc) {
        srv_outcome(r, srv_status_for(rc, &err), "transaction commit failed: %s", err.msg);
        goto done;
    }
    write_reply(r, "transaction-response", be, n);
    goto done;
oom:
    srv_outcome(r, 500, "out of memory");
done:
    if (r->c && fl_fhirdb_in_tx(r->c)) fl_fhirdb_rollback(r->c);
    fl_map_reset(&refs);
}

void srv_bundle(srv_req *r)
{
    const fl_json_val *b = srv_parse_body(r, r->req->body, "Bundle");
    if (!b) return;
    fl_str rt = fl_json_str(fl_json_get_c(b, "resourceType"));
    if (!fl_str_eq_c(rt, "Bundle")) {
        srv_outcome(r, 400, "POST to the base URL needs a Bundle, got resourceType '%.*s'", FL_STR_ARG(rt));
        return;
    }
    fl_str type = fl_json_str(fl_json_get_c(b, "type"));
    bool tx = fl_str_eq_c(type, "transaction");
    if (!tx && !fl_str_eq_c(type, "batch")) {
        srv_outcome(r, 400, "Bundle.type must be 'transaction' or 'batch', got '%.*s'", FL_STR_ARG(type));
        return;
    }
    const fl_json_val *entries = fl_json_get_c(b, "entry");
    static const fl_json_val empty = {.type = FL_JSON_ARRAY};
    if (!entries) entries = &empty;
    if (!fl_json_is_arr(entries)) {
        srv_outcome(r, 400, "Bundle.entry must be an array");
        return;
    }
    if (entries->len > FL_SERVER_MAX_BUNDLE_ENTRIES) {
        srv_outcome(r, 413, "Bundle has %u entries; the limit is %d", entries->len, FL_SERVER_MAX_BUNDLE_ENTRIES);
        return;
    }
    size_t n = entries->len;
    bentry *be = fl_arena_calloc(r->a, n ? n : 1, sizeof *be);
    if (!be) {
        srv_outcome(r, 500, "out of memory");
        return;
    }
    if (tx)
        run_transaction(r, entries, be, n);
    else
        run_batch(r, entries, be, n);
}
