/* cmd_export.c - `fhirlake export`: FHIR NDJSON / Bulk Data output into one Delta table
 * (or Parquet/CSV/NDJSON file) per ViewDefinition (cli/). A thin layer over
 * fl_engine_export (include/fhirlake/engine.h): parses options, prints bad lines as
 * file:line: reason (and writes them to --dead-letter), draws the progress bar on a
 * terminal, prints the per-table outcome and writes --summary-json. */
#include "cli.h"

#include "fhirlake/engine.h"
#include "fhirlake/json.h"
#include "fhirlake/os.h"
#include "fhirlake/view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 4096
#define MAX_PRINTED_ERRORS 100

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fhirlake export --view V.json [--view V2.json ...] --input PATH [--input PATH ...] --to URL|DIR\n"
            "                       [--mode append|overwrite|merge] [--format delta|parquet|csv|ndjson] [options]\n\n"
            "Flatten FHIR NDJSON (gzip allowed), Bulk Data output folders (manifest.json: output[] and\n"
            "deleted[]; without one, every *.ndjson[.gz]) or stdin ('-') with ViewDefinitions into one\n"
            "table per view: <to>/<view name>. Columns: the view's columns plus is_deleted (INT).\n"
            "Each Delta table gets one commit per export with txn{appId: fhirlake-export-<id>}: running\n"
            "the same export again changes nothing.\n\n"
            "options:\n"
            "  --view FILE                 a ViewDefinition (JSON); repeatable\n"
            "  --input PATH, -i PATH       NDJSON file, Bulk Data folder or '-'; repeatable (also plain args)\n"
            "  --to URL|DIR                target directory or URL (file://, s3://, ...)\n"
            "  --format FMT                delta (default), parquet, csv or ndjson (plain files <to>/<view>.<ext>)\n"
            "  --mode MODE                 append (default), overwrite (replace contents in the same commit),\n"
            "                              merge (upsert by id; newest meta.lastUpdated wins)\n"
            "  --deletes remove|flag       merge: drop rows of deleted resources (default) or set is_deleted=1\n"
            "  --since INSTANT             only resources whose meta.lastUpdated is after INSTANT\n"
            "  --export-id ID              idempotency id (default: hash of inputs (paths, sizes, mtimes) + views)\n"
            "  --target-file-size-mb N     data file size (default 128)\n"
            "  --compression C             snappy (default), zstd, gzip, lz4 or none\n"
            "  --threads N                 worker threads (default: all cores)\n"
            "  --dead-letter FILE          write failed lines there as NDJSON {file, line, error, text}\n"
            "  --fail-fast                 abort at the first bad line; nothing is committed\n"
            "  --summary-json FILE         per-table rows, files, bytes, version, duration, failures\n"
            "  --temporal-as-string        date/dateTime/instant columns keep their FHIR text\n"
            "  --decimal-as-string         decimal columns keep their exact text\n"
            "  --quiet, -q                 no progress bar and no summary lines\n"
            "  --help, -h                  this help\n\n"
            "Exit status: 0 ok, 1 some lines failed or the export failed, 2 usage error.\n");
}

typedef struct export_cli {
    FILE *dead;
    const char *dead_path;
    bool dead_failed;
    uint64_t printed;
    bool progress_on;
    size_t bar_len;
    fl_buf line;
} export_cli;

