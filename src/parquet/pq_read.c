/* pq_read.c - reader: decode one column chunk into levels + values (module parquet).
 * Walks the chunk's pages (dictionary, data v1, data v2; index pages skipped), inflates
 * each page into the caller's arena and decodes PLAIN, RLE, dictionary (RLE_DICTIONARY /
 * PLAIN_DICTIONARY), DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY and
 * BYTE_STREAM_SPLIT values. Output arrays are sized from the chunk's num_values after
 * checking them against opts.max_column_bytes; every page must stay inside its chunk and
 * every decoder stays inside its page. Errors name the column path, row group and page. */
#include "parquet/pq_reader_int.h"

#include <zlib.h>

typedef struct pq_rctx {
    fl_pq_reader *r;
    fl_arena *a;
    fl_err *err;
    const fl_pq_node *nd;
    char path[256];
    int rg, page;
    int width;          /* output element size */
    /* dictionary */
    void *dict;
    size_t dict_n;
    /* output */
    int16_t *def, *rep;
    uint8_t *vals;
    size_t nlev, nval, cap;
    uint32_t *tmp;      /* level / index scratch (in the arena) */
    size_t tmp_cap;
} pq_rctx;

static fl_rc cfail(pq_rctx *x, fl_rc code, const char *fmt, ...) FL_PRINTF(3, 4);
static fl_rc cfail(pq_rctx *x, fl_rc code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fl_rc rc = fl_err_setv(x->err, code, fmt, ap);
    va_end(ap);
    fl_err_prefix(x->err, "column '%s', row group %d, page %d: ", x->path, x->rg, x->page);
    return rc;
}

static int out_width(const fl_pq_node *nd)
{
    switch (nd->type.phys) {
    case FL_PQ_BOOLEAN: return 1;
    case FL_PQ_INT32: case FL_PQ_FLOAT: return 4;
    case FL_PQ_INT64: case FL_PQ_DOUBLE: case FL_PQ_INT96: return 8;
    default: return (int)sizeof(fl_str);
    }
}

/* ---------------------------------------------------------------- page headers */

typedef struct pq_page_hdr {
    int type;
    int64_t usize, csize;
    bool has_crc;
    uint32_t crc;
    int64_t num_values, num_nulls, num_rows;
    int encoding, def_enc, rep_enc;
    int64_t def_len, rep_len;
    bool is_compressed;
    bool have_sub;
} pq_page_hdr;

static void parse_sub(pq_tr *t, pq_page_hdr *h, int which)
{
    if (!pq_tr_enter(t)) return;
    int16_t last = 0, id;
    int ty;
    h->have_sub = true;
    while (pq_tr_field(t, &last, &id, &ty)) {
        bool isint = ty == TT_I32 || ty == TT_I64;
        if (which == 5 && isint && id >= 1 && id <= 4) {
            int64_t v = pq_tr_int(t, ty);
            if (id == 1) h->num_values = v;
            if (id == 2) h->encoding = (int)v;
            if (id == 3) h->def_enc = (int)v;
            if (id == 4) h->rep_enc = (int)v;
        } else if (which == 7 && isint && id <= 2) {
            int64_t v = pq_tr_int(t, ty);
            if (id == 1) h->num_values = v;
            if (id == 2) h->encoding = (int)v;
        } else if (which == 8 && isint && id >= 1 && id <= 6) {
            int64_t v = pq_tr_int(t, ty);
            if (id == 1) h->num_values = v;
            if (id == 2) h->num_nulls = v;
            if (id == 3) h->num_rows = v;
            if (id == 4) h->encoding = (int)v;
            if (id == 5) h->def_len = v;
            if (id == 6) h->rep_len = v;
        } else if (which == 8 && id == 7 && (ty == TT_TRUE || ty == TT_FALSE)) {
            h->is_compressed = pq_tr_bool(t, ty);
        } else {
            pq_tr_skip(t, ty);
        }
    }
    pq_tr_leave(t);
}

static size_t parse_page_header(pq_rctx *x, const uint8_t *p, size_t n, pq_page_hdr *h)
{
    memset(h, 0, sizeof *h);
    h->type = -1;
    h->usize = h->csize = -1;
    h->num_values = -1;
    h->is_compressed = true;
    h->def_enc = h->rep_enc = PQ_ENC_RLE;
    pq_tr t;
    pq_tr_init(&t, p, n > PQ_MAX_PAGE_HEADER ? PQ_MAX_PAGE_HEADER : n, "page header", x->err);
    int16_t last = 0, id;
    int ty;
    while (pq_tr_field(&t, &last, &id, &ty)) {
        bool isint = ty == TT_I32 || ty == TT_I64;
        if (id == 1 && isint) h->type = (int)pq_tr_int(&t, ty);
        else if (id == 2 && isint) h->usize = pq_tr_int(&t, ty);
        else if (id == 3 && isint) h->csize = pq_tr_int(&t, ty);
        else if (id == 4 && isint) { h->crc = (uint32_t)pq_tr_int(&t, ty); h->has_crc = true; }
        else if ((id == 5 || id == 7 || id == 8) && ty == TT_STRUCT) parse_sub(&t, h, id);
        else pq_tr_skip(&t, ty);
    }
    if (t.rc) {
        fl_err_prefix(x->err, "column '%s', row group %d, page %d: ", x->path, x->rg, x->page);
        return 0;
    }
    return (size_t)(t.p - t.start);
}

