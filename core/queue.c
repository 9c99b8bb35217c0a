#include "queue.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

struct queue {
    pthread_mutex_t mu;
    pthread_cond_t can_push;   /* signalled when space frees or on abort */
    pthread_cond_t can_pop;    /* signalled when bytes arrive, on close and on abort */
    unsigned char *ring;
    size_t cap;
    size_t head;               /* index of the first queued byte */
    size_t used;
    int closed;
    enum sl_err err;
    struct queue_stats st;
    struct timespec born;
};

enum sl_err queue_new(size_t capacity, struct queue **out)
{
    *out = NULL;
    if (capacity == 0)
        return SL_EINTERNAL;
    struct queue *q = calloc(1, sizeof *q);
    if (!q)
        return SL_ENOMEM;
    /* its own mapping: pages are touched only as the queue fills, and munmap hands them all
     * back when the upload ends (malloc would keep a freed 16 MiB block in the heap) */
    q->ring = mmap(NULL, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q->ring == MAP_FAILED) {
        free(q);
        return SL_ENOMEM;
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->can_push, NULL);
    pthread_cond_init(&q->can_pop, NULL);
    q->cap = capacity;
    q->st.capacity = capacity;
    clock_gettime(CLOCK_MONOTONIC, &q->born);
    *out = q;
    return SL_OK;
}

void queue_free(struct queue *q)
{
    if (!q)
        return;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->can_push);
    pthread_cond_destroy(&q->can_pop);
    munmap(q->ring, q->cap);
    free(q);
}

enum sl_err queue_push(struct queue *q, const void *p, size_t n)
{
    const unsigned char *src = p;
    enum sl_err e = SL_OK;
    pthread_mutex_lock(&q->mu);
    if (q->closed && !q->err) {
        e = SL_EINTERNAL;   /* a push after close is a caller bug */
        goto out;
    }
    while (n > 0) {
        if ((e = q->err))
            goto out;
        if (q->used == q->cap) {
            q->st.producer_waits++;
            while (q->used == q->cap && !q->err)
                pthread_cond_wait(&q->can_push, &q->mu);
            continue;
        }
        size_t tail = (q->head + q->used) % q->cap;
        size_t room = q->cap - q->used;
        size_t run = q->cap - tail;           /* contiguous bytes up to the end of the ring */
        size_t k = n < room ? n : room;
        if (k > run)
            k = run;
        memcpy(q->ring + tail, src, k);
        q->used += k;
        src += k;
        n -= k;
        q->st.bytes_in += k;
        if (q->used > q->st.high_water)
            q->st.high_water = q->used;
        pthread_cond_broadcast(&q->can_pop);   /* (several part senders may wait) */
    }
out:
    pthread_mutex_unlock(&q->mu);
    return e;
}

void queue_close(struct queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->can_pop);
    pthread_mutex_unlock(&q->mu);
}

enum sl_err queue_wait(struct queue *q, size_t want, size_t *avail)
{
    if (want > q->cap)
        want = q->cap;
    pthread_mutex_lock(&q->mu);
    while (!q->err && !q->closed && q->used < want)
        pthread_cond_wait(&q->can_pop, &q->mu);
    enum sl_err e = q->err;
    *avail = e ? 0 : q->used;
    pthread_mutex_unlock(&q->mu);
    return e;
}

enum sl_err queue_wait_until(struct queue *q, uint64_t end, uint64_t *tail)
{
    pthread_mutex_lock(&q->mu);
    while (!q->err && !q->closed && q->st.bytes_out + q->used < end)
        pthread_cond_wait(&q->can_pop, &q->mu);
    enum sl_err e = q->err;
    *tail = q->st.bytes_out + q->used;
    pthread_mutex_unlock(&q->mu);
    return e;
}

static size_t peek_locked(struct queue *q, size_t off, void *dst, size_t n);

size_t queue_peek_at(struct queue *q, uint64_t pos, void *dst, size_t n)
{
    pthread_mutex_lock(&q->mu);
    size_t copied = pos < q->st.bytes_out ? 0 : peek_locked(q, (size_t)(pos - q->st.bytes_out), dst, n);
    pthread_mutex_unlock(&q->mu);
    return copied;
}

