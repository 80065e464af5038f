/* delta_scan.c - reading the rows of a snapshot (module delta): every live file is read
 * with the Parquet reader, columns are matched to the table schema by name (columns a
 * file lacks - older files after schema evolution - come back null), partition columns are
 * filled from the typed partition values, rows deleted by deletion vectors are skipped,
 * and top-level scalars are normalised to one representation per Delta type (see
 * delta.h). One file is held in memory at a time (limit FL_DELTA_MAX_SCAN_FILE_BYTES). */
#include "delta/delta_int.h"

#include <stdio.h>
#include <stdlib.h>

struct fl_delta_scan {
    fl_delta_table *t;
    const fl_delta_snapshot *s;
    const fl_delta_type *schema;
    size_t file;            /* next position in the file list */
    size_t *subset;         /* snapshot file indexes to read (NULL = all) */
    size_t nsubset;
    fl_buf data;            /* current file bytes */
    fl_pq_reader *r;        /* current reader */
    int *col_of;            /* per schema field: index among the file root's children, -1 missing */
    fl_pq_val *pvals;       /* per schema field: typed partition value (kind NULL if not partition) */
    bool *is_part;
    fl_arena fa;            /* per-file allocations (DV rows, partition values) */
    uint64_t *dv;           /* deleted rows of the current file */
    size_t ndv, dvpos;
    uint64_t row;           /* row index in the current file */
    const fl_pq_schema *ps;
    bool mapping;           /* column mapping (name/id): match physical names / field ids */
    fl_map phys;            /* fl_delta_field* (as bytes) -> physical name (fl_str* in pa) */
    fl_arena pa;            /* physical-name cache storage */
    bool *want;             /* per schema field: selected (NULL = every column) */
};

/* Physical name of a field under column mapping (cached), else its name. */
static fl_str phys_name(fl_delta_scan *sc, const fl_delta_field *f, int64_t *field_id)
{
    *field_id = -1;
    if (!sc->mapping) return f->name;
    fl_str key = fl_str_make((const char *)&f, sizeof f);
    bool found = false;
    const int64_t *cached = fl_map_get(&sc->phys, key, &found);
    if (found && cached) {
        *field_id = cached[0];
        return fl_str_make((const char *)(cached + 2), (size_t)cached[1]);
    }
    fl_str name = f->name;
    int64_t id = -1;
    fl_json_val *md = NULL;
    fl_arena tmp;
    fl_arena_init(&tmp, 0, 0);
    if (f->metadata.len && fl_json_parse(f->metadata.ptr, f->metadata.len, NULL, &tmp, &md, NULL, NULL) == FL_OK) {
        const fl_json_val *pn = fl_json_get_c(md, "delta.columnMapping.physicalName");
        if (fl_json_is_str(pn)) name = fl_json_str(pn);
        fl_json_as_i64(fl_json_get_c(md, "delta.columnMapping.id"), &id);
    }
    /* cache entry: [id, len, bytes...] kept in sc->pa; the map key is the field pointer */
    int64_t *ent = fl_arena_alloc(&sc->pa, 2 * sizeof(int64_t) + name.len + 1);
    char *kb = fl_arena_alloc(&sc->pa, sizeof f);
    if (ent && kb) {
        ent[0] = id;
        ent[1] = (int64_t)name.len;
        memcpy(ent + 2, name.ptr, name.len);
        memcpy(kb, &f, sizeof f);
        fl_map_put(&sc->phys, fl_str_make(kb, sizeof f), ent, NULL);
        name = fl_str_make((const char *)(ent + 2), name.len);
    } else {
        name = f->name;
    }
    fl_arena_fini(&tmp);
    *field_id = id;
    return name;
}

/* Child of group node `node` for field f: by physical name, then field id, then
 * case-insensitively by name. Returns the child index or -1. */
static int find_child(fl_delta_scan *sc, const fl_pq_node *node, const fl_delta_field *f)
{
    int64_t id;
    fl_str pn = phys_name(sc, f, &id);
    for (int c = 0; c < node->num_children; c++)
        if (fl_str_eq_c(pn, fl_pq_schema_node(sc->ps, node->children[c])->name)) return c;
    if (id >= 0)
        for (int c = 0; c < node->num_children; c++)
            if (fl_pq_schema_node(sc->ps, node->children[c])->field_id == id) return c;
    for (int c = 0; c < node->num_children; c++) {
        const char *nm = fl_pq_schema_node(sc->ps, node->children[c])->name;
        if (strlen(nm) != f->name.len) continue;
        size_t k = 0;
        for (; k < f->name.len; k++) {
            char x = nm[k], y = f->name.ptr[k];
            if (x >= 'A' && x <= 'Z') x = (char)(x + 32);
            if (y >= 'A' && y <= 'Z') y = (char)(y + 32);
            if (x != y) break;
        }
        if (k == f->name.len) return c;
    }
    return -1;
}

