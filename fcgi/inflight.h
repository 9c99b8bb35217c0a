/* inflight: the streamed uploads this process carries right now, so a drain that runs out of
 * time can abort them and the share page can show an upload's progress. The entries belong
 * to their uploads (no allocation, no cap): one per request thread at most. */
#ifndef SLUICE_INFLIGHT_H
#define SLUICE_INFLIGHT_H

#include <pthread.h>
#include <stdint.h>

#include "err.h"

struct queue;

struct inflight_entry {
    struct inflight_entry *prev, *next;   /* the registry's; NULL while not registered */
    struct queue *q;
    char id[24];
    const uint64_t *received;             /* written by its thread with __atomic stores */
    uint64_t announced;                   /* UINT64_MAX when unknown */
};

struct inflight {
    pthread_mutex_t mu;
    struct inflight_entry *head;
};

#define INFLIGHT_INIT {PTHREAD_MUTEX_INITIALIZER, NULL}

/* e (filled in by the caller) stays registered, and must stay valid, until inflight_remove. */
void inflight_add(struct inflight *f, struct inflight_entry *e);
void inflight_remove(struct inflight *f, struct inflight_entry *e);   /* fine if not added */
/* 1 and the upload's progress if this process carries id */
int inflight_progress(struct inflight *f, const char *id, uint64_t *received,
                      uint64_t *announced);
void inflight_abort_all(struct inflight *f, enum sl_err why);
/* aborts the upload of id if this process carries it (it rolls back, answering why) */
void inflight_abort_id(struct inflight *f, const char *id, enum sl_err why);

#endif
