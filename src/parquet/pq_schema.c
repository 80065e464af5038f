/* pq_schema.c - Parquet schema tree: building, inspection, LIST/MAP shape detection
 * (module parquet). Nodes are kept in depth-first order (the footer's order), so node ids
 * are stable and leaves are numbered as they are added. Definition and repetition levels
 * are computed when a node is added. Build errors are sticky in s->rc. */
#include "parquet/parquet_int.h"

#include <stdio.h>

static fl_rc schema_fail(fl_pq_schema *s, fl_rc code, const char *fmt, ...) FL_PRINTF(3, 4);
static fl_rc schema_fail(fl_pq_schema *s, fl_rc code, const char *fmt, ...)
{
    if (!s->rc) {
        va_list ap;
        va_start(ap, fmt);
        s->rc = fl_err_setv(&s->err, code, fmt, ap);
        va_end(ap);
    }
    return s->rc;
}

fl_rc fl_pq_schema_new(fl_pq_schema **out, fl_err *err)
{
    *out = NULL;
    fl_pq_schema *s = fl_calloc(1, sizeof *s);
    if (!s) return fl_err_set(err, FL_E_NOMEM, "parquet schema: out of memory");
    fl_arena_init(&s->names, 4096, 0);
    s->last = -1;
    fl_pq_type t = fl_pq_t_phys(FL_PQ_GROUP);
    if (pq_schema_add_node(s, -1, "schema", 6, FL_PQ_REQUIRED, t, true) != 0) {
        fl_rc rc = s->rc ? s->rc : FL_E_NOMEM;
        fl_pq_schema_free(s);
        return fl_err_set(err, rc, "parquet schema: out of memory");
    }
    *out = s;
    return FL_OK;
}

void fl_pq_schema_free(fl_pq_schema *s)
{
    if (!s) return;
    for (int i = 0; i < s->n; i++) fl_vec_reset(&s->nodes[i].kids);
    fl_free(s->nodes);
    fl_free(s->leaves);
    fl_arena_fini(&s->names);
    fl_free(s);
}

