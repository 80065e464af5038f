/* delta_action.c - Delta log actions: parse one NDJSON action line into its struct,
 * write actions back as single-line JSON, and deep-copy what a snapshot keeps
 * (module delta). Unknown actions and unknown fields are ignored, as the protocol
 * requires; required fields that are missing or mistyped are FL_E_DELTA_LOG. Parsed
 * strings point into the line or the scratch arena (valid while the caller keeps both). */
#include "delta/delta_int.h"

#include <stdio.h>

static fl_rc bad(fl_err *err, const char *action, const char *what)
{
    return fl_err_set(err, FL_E_DELTA_LOG, "%s action: %s", action, what);
}

static bool get_i64(const fl_json_val *o, const char *k, int64_t *out)
{
    const fl_json_val *v = fl_json_get_c(o, k);
    return v && fl_json_as_i64(v, out);
}

static int64_t opt_i64(const fl_json_val *o, const char *k)
{
    int64_t x;
    return get_i64(o, k, &x) ? x : -1;
}

static fl_str opt_str(const fl_json_val *o, const char *k)
{
    const fl_json_val *v = fl_json_get_c(o, k);
    return fl_json_is_str(v) ? fl_json_str(v) : FL_STR_NULL;
}

static bool opt_bool(const fl_json_val *o, const char *k, bool def)
{
    const fl_json_val *v = fl_json_get_c(o, k);
    if (!fl_json_is_bool(v)) return def;
    return v->type == FL_JSON_TRUE;
}

/* Compact JSON text of v in arena a. */
static fl_str to_text(fl_arena *a, const fl_json_val *v)
{
    if (!v || fl_json_is_null(v)) return FL_STR_NULL;
    fl_buf b;
    fl_buf_init(&b, FL_DELTA_MAX_COMMIT_BYTES);
    fl_json_write(v, &b);
    fl_str r = b.rc ? FL_STR_NULL : fl_arena_str_dup(a, fl_buf_str(&b));
    fl_buf_reset(&b);
    return r;
}

static fl_rc parse_kvs(fl_arena *a, const fl_json_val *o, const char *action, const char *field,
                       const fl_delta_kv **out, size_t *n, fl_err *err)
{
    *out = NULL;
    *n = 0;
    if (!o || fl_json_is_null(o)) return FL_OK;
    if (!fl_json_is_obj(o)) return fl_err_set(err, FL_E_DELTA_LOG, "%s action: %s must be an object", action, field);
    if (o->len == 0) return FL_OK;
    fl_delta_kv *kv = fl_arena_alloc(a, o->len * sizeof *kv);
    if (!kv) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    for (uint32_t i = 0; i < o->len; i++) {
        const fl_json_member *m = &o->u.members[i];
        kv[i].key = m->key;
        if (fl_json_is_null(&m->val)) {
            kv[i].val = FL_STR_NULL;
            kv[i].has_val = false;
        } else if (fl_json_is_str(&m->val) || fl_json_is_num(&m->val)) {
            kv[i].val = fl_json_str(&m->val);
            kv[i].has_val = true;
        } else if (fl_json_is_bool(&m->val)) {
            kv[i].val = m->val.type == FL_JSON_TRUE ? FL_STR("true") : FL_STR("false");
            kv[i].has_val = true;
        } else {
            return fl_err_set(err, FL_E_DELTA_LOG, "%s action: %s." FL_STR_FMT " must be a string", action, field,
                              FL_STR_ARG(m->key));
        }
    }
    *out = kv;
    *n = o->len;
    return FL_OK;
}

static fl_rc parse_strs(fl_arena *a, const fl_json_val *arr, const char *action, const char *field, const fl_str **out,
                        size_t *n, fl_err *err)
{
    *out = NULL;
    *n = 0;
    if (!arr || fl_json_is_null(arr)) return FL_OK;
    if (!fl_json_is_arr(arr)) return fl_err_set(err, FL_E_DELTA_LOG, "%s action: %s must be an array", action, field);
    if (arr->len == 0) return FL_OK;
    fl_str *s = fl_arena_alloc(a, arr->len * sizeof *s);
    if (!s) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    for (uint32_t i = 0; i < arr->len; i++) {
        if (!fl_json_is_str(&arr->u.items[i]))
            return fl_err_set(err, FL_E_DELTA_LOG, "%s action: %s[%u] must be a string", action, field, i);
        s[i] = fl_json_str(&arr->u.items[i]);
    }
    *out = s;
    *n = arr->len;
    return FL_OK;
}

