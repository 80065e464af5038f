/* view_compile.c - ViewDefinition validation and compilation into a plan (module view).
 * Walks the JSON view once: checks keys, JSON types, names and the select-structure
 * rules, compiles every FHIRPath expression once (constants and %rowIndex become
 * FHIRPath variables), assigns each column its output slot and storage type, and
 * matches unionAll branches. Errors name the place in the view ("select[1].column[0]").
 * The resulting plan is immutable. Uses base, json, fhirpath. */
#include "view/view_int.h"

/* Compile-time state. */
typedef struct vc {
    fl_view_plan *plan;
    fl_vec cols; /* col_ent */
    fl_err *err;
} vc;

typedef struct col_ent {
    fl_view_col col;
    view_colinfo info;
} col_ent;

#define KEYS_META "id", "extension", "modifierExtension"

static const char *const view_keys[] = {
    "resourceType", "id", "meta", "implicitRules", "language", "text", "contained", "extension",
    "modifierExtension", "url", "identifier", "version", "versionAlgorithmString",
    "versionAlgorithmCoding", "name", "title", "status", "experimental", "date", "publisher",
    "contact", "description", "useContext", "jurisdiction", "purpose", "copyright",
    "copyrightLabel", "profile", "fhirVersion", "resource", "constant", "select", "where", NULL};
static const char *const select_keys[] = {KEYS_META, "column", "select", "forEach", "forEachOrNull",
                                          "repeat", "unionAll", NULL};
static const char *const column_keys[] = {KEYS_META, "name", "path", "description", "collection",
                                          "type", "tag", NULL};
static const char *const tag_keys[] = {KEYS_META, "name", "value", NULL};
static const char *const where_keys[] = {KEYS_META, "path", "description", NULL};

/* value[x] types a constant may use, with the JSON type each must have. */
static const struct {
    const char *suffix; /* after "value" */
    const char *fhir;   /* FHIR type name */
    uint8_t json;       /* fl_json_type expected (TRUE means boolean) */
} const_types[] = {
    {"Base64Binary", "base64Binary", FL_JSON_STRING}, {"Boolean", "boolean", FL_JSON_TRUE},
    {"Canonical", "canonical", FL_JSON_STRING},       {"Code", "code", FL_JSON_STRING},
    {"Date", "date", FL_JSON_STRING},                 {"DateTime", "dateTime", FL_JSON_STRING},
    {"Decimal", "decimal", FL_JSON_NUMBER},           {"Id", "id", FL_JSON_STRING},
    {"Instant", "instant", FL_JSON_STRING},           {"Integer", "integer", FL_JSON_NUMBER},
    {"Integer64", "integer64", FL_JSON_STRING},       {"Oid", "oid", FL_JSON_STRING},
    {"PositiveInt", "positiveInt", FL_JSON_NUMBER},   {"String", "string", FL_JSON_STRING},
    {"Time", "time", FL_JSON_STRING},                 {"UnsignedInt", "unsignedInt", FL_JSON_NUMBER},
    {"Uri", "uri", FL_JSON_STRING},                   {"Url", "url", FL_JSON_STRING},
    {"Uuid", "uuid", FL_JSON_STRING},
};

static bool key_allowed(fl_str key, const char *const *allowed)
{
    if (key.len > 1 && key.ptr[0] == '_') key = fl_str_make(key.ptr + 1, key.len - 1);
    for (; *allowed; allowed++)
        if (fl_str_eq_c(key, *allowed)) return true;
    return false;
}

static fl_rc check_obj(vc *c, const fl_json_val *v, const char *where, const char *const *allowed)
{
    if (!fl_json_is_obj(v))
        return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s: expected a JSON object", where);
    if (c->plan->opts.flags & FL_VIEW_LENIENT_KEYS) return FL_OK;
    for (uint32_t i = 0; i < v->len; i++) {
        fl_str k = v->u.members[i].key;
        if (!key_allowed(k, allowed))
            return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s: unknown key '" FL_STR_FMT "'", where,
                              FL_STR_ARG(k));
    }
    return FL_OK;
}

/* Optional string member (NULL if absent); error if present with another type. */
static fl_rc get_str(vc *c, const fl_json_val *obj, const char *key, const char *where, bool required,
                     const char **out)
{
    const fl_json_val *v = fl_json_get_c(obj, key);
    *out = NULL;
    if (!v) {
        if (required)
            return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s: missing required key '%s'", where, key);
        return FL_OK;
    }
    if (!fl_json_is_str(v))
        return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s: '%s' must be a string", where, key);
    if (memchr(v->u.str, 0, v->len))
        return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s: '%s' contains a NUL byte", where, key);
    *out = fl_arena_strndup(&c->plan->arena, v->u.str, v->len);
    if (!*out) return fl_err_set(c->err, FL_E_NOMEM, "%s: out of memory", where);
    return FL_OK;
}

static fl_rc get_arr(vc *c, const fl_json_val *obj, const char *key, const char *where,
                     const fl_json_val **out)
{
    const fl_json_val *v = fl_json_get_c(obj, key);
    *out = NULL;
    if (!v) return FL_OK;
    if (!fl_json_is_arr(v))
        return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s: '%s' must be an array", where, key);
    *out = v;
    return FL_OK;
}

