/* libFuzzer: the bucket's lifecycle and CORS documents come from S3 and are untrusted. Beyond
 * not crashing, the merge must settle: what --force writes, read back, has sluice's rule
 * current and the same foreign rules, so a second run would change nothing. The input is not
 * NUL-terminated on purpose (a copy of exactly size bytes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bucketcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *origins[] = {"https://up.example", "http://127.0.0.1:8080", NULL};

static void settles(int cors, const char *doc, size_t len)
{
    for (int force = 0; force < 2; force++) {
        struct bucketcfg_merge m, again;
        enum sl_err e = cors ? bucketcfg_cors(doc, len, origins, force, &m)
                             : bucketcfg_lifecycle(doc, len, "sluice/", force, &m);
        if (!e && m.changed) {
            e = cors ? bucketcfg_cors(m.doc, m.doc_len, origins, 0, &again)
                     : bucketcfg_lifecycle(m.doc, m.doc_len, "sluice/", 0, &again);
            if (e || again.found != BUCKETCFG_CURRENT || again.changed ||
                again.n_foreign != m.n_foreign)
                abort();
            bucketcfg_merge_free(&again);
        }
        bucketcfg_merge_free(&m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *doc = malloc(size ? size : 1);
    memcpy(doc, data, size);
    settles(0, doc, size);
    settles(1, doc, size);
    free(doc);
    return 0;
}
