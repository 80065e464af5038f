/* pq_wcol.c - encoding of one column chunk for the writer (module parquet).
 * Values arrive with their levels; they go into the current page either as dictionary
 * indices (RLE_DICTIONARY) or PLAIN bytes. When the dictionary passes opts.dict_page_limit
 * the chunk falls back to PLAIN at the next record boundary. A page is cut at a record
 * boundary once it reaches opts.page_size, encoded (data page v1: rep levels, def levels,
 * values), compressed and appended to the chunk buffer; the chunk is written through the
 * sink when the row group is flushed. Statistics are kept per chunk and per file. */
#include "parquet/pq_writer_int.h"

/* ---------------------------------------------------------------- helpers */

static void *grow(void *p, size_t *cap, size_t need, size_t elem, fl_rc *rc)
{
    if (need <= *cap) return p;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need) nc *= 2;
    void *np = fl_realloc(p, nc * elem);
    if (!np) {
        *rc = FL_E_NOMEM;
        return p;
    }
    *cap = nc;
    return np;
}

static inline uint32_t hash_bytes(const void *p, size_t n)
{
    const uint8_t *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)s[i] << (8 * i);
    h = (h ^ v) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return (uint32_t)h;
}

static inline uint32_t hash_u64(uint64_t v)
{
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdull;
    v ^= v >> 33;
    return (uint32_t)v;
}

/* ---------------------------------------------------------------- stats */

static void stat_reset(pq_stat *s)
{
    s->has = false;
    s->nulls = s->values = s->nans = 0;
    fl_buf_clear(&s->minb);
    fl_buf_clear(&s->maxb);
}

/* Copy a byte min/max into b. On allocation failure the slice is left empty and b->rc
 * keeps the error, which pq_wcol_flush_page reports. */
static void stat_set_bytes(fl_buf *b, fl_pq_scalar *sc, const void *p, size_t n)
{
    fl_rc rc = b->rc;
    fl_buf_clear(b);
    if (!rc) rc = fl_buf_append(b, p, n);
    b->rc = rc;
    sc->v.bytes = fl_str_make(b->ptr ? b->ptr : "", rc ? 0 : n);
}

static void stat_bytes(pq_stat *s, const fl_pq_type *t, int sort, const void *p, size_t n)
{
    if (sort == 2) return;
    fl_pq_scalar v;
    v.phys = t->phys;
    v.v.bytes = fl_str_make(p, n);
    if (!s->has) {
        s->has = true;
        stat_set_bytes(&s->minb, &s->min, p, n);
        stat_set_bytes(&s->maxb, &s->max, p, n);
        return;
    }
    if (pq_scalar_cmp(t, &v, &s->min) < 0) stat_set_bytes(&s->minb, &s->min, p, n);
    else if (pq_scalar_cmp(t, &v, &s->max) > 0) stat_set_bytes(&s->maxb, &s->max, p, n);
}

/* Merge chunk stats into file stats. */
static void stat_merge(pq_stat *f, const pq_stat *c, const fl_pq_type *t)
{
    f->nulls += c->nulls;
    f->values += c->values;
    f->nans += c->nans;
    if (!c->has) return;
    bool bytes = t->phys == FL_PQ_BYTE_ARRAY || t->phys == FL_PQ_FIXED_LEN_BYTE_ARRAY;
    if (!f->has) {
        f->has = true;
        f->min = c->min;
        f->max = c->max;
        if (bytes) {
            stat_set_bytes(&f->minb, &f->min, c->min.v.bytes.ptr, c->min.v.bytes.len);
            stat_set_bytes(&f->maxb, &f->max, c->max.v.bytes.ptr, c->max.v.bytes.len);
        }
        return;
    }
    if (pq_scalar_cmp(t, &c->min, &f->min) < 0) {
        if (bytes) stat_set_bytes(&f->minb, &f->min, c->min.v.bytes.ptr, c->min.v.bytes.len);
        else f->min = c->min;
    }
    if (pq_scalar_cmp(t, &c->max, &f->max) > 0) {
        if (bytes) stat_set_bytes(&f->maxb, &f->max, c->max.v.bytes.ptr, c->max.v.bytes.len);
        else f->max = c->max;
    }
}

void pq_stat_to_scalar_out(const pq_wcol *c, const pq_stat *s, fl_pq_stats *out)
{
    memset(out, 0, sizeof *out);
    out->num_values = s->values;
    out->null_count = s->nulls;
    bool fp = c->t.phys == FL_PQ_FLOAT || c->t.phys == FL_PQ_DOUBLE;
    out->nan_count = fp ? s->nans : -1;
    out->has_min_max = s->has && c->sort != 2;
    out->min_exact = out->max_exact = true;
    out->min = s->min;
    out->max = s->max;
    out->min.phys = out->max.phys = c->t.phys;
}

