/* janitor: removes what interrupted uploads left in S3 under sluice's prefix (layout in
 * drop.h) — multipart uploads older than max_age (a worker killed mid-upload leaves one), and
 * reservation markers older than max_age: for each, the bytes are deleted unless the drop's
 * record exists (the upload committed and only the marker's removal was lost). Run by
 * `sluicectl janitor` and by each worker at start-up. */
#ifndef SLUICE_JANITOR_H
#define SLUICE_JANITOR_H

#include <stddef.h>
#include <time.h>

#include "err.h"
#include "s3.h"

struct janitor_report {
    size_t uploads_seen;       /* in progress under the prefix */
    size_t uploads_aborted;
    size_t markers_removed;    /* stale reservation markers */
    size_t orphans_deleted;    /* bytes whose upload never committed */
    size_t failed;
};

/* log gets one line per action (no newline); may be NULL. */
typedef void (*janitor_log_fn)(void *ud, const char *line);

/* max_age applies to multipart uploads and to the markers of streamed uploads; reserve_ttl to
 * direct-upload reservations (markers that carry the declared drop), which are abandoned once
 * their upload URL has expired and nobody completed them. */
enum sl_err janitor_run(struct s3_client *c, const char *prefix, long max_age, long reserve_ttl,
                        time_t now, int dry_run, janitor_log_fn log, void *ud,
                        struct janitor_report *rep);

#endif
