/* The process-wide S3 request statistics behind /metrics: per operation, attempts, failures
 * and a latency histogram, all updated with relaxed atomic adds (no lock on the request path). */
#include "s3_internal.h"

const char *const s3_op_names[S3_OP_COUNT] = {
    "PutObject", "GetObject", "HeadObject", "DeleteObject",
    "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload",
    "List", "Other",
};
const double s3_latency_bounds_ms[S3_LATENCY_BUCKETS - 1] = {5, 10, 25, 50, 100, 250, 500,
                                                             1000, 2500, 10000};
static struct s3_op_stats stats[S3_OP_COUNT];

void s3_stats_get(struct s3_op_stats out[S3_OP_COUNT])
{
    for (int i = 0; i < S3_OP_COUNT; i++) {
        out[i].requests = __atomic_load_n(&stats[i].requests, __ATOMIC_RELAXED);
        out[i].errors = __atomic_load_n(&stats[i].errors, __ATOMIC_RELAXED);
        out[i].latency_ms_sum = __atomic_load_n(&stats[i].latency_ms_sum, __ATOMIC_RELAXED);
        for (int b = 0; b < S3_LATENCY_BUCKETS; b++)
            out[i].latency_bucket[b] =
                __atomic_load_n(&stats[i].latency_bucket[b], __ATOMIC_RELAXED);
    }
}

void s3_stats_note(enum s3_op op, int64_t ms, int failed)
{
    struct s3_op_stats *st = &stats[op];
    __atomic_add_fetch(&st->requests, 1, __ATOMIC_RELAXED);
    if (failed)
        __atomic_add_fetch(&st->errors, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&st->latency_ms_sum, (uint64_t)(ms > 0 ? ms : 0), __ATOMIC_RELAXED);
    for (int b = 0; b < S3_LATENCY_BUCKETS; b++)
        if (b == S3_LATENCY_BUCKETS - 1 || (double)ms <= s3_latency_bounds_ms[b])
            __atomic_add_fetch(&st->latency_bucket[b], 1, __ATOMIC_RELAXED);
}
