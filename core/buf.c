#include "buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->max = max;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* make room for n more bytes plus the terminating NUL */
static enum sl_err reserve(struct buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return SL_ETOOBIG;
    size_t need = b->len + n + 1;
    if (need <= b->alloc)
        return SL_OK;
    size_t a = b->alloc ? b->alloc : 64;
    while (a < need)
        a = a > SIZE_MAX / 2 ? need : a * 2;
    if (a > b->max + 1)
        a = b->max + 1;
    char *p = realloc(b->data, a);
    if (!p)
        return SL_ENOMEM;
    b->data = p;
    b->alloc = a;
    return SL_OK;
}

enum sl_err buf_append(struct buf *b, const void *p, size_t n)
{
    enum sl_err e = reserve(b, n);
    if (e)
        return e;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return SL_OK;
}

enum sl_err buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

enum sl_err buf_putc(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

enum sl_err buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return SL_EINTERNAL;
    enum sl_err e = reserve(b, (size_t)n);
    if (e)
        return e;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return SL_OK;
}

enum sl_err buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum sl_err e = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return e;
}

const char *buf_str(const struct buf *b)
{
    return b->data ? b->data : "";
}
