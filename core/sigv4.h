/* sigv4: AWS Signature Version 4 for S3, pure.
 *
 * Opens no socket and never reads the clock: the caller passes credentials, scope and the
 * signing time ("YYYYMMDDTHHMMSSZ"), and every stage (canonical request, string to sign,
 * signature) lands in caller-owned buffers so each can be checked against the AWS suite.
 *
 * S3 rules, not the generic ones: the path is percent-encoded exactly once and never
 * normalised ("a//b/../c" is signed as it is). All strings passed in are borrowed for the
 * duration of the call only. */
#ifndef SLUICE_SIGV4_H
#define SLUICE_SIGV4_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SIGV4_STREAMING_PAYLOAD "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SIGV4_MAX_EXPIRES 604800 /* 7 days: S3's limit for presigned URLs */

struct sigv4_key {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;   /* NULL or "": none */
    const char *region;          /* "us-east-1" */
    const char *service;         /* "s3" */
};

struct sigv4_header {
    const char *name;            /* any case; lower-cased for signing */
    const char *value;           /* trimmed and space-collapsed for signing */
};

struct sigv4_request {
    const char *method;
    const char *path;            /* as on the wire; decoded then encoded once, never normalised */
    const char *query;           /* as on the wire without '?'; NULL or "" for none */
    const struct sigv4_header *headers; /* every header to sign, host and x-amz-date included */
    size_t n_headers;
    const char *payload_hash;    /* hex SHA-256, SIGV4_UNSIGNED_PAYLOAD or SIGV4_STREAMING_PAYLOAD */
};

/* Results. Initialise with sigv4_out_init(), release with sigv4_out_free(). */
struct sigv4_out {
    struct buf creq;             /* canonical request */
    struct buf sts;              /* string to sign */
    struct buf signed_headers;   /* "host;x-amz-date" */
    struct buf authorization;    /* the Authorization header value (sigv4_sign only) */
    char signature[65];          /* lower-case hex */
};

void sigv4_out_init(struct sigv4_out *o);
void sigv4_out_free(struct sigv4_out *o);

/* Header signing. amz_date must be the x-amz-date value among the headers. */
enum sl_err sigv4_sign(const struct sigv4_key *k, const char *amz_date,
                       const struct sigv4_request *r, struct sigv4_out *out);

/* Query-string signing (presigned URL). host is the Host header the client will send
 * (lower case, ":port" when not the scheme's default). extra_query (wire form, may be NULL)
 * is signed too, e.g. "response-content-disposition=...". headers are further headers the
 * client must send exactly (content-type, content-length); host is always signed.
 * On success *query_out holds the full query string to put after '?'. */
struct sigv4_presign {
    const char *method;
    const char *host;
    const char *path;
    const char *extra_query;
    const struct sigv4_header *headers;
    size_t n_headers;
    long expires;                /* seconds, 1..SIGV4_MAX_EXPIRES */
};

enum sl_err sigv4_presign(const struct sigv4_key *k, const char *amz_date,
                          const struct sigv4_presign *p, struct sigv4_out *out,
                          struct buf *query_out);

/* The X-Amz-Signature of a browser POST policy: HMAC over the exact base64 policy text. */
enum sl_err sigv4_post_signature(const struct sigv4_key *k, const char *date8,
                                 const char *policy_b64, char sig[65]);

/* aws-chunked (STREAMING-AWS4-HMAC-SHA256-PAYLOAD): the signature of one chunk, chained on the
 * previous one (the seed signature for the first chunk). */
enum sl_err sigv4_chunk_signature(const unsigned char signing_key[32], const char *amz_date,
                                  const char *scope, const char *prev_sig, const void *data,
                                  size_t n, char sig[65]);

/* Building blocks, exposed for tests and for callers that build URLs. */
enum sl_err sigv4_signing_key(const struct sigv4_key *k, const char *date8,
                              unsigned char out[32]);
void sigv4_sha256_hex(const void *data, size_t n, char out[65]);
void sigv4_hex(const unsigned char *in, size_t n, char *out); /* out: 2n+1 bytes */
/* Percent-encode every byte but A-Z a-z 0-9 - _ . ~ (and '/' when keep_slash). */
enum sl_err sigv4_uri_encode(struct buf *out, const char *s, size_t n, int keep_slash);
enum sl_err sigv4_canonical_path(struct buf *out, const char *path);
enum sl_err sigv4_canonical_query(struct buf *out, const char *query);
/* 1 if s is "YYYYMMDDTHHMMSSZ" (digits where digits belong) */
int sigv4_valid_amz_date(const char *s);

#endif
