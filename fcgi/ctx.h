/* ctx: what every request thread of a worker process shares. server.c fills it in before the
 * threads start; afterwards it is read-only, except the metrics (atomic counters), the
 * in-flight registry (its own lock) and `stopping` (atomic). */
#ifndef SLUICE_CTX_H
#define SLUICE_CTX_H

#include <stdatomic.h>

#include "config.h"
#include "inflight.h"
#include "metrics.h"
#include "quota.h"
#include "s3.h"
#include "watchdog.h"

struct spool;
struct slots;

struct ctx {
    struct sluice_config cfg;
    const char *cfgpath;                  /* for the sluice-thumbd children; NULL: env only */
    char thumbd[4096];                    /* sluice-thumbd, next to this binary */
    struct spool *spool;                  /* thumbnail jobs; NULL when thumbnails are off */
    struct slots *slots;
    struct quota quota;                   /* the upload tokens and their limits */
    struct slots *lazy_slots;             /* thumbnails made on request at once, host-wide */
    struct metrics m;
    struct inflight inflight;
    struct watchdog watchdog;             /* the minimum body rate of every request */
    /* cfg.s3 with the credential client-facing signatures use (docs/design.md, "Least-
     * privilege signing"); the worker's own when none is configured. Strings borrowed. */
    struct s3_config put_signer;          /* single PUTs and POST policies */
    struct s3_config part_signer;         /* multipart parts */
    atomic_int stopping;                  /* SIGTERM seen: drain */
    int trace;                            /* SLUICE_TRACE set: log every upload state change */
};

#endif
