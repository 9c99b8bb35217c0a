/* sluice-fcgi: the FastCGI worker. libfcgi is wrapped once here: N threads, each with its
 * own FCGX_Request and S3 client, FCGX_Accept_r under one mutex, every request ending in
 * FCGX_Finish_r. SIGTERM drains: stop accepting, let uploads in flight finish (rolling back
 * what is still running after server.drain_timeout), exit. */
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

#include "app.h"
#include "janitor.h"

static struct app app = {.active_mu = PTHREAD_MUTEX_INITIALIZER};
static int running_threads;

void app_track(struct app *a, struct queue *q, const char *id, const uint64_t *received,
               uint64_t announced)
{
    pthread_mutex_lock(&a->active_mu);
    for (int i = 0; i < APP_MAX_ACTIVE; i++) {
        if (!a->active[i].q) {
            a->active[i].q = q;
            snprintf(a->active[i].id, sizeof a->active[i].id, "%s", id);
            a->active[i].received = received;
            a->active[i].announced = announced;
            break;
        }
    }
    pthread_mutex_unlock(&a->active_mu);
}

void app_untrack(struct app *a, struct queue *q)
{
    pthread_mutex_lock(&a->active_mu);
    for (int i = 0; i < APP_MAX_ACTIVE; i++)
        if (a->active[i].q == q)
            memset(&a->active[i], 0, sizeof a->active[i]);
    pthread_mutex_unlock(&a->active_mu);
}

int app_progress(struct app *a, const char *id, uint64_t *received, uint64_t *announced)
{
    int found = 0;
    pthread_mutex_lock(&a->active_mu);
    for (int i = 0; i < APP_MAX_ACTIVE && !found; i++) {
        if (a->active[i].q && !strcmp(a->active[i].id, id)) {
            *received = __atomic_load_n(a->active[i].received, __ATOMIC_RELAXED);
            *announced = a->active[i].announced;
            found = 1;
        }
    }
    pthread_mutex_unlock(&a->active_mu);
    return found;
}

void app_abort_all(struct app *a, enum sl_err why)
{
    pthread_mutex_lock(&a->active_mu);
    for (int i = 0; i < APP_MAX_ACTIVE; i++)
        if (a->active[i].q)
            queue_abort(a->active[i].q, why);
    pthread_mutex_unlock(&a->active_mu);
}
static int listen_fd;
static pthread_mutex_t accept_mu = PTHREAD_MUTEX_INITIALIZER;

static void reply_method(struct http *h, const char *allow)
{
    char extra[128];
    snprintf(extra, sizeof extra, "Allow: %s\r\n", allow);
    http_reply_error(h, SL_EMETHOD, NULL, extra);
}

static int is(const struct http *h, const char *m)
{
    return strcmp(h->method, m) == 0;
}

static void route(struct http *h, struct s3_client *c)
{
    const char *p = h->path;
    int get = is(h, "GET") || is(h, "HEAD");
    if (!strcmp(p, "/healthz")) {
        static const char ok[] = "{\"status\":\"ok\"}\n";
        if (!get)
            return reply_method(h, "GET, HEAD");
        if (app.stopping)
            return http_reply_error(h, SL_ESHUTDOWN, NULL, NULL);
        return http_reply(h, 200, "application/json", NULL, ok, sizeof ok - 1);
    }
    if (!strcmp(p, "/metrics")) {
        if (!get)
            return reply_method(h, "GET, HEAD");
        struct buf b = BUF_INIT(1 << 20);
        metrics_render(&app, &b);
        http_reply(h, 200, "text/plain; version=0.0.4", NULL, buf_str(&b), b.len);
        buf_free(&b);
        return;
    }
    if (!strcmp(p, "/api/config")) {   /* what the upload page needs to choose a path */
        if (!get)
            return reply_method(h, "GET, HEAD");
        const struct upload_config *uc = &app.cfg.upload;
        struct buf b = BUF_INIT(4096);
        buf_printf(&b, "{\"direct\":%s,\"anonymous\":%s,\"max_size\":%llu,\"part_size\":%llu,"
                       "\"thumbnails\":%s}\n",
                   uc->cors_origins && uc->cors_origins[0] ? "true" : "false",
                   uc->anonymous ? "true" : "false", (unsigned long long)uc->max_size,
                   (unsigned long long)uc->part_size, app.cfg.thumbs.enabled ? "true" : "false");
        http_reply_json(h, 200, &b, NULL);
        buf_free(&b);
        return;
    }
    if (!strcmp(p, "/api/drops") || !strcmp(p, "/api/drops/")) {
        if (!is(h, "POST"))
            return reply_method(h, "POST");
        if (!strcmp(h->query, "reserve") || !strncmp(h->query, "reserve&", 8))
            return handle_stream_reserve(&app, h, c);
        return handle_upload_form(&app, h, c);
    }
    if (!strncmp(p, "/s3/", 4))
        return handle_uppy(&app, h, c, p + 4);
    if (!strcmp(p, "/api/uploads")) {
        if (!is(h, "POST"))
            return reply_method(h, "POST");
        return handle_direct_create(&app, h, c);
    }
    if (!strncmp(p, "/api/uploads/", 13)) {
        char id[64];
        const char *rest = p + 13, *slash = strchr(rest, '/');
        if (!slash || strcmp(slash, "/complete") != 0 || (size_t)(slash - rest) >= sizeof id)
            return http_reply_error(h, SL_ENOTFOUND, "no such route", NULL);
        memcpy(id, rest, (size_t)(slash - rest));
        id[slash - rest] = '\0';
        if (!is(h, "POST"))
            return reply_method(h, "POST");
        return handle_direct_complete(&app, h, c, id);
    }
    if (!strncmp(p, "/api/drops/", 11)) {
        const char *rest = p + 11;
        if (is(h, "PUT"))
            return handle_upload_raw(&app, h, c, rest);
        if (is(h, "DELETE"))
            return handle_delete(&app, h, c, rest);
        return reply_method(h, "PUT, DELETE");
    }
    if (!strncmp(p, "/d/", 3)) {
        char id[64];
        const char *rest = p + 3, *slash = strchr(rest, '/');
        size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
        if (n >= sizeof id)
            return http_reply_error(h, SL_ENOTFOUND, NULL, NULL);
        memcpy(id, rest, n);
        id[n] = '\0';
        if (!get)
            return reply_method(h, "GET, HEAD");
        if (!slash)
            return handle_share(&app, h, c, id);
        if (!strcmp(slash, "/download"))
            return handle_download(&app, h, c, id);
        if (!strcmp(slash, "/thumbnail"))
            return handle_thumbnail(&app, h, c, id);
    }
    http_reply_error(h, SL_ENOTFOUND, "no such route", NULL);
}