static void on_bad(void *ctx, const fl_engine_bad_line *b)
{
    export_cli *c = ctx;
    if (c->printed < MAX_PRINTED_ERRORS) {
        if (c->bar_len) {
            fprintf(stderr, "\r%*s\r", (int)c->bar_len, "");
            c->bar_len = 0;
        }
        fprintf(stderr, "fhirlake: %s:%llu: %s\n", b->file, (unsigned long long)b->line_no, b->reason);
    } else if (c->printed == MAX_PRINTED_ERRORS) {
        fprintf(stderr, "fhirlake: more bad lines follow; not printing them (see the summary%s)\n",
                c->dead ? " and the dead-letter file" : "");
    }
    c->printed++;
    if (!c->dead || c->dead_failed) return;
    fl_buf_clear(&c->line);
    fl_jw w;
    fl_jw_init(&w, &c->line);
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "file");
    fl_jw_str_c(&w, b->file);
    fl_jw_key_c(&w, "line");
    fl_jw_i64(&w, (int64_t)b->line_no);
    fl_jw_key_c(&w, "error");
    fl_jw_str_c(&w, b->reason);
    fl_jw_key_c(&w, "code");
    fl_jw_str_c(&w, fl_rc_name(b->code));
    fl_jw_key_c(&w, "text");
    fl_jw_str(&w, b->text);
    fl_jw_obj_end(&w);
    fl_buf_putc(&c->line, '\n');
    if (c->line.rc || fwrite(c->line.ptr, 1, c->line.len, c->dead) != c->line.len) {
        cli_errorf("%s: write failed", c->dead_path);
        c->dead_failed = true;
    }
}

static void on_progress(void *ctx, const fl_engine_progress *p)
{
    export_cli *c = ctx;
    if (!c->progress_on) return;
    char buf[512];
    double mb = (double)p->bytes_read / 1e6;
    double rate = p->seconds > 0 ? mb / p->seconds : 0;
    int n = snprintf(buf, sizeof buf, "files %zu/%zu  %llu resources  %.1f MB/s", p->files_done, p->files_total,
                     (unsigned long long)p->resources, rate);
    if (p->bytes_total && p->bytes_read && p->bytes_read < p->bytes_total) {
        double eta = p->seconds * (double)(p->bytes_total - p->bytes_read) / (double)p->bytes_read;
        n += snprintf(buf + n, sizeof buf - (size_t)n, "  ETA %.0fs", eta);
    }
    if (p->failed) n += snprintf(buf + n, sizeof buf - (size_t)n, "  %llu failed", (unsigned long long)p->failed);
    for (size_t t = 0; t < p->n_tables && (size_t)n < sizeof buf - 40; t++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, " | %s %llu", p->table_names[t], (unsigned long long)p->table_rows[t]);
    if ((size_t)n >= sizeof buf) n = (int)sizeof buf - 1;
    size_t len = (size_t)n > 160 ? 160 : (size_t)n;
    fprintf(stderr, "\r%.*s%*s", (int)len, buf, c->bar_len > len ? (int)(c->bar_len - len) : 0, "");
    c->bar_len = len;
    fflush(stderr);
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') return false;
    *out = v;
    return true;
}

