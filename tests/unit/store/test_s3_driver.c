/* test_s3_driver.c - the S3 driver (src/store/store_s3.c) through the public fl_store API.
 * Offline part (always): options, URL and addressing checks, error mapping and retries
 * against an in-process fake S3 on 127.0.0.1 (503/SlowDown then success, 412, 403
 * SignatureDoesNotMatch, 200-with-<Error> on CompleteMultipartUpload).
 * Online part (when S3_ENDPOINT, S3_BUCKET and AWS keys are set, as tests/run/s3_driver.sh
 * does with tools/s3server.sh): put/get/range/head/list pagination/delete batch, a
 * put-if-absent race between processes, a 12 MiB multipart upload, and a wrong secret. */
#include "testhelp.h"

#include "fhirlake/os.h"
#include "fhirlake/store.h"
#include "store/s3_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------ fake S3 (scripted replies) */

#define MAXSCRIPT 32
typedef struct reply {
    int status;
    char headers[512];
    char body[2048];
} reply;

typedef struct fake {
    int fd, port;
    pthread_t th;
    pthread_mutex_t mu;
    reply script[MAXSCRIPT]; /* replies in order; the last one repeats */
    int nscript, next;
    char req[MAXSCRIPT][1024]; /* request lines + Host seen */
    char last[16384];          /* headers of the last request */
    int sse_seen;              /* requests that carried the SSE-KMS + ACL headers */
    int nreq;
    volatile int stop;
} fake;

static fake F;

static const char *ci_find(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return hay;
    return NULL;
}

static void *fake_main(void *arg)
{
    (void)arg;
    static char buf[1 << 20];
    for (;;) {
        int c = accept(F.fd, NULL, NULL);
        if (c < 0 || F.stop) {
            if (c >= 0) close(c);
            break;
        }
        size_t n = 0, total = 0, need = SIZE_MAX;
        char *eoh = NULL;
        while (total < need) { /* keep headers and the start of the body; drain the rest */
            char sink[65536];
            bool keep = n < sizeof buf - 1;
            ssize_t r = keep ? read(c, buf + n, sizeof buf - 1 - n) : read(c, sink, sizeof sink);
            if (r <= 0) break;
            total += (size_t)r;
            if (keep) {
                n += (size_t)r;
                buf[n] = 0;
            }
            if (!eoh && (eoh = strstr(buf, "\r\n\r\n"))) {
                const char *cl = ci_find(buf, "content-length:");
                need = (size_t)(eoh + 4 - buf) + (cl && cl < eoh ? (size_t)strtoul(cl + 15, NULL, 10) : 0);
            }
        }
        pthread_mutex_lock(&F.mu);
        reply *rp = &F.script[F.next < F.nscript ? F.next : F.nscript - 1];
        if (F.next < F.nscript) F.next++;
        snprintf(F.last, sizeof F.last, "%.*s", eoh ? (int)(eoh - buf) : 0, buf);
        if (eoh && ci_find(F.last, "\r\nx-amz-server-side-encryption: aws:kms\r\n") &&
            ci_find(F.last, "\r\nx-amz-server-side-encryption-aws-kms-key-id: alias/fhir\r\n") &&
            ci_find(F.last, "\r\nx-amz-acl: bucket-owner-full-control\r\n") && strstr(F.last, "x-amz-acl;") &&
            strstr(F.last, "x-amz-server-side-encryption;"))
            F.sse_seen++;
        if (F.nreq < MAXSCRIPT) {
            const char *host = ci_find(buf, "\r\nhost:");
            const char *eol = strstr(buf, "\r\n");
            snprintf(F.req[F.nreq++], 1024, "%.*s|%.*s", (int)(eol ? eol - buf : 0), buf,
                     host ? (int)(strstr(host + 2, "\r\n") - host - 2) : 0, host ? host + 2 : "");
        }
        char resp[4096];
        int len = snprintf(resp, sizeof resp,
                           "HTTP/1.1 %d X\r\n%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                           rp->status, rp->headers, strlen(rp->body), rp->body);
        pthread_mutex_unlock(&F.mu);
        if (write(c, resp, (size_t)len) < 0) { /* ignore */
        }
        close(c);
    }
    return NULL;
}

static void fake_start(void)
{
    memset(&F, 0, sizeof F);
    pthread_mutex_init(&F.mu, NULL);
    F.fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(F.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(F.fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(F.fd, 16) != 0) exit(1);
    socklen_t al = sizeof a;
    getsockname(F.fd, (struct sockaddr *)&a, &al);
    F.port = ntohs(a.sin_port);
    pthread_create(&F.th, NULL, fake_main, NULL);
}

static void fake_stop(void)
{
    F.stop = 1;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)F.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(s, (struct sockaddr *)&a, sizeof a);
    close(s);
    pthread_join(F.th, NULL);
    close(F.fd);
}

static void fake_script(int n, const reply *r)
{
    pthread_mutex_lock(&F.mu);
    for (int i = 0; i < n; i++)
        F.script[i] = r[i];
    F.nscript = n;
    F.next = 0;
    F.nreq = 0;
    pthread_mutex_unlock(&F.mu);
}

/* Every log line of the fake-server tests, at DEBUG level, to check no secret is logged. */
static int log_lines, log_secret_hits;
static void capture_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    (void)level;
    log_lines++;
    if (strstr(msg, "fake-secret-never-shown") || strstr(msg, "vended-secret") ||
        strstr(msg, "vended-session-token"))
        log_secret_hits++;
}
static const fl_logger test_log = {capture_log, NULL, FL_LOG_DEBUG};

static fl_store *open_fake(const char *url, const char *extra_k, const char *extra_v)
{
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", F.port);
    fl_store_prop p[] = {{"s3.endpoint", ep},
                         {"awsAccessKeyId", "AKIDFAKE"},
                         {"awsSecretAccessKey", "fake-secret-never-shown"},
                         {"s3.region", "eu-west-1"},
                         {extra_k ? extra_k : "x.none", extra_v ? extra_v : ""}};
    fl_store_opts o;
    fl_store_opts_default(&o);
    o.props = p;
    o.nprops = 5;
    o.retry_base_ms = 1;
    o.retry_cap_ms = 5;
    o.log = &test_log;
    fl_store *st = NULL;
    fl_err err;
    if (fl_store_open(url, &o, &st, &err) != FL_OK) {
        fprintf(stderr, "open %s: %s\n", url, err.msg);
        return NULL;
    }
    return st;
}

/* ------------------------------------------------------------------ offline tests */

