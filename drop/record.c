/* A drop's objects in S3 as whole operations: load a record, write or read a reservation.
 * (drop.c is the pure part; commit.c commits direct uploads.) */
#include <stdio.h>
#include <string.h>

#include "drop.h"

/* HEAD <prefix><kind>/<id> into r: SL_ENOTFOUND when id is not valid or nothing is there */
static enum sl_err head(struct s3_client *c, const char *prefix, const char *kind,
                        const char *id, struct s3_result *r)
{
    struct buf key = BUF_INIT(4096);
    enum sl_err e = SL_ENOTFOUND;
    if (drop_valid_id(id) && !(e = drop_key(&key, prefix, kind, id)) &&
        (e = s3_head_object(c, buf_str(&key), r)) == SL_ES3_NOTFOUND)
        e = SL_ENOTFOUND;
    buf_free(&key);
    return e;
}

enum sl_err drop_remove(struct s3_client *c, const char *prefix, const char *kind,
                        const char *id)
{
    struct buf key = BUF_INIT(4096);
    struct s3_result r = S3_RESULT_INIT;
    enum sl_err e;
    if (!(e = drop_key(&key, prefix, kind, id)) &&
        (e = s3_delete_object(c, buf_str(&key), &r)) == SL_ES3_NOTFOUND)
        e = SL_OK;   /* gone already */
    s3_result_free(&r);
    buf_free(&key);
    return e;
}

enum sl_err drop_unreserve(struct s3_client *c, const char *prefix, const char *id)
{
    return drop_remove(c, prefix, "reserved", id);
}

enum sl_err drop_withdraw(struct s3_client *c, const char *prefix, const char *id)
{
    struct drop_meta m;
    enum drop_state st;
    enum sl_err e = drop_lookup(c, prefix, id, &m, &st, NULL);
    if (e == SL_ENOTFOUND)
        e = SL_OK;
    if (!e && st == DROP_PENDING)
        e = drop_remove(c, prefix, "meta", id);
    return e ? e : drop_unreserve(c, prefix, id);
}

enum sl_err drop_lookup(struct s3_client *c, const char *prefix, const char *id,
                        struct drop_meta *m, enum drop_state *st, int *autocommit)
{
    struct s3_result r = S3_RESULT_INIT;
    int ac = 0;
    enum sl_err e = head(c, prefix, "meta", id, &r);
    *st = DROP_NONE;
    if (!e) {
        if (drop_meta_from_result(&r, id, m) == SL_OK)
            *st = DROP_COMMITTED;
        else if (drop_pending_from_result(&r, id, m, &ac) == SL_OK)
            *st = DROP_PENDING;
        else
            e = SL_ENOTFOUND;   /* an object without sluice's metadata is not a drop */
    }
    if (autocommit)
        *autocommit = ac;
    s3_result_free(&r);
    return e;
}

enum sl_err drop_load(struct s3_client *c, const char *prefix, const char *id,
                      struct drop_meta *m)
{
    enum drop_state st;
    enum sl_err e = drop_lookup(c, prefix, id, m, &st, NULL);
    return !e && st != DROP_COMMITTED ? SL_ENOTFOUND : e;
}

enum sl_err drop_publish(struct s3_client *c, const char *prefix, const struct drop_resv *rv)
{
    /* no sha256 and no token hash: no reader (of this version or an older one) can take it
     * for a record; only what the "uploading" page shows */
    struct buf name = BUF_INIT(1024), key = BUF_INIT(4096);
    struct s3_result r = S3_RESULT_INIT;
    struct s3_body empty = {.length = 0, .mem = ""};
    char created[24], size[24];
    enum sl_err e;
    snprintf(created, sizeof created, "%lld", (long long)rv->m.created);
    snprintf(size, sizeof size, "%llu", (unsigned long long)rv->m.size);
    struct s3_kv kv[5] = {{"state", "pending"}, {"created", created}, {"size", size}};
    size_t n = 3;
    if ((e = drop_pct_encode(&name, rv->m.name)) || (e = drop_key(&key, prefix, "meta", rv->m.id)))
        goto out;
    kv[n++] = (struct s3_kv){"name", (char *)buf_str(&name)};
    if (rv->autocommit)
        kv[n++] = (struct s3_kv){"autocommit", "yes"};
    struct s3_put_opts po = {.content_type = rv->m.content_type, .meta = kv, .n_meta = n};
    e = s3_put_object(c, buf_str(&key), &empty, &po, &r);
out:
    s3_result_free(&r);
    buf_free(&name);
    buf_free(&key);
    return e;
}

/* the marker alone (a touch rewrites only this) */
static enum sl_err write_marker(struct s3_client *c, const char *prefix,
                                const struct drop_resv *rv)
{
    struct s3_kv kv[DROP_META_KV + 7];
    struct buf scratch = BUF_INIT(8192), key = BUF_INIT(4096);
    struct s3_result r = S3_RESULT_INIT;
    struct s3_body empty = {.length = 0, .mem = ""};
    size_t n;
    enum sl_err e;
    if ((e = drop_meta_to_kv(&rv->m, 0, kv, &n, &scratch)))
        goto out;
    kv[n++] = (struct s3_kv){"kind", (char *)rv->kind};
    if (rv->any_size)
        kv[n++] = (struct s3_kv){"declared", "no"};
    if (rv->upload_hash[0])
        kv[n++] = (struct s3_kv){"upload-hash", (char *)rv->upload_hash};
    if (rv->client[0])
        kv[n++] = (struct s3_kv){"client", (char *)rv->client};
    if (rv->autocommit)
        kv[n++] = (struct s3_kv){"autocommit", "yes"};
    if (rv->published)
        kv[n++] = (struct s3_kv){"published", "yes"};
    if (rv->token[0])
        kv[n++] = (struct s3_kv){"token", (char *)rv->token};
    struct s3_put_opts po = {.content_type = rv->m.content_type, .meta = kv, .n_meta = n};
    if ((e = drop_key(&key, prefix, "reserved", rv->m.id)))
        goto out;
    e = s3_put_object(c, buf_str(&key), &empty, &po, &r);
out:
    s3_result_free(&r);
    buf_free(&scratch);
    buf_free(&key);
    return e;
}

