/* Upload slots: a hard limit across processes, freed on release and when a holder dies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slots.h"

#include "tmpdir.h"

static void test_limit_and_release(void **state)
{
    (void)state;
    struct slots *s;
    assert_int_equal(slots_open(dir, 3, &s), SL_OK);
    int a, b, c, d;
    assert_int_equal(slots_take(s, &a), SL_OK);
    assert_int_equal(slots_take(s, &b), SL_OK);
    assert_int_equal(slots_take(s, &c), SL_OK);
    assert_int_equal(slots_in_use(s), 3);
    assert_int_equal(slots_take(s, &d), SL_EBUSY);
    assert_int_equal(d, -1);
    slots_release(b);
    assert_int_equal(slots_in_use(s), 2);
    assert_int_equal(slots_take(s, &d), SL_OK);
    slots_release(a);
    slots_release(c);
    slots_release(d);
    slots_release(-1);
    assert_int_equal(slots_in_use(s), 0);
    slots_close(s);
}

/* a process holding a slot is killed: the kernel frees the slot */
static void test_killed_holder_frees_slot(void **state)
{
    (void)state;
    struct slots *s;
    assert_int_equal(slots_open(dir, 1, &s), SL_OK);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        int h;
        char ok = slots_take(s, &h) == SL_OK ? 'y' : 'n';
        if (write(pfd[1], &ok, 1) != 1)
            _exit(2);
        pause();
        _exit(0);
    }
    char ok = 0;
    assert_int_equal(read(pfd[0], &ok, 1), 1);
    assert_int_equal(ok, 'y');
    int h;
    assert_int_equal(slots_take(s, &h), SL_EBUSY);   /* the other process holds it */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_int_equal(slots_in_use(s), 0);
    assert_int_equal(slots_take(s, &h), SL_OK);
    slots_release(h);
    close(pfd[0]);
    close(pfd[1]);
    slots_close(s);
}

static void test_bad_args(void **state)
{
    (void)state;
    struct slots *s = (struct slots *)1;
    assert_int_equal(slots_open(dir, 0, &s), SL_ECONFIG);
    assert_null(s);
    assert_int_equal(slots_open("/proc/nope/x", 2, &s), SL_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_and_release),
        cmocka_unit_test(test_killed_holder_frees_slot),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests_name("slots", tests, setup, teardown);
}