static void test_open_options(void)
{
    fl_store *st = NULL;
    fl_err err;
    fl_store_prop bad[] = {{"s3.nonsense", "1"}};
    fl_store_opts o;
    fl_store_opts_default(&o);
    o.props = bad;
    o.nprops = 1;
    CHECK_EQ_INT(fl_store_open("s3://bucket/x", &o, &st, &err), FL_E_CONFIG);
    CHECK(strstr(err.msg, "s3.nonsense") != NULL);
    fl_store_prop small[] = {{"s3.partSize", "1024"}};
    o.props = small;
    CHECK_EQ_INT(fl_store_open("s3://bucket/x", &o, &st, &err), FL_E_CONFIG);
    CHECK_EQ_INT(fl_store_open("s3://a/x", NULL, &st, &err), FL_E_ARG); /* bucket too short */
    /* the timeouts fall back to the environment; a bad value there is named as such */
    setenv("FL_S3_CONNECT_TIMEOUT_MS", "0", 1);
    CHECK_EQ_INT(fl_store_open("s3://bucket/x", NULL, &st, &err), FL_E_CONFIG);
    CHECK(strstr(err.msg, "FL_S3_CONNECT_TIMEOUT_MS \"0\"") != NULL);
    fl_store_prop conn[] = {{"s3.connectTimeoutMs", "x"}};
    o.props = conn;
    CHECK_EQ_INT(fl_store_open("s3://bucket/x", &o, &st, &err), FL_E_CONFIG); /* the option wins */
    CHECK(strstr(err.msg, "s3.connectTimeoutMs \"x\"") != NULL);
    unsetenv("FL_S3_CONNECT_TIMEOUT_MS");
    setenv("FL_S3_LOW_SPEED_TIME_S", "3601", 1);
    CHECK_EQ_INT(fl_store_open("s3://bucket/x", NULL, &st, &err), FL_E_CONFIG);
    CHECK(strstr(err.msg, "FL_S3_LOW_SPEED_TIME_S \"3601\"") != NULL);
    setenv("FL_S3_LOW_SPEED_TIME_S", "", 1); /* empty: unset */
    CHECK_EQ_INT(fl_store_open("s3://bucket/x", NULL, &st, &err), FL_OK);
    fl_store_close(st);
    st = NULL;
    unsetenv("FL_S3_LOW_SPEED_TIME_S");
    CHECK_EQ_INT(fl_store_open("s3a://my-bucket/tables/obs", NULL, &st, &err), FL_OK);
    if (st) CHECK_EQ_STR(fl_store_get_scheme(st), "s3");
    fl_store_close(st);
}

static void test_addressing(void)
{
    reply ok = {200, "", "x"};
    fake_script(1, &ok);
    fl_store *st = open_fake("s3://bkt-1/root/dir", NULL, NULL);
    CHECK(st != NULL);
    if (!st) return;
    fl_buf b;
    fl_buf_init(&b, 0);
    fl_err err;
    CHECK_EQ_INT(fl_store_get(st, FL_STR("a b+c/\xc3\xa9.json"), &b, NULL, &err), FL_OK);
    CHECK_EQ_STR(b.ptr, "x");
    char want[256];
    snprintf(want, sizeof want, "GET /bkt-1/root/dir/a%%20b%%2Bc/%%C3%%A9.json HTTP/1.1|Host: 127.0.0.1:%d",
             F.port);
    CHECK_EQ_STR(F.req[0], want);

    /* virtual-hosted when asked: the bucket goes into the host name (which does not
     * resolve for an IP endpoint, so only the URL in the error is checked) */
    fl_store_close(st);
    st = open_fake("s3://bkt-1", "s3.pathStyle", "false");
    if (!st) {
        fl_buf_reset(&b);
        return;
    }
    fl_buf_clear(&b);
    CHECK(fl_store_get(st, FL_STR("k"), &b, NULL, &err) != FL_OK);
    snprintf(want, sizeof want, "http://bkt-1.127.0.0.1:%d/k", F.port);
    CHECK_MSG(strstr(err.msg, want) != NULL, "%s", err.msg);
    fl_store_close(st);
    fl_buf_reset(&b);
}

static void test_retry_and_errors(void)
{
    fl_err err;
    fl_buf b;
    fl_buf_init(&b, 0);
    fl_store *st = open_fake("s3://bkt-1/p", NULL, NULL);
    if (!st) return;

    /* 503 SlowDown, 500, then success: retried transparently */
    reply r1[] = {
        {503, "", "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"},
        {500, "", "<Error><Code>InternalError</Code></Error>"},
        {200, "", "hello"}};
    fake_script(3, r1);
    CHECK_EQ_INT(fl_store_get(st, FL_STR("k"), &b, NULL, &err), FL_OK);
    CHECK_EQ_STR(b.ptr, "hello");
    CHECK_EQ_INT(F.nreq, 3);

    /* 412 on put-if-absent: FL_E_EXISTS, no retry */
    reply r2[] = {{412, "",
                   "<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you "
                   "specified did not hold</Message></Error>"}};
    fake_script(1, r2);
    CHECK_EQ_INT(
        fl_store_put(st, FL_STR("_delta_log/00000000000000000001.json"), "{}", 2, FL_STORE_IF_ABSENT, &err),
        FL_E_EXISTS);
    CHECK_EQ_INT(F.nreq, 1);
    CHECK(strstr(F.req[0], "PUT /bkt-1/p/_delta_log/00000000000000000001.json") != NULL);

    /* 409 ConditionalRequestConflict is retried */
    reply r3[] = {{409, "", "<Error><Code>ConditionalRequestConflict</Code></Error>"},
                  {200, "ETag: \"e\"\r\n", ""}};
    fake_script(2, r3);
    CHECK_EQ_INT(fl_store_put(st, FL_STR("k"), "v", 1, FL_STORE_IF_ABSENT, &err), FL_OK);
    CHECK_EQ_INT(F.nreq, 2);

    /* 403 SignatureDoesNotMatch: not retried, message says what to check, no secret */
    reply r4[] = {
        {403, "x-amz-request-id: RID123\r\n",
         "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not "
         "match the signature you provided.</Message></Error>"}};
    fake_script(1, r4);
    CHECK_EQ_INT(fl_store_get(st, FL_STR("k"), &b, NULL, &err), FL_E_STORE_AUTH);
    CHECK_EQ_INT(F.nreq, 1);
    CHECK_EQ_INT(err.status, 403);
    CHECK(strstr(err.msg, "s3://bkt-1/p/k") != NULL);
    CHECK(strstr(err.msg, "secret access key") != NULL);
    CHECK(strstr(err.msg, "AKIDFAKE") != NULL);
    CHECK(strstr(err.msg, "RID123") != NULL);
    CHECK(strstr(err.msg, "fake-secret-never-shown") == NULL);

    /* 404 -> not found; HEAD 404 without body */
    reply r5[] = {{404, "", ""}};
    fake_script(1, r5);
    fl_store_meta m;
    CHECK_EQ_INT(fl_store_head(st, FL_STR("nope"), &m, &err), FL_E_NOT_FOUND);
    reply r6[] = {{400, "",
                   "<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region 'eu-west-1' is "
                   "wrong; expecting 'us-west-2'</Message><Region>us-west-2</Region></Error>"}};
    fake_script(1, r6);
    CHECK_EQ_INT(fl_store_get(st, FL_STR("k"), &b, NULL, &err), FL_E_CONFIG);
    CHECK(strstr(err.msg, "s3.region=us-west-2") != NULL);

    /* 416: a range past the end appends nothing */
    reply r7[] = {{416, "Content-Range: bytes */5\r\n", "<Error><Code>InvalidRange</Code></Error>"}};
    fake_script(1, r7);
    fl_buf_clear(&b);
    CHECK_EQ_INT(fl_store_get_range(st, FL_STR("k"), 10, 5, &b, &err), FL_OK);
    CHECK_EQ_INT(b.len, 0);

    /* connection refused is retriable and then reported */
    fl_store_close(st);
    fl_buf_reset(&b);
}

