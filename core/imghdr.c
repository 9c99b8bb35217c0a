#include "imghdr.h"

#include <string.h>

static unsigned be16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }
static unsigned le16(const unsigned char *p) { return (unsigned)p[1] << 8 | p[0]; }
static unsigned be32(const unsigned char *p)
{
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}
static unsigned le24(const unsigned char *p)
{
    return (unsigned)p[2] << 16 | (unsigned)p[1] << 8 | p[0];
}

enum img_type img_sniff(const void *data, size_t n)
{
    const unsigned char *p = data;
    if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        return IMG_JPEG;
    if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        return IMG_PNG;
    if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0))
        return IMG_GIF;
    if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
        return IMG_WEBP;
    return IMG_NONE;
}

const char *img_type_name(enum img_type t)
{
    switch (t) {
    case IMG_JPEG: return "jpeg";
    case IMG_PNG: return "png";
    case IMG_GIF: return "gif";
    case IMG_WEBP: return "webp";
    default: return "none";
    }
}

static enum sl_err jpeg_dims(const unsigned char *p, size_t n, unsigned *w, unsigned *h)
{
    size_t i = 2;
    while (i + 4 <= n) {
        if (p[i] != 0xff)
            return SL_EBADREQ;
        unsigned char m = p[i + 1];
        if (m == 0xff) {          /* fill bytes */
            i++;
            continue;
        }
        if (m == 0xd8 || (m >= 0xd0 && m <= 0xd7) || m == 0x01) {
            i += 2;               /* markers without a length */
            continue;
        }
        if (m == 0xd9 || m == 0xda)
            return SL_EBADREQ;    /* end, or scan data, before any frame header */
        unsigned len = be16(p + i + 2);
        if (len < 2)
            return SL_EBADREQ;
        int sof = (m >= 0xc0 && m <= 0xcf) && m != 0xc4 && m != 0xc8 && m != 0xcc;
        if (sof) {
            if (i + 9 > n || len < 7)
                return SL_EBADREQ;
            *h = be16(p + i + 5);
            *w = be16(p + i + 7);
            return SL_OK;
        }
        i += 2 + (size_t)len;
    }
    return SL_EBADREQ;
}

static enum sl_err webp_dims(const unsigned char *p, size_t n, unsigned *w, unsigned *h)
{
    if (n < 30)
        return SL_EBADREQ;
    if (memcmp(p + 12, "VP8 ", 4) == 0) {
        /* lossy: a key frame's start code, then 14-bit sizes */
        if (p[23] != 0x9d || p[24] != 0x01 || p[25] != 0x2a)
            return SL_EBADREQ;
        *w = le16(p + 26) & 0x3fff;
        *h = le16(p + 28) & 0x3fff;
    } else if (memcmp(p + 12, "VP8L", 4) == 0) {
        if (p[20] != 0x2f)
            return SL_EBADREQ;
        unsigned b = (unsigned)p[21] | (unsigned)p[22] << 8 | (unsigned)p[23] << 16 |
                     (unsigned)p[24] << 24;
        *w = (b & 0x3fff) + 1;
        *h = ((b >> 14) & 0x3fff) + 1;
    } else if (memcmp(p + 12, "VP8X", 4) == 0) {
        *w = le24(p + 24) + 1;
        *h = le24(p + 27) + 1;
    } else {
        return SL_EBADREQ;
    }
    return SL_OK;
}

enum sl_err img_dimensions(const void *data, size_t n, enum img_type *t, unsigned *w,
                           unsigned *h)
{
    const unsigned char *p = data;
    enum sl_err e = SL_EBADREQ;
    *w = *h = 0;
    *t = img_sniff(p, n);
    switch (*t) {
    case IMG_JPEG:
        e = jpeg_dims(p, n, w, h);
        break;
    case IMG_PNG:
        if (n >= 24 && memcmp(p + 12, "IHDR", 4) == 0) {
            *w = be32(p + 16);
            *h = be32(p + 20);
            e = SL_OK;
        }
        break;
    case IMG_GIF:
        if (n >= 10) {
            *w = le16(p + 6);
            *h = le16(p + 8);
            e = SL_OK;
        }
        break;
    case IMG_WEBP:
        e = webp_dims(p, n, w, h);
        break;
    default:
        break;
    }
    if (e)
        return e;
    if (*w == 0 || *h == 0 || *w > 0x7fffffffu || *h > 0x7fffffffu)
        return SL_EBADREQ;
    return SL_OK;
}
