/* Uppy compatibility: the Companion-style S3 routes that @uppy/aws-s3 calls, with the same
 * paths and JSON, so a stock Uppy uploads straight to S3 through sluice's signatures.
 *   GET    /s3/params?filename=&type=                  presigned POST (simple upload)
 *   POST   /s3/multipart            {filename, type}  -> {key, uploadId, bucket}
 *   GET    /s3/multipart/{uploadId}?key=              -> [{PartNumber, ETag, Size}]
 *   GET    /s3/multipart/{uploadId}/{n}?key=          -> {url, expires}
 *   GET    /s3/multipart/{uploadId}/batch?key=&partNumbers=1,2 -> {presignedUrls: {...}}
 *   POST   /s3/multipart/{uploadId}/complete?key=  {parts: [{PartNumber, ETag}]}
 *                                                  -> {location, key, bucket} (+ the drop)
 *   DELETE /s3/multipart/{uploadId}?key=              -> {}
 * Keys are made by sluice (<prefix>drops/<id>, each with a reservation). The upload's
 * capability (drop/cap.h) rides in the uploadId sluice hands out — "<upload token>.<S3's upload
 * id>" — which a stock @uppy/aws-s3 passes back verbatim on every call, so every call on the
 * upload proves it; the key is also only accepted back with the bearer token that reserved it.
 * Every answer also carries sluice's own id and share link. A simple upload
 * has no completion call: its drop is committed the first time anyone looks at it. */
#include <stdio.h>
#include <stdlib.h>
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
#include "sigv4.h"

/* a new reservation for a browser upload of unknown size, bound to this caller; fills rv and
 * the two capabilities. autocommit: no complete call will come (the simple POST). */
static enum sl_err reserve(struct ctx *x, struct http *h, struct s3_client *c,
                           const char *name, const char *type, struct drop_resv *rv,
                           char token[DROP_TOKEN_LEN + 1], struct cap *up, int autocommit)
{
    enum sl_err e;
    struct drop_meta *d = &rv->m;
    strcpy(rv->kind, "direct");
    rv->any_size = 1;
    rv->autocommit = autocommit;
    rv->published = x->cfg.upload.pending_records;
    /* reserve_counted made the id */
    if ((e = drop_new_token(token)) || (e = cap_new(up)))
        return e;
    drop_sanitize_name(name, strlen(name), d->name);
    drop_content_type(type, d->name, d->content_type);
    drop_token_hash(token, d->token_hash);
    d->created = time(NULL);
    memcpy(rv->upload_hash, up->hash, sizeof up->hash);
    auth_client_hash(h, rv->client);
    return drop_reserve(c, x->cfg.s3.prefix, rv);
}

/* reserve(), counted against t until expires (quota.h); 1, or 0 with the reply sent */
static int reserve_counted(struct ctx *x, struct http *h, struct s3_client *c,
                           struct token *t, time_t expires, const char *name,
                           const char *type, struct drop_resv *rv,
                           char token[DROP_TOKEN_LEN + 1], struct cap *up, int autocommit)
{
    enum sl_err e;
    /* the id is made first so that the count refuses before S3 is reached */
    memset(rv, 0, sizeof *rv);
    if ((e = drop_new_id(rv->m.id))) {
        http_reply_error(h, e, NULL, NULL);
        return 0;
    }
    char id[DROP_ID_LEN + 1];
    memcpy(id, rv->m.id, sizeof id);
    snprintf(rv->token, sizeof rv->token, "%s", t->name);
    if (!quota_reserve(x, h, t, id, expires))
        return 0;
    if ((e = reserve(x, h, c, name, type, rv, token, up, autocommit))) {
        quota_unreserve(x, t, id);
        http_reply_error(h, e, NULL, NULL);
        return 0;
    }
    return 1;
}

