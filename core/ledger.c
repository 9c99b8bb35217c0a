#include "ledger.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct ledger {
    pthread_mutex_t mu;   /* flock is per open file: it does not keep our own threads apart */
    int lockfd;
    int dirfd;
};

enum sl_err ledger_open(const char *dir, struct ledger **out)
{
    *out = NULL;
    if (!dir || !*dir)
        return SL_ECONFIG;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return SL_EIO;
    struct ledger *l = calloc(1, sizeof *l);
    if (!l)
        return SL_ENOMEM;
    l->lockfd = l->dirfd = -1;
    pthread_mutex_init(&l->mu, NULL);
    if ((l->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        (l->lockfd = openat(l->dirfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
        ledger_close(l);
        return SL_EIO;
    }
    *out = l;
    return SL_OK;
}

void ledger_close(struct ledger *l)
{
    if (!l)
        return;
    if (l->lockfd >= 0)
        close(l->lockfd);
    if (l->dirfd >= 0)
        close(l->dirfd);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* a file-name part: 1..127 printable bytes, no '.', no '/' */
static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 127)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == '.' || s[i] == '/' || s[i] == 0x7f)
            return 0;
    return 1;
}

static void lock(struct ledger *l)
{
    pthread_mutex_lock(&l->mu);
    while (flock(l->lockfd, LOCK_EX) != 0 && errno == EINTR)
        ;
}

static void unlock(struct ledger *l)
{
    flock(l->lockfd, LOCK_UN);
    pthread_mutex_unlock(&l->mu);
}

/* live entries of group (NULL: all) and in all; expired ones are removed. Under the lock. */
static void count(struct ledger *l, const char *group, int *in_group, int *all)
{
    *in_group = *all = 0;
    int fd = dup(l->dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    rewinddir(d);
    time_t now = time(NULL);
    size_t glen = group ? strlen(group) : 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *dot = strchr(de->d_name, '.');
        if (!dot || dot == de->d_name)
            continue;                     /* ".", "..", ".lock" */
        struct stat st;
        if (fstatat(l->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (st.st_mtime <= now) {
            unlinkat(l->dirfd, de->d_name, 0);
            continue;
        }
        (*all)++;
        if (!group || ((size_t)(dot - de->d_name) == glen && !memcmp(de->d_name, group, glen)))
            (*in_group)++;
    }
    closedir(d);
}

static int entry_name(char *out, size_t cap, const char *group, const char *id)
{
    if (!name_ok(group) || !name_ok(id))
        return -1;
    int n = snprintf(out, cap, "%s.%s", group, id);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

enum sl_err ledger_add(struct ledger *l, const char *group, const char *id, time_t expires,
                       int group_cap, int total_cap)
{
    char name[300];
    if (entry_name(name, sizeof name, group, id))
        return SL_EBADREQ;
    enum sl_err e = SL_OK;
    lock(l);
    int in_group, all;
    count(l, group, &in_group, &all);
    struct stat st;
    int renew = fstatat(l->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (!renew && in_group >= group_cap) {
        e = SL_ELIMIT;
        goto out;
    }
    if (!renew && all >= total_cap) {
        e = SL_EBUSY;
        goto out;
    }
    int fd = openat(l->dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        e = SL_EIO;
        goto out;
    }
    struct timespec ts[2] = {{.tv_sec = expires}, {.tv_sec = expires}};
    if (futimens(fd, ts) != 0)
        e = SL_EIO;
    close(fd);
    if (e)
        unlinkat(l->dirfd, name, 0);
out:
    unlock(l);
    return e;
}

void ledger_remove(struct ledger *l, const char *group, const char *id)
{
    char name[300];
    if (!l || entry_name(name, sizeof name, group, id))
        return;
    unlinkat(l->dirfd, name, 0);
}

int ledger_count(struct ledger *l, const char *group)
{
    int in_group, all;
    lock(l);
    count(l, group, &in_group, &all);
    unlock(l);
    return group ? in_group : all;
}
