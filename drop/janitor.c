#include "janitor.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "drop.h"

/* one run: its settings, its report, and what its requests share */
struct sweep {
    struct s3_client *c;
    const char *prefix;
    long max_age, reserve_ttl;
    time_t now;
    int dry_run;
    janitor_log_fn log;
    void *ud;
    struct janitor_report *rep;
    struct s3_result r;   /* of the latest request */
    struct buf key;       /* the key being looked at */
};

static void say(const struct sweep *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(const struct sweep *s, const char *fmt, ...)
{
    if (!s->log)
        return;
    struct buf b = BUF_INIT(8192);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    s->log(s->ud, buf_str(&b));
    buf_free(&b);
}

/* multipart uploads older than max_age under the prefix */
static enum sl_err abort_stale_uploads(struct sweep *s)
{
    struct s3_upload *u = NULL;
    size_t n = 0;
    enum sl_err e = s3_list_multipart_uploads(s->c, s->prefix, &u, &n, &s->r);
    if (e) {
        say(s, "cannot list multipart uploads: %s [HTTP %ld %s]", sl_err_str(e), s->r.status,
            s->r.code);
        return e;
    }
    s->rep->uploads_seen = n;
    for (size_t i = 0; i < n; i++) {
        long age = (long)(s->now - u[i].initiated);
        if (age < s->max_age)
            continue;
        if (s->dry_run) {
            say(s, "would abort %s upload-id %s (age %ld s)", u[i].key, u[i].upload_id, age);
            continue;
        }
        enum sl_err a = s3_mpu_abort(s->c, u[i].key, u[i].upload_id, &s->r);
        if (a && a != SL_ES3_NOTFOUND) {   /* gone already: someone else finished it */
            say(s, "failed to abort %s upload-id %s: %s", u[i].key, u[i].upload_id,
                sl_err_str(a));
            s->rep->failed++;
        } else {
            say(s, "aborted %s upload-id %s (age %ld s)", u[i].key, u[i].upload_id, age);
            s->rep->uploads_aborted++;
        }
    }
    s3_uploads_free(u, n);
    return SL_OK;
}

/* the bytes of an upload that never committed, and its multipart uploads (a browser that
 * gave up halfway), whatever their age; gone already counts as deleted */
static enum sl_err delete_uncommitted(struct sweep *s, const char *id, long age)
{
    buf_reset(&s->key);
    buf_printf(&s->key, "%sdrops/%s", s->prefix, id);
    struct s3_upload *mu = NULL;
    size_t nmu = 0;
    if (s3_list_multipart_uploads(s->c, buf_str(&s->key), &mu, &nmu, &s->r) == SL_OK) {
        for (size_t k = 0; k < nmu; k++) {
            if (strcmp(mu[k].key, buf_str(&s->key)) != 0)
                continue;
            enum sl_err ae = s3_mpu_abort(s->c, mu[k].key, mu[k].upload_id, &s->r);
            if (!ae || ae == SL_ES3_NOTFOUND) {
                s->rep->uploads_aborted++;
                say(s, "aborted %s upload-id %s (its reservation expired)", mu[k].key,
                    mu[k].upload_id);
            }
        }
    }
    s3_uploads_free(mu, nmu);
    enum sl_err e = s3_delete_object(s->c, buf_str(&s->key), &s->r);
    if (e && e != SL_ES3_NOTFOUND)
        return e;
    s->rep->orphans_deleted++;
    say(s, "deleted the bytes of uncommitted upload %s (age %ld s)", id, age);
    return SL_OK;
}

/* a reservation nobody will complete: its bytes unless the drop committed (the record exists:
 * only the marker is left over), then its marker */
static enum sl_err remove_reservation(struct sweep *s, const char *marker, const char *id,
                                      long age)
{
    buf_reset(&s->key);
    buf_printf(&s->key, "%smeta/%s", s->prefix, id);
    enum sl_err e = s3_head_object(s->c, buf_str(&s->key), &s->r);
    if (e == SL_ES3_NOTFOUND)
        e = delete_uncommitted(s, id, age);
    if (e)
        return e;
    return s3_delete_object(s->c, marker, &s->r);
}

/* reservation markers past their time */
static enum sl_err clean_reservations(struct sweep *s)
{
    struct buf reserved = BUF_INIT(4096);
    struct s3_object *o = NULL;
    size_t n = 0;
    enum sl_err e;
    if ((e = buf_printf(&reserved, "%sreserved/", s->prefix)) ||
        (e = s3_list_objects(s->c, buf_str(&reserved), &o, &n, &s->r))) {
        say(s, "cannot list reservations: %s", sl_err_str(e));
        goto out;
    }
    long shortest = s->reserve_ttl < s->max_age ? s->reserve_ttl : s->max_age;
    for (size_t i = 0; i < n; i++) {
        long age = (long)(s->now - o[i].last_modified);
        const char *id = o[i].key + reserved.len;
        if (age < shortest || strchr(id, '/'))
            continue;
        if (age < s->max_age) {
            /* younger than max_age: only a direct reservation may be past its own TTL; a
             * streamed upload may legitimately last long */
            enum sl_err he = s3_head_object(s->c, o[i].key, &s->r);
            const char *kind = he ? NULL : s3_result_meta(&s->r, "kind");
            if (!kind || strcmp(kind, "direct") != 0)
                continue;
        }
        if (s->dry_run) {
            say(s, "would clean up reservation %s (age %ld s)", id, age);
            continue;
        }
        /* a direct upload whose client never said it was done (a browser's simple upload):
         * if its bytes are all there it becomes a drop rather than being thrown away */
        struct drop_meta dm;
        char msg[200];
        if (drop_commit_direct(s->c, s->prefix, NULL, id, NULL, NULL, &dm, msg, sizeof msg) == SL_OK) {
            say(s, "committed the completed upload %s (age %ld s)", id, age);
            s->rep->markers_removed++;
            continue;
        }
        enum sl_err d = remove_reservation(s, o[i].key, id, age);
        if (d && d != SL_ES3_NOTFOUND) {
            say(s, "failed to clean up reservation %s: %s", id, sl_err_str(d));
            s->rep->failed++;
        } else {
            s->rep->markers_removed++;
            say(s, "removed reservation %s (age %ld s)", id, age);
        }
    }
out:
    s3_objects_free(o, n);
    buf_free(&reserved);
    return e;
}

enum sl_err janitor_run(struct s3_client *c, const char *prefix, long max_age, long reserve_ttl,
                        time_t now, int dry_run, janitor_log_fn log, void *ud,
                        struct janitor_report *rep)
{
    memset(rep, 0, sizeof *rep);
    struct sweep s = {.c = c, .prefix = prefix, .max_age = max_age, .reserve_ttl = reserve_ttl,
                      .now = now, .dry_run = dry_run, .log = log, .ud = ud, .rep = rep,
                      .key = BUF_INIT(4096)};
    enum sl_err e;
    if ((e = abort_stale_uploads(&s)))
        goto out;
    e = clean_reservations(&s);
out:
    s3_result_free(&s.r);
    buf_free(&s.key);
    return e;
}
