#include "quota.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ctx.h"
#include "http.h"
#include "ledger.h"
#include "sigv4.h"
#include "slots.h"

static void add(struct quota *q, const char *name, char *const *secrets, uint64_t max_size,
                int reservations)
{
    struct token *t = &q->t[q->n++];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->secrets = secrets;
    t->max_size = max_size;
    t->reservations = reservations;
}

enum sl_err quota_open(struct quota *q, const struct sluice_config *c)
{
    const struct upload_config *uc = &c->upload;
    memset(q, 0, sizeof *q);
    q->host_reservations = uc->reservations;
    if (!(q->t = calloc((size_t)c->ntokens + 2, sizeof *q->t)))
        return SL_ENOMEM;
    for (int i = 0; i < c->ntokens; i++) {
        const struct token_config *tc = &c->tokens[i];
        add(q, tc->name, tc->secrets, tc->max_size ? tc->max_size : uc->max_size,
            tc->reservations ? tc->reservations : uc->token_reservations);
        if (tc->slots) {
            char dir[4200];
            snprintf(dir, sizeof dir, "%s/token-%s", uc->slot_dir, tc->name);
            enum sl_err e = slots_open(dir, tc->slots, &q->t[q->n - 1].slots);
            if (e)
                return e;
        }
    }
    if (uc->tokens)
        add(q, "default", uc->tokens, uc->max_size, uc->token_reservations);
    if (uc->anonymous)
        add(q, "anonymous", NULL, uc->max_size, uc->token_reservations);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/reservations", uc->slot_dir);
    return ledger_open(dir, &q->open);
}

void quota_close(struct quota *q)
{
    for (int i = 0; i < q->n; i++)
        slots_close(q->t[i].slots);
    free(q->t);
    ledger_close(q->open);
    memset(q, 0, sizeof *q);
}

struct token *quota_owner(const struct quota *q, struct token *caller, const char *owner)
{
    for (int i = 0; owner && *owner && i < q->n; i++)
        if (!strcmp(q->t[i].name, owner))
            return &q->t[i];
    return caller;
}

struct token *quota_find(const struct quota *q, const char *bearer)
{
    struct token *found = NULL, *anon = NULL;
    if (bearer) {
        char given[65];
        sigv4_sha256_hex(bearer, strlen(bearer), given);
        /* every secret is compared, whichever matches: the time says nothing about them */
        for (int i = 0; i < q->n; i++)
            for (char *const *s = q->t[i].secrets; s && *s; s++) {
                char want[65];
                sigv4_sha256_hex(*s, strlen(*s), want);
                if (CRYPTO_memcmp(given, want, 64) == 0)
                    found = &q->t[i];
            }
    }
    for (int i = 0; i < q->n; i++)
        if (!q->t[i].secrets)
            anon = &q->t[i];
    return found ? found : anon;
}

int quota_take_slots(struct ctx *x, struct http *h, struct token *t, int held[2])
{
    held[0] = held[1] = -1;
    if (t->slots && slots_take(t->slots, &held[0]) != SL_OK) {
        METRIC_ADD(t, refused_slot, 1);
        http_reply_error(h, SL_ELIMIT, "this token holds all the upload slots it may; retry "
                         "when one of its uploads ends", "Retry-After: 5\r\n");
        return 0;
    }
    enum sl_err e = slots_take(x->slots, &held[1]);
    if (e) {
        quota_release_slots(held);
        http_reply_error(h, e, NULL, "Retry-After: 2\r\n");
        return 0;
    }
    return 1;
}

void quota_release_slots(int held[2])
{
    slots_release(held[0]);
    slots_release(held[1]);
    held[0] = held[1] = -1;
}

enum sl_err quota_try_reserve(struct ctx *x, struct token *t, const char *id,
                              time_t expires)
{
    struct quota *q = &x->quota;
    return ledger_add(q->open, t->name, id, expires, t->reservations, q->host_reservations);
}

void quota_refuse(struct http *h, struct token *t, enum sl_err e)
{
    if (e == SL_ELIMIT) {
        METRIC_ADD(t, refused_reservation, 1);
        http_reply_error(h, e, "this token has all the open reservations it may; complete or "
                         "cancel one, or retry later", "Retry-After: 30\r\n");
    } else if (e == SL_EBUSY) {
        http_reply_error(h, e, "this server has all the open reservations it may; retry later",
                         "Retry-After: 30\r\n");
    } else {
        http_reply_error(h, e, NULL, NULL);
    }
}

int quota_reserve(struct ctx *x, struct http *h, struct token *t, const char *id,
                  time_t expires)
{
    enum sl_err e = quota_try_reserve(x, t, id, expires);
    if (e)
        quota_refuse(h, t, e);
    return !e;
}

void quota_unreserve(struct ctx *x, struct token *t, const char *id)
{
    if (t)
        ledger_remove(x->quota.open, t->name, id);
}

static uint64_t get(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void series(struct buf *o, const struct quota *q, const char *name, const char *type,
                   const char *help, size_t off)
{
    buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (int i = 0; i < q->n; i++)
        buf_printf(o, "%s{token=\"%s\"} %llu\n", name, q->t[i].name,
                   (unsigned long long)get((const uint64_t *)((const char *)&q->t[i] + off)));
}

void quota_metrics(const struct quota *q, struct buf *o)
{
    series(o, q, "sluice_token_uploads_committed_total", "counter",
           "Uploads that became drops, by token.", offsetof(struct token, committed));
    series(o, q, "sluice_token_upload_bytes_in_total", "counter",
           "Body bytes received from clients, by token.", offsetof(struct token, bytes_in));
    series(o, q, "sluice_token_refused_slot_total", "counter",
           "Uploads refused (429): the token held all its slots.",
           offsetof(struct token, refused_slot));
    series(o, q, "sluice_token_refused_reservation_total", "counter",
           "Reservations refused (429): the token had all its open reservations.",
           offsetof(struct token, refused_reservation));
    buf_puts(o, "# HELP sluice_token_reservations_open Open reservations on this host, by "
                "token.\n# TYPE sluice_token_reservations_open gauge\n");
    for (int i = 0; i < q->n; i++)
        buf_printf(o, "sluice_token_reservations_open{token=\"%s\"} %d\n", q->t[i].name,
                   ledger_count(q->open, q->t[i].name));
    buf_puts(o, "# HELP sluice_token_slots_in_use Upload slots a token holds on this host (its "
                "own cap's).\n# TYPE sluice_token_slots_in_use gauge\n");
    for (int i = 0; i < q->n; i++)
        if (q->t[i].slots)
            buf_printf(o, "sluice_token_slots_in_use{token=\"%s\"} %d\n", q->t[i].name,
                       slots_in_use(q->t[i].slots));
}
