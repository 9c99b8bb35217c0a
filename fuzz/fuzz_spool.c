/* libFuzzer: spool job files live on disk and may be damaged; parsing must never crash, and
 * whatever parses must format and parse back to the same job. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct spool_job j, back;
    if (spool_job_parse((const char *)data, size, &j) != SL_OK)
        return 0;
    struct buf b = BUF_INIT(4096);
    if (spool_job_format(&j, &b) != SL_OK || spool_job_parse(b.data, b.len, &back) != SL_OK ||
        strcmp(j.id, back.id) != 0 || j.attempts != back.attempts ||
        j.not_before != back.not_before)
        abort();
    buf_free(&b);
    return 0;
}
