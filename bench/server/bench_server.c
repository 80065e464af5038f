/* bench_server.c - `fhirlake serve` end-to-end benchmark: sustained creates/s and the time
 * from each create's response to its row being visible in the destination's Delta table.
 *
 *   bench_server BASE TABLE [--conns N] [--seconds S] [--send-ms MS] [--batch N] [--drain S]
 *
 * BASE is a running server's FHIR base (http://127.0.0.1:PORT/fhir), TABLE a local path
 * for a new Delta table. Setup: POST an AidboxSubscriptionTopic (Patient), a ViewDefinition
 * `bench_patient` (id, gender, birthDate, family name, meta.lastUpdated) and a
 * data-lakehouse-at-least-once destination to TABLE (sendIntervalMs, batchSize), then wait
 * for its initial export. Load: N keep-alive connections (libcurl multi, HTTP/1.1) POST a
 * Patient each (Prefer: return=minimal) as fast as the server answers, for S seconds; the
 * id comes from the Location header and the response time (CLOCK_MONOTONIC) is recorded.
 * Watcher (its own thread, libfhirlake's Delta API): every 10 ms check whether the next
 * commit file exists (fl_store_head) and if so load the table's latest snapshot, scan the
 * data files not seen before and record the first-seen time of every id in them. After the load the watcher runs until every created
 * id was seen (or --drain seconds passed). Prints "key value" lines: creates, creates/s,
 * request latency p50/p99, visibility latency p50/p99/max (response -> row visible),
 * rows missing and rows seen twice (both must be 0: exactly-once delivery). With
 * BENCH_SERVER_DUMP=FILE it also writes one "response_ms visible_ms" line per row
 * (CLOCK_MONOTONIC, comparable with the server's debug log). Exit 1 on an
 * error or a missing/duplicate row. Bench code: plain malloc, prints. */
#include "fhirlake/delta.h"
#include "fhirlake/os.h"
#include "fhirlake/store.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_MAX 64

typedef struct id_rec {
    char id[ID_MAX + 1];
    uint64_t t_ns;
} id_rec;

typedef struct id_vec {
    id_rec *v;
    size_t n, cap;
} id_vec;

static void vec_push(id_vec *x, const char *id, size_t len, uint64_t t)
{
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 4096;
        x->v = realloc(x->v, x->cap * sizeof *x->v);
        if (!x->v) {
            fprintf(stderr, "bench_server: out of memory\n");
            exit(1);
        }
    }
    if (len > ID_MAX) len = ID_MAX;
    memcpy(x->v[x->n].id, id, len);
    x->v[x->n].id[len] = 0;
    x->v[x->n].t_ns = t;
    x->n++;
}

static int rec_cmp(const void *a, const void *b) { return strcmp(((const id_rec *)a)->id, ((const id_rec *)b)->id); }

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int i64_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------------ setup (blocking) */

typedef struct membuf {
    char *p;
    size_t n;
} membuf;

static size_t mem_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    membuf *m = ud;
    size_t k = size * nmemb;
    char *q = realloc(m->p, m->n + k + 1);
    if (!q) return 0;
    memcpy(q + m->n, ptr, k);
    m->p = q;
    m->n += k;
    m->p[m->n] = 0;
    return k;
}

static long http(const char *method, const char *url, const char *body, membuf *out)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/fhir+json");
    out->p = NULL;
    out->n = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body) curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, mem_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    long code = 0;
    if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return code;
}

/* The value of the first "id" key in a JSON text (the resource's own id in our replies). */
static void json_id(const char *js, char *out, size_t cap)
{
    out[0] = 0;
    const char *p = js ? strstr(js, "\"id\"") : NULL;
    if (!p) return;
    p = strchr(p + 4, '"');
    if (!p) return;
    const char *e = strchr(p + 1, '"');
    if (!e || (size_t)(e - p - 1) >= cap) return;
    memcpy(out, p + 1, (size_t)(e - p - 1));
    out[e - p - 1] = 0;
}

