/* aws_sigv4.c - AWS Signature Version 4 for S3 requests, plus the small encoding helpers
 * the S3 driver shares with it (module store).
 * Builds the canonical request exactly as S3 expects it (path encoded once with '/'
 * kept, query sorted by encoded name then value, signed headers lower-case and sorted,
 * values trimmed with inner whitespace runs collapsed), derives the signing key with
 * OpenSSL HMAC-SHA256 and returns the Authorization value. Checked against botocore by
 * tests/unit/store/test_aws_sigv4.c with vectors from tests/interop/s3_sigv4_vectors.py.
 * Never copies the secret or the session token anywhere but the HMAC input and the
 * x-amz-security-token value the caller sends. */
#include "store/s3_int.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SIGV4_MAX_QUERY 64u   /* query parameters in one request */
#define SIGV4_MAX_HEADERS 40u /* signed headers in one request */
#define SIGV4_MAX_HNAME 128u  /* one header name */

static const char hexu[] = "0123456789ABCDEF";
static const char hexl[] = "0123456789abcdef";

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

fl_rc aws_uri_encode(fl_buf *b, fl_str s, bool keep_slash)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            fl_buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', hexu[c >> 4], hexu[c & 15]};
            fl_buf_append(b, e, 3);
        }
    }
    return b->rc;
}

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexl[d[i] >> 4];
        out[2 * i + 1] = hexl[d[i] & 15];
    }
    out[2 * n] = 0;
}

void aws_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)(data ? data : ""), len, md);
    to_hex(md, sizeof md, out);
}

void aws_md5_base64(const void *data, size_t len, char out[25])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data ? data : "", len, md, &mdlen, EVP_md5(), NULL) || mdlen != 16) {
        out[0] = 0; /* the server then rejects the request with a clear error */
        return;
    }
    EVP_EncodeBlock((unsigned char *)out, md, 16); /* 24 chars + NUL */
}

static void put2(char *p, int v)
{
    p[0] = (char)('0' + (v / 10) % 10);
    p[1] = (char)('0' + v % 10);
}

void aws_amz_date(int64_t t, char out[17])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) memset(&tm, 0, sizeof tm);
    int y = (tm.tm_year + 1900) % 10000;
    put2(out, y / 100);
    put2(out + 2, y % 100);
    put2(out + 4, tm.tm_mon + 1);
    put2(out + 6, tm.tm_mday);
    out[8] = 'T';
    put2(out + 9, tm.tm_hour);
    put2(out + 11, tm.tm_min);
    put2(out + 13, tm.tm_sec);
    out[15] = 'Z';
    out[16] = 0;
}

static bool digits(fl_str s, size_t off, size_t n, unsigned *out)
{
    unsigned v = 0;
    if (off + n > s.len) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s.ptr[off + i];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (unsigned)(c - '0');
    }
    *out = v;
    return true;
}

bool aws_parse_iso8601(fl_str s, int64_t *ms_out)
{
    unsigned y, mo, d, h, mi, sec, ms = 0;
    if (!digits(s, 0, 4, &y) || s.len < 19 || s.ptr[4] != '-' || !digits(s, 5, 2, &mo) || s.ptr[7] != '-' ||
        !digits(s, 8, 2, &d) || (s.ptr[10] != 'T' && s.ptr[10] != 't' && s.ptr[10] != ' ') ||
        !digits(s, 11, 2, &h) || s.ptr[13] != ':' || !digits(s, 14, 2, &mi) || s.ptr[16] != ':' ||
        !digits(s, 17, 2, &sec))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
    size_t i = 19;
    if (i < s.len && s.ptr[i] == '.') {
        unsigned scale = 100;
        for (i++; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9'; i++) {
            ms += (unsigned)(s.ptr[i] - '0') * scale;
            scale /= 10;
        }
    }
    int64_t off_s = 0;
    if (i < s.len && (s.ptr[i] == 'Z' || s.ptr[i] == 'z')) {
        i++;
    } else if (i < s.len && (s.ptr[i] == '+' || s.ptr[i] == '-')) {
        unsigned oh, om;
        if (!digits(s, i + 1, 2, &oh) || i + 3 >= s.len || s.ptr[i + 3] != ':' || !digits(s, i + 4, 2, &om))
            return false;
        off_s = (int64_t)(oh * 3600 + om * 60) * (s.ptr[i] == '-' ? -1 : 1);
        i += 6;
    }
    if (i != s.len) return false;
    int64_t days = fl_days_from_civil((int64_t)y, mo, d);
    int64_t t = days * 86400 + (int64_t)(h * 3600 + mi * 60 + sec) - off_s;
    *ms_out = t * 1000 + (int64_t)ms;
    return true;
}

