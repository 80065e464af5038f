/* fhirlake/server.h - the FHIR R4 JSON REST server behind `fhirlake serve` (module server).
 *
 * fl_server_new() validates the configuration, loads the auth file and opens the resource
 * store (fhirdb.h); fl_server_start() binds the socket and serves from a thread pool
 * (libmicrohttpd); fl_server_stop() stops accepting and waits for in-flight requests.
 * The program owns signals: call fl_server_stop() from the main thread after SIGINT/SIGTERM.
 * fl_server_handle() runs one request without a socket (tests, fuzzing).
 * Design notes: docs/internals/SERVER.md. */
#ifndef FHIRLAKE_SERVER_H
#define FHIRLAKE_SERVER_H

#include "fhirlake/base.h"
#include "fhirlake/fhirdb.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_server fl_server;

/* Named limits. */
#define FL_SERVER_DEFAULT_MAX_BODY (16u << 20) /* request body bytes (--max-body-mb) */
#define FL_SERVER_MAX_HEADER_BYTES (32u << 10) /* request header names + values; over it: 431 */
#define FL_SERVER_MAX_TARGET 8192              /* request-target (path + query) bytes */
#define FL_SERVER_MAX_QUERY_PARAMS 64          /* query parameters per request */
#define FL_SERVER_MAX_HEADERS 100              /* request headers; more: 431 */
/* libmicrohttpd's per-connection memory (request line, headers, read buffer). Twice the
 * header limit so that the router, not libmicrohttpd, answers an oversized header block
 * (431 OperationOutcome); a block over this pool still gets libmicrohttpd's own HTML 431.
 * libmicrohttpd zeroes the pool after every request, so it is kept small (64 KiB). */
#define FL_SERVER_CONN_MEMORY (2u * FL_SERVER_MAX_HEADER_BYTES)
#define FL_SERVER_MAX_BUNDLE_ENTRIES 1000      /* entries in a transaction/batch Bundle */
#define FL_SERVER_MAX_RESP_HEADERS 8
#define FL_SERVER_MAX_JSON_DEPTH 128           /* nesting of a request body */
#define FL_SERVER_MAX_AUTH_FILE (1u << 20)     /* bytes of --auth-file */
#define FL_SERVER_MAX_REQUEST_MEMORY (768u << 20) /* scratch arena of one request */
#define FL_SERVER_MAX_CORRELATION_ID 256       /* bytes of an X-Topic-Correlation-Id header */

typedef enum fl_server_auth {
    FL_SERVER_AUTH_NONE = 0,
    FL_SERVER_AUTH_BASIC,  /* auth file: one "user:password" per line */
    FL_SERVER_AUTH_BEARER, /* auth file: one token per line */
} fl_server_auth;

typedef struct fl_server_opts {
    const char *listen;    /* "HOST:PORT" ("[::1]:8080" for IPv6); port 0 = any free port;
                              default "127.0.0.1:8080" */
    const char *db_url;    /* default "sqlite:./data/fhirlake.db" (see fhirdb.h) */
    const char *base;      /* FHIR base path, default "/fhir" */
    fl_server_auth auth;
    const char *auth_file; /* required for basic/bearer */
    size_t max_body;       /* bytes; 0 = FL_SERVER_DEFAULT_MAX_BODY */
    bool insecure;         /* allow a non-loopback listen address without auth */
    unsigned threads;      /* worker threads; 0 = max(2, CPUs) */
    fl_logger log;         /* request and error log; fn NULL = silent */
    fl_fhirdb_hook_fn hook; /* optional: called inside every write transaction (fhirdb.h);
                               topic destinations plug in here */
    void *hook_ctx;
} fl_server_opts;

FL_API void fl_server_opts_default(fl_server_opts *o);

/* Validate opts (FL_E_CONFIG: bad listen address, missing auth file, or a non-loopback
 * address without auth and without `insecure`), load credentials, open the store.
 * Strings in opts are copied. The caller owns *out (fl_server_free). */
FL_API fl_rc fl_server_new(const fl_server_opts *opts, fl_server **out, fl_err *err);
/* Bind and serve in background threads. FL_E_NET if the address cannot be bound. */
FL_API fl_rc fl_server_start(fl_server *srv, fl_err *err);
/* The bound port (useful with port 0); 0 before start. */
FL_API uint16_t fl_server_port(const fl_server *srv);
/* Stop accepting, finish in-flight requests, join the threads. Idempotent. */
FL_API void fl_server_stop(fl_server *srv);
/* Stop if running, close the store, free everything. NULL is fine. */
FL_API void fl_server_free(fl_server *srv);
/* The server's store (borrowed; valid until fl_server_free). */
FL_API fl_fhirdb *fl_server_get_db(fl_server *srv);

/* ------------------------------------------------------------------ socket-free entry */

typedef struct fl_server_hdr {
    fl_str name, value;
} fl_server_hdr;

/* One HTTP request as the transport saw it. All slices are borrowed for the call. */
typedef struct fl_server_req {
    fl_str method;                /* "GET", "POST", ... */
    fl_str target;                /* raw request-target: "/fhir/Patient?_id=a%2Cb" */
    const fl_server_hdr *headers; /* names compared case-insensitively */
    size_t nheaders;
    fl_str body;
    bool body_too_large;          /* the transport dropped a body over max_body */
    size_t header_bytes;          /* total bytes of header names + values the transport saw
                                     (0 = sum headers[]); > FL_SERVER_MAX_HEADER_BYTES: 431 */
    size_t header_count;          /* headers the transport saw (0 = nheaders); more than
                                     FL_SERVER_MAX_HEADERS: 431 */
} fl_server_req;

typedef struct fl_server_resp {
    int status;
    fl_buf body; /* initialised by fl_server_handle; the caller frees it (fl_buf_reset) */
    fl_server_hdr headers[FL_SERVER_MAX_RESP_HEADERS]; /* values live in the call's arena */
    size_t nheaders;
} fl_server_resp;

/* Route and execute one request. Scratch memory and header values come from `a` (reset it
 * after sending the response). Never fails: errors become OperationOutcome responses.
 * Thread-safe: many threads may call it at once (each with its own arena and resp). */
FL_API void fl_server_handle(fl_server *srv, const fl_server_req *req, fl_arena *a,
                             fl_server_resp *resp);

#ifdef __cplusplus
}
#endif
#endif
