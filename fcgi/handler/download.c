/* GET /d/{id}/download: a 302 to a short-lived presigned S3 URL that names the file
 * (Content-Disposition: attachment). The bytes never flow through the worker. */
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
    enum sl_err e;
    if ((e = drop_load(c, x->cfg.s3.prefix, id, &d)) ||
        (e = drop_key(&key, x->cfg.s3.prefix, "drops", id)) ||
        (e = drop_content_disposition(&cd, "attachment", d.name)) ||
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
    buf_free(&key);
    buf_free(&cd);
    buf_free(&q);
    buf_free(&url);
    buf_free(&hdr);
}
