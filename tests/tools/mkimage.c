/* mkimage: test images made with GD, and their header facts read back.
 *   mkimage TYPE W H OUT [ORIENTATION]   TYPE jpeg|png|gif|webp; a JPEG may get an EXIF
 *                                        orientation; left half red, right half blue
 *   mkimage --info FILE                  prints "TYPE W H" from the header (imghdr) */
#include <gd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imghdr.h"

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--info")) {
        FILE *f = fopen(argv[2], "rb");
        static unsigned char buf[1 << 20];
        size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
        if (f)
            fclose(f);
        enum img_type t;
        unsigned w, h;
        if (img_dimensions(buf, n, &t, &w, &h))
            printf("none 0 0\n");
        else
            printf("%s %u %u\n", img_type_name(t), w, h);
        return 0;
    }
    if (argc < 5)
        return 2;
    int w = atoi(argv[2]), h = atoi(argv[3]), o = argc > 5 ? atoi(argv[5]) : 1;
    gdImagePtr im = gdImageCreateTrueColor(w, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            gdImageSetPixel(im, x, y, x < w / 2 ? gdTrueColor(220, 20, 20) : gdTrueColor(20, 20, 220));
    int n = 0;
    void *p = !strcmp(argv[1], "jpeg") ? gdImageJpegPtr(im, &n, 90)
              : !strcmp(argv[1], "png") ? gdImagePngPtr(im, &n)
              : !strcmp(argv[1], "gif") ? gdImageGifPtr(im, &n)
                                        : gdImageWebpPtr(im, &n);
    FILE *f = fopen(argv[4], "wb");
    if (!f || !p)
        return 1;
    if (!strcmp(argv[1], "jpeg") && o != 1) {
        unsigned char app1[] = {0xff, 0xe1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0x00,
                                0x2a, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01, 0x01, 0x12, 0x00, 0x03,
                                0x00, 0x00, 0x00, 0x01, 0x00, (unsigned char)o, 0x00, 0x00, 0x00,
                                0x00, 0x00, 0x00};
        fwrite(p, 1, 2, f);
        fwrite(app1, 1, sizeof app1, f);
        fwrite((char *)p + 2, 1, (size_t)n - 2, f);
    } else {
        fwrite(p, 1, (size_t)n, f);
    }
    fclose(f);
    gdFree(p);
    gdImageDestroy(im);
    return 0;
}
