/* DELETE /api/drops/{id} with X-Delete-Token: the owner removes a drop (thumbnail, bytes,
 * then the record: drop_delete). */
#include <stdio.h>

#include "ctx.h"
#include "drop.h"
#include "handlers.h"
#include "http.h"
#include "s3.h"
#include "spool.h"

HANDLER(delete_drop)
{
    const char *id = m->arg[0], *token = http_header(h, "X-Delete-Token");
    const char *prefix = x->cfg.s3.prefix;
    struct drop_meta d;
    enum sl_err e;
    if ((e = drop_load(c, prefix, id, &d)))
        return http_reply_error(h, e, NULL, NULL);
    if (!token || !drop_token_matches(token, d.token_hash))
        return http_reply_error(h, SL_EFORBIDDEN, "the delete token does not match", NULL);
    if ((e = drop_delete(c, prefix, id))) {
        /* S3 trouble, answered with its own 5xx: the record is still there, so is the drop */
        fprintf(stderr, "sluice-fcgi: delete %s: %s (the drop stays)\n", id, sl_err_str(e));
        return http_reply_error(h, e, "the drop was not deleted (storage trouble); retry", NULL);
    }
    /* its thumbnail job, if still waiting in this host's spool, is for nothing now (another
     * host's thumbnailer finds no record and drops it) */
    struct spool_job job;
    if (x->spool && spool_claim_id(x->spool, id, &job) == SL_OK)
        spool_done(x->spool, &job);
    http_reply(h, 204, NULL, NULL, NULL, 0);
}
