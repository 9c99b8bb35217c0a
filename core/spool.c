#include "spool.h"

#include <ctype.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* every snprintf into a path here checks its result; GCC cannot see that */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#define JOB_MAX 1024          /* a job file is a few lines; anything bigger is not ours */

struct spool {
    char dir[PATH_MAX];
    char worker[128];
    int lock_fd;
};

int spool_valid_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > SPOOL_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)id[i]) && id[i] != '-' && id[i] != '_')
            return 0;
    return 1;
}

static int path(char *out, const struct spool *s, const char *a, const char *b, const char *c)
{
    int n = snprintf(out, PATH_MAX, "%s/%s%s%s%s%s", s->dir, a, b ? "/" : "", b ? b : "",
                     c ? "/" : "", c ? c : "");
    return n > 0 && n < PATH_MAX ? 0 : -1;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

static enum sl_err mkdirs(struct spool *s)
{
    static const char *const sub[] = {"", "tmp", "new", "cur", "failed", "locks"};
    for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
        char p[PATH_MAX];
        if (path(p, s, sub[i], NULL, NULL) || (mkdir(p, 0700) != 0 && errno != EEXIST))
            return SL_EIO;
    }
    return SL_OK;
}

enum sl_err spool_open(const char *dir, const char *worker, struct spool **out)
{
    *out = NULL;
    if (!dir || strlen(dir) >= PATH_MAX - 256 || !spool_valid_id(worker))
        return SL_ECONFIG;
    struct spool *s = calloc(1, sizeof *s);
    if (!s)
        return SL_ENOMEM;
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    snprintf(s->worker, sizeof s->worker, "%s", worker);
    s->lock_fd = -1;
    char p[PATH_MAX], lock[PATH_MAX + 8];
    enum sl_err e;
    if ((e = mkdirs(s)))
        goto out;
    if (path(p, s, "cur", worker, NULL) || (mkdir(p, 0700) != 0 && errno != EEXIST)) {
        e = SL_EIO;
        goto out;
    }
    snprintf(lock, sizeof lock, "%s.lock", p);
    s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        e = SL_EIO;
        goto out;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        e = errno == EWOULDBLOCK ? SL_EINUSE : SL_EIO;   /* another live worker has the name */
        goto out;
    }
    *out = s;
    s = NULL;
out:
    spool_close(s);
    return e;
}

void spool_close(struct spool *s)
{
    if (!s)
        return;
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s);
}

enum sl_err spool_job_format(const struct spool_job *job, struct buf *out)
{
    buf_reset(out);
    char reason[SPOOL_REASON_MAX + 1];
    size_t o = 0;
    for (const char *r = job->reason; *r && o < SPOOL_REASON_MAX; r++)
        reason[o++] = (*r == '\n' || *r == '\r') ? ' ' : *r;   /* one line, always */
    reason[o] = '\0';
    return buf_printf(out, "id=%s\nattempts=%d\nnot_before=%lld\nreason=%s\n", job->id,
                      job->attempts, (long long)job->not_before, reason);
}

enum sl_err spool_job_parse(const char *text, size_t n, struct spool_job *job)
{
    memset(job, 0, sizeof *job);
    if (n > JOB_MAX || memchr(text, '\0', n))
        return SL_EBADREQ;
    size_t i = 0;
    while (i < n) {
        const char *line = text + i, *nl = memchr(line, '\n', n - i);
        size_t len = nl ? (size_t)(nl - line) : n - i;
        i += len + (nl != NULL);
        if (len == 0)
            continue;
        const char *eq = memchr(line, '=', len);
        if (!eq)
            return SL_EBADREQ;
        size_t kl = (size_t)(eq - line), vl = len - kl - 1;
        const char *v = eq + 1;
        char num[32];
        if (kl == 2 && !memcmp(line, "id", 2)) {
            if (vl > SPOOL_ID_MAX)
                return SL_EBADREQ;
            memcpy(job->id, v, vl);
            job->id[vl] = '\0';
        } else if (kl == 6 && !memcmp(line, "reason", 6)) {
            if (vl > SPOOL_REASON_MAX)
                vl = SPOOL_REASON_MAX;
            memcpy(job->reason, v, vl);
            job->reason[vl] = '\0';
        } else if ((kl == 8 && !memcmp(line, "attempts", 8)) ||
                   (kl == 10 && !memcmp(line, "not_before", 10))) {
            if (vl == 0 || vl >= sizeof num)
                return SL_EBADREQ;
            memcpy(num, v, vl);
            num[vl] = '\0';
            if (strspn(num, "0123456789") != vl)
                return SL_EBADREQ;
            long long x = strtoll(num, NULL, 10);
            if (kl == 8) {
                if (x > 1000)
                    return SL_EBADREQ;
                job->attempts = (int)x;
            } else {
                job->not_before = (time_t)x;
            }
        } else {
            return SL_EBADREQ;   /* unknown keys: not a job file we wrote */
        }
    }
    return spool_valid_id(job->id) ? SL_OK : SL_EBADREQ;
}

