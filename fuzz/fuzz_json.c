/* libFuzzer: JSON request bodies (POST /api/uploads, ?reserve, complete, the Uppy routes) are
 * untrusted. Every body parser (fcgi/body.c over jansson) must accept or reject without
 * reading out of bounds or leaking, and what it accepts must be sane (names sanitised, a
 * checksum 64 hex digits). The byte-exact writer kept for the signed POST policy
 * (core/json.c) must produce a string jansson reads back to the same bytes whenever the input
 * is valid UTF-8 without NUL, and never emit a raw control character or a bare quote. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "body.h"
#include "json.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int valid_utf8(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq_len((const unsigned char *)s + i, n - i);
        if (!l || s[i] == '\0')
            return 0;
        i += l;
    }
    return 1;
}

static void sane_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > DROP_NAME_MAX || !valid_utf8(name, n) || strchr(name, '/'))
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct body_create bc;
    struct body_reserve br;
    struct body_uppy_create bu;
    char sha[65];
    if (body_parse_create(s, size, &bc) == SL_OK)
        sane_name(bc.name);
    if (body_parse_reserve(s, size, &br) == SL_OK)
        sane_name(br.name);
    if (body_parse_uppy_create(s, size, &bu) == SL_OK)
        sane_name(bu.name);
    (void)body_parse_complete(s, size, sha);   /* memory safety only: it checks its own digits */
    struct s3_part *parts;
    size_t np;
    if (body_parse_uppy_complete(s, size, &parts, &np) == SL_OK) {
        for (size_t i = 0; i < np; i++)   /* 1..N in order, each with an ETag */
            if (parts[i].number != (int)i + 1 || !parts[i].etag[0] ||
                strlen(parts[i].etag) >= sizeof parts[i].etag)
                abort();
        free(parts);
    } else if (parts || np) {
        abort();
    }

    struct buf w = BUF_INIT(1 << 22);
    if (json_strn(&w, s, size) == SL_OK) {
        if (w.len < 2 || w.data[0] != '"' || w.data[w.len - 1] != '"')
            abort();
        for (size_t i = 1; i + 1 < w.len; i++) {
            unsigned char c = (unsigned char)w.data[i];
            if (c < 0x20 || c == '"')
                abort();
            if (c == '\\')
                i++;   /* an escape: the next byte is its letter */
        }
        if (valid_utf8(s, size)) {
            json_error_t err;
            json_t *j = json_loadb(w.data, w.len, JSON_DECODE_ANY, &err);
            if (!j || !json_is_string(j) || json_string_length(j) != size ||
                memcmp(json_string_value(j), s, size) != 0)
                abort();
            json_decref(j);
        }
    }
    buf_free(&w);
    return 0;
}
