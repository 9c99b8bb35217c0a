/* ctx: what every request thread of a worker process shares. server.c fills it in before the
 * threads start; afterwards it is read-only, except the metrics (atomic counters), the
 * in-flight registry (its own lock) and `stopping` (atomic). */
#ifndef SLUICE_CTX_H
#define SLUICE_CTX_H

#include <stdatomic.h>

#include "config.h"
#include "inflight.h"
#include "metrics.h"

struct spool;
struct slots;

struct ctx {
    struct sluice_config cfg;
    const char *cfgpath;                  /* for the sluice-thumbd children; NULL: env only */
    char thumbd[4096];                    /* sluice-thumbd, next to this binary */
    struct spool *spool;                  /* thumbnail jobs; NULL when thumbnails are off */
    struct slots *slots;
    struct metrics m;
    struct inflight inflight;
    atomic_int stopping;                  /* SIGTERM seen: drain */
    int trace;                            /* SLUICE_TRACE set: log every upload state change */
};

#endif