/* ---------------------------------------------------------------- levels */

static fl_rc ensure_tmp(pq_rctx *x, size_t n)
{
    if (n <= x->tmp_cap) return FL_OK;
    size_t cap = x->tmp_cap ? x->tmp_cap : 1024;
    while (cap < n) cap *= 2;
    uint32_t *t = fl_arena_alloc(x->a, cap * sizeof *t);
    if (!t) return cfail(x, FL_E_NOMEM, "out of memory for %zu levels", n);
    x->tmp = t;
    x->tmp_cap = cap;
    return FL_OK;
}

/* Decode n levels (max `maxl`) from p[0..len) into out with the given encoding. */
static fl_rc decode_levels(pq_rctx *x, int enc, const uint8_t *p, size_t len, size_t n, int maxl, int16_t *out,
                           const char *what)
{
    fl_rc rc = ensure_tmp(x, n);
    if (rc) return rc;
    int bw = pq_bit_width((uint64_t)maxl);
    size_t got;
    if (enc == PQ_ENC_BIT_PACKED) {
        /* deprecated: MSB-first bit packing, no length prefix */
        uint64_t need = ((uint64_t)n * (uint64_t)bw + 7) / 8;
        if (need > len) return cfail(x, FL_E_PQ_FORMAT, "%s levels: bit-packed data truncated", what);
        for (size_t i = 0; i < n; i++) {
            uint32_t v = 0;
            for (int b = 0; b < bw; b++) {
                uint64_t bit = (uint64_t)i * (uint64_t)bw + (uint64_t)b;
                v = v << 1 | ((p[bit >> 3] >> (7 - (bit & 7))) & 1u);
            }
            x->tmp[i] = v;
        }
        got = n;
    } else if (enc == PQ_ENC_RLE) {
        pq_rle_dec d;
        pq_rle_dec_init(&d, p, len, bw);
        got = pq_rle_dec_get(&d, x->tmp, n);
    } else {
        return cfail(x, FL_E_PQ_UNSUPPORTED, "%s levels use unsupported encoding %d", what, enc);
    }
    if (got != n) return cfail(x, FL_E_PQ_FORMAT, "%s levels: only %zu of %zu decoded", what, got, n);
    for (size_t i = 0; i < n; i++) {
        if (x->tmp[i] > (uint32_t)maxl) return cfail(x, FL_E_PQ_FORMAT, "%s level %u above the maximum %d", what, x->tmp[i], maxl);
        out[i] = (int16_t)x->tmp[i];
    }
    return FL_OK;
}

/* ---------------------------------------------------------------- values */

static void *out_at(pq_rctx *x, size_t i) { return x->vals + i * (size_t)x->width; }

static int64_t int96_to_ns(const uint8_t *p)
{
    /* wraps outside the int64 nanosecond range (years 1677..2262), like arrow */
    uint64_t nanos = pq_rd64(p);
    uint64_t jd = pq_rd32(p + 8);
    return (int64_t)((jd - 2440588u) * 86400000000000ull + nanos);
}