/* ^[A-Za-z][A-Za-z0-9_]*$ (the spec's name rule for views, columns and constants). */
static bool valid_name(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))) return false;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

/* "base.key[i]" (or "key[i]" when base is NULL) in the plan arena, for messages. */
static const char *at(vc *c, const char *base, const char *key, size_t i)
{
    const char *s = base ? fl_arena_printf(&c->plan->arena, "%s.%s[%zu]", base, key, i)
                         : fl_arena_printf(&c->plan->arena, "%s[%zu]", key, i);
    return s ? s : key;
}

/* Compile one FHIRPath expression; errors quote the place, the expression and column. */
static fl_rc compile_path(vc *c, const char *expr, const char *where, const char *ctx_type,
                          fl_fp_prog **out)
{
    fl_view_plan *plan = c->plan;
    fl_fp_opts o;
    fl_fp_opts_default(&o);
    o.vars = plan->var_names;
    o.nvars = plan->nvars;
    o.root_type = ctx_type;
    o.name = where;
    fl_rc rc = fl_fp_compile(expr, strlen(expr), &o, out, c->err);
    if (rc) {
        if (c->err && c->err->col)
            fl_err_prefix(c->err, "%s: path '%s' (col %u): ", where, expr, (unsigned)c->err->col);
        else
            fl_err_prefix(c->err, "%s: path '%s': ", where, expr);
        if (rc == FL_E_FP_SYNTAX || rc == FL_E_FP_COMPILE || rc == FL_E_FP_TYPE) {
            if (c->err) c->err->code = FL_E_VIEW_INVALID;
            rc = FL_E_VIEW_INVALID;
        }
        return rc;
    }
    if (fl_vec_push(&plan->progs, out) != FL_OK) {
        fl_fp_prog_free(*out);
        *out = NULL;
        return fl_err_set(c->err, FL_E_NOMEM, "%s: out of memory", where);
    }
    return FL_OK;
}

/* ------------------------------------------------------------------ fast paths */

/* FHIRPath words that are not member names when they stand alone. */
static const char *const fp_words[] = {"true", "false", "and", "or", "xor", "implies", "not", "div",
                                       "mod", "in", "contains", "as", "is", "today", "now", NULL};

static bool fast_lower(char ch) { return ch >= 'a' && ch <= 'z'; }
static bool fast_alnum(char ch)
{
    return fast_lower(ch) || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}
static const char *fast_ws(const char *q)
{
    while (*q == ' ') q++;
    return q;
}
/* An identifier that is a member name at q: its length, or 0. */
static size_t fast_ident(const char *q)
{
    if (!fast_lower(*q)) return 0;
    size_t n = 1;
    while (fast_alnum(q[n])) n++;
    for (const char *const *w = fp_words; *w; w++)
        if (strlen(*w) == n && !memcmp(q, *w, n)) return 0;
    return n;
}
/* A plain 'text' literal at q (no escapes, no quotes inside): *lit and the byte after it,
 * or NULL. */
static const char *fast_lit(const char *q, fl_str *lit)
{
    if (*q != '\'') return NULL;
    const char *b = ++q;
    while (*q && *q != '\'' && *q != '\\') q++;
    if (*q != '\'') return NULL;
    *lit = fl_str_make(b, (size_t)(q - b));
    return q + 1;
}

