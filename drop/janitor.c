#include "janitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "drop.h"

/* one run: its settings, its report, and what its requests share */
struct sweep {
    struct s3_client *c;
    const char *prefix;
    const struct janitor_opts *o;
    time_t now;
    struct janitor_report *rep;
    struct s3_result r;   /* of the latest request */
    struct buf key;       /* the key being looked at */
};

static void say(const struct sweep *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(const struct sweep *s, const char *fmt, ...)
{
    if (!s->o->log)
        return;
    struct buf b = BUF_INIT(8192);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    s->o->log(s->o->ud, buf_str(&b));
    buf_free(&b);
}

static int stopped(const struct sweep *s)
{
    return s->o->stop && atomic_load(s->o->stop);
}

/* 1 when the HEAD in s->r shows a pending record (a reservation's stand-in, not a drop).
 * (Not drop_lookup: to the janitor any other object at meta/<id>, even one it cannot parse,
 * speaks for the bytes; drop_lookup calls that "no drop".) */
static int pending(struct sweep *s, const char *id)
{
    struct drop_meta m;
    int ac;
    return drop_pending_from_result(&s->r, id, &m, &ac) == SL_OK;
}

/* HEAD <prefix><kind>/<id>: 1 there, 0 not there, -1 unknown (S3 trouble: counted, and the
 * caller leaves things as they are). Under meta/, a pending record is not a record. */
static int exists(struct sweep *s, const char *kind, const char *id)
{
    enum sl_err e = drop_key(&s->key, s->prefix, kind, id);
    if (!e)
        e = s3_head_object(s->c, buf_str(&s->key), &s->r);
    if (e == SL_OK)
        return !(strcmp(kind, "meta") == 0 && pending(s, id));
    if (e == SL_ES3_NOTFOUND)
        return 0;
    say(s, "cannot tell whether %s/%s exists: %s", kind, id, sl_err_str(e));
    s->rep->failed++;
    return -1;
}

/* the newest sign of life of the multipart upload u: its start and the parts S3 stored; now
 * when its parts cannot be listed (in doubt it lives until the next run) */
static time_t upload_activity(struct sweep *s, const struct s3_upload *u)
{
    struct s3_part *p = NULL;
    size_t n = 0;
    time_t last = u->initiated;
    if (s3_mpu_list_parts(s->c, u->key, u->upload_id, &p, &n, &s->r) != SL_OK)
        return s->now;
    for (size_t i = 0; i < n; i++)
        if (p[i].last_modified > last)
            last = p[i].last_modified;
    free(p);
    return last;
}

/* the same for every multipart upload at exactly key; 0 when there is none */
static time_t key_activity(struct sweep *s, const char *key)
{
    struct s3_upload *u = NULL;
    size_t n = 0;
    time_t last = 0;
    if (s3_list_multipart_uploads(s->c, key, &u, &n, &s->r) != SL_OK)
        return s->now;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(u[i].key, key) != 0)
            continue;   /* a longer key that starts with this one */
        time_t t = upload_activity(s, &u[i]);
        if (t > last)
            last = t;
    }
    s3_uploads_free(u, n);
    return last;
}

/* the id of a key <prefix>drops/<id>, or NULL */
static const char *drop_id_of(const struct sweep *s, const char *key)
{
    size_t pl = strlen(s->prefix);
    if (strncmp(key, s->prefix, pl) != 0 || strncmp(key + pl, "drops/", 6) != 0)
        return NULL;
    return drop_valid_id(key + pl + 6) ? key + pl + 6 : NULL;
}

