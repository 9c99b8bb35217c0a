#include "json.h"

#include <string.h>

#include "utf8.h"

enum sl_err json_strn(struct buf *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    enum sl_err e;
    if ((e = buf_putc(out, '"')))
        return e;
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t l = 1;   /* input bytes this step takes */
        if (c == '"' || c == '\\') {
            char t[2] = {'\\', (char)c};
            e = buf_append(out, t, 2);
        } else if (c < 0x20 || c == 0x7f) {
            e = buf_printf(out, "\\u%04x", c);
        } else if (c < 0x80) {
            e = buf_putc(out, (char)c);
        } else {
            l = utf8_seq_len(p + i, n - i);
            if (l == 0) {
                e = buf_puts(out, "\xef\xbf\xbd");   /* not UTF-8: U+FFFD for this byte */
                l = 1;
            } else {
                e = buf_append(out, p + i, l);
            }
        }
        if (e)
            return e;
        i += l;
    }
    return buf_putc(out, '"');
}

enum sl_err json_str(struct buf *out, const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return json_strn(out, s, n);
}
