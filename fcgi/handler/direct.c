/* Direct-to-S3 uploads: sluice signs beforehand and verifies afterwards; the bytes never pass
 * through the worker.
 *   POST /api/uploads                 {"name", "size", "content_type", "mode": "put"|"post"}
 *                                     -> a reservation + how to upload (presigned PUT with
 *                                        content-length and content-type signed, or a POST
 *                                        policy for exactly this key and size)
 *   POST /api/uploads/{id}/complete   -> HEAD the object, check its size, write the record:
 *                                        the drop exists (201, as a streamed upload)
 * The reservation is the marker reserved/<id> (drop/drop.h), carrying what was declared. */
#include <string.h>
#include <time.h>

#include "auth.h"
#include "body.h"
#include "ctx.h"
#include "drop.h"
#include "handlers.h"
#include "http.h"
#include "reply.h"
#include "s3.h"

#define BODY_MAX (64 * 1024)

/* the presigned PUT (content-length and content-type signed: S3 refuses another size) */
static enum sl_err put_upload(const struct ctx *x, const char *key, const struct drop_meta *m,
                              long ttl, time_t now, json_t **out)
{
    struct buf url = BUF_INIT(16384);
    char len[24];
    enum sl_err e;
    snprintf(len, sizeof len, "%llu", (unsigned long long)m->size);
    struct s3_kv hd[2] = {{"content-length", len}, {"content-type", (char *)m->content_type}};
    if ((e = s3_presign(&x->cfg.s3, "PUT", key, NULL, hd, 2, ttl, now, &url)))
        goto out;
    *out = json_pack("{s:s,s:o,s:{s:o}}", "method", "PUT", "url", http_json_str(buf_str(&url)),
                     "headers", "Content-Type", http_json_str(m->content_type));
    e = *out ? SL_OK : SL_ENOMEM;
out:
    buf_free(&url);
    return e;
}

/* the POST policy: this exact key, content-length-range = the declared size, the type */
static enum sl_err post_upload(const struct ctx *x, const char *key, const struct drop_meta *m,
                               long ttl, time_t now, json_t **out)
{
    struct s3_post_form form = {0};
    struct s3_post_opts pp = {.key = key, .min_size = m->size,
                              .max_size = m->size ? m->size : 1,
                              .content_type = m->content_type, .success_status = 201,
                              .expires = ttl};
    json_t *fields = NULL;
    enum sl_err e;
    if ((e = s3_post_policy(&x->cfg.s3, &pp, now, &form)))
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
    return e;
}

HANDLER(direct_create)
{
    (void)m;
    struct buf body = BUF_INIT(BODY_MAX), key = BUF_INIT(4096);
    struct body_create r;
    struct drop_meta d = {0};
    char token[DROP_TOKEN_LEN + 1], expires[32];
    json_t *up = NULL;
    enum sl_err e;
    int reserved = 0;
    if (!auth_require_upload(x, h))
        goto out;
    if ((e = http_read_all(h, &body)) ||
        (e = body_parse_create(body.data ? body.data : "", body.len, &r))) {
        http_reply_error(h, SL_EBADREQ,
                         "expected JSON {\"name\": ..., \"size\": ..., \"content_type\": ..., "
                         "\"mode\": \"put\" or \"post\"}", NULL);
        goto out;
    }
    if (r.size > x->cfg.upload.max_size || r.size > (5ull << 30)) {
        http_reply_error(h, SL_ETOOBIG, NULL, NULL);   /* a single PUT/POST: at most 5 GiB */
        goto out;
    }
    time_t now = time(NULL);
    long ttl = x->cfg.upload.direct_expires;
    if ((e = drop_new_id(d.id)) || (e = drop_new_token(token)))
        goto fail;
    memcpy(d.name, r.name, sizeof d.name);
    drop_content_type(r.content_type, d.name, d.content_type);
    drop_token_hash(token, d.token_hash);
    d.created = now;
    d.size = r.size;
    /* the reservation carries what was declared: the complete step checks against it */
    if ((e = drop_reserve(c, x->cfg.s3.prefix, &d, "direct", NULL, 0)))
        goto fail;
    reserved = 1;
    if ((e = drop_key(&key, x->cfg.s3.prefix, "drops", d.id)))
        goto fail;
    if ((e = r.post ? post_upload(x, buf_str(&key), &d, ttl, now, &up)
                    : put_upload(x, buf_str(&key), &d, ttl, now, &up)))
        goto fail;
    http_iso8601(now + ttl, expires);
    http_reply_json(h, 201,
                    json_pack("{s:s,s:o,s:s,s:s,s:o,s:O}", "id", d.id, "url",
                              reply_link(x, h, "/d/%s", d.id), "delete_token", token,
                              "expires_at", expires, "complete_url",
                              reply_link(x, h, "/api/uploads/%s/complete", d.id), "upload", up),
                    NULL);
    goto out;
fail:
    if (reserved)
        drop_unreserve(c, x->cfg.s3.prefix, d.id);   /* nothing can use it */
    http_reply_error(h, e, NULL, NULL);
out:
    json_decref(up);
    buf_free(&body);
    buf_free(&key);
}

HANDLER(direct_complete)
{
    const char *id = m->arg[0];
    struct drop_meta d;
    char msg[256], sha[65];
    struct buf body = BUF_INIT(BODY_MAX);
    enum sl_err e;
    if (!auth_require_upload(x, h))
        goto out;
    if (!drop_valid_id(id)) {
        http_reply_error(h, SL_ENOTFOUND, "no such reservation", NULL);
        goto out;
    }
    /* optional body: {"sha256": "<hex>"} to have the upload checked */
    if ((e = http_read_all(h, &body)) ||
        (e = body_parse_complete(body.data ? body.data : "", body.len, sha))) {
        http_reply_error(h, e, "expected nothing, or JSON {\"sha256\": \"<64 hex>\"}", NULL);
        goto out;
    }
    if ((e = drop_commit_direct(c, x->cfg.s3.prefix, x->spool, id, sha[0] ? sha : NULL, &d, msg,
                                sizeof msg))) {
        http_reply_error(h, e, msg[0] ? msg : NULL, NULL);
        goto out;
    }
    METRIC_ADD(&x->m, uploads_committed, 1);
    reply_drop(x, h, &d, NULL);
out:
    buf_free(&body);
}