/* ---------------------------------------------------------------- dictionary */

static void dict_clear(pq_dict *d)
{
    if (d->slots) memset(d->slots, 0, d->cap * sizeof *d->slots);
    d->count = 0;
    d->uses = 0;
    fl_buf_clear(&d->data);
}

static void dict_free(pq_dict *d)
{
    fl_free(d->slots);
    fl_free(d->offs);
    fl_buf_reset(&d->data);
    memset(d, 0, sizeof *d);
}

static inline bool bytes_eq(const void *a, const void *b, size_t n)
{
    if (n == 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        return x == y;
    }
    if (n == 4) {
        uint32_t x, y;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        return x == y;
    }
    return memcmp(a, b, n) == 0;
}

/* Append an optional 4-byte little-endian length and n bytes to b with one capacity
 * check (fl_buf_append semantics: on failure b->rc keeps the error). */
static inline void buf_put_lv(fl_buf *b, bool with_len, const void *p, size_t n)
{
    size_t need = n + (with_len ? 4 : 0);
    if (FL_UNLIKELY(b->len + need + 1 > b->cap || b->rc) && fl_buf_reserve(b, need)) return;
    uint8_t *q = (uint8_t *)b->ptr + b->len;
    if (with_len) {
        pq_le32(q, (uint32_t)n);
        q += 4;
    }
    if (n) memcpy(q, p, n);
    b->len += need;
    b->ptr[b->len] = 0;
}

/* Slots carry hash and entry (8 bytes: 8 per cache line, and a chunk that falls back to
 * PLAIN after 16 Ki distinct values touches 256 KiB of slots); on a hash match the entry's
 * offset leads to its bytes (BYTE_ARRAY: length prefix just before them). */
static bool dict_rehash(pq_wcol *c)
{
    pq_dict *d = &c->dict;
    size_t nc = d->cap ? d->cap * 2 : 1024;
    pq_dslot *ns = fl_calloc(nc, sizeof *ns);
    if (!ns) return false;
    for (size_t k = 0; k < d->cap; k++) {
        pq_dslot sl = d->slots[k];
        if (!sl.idx1) continue;
        size_t i = sl.hash & (nc - 1);
        while (ns[i].idx1) i = (i + 1) & (nc - 1);
        ns[i] = sl;
    }
    fl_free(d->slots);
    d->slots = ns;
    d->cap = nc;
    return true;
}

/* Index of the value in the dictionary, adding it if new (*added). -1 on failure. */
static int64_t dict_get(pq_wcol *c, const void *p, size_t n, uint32_t h, bool *added)
{
    pq_dict *d = &c->dict;
    *added = false;
    /* load factor up to 3/4: a chunk that falls back after 16 Ki distinct values stays at 32 Ki slots */
    if (FL_UNLIKELY((d->count + 1) * 4 > d->cap * 3) && !dict_rehash(c)) return -1;
    size_t i = h & (d->cap - 1);
    for (;;) {
        const pq_dslot *sl = &d->slots[i];
        if (!sl->idx1) break;
        if (sl->hash == h) {
            const uint8_t *q = (const uint8_t *)d->data.ptr + d->offs[sl->idx1 - 1];
            size_t len = c->width ? (size_t)c->width
                                  : ((size_t)q[-4] | (size_t)q[-3] << 8 | (size_t)q[-2] << 16 | (size_t)q[-1] << 24);
            if (len == n && bytes_eq(q, p, n)) return (int64_t)sl->idx1 - 1;
        }
        i = (i + 1) & (d->cap - 1);
    }
    if (d->count >= UINT32_MAX - 1) return -1;
    size_t off = d->data.len + (c->width ? 0 : 4);
    if (off > UINT32_MAX - n) return -1;
    if (d->count == d->offcap) {
        fl_rc grc = FL_OK;
        d->offs = grow(d->offs, &d->offcap, d->count + 1, sizeof *d->offs, &grc);
        if (grc) return -1;
    }
    buf_put_lv(&d->data, !c->width, p, n);
    if (d->data.rc) return -1;
    d->offs[d->count] = (uint32_t)off;
    d->slots[i].hash = h;
    d->slots[i].idx1 = (uint32_t)d->count + 1;
    *added = true;
    return (int64_t)d->count++;
}

static inline void push_idx(pq_wcol *c, int64_t ix)
{
    if (ix < 0) {
        c->rc = FL_E_NOMEM;
        return;
    }
    if (c->nidx == c->idxcap) {
        c->idx = grow(c->idx, &c->idxcap, c->nidx + 1, sizeof *c->idx, &c->rc);
        if (c->nidx == c->idxcap) return;
    }
    c->idx[c->nidx++] = (uint32_t)ix;
    c->dict.uses++;
}

