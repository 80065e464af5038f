/* cli.h - shared declarations for the fhirlake program (cli/).
 * The program is a thin layer: it parses arguments, calls the public API in
 * include/fhirlake/, and decides what reaches the terminal. */
#ifndef FL_CLI_H
#define FL_CLI_H

#include "fhirlake/base.h"

#include <stdbool.h>
#include <stdio.h>

#define X(name, summary) int cmd_##name(int argc, char **argv);
#include "commands.def"
#undef X

/* Exit codes shared by all commands. */
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

/* Print "fhirlake: <fmt>" to stderr. */
void cli_errorf(const char *fmt, ...) FL_PRINTF(1, 2);
/* Print an fl_err as "fhirlake: <context>: <msg>" to stderr. */
void cli_report(const char *context, fl_rc rc, const fl_err *err);
/* Log callback writing to stderr ("fhirlake: warn: ..."). */
void cli_log_stderr(void *ctx, int level, const char *msg);
/* True if argv[i] equals long or short option name. */
bool cli_is_opt(const char *arg, const char *lng, const char *shrt);
/* Fetch the value of an option that takes one ("--out F" or "--out=F"). Advances *i.
 * Returns NULL (after printing a usage error) if missing. */
const char *cli_opt_value(int argc, char **argv, int *i, const char *name);
/* true when stderr is a terminal (for progress bars). */
bool cli_stderr_is_tty(void);

#endif
