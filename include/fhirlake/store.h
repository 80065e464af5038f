/* fhirlake/store.h - one object-store interface for every backend (module store).
 *
 * A store is opened on a root URL (a table directory, a bucket prefix) and addresses
 * objects by KEY: a '/'-separated path relative to that root ("_delta_log/0...0.json").
 * Keys never start with '/', never contain "." or ".." segments or empty segments.
 * Backends plug in through a driver vtable (fl_store_driver): "file" (local POSIX
 * directories, built in), and "s3", "gs", "az" registered in src/store/store_registry.c.
 * Callers (delta, engine) only see fl_store and never the driver.
 *
 * Semantics every driver provides (object-store semantics, also for local files):
 *  - put replaces atomically: readers see the old object or the new one, never a torn one;
 *  - put with FL_STORE_IF_ABSENT fails with FL_E_EXISTS if the key exists, atomically
 *    with respect to other writers (this is what makes Delta commits safe);
 *  - list is recursive under a prefix, sorted bytewise by key, resumable (start_after);
 *  - delete of a missing key succeeds.
 * Transient failures are retried with exponential backoff and full jitter in one place
 * (store_retry.c), classified by fl_err_is_retriable().
 * Thread safety: one fl_store may be used from several threads at once (drivers are
 * reentrant); an fl_store_writer belongs to one thread. */
#ifndef FHIRLAKE_STORE_H
#define FHIRLAKE_STORE_H

#include "fhirlake/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_store fl_store;
typedef struct fl_store_writer fl_store_writer;

/* Longest key accepted (bytes). */
#define FL_STORE_MAX_KEY 1024u
/* Default cap on a whole-object get when the caller's buffer has no limit: 1 GiB. */
#define FL_STORE_DEFAULT_MAX_OBJECT ((size_t)1 << 30)

/* put / writer flags */
#define FL_STORE_IF_ABSENT 0x1u /* fail with FL_E_EXISTS when the key already exists */
#define FL_STORE_NO_SYNC 0x2u   /* file driver: skip fsync (scratch data only; never commits) */

/* list flags */
#define FL_STORE_LIST_NO_RECURSE 0x1u /* only direct children of the prefix "directory";
                                         sub-"directories" are reported with is_prefix */

/* One driver option ("s3.region" = "eu-west-1"); strings are borrowed for the open call. */
typedef struct fl_store_prop {
    const char *key;
    const char *val;
} fl_store_prop;

/* Options for fl_store_open. Zero-initialise (or fl_store_opts_default) and set fields. */
typedef struct fl_store_opts {
    uint32_t retry_max_attempts; /* total tries for a retriable failure; 0 = 6 */
    uint32_t retry_base_ms;      /* first backoff step; 0 = 50 ms */
    uint32_t retry_cap_ms;       /* longest single sleep; 0 = 5000 ms */
    const fl_store_prop *props;  /* driver options, borrowed for the open call only */
    size_t nprops;
    const fl_logger *log;        /* borrowed; must outlive the store; NULL = silent */
} fl_store_opts;

static inline void fl_store_opts_default(fl_store_opts *o) { memset(o, 0, sizeof *o); }

/* Metadata of one object. */
typedef struct fl_store_meta {
    uint64_t size;
    int64_t mtime_ms; /* last modification, ms since the Unix epoch (0 if unknown) */
    char etag[72];    /* driver's version tag, NUL-terminated ("" if none) */
} fl_store_meta;

/* One list entry. key points into driver storage valid for the callback only. */
typedef struct fl_store_entry {
    fl_str key;     /* full key relative to the store root */
    uint64_t size;
    int64_t mtime_ms;
    bool is_prefix; /* FL_STORE_LIST_NO_RECURSE: a common prefix ("dir/"), not an object */
} fl_store_entry;

/* List callback: return FL_OK to continue, FL_E_EOF to stop early (the listing then
 * returns FL_OK), any other code to abort the listing with that code. */
typedef fl_rc (*fl_store_list_fn)(void *ctx, const fl_store_entry *e, fl_err *err);

