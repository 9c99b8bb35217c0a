/* The reservation ledger: caps per group and in all, renewal, expiry, and that several
 * processes adding at once never get past a cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ledger.h"
#include "tmpdir.h"

static void test_caps(void **state)
{
    (void)state;
    struct ledger *l;
    assert_int_equal(ledger_open(dir, &l), SL_OK);
    time_t later = time(NULL) + 3600;
    assert_int_equal(ledger_add(l, "alice", "a1", later, 2, 3), SL_OK);
    assert_int_equal(ledger_add(l, "alice", "a2", later, 2, 3), SL_OK);
    /* alice is full; her own entries renew, bob still gets in */
    assert_int_equal(ledger_add(l, "alice", "a3", later, 2, 3), SL_ELIMIT);
    assert_int_equal(ledger_add(l, "alice", "a2", later + 5, 2, 3), SL_OK);
    assert_int_equal(ledger_add(l, "bob", "b1", later, 2, 3), SL_OK);
    /* the host is full: bob is under his cap but hears busy */
    assert_int_equal(ledger_add(l, "bob", "b2", later, 2, 3), SL_EBUSY);
    assert_int_equal(ledger_count(l, "alice"), 2);
    assert_int_equal(ledger_count(l, "bob"), 1);
    assert_int_equal(ledger_count(l, NULL), 3);
    /* a group that is a prefix of another is its own */
    assert_int_equal(ledger_count(l, "ali"), 0);
    ledger_remove(l, "alice", "a1");
    ledger_remove(l, "alice", "a1");          /* twice is fine */
    assert_int_equal(ledger_add(l, "alice", "a3", later, 2, 3), SL_OK);
    assert_int_equal(ledger_count(l, NULL), 3);
    /* names that would leave the folder or split wrongly */
    assert_int_equal(ledger_add(l, "al.ice", "x", later, 9, 9), SL_EBADREQ);
    assert_int_equal(ledger_add(l, "alice", "../x", later, 9, 9), SL_EBADREQ);
    assert_int_equal(ledger_add(l, "alice", "", later, 9, 9), SL_EBADREQ);
    ledger_close(l);
}

static void test_expiry(void **state)
{
    (void)state;
    struct ledger *l;
    assert_int_equal(ledger_open(dir, &l), SL_OK);
    time_t now = time(NULL);
    /* an entry whose time is over does not count, and is gone after the next add */
    assert_int_equal(ledger_add(l, "t", "old", now - 1, 1, 10), SL_OK);
    assert_int_equal(ledger_count(l, "t"), 0);
    assert_int_equal(ledger_add(l, "t", "new", now + 60, 1, 10), SL_OK);
    char p[128];
    snprintf(p, sizeof p, "%s/t.old", dir);
    assert_int_not_equal(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/t.new", dir);
    assert_int_equal(access(p, F_OK), 0);
    ledger_close(l);
}

/* 4 processes × 40 adds against a cap of 50: exactly 50 in, the rest refused */
static void test_processes(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    for (int k = 0; k < 4; k++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct ledger *l;
            int ok = 0;
            if (ledger_open(dir, &l) == SL_OK) {
                for (int i = 0; i < 40; i++) {
                    char id[32];
                    snprintf(id, sizeof id, "p%d-%d", k, i);
                    ok += ledger_add(l, "g", id, time(NULL) + 600, 50, 1000) == SL_OK;
                }
                ledger_close(l);
            }
            ssize_t w = write(fds[1], &ok, sizeof ok);
            _exit(w == sizeof ok ? 0 : 1);
        }
    }
    close(fds[1]);
    int total = 0, ok, n = 0;
    while (read(fds[0], &ok, sizeof ok) == sizeof ok)
        total += ok, n++;
    close(fds[0]);
    while (wait(NULL) > 0)
        ;
    assert_int_equal(n, 4);
    assert_int_equal(total, 50);
    struct ledger *l;
    assert_int_equal(ledger_open(dir, &l), SL_OK);
    assert_int_equal(ledger_count(l, "g"), 50);
    ledger_close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_processes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
