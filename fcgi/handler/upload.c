/* Streamed uploads: PUT /api/drops/{filename} (raw body), POST /api/drops (multipart/form-data)
 * and POST /api/drops?reserve (a link handed out before the bytes, filled by PUT ...?id=).
 *
 * One upload is an explicit state machine:
 *   accepted -> slot_taken -> s3_open -> streaming -> draining -> committing -> committed
 * with rolling_back reachable from every state after slot_taken. Each side effect registers
 * its undo as it happens, and the undos run in reverse on any failure:
 *   slot taken            -> released (always, at the end)
 *   reservation marker    -> deleted (also after success: it only guards the upload)
 *   bytes (pipe)          -> multipart upload aborted / object deleted (pipe_cleanup)
 *   record (the commit)   -> deleted if its PUT was attempted but the upload still failed
 * Key layout: drop/drop.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth.h"
#include "body.h"
#include "cap.h"
#include "ctx.h"
#include "drop.h"
#include "handlers.h"
#include "http.h"
#include "imghdr.h"
#include "multipart.h"
#include "pipe.h"
#include "reply.h"
#include "sigv4.h"
#include "slots.h"
#include "spool.h"

#define READ_CHUNK (64 * 1024)
/* a rollback tries this many times (0.5 + 1 + 2 s between: each try is itself retried by the
 * S3 client) before it leaves the rest to the janitor */
#define ROLLBACK_ROUNDS 4
#define FORM_OVERHEAD (1u << 20)   /* what a form may add around its file, at most */

enum up_state {
    UP_ACCEPTED, UP_SLOT_TAKEN, UP_S3_OPEN, UP_STREAMING, UP_DRAINING, UP_COMMITTING,
    UP_COMMITTED, UP_ROLLING_BACK, UP_ROLLED_BACK,
};

static const char *const state_names[] = {
    "accepted", "slot_taken", "s3_open", "streaming", "draining", "committing",
    "committed", "rolling_back", "rolled_back",
};

struct upload {
    struct ctx *x;
    struct http *h;
    struct s3_client *c;
    enum up_state state;
    struct token *t;           /* who uploads: its limits and counters */
    int slot[2];                     /* the token's and the host's; -1: none held */
    struct queue *q;
    struct pipe *pipe;
    int marker_written;              /* reserved/<id> exists */
    int reserved;                    /* uploading into a reservation made beforehand: */
    struct drop_resv resv;           /* that one, as read */
    int record_attempted;            /* meta/<id> may exist */
    struct buf marker, bytes, record;
    char boundary[MP_BOUNDARY_MAX + 1];
    struct drop_meta meta;
    char token[DROP_TOKEN_LEN + 1];
    char client_type[128];           /* what the client said the content type was */
    EVP_MD_CTX *sha;
    uint64_t received;
    uint64_t announced;
    unsigned char head[IMG_SNIFF_BYTES];  /* the first bytes: is it an image? */
    size_t head_len;              /* PIPE_SIZE_UNKNOWN for chunked bodies and forms */
    /* forms */
    int in_file;
    int file_seen;
    struct buf scratch;              /* backs put_kv */
    struct s3_kv put_kv[DROP_META_KV];
    struct s3_put_opts put;          /* the bytes object's type and start metadata */
    struct inflight_entry track;     /* in x->inflight while q exists */
};


static void set_state(struct upload *u, enum up_state s)
{
    if (u->x->trace) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        fprintf(stderr, "sluice: %ld.%03ld upload %s: %s -> %s\n", (long)ts.tv_sec,
                ts.tv_nsec / 1000000, u->meta.id, state_names[u->state], state_names[s]);
    }
    u->state = s;
}

/* Content-Length: SL_OK with *n, or PIPE_SIZE_UNKNOWN when absent/empty (chunked) */
static enum sl_err content_length(const struct http *h, uint64_t *n)
{
    const char *cl = http_param(h, "CONTENT_LENGTH");
    *n = PIPE_SIZE_UNKNOWN;
    if (!cl || !*cl)
        return SL_OK;
    if (strspn(cl, "0123456789") != strlen(cl) || strlen(cl) > 19)
        return SL_EBADREQ;
    *n = strtoull(cl, NULL, 10);
    return SL_OK;
}

