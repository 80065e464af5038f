/* cmd_check.c - `fhirlake check FILE...`: validate JSON and NDJSON files (cli/).
 * `.json` / `.json.gz` files are one JSON text; everything else (".ndjson", ".ndjson.gz",
 * "-" for stdin, any other name) is NDJSON, one record per line. Bad records are printed
 * as `file:line:col: message`, then a count per file and in total (or all of it as one
 * JSON report with --json). Exit 0 if everything is valid, 1 if not, 2 on usage error. */
#include "cli.h"

#include "fhirlake/json.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Largest single-document .json file checked (read whole into memory). */
#define CHECK_MAX_DOC_BYTES ((size_t)2 << 30)

typedef struct check_opts {
    bool json, fhir, quiet;
    uint32_t parse_flags;
    uint64_t max_errors; /* 0 = no cap */
    int format;          /* 0 = by file name, 'j' = one document, 'n' = NDJSON */
    size_t max_line;
} check_opts;

typedef struct check_state {
    const check_opts *o;
    uint64_t printed, suppressed;
    uint64_t total_valid, total_invalid;
    unsigned files_failed; /* unreadable or corrupt files */
    fl_buf report;         /* --json output */
    fl_jw w;
} check_state;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fhirlake check [options] FILE...\n"
            "\n"
            "Validate JSON and NDJSON files. A name ending in .json or .json.gz is one JSON\n"
            "document; anything else (.ndjson, .ndjson.gz, '-' for stdin) is NDJSON, one\n"
            "record per line. Gzip input is detected by its magic bytes. Each bad record is\n"
            "printed as file:line:col: message, followed by valid/invalid counts.\n"
            "\n"
            "options:\n"
            "  --json            print the report as JSON on stdout\n"
            "  --fhir            also require every record to be an object with a string\n"
            "                    \"resourceType\" (FHIR resources, e.g. a bulk export)\n"
            "  --max-errors N    print at most N record errors in total (counts stay exact)\n"
            "  --allow-dupkeys   accept duplicate object keys (FHIR forbids them)\n"
            "  --format F        json (one document) or ndjson for every file, whatever its name\n"
            "  --max-line BYTES  longest NDJSON line accepted (default 64 MiB)\n"
            "  -q, --quiet       print only the totals\n"
            "  -h, --help        this help\n"
            "\n"
            "exit status: 0 all valid, 1 something invalid or unreadable, 2 usage error\n");
}

static bool ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    if (n < k) return false;
    for (size_t i = 0; i < k; i++)
        if (tolower((unsigned char)s[n - k + i]) != tolower((unsigned char)suffix[i])) return false;
    return true;
}

/* One bad record (or an unreadable file when line == 0). */
static void report_error(check_state *st, const char *file, uint64_t line, uint32_t col, uint64_t offset,
                         fl_rc rc, const char *msg)
{
    /* --max-errors caps record errors; a file that cannot be read is always reported */
    if (line && st->o->max_errors && st->printed >= st->o->max_errors) {
        st->suppressed++;
        return;
    }
    if (line) st->printed++;
    if (st->o->json) {
        fl_jw *w = &st->w;
        fl_jw_obj_begin(w);
        if (line) {
            fl_jw_key_c(w, "line");
            fl_jw_i64(w, (int64_t)line);
            fl_jw_key_c(w, "column");
            fl_jw_i64(w, col);
            fl_jw_key_c(w, "offset");
            fl_jw_i64(w, (int64_t)offset);
        }
        fl_jw_key_c(w, "code");
        fl_jw_str_c(w, fl_rc_name(rc));
        fl_jw_key_c(w, "message");
        fl_jw_str_c(w, msg);
        fl_jw_obj_end(w);
    } else if (!st->o->quiet) {
        if (line)
            printf("%s:%" PRIu64 ":%u: %s\n", file, line, col, msg);
        else
            printf("%s: %s\n", file, msg);
    }
}

/* The --fhir shape rule. Returns NULL if fine, else a message. */
static const char *fhir_shape_error(const fl_json_val *v)
{
    switch (v->type) {
    case FL_JSON_OBJECT: break;
    case FL_JSON_ARRAY: return "expected a FHIR resource (JSON object), found an array";
    case FL_JSON_STRING: return "expected a FHIR resource (JSON object), found a string";
    case FL_JSON_NUMBER: return "expected a FHIR resource (JSON object), found a number";
    default: return "expected a FHIR resource (JSON object), found a literal";
    }
    const fl_json_val *rt = fl_json_get_c(v, "resourceType");
    if (!rt) return "FHIR resource without \"resourceType\"";
    if (!fl_json_is_str(rt) || rt->len == 0) return "\"resourceType\" must be a non-empty string";
    return NULL;
}

static void file_begin(check_state *st, const char *file, const char *format)
{
    if (!st->o->json) return;
    fl_jw *w = &st->w;
    fl_jw_obj_begin(w);
    fl_jw_key_c(w, "file");
    fl_jw_str_c(w, file);
    fl_jw_key_c(w, "format");
    fl_jw_str_c(w, format);
    fl_jw_key_c(w, "errors");
    fl_jw_arr_begin(w);
}