/* write job into tmp/, fsync, rename to final, fsync final's folder */
static enum sl_err write_job(struct spool *s, const struct spool_job *job, const char *final_dir)
{
    struct buf text = BUF_INIT(JOB_MAX);
    char tmp[PATH_MAX], dst[PATH_MAX], name[128];
    unsigned r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
        r = (unsigned)rand();
    snprintf(name, sizeof name, "%s.%d.%08x", job->id, getpid(), r);
    int fd = -1, made = 0;
    enum sl_err e;
    if ((e = spool_job_format(job, &text)))
        goto out;
    if (path(tmp, s, "tmp", name, NULL) || path(dst, s, final_dir, job->id, NULL)) {
        e = SL_EIO;
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    made = fd >= 0;
    if (fd < 0 || write(fd, text.data, text.len) != (ssize_t)text.len || fsync(fd) != 0) {
        e = SL_EIO;
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, dst) != 0) {
        e = SL_EIO;
        goto out;
    }
    made = 0;
    char d[PATH_MAX];
    path(d, s, final_dir, NULL, NULL);
    fsync_dir(d);
out:
    if (fd >= 0)
        close(fd);
    if (made)
        unlink(tmp);
    buf_free(&text);
    return e;
}

enum sl_err spool_submit(struct spool *s, const char *id)
{
    if (!spool_valid_id(id))
        return SL_EBADREQ;
    struct spool_job job;
    memset(&job, 0, sizeof job);
    snprintf(job.id, sizeof job.id, "%s", id);
    return write_job(s, &job, "new");
}

static enum sl_err read_job(const char *file, struct spool_job *job)
{
    char text[JOB_MAX + 1];
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? SL_ENOTFOUND : SL_EIO;
    ssize_t n = read(fd, text, sizeof text);
    close(fd);
    if (n < 0)
        return SL_EIO;
    return spool_job_parse(text, (size_t)n, job);
}

/* move new/<id> to cur/<worker>/<id>; SL_ENOTFOUND if someone else was first */
static enum sl_err take(struct spool *s, const char *id, struct spool_job *job)
{
    char src[PATH_MAX], dst[PATH_MAX];
    if (path(src, s, "new", id, NULL) || path(dst, s, "cur", s->worker, id))
        return SL_EIO;
    if (rename(src, dst) != 0)
        return errno == ENOENT ? SL_ENOTFOUND : SL_EIO;
    enum sl_err e = read_job(dst, job);
    if (e == SL_EBADREQ) {
        /* not a job we can read: set it aside rather than retry it forever */
        char bad[PATH_MAX];
        if (!path(bad, s, "failed", id, NULL))
            rename(dst, bad);
    }
    if (e)
        return e;
    return strcmp(job->id, id) == 0 ? SL_OK : SL_EBADREQ;
}

enum sl_err spool_claim(struct spool *s, time_t now, struct spool_job *job)
{
    char dir[PATH_MAX];
    if (path(dir, s, "new", NULL, NULL))
        return SL_EIO;
    DIR *d = opendir(dir);
    if (!d)
        return SL_EIO;
    enum sl_err e = SL_ENOTFOUND;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!spool_valid_id(de->d_name))
            continue;
        char f[PATH_MAX];
        struct spool_job peek;
        if (path(f, s, "new", de->d_name, NULL) || read_job(f, &peek) != SL_OK ||
            peek.not_before > now)
            continue;
        e = take(s, de->d_name, job);
        if (e != SL_ENOTFOUND && e != SL_EBADREQ)
            break;   /* claimed, or a real error */
        e = SL_ENOTFOUND;
    }
    closedir(d);
    return e;
}

enum sl_err spool_claim_id(struct spool *s, const char *id, struct spool_job *job)
{
    if (!spool_valid_id(id))
        return SL_EBADREQ;
    return take(s, id, job);
}

enum sl_err spool_done(struct spool *s, const struct spool_job *job)
{
    char f[PATH_MAX];
    if (path(f, s, "cur", s->worker, job->id))
        return SL_EIO;
    if (unlink(f) != 0 && errno != ENOENT)
        return SL_EIO;
    return SL_OK;
}

