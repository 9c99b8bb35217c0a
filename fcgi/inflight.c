#include "inflight.h"

#include <string.h>

#include "queue.h"

void inflight_add(struct inflight *f, struct inflight_entry *e)
{
    pthread_mutex_lock(&f->mu);
    e->prev = NULL;
    e->next = f->head;
    if (f->head)
        f->head->prev = e;
    f->head = e;
    pthread_mutex_unlock(&f->mu);
}

void inflight_remove(struct inflight *f, struct inflight_entry *e)
{
    pthread_mutex_lock(&f->mu);
    if (e->prev || f->head == e) {
        if (e->prev)
            e->prev->next = e->next;
        else
            f->head = e->next;
        if (e->next)
            e->next->prev = e->prev;
        e->prev = e->next = NULL;
    }
    pthread_mutex_unlock(&f->mu);
}

int inflight_progress(struct inflight *f, const char *id, uint64_t *received,
                      uint64_t *announced)
{
    int found = 0;
    pthread_mutex_lock(&f->mu);
    for (struct inflight_entry *e = f->head; e && !found; e = e->next) {
        if (!strcmp(e->id, id)) {
            *received = __atomic_load_n(e->received, __ATOMIC_RELAXED);
            *announced = e->announced;
            found = 1;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return found;
}

void inflight_abort_all(struct inflight *f, enum sl_err why)
{
    pthread_mutex_lock(&f->mu);
    for (struct inflight_entry *e = f->head; e; e = e->next)
        queue_abort(e->q, why);
    pthread_mutex_unlock(&f->mu);
}

void inflight_abort_id(struct inflight *f, const char *id, enum sl_err why)
{
    pthread_mutex_lock(&f->mu);
    for (struct inflight_entry *e = f->head; e; e = e->next)
        if (!strcmp(e->id, id))
            queue_abort(e->q, why);
    pthread_mutex_unlock(&f->mu);
}
