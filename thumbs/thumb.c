#include "thumb.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gd.h>
#include <jpeglib.h>
#include <libexif/exif-data.h>

/* ---- JPEG through libjpeg, at reduced scale ---- */

struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jmp;
    int warnings;
};

static void jpeg_fail(j_common_ptr cinfo)
{
    longjmp(((struct jerr *)cinfo->err)->jmp, 1);
}

static void jpeg_message(j_common_ptr cinfo, int level)
{
    if (level < 0)   /* a warning: premature end of data, corrupt entropy data, ... */
        ((struct jerr *)cinfo->err)->warnings++;
}

static void jpeg_silent(j_common_ptr cinfo)
{
    (void)cinfo;
}

/* the largest DCT scale denominator (1, 2, 4, 8) that keeps both sides >= the target */
static unsigned scale_denom(unsigned w, unsigned h, unsigned max_edge)
{
    unsigned longest = w > h ? w : h, d = 1;
    while (d < 8 && (longest + 2 * d - 1) / (2 * d) >= max_edge)
        d *= 2;
    return d;
}

static gdImagePtr decode_jpeg(const unsigned char *src, size_t n, unsigned max_edge, int reduce,
                              struct thumb_info *info, enum sl_err *err)
{
    struct jpeg_decompress_struct cinfo;
    struct jerr je;
    gdImagePtr volatile im = NULL;
    JSAMPROW volatile row = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&je.mgr);
    je.mgr.error_exit = jpeg_fail;
    je.mgr.emit_message = jpeg_message;
    je.mgr.output_message = jpeg_silent;
    je.warnings = 0;
    *err = SL_EBADREQ;
    if (setjmp(je.jmp)) {
        jpeg_destroy_decompress(&cinfo);
        if (im)
            gdImageDestroy(im);
        free(row);
        return NULL;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, src, (unsigned long)n);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        jpeg_destroy_decompress(&cinfo);
        *err = SL_OK;   /* libjpeg will not make RGB of it: the caller lets GD decode it */
        return NULL;
    }
    cinfo.out_color_space = JCS_RGB;
    cinfo.scale_num = 1;
    cinfo.scale_denom = reduce ? scale_denom(cinfo.image_width, cinfo.image_height, max_edge) : 1;
    cinfo.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&cinfo);
    info->decoded_w = cinfo.output_width;
    info->decoded_h = cinfo.output_height;
    im = gdImageCreateTrueColor((int)cinfo.output_width, (int)cinfo.output_height);
    row = malloc((size_t)cinfo.output_width * 3);
    if (!im || !row) {
        *err = SL_ENOMEM;
        longjmp(je.jmp, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        int y = (int)cinfo.output_scanline;
        JSAMPROW rows[1] = {row};
        if (jpeg_read_scanlines(&cinfo, rows, 1) != 1)
            longjmp(je.jmp, 1);
        for (unsigned x = 0; x < cinfo.output_width; x++)
            im->tpixels[y][x] = gdTrueColor(row[3 * x], row[3 * x + 1], row[3 * x + 2]);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    if (je.warnings) {   /* truncated or corrupt: fail rather than thumbnail grey */
        gdImageDestroy(im);
        return NULL;
    }
    *err = SL_OK;
    return im;
}

static int exif_orientation(const unsigned char *src, size_t n)
{
    ExifData *ed = exif_data_new_from_data(src, (unsigned int)n);
    int o = 1;
    if (ed) {
        ExifEntry *e = exif_data_get_entry(ed, EXIF_TAG_ORIENTATION);
        if (e && e->format == EXIF_FORMAT_SHORT && e->components >= 1 && e->size >= 2)
            o = exif_get_short(e->data, exif_data_get_byte_order(ed));
        exif_data_unref(ed);
    }
    return o >= 1 && o <= 8 ? o : 1;
}

/* apply EXIF orientation o to a (small) truecolor image */
static gdImagePtr orient(gdImagePtr im, int o)
{
    if (o == 1)
        return im;
    int w = gdImageSX(im), h = gdImageSY(im), swap = o >= 5;
    gdImagePtr out = gdImageCreateTrueColor(swap ? h : w, swap ? w : h);
    if (!out)
        return im;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            int nx, ny;
            switch (o) {
            case 2: nx = w - 1 - x; ny = y; break;             /* mirrored */
            case 3: nx = w - 1 - x; ny = h - 1 - y; break;     /* upside down */
            case 4: nx = x; ny = h - 1 - y; break;
            case 5: nx = y; ny = x; break;                     /* transposed */
            case 6: nx = h - 1 - y; ny = x; break;             /* rotated 90 cw to be upright */
            case 7: nx = h - 1 - y; ny = w - 1 - x; break;
            default: nx = y; ny = w - 1 - x; break;            /* 8: rotated 90 ccw */
            }
            out->tpixels[ny][nx] = im->tpixels[y][x];
        }
    }
    gdImageDestroy(im);
    return out;
}

