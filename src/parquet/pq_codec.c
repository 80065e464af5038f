/* pq_codec.c - page compression codecs: SNAPPY, GZIP, ZSTD, LZ4_RAW, Hadoop-framed LZ4
 * (module parquet). Compression appends to an fl_buf; decompression must produce exactly
 * the size the page header promised, into a caller buffer of that size, so a lying
 * header can never make us allocate more than the reader's page limit. */
#include "parquet/parquet_int.h"

#include <lz4.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

const char *pq_codec_name(int codec)
{
    switch (codec) {
    case FL_PQ_UNCOMPRESSED: return "UNCOMPRESSED";
    case FL_PQ_SNAPPY: return "SNAPPY";
    case FL_PQ_GZIP: return "GZIP";
    case PQ_CODEC_LZO: return "LZO";
    case PQ_CODEC_BROTLI: return "BROTLI";
    case PQ_CODEC_LZ4: return "LZ4";
    case FL_PQ_ZSTD: return "ZSTD";
    case FL_PQ_LZ4_RAW: return "LZ4_RAW";
    default: return "UNKNOWN";
    }
}

void pq_codec_free(pq_codec_ctx *c)
{
    if (c->zstd_c) ZSTD_freeCCtx(c->zstd_c);
    if (c->zstd_d) ZSTD_freeDCtx(c->zstd_d);
    c->zstd_c = c->zstd_d = NULL;
}

struct fl_pq_codec_cache {
    pq_codec_ctx cc;
};

fl_rc fl_pq_codec_cache_new(fl_pq_codec_cache **out, fl_err *err)
{
    *out = fl_calloc(1, sizeof **out);
    return *out ? FL_OK : fl_err_set(err, FL_E_NOMEM, "out of memory");
}

void fl_pq_codec_cache_free(fl_pq_codec_cache *c)
{
    if (!c) return;
    pq_codec_free(&c->cc);
    fl_free(c);
}

pq_codec_ctx *pq_codec_cache_ctx(fl_pq_codec_cache *c) { return &c->cc; }

static fl_rc gzip_compress(int level, const void *src, size_t n, fl_buf *out, fl_err *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, level ? level : 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return fl_err_set(err, FL_E_COMPRESS, "gzip: deflateInit failed");
    uLong bound = deflateBound(&zs, (uLong)n) + 32;
    if (fl_buf_reserve(out, bound)) {
        deflateEnd(&zs);
        return fl_err_set(err, out->rc, "gzip: cannot allocate %lu bytes", (unsigned long)bound);
    }
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)out->ptr;
    zs.avail_out = (uInt)bound;
    int zr = deflate(&zs, Z_FINISH);
    size_t produced = zs.total_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END) return fl_err_set(err, FL_E_COMPRESS, "gzip: deflate failed");
    out->len = produced;
    return FL_OK;
}

fl_rc pq_compress(pq_codec_ctx *c, int codec, int level, const void *src, size_t n, fl_buf *out,
                  fl_err *err)
{
    fl_buf_clear(out);
    switch (codec) {
    case FL_PQ_UNCOMPRESSED:
        if (fl_buf_append(out, src, n)) return fl_err_set(err, out->rc, "page buffer: out of memory");
        return FL_OK;
    case FL_PQ_SNAPPY: {
        size_t cap = snappy_max_compressed_length(n);
        if (fl_buf_reserve(out, cap)) return fl_err_set(err, out->rc, "snappy: out of memory");
        size_t clen = cap;
        if (snappy_compress(src, n, out->ptr, &clen) != SNAPPY_OK)
            return fl_err_set(err, FL_E_COMPRESS, "snappy: compression failed");
        out->len = clen;
        return FL_OK;
    }
    case FL_PQ_ZSTD: {
        if (!c->zstd_c && !(c->zstd_c = ZSTD_createCCtx()))
            return fl_err_set(err, FL_E_NOMEM, "zstd: cannot create context");
        size_t cap = ZSTD_compressBound(n);
        if (fl_buf_reserve(out, cap)) return fl_err_set(err, out->rc, "zstd: out of memory");
        size_t r = ZSTD_compressCCtx(c->zstd_c, out->ptr, cap, src, n, level ? level : 3);
        if (ZSTD_isError(r)) return fl_err_set(err, FL_E_COMPRESS, "zstd: %s", ZSTD_getErrorName(r));
        out->len = r;
        return FL_OK;
    }
    case FL_PQ_GZIP:
        return gzip_compress(level, src, n, out, err);
    case FL_PQ_LZ4_RAW: {
        if (n > (size_t)LZ4_MAX_INPUT_SIZE) return fl_err_set(err, FL_E_LIMIT, "lz4: page too large");
        int cap = LZ4_compressBound((int)n);
        if (fl_buf_reserve(out, (size_t)cap)) return fl_err_set(err, out->rc, "lz4: out of memory");
        int r = LZ4_compress_default(src, out->ptr, (int)n, cap);
        if (r <= 0) return fl_err_set(err, FL_E_COMPRESS, "lz4: compression failed");
        out->len = (size_t)r;
        return FL_OK;
    }
    default:
        return fl_err_set(err, FL_E_ARG, "unsupported codec %s for writing", pq_codec_name(codec));
    }
}

