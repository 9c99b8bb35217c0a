/* Image headers: type and size from the first bytes, for every format, and every kind of
 * short or nonsensical header refused. Real encoded images are tested in thumbs' tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "imghdr.h"

struct hcase {
    const char *what;
    const unsigned char *p;
    size_t n;
    enum sl_err e;
    enum img_type t;
    unsigned w, h;
};

static const unsigned char png_bomb[] = {
    0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
    0x00, 0x00, 0xc3, 0x50, 0x00, 0x00, 0xc3, 0x50, 8, 2, 0, 0, 0};   /* 50000 x 50000 */
static const unsigned char jpeg_app0_sof0[] = {
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0,
    0xff, 0xc0, 0x00, 0x11, 0x08, 0x0b, 0xb8, 0x0f, 0xa0, 0x03};       /* 4000 x 3000 */
static const unsigned char jpeg_progressive_fill[] = {
    0xff, 0xd8, 0xff, 0xff, 0xc2, 0x00, 0x11, 0x08, 0x00, 0x10, 0x00, 0x20, 0x03}; /* 32x16 */
static const unsigned char jpeg_dht_only[] = {0xff, 0xd8, 0xff, 0xc4, 0x00, 0x04, 0, 0,
                                              0xff, 0xd9};
static const unsigned char jpeg_zero_len[] = {0xff, 0xd8, 0xff, 0xe1, 0x00, 0x00, 0, 0};
static const unsigned char gif[] = {'G', 'I', 'F', '8', '9', 'a', 0x40, 0x01, 0xf0, 0x00};
static const unsigned char webp_vp8[] = {
    'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', ' ', 0, 0, 0, 0,
    0, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01};                 /* 640 x 480 */
static const unsigned char webp_vp8l[] = {
    'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'L', 0, 0, 0, 0,
    0x2f, 0x63, 0x40, 0x1f, 0, 0, 0, 0, 0, 0};   /* w-1 = 99, h-1 = 125 -> 100 x 126 */
static const unsigned char webp_vp8x[] = {
    'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X', 10, 0, 0, 0,
    0, 0, 0, 0, 0x1f, 0x4e, 0x00, 0x1f, 0x4e, 0x00};                    /* 20000 x 20000 */
static const unsigned char gif_zero[] = {'G', 'I', 'F', '8', '7', 'a', 0, 0, 5, 0};
static const unsigned char text[] = "hello, this is not an image at all";

static void test_headers(void **state)
{
    (void)state;
    const struct hcase t[] = {
        {"png bomb", png_bomb, sizeof png_bomb, SL_OK, IMG_PNG, 50000, 50000},
        {"jpeg", jpeg_app0_sof0, sizeof jpeg_app0_sof0, SL_OK, IMG_JPEG, 4000, 3000},
        {"progressive jpeg", jpeg_progressive_fill, sizeof jpeg_progressive_fill, SL_OK,
         IMG_JPEG, 32, 16},
        {"gif", gif, sizeof gif, SL_OK, IMG_GIF, 320, 240},
        {"webp lossy", webp_vp8, sizeof webp_vp8, SL_OK, IMG_WEBP, 640, 480},
        {"webp lossless", webp_vp8l, sizeof webp_vp8l, SL_OK, IMG_WEBP, 100, 126},
        {"webp extended", webp_vp8x, sizeof webp_vp8x, SL_OK, IMG_WEBP, 20000, 20000},
        {"png cut in the header", png_bomb, 20, SL_EBADREQ, IMG_PNG, 0, 0},
        {"jpeg cut before its frame", jpeg_app0_sof0, 22, SL_EBADREQ, IMG_JPEG, 0, 0},
        {"jpeg without a frame", jpeg_dht_only, sizeof jpeg_dht_only, SL_EBADREQ, IMG_JPEG, 0, 0},
        {"jpeg segment of length 0", jpeg_zero_len, sizeof jpeg_zero_len, SL_EBADREQ, IMG_JPEG,
         0, 0},
        {"gif of width 0", gif_zero, sizeof gif_zero, SL_EBADREQ, IMG_GIF, 0, 0},
        {"webp cut", webp_vp8, 20, SL_EBADREQ, IMG_WEBP, 0, 0},
        {"text", text, sizeof text - 1, SL_EBADREQ, IMG_NONE, 0, 0},
        {"empty", text, 0, SL_EBADREQ, IMG_NONE, 0, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        enum img_type ty;
        unsigned w, h;
        enum sl_err e = img_dimensions(t[i].p, t[i].n, &ty, &w, &h);
        if (e != t[i].e || ty != t[i].t || (e == SL_OK && (w != t[i].w || h != t[i].h)))
            fail_msg("%s: got %d %s %ux%u", t[i].what, e, img_type_name(ty), w, h);
    }
}

static void test_sniff(void **state)
{
    (void)state;
    assert_int_equal(img_sniff(jpeg_app0_sof0, 3), IMG_JPEG);
    assert_int_equal(img_sniff(jpeg_app0_sof0, 2), IMG_NONE);
    assert_int_equal(img_sniff(png_bomb, 8), IMG_PNG);
    assert_int_equal(img_sniff("GIF88a", 6), IMG_NONE);
    assert_int_equal(img_sniff("RIFF\0\0\0\0WAVE", 12), IMG_NONE);
    assert_string_equal(img_type_name(IMG_WEBP), "webp");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_sniff),
    };
    return cmocka_run_group_tests_name("imghdr", tests, NULL, NULL);
}
