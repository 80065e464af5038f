/* test_server.c - unit tests of the REST server (src/server) through the socket-free entry
 * fl_server_handle(): routing, status codes, headers, OperationOutcome messages, Bundles,
 * auth; plus configuration checks and one real start/stop with a raw-socket request. */
#include "fhirlake/server.h"
#include "testhelp.h"

#include "fhirlake/os.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static fl_server *S;
static fl_arena A;
static fl_server_resp R;

static int call(const char *method, const char *target, const char *body, const char *h1n, const char *h1v)
{
    fl_server_hdr h[2] = {{FL_STR("Host"), FL_STR("fhir.test")}, {fl_str_c(h1n), fl_str_c(h1v)}};
    fl_server_req req = {.method = fl_str_c(method),
                         .target = fl_str_c(target),
                         .headers = h,
                         .nheaders = h1n ? 2 : 1,
                         .body = fl_str_c(body)};
    fl_buf_reset(&R.body);
    fl_arena_reset(&A);
    fl_server_handle(S, &req, &A, &R);
    return R.status;
}

static bool body_has(const char *needle) { return R.body.ptr && strstr(R.body.ptr, needle) != NULL; }

static const char *hdr(const char *name)
{
    for (size_t i = 0; i < R.nheaders; i++)
        if (fl_str_eq_c(R.headers[i].name, name)) return fl_arena_strndup(&A, R.headers[i].value.ptr, R.headers[i].value.len);
    return "";
}

static void test_crud_routes(void)
{
    CHECK_EQ_INT(call("PUT", "/fhir/Patient/p1", "{\"resourceType\":\"Patient\",\"id\":\"p1\"}", NULL, NULL), 201);
    CHECK_EQ_STR(hdr("ETag"), "W/\"1\"");
    CHECK_EQ_STR(hdr("Location"), "http://fhir.test/fhir/Patient/p1/_history/1");
    CHECK(strstr(hdr("Content-Type"), "application/fhir+json") != NULL);
    CHECK_EQ_INT(call("GET", "/fhir/Patient/p1", "", NULL, NULL), 200);
    CHECK(body_has("\"versionId\":\"1\""));
    CHECK_EQ_INT(call("PUT", "/fhir/Patient/p1", "{\"resourceType\":\"Patient\",\"id\":\"p1\"}", "If-Match", "W/\"5\""),
                 412);
    CHECK(body_has("\"code\":\"conflict\""));
    CHECK_EQ_INT(call("PUT", "/fhir/Patient/p1", "{\"resourceType\":\"Patient\",\"id\":\"p1\"}", "If-Match", "\"1\""),
                 200);
    CHECK_EQ_STR(hdr("ETag"), "W/\"2\"");
    /* percent-encoded path and query */
    CHECK_EQ_INT(call("GET", "/fhir/Patient%2Fp1", "", NULL, NULL), 200);
    CHECK_EQ_INT(call("GET", "/fhir/Patient?_id=p1%2Cp2", "", NULL, NULL), 200);
    CHECK(body_has("\"total\":1"));
    CHECK_EQ_INT(call("DELETE", "/fhir/Patient/p1", "", NULL, NULL), 204);
    CHECK_EQ_INT(R.body.len, 0);
    CHECK_EQ_INT(call("GET", "/fhir/Patient/p1", "", NULL, NULL), 410);
    CHECK_EQ_INT(call("GET", "/fhir/Patient/p1/_history/2", "", NULL, NULL), 200);
    CHECK_EQ_INT(call("GET", "/fhir/Patient/p1/_history", "", NULL, NULL), 200);
    CHECK(body_has("\"method\":\"DELETE\""));
    CHECK_EQ_INT(call("POST", "/fhir/Patient", "{\"resourceType\":\"Patient\"}", "Prefer", "return=minimal"), 201);
    CHECK_EQ_INT(R.body.len, 0);
}

