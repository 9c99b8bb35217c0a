/* The live pipe (queue -> S3) against a real S3 server: single PUTs and multipart, known and
 * unknown sizes, bodies that end early, run long or abort, and S3 refusing us mid-stream —
 * after each failure nothing is left in S3 and the producer was woken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "pipe.h"
#include "sigv4.h"

static struct sluice_config cfg;
static struct s3_client *cl;
static char prefix[64];

struct producer {
    struct queue *q;
    uint64_t total;          /* bytes to push */
    uint64_t abort_at;       /* abort with SL_ECLIENT_GONE after this many (UINT64_MAX: never) */
    enum sl_err result;
    char sha[65];
};

static void *produce(void *arg)
{
    struct producer *pr = arg;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    unsigned char b[65536];
    uint64_t off = 0, x = pr->total * 7 + 1;
    pr->result = SL_OK;
    while (off < pr->total) {
        size_t n = pr->total - off < sizeof b ? (size_t)(pr->total - off) : sizeof b;
        if (off + n > pr->abort_at)
            n = (size_t)(pr->abort_at - off);
        for (size_t i = 0; i < n; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            b[i] = (unsigned char)(x >> 56);
        }
        EVP_DigestUpdate(md, b, n);
        if ((pr->result = queue_push(pr->q, b, n)))
            break;
        off += n;
        if (off >= pr->abort_at) {
            queue_abort(pr->q, SL_ECLIENT_GONE);
            pr->result = SL_ECLIENT_GONE;
            break;
        }
    }
    if (!pr->result)
        queue_close(pr->q);
    unsigned char d[32];
    unsigned int l;
    EVP_DigestFinal_ex(md, d, &l);
    EVP_MD_CTX_free(md);
    sigv4_hex(d, 32, pr->sha);
    return NULL;
}

struct sink {
    EVP_MD_CTX *md;
    uint64_t n;
};

static enum sl_err sink_write(void *ud, const void *p, size_t n)
{
    struct sink *s = ud;
    EVP_DigestUpdate(s->md, p, n);
    s->n += n;
    return SL_OK;
}

static void assert_object(const char *key, uint64_t size, const char *sha)
{
    struct sink s = {EVP_MD_CTX_new(), 0};
    EVP_DigestInit_ex(s.md, EVP_sha256(), NULL);
    struct s3_result r = {0};
    assert_int_equal(s3_get_object(cl, key, NULL, sink_write, &s, &r), SL_OK);
    unsigned char d[32];
    unsigned int l;
    char hex[65];
    EVP_DigestFinal_ex(s.md, d, &l);
    EVP_MD_CTX_free(s.md);
    sigv4_hex(d, 32, hex);
    assert_int_equal(s.n, size);
    assert_string_equal(hex, sha);
    s3_result_free(&r);
}

static void assert_nothing_left(void)
{
    struct s3_result r = {0};
    struct s3_object *o;
    struct s3_upload *u;
    size_t n;
    assert_int_equal(s3_list_objects(cl, prefix, &o, &n, &r), SL_OK);
    s3_objects_free(o, n);
    assert_int_equal(n, 0);
    assert_int_equal(s3_list_multipart_uploads(cl, prefix, &u, &n, &r), SL_OK);
    s3_uploads_free(u, n);
    assert_int_equal(n, 0);
    s3_result_free(&r);
}

static int parallel;   /* parts in flight for run_pipe (0: the default, one) */

struct run {
    enum sl_err result;
    struct pipe_stats st;
    struct queue_stats qs;
    struct producer pr;
};

