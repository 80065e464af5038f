/* delta_commit.c - table handles, table creation, write transactions and the optimistic
 * commit of one Delta version (module delta).
 * A commit writes _delta_log/<v>.json with put-if-absent through the store. When another
 * writer won version v, its commit (and any later ones) are read, checked for logical
 * conflicts (protocol/metadata changes, removal of files this txn depends on, the same
 * txn appId at >= our version = duplicate) and applied to the txn's snapshot; then the
 * commit is retried at the next version after a jittered backoff, up to a limit.
 * Invariant: a version is either fully visible or absent (put-if-absent of one object). */
#include "delta/delta_int.h"

#include "fhirlake/os.h"

#include <stdio.h>

/* ------------------------------------------------------------------ table */

fl_rc fl_delta_table_open(fl_store *st, const fl_delta_opts *opts, fl_delta_table **out, fl_err *err)
{
    *out = NULL;
    fl_delta_table *t = fl_calloc(1, sizeof *t);
    if (!t) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    t->st = st;
    if (opts) t->o = *opts;
    if (!t->o.max_commit_attempts) t->o.max_commit_attempts = 50;
    if (!t->o.retry_base_ms) t->o.retry_base_ms = 10;
    if (!t->o.retry_cap_ms) t->o.retry_cap_ms = 1000;
    if (!t->o.max_commit_bytes) t->o.max_commit_bytes = FL_DELTA_MAX_COMMIT_BYTES;
    snprintf(t->engine_info, sizeof t->engine_info, "%s",
             t->o.engine_info ? t->o.engine_info : "fhirlake/" FL_VERSION_STRING);
    t->o.engine_info = NULL; /* copied */
    *out = t;
    return FL_OK;
}

void fl_delta_table_close(fl_delta_table *t)
{
    if (!t) return;
    fl_delta_snapshot_free(t->cache);
    fl_free(t);
}

/* ------------------------------------------------------------------ encoding */

static void write_commit_info(fl_jw *w, const fl_delta_txn *txn, int64_t now_ms, int64_t ict, const char *extra_param_key,
                              fl_str extra_param_val)
{
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "commitInfo");
    fl_jw_obj_begin(w);
    if (ict >= 0) {
        fl_jw_key_c(w, "inCommitTimestamp");
        fl_jw_i64(w, ict);
    }
    fl_jw_key_c(w, "timestamp");
    fl_jw_i64(w, now_ms);
    fl_jw_key_c(w, "operation");
    fl_jw_str_c(w, txn->operation);
    fl_jw_key_c(w, "operationParameters");
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "mode");
    fl_jw_str_c(w, txn->mode);
    if (extra_param_key) {
        fl_jw_key_c(w, extra_param_key);
        fl_jw_str(w, extra_param_val);
    }
    fl_jw_obj_end(w);
    if (txn->read_version >= 0) {
        fl_jw_key_c(w, "readVersion");
        fl_jw_i64(w, txn->read_version);
    }
    fl_jw_key_c(w, "isBlindAppend");
    fl_jw_bool(w, txn->removes.len == 0 && !txn->remove_all && !txn->new_schema && !txn->rearrange);
    fl_jw_key_c(w, "operationMetrics");
    fl_jw_obj_begin(w);
    char num[32];
    snprintf(num, sizeof num, "%zu", txn->adds.len);
    fl_jw_key_c(w, "numFiles");
    fl_jw_str_c(w, num);
    snprintf(num, sizeof num, "%lld", (long long)txn->records_added);
    fl_jw_key_c(w, "numOutputRows");
    fl_jw_str_c(w, num);
    int64_t bytes = 0;
    for (size_t i = 0; i < txn->adds.len; i++) bytes += FL_VEC_AT(&txn->adds, fl_delta_file, i).size;
    snprintf(num, sizeof num, "%lld", (long long)bytes);
    fl_jw_key_c(w, "numOutputBytes");
    fl_jw_str_c(w, num);
    if (txn->removes.len) {
        snprintf(num, sizeof num, "%zu", txn->removes.len);
        fl_jw_key_c(w, "numRemovedFiles");
        fl_jw_str_c(w, num);
    }
    fl_jw_obj_end(w);
    fl_jw_key_c(w, "engineInfo");
    fl_jw_str_c(w, txn->t->engine_info);
    fl_jw_key_c(w, "txnId");
    fl_jw_str_c(w, txn->uuid);
    fl_jw_obj_end(w);
    fl_jw_obj_end(w);
}