enum sl_err spool_fail(struct spool *s, struct spool_job *job, const char *reason, time_t now,
                       int permanent)
{
    if (permanent)
        job->attempts = SPOOL_MAX_ATTEMPTS - 1;
    job->attempts++;
    snprintf(job->reason, sizeof job->reason, "%s", reason ? reason : "");
    /* backoff: 10 s, 20 s, 40 s, ... capped at an hour */
    long delay = 10L << (job->attempts < 9 ? job->attempts - 1 : 8);
    job->not_before = now + (delay > 3600 ? 3600 : delay);
    enum sl_err e = write_job(s, job, job->attempts >= SPOOL_MAX_ATTEMPTS ? "failed" : "new");
    if (e)
        return e;
    return spool_done(s, job);   /* the claimed copy goes once the new one is in place */
}

enum sl_err spool_requeue_dead(struct spool *s, int *requeued)
{
    *requeued = 0;
    char cur[PATH_MAX];
    if (path(cur, s, "cur", NULL, NULL))
        return SL_EIO;
    DIR *d = opendir(cur);
    if (!d)
        return SL_EIO;
    enum sl_err e = SL_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!spool_valid_id(de->d_name) || !strcmp(de->d_name, s->worker))
            continue;
        char wdir[PATH_MAX], lock[PATH_MAX + 8];
        if (path(wdir, s, "cur", de->d_name, NULL))
            continue;
        snprintf(lock, sizeof lock, "%s.lock", wdir);
        int fd = open(lock, O_RDWR | O_CLOEXEC);
        if (fd < 0 && errno != ENOENT)
            continue;
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
            close(fd);      /* its worker is alive */
            continue;
        }
        /* dead: hand its jobs back (holding its lock, so no one else does it at once) */
        DIR *jd = opendir(wdir);
        struct dirent *je;
        while (jd && (je = readdir(jd)) != NULL) {
            if (!spool_valid_id(je->d_name))
                continue;
            char f[PATH_MAX];
            struct spool_job job;
            if (path(f, s, "cur", de->d_name, je->d_name))
                continue;
            if (read_job(f, &job) != SL_OK) {
                char bad[PATH_MAX];
                if (!path(bad, s, "failed", je->d_name, NULL))
                    rename(f, bad);
                continue;
            }
            /* a worker may have died of this very job: count it, so a poison job ends */
            job.attempts++;
            snprintf(job.reason, sizeof job.reason, "its worker %s died", de->d_name);
            if (write_job(s, &job, job.attempts >= SPOOL_MAX_ATTEMPTS ? "failed" : "new") ==
                SL_OK) {
                unlink(f);
                (*requeued)++;
            } else {
                e = SL_EIO;
            }
        }
        if (jd)
            closedir(jd);
        if (!e) {
            rmdir(wdir);
            unlink(lock);
        }
        if (fd >= 0)
            close(fd);
    }
    closedir(d);
    return e;
}

#define LOCK_SLOTS 256   /* hashed: a bounded number of lock files, rare false sharing */

enum sl_err spool_lock_id(struct spool *s, const char *id, int timeout_ms, int *fd)
{
    *fd = -1;
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    char name[16], f[PATH_MAX];
    snprintf(name, sizeof name, "%03u", h % LOCK_SLOTS);
    if (path(f, s, "locks", name, NULL))
        return SL_EIO;
    int l = open(f, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (l < 0)
        return SL_EIO;
    for (int waited = 0;; waited += 20) {
        if (flock(l, LOCK_EX | LOCK_NB) == 0) {
            *fd = l;
            return SL_OK;
        }
        if (errno != EWOULDBLOCK || waited >= timeout_ms) {
            close(l);
            return errno == EWOULDBLOCK ? SL_EBUSY : SL_EIO;
        }
        usleep(20000);
    }
}

void spool_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}

static int count_dir(const char *dir, int dirs_too)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (dirs_too && de->d_type == DT_DIR) {
            char sub[PATH_MAX];
            if (snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name) < (int)sizeof sub)
                n += count_dir(sub, 0);
        } else if (!dirs_too && de->d_type != DT_DIR) {
            n++;
        }
    }
    closedir(d);
    return n;
}

enum sl_err spool_count(struct spool *s, struct spool_counts *c)
{
    char p[PATH_MAX];
    path(p, s, "tmp", NULL, NULL);
    c->tmp = count_dir(p, 0);
    path(p, s, "new", NULL, NULL);
    c->pending = count_dir(p, 0);
    path(p, s, "cur", NULL, NULL);
    c->claimed = count_dir(p, 1);
    path(p, s, "failed", NULL, NULL);
    c->failed = count_dir(p, 0);
    return SL_OK;
}
