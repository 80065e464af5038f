/* delta_schema.c - the Delta/Spark schema: parsing schemaString, building schemas in
 * code, writing them back as JSON, deep copies, and the schema-evolution rule (module
 * delta). Types live in an arena owned by fl_delta_schema; nesting is limited by
 * FL_DELTA_MAX_SCHEMA_DEPTH. Unknown type names are kept (FL_DELTA_T_OTHER) so a reader
 * can name them instead of failing on the whole table. */
#include "delta/delta_int.h"

#include <stdio.h>

static const struct {
    const char *name;
    fl_delta_kind kind;
} prim_names[] = {
    {"string", FL_DELTA_T_STRING},   {"long", FL_DELTA_T_LONG},       {"integer", FL_DELTA_T_INTEGER},
    {"short", FL_DELTA_T_SHORT},     {"byte", FL_DELTA_T_BYTE},       {"float", FL_DELTA_T_FLOAT},
    {"double", FL_DELTA_T_DOUBLE},   {"boolean", FL_DELTA_T_BOOLEAN}, {"binary", FL_DELTA_T_BINARY},
    {"date", FL_DELTA_T_DATE},       {"timestamp", FL_DELTA_T_TIMESTAMP},
    {"timestamp_ntz", FL_DELTA_T_TIMESTAMP_NTZ},
};

const char *delta_kind_name(fl_delta_kind k)
{
    for (size_t i = 0; i < sizeof prim_names / sizeof prim_names[0]; i++)
        if (prim_names[i].kind == k) return prim_names[i].name;
    switch (k) {
    case FL_DELTA_T_DECIMAL: return "decimal";
    case FL_DELTA_T_ARRAY: return "array";
    case FL_DELTA_T_MAP: return "map";
    case FL_DELTA_T_STRUCT: return "struct";
    default: return "other";
    }
}

