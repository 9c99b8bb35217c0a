/* sluice-fcgi: the FastCGI worker. libfcgi is wrapped once here: N threads, each with its
 * own FCGX_Request and S3 client, FCGX_Accept_r under one mutex, every request ending in
 * FCGX_Finish_r. SIGTERM drains: stop accepting, let uploads in flight finish (rolling back
 * what is still running after server.drain_timeout), exit.
 *
 * The listening socket is shared with every sibling process (spawn-fcgi -F N, the master of
 * fcgi/master.c, systemd): draining must not touch it (a shutdown() would stop the whole
 * pool). The thread waiting to accept polls the socket and an eventfd the drain writes;
 * should a sibling take the connection poll announced, it is blocked in accept() and is
 * woken by SIGUSR1 (no SA_RESTART, FCGI_FAIL_ACCEPT_ON_INTR) — only while the kernel says it
 * sits in that system call, so that no request's read is ever interrupted. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "ctx.h"
#include "http.h"
#include "janitor.h"
#include "master.h"
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
static int wake_fd = -1;                /* readable once the drain begins */
/* the thread inside FCGX_Accept_r, for the drain's SIGUSR1; under wake_mu */
static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t accepting;
static pid_t accepting_tid;
static int in_accept;

static void on_usr1(int sig)
{
    (void)sig;   /* only to interrupt accept() */
}

