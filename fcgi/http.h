/* http: one FastCGI request as sluice sees it — parameters, headers, the body stream, and
 * replies. The only module besides main.c that includes fcgiapp.h.
 *
 * Replies carry the reason phrase in Status (nginx copies the line verbatim). Write errors are
 * sticky (libfcgi keeps the first): a reply to a client that left is simply dropped. */
#ifndef SLUICE_HTTP_H
#define SLUICE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

struct FCGX_Request;

struct http {
    struct FCGX_Request *fr;
    const char *method;         /* "GET", ... */
    char path[2048];            /* the raw (still percent-encoded) path, without the query */
    const char *query;          /* raw query after '?', "" if none */
    int head;                   /* HEAD: headers only */
    int replied;
};

/* Fills h from fr (borrowed for the request's life). SL_EBADREQ if the path is too long. */
enum sl_err http_init(struct http *h, struct FCGX_Request *fr);
/* The client asked for JSON (Accept names application/json, and not text/html first). */
int http_wants_json(const struct http *h);
/* A CGI parameter ("CONTENT_LENGTH") or a request header by its HTTP name ("Content-Type",
 * "X-Delete-Token"). NULL if absent. Borrowed until the request ends. */
const char *http_param(const struct http *h, const char *name);
const char *http_header(const struct http *h, const char *name);
int http_fd(const struct http *h);   /* the FastCGI connection, for SO_RCVTIMEO / shutdown */

/* Body: reads up to n bytes; *got < n only at the end of the body or on an error. Returns
 * SL_OK at a clean end, SL_ECLIENT_TIMEOUT when the idle timeout fired, SL_ECLIENT_GONE when
 * the client (or the front server) went away. */
enum sl_err http_read(struct http *h, void *dst, size_t n, size_t *got);

/* The whole (small) body into out, which caps it: SL_ETOOBIG past the cap. */
enum sl_err http_read_all(struct http *h, struct buf *out);

/* extra: further header lines, each ending in "\r\n" (NULL: none). */
void http_reply(struct http *h, int status, const char *content_type, const char *extra,
                const void *body, size_t n);
void http_reply_json(struct http *h, int status, const struct buf *json, const char *extra);
/* {"error": "<code>", "message": "<text>"} with the code's status; message NULL: the
 * code's own. */
void http_reply_error(struct http *h, enum sl_err e, const char *message, const char *extra);

/* Push what was written so far to the front server now (before slow clean-up work). */
void http_flush(struct http *h);

/* HTML-escape s into out (& < > " '). */
enum sl_err http_html_escape(struct buf *out, const char *s);

#endif
