/* delta_checkpoint.c - reading classic, multi-part and V2 checkpoints (with sidecars)
 * and writing classic single-file checkpoints plus _last_checkpoint (module delta).
 * Reading turns each checkpoint row's non-null action struct into the same JSON text a
 * commit line would hold and feeds it through delta_action_parse, so one reconciliation
 * path serves commits and checkpoints. Parquet checkpoint files are read through ranged
 * reads (the reader's read-at mode: one column chunk in memory at a time, files up to
 * FL_DELTA_MAX_CHECKPOINT_BYTES); rows are assembled one at a time into a reset arena.
 * Writing emits protocol, metaData, txns, domains, live adds (with JSON stats) and
 * unexpired tombstones in the Parquet layout of PROTOCOL.md "Checkpoint Schema". */
#include "delta/delta_int.h"

#include "fhirlake/os.h"

#include <stdio.h>

/* ------------------------------------------------------------------ reading */

typedef struct cp_src {
    fl_store *st;
    fl_str key;
    fl_buf tmp;
} cp_src;

/* Read-at callback of the Parquet reader: bytes [off, off+len) of the checkpoint object. */
static fl_rc cp_read_at(void *ctx, uint64_t off, void *dst, size_t len, fl_err *err)
{
    cp_src *src = ctx;
    fl_buf_clear(&src->tmp);
    fl_rc rc = fl_store_get_range(src->st, src->key, off, len, &src->tmp, err);
    if (rc) return rc;
    if (src->tmp.len != len)
        return fl_err_set(err, FL_E_CORRUPT, "short read of " FL_STR_FMT " at %llu: %zu of %zu bytes",
                          FL_STR_ARG(src->key), (unsigned long long)off, src->tmp.len, len);
    if (len) memcpy(dst, src->tmp.ptr, len);
    return FL_OK;
}


/* Element node of a LIST group (3-level or legacy 2-level). */
static int list_elem(const fl_pq_schema *ps, const fl_pq_node *n)
{
    if (n->num_children < 1) return -1;
    const fl_pq_node *rep = fl_pq_schema_node(ps, n->children[0]);
    if (rep->type.phys == FL_PQ_GROUP && rep->num_children == 1) return rep->children[0];
    return n->children[0];
}

/* Write value v of schema node id as JSON. */
static void val_json(fl_jw *w, const fl_pq_schema *ps, int id, const fl_pq_val *v, unsigned depth)
{
    const fl_pq_node *n = fl_pq_schema_node(ps, id);
    if (!n || depth > 64) {
        fl_jw_null(w);
        return;
    }
    switch (v->kind) {
    case FL_PQ_V_NULL:
    case FL_PQ_V_SKIPPED: fl_jw_null(w); return;
    case FL_PQ_V_BOOL: fl_jw_bool(w, v->v.b); return;
    case FL_PQ_V_I32: fl_jw_i64(w, v->v.i32); return;
    case FL_PQ_V_I64: fl_jw_i64(w, v->v.i64); return;
    case FL_PQ_V_F32: fl_jw_f64(w, (double)v->v.f32); return;
    case FL_PQ_V_F64: fl_jw_f64(w, v->v.f64); return;
    case FL_PQ_V_BYTES: fl_jw_str(w, v->v.bytes); return;
    case FL_PQ_V_STRUCT:
        fl_jw_obj_begin(w);
        for (uint32_t i = 0; i < v->n && (int)i < n->num_children; i++) {
            if (v->v.items[i].kind == FL_PQ_V_SKIPPED) continue;
            const fl_pq_node *c = fl_pq_schema_node(ps, n->children[i]);
            fl_jw_key_c(w, c->name);
            val_json(w, ps, n->children[i], &v->v.items[i], depth + 1);
        }
        fl_jw_obj_end(w);
        return;
    case FL_PQ_V_LIST: {
        int el = n->type.logical == FL_PQ_LT_LIST ? list_elem(ps, n) : id;
        fl_jw_arr_begin(w);
        for (uint32_t i = 0; i < v->n; i++) val_json(w, ps, el, &v->v.items[i], depth + 1);
        fl_jw_arr_end(w);
        return;
    }
    case FL_PQ_V_MAP: {
        /* MAP { repeated key_value { key; value } } */
        const fl_pq_node *kv = n->num_children ? fl_pq_schema_node(ps, n->children[0]) : NULL;
        int vid = kv && kv->num_children > 1 ? kv->children[1] : id;
        fl_jw_obj_begin(w);
        for (uint32_t i = 0; i < v->n; i++) {
            const fl_pq_val *k = &v->v.items[2 * i];
            fl_jw_key(w, k->kind == FL_PQ_V_BYTES ? k->v.bytes : FL_STR(""));
            val_json(w, ps, vid, &v->v.items[2 * i + 1], depth + 1);
        }
        fl_jw_obj_end(w);
        return;
    }
    }
    fl_jw_null(w);
}

