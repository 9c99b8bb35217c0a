/* auth: who may call what. Today: the upload token (a Bearer token among upload.tokens, or
 * anyone when upload.anonymous) and the caller's identity as a hash. Handlers ask here before
 * any side effect and never re-implement a check. */
#ifndef SLUICE_AUTH_H
#define SLUICE_AUTH_H

struct ctx;
struct http;

/* 1 if the caller may upload (constant time in the tokens) */
int auth_upload_ok(const struct ctx *x, const struct http *h);
/* auth_upload_ok, or a 401 with WWW-Authenticate sent and 0 returned */
int auth_require_upload(const struct ctx *x, struct http *h);
/* sha256 (hex) of the caller's Authorization header ("" when none): binds a reservation to
 * the credential that made it */
void auth_client_hash(const struct http *h, char out[65]);

#endif
