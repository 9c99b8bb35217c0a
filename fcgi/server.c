/* sluice-fcgi: the FastCGI worker. libfcgi is wrapped once here: N threads, each with its
 * own FCGX_Request and S3 client, FCGX_Accept_r under one mutex, every request ending in
 * FCGX_Finish_r. SIGTERM drains: stop accepting, let uploads in flight finish (rolling back
 * what is still running after server.drain_timeout), exit. The listening socket is never
 * shut down: under systemd (sluice.socket) it is shared with the manager and the next worker,
 * and shutdown() would make it refuse every later connection. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "ctx.h"
#include "http.h"
#include "janitor.h"
#include "router.h"
#include "s3.h"
#include "slots.h"
#include "spool.h"

static struct ctx ctx = {.inflight = INFLIGHT_INIT, .watchdog = WATCHDOG_INIT};
static int running_threads;

/* base with ak/sk as its credential (no session token), or base itself when not set */
static void signer(const struct s3_config *base, char *ak, char *sk, struct s3_config *out)
{
    *out = *base;
    if (ak && sk) {
        out->access_key_id = ak;
        out->secret_access_key = sk;
        out->session_token = NULL;
    }
}
static int listen_fd;
static pthread_mutex_t accept_mu = PTHREAD_MUTEX_INITIALIZER;
/* the one thread inside FCGX_Accept_r (accept_mu makes it one), for the stop to wake */
static pthread_mutex_t acceptor_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t acceptor;
static int accepting;

/* SIGUSR1 only interrupts accept() (no SA_RESTART); libfcgi then sees FCGX_ShutdownPending */
static void on_wake(int sig)
{
    (void)sig;
}

static void set_accepting(int on)
{
    pthread_mutex_lock(&acceptor_mu);
    acceptor = pthread_self();
    accepting = on;
    pthread_mutex_unlock(&acceptor_mu);
}

/* Called on every tick of the stop: a thread that checked ctx.stopping just before it was
 * set may enter accept() after a wake-up, so one is not enough. Only the accepting thread is
 * signalled: the others may be in the middle of an upload. */
static void wake_acceptor(void)
{
    pthread_mutex_lock(&acceptor_mu);
    if (accepting)
        pthread_kill(acceptor, SIGUSR1);
    pthread_mutex_unlock(&acceptor_mu);
}

