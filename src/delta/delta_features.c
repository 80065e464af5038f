/* delta_features.c - which protocol versions and table features this version can read
 * and write, with errors that name every feature it cannot honour (module delta).
 * Reading: legacy reader versions 1-2 (2 only without active column mapping) and reader 3
 * with the features in read_ok. Writing: legacy writer versions up to 7 when the legacy
 * obligations are not in use (no CHECK constraints, invariants, generated or identity
 * columns, column mapping), and writer 7 with the features in write_ok. */
#include "delta/delta_int.h"

#include <stdio.h>

/* Reader features whose meaning does not change which rows a plain reader returns, or
 * which this module handles. */
static const char *const read_ok[] = {
    "timestampNtz",         /* a type; data readers map it */
    "vacuumProtocolCheck",  /* obliges VACUUM to check the protocol: we never vacuum blindly */
    "v2Checkpoint",         /* replay from JSON commits works while they exist */
    NULL,
};

/* Writer features we honour when appending / removing whole files. */
static const char *const write_ok[] = {
    "appendOnly",         /* enforced: removes refused when delta.appendOnly=true */
    "invariants",         /* allowed only when no column has invariants (checked below) */
    "checkConstraints",   /* allowed only when no delta.constraints.* exist */
    "changeDataFeed",     /* appends and whole-file removes need no cdc files */
    "generatedColumns",   /* allowed only when no column is generated */
    "domainMetadata",     /* domains are passed through unchanged */
    "timestampNtz",
    "vacuumProtocolCheck",
    "v2Checkpoint",       /* we then write no checkpoints at all */
    "inCommitTimestamp",  /* commitInfo.inCommitTimestamp written first */
    "deletionVectors",    /* we never write DVs; files with DVs are removed whole */
    "columnMapping",      /* allowed only with delta.columnMapping.mode = none */
    "clustering",         /* clustering domain kept; appends need nothing else */
    NULL,
};

static bool in_list(const char *const *list, fl_str name)
{
    for (const char *const *p = list; *p; p++)
        if (fl_str_eq_c(name, *p)) return true;
    return false;
}

bool delta_config_bool(const fl_delta_snapshot *s, const char *key, bool def)
{
    fl_str v = fl_delta_snapshot_get_config(s, key, FL_STR_NULL);
    const char *want = v.len == 4 ? "true" : v.len == 5 ? "false" : NULL;
    if (!want) return def;
    for (size_t i = 0; i < v.len; i++)
        if ((v.ptr[i] | 0x20) != want[i]) return def;
    return v.len == 4;
}

static bool column_mapping_on(const fl_delta_snapshot *s)
{
    fl_str m = fl_delta_snapshot_get_config(s, "delta.columnMapping.mode", FL_STR("none"));
    return !fl_str_eq_c(m, "none");
}

fl_rc delta_check_read_support(const fl_delta_snapshot *s, bool dv_ok, bool cm_ok, fl_err *err)
{
    const fl_delta_protocol *p = &s->proto;
    if (p->min_reader > 3 || p->min_reader < 1)
        return fl_err_set(err, FL_E_DELTA_PROTOCOL,
                          "table needs minReaderVersion %d; this fhirlake reads versions 1 to 3", (int)p->min_reader);
    if (p->min_reader == 2 && column_mapping_on(s) && !cm_ok)
        return fl_err_set(err, FL_E_DELTA_PROTOCOL,
                          "table uses reader feature columnMapping (mode %.*s): reading it needs the "
                          "read_column_mapping option (CLI: --read-dv); writing to such tables is not supported yet",
                          FL_STR_ARG(fl_delta_snapshot_get_config(s, "delta.columnMapping.mode", FL_STR("none"))));
    if (p->min_reader == 3) {
        char names[384];
        size_t n = 0, bad = 0;
        names[0] = 0;
        for (size_t i = 0; i < p->n_reader_features; i++) {
            fl_str f = p->reader_features[i];
            if (in_list(read_ok, f)) continue;
            if (fl_str_eq_c(f, "columnMapping") && (!column_mapping_on(s) || cm_ok)) continue;
            if (fl_str_eq_c(f, "deletionVectors") && dv_ok) continue;
            bad++;
            int w = snprintf(names + n, sizeof names - n, "%s" FL_STR_FMT, n ? ", " : "", FL_STR_ARG(f));
            if (w > 0 && (size_t)w < sizeof names - n) n += (size_t)w;
        }
        if (bad)
            return fl_err_set(err, FL_E_DELTA_PROTOCOL, "table needs reader feature%s this fhirlake cannot honour: %s",
                              bad > 1 ? "s" : "", names);
    }
    return FL_OK;
}

