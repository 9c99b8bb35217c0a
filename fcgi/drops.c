/* Reading and deleting drops: the share page, the download redirect, DELETE. The bytes never
 * flow through the worker: downloads are 302s to short-lived presigned S3 URLs. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "drop.h"
#include "json.h"

/* pages: no inline script at all; the one script (/share.js, the owner's delete button) and
 * the stylesheet come from this origin's static files; user files never render here */
#define PAGE_HEADERS                                                                        \
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "    \
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "             \
    "frame-ancestors 'none'\r\n"                                                            \
    "X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n"

enum sl_err app_base_url(const struct app *app, const struct http *h, struct buf *out)
{
    buf_reset(out);
    if (app->cfg.upload.public_url && *app->cfg.upload.public_url) {
        const char *u = app->cfg.upload.public_url;
        size_t n = strlen(u);
        while (n && u[n - 1] == '/')
            n--;
        return buf_append(out, u, n);
    }
    const char *scheme = http_param(h, "REQUEST_SCHEME");
    const char *https = http_param(h, "HTTPS");
    if (!scheme)
        scheme = https && *https && strcmp(https, "off") ? "https" : "http";
    const char *host = http_header(h, "Host");
    if (!host || !*host || strpbrk(host, " /\\\"<>'\r\n@?#"))
        host = "localhost";
    enum sl_err e = buf_printf(out, "%s://%s", scheme, host);
    /* Debian's fastcgi_params passes nginx's $host, which has no port: add SERVER_PORT */
    const char *port = http_param(h, "SERVER_PORT");
    int def = !strcmp(scheme, "https") ? 443 : 80;
    if (!e && !strchr(host, ':') && !strchr(host, ']') && port && atoi(port) > 0 &&
        atoi(port) != def && strspn(port, "0123456789") == strlen(port))
        e = buf_printf(out, ":%s", port);
    return e;
}

