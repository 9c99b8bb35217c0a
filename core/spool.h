/* spool: pending jobs (thumbnails) as small flat files, crash-safe by rename(). No database.
 *
 *   <dir>/tmp/            jobs being written: temp name -> fsync -> rename into new/
 *   <dir>/new/<id>        pending; a job appears here only whole (rename is atomic)
 *   <dir>/cur/<worker>/   claimed: a worker takes a job by renaming it here (one wins)
 *   <dir>/cur/<worker>.lock  held with flock() for the worker's whole life: a lock that can be
 *                         taken means the worker is gone, and its jobs go back to new/
 *   <dir>/failed/<id>     gave up after SPOOL_MAX_ATTEMPTS, with the last reason inside
 *
 * One job per drop id (submitting the same id twice keeps one). Job files are key=value text:
 *   id=<drop id>\nattempts=<n>\nnot_before=<unix time>\nreason=<text>\n
 * A handle belongs to one thread (one worker name); several processes share a spool. */
#ifndef SLUICE_SPOOL_H
#define SLUICE_SPOOL_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "err.h"

#define SPOOL_MAX_ATTEMPTS 5
#define SPOOL_ID_MAX 64
#define SPOOL_REASON_MAX 200

struct spool_job {
    char id[SPOOL_ID_MAX + 1];
    int attempts;                  /* failures so far (a worker dying holding it counts) */
    time_t not_before;             /* retry backoff: not claimed before this time */
    char reason[SPOOL_REASON_MAX + 1];
};

struct spool;

/* Creates the folders if needed and registers this worker (its cur/ folder and lock).
 * SL_EINUSE: another live process holds the worker name. */
enum sl_err spool_open(const char *dir, const char *worker, struct spool **out);
void spool_close(struct spool *s);      /* releases the lock; claimed jobs stay claimed */

/* Adds a job for id (tmp -> fsync -> rename -> fsync(dir)). */
enum sl_err spool_submit(struct spool *s, const char *id);
/* Claims the oldest ready job. SL_ENOTFOUND if none is ready. */
enum sl_err spool_claim(struct spool *s, time_t now, struct spool_job *job);
/* Claims the job of one id, ready or not (the lazy path). SL_ENOTFOUND if it is not pending
 * (never submitted, already done, or claimed by someone else). */
enum sl_err spool_claim_id(struct spool *s, const char *id, struct spool_job *job);
/* The claimed job is done: removed. */
enum sl_err spool_done(struct spool *s, const struct spool_job *job);
/* The claimed job failed: back to new/ with a backoff, or to failed/ after the last attempt
 * (at once when permanent: retrying cannot help, e.g. not an image). */
enum sl_err spool_fail(struct spool *s, struct spool_job *job, const char *reason, time_t now,
                       int permanent);
/* A host-wide lock for one id (so a job and the lazy path never make the same thing at once
 * on this host): <dir>/locks/<n>, n a hash of the id. Waits up to timeout_ms; *fd is -1 on
 * SL_EBUSY. Give it back with spool_unlock(). */
enum sl_err spool_lock_id(struct spool *s, const char *id, int timeout_ms, int *fd);
void spool_unlock(int fd);
/* Moves the jobs of dead workers back to new/ (each counted as one failed attempt). */
enum sl_err spool_requeue_dead(struct spool *s, int *requeued);

struct spool_counts {
    int tmp, pending, claimed, failed;
};
enum sl_err spool_count(struct spool *s, struct spool_counts *c);

/* The job file format, for tests and fuzzing. */
enum sl_err spool_job_parse(const char *text, size_t n, struct spool_job *job);
enum sl_err spool_job_format(const struct spool_job *job, struct buf *out);
int spool_valid_id(const char *id);     /* [A-Za-z0-9_-]{1,64} */

#endif