/* Add the byte string p[0..n) to the page's dictionary and its index to the page; true when it
 * was new to the dictionary (only then can it change the statistics). */
static inline bool dict_put_bytes(pq_wcol *c, const char *p, size_t n)
{
    bool added;
    push_idx(c, dict_get(c, p, n, hash_bytes(p, n), &added));
    return added;
}

/* Fall back to PLAIN? Past dict_page_limit the dictionary is kept only while it pays off
 * (values repeat: at least 5 uses per 4 entries) and stays under 8x the limit; FHIR
 * references (Patient/123) repeat, ids and timestamps do not. A column whose first 16 Ki
 * values are more than 98% distinct falls back at once. */
static bool dict_over(const fl_pq_writer *w, const pq_wcol *c)
{
    size_t len = c->dict.data.len, lim = w->o.dict_page_limit;
    /* nearly all distinct after 16 Ki values (ids, timestamps, measurements): stop early */
    if (c->dict.uses >= 16384 && (uint64_t)c->dict.count * 50 > c->dict.uses * 49) return true;
    if (len <= lim) return false;
    if (len > lim * 8) return true;
    return c->dict.uses * 4 < (uint64_t)c->dict.count * 5;
}

/* ---------------------------------------------------------------- values */

void pq_wcol_bool(pq_wcol *c, bool v)
{
    uint8_t b = v;
    fl_buf_append(&c->vals, &b, 1);
    c->page_nvals++;
    pq_stat *s = &c->cst;
    if (!s->has) {
        s->has = true;
        s->min.v.b = s->max.v.b = v;
    } else if (v) {
        s->max.v.b = true;
    } else {
        s->min.v.b = false;
    }
}

#define STAT_NUM(s, field, v, lt)                                                                  \
    do {                                                                                           \
        if (!(s)->has) {                                                                           \
            (s)->has = true;                                                                       \
            (s)->min.v.field = (s)->max.v.field = (v);                                             \
        } else if (lt((v), (s)->min.v.field)) {                                                    \
            (s)->min.v.field = (v);                                                                \
        } else if (lt((s)->max.v.field, (v))) {                                                    \
            (s)->max.v.field = (v);                                                                \
        }                                                                                          \
    } while (0)
#define LT_S(a, b) ((a) < (b))
#define LT_U32(a, b) ((uint32_t)(a) < (uint32_t)(b))
#define LT_U64(a, b) ((uint64_t)(a) < (uint64_t)(b))

static inline void put_fixed(pq_wcol *c, const void *p, size_t n, uint64_t bits)
{
    c->page_nvals++;
    if (c->page_dict) {
        bool added;
        int64_t ix = dict_get(c, p, n, hash_u64(bits), &added);
        push_idx(c, ix);
    } else {
        fl_buf_append(&c->vals, p, n);
    }
}

void pq_wcol_i32(pq_wcol *c, int32_t v)
{
    if (c->sort == 1) STAT_NUM(&c->cst, i32, v, LT_U32);
    else STAT_NUM(&c->cst, i32, v, LT_S);
    uint8_t b[4];
    pq_le32(b, (uint32_t)v);
    put_fixed(c, b, 4, (uint32_t)v);
}

void pq_wcol_i64(pq_wcol *c, int64_t v)
{
    if (c->sort == 1) STAT_NUM(&c->cst, i64, v, LT_U64);
    else STAT_NUM(&c->cst, i64, v, LT_S);
    uint8_t b[8];
    pq_le32(b, (uint32_t)v);
    pq_le32(b + 4, (uint32_t)((uint64_t)v >> 32));
    put_fixed(c, b, 8, (uint64_t)v);
}

void pq_wcol_f32(pq_wcol *c, float v)
{
    if (v != v) c->cst.nans++;
    else STAT_NUM(&c->cst, f32, v, LT_S);
    uint32_t u;
    memcpy(&u, &v, 4);
    uint8_t b[4];
    pq_le32(b, u);
    put_fixed(c, b, 4, u);
}

void pq_wcol_f64(pq_wcol *c, double v)
{
    if (v != v) c->cst.nans++;
    else STAT_NUM(&c->cst, f64, v, LT_S);
    uint64_t u;
    memcpy(&u, &v, 8);
    uint8_t b[8];
    pq_le32(b, (uint32_t)u);
    pq_le32(b + 4, (uint32_t)(u >> 32));
    put_fixed(c, b, 8, u);
}

