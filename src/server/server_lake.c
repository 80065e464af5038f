/* server_lake.c - parameters of data-lakehouse-at-least-once destinations (module server).
 * writeMode external-direct (Parquet + Delta commits straight to the table: local path,
 * file:// or s3://) is the only mode; Aidbox's managed-zerobus/managed-sql are refused as
 * not supported yet. Unknown, duplicated or missing parameters are refused at create time
 * (422 naming them), as are a topic url without an AidboxSubscriptionTopic and a
 * viewDefinition name without a stored ViewDefinition. The same parser gives the delivery
 * worker its configuration (server_deliver.c). */
#include "server/server_int.h"

#include <stdio.h>

static const char *const known[] = {
    "writeMode",         "viewDefinition", "batchSize",        "sendIntervalMs",   "tablePath", "awsRegion",
    "awsAccessKeyId",    "awsSecretAccessKey", "s3Endpoint",   "skipInitialExport", "targetFileSizeMb",
    "schemaEvolution",
};
#define NKNOWN (sizeof known / sizeof known[0])

/* The value[x] of a parameter entry (first member whose name starts with "value"). */
static const fl_json_val *param_value(const fl_json_val *p)
{
    for (uint32_t i = 0; i < p->len; i++)
        if (p->u.members[i].key.len > 5 && !memcmp(p->u.members[i].key.ptr, "value", 5)) return &p->u.members[i].val;
    return NULL;
}

static bool get_uint(const fl_json_val *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (fl_json_is_str(v)) return fl_parse_i64(fl_json_str(v), out) && *out >= lo && *out <= hi;
    int64_t x = 0;
    if (!v || v->type != FL_JSON_NUMBER || !fl_parse_i64(fl_json_str(v), &x)) return false;
    *out = x;
    return x >= lo && x <= hi;
}

static bool get_str(const fl_json_val *v, char *out, size_t cap)
{
    if (!fl_json_is_str(v)) return false;
    fl_str s = fl_json_str(v);
    if (!s.len || s.len >= cap || memchr(s.ptr, 0, s.len)) return false;
    memcpy(out, s.ptr, s.len);
    out[s.len] = 0;
    return true;
}

const char *srv_lake_parse(fl_arena *a, const fl_json_val *res, srv_lake_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->batch_size = 1000;
    cfg->send_interval_ms = 5000;
    const fl_json_val *par = fl_json_get_c(res, "parameter");
    fl_buf unknown, dup;
    fl_buf_init(&unknown, 4096);
    fl_buf_init(&dup, 4096);
    bool seen[NKNOWN] = {false};
    const char *msg = NULL;
    for (uint32_t i = 0; par && fl_json_is_arr(par) && i < par->len; i++) {
        const fl_json_val *p = &par->u.items[i];
        fl_str name = fl_json_str(fl_json_get_c(p, "name"));
        size_t k = 0;
        while (k < NKNOWN && !fl_str_eq_c(name, known[k])) k++;
        if (k == NKNOWN) {
            fl_buf_printf(&unknown, "%s%.*s", unknown.len ? ", " : "", FL_STR_ARG(name));
            continue;
        }
        if (seen[k]) fl_buf_printf(&dup, "%s%s", dup.len ? ", " : "", known[k]);
        seen[k] = true;
        const fl_json_val *v = param_value(p);
        int64_t n = 0;
        bool ok = true;
        switch (k) {
        case 0: {
            char mode[64] = "";
            ok = get_str(v, mode, sizeof mode);
            if (ok && strcmp(mode, "external-direct") != 0) {
                if (!strcmp(mode, "managed-zerobus") || !strcmp(mode, "managed-sql"))
                    msg = fl_arena_printf(a, "parameter writeMode '%s' is not supported yet (only external-direct)", mode);
                else
                    msg = fl_arena_printf(a, "parameter writeMode '%s' is unknown (external-direct; managed-zerobus and "
                                             "managed-sql are not supported yet)", mode);
                goto done;
            }
            break;
        }
        case 1: ok = get_str(v, cfg->view, sizeof cfg->view); break;
        case 2: ok = get_uint(v, 1, FL_FHIRDB_MAX_COUNT * 10, &n); cfg->batch_size = (uint32_t)n; break;
        case 3: ok = get_uint(v, 10, 3600000, &n); cfg->send_interval_ms = (uint32_t)n; break;
        case 4: ok = get_str(v, cfg->table, sizeof cfg->table); break;
        case 5: ok = get_str(v, cfg->region, sizeof cfg->region); break;
        case 6: ok = get_str(v, cfg->akid, sizeof cfg->akid); break;
        case 7: ok = get_str(v, cfg->secret, sizeof cfg->secret); break;
        case 8: ok = get_str(v, cfg->endpoint, sizeof cfg->endpoint); break;
        case 9:
            if (v && (v->type == FL_JSON_TRUE || v->type == FL_JSON_FALSE)) cfg->skip_initial = v->type == FL_JSON_TRUE;
            else if (fl_json_is_str(v) && (fl_str_eq_c(fl_json_str(v), "true") || fl_str_eq_c(fl_json_str(v), "false")))
                cfg->skip_initial = fl_str_eq_c(fl_json_str(v), "true");
            else ok = false;
            break;
        case 10: ok = get_uint(v, 1, 4096, &n); cfg->target_file_size = (uint64_t)n << 20; break;
        case 11: {
            char se[32] = "";
            ok = get_str(v, se, sizeof se) && (!strcmp(se, "none") || !strcmp(se, "add-columns"));
            cfg->add_columns = ok && !strcmp(se, "add-columns");
            break;
        }
        default: break;
        }
        if (!ok) {
            static const char *const want[] = {
                "a string: external-direct", "a string (the ViewDefinition name)", "an integer 1-10000",
                "an integer 10-3600000 (milliseconds)", "a string (path, file:// or s3:// URL)", "a string",
                "a string", "a string", "a string (http://host:port)", "a boolean", "an integer 1-4096",
                "none or add-columns"};
            msg = fl_arena_printf(a, "parameter %s must be %s", known[k], want[k]);
            goto done;
        }
    }
    if (unknown.len) {
        msg = fl_arena_printf(a, "unknown parameters for data-lakehouse-at-least-once: %.*s", (int)unknown.len,
                              unknown.ptr);
        goto done;
    }
    if (dup.len) {
        msg = fl_arena_printf(a, "parameters given more than once: %.*s", (int)dup.len, dup.ptr);
        goto done;
    }
    if (!seen[1] || !seen[4]) {
        msg = fl_arena_printf(a, "missing required parameters for data-lakehouse-at-least-once: %s%s%s",
                              seen[1] ? "" : "viewDefinition", !seen[1] && !seen[4] ? ", " : "",
                              seen[4] ? "" : "tablePath");
        goto done;
    }
    if ((cfg->akid[0] != 0) != (cfg->secret[0] != 0)) {
        msg = "parameters awsAccessKeyId and awsSecretAccessKey go together";
        goto done;
    }
done:
    fl_buf_reset(&unknown);
    fl_buf_reset(&dup);
    return msg;
}