/* Fast path for the bulk of a checkpoint: an add or remove without tags or deletion
 * vector becomes an action directly (no JSON round trip). Returns false when the row
 * needs the general path. Strings point into the row's arena. */
static bool direct_action(const fl_pq_schema *ps, const fl_pq_node *an, const fl_pq_val *av, fl_arena *a,
                          delta_action *act)
{
    bool is_add = !strcmp(an->name, "add");
    if ((!is_add && strcmp(an->name, "remove") != 0) || av->kind != FL_PQ_V_STRUCT) return false;
    memset(act, 0, sizeof *act);
    act->kind = is_add ? DA_ADD : DA_REMOVE;
    fl_delta_file *f = &act->u.add;
    delta_remove *rm = &act->u.remove;
    bool has_path = false, has_size = false;
    if (is_add) {
        f->modification_time = -1;
        f->data_change = true;
        f->base_row_id = f->default_row_commit_version = -1;
    } else {
        rm->deletion_timestamp = -1;
        rm->data_change = true;
    }
    for (uint32_t k = 0; k < av->n && (int)k < an->num_children; k++) {
        const fl_pq_val *x = &av->v.items[k];
        const char *nm = fl_pq_schema_node(ps, an->children[k])->name;
        bool null = x->kind == FL_PQ_V_NULL || x->kind == FL_PQ_V_SKIPPED;
        if (!strcmp(nm, "path")) {
            if (x->kind != FL_PQ_V_BYTES) return false;
            if (is_add) f->path = x->v.bytes;
            else rm->path = x->v.bytes;
            has_path = x->v.bytes.len > 0;
        } else if (!strcmp(nm, "deletionVector") || !strcmp(nm, "tags")) {
            if (!null && !(x->kind == FL_PQ_V_MAP && x->n == 0)) return false; /* general path */
        } else if (!strcmp(nm, "dataChange")) {
            if (x->kind == FL_PQ_V_BOOL) {
                if (is_add) f->data_change = x->v.b;
                else rm->data_change = x->v.b;
            }
        } else if (!is_add) {
            if (!strcmp(nm, "deletionTimestamp") && x->kind == FL_PQ_V_I64) rm->deletion_timestamp = x->v.i64;
        } else if (!strcmp(nm, "size")) {
            if (x->kind != FL_PQ_V_I64) return false;
            f->size = x->v.i64;
            has_size = true;
        } else if (!strcmp(nm, "modificationTime")) {
            if (x->kind == FL_PQ_V_I64) f->modification_time = x->v.i64;
        } else if (!strcmp(nm, "stats")) {
            if (x->kind == FL_PQ_V_BYTES) f->stats = x->v.bytes;
        } else if (!strcmp(nm, "baseRowId")) {
            if (x->kind == FL_PQ_V_I64) f->base_row_id = x->v.i64;
        } else if (!strcmp(nm, "defaultRowCommitVersion")) {
            if (x->kind == FL_PQ_V_I64) f->default_row_commit_version = x->v.i64;
        } else if (!strcmp(nm, "partitionValues")) {
            if (null) continue;
            if (x->kind != FL_PQ_V_MAP) return false;
            fl_delta_kv *kv = x->n ? fl_arena_alloc(a, x->n * sizeof *kv) : NULL;
            if (x->n && !kv) return false;
            for (uint32_t j = 0; j < x->n; j++) {
                const fl_pq_val *key = &x->v.items[2 * j], *val = &x->v.items[2 * j + 1];
                if (key->kind != FL_PQ_V_BYTES || (val->kind != FL_PQ_V_BYTES && val->kind != FL_PQ_V_NULL)) return false;
                kv[j].key = key->v.bytes;
                kv[j].has_val = val->kind == FL_PQ_V_BYTES;
                kv[j].val = kv[j].has_val ? val->v.bytes : FL_STR_NULL;
            }
            f->partition_values = kv;
            f->n_partition_values = x->n;
        }
    }
    return has_path && (!is_add || has_size);
}

