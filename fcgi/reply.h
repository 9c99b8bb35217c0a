/* reply: what several routes answer about a drop — its links and the 201 that creates it. */
#ifndef SLUICE_REPLY_H
#define SLUICE_REPLY_H

#include <jansson.h>

/* What every object a client writes straight to S3 is stored with (signed into the PUT and the
 * POST policy): never rendered by the storage origin. Just the word: a filename would need
 * quoting that S3 stores as is, and curl -F splits form fields at ';'; downloads name the file
 * themselves (response-content-disposition). */
#define STORED_DISPOSITION "attachment"

struct ctx;
struct http;
struct drop_meta;

/* The base URL for links (upload.public_url, else the request's scheme://host) + path. NULL
 * only when out of memory. */
json_t *reply_link(const struct ctx *x, const struct http *h, const char *fmt, const char *id);
/* 201 for a new drop: its JSON (and Location), or for a client that did not ask for JSON
 * (curl -T, ShareX) the share link as plain text and the delete token in X-Delete-Token.
 * token NULL: "delete_token": null (the client holds it already). */
void reply_drop(const struct ctx *x, struct http *h, const struct drop_meta *m,
                const char *token);

#endif
