/* aws_http.c - one HTTP request over a reusable libcurl easy handle (module store).
 * Used by the S3 driver and the credential providers (IMDS, container endpoint, STS).
 * The 2xx body goes to the caller's bounded buffer, an error body to a separate small
 * buffer, and the few response headers S3 needs are parsed on the fly. Transport failures
 * (connect, reset, timeout) come back as retriable FL_E_NET / FL_E_TIMEOUT; HTTP statuses
 * are left to the caller. The handle's connection cache survives curl_easy_reset, which is
 * what gives connection reuse across requests. */
#include "store/s3_int.h"

#include <stdio.h>
#include <strings.h>

typedef struct http_ctx {
    CURL *h;
    const aws_http_req *rq;
    aws_http_resp *rs;
    size_t body_off; /* upload position */
    fl_rc sink_rc;   /* FL_E_LIMIT when out overflowed */
    bool sized;      /* out was reserved from Content-Length */
} http_ctx;

static size_t on_read(char *dst, size_t size, size_t nitems, void *ud)
{
    http_ctx *c = ud;
    size_t room = size * nitems;
    size_t left = c->rq->body_len - c->body_off;
    size_t n = left < room ? left : room;
    if (n) memcpy(dst, (const char *)c->rq->body + c->body_off, n);
    c->body_off += n;
    return n;
}

/* libcurl rewinds the upload when it must resend on a fresh connection (the reused one had
 * been closed by the server); the body is in memory, so any offset is fine. */
static int on_seek(void *ud, curl_off_t off, int origin)
{
    http_ctx *c = ud;
    if (origin != SEEK_SET || off < 0 || (uint64_t)off > c->rq->body_len) return CURL_SEEKFUNC_FAIL;
    c->body_off = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *src, size_t size, size_t nitems, void *ud)
{
    http_ctx *c = ud;
    size_t n = size * nitems;
    long status = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
        if (!c->rq->out) return n;
        if (!c->sized && c->rs->has_length) { /* size the buffer once; refuse early if too big */
            c->sized = true;
            fl_buf *o = c->rq->out;
            if (c->rs->content_length > (uint64_t)(o->limit - o->len)) {
                c->sink_rc = FL_E_LIMIT;
                return 0;
            }
            if (fl_buf_reserve(o, (size_t)c->rs->content_length) != FL_OK) {
                c->sink_rc = o->rc;
                return 0;
            }
        }
        if (fl_buf_append(c->rq->out, src, n) != FL_OK) {
            c->sink_rc = c->rq->out->rc;
            return 0; /* abort the transfer */
        }
        return n;
    }
    fl_buf *e = c->rq->errbody;
    if (e && e->len < S3_MAX_ERROR_BODY) {
        size_t k = S3_MAX_ERROR_BODY - e->len;
        fl_buf_append(e, src, n < k ? n : k);
    }
    return n;
}

static bool hdr_is(const char *line, size_t n, const char *name, fl_str *val)
{
    size_t k = strlen(name);
    if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0) return false;
    size_t i = k + 1, e = n;
    while (i < e && (line[i] == ' ' || line[i] == '\t'))
        i++;
    while (e > i && (line[e - 1] == '\r' || line[e - 1] == '\n' || line[e - 1] == ' '))
        e--;
    *val = fl_str_make(line + i, e - i);
    return true;
}

static void copy_c(char *dst, size_t cap, fl_str v)
{
    size_t n = v.len < cap - 1 ? v.len : cap - 1;
    if (n) memcpy(dst, v.ptr, n);
    dst[n] = 0;
}