static void test_multipart_error_in_200(void)
{
    fl_err err;
    fl_store *st = open_fake("s3://bkt-1/p", "s3.partSize", "5242880");
    if (!st) return;
    reply r[] = {
        {200, "", "<InitiateMultipartUploadResult><UploadId>UP1</UploadId></InitiateMultipartUploadResult>"},
        {200, "ETag: \"p1\"\r\n", ""},
        {200, "ETag: \"p2\"\r\n", ""},
        {200, "", "<Error><Code>InternalError</Code><Message>failed late</Message></Error>"},
        {200, "", "<Error><Code>InternalError</Code><Message>failed late</Message></Error>"},
        {200, "", "<Error><Code>InternalError</Code><Message>failed late</Message></Error>"},
        {200, "", "<Error><Code>InternalError</Code><Message>failed late</Message></Error>"},
        {200, "", "<Error><Code>InternalError</Code><Message>failed late</Message></Error>"},
        {200, "", "<Error><Code>InternalError</Code><Message>failed late</Message></Error>"},
        {204, "", ""}, /* abort */
    };
    fake_script(10, r);
    fl_store_writer *w = NULL;
    CHECK_EQ_INT(fl_store_writer_open(st, FL_STR("big.bin"), 0, &w, &err), FL_OK);
    if (!w) {
        fl_store_close(st);
        return;
    }
    static char chunk[1 << 20];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 6; i++)
        CHECK_EQ_INT(fl_store_writer_write(w, chunk, sizeof chunk, &err), FL_OK);
    CHECK_EQ_INT(fl_store_writer_commit(w, NULL, &err), FL_E_STORE_RETRY);
    CHECK(strstr(err.msg, "failed late") != NULL);
    CHECK(F.nreq > 0 &&
          strstr(F.req[F.nreq - 1], "DELETE /bkt-1/p/big.bin?uploadId=UP1") != NULL); /* aborted */
    fl_store_close(st);
}

static fl_rc vended(void *ctx, aws_creds *out, fl_err *err)
{
    (void)ctx;
    (void)err;
    snprintf(out->akid, sizeof out->akid, "ASIAVENDED");
    snprintf(out->secret, sizeof out->secret, "vended-secret");
    snprintf(out->token, sizeof out->token, "vended-session-token");
    out->expires_ms = fl_clock_now_us() / 1000 + 3600 * 1000;
    return FL_OK;
}

/* Endpoint from AWS_ENDPOINT_URL_S3, credentials from the provider hook, session token
 * sent (and signed) as x-amz-security-token. */
