/* aws_creds.c - the AWS default credential chain with a thread-safe refreshing cache
 * (module store).
 * Order: provider hook (vended credentials) -> explicit options -> environment
 * (AWS_ACCESS_KEY_ID...) -> shared credentials/config files (AWS_PROFILE) -> web identity
 * (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN -> STS AssumeRoleWithWebIdentity) -> container
 * endpoint (ECS / EKS Pod Identity) -> EC2 IMDSv2. The first source that is configured
 * decides: if it fails, the error names it instead of silently falling through.
 * Temporary credentials are refreshed 5 minutes before they expire; one lock per chain
 * serialises refreshes. Secrets never reach a log line or an fl_err message. */
#include "store/s3_int.h"

#include "fhirlake/os.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define CREDS_REFRESH_MARGIN_MS (5 * 60 * 1000)
#define IMDS_CONNECT_MS 1000L
#define IMDS_TOTAL_MS 3000L
#define CRED_HTTP_TOTAL_MS 10000L
/* fl_file_read reserves 64 KiB past the data while reading; the file limit itself is
 * passed to fl_file_read */
#define FILE_READ_SLACK (128u << 10)

struct aws_chain {
    pthread_mutex_t mu;
    char *akid, *secret, *token; /* explicit (owned) */
    char *profile, *region;      /* owned, may be NULL */
    const fl_logger *log;
    store_s3_provider prov;
    bool have;
    aws_creds cur;
    CURL *h; /* for IMDS / container / STS, used under mu */
};

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

static char *dup_or_null(const char *s)
{
    return s && s[0] ? fl_strndup(s, strlen(s)) : NULL;
}

