/* delta_snapshot.c - log replay into a snapshot, incremental update, time travel and
 * the snapshot getters (module delta).
 * Replay is forward: commits are read one at a time (bounded by max_commit_bytes), each
 * line parsed into a scratch arena that is reset per commit, and reconciled into hash maps
 * (file key -> live add, appId -> txn). Only live state is kept; when the strings of
 * cancelled files exceed half of the arena, the snapshot is compacted into a fresh arena,
 * so memory stays proportional to the live table, not to the log length.
 * Invariant: a returned snapshot has a protocol, a metaData and a parsed schema, and its
 * versions from the start of replay to `version` were contiguous. */
#include "delta/delta_int.h"

#include <stdio.h>
#include <stdlib.h>

#define SNAP_COMPACT_MIN ((size_t)8 << 20)

fl_rc delta_snapshot_new(size_t max_files, fl_delta_snapshot **out, fl_err *err)
{
    fl_delta_snapshot *s = fl_calloc(1, sizeof *s);
    if (!s) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    fl_arena_init(&s->a, (size_t)1 << 20, 0); /* big blocks: snapshots hold many small strings */
    fl_vec_init(&s->files, sizeof(delta_snap_file));
    fl_vec_init(&s->txns, sizeof(fl_delta_app_txn));
    fl_vec_init(&s->domains, sizeof(fl_delta_domain));
    fl_vec_init(&s->tombs, sizeof(delta_tomb));
    fl_map_init(&s->tomb_idx);
    fl_map_init(&s->file_idx);
    fl_map_init(&s->txn_idx);
    s->version = -1;
    s->max_files = max_files ? max_files : 50000000;
    *out = s;
    return FL_OK;
}

void fl_delta_snapshot_free(fl_delta_snapshot *s)
{
    if (!s) return;
    fl_delta_schema_free(s->schema);
    fl_vec_reset(&s->files);
    fl_vec_reset(&s->txns);
    fl_vec_reset(&s->domains);
    fl_vec_reset(&s->tombs);
    fl_map_reset(&s->tomb_idx);
    fl_map_reset(&s->file_idx);
    fl_map_reset(&s->txn_idx);
    fl_arena_fini(&s->a);
    fl_free(s);
}

static size_t file_bytes(const fl_delta_file *f)
{
    size_t n = f->path.len + f->stats.len + f->dv.len + f->tags.len + sizeof *f;
    for (size_t i = 0; i < f->n_partition_values; i++) n += f->partition_values[i].key.len + f->partition_values[i].val.len + sizeof(fl_delta_kv);
    return n;
}

static fl_rc oom(fl_err *err) { return fl_err_set(err, FL_E_NOMEM, "out of memory replaying the delta log"); }

/* Remove files[i] by moving the last one into its slot. */
static void drop_file(fl_delta_snapshot *s, size_t i)
{
    size_t last = s->files.len - 1;
    delta_snap_file *sf = &FL_VEC_AT(&s->files, delta_snap_file, i);
    s->garbage += file_bytes(&sf->f) + sf->key.len;
    fl_map_del(&s->file_idx, sf->key);
    if (i != last) {
        *sf = FL_VEC_AT(&s->files, delta_snap_file, last);
        fl_map_put(&s->file_idx, sf->key, (void *)(uintptr_t)(i + 1), NULL);
    }
    s->files.len--;
}

static void drop_tomb(fl_delta_snapshot *s, fl_str key)
{
    bool found = false;
    uintptr_t idx = (uintptr_t)fl_map_get(&s->tomb_idx, key, &found);
    if (!found) return;
    size_t i = idx - 1, last = s->tombs.len - 1;
    delta_tomb *t = &FL_VEC_AT(&s->tombs, delta_tomb, i);
    s->garbage += t->path.len + t->dv.len + t->key.len + sizeof *t;
    fl_map_del(&s->tomb_idx, t->key);
    if (i != last) {
        *t = FL_VEC_AT(&s->tombs, delta_tomb, last);
        fl_map_put(&s->tomb_idx, t->key, (void *)(uintptr_t)(i + 1), NULL);
    }
    s->tombs.len--;
}