/* multipart uploads idle for max_age that no reservation speaks for (one killed before its
 * marker was written, a reply lost and the create retried, a key that is not a drop's) */
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
    for (size_t i = 0; i < n && !stopped(s); i++) {
        long age = (long)(s->now - u[i].initiated);
        if (age < s->o->max_age)
            continue;
        /* an upload with a reservation lives and dies with it (clean_reservations) */
        const char *id = drop_id_of(s, u[i].key);
        if (id && exists(s, "reserved", id) != 0)
            continue;
        long idle = (long)(s->now - upload_activity(s, &u[i]));
        if (idle < s->o->max_age)
            continue;   /* old, but its parts still arrive */
        if (s->o->dry_run) {
            say(s, "would abort %s upload-id %s (age %ld s, idle %ld s)", u[i].key,
                u[i].upload_id, age, idle);
            continue;
        }
        enum sl_err a = s3_mpu_abort(s->c, u[i].key, u[i].upload_id, &s->r);
        if (a && a != SL_ES3_NOTFOUND) {   /* gone already: someone else finished it */
            say(s, "failed to abort %s upload-id %s: %s", u[i].key, u[i].upload_id,
                sl_err_str(a));
            s->rep->failed++;
        } else {
            say(s, "aborted %s upload-id %s (age %ld s, idle %ld s)", u[i].key, u[i].upload_id,
                age, idle);
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
 * only the marker is left over), its pending record, then its marker */
static enum sl_err remove_reservation(struct sweep *s, const char *marker, const char *id,
                                      long age)
{
    enum sl_err e = drop_key(&s->key, s->prefix, "meta", id);
    if (!e)
        e = s3_head_object(s->c, buf_str(&s->key), &s->r);
    int stand_in = e == SL_OK && pending(s, id);
    if (e == SL_ES3_NOTFOUND || stand_in)
        e = delete_uncommitted(s, id, age);
    if (!e && stand_in && (e = drop_remove(s->c, s->prefix, "meta", id)) == SL_OK)
        say(s, "removed the pending record of %s", id);
    if (e)
        return e;
    return s3_delete_object(s->c, marker, &s->r);
}

/* 1 when the reservation of id (its marker last written at touched, of kind direct or not)
 * still shows a sign of life; each kind has its own idle limit */
static int reservation_alive(struct sweep *s, const char *id, time_t touched, int direct)
{
    long ttl = direct ? s->o->reserve_ttl : s->o->max_age;
    time_t last = touched;
    if (direct) /* a URL signed up to one touch interval after the marker lives its time */
        last += drop_touch_every(s->o->reserve_ttl) + s->o->direct_expires;
    if (s->now - last < ttl)
        return 1;
    /* the parts of its multipart upload: a browser that signed every part at the start, or
     * a worker streaming slowly, shows life only there */
    struct buf key = BUF_INIT(4096);
    time_t moved = drop_key(&key, s->prefix, "drops", id) ? s->now : key_activity(s, buf_str(&key));
    buf_free(&key);
    if (moved && s->now - moved < ttl) {
        say(s, "kept reservation %s: its upload stored a part %ld s ago", id,
            (long)(s->now - moved));
        s->rep->kept_alive++;
        return 1;
    }
    return 0;
}

/* reservation markers without a sign of life */
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
    /* nothing younger than the shorter of the two lives can be dead */
    long direct_life = s->o->reserve_ttl + s->o->direct_expires;
    long shortest = direct_life < s->o->max_age ? direct_life : s->o->max_age;
    for (size_t i = 0; i < n && !stopped(s); i++) {
        long age = (long)(s->now - o[i].last_modified);
        const char *id = o[i].key + reserved.len;
        if (age < shortest || strchr(id, '/'))
            continue;
        enum sl_err he = s3_head_object(s->c, o[i].key, &s->r);
        if (he == SL_ES3_NOTFOUND)
            continue;   /* it ended meanwhile */
        if (he) {
            say(s, "cannot read reservation %s: %s", id, sl_err_str(he));
            s->rep->failed++;
            continue;
        }
        /* a marker that is not sluice's (no kind) is judged as a streamed upload's */
        const char *kind = s3_result_meta(&s->r, "kind");
        int direct = kind && strcmp(kind, "direct") == 0;
        time_t touched = s->r.last_modified ? s->r.last_modified : o[i].last_modified;
        if (reservation_alive(s, id, touched, direct))
            continue;
        if (s->o->dry_run) {
            say(s, "would clean up reservation %s (age %ld s)", id, age);
            continue;
        }
        /* a direct upload whose client never said it was done (a browser's simple upload):
         * if its bytes are all there it becomes a drop rather than being thrown away */
        struct drop_meta dm;
        char msg[200];
        enum sl_err ce = direct ? drop_commit_direct(s->c, s->prefix, NULL, id, NULL, NULL, &dm,
                                                     msg, sizeof msg)
                                : SL_ENOTFOUND;
        if (ce == SL_OK) {
            say(s, "committed the completed upload %s (age %ld s)", id, age);
            s->rep->markers_removed++;
            continue;
        }
        /* only a verdict on the bytes (incomplete, absent) lets them go: a storage error on
         * the way would otherwise throw away a complete upload. The next run tries again. */
        if (sl_err_class(ce) != SL_CLASS_CLIENT && ce != SL_ES3_NOTFOUND) {
            say(s, "could not judge reservation %s: %s", id, sl_err_str(ce));
            s->rep->failed++;
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

/* one object of the sweep under <prefix><area>/: deleted when it is old enough and neither a
 * reservation nor a record speaks for it. The reservation is asked first: an upload writes its
 * record before it removes its marker, so once the marker is gone a record, if any, is there. */
static void sweep_one(struct sweep *s, const struct s3_object *ob, const char *area,
                      const char *id)
{
    s->rep->swept_seen++;
    long age = (long)(s->now - ob->last_modified);
    /* too young to judge: clocks, a commit under way, and bytes a PUT URL could write again
     * (deleting them before the URL's life is over would not last) */
    long grace = s->o->sweep_grace > s->o->direct_expires ? s->o->sweep_grace : s->o->direct_expires;
    if (!drop_valid_id(id) || age < grace)
        return;   /* (an id sluice never makes: not sluice's to judge) */
    if (exists(s, "reserved", id) != 0 || exists(s, "meta", id) != 0)
        return;
    if (s->o->dry_run) {
        say(s, "would sweep %s/%s (age %ld s): neither a record nor a reservation", area, id, age);
        return;
    }
    enum sl_err e = s3_delete_object(s->c, ob->key, &s->r);
    if (e && e != SL_ES3_NOTFOUND) {
        say(s, "failed to sweep %s/%s: %s", area, id, sl_err_str(e));
        s->rep->failed++;
        return;
    }
    s->rep->swept++;
    say(s, "swept %s/%s (age %ld s): neither a record nor a reservation", area, id, age);
}

/* where the last run's sweep stopped ("drops/<id>", relative to the prefix) into at; "" when
 * it finished its pass or never ran */
static void cursor_read(struct sweep *s, struct buf *at)
{
    buf_reset(at);
    buf_puts(at, "");
    buf_reset(&s->key);
    buf_printf(&s->key, "%sjanitor/sweep", s->prefix);
    if (s3_head_object(s->c, buf_str(&s->key), &s->r) != SL_OK)
        return;
    const char *v = s3_result_meta(&s->r, "after");
    if (v && drop_pct_decode(at, v, strlen(v)) != SL_OK) {
        buf_reset(at);
        buf_puts(at, "");
    }
}

/* the next run starts after at; "" (a pass ended) removes the cursor: nothing is left */
static void cursor_write(struct sweep *s, const char *at, int had)
{
    struct buf enc = BUF_INIT(4096);
    struct s3_body empty = {.length = 0, .mem = ""};
    buf_reset(&s->key);
    buf_printf(&s->key, "%sjanitor/sweep", s->prefix);
    enum sl_err e = SL_OK;
    if (*at) {
        struct s3_kv kv = {"after", NULL};
        if (!(e = drop_pct_encode(&enc, at))) {
            kv.value = (char *)buf_str(&enc);
            struct s3_put_opts po = {.meta = &kv, .n_meta = 1};
            e = s3_put_object(s->c, buf_str(&s->key), &empty, &po, &s->r);
        }
    } else if (had && (e = s3_delete_object(s->c, buf_str(&s->key), &s->r)) == SL_ES3_NOTFOUND) {
        e = SL_OK;
    }
    if (e)   /* the next run starts from an older place: more work, nothing wrong */
        say(s, "cannot keep where the sweep stopped: %s", sl_err_str(e));
    buf_free(&enc);
}

/* drops/ then thumbs/, at most sweep_max objects, from where the last run stopped */
static enum sl_err sweep_orphans(struct sweep *s)
{
    static const char *const areas[] = {"drops", "thumbs"};
    struct buf at = BUF_INIT(4096), next = BUF_INIT(4096), area = BUF_INIT(4096);
    struct buf start = BUF_INIT(4096);
    size_t budget = s->o->sweep_max;
    enum sl_err e = SL_OK;
    if (budget == 0)
        goto out;
    cursor_read(s, &at);
    int had = at.len > 0;
    for (size_t a = 0; a < sizeof areas / sizeof areas[0] && !stopped(s); a++) {
        size_t al = strlen(areas[a]);
        const char *cur = buf_str(&at);
        buf_reset(&start);
        if (*cur) {
            if (strncmp(cur, areas[a], al) == 0 && cur[al] == '/')
                buf_printf(&start, "%s%s", s->prefix, cur);   /* go on after it */
            else if (strcmp(cur, areas[a]) > 0)
                continue;   /* this pass is past this area */
        }
        buf_reset(&area);
        buf_printf(&area, "%s%s/", s->prefix, areas[a]);
        struct s3_object *o = NULL;
        size_t n = 0, i = 0;
        if ((e = s3_list_objects_after(s->c, buf_str(&area), buf_str(&start), budget, &o, &n,
                                       &s->r))) {
            say(s, "cannot list %s: %s", buf_str(&area), sl_err_str(e));
            goto out;   /* the cursor stays: the next run tries the same place */
        }
        for (; i < n && !stopped(s); i++)
            sweep_one(s, &o[i], areas[a], o[i].key + area.len);
        /* stopped, or the bound ended the listing: the next run goes on after the last one */
        int more = i < n || n == budget;
        buf_reset(&next);
        if (more)
            buf_puts(&next, i > 0 ? o[i - 1].key + strlen(s->prefix) : buf_str(&at));
        budget -= i;
        s3_objects_free(o, n);
        if (more)
            break;
        buf_reset(&at);   /* the next area from its start */
    }
    if (!s->o->dry_run && (next.len || had))
        cursor_write(s, buf_str(&next), had);
out:
    buf_free(&at);
    buf_free(&next);
    buf_free(&area);
    buf_free(&start);
    return e;
}

enum sl_err janitor_run(struct s3_client *c, const char *prefix, const struct janitor_opts *o,
                        time_t now, struct janitor_report *rep)
{
    memset(rep, 0, sizeof *rep);
    struct sweep s = {.c = c, .prefix = prefix, .o = o, .now = now, .rep = rep,
                      .key = BUF_INIT(4096)};
    enum sl_err e;
    if ((e = abort_stale_uploads(&s)) || (e = clean_reservations(&s)))
        goto out;
    e = sweep_orphans(&s);
out:
    s3_result_free(&s.r);
    buf_free(&s.key);
    return e;
}
