/* libFuzzer: sluice.conf parsing must never crash, whatever the bytes (NULs included: the
 * parser takes the file's length, not a C string). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sluice_config c;
    config_defaults(&c);
    struct buf why = BUF_INIT(4096);
    if (config_parse_mem(&c, "fuzz", (const char *)data, size, &why) == SL_OK)
        config_validate(&c, &why);
    config_free(&c);
    buf_free(&why);
    return 0;
}
