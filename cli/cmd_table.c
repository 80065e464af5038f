/* cmd_table.c - `fhirlake table`: inspect and manage Delta tables (cli).
 *   fhirlake table show TABLE [--version N | --timestamp MS] [--read-dv]
 *       snapshot summary as JSON (--read-dv: accept deletion vectors, count live rows)
 *   fhirlake table files TABLE [--version N | --timestamp MS]  one JSON line per live file
 *   fhirlake table create TABLE --schema JSON [--partition-by a,b] [--property k=v ...]
 *   fhirlake table cat TABLE [--version N] [--limit N] [--read-dv]  rows as JSON lines
 *   fhirlake table history TABLE [--version N] [--limit N]    commits, newest first (JSON lines)
 *   fhirlake table checkpoint TABLE                           write a checkpoint now
 *   fhirlake table vacuum TABLE [--retention-hours N] [--force] [--dry-run]
 *   fhirlake table optimize TABLE [--target-size BYTES]        bin-packing compaction
 *   fhirlake table cleanup-log TABLE [--retention-hours N]     delete expired log files
 *   fhirlake table append TABLE FILE.ndjson [--app-id ID --txn-version N] [--overwrite]
 *       [--add-column NAME:TYPE ...]  adds nullable columns first (schema evolution)
 *       one JSON object per line, keys = column names; one data file per partition;
 *       dates "YYYY-MM-DD", timestamps RFC 3339, decimals as JSON numbers
 *   fhirlake table merge TABLE --input ROWS.ndjson --key id[,k2] [--newer-wins COL]
 *       [--delete-input KEYS.ndjson] [--txn APP:VER]   upsert/delete by key (copy-on-write)
 * TABLE is a path or URL (file://, s3://, ...). Thin layer over include/fhirlake/delta.h. */
#include "cli.h"

#include "fhirlake/delta.h"
#include "fhirlake/json.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: fhirlake table show TABLE [--version N | --timestamp MS] [--limit N] [--read-dv]\n"
                 "           print rows as NDJSON (alias: cat)\n"
                 "       fhirlake table info TABLE [--version N | --timestamp MS] [--read-dv]\n"
                 "           protocol, metadata, schema, file/record counts and txn versions (JSON)\n"
                 "       fhirlake table schema TABLE [--version N]     the Delta schema (JSON)\n"
                 "       fhirlake table stats TABLE [--version N]      files, records, bytes (JSON)\n"
                 "       fhirlake table files TABLE [--version N | --timestamp MS]\n"
                 "       fhirlake table history TABLE [--version N] [--limit N]\n"
                 "       fhirlake table create TABLE --schema JSON [--partition-by a,b] [--property k=v ...]\n"
                 "       fhirlake table append TABLE FILE.ndjson [--app-id ID --txn-version N | --txn APP:N] [--overwrite]\n"
                 "                            [--add-column NAME:TYPE ...]   (schema evolution: new nullable columns)\n"
                 "       fhirlake table merge TABLE --input ROWS.ndjson --key COL[,COL...] [--newer-wins COL]\n"
                 "                            [--delete-input KEYS.ndjson] [--txn APP:VERSION]\n"
                 "           upsert rows by key (a row replaces the table's rows with its key; with --newer-wins\n"
                 "           only when its COL value is greater, equal keeps the table's row) and delete the keys\n"
                 "           listed in KEYS.ndjson; only files holding those keys are rewritten; one commit\n"
                 "       fhirlake table checkpoint TABLE\n"
                 "       fhirlake table optimize TABLE [--target-size BYTES]\n"
                 "       fhirlake table vacuum TABLE [--retention-hours N] [--force] [--dry-run]\n"
                 "       fhirlake table cleanup-log TABLE [--retention-hours N]\n"
                 "TABLE is a directory, file:// URL or s3://bucket/prefix. --timestamp is milliseconds since the epoch.\n");
}

static void emit(fl_buf *b)
{
    fwrite(b->ptr ? b->ptr : "", 1, b->len, stdout);
    fputc('\n', stdout);
    fl_buf_clear(b);
}

static void kvs(fl_jw *w, const fl_delta_kv *kv, size_t n)
{
    fl_jw_obj_begin(w);
    for (size_t i = 0; i < n; i++) {
        fl_jw_key(w, kv[i].key);
        if (kv[i].has_val) fl_jw_str(w, kv[i].val);
        else fl_jw_null(w);
    }
    fl_jw_obj_end(w);
}

static void strs(fl_jw *w, const fl_str *s, size_t n)
{
    fl_jw_arr_begin(w);
    for (size_t i = 0; i < n; i++) fl_jw_str(w, s[i]);
    fl_jw_arr_end(w);
}

static int info(fl_delta_table *t, const fl_delta_snapshot *s, bool read_dv)
{
    fl_buf b;
    fl_buf_init(&b, 0);
    fl_jw w;
    fl_jw_init(&w, &b);
    const fl_delta_protocol *p = fl_delta_snapshot_get_protocol(s);
    const fl_delta_metadata *m = fl_delta_snapshot_get_metadata(s);
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "version");
    fl_jw_i64(&w, fl_delta_snapshot_version(s));
    fl_jw_key_c(&w, "timestamp");
    fl_jw_i64(&w, fl_delta_snapshot_timestamp(s));
    fl_jw_key_c(&w, "protocol");
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "minReaderVersion");
    fl_jw_i64(&w, p->min_reader);
    fl_jw_key_c(&w, "minWriterVersion");
    fl_jw_i64(&w, p->min_writer);
    fl_jw_key_c(&w, "readerFeatures");
    strs(&w, p->reader_features, p->n_reader_features);
    fl_jw_key_c(&w, "writerFeatures");
    strs(&w, p->writer_features, p->n_writer_features);
    fl_jw_obj_end(&w);
    fl_jw_key_c(&w, "id");
    fl_jw_str(&w, m->id);
    fl_jw_key_c(&w, "partitionColumns");
    strs(&w, m->partition_columns, m->n_partition_columns);
    fl_jw_key_c(&w, "configuration");
    kvs(&w, m->configuration, m->n_configuration);
    fl_jw_key_c(&w, "schema");
    fl_buf sj;
    fl_buf_init(&sj, 0);
    fl_delta_type_to_json(fl_delta_snapshot_get_schema(s), &sj);
    fl_jw_raw(&w, fl_buf_str(&sj));
    fl_buf_reset(&sj);
    fl_jw_key_c(&w, "numFiles");
    fl_jw_i64(&w, (int64_t)fl_delta_snapshot_num_files(s));
    fl_jw_key_c(&w, "numRecords");
    int64_t nr = fl_delta_snapshot_num_records(s);
    if (nr >= 0) fl_jw_i64(&w, nr);
    else fl_jw_null(&w);
    if (read_dv) { /* live rows = numRecords - rows deleted by deletion vectors */
        int64_t deleted = 0;
        fl_arena a;
        fl_arena_init(&a, 0, 0);
        for (size_t i = 0; i < fl_delta_snapshot_num_files(s); i++) {
            uint64_t *rows;
            size_t n;
            fl_err err;
            fl_rc rc = fl_delta_dv_rows(t, fl_delta_snapshot_get_file(s, i), &a, &rows, &n, &err);
            if (rc) {
                cli_report("deletion vector", rc, &err);
                fl_arena_fini(&a);
                fl_buf_reset(&b);
                return CLI_FAILED;
            }
            deleted += (int64_t)n;
            fl_arena_reset(&a);
        }
        fl_arena_fini(&a);
        fl_jw_key_c(&w, "numDeletedRows");
        fl_jw_i64(&w, deleted);
        fl_jw_key_c(&w, "numLiveRecords");
        if (nr >= 0) fl_jw_i64(&w, nr - deleted);
        else fl_jw_null(&w);
    }
    fl_jw_key_c(&w, "txns");
    fl_jw_obj_begin(&w);
    for (size_t i = 0; i < fl_delta_snapshot_num_app_txns(s); i++) {
        const fl_delta_app_txn *tx = fl_delta_snapshot_get_app_txn(s, i);
        fl_jw_key(&w, tx->app_id);
        fl_jw_i64(&w, tx->version);
    }
    fl_jw_obj_end(&w);
    fl_jw_obj_end(&w);
    emit(&b);
    fl_buf_reset(&b);
    return CLI_OK;
}

