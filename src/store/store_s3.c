/* store_s3.c - the "s3" object-store driver: S3 REST over libcurl with SigV4 (module store).
 * URLs "s3://bucket/prefix" (also s3a://). Virtual-hosted addressing on AWS, path-style for
 * custom endpoints (MinIO, LocalStack, Ceph) and dotted bucket names. Operations: GET with
 * Range, PUT, put-if-absent with If-None-Match: * (412 -> FL_E_EXISTS), HEAD,
 * ListObjectsV2 with start-after and continuation, DeleteObjects in batches of 1000 with
 * Content-MD5, and a streaming writer on multipart upload that aborts on any failure.
 * This file classifies failures (retriable or not, with bucket, key, status, S3 code and
 * what to check); the retrying itself is store_retry.c, except inside the multipart writer
 * which retries its own parts. Secrets never appear in messages or logs. */
#include "store/s3_int.h"

#include "fhirlake/os.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define S3_MAX_BUCKET 63u
#define S3_MAX_ETAG 72u
#define S3_MAX_UPLOAD_CONCURRENCY 16u

/* Where requests go; may change once when S3 names the bucket's real region. */
typedef struct s3_addr {
    char region[AWS_MAX_REGION];
    char origin[AWS_MAX_HOST + 16]; /* "https://host[:port]" */
    char host[AWS_MAX_HOST];        /* Host header value */
    char base_path[AWS_MAX_HOST];   /* raw path before the key: "" or "/bucket" (+ endpoint path) */
} s3_addr;

typedef struct s3 {
    char bucket[S3_MAX_BUCKET + 1];
    char *root;              /* key prefix of the store ("" or ends with '/'), owned */
    pthread_mutex_t addr_mu; /* guards addr */
    s3_addr addr;
    bool region_fixed; /* configured: report a wrong region instead of following it */
    bool aws_endpoint; /* default AWS endpoint: the host name contains the region */
    bool path_style;
    char scheme[8];
    char ep_host[AWS_MAX_HOST]; /* custom endpoint host[:port] */
    char ep_path[AWS_MAX_HOST]; /* custom endpoint base path ("" or "/x") */
    bool unsigned_payload;
    char sse[16];          /* x-amz-server-side-encryption: "", "AES256", "aws:kms" */
    char sse_kms_key[256]; /* x-amz-server-side-encryption-aws-kms-key-id */
    char acl[40];          /* x-amz-acl canned ACL, e.g. bucket-owner-full-control */
    size_t part_size;
    uint32_t upload_concurrency;   /* parts of one writer in flight at once */
    uint32_t download_concurrency; /* ranged GETs of one whole-object get at once (1 = one stream) */
    uint32_t list_max_keys;
    long connect_timeout_ms, low_speed_time_s;
    fl_store_retry retry;
    aws_chain *chain;
    const fl_logger *log;
    pthread_mutex_t pool_mu;
    CURL *idle[S3_MAX_IDLE_HANDLES];
    size_t nidle;
} s3;

/* ------------------------------------------------------------------ handle pool */

static CURL *pool_take(s3 *s)
{
    CURL *h = NULL;
    pthread_mutex_lock(&s->pool_mu);
    if (s->nidle) h = s->idle[--s->nidle];
    pthread_mutex_unlock(&s->pool_mu);
    return h ? h : curl_easy_init();
}

static void pool_give(s3 *s, CURL *h)
{
    if (!h) return;
    pthread_mutex_lock(&s->pool_mu);
    if (s->nidle < S3_MAX_IDLE_HANDLES) {
        s->idle[s->nidle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&s->pool_mu);
    if (h) curl_easy_cleanup(h);
}

/* ------------------------------------------------------------------ one signed request */

typedef struct s3_req {
    const char *method;
    const char *op; /* for messages: "GET", "PUT", "ListObjectsV2", ... */
    fl_str key;     /* full object key (with root); empty for bucket-level requests */
    const aws_kv *query;
    size_t nquery;
    const aws_kv *headers; /* extra headers, all signed */
    size_t nheaders;
    const void *body;
    size_t body_len;
    bool unsigned_payload;
    fl_buf *out;        /* 2xx body */
    bool fresh_connect; /* conditional / non-idempotent: see aws_http_req */
} s3_req;

#define S3_MAX_REQ_HEADERS 16u

static fl_rc s3_do(s3 *s, const s3_req *r, aws_http_resp *rs, fl_buf *errbody, aws_creds *cr, fl_err *err)
{
    fl_rc rc = FL_OK;
    fl_buf path, url, auth, hdrs;
    CURL *h = NULL;
    s3_addr ad;
    pthread_mutex_lock(&s->addr_mu);
    ad = s->addr;
    pthread_mutex_unlock(&s->addr_mu);
    fl_buf_init(&path, 2 * FL_STORE_MAX_KEY + AWS_MAX_HOST + 16);
    fl_buf_init(&url, AWS_MAX_URL);
    fl_buf_init(&auth, 1024);
    fl_buf_init(&hdrs, AWS_MAX_TOKEN + 16384);
    const char *lines[S3_MAX_REQ_HEADERS + 8];
    size_t offs[S3_MAX_REQ_HEADERS + 8], nl = 0;

    if (r->nheaders > S3_MAX_REQ_HEADERS) FL_FAIL(FL_E_LIMIT, "s3: too many request headers");
    FL_TRY(aws_chain_get(s->chain, cr, err));

    fl_buf_append_c(&path, ad.base_path);
    fl_buf_putc(&path, '/');
    fl_buf_append_str(&path, r->key);
    if (path.rc) FL_FAIL(path.rc, "s3: request path too long");

    fl_buf_append_c(&url, ad.origin);
    aws_uri_encode(&url, fl_buf_str(&path), true);
    for (size_t i = 0; i < r->nquery; i++) {
        fl_buf_putc(&url, i ? '&' : '?');
        aws_uri_encode(&url, r->query[i].name, false);
        fl_buf_putc(&url, '=');
        aws_uri_encode(&url, r->query[i].value, false);
    }
    if (url.rc) FL_FAIL(url.rc, "s3: request URL too long");

    char payload[65], amz_date[17];
    if (r->unsigned_payload)
        memcpy(payload, AWS_UNSIGNED_PAYLOAD, sizeof AWS_UNSIGNED_PAYLOAD);
    else
        aws_sha256_hex(r->body, r->body_len, payload);
    aws_sigv4_in in = {.method = r->method,
                       .host = fl_str_c(ad.host),
                       .path = fl_buf_str(&path),
                       .query = r->query,
                       .nquery = r->nquery,
                       .headers = r->headers,
                       .nheaders = r->nheaders,
                       .payload_hash = fl_str_c(payload),
                       .region = fl_str_c(ad.region),
                       .service = FL_STR("s3"),
                       .time_s = fl_clock_now_us() / 1000000};
    FL_TRY(aws_sigv4_sign(&in, cr, amz_date, &auth, NULL, err));

    /* header lines, NUL-separated in one buffer; pointers fixed up after the last append */
#define ADD_LINE(...)                                                                                        \
    do {                                                                                                     \
        offs[nl++] = hdrs.len;                                                                               \
        fl_buf_printf(&hdrs, __VA_ARGS__);                                                                   \
        fl_buf_putc(&hdrs, 0);                                                                               \
    } while (0)
    ADD_LINE("Host: %s", ad.host);
    ADD_LINE("x-amz-date: %s", amz_date);
    ADD_LINE("x-amz-content-sha256: %s", payload);
    ADD_LINE("Authorization: %s", auth.ptr);
    if (cr->token[0]) ADD_LINE("x-amz-security-token: %s", cr->token);
    for (size_t i = 0; i < r->nheaders; i++)
        ADD_LINE(FL_STR_FMT ": " FL_STR_FMT, FL_STR_ARG(r->headers[i].name), FL_STR_ARG(r->headers[i].value));
#undef ADD_LINE
    if (hdrs.rc) FL_FAIL(hdrs.rc, "s3: request headers too long");
    for (size_t i = 0; i < nl; i++)
        lines[i] = hdrs.ptr + offs[i];
    lines[nl] = NULL;

    h = pool_take(s);
    if (!h) FL_FAIL(FL_E_NOMEM, "s3: cannot create a curl handle");
    aws_http_req hr = {.method = r->method,
                       .url = url.ptr,
                       .headers = lines,
                       .body = r->body,
                       .body_len = r->body_len,
                       .out = r->out,
                       .errbody = errbody,
                       .connect_timeout_ms = s->connect_timeout_ms,
                       .low_speed_time_s = s->low_speed_time_s,
                       .fresh_connect = r->fresh_connect};
    rc = aws_http_do(h, &hr, rs, err);
    if (rc) fl_err_prefix(err, "s3 %s s3://%s/" FL_STR_FMT ": ", r->op, s->bucket, FL_STR_ARG(r->key));
done:
    pool_give(s, h);
    if (hdrs.ptr) memset(hdrs.ptr, 0, hdrs.len); /* held the session token */
    fl_buf_reset(&path);
    fl_buf_reset(&url);
    fl_buf_reset(&auth);
    fl_buf_reset(&hdrs);
    return rc;
}

/* Compute the addressing for region into *a; false when a name does not fit. */
static bool addr_build(const s3 *s, const char *region, s3_addr *a)
{
    char hostport[AWS_MAX_HOST];
    int n0 = snprintf(a->region, sizeof a->region, "%s", region);
    int n1 = s->aws_endpoint ? snprintf(hostport, sizeof hostport, "s3.%s.amazonaws.com", region)
                             : snprintf(hostport, sizeof hostport, "%s", s->ep_host);
    int n2, n3;
    if (s->path_style) {
        n2 = snprintf(a->host, sizeof a->host, "%s", hostport);
        n3 = snprintf(a->base_path, sizeof a->base_path, "%s/%s", s->ep_path, s->bucket);
    } else {
        n2 = snprintf(a->host, sizeof a->host, "%s.%s", s->bucket, hostport);
        n3 = snprintf(a->base_path, sizeof a->base_path, "%s", s->ep_path);
    }
    int n4 = snprintf(a->origin, sizeof a->origin, "%s://%s", s->scheme, a->host);
    return n0 > 0 && (size_t)n0 < sizeof a->region && n1 > 0 && (size_t)n1 < sizeof hostport && n2 > 0 &&
           (size_t)n2 < sizeof a->host && n3 >= 0 && (size_t)n3 < sizeof a->base_path && n4 > 0 &&
           (size_t)n4 < sizeof a->origin;
}

/* Switch to the bucket's real region (region discovery); thread-safe. */
static bool s3_set_region(s3 *s, const char *region)
{
    s3_addr a;
    for (const char *p = region; *p; p++) /* region names are [a-z0-9-] */
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) return false;
    if (!addr_build(s, region, &a)) return false;
    pthread_mutex_lock(&s->addr_mu);
    s->addr = a;
    pthread_mutex_unlock(&s->addr_mu);
    return true;
}

