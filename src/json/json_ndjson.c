/* json_ndjson.c - streaming NDJSON line reader over files, stdin or memory, with
 * transparent gzip (module json).
 * A source layer yields decompressed bytes (plain read, or zlib inflate when the first
 * bytes are the gzip magic; concatenated members are followed). The line layer keeps
 * one buffer of at most max_line + 2 + JSON_ND_CHUNK bytes, so memory stays bounded
 * whatever the input size; a line longer than max_line is reported once (FL_E_LIMIT)
 * and skipped. Uncompressed memory input is served zero-copy.
 * Uses base only (stdio for files: portable, no platform code). */
#include "json/json_int.h"

#include <errno.h>
#include <stdio.h>
#include <zlib.h>

#define JSON_ND_CHUNK ((size_t)256 * 1024)       /* one read from the source */
#define JSON_ND_DEFAULT_MAX_LINE ((size_t)64 << 20) /* 64 MiB */
#define JSON_ND_FIRST_BUF ((size_t)1 << 20)       /* initial line buffer */

struct fl_ndjson_reader {
    /* source */
    FILE *fp;
    bool own_fp;
    const char *mem;
    size_t mem_len, mem_pos;
    char *path; /* for messages; "<memory>" for memory input */
    bool src_eof;
    uint64_t bytes_read;
    /* gzip */
    bool gz, z_ready, z_member_done;
    z_stream zs;
    unsigned char *in; /* compressed input chunk (JSON_ND_CHUNK bytes) */
    /* line buffer: unconsumed bytes are [pos, len); buf[0] is at stream offset `off` */
    char *buf;
    size_t cap, cap_max, len, pos, scan;
    uint64_t off;
    bool eof; /* the source is exhausted: buf holds everything left */
    bool zero_copy;
    bool skipping; /* discarding the tail of an over-long line */
    size_t max_line;
    uint64_t line_no; /* physical lines consumed */
};

/* ------------------------------------------------------------------ source */

static fl_rc nd_raw_read(fl_ndjson_reader *r, void *dst, size_t cap, size_t *got, fl_err *err)
{
    *got = 0;
    if (r->src_eof) return FL_OK;
    if (r->mem) {
        size_t n = r->mem_len - r->mem_pos;
        if (n > cap) n = cap;
        memcpy(dst, r->mem + r->mem_pos, n);
        r->mem_pos += n;
        if (r->mem_pos == r->mem_len) r->src_eof = true;
        *got = n;
    } else {
        size_t n = fread(dst, 1, cap, r->fp);
        if (n < cap) {
            if (ferror(r->fp))
                return fl_err_set(err, FL_E_IO, "%s: read failed: %s", r->path, strerror(errno));
            r->src_eof = true;
        }
        *got = n;
    }
    r->bytes_read += *got;
    return FL_OK;
}

/* Produce up to cap decompressed bytes into dst; *got = 0 only at the end of input. */
static fl_rc nd_src_read(fl_ndjson_reader *r, char *dst, size_t cap, size_t *got, fl_err *err)
{
    *got = 0;
    if (!r->gz) return nd_raw_read(r, dst, cap, got, err); /* fread fills or hits EOF */
    r->zs.next_out = (unsigned char *)dst;
    r->zs.avail_out = cap > UINT32_MAX ? UINT32_MAX : (uInt)cap;
    while (r->zs.avail_out > 0) {
        if (r->zs.avail_in == 0) {
            size_t n;
            fl_rc rc = nd_raw_read(r, r->in, JSON_ND_CHUNK, &n, err);
            if (rc) return rc;
            r->zs.next_in = r->in;
            r->zs.avail_in = (uInt)n;
            if (n == 0) {
                if (r->z_member_done) break; /* clean end after a complete member */
                return fl_err_set(err, FL_E_COMPRESS, "%s: truncated gzip stream", r->path);
            }
        }
        if (r->z_member_done) { /* more bytes after a member: the next member starts */
            if (inflateReset(&r->zs) != Z_OK)
                return fl_err_set(err, FL_E_COMPRESS, "%s: inflateReset failed", r->path);
            r->z_member_done = false;
        }
        int zr = inflate(&r->zs, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) {
            r->z_member_done = true;
        } else if (zr == Z_BUF_ERROR) {
            /* no progress although input and output space remain: never silently stop */
            if (r->zs.avail_in != 0)
                return fl_err_set(err, FL_E_COMPRESS, "%s: gzip stream stalled", r->path);
        } else if (zr == Z_MEM_ERROR) {
            return fl_err_set(err, FL_E_NOMEM, "out of memory");
        } else if (zr != Z_OK) {
            return fl_err_set(err, FL_E_COMPRESS, "%s: gzip data error: %s", r->path,
                              r->zs.msg ? r->zs.msg : "inflate failed");
        }
        if ((size_t)(r->zs.avail_out) < cap && r->zs.avail_in == 0 && !r->src_eof) break;
    }
    *got = cap - r->zs.avail_out;
    return FL_OK;
}