static int schema_json(const fl_delta_snapshot *s)
{
    fl_buf b;
    fl_buf_init(&b, 0);
    fl_delta_type_to_json(fl_delta_snapshot_get_schema(s), &b);
    int status = b.rc ? CLI_FAILED : CLI_OK;
    if (!b.rc) emit(&b);
    fl_buf_reset(&b);
    return status;
}

static int stats_json(const fl_delta_snapshot *s)
{
    int64_t bytes = 0;
    size_t n = fl_delta_snapshot_num_files(s);
    for (size_t i = 0; i < n; i++) bytes += fl_delta_snapshot_get_file(s, i)->size;
    int64_t nr = fl_delta_snapshot_num_records(s);
    fl_buf b;
    fl_buf_init(&b, 0);
    fl_jw w;
    fl_jw_init(&w, &b);
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "version");
    fl_jw_i64(&w, fl_delta_snapshot_version(s));
    fl_jw_key_c(&w, "numFiles");
    fl_jw_i64(&w, (int64_t)n);
    fl_jw_key_c(&w, "numRecords");
    if (nr >= 0) fl_jw_i64(&w, nr);
    else fl_jw_null(&w);
    fl_jw_key_c(&w, "sizeBytes");
    fl_jw_i64(&w, bytes);
    fl_jw_obj_end(&w);
    emit(&b);
    fl_buf_reset(&b);
    return CLI_OK;
}

static int files(const fl_delta_snapshot *s)
{
    fl_buf b;
    fl_buf_init(&b, 0);
    for (size_t i = 0; i < fl_delta_snapshot_num_files(s); i++) {
        const fl_delta_file *f = fl_delta_snapshot_get_file(s, i);
        fl_jw w;
        fl_jw_init(&w, &b);
        fl_jw_obj_begin(&w);
        fl_jw_key_c(&w, "path");
        fl_jw_str(&w, f->path);
        fl_jw_key_c(&w, "size");
        fl_jw_i64(&w, f->size);
        fl_jw_key_c(&w, "partitionValues");
        kvs(&w, f->partition_values, f->n_partition_values);
        fl_jw_key_c(&w, "stats");
        if (f->stats.len) fl_jw_str(&w, f->stats);
        else fl_jw_null(&w);
        if (f->dv.len) {
            fl_jw_key_c(&w, "deletionVector");
            fl_jw_raw(&w, f->dv);
        }
        fl_jw_obj_end(&w);
        emit(&b);
    }
    fl_buf_reset(&b);
    return CLI_OK;
}

static int create(fl_delta_table *t, const char *schema, const char *pby, const char **props, int nprops)
{
    fl_err err;
    fl_delta_schema *s = NULL;
    fl_rc rc = fl_delta_schema_parse(fl_str_c(schema), &s, &err);
    if (rc) {
        cli_report("--schema", rc, &err);
        return CLI_FAILED;
    }
    char *pcopy = pby ? strdup(pby) : NULL;
    const char *pcs[64];
    size_t npcs = 0;
    for (char *tok = pcopy, *next; tok && *tok && npcs < 64; tok = next) {
        next = strchr(tok, ',');
        if (next) *next++ = 0;
        pcs[npcs++] = tok;
    }
    fl_delta_kv kv[64];
    int nkv = 0;
    for (int i = 0; i < nprops && nkv < 64; i++) {
        const char *eq = strchr(props[i], '=');
        if (!eq) {
            cli_errorf("--property %s: expected key=value", props[i]);
            free(pcopy);
            fl_delta_schema_free(s);
            return CLI_USAGE;
        }
        kv[nkv++] = (fl_delta_kv){fl_str_make(props[i], (size_t)(eq - props[i])), fl_str_c(eq + 1), true};
    }
    fl_delta_create_opts co = {.schema = fl_delta_schema_root(s), .partition_columns = pcs, .n_partition_columns = npcs,
                               .configuration = kv, .n_configuration = (size_t)nkv};
    fl_delta_commit_result res;
    rc = fl_delta_table_create(t, &co, &res, &err);
    free(pcopy);
    fl_delta_schema_free(s);
    if (rc) {
        cli_report("create", rc, &err);
        return CLI_FAILED;
    }
    printf("created version %lld\n", (long long)res.version);
    return CLI_OK;
}

/* ------------------------------------------------------------------ history */

static fl_rc history_cb(void *ctx, const fl_delta_commit_entry *e, fl_err *err)
{
    (void)err;
    fl_buf *b = ctx;
    fl_jw w;
    fl_jw_init(&w, b);
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "version");
    fl_jw_i64(&w, e->version);
    fl_jw_key_c(&w, "timestamp");
    fl_jw_i64(&w, e->timestamp_ms);
    fl_jw_key_c(&w, "operation");
    fl_jw_str(&w, e->operation);
    fl_jw_key_c(&w, "commitInfo");
    if (e->commit_info.len) fl_jw_raw(&w, e->commit_info);
    else fl_jw_null(&w);
    fl_jw_obj_end(&w);
    emit(b);
    return FL_OK;
}

/* ------------------------------------------------------------------ cat */

static int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b) != 0 && ((a < 0) != (b < 0))); }

static void fmt_date(int64_t days, char *out, size_t cap)
{
    int64_t y;
    unsigned m, d;
    fl_civil_from_days(days, &y, &m, &d);
    snprintf(out, cap, "%04lld-%02u-%02u", (long long)y, m, d);
}

static void fmt_ts(int64_t us, bool utc, char *out, size_t cap)
{
    int64_t secs = floor_div(us, 1000000), frac = us - secs * 1000000;
    int64_t days = floor_div(secs, 86400), rem = secs - days * 86400;
    char date[32];
    fmt_date(days, date, sizeof date);
    snprintf(out, cap, "%sT%02lld:%02lld:%02lld.%06lld%s", date, (long long)(rem / 3600), (long long)(rem / 60 % 60),
             (long long)(rem % 60), (long long)frac, utc ? "Z" : "");
}

