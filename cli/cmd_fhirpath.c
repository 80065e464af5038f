/* cmd_fhirpath.c - `fhirlake fhirpath EXPR [--input FILE] [--var name=value]` (cli/).
 * Compiles one FHIRPath expression and prints its result collection as a JSON array:
 * once for a .json input (or no input), once per line for NDJSON. Compile errors show
 * the expression with a caret under the failing column. */
#include "cli.h"

#include "fhirlake/fhirpath.h"
#include "fhirlake/json.h"
#include "fhirlake/os.h"

#include <string.h>

#define CLI_FP_MAX_VARS 64

static void usage(FILE *out)
{
    fprintf(out, "usage: fhirlake fhirpath 'EXPR' [--input FILE.json|FILE.ndjson|-] [--var name=value]...\n"
                 "  Evaluates EXPR and prints the result collection as JSON. For NDJSON input (and\n"
                 "  stdin, '-') it prints one line per resource: the result array, or {\"error\": ...}\n"
                 "  when that resource fails (also reported on stderr; the exit status is then 1).\n"
                 "  --var values are JSON literals (12, true, \"text\") or plain text.\n");
}

static void show_caret(const char *expr, const fl_err *err)
{
    if (!err->col || strchr(expr, '\n')) return;
    fprintf(stderr, "  %s\n  %*s^\n", expr, (int)err->col - 1, "");
}

static bool is_ndjson(const char *path)
{
    size_t n = strlen(path);
    return (n >= 7 && !strcmp(path + n - 7, ".ndjson")) || (n >= 10 && !strcmp(path + n - 10, ".ndjson.gz")) ||
           !strcmp(path, "-");
}

/* Print one error as a JSON line {"error": "..."} (NDJSON mode keeps one output line
 * per input line). */
static void print_error_line(fl_buf *out, const char *msg)
{
    fl_buf_clear(out);
    fl_jw w;
    fl_jw_init(&w, out);
    fl_jw_obj_begin(&w);
    fl_jw_key_c(&w, "error");
    fl_jw_str_c(&w, msg);
    fl_jw_obj_end(&w);
    if (!out->rc) {
        fwrite(out->ptr, 1, out->len, stdout);
        fputc('\n', stdout);
    }
}

static int eval_print(const fl_fp_prog *p, const fl_json_val *res, const fl_fp_env *env0, fl_arena *a, fl_buf *out,
                      const char *where, bool error_lines)
{
    fl_err err;
    fl_err_clear(&err);
    fl_fp_env env = *env0;
    env.resource = res;
    fl_fp_coll col;
    fl_rc rc = fl_fp_eval(p, res, &env, a, &col, &err);
    if (rc) {
        cli_report(where, rc, &err);
        if (error_lines) print_error_line(out, err.msg[0] ? err.msg : fl_rc_str(rc));
        return CLI_FAILED;
    }
    fl_buf_clear(out);
    fl_jw w;
    fl_jw_init(&w, out);
    fl_fp_coll_write_json(&col, &w);
    if (out->rc) {
        cli_report(where, out->rc, NULL);
        return CLI_FAILED;
    }
    fwrite(out->ptr, 1, out->len, stdout);
    fputc('\n', stdout);
    return CLI_OK;
}

