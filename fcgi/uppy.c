/* Uppy compatibility: the Companion-style S3 routes that @uppy/aws-s3 calls, with the same
 * paths and JSON, so a stock Uppy uploads straight to S3 through sluice's signatures.
 *   GET    /s3/params?filename=&type=                  presigned POST (simple upload)
 *   POST   /s3/multipart            {filename, type}  -> {key, uploadId, bucket}
 *   GET    /s3/multipart/{uploadId}?key=              -> [{PartNumber, ETag, Size}]
 *   GET    /s3/multipart/{uploadId}/{n}?key=          -> {url, expires}
 *   GET    /s3/multipart/{uploadId}/batch?key=&partNumbers=1,2 -> {presignedUrls: {...}}
 *   POST   /s3/multipart/{uploadId}/complete?key=     -> {location, key, bucket} (+ the drop)
 *   DELETE /s3/multipart/{uploadId}?key=              -> {}
 * Keys are made by sluice (<prefix>drops/<id>, each with a reservation); a key is only
 * accepted back from the client that reserved it (its bearer token's hash is on the
 * reservation). Every answer also carries sluice's own id and share link. A simple upload
 * has no completion call: its drop is committed the first time anyone looks at it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "drop.h"
#include "json.h"
#include "sigv4.h"

static void client_hash(const struct http *h, char out[65])
{
    const char *a = http_header(h, "Authorization");
    sigv4_sha256_hex(a ? a : "", a ? strlen(a) : 0, out);
}

/* a new reservation for a browser upload of unknown size; fills m and token */
static enum sl_err reserve(struct app *app, struct http *h, struct s3_client *c,
                           const char *name, const char *type, struct drop_meta *m,
                           char token[DROP_TOKEN_LEN + 1])
{
    memset(m, 0, sizeof *m);
    enum sl_err e = drop_new_id(m->id);
    if (!e)
        e = drop_new_token(token);
    if (e)
        return e;
    drop_sanitize_name(name, strlen(name), m->name);
    drop_content_type(type, m->name, m->content_type);
    drop_token_hash(token, m->token_hash);
    m->created = time(NULL);
    struct s3_kv kv[DROP_META_KV + 3];
    size_t n;
    struct buf scratch = BUF_INIT(8192), key = BUF_INIT(4096);
    char who[65];
    client_hash(h, who);
    e = drop_meta_to_kv(m, 0, kv, &n, &scratch);
    kv[n++] = (struct s3_kv){"declared", "no"};
    kv[n++] = (struct s3_kv){"kind", "direct"};
    kv[n++] = (struct s3_kv){"client", who};
    struct s3_put_opts po = {.content_type = m->content_type, .meta = kv, .n_meta = n};
    struct s3_body empty = {.length = 0, .mem = ""};
    struct s3_result r = {0};
    if (!e)
        e = drop_key(&key, app->cfg.s3.prefix, "reserved", m->id);
    if (!e)
        e = s3_put_object(c, buf_str(&key), &empty, &po, &r);
    s3_result_free(&r);
    buf_free(&scratch);
    buf_free(&key);
    return e;
}

/* the key the client sent back: ours, reserved, and reserved by this client; *id set */
static int our_key(struct app *app, struct http *h, struct s3_client *c, const char *key,
                   char id[DROP_ID_LEN + 1])
{
    struct buf want = BUF_INIT(4096);
    buf_printf(&want, "%sdrops/", app->cfg.s3.prefix);
    int ok = !strncmp(key, buf_str(&want), want.len) && drop_valid_id(key + want.len);
    if (ok) {
        strcpy(id, key + want.len);
        struct s3_result r = {0};
        drop_key(&want, app->cfg.s3.prefix, "reserved", id);
        char who[65];
        client_hash(h, who);
        const char *owner;
        ok = s3_head_object(c, buf_str(&want), &r) == SL_OK &&
             (owner = s3_result_meta(&r, "client")) != NULL &&
             (app->cfg.upload.anonymous || !strcmp(owner, who));
        s3_result_free(&r);
    }
    buf_free(&want);
    return ok;
}

static void extras(struct app *app, struct http *h, struct buf *j, const char *id,
                   const char *token)
{
    struct buf base = BUF_INIT(4096);
    app_base_url(app, h, &base);
    buf_printf(j, ",\"id\":\"%s\",\"share_url\":\"%s/d/%s\"", id, buf_str(&base), id);
    if (token)
        buf_printf(j, ",\"delete_token\":\"%s\"", token);
    buf_free(&base);
}

