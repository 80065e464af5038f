/* s3_int.h - private declarations of the S3 driver and its AWS helpers (module store).
 * Shared by aws_sigv4.c (request signing), aws_creds.c (credential chain), aws_http.c
 * (one libcurl request with bounded response capture), aws_scan.c (small bounded XML and
 * JSON scanners) and store_s3.c (the fl_store driver). Nothing outside src/store includes
 * this file; other modules reach S3 through fl_store_open("s3://...") and, for vended
 * credentials, through store_s3.h. Secrets (secret key, session token) must never be
 * copied into an fl_err message or a log line by any function declared here. */
#ifndef FL_S3_INT_H
#define FL_S3_INT_H

#include "store/store_int.h"
#include "store/store_s3.h"

#include <curl/curl.h>

/* ---------------------------------------------------------------- limits */

#define AWS_MAX_REGION 64u                /* region name ("eu-west-1") */
#define AWS_MAX_HOST 512u                 /* Host header incl. port */
#define AWS_MAX_URL 8192u                 /* whole request URL */
#define AWS_MAX_PROFILE_FILE (1u << 20)   /* ~/.aws/credentials or config */
#define AWS_MAX_TOKEN_FILE (64u << 10)    /* web identity token / container auth token file */
#define AWS_MAX_CRED_RESPONSE (64u << 10) /* IMDS, container or STS response body */
#define S3_MAX_XML_RESPONSE (16u << 20)   /* ListObjectsV2 page, DeleteObjects result */
#define S3_MAX_ERROR_BODY (64u << 10)     /* error XML kept for the message */
#define S3_MAX_PARTS 10000u               /* S3 multipart limit */
#define S3_MIN_PART_SIZE ((size_t)5 << 20)
#define S3_MAX_PART_SIZE ((size_t)5 << 30)
#define S3_DEFAULT_PART_SIZE ((size_t)8 << 20)
#define S3_MAX_DELETE_BATCH 1000u
#define S3_MAX_IDLE_HANDLES 16u /* cached curl handles (one per concurrent request) */

/* ---------------------------------------------------------------- small helpers (aws_sigv4.c) */

typedef struct aws_kv {
    fl_str name, value;
} aws_kv;

/* Percent-encode s into b the SigV4 way: bytes outside A-Za-z0-9-_.~ become %XX (upper-case
 * hex); '/' is kept when keep_slash (S3 object paths), encoded otherwise (query parts). */
fl_rc aws_uri_encode(fl_buf *b, fl_str s, bool keep_slash);
/* Lower-case hex SHA-256 of data into out[65]. */
void aws_sha256_hex(const void *data, size_t len, char out[65]);
/* Base64 of the MD5 of data into out[25] (Content-MD5 header value). */
void aws_md5_base64(const void *data, size_t len, char out[25]);
/* "20240102T030405Z" for unix seconds t into out[17]. */
void aws_amz_date(int64_t t, char out[17]);
/* Parse ISO-8601 / RFC 3339 UTC ("2024-01-02T03:04:05Z", fraction and offset allowed)
 * into ms since the epoch; false on junk. */
bool aws_parse_iso8601(fl_str s, int64_t *ms_out);

#define AWS_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define AWS_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

/* ---------------------------------------------------------------- SigV4 (aws_sigv4.c) */

typedef struct aws_sigv4_in {
    const char *method;  /* "GET", "PUT", ... */
    fl_str host;         /* Host header value as sent (with ":port" when not default) */
    fl_str path;         /* raw, NOT encoded, starting with '/' ("/bucket/a b.json") */
    const aws_kv *query; /* raw names and values (encoded by the signer); may be NULL */
    size_t nquery;
    const aws_kv *headers; /* extra headers to sign (any case); may be NULL */
    size_t nheaders;
    fl_str payload_hash;    /* hex SHA-256 of the body, or AWS_UNSIGNED_PAYLOAD */
    fl_str region, service; /* "eu-west-1", "s3" */
    int64_t time_s;         /* request time, unix seconds */
} aws_sigv4_in;

/* Sign a request with SigV4 (header form). The signer itself signs host, x-amz-date,
 * x-amz-content-sha256 and, when cr has a session token, x-amz-security-token; the caller
 * must send exactly those headers with these values plus every header in in->headers.
 * Writes x-amz-date into amz_date and appends the Authorization header VALUE to auth
 * (caller-initialised). canon (optional, for tests and debug) receives the canonical
 * request. Nothing is retained; cr is read only. */
fl_rc aws_sigv4_sign(const aws_sigv4_in *in, const aws_creds *cr, char amz_date[17], fl_buf *auth,
                     fl_buf *canon, fl_err *err);

/* ---------------------------------------------------------------- HTTP (aws_http.c) */

