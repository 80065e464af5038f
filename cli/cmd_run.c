/* cmd_run.c - `fhirlake run`: the SQL-on-FHIR $run over NDJSON files (cli/).
 * Compiles the ViewDefinition once, streams every input line by line (gzip detected by
 * the NDJSON reader), evaluates each resource into a columnar batch and writes the batch
 * out every FLUSH_ROWS rows, so memory does not grow with the input. A resource that fails
 * is reported as file:line and skipped; the exit status is 1 if any failed. */
#include "cli.h"

#include "fhirlake/json.h"
#include "fhirlake/os.h"
#include "fhirlake/view.h"

#include <errno.h>
#include <string.h>

#define FLUSH_ROWS 1024u
#define FLUSH_BYTES (1u << 20)
#define MAX_INPUTS 4096

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fhirlake run --view VIEW.json [--input FILE.ndjson[.gz] ... | -]\n"
            "                    [--format ndjson|csv|json] [--out FILE] [--fail-fast]\n\n"
            "Run a SQL-on-FHIR ViewDefinition over FHIR NDJSON (gzip allowed) and write the rows.\n"
            "Inputs may also be given as plain arguments; none (or '-') reads stdin.\n\n"
            "options:\n"
            "  --view FILE            the ViewDefinition (JSON)\n"
            "  --input FILE, -i FILE  an NDJSON input; repeatable\n"
            "  --format FMT           ndjson (default), csv or json\n"
            "  --out FILE, -o FILE    write rows to FILE instead of stdout\n"
            "  --fail-fast            stop at the first resource that fails\n"
            "  --omit-nulls           ndjson/json: leave null columns out of the row objects\n"
            "  --no-header            csv: no header line\n"
            "  --temporal-as-string   date/dateTime/instant columns keep their FHIR text\n"
            "  --decimal-as-string    decimal columns keep their exact text\n"
            "  --stats                print resource/row counts to stderr at the end\n"
            "  --schema               print the output columns (name, type, FHIR type, collection)\n"
            "                         as JSON lines and exit without reading input\n"
            "  --help, -h             this help\n\n"
            "Exit status: 0 ok, 1 a resource or the view failed, 2 usage error.\n");
}

typedef struct run_state {
    fl_view_ctx *ctx;
    fl_view_batch *batch;
    fl_view_writer w;
    fl_buf out;
    FILE *fp;
    const char *out_name;
    uint64_t resources, rows, skipped, failed;
    bool fail_fast, io_failed;
} run_state;

static bool flush_out(run_state *st, bool force)
{
    if (st->out.rc) {
        cli_errorf("output: %s", fl_rc_str(st->out.rc));
        st->io_failed = true;
        return false;
    }
    if (!force && st->out.len < FLUSH_BYTES) return true;
    if (st->out.len && fwrite(st->out.ptr, 1, st->out.len, st->fp) != st->out.len) {
        cli_errorf("%s: write failed: %s", st->out_name, strerror(errno));
        st->io_failed = true;
        return false;
    }
    fl_buf_clear(&st->out);
    return true;
}

static bool flush_batch(run_state *st)
{
    if (fl_view_batch_rows(st->batch) == 0) return flush_out(st, false);
    fl_view_writer_batch(&st->w, st->batch, &st->out);
    fl_view_batch_clear(st->batch);
    return flush_out(st, false);
}

