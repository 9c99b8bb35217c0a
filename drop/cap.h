/* cap: the capabilities sluice hands out for a drop. Each allows exactly one thing, is 256
 * random bits (base64url, CAP_LEN characters), is shown once to whoever made the upload, and
 * is stored only as its SHA-256 (hex), compared in constant time. A share id (the link) is
 * public and allows reading only.
 *   upload  put bytes into a reservation, sign its parts, list them, complete or cancel it.
 *           On the reservation marker ("upload-hash"); it dies with the reservation.
 *   owner   the delete token: delete the drop. On the reservation and on the record
 *           ("token-hash"); what next round's expiry, password and download limits will be
 *           changed with.
 * The bearer token (upload.tokens) only says who may start an upload; with the documented
 * shared-token setup everybody has it, so it never stands in for one of these. */
#ifndef SLUICE_CAP_H
#define SLUICE_CAP_H

#include "err.h"

#define CAP_LEN 43

struct cap {
    char token[CAP_LEN + 1];   /* handed to the client once */
    char hash[65];             /* what is stored */
};

/* A new random capability. */
enum sl_err cap_new(struct cap *c);
/* 1 if given (NULL: none presented) is the token whose hash is hash_hex; an empty or malformed
 * hash allows nobody. Constant time in the token. */
int cap_allows(const char *given, const char *hash_hex);
/* Wipes the token from memory. */
void cap_clear(struct cap *c);

#endif