static fl_rc add_tomb(fl_delta_snapshot *s, const delta_action *act, fl_str key, fl_err *err)
{
    bool found = false;
    uintptr_t idx = (uintptr_t)fl_map_get(&s->tomb_idx, key, &found);
    if (found) {
        FL_VEC_AT(&s->tombs, delta_tomb, idx - 1).deletion_ts = act->u.remove.deletion_timestamp;
        return FL_OK;
    }
    delta_tomb t = {.deletion_ts = act->u.remove.deletion_timestamp};
    t.path = fl_arena_str_dup(&s->a, act->u.remove.path);
    t.dv = act->u.remove.dv.len ? fl_arena_str_dup(&s->a, act->u.remove.dv) : FL_STR_NULL;
    t.key = key.ptr == act->u.remove.path.ptr ? t.path : fl_arena_str_dup(&s->a, key);
    if (!t.path.ptr || !t.key.ptr || fl_vec_push(&s->tombs, &t) ||
        fl_map_put(&s->tomb_idx, t.key, (void *)(uintptr_t)s->tombs.len, NULL))
        return fl_err_set(err, FL_E_NOMEM, "out of memory replaying the delta log");
    return FL_OK;
}

fl_rc delta_snapshot_apply(fl_delta_snapshot *s, const delta_action *act, fl_err *err)
{
    switch (act->kind) {
    case DA_PROTOCOL:
        if (!delta_proto_copy(&s->a, &act->u.proto, &s->proto)) return oom(err);
        s->has_proto = true;
        return FL_OK;
    case DA_METADATA:
        if (!delta_meta_copy(&s->a, &act->u.meta, &s->meta)) return oom(err);
        s->has_meta = true;
        fl_delta_schema_free(s->schema); /* re-parsed by finish */
        s->schema = NULL;
        return FL_OK;
    case DA_ADD: {
        const fl_delta_file *src = &act->u.add;
        delta_snap_file sf;
        if (!delta_file_copy(&s->a, src, &sf.f)) return oom(err);
        sf.key = delta_file_key(&s->a, sf.f.path, act->dv_id);
        if (!sf.key.ptr) return oom(err);
        /* one map operation in the common case (a new file): insert, and on a hit put the
         * old index back and replace that entry instead */
        void *prev = NULL;
        if (fl_map_put(&s->file_idx, sf.key, (void *)(uintptr_t)(s->files.len + 1), &prev)) return oom(err);
        if (prev) {
            uintptr_t idx = (uintptr_t)prev;
            delta_snap_file *old = &FL_VEC_AT(&s->files, delta_snap_file, idx - 1);
            s->garbage += file_bytes(&old->f) + old->key.len;
            *old = sf;
            fl_map_put(&s->file_idx, old->key, prev, NULL); /* cannot fail: the key is present */
            return FL_OK;
        }
        if (s->files.len >= s->max_files) {
            fl_map_del(&s->file_idx, sf.key);
            return fl_err_set(err, FL_E_LIMIT, "table has more than %zu live files (max_files)", s->max_files);
        }
        if (fl_vec_push(&s->files, &sf)) {
            fl_map_del(&s->file_idx, sf.key);
            return oom(err);
        }
        if (s->tombs.len) drop_tomb(s, sf.key);
        return FL_OK;
    }
    case DA_REMOVE: {
        fl_arena tmp;
        fl_arena_init(&tmp, 1024, 0);
        fl_str key = delta_file_key(&tmp, act->u.remove.path, act->dv_id);
        bool found = false;
        uintptr_t idx = key.ptr ? (uintptr_t)fl_map_get(&s->file_idx, key, &found) : 0;
        if (found) drop_file(s, idx - 1);
        fl_rc rc = key.ptr ? add_tomb(s, act, key, err) : oom(err);
        fl_arena_fini(&tmp);
        return rc;
    }
    case DA_TXN: {
        bool found = false;
        uintptr_t idx = (uintptr_t)fl_map_get(&s->txn_idx, act->u.txn.app_id, &found);
        if (found) {
            fl_delta_app_txn *t = &FL_VEC_AT(&s->txns, fl_delta_app_txn, idx - 1);
            t->version = act->u.txn.version;
            t->last_updated = act->u.txn.last_updated;
            return FL_OK;
        }
        fl_delta_app_txn t = act->u.txn;
        t.app_id = fl_arena_str_dup(&s->a, act->u.txn.app_id);
        if (!t.app_id.ptr && act->u.txn.app_id.len) return oom(err);
        if (fl_vec_push(&s->txns, &t) || fl_map_put(&s->txn_idx, t.app_id, (void *)(uintptr_t)s->txns.len, NULL))
            return oom(err);
        return FL_OK;
    }
    case DA_DOMAIN: {
        for (size_t i = 0; i < s->domains.len; i++) {
            fl_delta_domain *d = &FL_VEC_AT(&s->domains, fl_delta_domain, i);
            if (!fl_str_eq(d->domain, act->u.domain.domain)) continue;
            if (act->u.domain.removed) {
                *d = FL_VEC_AT(&s->domains, fl_delta_domain, s->domains.len - 1);
                s->domains.len--;
            } else {
                d->configuration = fl_arena_str_dup(&s->a, act->u.domain.configuration);
            }
            return FL_OK;
        }
        if (act->u.domain.removed) return FL_OK;
        fl_delta_domain d = act->u.domain;
        d.domain = fl_arena_str_dup(&s->a, d.domain);
        d.configuration = fl_arena_str_dup(&s->a, d.configuration);
        if (fl_vec_push(&s->domains, &d)) return oom(err);
        return FL_OK;
    }
    default:
        return FL_OK; /* commitInfo, cdc, unknown: not part of the table state */
    }
}

