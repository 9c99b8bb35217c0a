/* buf: a growable byte buffer with a hard cap set at creation (like curl's dynbuf).
 *
 * Ownership: the buffer owns data; buf_free() releases it. buf_str() borrows: the pointer is
 * valid until the next call that changes the buffer. data is always NUL-terminated (the NUL is
 * not counted in len), so text can be used directly as a C string. */
#ifndef SLUICE_BUF_H
#define SLUICE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "err.h"

struct buf {
    char *data;   /* NULL until the first append */
    size_t len;
    size_t alloc;
    size_t max;   /* appends that would make len exceed max fail with SL_ETOOBIG */
};

#define BUF_INIT(max_) { NULL, 0, 0, (max_) }

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);                     /* len = 0, keeps the memory */
enum sl_err buf_append(struct buf *b, const void *p, size_t n);
enum sl_err buf_puts(struct buf *b, const char *s);
enum sl_err buf_putc(struct buf *b, char c);
enum sl_err buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
enum sl_err buf_vprintf(struct buf *b, const char *fmt, va_list ap);
const char *buf_str(const struct buf *b);          /* "" when empty; never NULL */

#endif
