/* slots: a host-wide limit on concurrent uploads, shared by every worker process and thread.
 *
 * One lock file per slot in a directory; a slot is taken by opening its file and taking an
 * open-file-description write lock on it (fcntl F_OFD_SETLK: owned by that open file, like
 * flock, so two threads of one process conflict too). The kernel drops the lock when the
 * descriptor is closed — including when the process dies — so a crash never leaks a slot.
 * Counting asks F_OFD_GETLK and takes nothing. OFD locks and flock() do not see each other:
 * every process sharing a slot directory must run this code (restart a host's workers
 * together, never old and new side by side). */
#ifndef SLUICE_SLOTS_H
#define SLUICE_SLOTS_H

#include "err.h"

struct slots;

/* Creates dir (mode 0700) and its n lock files if missing. */
enum sl_err slots_open(const char *dir, int n, struct slots **out);
void slots_close(struct slots *s);                 /* NULL is fine; held slots stay held */

/* Never blocks: SL_EBUSY when all n are taken. *held is a descriptor: give it back to
 * slots_release() (or exit). */
enum sl_err slots_take(struct slots *s, int *held);
void slots_release(int held);                     /* -1 is fine */
int slots_total(const struct slots *s);
/* How many are held right now, host-wide (asks each file's lock without taking it, so it never
 * makes a slots_take() fail; for metrics and tests). */
int slots_in_use(const struct slots *s);

#endif
