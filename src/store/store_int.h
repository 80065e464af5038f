/* store_int.h - private declarations shared by the files of module store.
 * The public contract is include/fhirlake/store.h; this adds the handle layouts and the
 * retry runner that every public operation goes through. */
#ifndef FL_STORE_INT_H
#define FL_STORE_INT_H

#include "fhirlake/store.h"

struct fl_store {
    const fl_store_driver *drv;
    void *impl;
    char *url; /* owned copy of the root URL */
    fl_store_retry retry;
    const fl_logger *log;
};

struct fl_store_writer {
    fl_store *st;
    void *impl;     /* driver writer, or NULL when buffering in `mem` */
    fl_buf mem;     /* used when the driver has no streaming writer */
    char *key;      /* owned, NUL-terminated */
    uint32_t flags;
    uint64_t size;
    fl_rc rc;       /* sticky first failure */
};

/* Kinds of operation the retry runner knows how to repeat. */
typedef enum store_op_kind { STORE_OP_GET, STORE_OP_PUT, STORE_OP_HEAD, STORE_OP_DEL, STORE_OP_LIST } store_op_kind;

typedef struct store_op {
    store_op_kind kind;
    fl_str key;
    uint64_t off, len;      /* get */
    fl_buf *out;            /* get */
    fl_store_meta *meta;    /* get, head */
    const void *data;       /* put */
    size_t dlen;            /* put */
    uint32_t flags;         /* put, list */
    const fl_str *keys;     /* del */
    size_t nkeys;           /* del */
    fl_str prefix;          /* list */
    fl_str start_after;     /* list */
    fl_store_list_fn fn;    /* list */
    void *ctx;              /* list */
} store_op;

/* Run op against st's driver, retrying transient failures with backoff (store_retry.c). */
fl_rc store_run(fl_store *st, const store_op *op, fl_err *err);

/* Driver table lookup by scheme (store_registry.c); NULL when none. */
const fl_store_driver *store_driver_find(fl_str scheme);

/* Validate a key (allow_prefix: may be empty and may end in '/'). */
bool store_key_check(fl_str key, bool allow_prefix);

#endif