/* PLAIN values; *used gets the bytes consumed. Strings point into p (arena memory). */
static fl_rc decode_plain(pq_rctx *x, fl_pq_phys phys, const uint8_t *p, size_t len, size_t n, void *out,
                          size_t *used)
{
    switch (phys) {
    case FL_PQ_BOOLEAN: {
        if ((n + 7) / 8 > len) return cfail(x, FL_E_PQ_FORMAT, "PLAIN booleans truncated");
        uint8_t *o = out;
        for (size_t i = 0; i < n; i++) o[i] = (p[i >> 3] >> (i & 7)) & 1;
        *used = (n + 7) / 8;
        return FL_OK;
    }
    case FL_PQ_INT32:
    case FL_PQ_FLOAT:
    case FL_PQ_INT64:
    case FL_PQ_DOUBLE: {
        size_t w = (phys == FL_PQ_INT32 || phys == FL_PQ_FLOAT) ? 4 : 8;
        if (n > len / w) return cfail(x, FL_E_PQ_FORMAT, "PLAIN values truncated (%zu values, %zu bytes)", n, len);
        memcpy(out, p, n * w);
        *used = n * w;
        return FL_OK;
    }
    case FL_PQ_INT96: {
        if (n > len / 12) return cfail(x, FL_E_PQ_FORMAT, "PLAIN INT96 values truncated");
        int64_t *o = out;
        for (size_t i = 0; i < n; i++) o[i] = int96_to_ns(p + 12 * i);
        *used = n * 12;
        return FL_OK;
    }
    case FL_PQ_FIXED_LEN_BYTE_ARRAY: {
        size_t w = (size_t)x->nd->type.type_length;
        if (n > len / w) return cfail(x, FL_E_PQ_FORMAT, "PLAIN fixed-length values truncated");
        fl_str *o = out;
        for (size_t i = 0; i < n; i++) o[i] = fl_str_make((const char *)p + i * w, w);
        *used = n * w;
        return FL_OK;
    }
    default: {
        fl_str *o = out;
        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
            if (len - off < 4) return cfail(x, FL_E_PQ_FORMAT, "PLAIN byte array %zu truncated", i);
            uint32_t l = pq_rd32(p + off);
            off += 4;
            if (l > len - off) return cfail(x, FL_E_PQ_FORMAT, "PLAIN byte array %zu length %u past the page end", i, l);
            o[i] = fl_str_make((const char *)p + off, l);
            off += l;
        }
        *used = off;
        return FL_OK;
    }
    }
}

