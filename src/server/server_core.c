/* server_core.c - fl_server lifecycle and the libmicrohttpd transport (module server).
 * new: copy and check options (loopback rule, auth file), open the store. start: bind,
 * serve from an internal thread pool (epoll where available). Each request gets a
 * conn_state (raw target captured by the URI-log callback, body accumulated up to
 * max_body, arena) and is handed to fl_server_handle(); the response body buffer is given
 * to MHD without copying. stop: quiesce, wait up to 5 s for in-flight requests, join.
 * Nothing here prints: libmicrohttpd's own messages go to the configured fl_logger. */
#include "server/server_int.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#define SRV_STOP_WAIT_MS 5000

void fl_server_opts_default(fl_server_opts *o)
{
    memset(o, 0, sizeof *o);
    o->listen = "127.0.0.1:8080";
    o->db_url = "sqlite:./data/fhirlake.db";
    o->base = "/fhir";
    o->max_body = FL_SERVER_DEFAULT_MAX_BODY;
}

static char *dup_c(const char *s) { return s ? fl_strndup(s, strlen(s)) : NULL; }

static fl_rc parse_listen(fl_server *srv, fl_err *err)
{
    const char *l = srv->listen;
    const char *host = l, *colon;
    size_t hl;
    if (l[0] == '[') {
        const char *close = strchr(l, ']');
        if (!close || close[1] != ':') return fl_err_set(err, FL_E_CONFIG, "--listen '%s': expected [ADDR]:PORT", l);
        host = l + 1;
        hl = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(l, ':');
        if (!colon) return fl_err_set(err, FL_E_CONFIG, "--listen '%s': expected HOST:PORT", l);
        hl = (size_t)(colon - l);
    }
    int64_t port = 0;
    if (!hl || hl >= sizeof srv->host || !fl_parse_i64(fl_str_c(colon + 1), &port) || port < 0 || port > 65535)
        return fl_err_set(err, FL_E_CONFIG, "--listen '%s': expected HOST:PORT with a port 0-65535", l);
    memcpy(srv->host, host, hl);
    srv->host[hl] = 0;
    srv->port_req = (uint16_t)port;
    return FL_OK;
}

static bool is_loopback(const char *h)
{
    return !strncmp(h, "127.", 4) || !strcmp(h, "localhost") || !strcmp(h, "::1");
}

static fl_rc load_auth(fl_server *srv, fl_err *err)
{
    fl_rc rc = FL_OK;
    fl_buf b;
    fl_buf_init(&b, 0);
    if (!srv->auth_file) FL_FAIL(FL_E_CONFIG, "--auth %s needs --auth-file", srv->opts.auth == FL_SERVER_AUTH_BASIC ? "basic" : "bearer");
    FL_TRY(fl_file_read(srv->auth_file, FL_SERVER_MAX_AUTH_FILE, &b, err));
    fl_str s = fl_buf_str(&b);
    size_t i = 0, lines = 0;
    for (size_t k = 0; k < s.len; k++) lines += s.ptr[k] == '\n';
    srv->creds = fl_calloc(lines + 1, sizeof *srv->creds);
    if (!srv->creds) FL_FAIL(FL_E_NOMEM, "out of memory");
    size_t lineno = 0;
    while (i < s.len) {
        size_t j = i;
        while (j < s.len && s.ptr[j] != '\n') j++;
        lineno++;
        size_t a = i, e = j;
        while (a < e && (s.ptr[a] == ' ' || s.ptr[a] == '\t')) a++;
        while (e > a && (s.ptr[e - 1] == ' ' || s.ptr[e - 1] == '\t' || s.ptr[e - 1] == '\r')) e--;
        i = j + 1;
        if (a == e || s.ptr[a] == '#') continue;
        if (srv->opts.auth == FL_SERVER_AUTH_BASIC && !memchr(s.ptr + a, ':', e - a))
            FL_FAIL(FL_E_CONFIG, "%s line %zu: expected user:password", srv->auth_file, lineno);
        srv->creds[srv->ncreds] = fl_strndup(s.ptr + a, e - a);
        if (!srv->creds[srv->ncreds]) FL_FAIL(FL_E_NOMEM, "out of memory");
        srv->ncreds++;
    }
    if (!srv->ncreds) FL_FAIL(FL_E_CONFIG, "%s has no credentials", srv->auth_file);
done:
    fl_buf_reset(&b);
    return rc;
}

