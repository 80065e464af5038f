/* fp_types.c - FHIR type knowledge for the evaluator (module fhirpath).
 * JSON carries no types, so the evaluator infers them: a resource from resourceType, a
 * choice element from its suffix (valueQuantity -> Quantity), and other elements from
 * the small generated table in fp_types_tab.h (parent type + element name -> type).
 * Also answers is()/as()/ofType() for FHIR and System types, with derivation
 * (code -> string, Age -> Quantity, Patient -> DomainResource -> Resource).
 * Read-only static tables; binary search on sorted names. */
#include "fhirpath/fhirpath_int.h"

#include "fhirpath/fp_types_tab.h"

/* Compare a NUL-terminated table name with a slice, in fl_str_cmp order (no strlen). */
static int cmp_name(const char *c, fl_str s)
{
    size_t i = 0;
    for (; i < s.len; i++) {
        unsigned char a = (unsigned char)c[i], b = (unsigned char)s.ptr[i];
        if (a == 0) return -1;
        if (a != b) return a < b ? -1 : 1;
    }
    return c[i] ? 1 : 0;
}

/* FNV-1a over the name mixed with the parent id; must match tools/fhirpath_gentypes.py. */
static uint32_t fp_elem_hash(uint16_t parent, fl_str name)
{
    uint32_t x = 2166136261u;
    for (size_t i = 0; i < name.len; i++) x = (x ^ (unsigned char)name.ptr[i]) * 16777619u;
    return x ^ (uint32_t)((uint64_t)parent * 2654435761u);
}

uint16_t fp_type_id(fl_str name)
{
    uint32_t i = fp_elem_hash(0, name) & (FP_TYPE_SLOTS - 1);
    for (uint32_t probes = 0; probes < FP_TYPE_SLOTS; probes++) {
        uint16_t id = fp_type_slots[i];
        if (!id) return 0;
        if (cmp_name(fp_type_rows[id - 1].name, name) == 0) return id;
        i = (i + 1) & (FP_TYPE_SLOTS - 1);
    }
    return 0;
}

const char *fl_fp_type_name(uint16_t ftype)
{
    if (ftype == 0 || ftype > FP_NTYPES) return NULL;
    return fp_type_rows[ftype - 1].name;
}

uint16_t fp_type_child(uint16_t parent, fl_str name)
{
    if (parent) {
        /* the table is flattened over base types, so one lookup answers */
        uint32_t i = fp_elem_hash(parent, name) & (FP_ELEM_SLOTS - 1);
        for (uint32_t probes = 0; probes < FP_ELEM_SLOTS; probes++) {
            const struct fp_elem_row *r = &fp_elem_rows[i];
            if (!r->parent) break;
            if (r->parent == parent && cmp_name(r->name, name) == 0) return r->type;
            i = (i + 1) & (FP_ELEM_SLOTS - 1);
        }
    }
    if (name.len >= 9 && (fl_str_eq_c(name, "extension") || fl_str_eq_c(name, "modifierExtension"))) return FP_T_EXTENSION;
    return 0;
}

bool fp_type_is_resource(uint16_t t)
{
    return t && t <= FP_NTYPES && (fp_type_rows[t - 1].flags & FP_TF_RESOURCE);
}

uint16_t fp_type_of_resource(const fl_json_val *obj)
{
    if (!obj || obj->type != FL_JSON_OBJECT) return 0;
    const fl_json_val *rt = fl_json_get(obj, FL_STR("resourceType"));
    if (!rt || rt->type != FL_JSON_STRING) return 0;
    return fp_type_id(fl_json_str(rt));
}

bool fp_type_derives(uint16_t t, uint16_t want)
{
    for (int guard = 0; t && guard < 8; guard++) {
        if (t == want) return true;
        t = fp_type_rows[t - 1].base;
    }
    return false;
}

fl_fp_kind fp_type_kind(uint16_t t)
{
    if (!t || t > FP_NTYPES) return 0;
    return (fl_fp_kind)fp_type_rows[t - 1].kind;
}

fl_fp_item fp_item_from_json(const fl_json_val *v, uint16_t ftype)
{
    fl_fp_item it;
    memset(&it, 0, sizeof it);
    it.src = v;
    it.ftype = ftype;
    switch (v->type) {
    case FL_JSON_OBJECT:
        it.kind = FL_FP_NODE;
        it.v.node = v;
        if (ftype && (fp_type_rows[ftype - 1].flags & FP_TF_RESOURCE)) {
            /* a resource slot (contained, entry.resource, ...): look resourceType up */
            uint16_t rt = fp_type_of_resource(v);
            if (rt) it.ftype = rt;
        } else if (!ftype && v->len && v->u.members[0].key.len == 12 &&
                   memcmp(v->u.members[0].key.ptr, "resourceType", 12) == 0) {
            /* untyped object: a resource when resourceType leads (as FHIR JSON writers
             * emit it); checking only the first member keeps element navigation O(1) */
            const fl_json_val *rtv = &v->u.members[0].val;
            if (rtv->type == FL_JSON_STRING) it.ftype = fp_type_id(fl_json_str(rtv));
        }
        break;
    case FL_JSON_TRUE:
    case FL_JSON_FALSE:
        it.kind = FL_FP_BOOL;
        it.v.b = v->type == FL_JSON_TRUE;
        break;
    case FL_JSON_NUMBER: {
        int64_t i;
        fl_fp_kind k = fp_type_kind(ftype);
        if (k != FL_FP_DEC && (v->flags & FL_JSON_F_INT) && fl_json_as_i64(v, &i)) {
            it.kind = FL_FP_INT;
            it.v.i = i;
        } else {
            it.kind = FL_FP_DEC;
            it.v.s = fl_json_str(v);
        }
        break;
    }
    case FL_JSON_STRING: {
        it.kind = FL_FP_STR;
        it.v.s = fl_json_str(v);
        fl_fp_kind k = fp_type_kind(ftype);
        if (k == FL_FP_DATE || k == FL_FP_DATETIME || k == FL_FP_TIME) {
            fp_dt d;
            /* a dateTime element may hold a plain date ("2012-01"): keep dateTime kind */
            if (fp_dt_parse(it.v.s, k, &d)) {
                it.kind = (uint8_t)k;
                it.prec = d.prec;
            }
        } else if (k == FL_FP_DEC || k == FL_FP_INT) {
            /* numbers written as strings stay strings */
        }
        break;
    }
    default: it.kind = 0; break;
    }
    return it;
}

