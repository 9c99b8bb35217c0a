/* sluice-thumbd: makes the thumbnails the spool asks for.
 *
 *   sluice-thumbd [-c CONFIG] [-l LOG]     claim jobs until SIGTERM (thumbs.workers threads)
 *   sluice-thumbd [-c CONFIG] -m ID        make ID's thumbnail now, once (the lazy path runs
 *                                          this in a child process, so a decoder crash on a
 *                                          hostile image can never take a FastCGI worker down)
 * Exit status of -m: 0 made (or already there), 2 not an image / refused, 1 failed.
 * Images are decoded only in a sandboxed child (thumbs/sandbox.h): `sluice-thumbd --decode`.
 * An image that cannot be made is remembered in S3 as a zero-byte thumbs/<id> with metadata
 * failed=<why>, so no host downloads or decodes it again. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "drop.h"
#include "s3.h"
#include "spool.h"
#include "sandbox.h"
#include "thumb.h"

static struct sluice_config cfg;
static volatile sig_atomic_t stopping;
static char self[4096] = "sluice-thumbd";   /* this binary, for the decoder children */

/* remember in S3 that id's image cannot be made: a zero-byte thumbs/<id>, failed=<why> */
static void remember_failure(struct s3_client *c, const char *key, const char *why)
{
    char safe[200];
    size_t o = 0;
    for (const char *p = why; *p && o + 1 < sizeof safe; p++)
        safe[o++] = *p >= 0x20 && *p < 0x7f ? *p : '_';
    safe[o] = '\0';
    struct s3_kv kv = {"failed", safe};
    struct s3_put_opts po = {.content_type = "application/x-sluice-no-thumbnail",
                             .cache_control = "no-store", .meta = &kv, .n_meta = 1};
    struct s3_body empty = {.length = 0, .mem = ""};
    struct s3_result r = S3_RESULT_INIT;
    if (s3_put_object(c, key, &empty, &po, &r))
        fprintf(stderr, "sluice-thumbd: could not remember the failure at %s\n", key);
    s3_result_free(&r);
}

/* the original could not be read: retrying may help, unless it is over thumbs.max_source */
static enum sl_err fetch_failed(enum sl_err e, int *permanent, char *why, size_t why_len)
{
    snprintf(why, why_len, "fetching the original: %s", sl_err_str(e));
    *permanent = e == SL_ETOOBIG;
    return e;
}

/* the drop's record into m and its bytes into src, through key and r (the caller's) */
static enum sl_err fetch_source(struct s3_client *c, const char *id, struct buf *key,
                                struct s3_result *r, struct drop_meta *m, struct buf *src,
                                int *permanent, char *why, size_t why_len)
{
    const char *prefix = cfg.s3.prefix;
    enum sl_err e;
    if ((e = drop_key(key, prefix, "meta", id)))
        return fetch_failed(e, permanent, why, why_len);
    e = s3_head_object(c, buf_str(key), r);
    if (e == SL_ES3_NOTFOUND || (e == SL_OK && drop_meta_from_result(r, id, m))) {
        snprintf(why, why_len, "no such drop (deleted?)");
        *permanent = 1;
        return SL_ENOTFOUND;
    }
    if (e)
        return fetch_failed(e, permanent, why, why_len);
    if (!strcmp(m->image, "none")) {
        snprintf(why, why_len, "not an image");
        *permanent = 1;
        return SL_EUNPROCESSABLE;
    }
    if (m->size > cfg.thumbs.max_source) {
        snprintf(why, why_len, "source of %llu bytes is over thumbs.max_source",
                 (unsigned long long)m->size);
        *permanent = 1;
        return SL_ETOOBIG;
    }
    if ((e = drop_key(key, prefix, "drops", id)))
        return fetch_failed(e, permanent, why, why_len);
    if ((e = s3_get_object(c, buf_str(key), NULL, s3_write_to_buf, src, r)))
        return fetch_failed(e, permanent, why, why_len);
    return SL_OK;
}