static void test_env_endpoint_and_provider(void)
{
    char ep[64], old_ak[256] = "", old_sk[256] = "";
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    if (ak) snprintf(old_ak, sizeof old_ak, "%s", ak);
    if (sk) snprintf(old_sk, sizeof old_sk, "%s", sk);
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", F.port);
    setenv("AWS_ENDPOINT_URL_S3", ep, 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
    fl_store *st = NULL;
    fl_err err;
    CHECK_EQ_INT(fl_store_open("s3://bkt-2/x", NULL, &st, &err), FL_OK);
    unsetenv("AWS_ENDPOINT_URL_S3");
    if (!st) return;
    store_s3_provider p = {vended, NULL};
    CHECK_EQ_INT(store_s3_set_provider(st, &p, &err), FL_OK);
    reply ok[] = {{200, "", "v"}};
    fake_script(1, ok);
    fl_buf b;
    fl_buf_init(&b, 0);
    CHECK_EQ_INT(fl_store_get(st, FL_STR("k"), &b, NULL, &err), FL_OK);
    fl_buf_reset(&b);
    fl_store_close(st);
    CHECK(strstr(F.req[0], "GET /bkt-2/x/k ") != NULL);
    CHECK(strstr(F.last, "Credential=ASIAVENDED/") != NULL);
    CHECK(strstr(F.last, "x-amz-security-token;") != NULL || strstr(F.last, ";x-amz-security-token") != NULL);
    CHECK(strstr(F.last, "x-amz-security-token: vended-session-token") != NULL);

    /* a file store is not an s3 store */
    fl_store *fs = NULL;
    CHECK_EQ_INT(fl_store_open("/tmp", NULL, &fs, &err), FL_OK);
    CHECK_EQ_INT(store_s3_set_provider(fs, &p, &err), FL_E_ARG);
    fl_store_close(fs);
    if (old_ak[0])
        setenv("AWS_ACCESS_KEY_ID", old_ak, 1);
    else
        unsetenv("AWS_ACCESS_KEY_ID");
    if (old_sk[0])
        setenv("AWS_SECRET_ACCESS_KEY", old_sk, 1);
    else
        unsetenv("AWS_SECRET_ACCESS_KEY");
}

/* No region configured: a wrong-region answer names the right one and the driver follows it
 * once (like the SDKs); with a configured region it is a configuration error instead. */
static void test_region_discovery(void)
{
    char old_r[64] = "";
    const char *r = getenv("AWS_REGION");
    if (r) snprintf(old_r, sizeof old_r, "%s", r);
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    setenv("AWS_CONFIG_FILE", "/nonexistent/fhirlake-test-config", 1);
    fl_store *st = open_fake("s3://bkt-3/p", "s3.region", ""); /* empty = not configured */
    CHECK(st != NULL);
    if (st) {
        reply rr[] = {{400, "",
                       "<Error><Code>AuthorizationHeaderMalformed</Code><Message>wrong region</Message>"
                       "<Region>ap-southeast-2</Region></Error>"},
                      {200, "", "found"}};
        fake_script(2, rr);
        fl_buf b;
        fl_buf_init(&b, 0);
        fl_err err;
        CHECK_MSG(fl_store_get(st, FL_STR("k"), &b, NULL, &err) == FL_OK, "%s", err.msg);
        CHECK_EQ_STR(b.ptr, "found");
        CHECK_EQ_INT(F.nreq, 2);
        CHECK(strstr(F.last, "/ap-southeast-2/s3/aws4_request") != NULL);
        fl_buf_reset(&b);
        fl_store_close(st);
    }
    unsetenv("AWS_CONFIG_FILE");
    if (old_r[0]) setenv("AWS_REGION", old_r, 1);
}

/* Server-side encryption and canned ACL go (signed) on PutObject and CreateMultipartUpload
 * only, never on UploadPart. */
static void test_sse_acl(void)
{
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", F.port);
    fl_store_prop p[] = {{"s3.endpoint", ep},
                         {"awsAccessKeyId", "AKIDFAKE"},
                         {"awsSecretAccessKey", "fake-secret-never-shown"},
                         {"s3.sse", "aws:kms"},
                         {"s3.sseKmsKeyId", "alias/fhir"},
                         {"s3.cannedAcl", "bucket-owner-full-control"},
                         {"s3.partSize", "5242880"},
                         {"s3.uploadConcurrency", "1"}};
    fl_store_opts o;
    fl_store_opts_default(&o);
    o.props = p;
    o.nprops = 8;
    o.retry_base_ms = 1;
    fl_store *st = NULL;
    fl_err err;
    CHECK_EQ_INT(fl_store_open("s3://bkt-4/x", &o, &st, &err), FL_OK);
    if (!st) return;
    reply r[] = {
        {200, "ETag: \"e\"\r\n", ""},
        {200, "", "<InitiateMultipartUploadResult><UploadId>U9</UploadId></InitiateMultipartUploadResult>"},
        {200, "ETag: \"p1\"\r\n", ""},
        {200, "", "<CompleteMultipartUploadResult><ETag>\"m\"</ETag></CompleteMultipartUploadResult>"}};
    fake_script(4, r);
    F.sse_seen = 0;
    CHECK_EQ_INT(fl_store_put(st, FL_STR("a.json"), "{}", 2, 0, &err), FL_OK);
    fl_store_writer *w = NULL;
    CHECK_EQ_INT(fl_store_writer_open(st, FL_STR("big.bin"), 0, &w, &err), FL_OK);
    if (w) {
        static char chunk[5 << 20];
        CHECK_EQ_INT(fl_store_writer_write(w, chunk, sizeof chunk, &err), FL_OK);
        CHECK_MSG(fl_store_writer_commit(w, NULL, &err) == FL_OK, "%s", err.msg);
    }
    CHECK_EQ_INT(F.nreq, 4);
    CHECK_EQ_INT(F.sse_seen, 2); /* PUT and CreateMultipartUpload, not UploadPart or Complete */
    fl_store_close(st);
    fl_store_prop bad[] = {{"s3.sseKmsKeyId", "k"}};
    o.props = bad;
    o.nprops = 1;
    CHECK_EQ_INT(fl_store_open("s3://bkt-4/x", &o, &st, &err), FL_E_CONFIG);
}

/* ------------------------------------------------------------------ online tests (real server) */

static fl_store *open_real(const char *prefix, const char *secret, const char *maxkeys)
{
    const char *ep = getenv("S3_ENDPOINT"), *bucket = getenv("S3_BUCKET");
    char url[512];
    snprintf(url, sizeof url, "s3://%s/%s", bucket, prefix);
    fl_store_prop p[] = {{"s3.endpoint", ep},
                         {"awsSecretAccessKey", secret},
                         {"awsAccessKeyId", getenv("AWS_ACCESS_KEY_ID")},
                         {"s3.listMaxKeys", maxkeys ? maxkeys : "1000"},
                         {"s3.partSize", "5242880"}};
    fl_store_opts o;
    fl_store_opts_default(&o);
    o.props = p;
    o.nprops = secret ? 5 : 0;
    if (!secret) {
        p[1] = p[3];
        p[2] = p[4];
        o.nprops = 3;
    }
    o.retry_base_ms = 10;
    fl_store *st = NULL;
    fl_err err;
    if (fl_store_open(url, &o, &st, &err) != FL_OK) fprintf(stderr, "open %s: %s\n", url, err.msg);
    return st;
}

static char run_prefix[64];

static void test_real_basic(void)
{
    fl_store *st = open_real(run_prefix, NULL, "2");
    CHECK(st != NULL);
    if (!st) return;
    fl_err err;
    fl_buf b;
    fl_buf_init(&b, 0);
    const char *keys[] = {"a.txt", "dir/b c+d.json", "dir/sub/\xc3\xa9t\xc3\xa9.bin", "dir/sub/z",
                          "e&<x>.txt"};
    for (int i = 0; i < 5; i++)
        CHECK_MSG(fl_store_put(st, fl_str_c(keys[i]), keys[i], strlen(keys[i]), 0, &err) == FL_OK, "%s",
                  err.msg);
    CHECK_EQ_INT(fl_store_get(st, FL_STR("dir/b c+d.json"), &b, NULL, &err), FL_OK);
    CHECK_EQ_STR(b.ptr, "dir/b c+d.json");
    fl_buf_clear(&b);
    CHECK_EQ_INT(fl_store_get_range(st, FL_STR("dir/b c+d.json"), 4, 3, &b, &err), FL_OK);
    CHECK_EQ_STR(b.ptr, "b c");
    fl_buf_clear(&b);
    CHECK_EQ_INT(fl_store_get_range(st, FL_STR("a.txt"), 2, 100, &b, &err), FL_OK); /* clipped */
    CHECK_EQ_STR(b.ptr, "txt");
    fl_buf_clear(&b);
    CHECK_EQ_INT(fl_store_get_range(st, FL_STR("a.txt"), 50, 10, &b, &err), FL_OK); /* past the end */
    CHECK_EQ_INT(b.len, 0);
    fl_buf small;
    fl_buf_init(&small, 3); /* limit below the object size: refused from Content-Length */
    CHECK_EQ_INT(fl_store_get(st, FL_STR("a.txt"), &small, NULL, &err), FL_E_LIMIT);
    CHECK_EQ_INT(small.len, 0);
    fl_buf_reset(&small);
    fl_store_meta m;
    CHECK_EQ_INT(fl_store_head(st, FL_STR("a.txt"), &m, &err), FL_OK);
    CHECK_EQ_INT(m.size, 5);
    CHECK(m.mtime_ms > 0);
    CHECK(m.etag[0] != 0);
    CHECK_EQ_INT(fl_store_head(st, FL_STR("missing"), &m, &err), FL_E_NOT_FOUND);
    CHECK_EQ_INT(fl_store_get(st, FL_STR("missing"), &b, NULL, &err), FL_E_NOT_FOUND);

    /* list with 2 keys per page: order, start-after, non-recursive */
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_store_entry *es;
    size_t n;
    CHECK_EQ_INT(fl_store_list_all(st, FL_STR(""), FL_STR_NULL, 0, 100, &a, &es, &n, &err), FL_OK);
    CHECK_EQ_INT(n, 5);
    if (n == 5) {
        CHECK_EQ_MEM(es[0].key.ptr, es[0].key.len, "a.txt");
        CHECK_EQ_MEM(es[1].key.ptr, es[1].key.len, "dir/b c+d.json");
        CHECK_EQ_MEM(es[4].key.ptr, es[4].key.len, "e&<x>.txt");
        CHECK_EQ_INT(es[0].size, 5);
    }
    CHECK_EQ_INT(fl_store_list_all(st, FL_STR("dir/"), FL_STR("dir/b c+d.json"), 0, 100, &a, &es, &n, &err),
                 FL_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(
        fl_store_list_all(st, FL_STR(""), FL_STR_NULL, FL_STORE_LIST_NO_RECURSE, 100, &a, &es, &n, &err),
        FL_OK);
    CHECK_EQ_INT(n, 3); /* a.txt, dir/, e&<x>.txt */
    if (n == 3) {
        CHECK_EQ_MEM(es[1].key.ptr, es[1].key.len, "dir/");
        CHECK(es[1].is_prefix);
    }

    /* delete in a batch, including a missing key */
    fl_str del[] = {FL_STR("a.txt"), FL_STR("dir/b c+d.json"), FL_STR("never-existed"), FL_STR("e&<x>.txt")};
    CHECK_MSG(fl_store_delete(st, del, 4, &err) == FL_OK, "%s", err.msg);
    CHECK_EQ_INT(fl_store_list_all(st, FL_STR(""), FL_STR_NULL, 0, 100, &a, &es, &n, &err), FL_OK);
    CHECK_EQ_INT(n, 2);
    fl_arena_fini(&a);
    fl_buf_reset(&b);
    fl_store_close(st);
}

static void test_real_delete_many(void)
{
    fl_store *st = open_real(run_prefix, NULL, NULL);
    if (!st) return;
    fl_err err;
    enum { N = 1105 }; /* two DeleteObjects batches */
    static char names[N][32];
    static fl_str keys[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "many/%05d", i);
        keys[i] = fl_str_c(names[i]);
    }
    int bad = 0;
    for (int i = 0; i < N; i += 50)
        bad += fl_store_put(st, keys[i], "x", 1, 0, &err) != FL_OK;
    CHECK_EQ_INT(bad, 0);
    CHECK_MSG(fl_store_delete(st, keys, N, &err) == FL_OK, "%s", err.msg);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_store_entry *es;
    size_t n = 99;
    CHECK_EQ_INT(fl_store_list_all(st, FL_STR("many/"), FL_STR_NULL, 0, 10, &a, &es, &n, &err), FL_OK);
    CHECK_EQ_INT(n, 0);
    fl_arena_fini(&a);
    fl_store_close(st);
}

static void test_real_race(void)
{
    enum { NPROC = 8 };
    char key[128];
    snprintf(key, sizeof key, "_delta_log/00000000000000000007.json");
    pid_t pids[NPROC];
    for (int i = 0; i < NPROC; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            fl_store *st = open_real(run_prefix, NULL, NULL);
            if (!st) _exit(3);
            char body[64];
            int bl = snprintf(body, sizeof body, "{\"writer\":%d}", i);
            fl_err err;
            fl_rc rc = fl_store_put(st, fl_str_c(key), body, (size_t)bl, FL_STORE_IF_ABSENT, &err);
            fl_store_close(st);
            _exit(rc == FL_OK ? 0 : rc == FL_E_EXISTS ? 1 : 2);
        }
    }
    int won = 0, lost = 0, other = 0;
    for (int i = 0; i < NPROC; i++) {
        int stt = 0;
        waitpid(pids[i], &stt, 0);
        int code = WIFEXITED(stt) ? WEXITSTATUS(stt) : 9;
        won += code == 0;
        lost += code == 1;
        other += code > 1;
    }
    CHECK_EQ_INT(won, 1);
    CHECK_EQ_INT(lost, NPROC - 1);
    CHECK_EQ_INT(other, 0);
    fprintf(stderr, "race: %d processes, %d won, %d got FL_E_EXISTS\n", NPROC, won, lost);
}