fl_rc fl_server_new(const fl_server_opts *opts, fl_server **out, fl_err *err)
{
    fl_rc rc = FL_OK;
    *out = NULL;
    fl_server *srv = fl_calloc(1, sizeof *srv);
    if (!srv) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    fl_server_opts d;
    fl_server_opts_default(&d);
    srv->opts = opts ? *opts : d;
    srv->listen = dup_c(srv->opts.listen ? srv->opts.listen : d.listen);
    srv->db_url = dup_c(srv->opts.db_url ? srv->opts.db_url : d.db_url);
    srv->base = dup_c(srv->opts.base ? srv->opts.base : d.base);
    srv->auth_file = dup_c(srv->opts.auth_file);
    if (!srv->listen || !srv->db_url || !srv->base || (srv->opts.auth_file && !srv->auth_file))
        FL_FAIL(FL_E_NOMEM, "out of memory");
    srv->opts.listen = srv->listen;
    srv->opts.db_url = srv->db_url;
    srv->opts.base = srv->base;
    srv->opts.auth_file = srv->auth_file;
    if (!srv->opts.max_body) srv->opts.max_body = FL_SERVER_DEFAULT_MAX_BODY;
    if (!srv->opts.threads) srv->opts.threads = fl_cpu_count() < 2 ? 2 : fl_cpu_count();
    size_t bl = strlen(srv->base);
    while (bl && srv->base[bl - 1] == '/') srv->base[--bl] = 0;
    if (bl && srv->base[0] != '/') FL_FAIL(FL_E_CONFIG, "--base '%s' must start with '/'", srv->base);
    FL_TRY(parse_listen(srv, err));
    if (!is_loopback(srv->host) && srv->opts.auth == FL_SERVER_AUTH_NONE && !srv->opts.insecure)
        FL_FAIL(FL_E_CONFIG,
                "refusing to listen on non-loopback address '%s' without authentication "
                "(use --auth basic|bearer --auth-file F, or --insecure)",
                srv->host);
    if (srv->opts.auth != FL_SERVER_AUTH_NONE) FL_TRY(load_auth(srv, err));
    fl_fhirdb_opts dbo;
    fl_fhirdb_opts_default(&dbo);
    dbo.max_conns = srv->opts.threads + 2;
    dbo.log = srv->opts.log;
    dbo.hook = srv_events_hook; /* topic events; it chains to opts.hook */
    dbo.hook_ctx = srv;
    pthread_rwlock_init(&srv->reg_lock, NULL);
    pthread_mutex_init(&srv->stop_mu, NULL);
    pthread_cond_init(&srv->stop_cv, NULL);
    pthread_mutex_init(&srv->work_mu, NULL);
    pthread_mutex_init(&srv->wake_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->wake_cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&srv->enq_events, 0);
    atomic_init(&srv->wake_at, UINT64_MAX);
    fl_uuid4(srv->owner); /* lease owner id of this process (delivery workers) */
    srv->reg_lock_init = true;
    FL_TRY(fl_fhirdb_open(srv->db_url, &dbo, &srv->db, err));
    fl_fhirdb_conn *c = NULL;
    FL_TRY(fl_fhirdb_acquire(srv->db, &c, err));
    rc = srv_events_reload(srv, c, err);
    fl_fhirdb_release(srv->db, c);
    if (rc) {
        fl_err_prefix(err, "loading topics: ");
        goto done;
    }
    srv->start_us = fl_clock_now_us();
    *out = srv;
done:
    if (rc) fl_server_free(srv);
    return rc;
}

fl_fhirdb *fl_server_get_db(fl_server *srv) { return srv->db; }
uint16_t fl_server_port(const fl_server *srv) { return srv->port; }

/* ------------------------------------------------------------------ transport */