/* ------------------------------------------------------------------ opening */

/* Open a store rooted at `url`: "file:///abs/dir", "file:/abs/dir", a plain path
 * ("tables/obs", "/data/x"), or "<scheme>://<authority>/<prefix>" for a registered
 * driver (s3, gs, abfss, ...). The root need not exist yet (it is created on first put
 * for the file driver). opts may be NULL. Returns FL_E_UNSUPPORTED naming the scheme when
 * no driver is registered for it. The caller owns *out; free with fl_store_close. */
FL_API fl_rc fl_store_open(const char *url, const fl_store_opts *opts, fl_store **out, fl_err *err);
/* Close and free (NULL allowed). Writers must be committed or aborted first. */
FL_API void fl_store_close(fl_store *st);
/* The root URL as given to fl_store_open (borrowed; valid until close). */
FL_API const char *fl_store_get_url(const fl_store *st);
/* The driver's scheme ("file", "s3", ...) (borrowed, static). */
FL_API const char *fl_store_get_scheme(const fl_store *st);

/* ------------------------------------------------------------------ objects */

/* Append the whole object to out (caller-initialised; out->limit bounds the size, or
 * FL_STORE_DEFAULT_MAX_OBJECT when out has no limit). FL_E_NOT_FOUND when absent,
 * FL_E_LIMIT when larger than allowed. meta (optional) receives size/mtime. */
FL_API fl_rc fl_store_get(fl_store *st, fl_str key, fl_buf *out, fl_store_meta *meta, fl_err *err);
/* Append bytes [off, off+len) of the object to out. A range past the end is clipped
 * (fewer bytes appended; none when off >= size). */
FL_API fl_rc fl_store_get_range(fl_store *st, fl_str key, uint64_t off, uint64_t len, fl_buf *out,
                                fl_err *err);
/* Store data under key (flags: FL_STORE_IF_ABSENT, FL_STORE_NO_SYNC). The data is copied
 * or written before return; the caller keeps ownership. */
FL_API fl_rc fl_store_put(fl_store *st, fl_str key, const void *data, size_t len, uint32_t flags,
                          fl_err *err);
/* Size and mtime of key; FL_E_NOT_FOUND when absent. */
FL_API fl_rc fl_store_head(fl_store *st, fl_str key, fl_store_meta *meta, fl_err *err);
/* Delete keys (missing keys are not an error). Drivers batch where the backend can. */
FL_API fl_rc fl_store_delete(fl_store *st, const fl_str *keys, size_t n, fl_err *err);
/* Call fn for every object whose key starts with prefix (which may end in '/' or not)
 * and is bytewise greater than start_after (FL_STR_NULL = from the start), in bytewise
 * key order. Temp files of in-flight writes are never listed. */
FL_API fl_rc fl_store_list(fl_store *st, fl_str prefix, fl_str start_after, uint32_t flags,
                           fl_store_list_fn fn, void *ctx, fl_err *err);

/* Convenience: collect a listing into arena `a` (keys copied into the arena), at most
 * max_entries (FL_E_LIMIT beyond). *out points into the arena. */
FL_API fl_rc fl_store_list_all(fl_store *st, fl_str prefix, fl_str start_after, uint32_t flags,
                               size_t max_entries, fl_arena *a, fl_store_entry **out, size_t *count,
                               fl_err *err);

/* ------------------------------------------------------------------ streaming writer */

/* Open a writer for a large object (multipart upload on object stores, temp file on
 * local disk). Nothing is visible under key until fl_store_writer_commit succeeds.
 * flags as for put. The caller owns *out and must call commit or abort exactly once. */
FL_API fl_rc fl_store_writer_open(fl_store *st, fl_str key, uint32_t flags, fl_store_writer **out,
                                  fl_err *err);
/* Append bytes. After a failure the writer is in a failed state: later writes return the
 * same code; the caller should abort. */
