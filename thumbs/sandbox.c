#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <seccomp.h>

#include "buf.h"

#define OUT_MAX (16u << 20)   /* a thumbnail is tens of KB */
#define CPU_SECONDS 10

/* what the child writes before the thumbnail's bytes */
struct reply {
    uint32_t err;             /* enum sl_err */
    struct thumb_info info;
    uint64_t len;
};

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ---- the child ---- */

static int limit(int what, rlim_t n)
{
    struct rlimit rl = {n, n};
    if (what == RLIMIT_CPU)
        rl.rlim_max = n + 1;   /* SIGXCPU first, then SIGKILL */
    return setrlimit(what, &rl);
}

static int lock_down(uint64_t max_pixels)
{
    /* memory for the decoded pixels (4 bytes each, and a scaled copy) plus the libraries */
    uint64_t as = (256ull << 20) + max_pixels * 12;
    if (as > (8ull << 30))
        as = 8ull << 30;
    /* (no RLIMIT_FSIZE: stderr may be a log file past any limit, and the filter below leaves
     * no way to open or create a file anyway) */
#ifndef __SANITIZE_ADDRESS__   /* ASan's shadow memory is terabytes of address space */
    if (limit(RLIMIT_AS, (rlim_t)as))
        return -1;
#else
    (void)as;
#endif
    if (limit(RLIMIT_CPU, CPU_SECONDS) || limit(RLIMIT_NOFILE, 3) || limit(RLIMIT_NPROC, 0) ||
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
        return -1;
    scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!f)
        return -1;
    static const int allowed[] = {
        SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(close), SCMP_SYS(exit), SCMP_SYS(exit_group),
        SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
        SCMP_SYS(mprotect), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek),
        SCMP_SYS(rt_sigreturn), SCMP_SYS(futex), SCMP_SYS(getrandom), SCMP_SYS(clock_gettime),
        SCMP_SYS(gettimeofday),
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0] && !rc; i++)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, allowed[i], 0);
    if (!rc)
        rc = seccomp_load(f);
    seccomp_release(f);
    return rc ? -1 : 0;
}

static int probe_child(const char *what);

int sandbox_child(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[0], "--decode-probe"))
        return probe_child(argv[1]);
    if (argc != 5)
        return 1;
    struct thumb_opts o = {.max_edge = (unsigned)atoi(argv[1]),
                           .max_pixels = strtoull(argv[2], NULL, 10), .webp = atoi(argv[3]),
                           .quality = atoi(argv[4]), .reduced_decode = 1};
    if (lock_down(o.max_pixels)) {
        fprintf(stderr, "sluice-thumbd: decoder: cannot enter the sandbox: %s\n", strerror(errno));
        return 1;   /* never decode outside it */
    }
    struct buf src = BUF_INIT(SIZE_MAX / 2);
    char chunk[65536];
    for (;;) {
        ssize_t r = read(0, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return 1;
        if (r == 0)
            break;
        if (buf_append(&src, chunk, (size_t)r))
            return 1;
    }
    unsigned char *out = NULL;
    struct reply rep = {0};
    size_t len = 0;
    rep.err = (uint32_t)thumb_make(src.data ? src.data : "", src.len, &o, &out, &len, &rep.info);
    rep.len = rep.err ? 0 : len;
    if (write_all(1, &rep, sizeof rep) || (rep.len && write_all(1, out, len)))
        return 1;
    return 0;   /* (no free: the process ends here) */
}

/* ---- the parent ---- */

/* spawns self with args (after argv[0]) as a sandbox child: stdin from *in, stdout to *res,
 * stderr kept, nothing else, no environment */
static int spawn_child(const char *self, char *const *args, pid_t *pid, int *to, int *from)
{
    int in[2] = {-1, -1}, res[2] = {-1, -1}, rc = -1;
    posix_spawn_file_actions_t fa;
    char *argv[8] = {(char *)self};
    char *envp[] = {NULL};   /* no credentials, no configuration */
    for (int i = 0; args[i] && i < 6; i++)
        argv[i + 1] = args[i];
    if (pipe2(in, O_CLOEXEC) || pipe2(res, O_CLOEXEC))
        goto out;
    if (posix_spawn_file_actions_init(&fa))
        goto out;
    if (!posix_spawn_file_actions_adddup2(&fa, in[0], 0) &&
        !posix_spawn_file_actions_adddup2(&fa, res[1], 1) &&
        !posix_spawn_file_actions_addclosefrom_np(&fa, 3) &&
        !posix_spawn(pid, self, &fa, NULL, argv, envp))
        rc = 0;
    posix_spawn_file_actions_destroy(&fa);
out:
    if (in[0] >= 0)
        close(in[0]);
    if (res[1] >= 0)
        close(res[1]);
    if (rc) {
        if (in[1] >= 0)
            close(in[1]);
        if (res[0] >= 0)
            close(res[0]);
    } else {
        *to = in[1];
        *from = res[0];
    }
    return rc;
}

static const char *const probes[] = {"env", "fd", "open", "socket", "exec", "big"};

/* the child of a probe: after the lock-down, try what a decoder must never manage; exit 0 if
 * it did (the sandbox is broken), else end some other way */
