/* http: one FastCGI request as sluice sees it — parameters, headers, the body stream, and
 * replies (raw, JSON through jansson, errors). The only module besides server.c that includes
 * fcgiapp.h. Handlers never talk to libfcgi themselves.
 *
 * Replies carry the reason phrase in Status (nginx copies the line verbatim). Write errors are
 * sticky (libfcgi keeps the first): a reply to a client that left is simply dropped. */
#ifndef SLUICE_HTTP_H
#define SLUICE_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "buf.h"
#include "err.h"
#include "watchdog.h"

struct FCGX_Request;

struct http {
    struct FCGX_Request *fr;
    const char *method;         /* "GET", ... */
    char path[2048];            /* the raw (still percent-encoded) path, without the query */
    const char *query;          /* raw query after '?', "" if none */
    int head;                   /* HEAD: headers only */
    int replied;
    struct watch watch;         /* its body reads, for the minimum rate (watchdog.h) */
    uint64_t body_left;         /* Content-Length minus what was read; UINT64_MAX: unknown */
};

/* Once, before the threads start: at most small_readers requests of this process read a
 * small body (http_read_all) at once — the others get 503 at once, so slow small bodies
 * cannot hold every thread — and each such read may idle idle_s seconds. */
void http_configure(int small_readers, long idle_s);

/* Fills h from fr (borrowed for the request's life). SL_EBADREQ if the path is too long. */
enum sl_err http_init(struct http *h, struct FCGX_Request *fr);
/* The client asked for JSON (Accept names application/json, and not text/html first): the one
 * rule every route that can answer either uses. */
int http_wants_json(const struct http *h);
/* The base URL for links: public_url (trailing slashes dropped) when set, else
 * scheme://host[:port] of the request (a Host with characters that do not belong in a URL
 * becomes "localhost"). */
enum sl_err http_base_url(const struct http *h, const char *public_url, struct buf *out);
/* A CGI parameter ("CONTENT_LENGTH") or a request header by its HTTP name ("Content-Type",
 * "X-Delete-Token"). NULL if absent. Borrowed until the request ends. */
const char *http_param(const struct http *h, const char *name);
const char *http_header(const struct http *h, const char *name);
int http_fd(const struct http *h);   /* the FastCGI connection, for SO_RCVTIMEO / shutdown */

/* Body: reads up to n bytes; *got < n only at the end of the body or on an error. Returns
 * SL_OK at a clean end, SL_ECLIENT_TIMEOUT when the idle timeout fired or the body came in
 * slower than the minimum rate (the watchdog cut it), SL_ECLIENT_GONE when the client (or the
 * front server) went away. */
enum sl_err http_read(struct http *h, void *dst, size_t n, size_t *got);

/* The whole (small) body into out, which caps it: SL_ETOOBIG past the cap (the Content-Length
 * is checked before anything is read), SL_EBUSY when too many small bodies are being read. */
enum sl_err http_read_all(struct http *h, struct buf *out);
/* http_read_all, answering its errors itself (413, 408, 503 + Retry-After): 1 read, 0 replied */
int http_body(struct http *h, struct buf *out);
/* the same from the pool of routes front servers do not buffer (unbuffered: 1) */
int http_body_pool(struct http *h, struct buf *out, int unbuffered);

/* extra: further header lines, each ending in "\r\n" (NULL: none). Every reply says
 * Cache-Control: no-store unless extra has a Cache-Control of its own. */
void http_reply(struct http *h, int status, const char *content_type, const char *extra,
                const void *body, size_t n);
/* j (a reference this call takes over, NULL when building it ran out of memory: then 500)
 * as compact JSON and a newline. */
void http_reply_json(struct http *h, int status, json_t *j, const char *extra);
/* A JSON string for s, never invalid: bytes that are not UTF-8 become U+FFFD. NULL only when
 * out of memory (jansson's setters then leave the member out; the reply still goes). */
json_t *http_json_str(const char *s);
/* {"error": "<code>", "message": "<text>"} with the code's status; message NULL: the
 * code's own. */
void http_reply_error(struct http *h, enum sl_err e, const char *message, const char *extra);

/* Push what was written so far to the front server now (before slow clean-up work). */
void http_flush(struct http *h);

/* HTML-escape s into out (& < > " '). */
enum sl_err http_html_escape(struct buf *out, const char *s);
/* "YYYY-MM-DDTHH:MM:SSZ" */
void http_iso8601(time_t t, char out[32]);

#endif
