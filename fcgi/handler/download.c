/* GET /d/{id}/download: a 302 to a short-lived presigned S3 URL that names the file
 * (Content-Disposition: attachment). The bytes never flow through the worker. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctx.h"
#include "drop.h"
#include "handlers.h"
#include "http.h"
#include "s3.h"

HANDLER(download_get)
{
    const char *id = m->arg[0];
    struct drop_meta d;
    struct buf key = BUF_INIT(4096), cd = BUF_INIT(4096), q = BUF_INIT(8192);
    struct buf url = BUF_INIT(16384), hdr = BUF_INIT(16384);
    struct s3_result r = S3_RESULT_INIT;
    char now_etag[80];
    enum sl_err e;
    if ((e = drop_load(c, x->cfg.s3.prefix, id, &d)) ||
        (e = drop_key(&key, x->cfg.s3.prefix, "drops", id))) {
        http_reply_error(h, e, NULL, NULL);
        goto out;
    }
    /* the bytes must still be the ones committed: a presigned PUT replayed after the commit
     * (or anything else that wrote the key) is refused, never served under the checked name */
    if (d.etag[0]) {
        if ((e = s3_head_object(c, buf_str(&key), &r))) {
            http_reply_error(h, e == SL_ES3_NOTFOUND ? SL_ENOTFOUND : e, NULL, NULL);
            goto out;
        }
        drop_etag_copy(r.etag, now_etag);
        if (strcmp(now_etag, d.etag) != 0) {
            fprintf(stderr, "sluice-fcgi: drop %s: its bytes changed after the commit (ETag %s, "
                            "now %s): download refused\n", id, d.etag, now_etag);
            http_reply_error(h, SL_ECHANGED, NULL, NULL);
            goto out;
        }
    }
    if ((e = drop_content_disposition(&cd, "attachment", d.name)) ||
        (e = buf_puts(&q, "response-content-disposition=")) ||
        (e = drop_pct_encode(&q, buf_str(&cd))) ||
        (e = s3_presign(&x->cfg.s3, "GET", buf_str(&key), buf_str(&q), NULL, 0,
                        x->cfg.upload.download_expires, time(NULL), &url)) ||
        (e = buf_printf(&hdr, "Location: %s\r\n", buf_str(&url)))) {
        http_reply_error(h, e, NULL, NULL);
        goto out;
    }
    static const char body[] = "{\"redirect\":true}\n";
    http_reply(h, 302, "application/json", buf_str(&hdr), body, sizeof body - 1);
out:
    s3_result_free(&r);
    buf_free(&key);
    buf_free(&cd);
    buf_free(&q);
    buf_free(&url);
    buf_free(&hdr);
}