fl_rc delta_snapshot_apply_commit(fl_delta_table *t, fl_delta_snapshot *s, int64_t v, delta_commit_info *ci,
                                  delta_action_fn fn, void *fn_ctx, fl_err *err)
{
    char key[48];
    fl_delta_commit_key(v, key);
    fl_buf buf;
    fl_buf_init(&buf, 0);
    fl_arena scratch;
    fl_arena_init(&scratch, 0, 0);
    fl_rc rc = FL_OK;
    if (ci) memset(ci, 0xff, sizeof *ci), ci->operation = FL_STR_NULL, ci->txn_id = FL_STR_NULL;
    rc = delta_read_object(t, fl_str_c(key), &buf, err);
    if (rc) {
        if (rc == FL_E_NOT_FOUND)
            fl_err_set(err, FL_E_DELTA_LOG, "%s: %s disappeared while reading the log (log cleanup?)",
                       fl_store_get_url(t->st), key);
        rc = err ? err->code : rc;
        goto done;
    }
    fl_str body = fl_buf_str(&buf);
    const char *p = body.ptr, *end = body.ptr + body.len;
    uint32_t line_no = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line_no++;
        size_t len = (size_t)(le - p);
        if (len && p[len - 1] == '\r') len--;
        bool blank = true;
        for (size_t i = 0; i < len && blank; i++) blank = p[i] == ' ' || p[i] == '\t';
        if (!blank) {
            delta_action act;
            rc = delta_action_parse(&scratch, p, len, &act, err);
            if (!rc && fn) {
                rc = fn(fn_ctx, v, &act, err);
                if (rc) goto done; /* the callback's message stands as is */
            }
            if (!rc) rc = delta_snapshot_apply(s, &act, err);
            if (rc) {
                fl_err_prefix(err, "%s/%s line %u: ", fl_store_get_url(t->st), key, line_no);
                goto done;
            }
            if (act.kind == DA_COMMIT_INFO && ci) *ci = act.u.ci;
        }
        p = le + 1;
    }
    if (ci) ci->operation = FL_STR_NULL, ci->txn_id = FL_STR_NULL; /* point into buf: not kept */
    s->version = v;