int cmd_fhirpath(int argc, char **argv)
{
    const char *expr = NULL, *input = NULL;
    const char *names[CLI_FP_MAX_VARS];
    const char *values[CLI_FP_MAX_VARS];
    size_t nvars = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_opt(argv[i], "--help", "-h")) {
            usage(stdout);
            return CLI_OK;
        } else if (cli_is_opt(argv[i], "--input", "-i")) {
            if (!(input = cli_opt_value(argc, argv, &i, "--input"))) return CLI_USAGE;
        } else if (cli_is_opt(argv[i], "--var", NULL)) {
            const char *v = cli_opt_value(argc, argv, &i, "--var");
            if (!v) return CLI_USAGE;
            const char *eq = strchr(v, '=');
            if (!eq || eq == v || nvars == CLI_FP_MAX_VARS) {
                cli_errorf("--var needs name=value (at most %d)", CLI_FP_MAX_VARS);
                return CLI_USAGE;
            }
            names[nvars] = v;
            values[nvars] = eq + 1;
            nvars++;
        } else if (argv[i][0] == '-' && argv[i][1] && !expr) {
            cli_errorf("unknown option '%s'", argv[i]);
            return CLI_USAGE;
        } else if (!expr) {
            expr = argv[i];
        } else {
            cli_errorf("unexpected argument '%s'", argv[i]);
            return CLI_USAGE;
        }
    }
    if (!expr) {
        usage(stderr);
        return CLI_USAGE;
    }

    int status = CLI_OK;
    fl_err err;
    fl_err_clear(&err);
    fl_arena vars_arena, a;
    fl_arena_init(&vars_arena, 0, 0);
    fl_arena_init(&a, 0, 0);
    fl_buf out, text;
    fl_buf_init(&out, 0);
    fl_buf_init(&text, 0);
    fl_fp_prog *p = NULL;
    fl_ndjson_reader *r = NULL;
    char *var_names[CLI_FP_MAX_VARS];
    fl_fp_coll var_vals[CLI_FP_MAX_VARS];
    for (size_t k = 0; k < nvars; k++) {
        const char *eq = strchr(names[k], '=');
        var_names[k] = fl_arena_strndup(&vars_arena, names[k], (size_t)(eq - names[k]));
        fl_fp_item *it = fl_arena_alloc(&vars_arena, sizeof *it);
        if (!var_names[k] || !it) {
            cli_errorf("out of memory");
            status = CLI_FAILED;
            goto done;
        }
        fl_json_val *jv = NULL;
        const char *val = values[k];
        if (fl_json_parse(val, strlen(val), NULL, &vars_arena, &jv, NULL, NULL) == FL_OK &&
            jv->type != FL_JSON_OBJECT && jv->type != FL_JSON_ARRAY && jv->type != FL_JSON_NULL)
            *it = fl_fp_item_from_json(jv, NULL);
        else
            *it = fl_fp_item_str(fl_str_c(val));
        var_vals[k] = fl_fp_coll_one(it);
    }

    fl_fp_opts o;
    fl_fp_opts_default(&o);
    o.vars = (const char *const *)var_names;
    o.nvars = nvars;
    fl_rc rc = fl_fp_compile(expr, SIZE_MAX, &o, &p, &err);
    if (rc) {
        cli_report("fhirpath", rc, &err);
        show_caret(expr, &err);
        status = CLI_FAILED;
        goto done;
    }
    fl_fp_env env;
    memset(&env, 0, sizeof env);
    env.vars = nvars ? var_vals : NULL;
    env.nvars = nvars;

    if (!input) {
        status = eval_print(p, NULL, &env, &a, &out, "fhirpath", false);
    } else if (is_ndjson(input)) {
        if ((rc = fl_ndjson_open(input, NULL, &r, &err))) {
            cli_report(input, rc, &err);
            status = CLI_FAILED;
            goto done;
        }
        fl_ndjson_line line;
        while ((rc = fl_ndjson_next(r, &line, &err)) == FL_OK) {
            char where[512];
            snprintf(where, sizeof where, "%s line %llu", input, (unsigned long long)line.line_no);
            fl_arena_reset(&a);
            fl_json_val *res;
            fl_err_clear(&err);
            if ((rc = fl_json_parse(line.text.ptr, line.text.len, NULL, &a, &res, NULL, &err))) {
                cli_report(where, rc, &err);
                print_error_line(&out, err.msg);
                status = CLI_FAILED;
                continue;
            }
            if (eval_print(p, res, &env, &a, &out, where, true) != CLI_OK) status = CLI_FAILED;
        }
        if (rc != FL_E_EOF) {
            cli_report(input, rc, &err);
            status = CLI_FAILED;
        }
    } else {
        fl_json_val *res;
        if ((rc = fl_file_read(input, 0, &text, &err)) ||
            (rc = fl_json_parse(text.ptr, text.len, NULL, &a, &res, NULL, &err))) {
            cli_report(input, rc, &err);
            status = CLI_FAILED;
            goto done;
        }
        status = eval_print(p, res, &env, &a, &out, input, false);
    }
done:
    if (r) fl_ndjson_close(r);
    fl_fp_prog_free(p);
    fl_buf_reset(&out);
    fl_buf_reset(&text);
    fl_arena_fini(&a);
    fl_arena_fini(&vars_arena);
    return status;
}