static const char *const cp_actions[] = {"txn", "add", "remove", "metaData", "protocol", "domainMetadata",
                                         "checkpointMetadata", "sidecar", NULL};

/* Read one Parquet checkpoint (or sidecar) file and apply its actions. Sidecar actions
 * are collected into sidecars (arena-owned paths) when non-NULL. */
static fl_rc read_parquet(fl_delta_table *t, fl_delta_snapshot *s, fl_str key, fl_vec *sidecars, fl_arena *sa,
                          fl_err *err)
{
    cp_src src = {.st = t->st, .key = key};
    fl_buf_init(&src.tmp, FL_DELTA_MAX_CHECKPOINT_BYTES);
    fl_rc rc;
    fl_pq_reader *r = NULL;
    fl_arena rowa, scratch;
    fl_arena_init(&rowa, 0, 0);
    fl_arena_init(&scratch, 0, 0);
    fl_buf line;
    fl_buf_init(&line, t->o.max_commit_bytes);
    /* Ranged reads: rows never point into the reader's reused chunk buffer (parquet.h,
     * "Lifetimes"), so only the column chunk being decoded is in memory. */
    fl_store_meta meta;
    FL_TRY(fl_store_head(t->st, key, &meta, err));
    if (meta.size > FL_DELTA_MAX_CHECKPOINT_BYTES)
        FL_FAIL(FL_E_LIMIT, "checkpoint file of %llu bytes is over the %zu byte limit",
                (unsigned long long)meta.size, FL_DELTA_MAX_CHECKPOINT_BYTES);
    FL_TRY(fl_pq_reader_open(cp_read_at, &src, meta.size, NULL, &r, err));
    const fl_pq_schema *ps = fl_pq_reader_get_schema(r);
    const fl_pq_node *root = fl_pq_schema_node(ps, 0);
    /* select the action columns present; skip add.stats_parsed / partitionValues_parsed */
    const char *sel[64];
    char selbuf[64][64];
    size_t nsel = 0;
    for (const char *const *a = cp_actions; *a; a++) {
        int id = fl_pq_schema_find(ps, 0, *a);
        if (id < 0) continue;
        const fl_pq_node *n = fl_pq_schema_node(ps, id);
        if (!strcmp(*a, "add") && n->type.phys == FL_PQ_GROUP) {
            for (int i = 0; i < n->num_children && nsel < 60; i++) {
                const fl_pq_node *c = fl_pq_schema_node(ps, n->children[i]);
                if (!strcmp(c->name, "stats_parsed") || !strcmp(c->name, "partitionValues_parsed")) continue;
                snprintf(selbuf[nsel], sizeof selbuf[nsel], "add.%s", c->name);
                sel[nsel] = selbuf[nsel];
                nsel++;
            }
        } else if (nsel < 60) {
            sel[nsel++] = *a;
        }
    }
    if (nsel == 0)
        FL_FAIL(FL_E_DELTA_LOG, "%s/" FL_STR_FMT ": no action columns in checkpoint", fl_store_get_url(t->st),
                FL_STR_ARG(key));
    FL_TRY(fl_pq_reader_select(r, sel, nsel, err));
    {
        /* most checkpoint rows are adds: size the file vector once */
        int64_t nrows = fl_pq_reader_num_rows(r);
        if (nrows > 0 && (uint64_t)nrows < s->max_files) (void)fl_vec_reserve(&s->files, (size_t)nrows);
    }
    for (int64_t row = 0;; row++) {
        fl_arena_reset(&rowa);
        fl_pq_val *v = NULL;
        rc = fl_pq_reader_next_row(r, &rowa, &v, err);
        if (rc == FL_E_EOF) {
            rc = FL_OK;
            break;
        }
        if (rc) goto done;
        for (uint32_t i = 0; i < v->n && (int)i < root->num_children; i++) {
            const fl_pq_val *av = &v->v.items[i];
            if (av->kind == FL_PQ_V_NULL || av->kind == FL_PQ_V_SKIPPED) continue;
            const fl_pq_node *an = fl_pq_schema_node(ps, root->children[i]);
            delta_action act;
            if (direct_action(ps, an, av, &rowa, &act)) {
                if ((rc = delta_snapshot_apply(s, &act, err)) != FL_OK) goto done;
                continue;
            }
            fl_buf_clear(&line);
            fl_jw w;
            fl_jw_init(&w, &line);
            fl_jw_obj_begin(&w);
            fl_jw_key_c(&w, an->name);
            val_json(&w, ps, root->children[i], av, 0);
            fl_jw_obj_end(&w);
            if (line.rc) FL_FAIL(line.rc, "checkpoint row %lld too large", (long long)row);
            fl_arena_reset(&scratch);
            rc = delta_action_parse(&scratch, line.ptr, line.len, &act, err);
            if (!rc && act.kind == DA_SIDECAR && sidecars) {
                fl_str p = fl_arena_str_dup(sa, act.u.add.path);
                if (!p.ptr || fl_vec_push(sidecars, &p)) rc = fl_err_set(err, FL_E_NOMEM, "out of memory");
            }
            /* checkpoints hold reconciled state: apply adds/removes and the rest as-is */
            if (!rc) rc = delta_snapshot_apply(s, &act, err);
            if (rc) {
                fl_err_prefix(err, "%s/" FL_STR_FMT " row %lld: ", fl_store_get_url(t->st), FL_STR_ARG(key),
                              (long long)row);
                goto done;
            }
        }
    }
done:
    if (rc && err && !strstr(err->msg, fl_store_get_url(t->st)))
        fl_err_prefix(err, "checkpoint %s/" FL_STR_FMT ": ", fl_store_get_url(t->st), FL_STR_ARG(key));
    fl_pq_reader_free(r);
    fl_buf_reset(&src.tmp);
    fl_buf_reset(&line);
    fl_arena_fini(&rowa);
    fl_arena_fini(&scratch);
    return rc;
}