FL_API fl_rc fl_store_writer_write(fl_store_writer *w, const void *data, size_t len, fl_err *err);
/* Bytes written so far. */
FL_API uint64_t fl_store_writer_size(const fl_store_writer *w);
/* Make the object visible (atomically) and free w, whatever the result. meta optional. */
FL_API fl_rc fl_store_writer_commit(fl_store_writer *w, fl_store_meta *meta, fl_err *err);
/* Discard everything written and free w (NULL allowed). */
FL_API void fl_store_writer_abort(fl_store_writer *w);

/* ------------------------------------------------------------------ keys and URLs */

/* true if key is acceptable (see top of file). */
FL_API bool fl_store_key_valid(fl_str key);

/* A parsed URL; slices point into the string given to fl_store_url_parse. */
typedef struct fl_store_url {
    fl_str scheme;    /* "file", "s3", ... (lower-case in the input) */
    fl_str authority; /* bucket / container@account / host; empty for file */
    fl_str path;      /* path without the leading '/' for object stores; the local path
                         (absolute or relative) for file */
} fl_store_url;

/* Parse url as fl_store_open does. FL_E_ARG on malformed input. */
FL_API fl_rc fl_store_url_parse(const char *url, fl_store_url *out, fl_err *err);

/* ------------------------------------------------------------------ retry */

typedef struct fl_store_retry {
    uint32_t max_attempts, base_ms, cap_ms;
} fl_store_retry;

/* Backoff before retry number `attempt` (1-based): a uniformly random value in
 * [0, min(cap, base * 2^(attempt-1))] ("full jitter"). */
FL_API uint32_t fl_store_backoff_ms(const fl_store_retry *r, uint32_t attempt);

/* ------------------------------------------------------------------ drivers */

/* A backend. All functions receive the driver's own state `impl`. Rules:
 *  - return fl_rc and fill err; mark transient failures with FL_E_STORE_RETRY or
 *    err->flags |= FL_ERR_RETRIABLE so the retry layer retries them;
 *  - keys arrive validated (fl_store_key_valid) and relative to the root;
 *  - list must deliver keys in bytewise order and skip the driver's own temp objects;
 *  - writer_* may be NULL: then fl_store_writer_* buffers in memory and calls put. */
typedef struct fl_store_driver {
    const char *scheme;      /* "file", "s3", ... */
    const char *const *alias; /* other schemes served (NULL-terminated, or NULL) */
    fl_rc (*open)(const fl_store_url *url, const fl_store_opts *opts, void **impl, fl_err *err);
    void (*close)(void *impl);
    fl_rc (*get)(void *impl, fl_str key, uint64_t off, uint64_t len, fl_buf *out, fl_store_meta *meta,
                 fl_err *err); /* len UINT64_MAX = to the end */
    fl_rc (*put)(void *impl, fl_str key, const void *data, size_t len, uint32_t flags, fl_err *err);
    fl_rc (*head)(void *impl, fl_str key, fl_store_meta *meta, fl_err *err);
    fl_rc (*del)(void *impl, const fl_str *keys, size_t n, fl_err *err);
    fl_rc (*list)(void *impl, fl_str prefix, fl_str start_after, uint32_t flags, fl_store_list_fn fn,
                  void *ctx, fl_err *err);
    fl_rc (*writer_open)(void *impl, fl_str key, uint32_t flags, void **w, fl_err *err);
    fl_rc (*writer_write)(void *w, const void *data, size_t len, fl_err *err);
    fl_rc (*writer_commit)(void *w, fl_store_meta *meta, fl_err *err); /* frees w */
    void (*writer_abort)(void *w);                                     /* frees w */
} fl_store_driver;

/* Open with an explicit driver (tests, fault injection, embedders' own backends).
 * drv is borrowed and must outlive the store. */
FL_API fl_rc fl_store_open_driver(const fl_store_driver *drv, const char *url, const fl_store_opts *opts,
                                  fl_store **out, fl_err *err);
/* The built-in local-file driver (so wrappers can delegate to it). */
FL_API const fl_store_driver *fl_store_file_driver(void);

#ifdef __cplusplus
}
#endif
#endif
