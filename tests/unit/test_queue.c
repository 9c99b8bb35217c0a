/* The bounded queue: data integrity across wrap-around, memory bounded by the capacity under a
 * fast producer and a slow consumer, abort from either side waking the other, close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned char pattern(uint64_t i)
{
    return (unsigned char)((i * 2654435761u) >> 13);
}

struct producer {
    struct queue *q;
    uint64_t total;
    size_t chunk;
    enum sl_err result;
    double returned_at;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    unsigned char *b = malloc(p->chunk);
    uint64_t off = 0;
    p->result = SL_OK;
    while (off < p->total && !p->result) {
        size_t n = p->total - off < p->chunk ? (size_t)(p->total - off) : p->chunk;
        for (size_t i = 0; i < n; i++)
            b[i] = pattern(off + i);
        p->result = queue_push(p->q, b, n);
        off += n;
    }
    if (!p->result)
        queue_close(p->q);
    p->returned_at = now_s();
    free(b);
    return NULL;
}

/* resident memory of this process, in bytes */
static size_t rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (size_t)sysconf(_SC_PAGESIZE);
}

static void test_fast_producer_slow_consumer(void **state)
{
    (void)state;
    const size_t cap = 4u << 20;
    const uint64_t total = 128u << 20;   /* 32 x the capacity */
    size_t base = rss();
    struct queue *q;
    assert_int_equal(queue_new(cap, &q), SL_OK);
    struct producer p = {q, total, 48 * 1024, SL_EINTERNAL, 0};
    pthread_t t;
    pthread_create(&t, NULL, produce, &p);

    unsigned char b[30000];
    uint64_t seen = 0;
    size_t got, peak_heap = 0, peak_used = 0;
    int pops = 0;
    for (;;) {
        assert_int_equal(queue_pop(q, b, sizeof b, &got), SL_OK);
        if (got == 0)
            break;
        for (size_t i = 0; i < got; i++)
            if (b[i] != pattern(seen + i))
                fail_msg("byte %llu corrupted", (unsigned long long)(seen + i));
        seen += got;
        if (++pops % 64 == 0) {
            usleep(1000);                /* the slow consumer */
            struct queue_stats st;
            queue_get_stats(q, &st);
            if (st.used > peak_used)
                peak_used = st.used;
            size_t h = rss();
            if (h > peak_heap)
                peak_heap = h;
        }
    }
    pthread_join(t, NULL);
    assert_int_equal(p.result, SL_OK);
    assert_int_equal(seen, total);

    struct queue_stats st;
    queue_get_stats(q, &st);
    assert_int_equal(st.bytes_in, total);
    assert_int_equal(st.bytes_out, total);
    assert_true(st.high_water <= cap);
    assert_int_equal(st.high_water, cap);      /* it did fill up: the producer was held back */
    assert_true(st.producer_waits > 0);
    assert_true(peak_used <= cap);
    /* resident memory (the ring, the producer's chunk, its thread's stack and malloc arena)
     * never grew with the 128 MiB streamed: bounded by the capacity plus a small constant.
     * Under valgrind the process's RSS is valgrind's, so only the queue's own numbers count. */
    const char *pre = getenv("LD_PRELOAD");
    if (!(pre && strstr(pre, "vgpreload")) && peak_heap >= base + cap + (2u << 20))
        fail_msg("rss grew by %zu bytes (capacity %zu)", peak_heap - base, cap);
    queue_free(q);
}

struct aborter {
    struct queue *q;
    enum sl_err why;
    useconds_t delay;
};

static void *abort_later(void *arg)
{
    struct aborter *a = arg;
    usleep(a->delay);
    queue_abort(a->q, a->why);
    return NULL;
}

static void test_consumer_abort_wakes_producer(void **state)
{
    (void)state;
    struct queue *q;
    assert_int_equal(queue_new(4096, &q), SL_OK);
    struct producer p = {q, 1 << 20, 8192, SL_OK, 0};
    pthread_t t, a;
    pthread_create(&t, NULL, produce, &p);
    /* wait for the producer to block on the full queue: push counts the wait under the
     * queue's lock just before it sleeps on it, so once the count shows, the producer is
     * asleep in push (no fixed sleep: under load 20 ms were not always enough to fill it) */
    struct queue_stats st;
    double deadline = now_s() + 10;
    for (;;) {
        queue_get_stats(q, &st);
        if (st.producer_waits > 0 || now_s() > deadline)
            break;
        sched_yield();
    }
    assert_int_equal(st.producer_waits, 1);
    assert_int_equal(st.used, 4096);           /* full; the producer is blocked */
    struct aborter ab = {q, SL_ES3_TIMEOUT, 0};
    double t0 = now_s();
    pthread_create(&a, NULL, abort_later, &ab);
    pthread_join(t, NULL);
    pthread_join(a, NULL);
    assert_int_equal(p.result, SL_ES3_TIMEOUT);
    assert_true(p.returned_at - t0 < 1.0);
    /* later calls keep failing with the first reason */
    assert_int_equal(queue_push(q, "x", 1), SL_ES3_TIMEOUT);
    queue_abort(q, SL_ECLIENT_GONE);
    assert_int_equal(queue_error(q), SL_ES3_TIMEOUT);
    queue_free(q);
}