const view_fast *view_fast_make(fl_arena *a, const char *expr, const fl_fp_prog *p, uint32_t *nhints)
{
    const char *type = fl_fp_prog_fhir_type(p);
    fl_str segs_l[16], fk[16], fv[16], sep = FL_STR_NULL;
    uint32_t nsegs = 0;
    uint8_t tail = VIEW_FAST_ALL;
    bool rkey = false;
    const char *q = expr;
    if (!strcmp(expr, "getResourceKey()")) {
        rkey = true;
        q += strlen(expr);
    }
    while (*q) {
        /* a member name, then the end or '.' */
        size_t n = fast_ident(q);
        if (!n || nsegs == 16) return NULL;
        segs_l[nsegs] = fl_str_make(q, n);
        fk[nsegs] = fv[nsegs] = FL_STR_NULL;
        nsegs++;
        q += n;
        if (!*q) break;
        if (*q != '.') return NULL;
        q++;
        if (!strncmp(q, "where(", 6)) { /* .where(key = 'text') */
            const char *r = fast_ws(q + 6);
            size_t kn = fast_ident(r);
            if (!kn) return NULL;
            fk[nsegs - 1] = fl_str_make(r, kn);
            r = fast_ws(r + kn);
            if (*r != '=') return NULL;
            r = fast_lit(fast_ws(r + 1), &fv[nsegs - 1]);
            if (!r) return NULL;
            r = fast_ws(r);
            if (*r != ')') return NULL;
            q = r + 1;
            if (!*q) break;
            if (*q != '.') return NULL;
            q++;
        }
        if (!strcmp(q, "first()")) {
            tail = VIEW_FAST_FIRST;
            break;
        }
        if (!strncmp(q, "join(", 5)) { /* .join('sep') at the end */
            const char *r = fast_lit(fast_ws(q + 5), &sep);
            if (!r) return NULL;
            r = fast_ws(r);
            if (r[0] != ')' || r[1]) return NULL;
            tail = VIEW_FAST_JOIN;
            break;
        }
    }
    if (rkey ? nsegs != 0 : nsegs == 0) return NULL;
    /* objects at the end need their FHIR type; strings (join, resource key) do not */
    if (!type && !rkey && tail != VIEW_FAST_JOIN) return NULL;
    view_fast *f = fl_arena_calloc(a, 1, sizeof *f);
    fl_str *segs = fl_arena_calloc(a, nsegs ? nsegs * 3 : 1, sizeof *segs);
    if (!f || !segs) return NULL;
    for (uint32_t i = 0; i < nsegs; i++) {
        segs[i] = segs_l[i];
        segs[nsegs + i] = fk[i];
        segs[2 * nsegs + i] = fv[i];
    }
    f->segs = segs;
    f->filt_key = segs + nsegs;
    f->filt_val = segs + 2 * nsegs;
    f->nsegs = nsegs;
    f->tail = tail;
    f->resource_key = rkey;
    f->join_sep = sep;
    f->fhir_type = type;
    f->hint_base = *nhints;
    *nhints += nsegs;
    if (!type) return f;
    /* Objects of a type that is not resolved through resourceType all get the same item
     * apart from the node pointers: probe with and without a resourceType member. */
    static const fl_json_member probe_m = {{"resourceType", 12}, {FL_JSON_STRING, 0, 0, 6, {"Bundle"}}};
    fl_json_val empty = {FL_JSON_OBJECT, 0, 0, 0, {NULL}};
    fl_json_val with_rt = {FL_JSON_OBJECT, 0, 0, 1, {NULL}};
    with_rt.u.members = (fl_json_member *)(uintptr_t)&probe_m;
    fl_fp_item t1 = fl_fp_item_from_json(&empty, type), t2 = fl_fp_item_from_json(&with_rt, type);
    if (t1.kind == FL_FP_NODE && t1.ftype != 0 && t1.ftype == t2.ftype && t1.prec == t2.prec &&
        t1.flags_ == t2.flags_ && !t1.ext && !t2.ext) {
        f->node_tmpl = t1;
        f->node_tmpl_ok = true;
    }
    return f;
}

/* ------------------------------------------------------------------ constants */

static fl_rc compile_constants(vc *c, const fl_json_val *arr)
{
    fl_view_plan *plan = c->plan;
    size_t n = arr ? arr->len : 0;
    if (n > FL_VIEW_MAX_CONSTANTS)
        return fl_err_set(c->err, FL_E_LIMIT, "constant: more than %u constants", FL_VIEW_MAX_CONSTANTS);
    plan->nvars = (uint32_t)n + 1;
    plan->var_names = fl_arena_calloc(&plan->arena, n + 1, sizeof(char *));
    plan->var_vals = fl_arena_calloc(&plan->arena, n + 1, sizeof(fl_fp_coll));
    if (!plan->var_names || !plan->var_vals) return fl_err_set(c->err, FL_E_NOMEM, "out of memory");
    plan->var_names[0] = "rowIndex";
    for (size_t i = 0; i < n; i++) {
        const fl_json_val *k = &arr->u.items[i];
        const char *where = at(c, NULL, "constant", i), *name;
        fl_rc rc;
        if (!fl_json_is_obj(k))
            return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s: expected a JSON object", where);
        if ((rc = get_str(c, k, "name", where, true, &name))) return rc;
        if (!valid_name(name))
            return fl_err_set(c->err, FL_E_VIEW_INVALID,
                              "%s: name '%s' must match [A-Za-z][A-Za-z0-9_]*", where, name);
        if (!strcmp(name, "rowIndex"))
            return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s: name 'rowIndex' is reserved", where);
        for (size_t j = 0; j < i + 1; j++)
            if (!strcmp(plan->var_names[j], name))
                return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s: duplicate constant name '%s'",
                                  where, name);
        const fl_json_val *val = NULL;
        const char *fhir = NULL;
        uint8_t want = 0;
        for (uint32_t m = 0; m < k->len; m++) {
            fl_str key = k->u.members[m].key;
            if (fl_str_eq_c(key, "name") || key_allowed(key, (const char *const[]){KEYS_META, NULL}) ||
                (key.len > 1 && key.ptr[0] == '_'))
                continue;
            bool known = false;
            for (size_t t = 0; t < sizeof const_types / sizeof const_types[0]; t++) {
                if (key.len == 5 + strlen(const_types[t].suffix) && !memcmp(key.ptr, "value", 5) &&
                    !memcmp(key.ptr + 5, const_types[t].suffix, key.len - 5)) {
                    if (val)
                        return fl_err_set(c->err, FL_E_VIEW_INVALID,
                                          "%s (name '%s'): more than one value[x]", where, name);
                    val = &k->u.members[m].val;
                    fhir = const_types[t].fhir;
                    want = const_types[t].json;
                    known = true;
                }
            }
            if (!known && !(plan->opts.flags & FL_VIEW_LENIENT_KEYS))
                return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s (name '%s'): unknown key '" FL_STR_FMT "'",
                                  where, name, FL_STR_ARG(key));
        }
        if (!val)
            return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s (name '%s'): missing value[x]", where, name);
        bool ok = want == FL_JSON_TRUE ? fl_json_is_bool(val) : val->type == want;
        if (ok && want == FL_JSON_NUMBER && strcmp(fhir, "decimal") != 0)
            ok = (val->flags & FL_JSON_F_INT) != 0;
        if (!ok)
            return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s (name '%s'): value%c%s has the wrong JSON type",
                              where, name, fhir[0] - 32, fhir + 1);
        fl_fp_item *item = fl_arena_alloc(&plan->arena, sizeof *item);
        if (!item) return fl_err_set(c->err, FL_E_NOMEM, "out of memory");
        *item = fl_fp_item_from_json(val, fhir);
        if (item->kind == 0)
            return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s (name '%s'): invalid %s value", where,
                              name, fhir);
        plan->var_names[i + 1] = name;
        plan->var_vals[i + 1] = fl_fp_coll_one(item);
    }
    return FL_OK;
}