/* Returns false when the run must stop (fail-fast or an unrecoverable error). */
static bool run_input(run_state *st, const char *path)
{
    fl_err err;
    fl_ndjson_reader *r = NULL;
    const char *name = strcmp(path, "-") ? path : "<stdin>";
    fl_rc rc = fl_ndjson_open(path, NULL, &r, &err);
    if (rc) {
        cli_report(name, rc, &err);
        st->failed++;
        return !st->fail_fast;
    }
    bool go_on = true;
    for (;;) {
        fl_ndjson_line line;
        rc = fl_ndjson_next(r, &line, &err);
        if (rc == FL_E_EOF) break;
        if (rc == FL_E_LIMIT) {
            fprintf(stderr, "fhirlake: %s:%llu: %s\n", name, (unsigned long long)line.line_no, err.msg);
            st->failed++;
            if (st->fail_fast) {
                go_on = false;
                break;
            }
            continue;
        }
        if (rc) {
            cli_report(name, rc, &err);
            st->failed++;
            go_on = !st->fail_fast;
            break;
        }
        size_t n = 0;
        rc = fl_view_eval_text(st->ctx, line.text.ptr, line.text.len, st->batch, &n, &err);
        st->resources++;
        if (rc) {
            if (err.col)
                fprintf(stderr, "fhirlake: %s:%llu:%u: %s\n", name, (unsigned long long)line.line_no,
                        (unsigned)err.col, err.msg);
            else
                fprintf(stderr, "fhirlake: %s:%llu: %s\n", name, (unsigned long long)line.line_no, err.msg);
            st->failed++;
            if (st->fail_fast) {
                go_on = false;
                break;
            }
            continue;
        }
        if (fl_view_ctx_last_skipped(st->ctx)) st->skipped++;
        st->rows += n;
        if (fl_view_batch_rows(st->batch) >= FLUSH_ROWS && !flush_batch(st)) {
            go_on = false;
            break;
        }
    }
    fl_ndjson_close(r);
    return go_on;
}

/* One JSON object per column: {"name","type","fhirType","collection","declared"}. */
static void print_schema(const fl_view_plan *plan)
{
    fl_buf b;
    fl_buf_init(&b, 0);
    for (size_t i = 0; i < fl_view_plan_ncols(plan); i++) {
        const fl_view_col *c = fl_view_plan_col(plan, i);
        fl_jw w;
        fl_jw_init(&w, &b);
        fl_jw_obj_begin(&w);
        fl_jw_key_c(&w, "name");
        fl_jw_str_c(&w, c->name);
        fl_jw_key_c(&w, "type");
        if (c->type == FL_VIEW_DECIMAL) {
            char t[32];
            snprintf(t, sizeof t, "DECIMAL(%u,%u)", c->precision, c->scale);
            fl_jw_str_c(&w, t);
        } else {
            fl_jw_str_c(&w, fl_view_type_name(c->type));
        }
        fl_jw_key_c(&w, "fhirType");
        fl_jw_str_c(&w, c->fhir_type ? c->fhir_type : "");
        fl_jw_key_c(&w, "collection");
        fl_jw_bool(&w, c->collection);
        fl_jw_key_c(&w, "declared");
        fl_jw_bool(&w, c->declared);
        fl_jw_obj_end(&w);
        fl_buf_putc(&b, '\n');
    }
    if (b.len) fwrite(b.ptr, 1, b.len, stdout);
    fl_buf_reset(&b);
}