static void *worker(void *arg)
{
    (void)arg;
    struct s3_client *c;
    if (s3_client_new(&app.cfg.s3, &c)) {
        fprintf(stderr, "sluice-fcgi: out of memory\n");
        return NULL;
    }
    FCGX_Request req;
    FCGX_InitRequest(&req, listen_fd, 0);
    for (;;) {
        pthread_mutex_lock(&accept_mu);
        int rc = app.stopping ? -1 : FCGX_Accept_r(&req);
        pthread_mutex_unlock(&accept_mu);
        if (rc < 0)
            break;
        METRIC_ADD(&app, requests, 1);
        struct http h;
        if (http_init(&h, &req))
            http_reply_error(&h, SL_EBADREQ, "the request path is too long", NULL);
        else
            route(&h, c);
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
    if (s3_client_new(&app.cfg.s3, &c))
        return;
    struct janitor_report rep;
    if (janitor_run(c, app.cfg.s3.prefix, app.cfg.janitor.max_age, app.cfg.upload.reserve_ttl,
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
    config_defaults(&app.cfg);
    struct buf why = BUF_INIT(4096);
    if (threads > 0)
        app.cfg.server.threads = threads;
    if (config_load(&app.cfg, cfgpath, &why) || config_validate_upload(&app.cfg, &why)) {
        fprintf(stderr, "sluice-fcgi: %s\n", buf_str(&why));
        return 1;
    }
    if (threads > 0)
        app.cfg.server.threads = threads;   /* the flag wins over the file */
    buf_free(&why);
    app.cfgpath = cfgpath;
    ssize_t exe = readlink("/proc/self/exe", app.thumbd, sizeof app.thumbd - 32);
    if (exe > 0) {
        app.thumbd[exe] = '\0';
        char *slash = strrchr(app.thumbd, '/');
        strcpy(slash ? slash + 1 : app.thumbd, "sluice-thumbd");
    } else {
        strcpy(app.thumbd, "sluice-thumbd");
    }
    if (app.cfg.thumbs.enabled && app.cfg.thumbs.spool_dir) {
        char name[64];
        snprintf(name, sizeof name, "fcgi-%d", getpid());
        if (spool_open(app.cfg.thumbs.spool_dir, name, &app.spool)) {
            fprintf(stderr, "sluice-fcgi: cannot open the thumbnail spool %s\n",
                    app.cfg.thumbs.spool_dir);
            return 1;
        }
    }
    if (slots_open(app.cfg.upload.slot_dir, app.cfg.upload.slots, &app.slots)) {
        fprintf(stderr, "sluice-fcgi: cannot create the slot files in %s\n",
                app.cfg.upload.slot_dir);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (s3_global_init() || FCGX_Init()) {
        fprintf(stderr, "sluice-fcgi: cannot initialise libcurl / libfcgi\n");
        return 1;
    }
    if (!sock)
        sock = app.cfg.server.socket;
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
    if (app.cfg.server.janitor_on_start)
        janitor_at_start();

    /* signals go to this thread only, through sigwait */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    int n = app.cfg.server.threads;
    pthread_t *t = calloc((size_t)n, sizeof *t);
    running_threads = n;
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    fprintf(stderr, "sluice-fcgi: pid %d serving with %d threads, %d upload slots\n", getpid(), n,
            app.cfg.upload.slots);
    int sig;
    sigwait(&set, &sig);
    fprintf(stderr, "sluice-fcgi: %s: draining\n", strsignal(sig));
    app.stopping = 1;
    shutdown(listen_fd, SHUT_RDWR);   /* wakes the threads blocked in accept() */
    /* uploads in flight may finish until drain_timeout (or a second signal); then what is
     * still running is rolled back, each upload answering 503 */
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += app.cfg.server.drain_timeout;
    while (__atomic_load_n(&running_threads, __ATOMIC_SEQ_CST) > 0) {
        struct timespec tick = {0, 50 * 1000000};
        if (sigtimedwait(&set, NULL, &tick) > 0) {
            fprintf(stderr, "sluice-fcgi: second signal: rolling back uploads in flight\n");
            break;
        }
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (now.tv_sec >= deadline.tv_sec) {
            fprintf(stderr, "sluice-fcgi: drain timeout: rolling back uploads in flight\n");
            break;
        }
    }
    app_abort_all(&app, SL_ESHUTDOWN);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    free(t);
    slots_close(app.slots);
    spool_close(app.spool);
    s3_global_cleanup();
    config_free(&app.cfg);
    fprintf(stderr, "sluice-fcgi: stopped\n");
    return 0;
}