static void params(struct app *app, struct http *h, struct s3_client *c)
{
    struct buf name = BUF_INIT(4096), type = BUF_INIT(512), key = BUF_INIT(4096);
    struct buf j = BUF_INIT(65536);
    struct drop_meta m;
    char token[DROP_TOKEN_LEN + 1];
    struct s3_post_form f = {0};
    drop_query_get(h->query, "filename", &name);
    drop_query_get(h->query, "type", &type);
    enum sl_err e = reserve(app, h, c, name.len ? buf_str(&name) : "file", buf_str(&type), &m,
                            token);
    int reserved = !e;
    long ttl = app->cfg.upload.direct_expires;
    if (!e)
        e = drop_key(&key, app->cfg.s3.prefix, "drops", m.id);
    struct s3_post_opts po = {.key = buf_str(&key), .max_size = app->cfg.upload.max_size,
                              .content_type = m.content_type, .success_status = 201,
                              .expires = ttl};
    if (!e)
        e = s3_post_policy(&app->cfg.s3, &po, time(NULL), &f);
    if (e) {
        if (reserved)
            drop_unreserve(c, app->cfg.s3.prefix, m.id);
        http_reply_error(h, e, NULL, NULL);
    } else {
        buf_puts(&j, "{\"method\":\"POST\",\"url\":");
        json_str(&j, buf_str(&f.url));
        buf_puts(&j, ",\"fields\":{");
        for (size_t i = 0; i < f.n_fields; i++) {
            buf_printf(&j, "%s", i ? "," : "");
            json_str(&j, f.fields[i].name);
            buf_putc(&j, ':');
            json_str(&j, f.fields[i].value);
        }
        buf_printf(&j, "},\"expires\":%ld", ttl);
        extras(app, h, &j, m.id, token);
        buf_puts(&j, "}\n");
        http_reply_json(h, 200, &j, NULL);
    }
    s3_post_form_free(&f);
    buf_free(&name);
    buf_free(&type);
    buf_free(&key);
    buf_free(&j);
}

struct create_body {
    char filename[1024];
    char type[128];
};

static enum sl_err on_create(void *ud, const char *k, enum json_type t, const char *v, size_t n)
{
    struct create_body *b = ud;
    if (t == JSON_STRING && !strcmp(k, "filename"))
        snprintf(b->filename, sizeof b->filename, "%.*s", (int)n, v);
    else if (t == JSON_STRING && !strcmp(k, "type"))
        snprintf(b->type, sizeof b->type, "%.*s", (int)n, v);
    return SL_OK;
}

/* the members of a flat object, skipping a nested "metadata": {...} (Uppy sends one) */
static enum sl_err scan_lenient(const char *s, size_t n, json_member_fn cb, void *ud)
{
    struct buf flat = BUF_INIT(64 * 1024);
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (in_str) {
            if (depth <= 1)
                buf_putc(&flat, ch);
            if (ch == '\\' && i + 1 < n) {
                if (depth <= 1)
                    buf_putc(&flat, s[i + 1]);
                i++;
            } else if (ch == '"') {
                in_str = 0;
            }
            continue;
        }
        if (ch == '"')
            in_str = 1;
        if (ch == '{' || ch == '[') {
            if (++depth == 2)
                buf_puts(&flat, "null");
            if (depth > 1)
                continue;
        } else if (ch == '}' || ch == ']') {
            if (depth-- > 1)
                continue;
        } else if (depth > 1) {
            continue;
        }
        buf_putc(&flat, ch);
    }
    enum sl_err e = json_scan_object(buf_str(&flat), flat.len, cb, ud);
    buf_free(&flat);
    return e;
}

