/* store_s3.h - S3 driver extras for other modules (module store).
 * The S3 driver is reached through fl_store_open("s3://bucket/prefix", ...); this header
 * only adds what a string option cannot carry: a credential provider callback, so that a
 * module that obtains temporary credentials elsewhere (Unity Catalog credential vending,
 * an embedder's own secret store) can hand them to an open S3 store.
 * Thread safety: the provider is called under the store's credential lock, from whatever
 * thread needs credentials; it must be reentrant with respect to its own ctx. */
#ifndef FL_STORE_S3_H
#define FL_STORE_S3_H

#include "fhirlake/store.h"

#define AWS_MAX_AKID 128u
#define AWS_MAX_SECRET 128u
#define AWS_MAX_TOKEN 8192u

/* One set of AWS credentials. Fixed-size so filling it never allocates. */
typedef struct aws_creds {
    char akid[AWS_MAX_AKID + 1];     /* access key id (not secret; may be logged) */
    char secret[AWS_MAX_SECRET + 1]; /* SECRET: never log or put in an error message */
    char token[AWS_MAX_TOKEN + 1];   /* SECRET: session token, "" for long-term keys */
    int64_t expires_ms;              /* ms since the epoch; 0 = does not expire */
    char source[32];                 /* where they came from ("env", "profile:x", "imds", ...) */
} aws_creds;

/* Fill *out with credentials; return FL_OK, or an error (filled into err) which the S3
 * driver reports as an authentication failure. expires_ms lets the driver ask again about
 * 5 minutes before expiry. Called with out zeroed. */
typedef fl_rc (*store_s3_provider_fn)(void *ctx, aws_creds *out, fl_err *err);

typedef struct store_s3_provider {
    store_s3_provider_fn fn;
    void *ctx; /* borrowed; must outlive the store */
} store_s3_provider;

/* Make st (an open "s3" store) take its credentials from p before any other source of the
 * chain. p is copied. FL_E_ARG when st is not an S3 store. Call before sharing st between
 * threads or at any time (thread-safe). */
fl_rc store_s3_set_provider(fl_store *st, const store_s3_provider *p, fl_err *err);

/* The S3 driver table (registered for "s3", "s3a" in store_registry.c). */
extern const fl_store_driver store_s3_drv;

#endif