/* push total bytes (announcing `announced`) through a pipe of the given cap and part size */
static void run_pipe(struct s3_client *c, const char *name, uint64_t total, uint64_t announced,
                     uint64_t abort_at, size_t cap, uint64_t part, struct run *out)
{
    char key[256];
    snprintf(key, sizeof key, "%s%s", prefix, name);
    struct queue *q;
    assert_int_equal(queue_new(cap, &q), SL_OK);
    struct pipe_opts o = {.key = key, .size = announced, .part_size = part, .parallel = parallel};
    struct pipe *p = NULL;
    memset(out, 0, sizeof *out);
    out->pr = (struct producer){.q = q, .total = total, .abort_at = abort_at};
    out->result = pipe_start(c, q, &o, &p);
    if (out->result) {
        queue_free(q);
        return;
    }
    pthread_t t;
    pthread_create(&t, NULL, produce, &out->pr);
    out->result = pipe_wait(p, &out->st);
    pthread_join(t, NULL);
    queue_get_stats(q, &out->qs);
    if (out->result)
        assert_int_equal(pipe_cleanup(p), SL_OK);
    else
        assert_object(key, total, out->pr.sha);
    assert_true(out->qs.high_water <= cap);
    if (!out->result) {
        assert_int_equal(pipe_cleanup(p), SL_OK);   /* deletes the object */
        assert_int_equal(pipe_cleanup(p), SL_OK);   /* and is safe twice */
    }
    pipe_free(p);
    queue_free(q);
}

#define MiB (1u << 20)

static void test_known_small_single_put(void **s)
{
    (void)s;
    struct run r;
    run_pipe(cl, "known-1m", MiB, MiB, UINT64_MAX, 12 * MiB, 5 * MiB, &r);
    assert_int_equal(r.result, SL_OK);
    assert_int_equal(r.st.parts, 0);
    assert_int_equal(r.st.bytes, MiB);
    assert_nothing_left();
}

static void test_known_multipart(void **s)
{
    (void)s;
    struct run r;
    run_pipe(cl, "known-21m", 21 * MiB + 5, 21 * MiB + 5, UINT64_MAX, 12 * MiB, 5 * MiB, &r);
    assert_int_equal(r.result, SL_OK);
    assert_int_equal(r.st.parts, 5);
    assert_int_equal(r.st.bytes, 21 * MiB + 5);
    assert_nothing_left();
}

static void test_unknown_multipart_and_small(void **s)
{
    (void)s;
    struct run r;
    run_pipe(cl, "unknown-12m", 12 * MiB + 3, PIPE_SIZE_UNKNOWN, UINT64_MAX, 11 * MiB, 5 * MiB,
             &r);
    assert_int_equal(r.result, SL_OK);
    assert_int_equal(r.st.parts, 3);
    /* a small body of unknown size is the multipart upload's one (last) part */
    run_pipe(cl, "unknown-100k", 100000, PIPE_SIZE_UNKNOWN, UINT64_MAX, 11 * MiB, 5 * MiB, &r);
    assert_int_equal(r.result, SL_OK);
    assert_int_equal(r.st.parts, 1);
    run_pipe(cl, "unknown-5m", 5 * MiB, PIPE_SIZE_UNKNOWN, UINT64_MAX, 11 * MiB, 5 * MiB, &r);
    assert_int_equal(r.result, SL_OK);
    assert_int_equal(r.st.parts, 1);
    /* an empty one: the multipart upload is dropped and an empty object written */
    run_pipe(cl, "unknown-0", 0, PIPE_SIZE_UNKNOWN, UINT64_MAX, 11 * MiB, 5 * MiB, &r);
    assert_int_equal(r.result, SL_OK);
    assert_int_equal(r.st.parts, 0);
    assert_nothing_left();
}

/* 64 MiB through a 12 MiB queue: the queue never holds more than its capacity */
static void test_memory_bounded(void **s)
{
    (void)s;
    struct run r;
    run_pipe(cl, "bounded-64m", 64 * MiB, 64 * MiB, UINT64_MAX, 12 * MiB, 5 * MiB, &r);
    assert_int_equal(r.result, SL_OK);
    assert_true(r.qs.high_water <= 12 * MiB);
    assert_int_equal(r.qs.bytes_in, 64 * MiB);
    assert_nothing_left();
}