static void test_errors(void)
{
    CHECK_EQ_INT(call("POST", "/fhir/Patient", "{\"resourceType\":\"Patient\",\n\"a\":}", NULL, NULL), 400);
    CHECK(body_has("invalid JSON at line 2, column 5"));
    CHECK_EQ_INT(call("POST", "/fhir/Patient", "[1]", NULL, NULL), 400);
    CHECK(body_has("must be a JSON object"));
    CHECK_EQ_INT(call("POST", "/fhir/Patient", "{\"resourceType\":\"Observation\"}", NULL, NULL), 400);
    CHECK(body_has("does not match"));
    CHECK_EQ_INT(call("POST", "/fhir/Patient", "{\"resourceType\":\"Patient\",\"meta\":3}", NULL, NULL), 400);
    CHECK_EQ_INT(call("PUT", "/fhir/Patient/a", "{\"resourceType\":\"Patient\",\"id\":\"b\"}", NULL, NULL), 400);
    CHECK_EQ_INT(call("GET", "/fhir/Unicorn", "", NULL, NULL), 404);
    CHECK(body_has("unknown resource type 'Unicorn'"));
    CHECK_EQ_INT(call("GET", "/fhir/Patient/$validate", "", NULL, NULL), 404);
    CHECK(body_has("unknown operation"));
    CHECK_EQ_INT(call("GET", "/fhir/Patient/missing", "", NULL, NULL), 404);
    CHECK(body_has("not-found"));
    CHECK_EQ_INT(call("PATCH", "/fhir/Patient/x", "{}", NULL, NULL), 405);
    CHECK_EQ_INT(call("GET", "/elsewhere", "", NULL, NULL), 404);
    CHECK_EQ_INT(call("GET", "/fhir", "", NULL, NULL), 400);
    CHECK_EQ_INT(call("GET", "/fhir/Patient/a/b/c/d/e", "", NULL, NULL), 404);
    CHECK_EQ_INT(call("GET", "/fhir/Patient/a%00b", "", NULL, NULL), 400);
    CHECK_EQ_INT(call("POST", "/fhir/Patient", "<x/>", "Content-Type", "application/xml"), 415);
    CHECK_EQ_INT(call("GET", "/fhir/Patient?_lastUpdated=gt2024-13-01", "", NULL, NULL), 400);
    CHECK(body_has("invalid _lastUpdated"));
    char big[FL_SERVER_MAX_TARGET + 64];
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "/fhir/Patient?x=", 16);
    big[sizeof big - 1] = 0;
    CHECK_EQ_INT(call("GET", big, "", NULL, NULL), 414);
    fl_server_req req = {.method = FL_STR("POST"), .target = FL_STR("/fhir/Patient"), .body_too_large = true};
    fl_buf_reset(&R.body);
    fl_server_handle(S, &req, &A, &R);
    CHECK_EQ_INT(R.status, 413);
    /* header limits: 431 OperationOutcome naming the limit */
    static char hv[FL_SERVER_MAX_HEADER_BYTES + 16];
    memset(hv, 'v', sizeof hv - 1);
    CHECK_EQ_INT(call("GET", "/fhir/Patient", "", "X-Big", hv), 431);
    CHECK(body_has("\"code\":\"too-long\"") && body_has("larger than the limit of 32768 bytes"));
    fl_server_hdr many[FL_SERVER_MAX_HEADERS + 1];
    for (size_t i = 0; i < FL_SERVER_MAX_HEADERS + 1; i++) many[i] = (fl_server_hdr){FL_STR("X-A"), FL_STR("b")};
    fl_server_req mreq = {.method = FL_STR("GET"), .target = FL_STR("/fhir/Patient"), .headers = many,
                          .nheaders = FL_SERVER_MAX_HEADERS + 1};
    fl_buf_reset(&R.body);
    fl_arena_reset(&A);
    fl_server_handle(S, &mreq, &A, &R);
    CHECK_EQ_INT(R.status, 431);
    CHECK(body_has("101 request headers: more than the limit of 100"));
    mreq.nheaders = FL_SERVER_MAX_HEADERS; /* the transport kept 100 of 150 it saw */
    mreq.header_count = 150;
    fl_buf_reset(&R.body);
    fl_arena_reset(&A);
    fl_server_handle(S, &mreq, &A, &R);
    CHECK_EQ_INT(R.status, 431);
    mreq.header_count = 0;
    fl_buf_reset(&R.body);
    fl_arena_reset(&A);
    fl_server_handle(S, &mreq, &A, &R);
    CHECK_EQ_INT(R.status, 200);
    CHECK_EQ_INT(call("GET", "/health", "", NULL, NULL), 200);
    CHECK(body_has("\"status\":\"ok\""));
    CHECK_EQ_INT(call("GET", "/metrics", "", NULL, NULL), 200);
    CHECK(body_has("fhirlake_http_requests_total{code=\"404\"}"));
    CHECK(body_has("fhirlake_http_request_duration_seconds_bucket{le=\"+Inf\"}"));
    CHECK(body_has("fhirlake_store_info{backend=\"sqlite\"} 1"));
    CHECK(strncmp(hdr("Content-Type"), "text/plain", 10) == 0);
    CHECK_EQ_INT(call("GET", "/fhir/metadata", "", NULL, NULL), 200);
    CHECK(body_has("\"CapabilityStatement\""));
}

