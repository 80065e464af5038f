/* server_topic.c - write-time validation of AidboxSubscriptionTopic and
 * AidboxTopicDestination (module server; first step of issue #8 part 2).
 * Topic: url, status, trigger[] with a known `resource`, `supportedInteraction` from
 * create|update|delete and an optional `fhirPathCriteria` that must compile with the
 * variables %current and %previous. Destination: status active, topic url, a known kind,
 * content full-resource|id-only|empty, parameter[] entries with a name; destinations are
 * immutable (PUT -> 405: delete and re-create), as in Aidbox. The topic must exist and a
 * lakehouse destination's parameters must be valid (server_lake.c; 422 otherwise). */
#include "fhirlake/fhirpath.h"
#include "server/server_int.h"

static const char *const dest_kinds[] = {
    "data-lakehouse-at-least-once", "kafka-at-least-once", "kafka-best-effort",
};

bool srv_immutable_type(fl_str type) { return fl_str_eq_c(type, "AidboxTopicDestination"); }

static bool str_in(fl_str s, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fl_str_eq_c(s, set[i])) return true;
    return false;
}

static const char *check_trigger(srv_req *r, const fl_json_val *t, size_t i)
{
    if (!fl_json_is_obj(t)) return fl_arena_printf(r->a, "trigger[%zu] must be an object", i);
    const fl_json_val *res = fl_json_get_c(t, "resource");
    if (!fl_json_is_str(res)) return fl_arena_printf(r->a, "trigger[%zu].resource is required", i);
    if (!srv_known_type(fl_json_str(res)))
        return fl_arena_printf(r->a, "trigger[%zu].resource: unknown resource type '%.*s'", i,
                               FL_STR_ARG(fl_json_str(res)));
    const fl_json_val *si = fl_json_get_c(t, "supportedInteraction");
    static const char *const inter[] = {"create", "update", "delete"};
    if (si) {
        /* the Aidbox examples use an array; a single code is accepted too */
        size_t n = fl_json_is_arr(si) ? si->len : 1;
        for (size_t k = 0; k < n; k++) {
            const fl_json_val *v = fl_json_is_arr(si) ? &si->u.items[k] : si;
            if (!fl_json_is_str(v) || !str_in(fl_json_str(v), inter, 3))
                return fl_arena_printf(r->a, "trigger[%zu].supportedInteraction must be create, update or delete", i);
        }
    }
    const fl_json_val *crit = fl_json_get_c(t, "fhirPathCriteria");
    if (crit) {
        if (!fl_json_is_str(crit)) return fl_arena_printf(r->a, "trigger[%zu].fhirPathCriteria must be a string", i);
        static const char *const vars[] = {"current", "previous"};
        fl_fp_opts o;
        fl_fp_opts_default(&o);
        o.vars = vars;
        o.nvars = 2;
        o.root_type = NULL;
        fl_fp_prog *p = NULL;
        fl_err err;
        fl_err_clear(&err);
        fl_str e = fl_json_str(crit);
        fl_rc rc = fl_fp_compile(e.ptr, e.len, &o, &p, &err);
        fl_fp_prog_free(p);
        if (rc) return fl_arena_printf(r->a, "trigger[%zu].fhirPathCriteria does not compile: %s", i, err.msg);
    }
    return NULL;
}

static const char *check_topic(srv_req *r, const fl_json_val *res)
{
    if (!fl_json_is_str(fl_json_get_c(res, "url"))) return "AidboxSubscriptionTopic.url is required";
    static const char *const st[] = {"draft", "active", "retired", "unknown"};
    const fl_json_val *status = fl_json_get_c(res, "status");
    if (!fl_json_is_str(status) || !str_in(fl_json_str(status), st, 4))
        return "AidboxSubscriptionTopic.status must be draft, active, retired or unknown";
    const fl_json_val *tr = fl_json_get_c(res, "trigger");
    if (!fl_json_is_arr(tr) || tr->len == 0) return "AidboxSubscriptionTopic.trigger must be a non-empty array";
    for (size_t i = 0; i < tr->len; i++) {
        const char *msg = check_trigger(r, &tr->u.items[i], i);
        if (msg) return msg;
    }
    return NULL;
}

static const char *check_destination(srv_req *r, const fl_json_val *res)
{
    const fl_json_val *status = fl_json_get_c(res, "status");
    if (!fl_json_is_str(status) || !fl_str_eq_c(fl_json_str(status), "active"))
        return "AidboxTopicDestination.status must be 'active'";
    if (!fl_json_is_str(fl_json_get_c(res, "topic")))
        return "AidboxTopicDestination.topic (the AidboxSubscriptionTopic url) is required";
    const fl_json_val *kind = fl_json_get_c(res, "kind");
    if (!fl_json_is_str(kind)) return "AidboxTopicDestination.kind is required";
    if (!str_in(fl_json_str(kind), dest_kinds, sizeof dest_kinds / sizeof dest_kinds[0]))
        return fl_arena_printf(r->a,
                               "AidboxTopicDestination.kind '%.*s' is not supported (data-lakehouse-at-least-once, "
                               "kafka-at-least-once, kafka-best-effort)",
                               FL_STR_ARG(fl_json_str(kind)));
    const fl_json_val *content = fl_json_get_c(res, "content");
    static const char *const ct[] = {"full-resource", "id-only", "empty"};
    if (content && (!fl_json_is_str(content) || !str_in(fl_json_str(content), ct, 3)))
        return "AidboxTopicDestination.content must be full-resource, id-only or empty";
    const fl_json_val *par = fl_json_get_c(res, "parameter");
    bool lakehouse = fl_str_eq_c(fl_json_str(kind), "data-lakehouse-at-least-once");
    if (par) {
        if (!fl_json_is_arr(par)) return "AidboxTopicDestination.parameter must be an array";
        for (size_t i = 0; i < par->len; i++) {
            const fl_json_val *p = &par->u.items[i];
            if (!fl_json_is_obj(p) || !fl_json_is_str(fl_json_get_c(p, "name")))
                return fl_arena_printf(r->a, "AidboxTopicDestination.parameter[%zu].name is required", i);
        }
    }
    if (lakehouse) {
        srv_lake_cfg cfg;
        const char *msg = srv_lake_parse(r->a, res, &cfg);
        if (msg) {
            r->check_status = 422;
            return msg;
        }
    }
    return srv_lake_check_refs(r, res, lakehouse);
}

const char *srv_check_special(srv_req *r, fl_str type, const fl_json_val *res)
{
    if (fl_str_eq_c(type, "AidboxSubscriptionTopic")) return check_topic(r, res);
    if (fl_str_eq_c(type, "AidboxTopicDestination")) return check_destination(r, res);
    return NULL;
}