/* Decimal text of a big-endian two's complement integer with `scale`. */
fl_str delta_decimal_text(fl_arena *a, const uint8_t *be, size_t n, int32_t scale)
{
    uint8_t mag[32];
    if (n == 0 || n > sizeof mag) return FL_STR_NULL;
    bool neg = be[0] & 0x80;
    memcpy(mag, be, n);
    if (neg) { /* two's complement negate */
        for (size_t i = 0; i < n; i++) mag[i] = (uint8_t)~mag[i];
        for (size_t i = n; i-- > 0;)
            if (++mag[i] != 0) break;
    }
    char digs[100];
    size_t nd = 0;
    bool zero = false;
    while (!zero && nd < sizeof digs) { /* repeated division by 10 */
        unsigned rem = 0;
        zero = true;
        for (size_t i = 0; i < n; i++) {
            unsigned cur = rem * 256 + mag[i];
            mag[i] = (uint8_t)(cur / 10);
            rem = cur % 10;
            if (mag[i]) zero = false;
        }
        digs[nd++] = (char)('0' + rem);
    }
    while ((int64_t)nd <= scale) digs[nd++] = '0';
    char out[110];
    size_t o = 0;
    if (neg) out[o++] = '-';
    for (size_t i = nd; i-- > 0;) {
        out[o++] = digs[i];
        if (scale > 0 && i == (size_t)scale) out[o++] = '.';
    }
    return fl_arena_str_dup(a, fl_str_make(out, o));
}

