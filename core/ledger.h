/* ledger: a host-wide count of open things that end on their own (reservations), grouped (by
 * token name), with a cap per group and one for the whole ledger. Shared by every worker
 * process of the host through a directory:
 *
 *   DIR/.lock          flock'd (plus a mutex for this process's threads) around count + add
 *   DIR/GROUP.ID       one empty file per open entry; its mtime is when the entry expires
 *
 * An entry ends by ledger_remove() or by expiring: an owner that dies, or a reservation
 * finished on another host, costs its slot only until then. Entries past their time are
 * removed by the next ledger_add() that sees them. */
#ifndef SLUICE_LEDGER_H
#define SLUICE_LEDGER_H

#include <time.h>

#include "err.h"

struct ledger;

/* Creates dir (0700) if missing. */
enum sl_err ledger_open(const char *dir, struct ledger **out);
void ledger_close(struct ledger *l);                 /* NULL is fine */

/* Adds GROUP.ID, live until `expires` (unix time), if afterwards group holds at most group_cap
 * live entries (SL_ELIMIT if not) and the ledger at most total_cap (SL_EBUSY if not).
 * group: [A-Za-z0-9_-]; id: no '/' and no '.'. Adding an entry that exists renews it. */
enum sl_err ledger_add(struct ledger *l, const char *group, const char *id, time_t expires,
                       int group_cap, int total_cap);
/* Ends GROUP.ID; absent is fine. */
void ledger_remove(struct ledger *l, const char *group, const char *id);
/* Live entries of group (NULL: all). */
int ledger_count(struct ledger *l, const char *group);

#endif
