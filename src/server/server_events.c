/* server_events.c - topic events into the transactional outbox (module server; issue #8
 * part 2, step 2). A registry of active AidboxSubscriptionTopics (triggers with compiled
 * fhirPathCriteria) and AidboxTopicDestinations is loaded from the store at start and
 * after any request that changed one (always from committed state, outside a transaction).
 * The fhirdb write hook matches every write against it and enqueues one outbox row per
 * matching destination on the writer's connection, so the event commits or rolls back with
 * the write. Deleting a destination purges its queue in the same transaction.
 * Readers take the registry under a read lock; a reload builds a new one and swaps it.
 * A background thread also reloads every SRV_REGISTRY_REFRESH_MS so that replicas sharing
 * one PostgreSQL database see each other's topics within that delay. */
#include "fhirlake/fhirpath.h"
#include "server/server_int.h"

#include <time.h>

#define SRV_MAX_TOPICS 1000       /* topics and destinations loaded into the registry */
#define SRV_HOOK_MEMORY (64u << 20) /* scratch for parsing %current/%previous per event */

typedef struct srv_trigger {
    char *resource;
    unsigned ops; /* bit (1 << fl_fhirdb_op) */
    fl_fp_prog *crit; /* NULL = always */
} srv_trigger;

typedef struct srv_topic {
    char *url;
    srv_trigger *trig;
    size_t ntrig;
} srv_topic;


static void registry_free(srv_registry *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->ntopics; i++) {
        for (size_t k = 0; k < g->topics[i].ntrig; k++) {
            fl_free(g->topics[i].trig[k].resource);
            fl_fp_prog_free(g->topics[i].trig[k].crit);
        }
        fl_free(g->topics[i].trig);
        fl_free(g->topics[i].url);
    }
    for (size_t i = 0; i < g->ndests; i++) {
        fl_free(g->dests[i].id);
        fl_free(g->dests[i].topic_url);
        fl_free(g->dests[i].kind);
        fl_free(g->dests[i].body);
    }
    fl_free(g->topics);
    fl_free(g->dests);
    fl_free(g);
}

static char *dup_s(fl_str s) { return fl_strndup(s.ptr ? s.ptr : "", s.len); }

/* Add one stored topic (already validated on write; anything odd is skipped). */
static fl_rc add_topic(srv_registry *g, const fl_json_val *res, fl_err *err)
{
    if (!fl_str_eq_c(fl_json_str(fl_json_get_c(res, "status")), "active")) return FL_OK;
    const fl_json_val *tr = fl_json_get_c(res, "trigger");
    if (!fl_json_is_arr(tr) || !tr->len) return FL_OK;
    srv_topic *t = &g->topics[g->ntopics];
    memset(t, 0, sizeof *t);
    t->url = dup_s(fl_json_str(fl_json_get_c(res, "url")));
    t->trig = fl_calloc(tr->len, sizeof *t->trig);
    g->ntopics++;
    if (!t->url || !t->trig) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    for (uint32_t i = 0; i < tr->len; i++) {
        const fl_json_val *x = &tr->u.items[i];
        srv_trigger *st = &t->trig[t->ntrig];
        st->resource = dup_s(fl_json_str(fl_json_get_c(x, "resource")));
        t->ntrig++;
        if (!st->resource) return fl_err_set(err, FL_E_NOMEM, "out of memory");
        const fl_json_val *si = fl_json_get_c(x, "supportedInteraction");
        size_t n = si ? (fl_json_is_arr(si) ? si->len : 1) : 0;
        for (size_t k = 0; k < n; k++) {
            fl_str v = fl_json_str(fl_json_is_arr(si) ? &si->u.items[k] : si);
            if (fl_str_eq_c(v, "create")) st->ops |= 1u << FL_FHIRDB_CREATE;
            if (fl_str_eq_c(v, "update")) st->ops |= 1u << FL_FHIRDB_UPDATE;
            if (fl_str_eq_c(v, "delete")) st->ops |= 1u << FL_FHIRDB_DELETE;
        }
        if (!n) st->ops = (1u << FL_FHIRDB_CREATE) | (1u << FL_FHIRDB_UPDATE) | (1u << FL_FHIRDB_DELETE);
        fl_str crit = fl_json_str(fl_json_get_c(x, "fhirPathCriteria"));
        if (crit.len) {
            static const char *const vars[] = {"current", "previous"};
            fl_fp_opts o;
            fl_fp_opts_default(&o);
            o.vars = vars;
            o.nvars = 2;
            fl_rc rc = fl_fp_compile(crit.ptr, crit.len, &o, &st->crit, err);
            if (rc) return rc;
        }
    }
    return FL_OK;
}