/* Map a non-2xx answer to an error naming the bucket, key, status, S3 code and what to do. */
static fl_rc s3_fail(s3 *s, const s3_req *r, const aws_http_resp *rs, const fl_buf *eb, const aws_creds *cr,
                     fl_err *err)
{
    char code[64] = "", msg[300] = "", region[AWS_MAX_REGION] = "";
    fl_str x = fl_buf_str(eb);
    aws_xml_text_c(x, "Code", code, sizeof code);
    aws_xml_text_c(x, "Message", msg, sizeof msg);
    aws_xml_text_c(x, "Region", region, sizeof region);
    if (!region[0] && rs->bucket_region[0]) snprintf(region, sizeof region, "%s", rs->bucket_region);
    long st = rs->status;
    fl_rc rc = FL_E_STORE;
    bool retry = false;
    const char *hint = "";
    char hintbuf[512];
    int hn = 0; /* a truncated hint is acceptable */

    if (!code[0]) { /* HEAD and some proxies answer without a body */
        switch (st) {
        case 403:
            snprintf(code, sizeof code, "Forbidden");
            break;
        case 404:
            snprintf(code, sizeof code, "NotFound");
            break;
        case 412:
            snprintf(code, sizeof code, "PreconditionFailed");
            break;
        case 503:
            snprintf(code, sizeof code, "ServiceUnavailable");
            break;
        default:
            snprintf(code, sizeof code, "HTTP%ld", st);
            break;
        }
    }
    if (st == 404 && !strcmp(code, "NoSuchBucket")) {
        rc = FL_E_CONFIG;
        hint = "; check the bucket name and the endpoint/region";
    } else if (st == 404) {
        rc = FL_E_NOT_FOUND;
    } else if (st == 412) {
        rc = FL_E_STORE_PRECOND;
    } else if (st == 409) {
        rc = FL_E_CONFLICT;
        if (!strcmp(code, "ConditionalRequestConflict") || !strcmp(code, "OperationAborted")) {
            rc = FL_E_STORE_RETRY;
            retry = true;
        }
    } else if (!strcmp(code, "ExpiredToken") || !strcmp(code, "TokenRefreshRequired")) {
        aws_chain_invalidate(s->chain); /* the next try fetches fresh credentials */
        rc = FL_E_STORE_AUTH;
        retry = true;
        hint = "; the session token expired, refreshing credentials";
    } else if (st == 401 || st == 403) {
        rc = FL_E_STORE_AUTH;
        if (!strcmp(code, "SignatureDoesNotMatch")) {
            hn = snprintf(hintbuf, sizeof hintbuf,
                          "; the signature did not match: check the secret access key for key id %s "
                          "(credentials from %s)",
                          cr->akid, cr->source);
        } else if (!strcmp(code, "InvalidAccessKeyId")) {
            hn = snprintf(hintbuf, sizeof hintbuf,
                          "; the server does not know access key id %s (credentials from %s)", cr->akid,
                          cr->source);
        } else if (!strcmp(code, "RequestTimeTooSkewed")) {
            hn = snprintf(hintbuf, sizeof hintbuf,
                          "; the local clock differs from the server's by over 15 minutes");
        } else if (!strcmp(code, "InvalidToken")) {
            hn = snprintf(hintbuf, sizeof hintbuf, "; the session token is not valid (credentials from %s)",
                          cr->source);
        } else {
            hn = snprintf(
                hintbuf, sizeof hintbuf,
                "; check that the policy for key id %s (credentials from %s) allows this %s on bucket %s%s",
                cr->akid, cr->source, r->op, s->bucket,
                !strcmp(r->method, "HEAD") ? " (a missing key also answers 403 without s3:ListBucket)" : "");
        }
        hint = hintbuf;
    } else if (st == 301 || st == 307 || !strcmp(code, "AuthorizationHeaderMalformed") ||
               !strcmp(code, "PermanentRedirect") || !strcmp(code, "IllegalLocationConstraintException")) {
        rc = FL_E_CONFIG;
        char cur[AWS_MAX_REGION];
        pthread_mutex_lock(&s->addr_mu);
        memcpy(cur, s->addr.region, sizeof cur);
        pthread_mutex_unlock(&s->addr_mu);
        if (region[0] && !s->region_fixed && strcmp(region, cur) != 0 && s3_set_region(s, region)) {
            /* no region was configured: follow S3's answer once, like the SDKs do */
            rc = FL_E_STORE_RETRY;
            retry = true;
            hn = snprintf(hintbuf, sizeof hintbuf, "; the bucket is in region %s: switching from %s", region,
                          cur);
            hint = hintbuf;
            fl_log(s->log, FL_LOG_INFO, "s3: bucket %s is in region %s, switching from %s", s->bucket, region,
                   cur);
        } else if (region[0]) {
            hn = snprintf(hintbuf, sizeof hintbuf,
                          "; the bucket is in region %s, not %s: set s3.region=%s or AWS_REGION", region, cur,
                          region);
            hint = hintbuf;
        } else {
            hint = "; wrong region or endpoint for this bucket: set s3.region or s3.endpoint";
        }
    } else if (st == 400 && !strcmp(code, "RequestTimeout")) {
        rc = FL_E_STORE_RETRY;
        retry = true;
    } else if (st == 429 || st >= 500) {
        rc = FL_E_STORE_RETRY;
        retry = true;
    } else if (st == 400) {
        rc = FL_E_STORE;
    }
    (void)hn;
    fl_err_set(err, rc, "s3 %s s3://%s/" FL_STR_FMT ": HTTP %ld %s%s%s%s%s%s", r->op, s->bucket,
               FL_STR_ARG(r->key), st, code, msg[0] ? ": " : "", msg,
               rs->request_id[0] ? " (request id " : "", rs->request_id, rs->request_id[0] ? ")" : "");
    if (err) {
        size_t n = strlen(err->msg);
        if (hint[0] && n < sizeof err->msg - 1) snprintf(err->msg + n, sizeof err->msg - n, "%s", hint);
        err->status = (int)st;
        if (retry) err->flags |= FL_ERR_RETRIABLE;
    }
    return rc;
}

/* Run r and map a non-2xx status to an error. */
static fl_rc s3_call(s3 *s, const s3_req *r, aws_http_resp *rs, fl_err *err)
{
    fl_buf eb;
    fl_buf_init(&eb, S3_MAX_ERROR_BODY + 1);
    aws_creds *cr = fl_malloc(sizeof *cr);
    fl_rc rc;
    if (!cr) {
        rc = fl_err_set(err, FL_E_NOMEM, "s3: out of memory");
        goto done;
    }
    memset(cr, 0, sizeof *cr);
    rc = s3_do(s, r, rs, &eb, cr, err);
    if (rc == FL_OK && (rs->status < 200 || rs->status > 299)) rc = s3_fail(s, r, rs, &eb, cr, err);
done:
    if (cr) {
        memset(cr, 0, sizeof *cr);
        fl_free(cr);
    }
    fl_buf_reset(&eb);
    return rc;
}

/* Full key = root + rel, into b. */
static fl_rc full_key(const s3 *s, fl_str rel, fl_buf *b, fl_err *err)
{
    fl_buf_init(b, 2 * FL_STORE_MAX_KEY + 2);
    fl_buf_append_c(b, s->root);
    fl_buf_append_str(b, rel);
    if (b->rc) return fl_err_set(err, FL_E_LIMIT, "s3: key too long");
    return FL_OK;
}

static void fill_meta(fl_store_meta *meta, const aws_http_resp *rs, uint64_t size)
{
    if (!meta) return;
    memset(meta, 0, sizeof *meta);
    meta->size = size;
    meta->mtime_ms = rs->mtime_ms;
    snprintf(meta->etag, sizeof meta->etag, "%s", rs->etag);
}