void pq_wcol_bytes(pq_wcol *c, const void *p, size_t n)
{
    if (!p) p = "";
    c->page_nvals++;
    if (c->width) { /* FIXED_LEN_BYTE_ARRAY: the caller checked n == width */
        if (c->page_dict) {
            if (dict_put_bytes(c, p, n)) stat_bytes(&c->cst, &c->t, c->sort, p, n);
        } else {
            fl_buf_append(&c->vals, p, n);
            stat_bytes(&c->cst, &c->t, c->sort, p, n);
        }
        return;
    }
    if (n > UINT32_MAX - 4) {
        c->rc = FL_E_LIMIT;
        return;
    }
    if (c->page_dict) {
        if (dict_put_bytes(c, p, n)) stat_bytes(&c->cst, &c->t, c->sort, p, n);
        return;
    }
    buf_put_lv(&c->vals, true, p, n);
    stat_bytes(&c->cst, &c->t, c->sort, p, n);
}

/* BYTE_ARRAY values of one flat run: as pq_wcol_bytes per value, but the run's min and
 * max are found by comparing pointers into the caller's vector and copied into the
 * statistics once per run (sorted input would otherwise copy every value as a new max). */
static void flat_bytes(pq_wcol *c, const fl_str *vv, const uint8_t *vd, size_t k)
{
    const fl_str *mn = NULL, *mx = NULL;
    bool stats = c->sort != 2;
    fl_pq_scalar a, b;
    a.phys = b.phys = c->t.phys;
    for (size_t i = 0; i < k; i++) {
        if (vd && !vd[i]) continue;
        const char *p = vv[i].ptr ? vv[i].ptr : "";
        size_t n = vv[i].len;
        c->page_nvals++;
        if (n > UINT32_MAX - 4) {
            c->rc = FL_E_LIMIT;
            return;
        }
        if (c->page_dict) {
            if (!dict_put_bytes(c, p, n)) continue;
        } else {
            buf_put_lv(&c->vals, true, p, n);
        }
        if (!stats) continue;
        if (!mn) {
            mn = mx = &vv[i];
            continue;
        }
        /* max first: ascending input (ids, timestamps as text) then costs one compare */
        a.v.bytes = fl_str_make(p, n);
        b.v.bytes = fl_str_make(mx->ptr ? mx->ptr : "", mx->len);
        if (pq_scalar_cmp(&c->t, &a, &b) > 0) {
            mx = &vv[i];
            continue;
        }
        b.v.bytes = fl_str_make(mn->ptr ? mn->ptr : "", mn->len);
        if (pq_scalar_cmp(&c->t, &a, &b) < 0) mn = &vv[i];
    }
    if (!mn) return;
    stat_bytes(&c->cst, &c->t, c->sort, mn->ptr ? mn->ptr : "", mn->len);
    if (mx != mn) stat_bytes(&c->cst, &c->t, c->sort, mx->ptr ? mx->ptr : "", mx->len);
}

/* ---------------------------------------------------------------- levels and pages */

static size_t page_estimate(const pq_wcol *c)
{
    size_t v = c->page_dict ? (c->nidx * (size_t)pq_bit_width(c->dict.count) + 7) / 8 : c->vals.len;
    return v + c->nlev * (size_t)(c->def_bw + c->rep_bw) / 8;
}

/* At a record boundary: cut the page if it is full, and leave the dictionary if it no
 * longer pays. */
static inline void record_boundary(fl_pq_writer *w, pq_wcol *c)
{
    if (!c->nlev) return;
    bool over = c->page_dict && dict_over(w, c);
    if (over || page_estimate(c) >= w->o.page_size) {
        if (pq_wcol_flush_page(w, c) && !w->rc) w->rc = c->rc ? c->rc : FL_E_INTERNAL;
        if (over) c->dict.active = false;
        c->page_dict = c->dict.active;
    }
}

void pq_wcol_levels(fl_pq_writer *w, pq_wcol *c, int rep, int def)
{
    if (rep == 0) record_boundary(w, c);
    if (c->max_def && c->nlev == c->defcap) c->def = grow(c->def, &c->defcap, c->nlev + 1, 1, &c->rc);
    if (c->max_rep && c->nlev == c->repcap) c->rep = grow(c->rep, &c->repcap, c->nlev + 1, 1, &c->rc);
    if (FL_UNLIKELY(c->rc)) return;
    if (c->max_def) c->def[c->nlev] = (uint8_t)def;
    if (c->max_rep) c->rep[c->nlev] = (uint8_t)rep;
    c->nlev++;
    if (def < c->max_def) c->cst.nulls++;
    c->cst.values++;
}

