/* thumb: one thumbnail from one image in memory. The only module (with thumbd.c) that uses
 * GD, libjpeg and libexif; this header exposes none of them.
 *
 * Hostile input is expected: the pixel count is read from the header and checked against
 * max_pixels before any decoder allocates; corrupt or truncated data (libjpeg's warnings
 * included) fails cleanly with SL_EBADREQ. Large JPEGs are decoded at a reduced scale by
 * libjpeg's DCT scaling (1/2, 1/4, 1/8), never below the thumbnail's size, then resampled. */
#ifndef SLUICE_THUMB_H
#define SLUICE_THUMB_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "imghdr.h"

struct thumb_opts {
    unsigned max_edge;          /* longest edge of the result, px */
    uint64_t max_pixels;        /* refuse bigger sources */
    int webp;                   /* 1: WebP out, 0: JPEG out */
    int quality;                /* 1..100 */
    int reduced_decode;         /* 1: DCT-scaled JPEG decode (0 only for benchmarks) */
};

struct thumb_info {
    enum img_type type;
    unsigned src_w, src_h;      /* as stored */
    unsigned decoded_w, decoded_h;
    int orientation;            /* EXIF 1..8, 1 when absent */
    unsigned w, h;              /* the thumbnail, upright */
};

/* *out is malloc'ed; the caller frees it. */
enum sl_err thumb_make(const void *src, size_t n, const struct thumb_opts *o,
                       unsigned char **out, size_t *out_len, struct thumb_info *info);

#endif
