/* handlers: one file per route family (fcgi/handler/), each answering its requests fully.
 * The router's table is the only caller. A handler depends on the layers below it (http, auth,
 * inflight, metrics, reply, body, ctx) and on core/ and drop/, and never on another handler:
 * what two of them need moves down a layer. */
#ifndef SLUICE_HANDLERS_H
#define SLUICE_HANDLERS_H

#include "router.h"

#define HANDLER(name) \
    void name(struct ctx *x, struct http *h, struct s3_client *c, const struct route_match *m)

/* status.c: /healthz, /metrics, /api/config */
HANDLER(status_health);
HANDLER(status_metrics);
HANDLER(status_config);
/* upload.c: streamed uploads. POST /api/drops (a form, or ?reserve), PUT /api/drops/{name} */
HANDLER(upload_post);
HANDLER(upload_put);
HANDLER(upload_reserve);   /* POST /api/reservations (= POST /api/drops?reserve, buffered) */
/* share.c: GET /d/{id}, the share page (and the "uploading" page) */
HANDLER(share_get);
/* download.c: GET /d/{id}/download */
HANDLER(download_get);
/* delete.c: DELETE /api/drops/{id} */
HANDLER(delete_drop);
/* thumbnail.c: GET /d/{id}/thumbnail */
HANDLER(thumbnail_get);
/* direct.c: POST /api/uploads, POST /api/uploads/{id}/complete, DELETE /api/uploads/{id} */
HANDLER(direct_create);
HANDLER(direct_complete);
HANDLER(direct_cancel);
/* uppy.c: the Companion-style /s3/ routes */
HANDLER(uppy_params);
HANDLER(uppy_create);
HANDLER(uppy_list_parts);
HANDLER(uppy_abort);
HANDLER(uppy_sign_batch);
HANDLER(uppy_complete);
HANDLER(uppy_sign_part);

#endif