int pq_schema_add_node(fl_pq_schema *s, int parent, const char *name, size_t name_len,
                       fl_pq_rep rep, fl_pq_type type, bool is_group)
{
    if (s->rc) return -1;
    if (s->n >= PQ_MAX_SCHEMA_NODES) {
        schema_fail(s, FL_E_LIMIT, "parquet schema: more than %s nodes", "100000");
        return -1;
    }
    if (parent >= s->n || (parent < 0 && s->n > 0)) {
        schema_fail(s, FL_E_ARG, "parquet schema: bad parent for '%s'", name);
        return -1;
    }
    if (parent >= 0 && s->nodes[parent].pub.type.phys != FL_PQ_GROUP) {
        schema_fail(s, FL_E_PQ_SCHEMA, "parquet schema: '%s' added under a primitive column",
                    name);
        return -1;
    }
    if (name_len > PQ_MAX_NAME) {
        schema_fail(s, FL_E_LIMIT, "parquet schema: column name too long%s", "");
        return -1;
    }
    if ((int)rep < 0 || rep > FL_PQ_REPEATED) {
        schema_fail(s, FL_E_PQ_SCHEMA, "parquet schema: bad repetition for '%s'", name);
        return -1;
    }
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 16;
        pq_snode *nn = fl_realloc(s->nodes, (size_t)cap * sizeof *nn);
        if (!nn) {
            schema_fail(s, FL_E_NOMEM, "parquet schema: out of memory%s", "");
            return -1;
        }
        s->nodes = nn;
        s->cap = cap;
    }
    int id = s->n;
    if (parent >= 0) {
        pq_snode *p = &s->nodes[parent];
        if (p->pub.max_def >= PQ_MAX_SCHEMA_DEPTH) {
            schema_fail(s, FL_E_LIMIT, "parquet schema: nesting too deep at '%s'", name);
            return -1;
        }
        if (fl_vec_push(&p->kids, &id)) {
            schema_fail(s, FL_E_NOMEM, "parquet schema: out of memory%s", "");
            return -1;
        }
        p->pub.children = p->kids.ptr;
        p->pub.num_children = (int)p->kids.len;
    }
    char *nm = fl_arena_strndup(&s->names, name, name_len);
    if (!nm) {
        schema_fail(s, FL_E_NOMEM, "parquet schema: out of memory%s", "");
        return -1;
    }
    pq_snode *nd = &s->nodes[id];
    memset(nd, 0, sizeof *nd);
    fl_vec_init(&nd->kids, sizeof(int));
    nd->pub.name = nm;
    nd->pub.rep = parent < 0 ? FL_PQ_REQUIRED : rep;
    nd->pub.type = type;
    if (is_group) nd->pub.type.phys = FL_PQ_GROUP;
    nd->pub.parent = parent;
    nd->pub.leaf = -1;
    nd->pub.field_id = -1;
    nd->annot_ct = -1;
    int16_t pd = parent >= 0 ? s->nodes[parent].pub.max_def : 0;
    int16_t pr = parent >= 0 ? s->nodes[parent].pub.max_rep : 0;
    nd->pub.max_def = (int16_t)(pd + (parent >= 0 && rep != FL_PQ_REQUIRED ? 1 : 0));
    nd->pub.max_rep = (int16_t)(pr + (parent >= 0 && rep == FL_PQ_REPEATED ? 1 : 0));
    nd->first_leaf = nd->end_leaf = s->nleaves;
    s->n++;
    if (!is_group) {
        if (s->nleaves == s->leaves_cap) {
            int cap = s->leaves_cap ? s->leaves_cap * 2 : 16;
            int *nl = fl_realloc(s->leaves, (size_t)cap * sizeof *nl);
            if (!nl) {
                schema_fail(s, FL_E_NOMEM, "parquet schema: out of memory%s", "");
                return -1;
            }
            s->leaves = nl;
            s->leaves_cap = cap;
        }
        nd->pub.leaf = s->nleaves;
        s->leaves[s->nleaves++] = id;
        for (int a = id; a >= 0; a = s->nodes[a].pub.parent) s->nodes[a].end_leaf = s->nleaves;
    }
    s->last = id;
    return id;
}

/* A new node's parent must be the last node or one of its ancestors (depth-first order). */
static bool on_current_path(const fl_pq_schema *s, int parent)
{
    for (int a = s->last; a >= 0; a = s->nodes[a].pub.parent)
        if (a == parent) return true;
    return false;
}

