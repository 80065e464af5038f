/* test_aws_creds.c - the AWS credential chain (src/store/aws_creds.c) and the scanners it
 * uses (aws_scan.c), against an in-process fake of IMDS, the container endpoint and STS
 * (a tiny HTTP server thread on 127.0.0.1). Checks order, profiles, refresh before expiry,
 * caching across threads, the provider hook, and that secrets never appear in messages. */
#include "testhelp.h"

#include "fhirlake/os.h"
#include "store/s3_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------------------------ fake server */

#define MAXROUTES 8
typedef struct route {
    char method[8], path[256];
    int status;
    char body[4096];
    int hits;
} route;

typedef struct fake {
    int fd, port;
    pthread_t th;
    pthread_mutex_t mu;
    route routes[MAXROUTES];
    int nroutes;
    char last_headers[8192], last_body[8192];
    int total;
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
    for (;;) {
        int c = accept(F.fd, NULL, NULL);
        if (c < 0) break;
        if (F.stop) {
            close(c);
            break;
        }
        char buf[32768];
        size_t n = 0;
        char *eoh = NULL;
        while (n < sizeof buf - 1) {
            ssize_t r = read(c, buf + n, sizeof buf - 1 - n);
            if (r <= 0) break;
            n += (size_t)r;
            buf[n] = 0;
            if ((eoh = strstr(buf, "\r\n\r\n"))) {
                const char *cl = ci_find(buf, "content-length:");
                size_t want = cl && cl < eoh ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
                if (n >= (size_t)(eoh + 4 - buf) + want) break;
            }
        }
        char method[16] = "", path[512] = "";
        sscanf(buf, "%15s %511s", method, path);
        pthread_mutex_lock(&F.mu);
        F.total++;
        if (eoh) {
            size_t hl = (size_t)(eoh - buf);
            snprintf(F.last_headers, sizeof F.last_headers, "%.*s\r\n", (int)hl, buf);
            snprintf(F.last_body, sizeof F.last_body, "%s", eoh + 4);
        }
        route *rt = NULL;
        for (int i = 0; i < F.nroutes; i++)
            if (!strcmp(F.routes[i].method, method) && !strcmp(F.routes[i].path, path)) rt = &F.routes[i];
        char resp[8192];
        int len;
        if (rt) {
            rt->hits++;
            len = snprintf(resp, sizeof resp,
                           "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", rt->status,
                           strlen(rt->body), rt->body);
        } else {
            len = snprintf(resp, sizeof resp,
                           "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
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
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(F.fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(F.fd, 16) != 0) {
        fprintf(stderr, "fake: cannot listen\n");
        exit(1);
    }
    socklen_t al = sizeof a;
    getsockname(F.fd, (struct sockaddr *)&a, &al);
    F.port = ntohs(a.sin_port);
    pthread_create(&F.th, NULL, fake_main, NULL);
}

static void fake_stop(void)
{
    F.stop = 1;
    int s = socket(AF_INET, SOCK_STREAM, 0); /* wake accept() */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)F.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(s, (struct sockaddr *)&a, sizeof a);
    close(s);
    pthread_join(F.th, NULL);
    close(F.fd);
}

static void fake_route(const char *method, const char *path, int status, const char *body)
{
    pthread_mutex_lock(&F.mu);
    route *r = NULL;
    for (int i = 0; i < F.nroutes; i++)
        if (!strcmp(F.routes[i].method, method) && !strcmp(F.routes[i].path, path)) r = &F.routes[i];
    if (!r) r = &F.routes[F.nroutes++];
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->status = status;
    snprintf(r->body, sizeof r->body, "%s", body);
    r->hits = 0;
    pthread_mutex_unlock(&F.mu);
}

static int fake_hits(const char *method, const char *path)
{
    int h = 0;
    pthread_mutex_lock(&F.mu);
    for (int i = 0; i < F.nroutes; i++)
        if (!strcmp(F.routes[i].method, method) && !strcmp(F.routes[i].path, path)) h = F.routes[i].hits;
    pthread_mutex_unlock(&F.mu);
    return h;
}

static void fake_reset(void)
{
    pthread_mutex_lock(&F.mu);
    F.nroutes = 0;
    F.total = 0;
    F.last_headers[0] = F.last_body[0] = 0;
    pthread_mutex_unlock(&F.mu);
}

/* ------------------------------------------------------------------ helpers */

static char tmpdir[256];

static void clear_env(void)
{
    const char *vars[] = {"AWS_ACCESS_KEY_ID",
                          "AWS_SECRET_ACCESS_KEY",
                          "AWS_SESSION_TOKEN",
                          "AWS_PROFILE",
                          "AWS_REGION",
                          "AWS_DEFAULT_REGION",
                          "AWS_SHARED_CREDENTIALS_FILE",
                          "AWS_CONFIG_FILE",
                          "AWS_WEB_IDENTITY_TOKEN_FILE",
                          "AWS_ROLE_ARN",
                          "AWS_ROLE_SESSION_NAME",
                          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                          "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                          "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                          "AWS_EC2_METADATA_DISABLED",
                          "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                          "AWS_ENDPOINT_URL",
                          "AWS_ENDPOINT_URL_STS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    /* never touch the real ~/.aws or the real metadata service */
    char p[512];
    snprintf(p, sizeof p, "%s/none-credentials", tmpdir);
    setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
    snprintf(p, sizeof p, "%s/none-config", tmpdir);
    setenv("AWS_CONFIG_FILE", p, 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    fake_reset();
}

static void write_file(const char *name, const char *text, char *path_out, size_t cap)
{
    snprintf(path_out, cap, "%s/%s", tmpdir, name);
    FILE *f = fopen(path_out, "w");
    fputs(text, f);
    fclose(f);
}

static fl_rc get_creds(const aws_chain_cfg *cfg, aws_creds *cr, fl_err *err)
{
    aws_chain *c = NULL;
    fl_rc rc = aws_chain_new(cfg, &c, err);
    if (rc) return rc;
    rc = aws_chain_get(c, cr, err);
    aws_chain_free(c);
    return rc;
}

static char url_buf[256];
static const char *fake_url(const char *path)
{
    snprintf(url_buf, sizeof url_buf, "http://127.0.0.1:%d%s", F.port, path);
    return url_buf;
}

static void iso_in(int64_t secs, char *out, size_t cap)
{
    fl_time_format_rfc3339((fl_clock_now_us() / 1000000 + secs) * 1000000, out, cap);
}

/* ------------------------------------------------------------------ tests */

static void test_scanners(void)
{
    char v[64];
    fl_str j = FL_STR("{\"Code\" : \"Success\", \"n\": 12, \"o\": {\"a\": [1, \"x\"]}, \"AccessKeyId\": "
                      "\"AK\\u00e9\\/x\"}");
    CHECK(aws_json_str(j, "AccessKeyId", v, sizeof v));
    CHECK_EQ_STR(v, "AK\xc3\xa9/x");
    CHECK(aws_json_str(j, "Code", v, sizeof v));
    CHECK(!aws_json_str(j, "n", v, sizeof v));
    CHECK(!aws_json_str(j, "missing", v, sizeof v));
    CHECK(!aws_json_str(FL_STR("{\"a\": \"unterminated"), "a", v, sizeof v));
    CHECK(!aws_json_str(FL_STR("{\"a\": \"0123456789\"}"), "a", v, 5)); /* too long */

    fl_str x = FL_STR("<?xml?><R><Contents><Key>a&amp;b &lt;c&gt; &#233;</Key><Size>3</Size></Contents>"
                      "<Contents><Key><![CDATA[x<y]]></Key></Contents><KeyCount>2</KeyCount><Empty/></R>");
    size_t pos = 0;
    fl_str inner;
    fl_buf b;
    fl_buf_init(&b, 1024);
    CHECK(aws_xml_next(x, &pos, "Contents", &inner));
    CHECK(aws_xml_text(inner, "Key", &b));
    CHECK_EQ_STR(b.ptr, "a&b <c> \xc3\xa9");
    CHECK(aws_xml_next(x, &pos, "Contents", &inner));
    CHECK(aws_xml_text(inner, "Key", &b));
    CHECK_EQ_STR(b.ptr, "x<y");
    CHECK(!aws_xml_next(x, &pos, "Contents", &inner));
    CHECK(aws_xml_text_c(x, "KeyCount", v, sizeof v));
    CHECK_EQ_STR(v, "2");
    CHECK(!aws_xml_text_c(x, "Key", v, 0) || 1);
    pos = 0;
    CHECK(aws_xml_next(x, &pos, "Empty", &inner) && inner.len == 0);
    CHECK(!aws_xml_text(FL_STR("<K>&bogus;</K>"), "K", &b));
    fl_buf_clear(&b);
    aws_xml_escape(&b, FL_STR("a&<>\"'\n"));
    CHECK_EQ_STR(b.ptr, "a&amp;&lt;&gt;&quot;&apos;&#10;");
    fl_buf_reset(&b);
}

static void test_ini(void)
{
    fl_str t =
        FL_STR("# comment\n[default]\naws_access_key_id = AKDEF\n  nested = no\n"
               "[profile dev]\nregion=eu-west-1\ns3 =\n  region = wrong\n[dev]\nregion = cred-style\n");
    char v[64];
    CHECK(aws_ini_get(t, "default", false, "aws_access_key_id", v, sizeof v));
    CHECK_EQ_STR(v, "AKDEF");
    CHECK(!aws_ini_get(t, "default", false, "nested", v, sizeof v));
    CHECK(aws_ini_get(t, "dev", true, "region", v, sizeof v));
    CHECK_EQ_STR(v, "eu-west-1");
    CHECK(aws_ini_get(t, "dev", false, "region", v, sizeof v));
    CHECK_EQ_STR(v, "cred-style");
    CHECK(!aws_ini_get(t, "nope", true, "region", v, sizeof v));
}

static void test_explicit_and_env(void)
{
    clear_env();
    aws_creds cr;
    fl_err err;
    aws_chain_cfg cfg = {.access_key_id = "AKEXPLICIT", .secret_access_key = "sekrit-explicit"};
    setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "sekrit-env", 1);
    CHECK_EQ_INT(get_creds(&cfg, &cr, &err), FL_OK);
    CHECK_EQ_STR(cr.akid, "AKEXPLICIT"); /* explicit beats env */
    CHECK_EQ_STR(cr.source, "options");

    setenv("AWS_SESSION_TOKEN", "tok-env", 1);
    CHECK_EQ_INT(get_creds(NULL, &cr, &err), FL_OK);
    CHECK_EQ_STR(cr.akid, "AKENV");
    CHECK_EQ_STR(cr.secret, "sekrit-env");
    CHECK_EQ_STR(cr.token, "tok-env");
    CHECK_EQ_STR(cr.source, "env");
    CHECK_EQ_INT(cr.expires_ms, 0);

    unsetenv("AWS_SECRET_ACCESS_KEY");
    CHECK_EQ_INT(get_creds(NULL, &cr, &err), FL_E_STORE_AUTH);
    CHECK(strstr(err.msg, "AWS_SECRET_ACCESS_KEY") != NULL);

    aws_chain_cfg half = {.access_key_id = "AK"};
    CHECK_EQ_INT(get_creds(&half, &cr, &err), FL_E_CONFIG);
}

static void test_profiles(void)
{
    clear_env();
    char cp[512], fp[512];
    write_file("credentials",
               "[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = sekrit-default\n"
               "[dev]\naws_access_key_id=AKDEV\naws_secret_access_key=sekrit-dev\naws_session_token=tok-dev\n"
               "[broken]\naws_access_key_id=AKB\n",
               cp, sizeof cp);
    write_file("config",
               "[default]\nregion = us-west-2\n[profile cfgonly]\naws_access_key_id=AKCFG\n"
               "aws_secret_access_key=sekrit-cfg\nregion=ap-south-1\n"
               "[profile proc]\ncredential_process = /bin/echo\n[profile dev]\naws_access_key_id=AKIGNORED\n",
               fp, sizeof fp);
    setenv("AWS_SHARED_CREDENTIALS_FILE", cp, 1);
    setenv("AWS_CONFIG_FILE", fp, 1);
    aws_creds cr;
    fl_err err;
    CHECK_EQ_INT(get_creds(NULL, &cr, &err), FL_OK);
    CHECK_EQ_STR(cr.akid, "AKDEFAULT");
    setenv("AWS_PROFILE", "dev", 1);
    CHECK_EQ_INT(get_creds(NULL, &cr, &err), FL_OK);
    CHECK_EQ_STR(cr.akid, "AKDEV"); /* credentials file wins over config */
    CHECK_EQ_STR(cr.token, "tok-dev");
    CHECK_EQ_STR(cr.source, "profile:dev");
    aws_chain_cfg cfg = {.profile = "cfgonly"};
    CHECK_EQ_INT(get_creds(&cfg, &cr, &err), FL_OK);
    CHECK_EQ_STR(cr.akid, "AKCFG");
    char region[AWS_MAX_REGION];
    CHECK(aws_region_resolve(NULL, "cfgonly", region));
    CHECK_EQ_STR(region, "ap-south-1");
    setenv("AWS_DEFAULT_REGION", "eu-north-1", 1);
    CHECK(aws_region_resolve(NULL, "cfgonly", region));
    CHECK_EQ_STR(region, "eu-north-1");
    setenv("AWS_REGION", "eu-central-1", 1);
    CHECK(aws_region_resolve(NULL, NULL, region));
    CHECK_EQ_STR(region, "eu-central-1");
    CHECK(aws_region_resolve("sa-east-1", NULL, region));
    CHECK_EQ_STR(region, "sa-east-1");

    setenv("AWS_PROFILE", "missing", 1);
    CHECK_EQ_INT(get_creds(NULL, &cr, &err), FL_E_CONFIG);
    CHECK(strstr(err.msg, "\"missing\" not found") != NULL);
    setenv("AWS_PROFILE", "broken", 1);
    CHECK_EQ_INT(get_creds(NULL, &cr, &err), FL_E_STORE_AUTH);
    CHECK(strstr(err.msg, "aws_secret_access_key") != NULL);
    setenv("AWS_PROFILE", "proc", 1);
    CHECK_EQ_INT(get_creds(NULL, &cr, &err), FL_E_UNSUPPORTED);
    CHECK(strstr(err.msg, "credential_process") != NULL);
    CHECK(strstr(err.msg, "sekrit") == NULL);
}

static void test_container(void)
{
    clear_env();
    char exp[40], body[1024], tp[512];
    iso_in(3600, exp, sizeof exp);
    snprintf(body, sizeof body,
             "{\"AccessKeyId\":\"AKCONT\",\"SecretAccessKey\":\"sekrit-cont\",\"Token\":\"tok-cont\","
             "\"Expiration\":\"%s\",\"RoleArn\":\"arn:aws:iam::1:role/x\"}",
             exp);
    fake_route("GET", "/v1/credentials", 200, body);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", fake_url("/v1/credentials"), 1);
    write_file("ecs-token", "secret-auth-token\n", tp, sizeof tp);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tp, 1);
    aws_creds cr;
    fl_err err;
    CHECK_EQ_INT(get_creds(NULL, &cr, &err), FL_OK);
    CHECK_EQ_STR(cr.akid, "AKCONT");
    CHECK_EQ_STR(cr.token, "tok-cont");
    CHECK_EQ_STR(cr.source, "container");
    CHECK(cr.expires_ms > fl_clock_now_us() / 1000);
    CHECK_MSG(strstr(F.last_headers, "Authorization: secret-auth-token\r") != NULL, "%s", F.last_headers);

    /* plain http to a non-loopback host is refused */
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://203.0.113.9/creds", 1);
    CHECK_EQ_INT(get_creds(NULL, &cr, &err), FL_E_CONFIG);

    /* server refuses */
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", fake_url("/v1/credentials"), 1);
    fake_route("GET", "/v1/credentials", 403, "{\"message\":\"denied\"}");
    CHECK_EQ_INT(get_creds(NULL, &cr, &err), FL_E_STORE_AUTH);
    CHECK(strstr(err.msg, "HTTP 403") != NULL);
    CHECK(strstr(err.msg, "secret-auth-token") == NULL);
}

static void test_web_identity(void)
{
    clear_env();
    char exp[40], body[2048], tp[512];
    iso_in(3600, exp, sizeof exp);
    snprintf(body, sizeof body,
             "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
             "<AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAWEB</AccessKeyId>"
             "<SecretAccessKey>sekrit-web</SecretAccessKey><SessionToken>tok&amp;web</SessionToken>"
             "<Expiration>%s</Expiration></Credentials></AssumeRoleWithWebIdentityResult>"
             "</AssumeRoleWithWebIdentityResponse>",
             exp);
    fake_route("POST", "/sts/", 200, body);
    write_file("wi-token", "eyJhbGciOi.jwt+token/x=\n", tp, sizeof tp);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tp, 1);
    setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/fhir", 1);
    setenv("AWS_ROLE_SESSION_NAME", "sess1", 1);
    setenv("AWS_ENDPOINT_URL_STS", fake_url("/sts/"), 1);
    aws_creds cr;
    fl_err err;
    CHECK_EQ_INT(get_creds(NULL, &cr, &err), FL_OK);
    CHECK_EQ_STR(cr.akid, "ASIAWEB");
    CHECK_EQ_STR(cr.token, "tok&web");
    CHECK_EQ_STR(cr.source, "web-identity");
    CHECK(strstr(F.last_body, "Action=AssumeRoleWithWebIdentity") != NULL);
    CHECK(strstr(F.last_body, "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Ffhir") != NULL);
    CHECK(strstr(F.last_body, "WebIdentityToken=eyJhbGciOi.jwt%2Btoken%2Fx%3D") != NULL);
    CHECK(strstr(F.last_body, "RoleSessionName=sess1") != NULL);

    fake_route("POST", "/sts/", 403,
               "<ErrorResponse><Error><Code>AccessDenied</Code><Message>Not "
               "authorized</Message></Error></ErrorResponse>");
    CHECK_EQ_INT(get_creds(NULL, &cr, &err), FL_E_STORE_AUTH);
    CHECK(strstr(err.msg, "AccessDenied") != NULL);
    CHECK(strstr(err.msg, "AWS_ROLE_ARN") != NULL);
    CHECK(strstr(err.msg, "jwt") == NULL);
}

static void imds_routes(int64_t expires_in_s)
{
    char exp[40], body[1024];
    iso_in(expires_in_s, exp, sizeof exp);
    snprintf(body, sizeof body,
             "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2024-01-01T00:00:00Z\",\n  \"Type\" : "
             "\"AWS-HMAC\",\n"
             "  \"AccessKeyId\" : \"ASIAIMDS\",\n  \"SecretAccessKey\" : \"sekrit-imds\",\n  \"Token\" : "
             "\"tok-imds\",\n"
             "  \"Expiration\" : \"%s\"\n}",
             exp);
    fake_route("PUT", "/latest/api/token", 200, "imds-session-token");
    fake_route("GET", "/latest/meta-data/iam/security-credentials/", 200, "my-role\n");
    fake_route("GET", "/latest/meta-data/iam/security-credentials/my-role", 200, body);
}

static void test_imds_and_refresh(void)
{
    clear_env();
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", fake_url(""), 1);
    imds_routes(120); /* expires within the 5-minute margin: every get refreshes */
    aws_chain *c = NULL;
    fl_err err;
    aws_creds cr;
    c = NULL;
    CHECK_EQ_INT(aws_chain_new(NULL, &c, &err), FL_OK);
    if (!c) return;
    CHECK_EQ_INT(aws_chain_get(c, &cr, &err), FL_OK);
    CHECK_EQ_STR(cr.akid, "ASIAIMDS");
    CHECK_EQ_STR(cr.source, "imds");
    CHECK(strstr(F.last_headers, "X-aws-ec2-metadata-token: imds-session-token") != NULL);
    CHECK_EQ_INT(aws_chain_get(c, &cr, &err), FL_OK);
    CHECK_EQ_INT(fake_hits("PUT", "/latest/api/token"), 2);

    /* refresh fails, but the cached credentials are still valid for 2 minutes: keep them */
    fake_route("GET", "/latest/meta-data/iam/security-credentials/my-role", 500, "oops");
    CHECK_EQ_INT(aws_chain_get(c, &cr, &err), FL_OK);
    CHECK_EQ_STR(cr.akid, "ASIAIMDS");
    aws_chain_free(c);

    /* long-lived: one fetch serves many gets, also from several threads */
    imds_routes(3600);
    c = NULL;
    CHECK_EQ_INT(aws_chain_new(NULL, &c, &err), FL_OK);
    if (!c) return;
    CHECK_EQ_INT(aws_chain_get(c, &cr, &err), FL_OK);
    for (int i = 0; i < 10; i++)
        aws_chain_get(c, &cr, &err);
    CHECK_EQ_INT(fake_hits("GET", "/latest/meta-data/iam/security-credentials/my-role"), 1);
    aws_chain_invalidate(c);
    CHECK_EQ_INT(aws_chain_get(c, &cr, &err), FL_OK);
    CHECK_EQ_INT(fake_hits("GET", "/latest/meta-data/iam/security-credentials/my-role"), 2);
    aws_chain_free(c);

    /* no instance role */
    fake_route("GET", "/latest/meta-data/iam/security-credentials/", 404, "");
    CHECK_EQ_INT(get_creds(NULL, &cr, &err), FL_E_STORE_AUTH);
    CHECK(strstr(err.msg, "no AWS credentials found") != NULL);
    CHECK(!fl_err_is_retriable(&err));
}

static void *thread_get(void *arg)
{
    aws_chain *c = arg;
    aws_creds cr;
    fl_err err;
    for (int i = 0; i < 20; i++) {
        if (aws_chain_get(c, &cr, &err) != FL_OK || strcmp(cr.akid, "ASIAIMDS") != 0) return (void *)1;
    }
    return NULL;
}

static void test_threads(void)
{
    clear_env();
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", fake_url("/"), 1);
    imds_routes(3600);
    aws_chain *c = NULL;
    fl_err err;
    c = NULL;
    CHECK_EQ_INT(aws_chain_new(NULL, &c, &err), FL_OK);
    if (!c) return;
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, thread_get, c);
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        bad += r != NULL;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(fake_hits("GET", "/latest/meta-data/iam/security-credentials/my-role"), 1);
    aws_chain_free(c);
}