/* sluice's id and share link (and the delete token, when new) in every answer */
static void extras(const struct ctx *x, const struct http *h, json_t *j, const char *id,
                   const char *token)
{
    json_object_set_new(j, "id", json_string(id));
    json_object_set_new(j, "share_url", reply_link(x, h, "/d/%s", id));
    if (token)
        json_object_set_new(j, "delete_token", json_string(token));
}

static json_t *form_fields(const struct s3_post_form *f)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < f->n_fields; i++)
        json_object_set_new(o, f->fields[i].name, http_json_str(f->fields[i].value));
    return o;
}

HANDLER(uppy_params)
{
    (void)m;
    struct buf name = BUF_INIT(4096), type = BUF_INIT(512), key = BUF_INIT(4096);
    struct buf cd = BUF_INIT(4096);
    struct drop_resv rv;
    struct drop_meta *d = &rv.m;
    struct cap up = {0};
    char token[DROP_TOKEN_LEN + 1];
    struct s3_post_form f = {0};
    long ttl = x->cfg.upload.direct_expires;
    int reserved = 0;
    enum sl_err e;
    struct token *t = auth_require_upload(x, h);
    if (!t)
        goto out;
    drop_query_get(h->query, "filename", &name);
    drop_query_get(h->query, "type", &type);
    /* open while its POST may still come: nothing can write into it afterwards */
    if (!reserve_counted(x, h, c, t, time(NULL) + ttl, name.len ? buf_str(&name) : "file",
                         buf_str(&type), &rv, token, &up, 1))
        goto out;
    reserved = 1;
    if ((e = drop_key(&key, x->cfg.s3.prefix, "drops", d->id)))
        goto fail;
    if ((e = buf_puts(&cd, STORED_DISPOSITION)))
        goto fail;
    struct s3_post_opts po = {.key = buf_str(&key), .min_size = 1,
                              .max_size = t->max_size,
                              .content_type = d->content_type, .success_status = 201,
                              .expires = ttl, .acl = "bucket-owner-full-control",
                              .content_disposition = buf_str(&cd)};
    if ((e = s3_post_policy(&x->put_signer, &po, time(NULL), &f)))
        goto fail;
    json_t *j = json_pack("{s:s,s:o,s:o,s:i}", "method", "POST", "url",
                          http_json_str(buf_str(&f.url)), "fields", form_fields(&f), "expires",
                          (int)ttl);
    if (j) {
        extras(x, h, j, d->id, token);
        json_object_set_new(j, "upload_token", json_string(up.token));
    }
    http_reply_json(h, 200, j, NULL);
    goto out;
fail:
    if (reserved) {
        drop_withdraw(c, x->cfg.s3.prefix, d->id);
        quota_unreserve(x, t, d->id);
    }
    http_reply_error(h, e, NULL, NULL);
out:
    cap_clear(&up);
    buf_free(&cd);
    s3_post_form_free(&f);
    buf_free(&name);
    buf_free(&type);
    buf_free(&key);
}