/* body bytes of the file: hash, count, limit, queue (blocks while S3 is behind) */
static enum sl_err take(struct upload *u, const void *p, size_t n)
{
    if (n == 0)
        return SL_OK;
    if (u->received + n > u->t->max_size)
        return SL_ETOOBIG;
    if (u->announced != PIPE_SIZE_UNKNOWN && u->received + n > u->announced)
        return SL_EUNPROCESSABLE;
    EVP_DigestUpdate(u->sha, p, n);
    if (u->head_len < sizeof u->head) {
        size_t k = sizeof u->head - u->head_len < n ? sizeof u->head - u->head_len : n;
        memcpy(u->head + u->head_len, p, k);
        u->head_len += k;
    }
    __atomic_store_n(&u->received, u->received + n, __ATOMIC_RELAXED);   /* read for progress */
    METRIC_ADD(&u->x->m, bytes_in, n);
    METRIC_ADD(u->t, bytes_in, n);
    return queue_push(u->q, p, n);
}

/* Opens the bytes object: from here on the body streams into S3. Called before the body for
 * a raw PUT, and at the file part's headers for a form, so the name and type are known. */
static enum sl_err open_bytes(struct upload *u)
{
    drop_content_type(u->client_type, u->meta.name, u->meta.content_type);
    size_t n;
    enum sl_err e = drop_meta_to_kv(&u->meta, 1, u->put_kv, &n, &u->scratch);
    if (e)
        return e;
    u->put = (struct s3_put_opts){.content_type = u->meta.content_type, .meta = u->put_kv,
                                  .n_meta = n};
    struct pipe_opts po = {.key = buf_str(&u->bytes), .put = &u->put, .size = u->announced,
                           .part_size = u->x->cfg.upload.part_size,
                           .parallel = u->x->cfg.upload.parallel_parts};
    return pipe_start(u->c, u->q, &po, &u->pipe);
}

static enum sl_err on_part_begin(void *ud, const struct mp_part *p)
{
    struct upload *u = ud;
    if (strcmp(p->name, "file") != 0 || u->file_seen)
        return SL_OK;   /* other fields are read past; only the first "file" part is kept */
    u->in_file = 1;
    u->file_seen = 1;
    drop_sanitize_name(p->filename, strlen(p->filename), u->meta.name);
    snprintf(u->client_type, sizeof u->client_type, "%s", p->content_type);
    return open_bytes(u);
}

static enum sl_err on_part_data(void *ud, const void *d, size_t n)
{
    struct upload *u = ud;
    return u->in_file ? take(u, d, n) : SL_OK;
}

static enum sl_err on_part_end(void *ud)
{
    struct upload *u = ud;
    u->in_file = 0;
    return SL_OK;
}

/* read the whole body: raw, or through the form parser */
static enum sl_err produce(struct upload *u, struct mp_parser *mp)
{
    unsigned char *b = malloc(READ_CHUNK);
    if (!b)
        return SL_ENOMEM;
    enum sl_err e = SL_OK;
    for (;;) {
        size_t got;
        enum sl_err re = http_read(u->h, b, READ_CHUNK, &got);
        if (got)
            e = mp ? mp_feed(mp, b, got) : take(u, b, got);
        if (e)
            break;
        if (re) {
            e = re;
            break;
        }
        if (got < READ_CHUNK)
            break;   /* the end of the body */
    }
    free(b);
    if (e)
        return e;
    if (mp) {
        if ((e = mp_finish(mp)))
            return e;
        if (!u->file_seen)
            return SL_EBADREQ;
    } else if (u->announced != PIPE_SIZE_UNKNOWN && u->received != u->announced) {
        return SL_ECLIENT_GONE;   /* fewer bytes than Content-Length: the body was cut */
    }
    return SL_OK;
}

