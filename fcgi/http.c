#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <fcgiapp.h>

#include "utf8.h"
#include "xml.h"

#define SMALL_BODY_MS 5000   /* the whole of a small body, however it trickles */

/* two pools of small-body readers: routes a front server buffers (their bodies arrive whole)
 * and the one it cannot (?reserve, on the upload route), so a slow-body attack on that one
 * cannot starve the others */
static int small_max = 1;
static long small_idle_s = 30;
static atomic_int small_readers[2];

void http_configure(int readers, long idle_s)
{
    small_max = readers > 0 ? readers : 1;
    small_idle_s = idle_s > 0 ? idle_s : 30;
}

enum sl_err http_init(struct http *h, struct FCGX_Request *fr)
{
    memset(h, 0, sizeof *h);
    h->fr = fr;
    h->method = FCGX_GetParam("REQUEST_METHOD", fr->envp);
    if (!h->method)
        h->method = "GET";
    h->head = strcmp(h->method, "HEAD") == 0;
    const char *cl = FCGX_GetParam("CONTENT_LENGTH", fr->envp);
    h->body_left = cl && *cl && strspn(cl, "0123456789") == strlen(cl) && strlen(cl) < 20
                       ? strtoull(cl, NULL, 10) : UINT64_MAX;
    const char *uri = FCGX_GetParam("REQUEST_URI", fr->envp);
    if (!uri)
        uri = FCGX_GetParam("SCRIPT_NAME", fr->envp);
    if (!uri)
        uri = "/";
    size_t pl = strcspn(uri, "?");
    h->query = uri[pl] == '?' ? uri + pl + 1 : "";
    if (pl >= sizeof h->path)
        return SL_EBADREQ;
    memcpy(h->path, uri, pl);
    h->path[pl] = '\0';
    return SL_OK;
}

const char *http_param(const struct http *h, const char *name)
{
    return FCGX_GetParam(name, h->fr->envp);
}

