/* GET /d/{id}/thumbnail: thumbs/<id> if it is there; else made now, once per host, by
 * `sluice-thumbd -m ID` in a child process with a deadline (a decoder crash on a hostile
 * image never takes a worker down). Others asking meanwhile wait on the host's per-id lock,
 * then find it made. The bytes are sent by the worker (small), so the share page's
 * `img-src 'self'` holds. */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#include "ctx.h"
#include "drop.h"
#include "handlers.h"
#include "http.h"
#include "s3.h"
#include "slots.h"
#include "spool.h"

#define THUMB_MAX (4u << 20)    /* a thumbnail is tens of KB; never buffer more than this */
#define THUMB_WAIT_MS 20000     /* how long a lazy make may take */

/* fetch thumbs/<id>; SL_ES3_NOTFOUND if there is none yet, SL_EUNPROCESSABLE if what is there
 * is the memory of a failure (thumbs/sandbox.h: no host decodes that image again) */
static enum sl_err fetch_thumb(struct ctx *x, struct s3_client *c, const char *id,
                               struct buf *body, char *ctype, size_t ctlen)
{
    struct buf key = BUF_INIT(4096);
    struct s3_result r = S3_RESULT_INIT;
    enum sl_err e;
    buf_reset(body);
    if ((e = drop_key(&key, x->cfg.s3.prefix, "thumbs", id)) ||
        (e = s3_get_object(c, buf_str(&key), NULL, s3_write_to_buf, body, &r)))
        goto out;
    if (s3_result_meta(&r, "failed")) {
        e = SL_EUNPROCESSABLE;
        goto out;
    }
    snprintf(ctype, ctlen, "%s", !strcmp(r.content_type, "image/webp") ? "image/webp"
                                                                      : "image/jpeg");
out:
    s3_result_free(&r);
    buf_free(&key);
    return e;
}

/* run `sluice-thumbd -m id` in a child process with a deadline; its exit status, or -1. The
 * child gets /dev/null as stdin (under spawn-fcgi fd 0 is the listening socket), stderr for
 * its log line, and no other descriptor; it fetches the original and hands it to a sandboxed
 * decoder of its own. */
static int run_thumbd(struct ctx *x, const char *id)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    char *argv[] = {x->thumbd, "-c", (char *)x->cfgpath, "-m", (char *)id, NULL};
    char *argv_nocfg[] = {x->thumbd, "-m", (char *)id, NULL};
    if (posix_spawn_file_actions_init(&fa))
        return -1;
    int bad = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) ||
              posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0) ||
              posix_spawn_file_actions_addclosefrom_np(&fa, 3) ||
              posix_spawn(&pid, x->thumbd, &fa, NULL, x->cfgpath ? argv : argv_nocfg, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (bad)
        return -1;
    for (int waited = 0;; waited += 10) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (r < 0 || waited >= THUMB_WAIT_MS) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(10000);
    }
}

static void send_thumb(struct http *h, const struct buf *body, const char *ctype)
{
    http_reply(h, 200, ctype, "Cache-Control: public, max-age=86400\r\n", body->data,
               body->len);
}

HANDLER(thumbnail_get)
{
    const char *id = m->arg[0];
    struct buf body = BUF_INIT(THUMB_MAX);
    char ctype[32];
    struct drop_meta d;
    int lock = -1, lazy = -1, code;
    if (!drop_valid_id(id)) {
        http_reply_error(h, SL_ENOTFOUND, NULL, NULL);
        goto out;
    }
    enum sl_err e = fetch_thumb(x, c, id, &body, ctype, sizeof ctype);
    if (!e) {
        send_thumb(h, &body, ctype);
        goto out;
    }
    if (e == SL_EUNPROCESSABLE) {   /* tried once, on some host: never again */
        http_reply_error(h, e, "this image cannot be made into a thumbnail", NULL);
        goto out;
    }
    if (e != SL_ES3_NOTFOUND) {
        http_reply_error(h, e, NULL, NULL);
        goto out;
    }
    if ((e = drop_load(c, x->cfg.s3.prefix, id, &d))) {
        http_reply_error(h, e, NULL, NULL);
        goto out;
    }
    if (!strcmp(d.image, "none")) {
        http_reply_error(h, SL_ENOTFOUND, "this drop is not an image: it has no thumbnail", NULL);
        goto out;
    }
    /* make it now, once: one maker per drop on this host, and at most thumbs.workers makers
     * on the host at once; everyone else hears 503 + Retry-After at once (no thread waits) */
    if (x->spool && spool_lock_id(x->spool, id, 0, &lock) != SL_OK) {
        http_reply_error(h, SL_EBUSY, "the thumbnail is being made, retry shortly",
                         "Retry-After: 2\r\n");
        goto out;
    }
    if (x->lazy_slots && slots_take(x->lazy_slots, &lazy) != SL_OK) {
        http_reply_error(h, SL_EBUSY, "thumbnails are being made, retry shortly",
                         "Retry-After: 2\r\n");
        goto out;
    }
    if ((e = fetch_thumb(x, c, id, &body, ctype, sizeof ctype)) != SL_ES3_NOTFOUND) {
        if (e)
            http_reply_error(h, e, "this image cannot be made into a thumbnail", NULL);
        else
            send_thumb(h, &body, ctype);
        goto out;
    }
    struct spool_job job;
    int claimed = x->spool && spool_claim_id(x->spool, id, &job) == SL_OK;
    code = run_thumbd(x, id);
    if (code == 0 && (e = fetch_thumb(x, c, id, &body, ctype, sizeof ctype)) == SL_EUNPROCESSABLE)
        code = 2;   /* it remembered a failure */
    if (code == 0 && e == SL_OK) {
        if (claimed)
            spool_done(x->spool, &job);
        send_thumb(h, &body, ctype);
    } else if (code == 2) {
        if (claimed)
            spool_fail(x->spool, &job, "refused by the thumbnailer", time(NULL), 1);
        http_reply_error(h, SL_EUNPROCESSABLE, "this image cannot be made into a thumbnail",
                         NULL);
    } else {
        if (claimed)
            spool_fail(x->spool, &job, "the lazy path failed", time(NULL), 0);
        http_reply_error(h, SL_EINTERNAL, "making the thumbnail failed", NULL);
    }
out:
    slots_release(lazy);
    spool_unlock(lock);
    buf_free(&body);
}