static void file_end(check_state *st, const char *file, uint64_t valid, uint64_t invalid, bool readable)
{
    st->total_valid += valid;
    st->total_invalid += invalid;
    if (!readable) st->files_failed++;
    if (st->o->json) {
        fl_jw *w = &st->w;
        fl_jw_arr_end(w);
        fl_jw_key_c(w, "valid");
        fl_jw_i64(w, (int64_t)valid);
        fl_jw_key_c(w, "invalid");
        fl_jw_i64(w, (int64_t)invalid);
        fl_jw_key_c(w, "readable");
        fl_jw_bool(w, readable);
        fl_jw_obj_end(w);
    } else if (!st->o->quiet) {
        printf("%s: %" PRIu64 " valid, %" PRIu64 " invalid%s\n", file, valid, invalid,
               readable ? "" : " (file not fully read)");
    }
}

static void check_document(check_state *st, const char *file)
{
    fl_buf data;
    fl_buf_init(&data, 0);
    fl_err err;
    fl_err_clear(&err);
    uint64_t valid = 0, invalid = 0;
    bool readable = true;
    file_begin(st, file, "json");
    fl_rc rc = fl_json_read_file(file, CHECK_MAX_DOC_BYTES, &data, &err);
    if (rc) {
        report_error(st, file, 0, 0, 0, rc, err.msg[0] ? err.msg : fl_rc_str(rc));
        readable = false;
        goto done;
    }
    fl_arena a;
    fl_arena_init(&a, 256 * 1024, 0);
    fl_json_opts po = {.flags = st->o->parse_flags};
    fl_json_val *v = NULL;
    rc = fl_json_parse(data.ptr ? data.ptr : "", data.len, &po, &a, &v, NULL, &err);
    if (rc) {
        char msg[FL_ERR_MSG_MAX + 128];
        snprintf(msg, sizeof msg, "%s", err.msg);
        /* a .json file holding one value per line is probably NDJSON */
        if (rc == FL_E_JSON_SYNTAX && err.line > 1 && strstr(err.msg, "expected end of input") &&
            err.pos > 0 && data.ptr[err.pos - 1] == '\n') {
            snprintf(msg, sizeof msg, "%s (more than one JSON value: if this is NDJSON, name it .ndjson)",
                     err.msg);
        }
        report_error(st, file, err.line, err.col, err.pos, rc, msg);
        invalid++;
    } else {
        const char *bad = st->o->fhir ? fhir_shape_error(v) : NULL;
        if (bad) {
            report_error(st, file, 1, 1, 0, FL_E_FHIR_INVALID, bad);
            invalid++;
        } else {
            valid++;
        }
    }
    fl_arena_fini(&a);
done:
    fl_buf_reset(&data);
    file_end(st, file, valid, invalid, readable);
}

static void check_ndjson(check_state *st, const char *file)
{
    uint64_t valid = 0, invalid = 0;
    bool readable = true;
    fl_err err;
    fl_err_clear(&err);
    const char *name = strcmp(file, "-") ? file : "<stdin>";
    file_begin(st, name, "ndjson");
    fl_ndjson_opts no = {.max_line = st->o->max_line};
    fl_ndjson_reader *r = NULL;
    fl_rc rc = fl_ndjson_open(file, &no, &r, &err);
    if (rc) {
        report_error(st, name, 0, 0, 0, rc, err.msg[0] ? err.msg : fl_rc_str(rc));
        file_end(st, name, 0, 0, false);
        return;
    }
    fl_arena a;
    fl_arena_init(&a, 256 * 1024, 0);
    fl_json_opts po = {.flags = st->o->parse_flags};
    for (;;) {
        fl_ndjson_line line;
        fl_err_clear(&err);
        rc = fl_ndjson_next(r, &line, &err);
        if (rc == FL_E_EOF) break;
        if (rc == FL_E_LIMIT) { /* over-long line: reported, skipped */
            report_error(st, name, err.line ? err.line : 0, 1, err.pos, rc, "line longer than --max-line (skipped)");
            invalid++;
            continue;
        }
        if (rc) {
            report_error(st, name, 0, 0, 0, rc, err.msg[0] ? err.msg : fl_rc_str(rc));
            readable = false;
            break;
        }
        fl_arena_reset(&a);
        fl_json_val *v = NULL;
        rc = fl_json_parse(line.text.ptr, line.text.len, &po, &a, &v, NULL, &err);
        if (rc) {
            report_error(st, name, line.line_no, err.col, line.offset + err.pos, rc, err.msg);
            invalid++;
            continue;
        }
        const char *bad = st->o->fhir ? fhir_shape_error(v) : NULL;
        if (bad) {
            report_error(st, name, line.line_no, 1, line.offset, FL_E_FHIR_INVALID, bad);
            invalid++;
            continue;
        }
        valid++;
    }
    fl_arena_fini(&a);
    fl_ndjson_close(r);
    file_end(st, name, valid, invalid, readable);
}

