#include "slots.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

struct slots {
    int n;
    char dir[];
};

static void slot_path(const struct slots *s, int i, char *out, size_t cap)
{
    snprintf(out, cap, "%s/slot.%d", s->dir, i);
}

/* a write lock on the whole file, owned by the open file description (not the process) */
static struct flock whole_file(void)
{
    return (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
}

enum sl_err slots_open(const char *dir, int n, struct slots **out)
{
    *out = NULL;
    if (n < 1 || !dir || !*dir || strlen(dir) > 3500)
        return SL_ECONFIG;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return SL_EIO;
    struct slots *s = malloc(sizeof *s + strlen(dir) + 1);
    if (!s)
        return SL_ENOMEM;
    s->n = n;
    strcpy(s->dir, dir);
    for (int i = 0; i < n; i++) {
        char p[4096];
        slot_path(s, i, p, sizeof p);
        int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            goto fail;
        close(fd);
    }
    *out = s;
    return SL_OK;
fail:
    free(s);
    return SL_EIO;
}

void slots_close(struct slots *s)
{
    free(s);
}

int slots_total(const struct slots *s)
{
    return s->n;
}

enum sl_err slots_take(struct slots *s, int *held)
{
    *held = -1;
    unsigned start;
    if (getrandom(&start, sizeof start, GRND_NONBLOCK) != sizeof start)
        start = (unsigned)getpid();
    /* start at a random slot so concurrent takers rarely collide on the same file */
    for (int k = 0; k < s->n; k++) {
        int i = (int)((start + (unsigned)k) % (unsigned)s->n);
        char p[4096];
        slot_path(s, i, p, sizeof p);
        int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            return SL_EIO;
        struct flock fl = whole_file();
        if (fcntl(fd, F_OFD_SETLK, &fl) == 0) {
            *held = fd;
            return SL_OK;
        }
        int err = errno;
        close(fd);
        if (err != EAGAIN && err != EACCES)
            return SL_EIO;
    }
    return SL_EBUSY;
}

void slots_release(int held)
{
    if (held >= 0)
        close(held);   /* closing the descriptor drops its lock */
}

int slots_in_use(const struct slots *s)
{
    int used = 0;
    for (int i = 0; i < s->n; i++) {
        char p[4096];
        slot_path(s, i, p, sizeof p);
        int fd = open(p, O_RDWR | O_CLOEXEC);
        if (fd < 0)
            continue;
        /* asks whether the lock could be taken without taking it: a probe that took free
         * slots for a moment made concurrent slots_take() calls answer busy */
        struct flock fl = whole_file();
        if (fcntl(fd, F_OFD_GETLK, &fl) != 0 || fl.l_type != F_UNLCK)
            used++;
        close(fd);
    }
    return used;
}