/* V2 checkpoint in JSON: NDJSON actions (sidecar actions name the Parquet sidecars). */
static fl_rc read_json_cp(fl_delta_table *t, fl_delta_snapshot *s, fl_str key, fl_vec *sidecars, fl_arena *sa,
                          fl_err *err)
{
    fl_buf buf;
    fl_buf_init(&buf, 0);
    fl_arena scratch;
    fl_arena_init(&scratch, 0, 0);
    fl_rc rc = delta_read_object(t, key, &buf, err);
    fl_str body = fl_buf_str(&buf);
    const char *p = body.ptr, *end = body.ptr + body.len;
    uint32_t line_no = 0;
    while (!rc && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line_no++;
        if (le > p) {
            delta_action act;
            rc = delta_action_parse(&scratch, p, (size_t)(le - p), &act, err);
            if (!rc && act.kind == DA_SIDECAR) {
                fl_str sp = fl_arena_str_dup(sa, act.u.add.path);
                if (!sp.ptr || fl_vec_push(sidecars, &sp)) rc = fl_err_set(err, FL_E_NOMEM, "out of memory");
            }
            if (!rc) rc = delta_snapshot_apply(s, &act, err);
            if (rc)
                fl_err_prefix(err, "%s/" FL_STR_FMT " line %u: ", fl_store_get_url(t->st), FL_STR_ARG(key), line_no);
        }
        p = le + 1;
    }
    fl_arena_fini(&scratch);
    fl_buf_reset(&buf);
    return rc;
}

fl_rc delta_checkpoint_read(fl_delta_table *t, fl_delta_snapshot *s, const delta_checkpoint_ref *cp, fl_err *err)
{
    fl_rc rc = FL_OK;
    fl_arena sa;
    fl_arena_init(&sa, 0, 0);
    fl_vec sidecars;
    fl_vec_init(&sidecars, sizeof(fl_str));
    char key[FL_STORE_MAX_KEY + 1];
    if (cp->kind == 1) {
        FL_TRY(read_parquet(t, s, cp->key, NULL, &sa, err));
    } else if (cp->kind == 2) {
        for (uint32_t p = 1; p <= cp->parts; p++) {
            snprintf(key, sizeof key, DELTA_LOG_DIR "%020lld.checkpoint.%010u.%010u.parquet", (long long)cp->version, p,
                     cp->parts);
            FL_TRY(read_parquet(t, s, fl_str_c(key), NULL, &sa, err));
        }
    } else {
        if (fl_str_ends_with(cp->key, FL_STR(".json"))) FL_TRY(read_json_cp(t, s, cp->key, &sidecars, &sa, err));
        else FL_TRY(read_parquet(t, s, cp->key, &sidecars, &sa, err));
        for (size_t i = 0; i < sidecars.len; i++) {
            fl_str p = FL_VEC_AT(&sidecars, fl_str, i);
            if (memchr(p.ptr, '/', p.len))
                FL_FAIL(FL_E_UNSUPPORTED, "sidecar path " FL_STR_FMT " outside _delta_log/_sidecars", FL_STR_ARG(p));
            snprintf(key, sizeof key, DELTA_LOG_DIR "_sidecars/" FL_STR_FMT, FL_STR_ARG(p));
            FL_TRY(read_parquet(t, s, fl_str_c(key), NULL, &sa, err));
        }
    }
    s->version = cp->version;
done:
    fl_vec_reset(&sidecars);
    fl_arena_fini(&sa);
    return rc;
}