static void test_bundles(void)
{
    const char *tx =
        "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
        "{\"fullUrl\":\"urn:uuid:11111111-1111-4111-8111-111111111111\",\"resource\":{\"resourceType\":\"Patient\"},"
        "\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}},"
        "{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"ob1\",\"subject\":{\"reference\":"
        "\"urn:uuid:11111111-1111-4111-8111-111111111111\"}},\"request\":{\"method\":\"PUT\",\"url\":\"Observation/ob1\"}}]}";
    CHECK_EQ_INT(call("POST", "/fhir", tx, NULL, NULL), 200);
    CHECK(body_has("transaction-response"));
    CHECK_EQ_INT(call("GET", "/fhir/Observation/ob1", "", NULL, NULL), 200);
    CHECK(body_has("\"reference\":\"Patient/"));
    CHECK(!body_has("urn:uuid"));
    const char *bad =
        "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
        "{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"ob2\"},\"request\":{\"method\":\"PUT\",\"url\":\"Observation/ob2\"}},"
        "{\"request\":{\"method\":\"DELETE\",\"url\":\"Observation/ob1\",\"ifMatch\":\"W/\\\"9\\\"\"}}]}";
    CHECK_EQ_INT(call("POST", "/fhir", bad, NULL, NULL), 412);
    CHECK(body_has("entry[1]"));
    CHECK_EQ_INT(call("GET", "/fhir/Observation/ob2", "", NULL, NULL), 404);
    CHECK_EQ_INT(call("GET", "/fhir/Observation/ob1", "", NULL, NULL), 200);
    const char *batch =
        "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
        "{\"request\":{\"method\":\"GET\",\"url\":\"Observation/ob1\"}},"
        "{\"request\":{\"method\":\"PATCH\",\"url\":\"Observation/ob1\"}},{}]}";
    CHECK_EQ_INT(call("POST", "/fhir", batch, NULL, NULL), 200);
    CHECK(body_has("\"status\":\"200 OK\""));
    CHECK(body_has("unsupported request.method 'PATCH'"));
    CHECK(body_has("entry has no request"));
    CHECK_EQ_INT(call("POST", "/fhir", "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":{}}", NULL, NULL), 400);
}

static void test_topics(void)
{
    const char *topic = "{\"resourceType\":\"AidboxSubscriptionTopic\",\"url\":\"http://ex.org/t1\",\"status\":\"active\","
                        "\"trigger\":[{\"resource\":\"Patient\",\"supportedInteraction\":[\"create\",\"update\"],"
                        "\"fhirPathCriteria\":\"%current.active = true and %previous.exists().not()\"}]}";
    CHECK_EQ_INT(call("POST", "/fhir/AidboxSubscriptionTopic", topic, NULL, NULL), 201);
    const char *bad_crit = "{\"resourceType\":\"AidboxSubscriptionTopic\",\"url\":\"u\",\"status\":\"active\","
                           "\"trigger\":[{\"resource\":\"Patient\",\"fhirPathCriteria\":\"%current.where(\"}]}";
    CHECK_EQ_INT(call("POST", "/fhir/AidboxSubscriptionTopic", bad_crit, NULL, NULL), 400);
    CHECK(body_has("fhirPathCriteria does not compile"));
    const char *bad_var = "{\"resourceType\":\"AidboxSubscriptionTopic\",\"url\":\"u\",\"status\":\"active\","
                          "\"trigger\":[{\"resource\":\"Patient\",\"fhirPathCriteria\":\"%nope = 1\"}]}";
    CHECK_EQ_INT(call("POST", "/fhir/AidboxSubscriptionTopic", bad_var, NULL, NULL), 400);
    const char *bad_res = "{\"resourceType\":\"AidboxSubscriptionTopic\",\"url\":\"u\",\"status\":\"active\","
                          "\"trigger\":[{\"resource\":\"Dragon\"}]}";
    CHECK_EQ_INT(call("POST", "/fhir/AidboxSubscriptionTopic", bad_res, NULL, NULL), 400);
    CHECK(body_has("unknown resource type 'Dragon'"));
    CHECK_EQ_INT(call("POST", "/fhir/AidboxSubscriptionTopic",
                      "{\"resourceType\":\"AidboxSubscriptionTopic\",\"status\":\"active\",\"trigger\":[]}", NULL, NULL),
                 400);
    /* lakehouse destinations: parameters checked at create time (422 naming them) */
#define LH_DEST(params)                                                                                          \
    "{\"resourceType\":\"AidboxTopicDestination\",\"status\":\"active\",\"topic\":\"http://ex.org/t1\","             \
    "\"kind\":\"data-lakehouse-at-least-once\",\"parameter\":[" params "]}"
    CHECK_EQ_INT(call("POST", "/fhir/AidboxTopicDestination", LH_DEST("{\"name\":\"batchSize\",\"valueUnsignedInt\":100}"),
                      NULL, NULL),
                 422);
    CHECK(body_has("missing required parameters for data-lakehouse-at-least-once: viewDefinition, tablePath"));
#define LH_OK "{\"name\":\"viewDefinition\",\"valueString\":\"pv\"},{\"name\":\"tablePath\",\"valueString\":\"/tmp/x\"}"
    CHECK_EQ_INT(call("POST", "/fhir/AidboxTopicDestination", LH_DEST(LH_OK ",{\"name\":\"colour\",\"valueString\":\"red\"}"),
                      NULL, NULL),
                 422);
    CHECK(body_has("unknown parameters for data-lakehouse-at-least-once: colour"));
    CHECK_EQ_INT(call("POST", "/fhir/AidboxTopicDestination",
                      LH_DEST(LH_OK ",{\"name\":\"writeMode\",\"valueString\":\"managed-zerobus\"}"), NULL, NULL),
                 422);
    CHECK(body_has("writeMode 'managed-zerobus' is not supported yet"));
    CHECK_EQ_INT(call("POST", "/fhir/AidboxTopicDestination", LH_DEST(LH_OK ",{\"name\":\"batchSize\",\"valueInteger\":0}"),
                      NULL, NULL),
                 422);
    CHECK(body_has("batchSize must be an integer"));
    CHECK_EQ_INT(call("POST", "/fhir/AidboxTopicDestination", LH_DEST(LH_OK), NULL, NULL), 422);
    CHECK(body_has("no ViewDefinition named 'pv'"));
    CHECK_EQ_INT(call("POST", "/fhir/ViewDefinition",
                      "{\"resourceType\":\"ViewDefinition\",\"name\":\"pv\",\"resource\":\"Patient\",\"status\":\"active\","
                      "\"select\":[{\"column\":[{\"name\":\"id\",\"path\":\"id\"}]}]}",
                      NULL, NULL),
                 201);
    const char *dest = "{\"resourceType\":\"AidboxTopicDestination\",\"id\":\"d1\",\"status\":\"active\","
                       "\"topic\":\"http://ex.org/t1\",\"kind\":\"data-lakehouse-at-least-once\","
                       "\"parameter\":[{\"name\":\"batchSize\",\"valueUnsignedInt\":100}," LH_OK
                       ",{\"name\":\"writeMode\",\"valueString\":\"external-direct\"}]}";
    CHECK_EQ_INT(call("POST", "/fhir/AidboxTopicDestination", dest, NULL, NULL), 201);
    CHECK_EQ_INT(call("POST", "/fhir/AidboxTopicDestination",
                      "{\"resourceType\":\"AidboxTopicDestination\",\"status\":\"active\",\"topic\":\"http://ex.org/none\","
                      "\"kind\":\"kafka-at-least-once\"}",
                      NULL, NULL),
                 422);
    CHECK(body_has("no AidboxSubscriptionTopic with url 'http://ex.org/none'"));
    /* exports write to storage: refused without a started server (this test, the fuzzer) */
    CHECK_EQ_INT(call("POST", "/fhir/ViewDefinition/$viewdefinition-export", "{\"resourceType\":\"Parameters\"}", NULL,
                      NULL),
                 503);
    CHECK_EQ_INT(call("GET", "/fhir/ViewDefinition/$viewdefinition-export", "", NULL, NULL), 405);
    CHECK_EQ_INT(call("PUT", "/fhir/AidboxTopicDestination/d1", dest, NULL, NULL), 405);
    CHECK(body_has("immutable"));
    const char *bad_kind = "{\"resourceType\":\"AidboxTopicDestination\",\"status\":\"active\","
                           "\"topic\":\"t\",\"kind\":\"carrier-pigeon\"}";
    CHECK_EQ_INT(call("POST", "/fhir/AidboxTopicDestination", bad_kind, NULL, NULL), 400);
    CHECK(body_has("carrier-pigeon"));
    const char *tx = "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[{\"resource\":"
                     "{\"resourceType\":\"AidboxTopicDestination\",\"id\":\"d2\"},\"request\":{\"method\":\"PUT\","
                     "\"url\":\"AidboxTopicDestination/d2\"}}]}";
    CHECK_EQ_INT(call("POST", "/fhir", tx, NULL, NULL), 405);
}

static int64_t queued(const char *dest)
{
    fl_fhirdb_conn *c = NULL;
    fl_err err;
    int64_t n = -1;
    if (fl_fhirdb_acquire(fl_server_get_db(S), &c, &err) != FL_OK) return -1;
    if (fl_fhirdb_outbox_count(c, fl_str_c(dest), &n, &err) != FL_OK) n = -1;
    fl_fhirdb_release(fl_server_get_db(S), c);
    return n;
}

/* Writes matching a topic's trigger and fhirPathCriteria are queued for each destination
 * of that topic, in the write's transaction; deleting the destination purges its queue. */
static void test_events(void)
{
    const char *topic = "{\"resourceType\":\"AidboxSubscriptionTopic\",\"url\":\"http://ex.org/final-obs\","
                        "\"status\":\"active\",\"trigger\":[{\"resource\":\"Observation\","
                        "\"supportedInteraction\":[\"create\",\"update\"],"
                        "\"fhirPathCriteria\":\"%current.status = 'final'\"}]}";
    CHECK_EQ_INT(call("POST", "/fhir/AidboxSubscriptionTopic", topic, NULL, NULL), 201);
    const char *dest = "{\"resourceType\":\"AidboxTopicDestination\",\"id\":\"ev1\",\"status\":\"active\","
                       "\"topic\":\"http://ex.org/final-obs\",\"kind\":\"kafka-at-least-once\"}"; /* no worker: rows stay */
    CHECK_EQ_INT(call("PUT", "/fhir/AidboxTopicDestination/ev1", dest, NULL, NULL), 405); /* immutable, even to create */
    CHECK_EQ_INT(call("POST", "/fhir/AidboxTopicDestination", dest, NULL, NULL), 201);
    char did[64] = "";
    const char *idp = R.body.ptr ? strstr(R.body.ptr, "\"id\":\"") : NULL;
    if (idp) sscanf(idp + 6, "%63[^\"]", did);
    CHECK(did[0] != 0);
    CHECK_EQ_INT(queued(did), 0);
    CHECK_EQ_INT(call("PUT", "/fhir/Observation/e1", "{\"resourceType\":\"Observation\",\"id\":\"e1\",\"status\":\"final\"}",
                      "X-Topic-Correlation-Id", "trace-42"),
                 201);
    CHECK_EQ_INT(queued(did), 1);
    {
        fl_fhirdb_conn *c = NULL;
        fl_err err;
        fl_fhirdb_outbox_row *rows = NULL;
        size_t nr = 0;
        CHECK(fl_fhirdb_acquire(fl_server_get_db(S), &c, &err) == FL_OK);
        if (c) {
            CHECK(fl_fhirdb_outbox_claim(c, fl_str_c(did), 10, 1, &A, &rows, &nr, &err) == FL_OK);
            CHECK(nr == 1 && fl_str_eq_c(rows[0].correlation_id, "trace-42") && fl_str_eq_c(rows[0].id, "e1"));
            CHECK(nr == 1 && rows[0].payload.len > 0 && rows[0].op == FL_FHIRDB_CREATE);
            fl_fhirdb_release(fl_server_get_db(S), c);
        }
        fl_sleep_ms(2); /* the 1 ms lease expires, so the row counts as queued, unclaimed */
    }
    CHECK_EQ_INT(call("PUT", "/fhir/Observation/e2",
                      "{\"resourceType\":\"Observation\",\"id\":\"e2\",\"status\":\"preliminary\"}", NULL, NULL),
                 201);
    CHECK_EQ_INT(queued(did), 1); /* criteria false */
    CHECK_EQ_INT(call("PUT", "/fhir/Observation/e2", "{\"resourceType\":\"Observation\",\"id\":\"e2\",\"status\":\"final\"}",
                      NULL, NULL),
                 200);
    CHECK_EQ_INT(queued(did), 2);
    CHECK_EQ_INT(call("DELETE", "/fhir/Observation/e1", "", NULL, NULL), 204);
    CHECK_EQ_INT(queued(did), 2); /* delete is not a trigger interaction */
    CHECK_EQ_INT(call("PUT", "/fhir/Patient/e3", "{\"resourceType\":\"Patient\",\"id\":\"e3\"}", NULL, NULL), 201);
    CHECK_EQ_INT(queued(did), 2); /* other type */
    char path[128];
    snprintf(path, sizeof path, "/fhir/AidboxTopicDestination/%s/$status", did);
    CHECK_EQ_INT(call("GET", path, "", NULL, NULL), 200);
    CHECK(body_has("\"name\":\"messagesQueued\",\"valueInteger\":2"));
    /* a failing transaction enqueues nothing */
    const char *tx = "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
                     "{\"resource\":{\"resourceType\":\"Observation\",\"status\":\"final\"},\"request\":{\"method\":\"POST\",\"url\":\"Observation\"}},"
                     "{\"request\":{\"method\":\"GET\",\"url\":\"Observation/nope\"}}]}";
    CHECK_EQ_INT(call("POST", "/fhir", tx, NULL, NULL), 404);
    CHECK_EQ_INT(queued(did), 2);
    snprintf(path, sizeof path, "/fhir/AidboxTopicDestination/%s", did);
    CHECK_EQ_INT(call("DELETE", path, "", NULL, NULL), 204);
    CHECK_EQ_INT(queued(did), 0); /* purged with the delete */
    CHECK_EQ_INT(call("PUT", "/fhir/Observation/e4", "{\"resourceType\":\"Observation\",\"id\":\"e4\",\"status\":\"final\"}",
                      NULL, NULL),
                 201);
    CHECK_EQ_INT(queued(did), 0); /* the destination is gone */
    snprintf(path, sizeof path, "/fhir/AidboxTopicDestination/%s/$status", did);
    CHECK_EQ_INT(call("GET", path, "", NULL, NULL), 410);
    CHECK_EQ_INT(call("GET", "/fhir/AidboxTopicDestination/none/$status", "", NULL, NULL), 404);
}

static void test_config(void)
{
    fl_server_opts o;
    fl_server *s = NULL;
    fl_err err;
    fl_server_opts_default(&o);
    o.db_url = "sqlite::memory:";
    o.listen = "10.1.2.3:80";
    CHECK_EQ_INT(fl_server_new(&o, &s, &err), FL_E_CONFIG);
    CHECK(strstr(err.msg, "non-loopback") != NULL);
    o.listen = "nonsense";
    CHECK_EQ_INT(fl_server_new(&o, &s, &err), FL_E_CONFIG);
    o.listen = "127.0.0.1:99999";
    CHECK_EQ_INT(fl_server_new(&o, &s, &err), FL_E_CONFIG);
    o.listen = "127.0.0.1:0";
    o.auth = FL_SERVER_AUTH_BEARER;
    CHECK_EQ_INT(fl_server_new(&o, &s, &err), FL_E_CONFIG);
    o.auth_file = "/nonexistent/tokens";
    CHECK(fl_server_new(&o, &s, &err) != FL_OK);
    CHECK(s == NULL);
}

/* The write hook given in fl_server_opts sees every REST write, inside its transaction;
 * a hook failure turns the write into an error and nothing is stored. */
typedef struct hook_seen {
    int calls;
    fl_fhirdb_op last;
} hook_seen;

static fl_rc srv_hook(void *ctx, fl_fhirdb_conn *c, const fl_fhirdb_event *ev, fl_err *err)
{
    hook_seen *h = ctx;
    h->calls++;
    h->last = ev->op;
    if (fl_str_eq_c(ev->id, "refuse")) return fl_err_set(err, FL_E_INTERNAL, "hook refused the write");
    return fl_fhirdb_outbox_enqueue(c, FL_STR("d1"), ev, ev->current, NULL, err);
}

static void test_hook(void)
{
    hook_seen hs = {0};
    fl_server_opts o;
    fl_server_opts_default(&o);
    o.db_url = "sqlite::memory:";
    o.hook = srv_hook;
    o.hook_ctx = &hs;
    fl_server *saved = S;
    fl_err err;
    CHECK(fl_server_new(&o, &S, &err) == FL_OK);
    if (!S) {
        S = saved;
        return;
    }
    CHECK_EQ_INT(call("PUT", "/fhir/Patient/h1", "{\"resourceType\":\"Patient\",\"id\":\"h1\"}", NULL, NULL), 201);
    CHECK_EQ_INT(call("DELETE", "/fhir/Patient/h1", "", NULL, NULL), 204);
    CHECK(hs.calls == 2 && hs.last == FL_FHIRDB_DELETE);
    CHECK_EQ_INT(call("PUT", "/fhir/Patient/refuse", "{\"resourceType\":\"Patient\",\"id\":\"refuse\"}", NULL, NULL),
                 500);
    CHECK(body_has("hook refused the write"));
    CHECK_EQ_INT(call("GET", "/fhir/Patient/refuse", "", NULL, NULL), 404);
    fl_fhirdb_conn *c = NULL;
    int64_t n = -1;
    CHECK(fl_fhirdb_acquire(fl_server_get_db(S), &c, &err) == FL_OK);
    if (c) {
        CHECK(fl_fhirdb_outbox_count(c, FL_STR("d1"), &n, &err) == FL_OK);
        fl_fhirdb_release(fl_server_get_db(S), c);
    }
    CHECK_EQ_INT(n, 2);
    fl_buf_reset(&R.body);
    fl_server_free(S);
    S = saved;
}

/* Start on port 0 and fetch /health over a real socket. */
static void test_start_stop(void)
{
    fl_server_opts o;
    fl_server *s = NULL;
    fl_err err;
    fl_server_opts_default(&o);
    o.db_url = "sqlite::memory:";
    o.listen = "127.0.0.1:0";
    o.threads = 2;
    CHECK(fl_server_new(&o, &s, &err) == FL_OK);
    if (!s) return;
    CHECK(fl_server_start(s, &err) == FL_OK);
    uint16_t port = fl_server_port(s);
    CHECK(port != 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    const char *q = "GET /health HTTP/1.0\r\n\r\n";
    CHECK(write(fd, q, strlen(q)) == (ssize_t)strlen(q));
    char buf[2048] = {0};
    size_t got = 0;
    ssize_t n;
    while (got < sizeof buf - 1 && (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)n;
    close(fd);
    CHECK(strncmp(buf, "HTTP/1.0 200", 12) == 0 || strncmp(buf, "HTTP/1.1 200", 12) == 0);
    CHECK(strstr(buf, "\"status\":\"ok\"") != NULL);
    /* a header block over the limit: our 431 OperationOutcome (not libmicrohttpd's HTML)
     * while it fits the connection's memory; beyond that libmicrohttpd's own 431 */
    size_t sizes[2] = {FL_SERVER_MAX_HEADER_BYTES + 1000, FL_SERVER_CONN_MEMORY + 1000};
    for (int k = 0; k < 2; k++) {
        size_t hl = sizes[k];
        char *big = malloc(hl + 128);
        CHECK(big != NULL);
        if (!big) break;
        int hn = snprintf(big, 128, "GET /fhir/Patient HTTP/1.1\r\nHost: x\r\nX-Big: ");
        memset(big + hn, 'v', hl);
        memcpy(big + hn + hl, "\r\n\r\n", 4);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
        size_t off = 0, len = (size_t)hn + hl + 4;
        while (off < len && (n = write(fd, big + off, len - off)) > 0) off += (size_t)n;
        memset(buf, 0, sizeof buf);
        got = 0;
        while (got < sizeof buf - 1 && (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)n;
        close(fd);
        free(big);
        CHECK(strncmp(buf, "HTTP/1.1 431", 12) == 0);
        if (k == 0) {
            CHECK(strstr(buf, "\"resourceType\":\"OperationOutcome\"") != NULL);
            CHECK(strstr(buf, "larger than the limit of 32768 bytes") != NULL);
        }
    }
    { /* too many headers on a request with a body: our 431 before the body is read */
        char many[8192];
        int hn = snprintf(many, sizeof many, "POST /fhir/Patient HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n");
        for (int i = 0; i < FL_SERVER_MAX_HEADERS; i++) hn += snprintf(many + hn, sizeof many - (size_t)hn, "X-H%d: v\r\n", i);
        hn += snprintf(many + hn, sizeof many - (size_t)hn, "\r\n{}");
        fd = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
        CHECK(write(fd, many, (size_t)hn) == (ssize_t)hn);
        memset(buf, 0, sizeof buf);
        got = 0;
        while (got < sizeof buf - 1 && (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)n;
        close(fd);
        CHECK(strncmp(buf, "HTTP/1.1 431", 12) == 0);
        CHECK(strstr(buf, "\"resourceType\":\"OperationOutcome\"") != NULL);
        CHECK(strstr(buf, "102 request headers: more than the limit of 100") != NULL);
    }
    fl_server_stop(s);
    fl_server_stop(s); /* idempotent */
    fl_server_free(s);
}

/* One HTTP/1.0 exchange over a fresh socket; returns the status code (0 on failure). */
static int http_once(uint16_t port, const char *method, const char *path, const char *body, char *out, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return 0;
    }
    char req[1024];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nContent-Type: application/fhir+json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, strlen(body), body);
    if (n <= 0 || write(fd, req, (size_t)n) != n) {
        close(fd);
        return 0;
    }
    size_t got = 0;
    ssize_t k;
    while (got < cap - 1 && (k = read(fd, out + got, cap - 1 - got)) > 0) got += (size_t)k;
    out[got] = 0;
    close(fd);
    int status = 0;
    if (sscanf(out, "HTTP/1.%*d %d", &status) != 1) return 0;
    return status;
}

typedef struct client {
    uint16_t port;
    int ok;
} client;

static void *client_main(void *arg)
{
    client *c = arg;
    char buf[4096];
    for (int i = 0; i < 20; i++) {
        if (http_once(c->port, "PUT", "/fhir/Patient/shared", "{\"resourceType\":\"Patient\",\"id\":\"shared\"}", buf,
                      sizeof buf) / 100 != 2)
            continue;
        if (http_once(c->port, "GET", "/fhir/Patient/shared", "", buf, sizeof buf) == 200) c->ok++;
    }
    return NULL;
}

/* Four clients update and read one resource through the real server at once: every update
 * gets its own version (run under -fsanitize=thread as well; see SERVER.md). */
static void test_concurrent_clients(void)
{
    char dir[] = "/tmp/fl_srv_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char url[256];
    snprintf(url, sizeof url, "sqlite:%s/x.db", dir);
    fl_server_opts o;
    fl_server *s = NULL;
    fl_err err;
    fl_server_opts_default(&o);
    o.db_url = url;
    o.listen = "127.0.0.1:0";
    o.threads = 3;
    CHECK(fl_server_new(&o, &s, &err) == FL_OK);
    if (!s) return;
    CHECK(fl_server_start(s, &err) == FL_OK);
    client cs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        cs[i] = (client){fl_server_port(s), 0};
        pthread_create(&th[i], NULL, client_main, &cs[i]);
    }
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ok += cs[i].ok;
    }
    CHECK_EQ_INT(ok, 80);
    char buf[4096];
    CHECK_EQ_INT(http_once(fl_server_port(s), "GET", "/fhir/Patient/shared", "", buf, sizeof buf), 200);
    CHECK(strstr(buf, "\"versionId\":\"80\"") != NULL);
    fl_server_free(s);
    fl_rm_rf(dir, &err);
}

int main(void)
{
    fl_arena_init(&A, 0, 0);
    fl_buf_init(&R.body, 0);
    fl_server_opts o;
    fl_server_opts_default(&o);
    o.db_url = "sqlite::memory:";
    fl_err err;
    fl_rc rc = fl_server_new(&o, &S, &err);
    CHECK_MSG(rc == FL_OK, "%s", err.msg);
    if (S) {
        RUN(test_crud_routes);
        RUN(test_errors);
        RUN(test_bundles);
        RUN(test_hook);
        RUN(test_topics);
        RUN(test_events);
    }
    RUN(test_config);
    RUN(test_start_stop);
    RUN(test_concurrent_clients);
    fl_buf_reset(&R.body);
    fl_server_free(S);
    fl_arena_fini(&A);
    return testhelp_done();
}
