/* Thumbnails of real images the test makes with GD: JPEG, PNG (with alpha), GIF and WebP in,
 * sizes and aspect ratios right, an EXIF-rotated JPEG comes out upright, large JPEGs decoded
 * at reduced scale; hostile input (a decompression bomb, truncated and corrupt files, a
 * non-image, an empty file) fails cleanly without a memory spike. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <gd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "thumb.h"

static const struct thumb_opts opts = {.max_edge = 320, .max_pixels = 40000000, .webp = 0,
                                       .quality = 85, .reduced_decode = 1};

/* an image w x h: left half red, right half blue, top-left quarter partly transparent */
static gdImagePtr make(int w, int h, int alpha)
{
    gdImagePtr im = gdImageCreateTrueColor(w, h);
    gdImageAlphaBlending(im, 0);
    gdImageSaveAlpha(im, 1);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int c = x < w / 2 ? gdTrueColor(220, 20, 20) : gdTrueColor(20, 20, 220);
            if (alpha && x < w / 2 && y < h / 2)
                c = gdTrueColorAlpha(0, 0, 0, gdAlphaTransparent);
            gdImageSetPixel(im, x, y, c);
        }
    return im;
}

struct blob {
    unsigned char *p;
    size_t n;
};

static struct blob encode(gdImagePtr im, enum img_type t)
{
    int n = 0;
    void *p = t == IMG_JPEG ? gdImageJpegPtr(im, &n, 90)
              : t == IMG_PNG ? gdImagePngPtr(im, &n)
              : t == IMG_GIF ? gdImageGifPtr(im, &n)
                             : gdImageWebpPtr(im, &n);
    assert_non_null(p);
    struct blob b = {malloc((size_t)n), (size_t)n};
    memcpy(b.p, p, (size_t)n);
    gdFree(p);
    return b;
}

static gdImagePtr decode_result(const unsigned char *p, size_t n)
{
    gdImagePtr im = img_sniff(p, n) == IMG_WEBP ? gdImageCreateFromWebpPtr((int)n, (void *)p)
                                                : gdImageCreateFromJpegPtr((int)n, (void *)p);
    assert_non_null(im);
    return im;
}

static int red(gdImagePtr im, int x, int y)
{
    int c = gdImageGetTrueColorPixel(im, x, y);
    return gdTrueColorGetRed(c) > 150 && gdTrueColorGetBlue(c) < 100;
}

static int blue(gdImagePtr im, int x, int y)
{
    int c = gdImageGetTrueColorPixel(im, x, y);
    return gdTrueColorGetBlue(c) > 150 && gdTrueColorGetRed(c) < 100;
}

static int white(gdImagePtr im, int x, int y)
{
    int c = gdImageGetTrueColorPixel(im, x, y);
    return gdTrueColorGetRed(c) > 230 && gdTrueColorGetGreen(c) > 230 &&
           gdTrueColorGetBlue(c) > 230;
}

static void run(enum img_type t, int w, int h, int alpha, int webp_out, unsigned want_w,
                unsigned want_h, struct thumb_info *info, gdImagePtr *result)
{
    gdImagePtr im = make(w, h, alpha);
    struct blob b = encode(im, t);
    gdImageDestroy(im);
    struct thumb_opts o = opts;
    o.webp = webp_out;
    unsigned char *out;
    size_t n;
    assert_int_equal(thumb_make(b.p, b.n, &o, &out, &n, info), SL_OK);
    assert_int_equal(info->type, t);
    assert_int_equal(info->src_w, w);
    assert_int_equal(info->src_h, h);
    assert_int_equal(info->w, want_w);
    assert_int_equal(info->h, want_h);
    assert_int_equal(img_sniff(out, n), webp_out ? IMG_WEBP : IMG_JPEG);
    *result = decode_result(out, n);
    assert_int_equal(gdImageSX(*result), want_w);
    assert_int_equal(gdImageSY(*result), want_h);
    free(out);
    free(b.p);
}

static void test_formats_and_sizes(void **state)
{
    (void)state;
    struct thumb_info i;
    gdImagePtr r;
    run(IMG_JPEG, 1200, 800, 0, 0, 320, 213, &i, &r);      /* landscape: 3:2 kept */
    assert_true(red(r, 10, 100) && blue(r, 310, 100));
    gdImageDestroy(r);
    run(IMG_PNG, 500, 1000, 1, 0, 160, 320, &i, &r);       /* portrait, with alpha */
    assert_true(white(r, 20, 20));                          /* transparency flattened to white */
    assert_true(red(r, 20, 300) && blue(r, 140, 20));
    gdImageDestroy(r);
    run(IMG_GIF, 300, 200, 0, 0, 300, 200, &i, &r);        /* smaller: never enlarged */
    gdImageDestroy(r);
    run(IMG_WEBP, 1000, 1000, 0, 1, 320, 320, &i, &r);     /* WebP in, WebP out */
    gdImageDestroy(r);
    run(IMG_JPEG, 4000, 3000, 0, 0, 320, 240, &i, &r);     /* reduced-scale decode */
    assert_int_equal(i.decoded_w, 500);                     /* 1/8 of 4000: still >= 320 */
    assert_int_equal(i.decoded_h, 375);
    gdImageDestroy(r);
    run(IMG_JPEG, 1000, 700, 0, 0, 320, 224, &i, &r);      /* 1/2 keeps >= 320, 1/4 would not */
    assert_int_equal(i.decoded_w, 500);
    gdImageDestroy(r);
}