static fl_rc add_dest(srv_registry *g, const fl_fhirdb_rec *rec, const fl_json_val *res, fl_err *err)
{
    if (!fl_str_eq_c(fl_json_str(fl_json_get_c(res, "status")), "active")) return FL_OK;
    srv_dest *d = &g->dests[g->ndests];
    d->id = dup_s(rec->id);
    d->topic_url = dup_s(fl_json_str(fl_json_get_c(res, "topic")));
    fl_str content = fl_json_str(fl_json_get_c(res, "content"));
    d->full_resource = content.len == 0 || fl_str_eq_c(content, "full-resource");
    d->kind = dup_s(fl_json_str(fl_json_get_c(res, "kind")));
    d->body = dup_s(rec->body);
    d->lakehouse = d->kind && !strcmp(d->kind, "data-lakehouse-at-least-once");
    g->ndests++;
    if (!d->id || !d->topic_url || !d->kind || !d->body) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    return FL_OK;
}

/* Load every current resource of `type` into g. */
static fl_rc load_type(fl_fhirdb_conn *c, const char *type, srv_registry *g, const fl_logger *log, fl_err *err)
{
    fl_rc rc = FL_OK;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    char cursor[FL_FHIRDB_CURSOR_MAX] = "";
    bool topics = !strcmp(type, "AidboxSubscriptionTopic");
    for (;;) {
        fl_fhirdb_query q = {.type = fl_str_c(type), .count = FL_FHIRDB_MAX_COUNT, .cursor = fl_str_c(cursor)};
        fl_fhirdb_page pg;
        FL_TRY(fl_fhirdb_search(c, &q, &a, &pg, err));
        for (size_t i = 0; i < pg.n; i++) {
            if ((topics ? g->ntopics : g->ndests) >= SRV_MAX_TOPICS) {
                /* never refuse to start over this: serve the first ones and say so */
                fl_log(log, FL_LOG_ERROR, "topics: more than %d %ss; the rest are ignored", SRV_MAX_TOPICS, type);
                goto done;
            }
            fl_json_val *res = NULL;
            if (fl_json_parse(pg.recs[i].body.ptr, pg.recs[i].body.len, NULL, &a, &res, NULL, err) != FL_OK)
                continue; /* stored by us, so not expected; skip rather than stop the server */
            FL_TRY(topics ? add_topic(g, res, err) : add_dest(g, &pg.recs[i], res, err));
        }
        if (!pg.has_next) break;
        memcpy(cursor, pg.next_cursor, sizeof cursor);
        fl_arena_reset(&a);
    }
done:
    fl_arena_fini(&a);
    return rc;
}

fl_rc srv_events_reload(fl_server *srv, fl_fhirdb_conn *c, fl_err *err)
{
    fl_rc rc = FL_OK;
    atomic_store(&srv->reg_dirty, false);
    srv_registry *g = fl_calloc(1, sizeof *g);
    if (!g) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    g->topics = fl_calloc(SRV_MAX_TOPICS, sizeof *g->topics);
    g->dests = fl_calloc(SRV_MAX_TOPICS, sizeof *g->dests);
    if (!g->topics || !g->dests) FL_FAIL(FL_E_NOMEM, "out of memory");
    FL_TRY(load_type(c, "AidboxSubscriptionTopic", g, &srv->opts.log, err));
    FL_TRY(load_type(c, "AidboxTopicDestination", g, &srv->opts.log, err));
    size_t nt = g->ntopics, nd = g->ndests;
    pthread_rwlock_wrlock(&srv->reg_lock);
    srv_registry *old = srv->reg;
    srv->reg = g;
    pthread_rwlock_unlock(&srv->reg_lock);
    g = old; /* freed below; no reader can hold it (they read only under the lock) */
    srv_deliver_sync(srv); /* start/stop delivery workers for the new set of destinations */
    fl_log(&srv->opts.log, FL_LOG_DEBUG, "topics: %zu active topics, %zu active destinations", nt, nd);
done:
    if (rc) atomic_store(&srv->reg_dirty, true); /* try again after the next request */
    registry_free(g);
    return rc;
}