done:
    fl_arena_fini(&scratch);
    fl_buf_reset(&buf);
    return rc;
}

/* Move the live state into a fresh arena (drops strings of cancelled files). */
static fl_rc compact(fl_delta_snapshot *s, fl_err *err)
{
    fl_arena na;
    fl_arena_init(&na, 0, 0);
    fl_map_reset(&s->file_idx);
    fl_map_init(&s->file_idx);
    fl_map_reset(&s->txn_idx);
    fl_map_init(&s->txn_idx);
    bool ok = true;
    if (s->has_proto) ok = ok && delta_proto_copy(&na, &s->proto, &s->proto);
    if (s->has_meta) ok = ok && delta_meta_copy(&na, &s->meta, &s->meta);
    for (size_t i = 0; ok && i < s->files.len; i++) {
        delta_snap_file *sf = &FL_VEC_AT(&s->files, delta_snap_file, i);
        bool plain = sf->key.len == sf->f.path.len;
        ok = delta_file_copy(&na, &sf->f, &sf->f);
        if (!ok) break;
        sf->key = plain ? sf->f.path : fl_arena_str_dup(&na, sf->key);
        ok = sf->key.ptr && fl_map_put(&s->file_idx, sf->key, (void *)(uintptr_t)(i + 1), NULL) == FL_OK;
    }
    for (size_t i = 0; ok && i < s->txns.len; i++) {
        fl_delta_app_txn *t = &FL_VEC_AT(&s->txns, fl_delta_app_txn, i);
        t->app_id = fl_arena_str_dup(&na, t->app_id);
        ok = fl_map_put(&s->txn_idx, t->app_id, (void *)(uintptr_t)(i + 1), NULL) == FL_OK;
    }
    fl_map_reset(&s->tomb_idx);
    fl_map_init(&s->tomb_idx);
    for (size_t i = 0; ok && i < s->tombs.len; i++) {
        delta_tomb *tb = &FL_VEC_AT(&s->tombs, delta_tomb, i);
        bool plain = tb->key.len == tb->path.len;
        tb->path = fl_arena_str_dup(&na, tb->path);
        tb->dv = tb->dv.len ? fl_arena_str_dup(&na, tb->dv) : FL_STR_NULL;
        tb->key = plain ? tb->path : fl_arena_str_dup(&na, tb->key);
        ok = tb->path.ptr && tb->key.ptr && fl_map_put(&s->tomb_idx, tb->key, (void *)(uintptr_t)(i + 1), NULL) == FL_OK;
    }
    for (size_t i = 0; ok && i < s->domains.len; i++) {
        fl_delta_domain *d = &FL_VEC_AT(&s->domains, fl_delta_domain, i);
        d->domain = fl_arena_str_dup(&na, d->domain);
        d->configuration = fl_arena_str_dup(&na, d->configuration);
    }
    /* on failure the old arena still holds everything the copies did not reach: keep both */
    if (!ok) {
        fl_arena_fini(&na);
        return oom(err);
    }
    fl_arena_fini(&s->a);
    s->a = na;
    s->garbage = 0;
    return FL_OK;
}

static int file_cmp(const void *a, const void *b)
{
    const delta_snap_file *x = a, *y = b;
    int c = fl_str_cmp(x->f.path, y->f.path);
    return c ? c : fl_str_cmp(x->key, y->key);
}

