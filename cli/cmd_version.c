/* cmd_version.c - `fhirlake version` (cli/). */
#include "cli.h"

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("fhirlake %s\n", FL_VERSION_STRING);
    return CLI_OK;
}
