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

struct jin {
    const char *s;
    size_t n, i;
};

static void ws(struct jin *j)
{
    while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' ||
                           j->s[j->i] == '\r'))
        j->i++;
}

static int hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;
        if (d > 15)
            return 0;
        *v = *v * 16 + d;
    }
    return 1;
}

static enum sl_err put_utf8(struct buf *out, unsigned cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | cp >> 6);
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | cp >> 12);
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | cp >> 18);
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return buf_append(out, b, n);
}

static enum sl_err jstring(struct jin *j, struct buf *out)
{
    buf_reset(out);
    if (j->i >= j->n || j->s[j->i] != '"')
        return SL_EBADREQ;
    j->i++;
    while (j->i < j->n) {
        unsigned char c = (unsigned char)j->s[j->i++];
        enum sl_err e;
        if (c == '"')
            return out->data ? SL_OK : buf_puts(out, "");
        if (c < 0x20)
            return SL_EBADREQ;
        if (c != '\\') {
            if ((e = buf_putc(out, (char)c)))
                return e;
            continue;
        }
        if (j->i >= j->n)
            return SL_EBADREQ;
        char x = j->s[j->i++];
        unsigned cp;
        switch (x) {
        case '"': case '\\': case '/': e = buf_putc(out, x); break;
        case 'b': e = buf_putc(out, '\b'); break;
        case 'f': e = buf_putc(out, '\f'); break;
        case 'n': e = buf_putc(out, '\n'); break;
        case 'r': e = buf_putc(out, '\r'); break;
        case 't': e = buf_putc(out, '\t'); break;
        case 'u':
            if (j->n - j->i < 4 || !hex4(j->s + j->i, &cp))
                return SL_EBADREQ;
            j->i += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {   /* a surrogate pair */
                unsigned lo;
                if (j->n - j->i < 6 || j->s[j->i] != '\\' || j->s[j->i + 1] != 'u' ||
                    !hex4(j->s + j->i + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
                    return SL_EBADREQ;
                j->i += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                return SL_EBADREQ;
            }
            if (cp == 0)
                return SL_EBADREQ;   /* no NUL inside C strings */
            e = put_utf8(out, cp);
            break;
        default: return SL_EBADREQ;
        }
        if (e)
            return e;
    }
    return SL_EBADREQ;
}

enum sl_err json_scan_object(const char *s, size_t n, json_member_fn cb, void *ud)
{
    struct jin j = {s, n, 0};
    struct buf key = BUF_INIT(1024), val = BUF_INIT(64 * 1024);
    enum sl_err e = SL_EBADREQ;
    ws(&j);
    if (j.i >= j.n || s[j.i] != '{')
        goto out;
    j.i++;
    ws(&j);
    if (j.i < j.n && s[j.i] == '}') {
        j.i++;
        e = SL_OK;
        goto end;
    }
    for (;;) {
        ws(&j);
        if ((e = jstring(&j, &key)))
            goto out;
        ws(&j);
        e = SL_EBADREQ;
        if (j.i >= j.n || s[j.i] != ':')
            goto out;
        j.i++;
        ws(&j);
        if (j.i >= j.n)
            goto out;
        char c = s[j.i];
        if (c == '"') {
            if ((e = jstring(&j, &val)))
                goto out;
            e = cb(ud, buf_str(&key), JSON_STRING, buf_str(&val), val.len);
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t st = j.i;
            while (j.i < j.n && strchr("+-.eE0123456789", s[j.i]))
                j.i++;
            e = cb(ud, buf_str(&key), JSON_NUMBER, s + st, j.i - st);
        } else if (n - j.i >= 4 && !memcmp(s + j.i, "true", 4)) {
            j.i += 4;
            e = cb(ud, buf_str(&key), JSON_TRUE, "true", 4);
        } else if (n - j.i >= 5 && !memcmp(s + j.i, "false", 5)) {
            j.i += 5;
            e = cb(ud, buf_str(&key), JSON_FALSE, "false", 5);
        } else if (n - j.i >= 4 && !memcmp(s + j.i, "null", 4)) {
            j.i += 4;
            e = cb(ud, buf_str(&key), JSON_NULL, "null", 4);
        } else {
            goto out;   /* nested values are not part of any request sluice takes */
        }
        if (e)
            goto out;
        ws(&j);
        e = SL_EBADREQ;
        if (j.i < j.n && s[j.i] == ',') {
            j.i++;
            continue;
        }
        if (j.i < j.n && s[j.i] == '}') {
            j.i++;
            e = SL_OK;
            break;
        }
        goto out;
    }
end:
    ws(&j);
    if (j.i != j.n)
        e = SL_EBADREQ;   /* trailing garbage */
out:
    buf_free(&key);
    buf_free(&val);
    return e;
}