fl_rc delta_snapshot_finish(fl_delta_table *t, fl_delta_snapshot *s, fl_err *err)
{
    const char *url = fl_store_get_url(t->st);
    if (!s->has_proto)
        return fl_err_set(err, FL_E_DELTA_LOG, "%s: no protocol action found in the log up to version %lld", url,
                          (long long)s->version);
    if (!s->has_meta)
        return fl_err_set(err, FL_E_DELTA_LOG, "%s: no metaData action found in the log up to version %lld", url,
                          (long long)s->version);
    fl_rc rc;
    if (!s->schema && s->meta.schema_string.len == 0) {
        if ((rc = fl_delta_schema_new(&s->schema, err)) != FL_OK) return rc;
    } else if (!s->schema) {
        rc = fl_delta_schema_parse(s->meta.schema_string, &s->schema, err);
        if (rc) {
            fl_err_prefix(err, "%s version %lld: ", url, (long long)s->version);
            return rc;
        }
    }
    for (size_t i = 0; i < s->meta.n_partition_columns; i++)
        if (!fl_delta_type_find(s->schema->root, s->meta.partition_columns[i]))
            return fl_err_set(err, FL_E_DELTA_LOG, "%s: partition column '" FL_STR_FMT "' is not in the schema", url,
                              FL_STR_ARG(s->meta.partition_columns[i]));
    if (s->garbage > SNAP_COMPACT_MIN && s->garbage > fl_arena_total(&s->a) / 2) {
        if ((rc = compact(s, err)) != FL_OK) return rc;
    }
    /* sort files by path (then key) and rebuild the index */
    bool sorted = true;
    for (size_t i = 1; i < s->files.len && sorted; i++)
        sorted = file_cmp(fl_vec_at(&s->files, i - 1), fl_vec_at(&s->files, i)) <= 0;
    if (!sorted) {
        qsort(s->files.ptr, s->files.len, sizeof(delta_snap_file), file_cmp);
        for (size_t i = 0; i < s->files.len; i++) /* same keys, new indexes: updates in place */
            if (fl_map_put(&s->file_idx, FL_VEC_AT(&s->files, delta_snap_file, i).key, (void *)(uintptr_t)(i + 1), NULL))
                return oom(err);
    }
    return delta_check_read_support(s, t->o.read_dv || s->for_write, t->o.read_column_mapping, err);
}

/* ------------------------------------------------------------------ loading */

/* Replay commits [from, target] from listing l (which must hold them contiguously). */
static fl_rc replay_range(fl_delta_table *t, fl_delta_snapshot *s, const delta_listing *l, int64_t from,
                          int64_t target, delta_action_fn fn, void *fn_ctx, fl_err *err)
{
    const char *url = fl_store_get_url(t->st);
    int64_t expect = from;
    int64_t prev_ts = INT64_MIN;
    for (size_t i = 0; i < l->n_commits && expect <= target; i++) {
        const delta_log_entry *e = &l->commits[i];
        if (e->version < expect) continue;
        if (e->version > expect)
            return fl_err_set(err, FL_E_DELTA_LOG,
                              "%s: delta log versions are not contiguous: version %lld is missing (next found: %lld)",
                              url, (long long)expect, (long long)e->version);
        delta_commit_info ci;
        fl_rc rc = delta_snapshot_apply_commit(t, s, e->version, &ci, fn, fn_ctx, err);
        if (rc) return rc;
        int64_t ts = ci.ict >= 0 ? ci.ict : e->mtime_ms;
        if (ts <= prev_ts && ci.ict < 0) ts = prev_ts + 1; /* file times may go backwards; keep order */
        s->timestamp_ms = ts;
        prev_ts = ts;
        expect++;
    }
    if (expect <= target)
        return fl_err_set(err, FL_E_DELTA_LOG, "%s: delta log ends at version %lld, expected up to %lld", url,
                          (long long)(expect - 1), (long long)target);
    return FL_OK;
}

static fl_rc no_table(fl_delta_table *t, fl_err *err)
{
    return fl_err_set(err, FL_E_DELTA_NOT_TABLE, "%s is not a Delta table (no _delta_log commits found)",
                      fl_store_get_url(t->st));
}

