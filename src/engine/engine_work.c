/* engine_work.c - export worker threads (module engine): parse each line once, filter
 * (--since, merge winners), and run every view over the resource type into the view's
 * current batch; a full batch goes to the table's writer thread and a free one is taken
 * from the table's pool (so a slow table slows the workers instead of growing memory).
 * Lines of a Bulk Data `deleted` file are Bundles of DELETE requests: each entry becomes
 * a stub resource {resourceType, id} evaluated with is_deleted = 1 (append/overwrite), or
 * a deletion recorded for the merge rewrite. In the merge scan pass (es->pass == 1) the
 * workers only record the winning version of every "Type/id". */
#include "engine/engine_int.h"

#include <stdio.h>

typedef struct worker {
    eng_state *es;
    fl_arena a;
    fl_view_ctx **ctx;
    eng_batch **cur;
    fl_buf key;
} worker;

static bool flush_batch(worker *w, size_t t)
{
    eng_table *tb = &w->es->tables[t];
    eng_batch *b = w->cur[t];
    w->cur[t] = NULL;
    if (!b) return true;
    if (fl_view_batch_rows(b->vb) == 0) return eng_queue_push(&tb->free_q, b);
    return eng_queue_push(&tb->full, b);
}

static eng_batch *cur_batch(worker *w, size_t t)
{
    if (!w->cur[t]) {
        eng_batch *b = eng_queue_pop(&w->es->tables[t].free_q);
        if (!b) return NULL;
        fl_view_batch_clear(b->vb);
        b->deleted.len = 0;
        w->cur[t] = b;
    }
    return w->cur[t];
}

static bool meta_last_updated(const fl_json_val *res, int64_t *us)
{
    fl_str s = fl_json_str(fl_json_get_c(fl_json_get_c(res, "meta"), "lastUpdated"));
    return s.len && fl_view_parse_timestamp(s, us);
}

static bool make_key(worker *w, fl_str type, fl_str id)
{
    fl_buf_clear(&w->key);
    fl_buf_append_str(&w->key, type);
    fl_buf_putc(&w->key, '/');
    fl_buf_append_str(&w->key, id);
    return w->key.rc == FL_OK;
}

/* Pass 1: keep the newest version of each key (ties: the later line wins). */
static void record_winner(worker *w, fl_str type, fl_str id, int64_t lu, uint32_t file, uint64_t line_no, bool del)
{
    eng_state *es = w->es;
    if (!id.len || !make_key(w, type, id)) return;
    pthread_mutex_lock(&es->win_mu);
    eng_winner *old = fl_map_get(&es->winners, fl_buf_str(&w->key), NULL);
    bool wins = !old || lu > old->last_updated ||
                (lu == old->last_updated && (file > old->file || (file == old->file && line_no > old->line_no)));
    if (wins) {
        eng_winner *nw = old;
        if (!nw) {
            fl_str k = fl_arena_str_dup(&es->win_a, fl_buf_str(&w->key));
            nw = fl_arena_alloc(&es->win_a, sizeof *nw);
            if (!k.ptr || !nw || fl_map_put(&es->winners, k, nw, NULL) != FL_OK) {
                pthread_mutex_unlock(&es->win_mu);
                fl_err err;
                fl_err_set(&err, FL_E_NOMEM, "out of memory (merge keys)");
                eng_fail(es, FL_E_NOMEM, &err);
                return;
            }
        }
        nw->last_updated = lu;
        nw->file = file;
        nw->line_no = line_no;
        nw->deleted = del;
        nw->stale = 0;
    }
    pthread_mutex_unlock(&es->win_mu);
}

/* Pass 2 of a merge: the winner entry when this line is the winning version of its key. */
static const eng_winner *is_winner(worker *w, fl_str type, fl_str id, uint32_t file, uint64_t line_no)
{
    if (!id.len || !make_key(w, type, id)) return NULL;
    const eng_winner *win = fl_map_get(&w->es->winners, fl_buf_str(&w->key), NULL);
    return win && !win->deleted && win->file == file && win->line_no == line_no ? win : NULL;
}

