#include "multipart.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

enum state {
    PREAMBLE,       /* before the first delimiter: discarded */
    AFTER_DELIM,    /* just matched a delimiter: "--" ends the body, else padding + CRLF */
    AFTER_DASH,     /* saw one '-' after a delimiter */
    PADDING_CR,     /* saw '\r' after a delimiter: need '\n' */
    HEADERS,        /* collecting one part's header block up to CRLF CRLF */
    BODY,           /* part data, scanning for the delimiter */
    EPILOGUE,       /* after the closing delimiter: discarded */
    FAILED,
};

struct mp_parser {
    enum state st;
    char delim[MP_BOUNDARY_MAX + 5];   /* "\r\n--" boundary */
    size_t dlen;
    size_t m;                          /* delimiter bytes matched so far */
    int in_part;
    int parts;
    struct buf hdr;
    struct mp_part part;
    enum sl_err err;
    const struct mp_callbacks *cb;
    void *ud;
};

static int bchar(int c)
{
    return isalnum(c) || strchr("'()+_,-./:=? ", c);
}

enum sl_err mp_boundary(const char *ct, char out[MP_BOUNDARY_MAX + 1])
{
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0)
        return SL_EBADREQ;
    const char *p = ct + 19;
    while (*p) {
        while (*p == ';' || *p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "boundary=", 9) == 0) {
            p += 9;
            size_t n = 0;
            if (*p == '"') {
                p++;
                while (p[n] && p[n] != '"')
                    n++;
                if (p[n] != '"')
                    return SL_EBADREQ;
            } else {
                while (p[n] && p[n] != ';' && p[n] != ' ' && p[n] != '\t')
                    n++;
            }
            if (n == 0 || n > MP_BOUNDARY_MAX || p[n - 1] == ' ')
                return SL_EBADREQ;
            for (size_t i = 0; i < n; i++)
                if (!bchar((unsigned char)p[i]))
                    return SL_EBADREQ;
            memcpy(out, p, n);
            out[n] = '\0';
            return SL_OK;
        }
        while (*p && *p != ';')
            p++;
    }
    return SL_EBADREQ;
}

enum sl_err mp_new(const char *boundary, const struct mp_callbacks *cb, void *ud,
                   struct mp_parser **out)
{
    *out = NULL;
    size_t bl = boundary ? strlen(boundary) : 0;
    if (bl == 0 || bl > MP_BOUNDARY_MAX)
        return SL_EBADREQ;
    struct mp_parser *p = calloc(1, sizeof *p);
    if (!p)
        return SL_ENOMEM;
    memcpy(p->delim, "\r\n--", 4);
    memcpy(p->delim + 4, boundary, bl);
    p->dlen = bl + 4;
    /* the first delimiter may open the body without a CRLF before it: pretend there was one */
    p->m = 2;
    p->st = PREAMBLE;
    buf_init(&p->hdr, MP_HEADERS_MAX);
    p->cb = cb;
    p->ud = ud;
    *out = p;
    return SL_OK;
}

void mp_free(struct mp_parser *p)
{
    if (!p)
        return;
    buf_free(&p->hdr);
    free(p);
}

/* value of parameter name in a header's parameter list, unquoted; 1 if found */
static int param(const char *v, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = v;
    while ((p = strchr(p, ';')) != NULL) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, name, nl) != 0 || p[nl] != '=')
            continue;
        p += nl + 1;
        size_t o = 0;
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;   /* quoted-pair */
                if (o + 1 < cap)
                    out[o++] = *p;
            }
            if (*p != '"')
                return 0;
        } else {
            for (; *p && *p != ';' && *p != ' ' && *p != '\t'; p++)
                if (o + 1 < cap)
                    out[o++] = *p;
        }
        out[o] = '\0';
        return 1;
    }
    return 0;
}