/* ------------------------------------------------------------------ columns */

static fl_rc infer_type(vc *c, const fl_fp_prog *p, col_ent *e)
{
    const char *ft = fl_fp_prog_fhir_type(p);
    if (ft && view_type_from_fhir(ft, c->plan->opts.flags, &e->col.type, &e->info)) {
        e->col.fhir_type = ft;
        e->info.json_ok = true;
        return FL_OK;
    }
    static const char *const hint_names[] = {
        [FL_FP_HINT_UNKNOWN] = NULL,       [FL_FP_HINT_BOOL] = "boolean", [FL_FP_HINT_INT] = "integer",
        [FL_FP_HINT_DEC] = "decimal",      [FL_FP_HINT_STR] = "string",   [FL_FP_HINT_DATE] = "date",
        [FL_FP_HINT_DATETIME] = "dateTime", [FL_FP_HINT_TIME] = "time",    [FL_FP_HINT_QTY] = "Quantity",
        [FL_FP_HINT_NODE] = NULL,
    };
    fl_fp_hint h = fl_fp_prog_hint(p);
    const char *name = (unsigned)h < sizeof hint_names / sizeof hint_names[0] ? hint_names[h] : NULL;
    if (!name || !view_type_from_fhir(name, c->plan->opts.flags, &e->col.type, &e->info)) {
        e->col.type = FL_VIEW_STRING;
        name = "string";
    }
    e->col.fhir_type = name;
    e->info.json_ok = true; /* undeclared: complex values become JSON text */
    return FL_OK;
}

static fl_rc compile_column(vc *c, const fl_json_val *obj, const char *where, const char *ctx_type,
                            view_cref *cref)
{
    fl_rc rc;
    col_ent e;
    memset(&e, 0, sizeof e);
    if (!fl_json_is_obj(obj))
        return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s: expected a JSON object", where);
    if ((rc = get_str(c, obj, "name", where, true, &e.col.name))) return rc;
    const char *w2 = fl_arena_printf(&c->plan->arena, "%s (column '%s')", where, e.col.name);
    if (w2) where = w2;
    if ((rc = check_obj(c, obj, where, column_keys))) return rc;
    if (!valid_name(e.col.name))
        return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s: name must match [A-Za-z][A-Za-z0-9_]*",
                          where);
    if ((rc = get_str(c, obj, "path", where, true, &e.col.path))) return rc;
    if ((rc = get_str(c, obj, "description", where, false, &e.col.description))) return rc;
    const char *type = NULL;
    if ((rc = get_str(c, obj, "type", where, false, &type))) return rc;
    const fl_json_val *coll = fl_json_get_c(obj, "collection");
    if (coll && !fl_json_is_bool(coll))
        return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s: 'collection' must be a boolean", where);
    e.col.collection = coll && coll->type == FL_JSON_TRUE;
    e.col.nullable = true;
    const char *ansi = NULL;
    const fl_json_val *tags;
    if ((rc = get_arr(c, obj, "tag", where, &tags))) return rc;
    for (uint32_t i = 0; tags && i < tags->len; i++) {
        const char *tw = at(c, where, "tag", i), *tn, *tv;
        if ((rc = check_obj(c, &tags->u.items[i], tw, tag_keys))) return rc;
        if ((rc = get_str(c, &tags->u.items[i], "name", tw, true, &tn))) return rc;
        if ((rc = get_str(c, &tags->u.items[i], "value", tw, true, &tv))) return rc;
        if (!strcmp(tn, "ansi/type")) ansi = tv;
    }
    if ((rc = compile_path(c, e.col.path, where, ctx_type, &cref->prog))) return rc;
    cref->fast = view_fast_make(&c->plan->arena, e.col.path, cref->prog, &c->plan->nhints);
    if (type) {
        if (!view_type_from_fhir(type, c->plan->opts.flags, &e.col.type, &e.info))
            return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s: unknown type '%s'", where, type);
        e.col.fhir_type = type;
        e.col.declared = true;
    }
    if (ansi) {
        if (!view_type_from_ansi(ansi, &e.col.type, &e.col.precision, &e.col.scale))
            return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s: unsupported ansi/type '%s'", where, ansi);
        e.col.declared = true;
        if (!type) e.info.json_ok = true;
    }
    if (!e.col.declared && (rc = infer_type(c, cref->prog, &e))) return rc;
    if (c->cols.len >= FL_VIEW_MAX_COLUMNS)
        return fl_err_set(c->err, FL_E_LIMIT, "%s: more than %u columns", where, FL_VIEW_MAX_COLUMNS);
    cref->out = (uint32_t)c->cols.len;
    if (fl_vec_push(&c->cols, &e)) return fl_err_set(c->err, FL_E_NOMEM, "out of memory");
    return FL_OK;
}