static void copy_c(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* ------------------------------------------------------------------ ini files */

static fl_str trim(fl_str s)
{
    while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t'))
        s.ptr++, s.len--;
    while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t' || s.ptr[s.len - 1] == '\r'))
        s.len--;
    return s;
}

static bool section_matches(fl_str name, const char *profile, bool is_config)
{
    name = trim(name);
    if (!is_config) return fl_str_eq_c(name, profile);
    if (!strcmp(profile, "default") && fl_str_eq_c(name, "default")) return true;
    if (name.len > 8 && memcmp(name.ptr, "profile", 7) == 0 && (name.ptr[7] == ' ' || name.ptr[7] == '\t')) {
        fl_str rest = trim(fl_str_make(name.ptr + 8, name.len - 8));
        return fl_str_eq_c(rest, profile);
    }
    return false;
}

bool aws_ini_get(fl_str text, const char *profile, bool is_config, const char *key, char *out, size_t cap)
{
    bool in = false;
    size_t i = 0;
    while (i < text.len) {
        const char *nl = memchr(text.ptr + i, '\n', text.len - i);
        size_t e = nl ? (size_t)(nl - text.ptr) : text.len;
        fl_str raw = fl_str_make(text.ptr + i, e - i);
        i = e + 1;
        bool indented = raw.len && (raw.ptr[0] == ' ' || raw.ptr[0] == '\t');
        fl_str line = trim(raw);
        if (!line.len || line.ptr[0] == '#' || line.ptr[0] == ';') continue;
        if (line.ptr[0] == '[') {
            const char *rb = memchr(line.ptr, ']', line.len);
            in = rb &&
                 section_matches(fl_str_make(line.ptr + 1, (size_t)(rb - line.ptr - 1)), profile, is_config);
            continue;
        }
        if (!in || indented) continue; /* indented lines belong to a nested block ("s3 =") */
        const char *eq = memchr(line.ptr, '=', line.len);
        if (!eq) continue;
        fl_str k = trim(fl_str_make(line.ptr, (size_t)(eq - line.ptr)));
        fl_str v = trim(fl_str_make(eq + 1, line.len - (size_t)(eq + 1 - line.ptr)));
        if (!fl_str_eq_c(k, key)) continue;
        if (v.len >= cap) return false;
        if (v.len) memcpy(out, v.ptr, v.len);
        out[v.len] = 0;
        return true;
    }
    return false;
}

static bool home_path(const char *envname, const char *rel, char *out, size_t cap)
{
    const char *p = env(envname);
    if (p) {
        snprintf(out, cap, "%s", p);
        return true;
    }
    const char *home = env("HOME");
    if (!home) return false;
    int n = snprintf(out, cap, "%s/%s", home, rel);
    return n > 0 && (size_t)n < cap;
}

/* Read an optional file; a missing one gives an empty buffer and FL_OK. */
static fl_rc read_optional(const char *path, size_t limit, fl_buf *out, fl_err *err)
{
    if (!fl_path_exists(path, NULL, NULL)) return FL_OK;
    fl_rc rc = fl_file_read(path, limit, out, err);
    if (rc) fl_err_prefix(err, "aws shared config: ");
    return rc;
}

typedef struct shared_files {
    fl_buf cred, conf;
    char cred_path[1024], conf_path[1024];
} shared_files;

static fl_rc shared_load(shared_files *sf, fl_err *err)
{
    fl_rc rc = FL_OK;
    fl_buf_init(&sf->cred, AWS_MAX_PROFILE_FILE + FILE_READ_SLACK);
    fl_buf_init(&sf->conf, AWS_MAX_PROFILE_FILE + FILE_READ_SLACK);
    sf->cred_path[0] = sf->conf_path[0] = 0;
    if (home_path("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials", sf->cred_path, sizeof sf->cred_path))
        FL_TRY(read_optional(sf->cred_path, AWS_MAX_PROFILE_FILE, &sf->cred, err));
    if (home_path("AWS_CONFIG_FILE", ".aws/config", sf->conf_path, sizeof sf->conf_path))
        FL_TRY(read_optional(sf->conf_path, AWS_MAX_PROFILE_FILE, &sf->conf, err));
done:
    return rc;
}

static void shared_free(shared_files *sf)
{
    fl_buf_reset(&sf->cred);
    fl_buf_reset(&sf->conf);
}

/* Profile value: the credentials file wins over the config file. */
static bool profile_get(const shared_files *sf, const char *profile, const char *key, char *out, size_t cap)
{
    return aws_ini_get(fl_buf_str(&sf->cred), profile, false, key, out, cap) ||
           aws_ini_get(fl_buf_str(&sf->conf), profile, true, key, out, cap);
}

static bool profile_exists(const shared_files *sf, const char *profile)
{
    fl_str files[2] = {fl_buf_str(&sf->cred), fl_buf_str(&sf->conf)};
    for (int f = 0; f < 2; f++) {
        fl_str t = files[f];
        size_t i = 0;
        while (i < t.len) {
            const char *nl = memchr(t.ptr + i, '\n', t.len - i);
            size_t e = nl ? (size_t)(nl - t.ptr) : t.len;
            fl_str line = trim(fl_str_make(t.ptr + i, e - i));
            i = e + 1;
            if (line.len > 1 && line.ptr[0] == '[') {
                const char *rb = memchr(line.ptr, ']', line.len);
                if (rb &&
                    section_matches(fl_str_make(line.ptr + 1, (size_t)(rb - line.ptr - 1)), profile, f == 1))
                    return true;
            }
        }
    }
    return false;
}

bool aws_region_resolve(const char *explicit_region, const char *profile, char *out)
{
    const char *r = explicit_region && explicit_region[0] ? explicit_region : env("AWS_REGION");
    if (!r) r = env("AWS_DEFAULT_REGION");
    if (r) {
        copy_c(out, AWS_MAX_REGION, r);
        return true;
    }
    shared_files sf;
    fl_err e;
    bool ok = false;
    if (shared_load(&sf, &e) == FL_OK) {
        const char *p = profile && profile[0] ? profile : env("AWS_PROFILE");
        ok = profile_get(&sf, p ? p : "default", "region", out, AWS_MAX_REGION);
    }
    shared_free(&sf);
    return ok;
}

/* ------------------------------------------------------------------ HTTP helpers */

static fl_rc cred_http(aws_chain *c, const aws_http_req *rq, aws_http_resp *rs, fl_err *err)
{
    if (!c->h) {
        c->h = curl_easy_init();
        if (!c->h) return fl_err_set(err, FL_E_NOMEM, "aws credentials: cannot create a curl handle");
    }
    return aws_http_do(c->h, rq, rs, err);
}

static fl_rc fill_from_json(fl_str body, const char *what, aws_creds *out, fl_err *err)
{
    char exp[64], code[64];
    if (aws_json_str(body, "Code", code, sizeof code) && strcmp(code, "Success") != 0)
        return fl_err_set(err, FL_E_STORE_AUTH, "aws credentials from %s: Code \"%s\"", what, code);
    if (!aws_json_str(body, "AccessKeyId", out->akid, sizeof out->akid) ||
        !aws_json_str(body, "SecretAccessKey", out->secret, sizeof out->secret))
        return fl_err_set(
            err, FL_E_STORE_AUTH,
            "aws credentials from %s: response has no AccessKeyId/SecretAccessKey (or they are too long)",
            what);
    if (!aws_json_str(body, "Token", out->token, sizeof out->token)) out->token[0] = 0;
    out->expires_ms = 0;
    if (aws_json_str(body, "Expiration", exp, sizeof exp) &&
        !aws_parse_iso8601(fl_str_c(exp), &out->expires_ms))
        return fl_err_set(err, FL_E_STORE_AUTH, "aws credentials from %s: bad Expiration \"%s\"", what, exp);
    return FL_OK;
}

/* ------------------------------------------------------------------ providers */

static void sts_url(const char *region, char *url, size_t cap)
{
    const char *ep = env("AWS_ENDPOINT_URL_STS");
    if (!ep) ep = env("AWS_ENDPOINT_URL");
    if (ep)
        snprintf(url, cap, "%s", ep);
    else
        snprintf(url, cap, "https://sts.%s.amazonaws.com/", region && region[0] ? region : "us-east-1");
}

/* POST form to STS at url (unsigned when signer is NULL, else SigV4 for service "sts") and
 * read <Credentials> from the answer. what/check name the source in error messages. */
static fl_rc sts_call(aws_chain *c, const char *url, fl_str form, const aws_creds *signer, const char *region,
                      const char *what, const char *check, aws_creds *out, fl_err *err)
{
    fl_rc rc = FL_OK;
    fl_buf body, ebody, auth, lines;
    fl_buf_init(&body, AWS_MAX_CRED_RESPONSE);
    fl_buf_init(&ebody, S3_MAX_ERROR_BODY);
    fl_buf_init(&auth, 1024);
    fl_buf_init(&lines, AWS_MAX_TOKEN + 4096);
    const char *hdrs[8] = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/xml",
                           NULL};
    static const char ctype[] = "application/x-www-form-urlencoded";
    if (signer) {
        /* host and path of the STS URL for the canonical request */
        const char *hp = strstr(url, "://");
        if (!hp) FL_FAIL(FL_E_CONFIG, "%s: bad STS endpoint %s", what, url);
        hp += 3;
        const char *slash = strchr(hp, '/');
        fl_str host = fl_str_make(hp, slash ? (size_t)(slash - hp) : strlen(hp));
        fl_str path = slash ? fl_str_c(slash) : FL_STR("/");
        char payload[65], amz_date[17];
        aws_sha256_hex(form.ptr, form.len, payload);
        aws_kv sh[1] = {{FL_STR("Content-Type"), FL_STR(ctype)}};
        aws_sigv4_in in = {.method = "POST",
                           .host = host,
                           .path = path,
                           .headers = sh,
                           .nheaders = 1,
                           .payload_hash = fl_str_c(payload),
                           .region = fl_str_c(region && region[0] ? region : "us-east-1"),
                           .service = FL_STR("sts"),
                           .time_s = fl_clock_now_us() / 1000000};
        FL_TRY(aws_sigv4_sign(&in, signer, amz_date, &auth, NULL, err));
        size_t o[5], n = 0;
        o[n++] = lines.len;
        fl_buf_printf(&lines, "Host: " FL_STR_FMT, FL_STR_ARG(host));
        fl_buf_putc(&lines, 0);
        o[n++] = lines.len;
        fl_buf_printf(&lines, "x-amz-date: %s", amz_date);
        fl_buf_putc(&lines, 0);
        o[n++] = lines.len;
        fl_buf_printf(&lines, "x-amz-content-sha256: %s", payload);
        fl_buf_putc(&lines, 0);
        o[n++] = lines.len;
        fl_buf_printf(&lines, "Authorization: %s", auth.ptr);
        fl_buf_putc(&lines, 0);
        if (signer->token[0]) {
            o[n++] = lines.len;
            fl_buf_printf(&lines, "x-amz-security-token: %s", signer->token);
            fl_buf_putc(&lines, 0);
        }
        if (lines.rc) FL_FAIL(lines.rc, "%s: request headers too long", what);
        for (size_t i = 0; i < n; i++)
            hdrs[2 + i] = lines.ptr + o[i];
        hdrs[2 + n] = NULL;
    }
    aws_http_req rq = {.method = "POST",
                       .url = url,
                       .headers = hdrs,
                       .body = form.ptr,
                       .body_len = form.len,
                       .out = &body,
                       .errbody = &ebody,
                       .total_timeout_ms = CRED_HTTP_TOTAL_MS};
    aws_http_resp rs;
    if ((rc = cred_http(c, &rq, &rs, err)) != FL_OK) {
        fl_err_prefix(err, "%s: STS: ", what);
        goto done;
    }
    if (rs.status != 200) {
        char code[64] = "", msg[256] = "";
        aws_xml_text_c(fl_buf_str(&ebody), "Code", code, sizeof code);
        aws_xml_text_c(fl_buf_str(&ebody), "Message", msg, sizeof msg);
        rc = fl_err_set(err, FL_E_STORE_AUTH, "%s: STS %s answered HTTP %ld %s: %s (check %s)", what, url,
                        rs.status, code, msg, check);
        if (err && (rs.status >= 500 || rs.status == 429)) err->flags |= FL_ERR_RETRIABLE;
        goto done;
    }
    fl_str xml = fl_buf_str(&body);
    size_t pos = 0;
    fl_str cr;
    char exp[64];
    if (!aws_xml_next(xml, &pos, "Credentials", &cr) ||
        !aws_xml_text_c(cr, "AccessKeyId", out->akid, sizeof out->akid) ||
        !aws_xml_text_c(cr, "SecretAccessKey", out->secret, sizeof out->secret) ||
        !aws_xml_text_c(cr, "SessionToken", out->token, sizeof out->token) ||
        !aws_xml_text_c(cr, "Expiration", exp, sizeof exp) ||
        !aws_parse_iso8601(fl_str_c(exp), &out->expires_ms))
        FL_FAIL(FL_E_STORE_AUTH, "%s: STS response from %s has no usable Credentials", what, url);
done:
    if (lines.ptr) memset(lines.ptr, 0, lines.len); /* held the source session token */
    fl_buf_reset(&body);
    fl_buf_reset(&ebody);
    fl_buf_reset(&auth);
    fl_buf_reset(&lines);
    return rc;
}

