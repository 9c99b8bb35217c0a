/* app: what every request thread of a worker process shares — read-only after start-up,
 * except the metrics, which are atomic counters. */
#ifndef SLUICE_APP_H
#define SLUICE_APP_H

#include <pthread.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "http.h"
#include "queue.h"
#include "s3.h"
#include "slots.h"
#include "spool.h"

struct metrics {
    uint64_t uploads_started;
    uint64_t uploads_committed;
    uint64_t rolled_back[SL_ERR_COUNT];   /* by reason */
    uint64_t bytes_in;                    /* body bytes taken from clients */
    uint64_t bytes_out;                   /* bytes S3 acknowledged */
    uint64_t queue_high_water;            /* the fullest any upload's queue has been */
    uint64_t requests;
};

#define APP_MAX_ACTIVE 1024

struct app {
    struct sluice_config cfg;
    const char *cfgpath;                  /* for the sluice-thumbd children; NULL: env only */
    char thumbd[4096];                    /* sluice-thumbd, next to this binary */
    struct spool *spool;                  /* thumbnail jobs; NULL when thumbnails are off */
    struct slots *slots;
    struct metrics m;
    volatile int stopping;                /* SIGTERM seen: drain */
    /* the queues of uploads in flight, so a drain that runs out of time can abort them */
    pthread_mutex_t active_mu;
    struct active_upload {
        struct queue *q;
        char id[24];
        const uint64_t *received;         /* written by its thread with __atomic stores */
        uint64_t announced;               /* UINT64_MAX when unknown */
    } active[APP_MAX_ACTIVE];
};

/* registers an upload in flight (ignored when full): for draining and for progress */
void app_track(struct app *app, struct queue *q, const char *id, const uint64_t *received,
               uint64_t announced);
void app_untrack(struct app *app, struct queue *q);
void app_abort_all(struct app *app, enum sl_err why);
/* progress of an upload in flight on this process: 1 and *received / *announced if known */
int app_progress(struct app *app, const char *id, uint64_t *received, uint64_t *announced);
void handle_stream_reserve(struct app *app, struct http *h, struct s3_client *c);

#define METRIC_ADD(app, field, n) __atomic_add_fetch(&(app)->m.field, (n), __ATOMIC_RELAXED)
void metrics_max(uint64_t *field, uint64_t v);
void metrics_render(struct app *app, struct buf *out);

/* handlers: each answers the request fully */
void handle_upload_raw(struct app *app, struct http *h, struct s3_client *c, const char *name_enc);
void handle_upload_form(struct app *app, struct http *h, struct s3_client *c);
void handle_share(struct app *app, struct http *h, struct s3_client *c, const char *id);
void handle_download(struct app *app, struct http *h, struct s3_client *c, const char *id);
void handle_delete(struct app *app, struct http *h, struct s3_client *c, const char *id);
void handle_thumbnail(struct app *app, struct http *h, struct s3_client *c, const char *id);

struct drop_meta;
/* 201 with the drop's JSON (and Location); token NULL: "delete_token": null */
void reply_drop(struct app *app, struct http *h, const struct drop_meta *m, const char *token);
void handle_direct_create(struct app *app, struct http *h, struct s3_client *c);
void handle_direct_complete(struct app *app, struct http *h, struct s3_client *c, const char *id);
int app_authorized(const struct app *app, const struct http *h);
/* Commit the direct upload reserved as id once its bytes are in S3 (size checked unless the
 * reservation declared none). SL_ECONFLICT: no bytes yet (or done already); SL_ENOTFOUND: no
 * reservation; SL_EUNPROCESSABLE: wrong size, removed. msg says why. */
enum sl_err direct_commit(struct app *app, struct s3_client *c, const char *id,
                          const char *want_sha256, struct drop_meta *m, char *msg, size_t msglen);
void handle_uppy(struct app *app, struct http *h, struct s3_client *c, const char *rest);

/* the base URL for links: upload.public_url, else scheme://host of the request */
enum sl_err app_base_url(const struct app *app, const struct http *h, struct buf *out);

#endif