/* ------------------------------------------------------------------ selects */

static fl_rc compile_sel(vc *c, const fl_json_val *obj, const char *where, const char *ctx_type,
                         uint32_t depth, view_sel **out);

static void remap(view_sel *s, uint32_t from, uint32_t to)
{
    for (uint32_t i = 0; i < s->ncols; i++) s->cols[i].out = s->cols[i].out - from + to;
    s->col_begin = s->col_begin - from + to;
    s->col_end = s->col_end - from + to;
    for (uint32_t i = 0; i < s->nsubs; i++) remap(s->subs[i], from, to);
    for (uint32_t i = 0; i < s->nunions; i++) remap(s->unions[i], from, to);
}

/* Branch k's columns [b, e) must match branch 0's [b0, e0): names, order, collection and
 * declared types. */
static fl_rc match_branch(vc *c, const char *where, size_t k, uint32_t b0, uint32_t e0, uint32_t b,
                          uint32_t e)
{
    col_ent *cols = c->cols.ptr;
    if (e - b != e0 - b0) {
        return fl_err_set(c->err, FL_E_VIEW_INVALID,
                          "%s: unionAll[%zu] has %u columns but unionAll[0] has %u; every branch "
                          "must have the same columns in the same order",
                          where, k, e - b, e0 - b0);
    }
    for (uint32_t j = 0; j < e - b; j++) {
        col_ent *x = &cols[b0 + j], *y = &cols[b + j];
        if (strcmp(x->col.name, y->col.name) != 0)
            return fl_err_set(c->err, FL_E_VIEW_INVALID,
                              "%s: unionAll[%zu] column %u is '%s' but unionAll[0] has '%s' there; "
                              "every branch must have the same columns in the same order",
                              where, k, j, y->col.name, x->col.name);
        if (x->col.collection != y->col.collection)
            return fl_err_set(c->err, FL_E_VIEW_INVALID,
                              "%s: unionAll[%zu] column '%s' differs in 'collection'", where, k,
                              y->col.name);
        if (x->col.type != y->col.type || x->col.precision != y->col.precision ||
            x->col.scale != y->col.scale) {
            if (x->col.declared && y->col.declared)
                return fl_err_set(c->err, FL_E_VIEW_INVALID,
                                  "%s: unionAll[%zu] column '%s' is %s but unionAll[0] has %s", where,
                                  k, y->col.name, fl_view_type_name(y->col.type),
                                  fl_view_type_name(x->col.type));
            if (y->col.declared) {
                x->col = (fl_view_col){.name = x->col.name, .path = x->col.path,
                                       .description = x->col.description, .fhir_type = y->col.fhir_type,
                                       .type = y->col.type, .collection = x->col.collection,
                                       .declared = true, .nullable = true,
                                       .precision = y->col.precision, .scale = y->col.scale};
                x->info = y->info;
            } else if (!x->col.declared) {
                x->col.type = FL_VIEW_STRING;
                x->col.fhir_type = "string";
                x->info.json_ok = true;
            }
        }
    }
    return FL_OK;
}

/* forEach / forEachOrNull / repeat of one select structure; *inner_type receives the
 * static FHIR type of the items its columns are evaluated on (NULL when unknown). */