/* Decimal text of an unscaled integer (nested decimals are not normalised by the scan). */
static void fmt_unscaled(int64_t v, int32_t scale, char *out, size_t cap)
{
    char digs[48];
    bool neg = v < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int n = snprintf(digs, sizeof digs, "%0*llu", scale + 1 > 40 ? 40 : scale + 1, (unsigned long long)u);
    if (scale <= 0 || scale >= n) {
        snprintf(out, cap, "%s%s", neg ? "-" : "", digs);
        return;
    }
    snprintf(out, cap, "%s%.*s.%s", neg ? "-" : "", n - scale, digs, digs + (n - scale));
}

static void cat_value(fl_jw *w, const fl_delta_type *t, const fl_pq_val *v, unsigned depth)
{
    char buf[96];
    if (v->kind == FL_PQ_V_NULL || v->kind == FL_PQ_V_SKIPPED || depth > 64) {
        fl_jw_null(w);
        return;
    }
    switch (t->kind) {
    case FL_DELTA_T_DATE:
        if (v->kind == FL_PQ_V_I32) {
            fmt_date(v->v.i32, buf, sizeof buf);
            fl_jw_str_c(w, buf);
            return;
        }
        break;
    case FL_DELTA_T_TIMESTAMP:
    case FL_DELTA_T_TIMESTAMP_NTZ:
        if (v->kind == FL_PQ_V_I64) {
            fmt_ts(v->v.i64, t->kind == FL_DELTA_T_TIMESTAMP, buf, sizeof buf);
            fl_jw_str_c(w, buf);
            return;
        }
        break;
    case FL_DELTA_T_DECIMAL:
        if (v->kind == FL_PQ_V_BYTES) { /* the scan renders decimals as text */
            fl_jw_str(w, v->v.bytes);
            return;
        }
        if (v->kind == FL_PQ_V_I32 || v->kind == FL_PQ_V_I64) {
            fmt_unscaled(v->kind == FL_PQ_V_I32 ? v->v.i32 : v->v.i64, t->scale, buf, sizeof buf);
            fl_jw_str_c(w, buf);
            return;
        }
        break;
    case FL_DELTA_T_BINARY:
        if (v->kind == FL_PQ_V_BYTES) {
            fl_buf hex;
            fl_buf_init(&hex, 0);
            for (size_t i = 0; i < v->v.bytes.len; i++) fl_buf_printf(&hex, "%02x", (unsigned char)v->v.bytes.ptr[i]);
            fl_jw_str(w, fl_buf_str(&hex));
            fl_buf_reset(&hex);
            return;
        }
        break;
    case FL_DELTA_T_STRUCT:
        if (v->kind == FL_PQ_V_STRUCT) {
            fl_jw_obj_begin(w);
            for (size_t i = 0; i < t->n_fields && i < v->n; i++) {
                fl_jw_key(w, t->fields[i].name);
                cat_value(w, t->fields[i].type, &v->v.items[i], depth + 1);
            }
            fl_jw_obj_end(w);
            return;
        }
        break;
    case FL_DELTA_T_ARRAY:
        if (v->kind == FL_PQ_V_LIST) {
            fl_jw_arr_begin(w);
            for (uint32_t i = 0; i < v->n; i++) cat_value(w, t->element, &v->v.items[i], depth + 1);
            fl_jw_arr_end(w);
            return;
        }
        break;
    case FL_DELTA_T_MAP:
        if (v->kind == FL_PQ_V_MAP) { /* [[key, value], ...]: keys need not be strings */
            fl_jw_arr_begin(w);
            for (uint32_t i = 0; i < v->n; i++) {
                fl_jw_arr_begin(w);
                cat_value(w, t->key, &v->v.items[2 * i], depth + 1);
                cat_value(w, t->value, &v->v.items[2 * i + 1], depth + 1);
                fl_jw_arr_end(w);
            }
            fl_jw_arr_end(w);
            return;
        }
        break;
    default: break;
    }
    switch (v->kind) {
    case FL_PQ_V_BOOL: fl_jw_bool(w, v->v.b); return;
    case FL_PQ_V_I32: fl_jw_i64(w, v->v.i32); return;
    case FL_PQ_V_I64: fl_jw_i64(w, v->v.i64); return;
    case FL_PQ_V_F32: fl_jw_f64(w, (double)v->v.f32); return;
    case FL_PQ_V_F64: fl_jw_f64(w, v->v.f64); return;
    case FL_PQ_V_BYTES: fl_jw_str(w, v->v.bytes); return;
    default: fl_jw_null(w); return;
    }
}

/* Rows as NDJSON; errors are reported with the table URL as context. */
static int cat(const char *url, fl_delta_table *t, const fl_delta_snapshot *s, int64_t limit)
{
    fl_err err;
    fl_delta_scan *sc = NULL;
    fl_rc rc = fl_delta_scan_open(t, s, &sc, &err);
    if (rc) {
        cli_report(url, rc, &err);
        return CLI_FAILED;
    }
    const fl_delta_type *sch = fl_delta_snapshot_get_schema(s);
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    fl_buf b;
    fl_buf_init(&b, 0);
    int status = CLI_OK;
    for (int64_t n = 0; limit < 0 || n < limit; n++) {
        fl_arena_reset(&a);
        fl_pq_val *row = NULL;
        rc = fl_delta_scan_next(sc, &a, &row, &err);
        if (rc == FL_E_EOF) break;
        if (rc) {
            cli_report(url, rc, &err);
            status = CLI_FAILED;
            break;
        }
        fl_jw w;
        fl_jw_init(&w, &b);
        fl_jw_obj_begin(&w);
        for (size_t i = 0; i < sch->n_fields && i < row->n; i++) {
            fl_jw_key(&w, sch->fields[i].name);
            cat_value(&w, sch->fields[i].type, &row->v.items[i], 0);
        }
        fl_jw_obj_end(&w);
        emit(&b);
    }
    fl_buf_reset(&b);
    fl_arena_fini(&a);
    fl_delta_scan_close(sc);
    return status;
}

/* ------------------------------------------------------------------ append */

/* Decimal text -> unscaled integer at `scale`. */
static bool parse_decimal(fl_str s, int32_t scale, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < s.len && (s.ptr[i] == '-' || s.ptr[i] == '+')) neg = s.ptr[i++] == '-';
    int64_t v = 0;
    int frac = -1;
    for (; i < s.len; i++) {
        char c = s.ptr[i];
        if (c == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (c < '0' || c > '9') return false;
        if (frac >= 0 && frac == scale) continue; /* extra digits are truncated */
        if (v > (INT64_MAX - 9) / 10) return false;
        v = v * 10 + (c - '0');
        if (frac >= 0) frac++;
    }
    for (int f = frac < 0 ? 0 : frac; f < scale; f++) {
        if (v > INT64_MAX / 10) return false;
        v *= 10;
    }
    *out = neg ? -v : v;
    return true;
}