typedef struct hdr_sink {
    fl_server_hdr *h;
    size_t n, total, bytes; /* kept, seen, bytes seen */
} hdr_sink;

typedef struct conn_state {
    fl_arena a;
    fl_buf body;
    char *target; /* raw request-target, at most FL_SERVER_MAX_TARGET + 1 bytes */
    size_t target_len;
    hdr_sink hs; /* the request headers, collected once when the request starts */
    bool started, too_large, reject, done;
} conn_state;

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    fl_server *srv = cls;
    (void)conn;
    conn_state *st = fl_calloc(1, sizeof *st);
    if (!st) return NULL;
    fl_arena_init(&st->a, 16384, FL_SERVER_MAX_REQUEST_MEMORY);
    fl_buf_init(&st->body, srv->opts.max_body);
    size_t n = strlen(uri);
    if (n > FL_SERVER_MAX_TARGET + 1) n = FL_SERVER_MAX_TARGET + 1; /* the router answers 414 */
    st->target = fl_strndup(uri, n);
    st->target_len = st->target ? n : 0;
    return st;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    conn_state *st = *con_cls;
    if (!st) return;
    fl_buf_reset(&st->body);
    fl_arena_fini(&st->a);
    fl_free(st->target);
    fl_free(st);
    *con_cls = NULL;
}

/* Keeps the first FL_SERVER_MAX_HEADERS headers and counts all of them (the router answers
 * 431 over the limits). */
static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    hdr_sink *s = cls;
    fl_str k = fl_str_c(key), v = fl_str_c(value ? value : "");
    s->total++;
    s->bytes += k.len + v.len;
    if (s->n >= FL_SERVER_MAX_HEADERS) return MHD_YES;
    s->h[s->n].name = k;
    s->h[s->n].value = v;
    s->n++;
    return MHD_YES;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) FL_PRINTF(2, 0);
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    fl_server *srv = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = 0;
    fl_log(&srv->opts.log, FL_LOG_WARN, "http: %s", msg);
}

static void free_body(void *p) { fl_free(p); }