/* DV unique id: storageType + pathOrInlineDv [+ "@" + offset]. */
static fl_str dv_unique_id(fl_arena *a, const fl_json_val *dv)
{
    if (!fl_json_is_obj(dv)) return FL_STR_NULL;
    fl_str st = opt_str(dv, "storageType"), p = opt_str(dv, "pathOrInlineDv");
    int64_t off = opt_i64(dv, "offset");
    char *s = off >= 0 ? fl_arena_printf(a, FL_STR_FMT FL_STR_FMT "@%lld", FL_STR_ARG(st), FL_STR_ARG(p), (long long)off)
                       : fl_arena_printf(a, FL_STR_FMT FL_STR_FMT, FL_STR_ARG(st), FL_STR_ARG(p));
    return s ? fl_str_c(s) : FL_STR_NULL;
}

fl_str delta_file_key(fl_arena *a, fl_str path, fl_str dv_id)
{
    if (dv_id.len == 0) return path;
    char *s = fl_arena_printf(a, FL_STR_FMT "\n" FL_STR_FMT, FL_STR_ARG(path), FL_STR_ARG(dv_id));
    return s ? fl_str_c(s) : FL_STR_NULL;
}

static fl_rc parse_add(fl_arena *a, const fl_json_val *o, delta_action *out, fl_err *err)
{
    fl_delta_file *f = &out->u.add;
    memset(f, 0, sizeof *f);
    if (!fl_json_is_obj(o)) return bad(err, "add", "not an object");
    f->path = opt_str(o, "path");
    if (f->path.len == 0) return bad(err, "add", "missing path");
    fl_rc rc = parse_kvs(a, fl_json_get_c(o, "partitionValues"), "add", "partitionValues", &f->partition_values,
                         &f->n_partition_values, err);
    if (rc) return rc;
    if (!get_i64(o, "size", &f->size)) return bad(err, "add", "missing or non-integer size");
    f->modification_time = opt_i64(o, "modificationTime");
    f->data_change = opt_bool(o, "dataChange", true);
    f->stats = opt_str(o, "stats");
    const fl_json_val *dv = fl_json_get_c(o, "deletionVector");
    if (fl_json_is_obj(dv)) {
        f->dv = to_text(a, dv);
        out->dv_id = dv_unique_id(a, dv);
    }
    const fl_json_val *tags = fl_json_get_c(o, "tags");
    if (fl_json_is_obj(tags) && tags->len) f->tags = to_text(a, tags);
    f->base_row_id = opt_i64(o, "baseRowId");
    f->default_row_commit_version = opt_i64(o, "defaultRowCommitVersion");
    return FL_OK;
}

static fl_rc parse_meta(fl_arena *a, const fl_json_val *o, fl_delta_metadata *m, fl_err *err)
{
    memset(m, 0, sizeof *m);
    if (!fl_json_is_obj(o)) return bad(err, "metaData", "not an object");
    m->id = opt_str(o, "id");
    if (m->id.len == 0) return bad(err, "metaData", "missing id");
    m->name = opt_str(o, "name");
    m->description = opt_str(o, "description");
    const fl_json_val *fmt = fl_json_get_c(o, "format");
    m->provider = fl_json_is_obj(fmt) ? opt_str(fmt, "provider") : FL_STR("parquet");
    const fl_json_val *ss = fl_json_get_c(o, "schemaString");
    if (ss && !fl_json_is_str(ss) && !fl_json_is_null(ss)) return bad(err, "metaData", "schemaString must be a string");
    m->schema_string = fl_json_str(ss); /* absent in some hand-made logs: an empty schema */
    const fl_json_val *pc = fl_json_get_c(o, "partitionColumns");
    fl_rc rc = parse_strs(a, pc, "metaData", "partitionColumns", &m->partition_columns, &m->n_partition_columns, err);
    if (rc) return rc;
    rc = parse_kvs(a, fl_json_get_c(o, "configuration"), "metaData", "configuration", &m->configuration,
                   &m->n_configuration, err);
    if (rc) return rc;
    m->created_time = opt_i64(o, "createdTime");
    return FL_OK;
}