void srv_events_free(fl_server *srv)
{
    registry_free(srv->reg);
    srv->reg = NULL;
}

static const srv_topic *find_topic(const srv_registry *g, const char *url)
{
    for (size_t i = 0; i < g->ntopics; i++)
        if (!strcmp(g->topics[i].url, url)) return &g->topics[i];
    return NULL;
}

/* Parsed %current/%previous, made on first use by a criteria. */
typedef struct ev_docs {
    fl_arena a;
    bool parsed;
    const fl_json_val *cur, *prev;
} ev_docs;

static bool criteria_true(fl_server *srv, const srv_trigger *t, const fl_fhirdb_event *ev, ev_docs *d)
{
    if (!t->crit) return true;
    fl_err err;
    fl_err_clear(&err);
    if (!d->parsed) {
        d->parsed = true;
        fl_json_val *v = NULL;
        if (ev->current.len && fl_json_parse(ev->current.ptr, ev->current.len, NULL, &d->a, &v, NULL, &err) == FL_OK)
            d->cur = v;
        v = NULL;
        if (ev->previous.len &&
            fl_json_parse(ev->previous.ptr, ev->previous.len, NULL, &d->a, &v, NULL, &err) == FL_OK)
            d->prev = v;
    }
    fl_fp_item ci = d->cur ? fl_fp_item_from_json(d->cur, NULL) : fl_fp_item_bool(false);
    fl_fp_item pi = d->prev ? fl_fp_item_from_json(d->prev, NULL) : fl_fp_item_bool(false);
    fl_fp_coll vars[2] = {d->cur ? fl_fp_coll_one(&ci) : (fl_fp_coll){NULL, 0},
                          d->prev ? fl_fp_coll_one(&pi) : (fl_fp_coll){NULL, 0}};
    fl_fp_env env = {.vars = vars, .nvars = 2};
    fl_fp_coll out;
    int truth = -1;
    const fl_json_val *ctx = d->cur ? d->cur : d->prev;
    fl_rc rc = fl_fp_eval(t->crit, ctx, &env, &d->a, &out, &err);
    if (rc == FL_OK) rc = fl_fp_coll_truth(&out, &truth, &err);
    if (rc) {
        fl_log(&srv->opts.log, FL_LOG_WARN, "topics: fhirPathCriteria '%s' on %.*s/%.*s: %s",
               fl_fp_prog_expr(t->crit), FL_STR_ARG(ev->type), FL_STR_ARG(ev->id), err.msg);
        return false;
    }
    return truth == 1;
}