static void test_imds_unreachable(void)
{
    clear_env();
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1", 1); /* nothing listens */
    aws_creds cr;
    fl_err err;
    uint64_t t0 = fl_clock_mono_ns();
    CHECK_EQ_INT(get_creds(NULL, &cr, &err), FL_E_STORE_AUTH);
    CHECK((fl_clock_mono_ns() - t0) / 1000000 < 5000);
    CHECK(strstr(err.msg, "IMDS") != NULL);
}

static int prov_calls;
static fl_rc vended(void *ctx, aws_creds *out, fl_err *err)
{
    (void)err;
    prov_calls++;
    snprintf(out->akid, sizeof out->akid, "%s", (const char *)ctx);
    snprintf(out->secret, sizeof out->secret, "sekrit-vended");
    snprintf(out->token, sizeof out->token, "tok-vended");
    out->expires_ms = fl_clock_now_us() / 1000 + 3600 * 1000;
    return FL_OK;
}
static fl_rc vend_fail(void *ctx, aws_creds *out, fl_err *err)
{
    (void)ctx;
    (void)out;
    return fl_err_set(err, FL_E_AUTH, "unity catalog said no");
}

static void test_provider_hook(void)
{
    clear_env();
    setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "sekrit-env", 1);
    aws_chain *c = NULL;
    fl_err err;
    aws_creds cr;
    c = NULL;
    CHECK_EQ_INT(aws_chain_new(NULL, &c, &err), FL_OK);
    if (!c) return;
    CHECK_EQ_INT(aws_chain_get(c, &cr, &err), FL_OK);
    CHECK_EQ_STR(cr.akid, "AKENV");
    store_s3_provider p = {vended, (void *)"ASIAVENDED"};
    aws_chain_set_provider(c, &p);
    CHECK_EQ_INT(aws_chain_get(c, &cr, &err), FL_OK);
    CHECK_EQ_STR(cr.akid, "ASIAVENDED");
    CHECK_EQ_STR(cr.source, "provider");
    aws_chain_get(c, &cr, &err);
    CHECK_EQ_INT(prov_calls, 1);
    store_s3_provider pf = {vend_fail, NULL};
    aws_chain_set_provider(c, &pf);
    CHECK_EQ_INT(aws_chain_get(c, &cr, &err), FL_E_AUTH);
    CHECK(strstr(err.msg, "unity catalog said no") != NULL);
    aws_chain_free(c);
}