/* zlib allocates through fl_malloc too, so allocation budgets and fault injection see it. */
static voidpf nd_zalloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    size_t n;
    if (fl_mul_overflows(items, size, &n)) return Z_NULL;
    return fl_malloc(n);
}

static void nd_zfree(voidpf opaque, voidpf p)
{
    (void)opaque;
    fl_free(p);
}

/* ------------------------------------------------------------------ open/close */

static fl_rc nd_new(const fl_ndjson_opts *opts, const char *path, fl_ndjson_reader **out, fl_err *err)
{
    fl_ndjson_reader *r = fl_calloc(1, sizeof *r);
    if (!r) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    r->max_line = opts && opts->max_line ? opts->max_line : JSON_ND_DEFAULT_MAX_LINE;
    if (r->max_line > SIZE_MAX / 4) r->max_line = SIZE_MAX / 4;
    r->cap_max = r->max_line + 2 + JSON_ND_CHUNK;
    r->path = fl_strndup(path, strlen(path));
    if (!r->path) {
        fl_free(r);
        return fl_err_set(err, FL_E_NOMEM, "out of memory");
    }
    *out = r;
    return FL_OK;
}

/* Look at the first bytes: switch to gzip mode on the magic, else keep them as data. */
static fl_rc nd_start(fl_ndjson_reader *r, fl_err *err)
{
    fl_rc rc;
    r->in = fl_malloc(JSON_ND_CHUNK);
    if (!r->in) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    size_t n = 0, got;
    /* read until we have 2 bytes or EOF (pipes may deliver 1 byte at a time) */
    while (n < 2 && !r->src_eof) {
        if ((rc = nd_raw_read(r, r->in + n, JSON_ND_CHUNK - n, &got, err)) != FL_OK) return rc;
        n += got;
    }
    if (n >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b) {
        r->gz = true;
        memset(&r->zs, 0, sizeof r->zs);
        r->zs.zalloc = nd_zalloc;
        r->zs.zfree = nd_zfree;
        int zr = inflateInit2(&r->zs, 15 + 16);
        if (zr == Z_MEM_ERROR) return fl_err_set(err, FL_E_NOMEM, "out of memory");
        if (zr != Z_OK) return fl_err_set(err, FL_E_COMPRESS, "%s: inflateInit failed", r->path);
        r->z_ready = true;
        r->zs.next_in = r->in;
        r->zs.avail_in = (uInt)n;
        return FL_OK;
    }
    r->cap = JSON_ND_FIRST_BUF < r->cap_max ? JSON_ND_FIRST_BUF : r->cap_max;
    if (r->cap < n) r->cap = n;
    r->buf = fl_malloc(r->cap);
    if (!r->buf) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    memcpy(r->buf, r->in, n);
    r->len = n;
    fl_free(r->in);
    r->in = NULL;
    return FL_OK;
}

