/* The share page: GET /d/{id}, as HTML (the page people open) or JSON (Accept:
 * application/json). A reserved id whose bytes have not landed shows "uploading" (with this
 * host's progress); bytes that went straight to S3 without a complete call (a stock Uppy's
 * simple upload) are committed here on first sight. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctx.h"
#include "drop.h"
#include "handlers.h"
#include "http.h"
#include "reply.h"

/* pages: no inline script at all; the one script (/share.js, the owner's delete button) and
 * the stylesheet come from this origin's static files; user files never render here */
#define PAGE_HEADERS                                                                        \
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "    \
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "             \
    "frame-ancestors 'none'\r\n"                                                            \
    "X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n"

static void not_found(struct http *h, int json)
{
    static const char page[] =
        "<!doctype html>\n<html lang=en><meta charset=utf-8><meta name=viewport "
        "content=\"width=device-width,initial-scale=1\"><title>Not found</title>\n"
        "<link rel=stylesheet href=\"/style.css\">\n<main class=share><h1>Not found</h1>"
        "<p>This drop does not exist (or was deleted).</p>"
        "<p><small><a href=\"/\">Share a file</a></small></p></main>\n";
    if (json)
        http_reply_error(h, SL_ENOTFOUND, NULL, NULL);
    else
        http_reply(h, 404, "text/html; charset=utf-8", PAGE_HEADERS, page, sizeof page - 1);
}