/* Flat columns (no repetition) from a batch vector, in runs of PQ_FLAT_RUN rows: the
 * page/dictionary checks run once per run (a page may pass page_size by one run), the
 * definition levels are filled in bulk and the value loop is specialised per type. */
#define PQ_FLAT_RUN 256
void pq_wcol_put_flat(fl_pq_writer *w, pq_wcol *c, const void *values, const uint8_t *valid, size_t n)
{
    for (size_t r0 = 0; r0 < n && !w->rc; r0 += PQ_FLAT_RUN) {
        size_t k = n - r0 < PQ_FLAT_RUN ? n - r0 : PQ_FLAT_RUN;
        const uint8_t *vd = valid ? valid + r0 : NULL;
        record_boundary(w, c);
        if (c->max_def) {
            if (c->nlev + k > c->defcap) c->def = grow(c->def, &c->defcap, c->nlev + k, 1, &c->rc);
            if (FL_UNLIKELY(c->rc)) return;
            size_t nulls = 0;
            for (size_t i = 0; i < k; i++) {
                uint8_t d = vd ? (vd[i] != 0) : 1;
                c->def[c->nlev + i] = d;
                nulls += d ^ 1u;
            }
            c->cst.nulls += (int64_t)nulls;
        }
        c->nlev += k;
        c->cst.values += (int64_t)k;
#define FLAT_LOOP(T, put)                                                                          \
    do {                                                                                           \
        const T *vv = (const T *)values + r0;                                                      \
        for (size_t i = 0; i < k; i++)                                                             \
            if (!vd || vd[i]) put;                                                                 \
    } while (0)
        switch (c->t.phys) {
        case FL_PQ_BOOLEAN: FLAT_LOOP(uint8_t, pq_wcol_bool(c, vv[i] != 0)); break;
        case FL_PQ_INT32: FLAT_LOOP(int32_t, pq_wcol_i32(c, vv[i])); break;
        case FL_PQ_INT64: FLAT_LOOP(int64_t, pq_wcol_i64(c, vv[i])); break;
        case FL_PQ_FLOAT: FLAT_LOOP(float, pq_wcol_f32(c, vv[i])); break;
        case FL_PQ_DOUBLE: FLAT_LOOP(double, pq_wcol_f64(c, vv[i])); break;
        case FL_PQ_FIXED_LEN_BYTE_ARRAY:
            FLAT_LOOP(fl_str, (vv[i].len == (size_t)c->t.type_length ? pq_wcol_bytes(c, vv[i].ptr, vv[i].len)
                                                                       : (void)(c->rc = FL_E_ARG)));
            break;
        default: flat_bytes(c, (const fl_str *)values + r0, vd, k); break;
        }
#undef FLAT_LOOP
    }
}

static void put_level_block(fl_buf *page, const uint8_t *lv, size_t n, int bw)
{
    size_t at = page->len;
    uint8_t z[4] = {0, 0, 0, 0};
    fl_buf_append(page, z, 4);
    pq_rle_encode(page, lv, 1, n, bw);
    if (!page->rc) pq_le32((uint8_t *)page->ptr + at, (uint32_t)(page->len - at - 4));
}

static fl_rc page_out(fl_pq_writer *w, pq_wcol *c, int type, int32_t nvals, int enc, fl_buf *page)
{
    fl_rc rc = FL_OK;
    fl_err *err = &w->err;
    if (page->rc) FL_FAIL(page->rc, "column '%s': page buffer: %s", c->nd->name, fl_rc_str(page->rc));
    if (page->len > INT32_MAX) FL_FAIL(FL_E_LIMIT, "column '%s': page larger than 2 GiB", c->nd->name);
    FL_TRY(pq_compress(w->o.codec_cache ? pq_codec_cache_ctx(w->o.codec_cache) : &w->cc, (int)w->o.codec, w->o.codec_level, page->ptr ? page->ptr : "", page->len,
                       &w->comp, err));
    if (w->comp.len > INT32_MAX) FL_FAIL(FL_E_LIMIT, "column '%s': page larger than 2 GiB", c->nd->name);
    fl_buf_clear(&w->hdr);
    pq_tw t;
    pq_tw_init(&t, &w->hdr);
    pq_tw_i32(&t, 1, type);
    pq_tw_i32(&t, 2, (int32_t)page->len);
    pq_tw_i32(&t, 3, (int32_t)w->comp.len);
    if (type == PQ_PAGE_DICT) {
        pq_tw_struct_begin(&t, 7);
        pq_tw_i32(&t, 1, nvals);
        pq_tw_i32(&t, 2, PQ_ENC_PLAIN);
        pq_tw_struct_end(&t);
    } else {
        pq_tw_struct_begin(&t, 5);
        pq_tw_i32(&t, 1, nvals);
        pq_tw_i32(&t, 2, enc);
        pq_tw_i32(&t, 3, PQ_ENC_RLE);
        pq_tw_i32(&t, 4, PQ_ENC_RLE);
        pq_tw_struct_end(&t);
    }
    pq_tw_stop(&t);
    if (w->hdr.rc) FL_FAIL(w->hdr.rc, "column '%s': page header: %s", c->nd->name, fl_rc_str(w->hdr.rc));
    c->chunk_uncomp += (int64_t)(w->hdr.len + page->len);
    if (type == PQ_PAGE_DICT) {
        /* the dictionary page goes straight to the sink ahead of the data pages */
        FL_TRY(pq_emit(w, w->hdr.ptr, w->hdr.len));
        FL_TRY(pq_emit(w, w->comp.ptr, w->comp.len));
    } else {
        fl_buf_append(&c->chunk, w->hdr.ptr, w->hdr.len);
        fl_buf_append(&c->chunk, w->comp.ptr, w->comp.len);
        if (c->chunk.rc)
            FL_FAIL(c->chunk.rc, "column '%s': column chunk buffer: %s", c->nd->name, fl_rc_str(c->chunk.rc));
    }
done:
    return rc;
}