/* filename*=UTF-8''%xx... (RFC 5987) into out; 1 if usable */
static int ext_value(const char *v, char *out, size_t cap)
{
    char raw[1024];
    if (!param(v, "filename*", raw, sizeof raw))
        return 0;
    char *q = strstr(raw, "''");
    if (!q || strncasecmp(raw, "UTF-8", 5) != 0)
        return 0;
    size_t o = 0;
    for (const char *s = q + 2; *s && o + 1 < cap; s++) {
        if (*s == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
            char h[3] = {s[1], s[2], 0};
            out[o++] = (char)strtol(h, NULL, 16);
            s += 2;
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
    return 1;
}

static enum sl_err parse_headers(struct mp_parser *p)
{
    memset(&p->part, 0, sizeof p->part);
    int disposition = 0;
    char *s = p->hdr.data ? p->hdr.data : (char *)"";
    while (*s) {
        char *eol = strstr(s, "\r\n");
        if (!eol)
            break;
        *eol = '\0';
        char *colon = strchr(s, ':');
        if (colon) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            if (strcasecmp(s, "content-disposition") == 0) {
                if (strncasecmp(v, "form-data", 9) != 0)
                    return SL_EBADREQ;
                disposition = 1;
                if (!param(v, "name", p->part.name, sizeof p->part.name))
                    return SL_EBADREQ;
                if (ext_value(v, p->part.filename, sizeof p->part.filename) ||
                    param(v, "filename", p->part.filename, sizeof p->part.filename))
                    p->part.has_filename = 1;
            } else if (strcasecmp(s, "content-type") == 0) {
                size_t n = strlen(v);
                if (n >= sizeof p->part.content_type)
                    n = sizeof p->part.content_type - 1;
                memcpy(p->part.content_type, v, n);
                p->part.content_type[n] = '\0';
            }
        } else if (*s) {
            return SL_EBADREQ;   /* a header line without a colon */
        }
        s = eol + 2;
    }
    return disposition ? SL_OK : SL_EBADREQ;
}

static enum sl_err emit(struct mp_parser *p, const void *d, size_t n)
{
    if (n == 0 || p->st != BODY || !p->cb->part_data)
        return SL_OK;
    return p->cb->part_data(p->ud, d, n);
}

static enum sl_err end_part(struct mp_parser *p)
{
    if (!p->in_part)
        return SL_OK;
    p->in_part = 0;
    return p->cb->part_end ? p->cb->part_end(p->ud) : SL_OK;
}

static enum sl_err fail(struct mp_parser *p, enum sl_err e)
{
    p->st = FAILED;
    p->err = e;
    return e;
}

enum sl_err mp_feed(struct mp_parser *p, const void *data, size_t n)
{
    const unsigned char *s = data;
    size_t i = 0;
    enum sl_err e;
    if (p->st == FAILED)
        return p->err;
    while (i < n) {
        switch (p->st) {
        case PREAMBLE:
        case BODY:
            if (p->m == 0) {
                /* fast path: everything up to the next CR is data */
                const unsigned char *cr = memchr(s + i, '\r', n - i);
                size_t run = cr ? (size_t)(cr - (s + i)) : n - i;
                if ((e = emit(p, s + i, run)))
                    return fail(p, e);
                i += run;
                if (!cr)
                    break;
            }
            if ((unsigned char)p->delim[p->m] == s[i]) {
                p->m++;
                i++;
                if (p->m == p->dlen) {
                    p->m = 0;
                    if (p->st == BODY && (e = end_part(p)))
                        return fail(p, e);
                    p->st = AFTER_DELIM;
                }
            } else {
                /* the bytes matched so far were data after all; a delimiter has no second
                 * CR, so the current byte is looked at again from a fresh start */
                size_t m = p->m;
                p->m = 0;
                if ((e = emit(p, p->delim, m)))   /* in the preamble, emit drops it */
                    return fail(p, e);
                if (s[i] != '\r') {
                    if ((e = emit(p, s + i, 1)))
                        return fail(p, e);
                    i++;
                }
            }
            break;
        case AFTER_DELIM:
            if (s[i] == '-') {
                p->st = AFTER_DASH;
            } else if (s[i] == '\r') {
                p->st = PADDING_CR;
            } else if (s[i] != ' ' && s[i] != '\t') {
                return fail(p, SL_EBADREQ);
            }
            i++;
            break;
        case AFTER_DASH:
            if (s[i] != '-')
                return fail(p, SL_EBADREQ);
            i++;
            p->st = EPILOGUE;
            break;
        case PADDING_CR:
            if (s[i] != '\n')
                return fail(p, SL_EBADREQ);
            i++;
            if (++p->parts > MP_PARTS_MAX)
                return fail(p, SL_ETOOBIG);
            buf_reset(&p->hdr);
            p->st = HEADERS;
            break;
        case HEADERS: {
            /* copy up to and including the blank line that ends the block */
            while (i < n) {
                if ((e = buf_putc(&p->hdr, (char)s[i])))
                    return fail(p, e);
                i++;
                size_t l = p->hdr.len;
                int end = (l == 2 && memcmp(p->hdr.data, "\r\n", 2) == 0) ||
                          (l >= 4 && memcmp(p->hdr.data + l - 4, "\r\n\r\n", 4) == 0);
                if (end) {
                    if (memchr(p->hdr.data, '\0', l))
                        return fail(p, SL_EBADREQ);
                    if ((e = parse_headers(p)))
                        return fail(p, e);
                    p->st = BODY;
                    p->in_part = 1;
                    if (p->cb->part_begin && (e = p->cb->part_begin(p->ud, &p->part)))
                        return fail(p, e);
                    break;
                }
            }
            break;
        }
        case EPILOGUE:
            return SL_OK;
        case FAILED:
            return p->err;
        }
    }
    return SL_OK;
}

enum sl_err mp_finish(struct mp_parser *p)
{
    if (p->st == FAILED)
        return p->err;
    return p->st == EPILOGUE ? SL_OK : SL_EBADREQ;
}