/* Search field metadata texts for a key (invariants, generation expressions, identity). */
static bool schema_has_meta(const fl_delta_type *t, const char *needle, unsigned depth)
{
    if (!t || depth > FL_DELTA_MAX_SCHEMA_DEPTH) return false;
    switch (t->kind) {
    case FL_DELTA_T_STRUCT:
        for (size_t i = 0; i < t->n_fields; i++) {
            fl_str md = t->fields[i].metadata;
            size_t nl = strlen(needle);
            for (size_t k = 0; k + nl <= md.len; k++)
                if (memcmp(md.ptr + k, needle, nl) == 0) return true;
            if (schema_has_meta(t->fields[i].type, needle, depth + 1)) return true;
        }
        return false;
    case FL_DELTA_T_ARRAY: return schema_has_meta(t->element, needle, depth + 1);
    case FL_DELTA_T_MAP: return schema_has_meta(t->key, needle, depth + 1) || schema_has_meta(t->value, needle, depth + 1);
    default: return false;
    }
}

fl_rc delta_check_write_support(const fl_delta_snapshot *s, fl_err *err)
{
    const fl_delta_protocol *p = &s->proto;
    const fl_delta_type *root = s->schema ? s->schema->root : NULL;
    if (p->min_writer > 7 || p->min_writer < 1)
        return fl_err_set(err, FL_E_DELTA_PROTOCOL,
                          "table needs minWriterVersion %d; this fhirlake writes versions 1 to 7", (int)p->min_writer);
    if (p->min_writer == 7) {
        char names[384];
        size_t n = 0, bad = 0;
        names[0] = 0;
        for (size_t i = 0; i < p->n_writer_features; i++) {
            fl_str f = p->writer_features[i];
            if (in_list(write_ok, f)) continue;
            bad++;
            int w = snprintf(names + n, sizeof names - n, "%s" FL_STR_FMT, n ? ", " : "", FL_STR_ARG(f));
            if (w > 0 && (size_t)w < sizeof names - n) n += (size_t)w;
        }
        if (bad)
            return fl_err_set(err, FL_E_DELTA_PROTOCOL,
                              "table needs writer feature%s this fhirlake cannot honour: %s (refusing to write)",
                              bad > 1 ? "s" : "", names);
    }
    /* legacy obligations (writer 2..6) and their feature equivalents, when in use */
    if (schema_has_meta(root, "delta.invariants", 0))
        return fl_err_set(err, FL_E_DELTA_PROTOCOL,
                          "table has column invariants (writer feature invariants), which this fhirlake does not "
                          "enforce (refusing to write)");
    for (size_t i = 0; i < s->meta.n_configuration; i++)
        if (fl_str_starts_with(s->meta.configuration[i].key, FL_STR("delta.constraints.")))
            return fl_err_set(err, FL_E_DELTA_PROTOCOL,
                              "table has CHECK constraint " FL_STR_FMT
                              " (writer feature checkConstraints), which this fhirlake does not enforce",
                              FL_STR_ARG(s->meta.configuration[i].key));
    if (schema_has_meta(root, "delta.generationExpression", 0))
        return fl_err_set(err, FL_E_DELTA_PROTOCOL,
                          "table has generated columns (writer feature generatedColumns), which this fhirlake does not "
                          "compute (refusing to write)");
    if (schema_has_meta(root, "delta.identity.", 0))
        return fl_err_set(err, FL_E_DELTA_PROTOCOL,
                          "table has identity columns (writer feature identityColumns), which this fhirlake does not "
                          "fill (refusing to write)");
    if (column_mapping_on(s))
        return fl_err_set(err, FL_E_DELTA_PROTOCOL,
                          "table uses column mapping (writer feature columnMapping), which this fhirlake cannot write");
    if (delta_config_bool(s, "delta.enableRowTracking", false))
        return fl_err_set(err, FL_E_DELTA_PROTOCOL,
                          "table has row tracking enabled (writer feature rowTracking), which this fhirlake cannot write");
    return FL_OK;
}
