/* pq_assemble.c - reader: projection and row assembly (module parquet).
 * Loads the selected leaf columns of a row group (pq_read.c) and rebuilds nested rows
 * from definition/repetition levels: a node is null when the first selected leaf under it
 * has a definition level below the node's; a repeated node continues while the next
 * repetition level is >= its own. Handles structs, standard and legacy (2-level) lists,
 * maps and bare repeated fields. Recursion depth is bounded by the schema depth limit;
 * every cursor move is bounds-checked, so inconsistent levels give FL_E_PQ_FORMAT. */
#include "parquet/pq_reader_int.h"

fl_rc fl_pq_reader_select(fl_pq_reader *r, const char *const *paths, size_t n, fl_err *err)
{
    const fl_pq_schema *s = r->schema;
    if (r->started) return fl_err_set(err, FL_E_STATE, "parquet reader: select after reading rows");
    if (!paths || n == 0) {
        memset(r->sel, 1, (size_t)s->n);
        r->selected_all = true;
    } else {
        memset(r->sel, 0, (size_t)s->n);
        r->sel[0] = 1;
        r->selected_all = false;
        for (size_t i = 0; i < n; i++) {
            const char *p = paths[i];
            int node = 0;
            while (*p) {
                const char *dot = strchr(p, '.');
                size_t len = dot ? (size_t)(dot - p) : strlen(p);
                const fl_pq_node *g = &s->nodes[node].pub;
                int next = -1;
                for (int k = 0; k < g->num_children; k++) {
                    const char *nm = s->nodes[g->children[k]].pub.name;
                    if (strlen(nm) == len && !memcmp(nm, p, len)) {
                        next = g->children[k];
                        break;
                    }
                }
                if (next < 0) return fl_err_set(err, FL_E_NOT_FOUND, "parquet reader: no column '%s' in the file", paths[i]);
                node = next;
                p += len;
                if (*p == '.') p++;
            }
            /* the node, its ancestors and its subtree */
            for (int a = node; a >= 0; a = s->nodes[a].pub.parent) r->sel[a] = 1;
            for (int k = node; k < s->n; k++) {
                int a = k;
                while (a > node) a = s->nodes[a].pub.parent;
                if (a == node) r->sel[k] = 1;
            }
        }
    }
    for (int i = 0; i < s->n; i++) {
        r->first_sel_leaf[i] = -1;
        for (int l = s->nodes[i].first_leaf; l < s->nodes[i].end_leaf; l++)
            if (r->sel[s->leaves[l]]) {
                r->first_sel_leaf[i] = l;
                break;
            }
    }
    return FL_OK;
}

typedef struct pq_asm {
    fl_pq_reader *r;
    fl_arena *a;
    fl_err *err;
    fl_rc rc;
} pq_asm;

static fl_rc afail(pq_asm *m, const char *what, int node)
{
    if (!m->rc) {
        char path[256];
        fl_pq_schema_path(m->r->schema, node, path, sizeof path);
        m->rc = fl_err_set(m->err, FL_E_PQ_FORMAT, "row group %d, column '%s': %s", m->r->cur_rg, path, what);
    }
    return m->rc;
}

static int peek_def(pq_asm *m, int leaf, int node)
{
    pq_cursor *c = &m->r->cur[leaf];
    if (c->lev >= c->col.num_levels) {
        afail(m, "levels end in the middle of a row", node);
        return -1;
    }
    return c->col.def_levels ? c->col.def_levels[c->lev] : m->r->schema->nodes[m->r->schema->leaves[leaf]].pub.max_def;
}

/* Skip one entry in every selected leaf under node (a null or empty subtree). */
static void skip_entries(pq_asm *m, int node)
{
    const pq_snode *n = &m->r->schema->nodes[node];
    for (int l = n->first_leaf; l < n->end_leaf; l++) {
        if (!m->r->sel[m->r->schema->leaves[l]]) continue;
        pq_cursor *c = &m->r->cur[l];
        if (c->lev >= c->col.num_levels) {
            afail(m, "levels end in the middle of a row", node);
            return;
        }
        c->lev++;
    }
}

static void assemble(pq_asm *m, int node, bool as_elem, fl_pq_val *out);

