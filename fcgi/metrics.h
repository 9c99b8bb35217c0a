/* metrics: the worker process's counters (atomic, relaxed: they are statistics) and their
 * Prometheus text. */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stdint.h>

#include "buf.h"
#include "err.h"

struct slots;

struct metrics {
    uint64_t uploads_started;
    uint64_t uploads_committed;
    uint64_t rolled_back[SL_ERR_COUNT];   /* by reason */
    uint64_t bytes_in;                    /* body bytes taken from clients */
    uint64_t bytes_out;                   /* bytes S3 acknowledged */
    uint64_t queue_high_water;            /* the fullest any upload's queue has been */
    uint64_t requests;
};

#define METRIC_ADD(m, field, n) __atomic_add_fetch(&(m)->field, (n), __ATOMIC_RELAXED)
/* field = max(field, v), atomically */
void metrics_max(uint64_t *field, uint64_t v);
/* The whole exposition: these counters, slots in use on this host, S3 request statistics. */
void metrics_render(const struct metrics *m, const struct slots *slots, struct buf *out);

#endif
