/* libFuzzer: sluice.conf parsing must never crash, whatever the bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    struct sluice_config c;
    config_defaults(&c);
    struct buf why = BUF_INIT(4096);
    if (config_parse(&c, "fuzz", text, &why) == SL_OK)
        config_validate(&c, &why);
    config_free(&c);
    buf_free(&why);
    free(text);
    return 0;
}
