/* libFuzzer: S3's XML answers are untrusted; the reader must stay inside the buffer. The input
 * is not NUL-terminated on purpose (a copy of exactly size bytes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *doc = malloc(size ? size : 1);
    memcpy(doc, data, size);
    static const char *const tags[] = {"Code", "Message", "UploadId", "Key", "ETag", "Upload"};
    struct buf t = BUF_INIT(1 << 20);
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        xml_get(doc, size, tags[i], &t);
    size_t pos = 0, n;
    const char *in;
    while (xml_next(doc, size, &pos, "Upload", &in, &n))
        xml_get(in, n, "Key", &t);
    buf_free(&t);
    free(doc);
    return 0;
}