static int setup(const char *base, const char *table, long send_ms, long batch, char *dest_id, size_t cap)
{
    char url[1024], body[4096], topic[256];
    membuf m;
    snprintf(topic, sizeof topic, "http://example.org/bench-%lld", (long long)fl_clock_now_us());
    snprintf(url, sizeof url, "%s/AidboxSubscriptionTopic", base);
    snprintf(body, sizeof body,
             "{\"resourceType\":\"AidboxSubscriptionTopic\",\"url\":\"%s\",\"status\":\"active\","
             "\"trigger\":[{\"resource\":\"Patient\"}]}",
             topic);
    long st = http("POST", url, body, &m);
    if (st != 201) return fprintf(stderr, "bench_server: topic: HTTP %ld %s\n", st, m.p ? m.p : ""), free(m.p), 1;
    free(m.p);
    snprintf(url, sizeof url, "%s/ViewDefinition", base);
    snprintf(body, sizeof body, "%s",
             "{\"resourceType\":\"ViewDefinition\",\"name\":\"bench_patient\",\"resource\":\"Patient\","
             "\"status\":\"active\",\"select\":[{\"column\":["
             "{\"name\":\"id\",\"path\":\"id\"},"
             "{\"name\":\"gender\",\"path\":\"gender\"},"
             "{\"name\":\"birth_date\",\"path\":\"birthDate\"},"
             "{\"name\":\"family\",\"path\":\"name.first().family\"},"
             "{\"name\":\"ts\",\"path\":\"meta.lastUpdated\"}]}]}");
    st = http("POST", url, body, &m);
    if (st != 201) return fprintf(stderr, "bench_server: view: HTTP %ld %s\n", st, m.p ? m.p : ""), free(m.p), 1;
    free(m.p);
    snprintf(url, sizeof url, "%s/AidboxTopicDestination", base);
    snprintf(body, sizeof body,
             "{\"resourceType\":\"AidboxTopicDestination\",\"status\":\"active\",\"topic\":\"%s\","
             "\"kind\":\"data-lakehouse-at-least-once\",\"parameter\":["
             "{\"name\":\"viewDefinition\",\"valueString\":\"bench_patient\"},"
             "{\"name\":\"tablePath\",\"valueString\":\"%s\"},"
             "{\"name\":\"batchSize\",\"valueInteger\":%ld},"
             "{\"name\":\"sendIntervalMs\",\"valueInteger\":%ld}]}",
             topic, table, batch, send_ms);
    st = http("POST", url, body, &m);
    if (st != 201) return fprintf(stderr, "bench_server: destination: HTTP %ld %s\n", st, m.p ? m.p : ""), free(m.p), 1;
    json_id(m.p, dest_id, cap);
    free(m.p);
    snprintf(url, sizeof url, "%s/AidboxTopicDestination/%s/$status", base, dest_id);
    for (int i = 0; i < 600; i++) {
        st = http("GET", url, NULL, &m);
        bool done = st == 200 && m.p && strstr(m.p, "\"completed\"");
        free(m.p);
        if (done) return 0;
        fl_sleep_ms(50);
    }
    fprintf(stderr, "bench_server: the destination's initial export did not complete\n");
    return 1;
}

/* ------------------------------------------------------------------ watcher */

typedef struct watcher {
    const char *table;
    atomic_bool stop;
    atomic_size_t seen_n; /* ids recorded so far (published after each scan) */
    id_vec seen;          /* written by the watcher thread only until joined */
    size_t polls, loads, files;
    char err[512];
    /* seen data-file paths (open addressing) */
    char **paths;
    size_t npaths, cap;
} watcher;

static uint64_t fnv(fl_str s)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < s.len; i++) h = (h ^ (uint8_t)s.ptr[i]) * 1099511628211ull;
    return h;
}

/* true when path was new (and is now remembered) */
static bool path_add(watcher *w, fl_str p)
{
    if (w->npaths * 2 >= w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 1024;
        char **np = calloc(ncap, sizeof *np);
        if (!np) exit(1);
        for (size_t i = 0; i < w->cap; i++) {
            if (!w->paths[i]) continue;
            size_t k = fnv(fl_str_c(w->paths[i])) & (ncap - 1);
            while (np[k]) k = (k + 1) & (ncap - 1);
            np[k] = w->paths[i];
        }
        free(w->paths);
        w->paths = np;
        w->cap = ncap;
    }
    size_t k = fnv(p) & (w->cap - 1);
    while (w->paths[k]) {
        if (strlen(w->paths[k]) == p.len && !memcmp(w->paths[k], p.ptr, p.len)) return false;
        k = (k + 1) & (w->cap - 1);
    }
    w->paths[k] = strndup(p.ptr, p.len);
    w->npaths++;
    return true;
}