static fl_rc compile_iter(vc *c, view_sel *s, const fl_json_val *obj, const char *where,
                          const char *ctx_type, const char **inner_type)
{
    fl_view_plan *plan = c->plan;
    fl_rc rc;
    const fl_json_val *fe = fl_json_get_c(obj, "forEach"), *fon = fl_json_get_c(obj, "forEachOrNull"),
                      *rep = fl_json_get_c(obj, "repeat");
    if ((fe != NULL) + (fon != NULL) + (rep != NULL) > 1)
        return fl_err_set(c->err, FL_E_VIEW_INVALID,
                          "%s: only one of forEach, forEachOrNull and repeat may be given", where);
    *inner_type = ctx_type;
    if (fe || fon) {
        const char *key = fe ? "forEach" : "forEachOrNull", *expr;
        const char *w = fl_arena_printf(&plan->arena, "%s.%s", where, key);
        if ((rc = get_str(c, obj, key, w ? w : where, true, &expr))) return rc;
        s->iter = fe ? VIEW_IT_FOREACH : VIEW_IT_FOREACH_OR_NULL;
        s->iters = fl_arena_calloc(&plan->arena, 1, sizeof *s->iters);
        if (!s->iters) return fl_err_set(c->err, FL_E_NOMEM, "out of memory");
        s->niters = 1;
        if ((rc = compile_path(c, expr, w ? w : where, ctx_type, &s->iters[0]))) return rc;
        s->iter_fast = view_fast_make(&plan->arena, expr, s->iters[0], &plan->nhints);
        *inner_type = fl_fp_prog_fhir_type(s->iters[0]);
    } else if (rep) {
        if (!fl_json_is_arr(rep) || rep->len == 0)
            return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s: 'repeat' must be a non-empty array of paths",
                              where);
        s->iter = VIEW_IT_REPEAT;
        s->niters = rep->len;
        s->iters = fl_arena_calloc(&plan->arena, rep->len, sizeof *s->iters);
        if (!s->iters) return fl_err_set(c->err, FL_E_NOMEM, "out of memory");
        for (uint32_t i = 0; i < rep->len; i++) {
            const char *w = at(c, where, "repeat", i);
            const fl_json_val *p = &rep->u.items[i];
            if (!fl_json_is_str(p))
                return fl_err_set(c->err, FL_E_VIEW_INVALID, "%s: must be a string", w);
            const char *expr = fl_arena_strndup(&plan->arena, p->u.str, p->len);
            if (!expr) return fl_err_set(c->err, FL_E_NOMEM, "out of memory");
            /* the context of a repeat path is the start node or any node reached */
            if ((rc = compile_path(c, expr, w, NULL, &s->iters[i]))) return rc;
        }
        *inner_type = NULL;
    }
    return FL_OK;
}

static fl_rc compile_sel(vc *c, const fl_json_val *obj, const char *where, const char *ctx_type,
                         uint32_t depth, view_sel **out)
{
    fl_view_plan *plan = c->plan;
    fl_rc rc;
    if (depth > FL_VIEW_MAX_SELECT_DEPTH)
        return fl_err_set(c->err, FL_E_LIMIT, "%s: select structures nested deeper than %u", where,
                          FL_VIEW_MAX_SELECT_DEPTH);
    if ((rc = check_obj(c, obj, where, select_keys))) return rc;
    view_sel *s = fl_arena_calloc(&plan->arena, 1, sizeof *s);
    if (!s) return fl_err_set(c->err, FL_E_NOMEM, "out of memory");
    s->where = where;
    const char *inner_type = ctx_type;
    if ((rc = compile_iter(c, s, obj, where, ctx_type, &inner_type))) return rc;
    const fl_json_val *cols, *subs, *uni;
    if ((rc = get_arr(c, obj, "column", where, &cols))) return rc;
    if ((rc = get_arr(c, obj, "select", where, &subs))) return rc;
    if ((rc = get_arr(c, obj, "unionAll", where, &uni))) return rc;
    if ((!cols || !cols->len) && (!subs || !subs->len) && (!uni || !uni->len))
        return fl_err_set(c->err, FL_E_VIEW_INVALID,
                          "%s: a select structure needs at least one column, select or unionAll", where);
    s->col_begin = (uint32_t)c->cols.len;
    if (cols && cols->len) {
        s->ncols = cols->len;
        s->cols = fl_arena_calloc(&plan->arena, cols->len, sizeof *s->cols);
        if (!s->cols) return fl_err_set(c->err, FL_E_NOMEM, "out of memory");
        for (uint32_t i = 0; i < cols->len; i++)
            if ((rc = compile_column(c, &cols->u.items[i], at(c, where, "column", i), inner_type,
                                     &s->cols[i])))
                return rc;
    }
    if (subs && subs->len) {
        s->nsubs = subs->len;
        s->subs = fl_arena_calloc(&plan->arena, subs->len, sizeof *s->subs);
        if (!s->subs) return fl_err_set(c->err, FL_E_NOMEM, "out of memory");
        for (uint32_t i = 0; i < subs->len; i++)
            if ((rc = compile_sel(c, &subs->u.items[i], at(c, where, "select", i), inner_type,
                                  depth + 1, &s->subs[i])))
                return rc;
    }
    if (uni && uni->len) {
        s->nunions = uni->len;
        s->unions = fl_arena_calloc(&plan->arena, uni->len, sizeof *s->unions);
        if (!s->unions) return fl_err_set(c->err, FL_E_NOMEM, "out of memory");
        uint32_t b0 = (uint32_t)c->cols.len, e0 = 0;
        for (uint32_t i = 0; i < uni->len; i++) {
            uint32_t b = (uint32_t)c->cols.len;
            if ((rc = compile_sel(c, &uni->u.items[i], at(c, where, "unionAll", i), inner_type,
                                  depth + 1, &s->unions[i])))
                return rc;
            uint32_t e = (uint32_t)c->cols.len;
            if (i == 0) {
                e0 = e;
                continue;
            }
            if ((rc = match_branch(c, where, i, b0, e0, b, e))) return rc;
            remap(s->unions[i], b, b0);
            c->cols.len = b;
        }
    }
    s->col_end = (uint32_t)c->cols.len;
    *out = s;
    return FL_OK;
}

