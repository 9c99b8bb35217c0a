/* libFuzzer: JSON request bodies (POST /api/uploads, ?reserve, the Uppy routes) are untrusted.
 * The flat-object scanner must accept or reject without reading out of bounds, and every
 * valid-UTF-8 string it hands out, written back by the escaper, must scan back to the same
 * bytes. The escaper never emits a raw control character or a bare quote. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct want {
    const char *v;
    size_t n;
    int seen;
};

static enum sl_err compare(void *ud, const char *key, enum json_type t, const char *value,
                           size_t len)
{
    struct want *w = ud;
    if (strcmp(key, "v") != 0 || t != JSON_STRING || len != w->n || memcmp(value, w->v, len))
        abort();
    w->seen = 1;
    return SL_OK;
}

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

static enum sl_err roundtrip(void *ud, const char *key, enum json_type t, const char *value,
                             size_t len)
{
    (void)ud;
    (void)key;
    if (t != JSON_STRING || !valid_utf8(value, len))
        return SL_OK;
    struct buf j = BUF_INIT(1 << 22);
    if (!buf_puts(&j, "{\"v\":") && !json_strn(&j, value, len) && !buf_putc(&j, '}')) {
        struct want w = {value, len, 0};
        if (json_scan_object(j.data, j.len, compare, &w) != SL_OK || !w.seen)
            abort();
    }
    buf_free(&j);
    return SL_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_scan_object((const char *)data, size, roundtrip, NULL);
    struct buf w = BUF_INIT(1 << 22);
    if (json_strn(&w, (const char *)data, size) == SL_OK) {
        if (w.len < 2 || w.data[0] != '"' || w.data[w.len - 1] != '"')
            abort();
        for (size_t i = 1; i + 1 < w.len; i++) {
            unsigned char c = (unsigned char)w.data[i];
            if (c < 0x20 || c == '"')
                abort();
            if (c == '\\')
                i++;   /* an escape: the next byte is its letter */
        }
    }
    buf_free(&w);
    return 0;
}