/* Feed one JSON value of Delta type t to the Parquet writer. */
static bool put_value(fl_pq_writer *w, const fl_delta_type *t, const fl_json_val *v, unsigned depth)
{
    if (!v || fl_json_is_null(v) || depth > 32) {
        fl_pq_writer_put_null(w);
        return v == NULL || fl_json_is_null(v);
    }
    int64_t i;
    double d;
    switch (t->kind) {
    case FL_DELTA_T_STRING:
        if (fl_json_is_str(v) || fl_json_is_num(v)) fl_pq_writer_put_str(w, fl_json_str(v));
        else if (fl_json_is_bool(v)) fl_pq_writer_put_str(w, v->type == FL_JSON_TRUE ? FL_STR("true") : FL_STR("false"));
        else return false;
        return true;
    case FL_DELTA_T_LONG:
        if (!fl_json_as_i64(v, &i)) return false;
        fl_pq_writer_put_i64(w, i);
        return true;
    case FL_DELTA_T_INTEGER:
    case FL_DELTA_T_SHORT:
    case FL_DELTA_T_BYTE:
        if (!fl_json_as_i64(v, &i) || i < INT32_MIN || i > INT32_MAX) return false;
        fl_pq_writer_put_i32(w, (int32_t)i);
        return true;
    case FL_DELTA_T_FLOAT:
    case FL_DELTA_T_DOUBLE:
        if (!fl_json_as_f64(v, &d)) return false;
        if (t->kind == FL_DELTA_T_FLOAT) fl_pq_writer_put_f32(w, (float)d);
        else fl_pq_writer_put_f64(w, d);
        return true;
    case FL_DELTA_T_BOOLEAN:
        if (!fl_json_is_bool(v)) return false;
        fl_pq_writer_put_bool(w, v->type == FL_JSON_TRUE);
        return true;
    case FL_DELTA_T_BINARY:
        if (!fl_json_is_str(v)) return false;
        fl_pq_writer_put_str(w, fl_json_str(v));
        return true;
    case FL_DELTA_T_DATE:
        if (!fl_json_is_str(v) || !fl_parse_date_days(fl_json_str(v), &i)) return false;
        fl_pq_writer_put_i32(w, (int32_t)i);
        return true;
    case FL_DELTA_T_TIMESTAMP:
    case FL_DELTA_T_TIMESTAMP_NTZ:
        if (!fl_json_is_str(v) || !fl_parse_timestamp_us(fl_json_str(v), false, &i)) return false;
        fl_pq_writer_put_i64(w, i);
        return true;
    case FL_DELTA_T_DECIMAL:
        if (!(fl_json_is_num(v) || fl_json_is_str(v))) return false;
        if (t->precision > 18) {
            uint8_t be[32];
            size_t len = (size_t)fl_pq_t_decimal(t->precision, t->scale).type_length;
            if (len > sizeof be || !fl_delta_decimal_to_bytes(fl_json_str(v), t->scale, be, len)) return false;
            fl_pq_writer_put_bytes(w, be, len);
            return true;
        }
        if (!parse_decimal(fl_json_str(v), t->scale, &i)) return false;
        if (t->precision <= 9) fl_pq_writer_put_i32(w, (int32_t)i);
        else fl_pq_writer_put_i64(w, i);
        return true;
    case FL_DELTA_T_ARRAY:
        if (!fl_json_is_arr(v)) return false;
        fl_pq_writer_begin_list(w);
        for (uint32_t k = 0; k < v->len; k++)
            if (!put_value(w, t->element, &v->u.items[k], depth + 1)) return false;
        fl_pq_writer_end(w);
        return true;
    case FL_DELTA_T_MAP:
        if (!fl_json_is_obj(v)) return false;
        fl_pq_writer_begin_map(w);
        for (uint32_t k = 0; k < v->len; k++) {
            fl_pq_writer_put_str(w, v->u.members[k].key);
            if (!put_value(w, t->value, &v->u.members[k].val, depth + 1)) return false;
        }
        fl_pq_writer_end(w);
        return true;
    case FL_DELTA_T_STRUCT:
        if (!fl_json_is_obj(v)) return false;
        fl_pq_writer_begin_struct(w);
        for (size_t k = 0; k < t->n_fields; k++)
            if (!put_value(w, t->fields[k].type, fl_json_get(v, t->fields[k].name), depth + 1)) return false;
        fl_pq_writer_end(w);
        return true;
    default:
        return false;
    }
}

/* Partition value text of a JSON value (strings as-is, numbers as text, null = null). */
static bool json_to_val(fl_arena *a, const fl_delta_type *t, const fl_json_val *v, fl_pq_val *out, unsigned depth);

static fl_delta_kv part_value(fl_str col, const fl_json_val *v)
{
    if (!v || fl_json_is_null(v)) return (fl_delta_kv){col, FL_STR_NULL, false};
    if (fl_json_is_bool(v)) return (fl_delta_kv){col, v->type == FL_JSON_TRUE ? FL_STR("true") : FL_STR("false"), true};
    return (fl_delta_kv){col, fl_json_str(v), true};
}

typedef struct row_ref {
    fl_json_val *val;
    uint64_t line_no;
    char *pkey; /* partition values joined, for grouping */
} row_ref;

static int row_cmp(const void *a, const void *b)
{
    const row_ref *x = a, *y = b;
    int c = strcmp(x->pkey, y->pkey);
    return c ? c : (x->line_no < y->line_no ? -1 : 1);
}

/* The schema of s plus new nullable top-level columns "NAME:TYPE" (TYPE a Spark type name
 * such as string, long, decimal(10,2), or a type JSON object). The caller owns *out. */
static fl_rc schema_plus(const fl_delta_type *cur, const char *const *adds, int nadds, fl_delta_schema **out, fl_err *err)
{
    fl_buf b;
    fl_buf_init(&b, 0);
    fl_delta_type_to_json(cur, &b);
    if (b.rc || b.len < 2 || strcmp(b.ptr + b.len - 2, "]}") != 0) {
        fl_buf_reset(&b);
        return fl_err_set(err, FL_E_INTERNAL, "cannot extend the schema JSON");
    }
    b.len -= 2;
    bool empty = b.len > 0 && b.ptr[b.len - 1] == '[';
    for (int i = 0; i < nadds; i++) {
        const char *colon = strchr(adds[i], ':');
        if (!colon || colon == adds[i] || !colon[1]) {
            fl_buf_reset(&b);
            return fl_err_set(err, FL_E_ARG, "--add-column %s: expected NAME:TYPE (e.g. note:string)", adds[i]);
        }
        if (!empty || i > 0) fl_buf_putc(&b, ',');
        fl_jw w;
        fl_jw_init(&w, &b);
        fl_jw_obj_begin(&w);
        fl_jw_key_c(&w, "name");
        fl_jw_str(&w, fl_str_make(adds[i], (size_t)(colon - adds[i])));
        fl_jw_key_c(&w, "type");
        if (colon[1] == '{') fl_jw_raw(&w, fl_str_c(colon + 1));
        else fl_jw_str_c(&w, colon + 1);
        fl_jw_key_c(&w, "nullable");
        fl_jw_bool(&w, true);
        fl_jw_key_c(&w, "metadata");
        fl_jw_raw(&w, FL_STR("{}"));
        fl_jw_obj_end(&w);
    }
    fl_buf_append_c(&b, "]}");
    fl_rc rc = b.rc ? b.rc : fl_delta_schema_parse(fl_buf_str(&b), out, err);
    fl_buf_reset(&b);
    return rc;
}

/* Begin a transaction on t (what: the command, for messages); with app_id, declare the idempotent
 * application version txn_version. True when ready; false when not, with *status CLI_OK when that
 * version is already committed ("skipped" printed) or CLI_FAILED (reported). *txn is the caller's
 * to free either way. */
