/* cli_util.c - small helpers shared by the subcommands (cli/). */
#include "cli.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

void cli_errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fhirlake: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_report(const char *context, fl_rc rc, const fl_err *err)
{
    const char *msg = err && err->msg[0] ? err->msg : fl_rc_str(rc);
    /* Library messages usually name the file or table already; don't say it twice. */
    if (context && *context && !strstr(msg, context))
        fprintf(stderr, "fhirlake: %s: %s\n", context, msg);
    else
        fprintf(stderr, "fhirlake: %s\n", msg);
}

void cli_log_stderr(void *ctx, int level, const char *msg)
{
    (void)ctx;
    static const char *names[] = {"error", "warn", "info", "debug"};
    fprintf(stderr, "fhirlake: %s: %s\n", names[level < 0 ? 0 : level > 3 ? 3 : level], msg);
}

bool cli_is_opt(const char *arg, const char *lng, const char *shrt)
{
    if (lng) {
        size_t n = strlen(lng);
        if (!strncmp(arg, lng, n) && (arg[n] == 0 || arg[n] == '=')) return true;
    }
    return shrt && !strcmp(arg, shrt);
}

const char *cli_opt_value(int argc, char **argv, int *i, const char *name)
{
    const char *a = argv[*i];
    const char *eq = strchr(a, '=');
    if (a[0] == '-' && a[1] == '-' && eq) return eq + 1;
    if (*i + 1 >= argc) {
        cli_errorf("option %s needs a value", name);
        return NULL;
    }
    (*i)++;
    return argv[*i];
}

bool cli_stderr_is_tty(void) { return isatty(2) != 0; }
