/* Direct-to-S3 uploads: sluice signs beforehand and verifies afterwards; the bytes never pass
 * through the worker.
 *   POST /api/uploads                 {"name", "size", "content_type", "mode": "put"|"post"}
 *                                     -> a reservation + how to upload (presigned PUT with
 *                                        content-length and content-type signed, or a POST
 *                                        policy for exactly this key and size)
 *   POST /api/uploads/{id}/complete   -> HEAD the object, check its size, write the record:
 *                                        the drop exists (201, as a streamed upload)
 *   DELETE /api/uploads/{id}          -> cancel: the bytes (if any) and the reservation go
 * Every call after the first carries the upload token it handed out (X-Upload-Token).
 * The reservation is the marker reserved/<id> (drop/drop.h), carrying what was declared. */
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "body.h"
#include "cap.h"
#include "ctx.h"
#include "drop.h"
#include "handlers.h"
#include "http.h"
#include "reply.h"
#include "s3.h"
#include "slots.h"

#define BODY_MAX (64 * 1024)
/* the canned ACL every direct upload carries: the signers' policy refuses any other */
#define DIRECT_ACL "bucket-owner-full-control"

/* the presigned PUT (content-length and content-type signed: S3 refuses another size) */
static enum sl_err put_upload(const struct ctx *x, const char *key, const struct drop_meta *m,
                              long ttl, time_t now, json_t **out)
{
    struct buf url = BUF_INIT(16384), cd = BUF_INIT(4096);
    char len[24];
    enum sl_err e;
    snprintf(len, sizeof len, "%llu", (unsigned long long)m->size);
    if ((e = buf_puts(&cd, STORED_DISPOSITION)))
        goto out;
    /* every header a client could add unsigned is signed (or useless to the signer's key):
     * the size, the type, attachment (the storage origin never renders it), and the ACL that
     * keeps the object the bucket owner's while the signer's policy refuses any other */
    struct s3_kv hd[4] = {{"content-disposition", (char *)buf_str(&cd)},
                          {"content-length", len},
                          {"content-type", (char *)m->content_type},
                          {"x-amz-acl", DIRECT_ACL}};
    if ((e = s3_presign(&x->put_signer, "PUT", key, NULL, hd, 4, ttl, now, &url)))
        goto out;
    *out = json_pack("{s:s,s:o,s:{s:o,s:o,s:s}}", "method", "PUT", "url",
                     http_json_str(buf_str(&url)), "headers", "Content-Type",
                     http_json_str(m->content_type), "Content-Disposition",
                     http_json_str(buf_str(&cd)), "x-amz-acl", DIRECT_ACL);
    e = *out ? SL_OK : SL_ENOMEM;
out:
    buf_free(&url);
    buf_free(&cd);
    return e;
}

/* the POST policy: this exact key, content-length-range = the declared size, the type */
static enum sl_err post_upload(const struct ctx *x, const char *key, const struct drop_meta *m,
                               long ttl, time_t now, json_t **out)
{
    struct s3_post_form form = {0};
    struct buf cd = BUF_INIT(4096);
    json_t *fields = NULL;
    enum sl_err e;
    if ((e = buf_puts(&cd, STORED_DISPOSITION)))
        goto out;
    struct s3_post_opts pp = {.key = key, .min_size = m->size, .max_size = m->size,
                              .content_type = m->content_type, .success_status = 201,
                              .expires = ttl, .acl = DIRECT_ACL,
                              .content_disposition = buf_str(&cd)};
    if ((e = s3_post_policy(&x->put_signer, &pp, now, &form)))
        goto out;
    e = SL_ENOMEM;
    if (!(fields = json_object()))
        goto out;
    for (size_t i = 0; i < form.n_fields; i++)
        json_object_set_new(fields, form.fields[i].name, http_json_str(form.fields[i].value));
    *out = json_pack("{s:s,s:o,s:O}", "method", "POST", "url",
                     http_json_str(buf_str(&form.url)), "fields", fields);
    if (*out)
        e = SL_OK;
out:
    json_decref(fields);
    s3_post_form_free(&form);
    buf_free(&cd);
    return e;
}