fl_rc pq_wcol_flush_page(fl_pq_writer *w, pq_wcol *c)
{
    fl_rc rc = FL_OK;
    fl_err *err = &w->err;
    if (c->rc) FL_FAIL(c->rc, "column '%s': %s", c->nd->name, fl_rc_str(c->rc));
    if (c->vals.rc) FL_FAIL(c->vals.rc, "column '%s': values: %s", c->nd->name, fl_rc_str(c->vals.rc));
    if (c->dict.data.rc) FL_FAIL(c->dict.data.rc, "column '%s': dictionary: %s", c->nd->name, fl_rc_str(c->dict.data.rc));
    if (c->cst.minb.rc || c->cst.maxb.rc || c->fst.minb.rc || c->fst.maxb.rc)
        FL_FAIL(FL_E_NOMEM, "column '%s': statistics: out of memory", c->nd->name);
    if (c->nlev == 0) return FL_OK;
    if (c->nlev > INT32_MAX) FL_FAIL(FL_E_LIMIT, "column '%s': too many values in one page", c->nd->name);
    fl_buf *page = &w->page;
    fl_buf_clear(page);
    if (c->max_rep) put_level_block(page, c->rep, c->nlev, c->rep_bw);
    if (c->max_def) put_level_block(page, c->def, c->nlev, c->def_bw);
    int enc = PQ_ENC_PLAIN;
    if (c->page_dict) {
        int bw = pq_bit_width(c->dict.count ? c->dict.count - 1 : 0);
        if (bw == 0) bw = 1;
        uint8_t b = (uint8_t)bw;
        fl_buf_append(page, &b, 1);
        pq_rle_encode(page, c->idx, 4, c->nidx, bw);
        enc = PQ_ENC_RLE_DICTIONARY;
        c->used_dict_page = true;
    } else if (c->t.phys == FL_PQ_BOOLEAN) {
        const uint8_t *bv = (const uint8_t *)c->vals.ptr;
        size_t n = c->vals.len;
        size_t at = page->len;
        if (fl_buf_reserve(page, (n + 7) / 8) == FL_OK) {
            uint8_t *o = (uint8_t *)page->ptr + at;
            memset(o, 0, (n + 7) / 8);
            for (size_t i = 0; i < n; i++)
                if (bv[i]) o[i >> 3] |= (uint8_t)(1u << (i & 7));
            page->len += (n + 7) / 8;
        }
        c->used_plain_page = true;
    } else {
        fl_buf_append(page, c->vals.ptr ? c->vals.ptr : "", c->vals.len);
        c->used_plain_page = true;
    }
    FL_TRY(page_out(w, c, PQ_PAGE_DATA, (int32_t)c->nlev, enc, page));
    c->chunk_levels += (int64_t)c->nlev;
    c->nlev = 0;
    c->nidx = 0;
    c->page_nvals = 0;
    fl_buf_clear(&c->vals);
done:
    if (rc && !w->rc) w->rc = rc;
    return rc;
}

size_t pq_wcol_buffered(const pq_wcol *c)
{
    return (size_t)c->chunk_uncomp + c->dict.data.len + c->vals.len + c->nidx * 2 + c->nlev / 4;
}

/* ---------------------------------------------------------------- chunk */