static bool txn_start(fl_delta_table *t, const char *what, const char *app_id, int64_t txn_version, fl_delta_txn **txn,
                      int *status)
{
    fl_err err;
    fl_rc rc = fl_delta_txn_begin(t, txn, &err);
    if (!rc && app_id) {
        rc = fl_delta_txn_set_app(*txn, fl_str_c(app_id), txn_version, &err);
        if (rc == FL_E_DELTA_DUPLICATE) {
            printf("skipped: %s\n", err.msg);
            *status = CLI_OK;
            return false;
        }
    }
    if (rc) {
        cli_report(what, rc, &err);
        *status = CLI_FAILED;
        return false;
    }
    return true;
}

/* Commit txn into *res. False when it did not commit, with *status CLI_OK when a concurrent writer
 * already committed this application version ("skipped" printed) or CLI_FAILED (reported). */
static bool txn_commit(fl_delta_txn *txn, fl_delta_commit_result *res, int *status)
{
    fl_err err;
    fl_rc rc = fl_delta_txn_commit(txn, res, &err);
    if (rc == FL_E_DELTA_DUPLICATE) {
        printf("skipped: %s\n", err.msg);
        *status = CLI_OK;
        return false;
    }
    if (rc) {
        cli_report("commit", rc, &err);
        *status = CLI_FAILED;
        return false;
    }
    return true;
}

static int append(fl_delta_table *t, const char *file, const char *app_id, int64_t txn_version, bool overwrite,
                  const char *const *add_cols, int n_add_cols)
{
    fl_delta_schema *evolved = NULL;
    fl_err err;
    int status = CLI_FAILED;
    fl_delta_txn *txn = NULL;
    fl_ndjson_reader *rd = NULL;
    fl_arena a;
    fl_arena_init(&a, 0, (size_t)4 << 30);
    row_ref *rows = NULL;
    size_t nrows = 0, cap = 0;
    fl_rc rc = FL_OK;
    if (!txn_start(t, "append", app_id, txn_version, &txn, &status)) goto done;
    if (overwrite && (rc = fl_delta_txn_remove_all(txn, &err)) != FL_OK) {
        cli_report("append", rc, &err);
        goto done;
    }
    const fl_delta_snapshot *snap = fl_delta_txn_get_snapshot(txn);
    const fl_delta_type *sch = fl_delta_snapshot_get_schema(snap);
    const fl_delta_metadata *md = fl_delta_snapshot_get_metadata(snap);
    if (n_add_cols > 0) { /* schema evolution: new nullable columns, then rows in the new shape */
        if ((rc = schema_plus(sch, add_cols, n_add_cols, &evolved, &err)) != FL_OK ||
            (rc = fl_delta_txn_set_schema(txn, fl_delta_schema_root(evolved), &err)) != FL_OK) {
            cli_report("--add-column", rc, &err);
            goto done;
        }
        sch = fl_delta_schema_root(evolved);
    }
    if ((rc = fl_ndjson_open(file, NULL, &rd, &err)) != FL_OK) {
        cli_report(file, rc, &err);
        goto done;
    }
    fl_ndjson_line line;
    while ((rc = fl_ndjson_next(rd, &line, &err)) == FL_OK) {
        fl_json_val *v = NULL;
        fl_json_opts jo = {.flags = FL_JSON_COPY_STRINGS};
        if ((rc = fl_json_parse(line.text.ptr, line.text.len, &jo, &a, &v, NULL, &err)) != FL_OK || !fl_json_is_obj(v)) {
            cli_errorf("%s:%llu: %s", file, (unsigned long long)line.line_no, rc ? err.msg : "not a JSON object");
            goto done;
        }
        fl_buf pk;
        fl_buf_init(&pk, 0);
        for (size_t i = 0; i < md->n_partition_columns; i++) {
            const fl_json_val *pj = fl_json_get(v, md->partition_columns[i]);
            const fl_delta_field *pf = fl_delta_type_find(sch, md->partition_columns[i]);
            fl_pq_val pq;
            /* partition values are not written to the data file: check them here, as put_value
             * checks the other columns (a value the column type cannot read breaks the table) */
            if (pf && !json_to_val(&a, pf->type, pj, &pq, 0)) {
                fl_buf_reset(&pk);
                cli_errorf("%s:%llu: partition column %.*s: value does not fit the column type", file,
                           (unsigned long long)line.line_no, (int)pf->name.len, pf->name.ptr);
                goto done;
            }
            fl_delta_kv kv = part_value(md->partition_columns[i], pj);
            fl_buf_printf(&pk, "%c%.*s", kv.has_val ? '=' : '~', (int)kv.val.len, kv.val.ptr ? kv.val.ptr : "");
            fl_buf_putc(&pk, 0x1f);
        }
        if (nrows == cap) {
            cap = cap ? cap * 2 : 1024;
            row_ref *nr = realloc(rows, cap * sizeof *rows);
            if (!nr) {
                fl_buf_reset(&pk);
                cli_errorf("out of memory");
                goto done;
            }
            rows = nr;
        }
        rows[nrows].val = v;
        rows[nrows].line_no = line.line_no;
        rows[nrows].pkey = fl_arena_strndup(&a, pk.ptr ? pk.ptr : "", pk.len);
        nrows++;
        fl_buf_reset(&pk);
    }
    if (rc != FL_E_EOF) {
        cli_report(file, rc, &err);
        goto done;
    }
    if (nrows) qsort(rows, nrows, sizeof *rows, row_cmp);
    for (size_t i = 0; i < nrows;) {
        fl_delta_kv pv[64];
        size_t np = md->n_partition_columns < 64 ? md->n_partition_columns : 64;
        for (size_t k = 0; k < np; k++) pv[k] = part_value(md->partition_columns[k], fl_json_get(rows[i].val, md->partition_columns[k]));
        fl_pq_writer *w = NULL;
        if ((rc = fl_delta_txn_file_open(txn, pv, np, NULL, &w, &err)) != FL_OK) {
            cli_report("append", rc, &err);
            goto done;
        }
        size_t j = i;
        for (; j < nrows && !strcmp(rows[j].pkey, rows[i].pkey); j++) {
            for (size_t f = 0; f < sch->n_fields; f++) {
                bool is_part = false;
                for (size_t k = 0; k < md->n_partition_columns; k++)
                    if (fl_str_eq(md->partition_columns[k], sch->fields[f].name)) is_part = true;
                if (is_part) continue;
                if (!put_value(w, sch->fields[f].type, fl_json_get(rows[j].val, sch->fields[f].name), 0)) {
                    cli_errorf("%s:%llu: column %.*s: value does not fit the column type", file,
                               (unsigned long long)rows[j].line_no, (int)sch->fields[f].name.len, sch->fields[f].name.ptr);
                    goto done;
                }
            }
            if ((rc = fl_pq_writer_end_row(w)) != FL_OK) {
                cli_errorf("%s:%llu: %s", file, (unsigned long long)rows[j].line_no, fl_pq_writer_err(w)->msg);
                goto done;
            }
        }
        if ((rc = fl_delta_txn_file_close(txn, &err)) != FL_OK) {
            cli_report("append", rc, &err);
            goto done;
        }
        i = j;
    }
    fl_delta_commit_result res;
    if (!txn_commit(txn, &res, &status)) goto done;
    printf("committed version %lld: %lld files, %lld rows%s\n", (long long)res.version, (long long)res.files_added,
           (long long)res.records_added, res.checkpointed ? " (checkpoint written)" : "");
    status = CLI_OK;
done:
    fl_ndjson_close(rd);
    fl_delta_txn_free(txn);
    fl_delta_schema_free(evolved);
    free(rows);
    fl_arena_fini(&a);
    return status;
}