static void test_real_multipart(void)
{
    fl_store *st = open_real(run_prefix, NULL, NULL);
    if (!st) return;
    fl_err err;
    size_t total = (size_t)12 << 20;
    char *data = fl_malloc(total);
    for (size_t i = 0; i < total; i++)
        data[i] = (char)(i * 2654435761u >> 13);
    fl_store_writer *w = NULL;
    CHECK_EQ_INT(fl_store_writer_open(st, FL_STR("big/part.bin"), FL_STORE_IF_ABSENT, &w, &err), FL_OK);
    size_t off = 0, step = 777777;
    while (off < total) {
        size_t n = total - off < step ? total - off : step;
        CHECK_EQ_INT(fl_store_writer_write(w, data + off, n, &err), FL_OK);
        off += n;
    }
    CHECK_EQ_INT(fl_store_writer_size(w), total);
    fl_store_meta m;
    CHECK_MSG(fl_store_writer_commit(w, &m, &err) == FL_OK, "%s", err.msg);
    CHECK_EQ_INT(m.size, total);
    fl_buf b;
    fl_buf_init(&b, 0);
    CHECK_EQ_INT(fl_store_get(st, FL_STR("big/part.bin"), &b, NULL, &err), FL_OK);
    CHECK(b.len == total && memcmp(b.ptr, data, total) == 0);
    fl_buf_clear(&b);
    CHECK_EQ_INT(fl_store_get_range(st, FL_STR("big/part.bin"), 5u << 20, 10, &b, &err), FL_OK);
    CHECK(b.len == 10 && memcmp(b.ptr, data + (5u << 20), 10) == 0);

    /* a second multipart put-if-absent on the same key: exists, upload aborted */
    CHECK_EQ_INT(fl_store_writer_open(st, FL_STR("big/part.bin"), FL_STORE_IF_ABSENT, &w, &err), FL_OK);
    CHECK_EQ_INT(fl_store_writer_write(w, data, (size_t)6 << 20, &err), FL_OK);
    CHECK_EQ_INT(fl_store_writer_commit(w, NULL, &err), FL_E_EXISTS);

    /* abort leaves nothing behind */
    CHECK_EQ_INT(fl_store_writer_open(st, FL_STR("big/aborted.bin"), 0, &w, &err), FL_OK);
    CHECK_EQ_INT(fl_store_writer_write(w, data, (size_t)6 << 20, &err), FL_OK);
    fl_store_writer_abort(w);
    CHECK_EQ_INT(fl_store_head(st, FL_STR("big/aborted.bin"), &m, &err), FL_E_NOT_FOUND);

    /* small writer object goes through one PUT */
    CHECK_EQ_INT(fl_store_writer_open(st, FL_STR("big/small.bin"), 0, &w, &err), FL_OK);
    CHECK_EQ_INT(fl_store_writer_write(w, "tiny", 4, &err), FL_OK);
    CHECK_EQ_INT(fl_store_writer_commit(w, NULL, &err), FL_OK);
    CHECK_EQ_INT(fl_store_head(st, FL_STR("big/small.bin"), &m, &err), FL_OK);
    CHECK_EQ_INT(m.size, 4);
    fl_buf_reset(&b);
    fl_free(data);
    fl_store_close(st);
}

