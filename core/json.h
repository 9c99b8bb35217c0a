/* json: a byte-exact JSON string writer (escaped, control characters and invalid UTF-8
 * replaced) for where the bytes themselves matter: the S3 POST policy document that gets
 * signed. Everything else (API replies, request bodies) goes through jansson in fcgi/. */
#ifndef SLUICE_JSON_H
#define SLUICE_JSON_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/* Appends s as a quoted JSON string. Bytes that are not valid UTF-8 become U+FFFD. */
enum sl_err json_str(struct buf *out, const char *s);
enum sl_err json_strn(struct buf *out, const char *s, size_t n);

#endif