static fl_str decimal_from_i64(fl_arena *a, int64_t v, int32_t scale)
{
    uint8_t be[8];
    for (int i = 0; i < 8; i++) be[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
    return delta_decimal_text(a, be, 8, scale);
}

/* Normalise a top-level scalar read from the file (node type nt) to the Delta kind. */
static void normalise(fl_arena *a, const fl_delta_type *t, const fl_pq_node *nd, fl_pq_val *v)
{
    if (v->kind == FL_PQ_V_NULL || !nd) return;
    switch (t->kind) {
    case FL_DELTA_T_TIMESTAMP:
    case FL_DELTA_T_TIMESTAMP_NTZ:
        if (v->kind != FL_PQ_V_I64) return;
        if (nd->type.phys == FL_PQ_INT96 || (nd->type.logical == FL_PQ_LT_TIMESTAMP && nd->type.unit == FL_PQ_UNIT_NANOS))
            v->v.i64 /= 1000;
        else if (nd->type.logical == FL_PQ_LT_TIMESTAMP && nd->type.unit == FL_PQ_UNIT_MILLIS)
            v->v.i64 *= 1000;
        return;
    case FL_DELTA_T_DECIMAL: {
        fl_str txt = FL_STR_NULL;
        if (v->kind == FL_PQ_V_I32) txt = decimal_from_i64(a, v->v.i32, t->scale);
        else if (v->kind == FL_PQ_V_I64) txt = decimal_from_i64(a, v->v.i64, t->scale);
        else if (v->kind == FL_PQ_V_BYTES)
            txt = delta_decimal_text(a, (const uint8_t *)v->v.bytes.ptr, v->v.bytes.len, t->scale);
        if (txt.ptr) {
            v->kind = FL_PQ_V_BYTES;
            v->v.bytes = txt;
        }
        return;
    }
    case FL_DELTA_T_LONG:
        if (v->kind == FL_PQ_V_I32) v->kind = FL_PQ_V_I64, v->v.i64 = v->v.i32;
        return;
    case FL_DELTA_T_DOUBLE:
        if (v->kind == FL_PQ_V_F32) v->kind = FL_PQ_V_F64, v->v.f64 = (double)v->v.f32;
        return;
    default: return;
    }
}

/* Element node of a LIST group (3-level or legacy 2-level); the node itself for a bare
 * repeated field. */
static int list_elem_node(const fl_pq_schema *ps, int id)
{
    const fl_pq_node *n = fl_pq_schema_node(ps, id);
    if (n->rep == FL_PQ_REPEATED || n->num_children < 1) return id;
    const fl_pq_node *rep = fl_pq_schema_node(ps, n->children[0]);
    if (rep->type.phys == FL_PQ_GROUP && rep->num_children == 1 && n->type.logical == FL_PQ_LT_LIST)
        return rep->children[0];
    return n->children[0];
}

/* Rebuild v (assembled from file node `id`) in the shape of Delta type t: struct fields
 * in schema order matched by (physical) name, missing ones null; scalars normalised. */
static fl_pq_val remap(fl_delta_scan *sc, fl_arena *a, const fl_delta_type *t, int id, const fl_pq_val *v,
                       unsigned depth)
{
    fl_pq_val out = *v;
    const fl_pq_node *n = fl_pq_schema_node(sc->ps, id);
    if (!n || v->kind == FL_PQ_V_NULL || v->kind == FL_PQ_V_SKIPPED || depth > FL_DELTA_MAX_SCHEMA_DEPTH) return out;
    if (t->kind == FL_DELTA_T_STRUCT && v->kind == FL_PQ_V_STRUCT) {
        fl_pq_val *items = fl_arena_calloc(a, t->n_fields ? t->n_fields : 1, sizeof *items);
        if (!items) return out;
        for (size_t i = 0; i < t->n_fields; i++) {
            int c = find_child(sc, n, &t->fields[i]);
            if (c >= 0 && (uint32_t)c < v->n) items[i] = remap(sc, a, t->fields[i].type, n->children[c], &v->v.items[c], depth + 1);
        }
        out.n = (uint32_t)t->n_fields;
        out.v.items = items;
        return out;
    }
    if (t->kind == FL_DELTA_T_ARRAY && v->kind == FL_PQ_V_LIST) {
        int el = list_elem_node(sc->ps, id);
        fl_pq_val *items = fl_arena_alloc(a, (v->n ? v->n : 1) * sizeof *items);
        if (!items) return out;
        for (uint32_t i = 0; i < v->n; i++) items[i] = remap(sc, a, t->element, el, &v->v.items[i], depth + 1);
        out.v.items = items;
        return out;
    }
    if (t->kind == FL_DELTA_T_MAP && v->kind == FL_PQ_V_MAP && n->num_children == 1) {
        const fl_pq_node *kv = fl_pq_schema_node(sc->ps, n->children[0]);
        if (kv->num_children < 2) return out;
        fl_pq_val *items = fl_arena_alloc(a, (v->n ? 2 * (size_t)v->n : 1) * sizeof *items);
        if (!items) return out;
        for (uint32_t i = 0; i < v->n; i++) {
            items[2 * i] = remap(sc, a, t->key, kv->children[0], &v->v.items[2 * i], depth + 1);
            items[2 * i + 1] = remap(sc, a, t->value, kv->children[1], &v->v.items[2 * i + 1], depth + 1);
        }
        out.v.items = items;
        return out;
    }
    normalise(a, t, n, &out);
    return out;
}

/* Typed partition value (the log's string form). */
static fl_rc part_value(fl_arena *a, const fl_delta_type *t, const fl_delta_kv *kv, fl_pq_val *out, fl_err *err)
{
    memset(out, 0, sizeof *out);
    if (!kv || !kv->has_val || (kv->val.len == 0 && t->kind != FL_DELTA_T_STRING)) return FL_OK; /* null */
    fl_str s = kv->val;
    int64_t i;
    double d;
    switch (t->kind) {
    case FL_DELTA_T_STRING:
    case FL_DELTA_T_BINARY:
        out->kind = FL_PQ_V_BYTES;
        out->v.bytes = fl_arena_str_dup(a, s);
        return FL_OK;
    case FL_DELTA_T_BOOLEAN:
        out->kind = FL_PQ_V_BOOL;
        out->v.b = s.len == 4 && (s.ptr[0] == 't' || s.ptr[0] == 'T');
        return FL_OK;
    case FL_DELTA_T_BYTE:
    case FL_DELTA_T_SHORT:
    case FL_DELTA_T_INTEGER:
        if (!fl_parse_i64(s, &i) || i < INT32_MIN || i > INT32_MAX) break;
        out->kind = FL_PQ_V_I32;
        out->v.i32 = (int32_t)i;
        return FL_OK;
    case FL_DELTA_T_LONG:
        if (!fl_parse_i64(s, &i)) break;
        out->kind = FL_PQ_V_I64;
        out->v.i64 = i;
        return FL_OK;
    case FL_DELTA_T_FLOAT:
    case FL_DELTA_T_DOUBLE:
        if (!fl_parse_f64(s, &d)) break;
        out->kind = t->kind == FL_DELTA_T_FLOAT ? FL_PQ_V_F32 : FL_PQ_V_F64;
        if (t->kind == FL_DELTA_T_FLOAT) out->v.f32 = (float)d;
        else out->v.f64 = d;
        return FL_OK;
    case FL_DELTA_T_DATE:
        if (!fl_parse_date_days(s, &i)) break;
        out->kind = FL_PQ_V_I32;
        out->v.i32 = (int32_t)i;
        return FL_OK;
    case FL_DELTA_T_TIMESTAMP:
    case FL_DELTA_T_TIMESTAMP_NTZ:
        if (!fl_parse_timestamp_us(s, true, &i)) break;
        out->kind = FL_PQ_V_I64;
        out->v.i64 = i;
        return FL_OK;
    case FL_DELTA_T_DECIMAL: {
        /* re-render with the column's scale: [-]int.frac, frac padded/cut to scale */
        size_t j = 0;
        bool neg = false;
        if (j < s.len && (s.ptr[j] == '-' || s.ptr[j] == '+')) neg = s.ptr[j++] == '-';
        size_t int_start = j;
        while (j < s.len && s.ptr[j] >= '0' && s.ptr[j] <= '9') j++;
        fl_str ip = fl_str_make(s.ptr + int_start, j - int_start);
        fl_str fp = FL_STR_NULL;
        if (j < s.len && s.ptr[j] == '.') {
            size_t fs = ++j;
            while (j < s.len && s.ptr[j] >= '0' && s.ptr[j] <= '9') j++;
            fp = fl_str_make(s.ptr + fs, j - fs);
        }
        if (j != s.len || (ip.len == 0 && fp.len == 0) || ip.len > 40) goto badval;
        while (ip.len > 1 && ip.ptr[0] == '0') ip.ptr++, ip.len--;
        char buf[96];
        size_t o = 0;
        if (neg) buf[o++] = '-';
        if (ip.len == 0) buf[o++] = '0';
        memcpy(buf + o, ip.ptr, ip.len);
        o += ip.len;
        if (t->scale > 0) {
            buf[o++] = '.';
            for (int32_t k = 0; k < t->scale; k++) buf[o++] = (size_t)k < fp.len ? fp.ptr[k] : '0';
        }
        out->kind = FL_PQ_V_BYTES;
        out->v.bytes = fl_arena_str_dup(a, fl_str_make(buf, o));
        return FL_OK;
    }
    default: break;
    }
badval:
    return fl_err_set(err, FL_E_DELTA_LOG, "partition value '" FL_STR_FMT "' of " FL_STR_FMT " does not fit its type",
                      FL_STR_ARG(s), FL_STR_ARG(kv->key));
}

fl_rc fl_delta_scan_open(fl_delta_table *t, const fl_delta_snapshot *s, fl_delta_scan **out, fl_err *err)
{
    *out = NULL;
    fl_delta_scan *sc = fl_calloc(1, sizeof *sc);
    if (!sc) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    sc->t = t;
    sc->s = s;
    sc->schema = fl_delta_snapshot_get_schema(s);
    fl_buf_init(&sc->data, FL_DELTA_MAX_SCAN_FILE_BYTES);
    fl_arena_init(&sc->fa, 0, 0);
    size_t nf = sc->schema->n_fields ? sc->schema->n_fields : 1;
    sc->col_of = fl_calloc(nf, sizeof *sc->col_of);
    sc->pvals = fl_calloc(nf, sizeof *sc->pvals);
    sc->is_part = fl_calloc(nf, sizeof *sc->is_part);
    if (!sc->col_of || !sc->pvals || !sc->is_part) {
        fl_delta_scan_close(sc);
        return fl_err_set(err, FL_E_NOMEM, "out of memory");
    }
    fl_map_init(&sc->phys);
    fl_arena_init(&sc->pa, 0, 0);
    fl_str mode = fl_delta_snapshot_get_config(s, "delta.columnMapping.mode", FL_STR("none"));
    sc->mapping = !fl_str_eq_c(mode, "none");
    const fl_delta_metadata *m = fl_delta_snapshot_get_metadata(s);
    for (size_t i = 0; i < sc->schema->n_fields; i++)
        for (size_t k = 0; k < m->n_partition_columns; k++)
            if (fl_str_eq(m->partition_columns[k], sc->schema->fields[i].name)) sc->is_part[i] = true;
    *out = sc;
    return FL_OK;
}

fl_rc fl_delta_scan_open_files(fl_delta_table *t, const fl_delta_snapshot *s, const size_t *files, size_t n,
                               fl_delta_scan **out, fl_err *err)
{
    fl_rc rc = fl_delta_scan_open(t, s, out, err);
    if (rc) return rc;
    fl_delta_scan *sc = *out;
    sc->subset = fl_malloc((n ? n : 1) * sizeof *sc->subset);
    if (!sc->subset) {
        fl_delta_scan_close(sc);
        *out = NULL;
        return fl_err_set(err, FL_E_NOMEM, "out of memory");
    }
    if (n) memcpy(sc->subset, files, n * sizeof *files);
    sc->nsubset = n;
    return FL_OK;
}

void fl_delta_scan_close(fl_delta_scan *sc)
{
    if (!sc) return;
    fl_pq_reader_free(sc->r);
    fl_buf_reset(&sc->data);
    fl_arena_fini(&sc->fa);
    fl_free(sc->col_of);
    fl_free(sc->pvals);
    fl_free(sc->is_part);
    fl_free(sc->subset);
    fl_map_reset(&sc->phys);
    fl_arena_fini(&sc->pa);
    fl_free(sc->want);
    fl_free(sc);
}

fl_rc fl_delta_scan_select(fl_delta_scan *sc, const char *const *columns, size_t n, fl_err *err)
{
    if (sc->r || sc->file) return fl_err_set(err, FL_E_STATE, "scan: select columns before the first row");
    size_t nf = sc->schema->n_fields;
    bool *want = fl_calloc(nf ? nf : 1, sizeof *want);
    if (!want) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) {
        const fl_delta_field *f = fl_delta_type_find(sc->schema, fl_str_c(columns[k] ? columns[k] : ""));
        if (!f) {
            fl_free(want);
            return fl_err_set(err, FL_E_NOT_FOUND, "scan: no column '%s' in the table", columns[k] ? columns[k] : "");
        }
        want[f - sc->schema->fields] = true;
    }
    fl_free(sc->want);
    sc->want = want;
    return FL_OK;
}

