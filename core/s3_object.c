/* Object operations: PUT, GET, HEAD and DELETE of one key, and the headers a PUT's options
 * turn into (CreateMultipartUpload sends the same). */
#include "s3_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void s3_put_headers_free(struct s3_put_headers *h)
{
    for (size_t i = 0; i < h->n_owned; i++)
        free(h->owned[i]);
    h->n_owned = 0;
}

enum sl_err s3_put_headers_make(const struct s3_put_opts *o, struct s3_put_headers *h)
{
    memset(h, 0, sizeof *h);
    const char *ct = o && o->content_type ? o->content_type : "application/octet-stream";
    h->kv[h->n++] = (struct s3_kv){"content-type", (char *)ct};
    if (!o)
        return SL_OK;
    if (o->cache_control)
        h->kv[h->n++] = (struct s3_kv){"cache-control", (char *)o->cache_control};
    if (o->content_disposition)
        h->kv[h->n++] = (struct s3_kv){"content-disposition", (char *)o->content_disposition};
    if (o->acl)
        h->kv[h->n++] = (struct s3_kv){"x-amz-acl", (char *)o->acl};
    if (o->n_meta > S3_MAX_META)
        return SL_EBADREQ;
    for (size_t i = 0; i < o->n_meta; i++) {
        char *name;
        if (asprintf(&name, "x-amz-meta-%s", o->meta[i].name) < 0) {
            s3_put_headers_free(h);
            return SL_ENOMEM;
        }
        h->owned[h->n_owned++] = name;
        h->kv[h->n++] = (struct s3_kv){name, o->meta[i].value};
    }
    return SL_OK;
}

enum sl_err s3_put_object(struct s3_client *c, const char *key, const struct s3_body *body,
                          const struct s3_put_opts *o, struct s3_result *r)
{
    struct s3_put_headers h;
    enum sl_err e;
    if ((e = s3_put_headers_make(o, &h)))
        return e;
    struct s3_req rq = {.op = S3_OP_PUT, .method = "PUT", .key = key, .body = body,
                        .headers = h.kv, .n_headers = h.n, .streams = body && !body->mem};
    e = s3_perform(c, &rq, r);
    s3_put_headers_free(&h);
    return e;
}

enum sl_err s3_get_object(struct s3_client *c, const char *key, const char *range,
                          s3_write_fn w, void *ud, struct s3_result *r)
{
    struct s3_kv h[1] = {{"range", (char *)range}};
    struct s3_req rq = {.op = S3_OP_GET, .method = "GET", .key = key, .headers = h,
                        .n_headers = range ? 1 : 0, .sink = w, .sink_ud = ud, .streams = 1};
    return s3_perform(c, &rq, r);
}

enum sl_err s3_head_object(struct s3_client *c, const char *key, struct s3_result *r)
{
    struct s3_req rq = {.op = S3_OP_HEAD, .method = "HEAD", .key = key};
    return s3_perform(c, &rq, r);
}

enum sl_err s3_delete_object(struct s3_client *c, const char *key, struct s3_result *r)
{
    struct s3_req rq = {.op = S3_OP_DELETE, .method = "DELETE", .key = key};
    return s3_perform(c, &rq, r);
}