/* ------------------------------------------------------------------ signing */

typedef struct sig_hdr {
    char name[SIGV4_MAX_HNAME];
    fl_str value;
} sig_hdr;

typedef struct sig_q {
    size_t name_off, name_len, val_off, val_len; /* in the encoded buffer */
} sig_q;

typedef struct sig_sort_ctx {
    const char *base;
} sig_sort_ctx;

static int cmp_hdr(const void *a, const void *b)
{
    return strcmp(((const sig_hdr *)a)->name, ((const sig_hdr *)b)->name);
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

/* qsort has no context argument; the encoded query buffer rides in front of each entry. */
typedef struct sig_qent {
    const char *base;
    sig_q q;
} sig_qent;

static int cmp_q(const void *a, const void *b)
{
    const sig_qent *x = a, *y = b;
    int c = cmp_bytes(x->base + x->q.name_off, x->q.name_len, y->base + y->q.name_off, y->q.name_len);
    if (c) return c;
    return cmp_bytes(x->base + x->q.val_off, x->q.val_len, y->base + y->q.val_off, y->q.val_len);
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Append value trimmed, with runs of whitespace collapsed to one space. */
static void put_trimmed(fl_buf *b, fl_str v)
{
    size_t i = 0;
    bool first = true;
    while (i < v.len) {
        while (i < v.len && is_ws(v.ptr[i]))
            i++;
        if (i >= v.len) break;
        size_t s = i;
        while (i < v.len && !is_ws(v.ptr[i]))
            i++;
        if (!first) fl_buf_putc(b, ' ');
        fl_buf_append(b, v.ptr + s, i - s);
        first = false;
    }
}

static bool hmac(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32])
{
    unsigned int olen = 0;
    if (klen > 0x7fffffff) return false;
    return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, out, &olen) && olen == 32;
}

/* The headers to sign: the caller's (lower-cased, the signer's own names dropped) plus
 * host, x-amz-content-sha256, x-amz-date and x-amz-security-token; sorted by name. */