static bool type_ok(fl_pq_schema *s, const char *name, const fl_pq_type *t)
{
    const char *bad = NULL;
    switch (t->phys) {
    case FL_PQ_BOOLEAN:
    case FL_PQ_INT32:
    case FL_PQ_INT64:
    case FL_PQ_FLOAT:
    case FL_PQ_DOUBLE:
    case FL_PQ_BYTE_ARRAY:
        break;
    case FL_PQ_FIXED_LEN_BYTE_ARRAY:
        if (t->type_length <= 0 || t->type_length > (1 << 20)) bad = "bad fixed length";
        break;
    default:
        bad = "unsupported physical type";
    }
    switch (t->logical) {
    case FL_PQ_LT_NONE:
        break;
    case FL_PQ_LT_STRING:
    case FL_PQ_LT_JSON:
        if (t->phys != FL_PQ_BYTE_ARRAY) bad = "STRING/JSON must be BYTE_ARRAY";
        break;
    case FL_PQ_LT_UUID:
        if (t->phys != FL_PQ_FIXED_LEN_BYTE_ARRAY || t->type_length != 16)
            bad = "UUID must be FIXED_LEN_BYTE_ARRAY(16)";
        break;
    case FL_PQ_LT_DATE:
        if (t->phys != FL_PQ_INT32) bad = "DATE must be INT32";
        break;
    case FL_PQ_LT_TIMESTAMP:
        if (t->phys != FL_PQ_INT64 || t->unit > FL_PQ_UNIT_NANOS)
            bad = "TIMESTAMP must be INT64 with a valid unit";
        break;
    case FL_PQ_LT_INT:
        if (!((t->phys == FL_PQ_INT32 && (t->bit_width == 8 || t->bit_width == 16 ||
                                           t->bit_width == 32)) ||
              (t->phys == FL_PQ_INT64 && t->bit_width == 64)))
            bad = "INT has a bad bit width";
        break;
    case FL_PQ_LT_DECIMAL: {
        int32_t maxp = t->phys == FL_PQ_INT32 ? 9 : t->phys == FL_PQ_INT64 ? 18 : 38;
        if (t->phys == FL_PQ_FIXED_LEN_BYTE_ARRAY && t->type_length < 16) {
            /* max precision of n bytes: floor(log10(2^(8n-1)-1)) */
            maxp = (int32_t)(((int64_t)t->type_length * 8 - 1) * 30103 / 100000);
        }
        if (t->phys != FL_PQ_INT32 && t->phys != FL_PQ_INT64 &&
            t->phys != FL_PQ_FIXED_LEN_BYTE_ARRAY && t->phys != FL_PQ_BYTE_ARRAY)
            bad = "DECIMAL has a bad physical type";
        else if (t->precision < 1 || t->precision > maxp || t->scale < 0 ||
                 t->scale > t->precision)
            bad = "DECIMAL has a bad precision or scale";
        break;
    }
    default:
        bad = "logical type not writable";
    }
    if (bad) {
        schema_fail(s, FL_E_PQ_SCHEMA, "parquet schema: column '%s': %s", name, bad);
        return false;
    }
    return true;
}

int fl_pq_schema_add(fl_pq_schema *s, int parent, const char *name, fl_pq_rep rep,
                     fl_pq_type type)
{
    if (!s || s->rc) return -1;
    if (!name || !*name) {
        schema_fail(s, FL_E_ARG, "parquet schema: empty column name%s", "");
        return -1;
    }
    if (type.phys == FL_PQ_GROUP) return fl_pq_schema_add_group(s, parent, name, rep, type.logical);
    if (!on_current_path(s, parent)) {
        schema_fail(s, FL_E_ARG, "parquet schema: '%s' added out of depth-first order", name);
        return -1;
    }
    if (!type_ok(s, name, &type)) return -1;
    return pq_schema_add_node(s, parent, name, strlen(name), rep, type, false);
}

int fl_pq_schema_add_group(fl_pq_schema *s, int parent, const char *name, fl_pq_rep rep,
                           fl_pq_logical annot)
{
    if (!s || s->rc) return -1;
    if (!name || !*name) {
        schema_fail(s, FL_E_ARG, "parquet schema: empty column name%s", "");
        return -1;
    }
    if (!on_current_path(s, parent)) {
        schema_fail(s, FL_E_ARG, "parquet schema: '%s' added out of depth-first order", name);
        return -1;
    }
    if (annot != FL_PQ_LT_NONE && annot != FL_PQ_LT_LIST && annot != FL_PQ_LT_MAP) {
        schema_fail(s, FL_E_PQ_SCHEMA, "parquet schema: bad group annotation for '%s'", name);
        return -1;
    }
    fl_pq_type t = fl_pq_t_phys(FL_PQ_GROUP);
    t.logical = annot;
    return pq_schema_add_node(s, parent, name, strlen(name), rep, t, true);
}

int fl_pq_schema_add_list(fl_pq_schema *s, int parent, const char *name, fl_pq_rep rep,
                          fl_pq_rep elem_rep, const fl_pq_type *elem)
{
    int g = fl_pq_schema_add_group(s, parent, name, rep, FL_PQ_LT_LIST);
    if (g < 0) return -1;
    int l = fl_pq_schema_add_group(s, g, "list", FL_PQ_REPEATED, FL_PQ_LT_NONE);
    if (l < 0) return -1;
    if (elem_rep == FL_PQ_REPEATED) {
        schema_fail(s, FL_E_PQ_SCHEMA, "parquet schema: list element of '%s' cannot be repeated",
                    name);
        return -1;
    }
    if (!elem) return fl_pq_schema_add_group(s, l, "element", elem_rep, FL_PQ_LT_NONE);
    return fl_pq_schema_add(s, l, "element", elem_rep, *elem);
}