typedef struct aws_http_req {
    const char *method;         /* "GET", "HEAD", "PUT", "POST", "DELETE" */
    const char *url;            /* full URL, already percent-encoded */
    const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
    const void *body;           /* request body (borrowed) or NULL */
    size_t body_len;
    fl_buf *out;             /* 2xx body is appended here (its limit applies); NULL = drop */
    fl_buf *errbody;         /* non-2xx body (first S3_MAX_ERROR_BODY bytes); NULL = drop */
    long connect_timeout_ms; /* 0 = 5000 */
    long low_speed_time_s;   /* abort when < 1 byte/s for this long; 0 = 60 */
    long total_timeout_ms;   /* 0 = none */
    bool fresh_connect;      /* new connection: libcurl silently resends a request whose
                                reused connection died, which hides from the caller that a
                                non-idempotent request may have landed */
} aws_http_req;

typedef struct aws_http_resp {
    long status; /* HTTP status of the final response */
    bool has_length;
    uint64_t content_length; /* Content-Length header */
    bool has_range;
    uint64_t range_total;               /* total size from Content-Range: bytes a-b/total */
    int64_t mtime_ms;                   /* Last-Modified, 0 if absent */
    char etag[72];                      /* ETag header as sent (with quotes) */
    char request_id[64];                /* x-amz-request-id */
    char bucket_region[AWS_MAX_REGION]; /* x-amz-bucket-region */
} aws_http_resp;

/* Perform one request on handle h (reset first; its connection cache is kept). Transport
 * failures return FL_E_NET or FL_E_TIMEOUT marked retriable; any HTTP status returns
 * FL_OK with rs->status set (the caller maps statuses). If out's limit is reached the
 * transfer stops with FL_E_LIMIT. On failure out and errbody keep their original length. */
fl_rc aws_http_do(CURL *h, const aws_http_req *rq, aws_http_resp *rs, fl_err *err);

/* ---------------------------------------------------------------- scanners (aws_scan.c) */

/* Find the next element <tag>...</tag> (no attributes expected, but tolerated) in xml
 * starting at *pos; *inner receives the raw content and *pos moves past the end tag.
 * false when there is none. Bounded by xml.len; nesting of the same tag is not supported
 * (S3 responses never nest an element in itself). */
bool aws_xml_next(fl_str xml, size_t *pos, const char *tag, fl_str *inner);
/* Text of the first <tag> inside xml, entity-decoded into out (cleared first).
 * false if absent or not decodable within out's limit. */
bool aws_xml_text(fl_str xml, const char *tag, fl_buf *out);
/* Same into a fixed buffer (truncated to cap-1, NUL-terminated); false if absent. */
bool aws_xml_text_c(fl_str xml, const char *tag, char *out, size_t cap);
/* Append s to b with XML escaping (&, <, >, ", '). */
fl_rc aws_xml_escape(fl_buf *b, fl_str s);

/* Value of the string member "key" of the top-level JSON object json, unescaped into
 * out (cap bytes incl. NUL). false if absent, not a string, malformed or too long. */
bool aws_json_str(fl_str json, const char *key, char *out, size_t cap);

/* ---------------------------------------------------------------- credentials (aws_creds.c) */

typedef struct aws_chain aws_chain;

/* Explicit settings for the chain; every field may be NULL/empty. Strings are copied. */
typedef struct aws_chain_cfg {
    const char *access_key_id, *secret_access_key, *session_token; /* explicit keys */
    const char *profile;                                           /* overrides AWS_PROFILE */
    const char *region;   /* used for STS; overrides the environment */
    const fl_logger *log; /* borrowed */
} aws_chain_cfg;

/* Build a chain (no network yet: providers are tried on the first aws_chain_get).
 * The caller owns *out (aws_chain_free). */
fl_rc aws_chain_new(const aws_chain_cfg *cfg, aws_chain **out, fl_err *err);
void aws_chain_free(aws_chain *c);
/* Install a provider that is asked before every other source (vended credentials).
 * p is copied; p->ctx must outlive the chain. Thread-safe. */
void aws_chain_set_provider(aws_chain *c, const store_s3_provider *p);
/* Current credentials (copied into *out). Temporary credentials are refreshed when they
 * expire within 5 minutes; refreshes are serialised under the chain's lock. Thread-safe.
 * FL_E_STORE_AUTH with the list of sources tried when none yields credentials. */
fl_rc aws_chain_get(aws_chain *c, aws_creds *out, fl_err *err);
/* Forget cached credentials (after ExpiredToken); the next get refreshes. Thread-safe. */
void aws_chain_invalidate(aws_chain *c);
/* Region found while resolving (explicit, AWS_REGION, AWS_DEFAULT_REGION, profile);
 * copies into out[AWS_MAX_REGION] and returns false when none is configured. */
bool aws_chain_region(aws_chain *c, char *out);

/* Region from the environment and shared config alone (explicit value first); false
 * when none. out[AWS_MAX_REGION]. Used by the driver before any chain exists. */
bool aws_region_resolve(const char *explicit_region, const char *profile, char *out);

/* Read the value of `key` in section `profile` of an AWS ini file (config files name
 * sections "profile NAME" except "default"; is_config selects that rule). false if absent. */
bool aws_ini_get(fl_str text, const char *profile, bool is_config, const char *key, char *out, size_t cap);

#endif