static fl_rc gzip_decompress(const void *src, size_t n, void *dst, size_t out_len, fl_err *err)
{
    /* Accept several concatenated gzip members (and zlib streams via auto-detect). */
    size_t in_off = 0, out_off = 0;
    while (in_off < n && out_off <= out_len) {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        if (inflateInit2(&zs, 15 + 32) != Z_OK) return fl_err_set(err, FL_E_COMPRESS, "gzip: init failed");
        size_t in_left = n - in_off, out_left = out_len - out_off;
        zs.next_in = (Bytef *)(uintptr_t)((const char *)src + in_off);
        zs.avail_in = (uInt)(in_left > UINT32_MAX ? UINT32_MAX : in_left);
        zs.next_out = (Bytef *)dst + out_off;
        zs.avail_out = (uInt)(out_left > UINT32_MAX ? UINT32_MAX : out_left);
        int zr = inflate(&zs, Z_FINISH);
        size_t used = zs.total_in, made = zs.total_out;
        inflateEnd(&zs);
        if (zr != Z_STREAM_END)
            return fl_err_set(err, FL_E_COMPRESS, "gzip: corrupt data or wrong uncompressed size");
        in_off += used;
        out_off += made;
        if (used == 0) break;
        /* trailing zero padding after the last member is tolerated */
        while (in_off < n && ((const uint8_t *)src)[in_off] == 0) in_off++;
    }
    if (out_off != out_len)
        return fl_err_set(err, FL_E_COMPRESS, "gzip: produced %zu bytes, page header says %zu",
                          out_off, out_len);
    return FL_OK;
}

/* Hadoop's LZ4 framing: repeated [BE u32 uncompressed][BE u32 compressed][lz4 block]. */
static fl_rc hadoop_lz4(const uint8_t *src, size_t n, uint8_t *dst, size_t out_len, fl_err *err)
{
    size_t in = 0, out = 0;
    while (in < n) {
        if (n - in < 8) return fl_err_set(err, FL_E_COMPRESS, "lz4 (hadoop): truncated frame");
        uint32_t ulen = (uint32_t)src[in] << 24 | (uint32_t)src[in + 1] << 16 | (uint32_t)src[in + 2] << 8 | src[in + 3];
        uint32_t clen = (uint32_t)src[in + 4] << 24 | (uint32_t)src[in + 5] << 16 | (uint32_t)src[in + 6] << 8 | src[in + 7];
        in += 8;
        if (clen > n - in || ulen > out_len - out || clen > INT32_MAX || ulen > INT32_MAX)
            return fl_err_set(err, FL_E_COMPRESS, "lz4 (hadoop): frame sizes out of range");
        int r = LZ4_decompress_safe((const char *)src + in, (char *)dst + out, (int)clen, (int)ulen);
        if (r != (int)ulen) return fl_err_set(err, FL_E_COMPRESS, "lz4 (hadoop): corrupt block");
        in += clen;
        out += ulen;
    }
    if (out != out_len) return fl_err_set(err, FL_E_COMPRESS, "lz4 (hadoop): wrong uncompressed size");
    return FL_OK;
}

fl_rc pq_decompress(pq_codec_ctx *c, int codec, const void *src, size_t n, void *dst,
                    size_t out_len, fl_err *err)
{
    switch (codec) {
    case FL_PQ_UNCOMPRESSED:
        if (n != out_len)
            return fl_err_set(err, FL_E_PQ_FORMAT, "uncompressed page: compressed size %zu != uncompressed size %zu", n, out_len);
        if (n) memcpy(dst, src, n);
        return FL_OK;
    case FL_PQ_SNAPPY: {
        size_t ulen;
        if (snappy_uncompressed_length(src, n, &ulen) != SNAPPY_OK || ulen != out_len)
            return fl_err_set(err, FL_E_COMPRESS, "snappy: bad header or wrong uncompressed size");
        size_t got = out_len;
        if (snappy_uncompress(src, n, dst, &got) != SNAPPY_OK || got != out_len)
            return fl_err_set(err, FL_E_COMPRESS, "snappy: corrupt data");
        return FL_OK;
    }
    case FL_PQ_ZSTD: {
        if (!c->zstd_d && !(c->zstd_d = ZSTD_createDCtx()))
            return fl_err_set(err, FL_E_NOMEM, "zstd: cannot create context");
        size_t r = ZSTD_decompressDCtx(c->zstd_d, dst, out_len, src, n);
        if (ZSTD_isError(r)) return fl_err_set(err, FL_E_COMPRESS, "zstd: %s", ZSTD_getErrorName(r));
        if (r != out_len) return fl_err_set(err, FL_E_COMPRESS, "zstd: wrong uncompressed size");
        return FL_OK;
    }
    case FL_PQ_GZIP:
        return gzip_decompress(src, n, dst, out_len, err);
    case FL_PQ_LZ4_RAW: {
        if (n > INT32_MAX || out_len > INT32_MAX) return fl_err_set(err, FL_E_LIMIT, "lz4: page too large");
        int r = LZ4_decompress_safe(src, dst, (int)n, (int)out_len);
        if (r != (int)out_len) return fl_err_set(err, FL_E_COMPRESS, "lz4_raw: corrupt data or wrong size");
        return FL_OK;
    }
    case PQ_CODEC_LZ4: {
        /* The deprecated LZ4 codec: try Hadoop framing first, then a raw block (some old
         * writers used raw blocks under this id). */
        fl_rc rc = hadoop_lz4(src, n, dst, out_len, NULL);
        if (rc == FL_OK) return FL_OK;
        if (n <= INT32_MAX && out_len <= INT32_MAX &&
            LZ4_decompress_safe(src, dst, (int)n, (int)out_len) == (int)out_len)
            return FL_OK;
        return fl_err_set(err, FL_E_COMPRESS, "lz4: neither hadoop-framed nor raw block data");
    }
    default:
        return fl_err_set(err, FL_E_PQ_UNSUPPORTED, "compression codec %s is not supported",
                          pq_codec_name(codec));
    }
}
