/* s3: an S3 client over libcurl, plus pure helpers that build and presign URLs.
 *
 * One struct s3_client per thread: it owns one curl easy handle, so consecutive requests
 * reuse the connection. Keys passed in are full object keys (the caller adds its prefix);
 * they are encoded once on the wire and never normalised.
 *
 * Every request returns an enum sl_err; the details (HTTP status, S3 error code and message,
 * ETag, metadata, attempts) land in the caller's struct s3_result. Idempotent requests whose
 * body can be replayed are retried on retryable errors (5xx, SlowDown, RequestTimeout,
 * resets, timeouts) with exponential backoff and full jitter. */
#ifndef SLUICE_S3_H
#define SLUICE_S3_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "err.h"

#define S3_MIN_PART_SIZE (5u << 20)   /* every part but the last */
#define S3_MAX_PARTS 10000

struct s3_config {
    char *endpoint;          /* "http://127.0.0.1:7480"; NULL: https://s3.<region>.amazonaws.com */
    char *region;            /* default "us-east-1" */
    char *bucket;
    char *prefix;            /* key prefix sluice owns, e.g. "sluice/" ("" for none) */
    char *access_key_id;
    char *secret_access_key;
    char *session_token;     /* NULL: none */
    /* what URLs and POST policies handed to clients are signed with (NULL: the key above; see
     * docs/design.md "Least-privilege signing"): single PUTs/POSTs, and multipart parts */
    char *signer_access_key_id;
    char *signer_secret_access_key;
    char *part_signer_access_key_id;
    char *part_signer_secret_access_key;
    int path_style;          /* 1: host/bucket/key; 0: bucket.host/key (virtual-hosted) */
    int verify_tls;          /* 1 (default): verify the server's certificate */
    char *ca_file;           /* NULL: the system's CA store */
    long connect_timeout;    /* seconds */
    long stall_timeout;      /* seconds with no progress -> SL_ES3_TIMEOUT; 0 disables */
    long request_timeout;    /* seconds, for requests without a streamed body; 0 disables */
    int max_retries;         /* further attempts after the first, retryable errors only */
    int retry_base_ms;       /* first backoff ceiling; doubles per attempt, capped at 5 s */
};

struct s3_kv {
    char *name;              /* user metadata: the part after "x-amz-meta-", lower case */
    char *value;
};

/* What a request saw. Start it as S3_RESULT_INIT (a result with garbage in meta would be
 * freed by the first call); it may then be reused across calls (each call resets it), and
 * s3_result_free() releases meta at the end. */
struct s3_result {
    long status;             /* last HTTP status; 0 if no answer */
    char code[64];           /* S3 error code ("NoSuchKey"), or a curl error name */
    char message[256];
    char request_id[64];
    int attempts;
    char etag[128];          /* as sent, quotes included */
    uint64_t content_length;
    char content_type[128];
    time_t last_modified;
    time_t date;             /* the server's Date header: clock-skew checks */
    struct s3_kv *meta;
    size_t n_meta;
};

/* The state of a result before its first use: struct s3_result r = S3_RESULT_INIT; */
#define S3_RESULT_INIT {0}

void s3_result_free(struct s3_result *r);
const char *s3_result_meta(const struct s3_result *r, const char *name); /* NULL if absent */

/* A request body. Either mem (replayable) or read (+ rewind to replay; NULL: never retried). */
typedef enum sl_err (*s3_read_fn)(void *ud, void *dst, size_t n, size_t *got);
typedef enum sl_err (*s3_rewind_fn)(void *ud);
struct s3_body {
    uint64_t length;          /* exact byte count sent as Content-Length */
    const void *mem;
    s3_read_fn read;
    s3_rewind_fn rewind;
    void *ud;
    const char *sha256_hex;   /* payload hash if known; else mem is hashed, streams are unsigned */
};