static void test_real_wrong_secret(void)
{
    const char *secret = "wrong-secret-must-not-leak-42";
    fl_store *st = open_real(run_prefix, secret, NULL);
    if (!st) return;
    fl_err err;
    fl_buf b;
    fl_buf_init(&b, 0);
    uint64_t t0 = fl_clock_mono_ns();
    fl_rc rc = fl_store_get(st, FL_STR("a.txt"), &b, NULL, &err);
    uint64_t ms = (fl_clock_mono_ns() - t0) / 1000000;
    CHECK_EQ_INT(rc, FL_E_STORE_AUTH);
    CHECK(!fl_err_is_retriable(&err));
    CHECK(strstr(err.msg, secret) == NULL);
    CHECK(strstr(err.msg, "SignatureDoesNotMatch") != NULL);
    CHECK(strstr(err.msg, "check the secret access key") != NULL);
    CHECK(ms < 2000); /* no retries with backoff */
    fprintf(stderr, "wrong secret -> %s (%llu ms)\n", err.msg, (unsigned long long)ms);
    fl_buf_reset(&b);
    fl_store_close(st);
}

/* Under tests/run/s3_faults.sh: S3_ENDPOINT is a proxy that injects 503/500, dropped and
 * lost connections, stalls and truncated bodies into a share of the requests. Every
 * operation must still complete, with intact data, through the retries. */
static void test_real_faults(void)
{
    const char *ep = getenv("S3_ENDPOINT"), *bucket = getenv("S3_BUCKET");
    char url[512];
    snprintf(url, sizeof url, "s3://%s/%s", bucket, run_prefix);
    fl_store_prop p[] = {
        {"s3.endpoint", ep}, {"s3.listMaxKeys", "5"}, {"s3.partSize", "5242880"}, {"s3.lowSpeedTimeS", "1"}};
    fl_store_opts o;
    fl_store_opts_default(&o);
    o.props = p;
    o.nprops = 4;
    o.retry_max_attempts = 12;
    o.retry_base_ms = 5;
    o.retry_cap_ms = 200;
    fl_store *st = NULL;
    fl_err err;
    CHECK_EQ_INT(fl_store_open(url, &o, &st, &err), FL_OK);
    if (!st) return;
    enum { N = 30 };
    char key[64], *data = fl_malloc(65536);
    for (size_t i = 0; i < 65536; i++)
        data[i] = (char)(i * 31 + 7);
    int bad = 0;
    uint64_t t0 = fl_clock_mono_ns();
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "obj/%03d", i);
        size_t len = (size_t)(i * 2111) % 65536 + 1;
        if (fl_store_put(st, fl_str_c(key), data + i, len - (size_t)i % 2, 0, &err) != FL_OK) {
            bad++;
            fprintf(stderr, "put %s: %s\n", key, err.msg);
        }
    }
    CHECK_EQ_INT(bad, 0);
    fl_buf b;
    fl_buf_init(&b, 0);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "obj/%03d", i);
        size_t len = (size_t)(i * 2111) % 65536 + 1 - (size_t)i % 2;
        fl_buf_clear(&b);
        fl_rc rc = fl_store_get(st, fl_str_c(key), &b, NULL, &err);
        if (rc != FL_OK || b.len != len || memcmp(b.ptr, data + i, len) != 0) {
            bad++;
            fprintf(stderr, "get %s: rc %d len %zu/%zu %s\n", key, rc, b.len, len, rc ? err.msg : "");
        }
        fl_buf_clear(&b);
        if (len > 10 && (fl_store_get_range(st, fl_str_c(key), 3, 7, &b, &err) != FL_OK || b.len != 7 ||
                         memcmp(b.ptr, data + i + 3, 7) != 0))
            bad++;
        fl_store_meta m;
        if (fl_store_head(st, fl_str_c(key), &m, &err) != FL_OK || m.size != len) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_store_entry *es;
    size_t n = 0;
    CHECK_MSG(fl_store_list_all(st, FL_STR("obj/"), FL_STR_NULL, 0, 1000, &a, &es, &n, &err) == FL_OK, "%s",
              err.msg);
    CHECK_EQ_INT(n, N);
    for (size_t i = 1; i < n; i++)
        CHECK(fl_str_cmp(es[i - 1].key, es[i].key) < 0);
    /* commits: put-if-absent of 10 versions, each must land exactly once */
    for (int v = 0; v < 10; v++) {
        char body[64];
        snprintf(key, sizeof key, "_delta_log/%020d.json", v);
        int bl = snprintf(body, sizeof body, "{\"commitInfo\":{\"v\":%d}}", v);
        fl_rc rc = fl_store_put(st, fl_str_c(key), body, (size_t)bl, FL_STORE_IF_ABSENT, &err);
        CHECK_MSG(rc == FL_OK, "put-if-absent %s: %s", key, err.msg);
    }
    CHECK_EQ_INT(
        fl_store_put(st, FL_STR("_delta_log/00000000000000000003.json"), "{}", 2, FL_STORE_IF_ABSENT, &err),
        FL_E_EXISTS);
    /* multipart 12 MiB */
    size_t total = (size_t)12 << 20;
    char *big = fl_malloc(total);
    for (size_t i = 0; i < total; i++)
        big[i] = (char)(i * 2654435761u >> 11);
    fl_store_writer *w = NULL;
    CHECK_EQ_INT(fl_store_writer_open(st, FL_STR("big.bin"), FL_STORE_IF_ABSENT, &w, &err), FL_OK);
    for (size_t off = 0; off < total; off += 1u << 20)
        CHECK_EQ_INT(fl_store_writer_write(w, big + off, 1u << 20, &err), FL_OK);
    CHECK_MSG(fl_store_writer_commit(w, NULL, &err) == FL_OK, "multipart: %s", err.msg);
    fl_buf_clear(&b);
    CHECK_MSG(fl_store_get(st, FL_STR("big.bin"), &b, NULL, &err) == FL_OK, "%s", err.msg);
    CHECK(b.len == total && memcmp(b.ptr, big, total) == 0);
    /* delete everything in one batch call */
    CHECK_EQ_INT(fl_store_list_all(st, FL_STR(""), FL_STR_NULL, 0, 1000, &a, &es, &n, &err), FL_OK);
    fl_str *keys = fl_calloc(n + 1, sizeof *keys);
    for (size_t i = 0; i < n; i++)
        keys[i] = es[i].key;
    CHECK_MSG(fl_store_delete(st, keys, n, &err) == FL_OK, "%s", err.msg);
    CHECK_EQ_INT(fl_store_list_all(st, FL_STR(""), FL_STR_NULL, 0, 1000, &a, &es, &n, &err), FL_OK);
    CHECK_EQ_INT(n, 0);
    fprintf(stderr, "faults: all operations completed in %.1f s\n", (double)(fl_clock_mono_ns() - t0) / 1e9);
    fl_free(keys);
    fl_free(big);
    fl_free(data);
    fl_arena_fini(&a);
    fl_buf_reset(&b);
    fl_store_close(st);
}