fl_rc delta_action_parse(fl_arena *a, const char *line, size_t len, delta_action *out, fl_err *err)
{
    memset(out, 0, sizeof *out);
    fl_json_val *root = NULL;
    fl_json_opts jo = {.flags = 0, .max_depth = FL_DELTA_MAX_ACTION_DEPTH};
    fl_rc rc = fl_json_parse(line, len, &jo, a, &root, NULL, err);
    if (rc) {
        if (err && rc != FL_E_NOMEM) err->code = FL_E_DELTA_LOG;
        return rc == FL_E_NOMEM ? rc : FL_E_DELTA_LOG;
    }
    if (!fl_json_is_obj(root)) return fl_err_set(err, FL_E_DELTA_LOG, "an action line must be a JSON object");
    for (uint32_t i = 0; i < root->len; i++) {
        fl_str k = root->u.members[i].key;
        const fl_json_val *o = &root->u.members[i].val;
        if (fl_str_eq_c(k, "add")) {
            out->kind = DA_ADD;
            return parse_add(a, o, out, err);
        }
        if (fl_str_eq_c(k, "remove")) {
            out->kind = DA_REMOVE;
            if (!fl_json_is_obj(o)) return bad(err, "remove", "not an object");
            delta_remove *r = &out->u.remove;
            r->path = opt_str(o, "path");
            if (r->path.len == 0) return bad(err, "remove", "missing path");
            r->deletion_timestamp = opt_i64(o, "deletionTimestamp");
            r->data_change = opt_bool(o, "dataChange", true);
            const fl_json_val *dv = fl_json_get_c(o, "deletionVector");
            if (fl_json_is_obj(dv)) {
                r->dv = to_text(a, dv);
                out->dv_id = dv_unique_id(a, dv);
            }
            return FL_OK;
        }
        if (fl_str_eq_c(k, "protocol")) {
            out->kind = DA_PROTOCOL;
            if (!fl_json_is_obj(o)) return bad(err, "protocol", "not an object");
            fl_delta_protocol *p = &out->u.proto;
            int64_t r, w;
            if (!get_i64(o, "minReaderVersion", &r) || !get_i64(o, "minWriterVersion", &w) || r < 0 || w < 0 ||
                r > 1000000 || w > 1000000)
                return bad(err, "protocol", "missing or invalid minReaderVersion/minWriterVersion");
            p->min_reader = (int32_t)r;
            p->min_writer = (int32_t)w;
            rc = parse_strs(a, fl_json_get_c(o, "readerFeatures"), "protocol", "readerFeatures", &p->reader_features,
                            &p->n_reader_features, err);
            if (!rc)
                rc = parse_strs(a, fl_json_get_c(o, "writerFeatures"), "protocol", "writerFeatures",
                                &p->writer_features, &p->n_writer_features, err);
            return rc;
        }
        if (fl_str_eq_c(k, "metaData")) {
            out->kind = DA_METADATA;
            return parse_meta(a, o, &out->u.meta, err);
        }
        if (fl_str_eq_c(k, "txn")) {
            out->kind = DA_TXN;
            if (!fl_json_is_obj(o)) return bad(err, "txn", "not an object");
            out->u.txn.app_id = opt_str(o, "appId");
            if (!fl_json_is_str(fl_json_get_c(o, "appId"))) return bad(err, "txn", "missing appId");
            if (!get_i64(o, "version", &out->u.txn.version)) return bad(err, "txn", "missing or non-integer version");
            out->u.txn.last_updated = opt_i64(o, "lastUpdated");
            return FL_OK;
        }
        if (fl_str_eq_c(k, "commitInfo")) {
            out->kind = DA_COMMIT_INFO;
            if (!fl_json_is_obj(o)) return FL_OK; /* free-form: tolerate */
            out->u.ci.timestamp = opt_i64(o, "timestamp");
            out->u.ci.ict = opt_i64(o, "inCommitTimestamp");
            out->u.ci.operation = opt_str(o, "operation");
            out->u.ci.txn_id = opt_str(o, "txnId");
            return FL_OK;
        }
        if (fl_str_eq_c(k, "domainMetadata")) {
            out->kind = DA_DOMAIN;
            if (!fl_json_is_obj(o)) return bad(err, "domainMetadata", "not an object");
            out->u.domain.domain = opt_str(o, "domain");
            out->u.domain.configuration = opt_str(o, "configuration");
            out->u.domain.removed = opt_bool(o, "removed", false);
            if (!fl_json_is_str(fl_json_get_c(o, "domain"))) return bad(err, "domainMetadata", "missing domain");
            return FL_OK;
        }
        if (fl_str_eq_c(k, "cdc")) {
            out->kind = DA_CDC;
            return FL_OK;
        }
        if (fl_str_eq_c(k, "checkpointMetadata")) {
            out->kind = DA_CHECKPOINT_META;
            return FL_OK;
        }
        if (fl_str_eq_c(k, "sidecar")) {
            out->kind = DA_SIDECAR;
            out->u.add.path = opt_str(o, "path");
            return FL_OK;
        }
    }
    out->kind = DA_NONE;
    return FL_OK;
}