/* parts on the wire at once (each sender its own connection): the same bytes, in order */
static void test_parallel_parts(void **s)
{
    (void)s;
    struct run r;
    parallel = 3;
    run_pipe(cl, "par-known", 21 * MiB + 5, 21 * MiB + 5, UINT64_MAX, 16 * MiB, 5 * MiB, &r);
    assert_int_equal(r.result, SL_OK);
    assert_int_equal(r.st.parts, 5);
    assert_true(r.qs.high_water <= 16 * MiB);
    run_pipe(cl, "par-unknown", 23 * MiB + 7, PIPE_SIZE_UNKNOWN, UINT64_MAX, 16 * MiB, 5 * MiB,
             &r);
    assert_int_equal(r.result, SL_OK);
    assert_int_equal(r.st.parts, 5);
    /* more senders than the queue holds parts: capped, still correct */
    run_pipe(cl, "par-capped", 17 * MiB, 17 * MiB, UINT64_MAX, 11 * MiB, 5 * MiB, &r);
    assert_int_equal(r.result, SL_OK);
    assert_int_equal(r.st.parts, 4);
    /* the client goes away mid-stream: every sender stops, nothing is left */
    run_pipe(cl, "par-abort", 30 * MiB, 30 * MiB, 13 * MiB, 16 * MiB, 5 * MiB, &r);
    assert_int_not_equal(r.result, SL_OK);
    parallel = 0;
    assert_nothing_left();
}

static void test_client_abort_rolls_back(void **s)
{
    (void)s;
    struct run r;
    uint64_t offsets[] = {0, 1, 3 * MiB, 5 * MiB, 7 * MiB + 11, 19 * MiB};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        run_pipe(cl, "aborted-known", 20 * MiB, 20 * MiB, offsets[i], 12 * MiB, 5 * MiB, &r);
        assert_int_equal(r.result, SL_ECLIENT_GONE);
        assert_nothing_left();
        run_pipe(cl, "aborted-unknown", 20 * MiB, PIPE_SIZE_UNKNOWN, offsets[i], 12 * MiB,
                 5 * MiB, &r);
        assert_int_equal(r.result, SL_ECLIENT_GONE);
        assert_nothing_left();
    }
}

static void test_short_and_long_bodies(void **s)
{
    (void)s;
    struct run r;
    /* short: the producer closed early, which a producer should have told its client
     * itself (fcgi answers client_gone); long: more than announced, the client's fault */
    run_pipe(cl, "short-single", MiB - 1, MiB, UINT64_MAX, 12 * MiB, 5 * MiB, &r);
    assert_int_equal(r.result, SL_ESHORT_BODY);
    assert_nothing_left();
    run_pipe(cl, "short-multi", 9 * MiB, 11 * MiB, UINT64_MAX, 12 * MiB, 5 * MiB, &r);
    assert_int_equal(r.result, SL_ESHORT_BODY);
    assert_nothing_left();
    run_pipe(cl, "long-single", MiB + 1, MiB, UINT64_MAX, 12 * MiB, 5 * MiB, &r);
    assert_int_equal(r.result, SL_EUNPROCESSABLE);
    assert_nothing_left();
    run_pipe(cl, "long-multi", 11 * MiB + 1, 11 * MiB, UINT64_MAX, 12 * MiB, 5 * MiB, &r);
    assert_int_equal(r.result, SL_EUNPROCESSABLE);
    assert_nothing_left();
}

/* S3 refuses us (wrong secret): the refusal comes at pipe_start, before any body is read */
static void test_s3_refusal_fails_fast(void **s)
{
    (void)s;
    struct s3_config bad = cfg.s3;
    bad.secret_access_key = "wrong";
    struct s3_client *b;
    assert_int_equal(s3_client_new(&bad, &b), SL_OK);
    struct run r;
    run_pipe(b, "refused", 40 * MiB, PIPE_SIZE_UNKNOWN, UINT64_MAX, 6 * MiB, 5 * MiB, &r);
    assert_int_equal(s3_client_requests(b), 1);
    assert_int_equal(r.result, SL_ES3_AUTH);
    s3_client_free(b);
    /* known size: the multipart upload is created up front, so S3 refuses at start */
    assert_int_equal(s3_client_new(&bad, &b), SL_OK);
    run_pipe(b, "refused-known", 40 * MiB, 40 * MiB, UINT64_MAX, 6 * MiB, 5 * MiB, &r);
    assert_int_equal(r.result, SL_ES3_AUTH);
    s3_client_free(b);
    assert_nothing_left();
}

