/* janitor: removes what dead uploads left in S3 under sluice's prefix (layout in drop.h), and
 * nothing that is alive. Run by `sluicectl janitor` and, in the background, by each worker at
 * start-up; several may run at once (every step re-checks before it deletes, and gone already
 * counts as done).
 *
 * An upload is alive while it shows signs of life: its reservation marker's time (rewritten by
 * drop_touch while the client signs parts), the expiry of the URLs signed for it, and the times
 * of the parts S3 holds for its multipart uploads. Each run
 *   1. aborts multipart uploads without a reservation that have been idle for max_age;
 *   2. for each dead reservation commits its upload if the bytes are all there (a client that
 *      never called complete), else aborts its multipart uploads and deletes its bytes unless
 *      the drop's record exists, then removes the marker;
 *   3. sweeps drops/ and thumbs/: an object older than sweep_grace with neither a reservation
 *      nor a record (bytes a PUT URL wrote after its drop was deleted or its reservation
 *      expired, a thumbnail of a deleted drop) is deleted. At most sweep_max objects are looked
 *      at per run; the next run goes on after the last one (the key is kept in
 *      <prefix>janitor/sweep while a pass is unfinished, and removed when one ends). */
#ifndef SLUICE_JANITOR_H
#define SLUICE_JANITOR_H

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "err.h"
#include "s3.h"

struct janitor_report {
    size_t uploads_seen;       /* in progress under the prefix */
    size_t uploads_aborted;
    size_t markers_removed;    /* dead reservations (committed or removed) */
    size_t orphans_deleted;    /* bytes of dead reservations whose upload never committed */
    size_t kept_alive;         /* reservations past their age kept for a sign of life */
    size_t swept_seen;         /* objects the sweep looked at */
    size_t swept;              /* objects the sweep deleted: neither record nor reservation */
    size_t failed;
};

/* log gets one line per action (no newline); may be NULL. */
typedef void (*janitor_log_fn)(void *ud, const char *line);

struct janitor_opts {
    long max_age;          /* idle multipart uploads and streamed uploads' markers */
    long reserve_ttl;      /* a direct reservation is dead this long after its last sign of
                            * life (config upload.reserve_ttl) */
    long direct_expires;   /* the life of the URLs signed for a direct upload: a URL's
                            * expiry is a sign of life (config upload.direct_expires) */
    long sweep_grace;      /* the sweep leaves younger objects alone */
    size_t sweep_max;      /* objects the sweep looks at in this run; 0: no sweep */
    int dry_run;           /* say what would be done, change nothing */
    const atomic_int *stop;   /* non-zero: end after the request in progress; NULL: never */
    janitor_log_fn log;
    void *ud;
};

/* now: the time to judge ages by. An error is one that stopped a step (a listing failed);
 * single objects that could not be handled are counted in rep->failed. */
enum sl_err janitor_run(struct s3_client *c, const char *prefix, const struct janitor_opts *o,
                        time_t now, struct janitor_report *rep);

#endif