fl_rc fl_ndjson_open(const char *path, const fl_ndjson_opts *opts, fl_ndjson_reader **out, fl_err *err)
{
    if (!path || !out) return fl_err_set(err, FL_E_ARG, "fl_ndjson_open: NULL argument");
    *out = NULL;
    fl_ndjson_reader *r = NULL;
    fl_rc rc = nd_new(opts, strcmp(path, "-") ? path : "<stdin>", &r, err);
    if (rc) return rc;
    if (!strcmp(path, "-")) {
        r->fp = stdin;
    } else {
        r->fp = fopen(path, "rb");
        if (!r->fp) {
            int e = errno;
            rc = fl_err_set(err, e == ENOENT ? FL_E_NOT_FOUND : FL_E_IO, "cannot open %s: %s", path,
                            strerror(e));
            fl_ndjson_close(r);
            return rc;
        }
        r->own_fp = true;
    }
    if ((rc = nd_start(r, err)) != FL_OK) {
        fl_ndjson_close(r);
        return rc;
    }
    *out = r;
    return FL_OK;
}

fl_rc fl_ndjson_open_mem(const char *buf, size_t len, const fl_ndjson_opts *opts, fl_ndjson_reader **out,
                         fl_err *err)
{
    if ((!buf && len) || !out) return fl_err_set(err, FL_E_ARG, "fl_ndjson_open_mem: NULL argument");
    *out = NULL;
    fl_ndjson_reader *r = NULL;
    fl_rc rc = nd_new(opts, "<memory>", &r, err);
    if (rc) return rc;
    if (len >= 2 && (unsigned char)buf[0] == 0x1f && (unsigned char)buf[1] == 0x8b) {
        r->mem = buf;
        r->mem_len = len;
        if ((rc = nd_start(r, err)) != FL_OK) {
            fl_ndjson_close(r);
            return rc;
        }
    } else {
        /* zero copy: the caller's buffer is the line buffer */
        r->zero_copy = true;
        r->buf = (char *)(uintptr_t)(buf ? buf : "");
        r->len = r->cap = len;
        r->eof = r->src_eof = true;
        r->bytes_read = len;
    }
    *out = r;
    return FL_OK;
}

void fl_ndjson_close(fl_ndjson_reader *r)
{
    if (!r) return;
    if (r->own_fp && r->fp) fclose(r->fp);
    if (r->z_ready) inflateEnd(&r->zs);
    fl_free(r->in);
    if (!r->zero_copy) fl_free(r->buf);
    fl_free(r->path);
    fl_free(r);
}

uint64_t fl_ndjson_bytes_read(const fl_ndjson_reader *r) { return r ? r->bytes_read : 0; }

/* ------------------------------------------------------------------ lines */

/* Make room and read more data after [pos, len). Sets r->eof when nothing is left. */
static fl_rc nd_fill(fl_ndjson_reader *r, fl_err *err)
{
    if (r->pos > 0) {
        size_t keep = r->len - r->pos;
        if (keep) memmove(r->buf, r->buf + r->pos, keep);
        r->off += r->pos;
        r->scan -= r->pos;
        r->len = keep;
        r->pos = 0;
    }
    if (r->len == r->cap || !r->buf) {
        size_t cap = r->cap ? r->cap * 2 : JSON_ND_FIRST_BUF;
        if (cap > r->cap_max) cap = r->cap_max;
        if (cap <= r->len) return fl_err_set(err, FL_E_INTERNAL, "%s: line buffer full", r->path);
        char *nb = fl_realloc(r->buf, cap);
        if (!nb) return fl_err_set(err, FL_E_NOMEM, "out of memory");
        r->buf = nb;
        r->cap = cap;
    }
    size_t want = r->cap - r->len, got = 0;
    if (want > JSON_ND_CHUNK && !r->gz) want = JSON_ND_CHUNK;
    fl_rc rc = nd_src_read(r, r->buf + r->len, want, &got, err);
    if (rc) return rc;
    r->len += got;
    if (got == 0) r->eof = true;
    return FL_OK;
}