/* DELTA_BINARY_PACKED into int64 out[n] (values are wrapped to 64 bits). */
static fl_rc decode_dbp(pq_rctx *x, const uint8_t *p, size_t len, size_t n, int64_t *out, size_t *total_out,
                        size_t *used)
{
    const uint8_t *s = p, *e = p + len;
#define RD_UV(dst)                                                                                 \
    do {                                                                                           \
        uint64_t v_ = 0;                                                                           \
        int sh_ = 0;                                                                               \
        for (;;) {                                                                                 \
            if (s >= e || sh_ > 63) return cfail(x, FL_E_PQ_FORMAT, "DELTA_BINARY_PACKED header truncated"); \
            uint8_t c_ = *s++;                                                                     \
            v_ |= (uint64_t)(c_ & 0x7f) << sh_;                                                    \
            sh_ += 7;                                                                              \
            if (!(c_ & 0x80)) break;                                                               \
        }                                                                                          \
        (dst) = v_;                                                                                \
    } while (0)
    uint64_t block, nmini, total, zz;
    RD_UV(block);
    RD_UV(nmini);
    RD_UV(total);
    RD_UV(zz);
    if (block == 0 || block % 128 || nmini == 0 || block % nmini || (block / nmini) % 32 || block > (1u << 20))
        return cfail(x, FL_E_PQ_FORMAT, "DELTA_BINARY_PACKED bad block size %llu / %llu miniblocks",
                     (unsigned long long)block, (unsigned long long)nmini);
    if (total < n) return cfail(x, FL_E_PQ_FORMAT, "DELTA_BINARY_PACKED holds %llu values, %zu needed", (unsigned long long)total, n);
    if (total_out) *total_out = (size_t)total;
    uint64_t per_mini = block / nmini;
    int64_t cur = (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
    size_t got = 0;
    if (n > 0) out[got++] = cur;
    uint64_t left = total ? total - 1 : 0;
    while (left > 0) {
        uint64_t mzz;
        RD_UV(mzz);
        int64_t min_delta = (int64_t)(mzz >> 1) ^ -(int64_t)(mzz & 1);
        if ((uint64_t)(e - s) < nmini) return cfail(x, FL_E_PQ_FORMAT, "DELTA_BINARY_PACKED bit widths truncated");
        const uint8_t *bws = s;
        s += nmini;
        for (uint64_t m = 0; m < nmini && left > 0; m++) {
            int bw = bws[m];
            if (bw > 64) return cfail(x, FL_E_PQ_FORMAT, "DELTA_BINARY_PACKED bit width %d", bw);
            uint64_t bytes = per_mini * (uint64_t)bw / 8;
            if (bytes > (uint64_t)(e - s)) {
                /* the last miniblock may be cut short when all remaining values fit */
                if (left > ((uint64_t)(e - s) * 8) / (bw ? (uint64_t)bw : 1)) return cfail(x, FL_E_PQ_FORMAT, "DELTA_BINARY_PACKED miniblock truncated");
                bytes = (uint64_t)(e - s);
            }
            uint64_t cnt = per_mini < left ? per_mini : left;
            for (uint64_t i = 0; i < cnt; i++) {
                uint64_t v = 0;
                if (bw) {
                    uint64_t bit = i * (uint64_t)bw;
                    for (int b = 0; b < bw; b += 8) {
                        /* gather up to 8 bits at a time */
                        uint64_t pos = bit + (uint64_t)b;
                        uint64_t byte = pos >> 3, sh = pos & 7;
                        uint64_t chunk = s[byte] >> sh;
                        if (sh && byte + 1 < bytes) chunk |= (uint64_t)s[byte + 1] << (8 - sh);
                        int take = bw - b < 8 ? bw - b : 8;
                        v |= (chunk & ((1u << take) - 1)) << b;
                    }
                }
                cur = (int64_t)((uint64_t)cur + (uint64_t)min_delta + v);
                if (got < n) out[got++] = cur;
            }
            left -= cnt;
            s += bytes;
        }
    }
#undef RD_UV
    *used = (size_t)(s - p);
    return FL_OK;
}

static fl_rc decode_values(pq_rctx *x, int enc, const uint8_t *p, size_t len, size_t n)
{
    fl_pq_phys phys = x->nd->type.phys;
    void *out = out_at(x, x->nval);
    size_t used = 0;
    fl_rc rc;
    switch (enc) {
    case PQ_ENC_PLAIN:
        return decode_plain(x, phys, p, len, n, out, &used);
    case PQ_ENC_PLAIN_DICTIONARY:
    case PQ_ENC_RLE_DICTIONARY: {
        if (!x->dict) return cfail(x, FL_E_PQ_FORMAT, "dictionary-encoded page without a dictionary page");
        if (n == 0) return FL_OK;
        if (len < 1) return cfail(x, FL_E_PQ_FORMAT, "dictionary indices missing");
        int bw = p[0];
        if (bw > 32) return cfail(x, FL_E_PQ_FORMAT, "dictionary index bit width %d", bw);
        if ((rc = ensure_tmp(x, n))) return rc;
        pq_rle_dec d;
        pq_rle_dec_init(&d, p + 1, len - 1, bw);
        size_t got = pq_rle_dec_get(&d, x->tmp, n);
        if (got != n) return cfail(x, FL_E_PQ_FORMAT, "dictionary indices: only %zu of %zu decoded", got, n);
        size_t w = (size_t)x->width;
        const uint8_t *dv = x->dict;
        uint8_t *o = out;
        for (size_t i = 0; i < n; i++) {
            if (x->tmp[i] >= x->dict_n)
                return cfail(x, FL_E_PQ_FORMAT, "dictionary index %u out of range (%zu entries)", x->tmp[i], x->dict_n);
            memcpy(o + i * w, dv + (size_t)x->tmp[i] * w, w);
        }
        return FL_OK;
    }
    case PQ_ENC_RLE: {
        if (phys != FL_PQ_BOOLEAN) return cfail(x, FL_E_PQ_UNSUPPORTED, "RLE encoding for a non-boolean column");
        if (len < 4) return cfail(x, FL_E_PQ_FORMAT, "RLE booleans: missing length");
        uint32_t l = pq_rd32(p);
        if (l > len - 4) return cfail(x, FL_E_PQ_FORMAT, "RLE booleans: length past the page end");
        if ((rc = ensure_tmp(x, n))) return rc;
        pq_rle_dec d;
        pq_rle_dec_init(&d, p + 4, l, 1);
        if (pq_rle_dec_get(&d, x->tmp, n) != n) return cfail(x, FL_E_PQ_FORMAT, "RLE booleans truncated");
        uint8_t *o = out;
        for (size_t i = 0; i < n; i++) o[i] = (uint8_t)(x->tmp[i] & 1);
        return FL_OK;
    }
    case PQ_ENC_DELTA_BINARY_PACKED: {
        if (phys != FL_PQ_INT32 && phys != FL_PQ_INT64) return cfail(x, FL_E_PQ_FORMAT, "DELTA_BINARY_PACKED for a non-integer column");
        int64_t *tmp = fl_arena_alloc(x->a, (n ? n : 1) * sizeof *tmp);
        if (!tmp) return cfail(x, FL_E_NOMEM, "out of memory");
        if ((rc = decode_dbp(x, p, len, n, tmp, NULL, &used))) return rc;
        if (phys == FL_PQ_INT64) memcpy(out, tmp, n * 8);
        else
            for (size_t i = 0; i < n; i++) ((int32_t *)out)[i] = (int32_t)(uint32_t)(uint64_t)tmp[i];
        return FL_OK;
    }
    case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
    case PQ_ENC_DELTA_BYTE_ARRAY: {
        if (phys != FL_PQ_BYTE_ARRAY && phys != FL_PQ_FIXED_LEN_BYTE_ARRAY)
            return cfail(x, FL_E_PQ_FORMAT, "DELTA byte-array encoding for a non-binary column");
        int64_t *pre = NULL;
        size_t off = 0;
        if (enc == PQ_ENC_DELTA_BYTE_ARRAY) {
            pre = fl_arena_alloc(x->a, (n ? n : 1) * sizeof *pre);
            if (!pre) return cfail(x, FL_E_NOMEM, "out of memory");
            if ((rc = decode_dbp(x, p, len, n, pre, NULL, &used))) return rc;
            off = used;
        }
        int64_t *lens = fl_arena_alloc(x->a, (n ? n : 1) * sizeof *lens);
        if (!lens) return cfail(x, FL_E_NOMEM, "out of memory");
        if ((rc = decode_dbp(x, p + off, len - off, n, lens, NULL, &used))) return rc;
        off += used;
        fl_str *o = out;
        fl_str prev = FL_STR_NULL;
        for (size_t i = 0; i < n; i++) {
            if (lens[i] < 0 || (uint64_t)lens[i] > len - off) return cfail(x, FL_E_PQ_FORMAT, "DELTA byte array %zu length out of range", i);
            size_t l = (size_t)lens[i];
            fl_str suf = fl_str_make((const char *)p + off, l);
            off += l;
            if (!pre) {
                o[i] = suf;
                continue;
            }
            if (pre[i] < 0 || (uint64_t)pre[i] > prev.len) return cfail(x, FL_E_PQ_FORMAT, "DELTA_BYTE_ARRAY prefix %zu out of range", i);
            size_t pl = (size_t)pre[i];
            if (pl == 0) {
                o[i] = suf;
            } else {
                char *m = fl_arena_alloc(x->a, pl + l + 1);
                if (!m) return cfail(x, FL_E_NOMEM, "out of memory");
                memcpy(m, prev.ptr, pl);
                if (l) memcpy(m + pl, suf.ptr, l);
                o[i] = fl_str_make(m, pl + l);
            }
            prev = o[i];
        }
        if (phys == FL_PQ_FIXED_LEN_BYTE_ARRAY)
            for (size_t i = 0; i < n; i++)
                if (o[i].len != (size_t)x->nd->type.type_length) return cfail(x, FL_E_PQ_FORMAT, "fixed-length value of the wrong length");
        return FL_OK;
    }
    case PQ_ENC_BYTE_STREAM_SPLIT: {
        size_t w;
        switch (phys) {
        case FL_PQ_INT32: case FL_PQ_FLOAT: w = 4; break;
        case FL_PQ_INT64: case FL_PQ_DOUBLE: w = 8; break;
        case FL_PQ_FIXED_LEN_BYTE_ARRAY: w = (size_t)x->nd->type.type_length; break;
        default: return cfail(x, FL_E_PQ_FORMAT, "BYTE_STREAM_SPLIT for an unsupported type");
        }
        if (n > len / w) return cfail(x, FL_E_PQ_FORMAT, "BYTE_STREAM_SPLIT values truncated");
        size_t stride = len / w; /* streams span the whole values section */
        if (stride < n) return cfail(x, FL_E_PQ_FORMAT, "BYTE_STREAM_SPLIT values truncated");
        if (phys == FL_PQ_FIXED_LEN_BYTE_ARRAY) {
            char *m = fl_arena_alloc(x->a, n * w + 1);
            if (!m) return cfail(x, FL_E_NOMEM, "out of memory");
            fl_str *o = out;
            for (size_t i = 0; i < n; i++) {
                for (size_t k = 0; k < w; k++) m[i * w + k] = (char)p[k * stride + i];
                o[i] = fl_str_make(m + i * w, w);
            }
        } else {
            uint8_t *o = out;
            for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < w; k++) o[i * w + k] = p[k * stride + i];
        }
        return FL_OK;
    }
    default:
        return cfail(x, FL_E_PQ_UNSUPPORTED, "value encoding %d is not supported", enc);
    }
}

