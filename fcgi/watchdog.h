/* watchdog: the minimum rate for request bodies. A body read (FCGX_GetStr of n bytes) blocks
 * until all n arrive, and SO_RCVTIMEO only fires when nothing arrives at all, so a client
 * sending one byte every few seconds would hold its thread (and an upload its slot) forever.
 * Every request registers here; while one is blocked reading, a watchdog thread checks once a
 * second that the read has not taken longer than max(window, n / min_rate), and if it has
 * shuts the connection's read side so the read returns, marked as too slow (408). */
#ifndef SLUICE_WATCHDOG_H
#define SLUICE_WATCHDOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct watch {
    struct watch *prev, *next;   /* the watchdog's */
    int fd;                      /* the FastCGI connection */
    _Atomic int64_t since_ms;    /* monotonic start of the read in progress; 0: not reading */
    _Atomic uint64_t want;       /* bytes that read waits for */
    _Atomic int64_t deadline_ms; /* monotonic: the whole body by then (0: none) */
    atomic_int fired;            /* 1: the read was cut as too slow */
};

struct watchdog {
    pthread_mutex_t mu;
    struct watch *head;
    long window_ms;              /* every read may take at least this long */
    uint64_t min_rate;           /* bytes/s; 0 disables the watchdog */
    atomic_int stop;
    pthread_t thread;
    int running;
};

#define WATCHDOG_INIT {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, 0, 0, 0}

/* Starts the thread (nothing when min_rate is 0). */
int watchdog_start(struct watchdog *d, long window_s, uint64_t min_rate);
void watchdog_stop(struct watchdog *d);
void watchdog_add(struct watchdog *d, struct watch *w, int fd);
void watchdog_remove(struct watchdog *d, struct watch *w);
/* The whole body must be in by now + ms (small bodies: a few seconds). */
void watch_deadline(struct watch *w, long ms);
/* Around one blocking read of n bytes. */
void watch_reading(struct watch *w, size_t n);
void watch_done(struct watch *w);
int64_t watchdog_now_ms(void);

#endif