static void leaf_value(pq_asm *m, int node, fl_pq_val *out)
{
    const fl_pq_node *n = &m->r->schema->nodes[node].pub;
    pq_cursor *c = &m->r->cur[n->leaf];
    if (c->val >= c->col.num_values) {
        afail(m, "fewer values than definition levels say", node);
        return;
    }
    size_t i = c->val++;
    c->lev++;
    const void *v = c->col.values;
    switch (n->type.phys) {
    case FL_PQ_BOOLEAN: out->kind = FL_PQ_V_BOOL; out->v.b = ((const uint8_t *)v)[i] != 0; break;
    case FL_PQ_INT32: out->kind = FL_PQ_V_I32; out->v.i32 = ((const int32_t *)v)[i]; break;
    case FL_PQ_INT64: case FL_PQ_INT96: out->kind = FL_PQ_V_I64; out->v.i64 = ((const int64_t *)v)[i]; break;
    case FL_PQ_FLOAT: out->kind = FL_PQ_V_F32; out->v.f32 = ((const float *)v)[i]; break;
    case FL_PQ_DOUBLE: out->kind = FL_PQ_V_F64; out->v.f64 = ((const double *)v)[i]; break;
    default: {
        fl_str s = ((const fl_str *)v)[i];
        out->kind = FL_PQ_V_BYTES;
        out->v.bytes = fl_arena_str_dup(m->a, s);
        if (!out->v.bytes.ptr && !m->rc) m->rc = fl_err_set(m->err, FL_E_NOMEM, "parquet reader: out of memory");
    }
    }
}

/* The content of a present group node: one item per child. */
static void struct_value(pq_asm *m, int node, fl_pq_val *out)
{
    const fl_pq_node *n = &m->r->schema->nodes[node].pub;
    fl_pq_val *items = fl_arena_calloc(m->a, (size_t)n->num_children, sizeof *items);
    if (!items) {
        if (!m->rc) m->rc = fl_err_set(m->err, FL_E_NOMEM, "parquet reader: out of memory");
        return;
    }
    out->kind = FL_PQ_V_STRUCT;
    out->n = (uint32_t)n->num_children;
    out->v.items = items;
    for (int k = 0; k < n->num_children && !m->rc; k++) assemble(m, n->children[k], false, &items[k]);
}

/* A repeated structure: the list/map rooted at `node` with repeated node ns->rep_node. */
static void repeated_value(pq_asm *m, const pq_nest *ns, fl_pq_val *out)
{
    const fl_pq_schema *s = m->r->schema;
    int rn = ns->rep_node;
    int lf = m->r->first_sel_leaf[rn];
    out->kind = ns->is_map ? FL_PQ_V_MAP : FL_PQ_V_LIST;
    out->n = 0;
    out->v.items = NULL;
    int d = peek_def(m, lf, rn);
    if (d < 0) return;
    if (d < s->nodes[rn].pub.max_def) { /* empty */
        skip_entries(m, rn);
        return;
    }
    size_t base = m->r->vstack.len;
    int16_t rlev = s->nodes[rn].pub.max_rep;
    for (;;) {
        if (ns->is_map) {
            fl_pq_val kv[2];
            memset(kv, 0, sizeof kv);
            assemble(m, ns->key, false, &kv[0]);
            if (ns->value >= 0) assemble(m, ns->value, false, &kv[1]);
            if (m->rc) break;
            if (fl_vec_push(&m->r->vstack, &kv[0]) || fl_vec_push(&m->r->vstack, &kv[1])) {
                m->rc = fl_err_set(m->err, FL_E_NOMEM, "parquet reader: out of memory");
                break;
            }
        } else {
            fl_pq_val e;
            memset(&e, 0, sizeof e);
            assemble(m, ns->elem, true, &e);
            if (m->rc) break;
            if (fl_vec_push(&m->r->vstack, &e)) {
                m->rc = fl_err_set(m->err, FL_E_NOMEM, "parquet reader: out of memory");
                break;
            }
        }
        pq_cursor *c = &m->r->cur[lf];
        if (c->lev >= c->col.num_levels) break;
        int rep = c->col.rep_levels ? c->col.rep_levels[c->lev] : 0;
        if (rep < rlev) break;
        if (rep > rlev) {
            afail(m, "repetition level deeper than the element allows", rn);
            break;
        }
    }
    if (m->rc) {
        m->r->vstack.len = base;
        return;
    }
    size_t cnt = m->r->vstack.len - base;
    fl_pq_val *items = fl_arena_alloc(m->a, (cnt ? cnt : 1) * sizeof *items);
    if (!items) {
        m->rc = fl_err_set(m->err, FL_E_NOMEM, "parquet reader: out of memory");
        m->r->vstack.len = base;
        return;
    }
    memcpy(items, (fl_pq_val *)m->r->vstack.ptr + base, cnt * sizeof *items);
    m->r->vstack.len = base;
    out->v.items = items;
    out->n = (uint32_t)(ns->is_map ? cnt / 2 : cnt);
}