static void newline(fl_buf *b) { fl_buf_putc(b, '\n'); }

/* ------------------------------------------------------------------ create */

static bool has_ntz(const fl_delta_type *t, unsigned depth)
{
    if (!t || depth > FL_DELTA_MAX_SCHEMA_DEPTH) return false;
    if (t->kind == FL_DELTA_T_TIMESTAMP_NTZ) return true;
    if (t->kind == FL_DELTA_T_ARRAY) return has_ntz(t->element, depth + 1);
    if (t->kind == FL_DELTA_T_MAP) return has_ntz(t->key, depth + 1) || has_ntz(t->value, depth + 1);
    if (t->kind == FL_DELTA_T_STRUCT)
        for (size_t i = 0; i < t->n_fields; i++)
            if (has_ntz(t->fields[i].type, depth + 1)) return true;
    return false;
}

static bool kv_true(const fl_delta_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (fl_str_eq_c(kv[i].key, key) && kv[i].has_val && (fl_str_eq_c(kv[i].val, "true") || fl_str_eq_c(kv[i].val, "TRUE")))
            return true;
    return false;
}

static bool has_other(const fl_delta_type *t, unsigned depth)
{
    if (!t || depth > FL_DELTA_MAX_SCHEMA_DEPTH) return false;
    if (t->kind == FL_DELTA_T_OTHER) return true;
    if (t->kind == FL_DELTA_T_ARRAY) return has_other(t->element, depth + 1);
    if (t->kind == FL_DELTA_T_MAP) return has_other(t->key, depth + 1) || has_other(t->value, depth + 1);
    if (t->kind == FL_DELTA_T_STRUCT)
        for (size_t i = 0; i < t->n_fields; i++)
            if (has_other(t->fields[i].type, depth + 1)) return true;
    return false;
}

