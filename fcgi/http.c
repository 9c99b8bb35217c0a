#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <fcgiapp.h>

#include "json.h"
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
        if (got && buf_append(out, tmp, got))
            return SL_ETOOBIG;
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

void http_reply_json(struct http *h, int status, const struct buf *json, const char *extra)
{
    http_reply(h, status, "application/json", extra, json->data ? json->data : "", json->len);
}

void http_reply_error(struct http *h, enum sl_err e, const char *message, const char *extra)
{
    const struct sl_err_info *info = sl_err_info(e);
    struct buf b = BUF_INIT(4096);
    buf_puts(&b, "{\"error\":");
    json_str(&b, info->code);
    buf_puts(&b, ",\"message\":");
    json_str(&b, message ? message : info->message);
    buf_puts(&b, "}\n");
    http_reply_json(h, info->http_status, &b, extra);
    buf_free(&b);
}

void http_flush(struct http *h)
{
    FCGX_FFlush(h->fr->out);
}

enum sl_err http_html_escape(struct buf *out, const char *s)
{
    return xml_escape(out, s);   /* the same five characters; &apos; is valid HTML5 */
}