/* ------------------------------------------------------------------ driver: objects */

/* One ranged GET of a parallel download, run on its own thread. */
typedef struct get_job {
    s3 *s;
    fl_str fkey;
    const char *etag;
    uint64_t off, len;
    fl_buf buf;
    pthread_t th;
    bool running;
    fl_rc rc;
    fl_err err;
} get_job;

static void *get_thread(void *arg)
{
    get_job *j = arg;
    char range[64];
    snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)j->off,
             (unsigned long long)(j->off + j->len - 1));
    aws_kv h[2] = {{FL_STR("Range"), fl_str_c(range)}, {FL_STR("If-Match"), fl_str_c(j->etag)}};
    s3_req r = {.method = "GET",
                .op = "GET",
                .key = j->fkey,
                .headers = h,
                .nheaders = j->etag[0] ? 2 : 1,
                .out = &j->buf};
    aws_http_resp rs;
    fl_err_clear(&j->err);
    j->rc = s3_call(j->s, &r, &rs, &j->err);
    if (j->rc == FL_E_STORE_PRECOND || (j->rc == FL_OK && (rs.status != 206 || j->buf.len != j->len))) {
        j->rc =
            fl_err_set(&j->err, FL_E_STORE_RETRY,
                       "s3 GET s3://%s/" FL_STR_FMT ": the object changed during a parallel download "
                       "(HTTP %ld, %zu of %llu bytes)",
                       j->s->bucket, FL_STR_ARG(j->fkey), rs.status, j->buf.len, (unsigned long long)j->len);
        j->err.flags |= FL_ERR_RETRIABLE;
    }
    return NULL;
}

/* Bytes [from, total) of fkey appended to out, s->part_size per request, up to
 * s3.downloadConcurrency requests at once; If-Match pins every range to the same version. */
static fl_rc get_rest_parallel(s3 *s, fl_str fkey, const char *etag, uint64_t from, uint64_t total,
                               fl_buf *out, fl_err *err)
{
    fl_rc rc = FL_OK;
    uint32_t k = s->download_concurrency;
    if (total - from > (uint64_t)(out->limit - out->len))
        return fl_err_set(err, FL_E_LIMIT,
                          "s3 GET s3://%s/" FL_STR_FMT ": %llu bytes is over the allowed %zu", s->bucket,
                          FL_STR_ARG(fkey), (unsigned long long)total, out->limit);
    if (fl_buf_reserve(out, (size_t)(total - from)) != FL_OK)
        return fl_err_set(err, out->rc, "s3 GET s3://%s/" FL_STR_FMT ": cannot hold %llu bytes", s->bucket,
                          FL_STR_ARG(fkey), (unsigned long long)total);
    get_job *jobs = fl_calloc(k, sizeof *jobs);
    if (!jobs) return fl_err_set(err, FL_E_NOMEM, "s3 GET: out of memory");
    for (uint32_t i = 0; i < k; i++)
        fl_buf_init(&jobs[i].buf, s->part_size + 1);
    uint64_t off = from;
    while (off < total && rc == FL_OK) {
        uint32_t n = 0;
        for (; n < k && off < total; n++) {
            get_job *j = &jobs[n];
            j->s = s;
            j->fkey = fkey;
            j->etag = etag;
            j->off = off;
            j->len = total - off < s->part_size ? total - off : s->part_size;
            off += j->len;
            fl_buf_clear(&j->buf);
            j->running = pthread_create(&j->th, NULL, get_thread, j) == 0;
            if (!j->running) get_thread(j); /* no thread: do it here */
        }
        for (uint32_t i = 0; i < n; i++) { /* join all, append in order */
            get_job *j = &jobs[i];
            if (j->running) pthread_join(j->th, NULL);
            j->running = false;
            if (rc == FL_OK && j->rc != FL_OK) {
                rc = j->rc;
                if (err) *err = j->err;
            }
            if (rc == FL_OK && fl_buf_append(out, j->buf.ptr, j->buf.len) != FL_OK)
                rc = fl_err_set(err, out->rc, "s3 GET: object larger than allowed");
        }
    }
    for (uint32_t i = 0; i < k; i++)
        fl_buf_reset(&jobs[i].buf);
    fl_free(jobs);
    return rc;
}

static fl_rc s3_get(void *impl, fl_str key, uint64_t off, uint64_t len, fl_buf *out, fl_store_meta *meta,
                    fl_err *err)
{
    s3 *s = impl;
    fl_buf k;
    fl_rc rc = full_key(s, key, &k, err);
    if (rc) goto done;
    char range[64];
    aws_kv hdr = {FL_STR("Range"), FL_STR_NULL};
    bool ranged = off > 0 || len != UINT64_MAX;
    /* a whole object larger than one part is fetched in parallel ranges: ask for the first
     * part, the answer tells the size */
    bool split = !ranged && s->download_concurrency > 1;
    if (split) {
        snprintf(range, sizeof range, "bytes=0-%zu", s->part_size - 1);
        hdr.value = fl_str_c(range);
    } else if (ranged) {
        if (len == 0) goto done;
        if (len == UINT64_MAX || off + len < off)
            snprintf(range, sizeof range, "bytes=%llu-", (unsigned long long)off);
        else
            snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)off,
                     (unsigned long long)(off + len - 1));
        hdr.value = fl_str_c(range);
    }
    s3_req r = {.method = "GET",
                .op = "GET",
                .key = fl_buf_str(&k),
                .headers = &hdr,
                .nheaders = (ranged || split) ? 1 : 0,
                .out = out};
    aws_http_resp rs;
    size_t len0 = out->len;
    rc = s3_call(s, &r, &rs, err);
    if (rc == FL_E_STORE && rs.status == 416) { /* range starts past the end (or empty object) */
        if (err) fl_err_clear(err);
        rc = FL_OK;
        fill_meta(meta, &rs, rs.has_range ? rs.range_total : 0);
        goto done;
    }
    if (rc) goto done;
    uint64_t total = rs.status == 206 && rs.has_range ? rs.range_total : rs.content_length;
    if (split && rs.status == 206 && total > out->len - len0) {
        char etag[S3_MAX_ETAG];
        snprintf(etag, sizeof etag, "%s", rs.etag);
        rc = get_rest_parallel(s, fl_buf_str(&k), etag, out->len - len0, total, out, err);
        if (rc) {
            out->len = len0; /* all or nothing */
            if (out->ptr) out->ptr[len0] = 0;
            goto done;
        }
    }
    fill_meta(meta, &rs, total);
done:
    fl_buf_reset(&k);
    return rc;
}

/* Headers every object-creating request carries (PutObject, CreateMultipartUpload):
 * server-side encryption and canned ACL when configured. Returns the count added. */
static size_t create_headers(const s3 *s, aws_kv *h)
{
    size_t n = 0;
    if (s->sse[0]) h[n++] = (aws_kv){FL_STR("x-amz-server-side-encryption"), fl_str_c(s->sse)};
    if (s->sse_kms_key[0])
        h[n++] = (aws_kv){FL_STR("x-amz-server-side-encryption-aws-kms-key-id"), fl_str_c(s->sse_kms_key)};
    if (s->acl[0]) h[n++] = (aws_kv){FL_STR("x-amz-acl"), fl_str_c(s->acl)};
    return n;
}

static fl_rc s3_put_full(s3 *s, fl_str fkey, const void *data, size_t len, uint32_t flags,
                         fl_store_meta *meta, fl_err *err)
{
    aws_kv hdr[4];
    size_t nh = create_headers(s, hdr);
    if (flags & FL_STORE_IF_ABSENT) hdr[nh++] = (aws_kv){FL_STR("If-None-Match"), FL_STR("*")};
    s3_req r = {.method = "PUT",
                .op = "PUT",
                .key = fkey,
                .headers = hdr,
                .nheaders = nh,
                .body = data,
                .body_len = len,
                .unsigned_payload = s->unsigned_payload,
                .fresh_connect = (flags & FL_STORE_IF_ABSENT) != 0};
    aws_http_resp rs;
    fl_rc rc = s3_call(s, &r, &rs, err);
    if (rc == FL_E_STORE_PRECOND && (flags & FL_STORE_IF_ABSENT)) {
        rc = fl_err_set(err, FL_E_EXISTS,
                        "s3 PUT s3://%s/" FL_STR_FMT ": already exists (If-None-Match: * failed)", s->bucket,
                        FL_STR_ARG(fkey));
        if (err) err->status = 412;
    }
    if (rc == FL_OK && meta) {
        fill_meta(meta, &rs, len);
        meta->mtime_ms = fl_clock_now_us() / 1000;
    }
    return rc;
}

static fl_rc s3_put(void *impl, fl_str key, const void *data, size_t len, uint32_t flags, fl_err *err)
{
    s3 *s = impl;
    fl_buf k;
    fl_rc rc = full_key(s, key, &k, err);
    if (!rc) rc = s3_put_full(s, fl_buf_str(&k), data, len, flags, NULL, err);
    fl_buf_reset(&k);
    return rc;
}