/* 1 when the listening socket has a connection for us to take, 0 when the drain began */
static int wait_listen(void)
{
    struct pollfd p[2] = {{.fd = listen_fd, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
    for (;;) {
        if (atomic_load(&ctx.stopping))
            return 0;
        int n = poll(p, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || p[1].revents)
            return 0;
        if (p[0].revents & POLLIN)
            return 1;
        if (p[0].revents)   /* POLLERR / POLLHUP: the socket is gone */
            return 0;
    }
}

/* under accept_mu: the next request, or -1 once draining */
static int accept_one(FCGX_Request *req)
{
    if (!wait_listen())
        return -1;
    pthread_mutex_lock(&wake_mu);
    if (atomic_load(&ctx.stopping)) {
        pthread_mutex_unlock(&wake_mu);
        return -1;
    }
    accepting = pthread_self();
    accepting_tid = (pid_t)syscall(SYS_gettid);
    in_accept = 1;
    pthread_mutex_unlock(&wake_mu);
    /* a sibling may have taken the connection: then this blocks until the next one */
    int rc = FCGX_Accept_r(req);
    pthread_mutex_lock(&wake_mu);
    in_accept = 0;
    pthread_mutex_unlock(&wake_mu);
    return rc;
}

/* 1 if thread tid of this process is blocked in accept() right now (/proc's syscall file:
 * the number of the call it sleeps in) */
static int blocked_in_accept(pid_t tid)
{
    char path[64], line[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long nr = -1;
    if (fgets(line, sizeof line, f))
        nr = strtol(line, NULL, 10);   /* "running" reads as 0, never an accept */
    fclose(f);
    return nr == SYS_accept || nr == SYS_accept4;
}

/* the drain: wake whoever waits to accept */
static void wake_acceptor(void)
{
    uint64_t one = 1;
    ssize_t w = write(wake_fd, &one, sizeof one);
    (void)w;   /* the counter only ever needs to be non-zero */
    pthread_mutex_lock(&wake_mu);
    if (in_accept && blocked_in_accept(accepting_tid))
        pthread_kill(accepting, SIGUSR1);
    pthread_mutex_unlock(&wake_mu);
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
    FCGX_InitRequest(&req, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR);
    for (;;) {
        pthread_mutex_lock(&accept_mu);
        int rc = accept_one(&req);
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

/* held by the start-up janitor while it runs: the exit waits for it (it stops at the next
 * request once ctx.stopping is set) before the libraries and the config go away */
static pthread_mutex_t janitor_mu = PTHREAD_MUTEX_INITIALIZER;

static void *janitor_thread(void *arg)
{
    struct s3_client *c = NULL;
    (void)arg;
    pthread_mutex_lock(&janitor_mu);
    if (atomic_load(&ctx.stopping) || s3_client_new(&ctx.cfg.s3, &c))
        goto out;
    struct janitor_report rep;
    struct janitor_opts jo = {.max_age = ctx.cfg.janitor.max_age,
                              .reserve_ttl = ctx.cfg.upload.reserve_ttl,
                              .direct_expires = ctx.cfg.upload.direct_expires,
                              .sweep_grace = ctx.cfg.janitor.sweep_grace,
                              .sweep_max = (size_t)ctx.cfg.janitor.sweep_max,
                              .stop = &ctx.stopping, .log = log_line};
    enum sl_err e = janitor_run(c, ctx.cfg.s3.prefix, &jo, time(NULL), &rep);
    fprintf(stderr, "sluice-fcgi: janitor: %s: %zu stale uploads aborted, %zu reservations "
                    "removed, %zu kept alive, %zu orphans swept (%zu looked at), %zu failed\n",
            e ? sl_err_str(e) : "done", rep.uploads_aborted, rep.markers_removed,
            rep.kept_alive, rep.swept, rep.swept_seen, rep.failed);
out:
    s3_client_free(c);
    pthread_mutex_unlock(&janitor_mu);
    return NULL;
}

/* in the background, once the worker serves: a long sweep must not keep it from answering */
static void janitor_at_start(void)
{
    pthread_t t;
    pthread_attr_t a;
    if (pthread_attr_init(&a))
        return;
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, janitor_thread, NULL))
        fprintf(stderr, "sluice-fcgi: cannot start the janitor thread\n");
    pthread_attr_destroy(&a);
}

static const char usage[] =
    "usage: sluice-fcgi [-c CONFIG] [-s SOCKET] [-t THREADS] [-w WORKERS] [-l LOGFILE]\n"
    "  -c CONFIG   sluice.conf (default $SLUICE_CONFIG, else /etc/sluice/sluice.conf)\n"
    "  -s SOCKET   listen on a unix socket path or [host]:port; without it, fd 0 (spawn-fcgi)\n"
    "  -t THREADS  request threads (default: server.threads)\n"
    "  -w WORKERS  a master keeping the socket, running WORKERS processes; SIGHUP replaces\n"
    "              them (new binary, new config) without dropping a request (server.workers)\n"
    "  -l LOGFILE  append log lines here instead of stderr (spawn-fcgi sends stderr to /dev/null)\n";

/* -w: the socket on fd 0 (made here for -s), then the master's loop */
static int serve_as_master(const char *sock, const struct master_opts *o)
{
    config_free(&ctx.cfg);   /* each worker reads the file itself, at its start */
    if (FCGX_Init()) {
        fprintf(stderr, "sluice-fcgi: cannot initialise libfcgi\n");
        return 1;
    }
    if (sock) {
        int fd = FCGX_OpenSocket(sock, 128);
        if (fd < 0 || (fd != 0 && dup2(fd, 0) != 0)) {
            fprintf(stderr, "sluice-fcgi: cannot listen on %s: %s\n", sock, strerror(errno));
            return 1;
        }
        if (fd != 0)
            close(fd);
    } else if (FCGX_IsCGI()) {
        fprintf(stderr, "sluice-fcgi: fd 0 is not a socket: run under spawn-fcgi or pass -s\n");
        return 1;
    }
    return master_run(o);
}

int main(int argc, char **argv)
{
    const char *cfgpath = NULL, *sock = NULL, *threads = NULL, *logpath = NULL, *workers = NULL;
    int ch;
    while ((ch = getopt(argc, argv, "c:s:t:l:w:h")) != -1) {
        switch (ch) {
        case 'w': workers = optarg; break;
        case 'l':
            logpath = optarg;
            if (sl_log_to(optarg)) {
                perror(optarg);
                return 1;
            }
            break;
        case 'c': cfgpath = optarg; break;
        case 's': sock = optarg; break;
        case 't': threads = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    cfgpath = config_path(cfgpath);
    ctx.trace = getenv("SLUICE_TRACE") != NULL;
    config_defaults(&ctx.cfg);
    /* -t, -s and -w are settings like any in the file: checked the same way and applied
     * before the validation, so that -t cannot take server.threads down to upload.slots */
    struct config_override ov[3];
    size_t nov = 0;
    if (threads)
        ov[nov++] = (struct config_override){"-t", "server.threads", threads};
    if (sock)
        ov[nov++] = (struct config_override){"-s", "server.socket", sock};
    if (workers)
        ov[nov++] = (struct config_override){"-w", "server.workers", workers};
    struct buf why = BUF_INIT(4096);
    if (config_load_with(&ctx.cfg, cfgpath, ov, nov, &why) ||
        config_validate_upload(&ctx.cfg, &why)) {
        fprintf(stderr, "sluice-fcgi: %s\n", buf_str(&why));
        buf_free(&why);
        config_free(&ctx.cfg);
        return 1;
    }
    buf_free(&why);
    ctx.cfgpath = cfgpath;
    if (ctx.cfg.server.workers > 0 && !getenv("SLUICE_MASTER"))
        return serve_as_master(ctx.cfg.server.socket,
                               &(struct master_opts){.workers = ctx.cfg.server.workers,
                                                     .cfgpath = cfgpath, .logpath = logpath,
                                                     .threads = threads});
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
    if (quota_open(&ctx.quota, &ctx.cfg)) {
        fprintf(stderr, "sluice-fcgi: cannot create the token slot and reservation files in "
                        "%s\n", ctx.cfg.upload.slot_dir);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (s3_global_init() || FCGX_Init()) {
        fprintf(stderr, "sluice-fcgi: cannot initialise libcurl / libfcgi\n");
        return 1;
    }
    /* a master's worker serves the master's socket, on fd 0, whatever the file says */
    sock = getenv("SLUICE_MASTER") ? NULL : ctx.cfg.server.socket;
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

    /* signals go to this thread only, through sigwait; SIGHUP too (its default would kill
     * the process mid-upload, and `systemctl reload` sends it) */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct sigaction sa = {.sa_handler = on_usr1};   /* no SA_RESTART: accept() returns */
    sigemptyset(&sa.sa_mask);
    if ((wake_fd = eventfd(0, EFD_CLOEXEC)) < 0 || sigaction(SIGUSR1, &sa, NULL) != 0) {
        fprintf(stderr, "sluice-fcgi: cannot set up the drain's wake-up: %s\n", strerror(errno));
        return 1;
    }
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
    if (ctx.cfg.server.janitor_on_start)
        janitor_at_start();
    master_worker_ready();
    int sig;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
        fprintf(stderr, "sluice-fcgi: SIGHUP: a worker does not reload; a master does (-w N / "
                        "server.workers: SIGHUP replaces its workers with no request lost)\n");
    fprintf(stderr, "sluice-fcgi: %s: draining\n", strsignal(sig));
    atomic_store(&ctx.stopping, 1);
    wake_acceptor();   /* the socket stays as it is: it is the siblings' too */
    /* uploads in flight may finish until drain_timeout (or a second signal); then what is
     * still running is rolled back, each upload answering 503 */
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += ctx.cfg.server.drain_timeout;
    while (__atomic_load_n(&running_threads, __ATOMIC_SEQ_CST) > 0) {
        /* a thread that entered accept() after the first wake (a sibling took what poll
         * announced) is still there: signal it, only while it is there */
        wake_acceptor();
        struct timespec tick = {0, 50 * 1000000};
        int again = sigtimedwait(&set, NULL, &tick);
        if (again == SIGTERM || again == SIGINT) {
            fprintf(stderr, "sluice-fcgi: second signal: rolling back uploads in flight\n");
            break;
        }
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
    quota_close(&ctx.quota);
    spool_close(ctx.spool);
    pthread_mutex_lock(&janitor_mu);   /* the start-up janitor is done (or never ran) */
    s3_global_cleanup();
    config_free(&ctx.cfg);
    fprintf(stderr, "sluice-fcgi: stopped\n");
    return 0;
}