/* Receives a GET body. Returning an error stops the transfer with it. */
typedef enum sl_err (*s3_write_fn)(void *ud, const void *p, size_t n);
/* An s3_write_fn that appends to the struct buf ud (its cap bounds the body: SL_ETOOBIG). */
enum sl_err s3_write_to_buf(void *ud, const void *p, size_t n);

struct s3_put_opts {
    const char *content_type;         /* NULL: application/octet-stream */
    const char *cache_control;
    const char *content_disposition;
    const char *acl;                  /* a canned ACL (x-amz-acl); NULL: none */
    const struct s3_kv *meta;         /* values must be printable ASCII (encode beforehand):
                                       * a control character in any header value or name is
                                       * SL_EHEADER_VALUE, and nothing is sent */
    size_t n_meta;
};

struct s3_part {
    int number;               /* 1..10000 */
    char etag[128];
    uint64_t size;
    time_t last_modified;     /* from ListParts (0 elsewhere): when S3 stored the part */
};

struct s3_upload {            /* an in-progress multipart upload */
    char *key;
    char *upload_id;
    time_t initiated;
};

struct s3_object {
    char *key;
    uint64_t size;
    time_t last_modified;
};

struct s3_client;

enum sl_err s3_global_init(void);     /* once, in main(), before any thread starts */
void s3_global_cleanup(void);

/* cfg is borrowed and must outlive the client. */
enum sl_err s3_client_new(const struct s3_config *cfg, struct s3_client **out);
void s3_client_free(struct s3_client *c);
const struct s3_config *s3_client_config(const struct s3_client *c);
uint64_t s3_client_requests(const struct s3_client *c);  /* HTTP requests sent so far */

enum sl_err s3_put_object(struct s3_client *c, const char *key, const struct s3_body *body,
                          const struct s3_put_opts *o, struct s3_result *r);
/* range: "bytes=0-9" or NULL. A GET is retried only until the first byte reached w. */
enum sl_err s3_get_object(struct s3_client *c, const char *key, const char *range,
                          s3_write_fn w, void *ud, struct s3_result *r);
enum sl_err s3_head_object(struct s3_client *c, const char *key, struct s3_result *r);
enum sl_err s3_delete_object(struct s3_client *c, const char *key, struct s3_result *r);

/* *upload_id is malloc'ed; the caller frees it. */
enum sl_err s3_mpu_create(struct s3_client *c, const char *key, const struct s3_put_opts *o,
                          char **upload_id, struct s3_result *r);
/* On success r->etag holds the part's ETag. */
enum sl_err s3_mpu_upload_part(struct s3_client *c, const char *key, const char *upload_id,
                               int part_number, const struct s3_body *body,
                               struct s3_result *r);
enum sl_err s3_mpu_complete(struct s3_client *c, const char *key, const char *upload_id,
                            const struct s3_part *parts, size_t n, struct s3_result *r);
enum sl_err s3_mpu_abort(struct s3_client *c, const char *key, const char *upload_id,
                         struct s3_result *r);
/* *parts is malloc'ed (free()); follows pagination. */
enum sl_err s3_mpu_list_parts(struct s3_client *c, const char *key, const char *upload_id,
                              struct s3_part **parts, size_t *n, struct s3_result *r);
/* Every in-progress upload whose key starts with prefix; s3_uploads_free() the array. */
enum sl_err s3_list_multipart_uploads(struct s3_client *c, const char *prefix,
                                      struct s3_upload **out, size_t *n, struct s3_result *r);
void s3_uploads_free(struct s3_upload *u, size_t n);
enum sl_err s3_list_objects(struct s3_client *c, const char *prefix, struct s3_object **out,
                            size_t *n, struct s3_result *r);
void s3_objects_free(struct s3_object *o, size_t n);
/* At most max objects under prefix whose keys sort after start_after (NULL or "": from the
 * first), in key order, paged; fewer than max means the listing reached its end. */
enum sl_err s3_list_objects_after(struct s3_client *c, const char *prefix,
                                  const char *start_after, size_t max, struct s3_object **out,
                                  size_t *n, struct s3_result *r);