fl_rc fl_delta_table_create(fl_delta_table *t, const fl_delta_create_opts *o, fl_delta_commit_result *res, fl_err *err)
{
    if (res) memset(res, 0, sizeof *res);
    const char *url = fl_store_get_url(t->st);
    const fl_delta_type *sch = o->schema;
    if (!sch || sch->kind != FL_DELTA_T_STRUCT || sch->n_fields == 0)
        return fl_err_set(err, FL_E_DELTA_SCHEMA, "create %s: the schema must be a struct with at least one column", url);
    if (has_other(sch, 0))
        return fl_err_set(err, FL_E_DELTA_SCHEMA, "create %s: the schema has a type this fhirlake cannot write", url);
    for (size_t i = 0; i < o->n_partition_columns; i++) {
        const fl_delta_field *f = fl_delta_type_find(sch, fl_str_c(o->partition_columns[i]));
        if (!f)
            return fl_err_set(err, FL_E_DELTA_SCHEMA, "create %s: partition column '%s' is not in the schema", url,
                              o->partition_columns[i]);
        fl_delta_kind k = f->type->kind;
        if (k == FL_DELTA_T_ARRAY || k == FL_DELTA_T_MAP || k == FL_DELTA_T_STRUCT || k == FL_DELTA_T_BINARY)
            return fl_err_set(err, FL_E_DELTA_SCHEMA, "create %s: partition column '%s' must have a primitive type", url,
                              o->partition_columns[i]);
    }
    if (o->n_partition_columns >= sch->n_fields)
        return fl_err_set(err, FL_E_DELTA_SCHEMA, "create %s: every column is a partition column; keep one data column",
                          url);
    static const char *const refused[] = {"delta.enableDeletionVectors", "delta.enableRowTracking",
                                          "delta.enableChangeDataFeed", "delta.enableTypeWidening", NULL};
    for (const char *const *p = refused; *p; p++)
        if (kv_true(o->configuration, o->n_configuration, *p))
            return fl_err_set(err, FL_E_DELTA_PROTOCOL, "create %s: table property %s=true needs a feature this "
                                                        "fhirlake cannot write yet",
                              url, *p);
    for (size_t i = 0; i < o->n_configuration; i++)
        if (fl_str_eq_c(o->configuration[i].key, "delta.columnMapping.mode") &&
            !fl_str_eq_c(o->configuration[i].val, "none"))
            return fl_err_set(err, FL_E_DELTA_PROTOCOL, "create %s: column mapping cannot be written yet", url);

    /* protocol: 1/2 unless a feature is needed */
    bool ntz = has_ntz(sch, 0);
    bool ict = kv_true(o->configuration, o->n_configuration, "delta.enableInCommitTimestamps");
    fl_str rf[1], wf[2];
    fl_delta_protocol proto = {.min_reader = 1, .min_writer = 2};
    if (ntz || ict) {
        proto.min_writer = 7;
        proto.writer_features = wf;
        if (ntz) {
            proto.min_reader = 3;
            proto.reader_features = rf;
            rf[proto.n_reader_features++] = FL_STR("timestampNtz");
            wf[proto.n_writer_features++] = FL_STR("timestampNtz");
        }
        if (ict) wf[proto.n_writer_features++] = FL_STR("inCommitTimestamp");
    }

    fl_rc rc = FL_OK;
    fl_buf schema_json, commit;
    fl_buf_init(&schema_json, 0);
    fl_buf_init(&commit, FL_DELTA_MAX_COMMIT_BYTES);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    char uuid[37], txid[37];
    fl_uuid4(uuid);
    fl_uuid4(txid);
    if (fl_delta_type_to_json(sch, &schema_json)) FL_FAIL(FL_E_NOMEM, "out of memory encoding the schema");
    fl_str *pcs = o->n_partition_columns ? fl_arena_alloc(&a, o->n_partition_columns * sizeof *pcs) : NULL;
    if (o->n_partition_columns && !pcs) FL_FAIL(FL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < o->n_partition_columns; i++) pcs[i] = fl_str_c(o->partition_columns[i]);
    int64_t now = fl_clock_now_us() / 1000;
    fl_delta_metadata meta = {
        .id = fl_str_c(uuid),
        .name = fl_str_c(o->name),
        .description = fl_str_c(o->description),
        .provider = FL_STR("parquet"),
        .schema_string = fl_buf_str(&schema_json),
        .partition_columns = pcs,
        .n_partition_columns = o->n_partition_columns,
        .configuration = o->configuration,
        .n_configuration = o->n_configuration,
        .created_time = now,
    };
    /* commitInfo for CREATE TABLE */
    fl_buf pby;
    fl_buf_init(&pby, 0);
    {
        fl_jw pw;
        fl_jw_init(&pw, &pby);
        fl_jw_arr_begin(&pw);
        for (size_t i = 0; i < o->n_partition_columns; i++) fl_jw_str_c(&pw, o->partition_columns[i]);
        fl_jw_arr_end(&pw);
    }
    fl_jw w;
    fl_jw_init(&w, &commit);
    fl_delta_txn fake = {.t = t, .read_version = -1};
    snprintf(fake.operation, sizeof fake.operation, "CREATE TABLE");
    snprintf(fake.mode, sizeof fake.mode, "ErrorIfExists");
    memcpy(fake.uuid, txid, sizeof txid);
    fl_vec_init(&fake.adds, sizeof(fl_delta_file));
    fl_vec_init(&fake.removes, sizeof(fl_delta_file));
    write_commit_info(&w, &fake, now, ict ? now : -1, "partitionBy", fl_buf_str(&pby));
    fl_buf_reset(&pby);
    newline(&commit);
    fl_jw_init(&w, &commit);
    delta_write_protocol(&w, &proto);
    newline(&commit);
    fl_jw_init(&w, &commit);
    delta_write_metadata(&w, &meta);
    newline(&commit);
    if (commit.rc) FL_FAIL(commit.rc, "create %s: cannot encode the first commit: %s", url, fl_rc_str(commit.rc));
    char key[48];
    fl_delta_commit_key(0, key);
    rc = fl_store_put(t->st, fl_str_c(key), commit.ptr, commit.len, FL_STORE_IF_ABSENT, err);
    if (rc == FL_E_EXISTS) {
        if (o->if_not_exists) {
            rc = FL_OK;
            fl_err_clear(err);
            goto done;
        }
        FL_FAIL(FL_E_EXISTS, "create %s: a Delta table already exists there", url);
    }
    if (rc) {
        fl_err_prefix(err, "create %s: ", url);
        goto done;
    }
    if (res) res->version = 0, res->attempts = 1;
done:
    fl_buf_reset(&schema_json);
    fl_buf_reset(&commit);
    fl_arena_fini(&a);
    return rc;
}

