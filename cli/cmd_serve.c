/* cmd_serve.c - `fhirlake serve`: run the FHIR server until SIGINT/SIGTERM (cli/).
 * Parses options into fl_server_opts, starts the server, blocks the signals in every
 * thread and waits for one with sigwait(), then stops the server gracefully. */
#include "cli.h"
#include "fhirlake/server.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fhirlake serve [options]\n\n"
            "Run a FHIR R4 JSON REST server (CRUD, history, search by _id/_lastUpdated,\n"
            "transaction/batch Bundles) backed by SQLite or PostgreSQL. Also GET /health and\n"
            "GET /metrics. Writes matching an AidboxSubscriptionTopic are queued for its\n"
            "AidboxTopicDestinations (see $status); delivery to Delta is not implemented yet.\n\n"
            "options:\n"
            "  --listen HOST:PORT     address to listen on (default 127.0.0.1:8080; port 0 = any)\n"
            "  --db URL               sqlite:PATH | sqlite::memory: | postgres://user@host/db\n"
            "                         (default sqlite:./data/fhirlake.db)\n"
            "  --base PATH            FHIR base path (default /fhir)\n"
            "  --auth MODE            none | basic | bearer (default none)\n"
            "  --auth-file F          basic: lines user:password; bearer: one token per line\n"
            "  --max-body-mb N        largest request body in MiB (default 16)\n"
            "  --threads N            worker threads (default: number of CPUs, at least 2)\n"
            "  --insecure             allow a non-loopback address without --auth\n"
            "  -v, --verbose          log every request to stderr\n"
            "  -h, --help             this help\n");
}

int cmd_serve(int argc, char **argv)
{
    fl_server_opts o;
    fl_server_opts_default(&o);
    int level = FL_LOG_WARN;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (cli_is_opt(a, "--help", "-h")) {
            usage(stdout);
            return CLI_OK;
        } else if (cli_is_opt(a, "--listen", NULL)) {
            if (!(o.listen = cli_opt_value(argc, argv, &i, "--listen"))) return CLI_USAGE;
        } else if (cli_is_opt(a, "--db", NULL)) {
            if (!(o.db_url = cli_opt_value(argc, argv, &i, "--db"))) return CLI_USAGE;
        } else if (cli_is_opt(a, "--base", NULL)) {
            if (!(o.base = cli_opt_value(argc, argv, &i, "--base"))) return CLI_USAGE;
        } else if (cli_is_opt(a, "--auth-file", NULL)) {
            if (!(o.auth_file = cli_opt_value(argc, argv, &i, "--auth-file"))) return CLI_USAGE;
        } else if (cli_is_opt(a, "--auth", NULL)) {
            if (!(v = cli_opt_value(argc, argv, &i, "--auth"))) return CLI_USAGE;
            if (!strcmp(v, "none"))
                o.auth = FL_SERVER_AUTH_NONE;
            else if (!strcmp(v, "basic"))
                o.auth = FL_SERVER_AUTH_BASIC;
            else if (!strcmp(v, "bearer"))
                o.auth = FL_SERVER_AUTH_BEARER;
            else {
                cli_errorf("--auth must be none, basic or bearer (got '%s')", v);
                return CLI_USAGE;
            }
        } else if (cli_is_opt(a, "--max-body-mb", NULL) || cli_is_opt(a, "--threads", NULL)) {
            bool body = cli_is_opt(a, "--max-body-mb", NULL);
            if (!(v = cli_opt_value(argc, argv, &i, body ? "--max-body-mb" : "--threads"))) return CLI_USAGE;
            int64_t n = 0;
            if (!fl_parse_i64(fl_str_c(v), &n) || n < 1 || n > (body ? 4096 : 1024)) {
                cli_errorf("%s: expected a number between 1 and %d (got '%s')", body ? "--max-body-mb" : "--threads",
                           body ? 4096 : 1024, v);
                return CLI_USAGE;
            }
            if (body)
                o.max_body = (size_t)n << 20;
            else
                o.threads = (unsigned)n;
        } else if (cli_is_opt(a, "--insecure", NULL)) {
            o.insecure = true;
        } else if (cli_is_opt(a, "--verbose", "-v")) {
            level = FL_LOG_INFO;
        } else {
            cli_errorf("serve: unknown option '%s' (see 'fhirlake serve --help')", a);
            return CLI_USAGE;
        }
    }
    o.log = (fl_logger){cli_log_stderr, NULL, level};

    /* Block the stop signals before any thread exists so only sigwait() sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    fl_server *srv = NULL;
    fl_err err;
    fl_err_clear(&err);
    fl_rc rc = fl_server_new(&o, &srv, &err);
    if (rc) {
        cli_report("serve", rc, &err);
        return rc == FL_E_CONFIG ? CLI_USAGE : CLI_FAILED;
    }
    rc = fl_server_start(srv, &err);
    if (rc) {
        cli_report("serve", rc, &err);
        fl_server_free(srv);
        return CLI_FAILED;
    }
    const char *host = o.listen;
    char hbuf[300];
    const char *colon = strrchr(host, ':');
    snprintf(hbuf, sizeof hbuf, "%.*s", colon ? (int)(colon - host) : (int)strlen(host), host);
    fprintf(stderr, "fhirlake: serving http://%s:%u%s (store %s)\n", hbuf, (unsigned)fl_server_port(srv),
            o.base, o.db_url);
    fflush(stderr);
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "fhirlake: %s received, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    fl_server_free(srv);
    return CLI_OK;
}
