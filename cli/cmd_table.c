/* cmd_table.c - `fhirlake table`: inspect and manage Delta tables (cli).
 *   fhirlake table show TABLE [--version N | --timestamp MS]   snapshot summary as JSON
 *   fhirlake table files TABLE [--version N | --timestamp MS]  one JSON line per live file
 *   fhirlake table create TABLE --schema JSON [--partition-by a,b] [--property k=v ...]
 *   fhirlake table checkpoint TABLE                           write a checkpoint now
 * TABLE is a path or URL (file://, s3://, ...). Thin layer over include/fhirlake/delta.h. */
#include "cli.h"

#include "fhirlake/delta.h"
#include "fhirlake/json.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: fhirlake table show TABLE [--version N | --timestamp MS]\n"
                 "       fhirlake table files TABLE [--version N | --timestamp MS]\n"
                 "       fhirlake table create TABLE --schema JSON [--partition-by a,b] [--property k=v ...]\n"
                 "       fhirlake table checkpoint TABLE\n");
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

static int show(const fl_delta_snapshot *s)
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
    fl_jw_key_c(&w, "txns");
    fl_jw_obj_begin(&w);
    for (size_t i = 0; i < fl_delta_snapshot_num_app_txns(s); i++) {
        const fl_delta_app_txn *t = fl_delta_snapshot_get_app_txn(s, i);
        fl_jw_key(&w, t->app_id);
        fl_jw_i64(&w, t->version);
    }
    fl_jw_obj_end(&w);
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

int cmd_table(int argc, char **argv)
{
    if (argc < 2 || cli_is_opt(argv[1], "--help", "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = argv[1];
    const char *url = NULL, *schema = NULL, *pby = NULL;
    const char *props[64];
    int nprops = 0;
    int64_t version = -1, ts = -1;
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
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_errorf("table: unknown option %s", argv[i]);
            return CLI_USAGE;
        } else if (!url) {
            url = argv[i];
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
    if (!rc) rc = fl_delta_table_open(st, NULL, &t, &err);
    if (rc) {
        cli_report(url, rc, &err);
        fl_store_close(st);
        return CLI_FAILED;
    }
    int status = CLI_OK;
    if (!strcmp(sub, "create")) {
        if (!schema) {
            cli_errorf("table create: --schema is required");
            status = CLI_USAGE;
        } else {
            status = create(t, schema, pby, props, nprops);
        }
    } else if (!strcmp(sub, "show") || !strcmp(sub, "files") || !strcmp(sub, "checkpoint")) {
        fl_delta_snapshot *s = NULL;
        rc = ts >= 0 ? fl_delta_snapshot_load_at(t, ts, &s, &err) : fl_delta_snapshot_load(t, version, &s, &err);
        if (rc) {
            cli_report(url, rc, &err);
            status = CLI_FAILED;
        } else if (!strcmp(sub, "show")) {
            status = show(s);
        } else if (!strcmp(sub, "files")) {
            status = files(s);
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