static void session_name(const char *given, char *out, size_t cap)
{
    if (given && given[0])
        copy_c(out, cap, given);
    else
        snprintf(out, cap, "fhirlake-%lld", (long long)(fl_clock_now_us() / 1000000));
}

static fl_rc from_web_identity(aws_chain *c, const char *token_file, const char *role_arn,
                               const char *session, const char *region, aws_creds *out, fl_err *err)
{
    fl_rc rc = FL_OK;
    fl_buf tok, form;
    char url[AWS_MAX_URL], sess[64];
    fl_buf_init(&tok, AWS_MAX_TOKEN_FILE + FILE_READ_SLACK);
    fl_buf_init(&form, 2 * AWS_MAX_TOKEN_FILE);

    /* re-read on every refresh: the kubelet rotates the token file */
    if (fl_file_read(token_file, AWS_MAX_TOKEN_FILE, &tok, err) != FL_OK) {
        fl_err_prefix(err, "aws web identity (AWS_WEB_IDENTITY_TOKEN_FILE): ");
        rc = err ? err->code : FL_E_IO;
        goto done;
    }
    fl_str t = trim(fl_buf_str(&tok));
    while (t.len && (t.ptr[t.len - 1] == '\n'))
        t.len--;
    sts_url(region, url, sizeof url);
    session_name(session, sess, sizeof sess);
    fl_buf_append_c(&form, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=");
    aws_uri_encode(&form, fl_str_c(role_arn), false);
    fl_buf_append_c(&form, "&RoleSessionName=");
    aws_uri_encode(&form, fl_str_c(sess), false);
    fl_buf_append_c(&form, "&WebIdentityToken=");
    aws_uri_encode(&form, t, false);
    if (form.rc) FL_FAIL(form.rc, "aws web identity: request too large");
    char check[600];
    snprintf(check, sizeof check,
             "AWS_ROLE_ARN / role_arn %.480s and the token in AWS_WEB_IDENTITY_TOKEN_FILE", role_arn);
    FL_TRY(sts_call(c, url, fl_buf_str(&form), NULL, region, "aws web identity", check, out, err));
    copy_c(out->source, sizeof out->source, "web-identity");
done:
    if (form.ptr) memset(form.ptr, 0, form.len);
    if (tok.ptr) memset(tok.ptr, 0, tok.len);
    fl_buf_reset(&tok);
    fl_buf_reset(&form);
    return rc;
}

/* sts:AssumeRole signed with the source credentials (profile role_arn + source_profile). */
static fl_rc assume_role(aws_chain *c, const aws_creds *src, const char *profile, const char *role_arn,
                         const char *session, const char *external_id, const char *duration,
                         const char *region, aws_creds *out, fl_err *err)
{
    fl_rc rc = FL_OK;
    fl_buf form;
    char url[AWS_MAX_URL], sess[64], what[96], check[700];
    fl_buf_init(&form, 16384);
    sts_url(region, url, sizeof url);
    session_name(session, sess, sizeof sess);
    fl_buf_append_c(&form, "Action=AssumeRole&Version=2011-06-15&RoleArn=");
    aws_uri_encode(&form, fl_str_c(role_arn), false);
    fl_buf_append_c(&form, "&RoleSessionName=");
    aws_uri_encode(&form, fl_str_c(sess), false);
    if (duration && duration[0]) {
        fl_buf_append_c(&form, "&DurationSeconds=");
        aws_uri_encode(&form, fl_str_c(duration), false);
    }
    if (external_id && external_id[0]) {
        fl_buf_append_c(&form, "&ExternalId=");
        aws_uri_encode(&form, fl_str_c(external_id), false);
    }
    if (form.rc) FL_FAIL(form.rc, "aws profile \"%s\": AssumeRole request too large", profile);
    snprintf(what, sizeof what, "aws profile \"%.40s\" (role_arn)", profile);
    snprintf(check, sizeof check, "role_arn %.400s may be assumed by key id %s (credentials from %s)",
             role_arn, src->akid, src->source);
    FL_TRY(sts_call(c, url, fl_buf_str(&form), src, region, what, check, out, err));
    snprintf(out->source, sizeof out->source, "assume-role:%.16s", profile);
done:
    fl_buf_reset(&form);
    return rc;
}

static bool host_allowed_plain_http(const char *url)
{
    const char *p = url + 7; /* after "http://" */
    static const char *const ok[] = {"127.",          "localhost",      "[::1]",
                                     "169.254.170.2", "169.254.170.23", "[fd00:ec2::23]"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t n = strlen(ok[i]);
        if (strncasecmp(p, ok[i], n) == 0) {
            char next = p[n];
            if (ok[i][n - 1] == '.' || next == 0 || next == ':' || next == '/') return true;
        }
    }
    return false;
}

static fl_rc from_container(aws_chain *c, aws_creds *out, fl_err *err)
{
    fl_rc rc = FL_OK;
    char url[AWS_MAX_URL];
    fl_buf body, tokbuf, hdr;
    fl_buf_init(&body, AWS_MAX_CRED_RESPONSE);
    fl_buf_init(&tokbuf, AWS_MAX_TOKEN_FILE + FILE_READ_SLACK);
    fl_buf_init(&hdr, AWS_MAX_TOKEN_FILE + 32);
    const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (rel) {
        snprintf(url, sizeof url, "http://169.254.170.2%s", rel);
    } else {
        snprintf(url, sizeof url, "%s", full);
        if (strncasecmp(url, "https://", 8) != 0 &&
            (strncasecmp(url, "http://", 7) != 0 || !host_allowed_plain_http(url)))
            FL_FAIL(
                FL_E_CONFIG,
                "aws container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI %s must be https, or http to "
                "loopback / 169.254.170.2 / 169.254.170.23",
                url);
    }
    const char *tfile = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *tok = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (tfile) {
        if (fl_file_read(tfile, AWS_MAX_TOKEN_FILE, &tokbuf, err) != FL_OK) {
            fl_err_prefix(err, "aws container credentials (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE): ");
            rc = err ? err->code : FL_E_IO;
            goto done;
        }
        fl_str t = trim(fl_buf_str(&tokbuf));
        while (t.len && t.ptr[t.len - 1] == '\n')
            t.len--;
        fl_buf_printf(&hdr, "Authorization: " FL_STR_FMT, FL_STR_ARG(t));
    } else if (tok) {
        fl_buf_printf(&hdr, "Authorization: %s", tok);
    }
    if (hdr.rc) FL_FAIL(hdr.rc, "aws container credentials: authorization token too long");
    const char *hdrs[] = {"Accept: application/json", hdr.len ? hdr.ptr : NULL, NULL};
    aws_http_req rq = {.method = "GET",
                       .url = url,
                       .headers = hdrs,
                       .out = &body,
                       .connect_timeout_ms = 2000,
                       .total_timeout_ms = CRED_HTTP_TOTAL_MS};
    aws_http_resp rs;
    if ((rc = cred_http(c, &rq, &rs, err)) != FL_OK) {
        fl_err_prefix(err, "aws container credentials: ");
        goto done;
    }
    if (rs.status != 200) {
        rc = fl_err_set(
            err, FL_E_STORE_AUTH,
            "aws container credentials: %s answered HTTP %ld (check the authorization token and the "
            "task/pod role)",
            url, rs.status);
        if (err && (rs.status >= 500 || rs.status == 429)) err->flags |= FL_ERR_RETRIABLE;
        goto done;
    }
    FL_TRY(fill_from_json(fl_buf_str(&body), "the container endpoint", out, err));
    copy_c(out->source, sizeof out->source, "container");
done:
    if (hdr.ptr) memset(hdr.ptr, 0, hdr.len); /* the token */
    fl_buf_reset(&body);
    fl_buf_reset(&tokbuf);
    fl_buf_reset(&hdr);
    return rc;
}

static fl_rc from_imds(aws_chain *c, aws_creds *out, fl_err *err)
{
    fl_rc rc = FL_OK;
    char base[512], url[AWS_MAX_URL], tokhdr[256] = "", role[256];
    fl_buf body;
    fl_buf_init(&body, AWS_MAX_CRED_RESPONSE);
    const char *ep = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *mode = env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
    if (ep)
        snprintf(base, sizeof base, "%s", ep);
    else if (mode && !strcasecmp(mode, "IPv6"))
        snprintf(base, sizeof base, "http://[fd00:ec2::254]");
    else
        snprintf(base, sizeof base, "http://169.254.169.254");
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        base[--bl] = 0;

    /* 1. session token (IMDSv2) */
    snprintf(url, sizeof url, "%s/latest/api/token", base);
    const char *h1[] = {"X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};
    aws_http_req rq = {.method = "PUT",
                       .url = url,
                       .headers = h1,
                       .out = &body,
                       .connect_timeout_ms = IMDS_CONNECT_MS,
                       .total_timeout_ms = IMDS_TOTAL_MS};
    aws_http_resp rs;
    if ((rc = cred_http(c, &rq, &rs, err)) != FL_OK) {
        fl_err_prefix(err, "aws IMDS (not running on EC2?): ");
        goto done;
    }
    if (rs.status == 200) {
        fl_str t = trim(fl_buf_str(&body));
        if (t.len == 0 || t.len > 200) FL_FAIL(FL_E_STORE_AUTH, "aws IMDS: bad session token from %s", base);
        snprintf(tokhdr, sizeof tokhdr, "X-aws-ec2-metadata-token: " FL_STR_FMT, FL_STR_ARG(t));
    } else if (rs.status != 404 && rs.status != 405) { /* 404/405: IMDSv1 only */
        FL_FAIL(FL_E_STORE_AUTH, "aws IMDS: token request to %s answered HTTP %ld", base, rs.status);
    }
    const char *h2[] = {tokhdr[0] ? tokhdr : NULL, NULL};

    /* 2. role name */
    fl_buf_clear(&body);
    snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/", base);
    aws_http_req rq2 = {.method = "GET",
                        .url = url,
                        .headers = h2,
                        .out = &body,
                        .connect_timeout_ms = IMDS_CONNECT_MS,
                        .total_timeout_ms = IMDS_TOTAL_MS};
    if ((rc = cred_http(c, &rq2, &rs, err)) != FL_OK) {
        fl_err_prefix(err, "aws IMDS: ");
        goto done;
    }
    if (rs.status != 200)
        FL_FAIL(FL_E_STORE_AUTH, "aws IMDS: no instance role (HTTP %ld from %s; attach an instance profile)",
                rs.status, url);
    fl_str r = trim(fl_buf_str(&body));
    const char *nl = memchr(r.ptr, '\n', r.len);
    if (nl) r.len = (size_t)(nl - r.ptr);
    r = trim(r);
    if (r.len == 0 || r.len >= sizeof role) FL_FAIL(FL_E_STORE_AUTH, "aws IMDS: bad role name from %s", url);
    memcpy(role, r.ptr, r.len);
    role[r.len] = 0;

    /* 3. credentials */
    fl_buf_clear(&body);
    fl_buf enc;
    fl_buf_init(&enc, 1024);
    aws_uri_encode(&enc, fl_str_c(role), false);
    snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/%s", base,
             enc.ptr ? enc.ptr : "");
    fl_buf_reset(&enc);
    aws_http_req rq3 = {.method = "GET",
                        .url = url,
                        .headers = h2,
                        .out = &body,
                        .connect_timeout_ms = IMDS_CONNECT_MS,
                        .total_timeout_ms = IMDS_TOTAL_MS};
    if ((rc = cred_http(c, &rq3, &rs, err)) != FL_OK) {
        fl_err_prefix(err, "aws IMDS: ");
        goto done;
    }
    if (rs.status != 200) FL_FAIL(FL_E_STORE_AUTH, "aws IMDS: HTTP %ld for role %s", rs.status, role);
    FL_TRY(fill_from_json(fl_buf_str(&body), "IMDS", out, err));
    copy_c(out->source, sizeof out->source, "imds");
done:
    fl_buf_reset(&body);
    return rc;
}

#define AWS_MAX_ROLE_CHAIN 4

static fl_rc from_profile(aws_chain *c, const shared_files *sf, const char *profile, int depth,
                          aws_creds *out, fl_err *err)
{
    char v[1024], arn[512], sess[128];
    char region[AWS_MAX_REGION] = "";
    if (!profile_get(sf, profile, "region", region, sizeof region) && c->region)
        copy_c(region, sizeof region, c->region);
    if (profile_get(sf, profile, "role_arn", arn, sizeof arn)) {
        /* role_arn wins over static keys in the same profile, as in the SDKs */
        if (depth >= AWS_MAX_ROLE_CHAIN)
            return fl_err_set(err, FL_E_CONFIG, "aws profile \"%s\": source_profile chain longer than %d",
                              profile, AWS_MAX_ROLE_CHAIN);
        if (!profile_get(sf, profile, "role_session_name", sess, sizeof sess)) sess[0] = 0;
        if (profile_get(sf, profile, "web_identity_token_file", v, sizeof v))
            return from_web_identity(c, v, arn, sess, region, out, err);
        if (profile_get(sf, profile, "mfa_serial", v, sizeof v))
            return fl_err_set(
                err, FL_E_UNSUPPORTED,
                "aws profile \"%s\": mfa_serial needs an interactive code; export temporary credentials",
                profile);
        aws_creds *src = fl_calloc(1, sizeof *src);
        if (!src) return fl_err_set(err, FL_E_NOMEM, "aws credentials: out of memory");
        char sp[128], ext[256], dur[16];
        fl_rc rc;
        if (profile_get(sf, profile, "source_profile", sp, sizeof sp)) {
            if (!profile_exists(sf, sp)) {
                rc = fl_err_set(err, FL_E_CONFIG, "aws profile \"%s\": source_profile \"%s\" not found",
                                profile, sp);
            } else if (!strcmp(sp, profile)) { /* a profile with its own keys as source */
                rc =
                    profile_get(sf, sp, "aws_access_key_id", src->akid, sizeof src->akid) &&
                            profile_get(sf, sp, "aws_secret_access_key", src->secret, sizeof src->secret)
                        ? FL_OK
                        : fl_err_set(err, FL_E_CONFIG,
                                     "aws profile \"%s\" is its own source_profile but has no keys", profile);
                if (!rc && !profile_get(sf, sp, "aws_session_token", src->token, sizeof src->token))
                    src->token[0] = 0;
                snprintf(src->source, sizeof src->source, "profile:%.20s", sp);
            } else {
                rc = from_profile(c, sf, sp, depth + 1, src, err);
                if (rc == FL_E_NOT_FOUND)
                    rc = fl_err_set(err, FL_E_CONFIG,
                                    "aws profile \"%s\": source_profile \"%s\" has no credentials", profile,
                                    sp);
            }
        } else if (profile_get(sf, profile, "credential_source", v, sizeof v)) {
            if (!strcmp(v, "Environment")) {
                const char *ak = env("AWS_ACCESS_KEY_ID"), *sk = env("AWS_SECRET_ACCESS_KEY"),
                           *st = env("AWS_SESSION_TOKEN");
                if (ak && sk && strlen(ak) <= AWS_MAX_AKID && strlen(sk) <= AWS_MAX_SECRET &&
                    (!st || strlen(st) <= AWS_MAX_TOKEN)) {
                    copy_c(src->akid, sizeof src->akid, ak);
                    copy_c(src->secret, sizeof src->secret, sk);
                    if (st) copy_c(src->token, sizeof src->token, st);
                    copy_c(src->source, sizeof src->source, "env");
                    rc = FL_OK;
                } else {
                    rc = fl_err_set(
                        err, FL_E_CONFIG,
                        "aws profile \"%s\": credential_source Environment but AWS_ACCESS_KEY_ID / "
                        "AWS_SECRET_ACCESS_KEY are not set",
                        profile);
                }
            } else if (!strcmp(v, "EcsContainer")) {
                rc = from_container(c, src, err);
            } else if (!strcmp(v, "Ec2InstanceMetadata")) {
                rc = from_imds(c, src, err);
            } else {
                rc = fl_err_set(err, FL_E_CONFIG, "aws profile \"%s\": unknown credential_source \"%s\"",
                                profile, v);
            }
        } else {
            rc =
                fl_err_set(err, FL_E_CONFIG,
                           "aws profile \"%s\": role_arn needs source_profile or credential_source", profile);
        }
        if (!rc) {
            if (!profile_get(sf, profile, "external_id", ext, sizeof ext)) ext[0] = 0;
            if (!profile_get(sf, profile, "duration_seconds", dur, sizeof dur)) dur[0] = 0;
            rc = assume_role(c, src, profile, arn, sess, ext, dur, region, out, err);
        }
        memset(src, 0, sizeof *src);
        fl_free(src);
        return rc;
    }
    if (profile_get(sf, profile, "aws_access_key_id", out->akid, sizeof out->akid)) {
        if (!profile_get(sf, profile, "aws_secret_access_key", out->secret, sizeof out->secret))
            return fl_err_set(err, FL_E_STORE_AUTH,
                              "aws profile \"%s\" has aws_access_key_id but no aws_secret_access_key (%s)",
                              profile, sf->cred_path);
        if (!profile_get(sf, profile, "aws_session_token", out->token, sizeof out->token)) out->token[0] = 0;
        snprintf(out->source, sizeof out->source, "profile:%.20s", profile);
        return FL_OK;
    }
    if (profile_get(sf, profile, "web_identity_token_file", v, sizeof v))
        return fl_err_set(err, FL_E_STORE_AUTH,
                          "aws profile \"%s\": web_identity_token_file without role_arn", profile);
    if (profile_get(sf, profile, "credential_process", v, sizeof v))
        return fl_err_set(err, FL_E_UNSUPPORTED,
                          "aws profile \"%s\": credential_process is not supported by fhirlake; export the "
                          "credentials to the environment instead",
                          profile);
    if (profile_get(sf, profile, "sso_session", v, sizeof v) ||
        profile_get(sf, profile, "sso_start_url", v, sizeof v))
        return fl_err_set(
            err, FL_E_UNSUPPORTED,
            "aws profile \"%s\": SSO profiles are not supported; run `aws configure export-credentials`",
            profile);
    return FL_E_NOT_FOUND; /* profile has no credentials: next source */
}

/* Walk the chain once. */
static fl_rc resolve(aws_chain *c, aws_creds *out, fl_err *err)
{
    fl_rc rc = FL_OK;
    memset(out, 0, sizeof *out);

    if (c->prov.fn) {
        rc = c->prov.fn(c->prov.ctx, out, err);
        if (rc) {
            fl_err_prefix(err, "aws credential provider: ");
            return err && err->code ? err->code : rc;
        }
        if (!out->akid[0] || !out->secret[0])
            return fl_err_set(err, FL_E_STORE_AUTH,
                              "aws credential provider returned no access key id or secret");
        out->akid[AWS_MAX_AKID] = out->secret[AWS_MAX_SECRET] = out->token[AWS_MAX_TOKEN] = 0;
        if (!out->source[0]) copy_c(out->source, sizeof out->source, "provider");
        return FL_OK;
    }
    if (c->akid || c->secret) {
        if (!c->akid || !c->secret)
            return fl_err_set(err, FL_E_CONFIG,
                              "aws credentials: set both awsAccessKeyId and awsSecretAccessKey");
        if (strlen(c->akid) > AWS_MAX_AKID || strlen(c->secret) > AWS_MAX_SECRET ||
            (c->token && strlen(c->token) > AWS_MAX_TOKEN))
            return fl_err_set(err, FL_E_LIMIT, "aws credentials: explicit key or token too long");
        copy_c(out->akid, sizeof out->akid, c->akid);
        copy_c(out->secret, sizeof out->secret, c->secret);
        if (c->token) copy_c(out->token, sizeof out->token, c->token);
        copy_c(out->source, sizeof out->source, "options");
        return FL_OK;
    }
    /* an explicitly configured profile (option, not AWS_PROFILE) negates the environment
     * keys, as in botocore; AWS_PROFILE alone does not */
    const char *ak = c->profile ? NULL : env("AWS_ACCESS_KEY_ID");
    const char *sk = c->profile ? NULL : env("AWS_SECRET_ACCESS_KEY");
    if (ak || sk) {
        if (!ak || !sk)
            return fl_err_set(err, FL_E_STORE_AUTH, "aws credentials: %s is set but %s is not",
                              ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                              ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
        const char *st = env("AWS_SESSION_TOKEN");
        if (strlen(ak) > AWS_MAX_AKID || strlen(sk) > AWS_MAX_SECRET || (st && strlen(st) > AWS_MAX_TOKEN))
            return fl_err_set(err, FL_E_LIMIT, "aws credentials: environment key or token too long");
        copy_c(out->akid, sizeof out->akid, ak);
        copy_c(out->secret, sizeof out->secret, sk);
        if (st) copy_c(out->token, sizeof out->token, st);
        copy_c(out->source, sizeof out->source, "env");
        return FL_OK;
    }

    shared_files sf;
    const char *profile = c->profile ? c->profile : env("AWS_PROFILE");
    bool explicit_profile = profile != NULL;
    if (!profile) profile = "default";
    if ((rc = shared_load(&sf, err)) != FL_OK) goto done_sf;
    if (profile_exists(&sf, profile)) {
        rc = from_profile(c, &sf, profile, 0, out, err);
        if (rc != FL_E_NOT_FOUND) goto done_sf;
        rc = FL_OK;
    } else if (explicit_profile) {
        rc = fl_err_set(err, FL_E_CONFIG, "aws profile \"%s\" not found in %s or %s", profile,
                        sf.cred_path[0] ? sf.cred_path : "(no credentials file)",
                        sf.conf_path[0] ? sf.conf_path : "(no config file)");
        goto done_sf;
    }
    shared_free(&sf);

    const char *wif = env("AWS_WEB_IDENTITY_TOKEN_FILE"), *arn = env("AWS_ROLE_ARN");
    if (wif && arn) {
        char region[AWS_MAX_REGION] = "";
        if (!aws_region_resolve(c->region, c->profile, region)) region[0] = 0;
        return from_web_identity(c, wif, arn, env("AWS_ROLE_SESSION_NAME"), region, out, err);
    }
    if (env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") || env("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
        return from_container(c, out, err);
    const char *dis = env("AWS_EC2_METADATA_DISABLED");
    if (dis && !strcasecmp(dis, "true"))
        return fl_err_set(err, FL_E_STORE_AUTH,
                          "no AWS credentials found: tried options (awsAccessKeyId), environment "
                          "(AWS_ACCESS_KEY_ID), shared files (profile \"%s\"), web identity, container; EC2 "
                          "metadata is disabled (AWS_EC2_METADATA_DISABLED)",
                          profile);
    rc = from_imds(c, out, err);
    if (rc && err) {
        err->flags &= ~FL_ERR_RETRIABLE; /* "not on EC2" is not worth retrying */
        fl_err_prefix(
            err,
            "no AWS credentials found: tried options, environment (AWS_ACCESS_KEY_ID), shared files "
            "(profile \"%s\"), web identity, container; last: ",
            profile);
        err->code = FL_E_STORE_AUTH;
        rc = FL_E_STORE_AUTH;
    }
    return rc;
done_sf:
    shared_free(&sf);
    return rc;
}

/* ------------------------------------------------------------------ chain */

fl_rc aws_chain_new(const aws_chain_cfg *cfg, aws_chain **out, fl_err *err)
{
    aws_chain *c = fl_calloc(1, sizeof *c);
    if (!c) return fl_err_set(err, FL_E_NOMEM, "aws credentials: out of memory");
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        fl_free(c);
        return fl_err_set(err, FL_E_INTERNAL, "aws credentials: cannot create a mutex");
    }
    aws_chain_cfg z;
    if (!cfg) {
        memset(&z, 0, sizeof z);
        cfg = &z;
    }
    c->akid = dup_or_null(cfg->access_key_id);
    c->secret = dup_or_null(cfg->secret_access_key);
    c->token = dup_or_null(cfg->session_token);
    c->profile = dup_or_null(cfg->profile);
    c->region = dup_or_null(cfg->region);
    c->log = cfg->log;
    if ((cfg->access_key_id && cfg->access_key_id[0] && !c->akid) ||
        (cfg->secret_access_key && cfg->secret_access_key[0] && !c->secret) ||
        (cfg->session_token && cfg->session_token[0] && !c->token) ||
        (cfg->profile && cfg->profile[0] && !c->profile) || (cfg->region && cfg->region[0] && !c->region)) {
        aws_chain_free(c);
        return fl_err_set(err, FL_E_NOMEM, "aws credentials: out of memory");
    }
    *out = c;
    return FL_OK;
}

static void wipe_free(char *s)
{
    if (!s) return;
    memset(s, 0, strlen(s));
    fl_free(s);
}

void aws_chain_free(aws_chain *c)
{
    if (!c) return;
    wipe_free(c->akid);
    wipe_free(c->secret);
    wipe_free(c->token);
    fl_free(c->profile);
    fl_free(c->region);
    if (c->h) curl_easy_cleanup(c->h);
    memset(&c->cur, 0, sizeof c->cur);
    pthread_mutex_destroy(&c->mu);
    fl_free(c);
}

void aws_chain_set_provider(aws_chain *c, const store_s3_provider *p)
{
    pthread_mutex_lock(&c->mu);
    c->prov = p ? *p : (store_s3_provider){NULL, NULL};
    c->have = false;
    pthread_mutex_unlock(&c->mu);
}

static bool fresh(const aws_creds *cr, int64_t now_ms)
{
    return cr->expires_ms == 0 || now_ms < cr->expires_ms - CREDS_REFRESH_MARGIN_MS;
}

fl_rc aws_chain_get(aws_chain *c, aws_creds *out, fl_err *err)
{
    fl_rc rc = FL_OK;
    int64_t now = fl_clock_now_us() / 1000;
    pthread_mutex_lock(&c->mu);
    if (c->have && fresh(&c->cur, now)) {
        *out = c->cur;
        goto done;
    }
    aws_creds *fresh_cr = fl_malloc(sizeof *fresh_cr);
    if (!fresh_cr) FL_FAIL(FL_E_NOMEM, "aws credentials: out of memory");
    rc = resolve(c, fresh_cr, err);
    if (rc == FL_OK) {
        c->cur = *fresh_cr;
        c->have = true;
        *out = c->cur;
        fl_log(c->log, FL_LOG_INFO, "aws credentials from %s (key id %s)%s", c->cur.source, c->cur.akid,
               c->cur.expires_ms ? ", temporary" : "");
    } else if (c->have && now < c->cur.expires_ms) {
        /* refresh failed but the old ones are still valid: use them, try again next time */
        fl_log(c->log, FL_LOG_WARN,
               "aws credential refresh failed (%s); using the current ones until they expire",
               err ? err->msg : fl_rc_str(rc));
        *out = c->cur;
        rc = FL_OK;
        if (err) fl_err_clear(err);
    }
    memset(fresh_cr, 0, sizeof *fresh_cr);
    fl_free(fresh_cr);
done:
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void aws_chain_invalidate(aws_chain *c)
{
    pthread_mutex_lock(&c->mu);
    c->have = false;
    pthread_mutex_unlock(&c->mu);
}

bool aws_chain_region(aws_chain *c, char *out)
{
    return aws_region_resolve(c->region, c->profile, out);
}
