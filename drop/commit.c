/* Committing a drop whose bytes went straight to S3 (a presigned PUT or POST, a browser's
 * multipart upload): shared by the worker's complete routes and the janitor. */
#include <stdio.h>
#include <string.h>

#include "drop.h"
#include "imghdr.h"
#include "sigv4.h"
#include "spool.h"

#include <openssl/evp.h>

static enum sl_err hash_sink(void *ud, const void *p, size_t n)
{
    return EVP_DigestUpdate(ud, p, n) ? SL_OK : SL_EINTERNAL;
}

/* the sha256 (hex) of the object at key, read through */
static enum sl_err object_sha256(struct s3_client *c, const char *key, char hex[65],
                                 struct s3_result *r)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char d[32];
    unsigned int dl = 0;
    enum sl_err e;
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        e = SL_ENOMEM;
        goto out;
    }
    if ((e = s3_get_object(c, key, NULL, hash_sink, md, r)))
        goto out;
    if (!EVP_DigestFinal_ex(md, d, &dl)) {
        e = SL_EINTERNAL;
        goto out;
    }
    sigv4_hex(d, 32, hex);
out:
    EVP_MD_CTX_free(md);
    return e;
}

/* the bytes at key are not what was announced: delete them, or say in msg that they stay
 * for now (the janitor deletes them once the reservation expires) */
static void remove_rejected(struct s3_client *c, const char *key, struct s3_result *r,
                            char *msg, size_t msglen)
{
    enum sl_err e = s3_delete_object(c, key, r);
    if (e == SL_OK || e == SL_ES3_NOTFOUND)
        return;
    fprintf(stderr, "sluice: cannot delete the rejected upload %s: %s [HTTP %ld %s]\n", key,
            sl_err_str(e), r->status, r->code);
    size_t l = strlen(msg);
    if (l + 1 < msglen)
        snprintf(msg + l, msglen - l, "; the bytes could not be removed yet; the janitor will");
}

enum sl_err drop_commit_direct(struct s3_client *c, const char *prefix, struct spool *spool,
                               const char *id, const struct drop_resv *known,
                               const char *want_sha256, struct drop_meta *m, char *msg,
                               size_t msglen)
{
    struct buf key = BUF_INIT(4096), scratch = BUF_INIT(8192), head = BUF_INIT(64);
    struct s3_result r = S3_RESULT_INIT;
    struct drop_resv rv;
    enum sl_err e;
    enum drop_state st;
    snprintf(msg, msglen, "%s", "");
    if (drop_lookup(c, prefix, id, m, &st, NULL) == SL_OK && st == DROP_COMMITTED) {
        snprintf(msg, msglen, "this upload was completed already");
        e = SL_ECONFLICT;
        goto out;
    }
    if (known) {
        rv = *known;
    } else if ((e = drop_reservation(c, prefix, id, &rv))) {
        if (e == SL_ENOTFOUND)
            snprintf(msg, msglen, "no such reservation (expired?)");
        goto out;
    }
    *m = rv.m;
    if (strcmp(rv.kind, "direct") != 0) {
        snprintf(msg, msglen, "this upload streams through sluice, which completes it");
        e = SL_ECONFLICT;
        goto out;
    }
    int any_size = rv.any_size;   /* Uppy: the size comes with the bytes */
    drop_key(&key, prefix, "drops", id);
    e = s3_head_object(c, buf_str(&key), &r);
    if (e == SL_ES3_NOTFOUND) {
        snprintf(msg, msglen, "nothing was uploaded for this reservation yet");
        e = SL_ECONFLICT;
        goto out;
    }
    if (e)
        goto out;
    drop_etag_copy(r.etag, m->etag);   /* what the link serves from now on, and nothing else */
    if (any_size) {
        m->size = r.content_length;
    } else if (r.content_length != m->size) {
        /* not what was announced: remove it, so nothing visible remains; the reservation stays
         * until it expires, so the client may upload again */
        snprintf(msg, msglen, "the uploaded file has %llu bytes, %llu were announced",
                 (unsigned long long)r.content_length, (unsigned long long)m->size);
        remove_rejected(c, buf_str(&key), &r, msg, msglen);
        e = SL_EUNPROCESSABLE;
        goto out;
    }
    m->sha256[0] = '\0';   /* unknown: the bytes went straight to S3 */
    if (want_sha256) {
        /* the client asked for a check: only then do the bytes pass through here */
        char got[65];
        if ((e = object_sha256(c, buf_str(&key), got, &r)))
            goto out;
        if (strcmp(got, want_sha256) != 0) {
            snprintf(msg, msglen, "the uploaded file does not have the sha256 announced");
            remove_rejected(c, buf_str(&key), &r, msg, msglen);
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
    if ((e = drop_meta_to_kv(m, 0, kv, &nkv, &scratch)))
        goto out;
    if ((e = drop_key(&key, prefix, "meta", id)))
        goto out;
    struct s3_put_opts po = {.content_type = m->content_type, .meta = kv, .n_meta = nkv};
    if ((e = s3_put_object(c, buf_str(&key), &empty, &po, &r)))
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