static void *worker(void *arg)
{
    (void)arg;
    struct s3_client *c;
    if (s3_client_new(&ctx.cfg.s3, &c)) {
        fprintf(stderr, "sluice-fcgi: out of memory\n");
        __atomic_sub_fetch(&running_threads, 1, __ATOMIC_SEQ_CST);
        return NULL;
    }
    FCGX_Request req;
    FCGX_InitRequest(&req, listen_fd, 0);
    for (;;) {
        pthread_mutex_lock(&accept_mu);
        int rc = -1;
        if (!atomic_load(&ctx.stopping)) {
            set_accepting(1);
            rc = FCGX_Accept_r(&req);
            set_accepting(0);
        }
        pthread_mutex_unlock(&accept_mu);
        if (rc < 0)
            break;
        METRIC_ADD(&ctx.m, requests, 1);
        struct http h;
        enum sl_err ie = http_init(&h, &req);
        watchdog_add(&ctx.watchdog, &h.watch, req.ipcFd);
        if (ie)
            http_reply_error(&h, SL_EBADREQ, "the request path is too long", NULL);
        else
            router_dispatch(&ctx, &h, c);
        watchdog_remove(&ctx.watchdog, &h.watch);
        FCGX_Finish_r(&req);
    }
    FCGX_Free(&req, 1);
    s3_client_free(c);
    __atomic_sub_fetch(&running_threads, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void log_line(void *ud, const char *line)
{
    (void)ud;
    fprintf(stderr, "sluice-fcgi: janitor: %s\n", line);
}

static void janitor_at_start(void)
{
    struct s3_client *c;
    if (s3_client_new(&ctx.cfg.s3, &c))
        return;
    struct janitor_report rep;
    if (janitor_run(c, ctx.cfg.s3.prefix, ctx.cfg.janitor.max_age, ctx.cfg.upload.reserve_ttl,
                    time(NULL), 0, log_line, NULL, &rep) == SL_OK && (rep.uploads_aborted || rep.markers_removed))
        fprintf(stderr, "sluice-fcgi: janitor: %zu stale uploads aborted, %zu reservations "
                        "removed\n", rep.uploads_aborted, rep.markers_removed);
    s3_client_free(c);
}

static const char usage[] =
    "usage: sluice-fcgi [-c CONFIG] [-s SOCKET] [-t THREADS]\n"
    "  -c CONFIG   sluice.conf (default $SLUICE_CONFIG, else /etc/sluice/sluice.conf)\n"
    "  -s SOCKET   listen on a unix socket path or [host]:port; without it, fd 0 (spawn-fcgi)\n"
    "  -t THREADS  request threads (default: server.threads)\n"
    "  -l LOGFILE  append log lines here instead of stderr (spawn-fcgi sends stderr to /dev/null)\n";

int main(int argc, char **argv)
{
    const char *cfgpath = NULL, *sock = NULL;
    int threads = 0, ch;
    while ((ch = getopt(argc, argv, "c:s:t:l:h")) != -1) {
        switch (ch) {
        case 'l':
            if (sl_log_to(optarg)) {
                perror(optarg);
                return 1;
            }
            break;
        case 'c': cfgpath = optarg; break;
        case 's': sock = optarg; break;
        case 't': threads = atoi(optarg); break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    cfgpath = config_path(cfgpath);
    ctx.trace = getenv("SLUICE_TRACE") != NULL;
    config_defaults(&ctx.cfg);
    struct buf why = BUF_INIT(4096);
    if (threads > 0)
        ctx.cfg.server.threads = threads;
    if (config_load(&ctx.cfg, cfgpath, &why) || config_validate_upload(&ctx.cfg, &why)) {
        fprintf(stderr, "sluice-fcgi: %s\n", buf_str(&why));
        return 1;
    }
    if (threads > 0)
        ctx.cfg.server.threads = threads;   /* the flag wins over the file */
    buf_free(&why);
    ctx.cfgpath = cfgpath;
    signer(&ctx.cfg.s3, ctx.cfg.s3.signer_access_key_id, ctx.cfg.s3.signer_secret_access_key,
           &ctx.put_signer);
    signer(&ctx.cfg.s3, ctx.cfg.s3.part_signer_access_key_id,
           ctx.cfg.s3.part_signer_secret_access_key, &ctx.part_signer);
    if (!ctx.cfg.s3.signer_access_key_id || !ctx.cfg.s3.part_signer_access_key_id)
        fprintf(stderr, "sluice-fcgi: warning: client upload URLs are signed with the worker's "
                        "own S3 key (set s3.signer_* and s3.part_signer_*: docs/design.md)\n");
    ssize_t exe = readlink("/proc/self/exe", ctx.thumbd, sizeof ctx.thumbd - 32);
    if (exe > 0) {
        ctx.thumbd[exe] = '\0';
        char *slash = strrchr(ctx.thumbd, '/');
        strcpy(slash ? slash + 1 : ctx.thumbd, "sluice-thumbd");
    } else {
        strcpy(ctx.thumbd, "sluice-thumbd");
    }
    if (ctx.cfg.thumbs.enabled && ctx.cfg.thumbs.spool_dir) {
        char name[64];
        snprintf(name, sizeof name, "fcgi-%d", getpid());
        if (spool_open(ctx.cfg.thumbs.spool_dir, name, &ctx.spool)) {
            fprintf(stderr, "sluice-fcgi: cannot open the thumbnail spool %s\n",
                    ctx.cfg.thumbs.spool_dir);
            return 1;
        }
    }
    if (ctx.spool) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/lazy-slots", ctx.cfg.thumbs.spool_dir);
        if (slots_open(dir, ctx.cfg.thumbs.workers > 0 ? ctx.cfg.thumbs.workers : 1,
                       &ctx.lazy_slots)) {
            fprintf(stderr, "sluice-fcgi: cannot create the slot files in %s\n", dir);
            return 1;
        }
    }
    if (slots_open(ctx.cfg.upload.slot_dir, ctx.cfg.upload.slots, &ctx.slots)) {
        fprintf(stderr, "sluice-fcgi: cannot create the slot files in %s\n",
                ctx.cfg.upload.slot_dir);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (s3_global_init() || FCGX_Init()) {
        fprintf(stderr, "sluice-fcgi: cannot initialise libcurl / libfcgi\n");
        return 1;
    }
    if (!sock)
        sock = ctx.cfg.server.socket;
    if (sock) {
        listen_fd = FCGX_OpenSocket(sock, 128);
        if (listen_fd < 0) {
            fprintf(stderr, "sluice-fcgi: cannot listen on %s: %s\n", sock, strerror(errno));
            return 1;
        }
    } else if (FCGX_IsCGI()) {
        fprintf(stderr, "sluice-fcgi: fd 0 is not a socket: run under spawn-fcgi or pass -s\n");
        return 1;
    }
    if (ctx.cfg.server.janitor_on_start)
        janitor_at_start();

    /* signals go to this thread only, through sigwait; SIGHUP too (its default would kill
     * the process mid-upload, and `systemctl reload` sends it) */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct sigaction wake = {.sa_handler = on_wake};
    sigemptyset(&wake.sa_mask);
    sigaction(SIGUSR1, &wake, NULL);
    int n = ctx.cfg.server.threads;
    /* threads for pages and health stay free: uploads hold at most upload.slots of them (a
     * slot each), each of the two small-body pools a quarter of what is left, each read under
     * the minimum rate and a deadline */
    int small = (n - ctx.cfg.upload.slots) / 4;
    http_configure(small > 0 ? small : 1, ctx.cfg.upload.idle_timeout);
    if (watchdog_start(&ctx.watchdog, ctx.cfg.upload.idle_timeout, ctx.cfg.upload.min_rate)) {
        fprintf(stderr, "sluice-fcgi: cannot start the watchdog thread\n");
        return 1;
    }
    pthread_t *t = calloc((size_t)n, sizeof *t);
    if (!t) {
        fprintf(stderr, "sluice-fcgi: out of memory\n");
        return 1;
    }
    running_threads = n;
    int started = 0;
    for (; started < n; started++) {
        if (pthread_create(&t[started], NULL, worker, NULL)) {
            fprintf(stderr, "sluice-fcgi: cannot start thread %d of %d\n", started + 1, n);
            __atomic_sub_fetch(&running_threads, n - started, __ATOMIC_SEQ_CST);
            break;
        }
    }
    if (!started)
        return 1;
    fprintf(stderr, "sluice-fcgi: pid %d serving with %d threads, %d upload slots\n", getpid(), n,
            ctx.cfg.upload.slots);
    int sig;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
        fprintf(stderr, "sluice-fcgi: SIGHUP: this build does not reload its config; restart it "
                        "(which drains) to apply a new one\n");
    fprintf(stderr, "sluice-fcgi: %s: draining\n", strsignal(sig));
    atomic_store(&ctx.stopping, 1);
    FCGX_ShutdownPending();   /* an interrupted accept() returns instead of retrying */
    wake_acceptor();
    /* uploads in flight may finish until drain_timeout (or a second signal); then what is
     * still running is rolled back, each upload answering 503 */
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += ctx.cfg.server.drain_timeout;
    while (__atomic_load_n(&running_threads, __ATOMIC_SEQ_CST) > 0) {
        struct timespec tick = {0, 50 * 1000000};
        int again = sigtimedwait(&set, NULL, &tick);
        if (again == SIGTERM || again == SIGINT) {
            fprintf(stderr, "sluice-fcgi: second signal: rolling back uploads in flight\n");
            break;
        }
        wake_acceptor();
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec >= deadline.tv_sec) {
            fprintf(stderr, "sluice-fcgi: drain timeout: rolling back uploads in flight\n");
            break;
        }
    }
    inflight_abort_all(&ctx.inflight, SL_ESHUTDOWN);
    while (__atomic_load_n(&running_threads, __ATOMIC_SEQ_CST) > 0) {
        wake_acceptor();
        usleep(50 * 1000);
    }
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    free(t);
    watchdog_stop(&ctx.watchdog);
    slots_close(ctx.slots);
    slots_close(ctx.lazy_slots);
    spool_close(ctx.spool);
    s3_global_cleanup();
    config_free(&ctx.cfg);
    fprintf(stderr, "sluice-fcgi: stopped\n");
    return 0;
}