fl_rc srv_events_hook(void *ctx, fl_fhirdb_conn *c, const fl_fhirdb_event *ev, fl_err *err)
{
    fl_server *srv = ctx;
    fl_rc rc = FL_OK;
    bool is_topic = fl_str_eq_c(ev->type, "AidboxSubscriptionTopic");
    bool is_dest = fl_str_eq_c(ev->type, "AidboxTopicDestination");
    if (is_topic || is_dest) atomic_store(&srv->reg_dirty, true);
    if (is_dest && ev->op == FL_FHIRDB_DELETE) FL_TRY(fl_fhirdb_outbox_purge(c, ev->id, NULL, err));
    ev_docs d = {.parsed = false};
    fl_arena_init(&d.a, 0, SRV_HOOK_MEMORY);
    pthread_rwlock_rdlock(&srv->reg_lock);
    const srv_registry *g = srv->reg;
    for (size_t i = 0; g && i < g->ndests && rc == FL_OK; i++) {
        const srv_dest *dst = &g->dests[i];
        const srv_topic *t = find_topic(g, dst->topic_url);
        for (size_t k = 0; t && k < t->ntrig; k++) {
            const srv_trigger *tr = &t->trig[k];
            if (!fl_str_eq_c(ev->type, tr->resource) || !(tr->ops & (1u << ev->op))) continue;
            if (!criteria_true(srv, tr, ev, &d)) continue;
            /* a lakehouse destination flattens every event, a delete with the last known version */
            fl_str payload = dst->lakehouse ? (ev->op == FL_FHIRDB_DELETE ? ev->previous : ev->current)
                             : dst->full_resource ? ev->current
                                                  : FL_STR("");
            rc = fl_fhirdb_outbox_enqueue(c, fl_str_c(dst->id), ev, payload, NULL, err);
            if (rc == FL_OK && dst->lakehouse) atomic_fetch_add_explicit(&srv->enq_events, 1, memory_order_relaxed);
            break; /* one event per destination */
        }
    }
    pthread_rwlock_unlock(&srv->reg_lock);
    fl_arena_fini(&d.a);
    if (rc == FL_OK && srv->opts.hook) rc = srv->opts.hook(srv->opts.hook_ctx, c, ev, err);
done:
    return rc;
}

void srv_dest_status(srv_req *r, fl_str id)
{
    if (!srv_get_conn(r)) return;
    fl_fhirdb_rec rec;
    fl_err err;
    fl_err_clear(&err);
    fl_rc rc = fl_fhirdb_read(r->c, FL_STR("AidboxTopicDestination"), id, r->a, &rec, &err);
    if (rc == FL_OK && rec.deleted) {
        srv_outcome(r, 410, "AidboxTopicDestination/%.*s was deleted", FL_STR_ARG(id));
        return;
    }
    int64_t queued = 0;
    if (rc == FL_OK) rc = fl_fhirdb_outbox_count(r->c, id, &queued, &err);
    if (rc) {
        srv_store_fail(r, rc, &err, "$status");
        return;
    }
    fl_jw w;
    srv_json_resource(r, &w, "Parameters");
    fl_jw_key_c(&w, "parameter");
    fl_jw_arr_begin(&w);
    srv_deliver_status(r, id, queued, &w); /* counters of this process's worker, if any */
    fl_jw_arr_end(&w);
    fl_jw_obj_end(&w);
    r->resp->status = 200;
}

static void *refresher_main(void *arg)
{
    fl_server *srv = arg;
    pthread_mutex_lock(&srv->stop_mu);
    while (!srv->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += SRV_REGISTRY_REFRESH_MS / 1000;
        ts.tv_nsec += (long)(SRV_REGISTRY_REFRESH_MS % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&srv->stop_cv, &srv->stop_mu, &ts);
        if (srv->stopping) break;
        pthread_mutex_unlock(&srv->stop_mu);
        fl_fhirdb_conn *c = NULL;
        fl_err err;
        fl_err_clear(&err);
        if (fl_fhirdb_acquire(srv->db, &c, &err) != FL_OK || srv_events_reload(srv, c, &err) != FL_OK)
            fl_log(&srv->opts.log, FL_LOG_WARN, "topics: periodic reload failed: %s", err.msg);
        fl_fhirdb_release(srv->db, c);
        pthread_mutex_lock(&srv->stop_mu);
    }
    pthread_mutex_unlock(&srv->stop_mu);
    return NULL;
}

fl_rc srv_events_start(fl_server *srv, fl_err *err)
{
    srv->stopping = false;
    if (pthread_create(&srv->refresher, NULL, refresher_main, srv) != 0)
        return fl_err_set(err, FL_E_INTERNAL, "cannot start the topic refresher thread");
    srv->refresher_running = true;
    return FL_OK;
}

void srv_events_stop(fl_server *srv)
{
    if (!srv->refresher_running) return;
    pthread_mutex_lock(&srv->stop_mu);
    srv->stopping = true;
    pthread_cond_signal(&srv->stop_cv);
    pthread_mutex_unlock(&srv->stop_mu);
    pthread_join(srv->refresher, NULL);
    srv->refresher_running = false;
}