/* insert an EXIF APP1 with Orientation = o right after SOI */
static struct blob with_orientation(struct blob j, int o)
{
    static const unsigned char head[] = {
        0xff, 0xe1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0,          /* APP1, length 34 */
        'M', 'M', 0x00, 0x2a, 0x00, 0x00, 0x00, 0x08,              /* big-endian TIFF, IFD at 8 */
        0x00, 0x01,                                                /* one entry */
        0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00};                                   /* no next IFD */
    struct blob b = {malloc(j.n + sizeof head), j.n + sizeof head};
    memcpy(b.p, j.p, 2);
    memcpy(b.p + 2, head, sizeof head);
    b.p[2 + 20 + 8 + 1] = (unsigned char)o;                        /* the SHORT's low byte */
    memcpy(b.p + 2 + sizeof head, j.p + 2, j.n - 2);
    free(j.p);
    return b;
}

static void test_exif_orientation(void **state)
{
    (void)state;
    /* stored 400 x 200, left red, right blue; orientation 6: shown rotated 90 degrees clockwise,
     * so upright it is 200 x 400 (thumbnail 160 x 320) with red on top */
    static const struct { int o; unsigned w, h; int red_top, red_left; } t[] = {
        {1, 320, 160, -1, 1}, {6, 160, 320, 1, -1}, {8, 160, 320, 0, -1}, {3, 320, 160, -1, 0},
    };
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
        gdImagePtr im = make(400, 200, 0);
        struct blob b = with_orientation(encode(im, IMG_JPEG), t[k].o);
        gdImageDestroy(im);
        unsigned char *out;
        size_t n;
        struct thumb_info i;
        assert_int_equal(thumb_make(b.p, b.n, &opts, &out, &n, &i), SL_OK);
        assert_int_equal(i.orientation, t[k].o);
        assert_int_equal(i.w, t[k].w);
        assert_int_equal(i.h, t[k].h);
        gdImagePtr r = decode_result(out, n);
        if (t[k].red_top >= 0) {
            assert_int_equal(red(r, 80, 20), t[k].red_top);
            assert_int_equal(blue(r, 80, 300), t[k].red_top);
        }
        if (t[k].red_left >= 0) {
            assert_int_equal(red(r, 20, 80), t[k].red_left);
            assert_int_equal(blue(r, 300, 80), t[k].red_left);
        }
        gdImageDestroy(r);
        free(out);
        free(b.p);
    }
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6))
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

static void test_hostile(void **state)
{
    (void)state;
    long before = rss_kb();
    unsigned char *out = NULL;
    size_t n;
    struct thumb_info i;
    /* a 50,000 x 50,000 PNG: refused from its header, never allocated (10 GB as pixels) */
    static const unsigned char bomb[] = {
        0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
        0x00, 0x00, 0xc3, 0x50, 0x00, 0x00, 0xc3, 0x50, 8, 6, 0, 0, 0, 0x12, 0x34, 0x56, 0x78};
    assert_int_equal(thumb_make(bomb, sizeof bomb, &opts, &out, &n, &i), SL_ETOOBIG);
    assert_int_equal(i.src_w, 50000);
    /* real images cut short or damaged */
    gdImagePtr im = make(800, 600, 0);
    struct blob j = encode(im, IMG_JPEG), p = encode(im, IMG_PNG), g = encode(im, IMG_GIF);
    struct blob w = encode(im, IMG_WEBP);
    gdImageDestroy(im);
    assert_int_equal(thumb_make(j.p, j.n / 2, &opts, &out, &n, &i), SL_EBADREQ);
    assert_int_equal(thumb_make(p.p, p.n / 2, &opts, &out, &n, &i), SL_EBADREQ);
    assert_int_equal(thumb_make(g.p, g.n / 3, &opts, &out, &n, &i), SL_EBADREQ);
    assert_int_equal(thumb_make(w.p, w.n / 2, &opts, &out, &n, &i), SL_EBADREQ);
    for (size_t k = j.n / 3; k < j.n - 2; k += 97)
        j.p[k] ^= 0x5a;   /* corrupt the entropy-coded data */
    assert_int_equal(thumb_make(j.p, j.n, &opts, &out, &n, &i), SL_EBADREQ);
    static const char text[] = "this is a text file named photo.jpg";
    assert_int_equal(thumb_make(text, sizeof text - 1, &opts, &out, &n, &i), SL_EBADREQ);
    assert_int_equal(thumb_make("", 0, &opts, &out, &n, &i), SL_EBADREQ);
    assert_null(out);
    long after = rss_kb();
    print_message("peak RSS during the hostile inputs: %ld kB before, %ld kB after\n", before,
                  after);
    free(j.p);
    free(p.p);
    free(g.p);
    free(w.p);
    /* no spike: the bomb's 10 GB were never allocated (under valgrind or ASan the RSS is
     * theirs: shadow memory, quarantine) */
    const char *pre = getenv("LD_PRELOAD");
    int sanitized = pre && strstr(pre, "vgpreload");
#ifdef __SANITIZE_ADDRESS__
    sanitized = 1;
#endif
    if (!sanitized)
        assert_true(after - before < 16 * 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_formats_and_sizes),
        cmocka_unit_test(test_exif_orientation),
    };
    return cmocka_run_group_tests_name("thumb", tests, NULL, NULL);
}