const char *http_header(const struct http *h, const char *name)
{
    char cgi[128] = "HTTP_";
    size_t o = 5;
    for (const char *p = name; *p && o + 1 < sizeof cgi; p++)
        cgi[o++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    cgi[o] = '\0';
    /* these two arrive without the HTTP_ prefix */
    if (!strcmp(cgi, "HTTP_CONTENT_TYPE") || !strcmp(cgi, "HTTP_CONTENT_LENGTH"))
        return FCGX_GetParam(cgi + 5, h->fr->envp);
    return FCGX_GetParam(cgi, h->fr->envp);
}

int http_wants_json(const struct http *h)
{
    const char *a = http_header(h, "Accept");
    const char *j = a ? strstr(a, "application/json") : NULL, *t = a ? strstr(a, "text/html") : NULL;
    return j && (!t || j < t);
}

enum sl_err http_base_url(const struct http *h, const char *public_url, struct buf *out)
{
    buf_reset(out);
    if (public_url && *public_url) {
        size_t n = strlen(public_url);
        while (n && public_url[n - 1] == '/')
            n--;
        return buf_append(out, public_url, n);
    }
    const char *scheme = http_param(h, "REQUEST_SCHEME");
    const char *https = http_param(h, "HTTPS");
    if (!scheme)
        scheme = https && *https && strcmp(https, "off") ? "https" : "http";
    const char *host = http_header(h, "Host");
    if (!host || !*host || strpbrk(host, " /\\\"<>'\r\n@?#"))
        host = "localhost";
    enum sl_err e;
    if ((e = buf_printf(out, "%s://%s", scheme, host)))
        return e;
    /* Debian's fastcgi_params passes nginx's $host, which has no port: add SERVER_PORT */
    const char *port = http_param(h, "SERVER_PORT");
    int def = !strcmp(scheme, "https") ? 443 : 80;
    if (!strchr(host, ':') && !strchr(host, ']') && port && atoi(port) > 0 && atoi(port) != def &&
        strspn(port, "0123456789") == strlen(port))
        return buf_printf(out, ":%s", port);
    return SL_OK;
}

int http_fd(const struct http *h)
{
    return h->fr->ipcFd;
}

enum sl_err http_read(struct http *h, void *dst, size_t n, size_t *got)
{
    /* the watchdog allows a read the time its bytes need at the minimum rate: only those the
     * body still has, not the buffer's size */
    watch_reading(&h->watch, h->body_left < n ? (size_t)h->body_left : n);
    int r = FCGX_GetStr(dst, (int)n, h->fr->in);
    watch_done(&h->watch);
    *got = r > 0 ? (size_t)r : 0;
    if (h->body_left != UINT64_MAX)
        h->body_left -= *got <= h->body_left ? *got : h->body_left;
    if (*got == n)
        return SL_OK;
    if (atomic_load(&h->watch.fired))
        return SL_ECLIENT_TIMEOUT;     /* slower than the minimum rate: cut by the watchdog */
    int err = FCGX_GetError(h->fr->in);
    if (err == 0)
        return SL_OK;                  /* a short read without error: the end of the body */
    if (err == EAGAIN || err == EWOULDBLOCK)
        return SL_ECLIENT_TIMEOUT;     /* SO_RCVTIMEO fired: the client went idle */
    return SL_ECLIENT_GONE;            /* FCGX_PROTOCOL_ERROR: aborted or cut off upstream */
}

static enum sl_err read_small(struct http *h, struct buf *out, int pool)
{
    const char *cl = http_param(h, "CONTENT_LENGTH");
    if (cl && *cl && (strspn(cl, "0123456789") != strlen(cl) || strlen(cl) > 12 ||
                      strtoull(cl, NULL, 10) > out->max))
        return SL_ETOOBIG;   /* said so before a byte: nothing is read */
    if (cl && !strcmp(cl, "0"))
        return SL_OK;
    if (atomic_fetch_add(&small_readers[pool], 1) >= small_max) {
        atomic_fetch_sub(&small_readers[pool], 1);
        return SL_EBUSY;
    }
    struct timeval tv = {small_idle_s, 0};
    setsockopt(http_fd(h), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    watch_deadline(&h->watch, SMALL_BODY_MS);   /* a few KB of JSON: seconds, not minutes */
    char tmp[8192];
    enum sl_err e;
    for (;;) {
        size_t got;
        e = http_read(h, tmp, sizeof tmp, &got);
        enum sl_err ae = got ? buf_append(out, tmp, got) : SL_OK;
        if (ae) {
            e = ae;   /* SL_ETOOBIG past the cap, SL_ENOMEM */
            break;
        }
        if (e || got < sizeof tmp)
            break;
    }
    atomic_fetch_sub(&small_readers[pool], 1);
    atomic_store(&h->watch.deadline_ms, 0);   /* the body is in: what follows is not bound */
    return e;
}

enum sl_err http_read_all(struct http *h, struct buf *out)
{
    return read_small(h, out, 0);
}

void http_reply(struct http *h, int status, const char *content_type, const char *extra,
                const void *body, size_t n)
{
    if (h->replied)
        return;
    h->replied = 1;
    /* formatted here: libfcgi's own printf knows no %zu */
    struct buf hd = BUF_INIT(64 * 1024);
    buf_printf(&hd, "Status: %d %s\r\n", status, sl_http_reason(status));
    if (content_type)
        buf_printf(&hd, "Content-Type: %s\r\n", content_type);
    if (body)
        buf_printf(&hd, "Content-Length: %zu\r\n", n);
    buf_puts(&hd, "X-Content-Type-Options: nosniff\r\n");
    /* one Cache-Control: no-store unless the caller gives its own */
    if (!extra || !strcasestr(extra, "Cache-Control:"))
        buf_puts(&hd, "Cache-Control: no-store\r\n");
    if (extra)
        buf_puts(&hd, extra);
    buf_puts(&hd, "\r\n");
    FCGX_PutStr(buf_str(&hd), (int)hd.len, h->fr->out);
    buf_free(&hd);
    if (body && n && !h->head)
        FCGX_PutStr(body, (int)n, h->fr->out);
}

int http_body_pool(struct http *h, struct buf *out, int unbuffered)
{
    enum sl_err e = read_small(h, out, unbuffered ? 1 : 0);
    if (!e)
        return 1;
    if (e != SL_ECLIENT_GONE)
        http_reply_error(h, e, e == SL_EBUSY ? "too many slow requests, retry shortly" : NULL,
                         e == SL_EBUSY ? "Retry-After: 1\r\n" : NULL);
    return 0;
}

int http_body(struct http *h, struct buf *out)
{
    return http_body_pool(h, out, 0);
}

json_t *http_json_str(const char *s)
{
    size_t n = strlen(s), i = 0;
    while (i < n) {
        size_t l = utf8_seq_len((const unsigned char *)s + i, n - i);
        if (!l)
            break;
        i += l;
    }
    if (i == n)
        return json_stringn(s, n);
    struct buf b = BUF_INIT(4 * n + 1);   /* each bad byte: 3 bytes of U+FFFD */
    for (i = 0; i < n;) {
        size_t l = utf8_seq_len((const unsigned char *)s + i, n - i);
        if (l ? buf_append(&b, s + i, l) : buf_puts(&b, "\xef\xbf\xbd"))
            break;
        i += l ? l : 1;
    }
    json_t *j = i == n ? json_stringn(b.data ? b.data : "", b.len) : NULL;
    buf_free(&b);
    return j;
}

void http_reply_json(struct http *h, int status, json_t *j, const char *extra)
{
    size_t n = j ? json_dumpb(j, NULL, 0, JSON_COMPACT) : 0;
    char *s = n ? malloc(n + 1) : NULL;
    if (s && json_dumpb(j, s, n, JSON_COMPACT) == n) {
        s[n] = '\n';
        http_reply(h, status, "application/json", extra, s, n + 1);
    } else {
        static const char oom[] = "{\"error\":\"out_of_memory\",\"message\":\"out of memory\"}\n";
        http_reply(h, 500, "application/json", NULL, oom, sizeof oom - 1);
    }
    free(s);
    json_decref(j);
}

void http_reply_error(struct http *h, enum sl_err e, const char *message, const char *extra)
{
    const struct sl_err_info *info = sl_err_info(e);
    json_t *j = json_object();
    if (j) {
        json_object_set_new(j, "error", http_json_str(info->code));
        json_object_set_new(j, "message", http_json_str(message ? message : info->message));
    }
    http_reply_json(h, info->http_status, j, extra);
}

void http_flush(struct http *h)
{
    FCGX_FFlush(h->fr->out);
}

enum sl_err http_html_escape(struct buf *out, const char *s)
{
    return xml_escape(out, s);   /* the same five characters; &apos; is valid HTML5 */
}

void http_iso8601(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
