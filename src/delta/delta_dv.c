/* delta_dv.c - reading deletion vectors (module delta): the descriptor (storage type
 * 'u' relative UUID file, 'p' absolute path, 'i' inline Z85), the DV file framing
 * (version byte; at `offset`: 4-byte big-endian size, data, CRC-32), and the 64-bit
 * RoaringBitmapArray in its portable serialisation (magic 1681511377, bucket count,
 * per bucket a 32-bit key and a portable 32-bit Roaring bitmap with array, bitset and run
 * containers). Output: the deleted row indexes, sorted. Every length comes from the input
 * and is checked against the bytes present and FL_DELTA_MAX_DV_ROWS. */
#include "delta/delta_int.h"

#include <stdio.h>
#include <stdlib.h>

#define DV_MAGIC 1681511377u
#define ROARING_COOKIE_RUNS 12347u
#define ROARING_COOKIE_NORUNS 12346u

static const char z85_chars[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/* Z85-decode s (length a multiple of 5) into out (len/5*4 bytes). */
static bool z85_decode(fl_str s, uint8_t *out)
{
    if (s.len % 5) return false;
    for (size_t i = 0, o = 0; i < s.len; i += 5, o += 4) {
        uint64_t v = 0;
        for (size_t k = 0; k < 5; k++) {
            const char *p = memchr(z85_chars, s.ptr[i + k], 85);
            if (!p || !s.ptr[i + k]) return false;
            v = v * 85 + (uint64_t)(p - z85_chars);
        }
        if (v > 0xFFFFFFFFu) return false;
        out[o] = (uint8_t)(v >> 24);
        out[o + 1] = (uint8_t)(v >> 16);
        out[o + 2] = (uint8_t)(v >> 8);
        out[o + 3] = (uint8_t)v;
    }
    return true;
}

typedef struct rd {
    const uint8_t *p;
    size_t n, pos;
} rd;

static bool need(rd *r, size_t k) { return r->n - r->pos >= k; }
static uint16_t u16le(rd *r)
{
    uint16_t v = (uint16_t)(r->p[r->pos] | (r->p[r->pos + 1] << 8));
    r->pos += 2;
    return v;
}
static uint32_t u32le(rd *r)
{
    uint32_t v = (uint32_t)r->p[r->pos] | ((uint32_t)r->p[r->pos + 1] << 8) | ((uint32_t)r->p[r->pos + 2] << 16) |
                 ((uint32_t)r->p[r->pos + 3] << 24);
    r->pos += 4;
    return v;
}

typedef struct rows_out {
    fl_vec v; /* uint64_t */
    size_t max;
} rows_out;

static fl_rc push_row(rows_out *o, uint64_t row, fl_err *err)
{
    if (o->v.len >= o->max) return fl_err_set(err, FL_E_LIMIT, "deletion vector has more than %zu rows", o->max);
    if (fl_vec_push(&o->v, &row)) return fl_err_set(err, FL_E_NOMEM, "out of memory decoding a deletion vector");
    return FL_OK;
}

static fl_rc bad_dv(fl_err *err, const char *what) { return fl_err_set(err, FL_E_CORRUPT, "deletion vector: %s", what); }

/* One portable 32-bit Roaring bitmap; values get `high` as their upper 32 bits. */
static fl_rc roaring32(rd *r, uint64_t high, rows_out *o, fl_err *err)
{
    if (!need(r, 4)) return bad_dv(err, "truncated bitmap header");
    uint32_t cookie = u32le(r);
    uint32_t size;
    const uint8_t *runs = NULL;
    bool has_runs = (cookie & 0xFFFF) == ROARING_COOKIE_RUNS;
    if (has_runs) {
        size = (cookie >> 16) + 1;
        size_t rb = (size + 7) / 8;
        if (!need(r, rb)) return bad_dv(err, "truncated run bitset");
        runs = r->p + r->pos;
        r->pos += rb;
    } else if (cookie == ROARING_COOKIE_NORUNS) {
        if (!need(r, 4)) return bad_dv(err, "truncated container count");
        size = u32le(r);
    } else {
        return bad_dv(err, "unknown Roaring cookie");
    }
    if (size > 65536) return bad_dv(err, "too many containers");
    if (!need(r, (size_t)size * 4)) return bad_dv(err, "truncated container headers");
    size_t hdr = r->pos;
    r->pos += (size_t)size * 4;
    if (!has_runs || size >= 4) { /* offset header */
        if (!need(r, (size_t)size * 4)) return bad_dv(err, "truncated offsets");
        r->pos += (size_t)size * 4;
    }
    for (uint32_t c = 0; c < size; c++) {
        rd h = {r->p, r->n, hdr + (size_t)c * 4};
        uint64_t key = u16le(&h);
        uint32_t card = (uint32_t)u16le(&h) + 1;
        uint64_t base = (high << 32) | (key << 16);
        bool is_run = runs && (runs[c / 8] >> (c % 8)) & 1;
        fl_rc rc;
        if (is_run) {
            if (!need(r, 2)) return bad_dv(err, "truncated run container");
            uint32_t nruns = u16le(r);
            if (!need(r, (size_t)nruns * 4)) return bad_dv(err, "truncated runs");
            for (uint32_t k = 0; k < nruns; k++) {
                uint32_t start = u16le(r), len = (uint32_t)u16le(r) + 1;
                if (start + len > 65536) return bad_dv(err, "run past the container end");
                for (uint32_t x = 0; x < len; x++)
                    if ((rc = push_row(o, base + start + x, err)) != FL_OK) return rc;
            }
        } else if (card <= 4096) {
            if (!need(r, (size_t)card * 2)) return bad_dv(err, "truncated array container");
            for (uint32_t k = 0; k < card; k++)
                if ((rc = push_row(o, base + u16le(r), err)) != FL_OK) return rc;
        } else {
            if (!need(r, 8192)) return bad_dv(err, "truncated bitset container");
            for (uint32_t w = 0; w < 2048; w++) {
                uint32_t word = u32le(r);
                for (uint32_t b = 0; word; b++, word >>= 1)
                    if ((word & 1) && (rc = push_row(o, base + w * 32 + b, err)) != FL_OK) return rc;
            }
        }
    }
    return FL_OK;
}

/* The serialised DV: magic, bucket count (int64 LE), buckets. */
static fl_rc decode_bitmap(const uint8_t *p, size_t n, rows_out *o, fl_err *err)
{
    rd r = {p, n, 0};
    if (!need(&r, 12)) return bad_dv(err, "too short");
    if (u32le(&r) != DV_MAGIC) return bad_dv(err, "bad magic number");
    uint64_t buckets = u32le(&r);
    buckets |= (uint64_t)u32le(&r) << 32;
    if (buckets > n) return bad_dv(err, "bucket count larger than the data");
    for (uint64_t b = 0; b < buckets; b++) {
        if (!need(&r, 4)) return bad_dv(err, "truncated bucket key");
        uint64_t high = u32le(&r);
        fl_rc rc = roaring32(&r, high, o, err);
        if (rc) return rc;
    }
    return FL_OK;
}

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

fl_rc fl_delta_dv_rows(fl_delta_table *t, const fl_delta_file *f, fl_arena *a, uint64_t **rows, size_t *n, fl_err *err)
{
    *rows = NULL;
    *n = 0;
    if (f->dv.len == 0) return FL_OK;
    fl_arena scratch;
    fl_arena_init(&scratch, 0, 0);
    fl_buf buf;
    fl_buf_init(&buf, FL_DELTA_MAX_DV_BYTES);
    rows_out o = {.max = FL_DELTA_MAX_DV_ROWS};
    fl_vec_init(&o.v, sizeof(uint64_t));
    fl_rc rc = FL_OK;
    fl_json_val *d = NULL;
    FL_TRY(fl_json_parse(f->dv.ptr, f->dv.len, NULL, &scratch, &d, NULL, err));
    fl_str type = fl_json_str(fl_json_get_c(d, "storageType"));
    fl_str pv = fl_json_str(fl_json_get_c(d, "pathOrInlineDv"));
    int64_t off = 0, size = -1, card = -1;
    fl_json_as_i64(fl_json_get_c(d, "offset"), &off);
    fl_json_as_i64(fl_json_get_c(d, "sizeInBytes"), &size);
    fl_json_as_i64(fl_json_get_c(d, "cardinality"), &card);
    if (fl_str_eq_c(type, "i")) {
        uint8_t *bytes = fl_arena_alloc(&scratch, pv.len / 5 * 4 + 1);
        if (!bytes) FL_FAIL(FL_E_NOMEM, "out of memory");
        if (!z85_decode(pv, bytes)) FL_FAIL(FL_E_CORRUPT, "deletion vector: bad inline Z85 data");
        size_t len = pv.len / 5 * 4;
        if (size >= 0 && (uint64_t)size < len) len = (size_t)size;
        FL_TRY(decode_bitmap(bytes, len, &o, err));
    } else if (fl_str_eq_c(type, "u") || fl_str_eq_c(type, "p")) {
        char key[FL_STORE_MAX_KEY + 1];
        if (fl_str_eq_c(type, "u")) {
            if (pv.len < 20) FL_FAIL(FL_E_CORRUPT, "deletion vector: path id too short");
            uint8_t u[16];
            if (!z85_decode(fl_str_make(pv.ptr + pv.len - 20, 20), u))
                FL_FAIL(FL_E_CORRUPT, "deletion vector: bad Z85 file id");
            size_t plen = pv.len - 20;
            snprintf(key, sizeof key,
                     "%.*s%sdeletion_vector_%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x.bin",
                     (int)plen, pv.ptr, plen ? "/" : "", u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
                     u[10], u[11], u[12], u[13], u[14], u[15]);
        } else {
            /* absolute path: usable only when it lies under this store's root */
            const char *root = fl_store_get_url(t->st);
            fl_str p = pv;
            if (fl_str_starts_with(p, FL_STR("file://"))) p.ptr += 7, p.len -= 7;
            else if (fl_str_starts_with(p, FL_STR("file:"))) p.ptr += 5, p.len -= 5;
            size_t rl = strlen(root);
            if (p.len <= rl + 1 || memcmp(p.ptr, root, rl) != 0 || p.ptr[rl] != '/')
                FL_FAIL(FL_E_UNSUPPORTED, "deletion vector at " FL_STR_FMT " is outside the table", FL_STR_ARG(pv));
            snprintf(key, sizeof key, FL_STR_FMT, (int)(p.len - rl - 1), p.ptr + rl + 1);
        }
        if (size < 0 || off < 1) FL_FAIL(FL_E_CORRUPT, "deletion vector %s: missing offset or sizeInBytes", key);
        FL_TRY(fl_store_get_range(t->st, fl_str_c(key), (uint64_t)off, (uint64_t)size + 8, &buf, err));
        if (buf.len != (size_t)size + 8) FL_FAIL(FL_E_CORRUPT, "deletion vector %s: file too short", key);
        const uint8_t *b = (const uint8_t *)buf.ptr;
        uint32_t framed = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        if (framed != (uint32_t)size) FL_FAIL(FL_E_CORRUPT, "deletion vector %s: size %u != sizeInBytes", key, framed);
        uint32_t crc = (uint32_t)b[4 + size] << 24 | (uint32_t)b[5 + size] << 16 | (uint32_t)b[6 + size] << 8 | b[7 + size];
        if (crc != crc32_ieee(b + 4, (size_t)size)) FL_FAIL(FL_E_CORRUPT, "deletion vector %s: CRC mismatch", key);
        FL_TRY(decode_bitmap(b + 4, (size_t)size, &o, err));
    } else {
        FL_FAIL(FL_E_UNSUPPORTED, "deletion vector storage type '" FL_STR_FMT "'", FL_STR_ARG(type));
    }
    if (card >= 0 && (uint64_t)card != o.v.len)
        FL_FAIL(FL_E_CORRUPT, "deletion vector of " FL_STR_FMT ": %zu rows decoded, cardinality says %lld",
                FL_STR_ARG(f->path), o.v.len, (long long)card);
    if (o.v.len) {
        qsort(o.v.ptr, o.v.len, sizeof(uint64_t), cmp_u64);
        uint64_t *out = fl_arena_alloc(a, o.v.len * sizeof *out);
        if (!out) FL_FAIL(FL_E_NOMEM, "out of memory");
        memcpy(out, o.v.ptr, o.v.len * sizeof *out);
        *rows = out;
        *n = o.v.len;
    }
done:
    if (rc) fl_err_prefix(err, "%s: ", fl_store_get_url(t->st));
    fl_vec_reset(&o.v);
    fl_buf_reset(&buf);
    fl_arena_fini(&scratch);
    return rc;
}