static void test_producer_abort_wakes_consumer(void **state)
{
    (void)state;
    struct queue *q;
    assert_int_equal(queue_new(1 << 20, &q), SL_OK);
    assert_int_equal(queue_push(q, "abc", 3), SL_OK);
    struct aborter ab = {q, SL_ECLIENT_GONE, 50000};
    pthread_t a;
    double t0 = now_s();
    pthread_create(&a, NULL, abort_later, &ab);
    size_t avail = 99;
    /* waits for a whole part that never comes */
    assert_int_equal(queue_wait(q, 5 << 20, &avail), SL_ECLIENT_GONE);
    double waited = now_s() - t0;
    pthread_join(a, NULL);
    assert_int_equal(avail, 0);
    assert_true(waited >= 0.04 && waited < 1.0);
    size_t got;
    char b[8];
    assert_int_equal(queue_pop(q, b, sizeof b, &got), SL_ECLIENT_GONE);
    queue_free(q);
}

static void test_close_drains_then_eof(void **state)
{
    (void)state;
    struct queue *q;
    assert_int_equal(queue_new(16, &q), SL_OK);
    assert_int_equal(queue_push(q, "hello", 5), SL_OK);
    queue_close(q);
    assert_int_equal(queue_push(q, "x", 1), SL_EINTERNAL);
    size_t avail;
    /* want more than will ever come: returns at close with what there is */
    assert_int_equal(queue_wait(q, 1000, &avail), SL_OK);
    assert_int_equal(avail, 5);
    char b[16];
    size_t got;
    assert_int_equal(queue_pop(q, b, sizeof b, &got), SL_OK);
    assert_int_equal(got, 5);
    assert_memory_equal(b, "hello", 5);
    assert_int_equal(queue_pop(q, b, sizeof b, &got), SL_OK);
    assert_int_equal(got, 0);
    assert_true(queue_closed(q));
    queue_free(q);
}

/* a part is read twice (a retry) across the wrap-around before it is consumed */
static void test_peek_is_repeatable_across_wrap(void **state)
{
    (void)state;
    struct queue *q;
    assert_int_equal(queue_new(10, &q), SL_OK);
    assert_int_equal(queue_push(q, "0123456", 7), SL_OK);
    queue_consume(q, 5);                      /* head at 5, "56" queued */
    assert_int_equal(queue_push(q, "789ABCDE", 8), SL_OK); /* wraps */
    char a[16] = {0}, b[16] = {0};
    assert_int_equal(queue_peek(q, 0, a, 16), 10);
    assert_memory_equal(a, "56789ABCDE", 10);
    assert_int_equal(queue_peek(q, 3, b, 4), 4);
    assert_memory_equal(b, "89AB", 4);
    assert_int_equal(queue_peek(q, 0, b, 16), 10);  /* again: nothing was consumed */
    assert_memory_equal(b, "56789ABCDE", 10);
    assert_int_equal(queue_peek(q, 10, b, 4), 0);
    queue_consume(q, 99);                     /* more than queued: clamped */
    struct queue_stats st;
    queue_get_stats(q, &st);
    assert_int_equal(st.used, 0);
    assert_int_equal(st.bytes_out, 15);
    queue_free(q);
}

/* several consumers address bytes by stream position; consumed pages go back to the kernel */
static void test_positions_and_release(void **state)
{
    (void)state;
    const size_t cap = 16u << 20, n = 12u << 20;
    struct queue *q;
    assert_int_equal(queue_new(cap, &q), SL_OK);
    unsigned char *buf = malloc(n);
    for (size_t i = 0; i < n; i++)
        buf[i] = pattern(i);
    size_t before = rss();
    assert_int_equal(queue_push(q, buf, n), SL_OK);
    size_t full = rss();
    assert_true(full >= before + n - (1u << 20));
    /* a slow upload (under 32 MiB/s so far) hands consumed pages back */
    struct timespec half = {0, 500000000};
    nanosleep(&half, NULL);
    uint64_t tail;
    assert_int_equal(queue_wait_until(q, 5u << 20, &tail), SL_OK);
    assert_int_equal(tail, n);
    unsigned char b[16];
    assert_int_equal(queue_peek_at(q, 10u << 20, b, sizeof b), sizeof b);
    assert_memory_equal(b, buf + (10u << 20), sizeof b);
    queue_consume(q, 8u << 20);
    assert_int_equal(queue_peek_at(q, 1000, b, sizeof b), 0);   /* consumed: gone */
    assert_int_equal(queue_peek_at(q, 9u << 20, b, sizeof b), sizeof b);
    assert_memory_equal(b, buf + (9u << 20), sizeof b);
    size_t after = rss();
    if (after + (7u << 20) > full)
        fail_msg("consuming 8 MiB returned %zu bytes to the kernel", full - after);
    queue_close(q);
    assert_int_equal(queue_wait_until(q, n + 1, &tail), SL_OK);   /* closed: returns */
    assert_int_equal(tail, n);
    free(buf);
    queue_free(q);
}

static void test_bad_capacity(void **state)
{
    (void)state;
    struct queue *q = (struct queue *)1;
    assert_int_equal(queue_new(0, &q), SL_EINTERNAL);
    assert_null(q);
    queue_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_producer_slow_consumer),
        cmocka_unit_test(test_consumer_abort_wakes_producer),
        cmocka_unit_test(test_producer_abort_wakes_consumer),
        cmocka_unit_test(test_close_drains_then_eof),
        cmocka_unit_test(test_peek_is_repeatable_across_wrap),
        cmocka_unit_test(test_positions_and_release),
        cmocka_unit_test(test_bad_capacity),
    };
    return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
