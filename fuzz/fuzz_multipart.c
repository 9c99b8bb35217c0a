/* libFuzzer: multipart/form-data bodies are untrusted. The first line of the input is the
 * boundary; the rest is fed in chunks whose sizes come from the input too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum sl_err on_begin(void *ud, const struct mp_part *p)
{
    (void)ud;
    return p->name[0] == '!' ? SL_EBADREQ : SL_OK;
}

static enum sl_err on_data(void *ud, const void *d, size_t n)
{
    size_t *total = ud;
    (void)d;
    *total += n;
    return SL_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 80 ? size : 80);
    if (!nl)
        return 0;
    char boundary[81];
    size_t bl = (size_t)(nl - data);
    memcpy(boundary, data, bl);
    boundary[bl] = '\0';
    const struct mp_callbacks cb = {on_begin, on_data, NULL};
    size_t total = 0;
    struct mp_parser *p;
    if (mp_new(boundary, &cb, &total, &p) != SL_OK)
        return 0;
    const uint8_t *body = nl + 1;
    size_t left = size - bl - 1, step = 1 + (bl % 17);
    while (left > 0) {
        size_t n = left < step ? left : step;
        if (mp_feed(p, body, n) != SL_OK)
            break;
        body += n;
        left -= n;
        step = step * 3 % 101 + 1;
    }
    mp_finish(p);
    mp_free(p);
    if (total > size)
        abort();   /* the parser can never produce more data than it was given */
    return 0;
}