int64_t delta_last_checkpoint_version(fl_delta_table *t)
{
    fl_buf b;
    fl_buf_init(&b, (size_t)1 << 20);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    int64_t v = -1;
    fl_err e;
    if (fl_store_get(t->st, FL_STR(DELTA_LOG_DIR "_last_checkpoint"), &b, NULL, &e) == FL_OK) {
        fl_json_val *root = NULL;
        if (fl_json_parse(b.ptr, b.len, NULL, &a, &root, NULL, &e) == FL_OK) {
            int64_t x;
            if (fl_json_as_i64(fl_json_get_c(root, "version"), &x) && x >= 0) v = x;
        }
    }
    fl_arena_fini(&a);
    fl_buf_reset(&b);
    return v;
}

/* ------------------------------------------------------------------ writing */

static void add_str_map(fl_pq_schema *ps, int parent, const char *name)
{
    fl_pq_type v = fl_pq_t_string();
    fl_pq_schema_add_map(ps, parent, name, FL_PQ_OPTIONAL, fl_pq_t_string(), FL_PQ_OPTIONAL, &v);
}

static void add_dv(fl_pq_schema *ps, int parent)
{
    int g = fl_pq_schema_add_group(ps, parent, "deletionVector", FL_PQ_OPTIONAL, FL_PQ_LT_NONE);
    fl_pq_schema_add(ps, g, "storageType", FL_PQ_OPTIONAL, fl_pq_t_string());
    fl_pq_schema_add(ps, g, "pathOrInlineDv", FL_PQ_OPTIONAL, fl_pq_t_string());
    fl_pq_schema_add(ps, g, "offset", FL_PQ_OPTIONAL, fl_pq_t_i32());
    fl_pq_schema_add(ps, g, "sizeInBytes", FL_PQ_OPTIONAL, fl_pq_t_i32());
    fl_pq_schema_add(ps, g, "cardinality", FL_PQ_OPTIONAL, fl_pq_t_i64());
    fl_pq_schema_add(ps, g, "maxRowIndex", FL_PQ_OPTIONAL, fl_pq_t_i64());
}