int fl_pq_schema_add_map(fl_pq_schema *s, int parent, const char *name, fl_pq_rep rep,
                         fl_pq_type key, fl_pq_rep value_rep, const fl_pq_type *value)
{
    int g = fl_pq_schema_add_group(s, parent, name, rep, FL_PQ_LT_MAP);
    if (g < 0) return -1;
    int kv = fl_pq_schema_add_group(s, g, "key_value", FL_PQ_REPEATED, FL_PQ_LT_NONE);
    if (kv < 0) return -1;
    if (key.phys == FL_PQ_GROUP) {
        schema_fail(s, FL_E_PQ_SCHEMA, "parquet schema: map key of '%s' must be primitive", name);
        return -1;
    }
    if (fl_pq_schema_add(s, kv, "key", FL_PQ_REQUIRED, key) < 0) return -1;
    if (value_rep == FL_PQ_REPEATED) {
        schema_fail(s, FL_E_PQ_SCHEMA, "parquet schema: map value of '%s' cannot be repeated",
                    name);
        return -1;
    }
    if (!value) return fl_pq_schema_add_group(s, kv, "value", value_rep, FL_PQ_LT_NONE);
    return fl_pq_schema_add(s, kv, "value", value_rep, *value);
}

void fl_pq_schema_set_field_id(fl_pq_schema *s, int node, int32_t field_id)
{
    if (!s || node < 0 || node >= s->n) return;
    s->nodes[node].pub.field_id = field_id;
}

bool pq_schema_nest(const fl_pq_schema *s, int node, pq_nest *out)
{
    const fl_pq_node *n = &s->nodes[node].pub;
    out->key = out->value = -1;
    out->is_map = false;
    if (n->rep == FL_PQ_REPEATED && n->parent >= 0) {
        /* a bare repeated node (or the repeated child being looked at directly) */
        out->rep_node = out->elem = node;
        return true;
    }
    return pq_schema_nest_annot(s, node, out);
}

bool pq_schema_nest_annot(const fl_pq_schema *s, int node, pq_nest *out)
{
    const fl_pq_node *n = &s->nodes[node].pub;
    out->key = out->value = -1;
    out->is_map = false;
    if (n->type.phys != FL_PQ_GROUP) return false;
    bool is_list = n->type.logical == FL_PQ_LT_LIST;
    bool is_map = n->type.logical == FL_PQ_LT_MAP ||
                  s->nodes[node].annot_ct == PQ_CT_MAP_KEY_VALUE;
    if (!is_list && !is_map) return false;
    if (n->num_children != 1) return false;
    int r = n->children[0];
    const fl_pq_node *rn = &s->nodes[r].pub;
    if (rn->rep != FL_PQ_REPEATED) return false;
    out->rep_node = r;
    if (is_map) {
        if (rn->type.phys != FL_PQ_GROUP || rn->num_children < 1 || rn->num_children > 2)
            return false;
        out->is_map = true;
        out->key = rn->children[0];
        out->value = rn->num_children == 2 ? rn->children[1] : -1;
        if (out->value < 0) { /* a map without values reads as a list of its keys */
            out->is_map = false;
            out->elem = out->key;
        }
        if (s->nodes[out->key].pub.rep == FL_PQ_REPEATED) return false;
        if (out->value >= 0 && s->nodes[out->value].pub.rep == FL_PQ_REPEATED) return false;
        return true;
    }
    /* LIST backward-compatibility rules (LogicalTypes.md): the repeated child is the
     * element if it is primitive, has several children, or is named "array" or
     * "<name>_tuple"; otherwise its single child is the element. */
    if (rn->type.phys != FL_PQ_GROUP || rn->num_children != 1 || !strcmp(rn->name, "array")) {
        out->elem = r;
        return true;
    }
    size_t nl = strlen(n->name);
    if (strlen(rn->name) == nl + 6 && !strncmp(rn->name, n->name, nl) &&
        !strcmp(rn->name + nl, "_tuple")) {
        out->elem = r;
        return true;
    }
    out->elem = rn->children[0];
    if (s->nodes[out->elem].pub.rep == FL_PQ_REPEATED) out->elem = r;
    return true;
}