/* One fl_store shared by several threads (drivers are reentrant; handles come from a pool). */
typedef struct thr_arg {
    fl_store *st;
    int id, bad;
} thr_arg;

static void *thr_main(void *p)
{
    thr_arg *a = p;
    fl_err err;
    fl_buf b;
    fl_buf_init(&b, 0);
    char key[64], val[64];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "thr/%d/%02d", a->id, i);
        int n = snprintf(val, sizeof val, "value-%d-%d", a->id, i);
        if (fl_store_put(a->st, fl_str_c(key), val, (size_t)n, 0, &err) != FL_OK) a->bad++;
        fl_buf_clear(&b);
        if (fl_store_get(a->st, fl_str_c(key), &b, NULL, &err) != FL_OK || !b.ptr || strcmp(b.ptr, val) != 0)
            a->bad++;
    }
    fl_buf_reset(&b);
    return NULL;
}

static void test_real_threads(void)
{
    fl_store *st = open_real(run_prefix, NULL, NULL);
    if (!st) return;
    enum { T = 4 };
    pthread_t th[T];
    thr_arg args[T];
    for (int i = 0; i < T; i++) {
        args[i] = (thr_arg){st, i, 0};
        pthread_create(&th[i], NULL, thr_main, &args[i]);
    }
    int bad = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        bad += args[i].bad;
    }
    CHECK_EQ_INT(bad, 0);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_store_entry *es;
    size_t n = 0;
    fl_err err;
    CHECK_EQ_INT(fl_store_list_all(st, FL_STR("thr/"), FL_STR_NULL, 0, 1000, &a, &es, &n, &err), FL_OK);
    CHECK_EQ_INT(n, T * 20);
    fl_arena_fini(&a);
    fl_store_close(st);
}

/* A profile with role_arn + source_profile: fhirlake signs sts:AssumeRole with the source
 * keys (the server's STS at the same endpoint: MinIO and moto both serve it) and uses the
 * temporary credentials, i.e. a session token on every S3 request. */
