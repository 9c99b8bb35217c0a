#include "pipe.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct pipe {
    struct s3_client *c;
    struct queue *q;
    struct pipe_opts o;
    uint64_t part_size;
    pthread_t thread;
    int started;
    char *upload_id;          /* set while a multipart upload exists */
    int written;              /* the object may exist at o.key */
    struct s3_part *parts;
    size_t nparts;
    enum sl_err result;
    struct pipe_stats st;
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

/* one request's body: bytes [0, len) at the head of the queue */
struct src {
    struct queue *q;
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
    size_t avail;
    enum sl_err e = queue_wait(s->q, (size_t)s->off + 1, &avail);
    if (e)
        return e;
    if (avail <= s->off)
        return SL_EUNPROCESSABLE;   /* closed: the body ended before its announced size */
    *got = queue_peek(s->q, (size_t)s->off, dst, n);
    s->off += *got;
    return SL_OK;
}

static enum sl_err src_rewind(void *ud)
{
    struct src *s = ud;
    s->off = 0;   /* nothing was consumed: the same bytes are still at the head */
    return SL_OK;
}

static void count(struct pipe *p, const struct s3_result *r)
{
    p->st.requests += r->attempts;
    p->st.retries += r->attempts > 1 ? r->attempts - 1 : 0;
}

static enum sl_err put_single(struct pipe *p, uint64_t len)
{
    struct src s = {p->q, len, 0};
    struct s3_body body = {.length = len, .read = src_read, .rewind = src_rewind, .ud = &s};
    struct s3_result r = {0};
    /* from the first attempt on the object may exist: a PUT cut off after its last byte may
     * still have been stored, so a rollback must delete it whatever we were told */
    p->written = 1;
    enum sl_err e = s3_put_object(p->c, p->o.key, &body, p->o.put, &r);
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
    struct s3_result r = {0};
    enum sl_err e = s3_mpu_create(p->c, p->o.key, p->o.put, &p->upload_id, &r);
    count(p, &r);
    s3_result_free(&r);
    return e;
}

static enum sl_err put_part(struct pipe *p, uint64_t len)
{
    if (p->nparts >= S3_MAX_PARTS)
        return SL_ETOOBIG;
    struct s3_part *np = realloc(p->parts, (p->nparts + 1) * sizeof *np);
    if (!np)
        return SL_ENOMEM;
    p->parts = np;
    struct src s = {p->q, len, 0};
    struct s3_body body = {.length = len, .read = src_read, .rewind = src_rewind, .ud = &s};
    struct s3_result r = {0};
    int no = (int)p->nparts + 1;
    enum sl_err e = s3_mpu_upload_part(p->c, p->o.key, p->upload_id, no, &body, &r);
    count(p, &r);
    if (!e) {
        struct s3_part *pt = &p->parts[p->nparts++];
        pt->number = no;
        pt->size = len;
        memcpy(pt->etag, r.etag, sizeof pt->etag);
        p->st.bytes += len;
        p->st.parts = no;
        queue_consume(p->q, (size_t)len);
    }
    s3_result_free(&r);
    return e;
}

static enum sl_err complete(struct pipe *p)
{
    struct s3_result r = {0};
    p->written = 1;   /* (as in put_single: a Complete whose answer was lost may have worked) */
    enum sl_err e = s3_mpu_complete(p->c, p->o.key, p->upload_id, p->parts, p->nparts, &r);
    count(p, &r);
    s3_result_free(&r);
    if (!e) {
        free(p->upload_id);
        p->upload_id = NULL;
    }
    return e;
}

/* wait for the producer to close: the body must end exactly here */
static enum sl_err expect_end(struct pipe *p)
{
    size_t avail;
    enum sl_err e = queue_wait(p->q, 1, &avail);
    if (!e && avail > 0)
        e = SL_EUNPROCESSABLE;   /* more bytes than announced */
    return e;
}

static enum sl_err run(struct pipe *p)
{
    uint64_t size = p->o.size, ps = p->part_size;
    enum sl_err e;
    size_t avail;
    if (size != PIPE_SIZE_UNKNOWN) {
        if (size <= ps) {
            if ((e = put_single(p, size)))
                return e;
            return expect_end(p);
        }
        /* created in pipe_start already, so S3 was reached before the body arrived */
        for (uint64_t off = 0; off < size; off += ps)
            if ((e = put_part(p, size - off < ps ? size - off : ps)))
                return e;
        if ((e = expect_end(p)))
            return e;
        return complete(p);
    }
    /* unknown size: the multipart upload was created in pipe_start; a part's length is known
     * only once it is full or the body ended, so each part waits for that */
    for (;;) {
        if ((e = queue_wait(p->q, (size_t)ps, &avail)))
            return e;
        if (avail == 0)
            break;   /* closed and drained */
        if ((e = put_part(p, avail < ps ? avail : ps)))
            return e;
    }
    if (p->nparts > 0)
        return complete(p);
    /* an empty body: S3 has no empty multipart upload, so drop it and write an empty object */
    struct s3_result r = {0};
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
    enum sl_err e = SL_OK;
    if (o->size == PIPE_SIZE_UNKNOWN || o->size > ps)
        e = create(p);   /* reach S3 now, not after the body: a refusal fails fast */
    if (!e && pthread_create(&p->thread, NULL, thread_main, p) != 0)
        e = SL_ENOMEM;
    if (e) {
        pipe_cleanup(p);
        pipe_free(p);
        return e;
    }
    p->started = 1;
    *out = p;
    return SL_OK;
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
    struct s3_result r = {0};
    if (p->upload_id) {
        e = s3_mpu_abort(p->c, p->o.key, p->upload_id, &r);
        if (!e || e == SL_ES3_NOTFOUND) {
            e = SL_OK;
            free(p->upload_id);
            p->upload_id = NULL;
        }
    }
    if (p->written) {
        enum sl_err d = s3_delete_object(p->c, p->o.key, &r);
        if (!d || d == SL_ES3_NOTFOUND)
            p->written = 0;
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
    free(p->upload_id);
    free(p->parts);
    free(p);
}