static void put_stat_value(pq_tw *t, int16_t id, const pq_wcol *c, const fl_pq_scalar *v, bool is_max,
                           bool *exact)
{
    uint8_t b[8];
    *exact = true;
    switch (c->t.phys) {
    case FL_PQ_BOOLEAN:
        b[0] = v->v.b;
        pq_tw_bin(t, id, b, 1);
        return;
    case FL_PQ_INT32:
        pq_le32(b, (uint32_t)v->v.i32);
        pq_tw_bin(t, id, b, 4);
        return;
    case FL_PQ_INT64:
        pq_le32(b, (uint32_t)v->v.i64);
        pq_le32(b + 4, (uint32_t)((uint64_t)v->v.i64 >> 32));
        pq_tw_bin(t, id, b, 8);
        return;
    case FL_PQ_FLOAT: {
        float f = v->v.f32;
        if (f == 0) f = is_max ? 0.0f : -0.0f;
        uint32_t u;
        memcpy(&u, &f, 4);
        pq_le32(b, u);
        pq_tw_bin(t, id, b, 4);
        return;
    }
    case FL_PQ_DOUBLE: {
        double d = v->v.f64;
        if (d == 0) d = is_max ? 0.0 : -0.0;
        uint64_t u;
        memcpy(&u, &d, 8);
        pq_le32(b, (uint32_t)u);
        pq_le32(b + 4, (uint32_t)(u >> 32));
        pq_tw_bin(t, id, b, 8);
        return;
    }
    default: {
        fl_str s = v->v.bytes;
        if (s.len <= PQ_STATS_MAX_BYTES || c->t.phys == FL_PQ_FIXED_LEN_BYTE_ARRAY) {
            pq_tw_bin(t, id, s.ptr, s.len);
            return;
        }
        *exact = false;
        size_t n = PQ_STATS_MAX_BYTES;
        bool utf8 = c->t.logical == FL_PQ_LT_STRING || c->t.logical == FL_PQ_LT_JSON;
        if (utf8)
            while (n > 0 && ((uint8_t)s.ptr[n] & 0xC0) == 0x80) n--; /* char boundary */
        if (!is_max) {
            pq_tw_bin(t, id, s.ptr, n);
            return;
        }
        /* max: bump the last byte that can grow (ASCII only for UTF-8, so the result
         * stays valid UTF-8) and cut after it */
        char tmp[PQ_STATS_MAX_BYTES];
        memcpy(tmp, s.ptr, n);
        for (size_t i = n; i-- > 0;) {
            uint8_t ch = (uint8_t)tmp[i];
            if (utf8 ? ch < 0x7f : ch < 0xff) {
                tmp[i] = (char)(ch + 1);
                pq_tw_bin(t, id, tmp, i + 1);
                return;
            }
        }
        pq_tw_bin(t, id, s.ptr, s.len); /* cannot shorten: write it whole */
        *exact = true;
    }
    }
}

static void put_stats(fl_pq_writer *w, pq_tw *t, const pq_wcol *c, const pq_stat *s)
{
    pq_tw_struct_begin(t, 12);
    bool mm = s->has && c->sort != 2 && !(w->o.flags & FL_PQ_W_NO_STATS);
    bool legacy = mm && c->sort == 0 && c->t.phys != FL_PQ_FIXED_LEN_BYTE_ARRAY &&
                  c->t.phys != FL_PQ_BYTE_ARRAY;
    bool ex;
    if (legacy) {
        put_stat_value(t, 1, c, &s->max, true, &ex);
        put_stat_value(t, 2, c, &s->min, false, &ex);
    }
    pq_tw_i64(t, 3, s->nulls);
    if (mm) {
        bool exmax, exmin;
        put_stat_value(t, 5, c, &s->max, true, &exmax);
        put_stat_value(t, 6, c, &s->min, false, &exmin);
        pq_tw_bool(t, 7, exmax);
        pq_tw_bool(t, 8, exmin);
    }
    pq_tw_struct_end(t);
}