static int probe_child(const char *what)
{
    int leaked = getenv("AWS_SECRET_ACCESS_KEY") || getenv("PATH") || fcntl(3, F_GETFD) >= 0;
    if (lock_down(40000000))
        return 3;
    if (!strcmp(what, "env"))
        return leaked ? 0 : 4;
    if (!strcmp(what, "fd"))
        return write(3, "x", 1) == 1 ? 0 : 4;
    if (!strcmp(what, "open"))
        return open("/etc/hostname", O_RDONLY) >= 0 ? 0 : 4;
    if (!strcmp(what, "socket"))
        return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : 4;
    if (!strcmp(what, "exec")) {
        char *argv[] = {"/bin/true", NULL};
        execv("/bin/true", argv);
        return 4;
    }
    if (!strcmp(what, "big"))   /* RLIMIT_AS: far more than any image may take */
        return malloc(64ull << 30) != NULL ? 0 : 4;
    return 3;
}

int sandbox_selftest(const char *self)
{
    int bad = 0;
    int keep = open("/dev/null", O_WRONLY);   /* an fd the children must not inherit */
    setenv("AWS_SECRET_ACCESS_KEY", "must-not-reach-the-decoder", 1);
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        char *args[] = {"--decode-probe", (char *)probes[i], NULL};
        pid_t pid;
        int to, from, st = 0;
        if (spawn_child(self, args, &pid, &to, &from)) {
            printf("FAIL %s: cannot spawn the decoder\n", probes[i]);
            bad = 1;
            continue;
        }
        close(to);
        close(from);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        int held = !(WIFEXITED(st) && WEXITSTATUS(st) == 0) &&
                   !(WIFEXITED(st) && WEXITSTATUS(st) == 3);
        printf("%s %s: %s\n", held ? "ok  " : "FAIL", probes[i],
               WIFSIGNALED(st) ? strsignal(WTERMSIG(st))
               : WEXITSTATUS(st) == 0 ? "the sandbox let it through"
               : WEXITSTATUS(st) == 3 ? "could not enter the sandbox" : "refused");
        bad |= !held;
    }
    if (keep >= 0)
        close(keep);
    unsetenv("AWS_SECRET_ACCESS_KEY");
    return bad;
}

static void killed(int st, char *why, size_t why_len)
{
    if (WIFSIGNALED(st))
        snprintf(why, why_len, "the decoder was killed by %s%s", strsignal(WTERMSIG(st)),
                 WTERMSIG(st) == SIGSYS ? " (a forbidden syscall)"
                 : WTERMSIG(st) == SIGXCPU || WTERMSIG(st) == SIGKILL ? " (CPU limit)" : "");
    else
        snprintf(why, why_len, "the decoder failed (exit %d)", WEXITSTATUS(st));
}

enum sl_err sandbox_make(const char *self, const void *src, size_t n, const struct thumb_opts *o,
                         unsigned char **out, size_t *out_len, struct thumb_info *info,
                         char *why, size_t why_len)
{
    int to = -1, from = -1;
    pid_t pid = -1;
    struct buf got = BUF_INIT(OUT_MAX + sizeof(struct reply));
    enum sl_err e = SL_EIO;
    char a_edge[16], a_px[24], a_webp[4], a_q[8];
    *out = NULL;
    *out_len = 0;
    memset(info, 0, sizeof *info);
    snprintf(why, why_len, "the decoder could not be started");
    snprintf(a_edge, sizeof a_edge, "%u", o->max_edge);
    snprintf(a_px, sizeof a_px, "%llu", (unsigned long long)o->max_pixels);
    snprintf(a_webp, sizeof a_webp, "%d", o->webp ? 1 : 0);
    snprintf(a_q, sizeof a_q, "%d", o->quality);
    char *args[] = {"--decode", a_edge, a_px, a_webp, a_q, NULL};
    if (spawn_child(self, args, &pid, &to, &from)) {
        pid = -1;
        goto out;
    }
    /* the child reads everything before it writes: send, then read */
    write_all(to, src, n);   /* a child that died early: EPIPE (ignored), read finds out */
    close(to);
    to = -1;
    char chunk[65536];
    for (;;) {
        ssize_t r = read(from, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || buf_append(&got, chunk, (size_t)r))
            break;
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    pid = -1;
    struct reply rep;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || got.len < sizeof rep) {
        killed(st, why, why_len);
        e = SL_EBADREQ;   /* this image ends its decoder: it cannot be made, ever */
        goto out;
    }
    memcpy(&rep, got.data, sizeof rep);
    *info = rep.info;
    if (rep.err) {
        e = (enum sl_err)rep.err;
        snprintf(why, why_len, "%s", e == SL_ETOOBIG ? "too many pixels" : "cannot be decoded");
        goto out;
    }
    if (rep.len != got.len - sizeof rep || !(*out = malloc(rep.len ? rep.len : 1))) {
        snprintf(why, why_len, "the decoder's answer is malformed");
        e = SL_EBADREQ;
        goto out;
    }
    memcpy(*out, got.data + sizeof rep, rep.len);
    *out_len = rep.len;
    e = SL_OK;
out:
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    if (to >= 0)
        close(to);
    if (from >= 0)
        close(from);
    buf_free(&got);
    return e;
}
