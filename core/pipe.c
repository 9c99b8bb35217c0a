#include "pipe.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* one part of a multipart upload */
struct part {
    uint64_t off;             /* its stream position */
    uint64_t len;
    struct s3_part s3;        /* number; ETag and size once S3 acknowledged it (size 0 until) */
};

struct pipe {
    struct s3_client *c;
    struct queue *q;
    struct pipe_opts o;
    uint64_t part_size;
    pthread_t thread;
    int started;
    char *upload_id;          /* set while a multipart upload exists */
    int maybe_stored;         /* the object may exist at o.key: a rollback deletes it */
    enum sl_err result;
    struct pipe_stats st;
    /* multipart: up to nsend parts in flight, each sender with its own S3 connection */
    int nsend;
    struct s3_client *extra[PIPE_MAX_PARALLEL];   /* senders 1.. (sender 0 uses c) */
    pthread_mutex_t assign;   /* one sender at a time takes the next part (may wait for bytes) */
    pthread_mutex_t mu;       /* parts, consumed, err, st */
    uint64_t next_off;        /* stream position of the next part to hand out */
    int finished;             /* every part has been handed out */
    struct part *parts;       /* by number - 1 */
    size_t nparts, cap_parts;
    size_t consumed;          /* parts dropped from the queue (in order) */
    enum sl_err err;          /* the first sender's failure */
};

