/* body: the small JSON request bodies of the API, parsed with jansson into plain structs.
 * Pure (no FastCGI, no I/O), so the fuzzer drives them directly. Each returns SL_EBADREQ
 * for anything that is not a JSON object, a duplicate member, or a known member of the
 * wrong type or range; unknown members are ignored (clients add their own). */
#ifndef SLUICE_BODY_H
#define SLUICE_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "drop.h"
#include "err.h"
#include "s3.h"

/* POST /api/uploads: {"name", "size", "content_type", "mode": "put" | "post"}; name and size
 * are required */
struct body_create {
    char name[DROP_NAME_MAX + 1];   /* sanitised */
    uint64_t size;
    char content_type[128];         /* as sent, "" when absent */
    int post;                       /* mode "post" */
};
enum sl_err body_parse_create(const char *s, size_t n, struct body_create *out);

/* POST /api/drops?reserve: {"name", "size"}, both optional (an empty body is fine) */
struct body_reserve {
    char name[DROP_NAME_MAX + 1];   /* sanitised; "file" when absent */
    uint64_t size;                  /* 0 when absent */
};
enum sl_err body_parse_reserve(const char *s, size_t n, struct body_reserve *out);

/* POST /api/uploads/{id}/complete: nothing, or {"sha256": "<64 lower-case hex>"} */
enum sl_err body_parse_complete(const char *s, size_t n, char sha256[65]);

/* POST /s3/multipart (Uppy): {"filename", "type", "metadata": {...}}; all optional */
struct body_uppy_create {
    char name[DROP_NAME_MAX + 1];   /* sanitised; "file" when absent */
    char type[128];
};
enum sl_err body_parse_uppy_create(const char *s, size_t n, struct body_uppy_create *out);

/* POST /s3/multipart/{uploadId}/complete (Uppy): {"parts": [{"PartNumber": n, "ETag": "..."},
 * ...]}, the parts the client uploaded. Required: at least one part, numbered 1..N with each
 * number once (any order) — a gap is a part the client never had, so the file would be
 * truncated; an ETag of 1..127 bytes. *parts (number and etag; size 0) comes back sorted by
 * number and malloc'ed: the caller free()s it. After an error it is NULL. */
enum sl_err body_parse_uppy_complete(const char *s, size_t n, struct s3_part **parts,
                                     size_t *count);

#endif
