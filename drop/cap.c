#include "cap.h"

#include <string.h>

#include <openssl/crypto.h>

#include "drop.h"

enum sl_err cap_new(struct cap *c)
{
    enum sl_err e = drop_new_token(c->token);
    if (!e)
        drop_token_hash(c->token, c->hash);
    return e;
}

int cap_allows(const char *given, const char *hash_hex)
{
    if (!given || !hash_hex || strlen(hash_hex) != 64)
        return 0;
    return drop_token_matches(given, hash_hex);
}

void cap_clear(struct cap *c)
{
    OPENSSL_cleanse(c, sizeof *c);
}