HANDLER(direct_create)
{
    (void)m;
    struct buf body = BUF_INIT(BODY_MAX), key = BUF_INIT(4096);
    struct body_create r;
    struct drop_resv rv = {.kind = "direct", .published = x->cfg.upload.pending_records};
    struct drop_meta *d = &rv.m;
    struct cap up = {0};
    char token[DROP_TOKEN_LEN + 1], expires[32];
    json_t *up_json = NULL;
    enum sl_err e;
    int reserved = 0, counted = 0;
    struct token *t = auth_require_upload(x, h);
    if (!t)
        goto out;
    if (!http_body(h, &body))
        goto out;
    if ((e = body_parse_create(body.data ? body.data : "", body.len, &r))) {
        http_reply_error(h, SL_EBADREQ,
                         "expected JSON {\"name\": ..., \"size\": ..., \"content_type\": ..., "
                         "\"mode\": \"put\" or \"post\"}", NULL);
        goto out;
    }
    if (r.size == 0) {   /* nothing to sign for: an empty file streams (PUT /api/drops) */
        http_reply_error(h, SL_EBADREQ, "a direct upload needs at least one byte; send an empty "
                         "file with PUT /api/drops/{name}", NULL);
        goto out;
    }
    if (r.size > t->max_size || r.size > (5ull << 30)) {
        http_reply_error(h, SL_ETOOBIG, NULL, NULL);   /* a single PUT/POST: at most 5 GiB */
        goto out;
    }
    time_t now = time(NULL);
    long ttl = x->cfg.upload.direct_expires;
    if ((e = drop_new_id(d->id)) || (e = drop_new_token(token)) || (e = cap_new(&up)))
        goto fail;
    memcpy(d->name, r.name, sizeof d->name);
    drop_content_type(r.content_type, d->name, d->content_type);
    drop_token_hash(token, d->token_hash);
    d->created = now;
    d->size = r.size;
    memcpy(rv.upload_hash, up.hash, sizeof up.hash);
    snprintf(rv.token, sizeof rv.token, "%s", t->name);
    if (!(counted = quota_reserve(x, h, t, d->id, now + x->cfg.upload.reserve_ttl)))
        goto out;
    /* the reservation carries what was declared: the complete step checks against it */
    if ((e = drop_reserve(c, x->cfg.s3.prefix, &rv)))
        goto fail;
    reserved = 1;
    if ((e = drop_key(&key, x->cfg.s3.prefix, "drops", d->id)))
        goto fail;
    if ((e = r.post ? post_upload(x, buf_str(&key), d, ttl, now, &up_json)
                    : put_upload(x, buf_str(&key), d, ttl, now, &up_json)))
        goto fail;
    http_iso8601(now + ttl, expires);
    http_reply_json(h, 201,
                    json_pack("{s:s,s:o,s:s,s:s,s:s,s:o,s:O}", "id", d->id, "url",
                              reply_link(x, h, "/d/%s", d->id), "delete_token", token,
                              "upload_token", up.token, "expires_at", expires, "complete_url",
                              reply_link(x, h, "/api/uploads/%s/complete", d->id), "upload",
                              up_json),
                    NULL);
    counted = 0;   /* open until completed, cancelled or expired */
    goto out;
fail:
    if (reserved)
        drop_withdraw(c, x->cfg.s3.prefix, d->id);   /* nothing can use it */
    http_reply_error(h, e, NULL, NULL);
out:
    if (counted)
        quota_unreserve(x, t, d->id);
    json_decref(up_json);
    cap_clear(&up);
    OPENSSL_cleanse(token, sizeof token);
    buf_free(&body);
    buf_free(&key);
}

/* the reservation id names, if the request holds its upload token: 1, else 0 with the reply
 * sent (404 none, 409 completed already, 403 the token) */
static int owned_reservation(struct ctx *x, struct http *h, struct s3_client *c, const char *id,
                             struct drop_resv *rv)
{
    struct drop_meta m;
    enum sl_err e = drop_load(c, x->cfg.s3.prefix, id, &m);
    if (e == SL_OK) {   /* a record, even with its marker still there: it is a drop now */
        http_reply_error(h, SL_ECONFLICT, "this upload was completed already", NULL);
        return 0;
    }
    if (e == SL_ENOTFOUND)
        e = drop_reservation(c, x->cfg.s3.prefix, id, rv);
    if (e) {
        http_reply_error(h, e, e == SL_ENOTFOUND ? "no such reservation" : NULL, NULL);
        return 0;
    }
    return auth_require_cap(h, auth_upload_token(h), rv->upload_hash, "upload token");
}

HANDLER(direct_complete)
{
    const char *id = m->arg[0];
    struct drop_resv rv;
    struct drop_meta d;
    char msg[256], sha[65];
    struct buf body = BUF_INIT(BODY_MAX);
    int slot[2] = {-1, -1};
    enum sl_err e;
    struct token *t = auth_require_upload(x, h);
    if (!t || !owned_reservation(x, h, c, id, &rv))
        goto out;
    t = quota_owner(&x->quota, t, rv.token);
    /* optional body: {"sha256": "<hex>"} to have the upload checked */
    if (!http_body(h, &body))
        goto out;
    if ((e = body_parse_complete(body.data ? body.data : "", body.len, sha))) {
        http_reply_error(h, e, "expected nothing, or JSON {\"sha256\": \"<64 hex>\"}", NULL);
        goto out;
    }
    /* a checksum means reading every byte through this thread: that takes an upload slot,
     * like a streamed upload, so such completes cannot hold every thread */
    if (sha[0] && !quota_take_slots(x, h, t, slot))
        goto out;
    if ((e = drop_commit_direct(c, x->cfg.s3.prefix, x->spool, id, &rv, sha[0] ? sha : NULL, &d,
                                msg, sizeof msg))) {
        http_reply_error(h, e, msg[0] ? msg : NULL, NULL);
        goto out;
    }
    METRIC_ADD(&x->m, uploads_committed, 1);
    METRIC_ADD(t, committed, 1);
    quota_unreserve(x, t, id);
    reply_drop(x, h, &d, NULL);
out:
    quota_release_slots(slot);
    buf_free(&body);
}

HANDLER(direct_cancel)
{
    const char *id = m->arg[0];
    struct drop_resv rv;
    enum sl_err e;
    struct token *t = auth_require_upload(x, h);
    if (!t || !owned_reservation(x, h, c, id, &rv))
        return;
    t = quota_owner(&x->quota, t, rv.token);
    /* a stream into it on this host stops and rolls back; then the bytes, the marker last */
    inflight_abort_id(&x->inflight, id, SL_ECONFLICT);
    if ((e = drop_discard(c, x->cfg.s3.prefix, id)))
        return http_reply_error(h, e, "could not remove everything yet; the janitor will", NULL);
    quota_unreserve(x, t, id);
    http_reply(h, 204, NULL, NULL, NULL, 0);
}
