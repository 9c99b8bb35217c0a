/* s3_internal: what the files of the S3 client share. Only core/s3_*.c include it, and
 * tests/unit/test_s3_list.c, which drives the pagination walker below without a network.
 *
 * The split is curl's, transfer machinery apart from protocol operations:
 *   s3_transport.c  one attempt (headers, signing, curl callbacks), retries with backoff,
 *                   error mapping; the client and the result
 *   s3_object.c     PUT / GET / HEAD / DELETE of an object
 *   s3_mpu.c        the multipart upload calls
 *   s3_list.c       the listings, all through one pagination walker
 *   s3_bucket.c     the bucket itself and its XML subresources
 *   s3_stats.c      the process-wide request statistics
 *   s3_url.c        the pure helpers: URLs, presigning, POST policies
 * An operation describes its request as a struct s3_req and hands it to s3_perform(). */
#ifndef SLUICE_S3_INTERNAL_H
#define SLUICE_S3_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "buf.h"
#include "s3.h"

#define S3_URL_MAX (64 * 1024)
#define S3_ERRBODY_MAX (64 * 1024)  /* S3 error documents are small; keep the first 64 KiB */
#define S3_MAX_META 64              /* x-amz-meta-* headers, sent or kept from an answer */

struct s3_client {
    const struct s3_config *cfg;    /* borrowed; outlives the client */
    CURL *curl;                     /* one handle: consecutive requests reuse the connection */
    uint64_t requests;              /* HTTP requests sent, retries included */
    uint64_t rng;                   /* xorshift state for the backoff jitter; never 0 */
};

/* ---- s3_transport.c ---- */

/* One logical request, as an operation describes it. Every pointer is borrowed for the call. */
struct s3_req {
    enum s3_op op;                  /* for the statistics */
    const char *method;
    const char *key;                /* NULL: the bucket itself */
    const char *query;              /* wire form, or NULL */
    const struct s3_body *body;     /* NULL: no body (a POST or PUT then sends Content-Length 0) */
    const struct s3_kv *headers;    /* further headers, all signed; no control characters */
    size_t n_headers;
    s3_write_fn sink;               /* a 2xx body goes here... */
    void *sink_ud;
    struct buf *resp;               /* ...or here (its cap bounds it), or is dropped */
    int streams;                    /* the body is streamed: no whole-request timeout */
};

/* Sends rq, retrying retryable failures while the body can be replayed; r is reset first and
 * holds the last attempt's answer. */
enum sl_err s3_perform(struct s3_client *c, const struct s3_req *rq, struct s3_result *r);

/* ---- s3_stats.c ---- */

/* One attempt of op took ms milliseconds (failed: it did not succeed). Thread-safe. */
void s3_stats_note(enum s3_op op, int64_t ms, int failed);

/* ---- s3_object.c ---- */

/* The headers a PUT or CreateMultipartUpload sends for its options. kv borrows from the
 * options and from owned, which s3_put_headers_free() releases. */
struct s3_put_headers {
    struct s3_kv kv[4 + S3_MAX_META];   /* type, cache, disposition, acl + metadata */
    char *owned[S3_MAX_META];
    size_t n, n_owned;
};

enum sl_err s3_put_headers_make(const struct s3_put_opts *o, struct s3_put_headers *h);
void s3_put_headers_free(struct s3_put_headers *h);

/* ---- s3_list.c ---- */

/* Appends "name=value" to a query (with '&' when it is not empty), value URI-encoded. */
enum sl_err s3_query_add(struct buf *q, const char *name, const char *value);
/* An S3 time ("2024-01-02T03:04:05.000Z") as a time_t; 0 when unreadable. */
time_t s3_parse_iso8601(const char *s);
/* The decoded text of the first <tag> inside xml[0..len) into scratch; "" when it is absent
 * or unreadable. The pointer is scratch's. */
const char *s3_xml_field(const char *xml, size_t len, const char *tag, struct buf *scratch);

/* One paginated listing, declared. Each page is a GET of key with the query
 *   [subresource=] then the params and the non-empty markers, in name order;
 * every <entry_tag> element of the answer becomes an entry; while <IsTruncated> is "true"
 * the next page starts at the markers the answer names in next[]. A truncated page whose
 * first next marker is empty, or whose markers all stay the same, is SL_ES3_REJECTED: it
 * would loop forever. */
#define S3_LIST_PARAMS 4
#define S3_LIST_MARKERS 2

struct s3_list_param {
    const char *name;
    const char *value;              /* NULL or "": not sent */
};

struct s3_list_spec {
    const char *key;                /* ListParts: the upload's object; NULL: the bucket */
    const char *subresource;        /* sent first, bare ("uploads" -> "uploads="); NULL: none */
    struct s3_list_param params[S3_LIST_PARAMS];  /* the same on every page */
    const char *marker[S3_LIST_MARKERS];  /* the markers' query names; unused ones NULL */
    const char *next[S3_LIST_MARKERS];    /* the answer's elements with their next values */
    const char *first;              /* marker[0]'s value on the first page; NULL: not sent */
    const char *entry_tag;          /* "Contents", "Upload", "Part" */
    size_t entry_size;
    size_t max_entries;             /* more in total: SL_ES3_REJECTED, unless stop_at_max */
    int stop_at_max;                /* 1: the walk ends (SL_OK) once it holds max_entries, and
                                     * fetches no further page: a listing read in bounded runs */
    /* Fills entry (zeroed) from the inner XML of one element; scratch is a work buffer. An
     * entry counts from the moment it is handed over, so free_entries also sees one whose
     * filling failed half-way. */
    enum sl_err (*on_entry)(void *entry, const char *xml, size_t len, struct buf *scratch);
    void (*free_entries)(void *entries, size_t n);  /* any n-prefix of what was filled */
};

/* Fetches one page: the answer's body to GET key?query into page (reset first). */
typedef enum sl_err (*s3_list_fetch_fn)(void *ud, const char *key, const char *query,
                                        struct buf *page);

/* Walks every page of spec through fetch. SL_OK: *out holds *n entries of entry_size
 * (NULL when none), which the caller frees with spec->free_entries. On failure *out is NULL,
 * *n 0, and what was gathered is freed. */
enum sl_err s3_list_walk(const struct s3_list_spec *spec, s3_list_fetch_fn fetch, void *ud,
                         void **out, size_t *n);
/* s3_list_walk() with every page a GET through c (retried as any request); r: the last one. */
enum sl_err s3_list_pages(struct s3_client *c, const struct s3_list_spec *spec, void **out,
                          size_t *n, struct s3_result *r);

/* The three listings' specs (strings borrowed until the walk ends); entries are struct
 * s3_object, struct s3_upload and struct s3_part. The last one is s3_mpu.c's. */
void s3_list_objects_spec(struct s3_list_spec *spec, const char *prefix);
void s3_list_uploads_spec(struct s3_list_spec *spec, const char *prefix);
void s3_list_parts_spec(struct s3_list_spec *spec, const char *key, const char *upload_id);
/* s3_list_objects_after()'s: at most max objects after start_after, max-keys written in keys
 * (which must outlive the walk). */
void s3_list_objects_after_spec(struct s3_list_spec *spec, const char *prefix,
                                const char *start_after, size_t max, char keys[24]);

#endif