/* ------------------------------------------------------------------ transactions */

fl_rc fl_delta_txn_begin(fl_delta_table *t, fl_delta_txn **out, fl_err *err)
{
    *out = NULL;
    fl_delta_txn *txn = fl_calloc(1, sizeof *txn);
    if (!txn) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    fl_arena_init(&txn->a, 0, 0);
    fl_vec_init(&txn->adds, sizeof(fl_delta_file));
    fl_vec_init(&txn->removes, sizeof(fl_delta_file));
    txn->t = t;
    snprintf(txn->operation, sizeof txn->operation, "WRITE");
    snprintf(txn->mode, sizeof txn->mode, "Append");
    fl_uuid4(txn->uuid);
    fl_rc rc = FL_OK;
    /* reuse the table's cached snapshot (brought forward), else load the latest */
    if (t->cache) {
        txn->snap = t->cache;
        t->cache = NULL;
        rc = delta_snapshot_update_fn(t, txn->snap, NULL, NULL, err);
        if (rc) { /* a damaged cache is no reason to fail: reload from scratch */
            fl_delta_snapshot_free(txn->snap);
            txn->snap = NULL;
            rc = FL_OK;
        }
    }
    if (!txn->snap) FL_TRY(delta_snapshot_load_ex(t, -1, true, &txn->snap, err));
    FL_TRY(delta_check_write_support(txn->snap, err));
    txn->read_version = txn->snap->version;
    *out = txn;
    return FL_OK;
done:
    fl_delta_txn_free(txn);
    return rc;
}

void fl_delta_txn_free(fl_delta_txn *txn)
{
    if (!txn) return;
    fl_delta_txn_file_abort(txn);
    if (txn->snap) {
        /* hand the (possibly advanced) snapshot back to the table for the next txn */
        if (!txn->t->cache) txn->t->cache = txn->snap;
        else fl_delta_snapshot_free(txn->snap);
    }
    fl_vec_reset(&txn->adds);
    fl_vec_reset(&txn->removes);
    fl_arena_fini(&txn->a);
    fl_pq_codec_cache_free(txn->codec_cache);
    fl_free(txn);
}

const fl_delta_snapshot *fl_delta_txn_get_snapshot(const fl_delta_txn *txn) { return txn->snap; }

fl_rc fl_delta_txn_set_app(fl_delta_txn *txn, fl_str app_id, int64_t version, fl_err *err)
{
    if (app_id.len == 0 || version < 0) return fl_err_set(err, FL_E_ARG, "txn app id must be non-empty, version >= 0");
    int64_t have;
    if (fl_delta_snapshot_get_app_version(txn->snap, app_id, &have) && have >= version)
        return fl_err_set(err, FL_E_DELTA_DUPLICATE,
                          "%s: txn " FL_STR_FMT " version %lld already committed (table has version %lld of it)",
                          fl_store_get_url(txn->t->st), FL_STR_ARG(app_id), (long long)version, (long long)have);
    txn->app.app_id = fl_arena_str_dup(&txn->a, app_id);
    if (!txn->app.app_id.ptr) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    txn->app.version = version;
    txn->has_app = true;
    return FL_OK;
}

