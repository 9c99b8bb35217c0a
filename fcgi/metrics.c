/* /metrics in Prometheus text format. */
#include "metrics.h"

#include <string.h>

#include "s3.h"
#include "slots.h"

void metrics_max(uint64_t *field, uint64_t v)
{
    uint64_t cur = __atomic_load_n(field, __ATOMIC_RELAXED);
    while (v > cur && !__atomic_compare_exchange_n(field, &cur, v, 0, __ATOMIC_RELAXED,
                                                   __ATOMIC_RELAXED)) {
    }
}

static uint64_t get(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void counter(struct buf *o, const char *name, const char *help, uint64_t v)
{
    buf_printf(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
               (unsigned long long)v);
}

static void gauge(struct buf *o, const char *name, const char *help, uint64_t v)
{
    buf_printf(o, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name,
               (unsigned long long)v);
}

void metrics_render(const struct metrics *m, const struct slots *slots, struct buf *o)
{
    counter(o, "sluice_requests_total", "Requests handled by this worker process.",
            get(&m->requests));
    counter(o, "sluice_uploads_started_total", "Uploads that took a slot.",
            get(&m->uploads_started));
    counter(o, "sluice_uploads_committed_total", "Uploads that became drops.",
            get(&m->uploads_committed));
    buf_puts(o, "# HELP sluice_uploads_rolled_back_total Uploads rolled back, by reason.\n"
                "# TYPE sluice_uploads_rolled_back_total counter\n");
    for (int e = 1; e < SL_ERR_COUNT; e++) {
        uint64_t v = get(&m->rolled_back[e]);
        if (v)
            buf_printf(o, "sluice_uploads_rolled_back_total{reason=\"%s\"} %llu\n",
                       sl_err_info((enum sl_err)e)->code, (unsigned long long)v);
    }
    counter(o, "sluice_upload_bytes_in_total", "Body bytes received from clients.",
            get(&m->bytes_in));
    counter(o, "sluice_upload_bytes_out_total", "Bytes acknowledged by S3.", get(&m->bytes_out));
    gauge(o, "sluice_slots_in_use", "Upload slots held on this host.",
          (uint64_t)slots_in_use(slots));
    gauge(o, "sluice_slots_total", "Upload slots on this host.",
          (uint64_t)slots_total(slots));
    gauge(o, "sluice_queue_high_water_bytes", "The fullest any upload queue has been.",
          get(&m->queue_high_water));

    struct s3_op_stats st[S3_OP_COUNT];
    s3_stats_get(st);
    buf_puts(o, "# HELP sluice_s3_requests_total S3 requests sent, retries included.\n"
                "# TYPE sluice_s3_requests_total counter\n");
    for (int i = 0; i < S3_OP_COUNT; i++)
        if (st[i].requests)
            buf_printf(o, "sluice_s3_requests_total{op=\"%s\"} %llu\n", s3_op_names[i],
                       (unsigned long long)st[i].requests);
    buf_puts(o, "# HELP sluice_s3_errors_total S3 requests that failed.\n"
                "# TYPE sluice_s3_errors_total counter\n");
    for (int i = 0; i < S3_OP_COUNT; i++)
        if (st[i].requests)
            buf_printf(o, "sluice_s3_errors_total{op=\"%s\"} %llu\n", s3_op_names[i],
                       (unsigned long long)st[i].errors);
    buf_puts(o, "# HELP sluice_s3_request_seconds S3 request latency.\n"
                "# TYPE sluice_s3_request_seconds histogram\n");
    for (int i = 0; i < S3_OP_COUNT; i++) {
        if (!st[i].requests)
            continue;
        for (int b = 0; b < S3_LATENCY_BUCKETS; b++) {
            if (b < S3_LATENCY_BUCKETS - 1)
                buf_printf(o, "sluice_s3_request_seconds_bucket{op=\"%s\",le=\"%g\"} %llu\n",
                           s3_op_names[i], s3_latency_bounds_ms[b] / 1000.0,
                           (unsigned long long)st[i].latency_bucket[b]);
            else
                buf_printf(o, "sluice_s3_request_seconds_bucket{op=\"%s\",le=\"+Inf\"} %llu\n",
                           s3_op_names[i], (unsigned long long)st[i].latency_bucket[b]);
        }
        buf_printf(o, "sluice_s3_request_seconds_sum{op=\"%s\"} %.3f\n", s3_op_names[i],
                   (double)st[i].latency_ms_sum / 1000.0);
        buf_printf(o, "sluice_s3_request_seconds_count{op=\"%s\"} %llu\n", s3_op_names[i],
                   (unsigned long long)st[i].requests);
    }
}