void reply_drop(struct app *app, struct http *h, const struct drop_meta *m, const char *token)
{
    struct buf base = BUF_INIT(4096), j = BUF_INIT(16384), hdr = BUF_INIT(4096);
    app_base_url(app, h, &base);
    char created[32];
    struct tm tm;
    gmtime_r(&m->created, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *b = buf_str(&base);
    buf_printf(&j, "{\"id\":\"%s\",\"url\":", m->id);
    buf_printf(&hdr, "%s/d/%s", b, m->id);
    json_str(&j, buf_str(&hdr));
    buf_puts(&j, ",\"download_url\":");
    buf_puts(&hdr, "/download");
    json_str(&j, buf_str(&hdr));
    buf_puts(&j, ",\"thumbnail_url\":");
    if (strcmp(m->image, "none") != 0) {
        buf_reset(&hdr);
        buf_printf(&hdr, "%s/d/%s/thumbnail", b, m->id);
        json_str(&j, buf_str(&hdr));
    } else {
        buf_puts(&j, "null");
    }
    buf_puts(&j, ",\"name\":");
    json_str(&j, m->name);
    buf_printf(&j, ",\"size\":%llu,\"content_type\":", (unsigned long long)m->size);
    json_str(&j, m->content_type);
    if (m->sha256[0])
        buf_printf(&j, ",\"sha256\":\"%s\"", m->sha256);
    else
        buf_puts(&j, ",\"sha256\":null");
    if (token)
        buf_printf(&j, ",\"delete_token\":\"%s\"", token);
    else
        buf_puts(&j, ",\"delete_token\":null");
    buf_printf(&j, ",\"created_at\":\"%s\"}\n", created);
    buf_reset(&hdr);
    buf_printf(&hdr, "Location: %s/d/%s\r\n", b, m->id);
    if (http_wants_json(h)) {
        http_reply_json(h, 201, &j, buf_str(&hdr));
    } else {
        /* curl -T, ShareX and friends: the share link as plain text (and the delete token in a
         * header, so nothing else lands in a shell pipeline) */
        struct buf t = BUF_INIT(4096);
        buf_printf(&t, "%s/d/%s\n", b, m->id);
        if (token)
            buf_printf(&hdr, "X-Delete-Token: %s\r\n", token);
        http_reply(h, 201, "text/plain; charset=utf-8", buf_str(&hdr), t.data, t.len);
        buf_free(&t);
    }
    buf_free(&base);
    buf_free(&j);
    buf_free(&hdr);
}

/* HEAD the drop and parse its metadata; replies 404/5xx itself on failure */
/* a reservation whose bytes have not landed: the share page says so instead of 404 */
static int uploading_page(struct app *app, struct http *h, struct s3_client *c, const char *id,
                          int json)
{
    struct buf key = BUF_INIT(4096), b = BUF_INIT(8192);
    struct s3_result r = {0};
    struct drop_meta m;
    int shown = 0;
    char msg[200];
    /* bytes that went straight to S3 without a complete call (a stock Uppy's simple upload):
     * committed on first sight; the caller then finds the drop */
    if (direct_commit(app, c, id, NULL, &m, msg, sizeof msg) == SL_OK) {
        buf_free(&key);
        buf_free(&b);
        return -1;
    }
    if (!drop_key(&key, app->cfg.s3.prefix, "reserved", id) &&
        s3_head_object(c, buf_str(&key), &r) == SL_OK && !drop_meta_from_result(&r, id, &m)) {
        uint64_t got = 0, total = 0;
        int here = app_progress(app, id, &got, &total);
        if (json) {
            buf_printf(&b, "{\"id\":\"%s\",\"status\":\"uploading\",\"name\":", id);
            json_str(&b, m.name);
            buf_printf(&b, ",\"size\":%llu", (unsigned long long)m.size);
            if (here)
                buf_printf(&b, ",\"received\":%llu", (unsigned long long)got);
            buf_puts(&b, "}\n");
            http_reply_json(h, 200, &b, "Vary: Accept\r\n");
        } else {
            buf_puts(&b, "<!doctype html>\n<html lang=en><meta charset=utf-8>"
                         "<meta name=viewport content=\"width=device-width,initial-scale=1\">"
                         "<meta http-equiv=refresh content=3><title>Uploading…</title>\n"
                         "<link rel=stylesheet href=\"/style.css\">\n<main class=share>"
                         "<h1 class=name>");
            http_html_escape(&b, m.name);
            buf_puts(&b, "</h1>\n<p id=status role=status>Still uploading");
            if (here && total != UINT64_MAX && total > 0)
                buf_printf(&b, ": %llu%% (%llu of %llu bytes)", (unsigned long long)(got * 100 / total),
                           (unsigned long long)got, (unsigned long long)total);
            else if (here)
                buf_printf(&b, ": %llu bytes so far", (unsigned long long)got);
            buf_puts(&b, ". This page refreshes by itself.</p>\n</main>\n");
            http_reply(h, 200, "text/html; charset=utf-8", PAGE_HEADERS "Vary: Accept\r\n",
                       b.data, b.len);
        }
        shown = 1;
    }
    s3_result_free(&r);
    buf_free(&key);
    buf_free(&b);
    return shown;
}

static int load_or_uploading(struct app *app, struct http *h, struct s3_client *c,
                             const char *id, struct drop_meta *m, int json, int uploading);

static int load(struct app *app, struct http *h, struct s3_client *c, const char *id,
                struct drop_meta *m, int json)
{
    return load_or_uploading(app, h, c, id, m, json, 0);
}

static int load_or_uploading(struct app *app, struct http *h, struct s3_client *c,
                             const char *id, struct drop_meta *m, int json, int uploading)
{
    if (!drop_valid_id(id)) {
        http_reply_error(h, SL_ENOTFOUND, NULL, NULL);
        return 0;
    }
    struct buf key = BUF_INIT(4096);
    struct s3_result r = {0};
    enum sl_err e = drop_key(&key, app->cfg.s3.prefix, "meta", id);
    if (!e)
        e = s3_head_object(c, buf_str(&key), &r);
    if (!e && drop_meta_from_result(&r, id, m))
        e = SL_ENOTFOUND;   /* an object without sluice's metadata is not a drop */
    s3_result_free(&r);
    buf_free(&key);
    if (e == SL_ES3_NOTFOUND)
        e = SL_ENOTFOUND;
    if (e == SL_ENOTFOUND && uploading) {
        int shown = uploading_page(app, h, c, id, json);
        if (shown < 0)   /* it was just committed: load it */
            return load_or_uploading(app, h, c, id, m, json, 0);
        if (shown)
            return 0;
    }
    if (e) {
        if (json || e != SL_ENOTFOUND) {
            http_reply_error(h, e, NULL, NULL);
        } else {
            static const char page[] =
                "<!doctype html>\n<html lang=en><meta charset=utf-8><meta name=viewport "
                "content=\"width=device-width,initial-scale=1\"><title>Not found</title>\n"
                "<link rel=stylesheet href=\"/style.css\">\n<main class=share><h1>Not found</h1>"
                "<p>This drop does not exist (or was deleted).</p>"
                "<p><small><a href=\"/\">Share a file</a></small></p></main>\n";
            http_reply(h, 404, "text/html; charset=utf-8", PAGE_HEADERS, page, sizeof page - 1);
        }
        return 0;
    }
    return 1;
}

static void human_size(uint64_t n, char out[32])
{
    static const char *const u[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int i = 0;
    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    if (i == 0)
        snprintf(out, 32, "%llu bytes", (unsigned long long)n);
    else
        snprintf(out, 32, "%.1f %s", v, u[i]);
}

void handle_share(struct app *app, struct http *h, struct s3_client *c, const char *id)
{
    const char *accept = http_header(h, "Accept");
    int json = accept && strstr(accept, "application/json") && !strstr(accept, "text/html");
    struct drop_meta m;
    if (!load_or_uploading(app, h, c, id, &m, json, 1))
        return;
    struct buf base = BUF_INIT(4096), b = BUF_INIT(65536), link = BUF_INIT(4096);
    app_base_url(app, h, &base);
    char created[32], size[32];
    struct tm tm;
    gmtime_r(&m.created, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    buf_printf(&link, "%s/d/%s/download", buf_str(&base), m.id);
    if (json) {
        buf_printf(&b, "{\"id\":\"%s\",\"name\":", m.id);
        json_str(&b, m.name);
        buf_printf(&b, ",\"size\":%llu,\"content_type\":", (unsigned long long)m.size);
        json_str(&b, m.content_type);
        if (m.sha256[0])
            buf_printf(&b, ",\"sha256\":\"%s\"", m.sha256);
        else
            buf_puts(&b, ",\"sha256\":null");   /* a direct upload: never seen by sluice */
        buf_printf(&b, ",\"created_at\":\"%s\",\"download_url\":", created);
        json_str(&b, buf_str(&link));
        if (strcmp(m.image, "none") != 0)
            buf_printf(&b, ",\"thumbnail_url\":\"%s/d/%s/thumbnail\"", buf_str(&base), m.id);
        buf_puts(&b, "}\n");
        http_reply_json(h, 200, &b, "Vary: Accept\r\n");
    } else {
        human_size(m.size, size);
        int image = strcmp(m.image, "none") != 0;
        struct buf thumb = BUF_INIT(4096);
        buf_printf(&thumb, "%s/d/%s/thumbnail", buf_str(&base), m.id);
        buf_puts(&b, "<!doctype html>\n<html lang=en><meta charset=utf-8>"
                     "<meta name=viewport content=\"width=device-width,initial-scale=1\">"
                     "<title>");
        http_html_escape(&b, m.name);
        buf_puts(&b, "</title>\n<meta property=\"og:type\" content=\"website\">"
                     "\n<meta property=\"og:title\" content=\"");
        http_html_escape(&b, m.name);
        buf_printf(&b, "\">\n<meta property=\"og:description\" content=\"%s, ", size);
        http_html_escape(&b, m.content_type);
        buf_puts(&b, "\">\n<meta property=\"og:url\" content=\"");
        http_html_escape(&b, buf_str(&base));
        buf_printf(&b, "/d/%s\">\n", m.id);
        if (image) {
            buf_puts(&b, "<meta property=\"og:image\" content=\"");
            http_html_escape(&b, buf_str(&thumb));
            buf_puts(&b, "\">\n<meta name=\"twitter:card\" content=\"summary_large_image\">\n");
        } else {
            buf_puts(&b, "<meta name=\"twitter:card\" content=\"summary\">\n");
        }
        buf_puts(&b, "<link rel=stylesheet href=\"/style.css\">\n"
                     "<script src=\"/share.js\" defer></script>\n"
                     "<main class=share>\n<h1 class=name>");
        http_html_escape(&b, m.name);
        buf_printf(&b, "</h1>\n<p class=facts><span>%s</span> &middot; <span>", size);
        http_html_escape(&b, m.content_type);
        char shown[40];
        strftime(shown, sizeof shown, "%d %b %Y, %H:%M UTC", &tm);
        buf_printf(&b, "</span> &middot; uploaded <time datetime=\"%s\">%s</time></p>\n", created,
                   shown);
        if (image)
            buf_printf(&b, "<p><img class=thumb src=\"/d/%s/thumbnail\" alt=\"preview of the "
                           "image\"></p>\n", m.id);
        buf_puts(&b, "<p class=actions><a class=button id=download href=\"");
        http_html_escape(&b, buf_str(&link));
        buf_printf(&b, "\" download>Download</a> <button type=button id=delete hidden "
                       "data-id=\"%s\">Delete</button></p>\n<p id=status role=status></p>\n",
                   m.id);
        if (m.sha256[0])
            buf_printf(&b, "<p><small>SHA-256 <code>%s</code></small></p>\n", m.sha256);
        buf_puts(&b, "<p><small><a href=\"/\">Share a file</a></small></p>\n</main>\n");
        buf_free(&thumb);
        http_reply(h, 200, "text/html; charset=utf-8", PAGE_HEADERS "Vary: Accept\r\n", b.data,
                   b.len);
    }
    buf_free(&base);
    buf_free(&b);
    buf_free(&link);
}

void handle_download(struct app *app, struct http *h, struct s3_client *c, const char *id)
{
    struct drop_meta m;
    if (!load(app, h, c, id, &m, 1))
        return;
    struct buf key = BUF_INIT(4096), cd = BUF_INIT(4096), q = BUF_INIT(8192);
    struct buf url = BUF_INIT(16384), hdr = BUF_INIT(16384);
    enum sl_err e = drop_key(&key, app->cfg.s3.prefix, "drops", id);
    if (!e)
        e = drop_content_disposition(&cd, "attachment", m.name);
    if (!e)
        e = buf_puts(&q, "response-content-disposition=");
    if (!e)
        e = drop_pct_encode(&q, buf_str(&cd));
    if (!e)
        e = s3_presign(&app->cfg.s3, "GET", buf_str(&key), buf_str(&q), NULL, 0,
                       app->cfg.upload.download_expires, time(NULL), &url);
    if (!e)
        e = buf_printf(&hdr, "Location: %s\r\n", buf_str(&url));
    if (e) {
        http_reply_error(h, e, NULL, NULL);
    } else {
        static const char body[] = "{\"redirect\":true}\n";
        http_reply(h, 302, "application/json", buf_str(&hdr), body, sizeof body - 1);
    }
    buf_free(&key);
    buf_free(&cd);
    buf_free(&q);
    buf_free(&url);
    buf_free(&hdr);
}

void handle_delete(struct app *app, struct http *h, struct s3_client *c, const char *id)
{
    const char *token = http_header(h, "X-Delete-Token");
    struct drop_meta m;
    if (!load(app, h, c, id, &m, 1))
        return;
    if (!token || !drop_token_matches(token, m.token_hash)) {
        http_reply_error(h, SL_EFORBIDDEN, "the delete token does not match", NULL);
        return;
    }
    /* the record first: the drop disappears at once; then the bytes */
    struct buf key = BUF_INIT(4096);
    struct s3_result r = {0};
    enum sl_err e = drop_key(&key, app->cfg.s3.prefix, "meta", id);
    if (!e)
        e = s3_delete_object(c, buf_str(&key), &r);
    if (!e)
        e = drop_key(&key, app->cfg.s3.prefix, "drops", id);
    if (!e)
        e = s3_delete_object(c, buf_str(&key), &r);
    if (!e && !drop_key(&key, app->cfg.s3.prefix, "thumbs", id))
        s3_delete_object(c, buf_str(&key), &r);   /* none for non-images: fine either way */
    s3_result_free(&r);
    buf_free(&key);
    if (e)
        http_reply_error(h, e, NULL, NULL);
    else
        http_reply(h, 204, NULL, NULL, NULL, 0);
}

#define THUMB_MAX (4u << 20)    /* a thumbnail is tens of KB; never buffer more than this */
#define THUMB_WAIT_MS 20000     /* how long the lazy path waits for a thumbnail being made */

/* fetch thumbs/<id>; SL_ES3_NOTFOUND if there is none yet */
static enum sl_err fetch_thumb(struct app *app, struct s3_client *c, const char *id,
                               struct buf *body, char *ctype, size_t ctlen)
{
    struct buf key = BUF_INIT(4096);
    struct s3_result r = {0};
    buf_reset(body);
    enum sl_err e = drop_key(&key, app->cfg.s3.prefix, "thumbs", id);
    if (!e)
        e = s3_get_object(c, buf_str(&key), NULL, s3_write_to_buf, body, &r);
    if (!e)
        snprintf(ctype, ctlen, "%s", !strcmp(r.content_type, "image/webp") ? "image/webp"
                                                                          : "image/jpeg");
    s3_result_free(&r);
    buf_free(&key);
    return e;
}

/* run `sluice-thumbd -m id` in a child process with a deadline; its exit status, or -1 */
static int run_thumbd(struct app *app, const char *id)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* only async-signal-safe calls here: this process has many threads */
        close_range(3, ~0U, 0);
        if (app->cfgpath)
            execl(app->thumbd, app->thumbd, "-c", app->cfgpath, "-m", id, (char *)NULL);
        else
            execl(app->thumbd, app->thumbd, "-m", id, (char *)NULL);
        _exit(127);
    }
    for (int waited = 0;; waited += 10) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (r < 0 || waited >= THUMB_WAIT_MS) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(10000);
    }
}