/* the reservation of id (what was declared: mp) as an "uploading" page */
static void uploading(struct ctx *x, struct http *h, const char *id, const struct drop_meta *mp,
                      int json)
{
    struct buf b = BUF_INIT(8192);
    uint64_t got = 0, total = 0;
    int here = inflight_progress(&x->inflight, id, &got, &total);
    if (json) {
        json_t *j = json_pack("{s:s,s:s,s:o,s:I}", "id", id, "status", "uploading", "name",
                              http_json_str(mp->name), "size", (json_int_t)mp->size);
        if (j && here)
            json_object_set_new(j, "received", json_integer((json_int_t)got));
        http_reply_json(h, 200, j, "Vary: Accept\r\n");
        goto out;
    }
    buf_puts(&b, "<!doctype html>\n<html lang=en><meta charset=utf-8>"
                 "<meta name=viewport content=\"width=device-width,initial-scale=1\">"
                 "<meta http-equiv=refresh content=3><title>Uploading…</title>\n"
                 "<link rel=stylesheet href=\"/style.css\">\n<main class=share>"
                 "<h1 class=name>");
    http_html_escape(&b, mp->name);
    buf_puts(&b, "</h1>\n<p id=status role=status>Still uploading");
    if (here && total != UINT64_MAX && total > 0)
        buf_printf(&b, ": %llu%% (%llu of %llu bytes)", (unsigned long long)(got * 100 / total),
                   (unsigned long long)got, (unsigned long long)total);
    else if (here)
        buf_printf(&b, ": %llu bytes so far", (unsigned long long)got);
    buf_puts(&b, ". This page refreshes by itself.</p>\n</main>\n");
    http_reply(h, 200, "text/html; charset=utf-8", PAGE_HEADERS "Vary: Accept\r\n", b.data,
               b.len);
out:
    buf_free(&b);
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

static void share_json(const struct ctx *x, struct http *h, const struct drop_meta *m,
                       const char *created)
{
    json_t *j = json_pack("{s:s,s:o,s:I,s:o}", "id", m->id, "name", http_json_str(m->name),
                          "size", (json_int_t)m->size, "content_type",
                          http_json_str(m->content_type));
    if (j) {
        /* null: a direct upload, never seen by sluice */
        json_object_set_new(j, "sha256", m->sha256[0] ? json_string(m->sha256) : json_null());
        json_object_set_new(j, "created_at", json_string(created));
        json_object_set_new(j, "download_url", reply_link(x, h, "/d/%s/download", m->id));
        if (strcmp(m->image, "none") != 0)
            json_object_set_new(j, "thumbnail_url", reply_link(x, h, "/d/%s/thumbnail", m->id));
    }
    http_reply_json(h, 200, j, "Vary: Accept\r\n");
}

static void share_html(const struct ctx *x, struct http *h, const struct drop_meta *m,
                   const char *created, const struct tm *tm)
{
    struct buf base = BUF_INIT(4096), b = BUF_INIT(65536), link = BUF_INIT(4096);
    char size[32];
    http_base_url(h, x->cfg.upload.public_url, &base);
    buf_printf(&link, "%s/d/%s/download", buf_str(&base), m->id);
    human_size(m->size, size);
    int image = strcmp(m->image, "none") != 0;
    struct buf thumb = BUF_INIT(4096);
    buf_printf(&thumb, "%s/d/%s/thumbnail", buf_str(&base), m->id);
    buf_puts(&b, "<!doctype html>\n<html lang=en><meta charset=utf-8>"
                 "<meta name=viewport content=\"width=device-width,initial-scale=1\">"
                 "<title>");
    http_html_escape(&b, m->name);
    buf_puts(&b, "</title>\n<meta property=\"og:type\" content=\"website\">"
                 "\n<meta property=\"og:title\" content=\"");
    http_html_escape(&b, m->name);
    buf_printf(&b, "\">\n<meta property=\"og:description\" content=\"%s, ", size);
    http_html_escape(&b, m->content_type);
    buf_puts(&b, "\">\n<meta property=\"og:url\" content=\"");
    http_html_escape(&b, buf_str(&base));
    buf_printf(&b, "/d/%s\">\n", m->id);
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
    http_html_escape(&b, m->name);
    buf_printf(&b, "</h1>\n<p class=facts><span>%s</span> &middot; <span>", size);
    http_html_escape(&b, m->content_type);
    char shown[40];
    strftime(shown, sizeof shown, "%d %b %Y, %H:%M UTC", tm);
    buf_printf(&b, "</span> &middot; uploaded <time datetime=\"%s\">%s</time></p>\n", created,
               shown);
    if (image)
        buf_printf(&b, "<p><img class=thumb src=\"/d/%s/thumbnail\" alt=\"preview of the "
                       "image\"></p>\n", m->id);
    buf_puts(&b, "<p class=actions><a class=button id=download href=\"");
    http_html_escape(&b, buf_str(&link));
    buf_printf(&b, "\" download>Download</a> <button type=button id=delete hidden "
                   "data-id=\"%s\">Delete</button></p>\n<p id=status role=status></p>\n",
               m->id);
    if (m->sha256[0])
        buf_printf(&b, "<p><small>SHA-256 <code>%s</code></small></p>\n", m->sha256);
    buf_puts(&b, "<p><small><a href=\"/\">Share a file</a></small></p>\n</main>\n");
    buf_free(&thumb);
    http_reply(h, 200, "text/html; charset=utf-8", PAGE_HEADERS "Vary: Accept\r\n", b.data,
               b.len);
    buf_free(&base);
    buf_free(&b);
    buf_free(&link);
}

HANDLER(share_get)
{
    const char *id = m->arg[0];
    int json = http_wants_json(h);
    struct drop_meta d;
    char msg[200], created[32];
    if (!drop_valid_id(id))
        return not_found(h, json);
    /* one HEAD whatever the id: a reservation whose id was handed out has a pending record */
    enum drop_state st;
    int autocommit, have_rv = 0;
    struct drop_resv rv;
    enum sl_err e = drop_lookup(c, x->cfg.s3.prefix, id, &d, &st, &autocommit);
    if (e == SL_ENOTFOUND && !x->cfg.upload.pending_records &&
        drop_reservation(c, x->cfg.s3.prefix, id, &rv) == SL_OK) {
        /* upload.pending_records off (older versions share the bucket): the marker says */
        e = SL_OK, st = DROP_PENDING, d = rv.m, autocommit = rv.autocommit, have_rv = 1;
    }
    if (!e && st == DROP_PENDING) {
        /* the marker is asked only when it matters: a commit on sight, or a pending record
         * old enough to be one that nothing speaks for any more */
        if (!have_rv && (autocommit || time(NULL) - d.created > x->cfg.upload.reserve_ttl)) {
            enum sl_err re = drop_reservation(c, x->cfg.s3.prefix, id, &rv);
            if (re == SL_ENOTFOUND) {
                /* its reservation ended without removing it (a crash between the two): what
                 * the link shows is that the drop does not exist; the leftover goes */
                drop_withdraw(c, x->cfg.s3.prefix, id);
                return not_found(h, json);
            }
            if (re)
                return http_reply_error(h, re, NULL, NULL);
            have_rv = 1;
        }
        if (!autocommit)
            return uploading(x, h, id, &d, json);
        /* bytes that went straight to S3 where no complete call will come (a stock Uppy's
         * simple POST): committed on first sight. Others are the owner's to complete — with
         * its checksum, if it has one — and nobody else's. */
        if (drop_commit_direct(c, x->cfg.s3.prefix, x->spool, id, &rv, NULL, &d, msg,
                               sizeof msg) == SL_OK)
            METRIC_ADD(&x->m, uploads_committed, 1);
        /* committed now, or by someone else a moment ago: the record says; else uploading */
        if ((e = drop_load(c, x->cfg.s3.prefix, id, &d)) == SL_ENOTFOUND)
            return uploading(x, h, id, &rv.m, json);
    }
    if (e == SL_ENOTFOUND)
        return not_found(h, json);
    if (e)
        return http_reply_error(h, e, NULL, NULL);
    struct tm tm;
    gmtime_r(&d.created, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (json)
        share_json(x, h, &d, created);
    else
        share_html(x, h, &d, created, &tm);
}
