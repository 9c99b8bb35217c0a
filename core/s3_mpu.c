/* Multipart upload operations: create, upload a part, complete, abort, list the parts. */
#include "s3_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xml.h"

#define ID_MAX 4096                 /* an upload id, or a query that names one */
#define COMPLETE_BODY_MAX (2u << 20) /* 10,000 parts of <Part>...</Part> fit easily */

enum sl_err s3_mpu_create(struct s3_client *c, const char *key, const struct s3_put_opts *o,
                          char **upload_id, struct s3_result *r)
{
    *upload_id = NULL;
    struct s3_put_headers h;
    struct buf resp = BUF_INIT(S3_ERRBODY_MAX), id = BUF_INIT(ID_MAX);
    enum sl_err e;
    if ((e = s3_put_headers_make(o, &h)))
        return e;
    /* not idempotent in theory (a retry may leave an orphan upload); the janitor aborts
     * orphans, and failing an upload for a transient error is worse */
    struct s3_req rq = {.op = S3_OP_MPU_CREATE, .method = "POST", .key = key, .query = "uploads",
                        .headers = h.kv, .n_headers = h.n, .resp = &resp};
    if ((e = s3_perform(c, &rq, r)))
        goto out;
    if (xml_get(resp.data, resp.len, "UploadId", &id) != SL_OK || id.len == 0) {
        e = SL_ES3_REJECTED;
        goto out;
    }
    *upload_id = id.data;   /* handed over: not freed below */
    buf_init(&id, ID_MAX);
out:
    buf_free(&id);
    s3_put_headers_free(&h);
    buf_free(&resp);
    return e;
}

/* "partNumber=N&uploadId=..." (part > 0) or "uploadId=..." */
static enum sl_err upload_query(struct buf *q, const char *upload_id, int part)
{
    enum sl_err e;
    if (part > 0) {
        char num[16];
        snprintf(num, sizeof num, "%d", part);
        if ((e = s3_query_add(q, "partNumber", num)))
            return e;
    }
    return s3_query_add(q, "uploadId", upload_id);
}

enum sl_err s3_mpu_upload_part(struct s3_client *c, const char *key, const char *upload_id,
                               int part_number, const struct s3_body *body,
                               struct s3_result *r)
{
    if (part_number < 1 || part_number > S3_MAX_PARTS)
        return SL_EINTERNAL;
    struct buf q = BUF_INIT(ID_MAX);
    enum sl_err e;
    if ((e = upload_query(&q, upload_id, part_number)))
        goto out;
    struct s3_req rq = {.op = S3_OP_MPU_PART, .method = "PUT", .key = key, .query = buf_str(&q),
                        .body = body, .streams = !body->mem};
    if ((e = s3_perform(c, &rq, r)))
        goto out;
    if (!r->etag[0])
        e = SL_ES3_REJECTED;   /* no ETag: the part cannot be named in the completion */
out:
    buf_free(&q);
    return e;
}

static enum sl_err complete_body(struct buf *xml, const struct s3_part *parts, size_t n)
{
    enum sl_err e;
    if ((e = buf_puts(xml, "<CompleteMultipartUpload>")))
        return e;
    for (size_t i = 0; i < n; i++) {
        if ((e = buf_printf(xml, "<Part><PartNumber>%d</PartNumber><ETag>", parts[i].number)))
            return e;
        if ((e = xml_escape(xml, parts[i].etag)))
            return e;
        if ((e = buf_puts(xml, "</ETag></Part>")))
            return e;
    }
    return buf_puts(xml, "</CompleteMultipartUpload>");
}

enum sl_err s3_mpu_complete(struct s3_client *c, const char *key, const char *upload_id,
                            const struct s3_part *parts, size_t n, struct s3_result *r)
{
    struct buf q = BUF_INIT(ID_MAX), xml = BUF_INIT(COMPLETE_BODY_MAX);
    struct buf resp = BUF_INIT(S3_ERRBODY_MAX);
    struct s3_result hr = S3_RESULT_INIT;
    enum sl_err e;
    if ((e = upload_query(&q, upload_id, 0)))
        goto out;
    if ((e = complete_body(&xml, parts, n)))
        goto out;
    struct s3_body body = {.length = xml.len, .mem = xml.data};
    struct s3_kv h[1] = {{"content-type", "application/xml"}};
    struct s3_req rq = {.op = S3_OP_MPU_COMPLETE, .method = "POST", .key = key,
                        .query = buf_str(&q), .body = &body, .headers = h, .n_headers = 1,
                        .resp = &resp};
    e = s3_perform(c, &rq, r);
    /* an earlier attempt may have completed it before the connection broke */
    if (e == SL_ES3_NOTFOUND && r->attempts > 1 && s3_head_object(c, key, &hr) == SL_OK)
        e = SL_OK;
out:
    s3_result_free(&hr);
    buf_free(&q);
    buf_free(&xml);
    buf_free(&resp);
    return e;
}

enum sl_err s3_mpu_abort(struct s3_client *c, const char *key, const char *upload_id,
                         struct s3_result *r)
{
    struct buf q = BUF_INIT(ID_MAX);
    enum sl_err e;
    if ((e = upload_query(&q, upload_id, 0)))
        goto out;
    struct s3_req rq = {.op = S3_OP_MPU_ABORT, .method = "DELETE", .key = key,
                        .query = buf_str(&q)};
    e = s3_perform(c, &rq, r);
out:
    buf_free(&q);
    return e;
}

/* ---- ListParts, through s3_list.c's walker ---- */

static enum sl_err part_entry(void *entry, const char *xml, size_t len, struct buf *t)
{
    struct s3_part *p = entry;
    p->number = atoi(s3_xml_field(xml, len, "PartNumber", t));
    snprintf(p->etag, sizeof p->etag, "%s", s3_xml_field(xml, len, "ETag", t));
    p->size = strtoull(s3_xml_field(xml, len, "Size", t), NULL, 10);
    p->last_modified = s3_parse_iso8601(s3_xml_field(xml, len, "LastModified", t));
    return SL_OK;
}

static void parts_free(void *parts, size_t n)
{
    (void)n;
    free(parts);
}

void s3_list_parts_spec(struct s3_list_spec *spec, const char *key, const char *upload_id)
{
    *spec = (struct s3_list_spec){
        .key = key,
        .params = {{"max-parts", "1000"}, {"uploadId", upload_id}},
        .marker = {"part-number-marker"},
        .next = {"NextPartNumberMarker"},
        .first = "0",   /* always sent, as S3's own clients do */
        .entry_tag = "Part",
        .entry_size = sizeof(struct s3_part),
        .max_entries = S3_MAX_PARTS,
        .on_entry = part_entry,
        .free_entries = parts_free,
    };
}

enum sl_err s3_mpu_list_parts(struct s3_client *c, const char *key, const char *upload_id,
                              struct s3_part **parts, size_t *n, struct s3_result *r)
{
    struct s3_list_spec spec;
    void *v;
    s3_list_parts_spec(&spec, key, upload_id);
    enum sl_err e = s3_list_pages(c, &spec, &v, n, r);
    *parts = v;
    return e;
}