static void test_real_assume_role(void)
{
    char dir[128], cp[256], fp[256];
    snprintf(dir, sizeof dir, "/tmp/fl_s3_ar_%d", (int)getpid());
    fl_err err;
    fl_mkdir_p(dir, &err);
    snprintf(cp, sizeof cp, "%s/credentials", dir);
    snprintf(fp, sizeof fp, "%s/config", dir);
    FILE *f = fopen(cp, "w");
    fprintf(f,
            "[base]\naws_access_key_id = %s\naws_secret_access_key = %s\n[badbase]\naws_access_key_id = %s\n"
            "aws_secret_access_key = not-the-secret\n",
            getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_ACCESS_KEY_ID"));
    fclose(f);
    f = fopen(fp, "w");
    fprintf(
        f,
        "[profile assumer]\nrole_arn = arn:aws:iam::000000000000:role/fhirlake-test\nsource_profile = base\n"
        "duration_seconds = 900\n[profile badrole]\nrole_arn = arn:aws:iam::000000000000:role/x\n"
        "source_profile = badbase\n");
    fclose(f);
    setenv("AWS_SHARED_CREDENTIALS_FILE", cp, 1);
    setenv("AWS_CONFIG_FILE", fp, 1);
    setenv("AWS_ENDPOINT_URL_STS", getenv("S3_ENDPOINT"), 1);
    const char *ep = getenv("S3_ENDPOINT"), *bucket = getenv("S3_BUCKET");
    char url[512];
    snprintf(url, sizeof url, "s3://%s/%s/ar", bucket, run_prefix);
    fl_store_prop p[] = {{"s3.endpoint", ep}, {"s3.profile", "assumer"}};
    fl_store_opts o;
    fl_store_opts_default(&o);
    o.props = p;
    o.nprops = 2;
    fl_store *st = NULL;
    CHECK_EQ_INT(fl_store_open(url, &o, &st, &err), FL_OK);
    if (st) {
        CHECK_MSG(fl_store_put(st, FL_STR("k.json"), "{}", 2, FL_STORE_IF_ABSENT, &err) == FL_OK, "%s",
                  err.msg);
        fl_buf b;
        fl_buf_init(&b, 0);
        CHECK_MSG(fl_store_get(st, FL_STR("k.json"), &b, NULL, &err) == FL_OK, "%s", err.msg);
        CHECK_EQ_STR(b.ptr, "{}");
        fl_buf_reset(&b);
        fl_store_close(st);
    }
    const char *kind = getenv("S3_SERVER");
    if (!kind || strcmp(kind, "moto") != 0) { /* moto's STS does not check signatures */
        p[1].val = "badrole";
        CHECK_EQ_INT(fl_store_open(url, &o, &st, &err), FL_OK);
        if (st) {
            fl_store_meta m;
            CHECK_EQ_INT(fl_store_head(st, FL_STR("k.json"), &m, &err), FL_E_STORE_AUTH);
            CHECK(strstr(err.msg, "badrole") != NULL);
            CHECK(strstr(err.msg, "not-the-secret") == NULL);
            fprintf(stderr, "bad source profile -> %s\n", err.msg);
            fl_store_close(st);
        }
    }
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unsetenv("AWS_CONFIG_FILE");
    unsetenv("AWS_ENDPOINT_URL_STS");
    fl_rm_rf(dir, &err);
}

/* The same multipart path with one part in flight and a single-stream download (no threads). */
static void test_real_multipart_serial(void)
{
    const char *ep = getenv("S3_ENDPOINT"), *bucket = getenv("S3_BUCKET");
    char url[512];
    snprintf(url, sizeof url, "s3://%s/%s/serial", bucket, run_prefix);
    fl_store_prop p[] = {{"s3.endpoint", ep},
                         {"s3.partSize", "5242880"},
                         {"s3.uploadConcurrency", "1"},
                         {"s3.downloadConcurrency", "1"}};
    fl_store_opts o;
    fl_store_opts_default(&o);
    o.props = p;
    o.nprops = 4;
    fl_store *st = NULL;
    fl_err err;
    CHECK_EQ_INT(fl_store_open(url, &o, &st, &err), FL_OK);
    if (!st) return;
    size_t total = (size_t)11 << 20;
    char *data = fl_malloc(total);
    for (size_t i = 0; i < total; i++)
        data[i] = (char)(i * 7 + (i >> 20));
    fl_store_writer *w = NULL;
    CHECK_EQ_INT(fl_store_writer_open(st, FL_STR("b.bin"), 0, &w, &err), FL_OK);
    if (w) {
        CHECK_EQ_INT(fl_store_writer_write(w, data, total, &err), FL_OK);
        CHECK_MSG(fl_store_writer_commit(w, NULL, &err) == FL_OK, "%s", err.msg);
    }
    fl_buf b;
    fl_buf_init(&b, 0);
    CHECK_EQ_INT(fl_store_get(st, FL_STR("b.bin"), &b, NULL, &err), FL_OK);
    CHECK(b.len == total && memcmp(b.ptr, data, total) == 0);
    fl_buf_reset(&b);
    fl_free(data);
    fl_store_close(st);
}

/* Keys XML 1.0 cannot carry (control characters) and ones URL encoding mangles easily
 * ('+', space, '%'): listed exactly (encoding-type=url) and deleted (single DELETE for
 * the control character, entity-escaped in the batch otherwise). */
static void test_real_odd_keys(void)
{
    fl_store *st = open_real(run_prefix, NULL, "2");
    if (!st) return;
    fl_err err;
    const char *keys[] = {("odd/a b+c\x01" "d%e&f.txt"), "odd/new\nline", "odd/tab\there", "odd/z+z"};
    const char *kind = getenv("S3_SERVER");
    if (kind && !strcmp(kind, "moto")) keys[1] = "odd/new line"; /* moto's router answers 404 to %0A */
    enum { N = 4 };
    for (int i = 0; i < N; i++)
        CHECK_MSG(fl_store_put(st, fl_str_c(keys[i]), "x", 1, 0, &err) == FL_OK, "%s", err.msg);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_store_entry *es;
    size_t n = 0;
    CHECK_MSG(fl_store_list_all(st, FL_STR("odd/"), FL_STR_NULL, 0, 100, &a, &es, &n, &err) == FL_OK, "%s",
              err.msg);
    CHECK_EQ_INT(n, N);
    for (size_t i = 0; i < n && i < N; i++)
        CHECK_MSG(fl_str_eq_c(es[i].key, keys[i]), "entry %zu", i);
    fl_str del[N];
    for (int i = 0; i < N; i++)
        del[i] = fl_str_c(keys[i]);
    CHECK_MSG(fl_store_delete(st, del, N, &err) == FL_OK, "%s", err.msg);
    CHECK_EQ_INT(fl_store_list_all(st, FL_STR("odd/"), FL_STR_NULL, 0, 100, &a, &es, &n, &err), FL_OK);
    CHECK_EQ_INT(n, 0);
    fl_arena_fini(&a);
    fl_store_close(st);
}

int main(void)
{
    fake_start();
    RUN(test_open_options);
    RUN(test_addressing);
    RUN(test_retry_and_errors);
    RUN(test_multipart_error_in_200);
    RUN(test_env_endpoint_and_provider);
    RUN(test_region_discovery);
    RUN(test_sse_acl);
    CHECK(log_lines > 10);            /* retries, credential source, region switch were logged ... */
    CHECK_EQ_INT(log_secret_hits, 0); /* ... and never a secret */
    fprintf(stderr, "%d log lines, %d containing a secret\n", log_lines, log_secret_hits);
    fake_stop();
    if (getenv("S3_FAULTS") && getenv("S3_ENDPOINT") && getenv("S3_BUCKET")) {
        snprintf(run_prefix, sizeof run_prefix, "f%d-%llx", (int)getpid(),
                 (unsigned long long)fl_random_u64());
        RUN(test_real_faults);
    } else if (getenv("S3_ENDPOINT") && getenv("S3_BUCKET") && getenv("AWS_ACCESS_KEY_ID")) {
        snprintf(run_prefix, sizeof run_prefix, "t%d-%llx", (int)getpid(),
                 (unsigned long long)fl_random_u64());
        RUN(test_real_basic);
        RUN(test_real_delete_many);
        RUN(test_real_odd_keys);
        RUN(test_real_race);
        RUN(test_real_threads);
        RUN(test_real_assume_role);
        RUN(test_real_multipart);
        RUN(test_real_multipart_serial);
        const char *kind = getenv("S3_SERVER");
        if (kind && !strcmp(kind, "moto")) /* moto's server does not verify signatures */
            fprintf(stderr, "skip test_real_wrong_secret: %s does not check SigV4\n", kind);
        else
            RUN(test_real_wrong_secret);
    } else {
        fprintf(stderr, "no S3_ENDPOINT: real-server tests run in tests/run/s3_driver.sh\n");
    }
    return testhelp_done();
}