static int64_t commit_ict(fl_delta_table *t, int64_t v);

/* Load at version (-1 latest) or, with by_time, at the latest version with ts <= ts_ms. */
static fl_rc load(fl_delta_table *t, int64_t version, bool by_time, int64_t ts_ms, bool for_write,
                  fl_delta_snapshot **out, fl_err *err)
{
    *out = NULL;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_delta_snapshot *s = NULL;
    delta_listing l;
    fl_rc rc = FL_OK;
    const char *url = fl_store_get_url(t->st);
    /* _last_checkpoint lets us list from the newest checkpoint instead of version 0 */
    int64_t hint = by_time ? -1 : delta_last_checkpoint_version(t);
    if (version >= 0 && version < hint) hint = -1;
    FL_TRY(delta_list_log(t, hint > 0 ? hint : 0, &a, &l, err));
    if (hint > 0 && (l.n_cps == 0 || l.cps[0].version != hint)) { /* stale hint: list everything */
        fl_arena_reset(&a);
        FL_TRY(delta_list_log(t, 0, &a, &l, err));
    }
    if (l.n_commits == 0 && l.n_cps == 0) {
        rc = no_table(t, err);
        goto done;
    }
    int64_t latest = l.n_commits ? l.commits[l.n_commits - 1].version : -1;
    if (l.n_cps && l.cps[l.n_cps - 1].version > latest) latest = l.cps[l.n_cps - 1].version;
    int64_t target = version < 0 ? latest : version;
    if (by_time) {
        /* commit times: file mtimes made monotonic, as readers do */
        int64_t prev = INT64_MIN, best = -1;
        for (size_t i = 0; i < l.n_commits && (version < 0 || l.commits[i].version <= version); i++) {
            int64_t ts = l.commits[i].mtime_ms;
            if (ts <= prev) ts = prev + 1;
            prev = ts;
            if (ts <= ts_ms) best = l.commits[i].version;
        }
        if (best < 0)
            FL_FAIL(FL_E_NOT_FOUND, "%s: timestamp %lld ms is before the first commit", url, (long long)ts_ms);
        target = best;
    }
    if (target > latest)
        FL_FAIL(FL_E_NOT_FOUND, "%s: version %lld does not exist (latest is %lld)", url, (long long)target,
                (long long)latest);
    /* newest complete checkpoint at or before the target */
    const delta_checkpoint_ref *cp = NULL;
    for (size_t i = 0; i < l.n_cps; i++)
        if (l.cps[i].version <= target) cp = &l.cps[i];
    int64_t first = l.n_commits ? l.commits[0].version : -1;
    FL_TRY(delta_snapshot_new(t->o.max_files, &s, err));
    s->for_write = for_write;
    if (cp) {
        FL_TRY(delta_checkpoint_read(t, s, cp, err));
        for (size_t i = 0; i < l.n_commits; i++)
            if (l.commits[i].version == cp->version) s->timestamp_ms = l.commits[i].mtime_ms;
        if (target > cp->version) {
            FL_TRY(replay_range(t, s, &l, cp->version + 1, target, NULL, NULL, err));
        } else {
            /* no commit replayed: with in-commit timestamps the time is in the commit file */
            bool on = delta_config_bool(s, "delta.enableInCommitTimestamps", false);
            int64_t ict = s->has_meta && on ? commit_ict(t, cp->version) : -1;
            if (ict >= 0) s->timestamp_ms = ict;
        }
    } else {
        if (first > target)
            FL_FAIL(FL_E_NOT_FOUND, "%s: version %lld is no longer in the log (cleaned up; the oldest is %lld)", url,
                    (long long)target, (long long)first);
        if (first != 0)
            FL_FAIL(FL_E_DELTA_LOG, "%s: no checkpoint at or before version %lld and commits start at version %lld",
                    url, (long long)target, (long long)first);
        FL_TRY(replay_range(t, s, &l, 0, target, NULL, NULL, err));
    }
    FL_TRY(delta_snapshot_finish(t, s, err));
    *out = s;
    s = NULL;
done:
    fl_delta_snapshot_free(s);
    fl_arena_fini(&a);
    return rc;
}