/* URI-decode a log path into a store key. */
static fl_rc path_key(fl_str p, char *key, size_t cap, fl_err *err)
{
    size_t k = 0;
    for (size_t i = 0; i < p.len; i++) {
        char c = p.ptr[i];
        if (c == '%' && i + 2 < p.len) {
            char hx[3] = {p.ptr[i + 1], p.ptr[i + 2], 0};
            char *end;
            long v = strtol(hx, &end, 16);
            if (*end == 0) {
                c = (char)v;
                i += 2;
            }
        }
        if (k + 1 >= cap) return fl_err_set(err, FL_E_LIMIT, "data file path too long");
        key[k++] = c;
    }
    key[k] = 0;
    if (strstr(key, "://") || key[0] == '/')
        return fl_err_set(err, FL_E_UNSUPPORTED, "data file " FL_STR_FMT " has an absolute path", FL_STR_ARG(p));
    return FL_OK;
}

fl_rc delta_load_file(fl_delta_table *t, const fl_delta_file *f, fl_buf *data, fl_err *err)
{
    char key[FL_STORE_MAX_KEY + 1];
    fl_rc rc = path_key(f->path, key, sizeof key, err);
    if (rc) return rc;
    fl_buf_clear(data);
    return fl_store_get(t->st, fl_str_c(key), data, NULL, err);
}