void fl_delta_txn_set_operation(fl_delta_txn *txn, const char *operation, const char *mode)
{
    if (operation) snprintf(txn->operation, sizeof txn->operation, "%s", operation);
    if (mode) snprintf(txn->mode, sizeof txn->mode, "%s", mode);
}

fl_rc fl_delta_txn_add_file(fl_delta_txn *txn, const fl_delta_file *f, fl_err *err)
{
    if (!f->path.len || f->size < 0) return fl_err_set(err, FL_E_ARG, "add: a file needs a path and a size");
    const fl_delta_metadata *m = &txn->snap->meta;
    for (size_t i = 0; i < m->n_partition_columns; i++) {
        bool found = false;
        for (size_t j = 0; j < f->n_partition_values && !found; j++)
            found = fl_str_eq(f->partition_values[j].key, m->partition_columns[i]);
        if (!found)
            return fl_err_set(err, FL_E_ARG, "add " FL_STR_FMT ": no value for partition column " FL_STR_FMT,
                              FL_STR_ARG(f->path), FL_STR_ARG(m->partition_columns[i]));
    }
    fl_delta_file *c = fl_vec_push_zero(&txn->adds);
    if (!c || !delta_file_copy(&txn->a, f, c)) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    c->dv = FL_STR_NULL; /* we never attach DVs */
    return FL_OK;
}

static bool append_only(const fl_delta_snapshot *s)
{
    return delta_config_bool(s, "delta.appendOnly", false);
}

fl_rc fl_delta_txn_remove_file(fl_delta_txn *txn, fl_str path, fl_err *err)
{
    if (append_only(txn->snap))
        return fl_err_set(err, FL_E_DELTA_PROTOCOL, "%s is append-only (delta.appendOnly=true): files cannot be removed",
                          fl_store_get_url(txn->t->st));
    bool found = false;
    uintptr_t idx = (uintptr_t)fl_map_get(&txn->snap->file_idx, path, &found); /* files without a DV */
    size_t start = found ? idx - 1 : 0, stop = found ? idx : fl_delta_snapshot_num_files(txn->snap);
    for (size_t i = start; i < stop; i++) {
        const fl_delta_file *f = fl_delta_snapshot_get_file(txn->snap, i);
        if (!fl_str_eq(f->path, path)) continue;
        fl_delta_file *c = fl_vec_push_zero(&txn->removes);
        if (!c || !delta_file_copy(&txn->a, f, c)) return fl_err_set(err, FL_E_NOMEM, "out of memory");
        return FL_OK;
    }
    return fl_err_set(err, FL_E_NOT_FOUND, "remove: " FL_STR_FMT " is not a live file of %s at version %lld",
                      FL_STR_ARG(path), fl_store_get_url(txn->t->st), (long long)txn->snap->version);
}

fl_rc fl_delta_txn_remove_all(fl_delta_txn *txn, fl_err *err)
{
    if (append_only(txn->snap))
        return fl_err_set(err, FL_E_DELTA_PROTOCOL, "%s is append-only (delta.appendOnly=true): cannot overwrite",
                          fl_store_get_url(txn->t->st));
    txn->removes.len = 0;
    for (size_t i = 0; i < fl_delta_snapshot_num_files(txn->snap); i++) {
        fl_delta_file *c = fl_vec_push_zero(&txn->removes);
        if (!c || !delta_file_copy(&txn->a, fl_delta_snapshot_get_file(txn->snap, i), c))
            return fl_err_set(err, FL_E_NOMEM, "out of memory");
    }
    txn->remove_all = true;
    snprintf(txn->mode, sizeof txn->mode, "Overwrite");
    return FL_OK;
}

