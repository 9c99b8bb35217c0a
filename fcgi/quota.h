/* quota: the upload tokens a worker knows and the limits each carries (docs/design.md, "Named
 * tokens"). A request that passed auth_require_upload() holds a `struct token`; its uploads
 * take one of the token's own slots (when it has a cap) before a host slot, and each of its
 * reservations is an entry in the host's ledger (core/ledger.h) until it completes, is
 * cancelled or expires. A token at its own limit hears 429 + Retry-After; the host at its
 * limit, 503 + Retry-After. */
#ifndef SLUICE_QUOTA_H
#define SLUICE_QUOTA_H

#include <stdint.h>
#include <time.h>

#include "config.h"

struct ctx;
struct http;
struct ledger;
struct slots;

struct token {
    const char *name;            /* borrowed from the config; "default", "anonymous", or NAME */
    char *const *secrets;        /* borrowed; NULL for "anonymous" */
    uint64_t max_size;           /* bytes, never 0 */
    int reservations;            /* open reservations it may have on this host */
    struct slots *slots;         /* its own upload slots; NULL: only the host's */
    /* its share of the metrics (atomic, relaxed) */
    uint64_t committed, bytes_in, refused_slot, refused_reservation;
};

struct quota {
    struct token *t;             /* owned */
    int n;
    struct ledger *open;         /* upload.slot_dir/reservations */
    int host_reservations;
};

/* One token per [token NAME], plus "default" for [upload] token = ..., plus "anonymous" when
 * upload.anonymous; their slot folders and the ledger under upload.slot_dir. */
enum sl_err quota_open(struct quota *q, const struct sluice_config *c);
void quota_close(struct quota *q);

/* The token whose secret bearer is (constant time in every secret, not even their lengths
 * leak); else the anonymous one, or NULL. */
struct token *quota_find(const struct quota *q, const char *bearer);

/* The token an upload's later calls are charged to: the one named `owner` that reserved it
 * (drop_resv.token), if this worker knows it; else the caller's. (With anonymous uploads or
 * a token used by several parties, the continuing caller may hold another token.) */
struct token *quota_owner(const struct quota *q, struct token *caller, const char *owner);

/* An upload slot of t's and one of the host's, in held[0] / held[1] (give both back with
 * quota_release_slots). 1, or 0 with 429 / 503 + Retry-After sent. */
int quota_take_slots(struct ctx *x, struct http *h, struct token *t, int held[2]);
void quota_release_slots(int held[2]);

/* Reservation id is open, for t, until expires: SL_OK, SL_ELIMIT (t has all it may),
 * SL_EBUSY (the host has), or a local error. */
enum sl_err quota_try_reserve(struct ctx *x, struct token *t, const char *id,
                              time_t expires);
/* The answer to a refused quota_try_reserve: 429 / 503 + Retry-After (counted per token). */
void quota_refuse(struct http *h, struct token *t, enum sl_err e);
/* quota_try_reserve, and 1; or 0 with quota_refuse's answer sent (nothing reserved then) */
int quota_reserve(struct ctx *x, struct http *h, struct token *t, const char *id,
                  time_t expires);
/* id is closed (completed, cancelled, aborted); not open is fine. */
void quota_unreserve(struct ctx *x, struct token *t, const char *id);

/* the per-token series of /metrics */
void quota_metrics(const struct quota *q, struct buf *out);

#endif
