/* What the worker says about itself: /healthz (503 while draining), /metrics (Prometheus
 * text), /api/config (what the upload page needs to choose a path). */
#include <jansson.h>

#include "auth.h"
#include "ctx.h"
#include "handlers.h"
#include "http.h"

HANDLER(status_health)
{
    (void)c, (void)m;
    static const char ok[] = "{\"status\":\"ok\"}\n";
    if (atomic_load(&x->stopping))
        return http_reply_error(h, SL_ESHUTDOWN, NULL, NULL);
    http_reply(h, 200, "application/json", NULL, ok, sizeof ok - 1);
}

HANDLER(status_metrics)
{
    (void)c, (void)m;
    if (!auth_require_metrics(x, h))
        return;
    struct buf b = BUF_INIT(1 << 20);
    metrics_render(&x->m, x->slots, &b);
    quota_metrics(&x->quota, &b);
    http_reply(h, 200, "text/plain; version=0.0.4", NULL, buf_str(&b), b.len);
    buf_free(&b);
}

HANDLER(status_config)
{
    (void)c, (void)m;
    const struct upload_config *uc = &x->cfg.upload;
    http_reply_json(h, 200,
                    json_pack("{s:b,s:b,s:I,s:I,s:b}", "direct",
                              uc->cors_origins && uc->cors_origins[0], "anonymous",
                              uc->anonymous, "max_size", (json_int_t)uc->max_size, "part_size",
                              (json_int_t)uc->part_size, "thumbnails", x->cfg.thumbs.enabled),
                    NULL);
}