static void create(struct app *app, struct http *h, struct s3_client *c)
{
    struct buf body = BUF_INIT(1 << 20), key = BUF_INIT(4096), j = BUF_INIT(8192);
    struct create_body b = {"file", ""};
    struct drop_meta m;
    char token[DROP_TOKEN_LEN + 1], *upload_id = NULL;
    enum sl_err e = http_read_all(h, &body);
    if (!e && body.len && scan_lenient(body.data, body.len, on_create, &b))
        e = SL_EBADREQ;
    if (!e)
        e = reserve(app, h, c, b.filename, b.type, &m, token);
    if (!e)
        e = drop_key(&key, app->cfg.s3.prefix, "drops", m.id);
    struct s3_put_opts po = {.content_type = m.content_type};
    struct s3_result r = {0};
    int reserved = !e;
    if (!e)
        e = s3_mpu_create(c, buf_str(&key), &po, &upload_id, &r);
    if (e && reserved)
        drop_unreserve(c, app->cfg.s3.prefix, m.id);   /* undo the reservation: nothing started */
    s3_result_free(&r);
    if (e) {
        http_reply_error(h, e, NULL, NULL);
    } else {
        buf_puts(&j, "{\"key\":");
        json_str(&j, buf_str(&key));
        buf_puts(&j, ",\"uploadId\":");
        json_str(&j, upload_id);
        buf_puts(&j, ",\"bucket\":");
        json_str(&j, app->cfg.s3.bucket);
        extras(app, h, &j, m.id, token);
        buf_puts(&j, "}\n");
        http_reply_json(h, 200, &j, NULL);
    }
    free(upload_id);
    buf_free(&body);
    buf_free(&key);
    buf_free(&j);
}

static enum sl_err sign_part(struct app *app, const char *key, const char *upload_id, long n,
                             struct buf *url)
{
    struct buf q = BUF_INIT(4096);
    buf_printf(&q, "partNumber=%ld&uploadId=", n);
    sigv4_uri_encode(&q, upload_id, strlen(upload_id), 0);
    enum sl_err e = s3_presign(&app->cfg.s3, "PUT", key, buf_str(&q), NULL, 0,
                               app->cfg.upload.direct_expires, time(NULL), url);
    buf_free(&q);
    return e;
}

static void list_parts_json(struct s3_client *c, struct http *h, const char *key,
                            const char *upload_id)
{
    struct s3_part *parts = NULL;
    size_t n = 0;
    struct s3_result r = {0};
    enum sl_err e = s3_mpu_list_parts(c, key, upload_id, &parts, &n, &r);
    s3_result_free(&r);
    if (e) {
        http_reply_error(h, e, NULL, NULL);
        return;
    }
    struct buf j = BUF_INIT(2u << 20);
    buf_putc(&j, '[');
    for (size_t i = 0; i < n; i++) {
        buf_printf(&j, "%s{\"PartNumber\":%d,\"ETag\":", i ? "," : "", parts[i].number);
        json_str(&j, parts[i].etag);
        buf_printf(&j, ",\"Size\":%llu}", (unsigned long long)parts[i].size);
    }
    buf_puts(&j, "]\n");
    http_reply_json(h, 200, &j, NULL);
    buf_free(&j);
    free(parts);
}