/* ------------------------------------------------------------------ merge */

/* One JSON value of Delta type t as a scanned value (the shape fl_delta_merge_* takes). */
static bool json_to_val(fl_arena *a, const fl_delta_type *t, const fl_json_val *v, fl_pq_val *out, unsigned depth)
{
    memset(out, 0, sizeof *out);
    if (!v || fl_json_is_null(v)) return true; /* FL_PQ_V_NULL */
    if (depth > 32) return false;
    int64_t i;
    double d;
    switch (t->kind) {
    case FL_DELTA_T_STRING:
        if (fl_json_is_str(v) || fl_json_is_num(v)) out->v.bytes = fl_json_str(v);
        else if (fl_json_is_bool(v)) out->v.bytes = v->type == FL_JSON_TRUE ? FL_STR("true") : FL_STR("false");
        else return false;
        out->kind = FL_PQ_V_BYTES;
        return true;
    case FL_DELTA_T_BINARY:
    case FL_DELTA_T_DECIMAL: /* decimals as their text, like the scan */
        if (!fl_json_is_str(v) && !(t->kind == FL_DELTA_T_DECIMAL && fl_json_is_num(v))) return false;
        out->kind = FL_PQ_V_BYTES;
        out->v.bytes = fl_json_str(v);
        return true;
    case FL_DELTA_T_LONG:
        if (!fl_json_as_i64(v, &i)) return false;
        out->kind = FL_PQ_V_I64;
        out->v.i64 = i;
        return true;
    case FL_DELTA_T_INTEGER:
    case FL_DELTA_T_SHORT:
    case FL_DELTA_T_BYTE:
        if (!fl_json_as_i64(v, &i) || i < INT32_MIN || i > INT32_MAX) return false;
        out->kind = FL_PQ_V_I32;
        out->v.i32 = (int32_t)i;
        return true;
    case FL_DELTA_T_FLOAT:
    case FL_DELTA_T_DOUBLE:
        if (!fl_json_as_f64(v, &d)) return false;
        if (t->kind == FL_DELTA_T_FLOAT) out->kind = FL_PQ_V_F32, out->v.f32 = (float)d;
        else out->kind = FL_PQ_V_F64, out->v.f64 = d;
        return true;
    case FL_DELTA_T_BOOLEAN:
        if (!fl_json_is_bool(v)) return false;
        out->kind = FL_PQ_V_BOOL;
        out->v.b = v->type == FL_JSON_TRUE;
        return true;
    case FL_DELTA_T_DATE:
        if (!fl_json_is_str(v) || !fl_parse_date_days(fl_json_str(v), &i)) return false;
        out->kind = FL_PQ_V_I32;
        out->v.i32 = (int32_t)i;
        return true;
    case FL_DELTA_T_TIMESTAMP:
    case FL_DELTA_T_TIMESTAMP_NTZ:
        if (!fl_json_is_str(v) || !fl_parse_timestamp_us(fl_json_str(v), false, &i)) return false;
        out->kind = FL_PQ_V_I64;
        out->v.i64 = i;
        return true;
    case FL_DELTA_T_ARRAY:
    case FL_DELTA_T_MAP:
    case FL_DELTA_T_STRUCT: {
        bool arr = t->kind == FL_DELTA_T_ARRAY;
        if (arr ? !fl_json_is_arr(v) : !fl_json_is_obj(v)) return false;
        size_t n = t->kind == FL_DELTA_T_STRUCT ? t->n_fields : t->kind == FL_DELTA_T_MAP ? 2 * (size_t)v->len : v->len;
        fl_pq_val *items = fl_arena_calloc(a, n ? n : 1, sizeof *items);
        if (!items) return false;
        for (size_t k = 0; k < n; k++) {
            bool ok;
            if (t->kind == FL_DELTA_T_STRUCT) {
                ok = json_to_val(a, t->fields[k].type, fl_json_get(v, t->fields[k].name), &items[k], depth + 1);
            } else if (arr) {
                ok = json_to_val(a, t->element, &v->u.items[k], &items[k], depth + 1);
            } else if (k % 2 == 0) {
                items[k] = (fl_pq_val){.kind = FL_PQ_V_BYTES, .v.bytes = v->u.members[k / 2].key};
                ok = true;
            } else {
                ok = json_to_val(a, t->value, &v->u.members[k / 2].val, &items[k], depth + 1);
            }
            if (!ok) return false;
        }
        out->kind = arr ? FL_PQ_V_LIST : t->kind == FL_DELTA_T_MAP ? FL_PQ_V_MAP : FL_PQ_V_STRUCT;
        out->n = (uint32_t)(t->kind == FL_DELTA_T_MAP ? n / 2 : n);
        out->v.items = items;
        return true;
    }
    default:
        return false;
    }
}

/* Feed every line of an NDJSON file to the merge (deletes: only key columns are read). */
static int merge_feed(fl_delta_merge *m, const fl_delta_type *sch, const char *file, bool deletes)
{
    fl_err err;
    fl_ndjson_reader *rd = NULL;
    fl_rc rc = fl_ndjson_open(file, NULL, &rd, &err);
    if (rc) {
        cli_report(file, rc, &err);
        return CLI_FAILED;
    }
    fl_arena a;
    fl_arena_init(&a, 0, 0);
    int status = CLI_FAILED;
    fl_ndjson_line line;
    while ((rc = fl_ndjson_next(rd, &line, &err)) == FL_OK) {
        fl_arena_reset(&a); /* the merge copies what it keeps */
        fl_json_val *v = NULL;
        if ((rc = fl_json_parse(line.text.ptr, line.text.len, NULL, &a, &v, NULL, &err)) != FL_OK || !fl_json_is_obj(v)) {
            cli_errorf("%s:%llu: %s", file, (unsigned long long)line.line_no, rc ? err.msg : "not a JSON object");
            goto done;
        }
        fl_pq_val row = {.kind = FL_PQ_V_STRUCT, .n = (uint32_t)sch->n_fields};
        row.v.items = fl_arena_calloc(&a, sch->n_fields ? sch->n_fields : 1, sizeof *row.v.items);
        if (!row.v.items) {
            cli_errorf("out of memory");
            goto done;
        }
        for (size_t f = 0; f < sch->n_fields; f++) {
            if (!json_to_val(&a, sch->fields[f].type, fl_json_get(v, sch->fields[f].name), &row.v.items[f], 0)) {
                cli_errorf("%s:%llu: column %.*s: value does not fit the column type", file,
                           (unsigned long long)line.line_no, (int)sch->fields[f].name.len, sch->fields[f].name.ptr);
                goto done;
            }
        }
        rc = deletes ? fl_delta_merge_add_delete(m, &row, &err) : fl_delta_merge_add_row(m, &row, &err);
        if (rc) {
            char ctx[600];
            snprintf(ctx, sizeof ctx, "%s:%llu", file, (unsigned long long)line.line_no);
            cli_report(ctx, rc, &err);
            goto done;
        }
    }
    if (rc != FL_E_EOF) {
        cli_report(file, rc, &err);
        goto done;
    }
    status = CLI_OK;
done:
    fl_ndjson_close(rd);
    fl_arena_fini(&a);
    return status;
}

