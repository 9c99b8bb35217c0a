/* The job spool: claim by rename (one winner), retries with backoff, poison jobs set aside,
 * dead workers' jobs re-queued, a thousand jobs through two worker processes exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spool.h"

#include "tmpdir.h"

static struct spool_counts counts(struct spool *s)
{
    struct spool_counts c;
    assert_int_equal(spool_count(s, &c), SL_OK);
    return c;
}

static void test_submit_claim_done(void **state)
{
    (void)state;
    struct spool *s;
    assert_int_equal(spool_open(dir, "w1", &s), SL_OK);
    assert_int_equal(spool_submit(s, "AAA"), SL_OK);
    assert_int_equal(spool_submit(s, "AAA"), SL_OK);   /* same drop: still one job */
    assert_int_equal(spool_submit(s, "BBB"), SL_OK);
    assert_int_equal(spool_submit(s, "../x"), SL_EBADREQ);
    struct spool_counts c = counts(s);
    assert_int_equal(c.pending, 2);
    assert_int_equal(c.tmp, 0);
    struct spool_job j1, j2, j3;
    assert_int_equal(spool_claim(s, time(NULL), &j1), SL_OK);
    assert_int_equal(spool_claim(s, time(NULL), &j2), SL_OK);
    assert_int_equal(spool_claim(s, time(NULL), &j3), SL_ENOTFOUND);
    assert_string_not_equal(j1.id, j2.id);
    assert_int_equal(counts(s).claimed, 2);
    assert_int_equal(spool_done(s, &j1), SL_OK);
    assert_int_equal(spool_done(s, &j2), SL_OK);
    c = counts(s);
    assert_int_equal(c.pending + c.claimed + c.failed + c.tmp, 0);
    spool_close(s);
}

static void test_one_winner(void **state)
{
    (void)state;
    struct spool *a, *b;
    assert_int_equal(spool_open(dir, "wa", &a), SL_OK);
    assert_int_equal(spool_open(dir, "wb", &b), SL_OK);
    struct spool *dup;
    assert_int_equal(spool_open(dir, "wa", &dup), SL_EINUSE);   /* the name is taken */
    assert_int_equal(spool_submit(a, "CCC"), SL_OK);
    struct spool_job ja, jb;
    assert_int_equal(spool_claim_id(b, "CCC", &jb), SL_OK);
    assert_int_equal(spool_claim_id(a, "CCC", &ja), SL_ENOTFOUND);   /* b has it */
    assert_int_equal(spool_claim(a, time(NULL), &ja), SL_ENOTFOUND);
    /* a live worker's jobs are never taken from it */
    int n;
    assert_int_equal(spool_requeue_dead(a, &n), SL_OK);
    assert_int_equal(n, 0);
    assert_int_equal(spool_done(b, &jb), SL_OK);
    spool_close(a);
    spool_close(b);
}

static void test_backoff_and_poison(void **state)
{
    (void)state;
    struct spool *s;
    assert_int_equal(spool_open(dir, "w2", &s), SL_OK);
    assert_int_equal(spool_submit(s, "DDD"), SL_OK);
    time_t now = 1000000;
    struct spool_job j;
    for (int i = 1; i <= SPOOL_MAX_ATTEMPTS; i++) {
        assert_int_equal(spool_claim(s, now, &j), SL_OK);
        assert_int_equal(j.attempts, i - 1);
        assert_int_equal(spool_fail(s, &j, "corrupt\nimage", now, 0), SL_OK);
        if (i < SPOOL_MAX_ATTEMPTS) {
            assert_int_equal(spool_claim(s, now, &j), SL_ENOTFOUND);   /* backing off */
            now = j.not_before;
        }
    }
    struct spool_counts c = counts(s);
    assert_int_equal(c.pending, 0);
    assert_int_equal(c.claimed, 0);
    assert_int_equal(c.failed, 1);
    char f[256], text[512];
    snprintf(f, sizeof f, "%s/failed/DDD", dir);
    FILE *fp = fopen(f, "r");
    assert_non_null(fp);
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    assert_non_null(strstr(text, "attempts=5\n"));
    assert_non_null(strstr(text, "reason=corrupt image\n"));   /* one line, always */
    spool_close(s);
}

/* a worker claims a job and is killed: another worker re-queues it and does it */
static void test_permanent_failure_and_id_lock(void **state)
{
    (void)state;
    struct spool *s, *t;
    assert_int_equal(spool_open(dir, "w3", &s), SL_OK);
    assert_int_equal(spool_open(dir, "w4", &t), SL_OK);
    assert_int_equal(spool_submit(s, "FFF"), SL_OK);
    struct spool_job j;
    assert_int_equal(spool_claim(s, time(NULL), &j), SL_OK);
    assert_int_equal(spool_fail(s, &j, "not an image", time(NULL), 1), SL_OK);
    struct spool_counts c = counts(s);
    assert_int_equal(c.failed, 1);      /* no retries for what cannot succeed */
    assert_int_equal(c.pending, 0);
    int a, b;
    assert_int_equal(spool_lock_id(s, "FFF", 0, &a), SL_OK);
    assert_int_equal(spool_lock_id(t, "FFF", 100, &b), SL_EBUSY);   /* waited 100 ms */
    assert_int_equal(b, -1);
    spool_unlock(a);
    assert_int_equal(spool_lock_id(t, "FFF", 0, &b), SL_OK);
    spool_unlock(b);
    spool_close(s);
    spool_close(t);
}