static void *watch_main(void *arg)
{
    watcher *w = arg;
    fl_err err;
    fl_store *st = NULL;
    fl_delta_table *t = NULL;
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    if (fl_store_open(w->table, NULL, &st, &err) || fl_delta_table_open(st, NULL, &t, &err)) {
        snprintf(w->err, sizeof w->err, "open %s: %s", w->table, err.msg);
        goto out;
    }
    int64_t last = -2;
    size_t *idx = NULL, idx_cap = 0;
    while (!atomic_load(&w->stop)) {
        uint64_t t0 = fl_clock_mono_ns();
        w->polls++;
        fl_delta_snapshot *s = NULL;
        fl_rc rc = FL_OK;
        if (last >= 0) { /* cheap: only load when the next commit file exists */
            char key[48];
            fl_store_meta m;
            fl_delta_commit_key(last + 1, key);
            rc = fl_store_head(st, fl_str_c(key), &m, &err);
        }
        if (rc == FL_OK) rc = fl_delta_snapshot_load(t, -1, &s, &err);
        uint64_t t_seen = fl_clock_mono_ns();
        if (rc == FL_OK && fl_delta_snapshot_version(s) != last) {
            w->loads++;
            last = fl_delta_snapshot_version(s);
            size_t nf = fl_delta_snapshot_num_files(s), nnew = 0;
            if (nf > idx_cap) {
                idx_cap = nf * 2;
                idx = realloc(idx, idx_cap * sizeof *idx);
                if (!idx) exit(1);
            }
            for (size_t i = 0; i < nf; i++)
                if (path_add(w, fl_delta_snapshot_get_file(s, i)->path)) idx[nnew++] = i;
            w->files += nnew;
            /* the id column's position */
            const fl_delta_type *root = fl_delta_snapshot_get_schema(s);
            size_t col = SIZE_MAX;
            for (size_t i = 0; root && i < root->n_fields; i++)
                if (fl_str_eq_c(root->fields[i].name, "id")) col = i;
            if (nnew && col != SIZE_MAX) {
                fl_delta_scan *sc = NULL;
                if (fl_delta_scan_open_files(t, s, idx, nnew, &sc, &err)) {
                    snprintf(w->err, sizeof w->err, "scan: %s", err.msg);
                } else {
                    fl_pq_val *row = NULL;
                    while ((rc = fl_delta_scan_next(sc, &a, &row, &err)) == FL_OK) {
                        if (row->kind == FL_PQ_V_STRUCT && col < row->n && row->v.items[col].kind == FL_PQ_V_BYTES)
                            vec_push(&w->seen, row->v.items[col].v.bytes.ptr, row->v.items[col].v.bytes.len, t_seen);
                        fl_arena_reset(&a);
                    }
                    if (rc != FL_E_EOF) snprintf(w->err, sizeof w->err, "scan: %s", err.msg);
                    fl_delta_scan_close(sc);
                }
            }
            atomic_store(&w->seen_n, w->seen.n);
        } else if (rc && rc != FL_E_DELTA_NOT_TABLE && rc != FL_E_NOT_FOUND) {
            snprintf(w->err, sizeof w->err, "snapshot: %s", err.msg);
        }
        fl_delta_snapshot_free(s);
        uint64_t took = (fl_clock_mono_ns() - t0) / 1000000u;
        if (took < 10) fl_sleep_ms((uint32_t)(10 - took));
    }
    free(idx);
out:
    fl_arena_fini(&a);
    fl_delta_table_close(t);
    fl_store_close(st);
    return NULL;
}

/* ------------------------------------------------------------------ load (curl multi) */

typedef struct slot {
    CURL *h;
    char id[ID_MAX + 1];
    size_t idlen;
    uint64_t t0;
} slot;

static size_t hdr_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    slot *s = ud;
    size_t n = size * nitems;
    if (n > 10 && !strncasecmp(buf, "Location:", 9)) {
        /* .../Patient/<id>/_history/1 */
        const char *p = NULL;
        for (size_t i = 9; i + 9 <= n; i++)
            if (!memcmp(buf + i, "/Patient/", 9)) p = buf + i + 9;
        if (p) {
            const char *e = p;
            while (e < buf + n && *e != '/' && *e != '\r' && *e != '\n') e++;
            s->idlen = (size_t)(e - p) > ID_MAX ? ID_MAX : (size_t)(e - p);
            memcpy(s->id, p, s->idlen);
        }
    }
    return n;
}