static int merge(fl_delta_table *t, const char *input, const char *del_input, const char *keys, const char *newer_wins,
                 const char *app_id, int64_t txn_version)
{
    fl_err err;
    int status = CLI_FAILED;
    fl_delta_txn *txn = NULL;
    fl_delta_merge *m = NULL;
    char *kcopy = strdup(keys);
    const char *kcols[FL_DELTA_MAX_MERGE_KEYS + 1];
    size_t nk = 0;
    for (char *tok = kcopy, *next; tok && *tok; tok = next) {
        next = strchr(tok, ',');
        if (next) *next++ = 0;
        if (nk > FL_DELTA_MAX_MERGE_KEYS) break;
        kcols[nk++] = tok;
    }
    fl_rc rc = FL_OK;
    if (!txn_start(t, "merge", app_id, txn_version, &txn, &status)) goto done;
    fl_delta_txn_set_operation(txn, "MERGE", NULL);
    fl_delta_merge_opts mo = {.key_columns = kcols, .n_key_columns = nk, .newer_wins = newer_wins};
    if ((rc = fl_delta_merge_new(txn, &mo, &m, &err)) != FL_OK) {
        cli_report("merge", rc, &err);
        goto done;
    }
    const fl_delta_type *sch = fl_delta_snapshot_get_schema(fl_delta_txn_get_snapshot(txn));
    if (input && merge_feed(m, sch, input, false) != CLI_OK) goto done;
    if (del_input && merge_feed(m, sch, del_input, true) != CLI_OK) goto done;
    fl_delta_merge_result mr;
    if ((rc = fl_delta_merge_run(m, &mr, &err)) != FL_OK) {
        cli_report("merge", rc, &err);
        goto done;
    }
    fl_delta_commit_result res;
    if (!txn_commit(txn, &res, &status)) goto done;
    printf("committed version %lld: %lld inserted, %lld updated, %lld deleted, %lld skipped (not newer); "
           "%lld files rewritten, %lld files skipped by stats%s\n",
           (long long)res.version, (long long)mr.rows_inserted, (long long)mr.rows_updated, (long long)mr.rows_deleted,
           (long long)mr.rows_skipped, (long long)mr.files_removed, (long long)mr.files_skipped,
           res.checkpointed ? " (checkpoint written)" : "");
    status = CLI_OK;
done:
    fl_delta_merge_free(m);
    fl_delta_txn_free(txn);
    free(kcopy);
    return status;
}

