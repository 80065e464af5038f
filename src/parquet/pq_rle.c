/* pq_rle.c - RLE / bit-packed hybrid encoding of levels, dictionary indices and booleans
 * (module parquet). The encoder works on a whole page's array: at each 8-value group
 * boundary a run of >= 8 equal values becomes an RLE run, anything else is bit-packed in
 * groups of 8. The decoder is bounded by its input and never reads past it; truncated
 * bit-packed runs yield only the values actually present. */
#include "parquet/parquet_int.h"

static inline uint32_t get_val(const void *vals, int es, size_t i)
{
    return es == 1 ? ((const uint8_t *)vals)[i] : ((const uint32_t *)vals)[i];
}

static size_t run_at(const void *vals, int es, size_t i, size_t n)
{
    uint32_t v = get_val(vals, es, i);
    size_t j = i + 1;
    if (es == 1) {
        const uint8_t *p = vals;
        while (j < n && p[j] == v) j++;
    } else {
        const uint32_t *p = vals;
        while (j < n && p[j] == v) j++;
    }
    return j - i;
}

static void pack8(fl_buf *out, const void *vals, int es, size_t i, size_t n, int bw)
{
    uint8_t tmp[32];
    uint64_t acc = 0;
    int bits = 0;
    size_t k = 0;
    for (size_t j = 0; j < 8; j++) {
        uint64_t v = i + j < n ? get_val(vals, es, i + j) : 0;
        acc |= v << bits;
        bits += bw;
        while (bits >= 8) {
            tmp[k++] = (uint8_t)acc;
            acc >>= 8;
            bits -= 8;
        }
    }
    fl_buf_append(out, tmp, k);
}

void pq_rle_encode(fl_buf *out, const void *vals, int elem_size, size_t n, int bw)
{
    size_t vbytes = (size_t)(bw + 7) / 8;
    size_t i = 0;
    while (i < n) {
        size_t r = run_at(vals, elem_size, i, n);
        if (r >= 8 || (r == n - i)) {
            pq_put_varint(out, (uint64_t)r << 1);
            uint32_t v = get_val(vals, elem_size, i);
            uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
            fl_buf_append(out, b, vbytes);
            i += r;
            continue;
        }
        /* literal groups until a group that starts a run of >= 8 (or the end) */
        size_t groups = 0, j = i;
        while (j < n) {
            if (groups > 0 && run_at(vals, elem_size, j, n) >= 8) break;
            groups++;
            j += 8;
        }
        pq_put_varint(out, (uint64_t)groups << 1 | 1);
        for (size_t g = 0; g < groups; g++) pack8(out, vals, elem_size, i + g * 8, n, bw);
        i = j < n ? j : n;
    }
}

void pq_rle_dec_init(pq_rle_dec *d, const void *p, size_t n, int bit_width)
{
    d->p = p;
    d->end = d->p + n;
    d->bw = bit_width;
    d->rle_left = d->bp_left = 0;
    d->rle_val = 0;
    d->bp = NULL;
    d->bp_pos = 0;
}

static bool dec_header(pq_rle_dec *d)
{
    uint64_t h = 0;
    int shift = 0;
    for (;;) {
        if (d->p >= d->end || shift > 35) return false;
        uint8_t c = *d->p++;
        h |= (uint64_t)(c & 0x7f) << shift;
        shift += 7;
        if (!(c & 0x80)) break;
    }
    if (h & 1) {
        uint64_t count = (h >> 1) * 8;
        size_t avail = (size_t)(d->end - d->p);
        uint64_t need = d->bw ? ((h >> 1) * (uint64_t)d->bw) : 0;
        if (need > avail) count = d->bw ? (uint64_t)avail * 8 / (uint64_t)d->bw : count;
        if (count == 0) return false;
        if (count > UINT32_MAX) count = UINT32_MAX;
        d->bp = d->p;
        d->bp_pos = 0;
        d->bp_left = (uint32_t)count;
        d->p += need > avail ? avail : need;
    } else {
        uint64_t count = h >> 1;
        size_t vb = (size_t)(d->bw + 7) / 8;
        if ((size_t)(d->end - d->p) < vb || count == 0) return false;
        uint64_t v = 0;
        for (size_t k = 0; k < vb; k++) v |= (uint64_t)d->p[k] << (8 * k);
        d->p += vb;
        d->rle_val = v;
        d->rle_left = count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
    }
    return true;
}

size_t pq_rle_dec_get(pq_rle_dec *d, uint32_t *out, size_t n)
{
    size_t got = 0;
    uint64_t mask = d->bw >= 32 ? 0xffffffffu : (((uint64_t)1 << d->bw) - 1);
    while (got < n) {
        if (d->rle_left) {
            size_t k = n - got < d->rle_left ? n - got : d->rle_left;
            uint32_t v = (uint32_t)d->rle_val;
            for (size_t i = 0; i < k; i++) out[got + i] = v;
            got += k;
            d->rle_left -= (uint32_t)k;
            continue;
        }
        if (d->bp_left) {
            size_t k = n - got < d->bp_left ? n - got : d->bp_left;
            const uint8_t *bp = d->bp;
            uint64_t bit = (uint64_t)d->bp_pos * (uint64_t)d->bw;
            for (size_t i = 0; i < k; i++, bit += (uint64_t)d->bw) {
                if (d->bw == 0) {
                    out[got + i] = 0;
                    continue;
                }
                size_t byte = (size_t)(bit >> 3);
                unsigned sh = (unsigned)(bit & 7);
                uint64_t w = 0;
                size_t nb = (size_t)((sh + (unsigned)d->bw + 7) / 8);
                for (size_t b = 0; b < nb; b++) w |= (uint64_t)bp[byte + b] << (8 * b);
                out[got + i] = (uint32_t)((w >> sh) & mask);
            }
            d->bp_pos += (uint32_t)k;
            d->bp_left -= (uint32_t)k;
            got += k;
            continue;
        }
        if (!dec_header(d)) break;
    }
    return got;
}
