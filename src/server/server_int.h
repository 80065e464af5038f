/* server_int.h - private declarations of the server module (FHIR REST over fhirdb).
 * A request flows: transport (server_core.c, libmicrohttpd) -> fl_server_handle
 * (server_route.c: target/query parsing, auth, dispatch) -> interactions (server_rest.c)
 * or Bundles (server_bundle.c); helpers for OperationOutcome, URLs, dates and the list of
 * resource types live in server_util.c. Every request has its own arena. */
#ifndef FL_SERVER_INT_H
#define FL_SERVER_INT_H

#include "fhirlake/fhirdb.h"
#include "fhirlake/json.h"
#include "fhirlake/os.h"
#include "fhirlake/server.h"

#include <stdatomic.h>

#include <pthread.h>

struct MHD_Daemon;
typedef struct srv_registry srv_registry;
typedef struct srv_worker srv_worker;

/* One active AidboxTopicDestination in the registry (server_events.c). */
typedef struct srv_dest {
    char *id;
    char *topic_url;
    char *kind;
    char *body;         /* the stored resource JSON (delivery workers parse their parameters) */
    bool full_resource; /* content full-resource (default); id-only/empty carry no payload */
    bool lakehouse;     /* kind data-lakehouse-at-least-once: delivered by a worker (server_deliver.c) */
} srv_dest;

struct srv_registry {
    struct srv_topic *topics;
    size_t ntopics;
    srv_dest *dests;
    size_t ndests;
};

#define SRV_LAT_BUCKETS 10 /* request latency histogram buckets (+Inf is the count) */

/* Counters for /metrics; updated with relaxed atomics by every worker thread. */
typedef struct srv_metrics {
    atomic_uint_fast64_t by_status[600];
    atomic_uint_fast64_t lat_bucket[SRV_LAT_BUCKETS];
    atomic_uint_fast64_t lat_sum_us;
    atomic_uint_fast64_t requests;
} srv_metrics;

struct fl_server {
    fl_server_opts opts; /* string fields point at the owned copies below */
    char *listen, *db_url, *base, *auth_file;
    char host[256];
    uint16_t port_req;
    fl_fhirdb *db;
    char **creds; /* basic: "user:password"; bearer: tokens */
    size_t ncreds;
    struct MHD_Daemon *mhd;
    uint16_t port;
    int64_t start_us;
    srv_metrics metrics;
    pthread_rwlock_t reg_lock; /* guards reg */
    srv_registry *reg;         /* active topics and destinations (server_events.c) */
    atomic_bool reg_dirty;     /* a topic/destination changed: reload after the request */
    bool reg_lock_init;
    /* periodic registry refresh (picks up other replicas' changes) */
    pthread_t refresher;
    bool refresher_running;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping;
    /* delivery workers (server_deliver.c) */
    pthread_mutex_t work_mu; /* guards workers and each worker's status fields */
    srv_worker *workers;
    srv_worker *jobs;        /* $viewdefinition-export jobs (same struct, no queue) */
    bool delivery_on;        /* set by fl_server_start: sync starts workers */
    /* delivery wake-up: the write hook counts the events it enqueues for lakehouse
     * destinations (enq_events); after each request srv_deliver_poke() wakes the workers
     * once the count reaches wake_at, the lowest count a waiting worker needs for a full
     * batch (UINT64_MAX: nobody waits). The 50 ms outbox poll stays as the fallback (other
     * replicas' writes are not counted here). */
    atomic_uint_fast64_t enq_events;
    atomic_uint_fast64_t wake_at;
    pthread_mutex_t wake_mu;
    pthread_cond_t wake_cv; /* CLOCK_MONOTONIC */
    char owner[64];          /* this process's lease owner id */
};

typedef struct srv_param {
    fl_str name, value; /* percent-decoded, in the request arena */
} srv_param;

/* One request being handled. */
typedef struct srv_req {
    fl_server *srv;
    fl_arena *a;
    const fl_server_req *req;
    fl_server_resp *resp;
    fl_fhirdb_conn *c;   /* acquired lazily by srv_conn() */
    fl_str base_url;     /* "http://host:port/fhir" for fullUrl and links */
    srv_param params[FL_SERVER_MAX_QUERY_PARAMS];
    size_t nparams;
    int prefer;          /* SRV_PREFER_* */
    bool strict;         /* Prefer: handling=strict (unknown parameters are errors) */
    fl_str correlation_id; /* X-Topic-Correlation-Id, stored with topic events */
    int check_status;    /* status for a srv_check_special message (0 = 400) */
} srv_req;

enum { SRV_PREFER_DEFAULT = 0, SRV_PREFER_MINIMAL, SRV_PREFER_REPRESENTATION, SRV_PREFER_OUTCOME };

/* server_util.c */
bool srv_known_type(fl_str type);
size_t srv_known_type_count(void);
const char *srv_known_type_at(size_t i);
fl_str srv_header(const fl_server_req *req, const char *name);
void srv_add_header(srv_req *r, const char *name, fl_str value);
void srv_add_header_c(srv_req *r, const char *name, const char *value);
/* Set status and an OperationOutcome body (issue code derived from the status). */
void srv_outcome(srv_req *r, int status, const char *fmt, ...) FL_PRINTF(3, 4);
/* Write an OperationOutcome object into a JSON writer (for Bundle entries). */
void srv_outcome_json(fl_jw *w, int status, const char *severity, const char *msg);
/* Clear r's response body and start a FHIR resource of type resource_type in it, written with w:
 * the object is open and its "resourceType" written; the caller writes the rest and closes it. */