static fl_rc read_dict(pq_rctx *x, const pq_page_hdr *h, const uint8_t *p, size_t len)
{
    if (x->dict) return cfail(x, FL_E_PQ_FORMAT, "second dictionary page in one column chunk");
    if (h->encoding != PQ_ENC_PLAIN && h->encoding != PQ_ENC_PLAIN_DICTIONARY)
        return cfail(x, FL_E_PQ_UNSUPPORTED, "dictionary page encoding %d", h->encoding);
    if (h->num_values < 0) return cfail(x, FL_E_PQ_FORMAT, "dictionary page without num_values");
    size_t n = (size_t)h->num_values;
    /* every entry takes at least one byte, except booleans (a bit) */
    if (x->nd->type.phys != FL_PQ_BOOLEAN && n > len) return cfail(x, FL_E_PQ_FORMAT, "dictionary claims %zu entries in %zu bytes", n, len);
    if (n > len * 8 + 8) return cfail(x, FL_E_PQ_FORMAT, "dictionary claims %zu entries in %zu bytes", n, len);
    void *d = fl_arena_alloc(x->a, (n ? n : 1) * (size_t)x->width);
    if (!d) return cfail(x, FL_E_NOMEM, "out of memory for the dictionary");
    size_t used;
    fl_rc rc = decode_plain(x, x->nd->type.phys, p, len, n, d, &used);
    if (rc) return rc;
    x->dict = d;
    x->dict_n = n;
    return FL_OK;
}