/* Make id's thumbnail. *permanent: retrying cannot help (not an image, too big, gone). */
static enum sl_err make_one(struct s3_client *c, const char *id, int *permanent, char *why,
                            size_t why_len)
{
    const char *prefix = cfg.s3.prefix;
    struct buf key = BUF_INIT(4096);
    struct s3_result r = {0};
    struct drop_meta m;
    struct buf src = BUF_INIT(cfg.thumbs.max_source);   /* SL_ETOOBIG past max_source */
    unsigned char *thumb = NULL;
    size_t tn = 0;
    enum sl_err e;
    *permanent = 0;
    if ((e = drop_key(&key, prefix, "thumbs", id))) {
        fetch_failed(e, permanent, why, why_len);
        goto out;
    }
    if (s3_head_object(c, buf_str(&key), &r) == SL_OK)
        goto out;   /* made already (by another host, or the lazy path) */
    if ((e = fetch_source(c, id, &key, &r, &m, &src, permanent, why, why_len)))
        goto out;
    struct thumb_opts o = {.max_edge = (unsigned)cfg.thumbs.max_edge,
                           .max_pixels = cfg.thumbs.max_pixels, .webp = cfg.thumbs.webp,
                           .quality = cfg.thumbs.quality, .reduced_decode = 1};
    struct thumb_info info;
    char dwhy[160];
    if ((e = sandbox_make(self, src.data ? src.data : "", src.len, &o, &thumb, &tn, &info, dwhy,
                          sizeof dwhy))) {
        snprintf(why, why_len, "%s image %ux%u: %s", img_type_name(info.type), info.src_w,
                 info.src_h, dwhy);
        *permanent = e == SL_ETOOBIG || e == SL_EBADREQ;
        if (*permanent && !drop_key(&key, prefix, "thumbs", id))
            remember_failure(c, buf_str(&key), why);
        goto out;
    }
    if ((e = drop_key(&key, prefix, "thumbs", id)))
        goto out;
    struct s3_body body = {.length = tn, .mem = thumb};
    struct s3_put_opts po = {.content_type = cfg.thumbs.webp ? "image/webp" : "image/jpeg",
                             .cache_control = "public, max-age=31536000, immutable"};
    if ((e = s3_put_object(c, buf_str(&key), &body, &po, &r))) {
        snprintf(why, why_len, "storing the thumbnail: %s", sl_err_str(e));
        goto out;
    }
    fprintf(stderr, "sluice-thumbd: made %s: %ux%u from a %ux%u %s (decoded at %ux%u)\n", id,
            info.w, info.h, info.src_w, info.src_h, img_type_name(info.type), info.decoded_w,
            info.decoded_h);
out:
    free(thumb);
    buf_free(&src);
    buf_free(&key);
    s3_result_free(&r);
    return e;
}

