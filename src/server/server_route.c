/* server_route.c - fl_server_handle: the socket-free request router (module server).
 * Parses the raw request-target (path + query, percent-decoded here so the live server and
 * the fuzzer see identical input), applies limits and authentication, and dispatches to the
 * health check, CapabilityStatement, Bundles, history and the type/instance interactions.
 * Invariant: every response that is not 204 carries a JSON body (a resource, a Bundle or an
 * OperationOutcome) and the DB connection is released before returning. */
#include "server/server_int.h"

#include <stdio.h>
#include <strings.h>

#define SRV_MAX_RESPONSE (512u << 20) /* a response body (1000 large resources) */

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* Decode base64 into out (cap bytes); -1 on junk or overflow. */
static long b64_decode(fl_str s, char *out, size_t cap)
{
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] == '=') break;
        int v = b64val(s.ptr[i]);
        if (v < 0) return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (k >= cap) return -1;
            out[k++] = (char)((acc >> bits) & 0xff);
        }
    }
    return (long)k;
}

/* Constant-time comparison (length still leaks, which is acceptable for tokens). */
static bool ct_equal(fl_str a, const char *b)
{
    size_t bl = strlen(b);
    unsigned diff = a.len == bl ? 0u : 1u;
    for (size_t i = 0; i < a.len && i < bl; i++) diff |= (unsigned char)(a.ptr[i] ^ b[i]);
    return diff == 0;
}

static bool authorized(srv_req *r)
{
    fl_server *srv = r->srv;
    if (srv->opts.auth == FL_SERVER_AUTH_NONE) return true;
    fl_str h = srv_header(r->req, "Authorization");
    fl_str cred = FL_STR_NULL;
    char dec[1024];
    if (srv->opts.auth == FL_SERVER_AUTH_BASIC && h.len > 6 && strncasecmp(h.ptr, "Basic ", 6) == 0) {
        long n = b64_decode(fl_str_make(h.ptr + 6, h.len - 6), dec, sizeof dec);
        if (n < 0) return false;
        cred = fl_str_make(dec, (size_t)n);
    } else if (srv->opts.auth == FL_SERVER_AUTH_BEARER && h.len > 7 &&
               strncasecmp(h.ptr, "Bearer ", 7) == 0) {
        cred = fl_str_make(h.ptr + 7, h.len - 7);
    } else {
        return false;
    }
    bool ok = false;
    for (size_t i = 0; i < srv->ncreds; i++) ok |= ct_equal(cred, srv->creds[i]);
    return ok;
}

static bool host_ok(fl_str h)
{
    if (h.len == 0 || h.len > 255) return false;
    for (size_t i = 0; i < h.len; i++) {
        char c = h.ptr[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '-' || c == ':' || c == '[' || c == ']';
        if (!ok) return false;
    }
    return true;
}

bool srv_parse_query(srv_req *r, fl_str q)
{
    size_t i = 0;
    while (i < q.len) {
        size_t j = i;
        while (j < q.len && q.ptr[j] != '&') j++;
        if (j > i) {
            if (r->nparams >= FL_SERVER_MAX_QUERY_PARAMS) {
                srv_outcome(r, 400, "too many query parameters (limit %d)", FL_SERVER_MAX_QUERY_PARAMS);
                return false;
            }
            fl_str part = fl_str_make(q.ptr + i, j - i);
            const char *eq = memchr(part.ptr, '=', part.len);
            fl_str name = eq ? fl_str_make(part.ptr, (size_t)(eq - part.ptr)) : part;
            fl_str val = eq ? fl_str_make(eq + 1, part.len - name.len - 1) : FL_STR("");
            srv_param *p = &r->params[r->nparams++];
            p->name = srv_pct_decode(r->a, name, true);
            p->value = srv_pct_decode(r->a, val, true);
            if (!p->name.ptr || !p->value.ptr) {
                srv_outcome(r, 500, "out of memory");
                return false;
            }
        }
        i = j + 1;
    }
    return true;
}

static int parse_prefer(fl_str v)
{
    const char *keys[] = {"return=minimal", "return=representation", "return=OperationOutcome"};
    int vals[] = {SRV_PREFER_MINIMAL, SRV_PREFER_REPRESENTATION, SRV_PREFER_OUTCOME};
    for (size_t k = 0; k < 3; k++) {
        size_t n = strlen(keys[k]);
        for (size_t i = 0; i + n <= v.len; i++)
            if (strncasecmp(v.ptr + i, keys[k], n) == 0) return vals[k];
    }
    return SRV_PREFER_DEFAULT;
}

static void health(srv_req *r)
{
    fl_err err;
    fl_err_clear(&err);
    fl_rc rc = srv_conn(r, &err);
    if (rc == FL_OK) rc = fl_fhirdb_ping(r->c, &err);
    fl_buf *b = &r->resp->body;
    fl_buf_clear(b);
    r->resp->status = rc ? 503 : 200;
    fl_jw w;
    fl_jw_init(&w, b);
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "status");
    fl_jw_str_c(&w, rc ? "unavailable" : "ok");
    fl_jw_key_c(&w, "db");
    fl_jw_str_c(&w, fl_fhirdb_backend(r->srv->db));
    if (rc) {
        fl_jw_key_c(&w, "error");
        fl_jw_str_c(&w, err.msg);
    }
    fl_jw_key_c(&w, "uptimeSeconds");
    fl_jw_i64(&w, (fl_clock_now_us() - r->srv->start_us) / 1000000);
    fl_jw_obj_end(&w);
}