/* true when a current resource of `type` has string member `key` equal to `want`. */
static fl_rc find_by(srv_req *r, const char *type, const char *key, fl_str want, bool *found, fl_err *err)
{
    fl_rc rc = FL_OK;
    *found = false;
    char cursor[FL_FHIRDB_CURSOR_MAX] = "";
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    for (;;) {
        fl_fhirdb_query q = {.type = fl_str_c(type), .count = FL_FHIRDB_MAX_COUNT, .cursor = fl_str_c(cursor)};
        fl_fhirdb_page pg;
        FL_TRY(fl_fhirdb_search(r->c, &q, &a, &pg, err));
        for (size_t i = 0; i < pg.n && !*found; i++) {
            fl_json_val *res = NULL;
            if (fl_json_parse(pg.recs[i].body.ptr, pg.recs[i].body.len, NULL, &a, &res, NULL, err) != FL_OK) continue;
            *found = fl_str_eq(fl_json_str(fl_json_get_c(res, key)), want);
        }
        if (*found || !pg.has_next) break;
        memcpy(cursor, pg.next_cursor, sizeof cursor);
        fl_arena_reset(&a);
    }
done:
    fl_arena_fini(&a);
    return rc;
}

const char *srv_lake_check_refs(srv_req *r, const fl_json_val *res, bool lakehouse)
{
    fl_err err;
    fl_err_clear(&err);
    if (srv_conn(r, &err) != FL_OK) return fl_arena_printf(r->a, "store unavailable: %s", err.msg);
    bool found = false;
    fl_str topic = fl_json_str(fl_json_get_c(res, "topic"));
    if (find_by(r, "AidboxSubscriptionTopic", "url", topic, &found, &err) != FL_OK)
        return fl_arena_printf(r->a, "looking up the topic: %s", err.msg);
    if (!found) {
        r->check_status = 422;
        return fl_arena_printf(r->a, "AidboxTopicDestination.topic: no AidboxSubscriptionTopic with url '%.*s'",
                               FL_STR_ARG(topic));
    }
    if (!lakehouse) return NULL;
    srv_lake_cfg cfg;
    const char *msg = srv_lake_parse(r->a, res, &cfg);
    if (msg) {
        r->check_status = 422;
        return msg;
    }
    if (find_by(r, "ViewDefinition", "name", fl_str_c(cfg.view), &found, &err) != FL_OK)
        return fl_arena_printf(r->a, "looking up the view: %s", err.msg);
    if (!found) {
        r->check_status = 422;
        return fl_arena_printf(r->a, "parameter viewDefinition: no ViewDefinition named '%s'", cfg.view);
    }
    return NULL;
}