fl_rc fl_pq_schema_check(const fl_pq_schema *s, fl_err *err)
{
    if (!s) return fl_err_set(err, FL_E_ARG, "parquet schema: NULL");
    if (s->rc) {
        if (err) *err = s->err;
        return s->rc;
    }
    if (s->nleaves == 0) return fl_err_set(err, FL_E_PQ_SCHEMA, "parquet schema: no columns");
    for (int i = 0; i < s->n; i++) {
        const fl_pq_node *n = &s->nodes[i].pub;
        if (n->type.phys == FL_PQ_GROUP && n->num_children == 0)
            return fl_err_set(err, FL_E_PQ_SCHEMA, "parquet schema: group '%s' has no children",
                              n->name);
        if (n->type.phys == FL_PQ_GROUP &&
            (n->type.logical == FL_PQ_LT_LIST || n->type.logical == FL_PQ_LT_MAP)) {
            pq_nest ns;
            if (n->rep == FL_PQ_REPEATED || !pq_schema_nest(s, i, &ns))
                return fl_err_set(err, FL_E_PQ_SCHEMA,
                                  "parquet schema: %s group '%s' does not have the standard layout",
                                  n->type.logical == FL_PQ_LT_LIST ? "LIST" : "MAP", n->name);
            if (ns.is_map && s->nodes[ns.key].pub.rep != FL_PQ_REQUIRED)
                return fl_err_set(err, FL_E_PQ_SCHEMA, "parquet schema: map key of '%s' must be required",
                                  n->name);
        }
    }
    return FL_OK;
}

int fl_pq_schema_num_nodes(const fl_pq_schema *s) { return s ? s->n : 0; }
int fl_pq_schema_num_leaves(const fl_pq_schema *s) { return s ? s->nleaves : 0; }

const fl_pq_node *fl_pq_schema_node(const fl_pq_schema *s, int id)
{
    if (!s || id < 0 || id >= s->n) return NULL;
    return &s->nodes[id].pub;
}

int fl_pq_schema_leaf_node(const fl_pq_schema *s, int leaf)
{
    if (!s || leaf < 0 || leaf >= s->nleaves) return -1;
    return s->leaves[leaf];
}

int fl_pq_schema_find(const fl_pq_schema *s, int parent, const char *name)
{
    if (!s || parent < 0 || parent >= s->n || !name) return -1;
    const fl_pq_node *p = &s->nodes[parent].pub;
    for (int i = 0; i < p->num_children; i++)
        if (!strcmp(s->nodes[p->children[i]].pub.name, name)) return p->children[i];
    return -1;
}

size_t fl_pq_schema_path(const fl_pq_schema *s, int id, char *buf, size_t cap)
{
    if (cap) buf[0] = 0;
    if (!s || id <= 0 || id >= s->n) return 0;
    int chain[PQ_MAX_SCHEMA_DEPTH + 2];
    int n = 0;
    for (int a = id; a > 0 && n < (int)(sizeof chain / sizeof chain[0]); a = s->nodes[a].pub.parent)
        chain[n++] = a;
    size_t len = 0;
    for (int i = n - 1; i >= 0; i--) {
        const char *nm = s->nodes[chain[i]].pub.name;
        size_t nl = strlen(nm);
        if (i != n - 1) {
            if (len + 1 < cap) buf[len] = '.';
            len++;
        }
        for (size_t k = 0; k < nl; k++, len++)
            if (len + 1 < cap) buf[len] = nm[k];
    }
    if (cap) buf[len < cap ? len : cap - 1] = 0;
    return len;
}