static void dispatch(srv_req *r, fl_str method, fl_str path)
{
    fl_server *srv = r->srv;
    fl_str base = fl_str_c(srv->base);
    if (fl_str_eq_c(path, "/health")) {
        if (!fl_str_eq_c(method, "GET") && !fl_str_eq_c(method, "HEAD")) {
            srv_outcome(r, 405, "/health supports GET only");
            return;
        }
        health(r);
        return;
    }
    if (fl_str_eq_c(path, "/metrics")) {
        if (!authorized(r)) {
            srv_outcome(r, 401, "authentication required for /metrics");
            return;
        }
        if (!fl_str_eq_c(method, "GET")) {
            srv_outcome(r, 405, "/metrics supports GET only");
            return;
        }
        srv_metrics_reply(r);
        return;
    }
    if (!fl_str_starts_with(path, base) || (path.len > base.len && path.ptr[base.len] != '/')) {
        srv_outcome(r, 404, "no such endpoint '%.*s' (the FHIR base is '%s')", FL_STR_ARG(path), srv->base);
        return;
    }
    fl_str rest = fl_str_make(path.ptr + base.len, path.len - base.len);
    fl_str seg[5];
    int nseg = 0;
    size_t i = 0;
    while (i < rest.len) {
        if (rest.ptr[i] == '/') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < rest.len && rest.ptr[j] != '/') j++;
        if (nseg == 5) {
            srv_outcome(r, 404, "no such endpoint '%.*s' (too many path segments)", FL_STR_ARG(path));
            return;
        }
        seg[nseg++] = fl_str_make(rest.ptr + i, j - i);
        i = j;
    }
    bool is_meta = nseg == 1 && fl_str_eq_c(seg[0], "metadata");
    if (!is_meta && !authorized(r)) {
        srv_add_header_c(r, "WWW-Authenticate",
                         srv->opts.auth == FL_SERVER_AUTH_BASIC ? "Basic realm=\"fhirlake\"" : "Bearer");
        srv_outcome(r, 401, "authentication required (%s)",
                    srv->opts.auth == FL_SERVER_AUTH_BASIC ? "Basic" : "Bearer token");
        return;
    }
    if (r->req->body_too_large) {
        srv_outcome(r, 413, "request body larger than the limit of %zu bytes (see --max-body-mb)",
                    srv->opts.max_body);
        return;
    }
    bool has_body = fl_str_eq_c(method, "POST") || fl_str_eq_c(method, "PUT");
    fl_str ct = srv_header(r->req, "Content-Type");
    if (has_body && ct.len && !(fl_str_starts_with(ct, FL_STR("application/fhir+json")) ||
                                fl_str_starts_with(ct, FL_STR("application/json")) ||
                                fl_str_starts_with(ct, FL_STR("application/x-www-form-urlencoded")))) {
        srv_outcome(r, 415, "unsupported Content-Type '%.*s' (use application/fhir+json)", FL_STR_ARG(ct));
        return;
    }
    r->correlation_id = srv_header(r->req, "X-Topic-Correlation-Id");
    if (r->correlation_id.len > FL_SERVER_MAX_CORRELATION_ID) {
        srv_outcome(r, 400, "X-Topic-Correlation-Id longer than %d bytes", FL_SERVER_MAX_CORRELATION_ID);
        return;
    }
    fl_str prefer = srv_header(r->req, "Prefer");
    r->prefer = parse_prefer(prefer);
    for (size_t k = 0; k + 15 <= prefer.len; k++)
        if (strncasecmp(prefer.ptr + k, "handling=strict", 15) == 0) r->strict = true;

    if (nseg == 0) {
        if (fl_str_eq_c(method, "POST")) {
            srv_bundle(r);
            return;
        }
        srv_outcome(r, fl_str_eq_c(method, "GET") ? 400 : 405,
                    "%.*s on the base URL: only POST of a transaction or batch Bundle is supported",
                    FL_STR_ARG(method));
        return;
    }
    if (is_meta) {
        if (!fl_str_eq_c(method, "GET")) {
            srv_outcome(r, 405, "metadata supports GET only");
            return;
        }
        srv_capability(r);
        return;
    }
    if (seg[0].len && seg[0].ptr[0] == '$') {
        srv_outcome(r, 404, "unknown operation '%.*s'", FL_STR_ARG(seg[0]));
        return;
    }
    if (fl_str_eq_c(seg[0], "_history")) {
        if (nseg != 1 || !fl_str_eq_c(method, "GET")) {
            srv_outcome(r, nseg != 1 ? 404 : 405, "system history supports GET [base]/_history only");
            return;
        }
        srv_history(r, FL_STR_NULL, FL_STR_NULL);
        return;
    }
    srv_route_type(r, method, seg[0], nseg > 1 ? seg[1] : FL_STR_NULL, nseg > 2 ? seg[2] : FL_STR_NULL,
                   nseg > 3 ? seg[3] : FL_STR_NULL, nseg);
}