static void eval_views(worker *w, const fl_json_val *res, fl_str type, uint32_t file, uint64_t line_no, fl_str text,
                       int32_t is_deleted, uint64_t stale)
{
    eng_state *es = w->es;
    for (size_t t = 0; t < es->n_tables; t++) {
        eng_table *tb = &es->tables[t];
        if (tb->skipped || !fl_str_eq_c(type, tb->resource)) continue;
        if (t < 64 && ((stale >> t) & 1u)) continue; /* the table has a newer version */
        eng_batch *b = cur_batch(w, t);
        if (!b) return;
        size_t n = 0;
        fl_err err;
        fl_rc rc = fl_view_eval(w->ctx[t], res, b->vb, &n, &err);
        if (rc) {
            char reason[FL_ERR_MSG_MAX + 160];
            snprintf(reason, sizeof reason, "view %s: %s", tb->name, err.msg);
            atomic_fetch_add(&tb->failed, 1);
            eng_bad_line(es, file, line_no, rc, reason, text);
            continue;
        }
        if (n && fl_vec_reserve(&b->deleted, b->deleted.len + n) == FL_OK) {
            for (size_t i = 0; i < n; i++) FL_VEC_AT(&b->deleted, int32_t, b->deleted.len + i) = is_deleted;
            b->deleted.len += n;
        } else if (n) {
            fl_err_set(&err, FL_E_NOMEM, "out of memory (batch)");
            eng_fail(es, FL_E_NOMEM, &err);
            return;
        }
        atomic_fetch_add(&tb->rows_produced, n);
        if (fl_view_batch_rows(b->vb) >= es->batch_rows && !flush_batch(w, t)) return;
    }
}

static bool any_view_for(const eng_state *es, fl_str type)
{
    for (size_t t = 0; t < es->n_tables; t++)
        if (!es->tables[t].skipped && fl_str_eq_c(type, es->tables[t].resource)) return true;
    return false;
}

/* One line of a Bulk Data `deleted` file: a Bundle of DELETE requests. */
static void deleted_line(worker *w, const fl_json_val *doc, uint32_t file, uint64_t line_no, fl_str text)
{
    eng_state *es = w->es;
    if (!fl_str_eq_c(fl_json_str(fl_json_get_c(doc, "resourceType")), "Bundle")) {
        eng_bad_line(es, file, line_no, FL_E_FHIR_INVALID, "a line of a deleted file is not a Bundle", text);
        return;
    }
    const fl_json_val *entries = fl_json_get_c(doc, "entry");
    for (uint32_t i = 0; entries && fl_json_is_arr(entries) && i < entries->len; i++) {
        const fl_json_val *req = fl_json_get_c(&entries->u.items[i], "request");
        fl_str method = fl_json_str(fl_json_get_c(req, "method"));
        fl_str url = fl_json_str(fl_json_get_c(req, "url"));
        const char *slash = url.len ? memchr(url.ptr, '/', url.len) : NULL;
        if (!fl_str_eq_c(method, "DELETE") || !slash || slash == url.ptr || slash + 1 == url.ptr + url.len) {
            eng_bad_line(es, file, line_no, FL_E_FHIR_INVALID, "deleted Bundle entry is not a DELETE of Type/id", text);
            continue;
        }
        fl_str type = fl_str_make(url.ptr, (size_t)(slash - url.ptr));
        fl_str id = fl_str_make(slash + 1, (size_t)(url.ptr + url.len - slash - 1));
        if (es->pass == 1) {
            record_winner(w, type, id, INT64_MAX, file, line_no, true);
            continue;
        }
        atomic_fetch_add(&es->deleted, 1);
        if (es->o->mode == FL_ENGINE_MERGE || !any_view_for(es, type)) continue;
        fl_json_member *m = fl_arena_alloc(&w->a, 2 * sizeof *m);
        if (!m) continue;
        m[0].key = FL_STR("resourceType");
        m[0].val = (fl_json_val){.type = FL_JSON_STRING, .len = (uint32_t)type.len, .u.str = type.ptr};
        m[1].key = FL_STR("id");
        m[1].val = (fl_json_val){.type = FL_JSON_STRING, .len = (uint32_t)id.len, .u.str = id.ptr};
        fl_json_val stub = {.type = FL_JSON_OBJECT, .len = 2, .u.members = m};
        eval_views(w, &stub, type, file, line_no, text, 1, 0);
    }
}