HANDLER(uppy_create)
{
    (void)m;
    struct buf body = BUF_INIT(1 << 20), key = BUF_INIT(4096);
    struct body_uppy_create b;
    struct drop_resv rv;
    struct drop_meta *d = &rv.m;
    struct cap up = {0};
    struct s3_result r = S3_RESULT_INIT;
    char token[DROP_TOKEN_LEN + 1], *upload_id = NULL;
    struct buf opaque = BUF_INIT(4096);
    int reserved = 0;
    enum sl_err e;
    struct token *t = auth_require_upload(x, h);
    if (!t)
        goto out;
    if (!http_body(h, &body))
        goto out;
    if (body_parse_uppy_create(body.data ? body.data : "", body.len, &b)) {
        e = SL_EBADREQ;
        goto fail;
    }
    if (!reserve_counted(x, h, c, t, time(NULL) + x->cfg.upload.reserve_ttl, b.name, b.type,
                         &rv, token, &up, 0))
        goto out;
    reserved = 1;
    struct s3_put_opts po = {.content_type = d->content_type};
    if ((e = drop_key(&key, x->cfg.s3.prefix, "drops", d->id)) ||
        (e = s3_mpu_create(c, buf_str(&key), &po, &upload_id, &r)) ||
        (e = buf_printf(&opaque, "%s.%s", up.token, upload_id)))
        goto fail;
    json_t *j = json_pack("{s:o,s:o,s:o}", "key", http_json_str(buf_str(&key)), "uploadId",
                          http_json_str(buf_str(&opaque)), "bucket",
                          http_json_str(x->cfg.s3.bucket));
    if (j)
        extras(x, h, j, d->id, token);
    http_reply_json(h, 200, j, NULL);
    goto out;
fail:
    if (upload_id)   /* undo: nothing can use it */
        s3_mpu_abort(c, buf_str(&key), upload_id, &r);
    if (reserved) {
        drop_withdraw(c, x->cfg.s3.prefix, d->id);
        quota_unreserve(x, t, d->id);
    }
    http_reply_error(h, e, NULL, NULL);
out:
    cap_clear(&up);
    buf_free(&opaque);
    s3_result_free(&r);
    free(upload_id);
    buf_free(&body);
    buf_free(&key);
}

/* what every call on a started multipart upload carries: its upload id (the path) and key
 * (the query), the key ours, reserved, and reserved by this caller */
struct mpu {
    struct token *t;
    struct drop_resv rv;
    char upload_id[512];
    char id[DROP_ID_LEN + 1];
    struct buf key;
};

/* 1 with u filled, or 0 with the reply sent */
static int mpu_open(struct ctx *x, struct http *h, struct s3_client *c,
                    const struct route_match *m, struct mpu *u)
{
    struct buf raw = BUF_INIT(1024), want = BUF_INIT(4096);
    struct drop_resv *rv = &u->rv;
    char who[65], token[CAP_LEN + 1];
    int ok = 0;
    buf_init(&u->key, 4096);
    if (!(u->t = auth_require_upload(x, h)))
        goto out;
    /* "<upload token>.<S3's upload id>" */
    const char *enc = m->arg[0];
    if (drop_pct_decode(&raw, enc, strlen(enc)) || raw.len <= CAP_LEN + 1 ||
        raw.data[CAP_LEN] != '.' || raw.len - CAP_LEN - 1 >= sizeof u->upload_id) {
        http_reply_error(h, SL_EBADREQ, "bad upload id", NULL);
        goto out;
    }
    memcpy(token, raw.data, CAP_LEN);
    token[CAP_LEN] = '\0';
    memcpy(u->upload_id, raw.data + CAP_LEN + 1, raw.len - CAP_LEN);
    const char *key;
    if (!drop_query_get(h->query, "key", &u->key) ||
        buf_printf(&want, "%sdrops/", x->cfg.s3.prefix) ||
        strncmp(key = buf_str(&u->key), buf_str(&want), want.len) != 0 ||
        !drop_valid_id(key + want.len))
        goto forbidden;
    strcpy(u->id, key + want.len);
    auth_client_hash(h, who);
    if (drop_reservation(c, x->cfg.s3.prefix, u->id, rv) != SL_OK || !rv->client[0] ||
        (!x->cfg.upload.anonymous && strcmp(rv->client, who) != 0))
        goto forbidden;
    ok = auth_require_cap(h, token, rv->upload_hash, "upload token (in the uploadId)");
    u->t = quota_owner(&x->quota, u->t, rv->token);   /* its limits, whoever continues it */
    goto out;
forbidden:
    http_reply_error(h, SL_EFORBIDDEN, "not an upload this client started", NULL);
out:
    OPENSSL_cleanse(token, sizeof token);
    buf_free(&raw);
    buf_free(&want);
    return ok;
}

/* The highest part number worth signing: every part but the last is at least S3's minimum
 * (Complete refuses smaller ones), so a part numbered past ceil(max_size / 5 MiB) belongs to
 * an upload larger than the token's max_size; and never past S3's 10,000. */