void fl_server_handle(fl_server *srv, const fl_server_req *req, fl_arena *a, fl_server_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    fl_buf_init(&resp->body, SRV_MAX_RESPONSE);
    resp->status = 500;
    srv_req *r = fl_arena_calloc(a, 1, sizeof *r);
    if (!r) {
        fl_buf_append_c(&resp->body, "{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":"
                                     "\"error\",\"code\":\"exception\",\"diagnostics\":\"out of memory\"}]}");
        return;
    }
    r->srv = srv;
    r->a = a;
    r->req = req;
    r->resp = resp;
    uint64_t t0 = fl_clock_mono_ns();

    /* base URL for fullUrl/Location/links: the client's Host when sane, else our address */
    fl_str host = srv_header(req, "Host");
    fl_buf bu;
    fl_buf_init(&bu, 1024);
    if (host_ok(host))
        fl_buf_printf(&bu, "http://" FL_STR_FMT "%s", FL_STR_ARG(host), srv->base);
    else
        fl_buf_printf(&bu, strchr(srv->host, ':') ? "http://[%s]:%u%s" : "http://%s:%u%s", srv->host,
                      (unsigned)(srv->port ? srv->port : srv->port_req), srv->base);
    r->base_url = fl_arena_str_dup(a, fl_buf_str(&bu));
    fl_buf_reset(&bu);

    size_t hbytes = req->header_bytes, hcount = req->header_count ? req->header_count : req->nheaders;
    for (size_t i = 0; !req->header_bytes && i < req->nheaders; i++)
        hbytes += req->headers[i].name.len + req->headers[i].value.len;
    if (hcount > FL_SERVER_MAX_HEADERS) {
        srv_outcome(r, 431, "%zu request headers: more than the limit of %d", hcount, FL_SERVER_MAX_HEADERS);
        goto done;
    }
    if (hbytes > FL_SERVER_MAX_HEADER_BYTES) {
        srv_outcome(r, 431, "request headers of %zu bytes: larger than the limit of %u bytes", hbytes,
                    FL_SERVER_MAX_HEADER_BYTES);
        goto done;
    }
    fl_str target = req->target;
    if (target.len > FL_SERVER_MAX_TARGET) {
        srv_outcome(r, 414, "request target longer than %d bytes", FL_SERVER_MAX_TARGET);
        goto done;
    }
    if (!r->base_url.ptr) {
        srv_outcome(r, 500, "out of memory");
        goto done;
    }
    const char *qm = target.len ? memchr(target.ptr, '?', target.len) : NULL;
    fl_str rawpath = qm ? fl_str_make(target.ptr, (size_t)(qm - target.ptr)) : target;
    fl_str path = srv_pct_decode(a, rawpath, false);
    if (!path.ptr) {
        srv_outcome(r, 500, "out of memory");
        goto done;
    }
    if (memchr(path.ptr, 0, path.len)) {
        srv_outcome(r, 400, "NUL byte in the request path");
        goto done;
    }
    if (qm && !srv_parse_query(r, fl_str_make(qm + 1, target.len - rawpath.len - 1))) goto done;
    dispatch(r, req->method, path);
    srv_deliver_poke(srv); /* its writes are committed (or rolled back) by now */
done:
    if (atomic_load(&srv->reg_dirty)) {
        /* a topic or destination changed and is committed (or rolled back): reload the
         * registry from committed state, outside any transaction */
        fl_err err;
        fl_err_clear(&err);
        if (r->c && fl_fhirdb_in_tx(r->c)) fl_fhirdb_rollback(r->c);
        if (srv_conn(r, &err) != FL_OK || srv_events_reload(srv, r->c, &err) != FL_OK)
            fl_log(&srv->opts.log, FL_LOG_ERROR, "topics: reload failed: %s", err.msg);
    }
    if (r->c) fl_fhirdb_release(srv->db, r->c);
    r->c = NULL;
    if (resp->body.rc) {
        fl_buf_reset(&resp->body);
        fl_buf_init(&resp->body, SRV_MAX_RESPONSE);
        srv_outcome(r, 500, "response too large or out of memory");
    }
    bool has_ct = false;
    for (size_t i = 0; i < resp->nheaders; i++) has_ct |= fl_str_eq_c(resp->headers[i].name, "Content-Type");
    if (resp->body.len && !has_ct) srv_add_header_c(r, "Content-Type", "application/fhir+json; charset=utf-8");
    srv_metrics_record(srv, resp->status, fl_clock_mono_ns() - t0);
    fl_log(&srv->opts.log, FL_LOG_INFO, "%.*s %.*s -> %d (%.1f ms)", FL_STR_ARG(req->method),
           (int)(target.len > 200 ? 200 : target.len), target.ptr ? target.ptr : "", resp->status,
           (double)(fl_clock_mono_ns() - t0) / 1e6);
}
