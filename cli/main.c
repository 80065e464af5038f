/* main.c - entry point of the fhirlake program: dispatches to a subcommand (cli/).
 * Subcommands are listed once in commands.def. */
#include "cli.h"

#include <string.h>

typedef struct cli_cmd {
    const char *name;
    const char *summary;
    int (*fn)(int argc, char **argv);
} cli_cmd;

static const cli_cmd commands[] = {
#define X(name, summary) {#name, summary, cmd_##name},
#include "commands.def"
#undef X
};

static void usage(FILE *out)
{
    fprintf(out, "fhirlake %s - FHIR data into analytics tables (SQL-on-FHIR views, Delta Lake)\n\n",
            FL_VERSION_STRING);
    fprintf(out, "usage: fhirlake <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'fhirlake <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(name, "--version")) name = "version";
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (!strcmp(commands[i].name, name)) return commands[i].fn(argc - 1, argv + 1);
    }
    cli_errorf("unknown command '%s' (see 'fhirlake --help')", name);
    return CLI_USAGE;
}
