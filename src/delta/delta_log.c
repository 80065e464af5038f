/* delta_log.c - reading the _delta_log directory: file-name parsing (commits, classic,
 * multi-part and V2 checkpoints), one sorted non-recursive listing per snapshot load,
 * `_last_checkpoint`, and whole-object reads under the commit size limit (module delta).
 * Names that match no pattern (.crc, compactions, temp files) are ignored; a multi-part
 * checkpoint counts only when all its parts are listed. */
#include "delta/delta_int.h"

#include <stdio.h>
#include <string.h>

void fl_delta_commit_key(int64_t v, char out[48])
{
    snprintf(out, 48, DELTA_LOG_DIR "%020lld.json", (long long)v);
}

fl_rc delta_read_object(fl_delta_table *t, fl_str key, fl_buf *out, fl_err *err)
{
    size_t limit = t->o.max_commit_bytes ? t->o.max_commit_bytes : FL_DELTA_MAX_COMMIT_BYTES;
    size_t saved = out->limit;
    out->limit = out->len + limit;
    fl_rc rc = fl_store_get(t->st, key, out, NULL, err);
    out->limit = saved;
    return rc;
}

/* Parse leading decimal digits of s (at most 19) into *v; returns digits consumed (0 = none). */
static size_t parse_digits(fl_str s, int64_t *v)
{
    size_t i = 0;
    int64_t x = 0;
    while (i < s.len && i < 19 && s.ptr[i] >= '0' && s.ptr[i] <= '9') x = x * 10 + (s.ptr[i++] - '0');
    /* a 20-digit version must start with a zero (versions fit in int64) */
    if (i == 19 && i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9') {
        if (s.ptr[0] != '0') return 0;
        x = x * 10 + (s.ptr[i++] - '0');
    }
    *v = x;
    return i;
}

typedef enum log_name_kind { LN_OTHER, LN_COMMIT, LN_CLASSIC, LN_PART, LN_V2 } log_name_kind;

static log_name_kind classify(fl_str name, int64_t *version, int64_t *part, int64_t *nparts)
{
    size_t n = parse_digits(name, version);
    if (n == 0) return LN_OTHER;
    fl_str rest = fl_str_make(name.ptr + n, name.len - n);
    if (fl_str_eq_c(rest, ".json")) return LN_COMMIT;
    if (fl_str_eq_c(rest, ".checkpoint.parquet")) return LN_CLASSIC;
    if (!fl_str_starts_with(rest, FL_STR(".checkpoint."))) return LN_OTHER;
    rest.ptr += 12;
    rest.len -= 12;
    size_t d1 = parse_digits(rest, part);
    if (d1 == 10 && rest.len > 11 && rest.ptr[10] == '.') {
        fl_str r2 = fl_str_make(rest.ptr + 11, rest.len - 11);
        size_t d2 = parse_digits(r2, nparts);
        if (d2 == 10 && fl_str_eq_c(fl_str_make(r2.ptr + 10, r2.len - 10), ".parquet") && *part >= 1 &&
            *nparts >= 1 && *part <= *nparts && *nparts <= DELTA_MAX_PARTS)
            return LN_PART;
        return LN_OTHER;
    }
    /* <uuid>.json | <uuid>.parquet */
    if (fl_str_ends_with(rest, FL_STR(".json")) || fl_str_ends_with(rest, FL_STR(".parquet"))) return LN_V2;
    return LN_OTHER;
}

bool delta_parse_commit_key(fl_str key, int64_t *version)
{
    if (!fl_str_starts_with(key, FL_STR(DELTA_LOG_DIR))) return false;
    fl_str name = fl_str_make(key.ptr + sizeof DELTA_LOG_DIR - 1, key.len - (sizeof DELTA_LOG_DIR - 1));
    int64_t p, np;
    return classify(name, version, &p, &np) == LN_COMMIT;
}

typedef struct list_ctx {
    fl_arena *a;
    fl_vec commits; /* delta_log_entry */
    fl_vec cps;     /* delta_checkpoint_ref */
    bool any;
    /* multi-part tracking for the run of parts being listed */
    int64_t part_version, part_n, part_seen;
    fl_str part_first;
} list_ctx;

static fl_rc list_cb(void *ctx, const fl_store_entry *e, fl_err *err)
{
    list_ctx *c = ctx;
    if (e->is_prefix) return FL_OK;
    c->any = true;
    fl_str name = fl_str_make(e->key.ptr + sizeof DELTA_LOG_DIR - 1, e->key.len - (sizeof DELTA_LOG_DIR - 1));
    int64_t v = 0, part = 0, np = 0;
    log_name_kind k = classify(name, &v, &part, &np);
    if (k == LN_COMMIT) {
        delta_log_entry *le = fl_vec_push_zero(&c->commits);
        if (!le) return fl_err_set(err, FL_E_NOMEM, "out of memory listing the log");
        le->version = v;
        le->mtime_ms = e->mtime_ms;
        le->size = e->size;
        return FL_OK;
    }
    if (k == LN_OTHER) return FL_OK;
    delta_checkpoint_ref ref = {.version = v, .kind = k == LN_CLASSIC ? 1 : k == LN_PART ? 2 : 3, .parts = 1};
    if (k == LN_PART) {
        if (c->part_version != v || c->part_n != np) {
            c->part_version = v;
            c->part_n = np;
            c->part_seen = 0;
        }
        if (part == 1) c->part_first = fl_arena_str_dup(c->a, e->key);
        if (part != c->part_seen + 1) return FL_OK; /* gap: set incomplete */
        c->part_seen = part;
        if (part != np) return FL_OK;
        ref.parts = (uint32_t)np;
        ref.key = c->part_first;
    } else {
        ref.key = fl_arena_str_dup(c->a, e->key);
    }
    if (!ref.key.ptr) return fl_err_set(err, FL_E_NOMEM, "out of memory listing the log");
    if (fl_vec_push(&c->cps, &ref)) return fl_err_set(err, FL_E_NOMEM, "out of memory listing the log");
    return FL_OK;
}

