/* server_metrics.c - GET /metrics in the Prometheus text format (module server).
 * Every request updates relaxed atomic counters in its fl_server (by status code, and a
 * latency histogram); /metrics renders them with uptime and store facts. Counters are per
 * process: with several replicas, scrape each one. No locks on the request path. */
#include "server/server_int.h"

static const double lat_bounds[SRV_LAT_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                   0.025,  0.05,  0.1,    0.5,   2.5};

void srv_metrics_record(fl_server *srv, int status, uint64_t ns)
{
    srv_metrics *m = &srv->metrics;
    if (status >= 100 && status < 600) atomic_fetch_add_explicit(&m->by_status[status], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->requests, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->lat_sum_us, ns / 1000, memory_order_relaxed);
    double sec = (double)ns / 1e9;
    for (size_t i = 0; i < SRV_LAT_BUCKETS; i++) {
        if (sec <= lat_bounds[i]) {
            atomic_fetch_add_explicit(&m->lat_bucket[i], 1, memory_order_relaxed);
            break;
        }
    }
}

void srv_metrics_reply(srv_req *r)
{
    srv_metrics *m = &r->srv->metrics;
    fl_buf *b = &r->resp->body;
    fl_buf_clear(b);
    fl_buf_append_c(b, "# HELP fhirlake_http_requests_total HTTP requests answered, by status code.\n"
                       "# TYPE fhirlake_http_requests_total counter\n");
    for (int code = 100; code < 600; code++) {
        uint64_t n = atomic_load_explicit(&m->by_status[code], memory_order_relaxed);
        if (n) fl_buf_printf(b, "fhirlake_http_requests_total{code=\"%d\"} %llu\n", code, (unsigned long long)n);
    }
    fl_buf_append_c(b, "# HELP fhirlake_http_request_duration_seconds Time to handle a request (without "
                       "network transfer).\n# TYPE fhirlake_http_request_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t i = 0; i < SRV_LAT_BUCKETS; i++) {
        cum += atomic_load_explicit(&m->lat_bucket[i], memory_order_relaxed);
        fl_buf_printf(b, "fhirlake_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", lat_bounds[i],
                      (unsigned long long)cum);
    }
    uint64_t total = atomic_load_explicit(&m->requests, memory_order_relaxed);
    fl_buf_printf(b,
                  "fhirlake_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                  "fhirlake_http_request_duration_seconds_sum %.6f\n"
                  "fhirlake_http_request_duration_seconds_count %llu\n",
                  (unsigned long long)total,
                  (double)atomic_load_explicit(&m->lat_sum_us, memory_order_relaxed) / 1e6,
                  (unsigned long long)total);
    fl_buf_printf(b,
                  "# HELP fhirlake_uptime_seconds Seconds since the server started.\n"
                  "# TYPE fhirlake_uptime_seconds gauge\n"
                  "fhirlake_uptime_seconds %lld\n"
                  "# HELP fhirlake_store_info The resource store backend.\n"
                  "# TYPE fhirlake_store_info gauge\n"
                  "fhirlake_store_info{backend=\"%s\"} 1\n",
                  (long long)((fl_clock_now_us() - r->srv->start_us) / 1000000), fl_fhirdb_backend(r->srv->db));
    srv_deliver_metrics(r, b); /* per topic destination: queued, delivered, attempts, errors */
    r->resp->status = 200;
    srv_add_header_c(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
}
