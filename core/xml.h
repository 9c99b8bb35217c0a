/* xml: just enough XML to read S3's answers (errors, UploadId, listings) and write the
 * CompleteMultipartUpload body. Defensive: every input is bounded by its length, nothing is
 * assumed to be NUL-terminated, and malformed input yields "absent" rather than a crash.
 * It does not handle nested elements of the same name, comments or CDATA: S3 uses none. */
#ifndef SLUICE_XML_H
#define SLUICE_XML_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/* Finds the next <tag>...</tag> (or <tag/>) starting at *pos. On success sets *inner and
 * *inner_len to the element's content (borrowed from doc), moves *pos past the element and
 * returns 1; returns 0 when there is none. */
int xml_next(const char *doc, size_t len, size_t *pos, const char *tag, const char **inner,
             size_t *inner_len);
/* The decoded text of the first <tag> in doc into out (replacing its content).
 * SL_EABSENT if there is none, SL_EBADREQ on a bad entity. */
enum sl_err xml_get(const char *doc, size_t len, const char *tag, struct buf *out);
/* Appends s[0..n) with &<>"' decoded / encoded. */
enum sl_err xml_unescape(struct buf *out, const char *s, size_t n);
enum sl_err xml_escape(struct buf *out, const char *s);

#endif
