/* store_registry.c - the table of object-store drivers by URL scheme (module store).
 * A new backend (s3, gs, az) adds its driver here and nowhere else: delta and engine
 * reach every backend through fl_store_open(). The table is const: no global state. */
#include "store/store_int.h"

extern const fl_store_driver store_file_drv;
extern const fl_store_driver store_s3_drv; /* store_s3.c */

static const fl_store_driver *const store_drivers[] = {
    &store_file_drv,
    &store_s3_drv,
};

const fl_store_driver *store_driver_find(fl_str scheme)
{
    for (size_t i = 0; i < sizeof store_drivers / sizeof store_drivers[0]; i++) {
        const fl_store_driver *d = store_drivers[i];
        if (fl_str_eq_c(scheme, d->scheme)) return d;
        for (const char *const *a = d->alias; a && *a; a++)
            if (fl_str_eq_c(scheme, *a)) return d;
    }
    return NULL;
}

const fl_store_driver *fl_store_file_driver(void) { return &store_file_drv; }