static enum MHD_Result respond(fl_server *srv, struct MHD_Connection *conn, conn_state *st, const char *method)
{
    fl_server_req req = {
        .method = fl_str_c(method),
        .target = fl_str_make(st->target ? st->target : "", st->target_len),
        .headers = st->hs.h,
        .nheaders = st->hs.n,
        .body = fl_buf_str(&st->body),
        .body_too_large = st->too_large,
        .header_bytes = st->hs.bytes,
        .header_count = st->hs.total,
    };
    fl_server_resp resp;
    fl_server_handle(srv, &req, &st->a, &resp);
    size_t len = 0;
    char *data = fl_buf_detach(&resp.body, &len);
    struct MHD_Response *mr = data ? MHD_create_response_from_buffer_with_free_callback(len, data, free_body)
                                   : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!mr) {
        fl_free(data);
        return MHD_NO;
    }
    for (size_t i = 0; i < resp.nheaders; i++) {
        char *v = fl_arena_strndup(&st->a, resp.headers[i].value.ptr ? resp.headers[i].value.ptr : "",
                                   resp.headers[i].value.len);
        char *k = fl_arena_strndup(&st->a, resp.headers[i].name.ptr, resp.headers[i].name.len);
        if (k && v) MHD_add_response_header(mr, k, v);
    }
    if (st->too_large || st->reject) MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)resp.status, mr);
    MHD_destroy_response(mr);
    st->done = true;
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    fl_server *srv = cls;
    (void)url;
    (void)version;
    conn_state *st = *con_cls;
    if (!st || !st->target) return MHD_NO; /* out of memory: drop the connection */
    if (st->done) {
        *upload_data_size = 0; /* an early 413 was queued; discard the rest */
        return MHD_YES;
    }
    if (!st->started) {
        st->started = true;
        st->hs.h = fl_arena_calloc(&st->a, FL_SERVER_MAX_HEADERS, sizeof *st->hs.h);
        if (!st->hs.h) return MHD_NO;
        MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &st->hs);
        if (st->hs.total > FL_SERVER_MAX_HEADERS || st->hs.bytes > FL_SERVER_MAX_HEADER_BYTES) {
            st->reject = true; /* the router answers 431; the body is not read */
            return respond(srv, conn, st, method);
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        int64_t n = 0;
        if (cl && fl_parse_i64(fl_str_c(cl), &n) && n > 0 && (uint64_t)n > srv->opts.max_body) {
            st->too_large = true;
            return respond(srv, conn, st, method); /* answer 413 without reading the body */
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!st->too_large && fl_buf_append(&st->body, upload_data, *upload_data_size) != FL_OK) {
            st->too_large = true;
            fl_buf_reset(&st->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    return respond(srv, conn, st, method);
}

fl_rc fl_server_start(fl_server *srv, fl_err *err)
{
    if (srv->mhd) return fl_err_set(err, FL_E_STATE, "server already started");
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)srv->port_req);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(srv->host, port, &hints, &ai);
    if (gai != 0 || !ai)
        return fl_err_set(err, FL_E_NET, "cannot resolve listen address '%s': %s", srv->host, gai_strerror(gai));
    unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    srv->mhd = MHD_start_daemon(
        flags, srv->port_req, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)srv->opts.threads, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)FL_SERVER_CONN_MEMORY, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!srv->mhd) return fl_err_set(err, FL_E_NET, "cannot listen on %s (address in use or not permitted)", srv->listen);
    fl_rc rc = srv_events_start(srv, err);
    if (rc) {
        MHD_stop_daemon(srv->mhd);
        srv->mhd = NULL;
        return rc;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : srv->port_req;
    /* lease owner of the delivery workers: host and bound port, so a server restarted on
     * the same address takes its destinations back at once (a new one waits for the
     * dead owner's lease to expire) */
    char hn[128] = "";
    if (gethostname(hn, sizeof hn - 1) != 0) snprintf(hn, sizeof hn, "host");
    snprintf(srv->owner, sizeof srv->owner, "%.*s:%u", 40, hn, (unsigned)srv->port);
    pthread_mutex_lock(&srv->work_mu);
    srv->delivery_on = true; /* topic destination workers (server_deliver.c) */
    pthread_mutex_unlock(&srv->work_mu);
    srv_deliver_sync(srv);
    fl_log(&srv->opts.log, FL_LOG_INFO, "listening on %s port %u, FHIR base %s, store %s, %u threads", srv->host,
           (unsigned)srv->port, srv->base[0] ? srv->base : "/", fl_fhirdb_backend(srv->db), srv->opts.threads);
    return FL_OK;
}

void fl_server_stop(fl_server *srv)
{
    if (!srv || !srv->mhd) return;
    MHD_quiesce_daemon(srv->mhd);
    for (unsigned waited = 0; waited < SRV_STOP_WAIT_MS; waited += 20) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!info || info->num_connections == 0) break;
        fl_sleep_ms(20);
    }
    MHD_stop_daemon(srv->mhd);
    srv->mhd = NULL;
    srv_events_stop(srv);
    srv_deliver_stop_all(srv);
    fl_log(&srv->opts.log, FL_LOG_INFO, "server stopped");
}

void fl_server_free(fl_server *srv)
{
    if (!srv) return;
    fl_server_stop(srv);
    srv_deliver_stop_all(srv); /* also $viewdefinition-export jobs of a never-started server */
    fl_fhirdb_close(srv->db);
    srv_events_free(srv);
    if (srv->reg_lock_init) {
        pthread_rwlock_destroy(&srv->reg_lock);
        pthread_mutex_destroy(&srv->stop_mu);
        pthread_cond_destroy(&srv->stop_cv);
        pthread_mutex_destroy(&srv->work_mu);
        pthread_mutex_destroy(&srv->wake_mu);
        pthread_cond_destroy(&srv->wake_cv);
    }
    for (size_t i = 0; i < srv->ncreds; i++) fl_free(srv->creds[i]);
    fl_free(srv->creds);
    fl_free(srv->listen);
    fl_free(srv->db_url);
    fl_free(srv->base);
    fl_free(srv->auth_file);
    fl_free(srv);
}