/* ------------------------------------------------------------------ writing */

static void write_kvs(fl_jw *w, const fl_delta_kv *kv, size_t n)
{
    fl_jw_obj_begin(w);
    for (size_t i = 0; i < n; i++) {
        fl_jw_key(w, kv[i].key);
        if (kv[i].has_val) fl_jw_str(w, kv[i].val);
        else fl_jw_null(w);
    }
    fl_jw_obj_end(w);
}

void delta_write_protocol(fl_jw *w, const fl_delta_protocol *p)
{
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "protocol");
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "minReaderVersion");
    fl_jw_i64(w, p->min_reader);
    fl_jw_key_c(w, "minWriterVersion");
    fl_jw_i64(w, p->min_writer);
    /* feature lists only where the protocol version allows them (never empty lists at 1/2) */
    if (p->min_reader >= 3) {
        fl_jw_key_c(w, "readerFeatures");
        fl_jw_arr_begin(w);
        for (size_t i = 0; i < p->n_reader_features; i++) fl_jw_str(w, p->reader_features[i]);
        fl_jw_arr_end(w);
    }
    if (p->min_writer >= 7) {
        fl_jw_key_c(w, "writerFeatures");
        fl_jw_arr_begin(w);
        for (size_t i = 0; i < p->n_writer_features; i++) fl_jw_str(w, p->writer_features[i]);
        fl_jw_arr_end(w);
    }
    fl_jw_obj_end(w);
    fl_jw_obj_end(w);
}

void delta_write_metadata(fl_jw *w, const fl_delta_metadata *m)
{
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "metaData");
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "id");
    fl_jw_str(w, m->id);
    if (m->name.len) {
        fl_jw_key_c(w, "name");
        fl_jw_str(w, m->name);
    }
    if (m->description.len) {
        fl_jw_key_c(w, "description");
        fl_jw_str(w, m->description);
    }
    fl_jw_key_c(w, "format");
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "provider");
    fl_jw_str(w, m->provider.len ? m->provider : FL_STR("parquet"));
    fl_jw_key_c(w, "options");
    fl_jw_obj_begin(w);
    fl_jw_obj_end(w);
    fl_jw_obj_end(w);
    fl_jw_key_c(w, "schemaString");
    fl_jw_str(w, m->schema_string);
    fl_jw_key_c(w, "partitionColumns");
    fl_jw_arr_begin(w);
    for (size_t i = 0; i < m->n_partition_columns; i++) fl_jw_str(w, m->partition_columns[i]);
    fl_jw_arr_end(w);
    fl_jw_key_c(w, "configuration");
    write_kvs(w, m->configuration, m->n_configuration);
    if (m->created_time >= 0) {
        fl_jw_key_c(w, "createdTime");
        fl_jw_i64(w, m->created_time);
    }
    fl_jw_obj_end(w);
    fl_jw_obj_end(w);
}

void delta_write_add(fl_jw *w, const fl_delta_file *f)
{
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "add");
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "path");
    fl_jw_str(w, f->path);
    fl_jw_key_c(w, "partitionValues");
    write_kvs(w, f->partition_values, f->n_partition_values);
    fl_jw_key_c(w, "size");
    fl_jw_i64(w, f->size);
    fl_jw_key_c(w, "modificationTime");
    fl_jw_i64(w, f->modification_time);
    fl_jw_key_c(w, "dataChange");
    fl_jw_bool(w, f->data_change);
    if (f->stats.len) {
        fl_jw_key_c(w, "stats");
        fl_jw_str(w, f->stats);
    }
    if (f->tags.len) {
        fl_jw_key_c(w, "tags");
        fl_jw_raw(w, f->tags);
    }
    if (f->dv.len) {
        fl_jw_key_c(w, "deletionVector");
        fl_jw_raw(w, f->dv);
    }
    if (f->base_row_id >= 0) {
        fl_jw_key_c(w, "baseRowId");
        fl_jw_i64(w, f->base_row_id);
    }
    if (f->default_row_commit_version >= 0) {
        fl_jw_key_c(w, "defaultRowCommitVersion");
        fl_jw_i64(w, f->default_row_commit_version);
    }
    fl_jw_obj_end(w);
    fl_jw_obj_end(w);
}