fl_rc fl_delta_txn_set_schema(fl_delta_txn *txn, const fl_delta_type *new_root, fl_err *err)
{
    if (!new_root || new_root->kind != FL_DELTA_T_STRUCT)
        return fl_err_set(err, FL_E_DELTA_SCHEMA, "the new schema must be a struct");
    if (txn->pw) return fl_err_set(err, FL_E_STATE, "change the schema before opening data files");
    fl_rc rc = delta_schema_evolve_check(fl_delta_snapshot_get_schema(txn->snap), new_root, "", err);
    if (rc) {
        fl_err_prefix(err, "%s: ", fl_store_get_url(txn->t->st));
        return rc;
    }
    txn->new_schema = delta_type_copy(&txn->a, new_root, 0);
    if (!txn->new_schema) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    return FL_OK;
}

/* ------------------------------------------------------------------ commit */

typedef struct conflict_ctx {
    fl_delta_txn *txn;
    bool duplicate;
    int64_t dup_version; /* the winner's version holding our (appId, version) */
} conflict_ctx;

static fl_rc conflict_cb(void *ctx, int64_t v, const delta_action *act, fl_err *err)
{
    conflict_ctx *c = ctx;
    fl_delta_txn *txn = c->txn;
    const char *url = fl_store_get_url(txn->t->st);
    switch (act->kind) {
    case DA_PROTOCOL:
    case DA_METADATA:
        return fl_err_set(err, FL_E_DELTA_CONFLICT,
                          "%s: concurrent commit %lld changed the table's %s; start a new transaction on the new "
                          "snapshot",
                          url, (long long)v, act->kind == DA_PROTOCOL ? "protocol" : "metadata (schema or properties)");
    case DA_TXN:
        if (txn->has_app && fl_str_eq(act->u.txn.app_id, txn->app.app_id) && act->u.txn.version >= txn->app.version) {
            c->duplicate = true;
            c->dup_version = v;
            return fl_err_set(err, FL_E_DELTA_DUPLICATE,
                              "%s: txn " FL_STR_FMT " version %lld was committed concurrently (commit %lld)", url,
                              FL_STR_ARG(txn->app.app_id), (long long)txn->app.version, (long long)v);
        }
        return FL_OK;
    case DA_REMOVE:
        if (txn->guard && act->u.remove.data_change && delta_guard_read(txn->guard, act->u.remove.path))
            return fl_err_set(err, FL_E_DELTA_CONFLICT,
                              "%s: concurrent commit %lld removed " FL_STR_FMT
                              ", which this merge read; run the merge again on the new snapshot",
                              url, (long long)v, FL_STR_ARG(act->u.remove.path));
        for (size_t i = 0; i < txn->removes.len; i++)
            if (fl_str_eq(FL_VEC_AT(&txn->removes, fl_delta_file, i).path, act->u.remove.path))
                return fl_err_set(err, FL_E_DELTA_CONFLICT,
                                  "%s: concurrent commit %lld removed " FL_STR_FMT
                                  ", which this transaction also removes; start a new transaction",
                                  url, (long long)v, FL_STR_ARG(act->u.remove.path));
        return FL_OK;
    case DA_ADD:
        if (txn->remove_all)
            return fl_err_set(err, FL_E_DELTA_CONFLICT,
                              "%s: concurrent commit %lld added files while this transaction overwrites the table", url,
                              (long long)v);
        if (txn->guard && act->u.add.data_change) {
            fl_arena scratch;
            fl_arena_init(&scratch, 0, 0);
            bool hit = delta_guard_may_hold(txn->guard, &act->u.add, &scratch);
            fl_arena_fini(&scratch);
            if (hit)
                return fl_err_set(err, FL_E_DELTA_CONFLICT,
                                  "%s: concurrent commit %lld added " FL_STR_FMT
                                  ", which may hold keys this merge changes; run the merge again on the new snapshot",
                                  url, (long long)v, FL_STR_ARG(act->u.add.path));
        }
        return FL_OK;
    default:
        return FL_OK;
    }
}

