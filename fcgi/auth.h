/* auth: who may call what. The upload token (a Bearer secret of a named token or of
 * upload.tokens, or anyone when upload.anonymous: fcgi/quota.h) and the caller's identity
 * as a hash. Handlers ask here before any side effect and never re-implement a check. */
#ifndef SLUICE_AUTH_H
#define SLUICE_AUTH_H

struct ctx;
struct http;
struct token;

/* The token the caller uploads with (a Bearer secret of one, else the anonymous token when
 * upload.anonymous), or NULL with a 401 + WWW-Authenticate sent. Valid while x lives. */
struct token *auth_require_upload(struct ctx *x, struct http *h);
/* /metrics: server.metrics_token as a Bearer token (constant time); 404 when it is unset,
 * 401 when wrong. 1 allowed, else 0 with the reply sent. */
int auth_require_metrics(const struct ctx *x, struct http *h);
/* The upload capability (drop/cap.h) a request presents in X-Upload-Token; NULL if none. */
const char *auth_upload_token(const struct http *h);
/* 1 if given is the capability whose hash is hash_hex; else a 403 is sent (what: the words
 * for the capability, "upload token") and 0 returned. Nothing may change before this. */
int auth_require_cap(struct http *h, const char *given, const char *hash_hex, const char *what);
/* sha256 (hex) of the caller's Authorization header ("" when none): binds a reservation to
 * the credential that made it */
void auth_client_hash(const struct http *h, char out[65]);

#endif
