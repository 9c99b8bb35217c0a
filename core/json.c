#include "json.h"

/* length of the valid UTF-8 sequence at s[0..n), or 0 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    unsigned cp = c & (0xff >> (len + 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

enum sl_err json_strn(struct buf *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    enum sl_err e = buf_putc(out, '"');
    size_t i = 0;
    while (!e && i < n) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            char t[2] = {'\\', (char)c};
            e = buf_append(out, t, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            e = buf_printf(out, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            e = buf_putc(out, (char)c);
            i++;
        } else {
            size_t l = utf8_len(p + i, n - i);
            if (l == 0) {
                e = buf_puts(out, "\xef\xbf\xbd");
                i++;
            } else {
                e = buf_append(out, p + i, l);
                i += l;
            }
        }
    }
    if (!e)
        e = buf_putc(out, '"');
    return e;
}

enum sl_err json_str(struct buf *out, const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return json_strn(out, s, n);
}