fl_rc pq_schema_clone(const fl_pq_schema *src, fl_pq_schema **out, fl_err *err)
{
    fl_pq_schema *s;
    fl_rc rc = fl_pq_schema_new(&s, err);
    if (rc) return rc;
    s->nodes[0].pub.field_id = src->nodes[0].pub.field_id;
    for (int i = 1; i < src->n; i++) {
        const pq_snode *n = &src->nodes[i];
        int id = pq_schema_add_node(s, n->pub.parent, n->pub.name, strlen(n->pub.name), n->pub.rep,
                                    n->pub.type, n->pub.type.phys == FL_PQ_GROUP);
        if (id >= 0) {
            s->nodes[id].pub.field_id = n->pub.field_id;
            s->nodes[id].annot_ct = n->annot_ct;
        }
    }
    if (s->rc) {
        rc = s->rc;
        if (err) *err = s->err;
        fl_pq_schema_free(s);
        return rc;
    }
    *out = s;
    return FL_OK;
}

int pq_sort_order(const fl_pq_type *t)
{
    switch (t->phys) {
    case FL_PQ_BOOLEAN:
    case FL_PQ_FLOAT:
    case FL_PQ_DOUBLE:
        return 0;
    case FL_PQ_INT32:
    case FL_PQ_INT64:
        if (t->logical == FL_PQ_LT_INT && !t->is_signed) return 1;
        return 0;
    case FL_PQ_BYTE_ARRAY:
    case FL_PQ_FIXED_LEN_BYTE_ARRAY:
        if (t->logical == FL_PQ_LT_DECIMAL) return t->phys == FL_PQ_FIXED_LEN_BYTE_ARRAY ? 0 : 2;
        if (t->logical == FL_PQ_LT_FLOAT16 || t->logical == FL_PQ_LT_UNKNOWN) return 2;
        return 1;
    default:
        return 2;
    }
}

int pq_bit_width(uint64_t max_value) { return max_value ? 64 - __builtin_clzll(max_value) : 0; }

int pq_scalar_cmp(const fl_pq_type *t, const fl_pq_scalar *a, const fl_pq_scalar *b)
{
    switch (t->phys) {
    case FL_PQ_BOOLEAN:
        return (int)a->v.b - (int)b->v.b;
    case FL_PQ_INT32:
        if (pq_sort_order(t) == 1)
            return (uint32_t)a->v.i32 < (uint32_t)b->v.i32 ? -1 : (uint32_t)a->v.i32 > (uint32_t)b->v.i32;
        return a->v.i32 < b->v.i32 ? -1 : a->v.i32 > b->v.i32;
    case FL_PQ_INT64:
        if (pq_sort_order(t) == 1)
            return (uint64_t)a->v.i64 < (uint64_t)b->v.i64 ? -1 : (uint64_t)a->v.i64 > (uint64_t)b->v.i64;
        return a->v.i64 < b->v.i64 ? -1 : a->v.i64 > b->v.i64;
    case FL_PQ_FLOAT:
        return a->v.f32 < b->v.f32 ? -1 : a->v.f32 > b->v.f32;
    case FL_PQ_DOUBLE:
        return a->v.f64 < b->v.f64 ? -1 : a->v.f64 > b->v.f64;
    case FL_PQ_FIXED_LEN_BYTE_ARRAY:
        if (t->logical == FL_PQ_LT_DECIMAL && a->v.bytes.len && b->v.bytes.len) {
            bool na = (uint8_t)a->v.bytes.ptr[0] & 0x80, nb = (uint8_t)b->v.bytes.ptr[0] & 0x80;
            if (na != nb) return na ? -1 : 1;
        }
        return fl_str_cmp(a->v.bytes, b->v.bytes);
    default:
        return fl_str_cmp(a->v.bytes, b->v.bytes);
    }
}
