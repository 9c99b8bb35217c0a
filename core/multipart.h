/* multipart: a streaming multipart/form-data parser (RFC 7578 / 2046).
 *
 * Push bytes in any chunking with mp_feed(); the parser calls back at each part's start (with
 * its parsed headers), for each run of part data, and at each part's end. It never buffers a
 * part's body: memory is the parser struct plus one part's header block (capped). Input is
 * untrusted: every limit is checked and any malformation is SL_EBADREQ (SL_ETOOBIG for the
 * header and part-count caps). A callback's error stops the parser and is returned. */
#ifndef SLUICE_MULTIPART_H
#define SLUICE_MULTIPART_H

#include <stddef.h>

#include "err.h"

#define MP_BOUNDARY_MAX 70        /* RFC 2046 */
#define MP_HEADERS_MAX 8192       /* one part's header block */
#define MP_PARTS_MAX 64

struct mp_part {
    char name[128];               /* the form field name */
    char filename[1024];          /* raw, as sent (decoded from filename*= if present) */
    int has_filename;
    char content_type[128];       /* "" if none was sent */
};

struct mp_callbacks {
    enum sl_err (*part_begin)(void *ud, const struct mp_part *p);
    enum sl_err (*part_data)(void *ud, const void *data, size_t n);
    enum sl_err (*part_end)(void *ud);
};

struct mp_parser;

/* The boundary parameter of a Content-Type "multipart/form-data; boundary=..." */
enum sl_err mp_boundary(const char *content_type, char out[MP_BOUNDARY_MAX + 1]);
enum sl_err mp_new(const char *boundary, const struct mp_callbacks *cb, void *ud,
                   struct mp_parser **out);
enum sl_err mp_feed(struct mp_parser *p, const void *data, size_t n);
/* At the end of the body: SL_OK only if the closing boundary was seen. */
enum sl_err mp_finish(struct mp_parser *p);
void mp_free(struct mp_parser *p);

#endif