/* ------------------------------------------------------------------ the view */

static fl_rc compile_where(vc *c, const fl_json_val *arr)
{
    fl_view_plan *plan = c->plan;
    if (!arr || !arr->len) return FL_OK;
    plan->nwheres = arr->len;
    plan->wheres = fl_arena_calloc(&plan->arena, arr->len, sizeof *plan->wheres);
    plan->where_paths = fl_arena_calloc(&plan->arena, arr->len, sizeof *plan->where_paths);
    if (!plan->wheres || !plan->where_paths) return fl_err_set(c->err, FL_E_NOMEM, "out of memory");
    for (uint32_t i = 0; i < arr->len; i++) {
        const char *w = at(c, NULL, "where", i), *path, *desc;
        fl_rc rc;
        if ((rc = check_obj(c, &arr->u.items[i], w, where_keys))) return rc;
        if ((rc = get_str(c, &arr->u.items[i], "path", w, true, &path))) return rc;
        if ((rc = get_str(c, &arr->u.items[i], "description", w, false, &desc))) return rc;
        if ((rc = compile_path(c, path, w, plan->resource, &plan->wheres[i]))) return rc;
        plan->where_paths[i] = path;
        fl_fp_hint h = fl_fp_prog_hint(plan->wheres[i]);
        if (h != FL_FP_HINT_UNKNOWN && h != FL_FP_HINT_BOOL)
            return fl_err_set(c->err, FL_E_VIEW_INVALID,
                              "%s: path '%s' does not return a boolean (where paths must)", w, path);
    }
    return FL_OK;
}

static fl_rc compile_view(vc *c, const fl_json_val *v)
{
    fl_view_plan *plan = c->plan;
    fl_rc rc;
    const char *rt, *status;
    if ((rc = check_obj(c, v, "ViewDefinition", view_keys))) return rc;
    if ((rc = get_str(c, v, "resourceType", "ViewDefinition", false, &rt))) return rc;
    if (rt && strcmp(rt, "ViewDefinition") != 0)
        return fl_err_set(c->err, FL_E_VIEW_INVALID, "resourceType is '%s', expected 'ViewDefinition'", rt);
    if ((rc = get_str(c, v, "resource", "ViewDefinition", true, &plan->resource))) return rc;
    const char *r = plan->resource;
    bool rok = *r >= 'A' && *r <= 'Z';
    for (const char *p = r; *p && rok; p++)
        rok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');
    if (!rok)
        return fl_err_set(c->err, FL_E_VIEW_INVALID, "resource '%s' is not a FHIR resource type name", r);
    if ((rc = get_str(c, v, "name", "ViewDefinition", false, &plan->name))) return rc;
    if (plan->name && !valid_name(plan->name))
        return fl_err_set(c->err, FL_E_VIEW_INVALID, "name '%s' must match [A-Za-z][A-Za-z0-9_]*",
                          plan->name);
    if (!plan->name) plan->name = "";
    if ((rc = get_str(c, v, "status", "ViewDefinition", false, &status))) return rc;
    const fl_json_val *consts, *wheres, *sels;
    if ((rc = get_arr(c, v, "constant", "ViewDefinition", &consts))) return rc;
    if ((rc = get_arr(c, v, "where", "ViewDefinition", &wheres))) return rc;
    if ((rc = get_arr(c, v, "select", "ViewDefinition", &sels))) return rc;
    if (!sels || !sels->len)
        return fl_err_set(c->err, FL_E_VIEW_INVALID, "ViewDefinition: missing required key 'select'");
    if ((rc = compile_constants(c, consts))) return rc;
    if ((rc = compile_where(c, wheres))) return rc;

    view_sel *root = fl_arena_calloc(&plan->arena, 1, sizeof *root);
    if (!root) return fl_err_set(c->err, FL_E_NOMEM, "out of memory");
    root->where = "ViewDefinition";
    root->nsubs = sels->len;
    root->subs = fl_arena_calloc(&plan->arena, sels->len, sizeof *root->subs);
    if (!root->subs) return fl_err_set(c->err, FL_E_NOMEM, "out of memory");
    for (uint32_t i = 0; i < sels->len; i++)
        if ((rc = compile_sel(c, &sels->u.items[i], at(c, NULL, "select", i), plan->resource, 1,
                              &root->subs[i])))
            return rc;
    root->col_end = (uint32_t)c->cols.len;
    plan->root = root;

    /* Final column table; names must be unique across the whole view. */
    plan->ncols = (uint32_t)c->cols.len;
    plan->cols = fl_arena_calloc(&plan->arena, c->cols.len ? c->cols.len : 1, sizeof *plan->cols);
    plan->info = fl_arena_calloc(&plan->arena, c->cols.len ? c->cols.len : 1, sizeof *plan->info);
    if (!plan->cols || !plan->info) return fl_err_set(c->err, FL_E_NOMEM, "out of memory");
    fl_map seen;
    fl_map_init(&seen);
    for (uint32_t i = 0; i < plan->ncols; i++) {
        col_ent *e = &FL_VEC_AT(&c->cols, col_ent, i);
        plan->cols[i] = e->col;
        plan->info[i] = e->info;
        bool found = false;
        (void)fl_map_get(&seen, fl_str_c(e->col.name), &found);
        if (found) {
            fl_map_reset(&seen);
            return fl_err_set(c->err, FL_E_VIEW_INVALID,
                              "duplicate column name '%s' (column names must be unique in a view)",
                              e->col.name);
        }
        fl_buf kb;
        fl_buf_init(&kb, 0);
        fl_buf_putc(&kb, ',');
        fl_json_write_str(&kb, fl_str_c(e->col.name));
        fl_buf_putc(&kb, ':');
        plan->info[i].json_key_sep = kb.rc ? FL_STR_NULL : fl_arena_str_dup(&plan->arena, fl_buf_str(&kb));
        plan->info[i].json_key = plan->info[i].json_key_sep;
        if (plan->info[i].json_key.ptr) {
            plan->info[i].json_key.ptr++;
            plan->info[i].json_key.len--;
        }
        fl_buf_reset(&kb);
        if (!plan->info[i].json_key.ptr || fl_map_put(&seen, fl_str_c(e->col.name), NULL, NULL)) {
            fl_map_reset(&seen);
            return fl_err_set(c->err, FL_E_NOMEM, "out of memory");
        }
    }
    fl_map_reset(&seen);
    return FL_OK;
}

