/* pipe: the S3 side of a live upload. A thread drains a queue into one S3 object while the
 * producer is still filling it: one streaming PUT when the size is known and at most one part,
 * multipart otherwise (part sizes within S3's 5 MiB .. 10,000 parts rules), with up to
 * `parallel` parts on the wire at once.
 *
 * A request is opened only once all its bytes are in the queue (S3 drops a request whose body
 * stalls, which a slow client would otherwise cause), and they stay there (peeked, not
 * consumed) until S3 acknowledges them, so a transient S3 error on a part is retried from
 * memory without failing the upload; the queue's capacity stays the only per-upload buffer.
 * The pipe never declares success before the producer has closed the queue: a body that ends
 * early, runs long or is aborted fails the pipe. On failure the queue is aborted, which wakes
 * a blocked producer.
 *
 * Ownership: the s3_client and queue are lent to the pipe's thread from pipe_start() until
 * pipe_wait() returns; opts strings are borrowed until pipe_free(). */
#ifndef SLUICE_PIPE_H
#define SLUICE_PIPE_H

#include <stdint.h>

#include "err.h"
#include "queue.h"
#include "s3.h"

#define PIPE_SIZE_UNKNOWN UINT64_MAX

struct pipe_opts {
    const char *key;
    const struct s3_put_opts *put;  /* content type / metadata of the object written */
    uint64_t size;                  /* exact body size, or PIPE_SIZE_UNKNOWN */
    uint64_t part_size;             /* preferred part size; must fit in the queue */
    int parallel;                   /* multipart: parts in flight at once (1..PIPE_MAX_PARALLEL),
                                     * each on its own connection; capped by what the queue
                                     * holds (capacity / part size). 0 or 1: one at a time */
};

#define PIPE_MAX_PARALLEL 4

struct pipe_stats {
    uint64_t bytes;                 /* acknowledged by S3 */
    int parts;                      /* 0 for a single PUT */
    uint64_t part_size;             /* the part size actually used */
    int requests;                   /* S3 requests, retries included */
    int retries;
};

struct pipe;

/* Checks that size fits S3's and the queue's limits (SL_ETOOBIG otherwise), then starts the
 * thread. Unless the body is known to fit one request, the multipart upload is created here,
 * so S3 is reached (and a refusal known) before the body arrives. */
enum sl_err pipe_start(struct s3_client *c, struct queue *q, const struct pipe_opts *o,
                       struct pipe **out);
/* Joins the thread. SL_OK: the object is complete at opts->key. A body that ends before its
 * announced size is SL_ESHORT_BODY (internal: the producer should have caught its client's
 * short body itself), one that runs past it SL_EUNPROCESSABLE; an aborted queue, its reason. */
enum sl_err pipe_wait(struct pipe *p, struct pipe_stats *st);
/* Removes whatever the pipe left in S3: aborts an unfinished multipart upload and deletes the
 * object if it was written. Call it after a failure, or after the object was copied away.
 * Safe to call twice; best effort (a leftover upload is the janitor's). */
enum sl_err pipe_cleanup(struct pipe *p);
void pipe_free(struct pipe *p);   /* NULL is fine; the thread must have been joined */

/* The part size for a body of size bytes: preferred, grown (in MiB steps) when the body
 * would need more than 10,000 parts. */
uint64_t pipe_part_size(uint64_t size, uint64_t preferred);

#endif