static fl_rc s3_head(void *impl, fl_str key, fl_store_meta *meta, fl_err *err)
{
    s3 *s = impl;
    fl_buf k;
    fl_rc rc = full_key(s, key, &k, err);
    if (rc) goto done;
    s3_req r = {.method = "HEAD", .op = "HEAD", .key = fl_buf_str(&k)};
    aws_http_resp rs;
    rc = s3_call(s, &r, &rs, err);
    if (!rc) fill_meta(meta, &rs, rs.content_length);
done:
    fl_buf_reset(&k);
    return rc;
}

static bool xml_safe_key(fl_str k)
{
    for (size_t i = 0; i < k.len; i++) {
        unsigned char c = (unsigned char)k.ptr[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
    }
    return true;
}

static fl_rc s3_delete_one(s3 *s, fl_str fkey, fl_err *err)
{
    s3_req r = {.method = "DELETE", .op = "DeleteObject", .key = fkey};
    aws_http_resp rs;
    fl_rc rc = s3_call(s, &r, &rs, err);
    if (rc == FL_E_NOT_FOUND) {
        if (err) fl_err_clear(err);
        rc = FL_OK;
    }
    return rc;
}

static fl_rc s3_del(void *impl, const fl_str *keys, size_t n, fl_err *err)
{
    s3 *s = impl;
    fl_rc rc = FL_OK;
    fl_buf body, out, k, item;
    fl_buf_init(&body, (size_t)S3_MAX_DELETE_BATCH * (6 * (2 * FL_STORE_MAX_KEY) + 64) + 256);
    fl_buf_init(&out, S3_MAX_XML_RESPONSE);
    fl_buf_init(&k, 2 * FL_STORE_MAX_KEY + 2);
    fl_buf_init(&item, 8 * FL_STORE_MAX_KEY);
    size_t i = 0;
    while (i < n) {
        fl_buf_clear(&body);
        fl_buf_append_c(&body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>");
        size_t batch = 0;
        for (; i < n && batch < S3_MAX_DELETE_BATCH; i++) {
            fl_buf_clear(&k);
            fl_buf_append_c(&k, s->root);
            fl_buf_append_str(&k, keys[i]);
            if (k.rc) FL_FAIL(FL_E_LIMIT, "s3 DeleteObjects: key too long");
            if (!xml_safe_key(fl_buf_str(&k))) { /* not representable in XML 1.0 */
                FL_TRY(s3_delete_one(s, fl_buf_str(&k), err));
                continue;
            }
            fl_buf_append_c(&body, "<Object><Key>");
            aws_xml_escape(&body, fl_buf_str(&k));
            fl_buf_append_c(&body, "</Key></Object>");
            batch++;
        }
        fl_buf_append_c(&body, "</Delete>");
        if (body.rc) FL_FAIL(body.rc, "s3 DeleteObjects: request too large");
        if (batch == 0) continue;
        char md5[25];
        aws_md5_base64(body.ptr, body.len, md5);
        aws_kv hdr[2] = {{FL_STR("Content-MD5"), fl_str_c(md5)},
                         {FL_STR("Content-Type"), FL_STR("application/xml")}};
        aws_kv q[1] = {{FL_STR("delete"), FL_STR("")}};
        s3_req r = {.method = "POST",
                    .op = "DeleteObjects",
                    .key = FL_STR(""),
                    .query = q,
                    .nquery = 1,
                    .headers = hdr,
                    .nheaders = 2,
                    .body = body.ptr,
                    .body_len = body.len,
                    .out = &out};
        aws_http_resp rs;
        fl_buf_clear(&out);
        FL_TRY(s3_call(s, &r, &rs, err));
        /* per-key failures come back inside a 200 */
        fl_str x = fl_buf_str(&out);
        size_t pos = 0;
        fl_str e;
        while (aws_xml_next(x, &pos, "Error", &e)) {
            char code[64] = "", msg[200] = "";
            aws_xml_text_c(e, "Code", code, sizeof code);
            aws_xml_text_c(e, "Message", msg, sizeof msg);
            aws_xml_text(e, "Key", &item);
            if (!strcmp(code, "NoSuchKey")) continue;
            bool retry = !strcmp(code, "InternalError") || !strcmp(code, "SlowDown") ||
                         !strcmp(code, "ServiceUnavailable");
            rc = fl_err_set(err,
                            !strcmp(code, "AccessDenied") ? FL_E_STORE_AUTH
                            : retry                       ? FL_E_STORE_RETRY
                                                          : FL_E_STORE,
                            "s3 DeleteObjects s3://%s/%s: %s: %s", s->bucket, item.ptr ? item.ptr : "", code,
                            msg);
            if (err && retry) err->flags |= FL_ERR_RETRIABLE;
            goto done;
        }
    }
done:
    fl_buf_reset(&body);
    fl_buf_reset(&out);
    fl_buf_reset(&k);
    fl_buf_reset(&item);
    return rc;
}

/* ------------------------------------------------------------------ driver: list */

typedef struct list_ent {
    size_t off, len; /* key (decoded, full) in the page's key buffer */
    uint64_t size;
    int64_t mtime_ms;
    bool is_prefix;
} list_ent;

static int list_cmp(const void *a, const void *b, const char *base)
{
    const list_ent *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(base + x->off, base + y->off, n) : 0;
    return c ? c : (x->len < y->len ? -1 : x->len > y->len);
}

/* Decode one ListObjectsV2 page: keys (Contents/Key and CommonPrefixes/Prefix) into
 * `keys`, one list_ent each into `ents`, merged into one bytewise order. */
/* Undo encoding-type=url in place: %XX is a byte, '+' a space (AWS and MinIO write
 * spaces as '+', moto as %20; a literal '+' always comes as %2B). false if malformed. */
static bool url_decode_plus(fl_buf *b)
{
    size_t o = 0;
    for (size_t i = 0; i < b->len; i++) {
        char c = b->ptr[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi, lo;
            if (i + 2 >= b->len) return false;
            hi = b->ptr[i + 1];
            lo = b->ptr[i + 2];
            hi = hi >= '0' && hi <= '9'                 ? hi - '0'
                 : (hi | 32) >= 'a' && (hi | 32) <= 'f' ? (hi | 32) - 'a' + 10
                                                        : -1;
            lo = lo >= '0' && lo <= '9'                 ? lo - '0'
                 : (lo | 32) >= 'a' && (lo | 32) <= 'f' ? (lo | 32) - 'a' + 10
                                                        : -1;
            if (hi < 0 || lo < 0) return false;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        b->ptr[o++] = c;
    }
    b->len = o;
    if (b->ptr) b->ptr[o] = 0;
    return true;
}

static fl_rc list_parse_page(s3 *s, fl_str x, fl_str pfx, fl_buf *keys, fl_vec *ents, fl_buf *tmp,
                             fl_err *err)
{
    fl_buf_clear(keys);
    ents->len = 0;
    fl_str item;
    char enc[8] = "";
    bool url_enc = aws_xml_text_c(x, "EncodingType", enc, sizeof enc) && !strcmp(enc, "url");
    for (int pass = 0; pass < 2; pass++) {
        const char *tag = pass == 0 ? "Contents" : "CommonPrefixes";
        const char *ktag = pass == 0 ? "Key" : "Prefix";
        size_t pos = 0;
        while (aws_xml_next(x, &pos, tag, &item)) {
            list_ent *e = fl_vec_push_zero(ents);
            if (!e) return fl_err_set(err, FL_E_NOMEM, "s3 list: out of memory");
            if (!aws_xml_text(item, ktag, tmp) || (url_enc && !url_decode_plus(tmp)))
                return fl_err_set(err, FL_E_CORRUPT,
                                  "s3 ListObjectsV2 s3://%s/" FL_STR_FMT ": entry without a readable <%s>",
                                  s->bucket, FL_STR_ARG(pfx), ktag);
            e->off = keys->len;
            e->len = tmp->len;
            fl_buf_append(keys, tmp->ptr, tmp->len);
            e->is_prefix = pass == 1;
            char num[32], lm[48];
            if (pass == 0 && aws_xml_text_c(item, "Size", num, sizeof num)) e->size = strtoull(num, NULL, 10);
            if (pass == 0 && aws_xml_text_c(item, "LastModified", lm, sizeof lm))
                aws_parse_iso8601(fl_str_c(lm), &e->mtime_ms);
        }
    }
    if (keys->rc) return fl_err_set(err, keys->rc, "s3 list: page too large");
    /* Contents and CommonPrefixes are each sorted; merge them into one bytewise order
     * (insertion sort: two sorted runs) */
    list_ent *arr = ents->ptr;
    for (size_t a = 1; a < ents->len; a++) {
        list_ent t = arr[a];
        size_t b = a;
        while (b > 0 && list_cmp(&arr[b - 1], &t, keys->ptr) > 0) {
            arr[b] = arr[b - 1];
            b--;
        }
        arr[b] = t;
    }
    return FL_OK;
}

static fl_rc s3_list(void *impl, fl_str prefix, fl_str start_after, uint32_t flags, fl_store_list_fn fn,
                     void *ctx, fl_err *err)
{
    s3 *s = impl;
    fl_rc rc = FL_OK;
    fl_buf page, keys, pfx, after, token, tmp;
    fl_vec ents;
    fl_buf_init(&page, S3_MAX_XML_RESPONSE);
    fl_buf_init(&keys, S3_MAX_XML_RESPONSE);
    fl_buf_init(&pfx, 2 * FL_STORE_MAX_KEY + 2);
    fl_buf_init(&after, 2 * FL_STORE_MAX_KEY + 2);
    fl_buf_init(&token, 4096);
    fl_buf_init(&tmp, 2 * FL_STORE_MAX_KEY + 2);
    fl_vec_init(&ents, sizeof(list_ent));
    size_t rootlen = strlen(s->root);
    char maxkeys[16];
    snprintf(maxkeys, sizeof maxkeys, "%u", s->list_max_keys);

    fl_buf_append_c(&pfx, s->root);
    fl_buf_append_str(&pfx, prefix);
    if (start_after.len) {
        fl_buf_append_c(&after, s->root);
        fl_buf_append_str(&after, start_after);
    }
    if (pfx.rc || after.rc) FL_FAIL(FL_E_LIMIT, "s3 list: prefix too long");

    for (;;) {
        aws_kv q[7];
        size_t nq = 0;
        q[nq++] = (aws_kv){FL_STR("list-type"), FL_STR("2")};
        q[nq++] = (aws_kv){FL_STR("encoding-type"), FL_STR("url")}; /* keys XML 1.0 cannot carry */
        q[nq++] = (aws_kv){FL_STR("prefix"), fl_buf_str(&pfx)};
        q[nq++] = (aws_kv){FL_STR("max-keys"), fl_str_c(maxkeys)};
        if (flags & FL_STORE_LIST_NO_RECURSE) q[nq++] = (aws_kv){FL_STR("delimiter"), FL_STR("/")};
        if (token.len)
            q[nq++] = (aws_kv){FL_STR("continuation-token"), fl_buf_str(&token)};
        else if (after.len)
            q[nq++] = (aws_kv){FL_STR("start-after"), fl_buf_str(&after)};
        s3_req r = {.method = "GET",
                    .op = "ListObjectsV2",
                    .key = FL_STR(""),
                    .query = q,
                    .nquery = nq,
                    .out = &page};
        aws_http_resp rs;
        fl_buf_clear(&page);
        FL_TRY(s3_call(s, &r, &rs, err));

        fl_str x = fl_buf_str(&page);
        FL_TRY(list_parse_page(s, x, fl_buf_str(&pfx), &keys, &ents, &tmp, err));
        const list_ent *arr = ents.ptr;
        for (size_t a = 0; a < ents.len; a++) {
            fl_str full = fl_str_make(keys.ptr + arr[a].off, arr[a].len);
            if (full.len < rootlen || memcmp(full.ptr, s->root, rootlen) != 0) continue;
            if (after.len && fl_str_cmp(full, fl_buf_str(&after)) <= 0) continue;
            fl_store_entry e = {.key = fl_str_make(full.ptr + rootlen, full.len - rootlen),
                                .size = arr[a].size,
                                .mtime_ms = arr[a].mtime_ms,
                                .is_prefix = arr[a].is_prefix};
            rc = fn(ctx, &e, err);
            if (rc) goto done; /* FL_E_EOF (stop) or the callback's error */
        }
        char trunc[8] = "";
        aws_xml_text_c(x, "IsTruncated", trunc, sizeof trunc);
        if (strcmp(trunc, "true") != 0) break;
        if (!aws_xml_text(x, "NextContinuationToken", &token) || token.len == 0)
            FL_FAIL(FL_E_CORRUPT, "s3 ListObjectsV2 s3://%s: truncated page without NextContinuationToken",
                    s->bucket);
    }
done:
    fl_buf_reset(&page);
    fl_buf_reset(&keys);
    fl_buf_reset(&pfx);
    fl_buf_reset(&after);
    fl_buf_reset(&token);
    fl_buf_reset(&tmp);
    fl_vec_reset(&ents);
    return rc;
}

/* ------------------------------------------------------------------ multipart writer */

struct s3_writer;

/* One part buffer and, while `running`, the thread uploading it. */
typedef struct part_job {
    struct s3_writer *w;
    fl_buf buf;
    uint32_t partno;
    bool running;
    pthread_t th;
    fl_rc rc;
    fl_err err;
    char etag[S3_MAX_ETAG];
} part_job;

/* Parts are filled by the caller's thread and uploaded by up to njobs threads at once
 * (s3.uploadConcurrency). Only the caller's thread touches etags, cur and nparts; a worker
 * touches only its own job. */
typedef struct s3_writer {
    s3 *s;
    fl_buf key; /* full key */
    uint32_t flags;
    part_job *jobs;
    uint32_t njobs, cur; /* cur: the job being filled */
    uint32_t nparts;     /* parts handed out */
    char upload_id[1024];
    fl_vec etags; /* char[S3_MAX_ETAG] per uploaded part, in part order */
    uint64_t size;
    fl_rc rc; /* sticky */
} s3_writer;

/* Retry fn with the store's backoff (the writer is outside store_run). */
typedef fl_rc (*s3_step_fn)(s3_writer *w, void *arg, bool retried, fl_err *err);

static fl_rc with_retry(s3_writer *w, s3_step_fn fn, void *arg, const char *what, fl_err *err)
{
    uint32_t max = w->s->retry.max_attempts ? w->s->retry.max_attempts : 6;
    fl_rc rc = FL_OK;
    for (uint32_t attempt = 1;; attempt++) {
        if (err) fl_err_clear(err);
        rc = fn(w, arg, attempt > 1, err);
        if (rc == FL_OK || !fl_err_is_retriable(err) || attempt >= max) break;
        uint32_t ms = fl_store_backoff_ms(&w->s->retry, attempt);
        fl_log(w->s->log, FL_LOG_WARN, "s3 %s s3://%s/%s failed (%s), retry %u/%u in %u ms", what,
               w->s->bucket, w->key.ptr, err ? err->msg : "", attempt, max - 1, ms);
        fl_sleep_ms(ms);
    }
    return rc;
}

static fl_rc step_create(s3_writer *w, void *arg, bool retried, fl_err *err)
{
    (void)arg;
    (void)retried;
    fl_buf out;
    fl_buf_init(&out, AWS_MAX_CRED_RESPONSE);
    aws_kv q[1] = {{FL_STR("uploads"), FL_STR("")}};
    aws_kv hdr[3];
    s3_req r = {.method = "POST",
                .op = "CreateMultipartUpload",
                .key = fl_buf_str(&w->key),
                .query = q,
                .nquery = 1,
                .headers = hdr,
                .nheaders = create_headers(w->s, hdr),
                .out = &out};
    aws_http_resp rs;
    fl_rc rc = s3_call(w->s, &r, &rs, err);
    if (!rc && (!aws_xml_text_c(fl_buf_str(&out), "UploadId", w->upload_id, sizeof w->upload_id) ||
                !w->upload_id[0]))
        rc = fl_err_set(err, FL_E_CORRUPT, "s3 CreateMultipartUpload s3://%s/%s: no UploadId in the answer",
                        w->s->bucket, w->key.ptr);
    fl_buf_reset(&out);
    return rc;
}

static fl_rc step_part(s3_writer *w, void *arg, bool retried, fl_err *err)
{
    (void)retried;
    part_job *j = arg;
    char pn[16];
    snprintf(pn, sizeof pn, "%u", j->partno);
    aws_kv q[2] = {{FL_STR("partNumber"), fl_str_c(pn)}, {FL_STR("uploadId"), fl_str_c(w->upload_id)}};
    s3_req r = {.method = "PUT",
                .op = "UploadPart",
                .key = fl_buf_str(&w->key),
                .query = q,
                .nquery = 2,
                .body = j->buf.ptr,
                .body_len = j->buf.len,
                .unsigned_payload = w->s->unsigned_payload};
    aws_http_resp rs;
    fl_rc rc = s3_call(w->s, &r, &rs, err);
    if (rc) return rc;
    if (!rs.etag[0])
        return fl_err_set(err, FL_E_CORRUPT, "s3 UploadPart %u s3://%s/%s: no ETag in the answer", j->partno,
                          w->s->bucket, w->key.ptr);
    snprintf(j->etag, sizeof j->etag, "%s", rs.etag);
    return FL_OK;
}

static void *part_thread(void *arg)
{
    part_job *j = arg;
    fl_err_clear(&j->err);
    j->rc = with_retry(j->w, step_part, j, "UploadPart", &j->err);
    return NULL;
}

/* Wait for job j (if running) and record its ETag; the first failure is returned. */
static fl_rc part_collect(s3_writer *w, part_job *j, fl_err *err)
{
    if (!j->running) return FL_OK;
    pthread_join(j->th, NULL);
    j->running = false;
    if (j->rc) {
        if (err) *err = j->err;
        return j->rc;
    }
    char *slot = fl_vec_push_zero(&w->etags); /* jobs are collected in part order */
    if (!slot) return fl_err_set(err, FL_E_NOMEM, "s3 multipart: out of memory");
    memcpy(slot, j->etag, S3_MAX_ETAG);
    fl_buf_clear(&j->buf);
    return FL_OK;
}

/* Wait for every running upload, oldest part first; returns the first failure. */
static fl_rc part_collect_all(s3_writer *w, fl_err *err)
{
    fl_rc first = FL_OK;
    for (;;) {
        part_job *oldest = NULL;
        for (uint32_t i = 0; i < w->njobs; i++)
            if (w->jobs[i].running && (!oldest || w->jobs[i].partno < oldest->partno)) oldest = &w->jobs[i];
        if (!oldest) return first;
        fl_err e;
        fl_rc rc = part_collect(w, oldest, first ? &e : err);
        if (rc && !first) first = rc;
    }
}

static fl_rc step_complete(s3_writer *w, void *arg, bool retried, fl_err *err)
{
    fl_store_meta *meta = arg;
    fl_rc rc = FL_OK;
    fl_buf body, out;
    fl_buf_init(&body, (size_t)S3_MAX_PARTS * (S3_MAX_ETAG * 2 + 64) + 256);
    fl_buf_init(&out, AWS_MAX_CRED_RESPONSE);
    fl_buf_append_c(&body, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (size_t i = 0; i < w->etags.len; i++) {
        fl_buf_printf(&body, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1);
        aws_xml_escape(&body, fl_str_c((const char *)fl_vec_at(&w->etags, i)));
        fl_buf_append_c(&body, "</ETag></Part>");
    }
    fl_buf_append_c(&body, "</CompleteMultipartUpload>");
    if (body.rc) FL_FAIL(body.rc, "s3 CompleteMultipartUpload: request too large");
    aws_kv q[1] = {{FL_STR("uploadId"), fl_str_c(w->upload_id)}};
    aws_kv hdr[2] = {{FL_STR("Content-Type"), FL_STR("application/xml")},
                     {FL_STR("If-None-Match"), FL_STR("*")}};
    s3_req r = {.method = "POST",
                .op = "CompleteMultipartUpload",
                .key = fl_buf_str(&w->key),
                .query = q,
                .nquery = 1,
                .headers = hdr,
                .nheaders = (w->flags & FL_STORE_IF_ABSENT) ? 2 : 1,
                .body = body.ptr,
                .body_len = body.len,
                .out = &out,
                .fresh_connect = true};
    aws_http_resp rs;
    rc = s3_call(w->s, &r, &rs, err);
    if (rc == FL_E_NOT_FOUND && retried) {
        /* NoSuchUpload after an ambiguous try: did our earlier try complete it? */
        fl_store_meta m;
        fl_err e2;
        fl_err_clear(&e2);
        fl_str rel = fl_str_make(w->key.ptr + strlen(w->s->root), w->key.len - strlen(w->s->root));
        if (s3_head(w->s, rel, &m, &e2) == FL_OK && m.size == w->size) {
            fl_log(w->s->log, FL_LOG_INFO,
                   "s3 CompleteMultipartUpload s3://%s/%s had landed on an earlier try", w->s->bucket,
                   w->key.ptr);
            w->upload_id[0] = 0;
            if (err) fl_err_clear(err);
            if (meta) *meta = m;
            rc = FL_OK;
            goto done;
        }
    }
    if (rc == FL_E_STORE_PRECOND && (w->flags & FL_STORE_IF_ABSENT)) {
        rc = fl_err_set(err, FL_E_EXISTS,
                        "s3 CompleteMultipartUpload s3://%s/%s: already exists (If-None-Match: * failed)",
                        w->s->bucket, w->key.ptr);
        goto done;
    }
    if (rc) goto done;
    /* a 200 can still carry an <Error> */
    fl_str x = fl_buf_str(&out);
    size_t pos = 0;
    fl_str e;
    if (aws_xml_next(x, &pos, "Error", &e)) {
        aws_http_resp fake = rs;
        fake.status = 500;
        fl_buf eb;
        fl_buf_init(&eb, 0);
        fl_buf_append_str(&eb, x);
        aws_creds none;
        memset(&none, 0, sizeof none);
        rc = s3_fail(w->s, &r, &fake, &eb, &none, err);
        fl_buf_reset(&eb);
        goto done;
    }
    w->upload_id[0] = 0; /* completed: nothing to abort */
    if (meta) {
        memset(meta, 0, sizeof *meta);
        meta->size = w->size;
        meta->mtime_ms = fl_clock_now_us() / 1000;
        aws_xml_text_c(x, "ETag", meta->etag, sizeof meta->etag);
    }
done:
    fl_buf_reset(&body);
    fl_buf_reset(&out);
    return rc;
}

static void mpu_abort(s3_writer *w)
{
    if (!w->upload_id[0]) return;
    aws_kv q[1] = {{FL_STR("uploadId"), fl_str_c(w->upload_id)}};
    s3_req r = {.method = "DELETE",
                .op = "AbortMultipartUpload",
                .key = fl_buf_str(&w->key),
                .query = q,
                .nquery = 1};
    fl_err e;
    for (int attempt = 1; attempt <= 3; attempt++) {
        aws_http_resp rs;
        fl_err_clear(&e);
        fl_rc rc = s3_call(w->s, &r, &rs, &e);
        if (rc == FL_OK || rc == FL_E_NOT_FOUND) break;
        fl_log(w->s->log, FL_LOG_WARN, "s3: abort of multipart upload for s3://%s/%s failed: %s",
               w->s->bucket, w->key.ptr, e.msg);
        if (!fl_err_is_retriable(&e)) break;
        fl_sleep_ms(fl_store_backoff_ms(&w->s->retry, (uint32_t)attempt));
    }
    w->upload_id[0] = 0;
}

/* Hand the filled part to an upload thread (or upload it here when concurrency is 1 or no
 * thread can be started), then make sure the next job is free to be filled. */
static fl_rc flush_part(s3_writer *w, fl_err *err)
{
    fl_rc rc;
    if (!w->upload_id[0] && (rc = with_retry(w, step_create, NULL, "CreateMultipartUpload", err)) != FL_OK)
        return rc;
    if (w->nparts >= S3_MAX_PARTS)
        return fl_err_set(err, FL_E_LIMIT, "s3 multipart s3://%s/%s: more than %u parts; raise s3.partSize",
                          w->s->bucket, w->key.ptr, S3_MAX_PARTS);
    part_job *j = &w->jobs[w->cur];
    j->partno = ++w->nparts;
    j->rc = FL_OK;
    if (w->njobs > 1 && pthread_create(&j->th, NULL, part_thread, j) == 0) {
        j->running = true;
        w->cur = (w->cur + 1) % w->njobs;
        return part_collect(w, &w->jobs[w->cur], err); /* the oldest upload in flight */
    }
    /* synchronous: earlier parts are collected first to keep the ETag order */
    if ((rc = part_collect_all(w, err)) != FL_OK) return rc;
    fl_err_clear(&j->err);
    j->rc = with_retry(w, step_part, j, "UploadPart", &j->err);
    if (j->rc) {
        if (err) *err = j->err;
        return j->rc;
    }
    char *slot = fl_vec_push_zero(&w->etags);
    if (!slot) return fl_err_set(err, FL_E_NOMEM, "s3 multipart: out of memory");
    memcpy(slot, j->etag, S3_MAX_ETAG);
    fl_buf_clear(&j->buf);
    return FL_OK;
}

static void writer_free(s3_writer *w)
{
    fl_err e;
    part_collect_all(w, &e); /* never free a buffer a thread still reads */
    for (uint32_t i = 0; i < w->njobs; i++)
        fl_buf_reset(&w->jobs[i].buf);
    fl_free(w->jobs);
    fl_buf_reset(&w->key);
    fl_vec_reset(&w->etags);
    fl_free(w);
}

static fl_rc s3_writer_open(void *impl, fl_str key, uint32_t flags, void **out, fl_err *err)
{
    s3 *s = impl;
    s3_writer *w = fl_calloc(1, sizeof *w);
    if (!w) return fl_err_set(err, FL_E_NOMEM, "s3 writer: out of memory");
    w->s = s;
    w->flags = flags;
    fl_vec_init(&w->etags, S3_MAX_ETAG);
    fl_buf_init(&w->key, 1);
    w->jobs = fl_calloc(s->upload_concurrency, sizeof *w->jobs);
    if (!w->jobs) {
        writer_free(w);
        return fl_err_set(err, FL_E_NOMEM, "s3 writer: out of memory");
    }
    w->njobs = s->upload_concurrency;
    for (uint32_t i = 0; i < w->njobs; i++) {
        w->jobs[i].w = w;
        fl_buf_init(&w->jobs[i].buf, s->part_size + 1);
    }
    fl_buf_reset(&w->key);
    fl_rc rc = full_key(s, key, &w->key, err);
    if (rc) {
        writer_free(w);
        return rc;
    }
    *out = w;
    return FL_OK;
}

/* The part buffer being filled. */
static fl_buf *cur_part(s3_writer *w)
{
    return &w->jobs[w->cur].buf;
}

/* Stop: wait for the upload threads, then abort the multipart upload. */
static void writer_stop(s3_writer *w)
{
    fl_err e;
    part_collect_all(w, &e);
    mpu_abort(w);
}

static fl_rc s3_writer_write(void *wp, const void *data, size_t len, fl_err *err)
{
    s3_writer *w = wp;
    const char *p = data;
    if (w->rc) return fl_err_set(err, w->rc, "s3 writer s3://%s/%s already failed", w->s->bucket, w->key.ptr);
    while (len) {
        fl_buf *part = cur_part(w);
        size_t room = w->s->part_size - part->len;
        size_t n = len < room ? len : room;
        if (fl_buf_append(part, p, n) != FL_OK) {
            w->rc =
                fl_err_set(err, FL_E_NOMEM, "s3 writer: out of memory for a %zu-byte part", w->s->part_size);
            writer_stop(w);
            return w->rc;
        }
        p += n;
        len -= n;
        w->size += n;
        if (part->len == w->s->part_size) {
            fl_rc rc = flush_part(w, err);
            if (rc) {
                w->rc = rc;
                writer_stop(w); /* no orphaned upload even if the caller forgets to abort */
                return rc;
            }
        }
    }
    return FL_OK;
}

/* After an ambiguous failure and then "exists": is the stored object exactly our bytes? */
static bool same_bytes(s3_writer *w)
{
    fl_buf b;
    const fl_buf *part = cur_part(w);
    fl_buf_init(&b, part->len + 1);
    fl_err e;
    size_t rl = strlen(w->s->root);
    fl_str rel = fl_str_make(w->key.ptr + rl, w->key.len - rl);
    bool same = false;
    for (uint32_t attempt = 1; attempt <= 3 && !same; attempt++) {
        fl_buf_clear(&b);
        fl_rc rc = s3_get(w->s, rel, 0, UINT64_MAX, &b, NULL, &e);
        if (rc == FL_OK) {
            same = b.len == part->len && (b.len == 0 || memcmp(b.ptr, part->ptr, b.len) == 0);
            break;
        }
        if (!fl_err_is_retriable(&e)) break;
        fl_sleep_ms(fl_store_backoff_ms(&w->s->retry, attempt));
    }
    fl_buf_reset(&b);
    return same;
}

static fl_rc s3_writer_commit(void *wp, fl_store_meta *meta, fl_err *err)
{
    s3_writer *w = wp;
    fl_rc rc = w->rc;
    if (rc) {
        fl_err_set(err, rc, "s3 writer s3://%s/%s already failed", w->s->bucket, w->key.ptr);
        goto done;
    }
    if (!w->upload_id[0]) { /* small object: one PUT (retried here, the writer is outside store_run) */
        uint32_t max = w->s->retry.max_attempts ? w->s->retry.max_attempts : 6;
        for (uint32_t attempt = 1;; attempt++) {
            if (err) fl_err_clear(err);
            rc = s3_put_full(w->s, fl_buf_str(&w->key), cur_part(w)->ptr, cur_part(w)->len, w->flags, meta,
                             err);
            if (rc == FL_E_EXISTS && attempt > 1 && same_bytes(w)) { /* our earlier try had landed */
                if (err) fl_err_clear(err);
                rc = FL_OK;
            }
            if (rc == FL_OK || !fl_err_is_retriable(err) || attempt >= max) break;
            fl_sleep_ms(fl_store_backoff_ms(&w->s->retry, attempt));
        }
        goto done;
    }
    if (cur_part(w)->len && (rc = flush_part(w, err)) != FL_OK) goto done;
    if ((rc = part_collect_all(w, err)) != FL_OK) goto done;
    rc = with_retry(w, step_complete, meta, "CompleteMultipartUpload", err);
done:
    if (rc) writer_stop(w);
    writer_free(w);
    return rc;
}

static void s3_writer_abort(void *wp)
{
    s3_writer *w = wp;
    if (!w) return;
    writer_stop(w);
    writer_free(w);
}

/* ------------------------------------------------------------------ open / close */

static const char *prop(const fl_store_opts *o, const char *const *names)
{
    if (!o) return NULL;
    const char *v = NULL;
    for (size_t i = 0; i < o->nprops; i++)
        for (const char *const *n = names; *n; n++)
            if (o->props[i].key && !strcmp(o->props[i].key, *n)) v = o->props[i].val; /* last wins */
    return v && v[0] ? v : NULL;
}

/* An option, else a non-empty environment variable (for callers such as the CLI that pass no
 * options: the timeouts can then still be tuned per process). *src receives where the value
 * came from (the option's first name or the variable), for messages. */
static const char *prop_env(const fl_store_opts *o, const char *const *names, const char *env,
                            const char **src)
{
    const char *v = prop(o, names);
    *src = names[0];
    if (!v && (v = getenv(env)) != NULL) {
        *src = env;
        if (!v[0]) v = NULL;
    }
    return v;
}

static const char *const P_REGION[] = {"s3.region", "region", "awsRegion", "aws_region", NULL};
static const char *const P_ENDPOINT[] = {"s3.endpoint",  "s3Endpoint",  "endpoint",
                                         "aws_endpoint", "awsEndpoint", NULL};
static const char *const P_PATHSTYLE[] = {"s3.pathStyle", "s3PathStyle", NULL};
static const char *const P_AKID[] = {"s3.accessKeyId", "awsAccessKeyId", "aws_access_key_id", NULL};
static const char *const P_SECRET[] = {"s3.secretAccessKey", "awsSecretAccessKey", "aws_secret_access_key",
                                       NULL};
static const char *const P_TOKEN[] = {"s3.sessionToken", "awsSessionToken", "aws_session_token", NULL};
static const char *const P_PROFILE[] = {"s3.profile", "awsProfile", "aws_profile", NULL};
static const char *const P_PART[] = {"s3.partSize", NULL};
static const char *const P_MAXKEYS[] = {"s3.listMaxKeys", NULL};
static const char *const P_UNSIGNED[] = {"s3.unsignedPayload", NULL};
static const char *const P_CONNECT[] = {"s3.connectTimeoutMs", NULL};
static const char *const P_LOWSPEED[] = {"s3.lowSpeedTimeS", NULL};
static const char *const P_UPCONC[] = {"s3.uploadConcurrency", NULL};
static const char *const P_SSE[] = {"s3.sse", NULL};
static const char *const P_DLCONC[] = {"s3.downloadConcurrency", NULL};
static const char *const P_SSEKMS[] = {"s3.sseKmsKeyId", NULL};
static const char *const P_ACL[] = {"s3.cannedAcl", NULL};
static const char *const *const P_ALL[] = {
    P_REGION,   P_ENDPOINT, P_PATHSTYLE, P_AKID,   P_SECRET, P_TOKEN,  P_PROFILE, P_PART,  P_MAXKEYS,
    P_UNSIGNED, P_CONNECT,  P_LOWSPEED,  P_UPCONC, P_SSE,    P_SSEKMS, P_ACL,     P_DLCONC};

static bool known_prop(const char *k)
{
    for (size_t i = 0; i < sizeof P_ALL / sizeof P_ALL[0]; i++)
        for (const char *const *n = P_ALL[i]; *n; n++)
            if (!strcmp(k, *n)) return true;
    return false;
}

static bool parse_bool(const char *v, bool *out)
{
    if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes"))
        *out = true;
    else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no"))
        *out = false;
    else
        return false;
    return true;
}

static bool parse_num(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end = NULL;
    unsigned long long n = strtoull(v, &end, 10);
    if (!end || *end || end == v || n < lo || n > hi) return false;
    *out = n;
    return true;
}

static bool bucket_valid(fl_str b)
{
    if (b.len < 3 || b.len > S3_MAX_BUCKET) return false;
    for (size_t i = 0; i < b.len; i++) {
        char c = b.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
              (c >= 'A' && c <= 'Z') || c == '_'))
            return false;
    }
    return true;
}

static void s3_close(void *impl);

/* Tuning options (part size, concurrency, page size, payload signing, timeouts). */
static fl_rc s3_parse_tuning(s3 *s, const fl_store_opts *o, fl_err *err)
{
    const char *v, *src;
    uint64_t num;
    if ((v = prop(o, P_PART))) {
        if (!parse_num(v, S3_MIN_PART_SIZE, S3_MAX_PART_SIZE, &num))
            return fl_err_set(err, FL_E_CONFIG, "s3.partSize \"%s\": need %zu..%zu bytes", v,
                              S3_MIN_PART_SIZE, S3_MAX_PART_SIZE);
        s->part_size = (size_t)num;
    }
    if ((v = prop(o, P_UPCONC))) {
        if (!parse_num(v, 1, S3_MAX_UPLOAD_CONCURRENCY, &num))
            return fl_err_set(err, FL_E_CONFIG, "s3.uploadConcurrency \"%s\": need 1..%u", v,
                              S3_MAX_UPLOAD_CONCURRENCY);
        s->upload_concurrency = (uint32_t)num;
    }
    if ((v = prop(o, P_DLCONC))) {
        if (!parse_num(v, 1, S3_MAX_UPLOAD_CONCURRENCY, &num))
            return fl_err_set(err, FL_E_CONFIG, "s3.downloadConcurrency \"%s\": need 1..%u", v,
                              S3_MAX_UPLOAD_CONCURRENCY);
        s->download_concurrency = (uint32_t)num;
    }
    if ((v = prop(o, P_MAXKEYS))) {
        if (!parse_num(v, 1, 1000, &num))
            return fl_err_set(err, FL_E_CONFIG, "s3.listMaxKeys \"%s\": need 1..1000", v);
        s->list_max_keys = (uint32_t)num;
    }
    if ((v = prop(o, P_UNSIGNED)) && !parse_bool(v, &s->unsigned_payload))
        return fl_err_set(err, FL_E_CONFIG, "s3.unsignedPayload \"%s\": need true or false", v);
    if ((v = prop_env(o, P_CONNECT, "FL_S3_CONNECT_TIMEOUT_MS", &src))) {
        if (!parse_num(v, 1, 600000, &num))
            return fl_err_set(err, FL_E_CONFIG, "%s \"%s\": need 1..600000", src, v);
        s->connect_timeout_ms = (long)num;
    }
    if ((v = prop(o, P_SSE))) {
        if (strcmp(v, "AES256") != 0 && strcmp(v, "aws:kms") != 0 && strcmp(v, "aws:kms:dsse") != 0)
            return fl_err_set(err, FL_E_CONFIG, "s3.sse \"%s\": need AES256, aws:kms or aws:kms:dsse", v);
        snprintf(s->sse, sizeof s->sse, "%s", v);
    }
    if ((v = prop(o, P_SSEKMS))) {
        if (!s->sse[0] || strncmp(s->sse, "aws:kms", 7) != 0)
            return fl_err_set(err, FL_E_CONFIG, "s3.sseKmsKeyId needs s3.sse=aws:kms");
        if (strlen(v) >= sizeof s->sse_kms_key)
            return fl_err_set(err, FL_E_CONFIG, "s3.sseKmsKeyId too long");
        memcpy(s->sse_kms_key, v, strlen(v) + 1);
    }
    if ((v = prop(o, P_ACL))) {
        static const char *const acls[] = {
            "private",       "public-read",       "public-read-write",        "authenticated-read",
            "aws-exec-read", "bucket-owner-read", "bucket-owner-full-control"};
        bool ok = false;
        for (size_t i = 0; i < sizeof acls / sizeof acls[0]; i++)
            ok = ok || !strcmp(v, acls[i]);
        if (!ok) return fl_err_set(err, FL_E_CONFIG, "s3.cannedAcl \"%s\": not a canned ACL", v);
        snprintf(s->acl, sizeof s->acl, "%s", v);
    }
    if ((v = prop_env(o, P_LOWSPEED, "FL_S3_LOW_SPEED_TIME_S", &src))) {
        if (!parse_num(v, 1, 3600, &num))
            return fl_err_set(err, FL_E_CONFIG, "%s \"%s\": need 1..3600", src, v);
        s->low_speed_time_s = (long)num;
    }
    return FL_OK;
}

/* Endpoint (option, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or AWS) and addressing style. */
static fl_rc s3_setup_endpoint(s3 *s, const fl_store_opts *o, fl_err *err)
{
    const char *v, *ep = prop(o, P_ENDPOINT);
    if (!ep) ep = getenv("AWS_ENDPOINT_URL_S3");
    if (!ep || !ep[0]) ep = getenv("AWS_ENDPOINT_URL");
    if (ep && !ep[0]) ep = NULL;
    bool path_style_set = false;
    if ((v = prop(o, P_PATHSTYLE))) {
        if (!parse_bool(v, &s->path_style))
            return fl_err_set(err, FL_E_CONFIG, "s3.pathStyle \"%s\": need true or false", v);
        path_style_set = true;
    }
    if (!ep) {
        s->aws_endpoint = true;
        memcpy(s->scheme, "https", sizeof "https");
        if (strchr(s->bucket, '.') && !path_style_set)
            s->path_style = true; /* dotted names break the TLS wildcard */
        return FL_OK;
    }
    const char *sep = strstr(ep, "://");
    if (!sep || (size_t)(sep - ep) >= sizeof s->scheme || (strncasecmp(ep, "http", 4) != 0))
        return fl_err_set(err, FL_E_CONFIG,
                          "s3 endpoint \"%s\": expected http://host[:port] or https://host[:port]", ep);
    memcpy(s->scheme, ep, (size_t)(sep - ep));
    s->scheme[sep - ep] = 0;
    const char *hp = sep + 3;
    const char *slash = strchr(hp, '/');
    size_t hl = slash ? (size_t)(slash - hp) : strlen(hp);
    if (hl == 0 || hl >= sizeof s->ep_host)
        return fl_err_set(err, FL_E_CONFIG, "s3 endpoint \"%s\": bad host", ep);
    memcpy(s->ep_host, hp, hl);
    s->ep_host[hl] = 0;
    if (slash && strlen(slash) >= sizeof s->ep_path)
        return fl_err_set(err, FL_E_CONFIG, "s3 endpoint \"%s\": path too long", ep);
    if (slash) memcpy(s->ep_path, slash, strlen(slash) + 1);
    size_t el = strlen(s->ep_path);
    while (el && s->ep_path[el - 1] == '/')
        s->ep_path[--el] = 0;
    if (!path_style_set) s->path_style = true; /* MinIO, LocalStack, Ceph: path-style by default */
    return FL_OK;
}

static fl_rc s3_open(const fl_store_url *u, const fl_store_opts *o, void **impl, fl_err *err)
{
    fl_rc rc = FL_OK;
    s3 *s = fl_calloc(1, sizeof *s);
    if (!s) return fl_err_set(err, FL_E_NOMEM, "s3: out of memory");
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_mutex_init(&s->addr_mu, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT); /* ref-counted; thread-safe in libcurl >= 7.84 */
    s->part_size = S3_DEFAULT_PART_SIZE;
    s->upload_concurrency = 4;
    s->download_concurrency = 4;
    s->list_max_keys = 1000;
    s->connect_timeout_ms = 5000;
    s->low_speed_time_s = 60;
    s->retry.max_attempts = o && o->retry_max_attempts ? o->retry_max_attempts : 6;
    if (o) {
        s->retry.base_ms = o->retry_base_ms;
        s->retry.cap_ms = o->retry_cap_ms;
        s->log = o->log;
        for (size_t i = 0; i < o->nprops; i++) {
            const char *k = o->props[i].key;
            if (k && !strncmp(k, "s3.", 3) && !known_prop(k))
                FL_FAIL(FL_E_CONFIG, "s3: unknown option \"%s\"", k);
        }
    }

    if (!bucket_valid(u->authority))
        FL_FAIL(FL_E_ARG, "s3: \"" FL_STR_FMT "\" is not a valid bucket name (s3://bucket/prefix)",
                FL_STR_ARG(u->authority));
    memcpy(s->bucket, u->authority.ptr, u->authority.len);
    s->bucket[u->authority.len] = 0;
    fl_str root = u->path;
    while (root.len && root.ptr[root.len - 1] == '/')
        root.len--;
    while (root.len && root.ptr[0] == '/')
        root.ptr++, root.len--;
    if (root.len > FL_STORE_MAX_KEY) FL_FAIL(FL_E_LIMIT, "s3: prefix longer than %u bytes", FL_STORE_MAX_KEY);
    s->root = fl_malloc(root.len + 2);
    if (!s->root) FL_FAIL(FL_E_NOMEM, "s3: out of memory");
    if (root.len) memcpy(s->root, root.ptr, root.len);
    s->root[root.len] = '/';
    s->root[root.len ? root.len + 1 : 0] = 0;

    FL_TRY(s3_parse_tuning(s, o, err));
    const char *profile = prop(o, P_PROFILE);
    char region[AWS_MAX_REGION];
    s->region_fixed = aws_region_resolve(prop(o, P_REGION), profile, region);
    if (!s->region_fixed) snprintf(region, sizeof region, "us-east-1");
    FL_TRY(s3_setup_endpoint(s, o, err));
    if (!addr_build(s, region, &s->addr)) FL_FAIL(FL_E_CONFIG, "s3: endpoint host, path or region too long");

    aws_chain_cfg cc = {.access_key_id = prop(o, P_AKID),
                        .secret_access_key = prop(o, P_SECRET),
                        .session_token = prop(o, P_TOKEN),
                        .profile = profile,
                        .region = s->addr.region,
                        .log = s->log};
    FL_TRY(aws_chain_new(&cc, &s->chain, err));
    fl_log(s->log, FL_LOG_DEBUG, "s3: bucket %s, region %s%s, %s-style via %s", s->bucket, s->addr.region,
           s->region_fixed ? "" : " (default)", s->path_style ? "path" : "virtual-hosted", s->addr.origin);
    *impl = s;
    return FL_OK;
done:
    s3_close(s);
    return rc;
}

static void s3_close(void *impl)
{
    s3 *s = impl;
    if (!s) return;
    for (size_t i = 0; i < s->nidle; i++)
        curl_easy_cleanup(s->idle[i]);
    aws_chain_free(s->chain);
    fl_free(s->root);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_mutex_destroy(&s->addr_mu);
    fl_free(s);
    curl_global_cleanup();
}

fl_rc store_s3_set_provider(fl_store *st, const store_s3_provider *p, fl_err *err)
{
    if (!st || st->drv != &store_s3_drv || !st->impl)
        return fl_err_set(err, FL_E_ARG, "store_s3_set_provider: not an s3 store");
    s3 *s = st->impl;
    aws_chain_set_provider(s->chain, p);
    return FL_OK;
}

static const char *const s3_alias[] = {"s3a", NULL};

const fl_store_driver store_s3_drv = {
    .scheme = "s3",
    .alias = s3_alias,
    .open = s3_open,
    .close = s3_close,
    .get = s3_get,
    .put = s3_put,
    .head = s3_head,
    .del = s3_del,
    .list = s3_list,
    .writer_open = s3_writer_open,
    .writer_write = s3_writer_write,
    .writer_commit = s3_writer_commit,
    .writer_abort = s3_writer_abort,
};
