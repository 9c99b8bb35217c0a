/* libFuzzer: untrusted images through the header sniffing and the whole decode path (libjpeg
 * with DCT scaling, GD, libexif), under ASan+UBSan. The pixel cap is small so the fuzzer
 * spends its time on parsing, not on big allocations. */
#include <stdint.h>
#include <stdlib.h>

#include "imghdr.h"
#include "thumb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum img_type t;
    unsigned w, h;
    img_dimensions(data, size, &t, &w, &h);
    struct thumb_opts o = {.max_edge = 64, .max_pixels = 1u << 20, .quality = 50,
                           .reduced_decode = 1};
    unsigned char *out = NULL;
    size_t n;
    struct thumb_info info;
    if (thumb_make(data, size, &o, &out, &n, &info) == SL_OK && (!out || n == 0))
        abort();
    free(out);
    return 0;
}