size_t queue_peek(struct queue *q, size_t off, void *dst, size_t n)
{
    pthread_mutex_lock(&q->mu);
    size_t copied = peek_locked(q, off, dst, n);
    pthread_mutex_unlock(&q->mu);
    return copied;
}

static size_t peek_locked(struct queue *q, size_t off, void *dst, size_t n)
{
    unsigned char *d = dst;
    size_t copied = 0;
    if (off < q->used) {
        if (n > q->used - off)
            n = q->used - off;
        size_t start = (q->head + off) % q->cap;
        size_t first = q->cap - start < n ? q->cap - start : n;
        memcpy(d, q->ring + start, first);
        memcpy(d + first, q->ring, n - first);
        copied = n;
    }
    return copied;
}

/* A slow upload (a phone on a weak link) hands the whole pages of what was consumed back to
 * the kernel: many of them at once then hold only what is queued, not the whole capacity each
 * once touched. A fast one does not: it would refill them within milliseconds, and the page
 * faults cost ~0.4 CPU-s per GiB (measured: 1.69 vs 1.31 CPU-s/GiB for the worker). */
#define RELEASE_BELOW (32.0 * 1024 * 1024)   /* bytes/s, averaged over the upload so far */

static int slow(struct queue *q)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    double s = (double)(t.tv_sec - q->born.tv_sec) + (double)(t.tv_nsec - q->born.tv_nsec) / 1e9;
    return s > 0 && (double)q->st.bytes_out / s < RELEASE_BELOW;
}

static void release(struct queue *q, size_t from, size_t n)
{
    const size_t pg = 4096;
    size_t a = (from + pg - 1) & ~(pg - 1), b = (from + n) & ~(pg - 1);
    if (b > a)
        madvise(q->ring + a, b - a, MADV_DONTNEED);
}

void queue_consume(struct queue *q, size_t n)
{
    pthread_mutex_lock(&q->mu);
    if (n > q->used)
        n = q->used;   /* a caller bug; never corrupt the ring for it */
    if (n > 0 && slow(q)) {
        if (n >= q->cap - q->head) {
            release(q, q->head, q->cap - q->head);
            release(q, 0, n - (q->cap - q->head));
        } else {
            release(q, q->head, n);
        }
    }
    q->head = (q->head + n) % q->cap;
    q->used -= n;
    q->st.bytes_out += n;
    if (q->used == 0)
        q->head = 0;   /* keeps runs contiguous, so pushes copy in one piece more often */
    pthread_cond_signal(&q->can_push);
    pthread_mutex_unlock(&q->mu);
}

enum sl_err queue_pop(struct queue *q, void *dst, size_t max, size_t *got)
{
    size_t avail;
    *got = 0;
    enum sl_err e = queue_wait(q, 1, &avail);
    if (e || avail == 0)
        return e;
    *got = queue_peek(q, 0, dst, max);
    queue_consume(q, *got);
    return SL_OK;
}

void queue_abort(struct queue *q, enum sl_err why)
{
    pthread_mutex_lock(&q->mu);
    if (!q->err)
        q->err = why ? why : SL_EINTERNAL;
    pthread_cond_broadcast(&q->can_push);
    pthread_cond_broadcast(&q->can_pop);
    pthread_mutex_unlock(&q->mu);
}

enum sl_err queue_error(struct queue *q)
{
    pthread_mutex_lock(&q->mu);
    enum sl_err e = q->err;
    pthread_mutex_unlock(&q->mu);
    return e;
}

int queue_closed(struct queue *q)
{
    pthread_mutex_lock(&q->mu);
    int c = q->closed;
    pthread_mutex_unlock(&q->mu);
    return c;
}

void queue_get_stats(struct queue *q, struct queue_stats *st)
{
    pthread_mutex_lock(&q->mu);
    *st = q->st;
    st->used = q->used;
    pthread_mutex_unlock(&q->mu);
}