/* GET or PUT a bucket subresource ("cors", "lifecycle") as XML. PUT sends Content-MD5,
 * which S3 requires for both. GET: SL_ES3_NOTFOUND when the bucket has none. */
enum sl_err s3_bucket_get_xml(struct s3_client *c, const char *sub, struct buf *xml,
                              struct s3_result *r);
enum sl_err s3_bucket_put_xml(struct s3_client *c, const char *sub, const char *xml,
                              struct s3_result *r);
/* HEAD the bucket: is it there and do our credentials work? */
enum sl_err s3_head_bucket(struct s3_client *c, struct s3_result *r);

/* ---- process-wide request statistics, for /metrics ---- */

enum s3_op {
    S3_OP_PUT, S3_OP_GET, S3_OP_HEAD, S3_OP_DELETE, S3_OP_MPU_CREATE,
    S3_OP_MPU_PART, S3_OP_MPU_COMPLETE, S3_OP_MPU_ABORT, S3_OP_LIST, S3_OP_OTHER, S3_OP_COUNT
};
#define S3_LATENCY_BUCKETS 11   /* upper bounds in s3_latency_bounds_ms, the last is +Inf */
extern const char *const s3_op_names[S3_OP_COUNT];
extern const double s3_latency_bounds_ms[S3_LATENCY_BUCKETS - 1];

struct s3_op_stats {
    uint64_t requests;          /* attempts sent, retries included */
    uint64_t errors;            /* attempts that failed */
    uint64_t latency_ms_sum;
    uint64_t latency_bucket[S3_LATENCY_BUCKETS]; /* cumulative, as Prometheus wants */
};

void s3_stats_get(struct s3_op_stats out[S3_OP_COUNT]);

/* ---- pure helpers: no I/O, time passed in ---- */

struct s3_endpoint {
    char scheme[8];           /* "http" or "https" */
    char host[256];           /* lower case, no brackets for IPv6 */
    int port;
    int default_port;         /* 1 when port is the scheme's default */
    int ipv6;
};

enum sl_err s3_parse_endpoint(const char *url, struct s3_endpoint *ep);
/* The URL (scheme://host[:port]/path[?query]), Host header and encoded path of key in the
 * configured bucket. query is wire form or NULL. */
enum sl_err s3_url(const struct s3_config *cfg, const char *key, const char *query,
                   struct buf *url, struct buf *host, struct buf *path);
/* "YYYYMMDDTHHMMSSZ" for t */
void s3_amz_date(time_t t, char out[17]);

/* A presigned URL for method on key, valid for expires seconds from now. headers are signed
 * and must then be sent exactly (e.g. content-type, content-length); extra_query is signed
 * too (e.g. response-content-disposition=...). */
enum sl_err s3_presign(const struct s3_config *cfg, const char *method, const char *key,
                       const char *extra_query, const struct s3_kv *headers, size_t n_headers,
                       long expires, time_t now, struct buf *url);

/* A browser POST policy for exactly key (or every key under key when key ends in '/' and
 * starts_with is set), at most max_size bytes (0: no limit), valid for expires seconds. */
struct s3_post_form {
    struct buf url;           /* where the form posts to */
    struct s3_kv fields[16];  /* form fields, in order; the file field comes last, after them */
    size_t n_fields;
};

struct s3_post_opts {
    const char *key;
    int starts_with;          /* key is a prefix, the client picks the rest */
    uint64_t min_size;        /* content-length-range min_size..max_size */
    uint64_t max_size;        /* 0: no range */
    const char *content_type; /* NULL: any */
    int success_status;       /* 0 (S3's default 204) or 200 / 201 */
    const char *acl;          /* NULL, or the exact canned ACL the form must carry */
    const char *content_disposition;   /* NULL, or the exact Content-Disposition */
    long expires;
};

enum sl_err s3_post_policy(const struct s3_config *cfg, const struct s3_post_opts *o, time_t now,
                           struct s3_post_form *out);
void s3_post_form_free(struct s3_post_form *f);

#endif
