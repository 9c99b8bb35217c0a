/* GET /d/{id}/thumbnail: thumbs/<id> if it is there; else made now, once per host, by
 * `sluice-thumbd -m ID` in a child process with a deadline (a decoder crash on a hostile
 * image never takes a worker down). Others asking meanwhile wait on the host's per-id lock,
 * then find it made. The bytes are sent by the worker (small), so the share page's
 * `img-src 'self'` holds. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctx.h"
#include "drop.h"
#include "handlers.h"
#include "http.h"
#include "s3.h"
#include "spool.h"

#define THUMB_MAX (4u << 20)    /* a thumbnail is tens of KB; never buffer more than this */
#define THUMB_WAIT_MS 20000     /* how long the lazy path waits for a thumbnail being made */

/* fetch thumbs/<id>; SL_ES3_NOTFOUND if there is none yet */
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
    snprintf(ctype, ctlen, "%s", !strcmp(r.content_type, "image/webp") ? "image/webp"
                                                                      : "image/jpeg");
out:
    s3_result_free(&r);
    buf_free(&key);
    return e;
}

/* run `sluice-thumbd -m id` in a child process with a deadline; its exit status, or -1 */
static int run_thumbd(struct ctx *x, const char *id)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* only async-signal-safe calls here: this process has many threads */
        close_range(3, ~0U, 0);
        if (x->cfgpath)
            execl(x->thumbd, x->thumbd, "-c", x->cfgpath, "-m", id, (char *)NULL);
        else
            execl(x->thumbd, x->thumbd, "-m", id, (char *)NULL);
        _exit(127);
    }
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
    int lock = -1, code;
    if (!drop_valid_id(id)) {
        http_reply_error(h, SL_ENOTFOUND, NULL, NULL);
        goto out;
    }
    enum sl_err e = fetch_thumb(x, c, id, &body, ctype, sizeof ctype);
    if (!e) {
        send_thumb(h, &body, ctype);
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
    /* make it now, once: one maker per drop on this host; the others wait and find it made */
    if (x->spool && spool_lock_id(x->spool, id, THUMB_WAIT_MS, &lock) != SL_OK) {
        http_reply_error(h, SL_EBUSY, "the thumbnail is being made, retry shortly",
                         "Retry-After: 2\r\n");
        goto out;
    }
    if (fetch_thumb(x, c, id, &body, ctype, sizeof ctype) == SL_OK) {
        send_thumb(h, &body, ctype);
        goto out;
    }
    struct spool_job job;
    int claimed = x->spool && spool_claim_id(x->spool, id, &job) == SL_OK;
    code = run_thumbd(x, id);
    if (code == 0 && fetch_thumb(x, c, id, &body, ctype, sizeof ctype) == SL_OK) {
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
    spool_unlock(lock);
    buf_free(&body);
}