static void multipart_op(struct app *app, struct http *h, struct s3_client *c, const char *rest)
{
    char upload_id[512], id[DROP_ID_LEN + 1];
    const char *slash = strchr(rest, '/');
    size_t ul = slash ? (size_t)(slash - rest) : strlen(rest);
    struct buf key = BUF_INIT(4096), url = BUF_INIT(16384), j = BUF_INIT(1 << 20);
    struct buf raw_id = BUF_INIT(1024), nums = BUF_INIT(65536);
    if (ul == 0 || drop_pct_decode(&raw_id, rest, ul) || raw_id.len >= sizeof upload_id) {
        http_reply_error(h, SL_EBADREQ, "bad upload id", NULL);
        goto out;
    }
    memcpy(upload_id, raw_id.data, raw_id.len + 1);
    if (!drop_query_get(h->query, "key", &key) || !our_key(app, h, c, buf_str(&key), id)) {
        http_reply_error(h, SL_EFORBIDDEN, "not an upload this client started", NULL);
        goto out;
    }
    const char *op = slash ? slash + 1 : "";
    long ttl = app->cfg.upload.direct_expires;
    if (!*op && (!strcmp(h->method, "GET") || h->head)) {
        list_parts_json(c, h, buf_str(&key), upload_id);
    } else if (!*op && !strcmp(h->method, "DELETE")) {
        struct s3_result r = {0};
        enum sl_err e = s3_mpu_abort(c, buf_str(&key), upload_id, &r);
        drop_key(&url, app->cfg.s3.prefix, "reserved", id);
        s3_delete_object(c, buf_str(&url), &r);
        s3_result_free(&r);
        if (e && e != SL_ES3_NOTFOUND)
            http_reply_error(h, e, NULL, NULL);
        else
            http_reply(h, 200, "application/json", NULL, "{}\n", 3);
    } else if (!strcmp(op, "batch") && !strcmp(h->method, "GET")) {
        drop_query_get(h->query, "partNumbers", &nums);
        buf_puts(&j, "{\"presignedUrls\":{");
        int count = 0;
        for (char *p = nums.data; p && *p;) {
            char *end;
            long n = strtol(p, &end, 10);
            if (end == p || n < 1 || n > S3_MAX_PARTS || (*end && *end != ',') || ++count > 1000) {
                http_reply_error(h, SL_EBADREQ, "bad partNumbers", NULL);
                goto out;
            }
            if (sign_part(app, buf_str(&key), upload_id, n, &url)) {
                http_reply_error(h, SL_EINTERNAL, NULL, NULL);
                goto out;
            }
            buf_printf(&j, "%s\"%ld\":", count > 1 ? "," : "", n);
            json_str(&j, buf_str(&url));
            p = *end ? end + 1 : end;
        }
        buf_puts(&j, "}}\n");
        http_reply_json(h, 200, &j, NULL);
    } else if (!strcmp(op, "complete") && !strcmp(h->method, "POST")) {
        /* the parts S3 has are the truth: the client's list is not needed */
        struct s3_part *parts = NULL;
        size_t n = 0;
        struct s3_result r = {0};
        struct drop_meta m;
        char msg[200] = "";
        enum sl_err e = s3_mpu_list_parts(c, buf_str(&key), upload_id, &parts, &n, &r);
        if (!e && n == 0)
            e = SL_ECONFLICT;
        if (!e)
            e = s3_mpu_complete(c, buf_str(&key), upload_id, parts, n, &r);
        if (!e)
            e = direct_commit(app, c, id, NULL, &m, msg, sizeof msg);
        free(parts);
        s3_result_free(&r);
        if (e) {
            http_reply_error(h, e, msg[0] ? msg : NULL, NULL);
            goto out;
        }
        struct buf base = BUF_INIT(4096);
        app_base_url(app, h, &base);
        buf_printf(&j, "{\"location\":\"%s/d/%s\",\"key\":", buf_str(&base), id);
        json_str(&j, buf_str(&key));
        buf_puts(&j, ",\"bucket\":");
        json_str(&j, app->cfg.s3.bucket);
        extras(app, h, &j, id, NULL);
        buf_printf(&j, ",\"size\":%llu}\n", (unsigned long long)m.size);
        http_reply_json(h, 200, &j, NULL);
        buf_free(&base);
    } else if (*op && !strcmp(h->method, "GET")) {
        char *end;
        long n = strtol(op, &end, 10);
        if (*end || n < 1 || n > S3_MAX_PARTS) {
            http_reply_error(h, SL_ENOTFOUND, "no such route", NULL);
            goto out;
        }
        if (sign_part(app, buf_str(&key), upload_id, n, &url)) {
            http_reply_error(h, SL_EINTERNAL, NULL, NULL);
            goto out;
        }
        buf_puts(&j, "{\"url\":");
        json_str(&j, buf_str(&url));
        buf_printf(&j, ",\"expires\":%ld}\n", ttl);
        http_reply_json(h, 200, &j, NULL);
    } else {
        http_reply_error(h, SL_EMETHOD, NULL, NULL);
    }
out:
    buf_free(&key);
    buf_free(&url);
    buf_free(&j);
    buf_free(&raw_id);
    buf_free(&nums);
}

void handle_uppy(struct app *app, struct http *h, struct s3_client *c, const char *rest)
{
    if (!app_authorized(app, h))
        return http_reply_error(h, SL_EUNAUTH, NULL, "WWW-Authenticate: Bearer\r\n");
    if (!strcmp(rest, "params") && !strcmp(h->method, "GET"))
        return params(app, h, c);
    if (!strcmp(rest, "multipart") && !strcmp(h->method, "POST"))
        return create(app, h, c);
    if (!strncmp(rest, "multipart/", 10))
        return multipart_op(app, h, c, rest + 10);
    http_reply_error(h, SL_ENOTFOUND, "no such route", NULL);
}
