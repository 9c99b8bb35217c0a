/* DELETE /api/drops/{id} with X-Delete-Token: the owner removes a drop (record, bytes and
 * thumbnail). */
#include "ctx.h"
#include "drop.h"
#include "handlers.h"
#include "http.h"
#include "s3.h"

HANDLER(delete_drop)
{
    const char *id = m->arg[0], *token = http_header(h, "X-Delete-Token");
    const char *prefix = x->cfg.s3.prefix;
    struct drop_meta d;
    struct buf key = BUF_INIT(4096);
    struct s3_result r = S3_RESULT_INIT;
    enum sl_err e;
    if ((e = drop_load(c, prefix, id, &d))) {
        http_reply_error(h, e, NULL, NULL);
        goto out;
    }
    if (!token || !drop_token_matches(token, d.token_hash)) {
        http_reply_error(h, SL_EFORBIDDEN, "the delete token does not match", NULL);
        goto out;
    }
    /* the record first: the drop disappears at once; then the bytes */
    if ((e = drop_key(&key, prefix, "meta", id)) || (e = s3_delete_object(c, buf_str(&key), &r)) ||
        (e = drop_key(&key, prefix, "drops", id)) || (e = s3_delete_object(c, buf_str(&key), &r))) {
        http_reply_error(h, e, NULL, NULL);
        goto out;
    }
    if (!drop_key(&key, prefix, "thumbs", id))
        s3_delete_object(c, buf_str(&key), &r);   /* none for non-images: fine either way */
    http_reply(h, 204, NULL, NULL, NULL, 0);
out:
    s3_result_free(&r);
    buf_free(&key);
}