enum sl_err drop_reserve(struct s3_client *c, const char *prefix, const struct drop_resv *rv)
{
    /* the marker first: whatever exists of an upload, its marker speaks for it */
    enum sl_err e = write_marker(c, prefix, rv);
    if (!e && rv->published && (e = drop_publish(c, prefix, rv))) {
        /* nobody got its id: undone, the pending record first (a PUT that timed out may still
         * have landed); the marker only once it is gone, so nothing is left that no marker
         * speaks for (else the janitor removes both) */
        if (drop_remove(c, prefix, "meta", rv->m.id) == SL_OK)
            drop_unreserve(c, prefix, rv->m.id);
    }
    return e;
}

enum sl_err drop_reservation(struct s3_client *c, const char *prefix, const char *id,
                             struct drop_resv *rv)
{
    struct s3_result r = S3_RESULT_INIT;
    enum sl_err e;
    memset(rv, 0, sizeof *rv);
    if ((e = head(c, prefix, "reserved", id, &r)))
        goto out;
    const char *kind = s3_result_meta(&r, "kind"), *declared = s3_result_meta(&r, "declared");
    const char *up = s3_result_meta(&r, "upload-hash"), *cl = s3_result_meta(&r, "client");
    if (drop_meta_from_result(&r, id, &rv->m) || !kind || strlen(kind) >= sizeof rv->kind) {
        e = SL_ENOTFOUND;
        goto out;
    }
    strcpy(rv->kind, kind);
    rv->any_size = declared && !strcmp(declared, "no");
    if (up && strlen(up) == 64)
        strcpy(rv->upload_hash, up);
    if (cl && strlen(cl) == 64)
        strcpy(rv->client, cl);
    const char *ac = s3_result_meta(&r, "autocommit");
    rv->autocommit = ac && !strcmp(ac, "yes");
    const char *pub = s3_result_meta(&r, "published");
    rv->published = pub && !strcmp(pub, "yes");
    /* (only ever compared with the configured names: quota_owner) */
    const char *tok = s3_result_meta(&r, "token");
    if (tok && strlen(tok) < sizeof rv->token)
        strcpy(rv->token, tok);
    rv->touched = r.last_modified;
out:
    s3_result_free(&r);
    return e;
}

long drop_touch_every(long reserve_ttl)
{
    long every = reserve_ttl / 4;
    return every < 300 ? every : 300;
}

enum sl_err drop_touch(struct s3_client *c, const char *prefix, struct drop_resv *rv,
                       long reserve_ttl, time_t now)
{
    /* at most once per interval per upload: one small PUT, whatever the number of parts */
    if (now - rv->touched < drop_touch_every(reserve_ttl))
        return SL_OK;
    enum sl_err e = write_marker(c, prefix, rv);
    if (!e)
        rv->touched = now;
    return e;
}

enum sl_err drop_discard(struct s3_client *c, const char *prefix, const char *id)
{
    struct buf key = BUF_INIT(4096);
    struct s3_result r = S3_RESULT_INIT;
    struct s3_upload *ups = NULL;
    size_t n = 0;
    enum sl_err e;
    if ((e = drop_key(&key, prefix, "drops", id)) ||
        (e = s3_list_multipart_uploads(c, buf_str(&key), &ups, &n, &r)))
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ups[i].key, buf_str(&key)) != 0)
            continue;   /* a longer key that starts with this one */
        enum sl_err ae = s3_mpu_abort(c, ups[i].key, ups[i].upload_id, &r);
        if (ae && ae != SL_ES3_NOTFOUND && !e)
            e = ae;
    }
    enum sl_err de = drop_remove(c, prefix, "drops", id);
    if (!e)
        e = de;
    /* a commit that raced this cancel (it wrote the record between the caller's check and the
     * delete above): the owner asked for nothing to remain, so its record goes too */
    if (!e)
        e = drop_remove(c, prefix, "meta", id);
    if (!e)
        e = drop_unreserve(c, prefix, id);   /* last: it is how the janitor finds the rest */
out:
    s3_uploads_free(ups, n);
    s3_result_free(&r);
    buf_free(&key);
    return e;
}

enum sl_err drop_delete(struct s3_client *c, const char *prefix, const char *id)
{
    /* what nothing else points at goes first and the record, which points at it all, last: a
     * failure at any step leaves the drop visible and deletable again, never an orphan. The
     * marker (left over when a commit could not remove it) goes before the record too: a
     * marker without a record would show the deleted drop as "uploading". */
    static const char *const order[] = {"thumbs", "drops", "reserved", "meta"};
    enum sl_err e = SL_OK;
    for (size_t i = 0; i < sizeof order / sizeof *order && !e; i++)
        e = drop_remove(c, prefix, order[i], id);
    return e;
}