/* Encode the commit for version v into out. */
static fl_rc encode(fl_delta_txn *txn, fl_buf *out, fl_buf *schema_json, fl_err *err)
{
    fl_delta_snapshot *s = txn->snap;
    fl_buf_clear(out);
    int64_t now = fl_clock_now_us() / 1000;
    int64_t ict = -1;
    if (delta_config_bool(s, "delta.enableInCommitTimestamps", false)) ict = now > s->timestamp_ms ? now : s->timestamp_ms + 1;
    fl_jw w;
    fl_jw_init(&w, out);
    write_commit_info(&w, txn, now, ict, NULL, FL_STR_NULL);
    newline(out);
    if (txn->new_schema) {
        fl_delta_metadata m = s->meta;
        fl_buf_clear(schema_json);
        if (fl_delta_type_to_json(txn->new_schema, schema_json))
            return fl_err_set(err, FL_E_NOMEM, "out of memory encoding the schema");
        m.schema_string = fl_buf_str(schema_json);
        fl_jw_init(&w, out);
        delta_write_metadata(&w, &m);
        newline(out);
    }
    if (txn->has_app) {
        txn->app.last_updated = now;
        fl_jw_init(&w, out);
        delta_write_txn(&w, &txn->app);
        newline(out);
    }
    for (size_t i = 0; i < txn->removes.len; i++) {
        fl_jw_init(&w, out);
        delta_write_remove(&w, &FL_VEC_AT(&txn->removes, fl_delta_file, i), now, !txn->rearrange);
        newline(out);
    }
    for (size_t i = 0; i < txn->adds.len; i++) {
        fl_jw_init(&w, out);
        delta_write_add(&w, &FL_VEC_AT(&txn->adds, fl_delta_file, i));
        newline(out);
    }
    if (out->rc)
        return fl_err_set(err, out->rc, "encoding the commit: %s",
                          out->rc == FL_E_LIMIT ? "commit larger than max_commit_bytes" : fl_rc_str(out->rc));
    return FL_OK;
}

/* Apply the txn's own actions to its snapshot after a successful commit at v. */
static fl_rc apply_own(fl_delta_txn *txn, int64_t v, const fl_buf *commit, fl_err *err)
{
    fl_delta_snapshot *s = txn->snap;
    fl_arena scratch;
    fl_arena_init(&scratch, 0, 0);
    fl_rc rc = FL_OK;
    fl_str body = fl_buf_str(commit);
    const char *p = body.ptr, *end = body.ptr + body.len;
    while (p < end && !rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le > p) {
            delta_action act;
            rc = delta_action_parse(&scratch, p, (size_t)(le - p), &act, err);
            if (!rc) rc = delta_snapshot_apply(s, &act, err);
            if (!rc && act.kind == DA_COMMIT_INFO)
                s->timestamp_ms = act.u.ci.ict >= 0 ? act.u.ci.ict : act.u.ci.timestamp;
        }
        p = le + 1;
    }
    fl_arena_fini(&scratch);
    if (rc) return rc;
    s->version = v;
    return delta_snapshot_finish(txn->t, s, err);
}

/* Classic checkpoint every delta.checkpointInterval versions, then metadata cleanup of
 * log files older than delta.logRetentionDuration (delta_cleanup_log). A failure is
 * logged, never reported: the commit itself is durable and readers fall back to the
 * JSON log. */
static void maybe_checkpoint(fl_delta_txn *txn, fl_delta_commit_result *res)
{
    fl_delta_table *t = txn->t;
    fl_delta_snapshot *s = txn->snap;
    if (t->o.no_checkpoints || s->version <= 0) return;
    int64_t interval = 10;
    fl_str iv = fl_delta_snapshot_get_config(s, "delta.checkpointInterval", FL_STR_NULL);
    if (iv.len && (!fl_parse_i64(iv, &interval) || interval <= 0)) interval = 10;
    if (s->version % interval != 0) return;
    for (size_t i = 0; i < s->proto.n_writer_features; i++)
        if (fl_str_eq_c(s->proto.writer_features[i], "v2Checkpoint")) return; /* classic not allowed */
    fl_err e;
    fl_err_clear(&e);
    if (delta_checkpoint_write(t, s, &e) != FL_OK) {
        fl_log(t->o.log, FL_LOG_WARN, "delta: %s", e.msg);
        return;
    }
    res->checkpointed = true;
    /* metadata cleanup after a checkpoint unless delta.enableExpiredLogCleanup=false */
    if (!delta_config_bool(s, "delta.enableExpiredLogCleanup", true)) return;
    fl_err_clear(&e);
    if (delta_cleanup_log(t, s, -1, &res->log_files_deleted, &e) != FL_OK)
        fl_log(t->o.log, FL_LOG_WARN, "delta: %s", e.msg);
    else if (res->log_files_deleted)
        fl_log(t->o.log, FL_LOG_INFO, "delta %s: log cleanup deleted %lld expired files", fl_store_get_url(t->st),
               (long long)res->log_files_deleted);
}

