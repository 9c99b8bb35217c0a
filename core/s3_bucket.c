/* Bucket operations: HEAD the bucket, GET or PUT one of its XML subresources (cors,
 * lifecycle). */
#include "s3_internal.h"

#include <string.h>

#include <openssl/evp.h>

enum sl_err s3_head_bucket(struct s3_client *c, struct s3_result *r)
{
    struct s3_req rq = {.op = S3_OP_HEAD, .method = "HEAD"};
    return s3_perform(c, &rq, r);
}

enum sl_err s3_bucket_get_xml(struct s3_client *c, const char *sub, struct buf *xml,
                              struct s3_result *r)
{
    struct s3_req rq = {.op = S3_OP_OTHER, .method = "GET", .query = sub, .resp = xml};
    return s3_perform(c, &rq, r);
}

enum sl_err s3_bucket_put_xml(struct s3_client *c, const char *sub, const char *xml,
                              struct s3_result *r)
{
    unsigned char md5[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    char b64[32];
    if (!EVP_Digest(xml, strlen(xml), md5, &mlen, EVP_md5(), NULL) || mlen != 16)
        return SL_EINTERNAL;
    EVP_EncodeBlock((unsigned char *)b64, md5, 16);
    struct s3_kv h[2] = {{"content-type", "application/xml"}, {"content-md5", b64}};
    struct s3_body body = {.length = strlen(xml), .mem = xml};
    struct buf resp = BUF_INIT(S3_ERRBODY_MAX);
    struct s3_req rq = {.op = S3_OP_OTHER, .method = "PUT", .query = sub, .body = &body,
                        .headers = h, .n_headers = 2, .resp = &resp};
    enum sl_err e = s3_perform(c, &rq, r);
    buf_free(&resp);
    return e;
}
