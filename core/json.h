/* json: writing JSON text safely (strings escaped, control characters and invalid UTF-8
 * replaced), for API replies and S3 POST policies. */
#ifndef SLUICE_JSON_H
#define SLUICE_JSON_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/* Appends s as a quoted JSON string. Bytes that are not valid UTF-8 become U+FFFD. */
enum sl_err json_str(struct buf *out, const char *s);
enum sl_err json_strn(struct buf *out, const char *s, size_t n);

#endif

/* Reading: a flat JSON object (string, number, true/false/null values; nothing nested), as the
 * API's request bodies are. Each member is handed to cb with its key and value: strings
 * decoded to UTF-8 (escapes and \u surrogate pairs), numbers/literals as their raw text.
 * SL_EBADREQ on anything malformed or nested; a callback error stops the scan. */
enum json_type { JSON_STRING, JSON_NUMBER, JSON_TRUE, JSON_FALSE, JSON_NULL };
typedef enum sl_err (*json_member_fn)(void *ud, const char *key, enum json_type t,
                                      const char *value, size_t len);
enum sl_err json_scan_object(const char *s, size_t n, json_member_fn cb, void *ud);
