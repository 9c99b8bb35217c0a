#include "router.h"

#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "http.h"

#define GET (M_GET | M_HEAD)

const struct route router_table[] = {
    {GET, "/healthz", status_health, "health"},
    {GET, "/metrics", status_metrics, "metrics"},
    {GET, "/api/config", status_config, "config"},
    {M_POST, "/api/drops", upload_post, "upload-post"},
    {M_POST, "/api/drops/", upload_post, "upload-post"},
    {M_PUT, "/api/drops/{*}", upload_put, "upload-put"},
    {M_DELETE, "/api/drops/{*}", delete_drop, "delete"},
    {M_POST, "/api/reservations", upload_reserve, "upload-reserve"},
    {M_POST, "/api/uploads", direct_create, "direct-create"},
    {M_POST, "/api/uploads/{id}/complete", direct_complete, "direct-complete"},
    {M_DELETE, "/api/uploads/{id}", direct_cancel, "direct-cancel"},
    {GET, "/d/{id}", share_get, "share"},
    {GET, "/d/{id}/download", download_get, "download"},
    {GET, "/d/{id}/thumbnail", thumbnail_get, "thumbnail"},
    {M_GET, "/s3/params", uppy_params, "uppy-params"},
    {M_POST, "/s3/multipart", uppy_create, "uppy-create"},
    {GET, "/s3/multipart/{upload}", uppy_list_parts, "uppy-list"},
    {M_DELETE, "/s3/multipart/{upload}", uppy_abort, "uppy-abort"},
    {M_GET, "/s3/multipart/{upload}/batch", uppy_sign_batch, "uppy-batch"},
    {M_POST, "/s3/multipart/{upload}/complete", uppy_complete, "uppy-complete"},
    {M_GET, "/s3/multipart/{upload}/{part}", uppy_sign_part, "uppy-sign"},
};
const size_t router_table_len = sizeof router_table / sizeof router_table[0];

static const struct {
    unsigned bit;
    const char *name;
} methods[] = {{M_GET, "GET"}, {M_HEAD, "HEAD"}, {M_POST, "POST"}, {M_PUT, "PUT"},
               {M_DELETE, "DELETE"}};

unsigned router_method(const char *method)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (!strcmp(method, methods[i].name))
            return methods[i].bit;
    return 0;
}

/* 1 if path fits pattern; the captures are copied into m */
static int fits(const char *pattern, const char *path, struct route_match *m)
{
    const char *p = pattern, *s = path;
    size_t used = 0;
    m->n_args = 0;
    while (*p) {
        if (*p != '{') {
            if (*p++ != *s++)
                return 0;
            continue;
        }
        const char *close = strchr(p, '}');
        int rest = close == p + 2 && p[1] == '*';
        size_t n = rest ? strlen(s) : strcspn(s, "/");
        if (!close || n == 0 || m->n_args == ROUTER_MAX_ARGS || used + n + 1 > sizeof m->buf)
            return 0;
        memcpy(m->buf + used, s, n);
        m->buf[used + n] = '\0';
        m->arg[m->n_args++] = m->buf + used;
        used += n + 1;
        s += n;
        p = close + 1;
    }
    return *s == '\0';
}

int router_match(const char *method, const char *path, struct route_match *m,
                 char allow[ROUTER_ALLOW_MAX])
{
    unsigned want = router_method(method), allowed = 0;
    for (size_t i = 0; i < router_table_len; i++) {
        const struct route *r = &router_table[i];
        if (!fits(r->pattern, path, m))
            continue;
        if (r->methods & want) {
            m->route = r;
            return 200;
        }
        allowed |= r->methods;
    }
    if (!allowed)
        return 404;
    allow[0] = '\0';
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (allowed & methods[i].bit) {
            if (allow[0])
                strcat(allow, ", ");
            strcat(allow, methods[i].name);
        }
    }
    return 405;
}

void router_dispatch(struct ctx *x, struct http *h, struct s3_client *c)
{
    struct route_match m;
    char allow[ROUTER_ALLOW_MAX], extra[ROUTER_ALLOW_MAX + 16];
    switch (router_match(h->method, h->path, &m, allow)) {
    case 200:
        m.route->fn(x, h, c, &m);
        return;
    case 405:
        snprintf(extra, sizeof extra, "Allow: %s\r\n", allow);
        http_reply_error(h, SL_EMETHOD, NULL, extra);
        return;
    default:
        http_reply_error(h, SL_ENOTFOUND, "no such route", NULL);
    }
}