static void send_thumb(struct http *h, const struct buf *body, const char *ctype)
{
    http_reply(h, 200, ctype, "Cache-Control: public, max-age=86400\r\n", body->data,
               body->len);
}

void handle_thumbnail(struct app *app, struct http *h, struct s3_client *c, const char *id)
{
    struct buf body = BUF_INIT(THUMB_MAX);
    char ctype[32];
    struct drop_meta m;
    int lock = -1, code;
    if (!drop_valid_id(id)) {
        http_reply_error(h, SL_ENOTFOUND, NULL, NULL);
        goto out;
    }
    enum sl_err e = fetch_thumb(app, c, id, &body, ctype, sizeof ctype);
    if (!e) {
        send_thumb(h, &body, ctype);
        goto out;
    }
    if (e != SL_ES3_NOTFOUND) {
        http_reply_error(h, e, NULL, NULL);
        goto out;
    }
    if (!load(app, h, c, id, &m, 1))
        goto out;
    if (!strcmp(m.image, "none")) {
        http_reply_error(h, SL_ENOTFOUND, "this drop is not an image: it has no thumbnail", NULL);
        goto out;
    }
    /* make it now, once: one maker per drop on this host; the others wait and find it made */
    if (app->spool && spool_lock_id(app->spool, id, THUMB_WAIT_MS, &lock) != SL_OK) {
        http_reply_error(h, SL_EBUSY, "the thumbnail is being made, retry shortly",
                         "Retry-After: 2\r\n");
        goto out;
    }
    if (fetch_thumb(app, c, id, &body, ctype, sizeof ctype) == SL_OK) {
        send_thumb(h, &body, ctype);
        goto out;
    }
    struct spool_job job;
    int claimed = app->spool && spool_claim_id(app->spool, id, &job) == SL_OK;
    code = run_thumbd(app, id);
    if (code == 0 && fetch_thumb(app, c, id, &body, ctype, sizeof ctype) == SL_OK) {
        if (claimed)
            spool_done(app->spool, &job);
        send_thumb(h, &body, ctype);
    } else if (code == 2) {
        if (claimed)
            spool_fail(app->spool, &job, "refused by the thumbnailer", time(NULL), 1);
        http_reply_error(h, SL_EUNPROCESSABLE, "this image cannot be made into a thumbnail",
                         NULL);
    } else {
        if (claimed)
            spool_fail(app->spool, &job, "the lazy path failed", time(NULL), 0);
        http_reply_error(h, SL_EINTERNAL, "making the thumbnail failed", NULL);
    }
out:
    spool_unlock(lock);
    buf_free(&body);
}