static long max_part_number(struct token *t)
{
    uint64_t n = (t->max_size + S3_MIN_PART_SIZE - 1) / S3_MIN_PART_SIZE;
    return n > S3_MAX_PARTS ? S3_MAX_PARTS : (long)n;
}

/* 1 if part n may be signed, else 0 with the reply sent */
static int part_allowed(struct token *t, struct http *h, long n)
{
    char msg[160];
    long top = max_part_number(t);
    if (n <= top)
        return 1;
    snprintf(msg, sizeof msg, "part %ld: max_size allows at most %ld parts", n, top);
    http_reply_error(h, SL_ETOOBIG, msg, NULL);
    return 0;
}

/* a call that keeps the upload going (signing, listing its parts) is its sign of life: the
 * marker is rewritten now and then (drop_touch), so the janitor leaves a long upload alone */
static void moving(struct ctx *x, struct s3_client *c, struct mpu *u)
{
    time_t now = time(NULL);
    /* it still counts against its token while it moves (an entry that exists is renewed) */
    quota_try_reserve(x, u->t, u->id, now + x->cfg.upload.reserve_ttl);
    enum sl_err e = drop_touch(c, x->cfg.s3.prefix, &u->rv, x->cfg.upload.reserve_ttl, now);
    if (e)   /* not fatal: the janitor also sees the parts S3 stores */
        fprintf(stderr, "sluice: cannot refresh the reservation %s: %s\n", u->id, sl_err_str(e));
}

static enum sl_err sign_part(const struct ctx *x, const struct mpu *u, long n, struct buf *url)
{
    struct buf q = BUF_INIT(4096);
    enum sl_err e;
    if ((e = buf_printf(&q, "partNumber=%ld&uploadId=", n)) ||
        (e = sigv4_uri_encode(&q, u->upload_id, strlen(u->upload_id), 0)))
        goto out;
    e = s3_presign(&x->part_signer, "PUT", buf_str(&u->key), buf_str(&q), NULL, 0,
                   x->cfg.upload.direct_expires, time(NULL), url);
out:
    buf_free(&q);
    return e;
}

HANDLER(uppy_list_parts)
{
    struct mpu u;
    struct s3_part *parts = NULL;
    size_t n = 0;
    struct s3_result r = S3_RESULT_INIT;
    enum sl_err e;
    if (!mpu_open(x, h, c, m, &u))
        goto out;
    moving(x, c, &u);   /* a resuming client lists its parts first */
    if ((e = s3_mpu_list_parts(c, buf_str(&u.key), u.upload_id, &parts, &n, &r))) {
        http_reply_error(h, e, NULL, NULL);
        goto out;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_pack("{s:i,s:o,s:I}", "PartNumber", parts[i].number,
                                           "ETag", http_json_str(parts[i].etag), "Size",
                                           (json_int_t)parts[i].size));
    http_reply_json(h, 200, a, NULL);
out:
    s3_result_free(&r);
    free(parts);
    buf_free(&u.key);
}

HANDLER(uppy_abort)
{
    struct mpu u;
    struct s3_result r = S3_RESULT_INIT;
    if (!mpu_open(x, h, c, m, &u))
        goto out;
    enum sl_err e = s3_mpu_abort(c, buf_str(&u.key), u.upload_id, &r);
    /* no such upload: completed (a complete racing this abort may be writing the record
     * right now) or aborted already; its reservation is the commit's or the janitor's */
    if (e != SL_ES3_NOTFOUND)
        drop_withdraw(c, x->cfg.s3.prefix, u.id);
    quota_unreserve(x, u.t, u.id);
    if (e && e != SL_ES3_NOTFOUND)
        http_reply_error(h, e, NULL, NULL);
    else
        http_reply(h, 200, "application/json", NULL, "{}\n", 3);
out:
    s3_result_free(&r);
    buf_free(&u.key);
}

