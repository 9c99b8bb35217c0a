#include "reply.h"

#include <stdio.h>
#include <string.h>

#include "ctx.h"
#include "drop.h"
#include "http.h"

json_t *reply_link(const struct ctx *x, const struct http *h, const char *fmt, const char *id)
{
    struct buf b = BUF_INIT(8192);
    json_t *j = NULL;
    if (!http_base_url(h, x->cfg.upload.public_url, &b) && !buf_printf(&b, fmt, id))
        j = http_json_str(buf_str(&b));
    buf_free(&b);
    return j;
}

void reply_drop(const struct ctx *x, struct http *h, const struct drop_meta *m,
                const char *token)
{
    struct buf base = BUF_INIT(4096), hdr = BUF_INIT(8192), text = BUF_INIT(8192);
    char created[32];
    http_iso8601(m->created, created);
    http_base_url(h, x->cfg.upload.public_url, &base);
    buf_printf(&hdr, "Location: %s/d/%s\r\n", buf_str(&base), m->id);
    if (http_wants_json(h)) {
        json_t *j = json_object();
        json_object_set_new(j, "id", json_string(m->id));
        json_object_set_new(j, "url", reply_link(x, h, "/d/%s", m->id));
        json_object_set_new(j, "download_url", reply_link(x, h, "/d/%s/download", m->id));
        json_object_set_new(j, "thumbnail_url", strcmp(m->image, "none")
                                                    ? reply_link(x, h, "/d/%s/thumbnail", m->id)
                                                    : json_null());
        json_object_set_new(j, "name", http_json_str(m->name));
        json_object_set_new(j, "size", json_integer((json_int_t)m->size));
        json_object_set_new(j, "content_type", http_json_str(m->content_type));
        /* null: a direct upload, never seen by sluice */
        json_object_set_new(j, "sha256", m->sha256[0] ? json_string(m->sha256) : json_null());
        json_object_set_new(j, "delete_token", token ? json_string(token) : json_null());
        json_object_set_new(j, "created_at", json_string(created));
        http_reply_json(h, 201, j, buf_str(&hdr));
    } else {
        /* curl -T, ShareX and friends: the share link as plain text (and the delete token in a
         * header, so nothing else lands in a shell pipeline) */
        buf_printf(&text, "%s/d/%s\n", buf_str(&base), m->id);
        if (token)
            buf_printf(&hdr, "X-Delete-Token: %s\r\n", token);
        http_reply(h, 201, "text/plain; charset=utf-8", buf_str(&hdr), text.data, text.len);
    }
    buf_free(&base);
    buf_free(&hdr);
    buf_free(&text);
}