void delta_write_remove(fl_jw *w, const fl_delta_file *f, int64_t deletion_ts, bool data_change)
{
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "remove");
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "path");
    fl_jw_str(w, f->path);
    fl_jw_key_c(w, "deletionTimestamp");
    fl_jw_i64(w, deletion_ts);
    fl_jw_key_c(w, "dataChange");
    fl_jw_bool(w, data_change);
    fl_jw_key_c(w, "extendedFileMetadata");
    fl_jw_bool(w, true);
    fl_jw_key_c(w, "partitionValues");
    write_kvs(w, f->partition_values, f->n_partition_values);
    fl_jw_key_c(w, "size");
    fl_jw_i64(w, f->size);
    if (f->dv.len) {
        fl_jw_key_c(w, "deletionVector");
        fl_jw_raw(w, f->dv);
    }
    fl_jw_obj_end(w);
    fl_jw_obj_end(w);
}

void delta_write_txn(fl_jw *w, const fl_delta_app_txn *t)
{
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "txn");
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "appId");
    fl_jw_str(w, t->app_id);
    fl_jw_key_c(w, "version");
    fl_jw_i64(w, t->version);
    if (t->last_updated >= 0) {
        fl_jw_key_c(w, "lastUpdated");
        fl_jw_i64(w, t->last_updated);
    }
    fl_jw_obj_end(w);
    fl_jw_obj_end(w);
}

/* ------------------------------------------------------------------ copies */

static bool dup(fl_arena *a, fl_str src, fl_str *dst)
{
    if (src.len == 0) {
        *dst = src.ptr ? FL_STR("") : FL_STR_NULL;
        return true;
    }
    *dst = fl_arena_str_dup(a, src);
    return dst->ptr != NULL;
}

static bool dup_kvs(fl_arena *a, const fl_delta_kv *src, size_t n, const fl_delta_kv **dst)
{
    *dst = NULL;
    if (n == 0) return true;
    fl_delta_kv *kv = fl_arena_alloc(a, n * sizeof *kv);
    if (!kv) return false;
    for (size_t i = 0; i < n; i++) {
        kv[i].has_val = src[i].has_val;
        if (!dup(a, src[i].key, &kv[i].key) || !dup(a, src[i].val, &kv[i].val)) return false;
    }
    *dst = kv;
    return true;
}

static bool dup_strs(fl_arena *a, const fl_str *src, size_t n, const fl_str **dst)
{
    *dst = NULL;
    if (n == 0) return true;
    fl_str *s = fl_arena_alloc(a, n * sizeof *s);
    if (!s) return false;
    for (size_t i = 0; i < n; i++)
        if (!dup(a, src[i], &s[i])) return false;
    *dst = s;
    return true;
}

bool delta_file_copy(fl_arena *a, const fl_delta_file *src, fl_delta_file *dst)
{
    *dst = *src;
    return dup(a, src->path, &dst->path) && dup(a, src->stats, &dst->stats) && dup(a, src->dv, &dst->dv) &&
           dup(a, src->tags, &dst->tags) &&
           dup_kvs(a, src->partition_values, src->n_partition_values, &dst->partition_values);
}

bool delta_meta_copy(fl_arena *a, const fl_delta_metadata *src, fl_delta_metadata *dst)
{
    *dst = *src;
    return dup(a, src->id, &dst->id) && dup(a, src->name, &dst->name) && dup(a, src->description, &dst->description) &&
           dup(a, src->provider, &dst->provider) && dup(a, src->schema_string, &dst->schema_string) &&
           dup_strs(a, src->partition_columns, src->n_partition_columns, &dst->partition_columns) &&
           dup_kvs(a, src->configuration, src->n_configuration, &dst->configuration);
}

bool delta_proto_copy(fl_arena *a, const fl_delta_protocol *src, fl_delta_protocol *dst)
{
    *dst = *src;
    return dup_strs(a, src->reader_features, src->n_reader_features, &dst->reader_features) &&
           dup_strs(a, src->writer_features, src->n_writer_features, &dst->writer_features);
}
