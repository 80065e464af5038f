/* fuzz_http.c - libFuzzer target for the REST request path without a socket: the input is
 * "METHOD TARGET\n" + header lines "Name: value\n" + "\n" + body, fed to fl_server_handle()
 * on a server with an in-memory SQLite store. Checks that every request gets a status in
 * 100..599 and that a JSON response body is an object. */
#include "fhirlake/server.h"

#include <stdlib.h>
#include <string.h>

static fl_server *srv;

static fl_server *get_server(void)
{
    if (srv) return srv;
    fl_server_opts o;
    fl_server_opts_default(&o);
    o.db_url = "sqlite::memory:";
    o.max_body = 1 << 16;
    fl_err err;
    if (fl_server_new(&o, &srv, &err) != FL_OK) abort();
    return srv;
}

static size_t line_end(const char *p, size_t n, size_t i)
{
    while (i < n && p[i] != '\n') i++;
    return i;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fl_server *s = get_server();
    const char *p = (const char *)data;
    size_t e = line_end(p, size, 0);
    const char *sp = memchr(p, ' ', e);
    fl_str method = sp ? fl_str_make(p, (size_t)(sp - p)) : fl_str_make(p, e);
    fl_str target = sp ? fl_str_make(sp + 1, e - (size_t)(sp + 1 - p)) : FL_STR("/fhir/metadata");
    fl_server_hdr hdrs[16];
    size_t nh = 0;
    size_t i = e < size ? e + 1 : size;
    while (i < size) {
        size_t le = line_end(p, size, i);
        if (le == i) {
            i++;
            break;
        }
        const char *colon = memchr(p + i, ':', le - i);
        if (colon && nh < 16) {
            const char *v = colon + 1;
            while (v < p + le && *v == ' ') v++;
            hdrs[nh].name = fl_str_make(p + i, (size_t)(colon - (p + i)));
            hdrs[nh].value = fl_str_make(v, (size_t)(p + le - v));
            nh++;
        }
        i = le < size ? le + 1 : size;
    }
    fl_server_req req = {.method = method, .target = target, .headers = hdrs, .nheaders = nh,
                         .body = fl_str_make(p + i, size - i)};
    fl_arena a;
    fl_arena_init(&a, 0, 64u << 20);
    fl_server_resp resp;
    fl_server_handle(s, &req, &a, &resp);
    if (resp.status < 100 || resp.status > 599) abort();
    if (resp.status != 204 && resp.body.len == 0 && !(resp.status == 201 || resp.status == 200)) abort();
    bool json = false;
    for (size_t k = 0; k < resp.nheaders; k++)
        if (fl_str_eq_c(resp.headers[k].name, "Content-Type"))
            json = fl_str_starts_with(resp.headers[k].value, FL_STR("application/fhir+json"));
    if (resp.body.len && json && resp.body.ptr[0] != '{') abort();
    fl_buf_reset(&resp.body);
    fl_arena_fini(&a);
    return 0;
}
