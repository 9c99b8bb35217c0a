/* queue: a bounded byte queue between one producer thread and its consumers.
 *
 * The capacity is fixed at creation and is allocated once: it is the per-upload memory cap.
 * A full queue blocks the producer — that is the backpressure that reaches the client through
 * FastCGI and TCP. Bytes can be read without being consumed (queue_peek), so a consumer can
 * hold an S3 part in the queue until S3 acknowledges it and resend it after a transient error.
 *
 * Either side may abort with a reason; that wakes the other side, and every later call returns
 * that reason. close() is the producer's clean end of stream. */
#ifndef SLUICE_QUEUE_H
#define SLUICE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct queue;

struct queue_stats {
    size_t capacity;
    size_t used;               /* bytes in the queue now */
    size_t high_water;         /* the most bytes it ever held */
    uint64_t bytes_in;         /* pushed in total */
    uint64_t bytes_out;        /* consumed in total */
    uint64_t producer_waits;   /* times push found the queue full and blocked */
};

enum sl_err queue_new(size_t capacity, struct queue **out);
void queue_free(struct queue *q);                 /* NULL is fine; no thread may be inside */

/* Producer. Blocks until all n bytes are in or the queue is aborted (returns the reason).
 * Pushing after close is SL_EINTERNAL. */
enum sl_err queue_push(struct queue *q, const void *p, size_t n);
void queue_close(struct queue *q);

/* Consumer. Waits until at least want bytes are queued (want is clamped to the capacity) or
 * the stream is closed; *avail is what is queued then. Returns the abort reason if aborted. */
enum sl_err queue_wait(struct queue *q, size_t want, size_t *avail);
/* Copies up to n bytes starting off bytes into the queue, without consuming; returns the
 * count copied (less than n only when fewer are queued). Never blocks. */
size_t queue_peek(struct queue *q, size_t off, void *dst, size_t n);
/* The same by stream position (bytes consumed before a byte + its index in the queue), for
 * several readers of one queue (parts in flight at once): wait until the stream reaches end
 * (or is closed), *tail = the position just past the last queued byte; peek from pos, which
 * must not have been consumed yet (0 is returned if it was). */
enum sl_err queue_wait_until(struct queue *q, uint64_t end, uint64_t *tail);
size_t queue_peek_at(struct queue *q, uint64_t pos, void *dst, size_t n);
/* Drops n queued bytes (n <= what is queued) and wakes the producer. */
void queue_consume(struct queue *q, size_t n);
/* wait(1) + peek + consume: *got == 0 means end of stream. */
enum sl_err queue_pop(struct queue *q, void *dst, size_t max, size_t *got);

/* Either side. The first reason wins; SL_OK is turned into SL_EINTERNAL. */
void queue_abort(struct queue *q, enum sl_err why);
enum sl_err queue_error(struct queue *q);         /* SL_OK unless aborted */
int queue_closed(struct queue *q);                /* the producer has closed it */
void queue_get_stats(struct queue *q, struct queue_stats *st);

#endif