static size_t sink_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

static double pct_u64(const uint64_t *v, size_t n, double p)
{
    if (!n) return 0;
    size_t k = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)v[k];
}

static double pct_i64(const int64_t *v, size_t n, double p)
{
    if (!n) return 0;
    size_t k = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)v[k];
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_server BASE TABLE [--conns N] [--seconds S] [--send-ms MS] [--batch N] [--drain S]\n");
        return 2;
    }
    const char *base = argv[1], *table = argv[2];
    long conns = 8, send_ms = 1000, batch = 1000;
    double seconds = 20, drain = 30;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--conns")) conns = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--send-ms")) send_ms = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--drain")) drain = atof(argv[i + 1]);
        else return fprintf(stderr, "bench_server: unknown option %s\n", argv[i]), 2;
    }
    if (conns < 1 || conns > 1024) return fprintf(stderr, "bench_server: --conns 1-1024\n"), 2;
    curl_global_init(CURL_GLOBAL_ALL);
    char dest[128];
    if (setup(base, table, send_ms, batch, dest, sizeof dest)) return 1;
    printf("destination %s\n", dest);

    watcher w;
    memset(&w, 0, sizeof w);
    w.table = table;
    pthread_t wt;
    if (pthread_create(&wt, NULL, watch_main, &w)) return fprintf(stderr, "bench_server: thread\n"), 1;

    char url[1024];
    snprintf(url, sizeof url, "%s/Patient", base);
    static const char body[] =
        "{\"resourceType\":\"Patient\",\"active\":true,\"gender\":\"female\",\"birthDate\":\"1970-01-01\","
        "\"name\":[{\"use\":\"official\",\"family\":\"Benchmark\",\"given\":[\"Ada\",\"B\"]}],"
        "\"identifier\":[{\"system\":\"urn:bench\",\"value\":\"0123456789012345678901234567890123456789\"}],"
        "\"address\":[{\"line\":[\"1 Main St\"],\"city\":\"Springfield\",\"postalCode\":\"12345\"}]}";
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/fhir+json");
    hd = curl_slist_append(hd, "Prefer: return=minimal");
    hd = curl_slist_append(hd, "Expect:");
    CURLM *mh = curl_multi_init();
    curl_multi_setopt(mh, CURLMOPT_MAXCONNECTS, conns);
    slot *slots = calloc((size_t)conns, sizeof *slots);
    id_vec done = {0};
    uint64_t *lat = NULL;
    size_t nlat = 0, lat_cap = 0, errors = 0;
    uint64_t t_start = fl_clock_mono_ns(), t_end = t_start + (uint64_t)(seconds * 1e9), t_last = t_start;
    for (long i = 0; i < conns; i++) {
        slot *s = &slots[i];
        s->h = curl_easy_init();
        curl_easy_setopt(s->h, CURLOPT_URL, url);
        curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE, (long)(sizeof body - 1));
        curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(s->h, CURLOPT_HEADERFUNCTION, hdr_cb);
        curl_easy_setopt(s->h, CURLOPT_HEADERDATA, s);
        curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, sink_cb);
        curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
        curl_easy_setopt(s->h, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(s->h, CURLOPT_TIMEOUT, 60L);
        s->t0 = fl_clock_mono_ns();
        curl_multi_add_handle(mh, s->h);
    }
    int running = (int)conns;
    while (running) {
        curl_multi_perform(mh, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(mh, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            slot *s = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            uint64_t now = fl_clock_mono_ns();
            long code = 0;
            curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
            if (msg->data.result == CURLE_OK && code == 201 && s->idlen) {
                vec_push(&done, s->id, s->idlen, now);
                if (nlat == lat_cap) {
                    lat_cap = lat_cap ? lat_cap * 2 : 4096;
                    lat = realloc(lat, lat_cap * sizeof *lat);
                    if (!lat) return 1;
                }
                lat[nlat++] = now - s->t0;
                t_last = now;
            } else if (errors++ < 5) {
                fprintf(stderr, "bench_server: POST failed: curl %d, HTTP %ld\n", (int)msg->data.result, code);
            }
            curl_multi_remove_handle(mh, s->h);
            s->idlen = 0;
            if (now < t_end) {
                s->t0 = now;
                curl_multi_add_handle(mh, s->h);
                running++;
            }
        }
        if (running) curl_multi_poll(mh, NULL, 0, 100, NULL);
    }
    double elapsed = (double)(t_last - t_start) / 1e9;
    /* wait until the watcher saw every created id (or the drain limit) */
    uint64_t t_drain = fl_clock_mono_ns() + (uint64_t)(drain * 1e9);
    while (atomic_load(&w.seen_n) < done.n && fl_clock_mono_ns() < t_drain) fl_sleep_ms(20);
    fl_sleep_ms(200); /* a late duplicate would show up here */
    atomic_store(&w.stop, true);
    pthread_join(wt, NULL);

    qsort(done.v, done.n, sizeof *done.v, rec_cmp);
    qsort(w.seen.v, w.seen.n, sizeof *w.seen.v, rec_cmp);
    int64_t *vis = calloc(done.n + 1, sizeof *vis);
    size_t nvis = 0, missing = 0, dup = 0, extra = 0;
    /* BENCH_SERVER_DUMP=FILE: one line per row seen, "response_ms visible_ms" (CLOCK_MONOTONIC) */
    const char *dump_path = getenv("BENCH_SERVER_DUMP");
    FILE *dump = dump_path && *dump_path ? fopen(dump_path, "w") : NULL;
    size_t j = 0;
    for (size_t i = 0; i < w.seen.n; i++)
        if (i && !strcmp(w.seen.v[i].id, w.seen.v[i - 1].id)) dup++;
    for (size_t i = 0; i < done.n; i++) {
        while (j < w.seen.n && strcmp(w.seen.v[j].id, done.v[i].id) < 0) j++;
        if (j < w.seen.n && !strcmp(w.seen.v[j].id, done.v[i].id))
        {
            vis[nvis++] = (int64_t)w.seen.v[j].t_ns - (int64_t)done.v[i].t_ns;
            if (dump) fprintf(dump, "%.3f %.3f\n", (double)done.v[i].t_ns / 1e6, (double)w.seen.v[j].t_ns / 1e6);
        }
        else
            missing++;
    }
    if (dump) fclose(dump);
    extra = w.seen.n - dup > nvis ? w.seen.n - dup - nvis : 0;
    qsort(lat, nlat, sizeof *lat, u64_cmp);
    qsort(vis, nvis, sizeof *vis, i64_cmp);
    printf("connections %ld\nseconds %.2f\ncreates %zu\nerrors %zu\ncreates_per_s %.0f\n", conns, elapsed, done.n,
           errors, elapsed > 0 ? (double)done.n / elapsed : 0);
    printf("request_ms_p50 %.2f\nrequest_ms_p99 %.2f\n", pct_u64(lat, nlat, 0.5) / 1e6, pct_u64(lat, nlat, 0.99) / 1e6);
    printf("send_interval_ms %ld\nbatch_size %ld\n", send_ms, batch);
    printf("visible_ms_p50 %.0f\nvisible_ms_p99 %.0f\nvisible_ms_max %.0f\nvisible_ms_min %.0f\n",
           pct_i64(vis, nvis, 0.5) / 1e6, pct_i64(vis, nvis, 0.99) / 1e6, nvis ? (double)vis[nvis - 1] / 1e6 : 0,
           nvis ? (double)vis[0] / 1e6 : 0);
    printf("rows_seen %zu\nrows_missing %zu\nrows_twice %zu\nrows_unknown %zu\n", w.seen.n, missing, dup, extra);
    printf("watcher_polls %zu\nwatcher_versions %zu\nwatcher_files %zu\n", w.polls, w.loads, w.files);
    if (w.err[0]) fprintf(stderr, "bench_server: watcher: %s\n", w.err);
    for (long i = 0; i < conns; i++) curl_easy_cleanup(slots[i].h);
    curl_multi_cleanup(mh);
    curl_slist_free_all(hd);
    curl_global_cleanup();
    int bad = missing || dup || !done.n || w.err[0];
    for (size_t i = 0; i < w.cap; i++) free(w.paths[i]);
    free(w.paths);
    free(w.seen.v);
    free(done.v);
    free(lat);
    free(vis);
    free(slots);
    return bad ? 1 : 0;
}
