/* delta_vacuum.c - VACUUM: delete data files the table no longer references (module delta).
 * Keeps every live file, every deletion-vector file of a live file, and every file of a
 * tombstone younger than the retention; deletes the rest only when its modification time
 * is older than the retention, so writers in flight (files written, commit pending) and
 * readers of recent versions are safe. Hidden paths ('_'/'.' segments that are not
 * partition directories) - _delta_log, _sidecars, temp files - are never touched. */
#include "delta/delta_int.h"

#include "fhirlake/os.h"

#include <stdio.h>

#define VACUUM_BATCH 500

typedef struct vac_ctx {
    fl_delta_table *t;
    const fl_delta_snapshot *s;
    fl_map keep;      /* store keys (decoded paths) to keep */
    fl_arena a;
    int64_t cutoff;   /* delete only files modified before this (ms) */
    bool dry_run;
    fl_str batch[VACUUM_BATCH];
    size_t nbatch;
    fl_arena batch_a;
    fl_delta_vacuum_result *res;
} vac_ctx;

/* URI-decode a log path into arena a (absolute URIs are returned as-is: never vacuumed). */
static fl_str decode(fl_arena *a, fl_str p)
{
    char *out = fl_arena_alloc(a, p.len + 1);
    if (!out) return FL_STR_NULL;
    size_t k = 0;
    for (size_t i = 0; i < p.len; i++) {
        char c = p.ptr[i];
        if (c == '%' && i + 2 < p.len) {
            int hi = p.ptr[i + 1], lo = p.ptr[i + 2];
            int h = hi >= '0' && hi <= '9' ? hi - '0' : hi >= 'A' && hi <= 'F' ? hi - 'A' + 10 : hi >= 'a' && hi <= 'f' ? hi - 'a' + 10 : -1;
            int l = lo >= '0' && lo <= '9' ? lo - '0' : lo >= 'A' && lo <= 'F' ? lo - 'A' + 10 : lo >= 'a' && lo <= 'f' ? lo - 'a' + 10 : -1;
            if (h >= 0 && l >= 0) {
                c = (char)(h * 16 + l);
                i += 2;
            }
        }
        out[k++] = c;
    }
    return fl_str_make(out, k);
}

static bool is_partition_col(const fl_delta_snapshot *s, fl_str name)
{
    const fl_delta_metadata *m = &s->meta;
    for (size_t i = 0; i < m->n_partition_columns; i++)
        if (fl_str_eq(m->partition_columns[i], name)) return true;
    return false;
}

/* true if some segment of key is hidden ('_' or '.' start) and not a partition directory. */
static bool hidden(const fl_delta_snapshot *s, fl_str key)
{
    size_t seg = 0;
    for (size_t i = 0; i <= key.len; i++) {
        if (i < key.len && key.ptr[i] != '/') continue;
        fl_str name = fl_str_make(key.ptr + seg, i - seg);
        if (name.len && (name.ptr[0] == '_' || name.ptr[0] == '.')) {
            const char *eq = memchr(name.ptr, '=', name.len);
            bool part_dir = i < key.len && eq && is_partition_col(s, fl_str_make(name.ptr, (size_t)(eq - name.ptr)));
            if (!part_dir) return true;
        }
        seg = i + 1;
    }
    return false;
}

static fl_rc flush(vac_ctx *c, fl_err *err)
{
    fl_rc rc = FL_OK;
    if (c->nbatch && !c->dry_run) rc = fl_store_delete(c->t->st, c->batch, c->nbatch, err);
    c->nbatch = 0;
    fl_arena_reset(&c->batch_a);
    return rc;
}

static fl_rc vac_cb(void *ctx, const fl_store_entry *e, fl_err *err)
{
    vac_ctx *c = ctx;
    if (e->is_prefix || hidden(c->s, e->key)) return FL_OK;
    bool found = false;
    fl_map_get(&c->keep, e->key, &found);
    if (found || e->mtime_ms >= c->cutoff) {
        c->res->files_kept++;
        return FL_OK;
    }
    c->res->files_deleted++;
    c->res->bytes_deleted += (int64_t)e->size;
    fl_str k = fl_arena_str_dup(&c->batch_a, e->key);
    if (!k.ptr) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    c->batch[c->nbatch++] = k;
    return c->nbatch == VACUUM_BATCH ? flush(c, err) : FL_OK;
}

