#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 256
#define READY_TIMEOUT_MS 20000

struct worker {
    pid_t pid;                 /* 0: free entry */
    int gen;
    int ready_fd;              /* read end of its ready pipe; -1 once it said so */
    int told_to_stop;
    struct timespec started;
};

static struct worker w[MAX_WORKERS];
static char exe[4096];
static const struct master_opts *opts;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sluice-fcgi master %d: ", (int)getpid());
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static double since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/* a new worker of generation gen; its entry, or NULL */
static struct worker *spawn(int gen)
{
    struct worker *e = NULL;
    for (int i = 0; i < MAX_WORKERS && !e; i++)
        if (!w[i].pid)
            e = &w[i];
    int p[2];
    if (!e || pipe2(p, O_CLOEXEC) != 0) {
        say("cannot start a worker: %s", e ? strerror(errno) : "too many");
        return NULL;
    }
    pid_t master = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        say("fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return NULL;
    }
    if (pid == 0) {
        /* the worker ends when the master does (drains: SIGTERM) */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != master)
            _exit(1);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int fd = dup(p[1]);   /* without O_CLOEXEC: it crosses the exec */
        char fds[16];
        snprintf(fds, sizeof fds, "%d", fd);
        setenv("SLUICE_READY_FD", fds, 1);
        setenv("SLUICE_MASTER", "1", 1);
        char *argv[12];
        int n = 0;
        argv[n++] = exe;
        if (opts->cfgpath)
            argv[n++] = "-c", argv[n++] = (char *)opts->cfgpath;
        if (opts->logpath)
            argv[n++] = "-l", argv[n++] = (char *)opts->logpath;
        if (opts->threads)
            argv[n++] = "-t", argv[n++] = (char *)opts->threads;
        argv[n] = NULL;
        execv(exe, argv);
        fprintf(stderr, "sluice-fcgi master: exec %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    close(p[1]);
    *e = (struct worker){.pid = pid, .gen = gen, .ready_fd = p[0]};
    clock_gettime(CLOCK_MONOTONIC, &e->started);
    return e;
}

static int count(int gen, int live_only)
{
    int n = 0;
    for (int i = 0; i < MAX_WORKERS; i++)
        if (w[i].pid && (gen < 0 || w[i].gen == gen) && (!live_only || !w[i].told_to_stop))
            n++;
    return n;
}

static void stop(struct worker *e)
{
    if (e->pid && !e->told_to_stop) {
        kill(e->pid, SIGTERM);
        e->told_to_stop = 1;
    }
}

/* reaps what has exited; returns how many of generation gen died unasked */
static int reap(int gen, int *lived_short)
{
    int died = 0, st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (int i = 0; i < MAX_WORKERS; i++) {
            if (w[i].pid != pid)
                continue;
            if (!w[i].told_to_stop) {
                say("worker %d (generation %d) ended unasked: %s %d", (int)pid, w[i].gen,
                    WIFSIGNALED(st) ? "signal" : "status",
                    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
                if (w[i].gen == gen) {
                    died++;
                    if (since(&w[i].started) < 1.0)
                        *lived_short = 1;
                }
            }
            if (w[i].ready_fd >= 0)
                close(w[i].ready_fd);
            w[i] = (struct worker){0};
        }
    }
    return died;
}

/* waits until every worker of gen said it serves; 1, or 0 if one died or time ran out */
static int wait_ready(int gen)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd p[MAX_WORKERS];
        struct worker *of[MAX_WORKERS];
        int n = 0;
        for (int i = 0; i < MAX_WORKERS; i++)
            if (w[i].pid && w[i].gen == gen && w[i].ready_fd >= 0) {
                p[n] = (struct pollfd){.fd = w[i].ready_fd, .events = POLLIN};
                of[n++] = &w[i];
            }
        if (n == 0)
            return count(gen, 1) == opts->workers;
        int left = READY_TIMEOUT_MS - (int)(since(&t0) * 1000);
        if (left <= 0 || poll(p, (nfds_t)n, left > 200 ? 200 : left) < 0) {
            if (left <= 0 || errno != EINTR)
                return 0;
            continue;
        }
        for (int i = 0; i < n; i++) {
            if (!p[i].revents)
                continue;
            char c;
            ssize_t r = read(p[i].fd, &c, 1);
            close(p[i].fd);
            of[i]->ready_fd = -1;
            if (r != 1)   /* closed without a word: it is exiting */
                return 0;
        }
    }
}

/* SIGHUP: a new generation, then the old one drains; 1 if the new one serves */
static int reload(int *gen)
{
    int next = *gen + 1;
    say("reload: starting generation %d (%s)", next, exe);
    for (int i = 0; i < opts->workers; i++)
        if (!spawn(next))
            break;
    if (!wait_ready(next)) {
        say("reload failed: generation %d did not come up; generation %d keeps serving", next,
            *gen);
        for (int i = 0; i < MAX_WORKERS; i++)
            if (w[i].pid && w[i].gen == next)
                stop(&w[i]);
        return 0;
    }
    for (int i = 0; i < MAX_WORKERS; i++)
        if (w[i].pid && w[i].gen != next)
            stop(&w[i]);
    say("reload: generation %d serves; the older ones drain", next);
    *gen = next;
    return 1;
}

int master_run(const struct master_opts *o)
{
    opts = o;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0 || o->workers < 1 || o->workers > MAX_WORKERS) {
        say("cannot find my own binary, or bad worker count");
        return 1;
    }
    exe[n] = '\0';   /* read now: a reload execs what is at this path then */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int gen = 1, stopping = 0, lived_short = 0;
    for (int i = 0; i < o->workers; i++)
        spawn(gen);
    say("serving with %d workers", o->workers);
    for (;;) {
        int died = reap(gen, &lived_short);
        if (stopping && count(-1, 0) == 0)
            break;
        if (!stopping && (died || count(gen, 1) < o->workers)) {
            if (lived_short) {   /* a crash loop must not spin */
                sleep(1);
                lived_short = 0;
            }
            while (count(gen, 1) < o->workers && spawn(gen))
                ;
        }
        struct timespec tick = {1, 0};
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGHUP && !stopping) {
            reload(&gen);
        } else if (sig == SIGTERM || sig == SIGINT) {
            say("%s: stopping %d workers", strsignal(sig), count(-1, 0));
            for (int i = 0; i < MAX_WORKERS; i++) {
                if (stopping && w[i].pid)   /* the second signal: roll back now */
                    kill(w[i].pid, SIGTERM);
                else
                    stop(&w[i]);
            }
            stopping = 1;
        }
        /* the ready pipes of workers started outside a reload (the first ones, the
         * replacements): nobody waits for them, they are only closed */
        for (int i = 0; i < MAX_WORKERS; i++) {
            struct pollfd p = {.fd = w[i].ready_fd, .events = POLLIN};
            if (w[i].pid && w[i].ready_fd >= 0 && poll(&p, 1, 0) == 1) {
                close(w[i].ready_fd);
                w[i].ready_fd = -1;
            }
        }
    }
    say("stopped");
    return 0;
}

void master_worker_ready(void)
{
    const char *s = getenv("SLUICE_READY_FD");
    if (!s)
        return;
    int fd = atoi(s);
    unsetenv("SLUICE_READY_FD");
    if (fd > 2) {
        ssize_t r = write(fd, "r", 1);
        (void)r;
        close(fd);
    }
}