static inline bool nd_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return false;
    return true;
}

fl_rc fl_ndjson_next(fl_ndjson_reader *r, fl_ndjson_line *line, fl_err *err)
{
    if (!r || !line) return fl_err_set(err, FL_E_ARG, "fl_ndjson_next: NULL argument");
    for (;;) {
        const char *nl = NULL;
        if (r->scan < r->len) nl = memchr(r->buf + r->scan, '\n', r->len - r->scan);
        size_t start = r->pos, stop;
        if (nl) {
            stop = (size_t)(nl - r->buf);
            r->pos = r->scan = stop + 1;
        } else {
            size_t pending = r->len - r->pos;
            if (pending > r->max_line + 1) { /* too long even without a CR */
                r->pos = r->scan = r->len;
                if (r->skipping) continue;
                r->skipping = true;
                r->line_no++;
                uint64_t at = r->off + start;
                *line = (fl_ndjson_line){FL_STR_NULL, r->line_no, at};
                return fl_err_set_at(err, FL_E_LIMIT, at, r->line_no > UINT32_MAX ? 0 : (uint32_t)r->line_no,
                                     1, "line longer than the limit of %zu bytes (skipped)", r->max_line);
            }
            if (!r->eof) {
                r->scan = r->len;
                fl_rc rc = nd_fill(r, err);
                if (rc) return rc;
                continue;
            }
            if (pending == 0) {
                r->skipping = false;
                return FL_E_EOF;
            }
            stop = r->len; /* last line without a newline */
            r->pos = r->scan = r->len;
        }
        if (r->skipping) { /* the end of an over-long line already reported */
            r->skipping = false;
            continue;
        }
        r->line_no++;
        const char *p = r->buf + start;
        size_t n = stop - start;
        if (n && p[n - 1] == '\r') n--;
        if (r->off + start == 0 && n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) {
            p += 3;
            n -= 3;
            start += 3;
        }
        if (n > r->max_line) {
            *line = (fl_ndjson_line){FL_STR_NULL, r->line_no, r->off + start};
            return fl_err_set_at(err, FL_E_LIMIT, r->off + start,
                                 r->line_no > UINT32_MAX ? 0 : (uint32_t)r->line_no, 1,
                                 "line longer than the limit of %zu bytes (skipped)", r->max_line);
        }
        if (nd_blank(p, n)) continue;
        line->text = (fl_str){p, n};
        line->line_no = r->line_no;
        line->offset = r->off + start;
        return FL_OK;
    }
}

/* ------------------------------------------------------------------ whole file */

fl_rc fl_json_read_file(const char *path, size_t limit, fl_buf *out, fl_err *err)
{
    if (!path || !out) return fl_err_set(err, FL_E_ARG, "fl_json_read_file: NULL argument");
    fl_ndjson_reader *r = NULL;
    fl_rc rc = fl_ndjson_open(path, NULL, &r, err);
    if (rc) return rc;
    size_t start = out->len;
    /* bytes the sniffing step already buffered (plain input) */
    if (r->len) FL_TRY(fl_buf_append(out, r->buf, r->len));
    for (;;) {
        if (limit && out->len - start > limit) {
            rc = fl_err_set(err, FL_E_LIMIT, "%s: larger than the limit of %zu bytes", r->path, limit);
            goto done;
        }
        if ((rc = fl_buf_reserve(out, JSON_ND_CHUNK)) != FL_OK) {
            fl_err_set(err, rc, "%s: %s", r->path, fl_rc_str(rc));
            goto done;
        }
        size_t got = 0;
        FL_TRY(nd_src_read(r, out->ptr + out->len, JSON_ND_CHUNK, &got, err));
        if (!got) break;
        out->len += got;
        out->ptr[out->len] = 0;
    }
    if (limit && out->len - start > limit)
        rc = fl_err_set(err, FL_E_LIMIT, "%s: larger than the limit of %zu bytes", r->path, limit);
done:
    fl_ndjson_close(r);
    return rc;
}
