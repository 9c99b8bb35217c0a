/* libFuzzer: filenames from clients are untrusted. Whatever comes in, the stored name is a
 * short, valid-UTF-8, single path component without control characters, and the
 * Content-Disposition built from it is one header line of printable ASCII. The input's first
 * byte splits it into a name and a client Content-Type. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drop.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t n = data[0] < size - 1 ? data[0] : size - 1;
    char name[DROP_NAME_MAX + 1];
    drop_sanitize_name(in, n, name);
    size_t len = strlen(name);
    if (len == 0 || len > DROP_NAME_MAX || name[0] == '.' || name[0] == ' ')
        abort();
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
            abort();
        size_t l = utf8_seq_len((const unsigned char *)name + i, len - i);
        if (l == 0)
            abort();
        i += l;
    }
    struct buf cd = BUF_INIT(16384);
    if (drop_content_disposition(&cd, "attachment", name) == SL_OK) {
        for (size_t i = 0; i < cd.len; i++)
            if (cd.data[i] < 0x20 || cd.data[i] > 0x7e)
                abort();
    }
    buf_free(&cd);
    /* the rest of the input as the client's Content-Type */
    char ct_in[512], ct[128];
    size_t rest = size - 1 - n < sizeof ct_in - 1 ? size - 1 - n : sizeof ct_in - 1;
    memcpy(ct_in, in + n, rest);
    ct_in[rest] = '\0';
    drop_content_type(ct_in, name, ct);
    if (!strchr(ct, '/'))
        abort();
    for (const char *p = ct; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || (*p >= 'A' && *p <= 'Z') || *p == ';')
            abort();
    return 0;
}
