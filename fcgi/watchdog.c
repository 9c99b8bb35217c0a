#include "watchdog.h"

#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int64_t watchdog_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void watch_reading(struct watch *w, size_t n)
{
    atomic_store(&w->want, (uint64_t)n);
    atomic_store(&w->since_ms, watchdog_now_ms());
}

void watch_deadline(struct watch *w, long ms)
{
    atomic_store(&w->deadline_ms, watchdog_now_ms() + ms);
}

void watch_done(struct watch *w)
{
    atomic_store(&w->since_ms, 0);
}

void watchdog_add(struct watchdog *d, struct watch *w, int fd)
{
    w->fd = fd;
    atomic_store(&w->since_ms, 0);
    atomic_store(&w->deadline_ms, 0);
    atomic_store(&w->fired, 0);
    pthread_mutex_lock(&d->mu);
    w->prev = NULL;
    w->next = d->head;
    if (d->head)
        d->head->prev = w;
    d->head = w;
    pthread_mutex_unlock(&d->mu);
}

void watchdog_remove(struct watchdog *d, struct watch *w)
{
    pthread_mutex_lock(&d->mu);
    if (w->prev || d->head == w) {
        if (w->prev)
            w->prev->next = w->next;
        else
            d->head = w->next;
        if (w->next)
            w->next->prev = w->prev;
        w->prev = w->next = NULL;
    }
    pthread_mutex_unlock(&d->mu);
}

static void *run(void *arg)
{
    struct watchdog *d = arg;
    while (!atomic_load(&d->stop)) {
        struct timespec tick = {0, 250 * 1000000};
        nanosleep(&tick, NULL);
        int64_t now = watchdog_now_ms();
        pthread_mutex_lock(&d->mu);
        for (struct watch *w = d->head; w; w = w->next) {
            int64_t since = atomic_load(&w->since_ms);
            if (!since || atomic_load(&w->fired))
                continue;
            int64_t limit = (int64_t)(atomic_load(&w->want) * 1000 / d->min_rate);
            if (limit < d->window_ms)
                limit = d->window_ms;
            int64_t deadline = atomic_load(&w->deadline_ms);
            if (now - since > limit || (deadline && now > deadline)) {
                atomic_store(&w->fired, 1);
                shutdown(w->fd, SHUT_RD);   /* the read returns; the reply can still go out */
            }
        }
        pthread_mutex_unlock(&d->mu);
    }
    return NULL;
}

int watchdog_start(struct watchdog *d, long window_s, uint64_t min_rate)
{
    d->window_ms = window_s * 1000;
    d->min_rate = min_rate ? min_rate : 1;   /* 0: only the small bodies' deadline applies */
    if (!min_rate)
        d->window_ms = INT64_MAX / 2;
    if (pthread_create(&d->thread, NULL, run, d))
        return -1;
    d->running = 1;
    return 0;
}

void watchdog_stop(struct watchdog *d)
{
    atomic_store(&d->stop, 1);
    if (d->running)
        pthread_join(d->thread, NULL);
    d->running = 0;
}