static void process_line(worker *w, uint32_t file, uint64_t line_no, fl_str text)
{
    eng_state *es = w->es;
    fl_arena_reset(&w->a);
    fl_json_val *doc = NULL;
    fl_err err;
    if (es->pass != 1) atomic_fetch_add(&es->lines, 1);
    fl_rc rc = fl_json_parse(text.ptr, text.len, NULL, &w->a, &doc, NULL, &err);
    if (rc) {
        if (es->pass == 1) return;
        char reason[FL_ERR_MSG_MAX + 64];
        snprintf(reason, sizeof reason, "invalid JSON at column %u: %s", (unsigned)err.col, err.msg);
        eng_bad_line(es, file, line_no, rc, reason, text);
        return;
    }
    fl_str type = fl_json_str(fl_json_get_c(doc, "resourceType"));
    if (!fl_json_is_obj(doc) || !fl_json_is_str(fl_json_get_c(doc, "resourceType")) || !type.len) {
        if (es->pass != 1) eng_bad_line(es, file, line_no, FL_E_FHIR_INVALID, "not a FHIR resource (no resourceType)", text);
        return;
    }
    if (es->files[file].deleted) {
        deleted_line(w, doc, file, line_no, text);
        return;
    }
    if (es->pass != 1) atomic_fetch_add(&es->resources, 1);
    if (!any_view_for(es, type)) return;
    int64_t lu = INT64_MIN;
    bool has_lu = meta_last_updated(doc, &lu);
    if (es->o->has_since && (!has_lu || lu <= es->o->since_us)) {
        if (es->pass != 1) atomic_fetch_add(&es->filtered, 1);
        return;
    }
    fl_str id = fl_json_str(fl_json_get_c(doc, "id"));
    if (es->pass == 1) {
        record_winner(w, type, id, lu, file, line_no, false);
        return;
    }
    uint64_t stale = 0;
    if (es->o->mode == FL_ENGINE_MERGE) {
        const eng_winner *win = is_winner(w, type, id, file, line_no);
        if (!win) {
            if (!id.len) eng_bad_line(es, file, line_no, FL_E_FHIR_INVALID, "resource has no id (merge needs one)", text);
            else atomic_fetch_add(&es->filtered, 1); /* superseded by a newer version or a deletion */
            return;
        }
        stale = win->stale;
    }
    eval_views(w, doc, type, file, line_no, text, 0, stale);
}

void *eng_worker_main(void *arg)
{
    eng_state *es = arg;
    worker w;
    memset(&w, 0, sizeof w);
    w.es = es;
    fl_arena_init(&w.a, 0, FL_VIEW_DEFAULT_ARENA_LIMIT);
    fl_buf_init(&w.key, 1 << 16);
    fl_err err;
    w.ctx = fl_calloc(es->n_tables + 1, sizeof *w.ctx);
    w.cur = fl_calloc(es->n_tables + 1, sizeof *w.cur);
    if (!w.ctx || !w.cur) {
        fl_err_set(&err, FL_E_NOMEM, "out of memory (worker)");
        eng_fail(es, FL_E_NOMEM, &err);
        goto done;
    }
    for (size_t t = 0; es->pass != 1 && t < es->n_tables; t++) {
        if (es->tables[t].skipped) continue;
        fl_rc rc = fl_view_ctx_new(es->tables[t].plan, &w.ctx[t], &err);
        if (rc) {
            eng_fail(es, rc, &err);
            goto done;
        }
    }
    for (;;) {
        eng_chunk *c = eng_queue_pop(&es->work_q);
        if (!c) break;
        for (size_t i = 0; i < c->lines.len && !atomic_load(&es->stop); i++) {
            const eng_line *ln = &FL_VEC_AT(&c->lines, eng_line, i);
            process_line(&w, c->file, ln->line_no, fl_str_make(c->text.ptr + ln->off, ln->len));
        }
        eng_queue_push(&es->chunk_free, c);
        if (atomic_load(&es->stop)) break;
    }
done:
    for (size_t t = 0; w.cur && t < es->n_tables; t++) flush_batch(&w, t);
    if (atomic_fetch_sub(&es->workers_left, 1) == 1)
        for (size_t t = 0; es->pass != 1 && t < es->n_tables; t++) eng_queue_close(&es->tables[t].full);
    for (size_t t = 0; w.ctx && t < es->n_tables; t++) fl_view_ctx_free(w.ctx[t]);
    fl_free(w.ctx);
    fl_free(w.cur);
    fl_buf_reset(&w.key);
    fl_arena_fini(&w.a);
    return NULL;
}