static bool parse_u64(fl_str s, uint64_t *out)
{
    uint64_t v = 0;
    if (s.len == 0 || s.len > 20) return false;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9') return false;
        uint64_t d = (uint64_t)(s.ptr[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ud)
{
    http_ctx *c = ud;
    size_t n = size * nitems;
    aws_http_resp *rs = c->rs;
    fl_str v;
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) { /* a new response (after 100, redirect) */
        memset(rs, 0, sizeof *rs);
        return n;
    }
    if (hdr_is(line, n, "content-length", &v)) {
        rs->has_length = parse_u64(v, &rs->content_length);
    } else if (hdr_is(line, n, "content-range", &v)) {
        const char *slash = memchr(v.ptr, '/', v.len);
        if (slash) {
            fl_str tot = fl_str_make(slash + 1, v.len - (size_t)(slash + 1 - v.ptr));
            rs->has_range = parse_u64(tot, &rs->range_total);
        }
    } else if (hdr_is(line, n, "etag", &v)) {
        copy_c(rs->etag, sizeof rs->etag, v);
    } else if (hdr_is(line, n, "x-amz-request-id", &v)) {
        copy_c(rs->request_id, sizeof rs->request_id, v);
    } else if (hdr_is(line, n, "x-amz-bucket-region", &v)) {
        copy_c(rs->bucket_region, sizeof rs->bucket_region, v);
    } else if (hdr_is(line, n, "last-modified", &v)) {
        char tmp[64];
        copy_c(tmp, sizeof tmp, v);
        time_t t = curl_getdate(tmp, NULL);
        rs->mtime_ms = t > 0 ? (int64_t)t * 1000 : 0;
    }
    return n;
}

static fl_rc map_curl(CURLcode cc, const aws_http_req *rq, const char *ebuf, fl_err *err)
{
    const char *detail = ebuf[0] ? ebuf : curl_easy_strerror(cc);
    fl_rc code = FL_E_NET;
    bool retriable = true;
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        code = FL_E_TIMEOUT;
        break;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SEND_FAIL_REWIND:
    case CURLE_SSL_CONNECT_ERROR:
        break;
    default:
        retriable = false;
        break;
    }
    fl_err_set(err, code, "%s %s: %s", rq->method, rq->url, detail);
    if (err && retriable) err->flags |= FL_ERR_RETRIABLE;
    return code;
}

fl_rc aws_http_do(CURL *h, const aws_http_req *rq, aws_http_resp *rs, fl_err *err)
{
    fl_rc rc = FL_OK;
    struct curl_slist *hl = NULL;
    http_ctx c = {.h = h, .rq = rq, .rs = rs};
    size_t out_len = rq->out ? rq->out->len : 0, err_len = rq->errbody ? rq->errbody->len : 0;
    fl_rc out_rc = rq->out ? rq->out->rc : FL_OK;
    char ebuf[CURL_ERROR_SIZE];
    bool has_ct = false;

    memset(rs, 0, sizeof *rs);
    ebuf[0] = 0;
    curl_easy_reset(h);
    for (const char *const *p = rq->headers; p && *p; p++) {
        if (strncasecmp(*p, "content-type:", 13) == 0) has_ct = true;
        struct curl_slist *n = curl_slist_append(hl, *p);
        if (!n) FL_FAIL(FL_E_NOMEM, "%s %s: out of memory building headers", rq->method, rq->url);
        hl = n;
    }
    /* no 100-continue round trip; no form content type on POST */
    const char *extra[] = {"Expect:", has_ct ? NULL : "Content-Type:"};
    for (size_t i = 0; i < 2; i++) {
        if (!extra[i]) continue;
        struct curl_slist *n = curl_slist_append(hl, extra[i]);
        if (!n) FL_FAIL(FL_E_NOMEM, "%s %s: out of memory building headers", rq->method, rq->url);
        hl = n;
    }

    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, rq->connect_timeout_ms ? rq->connect_timeout_ms : 5000L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, rq->low_speed_time_s ? rq->low_speed_time_s : 60L);
    if (rq->total_timeout_ms) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->total_timeout_ms);
    if (rq->fresh_connect) curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &c);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, &c);

    if (!strcmp(rq->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (!strcmp(rq->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(rq->method, "PUT")) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &c);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (!strcmp(rq->method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &c);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
        if (rq->body_len) {
            curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(h, CURLOPT_READDATA, &c);
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
        }
    }

    CURLcode cc = curl_easy_perform(h);
    if (cc == CURLE_WRITE_ERROR && c.sink_rc != FL_OK) {
        rc = fl_err_set(err, c.sink_rc, "%s %s: response larger than the allowed %zu bytes", rq->method,
                        rq->url, rq->out ? rq->out->limit : 0);
        goto done;
    }
    if (cc != CURLE_OK) {
        rc = map_curl(cc, rq, ebuf, err);
        goto done;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
done:
    curl_slist_free_all(hl);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    if (rc != FL_OK) {
        if (rq->out) {
            rq->out->len = out_len;
            rq->out->rc = out_rc;
            if (rq->out->ptr) rq->out->ptr[out_len] = 0;
        }
        if (rq->errbody) {
            rq->errbody->len = err_len;
            if (rq->errbody->ptr) rq->errbody->ptr[err_len] = 0;
        }
    }
    return rc;
}