static fl_rc open_file(fl_delta_scan *sc, fl_err *err)
{
    const fl_delta_file *f = fl_delta_snapshot_get_file(sc->s, sc->subset ? sc->subset[sc->file] : sc->file);
    if (!f) return fl_err_set(err, FL_E_ARG, "scan: file index out of range");
    fl_pq_reader_free(sc->r);
    sc->r = NULL;
    fl_buf_clear(&sc->data);
    fl_arena_reset(&sc->fa);
    char key[FL_STORE_MAX_KEY + 1];
    fl_rc rc = path_key(f->path, key, sizeof key, err);
    if (rc) return rc;
    if ((rc = fl_store_get(sc->t->st, fl_str_c(key), &sc->data, NULL, err)) != FL_OK) return rc;
    if ((rc = fl_pq_reader_open_mem(sc->data.ptr, sc->data.len, NULL, &sc->r, err)) != FL_OK) {
        fl_err_prefix(err, "%s: ", key);
        return rc;
    }
    sc->ps = fl_pq_reader_get_schema(sc->r);
    const fl_pq_node *root = fl_pq_schema_node(sc->ps, 0);
    for (size_t i = 0; i < sc->schema->n_fields; i++) {
        const fl_delta_field *fd = &sc->schema->fields[i];
        sc->col_of[i] = -1;
        if (sc->is_part[i]) {
            int64_t id;
            fl_str pn = phys_name(sc, fd, &id); /* partitionValues use physical names */
            const fl_delta_kv *kv = NULL;
            for (size_t k = 0; k < f->n_partition_values; k++)
                if (fl_str_eq(f->partition_values[k].key, pn) || fl_str_eq(f->partition_values[k].key, fd->name))
                    kv = &f->partition_values[k];
            if ((rc = part_value(&sc->fa, fd->type, kv, &sc->pvals[i], err)) != FL_OK) return rc;
            continue;
        }
        sc->col_of[i] = find_child(sc, root, fd);
    }
    if (sc->want) { /* decode only the selected columns */
        const char *paths[256];
        size_t np = 0;
        for (size_t i = 0; i < sc->schema->n_fields; i++) {
            if (!sc->want[i] || sc->col_of[i] < 0) continue;
            const char *nm = fl_pq_schema_node(sc->ps, root->children[sc->col_of[i]])->name;
            if (np == sizeof paths / sizeof paths[0] || strchr(nm, '.')) {
                np = 0; /* too many to list, or not expressible as a path: decode everything */
                break;
            }
            paths[np++] = nm;
        }
        if (np && (rc = fl_pq_reader_select(sc->r, paths, np, err)) != FL_OK) return rc;
    }
    sc->row = 0;
    sc->dvpos = 0;
    return fl_delta_dv_rows(sc->t, f, &sc->fa, &sc->dv, &sc->ndv, err);
}

