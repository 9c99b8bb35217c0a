#include "body.h"

#include <stdio.h>
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

enum sl_err body_parse_create(const char *s, size_t n, struct body_create *out)
{
    memset(out, 0, sizeof *out);
    json_t *o = object(s, n);
    const char *v;
    size_t len;
    enum sl_err e = SL_EBADREQ;
    if (!o)
        goto out;
    if (get_str(o, "name", &v, &len) != 1)
        goto out;
    drop_sanitize_name(v, len, out->name);
    if (get_size(o, "size", &out->size) != 1)
        goto out;
    switch (get_str(o, "content_type", &v, &len)) {
    case -1: goto out;
    case 1: copy(out->content_type, sizeof out->content_type, v, len); break;
    }
    switch (get_str(o, "mode", &v, &len)) {
    case -1: goto out;
    case 1:
        if (!strcmp(v, "post"))
            out->post = 1;
        else if (strcmp(v, "put") != 0)
            goto out;
        break;
    }
    e = SL_OK;
out:
    json_decref(o);
    return e;
}

enum sl_err body_parse_reserve(const char *s, size_t n, struct body_reserve *out)
{
    memset(out, 0, sizeof *out);
    strcpy(out->name, "file");
    if (n == 0)
        return SL_OK;
    json_t *o = object(s, n);
    const char *v;
    size_t len;
    enum sl_err e = SL_EBADREQ;
    if (!o)
        goto out;
    switch (get_str(o, "name", &v, &len)) {
    case -1: goto out;
    case 1: drop_sanitize_name(v, len, out->name); break;
    }
    if (get_size(o, "size", &out->size) < 0)
        goto out;
    e = SL_OK;
out:
    json_decref(o);
    return e;
}

enum sl_err body_parse_complete(const char *s, size_t n, char sha256[65])
{
    sha256[0] = '\0';
    if (n == 0)
        return SL_OK;
    json_t *o = object(s, n);
    const char *v;
    size_t len;
    enum sl_err e = SL_EBADREQ;
    if (!o)
        goto out;
    switch (get_str(o, "sha256", &v, &len)) {
    case -1: goto out;
    case 1:
        if (len != 64 || strspn(v, "0123456789abcdef") != 64)
            goto out;
        memcpy(sha256, v, 65);
        break;
    }
    e = SL_OK;
out:
    json_decref(o);
    return e;
}

enum sl_err body_parse_uppy_create(const char *s, size_t n, struct body_uppy_create *out)
{
    memset(out, 0, sizeof *out);
    strcpy(out->name, "file");
    if (n == 0)
        return SL_OK;
    json_t *o = object(s, n);
    const char *v;
    size_t len;
    enum sl_err e = SL_EBADREQ;
    if (!o)
        goto out;
    /* Uppy's own: a filename and a type; its "metadata" object is the user's and ignored */
    switch (get_str(o, "filename", &v, &len)) {
    case -1: goto out;
    case 1: drop_sanitize_name(v, len, out->name); break;
    }
    switch (get_str(o, "type", &v, &len)) {
    case -1: goto out;
    case 1: copy(out->type, sizeof out->type, v, len); break;
    }
    e = SL_OK;
out:
    json_decref(o);
    return e;
}