int cmd_table(int argc, char **argv)
{
    if (argc < 2 || cli_is_opt(argv[1], "--help", "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = argv[1];
    const char *url = NULL, *schema = NULL, *pby = NULL, *input = NULL, *app_id = NULL;
    const char *keys = NULL, *newer_wins = NULL, *del_input = NULL, *txn_spec = NULL;
    bool overwrite = false, read_dv = false, force = false, dry_run = false;
    int64_t retention_h = -1, target_size = -1;
    const char *props[64], *add_cols[64];
    int nprops = 0, n_add_cols = 0;
    int64_t version = -1, ts = -1, limit = -1;
    for (int i = 2; i < argc; i++) {
        const char *v;
        if (cli_is_opt(argv[i], "--version", NULL) || !strncmp(argv[i], "--version=", 10)) {
            if (!(v = cli_opt_value(argc, argv, &i, "--version"))) return CLI_USAGE;
            version = strtoll(v, NULL, 10);
        } else if (cli_is_opt(argv[i], "--timestamp", NULL) || !strncmp(argv[i], "--timestamp=", 12)) {
            if (!(v = cli_opt_value(argc, argv, &i, "--timestamp"))) return CLI_USAGE;
            ts = strtoll(v, NULL, 10);
        } else if (cli_is_opt(argv[i], "--schema", NULL) || !strncmp(argv[i], "--schema=", 9)) {
            if (!(schema = cli_opt_value(argc, argv, &i, "--schema"))) return CLI_USAGE;
        } else if (cli_is_opt(argv[i], "--partition-by", NULL) || !strncmp(argv[i], "--partition-by=", 15)) {
            if (!(pby = cli_opt_value(argc, argv, &i, "--partition-by"))) return CLI_USAGE;
        } else if (cli_is_opt(argv[i], "--property", NULL) || !strncmp(argv[i], "--property=", 11)) {
            if (!(v = cli_opt_value(argc, argv, &i, "--property"))) return CLI_USAGE;
            if (nprops < 64) props[nprops++] = v;
        } else if (cli_is_opt(argv[i], "--app-id", NULL) || !strncmp(argv[i], "--app-id=", 9)) {
            if (!(app_id = cli_opt_value(argc, argv, &i, "--app-id"))) return CLI_USAGE;
        } else if (cli_is_opt(argv[i], "--txn-version", NULL) || !strncmp(argv[i], "--txn-version=", 14)) {
            if (!(v = cli_opt_value(argc, argv, &i, "--txn-version"))) return CLI_USAGE;
            version = strtoll(v, NULL, 10);
        } else if (cli_is_opt(argv[i], "--input", NULL) || !strncmp(argv[i], "--input=", 8)) {
            if (!(input = cli_opt_value(argc, argv, &i, "--input"))) return CLI_USAGE;
        } else if (cli_is_opt(argv[i], "--key", NULL) || !strncmp(argv[i], "--key=", 6)) {
            if (!(keys = cli_opt_value(argc, argv, &i, "--key"))) return CLI_USAGE;
        } else if (cli_is_opt(argv[i], "--newer-wins", NULL) || !strncmp(argv[i], "--newer-wins=", 13)) {
            if (!(newer_wins = cli_opt_value(argc, argv, &i, "--newer-wins"))) return CLI_USAGE;
        } else if (cli_is_opt(argv[i], "--delete-input", NULL) || !strncmp(argv[i], "--delete-input=", 15)) {
            if (!(del_input = cli_opt_value(argc, argv, &i, "--delete-input"))) return CLI_USAGE;
        } else if (cli_is_opt(argv[i], "--txn", NULL) || !strncmp(argv[i], "--txn=", 6)) {
            if (!(txn_spec = cli_opt_value(argc, argv, &i, "--txn"))) return CLI_USAGE;
        } else if (cli_is_opt(argv[i], "--add-column", NULL) || !strncmp(argv[i], "--add-column=", 13)) {
            if (!(v = cli_opt_value(argc, argv, &i, "--add-column"))) return CLI_USAGE;
            if (n_add_cols < 64) add_cols[n_add_cols++] = v;
        } else if (cli_is_opt(argv[i], "--overwrite", NULL)) {
            overwrite = true;
        } else if (cli_is_opt(argv[i], "--limit", NULL) || !strncmp(argv[i], "--limit=", 8)) {
            if (!(v = cli_opt_value(argc, argv, &i, "--limit"))) return CLI_USAGE;
            limit = strtoll(v, NULL, 10);
        } else if (cli_is_opt(argv[i], "--retention-hours", NULL) || !strncmp(argv[i], "--retention-hours=", 18)) {
            if (!(v = cli_opt_value(argc, argv, &i, "--retention-hours"))) return CLI_USAGE;
            retention_h = strtoll(v, NULL, 10);
        } else if (cli_is_opt(argv[i], "--target-size", NULL) || !strncmp(argv[i], "--target-size=", 14)) {
            if (!(v = cli_opt_value(argc, argv, &i, "--target-size"))) return CLI_USAGE;
            target_size = strtoll(v, NULL, 10);
        } else if (cli_is_opt(argv[i], "--force", NULL)) {
            force = true;
        } else if (cli_is_opt(argv[i], "--dry-run", NULL)) {
            dry_run = true;
        } else if (cli_is_opt(argv[i], "--read-dv", NULL)) {
            read_dv = true;
        } else if (cli_is_opt(argv[i], "--help", "-h")) {
            usage(stdout);
            return CLI_OK;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_errorf("table: unknown option %s", argv[i]);
            return CLI_USAGE;
        } else if (!url) {
            url = argv[i];
        } else if (!input && !strcmp(sub, "append")) {
            input = argv[i];
        } else {
            cli_errorf("table: unexpected argument %s", argv[i]);
            return CLI_USAGE;
        }
    }
    if (!url) {
        usage(stderr);
        return CLI_USAGE;
    }
    fl_err err;
    fl_store *st = NULL;
    fl_delta_table *t = NULL;
    fl_rc rc = fl_store_open(url, NULL, &st, &err);
    fl_delta_opts dopts;
    fl_delta_opts_default(&dopts);
    dopts.read_dv = read_dv;
    dopts.read_column_mapping = read_dv; /* --read-dv: the CLI reads rows through the scan */
    if (!rc) rc = fl_delta_table_open(st, &dopts, &t, &err);
    if (rc) {
        cli_report(url, rc, &err);
        fl_store_close(st);
        return CLI_FAILED;
    }
    int status = CLI_OK;
    char txn_app[256];
    if (txn_spec) { /* APP:VERSION (the version after the last ':') */
        const char *colon = strrchr(txn_spec, ':');
        char *end = NULL;
        long long tv = colon ? strtoll(colon + 1, &end, 10) : -1;
        if (!colon || colon == txn_spec || (size_t)(colon - txn_spec) >= sizeof txn_app || !end || *end || tv < 0 ||
            !colon[1]) {
            cli_errorf("table: --txn expects APP:VERSION (e.g. nightly-load:42), got '%s'", txn_spec);
            fl_delta_table_close(t);
            fl_store_close(st);
            return CLI_USAGE;
        }
        snprintf(txn_app, sizeof txn_app, "%.*s", (int)(colon - txn_spec), txn_spec);
        app_id = txn_app;
        version = tv;
    }
    if (!strcmp(sub, "merge")) {
        if (!keys || (!input && !del_input)) {
            cli_errorf("table merge: --key and at least one of --input / --delete-input are required");
            status = CLI_USAGE;
        } else if (app_id && version < 0) {
            cli_errorf("table merge: --app-id needs --txn-version N (or use --txn APP:VERSION)");
            status = CLI_USAGE;
        } else {
            status = merge(t, input, del_input, keys, newer_wins, app_id, version);
        }
    } else if (!strcmp(sub, "append")) {
        if (!input) {
            cli_errorf("table append: an NDJSON file is required");
            status = CLI_USAGE;
        } else if (app_id && version < 0) {
            cli_errorf("table append: --app-id needs --txn-version N");
            status = CLI_USAGE;
        } else {
            status = append(t, input, app_id, version, overwrite, add_cols, n_add_cols);
        }
    } else if (!strcmp(sub, "optimize")) {
        fl_delta_optimize_opts oo = {.target_file_size = target_size > 0 ? (uint64_t)target_size : 0};
        fl_delta_optimize_result orr;
        rc = fl_delta_table_optimize(t, &oo, &orr, &err);
        if (rc) {
            cli_report("optimize", rc, &err);
            status = CLI_FAILED;
        } else if (orr.version < 0) {
            printf("nothing to compact\n");
        } else {
            printf("committed version %lld: %lld files compacted into %lld (%lld rows)\n", (long long)orr.version,
                   (long long)orr.files_removed, (long long)orr.files_added, (long long)orr.rows);
        }
    } else if (!strcmp(sub, "cleanup-log")) {
        int64_t n = 0;
        rc = fl_delta_table_cleanup_log(t, retention_h >= 0 ? retention_h * 3600000 : -1, &n, &err);
        if (rc) {
            cli_report("cleanup-log", rc, &err);
            status = CLI_FAILED;
        } else {
            printf("deleted %lld expired log files\n", (long long)n);
        }
    } else if (!strcmp(sub, "vacuum")) {
        fl_delta_vacuum_opts vo = {.retention_ms = retention_h >= 0 ? retention_h * 3600000 : -1, .force = force,
                                   .dry_run = dry_run};
        fl_delta_vacuum_result vr;
        rc = fl_delta_table_vacuum(t, &vo, &vr, &err);
        if (rc) {
            cli_report("vacuum", rc, &err);
            status = CLI_FAILED;
        } else {
            printf("%s %lld files (%lld bytes); %lld files kept\n", dry_run ? "would delete" : "deleted",
                   (long long)vr.files_deleted, (long long)vr.bytes_deleted, (long long)vr.files_kept);
        }
    } else if (!strcmp(sub, "history")) {
        fl_buf hb;
        fl_buf_init(&hb, 0);
        rc = fl_delta_table_history(t, 0, version, limit > 0 ? (size_t)limit : 0, history_cb, &hb, &err);
        fl_buf_reset(&hb);
        if (rc) {
            cli_report("history", rc, &err);
            status = CLI_FAILED;
        }
    } else if (!strcmp(sub, "create")) {
        if (!schema) {
            cli_errorf("table create: --schema is required");
            status = CLI_USAGE;
        } else {
            status = create(t, schema, pby, props, nprops);
        }
    } else if (!strcmp(sub, "show") || !strcmp(sub, "files") || !strcmp(sub, "checkpoint") || !strcmp(sub, "cat") ||
               !strcmp(sub, "info") || !strcmp(sub, "schema") || !strcmp(sub, "stats")) {
        fl_delta_snapshot *s = NULL;
        rc = ts >= 0 ? fl_delta_snapshot_load_at(t, ts, &s, &err) : fl_delta_snapshot_load(t, version, &s, &err);
        if (rc) {
            cli_report(url, rc, &err);
            status = CLI_FAILED;
        } else if (!strcmp(sub, "info")) {
            status = info(t, s, read_dv);
        } else if (!strcmp(sub, "schema")) {
            status = schema_json(s);
        } else if (!strcmp(sub, "stats")) {
            status = stats_json(s);
        } else if (!strcmp(sub, "files")) {
            status = files(s);
        } else if (!strcmp(sub, "cat") || !strcmp(sub, "show")) {
            status = cat(url, t, s, limit);
        } else {
            rc = fl_delta_snapshot_write_checkpoint(t, s, &err);
            if (rc) {
                cli_report("checkpoint", rc, &err);
                status = CLI_FAILED;
            } else {
                printf("checkpoint written at version %lld\n", (long long)fl_delta_snapshot_version(s));
            }
        }
        fl_delta_snapshot_free(s);
    } else {
        cli_errorf("table: unknown subcommand '%s'", sub);
        usage(stderr);
        status = CLI_USAGE;
    }
    fl_delta_table_close(t);
    fl_store_close(st);
    return status;
}