static fl_rc cp_schema(fl_pq_schema **out, fl_err *err)
{
    fl_pq_schema *ps = NULL;
    fl_rc rc = fl_pq_schema_new(&ps, err);
    if (rc) return rc;
    fl_pq_type str = fl_pq_t_string();
    int g = fl_pq_schema_add_group(ps, 0, "txn", FL_PQ_OPTIONAL, FL_PQ_LT_NONE);
    fl_pq_schema_add(ps, g, "appId", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add(ps, g, "version", FL_PQ_OPTIONAL, fl_pq_t_i64());
    fl_pq_schema_add(ps, g, "lastUpdated", FL_PQ_OPTIONAL, fl_pq_t_i64());
    g = fl_pq_schema_add_group(ps, 0, "add", FL_PQ_OPTIONAL, FL_PQ_LT_NONE);
    fl_pq_schema_add(ps, g, "path", FL_PQ_OPTIONAL, str);
    add_str_map(ps, g, "partitionValues");
    fl_pq_schema_add(ps, g, "size", FL_PQ_OPTIONAL, fl_pq_t_i64());
    fl_pq_schema_add(ps, g, "modificationTime", FL_PQ_OPTIONAL, fl_pq_t_i64());
    fl_pq_schema_add(ps, g, "dataChange", FL_PQ_OPTIONAL, fl_pq_t_bool());
    add_str_map(ps, g, "tags");
    add_dv(ps, g);
    fl_pq_schema_add(ps, g, "baseRowId", FL_PQ_OPTIONAL, fl_pq_t_i64());
    fl_pq_schema_add(ps, g, "defaultRowCommitVersion", FL_PQ_OPTIONAL, fl_pq_t_i64());
    fl_pq_schema_add(ps, g, "stats", FL_PQ_OPTIONAL, str);
    g = fl_pq_schema_add_group(ps, 0, "remove", FL_PQ_OPTIONAL, FL_PQ_LT_NONE);
    fl_pq_schema_add(ps, g, "path", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add(ps, g, "deletionTimestamp", FL_PQ_OPTIONAL, fl_pq_t_i64());
    fl_pq_schema_add(ps, g, "dataChange", FL_PQ_OPTIONAL, fl_pq_t_bool());
    add_dv(ps, g);
    g = fl_pq_schema_add_group(ps, 0, "metaData", FL_PQ_OPTIONAL, FL_PQ_LT_NONE);
    fl_pq_schema_add(ps, g, "id", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add(ps, g, "name", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add(ps, g, "description", FL_PQ_OPTIONAL, str);
    int f = fl_pq_schema_add_group(ps, g, "format", FL_PQ_OPTIONAL, FL_PQ_LT_NONE);
    fl_pq_schema_add(ps, f, "provider", FL_PQ_OPTIONAL, str);
    add_str_map(ps, f, "options");
    fl_pq_schema_add(ps, g, "schemaString", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add_list(ps, g, "partitionColumns", FL_PQ_OPTIONAL, FL_PQ_OPTIONAL, &str);
    add_str_map(ps, g, "configuration");
    fl_pq_schema_add(ps, g, "createdTime", FL_PQ_OPTIONAL, fl_pq_t_i64());
    g = fl_pq_schema_add_group(ps, 0, "protocol", FL_PQ_OPTIONAL, FL_PQ_LT_NONE);
    fl_pq_schema_add(ps, g, "minReaderVersion", FL_PQ_OPTIONAL, fl_pq_t_i32());
    fl_pq_schema_add(ps, g, "minWriterVersion", FL_PQ_OPTIONAL, fl_pq_t_i32());
    fl_pq_schema_add_list(ps, g, "readerFeatures", FL_PQ_OPTIONAL, FL_PQ_OPTIONAL, &str);
    fl_pq_schema_add_list(ps, g, "writerFeatures", FL_PQ_OPTIONAL, FL_PQ_OPTIONAL, &str);
    g = fl_pq_schema_add_group(ps, 0, "domainMetadata", FL_PQ_OPTIONAL, FL_PQ_LT_NONE);
    fl_pq_schema_add(ps, g, "domain", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add(ps, g, "configuration", FL_PQ_OPTIONAL, str);
    fl_pq_schema_add(ps, g, "removed", FL_PQ_OPTIONAL, fl_pq_t_bool());
    if ((rc = fl_pq_schema_check(ps, err)) != FL_OK) {
        fl_pq_schema_free(ps);
        return rc;
    }
    *out = ps;
    return FL_OK;
}

enum { CP_TXN, CP_ADD, CP_REMOVE, CP_META, CP_PROTO, CP_DOMAIN, CP_NCOLS };

static void put_s(fl_pq_writer *w, fl_str s, bool present)
{
    if (present) fl_pq_writer_put_str(w, s);
    else fl_pq_writer_put_null(w);
}

static void put_kvs(fl_pq_writer *w, const fl_delta_kv *kv, size_t n)
{
    fl_pq_writer_begin_map(w);
    for (size_t i = 0; i < n; i++) {
        fl_pq_writer_put_str(w, kv[i].key);
        put_s(w, kv[i].val, kv[i].has_val);
    }
    fl_pq_writer_end(w);
}

static void put_strs(fl_pq_writer *w, const fl_str *s, size_t n, bool present)
{
    if (!present) {
        fl_pq_writer_put_null(w);
        return;
    }
    fl_pq_writer_begin_list(w);
    for (size_t i = 0; i < n; i++) fl_pq_writer_put_str(w, s[i]);
    fl_pq_writer_end(w);
}

/* DV JSON text -> struct value (parse the object fields). */
static void put_dv(fl_pq_writer *w, fl_str dv, fl_arena *scratch)
{
    fl_json_val *v = NULL;
    if (!dv.len || fl_json_parse(dv.ptr, dv.len, NULL, scratch, &v, NULL, NULL) || !fl_json_is_obj(v)) {
        fl_pq_writer_put_null(w);
        return;
    }
    fl_pq_writer_begin_struct(w);
    const fl_json_val *x;
    int64_t i;
    x = fl_json_get_c(v, "storageType");
    put_s(w, fl_json_str(x), fl_json_is_str(x));
    x = fl_json_get_c(v, "pathOrInlineDv");
    put_s(w, fl_json_str(x), fl_json_is_str(x));
    static const char *const ints[] = {"offset", "sizeInBytes"};
    for (int k = 0; k < 2; k++) {
        if (fl_json_as_i64(fl_json_get_c(v, ints[k]), &i)) fl_pq_writer_put_i32(w, (int32_t)i);
        else fl_pq_writer_put_null(w);
    }
    static const char *const longs[] = {"cardinality", "maxRowIndex"};
    for (int k = 0; k < 2; k++) {
        if (fl_json_as_i64(fl_json_get_c(v, longs[k]), &i)) fl_pq_writer_put_i64(w, i);
        else fl_pq_writer_put_null(w);
    }
    fl_pq_writer_end(w);
}

static void put_opt_i64(fl_pq_writer *w, int64_t v)
{
    if (v >= 0) fl_pq_writer_put_i64(w, v);
    else fl_pq_writer_put_null(w);
}

/* Emit nulls for every action column except `col`, whose value fn writes. */
static void nulls_before(fl_pq_writer *w, int col)
{
    for (int i = 0; i < col; i++) fl_pq_writer_put_null(w);
}
static fl_rc nulls_after(fl_pq_writer *w, int col)
{
    for (int i = col + 1; i < CP_NCOLS; i++) fl_pq_writer_put_null(w);
    return fl_pq_writer_end_row(w);
}

static fl_rc cp_sink(void *ctx, const void *data, size_t len, fl_err *err)
{
    return fl_store_writer_write(ctx, data, len, err);
}

fl_rc delta_checkpoint_write(fl_delta_table *t, const fl_delta_snapshot *s, fl_err *err)
{
    fl_pq_schema *ps = NULL;
    fl_pq_writer *w = NULL;
    fl_store_writer *sw = NULL;
    fl_arena scratch;
    fl_arena_init(&scratch, 0, 0);
    char key[64];
    snprintf(key, sizeof key, DELTA_LOG_DIR "%020lld.checkpoint.parquet", (long long)s->version);
    fl_rc rc = cp_schema(&ps, err);
    if (rc) goto done;
    fl_pq_write_opts o;
    fl_pq_write_opts_default(&o);
    o.codec = FL_PQ_SNAPPY;
    FL_TRY(fl_store_writer_open(t->st, fl_str_c(key), 0, &sw, err));
    FL_TRY(fl_pq_writer_new(ps, &o, cp_sink, sw, &w, err));
    int64_t rows = 0;
    /* protocol */
    nulls_before(w, CP_PROTO);
    fl_pq_writer_begin_struct(w);
    fl_pq_writer_put_i32(w, s->proto.min_reader);
    fl_pq_writer_put_i32(w, s->proto.min_writer);
    put_strs(w, s->proto.reader_features, s->proto.n_reader_features, s->proto.min_reader >= 3);
    put_strs(w, s->proto.writer_features, s->proto.n_writer_features, s->proto.min_writer >= 7);
    fl_pq_writer_end(w);
    nulls_after(w, CP_PROTO);
    rows++;
    /* metaData */
    const fl_delta_metadata *m = &s->meta;
    nulls_before(w, CP_META);
    fl_pq_writer_begin_struct(w);
    fl_pq_writer_put_str(w, m->id);
    put_s(w, m->name, m->name.len > 0);
    put_s(w, m->description, m->description.len > 0);
    fl_pq_writer_begin_struct(w);
    fl_pq_writer_put_str(w, m->provider.len ? m->provider : FL_STR("parquet"));
    put_kvs(w, NULL, 0);
    fl_pq_writer_end(w);
    fl_pq_writer_put_str(w, m->schema_string);
    put_strs(w, m->partition_columns, m->n_partition_columns, true);
    put_kvs(w, m->configuration, m->n_configuration);
    put_opt_i64(w, m->created_time);
    fl_pq_writer_end(w);
    nulls_after(w, CP_META);
    rows++;
    for (size_t i = 0; i < s->txns.len; i++) {
        const fl_delta_app_txn *tx = &FL_VEC_AT(&s->txns, fl_delta_app_txn, i);
        fl_pq_writer_begin_struct(w);
        fl_pq_writer_put_str(w, tx->app_id);
        fl_pq_writer_put_i64(w, tx->version);
        put_opt_i64(w, tx->last_updated);
        fl_pq_writer_end(w);
        nulls_after(w, CP_TXN);
        rows++;
    }
    for (size_t i = 0; i < s->domains.len; i++) {
        const fl_delta_domain *d = &FL_VEC_AT(&s->domains, fl_delta_domain, i);
        nulls_before(w, CP_DOMAIN);
        fl_pq_writer_begin_struct(w);
        fl_pq_writer_put_str(w, d->domain);
        fl_pq_writer_put_str(w, d->configuration);
        fl_pq_writer_put_bool(w, false);
        fl_pq_writer_end(w);
        nulls_after(w, CP_DOMAIN);
        rows++;
    }
    int64_t adds = 0;
    for (size_t i = 0; i < s->files.len; i++) {
        const fl_delta_file *f = &FL_VEC_AT(&s->files, delta_snap_file, i).f;
        fl_arena_reset(&scratch);
        nulls_before(w, CP_ADD);
        fl_pq_writer_begin_struct(w);
        fl_pq_writer_put_str(w, f->path);
        put_kvs(w, f->partition_values, f->n_partition_values);
        fl_pq_writer_put_i64(w, f->size);
        fl_pq_writer_put_i64(w, f->modification_time);
        fl_pq_writer_put_bool(w, false); /* checkpoints carry dataChange=false */
        fl_pq_writer_put_null(w);        /* tags: kept only in commits */
        put_dv(w, f->dv, &scratch);
        put_opt_i64(w, f->base_row_id);
        put_opt_i64(w, f->default_row_commit_version);
        put_s(w, f->stats, f->stats.len > 0);
        fl_pq_writer_end(w);
        if ((rc = nulls_after(w, CP_ADD)) != FL_OK) break;
        rows++;
        adds++;
    }
    int64_t now = fl_clock_now_us() / 1000;
    int64_t keep = delta_config_interval_ms(s, "delta.deletedFileRetentionDuration", 7 * 86400000LL);
    for (size_t i = 0; !rc && i < s->tombs.len; i++) {
        const delta_tomb *tb = &FL_VEC_AT(&s->tombs, delta_tomb, i);
        if (tb->deletion_ts >= 0 && tb->deletion_ts < now - keep) continue; /* expired */
        fl_arena_reset(&scratch);
        nulls_before(w, CP_REMOVE);
        fl_pq_writer_begin_struct(w);
        fl_pq_writer_put_str(w, tb->path);
        put_opt_i64(w, tb->deletion_ts);
        fl_pq_writer_put_bool(w, false);
        put_dv(w, tb->dv, &scratch);
        fl_pq_writer_end(w);
        if ((rc = nulls_after(w, CP_REMOVE)) != FL_OK) break;
        rows++;
    }
    FL_TRY(fl_pq_writer_finish(w, err));
    fl_store_meta meta;
    rc = fl_store_writer_commit(sw, &meta, err);
    sw = NULL;
    if (rc) goto done;
    /* _last_checkpoint is a hint: replaced in place (readers tolerate a stale one) */
    char lc[256];
    int n = snprintf(lc, sizeof lc, "{\"version\":%lld,\"size\":%lld,\"sizeInBytes\":%llu,\"numOfAddFiles\":%lld}",
                     (long long)s->version, (long long)rows, (unsigned long long)meta.size, (long long)adds);
    rc = fl_store_put(t->st, FL_STR(DELTA_LOG_DIR "_last_checkpoint"), lc, (size_t)n, 0, err);
done:
    if (rc && w && fl_pq_writer_rc(w) && err && err->code == FL_OK) *err = *fl_pq_writer_err(w);
    if (rc) fl_err_prefix(err, "checkpoint %s/%s: ", fl_store_get_url(t->st), key);
    fl_pq_writer_free(w);
    fl_store_writer_abort(sw);
    fl_pq_schema_free(ps);
    fl_arena_fini(&scratch);
    return rc;
}

fl_rc fl_delta_snapshot_write_checkpoint(fl_delta_table *t, const fl_delta_snapshot *s, fl_err *err)
{
    for (size_t i = 0; i < s->proto.n_writer_features; i++)
        if (fl_str_eq_c(s->proto.writer_features[i], "v2Checkpoint"))
            return fl_err_set(err, FL_E_DELTA_PROTOCOL,
                              "table uses v2Checkpoint: classic checkpoints are not allowed and V2 ones cannot be "
                              "written yet");
    return delta_checkpoint_write(t, s, err);
}