fl_rc delta_list_log(fl_delta_table *t, int64_t from_version, fl_arena *a, delta_listing *out, fl_err *err)
{
    memset(out, 0, sizeof *out);
    list_ctx c = {.a = a, .part_version = -1};
    fl_vec_init(&c.commits, sizeof(delta_log_entry));
    fl_vec_init(&c.cps, sizeof(delta_checkpoint_ref));
    char after[64];
    fl_str sa = FL_STR_NULL;
    if (from_version > 0) {
        /* "_delta_log/<v>" sorts before every file of version v */
        snprintf(after, sizeof after, DELTA_LOG_DIR "%020lld", (long long)from_version);
        sa = fl_str_c(after);
    }
    fl_rc rc = fl_store_list(t->st, FL_STR(DELTA_LOG_DIR), sa, FL_STORE_LIST_NO_RECURSE, list_cb, &c, err);
    if (rc) {
        fl_err_prefix(err, "listing %s/_delta_log: ", fl_store_get_url(t->st));
        goto done;
    }
    out->any = c.any;
    if (c.commits.len) {
        out->commits = fl_arena_alloc(a, c.commits.len * sizeof *out->commits);
        if (!out->commits) FL_FAIL(FL_E_NOMEM, "out of memory listing the log");
        memcpy(out->commits, c.commits.ptr, c.commits.len * sizeof *out->commits);
        out->n_commits = c.commits.len;
    }
    if (c.cps.len) {
        out->cps = fl_arena_alloc(a, c.cps.len * sizeof *out->cps);
        if (!out->cps) FL_FAIL(FL_E_NOMEM, "out of memory listing the log");
        memcpy(out->cps, c.cps.ptr, c.cps.len * sizeof *out->cps);
        out->n_cps = c.cps.len;
    }
done:
    fl_vec_reset(&c.commits);
    fl_vec_reset(&c.cps);
    return rc;
}

/* ------------------------------------------------------------------ history */

static bool contains(fl_str hay, fl_str needle)
{
    for (size_t i = 0; i + needle.len <= hay.len; i++)
        if (memcmp(hay.ptr + i, needle.ptr, needle.len) == 0) return true;
    return false;
}

fl_rc fl_delta_table_history(fl_delta_table *t, int64_t from, int64_t to, size_t limit, fl_delta_history_fn fn,
                             void *ctx, fl_err *err)
{
    fl_arena a, scratch;
    fl_arena_init(&a, 0, 0);
    fl_arena_init(&scratch, 0, 0);
    fl_buf buf, ci;
    fl_buf_init(&buf, 0);
    fl_buf_init(&ci, 0);
    delta_listing l;
    fl_rc rc = delta_list_log(t, from > 0 ? from : 0, &a, &l, err);
    size_t emitted = 0;
    for (size_t i = l.n_commits; !rc && i-- > 0;) {
        const delta_log_entry *e = &l.commits[i];
        if ((to >= 0 && e->version > to) || e->version < from) continue;
        if (limit && emitted >= limit) break;
        char key[48];
        fl_delta_commit_key(e->version, key);
        fl_buf_clear(&buf);
        if ((rc = delta_read_object(t, fl_str_c(key), &buf, err)) != FL_OK) {
            if (rc == FL_E_NOT_FOUND) { /* cleaned up meanwhile */
                rc = FL_OK;
                continue;
            }
            break;
        }
        fl_delta_commit_entry ce = {.version = e->version, .timestamp_ms = e->mtime_ms, .operation = FL_STR(""),
                                    .commit_info = FL_STR("")};
        fl_str body = fl_buf_str(&buf);
        const char *p = body.ptr, *end = body.ptr + body.len;
        fl_arena_reset(&scratch);
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *le = nl ? nl : end;
            if (le > p && contains(fl_str_make(p, (size_t)(le - p)), FL_STR("\"commitInfo\""))) {
                fl_json_val *root = NULL;
                if (fl_json_parse(p, (size_t)(le - p), NULL, &scratch, &root, NULL, NULL) == FL_OK) {
                    const fl_json_val *c = fl_json_get_c(root, "commitInfo");
                    if (fl_json_is_obj(c)) {
                        int64_t ict;
                        if (fl_json_as_i64(fl_json_get_c(c, "inCommitTimestamp"), &ict)) ce.timestamp_ms = ict;
                        const fl_json_val *op = fl_json_get_c(c, "operation");
                        if (fl_json_is_str(op)) ce.operation = fl_json_str(op);
                        fl_buf_clear(&ci);
                        fl_json_write(c, &ci);
                        if (!ci.rc) ce.commit_info = fl_buf_str(&ci);
                    }
                }
                break;
            }
            p = le + 1;
        }
        rc = fn(ctx, &ce, err);
        if (rc == FL_E_EOF) {
            rc = FL_OK;
            break;
        }
        emitted++;
    }
    fl_buf_reset(&buf);
    fl_buf_reset(&ci);
    fl_arena_fini(&scratch);
    fl_arena_fini(&a);
    return rc;
}
