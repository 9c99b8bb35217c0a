#include "auth.h"

#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "ctx.h"
#include "http.h"
#include "sigv4.h"

int auth_upload_ok(const struct ctx *x, const struct http *h)
{
    if (x->cfg.upload.anonymous)
        return 1;
    const char *a = http_header(h, "Authorization");
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return 0;
    /* compare hashes, so the time taken says nothing about the tokens, not even their length */
    char given[65];
    sigv4_sha256_hex(a + 7, strlen(a + 7), given);
    int ok = 0;
    for (char **t = x->cfg.upload.tokens; t && *t; t++) {
        char want[65];
        sigv4_sha256_hex(*t, strlen(*t), want);
        ok |= CRYPTO_memcmp(given, want, 64) == 0;
    }
    return ok;
}

int auth_require_upload(const struct ctx *x, struct http *h)
{
    if (auth_upload_ok(x, h))
        return 1;
    http_reply_error(h, SL_EUNAUTH, NULL, "WWW-Authenticate: Bearer\r\n");
    return 0;
}

void auth_client_hash(const struct http *h, char out[65])
{
    const char *a = http_header(h, "Authorization");
    sigv4_sha256_hex(a ? a : "", a ? strlen(a) : 0, out);
}
