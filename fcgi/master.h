/* master: `sluice-fcgi -w N` (or server.workers = N) keeps the listening socket and runs N
 * worker processes on it, as php-fpm does. Each worker is a fresh exec of the binary's path,
 * so a reload picks up a new binary and a new config:
 *
 *   SIGHUP            start N workers of a new generation; once every one of them says it
 *                     serves, SIGTERM the old ones (they drain: uploads in flight finish).
 *                     A new generation that does not come up (bad config, crash) is stopped
 *                     and the old one keeps serving.
 *   SIGTERM, SIGINT   SIGTERM every worker, wait for all (a second one is passed on: roll back)
 *   a worker dies     it is replaced (after 1 s if it lived less than that)
 *
 * The socket is never shut down or closed while a worker lives, so requests are never
 * refused during a reload: connections wait in its backlog at worst. */
#ifndef SLUICE_MASTER_H
#define SLUICE_MASTER_H

struct master_opts {
    int workers;               /* N >= 1 */
    const char *cfgpath;       /* passed on as -c; NULL: none */
    const char *logpath;       /* passed on as -l; NULL: none */
    const char *threads;       /* passed on as -t; NULL: none */
};

/* Runs until SIGTERM; the listening socket is fd 0. Returns the exit status. */
int master_run(const struct master_opts *o);

/* In a worker started by a master: tell it this worker serves (no-op otherwise). */
void master_worker_ready(void);

#endif