fl_rc pq_wcol_write_chunk(fl_pq_writer *w, pq_wcol *c, pq_tw *t, int64_t *uncomp, int64_t *comp)
{
    fl_rc rc = FL_OK;
    FL_TRY(pq_wcol_flush_page(w, c));
    uint64_t start = w->written;
    int64_t dict_off = -1;
    if (c->used_dict_page) {
        dict_off = (int64_t)start;
        fl_buf_clear(&w->page);
        FL_TRY(page_out(w, c, PQ_PAGE_DICT, (int32_t)c->dict.count, PQ_ENC_PLAIN, &c->dict.data));
    }
    int64_t data_off = (int64_t)w->written;
    FL_TRY(pq_emit(w, c->chunk.ptr, c->chunk.len));
    int64_t total_comp = (int64_t)(w->written - start);
    *uncomp += c->chunk_uncomp;
    *comp += total_comp;

    /* ColumnChunk */
    pq_tw_elem_struct_begin(t);
    pq_tw_i64(t, 2, dict_off >= 0 ? dict_off : data_off);
    pq_tw_struct_begin(t, 3);
    pq_tw_i32(t, 1, (int32_t)c->t.phys);
    int encs[4], ne = 0;
    encs[ne++] = PQ_ENC_PLAIN; /* dictionary pages and plain pages */
    encs[ne++] = PQ_ENC_RLE;
    if (c->used_dict_page) encs[ne++] = PQ_ENC_RLE_DICTIONARY;
    pq_tw_list_begin(t, 2, TT_I32, (size_t)ne);
    for (int i = 0; i < ne; i++) pq_tw_elem_i32(t, encs[i]);
    int chain[PQ_MAX_SCHEMA_DEPTH + 2], depth = 0;
    for (int a = c->node; a > 0; a = w->schema->nodes[a].pub.parent) chain[depth++] = a;
    pq_tw_list_begin(t, 3, TT_BINARY, (size_t)depth);
    for (int i = depth - 1; i >= 0; i--) {
        const char *nm = w->schema->nodes[chain[i]].pub.name;
        pq_tw_elem_bin(t, nm, strlen(nm));
    }
    pq_tw_i32(t, 4, (int32_t)w->o.codec);
    pq_tw_i64(t, 5, c->chunk_levels);
    pq_tw_i64(t, 6, c->chunk_uncomp);
    pq_tw_i64(t, 7, total_comp);
    pq_tw_i64(t, 9, data_off);
    if (dict_off >= 0) pq_tw_i64(t, 11, dict_off);
    put_stats(w, t, c, &c->cst);
    pq_tw_struct_end(t); /* ColumnMetaData */
    pq_tw_struct_end(t); /* ColumnChunk */

    /* reset for the next row group */
    stat_merge(&c->fst, &c->cst, &c->t);
    stat_reset(&c->cst);
    fl_buf_clear(&c->chunk);
    c->chunk_levels = c->chunk_uncomp = 0;
    c->used_dict_page = c->used_plain_page = false;
    dict_clear(&c->dict);
    c->dict.active = c->t.phys != FL_PQ_BOOLEAN && !(w->o.flags & FL_PQ_W_NO_DICT);
    c->page_dict = c->dict.active;
done:
    if (rc && !w->rc) w->rc = rc;
    return rc;
}

fl_rc pq_wcol_init(fl_pq_writer *w, pq_wcol *c, int node)
{
    (void)0;
    memset(c, 0, sizeof *c);
    c->node = node;
    c->nd = &w->schema->nodes[node].pub;
    c->t = c->nd->type;
    c->max_def = c->nd->max_def;
    c->max_rep = c->nd->max_rep;
    c->def_bw = pq_bit_width((uint64_t)c->max_def);
    c->rep_bw = pq_bit_width((uint64_t)c->max_rep);
    c->sort = pq_sort_order(&c->t);
    switch (c->t.phys) {
    case FL_PQ_INT32:
    case FL_PQ_FLOAT:
        c->width = 4;
        break;
    case FL_PQ_INT64:
    case FL_PQ_DOUBLE:
        c->width = 8;
        break;
    case FL_PQ_FIXED_LEN_BYTE_ARRAY:
        c->width = c->t.type_length;
        break;
    case FL_PQ_BOOLEAN:
        c->width = 1;
        break;
    default:
        c->width = 0;
    }
    fl_buf_init(&c->vals, 0);
    fl_buf_init(&c->chunk, 0);
    fl_buf_init(&c->dict.data, 0);
    fl_buf_init(&c->cst.minb, 0);
    fl_buf_init(&c->cst.maxb, 0);
    fl_buf_init(&c->fst.minb, 0);
    fl_buf_init(&c->fst.maxb, 0);
    c->cst.min.phys = c->cst.max.phys = c->t.phys;
    c->fst.min.phys = c->fst.max.phys = c->t.phys;
    c->dict.active = c->t.phys != FL_PQ_BOOLEAN && !(w->o.flags & FL_PQ_W_NO_DICT);
    c->page_dict = c->dict.active;
    return FL_OK;
}

void pq_wcol_free(pq_wcol *c)
{
    fl_free(c->def);
    fl_free(c->rep);
    fl_free(c->idx);
    fl_buf_reset(&c->vals);
    fl_buf_reset(&c->chunk);
    dict_free(&c->dict);
    fl_buf_reset(&c->cst.minb);
    fl_buf_reset(&c->cst.maxb);
    fl_buf_reset(&c->fst.minb);
    fl_buf_reset(&c->fst.maxb);
}
