/* A drop's objects in S3 as whole operations: load a record, write or read a reservation.
 * (drop.c is the pure part; commit.c commits direct uploads.) */
#include <string.h>

#include "drop.h"

enum sl_err drop_load(struct s3_client *c, const char *prefix, const char *id,
                      struct drop_meta *m)
{
    struct buf key = BUF_INIT(4096);
    struct s3_result r = S3_RESULT_INIT;
    enum sl_err e;
    if (!drop_valid_id(id)) {
        e = SL_ENOTFOUND;
        goto out;
    }
    if ((e = drop_key(&key, prefix, "meta", id)))
        goto out;
    if ((e = s3_head_object(c, buf_str(&key), &r))) {
        if (e == SL_ES3_NOTFOUND)
            e = SL_ENOTFOUND;
        goto out;
    }
    if (drop_meta_from_result(&r, id, m))
        e = SL_ENOTFOUND;   /* an object without sluice's metadata is not a drop */
out:
    s3_result_free(&r);
    buf_free(&key);
    return e;
}

enum sl_err drop_reserve(struct s3_client *c, const char *prefix, const struct drop_meta *m,
                         const char *kind, const struct s3_kv *extra, size_t n_extra)
{
    struct s3_kv kv[DROP_META_KV + DROP_RESERVE_EXTRA_MAX + 1];
    struct buf scratch = BUF_INIT(8192), key = BUF_INIT(4096);
    struct s3_result r = S3_RESULT_INIT;
    struct s3_body empty = {.length = 0, .mem = ""};
    size_t n;
    enum sl_err e;
    if (n_extra > DROP_RESERVE_EXTRA_MAX) {
        e = SL_EINTERNAL;
        goto out;
    }
    if ((e = drop_meta_to_kv(m, 0, kv, &n, &scratch)))
        goto out;
    if (n_extra)   /* extra may be NULL then */
        memcpy(kv + n, extra, n_extra * sizeof *extra);
    n += n_extra;
    kv[n++] = (struct s3_kv){"kind", (char *)kind};
    struct s3_put_opts po = {.content_type = m->content_type, .meta = kv, .n_meta = n};
    if ((e = drop_key(&key, prefix, "reserved", m->id)))
        goto out;
    e = s3_put_object(c, buf_str(&key), &empty, &po, &r);
out:
    s3_result_free(&r);
    buf_free(&scratch);
    buf_free(&key);
    return e;
}

enum sl_err drop_reservation(struct s3_client *c, const char *prefix, const char *id,
                             struct drop_meta *m, struct s3_result *r)
{
    struct buf key = BUF_INIT(4096);
    enum sl_err e;
    if (!drop_valid_id(id)) {
        e = SL_ENOTFOUND;
        goto out;
    }
    if ((e = drop_key(&key, prefix, "reserved", id)))
        goto out;
    if ((e = s3_head_object(c, buf_str(&key), r))) {
        if (e == SL_ES3_NOTFOUND)
            e = SL_ENOTFOUND;
        goto out;
    }
    if (drop_meta_from_result(r, id, m))
        e = SL_ENOTFOUND;
out:
    buf_free(&key);
    return e;
}