struct worker {
    pthread_t t;
    int n;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    char name[96], host[64] = "host";
    gethostname(host, sizeof host - 1);
    for (char *p = host; *p; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9'))
            *p = '-';
    snprintf(name, sizeof name, "thumbd-%s-%d-%d", host, getpid(), w->n);
    struct spool *sp = NULL;
    struct s3_client *c = NULL;
    if (spool_open(cfg.thumbs.spool_dir, name, &sp) || s3_client_new(&cfg.s3, &c)) {
        fprintf(stderr, "sluice-thumbd: cannot open the spool %s\n", cfg.thumbs.spool_dir);
        spool_close(sp);
        return NULL;
    }
    time_t last_sweep = 0;
    while (!stopping) {
        time_t now = time(NULL);
        if (now - last_sweep >= 10) {   /* jobs of workers that died go back to the queue */
            int n = 0;
            spool_requeue_dead(sp, &n);
            if (n)
                fprintf(stderr, "sluice-thumbd: re-queued %d jobs of dead workers\n", n);
            last_sweep = now;
        }
        struct spool_job job;
        enum sl_err e = spool_claim(sp, now, &job);
        if (e == SL_ENOTFOUND) {
            usleep(100000);
            continue;
        }
        if (e) {
            usleep(500000);
            continue;
        }
        int lock = -1, permanent = 0;
        char why[SPOOL_REASON_MAX + 1] = "";
        /* the lazy path may be making this very one: wait for it, then find it made */
        spool_lock_id(sp, job.id, 60000, &lock);
        e = make_one(c, job.id, &permanent, why, sizeof why);
        spool_unlock(lock);
        if (e) {
            fprintf(stderr, "sluice-thumbd: %s: %s%s\n", job.id, why,
                    permanent ? " (given up)" : " (will retry)");
            spool_fail(sp, &job, why, time(NULL), permanent);
        } else {
            spool_done(sp, &job);
        }
    }
    s3_client_free(c);
    spool_close(sp);
    return NULL;
}

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

/* -m: make one thumbnail now; the exit status of -m */
static int make_now(const char *id)
{
    struct s3_client *c = NULL;
    int permanent = 0;
    char reason[SPOOL_REASON_MAX + 1] = "";
    if (!drop_valid_id(id) || s3_client_new(&cfg.s3, &c))
        return 2;
    enum sl_err e = make_one(c, id, &permanent, reason, sizeof reason);
    if (e)
        fprintf(stderr, "sluice-thumbd: %s: %s\n", id, reason);
    s3_client_free(c);
    return e ? (permanent ? 2 : 1) : 0;
}

/* thumbs.workers threads claiming jobs until SIGTERM */
static int serve(void)
{
    if (!cfg.thumbs.spool_dir) {
        fprintf(stderr, "sluice-thumbd: thumbs.spool_dir is not set\n");
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int n = cfg.thumbs.workers, started = 0, rc = 1;
    struct worker *w = calloc((size_t)n, sizeof *w);
    if (!w) {
        fprintf(stderr, "sluice-thumbd: out of memory for %d workers\n", n);
        goto out;
    }
    for (; started < n; started++) {
        w[started].n = started;
        int err = pthread_create(&w[started].t, NULL, work, &w[started]);
        if (err) {
            /* half a pool would look healthy while doing less than configured: stop */
            fprintf(stderr, "sluice-thumbd: cannot start worker %d: %s\n", started,
                    strerror(err));
            stopping = 1;
            goto out;
        }
    }
    fprintf(stderr, "sluice-thumbd: pid %d with %d workers on %s\n", getpid(), n,
            cfg.thumbs.spool_dir);
    rc = 0;
out:
    for (int i = 0; i < started; i++)
        pthread_join(w[i].t, NULL);
    free(w);
    fprintf(stderr, "sluice-thumbd: stopped\n");
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--decode") || !strcmp(argv[1], "--decode-probe")))
        /* straight out: no atexit work, nothing a sanitizer intercepts (LSan's exit-time check
         * would need syscalls the sandbox forbids) */
        syscall(SYS_exit_group, sandbox_child(argc - 1, argv + 1));
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl > 0)
        self[sl] = '\0';
    if (argc > 1 && !strcmp(argv[1], "--sandbox-check"))
        return sandbox_selftest(self);
    const char *cfgpath = NULL, *make_id = NULL;
    int ch;
    while ((ch = getopt(argc, argv, "c:l:m:h")) != -1) {
        switch (ch) {
        case 'c': cfgpath = optarg; break;
        case 'm': make_id = optarg; break;
        case 'l':
            if (sl_log_to(optarg)) {
                perror(optarg);
                return 1;
            }
            break;
        default:
            fprintf(stderr, "usage: sluice-thumbd [-c CONFIG] [-l LOGFILE] [-m DROP_ID]\n");
            return ch == 'h' ? 0 : 2;
        }
    }
    cfgpath = config_path(cfgpath);
    config_defaults(&cfg);
    struct buf why = BUF_INIT(4096);
    int rc = 1;
    if (config_load(&cfg, cfgpath, &why)) {
        fprintf(stderr, "sluice-thumbd: %s\n", buf_str(&why));
        goto out;
    }
    if (s3_global_init())
        goto out;
    rc = make_id ? make_now(make_id) : serve();
    s3_global_cleanup();
out:
    buf_free(&why);
    config_free(&cfg);
    return rc;
}