static void gd_quiet(int priority, const char *format, va_list args)
{
    /* GD reports corrupt input on stderr; sluice reports it as the job's failure instead */
    (void)priority;
    (void)format;
    (void)args;
}

static pthread_once_t gd_once = PTHREAD_ONCE_INIT;

static void gd_init(void)
{
    gdSetErrorMethod(gd_quiet);
}

/* GD decodes a GIF cut short without complaint: a whole GIF ends with its trailer, ';' */
static int gif_complete(const unsigned char *p, size_t n)
{
    for (size_t i = n; i > 0 && n - i < 8; i--)
        if (p[i - 1] == 0x3b)
            return 1;
    return 0;
}

enum sl_err thumb_make(const void *src, size_t n, const struct thumb_opts *o,
                       unsigned char **out, size_t *out_len, struct thumb_info *info)
{
    pthread_once(&gd_once, gd_init);
    *out = NULL;
    *out_len = 0;
    memset(info, 0, sizeof *info);
    info->orientation = 1;
    if (n > INT32_MAX)
        return SL_ETOOBIG;
    enum sl_err e = img_dimensions(src, n, &info->type, &info->src_w, &info->src_h);
    if (e)
        return SL_EBADREQ;
    if ((uint64_t)info->src_w * info->src_h > o->max_pixels)
        return SL_ETOOBIG;   /* before any decoder allocates: decompression bombs stop here */

    gdImagePtr im = NULL, t = NULL;
    void *enc = NULL;
    switch (info->type) {
    case IMG_JPEG:
        im = decode_jpeg(src, n, o->max_edge, o->reduced_decode, info, &e);
        if (!im && e == SL_OK)   /* CMYK: GD knows how to */
            im = gdImageCreateFromJpegPtrEx((int)n, (void *)src, 0);
        if (!im && e == SL_OK)
            e = SL_EBADREQ;
        info->orientation = exif_orientation(src, n);
        break;
    case IMG_PNG: im = gdImageCreateFromPngPtr((int)n, (void *)src); break;
    case IMG_GIF:
        if (gif_complete(src, n))
            im = gdImageCreateFromGifPtr((int)n, (void *)src);
        break;
    case IMG_WEBP: im = gdImageCreateFromWebpPtr((int)n, (void *)src); break;
    default: break;
    }
    if (!im) {
        e = e ? e : SL_EBADREQ;
        goto out;
    }
    if (!info->decoded_w) {
        info->decoded_w = (unsigned)gdImageSX(im);
        info->decoded_h = (unsigned)gdImageSY(im);
    }

    /* fit the longest edge; never enlarge */
    unsigned sw = (unsigned)gdImageSX(im), sh = (unsigned)gdImageSY(im);
    unsigned tw = sw, th = sh;
    if (sw >= sh && sw > o->max_edge) {
        tw = o->max_edge;
        th = (unsigned)(((uint64_t)sh * o->max_edge + sw / 2) / sw);
    } else if (sh > sw && sh > o->max_edge) {
        th = o->max_edge;
        tw = (unsigned)(((uint64_t)sw * o->max_edge + sh / 2) / sh);
    }
    if (tw == 0)
        tw = 1;
    if (th == 0)
        th = 1;
    if (!(t = gdImageCreateTrueColor((int)tw, (int)th))) {
        e = SL_ENOMEM;
        goto out;
    }
    /* transparency flattened onto white: JPEG has no alpha, and white reads best */
    gdImageFilledRectangle(t, 0, 0, (int)tw - 1, (int)th - 1, gdTrueColor(255, 255, 255));
    gdImageAlphaBlending(t, 1);
    gdImageCopyResampled(t, im, 0, 0, 0, 0, (int)tw, (int)th, (int)sw, (int)sh);
    gdImageDestroy(im);   /* now, not at the end: the source is the big one */
    im = NULL;
    t = orient(t, info->orientation);
    info->w = (unsigned)gdImageSX(t);
    info->h = (unsigned)gdImageSY(t);

    int size = 0;
    enc = o->webp ? gdImageWebpPtrEx(t, &size, o->quality) : gdImageJpegPtr(t, &size, o->quality);
    if (!enc || size <= 0) {
        e = SL_EINTERNAL;
        goto out;
    }
    if (!(*out = malloc((size_t)size))) {
        e = SL_ENOMEM;
        goto out;
    }
    memcpy(*out, enc, (size_t)size);
    *out_len = (size_t)size;
    e = SL_OK;
out:
    if (enc)
        gdFree(enc);
    if (t)
        gdImageDestroy(t);
    if (im)
        gdImageDestroy(im);
    return e;
}
