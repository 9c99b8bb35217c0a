/* Committing a drop whose bytes went straight to S3 (a presigned PUT or POST, a browser's
 * multipart upload): shared by the worker's complete routes and the janitor. */
#include <stdio.h>
#include <string.h>

#include "drop.h"
#include "imghdr.h"
#include "sigv4.h"
#include "spool.h"

#include <openssl/evp.h>

struct hasher {
    EVP_MD_CTX *md;
};

static enum sl_err hash_sink(void *ud, const void *p, size_t n)
{
    return EVP_DigestUpdate(((struct hasher *)ud)->md, p, n) ? SL_OK : SL_EINTERNAL;
}

enum sl_err drop_commit_direct(struct s3_client *c, const char *prefix, struct spool *spool,
                               const char *id, const char *want_sha256, struct drop_meta *m,
                               char *msg, size_t msglen)
{
    struct buf key = BUF_INIT(4096), scratch = BUF_INIT(8192), head = BUF_INIT(64);
    struct s3_result r = {0};
    enum sl_err e;
    snprintf(msg, msglen, "%s", "");
    drop_key(&key, prefix, "meta", id);
    if (s3_head_object(c, buf_str(&key), &r) == SL_OK) {
        snprintf(msg, msglen, "this upload was completed already");
        e = SL_ECONFLICT;
        goto out;
    }
    drop_key(&key, prefix, "reserved", id);
    e = s3_head_object(c, buf_str(&key), &r);
    if (e || drop_meta_from_result(&r, id, m)) {
        snprintf(msg, msglen, "no such reservation (expired?)");
        e = SL_ENOTFOUND;
        goto out;
    }
    const char *kind = s3_result_meta(&r, "kind");
    if (!kind || strcmp(kind, "direct") != 0) {
        snprintf(msg, msglen, "this upload streams through sluice, which completes it");
        e = SL_ECONFLICT;
        goto out;
    }
    const char *declared = s3_result_meta(&r, "declared");
    int any_size = declared && !strcmp(declared, "no");   /* Uppy: the size comes later */
    drop_key(&key, prefix, "drops", id);
    e = s3_head_object(c, buf_str(&key), &r);
    if (e == SL_ES3_NOTFOUND) {
        snprintf(msg, msglen, "nothing was uploaded for this reservation yet");
        e = SL_ECONFLICT;
        goto out;
    }
    if (e)
        goto out;
    if (any_size) {
        m->size = r.content_length;
    } else if (r.content_length != m->size) {
        /* not what was announced: remove it, so nothing visible remains; the reservation stays
         * until it expires, so the client may upload again */
        snprintf(msg, msglen, "the uploaded file has %llu bytes, %llu were announced",
                 (unsigned long long)r.content_length, (unsigned long long)m->size);
        s3_delete_object(c, buf_str(&key), &r);
        e = SL_EUNPROCESSABLE;
        goto out;
    }
    m->sha256[0] = '\0';   /* unknown: the bytes went straight to S3 */
    if (want_sha256) {
        /* the client asked for a check: only then do the bytes pass through here */
        struct hasher hs = {EVP_MD_CTX_new()};
        unsigned char d[32];
        unsigned int dl = 0;
        char got[65];
        e = hs.md && EVP_DigestInit_ex(hs.md, EVP_sha256(), NULL) ? SL_OK : SL_ENOMEM;
        if (!e)
            e = s3_get_object(c, buf_str(&key), NULL, hash_sink, &hs, &r);
        if (!e && !EVP_DigestFinal_ex(hs.md, d, &dl))
            e = SL_EINTERNAL;
        EVP_MD_CTX_free(hs.md);
        if (e)
            goto out;
        sigv4_hex(d, 32, got);
        if (strcmp(got, want_sha256) != 0) {
            snprintf(msg, msglen, "the uploaded file's sha256 is %s, not the %s announced", got,
                     want_sha256);
            s3_delete_object(c, buf_str(&key), &r);
            e = SL_EUNPROCESSABLE;
            goto out;
        }
        memcpy(m->sha256, got, 65);
    }
    /* what it is, from its first bytes (16 of them: the worker carries no payload) */
    if (m->size > 0 && s3_get_object(c, buf_str(&key), "bytes=0-15", s3_write_to_buf, &head, &r) == SL_OK)
        snprintf(m->image, sizeof m->image, "%s", img_type_name(img_sniff(head.data, head.len)));
    else
        strcpy(m->image, "none");
    struct s3_kv kv[DROP_META_KV];
    size_t nkv;
    struct s3_body empty = {.length = 0, .mem = ""};
    e = drop_meta_to_kv(m, 0, kv, &nkv, &scratch);
    struct s3_put_opts po = {.content_type = m->content_type, .meta = kv, .n_meta = nkv};
    if (!e)
        e = drop_key(&key, prefix, "meta", id);
    if (!e)
        e = s3_put_object(c, buf_str(&key), &empty, &po, &r);
    if (e)
        goto out;
    if (spool && strcmp(m->image, "none") != 0)
        spool_submit(spool, m->id);
    drop_unreserve(c, prefix, id);
out:
    s3_result_free(&r);
    buf_free(&key);
    buf_free(&scratch);
    buf_free(&head);
    return e;
}


enum sl_err drop_unreserve(struct s3_client *c, const char *prefix, const char *id)
{
    struct buf key = BUF_INIT(4096);
    struct s3_result r = {0};
    enum sl_err e = drop_key(&key, prefix, "reserved", id);
    if (!e)
        e = s3_delete_object(c, buf_str(&key), &r);
    s3_result_free(&r);
    buf_free(&key);
    return e == SL_ES3_NOTFOUND ? SL_OK : e;
}
