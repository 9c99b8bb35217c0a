#include "body.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* the object in s[0..n), or NULL (malformed, not an object, duplicate keys) */
static json_t *object(const char *s, size_t n)
{
    json_error_t err;
    json_t *j = json_loadb(s, n, JSON_REJECT_DUPLICATES, &err);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* member key of o as a string: 1 found, 0 absent (or null), -1 not a string */
static int get_str(json_t *o, const char *key, const char **v, size_t *len)
{
    json_t *m = json_object_get(o, key);
    if (!m || json_is_null(m))
        return 0;
    if (!json_is_string(m))
        return -1;
    *v = json_string_value(m);
    *len = json_string_length(m);
    return 1;
}

/* member key as a non-negative integer: 1 found, 0 absent (or null), -1 anything else */
static int get_size(json_t *o, const char *key, uint64_t *out)
{
    json_t *m = json_object_get(o, key);
    if (!m || json_is_null(m))
        return 0;
    if (!json_is_integer(m) || json_integer_value(m) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(m);
    return 1;
}

static void copy(char *dst, size_t cap, const char *v, size_t n)
{
    snprintf(dst, cap, "%.*s", (int)(n < cap ? n : cap - 1), v);
}

/* optional string members: 0 absent or taken (a name sanitised, text cut at cap), -1 wrong */
static int opt_name(json_t *o, const char *key, char out[DROP_NAME_MAX + 1])
{
    const char *v;
    size_t len;
    int r = get_str(o, key, &v, &len);
    if (r == 1)
        drop_sanitize_name(v, len, out);
    return r < 0 ? -1 : 0;
}

static int opt_text(json_t *o, const char *key, char *dst, size_t cap)
{
    const char *v;
    size_t len;
    int r = get_str(o, key, &v, &len);
    if (r == 1)
        copy(dst, cap, v, len);
    return r < 0 ? -1 : 0;
}

/* the object in s[0..n) with the defaults already set by the caller; an empty body is the
 * defaults when empty_ok */
static enum sl_err parse(const char *s, size_t n, int empty_ok, json_t **o)
{
    *o = NULL;
    if (n == 0 && empty_ok)
        return SL_OK;
    return (*o = object(s, n)) ? SL_OK : SL_EBADREQ;
}

enum sl_err body_parse_create(const char *s, size_t n, struct body_create *out)
{
    char mode[8] = "put";
    json_t *o;
    memset(out, 0, sizeof *out);
    out->name[0] = '\0';
    enum sl_err e = parse(s, n, 0, &o);
    if (!e && (!json_is_string(json_object_get(o, "name")) || opt_name(o, "name", out->name) ||
               get_size(o, "size", &out->size) != 1 ||
               opt_text(o, "content_type", out->content_type, sizeof out->content_type) ||
               opt_text(o, "mode", mode, sizeof mode) ||
               (strcmp(mode, "put") != 0 && strcmp(mode, "post") != 0)))
        e = SL_EBADREQ;
    out->post = !strcmp(mode, "post");
    json_decref(o);
    return e;
}

enum sl_err body_parse_reserve(const char *s, size_t n, struct body_reserve *out)
{
    json_t *o;
    memset(out, 0, sizeof *out);
    strcpy(out->name, "file");
    enum sl_err e = parse(s, n, 1, &o);
    if (!e && o && (opt_name(o, "name", out->name) || get_size(o, "size", &out->size) < 0))
        e = SL_EBADREQ;
    json_decref(o);
    return e;
}

enum sl_err body_parse_complete(const char *s, size_t n, char sha256[65])
{
    json_t *o;
    char v[66] = "";
    sha256[0] = '\0';
    enum sl_err e = parse(s, n, 1, &o);
    if (!e && o && (opt_text(o, "sha256", v, sizeof v) ||
                    (v[0] && (strlen(v) != 64 || strspn(v, "0123456789abcdef") != 64))))
        e = SL_EBADREQ;
    if (!e)
        memcpy(sha256, v, 65);
    json_decref(o);
    return e;
}

enum sl_err body_parse_uppy_create(const char *s, size_t n, struct body_uppy_create *out)
{
    json_t *o;
    memset(out, 0, sizeof *out);
    strcpy(out->name, "file");
    enum sl_err e = parse(s, n, 1, &o);
    /* Uppy's own: a filename and a type; its "metadata" object is the user's and ignored */
    if (!e && o && (opt_name(o, "filename", out->name) ||
                    opt_text(o, "type", out->type, sizeof out->type)))
        e = SL_EBADREQ;
    json_decref(o);
    return e;
}

/* one element of "parts": its number (1..S3_MAX_PARTS) and ETag, or -1 */
static int uppy_part(json_t *o, struct s3_part *p)
{
    const char *v;
    size_t len;
    json_t *num = json_object_get(o, "PartNumber");
    if (!json_is_object(o) || !json_is_integer(num) || json_integer_value(num) < 1 ||
        json_integer_value(num) > S3_MAX_PARTS || get_str(o, "ETag", &v, &len) != 1 ||
        len == 0 || len >= sizeof p->etag || memchr(v, '\0', len))
        return -1;
    memset(p, 0, sizeof *p);
    p->number = (int)json_integer_value(num);
    memcpy(p->etag, v, len);
    return 0;
}

static int by_number(const void *a, const void *b)
{
    const struct s3_part *x = a, *y = b;
    return (x->number > y->number) - (x->number < y->number);
}

enum sl_err body_parse_uppy_complete(const char *s, size_t n, struct s3_part **parts,
                                     size_t *count)
{
    json_t *o;
    struct s3_part *p = NULL;
    size_t k = 0;
    *parts = NULL;
    *count = 0;
    enum sl_err e = parse(s, n, 0, &o);
    json_t *a = e ? NULL : json_object_get(o, "parts");
    if (!e && (!json_is_array(a) || (k = json_array_size(a)) == 0 || k > S3_MAX_PARTS))
        e = SL_EBADREQ;
    if (!e && !(p = calloc(k, sizeof *p)))
        e = SL_ENOMEM;
    for (size_t i = 0; !e && i < k; i++)
        if (uppy_part(json_array_get(a, i), &p[i]))
            e = SL_EBADREQ;
    if (!e)
        qsort(p, k, sizeof *p, by_number);
    for (size_t i = 0; !e && i < k; i++)
        if (p[i].number != (int)i + 1)   /* a gap or a number twice */
            e = SL_EBADREQ;
    json_decref(o);
    if (e) {
        free(p);
        return e;
    }
    *parts = p;
    *count = k;
    return SL_OK;
}