fl_rc fl_delta_snapshot_load(fl_delta_table *t, int64_t version, fl_delta_snapshot **out, fl_err *err)
{
    return load(t, version, false, 0, false, out, err);
}

fl_rc delta_snapshot_load_ex(fl_delta_table *t, int64_t version, bool for_write, fl_delta_snapshot **out, fl_err *err)
{
    return load(t, version, false, 0, for_write, out, err);
}

/* inCommitTimestamp of commit v (from its commitInfo line), or -1. */
static int64_t commit_ict(fl_delta_table *t, int64_t v)
{
    char key[48];
    fl_delta_commit_key(v, key);
    fl_buf b;
    fl_buf_init(&b, 0);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    int64_t ict = -1;
    fl_err e;
    if (delta_read_object(t, fl_str_c(key), &b, &e) == FL_OK) {
        fl_str body = fl_buf_str(&b);
        const char *p = body.ptr, *end = body.ptr + body.len;
        while (p < end && ict < 0) { /* commitInfo is the first action when ICT is on */
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *le = nl ? nl : end;
            delta_action act;
            if (le > p && delta_action_parse(&a, p, (size_t)(le - p), &act, &e) == FL_OK &&
                act.kind == DA_COMMIT_INFO)
                ict = act.u.ci.ict;
            p = le + 1;
        }
    }
    fl_arena_fini(&a);
    fl_buf_reset(&b);
    return ict;
}

fl_rc fl_delta_snapshot_load_at(fl_delta_table *t, int64_t ts_ms, fl_delta_snapshot **out, fl_err *err)
{
    /* With in-commit timestamps the commit times are in the log, not in file mtimes:
     * binary search the ICT range [enablement version, latest]; earlier versions (before
     * ICT was enabled) fall back to file times. */
    fl_delta_snapshot *latest = NULL;
    fl_rc rc = load(t, -1, false, 0, false, &latest, err);
    if (rc) return rc;
    if (!delta_config_bool(latest, "delta.enableInCommitTimestamps", false)) {
        fl_delta_snapshot_free(latest);
        return load(t, -1, true, ts_ms, false, out, err);
    }
    int64_t first = 0, last = latest->version;
    fl_str ev = fl_delta_snapshot_get_config(latest, "delta.inCommitTimestampEnablementVersion", FL_STR_NULL);
    if (ev.len && (!fl_parse_i64(ev, &first) || first < 0 || first > last)) first = 0;
    fl_delta_snapshot_free(latest);
    int64_t lo = first, hi = last, best = -1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int64_t ict = commit_ict(t, mid);
        if (ict < 0) return fl_err_set(err, FL_E_DELTA_LOG, "%s: commit %lld has no inCommitTimestamp",
                                       fl_store_get_url(t->st), (long long)mid);
        if (ict <= ts_ms) best = mid, lo = mid + 1;
        else hi = mid - 1;
    }
    if (best >= 0) return load(t, best, false, 0, false, out, err);
    if (first == 0)
        return fl_err_set(err, FL_E_NOT_FOUND, "%s: timestamp %lld ms is before the first commit",
                          fl_store_get_url(t->st), (long long)ts_ms);
    return load(t, first - 1, true, ts_ms, false, out, err); /* before ICT: file times */
}

fl_rc delta_snapshot_update_fn(fl_delta_table *t, fl_delta_snapshot *s, delta_action_fn fn, void *fn_ctx, fl_err *err)
{
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    delta_listing l;
    fl_rc rc = delta_list_log(t, s->version + 1, &a, &l, err);
    if (!rc && l.n_commits) {
        int64_t latest = l.commits[l.n_commits - 1].version;
        if (latest > s->version) {
            rc = replay_range(t, s, &l, s->version + 1, latest, fn, fn_ctx, err);
            if (!rc) rc = delta_snapshot_finish(t, s, err);
        }
    }
    fl_arena_fini(&a);
    return rc;
}