/* the commit: the record, one small PUT whatever the size; the drop appears here */
static enum sl_err commit(struct upload *u)
{
    unsigned char d[32];
    unsigned int l;
    EVP_DigestFinal_ex(u->sha, d, &l);
    sigv4_hex(d, 32, u->meta.sha256);
    u->meta.size = u->received;
    /* the content decides, not what the client said it was */
    snprintf(u->meta.image, sizeof u->meta.image, "%s",
             img_type_name(img_sniff(u->head, u->head_len)));
    struct s3_kv kv[DROP_META_KV];
    struct buf scratch = BUF_INIT(8192);
    struct s3_result r = S3_RESULT_INIT;
    struct s3_body empty = {.length = 0, .mem = ""};
    size_t n;
    enum sl_err e;
    /* the ETag the link will serve, and nothing else: a write after this one is refused */
    if ((e = s3_head_object(u->c, buf_str(&u->bytes), &r)))
        goto out;
    drop_etag_copy(r.etag, u->meta.etag);
    if ((e = drop_meta_to_kv(&u->meta, 0, kv, &n, &scratch)))
        goto out;
    struct s3_put_opts o = {.content_type = u->meta.content_type, .meta = kv, .n_meta = n};
    u->record_attempted = 1;
    e = s3_put_object(u->c, buf_str(&u->record), &empty, &o, &r);
out:
    s3_result_free(&r);
    buf_free(&scratch);
    return e;
}

/* 1 if the key is gone (deleted now or never there) */
static int delete_key(struct upload *u, const struct buf *key)
{
    struct s3_result r = S3_RESULT_INIT;
    enum sl_err e = s3_delete_object(u->c, buf_str(key), &r);
    s3_result_free(&r);
    if (e && e != SL_ES3_NOTFOUND)
        fprintf(stderr, "sluice-fcgi: upload %s: delete %s: %s\n", u->meta.id, buf_str(key),
                sl_err_str(e));
    return !e || e == SL_ES3_NOTFOUND;
}

/* After a failed commit, meta/<id> as it should be: 1 when it is. A reservation still open
 * shows "uploading" again (its pending record); one cancelled meanwhile (or committed by
 * another stream into it) keeps whatever is there unless it is this upload's own record. */
static int undo_record(struct upload *u)
{
    const char *prefix = u->x->cfg.s3.prefix;
    if (!u->reserved || !u->resv.published)
        return delete_key(u, &u->record);
    struct drop_resv now;
    struct drop_meta there;
    enum sl_err e = drop_reservation(u->c, prefix, u->meta.id, &now);
    if (e == SL_OK)
        return drop_publish(u->c, prefix, &u->resv) == SL_OK;
    if (e != SL_ENOTFOUND)
        return 0;
    if ((e = drop_load(u->c, prefix, u->meta.id, &there)) == SL_ENOTFOUND)
        return 1;
    return !e && (strcmp(there.etag, u->meta.etag) != 0 || delete_key(u, &u->record));
}

/* The client hears first, then the undo runs: a rollback may have to wait for S3 (it may be
 * the reason we are here), and the client should not. The slot stays held until it is done. */
static void rollback(struct upload *u, enum sl_err why)
{
    set_state(u, UP_ROLLING_BACK);
    if (why != SL_ECLIENT_GONE) {
        http_reply_error(u->h, why, NULL, NULL);
        http_flush(u->h);
    }
    /* the marker goes last, and only when all else is gone: it is how the janitor finds
     * what a rollback could not remove (S3 down is often why we are rolling back) */
    int clean = 0;
    for (int round = 0; !clean && round < ROLLBACK_ROUNDS; round++) {
        if (round) /* S3 may be back in a moment (a restart, a pause): the slot waits too */
            usleep((useconds_t)(250000u << round));
        clean = 1;
        if (u->record_attempted)
            clean &= undo_record(u);
        enum sl_err pe = u->pipe ? pipe_cleanup(u->pipe) : SL_OK;
        if (pe) {
            fprintf(stderr, "sluice-fcgi: upload %s: undoing its S3 upload: %s\n", u->meta.id,
                    sl_err_str(pe));
            clean = 0;
        }
    }
    if (!clean)
        fprintf(stderr, "sluice-fcgi: upload %s: rollback incomplete, its reservation stays "
                "for the janitor\n", u->meta.id);
    else if (u->marker_written && !u->reserved)   /* a reservation stays: the client may retry */
        delete_key(u, &u->marker);
    METRIC_ADD(&u->x->m, rolled_back[why < SL_ERR_COUNT ? why : SL_EINTERNAL], 1);
    set_state(u, UP_ROLLED_BACK);
}