HANDLER(uppy_sign_batch)
{
    struct mpu u;
    struct buf nums = BUF_INIT(65536), url = BUF_INIT(16384);
    json_t *urls = NULL;
    if (!mpu_open(x, h, c, m, &u))
        goto out;
    moving(x, c, &u);
    drop_query_get(h->query, "partNumbers", &nums);
    if (!(urls = json_object())) {
        http_reply_error(h, SL_ENOMEM, NULL, NULL);
        goto out;
    }
    int count = 0;
    for (char *p = nums.data; p && *p;) {
        char *end, num[24];
        long n = strtol(p, &end, 10);
        if (end == p || n < 1 || n > S3_MAX_PARTS || (*end && *end != ',') || ++count > 1000) {
            http_reply_error(h, SL_EBADREQ, "bad partNumbers", NULL);
            goto out;
        }
        if (!part_allowed(u.t, h, n))
            goto out;
        if (sign_part(x, &u, n, &url)) {
            http_reply_error(h, SL_EINTERNAL, NULL, NULL);
            goto out;
        }
        snprintf(num, sizeof num, "%ld", n);
        json_object_set_new(urls, num, http_json_str(buf_str(&url)));
        p = *end ? end + 1 : end;
    }
    http_reply_json(h, 200, json_pack("{s:O}", "presignedUrls", urls), NULL);
out:
    json_decref(urls);
    buf_free(&nums);
    buf_free(&url);
    buf_free(&u.key);
}

/* ETags equal but for the quotes S3 puts around them (Uppy passes S3's header on verbatim; a
 * client may strip them) */
static int same_etag(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la >= 2 && a[0] == '"' && a[la - 1] == '"') {
        a++;
        la -= 2;
    }
    if (lb >= 2 && b[0] == '"' && b[lb - 1] == '"') {
        b++;
        lb -= 2;
    }
    return la == lb && memcmp(a, b, la) == 0;
}

static int by_number(const void *a, const void *b)
{
    const struct s3_part *x = a, *y = b;
    return (x->number > y->number) - (x->number < y->number);
}

/* The client's parts (1..N, body_parse_uppy_complete) against what S3 holds: each must be
 * there with the client's ETag, and together they must fit max (the token's max_size). On
 * success want carries S3's ETags and sizes. Parts S3 has beyond N are left out (Complete
 * drops them). */
static enum sl_err check_parts(uint64_t max, struct s3_part *want, size_t nwant,
                               struct s3_part *have, size_t nhave, char *msg, size_t cap)
{
    uint64_t total = 0;
    size_t j = 0;
    if (nhave)   /* (none stored: have may be NULL, which qsort must not get) */
        qsort(have, nhave, sizeof *have, by_number);
    for (size_t i = 0; i < nwant; i++) {
        while (j < nhave && have[j].number < want[i].number)
            j++;
        if (j == nhave || have[j].number != want[i].number) {
            snprintf(msg, cap, "part %d is not in the storage", want[i].number);
            return SL_ECONFLICT;
        }
        if (!same_etag(want[i].etag, have[j].etag)) {
            snprintf(msg, cap, "part %d is not the one the storage holds (ETag)", want[i].number);
            return SL_ECONFLICT;
        }
        want[i] = have[j];
        total += have[j].size;
    }
    if (total > max) {
        snprintf(msg, cap, "the parts add up to %llu bytes, more than max_size (%llu)",
                 (unsigned long long)total, (unsigned long long)max);
        return SL_ETOOBIG;
    }
    return SL_OK;
}

/* The client says which parts make its file (Uppy sends them all, with the ETags S3 gave it)
 * and S3's ListParts says what is stored: without the client's list a missing middle part
 * made a truncated drop, committed without an error. A list that is malformed or has a gap
 * is 400, a part S3 does not hold (or holds with another ETag) 409: both leave the multipart
 * upload and the reservation as they were, since @uppy/aws-s3 keeps an upload whose complete
 * failed for a retry and aborts it only when the user cancels (its abort call; otherwise the
 * janitor, after upload.reserve_ttl). Parts adding up to more than the token's max_size
 * are 413, and the upload is aborted and unreserved: no retry can make it fit. */
