#include "queue.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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
    if (q->closed && !q->err)
        e = SL_EINTERNAL;
    while (n > 0 && !e) {
        if (q->err) {
            e = q->err;
            break;
        }
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
        pthread_cond_signal(&q->can_pop);
    }
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

size_t queue_peek(struct queue *q, size_t off, void *dst, size_t n)
{
    unsigned char *d = dst;
    pthread_mutex_lock(&q->mu);
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
    pthread_mutex_unlock(&q->mu);
    return copied;
}

void queue_consume(struct queue *q, size_t n)
{
    pthread_mutex_lock(&q->mu);
    if (n > q->used)
        n = q->used;   /* a caller bug; never corrupt the ring for it */
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
