/* base_map.c - open-addressing hash map, byte-string keys (module base).
 * Linear probing, power-of-two capacity, load factor <= 0.7 counting tombstones.
 * Keys are borrowed (see base.h). hash 0 marks an empty slot, 1 a tombstone; real
 * hashes are forced to >= 2. */
#include "fhirlake/base.h"

#define TOMB 1u

int fl_str_cmp(fl_str a, fl_str b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c) return c;
    return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

uint64_t fl_str_hash(fl_str s)
{
    /* FNV-1a over 8-byte words with a final mix: fast, good enough for tables. */
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)s.len;
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t n = s.len;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    while (n--) h = (h ^ *p++) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static inline uint64_t key_hash(fl_str k)
{
    uint64_t h = fl_str_hash(k);
    return h < 2 ? h + 2 : h;
}

void fl_map_init(fl_map *m)
{
    m->slots = NULL;
    m->cap = m->len = m->tombs = 0;
}

void fl_map_reset(fl_map *m)
{
    fl_free(m->slots);
    fl_map_init(m);
}

static fl_rc map_grow(fl_map *m)
{
    size_t cap = m->cap ? m->cap : 8;
    while ((m->len + 1) * 2 > cap) cap *= 2; /* after a rehash the load is <= 0.5 */
    fl_map_entry *slots = fl_calloc(cap, sizeof *slots);
    if (!slots) return FL_E_NOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        fl_map_entry *e = &m->slots[i];
        if (e->hash < 2) continue;
        size_t j = e->hash & (cap - 1);
        while (slots[j].hash) j = (j + 1) & (cap - 1);
        slots[j] = *e;
    }
    fl_free(m->slots);
    m->slots = slots;
    m->cap = cap;
    m->tombs = 0;
    return FL_OK;
}

static fl_map_entry *find(const fl_map *m, fl_str key, uint64_t h)
{
    if (!m->cap) return NULL;
    size_t i = h & (m->cap - 1);
    for (;;) {
        fl_map_entry *e = &m->slots[i];
        if (e->hash == 0) return NULL;
        if (e->hash == h && fl_str_eq(e->key, key)) return e;
        i = (i + 1) & (m->cap - 1);
    }
}

fl_rc fl_map_put(fl_map *m, fl_str key, void *val, void **old)
{
    uint64_t h = key_hash(key);
    fl_map_entry *e = find(m, key, h);
    if (e) {
        if (old) *old = e->val;
        e->val = val;
        return FL_OK;
    }
    if (old) *old = NULL;
    if ((m->len + m->tombs + 1) * 10 > m->cap * 7) {
        fl_rc rc = map_grow(m);
        if (rc) return rc;
    }
    size_t i = h & (m->cap - 1);
    while (m->slots[i].hash >= 2) i = (i + 1) & (m->cap - 1);
    if (m->slots[i].hash == TOMB) m->tombs--;
    m->slots[i].hash = h;
    m->slots[i].key = key;
    m->slots[i].val = val;
    m->len++;
    return FL_OK;
}

void *fl_map_get(const fl_map *m, fl_str key, bool *found)
{
    fl_map_entry *e = find(m, key, key_hash(key));
    if (found) *found = e != NULL;
    return e ? e->val : NULL;
}

bool fl_map_del(fl_map *m, fl_str key)
{
    fl_map_entry *e = find(m, key, key_hash(key));
    if (!e) return false;
    e->hash = TOMB;
    e->key = FL_STR_NULL;
    e->val = NULL;
    m->len--;
    m->tombs++;
    return true;
}

const fl_map_entry *fl_map_next(const fl_map *m, size_t *it)
{
    while (*it < m->cap) {
        const fl_map_entry *e = &m->slots[(*it)++];
        if (e->hash >= 2) return e;
    }
    return NULL;
}