static void assemble(pq_asm *m, int node, bool as_elem, fl_pq_val *out)
{
    const fl_pq_schema *s = m->r->schema;
    const fl_pq_node *n = &s->nodes[node].pub;
    memset(out, 0, sizeof *out);
    if (m->rc) return;
    int lf = m->r->first_sel_leaf[node];
    if (lf < 0) {
        out->kind = FL_PQ_V_SKIPPED;
        return;
    }
    if (n->rep == FL_PQ_REPEATED && !as_elem) {
        pq_nest ns;
        memset(&ns, 0, sizeof ns);
        ns.rep_node = ns.elem = node;
        ns.key = ns.value = -1;
        repeated_value(m, &ns, out);
        return;
    }
    int d = peek_def(m, lf, node);
    if (d < 0) return;
    if (d < n->max_def) {
        out->kind = FL_PQ_V_NULL;
        skip_entries(m, node);
        return;
    }
    if (n->type.phys != FL_PQ_GROUP) {
        leaf_value(m, node, out);
        return;
    }
    pq_nest ns;
    if ((n->type.logical == FL_PQ_LT_LIST || n->type.logical == FL_PQ_LT_MAP || s->nodes[node].annot_ct == PQ_CT_MAP_KEY_VALUE) &&
        pq_schema_nest_annot(s, node, &ns)) {
        if (!ns.is_map || m->r->sel[ns.key]) {
            repeated_value(m, &ns, out);
            return;
        }
    }
    struct_value(m, node, out);
}

static fl_rc load_row_group(fl_pq_reader *r, int rg, fl_err *err)
{
    fl_arena_reset(&r->rg_arena);
    r->cur_rg = rg;
    r->rg_row = 0;
    for (int l = 0; l < r->schema->nleaves; l++) {
        pq_cursor *c = &r->cur[l];
        memset(c, 0, sizeof *c);
        if (!r->sel[r->schema->leaves[l]]) continue;
        fl_rc rc = fl_pq_reader_read_column(r, rg, l, &r->rg_arena, &c->col, err);
        if (rc) {
            r->cur_rg = -1;
            return rc;
        }
        c->loaded = true;
    }
    return FL_OK;
}

fl_rc fl_pq_reader_next_row(fl_pq_reader *r, fl_arena *a, fl_pq_val **out, fl_err *err)
{
    *out = NULL;
    r->started = true;
    if (r->cur_rg == -2) return FL_E_EOF;
    while (r->cur_rg < 0 || r->rg_row >= r->rgs[r->cur_rg].num_rows) {
        int next = r->cur_rg < 0 ? 0 : r->cur_rg + 1;
        if (r->cur_rg >= 0) {
            /* all selected columns must be consumed exactly */
            for (int l = 0; l < r->schema->nleaves; l++) {
                pq_cursor *c = &r->cur[l];
                if (c->loaded && (c->lev != c->col.num_levels || c->val != c->col.num_values))
                    return fl_err_set(err, FL_E_PQ_FORMAT, "row group %d: column %d has more values than rows", r->cur_rg, l);
            }
        }
        while (next < r->nrg && (r->rgs[next].num_rows == 0 ||
                                 (r->o.rg_filter && !r->o.rg_filter(r->o.rg_filter_ctx, r, next))))
            next++;
        if (next >= r->nrg) {
            fl_arena_reset(&r->rg_arena);
            r->cur_rg = -2;
            memset(r->cur, 0, (size_t)r->schema->nleaves * sizeof *r->cur);
            return FL_E_EOF;
        }
        fl_rc rc = load_row_group(r, next, err);
        if (rc) return rc;
    }
    pq_asm m = {r, a, err, FL_OK};
    /* every selected leaf must start a new record here */
    for (int l = 0; l < r->schema->nleaves; l++) {
        pq_cursor *c = &r->cur[l];
        if (!c->loaded) continue;
        if (c->lev >= c->col.num_levels) return afail(&m, "fewer values than rows", r->schema->leaves[l]);
        if (c->col.rep_levels && c->col.rep_levels[c->lev] != 0) return afail(&m, "row does not start at repetition level 0", r->schema->leaves[l]);
    }
    fl_pq_val *row = fl_arena_alloc(a, sizeof *row);
    if (!row) return fl_err_set(err, FL_E_NOMEM, "parquet reader: out of memory");
    struct_value(&m, 0, row);
    if (m.rc) return m.rc;
    r->rg_row++;
    *out = row;
    return FL_OK;
}
