/* drop: what a drop is — ids, delete tokens, the metadata that rides on its S3 object, and the
 * careful handling of the user's filename. Pure: no I/O but the random source.
 *
 * Key layout under the configured prefix:
 *   <prefix>reserved/<id>   written when an upload is accepted, removed when it ends: what
 *                           the janitor looks at to clean up after a crash
 *   <prefix>drops/<id>      the bytes, written as they arrive, with the metadata known at
 *                           the start (name, created, delete-token hash, Content-Type)
 *   <prefix>meta/<id>       the drop's record: an empty object whose user metadata is all of
 *                           struct drop_meta (sha256 and size included). Writing it is the
 *                           commit: a drop exists, and is shown, only once its record does.
 *                           Before that, for a reservation whose id was handed out, a pending
 *                           record (state=pending, what was declared) stands there, so that
 *                           the share page of any id costs one HEAD (drop_lookup).
 * Why a record and not metadata added to the bytes afterwards: S3 can change an object's
 * metadata only by copying it, and a copy costs time proportional to its size or parts
 * (measured on RGW: 240 ms for 1 GiB in 128 parts; on AWS a real copy of every byte, and at
 * most 5 GiB). The record makes the commit one small PUT whatever the size. */
#ifndef SLUICE_DROP_H
#define SLUICE_DROP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "s3.h"

#define DROP_ID_LEN 22      /* 128 random bits, base64url */
#define DROP_TOKEN_LEN 43   /* 256 random bits, base64url */
#define DROP_NAME_MAX 255   /* bytes of UTF-8 kept from the user's filename */

struct drop_meta {
    char id[DROP_ID_LEN + 1];
    char name[DROP_NAME_MAX + 1];   /* sanitised UTF-8 */
    char content_type[128];
    uint64_t size;
    char sha256[65];
    char token_hash[65];            /* sha256 of the delete token, hex */
    time_t created;
    char image[8];                  /* sniffed from the bytes: "jpeg", ..., "none" */
    char etag[80];                  /* the bytes object's ETag at commit, without quotes; ""
                                     * unknown (a record from before it was kept) */
};

enum sl_err drop_new_id(char id[DROP_ID_LEN + 1]);
enum sl_err drop_new_token(char tok[DROP_TOKEN_LEN + 1]);
int drop_valid_id(const char *s);
void drop_token_hash(const char *token, char hex[65]);
/* Constant-time comparison of sha256(token) with the stored hash. */
int drop_token_matches(const char *token, const char *hash_hex);

/* "<prefix>drops/<id>" / "<prefix>incoming/<id>" into out (replaced). */
enum sl_err drop_key(struct buf *out, const char *prefix, const char *kind, const char *id);

/* A filename from a client, made safe to store and show: the last path component only, no
 * control characters, valid UTF-8 (bad bytes become '_'), no leading dots or spaces, at most
 * DROP_NAME_MAX bytes; "file" if nothing is left. */
void drop_sanitize_name(const char *in, size_t n, char out[DROP_NAME_MAX + 1]);
/* "type/subtype" lower-cased if ct is a well-formed media type (parameters dropped), else
 * the type guessed from the name's extension, else application/octet-stream. Active types
 * (HTML, SVG, XML, JavaScript, CSS, ...: what a browser would run if it ever rendered the
 * object) become application/octet-stream. */
void drop_content_type(const char *ct, const char *name, char out[128]);
/* Content-Disposition for a download (RFC 6266 / 5987): an ASCII fallback filename plus
 * filename*=UTF-8''... */
enum sl_err drop_content_disposition(struct buf *out, const char *disposition,
                                     const char *name);

/* Metadata <-> S3 user metadata. kv needs room for DROP_META_KV entries; their values point
 * into scratch, which must outlive kv. *n is DROP_META_KV for a record, or DROP_META_START
 * (name, token-hash, created: what is known before the bytes) when start_only; 0 on failure. */
#define DROP_META_KV 7
#define DROP_META_START 3
enum sl_err drop_meta_to_kv(const struct drop_meta *m, int start_only,
                            struct s3_kv kv[DROP_META_KV], size_t *n, struct buf *scratch);
/* From a HEAD: SL_ES3_NOTFOUND-free parse; SL_EBADREQ if sluice's metadata is absent (a
 * pending record has no sha256 or token hash, so it never parses as a record). */
enum sl_err drop_meta_from_result(const struct s3_result *r, const char *id,
                                  struct drop_meta *m);
/* A pending record (state=pending) from a HEAD of meta/<id>: name, size, created and type
 * into m (the rest zero), *autocommit from its flag. SL_EBADREQ if r is not one. */
enum sl_err drop_pending_from_result(const struct s3_result *r, const char *id,
                                     struct drop_meta *m, int *autocommit);

struct spool;
/* Commit the direct upload reserved as id once its bytes are in S3: checks the size (unless
 * the reservation declared none), sniffs the first 16 bytes, writes the record, queues a
 * thumbnail job (spool may be NULL), removes the reservation. SL_ECONFLICT: no bytes yet, or
 * committed already; SL_ENOTFOUND: no reservation; SL_EUNPROCESSABLE: the wrong size or
 * sha256 (those bytes are deleted, so nothing visible remains; if that delete fails, msg says
 * so and the janitor deletes them later). msg says why in words. */
/* want_sha256 (hex, or NULL): the client's checksum, verified by reading the object. known:
 * the reservation as the caller read it (to check a capability), or NULL to read it here. */