static int write_summary(const char *path, const fl_engine_export_result *r, fl_rc rc, const fl_err *err)
{
    fl_buf b;
    fl_buf_init(&b, 0);
    fl_jw w;
    fl_jw_init(&w, &b);
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "exportId");
    fl_jw_str_c(&w, r->export_id);
    fl_jw_key_c(&w, "appId");
    fl_jw_str_c(&w, r->app_id);
    fl_jw_key_c(&w, "ok");
    fl_jw_bool(&w, rc == FL_OK && r->failed == 0);
    fl_jw_key_c(&w, "error");
    if (rc) fl_jw_str_c(&w, err->msg);
    else fl_jw_null(&w);
    fl_jw_key_c(&w, "seconds");
    fl_jw_f64(&w, r->seconds);
    fl_jw_key_c(&w, "inputFiles");
    fl_jw_i64(&w, (int64_t)r->files);
    fl_jw_key_c(&w, "bytesRead");
    fl_jw_i64(&w, (int64_t)r->bytes_read);
    fl_jw_key_c(&w, "lines");
    fl_jw_i64(&w, (int64_t)r->lines);
    fl_jw_key_c(&w, "resources");
    fl_jw_i64(&w, (int64_t)r->resources);
    fl_jw_key_c(&w, "filtered");
    fl_jw_i64(&w, (int64_t)r->filtered);
    fl_jw_key_c(&w, "deleted");
    fl_jw_i64(&w, (int64_t)r->deleted);
    fl_jw_key_c(&w, "failures");
    fl_jw_i64(&w, (int64_t)r->failed);
    fl_jw_key_c(&w, "tables");
    fl_jw_arr_begin(&w);
    for (size_t i = 0; i < r->n_tables; i++) {
        const fl_engine_table_result *t = &r->tables[i];
        fl_jw_obj_begin(&w);
        fl_jw_key_c(&w, "name");
        fl_jw_str_c(&w, t->name);
        fl_jw_key_c(&w, "location");
        fl_jw_str_c(&w, t->location);
        fl_jw_key_c(&w, "rows");
        fl_jw_i64(&w, (int64_t)t->rows);
        fl_jw_key_c(&w, "rowsRemoved");
        fl_jw_i64(&w, (int64_t)t->rows_removed);
        fl_jw_key_c(&w, "files");
        fl_jw_i64(&w, (int64_t)t->files);
        fl_jw_key_c(&w, "bytes");
        fl_jw_i64(&w, (int64_t)t->bytes);
        fl_jw_key_c(&w, "version");
        if (t->version >= 0) fl_jw_i64(&w, t->version);
        else fl_jw_null(&w);
        fl_jw_key_c(&w, "skipped");
        fl_jw_bool(&w, t->skipped);
        fl_jw_key_c(&w, "seconds");
        fl_jw_f64(&w, t->seconds);
        fl_jw_key_c(&w, "failures");
        fl_jw_i64(&w, (int64_t)t->failed);
        fl_jw_obj_end(&w);
    }
    fl_jw_arr_end(&w);
    fl_jw_obj_end(&w);
    fl_buf_putc(&b, '\n');
    fl_err ferr;
    fl_rc wrc = b.rc ? b.rc : fl_file_write_atomic(path, b.ptr, b.len, &ferr);
    fl_buf_reset(&b);
    if (wrc) {
        cli_errorf("%s: cannot write the summary: %s", path, fl_rc_str(wrc));
        return CLI_FAILED;
    }
    return CLI_OK;
}

static bool parse_codec(const char *s, fl_pq_codec *c)
{
    if (!strcmp(s, "snappy")) *c = FL_PQ_SNAPPY;
    else if (!strcmp(s, "zstd")) *c = FL_PQ_ZSTD;
    else if (!strcmp(s, "gzip")) *c = FL_PQ_GZIP;
    else if (!strcmp(s, "lz4")) *c = FL_PQ_LZ4_RAW;
    else if (!strcmp(s, "none") || !strcmp(s, "uncompressed")) *c = FL_PQ_UNCOMPRESSED;
    else return false;
    return true;
}