fl_rc fl_delta_scan_next(fl_delta_scan *sc, fl_arena *a, fl_pq_val **out, fl_err *err)
{
    *out = NULL;
    for (;;) {
        if (!sc->r) {
            if (sc->file >= (sc->subset ? sc->nsubset : fl_delta_snapshot_num_files(sc->s))) return FL_E_EOF;
            fl_rc rc = open_file(sc, err);
            sc->file++;
            if (rc) return rc;
        }
        fl_pq_val *fv = NULL;
        fl_rc rc = fl_pq_reader_next_row(sc->r, a, &fv, err);
        if (rc == FL_E_EOF) {
            fl_pq_reader_free(sc->r);
            sc->r = NULL;
            continue;
        }
        if (rc) return rc;
        uint64_t row = sc->row++;
        while (sc->dvpos < sc->ndv && sc->dv[sc->dvpos] < row) sc->dvpos++;
        if (sc->dvpos < sc->ndv && sc->dv[sc->dvpos] == row) continue; /* deleted */
        size_t nf = sc->schema->n_fields;
        fl_pq_val *res = fl_arena_alloc(a, sizeof *res);
        fl_pq_val *items = fl_arena_calloc(a, nf ? nf : 1, sizeof *items);
        if (!res || !items) return fl_err_set(err, FL_E_NOMEM, "out of memory");
        const fl_pq_node *root = fl_pq_schema_node(sc->ps, 0);
        for (size_t i = 0; i < nf; i++) {
            if (sc->want && !sc->want[i]) continue; /* not selected: null */
            if (sc->is_part[i]) {
                items[i] = sc->pvals[i];
                if (items[i].kind == FL_PQ_V_BYTES) items[i].v.bytes = fl_arena_str_dup(a, items[i].v.bytes);
            } else if (sc->col_of[i] >= 0 && (uint32_t)sc->col_of[i] < fv->n) {
                items[i] = remap(sc, a, sc->schema->fields[i].type, root->children[sc->col_of[i]],
                                 &fv->v.items[sc->col_of[i]], 0);
            } /* else: column added after this file was written: null */
        }
        res->kind = FL_PQ_V_STRUCT;
        res->n = (uint32_t)nf;
        res->v.items = items;
        *out = res;
        return FL_OK;
    }
}