/* Values present (def == max) among the levels just added. */
static size_t count_present(const pq_rctx *x, size_t from, size_t n)
{
    if (!x->def) return n;
    size_t k = 0;
    int16_t m = x->nd->max_def;
    for (size_t i = from; i < from + n; i++) k += x->def[i] == m;
    return k;
}

static fl_rc read_data_page(pq_rctx *x, const pq_page_hdr *h, const uint8_t *raw, size_t clen, int codec)
{
    fl_rc rc;
    if (h->num_values < 0) return cfail(x, FL_E_PQ_FORMAT, "data page without num_values");
    size_t n = (size_t)h->num_values;
    if (n > x->cap - x->nlev)
        return cfail(x, FL_E_PQ_FORMAT, "pages hold more values than the chunk's num_values %zu", x->cap);
    if (h->usize < 0 || (uint64_t)h->usize > x->r->o.max_page_size)
        return cfail(x, FL_E_LIMIT, "uncompressed page size %lld out of range (limit %zu)", (long long)h->usize, x->r->o.max_page_size);
    size_t usize = (size_t)h->usize;
    const uint8_t *lv = NULL, *vp;
    size_t lv_len = 0, vlen;
    if (h->type == PQ_PAGE_DATA_V2) {
        if (h->def_len < 0 || h->rep_len < 0 || (uint64_t)h->def_len + (uint64_t)h->rep_len > clen ||
            (uint64_t)h->def_len + (uint64_t)h->rep_len > usize)
            return cfail(x, FL_E_PQ_FORMAT, "v2 page level lengths out of range");
        lv = raw;
        lv_len = (size_t)(h->def_len + h->rep_len);
        size_t vc = clen - lv_len, vu = usize - lv_len;
        if (h->is_compressed && codec != FL_PQ_UNCOMPRESSED && !(vc == 0 && vu == 0)) {
            uint8_t *buf = fl_arena_alloc(x->a, vu ? vu : 1);
            if (!buf) return cfail(x, FL_E_NOMEM, "out of memory for a %zu byte page", vu);
            if ((rc = pq_decompress(&x->r->cc, codec, raw + lv_len, vc, buf, vu, x->err))) {
                fl_err_prefix(x->err, "column '%s', row group %d, page %d: ", x->path, x->rg, x->page);
                return rc;
            }
            vp = buf;
            vlen = vu;
        } else {
            vp = raw + lv_len;
            vlen = vc;
        }
        if (x->rep) {
            if ((rc = decode_levels(x, PQ_ENC_RLE, lv, (size_t)h->rep_len, n, x->nd->max_rep, x->rep + x->nlev, "repetition"))) return rc;
        }
        if (x->def) {
            if ((rc = decode_levels(x, PQ_ENC_RLE, lv + h->rep_len, (size_t)h->def_len, n, x->nd->max_def, x->def + x->nlev, "definition"))) return rc;
        }
    } else {
        uint8_t *buf = (uint8_t *)(uintptr_t)raw;
        if (codec != FL_PQ_UNCOMPRESSED || clen != usize) {
            buf = fl_arena_alloc(x->a, usize ? usize : 1);
            if (!buf) return cfail(x, FL_E_NOMEM, "out of memory for a %zu byte page", usize);
            if ((rc = pq_decompress(&x->r->cc, codec, raw, clen, buf, usize, x->err))) {
                fl_err_prefix(x->err, "column '%s', row group %d, page %d: ", x->path, x->rg, x->page);
                return rc;
            }
        }
        size_t off = 0;
        if (x->rep) {
            size_t l = usize;
            if (h->rep_enc == PQ_ENC_RLE) {
                if (usize < 4) return cfail(x, FL_E_PQ_FORMAT, "repetition levels truncated");
                l = pq_rd32(buf);
                off = 4;
                if (l > usize - off) return cfail(x, FL_E_PQ_FORMAT, "repetition level length past the page end");
            } else {
                l = ((size_t)n * (size_t)pq_bit_width((uint64_t)x->nd->max_rep) + 7) / 8;
                if (l > usize) return cfail(x, FL_E_PQ_FORMAT, "repetition levels truncated");
            }
            if ((rc = decode_levels(x, h->rep_enc, buf + off, l, n, x->nd->max_rep, x->rep + x->nlev, "repetition"))) return rc;
            off += l;
        }
        if (x->def) {
            size_t l;
            if (h->def_enc == PQ_ENC_RLE) {
                if (usize - off < 4) return cfail(x, FL_E_PQ_FORMAT, "definition levels truncated");
                l = pq_rd32(buf + off);
                off += 4;
                if (l > usize - off) return cfail(x, FL_E_PQ_FORMAT, "definition level length past the page end");
            } else {
                l = ((size_t)n * (size_t)pq_bit_width((uint64_t)x->nd->max_def) + 7) / 8;
                if (l > usize - off) return cfail(x, FL_E_PQ_FORMAT, "definition levels truncated");
            }
            if ((rc = decode_levels(x, h->def_enc, buf + off, l, n, x->nd->max_def, x->def + x->nlev, "definition"))) return rc;
            off += l;
        }
        vp = buf + off;
        vlen = usize - off;
    }
    if (x->rep && n > 0 && x->nlev == 0 && x->rep[0] != 0)
        return cfail(x, FL_E_PQ_FORMAT, "first repetition level of the chunk is not 0");
    size_t nv = count_present(x, x->nlev, n);
    if ((rc = decode_values(x, h->encoding, vp, vlen, nv))) return rc;
    x->nlev += n;
    x->nval += nv;
    return FL_OK;
}

