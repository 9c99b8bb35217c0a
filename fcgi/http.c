#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "utf8.h"
#include "xml.h"

enum sl_err http_init(struct http *h, struct FCGX_Request *fr)
{
    memset(h, 0, sizeof *h);
    h->fr = fr;
    h->method = FCGX_GetParam("REQUEST_METHOD", fr->envp);
    if (!h->method)
        h->method = "GET";
    h->head = strcmp(h->method, "HEAD") == 0;
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
    int r = FCGX_GetStr(dst, (int)n, h->fr->in);
    *got = r > 0 ? (size_t)r : 0;
    if (*got == n)
        return SL_OK;
    int err = FCGX_GetError(h->fr->in);
    if (err == 0)
        return SL_OK;                  /* a short read without error: the end of the body */
    if (err == EAGAIN || err == EWOULDBLOCK)
        return SL_ECLIENT_TIMEOUT;     /* SO_RCVTIMEO fired: the client went idle */
    return SL_ECLIENT_GONE;            /* FCGX_PROTOCOL_ERROR: aborted or cut off upstream */
}

enum sl_err http_read_all(struct http *h, struct buf *out)
{
    char tmp[8192];
    for (;;) {
        size_t got;
        enum sl_err e = http_read(h, tmp, sizeof tmp, &got);
        enum sl_err ae = got ? buf_append(out, tmp, got) : SL_OK;
        if (ae)
            return ae;   /* SL_ETOOBIG past the cap, SL_ENOMEM */
        if (e || got < sizeof tmp)
            return e;
    }
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
    buf_puts(&hd, "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n");
    if (extra)
        buf_puts(&hd, extra);
    buf_puts(&hd, "\r\n");
    FCGX_PutStr(buf_str(&hd), (int)hd.len, h->fr->out);
    buf_free(&hd);
    if (body && n && !h->head)
        FCGX_PutStr(body, (int)n, h->fr->out);
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