fl_rc fl_delta_txn_commit(fl_delta_txn *txn, fl_delta_commit_result *res, fl_err *err)
{
    fl_delta_commit_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    res->version = -1;
    if (txn->done) return fl_err_set(err, FL_E_STATE, "transaction already committed");
    if (txn->pw) return fl_err_set(err, FL_E_STATE, "close the open data file before committing");
    fl_delta_table *t = txn->t;
    const char *url = fl_store_get_url(t->st);
    fl_buf commit, schema_json;
    fl_buf_init(&commit, t->o.max_commit_bytes);
    fl_buf_init(&schema_json, 0);
    fl_store_retry pol = {t->o.max_commit_attempts, t->o.retry_base_ms, t->o.retry_cap_ms};
    fl_rc rc = FL_OK;
    for (uint32_t attempt = 1;; attempt++) {
        int64_t v = txn->snap->version + 1;
        FL_TRY(encode(txn, &commit, &schema_json, err));
        char key[48];
        fl_delta_commit_key(v, key);
        res->attempts = attempt;
        rc = fl_store_put(t->st, fl_str_c(key), commit.ptr, commit.len, FL_STORE_IF_ABSENT, err);
        if (rc == FL_OK) {
            txn->done = true;
            res->version = v;
            res->files_added = (int64_t)txn->adds.len;
            res->files_removed = (int64_t)txn->removes.len;
            res->records_added = txn->records_added;
            /* keep the snapshot current for the next txn on this table handle */
            if (apply_own(txn, v, &commit, err) != FL_OK) {
                fl_delta_snapshot_free(txn->snap);
                txn->snap = NULL;
                fl_err_clear(err);
            } else {
                maybe_checkpoint(txn, res);
            }
            goto done;
        }
        if (rc != FL_E_EXISTS) {
            fl_err_prefix(err, "commit %s version %lld: ", url, (long long)v);
            goto done;
        }
        /* lost the race: back off first, then read the winners, check conflicts and move the
         * snapshot forward, so the next put is made from a fresh snapshot (sleeping after the
         * update let the other writers commit during the sleep: a slow writer kept losing) */
        if (attempt < t->o.max_commit_attempts) {
            uint32_t ms = fl_store_backoff_ms(&pol, attempt);
            fl_log(t->o.log, FL_LOG_DEBUG, "delta %s: version %lld taken, retry %u in %u ms", url, (long long)v, attempt,
                   ms);
            fl_sleep_ms(ms);
        }
        conflict_ctx cc = {.txn = txn};
        rc = delta_snapshot_update_fn(t, txn->snap, conflict_cb, &cc, err);
        if (rc) {
            if (cc.duplicate) {
                txn->done = true;
                res->duplicate = true;
                res->version = cc.dup_version;
                rc = FL_E_DELTA_DUPLICATE;
            }
            /* the snapshot stopped midway through a commit: do not reuse it */
            fl_delta_snapshot_free(txn->snap);
            txn->snap = NULL;
            goto done;
        }
        if ((rc = delta_check_write_support(txn->snap, err)) != FL_OK) goto done;
        if (attempt >= t->o.max_commit_attempts) {
            rc = fl_err_set(err, FL_E_DELTA_CONFLICT, "commit %s: gave up after %u attempts (other writers kept winning)",
                            url, attempt);
            if (err) err->flags |= FL_ERR_RETRIABLE;
            goto done;
        }
    }
done:
    fl_buf_reset(&commit);
    fl_buf_reset(&schema_json);
    return rc;
}