int cmd_run(int argc, char **argv)
{
    const char *view_path = NULL, *out_path = NULL, *fmt_name = "ndjson";
    const char *inputs[MAX_INPUTS];
    int ninputs = 0;
    uint32_t vflags = 0, wflags = 0;
    bool fail_fast = false, stats = false, schema = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_opt(a, "--help", "-h")) {
            usage(stdout);
            return CLI_OK;
        } else if (cli_is_opt(a, "--view", NULL)) {
            if (!(view_path = cli_opt_value(argc, argv, &i, "--view"))) return CLI_USAGE;
        } else if (cli_is_opt(a, "--input", "-i")) {
            const char *v = cli_opt_value(argc, argv, &i, "--input");
            if (!v) return CLI_USAGE;
            if (ninputs == MAX_INPUTS) {
                cli_errorf("run: more than %d inputs", MAX_INPUTS);
                return CLI_USAGE;
            }
            inputs[ninputs++] = v;
        } else if (cli_is_opt(a, "--format", "-f")) {
            if (!(fmt_name = cli_opt_value(argc, argv, &i, "--format"))) return CLI_USAGE;
        } else if (cli_is_opt(a, "--out", "-o")) {
            if (!(out_path = cli_opt_value(argc, argv, &i, "--out"))) return CLI_USAGE;
        } else if (!strcmp(a, "--fail-fast")) {
            fail_fast = true;
        } else if (!strcmp(a, "--stats")) {
            stats = true;
        } else if (!strcmp(a, "--schema")) {
            schema = true;
        } else if (!strcmp(a, "--omit-nulls")) {
            wflags |= FL_VIEW_W_OMIT_NULLS;
        } else if (!strcmp(a, "--no-header")) {
            wflags |= FL_VIEW_W_NO_HEADER;
        } else if (!strcmp(a, "--temporal-as-string")) {
            vflags |= FL_VIEW_TEMPORAL_AS_STRING;
        } else if (!strcmp(a, "--decimal-as-string")) {
            vflags |= FL_VIEW_DECIMAL_AS_STRING;
        } else if (a[0] == '-' && a[1] != 0) {
            cli_errorf("run: unknown option '%s' (see 'fhirlake run --help')", a);
            return CLI_USAGE;
        } else {
            if (ninputs == MAX_INPUTS) {
                cli_errorf("run: more than %d inputs", MAX_INPUTS);
                return CLI_USAGE;
            }
            inputs[ninputs++] = a;
        }
    }
    fl_view_format fmt;
    if (!view_path) {
        cli_errorf("run: --view is required (see 'fhirlake run --help')");
        return CLI_USAGE;
    }
    if (!fl_view_format_parse(fmt_name, &fmt)) {
        cli_errorf("run: unknown format '%s' (ndjson, csv or json)", fmt_name);
        return CLI_USAGE;
    }
    if (ninputs == 0) inputs[ninputs++] = "-";

    fl_err err;
    fl_buf text;
    fl_buf_init(&text, 0);
    fl_rc rc = fl_file_read(view_path, FL_VIEW_MAX_VIEW_BYTES, &text, &err);
    if (rc) {
        cli_report(view_path, rc, &err);
        fl_buf_reset(&text);
        return CLI_FAILED;
    }
    fl_view_opts vo;
    fl_view_opts_default(&vo);
    vo.flags = vflags;
    fl_view_plan *plan = NULL;
    rc = fl_view_compile(text.ptr ? text.ptr : "", text.len, &vo, &plan, &err);
    fl_buf_reset(&text);
    if (rc) {
        if (err.line)
            fprintf(stderr, "fhirlake: %s:%u:%u: %s\n", view_path, (unsigned)err.line, (unsigned)err.col,
                    err.msg);
        else
            cli_report(view_path, rc, &err);
        return CLI_FAILED;
    }

    if (schema) {
        print_schema(plan);
        fl_view_plan_free(plan);
        return CLI_OK;
    }
    run_state st;
    memset(&st, 0, sizeof st);
    st.fail_fast = fail_fast;
    fl_buf_init(&st.out, 0);
    int status = CLI_FAILED;
    if ((rc = fl_view_ctx_new(plan, &st.ctx, &err)) ||
        (rc = fl_view_batch_new(plan, FLUSH_ROWS, &st.batch, &err))) {
        cli_report("run", rc, &err);
        goto done;
    }
    st.out_name = out_path ? out_path : "<stdout>";
    st.fp = out_path ? fopen(out_path, "wb") : stdout;
    if (!st.fp) {
        cli_errorf("%s: cannot open for writing: %s", out_path, strerror(errno));
        goto done;
    }
    fl_view_writer_init(&st.w, plan, fmt, wflags);
    for (int i = 0; i < ninputs; i++)
        if (!run_input(&st, inputs[i])) break;
    if (!st.io_failed && flush_batch(&st)) {
        fl_view_writer_finish(&st.w, &st.out);
        flush_out(&st, true);
    }
    if (st.fp && fflush(st.fp) != 0) {
        cli_errorf("%s: write failed: %s", st.out_name, strerror(errno));
        st.io_failed = true;
    }
    if (stats || st.failed)
        fprintf(stderr, "fhirlake: run: %llu resources, %llu rows, %llu of other types, %llu failed\n",
                (unsigned long long)st.resources, (unsigned long long)st.rows,
                (unsigned long long)st.skipped, (unsigned long long)st.failed);
    status = st.failed || st.io_failed ? CLI_FAILED : CLI_OK;
done:
    if (st.fp && st.fp != stdout && fclose(st.fp) != 0 && status == CLI_OK) {
        cli_errorf("%s: close failed: %s", out_path, strerror(errno));
        status = CLI_FAILED;
    }
    fl_buf_reset(&st.out);
    fl_view_batch_free(st.batch);
    fl_view_ctx_free(st.ctx);
    fl_view_plan_free(plan);
    return status;
}