HANDLER(uppy_complete)
{
    struct mpu u;
    struct buf body = BUF_INIT(1 << 20);
    struct s3_part *want = NULL, *have = NULL;
    size_t nwant = 0, nhave = 0;
    struct s3_result r = S3_RESULT_INIT;
    struct drop_meta d;
    char msg[200] = "";
    enum sl_err e;
    int too_big = 0;   /* check_parts' verdict, not a buffer's cap deeper down */
    if (!mpu_open(x, h, c, m, &u))
        goto out;
    if (!http_body(h, &body))
        goto out;
    if ((e = body_parse_uppy_complete(body.data ? body.data : "", body.len, &want, &nwant))) {
        snprintf(msg, sizeof msg, "the body must list the parts: {\"parts\": [{\"PartNumber\": "
                                  "1, \"ETag\": \"...\"}, ...]}, numbered 1..N");
        goto fail;
    }
    if ((e = s3_mpu_list_parts(c, buf_str(&u.key), u.upload_id, &have, &nhave, &r)))
        goto fail;
    if ((e = check_parts(u.t->max_size, want, nwant, have, nhave, msg, sizeof msg))) {
        too_big = e == SL_ETOOBIG;
        goto fail;
    }
    if ((e = s3_mpu_complete(c, buf_str(&u.key), u.upload_id, want, nwant, &r)) ||
        (e = drop_commit_direct(c, x->cfg.s3.prefix, x->spool, u.id, &u.rv, NULL, &d, msg,
                                sizeof msg)))
        goto fail;
    METRIC_ADD(&x->m, uploads_committed, 1);
    METRIC_ADD(u.t, committed, 1);
    quota_unreserve(x, u.t, u.id);
    json_t *j = json_pack("{s:o,s:o,s:o}", "location", reply_link(x, h, "/d/%s", u.id), "key",
                          http_json_str(buf_str(&u.key)), "bucket",
                          http_json_str(x->cfg.s3.bucket));
    if (j) {
        extras(x, h, j, u.id, NULL);
        json_object_set_new(j, "size", json_integer((json_int_t)d.size));
    }
    http_reply_json(h, 200, j, NULL);
    goto out;
fail:
    if (too_big) {   /* (best effort: what is left is the janitor's) */
        s3_mpu_abort(c, buf_str(&u.key), u.upload_id, &r);
        drop_withdraw(c, x->cfg.s3.prefix, u.id);
        quota_unreserve(x, u.t, u.id);
    }
    http_reply_error(h, e, msg[0] ? msg : NULL, NULL);
out:
    s3_result_free(&r);
    free(want);
    free(have);
    buf_free(&body);
    buf_free(&u.key);
}

HANDLER(uppy_sign_part)
{
    struct mpu u;
    struct buf url = BUF_INIT(16384);
    if (!mpu_open(x, h, c, m, &u))
        goto out;
    char *end;
    long n = strtol(m->arg[1], &end, 10);
    if (*end || n < 1 || n > S3_MAX_PARTS) {
        http_reply_error(h, SL_ENOTFOUND, "no such route", NULL);
        goto out;
    }
    if (!part_allowed(u.t, h, n))
        goto out;
    moving(x, c, &u);
    if (sign_part(x, &u, n, &url)) {
        http_reply_error(h, SL_EINTERNAL, NULL, NULL);
        goto out;
    }
    http_reply_json(h, 200,
                    json_pack("{s:o,s:i}", "url", http_json_str(buf_str(&url)), "expires",
                              (int)x->cfg.upload.direct_expires),
                    NULL);
out:
    buf_free(&url);
    buf_free(&u.key);
}