fl_fp_item fl_fp_item_from_json(const fl_json_val *v, const char *fhir_type)
{
    if (!v) {
        fl_fp_item it;
        memset(&it, 0, sizeof it);
        return it;
    }
    fl_fp_item it = fp_item_from_json(v, fhir_type ? fp_type_id(fl_str_c(fhir_type)) : 0);
    /* an input resource: find resourceType wherever it is */
    if (it.kind == FL_FP_NODE && !it.ftype) it.ftype = fp_type_of_resource(v);
    return it;
}

static const char *system_name(uint8_t kind)
{
    switch (kind) {
    case FL_FP_BOOL: return "Boolean";
    case FL_FP_INT: return "Integer";
    case FL_FP_DEC: return "Decimal";
    case FL_FP_STR: return "String";
    case FL_FP_DATE: return "Date";
    case FL_FP_DATETIME: return "DateTime";
    case FL_FP_TIME: return "Time";
    case FL_FP_QTY: return "Quantity";
    default: return "Any";
    }
}

const char *fl_fp_item_type_name(const fl_fp_item *it)
{
    if (it->ftype && it->ftype <= FP_NTYPES) {
        if (fp_type_rows[it->ftype - 1].flags & FP_TF_BACKBONE) return "BackboneElement";
        return fp_type_rows[it->ftype - 1].name;
    }
    if (it->kind == FL_FP_NODE) {
        uint16_t rt = fp_type_of_resource(it->v.node);
        if (rt) return fp_type_rows[rt - 1].name;
        return "Element";
    }
    return system_name(it->kind);
}

static bool sys_kind_named(fl_str n, uint8_t *kind)
{
    static const struct { const char *n; uint8_t k; } m[] = {
        {"Boolean", FL_FP_BOOL}, {"Integer", FL_FP_INT}, {"Decimal", FL_FP_DEC}, {"String", FL_FP_STR},
        {"Date", FL_FP_DATE}, {"DateTime", FL_FP_DATETIME}, {"Time", FL_FP_TIME}, {"Quantity", FL_FP_QTY}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        if (fl_str_eq_c(n, m[i].n)) {
            *kind = m[i].k;
            return true;
        }
    }
    return false;
}

void fp_typespec_resolve(fp_typespec *t)
{
    uint8_t sk = 0;
    t->sys_kind = sys_kind_named(t->name, &sk) ? sk : 0;
    t->fid = fl_str_eq_c(t->ns, "System") ? 0 : fp_type_id(t->name);
    t->resolved = 1;
}

int fp_item_is(const fl_fp_item *it, const fp_typespec *t0, bool exact)
{
    fp_typespec tmp;
    const fp_typespec *t = t0;
    if (!t->resolved) {
        tmp = *t0;
        fp_typespec_resolve(&tmp);
        t = &tmp;
    }
    bool ns_sys = t->ns.len == 6 && fl_str_eq_c(t->ns, "System");
    bool ns_fhir = t->ns.len == 4 && fl_str_eq_c(t->ns, "FHIR");
    uint8_t sk = t->sys_kind;
    bool is_sys_name = sk != 0;
    uint16_t fid = t->fid;
    if (ns_sys && !is_sys_name) return 0;
    if (!is_sys_name && !fid) {
        if (fl_str_eq_c(t->name, "Any") || fl_str_eq_c(t->name, "Element")) return 1;
        return -1;
    }
    /* FHIR-typed values (primitive elements from JSON or nodes) */
    uint16_t ft = it->ftype;
    if (it->kind == FL_FP_NODE && !ft) ft = fp_type_of_resource(it->v.node);
    if (ft && !ns_sys) {
        /* as()/ofType() on primitives match the exact type (code is not string there) */
        if (fid && exact && fp_type_kind(ft)) return ft == fid;
        if (fid && fp_type_derives(ft, fid)) return 1;
        if (fid && fl_str_eq_c(t->name, "Resource")) return fp_type_is_resource(ft);
        return 0;
    }
    if (ft && ns_sys) return 0; /* a FHIR primitive is not a System value */
    if (ns_fhir) {
        /* untyped JSON value checked against a FHIR type: decide by its JSON shape */
        if (!fid) return 0;
        fl_fp_kind k = fp_type_kind(fid);
        if (!k) {
            if (it->kind == FL_FP_QTY && fp_type_derives(fid, FP_T_QUANTITY)) return 0;
            return it->kind == FL_FP_NODE && !it->src ? 0 : (it->kind == FL_FP_NODE && fid == FP_T_QUANTITY);
        }
        return it->src && k == it->kind;
    }
    if (is_sys_name) return it->kind == sk;
    /* unqualified FHIR name on an untyped item */
    if (it->src) {
        fl_fp_kind k = fp_type_kind(fid);
        return k && k == it->kind;
    }
    return 0;
}