static void test_assume_role(void)
{
    clear_env();
    char cp[512], fp[512], exp[40], body[2048];
    write_file("credentials-ar", "[base]\naws_access_key_id = AKBASE\naws_secret_access_key = sekrit-base\n",
               cp, sizeof cp);
    write_file(
        "config-ar",
        "[profile assumer]\nrole_arn = arn:aws:iam::123456789012:role/lake\nsource_profile = base\n"
        "external_id = ext-42\nduration_seconds = 900\nrole_session_name = s1\nregion = eu-west-3\n"
        "[profile chained]\nrole_arn = arn:aws:iam::123456789012:role/second\nsource_profile = assumer\n"
        "[profile loop]\nrole_arn = arn:x\nsource_profile = loop2\n[profile loop2]\nrole_arn = arn:y\n"
        "source_profile = loop\n[profile envsrc]\nrole_arn = arn:z\ncredential_source = Environment\n",
        fp, sizeof fp);
    setenv("AWS_SHARED_CREDENTIALS_FILE", cp, 1);
    setenv("AWS_CONFIG_FILE", fp, 1);
    setenv("AWS_ENDPOINT_URL_STS", fake_url("/sts/"), 1);
    iso_in(900, exp, sizeof exp);
    snprintf(body, sizeof body,
             "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAROLE</AccessKeyId>"
             "<SecretAccessKey>sekrit-role</SecretAccessKey><SessionToken>tok-role</SessionToken>"
             "<Expiration>%s</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>",
             exp);
    fake_route("POST", "/sts/", 200, body);
    aws_creds cr;
    fl_err err;
    aws_chain_cfg cfg = {.profile = "assumer"};
    CHECK_MSG(get_creds(&cfg, &cr, &err) == FL_OK, "%s", err.msg);
    CHECK_EQ_STR(cr.akid, "ASIAROLE");
    CHECK_EQ_STR(cr.token, "tok-role");
    CHECK_EQ_STR(cr.source, "assume-role:assumer");
    CHECK(strstr(F.last_body, "Action=AssumeRole&") != NULL);
    CHECK(strstr(F.last_body, "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Flake") != NULL);
    CHECK(strstr(F.last_body, "ExternalId=ext-42") != NULL);
    CHECK(strstr(F.last_body, "DurationSeconds=900") != NULL);
    CHECK(strstr(F.last_body, "RoleSessionName=s1") != NULL);
    CHECK(strstr(F.last_headers, "Credential=AKBASE/") != NULL);
    CHECK(strstr(F.last_headers, "/eu-west-3/sts/aws4_request") != NULL);
    CHECK(strstr(F.last_headers, "x-amz-security-token") == NULL);

    /* role from a role: the second call is signed with the first role's session */
    cfg.profile = "chained";
    CHECK_MSG(get_creds(&cfg, &cr, &err) == FL_OK, "%s", err.msg);
    CHECK_EQ_INT(fake_hits("POST", "/sts/"), 3);
    CHECK(strstr(F.last_headers, "Credential=ASIAROLE/") != NULL);
    CHECK(strstr(F.last_headers, "x-amz-security-token: tok-role") != NULL);
    CHECK(strstr(F.last_body, "role%2Fsecond") != NULL);

    cfg.profile = "loop";
    CHECK_EQ_INT(get_creds(&cfg, &cr, &err), FL_E_CONFIG);
    CHECK(strstr(err.msg, "chain longer") != NULL);

    setenv("AWS_ACCESS_KEY_ID", "AKENVSRC", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "sekrit-envsrc", 1);
    cfg.profile = "envsrc";
    CHECK_MSG(get_creds(&cfg, &cr, &err) == FL_OK, "%s", err.msg);
    CHECK(strstr(F.last_headers, "Credential=AKENVSRC/") != NULL);

    fake_route("POST", "/sts/", 403,
               "<ErrorResponse><Error><Code>AccessDenied</Code><Message>not "
               "allowed</Message></Error></ErrorResponse>");
    cfg.profile = "assumer";
    CHECK_EQ_INT(get_creds(&cfg, &cr, &err), FL_E_STORE_AUTH);
    CHECK(strstr(err.msg, "AccessDenied") != NULL);
    CHECK(strstr(err.msg, "AKBASE") != NULL);
    CHECK(strstr(err.msg, "sekrit") == NULL);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fl_test_aws_creds_%d", (int)getpid());
    fl_err err;
    fl_mkdir_p(tmpdir, &err);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fake_start();
    RUN(test_scanners);
    RUN(test_ini);
    RUN(test_explicit_and_env);
    RUN(test_profiles);
    RUN(test_container);
    RUN(test_web_identity);
    RUN(test_assume_role);
    RUN(test_imds_and_refresh);
    RUN(test_threads);
    RUN(test_imds_unreachable);
    RUN(test_provider_hook);
    fake_stop();
    curl_global_cleanup();
    fl_rm_rf(tmpdir, &err);
    return testhelp_done();
}