uint64_t pipe_part_size(uint64_t size, uint64_t preferred)
{
    uint64_t ps = preferred < S3_MIN_PART_SIZE ? S3_MIN_PART_SIZE : preferred;
    if (size != PIPE_SIZE_UNKNOWN && (size + ps - 1) / ps > S3_MAX_PARTS) {
        uint64_t need = (size + S3_MAX_PARTS - 1) / S3_MAX_PARTS;
        ps = (need + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
    }
    return ps;
}

/* one request's body: the stream bytes [pos, pos + len) (still in the queue) */
struct src {
    struct queue *q;
    uint64_t pos;
    uint64_t len;
    uint64_t off;
};

static enum sl_err src_read(void *ud, void *dst, size_t n, size_t *got)
{
    struct src *s = ud;
    *got = 0;
    if (s->off >= s->len)
        return SL_OK;
    if (n > s->len - s->off)
        n = (size_t)(s->len - s->off);
    uint64_t tail;
    enum sl_err e = queue_wait_until(s->q, s->pos + s->off + 1, &tail);
    if (e)
        return e;
    if (tail <= s->pos + s->off)
        return SL_ESHORT_BODY;   /* closed: the body ended before its announced size */
    *got = queue_peek_at(s->q, s->pos + s->off, dst, n);
    s->off += *got;
    return SL_OK;
}

static enum sl_err src_rewind(void *ud)
{
    struct src *s = ud;
    s->off = 0;   /* nothing was consumed: the same bytes are still in the queue */
    return SL_OK;
}

static void count(struct pipe *p, const struct s3_result *r)
{
    pthread_mutex_lock(&p->mu);
    p->st.requests += r->attempts;
    p->st.retries += r->attempts > 1 ? r->attempts - 1 : 0;
    pthread_mutex_unlock(&p->mu);
}

static enum sl_err put_single(struct pipe *p, uint64_t len)
{
    struct src s = {p->q, 0, len, 0};
    struct s3_body body = {.length = len, .read = src_read, .rewind = src_rewind, .ud = &s};
    struct s3_result r = S3_RESULT_INIT;
    uint64_t tail;
    /* the request opens only once the whole body is queued (it fits: size <= part size <=
     * capacity), as a part does (take_part): a client slower than a 64 KiB read per S3
     * request timeout would otherwise stall the PUT's body between reads */
    enum sl_err e = queue_wait_until(p->q, len, &tail);
    if (e)
        return e;
    if (tail < len)
        return SL_ESHORT_BODY;
    /* from the first attempt on the object may exist: a PUT cut off after its last byte may
     * still have been stored, so a rollback must delete it whatever we were told */
    p->maybe_stored = 1;
    e = s3_put_object(p->c, p->o.key, &body, p->o.put, &r);
    count(p, &r);
    s3_result_free(&r);
    if (!e) {
        p->st.bytes += len;
        queue_consume(p->q, (size_t)len);
    }
    return e;
}

static enum sl_err create(struct pipe *p)
{
    struct s3_result r = S3_RESULT_INIT;
    enum sl_err e = s3_mpu_create(p->c, p->o.key, p->o.put, &p->upload_id, &r);
    count(p, &r);
    s3_result_free(&r);
    return e;
}

/* part number *no for the stream bytes [at, at + n); p->mu held */
static enum sl_err add_part(struct pipe *p, uint64_t at, uint64_t n, int *no)
{
    if (p->err)
        return p->err;
    if (p->nparts >= S3_MAX_PARTS)
        return SL_ETOOBIG;
    if (p->nparts == p->cap_parts) {
        size_t c = p->cap_parts ? p->cap_parts * 2 : 16;
        struct part *np = realloc(p->parts, c * sizeof *np);
        if (!np)
            return SL_ENOMEM;
        p->parts = np;
        p->cap_parts = c;
    }
    size_t i = p->nparts++;
    p->parts[i] = (struct part){.off = at, .len = n, .s3 = {.number = (int)i + 1}};
    *no = (int)i + 1;
    return SL_OK;
}

/* the next part for a sender: its number, position and length; 0 when there is none left.
 * A part is handed out only once all its bytes are in the queue, whether its length is known
 * in advance or only once it is full or the body ended: a request opened earlier would sit
 * idle while a slow client fills the parts before it, and S3 drops a request body that
 * stalls (~20 s on AWS, RGW's request_timeout_ms), so slow clients got retries, then a 503. */
static enum sl_err take_part(struct pipe *p, int *no, uint64_t *pos, uint64_t *len)
{
    enum sl_err e = SL_OK;
    *no = 0;
    pthread_mutex_lock(&p->assign);
    uint64_t at = p->next_off, n = 0, size = p->o.size, ps = p->part_size, tail;
    uint64_t want = size == PIPE_SIZE_UNKNOWN ? ps : size - at < ps ? size - at : ps;
    if (p->finished)
        goto out;
    if (want > 0 && (e = queue_wait_until(p->q, at + want, &tail)) == SL_OK)
        n = tail - at < want ? tail - at : want;
    if (!e && size != PIPE_SIZE_UNKNOWN && n < want)
        e = SL_ESHORT_BODY;   /* closed before its announced size */
    if (n == 0 || e) {
        p->finished = 1;   /* all handed out, or the queue failed: no sender takes more */
        goto out;
    }
    pthread_mutex_lock(&p->mu);
    e = add_part(p, at, n, no);
    pthread_mutex_unlock(&p->mu);
    if (e)
        goto out;
    p->next_off = at + n;
    *pos = at;
    *len = n;
out:
    pthread_mutex_unlock(&p->assign);
    return e;
}

/* a part was acknowledged: drop from the queue every part that is done, in order */
static void part_done(struct pipe *p, int no, const char *etag)
{
    pthread_mutex_lock(&p->mu);
    struct part *pt = &p->parts[no - 1];
    snprintf(pt->s3.etag, sizeof pt->s3.etag, "%s", etag);
    pt->s3.size = pt->len;
    p->st.bytes += pt->len;
    p->st.parts = (int)p->nparts;
    while (p->consumed < p->nparts && p->parts[p->consumed].s3.size > 0) {
        queue_consume(p->q, (size_t)p->parts[p->consumed].len);
        p->consumed++;
    }
    pthread_mutex_unlock(&p->mu);
}

static void fail(struct pipe *p, enum sl_err e)
{
    pthread_mutex_lock(&p->mu);
    if (!p->err)
        p->err = e;
    pthread_mutex_unlock(&p->mu);
    queue_abort(p->q, e);   /* wakes the producer and the other senders */
}

struct sender {
    struct pipe *p;
    struct s3_client *c;
    pthread_t t;
};

static void *send_parts(void *arg)
{
    struct sender *sd = arg;
    struct pipe *p = sd->p;
    for (;;) {
        int no;
        uint64_t pos, len;
        enum sl_err e = take_part(p, &no, &pos, &len);
        if (e) {
            fail(p, e);
            break;
        }
        if (!no)
            break;
        struct src s = {p->q, pos, len, 0};
        struct s3_body body = {.length = len, .read = src_read, .rewind = src_rewind, .ud = &s};
        struct s3_result r = S3_RESULT_INIT;
        /* SL_OK comes with the part's ETag (s3_mpu_upload_part refuses an answer without) */
        e = s3_mpu_upload_part(sd->c, p->o.key, p->upload_id, no, &body, &r);
        count(p, &r);
        if (!e)
            part_done(p, no, r.etag);
        s3_result_free(&r);
        if (e) {
            fail(p, e);
            break;
        }
    }
    return NULL;
}

/* every part through nsend senders at once: while one waits for S3's answer to a part (the
 * store writes it through before answering), the next one is already on the wire */
static enum sl_err send_all(struct pipe *p)
{
    struct sender sd[PIPE_MAX_PARALLEL + 1];
    int n = 0;
    for (int i = 0; i < p->nsend; i++) {
        sd[i] = (struct sender){p, i ? p->extra[i - 1] : p->c, 0};
        if (i && pthread_create(&sd[i].t, NULL, send_parts, &sd[i]) != 0) {
            fail(p, SL_ENOMEM);
            break;
        }
        n = i + 1;
    }
    send_parts(&sd[0]);   /* sender 0 is this thread */
    for (int i = 1; i < n; i++)
        pthread_join(sd[i].t, NULL);
    return p->err;
}

static enum sl_err complete(struct pipe *p)
{
    struct s3_result r = S3_RESULT_INIT;
    struct s3_part *list = malloc(p->nparts * sizeof *list);
    enum sl_err e;
    if (!list) {
        e = SL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < p->nparts; i++)
        list[i] = p->parts[i].s3;
    p->maybe_stored = 1;   /* (as in put_single: a Complete whose answer was lost may have worked) */
    e = s3_mpu_complete(p->c, p->o.key, p->upload_id, list, p->nparts, &r);
    count(p, &r);
    if (e)
        goto out;
    free(p->upload_id);
    p->upload_id = NULL;
out:
    s3_result_free(&r);
    free(list);
    return e;
}

/* wait for the producer to close: the body must end exactly at position end */
static enum sl_err expect_end(struct pipe *p, uint64_t end)
{
    uint64_t tail;
    enum sl_err e;
    if ((e = queue_wait_until(p->q, end + 1, &tail)))
        return e;
    return tail > end ? SL_EUNPROCESSABLE : SL_OK;   /* more bytes than announced */
}

static enum sl_err run(struct pipe *p)
{
    uint64_t size = p->o.size;
    enum sl_err e;
    if (size != PIPE_SIZE_UNKNOWN && size <= p->part_size) {
        if ((e = put_single(p, size)))
            return e;
        return expect_end(p, size);
    }
    /* multipart (created in pipe_start already, so S3 was reached before the body arrived) */
    if ((e = send_all(p)))
        return e;
    if (size != PIPE_SIZE_UNKNOWN && (e = expect_end(p, size)))
        return e;
    if (p->nparts > 0)
        return complete(p);
    /* an empty body: S3 has no empty multipart upload, so drop it and write an empty object */
    struct s3_result r = S3_RESULT_INIT;
    e = s3_mpu_abort(p->c, p->o.key, p->upload_id, &r);
    count(p, &r);
    s3_result_free(&r);
    if (e && e != SL_ES3_NOTFOUND)
        return e;
    free(p->upload_id);
    p->upload_id = NULL;
    return put_single(p, 0);
}

static void *thread_main(void *arg)
{
    struct pipe *p = arg;
    p->result = run(p);
    if (p->result)
        queue_abort(p->q, p->result);   /* wake the producer if it is blocked on a full queue */
    return NULL;
}

enum sl_err pipe_start(struct s3_client *c, struct queue *q, const struct pipe_opts *o,
                       struct pipe **out)
{
    *out = NULL;
    struct queue_stats qs;
    queue_get_stats(q, &qs);
    uint64_t ps = pipe_part_size(o->size, o->part_size);
    if (o->size != PIPE_SIZE_UNKNOWN && o->size > (uint64_t)S3_MAX_PARTS * ps)
        return SL_ETOOBIG;
    if (ps > qs.capacity)
        return SL_ETOOBIG;   /* the body is too large for this buffer cap */
    struct pipe *p = calloc(1, sizeof *p);
    if (!p)
        return SL_ENOMEM;
    p->c = c;
    p->q = q;
    p->o = *o;
    p->part_size = ps;
    p->st.part_size = ps;
    pthread_mutex_init(&p->assign, NULL);
    pthread_mutex_init(&p->mu, NULL);
    enum sl_err e = SL_OK;
    int mpu = o->size == PIPE_SIZE_UNKNOWN || o->size > ps;
    /* parts in flight: as asked, as many as the queue holds, as many as there are parts */
    p->nsend = o->parallel < 1 ? 1 : o->parallel > PIPE_MAX_PARALLEL ? PIPE_MAX_PARALLEL : o->parallel;
    if ((uint64_t)p->nsend > qs.capacity / ps)
        p->nsend = (int)(qs.capacity / ps);
    if (o->size != PIPE_SIZE_UNKNOWN && (uint64_t)p->nsend > (o->size + ps - 1) / ps)
        p->nsend = (int)((o->size + ps - 1) / ps);
    if (!mpu || p->nsend < 1)
        p->nsend = 1;
    for (int i = 1; i < p->nsend; i++)
        if ((e = s3_client_new(s3_client_config(c), &p->extra[i - 1])))
            goto out;
    if (mpu && (e = create(p)))   /* reach S3 now, not after the body: a refusal fails fast */
        goto out;
    if (pthread_create(&p->thread, NULL, thread_main, p) != 0) {
        e = SL_ENOMEM;
        goto out;
    }
    p->started = 1;
    *out = p;
    p = NULL;
out:
    if (p) {
        pipe_cleanup(p);
        pipe_free(p);
    }
    return e;
}

enum sl_err pipe_wait(struct pipe *p, struct pipe_stats *st)
{
    if (p->started) {
        pthread_join(p->thread, NULL);
        p->started = 0;
    }
    if (st)
        *st = p->st;
    return p->result;
}

enum sl_err pipe_cleanup(struct pipe *p)
{
    enum sl_err e = SL_OK;
    struct s3_result r = S3_RESULT_INIT;
    if (p->upload_id) {
        e = s3_mpu_abort(p->c, p->o.key, p->upload_id, &r);
        if (!e || e == SL_ES3_NOTFOUND) {
            e = SL_OK;
            free(p->upload_id);
            p->upload_id = NULL;
        }
    }
    if (p->maybe_stored) {
        enum sl_err d = s3_delete_object(p->c, p->o.key, &r);
        if (!d || d == SL_ES3_NOTFOUND)
            p->maybe_stored = 0;
        else if (!e)
            e = d;
    }
    s3_result_free(&r);
    return e;
}

void pipe_free(struct pipe *p)
{
    if (!p)
        return;
    for (int i = 0; i < PIPE_MAX_PARALLEL; i++)
        s3_client_free(p->extra[i]);
    pthread_mutex_destroy(&p->assign);
    pthread_mutex_destroy(&p->mu);
    free(p->upload_id);
    free(p->parts);
    free(p);
}