fl_rc fl_pq_reader_read_column(fl_pq_reader *r, int rg, int leaf, fl_arena *a, fl_pq_column *out, fl_err *err)
{
    memset(out, 0, sizeof *out);
    if (rg < 0 || rg >= r->nrg || leaf < 0 || leaf >= r->schema->nleaves)
        return fl_err_set(err, FL_E_ARG, "parquet reader: row group %d / column %d out of range", rg, leaf);
    pq_rctx x;
    memset(&x, 0, sizeof x);
    x.r = r;
    x.a = a;
    x.err = err;
    x.rg = rg;
    x.page = -1;
    x.nd = &r->schema->nodes[r->schema->leaves[leaf]].pub;
    x.width = out_width(x.nd);
    fl_pq_schema_path(r->schema, r->schema->leaves[leaf], x.path, sizeof x.path);
    const pq_chunk_meta *c = &r->rgs[rg].cols[leaf];
    fl_rc rc = FL_OK;
    switch (c->codec) {
    case FL_PQ_UNCOMPRESSED: case FL_PQ_SNAPPY: case FL_PQ_GZIP: case FL_PQ_ZSTD: case FL_PQ_LZ4_RAW: case PQ_CODEC_LZ4:
        break;
    default:
        return cfail(&x, FL_E_PQ_UNSUPPORTED, "compression codec %s is not supported", pq_codec_name(c->codec));
    }
    size_t nv = (size_t)c->num_values;
    size_t per = (size_t)x.width + (x.nd->max_def ? 2 : 0) + (x.nd->max_rep ? 2 : 0);
    if ((uint64_t)c->num_values > r->o.max_column_bytes / per)
        return cfail(&x, FL_E_LIMIT, "%lld values exceed the column limit of %zu bytes", (long long)c->num_values, r->o.max_column_bytes);
    if ((uint64_t)c->total_comp > r->o.max_column_bytes)
        return cfail(&x, FL_E_LIMIT, "chunk of %lld bytes exceeds the column limit", (long long)c->total_comp);
    x.cap = nv;
    x.vals = fl_arena_alloc(a, (nv ? nv : 1) * (size_t)x.width);
    if (x.nd->max_def) x.def = fl_arena_alloc(a, (nv ? nv : 1) * 2);
    if (x.nd->max_rep) x.rep = fl_arena_alloc(a, (nv ? nv : 1) * 2);
    if (!x.vals || (x.nd->max_def && !x.def) || (x.nd->max_rep && !x.rep)) return cfail(&x, FL_E_NOMEM, "out of memory for %zu values", nv);

    if (nv == 0) {
        out->values = x.vals;
        out->def_levels = x.def;
        out->rep_levels = x.rep;
        return FL_OK;
    }
    int64_t start = c->data_off;
    if (c->dict_off > 0 && c->dict_off < start) start = c->dict_off;
    size_t clen = (size_t)c->total_comp;
    /* total_compressed_size sometimes omits nothing but is cut at data_off by old writers;
     * the footer check already bounded it by the data area */
    /* Lifetime rule: nothing decoded below may point into `chunk` (the caller's memory or
     * mapping, or r->chunk, reused by every read_column call in read-at mode). Every page
     * whose bytes stay referenced (dictionary, data values) is decompressed or copied
     * into arena a first. */
    const uint8_t *chunk;
    if (r->mem) {
        chunk = r->mem + start;
    } else {
        fl_buf_clear(&r->chunk);
        if ((rc = fl_buf_reserve(&r->chunk, clen))) return cfail(&x, rc, "out of memory for a %zu byte chunk", clen);
        if ((rc = r->fn(r->ctx, (uint64_t)start, r->chunk.ptr, clen, err))) {
            fl_err_prefix(err, "column '%s', row group %d: ", x.path, rg);
            return rc;
        }
        chunk = (const uint8_t *)r->chunk.ptr;
    }
    size_t pos = 0;
    x.page = 0;
    while (x.nlev < nv) {
        if (pos >= clen) return cfail(&x, FL_E_PQ_FORMAT, "chunk ended after %zu of %zu values", x.nlev, nv);
        pq_page_hdr h;
        size_t hl = parse_page_header(&x, chunk + pos, clen - pos, &h);
        if (!hl) return FL_E_PQ_THRIFT;
        pos += hl;
        if (h.csize < 0 || (uint64_t)h.csize > clen - pos)
            return cfail(&x, FL_E_PQ_FORMAT, "compressed page size %lld past the chunk end", (long long)h.csize);
        if (h.usize < 0 || (uint64_t)h.usize > r->o.max_page_size)
            return cfail(&x, FL_E_LIMIT, "uncompressed page size %lld out of range (limit %zu)", (long long)h.usize, r->o.max_page_size);
        const uint8_t *raw = chunk + pos;
        size_t cs = (size_t)h.csize;
        pos += cs;
        if (r->o.verify_crc && h.has_crc && (h.type == PQ_PAGE_DATA || h.type == PQ_PAGE_DATA_V2 || h.type == PQ_PAGE_DICT)) {
            uLong crc = crc32(0L, Z_NULL, 0);
            for (size_t off = 0; off < cs;) { /* crc32 takes uInt lengths */
                size_t k = cs - off > (1u << 30) ? (1u << 30) : cs - off;
                crc = crc32(crc, raw + off, (uInt)k);
                off += k;
            }
            if ((uint32_t)crc != h.crc) return cfail(&x, FL_E_PQ_FORMAT, "page CRC mismatch (stored %08x, computed %08x)", h.crc, (unsigned)crc);
        }
        if (h.type == PQ_PAGE_DICT) {
            if (!h.have_sub) return cfail(&x, FL_E_PQ_FORMAT, "dictionary page without its header");
            size_t us = (size_t)h.usize;
            const uint8_t *dp = raw;
            if (c->codec != FL_PQ_UNCOMPRESSED || cs != us) {
                uint8_t *buf = fl_arena_alloc(a, us ? us : 1);
                if (!buf) return cfail(&x, FL_E_NOMEM, "out of memory");
                if ((rc = pq_decompress(&r->cc, c->codec, raw, cs, buf, us, err))) {
                    fl_err_prefix(err, "column '%s', row group %d, page %d: ", x.path, rg, x.page);
                    return rc;
                }
                dp = buf;
            } else {
                /* dictionary strings must live in the arena: `chunk` is the file mapping
                 * or, in read-at mode, r->chunk, which the next chunk read overwrites or
                 * reallocates */
                uint8_t *buf = fl_arena_alloc(a, us ? us : 1);
                if (!buf) return cfail(&x, FL_E_NOMEM, "out of memory");
                if (us) memcpy(buf, raw, us);
                dp = buf;
            }
            if ((rc = read_dict(&x, &h, dp, us))) return rc;
        } else if (h.type == PQ_PAGE_DATA || h.type == PQ_PAGE_DATA_V2) {
            if (!h.have_sub) return cfail(&x, FL_E_PQ_FORMAT, "data page without its header");
            const uint8_t *src = raw;
            if (c->codec == FL_PQ_UNCOMPRESSED || h.type == PQ_PAGE_DATA_V2) {
                /* values may be used in place: copy into the arena first */
                uint8_t *buf = fl_arena_alloc(a, cs ? cs : 1);
                if (!buf) return cfail(&x, FL_E_NOMEM, "out of memory");
                if (cs) memcpy(buf, raw, cs);
                src = buf;
            }
            if ((rc = read_data_page(&x, &h, src, cs, c->codec))) return rc;
        } else if (h.type != PQ_PAGE_INDEX) {
            return cfail(&x, FL_E_PQ_FORMAT, "unknown page type %d", h.type);
        }
        x.page++;
    }
    out->num_levels = x.nlev;
    out->def_levels = x.def;
    out->rep_levels = x.rep;
    out->num_values = x.nval;
    out->values = x.vals;
    return FL_OK;
}
