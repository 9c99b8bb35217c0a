/* bench: thumbnail of a 12-megapixel JPEG three ways, interleaved in the same run:
 *   gd-plain    GD's own decode at full size + gdImageCopyResampled (the baseline)
 *   full-decode sluice's path with DCT scaling off (libjpeg at full size + resample)
 *   dct-scaled  sluice's path: libjpeg decodes at 1/8 (never below the thumbnail) + resample
 * Prints median and min-max milliseconds and the ratio to the baseline. Not a test. */
#include <gd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "thumb.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double gd_plain(const void *jpg, int n)
{
    double t0 = now_ms();
    gdImagePtr im = gdImageCreateFromJpegPtr(n, (void *)jpg);
    gdImagePtr t = gdImageCreateTrueColor(320, 240);
    gdImageCopyResampled(t, im, 0, 0, 0, 0, 320, 240, gdImageSX(im), gdImageSY(im));
    int size;
    void *out = gdImageJpegPtr(t, &size, 82);
    gdFree(out);
    gdImageDestroy(t);
    gdImageDestroy(im);
    return now_ms() - t0;
}

static double sluice(const void *jpg, size_t n, int reduced)
{
    struct thumb_opts o = {.max_edge = 320, .max_pixels = 100000000, .quality = 82,
                           .reduced_decode = reduced};
    unsigned char *out;
    size_t on;
    struct thumb_info info;
    double t0 = now_ms();
    if (thumb_make(jpg, n, &o, &out, &on, &info) != SL_OK) {
        fprintf(stderr, "thumb_make failed\n");
        exit(1);
    }
    double t = now_ms() - t0;
    free(out);
    return t;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    /* a photo-like 4000 x 3000: smooth gradients plus sensor-like noise */
    gdImagePtr im = gdImageCreateTrueColor(4000, 3000);
    unsigned seed = 12345;
    for (int y = 0; y < 3000; y++)
        for (int x = 0; x < 4000; x++) {
            seed = seed * 1103515245u + 12345u;
            int noise = (int)((seed >> 16) % 24) - 12;
            int r = (x * 255 / 4000 + noise) & 255, g = (y * 255 / 3000 + noise) & 255;
            int b = ((x + y) * 255 / 7000 + noise) & 255;
            im->tpixels[y][x] = gdTrueColor(r, g, b);
        }
    int n;
    void *jpg = gdImageJpegPtr(im, &n, 90);
    gdImageDestroy(im);
    printf("source: 4000x3000 JPEG, %.1f MB; thumbnail 320x240; %d rounds, interleaved\n",
           n / 1e6, rounds);
    double *t[3];
    for (int k = 0; k < 3; k++)
        t[k] = calloc((size_t)rounds, sizeof(double));
    for (int i = 0; i < rounds; i++) {
        t[0][i] = gd_plain(jpg, n);
        t[1][i] = sluice(jpg, (size_t)n, 0);
        t[2][i] = sluice(jpg, (size_t)n, 1);
    }
    static const char *const names[3] = {"gd-plain (baseline)", "full-decode", "dct-scaled"};
    double base = 0;
    printf("%-22s %10s %19s %8s\n", "method", "median ms", "min-max ms", "ratio");
    for (int k = 0; k < 3; k++) {
        qsort(t[k], (size_t)rounds, sizeof(double), cmp);
        double med = t[k][rounds / 2];
        if (k == 0)
            base = med;
        printf("%-22s %10.1f %9.1f-%-9.1f %7.2fx\n", names[k], med, t[k][0], t[k][rounds - 1],
               base / med);
        free(t[k]);
    }
    printf("(ratio = baseline median / method median: above 1 is faster)\n");
    gdFree(jpg);
    return 0;
}
