/* Direct-to-S3 uploads: sluice signs beforehand and verifies afterwards; the bytes never pass
 * through the worker.
 *   POST /api/uploads                 {"name", "size", "content_type", "mode": "put"|"post"}
 *                                     -> a reservation + how to upload (presigned PUT with
 *                                        content-length and content-type signed, or a POST
 *                                        policy for exactly this key and size)
 *   POST /api/uploads/{id}/complete   -> HEAD the object, check its size, write the record:
 *                                        the drop exists (201, as a streamed upload)
 * The reservation is the marker reserved/<id> (core/drop.h), carrying what was declared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "drop.h"
#include "imghdr.h"
#include "json.h"
#include "pipe.h"

#define BODY_MAX (64 * 1024)

struct create_req {
    char name[DROP_NAME_MAX + 1];
    int has_name;
    uint64_t size;
    int has_size;
    char content_type[128];
    int post;
};

static enum sl_err on_member(void *ud, const char *key, enum json_type t, const char *v,
                             size_t n)
{
    struct create_req *r = ud;
    if (!strcmp(key, "name") && t == JSON_STRING) {
        drop_sanitize_name(v, n, r->name);
        r->has_name = 1;
    } else if (!strcmp(key, "size") && t == JSON_NUMBER) {
        if (n == 0 || n > 19 || strspn(v, "0123456789") != n)
            return SL_EBADREQ;
        r->size = strtoull(v, NULL, 10);
        r->has_size = 1;
    } else if (!strcmp(key, "content_type") && t == JSON_STRING) {
        snprintf(r->content_type, sizeof r->content_type, "%.*s", (int)n, v);
    } else if (!strcmp(key, "mode") && t == JSON_STRING) {
        if (!strcmp(v, "post"))
            r->post = 1;
        else if (strcmp(v, "put") != 0)
            return SL_EBADREQ;
    }
    return SL_OK;   /* unknown members are ignored, as clients add their own */
}