struct drop_resv;
enum sl_err drop_commit_direct(struct s3_client *c, const char *prefix, struct spool *spool,
                               const char *id, const struct drop_resv *known,
                               const char *want_sha256, struct drop_meta *m, char *msg,
                               size_t msglen);

/* ---- the drop's objects in S3 (record.c) ---- */

/* The record of id (HEAD meta/<id>) into *m. SL_ENOTFOUND: no such drop (not a valid id, no
 * record, a pending record, or an object without sluice's metadata); other codes: S3
 * trouble. */
enum sl_err drop_load(struct s3_client *c, const char *prefix, const char *id,
                      struct drop_meta *m);
/* What meta/<id> holds, in one HEAD: DROP_COMMITTED (*m is the record), DROP_PENDING (a
 * reservation's stand-in: *m has what was declared) or DROP_NONE (returns SL_ENOTFOUND).
 * *autocommit (may be NULL): the pending upload's complete call will never come. */
enum drop_state { DROP_NONE, DROP_PENDING, DROP_COMMITTED };
enum sl_err drop_lookup(struct s3_client *c, const char *prefix, const char *id,
                        struct drop_meta *m, enum drop_state *st, int *autocommit);
/* A reservation: the marker reserved/<id>, written before any byte, carrying what was
 * declared and the hash of the upload capability (drop/cap.h) that every later call on this
 * upload must present. */
struct drop_resv {
    struct drop_meta m;
    char kind[8];             /* "stream": the bytes come through a worker; "direct": to S3 */
    int any_size;             /* the size comes with the bytes (Uppy), not beforehand */
    char upload_hash[65];     /* sha256 of the upload token, hex; "" allows nobody */
    char client[65];          /* sha256 of the Authorization that made it; "" when not bound */
    int autocommit;           /* no complete call will come (a stock Uppy's simple POST): the
                               * share page and the janitor commit it once its bytes are in */
    time_t touched;           /* the marker's LastModified: its last sign of life, as
                               * drop_reservation read it (drop_reserve does not use it) */
    char token[33];           /* the name of the upload token that reserved it ("" when
                               * unknown): its limits and ledger entry, whoever continues */
    int published;            /* its id is handed out before the commit (every reservation
                               * but a plain stream's): drop_reserve writes a pending record */
};
/* Writes the marker, then (rv->published) the pending record; if that fails the marker is
 * removed again. Undo with drop_withdraw (nothing uploaded) or drop_discard. */
enum sl_err drop_reserve(struct s3_client *c, const char *prefix, const struct drop_resv *rv);
/* Writes rv's pending record again (over a failed commit's record, say). */
enum sl_err drop_publish(struct s3_client *c, const char *prefix, const struct drop_resv *rv);
/* The reservation of id into *rv. SL_ENOTFOUND: none (or not a valid id, or not sluice's). */
enum sl_err drop_reservation(struct s3_client *c, const char *prefix, const char *id,
                             struct drop_resv *rv);

/* How often a moving upload rewrites its marker (drop_touch): a quarter of reserve_ttl, at
 * most 5 minutes. The janitor allows this much on top of the marker's time. */
long drop_touch_every(long reserve_ttl);
/* A sign of life of the upload reserved as rv (as drop_reservation read it): its marker is
 * rewritten, the same but for its time, once drop_touch_every(reserve_ttl) has passed since the
 * last time; otherwise nothing is sent. A touch racing the upload's end may leave a marker for
 * a committed or cancelled drop: the janitor removes it once it is dead. */
enum sl_err drop_touch(struct s3_client *c, const char *prefix, struct drop_resv *rv,
                       long reserve_ttl, time_t now);

/* Cancels the reservation of id: aborts the multipart uploads at its key, deletes its bytes,
 * then (only once those are gone) its marker. For an id without a record only. */
enum sl_err drop_discard(struct s3_client *c, const char *prefix, const char *id);

/* Deletes the committed drop id: its thumbnail, bytes and any reservation marker left over,
 * then its record. Stops at the first failure (S3's code) with the record still there, so the
 * drop stays visible and a second call finishes the job; gone already counts as done. */
enum sl_err drop_delete(struct s3_client *c, const char *prefix, const char *id);

/* Deletes <prefix><kind>/<id>; gone already counts as done. */
enum sl_err drop_remove(struct s3_client *c, const char *prefix, const char *kind,
                        const char *id);
/* Removes the reservation marker of id (gone already counts as done): what a commit does
 * once the record is written. */
enum sl_err drop_unreserve(struct s3_client *c, const char *prefix, const char *id);
/* Ends the reservation of id without a drop: its pending record (if meta/<id> still is one:
 * a record that a racing commit wrote stays), then its marker. Its bytes are the caller's. */
enum sl_err drop_withdraw(struct s3_client *c, const char *prefix, const char *id);

/* An S3 ETag ("..." as sent, or bare) into out without its quotes; "" when absent or not
 * printable ASCII of at most 79 bytes. */
void drop_etag_copy(const char *etag, char out[80]);

/* Percent-encode s for a URL path segment or an ASCII header value. */
enum sl_err drop_pct_encode(struct buf *out, const char *s);
/* Percent-decode s[0..n) in place into out; SL_EBADREQ on a bad escape or a NUL byte. */
enum sl_err drop_pct_decode(struct buf *out, const char *s, size_t n);
/* The decoded value of name in a query string ('+' is a space); 0 if absent or malformed. */
int drop_query_get(const char *q, const char *name, struct buf *out);

#endif