static void test_dead_worker_requeued(void **state)
{
    (void)state;
    struct spool *s;
    assert_int_equal(spool_open(dir, "survivor", &s), SL_OK);
    assert_int_equal(spool_submit(s, "EEE"), SL_OK);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct spool *c;
        struct spool_job j;
        char ok = spool_open(dir, "doomed", &c) == SL_OK && spool_claim(c, time(NULL), &j) == SL_OK
                      ? 'y' : 'n';
        if (write(pfd[1], &ok, 1) != 1)
            _exit(2);
        pause();   /* killed while holding the job */
        _exit(0);
    }
    char ok = 0;
    assert_int_equal(read(pfd[0], &ok, 1), 1);
    assert_int_equal(ok, 'y');
    int n;
    assert_int_equal(spool_requeue_dead(s, &n), SL_OK);
    assert_int_equal(n, 0);   /* still alive: hands off */
    struct spool_job j;
    assert_int_equal(spool_claim(s, time(NULL), &j), SL_ENOTFOUND);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_int_equal(spool_requeue_dead(s, &n), SL_OK);
    assert_int_equal(n, 1);
    assert_int_equal(spool_claim(s, time(NULL), &j), SL_OK);
    assert_string_equal(j.id, "EEE");
    assert_int_equal(j.attempts, 1);          /* its death counted */
    assert_int_equal(spool_done(s, &j), SL_OK);
    struct spool_counts c = counts(s);
    assert_int_equal(c.pending + c.claimed + c.failed + c.tmp, 0);
    close(pfd[0]);
    close(pfd[1]);
    spool_close(s);
}

/* two worker processes drain a thousand jobs: each done exactly once, nothing left */
static void test_thousand_jobs_two_workers(void **state)
{
    (void)state;
    struct spool *s;
    assert_int_equal(spool_open(dir, "submitter", &s), SL_OK);
    enum { N = 1000 };
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "job%04d", i);
        assert_int_equal(spool_submit(s, id), SL_OK);
    }
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            char name[32], log[128];
            snprintf(name, sizeof name, "worker%d", k);
            snprintf(log, sizeof log, "%s/done.%d", dir, k);
            struct spool *w;
            if (spool_open(dir, name, &w))
                _exit(1);
            FILE *f = fopen(log, "w");
            struct spool_job j;
            while (spool_claim(w, time(NULL), &j) == SL_OK) {
                fprintf(f, "%s\n", j.id);
                if (spool_done(w, &j))
                    _exit(1);
            }
            fclose(f);
            _exit(0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int st;
        waitpid(kids[k], &st, 0);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    static char seen[N];
    int total = 0, per[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        char log[128], line[64];
        snprintf(log, sizeof log, "%s/done.%d", dir, k);
        FILE *f = fopen(log, "r");
        assert_non_null(f);
        while (fgets(line, sizeof line, f)) {
            int i = atoi(line + 3);
            assert_true(i >= 0 && i < N);
            assert_int_equal(seen[i], 0);   /* never done twice */
            seen[i] = 1;
            total++;
            per[k]++;
        }
        fclose(f);
    }
    assert_int_equal(total, N);             /* none lost */
    print_message("jobs done: worker0 %d, worker1 %d\n", per[0], per[1]);
    struct spool_counts c = counts(s);
    assert_int_equal(c.pending + c.claimed + c.failed + c.tmp, 0);
    spool_close(s);
}

static void test_job_files(void **state)
{
    (void)state;
    struct spool_job j = {.attempts = 3, .not_before = 1764000000};
    strcpy(j.id, "abc_DEF-123");
    strcpy(j.reason, "too big");
    struct buf b = BUF_INIT(1024);
    assert_int_equal(spool_job_format(&j, &b), SL_OK);
    assert_string_equal(buf_str(&b),
                        "id=abc_DEF-123\nattempts=3\nnot_before=1764000000\nreason=too big\n");
    struct spool_job back;
    assert_int_equal(spool_job_parse(b.data, b.len, &back), SL_OK);
    assert_string_equal(back.id, j.id);
    assert_int_equal(back.attempts, 3);
    assert_int_equal(back.not_before, 1764000000);
    assert_string_equal(back.reason, "too big");
    buf_free(&b);
    static const char *const bad[] = {
        "", "attempts=1\n", "id=a/b\n", "id=x\nattempts=-1\n", "id=x\nattempts=1e3\n",
        "id=x\nfoo=1\n", "id=x\nnonsense\n", "id=x\nattempts=99999\n",
        "id=01234567890123456789012345678901234567890123456789012345678901234\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(spool_job_parse(bad[i], strlen(bad[i]), &back), SL_EBADREQ);
    assert_int_equal(spool_job_parse("id=a\0b\n", 7, &back), SL_EBADREQ);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_submit_claim_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_winner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff_and_poison, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permanent_failure_and_id_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_worker_requeued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thousand_jobs_two_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_files, setup, teardown),
    };
    return cmocka_run_group_tests_name("spool", tests, NULL, NULL);
}
