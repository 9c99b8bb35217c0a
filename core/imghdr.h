/* imghdr: what an image is and how big, from its first bytes, without decoding it.
 * Pure and defensive (no GD here): the upload path sniffs the magic bytes to decide whether
 * a drop gets a thumbnail job, and the thumbnailer checks the pixel count against its limit
 * before it lets a decoder allocate anything (decompression bombs). */
#ifndef SLUICE_IMGHDR_H
#define SLUICE_IMGHDR_H

#include <stddef.h>

#include "err.h"

enum img_type { IMG_NONE, IMG_JPEG, IMG_PNG, IMG_GIF, IMG_WEBP };

#define IMG_SNIFF_BYTES 16   /* what img_sniff needs to see */

enum img_type img_sniff(const void *p, size_t n);
const char *img_type_name(enum img_type t);       /* "jpeg", ..., "none" */
/* Dimensions from the header. SL_EBADREQ if it is not an image of a known type or the header
 * is cut short or nonsensical (a zero side). */
enum sl_err img_dimensions(const void *p, size_t n, enum img_type *t, unsigned *w,
                           unsigned *h);

#endif