static void set_idle_timeout(struct http *h, long seconds)
{
    struct timeval tv = {seconds, 0};
    setsockopt(http_fd(h), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static void run_upload(struct ctx *x, struct http *h, struct upload *u, int form)
{
    const struct upload_config *uc = &x->cfg.upload;
    const char *prefix = x->cfg.s3.prefix;
    struct mp_parser *mp = NULL;
    const struct mp_callbacks cbs = {on_part_begin, on_part_data, on_part_end};
    enum sl_err e;

    if (!quota_take_slots(x, h, u->t, u->slot))
        return;
    set_state(u, UP_SLOT_TAKEN);
    METRIC_ADD(&x->m, uploads_started, 1);
    if (!(u->sha = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(u->sha, EVP_sha256(), NULL)) {
        e = SL_ENOMEM;
        goto out;
    }
    if (!u->reserved) {
        if ((e = drop_new_id(u->meta.id)) || (e = drop_new_token(u->token)))
            goto out;
        drop_token_hash(u->token, u->meta.token_hash);
    }
    u->meta.created = time(NULL);
    if ((e = drop_key(&u->marker, prefix, "reserved", u->meta.id)) ||
        (e = drop_key(&u->bytes, prefix, "drops", u->meta.id)) ||
        (e = drop_key(&u->record, prefix, "meta", u->meta.id)))
        goto out;
    if (form && (e = mp_new(u->boundary, &cbs, u, &mp)))
        goto out;
    if ((e = queue_new((size_t)uc->buffer_cap, &u->q)))
        goto out;
    u->track = (struct inflight_entry){.q = u->q, .received = &u->received,
                                       .announced = u->announced};
    snprintf(u->track.id, sizeof u->track.id, "%s", u->meta.id);
    inflight_add(&x->inflight, &u->track);
    if (atomic_load(&x->stopping)) {
        e = SL_ESHUTDOWN;
        goto out;
    }
    if (u->reserved) {
        u->marker_written = 1;   /* made beforehand; removed once the drop exists */
    } else {
        /* the reservation: S3 is reached now, before any body byte is read; it also lets the
         * share page say "uploading" (with progress, on this host) until the drop exists */
        u->meta.size = u->announced == PIPE_SIZE_UNKNOWN ? 0 : u->announced;
        drop_content_type(u->client_type, u->meta.name, u->meta.content_type);
        /* no upload capability: this request is the only one that ever writes into it */
        struct drop_resv rv = {.m = u->meta, .kind = "stream"};
        e = drop_reserve(u->c, prefix, &rv);
        u->marker_written = !e;
        if (e)
            goto out;
    }
    if (!form && (e = open_bytes(u)))   /* a form opens them at its file part */
        goto out;
    set_state(u, UP_S3_OPEN);
    set_idle_timeout(h, uc->idle_timeout);
    set_state(u, UP_STREAMING);
    enum sl_err pe = produce(u, mp), we = SL_OK;
    if (pe)
        queue_abort(u->q, pe);
    else
        queue_close(u->q);
    set_state(u, UP_DRAINING);
    if (u->pipe) {
        struct pipe_stats st;
        we = pipe_wait(u->pipe, &st);
        METRIC_ADD(&x->m, bytes_out, st.bytes);
    }
    struct queue_stats qs;
    queue_get_stats(u->q, &qs);
    metrics_max(&x->m.queue_high_water, qs.high_water);
    /* the producer's reason is the first cause, unless it only relayed the pipe's */
    if ((e = pe ? pe : we))
        goto out;
    set_state(u, UP_COMMITTING);
    if ((e = commit(u)))
        goto out;
    set_state(u, UP_COMMITTED);
    METRIC_ADD(&x->m, uploads_committed, 1);
    METRIC_ADD(u->t, committed, 1);
    if (u->reserved)
        quota_unreserve(x, u->t, u->meta.id);
    /* a thumbnail job, made later: the reply never waits for the thumbnail itself. If this
     * fails the drop is still fine; the first request for its thumbnail makes it. */
    if (x->spool && strcmp(u->meta.image, "none") != 0 &&
        spool_submit(x->spool, u->meta.id) != SL_OK)
        fprintf(stderr, "sluice-fcgi: %s: could not queue its thumbnail\n", u->meta.id);
    reply_drop(x, h, &u->meta, u->reserved ? NULL : u->token);
    http_flush(h);
    delete_key(u, &u->marker);   /* after the reply: it only guarded the upload */
out:
    if (e)
        rollback(u, e);
    mp_free(mp);
}

/* PUT ...?id=<id>: upload into a reservation made by POST /api/drops?reserve, with its upload
 * token. 1 if u now streams into it, else 0 with the reply sent. */
static int use_reservation(struct ctx *x, struct http *h, struct s3_client *c, const char *id,
                           struct upload *u)
{
    struct drop_resv rv;
    struct drop_meta m;
    if (drop_load(c, x->cfg.s3.prefix, id, &m) != SL_ENOTFOUND ||
        drop_reservation(c, x->cfg.s3.prefix, id, &rv) != SL_OK || strcmp(rv.kind, "stream")) {
        http_reply_error(h, SL_ENOTFOUND, "no such reservation (expired or used?)", NULL);
        return 0;
    }
    if (!auth_require_cap(h, auth_upload_token(h), rv.upload_hash, "upload token"))
        return 0;
    memcpy(u->meta.id, rv.m.id, sizeof rv.m.id);
    memcpy(u->meta.token_hash, rv.m.token_hash, sizeof rv.m.token_hash);
    u->reserved = 1;
    u->resv = rv;
    /* the reserving token's limits and ledger entry, whoever streams into it */
    u->t = quota_owner(&x->quota, u->t, rv.token);
    if (u->announced != PIPE_SIZE_UNKNOWN && u->announced > u->t->max_size) {
        http_reply_error(h, SL_ETOOBIG, NULL, NULL);
        return 0;
    }
    return 1;
}

static void upload(struct ctx *x, struct http *h, struct s3_client *c, const char *name,
                   int form)
{
    struct upload u;
    memset(&u, 0, sizeof u);
    u.x = x;
    u.h = h;
    u.c = c;
    u.slot[0] = u.slot[1] = -1;
    buf_init(&u.marker, 4096);
    buf_init(&u.bytes, 4096);
    buf_init(&u.record, 4096);
    buf_init(&u.scratch, 8192);
    struct buf dec = BUF_INIT(4096);
    uint64_t cl;

    if (!(u.t = auth_require_upload(x, h)))
        goto out;
    if (content_length(h, &cl)) {
        http_reply_error(h, SL_EBADREQ, "bad Content-Length", NULL);
        goto out;
    }
    if (form) {
        if (mp_boundary(http_header(h, "Content-Type"), u.boundary)) {
            http_reply_error(h, SL_EBADREQ,
                             "expected multipart/form-data with a boundary and a 'file' part",
                             NULL);
            goto out;
        }
        if (cl != PIPE_SIZE_UNKNOWN && cl > u.t->max_size + FORM_OVERHEAD) {
            http_reply_error(h, SL_ETOOBIG, NULL, NULL);
            goto out;
        }
        u.announced = PIPE_SIZE_UNKNOWN;   /* the file's size is known only at its end */
    } else {
        if (cl != PIPE_SIZE_UNKNOWN && cl > u.t->max_size) {
            http_reply_error(h, SL_ETOOBIG, NULL, NULL);   /* before reading a byte */
            goto out;
        }
        u.announced = cl;
        if (drop_pct_decode(&dec, name, strlen(name))) {
            http_reply_error(h, SL_EBADREQ, "the filename is not valid percent-encoding", NULL);
            goto out;
        }
        drop_sanitize_name(dec.data, dec.len, u.meta.name);
        if (!strncmp(h->query, "id=", 3) && !use_reservation(x, h, c, h->query + 3, &u))
            goto out;
        const char *ct = http_header(h, "Content-Type");
        snprintf(u.client_type, sizeof u.client_type, "%s", ct ? ct : "");
    }
    run_upload(x, h, &u, form);
out:
    quota_release_slots(u.slot);
    pipe_free(u.pipe);
    inflight_remove(&x->inflight, &u.track);
    queue_free(u.q);
    EVP_MD_CTX_free(u.sha);
    buf_free(&dec);
    buf_free(&u.marker);
    buf_free(&u.bytes);
    buf_free(&u.record);
    buf_free(&u.scratch);
    OPENSSL_cleanse(u.token, sizeof u.token);
}

/* POST /api/reservations (or POST /api/drops?reserve, which front servers cannot buffer, being
 * the upload route): a share link now, its bytes later through PUT ...?id= */
static void reserve(struct ctx *x, struct http *h, struct s3_client *c, int unbuffered)
{
    struct buf body = BUF_INIT(64 * 1024), url = BUF_INIT(8192);
    struct body_reserve rb;
    struct drop_resv rv = {.kind = "stream", .published = x->cfg.upload.pending_records};
    struct drop_meta *m = &rv.m;
    struct cap up = {0};
    char token[DROP_TOKEN_LEN + 1];
    enum sl_err e;
    int counted = 0;
    struct token *t = auth_require_upload(x, h);
    if (!t)
        goto out;
    if (!http_body_pool(h, &body, unbuffered))
        goto out;
    if ((e = body_parse_reserve(body.data ? body.data : "", body.len, &rb))) {
        http_reply_error(h, e, "expected JSON {\"name\": ..., \"size\": ...}", NULL);
        goto out;
    }
    if ((e = drop_new_id(m->id)) || (e = drop_new_token(token)) || (e = cap_new(&up))) {
        http_reply_error(h, e, NULL, NULL);
        goto out;
    }
    memcpy(m->name, rb.name, sizeof m->name);
    drop_content_type(NULL, m->name, m->content_type);
    drop_token_hash(token, m->token_hash);
    m->created = time(NULL);
    m->size = rb.size;
    memcpy(rv.upload_hash, up.hash, sizeof up.hash);
    snprintf(rv.token, sizeof rv.token, "%s", t->name);
    if (rb.size > t->max_size) {
        http_reply_error(h, SL_ETOOBIG, NULL, NULL);
        goto out;
    }
    if (!(counted = quota_reserve(x, h, t, m->id, m->created + x->cfg.upload.reserve_ttl)))
        goto out;
    if ((e = drop_reserve(c, x->cfg.s3.prefix, &rv))) {
        http_reply_error(h, e, NULL, NULL);
        goto out;
    }
    if ((e = http_base_url(h, x->cfg.upload.public_url, &url)) ||
        (e = buf_puts(&url, "/api/drops/")) || (e = drop_pct_encode(&url, m->name)) ||
        (e = buf_printf(&url, "?id=%s", m->id))) {
        drop_withdraw(c, x->cfg.s3.prefix, m->id);   /* undo: nobody got its tokens */
        http_reply_error(h, e, NULL, NULL);
        goto out;
    }
    counted = 0;   /* open until its PUT commits, or it expires */
    /* the upload token goes with every PUT into it (X-Upload-Token); the link is public */
    http_reply_json(h, 201,
                    json_pack("{s:s,s:o,s:s,s:s,s:o}", "id", m->id, "url",
                              reply_link(x, h, "/d/%s", m->id), "delete_token", token,
                              "upload_token", up.token, "upload_url",
                              http_json_str(buf_str(&url))),
                    NULL);
out:
    if (counted)
        quota_unreserve(x, t, m->id);
    buf_free(&body);
    buf_free(&url);
    cap_clear(&up);
    OPENSSL_cleanse(token, sizeof token);
}

HANDLER(upload_post)
{
    (void)m;
    if (!strcmp(h->query, "reserve") || !strncmp(h->query, "reserve&", 8))
        return reserve(x, h, c, 1);   /* the upload route: front servers stream its bodies */
    upload(x, h, c, "", 1);
}

HANDLER(upload_reserve)
{
    (void)m;
    reserve(x, h, c, 0);
}

HANDLER(upload_put)
{
    upload(x, h, c, m->arg[0], 0);
}