fl_rc fl_view_compile(const char *text, size_t len, const fl_view_opts *opts, fl_view_plan **out,
                      fl_err *err)
{
    fl_rc rc;
    *out = NULL;
    fl_err_clear(err);
    if (len > FL_VIEW_MAX_VIEW_BYTES)
        return fl_err_set(err, FL_E_LIMIT, "ViewDefinition is larger than %u bytes",
                          FL_VIEW_MAX_VIEW_BYTES);
    fl_view_plan *plan = fl_calloc(1, sizeof *plan);
    if (!plan) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    fl_arena_init(&plan->arena, 0, 0);
    fl_vec_init(&plan->progs, sizeof(fl_fp_prog *));
    if (opts) plan->opts = *opts;
    if (!plan->opts.max_repeat_depth) plan->opts.max_repeat_depth = FL_VIEW_DEFAULT_REPEAT_DEPTH;
    if (!plan->opts.max_rows) plan->opts.max_rows = FL_VIEW_DEFAULT_MAX_ROWS;
    if (!plan->opts.arena_limit) plan->opts.arena_limit = FL_VIEW_DEFAULT_ARENA_LIMIT;
    if (!plan->opts.max_resource) plan->opts.max_resource = FL_VIEW_DEFAULT_MAX_RESOURCE;

    fl_json_opts jo = {.flags = FL_JSON_COPY_STRINGS, .max_depth = 0, .max_size = FL_VIEW_MAX_VIEW_BYTES};
    fl_json_val *root = NULL;
    rc = fl_json_parse(text, len, &jo, &plan->arena, &root, NULL, err);
    if (rc) {
        fl_err_prefix(err, "ViewDefinition JSON: ");
        fl_view_plan_free(plan);
        return rc;
    }
    vc c = {.plan = plan, .err = err};
    fl_vec_init(&c.cols, sizeof(col_ent));
    rc = compile_view(&c, root);
    fl_vec_reset(&c.cols);
    if (rc) {
        fl_view_plan_free(plan);
        return rc;
    }
    *out = plan;
    return FL_OK;
}

fl_rc fl_view_compile_json(const fl_json_val *view, const fl_view_opts *opts, fl_view_plan **out,
                           fl_err *err)
{
    fl_buf b;
    fl_buf_init(&b, FL_VIEW_MAX_VIEW_BYTES);
    *out = NULL;
    if (!view) return fl_err_set(err, FL_E_VIEW_INVALID, "ViewDefinition: no JSON value given");
    fl_rc rc = fl_json_write(view, &b);
    if (rc) {
        fl_buf_reset(&b);
        return fl_err_set(err, rc, "ViewDefinition: cannot serialise the JSON value");
    }
    rc = fl_view_compile(b.ptr ? b.ptr : "", b.len, opts, out, err);
    fl_buf_reset(&b);
    return rc;
}

void fl_view_plan_free(fl_view_plan *plan)
{
    if (!plan) return;
    for (size_t i = 0; i < plan->progs.len; i++) fl_fp_prog_free(FL_VEC_AT(&plan->progs, fl_fp_prog *, i));
    fl_vec_reset(&plan->progs);
    fl_arena_fini(&plan->arena);
    fl_free(plan);
}

size_t fl_view_plan_ncols(const fl_view_plan *plan) { return plan->ncols; }
const fl_view_col *fl_view_plan_col(const fl_view_plan *plan, size_t i)
{
    return i < plan->ncols ? &plan->cols[i] : NULL;
}
const char *fl_view_plan_resource(const fl_view_plan *plan) { return plan->resource; }
const char *fl_view_plan_name(const fl_view_plan *plan) { return plan->name; }