/* ------------------------------------------------------------------ getters */

int64_t fl_delta_snapshot_version(const fl_delta_snapshot *s) { return s->version; }
int64_t fl_delta_snapshot_timestamp(const fl_delta_snapshot *s) { return s->timestamp_ms; }
const fl_delta_protocol *fl_delta_snapshot_get_protocol(const fl_delta_snapshot *s) { return &s->proto; }
const fl_delta_metadata *fl_delta_snapshot_get_metadata(const fl_delta_snapshot *s) { return &s->meta; }
const fl_delta_type *fl_delta_snapshot_get_schema(const fl_delta_snapshot *s) { return s->schema->root; }

fl_str fl_delta_snapshot_get_config(const fl_delta_snapshot *s, const char *key, fl_str def)
{
    for (size_t i = 0; i < s->meta.n_configuration; i++)
        if (fl_str_eq_c(s->meta.configuration[i].key, key) && s->meta.configuration[i].has_val)
            return s->meta.configuration[i].val;
    return def;
}

size_t fl_delta_snapshot_num_files(const fl_delta_snapshot *s) { return s->files.len; }
const fl_delta_file *fl_delta_snapshot_get_file(const fl_delta_snapshot *s, size_t i)
{
    return i < s->files.len ? &FL_VEC_AT(&s->files, delta_snap_file, i).f : NULL;
}

bool fl_delta_snapshot_get_app_version(const fl_delta_snapshot *s, fl_str app_id, int64_t *version)
{
    bool found = false;
    uintptr_t idx = (uintptr_t)fl_map_get(&s->txn_idx, app_id, &found);
    if (!found) return false;
    if (version) *version = FL_VEC_AT(&s->txns, fl_delta_app_txn, idx - 1).version;
    return true;
}

size_t fl_delta_snapshot_num_app_txns(const fl_delta_snapshot *s) { return s->txns.len; }
const fl_delta_app_txn *fl_delta_snapshot_get_app_txn(const fl_delta_snapshot *s, size_t i)
{
    return i < s->txns.len ? &FL_VEC_AT(&s->txns, fl_delta_app_txn, i) : NULL;
}
size_t fl_delta_snapshot_num_domains(const fl_delta_snapshot *s) { return s->domains.len; }
const fl_delta_domain *fl_delta_snapshot_get_domain(const fl_delta_snapshot *s, size_t i)
{
    return i < s->domains.len ? &FL_VEC_AT(&s->domains, fl_delta_domain, i) : NULL;
}

/* numRecords from a stats JSON text without a full parse. */
static bool stats_num_records(fl_str st, int64_t *out)
{
    static const char k[] = "\"numRecords\"";
    for (size_t i = 0; i + sizeof k - 1 <= st.len; i++) {
        if (memcmp(st.ptr + i, k, sizeof k - 1) != 0) continue;
        size_t j = i + sizeof k - 1;
        while (j < st.len && (st.ptr[j] == ' ' || st.ptr[j] == ':')) j++;
        size_t b = j;
        while (j < st.len && st.ptr[j] >= '0' && st.ptr[j] <= '9') j++;
        return j > b && fl_parse_i64(fl_str_make(st.ptr + b, j - b), out);
    }
    return false;
}

int64_t fl_delta_snapshot_num_records(const fl_delta_snapshot *s)
{
    int64_t total = 0;
    for (size_t i = 0; i < s->files.len; i++) {
        int64_t n;
        if (!stats_num_records(FL_VEC_AT(&s->files, delta_snap_file, i).f.stats, &n)) return -1;
        total += n;
    }
    return total;
}
