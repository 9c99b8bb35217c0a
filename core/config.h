/* config: sluice.conf, one INI-style file, plus the standard AWS environment variables.
 *
 *   # comment            ; comment
 *   [s3]                 # a comment may follow a header or a value, after whitespace
 *   endpoint = http://127.0.0.1:7480
 *   bucket   = drops     ; so may this one ("a#b" is a value: no whitespace before '#')
 *   prefix   = "odd # prefix/"   # quoted: '#' and ';' inside are data
 *
 * The file is bytes, not a C string: a NUL or any other control byte but tab (and CR in a
 * CR LF line end) is an error naming its line.
 * Every key is in the table in config.c with its type and range; an unknown section or key, a
 * bad value or a malformed line is an error that names the file, the line and the problem.
 * Precedence: a value set in the file wins; the environment fills what the file leaves unset
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION /
 * AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, S3_BUCKET); then defaults.
 *
 * Ownership: config_free() frees every string; all strings are heap copies. */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "s3.h"

struct upload_config {
    uint64_t max_size;          /* bytes; 0 = unlimited */
    int slots;                  /* host-wide concurrent uploads */
    uint64_t buffer_cap;        /* per-upload queue capacity: the memory cap */
    uint64_t part_size;         /* multipart part size, >= 5 MiB, <= buffer_cap */
    int parallel_parts;         /* parts on the wire at once (as many as buffer_cap holds) */
    long idle_timeout;          /* seconds without body bytes before rollback */
    uint64_t min_rate;          /* bytes/s a body must keep up, measured per 64 KiB read and
                                 * never over less than idle_timeout; under it: 408. 0: off */
    int anonymous;              /* 1: no bearer token needed */
    char **tokens;              /* NULL-terminated; bearer tokens allowed to upload */
    char *slot_dir;             /* where the slot lock files live */
    char *public_url;           /* base URL for share links, e.g. http://127.0.0.1:8080 */
    long download_expires;      /* seconds a presigned download link lives */
    long direct_expires;        /* seconds a presigned upload (PUT / POST policy) lives */
    long reserve_ttl;           /* seconds a direct reservation is kept after its last sign of
                                 * life (a URL signed for it expiring, a part stored) */
    char **cors_origins;        /* NULL-terminated; browser origins allowed to upload direct */
    int reservations;           /* open reservations on this host, all tokens together */
    int token_reservations;     /* open reservations per token, when its section sets none */
    int pending_records;        /* 1: a reservation writes a pending record (one HEAD per
                                 * share page); 0 while older versions share the bucket */
};

/* [token NAME]: a named upload credential with limits of its own (docs/design.md, "Named
 * tokens"). The [upload] `token = ...` form stays: those secrets are the group "default" with
 * the default limits. */
struct token_config {
    char *name;                 /* [A-Za-z0-9_-]{1,32}; the metrics label */
    char **secrets;             /* NULL-terminated; `secret = ...`, repeatable (rotation) */
    uint64_t max_size;          /* bytes; 0: upload.max_size */
    int slots;                  /* upload slots it may hold at once, host-wide; 0: no own cap */
    int reservations;           /* open reservations on this host; 0: upload.token_reservations */
};
#define CONFIG_MAX_TOKENS 64

struct server_config {
    int threads;                /* request threads per worker process */
    int workers;                /* > 0: a master keeps the socket and runs this many worker
                                 * processes (fcgi/master.h); 0: this process serves */
    char *socket;               /* listen here when not started by spawn-fcgi; NULL: fd 0 */
    long drain_timeout;         /* seconds SIGTERM waits for uploads before rolling them back */
    int janitor_on_start;       /* run the janitor when a worker starts */
    char *metrics_token;        /* /metrics needs "Authorization: Bearer <it>"; NULL: off */
};

struct thumbs_config {
    int enabled;                /* write thumbnail jobs for image uploads */
    char *spool_dir;            /* the job spool (NULL: thumbnails off) */
    int max_edge;               /* longest edge of a thumbnail, px */
    uint64_t max_source;        /* refuse originals larger than this many bytes */
    uint64_t max_pixels;        /* refuse images with more pixels (decompression bombs) */
    int webp;                   /* 1: WebP thumbnails, 0: JPEG */
    int quality;                /* 1..100 */
    int workers;                /* jobs made at once by one sluice-thumbd */
};

struct janitor_config {
    long max_age;               /* seconds: multipart uploads and streamed uploads' markers
                                 * idle this long are stale */
    long sweep_grace;           /* seconds: the sweep leaves objects younger than this alone */
    int sweep_max;              /* objects under drops/ and thumbs/ the sweep looks at per run
                                 * (it goes on where the last run stopped); 0: no sweep */
};

struct sluice_config {
    struct s3_config s3;
    struct upload_config upload;
    struct server_config server;
    struct janitor_config janitor;
    struct thumbs_config thumbs;
    struct token_config tokens[CONFIG_MAX_TOKENS];
    int ntokens;
};

/* Which file to read: the -c flag, else $SLUICE_CONFIG, else /etc/sluice/sluice.conf if it is
 * readable, else NULL (defaults and the environment only). */
const char *config_path(const char *flag);
void config_defaults(struct sluice_config *c);
/* Reads path (NULL: no file, environment and defaults only), then the environment, then
 * validates. On error returns SL_ECONFIG with one line in *why ("file:line: ..."). The region
 * defaults to us-east-1 only with an endpoint: for AWS (no endpoint) it must be set. */
enum sl_err config_load(struct sluice_config *c, const char *path, struct buf *why);
/* A setting from the command line, e.g. {"-t", "server.threads", "4"}: checked like a line of
 * the file and winning over it; from names it in errors. The strings are borrowed. */
struct config_override {
    const char *from;
    const char *key;            /* "section.name" */
    const char *value;
};
/* config_load with nov overrides applied after the file and the environment and before the
 * validation, so a flag cannot break a rule the file is held to. A caller with more rules of
 * its own (config_validate_upload) checks them after this, on the same final values. */
enum sl_err config_load_with(struct sluice_config *c, const char *path,
                             const struct config_override *ov, size_t nov, struct buf *why);
/* Parses len bytes of text as if they were the file named name (for tests and fuzzing); no
 * env, no validate. config_parse: the same for a C string. */
enum sl_err config_parse_mem(struct sluice_config *c, const char *name, const char *text,
                             size_t len, struct buf *why);
enum sl_err config_parse(struct sluice_config *c, const char *name, const char *text,
                         struct buf *why);
enum sl_err config_from_env(struct sluice_config *c, struct buf *why);
enum sl_err config_validate(const struct sluice_config *c, struct buf *why);
/* What only a worker that takes uploads needs (tokens or anonymous). */
enum sl_err config_validate_upload(const struct sluice_config *c, struct buf *why);
void config_free(struct sluice_config *c);

/* "64M" -> 67108864 (binary suffixes K M G T, optional "B"/"iB"); "90s", "15m", "2h", "7d" */
enum sl_err config_parse_size(const char *s, uint64_t *out);
enum sl_err config_parse_duration(const char *s, long *seconds);

#endif