int cmd_check(int argc, char **argv)
{
    check_opts o = {0};
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_opt(a, "--help", "-h")) {
            usage(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "--")) {
            nfiles += argc - i - 1;
            break;
        } else if (cli_is_opt(a, "--json", NULL)) {
            o.json = true;
        } else if (cli_is_opt(a, "--fhir", NULL)) {
            o.fhir = true;
        } else if (cli_is_opt(a, "--quiet", "-q")) {
            o.quiet = true;
        } else if (cli_is_opt(a, "--allow-dupkeys", NULL)) {
            o.parse_flags |= FL_JSON_ALLOW_DUPKEYS;
        } else if (cli_is_opt(a, "--format", NULL)) {
            const char *v = cli_opt_value(argc, argv, &i, "--format");
            if (!v) return CLI_USAGE;
            if (!strcmp(v, "json")) {
                o.format = 'j';
            } else if (!strcmp(v, "ndjson")) {
                o.format = 'n';
            } else {
                cli_errorf("--format must be json or ndjson, got '%s'", v);
                return CLI_USAGE;
            }
        } else if (cli_is_opt(a, "--max-errors", NULL) || cli_is_opt(a, "--max-line", NULL)) {
            bool is_err = cli_is_opt(a, "--max-errors", NULL);
            const char *v = cli_opt_value(argc, argv, &i, is_err ? "--max-errors" : "--max-line");
            if (!v) return CLI_USAGE;
            char *end = NULL;
            unsigned long long n = strtoull(v, &end, 10);
            if (!*v || *end || v[0] == '-' || (!is_err && n == 0)) {
                cli_errorf("%s needs a %s number, got '%s'", is_err ? "--max-errors" : "--max-line",
                           is_err ? "non-negative" : "positive", v);
                return CLI_USAGE;
            }
            if (is_err)
                o.max_errors = n;
            else
                o.max_line = (size_t)n;
        } else if (a[0] == '-' && a[1] != 0) {
            cli_errorf("check: unknown option '%s' (see 'fhirlake check --help')", a);
            return CLI_USAGE;
        } else {
            nfiles++;
        }
    }
    if (nfiles == 0) {
        cli_errorf("check: no input files (see 'fhirlake check --help')");
        return CLI_USAGE;
    }

    check_state st = {.o = &o};
    fl_buf_init(&st.report, 0);
    fl_jw_init(&st.w, &st.report);
    if (o.json) {
        fl_jw_obj_begin(&st.w);
        fl_jw_key_c(&st.w, "files");
        fl_jw_arr_begin(&st.w);
    }
    bool opts_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!opts_done) {
            if (!strcmp(a, "--")) {
                opts_done = true;
                continue;
            }
            if (cli_is_opt(a, "--max-errors", NULL) || cli_is_opt(a, "--max-line", NULL) ||
                cli_is_opt(a, "--format", NULL)) {
                if (!strchr(a, '=')) i++;
                continue;
            }
            if (a[0] == '-' && a[1] != 0) continue;
        }
        bool doc = o.format ? o.format == 'j'
                            : strcmp(a, "-") && (ends_with_ci(a, ".json") || ends_with_ci(a, ".json.gz"));
        if (doc)
            check_document(&st, a);
        else
            check_ndjson(&st, a);
    }
    bool ok = st.total_invalid == 0 && st.files_failed == 0;
    if (o.json) {
        fl_jw *w = &st.w;
        fl_jw_arr_end(w);
        fl_jw_key_c(w, "valid");
        fl_jw_i64(w, (int64_t)st.total_valid);
        fl_jw_key_c(w, "invalid");
        fl_jw_i64(w, (int64_t)st.total_invalid);
        fl_jw_key_c(w, "unreadable_files");
        fl_jw_i64(w, st.files_failed);
        fl_jw_key_c(w, "errors_not_shown");
        fl_jw_i64(w, (int64_t)st.suppressed);
        fl_jw_key_c(w, "ok");
        fl_jw_bool(w, ok);
        fl_jw_obj_end(w);
        fl_buf_putc(&st.report, '\n');
        if (st.report.rc) {
            cli_report("check", st.report.rc, NULL);
            fl_buf_reset(&st.report);
            return CLI_FAILED;
        }
        fwrite(st.report.ptr, 1, st.report.len, stdout);
    } else {
        if (st.suppressed)
            printf("(%" PRIu64 " more errors not shown; see --max-errors)\n", st.suppressed);
        printf("total: %" PRIu64 " valid, %" PRIu64 " invalid in %d file%s%s\n", st.total_valid,
               st.total_invalid, nfiles, nfiles == 1 ? "" : "s",
               st.files_failed ? " (some files could not be read)" : "");
    }
    fl_buf_reset(&st.report);
    return ok ? CLI_OK : CLI_FAILED;
}