static fl_rc keep(vac_ctx *c, fl_str log_path, fl_err *err)
{
    if (fl_str_starts_with(log_path, FL_STR("/")) || memchr(log_path.ptr, ':', log_path.len)) return FL_OK;
    fl_str k = decode(&c->a, log_path);
    if (!k.ptr || fl_map_put(&c->keep, k, NULL, NULL)) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    return FL_OK;
}

/* Key of a 'u' deletion vector file (same rule as delta_dv.c). */
static fl_rc keep_dv(vac_ctx *c, fl_str dv, fl_err *err)
{
    fl_json_val *d = NULL;
    if (!dv.len || fl_json_parse(dv.ptr, dv.len, NULL, &c->a, &d, NULL, NULL) != FL_OK) return FL_OK;
    if (!fl_str_eq_c(fl_json_str(fl_json_get_c(d, "storageType")), "u")) return FL_OK;
    /* reuse the decoder: ask for the rows of a fake file is too costly; rebuild the name */
    fl_str pv = fl_json_str(fl_json_get_c(d, "pathOrInlineDv"));
    if (pv.len < 20) return FL_OK;
    static const char z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    uint8_t u[16];
    for (size_t i = 0; i < 4; i++) {
        uint64_t v = 0;
        for (size_t k = 0; k < 5; k++) {
            const char *p = memchr(z85, pv.ptr[pv.len - 20 + i * 5 + k], 85);
            if (!p) return FL_OK;
            v = v * 85 + (uint64_t)(p - z85);
        }
        for (int b = 0; b < 4; b++) u[i * 4 + (size_t)b] = (uint8_t)(v >> (24 - 8 * b));
    }
    size_t plen = pv.len - 20;
    char *name = fl_arena_printf(&c->a,
                                 "%.*s%sdeletion_vector_%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x.bin",
                                 (int)plen, pv.ptr, plen ? "/" : "", u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
                                 u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
    if (!name || fl_map_put(&c->keep, fl_str_c(name), NULL, NULL)) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    return FL_OK;
}

/* ------------------------------------------------------------------ intervals */

static bool word_eq(fl_str w, const char *unit)
{
    size_t n = strlen(unit);
    if (w.len != n && !(w.len == n + 1 && (w.ptr[n] == 's' || w.ptr[n] == 'S'))) return false;
    for (size_t i = 0; i < n; i++)
        if ((w.ptr[i] | 0x20) != unit[i]) return false;
    return true;
}

bool delta_interval_ms(fl_str s, int64_t *out)
{
    static const struct {
        const char *unit;
        int64_t us;
    } units[] = {{"microsecond", 1},           {"millisecond", 1000},          {"second", 1000000},
                 {"minute", 60000000},         {"hour", 3600000000LL},         {"day", 86400000000LL},
                 {"week", 604800000000LL}};
    size_t i = 0;
    int64_t total_us = 0;
    int pairs = 0;
    bool first = true;
    for (;;) {
        while (i < s.len && (s.ptr[i] == ' ' || s.ptr[i] == '\t')) i++;
        if (i >= s.len) break;
        size_t st = i;
        while (i < s.len && s.ptr[i] != ' ' && s.ptr[i] != '\t') i++;
        fl_str w = fl_str_make(s.ptr + st, i - st);
        if (first && w.len == 8 && word_eq(w, "interval")) {
            first = false;
            continue;
        }
        first = false;
        /* a number: digits, optional fraction */
        int64_t whole = 0, frac = 0, fdiv = 1;
        size_t k = 0;
        bool dot = false, digits = false;
        for (; k < w.len; k++) {
            char c = w.ptr[k];
            if (c == '.' && !dot) {
                dot = true;
                continue;
            }
            if (c < '0' || c > '9') return false;
            digits = true;
            if (!dot) {
                if (whole > 10000000000LL) return false;
                whole = whole * 10 + (c - '0');
            } else if (fdiv < 1000000) {
                frac = frac * 10 + (c - '0');
                fdiv *= 10;
            }
        }
        if (!digits) return false;
        while (i < s.len && (s.ptr[i] == ' ' || s.ptr[i] == '\t')) i++;
        st = i;
        while (i < s.len && s.ptr[i] != ' ' && s.ptr[i] != '\t') i++;
        fl_str u = fl_str_make(s.ptr + st, i - st);
        int64_t mul = -1;
        for (size_t j = 0; j < sizeof units / sizeof units[0] && mul < 0; j++)
            if (word_eq(u, units[j].unit)) mul = units[j].us;
        if (mul < 0) return false; /* unknown unit; months and years are refused, as Delta does */
        if (whole > INT64_MAX / 2 / mul) return false;
        total_us += whole * mul + frac * (mul / fdiv);
        if (total_us < 0 || total_us > INT64_MAX / 4) return false;
        pairs++;
    }
    if (!pairs) return false;
    *out = total_us / 1000;
    return true;
}

int64_t delta_config_interval_ms(const fl_delta_snapshot *s, const char *key, int64_t def)
{
    fl_str v = fl_delta_snapshot_get_config(s, key, FL_STR_NULL);
    int64_t ms;
    if (!v.len || !delta_interval_ms(v, &ms)) return def;
    return ms;
}

/* delta.deletedFileRetentionDuration (default 1 week). */
static int64_t retention_of(const fl_delta_snapshot *s)
{
    return delta_config_interval_ms(s, "delta.deletedFileRetentionDuration", 7 * 86400000LL);
}

fl_rc fl_delta_table_vacuum(fl_delta_table *t, const fl_delta_vacuum_opts *o, fl_delta_vacuum_result *res, fl_err *err)
{
    fl_delta_vacuum_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    fl_delta_vacuum_opts def = {.retention_ms = -1};
    if (!o) o = &def;
    const char *url = fl_store_get_url(t->st);
    fl_delta_snapshot *s = NULL;
    vac_ctx c = {.t = t, .res = res, .dry_run = o->dry_run};
    fl_map_init(&c.keep);
    fl_arena_init(&c.a, 0, 0);
    fl_arena_init(&c.batch_a, 0, 0);
    fl_rc rc = delta_snapshot_load_ex(t, -1, true, &s, err);
    if (rc) goto done;
    c.s = s;
    if ((rc = delta_check_write_support(s, err)) != FL_OK) {
        fl_err_prefix(err, "vacuum %s: ", url);
        goto done;
    }
    int64_t table_ret = retention_of(s);
    int64_t ret = o->retention_ms >= 0 ? o->retention_ms : table_ret;
    if (ret < table_ret && !o->force)
        FL_FAIL(FL_E_ARG,
                "vacuum %s: retention %lld ms is shorter than the table's delta.deletedFileRetentionDuration (%lld ms); "
                "readers of older versions or writers in flight could lose files (use force to override)",
                url, (long long)ret, (long long)table_ret);
    int64_t now = fl_clock_now_us() / 1000;
    c.cutoff = now - ret;
    for (size_t i = 0; i < s->files.len; i++) {
        const fl_delta_file *f = &FL_VEC_AT(&s->files, delta_snap_file, i).f;
        FL_TRY(keep(&c, f->path, err));
        FL_TRY(keep_dv(&c, f->dv, err));
    }
    for (size_t i = 0; i < s->tombs.len; i++) {
        const delta_tomb *tb = &FL_VEC_AT(&s->tombs, delta_tomb, i);
        if (tb->deletion_ts < 0 || tb->deletion_ts >= c.cutoff) {
            FL_TRY(keep(&c, tb->path, err));
            FL_TRY(keep_dv(&c, tb->dv, err));
        }
    }
    FL_TRY(fl_store_list(t->st, FL_STR(""), FL_STR_NULL, 0, vac_cb, &c, err));
    FL_TRY(flush(&c, err));
done:
    fl_delta_snapshot_free(s);
    fl_map_reset(&c.keep);
    fl_arena_fini(&c.a);
    fl_arena_fini(&c.batch_a);
    return rc;
}

/* ------------------------------------------------------------------ log cleanup */

typedef struct clean_ctx {
    int64_t keep_from; /* delete files of versions below this */
    fl_str batch[VACUUM_BATCH];
    size_t n;
    fl_arena a;
    fl_store *st;
    int64_t deleted;
} clean_ctx;

static fl_rc clean_flush(clean_ctx *c, fl_err *err)
{
    fl_rc rc = c->n ? fl_store_delete(c->st, c->batch, c->n, err) : FL_OK;
    c->deleted += (int64_t)c->n;
    c->n = 0;
    fl_arena_reset(&c->a);
    return rc;
}

static fl_rc clean_cb(void *ctx, const fl_store_entry *e, fl_err *err)
{
    clean_ctx *c = ctx;
    if (e->is_prefix) return FL_OK;
    fl_str name = fl_str_make(e->key.ptr + sizeof DELTA_LOG_DIR - 1, e->key.len - (sizeof DELTA_LOG_DIR - 1));
    /* <20 digits>.json | .checkpoint.* | .crc ; anything else is left alone */
    if (name.len < 21 || name.ptr[20] != '.') return FL_OK;
    int64_t v = 0;
    for (size_t i = 0; i < 20; i++) {
        if (name.ptr[i] < '0' || name.ptr[i] > '9') return FL_OK;
        v = v * 10 + (name.ptr[i] - '0');
    }
    fl_str rest = fl_str_make(name.ptr + 20, name.len - 20);
    bool compacted = rest.len > 21 && fl_str_starts_with(fl_str_make(rest.ptr + 21, rest.len - 21), FL_STR(".compacted.json"));
    if (!fl_str_eq_c(rest, ".json") && !fl_str_eq_c(rest, ".crc") && !fl_str_starts_with(rest, FL_STR(".checkpoint.")) &&
        !compacted)
        return FL_OK;
    if (v > c->keep_from) return FL_E_EOF; /* sorted: nothing older follows */
    if (v == c->keep_from && !compacted) return FL_OK; /* the kept checkpoint, its JSON and .crc */
    fl_str k = fl_arena_str_dup(&c->a, e->key);
    if (!k.ptr) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    c->batch[c->n++] = k;
    return c->n == VACUUM_BATCH ? clean_flush(c, err) : FL_OK;
}

fl_rc delta_cleanup_log(fl_delta_table *t, const fl_delta_snapshot *s, int64_t retention_ms, int64_t *deleted,
                        fl_err *err)
{
    if (deleted) *deleted = 0;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    clean_ctx c = {.st = t->st};
    fl_arena_init(&c.a, 0, 0);
    fl_rc rc = FL_OK;
    int64_t ret = retention_ms;
    if (ret < 0) {
        fl_str v = fl_delta_snapshot_get_config(s, "delta.logRetentionDuration", FL_STR("interval 30 days"));
        if (!delta_interval_ms(v, &ret))
            FL_FAIL(FL_E_ARG,
                    "log cleanup %s: delta.logRetentionDuration '" FL_STR_FMT
                    "' is not an interval (e.g. 'interval 30 days'); nothing deleted",
                    fl_store_get_url(t->st), FL_STR_ARG(v));
    }
    int64_t cutoff = fl_clock_now_us() / 1000 - ret;
    delta_listing l;
    FL_TRY(delta_list_log(t, 0, &a, &l, err));
    /* PROTOCOL.md "Metadata Cleanup": the cutoff commit is the newest commit not newer than
     * the cutoff (commit times = file mtimes made monotonic, as readers see them); keep the
     * newest checkpoint at or before it, its JSON and everything after. */
    int64_t cutoff_commit = -1, prev = INT64_MIN;
    for (size_t k = 0; k < l.n_commits; k++) {
        int64_t ts = l.commits[k].mtime_ms > prev ? l.commits[k].mtime_ms : prev + 1;
        prev = ts;
        if (ts <= cutoff && l.commits[k].version <= s->version) cutoff_commit = l.commits[k].version;
    }
    int64_t keep_from = -1;
    for (size_t i = 0; i < l.n_cps; i++) {
        int64_t v = l.cps[i].version;
        bool has_json = false;
        for (size_t k = 0; k < l.n_commits && !has_json; k++) has_json = l.commits[k].version == v;
        if (v <= cutoff_commit && has_json) keep_from = v;
    }
    if (keep_from <= 0) goto done; /* no checkpoint old enough: nothing to clean */
    c.keep_from = keep_from;
    rc = fl_store_list(t->st, FL_STR(DELTA_LOG_DIR), FL_STR_NULL, FL_STORE_LIST_NO_RECURSE, clean_cb, &c, err);
    if (rc) goto done;
    rc = clean_flush(&c, err);
done:
    if (deleted) *deleted = c.deleted;
    fl_arena_fini(&a);
    fl_arena_fini(&c.a);
    return rc;
}

fl_rc fl_delta_table_cleanup_log(fl_delta_table *t, int64_t retention_ms, int64_t *deleted, fl_err *err)
{
    if (deleted) *deleted = 0;
    fl_delta_snapshot *s = NULL;
    fl_rc rc = delta_snapshot_load_ex(t, -1, true, &s, err);
    if (rc == FL_OK) rc = delta_cleanup_log(t, s, retention_ms, deleted, err);
    fl_delta_snapshot_free(s);
    return rc;
}