static void iso(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void handle_direct_create(struct app *app, struct http *h, struct s3_client *c)
{
    struct buf body = BUF_INIT(BODY_MAX), key = BUF_INIT(4096), j = BUF_INIT(65536);
    struct buf url = BUF_INIT(16384), base = BUF_INIT(4096), scratch = BUF_INIT(8192);
    struct s3_post_form form = {0};
    struct create_req r = {0};
    struct drop_meta m = {0};
    char token[DROP_TOKEN_LEN + 1], expires[32];
    enum sl_err e;
    if (!app_authorized(app, h)) {
        http_reply_error(h, SL_EUNAUTH, NULL, "WWW-Authenticate: Bearer\r\n");
        goto out;
    }
    if ((e = http_read_all(h, &body)) ||
        (e = json_scan_object(body.data ? body.data : "", body.len, on_member, &r)) ||
        !r.has_name || !r.has_size) {
        http_reply_error(h, SL_EBADREQ,
                         "expected JSON {\"name\": ..., \"size\": ..., \"content_type\": ..., "
                         "\"mode\": \"put\" or \"post\"}", NULL);
        goto out;
    }
    if (r.size > app->cfg.upload.max_size || r.size > (5ull << 30)) {
        http_reply_error(h, SL_ETOOBIG, NULL, NULL);   /* a single PUT/POST: at most 5 GiB */
        goto out;
    }
    time_t now = time(NULL);
    long ttl = app->cfg.upload.direct_expires;
    if ((e = drop_new_id(m.id)) || (e = drop_new_token(token))) {
        http_reply_error(h, e, NULL, NULL);
        goto out;
    }
    memcpy(m.name, r.name, sizeof m.name);
    drop_content_type(r.content_type, m.name, m.content_type);
    drop_token_hash(token, m.token_hash);
    m.created = now;
    m.size = r.size;
    /* the reservation carries what was declared: the complete step checks against it */
    struct s3_kv kv[DROP_META_KV + 1];
    size_t nkv;
    struct s3_result sr = {0};
    struct s3_body empty = {.length = 0, .mem = ""};
    e = drop_meta_to_kv(&m, 0, kv, &nkv, &scratch);
    kv[nkv++] = (struct s3_kv){"kind", "direct"};
    struct s3_put_opts po = {.content_type = m.content_type, .meta = kv, .n_meta = nkv};
    if (!e)
        e = drop_key(&key, app->cfg.s3.prefix, "reserved", m.id);
    if (!e)
        e = s3_put_object(c, buf_str(&key), &empty, &po, &sr);
    s3_result_free(&sr);
    int reserved = !e;
    if (!e)
        e = drop_key(&key, app->cfg.s3.prefix, "drops", m.id);
    if (e) {
        if (reserved)
            drop_unreserve(c, app->cfg.s3.prefix, m.id);
        http_reply_error(h, e, NULL, NULL);
        goto out;
    }
    app_base_url(app, h, &base);
    iso(now + ttl, expires);
    buf_printf(&j, "{\"id\":\"%s\",\"url\":\"%s/d/%s\",\"delete_token\":\"%s\","
                   "\"expires_at\":\"%s\",\"complete_url\":\"%s/api/uploads/%s/complete\","
                   "\"upload\":", m.id, buf_str(&base), m.id, token, expires, buf_str(&base),
               m.id);
    if (!r.post) {
        char len[24];
        snprintf(len, sizeof len, "%llu", (unsigned long long)r.size);
        struct s3_kv hd[2] = {{"content-length", len}, {"content-type", m.content_type}};
        e = s3_presign(&app->cfg.s3, "PUT", buf_str(&key), NULL, hd, 2, ttl, now, &url);
        if (!e) {
            buf_puts(&j, "{\"method\":\"PUT\",\"url\":");
            json_str(&j, buf_str(&url));
            buf_puts(&j, ",\"headers\":{\"Content-Type\":");
            json_str(&j, m.content_type);
            buf_puts(&j, "}}}\n");
        }
    } else {
        struct s3_post_opts pp = {.key = buf_str(&key), .min_size = r.size,
                                  .max_size = r.size ? r.size : 1, .content_type = m.content_type,
                                  .success_status = 201, .expires = ttl};
        e = s3_post_policy(&app->cfg.s3, &pp, now, &form);
        if (!e) {
            buf_puts(&j, "{\"method\":\"POST\",\"url\":");
            json_str(&j, buf_str(&form.url));
            buf_puts(&j, ",\"fields\":{");
            for (size_t i = 0; i < form.n_fields; i++) {
                if (i)
                    buf_putc(&j, ',');
                json_str(&j, form.fields[i].name);
                buf_putc(&j, ':');
                json_str(&j, form.fields[i].value);
            }
            buf_puts(&j, "}}}\n");
        }
    }
    if (e) {
        drop_unreserve(c, app->cfg.s3.prefix, m.id);   /* nothing can use it */
        http_reply_error(h, e, NULL, NULL);
    } else {
        http_reply_json(h, 201, &j, NULL);
    }
out:
    s3_post_form_free(&form);
    buf_free(&body);
    buf_free(&key);
    buf_free(&j);
    buf_free(&url);
    buf_free(&base);
    buf_free(&scratch);
}

enum sl_err direct_commit(struct app *app, struct s3_client *c, const char *id,
                          const char *want_sha256, struct drop_meta *m, char *msg, size_t msglen)
{
    enum sl_err e = drop_commit_direct(c, app->cfg.s3.prefix, app->spool, id, want_sha256, m,
                                       msg, msglen);
    if (!e)
        METRIC_ADD(app, uploads_committed, 1);
    return e;
}

static enum sl_err on_complete_member(void *ud, const char *key, enum json_type t,
                                      const char *v, size_t n)
{
    char *sha = ud;
    if (!strcmp(key, "sha256") && t == JSON_STRING) {
        if (n != 64 || strspn(v, "0123456789abcdef") != 64)
            return SL_EBADREQ;
        memcpy(sha, v, 65);
    }
    return SL_OK;
}

void handle_direct_complete(struct app *app, struct http *h, struct s3_client *c, const char *id)
{
    struct drop_meta m;
    char msg[256], sha[65] = "";
    struct buf body = BUF_INIT(BODY_MAX);
    if (!app_authorized(app, h))
        return http_reply_error(h, SL_EUNAUTH, NULL, "WWW-Authenticate: Bearer\r\n");
    if (!drop_valid_id(id))
        return http_reply_error(h, SL_ENOTFOUND, "no such reservation", NULL);
    /* optional body: {"sha256": "<hex>"} to have the upload checked */
    enum sl_err e = http_read_all(h, &body);
    if (!e && body.len && json_scan_object(body.data, body.len, on_complete_member, sha))
        e = SL_EBADREQ;
    buf_free(&body);
    if (e)
        return http_reply_error(h, e, "expected nothing, or JSON {\"sha256\": \"<64 hex>\"}", NULL);
    e = direct_commit(app, c, id, sha[0] ? sha : NULL, &m, msg, sizeof msg);
    if (e)
        return http_reply_error(h, e, msg[0] ? msg : NULL, NULL);
    reply_drop(app, h, &m, NULL);
}
