/* syscall_filter: runs a program under an allow-list of system calls, the way systemd applies
 * SystemCallFilter= with SystemCallErrorNumber=EPERM (every other call fails with EPERM).
 * tests/integration/test_install.sh gives it the list an installed unit names, expanded by
 * `systemd-analyze syscall-filter`, so a unit's filter is tested without a running systemd.
 *
 *   syscall_filter LISTFILE PROGRAM [ARGS...]     (LISTFILE: one system call name a line) */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <seccomp.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: syscall_filter LISTFILE PROGRAM [ARGS...]\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    char name[128];
    int n = 0, rc = ctx ? 0 : -1;
    while (!rc && fscanf(f, "%127s", name) == 1) {
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR)
            continue;   /* a name this architecture does not have (systemd skips them too) */
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
        n++;
    }
    fclose(f);
    if (!rc)
        rc = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ? -errno : seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc || !n) {
        fprintf(stderr, "syscall_filter: cannot install the filter (%d calls): %s\n", n,
                strerror(rc < 0 ? -rc : EINVAL));
        return 2;
    }
    execv(argv[2], argv + 2);
    perror(argv[2]);
    return 127;
}
