#include "xml.h"

#include <string.h>

/* position of needle in hay[from..len), or len */
static size_t find(const char *hay, size_t len, size_t from, const char *needle, size_t nl)
{
    if (nl == 0 || from >= len)
        return len;
    for (size_t i = from; i + nl <= len; i++) {
        const char *p = memchr(hay + i, needle[0], len - i - nl + 1);
        if (!p)
            return len;
        i = (size_t)(p - hay);
        if (memcmp(p, needle, nl) == 0)
            return i;
    }
    return len;
}

int xml_next(const char *doc, size_t len, size_t *pos, const char *tag, const char **inner,
             size_t *inner_len)
{
    size_t tl = strlen(tag);
    if (tl == 0 || tl > 128)
        return 0;
    char open[132], close[134];
    open[0] = '<';
    memcpy(open + 1, tag, tl);
    close[0] = '<';
    close[1] = '/';
    memcpy(close + 2, tag, tl);
    close[tl + 2] = '>';
    size_t at = *pos;
    for (;;) {
        at = find(doc, len, at, open, tl + 1);
        if (at + tl + 1 >= len)
            return 0;
        char c = doc[at + tl + 1];
        if (c == '>' || c == ' ' || c == '/' || c == '\t' || c == '\r' || c == '\n')
            break;
        at += 1;   /* "<Keys" when looking for "<Key" */
    }
    size_t gt = find(doc, len, at, ">", 1);
    if (gt >= len)
        return 0;
    if (doc[gt - 1] == '/') {  /* <tag/> */
        *inner = doc + gt + 1;
        *inner_len = 0;
        *pos = gt + 1;
        return 1;
    }
    size_t end = find(doc, len, gt + 1, close, tl + 3);
    if (end >= len)
        return 0;
    *inner = doc + gt + 1;
    *inner_len = end - gt - 1;
    *pos = end + tl + 3;
    return 1;
}

enum sl_err xml_unescape(struct buf *out, const char *s, size_t n)
{
    static const struct { const char *ent; char c; } ents[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''},
    };
    for (size_t i = 0; i < n; i++) {
        enum sl_err e;
        if (s[i] != '&') {
            if ((e = buf_putc(out, s[i])))
                return e;
            continue;
        }
        size_t k;
        for (k = 0; k < sizeof ents / sizeof ents[0]; k++) {
            size_t el = strlen(ents[k].ent);
            if (n - i >= el && memcmp(s + i, ents[k].ent, el) == 0) {
                if ((e = buf_putc(out, ents[k].c)))
                    return e;
                i += el - 1;
                break;
            }
        }
        if (k < sizeof ents / sizeof ents[0])
            continue;
        /* &#NN; or &#xNN; — ASCII only; S3 uses them for control characters in keys */
        if (n - i >= 4 && s[i + 1] == '#') {
            size_t j = i + 2;
            int hex = j < n && (s[j] == 'x' || s[j] == 'X');
            unsigned v = 0, digits = 0;
            for (j += (size_t)hex; j < n && s[j] != ';' && digits < 6; j++, digits++) {
                int d = s[j] >= '0' && s[j] <= '9' ? s[j] - '0'
                        : hex && s[j] >= 'a' && s[j] <= 'f' ? s[j] - 'a' + 10
                        : hex && s[j] >= 'A' && s[j] <= 'F' ? s[j] - 'A' + 10 : -1;
                if (d < 0)
                    return SL_EBADREQ;
                v = v * (hex ? 16u : 10u) + (unsigned)d;
            }
            if (j < n && s[j] == ';' && digits > 0 && v > 0 && v < 128) {
                if ((e = buf_putc(out, (char)v)))
                    return e;
                i = j;
                continue;
            }
        }
        return SL_EBADREQ;
    }
    return SL_OK;
}

enum sl_err xml_get(const char *doc, size_t len, const char *tag, struct buf *out)
{
    size_t pos = 0, n;
    const char *inner;
    enum sl_err e;
    buf_reset(out);
    if (!doc || !xml_next(doc, len, &pos, tag, &inner, &n))
        return SL_EABSENT;
    if ((e = xml_unescape(out, inner, n)))
        return e;
    return out->data ? SL_OK : buf_puts(out, "");   /* <Tag/>: "" rather than no buffer */
}

enum sl_err xml_escape(struct buf *out, const char *s)
{
    for (; *s; s++) {
        enum sl_err e;
        switch (*s) {
        case '&': e = buf_puts(out, "&amp;"); break;
        case '<': e = buf_puts(out, "&lt;"); break;
        case '>': e = buf_puts(out, "&gt;"); break;
        case '"': e = buf_puts(out, "&quot;"); break;
        case '\'': e = buf_puts(out, "&apos;"); break;
        default: e = buf_putc(out, *s);
        }
        if (e)
            return e;
    }
    return SL_OK;
}