int cmd_export(int argc, char **argv)
{
    static const char *views[MAX_ARGS], *inputs[MAX_ARGS];
    size_t nviews = 0, ninputs = 0;
    const char *to = NULL, *dead_path = NULL, *summary_path = NULL;
    bool quiet = false;
    fl_engine_export_opts o;
    fl_engine_export_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
#define VALUE(name)                                                                                                    \
    if (!(v = cli_opt_value(argc, argv, &i, name))) return CLI_USAGE
        if (cli_is_opt(a, "--help", "-h")) {
            usage(stdout);
            return CLI_OK;
        } else if (cli_is_opt(a, "--view", NULL)) {
            VALUE("--view");
            if (nviews == MAX_ARGS) return cli_errorf("export: too many views"), CLI_USAGE;
            views[nviews++] = v;
        } else if (cli_is_opt(a, "--input", "-i")) {
            VALUE("--input");
            if (ninputs == MAX_ARGS) return cli_errorf("export: too many inputs"), CLI_USAGE;
            inputs[ninputs++] = v;
        } else if (cli_is_opt(a, "--to", NULL)) {
            VALUE("--to");
            to = v;
        } else if (cli_is_opt(a, "--format", "-f")) {
            VALUE("--format");
            if (!strcmp(v, "delta")) o.format = FL_ENGINE_FMT_DELTA;
            else if (!strcmp(v, "parquet")) o.format = FL_ENGINE_FMT_PARQUET;
            else if (!strcmp(v, "csv")) o.format = FL_ENGINE_FMT_CSV;
            else if (!strcmp(v, "ndjson")) o.format = FL_ENGINE_FMT_NDJSON;
            else return cli_errorf("export: unknown format '%s' (delta, parquet, csv, ndjson)", v), CLI_USAGE;
        } else if (cli_is_opt(a, "--mode", NULL)) {
            VALUE("--mode");
            if (!strcmp(v, "append")) o.mode = FL_ENGINE_APPEND;
            else if (!strcmp(v, "overwrite")) o.mode = FL_ENGINE_OVERWRITE;
            else if (!strcmp(v, "merge")) o.mode = FL_ENGINE_MERGE;
            else return cli_errorf("export: unknown mode '%s' (append, overwrite, merge)", v), CLI_USAGE;
        } else if (cli_is_opt(a, "--deletes", NULL)) {
            VALUE("--deletes");
            if (!strcmp(v, "flag")) o.deletes_flag = true;
            else if (!strcmp(v, "remove")) o.deletes_flag = false;
            else return cli_errorf("export: --deletes remove|flag, not '%s'", v), CLI_USAGE;
        } else if (cli_is_opt(a, "--since", NULL)) {
            VALUE("--since");
            if (!fl_view_parse_timestamp(fl_str_c(v), &o.since_us))
                return cli_errorf("export: --since '%s' is not a FHIR instant/dateTime", v), CLI_USAGE;
            o.has_since = true;
        } else if (cli_is_opt(a, "--export-id", NULL)) {
            VALUE("--export-id");
            o.export_id = v;
        } else if (cli_is_opt(a, "--target-file-size-mb", NULL)) {
            VALUE("--target-file-size-mb");
            uint64_t mb;
            if (!parse_u64(v, &mb) || mb == 0 || mb > 1u << 20)
                return cli_errorf("export: --target-file-size-mb wants a positive number"), CLI_USAGE;
            o.target_file_size = mb << 20;
        } else if (cli_is_opt(a, "--compression", NULL)) {
            VALUE("--compression");
            if (!parse_codec(v, &o.codec))
                return cli_errorf("export: unknown compression '%s' (snappy, zstd, gzip, lz4, none)", v), CLI_USAGE;
            o.codec_set = true;
        } else if (cli_is_opt(a, "--threads", "-j")) {
            VALUE("--threads");
            uint64_t n;
            if (!parse_u64(v, &n) || n == 0 || n > 256) return cli_errorf("export: --threads wants 1..256"), CLI_USAGE;
            o.threads = (unsigned)n;
        } else if (cli_is_opt(a, "--batch-rows", NULL)) {
            VALUE("--batch-rows");
            uint64_t n;
            if (!parse_u64(v, &n) || n == 0) return cli_errorf("export: --batch-rows wants a positive number"), CLI_USAGE;
            o.batch_rows = (size_t)n;
        } else if (cli_is_opt(a, "--dead-letter", NULL)) {
            VALUE("--dead-letter");
            dead_path = v;
        } else if (cli_is_opt(a, "--summary-json", NULL)) {
            VALUE("--summary-json");
            summary_path = v;
        } else if (!strcmp(a, "--fail-fast")) {
            o.fail_fast = true;
        } else if (cli_is_opt(a, "--quiet", "-q")) {
            quiet = true;
        } else if (!strcmp(a, "--temporal-as-string")) {
            o.view_flags |= FL_VIEW_TEMPORAL_AS_STRING;
        } else if (!strcmp(a, "--decimal-as-string")) {
            o.view_flags |= FL_VIEW_DECIMAL_AS_STRING;
        } else if (a[0] == '-' && a[1] != 0) {
            cli_errorf("export: unknown option '%s' (see 'fhirlake export --help')", a);
            return CLI_USAGE;
        } else {
            if (ninputs == MAX_ARGS) return cli_errorf("export: too many inputs"), CLI_USAGE;
            inputs[ninputs++] = a;
        }
#undef VALUE
    }
    if (!nviews) return cli_errorf("export: at least one --view is required (see 'fhirlake export --help')"), CLI_USAGE;
    if (!to) return cli_errorf("export: --to is required"), CLI_USAGE;
    if (!ninputs) return cli_errorf("export: --input is required ('-' reads stdin)"), CLI_USAGE;

    export_cli c;
    memset(&c, 0, sizeof c);
    fl_buf_init(&c.line, 0);
    c.progress_on = !quiet && cli_stderr_is_tty();
    if (dead_path) {
        c.dead_path = dead_path;
        if (!(c.dead = fopen(dead_path, "wb"))) {
            cli_errorf("%s: cannot open: %s", dead_path, strerror(errno));
            fl_buf_reset(&c.line);
            return CLI_FAILED;
        }
    }
    fl_logger lg = {.fn = cli_log_stderr, .ctx = NULL, .level = quiet ? FL_LOG_WARN : FL_LOG_INFO};
    o.views = views;
    o.n_views = nviews;
    o.inputs = inputs;
    o.n_inputs = ninputs;
    o.target = to;
    o.on_bad = on_bad;
    o.bad_ctx = &c;
    o.on_progress = on_progress;
    o.progress_ctx = &c;
    o.log = &lg;

    fl_err err;
    fl_err_clear(&err);
    fl_engine_export_result r;
    fl_rc rc = fl_engine_export(&o, &r, &err);
    if (c.bar_len) fprintf(stderr, "\r%*s\r", (int)c.bar_len, "");
    int status = CLI_OK;
    if (rc) {
        cli_report("export", rc, &err);
        status = CLI_FAILED;
    }
    if (!quiet) {
        for (size_t i = 0; i < r.n_tables; i++) {
            const fl_engine_table_result *t = &r.tables[i];
            if (rc && !t->skipped) continue;
            if (t->skipped)
                printf("%s: export %s is already in the table (version %lld): nothing changed\n", t->name, r.export_id,
                       (long long)t->version);
            else if (o.format == FL_ENGINE_FMT_DELTA)
                printf("%s: committed version %lld: %llu rows, %llu files, %llu bytes%s\n", t->name, (long long)t->version,
                       (unsigned long long)t->rows, (unsigned long long)t->files, (unsigned long long)t->bytes,
                       t->rows_removed ? "" : "");
            else
                printf("%s: wrote %s: %llu rows, %llu bytes\n", t->name, t->location, (unsigned long long)t->rows,
                       (unsigned long long)t->bytes);
            if (t->rows_removed)
                printf("%s: merge replaced or removed %llu existing rows\n", t->name, (unsigned long long)t->rows_removed);
        }
        if (rc == FL_OK)
            printf("export %s: %zu files, %llu resources (%llu filtered, %llu deleted), %llu failed, %.2fs\n", r.export_id,
                   r.files, (unsigned long long)r.resources, (unsigned long long)r.filtered,
                   (unsigned long long)r.deleted, (unsigned long long)r.failed, r.seconds);
    }
    if (r.failed) {
        if (rc == FL_OK) cli_errorf("export: %llu lines failed and were skipped", (unsigned long long)r.failed);
        status = CLI_FAILED;
    }
    if (summary_path && write_summary(summary_path, &r, rc, &err) != CLI_OK) status = CLI_FAILED;
    if (c.dead && fclose(c.dead) != 0) {
        cli_errorf("%s: close failed: %s", dead_path, strerror(errno));
        status = CLI_FAILED;
    }
    if (c.dead_failed) status = CLI_FAILED;
    fl_buf_reset(&c.line);
    fl_engine_export_result_free(&r);
    return status;
}
