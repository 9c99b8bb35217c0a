/* libFuzzer: canonicalising a path and a query taken from untrusted input (a presigned URL a
 * client sends back, say) and signing them must never crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    char *q = strchr(s, '?');
    if (q)
        *q++ = '\0';
    struct buf b = BUF_INIT(1 << 20);
    sigv4_canonical_path(&b, s);
    buf_reset(&b);
    sigv4_canonical_query(&b, q);
    buf_reset(&b);
    json_strn(&b, (const char *)data, size);
    struct sigv4_key k = {"AK", "secret", NULL, "us-east-1", "s3"};
    struct sigv4_header h[] = {{"host", "h"}, {"x-amz-date", "20130524T000000Z"},
                               {"x-fuzz", q ? q : ""}};
    struct sigv4_request r = {"GET", s, q, h, 3, SIGV4_UNSIGNED_PAYLOAD};
    struct sigv4_out out;
    sigv4_out_init(&out);
    sigv4_sign(&k, "20130524T000000Z", &r, &out);
    sigv4_out_free(&out);
    buf_free(&b);
    free(s);
    return 0;
}
