#include "janitor.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "drop.h"

static void say(janitor_log_fn log, void *ud, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(janitor_log_fn log, void *ud, const char *fmt, ...)
{
    if (!log)
        return;
    struct buf b = BUF_INIT(8192);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    log(ud, buf_str(&b));
    buf_free(&b);
}

enum sl_err janitor_run(struct s3_client *c, const char *prefix, long max_age, long reserve_ttl,
                        time_t now, int dry_run, janitor_log_fn log, void *ud,
                        struct janitor_report *rep)
{
    memset(rep, 0, sizeof *rep);
    struct s3_result r = {0};
    struct s3_upload *u = NULL;
    size_t n = 0;
    enum sl_err e = s3_list_multipart_uploads(c, prefix, &u, &n, &r);
    if (e) {
        say(log, ud, "cannot list multipart uploads: %s [HTTP %ld %s]", sl_err_str(e), r.status,
            r.code);
        s3_result_free(&r);
        return e;
    }
    rep->uploads_seen = n;
    for (size_t i = 0; i < n; i++) {
        long age = (long)(now - u[i].initiated);
        if (age < max_age)
            continue;
        if (dry_run) {
            say(log, ud, "would abort %s upload-id %s (age %ld s)", u[i].key, u[i].upload_id, age);
            continue;
        }
        enum sl_err a = s3_mpu_abort(c, u[i].key, u[i].upload_id, &r);
        if (a && a != SL_ES3_NOTFOUND) {   /* gone already: someone else finished it */
            say(log, ud, "failed to abort %s upload-id %s: %s", u[i].key, u[i].upload_id,
                sl_err_str(a));
            rep->failed++;
        } else {
            say(log, ud, "aborted %s upload-id %s (age %ld s)", u[i].key, u[i].upload_id, age);
            rep->uploads_aborted++;
        }
    }
    s3_uploads_free(u, n);

    struct buf reserved = BUF_INIT(4096), key = BUF_INIT(4096);
    struct s3_object *o = NULL;
    e = buf_printf(&reserved, "%sreserved/", prefix);
    if (!e)
        e = s3_list_objects(c, buf_str(&reserved), &o, &n, &r);
    if (e) {
        say(log, ud, "cannot list reservations: %s", sl_err_str(e));
        n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        long age = (long)(now - o[i].last_modified);
        const char *id = o[i].key + reserved.len;
        long shortest = reserve_ttl < max_age ? reserve_ttl : max_age;
        if (age < shortest || strchr(id, '/'))
            continue;
        if (age < max_age) {
            /* younger than max_age: only a direct reservation may be past its own TTL; a
             * streamed upload may legitimately last long */
            enum sl_err he = s3_head_object(c, o[i].key, &r);
            const char *kind = he ? NULL : s3_result_meta(&r, "kind");
            if (!kind || strcmp(kind, "direct") != 0)
                continue;
        }
        if (dry_run) {
            say(log, ud, "would clean up reservation %s (age %ld s)", id, age);
            continue;
        }
        /* a direct upload whose client never said it was done (a browser's simple upload):
         * if its bytes are all there it becomes a drop rather than being thrown away */
        {
            struct drop_meta dm;
            char msg[200];
            if (drop_commit_direct(c, prefix, NULL, id, NULL, &dm, msg, sizeof msg) == SL_OK) {
                say(log, ud, "committed the completed upload %s (age %ld s)", id, age);
                rep->markers_removed++;
                continue;
            }
        }
        /* committed (the record exists)? then only the marker is left over */
        buf_reset(&key);
        buf_printf(&key, "%smeta/%s", prefix, id);
        enum sl_err h = s3_head_object(c, buf_str(&key), &r);
        enum sl_err d = SL_OK;
        if (h == SL_ES3_NOTFOUND) {
            buf_reset(&key);
            buf_printf(&key, "%sdrops/%s", prefix, id);
            /* its multipart uploads too (a browser that gave up halfway), whatever their age */
            struct s3_upload *mu = NULL;
            size_t nmu = 0;
            if (s3_list_multipart_uploads(c, buf_str(&key), &mu, &nmu, &r) == SL_OK) {
                for (size_t k = 0; k < nmu; k++) {
                    if (strcmp(mu[k].key, buf_str(&key)) != 0)
                        continue;
                    enum sl_err ae = s3_mpu_abort(c, mu[k].key, mu[k].upload_id, &r);
                    if (!ae || ae == SL_ES3_NOTFOUND) {
                        rep->uploads_aborted++;
                        say(log, ud, "aborted %s upload-id %s (its reservation expired)",
                            mu[k].key, mu[k].upload_id);
                    }
                }
            }
            s3_uploads_free(mu, nmu);
            d = s3_delete_object(c, buf_str(&key), &r);
            if (!d || d == SL_ES3_NOTFOUND) {
                d = SL_OK;
                rep->orphans_deleted++;
                say(log, ud, "deleted the bytes of uncommitted upload %s (age %ld s)", id, age);
            }
        } else if (h) {
            d = h;
        }
        if (!d)
            d = s3_delete_object(c, o[i].key, &r);
        if (d && d != SL_ES3_NOTFOUND) {
            say(log, ud, "failed to clean up reservation %s: %s", id, sl_err_str(d));
            rep->failed++;
        } else {
            rep->markers_removed++;
            say(log, ud, "removed reservation %s (age %ld s)", id, age);
        }
    }
    s3_objects_free(o, n);
    buf_free(&key);
    buf_free(&reserved);
    s3_result_free(&r);
    return e;
}