void srv_json_resource(srv_req *r, fl_jw *w, const char *resource_type);
const char *srv_issue_code(int status);
const char *srv_reason(int status);
/* HTTP status for a failed store call. */
int srv_status_for(fl_rc rc, const fl_err *err);
/* "Sun, 06 Nov 1994 08:49:37 GMT" into out (>= 32 bytes). */
size_t srv_http_date(int64_t us, char *out, size_t cap);
fl_str srv_pct_decode(fl_arena *a, fl_str s, bool plus_is_space);
void srv_pct_encode(fl_buf *out, fl_str s);
fl_rc srv_conn(srv_req *r, fl_err *err);
/* Parse a request body as JSON; on failure sets a 400 OperationOutcome with line/column. */
const fl_json_val *srv_parse_body(srv_req *r, fl_str body, const char *what);
/* Set ETag, Last-Modified and (when loc) Location for a stored version. */
void srv_version_headers(srv_req *r, const fl_fhirdb_rec *rec, bool loc);
void srv_set_json_body(srv_req *r, int status, fl_str json);

/* server_route.c: parse a query string (or form body) into r->params. */
bool srv_parse_query(srv_req *r, fl_str q);

/* server_rest.c */
void srv_route_type(srv_req *r, fl_str method, fl_str type, fl_str id, fl_str hist, fl_str vid,
                    int nseg);
/* Reply with an OperationOutcome for a failed store call. */
void srv_store_fail(srv_req *r, fl_rc rc, const fl_err *err, const char *what);
/* Acquire the request's DB connection; on failure replies 503/500 and returns false. */
bool srv_get_conn(srv_req *r);

/* server_metrics.c */
void srv_metrics_record(fl_server *srv, int status, uint64_t ns);
void srv_metrics_reply(srv_req *r);

/* server_query.c */
void srv_history(srv_req *r, fl_str type, fl_str id);
void srv_search(srv_req *r, fl_str type);
void srv_capability(srv_req *r);
/* Validate a resource body for `type` (and `id` for PUT). Returns a message or NULL. */
const char *srv_check_resource(srv_req *r, const fl_json_val *res, fl_str type, fl_str id,
                               bool is_put);
/* If-Match: W/"3" -> 3; 0 when absent; -1 when malformed. */
int64_t srv_if_match(fl_str v);

/* server_topic.c: resource-specific rules (AidboxSubscriptionTopic/TopicDestination).
 * Returns a message (arena) or NULL. */
const char *srv_check_special(srv_req *r, fl_str type, const fl_json_val *res);
/* Types whose instances cannot be updated (PUT -> 405). */
bool srv_immutable_type(fl_str type);

/* server_events.c: topic registry, outbox enqueue in the write hook, $status. */
fl_rc srv_events_reload(fl_server *srv, fl_fhirdb_conn *c, fl_err *err);
void srv_events_free(fl_server *srv);
fl_rc srv_events_hook(void *ctx, fl_fhirdb_conn *c, const fl_fhirdb_event *ev, fl_err *err);
void srv_dest_status(srv_req *r, fl_str id);
#define SRV_REGISTRY_REFRESH_MS 5000 /* reload topics/destinations this often (other replicas) */
/* Start/stop the thread that reloads the registry every SRV_REGISTRY_REFRESH_MS. */
fl_rc srv_events_start(fl_server *srv, fl_err *err);
void srv_events_stop(fl_server *srv);

/* server_lake.c: data-lakehouse-at-least-once parameters. */
typedef struct srv_lake_cfg {
    char view[256];          /* viewDefinition: the ViewDefinition's name */
    char table[2048];        /* tablePath */
    uint32_t batch_size;     /* batchSize (default 1000) */
    uint32_t send_interval_ms; /* sendIntervalMs (default 5000) */
    bool skip_initial;       /* skipInitialExport */
    bool add_columns;        /* schemaEvolution=add-columns */
    uint64_t target_file_size; /* targetFileSizeMb */
    char region[64], akid[256], secret[512], endpoint[512];
} srv_lake_cfg;
/* Parse and check the parameters of a lakehouse destination. Returns NULL or a message
 * (arena). */
const char *srv_lake_parse(fl_arena *a, const fl_json_val *res, srv_lake_cfg *cfg);
/* Create-time checks that need the store: the topic exists, the view exists. */
const char *srv_lake_check_refs(srv_req *r, const fl_json_val *res, bool lakehouse);

/* server_deliver.c: one worker thread per lakehouse destination. */
void srv_deliver_sync(fl_server *srv);  /* start/stop workers to match the registry */
void srv_deliver_stop_all(fl_server *srv);
void srv_deliver_poke(fl_server *srv);  /* after a request: wake workers a full batch waits for */
void srv_deliver_status(srv_req *r, fl_str id, int64_t queued, fl_jw *w); /* $status parameters */
void srv_deliver_metrics(srv_req *r, fl_buf *b);
/* ViewDefinition/$viewdefinition-export (nseg 2: kick-off) and .../status/<job> (nseg 4). */
void srv_vdexport(srv_req *r, fl_str method, int nseg, fl_str hist, fl_str job);
/* POST ViewDefinition/<id>/$materialize (type=table, tablePath): synchronous export. */
void srv_materialize(srv_req *r, fl_str id);

/* server_bundle.c */
void srv_bundle(srv_req *r);

#endif
