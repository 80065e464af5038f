/* base_err.c - return-code strings and fl_err helpers (module base).
 * The enum and both string tables come from include/fhirlake/errors.def.
 * Filling an fl_err never allocates, so it also works after an out-of-memory. */
#include "fhirlake/base.h"

#include <stdio.h>

static const char *const rc_msgs[] = {
#define X(name, msg) msg,
#include "fhirlake/errors.def"
#undef X
};

static const char *const rc_names[] = {
#define X(name, msg) #name,
#include "fhirlake/errors.def"
#undef X
};

const char *fl_rc_str(fl_rc rc)
{
    if ((unsigned)rc >= (unsigned)FL_RC_COUNT_) return "unknown error";
    return rc_msgs[rc];
}

const char *fl_rc_name(fl_rc rc)
{
    if ((unsigned)rc >= (unsigned)FL_RC_COUNT_) return "FL_E_UNKNOWN";
    return rc_names[rc];
}

void fl_err_clear(fl_err *err)
{
    if (!err) return;
    err->code = FL_OK;
    err->flags = 0;
    err->pos = 0;
    err->line = err->col = 0;
    err->status = 0;
    err->msg[0] = 0;
}

fl_rc fl_err_setv(fl_err *err, fl_rc code, const char *fmt, va_list ap)
{
    if (!err) return code;
    err->code = code;
    err->flags = 0;
    err->pos = 0;
    err->line = err->col = 0;
    err->status = 0;
    if (fmt) {
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    } else {
        snprintf(err->msg, sizeof err->msg, "%s", fl_rc_str(code));
    }
    return code;
}

fl_rc fl_err_set(fl_err *err, fl_rc code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fl_err_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

fl_rc fl_err_set_at(fl_err *err, fl_rc code, uint64_t pos, uint32_t line, uint32_t col,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fl_err_setv(err, code, fmt, ap);
    va_end(ap);
    if (err) {
        err->pos = pos;
        err->line = line;
        err->col = col;
    }
    return code;
}

void fl_err_prefix(fl_err *err, const char *fmt, ...)
{
    if (!err) return;
    char pre[FL_ERR_MSG_MAX];
    char old[FL_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    if (n <= 0) return;
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = 0;
    /* pre then old, truncated to fit (explicit copies: truncation is intended here) */
    size_t np = (size_t)n < sizeof err->msg - 1 ? (size_t)n : sizeof err->msg - 1;
    memcpy(err->msg, pre, np);
    size_t no = strlen(old);
    if (no > sizeof err->msg - 1 - np) no = sizeof err->msg - 1 - np;
    memcpy(err->msg + np, old, no);
    err->msg[np + no] = 0;
}

bool fl_err_is_retriable(const fl_err *err)
{
    if (!err) return false;
    if (err->flags & FL_ERR_RETRIABLE) return true;
    return err->code == FL_E_STORE_RETRY || err->code == FL_E_TIMEOUT ||
           err->code == FL_E_DELTA_CONFLICT;
}
