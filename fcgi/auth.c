#include "auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "cap.h"
#include "ctx.h"
#include "http.h"
#include "quota.h"
#include "sigv4.h"

/* the Bearer token of h equals one of tokens (NULL-terminated), in time that says nothing
 * about them */
static int bearer_in(const struct http *h, char *const *tokens)
{
    const char *a = http_header(h, "Authorization");
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return 0;
    char given[65];
    sigv4_sha256_hex(a + 7, strlen(a + 7), given);
    int ok = 0;
    for (char *const *t = tokens; t && *t; t++) {
        char want[65];
        sigv4_sha256_hex(*t, strlen(*t), want);
        ok |= CRYPTO_memcmp(given, want, 64) == 0;
    }
    return ok;
}

int auth_require_metrics(const struct ctx *x, struct http *h)
{
    char *one[2] = {x->cfg.server.metrics_token, NULL};
    if (!one[0] || !*one[0]) {
        http_reply_error(h, SL_ENOTFOUND, "metrics are off (set server.metrics_token)", NULL);
        return 0;
    }
    if (bearer_in(h, one))
        return 1;
    http_reply_error(h, SL_EUNAUTH, "the metrics token is missing or wrong",
                     "WWW-Authenticate: Bearer\r\n");
    return 0;
}

struct token *auth_require_upload(struct ctx *x, struct http *h)
{
    const char *a = http_header(h, "Authorization");
    const char *bearer = a && strncasecmp(a, "Bearer ", 7) == 0 ? a + 7 : NULL;
    struct token *t = quota_find(&x->quota, bearer);
    if (t)
        return t;
    http_reply_error(h, SL_EUNAUTH, NULL, "WWW-Authenticate: Bearer\r\n");
    return NULL;
}

void auth_client_hash(const struct http *h, char out[65])
{
    const char *a = http_header(h, "Authorization");
    sigv4_sha256_hex(a ? a : "", a ? strlen(a) : 0, out);
}

const char *auth_upload_token(const struct http *h)
{
    return http_header(h, "X-Upload-Token");
}

int auth_require_cap(struct http *h, const char *given, const char *hash_hex, const char *what)
{
    if (cap_allows(given, hash_hex))
        return 1;
    char msg[160];
    snprintf(msg, sizeof msg, "%s %s", given ? "wrong" : "no", what);
    http_reply_error(h, SL_EFORBIDDEN, msg, NULL);
    return 0;
}
