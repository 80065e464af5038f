/* server_rest.c - FHIR REST interactions on one type or instance (module server):
 * routing below [type], create, read, vread, update (create-on-update), delete, and the
 * CapabilityStatement. Bodies are parsed here and checked against the URL (resourceType,
 * id); storage is fhirdb's job. History and search live in server_query.c. */
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
    return srv_check_special(r, type, res);
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

void srv_store_fail(srv_req *r, fl_rc rc, const fl_err *err, const char *what)
{
    int st = srv_status_for(rc, err);
    srv_outcome(r, st, "%s: %s", what, err->msg[0] ? err->msg : fl_rc_str(rc));
}

bool srv_get_conn(srv_req *r)
{
    fl_err err;
    fl_err_clear(&err);
    fl_rc rc = srv_conn(r, &err);
    if (rc) srv_store_fail(r, rc, &err, "database unavailable");
    return rc == FL_OK;
}

static void do_create(srv_req *r, fl_str type)
{
    if (srv_header(r->req, "If-None-Exist").len) {
        srv_outcome(r, 400, "conditional create (If-None-Exist) is not supported");
        return;
    }
    const fl_json_val *res = srv_parse_body(r, r->req->body, "create");
    if (!res) return;
    const char *msg = srv_check_resource(r, res, type, FL_STR_NULL, false);
    if (msg) {
        srv_outcome(r, r->check_status ? r->check_status : 400, "create %.*s: %s", FL_STR_ARG(type), msg);
        return;
    }
    if (!srv_get_conn(r)) return;
    fl_fhirdb_rec rec;
    fl_err err;
    fl_err_clear(&err);
    fl_fhirdb_wopts wo = {.correlation_id = r->correlation_id};
    fl_rc rc = fl_fhirdb_create(r->c, type, res, &wo, r->a, &rec, &err);
    if (rc) {
        srv_store_fail(r, rc, &err, "create failed");
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
    if (srv_immutable_type(type)) {
        srv_outcome(r, 405, "%.*s is immutable: delete it and create a new one", FL_STR_ARG(type));
        return;
    }
    if (!check_id(r, type, id)) return;
    fl_fhirdb_wopts wo = {.correlation_id = r->correlation_id};
    if (!if_match(r, &wo)) return;
    const fl_json_val *res = srv_parse_body(r, r->req->body, "update");
    if (!res) return;
    const char *msg = srv_check_resource(r, res, type, id, true);
    if (msg) {
        srv_outcome(r, r->check_status ? r->check_status : 400, "update %.*s/%.*s: %s", FL_STR_ARG(type),
                    FL_STR_ARG(id), msg);
        return;
    }
    if (!srv_get_conn(r)) return;
    fl_fhirdb_rec rec;
    fl_err err;
    fl_err_clear(&err);
    fl_rc rc = fl_fhirdb_update(r->c, type, id, res, &wo, r->a, &rec, &err);
    if (rc) {
        srv_store_fail(r, rc, &err, "update failed");
        return;
    }
    write_reply(r, rec.created ? 201 : 200, &rec);
}

static void do_delete(srv_req *r, fl_str type, fl_str id)
{
    if (!check_id(r, type, id)) return;
    fl_fhirdb_wopts wo = {.correlation_id = r->correlation_id};
    if (!if_match(r, &wo)) return;
    if (!srv_get_conn(r)) return;
    fl_fhirdb_rec rec;
    fl_err err;
    fl_err_clear(&err);
    fl_rc rc = fl_fhirdb_delete(r->c, type, id, &wo, r->a, &rec, &err);
    if (rc) {
        srv_store_fail(r, rc, &err, "delete failed");
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
        srv_store_fail(r, rc, err, "read failed");
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
    if (!srv_get_conn(r)) return;
    fl_fhirdb_rec rec;
    fl_err err;
    fl_err_clear(&err);
    fl_rc rc = vid.len ? fl_fhirdb_vread(r->c, type, id, v, r->a, &rec, &err)
                       : fl_fhirdb_read(r->c, type, id, r->a, &rec, &err);
    reply_read(r, rc, &err, &rec, type, id);
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
            srv_search(r, type);
        else if (fl_str_eq_c(method, "PUT") || fl_str_eq_c(method, "DELETE"))
            srv_outcome(r, r->nparams ? 400 : 405, "%s %.*s: conditional %s is not supported%s",
                        fl_str_eq_c(method, "PUT") ? "PUT" : "DELETE", FL_STR_ARG(type),
                        fl_str_eq_c(method, "PUT") ? "update" : "delete", r->nparams ? "" : " (give an id)");
        else
            bad_method(r, method, "a resource type (use POST to create, GET to search)");
        return;
    }
    if (fl_str_eq_c(type, "ViewDefinition") && fl_str_eq_c(id, "$viewdefinition-export")) {
        srv_vdexport(r, method, nseg, hist, vid); /* server_deliver.c */
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
        srv_search(r, type);
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
    if (nseg == 3 && fl_str_eq_c(type, "AidboxTopicDestination") && fl_str_eq_c(hist, "$status")) {
        if (!get) {
            bad_method(r, method, "$status");
            return;
        }
        if (check_id(r, type, id)) srv_dest_status(r, id);
        return;
    }
    if (nseg == 3 && fl_str_eq_c(type, "ViewDefinition") && fl_str_eq_c(hist, "$materialize")) {
        if (!fl_str_eq_c(method, "POST")) {
            bad_method(r, method, "$materialize");
            return;
        }
        if (check_id(r, type, id)) srv_materialize(r, id); /* server_deliver.c */
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
    fl_jw w;
    srv_json_resource(r, &w, "CapabilityStatement");
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