static fl_rc sig_headers(const aws_sigv4_in *in, const aws_creds *cr, const char *amz_date, sig_hdr *hdrs,
                         size_t *nh_out, fl_err *err)
{
    size_t nh = 0;
    for (size_t i = 0; i < in->nheaders; i++) {
        fl_str n = in->headers[i].name;
        if (n.len == 0 || n.len >= SIGV4_MAX_HNAME)
            return fl_err_set(err, FL_E_ARG, "sigv4: bad header name length");
        for (size_t j = 0; j < n.len; j++) {
            char c = n.ptr[j];
            hdrs[nh].name[j] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        hdrs[nh].name[n.len] = 0;
        hdrs[nh].value = in->headers[i].value;
        if (!strcmp(hdrs[nh].name, "host") || !strcmp(hdrs[nh].name, "x-amz-date") ||
            !strcmp(hdrs[nh].name, "x-amz-content-sha256") ||
            !strcmp(hdrs[nh].name, "x-amz-security-token") || !strcmp(hdrs[nh].name, "authorization"))
            continue; /* the signer's own value wins */
        nh++;
    }
    memcpy(hdrs[nh].name, "host", sizeof "host");
    hdrs[nh++].value = in->host;
    memcpy(hdrs[nh].name, "x-amz-content-sha256", sizeof "x-amz-content-sha256");
    hdrs[nh++].value = in->payload_hash;
    memcpy(hdrs[nh].name, "x-amz-date", sizeof "x-amz-date");
    hdrs[nh++].value = fl_str_make(amz_date, 16);
    if (cr->token[0]) {
        memcpy(hdrs[nh].name, "x-amz-security-token", sizeof "x-amz-security-token");
        hdrs[nh++].value = fl_str_c(cr->token);
    }
    qsort(hdrs, nh, sizeof hdrs[0], cmp_hdr);
    *nh_out = nh;
    return FL_OK;
}

/* Append the canonical query string: each name and value encoded, sorted by encoded name
 * then encoded value. */
static fl_rc sig_query(const aws_sigv4_in *in, fl_buf *out, fl_err *err)
{
    fl_rc rc = FL_OK;
    sig_qent qs[SIGV4_MAX_QUERY];
    fl_buf qenc;
    fl_buf_init(&qenc, 1u << 20);
    for (size_t i = 0; i < in->nquery; i++) {
        sig_q *q = &qs[i].q;
        q->name_off = qenc.len;
        aws_uri_encode(&qenc, in->query[i].name, false);
        q->name_len = qenc.len - q->name_off;
        q->val_off = qenc.len;
        aws_uri_encode(&qenc, in->query[i].value, false);
        q->val_len = qenc.len - q->val_off;
    }
    if (qenc.rc) FL_FAIL(qenc.rc, "sigv4: query string too long");
    for (size_t i = 0; i < in->nquery; i++)
        qs[i].base = qenc.ptr;
    if (in->nquery) qsort(qs, in->nquery, sizeof qs[0], cmp_q);
    for (size_t i = 0; i < in->nquery; i++) {
        if (i) fl_buf_putc(out, '&');
        fl_buf_append(out, qenc.ptr + qs[i].q.name_off, qs[i].q.name_len);
        fl_buf_putc(out, '=');
        fl_buf_append(out, qenc.ptr + qs[i].q.val_off, qs[i].q.val_len);
    }
done:
    fl_buf_reset(&qenc);
    return rc;
}

/* Signature hex of sts with the key derived from secret, date, region and service. */
static bool sig_compute(const aws_creds *cr, const char *date8, const aws_sigv4_in *in, const char *sts,
                        size_t stslen, char sig[65])
{
    unsigned char k[32], k2[32];
    char kbuf[AWS_MAX_SECRET + 8];
    size_t slen = strlen(cr->secret);
    memcpy(kbuf, "AWS4", 4);
    memcpy(kbuf + 4, cr->secret, slen);
    bool ok = hmac(kbuf, 4 + slen, date8, 8, k) && hmac(k, 32, in->region.ptr, in->region.len, k2) &&
              hmac(k2, 32, in->service.ptr, in->service.len, k) && hmac(k, 32, "aws4_request", 12, k2) &&
              hmac(k2, 32, sts, stslen, k);
    memset(kbuf, 0, sizeof kbuf);
    if (ok) to_hex(k, 32, sig);
    memset(k, 0, sizeof k);
    memset(k2, 0, sizeof k2);
    return ok;
}

fl_rc aws_sigv4_sign(const aws_sigv4_in *in, const aws_creds *cr, char amz_date[17], fl_buf *auth,
                     fl_buf *canon, fl_err *err)
{
    fl_rc rc = FL_OK;
    fl_buf cr_buf;
    fl_buf_init(&cr_buf, 1u << 20);
    sig_hdr hdrs[SIGV4_MAX_HEADERS];
    size_t nh = 0;
    char date8[9];

    if (in->nquery > SIGV4_MAX_QUERY)
        FL_FAIL(FL_E_LIMIT, "sigv4: more than %u query parameters", SIGV4_MAX_QUERY);
    if (in->nheaders + 4 > SIGV4_MAX_HEADERS)
        FL_FAIL(FL_E_LIMIT, "sigv4: more than %u headers to sign", SIGV4_MAX_HEADERS - 4);
    if (!cr->akid[0] || !cr->secret[0]) FL_FAIL(FL_E_STORE_AUTH, "sigv4: no access key id or secret");
    if (in->path.len == 0 || in->path.ptr[0] != '/') FL_FAIL(FL_E_ARG, "sigv4: path must start with '/'");
    aws_amz_date(in->time_s, amz_date);
    memcpy(date8, amz_date, 8);
    date8[8] = 0;
    FL_TRY(sig_headers(in, cr, amz_date, hdrs, &nh, err));

    /* canonical request: method, path, query, headers, signed headers, payload hash */
    fl_buf_append_c(&cr_buf, in->method);
    fl_buf_putc(&cr_buf, '\n');
    aws_uri_encode(&cr_buf, in->path, true);
    fl_buf_putc(&cr_buf, '\n');
    FL_TRY(sig_query(in, &cr_buf, err));
    fl_buf_putc(&cr_buf, '\n');
    for (size_t i = 0; i < nh; i++) {
        if (i > 0 && !strcmp(hdrs[i].name, hdrs[i - 1].name)) {
            /* repeated header: values joined with ',' on one line */
            cr_buf.len--; /* drop the '\n' */
            fl_buf_putc(&cr_buf, ',');
        } else {
            fl_buf_append_c(&cr_buf, hdrs[i].name);
            fl_buf_putc(&cr_buf, ':');
        }
        put_trimmed(&cr_buf, hdrs[i].value);
        fl_buf_putc(&cr_buf, '\n');
    }
    fl_buf_putc(&cr_buf, '\n');
    size_t signed_off = cr_buf.len;
    for (size_t i = 0; i < nh; i++) {
        if (i > 0 && !strcmp(hdrs[i].name, hdrs[i - 1].name)) continue;
        if (cr_buf.len > signed_off) fl_buf_putc(&cr_buf, ';');
        fl_buf_append_c(&cr_buf, hdrs[i].name);
    }
    size_t signed_end = cr_buf.len;
    fl_buf_putc(&cr_buf, '\n');
    fl_buf_append_str(&cr_buf, in->payload_hash);
    if (cr_buf.rc) FL_FAIL(cr_buf.rc, "sigv4: canonical request too long");
    if (canon) {
        fl_buf_append(canon, cr_buf.ptr, cr_buf.len);
        if (canon->rc) FL_FAIL(canon->rc, "sigv4: canonical request does not fit the caller's buffer");
    }

    /* string to sign, signature, header */
    char crhash[65], sts[512], sig[65];
    aws_sha256_hex(cr_buf.ptr, cr_buf.len, crhash);
    int stslen =
        snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s/" FL_STR_FMT "/" FL_STR_FMT "/aws4_request\n%s",
                 amz_date, date8, FL_STR_ARG(in->region), FL_STR_ARG(in->service), crhash);
    if (stslen < 0 || (size_t)stslen >= sizeof sts)
        FL_FAIL(FL_E_LIMIT, "sigv4: region or service name too long");
    if (!sig_compute(cr, date8, in, sts, (size_t)stslen, sig))
        FL_FAIL(FL_E_INTERNAL, "sigv4: HMAC-SHA256 failed in OpenSSL");
    fl_buf_printf(
        auth, "AWS4-HMAC-SHA256 Credential=%s/%s/" FL_STR_FMT "/" FL_STR_FMT "/aws4_request, SignedHeaders=",
        cr->akid, date8, FL_STR_ARG(in->region), FL_STR_ARG(in->service));
    fl_buf_append(auth, cr_buf.ptr + signed_off, signed_end - signed_off);
    fl_buf_printf(auth, ", Signature=%s", sig);
    if (auth->rc) FL_FAIL(auth->rc, "sigv4: authorization header does not fit");
done:
    fl_buf_reset(&cr_buf);
    return rc;
}