/* S3 fails mid-stream (the multipart upload vanishes under the pipe, as when an over-eager
 * janitor aborts it): the pipe fails, and the producer blocked on the full queue is woken */
static void test_failure_mid_stream_wakes_producer(void **s)
{
    (void)s;
    char key[256];
    snprintf(key, sizeof key, "%svanishing", prefix);
    struct queue *q;
    assert_int_equal(queue_new(6 * MiB, &q), SL_OK);
    struct pipe_opts o = {.key = key, .size = 200 * MiB, .part_size = 5 * MiB};
    struct pipe *p;
    struct s3_client *other;
    assert_int_equal(s3_client_new(&cfg.s3, &other), SL_OK);
    assert_int_equal(pipe_start(cl, q, &o, &p), SL_OK);
    struct producer pr = {.q = q, .total = 200 * MiB, .abort_at = UINT64_MAX};
    pthread_t t;
    pthread_create(&t, NULL, produce, &pr);
    struct s3_result r = {0};
    struct s3_upload *u;
    size_t n;
    assert_int_equal(s3_list_multipart_uploads(other, prefix, &u, &n, &r), SL_OK);
    assert_int_equal(n, 1);
    assert_int_equal(s3_mpu_abort(other, u[0].key, u[0].upload_id, &r), SL_OK);
    s3_uploads_free(u, n);
    enum sl_err e = pipe_wait(p, NULL);
    pthread_join(t, NULL);
    assert_int_equal(e, SL_ES3_NOTFOUND);
    assert_int_equal(pr.result, SL_ES3_NOTFOUND);   /* woken with the pipe's error */
    assert_int_equal(pipe_cleanup(p), SL_OK);
    pipe_free(p);
    queue_free(q);
    s3_result_free(&r);
    s3_client_free(other);
    assert_nothing_left();
}

static void test_limits(void **s)
{
    (void)s;
    /* a body that would need parts bigger than the queue: refused before anything starts */
    struct run r;
    uint64_t huge = (uint64_t)S3_MAX_PARTS * 6 * MiB + 1;   /* needs 7 MiB parts */
    run_pipe(cl, "huge", 0, huge, UINT64_MAX, 6 * MiB, 5 * MiB, &r);
    assert_int_equal(r.result, SL_ETOOBIG);
    assert_int_equal(pipe_part_size(100 * MiB, 5 * MiB), 5 * MiB);
    assert_int_equal(pipe_part_size((uint64_t)60000 * MiB, 5 * MiB), 6 * MiB);
    assert_int_equal(pipe_part_size(PIPE_SIZE_UNKNOWN, MiB), 5 * MiB);
    assert_nothing_left();
}

int main(void)
{
    config_defaults(&cfg);
    struct buf why = BUF_INIT(4096);
    if (config_load(&cfg, NULL, &why)) {
        fprintf(stderr, "it_pipe: %s (run through scripts/run-tests.sh)\n", buf_str(&why));
        return 1;
    }
    buf_free(&why);
    snprintf(prefix, sizeof prefix, "it-pipe-%ld-%d/", (long)time(NULL), getpid());
    s3_global_init();
    s3_client_new(&cfg.s3, &cl);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_small_single_put),
        cmocka_unit_test(test_known_multipart),
        cmocka_unit_test(test_unknown_multipart_and_small),
        cmocka_unit_test(test_memory_bounded),
        cmocka_unit_test(test_parallel_parts),
        cmocka_unit_test(test_client_abort_rolls_back),
        cmocka_unit_test(test_short_and_long_bodies),
        cmocka_unit_test(test_s3_refusal_fails_fast),
        cmocka_unit_test(test_failure_mid_stream_wakes_producer),
        cmocka_unit_test(test_limits),
    };
    int rc = cmocka_run_group_tests_name("pipe against a real server", tests, NULL, NULL);
    s3_client_free(cl);
    s3_global_cleanup();
    config_free(&cfg);
    return rc;
}