static bool parse_decimal(fl_str s, int32_t *p, int32_t *sc)
{
    /* "decimal" or "decimal(p,s)" with optional spaces */
    if (fl_str_eq_c(s, "decimal")) {
        *p = 10;
        *sc = 0;
        return true;
    }
    if (!fl_str_starts_with(s, FL_STR("decimal(")) || s.ptr[s.len - 1] != ')') return false;
    int64_t vals[2] = {0, 0};
    size_t i = 8;
    for (int k = 0; k < 2; k++) {
        while (i < s.len && s.ptr[i] == ' ') i++;
        size_t st = i;
        while (i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9' && i - st < 3) vals[k] = vals[k] * 10 + (s.ptr[i++] - '0');
        if (i == st) return false;
        while (i < s.len && s.ptr[i] == ' ') i++;
        if (i >= s.len || s.ptr[i] != (k == 0 ? ',' : ')')) return false;
        i++;
    }
    if (i != s.len || vals[0] < 1 || vals[0] > 38 || vals[1] > vals[0]) return false;
    *p = (int32_t)vals[0];
    *sc = (int32_t)vals[1];
    return true;
}

static fl_str json_text(fl_arena *a, const fl_json_val *v)
{
    fl_buf b;
    fl_buf_init(&b, (size_t)1 << 24);
    fl_json_write(v, &b);
    fl_str r = b.rc ? FL_STR_NULL : fl_arena_str_dup(a, fl_buf_str(&b));
    fl_buf_reset(&b);
    return r;
}

static bool get_bool(const fl_json_val *o, const char *k, bool def)
{
    const fl_json_val *v = fl_json_get_c(o, k);
    if (!v || !fl_json_is_bool(v)) return def;
    return v->type == FL_JSON_TRUE;
}

fl_rc delta_type_parse(fl_arena *a, const fl_json_val *v, unsigned depth, const char *path, const fl_delta_type **out,
                       fl_err *err)
{
    if (depth > FL_DELTA_MAX_SCHEMA_DEPTH)
        return fl_err_set(err, FL_E_LIMIT, "schema nesting deeper than %u at %s", FL_DELTA_MAX_SCHEMA_DEPTH, path);
    fl_delta_type *t = fl_arena_calloc(a, 1, sizeof *t);
    if (!t) return fl_err_set(err, FL_E_NOMEM, "out of memory parsing schema");
    if (fl_json_is_str(v)) {
        fl_str s = fl_json_str(v);
        for (size_t i = 0; i < sizeof prim_names / sizeof prim_names[0]; i++) {
            if (fl_str_eq_c(s, prim_names[i].name)) {
                t->kind = prim_names[i].kind;
                *out = t;
                return FL_OK;
            }
        }
        if (fl_str_starts_with(s, FL_STR("decimal"))) {
            if (!parse_decimal(s, &t->precision, &t->scale))
                return fl_err_set(err, FL_E_DELTA_SCHEMA, "schema field %s: bad decimal type '" FL_STR_FMT "'", path,
                                  FL_STR_ARG(s));
            t->kind = FL_DELTA_T_DECIMAL;
            *out = t;
            return FL_OK;
        }
        t->kind = FL_DELTA_T_OTHER;
        t->other = fl_arena_str_dup(a, s);
        *out = t;
        return FL_OK;
    }
    if (!fl_json_is_obj(v))
        return fl_err_set(err, FL_E_DELTA_SCHEMA, "schema field %s: type must be a string or an object", path);
    fl_str tn = fl_json_str(fl_json_get_c(v, "type"));
    char sub[512];
    fl_rc rc;
    if (fl_str_eq_c(tn, "struct")) {
        const fl_json_val *fields = fl_json_get_c(v, "fields");
        if (!fl_json_is_arr(fields))
            return fl_err_set(err, FL_E_DELTA_SCHEMA, "schema %s: struct without a 'fields' array", path);
        fl_delta_field *fs = fl_arena_calloc(a, fields->len ? fields->len : 1, sizeof *fs);
        if (!fs) return fl_err_set(err, FL_E_NOMEM, "out of memory parsing schema");
        for (uint32_t i = 0; i < fields->len; i++) {
            const fl_json_val *f = &fields->u.items[i];
            fl_str name = fl_json_str(fl_json_get_c(f, "name"));
            if (!fl_json_is_obj(f) || !fl_json_is_str(fl_json_get_c(f, "name")))
                return fl_err_set(err, FL_E_DELTA_SCHEMA, "schema %s: field %u has no name", path, i);
            snprintf(sub, sizeof sub, "%s%s" FL_STR_FMT, path, *path ? "." : "", FL_STR_ARG(name));
            const fl_json_val *ft = fl_json_get_c(f, "type");
            if (!ft) return fl_err_set(err, FL_E_DELTA_SCHEMA, "schema field %s has no type", sub);
            for (uint32_t j = 0; j < i; j++) {
                fl_str o = fs[j].name;
                bool same = o.len == name.len;
                for (size_t k = 0; same && k < o.len; k++) {
                    char x = o.ptr[k], y = name.ptr[k];
                    if (x >= 'A' && x <= 'Z') x = (char)(x + 32);
                    if (y >= 'A' && y <= 'Z') y = (char)(y + 32);
                    same = x == y;
                }
                if (same)
                    return fl_err_set(err, FL_E_DELTA_SCHEMA, "schema: duplicate field %s (names are case-insensitive)",
                                      sub);
            }
            fs[i].name = fl_arena_str_dup(a, name);
            fs[i].nullable = get_bool(f, "nullable", true);
            const fl_json_val *md = fl_json_get_c(f, "metadata");
            fs[i].metadata = md ? json_text(a, md) : FL_STR("{}");
            if ((rc = delta_type_parse(a, ft, depth + 1, sub, &fs[i].type, err)) != FL_OK) return rc;
        }
        t->kind = FL_DELTA_T_STRUCT;
        t->fields = fs;
        t->n_fields = fields->len;
    } else if (fl_str_eq_c(tn, "array")) {
        const fl_json_val *et = fl_json_get_c(v, "elementType");
        if (!et) return fl_err_set(err, FL_E_DELTA_SCHEMA, "schema %s: array without elementType", path);
        snprintf(sub, sizeof sub, "%s.element", path);
        t->kind = FL_DELTA_T_ARRAY;
        t->contains_null = get_bool(v, "containsNull", true);
        if ((rc = delta_type_parse(a, et, depth + 1, sub, &t->element, err)) != FL_OK) return rc;
    } else if (fl_str_eq_c(tn, "map")) {
        const fl_json_val *kt = fl_json_get_c(v, "keyType"), *vt = fl_json_get_c(v, "valueType");
        if (!kt || !vt) return fl_err_set(err, FL_E_DELTA_SCHEMA, "schema %s: map without keyType/valueType", path);
        t->kind = FL_DELTA_T_MAP;
        t->value_contains_null = get_bool(v, "valueContainsNull", true);
        snprintf(sub, sizeof sub, "%s.key", path);
        if ((rc = delta_type_parse(a, kt, depth + 1, sub, &t->key, err)) != FL_OK) return rc;
        snprintf(sub, sizeof sub, "%s.value", path);
        if ((rc = delta_type_parse(a, vt, depth + 1, sub, &t->value, err)) != FL_OK) return rc;
    } else {
        t->kind = FL_DELTA_T_OTHER;
        t->other = json_text(a, v);
    }
    *out = t;
    return FL_OK;
}

fl_rc fl_delta_schema_parse(fl_str json, fl_delta_schema **out, fl_err *err)
{
    *out = NULL;
    fl_delta_schema *s = fl_calloc(1, sizeof *s);
    if (!s) return fl_err_set(err, FL_E_NOMEM, "out of memory parsing schema");
    fl_arena_init(&s->a, 0, 0);
    fl_arena scratch;
    fl_arena_init(&scratch, 0, 0);
    fl_rc rc = FL_OK;
    fl_json_val *root = NULL;
    fl_json_opts jo = {.flags = FL_JSON_COPY_STRINGS, .max_depth = 2 * FL_DELTA_MAX_SCHEMA_DEPTH + 8};
    if ((rc = fl_json_parse(json.ptr, json.len, &jo, &scratch, &root, NULL, err)) != FL_OK) {
        fl_err_prefix(err, "schemaString: ");
        if (rc != FL_E_NOMEM) rc = err ? (err->code = FL_E_DELTA_SCHEMA) : FL_E_DELTA_SCHEMA;
        goto done;
    }
    const fl_delta_type *t = NULL;
    FL_TRY(delta_type_parse(&s->a, root, 0, "", &t, err));
    if (t->kind != FL_DELTA_T_STRUCT) FL_FAIL(FL_E_DELTA_SCHEMA, "schemaString: the top-level type must be a struct");
    s->root = (fl_delta_type *)t;
    *out = s;
done:
    fl_arena_fini(&scratch);
    if (rc) fl_delta_schema_free(s);
    return rc;
}

fl_rc fl_delta_schema_new(fl_delta_schema **out, fl_err *err)
{
    *out = NULL;
    fl_delta_schema *s = fl_calloc(1, sizeof *s);
    if (!s) return fl_err_set(err, FL_E_NOMEM, "out of memory");
    fl_arena_init(&s->a, 0, 0);
    s->root = fl_arena_calloc(&s->a, 1, sizeof *s->root);
    if (!s->root) {
        fl_delta_schema_free(s);
        return fl_err_set(err, FL_E_NOMEM, "out of memory");
    }
    s->root->kind = FL_DELTA_T_STRUCT;
    *out = s;
    return FL_OK;
}

void fl_delta_schema_free(fl_delta_schema *s)
{
    if (!s) return;
    fl_arena_fini(&s->a);
    fl_free(s);
}

const fl_delta_type *fl_delta_schema_root(const fl_delta_schema *s) { return s->root; }

static fl_delta_type *new_type(fl_delta_schema *s, fl_delta_kind k)
{
    if (s->rc) return NULL;
    fl_delta_type *t = fl_arena_calloc(&s->a, 1, sizeof *t);
    if (!t) {
        s->rc = FL_E_NOMEM;
        snprintf(s->msg, sizeof s->msg, "out of memory building a schema");
        return NULL;
    }
    t->kind = k;
    return t;
}

const fl_delta_type *fl_delta_schema_prim(fl_delta_schema *s, fl_delta_kind kind)
{
    if (kind >= FL_DELTA_T_DECIMAL) {
        if (!s->rc) {
            s->rc = FL_E_ARG;
            snprintf(s->msg, sizeof s->msg, "fl_delta_schema_prim: %s is not a primitive kind", delta_kind_name(kind));
        }
        return NULL;
    }
    return new_type(s, kind);
}

const fl_delta_type *fl_delta_schema_decimal(fl_delta_schema *s, int32_t precision, int32_t scale)
{
    if (precision < 1 || precision > 38 || scale < 0 || scale > precision) {
        if (!s->rc) {
            s->rc = FL_E_ARG;
            snprintf(s->msg, sizeof s->msg, "decimal(%d,%d): need 1 <= precision <= 38 and 0 <= scale <= precision",
                     (int)precision, (int)scale);
        }
        return NULL;
    }
    fl_delta_type *t = new_type(s, FL_DELTA_T_DECIMAL);
    if (t) t->precision = precision, t->scale = scale;
    return t;
}

const fl_delta_type *fl_delta_schema_array(fl_delta_schema *s, const fl_delta_type *elem, bool contains_null)
{
    if (!elem) return NULL;
    fl_delta_type *t = new_type(s, FL_DELTA_T_ARRAY);
    if (t) t->element = elem, t->contains_null = contains_null;
    return t;
}

const fl_delta_type *fl_delta_schema_map(fl_delta_schema *s, const fl_delta_type *key, const fl_delta_type *value,
                                         bool value_contains_null)
{
    if (!key || !value) return NULL;
    fl_delta_type *t = new_type(s, FL_DELTA_T_MAP);
    if (t) t->key = key, t->value = value, t->value_contains_null = value_contains_null;
    return t;
}

const fl_delta_type *fl_delta_schema_struct(fl_delta_schema *s) { return new_type(s, FL_DELTA_T_STRUCT); }

bool fl_delta_schema_add(fl_delta_schema *s, const fl_delta_type *parent, const char *name, const fl_delta_type *type,
                         bool nullable)
{
    if (s->rc) return false;
    fl_delta_type *p = (fl_delta_type *)(parent ? parent : s->root);
    if (!type || !name || !*name || p->kind != FL_DELTA_T_STRUCT) {
        s->rc = FL_E_ARG;
        snprintf(s->msg, sizeof s->msg, "fl_delta_schema_add(%s): bad parent, name or type", name ? name : "(null)");
        return false;
    }
    if (fl_delta_type_find(p, fl_str_c(name))) {
        s->rc = FL_E_DELTA_SCHEMA;
        snprintf(s->msg, sizeof s->msg, "duplicate field name '%s' (names are case-insensitive)", name);
        return false;
    }
    /* fields arrays are arena-allocated: grow by copying (schemas are small) */
    fl_delta_field *fs = fl_arena_alloc(&s->a, (p->n_fields + 1) * sizeof *fs);
    char *nm = fl_arena_strndup(&s->a, name, strlen(name));
    if (!fs || !nm) {
        s->rc = FL_E_NOMEM;
        snprintf(s->msg, sizeof s->msg, "out of memory building a schema");
        return false;
    }
    if (p->n_fields) memcpy(fs, p->fields, p->n_fields * sizeof *fs);
    fs[p->n_fields] = (fl_delta_field){.name = fl_str_c(nm), .type = type, .nullable = nullable, .metadata = FL_STR("{}")};
    p->fields = fs;
    p->n_fields++;
    return true;
}

fl_rc fl_delta_schema_check(const fl_delta_schema *s, fl_err *err)
{
    if (s->rc) return fl_err_set(err, s->rc, "%s", s->msg);
    return FL_OK;
}

const fl_delta_field *fl_delta_type_find(const fl_delta_type *st, fl_str name)
{
    if (!st || st->kind != FL_DELTA_T_STRUCT) return NULL;
    for (size_t i = 0; i < st->n_fields; i++) {
        fl_str o = st->fields[i].name;
        if (o.len != name.len) continue;
        size_t k = 0;
        for (; k < o.len; k++) {
            char x = o.ptr[k], y = name.ptr[k];
            if (x >= 'A' && x <= 'Z') x = (char)(x + 32);
            if (y >= 'A' && y <= 'Z') y = (char)(y + 32);
            if (x != y) break;
        }
        if (k == o.len) return &st->fields[i];
    }
    return NULL;
}

static void type_json(fl_jw *w, const fl_delta_type *t, unsigned depth)
{
    if (depth > FL_DELTA_MAX_SCHEMA_DEPTH) {
        w->out->rc = FL_E_LIMIT;
        return;
    }
    char tmp[32];
    switch (t->kind) {
    case FL_DELTA_T_DECIMAL:
        snprintf(tmp, sizeof tmp, "decimal(%d,%d)", (int)t->precision, (int)t->scale);
        fl_jw_str_c(w, tmp);
        return;
    case FL_DELTA_T_ARRAY:
        fl_jw_obj_begin(w);
        fl_jw_key_c(w, "type");
        fl_jw_str_c(w, "array");
        fl_jw_key_c(w, "elementType");
        type_json(w, t->element, depth + 1);
        fl_jw_key_c(w, "containsNull");
        fl_jw_bool(w, t->contains_null);
        fl_jw_obj_end(w);
        return;
    case FL_DELTA_T_MAP:
        fl_jw_obj_begin(w);
        fl_jw_key_c(w, "type");
        fl_jw_str_c(w, "map");
        fl_jw_key_c(w, "keyType");
        type_json(w, t->key, depth + 1);
        fl_jw_key_c(w, "valueType");
        type_json(w, t->value, depth + 1);
        fl_jw_key_c(w, "valueContainsNull");
        fl_jw_bool(w, t->value_contains_null);
        fl_jw_obj_end(w);
        return;
    case FL_DELTA_T_STRUCT:
        fl_jw_obj_begin(w);
        fl_jw_key_c(w, "type");
        fl_jw_str_c(w, "struct");
        fl_jw_key_c(w, "fields");
        fl_jw_arr_begin(w);
        for (size_t i = 0; i < t->n_fields; i++) {
            const fl_delta_field *f = &t->fields[i];
            fl_jw_obj_begin(w);
            fl_jw_key_c(w, "name");
            fl_jw_str(w, f->name);
            fl_jw_key_c(w, "type");
            type_json(w, f->type, depth + 1);
            fl_jw_key_c(w, "nullable");
            fl_jw_bool(w, f->nullable);
            fl_jw_key_c(w, "metadata");
            fl_jw_raw(w, f->metadata.len ? f->metadata : FL_STR("{}"));
            fl_jw_obj_end(w);
        }
        fl_jw_arr_end(w);
        fl_jw_obj_end(w);
        return;
    case FL_DELTA_T_OTHER:
        if (t->other.len && (t->other.ptr[0] == '{' || t->other.ptr[0] == '"')) fl_jw_raw(w, t->other);
        else fl_jw_str(w, t->other);
        return;
    default:
        fl_jw_str_c(w, delta_kind_name(t->kind));
        return;
    }
}

fl_rc fl_delta_type_to_json(const fl_delta_type *t, fl_buf *out)
{
    fl_jw w;
    fl_jw_init(&w, out);
    type_json(&w, t, 0);
    return out->rc;
}

const fl_delta_type *delta_type_copy(fl_arena *a, const fl_delta_type *t, unsigned depth)
{
    if (!t || depth > FL_DELTA_MAX_SCHEMA_DEPTH) return NULL;
    fl_delta_type *c = fl_arena_alloc(a, sizeof *c);
    if (!c) return NULL;
    *c = *t;
    if (t->kind == FL_DELTA_T_OTHER) {
        c->other = fl_arena_str_dup(a, t->other);
    } else if (t->kind == FL_DELTA_T_ARRAY) {
        if (!(c->element = delta_type_copy(a, t->element, depth + 1))) return NULL;
    } else if (t->kind == FL_DELTA_T_MAP) {
        if (!(c->key = delta_type_copy(a, t->key, depth + 1))) return NULL;
        if (!(c->value = delta_type_copy(a, t->value, depth + 1))) return NULL;
    } else if (t->kind == FL_DELTA_T_STRUCT && t->n_fields) {
        fl_delta_field *fs = fl_arena_alloc(a, t->n_fields * sizeof *fs);
        if (!fs) return NULL;
        for (size_t i = 0; i < t->n_fields; i++) {
            fs[i] = t->fields[i];
            fs[i].name = fl_arena_str_dup(a, t->fields[i].name);
            fs[i].metadata = fl_arena_str_dup(a, t->fields[i].metadata);
            if (!(fs[i].type = delta_type_copy(a, t->fields[i].type, depth + 1))) return NULL;
        }
        c->fields = fs;
    }
    return c;
}

static bool same_type(const fl_delta_type *a, const fl_delta_type *b, unsigned depth)
{
    if (depth > FL_DELTA_MAX_SCHEMA_DEPTH || a->kind != b->kind) return false;
    switch (a->kind) {
    case FL_DELTA_T_DECIMAL: return a->precision == b->precision && a->scale == b->scale;
    case FL_DELTA_T_ARRAY: return a->contains_null == b->contains_null && same_type(a->element, b->element, depth + 1);
    case FL_DELTA_T_MAP:
        return a->value_contains_null == b->value_contains_null && same_type(a->key, b->key, depth + 1) &&
               same_type(a->value, b->value, depth + 1);
    case FL_DELTA_T_OTHER: return fl_str_eq(a->other, b->other);
    case FL_DELTA_T_STRUCT:
        if (a->n_fields != b->n_fields) return false;
        for (size_t i = 0; i < a->n_fields; i++)
            if (!fl_str_eq(a->fields[i].name, b->fields[i].name) || a->fields[i].nullable != b->fields[i].nullable ||
                !same_type(a->fields[i].type, b->fields[i].type, depth + 1))
                return false;
        return true;
    default: return true;
    }
}

static void type_desc(const fl_delta_type *t, char *buf, size_t cap)
{
    if (t->kind == FL_DELTA_T_DECIMAL) snprintf(buf, cap, "decimal(%d,%d)", (int)t->precision, (int)t->scale);
    else snprintf(buf, cap, "%s", delta_kind_name(t->kind));
}

fl_rc delta_schema_evolve_check(const fl_delta_type *cur, const fl_delta_type *next, const char *path, fl_err *err)
{
    char sub[512], d1[40], d2[40];
    for (size_t i = 0; i < cur->n_fields; i++) {
        const fl_delta_field *f = &cur->fields[i];
        snprintf(sub, sizeof sub, "%s%s" FL_STR_FMT, path, *path ? "." : "", FL_STR_ARG(f->name));
        const fl_delta_field *g = fl_delta_type_find(next, f->name);
        if (!g)
            return fl_err_set(err, FL_E_DELTA_SCHEMA,
                              "schema change drops or renames column %s: not allowed without column mapping; keep the "
                              "column (write nulls) or rewrite the table with an overwrite",
                              sub);
        if (!fl_str_eq(f->name, g->name))
            return fl_err_set(err, FL_E_DELTA_SCHEMA,
                              "schema change renames column %s to " FL_STR_FMT
                              " (case change): keep the existing spelling",
                              sub, FL_STR_ARG(g->name));
        if (f->nullable && !g->nullable)
            return fl_err_set(err, FL_E_DELTA_SCHEMA,
                              "schema change makes column %s NOT NULL: existing files may hold nulls; keep it nullable",
                              sub);
        if (f->type->kind == FL_DELTA_T_STRUCT && g->type->kind == FL_DELTA_T_STRUCT) {
            fl_rc rc = delta_schema_evolve_check(f->type, g->type, sub, err);
            if (rc) return rc;
            continue;
        }
        if (!same_type(f->type, g->type, 0)) {
            type_desc(f->type, d1, sizeof d1);
            type_desc(g->type, d2, sizeof d2);
            return fl_err_set(err, FL_E_DELTA_SCHEMA,
                              "schema change turns column %s from %s into %s: type changes are not allowed; add a new "
                              "column with the new type instead, or rewrite the table with an overwrite",
                              sub, d1, d2);
        }
    }
    /* fields only in next must be nullable, and order of old fields must be kept */
    size_t j = 0;
    for (size_t i = 0; i < next->n_fields; i++) {
        const fl_delta_field *g = &next->fields[i];
        if (fl_delta_type_find(cur, g->name)) {
            if (j < cur->n_fields && !fl_str_eq(cur->fields[j].name, g->name))
                return fl_err_set(err, FL_E_DELTA_SCHEMA,
                                  "schema change reorders columns at %s: keep the existing order and append new "
                                  "columns at the end",
                                  *path ? path : "the top level");
            j++;
            continue;
        }
        if (!g->nullable) {
            snprintf(sub, sizeof sub, "%s%s" FL_STR_FMT, path, *path ? "." : "", FL_STR_ARG(g->name));
            return fl_err_set(err, FL_E_DELTA_SCHEMA,
                              "new column %s must be nullable (existing files have no values for it)", sub);
        }
    }
    return FL_OK;
}
